/* The thin kernels (thin_body.h) for AVX-512 (F, VL): 16 lanes with mask registers. Compiled
 * with a target attribute; thin.c calls these only after cpuid and XGETBV confirm AVX-512. */
#include "thin.h"

#ifdef DR3K_HAVE_X86_KERNELS
#include <immintrin.h>
/* every function below for these instruction sets (GCC's pragma; clang ignores it and takes
 * its own, popped at the end of the file) */
#if defined(__clang__)
#pragma clang attribute push(                                                                  \
    __attribute__((target("avx2,fma,avx512f,avx512vl,avx512dq,avx512bw"))),                    \
    apply_to = function)
#else
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")
#endif

static inline __mmask16 mask_n(size_t n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

#define TK(name)         name##_avx512
#define NREG             32
#define TK_INLINE        static inline __attribute__((always_inline))
#define VT               __m512
#define W                16
#define MT               __mmask16
#define VMASK(n)         mask_n(n)
#define VZERO()          _mm512_setzero_ps()
#define VSET1(x)         _mm512_set1_ps(x)
#define VLOADM(p, m)     _mm512_maskz_loadu_ps((m), (p))
#define VSTOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define VFMA(a, b, c)    _mm512_fmadd_ps((a), (b), (c))
#define VMUL(a, b)       _mm512_mul_ps((a), (b))
#define VADD(a, b)       _mm512_add_ps((a), (b))
#define VHSUM(v)         _mm512_reduce_add_ps(v)
#include "thin_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
