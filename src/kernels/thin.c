/* The thin kernels' scalar build, the run-time choice of instruction set, and the shape rule
 * that sends a product to them or to BLIS (thin.h). */
#include "thin.h"

#include "kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- the scalar build: one lane, so every sum runs in plain index order ---------------- */

#define TK(name)         name##_scalar
#define NREG             16
#define TK_INLINE        static inline __attribute__((always_inline))
#define VT               float
#define W                1
#define MT               int
#define VMASK(n)         ((int)((n) > 0))
#define VZERO()          0.0f
#define VSET1(x)         (x)
#define VLOADM(p, m)     ((void)(m), *(p))
#define VSTOREM(p, m, v) ((void)(m), *(p) = (v))
#define VFMA(a, b, c)    ((a) * (b) + (c))
#define VMUL(a, b)       ((a) * (b))
#define VADD(a, b)       ((a) + (b))
#define VHSUM(v)         (v)
#include "thin_body.h"
#undef TK
#undef TK_INLINE
#undef NREG
#undef VT
#undef W
#undef MT
#undef VMASK
#undef VZERO
#undef VSET1
#undef VLOADM
#undef VSTOREM
#undef VFMA
#undef VMUL
#undef VADD
#undef VHSUM

/* ---- which instruction set ---------------------------------------------------------- */

/* 0 until first use, then 1 + the automatic choice (a race stores the same value). */
static atomic_int auto_isa;
static atomic_int forced_isa = -1;

static int best_here(void) {
    dr3k_cpu_facts f;
    dr3k_cpu_identify(&f);
#ifdef DR3K_HAVE_X86_KERNELS
    if (f.avx512) return DR3K_ISA_AVX512;
    if (f.avx2_fma) return DR3K_ISA_AVX2;
#endif
    return DR3K_ISA_SCALAR;
}

/* The request capped to what the CPU runs. */
static int capped(int want) {
    int best = best_here();
    if (want == DR3K_ISA_OFF || want == DR3K_ISA_SCALAR) return want;
    return want <= best ? want : best;
}

const char *dr3k_thin_isa_name(int isa) {
    switch (isa) {
    case DR3K_ISA_OFF:
        return "off";
    case DR3K_ISA_SCALAR:
        return "scalar";
    case DR3K_ISA_AVX2:
        return "avx2";
    case DR3K_ISA_AVX512:
        return "avx512";
    default:
        return "unknown";
    }
}

int dr3k_thin_isa(void) {
    int f = atomic_load_explicit(&forced_isa, memory_order_relaxed);
    if (f >= 0) return f;
    int a = atomic_load_explicit(&auto_isa, memory_order_relaxed);
    if (a > 0) return a - 1;
    int isa = best_here();
    const char *env = getenv("DR3_THIN_KERNELS");
    if (env != NULL)
        for (int i = DR3K_ISA_OFF; i <= DR3K_ISA_AVX512; i++)
            if (strcmp(env, dr3k_thin_isa_name(i)) == 0) isa = capped(i);
    atomic_store_explicit(&auto_isa, isa + 1, memory_order_relaxed);
    return isa;
}

int dr3k_thin_set_isa(int isa) {
    if (isa < 0) {
        atomic_store(&forced_isa, -1);
    } else {
        atomic_store(&forced_isa, capped(isa > DR3K_ISA_AVX512 ? DR3K_ISA_AVX512 : isa));
    }
    return dr3k_thin_isa();
}

/* ---- the shape rule ------------------------------------------------------------------- */

/* Vector lanes of the BLIS kernel set in use (16 for skx, 8 for the AVX2 sets, 4 for
 * generic), found once; 0 until then. */
static atomic_int blis_lanes;

static int blis_lanes_now(void) {
    int l = atomic_load_explicit(&blis_lanes, memory_order_relaxed);
    if (l > 0) return l;
    const char *name = dr3k_blis_arch_name(dr3k_blis_arch_active());
    l = strcmp(name, "skx") == 0 || strcmp(name, "knl") == 0 ? 16
        : strcmp(name, "generic") == 0                       ? 4
                                                             : 8;
    atomic_store_explicit(&blis_lanes, l, memory_order_relaxed);
    return l;
}

/* Where the thin kernels beat BLIS, measured with bench/thin_kernels.c on both BLIS kernel
 * sets (docs/performance.md). BLIS's fixed cost per call (context, packing) dominates up to
 * 64³ multiply-adds; an output side of at most 4 (Q heads with few actions, their weight and
 * bias gradients) runs far below peak in BLIS (skx has no small-matrix kernels); A Bᵀ with one
 * side of at most 32 suits the dot kernel, and A B or Aᵀ B with at most 32 columns the
 * broadcast kernel (the input and weight gradients of a first layer on [s, a]: BLIS packs all
 * of the long operand for few uses). When BLIS runs narrower vectors than the thin
 * kernels (zen3 or haswell kernels on an AVX-512 CPU), the thin kernels win up to 2²⁶
 * multiply-adds. With more than one thread, BLIS's parallel products win above 2²¹. */
static bool worth_it(int threads, int lanes, bool trans_a, bool trans_b, size_t m, size_t n,
                     size_t k) {
    if (trans_a && trans_b) return false;
    const double macs = (double)m * (double)n * (double)k;
    const size_t thin = m < n ? m : n;
    if (macs <= 64.0 * 64.0 * 64.0) return true;
    if (threads > 1 && macs > 2097152.0) return false;
    if (thin <= 4) return true;
    if (lanes > blis_lanes_now() && macs <= 67108864.0) return true;
    if (n <= 32 && (trans_a ? m >= n : !trans_b)) return true; /* dW, dX of a first layer */
    return !trans_a && trans_b && thin <= 32;
}

/* panel (k × nb, row stride nb) = the first nb rows of B (each k long, stride ldb),
 * transposed; eight rows at a time so that each panel row gets eight contiguous stores. */
static void pack_transposed(float *panel, size_t nb, const float *b, size_t ldb, size_t rows,
                            size_t k) {
    size_t j = 0;
    for (; j + 8 <= rows; j += 8) {
        const float *r = b + j * ldb;
        for (size_t p = 0; p < k; p++) {
            float *o = panel + p * nb + j;
            for (size_t q = 0; q < 8; q++) o[q] = r[q * ldb + p];
        }
    }
    for (; j < rows; j++)
        for (size_t p = 0; p < k; p++) panel[p * nb + j] = b[j * ldb + p];
}

bool dr3k_thin_sgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                     float beta, float *c, size_t ldc) {
    const int isa = dr3k_thin_isa();
    if (isa == DR3K_ISA_OFF || (trans_a && trans_b)) return false;
    dr3k_bcast_fn bcast = dr3k_bcast_scalar;
    dr3k_dot_fn dot = dr3k_dot_scalar;
    size_t lanes = 1;
#ifdef DR3K_HAVE_X86_KERNELS
    if (isa == DR3K_ISA_AVX512) {
        bcast = dr3k_bcast_avx512;
        dot = dr3k_dot_avx512;
        lanes = 16;
    } else if (isa == DR3K_ISA_AVX2) {
        bcast = dr3k_bcast_avx2;
        dot = dr3k_dot_avx2;
        lanes = 8;
    }
#endif
    if (threads > 0 && !worth_it(threads, (int)lanes, trans_a, trans_b, m, n, k)) return false;
    if (k == 0) { /* C = beta C; beta == 0 clears garbage */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                c[i * ldc + j] = beta != 0.0f ? beta * c[i * ldc + j] : 0.0f;
        return true;
    }
    if (!trans_a && !trans_b) { /* C = A B: rows of B are contiguous along j */
        bcast(m, n, k, alpha, a, lda, 1, b, ldb, beta, c, ldc, 1);
    } else if (trans_a) {       /* C = Aᵀ B, A stored k × m (weight gradients) */
        if (n < lanes && m > n) /* vectorise along m instead: Cᵀ = Bᵀ A, stored transposed */
            bcast(n, m, k, alpha, b, 1, ldb, a, lda, beta, c, 1, ldc);
        else
            bcast(m, n, k, alpha, a, 1, lda, b, ldb, beta, c, ldc, 1);
    } else if ((m > 4 && n > 4) && k <= 256) {
        /* C = A Bᵀ, both sides wider than a dot block: Bᵀ in panels on the stack (16 KB),
         * then the broadcast kernel */
        enum { PANEL = 4096 };
        float panel[PANEL];
        const size_t cols = PANEL / k;
        for (size_t j0 = 0; j0 < n; j0 += cols) {
            const size_t nb = n - j0 < cols ? n - j0 : cols;
            pack_transposed(panel, nb, b + j0 * ldb, ldb, nb, k);
            bcast(m, nb, k, alpha, a, lda, 1, panel, nb, beta, c + j0, ldc, 1);
        }
    } else { /* C = A Bᵀ, one side thin: dot products along k */
        dot(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    return true;
}
