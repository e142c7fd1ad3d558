/* BLIS typed-API wrappers. Row-major storage maps to BLIS's general strides as
 * (row stride = ld, column stride = 1); a transposed operand keeps its storage strides and
 * is flagged with BLIS_TRANSPOSE, so no copy is ever made. */
#include "kernels.h"
#include "thin.h"

#include <blis.h>
#include <string.h>

static trans_t tr(bool t) { return t ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE; }

/* BLIS's small/unpacked ("sup") path wins only when one output side is thin (a Q head with
 * few actions, a tiny batch); when both output sides are wide it loses badly, worst with a
 * small inner dimension (a first layer on 4 observations: 512x256x4 took 165 us with sup and
 * 36 us without on zen3). Measured with bench/blis_arch.c; see docs/performance.md. */
static void setup_rntm(rntm_t *rntm, int threads, size_t m, size_t n) {
    bli_rntm_set_num_threads((dim_t)threads, rntm);
    if (m > 32 && n > 32) bli_rntm_disable_l3_sup(rntm);
}

/* Parallel products: libdr3 cuts a product with t threads into t slices of rows (or of
 * columns when those are the longer side) and runs each slice single-threaded (thin kernels or
 * BLIS with one thread) on its worker pool (pool.c). BLIS's own OpenMP threading is not used:
 * its threads spin at barriers, so a busy machine or a second handle (two learners with 2
 * threads each on 2 cores took 160 s for 100 steps) stalls them for whole scheduler slices,
 * while the pool's caller simply runs the slices nobody else took. The cut depends on the
 * shape and t only, and no output element's sum is split, so results are bitwise the same
 * for a given thread count whoever runs the slices.
 *
 * Below this many multiply-adds a product runs on the calling thread alone: waking a worker
 * costs more than it saves (bench/thin_kernels.c). */
#define DR3K_MIN_MACS_PER_EXTRA_THREAD 2097152.0

typedef struct product {
    bool dbl, trans_a, trans_b, by_rows;
    size_t m, n, k, lda, ldb, ldc;
    double alpha, beta;
    const void *a, *b;
    void *c;
    int slices;
} product;

static void run_single(const product *p, size_t m, size_t n, const void *a, const void *b,
                       void *c) {
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    setup_rntm(&rntm, 1, m, n);
    if (p->dbl) {
        double alpha = p->alpha, beta = p->beta;
        bli_dgemm_ex(tr(p->trans_a), tr(p->trans_b), (dim_t)m, (dim_t)n, (dim_t)p->k, &alpha,
                     (double *)a, (inc_t)p->lda, 1, (double *)b, (inc_t)p->ldb, 1, &beta,
                     (double *)c, (inc_t)p->ldc, 1, NULL, &rntm);
        return;
    }
    float alpha = (float)p->alpha, beta = (float)p->beta;
    if (dr3k_thin_sgemm(1, p->trans_a, p->trans_b, m, n, p->k, alpha, a, p->lda, b, p->ldb,
                        beta, c, p->ldc))
        return;
    bli_sgemm_ex(tr(p->trans_a), tr(p->trans_b), (dim_t)m, (dim_t)n, (dim_t)p->k, &alpha,
                 (float *)a, (inc_t)p->lda, 1, (float *)b, (inc_t)p->ldb, 1, &beta, (float *)c,
                 (inc_t)p->ldc, 1, NULL, &rntm);
}

size_t dr3k_cut(size_t len, int s, int slices) {
    if (s >= slices) return len;
    size_t x = (len * (size_t)s / (size_t)slices + 15) / 16 * 16;
    return x < len ? x : len;
}

static void run_slice(void *ctx, int s) {
    const product *p = ctx;
    const size_t es = p->dbl ? sizeof(double) : sizeof(float);
    const char *a = p->a, *b = p->b;
    char *c = p->c;
    if (p->by_rows) {
        size_t i0 = dr3k_cut(p->m, s, p->slices), i1 = dr3k_cut(p->m, s + 1, p->slices);
        if (i1 > i0)
            run_single(p, i1 - i0, p->n, a + (p->trans_a ? i0 : i0 * p->lda) * es, b,
                       c + i0 * p->ldc * es);
    } else {
        size_t j0 = dr3k_cut(p->n, s, p->slices), j1 = dr3k_cut(p->n, s + 1, p->slices);
        if (j1 > j0)
            run_single(p, p->m, j1 - j0, a, b + (p->trans_b ? j0 * p->ldb : j0) * es,
                       c + j0 * es);
    }
}

/* Decides how a product with this many threads is cut: p->slices (1: whole, on one
 * thread) and p->by_rows. A function of the shape and the thread count only. */
static void plan(product *p, int threads) {
    const double macs = (double)p->m * (double)p->n * (double)p->k;
    p->by_rows = p->m >= p->n;
    const size_t side = p->by_rows ? p->m : p->n;
    int slices = macs < DR3K_MIN_MACS_PER_EXTRA_THREAD ? 1 : threads;
    if ((size_t)slices > side / 16) slices = side / 16 > 0 ? (int)(side / 16) : 1;
    p->slices = slices > 1 ? slices : 1;
}

/* Part s of a planned product: the whole of it when it is not cut. */
static void run_part(const product *p, int s) {
    if (p->slices <= 1)
        run_single(p, p->m, p->n, p->a, p->b, p->c);
    else
        run_slice((void *)p, s);
}

static void run_product(product *p, int threads) {
    if (p->m == 0 || p->n == 0) return;
    plan(p, threads);
    if (p->slices <= 1) {
        run_single(p, p->m, p->n, p->a, p->b, p->c);
        return;
    }
    dr3k_parallel_for(p->slices, run_slice, p);
}

static product product_of(const dr3k_sgemm_args *g) {
    product p = {.dbl = false,
                 .trans_a = g->trans_a,
                 .trans_b = g->trans_b,
                 .m = g->m,
                 .n = g->n,
                 .k = g->k,
                 .lda = g->lda,
                 .ldb = g->ldb,
                 .ldc = g->ldc,
                 .alpha = g->alpha,
                 .beta = g->beta,
                 .a = g->a,
                 .b = g->b,
                 .c = g->c};
    return p;
}

typedef struct pair_job {
    product p[2];
    int first; /* slices [0, first) are p[0]'s, the rest p[1]'s */
} pair_job;

static void run_pair_slice(void *ctx, int s) {
    const pair_job *j = ctx;
    if (s < j->first)
        run_part(&j->p[0], s);
    else
        run_part(&j->p[1], s - j->first);
}

void dr3k_sgemm_pair(int threads, const dr3k_sgemm_args *p, const dr3k_sgemm_args *q) {
    pair_job j = {{product_of(p), product_of(q)}, 0};
    const double macs =
        (double)p->m * (double)p->n * (double)p->k + (double)q->m * (double)q->n * (double)q->k;
    const bool empty0 = p->m == 0 || p->n == 0, empty1 = q->m == 0 || q->n == 0;
    if (threads < 2 || empty0 || empty1 || macs < DR3K_MIN_MACS_PER_EXTRA_THREAD) {
        run_product(&j.p[0], threads);
        run_product(&j.p[1], threads);
        return;
    }
    plan(&j.p[0], (threads + 1) / 2);
    plan(&j.p[1], threads / 2);
    j.first = j.p[0].slices;
    dr3k_parallel_for(j.first + j.p[1].slices, run_pair_slice, &j);
}

/* One product of either precision (alpha and beta carried as doubles: exact for floats). */
static void gemm(int threads, bool dbl, bool trans_a, bool trans_b, size_t m, size_t n,
                 size_t k, double alpha, const void *a, size_t lda, const void *b, size_t ldb,
                 double beta, void *c, size_t ldc) {
    product p = {.dbl = dbl,
                 .trans_a = trans_a,
                 .trans_b = trans_b,
                 .m = m,
                 .n = n,
                 .k = k,
                 .lda = lda,
                 .ldb = ldb,
                 .ldc = ldc,
                 .alpha = alpha,
                 .beta = beta,
                 .a = a,
                 .b = b,
                 .c = c};
    run_product(&p, threads);
}

void dr3k_sgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta,
                float *c, size_t ldc) {
    gemm(threads, false, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dr3k_dgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                double alpha, const double *a, size_t lda, const double *b, size_t ldb,
                double beta, double *c, size_t ldc) {
    gemm(threads, true, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dr3k_sgemm_blis_threads(int threads, size_t m, size_t n, size_t k, const float *a,
                             const float *b, float *c) {
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads((dim_t)threads, &rntm);
    float one = 1.0f, zero = 0.0f;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k, &one,
                 (float *)a, (inc_t)k, 1, (float *)b, (inc_t)n, 1, &zero, c, (inc_t)n, 1, NULL,
                 &rntm);
}

const char *dr3k_blis_version(void) { return bli_info_get_version_str(); }

const char *dr3k_blis_arch_name(int id) {
    if (id < 0 || id >= (int)BLIS_NUM_ARCHS) return "unknown";
    return bli_arch_string((arch_t)id);
}

void dr3k_blis_init(void) { bli_init(); }

int dr3k_blis_arch_active(void) {
    bli_init(); /* querying before init with BLIS_ARCH_TYPE set aborts in BLIS 0.9 */
    return (int)bli_arch_query_id();
}

int dr3k_blis_threading(void) {
    return (bli_info_get_enable_openmp() || bli_info_get_enable_pthreads()) ? 1 : 0;
}

int dr3k_blis_arch_id(const char *name) {
    for (int id = 0; id < (int)BLIS_NUM_ARCHS; id++)
        if (strcmp(bli_arch_string((arch_t)id), name) == 0) return id;
    return -1;
}
