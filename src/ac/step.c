/* The actor-critic update (dr3/ac.h), as a pipeline:
 * validate → draws → actor at [s; s′] → next actions a′ and the actor's sample ã at s →
 * critic pass A (per critic, beside its target critic: the CQL rows' forward and backward,
 * one forward over [s, ã; s, a; s′, a′]) → targets y → dL/dQ(s, ã) → critic pass B (TD +
 * CQL + DR3 + plugin regularizers, the parameter gradient of [s, a; s′, a′], the input
 * gradient of [s, ã]) → actor loss and backward → temperature → guard → optimizers (all or
 * nothing) → target critics → metrics. Every loss and gradient is computed from the
 * parameters before the step; nothing is written to a parameter, optimizer state or
 * generator until all of them are finite. */
#include "ac_internal.h"
#include "../kernels/kernels.h"
#include "../net/net_internal.h"
#include "../optim/optim_internal.h"

#include <math.h>
#include <string.h>

static const float LOG2 = 0.69314718055994531f;
static const float HALF_LOG_2PI = 0.91893853320467274f;

/* log(1 − tanh(u)²) = 2 (log 2 − u − softplus(−2u)), without cancellation for large |u|. */
static float log1m_tanh2(float u) {
    float x = -2.0f * u;
    float sp = x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
    return 2.0f * (LOG2 - u - sp);
}

/* One tanh-Gaussian sample per row from actor outputs (mean, log-std: 2A per row):
 * u = μ + σ ε, a = tanh u, log π(a) = Σ_k log N(u_k; μ_k, σ_k) − log(1 − tanh(u_k)²). */
static void tanh_gauss(const dr3_ac_learner *l, size_t n, const float *pout, const float *eps,
                       size_t ld_a, float *a, float *u, float *logp, size_t logp_stride) {
    const size_t A = l->adim;
    for (size_t i = 0; i < n; i++) {
        const float *mu = pout + i * 2 * A, *ls = mu + A;
        double lp = 0;
        for (size_t k = 0; k < A; k++) {
            float lsc = dr3i_ac_clamp(ls[k], l->o.log_std_min, l->o.log_std_max);
            float e = eps[i * A + k];
            float uk = mu[k] + expf(lsc) * e;
            a[i * ld_a + k] = tanhf(uk);
            if (u) u[i * A + k] = uk;
            lp += -0.5f * e * e - lsc - HALF_LOG_2PI - log1m_tanh2(uk);
        }
        logp[i * logp_stride] = (float)lp;
    }
}

/* The step's inputs after validation: the caller's batch and where each draw comes from. */
typedef struct step_in {
    size_t n;
    const float *obs, *next_obs, *rewards;
    size_t ld_obs, ld_next_obs;
    const float *eps_next, *eps_actor, *cql_uniform, *cql_eps_obs, *cql_eps_next, *td3_noise;
    bool measured; /* the caller asked for metrics: the passes only they read run */
} step_in;

/* count standard normal draws from the learner's generator into x, the values of
 * dr3_rng_normal in order. With more than one thread and enough of them, the uniforms are
 * drawn in order first (cheap) and their transform (a log, a square root and a cosine, ~40 ns
 * a value) is cut across the threads: the same values for any thread count. */
typedef struct normal_job {
    const double *u;
    float *x;
    size_t count;
    int parts;
} normal_job;

static void normal_part(void *ctx, int s) {
    const normal_job *j = ctx;
    const size_t i0 = dr3k_cut(j->count, s, j->parts), i1 = dr3k_cut(j->count, s + 1, j->parts);
    for (size_t i = i0; i < i1; i++)
        j->x[i] = (float)dr3i_normal_from(j->u[2 * i], j->u[2 * i + 1]);
}

enum { NORMALS_PER_EXTRA_THREAD = 1024 };

static void fill_normal(dr3_ac_learner *l, float *x, size_t count) {
    size_t parts = count / NORMALS_PER_EXTRA_THREAD;
    if (parts > (size_t)l->o.threads) parts = (size_t)l->o.threads;
    if (parts < 2 || count > l->normal_max) {
        for (size_t i = 0; i < count; i++) x[i] = (float)dr3_rng_normal(&l->rng);
        return;
    }
    double *u = l->normal_u;
    for (size_t i = 0; i < count; i++) {
        u[2 * i] = 1.0 - dr3_rng_uniform_double(&l->rng);
        u[2 * i + 1] = dr3_rng_uniform_double(&l->rng);
    }
    normal_job j = {u, x, count, (int)parts};
    dr3k_parallel_for(j.parts, normal_part, &j);
}

static bool opt_finite(const float *x, size_t count) {
    return x == NULL || dr3i_all_finite(x, count, 1);
}

/* Validates the batch, normalises its actions and fixes every draw (the caller's or the
 * generator's). Does not touch anything but workspace and l->rng (restored on failure by
 * the caller). */
static dr3_status prepare(dr3_ac_learner *l, const dr3_ac_batch *b, step_in *in,
                          const char *who) {
    const size_t n = b->n, A = l->adim, D = l->obs_dim, N = l->ncql;
    if (n == 0 || n > l->n_max)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch n = %zu not in 1..batch_size (%zu)",
                         who, n, l->n_max);
    if (b->obs == NULL || b->actions == NULL || b->rewards == NULL || b->next_obs == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: batch obs, actions, rewards and next_obs are required", who);
    if (b->ld_obs < D || b->ld_next_obs < D || b->ld_actions < A)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: a row stride is smaller than its row (ld_obs %zu, ld_next_obs "
                         "%zu >= %zu; ld_actions %zu >= %zu)",
                         who, b->ld_obs, b->ld_next_obs, D, b->ld_actions, A);
    if (l->o.algo == DR3_AC_SARSA && b->next_actions == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: SARSA needs batch next_actions (a' from data)", who);
    if (b->next_actions != NULL && b->ld_next_actions < A)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_next_actions %zu < action_dim %zu", who,
                         b->ld_next_actions, A);
    if (!dr3i_matrix_finite(b->obs, n, D, b->ld_obs) ||
        !dr3i_matrix_finite(b->next_obs, n, D, b->ld_next_obs) ||
        !dr3i_matrix_finite(b->actions, n, A, b->ld_actions) ||
        !dr3i_all_finite(b->rewards, n, 1) || !opt_finite(b->discounts, n) ||
        (b->next_actions && !dr3i_matrix_finite(b->next_actions, n, A, b->ld_next_actions)))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: the batch contains NaN or Inf", who);
    if (!opt_finite(b->eps_next, n * A) || !opt_finite(b->eps_actor, n * A) ||
        !opt_finite(b->cql_uniform, N * n * A) || !opt_finite(b->cql_eps_obs, N * n * A) ||
        !opt_finite(b->cql_eps_next, N * n * A) || !opt_finite(b->td3_noise, n * A))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: a supplied draw contains NaN or Inf", who);
    for (size_t i = 0; i < n; i++) {
        float d = b->discounts ? b->discounts[i]
                               : l->o.gamma * (b->terminals && b->terminals[i] ? 0.0f : 1.0f);
        if (!(d >= 0 && d <= 1))
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: discount %g of row %zu not in [0, 1]",
                             who, (double)d, i);
        l->discount[i] = d;
    }
    in->n = n;
    in->obs = b->obs;
    in->ld_obs = b->ld_obs;
    in->next_obs = b->next_obs;
    in->ld_next_obs = b->ld_next_obs;
    in->rewards = b->rewards;
    dr3i_ac_normalize(l, n, b->actions, b->ld_actions, l->data_act);
    if (b->next_actions)
        dr3i_ac_normalize(l, n, b->next_actions, b->ld_next_actions, l->data_next_act);
    /* draws, in a fixed order, only those the algorithm uses and the caller did not give */
    const bool gaussian = l->o.algo == DR3_AC_SAC || l->o.algo == DR3_AC_CQL;
    in->eps_next = b->eps_next;
    in->eps_actor = b->eps_actor;
    in->cql_uniform = b->cql_uniform;
    in->cql_eps_obs = b->cql_eps_obs;
    in->cql_eps_next = b->cql_eps_next;
    in->td3_noise = b->td3_noise;
    if (gaussian && !in->eps_next) {
        fill_normal(l, l->d_eps_next, n * A);
        in->eps_next = l->d_eps_next;
    }
    if (gaussian && !in->eps_actor) {
        fill_normal(l, l->d_eps_actor, n * A);
        in->eps_actor = l->d_eps_actor;
    }
    if (N > 0 && !in->cql_uniform) {
        for (size_t i = 0; i < N * n * A; i++)
            l->d_cql_uniform[i] = 2.0f * dr3_rng_uniform(&l->rng) - 1.0f;
        in->cql_uniform = l->d_cql_uniform;
    }
    if (N > 0 && !in->cql_eps_obs) {
        fill_normal(l, l->d_cql_eps_obs, N * n * A);
        in->cql_eps_obs = l->d_cql_eps_obs;
    }
    if (N > 0 && !in->cql_eps_next) {
        fill_normal(l, l->d_cql_eps_next, N * n * A);
        in->cql_eps_next = l->d_cql_eps_next;
    }
    if (l->o.algo == DR3_AC_TD3BC && !in->td3_noise) {
        fill_normal(l, l->d_td3_noise, n * A);
        in->td3_noise = l->d_td3_noise;
    }
    return DR3_OK;
}

/* Row offsets of the critics' stacked rows: CQL's 3N rows per state first, then [s, ã] (n
 * rows: the actor's sample at s, on steps that update the actor through this critic), then
 * [s, a] and [s′, a′] (n rows each). The CQL rows take a forward/backward pair of their own
 * (their gradient is CQL's softmax alone, no feature gradient). One forward covers
 * [s, ã; s, a; s′, a′]: its [s, a; s′, a′] rows give the critic's parameter gradient (TD,
 * the CQL term's −Q(s, a), DR3's feature gradient) and its [s, ã] rows, in a pass of their
 * own, the actor's gradient w.r.t. ã (dr3i_net_backward_range). Without DR3 the [s′, a′]
 * rows take a forward of their own (for the metrics) and no backward. */
static size_t row_cql(size_t n) {
    (void)n;
    return 0;
}
static size_t row_pi_of(size_t n, size_t N) { return 3 * N * n; }
static size_t row_data_of(size_t n, size_t N) { return 3 * N * n + n; }
static size_t row_next_of(size_t n, size_t N) { return 3 * N * n + 2 * n; }
#define row_pi(n)   row_pi_of((n), l->ncql)
#define row_data(n) row_data_of((n), l->ncql)
#define row_next(n) row_next_of((n), l->ncql)

/* CQL's N policy samples per state from the actor's outputs @p pout (n rows): sample k of
 * row i into CQL row i·3N + g·N + k, its log-prob into logp[i N + k]. Rows are independent,
 * so with more than one thread they are cut into blocks (the same bits for any cut). */
typedef struct cql_draw {
    const dr3_ac_learner *l;
    size_t n, g;
    const float *pout, *eps;
    float *logp;
    int parts;
} cql_draw;

static void cql_draw_rows(const cql_draw *d, size_t i0, size_t i1) {
    const dr3_ac_learner *l = d->l;
    const size_t A = l->adim, N = l->ncql;
    for (size_t i = i0; i < i1; i++)
        for (size_t k = 0; k < N; k++) {
            size_t r = row_cql(d->n) + i * 3 * N + d->g * N + k;
            tanh_gauss(l, 1, d->pout + i * 2 * A, d->eps + (i * N + k) * A, A,
                       l->big_act + r * A, NULL, d->logp + i * N + k, 1);
        }
}

static void cql_draw_part(void *ctx, int s) {
    const cql_draw *d = ctx;
    cql_draw_rows(d, dr3k_cut(d->n, s, d->parts), dr3k_cut(d->n, s + 1, d->parts));
}

/* Below this many samples one thread does them all (each costs ~0.1 µs per action value). */
enum { CQL_DRAWS_PER_EXTRA_THREAD = 1024 };

static void cql_draws(const dr3_ac_learner *l, size_t n, size_t g, const float *pout,
                      const float *eps, float *logp) {
    cql_draw d = {l, n, g, pout, eps, logp, 1};
    size_t parts = n * l->ncql / CQL_DRAWS_PER_EXTRA_THREAD;
    if (parts > (size_t)l->o.threads) parts = (size_t)l->o.threads;
    if (parts > n / 16) parts = n / 16;
    if (parts < 2) {
        cql_draw_rows(&d, 0, n);
        return;
    }
    d.parts = (int)parts;
    dr3k_parallel_for(d.parts, cql_draw_part, &d);
}

/* A Gaussian actor's outputs at s and s′ (SAC, CQL) from one pass over the stacked
 * [s; s′] rows of big_obs (copied from the checked batch): one hand-out to the threads
 * instead of two, and the pass stays cached for the actor's backward over the s rows. */
static void actor_forward(dr3_ac_learner *l, size_t n) {
    const size_t D = l->obs_dim, W = 2 * l->adim;
    dr3i_net_forward_trusted(l->pi, 2 * n, l->big_obs + row_data(n) * D, NULL, 0, NULL);
    const float *out = dr3i_net_last_output(l->pi);
    memcpy(l->pi_out, out, n * W * sizeof(float));
    memcpy(l->pi_out_next, out + n * W, n * W * sizeof(float));
}

/* Next actions a′ (the [s′, a′] rows of the stacked rows) and their log-probs; for CQL also the
 * N policy actions at s′ (group 2 of the CQL rows). */
static dr3_status next_actions(dr3_ac_learner *l, const step_in *in) {
    const size_t n = in->n, A = l->adim, N = l->ncql;
    float *a_next = l->big_act + row_next(n) * A;
    dr3_status st;
    switch (l->o.algo) {
    case DR3_AC_SAC:
    case DR3_AC_CQL:
        /* the actor's outputs at s′ came with those at s (actor_forward) */
        tanh_gauss(l, n, l->pi_out_next, in->eps_next, A, a_next, NULL, l->next_logp, 1);
        /* sample k of row i: CQL row i·3N + 2N + k; its log-prob at cql_logp[N n + i N + k] */
        if (N > 0) cql_draws(l, n, 2, l->pi_out_next, in->cql_eps_next, l->cql_logp + N * n);
        return DR3_OK;
    case DR3_AC_TD3BC: {
        if ((st = dr3_net_forward(l->pit, n, in->next_obs, in->ld_next_obs, NULL, 0,
                                  l->pi_out_next, A, NULL)) != DR3_OK)
            return st;
        const float c = l->o.noise_clip, s = l->o.policy_noise;
        for (size_t i = 0; i < n * A; i++) {
            float noise = dr3i_ac_clamp(s * in->td3_noise[i], -c, c);
            a_next[i] = dr3i_ac_clamp(tanhf(l->pi_out_next[i]) + noise, -1.0f, 1.0f);
        }
        memset(l->next_logp, 0, n * sizeof(float));
        return DR3_OK;
    }
    case DR3_AC_SARSA:
        memcpy(a_next, l->data_next_act, n * A * sizeof(float));
        memset(l->next_logp, 0, n * sizeof(float));
        return DR3_OK;
    }
    return dr3i_fail(DR3_ERR_INTERNAL, "dr3_ac_learner_step: unknown algorithm");
}

/* Target critic j at (s′, a′): Q̄_j into qt_vals[j n ...]. */
static dr3_status target_forward(const dr3_ac_learner *l, const step_in *in, size_t j) {
    const size_t n = in->n, A = l->adim;
    return dr3_net_forward(l->qt[j], n, in->next_obs, in->ld_next_obs,
                           l->big_act + row_next(n) * A, A, l->qt_vals + j * n, 1, NULL);
}

/* y = r + d·V(s′) from the target critics' values: the built-in V = min_j Q̄_j(s′, a′) −
 * α log π(a′|s′), or a plugin's. */
static dr3_status targets(dr3_ac_learner *l, const step_in *in, float alpha, const char *who) {
    const size_t n = in->n, A = l->adim;
    const float *a_next = l->big_act + row_next(n) * A;
    const bool ent =
        (l->o.algo == DR3_AC_SAC || l->o.algo == DR3_AC_CQL) && l->o.backup_entropy;
    if (l->has_backup) {
        dr3_ac_backup_input bi;
        memset(&bi, 0, sizeof bi);
        bi.version = DR3_AC_BACKUP_INPUT_VERSION;
        bi.n = n;
        bi.num_critics = l->nq;
        bi.target_q = l->qt_vals;
        bi.next_log_prob = l->next_logp;
        bi.alpha = alpha;
        bi.obs_dim = l->obs_dim;
        bi.action_dim = A;
        bi.next_obs = in->next_obs;
        bi.ld_next_obs = in->ld_next_obs;
        bi.next_actions = a_next;
        bi.rewards = in->rewards;
        bi.discounts = l->discount;
        unsigned long mark = dr3i_error_mark();
        if (l->backup.next_values(l->backup_payload, &bi, l->v_next) != 0)
            return dr3i_fail_after(DR3_ERR_CALLBACK, mark, "%s: backup '%s' failed", who,
                                   l->backup.name ? l->backup.name : "(unnamed)");
        if (!dr3i_all_finite(l->v_next, n, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: backup '%s' returned NaN or Inf", who,
                             l->backup.name ? l->backup.name : "(unnamed)");
    } else {
        for (size_t i = 0; i < n; i++) {
            float v = l->qt_vals[i];
            if (l->nq == 2 && l->qt_vals[n + i] < v) v = l->qt_vals[n + i];
            l->v_next[i] = v - (ent ? alpha * l->next_logp[i] : 0.0f);
        }
    }
    for (size_t i = 0; i < n; i++) l->y[i] = in->rewards[i] + l->discount[i] * l->v_next[i];
    return DR3_OK;
}

/* The actor's sample at s (SAC/CQL: ã, its log-prob, and for CQL the N policy actions at s;
 * TD3: π(s)), with the actor's forward cached for its backward; on an actor step ã also goes
 * to the critics' [s, ã] rows. */
static dr3_status actor_sample(dr3_ac_learner *l, const step_in *in, bool actor_step) {
    const size_t n = in->n, A = l->adim, N = l->ncql;
    const bool gaussian = l->o.algo != DR3_AC_TD3BC;
    if (!gaussian) {
        dr3_status st =
            dr3_net_forward(l->pi, n, in->obs, in->ld_obs, NULL, 0, l->pi_out, A, NULL);
        if (st != DR3_OK) return st;
        for (size_t i = 0; i < n * A; i++) l->a_tilde[i] = tanhf(l->pi_out[i]);
    } else {
        tanh_gauss(l, n, l->pi_out, in->eps_actor, A, l->a_tilde, l->u_tilde, l->logp, 1);
        /* sample k of row i: CQL row i·3N + N + k; its log-prob at cql_logp[i N + k] */
        if (N > 0) cql_draws(l, n, 1, l->pi_out, in->cql_eps_obs, l->cql_logp);
    }
    if (actor_step) memcpy(l->big_act + row_pi(n) * A, l->a_tilde, n * A * sizeof(float));
    return DR3_OK;
}

/* A Gaussian actor's two sampling passes, next actions at s′ and the sample at s, side by
 * side on two threads: they read the actor's outputs and write disjoint buffers, so the
 * bits are those of the two one after the other. */
typedef struct sample_job {
    dr3_ac_learner *l;
    const step_in *in;
    bool sample, actor_step;
} sample_job;

static void sample_slice(void *ctx, int s) {
    const sample_job *sj = ctx;
    if (s == 0)
        (void)next_actions(sj->l, sj->in);
    else if (sj->sample)
        (void)actor_sample(sj->l, sj->in, sj->actor_step);
}

/* Per-critic state between the critic's forward (pass A) and its backward (pass B), and
 * its results. */
typedef struct critic_out {
    double td, cql, dr3, reg, q_mean, dot, cos, norm;
    double lse_sum;          /* CQL: Σ_i T·logsumexp of row i */
    const float *phi, *phin; /* features of [s, a] and [s′, a′] */
    unsigned acc;            /* the [s, a; s′, a′] backward adds onto the CQL rows' */
    bool pi_rows;            /* the pass covered [s, ã] (first n rows) */
} critic_out;

/* The scratch one critic's pass writes: the first critic's in the learner's main buffers,
 * the second's in copies of its own, so that the two passes may run at the same time. */
typedef struct critic_bufs {
    float *q_out, *q_gout, *q_gfeat, *cql_grad_q, *ginput;
} critic_bufs;

static critic_bufs bufs_of(dr3_ac_learner *l, size_t j) {
    critic_bufs cb = {l->q_out, l->q_gout, l->q_gfeat, l->cql_grad_q, l->q_ginput};
    if (j == 1 && l->q_out2 != NULL)
        cb = (critic_bufs){l->q_out2, l->q_gout2, l->q_gfeat2, l->cql_grad_q2, l->q_ginput2};
    return cb;
}

/* Zeroes the rows of q_gfeat that a critic pass writes ([s, a] and [s′, a′]), so that the
 * buffer is all zero between passes whatever the batch size (the CQL rows are never
 * written). */
static void clear_gfeat(const critic_bufs *cb, size_t n, size_t fd) {
    memset(cb->q_gfeat, 0, 2 * n * fd * sizeof(float));
}

/* DR3's c0 · mean_i φ_i·φ′_i and its gradient added to gphi and gnext, with the arithmetic
 * of dr3_feature_dot_loss() (double dot products, float gradient coefficient) but without
 * its input checks: φ comes from the critic's own forward, and a non-finite value reaches
 * the loss or the gradients, which the step's guard refuses. */
static float dr3_term(size_t n, size_t fd, const float *phi, const float *phin, float c0,
                      float *gphi, float *gnext) {
    const double scale = (double)c0 / (double)n;
    const float g = (float)scale;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *a = phi + i * fd, *b = phin + i * fd;
        total += dr3i_dot_f64(a, b, fd);
        if (g == 0.0f) continue;
        float *ga = gphi + i * fd, *gb = gnext + i * fd;
        for (size_t k = 0; k < fd; k++) ga[k] += g * b[k];
        for (size_t k = 0; k < fd; k++) gb[k] += g * a[k];
    }
    return (float)(scale * total);
}

/* The gradient reaches the [s′, a′] rows only through DR3 or a plugin: without them those
 * rows take a forward of their own (for the metrics) and no backward. */
static bool next_grad_of(const dr3_ac_learner *l) { return l->o.dr3_coef > 0 || l->nreg > 0; }

/* Whether critic j's pass covers [s, ã]: on actor steps, every critic for a Gaussian actor
 * (the smaller Q), the first alone for TD3+BC. */
static bool pi_rows_of(const dr3_ac_learner *l, size_t j, bool actor_step) {
    return actor_step && (l->o.algo != DR3_AC_TD3BC || j == 0);
}

/* Critic pass A for critic j: the CQL rows' forward, logsumexp and backward (the parameter
 * gradient, overwritten), then the forward over [s, ã; s, a; s′, a′] (or the part of it this
 * step needs), with Q_j(s, ã) into q_pi[j]. Needs no target: it runs beside the target
 * critics. */
static dr3_status critic_forward(dr3_ac_learner *l, const step_in *in, size_t j, float cql_w,
                                 bool actor_step, critic_out *co) {
    const critic_bufs cbs = bufs_of(l, j), *cb = &cbs;
    const size_t n = in->n, A = l->adim, N = l->ncql, RP = row_pi(n), RD = row_data(n),
                 RN = row_next(n);
    const size_t D = l->obs_dim, fd = dr3_net_feature_dim(l->q[j]);
    const bool next_grad = next_grad_of(l);
    dr3_status st;
    memset(co, 0, sizeof *co);
    co->pi_rows = pi_rows_of(l, j, actor_step);
    /* CQL(H): T·logsumexp(x/T) over uniform (+|A| log 2), π(s) and π(s′) (− log π) actions */
    if (N > 0) {
        if ((st = dr3_net_forward(l->q[j], RP, l->big_obs, D, l->big_act, A, cb->q_out, 1,
                                  NULL)) != DR3_OK)
            return st;
        const float T = l->o.cql_temperature, rand_density = (float)A * LOG2;
        for (size_t i = 0; i < n; i++) {
            const size_t base = row_cql(n) + i * 3 * N;
            float *x = cb->cql_grad_q; /* 3N scratch values of row i */
            float m = -INFINITY;
            for (size_t g = 0; g < 3; g++)
                for (size_t k = 0; k < N; k++) {
                    float q = cb->q_out[base + g * N + k];
                    float v = g == 0 ? q + rand_density
                                     : q - l->cql_logp[(g == 1 ? 0 : N * n) + i * N + k];
                    x[g * N + k] = v / T;
                    if (x[g * N + k] > m) m = x[g * N + k];
                }
            double s = 0;
            for (size_t t = 0; t < 3 * N; t++) s += exp((double)(x[t] - m));
            co->lse_sum += T * ((double)m + log(s));
            for (size_t t = 0; t < 3 * N; t++)
                cb->q_gout[base + t] = cql_w * (float)(exp((double)(x[t] - m)) / s) / (float)n;
        }
        dr3i_net_backward_range(l->q[j], 0, RP, cb->q_gout, 1, NULL, 0, NULL, 0, 0, true);
        co->acc = DR3_NET_ACCUMULATE;
    }
    if (!next_grad) {
        const float *p = NULL;
        if ((st = dr3_net_forward(l->q[j], n, l->big_obs + RN * D, D, l->big_act + RN * A, A,
                                  cb->q_out + RN, 1, &p)) != DR3_OK)
            return st;
        float *keep = cb->q_gfeat + n * fd; /* scratch: no feature gradient this pass */
        memcpy(keep, p, n * fd * sizeof(float));
        co->phin = keep;
    }
    const size_t r0 = co->pi_rows ? RP : RD, rows = (RD - r0) + (next_grad ? 2 * n : n);
    const float *phi = NULL;
    if ((st = dr3_net_forward(l->q[j], rows, l->big_obs + r0 * D, D, l->big_act + r0 * A, A,
                              cb->q_out + r0, 1, &phi)) != DR3_OK) {
        clear_gfeat(cb, n, fd);
        return st;
    }
    co->phi = phi + (RD - r0) * fd;
    if (next_grad) co->phin = co->phi + n * fd;
    if (co->pi_rows) memcpy(l->q_pi[j], cb->q_out + RP, n * sizeof(float));
    return DR3_OK;
}

/* Critic pass B for critic j, after the targets y: TD, CQL and DR3 losses, plugin
 * regularizers, the parameter gradient of [s, a; s′, a′] (added onto the CQL rows'), then,
 * when the pass covered [s, ã], the input gradient of those rows for the actor from the
 * dL/dQ_j(s, ã) in q_gout[row_pi ...] (no critic parameter gradient from them). */
static dr3_status critic_backward(dr3_ac_learner *l, const step_in *in, size_t j, float cql_w,
                                  critic_out *co, const char *who) {
    const critic_bufs cbs = bufs_of(l, j), *cb = &cbs;
    const size_t n = in->n, A = l->adim, N = l->ncql, RP = row_pi(n), RD = row_data(n),
                 RN = row_next(n);
    const size_t D = l->obs_dim, fd = dr3_net_feature_dim(l->q[j]);
    const float c0 = l->o.dr3_coef;
    const bool next_grad = next_grad_of(l);
    const float *phi = co->phi, *phin = co->phin;
    const size_t off = co->pi_rows ? n : 0; /* [s, a] in the forward's rows */
    dr3_status st = DR3_OK;
    /* TD */
    for (size_t i = 0; i < n; i++) {
        float d = cb->q_out[RD + i] - l->y[i];
        co->td += (double)d * d;
        co->q_mean += cb->q_out[RD + i];
        cb->q_gout[RD + i] = 2.0f * d / (float)n;
        cb->q_gout[RN + i] = 0.0f;
    }
    co->td /= (double)n;
    co->q_mean /= (double)n;
    if (N > 0) {
        for (size_t i = 0; i < n; i++) cb->q_gout[RD + i] -= cql_w / (float)n;
        co->cql = co->lse_sum / (double)n - co->q_mean;
    }
    /* φ·φ′ for the metrics (which report the first critic's), only when they are asked for */
    for (size_t i = 0; in->measured && j == 0 && i < n; i++) {
        double t[3];
        dr3i_dot3_f64(phi + i * fd, phin + i * fd, fd, t);
        const double dot = t[0], na = t[1], nb = t[2];
        co->dot += dot;
        co->norm += sqrt(na);
        co->cos += (na > 0 && nb > 0) ? dot / sqrt(na * nb) : 0.0;
    }
    co->dot /= (double)n;
    co->norm /= (double)n;
    co->cos /= (double)n;
    if (!next_grad) {
        dr3i_net_backward_range(l->q[j], off, n, cb->q_gout + RD, 1, NULL, 0, NULL, 0, co->acc,
                                true);
        goto input;
    }
    /* DR3 on φ_j(s, a)·φ_j(s′, a′), through both */
    clear_gfeat(cb, n, fd);
    if (c0 > 0) co->dr3 = dr3_term(n, fd, phi, phin, c0, cb->q_gfeat, cb->q_gfeat + n * fd);
    /* plugin regularizers add their loss and gradients on top */
    for (size_t r = 0; r < l->nreg; r++) {
        dr3_ac_reg_view v;
        memset(&v, 0, sizeof v);
        v.version = DR3_AC_REG_VIEW_VERSION;
        v.n = n;
        v.critic = j;
        v.feature_dim = fd;
        v.phi = phi;
        v.phi_next = phin;
        v.q = cb->q_out + RD;
        v.q_next = cb->q_out + RN;
        v.targets = l->y;
        v.obs_dim = D;
        v.action_dim = A;
        v.obs = l->big_obs + RD * D;
        v.actions = l->big_act + RD * A;
        v.next_obs = l->big_obs + RN * D;
        v.next_actions = l->big_act + RN * A;
        dr3_ac_reg_grads g = {DR3_AC_REG_GRADS_VERSION, cb->q_gfeat, cb->q_gfeat + n * fd,
                              cb->q_gout + RD, cb->q_gout + RN};
        float loss = 0;
        unsigned long mark = dr3i_error_mark();
        const char *name = l->reg[r].name ? l->reg[r].name : "(unnamed)";
        if (l->reg[r].apply(l->reg_payload[r], &v, &loss, &g) != 0) {
            st = dr3i_fail_after(DR3_ERR_CALLBACK, mark, "%s: regularizer %zu ('%s') failed",
                                 who, r, name);
            goto done;
        }
        if (!isfinite(loss)) {
            st = dr3i_fail(DR3_ERR_NONFINITE, "%s: regularizer %zu ('%s') gave a loss of %g",
                           who, r, name, (double)loss);
            goto done;
        }
        l->reg_loss_step[r] += loss;
        co->reg += loss;
    }
    dr3i_net_backward_range(l->q[j], off, 2 * n, cb->q_gout + RD, 1, cb->q_gfeat, fd, NULL, 0,
                            co->acc, true);
input:
    /* the actor needs dQ/da only: no critic weight gradient is formed from these rows */
    if (co->pi_rows)
        dr3i_net_backward_range(l->q[j], 0, n, cb->q_gout + RP, 1, NULL, 0, cb->ginput, D + A,
                                0, false);
done:
    clear_gfeat(cb, n, fd);
    return st;
}

/* dL/dQ_j(s_i, ã_i) for each critic whose pass covers [s, ã], into its q_gout[row_pi ...]:
 * SAC/CQL −1/n to the smaller critic; TD3+BC −λ/n to the first. For TD3+BC also λ = α /
 * mean|Q| (1 under a collective: λ is known only after the allreduce, collective.c) and
 * Σ|Q|. Needs every critic's pass A. */
static void actor_grad_q(dr3_ac_learner *l, const step_in *in, float *lambda, double *abs_q) {
    const size_t n = in->n, RP = row_pi(n);
    const bool gaussian = l->o.algo != DR3_AC_TD3BC;
    const size_t nq = gaussian ? l->nq : 1;
    *lambda = 0;
    *abs_q = 0;
    if (!gaussian) {
        for (size_t i = 0; i < n; i++) *abs_q += fabs((double)l->q_pi[0][i]);
        *lambda = l->coll.on ? 1.0f : (float)(l->o.bc_alpha / (*abs_q / (double)n));
    }
    for (size_t j = 0; j < nq; j++) {
        float *gout = bufs_of(l, j).q_gout + RP;
        for (size_t i = 0; i < n; i++) {
            float g;
            if (gaussian) {
                size_t jmin = (nq == 2 && l->q_pi[1][i] < l->q_pi[0][i]) ? 1 : 0;
                g = jmin == j ? -1.0f / (float)n : 0.0f;
            } else {
                g = -*lambda / (float)n;
            }
            gout[i] = g;
        }
    }
}

/* The actor's loss and gradient from the critics' input gradients at ã (pass B): dL/dã
 * (critic 0's then critic 1's), then through the sample to the actor's outputs and the
 * actor's backward. */
static dr3_status actor_loss(dr3_ac_learner *l, const step_in *in, float alpha, float lambda,
                             double abs_q, float *loss) {
    const size_t n = in->n, A = l->adim, W = l->obs_dim + A;
    const bool gaussian = l->o.algo != DR3_AC_TD3BC;
    const size_t nq = gaussian ? l->nq : 1;
    const bool split_bc = !gaussian && l->coll.on;
    dr3_status st;
    memset(l->g_a, 0, n * A * sizeof(float));
    for (size_t j = 0; j < nq; j++) {
        const float *gin = bufs_of(l, j).ginput;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < A; k++) l->g_a[i * A + k] += gin[i * W + l->obs_dim + k];
    }
    if (gaussian) {
        double total = 0;
        const float *out = l->pi_out;
        for (size_t i = 0; i < n; i++) {
            float qmin = l->q_pi[0][i];
            if (nq == 2 && l->q_pi[1][i] < qmin) qmin = l->q_pi[1][i];
            total += alpha * l->logp[i] - qmin;
            for (size_t k = 0; k < A; k++) {
                float a = l->a_tilde[i * A + k];
                float ls = out[i * 2 * A + A + k];
                float lsc = dr3i_ac_clamp(ls, l->o.log_std_min, l->o.log_std_max);
                float e = in->eps_actor[i * A + k];
                /* through tanh, plus d/du of α·(−log(1 − tanh²u))/n = 2α tanh(u)/n */
                float gu = l->g_a[i * A + k] * (1.0f - a * a) + 2.0f * alpha * a / (float)n;
                l->pi_gout[i * 2 * A + k] = gu;
                /* u = μ + σε and log N(u; μ, σ) contributes −log σ: d/d log σ = gu·σε − α/n */
                float gls = gu * expf(lsc) * e - alpha / (float)n;
                l->pi_gout[i * 2 * A + A + k] =
                    (ls >= l->o.log_std_min && ls <= l->o.log_std_max) ? gls : 0.0f;
            }
        }
        *loss = (float)(total / (double)n);
    } else {
        double q = 0, bc = 0;
        const float inv = 1.0f / (float)(n * A);
        float *gout_bc = l->pi_gout + n * A; /* pi_gout has room for 2A per row */
        for (size_t i = 0; i < n; i++) {
            q += l->q_pi[0][i];
            for (size_t k = 0; k < A; k++) {
                float p = l->a_tilde[i * A + k], d = p - l->data_act[i * A + k];
                bc += (double)d * d;
                if (split_bc) {
                    l->pi_gout[i * A + k] = l->g_a[i * A + k] * (1.0f - p * p);
                    gout_bc[i * A + k] = 2.0f * d * inv * (1.0f - p * p);
                } else {
                    float gp = l->g_a[i * A + k] + 2.0f * d * inv;
                    l->pi_gout[i * A + k] = gp * (1.0f - p * p);
                }
            }
        }
        if (split_bc) { /* the BC part's gradient first: the Q part's stays in the grads */
            l->coll.td3_abs_q = abs_q;
            l->coll.td3_q = q;
            l->coll.td3_bc = bc;
            st = dr3_net_backward(l->pi, n, gout_bc, A, NULL, 0, NULL, 0, 0);
            if (st != DR3_OK) return st;
            memcpy(l->coll.bc_grad, dr3_net_grads(l->pi),
                   dr3_net_param_count(l->pi) * sizeof(float));
            lambda = (float)(l->o.bc_alpha / (abs_q / (double)n)); /* the local loss below */
        }
        *loss = (float)(-lambda * q / (double)n + bc / (double)(n * A));
    }
    if (gaussian) { /* the actor's pass covered [s; s′]: its gradient is that of the s rows */
        dr3i_net_backward_rows(l->pi, n, l->pi_gout, 2 * A);
        return DR3_OK;
    }
    return dr3_net_backward(l->pi, n, l->pi_gout, A, NULL, 0, NULL, 0, 0);
}

/* Twin critics with more than one thread and no plugin regularizer: pass A (with the target
 * critic's forward) and pass B of the two critics run at the same time, one critic per
 * thread of libdr3's pool (each critic's products then run whole on its thread instead of
 * being cut in two, and its element-wise passes run in parallel too). They share nothing
 * they write (bufs_of), so the results are the bits of the passes run one after the other.
 * Plugins are left out because a user's callback need not be thread-safe. */
static bool critics_parallel(const dr3_ac_learner *l) {
    return l->nq == 2 && l->o.threads > 1 && l->nreg == 0 && l->q_out2 != NULL;
}

typedef struct critics_job {
    dr3_ac_learner *l;
    const step_in *in;
    float cql_w;
    bool actor_step;
    critic_out *co;
    const char *who;
    dr3_status st[2];
} critics_job;

static dr3_status pass_a(critics_job *cj, size_t j) {
    dr3_status st = target_forward(cj->l, cj->in, j);
    if (st != DR3_OK) return st;
    return critic_forward(cj->l, cj->in, j, cj->cql_w, cj->actor_step, &cj->co[j]);
}

static void pass_a_slice(void *ctx, int j) {
    critics_job *cj = ctx;
    cj->st[j] = pass_a(cj, (size_t)j);
}

static void pass_b_slice(void *ctx, int j) {
    critics_job *cj = ctx;
    cj->st[j] = critic_backward(cj->l, cj->in, (size_t)j, cj->cql_w, &cj->co[j], cj->who);
}

/* Pass A of every critic. A failure in the parallel run (which only non-finite inputs
 * cause) reruns them on the caller's thread, where the message is read: pass A overwrites
 * what it writes, so a rerun gives the same state. */
static dr3_status critics_pass_a(critics_job *cj) {
    if (critics_parallel(cj->l)) {
        cj->st[0] = cj->st[1] = DR3_OK;
        dr3k_parallel_for(2, pass_a_slice, cj);
        if (cj->st[0] == DR3_OK && cj->st[1] == DR3_OK) return DR3_OK;
    }
    for (size_t j = 0; j < cj->l->nq; j++) {
        dr3_status st = pass_a(cj, j);
        if (st != DR3_OK) return st;
    }
    return DR3_OK;
}

/* Pass B of every critic. It fails only in a plugin regularizer, and those run on the
 * caller's thread (critics_parallel). */
static dr3_status critics_pass_b(critics_job *cj) {
    if (critics_parallel(cj->l)) {
        cj->st[0] = cj->st[1] = DR3_OK;
        dr3k_parallel_for(2, pass_b_slice, cj);
        return cj->st[0] != DR3_OK ? cj->st[0] : cj->st[1];
    }
    for (size_t j = 0; j < cj->l->nq; j++) {
        dr3_status st = critic_backward(cj->l, cj->in, j, cj->cql_w, &cj->co[j], cj->who);
        if (st != DR3_OK) return st;
    }
    return DR3_OK;
}

/* What the compute stage leaves for the apply stage. */
typedef struct step_ctx {
    size_t n;
    bool gaussian, actor_step;
    float alpha, cql_ap, cql_w, a_loss, alpha_loss;
    double ent;
    critic_out co[2];
} step_ctx;

/* Everything up to the gradients, from the parameters before the step; writes only
 * workspace, the nets' gradient vectors and l->g_log_*. */
static dr3_status compute(dr3_ac_learner *l, const dr3_ac_batch *user, dr3_ac_metrics *m,
                          step_ctx *c, const char *who) {
    dr3_ac_batch b;
    dr3_status st = dr3i_struct_in(&b, user, &dr3i_desc_dr3_ac_batch, false, who, "batch");
    if (st != DR3_OK) return st;
    if (m != NULL) {
        dr3_ac_metrics probe;
        if ((st = dr3i_struct_in(&probe, m, &dr3i_desc_dr3_ac_metrics, false, who,
                                 "metrics")) != DR3_OK)
            return st;
    }
    step_in in;
    memset(&in, 0, sizeof in);
    if ((st = prepare(l, &b, &in, who)) != DR3_OK) return st;
    in.measured = m != NULL;
    const size_t n = in.n, A = l->adim, D = l->obs_dim, N = l->ncql;
    const dr3_ac_algo algo = l->o.algo;
    const bool gaussian = algo == DR3_AC_SAC || algo == DR3_AC_CQL;
    const bool actor_step =
        gaussian || (algo == DR3_AC_TD3BC && (l->steps + 1) % l->o.policy_delay == 0);
    const float alpha = gaussian ? expf(l->log_alpha) : 0.0f;
    float cql_ap = 0, cql_w = 0;
    c->n = n;
    c->gaussian = gaussian;
    c->actor_step = actor_step;
    c->alpha = alpha;
    if (algo == DR3_AC_CQL) {
        cql_ap = dr3i_ac_clamp(expf(l->log_cql_alpha), 0.0f, 1e6f);
        cql_w = l->o.cql_alpha_mode == DR3_CQL_ALPHA_LAGRANGE ? cql_ap * l->o.cql_alpha
                                                              : l->o.cql_alpha;
    }

    /* the stacked critic rows: obs [s repeated 3N; s; s′], actions [CQL; a; a′] */
    for (size_t i = 0; i < n; i++) {
        memcpy(l->big_obs + (row_data(n) + i) * D, in.obs + i * in.ld_obs, D * sizeof(float));
        memcpy(l->big_obs + (row_next(n) + i) * D, in.next_obs + i * in.ld_next_obs,
               D * sizeof(float));
        for (size_t t = 0; t < 3 * N; t++)
            memcpy(l->big_obs + (row_cql(n) + i * 3 * N + t) * D, in.obs + i * in.ld_obs,
                   D * sizeof(float));
        for (size_t k = 0; k < N; k++)
            memcpy(l->big_act + (row_cql(n) + i * 3 * N + k) * A,
                   in.cql_uniform + (i * N + k) * A, A * sizeof(float));
    }
    memcpy(l->big_act + row_data(n) * A, l->data_act, n * A * sizeof(float));

    if (actor_step)
        for (size_t i = 0; i < n; i++)
            memcpy(l->big_obs + (row_pi(n) + i) * D, in.obs + i * in.ld_obs, D * sizeof(float));

    c->cql_ap = cql_ap;
    c->cql_w = cql_w;
    if (gaussian) actor_forward(l, n);
    if (gaussian && l->o.threads > 1) {
        /* a′ at s′ and ã at s at the same time (neither can fail for a Gaussian actor) */
        sample_job sj = {l, &in, actor_step || N > 0, actor_step};
        dr3k_parallel_for(2, sample_slice, &sj);
    } else {
        if ((st = next_actions(l, &in)) != DR3_OK) return st;
        if ((actor_step || N > 0) && (st = actor_sample(l, &in, actor_step)) != DR3_OK)
            return st;
    }
    critic_out *co = c->co;
    memset(l->reg_loss_step, 0, sizeof l->reg_loss_step);
    critics_job cj = {l, &in, cql_w, actor_step, co, who, {DR3_OK, DR3_OK}};
    if ((st = critics_pass_a(&cj)) != DR3_OK) return st;
    if ((st = targets(l, &in, alpha, who)) != DR3_OK) return st;
    float lambda = 0;
    double abs_q = 0;
    if (actor_step) actor_grad_q(l, &in, &lambda, &abs_q);
    if ((st = critics_pass_b(&cj)) != DR3_OK) return st;
    if (actor_step && (st = actor_loss(l, &in, alpha, lambda, abs_q, &c->a_loss)) != DR3_OK)
        return st;

    /* temperature and CQL multiplier gradients */
    double ent = 0;
    l->g_log_alpha = 0;
    l->g_log_cql_alpha = 0;
    if (gaussian) {
        for (size_t i = 0; i < n; i++) ent -= l->logp[i];
        ent /= (double)n;
    }
    const float h_target = l->o.target_entropy_per_dim * (float)A;
    float alpha_loss = 0;
    if (gaussian && l->o.auto_alpha) {
        /* loss −mean(log α · (log π + H̄)): gradient −(mean log π + H̄) */
        l->g_log_alpha = (float)(-(-ent + h_target));
        alpha_loss = -l->log_alpha * (float)(-ent + h_target);
    }
    if (algo == DR3_AC_CQL && l->o.cql_alpha_mode == DR3_CQL_ALPHA_LAGRANGE) {
        double s = 0;
        for (size_t j = 0; j < l->nq; j++)
            s += l->o.cql_alpha * co[j].cql - l->o.cql_target_gap;
        /* loss −½ Σ_j α′(α_cql·term_j − gap) (twin; −α′(…) single); dα′/dlog α′ = α′ inside
         * the clamp */
        float scale = l->nq == 2 ? 0.5f : 1.0f;
        l->g_log_cql_alpha =
            expf(l->log_cql_alpha) < 1e6f ? (float)(-scale * cql_ap * s) : 0.0f;
    }
    c->ent = ent;
    c->alpha_loss = alpha_loss;
    return DR3_OK;
}

/* One optimizer update of the apply stage. */
typedef struct apply_item {
    dr3_optim *opt;
    float *params, *grads;
    size_t count;
    float *gnorm;
    float *target; /* a target network moved toward the new parameters (τ), or NULL */
    float tau;
} apply_item;

/* Checks every update first (dr3i_optim_check: finite gradient, finite new parameters and
 * state, changing nothing) and stores them only when all passed: a refusal anywhere leaves
 * every network and optimizer as it was, with no copy of any state. */
static dr3_status apply_all(const apply_item *items, size_t ni, int threads, const char *who) {
    dr3i_optim_plan plans[5];
    for (size_t i = 0; i < ni; i++) {
        const apply_item *it = &items[i];
        plans[i].threads = threads;
        plans[i].polyak = it->target;
        plans[i].polyak_tau = it->tau;
        dr3_status st =
            dr3i_optim_check(it->opt, it->params, it->grads, it->count, &plans[i], who);
        if (st != DR3_OK) return st;
    }
    for (size_t i = 0; i < ni; i++) {
        const apply_item *it = &items[i];
        dr3i_optim_commit(it->opt, it->params, it->grads, it->count, &plans[i]);
        if (it->gnorm) *it->gnorm = (float)plans[i].norm;
    }
    return DR3_OK;
}

static dr3_status step_core(dr3_ac_learner *l, const dr3_ac_batch *user, dr3_ac_metrics *m,
                            const char *who) {
    step_ctx c;
    memset(&c, 0, sizeof c);
    dr3_status st = compute(l, user, m, &c, who);
    double td_avg = 0, crit_avg = 0;
    if (st == DR3_OK)
        for (size_t j = 0; j < l->nq; j++) {
            td_avg += c.co[j].td;
            crit_avg += c.co[j].td + c.co[j].dr3 + c.co[j].reg;
            if (l->o.algo == DR3_AC_CQL)
                crit_avg +=
                    l->o.cql_alpha_mode == DR3_CQL_ALPHA_LAGRANGE
                        ? c.cql_ap * (l->o.cql_alpha * c.co[j].cql - l->o.cql_target_gap)
                        : l->o.cql_alpha * c.co[j].cql;
        }
    if (l->coll.on) {
        /* every rank takes part, failed or not; the gradients become the ranks' mean */
        dr3i_ac_reduce r = {c.n, c.actor_step, td_avg, crit_avg, c.a_loss};
        st = dr3i_ac_coll_step(l, st, &r, who);
        td_avg = r.td;
        crit_avg = r.critic_loss;
        c.a_loss = (float)r.actor_loss;
    }
    if (st != DR3_OK) return st;
    const size_t n = c.n;
    const dr3_ac_algo algo = l->o.algo;
    const bool gaussian = c.gaussian, actor_step = c.actor_step;
    const float alpha = c.alpha, cql_w = c.cql_w, a_loss = c.a_loss;
    const critic_out *co = c.co;

    /* the guard: every loss finite before anything is written (every gradient that is
     * applied is checked by its optimizer in apply_all, before any is stored) */
    bool ok = isfinite(l->g_log_alpha) && isfinite(l->g_log_cql_alpha) && isfinite(a_loss);
    for (size_t j = 0; j < l->nq; j++)
        ok = ok && isfinite(co[j].td) && isfinite(co[j].cql) && isfinite(co[j].dr3);
    if (!ok)
        return dr3i_fail(DR3_ERR_NONFINITE,
                         "%s: a loss or gradient is NaN or Inf; nothing was changed", who);

    /* apply: every optimizer's update is checked before any is stored (apply_all), so a
     * refusal by any of them (an update that would overflow, e.g. an absurd learning rate)
     * leaves the whole learner unchanged. */
    float gnorm[2] = {0, 0};
    apply_item items[5];
    size_t ni = 0;
    /* the targets move (Polyak, τ) with their networks' commits; TD3+BC's only on actor
     * steps */
    const bool move = algo != DR3_AC_TD3BC || actor_step;
    for (size_t j = 0; j < l->nq; j++)
        items[ni++] = (apply_item){l->q_opt[j],
                                   dr3_net_params(l->q[j]),
                                   dr3_net_grads(l->q[j]),
                                   dr3_net_param_count(l->q[j]),
                                   &gnorm[j],
                                   move ? dr3_net_params(l->qt[j]) : NULL,
                                   l->o.tau};
    if (actor_step)
        items[ni++] = (apply_item){l->pi_opt,
                                   dr3_net_params(l->pi),
                                   dr3_net_grads(l->pi),
                                   dr3_net_param_count(l->pi),
                                   NULL,
                                   l->pit ? dr3_net_params(l->pit) : NULL,
                                   l->o.tau};
    if (gaussian && l->o.auto_alpha)
        items[ni++] =
            (apply_item){l->alpha_opt, &l->log_alpha, &l->g_log_alpha, 1, NULL, NULL, 0};
    if (algo == DR3_AC_CQL && l->o.cql_alpha_mode == DR3_CQL_ALPHA_LAGRANGE)
        items[ni++] =
            (apply_item){l->cql_opt, &l->log_cql_alpha, &l->g_log_cql_alpha, 1, NULL, NULL, 0};
    if ((st = apply_all(items, ni, l->o.threads, who)) != DR3_OK) return st;
    l->steps++;
    memcpy(l->reg_loss, l->reg_loss_step, sizeof l->reg_loss);

    if (m == NULL) return DR3_OK;
    dr3_ac_metrics full = DR3_AC_METRICS_INIT;
    double cql = 0, dr3 = 0, yb = 0;
    for (size_t j = 0; j < l->nq; j++) {
        dr3 += co[j].dr3;
        cql += co[j].cql;
    }
    for (size_t i = 0; i < n; i++) yb += l->y[i];
    full.step = l->steps;
    full.critic_loss = (float)crit_avg;
    full.td_loss = (float)td_avg;
    full.actor_loss = a_loss;
    full.alpha = alpha;
    full.alpha_loss = c.alpha_loss;
    full.entropy = (float)c.ent;
    full.mean_q = (float)co[0].q_mean;
    full.mean_target = (float)(yb / (double)n);
    full.feature_dot = (float)co[0].dot;
    full.feature_cos = (float)co[0].cos;
    full.feature_norm = (float)co[0].norm;
    full.dr3_loss = (float)dr3;
    full.cql_term = (float)(cql / (double)l->nq);
    full.cql_alpha = cql_w;
    double g2 = 0;
    for (size_t j = 0; j < l->nq; j++) g2 += (double)gnorm[j] * gnorm[j];
    full.critic_grad_norm = (float)sqrt(g2);
    return dr3i_struct_out(m, &full, &dr3i_desc_dr3_ac_metrics, who, "metrics");
}

dr3_status dr3_ac_learner_step_batch(dr3_ac_learner *l, const dr3_ac_batch *batch,
                                     dr3_ac_metrics *metrics) {
    static const char who[] = "dr3_ac_learner_step_batch";
    if (l == NULL || batch == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "batch");
    dr3_rng saved = l->rng;
    dr3_status st = step_core(l, batch, metrics, who);
    if (st != DR3_OK) l->rng = saved;
    return st;
}

dr3_status dr3_ac_learner_step(dr3_ac_learner *l, const dr3_replay *replay,
                               dr3_ac_metrics *metrics) {
    static const char who[] = "dr3_ac_learner_step";
    if (l == NULL || replay == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "replay");
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    dr3_status st = dr3_replay_get_options(&ro, replay);
    if (st != DR3_OK) return st;
    if (ro.action_kind != DR3_ACTION_CONTINUOUS || ro.action_dim != l->adim ||
        dr3_replay_state_dim(replay) != l->obs_dim)
        return dr3i_fail(DR3_ERR_SHAPE,
                         "%s: the replay holds %s actions of %zu floats and states of %zu; the "
                         "learner needs continuous actions of %zu and states of %zu",
                         who, dr3_action_kind_name(ro.action_kind), ro.action_dim,
                         dr3_replay_state_dim(replay), l->adim, l->obs_dim);
    const size_t n = l->n_max, A = l->adim, D = l->obs_dim;
    dr3_replay_batch rb = DR3_REPLAY_BATCH_INIT;
    rb.need_next_action = l->o.algo == DR3_AC_SARSA;
    rb.obs = l->r_obs;
    rb.ld_obs = D;
    rb.next_obs = l->r_next_obs;
    rb.ld_next_obs = D;
    rb.actions_f = l->r_act;
    rb.ld_actions_f = A;
    rb.next_actions_f = l->r_next_act;
    rb.ld_next_actions_f = A;
    rb.next_action_valid = l->r_valid;
    rb.rewards = l->r_rew;
    rb.discounts = l->r_disc;
    rb.terminals = l->r_term;
    rb.steps = l->r_steps;
    rb.indices = l->r_idx;
    dr3_rng saved = l->rng;
    st = dr3_replay_sample(replay, &l->rng, n, &rb);
    if (st == DR3_OK) {
        dr3_ac_batch b = DR3_AC_BATCH_INIT;
        b.n = n;
        b.obs = l->r_obs;
        b.ld_obs = D;
        b.actions = l->r_act;
        b.ld_actions = A;
        b.rewards = l->r_rew;
        b.next_obs = l->r_next_obs;
        b.ld_next_obs = D;
        b.discounts = l->r_disc;
        b.terminals = l->r_term;
        if (l->o.algo == DR3_AC_SARSA) {
            b.next_actions = l->r_next_act;
            b.ld_next_actions = A;
        }
        st = step_core(l, &b, metrics, who);
    }
    if (st != DR3_OK) l->rng = saved;
    return st;
}
