/* A process-wide pool of worker threads for dr3k_sgemm's parallel products (kernels.h).
 * A product with t threads is cut into t slices, a function of the shape and t only; the
 * caller and whichever workers are free claim slices from a counter, and the caller sleeps
 * until all are done. So a product never waits for a thread that is not running (no spin
 * barriers, unlike OpenMP BLIS on a busy machine), a second caller finding the pool busy
 * simply runs its slices itself, and the result never depends on who ran which slice. */
#include "kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct pool_job {
    void (*fn)(void *ctx, int slice);
    void *ctx;
    int slices;
    atomic_int next, done;
    int holders; /* workers that took this job and have not let go (under mu) */
} pool_job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static pool_job *current;    /* the job being shared, or NULL (under mu) */
static unsigned long posted; /* jobs posted so far (under mu) */
static int workers = -1;     /* started workers; -1 before the first parallel product */

/* Claims and runs slices until none is left. */
static void claim(pool_job *j) {
    for (;;) {
        int s = atomic_fetch_add(&j->next, 1);
        if (s >= j->slices) return;
        j->fn(j->ctx, s);
        atomic_fetch_add(&j->done, 1);
    }
}

static void *worker(void *arg) {
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (current == NULL || posted == seen) pthread_cond_wait(&work_cv, &mu);
        seen = posted;
        pool_job *j = current;
        j->holders++;
        pthread_mutex_unlock(&mu);
        claim(j);
        pthread_mutex_lock(&mu);
        j->holders--;
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
    pool_job j = {.fn = fn, .ctx = ctx, .slices = slices};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    pthread_mutex_lock(&mu);
    if (workers < 0) start_workers();
    const bool share = slices > 1 && workers > 0 && current == NULL;
    if (share) {
        current = &j;
        posted++;
        pthread_cond_broadcast(&work_cv);
    }
    pthread_mutex_unlock(&mu);
    claim(&j);
    if (!share) return;
    pthread_mutex_lock(&mu);
    current = NULL; /* no new worker takes it; wait for those that did */
    while (atomic_load(&j.done) < slices || j.holders > 0) pthread_cond_wait(&done_cv, &mu);
    pthread_mutex_unlock(&mu);
}
