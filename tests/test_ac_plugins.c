/* Plugins of the actor-critic learner (dr3/sys/continuous.h): a user regularizer that
 * re-implements DR3 gives the built-in DR3's step; a user backup that re-implements the
 * built-in one gives the same bits, and a mean-of-critics backup gives the targets computed
 * here from the target critics; failing or non-finite plugins abort the step with nothing
 * changed; destroy is called; bad vtables are refused. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <dr3/sys/continuous.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { D = 3, A = 2, NB = 12 };
static const size_t HID[2] = {10, 8};

static dr3_ac_learner *make(dr3_ac_algo algo, float c0) {
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = algo;
    o.obs_dim = D;
    o.action_dim = A;
    o.critic_num_hidden = 2;
    o.critic_hidden = HID;
    o.actor_num_hidden = 2;
    o.actor_hidden = HID;
    o.batch_size = NB;
    o.dr3_coef = c0;
    o.seed = 3;
    dr3_ac_learner *l = NULL;
    if (dr3_ac_learner_create(&l, &o) != DR3_OK) fail_msg("create: %s", dr3_last_error());
    return l;
}

static float obs[NB * D], act[NB * A], rew[NB], nobs[NB * D], nact[NB * A], eps[2][NB * A];

static dr3_ac_batch batch(void) {
    dr3_rng r;
    dr3_rng_seed(&r, 17);
    for (int i = 0; i < NB * D; i++) obs[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (int i = 0; i < NB * D; i++) nobs[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (int i = 0; i < NB * A; i++) act[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (int i = 0; i < NB * A; i++) nact[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (int i = 0; i < NB; i++) rew[i] = dr3_rng_uniform(&r);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NB * A; i++) eps[k][i] = (float)dr3_rng_normal(&r);
    dr3_ac_batch b = DR3_AC_BATCH_INIT;
    b.n = NB;
    b.obs = obs;
    b.ld_obs = D;
    b.actions = act;
    b.ld_actions = A;
    b.rewards = rew;
    b.next_obs = nobs;
    b.ld_next_obs = D;
    b.next_actions = nact;
    b.ld_next_actions = A;
    b.eps_next = eps[0];
    b.eps_actor = eps[1];
    return b;
}

/* ---- plugins ------------------------------------------------------------------------------
 */

/* DR3 written as a user regularizer: c·mean φ·φ′, gradients into both. */
static int my_dr3(void *payload, const dr3_ac_reg_view *v, float *loss,
                  const dr3_ac_reg_grads *g) {
    const float c = *(const float *)payload;
    double s = 0;
    for (size_t i = 0; i < v->n; i++)
        for (size_t k = 0; k < v->feature_dim; k++) {
            size_t at = i * v->feature_dim + k;
            s += (double)v->phi[at] * v->phi_next[at];
            g->phi[at] += c * v->phi_next[at] / (float)v->n;
            g->phi_next[at] += c * v->phi[at] / (float)v->n;
        }
    *loss = (float)(c * s / (double)v->n);
    return 0;
}

/* The built-in backup written as a plugin: min_j Q̄_j − α log π. */
static int my_min(void *payload, const dr3_ac_backup_input *in, float *values) {
    (void)payload;
    for (size_t i = 0; i < in->n; i++) {
        float v = in->target_q[i];
        if (in->num_critics == 2 && in->target_q[in->n + i] < v) v = in->target_q[in->n + i];
        values[i] = v - in->alpha * in->next_log_prob[i];
    }
    return 0;
}

static int my_mean(void *payload, const dr3_ac_backup_input *in, float *values) {
    (void)payload;
    for (size_t i = 0; i < in->n; i++)
        values[i] = 0.5f * (in->target_q[i] + in->target_q[in->n + i]);
    return 0;
}

static int my_fail(void *payload, const dr3_ac_backup_input *in, float *values) {
    (void)payload;
    (void)in;
    (void)values;
    dr3_error_set(DR3_ERR_CALLBACK, "the plugin's own reason");
    return 1;
}

static int my_nan(void *payload, const dr3_ac_backup_input *in, float *values) {
    (void)payload;
    for (size_t i = 0; i < in->n; i++) values[i] = NAN;
    return 0;
}

static int reg_fail(void *payload, const dr3_ac_reg_view *v, float *loss,
                    const dr3_ac_reg_grads *g) {
    (void)payload;
    (void)v;
    (void)g;
    *loss = 0;
    dr3_error_set(DR3_ERR_CALLBACK, "regularizer says no");
    return 1;
}

static void count_destroy(void *payload) { (*(int *)payload)++; }

static void params_close(dr3_net *a, dr3_net *b, double tol) {
    size_t n = dr3_net_param_count(a);
    assert_int_equal(n, dr3_net_param_count(b));
    const float *x = dr3_net_params(a), *y = dr3_net_params(b);
    for (size_t i = 0; i < n; i++) TU_ASSERT_CLOSE(x[i], y[i], tol, tol);
}

static void test_regularizer_plugin_equals_builtin_dr3(void **state) {
    (void)state;
    for (int algo = 0; algo < 4; algo++) {
        dr3_ac_learner *builtin = make((dr3_ac_algo)algo, 0.25f);
        dr3_ac_learner *plugin = make((dr3_ac_algo)algo, 0.0f);
        float c = 0.25f;
        dr3_ac_regularizer_vtable vt = DR3_AC_REGULARIZER_VTABLE_INIT;
        vt.name = "my_dr3";
        vt.apply = my_dr3;
        assert_int_equal(dr3_ac_learner_add_regularizer(plugin, &vt, &c), DR3_OK);
        dr3_ac_batch b = batch();
        for (int t = 0; t < 2; t++) {
            dr3_ac_metrics m1 = DR3_AC_METRICS_INIT, m2 = DR3_AC_METRICS_INIT;
            assert_int_equal(dr3_ac_learner_step_batch(builtin, &b, &m1), DR3_OK);
            assert_int_equal(dr3_ac_learner_step_batch(plugin, &b, &m2), DR3_OK);
            float rl = 0;
            assert_int_equal(dr3_ac_learner_reg_loss(&rl, plugin, 0), DR3_OK);
            TU_ASSERT_CLOSE(rl, m1.dr3_loss, 1e-5, 1e-7);
            TU_ASSERT_CLOSE(m2.critic_loss, m1.critic_loss, 1e-5, 1e-7);
            assert_true(m1.dr3_loss > 0);
        }
        for (size_t j = 0; j < 2; j++)
            params_close(dr3_ac_learner_critic(builtin, j), dr3_ac_learner_critic(plugin, j),
                         1e-5);
        float rl;
        TU_ASSERT_FAILS(dr3_ac_learner_reg_loss(&rl, plugin, 1), DR3_ERR_RANGE);
        dr3_ac_learner_free(builtin);
        dr3_ac_learner_free(plugin);
    }
}

static void test_backup_plugins(void **state) {
    (void)state;
    /* the built-in backup re-implemented: the same bits */
    dr3_ac_learner *a = make(DR3_AC_SAC, 0.1f), *b = make(DR3_AC_SAC, 0.1f);
    int destroyed = 0;
    dr3_ac_backup_vtable vt = DR3_AC_BACKUP_VTABLE_INIT;
    vt.name = "my_min";
    vt.next_values = my_min;
    vt.destroy = count_destroy;
    assert_int_equal(dr3_ac_learner_set_backup(b, &vt, &destroyed), DR3_OK);
    dr3_ac_batch x = batch();
    for (int t = 0; t < 2; t++) {
        assert_int_equal(dr3_ac_learner_step_batch(a, &x, NULL), DR3_OK);
        assert_int_equal(dr3_ac_learner_step_batch(b, &x, NULL), DR3_OK);
    }
    for (size_t j = 0; j < 2; j++)
        params_close(dr3_ac_learner_critic(a, j), dr3_ac_learner_critic(b, j), 0);
    params_close(dr3_ac_learner_actor(a), dr3_ac_learner_actor(b), 0);
    /* replacing it calls destroy; NULL restores the built-in */
    assert_int_equal(dr3_ac_learner_set_backup(b, NULL, NULL), DR3_OK);
    assert_int_equal(destroyed, 1);
    dr3_ac_learner_free(a);
    dr3_ac_learner_free(b);

    /* a mean-of-critics backup changes the targets as expected (SARSA: a′ from the data) */
    dr3_ac_learner *s = make(DR3_AC_SARSA, 0.0f);
    vt.next_values = my_mean;
    vt.destroy = NULL;
    assert_int_equal(dr3_ac_learner_set_backup(s, &vt, NULL), DR3_OK);
    double want = 0;
    float q1[NB], q2[NB];
    assert_int_equal(
        dr3_net_forward(dr3_ac_learner_target_critic(s, 0), NB, nobs, D, nact, A, q1, 1, NULL),
        DR3_OK);
    assert_int_equal(
        dr3_net_forward(dr3_ac_learner_target_critic(s, 1), NB, nobs, D, nact, A, q2, 1, NULL),
        DR3_OK);
    double want_min = 0;
    for (int i = 0; i < NB; i++) {
        want += rew[i] + 0.99 * 0.5 * ((double)q1[i] + q2[i]);
        want_min += rew[i] + 0.99 * fmin(q1[i], q2[i]);
    }
    dr3_ac_metrics m = DR3_AC_METRICS_INIT;
    assert_int_equal(dr3_ac_learner_step_batch(s, &x, &m), DR3_OK);
    TU_ASSERT_CLOSE(m.mean_target, want / NB, 1e-5, 1e-6);
    assert_true(fabs(want - want_min) / NB > 1e-3); /* the plugin did change something */
    dr3_ac_learner_free(s);
}

static void test_failing_plugins_change_nothing(void **state) {
    (void)state;
    dr3_ac_learner *l = make(DR3_AC_CQL, 0.1f);
    dr3_net *q = dr3_ac_learner_critic(l, 0);
    size_t np = dr3_net_param_count(q);
    float *before = malloc(np * sizeof(float));
    memcpy(before, dr3_net_params(q), np * sizeof(float));
    dr3_ac_batch x = batch();
    dr3_ac_backup_vtable vt = DR3_AC_BACKUP_VTABLE_INIT;
    vt.name = "failing";
    vt.next_values = my_fail;
    assert_int_equal(dr3_ac_learner_set_backup(l, &vt, NULL), DR3_OK);
    TU_ASSERT_FAILS(dr3_ac_learner_step_batch(l, &x, NULL), DR3_ERR_CALLBACK);
    assert_non_null(strstr(dr3_last_error(), "the plugin's own reason"));
    assert_non_null(strstr(dr3_last_error(), "failing"));
    vt.next_values = my_nan;
    assert_int_equal(dr3_ac_learner_set_backup(l, &vt, NULL), DR3_OK);
    TU_ASSERT_FAILS(dr3_ac_learner_step_batch(l, &x, NULL), DR3_ERR_NONFINITE);
    assert_int_equal(dr3_ac_learner_set_backup(l, NULL, NULL), DR3_OK);
    int destroyed = 0;
    dr3_ac_regularizer_vtable rv = DR3_AC_REGULARIZER_VTABLE_INIT;
    rv.name = "nope";
    rv.apply = reg_fail;
    rv.destroy = count_destroy;
    assert_int_equal(dr3_ac_learner_add_regularizer(l, &rv, &destroyed), DR3_OK);
    TU_ASSERT_FAILS(dr3_ac_learner_step_batch(l, &x, NULL), DR3_ERR_CALLBACK);
    assert_non_null(strstr(dr3_last_error(), "regularizer says no"));
    assert_memory_equal(before, dr3_net_params(q), np * sizeof(float));
    assert_int_equal(dr3_ac_learner_step_count(l), 0);
    /* bad vtables */
    dr3_ac_backup_vtable bad = DR3_AC_BACKUP_VTABLE_INIT;
    TU_ASSERT_FAILS(dr3_ac_learner_set_backup(l, &bad, NULL), DR3_ERR_INVALID_ARG);
    bad.next_values = my_min;
    bad.version = 0;
    TU_ASSERT_FAILS(dr3_ac_learner_set_backup(l, &bad, NULL), DR3_ERR_VERSION);
    dr3_ac_regularizer_vtable badr = DR3_AC_REGULARIZER_VTABLE_INIT;
    TU_ASSERT_FAILS(dr3_ac_learner_add_regularizer(l, &badr, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_ac_learner_add_regularizer(NULL, &rv, NULL), DR3_ERR_INVALID_ARG);
    for (int k = 1; k < DR3_AC_MAX_REGULARIZERS; k++)
        assert_int_equal(dr3_ac_learner_add_regularizer(l, &rv, &destroyed), DR3_OK);
    TU_ASSERT_FAILS(dr3_ac_learner_add_regularizer(l, &rv, &destroyed), DR3_ERR_RANGE);
    dr3_ac_backup_vtable iv;
    assert_int_equal(dr3_ac_backup_vtable_init(&iv, DR3_AC_BACKUP_VTABLE_VERSION), DR3_OK);
    assert_null(iv.next_values);
    dr3_ac_learner_free(l);
    assert_int_equal(destroyed, DR3_AC_MAX_REGULARIZERS);
    free(before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regularizer_plugin_equals_builtin_dr3),
        cmocka_unit_test(test_backup_plugins),
        cmocka_unit_test(test_failing_plugins_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
