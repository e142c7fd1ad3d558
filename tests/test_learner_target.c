/* The learner's target network: Polyak averaging and hard copies follow the online
 * parameters read after each step (target_k = (1 − τ) target_{k−1} + τ online_k, computed
 * here in double; a hard copy every 3 steps equals online_3, online_6 and holds between), and
 * the TD target of a step uses the target network as it was before that step's update (a
 * linear Q-network with weights set by hand, y worked out on paper). */
#include "testutil.h"

#include <dr3/learner.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { S = 3, NA = 3, BN = 8 };

typedef struct batch_data {
    float obs[BN][S], next_obs[BN][S], rewards[BN];
    int32_t actions[BN];
    uint8_t terminals[BN];
} batch_data;

static dr3_batch make_batch(batch_data *d, uint64_t seed) {
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    for (int i = 0; i < BN; i++) {
        for (int j = 0; j < S; j++) {
            d->obs[i][j] = 2 * dr3_rng_uniform(&rng) - 1;
            d->next_obs[i][j] = 2 * dr3_rng_uniform(&rng) - 1;
        }
        d->rewards[i] = dr3_rng_uniform(&rng);
        d->actions[i] = (int32_t)dr3_rng_below(&rng, NA);
        d->terminals[i] = i == 3;
    }
    dr3_batch b = DR3_BATCH_INIT;
    b.n = BN;
    b.obs = &d->obs[0][0];
    b.ld_obs = S;
    b.next_obs = &d->next_obs[0][0];
    b.ld_next_obs = S;
    b.actions = d->actions;
    b.rewards = d->rewards;
    b.terminals = d->terminals;
    return b;
}

static dr3_learner *make_learner(float tau, size_t period, uint64_t seed) {
    static const size_t hidden[2] = {6, 5};
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = 0.01f; /* Adam: every parameter moves by about lr per step */
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = NA;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.activation = DR3_ACT_TANH;
    o.batch_size = BN;
    o.polyak_tau = tau;
    o.target_update_period = period;
    o.optim = &oo;
    o.seed = seed;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    /* the target starts as a copy of the online network */
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    assert_int_equal(dr3_net_param_count(tg), dr3_net_param_count(on));
    assert_memory_equal(dr3_net_params(tg), dr3_net_params(on),
                        dr3_net_param_count(on) * sizeof(float));
    return l;
}

/* Largest |a_k - b_k|: how far the parameters moved in one step. */
static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t k = 0; k < n; k++) {
        double x = fabs((double)a[k] - b[k]);
        m = x > m ? x : m;
    }
    return m;
}

/* Polyak averaging with τ = 0.1 (and τ = 1, a copy every step), from a target that differs
 * from the online network. */
static void check_polyak(float tau, int distinct_start) {
    batch_data d;
    dr3_batch b = make_batch(&d, 41);
    dr3_learner *l = make_learner(tau, 1000, 5);
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    const size_t np = dr3_net_param_count(on);
    if (distinct_start) assert_int_equal(dr3_net_reset_params(tg, 77), DR3_OK);
    double *ref = malloc(np * sizeof(double));
    float *prev = malloc(np * sizeof(float));
    for (size_t k = 0; k < np; k++) ref[k] = dr3_net_params(tg)[k];
    for (int step = 1; step <= 8; step++) {
        memcpy(prev, dr3_net_params(on), np * sizeof(float));
        assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
        const float *online = dr3_net_params(on), *target = dr3_net_params(tg);
        /* the online parameters moved far more than the tolerance below (Adam: about lr), so
         * an update that used the online parameters from before this step would be seen */
        assert_true(max_abs_diff(online, prev, np) * tau > 5e-4);
        for (size_t k = 0; k < np; k++) {
            ref[k] = (1.0 - tau) * ref[k] + (double)tau * online[k];
            TU_ASSERT_CLOSE(target[k], ref[k], 1e-5, 1e-6);
        }
    }
    free(ref);
    free(prev);
    dr3_learner_free(l);
}

static void test_polyak_target(void **state) {
    (void)state;
    check_polyak(0.1f, 1);
    check_polyak(0.1f, 0);
    check_polyak(1.0f, 1);
}

/* A hard copy every 3 steps: the target equals the online parameters read after steps 3
 * and 6, bit for bit, and holds its value in between. */
static void test_hard_target_period(void **state) {
    (void)state;
    batch_data d;
    dr3_batch b = make_batch(&d, 42);
    dr3_learner *l = make_learner(0.0f, 3, 6);
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    const size_t np = dr3_net_param_count(on);
    assert_int_equal(dr3_net_reset_params(tg, 78), DR3_OK); /* distinct from the online net */
    float *held = malloc(np * sizeof(float)), *prev = malloc(np * sizeof(float));
    memcpy(held, dr3_net_params(tg), np * sizeof(float));
    for (int step = 1; step <= 8; step++) {
        memcpy(prev, dr3_net_params(on), np * sizeof(float));
        assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
        assert_int_equal(dr3_learner_step_count(l), step);
        const float *online = dr3_net_params(on), *target = dr3_net_params(tg);
        assert_true(max_abs_diff(online, prev, np) > 5e-3); /* online_k != online_{k-1} */
        if (step % 3 == 0) {
            assert_memory_equal(target, online, np * sizeof(float));
            memcpy(held, target, np * sizeof(float));
        } else {
            assert_memory_equal(target, held, np * sizeof(float));
        }
    }
    free(held);
    free(prev);
    dr3_learner_free(l);
}

/* ---- the TD target of a step uses the target network from before the step ------------- */

/* A linear Q-network (no hidden layer) on 2-dimensional observations with 2 actions:
 * Q(s) = W s + b, parameters [W00 W01 W10 W11 b0 b1] (dr3/net.h layout). */
static double lin_q(const float p[6], const float s[2], int a) {
    return (double)p[a * 2] * s[0] + (double)p[a * 2 + 1] * s[1] + p[4 + a];
}

static dr3_learner *linear_learner(float tau, size_t period, float lr) {
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.kind = DR3_OPTIM_SGD;
    oo.lr = lr;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = 2;
    o.num_actions = 2;
    o.num_hidden = 0;
    o.batch_size = 3;
    o.gamma = 0.9f;
    o.td_kind = DR3_TD_MSE;
    o.polyak_tau = tau;
    o.target_update_period = period;
    o.optim = &oo;
    o.seed = 1;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    assert_int_equal(dr3_net_param_count(dr3_learner_online(l)), 6);
    return l;
}

static const float OBS[3][2] = {{1, 0}, {0, 1}, {1, 1}};
static const float NEXT[3][2] = {{0, 1}, {1, -1}, {2, 0}};
static const int32_t ACT[3] = {0, 1, 1};
static const float REW[3] = {1, 0, -1};
static const uint8_t TERM[3] = {0, 0, 1};
static const float W_ONLINE[6] = {0.5f, -1, 2, 0.25f, 0.1f, -0.2f};
static const float W_TARGET[6] = {1, 2, -1, 3, 0.5f, -0.5f};

static dr3_batch hand_batch(void) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = 3;
    b.obs = &OBS[0][0];
    b.ld_obs = 2;
    b.next_obs = &NEXT[0][0];
    b.ld_next_obs = 2;
    b.actions = ACT;
    b.rewards = REW;
    b.terminals = TERM;
    return b;
}

/* mean y, MSE loss and mean Q(s, a) of the batch for given online and target parameters,
 * y_i = r_i + 0.9 (1 − terminal_i) max_a Q_target(s'_i, a). */
static void lin_reference(const float *online, const float *target, double *mean_y, double *mse,
                          double *mean_q) {
    *mean_y = *mse = *mean_q = 0;
    for (int i = 0; i < 3; i++) {
        double v0 = lin_q(target, NEXT[i], 0), v1 = lin_q(target, NEXT[i], 1);
        double y = REW[i] + (TERM[i] ? 0.0 : (double)0.9f) * (v0 > v1 ? v0 : v1);
        double q = lin_q(online, OBS[i], ACT[i]);
        *mean_y += y / 3;
        *mse += (q - y) * (q - y) / 3;
        *mean_q += q / 3;
    }
}

static void check_hand_step(float tau, size_t period) {
    dr3_learner *l = linear_learner(tau, period, 0.1f);
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    memcpy(dr3_net_params(on), W_ONLINE, sizeof W_ONLINE);
    memcpy(dr3_net_params(tg), W_TARGET, sizeof W_TARGET);
    dr3_batch b = hand_batch();

    /* By hand. Q_target(s') rows: (0,1) → (2.5, 2.5); (1,−1) → (−0.5, −4.5); (2,0) → (2.5,
     * −2.5) but terminal. y = (1 + 0.9·2.5, 0 + 0.9·(−0.5), −1) = (3.25, −0.45, −1), mean
     * 0.6. Q(s, a) = (0.5 + 0.1, 0.25 − 0.2, 2 + 0.25 − 0.2) = (0.6, 0.05, 2.05), mean 0.9.
     * Errors (−2.65, 0.5, 3.05): MSE (7.0225 + 0.25 + 9.3025) / 3 = 5.525. Had the target
     * been updated from the online network first, y would be (1.045, 1.44, −1) (period 1). */
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);
    TU_ASSERT_CLOSE(m.mean_target, 0.6, 1e-6, 1e-7);
    TU_ASSERT_CLOSE(m.mean_q, 0.9, 1e-6, 1e-7);
    TU_ASSERT_CLOSE(m.td_loss, 5.525, 1e-6, 1e-7);
    TU_ASSERT_CLOSE(m.loss, 5.525, 1e-6, 1e-7);

    /* the SGD step by hand: dL/dQ_i = 2 x_i / 3 at a_i, so W[a_i] −= lr · 2 x_i / 3 · s_i and
     * b[a_i] −= lr · 2 x_i / 3 */
    const double x[3] = {-2.65, 0.5, 3.05};
    double expect[6];
    for (int k = 0; k < 6; k++) expect[k] = W_ONLINE[k];
    for (int i = 0; i < 3; i++) {
        double g = 2 * x[i] / 3;
        expect[ACT[i] * 2] -= 0.1 * g * OBS[i][0];
        expect[ACT[i] * 2 + 1] -= 0.1 * g * OBS[i][1];
        expect[4 + ACT[i]] -= 0.1 * g;
    }
    const float *online = dr3_net_params(on), *target = dr3_net_params(tg);
    for (int k = 0; k < 6; k++) TU_ASSERT_CLOSE(online[k], expect[k], 1e-5, 1e-6);
    /* the target after step 1: τ-mix or copy (period 1) of online_1, or unchanged */
    for (int k = 0; k < 6; k++) {
        double t = tau > 0       ? (1.0 - tau) * W_TARGET[k] + (double)tau * online[k]
                   : period == 1 ? online[k]
                                 : W_TARGET[k];
        TU_ASSERT_CLOSE(target[k], t, 1e-6, 1e-7);
    }

    /* step 2 uses the target as it was after step 1, and online_1 */
    float online1[6], target1[6];
    memcpy(online1, online, sizeof online1);
    memcpy(target1, target, sizeof target1);
    double my, mse, mq;
    lin_reference(online1, target1, &my, &mse, &mq);
    assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);
    TU_ASSERT_CLOSE(m.mean_target, my, 1e-5, 1e-6);
    TU_ASSERT_CLOSE(m.td_loss, mse, 1e-5, 1e-6);
    TU_ASSERT_CLOSE(m.mean_q, mq, 1e-5, 1e-6);
    dr3_learner_free(l);
}

static void test_td_target_uses_target_before_update(void **state) {
    (void)state;
    /* the hand numbers agree with the reference function used for step 2 */
    double my, mse, mq;
    lin_reference(W_ONLINE, W_TARGET, &my, &mse, &mq);
    TU_ASSERT_CLOSE(my, 0.6, 1e-6, 1e-7);
    TU_ASSERT_CLOSE(mse, 5.525, 1e-6, 1e-7);
    TU_ASSERT_CLOSE(mq, 0.9, 1e-6, 1e-7);
    check_hand_step(0.0f, 1);  /* hard copy after every step */
    check_hand_step(0.5f, 1);  /* Polyak */
    check_hand_step(0.0f, 50); /* no update in these two steps */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_polyak_target),
        cmocka_unit_test(test_hard_target_period),
        cmocka_unit_test(test_td_target_uses_target_before_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
