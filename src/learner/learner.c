/* The learner (dr3/learner.h): one training step reads top to bottom as
 * validate → forward → backup → TD loss → regularizers → backward → guard → optimizer →
 * target update → metrics. Every buffer is allocated at creation for batch_size rows. */
#include <dr3/learner.h>

#include "../backup/backup.h"
#include "../core/internal.h"
#include "../regularizer/regularizer.h"
#include "learner_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- creation ---------------------------------------------------------------------- */

DR3I_DEFINE_STRUCT(dr3_learner_options, dr3_learner_options, DR3_LEARNER_OPTIONS_INIT,
                   DR3_LEARNER_OPTIONS_VERSION, sizeof(dr3_learner_options))

/* Checks the normalised options (already read through their version). */
static dr3_status check_options(dr3_learner_options *o, const char *who) {
    if (o->obs_dim == 0 || o->num_actions == 0 || o->batch_size == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: obs_dim, num_actions and batch_size must be > 0", who);
    if (o->num_actions > INT32_MAX)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: num_actions %zu does not fit int32", who,
                         o->num_actions);
    if (o->num_hidden > 0 && o->hidden == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: hidden is NULL with num_hidden = %zu", who,
                         o->num_hidden);
    if (!(o->gamma >= 0 && o->gamma <= 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: gamma must be in [0, 1]", who);
    if (o->td_kind != DR3_TD_MSE && o->td_kind != DR3_TD_HUBER)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown td_kind %d", who, (int)o->td_kind);
    if (o->td_kind == DR3_TD_HUBER && !(isfinite(o->huber_delta) && o->huber_delta > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: huber_delta must be finite and > 0", who);
    if (!(o->polyak_tau >= 0 && o->polyak_tau <= 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: polyak_tau must be in [0, 1]", who);
    if (o->polyak_tau == 0 && o->target_update_period == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: set target_update_period > 0 or polyak_tau > 0", who);
    if (o->num_regularizers > 0 && o->regularizers == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: regularizers is NULL", who);
    if (o->threads < 1) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    return DR3_OK;
}

/* One zeroed, aligned block of n*m elements of elem bytes from the handle's allocator;
 * keeps the first error in *st and then does nothing. */
static void *alloc_block(dr3_learner *l, size_t n, size_t m, size_t elem, dr3_status *st) {
    size_t count, bytes;
    if (*st != DR3_OK) return NULL;
    if (!dr3i_mul(n, m, &count) || !dr3i_mul(count, elem, &bytes)) {
        *st = dr3i_fail(DR3_ERR_OVERFLOW, "dr3_learner_create: workspace size overflows");
        return NULL;
    }
    void *p = dr3i_calloc(&l->alloc, bytes);
    if (p == NULL) *st = dr3i_fail(DR3_ERR_NOMEM, "dr3_learner_create: out of memory");
    return p;
}

static float *alloc_floats(dr3_learner *l, size_t n, size_t m, dr3_status *st) {
    return alloc_block(l, n, m, sizeof(float), st);
}

/* Grows the regularizer table and its loss arrays to hold @p count entries (outside steps:
 * creation and dr3_learner_add_regularizer). All-or-nothing. */
static dr3_status reserve_regularizers(dr3_learner *l, size_t count, const char *who) {
    if (count <= l->reg_cap) return DR3_OK;
    size_t cap = l->reg_cap ? l->reg_cap : 4;
    while (cap < count) cap *= 2;
    /* data-parallel: the step's allreduce carries each regularizer's loss (collective.c) */
    dr3_status st = dr3i_collective_reserve(l, cap, who);
    if (st != DR3_OK) return st;
    dr3i_learner_reg *reg = alloc_block(l, cap, 1, sizeof *reg, &st);
    float *loss = alloc_floats(l, cap, 1, &st);
    float *last = alloc_floats(l, cap, 1, &st);
    if (st != DR3_OK) {
        dr3i_free(&l->alloc, reg);
        dr3i_free(&l->alloc, loss);
        dr3i_free(&l->alloc, last);
        return dr3i_fail(st, "%s: out of memory for %zu regularizers", who, count);
    }
    if (l->num_reg > 0) {
        memcpy(reg, l->reg, l->num_reg * sizeof *reg);
        memcpy(last, l->last_reg_loss, l->num_reg * sizeof *last);
        /* built-ins point their payload at their own options: re-point into the new table */
        for (size_t i = 0; i < l->num_reg; i++)
            if (reg[i].is_builtin) reg[i].payload = &reg[i].builtin;
    }
    dr3i_free(&l->alloc, l->reg);
    dr3i_free(&l->alloc, l->reg_loss);
    dr3i_free(&l->alloc, l->last_reg_loss);
    l->reg = reg;
    l->reg_loss = loss;
    l->last_reg_loss = last;
    l->reg_cap = cap;
    return DR3_OK;
}

/* Creation with an MLP from the options, or (desc != NULL) the network a layer list
 * describes; obs_dim and num_actions may then be 0 (taken from the description) or must
 * agree with it. */
static dr3_status create(dr3_learner **out, const dr3_learner_options *opts,
                         const dr3_net_desc *desc, const char *who) {
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    dr3_status st =
        dr3i_struct_in(&o, opts, &dr3i_desc_dr3_learner_options, false, who, "options");
    if (st != DR3_OK) return st;
    if (desc != NULL) {
        if (desc->version == 0 || desc->version > DR3_NET_DESC_VERSION)
            return dr3i_fail(DR3_ERR_VERSION, "%s: desc has version %u (use DR3_NET_DESC_INIT)",
                             who, desc->version);
        size_t in = 0;
        if (!dr3i_mul(desc->in_channels, desc->in_height, &in) ||
            !dr3i_mul(in, desc->in_width, &in))
            return dr3i_fail(DR3_ERR_OVERFLOW, "%s: the description's input size overflows",
                             who);
        if (o.obs_dim == 0) o.obs_dim = in;
        if (o.num_actions == 0) o.num_actions = desc->action_dim;
        if (o.obs_dim != in || o.num_actions != desc->action_dim)
            return dr3i_fail(DR3_ERR_SHAPE,
                             "%s: options say %zu observation floats and %zu actions, the "
                             "description %zu (C·H·W) and %zu",
                             who, o.obs_dim, o.num_actions, in, desc->action_dim);
        o.num_hidden = 0; /* the layers come from the description */
        o.hidden = NULL;
        o.activation = desc->activation; /* recorded in checkpoints with the layers */
        o.activation_param = desc->activation_param;
    }
    if ((st = check_options(&o, who)) != DR3_OK) return st;
    if ((st = dr3i_runtime_ensure()) != DR3_OK) return st;
    dr3i_alloc alloc;
    if ((st = dr3i_alloc_init(&alloc, o.allocator, who)) != DR3_OK) return st;
    dr3_learner *l = dr3i_calloc(&alloc, sizeof *l);
    if (l == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    l->alloc = alloc;
    l->opts = o;
    l->opts.allocator = NULL; /* not kept: the hooks live in l->alloc */
    l->opts.optim = NULL;
    l->opts.backup = NULL;
    l->opts.regularizers = NULL;
    l->opts.hidden = NULL;
    const size_t B = o.batch_size, A = o.num_actions;

    /* networks: the online one sees the stacked [s; s'], so 2B rows */
    if (o.num_hidden > 0) {
        l->hidden = alloc_block(l, o.num_hidden, 1, sizeof(size_t), &st);
        if (l->hidden) memcpy(l->hidden, o.hidden, o.num_hidden * sizeof(size_t));
    }
    dr3_net_options no = DR3_NET_OPTIONS_INIT;
    no.obs_dim = o.obs_dim;
    no.action_dim = A;
    no.num_hidden = o.num_hidden;
    no.hidden = l->hidden;
    no.activation = o.activation;
    no.activation_param = o.activation_param;
    no.head = DR3_HEAD_DISCRETE_Q;
    no.max_batch = 2 * B;
    no.seed = o.seed;
    no.threads = o.threads;
    no.allocator = o.allocator;
    if (2 * B < B) st = dr3i_fail(DR3_ERR_OVERFLOW, "%s: batch_size too large", who);
    if (st == DR3_OK)
        st =
            desc ? dr3_net_create_desc(&l->online, desc, &no) : dr3_net_create(&l->online, &no);
    if (st == DR3_OK) {
        no.max_batch = B;
        st =
            desc ? dr3_net_create_desc(&l->target, desc, &no) : dr3_net_create(&l->target, &no);
    }
    l->from_desc = desc != NULL;
    if (st == DR3_OK) st = dr3_net_copy_params(l->target, l->online);
    if (st == DR3_OK) {
        l->param_count = dr3_net_param_count(l->online);
        l->feature_dim = dr3_net_feature_dim(l->online);
        /* the caller's optimizer options (read through their version), or Adam at 3e-4; the
         * learner's allocator serves the optimizer too unless the options name their own */
        dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
        oo.lr = 3e-4f;
        if (o.optim != NULL)
            st = dr3i_struct_in(&oo, o.optim, &dr3i_desc_dr3_optim_options, false, who,
                                "optim options");
        if (st == DR3_OK && oo.allocator == NULL) oo.allocator = o.allocator;
        if (st == DR3_OK) st = dr3_optim_create(&l->optim, l->param_count, &oo);
    }

    /* backup and regularizers */
    if (st == DR3_OK) st = dr3i_backup_options_load(&l->backup_opts, o.backup, who);
    if (st == DR3_OK) {
        l->backup_vt = dr3i_backup_builtin_vtable(&l->backup_opts);
        l->backup_payload = &l->backup_opts;
        l->backup_builtin = true;
    }
    if (st == DR3_OK) st = reserve_regularizers(l, o.num_regularizers, who);
    for (size_t i = 0; st == DR3_OK && i < o.num_regularizers; i++) {
        dr3i_learner_reg *r = &l->reg[i];
        st = dr3i_regularizer_options_load(&r->builtin, o.regularizers[i], who);
        if (st != DR3_OK) break;
        r->vt = dr3i_regularizer_builtin_vtable(&r->builtin);
        r->payload = &r->builtin;
        r->is_builtin = 1;
        r->touches_params = r->builtin.kind == DR3_REG_L2;
        l->num_reg = i + 1;
    }

    /* workspace */
    const size_t D = l->feature_dim, S = o.obs_dim;
    l->stacked = alloc_floats(l, 2 * B, S, &st);
    l->q_all = alloc_floats(l, 2 * B, A, &st);
    l->q_target = alloc_floats(l, B, A, &st);
    l->values = alloc_floats(l, B, 1, &st);
    l->targets = alloc_floats(l, B, 1, &st);
    l->q_taken = alloc_floats(l, B, 1, &st);
    l->g_taken = alloc_floats(l, B, 1, &st);
    l->discounts = alloc_floats(l, B, 1, &st);
    l->nonterminal = alloc_floats(l, B, 1, &st);
    l->grad_out = alloc_floats(l, 2 * B, A, &st);
    l->grad_feat = alloc_floats(l, 2 * B, D, &st);
    l->phi_next_buf = alloc_floats(l, B, D, &st);
    l->scratch = alloc_floats(l, B, A, &st);
    l->param_grad = alloc_floats(l, l->param_count, 1, &st);
    /* multi-head networks: the network's K·A outputs per row next to the combined A */
    l->heads = l->online ? dr3_net_output_dim(l->online) / A : 1;
    l->heads_mode = DR3_HEADS_REM;
    l->head_w = alloc_floats(l, l->heads, 1, &st);
    l->last_head_w = alloc_floats(l, l->heads, 1, &st);
    l->head_q = alloc_floats(l, B, 1, &st);
    l->head_g = alloc_floats(l, B, 1, &st);
    l->fixed_w = alloc_floats(l, l->heads, 1, &st);
    l->hs_mean_q = alloc_floats(l, l->heads, 1, &st);
    l->hs_td = alloc_floats(l, l->heads, 1, &st);
    l->last_hs_mean_q = alloc_floats(l, l->heads, 1, &st);
    l->last_hs_td = alloc_floats(l, l->heads, 1, &st);
    if (desc != NULL) { /* uint8 frames of [s; s'] for pixel replays */
        l->stacked_u8 = alloc_block(l, 2 * B, S, 1, &st);
        l->u8_path = true;
    }
    if (l->heads > 1) {
        l->q_net = alloc_floats(l, 2 * B, l->heads * A, &st);
        l->qt_net = alloc_floats(l, B, l->heads * A, &st);
        l->grad_net = alloc_floats(l, 2 * B, l->heads * A, &st);
    } else {
        l->q_net = l->q_all;
        l->qt_net = l->q_target;
        l->grad_net = l->grad_out;
    }
    for (size_t k = 0; st == DR3_OK && k < l->heads; k++)
        l->head_w[k] = l->last_head_w[k] = 1.0f / (float)l->heads;
    /* replay batch buffers (dr3_learner_step_replay) */
    l->rb_obs = alloc_floats(l, B, S, &st);
    l->rb_next_obs = alloc_floats(l, B, S, &st);
    l->rb_rewards = alloc_floats(l, B, 1, &st);
    l->rb_discounts = alloc_floats(l, B, 1, &st);
    l->rb_actions = alloc_block(l, B, 1, sizeof(int32_t), &st);
    l->rb_next_actions = alloc_block(l, B, 1, sizeof(int32_t), &st);
    l->rb_terminals = alloc_block(l, B, 1, 1, &st);
    if (o.srank_every > 0) {
        size_t wl = dr3_srank_workspace(B, D);
        if (wl == 0 && st == DR3_OK)
            st = dr3i_fail(DR3_ERR_OVERFLOW, "%s: srank workspace", who);
        l->srank_work_len = wl;
        l->srank_work = alloc_block(l, wl, 1, sizeof(double), &st);
    }
    if (st != DR3_OK) {
        dr3_learner_free(l);
        return st;
    }
    dr3_rng_seed(&l->rng, o.seed ^ 0x6c65617264723321ULL); /* distinct from the weights' */
    *out = l;
    return DR3_OK;
}

dr3_status dr3_learner_create(dr3_learner **out, const dr3_learner_options *opts) {
    return create(out, opts, NULL, "dr3_learner_create");
}

dr3_status dr3_learner_set_heads_mode(dr3_learner *l, dr3_heads_mode mode) {
    static const char who[] = "dr3_learner_set_heads_mode";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (mode != DR3_HEADS_REM && mode != DR3_HEADS_MEAN && mode != DR3_HEADS_MIN)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown mode %d", who, (int)mode);
    l->heads_mode = (int)mode;
    return DR3_OK;
}

dr3_status dr3_learner_head_weights(float *out, size_t k, const dr3_learner *l) {
    static const char who[] = "dr3_learner_head_weights";
    if (out == NULL || l == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (k != l->heads)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: the learner has %zu heads, not %zu", who, l->heads,
                         k);
    memcpy(out, l->last_head_w, k * sizeof(float));
    return DR3_OK;
}

dr3_status dr3_learner_set_head_weights(dr3_learner *l, const float *w, size_t k) {
    static const char who[] = "dr3_learner_set_head_weights";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (w == NULL) {
        l->have_fixed_w = false;
        return DR3_OK;
    }
    if (k != l->heads)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: the learner has %zu heads, not %zu", who, l->heads,
                         k);
    double sum = 0;
    for (size_t j = 0; j < k; j++) {
        if (!(isfinite(w[j]) && w[j] >= 0))
            return dr3i_fail(DR3_ERR_RANGE, "%s: w[%zu] = %g must be finite and >= 0", who, j,
                             (double)w[j]);
        sum += w[j];
    }
    if (!(fabs(sum - 1.0) <= 1e-4))
        return dr3i_fail(DR3_ERR_RANGE, "%s: the weights sum to %.9g, not 1", who, sum);
    memcpy(l->fixed_w, w, k * sizeof(float));
    l->have_fixed_w = true;
    return DR3_OK;
}

dr3_status dr3_learner_head_stats(const dr3_learner *l, size_t k, float *mean_q, float *td_loss,
                                  float *disagreement) {
    static const char who[] = "dr3_learner_head_stats";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (k != l->heads)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: the learner has %zu heads, not %zu", who, l->heads,
                         k);
    if (!l->have_last)
        return dr3i_fail(DR3_ERR_STATE, "%s: no step or evaluation has succeeded yet", who);
    if (mean_q != NULL) memcpy(mean_q, l->last_hs_mean_q, k * sizeof(float));
    if (td_loss != NULL) memcpy(td_loss, l->last_hs_td, k * sizeof(float));
    if (disagreement != NULL) *disagreement = l->last_hs_disagreement;
    return DR3_OK;
}

dr3_status dr3_learner_create_desc(dr3_learner **out, const dr3_learner_options *opts,
                                   const dr3_net_desc *desc) {
    static const char who[] = "dr3_learner_create_desc";
    if (desc == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: desc is NULL", who);
    return create(out, opts, desc, who);
}

void dr3_learner_free(dr3_learner *l) {
    if (l == NULL) return;
    if (l->backup_vt.destroy) l->backup_vt.destroy(l->backup_payload);
    for (size_t i = 0; i < l->num_reg; i++)
        if (l->reg[i].vt.destroy) l->reg[i].vt.destroy(l->reg[i].payload);
    dr3_net_free(l->online);
    dr3_net_free(l->target);
    dr3_optim_free(l->optim);
    dr3i_collective_free(l); /* the collective's destroy and its buffer */
    void *bufs[] = {l->hidden,       l->stacked,         l->q_all,        l->q_target,
                    l->values,       l->targets,         l->q_taken,      l->g_taken,
                    l->discounts,    l->nonterminal,     l->grad_out,     l->grad_feat,
                    l->phi_next_buf, l->scratch,         l->param_grad,   l->reg_loss,
                    l->rb_obs,       l->rb_next_obs,     l->rb_rewards,   l->rb_discounts,
                    l->rb_actions,   l->rb_next_actions, l->rb_terminals, l->srank_work,
                    l->reg,          l->last_reg_loss};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dr3i_free(&l->alloc, bufs[i]);
    void *heads[] = {l->head_w,     l->last_head_w, l->head_q, l->head_g,
                     l->fixed_w,    l->hs_mean_q,   l->hs_td,  l->last_hs_mean_q,
                     l->last_hs_td, l->stacked_u8};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) dr3i_free(&l->alloc, heads[i]);
    if (l->heads > 1) { /* else aliases of q_all, q_target, grad_out */
        dr3i_free(&l->alloc, l->q_net);
        dr3i_free(&l->alloc, l->qt_net);
        dr3i_free(&l->alloc, l->grad_net);
    }
    dr3i_alloc a = l->alloc;
    dr3i_free(&a, l);
}

dr3_status dr3_learner_set_backup(dr3_learner *l, const dr3_backup_vtable *vt, void *payload) {
    static const char who[] = "dr3_learner_set_backup";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    dr3_backup_vtable loaded;
    dr3_status st = dr3i_backup_vtable_load(&loaded, vt, who);
    if (st != DR3_OK) return st;
    if (l->backup_vt.destroy) l->backup_vt.destroy(l->backup_payload);
    l->backup_vt = loaded;
    l->backup_payload = payload;
    l->backup_builtin = false;
    return DR3_OK;
}

dr3_status dr3_learner_add_regularizer(dr3_learner *l, const dr3_regularizer_vtable *vt,
                                       void *payload) {
    static const char who[] = "dr3_learner_add_regularizer";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    dr3i_learner_reg r;
    memset(&r, 0, sizeof r);
    dr3_status st = dr3i_regularizer_vtable_load(&r.vt, vt, who);
    if (st != DR3_OK) return st;
    if ((st = reserve_regularizers(l, l->num_reg + 1, who)) != DR3_OK) return st;
    r.payload = payload;
    r.touches_params = 1; /* a user term may add parameter gradients */
    l->reg[l->num_reg++] = r;
    return DR3_OK;
}

uint64_t dr3_learner_step_count(const dr3_learner *l) { return l ? l->steps : 0; }
dr3_net *dr3_learner_online(dr3_learner *l) { return l ? l->online : NULL; }
dr3_net *dr3_learner_target(dr3_learner *l) { return l ? l->target : NULL; }

dr3_status dr3_learner_set_lr(dr3_learner *l, float lr) {
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_learner_set_lr: learner is NULL");
    return dr3_optim_set_lr(l->optim, lr);
}

/* ---- parameters that change between steps ------------------------------------------- */

typedef struct param_info {
    dr3_learner_param key;
    const char *name;
    double min, max;
} param_info;

static const param_info params[] = {
    {DR3_LEARNER_LR, "lr", 0.0, FLT_MAX},
    {DR3_LEARNER_POLYAK_TAU, "polyak_tau", 0.0, 1.0},
    {DR3_LEARNER_TARGET_PERIOD, "target_period", 1.0, 9007199254740992.0},
    {DR3_LEARNER_GAMMA, "gamma", 0.0, 1.0},
    {DR3_LEARNER_HUBER_DELTA, "huber_delta", FLT_MIN, FLT_MAX},
    {DR3_LEARNER_THREADS, "threads", 1.0, 1024.0},
};

static const param_info *param_find(dr3_learner_param key) {
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (params[i].key == key) return &params[i];
    return NULL;
}

const char *dr3_learner_param_name(dr3_learner_param param) {
    const param_info *p = param_find(param);
    return p ? p->name : NULL;
}

dr3_status dr3_learner_param_parse(dr3_learner_param *out, const char *name) {
    static const char who[] = "dr3_learner_param_parse";
    if (out == NULL || name == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (strcmp(params[i].name, name) == 0) {
            *out = params[i].key;
            return DR3_OK;
        }
    return dr3i_fail(DR3_ERR_INVALID_ARG,
                     "%s: unknown parameter '%s' (expected lr, polyak_tau, target_period, "
                     "gamma, huber_delta or threads)",
                     who, name);
}

dr3_status dr3_learner_param_bounds(dr3_learner_param param, double *min, double *max) {
    static const char who[] = "dr3_learner_param_bounds";
    if (min == NULL || max == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    const param_info *p = param_find(param);
    if (p == NULL)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: unknown parameter %d", who, (int)param);
    *min = p->min;
    *max = p->max;
    return DR3_OK;
}

dr3_status dr3_learner_set_param(dr3_learner *l, dr3_learner_param param, double value) {
    static const char who[] = "dr3_learner_set_param";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    const param_info *p = param_find(param);
    if (p == NULL)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: unknown parameter %d", who, (int)param);
    if (!(value >= p->min && value <= p->max))
        return dr3i_fail(DR3_ERR_RANGE, "%s: %s = %g is outside [%g, %g]", who, p->name, value,
                         p->min, p->max);
    switch (param) {
    case DR3_LEARNER_LR:
        return dr3_optim_set_lr(l->optim, (float)value);
    case DR3_LEARNER_POLYAK_TAU:
        if (value == 0 && l->opts.target_update_period == 0)
            return dr3i_fail(DR3_ERR_RANGE,
                             "%s: polyak_tau = 0 needs a target_period (set it first)", who);
        l->opts.polyak_tau = (float)value;
        return DR3_OK;
    case DR3_LEARNER_TARGET_PERIOD:
        if (value != floor(value))
            return dr3i_fail(DR3_ERR_RANGE, "%s: target_period must be an integer", who);
        l->opts.target_update_period = (size_t)value;
        return DR3_OK;
    case DR3_LEARNER_GAMMA:
        l->opts.gamma = (float)value;
        return DR3_OK;
    case DR3_LEARNER_HUBER_DELTA:
        l->opts.huber_delta = (float)value;
        return DR3_OK;
    case DR3_LEARNER_THREADS: {
        if (value != floor(value))
            return dr3i_fail(DR3_ERR_RANGE, "%s: threads must be an integer", who);
        dr3_status st = dr3_net_set_threads(l->online, (int)value);
        if (st == DR3_OK) {
            st = dr3_net_set_threads(l->target, (int)value);
            /* the target refused (out of memory for its convolution slots): the online
             * network goes back to the old count, which needs no memory it does not have */
            if (st != DR3_OK) (void)dr3_net_set_threads(l->online, l->opts.threads);
        }
        if (st == DR3_OK) l->opts.threads = (int)value;
        return st;
    }
    }
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: unknown parameter %d", who, (int)param);
}

dr3_status dr3_learner_get_param(double *out, const dr3_learner *l, dr3_learner_param param) {
    static const char who[] = "dr3_learner_get_param";
    if (out == NULL || l == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    switch (param) {
    case DR3_LEARNER_LR:
        *out = dr3_optim_get_lr(l->optim);
        return DR3_OK;
    case DR3_LEARNER_POLYAK_TAU:
        *out = l->opts.polyak_tau;
        return DR3_OK;
    case DR3_LEARNER_TARGET_PERIOD:
        *out = (double)l->opts.target_update_period;
        return DR3_OK;
    case DR3_LEARNER_GAMMA:
        *out = l->opts.gamma;
        return DR3_OK;
    case DR3_LEARNER_HUBER_DELTA:
        *out = l->opts.huber_delta;
        return DR3_OK;
    case DR3_LEARNER_THREADS:
        *out = l->opts.threads;
        return DR3_OK;
    }
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: unknown parameter %d", who, (int)param);
}

dr3_status dr3_learner_set_reg_coef(dr3_learner *l, size_t index, float coef) {
    static const char who[] = "dr3_learner_set_reg_coef";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (index >= l->num_reg)
        return dr3i_fail(DR3_ERR_RANGE, "%s: index %zu >= %zu regularizers", who, index,
                         l->num_reg);
    if (!l->reg[index].is_builtin)
        return dr3i_fail(DR3_ERR_STATE,
                         "%s: regularizer %zu ('%s') is a plugin; its payload holds its "
                         "settings",
                         who, index, l->reg[index].vt.name ? l->reg[index].vt.name : "unnamed");
    if (!(isfinite(coef) && coef >= 0))
        return dr3i_fail(DR3_ERR_RANGE, "%s: coefficient must be finite and >= 0", who);
    l->reg[index].builtin.coef = coef;
    return DR3_OK;
}
