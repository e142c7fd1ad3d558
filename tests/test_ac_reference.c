/* The actor-critic learner against PyTorch: two update steps of SAC, CQL (fixed α and
 * Lagrange), TD3+BC (delayed actor) and offline SARSA, each with DR3, from the same
 * weights, batches and random draws (tests/reference/gen_ac_fixtures.py writes the
 * fixtures with torch autograd and torch.optim.Adam). Parameters of every network after the
 * steps, α, α′ and the step metrics must agree to float32 tolerance. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/reference/ac_fixtures.h"

/* Adam divides by √v: a gradient that is rounding noise in both codes moves a parameter
 * by up to lr either way, so the final parameters get an absolute tolerance well below the
 * learning rates (2e-3..5e-3) but above float32 noise. Losses and metrics are tighter. */
#define PARAM_RTOL  1e-4
#define PARAM_ATOL  2e-5
#define METRIC_RTOL 1e-4
#define METRIC_ATOL 1e-5

static double worst_ratio;

static void close_arrays(const char *what, const char *name, const float *got,
                         const float *want, size_t count, double rtol, double atol) {
    for (size_t i = 0; i < count; i++) {
        double err = fabs((double)got[i] - (double)want[i]);
        double tol = atol + rtol * fabs((double)want[i]);
        if (err / tol > worst_ratio) worst_ratio = err / tol;
        if (!(err <= tol))
            fail_msg("%s: %s[%zu] = %.9g, PyTorch %.9g (err %.3g > tol %.3g)", name, what, i,
                     (double)got[i], (double)want[i], err, tol);
    }
}

static dr3_ac_learner *make(const ref_ac_case *c) {
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = (dr3_ac_algo)c->algo;
    o.obs_dim = c->obs_dim;
    o.action_dim = c->action_dim;
    o.action_low = c->low;
    o.action_high = c->high;
    o.critic_num_hidden = 2;
    o.critic_hidden = c->critic_hidden;
    o.actor_num_hidden = 2;
    o.actor_hidden = c->actor_hidden;
    o.batch_size = c->n;
    o.gamma = c->gamma;
    o.tau = c->tau;
    o.critic_lr = c->critic_lr;
    o.actor_lr = c->actor_lr;
    o.alpha_lr = c->alpha_lr;
    o.twin_critics = c->nq == 2;
    o.auto_alpha = c->auto_alpha;
    o.init_alpha = c->init_alpha;
    o.target_entropy_per_dim = c->te_per_dim;
    o.backup_entropy = c->backup_entropy;
    o.log_std_min = c->log_std_min;
    o.log_std_max = c->log_std_max;
    o.cql_alpha_mode = (dr3_cql_alpha_mode)c->cql_mode;
    o.cql_alpha = c->cql_alpha;
    o.cql_target_gap = c->gap;
    o.cql_init_alpha = c->cql_init_alpha;
    o.cql_num_actions = c->N ? c->N : 10;
    o.cql_temperature = c->temperature;
    o.policy_noise = c->policy_noise;
    o.noise_clip = c->noise_clip;
    o.policy_delay = c->delay;
    o.bc_alpha = c->bc_alpha;
    o.dr3_coef = c->dr3_coef;
    dr3_ac_learner *l = NULL;
    dr3_status st = dr3_ac_learner_create(&l, &o);
    if (st != DR3_OK) fail_msg("%s: create: %s", c->name, dr3_last_error());
    for (size_t j = 0; j < (size_t)c->nq; j++) {
        dr3_net *q = dr3_ac_learner_critic(l, j), *qt = dr3_ac_learner_target_critic(l, j);
        assert_int_equal(dr3_net_param_count(q), c->q_count);
        memcpy(dr3_net_params(q), c->q0 + j * c->q_count, c->q_count * sizeof(float));
        memcpy(dr3_net_params(qt), c->qt0 + j * c->q_count, c->q_count * sizeof(float));
    }
    assert_null(dr3_ac_learner_critic(l, (size_t)c->nq));
    if (c->pi_count) {
        dr3_net *pi = dr3_ac_learner_actor(l);
        assert_int_equal(dr3_net_param_count(pi), c->pi_count);
        memcpy(dr3_net_params(pi), c->pi0, c->pi_count * sizeof(float));
        if (dr3_ac_learner_target_actor(l))
            memcpy(dr3_net_params(dr3_ac_learner_target_actor(l)), c->pit0,
                   c->pi_count * sizeof(float));
    } else {
        assert_null(dr3_ac_learner_actor(l));
    }
    return l;
}

static void test_cases(void **state) {
    (void)state;
    for (size_t ci = 0; ci < REF_AC_NCASES; ci++) {
        const ref_ac_case *c = &REF_AC_CASES[ci];
        worst_ratio = 0;
        dr3_ac_learner *l = make(c);
        const size_t n = c->n, D = c->obs_dim, A = c->action_dim;
        const size_t NR = n * (c->N ? c->N : 1);
        for (size_t t = 0; t < REF_AC_STEPS; t++) {
            dr3_ac_batch b = DR3_AC_BATCH_INIT;
            b.n = t == 0 ? n : c->n2; /* batch sizes may differ between steps */
            b.obs = c->obs + t * n * D;
            b.ld_obs = D;
            b.actions = c->actions + t * n * A;
            b.ld_actions = A;
            b.rewards = c->rewards + t * n;
            b.next_obs = c->next_obs + t * n * D;
            b.ld_next_obs = D;
            b.terminals = c->terminals + t * n;
            b.next_actions = c->next_actions + t * n * A;
            b.ld_next_actions = A;
            b.eps_next = c->eps_next + t * n * A;
            b.eps_actor = c->eps_actor + t * n * A;
            b.cql_uniform = c->cql_uniform + t * NR * A;
            b.cql_eps_obs = c->cql_eps_obs + t * NR * A;
            b.cql_eps_next = c->cql_eps_next + t * NR * A;
            b.td3_noise = c->td3_noise + t * n * A;
            dr3_ac_metrics m = DR3_AC_METRICS_INIT;
            dr3_status st = dr3_ac_learner_step_batch(l, &b, &m);
            if (st != DR3_OK) fail_msg("%s step %zu: %s", c->name, t, dr3_last_error());
            const float *want = c->metrics + t * REF_AC_NMETRICS;
            const float got[REF_AC_NMETRICS] = {
                m.td_loss,     m.actor_loss, m.alpha,    m.mean_q,  m.mean_target,
                m.feature_dot, m.dr3_loss,   m.cql_term, m.entropy, m.cql_alpha};
            close_arrays("metrics", c->name, got, want, REF_AC_NMETRICS, METRIC_RTOL,
                         METRIC_ATOL);
            assert_int_equal(m.step, t + 1);
        }
        for (size_t j = 0; j < (size_t)c->nq; j++) {
            close_arrays("critic", c->name, dr3_net_params(dr3_ac_learner_critic(l, j)),
                         c->q1 + j * c->q_count, c->q_count, PARAM_RTOL, PARAM_ATOL);
            close_arrays("target critic", c->name,
                         dr3_net_params(dr3_ac_learner_target_critic(l, j)),
                         c->qt1 + j * c->q_count, c->q_count, PARAM_RTOL, PARAM_ATOL);
        }
        if (c->pi_count) {
            close_arrays("actor", c->name, dr3_net_params(dr3_ac_learner_actor(l)), c->pi1,
                         c->pi_count, PARAM_RTOL, PARAM_ATOL);
            if (dr3_ac_learner_target_actor(l))
                close_arrays("target actor", c->name,
                             dr3_net_params(dr3_ac_learner_target_actor(l)), c->pit1,
                             c->pi_count, PARAM_RTOL, PARAM_ATOL);
        }
        if (c->algo == 0 || c->algo == 1) {
            float la = logf(dr3_ac_learner_alpha(l));
            close_arrays("log alpha", c->name, &la, &c->log_alpha1, 1, 1e-5, 1e-6);
        }
        printf("[ ac ref ] %-24s worst error / tolerance = %.3f\n", c->name, worst_ratio);
        dr3_ac_learner_free(l);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
