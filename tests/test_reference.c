/* libdr3 against PyTorch: committed fixtures made by tests/reference/gen_fixtures.py with
 * torch 1.13 (float32, one thread), see tests/reference/README.md.
 *
 * - networks: forward outputs, features φ, parameter and input gradients of
 *   L = Σ c_out·out + Σ c_phi·φ, for every activation, both heads, 0-3 hidden layers;
 * - optimizers: five steps of torch.optim Adam/AdamW/SGD/RMSprop (with weight decay,
 *   momentum, dampening, Nesterov, centered, clip_grad_norm_, a learning-rate change);
 * - one learner step (DQN max backup + Huber TD + DR3 + CQL, Adam) written in PyTorch.
 *
 * Tolerances. Both sides compute in float32 from bitwise-identical inputs, so the only
 * differences are rounding: the order of the sums inside a dot product (BLIS vs MKL/oneDNN
 * kernels), fused multiply-adds, and where a constant is rounded (e.g. Adam's lr/(1 − β1^t):
 * a double in torch, a float here). Each float op contributes at most 2^-24 ≈ 6e-8 relative;
 * a dot product of length k has a rounding-error bound of about k·2^-24 relative to Σ|x_i y_i|,
 * which is what matters when the result nearly cancels. The largest sums here have k ≤ 16
 * (×2 for the stacked backward), so we allow rtol 2e-5 with atol 2e-6 on O(1) quantities
 * (≈30× the ~1e-6 relative error expected, and still ~1e4× smaller than any real bug such as a
 * transposed weight, a missing bias or a wrong activation slope, which changes values at the
 * 1e-2..1 level). The measured worst errors are printed by each test. Optimizer trajectories
 * go through division by √v + ε (Adam) and small-magnitude square roots (RMSprop), which
 * amplify a 1-ulp difference in v by at most ~1/2 in relative terms; 5 steps keep the
 * accumulated error below 1e-6 relative, well inside rtol 1e-5 / atol 1e-6. */
#include "testutil.h"

#include <dr3/learner.h>
#include <dr3/net.h>
#include <dr3/optim.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/reference/learner_step_fixture.h"
#include "data/reference/net_fixtures.h"
#include "data/reference/optim_fixtures.h"

#define NET_RTOL  2e-5
#define NET_ATOL  2e-6
#define OPT_RTOL  1e-5
#define OPT_ATOL  1e-6
#define STEP_RTOL 2e-5
#define STEP_ATOL 2e-6

/* Compares n floats, failing with the first index outside |a − b| <= atol + rtol·|b|;
 * returns the worst |a − b| / (atol + rtol·|b|) (<= 1 when everything passed). */
static double compare(const char *what, const char *name, const float *got, const float *want,
                      size_t n, double rtol, double atol) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double a = got[i], b = want[i], tol = atol + rtol * fabs(b);
        if (!(fabs(a - b) <= tol))
            fail_msg("%s %s[%zu]: libdr3 %.9g, PyTorch %.9g (|diff| %.3g > tol %.3g)", name,
                     what, i, a, b, fabs(a - b), tol);
        if (fabs(a - b) / tol > worst) worst = fabs(a - b) / tol;
    }
    return worst;
}

/* ---- networks -------------------------------------------------------------------------- */

/* Copies an n×d matrix into rows of stride ld (NaN padding, so stride bugs show). */
static float *strided_copy(const float *x, size_t n, size_t d, size_t ld) {
    float *y = tu_alloc_nan(n * ld);
    for (size_t i = 0; i < n; i++) memcpy(y + i * ld, x + i * d, d * sizeof(float));
    return y;
}

static void run_net_case(const ref_net_case *c) {
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = c->obs_dim;
    o.action_dim = c->action_dim;
    o.num_hidden = c->num_hidden;
    o.hidden = c->hidden;
    o.activation = (dr3_activation)c->activation;
    o.activation_param = c->activation_param;
    o.head = (dr3_head_kind)c->head;
    o.max_batch = c->n + 2;
    o.seed = 99;
    dr3_net *net = NULL;
    assert_int_equal(dr3_net_create(&net, &o), DR3_OK);
    assert_int_equal(dr3_net_param_count(net), c->param_count);
    assert_int_equal(dr3_net_output_dim(net), c->out_dim);
    assert_int_equal(dr3_net_feature_dim(net), c->feature_dim);
    memcpy(dr3_net_params(net), c->params, c->param_count * sizeof(float));

    const size_t n = c->n, S = c->obs_dim, Ad = c->action_dim, O = c->out_dim;
    const size_t D = c->feature_dim, I = c->in_dim;
    const bool critic = c->head == DR3_HEAD_CRITIC;
    /* strided inputs and outputs */
    const size_t ld_obs = S + 2, ld_act = Ad + 1, ld_out = O + 3, ld_gin = I + 1;
    float *obs = strided_copy(c->obs, n, S, ld_obs);
    float *act = critic ? strided_copy(c->action, n, Ad, ld_act) : NULL;
    float *out = tu_alloc_nan(n * ld_out);
    float *c_out = strided_copy(c->c_out, n, O, O + 1);
    float *c_phi = strided_copy(c->c_phi, n, D, D + 2);
    float *gin = tu_alloc_nan(n * ld_gin);
    const float *phi = NULL;
    assert_int_equal(dr3_net_forward(net, n, obs, ld_obs, act, ld_act, out, ld_out, &phi),
                     DR3_OK);
    assert_true(tu_padding_untouched(out, n, O, ld_out));
    double w = 0, x;
    float *packed = malloc(n * (O > D ? (O > I ? O : I) : (D > I ? D : I)) * sizeof(float));
    assert_non_null(packed);
    for (size_t i = 0; i < n; i++) memcpy(packed + i * O, out + i * ld_out, O * sizeof(float));
    x = compare("out", c->name, packed, c->out, n * O, NET_RTOL, NET_ATOL);
    w = x > w ? x : w;
    x = compare("phi", c->name, phi, c->phi, n * D, NET_RTOL, NET_ATOL);
    w = x > w ? x : w;
    assert_int_equal(dr3_net_backward(net, n, c_out, O + 1, c_phi, D + 2, gin, ld_gin, 0),
                     DR3_OK);
    assert_true(tu_padding_untouched(gin, n, I, ld_gin));
    x = compare("grad_params", c->name, dr3_net_grads(net), c->grad_params, c->param_count,
                NET_RTOL, NET_ATOL);
    w = x > w ? x : w;
    for (size_t i = 0; i < n; i++) memcpy(packed + i * I, gin + i * ld_gin, I * sizeof(float));
    x = compare("grad_input", c->name, packed, c->grad_input, n * I, NET_RTOL, NET_ATOL);
    w = x > w ? x : w;
    printf("  %-22s worst |diff|/tol = %.3f\n", c->name, w);
    free(packed);
    free(obs);
    free(act);
    free(out);
    free(c_out);
    free(c_phi);
    free(gin);
    dr3_net_free(net);
}

static void test_net_against_torch(void **state) {
    (void)state;
    assert_true(REF_NET_NUM_CASES >= 12);
    for (size_t k = 0; k < REF_NET_NUM_CASES; k++) run_net_case(&REF_NET_CASES[k]);
}

/* ---- optimizers ------------------------------------------------------------------------ */

static void test_optim_against_torch(void **state) {
    (void)state;
    for (size_t k = 0; k < REF_OPT_NUM_CASES; k++) {
        const ref_opt_case *c = &REF_OPT_CASES[k];
        dr3_optim_options o = DR3_OPTIM_OPTIONS_INIT;
        o.kind = (dr3_optim_kind)c->kind;
        o.lr = c->lr[0];
        o.beta1 = c->beta1;
        o.beta2 = c->beta2;
        o.eps = c->eps;
        o.weight_decay = c->weight_decay;
        o.momentum = c->momentum;
        o.dampening = c->dampening;
        o.nesterov = c->nesterov;
        o.alpha = c->alpha;
        o.centered = c->centered;
        o.max_grad_norm = c->clip;
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, REF_OPT_P, &o), DR3_OK);
        float p[REF_OPT_P], g[REF_OPT_P];
        memcpy(p, opt_p0, sizeof p);
        double w = 0;
        for (int t = 0; t < REF_OPT_STEPS; t++) {
            assert_int_equal(dr3_optim_set_lr(opt, c->lr[t]), DR3_OK);
            memcpy(g, opt_grads + t * REF_OPT_P, sizeof g);
            float norm = -1;
            assert_int_equal(dr3_optim_step(opt, p, g, REF_OPT_P, &norm), DR3_OK);
            TU_ASSERT_CLOSE(norm, c->grad_norm[t], 1e-6, 0);
            char what[32];
            snprintf(what, sizeof what, "params after step %d", t + 1);
            double x = compare(what, c->name, p, c->params + t * REF_OPT_P, REF_OPT_P, OPT_RTOL,
                               OPT_ATOL);
            w = x > w ? x : w;
        }
        assert_int_equal(dr3_optim_step_count(opt), REF_OPT_STEPS);
        printf("  %-28s worst |diff|/tol = %.3f\n", c->name, w);
        dr3_optim_free(opt);
    }
}

/* ---- one learner step ------------------------------------------------------------------ */

static void test_learner_step_against_torch(void **state) {
    (void)state;
    const size_t hidden[2] = {REF_LS_HIDDEN, REF_LS_HIDDEN};
    dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
    adam.lr = ls_lr;
    dr3_regularizer_options regs[2] = {DR3_REGULARIZER_OPTIONS_INIT,
                                       DR3_REGULARIZER_OPTIONS_INIT};
    regs[0].kind = DR3_REG_DR3;
    regs[0].coef = ls_dr3_c0;
    regs[1].kind = DR3_REG_CQL;
    regs[1].coef = ls_cql_alpha;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = REF_LS_OBS;
    o.num_actions = REF_LS_ACTIONS;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.activation = DR3_ACT_RELU;
    o.batch_size = REF_LS_N;
    o.gamma = ls_gamma;
    o.td_kind = DR3_TD_HUBER;
    o.huber_delta = ls_huber_delta;
    o.optim = &adam;
    const dr3_regularizer_options *reg_ptrs[2] = {&regs[0], &regs[1]};
    o.regularizers = reg_ptrs;
    o.num_regularizers = 2;
    o.seed = 5;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    assert_int_equal(dr3_net_param_count(on), REF_LS_PARAMS);
    memcpy(dr3_net_params(on), ls_online_params, sizeof ls_online_params);
    memcpy(dr3_net_params(tg), ls_target_params, sizeof ls_target_params);

    dr3_batch b = DR3_BATCH_INIT;
    b.n = REF_LS_N;
    b.obs = ls_obs;
    b.ld_obs = REF_LS_OBS;
    b.actions = ls_actions;
    b.rewards = ls_rewards;
    b.next_obs = ls_next_obs;
    b.ld_next_obs = REF_LS_OBS;
    b.terminals = ls_terminals;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);

    assert_int_equal(m.step, 1);
    assert_int_equal(m.num_regularizers, 2);
    TU_ASSERT_CLOSE(m.td_loss, ls_td_loss, STEP_RTOL, STEP_ATOL);
    float reg_dr3 = 0, reg_cql = 0;
    assert_int_equal(dr3_learner_reg_loss(&reg_dr3, l, 0), DR3_OK);
    assert_int_equal(dr3_learner_reg_loss(&reg_cql, l, 1), DR3_OK);
    TU_ASSERT_CLOSE(reg_dr3, ls_dr3_loss, STEP_RTOL, STEP_ATOL);
    TU_ASSERT_CLOSE(reg_cql, ls_cql_loss, STEP_RTOL, STEP_ATOL);
    TU_ASSERT_CLOSE(m.loss, ls_loss, STEP_RTOL, STEP_ATOL);
    TU_ASSERT_CLOSE(m.mean_q, ls_mean_q, STEP_RTOL, STEP_ATOL);
    TU_ASSERT_CLOSE(m.mean_target, ls_mean_target, STEP_RTOL, STEP_ATOL);
    TU_ASSERT_CLOSE(m.feature_dot, ls_feature_dot, STEP_RTOL, STEP_ATOL);
    TU_ASSERT_CLOSE(m.grad_norm, ls_grad_norm, STEP_RTOL, STEP_ATOL);
    /* the gradient the optimizer used (no clipping configured, so the net's gradient vector
     * still holds it), then the parameters after Adam's first step */
    double w1 = compare("grads", "learner_step", dr3_net_grads(on), ls_grads, REF_LS_PARAMS,
                        STEP_RTOL, STEP_ATOL);
    double w2 = compare("params_after", "learner_step", dr3_net_params(on), ls_params_after,
                        REF_LS_PARAMS, STEP_RTOL, STEP_ATOL);
    printf("  learner step: worst |diff|/tol grads %.3f, params %.3f\n", w1, w2);
    /* the target net is only copied every target_update_period (1000) steps */
    assert_memory_equal(dr3_net_params(tg), ls_target_params, sizeof ls_target_params);
    dr3_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_against_torch),
        cmocka_unit_test(test_optim_against_torch),
        cmocka_unit_test(test_learner_step_against_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
