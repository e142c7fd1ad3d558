/* The actor-critic update the benchmarks time (bench/ac_step.c, bench/step_dist.c; the
 * PyTorch peers are bench/pytorch_ac_step.py and bench/pytorch_step_dist.py): two critics and
 * an actor of 2 x 256 hidden units, batch 256, obs 17, action 6, DR3 on (c0 = 0.1), CQL with
 * 10 sampled actions, on a fixed random batch. Header-only: each bench is one program. */
#ifndef DR3_BENCH_AC_CASE_H
#define DR3_BENCH_AC_CASE_H

#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>

#include <stdio.h>
#include <stdlib.h>

enum { AC_OBS = 17, AC_ACT = 6, AC_BATCH = 256 };

/* The learner for @p algo with @p threads threads; exits with the message on failure. */
static dr3_ac_learner *ac_case_learner(dr3_ac_algo algo, int threads) {
    static const size_t hidden[2] = {256, 256};
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = algo;
    o.obs_dim = AC_OBS;
    o.action_dim = AC_ACT;
    o.critic_num_hidden = o.actor_num_hidden = 2;
    o.critic_hidden = o.actor_hidden = hidden;
    o.batch_size = AC_BATCH;
    o.cql_num_actions = 10;
    o.dr3_coef = 0.1f;
    o.threads = threads;
    dr3_ac_learner *l = NULL;
    if (dr3_ac_learner_create(&l, &o) != DR3_OK) {
        fprintf(stderr, "dr3_ac_learner_create: %s\n", dr3_last_error());
        exit(1);
    }
    return l;
}

/* The batch: uniform obs, next obs and actions in [-1, 1), rewards in [0, 1), seed 1 (the
 * arrays are static: one batch per program). */
static dr3_ac_batch ac_case_batch(void) {
    static float obs[AC_BATCH * AC_OBS], nobs[AC_BATCH * AC_OBS], act[AC_BATCH * AC_ACT],
        rew[AC_BATCH];
    dr3_rng r;
    dr3_rng_seed(&r, 1);
    for (size_t i = 0; i < AC_BATCH * AC_OBS; i++) obs[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (size_t i = 0; i < AC_BATCH * AC_OBS; i++) nobs[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (size_t i = 0; i < AC_BATCH * AC_ACT; i++) act[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (size_t i = 0; i < AC_BATCH; i++) rew[i] = dr3_rng_uniform(&r);
    dr3_ac_batch b = DR3_AC_BATCH_INIT;
    b.n = AC_BATCH;
    b.obs = obs;
    b.ld_obs = AC_OBS;
    b.actions = act;
    b.ld_actions = AC_ACT;
    b.rewards = rew;
    b.next_obs = nobs;
    b.ld_next_obs = AC_OBS;
    return b;
}

#endif
