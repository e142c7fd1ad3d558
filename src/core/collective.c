/* The learners' shared data-parallel pieces (collective.h). */
#include "collective.h"

#include <string.h>

DR3I_DEFINE_STRUCT(dr3_collective_vtable, dr3_collective_vtable, DR3_COLLECTIVE_VTABLE_INIT,
                   DR3_COLLECTIVE_VTABLE_VERSION, sizeof(dr3_collective_vtable))

const char *dr3i_coll_name(const dr3_collective_vtable *vt) {
    return vt->name ? vt->name : "(unnamed)";
}

void dr3i_fp_put(float *out, uint32_t h) {
    for (int k = 0; k < 8; k++) {
        float d = (float)((h >> (4 * k)) & 15u);
        out[k] = d;
        out[8 + k] = d * d;
    }
}

bool dr3i_fp_same(const float *sum, uint32_t h, int size) {
    for (int k = 0; k < 8; k++) {
        float d = (float)((h >> (4 * k)) & 15u);
        if (sum[k] != (float)size * d || sum[8 + k] != (float)size * d * d) return false;
    }
    return true;
}

dr3_status dr3i_coll_open(dr3_collective_vtable *vt, const dr3_collective_vtable *user,
                          void *payload, int *rank, int *size, const char *who) {
    dr3_status st =
        dr3i_struct_in(vt, user, &dr3i_desc_dr3_collective_vtable, false, who, "vtable");
    if (st != DR3_OK) return st;
    const char *missing = vt->rank == NULL            ? "rank"
                          : vt->size == NULL          ? "size"
                          : vt->allreduce_sum == NULL ? "allreduce_sum"
                          : vt->broadcast == NULL     ? "broadcast"
                                                      : NULL;
    if (missing != NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: collective '%s' has no %s callback", who,
                         dr3i_coll_name(vt), missing);
    unsigned long mark = dr3i_error_mark();
    const int n = vt->size(payload);
    if (n < 1 || n > (1 << 20))
        return dr3i_fail_after(DR3_ERR_INVALID_ARG, mark,
                               "%s: collective '%s' size() returned %d (must be in 1..2^20)",
                               who, dr3i_coll_name(vt), n);
    mark = dr3i_error_mark();
    const int r = vt->rank(payload);
    if (r < 0 || r >= n)
        return dr3i_fail_after(DR3_ERR_INVALID_ARG, mark,
                               "%s: collective '%s' rank() returned %d, outside [0, size %d)",
                               who, dr3i_coll_name(vt), r, n);
    *rank = r;
    *size = n;
    return DR3_OK;
}

dr3_status dr3i_coll_handshake(const dr3_collective_vtable *vt, void *payload, int rank,
                               int size, uint32_t cfg, float *check, const char *what,
                               const char *who) {
    const size_t len = (size_t)size + DR3I_FP_LEN;
    memset(check, 0, len * sizeof(float));
    check[rank] = 1;
    dr3i_fp_put(check + size, cfg);
    unsigned long mark = dr3i_error_mark();
    if (vt->allreduce_sum(payload, check, len) != 0)
        return dr3i_fail_after(DR3_ERR_CALLBACK, mark,
                               "%s: collective '%s' allreduce_sum failed", who,
                               dr3i_coll_name(vt));
    for (int r = 0; r < size; r++)
        if (check[r] != 1)
            return dr3i_fail(DR3_ERR_INVALID_ARG,
                             "%s: collective '%s' is inconsistent: rank %d is claimed by %.0f "
                             "processes (rank() and size() must number the processes 0..%d "
                             "once each)",
                             who, dr3i_coll_name(vt), r, (double)check[r], size - 1);
    if (!dr3i_fp_same(check + size, cfg, size))
        return dr3i_fail(DR3_ERR_SHAPE, "%s: the learners differ across ranks (%s)", who, what);
    return DR3_OK;
}
