/* The one place that reads a caller's versioned struct (docs/api-stability.md). */
#include "internal.h"

#include <string.h>

/* A 0.1 struct began with size_t struct_size; its low bytes land in `version` and read as
 * a size (>= 16), never as a small version number. */
#define DR3I_VERSION_0_1_GUESS 16u

static dr3_status bad_version(const dr3i_struct_desc *d, unsigned v, const char *who,
                              const char *what) {
    if (v == 0)
        return dr3i_fail(DR3_ERR_VERSION,
                         "%s: %s (%s) has version 0: initialise it with %s or %.*s_init()", who,
                         what, d->type, d->init, (int)(strlen(d->type)), d->type);
    if (v >= DR3I_VERSION_0_1_GUESS)
        return dr3i_fail(DR3_ERR_VERSION,
                         "%s: %s (%s) has version %u: this looks like a libdr3 0.1 struct "
                         "(struct_size); rebuild against the libdr3 1.x headers",
                         who, what, d->type, v);
    return dr3i_fail(DR3_ERR_VERSION,
                     "%s: %s (%s) has version %u, newer than this library's %u: the program "
                     "was built against a newer libdr3",
                     who, what, d->type, v, d->newest);
}

dr3_status dr3i_struct_in(void *out, const void *user, const dr3i_struct_desc *d, bool null_ok,
                          const char *who, const char *what) {
    memcpy(out, d->defaults, d->size);
    if (user == NULL) {
        if (null_ok) return DR3_OK;
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, what);
    }
    unsigned v;
    memcpy(&v, user, sizeof v);
    if (v == 0 || v > d->newest) return bad_version(d, v, who, what);
    /* Only the bytes the caller's version owns are read; newer fields keep their defaults. */
    memcpy(out, user, d->ends[v - 1]);
    unsigned newest = d->newest;
    memcpy(out, &newest, sizeof newest);
    return DR3_OK;
}

dr3_status dr3i_struct_out(void *user, const void *full, const dr3i_struct_desc *d,
                           const char *who, const char *what) {
    if (user == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, what);
    unsigned v;
    memcpy(&v, user, sizeof v);
    if (v == 0 || v > d->newest) return bad_version(d, v, who, what);
    size_t end = d->ends[v - 1];
    memcpy((char *)user + sizeof v, (const char *)full + sizeof v, end - sizeof v);
    return DR3_OK;
}

dr3_status dr3i_struct_init(void *user, unsigned version, const dr3i_struct_desc *d,
                            const char *who) {
    if (user == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL struct", who);
    if (version == 0 || version > d->newest) return bad_version(d, version, who, "the struct");
    memcpy(user, d->defaults, d->ends[version - 1]);
    memcpy(user, &version, sizeof version);
    return DR3_OK;
}
