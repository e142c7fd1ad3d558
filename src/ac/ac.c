/* The actor-critic learner (dr3/ac.h): options, creation, getters and acting. The update
 * itself is in step.c, checkpoints in checkpoint.c. All memory is allocated here. */
#include "ac_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

DR3I_DEFINE_STRUCT(dr3_ac_options, dr3_ac_options, DR3_AC_OPTIONS_INIT, DR3_AC_OPTIONS_VERSION,
                   sizeof(dr3_ac_options))
DR3I_DEFINE_STRUCT(dr3_ac_batch, dr3_ac_batch, DR3_AC_BATCH_INIT, DR3_AC_BATCH_VERSION,
                   sizeof(dr3_ac_batch))
DR3I_DEFINE_STRUCT(dr3_ac_metrics, dr3_ac_metrics, DR3_AC_METRICS_INIT, DR3_AC_METRICS_VERSION,
                   sizeof(dr3_ac_metrics))

DR3I_ENUM_NAMES(dr3_ac_algo, dr3_ac_algo, "sac", "cql", "td3bc", "sarsa")
DR3I_ENUM_NAMES(dr3_cql_alpha_mode, dr3_cql_alpha_mode, "fixed", "lagrange")

static bool finite_in(float x, float lo, float hi) { return isfinite(x) && x >= lo && x <= hi; }

/* Checks the normalised options (already read through their version). */
static dr3_status check_options(const dr3_ac_options *o, const char *who) {
    if (o->algo < DR3_AC_SAC || o->algo > DR3_AC_SARSA)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown algo %d", who, (int)o->algo);
    if (o->obs_dim == 0 || o->action_dim == 0 || o->batch_size == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: obs_dim, action_dim and batch_size must be > 0", who);
    if (o->obs_dim > (1u << 24) || o->action_dim > (1u << 16) || o->batch_size > (1u << 24))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: obs_dim, action_dim or batch_size too large",
                         who);
    if (o->critic_num_hidden > DR3I_AC_MAX_HIDDEN || o->actor_num_hidden > DR3I_AC_MAX_HIDDEN)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: more than %d hidden layers", who,
                         DR3I_AC_MAX_HIDDEN);
    if ((o->critic_num_hidden > 0 && o->critic_hidden == NULL) ||
        (o->actor_num_hidden > 0 && o->actor_hidden == NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: hidden widths are NULL with num_hidden > 0",
                         who);
    for (size_t i = 0; i < o->action_dim; i++) {
        float lo = o->action_low ? o->action_low[i] : -1.0f;
        float hi = o->action_high ? o->action_high[i] : 1.0f;
        if (!isfinite(lo) || !isfinite(hi) || !(hi > lo) || !isfinite(hi - lo))
            return dr3i_fail(
                DR3_ERR_INVALID_ARG,
                "%s: action bounds of dimension %zu must be finite with high > low", who, i);
    }
    if (o->activation < DR3_ACT_IDENTITY || o->activation > DR3_ACT_LEAKY_RELU)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown activation %d", who,
                         (int)o->activation);
    if (!finite_in(o->gamma, 0, 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: gamma must be in [0, 1]", who);
    if (!finite_in(o->tau, 0, 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: tau must be in [0, 1]", who);
    /* as dr3_optim_create: any finite lr >= 0; one too large for a step makes that step
     * fail with nothing changed */
    if (!finite_in(o->critic_lr, 0, FLT_MAX) || !finite_in(o->actor_lr, 0, FLT_MAX) ||
        !finite_in(o->alpha_lr, 0, FLT_MAX))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learning rates must be finite and >= 0",
                         who);
    if (o->twin_critics != 0 && o->twin_critics != 1)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: twin_critics must be 0 or 1", who);
    if (!(isfinite(o->init_alpha) && o->init_alpha > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: init_alpha must be finite and > 0", who);
    if (!isfinite(o->target_entropy_per_dim))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: target_entropy_per_dim must be finite", who);
    if (!isfinite(o->log_std_min) || !isfinite(o->log_std_max) ||
        !(o->log_std_max > o->log_std_min) || o->log_std_max > 20 || o->log_std_min < -40)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: need -40 <= log_std_min < log_std_max <= 20",
                         who);
    if (o->cql_alpha_mode != DR3_CQL_ALPHA_FIXED && o->cql_alpha_mode != DR3_CQL_ALPHA_LAGRANGE)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown cql_alpha_mode %d", who,
                         (int)o->cql_alpha_mode);
    if (!finite_in(o->cql_alpha, 0, 1e6f) || !isfinite(o->cql_target_gap) ||
        !(isfinite(o->cql_init_alpha) && o->cql_init_alpha > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: cql_alpha must be in [0, 1e6], cql_target_gap finite and "
                         "cql_init_alpha > 0",
                         who);
    if (o->cql_num_actions == 0 || o->cql_num_actions > 4096)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: cql_num_actions must be in 1..4096", who);
    if (!(isfinite(o->cql_temperature) && o->cql_temperature > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: cql_temperature must be finite and > 0",
                         who);
    if (!finite_in(o->policy_noise, 0, 1e6f) || !finite_in(o->noise_clip, 0, 1e6f))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: policy_noise and noise_clip must be >= 0",
                         who);
    if (o->policy_delay == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: policy_delay must be >= 1", who);
    if (!finite_in(o->bc_alpha, 0, 1e6f))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: bc_alpha must be finite and >= 0", who);
    if (!finite_in(o->dr3_coef, 0, 1e6f))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: dr3_coef must be finite and >= 0", who);
    if (o->threads < 1) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    return DR3_OK;
}

static float *alloc_floats(dr3_ac_learner *l, size_t n, size_t m, dr3_status *st) {
    size_t count, bytes;
    if (*st != DR3_OK) return NULL;
    if (!dr3i_mul(n, m, &count) || !dr3i_mul(count, sizeof(float), &bytes)) {
        *st = dr3i_fail(DR3_ERR_OVERFLOW, "dr3_ac_learner_create: workspace size overflows");
        return NULL;
    }
    float *p = dr3i_calloc(&l->alloc, bytes);
    if (p == NULL) *st = dr3i_fail(DR3_ERR_NOMEM, "dr3_ac_learner_create: out of memory");
    return p;
}

static void *alloc_bytes(dr3_ac_learner *l, size_t n, size_t elem, dr3_status *st) {
    size_t bytes;
    if (*st != DR3_OK) return NULL;
    if (!dr3i_mul(n, elem, &bytes)) {
        *st = dr3i_fail(DR3_ERR_OVERFLOW, "dr3_ac_learner_create: workspace size overflows");
        return NULL;
    }
    void *p = dr3i_calloc(&l->alloc, bytes);
    if (p == NULL) *st = dr3i_fail(DR3_ERR_NOMEM, "dr3_ac_learner_create: out of memory");
    return p;
}

static dr3_status make_net(dr3_ac_learner *l, dr3_net **out, dr3_head_kind head, size_t outputs,
                           size_t nh, const size_t *hidden, size_t max_batch, uint64_t seed) {
    dr3_net_options no = DR3_NET_OPTIONS_INIT;
    no.obs_dim = l->obs_dim;
    no.action_dim = outputs;
    no.num_hidden = nh;
    no.hidden = hidden;
    no.activation = l->o.activation;
    no.head = head;
    no.max_batch = max_batch;
    no.seed = seed;
    no.threads = l->o.threads;
    no.allocator = &l->hooks;
    return dr3_net_create(out, &no);
}

static dr3_status make_optim(dr3_ac_learner *l, dr3_optim **out, size_t count, float lr) {
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = lr;
    oo.allocator = &l->hooks;
    return dr3_optim_create(out, count, &oo);
}

void dr3_ac_learner_free(dr3_ac_learner *l) {
    if (l == NULL) return;
    dr3i_ac_drop_plugins(l);
    dr3i_ac_coll_free(l);
    dr3i_alloc a = l->alloc;
    for (size_t j = 0; j < 2; j++) {
        dr3_net_free(l->q[j]);
        dr3_net_free(l->qt[j]);
        dr3_optim_free(l->q_opt[j]);
        dr3i_free(&a, l->q_pi[j]);
    }
    dr3_net_free(l->pi);
    dr3_net_free(l->pit);
    dr3_optim_free(l->pi_opt);
    dr3_optim_free(l->alpha_opt);
    dr3_optim_free(l->cql_opt);
    float *bufs[] = {l->low,
                     l->high,
                     l->big_obs,
                     l->big_act,
                     l->q_out,
                     l->q_gout,
                     l->q_gfeat,
                     l->q_ginput,
                     l->y,
                     l->qt_min,
                     l->qt_vals,
                     l->v_next,
                     l->next_logp,
                     l->pi_out_next,
                     l->pi_out,
                     l->pi_gout,
                     l->a_tilde,
                     l->u_tilde,
                     l->logp,
                     l->g_a,
                     l->data_act,
                     l->data_next_act,
                     l->cql_logp,
                     l->cql_grad_q,
                     l->q_out2,
                     l->q_gout2,
                     l->q_gfeat2,
                     l->cql_grad_q2,
                     l->q_ginput2,
                     l->discount,
                     l->d_eps_next,
                     l->d_eps_actor,
                     l->d_cql_uniform,
                     l->d_cql_eps_obs,
                     l->d_cql_eps_next,
                     l->d_td3_noise,
                     l->r_obs,
                     l->r_next_obs,
                     l->r_act,
                     l->r_next_act,
                     l->r_rew,
                     l->r_disc};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) dr3i_free(&a, bufs[i]);
    dr3i_free(&a, l->normal_u);
    dr3i_free(&a, l->r_term);
    dr3i_free(&a, l->r_valid);
    dr3i_free(&a, l->r_steps);
    dr3i_free(&a, l->r_idx);
    dr3i_free(&a, l);
}

dr3_status dr3i_ac_create(dr3_ac_learner **out, const dr3_ac_options *opts, const char *who) {
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    dr3_ac_options o;
    dr3_status st = dr3i_struct_in(&o, opts, &dr3i_desc_dr3_ac_options, false, who, "options");
    if (st != DR3_OK) return st;
    if ((st = check_options(&o, who)) != DR3_OK) return st;
    if ((st = dr3i_runtime_ensure()) != DR3_OK) return st;
    dr3i_alloc a;
    if ((st = dr3i_alloc_init(&a, o.allocator, who)) != DR3_OK) return st;
    dr3_ac_learner *l = dr3i_calloc(&a, sizeof *l);
    if (l == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    l->alloc = a;
    l->hooks.version = DR3_ALLOCATOR_VERSION;
    l->hooks.alloc = a.alloc;
    l->hooks.free = a.free;
    l->hooks.opaque = a.opaque;
    l->o = o;
    l->obs_dim = o.obs_dim;
    l->adim = o.action_dim;
    l->n_max = o.batch_size;
    l->nq = o.twin_critics ? 2 : 1;
    l->ncql = o.algo == DR3_AC_CQL ? o.cql_num_actions : 0;

    static const size_t default_hidden[2] = {256, 256};
    const size_t *ch = o.critic_num_hidden ? o.critic_hidden : default_hidden;
    size_t cnh = o.critic_num_hidden ? o.critic_num_hidden : (o.critic_hidden ? 0 : 2);
    const size_t *ah = o.actor_num_hidden ? o.actor_hidden : default_hidden;
    size_t anh = o.actor_num_hidden ? o.actor_num_hidden : (o.actor_hidden ? 0 : 2);
    memcpy(l->critic_hidden, ch, cnh * sizeof *ch);
    memcpy(l->actor_hidden, ah, anh * sizeof *ah);
    l->o.critic_num_hidden = cnh;
    l->o.critic_hidden = l->critic_hidden;
    l->o.actor_num_hidden = anh;
    l->o.actor_hidden = l->actor_hidden;
    l->o.allocator = NULL;

    const size_t n = l->n_max, A = l->adim, D = l->obs_dim, N = l->ncql;
    l->low = alloc_floats(l, A, 1, &st);
    l->high = alloc_floats(l, A, 1, &st);
    if (st == DR3_OK) {
        for (size_t i = 0; i < A; i++) {
            l->low[i] = o.action_low ? o.action_low[i] : -1.0f;
            l->high[i] = o.action_high ? o.action_high[i] : 1.0f;
        }
        l->o.action_low = l->low;
        l->o.action_high = l->high;
    }
    size_t rows = 0;
    if (st == DR3_OK && (!dr3i_mul(3 * N + 3, n, &rows)))
        st = dr3i_fail(DR3_ERR_OVERFLOW, "%s: workspace size overflows", who);
    l->rows_max = rows;
    const bool has_actor = o.algo != DR3_AC_SARSA;
    const bool gaussian = o.algo == DR3_AC_SAC || o.algo == DR3_AC_CQL;
    const size_t pout = gaussian ? 2 * A : A;
    for (size_t j = 0; j < l->nq && st == DR3_OK; j++) {
        if ((st = make_net(l, &l->q[j], DR3_HEAD_CRITIC, A, cnh, ch, rows, o.seed + j + 1)) !=
                DR3_OK ||
            (st = make_net(l, &l->qt[j], DR3_HEAD_CRITIC, A, cnh, ch, n, o.seed + j + 1)) !=
                DR3_OK ||
            (st = make_optim(l, &l->q_opt[j], dr3_net_param_count(l->q[j]), o.critic_lr)) !=
                DR3_OK)
            break;
        l->q_pi[j] = alloc_floats(l, n, 1, &st);
    }
    if (st == DR3_OK && has_actor) {
        /* a Gaussian actor runs one pass over [s; s′] per step (step.c) */
        const size_t pi_rows = gaussian ? 2 * n : n;
        if ((st = make_net(l, &l->pi, DR3_HEAD_DISCRETE_Q, pout, anh, ah, pi_rows,
                           o.seed + 3)) == DR3_OK &&
            (st = make_optim(l, &l->pi_opt, dr3_net_param_count(l->pi), o.actor_lr)) ==
                DR3_OK &&
            o.algo == DR3_AC_TD3BC)
            st = make_net(l, &l->pit, DR3_HEAD_DISCRETE_Q, pout, anh, ah, n, o.seed + 3);
    }
    if (st == DR3_OK && gaussian) st = make_optim(l, &l->alpha_opt, 1, o.alpha_lr);
    if (st == DR3_OK && o.algo == DR3_AC_CQL) st = make_optim(l, &l->cql_opt, 1, o.alpha_lr);
    const size_t fd = st == DR3_OK ? dr3_net_feature_dim(l->q[0]) : 0;
    l->big_obs = alloc_floats(l, rows, D, &st);
    l->big_act = alloc_floats(l, rows, A, &st);
    l->q_out = alloc_floats(l, rows, 1, &st);
    l->q_gout = alloc_floats(l, rows, 1, &st);
    l->q_gfeat = alloc_floats(l, 2 * n, fd, &st);
    l->q_ginput = alloc_floats(l, n, D + A, &st);
    if (l->nq == 2) l->q_ginput2 = alloc_floats(l, n, D + A, &st);
    l->y = alloc_floats(l, n, 1, &st);
    l->qt_min = alloc_floats(l, n, 1, &st);
    l->qt_vals = alloc_floats(l, 2 * n, 1, &st);
    l->v_next = alloc_floats(l, n, 1, &st);
    l->next_logp = alloc_floats(l, n, 1, &st);
    l->pi_out_next = alloc_floats(l, n, 2 * A, &st);
    l->pi_out = alloc_floats(l, n, 2 * A, &st);
    l->pi_gout = alloc_floats(l, n, 2 * A, &st);
    l->a_tilde = alloc_floats(l, n, A, &st);
    l->u_tilde = alloc_floats(l, n, A, &st);
    l->logp = alloc_floats(l, n, 1, &st);
    l->g_a = alloc_floats(l, n, A, &st);
    l->data_act = alloc_floats(l, n, A, &st);
    l->data_next_act = alloc_floats(l, n, A, &st);
    l->cql_logp = alloc_floats(l, 2 * N + 1, n, &st);
    l->cql_grad_q = alloc_floats(l, 3 * N + 1, n, &st);
    if (l->nq == 2) {
        l->q_out2 = alloc_floats(l, rows, 1, &st);
        l->q_gout2 = alloc_floats(l, rows, 1, &st);
        l->q_gfeat2 = alloc_floats(l, 2 * n, fd, &st);
        l->cql_grad_q2 = alloc_floats(l, 3 * N + 1, n, &st);
    }
    l->discount = alloc_floats(l, n, 1, &st);
    l->d_eps_next = alloc_floats(l, n, A, &st);
    l->d_eps_actor = alloc_floats(l, n, A, &st);
    l->d_cql_uniform = alloc_floats(l, N * n + 1, A, &st);
    l->d_cql_eps_obs = alloc_floats(l, N * n + 1, A, &st);
    l->d_cql_eps_next = alloc_floats(l, N * n + 1, A, &st);
    l->d_td3_noise = alloc_floats(l, n, A, &st);
    l->normal_max = (N > 1 ? N : 1) * n * A;
    l->normal_u = alloc_bytes(l, 2 * l->normal_max, sizeof(double), &st);
    l->r_obs = alloc_floats(l, n, D, &st);
    l->r_next_obs = alloc_floats(l, n, D, &st);
    l->r_act = alloc_floats(l, n, A, &st);
    l->r_next_act = alloc_floats(l, n, A, &st);
    l->r_rew = alloc_floats(l, n, 1, &st);
    l->r_disc = alloc_floats(l, n, 1, &st);
    l->r_term = alloc_bytes(l, n, 1, &st);
    l->r_valid = alloc_bytes(l, n, 1, &st);
    l->r_steps = alloc_bytes(l, n, sizeof(int32_t), &st);
    l->r_idx = alloc_bytes(l, n, sizeof(size_t), &st);
    if (st != DR3_OK) {
        dr3_ac_learner_free(l);
        return st;
    }
    for (size_t j = 0; j < l->nq; j++) dr3_net_copy_params(l->qt[j], l->q[j]);
    if (l->pit) dr3_net_copy_params(l->pit, l->pi);
    l->log_alpha = gaussian ? logf(o.init_alpha) : 0.0f;
    l->log_cql_alpha = logf(o.cql_init_alpha);
    dr3_rng_seed(&l->rng, o.seed ^ 0x5ac0ffee1234abcdULL);
    dr3_rng_seed(&l->act_rng, o.seed ^ 0x0ac7ac7ac7ac7ac7ULL);
    *out = l;
    return DR3_OK;
}

dr3_status dr3_ac_learner_create(dr3_ac_learner **out, const dr3_ac_options *opts) {
    return dr3i_ac_create(out, opts, "dr3_ac_learner_create");
}

void dr3i_ac_normalize(const dr3_ac_learner *l, size_t n, const float *a, size_t ld,
                       float *out) {
    const size_t A = l->adim;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < A; k++)
            out[i * A + k] =
                2.0f * (a[i * ld + k] - l->low[k]) / (l->high[k] - l->low[k]) - 1.0f;
}

/* ---- getters and setters --------------------------------------------------------------- */

uint64_t dr3_ac_learner_step_count(const dr3_ac_learner *l) { return l ? l->steps : 0; }

dr3_net *dr3_ac_learner_critic(dr3_ac_learner *l, size_t index) {
    return (l && index < l->nq) ? l->q[index] : NULL;
}

dr3_net *dr3_ac_learner_target_critic(dr3_ac_learner *l, size_t index) {
    return (l && index < l->nq) ? l->qt[index] : NULL;
}

dr3_net *dr3_ac_learner_actor(dr3_ac_learner *l) { return l ? l->pi : NULL; }

dr3_net *dr3_ac_learner_target_actor(dr3_ac_learner *l) { return l ? l->pit : NULL; }

float dr3_ac_learner_alpha(const dr3_ac_learner *l) {
    if (l == NULL || (l->o.algo != DR3_AC_SAC && l->o.algo != DR3_AC_CQL)) return 0.0f;
    return expf(l->log_alpha);
}

dr3_status dr3_ac_learner_set_dr3_coef(dr3_ac_learner *l, float coef) {
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_ac_learner_set_dr3_coef: NULL");
    if (!finite_in(coef, 0, 1e6f))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "dr3_ac_learner_set_dr3_coef: coef %g must be finite and in [0, 1e6]",
                         (double)coef);
    l->o.dr3_coef = coef;
    return DR3_OK;
}

dr3_status dr3_ac_learner_set_threads(dr3_ac_learner *l, int threads) {
    static const char who[] = "dr3_ac_learner_set_threads";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (threads < 1) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    dr3_net *nets[] = {l->q[0], l->q[1], l->qt[0], l->qt[1], l->pi, l->pit};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        if (nets[i]) dr3_net_set_threads(nets[i], threads);
    l->o.threads = threads;
    return DR3_OK;
}

dr3_status dr3_ac_learner_get_options(dr3_ac_options *out, const dr3_ac_learner *l) {
    static const char who[] = "dr3_ac_learner_get_options";
    if (out == NULL || l == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         out == NULL ? "out" : "learner");
    return dr3i_struct_out(out, &l->o, &dr3i_desc_dr3_ac_options, who, "out");
}

/* ---- acting ----------------------------------------------------------------------------- */

dr3_status dr3_ac_learner_act(dr3_ac_learner *l, size_t n, const float *obs, size_t ld_obs,
                              int deterministic, float *out, size_t ld_out) {
    static const char who[] = "dr3_ac_learner_act";
    if (l == NULL || (n > 0 && (obs == NULL || out == NULL)))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (l->pi == NULL) return dr3i_fail(DR3_ERR_STATE, "%s: a SARSA learner has no actor", who);
    const size_t A = l->adim;
    if (ld_obs < l->obs_dim || ld_out < A)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: ld_obs (%zu) < obs_dim or ld_out (%zu) < %zu", who, ld_obs,
                         ld_out, A);
    if (!dr3i_matrix_finite(obs, n, l->obs_dim, ld_obs))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs contains NaN or Inf", who);
    const bool gaussian = l->o.algo == DR3_AC_SAC || l->o.algo == DR3_AC_CQL;
    const size_t pw = gaussian ? 2 * A : A;
    for (size_t done = 0; done < n;) {
        size_t m = n - done < l->n_max ? n - done : l->n_max;
        dr3_status st = dr3_net_forward(l->pi, m, obs + done * ld_obs, ld_obs, NULL, 0,
                                        l->pi_out, pw, NULL);
        if (st != DR3_OK) return st;
        for (size_t i = 0; i < m; i++) {
            float *row = out + (done + i) * ld_out;
            for (size_t k = 0; k < A; k++) {
                float u = l->pi_out[i * pw + k];
                if (gaussian && !deterministic) {
                    float ls = dr3i_ac_clamp(l->pi_out[i * pw + A + k], l->o.log_std_min,
                                             l->o.log_std_max);
                    u += expf(ls) * (float)dr3_rng_normal(&l->act_rng);
                } else if (!gaussian && !deterministic) {
                    /* TD3: exploration noise of the smoothing σ, clipped to the box */
                    u = atanhf(dr3i_ac_clamp(tanhf(u) + l->o.policy_noise *
                                                            (float)dr3_rng_normal(&l->act_rng),
                                             -0.999999f, 0.999999f));
                }
                float an = tanhf(u);
                row[k] = l->low[k] + 0.5f * (an + 1.0f) * (l->high[k] - l->low[k]);
            }
        }
        done += m;
    }
    return DR3_OK;
}

dr3_status dr3_ac_learner_q_values(dr3_ac_learner *l, size_t n, const float *obs, size_t ld_obs,
                                   const float *actions, size_t ld_actions, float *out) {
    static const char who[] = "dr3_ac_learner_q_values";
    if (l == NULL || (n > 0 && (obs == NULL || actions == NULL || out == NULL)))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    const size_t A = l->adim;
    if (ld_obs < l->obs_dim || ld_actions < A)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_obs or ld_actions too small", who);
    if (!dr3i_matrix_finite(obs, n, l->obs_dim, ld_obs) ||
        !dr3i_matrix_finite(actions, n, A, ld_actions))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs or actions contain NaN or Inf", who);
    for (size_t done = 0; done < n;) {
        size_t m = n - done < l->n_max ? n - done : l->n_max;
        dr3i_ac_normalize(l, m, actions + done * ld_actions, ld_actions, l->big_act);
        dr3_status st = dr3_net_forward(l->q[0], m, obs + done * ld_obs, ld_obs, l->big_act, A,
                                        out + done, 1, NULL);
        if (st != DR3_OK) return st;
        done += m;
    }
    return DR3_OK;
}
