/* The only code in libdr3 that calls BLIS. Every dense product goes through here, with
 * explicit row strides (row-major storage, as everywhere in libdr3) and an explicit thread
 * count, so that each handle controls its own BLIS threading. */
#ifndef DR3_SRC_KERNELS_H
#define DR3_SRC_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* C[m×n] = alpha * op(A) * op(B) + beta * C, all row-major.
 * op(A) is m×k: A stored m×k (lda >= k) or, when trans_a, stored k×m (lda >= m).
 * op(B) is k×n: B stored k×n (ldb >= n) or, when trans_b, stored n×k (ldb >= k).
 * With beta == 0, C is overwritten and may hold garbage (even NaN) on entry.
 * threads >= 1. Arguments are trusted (validated by the caller). */
void dr3k_sgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta,
                float *c, size_t ldc);

/* The arguments of one dr3k_sgemm call (for dr3k_sgemm_pair). */
typedef struct dr3k_sgemm_args {
    bool trans_a, trans_b;
    size_t m, n, k;
    float alpha;
    const float *a;
    size_t lda;
    const float *b;
    size_t ldb;
    float beta;
    float *c;
    size_t ldc;
} dr3k_sgemm_args;

/* Two independent products at once (a backward pass's dW and dX): with t >= 2 threads the
 * first gets ceil(t/2) of them and the second floor(t/2), in one pass over the worker pool,
 * instead of each being cut t ways in turn. As in dr3k_sgemm, no output element's sum is
 * split between threads. The two must not overlap in what they
 * write, nor write what the other reads. Below the size where a second thread pays, they run
 * one after the other on the caller. */
void dr3k_sgemm_pair(int threads, const dr3k_sgemm_args *p, const dr3k_sgemm_args *q);

/* Start of part s of len cut into parts equal parts rounded up to whole 16-float vectors
 * (len when s >= parts): the row cut libdr3's parallel passes share. */
size_t dr3k_cut(size_t len, int s, int parts);

/* The multiply-adds below which waking a second thread costs more than it saves (measured
 * with bench/thin_kernels.c; docs/performance.md). */
#define DR3K_MIN_MACS_PER_EXTRA_THREAD 2097152.0

/* The same in double precision (diagnostics such as srank). */
void dr3k_dgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                double alpha, const double *a, size_t lda, const double *b, size_t ldb,
                double beta, double *c, size_t ldc);

/* C = A B (row-major, dense, m×k times k×n) straight through BLIS with its own threading
 * (OpenMP in Debian's build): the reference sgemm peak for benchmarks, not used by the
 * library itself. */
void dr3k_sgemm_blis_threads(int threads, size_t m, size_t n, size_t k, const float *a,
                             const float *b, float *c);

/* Runs fn(ctx, s) for s = 0 .. slices-1 on the calling thread and the process-wide worker
 * pool (pool.c), returning when all are done. Slices must be independent; which thread runs
 * which slice varies, so each slice's result must not depend on it. Thread-safe: a caller
 * finding the pool busy runs its slices itself. */
void dr3k_parallel_for(int slices, void (*fn)(void *ctx, int slice), void *ctx);
/* Starts the pool's threads now if they are not running (idempotent, thread-safe): handles
 * with more than one thread call it when created, so that no training step creates threads. */
void dr3k_pool_start(void);

/* Information about the BLIS in use, for dr3_runtime_info. Valid after BLIS init. */
const char *dr3k_blis_version(void);
const char *dr3k_blis_arch_name(int id);
int dr3k_blis_arch_active(void); /* BLIS's arch id; initialises BLIS */
int dr3k_blis_threading(void);   /* 1 when built with OpenMP or pthreads */
void dr3k_blis_init(void);

/* BLIS arch ids this build knows, by name; -1 when unknown. */
int dr3k_blis_arch_id(const char *name);

/* ---- kernel choice (blis_arch.c) ---------------------------------------------------- */

/* What cpuid says about this CPU (all false on other architectures). */
typedef struct dr3k_cpu_facts {
    char vendor[13];
    char brand[49];
    int family, model;
    bool avx, avx2_fma, avx512;
} dr3k_cpu_facts;

void dr3k_cpu_identify(dr3k_cpu_facts *f);
/* What BLIS 0.9's own detection picks here (a prediction from its documented rules). */
const char *dr3k_blis_would_pick(const dr3k_cpu_facts *f);
/* libdr3's choice for this CPU. */
const char *dr3k_blis_best_for(const dr3k_cpu_facts *f);
/* True when the CPU can execute the named configuration's kernels. */
bool dr3k_blis_arch_runs_here(const char *name, const dr3k_cpu_facts *f);
/* True for the configuration names libdr3 accepts. */
bool dr3k_blis_arch_known(const char *name);

#endif
