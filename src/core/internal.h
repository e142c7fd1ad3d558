/* Private helpers shared by every libdr3 module: error reporting, allocation, size
 * arithmetic and argument checks. Never installed; symbols are hidden in the shared
 * library and carry the dr3i_ prefix in the static one. */
#ifndef DR3_SRC_CORE_INTERNAL_H
#define DR3_SRC_CORE_INTERNAL_H

#include <dr3/common.h>

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define DR3I_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DR3I_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#else
#define DR3I_PRINTF(f, a)
#define DR3I_UNLIKELY(x) (x)
#endif

/* Alignment of every buffer libdr3 allocates: a cache line, what BLIS and AVX-512 like. */
#define DR3I_ALIGN 64

/* Records "fmt..." as this thread's last error and returns status, so that a failing
 * check reads: return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: x is NULL", __func__); */
dr3_status dr3i_fail(dr3_status status, const char *fmt, ...) DR3I_PRINTF(2, 3);

/* A handle's allocator: a copy of the user's hooks, or the C library when they are NULL. */
typedef struct dr3i_alloc {
    void *(*alloc)(void *opaque, size_t size, size_t alignment);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
} dr3i_alloc;

/* Copies the first struct_size bytes of user (may be NULL) into out. Fails if the hooks
 * are half set (alloc without free or the reverse). */
dr3_status dr3i_alloc_init(dr3i_alloc *out, const dr3_allocator *user, const char *who);
/* 64-byte aligned, zero-filled block of size bytes (size 0 gives a valid 64-byte block);
 * NULL on failure (the caller reports DR3_ERR_NOMEM). */
void *dr3i_calloc(const dr3i_alloc *a, size_t size);
void dr3i_free(const dr3i_alloc *a, void *p);

/* Overflow-checked size arithmetic: false when the result does not fit. */
static inline bool dr3i_mul(size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / b) return false;
    *out = a * b;
    return true;
}
static inline bool dr3i_add(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return false;
    *out = a + b;
    return true;
}

/* Number of floats spanned by an n-row matrix with d columns and row stride ld:
 * (n-1)*ld + d, or 0 for n == 0. False on overflow. */
static inline bool dr3i_span(size_t n, size_t d, size_t ld, size_t *out) {
    size_t t;
    if (n == 0) {
        *out = 0;
        return true;
    }
    if (!dr3i_mul(n - 1, ld, &t)) return false;
    return dr3i_add(t, d, out);
}

/* True when every x[i*inc], i < n, is finite. */
bool dr3i_all_finite(const float *x, size_t n, size_t inc);
/* True when every entry of an n×d row-major matrix with row stride ld is finite. */
bool dr3i_matrix_finite(const float *x, size_t n, size_t d, size_t ld);

/* Reads the one-time runtime state; initialises BLIS with libdr3's kernel choice on first
 * use. Every handle constructor calls it. */
dr3_status dr3i_runtime_ensure(void);

#endif /* DR3_SRC_CORE_INTERNAL_H */
