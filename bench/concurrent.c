/* Two learners stepping at the same time in one process, each with T BLIS threads, against
 * the same two run one after the other: how concurrent handles degrade on a small machine
 * (docs/performance.md has the numbers before and after libdr3's own worker pool).
 *   usage: concurrent [config: tiny|small|large] [threads] [steps] */
#include <dr3/dr3.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct job {
    dr3_learner *l;
    dr3_batch bt;
    int steps, failed;
    double secs;
} job;

static void *run(void *p) {
    job *j = p;
    double t = now();
    for (int s = 0; s < j->steps; s++)
        if (dr3_learner_step(j->l, &j->bt, NULL) != DR3_OK) j->failed = 1;
    j->secs = now() - t;
    return NULL;
}

int main(int argc, char **argv) {
    const char *cfg = argc > 1 ? argv[1] : "small";
    int threads = argc > 2 ? atoi(argv[2]) : 2, steps = argc > 3 ? atoi(argv[3]) : 100;
    size_t obs = 4, hidden = 256, actions = 2, batch = 256;
    if (strcmp(cfg, "tiny") == 0) hidden = 64, batch = 32;
    if (strcmp(cfg, "large") == 0) obs = 64, hidden = 1024, actions = 18, batch = 512;
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    size_t hid[2] = {hidden, hidden};
    float *s = malloc(sizeof(float) * 2 * batch * obs), *r = malloc(sizeof(float) * batch);
    int32_t *a = malloc(sizeof(int32_t) * batch);
    dr3_rng rng;
    dr3_rng_seed(&rng, 1);
    for (size_t i = 0; i < 2 * batch * obs; i++) s[i] = 2 * dr3_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < batch; i++) {
        r[i] = dr3_rng_uniform(&rng);
        a[i] = (int32_t)dr3_rng_below(&rng, actions);
    }
    job jobs[2];
    for (int i = 0; i < 2; i++) {
        dr3_learner_options lo = DR3_LEARNER_OPTIONS_INIT;
        dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT;
        const dr3_regularizer_options *rp = &reg;
        lo.obs_dim = obs;
        lo.num_actions = actions;
        lo.num_hidden = 2;
        lo.hidden = hid;
        lo.batch_size = batch;
        lo.threads = threads;
        lo.regularizers = &rp;
        lo.num_regularizers = 1;
        memset(&jobs[i], 0, sizeof jobs[i]);
        if (dr3_learner_create(&jobs[i].l, &lo) != DR3_OK) return 1;
        jobs[i].bt = (dr3_batch)DR3_BATCH_INIT;
        jobs[i].bt.n = batch;
        jobs[i].bt.obs = s;
        jobs[i].bt.ld_obs = obs;
        jobs[i].bt.next_obs = s + batch * obs;
        jobs[i].bt.ld_next_obs = obs;
        jobs[i].bt.actions = a;
        jobs[i].bt.rewards = r;
        jobs[i].steps = steps;
    }
    printf("BLIS kernels %s, %s, %d thread(s) per learner, %d steps each\n", info.blis_arch,
           cfg, threads, steps);
    /* one after the other */
    double t = now();
    run(&jobs[0]);
    run(&jobs[1]);
    double seq = now() - t;
    /* both at once */
    pthread_t th[2];
    t = now();
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, run, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    double conc = now() - t;
    printf("sequential %.3f s, concurrent %.3f s (learners %.3f / %.3f s): %.2fx the "
           "sequential time\n",
           seq, conc, jobs[0].secs, jobs[1].secs, conc / seq);
    for (int i = 0; i < 2; i++) dr3_learner_free(jobs[i].l);
    free(s);
    free(r);
    free(a);
    return jobs[0].failed || jobs[1].failed;
}
