/* The helpers behind every public enum's name/parse pair (DR3I_ENUM_NAMES in internal.h);
 * each module keeps its own names beside its enum's code. */
#include "internal.h"

#include <string.h>

const char *dr3i_enum_name(const char *const *names, size_t count, int value) {
    if (value < 0 || (size_t)value >= count) return NULL;
    return names[value];
}

dr3_status dr3i_enum_parse(int *out, const char *const *names, size_t count, const char *name,
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

/* dr3_status is negative: its names are indexed by -value. */
static const char *const status_names[] = {
    "ok",     "invalid_arg", "nomem",    "nonfinite", "io",
    "format", "unsupported", "shape",    "overflow",  "range",
    "state",  "callback",    "checksum", "version",   "internal"};

const char *dr3_status_name(dr3_status status) {
    if (status > 0) return NULL;
    return dr3i_enum_name(status_names, sizeof status_names / sizeof *status_names,
                          -(int)status);
}

dr3_status dr3_status_parse(dr3_status *out, const char *name) {
    int v = 0;
    dr3_status st = dr3i_enum_parse(
        &v, status_names, sizeof status_names / sizeof *status_names, name, "dr3_status_parse");
    if (st == DR3_OK) *out = (dr3_status)(-v);
    return st;
}
