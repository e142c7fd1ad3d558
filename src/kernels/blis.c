/* BLIS typed-API wrappers. Row-major storage maps to BLIS's general strides as
 * (row stride = ld, column stride = 1); a transposed operand keeps its storage strides and
 * is flagged with BLIS_TRANSPOSE, so no copy is ever made. */
#include "kernels.h"
#include "thin.h"

#include <blis.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static trans_t tr(bool t) { return t ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE; }

/* BLIS's small/unpacked ("sup") path wins only when one output side is thin (a Q head with
 * few actions, a tiny batch); when both output sides are wide it loses badly, worst with a
 * small inner dimension (a first layer on 4 observations: 512x256x4 took 165 us with sup and
 * 36 us without on zen3). Measured with bench/blis_arch.c; see docs/performance.md. */
static void setup_rntm(rntm_t *rntm, int threads, size_t m, size_t n) {
    bli_rntm_set_num_threads((dim_t)threads, rntm);
    if (m > 32 && n > 32) bli_rntm_disable_l3_sup(rntm);
}

/* Below this many multiply-adds a second BLIS thread costs more (OpenMP fork/join, split
 * packing) than it saves: measured with bench/thin_kernels.c (96³ ran 21-25 us on one thread,
 * 26-32 on two; 128³ about even). The product then runs on one thread. A function of the
 * shape and the handle's thread count only, so results stay bitwise the same per count. */
#define DR3K_MIN_MACS_PER_EXTRA_THREAD 2097152.0

/* Cores for BLIS, shared by every handle in the process: a BLIS call with t threads waits
 * until t cores are free (or none is taken), so concurrent handles take turns instead of
 * oversubscribing the machine, where OpenMP teams spin at barriers for preempted peers (two
 * learners with 2 threads each on 2 cores took 160 s for 100 steps). The thread count of a
 * call never changes, only when it starts; the thin kernels (single-threaded, no barriers)
 * take no cores. */
static pthread_mutex_t cores_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cores_cv = PTHREAD_COND_INITIALIZER;
static int cores_busy, cores_total;

static void cores_take(int t) {
    pthread_mutex_lock(&cores_mu);
    if (cores_total == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cores_total = n > 0 && n < 4096 ? (int)n : 1;
    }
    while (cores_busy > 0 && cores_busy + t > cores_total)
        pthread_cond_wait(&cores_cv, &cores_mu);
    cores_busy += t;
    pthread_mutex_unlock(&cores_mu);
}

static void cores_give(int t) {
    pthread_mutex_lock(&cores_mu);
    cores_busy -= t;
    pthread_cond_broadcast(&cores_cv);
    pthread_mutex_unlock(&cores_mu);
}

static int threads_for(int threads, size_t m, size_t n, size_t k) {
    if (threads > 1 && (double)m * (double)n * (double)k < DR3K_MIN_MACS_PER_EXTRA_THREAD)
        return 1;
    return threads;
}

void dr3k_sgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta,
                float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    /* thin shapes go to libdr3's own kernels (thin.c), everything else to BLIS */
    if (dr3k_thin_sgemm(threads, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                        ldc))
        return;
    threads = threads_for(threads, m, n, k);
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    setup_rntm(&rntm, threads, m, n);
    cores_take(threads);
    bli_sgemm_ex(tr(trans_a), tr(trans_b), (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (float *)a,
                 (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, NULL,
                 &rntm);
    cores_give(threads);
}

void dr3k_dgemm(int threads, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                double alpha, const double *a, size_t lda, const double *b, size_t ldb,
                double beta, double *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    threads = threads_for(threads, m, n, k);
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    setup_rntm(&rntm, threads, m, n);
    cores_take(threads);
    bli_dgemm_ex(tr(trans_a), tr(trans_b), (dim_t)m, (dim_t)n, (dim_t)k, &alpha, (double *)a,
                 (inc_t)lda, 1, (double *)b, (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1, NULL,
                 &rntm);
    cores_give(threads);
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
