/* Per-handle allocator hooks and numeric checks. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *opaque, size_t size, size_t alignment) {
    (void)opaque;
    /* aligned_alloc wants size to be a multiple of the alignment. */
    size_t rounded = (size + alignment - 1) / alignment * alignment;
    if (rounded < size) return NULL;
    return aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
}

static void default_free(void *opaque, void *p) {
    (void)opaque;
    free(p);
}

DR3I_DEFINE_STRUCT(dr3_allocator, dr3_allocator, DR3_ALLOCATOR_INIT, DR3_ALLOCATOR_VERSION,
                   sizeof(dr3_allocator))

dr3_status dr3i_alloc_init(dr3i_alloc *out, const dr3_allocator *user, const char *who) {
    dr3_allocator a = DR3_ALLOCATOR_INIT;
    dr3_status st = dr3i_struct_in(&a, user, &dr3i_desc_dr3_allocator, true, who, "allocator");
    if (st != DR3_OK) return st;
    if ((a.alloc == NULL) != (a.free == NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: allocator must set both alloc and free, or neither", who);
    out->alloc = a.alloc ? a.alloc : default_alloc;
    out->free = a.free ? a.free : default_free;
    out->opaque = a.opaque;
    return DR3_OK;
}

void *dr3i_calloc(const dr3i_alloc *a, size_t size) {
    void *p = a->alloc(a->opaque, size == 0 ? DR3I_ALIGN : size, DR3I_ALIGN);
    if (p != NULL) memset(p, 0, size);
    return p;
}

void dr3i_free(const dr3i_alloc *a, void *p) {
    if (p != NULL) a->free(a->opaque, p);
}

/* 1 when v is Inf or NaN (exponent all ones): integer operations, so that a block of them
 * vectorises (isfinite with an early exit per element does not). */
static inline uint32_t nonfinite_bits(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

bool dr3i_all_finite(const float *x, size_t n, size_t inc) {
    if (inc != 1) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i * inc])) return false;
        return true;
    }
    size_t i = 0;
    for (; i + 64 <= n; i += 64) { /* whole blocks, one test per block */
        uint32_t bad = 0;
        for (size_t j = 0; j < 64; j++) bad |= nonfinite_bits(x[i + j]);
        if (bad) return false;
    }
    uint32_t bad = 0;
    for (; i < n; i++) bad |= nonfinite_bits(x[i]);
    return bad == 0;
}

bool dr3i_matrix_finite(const float *x, size_t n, size_t d, size_t ld) {
    if (ld == d) return dr3i_all_finite(x, n * d, 1); /* contiguous rows: one pass */
    for (size_t i = 0; i < n; i++)
        if (!dr3i_all_finite(x + i * ld, d, 1)) return false;
    return true;
}
