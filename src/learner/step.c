/* dr3_learner_step and friends: the training step, evaluation, acting. */
#include "learner_internal.h"

#include <string.h>

/* ---- the batch ------------------------------------------------------------------------ */

/* Checks the batch and copies s and s' into the stacked input, filling discounts and the
 * non-terminal mask. Writes only workspace. */
static dr3_status load_batch(dr3_learner *l, const dr3_batch *b, const char *who) {
    const dr3_learner_options *o = &l->opts;
    if (b == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch is NULL", who);
    if (b->struct_size < offsetof(dr3_batch, ld_next_obs) + sizeof(size_t))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch struct_size %zu is too small", who,
                         b->struct_size);
    dr3_batch x = DR3_BATCH_INIT;
    memcpy(&x, b, b->struct_size < sizeof x ? b->struct_size : sizeof x);
    const size_t n = x.n, S = o->obs_dim;
    if (n == 0 || n > o->batch_size)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch n = %zu must be in 1..%zu", who, n,
                         o->batch_size);
    if (x.obs == NULL || x.actions == NULL || x.rewards == NULL || x.next_obs == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch %s is NULL", who,
                         x.obs == NULL       ? "obs"
                         : x.actions == NULL ? "actions"
                         : x.rewards == NULL ? "rewards"
                                             : "next_obs");
    if (x.ld_obs < S || x.ld_next_obs < S)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: batch row stride (%zu, %zu) < obs_dim %zu",
                         who, x.ld_obs, x.ld_next_obs, S);
    if ((l->backup_vt.requires & DR3_BACKUP_NEEDS_NEXT_ACTIONS) && x.next_actions == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: the backup needs the dataset's next actions (batch next_actions "
                         "is NULL)",
                         who);
    for (size_t i = 0; i < n; i++) {
        if (x.actions[i] < 0 || (size_t)x.actions[i] >= o->num_actions)
            return dr3i_fail(DR3_ERR_RANGE, "%s: actions[%zu] = %d is outside [0, %zu)", who, i,
                             (int)x.actions[i], o->num_actions);
        if (x.next_actions != NULL &&
            (x.next_actions[i] < 0 || (size_t)x.next_actions[i] >= o->num_actions))
            return dr3i_fail(DR3_ERR_RANGE, "%s: next_actions[%zu] = %d is outside [0, %zu)",
                             who, i, (int)x.next_actions[i], o->num_actions);
        if (!isfinite(x.rewards[i]))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: rewards[%zu] is not finite", who, i);
        float d = x.discounts ? x.discounts[i]
                              : o->gamma * (x.terminals && x.terminals[i] ? 0.0f : 1.0f);
        if (!(d >= 0 && d <= 1))
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: discounts[%zu] = %g is outside [0, 1]",
                             who, i, (double)d);
        if (x.weights != NULL && !(isfinite(x.weights[i]) && x.weights[i] >= 0))
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: weights[%zu] must be finite and >= 0",
                             who, i);
        l->discounts[i] = d;
        l->nonterminal[i] =
            x.terminals ? (x.terminals[i] ? 0.0f : 1.0f) : (d > 0 ? 1.0f : 0.0f);
    }
    if (!dr3i_matrix_finite(x.obs, n, S, x.ld_obs))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs contains NaN or Inf", who);
    if (!dr3i_matrix_finite(x.next_obs, n, S, x.ld_next_obs))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: next_obs contains NaN or Inf", who);
    for (size_t i = 0; i < n; i++) {
        memcpy(l->stacked + i * S, x.obs + i * x.ld_obs, S * sizeof(float));
        memcpy(l->stacked + (n + i) * S, x.next_obs + i * x.ld_next_obs, S * sizeof(float));
    }
    return DR3_OK;
}

/* ---- forward, backup, losses ------------------------------------------------------------ */

/* Everything up to and including the gradients w.r.t. the network outputs and features.
 * Touches only workspace and the networks' forward caches; the learner's generator is used
 * through *rng (a copy the caller commits on success). */
static dr3_status forward_and_losses(dr3_learner *l, const dr3_batch *b, dr3_rng *rng,
                                     dr3_step_metrics *m, const float **phi_out,
                                     const char *who) {
    const size_t n = b->n, A = l->opts.num_actions, D = l->feature_dim;
    const size_t S = l->opts.obs_dim;
    const float *phi = NULL;
    dr3_status st;

    /* 1. one online pass over [s; s'], one target pass over s' */
    st = dr3_net_forward(l->online, 2 * n, l->stacked, S, NULL, 0, l->q_all, A, &phi);
    if (st != DR3_OK) return st;
    st = dr3_net_forward(l->target, n, l->stacked + n * S, S, NULL, 0, l->q_target, A, NULL);
    if (st != DR3_OK) return st;
    const float *q = l->q_all, *q_next = l->q_all + n * A;
    const float *phi_s = phi, *phi_next = phi + n * D;

    /* 2. backup: V(s') and the TD targets */
    dr3_backup_input in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.n = n;
    in.num_actions = A;
    in.obs_dim = S;
    in.next_obs = l->stacked + n * S;
    in.ld_next_obs = S;
    in.q_next_online = q_next;
    in.ld_q_next_online = A;
    in.q_next_target = l->q_target;
    in.ld_q_next_target = A;
    in.next_actions = b->next_actions;
    in.rng = rng;
    in.scratch = l->scratch;
    in.scratch_len = n * A;
    dr3_clear_error();
    if (l->backup_vt.next_values(l->backup_payload, &in, l->values) != 0)
        return dr3i_fail(DR3_ERR_CALLBACK, "%s: backup '%s' failed%s%s", who,
                         l->backup_vt.name ? l->backup_vt.name : "(unnamed)",
                         dr3_last_error()[0] ? ": " : "", dr3_last_error());
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(l->values[i]))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: the backup gave a non-finite V(s'_%zu)",
                             who, i);
        l->targets[i] = b->rewards[i] + l->discounts[i] * l->values[i];
        l->q_taken[i] = q[i * A + (size_t)b->actions[i]];
    }

    /* 3. TD loss; its gradient enters at Q(s_i, a_i) */
    memset(l->g_taken, 0, n * sizeof(float));
    float td;
    const float *weights = b->struct_size > offsetof(dr3_batch, weights) ? b->weights : NULL;
    st = dr3_td_loss(n, l->q_taken, l->targets, weights, l->opts.td_kind, l->opts.huber_delta,
                     &td, l->g_taken);
    if (st != DR3_OK) return st;
    memset(l->grad_out, 0, 2 * n * A * sizeof(float));
    memset(l->grad_feat, 0, 2 * n * D * sizeof(float));
    for (size_t i = 0; i < n; i++) l->grad_out[i * A + (size_t)b->actions[i]] = l->g_taken[i];

    /* 4. regularizers see the step and add their gradients */
    bool params_touched = false;
    for (size_t r = 0; r < l->num_reg; r++) params_touched |= l->reg[r].touches_params != 0;
    if (params_touched) memset(l->param_grad, 0, l->param_count * sizeof(float));
    dr3_reg_view view = {sizeof(dr3_reg_view),
                         n,
                         D,
                         A,
                         l->param_count,
                         phi_s,
                         D,
                         phi_next,
                         D,
                         q,
                         A,
                         q_next,
                         A,
                         b->actions,
                         b->next_actions,
                         l->discounts,
                         l->nonterminal,
                         dr3_net_params(l->online),
                         l->steps};
    dr3_reg_grads grads = {sizeof(dr3_reg_grads),
                           l->grad_feat,
                           D,
                           l->grad_feat + n * D,
                           D,
                           l->grad_out,
                           A,
                           l->grad_out + n * A,
                           A,
                           l->param_grad};
    double total = td;
    for (size_t r = 0; r < l->num_reg; r++) {
        float loss = 0;
        dr3_clear_error();
        if (l->reg[r].vt.apply(l->reg[r].payload, &view, &grads, &loss) != 0)
            return dr3i_fail(DR3_ERR_CALLBACK, "%s: regularizer %zu ('%s') failed%s%s", who, r,
                             l->reg[r].vt.name ? l->reg[r].vt.name : "unnamed",
                             dr3_last_error()[0] ? ": " : "", dr3_last_error());
        if (!isfinite(loss))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: regularizer %zu gave a non-finite loss",
                             who, r);
        l->reg_loss[r] = loss;
        total += loss;
    }
    if (!isfinite(total))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: the loss is not finite", who);

    /* metrics that need only the forward pass (into the caller's full-size local copy) */
    {
        dr3_step_metrics full = DR3_STEP_METRICS_INIT;
        full.loss = (float)total;
        full.td_loss = td;
        full.num_regularizers = l->num_reg;
        for (size_t r = 0; r < l->num_reg; r++) full.reg_loss[r] = l->reg_loss[r];
        double sq = 0, st_ = 0, dot = 0, cosv = 0, nrm = 0;
        for (size_t i = 0; i < n; i++) {
            sq += l->q_taken[i];
            st_ += l->targets[i];
            double d = 0, a2 = 0, b2 = 0;
            for (size_t j = 0; j < D; j++) {
                double x = phi_s[i * D + j], y = phi_next[i * D + j];
                d += x * y;
                a2 += x * x;
                b2 += y * y;
            }
            dot += d;
            nrm += sqrt(a2);
            if (a2 > 0 && b2 > 0) cosv += d / sqrt(a2 * b2);
        }
        size_t dead = 0;
        for (size_t j = 0; j < D; j++) {
            bool alive = false;
            for (size_t i = 0; i < 2 * n && !alive; i++) alive = phi[i * D + j] != 0.0f;
            dead += !alive;
        }
        full.mean_q = (float)(sq / n);
        full.mean_target = (float)(st_ / n);
        full.feature_dot = (float)(dot / n);
        full.feature_cos = (float)(cosv / n);
        full.feature_norm = (float)(nrm / n);
        full.dead_fraction = D ? (float)dead / (float)D : 0.0f;
        *m = full;
    }
    if (phi_out) *phi_out = phi;
    return DR3_OK;
}

static dr3_status check_metrics_arg(const dr3_step_metrics *m, const char *who) {
    if (m != NULL && m->struct_size < sizeof(size_t) + sizeof(uint64_t))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: metrics struct_size %zu is too small", who,
                         m->struct_size);
    return DR3_OK;
}

/* Copies the full metrics into the caller's struct, up to its struct_size. */
static void give_metrics(dr3_step_metrics *out, const dr3_step_metrics *full) {
    if (out == NULL) return;
    size_t keep = out->struct_size < sizeof *full ? out->struct_size : sizeof *full;
    size_t caller_size = out->struct_size;
    memcpy(out, full, keep);
    out->struct_size = caller_size;
}

dr3_status dr3_learner_step(dr3_learner *l, const dr3_batch *batch, dr3_step_metrics *m) {
    static const char who[] = "dr3_learner_step";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    dr3_status st = check_metrics_arg(m, who);
    if (st != DR3_OK) return st;
    if ((st = load_batch(l, batch, who)) != DR3_OK) return st;
    const size_t n = batch->n;
    dr3_rng rng = l->rng; /* committed only if the step succeeds */
    const float *phi = NULL;
    dr3_step_metrics full;
    if ((st = forward_and_losses(l, batch, &rng, &full, &phi, who)) != DR3_OK) return st;

    /* srank of φ(s) before the update, on the steps that asked for it */
    if (l->opts.srank_every > 0 && (l->steps + 1) % l->opts.srank_every == 0) {
        size_t rank = 0;
        st = dr3_srank(n, l->feature_dim, phi, l->feature_dim, 0.01, l->srank_work,
                       l->srank_work_len, &rank, NULL);
        if (st != DR3_OK) return st;
        full.srank = (float)rank;
    }

    /* 5. one backward pass over the 2n rows, then direct parameter terms */
    st = dr3_net_backward(l->online, 2 * n, l->grad_out, l->opts.num_actions, l->grad_feat,
                          l->feature_dim, NULL, 0, 0);
    if (st != DR3_OK) return st;
    float *grads = dr3_net_grads(l->online);
    bool params_touched = false;
    for (size_t r = 0; r < l->num_reg; r++) params_touched |= l->reg[r].touches_params != 0;
    if (params_touched)
        for (size_t k = 0; k < l->param_count; k++) grads[k] += l->param_grad[k];

    /* 6. guard, clip, update: the optimizer rejects non-finite gradients untouched */
    float gnorm = 0;
    st = dr3_optim_step(l->optim, dr3_net_params(l->online), grads, l->param_count, &gnorm);
    if (st != DR3_OK) return st;

    /* 7. target network */
    l->steps++;
    if (l->opts.polyak_tau > 0)
        st = dr3_net_polyak(l->target, l->online, l->opts.polyak_tau);
    else if (l->steps % l->opts.target_update_period == 0)
        st = dr3_net_copy_params(l->target, l->online);
    if (st != DR3_OK) return dr3i_fail(DR3_ERR_INTERNAL, "%s: target update failed", who);
    l->rng = rng;
    full.step = l->steps;
    full.grad_norm = gnorm;
    give_metrics(m, &full);
    return DR3_OK;
}

dr3_status dr3_learner_evaluate(dr3_learner *l, const dr3_batch *batch, dr3_step_metrics *m) {
    static const char who[] = "dr3_learner_evaluate";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    dr3_status st = check_metrics_arg(m, who);
    if (st != DR3_OK) return st;
    if ((st = load_batch(l, batch, who)) != DR3_OK) return st;
    dr3_rng rng = l->rng; /* a copy: evaluation never advances the learner's generator */
    const float *phi = NULL;
    dr3_step_metrics full;
    if ((st = forward_and_losses(l, batch, &rng, &full, &phi, who)) != DR3_OK) return st;
    if (l->srank_work != NULL) {
        size_t rank = 0;
        st = dr3_srank(batch->n, l->feature_dim, phi, l->feature_dim, 0.01, l->srank_work,
                       l->srank_work_len, &rank, NULL);
        if (st != DR3_OK) return st;
        full.srank = (float)rank;
    }
    full.step = l->steps;
    give_metrics(m, &full);
    return DR3_OK;
}

/* ---- replay ----------------------------------------------------------------------------- */

dr3_status dr3_learner_step_replay(dr3_learner *l, const dr3_replay *replay,
                                   dr3_step_metrics *m) {
    static const char who[] = "dr3_learner_step_replay";
    if (l == NULL || replay == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "replay");
    const size_t S = l->opts.obs_dim, B = l->opts.batch_size;
    if (dr3_replay_state_dim(replay) != S)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: replay states have %zu floats, the learner %zu",
                         who, dr3_replay_state_dim(replay), S);
    bool need_next = (l->backup_vt.requires & DR3_BACKUP_NEEDS_NEXT_ACTIONS) != 0;
    dr3_replay_batch rb = DR3_REPLAY_BATCH_INIT;
    rb.need_next_action = need_next;
    rb.obs = l->rb_obs;
    rb.ld_obs = S;
    rb.next_obs = l->rb_next_obs;
    rb.ld_next_obs = S;
    rb.actions = l->rb_actions;
    rb.next_actions = l->rb_next_actions;
    rb.rewards = l->rb_rewards;
    rb.discounts = l->rb_discounts;
    rb.terminals = l->rb_terminals;
    dr3_rng rng = l->rng;
    dr3_status st = dr3_replay_sample(replay, &rng, B, &rb);
    if (st != DR3_OK) return st;
    dr3_batch b = DR3_BATCH_INIT;
    b.n = B;
    b.obs = l->rb_obs;
    b.ld_obs = S;
    b.actions = l->rb_actions;
    b.rewards = l->rb_rewards;
    b.next_obs = l->rb_next_obs;
    b.ld_next_obs = S;
    b.discounts = l->rb_discounts;
    b.terminals = l->rb_terminals;
    b.next_actions = need_next ? l->rb_next_actions : NULL;
    dr3_rng saved = l->rng;
    l->rng = rng; /* the step continues from the generator state after sampling */
    st = dr3_learner_step(l, &b, m);
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
    size_t span;
    if (!dr3i_span(n, S, ld_obs, &span) || !dr3i_span(n, A, ld_q, &span))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: sizes overflow", who);
    if (!dr3i_matrix_finite(obs, n, S, ld_obs))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs contains NaN or Inf", who);
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        dr3_status st = dr3_net_forward(l->online, m, obs + i * ld_obs, ld_obs, NULL, 0,
                                        q + i * ld_q, ld_q, NULL);
        if (st != DR3_OK) return st;
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
