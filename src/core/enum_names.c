/* The name/parse pair of every public enum (one table each; names are part of the stable
 * API: the command line, checkpoints' metadata and language bindings use them). */
#include "internal.h"

#include <dr3/backup.h>
#include <dr3/loss.h>
#include <dr3/net.h>
#include <dr3/optim.h>
#include <dr3/regularizer.h>
#include <dr3/replay.h>
#include <dr3/runtime.h>

#include <string.h>

/* Index = enum value (every public enum except dr3_status is numbered 0, 1, 2, ...). */
static const char *name_of(const char *const *names, size_t count, int value) {
    if (value < 0 || (size_t)value >= count) return NULL;
    return names[value];
}

static dr3_status parse_in(int *out, const char *const *names, size_t count, const char *name,
                           const char *who) {
    if (out == NULL || name == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    for (size_t i = 0; i < count; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return DR3_OK;
        }
    char list[256] = "";
    for (size_t i = 0; i < count; i++) {
        strncat(list, names[i], sizeof list - strlen(list) - 1);
        if (i + 1 < count) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown name '%s' (expected one of: %s)", who,
                     name, list);
}

#define DR3I_ENUM_NAMES(prefix, TYPE, ...)                                                     \
    static const char *const prefix##_names[] = {__VA_ARGS__};                                 \
    const char *prefix##_name(TYPE value) {                                                    \
        return name_of(prefix##_names, sizeof prefix##_names / sizeof *prefix##_names,         \
                       (int)value);                                                            \
    }                                                                                          \
    dr3_status prefix##_parse(TYPE *out, const char *name) {                                   \
        int v = 0;                                                                             \
        dr3_status st =                                                                        \
            parse_in(&v, prefix##_names, sizeof prefix##_names / sizeof *prefix##_names, name, \
                     #prefix "_parse");                                                        \
        if (st == DR3_OK) *out = (TYPE)v;                                                      \
        return st;                                                                             \
    }

DR3I_ENUM_NAMES(dr3_backup_kind, dr3_backup_kind, "sarsa", "expected", "sampled", "max",
                "double", "softmax")
DR3I_ENUM_NAMES(dr3_regularizer_kind, dr3_regularizer_kind, "dr3", "cql", "l2", "feature_l2")
DR3I_ENUM_NAMES(dr3_td_kind, dr3_td_kind, "mse", "huber")
DR3I_ENUM_NAMES(dr3_activation, dr3_activation, "identity", "relu", "tanh", "elu", "leaky_relu")
DR3I_ENUM_NAMES(dr3_head_kind, dr3_head_kind, "discrete_q", "critic")
DR3I_ENUM_NAMES(dr3_optim_kind, dr3_optim_kind, "adam", "adamw", "sgd", "rmsprop")
DR3I_ENUM_NAMES(dr3_dtype, dr3_dtype, "f32", "u8")
DR3I_ENUM_NAMES(dr3_action_kind, dr3_action_kind, "discrete", "continuous")
DR3I_ENUM_NAMES(dr3_u8_scale, dr3_u8_scale, "unit", "raw")
DR3I_ENUM_NAMES(dr3_blis_arch_source, dr3_blis_arch_source, "blis", "libdr3", "user",
                "host_env", "host_init")

/* dr3_status is negative: its names are indexed by -value. */
static const char *const status_names[] = {
    "ok",     "invalid_arg", "nomem",    "nonfinite", "io",
    "format", "unsupported", "shape",    "overflow",  "range",
    "state",  "callback",    "checksum", "version",   "internal"};

const char *dr3_status_name(dr3_status status) {
    if (status > 0) return NULL;
    return name_of(status_names, sizeof status_names / sizeof *status_names, -(int)status);
}

dr3_status dr3_status_parse(dr3_status *out, const char *name) {
    int v = 0;
    dr3_status st = parse_in(&v, status_names, sizeof status_names / sizeof *status_names, name,
                             "dr3_status_parse");
    if (st == DR3_OK) *out = (dr3_status)(-v);
    return st;
}
