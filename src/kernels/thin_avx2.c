/* The thin kernels (thin_body.h) for AVX2 + FMA: 8 lanes. Compiled with a target attribute
 * so that the library builds and runs without AVX2; thin.c calls these only after cpuid. */
#include "thin.h"

#ifdef DR3K_HAVE_X86_KERNELS
#include <immintrin.h>
/* every function below for these instruction sets (GCC's pragma; clang ignores it and takes
 * its own, popped at the end of the file) */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#include <stdint.h>

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i mask_n(size_t n) {
    return _mm256_loadu_si256(
        (const __m256i *)(const void *)(mask_table + 8 - (n < 8 ? n : 8)));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define TK(name)         name##_avx2
#define NREG             16
#define TK_INLINE        static inline __attribute__((always_inline))
#define VT               __m256
#define W                8
#define MT               __m256i
#define VMASK(n)         mask_n(n)
#define VZERO()          _mm256_setzero_ps()
#define VSET1(x)         _mm256_set1_ps(x)
#define VLOADM(p, m)     _mm256_maskload_ps((p), (m))
#define VSTOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define VFMA(a, b, c)    _mm256_fmadd_ps((a), (b), (c))
#define VMUL(a, b)       _mm256_mul_ps((a), (b))
#define VADD(a, b)       _mm256_add_ps((a), (b))
#define VHSUM(v)         hsum8(v)
#include "thin_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
