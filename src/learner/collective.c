/* Data-parallel training (dr3/sys/collective.h, experimental): a learner as one replica of
 * N, kept identical by one allreduce per step.
 *
 * The step's allreduce buffer (allocated here, outside steps) is
 *
 *   [ n·g (P floats) | failed | n | n·td_loss | n·loss | fingerprint (16) | n·reg_loss (R) ]
 *
 * so gradients and losses are averaged weighted by rows (N ranks with b rows each take the
 * step one process takes on the N·b rows), a rank that failed locally makes every rank
 * fail, and replicas that drifted apart are caught (docs/mpi.md).
 *
 * Fingerprints: a 32-bit hash cut into 8 nibbles d_k, sent as d_k and d_k². The sums equal
 * size·d_k and size·d_k² on every k exactly when all ranks sent the same d_k (a variance of
 * zero), and are exact in float for up to 2^24 / 225 ranks. */
#include "learner_internal.h"

#include "../core/checksum.h"
#include "../core/collective.h"

#include <stdio.h>
#include <string.h>

enum {
    X_FAILED,          /* ranks whose step failed locally */
    X_ROWS,            /* batch rows */
    X_TD,              /* rows · TD loss */
    X_TOTAL,           /* rows · total loss */
    X_FP,              /* 16 floats: fingerprint nibbles and their squares */
    X_REG = X_FP + 16, /* rows · each regularizer's loss */
};
#define FP_LEN        DR3I_FP_LEN
#define DEFAULT_CHECK 100u
#define COLL_NAME(vt) dr3i_coll_name(vt)

static uint32_t state_hash(dr3_learner *l, bool full) {
    uint64_t steps = l->steps;
    uint32_t h = dr3i_crc32c(0, &steps, sizeof steps);
    if (!full) return h;
    const size_t P = l->param_count;
    h = dr3i_crc32c(h, dr3_net_params(l->online), P * sizeof(float));
    h = dr3i_crc32c(h, dr3_net_params(l->target), P * sizeof(float));
    uint64_t osteps = dr3_optim_step_count(l->optim);
    h = dr3i_crc32c(h, &osteps, sizeof osteps);
    for (size_t t = 0; t < dr3_optim_state_tensor_count(l->optim); t++) {
        const char *name = NULL;
        float *data = NULL;
        size_t len = 0;
        if (dr3_optim_state_tensor(l->optim, t, &name, &data, &len) == DR3_OK && data != NULL)
            h = dr3i_crc32c(h, data, len * sizeof(float));
    }
    return h;
}

static uint64_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* A hash of what must agree between replicas before they can be one learner: the
 * architecture, the optimizer and the loss configuration (not the batch size or seed). */
static uint32_t config_hash(dr3_learner *l, size_t optim_len) {
    const dr3_learner_options *o = &l->opts;
    uint64_t v[16] = {l->param_count,
                      o->obs_dim,
                      o->num_actions,
                      l->feature_dim,
                      l->heads,
                      (uint64_t)l->heads_mode,
                      optim_len,
                      dr3_optim_state_tensor_count(l->optim),
                      (uint64_t)o->td_kind,
                      float_bits(o->gamma),
                      float_bits(o->huber_delta),
                      float_bits(o->polyak_tau),
                      o->target_update_period,
                      float_bits(dr3_optim_get_lr(l->optim)),
                      l->num_reg,
                      0};
    uint32_t h = dr3i_crc32c(0, v, sizeof v);
    for (size_t r = 0; r < l->num_reg; r++) {
        const dr3i_learner_reg *g = &l->reg[r];
        uint64_t w[3] = {(uint64_t)g->is_builtin, g->is_builtin ? (uint64_t)g->builtin.kind : 0,
                         g->is_builtin ? float_bits(g->builtin.coef) : 0};
        h = dr3i_crc32c(h, w, sizeof w);
        if (g->vt.name != NULL) h = dr3i_crc32c(h, g->vt.name, strlen(g->vt.name));
    }
    if (l->backup_vt.name != NULL)
        h = dr3i_crc32c(h, l->backup_vt.name, strlen(l->backup_vt.name));
    return h;
}

static size_t reduce_len(const dr3_learner *l, size_t num_reg) {
    return l->param_count + X_REG + num_reg;
}

/* ---- the step's stage ------------------------------------------------------------------ */

dr3_status dr3i_collective_reduce(dr3_learner *l, dr3_status local, size_t n, float *td_loss,
                                  double *total_loss, const char *who) {
    dr3i_learner_coll *k = &l->coll;
    const size_t P = l->param_count, R = l->num_reg, len = reduce_len(l, R);
    float *buf = k->buf, *x = buf + P;
    char saved[1024] = "";
    if (local != DR3_OK) { /* the other ranks wait in this allreduce: join it, then fail */
        snprintf(saved, sizeof saved, "%s", dr3_last_error());
        memset(buf, 0, len * sizeof(float));
        x[X_FAILED] = 1;
    } else {
        const float w = (float)n, *g = dr3_net_grads(l->online);
        for (size_t i = 0; i < P; i++) buf[i] = w * g[i];
        x[X_FAILED] = 0;
        x[X_ROWS] = w;
        x[X_TD] = w * *td_loss;
        x[X_TOTAL] = (float)((double)w * *total_loss);
        for (size_t r = 0; r < R; r++) x[X_REG + r] = w * l->reg_loss[r];
    }
    const uint64_t every = k->check_every ? k->check_every : DEFAULT_CHECK;
    const bool full = k->check_next || l->steps % every == 0;
    const uint32_t h = state_hash(l, full);
    dr3i_fp_put(x + X_FP, h);
    unsigned long mark = dr3i_error_mark();
    int rc = k->vt.allreduce_sum(k->payload, buf, len);
    if (local != DR3_OK) return dr3i_fail(local, "%s", saved);
    if (rc != 0)
        return dr3i_fail_after(DR3_ERR_CALLBACK, mark,
                               "%s: collective '%s' allreduce_sum failed", who,
                               COLL_NAME(&k->vt));
    if (x[X_FAILED] != 0)
        return dr3i_fail(DR3_ERR_STATE,
                         "%s: the step failed on %.0f other rank(s) (their messages say why); "
                         "nothing changed on any rank",
                         who, (double)x[X_FAILED]);
    if (!dr3i_fp_same(x + X_FP, h, k->size))
        return dr3i_fail(
            DR3_ERR_STATE,
            "%s: ranks diverged: the %s of rank %d differ(s) from another rank's "
            "at step %llu (nothing changed; resynchronise with "
            "dr3_learner_set_collective)",
            who, full ? "parameters, target parameters or optimizer state" : "step counter",
            k->rank, (unsigned long long)l->steps);
    k->check_next = false; /* the replicas agreed */
    const float rows = x[X_ROWS];
    float *g = dr3_net_grads(l->online);
    for (size_t i = 0; i < P; i++) g[i] = buf[i] / rows;
    *td_loss = x[X_TD] / rows;
    *total_loss = (double)x[X_TOTAL] / (double)rows;
    for (size_t r = 0; r < R; r++) l->reg_loss[r] = x[X_REG + r] / rows;
    return DR3_OK;
}

/* ---- buffers ---------------------------------------------------------------------------- */

dr3_status dr3i_collective_reserve(dr3_learner *l, size_t num_reg, const char *who) {
    if (!l->coll.on) return DR3_OK;
    size_t need = reduce_len(l, num_reg), bytes;
    if (need <= l->coll.buf_len) return DR3_OK;
    if (!dr3i_mul(need, sizeof(float), &bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: reduce buffer size overflows", who);
    float *b = dr3i_calloc(&l->alloc, bytes);
    if (b == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    dr3i_free(&l->alloc, l->coll.buf);
    l->coll.buf = b;
    l->coll.buf_len = need;
    return DR3_OK;
}

void dr3i_collective_after_load(dr3_learner *l) {
    if (!l->coll.on) return;
    dr3_rng base = l->rng; /* the file's: the same on every rank that loaded it */
    dr3_rng_split(&base, (uint64_t)l->coll.rank, &l->rng);
    l->coll.check_next = true;
}

void dr3i_collective_free(dr3_learner *l) {
    if (l->coll.on && l->coll.vt.destroy) l->coll.vt.destroy(l->coll.payload);
    dr3i_free(&l->alloc, l->coll.buf);
    l->coll.on = false;
    l->coll.buf = NULL;
    l->coll.buf_len = 0;
}

/* ---- installing a collective -------------------------------------------------------- */

/* Rank 0's state as bytes: online and target parameters, generator, step counter, optimizer
 * state (dr3_optim_state_save). */
typedef struct sync_layout {
    size_t params, rng, steps, optim, total;
} sync_layout;

static bool layout(sync_layout *s, size_t P, size_t optim_len) {
    size_t pbytes;
    if (!dr3i_mul(P, sizeof(float), &pbytes)) return false;
    s->params = 0;
    if (!dr3i_mul(pbytes, 2, &s->rng)) return false;
    s->steps = s->rng + sizeof(dr3_rng);
    s->optim = s->steps + sizeof(uint64_t);
    return dr3i_add(s->optim, optim_len, &s->total);
}

dr3_status dr3_learner_set_collective(dr3_learner *l, const dr3_collective_vtable *vtable,
                                      void *payload) {
    static const char who[] = "dr3_learner_set_collective";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (vtable == NULL) { /* back to a single process */
        uint64_t every = l->coll.check_every;
        dr3i_collective_free(l);
        memset(&l->coll, 0, sizeof l->coll);
        l->coll.check_every = every;
        return DR3_OK;
    }
    dr3_collective_vtable vt;
    int rank = 0, size = 0;
    dr3_status st = dr3i_coll_open(&vt, vtable, payload, &rank, &size, who);
    if (st != DR3_OK) return st;
    unsigned long mark;

    /* everything this needs, allocated before any collective call */
    const size_t P = l->param_count;
    size_t optim_len = 0;
    if ((st = dr3_optim_state_size(l->optim, &optim_len)) != DR3_OK) return st;
    sync_layout lay;
    size_t nreg = l->num_reg > l->reg_cap ? l->num_reg : l->reg_cap;
    size_t buf_len = reduce_len(l, nreg), check_len = (size_t)size + FP_LEN, b1, b2;
    if (!layout(&lay, P, optim_len) || !dr3i_mul(buf_len, sizeof(float), &b1) ||
        !dr3i_mul(check_len, sizeof(float), &b2))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: buffer sizes overflow", who);
    float *buf = dr3i_calloc(&l->alloc, b1), *check = dr3i_calloc(&l->alloc, b2);
    unsigned char *state = dr3i_calloc(&l->alloc, lay.total);
    if (buf == NULL || check == NULL || state == NULL) {
        st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        goto fail;
    }

    /* 1. one allreduce: each rank held by exactly one process, the same learner everywhere */
    st = dr3i_coll_handshake(&vt, payload, rank, size, config_hash(l, optim_len), check,
                             "architecture, optimizer, learning rate or loss configuration",
                             who);
    if (st != DR3_OK) goto fail;

    /* 2. one broadcast of rank 0's state */
    memcpy(state + lay.params, dr3_net_params(l->online), P * sizeof(float));
    memcpy(state + lay.params + P * sizeof(float), dr3_net_params(l->target),
           P * sizeof(float));
    memcpy(state + lay.rng, &l->rng, sizeof(dr3_rng));
    memcpy(state + lay.steps, &l->steps, sizeof(uint64_t));
    if ((st = dr3_optim_state_save(l->optim, state + lay.optim, optim_len)) != DR3_OK)
        goto fail;
    mark = dr3i_error_mark();
    if (vt.broadcast(payload, state, lay.total, 0) != 0) {
        st = dr3i_fail_after(DR3_ERR_CALLBACK, mark, "%s: collective '%s' broadcast failed",
                             who, COLL_NAME(&vt));
        goto fail;
    }

    /* 3. commit: the optimizer first (all-or-nothing itself), then what cannot fail */
    if (rank != 0 &&
        (st = dr3_optim_state_load(l->optim, state + lay.optim, optim_len)) != DR3_OK)
        goto fail;
    memcpy(dr3_net_params(l->online), state + lay.params, P * sizeof(float));
    memcpy(dr3_net_params(l->target), state + lay.params + P * sizeof(float),
           P * sizeof(float));
    dr3_rng base;
    memcpy(&base, state + lay.rng, sizeof base);
    memcpy(&l->steps, state + lay.steps, sizeof(uint64_t));
    dr3_rng_split(&base, (uint64_t)rank, &l->rng); /* each rank its own batches */
    dr3i_free(&l->alloc, check);
    dr3i_free(&l->alloc, state);
    /* the previous collective goes (not when it is the same one installed again) */
    if (l->coll.on && l->coll.vt.destroy &&
        !(l->coll.payload == payload && l->coll.vt.destroy == vt.destroy))
        l->coll.vt.destroy(l->coll.payload);
    dr3i_free(&l->alloc, l->coll.buf);
    l->coll.on = true;
    l->coll.vt = vt;
    l->coll.payload = payload;
    l->coll.rank = rank;
    l->coll.size = size;
    l->coll.buf = buf;
    l->coll.buf_len = buf_len;
    return DR3_OK;
fail:
    dr3i_free(&l->alloc, buf);
    dr3i_free(&l->alloc, check);
    dr3i_free(&l->alloc, state);
    return st;
}

dr3_status dr3_learner_set_sync_check(dr3_learner *l, uint64_t every) {
    static const char who[] = "dr3_learner_set_sync_check";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (every == 0)
        return dr3i_fail(DR3_ERR_RANGE,
                         "%s: every must be >= 1 (drift between ranks is never left unchecked)",
                         who);
    l->coll.check_every = every;
    return DR3_OK;
}
