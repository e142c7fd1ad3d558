/* dr3_learner_step and friends: the training step, evaluation, acting.
 *
 * The step is a pipeline of named stages over one context (CleanRL's dqn.py update, in C):
 *
 *   batch → forward → backup → td_loss → regularizers → backward → optimize → target → measure
 *
 * Every stage before `optimize` writes only workspace (and a copy of the generator), so a
 * failure there leaves the learner exactly as it was. `optimize` is all-or-nothing itself
 * (dr3_optim_step checks the gradients and the update before writing), and the stages after
 * it cannot fail: everything they depend on was validated at creation. */
#include "../optim/optim_internal.h"
#include "learner_internal.h"

#include "../net/net_internal.h"

#include <string.h>

/* What one step carries from stage to stage. */
typedef struct step_ctx {
    dr3_learner *l;
    const char *who; /* the public function, for messages */
    dr3_batch b;     /* the caller's batch, read through its version (never the original) */
    size_t n;
    dr3_rng rng; /* the learner's generator, committed only on success */
    bool u8;     /* [s; s'] are raw frames in l->stacked_u8 (a uint8 replay's batch) */
    const float *phi, *phi_next, *q, *q_next; /* online φ(s), φ(s'), Q(s,·), Q(s',·) */
    bool lean;     /* no gradient reaches φ(s'): the online backward covers the n rows of s */
    bool measured; /* the caller asked for metrics */
    float td_loss;
    double total_loss;
    float grad_norm;
} step_ctx;

/* ---- 1. batch -------------------------------------------------------------------------- */

DR3I_DEFINE_STRUCT(dr3_batch, dr3_batch, DR3_BATCH_INIT, DR3_BATCH_VERSION, sizeof(dr3_batch))
DR3I_DEFINE_STRUCT(dr3_step_metrics, dr3_step_metrics, DR3_STEP_METRICS_INIT,
                   DR3_STEP_METRICS_VERSION, sizeof(dr3_step_metrics))

/* Reads and checks the caller's batch, copies s and s' into the stacked input, and fills
 * discounts and the non-terminal mask. Writes only workspace. */
static dr3_status stage_batch(step_ctx *c, const dr3_batch *user) {
    dr3_learner *l = c->l;
    const dr3_learner_options *o = &l->opts;
    const char *who = c->who;
    dr3_status st = dr3i_struct_in(&c->b, user, &dr3i_desc_dr3_batch, false, who, "batch");
    if (st != DR3_OK) return st;
    const dr3_batch *x = &c->b;
    const size_t n = x->n, S = o->obs_dim;
    if (n == 0 || n > o->batch_size)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch n = %zu must be in 1..%zu", who, n,
                         o->batch_size);
    if ((!c->u8 && (x->obs == NULL || x->next_obs == NULL)) || x->actions == NULL ||
        x->rewards == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch %s is NULL", who,
                         x->actions == NULL   ? "actions"
                         : x->rewards == NULL ? "rewards"
                         : x->obs == NULL     ? "obs"
                                              : "next_obs");
    if (!c->u8 && (x->ld_obs < S || x->ld_next_obs < S))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch row stride (%zu, %zu) < obs_dim %zu",
                         who, x->ld_obs, x->ld_next_obs, S);
    size_t span, bytes;
    if (!c->u8 &&
        (!dr3i_span(n, S, x->ld_obs, &span) || !dr3i_mul(span, sizeof(float), &bytes) ||
         !dr3i_span(n, S, x->ld_next_obs, &span) || !dr3i_mul(span, sizeof(float), &bytes)))
        return dr3i_fail(DR3_ERR_OVERFLOW,
                         "%s: batch rows of stride (%zu, %zu) overflow the address space", who,
                         x->ld_obs, x->ld_next_obs);
    if ((l->backup_vt.needs & DR3_BACKUP_NEEDS_NEXT_ACTIONS) && x->next_actions == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: the backup '%s' needs the dataset's next actions (batch "
                         "next_actions is NULL)",
                         who, l->backup_vt.name ? l->backup_vt.name : "(unnamed)");
    for (size_t i = 0; i < n; i++) {
        if (x->actions[i] < 0 || (size_t)x->actions[i] >= o->num_actions)
            return dr3i_fail(DR3_ERR_RANGE, "%s: actions[%zu] = %d is outside [0, %zu)", who, i,
                             (int)x->actions[i], o->num_actions);
        if (x->next_actions != NULL &&
            (x->next_actions[i] < 0 || (size_t)x->next_actions[i] >= o->num_actions))
            return dr3i_fail(DR3_ERR_RANGE, "%s: next_actions[%zu] = %d is outside [0, %zu)",
                             who, i, (int)x->next_actions[i], o->num_actions);
        if (!isfinite(x->rewards[i]))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: rewards[%zu] is not finite", who, i);
        float d = x->discounts ? x->discounts[i]
                               : o->gamma * (x->terminals && x->terminals[i] ? 0.0f : 1.0f);
        if (!(d >= 0 && d <= 1))
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: discounts[%zu] = %g is outside [0, 1]",
                             who, i, (double)d);
        if (x->weights != NULL && !(isfinite(x->weights[i]) && x->weights[i] >= 0))
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: weights[%zu] must be finite and >= 0",
                             who, i);
        l->discounts[i] = d;
        l->nonterminal[i] =
            x->terminals ? (x->terminals[i] ? 0.0f : 1.0f) : (d > 0 ? 1.0f : 0.0f);
    }
    c->n = n;
    if (c->u8) return DR3_OK; /* frames are finite by construction, already stacked */
    /* copy each row, then check the copy while it is still in cache (one pass over the
     * caller's memory instead of two: 7 MB per step for the Nature network at batch 32) */
    for (size_t i = 0; i < n; i++) {
        float *d = l->stacked + i * S;
        memcpy(d, x->obs + i * x->ld_obs, S * sizeof(float));
        if (!dr3i_all_finite(d, S, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs contains NaN or Inf", who);
    }
    for (size_t i = 0; i < n; i++) {
        float *d = l->stacked + (n + i) * S;
        memcpy(d, x->next_obs + i * x->ld_next_obs, S * sizeof(float));
        if (!dr3i_all_finite(d, S, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: next_obs contains NaN or Inf", who);
    }
    return DR3_OK;
}

/* ---- 2. forward -------------------------------------------------------------------------- */

/* Multi-head networks: the head weights of this batch (REM: a random convex combination
 * drawn from the step's generator; ensembles: 1/K), then the combined Q the rest of the step
 * sees: Σ_k w_k Q_k for the online rows and the target (the minimum over heads for the
 * target of DR3_HEADS_MIN). */
static void combine_heads(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t n = c->n, A = l->opts.num_actions, K = l->heads, O = K * A;
    if (l->heads_mode == DR3_HEADS_REM && l->have_fixed_w) {
        memcpy(l->head_w, l->fixed_w, K * sizeof(float));
    } else if (l->heads_mode == DR3_HEADS_REM) {
        double sum = 0;
        for (size_t k = 0; k < K; k++) sum += l->head_w[k] = dr3_rng_uniform(&c->rng) + 1e-6f;
        for (size_t k = 0; k < K; k++) l->head_w[k] = (float)(l->head_w[k] / sum);
    } else {
        for (size_t k = 0; k < K; k++) l->head_w[k] = 1.0f / (float)K;
    }
    const size_t rows = c->phi_next != NULL ? 2 * n : n; /* online rows computed */
    for (size_t i = 0; i < rows; i++)
        for (size_t a = 0; a < A; a++) {
            double v = 0;
            for (size_t k = 0; k < K; k++)
                v += (double)l->head_w[k] * l->q_net[i * O + k * A + a];
            l->q_all[i * A + a] = (float)v;
        }
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < A; a++) {
            const float *t = l->qt_net + i * O + a;
            double v = 0;
            if (l->heads_mode == DR3_HEADS_MIN) {
                v = t[0];
                for (size_t k = 1; k < K; k++) v = t[k * A] < v ? t[k * A] : v;
            } else {
                for (size_t k = 0; k < K; k++) v += (double)l->head_w[k] * t[k * A];
            }
            l->q_target[i * A + a] = (float)v;
        }
}

/* Whether anything in this step puts a gradient on φ(s') or Q(s'): DR3 does, and so may any
 * regularizer of the user's; the built-in CQL, L2 and feature-L2 terms read only s. */
static bool next_gradient(const dr3_learner *l) {
    for (size_t r = 0; r < l->num_reg; r++)
        if (!l->reg[r].is_builtin || l->reg[r].builtin.kind == DR3_REG_DR3) return true;
    return false;
}

/* Whether the online network's outputs at s' must be computed: the backup reads them
 * (double-Q, or any operator of the user's, to whom the learner promises them), the
 * metrics report φ·φ', or a regularizer (see next_gradient) reads them. */
static bool need_online_next(const step_ctx *c) {
    const dr3_learner *l = c->l;
    return !c->lean || c->measured || !l->backup_builtin ||
           (l->backup_vt.needs & DR3_BACKUP_NEEDS_ONLINE_NEXT) != 0;
}

/* The online network on `rows` stacked rows from row `first` of [s; s'] (float or uint8). */
static dr3_status online_pass(step_ctx *c, size_t rows, size_t first, float *out,
                              const float **phi) {
    dr3_learner *l = c->l;
    const size_t S = l->opts.obs_dim, O = l->heads * l->opts.num_actions;
    if (c->u8)
        return dr3_net_forward_u8(l->online, rows, l->stacked_u8 + first * S, S, out, O, phi);
    /* the float rows were checked as they were copied into l->stacked, which stays as it is
     * until the backward: the network reads them in place (no second check, no copy) */
    dr3i_net_forward_trusted(l->online, rows, l->stacked + first * S, out, O, phi);
    return DR3_OK;
}

/* The online network on s and s' and the target network on s'.
 *
 * Full form (something puts a gradient on φ(s')): one online pass over the stacked [s; s']
 * (2n rows, one GEMM per layer), which backward then covers whole.
 *
 * Lean form (nothing does — SARSA, expected, sampled or max backups with no DR3 term): the
 * online pass and its backward cover only the n rows of s, a third less work per step. When
 * Q(s') or φ(s') are still wanted (double-Q, a user's backup, metrics) they come from a
 * separate pass over s' made first, whose outputs are copied out before the pass over s
 * reuses the network's workspace. That pass feeds nothing else, so asking for metrics never
 * changes the update. */
static dr3_status stage_forward(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t n = c->n, A = l->opts.num_actions, D = l->feature_dim, S = l->opts.obs_dim;
    const size_t O = l->heads * A; /* the network's outputs per row */
    const float *phi = NULL;
    dr3_status st;
    c->lean = !next_gradient(l);
    if (!c->lean) {
        st = online_pass(c, 2 * n, 0, l->q_net, &phi);
        if (st != DR3_OK) return st;
        c->phi_next = phi + n * D;
    } else {
        c->phi_next = NULL;
        if (need_online_next(c)) {
            st = online_pass(c, n, n, l->q_net + n * O, &phi);
            if (st != DR3_OK) return st;
            memcpy(l->phi_next_buf, phi, n * D * sizeof(float));
            c->phi_next = l->phi_next_buf;
        }
        st = online_pass(c, n, 0, l->q_net, &phi);
        if (st != DR3_OK) return st;
    }
    /* the target on s' (uint8 frames: scaled by 1/255 into its own input, which the backup
     * then reads as the float s') */
    if (c->u8)
        st = dr3_net_forward_u8(l->target, n, l->stacked_u8 + n * S, S, l->qt_net, O, NULL);
    else
        dr3i_net_forward_trusted(l->target, n, l->stacked + n * S, l->qt_net, O, NULL);
    if (st != DR3_OK) return st;
    if (l->heads > 1) combine_heads(c);
    c->phi = phi;
    c->q = l->q_all;
    c->q_next = c->phi_next != NULL ? l->q_all + n * A : NULL;
    return DR3_OK;
}

/* ---- 3. backup ----------------------------------------------------------------------------
 */

/* V(s') from the backup operator, then the TD targets y = r + discount · V(s'). */
static dr3_status stage_backup(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t n = c->n, A = l->opts.num_actions, S = l->opts.obs_dim;
    dr3_backup_input in = DR3_BACKUP_INPUT_INIT;
    in.n = n;
    in.num_actions = A;
    in.obs_dim = S;
    /* s' as floats: for uint8 batches, the target network's copy scaled by 1/255 (the target
     * pass covers exactly s'; the online pass may not, in the lean form) */
    in.next_obs = c->u8 ? l->target->input : l->stacked + n * S;
    in.ld_next_obs = S;
    in.q_next_online = c->q_next;
    in.ld_q_next_online = A;
    in.q_next_target = l->q_target;
    in.ld_q_next_target = A;
    in.next_actions = c->b.next_actions;
    in.rng = &c->rng;
    in.scratch = l->scratch;
    in.scratch_len = n * A;
    unsigned long mark = dr3i_error_mark();
    if (l->backup_vt.next_values(l->backup_payload, &in, l->values) != 0)
        return dr3i_fail_after(DR3_ERR_CALLBACK, mark, "%s: backup '%s' failed", c->who,
                               l->backup_vt.name ? l->backup_vt.name : "(unnamed)");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(l->values[i]))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: the backup gave a non-finite V(s'_%zu)",
                             c->who, i);
        l->targets[i] = c->b.rewards[i] + l->discounts[i] * l->values[i];
        l->q_taken[i] = c->q[i * A + (size_t)c->b.actions[i]];
    }
    return DR3_OK;
}

/* ---- 4. TD loss ------------------------------------------------------------------------- */

/* The TD loss on Q(s_i, a_i) − y_i; its gradient enters the output gradient at a_i. Clears
 * the output and feature gradients the later stages add into. */
static dr3_status stage_td_loss(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t n = c->n, A = l->opts.num_actions, D = l->feature_dim, K = l->heads;
    if (K > 1) memset(l->grad_net, 0, 2 * n * K * A * sizeof(float));
    if (K > 1 && l->heads_mode != DR3_HEADS_REM) {
        /* ensembles: every head regressed to the shared targets; the loss is their mean */
        double total = 0;
        for (size_t k = 0; k < K; k++) {
            for (size_t i = 0; i < n; i++)
                l->head_q[i] = l->q_net[i * K * A + k * A + (size_t)c->b.actions[i]];
            memset(l->head_g, 0, n * sizeof(float));
            float loss_k;
            dr3_status st = dr3_td_loss(n, l->head_q, l->targets, c->b.weights, l->opts.td_kind,
                                        l->opts.huber_delta, &loss_k, l->head_g);
            if (st != DR3_OK) return st;
            total += loss_k;
            for (size_t i = 0; i < n; i++)
                l->grad_net[i * K * A + k * A + (size_t)c->b.actions[i]] =
                    l->head_g[i] / (float)K;
        }
        c->td_loss = (float)(total / (double)K);
        memset(l->grad_out, 0, 2 * n * A * sizeof(float));
        memset(l->grad_feat, 0, 2 * n * D * sizeof(float));
        c->total_loss = c->td_loss;
        return DR3_OK;
    }
    memset(l->g_taken, 0, n * sizeof(float));
    dr3_status st = dr3_td_loss(n, l->q_taken, l->targets, c->b.weights, l->opts.td_kind,
                                l->opts.huber_delta, &c->td_loss, l->g_taken);
    if (st != DR3_OK) return st;
    memset(l->grad_out, 0, 2 * n * A * sizeof(float));
    memset(l->grad_feat, 0, 2 * n * D * sizeof(float));
    for (size_t i = 0; i < n; i++) l->grad_out[i * A + (size_t)c->b.actions[i]] = l->g_taken[i];
    c->total_loss = c->td_loss;
    return DR3_OK;
}

/* ---- 5. regularizers ------------------------------------------------------------------- */

static bool any_param_terms(const dr3_learner *l) {
    for (size_t r = 0; r < l->num_reg; r++)
        if (l->reg[r].touches_params) return true;
    return false;
}

/* Every regularizer sees a read-only view of the step and adds its gradients. */
static dr3_status stage_regularizers(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t n = c->n, A = l->opts.num_actions, D = l->feature_dim;
    if (any_param_terms(l)) memset(l->param_grad, 0, l->param_count * sizeof(float));
    dr3_reg_view view = DR3_REG_VIEW_INIT;
    view.n = n;
    view.feature_dim = D;
    view.num_actions = A;
    view.param_count = l->param_count;
    view.phi = c->phi;
    view.ld_phi = D;
    view.phi_next = c->phi_next;
    view.ld_phi_next = D;
    view.q = c->q;
    view.ld_q = A;
    view.q_next = c->q_next;
    view.ld_q_next = A;
    view.actions = c->b.actions;
    view.next_actions = c->b.next_actions;
    view.discounts = l->discounts;
    view.nonterminal = l->nonterminal;
    view.params = dr3_net_params(l->online);
    view.step = l->steps;
    dr3_reg_grads grads = DR3_REG_GRADS_INIT;
    grads.phi = l->grad_feat;
    grads.ld_phi = D;
    grads.phi_next = l->grad_feat + n * D;
    grads.ld_phi_next = D;
    grads.q = l->grad_out;
    grads.ld_q = A;
    grads.q_next = l->grad_out + n * A;
    grads.ld_q_next = A;
    grads.params = l->param_grad;
    for (size_t r = 0; r < l->num_reg; r++) {
        const char *name = l->reg[r].vt.name ? l->reg[r].vt.name : "(unnamed)";
        float loss = 0;
        unsigned long mark = dr3i_error_mark();
        if (l->reg[r].vt.apply(l->reg[r].payload, &view, &grads, &loss) != 0)
            return dr3i_fail_after(DR3_ERR_CALLBACK, mark, "%s: regularizer %zu ('%s') failed",
                                   c->who, r, name);
        if (!isfinite(loss))
            return dr3i_fail(DR3_ERR_NONFINITE,
                             "%s: regularizer %zu ('%s') gave a non-finite loss", c->who, r,
                             name);
        l->reg_loss[r] = loss;
        c->total_loss += loss;
    }
    if (!isfinite(c->total_loss))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: the loss is not finite", c->who);
    return DR3_OK;
}

/* ---- 6. backward ------------------------------------------------------------------------- */

/* One backward pass over the rows the forward's gradient-carrying pass covered (2n: DR3's
 * gradient reaches the network through both φ(s) and φ(s'); n in the lean form), plus the
 * regularizers' direct parameter gradients. */
static dr3_status stage_backward(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t A = l->opts.num_actions, K = l->heads, rows = c->lean ? c->n : 2 * c->n;
    if (K > 1) /* dL/dQ_k = w_k dL/dQ for what was computed on the combined Q */
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < K; k++)
                for (size_t a = 0; a < A; a++)
                    l->grad_net[i * K * A + k * A + a] += l->head_w[k] * l->grad_out[i * A + a];
    dr3_status st = dr3_net_backward(l->online, rows, l->grad_net, K * A, l->grad_feat,
                                     l->feature_dim, NULL, 0, 0);
    if (st != DR3_OK) return st;
    if (any_param_terms(l)) {
        float *g = dr3_net_grads(l->online);
        for (size_t k = 0; k < l->param_count; k++) g[k] += l->param_grad[k];
    }
    return DR3_OK;
}

/* ---- 7. optimize ----------------------------------------------------------------------- */

/* Guard, clip and update, as dr3_optim_step (which refuses non-finite gradients and updates
 * with the parameters and its state untouched), with the learner's threads sharing the
 * element-wise passes. The last stage that may fail. */
static dr3_status stage_optimize(step_ctx *c) {
    dr3_learner *l = c->l;
    float *params = dr3_net_params(l->online), *grads = dr3_net_grads(l->online);
    /* a Polyak target moves with the commit (stage_target then leaves it) */
    dr3i_optim_plan plan = {0,
                            1.0f,
                            false,
                            0,
                            l->opts.threads,
                            l->opts.polyak_tau > 0 ? dr3_net_params(l->target) : NULL,
                            l->opts.polyak_tau};
    dr3_status st = dr3i_optim_check(l->optim, params, grads, l->param_count, &plan, c->who);
    if (st != DR3_OK) return st;
    dr3i_optim_commit(l->optim, params, grads, l->param_count, &plan);
    c->grad_norm = (float)plan.norm;
    return DR3_OK;
}

/* ---- 8. target ------------------------------------------------------------------------- */

/* The target update cannot fail: both networks were created with the same shape and τ was
 * validated at creation, so the trusted forms are used. */
static void stage_target(step_ctx *c) {
    dr3_learner *l = c->l;
    l->steps++;
    /* a Polyak target (polyak_tau > 0) moved in stage_optimize's commit */
    if (l->opts.polyak_tau == 0 && l->steps % l->opts.target_update_period == 0)
        dr3i_net_copy_params_trusted(l->target, l->online);
}

/* ---- 9. measure ------------------------------------------------------------------------- */

/* What the step measured, from the forward pass of this step (φ and Q before the update;
 * the online network's feature buffer is left intact by backward). Outside the gradient
 * path: nothing here feeds the update. */
static void stage_measure(const step_ctx *c, dr3_step_metrics *full) {
    const dr3_learner *l = c->l;
    const size_t n = c->n, D = l->feature_dim;
    *full = (dr3_step_metrics)DR3_STEP_METRICS_INIT;
    full->loss = (float)c->total_loss;
    full->td_loss = c->td_loss;
    full->num_regularizers = l->num_reg;
    double sq = 0, sy = 0, dot = 0, cosv = 0, nrm = 0;
    for (size_t i = 0; i < n; i++) {
        sq += l->q_taken[i];
        sy += l->targets[i];
    }
    if (!c->measured || c->phi_next == NULL) { /* nobody reads the feature metrics */
        full->mean_q = (float)(sq / (double)n);
        full->mean_target = (float)(sy / (double)n);
        full->grad_norm = c->grad_norm;
        full->step = l->steps;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double t[3];
        dr3i_dot3_f64(c->phi + i * D, c->phi_next + i * D, D, t);
        const double d = t[0], a2 = t[1], b2 = t[2];
        dot += d;
        nrm += sqrt(a2);
        if (a2 > 0 && b2 > 0) cosv += d / sqrt(a2 * b2);
    }
    size_t dead = 0;
    for (size_t j = 0; j < D; j++) {
        bool alive = false;
        for (size_t i = 0; i < n && !alive; i++)
            alive = c->phi[i * D + j] != 0.0f || c->phi_next[i * D + j] != 0.0f;
        dead += !alive;
    }
    full->mean_q = (float)(sq / (double)n);
    full->mean_target = (float)(sy / (double)n);
    full->feature_dot = (float)(dot / (double)n);
    full->feature_cos = (float)(cosv / (double)n);
    full->feature_norm = (float)(nrm / (double)n);
    full->dead_fraction = D ? (float)dead / (float)D : 0.0f;
    full->grad_norm = c->grad_norm;
    full->step = l->steps;
}

/* srank_0.01 of φ(s) (the paper's diagnostic). */
static dr3_status measure_srank(const step_ctx *c, dr3_step_metrics *full) {
    const dr3_learner *l = c->l;
    size_t rank = 0;
    dr3_status st = dr3_srank(c->n, l->feature_dim, c->phi, l->feature_dim, 0.01, l->srank_work,
                              l->srank_work_len, &rank, NULL);
    if (st == DR3_OK) full->srank = (float)rank;
    return st;
}

/* Per-head diagnostics (dr3_learner_head_stats) into workspace, committed by finish():
 * each head's mean Q(s_i, a_i) and TD loss against the step's targets, and the mean over
 * rows of the heads' standard deviation at (s_i, a_i). Reads the forward pass only. */
static dr3_status measure_heads(step_ctx *c) {
    dr3_learner *l = c->l;
    const size_t n = c->n, A = l->opts.num_actions, K = l->heads, O = K * A;
    double spread = 0;
    for (size_t i = 0; i < n && K > 1; i++) {
        const float *row = l->q_net + i * O + (size_t)c->b.actions[i];
        double mean = 0, var = 0;
        for (size_t k = 0; k < K; k++) mean += row[k * A];
        mean /= (double)K;
        for (size_t k = 0; k < K; k++) var += (row[k * A] - mean) * (row[k * A] - mean);
        spread += sqrt(var / (double)K);
    }
    l->hs_disagreement = (float)(spread / (double)n);
    for (size_t k = 0; k < K; k++) {
        double sq = 0;
        for (size_t i = 0; i < n; i++) {
            l->head_q[i] = l->q_net[i * O + k * A + (size_t)c->b.actions[i]];
            sq += l->head_q[i];
        }
        l->hs_mean_q[k] = (float)(sq / (double)n);
        dr3_status st = dr3_td_loss(n, l->head_q, l->targets, c->b.weights, l->opts.td_kind,
                                    l->opts.huber_delta, &l->hs_td[k], NULL);
        if (st != DR3_OK) return st;
    }
    return DR3_OK;
}

/* ---- the step ---------------------------------------------------------------------------- */

/* Checks the arguments every entry point shares. */
static dr3_status begin(step_ctx *c, dr3_learner *l, const dr3_batch *batch,
                        const dr3_step_metrics *m, const char *who, bool u8) {
    memset(c, 0, sizeof *c);
    c->who = who;
    c->l = l;
    c->u8 = u8;
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    c->rng = l->rng; /* committed only if the step succeeds */
    c->measured = m != NULL;
    if (m != NULL) { /* the caller's metrics must be writable before anything happens */
        dr3_step_metrics probe = DR3_STEP_METRICS_INIT;
        dr3_status st =
            dr3i_struct_in(&probe, m, &dr3i_desc_dr3_step_metrics, false, who, "metrics");
        if (st != DR3_OK) return st;
    }
    return stage_batch(c, batch);
}

/* Stages 2-5: everything before the gradient, shared by step and evaluate. */
static dr3_status losses(step_ctx *c) {
    dr3_status st;
    if ((st = stage_forward(c)) != DR3_OK) return st;
    if ((st = stage_backup(c)) != DR3_OK) return st;
    if ((st = stage_td_loss(c)) != DR3_OK) return st;
    if ((st = stage_regularizers(c)) != DR3_OK) return st;
    return measure_heads(c);
}

/* Commits what a successful step or evaluation reports. */
static dr3_status finish(step_ctx *c, dr3_step_metrics *m, const dr3_step_metrics *full) {
    dr3_learner *l = c->l;
    if (l->num_reg > 0) memcpy(l->last_reg_loss, l->reg_loss, l->num_reg * sizeof(float));
    memcpy(l->last_head_w, l->head_w, l->heads * sizeof(float));
    memcpy(l->last_hs_mean_q, l->hs_mean_q, l->heads * sizeof(float));
    memcpy(l->last_hs_td, l->hs_td, l->heads * sizeof(float));
    l->last_hs_disagreement = l->hs_disagreement;
    l->have_last = 1;
    if (m == NULL) return DR3_OK;
    return dr3i_struct_out(m, full, &dr3i_desc_dr3_step_metrics, c->who, "metrics");
}

/* Stages 2-6 of a step: this rank's gradient in dr3_net_grads(l->online). */
static dr3_status gradient(step_ctx *c, float *srank) {
    dr3_learner *l = c->l;
    dr3_status st;
    if ((st = losses(c)) != DR3_OK) return st;
    bool want_srank = l->opts.srank_every > 0 && (l->steps + 1) % l->opts.srank_every == 0;
    if (want_srank) { /* before backward and the update: φ(s) of this batch */
        dr3_step_metrics tmp;
        if ((st = measure_srank(c, &tmp)) != DR3_OK) return st;
        *srank = tmp.srank;
    }
    return stage_backward(c);
}

/* A step on @p batch; with @p u8, s and s' are the raw frames in l->stacked_u8 (n =
 * batch_size rows each, [s; s'] contiguous) and the batch's obs/next_obs are not read. */
static dr3_status step_impl(dr3_learner *l, const dr3_batch *batch, dr3_step_metrics *m,
                            bool u8) {
    step_ctx c;
    dr3_step_metrics full;
    float srank = -1;
    dr3_status st = begin(&c, l, batch, m, "dr3_learner_step", u8);
    if (st == DR3_OK) st = gradient(&c, &srank);
    /* Data-parallel replicas (collective.c, experimental): the one allreduce averages the
     * gradients and loss parts of all ranks. Every rank reaches it, even after a local
     * failure above, so that all ranks fail the step together. */
    if (l != NULL && l->coll.on)
        st = dr3i_collective_reduce(l, st, c.n, &c.td_loss, &c.total_loss, c.who);
    if (st != DR3_OK) return st;
    if ((st = stage_optimize(&c)) != DR3_OK) return st;
    /* nothing below can fail: the step is committed */
    stage_target(&c);
    l->rng = c.rng;
    stage_measure(&c, &full);
    full.srank = srank;
    return finish(&c, m, &full);
}

dr3_status dr3_learner_step(dr3_learner *l, const dr3_batch *batch, dr3_step_metrics *m) {
    return step_impl(l, batch, m, false);
}

dr3_status dr3_learner_evaluate(dr3_learner *l, const dr3_batch *batch, dr3_step_metrics *m) {
    step_ctx c;
    dr3_step_metrics full;
    /* c.rng is a copy: evaluation never advances the learner's generator */
    dr3_status st = begin(&c, l, batch, m, "dr3_learner_evaluate", false);
    if (st != DR3_OK) return st;
    if ((st = losses(&c)) != DR3_OK) return st;
    stage_measure(&c, &full);
    if (l->srank_work != NULL && (st = measure_srank(&c, &full)) != DR3_OK) return st;
    return finish(&c, m, &full);
}

dr3_status dr3_learner_reg_loss(float *out, const dr3_learner *l, size_t index) {
    static const char who[] = "dr3_learner_reg_loss";
    if (out == NULL || l == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, out ? "learner" : "out");
    if (index >= l->num_reg)
        return dr3i_fail(DR3_ERR_RANGE, "%s: index %zu >= %zu regularizers", who, index,
                         l->num_reg);
    if (!l->have_last)
        return dr3i_fail(DR3_ERR_STATE, "%s: no step or evaluation has succeeded yet", who);
    *out = l->last_reg_loss[index];
    return DR3_OK;
}

size_t dr3_learner_num_regularizers(const dr3_learner *l) { return l ? l->num_reg : 0; }

/* ---- replay ----------------------------------------------------------------------------- */

dr3_status dr3_learner_step_replay(dr3_learner *l, const dr3_replay *replay,
                                   dr3_step_metrics *m) {
    static const char who[] = "dr3_learner_step_replay";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    const size_t S = l->opts.obs_dim, B = l->opts.batch_size;
    dr3_status st = DR3_OK;
    if (replay == NULL)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: replay is NULL", who);
    else if (dr3_replay_state_dim(replay) != S)
        st = dr3i_fail(DR3_ERR_SHAPE, "%s: replay states have %zu floats, the learner %zu", who,
                       dr3_replay_state_dim(replay), S);
    bool need_next = (l->backup_vt.needs & DR3_BACKUP_NEEDS_NEXT_ACTIONS) != 0;
    /* Pixels: a uint8 replay whose floats would be v/255 fills the raw [s; s'] frames, and
     * the networks scale them (dr3_net_forward_u8): no float batch is made. */
    bool u8 = false;
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    if (st == DR3_OK && l->u8_path && l->stacked_u8 != NULL &&
        dr3_replay_get_options(&ro, replay) == DR3_OK)
        u8 = ro.obs_dtype == DR3_DTYPE_U8 && ro.u8_scale == DR3_U8_SCALE_UNIT;
    dr3_replay_batch rb = DR3_REPLAY_BATCH_INIT;
    rb.need_next_action = need_next;
    if (u8) {
        rb.obs_u8 = l->stacked_u8;
        rb.ld_obs_u8 = S;
        rb.next_obs_u8 = l->stacked_u8 + B * S;
        rb.ld_next_obs_u8 = S;
    } else {
        rb.obs = l->rb_obs;
        rb.ld_obs = S;
        rb.next_obs = l->rb_next_obs;
        rb.ld_next_obs = S;
    }
    rb.actions = l->rb_actions;
    rb.next_actions = l->rb_next_actions;
    rb.rewards = l->rb_rewards;
    rb.discounts = l->rb_discounts;
    rb.terminals = l->rb_terminals;
    dr3_rng rng = l->rng;
    if (st == DR3_OK) st = dr3_replay_sample(replay, &rng, B, &rb);
    if (st != DR3_OK) { /* data-parallel: the other ranks wait in this step's allreduce */
        if (l->coll.on) return dr3i_collective_reduce(l, st, 0, NULL, NULL, who);
        return st;
    }
    dr3_batch b = DR3_BATCH_INIT;
    b.n = B;
    b.obs = u8 ? NULL : l->rb_obs;
    b.ld_obs = S;
    b.actions = l->rb_actions;
    b.rewards = l->rb_rewards;
    b.next_obs = u8 ? NULL : l->rb_next_obs;
    b.ld_next_obs = S;
    b.discounts = l->rb_discounts;
    b.terminals = l->rb_terminals;
    b.next_actions = need_next ? l->rb_next_actions : NULL;
    dr3_rng saved = l->rng;
    l->rng = rng; /* the step continues from the generator state after sampling */
    st = step_impl(l, &b, m, u8);
    if (st != DR3_OK) l->rng = saved;
    return st;
}

dr3_status dr3_learner_train(dr3_learner *l, const dr3_replay *replay, uint64_t steps,
                             uint64_t every, dr3_progress_fn progress, void *payload) {
    if (l == NULL || replay == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_learner_train: %s is NULL",
                         l == NULL ? "learner" : "replay");
    for (uint64_t s = 1; s <= steps; s++) {
        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        dr3_status st = dr3_learner_step_replay(l, replay, &m);
        if (st != DR3_OK) return st;
        if (progress != NULL && ((every > 0 && s % every == 0) || s == steps))
            if (progress(payload, &m) != 0) break;
    }
    return DR3_OK;
}

/* ---- acting ------------------------------------------------------------------------------ */

dr3_status dr3_learner_q_values(dr3_learner *l, size_t n, const float *obs, size_t ld_obs,
                                float *q, size_t ld_q) {
    static const char who[] = "dr3_learner_q_values";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    const size_t S = l->opts.obs_dim, A = l->opts.num_actions, chunk = 2 * l->opts.batch_size;
    if (n == 0) return DR3_OK;
    if (obs == NULL || q == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, obs ? "q" : "obs");
    if (ld_obs < S || ld_q < A)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_obs (%zu) < obs_dim or ld_q (%zu) < A",
                         who, ld_obs, ld_q);
    size_t span, bytes;
    if (!dr3i_span(n, S, ld_obs, &span) || !dr3i_mul(span, sizeof(float), &bytes) ||
        !dr3i_span(n, A, ld_q, &span) || !dr3i_mul(span, sizeof(float), &bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: sizes overflow", who);
    if (!dr3i_matrix_finite(obs, n, S, ld_obs))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs contains NaN or Inf", who);
    const size_t K = l->heads;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        if (K == 1) {
            dr3_status st = dr3_net_forward(l->online, m, obs + i * ld_obs, ld_obs, NULL, 0,
                                            q + i * ld_q, ld_q, NULL);
            if (st != DR3_OK) return st;
            continue;
        }
        /* several heads: their mean (the network's K·A outputs land in the step buffer,
         * free between steps) */
        dr3_status st = dr3_net_forward(l->online, m, obs + i * ld_obs, ld_obs, NULL, 0,
                                        l->q_net, K * A, NULL);
        if (st != DR3_OK) return st;
        for (size_t r = 0; r < m; r++)
            for (size_t a = 0; a < A; a++) {
                double v = 0;
                for (size_t k = 0; k < K; k++) v += l->q_net[r * K * A + k * A + a];
                q[(i + r) * ld_q + a] = (float)(v / (double)K);
            }
    }
    return DR3_OK;
}

dr3_status dr3_learner_act(dr3_learner *l, size_t n, const float *obs, size_t ld_obs,
                           float epsilon, dr3_rng *rng, int32_t *actions) {
    static const char who[] = "dr3_learner_act";
    if (l == NULL || (n > 0 && actions == NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "actions");
    if (!(epsilon >= 0 && epsilon <= 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: epsilon must be in [0, 1]", who);
    const size_t A = l->opts.num_actions, chunk = l->opts.batch_size;
    dr3_rng *g = rng ? rng : &l->rng;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        /* the target-sized Q buffer is free between steps */
        dr3_status st = dr3_learner_q_values(l, m, obs + i * ld_obs, ld_obs, l->q_target, A);
        if (st != DR3_OK) return st;
        for (size_t k = 0; k < m; k++) {
            const float *row = l->q_target + k * A;
            size_t best = 0;
            for (size_t a = 1; a < A; a++)
                if (row[a] > row[best]) best = a;
            if (epsilon > 0 && dr3_rng_uniform(g) < epsilon) best = (size_t)dr3_rng_below(g, A);
            actions[i + k] = (int32_t)best;
        }
    }
    return DR3_OK;
}
