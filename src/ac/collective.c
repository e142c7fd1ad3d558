/* Data-parallel actor-critic learners (dr3_ac_learner_set_collective, experimental): each
 * rank computes its step on its own rows, then one allreduce per step sums
 *
 *   [ n·g_critics | n·g_actor | n·g_log α | n·g_log α′ | failed | n | fingerprint (16) |
 *     n·td | n·critic loss | n·actor loss ( | TD3+BC: n·g_actor's BC part | Σ|Q| | ΣQ |
 *     Σ BC error ) ]
 *
 * and every rank applies the row-weighted mean gradient, so N ranks of b rows take the step
 * one process takes on the N·b rows. TD3+BC's λ = α/mean|Q| is a statistic of the whole
 * batch: each rank sends the Q part of its actor gradient (λ = 1) and the BC part apart,
 * with its sums of |Q|, Q and the BC error, and λ is formed from all rows after the sum. A rank
 * that failed locally makes all fail; the fingerprint (step count, and every `every` steps the
 * whole state) catches replicas that drifted apart. Fingerprints are a 32-bit hash cut into 8
 * nibbles d_k sent as d_k and d_k²: the sums are size·d_k and size·d_k² exactly when all ranks
 * agree. */
#include "ac_internal.h"

#include "../core/checksum.h"
#include "../core/collective.h"

#include <string.h>

enum { FP_LEN = DR3I_FP_LEN, DEFAULT_EVERY = 100 };
#define CNAME(vt) dr3i_coll_name(vt)

static dr3_net *const *nets_of(const dr3_ac_learner *l, dr3_net *out[3]) {
    out[0] = l->q[0];
    out[1] = l->q[1];
    out[2] = l->pi;
    return out;
}

/* TD3+BC's extra floats at the end of the buffer: the BC part of the actor gradient (times
 * the rows), then the sums of |Q(s, π(s))|, Q(s, π(s)) and the squared BC error. */
static size_t td3_floats(const dr3_ac_learner *l) {
    return l->o.algo == DR3_AC_TD3BC ? dr3_net_param_count(l->pi) + 3 : 0;
}

static size_t grad_floats(const dr3_ac_learner *l) {
    dr3_net *n[3];
    nets_of(l, n);
    size_t s = 0;
    for (int k = 0; k < 3; k++) s += dr3_net_param_count(n[k]);
    return s + 2;
}

/* Step count, and with @p full every network's parameters and every optimizer's state. */
static uint32_t state_hash(const dr3_ac_learner *l, bool full) {
    uint64_t steps = l->steps;
    uint32_t h = dr3i_crc32c(0, &steps, sizeof steps);
    if (!full) return h;
    dr3_net *nets[] = {l->q[0], l->q[1], l->qt[0], l->qt[1], l->pi, l->pit};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        if (nets[i])
            h = dr3i_crc32c(h, dr3_net_params(nets[i]),
                            dr3_net_param_count(nets[i]) * sizeof(float));
    dr3_optim *opts[] = {l->q_opt[0], l->q_opt[1], l->pi_opt, l->alpha_opt, l->cql_opt};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (opts[i] == NULL) continue;
        for (size_t t = 0; t < dr3_optim_state_tensor_count(opts[i]); t++) {
            const char *name;
            float *data;
            size_t len;
            if (dr3_optim_state_tensor(opts[i], t, &name, &data, &len) == DR3_OK)
                h = dr3i_crc32c(h, data, len * sizeof(float));
        }
        uint64_t c = dr3_optim_step_count(opts[i]);
        h = dr3i_crc32c(h, &c, sizeof c);
    }
    h = dr3i_crc32c(h, &l->log_alpha, sizeof l->log_alpha);
    return dr3i_crc32c(h, &l->log_cql_alpha, sizeof l->log_cql_alpha);
}

dr3_status dr3i_ac_coll_step(dr3_ac_learner *l, dr3_status local, dr3i_ac_reduce *r,
                             const char *who) {
    const size_t G = grad_floats(l);
    float *b = l->coll.buf;
    memset(b, 0, l->coll.len * sizeof(float));
    const float w = (float)r->n;
    if (local == DR3_OK) {
        dr3_net *n[3];
        nets_of(l, n);
        size_t at = 0;
        for (int k = 0; k < 3; k++) {
            size_t c = dr3_net_param_count(n[k]);
            if (c == 0) continue;
            const float *g = dr3_net_grads(n[k]);
            if (k < 2 || r->actor_step)
                for (size_t i = 0; i < c; i++) b[at + i] = w * g[i];
            at += c;
        }
        b[at] = w * l->g_log_alpha;
        b[at + 1] = w * l->g_log_cql_alpha;
        b[G + 1] = w;
        b[G + 2 + FP_LEN] = (float)(w * r->td);
        b[G + 3 + FP_LEN] = (float)(w * r->critic_loss);
        b[G + 4 + FP_LEN] = (float)(w * r->actor_loss);
        if (td3_floats(l) > 0 && r->actor_step) {
            const size_t pc = dr3_net_param_count(l->pi);
            float *x = b + G + 5 + FP_LEN;
            for (size_t i = 0; i < pc; i++) x[i] = w * l->coll.bc_grad[i];
            x[pc] = (float)l->coll.td3_abs_q;
            x[pc + 1] = (float)l->coll.td3_q;
            x[pc + 2] = (float)l->coll.td3_bc;
        }
    } else {
        b[G] = 1.0f;
    }
    const bool full = l->coll.check_next || (l->steps + 1) % l->coll.every == 0;
    const uint32_t h = state_hash(l, full);
    dr3i_fp_put(b + G + 2, h);
    unsigned long mark = dr3i_error_mark();
    if (l->coll.vt.allreduce_sum(l->coll.payload, b, l->coll.len) != 0)
        return dr3i_fail_after(DR3_ERR_CALLBACK, mark,
                               "%s: collective '%s' allreduce_sum failed", who,
                               CNAME(&l->coll.vt));
    if (local != DR3_OK) return local;
    if (b[G] != 0)
        return dr3i_fail(DR3_ERR_CALLBACK, "%s: the step failed on %.0f other rank(s)", who,
                         (double)b[G]);
    if (!dr3i_fp_same(b + G + 2, h, l->coll.size))
        return dr3i_fail(
            DR3_ERR_STATE, "%s: the ranks diverged (%s differs between replicas)", who,
            full ? "the step count, parameters or optimizer state" : "the step count");
    const float total = b[G + 1];
    if (!(total > 0)) return dr3i_fail(DR3_ERR_INTERNAL, "%s: no rows over all ranks", who);
    dr3_net *n[3];
    nets_of(l, n);
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        size_t c = dr3_net_param_count(n[k]);
        if (c == 0) continue;
        float *g = dr3_net_grads(n[k]);
        if (k < 2 || r->actor_step)
            for (size_t i = 0; i < c; i++) g[i] = b[at + i] / total;
        at += c;
    }
    l->g_log_alpha = b[at] / total;
    l->g_log_cql_alpha = b[at + 1] / total;
    r->td = b[G + 2 + FP_LEN] / total;
    r->critic_loss = b[G + 3 + FP_LEN] / total;
    r->actor_loss = b[G + 4 + FP_LEN] / total;
    if (td3_floats(l) > 0 && r->actor_step) {
        /* λ = α / mean|Q| over all rows; the actor's gradient λ·(Q part) + (BC part), as one
         * process computes it on all the rows */
        const size_t pc = dr3_net_param_count(l->pi);
        const float *x = b + G + 5 + FP_LEN;
        const double lambda = (double)l->o.bc_alpha / ((double)x[pc] / total);
        float *g = dr3_net_grads(l->pi);
        for (size_t i = 0; i < pc; i++) g[i] = (float)(lambda * g[i]) + x[i] / total;
        r->actor_loss = -lambda * (double)x[pc + 1] / total +
                        (double)x[pc + 2] / ((double)total * (double)l->adim);
    }
    l->coll.check_next = false;
    return DR3_OK;
}

void dr3i_ac_coll_free(dr3_ac_learner *l) {
    if (!l->coll.on) return;
    if (l->coll.vt.destroy) l->coll.vt.destroy(l->coll.payload);
    dr3i_free(&l->alloc, l->coll.buf);
    dr3i_free(&l->alloc, l->coll.bc_grad);
    memset(&l->coll, 0, sizeof l->coll);
}

static void split(dr3_ac_learner *l) {
    dr3_rng child;
    dr3_rng_split(&l->rng, (uint64_t)l->coll.rank, &child);
    l->rng = child;
    dr3_rng_split(&l->act_rng, (uint64_t)l->coll.rank, &child);
    l->act_rng = child;
}

void dr3i_ac_coll_after_load(dr3_ac_learner *l) {
    split(l);
    l->coll.check_next = true;
}

/* What must agree between replicas: the options that shape the computation (not the seed,
 * threads or allocator) and the state's serialised length. */
static uint32_t config_hash(const dr3_ac_learner *l, size_t state_len) {
    dr3_ac_options o = l->o;
    o.seed = 0;
    o.threads = 1;
    o.allocator = NULL;
    o.critic_hidden = NULL;
    o.actor_hidden = NULL;
    o.action_low = o.action_high = NULL;
    /* field by field through a zeroed copy: padding bytes hashed as zeros */
    dr3_ac_options z;
    memset(&z, 0, sizeof z);
    z.version = o.version;
    z.algo = o.algo;
    z.obs_dim = o.obs_dim;
    z.action_dim = o.action_dim;
    z.critic_num_hidden = o.critic_num_hidden;
    z.actor_num_hidden = o.actor_num_hidden;
    z.activation = o.activation;
    z.batch_size = o.batch_size;
    z.gamma = o.gamma;
    z.tau = o.tau;
    z.critic_lr = o.critic_lr;
    z.actor_lr = o.actor_lr;
    z.alpha_lr = o.alpha_lr;
    z.twin_critics = o.twin_critics;
    z.auto_alpha = o.auto_alpha;
    z.target_entropy_per_dim = o.target_entropy_per_dim;
    z.backup_entropy = o.backup_entropy;
    z.log_std_min = o.log_std_min;
    z.log_std_max = o.log_std_max;
    z.cql_alpha_mode = o.cql_alpha_mode;
    z.cql_alpha = o.cql_alpha;
    z.cql_target_gap = o.cql_target_gap;
    z.cql_num_actions = o.cql_num_actions;
    z.cql_temperature = o.cql_temperature;
    z.policy_noise = o.policy_noise;
    z.noise_clip = o.noise_clip;
    z.policy_delay = o.policy_delay;
    z.bc_alpha = o.bc_alpha;
    z.dr3_coef = o.dr3_coef;
    uint32_t h = dr3i_crc32c(0, &z, sizeof z);
    h = dr3i_crc32c(h, l->critic_hidden, l->o.critic_num_hidden * sizeof(size_t));
    h = dr3i_crc32c(h, l->actor_hidden, l->o.actor_num_hidden * sizeof(size_t));
    h = dr3i_crc32c(h, l->low, l->adim * sizeof(float));
    h = dr3i_crc32c(h, l->high, l->adim * sizeof(float));
    uint64_t len = state_len;
    return dr3i_crc32c(h, &len, sizeof len);
}

dr3_status dr3_ac_learner_set_collective(dr3_ac_learner *l, const dr3_collective_vtable *vtable,
                                         void *payload) {
    static const char who[] = "dr3_ac_learner_set_collective";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    if (vtable == NULL) {
        dr3i_ac_coll_free(l);
        return DR3_OK;
    }
    dr3_collective_vtable vt;
    int rank = 0, size = 0;
    dr3_status st = dr3i_coll_open(&vt, vtable, payload, &rank, &size, who);
    if (st != DR3_OK) return st;
    unsigned long mark;
    /* everything allocated before the first collective call */
    uint8_t *state = NULL;
    size_t state_len = 0;
    if ((st = dr3i_ac_serialize(l, &state, &state_len)) != DR3_OK) return st;
    const size_t len = grad_floats(l) + 5 + FP_LEN + td3_floats(l);
    const size_t check_len = (size_t)size + FP_LEN;
    float *buf = dr3i_calloc(&l->alloc, len * sizeof(float));
    float *check = dr3i_calloc(&l->alloc, check_len * sizeof(float));
    float *bc_grad = td3_floats(l) > 0
                         ? dr3i_calloc(&l->alloc, dr3_net_param_count(l->pi) * sizeof(float))
                         : NULL;
    dr3_ac_learner *t = NULL;
    if (buf == NULL || check == NULL || (td3_floats(l) > 0 && bc_grad == NULL)) {
        st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        goto fail;
    }
    /* 1. each rank held once, the same learner configuration everywhere */
    st = dr3i_coll_handshake(&vt, payload, rank, size, config_hash(l, state_len), check,
                             "options or sizes", who);
    if (st != DR3_OK) goto fail;
    /* 2. rank 0's whole state everywhere */
    mark = dr3i_error_mark();
    if (vt.broadcast(payload, state, state_len, 0) != 0) {
        st = dr3i_fail_after(DR3_ERR_CALLBACK, mark, "%s: collective '%s' broadcast failed",
                             who, CNAME(&vt));
        goto fail;
    }
    if (rank != 0) {
        dr3_ac_options rt = DR3_AC_OPTIONS_INIT;
        rt.threads = l->o.threads;
        rt.allocator = &l->hooks;
        if ((st = dr3i_ac_parse(&t, state, state_len, &rt, &l->alloc, "rank 0's state", who)) !=
            DR3_OK)
            goto fail;
        dr3i_ac_adopt(l, t);
        t = NULL;
    }
    dr3i_free(&l->alloc, state);
    dr3i_free(&l->alloc, check);
    /* 3. install; 4. a generator stream per rank */
    dr3i_ac_coll_free(l);
    l->coll.on = true;
    l->coll.vt = vt;
    l->coll.payload = payload;
    l->coll.rank = rank;
    l->coll.size = size;
    l->coll.buf = buf;
    l->coll.len = len;
    l->coll.bc_grad = bc_grad;
    l->coll.every = DEFAULT_EVERY;
    l->coll.check_next = true;
    split(l);
    return DR3_OK;
fail:
    dr3i_free(&l->alloc, state);
    dr3i_free(&l->alloc, check);
    dr3i_free(&l->alloc, buf);
    dr3i_free(&l->alloc, bc_grad);
    return st;
}
