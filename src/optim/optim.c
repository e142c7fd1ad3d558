/* Optimizers (dr3/optim.h) with torch.optim's update rules, over flat float vectors. */
#include <dr3/optim.h>

#include "../core/checksum.h"
#include "../core/internal.h"
#include "../kernels/kernels.h"
#include "optim_internal.h"

#include <string.h>

enum { MAX_STATE = 3 };

/* The highest step count an optimizer accepts (2^53, also enforced on load): the step
 * number enters Adam's bias correction as a double, exact up to here, and a counter this far
 * below 2^64 cannot wrap to 0 (where 1 − β^t = 0 divides by zero). */
#define DR3I_OPTIM_MAX_STEPS (UINT64_C(1) << 53)

struct dr3_optim {
    dr3i_alloc alloc;
    dr3_optim_options o;
    size_t count;
    uint64_t steps;
    size_t nstate;
    const char *names[MAX_STATE];
    float *state[MAX_STATE];
};

static dr3_status check_options(const dr3_optim_options *o, const char *who) {
    if (o->kind < DR3_OPTIM_ADAM || o->kind > DR3_OPTIM_RMSPROP)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown optimizer kind %d", who,
                         (int)o->kind);
    if (!(isfinite(o->lr) && o->lr >= 0)) /* 0 is allowed, as in torch.optim */
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: lr must be finite and >= 0", who);
    if (!(o->eps > 0 && isfinite(o->eps)))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: eps must be finite and > 0", who);
    if (!(o->weight_decay >= 0 && isfinite(o->weight_decay)))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: weight_decay must be finite and >= 0", who);
    if (!(o->max_grad_norm >= 0 && isfinite(o->max_grad_norm)))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: max_grad_norm must be finite and >= 0", who);
    if (o->kind == DR3_OPTIM_ADAM || o->kind == DR3_OPTIM_ADAMW) {
        if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1))
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: betas must be in [0, 1)", who);
    }
    if (!(o->momentum >= 0 && isfinite(o->momentum)) ||
        !(o->dampening >= 0 && o->dampening <= 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: momentum must be >= 0, dampening in [0, 1]",
                         who);
    if (o->kind == DR3_OPTIM_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: Nesterov momentum requires momentum > 0 and zero dampening", who);
    if (o->kind == DR3_OPTIM_RMSPROP && !(o->alpha >= 0 && o->alpha < 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: alpha must be in [0, 1)", who);
    return DR3_OK;
}

DR3I_DEFINE_STRUCT(dr3_optim_options, dr3_optim_options, DR3_OPTIM_OPTIONS_INIT,
                   DR3_OPTIM_OPTIONS_VERSION, sizeof(dr3_optim_options))

dr3_status dr3_optim_create(dr3_optim **out, size_t param_count,
                            const dr3_optim_options *opts) {
    static const char who[] = "dr3_optim_create";
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    dr3_optim_options o = DR3_OPTIM_OPTIONS_INIT;
    dr3_status st =
        dr3i_struct_in(&o, opts, &dr3i_desc_dr3_optim_options, false, who, "options");
    if (st != DR3_OK) return st;
    st = check_options(&o, who);
    if (st != DR3_OK) return st;
    if (param_count == 0) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: param_count is 0", who);
    size_t bytes;
    if (!dr3i_mul(param_count, sizeof(float), &bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: param_count %zu overflows", who, param_count);
    dr3i_alloc alloc;
    if ((st = dr3i_alloc_init(&alloc, o.allocator, who)) != DR3_OK) return st;
    dr3_optim *opt = dr3i_calloc(&alloc, sizeof *opt);
    if (opt == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    opt->alloc = alloc;
    opt->o = o;
    opt->o.allocator = NULL;
    opt->count = param_count;
    switch (o.kind) {
    case DR3_OPTIM_ADAM:
    case DR3_OPTIM_ADAMW:
        opt->names[opt->nstate++] = "exp_avg";
        opt->names[opt->nstate++] = "exp_avg_sq";
        break;
    case DR3_OPTIM_SGD:
        if (o.momentum > 0) opt->names[opt->nstate++] = "momentum_buffer";
        break;
    case DR3_OPTIM_RMSPROP:
        opt->names[opt->nstate++] = "square_avg";
        if (o.centered) opt->names[opt->nstate++] = "grad_avg";
        if (o.momentum > 0) opt->names[opt->nstate++] = "momentum_buffer";
        break;
    }
    for (size_t k = 0; k < opt->nstate; k++) {
        opt->state[k] = dr3i_calloc(&alloc, bytes);
        if (opt->state[k] == NULL) {
            dr3_optim_free(opt);
            return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        }
    }
    *out = opt;
    return DR3_OK;
}

void dr3_optim_free(dr3_optim *opt) {
    if (opt == NULL) return;
    for (size_t k = 0; k < opt->nstate; k++) dr3i_free(&opt->alloc, opt->state[k]);
    dr3i_alloc a = opt->alloc;
    dr3i_free(&a, opt);
}

/* The update loops are DR3I_CLONES (internal.h): compiled for AVX-512, AVX2 and the
 * baseline, the same float operations element by element (IEEE square root and division), so
 * the same bits, 2-4x faster where the CPU has wider vectors. */

/* Σ g² in double, in dr3i_dot_f64's fixed order. */
static double sq_norm(const float *g, size_t n) { return dr3i_dot_f64(g, g, n); }

dr3_status dr3_clip_grad_norm(float *grads, size_t n, float max_norm, float *norm_out) {
    static const char who[] = "dr3_clip_grad_norm";
    if (n > 0 && grads == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: grads is NULL", who);
    if (!(isfinite(max_norm) && max_norm > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: max_norm must be finite and > 0", who);
    double norm = sqrt(sq_norm(grads, n));
    if (!isfinite(norm))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: the gradient contains NaN or Inf", who);
    float coef = (float)(max_norm / (norm + 1e-6));
    if (coef < 1.0f)
        for (size_t k = 0; k < n; k++) grads[k] *= coef;
    if (norm_out) *norm_out = (float)norm;
    return DR3_OK;
}

/* 1 when x is Inf or NaN (exponent all ones), computed with integer operations so that the
 * checking pass stays branch-free and vectorisable. */
static inline uint32_t nonfinite(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

/* Each kind's update is written once and run twice by dr3_optim_step: with write == false it
 * computes every new parameter and state value, stores nothing and returns nonzero if any is
 * non-finite; with write == true it stores them. Both runs perform the same float
 * operations in the same order, so the second writes exactly the values the first checked.
 * The functions are inlined with constant flags (the pass and the kind's structural
 * options), so that each combination is a straight loop without conditional stores, which
 * the compiler can vectorise. g is the clipped gradient: grads[k] * coef when clip is set
 * (the caller scales grads in place afterwards). t is the number of the step being taken. */

static inline uint32_t adam_pass(dr3_optim *opt, float *params, const float *grads, size_t k0,
                                 size_t k1, bool clip, float coef, uint64_t t, bool decoupled,
                                 bool write) {
    const dr3_optim_options *o = &opt->o;
    float *m = opt->state[0], *v = opt->state[1];
    const float lr = o->lr, wd = o->weight_decay;
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float bc1 = (float)(1.0 - pow(b1, (double)t));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t));
    const float step_size = lr / bc1;
    uint32_t bad = 0;
    for (size_t k = k0; k < k1; k++) {
        float g = clip ? grads[k] * coef : grads[k], p = params[k];
        if (decoupled)
            p *= 1.0f - lr * wd;
        else if (wd != 0)
            g += wd * p;
        const float mk = b1 * m[k] + (1.0f - b1) * g;
        const float vk = b2 * v[k] + (1.0f - b2) * g * g;
        const float denom = sqrtf(vk) / bc2_sqrt + eps;
        const float pk = p - step_size * mk / denom;
        if (write) {
            m[k] = mk;
            v[k] = vk;
            params[k] = pk;
        } else {
            bad |= nonfinite(mk) | nonfinite(vk) | nonfinite(pk);
        }
    }
    return bad;
}

static inline uint32_t sgd_pass(dr3_optim *opt, float *params, const float *grads, size_t k0,
                                size_t k1, bool clip, float coef, uint64_t t, bool momentum,
                                bool nesterov, bool write) {
    const dr3_optim_options *o = &opt->o;
    float *buf = momentum ? opt->state[0] : NULL;
    const float lr = o->lr, wd = o->weight_decay, mu = o->momentum, damp = o->dampening;
    const bool first = t == 1;
    uint32_t bad = 0;
    for (size_t k = k0; k < k1; k++) {
        float g = clip ? grads[k] * coef : grads[k], bk = 0.0f;
        if (wd != 0) g += wd * params[k];
        if (momentum) {
            bk = first ? g : mu * buf[k] + (1.0f - damp) * g;
            g = nesterov ? g + mu * bk : bk;
        }
        const float pk = params[k] - lr * g;
        if (write) {
            if (momentum) buf[k] = bk;
            params[k] = pk;
        } else {
            bad |= nonfinite(bk) | nonfinite(pk);
        }
    }
    return bad;
}

static inline uint32_t rmsprop_pass(dr3_optim *opt, float *params, const float *grads,
                                    size_t k0, size_t k1, bool clip, float coef, bool centered,
                                    bool momentum, bool write) {
    const dr3_optim_options *o = &opt->o;
    size_t idx = 0;
    float *sq = opt->state[idx++];
    float *ga = centered ? opt->state[idx++] : NULL;
    float *buf = momentum ? opt->state[idx++] : NULL;
    const float lr = o->lr, wd = o->weight_decay, a = o->alpha, eps = o->eps, mu = o->momentum;
    uint32_t bad = 0;
    for (size_t k = k0; k < k1; k++) {
        float g = clip ? grads[k] * coef : grads[k], gak = 0.0f, bk = 0.0f, pk;
        if (wd != 0) g += wd * params[k];
        const float sqk = a * sq[k] + (1.0f - a) * g * g;
        float avg;
        if (centered) {
            gak = a * ga[k] + (1.0f - a) * g;
            avg = sqrtf(sqk - gak * gak) + eps;
        } else {
            avg = sqrtf(sqk) + eps;
        }
        if (momentum) {
            bk = mu * buf[k] + g / avg;
            pk = params[k] - lr * bk;
        } else {
            pk = params[k] - lr * g / avg;
        }
        if (write) {
            sq[k] = sqk;
            if (centered) ga[k] = gak;
            if (momentum) buf[k] = bk;
            params[k] = pk;
        } else {
            /* a NaN root (centered, sqk < gak²) reaches pk: 0 / NaN is NaN */
            bad |= nonfinite(sqk) | nonfinite(gak) | nonfinite(bk) | nonfinite(pk);
        }
    }
    return bad;
}

/* One pass (write or check) of the optimizer's kind with its options as constants. */
DR3I_CLONES static uint32_t update_range(dr3_optim *opt, float *params, const float *grads,
                                         size_t k0, size_t k1, bool clip, float coef,
                                         uint64_t t, bool write) {
    const dr3_optim_options *o = &opt->o;
    const bool mom = o->momentum > 0;
#define PASS(call_true, call_false) (write ? (call_true) : (call_false))
#define ADAM(D)                                                                                \
    PASS(adam_pass(opt, params, grads, k0, k1, clip, coef, t, D, true),                        \
         adam_pass(opt, params, grads, k0, k1, clip, coef, t, D, false))
#define SGD(M, N)                                                                              \
    PASS(sgd_pass(opt, params, grads, k0, k1, clip, coef, t, M, N, true),                      \
         sgd_pass(opt, params, grads, k0, k1, clip, coef, t, M, N, false))
#define RMS(C, M)                                                                              \
    PASS(rmsprop_pass(opt, params, grads, k0, k1, clip, coef, C, M, true),                     \
         rmsprop_pass(opt, params, grads, k0, k1, clip, coef, C, M, false))
    switch (o->kind) {
    case DR3_OPTIM_ADAM:
        return ADAM(false);
    case DR3_OPTIM_ADAMW:
        return ADAM(true);
    case DR3_OPTIM_SGD:
        /* momentum_buffer exists exactly when momentum > 0 (dr3_optim_create) */
        return !mom ? SGD(false, false) : o->nesterov ? SGD(true, true) : SGD(true, false);
    case DR3_OPTIM_RMSPROP:
        return o->centered ? (mom ? RMS(true, true) : RMS(true, false))
                           : (mom ? RMS(false, true) : RMS(false, false));
    }
#undef PASS
#undef ADAM
#undef SGD
#undef RMS
    return 1;
}

/* Below this many parameters a pass runs on the calling thread alone (a pass costs about a
 * nanosecond per parameter; waking a worker, microseconds). */
enum { MIN_PARAMS_PER_PART = 32768 };

typedef struct update_job {
    dr3_optim *opt;
    float *params;
    const float *grads;
    size_t count;
    bool clip, write;
    float coef;
    uint64_t t;
    float *polyak; /* write pass: the target moved toward the new parameters, or NULL */
    float tau;
    int parts;
    uint32_t bad[DR3I_OPTIM_MAX_PARTS];
} update_job;

/* The pass over [k0, k1), then (write pass) that range of the Polyak target. */
static uint32_t update_slice(const update_job *j, size_t k0, size_t k1) {
    uint32_t bad =
        update_range(j->opt, j->params, j->grads, k0, k1, j->clip, j->coef, j->t, j->write);
    if (j->write && j->polyak != NULL)
        dr3i_polyak(j->polyak + k0, j->params + k0, k1 - k0, j->tau);
    return bad;
}

static void update_part(void *ctx, int s) {
    update_job *j = ctx;
    /* on a worker, in the caller's floating-point mode (subnormals flushed): the pool runs
     * every slice in the mode of the thread that posted it */
    j->bad[s] =
        update_slice(j, dr3k_cut(j->count, s, j->parts), dr3k_cut(j->count, s + 1, j->parts));
}

/* One pass over all parameters, cut into ranges over @p threads threads: every element's
 * update is independent of the others, so the bits are the same whatever the cut. */
static uint32_t update(dr3_optim *opt, float *params, const float *grads, size_t count,
                       bool clip, float coef, uint64_t t, bool write, int threads,
                       float *polyak, float tau) {
    size_t parts = count / MIN_PARAMS_PER_PART;
    if (threads < 2) parts = 1;
    if (parts > (size_t)threads) parts = (size_t)threads;
    if (parts > DR3I_OPTIM_MAX_PARTS) parts = DR3I_OPTIM_MAX_PARTS;
    update_job j = {opt,  params, grads,  count, clip,       write,
                    coef, t,      polyak, tau,   (int)parts, {0}};
    if (parts < 2) return update_slice(&j, 0, count);
    dr3k_parallel_for((int)parts, update_part, &j);
    uint32_t bad = 0;
    for (size_t k = 0; k < parts; k++) bad |= j.bad[k];
    return bad;
}

dr3_status dr3i_optim_check(dr3_optim *opt, const float *params, const float *grads,
                            size_t count, dr3i_optim_plan *plan, const char *who) {
    if (opt == NULL || params == NULL || grads == NULL || plan == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (count != opt->count)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: count %zu differs from the optimizer's %zu", who,
                         count, opt->count);
    if (opt->steps >= DR3I_OPTIM_MAX_STEPS)
        return dr3i_fail(DR3_ERR_RANGE, "%s: the step count %llu is at its limit (2^53)", who,
                         (unsigned long long)opt->steps);
    /* the guard: nothing changes unless every gradient is finite ... */
    double norm = sqrt(sq_norm(grads, count));
    if (!isfinite(norm))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: the gradient contains NaN or Inf", who);
    const dr3_optim_options *o = &opt->o;
    float coef = 1.0f;
    if (o->max_grad_norm > 0) coef = (float)(o->max_grad_norm / (norm + 1e-6));
    const bool clip = coef < 1.0f;
    const uint64_t t = opt->steps + 1;
    /* ... and every new parameter and state value is finite (lr = FLT_MAX, a huge weight
     * decay or a restored state can overflow even with a finite gradient). This pass
     * computes the update without storing it; dr3i_optim_commit stores it. No workspace, no
     * allocation. */
    dr3i_fpmode fp = dr3i_ftz_enter();
    uint32_t bad = update(opt, (float *)params, grads, count, clip, coef, t, false,
                          plan->threads, NULL, 0);
    dr3i_ftz_leave(fp);
    if (bad != 0)
        return dr3i_fail(DR3_ERR_NONFINITE,
                         "%s: the update would make a parameter or optimizer state NaN or Inf "
                         "(learning rate %g too large?); nothing was changed",
                         who, (double)o->lr);
    plan->norm = norm;
    plan->coef = coef;
    plan->clip = clip;
    plan->step = t;
    return DR3_OK;
}

void dr3i_optim_commit(dr3_optim *opt, float *params, float *grads, size_t count,
                       const dr3i_optim_plan *plan) {
    dr3i_fpmode fp = dr3i_ftz_enter();
    update(opt, params, grads, count, plan->clip, plan->coef, plan->step, true, plan->threads,
           plan->polyak, plan->polyak_tau);
    dr3i_ftz_leave(fp);
    if (plan->clip) /* the same products the passes used */
        for (size_t k = 0; k < count; k++) grads[k] *= plan->coef;
    opt->steps = plan->step;
}

dr3_status dr3_optim_step(dr3_optim *opt, float *params, float *grads, size_t count,
                          float *grad_norm_out) {
    dr3i_optim_plan plan = {0, 1.0f, false, 0, 1, NULL, 0};
    dr3_status st = dr3i_optim_check(opt, params, grads, count, &plan, "dr3_optim_step");
    if (st != DR3_OK) return st;
    dr3i_optim_commit(opt, params, grads, count, &plan);
    if (grad_norm_out) *grad_norm_out = (float)plan.norm;
    return DR3_OK;
}

dr3_status dr3_optim_set_lr(dr3_optim *opt, float lr) {
    if (opt == NULL || !(isfinite(lr) && lr >= 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_optim_set_lr: %s",
                         opt == NULL ? "opt is NULL" : "lr must be finite and >= 0");
    opt->o.lr = lr;
    return DR3_OK;
}

float dr3_optim_get_lr(const dr3_optim *opt) { return opt ? opt->o.lr : 0.0f; }
uint64_t dr3_optim_step_count(const dr3_optim *opt) { return opt ? opt->steps : 0; }

dr3_status dr3_optim_reset(dr3_optim *opt) {
    if (opt == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_optim_reset: opt is NULL");
    for (size_t k = 0; k < opt->nstate; k++)
        memset(opt->state[k], 0, opt->count * sizeof(float));
    opt->steps = 0;
    return DR3_OK;
}

size_t dr3_optim_state_tensor_count(const dr3_optim *opt) { return opt ? opt->nstate : 0; }

dr3_status dr3_optim_state_tensor(dr3_optim *opt, size_t index, const char **name, float **data,
                                  size_t *len) {
    if (opt == NULL || index >= opt->nstate)
        return dr3i_fail(DR3_ERR_RANGE, "dr3_optim_state_tensor: no state tensor %zu", index);
    if (name) *name = opt->names[index];
    if (data) *data = opt->state[index];
    if (len) *len = opt->count;
    return DR3_OK;
}

dr3_status dr3_optim_set_step_count(dr3_optim *opt, uint64_t steps) {
    if (opt == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_optim_set_step_count: NULL");
    if (steps > DR3I_OPTIM_MAX_STEPS)
        return dr3i_fail(DR3_ERR_RANGE, "dr3_optim_set_step_count: %llu steps is above 2^53",
                         (unsigned long long)steps);
    opt->steps = steps;
    return DR3_OK;
}

/* ---- serialisation: "DR3OPTM\0", u32 version 1, u32 kind, u64 count, u64 steps,
 *      u32 nstate, u32 reserved, nstate × count little-endian floats, u32 CRC-32C of all
 *      preceding bytes. Only little-endian hosts are supported (checked at build). -------- */

static const char MAGIC[8] = {'D', 'R', '3', 'O', 'P', 'T', 'M', '\0'};
enum { HEADER = 8 + 4 + 4 + 8 + 8 + 4 + 4 };

dr3_status dr3_optim_state_size(const dr3_optim *opt, size_t *bytes) {
    if (opt == NULL || bytes == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_optim_state_size: NULL argument");
    size_t body;
    if (!dr3i_mul(opt->nstate * opt->count, sizeof(float), &body) ||
        !dr3i_add(body, HEADER + 4, bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "dr3_optim_state_size: overflow");
    return DR3_OK;
}

dr3_status dr3_optim_state_save(const dr3_optim *opt, void *buf, size_t len) {
    size_t need;
    dr3_status st = dr3_optim_state_size(opt, &need);
    if (st != DR3_OK) return st;
    if (buf == NULL || len < need)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_optim_state_save: buffer of %zu bytes < %zu",
                         len, need);
    unsigned char *p = buf;
    uint32_t version = 1, kind = (uint32_t)opt->o.kind, nstate = (uint32_t)opt->nstate,
             zero = 0;
    uint64_t count = opt->count, steps = opt->steps;
    memcpy(p, MAGIC, 8);
    memcpy(p + 8, &version, 4);
    memcpy(p + 12, &kind, 4);
    memcpy(p + 16, &count, 8);
    memcpy(p + 24, &steps, 8);
    memcpy(p + 32, &nstate, 4);
    memcpy(p + 36, &zero, 4);
    size_t off = HEADER;
    for (size_t k = 0; k < opt->nstate; k++) {
        memcpy(p + off, opt->state[k], opt->count * sizeof(float));
        off += opt->count * sizeof(float);
    }
    uint32_t crc = dr3i_crc32c(0, p, off);
    memcpy(p + off, &crc, 4);
    return DR3_OK;
}

dr3_status dr3_optim_state_load(dr3_optim *opt, const void *buf, size_t len) {
    static const char who[] = "dr3_optim_state_load";
    size_t need;
    dr3_status st = dr3_optim_state_size(opt, &need);
    if (st != DR3_OK) return st;
    if (buf == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: buf is NULL", who);
    const unsigned char *p = buf;
    if (len < HEADER + 4 || memcmp(p, MAGIC, 8) != 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: not an optimizer state (bad magic or too short)",
                         who);
    uint32_t version, kind, nstate, crc;
    uint64_t count, steps;
    memcpy(&version, p + 8, 4);
    memcpy(&kind, p + 12, 4);
    memcpy(&count, p + 16, 8);
    memcpy(&steps, p + 24, 8);
    memcpy(&nstate, p + 32, 4);
    if (version != 1)
        return dr3i_fail(DR3_ERR_VERSION, "%s: state version %u is not supported", who,
                         version);
    if (kind != (uint32_t)opt->o.kind || count != opt->count || nstate != opt->nstate)
        return dr3i_fail(
            DR3_ERR_SHAPE,
            "%s: state is for kind %u, %llu parameters, %u vectors; this optimizer "
            "is kind %d, %zu, %zu",
            who, kind, (unsigned long long)count, nstate, (int)opt->o.kind, opt->count,
            opt->nstate);
    if (len != need)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %zu bytes, expected %zu", who, len, need);
    memcpy(&crc, p + need - 4, 4);
    if (dr3i_crc32c(0, p, need - 4) != crc)
        return dr3i_fail(DR3_ERR_CHECKSUM, "%s: checksum mismatch", who);
    /* a valid checksum only says the bytes are as written: check the values too */
    if (steps > DR3I_OPTIM_MAX_STEPS)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: step count %llu is impossible (at most 2^53)",
                         who, (unsigned long long)steps);
    size_t off = HEADER;
    for (size_t k = 0; k < opt->nstate; k++, off += opt->count * sizeof(float)) {
        /* second moments are averages of squares: never negative */
        const bool second_moment = strcmp(opt->names[k], "exp_avg_sq") == 0 ||
                                   strcmp(opt->names[k], "square_avg") == 0;
        for (size_t i = 0; i < opt->count; i++) {
            float x;
            memcpy(&x, p + off + i * sizeof(float), sizeof x);
            if (!isfinite(x))
                return dr3i_fail(DR3_ERR_FORMAT,
                                 "%s: state vector '%s' holds NaN or Inf at %zu", who,
                                 opt->names[k], i);
            if (second_moment && x < 0)
                return dr3i_fail(DR3_ERR_FORMAT,
                                 "%s: state vector '%s' holds a negative value (%g) at %zu",
                                 who, opt->names[k], (double)x, i);
        }
    }
    off = HEADER;
    for (size_t k = 0; k < opt->nstate; k++) {
        memcpy(opt->state[k], p + off, opt->count * sizeof(float));
        off += opt->count * sizeof(float);
    }
    opt->steps = steps;
    return DR3_OK;
}

DR3I_ENUM_NAMES(dr3_optim_kind, dr3_optim_kind, "adam", "adamw", "sgd", "rmsprop")
