/* MLP networks (dr3/net.h): forward and backward of every layer side by side, all dense
 * products through the kernels module, all memory sized at creation. */
#include <dr3/net.h>
#include <dr3/rng.h>

#include "../core/internal.h"
#include "../kernels/kernels.h"
#include "net_internal.h"

#include <stdio.h>
#include <string.h>

DR3I_DEFINE_STRUCT(dr3_net_options, dr3_net_options, DR3_NET_OPTIONS_INIT,
                   DR3_NET_OPTIONS_VERSION, sizeof(dr3_net_options))

static dr3_status validate_options(dr3_net_options *o, const dr3_net_options *user,
                                   const char *who) {
    dr3_status st = dr3i_struct_in(o, user, &dr3i_desc_dr3_net_options, false, who, "options");
    if (st != DR3_OK) return st;
    if (o->obs_dim == 0 || o->action_dim == 0 || o->max_batch == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: obs_dim, action_dim and max_batch must be > 0", who);
    if (o->num_hidden > 0 && o->hidden == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: hidden is NULL with num_hidden = %zu", who,
                         o->num_hidden);
    if (o->num_hidden > 1024)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %zu hidden layers is not supported", who,
                         o->num_hidden);
    for (size_t i = 0; i < o->num_hidden; i++)
        if (o->hidden[i] == 0)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: hidden[%zu] is 0", who, i);
    if (dr3_activation_name(o->activation) == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown activation %d", who,
                         (int)o->activation);
    if (o->head != DR3_HEAD_DISCRETE_Q && o->head != DR3_HEAD_CRITIC)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown head %d", who, (int)o->head);
    if (!isfinite(o->activation_param) || o->activation_param < 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: activation_param must be finite and >= 0",
                         who);
    if (o->activation_param == 0)
        o->activation_param = o->activation == DR3_ACT_ELU ? 1.0f : 0.01f;
    if (o->threads < 1) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    if (o->head == DR3_HEAD_CRITIC && o->obs_dim > SIZE_MAX - o->action_dim)
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: input width overflows", who);
    return DR3_OK;
}

static void init_params(dr3_net *net, uint64_t seed) {
    /* torch.nn.Linear/Conv2d.reset_parameters: kaiming_uniform_(a = √5) gives the bound
     * gain·√(3/fan_in) with gain = √(2/(1+5)), i.e. 1/√fan_in; the bias uses 1/√fan_in too.
     * fan_in is in (linear) or C·kh·kw (convolution). */
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    for (size_t l = 0; l < net->num_layers; l++) {
        const dr3i_layer *ly = &net->layers[l];
        float bound = (float)(1.0 / sqrt((double)ly->fan_in));
        float *w = net->params + ly->w_off, *b = net->params + ly->b_off;
        size_t nb = ly->conv ? ly->cv.out_c : ly->out;
        for (size_t k = 0; k < ly->w_count; k++)
            w[k] = bound * (2.0f * dr3_rng_uniform(&rng) - 1.0f);
        for (size_t k = 0; k < nb; k++) b[k] = bound * (2.0f * dr3_rng_uniform(&rng) - 1.0f);
    }
    memset(net->grads, 0, net->param_count * sizeof(float));
}

/* The layers a network is built from: linear widths, or convolution geometries. */
typedef struct plan_layer {
    bool conv;
    dr3i_conv2d cv; /* conv only, initialised */
    size_t out;     /* linear: units */
} plan_layer;

/* The convolution workspace one thread's slot needs for layer @p cv (docs/conv.md): each
 * slot handles up to ⌈max_batch / threads⌉ samples, in groups whose columns stay within about
 * L2 (dr3i_conv2d_suggest_group). A first layer that is the only convolution gets one group
 * for its whole share when that costs at most 8 MiB, so that its columns are still there for
 * backward (DR3I_CONV2D_REUSE_COLS: no second unfold; MinAtar's net). */
static bool conv_slot_floats(const dr3i_conv2d *cv, size_t max_batch, size_t threads,
                             bool keep_cols, size_t *floats) {
    const size_t share = (max_batch + threads - 1) / threads;
    size_t group = dr3i_conv2d_suggest_group(cv, share), whole;
    if (group == 0 || dr3i_conv2d_workspace(cv, group, floats) != DR3_OK) return false;
    if (keep_cols && dr3i_conv2d_workspace(cv, share, &whole) == DR3_OK &&
        whole <= ((size_t)8 << 20) / sizeof(float))
        *floats = whole;
    return true;
}

/* Sizes everything (overflow-checked), allocates once per buffer, lays the layers out as
 * PyTorch's state_dict and initialises the parameters. @p o is validated. */
static dr3_status build(dr3_net **out, const dr3_net_options *o, const plan_layer *plan,
                        size_t L, size_t in_width, const char *who) {
    dr3_status st;
    if ((st = dr3i_runtime_ensure()) != DR3_OK) return st;
    dr3i_alloc alloc;
    if ((st = dr3i_alloc_init(&alloc, o->allocator, who)) != DR3_OK) return st;
    const size_t out_width = plan[L - 1].out; /* Q-values (all heads) or the critic's 1 */
    size_t params = 0, widest = in_width, act_total = 0, ws = 0;
    bool ok = true;
    size_t prev = in_width;
    for (size_t l = 0; l < L && ok; l++) {
        const plan_layer *p = &plan[l];
        size_t outw, wsz, nb, rows;
        if (p->conv) {
            outw = p->cv.out_size;
            wsz = p->cv.weight_count;
            nb = p->cv.out_c;
            size_t need = 0;
            ok = conv_slot_floats(&p->cv, o->max_batch, (size_t)o->threads,
                                  l == 0 && (L < 2 || !plan[1].conv), &need);
            if (ok && need > ws) ws = need;
        } else {
            outw = p->out;
            nb = outw;
            ok = dr3i_mul(prev, outw, &wsz);
        }
        ok = ok && dr3i_add(params, wsz, &params) && dr3i_add(params, nb, &params) &&
             dr3i_mul(o->max_batch, outw, &rows) && dr3i_add(act_total, rows, &act_total);
        if (outw > widest) widest = outw;
        prev = outw;
    }
    size_t in_buf = 0, delta = 0, bytes;
    ok = ok && dr3i_mul(o->max_batch, in_width, &in_buf) &&
         dr3i_mul(o->max_batch, widest, &delta);
    const size_t slot_floats = ws; /* one slot per thread */
    ok = ok && dr3i_mul(ws, (size_t)o->threads, &ws);
    ok = ok && dr3i_mul(params, 2 * sizeof(float), &bytes) &&
         dr3i_mul(act_total, sizeof(float), &bytes) &&
         dr3i_mul(delta, 2 * sizeof(float), &bytes) &&
         dr3i_mul(in_buf, sizeof(float), &bytes) && dr3i_mul(ws, sizeof(float), &bytes);
    if (!ok) return dr3i_fail(DR3_ERR_OVERFLOW, "%s: network sizes overflow", who);

    dr3_net *net = dr3i_calloc(&alloc, sizeof *net);
    if (net == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    net->alloc = alloc;
    net->opts = *o;
    net->opts.allocator = NULL;
    net->num_layers = L;
    net->heads = 1;
    net->in_width = in_width;
    net->out_width = out_width;
    net->param_count = params;
    net->layers = dr3i_calloc(&alloc, L * sizeof(dr3i_layer));
    net->hidden = dr3i_calloc(&alloc, (o->num_hidden ? o->num_hidden : 1) * sizeof(size_t));
    net->params = dr3i_calloc(&alloc, params * sizeof(float));
    net->grads = dr3i_calloc(&alloc, params * sizeof(float));
    net->acts = dr3i_calloc(&alloc, act_total * sizeof(float));
    net->input = dr3i_calloc(&alloc, in_buf * sizeof(float));
    net->x0 = net->input;
    net->delta[0] = dr3i_calloc(&alloc, delta * sizeof(float));
    net->delta[1] = dr3i_calloc(&alloc, delta * sizeof(float));
    net->ones = dr3i_calloc(&alloc, o->max_batch * sizeof(float));
    net->conv_ws_len = ws;
    net->conv_slot_floats = slot_floats;
    if (ws > 0) net->conv_ws = dr3i_calloc(&alloc, ws * sizeof(float));
    if (net->ones)
        for (size_t i = 0; i < o->max_batch; i++) net->ones[i] = 1.0f;
    if (!net->ones || !net->layers || !net->hidden || !net->params || !net->grads ||
        !net->acts || !net->input || !net->delta[0] || !net->delta[1] ||
        (ws > 0 && !net->conv_ws)) {
        dr3_net_free(net);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    if (o->num_hidden) memcpy(net->hidden, o->hidden, o->num_hidden * sizeof(size_t));
    net->opts.hidden = o->num_hidden ? net->hidden : NULL;
    size_t off = 0, aoff = 0;
    prev = in_width;
    for (size_t l = 0; l < L; l++) {
        dr3i_layer *ly = &net->layers[l];
        const plan_layer *p = &plan[l];
        ly->conv = p->conv;
        ly->in = prev;
        if (p->conv) {
            ly->cv = p->cv;
            ly->out = p->cv.out_size;
            ly->w_count = p->cv.weight_count;
            ly->fan_in = p->cv.patch;
        } else {
            ly->out = p->out;
            ly->w_count = ly->in * ly->out;
            ly->fan_in = ly->in;
        }
        ly->w_off = off;
        ly->b_off = off + ly->w_count;
        off = ly->b_off + (p->conv ? p->cv.out_c : ly->out);
        ly->act = net->acts + aoff;
        aoff += o->max_batch * ly->out;
        prev = ly->out;
    }
    init_params(net, o->seed);
    if (o->threads > 1) dr3k_pool_start(); /* threads are created here, never in a step */
    *out = net;
    return DR3_OK;
}

dr3_status dr3_net_create(dr3_net **out, const dr3_net_options *opts) {
    static const char who[] = "dr3_net_create";
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    dr3_status st = validate_options(&o, opts, who);
    if (st != DR3_OK) return st;
    const size_t L = o.num_hidden + 1;
    const size_t in_width = o.obs_dim + (o.head == DR3_HEAD_CRITIC ? o.action_dim : 0);
    plan_layer small[17], *plan = small;
    dr3i_alloc a;
    if ((st = dr3i_alloc_init(&a, o.allocator, who)) != DR3_OK) return st;
    if (L > sizeof small / sizeof small[0]) {
        plan = dr3i_calloc(&a, L * sizeof *plan);
        if (plan == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    for (size_t l = 0; l < L; l++) {
        plan[l].conv = false;
        plan[l].out = l + 1 < L ? o.hidden[l] : (o.head == DR3_HEAD_CRITIC ? 1 : o.action_dim);
    }
    st = build(out, &o, plan, L, in_width, who);
    if (plan != small) dr3i_free(&a, plan);
    return st;
}

void dr3_net_free(dr3_net *net) {
    if (net == NULL) return;
    void *bufs[] = {net->layers, net->hidden,   net->params,   net->grads, net->acts,
                    net->input,  net->delta[0], net->delta[1], net->ones,  net->conv_ws};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) dr3i_free(&net->alloc, bufs[i]);
    dr3i_alloc a = net->alloc;
    dr3i_free(&a, net);
}

dr3_status dr3_net_clone(dr3_net **out, const dr3_net *src) {
    if (out == NULL || src == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_clone: %s is NULL",
                         out == NULL ? "out" : "src");
    *out = NULL;
    /* the same layers (linear or convolution) and the same allocator hooks */
    dr3_net_options o = src->opts;
    dr3_allocator hooks = DR3_ALLOCATOR_INIT;
    hooks.alloc = src->alloc.alloc;
    hooks.free = src->alloc.free;
    hooks.opaque = src->alloc.opaque;
    o.allocator = &hooks;
    plan_layer *plan = dr3i_calloc(&src->alloc, src->num_layers * sizeof *plan);
    if (plan == NULL) return dr3i_fail(DR3_ERR_NOMEM, "dr3_net_clone: out of memory");
    for (size_t l = 0; l < src->num_layers; l++) {
        plan[l].conv = src->layers[l].conv;
        plan[l].cv = src->layers[l].cv;
        plan[l].out = src->layers[l].out;
    }
    dr3_net *n = NULL;
    dr3_status st = build(&n, &o, plan, src->num_layers, src->in_width, "dr3_net_clone");
    dr3i_free(&src->alloc, plan);
    if (st != DR3_OK) return st;
    n->from_desc = src->from_desc;
    n->heads = src->heads;
    n->in_c = src->in_c;
    n->in_h = src->in_h;
    n->in_w = src->in_w;
    memcpy(n->params, src->params, src->param_count * sizeof(float));
    *out = n;
    return DR3_OK;
}

dr3_status dr3_net_reset_params(dr3_net *net, uint64_t seed) {
    if (net == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_reset_params: net is NULL");
    init_params(net, seed);
    net->have_forward = false;
    return DR3_OK;
}

size_t dr3_net_param_count(const dr3_net *net) { return net ? net->param_count : 0; }
float *dr3_net_params(dr3_net *net) { return net ? net->params : NULL; }
float *dr3_net_grads(dr3_net *net) { return net ? net->grads : NULL; }
size_t dr3_net_obs_dim(const dr3_net *net) { return net ? net->opts.obs_dim : 0; }
size_t dr3_net_action_dim(const dr3_net *net) { return net ? net->opts.action_dim : 0; }
size_t dr3_net_output_dim(const dr3_net *net) { return net ? net->out_width : 0; }
size_t dr3_net_max_batch(const dr3_net *net) { return net ? net->opts.max_batch : 0; }
size_t dr3_net_num_layers(const dr3_net *net) { return net ? net->num_layers : 0; }
size_t dr3_net_feature_dim(const dr3_net *net) {
    if (net == NULL) return 0;
    return net->num_layers > 1 ? net->layers[net->num_layers - 2].out : net->in_width;
}

dr3_status dr3_net_get_options(dr3_net_options *out, const dr3_net *net) {
    if (net == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_get_options: net is NULL");
    return dr3i_struct_out(out, &net->opts, &dr3i_desc_dr3_net_options, "dr3_net_get_options",
                           "out");
}

dr3_status dr3_net_set_threads(dr3_net *net, int threads) {
    if (net == NULL || threads < 1)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_set_threads: %s",
                         net == NULL ? "net is NULL" : "threads must be >= 1");
    if (net->conv_slot_floats > 0) {
        /* the slots a network created with this thread count has (the same layout, so the
         * same bits): re-planned here, the workspace grown if needed, never in a step */
        size_t slot = 0, len = 0;
        for (size_t l = 0; l < net->num_layers; l++) {
            const dr3i_layer *ly = &net->layers[l];
            size_t need = 0;
            if (ly->conv &&
                conv_slot_floats(&ly->cv, net->opts.max_batch, (size_t)threads,
                                 l == 0 && !(net->num_layers > 1 && net->layers[1].conv),
                                 &need) &&
                need > slot)
                slot = need;
        }
        if (slot == 0 || !dr3i_mul(slot, (size_t)threads, &len))
            return dr3i_fail(DR3_ERR_OVERFLOW, "dr3_net_set_threads: %d threads overflow",
                             threads);
        if (len > net->conv_ws_len) {
            float *ws = dr3i_calloc(&net->alloc, len * sizeof(float));
            if (ws == NULL)
                return dr3i_fail(DR3_ERR_NOMEM,
                                 "dr3_net_set_threads: out of memory for %d convolution slots",
                                 threads);
            dr3i_free(&net->alloc, net->conv_ws);
            net->conv_ws = ws;
            net->conv_ws_len = len;
        }
        net->conv_slot_floats = slot;
    }
    net->opts.threads = threads;
    net->cols_kept = false; /* kept for the previous thread count's slots */
    if (threads > 1) dr3k_pool_start();
    return DR3_OK;
}

int dr3_net_same_shape(const dr3_net *a, const dr3_net *b) {
    if (a == NULL || b == NULL || a->num_layers != b->num_layers ||
        a->opts.head != b->opts.head || a->in_width != b->in_width)
        return 0;
    for (size_t l = 0; l < a->num_layers; l++) {
        const dr3i_layer *x = &a->layers[l], *y = &b->layers[l];
        if (x->in != y->in || x->out != y->out || x->conv != y->conv) return 0;
        if (x->conv &&
            (x->cv.in_c != y->cv.in_c || x->cv.in_h != y->cv.in_h || x->cv.in_w != y->cv.in_w ||
             x->cv.out_c != y->cv.out_c || x->cv.kh != y->cv.kh || x->cv.kw != y->cv.kw ||
             x->cv.stride != y->cv.stride || x->cv.pad != y->cv.pad))
            return 0;
    }
    return 1;
}

/* ---- forward and backward ------------------------------------------------------------- */

/* The element-wise passes are DR3I_CLONES (internal.h): compiled for AVX-512, AVX2 and the
 * baseline, the same operations per element, so the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&   \
    !defined(DR3_NO_IFUNC)
#define DR3I_INLINE static inline __attribute__((always_inline))
#else
#define DR3I_INLINE static inline
#endif

/* y = f(y) in place for the hidden activation. */
static void activate(dr3_activation act, float p, float *y, size_t count) {
    switch (act) {
    case DR3_ACT_IDENTITY:
        break;
    case DR3_ACT_RELU:
        for (size_t k = 0; k < count; k++) y[k] = y[k] > 0 ? y[k] : 0;
        break;
    case DR3_ACT_TANH:
        for (size_t k = 0; k < count; k++) y[k] = tanhf(y[k]);
        break;
    case DR3_ACT_ELU:
        for (size_t k = 0; k < count; k++) y[k] = y[k] > 0 ? y[k] : p * expm1f(y[k]);
        break;
    case DR3_ACT_LEAKY_RELU:
        for (size_t k = 0; k < count; k++) y[k] = y[k] > 0 ? y[k] : p * y[k];
        break;
    }
}

/* g *= f'(x) expressed through the activation's output y = f(x) (so no pre-activations
 * need storing): ReLU 1[y>0], tanh 1−y², ELU 1 or y+α, leaky 1 or s. */
DR3I_INLINE void activate_backward(dr3_activation act, float p, const float *y, float *g,
                                   size_t count) {
    switch (act) {
    case DR3_ACT_IDENTITY:
        break;
    case DR3_ACT_RELU:
        for (size_t k = 0; k < count; k++) g[k] = y[k] > 0 ? g[k] : 0;
        break;
    case DR3_ACT_TANH:
        for (size_t k = 0; k < count; k++) g[k] *= 1 - y[k] * y[k];
        break;
    case DR3_ACT_ELU:
        for (size_t k = 0; k < count; k++) g[k] *= y[k] > 0 ? 1 : y[k] + p;
        break;
    case DR3_ACT_LEAKY_RELU:
        for (size_t k = 0; k < count; k++) g[k] *= y[k] > 0 ? 1 : p;
        break;
    }
}

/* y = f(y + b) row by row (n rows of width out): the bias and the activation of a linear
 * layer in one pass. The same float operations, in the same order, as adding the bias and
 * then applying activate(). */
DR3I_CLONES static void bias_activate(dr3_activation act, float p, const float *b, float *y,
                                      size_t n, size_t out) {
    for (size_t i = 0; i < n; i++) {
        float *r = y + i * out;
        switch (act) {
        case DR3_ACT_IDENTITY:
            for (size_t k = 0; k < out; k++) r[k] += b[k];
            break;
        case DR3_ACT_RELU:
            for (size_t k = 0; k < out; k++) {
                const float z = r[k] + b[k];
                r[k] = z > 0 ? z : 0;
            }
            break;
        case DR3_ACT_TANH:
            for (size_t k = 0; k < out; k++) r[k] = tanhf(r[k] + b[k]);
            break;
        case DR3_ACT_ELU:
            for (size_t k = 0; k < out; k++) {
                const float z = r[k] + b[k];
                r[k] = z > 0 ? z : p * expm1f(z);
            }
            break;
        case DR3_ACT_LEAKY_RELU:
            for (size_t k = 0; k < out; k++) {
                const float z = r[k] + b[k];
                r[k] = z > 0 ? z : p * z;
            }
            break;
        }
    }
}

/* The n × w gradient g (row stride w) of a hidden layer's output: when hd is not NULL, g is
 * first formed here as the outer product of the single-output layer above, g(i, k) =
 * hd[i] · hw[k] (its delta and its weight row: what the product delta W would give, one
 * rounding each, without writing and reading g once more); then g += gf when gf is not NULL
 * (the injected feature gradient, row stride ld_gf), then g *= f'(y) (see
 * activate_backward; y has row stride w), and, when gb is not NULL, the bias gradient of
 * that layer in the same pass: gb = beta·gb + column sums of the new g, added row by row.
 * One pass on the calling thread: cutting it between threads measured slower (its rows were
 * just written by whichever thread ran the product before it, and moving them between cores
 * costs more than the pass). */
DR3I_CLONES static void activate_backward_bias(dr3_activation act, float p, const float *y,
                                               float *g, size_t n, size_t w, const float *hd,
                                               const float *hw, const float *gf, size_t ld_gf,
                                               float *gb, float beta) {
    if (gb != NULL && beta == 0.0f) memset(gb, 0, w * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float *gi = g + i * w;
        if (hd != NULL) {
            const float d = hd[i];
            for (size_t k = 0; k < w; k++) gi[k] = d * hw[k];
        }
        if (gf != NULL) {
            const float *fi = gf + i * ld_gf;
            for (size_t k = 0; k < w; k++) gi[k] += fi[k];
        }
        activate_backward(act, p, y + i * w, gi, w);
        if (gb != NULL)
            for (size_t k = 0; k < w; k++) gb[k] += gi[k];
    }
}

/* The part of the convolution workspace a call with the current thread count uses: one
 * slot per thread, each planned for that thread count (build, dr3_net_set_threads), so the
 * layout and the results depend on the thread count only. */
static size_t conv_ws_floats(const dr3_net *net) {
    return (size_t)net->opts.threads * net->conv_slot_floats;
}

/* Rows [i0, i1) of the forward pass through every layer, each product with @p threads;
 * linear layers only. */
static void linear_rows(dr3_net *net, size_t i0, size_t i1, int threads) {
    const dr3_net_options *o = &net->opts;
    const float *x = net->x0;
    for (size_t l = 0; l < net->num_layers; l++) {
        dr3i_layer *ly = &net->layers[l];
        const float *w = net->params + ly->w_off, *b = net->params + ly->b_off;
        /* Z = X Wᵀ: X is n × in, W is out × in (row-major, PyTorch's layout); then bias and
         * activation in one pass over Z */
        dr3k_sgemm(threads, false, true, i1 - i0, ly->out, ly->in, 1.0f, x + i0 * ly->in,
                   ly->in, w, ly->in, 0.0f, ly->act + i0 * ly->out, ly->out);
        const dr3_activation act = l + 1 < net->num_layers ? o->activation : DR3_ACT_IDENTITY;
        bias_activate(act, o->activation_param, b, ly->act + i0 * ly->out, i1 - i0, ly->out);
        x = ly->act;
    }
}

typedef struct rows_job {
    dr3_net *net;
    size_t n;
    int parts;
} rows_job;

static void rows_part(void *ctx, int s) {
    const rows_job *j = ctx;
    linear_rows(j->net, dr3k_cut(j->n, s, j->parts), dr3k_cut(j->n, s + 1, j->parts), 1);
}

/* How many row blocks a forward pass of n rows through linear layers is cut into with the
 * net's threads: each block runs the whole network on one thread, so the pass costs one
 * hand-out to the worker pool instead of one per product, and the small products (a first
 * layer on a few observations, a head with few outputs) run in parallel too. Rows are never
 * split inside a sum, so every output is the same whatever the cut; 1 for networks with
 * convolutions (their layers cut the batch themselves) and for passes too small to pay for
 * a second thread. */
static int row_parts(const dr3_net *net, size_t n) {
    const int threads = net->opts.threads;
    if (threads < 2) return 1;
    double macs = 0;
    for (size_t l = 0; l < net->num_layers; l++) {
        if (net->layers[l].conv) return 1;
        macs += (double)n * (double)net->layers[l].in * (double)net->layers[l].out;
    }
    int parts = macs < DR3K_MIN_MACS_PER_EXTRA_THREAD ? 1 : threads;
    if ((size_t)parts > n / 16) parts = n / 16 > 1 ? (int)(n / 16) : 1;
    return parts;
}

/* The forward pass over net->x0 (n rows: the input buffer, or a trusted caller's rows). */
static void run_layers(dr3_net *net, size_t n) {
    const dr3_net_options *o = &net->opts;
    const float *x = net->x0;
    net->cols_kept = false;
    const int parts = row_parts(net, n);
    if (parts > 1) {
        rows_job j = {net, n, parts};
        dr3k_parallel_for(parts, rows_part, &j);
        return;
    }
    for (size_t l = 0; l < net->num_layers; l++) {
        dr3i_layer *ly = &net->layers[l];
        const float *w = net->params + ly->w_off, *b = net->params + ly->b_off;
        if (ly->conv) {
            /* arguments were checked at creation and by the caller: it cannot fail. ReLU
             * goes into the pass that adds the bias (the same bits as a pass of its own) */
            const bool hidden = l + 1 < net->num_layers;
            const unsigned flags =
                hidden && o->activation == DR3_ACT_RELU ? (unsigned)DR3I_CONV2D_RELU : 0u;
            dr3i_conv2d_src src = {x, NULL, ly->in};
            const size_t wsf = conv_ws_floats(net);
            (void)dr3i_conv2d_forward(&ly->cv, o->threads, n, &src, w, b, ly->act, ly->out,
                                      flags, net->conv_ws, wsf);
            /* the first layer's columns survive until backward when no other convolution
             * reuses the workspace and each slot's share fitted in one group */
            net->cols_kept = l == 0 && !(net->num_layers > 1 && net->layers[1].conv) &&
                             dr3i_conv2d_cols_kept(&ly->cv, o->threads, n, wsf);
            if (hidden && flags == 0)
                activate(o->activation, o->activation_param, ly->act, n * ly->out);
        } else {
            /* Z = X Wᵀ: X is n × in, W is out × in (row-major, PyTorch's layout); then
             * bias and activation in one pass over Z */
            dr3k_sgemm(o->threads, false, true, n, ly->out, ly->in, 1.0f, x, ly->in, w, ly->in,
                       0.0f, ly->act, ly->out);
            const dr3_activation act =
                l + 1 < net->num_layers ? o->activation : DR3_ACT_IDENTITY;
            bias_activate(act, o->activation_param, b, ly->act, n, ly->out);
        }
        x = ly->act;
    }
}

/* Runs the layers over net->input, caches the pass for backward, copies the outputs and
 * hands out the features pointer. */
static void run_and_hand_out(dr3_net *net, size_t n, float *out, size_t ld_out,
                             const float **features) {
    run_layers(net, n);
    net->cached_n = n;
    net->have_forward = true;
    const dr3i_layer *last = &net->layers[net->num_layers - 1];
    if (out != NULL)
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * ld_out, last->act + i * last->out, last->out * sizeof(float));
    if (features != NULL)
        *features = net->num_layers > 1 ? net->layers[net->num_layers - 2].act : net->x0;
}

dr3_status dr3_net_forward(dr3_net *net, size_t n, const float *obs, size_t ld_obs,
                           const float *action, size_t ld_action, float *out, size_t ld_out,
                           const float **features) {
    static const char who[] = "dr3_net_forward";
    if (net == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: net is NULL", who);
    const dr3_net_options *o = &net->opts;
    if (n == 0 || n > o->max_batch)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: n = %zu must be in 1..%zu (max_batch)", who,
                         n, o->max_batch);
    if (obs == NULL || ld_obs < o->obs_dim)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: obs is NULL or ld_obs (%zu) < obs_dim (%zu)",
                         who, ld_obs, o->obs_dim);
    bool critic = o->head == DR3_HEAD_CRITIC;
    if (critic && (action == NULL || ld_action < o->action_dim))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: a critic needs action with ld_action >= action_dim (%zu)", who,
                         o->action_dim);
    if (out != NULL && ld_out < net->out_width)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_out (%zu) < output width (%zu)", who,
                         ld_out, net->out_width);
    size_t span;
    if (!dr3i_span(n, o->obs_dim, ld_obs, &span) ||
        (critic && !dr3i_span(n, o->action_dim, ld_action, &span)) ||
        (out && !dr3i_span(n, net->out_width, ld_out, &span)))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: strides overflow", who);
    if (!dr3i_matrix_finite(obs, n, o->obs_dim, ld_obs))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs contains NaN or Inf", who);
    if (critic && !dr3i_matrix_finite(action, n, o->action_dim, ld_action))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: action contains NaN or Inf", who);

    /* the input is copied so backward does not depend on the caller's memory */
    const size_t W = net->in_width;
    for (size_t i = 0; i < n; i++) {
        memcpy(net->input + i * W, obs + i * ld_obs, o->obs_dim * sizeof(float));
        if (critic)
            memcpy(net->input + i * W + o->obs_dim, action + i * ld_action,
                   o->action_dim * sizeof(float));
    }
    net->x0 = net->input;
    run_and_hand_out(net, n, out, ld_out, features);
    return DR3_OK;
}

void dr3i_net_forward_trusted(dr3_net *net, size_t n, const float *x, float *out, size_t ld_out,
                              const float **features) {
    net->x0 = x;
    run_and_hand_out(net, n, out, ld_out, features);
}

/* The backward pass proper (arguments checked, or trusted). With params false, only the
 * input gradient is computed: no weight or bias gradient is formed or stored (grads keep
 * their values), for layer lists without convolutions (dr3i_net_backward_range). */
static void backward_core(dr3_net *net, size_t r0, size_t n, const float *grad_out,
                          size_t ld_grad_out, const float *grad_features,
                          size_t ld_grad_features, float *grad_input, size_t ld_grad_input,
                          unsigned flags, bool params) {
    const size_t W = net->in_width, O = net->out_width;
    const dr3_net_options *o = &net->opts;
    const float beta = (flags & DR3_NET_ACCUMULATE) ? 1.0f : 0.0f;
    const size_t L = net->num_layers;
    /* delta holds dL/dZ of the current layer (n × out, stride out) */
    float *delta = net->delta[0], *next = net->delta[1];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < O; k++)
            delta[i * O + k] = grad_out ? grad_out[i * ld_grad_out + k] : 0;
    /* the bias gradient of a linear layer comes with the pass that makes its delta: here for
     * the output layer, in activate_backward_bias for the layers below */
    if (params && !net->layers[L - 1].conv) {
        float *gb = net->grads + net->layers[L - 1].b_off;
        if (beta == 0.0f) memset(gb, 0, O * sizeof(float));
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < O; k++) gb[k] += delta[i * O + k];
    }
    for (size_t l = L; l-- > 0;) {
        dr3i_layer *ly = &net->layers[l];
        const float *x = l > 0 ? net->layers[l - 1].act + r0 * ly->in : net->x0 + r0 * W;
        float *gw = net->grads + ly->w_off, *gb = net->grads + ly->b_off;
        bool need_dx = !(l == 0 && grad_input == NULL); /* nothing upstream of the input */
        const bool fuse_head_dx = l == L - 1 && l > 0 && !ly->conv && ly->out == 1;
        if (ly->conv) {
            dr3i_conv2d_src src = {x, NULL, ly->in};
            unsigned cf = (flags & DR3_NET_ACCUMULATE) ? DR3I_CONV2D_ACCUMULATE : 0u;
            if (l == 0 && net->cols_kept) cf |= DR3I_CONV2D_REUSE_COLS; /* no second unfold */
            (void)dr3i_conv2d_backward(&ly->cv, o->threads, n, &src, net->params + ly->w_off,
                                       delta, ly->out, gw, gb, need_dx ? next : NULL, ly->in,
                                       cf, net->conv_ws, conv_ws_floats(net));
            if (l == 0 && need_dx) net->cols_kept = false; /* dcols overwrote them */
            if (!need_dx) break;
        } else {
            /* dW = deltaᵀ X (out × in); db was summed with delta. dX = delta W (n × in).
             * The two only read delta, so with more than one thread they run side by side
             * (dr3k_sgemm_pair) rather than each cut in turn. A single-output head (a
             * critic's Q) has dX = delta ⊗ w, an outer product that the activation pass
             * below forms itself (fuse_head_dx). */
            (void)gb;
            const dr3k_sgemm_args dw = {true,    false, ly->out, ly->in, n,  1.0f,  delta,
                                        ly->out, x,     ly->in,  beta,   gw, ly->in};
            const dr3k_sgemm_args dx = {false,  false,   n,
                                        ly->in, ly->out, 1.0f,
                                        delta,  ly->out, net->params + ly->w_off,
                                        ly->in, 0.0f,    next,
                                        ly->in};
            if (fuse_head_dx) {
                if (params)
                    dr3k_sgemm(o->threads, dw.trans_a, dw.trans_b, dw.m, dw.n, dw.k, dw.alpha,
                               dw.a, dw.lda, dw.b, dw.ldb, dw.beta, dw.c, dw.ldc);
            } else if (params && need_dx) {
                dr3k_sgemm_pair(o->threads, &dw, &dx);
            } else if (params) {
                dr3k_sgemm(o->threads, dw.trans_a, dw.trans_b, dw.m, dw.n, dw.k, dw.alpha, dw.a,
                           dw.lda, dw.b, dw.ldb, dw.beta, dw.c, dw.ldc);
            } else if (need_dx) {
                dr3k_sgemm(o->threads, dx.trans_a, dx.trans_b, dx.m, dx.n, dx.k, dx.alpha, dx.a,
                           dx.lda, dx.b, dx.ldb, dx.beta, dx.c, dx.ldc);
            }
            if (!need_dx) break;
        }
        /* below the head, next is dL/dφ from the head: the injected feature gradient is
         * added to it in the activation's pass */
        const bool add_gf = l == L - 1 && L > 1 && grad_features != NULL;
        if (l > 0) {
            const dr3i_layer *below = &net->layers[l - 1];
            activate_backward_bias(
                o->activation, o->activation_param, below->act + r0 * ly->in, next, n, ly->in,
                fuse_head_dx ? delta : NULL, fuse_head_dx ? net->params + ly->w_off : NULL,
                add_gf ? grad_features : NULL, ld_grad_features,
                below->conv || !params ? NULL : net->grads + below->b_off, beta);
        } else {
            /* the input gradient; with no hidden layer, φ is the input */
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < W; k++) {
                    float g = next[i * W + k];
                    if (L == 1 && grad_features != NULL)
                        g += grad_features[i * ld_grad_features + k];
                    if (grad_input != NULL) grad_input[i * ld_grad_input + k] = g;
                }
        }
        float *t = delta;
        delta = next;
        next = t;
    }
}

dr3_status dr3_net_backward(dr3_net *net, size_t n, const float *grad_out, size_t ld_grad_out,
                            const float *grad_features, size_t ld_grad_features,
                            float *grad_input, size_t ld_grad_input, unsigned flags) {
    static const char who[] = "dr3_net_backward";
    if (net == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: net is NULL", who);
    if (!net->have_forward || n != net->cached_n)
        return dr3i_fail(DR3_ERR_STATE, "%s: n = %zu does not match the last forward (%s%zu)",
                         who, n, net->have_forward ? "n = " : "none; ", net->cached_n);
    if (flags & ~(unsigned)DR3_NET_ACCUMULATE)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown flags 0x%x", who, flags);
    const size_t D = dr3_net_feature_dim(net), W = net->in_width, O = net->out_width;
    if (grad_out != NULL && ld_grad_out < O)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_grad_out (%zu) < output width (%zu)", who,
                         ld_grad_out, O);
    if (grad_features != NULL && ld_grad_features < D)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_grad_features (%zu) < feature_dim (%zu)",
                         who, ld_grad_features, D);
    if (grad_input != NULL && ld_grad_input < W)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_grad_input (%zu) < input width (%zu)",
                         who, ld_grad_input, W);
    if (grad_out != NULL && !dr3i_matrix_finite(grad_out, n, O, ld_grad_out))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: grad_out contains NaN or Inf", who);
    if (grad_features != NULL && !dr3i_matrix_finite(grad_features, n, D, ld_grad_features))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: grad_features contains NaN or Inf", who);

    backward_core(net, 0, n, grad_out, ld_grad_out, grad_features, ld_grad_features, grad_input,
                  ld_grad_input, flags, true);
    return DR3_OK;
}

void dr3i_net_backward_range(dr3_net *net, size_t r0, size_t n, const float *grad_out,
                             size_t ld_grad_out, const float *grad_features,
                             size_t ld_grad_features, float *grad_input, size_t ld_grad_input,
                             unsigned flags, bool params) {
    backward_core(net, r0, n, grad_out, ld_grad_out, grad_features, ld_grad_features,
                  grad_input, ld_grad_input, flags, params);
}

const float *dr3i_net_last_output(const dr3_net *net) {
    return net->layers[net->num_layers - 1].act;
}

void dr3i_net_backward_rows(dr3_net *net, size_t n, const float *grad_out, size_t ld_grad_out) {
    backward_core(net, 0, n, grad_out, ld_grad_out, NULL, 0, NULL, 0, 0, true);
}

dr3_status dr3_net_copy_params(dr3_net *dst, const dr3_net *src) {
    if (dst == NULL || src == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_copy_params: NULL network");
    if (!dr3_net_same_shape(dst, src))
        return dr3i_fail(DR3_ERR_SHAPE, "dr3_net_copy_params: networks differ in shape");
    dr3i_net_copy_params_trusted(dst, src);
    return DR3_OK;
}

void dr3i_net_copy_params_trusted(dr3_net *dst, const dr3_net *src) {
    if (dst != src) memcpy(dst->params, src->params, src->param_count * sizeof(float));
}

void dr3i_net_polyak_trusted(dr3_net *dst, const dr3_net *src, float tau) {
    dr3i_polyak(dst->params, src->params, dst->param_count, tau);
}

dr3_status dr3_net_polyak(dr3_net *dst, const dr3_net *src, float tau) {
    if (dst == NULL || src == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_polyak: NULL network");
    if (!(tau >= 0 && tau <= 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_polyak: tau must be in [0, 1]");
    if (!dr3_net_same_shape(dst, src))
        return dr3i_fail(DR3_ERR_SHAPE, "dr3_net_polyak: networks differ in shape");
    dr3i_net_polyak_trusted(dst, src, tau);
    return DR3_OK;
}

/* ---- networks from a layer list (experimental) ------------------------------------------ */

DR3I_DEFINE_STRUCT(dr3_layer, dr3_layer, DR3_LAYER_INIT, DR3_LAYER_VERSION, sizeof(dr3_layer))
DR3I_DEFINE_STRUCT(dr3_net_desc, dr3_net_desc, DR3_NET_DESC_INIT, DR3_NET_DESC_VERSION,
                   sizeof(dr3_net_desc))

/* Presets: static layers, handed out by pointer. */
static const dr3_layer nature_layers[] = {
    {DR3_LAYER_VERSION, DR3_LAYER_CONV2D, 32, 8, 8, 4, 0},
    {DR3_LAYER_VERSION, DR3_LAYER_CONV2D, 64, 4, 4, 2, 0},
    {DR3_LAYER_VERSION, DR3_LAYER_CONV2D, 64, 3, 3, 1, 0},
    {DR3_LAYER_VERSION, DR3_LAYER_LINEAR, 512, 0, 0, 1, 0}};
static const dr3_layer *const nature_ptrs[] = {&nature_layers[0], &nature_layers[1],
                                               &nature_layers[2], &nature_layers[3]};
static const dr3_layer minatar_layers[] = {
    {DR3_LAYER_VERSION, DR3_LAYER_CONV2D, 16, 3, 3, 1, 0},
    {DR3_LAYER_VERSION, DR3_LAYER_LINEAR, 128, 0, 0, 1, 0}};
static const dr3_layer *const minatar_ptrs[] = {&minatar_layers[0], &minatar_layers[1]};

dr3_status dr3_net_desc_preset(dr3_net_desc *out, const char *name, size_t in_channels,
                               size_t action_dim) {
    static const char who[] = "dr3_net_desc_preset";
    if (out == NULL || name == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (in_channels == 0 || action_dim == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: in_channels and action_dim must be > 0",
                         who);
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = in_channels;
    d.action_dim = action_dim;
    if (strcmp(name, "nature") == 0) {
        d.in_height = d.in_width = 84;
        d.num_layers = 4;
        d.layers = nature_ptrs;
    } else if (strcmp(name, "minatar") == 0) {
        d.in_height = d.in_width = 10;
        d.num_layers = 2;
        d.layers = minatar_ptrs;
    } else {
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: unknown preset '%s' (expected nature or minatar)", who, name);
    }
    *out = d;
    return DR3_OK;
}

dr3_status dr3_net_create_desc(dr3_net **out, const dr3_net_desc *desc,
                               const dr3_net_options *runtime) {
    static const char who[] = "dr3_net_create_desc";
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    dr3_net_desc d = DR3_NET_DESC_INIT;
    dr3_status st = dr3i_struct_in(&d, desc, &dr3i_desc_dr3_net_desc, false, who, "desc");
    if (st != DR3_OK) return st;
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    if ((st = dr3i_struct_in(&o, runtime, &dr3i_desc_dr3_net_options, false, who,
                             "runtime options")) != DR3_OK)
        return st;
    size_t in_width;
    if (d.in_channels == 0 || d.in_height == 0 || d.in_width == 0 || d.action_dim == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: in_channels, in_height, in_width and action_dim must be > 0",
                         who);
    if (!dr3i_mul(d.in_channels, d.in_height, &in_width) ||
        !dr3i_mul(in_width, d.in_width, &in_width))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: the input size overflows", who);
    if (d.num_layers > 0 && d.layers == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: layers is NULL with num_layers = %zu", who,
                         d.num_layers);
    if (d.num_layers > 1024)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %zu layers is not supported", who,
                         d.num_layers);
    /* the architecture fields of the runtime options follow the description */
    o.obs_dim = in_width;
    o.action_dim = d.action_dim;
    o.head = DR3_HEAD_DISCRETE_Q;
    o.activation = d.activation;
    o.activation_param = d.activation_param;
    o.num_hidden = 0;
    o.hidden = NULL;
    dr3_net_options checked = DR3_NET_OPTIONS_INIT;
    if ((st = validate_options(&checked, &o, who)) != DR3_OK) return st;
    dr3i_alloc a;
    if ((st = dr3i_alloc_init(&a, checked.allocator, who)) != DR3_OK) return st;
    const size_t L = d.num_layers + 1;
    plan_layer *plan = dr3i_calloc(&a, L * sizeof *plan);
    if (plan == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    size_t c = d.in_channels, h = d.in_height, w = d.in_width;
    bool linear_seen = false;
    for (size_t l = 0; l < d.num_layers && st == DR3_OK; l++) {
        dr3_layer ly = DR3_LAYER_INIT;
        char what[48];
        snprintf(what, sizeof what, "layers[%zu]", l);
        st = dr3i_struct_in(&ly, d.layers[l], &dr3i_desc_dr3_layer, false, who, what);
        if (st != DR3_OK) break;
        if (ly.units == 0) {
            st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: layers[%zu].units is 0", who, l);
        } else if (ly.kind == DR3_LAYER_CONV2D) {
            if (linear_seen) {
                st = dr3i_fail(DR3_ERR_INVALID_ARG,
                               "%s: layers[%zu] is a convolution after a linear layer", who, l);
                break;
            }
            dr3i_conv2d *cv = &plan[l].cv;
            cv->in_c = c;
            cv->in_h = h;
            cv->in_w = w;
            cv->out_c = ly.units;
            cv->kh = ly.kernel_h;
            cv->kw = ly.kernel_w;
            cv->stride = ly.stride;
            cv->pad = ly.padding;
            st = dr3i_conv2d_init(cv, who);
            plan[l].conv = true;
            c = cv->out_c;
            h = cv->out_h;
            w = cv->out_w;
        } else if (ly.kind == DR3_LAYER_LINEAR) {
            linear_seen = true;
            plan[l].out = ly.units;
            c = ly.units;
            h = w = 1;
        } else {
            st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: layers[%zu] has unknown kind %d", who, l,
                           (int)ly.kind);
        }
    }
    size_t heads = d.num_heads, head_width = 0;
    if (st == DR3_OK &&
        (heads == 0 || heads > 1024 || !dr3i_mul(heads, d.action_dim, &head_width)))
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: num_heads must be in 1..1024", who);
    if (st == DR3_OK) {
        plan[L - 1].conv = false;
        plan[L - 1].out = head_width; /* K heads of action_dim Q-values, head-major */
        st = build(out, &checked, plan, L, in_width, who);
    }
    dr3i_free(&a, plan);
    if (st != DR3_OK) return st;
    (*out)->from_desc = true;
    (*out)->heads = heads;
    (*out)->in_c = d.in_channels;
    (*out)->in_h = d.in_height;
    (*out)->in_w = d.in_width;
    return DR3_OK;
}

dr3_status dr3_net_forward_u8(dr3_net *net, size_t n, const uint8_t *obs, size_t ld_obs,
                              float *out, size_t ld_out, const float **features) {
    static const char who[] = "dr3_net_forward_u8";
    if (net == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: net is NULL", who);
    const dr3_net_options *o = &net->opts;
    if (o->head != DR3_HEAD_DISCRETE_Q)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: only discrete-head networks take pixels",
                         who);
    if (n == 0 || n > o->max_batch)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: n = %zu must be in 1..%zu (max_batch)", who,
                         n, o->max_batch);
    if (obs == NULL || ld_obs < o->obs_dim)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: obs is NULL or ld_obs (%zu) < obs_dim (%zu)",
                         who, ld_obs, o->obs_dim);
    if (out != NULL && ld_out < net->out_width)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: ld_out (%zu) < output width (%zu)", who,
                         ld_out, net->out_width);
    size_t span;
    if (!dr3i_span(n, o->obs_dim, ld_obs, &span) ||
        (out && !dr3i_span(n, net->out_width, ld_out, &span)))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: strides overflow", who);
    /* the one float copy: into the network's input buffer, kept for backward */
    const size_t W = net->in_width;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < W; k++)
            net->input[i * W + k] = (float)obs[i * ld_obs + k] / 255.0f;
    net->x0 = net->input;
    run_and_hand_out(net, n, out, ld_out, features);
    return DR3_OK;
}

/* ---- architecture records (learner checkpoints of layer-list networks) ---------------- */

size_t dr3i_net_arch_words(const dr3_net *net, uint64_t *words, size_t cap) {
    const size_t hidden = net->num_layers - 1,
                 need = DR3I_ARCH_HEAD_WORDS + DR3I_ARCH_LAYER_WORDS * hidden;
    if (!net->from_desc || need > cap) return 0;
    words[0] = net->in_c;
    words[1] = net->in_h;
    words[2] = net->in_w;
    words[3] = net->heads;
    for (size_t l = 0; l < hidden; l++) {
        const dr3i_layer *ly = &net->layers[l];
        uint64_t *w = words + DR3I_ARCH_HEAD_WORDS + DR3I_ARCH_LAYER_WORDS * l;
        w[0] = ly->conv ? DR3_LAYER_CONV2D : DR3_LAYER_LINEAR;
        w[1] = ly->conv ? ly->cv.out_c : ly->out;
        w[2] = ly->conv ? ly->cv.kh : 0;
        w[3] = ly->conv ? ly->cv.kw : 0;
        w[4] = ly->conv ? ly->cv.stride : 1;
        w[5] = ly->conv ? ly->cv.pad : 0;
    }
    return need;
}

dr3_status dr3i_arch_from_words(const uint64_t *words, size_t nwords, uint64_t action_dim,
                                dr3_net_desc *desc, dr3_layer *layers,
                                const dr3_layer **layer_ptrs, size_t cap, size_t *params,
                                const char *who) {
    const size_t H = DR3I_ARCH_HEAD_WORDS;
    if (nwords < H || (nwords - H) % DR3I_ARCH_LAYER_WORDS != 0 ||
        (nwords - H) / DR3I_ARCH_LAYER_WORDS > cap)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: malformed architecture record", who);
    const size_t L = (nwords - H) / DR3I_ARCH_LAYER_WORDS;
    /* every size stays far below 2^32 in any real network: bounding them keeps the products
     * below overflow and refuses absurd records before anything is sized by them */
    const uint64_t big = UINT64_C(1) << 24;
    for (size_t i = 0; i < nwords; i++)
        if (words[i] > big)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: implausible architecture record", who);
    if (action_dim == 0 || action_dim > big)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: implausible action count", who);
    *desc = (dr3_net_desc)DR3_NET_DESC_INIT;
    desc->in_channels = (size_t)words[0];
    desc->in_height = (size_t)words[1];
    desc->in_width = (size_t)words[2];
    desc->num_layers = L;
    desc->layers = layer_ptrs;
    desc->action_dim = (size_t)action_dim;
    desc->num_heads = (size_t)words[3];
    if (desc->num_heads == 0 || desc->num_heads > 1024)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: implausible head count in the record", who);
    size_t c = desc->in_channels, h = desc->in_height, w = desc->in_width, total = 0, width;
    if (c == 0 || h == 0 || w == 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: empty input shape in the record", who);
    /* an input row of more than 2^24 floats (64 MB) is no network anyone saved: refused
     * before it sizes a batch buffer (a strided convolution can keep the parameter count,
     * which the file's size bounds, small for any input) */
    if (c * h > (UINT64_C(1) << 24) || c * h * w > (UINT64_C(1) << 24))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: implausible input shape in the record", who);
    bool linear_seen = false;
    for (size_t l = 0; l < L; l++) {
        const uint64_t *r = words + H + DR3I_ARCH_LAYER_WORDS * l;
        dr3_layer *ly = &layers[l];
        *ly = (dr3_layer)DR3_LAYER_INIT;
        ly->kind = (dr3_layer_kind)r[0];
        ly->units = (size_t)r[1];
        ly->kernel_h = (size_t)r[2];
        ly->kernel_w = (size_t)r[3];
        ly->stride = (size_t)r[4];
        ly->padding = (size_t)r[5];
        layer_ptrs[l] = ly;
        if (ly->units == 0) return dr3i_fail(DR3_ERR_FORMAT, "%s: a layer has no units", who);
        size_t in, wc;
        if (!dr3i_mul(c, h, &in) || !dr3i_mul(in, w, &in))
            return dr3i_fail(DR3_ERR_FORMAT, "%s: the record's sizes overflow", who);
        if (r[0] == DR3_LAYER_CONV2D && !linear_seen) {
            dr3i_conv2d cv = {.in_c = c,
                              .in_h = h,
                              .in_w = w,
                              .out_c = ly->units,
                              .kh = ly->kernel_h,
                              .kw = ly->kernel_w,
                              .stride = ly->stride,
                              .pad = ly->padding};
            if (dr3i_conv2d_init(&cv, who) != DR3_OK)
                return dr3i_fail(DR3_ERR_FORMAT, "%s: impossible convolution in the record",
                                 who);
            wc = cv.weight_count + cv.out_c;
            c = cv.out_c;
            h = cv.out_h;
            w = cv.out_w;
        } else if (r[0] == DR3_LAYER_LINEAR) {
            linear_seen = true;
            if (!dr3i_mul(in, ly->units, &wc) || !dr3i_add(wc, ly->units, &wc))
                return dr3i_fail(DR3_ERR_FORMAT, "%s: the record's sizes overflow", who);
            c = ly->units;
            h = w = 1;
        } else {
            return dr3i_fail(DR3_ERR_FORMAT, "%s: unknown or misplaced layer in the record",
                             who);
        }
        if (!dr3i_add(total, wc, &total))
            return dr3i_fail(DR3_ERR_FORMAT, "%s: the record's sizes overflow", who);
    }
    size_t head, outs;
    if (!dr3i_mul(c, h, &width) || !dr3i_mul(width, w, &width) ||
        !dr3i_mul((size_t)action_dim, desc->num_heads, &outs) ||
        !dr3i_mul(width, outs, &head) || !dr3i_add(head, outs, &head) ||
        !dr3i_add(total, head, &total))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: the record's sizes overflow", who);
    *params = total;
    return DR3_OK;
}

DR3I_ENUM_NAMES(dr3_activation, dr3_activation, "identity", "relu", "tanh", "elu", "leaky_relu")
DR3I_ENUM_NAMES(dr3_head_kind, dr3_head_kind, "discrete_q", "critic")
