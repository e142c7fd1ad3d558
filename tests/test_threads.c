/* The threading rule (docs/threading.md): distinct learners used from distinct threads at
 * the same time, with no locking by the caller, give exactly what each gives alone. CI also
 * runs this under ThreadSanitizer. */
#include "testutil.h"

#include <dr3/learner.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { T = 4, STEPS = 60, OBS = 6, ACT = 3, B = 32 };

typedef struct job {
    uint64_t seed;
    int threads;  /* the learner's threads: 2 makes its products share libdr3's worker pool */
    size_t width; /* hidden width (256 with batch 32: products above the pool's threshold) */
    float *params_out; /* copy of the final online parameters */
    size_t np;
    dr3_step_metrics last;
    dr3_status st;
} job;

static void run_job(job *j) {
    const size_t hidden[2] = {j->width ? j->width : 48, j->width ? j->width : 48};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.threads = j->threads ? j->threads : 1;
    o.obs_dim = OBS;
    o.num_actions = ACT;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.batch_size = B;
    o.target_update_period = 10;
    o.seed = j->seed;
    dr3_regularizer_options reg[2] = {DR3_REGULARIZER_OPTIONS_INIT,
                                      DR3_REGULARIZER_OPTIONS_INIT};
    reg[1].kind = DR3_REG_CQL;
    const dr3_regularizer_options *reg_ptrs[2] = {&reg[0], &reg[1]};
    o.regularizers = reg_ptrs;
    o.num_regularizers = 2;
    /* a replay buffer per learner, filled from the job's own generator */
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 512;
    ro.obs_dim = OBS;
    ro.num_actions = ACT;
    dr3_replay *r = NULL;
    dr3_learner *l = NULL;
    j->st = dr3_replay_create(&r, &ro);
    if (j->st == DR3_OK) j->st = dr3_learner_create(&l, &o);
    dr3_rng rng;
    dr3_rng_seed(&rng, j->seed * 3 + 1);
    float obs[OBS], next[OBS];
    for (int k = 0; k < OBS; k++) obs[k] = dr3_rng_uniform(&rng);
    for (int t = 0; t < 300 && j->st == DR3_OK; t++) {
        int32_t a = (int32_t)dr3_rng_below(&rng, ACT);
        for (int k = 0; k < OBS; k++) next[k] = 0.9f * obs[k] + 0.1f * dr3_rng_uniform(&rng);
        int end = t % 50 == 49;
        j->st = dr3_replay_add(r, obs, &a, dr3_rng_uniform(&rng), end, 0, end ? next : NULL);
        memcpy(obs, next, sizeof obs);
    }
    for (int s = 0; s < STEPS && j->st == DR3_OK; s++)
        j->st = dr3_learner_step_replay(l, r, &j->last);
    if (j->st == DR3_OK) {
        j->np = dr3_net_param_count(dr3_learner_online(l));
        j->params_out = malloc(j->np * sizeof(float));
        memcpy(j->params_out, dr3_net_params(dr3_learner_online(l)), j->np * sizeof(float));
    }
    dr3_learner_free(l);
    dr3_replay_free(r);
}

static void *thread_main(void *arg) {
    run_job(arg);
    return NULL;
}

static void test_distinct_learners_in_parallel(void **state) {
    (void)state;
    job alone[T], together[T];
    memset(alone, 0, sizeof alone);
    memset(together, 0, sizeof together);
    for (int i = 0; i < T; i++) {
        alone[i].seed = together[i].seed = 100 + (uint64_t)i;
        /* half the learners use 2 threads each: the pool is shared between handles, a
         * caller finding it busy runs its slices itself, and the bits must not change */
        alone[i].threads = together[i].threads = i % 2 ? 2 : 1;
        alone[i].width = together[i].width = i % 2 ? 256 : 48;
        alone[i].last = (dr3_step_metrics)DR3_STEP_METRICS_INIT;
        together[i].last = (dr3_step_metrics)DR3_STEP_METRICS_INIT;
        run_job(&alone[i]);
        assert_int_equal(alone[i].st, DR3_OK);
    }
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &together[i]), 0);
    for (int i = 0; i < T; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < T; i++) {
        assert_int_equal(together[i].st, DR3_OK);
        assert_int_equal(together[i].np, alone[i].np);
        assert_memory_equal(together[i].params_out, alone[i].params_out,
                            alone[i].np * sizeof(float));
        assert_memory_equal(&together[i].last, &alone[i].last, sizeof(dr3_step_metrics));
        free(together[i].params_out);
        free(alone[i].params_out);
    }
}

/* Errors stay on the thread that made them while other threads fail differently. */
static void *fail_loop(void *arg) {
    int *ok = arg;
    float loss;
    *ok = 1;
    for (int i = 0; i < 2000; i++) {
        dr3_feature_dot_loss(1, 2, NULL, 2, NULL, 2, 1.0f, &loss, NULL, NULL);
        if (strstr(dr3_last_error(), "dr3_feature_dot_loss") == NULL) *ok = 0;
        dr3_td_loss(1, NULL, NULL, NULL, DR3_TD_MSE, 0, &loss, NULL);
        if (strstr(dr3_last_error(), "dr3_td_loss") == NULL) *ok = 0;
    }
    return NULL;
}

static void test_error_messages_per_thread(void **state) {
    (void)state;
    pthread_t th[T];
    int ok[T];
    for (int i = 0; i < T; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fail_loop, &ok[i]), 0);
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_true(ok[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distinct_learners_in_parallel),
        cmocka_unit_test(test_error_messages_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
