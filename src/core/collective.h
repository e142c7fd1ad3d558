/* What the learners' data-parallel code shares (dr3/sys/collective.h, experimental): reading
 * a user's collective, the attach-time handshake and the fingerprints.
 *
 * Fingerprints: a 32-bit hash cut into 8 nibbles d_k, sent as d_k and d_k² (DR3I_FP_LEN
 * floats). After an allreduce-sum the sums equal size·d_k and size·d_k² on every k exactly
 * when all ranks sent the same d_k (a variance of zero); exact in float for up to
 * 2^24 / 225 ranks. */
#ifndef DR3_CORE_COLLECTIVE_H
#define DR3_CORE_COLLECTIVE_H

#define DR3_EXPERIMENTAL 1
#include <dr3/sys/collective.h>

#include "internal.h"

#include <stdbool.h>
#include <stdint.h>

enum { DR3I_FP_LEN = 16 };

extern const dr3i_struct_desc dr3i_desc_dr3_collective_vtable;

/* The collective's name for messages. */
const char *dr3i_coll_name(const dr3_collective_vtable *vt);

/* Writes the fingerprint of @p h into out[0 .. DR3I_FP_LEN). */
void dr3i_fp_put(float *out, uint32_t h);

/* Whether @p sum (the allreduce-sum of every rank's dr3i_fp_put) is @p size copies of @p h. */
bool dr3i_fp_same(const float *sum, uint32_t h, int size);

/* Reads the caller's vtable through its version into *vt, checks the required callbacks
 * (rank, size, allreduce_sum, broadcast) and asks for this process's rank and the size.
 * Nothing else is called. */
dr3_status dr3i_coll_open(dr3_collective_vtable *vt, const dr3_collective_vtable *user,
                          void *payload, int *rank, int *size, const char *who);

/* The attach-time handshake, one allreduce over @p check (size + DR3I_FP_LEN floats, caller
 * allocated): every rank numbered by exactly one process, and every rank's learner
 * configuration hash @p cfg the same (::DR3_ERR_SHAPE with "the learners differ across
 * ranks (@p what)" otherwise). */
dr3_status dr3i_coll_handshake(const dr3_collective_vtable *vt, void *payload, int rank,
                               int size, uint32_t cfg, float *check, const char *what,
                               const char *who);

#endif
