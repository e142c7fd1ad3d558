/* Whole learner steps on a convolutional Q-network against PyTorch, for every head type:
 * one head at batch 1 and 33, REM with the mixing weights injected through
 * dr3_learner_set_head_weights, and the mean and min ensembles — DQN (max backup from a
 * separate target) + DR3, with and without discrete CQL, one Adam step. Checked: the loss
 * parts, the combined metrics, the per-head diagnostics (dr3_learner_head_stats), the
 * gradient and the parameters after Adam. Fixtures: tests/reference/gen_rem_fixtures.py.
 * Also the argument checks of the two experimental calls. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include "data/reference/rem_fixtures.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { REM_S = REM_C * REM_H * REM_W };

/* Conv2d(2, 4, 3, s2, p1), ReLU, Flatten, Linear(64, 16), ReLU, Linear(16, K·A). */
static dr3_learner *make_learner(size_t n, size_t heads, float cql_alpha, uint64_t seed) {
    dr3_layer cv = DR3_LAYER_INIT, fc = DR3_LAYER_INIT;
    cv.kind = DR3_LAYER_CONV2D;
    cv.units = 4;
    cv.kernel_h = cv.kernel_w = 3;
    cv.stride = 2;
    cv.padding = 1;
    fc.units = 16;
    const dr3_layer *layers[] = {&cv, &fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = REM_C;
    d.in_height = REM_H;
    d.in_width = REM_W;
    d.num_layers = 2;
    d.layers = layers;
    d.action_dim = REM_A;
    d.num_heads = heads;
    dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
    adam.lr = REM_LR;
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT,
                            cql = DR3_REGULARIZER_OPTIONS_INIT;
    dr3.coef = REM_C0;
    cql.kind = DR3_REG_CQL;
    cql.coef = cql_alpha;
    const dr3_regularizer_options *regs[] = {&dr3, &cql};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT; /* max backup, Huber 1 */
    o.gamma = REM_GAMMA;
    o.batch_size = n;
    o.optim = &adam;
    o.regularizers = regs;
    o.num_regularizers = cql_alpha > 0 ? 2 : 1;
    o.seed = seed;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create_desc(&l, &o, &d), DR3_OK);
    return l;
}

static dr3_batch case_batch(const rem_case *c) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = c->n;
    b.obs = c->obs;
    b.ld_obs = REM_S;
    b.next_obs = c->next;
    b.ld_next_obs = REM_S;
    b.actions = c->actions;
    b.rewards = c->rewards;
    b.terminals = c->terminals;
    return b;
}

/* Worst |got − want| / (rtol·|want| + atol·max|want|) over an array (≤ 1 passes). */
static double worst(const float *got, const float *want, size_t len, double rtol, double atol) {
    double scale = 0, w = 0;
    for (size_t i = 0; i < len; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < len; i++) {
        double tol = rtol * fabs(want[i]) + atol * scale + 1e-30;
        w = fmax(w, fabs((double)got[i] - want[i]) / tol);
    }
    return w;
}

static double scalar(float got, float want, double rtol, double atol) {
    return fabs((double)got - want) / (rtol * fabs(want) + atol);
}

/* Tolerances: float32 arithmetic in a different order than PyTorch's (BLIS vs oneDNN/MKL
 * sums over up to 2·33 rows), so a few hundred ulps of the largest value of an array at
 * most; the fraction of the tolerance used is printed per case. */
#define RTOL 1e-4
#define ATOL 1e-5

static void test_steps_against_pytorch(void **state) {
    (void)state;
    for (size_t ci = 0; ci < REM_NUM_CASES; ci++) {
        const rem_case *c = &REM_CASES[ci];
        dr3_learner *l = make_learner(c->n, c->heads, c->cql_alpha, 7);
        assert_int_equal(dr3_learner_set_heads_mode(l, (dr3_heads_mode)c->mode), DR3_OK);
        if (c->mode == DR3_HEADS_REM)
            assert_int_equal(dr3_learner_set_head_weights(l, c->alpha, c->heads), DR3_OK);
        dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
        assert_int_equal(dr3_net_param_count(on), c->params);
        memcpy(dr3_net_params(on), c->online, c->params * sizeof(float));
        memcpy(dr3_net_params(tg), c->target, c->params * sizeof(float));
        dr3_batch b = case_batch(c);
        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);
        float r_dr3 = 0, r_cql = 0, w[8], hq[8], htd[8], dis = -1;
        assert_int_equal(dr3_learner_reg_loss(&r_dr3, l, 0), DR3_OK);
        if (c->cql_alpha > 0) assert_int_equal(dr3_learner_reg_loss(&r_cql, l, 1), DR3_OK);
        assert_int_equal(dr3_learner_head_weights(w, c->heads, l), DR3_OK);
        assert_int_equal(dr3_learner_head_stats(l, c->heads, hq, htd, &dis), DR3_OK);
        double e = 0;
        e = fmax(e, scalar(m.td_loss, c->td, RTOL, ATOL));
        e = fmax(e, scalar(r_dr3, c->dr3, RTOL, ATOL));
        e = fmax(e, scalar(r_cql, c->cql, RTOL, ATOL));
        e = fmax(e, scalar(m.loss, c->loss, RTOL, ATOL));
        e = fmax(e, scalar(m.mean_q, c->mean_q, RTOL, ATOL));
        e = fmax(e, scalar(m.mean_target, c->mean_target, RTOL, ATOL));
        e = fmax(e, scalar(dis, c->disagreement, RTOL, ATOL));
        e = fmax(e, worst(w, c->alpha, c->heads, 1e-6, 1e-7)); /* the weights used */
        e = fmax(e, worst(hq, c->head_mean_q, c->heads, RTOL, ATOL));
        e = fmax(e, worst(htd, c->head_td, c->heads, RTOL, ATOL));
        double eg = worst(dr3_net_grads(on), c->grads, c->params, RTOL, ATOL);
        double ep = worst(dr3_net_params(on), c->after, c->params, RTOL, ATOL);
        printf("  %-18s n %2zu K %zu: losses/metrics %.3f, gradient %.3f, parameters %.3f of "
               "the tolerance\n",
               c->name, c->n, c->heads, e, eg, ep);
        if (!(e <= 1 && eg <= 1 && ep <= 1)) fail_msg("case %s differs from PyTorch", c->name);
        dr3_learner_free(l);
    }
}

/* The same REM case with random weights differs from the injected one, and clearing the
 * injection brings random convex weights back; injected weights draw nothing from the
 * generator (two learners with the same seed, one with fixed weights for a step, then draw
 * the same weights). */
static void test_fixed_weights(void **state) {
    (void)state;
    const rem_case *c = NULL;
    for (size_t ci = 0; ci < REM_NUM_CASES; ci++)
        if (REM_CASES[ci].mode == DR3_HEADS_REM && REM_CASES[ci].heads == 4) c = &REM_CASES[ci];
    assert_non_null(c);
    const size_t K = c->heads;
    dr3_learner *a = make_learner(c->n, K, c->cql_alpha, 3),
                *b = make_learner(c->n, K, c->cql_alpha, 3);
    dr3_batch bt = case_batch(c);
    float wa[4], wb[4], wfix[4] = {0.25f, 0.5f, 0.0f, 0.25f};
    assert_int_equal(dr3_learner_set_head_weights(a, wfix, K), DR3_OK);
    assert_int_equal(dr3_learner_step(a, &bt, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(wa, K, a), DR3_OK);
    assert_memory_equal(wa, wfix, sizeof wfix);
    assert_int_equal(dr3_learner_set_head_weights(a, NULL, 0), DR3_OK);
    assert_int_equal(dr3_learner_step(a, &bt, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step(b, &bt, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(wa, K, a), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(wb, K, b), DR3_OK);
    assert_memory_equal(wa, wb, sizeof wa); /* the fixed step drew nothing */
    double sum = 0;
    for (size_t k = 0; k < K; k++) {
        assert_true(wa[k] > 0);
        sum += wa[k];
    }
    TU_ASSERT_CLOSE(sum, 1.0, 1e-6, 0);
    /* ensembles ignore injected weights */
    assert_int_equal(dr3_learner_set_heads_mode(a, DR3_HEADS_MEAN), DR3_OK);
    assert_int_equal(dr3_learner_set_head_weights(a, wfix, K), DR3_OK);
    assert_int_equal(dr3_learner_step(a, &bt, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(wa, K, a), DR3_OK);
    for (size_t k = 0; k < K; k++) TU_ASSERT_CLOSE(wa[k], 1.0 / K, 1e-7, 0);
    dr3_learner_free(a);
    dr3_learner_free(b);
}

/* Bad calls fail with a message and change nothing. */
static void test_bad_calls(void **state) {
    (void)state;
    const rem_case *c = &REM_CASES[0];
    dr3_learner *l = make_learner(c->n, 3, 0.0f, 3);
    float w[3] = {0.2f, 0.3f, 0.5f}, hq[3];
    TU_ASSERT_FAILS(dr3_learner_head_stats(l, 3, hq, NULL, NULL), DR3_ERR_STATE);
    TU_ASSERT_FAILS(dr3_learner_set_head_weights(NULL, w, 3), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_set_head_weights(l, w, 2), DR3_ERR_SHAPE);
    float neg[3] = {-0.1f, 0.6f, 0.5f}, nan3[3] = {NAN, 0.5f, 0.5f},
          big[3] = {0.5f, 0.5f, 0.5f};
    TU_ASSERT_FAILS(dr3_learner_set_head_weights(l, neg, 3), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_learner_set_head_weights(l, nan3, 3), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_learner_set_head_weights(l, big, 3), DR3_ERR_RANGE);
    /* nothing was fixed by the failed calls: the step draws random weights */
    dr3_batch b = case_batch(c);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    float got[3];
    assert_int_equal(dr3_learner_head_weights(got, 3, l), DR3_OK);
    assert_true(memcmp(got, big, sizeof got) != 0 && memcmp(got, w, sizeof got) != 0);
    TU_ASSERT_FAILS(dr3_learner_head_stats(NULL, 3, hq, NULL, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_head_stats(l, 4, hq, NULL, NULL), DR3_ERR_SHAPE);
    assert_int_equal(dr3_learner_head_stats(l, 3, NULL, NULL, NULL), DR3_OK);
    dr3_learner_free(l);
    /* one head: its stats are the step's own */
    dr3_learner *one = make_learner(c->n, 1, 0.0f, 3);
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(one, &b, &m), DR3_OK);
    float q1, td1, dis = -1;
    assert_int_equal(dr3_learner_head_stats(one, 1, &q1, &td1, &dis), DR3_OK);
    assert_true(q1 == m.mean_q && td1 == m.td_loss && dis == 0.0f);
    float one_w = 1.0f;
    assert_int_equal(dr3_learner_set_head_weights(one, &one_w, 1), DR3_OK);
    dr3_learner_free(one);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_against_pytorch),
        cmocka_unit_test(test_fixed_weights),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
