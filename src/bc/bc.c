/* Behaviour cloning (dr3/bc.h): softmax policy network trained by cross-entropy. */
#ifndef DR3_EXPERIMENTAL
#define DR3_EXPERIMENTAL 1 /* dr3_bc_create_desc: policies on layer-list (conv) networks */
#endif
#include <dr3/bc.h>

#include "../core/internal.h"

#include <string.h>

struct dr3_bc {
    dr3i_alloc alloc;
    size_t obs_dim, num_actions, batch;
    size_t *hidden;
    dr3_net *net;
    dr3_optim *optim;
    dr3_rng rng;
    float *logits, *grad, *obs_buf; /* batch × A, batch × A, batch × S */
    int32_t *act_buf;
};

DR3I_DEFINE_STRUCT(dr3_bc_options, dr3_bc_options, DR3_BC_OPTIONS_INIT, DR3_BC_OPTIONS_VERSION,
                   sizeof(dr3_bc_options))

/* Both constructors: an MLP from the options, or the layer list @p desc (NULL: MLP). */
static dr3_status bc_create(dr3_bc **out, const dr3_bc_options *opts, const dr3_net_desc *desc,
                            const char *who) {
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    dr3_bc_options o = DR3_BC_OPTIONS_INIT;
    dr3_status vst = dr3i_struct_in(&o, opts, &dr3i_desc_dr3_bc_options, false, who, "options");
    if (vst != DR3_OK) return vst;
    if (desc != NULL) {
        /* the architecture comes from the description; sizes left 0 are taken from it */
        if (desc->version == 0 || desc->in_channels == 0 || desc->in_height == 0 ||
            desc->in_width == 0 || desc->action_dim == 0)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: the network description is incomplete",
                             who);
        if (desc->num_heads > 1)
            return dr3i_fail(DR3_ERR_INVALID_ARG,
                             "%s: a policy network has one head (num_heads = %zu)", who,
                             desc->num_heads);
        size_t in = 0;
        if (!dr3i_mul(desc->in_channels, desc->in_height, &in) ||
            !dr3i_mul(in, desc->in_width, &in))
            return dr3i_fail(DR3_ERR_OVERFLOW, "%s: the input size overflows", who);
        if ((o.obs_dim != 0 && o.obs_dim != in) ||
            (o.num_actions != 0 && o.num_actions != desc->action_dim))
            return dr3i_fail(DR3_ERR_SHAPE,
                             "%s: options say %zu inputs and %zu actions, the network %zu and "
                             "%zu",
                             who, o.obs_dim, o.num_actions, in, desc->action_dim);
        o.obs_dim = in;
        o.num_actions = desc->action_dim;
        o.num_hidden = 0; /* ignored */
    }
    if (o.obs_dim == 0 || o.num_actions == 0 || o.batch_size == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: obs_dim, num_actions, batch_size must be > 0", who);
    if (o.num_hidden > 0 && o.hidden == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: hidden is NULL", who);
    dr3_status st = dr3i_runtime_ensure();
    dr3i_alloc alloc;
    if (st == DR3_OK) st = dr3i_alloc_init(&alloc, o.allocator, who);
    if (st != DR3_OK) return st;
    dr3_bc *bc = dr3i_calloc(&alloc, sizeof *bc);
    if (bc == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    bc->alloc = alloc;
    bc->obs_dim = o.obs_dim;
    bc->num_actions = o.num_actions;
    bc->batch = o.batch_size;
    size_t ba = 0, bs = 0;
    if (!dr3i_mul(o.batch_size, o.num_actions, &ba) || !dr3i_mul(ba, sizeof(float), &ba) ||
        !dr3i_mul(o.batch_size, o.obs_dim, &bs) || !dr3i_mul(bs, sizeof(float), &bs))
        st = dr3i_fail(DR3_ERR_OVERFLOW, "%s: batch buffers overflow", who);
    if (st == DR3_OK && o.num_hidden > 0) {
        bc->hidden = dr3i_calloc(&alloc, o.num_hidden * sizeof(size_t));
        if (bc->hidden)
            memcpy(bc->hidden, o.hidden, o.num_hidden * sizeof(size_t));
        else
            st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    if (st == DR3_OK) {
        bc->logits = dr3i_calloc(&alloc, ba);
        bc->grad = dr3i_calloc(&alloc, ba);
        bc->obs_buf = dr3i_calloc(&alloc, bs);
        bc->act_buf = dr3i_calloc(&alloc, o.batch_size * sizeof(int32_t));
        if (!bc->logits || !bc->grad || !bc->obs_buf || !bc->act_buf)
            st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    if (st == DR3_OK && desc != NULL) {
        dr3_net_options no = DR3_NET_OPTIONS_INIT;
        no.max_batch = o.batch_size;
        no.seed = o.seed;
        no.threads = o.threads;
        no.allocator = o.allocator;
        st = dr3_net_create_desc(&bc->net, desc, &no);
    } else if (st == DR3_OK) {
        dr3_net_options no = DR3_NET_OPTIONS_INIT;
        no.obs_dim = o.obs_dim;
        no.action_dim = o.num_actions;
        no.num_hidden = o.num_hidden;
        no.hidden = bc->hidden;
        no.activation = o.activation;
        no.head = DR3_HEAD_DISCRETE_Q;
        no.max_batch = o.batch_size;
        no.seed = o.seed;
        no.threads = o.threads;
        no.allocator = o.allocator;
        st = dr3_net_create(&bc->net, &no);
    }
    if (st == DR3_OK) {
        dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
        oo.lr = 1e-3f;
        st =
            dr3_optim_create(&bc->optim, dr3_net_param_count(bc->net), o.optim ? o.optim : &oo);
    }
    if (st != DR3_OK) {
        dr3_bc_free(bc);
        return st;
    }
    dr3_rng_seed(&bc->rng, o.seed ^ 0x6263ULL);
    *out = bc;
    return DR3_OK;
}

dr3_status dr3_bc_create(dr3_bc **out, const dr3_bc_options *opts) {
    return bc_create(out, opts, NULL, "dr3_bc_create");
}

dr3_status dr3_bc_create_desc(dr3_bc **out, const dr3_bc_options *opts,
                              const dr3_net_desc *desc) {
    static const char who[] = "dr3_bc_create_desc";
    if (desc == NULL) {
        if (out) *out = NULL;
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: desc is NULL", who);
    }
    return bc_create(out, opts, desc, who);
}

void dr3_bc_free(dr3_bc *bc) {
    if (bc == NULL) return;
    dr3_net_free(bc->net);
    dr3_optim_free(bc->optim);
    dr3i_free(&bc->alloc, bc->hidden);
    dr3i_free(&bc->alloc, bc->logits);
    dr3i_free(&bc->alloc, bc->grad);
    dr3i_free(&bc->alloc, bc->obs_buf);
    dr3i_free(&bc->alloc, bc->act_buf);
    dr3i_alloc a = bc->alloc;
    dr3i_free(&a, bc);
}

/* Row-wise softmax of x (n × A, stride A) into p (stride ldp), stable. */
static void softmax_rows(const float *x, size_t n, size_t na, float *p, size_t ldp) {
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * na;
        float mx = r[0];
        for (size_t a = 1; a < na; a++) mx = r[a] > mx ? r[a] : mx;
        double z = 0;
        for (size_t a = 0; a < na; a++) z += exp((double)r[a] - mx);
        for (size_t a = 0; a < na; a++) p[i * ldp + a] = (float)(exp((double)r[a] - mx) / z);
    }
}

dr3_status dr3_bc_step(dr3_bc *bc, size_t n, const float *obs, size_t ld_obs,
                       const int32_t *actions, float *loss) {
    static const char who[] = "dr3_bc_step";
    if (bc == NULL || obs == NULL || actions == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    const size_t A = bc->num_actions;
    if (n == 0 || n > bc->batch)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: n = %zu must be in 1..%zu", who, n,
                         bc->batch);
    if (ld_obs < bc->obs_dim)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_obs < obs_dim", who);
    for (size_t i = 0; i < n; i++)
        if (actions[i] < 0 || (size_t)actions[i] >= A)
            return dr3i_fail(DR3_ERR_RANGE, "%s: actions[%zu] = %d is outside [0, %zu)", who, i,
                             (int)actions[i], A);
    dr3_status st = dr3_net_forward(bc->net, n, obs, ld_obs, NULL, 0, bc->logits, A, NULL);
    if (st != DR3_OK) return st;
    /* cross-entropy: mean_i −log softmax(z_i)_{a_i}; gradient (softmax − onehot)/n */
    softmax_rows(bc->logits, n, A, bc->grad, A);
    double nll = 0;
    for (size_t i = 0; i < n; i++) {
        float *g = bc->grad + i * A;
        nll -= log(fmax((double)g[actions[i]], 1e-30));
        g[actions[i]] -= 1.0f;
        for (size_t a = 0; a < A; a++) g[a] /= (float)n;
    }
    if (!isfinite(nll)) return dr3i_fail(DR3_ERR_NONFINITE, "%s: the loss is not finite", who);
    st = dr3_net_backward(bc->net, n, bc->grad, A, NULL, 0, NULL, 0, 0);
    if (st != DR3_OK) return st;
    st = dr3_optim_step(bc->optim, dr3_net_params(bc->net), dr3_net_grads(bc->net),
                        dr3_net_param_count(bc->net), NULL);
    if (st != DR3_OK) return st;
    if (loss) *loss = (float)(nll / (double)n);
    return DR3_OK;
}

dr3_status dr3_bc_train(dr3_bc *bc, const dr3_replay *replay, uint64_t steps, float *loss) {
    static const char who[] = "dr3_bc_train";
    if (bc == NULL || replay == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (dr3_replay_state_dim(replay) != bc->obs_dim)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: replay states have %zu floats, the policy %zu",
                         who, dr3_replay_state_dim(replay), bc->obs_dim);
    for (uint64_t s = 0; s < steps; s++) {
        dr3_replay_batch rb = DR3_REPLAY_BATCH_INIT;
        rb.obs = bc->obs_buf;
        rb.ld_obs = bc->obs_dim;
        rb.actions = bc->act_buf;
        dr3_status st = dr3_replay_sample(replay, &bc->rng, bc->batch, &rb);
        if (st == DR3_OK)
            st = dr3_bc_step(bc, bc->batch, bc->obs_buf, bc->obs_dim, bc->act_buf, loss);
        if (st != DR3_OK) return st;
    }
    return DR3_OK;
}

dr3_status dr3_bc_probs(dr3_bc *bc, size_t n, const float *obs, size_t ld_obs, float *probs,
                        size_t ld_probs) {
    static const char who[] = "dr3_bc_probs";
    if (bc == NULL || (n > 0 && (obs == NULL || probs == NULL)))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    const size_t A = bc->num_actions;
    if (ld_obs < bc->obs_dim || ld_probs < A)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: a row stride is too small", who);
    for (size_t i = 0; i < n; i += bc->batch) {
        size_t m = n - i < bc->batch ? n - i : bc->batch;
        dr3_status st =
            dr3_net_forward(bc->net, m, obs + i * ld_obs, ld_obs, NULL, 0, bc->logits, A, NULL);
        if (st != DR3_OK) return st;
        softmax_rows(bc->logits, m, A, probs + i * ld_probs, ld_probs);
    }
    return DR3_OK;
}

int dr3_bc_policy(void *payload, size_t n, const float *obs, size_t ld_obs, float *probs,
                  size_t ld_probs) {
    return dr3_bc_probs((dr3_bc *)payload, n, obs, ld_obs, probs, ld_probs) == DR3_OK ? 0 : 1;
}
