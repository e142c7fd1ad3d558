/* libdr3's own kernels for thin products (one output side small, or a short inner
 * dimension), where BLIS's packing and per-call set-up cost more than the arithmetic. Three
 * builds of the same kernels (thin_body.h): scalar C, AVX2+FMA and AVX-512, chosen once at
 * run time from cpuid; dr3k_sgemm (blis.c) decides per call by shape whether they or BLIS run.
 * Each kernel is single-threaded and sums every output in a fixed order that depends only on
 * the shape and the instruction set, so results are bitwise reproducible per machine. */
#ifndef DR3_SRC_KERNELS_THIN_H
#define DR3_SRC_KERNELS_THIN_H

#include <stdbool.h>
#include <stddef.h>

/* C(i, j) = alpha * sum_p a(i, p) * b(p, j) + beta * C(i, j), with
 *   a(i, p) = a[i * ars + p * acs]   (any strides: A or Aᵀ),
 *   b(p, j) = b[p * ldb + j]         (contiguous along j),
 *   C(i, j) = c[i * crs + j * ccs]   (ccs == 1, or crs == 1 for a transposed output).
 * beta == 0 never reads C. */
typedef void (*dr3k_bcast_fn)(size_t m, size_t n, size_t k, float alpha, const float *a,
                              size_t ars, size_t acs, const float *b, size_t ldb, float beta,
                              float *c, size_t crs, size_t ccs);
/* C(i, j) = alpha * sum_p a[i * lda + p] * b[j * ldb + p] + beta * c[i * ldc + j]: rows of
 * A against rows of B (A Bᵀ), vectorised along p. beta == 0 never reads C. */
typedef void (*dr3k_dot_fn)(size_t m, size_t n, size_t k, float alpha, const float *a,
                            size_t lda, const float *b, size_t ldb, float beta, float *c,
                            size_t ldc);

void dr3k_bcast_scalar(size_t m, size_t n, size_t k, float alpha, const float *a, size_t ars,
                       size_t acs, const float *b, size_t ldb, float beta, float *c, size_t crs,
                       size_t ccs);
void dr3k_dot_scalar(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                     const float *b, size_t ldb, float beta, float *c, size_t ldc);
/* DR3_SCALAR_KERNELS_ONLY leaves the vector kernels out (the fuzz build: clang takes
 * minutes to instrument them, and the parsers it fuzzes never reach them). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DR3_SCALAR_KERNELS_ONLY)
#define DR3K_HAVE_X86_KERNELS 1
void dr3k_bcast_avx2(size_t m, size_t n, size_t k, float alpha, const float *a, size_t ars,
                     size_t acs, const float *b, size_t ldb, float beta, float *c, size_t crs,
                     size_t ccs);
void dr3k_dot_avx2(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                   const float *b, size_t ldb, float beta, float *c, size_t ldc);
void dr3k_bcast_avx512(size_t m, size_t n, size_t k, float alpha, const float *a, size_t ars,
                       size_t acs, const float *b, size_t ldb, float beta, float *c, size_t crs,
                       size_t ccs);
void dr3k_dot_avx512(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                     const float *b, size_t ldb, float beta, float *c, size_t ldc);
#endif

/* Instruction sets of the thin kernels; DR3K_ISA_OFF sends every product to BLIS. */
enum { DR3K_ISA_OFF = 0, DR3K_ISA_SCALAR = 1, DR3K_ISA_AVX2 = 2, DR3K_ISA_AVX512 = 3 };

/* The instruction set in use: the best this CPU runs, or what the environment variable
 * DR3_THIN_KERNELS (off, scalar, avx2, avx512; one the CPU cannot run is ignored) or
 * dr3k_thin_set_isa asked for. */
int dr3k_thin_isa(void);
/* Forces an instruction set (tests, benchmarks); -1 returns to the automatic choice. Returns
 * the set now in use (a request the CPU cannot run falls back to the best it can). Not
 * thread-safe against concurrent products. */
int dr3k_thin_set_isa(int isa);
const char *dr3k_thin_isa_name(int isa);

/* Runs C = alpha op(A) op(B) + beta C (the dr3k_sgemm contract) with the thin kernels if the
 * shape is one where they beat BLIS with @p threads threads; returns false (nothing touched)
 * otherwise. With threads == 0 every shape the kernels can do is taken (tests, benchmarks).
 * Both operands transposed is never taken. */
bool dr3k_thin_sgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                     float beta, float *c, size_t ldc);

#endif
