/* A process-wide pool of worker threads for dr3k_sgemm's parallel products (kernels.h).
 * A product with t threads is cut into t slices, a function of the shape and t only; the
 * caller and whichever workers are free claim slices from a counter, and the caller waits
 * until all are done. So a product never waits for a thread that is not running (no spin
 * barriers, unlike OpenMP BLIS on a busy machine), a second caller finding the pool busy
 * simply runs its slices itself, and the result never depends on who ran which slice.
 *
 * Waiting is bounded spinning, then sleeping: a worker that finished a job watches for the
 * next one for up to SPIN_NS before it sleeps on the condition variable, and the caller
 * watches for the last slice for up to SPIN_NS before it sleeps. A training step posts a
 * dozen products in a row, and a futex sleep and wake-up costs tens of microseconds in a
 * virtual machine each time; the spin catches the next product without them, and a second
 * handle or a busy machine loses at most SPIN_NS of a core per wait. */
#include "kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* The longest a worker or a caller spins before it sleeps (a build option so that the
 * benchmarks can compare with 0: -DDR3_POOL_SPIN_NS=0). */
#ifndef DR3_POOL_SPIN_NS
#define DR3_POOL_SPIN_NS 50000L
#endif
#define SPIN_NS ((long)DR3_POOL_SPIN_NS)

typedef struct pool_job {
    void (*fn)(void *ctx, int slice);
    void *ctx;
    int slices;
    unsigned fpmode; /* the poster's floating-point control word (x86: MXCSR) */
    atomic_int next, done;
    atomic_int holders; /* workers that took this job and have not let go (changed under mu) */
} pool_job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static pool_job *current;   /* the job being shared, or NULL (under mu) */
static atomic_ulong posted; /* jobs posted so far (changed under mu) */
static int workers = -1;    /* started workers; -1 before the first parallel product */

/* The calling thread's floating-point control state: the rounding mode and whether
 * subnormals are flushed (x86: MXCSR; elsewhere the pool leaves it alone). A worker runs
 * every slice in the mode of the thread that posted the job, so that a slice's bits never
 * depend on which thread ran it, and a worker started while its creator had subnormals
 * flushed (threads inherit the mode) does not keep that mode for later jobs. */
static unsigned fp_get(void) {
#if defined(__x86_64__) || defined(__i386__)
    return _mm_getcsr();
#else
    return 0;
#endif
}
static void fp_set(unsigned m) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(m);
#else
    (void)m;
#endif
}

/* Claims and runs slices until none is left. */
static void claim(pool_job *j) {
    for (;;) {
        int s = atomic_fetch_add(&j->next, 1);
        if (s >= j->slices) return;
        j->fn(j->ctx, s);
        atomic_fetch_add(&j->done, 1);
    }
}

static long elapsed_ns(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* Spins until posted differs from seen or SPIN_NS pass (without the lock). */
static void spin_for_post(unsigned long seen) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; atomic_load_explicit(&posted, memory_order_relaxed) == seen; i++) {
        CPU_RELAX();
        if (i % 64 == 0 && elapsed_ns(&t0) > SPIN_NS) return;
    }
}

static void *worker(void *arg) {
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&mu);
    for (;;) {
        if (current == NULL || posted == seen) {
            pthread_mutex_unlock(&mu);
            spin_for_post(seen);
            pthread_mutex_lock(&mu);
        }
        while (current == NULL || posted == seen) pthread_cond_wait(&work_cv, &mu);
        seen = posted;
        pool_job *j = current;
        atomic_fetch_add(&j->holders, 1);
        pthread_mutex_unlock(&mu);
        const unsigned own = fp_get();
        fp_set(j->fpmode);
        claim(j);
        fp_set(own);
        pthread_mutex_lock(&mu);
        atomic_fetch_sub(&j->holders, 1); /* j may be gone after this: not touched again */
        pthread_cond_broadcast(&done_cv);
    }
    return NULL;
}

/* Starts one worker fewer than the online CPUs (the caller is the other), at most 15. */
static void start_workers(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int want = n > 1 ? (int)(n < 16 ? n : 16) - 1 : 0;
    workers = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < want; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, worker, NULL) == 0) workers++;
    }
    pthread_attr_destroy(&attr);
}

void dr3k_pool_start(void) {
    pthread_mutex_lock(&mu);
    if (workers < 0) start_workers();
    pthread_mutex_unlock(&mu);
}

void dr3k_parallel_for(int slices, void (*fn)(void *ctx, int slice), void *ctx) {
    pool_job j = {.fn = fn, .ctx = ctx, .slices = slices, .fpmode = fp_get()};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.holders, 0);
    pthread_mutex_lock(&mu);
    if (workers < 0) start_workers();
    const bool share = slices > 1 && workers > 0 && current == NULL;
    if (share) {
        current = &j;
        atomic_fetch_add(&posted, 1);
        pthread_cond_broadcast(&work_cv);
    }
    pthread_mutex_unlock(&mu);
    claim(&j);
    if (!share) return;
    pthread_mutex_lock(&mu);
    current = NULL; /* no new worker takes it; wait for those that did */
    pthread_mutex_unlock(&mu);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; atomic_load(&j.done) < slices || atomic_load(&j.holders) > 0; i++) {
        CPU_RELAX();
        if (i % 64 == 0 && elapsed_ns(&t0) > SPIN_NS) break;
    }
    pthread_mutex_lock(&mu);
    while (atomic_load(&j.done) < slices || atomic_load(&j.holders) > 0)
        pthread_cond_wait(&done_cv, &mu);
    pthread_mutex_unlock(&mu);
}
