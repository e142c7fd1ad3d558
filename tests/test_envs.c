/* Environments: dynamics against steps worked out by hand from Gym's equations, limits,
 * behaviour-policy probabilities, sampling frequencies and the collector's bookkeeping. */
#include "testutil.h"

#include "envs.h"
#include "minatar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_cartpole_dynamics(void **state) {
    (void)state;
    dr3env *e;
    assert_int_equal(dr3env_create(&e, "cartpole", 1), DR3_OK);
    assert_int_equal(dr3env_obs_dim(e), 4);
    assert_int_equal(dr3env_num_actions(e), 2);
    /* from rest, push right: temp = 10/1.1; θ'' = −temp / (0.5 (4/3 − 0.1/1.1));
     * x'' = temp − 0.05 θ'' / 1.1; Euler with τ = 0.02 updates velocities only */
    double s0[4] = {0, 0, 0, 0};
    assert_int_equal(dr3env_set_state(e, s0), DR3_OK);
    float obs[4], r;
    int term, trunc;
    assert_int_equal(dr3env_step(e, 1, obs, &r, &term, &trunc), DR3_OK);
    double temp = 10.0 / 1.1, thacc = -temp / (0.5 * (4.0 / 3.0 - 0.1 / 1.1));
    double xacc = temp - 0.05 * thacc / 1.1;
    TU_ASSERT_CLOSE(obs[0], 0.0, 0, 1e-7);
    TU_ASSERT_CLOSE(obs[1], 0.02 * xacc, 1e-6, 0);  /* 0.195122 */
    TU_ASSERT_CLOSE(obs[3], 0.02 * thacc, 1e-6, 0); /* −0.292683 */
    TU_ASSERT_CLOSE(obs[1], 0.195122, 1e-5, 0);
    assert_true(r == 1.0f && !term && !trunc);
    /* a tilted pole falls: θ beyond 12° terminates */
    double tilted[4] = {0, 0, 0.2, 0.5};
    assert_int_equal(dr3env_set_state(e, tilted), DR3_OK);
    assert_int_equal(dr3env_step(e, 0, obs, &r, &term, &trunc), DR3_OK);
    assert_true(term && !trunc);
    assert_int_equal(dr3env_step(e, 0, obs, &r, &term, &trunc), DR3_ERR_STATE);
    double edge[4] = {2.399, 1.0, 0, 0};
    assert_int_equal(dr3env_set_state(e, edge), DR3_OK);
    assert_int_equal(dr3env_step(e, 1, obs, &r, &term, &trunc), DR3_OK);
    assert_true(term); /* x = 2.399 + 0.02 > 2.4 */
    dr3env_free(e);
}

/* The balancing controller keeps the pole up for the whole episode: truncation exactly at
 * step 500, never terminal. */
static void test_cartpole_time_limit(void **state) {
    (void)state;
    dr3env *e;
    assert_int_equal(dr3env_create(&e, "cartpole", 3), DR3_OK);
    dr3env_policy p = {e, 0.0};
    dr3_rng rng;
    dr3_rng_seed(&rng, 1);
    float obs[4], r;
    int term = 0, trunc = 0, steps = 0;
    assert_int_equal(dr3env_reset(e, obs), DR3_OK);
    while (!term && !trunc) {
        assert_int_equal(
            dr3env_step(e, dr3env_policy_sample(&p, obs, &rng), obs, &r, &term, &trunc),
            DR3_OK);
        steps++;
    }
    assert_int_equal(steps, 500);
    assert_true(trunc && !term);
    dr3env_free(e);
}

static void test_mountaincar(void **state) {
    (void)state;
    dr3env *e;
    assert_int_equal(dr3env_create(&e, "mountaincar", 1), DR3_OK);
    double s[2] = {-0.5, 0.0};
    assert_int_equal(dr3env_set_state(e, s), DR3_OK);
    float obs[2], r;
    int term, trunc;
    assert_int_equal(dr3env_step(e, 2, obs, &r, &term, &trunc), DR3_OK);
    /* v = 0 + 0.001 − 0.0025 cos(−1.5); p = −0.5 + v */
    double v = 0.001 - 0.0025 * cos(-1.5);
    TU_ASSERT_CLOSE(obs[1], v, 1e-6, 0);
    TU_ASSERT_CLOSE(obs[0], -0.5 + v, 1e-6, 0);
    assert_true(r == -1.0f && !term && !trunc);
    /* the left wall stops the car */
    double wall[2] = {-1.19, -0.05};
    assert_int_equal(dr3env_set_state(e, wall), DR3_OK);
    assert_int_equal(dr3env_step(e, 0, obs, &r, &term, &trunc), DR3_OK);
    TU_ASSERT_CLOSE(obs[0], -1.2, 0, 1e-7);
    assert_true(obs[1] == 0.0f);
    /* reaching the goal terminates */
    double near[2] = {0.49, 0.02};
    assert_int_equal(dr3env_set_state(e, near), DR3_OK);
    assert_int_equal(dr3env_step(e, 2, obs, &r, &term, &trunc), DR3_OK);
    assert_true(term);
    /* standing still is truncated at 200 steps */
    float o[2];
    assert_int_equal(dr3env_reset(e, o), DR3_OK);
    int steps = 0;
    do {
        assert_int_equal(dr3env_step(e, 1, o, &r, &term, &trunc), DR3_OK);
        steps++;
    } while (!term && !trunc);
    assert_int_equal(steps, 200);
    assert_true(trunc);
    assert_int_equal(dr3env_step(e, 1, o, &r, &term, &trunc), DR3_ERR_STATE);
    assert_int_equal(dr3env_reset(e, o), DR3_OK);
    assert_int_equal(dr3env_step(e, 3, o, &r, &term, &trunc), DR3_ERR_RANGE);
    dr3env_free(e);
}

static void test_gridworld_and_policy(void **state) {
    (void)state;
    dr3env *e;
    assert_int_equal(dr3env_create(&e, "gridworld", 1), DR3_OK);
    float obs[2], r, probs[4];
    int term, trunc;
    /* (6, 0) is a wall: moving right from (5, 0) stays put */
    double s[2] = {5, 0};
    assert_int_equal(dr3env_set_state(e, s), DR3_OK);
    assert_int_equal(dr3env_step(e, 1, obs, &r, &term, &trunc), DR3_OK);
    TU_ASSERT_CLOSE(obs[0], 2.0 * 5 / 9 - 1, 0, 1e-6);
    TU_ASSERT_CLOSE(obs[1], -1.0, 0, 1e-6);
    /* next to the goal (9, 9): stepping down from (9, 8) ends with reward 1 */
    double g[2] = {9, 8};
    assert_int_equal(dr3env_set_state(e, g), DR3_OK);
    assert_int_equal(dr3env_step(e, 2, obs, &r, &term, &trunc), DR3_OK);
    assert_true(term && r == 1.0f);
    /* at (9, 8) the only shortest move is down: probs = (1−ε)·onehot + ε/4 */
    dr3env_policy p = {e, 0.2};
    float at98[2] = {1.0f, 2.0f * 8 / 9 - 1};
    assert_int_equal(dr3env_policy_probs(&p, at98, probs), DR3_OK);
    TU_ASSERT_CLOSE(probs[2], 0.8 + 0.05, 1e-6, 0);
    TU_ASSERT_CLOSE(probs[0], 0.05, 1e-6, 0);
    /* at (0, 9) the goal is to the right along the bottom row? the wall at (7, 7..9) blocks
     * it; the shortest path goes up: both "up" and "right" may tie — probabilities must
     * still sum to 1 and give equal mass to tied moves */
    float c09[2] = {-1.0f, 1.0f};
    assert_int_equal(dr3env_policy_probs(&p, c09, probs), DR3_OK);
    double sum = probs[0] + probs[1] + probs[2] + probs[3];
    TU_ASSERT_CLOSE(sum, 1.0, 0, 1e-6);
    /* following the greedy controller from anywhere reaches the goal */
    dr3_rng rng;
    dr3_rng_seed(&rng, 5);
    dr3env_policy greedy = {e, 0.0};
    for (int ep = 0; ep < 20; ep++) {
        assert_int_equal(dr3env_reset(e, obs), DR3_OK);
        int steps = 0;
        do {
            int a = dr3env_policy_sample(&greedy, obs, &rng);
            assert_int_equal(dr3env_step(e, a, obs, &r, &term, &trunc), DR3_OK);
            steps++;
        } while (!term && !trunc);
        assert_true(term);
        assert_true(steps <= 30);
    }
    dr3env_free(e);
}

static void test_policy_sampling_frequencies(void **state) {
    (void)state;
    dr3env *e;
    assert_int_equal(dr3env_create(&e, "mountaincar", 1), DR3_OK);
    dr3env_policy p = {e, 0.3};
    float obs[2] = {-0.5f, 0.01f}, probs[3];
    assert_int_equal(dr3env_policy_probs(&p, obs, probs), DR3_OK);
    TU_ASSERT_CLOSE(probs[2], 0.7 + 0.1, 1e-6, 0);
    TU_ASSERT_CLOSE(probs[0], 0.1, 1e-6, 0);
    dr3_rng rng;
    dr3_rng_seed(&rng, 8);
    int counts[3] = {0};
    for (int i = 0; i < 30000; i++) counts[dr3env_policy_sample(&p, obs, &rng)]++;
    for (int a = 0; a < 3; a++) TU_ASSERT_CLOSE(counts[a] / 30000.0, probs[a], 0, 0.012);
    /* the batch callback agrees with the single-observation form */
    float batch[4] = {-0.5f, 0.01f, 0.1f, -0.02f}, bp[6];
    assert_int_equal(dr3env_policy_fn(&p, 2, batch, 2, bp, 3), 0);
    for (int a = 0; a < 3; a++) TU_ASSERT_CLOSE(bp[a], probs[a], 0, 1e-7);
    TU_ASSERT_CLOSE(bp[3 + 0], 0.8, 1e-6, 0); /* negative velocity: push left */
    dr3env_policy bad = {e, 1.5};
    assert_int_equal(dr3env_policy_probs(&bad, obs, probs), DR3_ERR_INVALID_ARG);
    dr3env_free(e);
}

static void test_collector(void **state) {
    (void)state;
    dr3env *e;
    assert_int_equal(dr3env_create(&e, "cartpole", 2), DR3_OK);
    dr3env_policy p = {e, 0.5};
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 4000;
    ro.obs_dim = 4;
    ro.num_actions = 2;
    ro.gamma = 0.9f;
    dr3_replay *rep;
    assert_int_equal(dr3_replay_create(&rep, &ro), DR3_OK);
    enum { T = 1500 };
    float *mc = malloc(T * sizeof(float));
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    assert_int_equal(dr3env_collect(e, &p, T, 0.9f, &rng, rep, mc), DR3_OK);
    /* every step stored, plus one final observation per episode */
    size_t n_valid = dr3_replay_valid_count(rep, 0);
    assert_int_equal(n_valid, T);
    assert_true(dr3_replay_size(rep) > T);
    /* MC returns against a recomputation from the stored rewards and flags */
    size_t *idx = malloc(T * sizeof(size_t)), count;
    assert_int_equal(dr3_replay_valid_indices(rep, 0, idx, T, &count), DR3_OK);
    assert_int_equal(count, T);
    float rew[T], disc[T];
    uint8_t termf[T];
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.rewards = rew;
    b.discounts = disc;
    b.terminals = termf;
    assert_int_equal(dr3_replay_get(rep, idx, T, &b), DR3_OK);
    double g = 0;
    for (size_t k = T; k-- > 0;) {
        /* a step whose successor in index order starts a new episode ends its episode */
        int ends = k + 1 == T || idx[k + 1] != idx[k] + 1;
        g = rew[k] + (ends ? 0.0 : 0.9 * g);
        TU_ASSERT_CLOSE(mc[k], g, 1e-4, 1e-4);
        if (termf[k]) assert_true(disc[k] == 0.0f);
    }
    free(idx);
    free(mc);
    dr3_replay_free(rep);
    dr3env_free(e);
    dr3env *none;
    assert_int_equal(dr3env_create(&none, "pong", 1), DR3_ERR_INVALID_ARG);
}

/* The MinAtar games behind the common interface: the planes as floats, equal to the game's
 * own uint8 observation for the same seed and actions; names and sizes. */
static void test_minatar_through_dr3env(void **state) {
    (void)state;
    static const char *const games[] = {"breakout", "freeway", "asterix", "space_invaders",
                                        "seaquest"};
    for (size_t g = 0; g < 5; g++) {
        char name[64];
        snprintf(name, sizeof name, "minatar-%s", games[g]);
        dr3env *e = NULL;
        dr3mt *m = NULL;
        assert_int_equal(dr3env_create(&e, name, 9), DR3_OK);
        assert_int_equal(dr3mt_create(&m, games[g], 9, NULL), DR3_OK);
        assert_string_equal(dr3env_name(e), name);
        assert_int_equal(dr3env_obs_dim(e), dr3mt_num_channels(m) * 100);
        assert_int_equal(dr3env_num_actions(e), dr3mt_num_actions(m));
        float obs[DR3ENV_MAX_OBS];
        uint8_t frame[DR3MT_MAX_CHANNELS * 100];
        assert_int_equal(dr3env_reset(e, obs), DR3_OK);
        assert_int_equal(dr3mt_reset(m, frame), DR3_OK);
        for (int t = 0; t < 200; t++) {
            for (size_t i = 0; i < dr3env_obs_dim(e); i++)
                assert_true(obs[i] == (float)frame[i]);
            int a = t % (int)dr3env_num_actions(e);
            float r1, r2;
            int term1, trunc1, term2;
            assert_int_equal(dr3env_step(e, a, obs, &r1, &term1, &trunc1), DR3_OK);
            assert_int_equal(dr3mt_step(m, a, frame, &r2, &term2), DR3_OK);
            assert_true(r1 == r2);
            assert_int_equal(term1, term2);
            assert_int_equal(trunc1, 0);
            if (term1) break;
        }
        dr3env_free(e);
        dr3mt_free(m);
    }
    dr3env *e = (dr3env *)1;
    assert_int_equal(dr3env_create(&e, "minatar-pong", 1), DR3_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cartpole_dynamics),
        cmocka_unit_test(test_cartpole_time_limit),
        cmocka_unit_test(test_mountaincar),
        cmocka_unit_test(test_gridworld_and_policy),
        cmocka_unit_test(test_policy_sampling_frequencies),
        cmocka_unit_test(test_collector),
        cmocka_unit_test(test_minatar_through_dr3env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
