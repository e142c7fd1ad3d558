/* The learner: exact fixed points of every backup on small MDPs (tabular Q through one-hot
 * observations), the full loss gradient by finite differences through both φ(s) and φ(s'),
 * the non-finite guard, plugins old and new, determinism. */
#include "testutil.h"

#include <dr3/learner.h>
#include <dr3/sys/backup.h>
#include <dr3/sys/regularizer.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small deterministic MDP -------------------------------------------------------- */

enum { NS = 5, NA = 2 };
static const double GAMMA = 0.8;
/* next state and reward of (s, a); state 4 is terminal when entered by action 1 from 3 */
static int mdp_next(int s, int a) { return a == 1 ? (s + 1) % NS : (s + NS - 1) % NS; }
static double mdp_reward(int s, int a) {
    return (s == 3 && a == 1) ? 1.0 : (a == 0 ? 0.1 : 0.0);
}
static int mdp_terminal(int s, int a) { return s == 3 && a == 1; }
/* the evaluated (behaviour) policy: π(1|s) depends on the state */
static double pi_of(int s, int a) {
    double p1 = 0.2 + 0.15 * s;
    return a == 1 ? p1 : 1 - p1;
}

/* Q^π (policy evaluation) or Q* (value iteration) in double precision, by iteration to
 * convergence: the independent reference. */
static void dp(int optimal, double q[NS][NA]) {
    memset(q, 0, sizeof(double) * NS * NA);
    for (int it = 0; it < 3000; it++) {
        double nq[NS][NA];
        for (int s = 0; s < NS; s++)
            for (int a = 0; a < NA; a++) {
                int s2 = mdp_next(s, a);
                double v = 0;
                if (optimal)
                    v = q[s2][0] > q[s2][1] ? q[s2][0] : q[s2][1];
                else
                    for (int b = 0; b < NA; b++) v += pi_of(s2, b) * q[s2][b];
                nq[s][a] = mdp_reward(s, a) + (mdp_terminal(s, a) ? 0 : GAMMA * v);
            }
        memcpy(q, nq, sizeof nq);
    }
}

static int policy_cb(void *payload, size_t n, const float *obs, size_t ld, float *p,
                     size_t ldp) {
    (void)payload;
    for (size_t i = 0; i < n; i++) {
        int s = 0;
        for (int k = 0; k < NS; k++)
            if (obs[i * ld + (size_t)k] > 0.5f) s = k;
        for (int a = 0; a < NA; a++) p[i * ldp + (size_t)a] = (float)pi_of(s, a);
    }
    return 0;
}

/* Every (s, a, a') with a' weighted by π(a'|s'): the batch's expected SARSA update equals
 * the expected backup's, so both have the fixed point Q^π exactly. */
enum { ROWS = NS * NA * NA };
typedef struct dataset {
    float obs[ROWS][NS], next_obs[ROWS][NS], rewards[ROWS], weights[ROWS];
    int32_t actions[ROWS], next_actions[ROWS];
    uint8_t terminals[ROWS];
} dataset;

static void make_dataset(dataset *d) {
    memset(d, 0, sizeof *d);
    int r = 0;
    for (int s = 0; s < NS; s++)
        for (int a = 0; a < NA; a++)
            for (int b = 0; b < NA; b++, r++) {
                int s2 = mdp_next(s, a);
                d->obs[r][s] = 1;
                d->next_obs[r][s2] = 1;
                d->actions[r] = a;
                d->next_actions[r] = b;
                d->rewards[r] = (float)mdp_reward(s, a);
                d->terminals[r] = (uint8_t)mdp_terminal(s, a);
                d->weights[r] = (float)pi_of(s2, b);
            }
}

static dr3_batch batch_of(dataset *d) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = ROWS;
    b.obs = &d->obs[0][0];
    b.ld_obs = NS;
    b.next_obs = &d->next_obs[0][0];
    b.ld_next_obs = NS;
    b.actions = d->actions;
    b.next_actions = d->next_actions;
    b.rewards = d->rewards;
    b.terminals = d->terminals;
    b.weights = d->weights;
    return b;
}

static dr3_learner *tabular_learner(dr3_backup_kind kind, float lr) {
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = NS;
    o.num_actions = NA;
    o.num_hidden = 0; /* Q = W s + b: with one-hot s, a table (plus a shared bias) */
    o.batch_size = ROWS;
    o.gamma = (float)GAMMA;
    o.td_kind = DR3_TD_MSE;
    o.target_update_period = 1;
    o.seed = 1;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.kind = DR3_OPTIM_SGD;
    oo.lr = lr;
    o.optim = &oo;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = kind;
    bo.policy = policy_cb;
    o.backup = &bo;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    return l;
}

static void check_fixed_point(dr3_backup_kind kind, int optimal, int steps, float lr,
                              double tol) {
    dataset d;
    make_dataset(&d);
    dr3_batch b = batch_of(&d);
    dr3_learner *l = tabular_learner(kind, lr);
    for (int t = 0; t < steps; t++) assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    double ref[NS][NA];
    dp(optimal, ref);
    float eye[NS][NS] = {{0}}, q[NS][NA];
    for (int s = 0; s < NS; s++) eye[s][s] = 1;
    assert_int_equal(dr3_learner_q_values(l, NS, &eye[0][0], NS, &q[0][0], NA), DR3_OK);
    for (int s = 0; s < NS; s++)
        for (int a = 0; a < NA; a++) TU_ASSERT_CLOSE(q[s][a], ref[s][a], 0, tol);
    dr3_learner_free(l);
}

static void test_sarsa_converges_to_q_pi(void **state) {
    (void)state;
    check_fixed_point(DR3_BACKUP_SARSA, 0, 3000, 0.5f, 2e-3);
}
static void test_expected_converges_to_q_pi(void **state) {
    (void)state;
    check_fixed_point(DR3_BACKUP_EXPECTED, 0, 3000, 0.5f, 2e-3);
}
static void test_max_converges_to_q_star(void **state) {
    (void)state;
    check_fixed_point(DR3_BACKUP_MAX, 1, 3000, 0.5f, 2e-3);
}
static void test_double_converges_to_q_star(void **state) {
    (void)state;
    check_fixed_point(DR3_BACKUP_DOUBLE, 1, 3000, 0.5f, 2e-3);
}
static void test_sampled_converges_to_q_pi(void **state) {
    (void)state;
    /* a noisy target: a small step size averages the samples */
    check_fixed_point(DR3_BACKUP_SAMPLED, 0, 8000, 0.05f, 3e-2);
}

/* ---- the full loss gradient ----------------------------------------------------------------
 */

typedef struct grad_fixture {
    float obs[8][3], next_obs[8][3], rewards[8];
    int32_t actions[8];
    uint8_t terminals[8];
} grad_fixture;

static dr3_learner *smooth_learner_backup(const dr3_regularizer_options *regs, size_t nregs,
                                          const dr3_backup_options *backup) {
    static const size_t hidden[2] = {6, 5};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = 3;
    o.num_actions = 3;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.activation = DR3_ACT_TANH; /* smooth, so central differences are exact to O(h^2) */
    o.batch_size = 8;
    o.td_kind = DR3_TD_MSE;
    o.target_update_period = 1000000;
    const dr3_regularizer_options *reg_ptrs[4] = {NULL, NULL, NULL, NULL};
    for (size_t i = 0; i < nregs && i < 4; i++) reg_ptrs[i] = &regs[i];
    o.regularizers = reg_ptrs;
    o.num_regularizers = nregs;
    o.seed = 3;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.kind = DR3_OPTIM_SGD;
    oo.lr = 0.0f; /* keep the parameters: we only read the gradient */
    o.optim = &oo;
    o.backup = backup;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    return l;
}

static dr3_learner *smooth_learner(const dr3_regularizer_options *regs, size_t nregs) {
    return smooth_learner_backup(regs, nregs, NULL);
}

static void fill_grad_fixture(grad_fixture *f, dr3_batch *b) {
    dr3_rng rng;
    dr3_rng_seed(&rng, 8);
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 3; j++) {
            f->obs[i][j] = dr3_rng_uniform(&rng) * 2 - 1;
            f->next_obs[i][j] = dr3_rng_uniform(&rng) * 2 - 1;
        }
        f->rewards[i] = dr3_rng_uniform(&rng);
        f->actions[i] = (int32_t)dr3_rng_below(&rng, 3);
        f->terminals[i] = i == 5;
    }
    *b = (dr3_batch)DR3_BATCH_INIT;
    b->n = 8;
    b->obs = &f->obs[0][0];
    b->ld_obs = 3;
    b->next_obs = &f->next_obs[0][0];
    b->ld_next_obs = 3;
    b->actions = f->actions;
    b->rewards = f->rewards;
    b->terminals = f->terminals;
}

/* Loss at the current parameters, in double via evaluate (which changes nothing). */
static double loss_at(dr3_learner *l, const dr3_batch *b) {
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_evaluate(l, b, &m), DR3_OK);
    return m.loss;
}

static void check_gradient(const dr3_regularizer_options *regs, size_t nregs) {
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    dr3_learner *l = smooth_learner(regs, nregs);
    dr3_net *net = dr3_learner_online(l);
    float *p = dr3_net_params(net);
    size_t np = dr3_net_param_count(net);
    float *fd = malloc(np * sizeof(float));
    const float h = 2e-3f;
    for (size_t k = 0; k < np; k++) {
        float save = p[k];
        p[k] = save + h;
        double up = loss_at(l, &b);
        p[k] = save - h;
        double dn = loss_at(l, &b);
        p[k] = save;
        fd[k] = (float)((up - dn) / (2 * h));
    }
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK); /* lr 0: params unchanged */
    const float *g = dr3_net_grads(net);
    double err = 0, ref = 0;
    for (size_t k = 0; k < np; k++) {
        TU_ASSERT_CLOSE(g[k], fd[k], 2e-2, 2e-4);
        err += (g[k] - fd[k]) * (g[k] - fd[k]);
        ref += fd[k] * fd[k];
    }
    assert_true(sqrt(err) <= 1e-2 * sqrt(ref) + 1e-5);
    free(fd);
    dr3_learner_free(l);
}

static void test_gradient_td_only(void **state) {
    (void)state;
    check_gradient(NULL, 0);
}

static void test_gradient_td_dr3_cql(void **state) {
    (void)state;
    dr3_regularizer_options regs[3] = {DR3_REGULARIZER_OPTIONS_INIT,
                                       DR3_REGULARIZER_OPTIONS_INIT,
                                       DR3_REGULARIZER_OPTIONS_INIT};
    regs[0].coef = 0.7f; /* DR3, large so its share of the gradient is visible */
    regs[1].kind = DR3_REG_CQL;
    regs[1].coef = 0.5f;
    regs[2].kind = DR3_REG_DR3;
    regs[2].coef = 0.2f;
    regs[2].flags = DR3_REG_ABS | DR3_REG_MASK_TERMINAL;
    check_gradient(regs, 3);
}

/* A plugin that drops DR3's gradient through φ(s'): the finite differences must disagree,
 * which shows that the learner's own DR3 gradient (checked above) flows through both. */
static int dr3_no_next(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g,
                       float *loss) {
    (void)payload;
    return dr3_feature_dot_loss(v->n, v->feature_dim, v->phi, v->ld_phi, v->phi_next,
                                v->ld_phi_next, 0.7f, loss, g->phi, NULL) == DR3_OK
               ? 0
               : 1;
}

static void test_dr3_gradient_needs_both_paths(void **state) {
    (void)state;
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    dr3_learner *l = smooth_learner(NULL, 0);
    dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
    vt.name = "dr3-no-next";
    vt.apply = dr3_no_next;
    assert_int_equal(dr3_learner_add_regularizer(l, &vt, NULL), DR3_OK);
    dr3_net *net = dr3_learner_online(l);
    float *p = dr3_net_params(net);
    size_t np = dr3_net_param_count(net);
    double *fd = malloc(np * sizeof(double));
    for (size_t k = 0; k < np; k++) {
        float save = p[k];
        p[k] = save + 2e-3f;
        double up = loss_at(l, &b);
        p[k] = save - 2e-3f;
        double dn = loss_at(l, &b);
        p[k] = save;
        fd[k] = (up - dn) / 4e-3;
    }
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    const float *g = dr3_net_grads(net);
    double err = 0, ref = 0;
    for (size_t k = 0; k < np; k++) {
        err += (g[k] - fd[k]) * (g[k] - fd[k]);
        ref += fd[k] * fd[k];
    }
    assert_true(sqrt(err) > 0.05 * sqrt(ref));
    free(fd);
    dr3_learner_free(l);
}

/* ---- guards, plugins, determinism ----------------------------------------------------------
 */

static int failing_reg(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g,
                       float *loss) {
    (void)v;
    (void)g;
    (void)loss;
    int *calls = payload;
    ++*calls;
    return *calls == 3 ? 5 : 0; /* fails on its third call only */
}

static int nan_backup(void *payload, const dr3_backup_input *in, float *values) {
    (void)payload;
    for (size_t i = 0; i < in->n; i++) values[i] = i == 2 ? NAN : 0.0f;
    return 0;
}

static int destroyed;
static void count_destroy(void *payload) {
    (void)payload;
    destroyed++;
}
static int zero_backup(void *payload, const dr3_backup_input *in, float *values) {
    (void)payload;
    memset(values, 0, in->n * sizeof(float));
    return 0;
}

static void snapshot(dr3_learner *l, float **out, size_t *np) {
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    *np = dr3_net_param_count(on);
    *out = malloc(2 * *np * sizeof(float));
    memcpy(*out, dr3_net_params(on), *np * sizeof(float));
    memcpy(*out + *np, dr3_net_params(tg), *np * sizeof(float));
}

static void test_failures_leave_learner_unchanged(void **state) {
    (void)state;
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    dr3_learner *l = smooth_learner(NULL, 0), *ref = smooth_learner(NULL, 0);
    int calls = 0;
    dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
    vt.name = "flaky";
    vt.apply = failing_reg;
    assert_int_equal(dr3_learner_add_regularizer(l, &vt, &calls), DR3_OK);
    assert_int_equal(dr3_learner_add_regularizer(ref, &vt, &(int){-1000}), DR3_OK);
    dr3_learner_set_lr(l, 0.01f);
    dr3_learner_set_lr(ref, 0.01f);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step(ref, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step(ref, &b, NULL), DR3_OK);
    float *before;
    size_t np;
    snapshot(l, &before, &np);
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_CALLBACK);
    float *after;
    snapshot(l, &after, &np);
    assert_memory_equal(before, after, 2 * np * sizeof(float));
    free(after);
    assert_int_equal(dr3_learner_step_count(l), 2);
    /* the failed step left no trace: two more steps match a learner that never failed */
    for (int t = 0; t < 2; t++) {
        assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
        assert_int_equal(dr3_learner_step(ref, &b, NULL), DR3_OK);
    }
    float *ref_params;
    snapshot(ref, &ref_params, &np);
    free(before);
    snapshot(l, &before, &np);
    assert_memory_equal(before, ref_params, 2 * np * sizeof(float));
    free(ref_params);

    /* a non-finite observation, reward or backup value is rejected the same way */
    f.obs[3][1] = NAN;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_NONFINITE);
    f.obs[3][1] = 0.5f;
    f.rewards[2] = INFINITY;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_NONFINITE);
    f.rewards[2] = 0.5f;
    dr3_backup_vtable bvt = DR3_BACKUP_VTABLE_INIT;
    bvt.name = "nan";
    bvt.next_values = nan_backup;
    assert_int_equal(dr3_learner_set_backup(l, &bvt, NULL), DR3_OK);
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_NONFINITE);
    f.actions[0] = 3;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_RANGE);
    f.actions[0] = 0;
    b.n = 9;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_INVALID_ARG);
    b.n = 0;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_INVALID_ARG);
    b.n = 8;
    TU_ASSERT_FAILS(dr3_learner_step(NULL, &b, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_step(l, NULL, NULL), DR3_ERR_INVALID_ARG);
    snapshot(l, &after, &np);
    assert_memory_equal(before, after, 2 * np * sizeof(float));
    free(after);
    free(before);
    dr3_learner_free(l);
    dr3_learner_free(ref);
}

static void test_plugin_abi(void **state) {
    (void)state;
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    dr3_learner *l = smooth_learner(NULL, 0);
    /* a 0.1 plugin (its vtable began with size_t struct_size) is refused with a message */
    struct {
        size_t struct_size;
        const char *name;
        int (*next_values)(void *, const dr3_backup_input *, float *);
        void (*destroy)(void *);
        unsigned requires_;
    } v01 = {40, "old", zero_backup, NULL, 0};
    TU_ASSERT_FAILS(
        dr3_learner_set_backup(l, (const dr3_backup_vtable *)(const void *)&v01, NULL),
        DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "rebuild"));
    dr3_backup_vtable plain = DR3_BACKUP_VTABLE_INIT;
    plain.name = "plain";
    plain.next_values = zero_backup;
    assert_int_equal(dr3_learner_set_backup(l, &plain, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    /* a destroy callback runs when the plugin is replaced and when the learner is freed */
    destroyed = 0;
    dr3_backup_vtable with_destroy = DR3_BACKUP_VTABLE_INIT;
    with_destroy.name = "d";
    with_destroy.next_values = zero_backup;
    with_destroy.destroy = count_destroy;
    assert_int_equal(dr3_learner_set_backup(l, &with_destroy, NULL), DR3_OK);
    assert_int_equal(dr3_learner_set_backup(l, &with_destroy, NULL), DR3_OK);
    assert_int_equal(destroyed, 1);
    /* invalid vtables are refused and the current backup stays */
    dr3_backup_vtable none = DR3_BACKUP_VTABLE_INIT;
    TU_ASSERT_FAILS(dr3_learner_set_backup(l, &none, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_set_backup(l, NULL, NULL), DR3_ERR_INVALID_ARG);
    assert_int_equal(destroyed, 1);
    dr3_learner_free(l);
    assert_int_equal(destroyed, 2);
    /* no fixed limit on regularizers (0.1 stopped at 8): 20 plugins, each loss reported */
    l = smooth_learner(NULL, 0);
    dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
    vt.name = "r";
    vt.apply = dr3_no_next;
    for (int i = 0; i < 20; i++)
        assert_int_equal(dr3_learner_add_regularizer(l, &vt, NULL), DR3_OK);
    assert_int_equal(dr3_learner_num_regularizers(l), 20);
    float rl = -1;
    TU_ASSERT_FAILS(dr3_learner_reg_loss(&rl, l, 0), DR3_ERR_STATE); /* no step yet */
    dr3_step_metrics sm = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(l, &b, &sm), DR3_OK);
    double sum = 0;
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(dr3_learner_reg_loss(&rl, l, i), DR3_OK);
        sum += rl;
    }
    TU_ASSERT_CLOSE(sm.loss, sm.td_loss + sum, 1e-5, 1e-6);
    TU_ASSERT_FAILS(dr3_learner_reg_loss(&rl, l, 20), DR3_ERR_RANGE);
    dr3_learner_free(l);
}

static void test_determinism_and_metrics(void **state) {
    (void)state;
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT;
    dr3_learner *a = smooth_learner(&reg, 1), *c = smooth_learner(&reg, 1);
    dr3_learner_set_lr(a, 0.01f);
    dr3_learner_set_lr(c, 0.01f);
    dr3_step_metrics ma = DR3_STEP_METRICS_INIT, mc = DR3_STEP_METRICS_INIT;
    for (int t = 0; t < 20; t++) {
        assert_int_equal(dr3_learner_step(a, &b, &ma), DR3_OK);
        assert_int_equal(dr3_learner_step(c, &b, &mc), DR3_OK);
    }
    assert_memory_equal(&ma, &mc, sizeof ma);
    size_t np = dr3_net_param_count(dr3_learner_online(a));
    assert_memory_equal(dr3_net_params(dr3_learner_online(a)),
                        dr3_net_params(dr3_learner_online(c)), np * sizeof(float));
    assert_true(ma.step == 20);
    assert_int_equal(ma.num_regularizers, 1);
    /* metrics against a direct recomputation from the features of this batch */
    float reg0 = 0;
    assert_int_equal(dr3_learner_reg_loss(&reg0, a, 0), DR3_OK);
    TU_ASSERT_CLOSE(ma.loss, ma.td_loss + reg0, 1e-5, 1e-7);
    TU_ASSERT_CLOSE(reg0, 0.1 * ma.feature_dot, 1e-4, 1e-7);
    assert_true(ma.feature_cos >= -1.0001f && ma.feature_cos <= 1.0001f);
    assert_true(ma.grad_norm > 0);
    assert_true(ma.srank == -1.0f);
    /* a metrics struct of an unknown version is refused before anything happens */
    dr3_step_metrics bad = DR3_STEP_METRICS_INIT;
    bad.version = DR3_STEP_METRICS_VERSION + 1;
    TU_ASSERT_FAILS(dr3_learner_evaluate(a, &b, &bad), DR3_ERR_VERSION);
    TU_ASSERT_FAILS(dr3_learner_step(a, &b, &bad), DR3_ERR_VERSION);
    assert_int_equal(dr3_learner_step_count(a), 20);
    dr3_learner_free(a);
    dr3_learner_free(c);
}

/* A regularizer of the user's that adds nothing: its presence makes the learner take the
 * full form of the step (online pass and backward over [s; s']), since a user term may
 * put a gradient on φ(s'). Without it the step takes the lean form (n rows). */
static int noop_reg(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g, float *loss) {
    (void)payload;
    (void)v;
    (void)g;
    *loss = 0.0f;
    return 0;
}

/* The lean form of the step equals the full one (the form every reference test checks)
 * for the built-in backups with and without online Q(s'), and asking for metrics changes
 * neither the update nor what the metrics say. */
static void test_lean_step_matches_full(void **state) {
    (void)state;
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    const dr3_backup_kind kinds[2] = {DR3_BACKUP_MAX, DR3_BACKUP_DOUBLE};
    for (int k = 0; k < 2; k++) {
        dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
        bo.kind = kinds[k];
        dr3_learner *lean = smooth_learner_backup(NULL, 0, &bo),
                    *quiet = smooth_learner_backup(NULL, 0, &bo),
                    *full = smooth_learner_backup(NULL, 0, &bo);
        dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
        vt.name = "noop";
        vt.apply = noop_reg;
        assert_int_equal(dr3_learner_add_regularizer(full, &vt, NULL), DR3_OK);
        dr3_learner *all[3] = {lean, quiet, full};
        for (int i = 0; i < 3; i++) assert_int_equal(dr3_learner_set_lr(all[i], 0.01f), DR3_OK);
        dr3_step_metrics ml = DR3_STEP_METRICS_INIT, mf = DR3_STEP_METRICS_INIT;
        for (int t = 0; t < 15; t++) {
            assert_int_equal(dr3_learner_step(lean, &b, &ml), DR3_OK);
            assert_int_equal(dr3_learner_step(quiet, &b, NULL), DR3_OK);
            assert_int_equal(dr3_learner_step(full, &b, &mf), DR3_OK);
        }
        size_t np = dr3_net_param_count(dr3_learner_online(lean));
        const float *pl = dr3_net_params(dr3_learner_online(lean)),
                    *pq = dr3_net_params(dr3_learner_online(quiet)),
                    *pf = dr3_net_params(dr3_learner_online(full));
        assert_memory_equal(pl, pq, np * sizeof(float)); /* metrics never change the update */
        for (size_t i = 0; i < np; i++) TU_ASSERT_CLOSE(pl[i], pf[i], 1e-5, 1e-7);
        TU_ASSERT_CLOSE(ml.td_loss, mf.td_loss, 1e-5, 1e-7);
        TU_ASSERT_CLOSE(ml.feature_dot, mf.feature_dot, 1e-5, 1e-7);
        TU_ASSERT_CLOSE(ml.feature_cos, mf.feature_cos, 1e-5, 1e-7);
        TU_ASSERT_CLOSE(ml.dead_fraction, mf.dead_fraction, 1e-6, 1e-7);
        assert_true(ml.feature_dot != 0.0f);
        for (int i = 0; i < 3; i++) dr3_learner_free(all[i]);
    }
}

static void test_acting(void **state) {
    (void)state;
    dr3_learner *l = smooth_learner(NULL, 0);
    float obs[40 * 3], q[40 * 3];
    dr3_rng rng;
    dr3_rng_seed(&rng, 2);
    for (int i = 0; i < 120; i++) obs[i] = dr3_rng_uniform(&rng);
    /* more rows than one chunk */
    assert_int_equal(dr3_learner_q_values(l, 40, obs, 3, q, 3), DR3_OK);
    int32_t act[40];
    assert_int_equal(dr3_learner_act(l, 40, obs, 3, 0.0f, &rng, act), DR3_OK);
    for (int i = 0; i < 40; i++) {
        int best = 0;
        for (int a = 1; a < 3; a++)
            if (q[i * 3 + a] > q[i * 3 + best]) best = a;
        assert_int_equal(act[i], best);
    }
    /* epsilon = 1: uniform actions */
    int counts[3] = {0};
    for (int rep = 0; rep < 300; rep++) {
        assert_int_equal(dr3_learner_act(l, 40, obs, 3, 1.0f, &rng, act), DR3_OK);
        for (int i = 0; i < 40; i++) counts[act[i]]++;
    }
    for (int a = 0; a < 3; a++) TU_ASSERT_CLOSE(counts[a] / 12000.0, 1.0 / 3, 0, 0.02);
    TU_ASSERT_FAILS(dr3_learner_act(l, 40, obs, 3, 1.5f, &rng, act), DR3_ERR_INVALID_ARG);
    /* a NaN or Inf anywhere is refused: in and after a whole block of 64, and in the tail */
    const size_t at[] = {0, 5, 63, 64, 100, 119};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        const float keep = obs[at[i]];
        obs[at[i]] = i % 2 ? NAN : -INFINITY;
        TU_ASSERT_FAILS(dr3_learner_q_values(l, 40, obs, 3, q, 3), DR3_ERR_NONFINITE);
        obs[at[i]] = keep;
    }
    assert_int_equal(dr3_learner_q_values(l, 40, obs, 3, q, 3), DR3_OK);
    dr3_learner_free(l);
}

static void test_create_errors(void **state) {
    (void)state;
    dr3_learner *l = (dr3_learner *)1;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_INVALID_ARG); /* zero sizes */
    assert_null(l);
    o.obs_dim = 3;
    o.num_actions = 2;
    o.batch_size = 4;
    o.gamma = 1.5f;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_INVALID_ARG);
    o.gamma = 0.9f;
    o.num_hidden = 1;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_INVALID_ARG); /* hidden NULL */
    o.num_hidden = 0;
    o.num_regularizers = 2;
    o.regularizers = NULL;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_INVALID_ARG);
    dr3_regularizer_options r_ok = DR3_REGULARIZER_OPTIONS_INIT, r_bad = r_ok;
    r_bad.version = 0; /* the second entry was never initialised */
    const dr3_regularizer_options *pair[2] = {&r_ok, &r_bad};
    o.regularizers = pair;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_VERSION);
    assert_null(l);
    o.num_regularizers = 0;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = DR3_BACKUP_EXPECTED; /* without a policy */
    o.backup = &bo;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_create(NULL, &o), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_create(&l, NULL), DR3_ERR_INVALID_ARG);
    o.version = 3;
    TU_ASSERT_FAILS(dr3_learner_create(&l, &o), DR3_ERR_VERSION);
    dr3_learner_free(NULL);
}

/* Keyed parameters (zstd's setParameter/getBounds model): bounds, names, and each value
 * reaching the step, checked against a recomputation in the test. */
static void test_params(void **state) {
    (void)state;
    grad_fixture f;
    dr3_batch b;
    fill_grad_fixture(&f, &b);
    dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT; /* DR3, c0 = 0.1 */
    dr3_learner *l = smooth_learner(&reg, 1);
    const dr3_learner_param keys[] = {
        DR3_LEARNER_LR,    DR3_LEARNER_POLYAK_TAU,  DR3_LEARNER_TARGET_PERIOD,
        DR3_LEARNER_GAMMA, DR3_LEARNER_HUBER_DELTA, DR3_LEARNER_THREADS};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        double lo, hi, v;
        assert_int_equal(dr3_learner_param_bounds(keys[k], &lo, &hi), DR3_OK);
        assert_true(lo <= hi);
        dr3_learner_param back;
        assert_int_equal(dr3_learner_param_parse(&back, dr3_learner_param_name(keys[k])),
                         DR3_OK);
        assert_int_equal(back, keys[k]);
        /* out of bounds: refused, value unchanged */
        assert_int_equal(dr3_learner_get_param(&v, l, keys[k]), DR3_OK);
        TU_ASSERT_FAILS(dr3_learner_set_param(l, keys[k], hi * 2 + 1), DR3_ERR_RANGE);
        TU_ASSERT_FAILS(dr3_learner_set_param(l, keys[k], lo - 1), DR3_ERR_RANGE);
        TU_ASSERT_FAILS(dr3_learner_set_param(l, keys[k], NAN), DR3_ERR_RANGE);
        double after;
        assert_int_equal(dr3_learner_get_param(&after, l, keys[k]), DR3_OK);
        assert_true(after == v);
    }
    double lo, hi;
    TU_ASSERT_FAILS(dr3_learner_param_bounds((dr3_learner_param)999, &lo, &hi),
                    DR3_ERR_UNSUPPORTED);
    TU_ASSERT_FAILS(dr3_learner_set_param(l, (dr3_learner_param)999, 1), DR3_ERR_UNSUPPORTED);
    assert_null(dr3_learner_param_name((dr3_learner_param)999));

    /* c0: the reported DR3 loss is c0 times the mean feature dot product */
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    float r0 = 0;
    assert_int_equal(dr3_learner_set_reg_coef(l, 0, 0.5f), DR3_OK);
    assert_int_equal(dr3_learner_evaluate(l, &b, &m), DR3_OK);
    assert_int_equal(dr3_learner_reg_loss(&r0, l, 0), DR3_OK);
    TU_ASSERT_CLOSE(r0, 0.5 * m.feature_dot, 1e-5, 1e-7);
    TU_ASSERT_FAILS(dr3_learner_set_reg_coef(l, 0, -1.0f), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_learner_set_reg_coef(l, 1, 1.0f), DR3_ERR_RANGE);

    /* gamma: the targets are r + gamma (1 - terminal) max_a Q_t(s', a), recomputed here from
     * the target network */
    assert_int_equal(dr3_learner_set_param(l, DR3_LEARNER_GAMMA, 0.5), DR3_OK);
    assert_int_equal(dr3_learner_evaluate(l, &b, &m), DR3_OK);
    float qt[8 * 3];
    assert_int_equal(
        dr3_net_forward(dr3_learner_target(l), 8, &f.next_obs[0][0], 3, NULL, 0, qt, 3, NULL),
        DR3_OK);
    double y = 0;
    for (int i = 0; i < 8; i++) {
        double mx = fmax(qt[3 * i], fmax(qt[3 * i + 1], qt[3 * i + 2]));
        y += f.rewards[i] + (f.terminals[i] ? 0.0 : 0.5 * mx);
    }
    TU_ASSERT_CLOSE(m.mean_target, y / 8, 1e-5, 1e-6);

    /* tau: after one step the target is (1 - tau) target + tau online */
    assert_int_equal(dr3_learner_set_param(l, DR3_LEARNER_LR, 0.05), DR3_OK);
    double lr;
    assert_int_equal(dr3_learner_get_param(&lr, l, DR3_LEARNER_LR), DR3_OK);
    TU_ASSERT_CLOSE(lr, 0.05, 1e-7, 0);
    assert_int_equal(dr3_learner_set_param(l, DR3_LEARNER_POLYAK_TAU, 0.25), DR3_OK);
    size_t np = dr3_net_param_count(dr3_learner_online(l));
    float *before = malloc(np * sizeof(float));
    memcpy(before, dr3_net_params(dr3_learner_target(l)), np * sizeof(float));
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    const float *on = dr3_net_params(dr3_learner_online(l));
    const float *tg = dr3_net_params(dr3_learner_target(l));
    for (size_t k = 0; k < np; k++)
        TU_ASSERT_CLOSE(tg[k], 0.75 * before[k] + 0.25 * on[k], 1e-6, 1e-7);
    free(before);
    assert_int_equal(dr3_learner_set_param(l, DR3_LEARNER_THREADS, 2), DR3_OK);
    double th;
    assert_int_equal(dr3_learner_get_param(&th, l, DR3_LEARNER_THREADS), DR3_OK);
    assert_true(th == 2);
    TU_ASSERT_FAILS(dr3_learner_set_param(l, DR3_LEARNER_THREADS, 1.5), DR3_ERR_RANGE);
    dr3_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sarsa_converges_to_q_pi),
        cmocka_unit_test(test_expected_converges_to_q_pi),
        cmocka_unit_test(test_max_converges_to_q_star),
        cmocka_unit_test(test_double_converges_to_q_star),
        cmocka_unit_test(test_sampled_converges_to_q_pi),
        cmocka_unit_test(test_gradient_td_only),
        cmocka_unit_test(test_gradient_td_dr3_cql),
        cmocka_unit_test(test_dr3_gradient_needs_both_paths),
        cmocka_unit_test(test_failures_leave_learner_unchanged),
        cmocka_unit_test(test_plugin_abi),
        cmocka_unit_test(test_determinism_and_metrics),
        cmocka_unit_test(test_lean_step_matches_full),
        cmocka_unit_test(test_acting),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
