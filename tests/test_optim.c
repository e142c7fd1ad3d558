/* Optimizers against closed-form updates computed here in double precision from PyTorch's
 * documented algorithms (torch.optim.Adam/AdamW/SGD/RMSprop docs, written out independently
 * of src/optim), gradient clipping against its closed form, learning-rate changes, the
 * non-finite guard, state save/load (round trip and every malformed buffer), bad options and
 * arguments, and no allocation in a step. tests/test_reference.c compares with PyTorch
 * itself. */
#include "testutil.h"

#include "crc32c_ref.h"

#include <dr3/optim.h>

#include "kernels/kernels.h"
#include "optim/optim_internal.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

enum { P = 3, STEPS = 7 };

/* ---- the reference: PyTorch's documented algorithms, in double ----------------------------
 */

typedef struct ref_state {
    double m[P], v[P], ga[P], buf[P];
    int t;
} ref_state;

/* One step of the documented algorithm on P parameters (g is the gradient after clipping). */
static void ref_step(const dr3_optim_options *o, double lr, ref_state *s, double *p,
                     const double *g_in) {
    s->t++;
    const double wd = o->weight_decay;
    for (int k = 0; k < P; k++) {
        double g = g_in[k];
        switch (o->kind) {
        case DR3_OPTIM_ADAM:
        case DR3_OPTIM_ADAMW: {
            /* Adam: g += λθ; AdamW: θ *= 1 − γλ. m̂ = m/(1−β1^t), v̂ = v/(1−β2^t),
             * θ −= γ m̂ / (√v̂ + ε) */
            if (o->kind == DR3_OPTIM_ADAMW)
                p[k] *= 1.0 - lr * wd;
            else
                g += wd * p[k];
            const double b1 = o->beta1, b2 = o->beta2;
            s->m[k] = b1 * s->m[k] + (1 - b1) * g;
            s->v[k] = b2 * s->v[k] + (1 - b2) * g * g;
            double mh = s->m[k] / (1 - pow(b1, s->t)), vh = s->v[k] / (1 - pow(b2, s->t));
            p[k] -= lr * mh / (sqrt(vh) + (double)o->eps);
            break;
        }
        case DR3_OPTIM_SGD: {
            /* g += λθ; b = g (t = 1) or μb + (1 − τ)g; g = g + μb (Nesterov) or b */
            g += wd * p[k];
            if (o->momentum != 0) {
                s->buf[k] = s->t == 1 ? g : o->momentum * s->buf[k] + (1 - o->dampening) * g;
                g = o->nesterov ? g + o->momentum * s->buf[k] : s->buf[k];
            }
            p[k] -= lr * g;
            break;
        }
        case DR3_OPTIM_RMSPROP: {
            /* g += λθ; v = αv + (1 − α)g²; centered: ga = αga + (1 − α)g, ṽ = v − ga²;
             * momentum: b = μb + g/(√ṽ + ε), θ −= γb; else θ −= γ g/(√ṽ + ε) */
            g += wd * p[k];
            const double a = o->alpha;
            s->v[k] = a * s->v[k] + (1 - a) * g * g;
            double vt = s->v[k];
            if (o->centered) {
                s->ga[k] = a * s->ga[k] + (1 - a) * g;
                vt -= s->ga[k] * s->ga[k];
            }
            double step = g / (sqrt(vt) + (double)o->eps);
            if (o->momentum > 0) {
                s->buf[k] = o->momentum * s->buf[k] + step;
                step = s->buf[k];
            }
            p[k] -= lr * step;
            break;
        }
        }
    }
}

/* torch.nn.utils.clip_grad_norm_: c = max/(‖g‖ + 1e-6); g *= c when c < 1. */
static double ref_clip(double *g, int n, double max_norm) {
    double s = 0;
    for (int k = 0; k < n; k++) s += g[k] * g[k];
    double norm = sqrt(s), c = max_norm / (norm + 1e-6);
    if (c < 1)
        for (int k = 0; k < n; k++) g[k] *= c;
    return norm;
}

static const float P0[P] = {0.5f, -1.25f, 2.0f};
/* gradients of various sizes and signs (norms 0.06 .. 3.7) */
static const float G[STEPS][P] = {
    {0.3f, -0.8f, 1.1f},  {-0.02f, 0.05f, 0.01f}, {2.0f, 1.5f, -2.5f}, {0.4f, 0.4f, -0.1f},
    {-0.7f, 0.0f, 0.25f}, {0.01f, -0.03f, 0.02f}, {1.0f, -1.0f, 0.5f}};
/* learning rates of the steps: changed between steps, including 0 */
static const float LR[STEPS] = {0.01f, 0.01f, 0.003f, 0.0f, 0.02f, 0.05f, 0.001f};

typedef struct config {
    const char *name;
    dr3_optim_options o;
} config;

static dr3_optim_options opts_of(dr3_optim_kind kind) {
    dr3_optim_options o = DR3_OPTIM_OPTIONS_INIT;
    o.kind = kind;
    return o;
}

/* Every configuration the closed-form test runs. */
static size_t make_configs(config *c) {
    size_t n = 0;
    dr3_optim_options o;
    c[n++] = (config){"adam", opts_of(DR3_OPTIM_ADAM)};
    o = opts_of(DR3_OPTIM_ADAM);
    o.weight_decay = 0.1f, o.beta1 = 0.5f, o.beta2 = 0.9f, o.eps = 1e-3f;
    c[n++] = (config){"adam wd", o};
    o = opts_of(DR3_OPTIM_ADAM);
    o.beta1 = 0.0f;
    c[n++] = (config){"adam beta1=0", o};
    o = opts_of(DR3_OPTIM_ADAMW);
    o.weight_decay = 0.5f;
    c[n++] = (config){"adamw", o};
    c[n++] = (config){"sgd", opts_of(DR3_OPTIM_SGD)};
    o = opts_of(DR3_OPTIM_SGD);
    o.momentum = 0.9f;
    c[n++] = (config){"sgd momentum", o};
    o.dampening = 0.4f;
    c[n++] = (config){"sgd momentum dampening", o};
    o = opts_of(DR3_OPTIM_SGD);
    o.momentum = 0.8f, o.nesterov = 1, o.weight_decay = 0.05f;
    c[n++] = (config){"sgd nesterov wd", o};
    o = opts_of(DR3_OPTIM_SGD);
    o.weight_decay = 0.2f;
    c[n++] = (config){"sgd wd", o};
    c[n++] = (config){"rmsprop", opts_of(DR3_OPTIM_RMSPROP)};
    o = opts_of(DR3_OPTIM_RMSPROP);
    o.centered = 1, o.alpha = 0.9f, o.eps = 1e-4f;
    c[n++] = (config){"rmsprop centered", o};
    o.momentum = 0.7f;
    c[n++] = (config){"rmsprop centered momentum", o};
    o = opts_of(DR3_OPTIM_RMSPROP);
    o.momentum = 0.5f, o.weight_decay = 0.3f, o.alpha = 0.5f;
    c[n++] = (config){"rmsprop momentum wd", o};
    /* the same with clipping inside the step */
    size_t base = n;
    for (size_t k = 0; k < base; k++) {
        c[n] = c[k];
        c[n].o.max_grad_norm = 1.0f;
        c[n].name = "(clipped)";
        n++;
    }
    return n;
}

/* Runs STEPS steps with changing learning rates and compares parameters, the gradient norm,
 * the in-place clipped gradient and the state vectors with the double-precision reference. */
/* Subnormal results are flushed to zero inside dr3_optim_step (they cost ~100 cycles each on
 * x86 and made Adam 14x slower when dead units' moments decayed into that range), and the
 * caller's floating-point mode is left as it was. g = 1e-20: g² = 1e-40 and (1 − β2)·g² =
 * 1e-43 are subnormal, so exp_avg_sq must be exactly 0; exp_avg = 0.1·g = 1e-21 is normal and
 * must be kept; the parameter moves by lr·m̂ / eps (closed form with v = 0). */
static void test_subnormals_flushed(void **state) {
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    const unsigned caller = _mm_getcsr() & ~0x8040u; /* FTZ and DAZ off, as C programs start */
    _mm_setcsr(caller);
#endif
    dr3_optim_options o = DR3_OPTIM_OPTIONS_INIT;
    o.kind = DR3_OPTIM_ADAM;
    o.lr = 1e-3f;
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    float p[P] = {1.0f, -2.0f, 0.5f}, g[P] = {1e-20f, -1e-20f, 1e-20f};
    assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
#if defined(__x86_64__) || defined(__i386__)
    assert_int_equal(_mm_getcsr(), caller);
#endif
    float *m = NULL, *v = NULL;
    assert_int_equal(dr3_optim_state_tensor(opt, 0, NULL, &m, NULL), DR3_OK);
    assert_int_equal(dr3_optim_state_tensor(opt, 1, NULL, &v, NULL), DR3_OK);
    const double P0s[P] = {1.0, -2.0, 0.5};
    for (int k = 0; k < P; k++) {
#if defined(__x86_64__) || defined(__i386__)
        assert_true(v[k] == 0.0f); /* 1e-43 flushed */
#endif
        TU_ASSERT_CLOSE(m[k], 0.1 * g[k], 1e-6, 0);
        /* bias-corrected m̂ = g; the step is lr · g / eps */
        double want = P0s[k] - 1e-3 * (double)g[k] / 1e-8;
        TU_ASSERT_CLOSE(p[k], want, 1e-6, 0);
    }
    dr3_optim_free(opt);
}

static void test_closed_forms(void **state) {
    (void)state;
    config cfg[64];
    size_t nc = make_configs(cfg);
    for (size_t c = 0; c < nc; c++) {
        const dr3_optim_options *o = &cfg[c].o;
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, P, o), DR3_OK);
        float p[P];
        double rp[P];
        ref_state rs;
        memset(&rs, 0, sizeof rs);
        for (int k = 0; k < P; k++) p[k] = P0[k], rp[k] = P0[k];
        for (int t = 0; t < STEPS; t++) {
            assert_int_equal(dr3_optim_set_lr(opt, LR[t]), DR3_OK);
            assert_true(dr3_optim_get_lr(opt) == LR[t]);
            float g[P];
            double rg[P];
            for (int k = 0; k < P; k++) g[k] = G[t][k], rg[k] = G[t][k];
            double rnorm = sqrt(rg[0] * rg[0] + rg[1] * rg[1] + rg[2] * rg[2]);
            if (o->max_grad_norm > 0) ref_clip(rg, P, o->max_grad_norm);
            float norm = -1;
            assert_int_equal(dr3_optim_step(opt, p, g, P, &norm), DR3_OK);
            ref_step(o, LR[t], &rs, rp, rg);
            TU_ASSERT_CLOSE(norm, rnorm, 1e-6, 0);
            for (int k = 0; k < P; k++) {
                TU_ASSERT_CLOSE(g[k], rg[k], 1e-6, 1e-7); /* clipped in place */
                if (!(fabs(p[k] - rp[k]) <= 1e-6 + 1e-5 * fabs(rp[k])))
                    fail_msg("%s%s: step %d param %d = %.9g, closed form %.9g", cfg[c].name,
                             o->max_grad_norm > 0 ? " clipped" : "", t + 1, k, (double)p[k],
                             rp[k]);
            }
        }
        assert_int_equal(dr3_optim_step_count(opt), STEPS);
        /* the state vectors, by their PyTorch names */
        for (size_t i = 0; i < dr3_optim_state_tensor_count(opt); i++) {
            const char *name;
            float *data;
            size_t len;
            assert_int_equal(dr3_optim_state_tensor(opt, i, &name, &data, &len), DR3_OK);
            assert_int_equal(len, P);
            const double *want = !strcmp(name, "exp_avg")           ? rs.m
                                 : !strcmp(name, "exp_avg_sq")      ? rs.v
                                 : !strcmp(name, "square_avg")      ? rs.v
                                 : !strcmp(name, "grad_avg")        ? rs.ga
                                 : !strcmp(name, "momentum_buffer") ? rs.buf
                                                                    : NULL;
            if (want == NULL) fail_msg("unexpected state tensor name %s", name);
            for (int k = 0; k < P; k++) TU_ASSERT_CLOSE(data[k], want[k], 1e-5, 1e-7);
        }
        dr3_optim_free(opt);
    }
}

/* The state tensors each kind keeps, in order, with PyTorch's names. */
static void test_state_tensor_names(void **state) {
    (void)state;
    struct {
        dr3_optim_options o;
        size_t n;
        const char *names[3];
    } cases[6];
    cases[0].o = opts_of(DR3_OPTIM_ADAM), cases[0].n = 2;
    cases[0].names[0] = "exp_avg", cases[0].names[1] = "exp_avg_sq";
    cases[1].o = opts_of(DR3_OPTIM_ADAMW), cases[1].n = 2;
    cases[1].names[0] = "exp_avg", cases[1].names[1] = "exp_avg_sq";
    cases[2].o = opts_of(DR3_OPTIM_SGD), cases[2].n = 0;
    cases[3].o = opts_of(DR3_OPTIM_SGD), cases[3].o.momentum = 0.9f, cases[3].n = 1;
    cases[3].names[0] = "momentum_buffer";
    cases[4].o = opts_of(DR3_OPTIM_RMSPROP), cases[4].n = 1;
    cases[4].names[0] = "square_avg";
    cases[5].o = opts_of(DR3_OPTIM_RMSPROP), cases[5].o.centered = 1;
    cases[5].o.momentum = 0.5f, cases[5].n = 3;
    cases[5].names[0] = "square_avg", cases[5].names[1] = "grad_avg";
    cases[5].names[2] = "momentum_buffer";
    for (int c = 0; c < 6; c++) {
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, P, &cases[c].o), DR3_OK);
        assert_int_equal(dr3_optim_state_tensor_count(opt), cases[c].n);
        for (size_t i = 0; i < cases[c].n; i++) {
            const char *name = NULL;
            float *data = NULL;
            size_t len = 0;
            assert_int_equal(dr3_optim_state_tensor(opt, i, &name, &data, &len), DR3_OK);
            assert_string_equal(name, cases[c].names[i]);
            assert_int_equal(len, P);
            for (int k = 0; k < P; k++) assert_true(data[k] == 0.0f);
        }
        TU_ASSERT_FAILS(dr3_optim_state_tensor(opt, cases[c].n, NULL, NULL, NULL),
                        DR3_ERR_RANGE);
        dr3_optim_free(opt);
    }
    TU_ASSERT_FAILS(dr3_optim_state_tensor(NULL, 0, NULL, NULL, NULL), DR3_ERR_RANGE);
    assert_int_equal(dr3_optim_state_tensor_count(NULL), 0);
}

/* ---- clipping ------------------------------------------------------------------------------
 */

static void test_clip_grad_norm(void **state) {
    (void)state;
    const float maxes[4] = {0.1f, 1.0f, 5.0f, 1e-3f};
    for (int m = 0; m < 4; m++) {
        float g[P] = {3.0f, -4.0f, 12.0f}; /* norm 13 */
        double rg[P] = {3.0, -4.0, 12.0};
        float norm = 0;
        assert_int_equal(dr3_clip_grad_norm(g, P, maxes[m], &norm), DR3_OK);
        double rn = ref_clip(rg, P, maxes[m]);
        TU_ASSERT_CLOSE(norm, 13.0, 1e-7, 0);
        TU_ASSERT_CLOSE(rn, 13.0, 1e-12, 0);
        double n2 = 0;
        for (int k = 0; k < P; k++) {
            TU_ASSERT_CLOSE(g[k], rg[k], 1e-6, 0);
            n2 += (double)g[k] * g[k];
        }
        TU_ASSERT_CLOSE(sqrt(n2), maxes[m], 1e-6, 0);
    }
    /* below the threshold (and exactly at it: c = max/(norm + 1e-6) < 1 still scales by
     * 1 − 1e-6/max, as torch does): below leaves the gradient bitwise alone */
    float g[P] = {0.3f, -0.4f, 0.0f}, g0[P];
    memcpy(g0, g, sizeof g);
    float norm = 0;
    assert_int_equal(dr3_clip_grad_norm(g, P, 1.0f, &norm), DR3_OK);
    assert_memory_equal(g, g0, sizeof g);
    TU_ASSERT_CLOSE(norm, 0.5, 1e-7, 0);
    float e[2] = {0.6f, 0.8f};
    assert_int_equal(dr3_clip_grad_norm(e, 2, 1.0f, NULL), DR3_OK);
    TU_ASSERT_CLOSE(e[0], 0.6 / (1 + 1e-6), 1e-7, 0);
    /* zero gradient and empty vector */
    float z[P] = {0, 0, 0};
    assert_int_equal(dr3_clip_grad_norm(z, P, 1.0f, &norm), DR3_OK);
    assert_true(norm == 0 && z[0] == 0 && z[1] == 0 && z[2] == 0);
    assert_int_equal(dr3_clip_grad_norm(NULL, 0, 1.0f, &norm), DR3_OK);
    assert_true(norm == 0);
    /* bad arguments; nothing scaled */
    float h[P] = {30.0f, 40.0f, 0.0f}, h0[P];
    memcpy(h0, h, sizeof h);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(NULL, 3, 1.0f, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(h, P, 0.0f, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(h, P, -1.0f, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(h, P, NAN, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(h, P, INFINITY, NULL), DR3_ERR_INVALID_ARG);
    assert_memory_equal(h, h0, sizeof h);
    h[2] = NAN;
    memcpy(h0, h, sizeof h);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(h, P, 1.0f, NULL), DR3_ERR_NONFINITE);
    assert_memory_equal(h, h0, sizeof h);
    h[2] = -INFINITY;
    memcpy(h0, h, sizeof h);
    TU_ASSERT_FAILS(dr3_clip_grad_norm(h, P, 1.0f, NULL), DR3_ERR_NONFINITE);
    assert_memory_equal(h, h0, sizeof h);
}

/* max_grad_norm inside the step: SGD with lr 1 moves θ by exactly the clipped gradient. */
static void test_step_clipping(void **state) {
    (void)state;
    dr3_optim_options o = opts_of(DR3_OPTIM_SGD);
    o.lr = 1.0f;
    o.max_grad_norm = 2.0f;
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    float p[P] = {0, 0, 0}, g[P] = {6.0f, 0.0f, -8.0f}, norm = 0;
    assert_int_equal(dr3_optim_step(opt, p, g, P, &norm), DR3_OK);
    TU_ASSERT_CLOSE(norm, 10.0, 1e-7, 0);
    double c = 2.0 / (10.0 + 1e-6);
    TU_ASSERT_CLOSE(p[0], -6.0 * c, 1e-6, 0);
    TU_ASSERT_CLOSE(p[1], 0.0, 0, 0);
    TU_ASSERT_CLOSE(p[2], 8.0 * c, 1e-6, 0);
    TU_ASSERT_CLOSE(g[0], 6.0 * c, 1e-6, 0);
    /* not clipped when below */
    float q[P] = {0, 0, 0}, h[P] = {0.5f, -1.0f, 0.25f};
    assert_int_equal(dr3_optim_step(opt, q, h, P, &norm), DR3_OK);
    assert_true(q[0] == -0.5f && q[1] == 1.0f && q[2] == -0.25f);
    assert_true(h[0] == 0.5f && h[1] == -1.0f && h[2] == 0.25f);
    dr3_optim_free(opt);
}

/* ---- the non-finite guard ------------------------------------------------------------------
 */

static size_t state_bytes(dr3_optim *opt, unsigned char **buf) {
    size_t n = 0;
    assert_int_equal(dr3_optim_state_size(opt, &n), DR3_OK);
    *buf = malloc(n);
    assert_non_null(*buf);
    assert_int_equal(dr3_optim_state_save(opt, *buf, n), DR3_OK);
    return n;
}

static void test_nonfinite_guard(void **state) {
    (void)state;
    config cfg[64];
    size_t nc = make_configs(cfg);
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (size_t c = 0; c < nc; c++) {
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, P, &cfg[c].o), DR3_OK);
        float p[P];
        memcpy(p, P0, sizeof p);
        for (int t = 0; t < 3; t++) {
            float g[P];
            memcpy(g, G[t], sizeof g);
            assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
        }
        for (int b = 0; b < 3; b++)
            for (int where = 0; where < P; where++) {
                /* a large gradient (which clipping would scale) with one bad entry */
                float g[P] = {50.0f, -70.0f, 90.0f}, g0[P], p0[P];
                g[where] = bad[b];
                memcpy(g0, g, sizeof g);
                memcpy(p0, p, sizeof p);
                unsigned char *s0, *s1;
                size_t n0 = state_bytes(opt, &s0);
                float norm = 123.0f;
                TU_ASSERT_FAILS(dr3_optim_step(opt, p, g, P, &norm), DR3_ERR_NONFINITE);
                size_t n1 = state_bytes(opt, &s1);
                assert_int_equal(n0, n1);
                assert_memory_equal(s0, s1, n0); /* state and step count */
                assert_memory_equal(p, p0, sizeof p);
                assert_memory_equal(g, g0, sizeof g);
                assert_true(norm == 123.0f);
                assert_int_equal(dr3_optim_step_count(opt), 3);
                free(s0);
                free(s1);
            }
        dr3_optim_free(opt);
    }
}

/* The guard covers the update itself, not only the gradient: with finite gradients and
 * parameters, an update that overflows (lr = FLT_MAX; a gradient whose square overflows the
 * second moment) must be refused with everything unchanged. The expectation is the closed
 * form: γ = FLT_MAX times any update direction of magnitude >= 1 (Adam's m̂/√v̂ is ±1 at
 * t = 1; SGD's is g = 2; RMSprop's g/√((1−α)g²) >= 1) is beyond the float range. */
static void expect_step_refused(dr3_optim *opt, float *p, const float *g_in) {
    float g[P], g0[P], p0[P];
    memcpy(g, g_in, sizeof g);
    memcpy(g0, g, sizeof g);
    memcpy(p0, p, sizeof p0);
    unsigned char *s0, *s1;
    size_t n0 = state_bytes(opt, &s0);
    uint64_t steps = dr3_optim_step_count(opt);
    float norm = 123.0f;
    TU_ASSERT_FAILS(dr3_optim_step(opt, p, g, P, &norm), DR3_ERR_NONFINITE);
    size_t n1 = state_bytes(opt, &s1);
    assert_int_equal(n0, n1);
    assert_memory_equal(s0, s1, n0);
    assert_memory_equal(p, p0, sizeof p0);
    assert_memory_equal(g, g0, sizeof g0); /* not even clipped */
    assert_true(norm == 123.0f);
    assert_true(dr3_optim_step_count(opt) == steps);
    free(s0);
    free(s1);
}

/* The invariant where no closed form says which way it goes: either the step is refused
 * with nothing changed, or it succeeds and every parameter and state value is finite. */
static void expect_finite_or_refused(dr3_optim *opt, float *p, const float *g_in) {
    float g[P], p0[P];
    memcpy(g, g_in, sizeof g);
    memcpy(p0, p, sizeof p0);
    unsigned char *s0, *s1;
    size_t n0 = state_bytes(opt, &s0);
    dr3_status st = dr3_optim_step(opt, p, g, P, NULL);
    if (st == DR3_OK) {
        for (int k = 0; k < P; k++) assert_true(isfinite(p[k]));
        for (size_t v = 0; v < dr3_optim_state_tensor_count(opt); v++) {
            float *d;
            assert_int_equal(dr3_optim_state_tensor(opt, v, NULL, &d, NULL), DR3_OK);
            for (int k = 0; k < P; k++) assert_true(isfinite(d[k]));
        }
    } else {
        assert_int_equal(st, DR3_ERR_NONFINITE);
        size_t n1 = state_bytes(opt, &s1);
        assert_memory_equal(s0, s1, n0);
        assert_memory_equal(p, p0, sizeof p0);
        assert_true(n1 == n0);
        free(s1);
    }
    free(s0);
}

/* True when the double-precision reference says one step from (p, state s) with gradient
 * g takes a parameter or state value beyond the float range (by a clear margin: the strict
 * expectation is only used far from the border). */
static bool ref_overflows(const dr3_optim_options *o, double lr, ref_state s, const float *p,
                          const float *g) {
    double rp[P], rg[P];
    for (int k = 0; k < P; k++) rp[k] = p[k], rg[k] = g[k];
    if (o->max_grad_norm > 0) ref_clip(rg, P, o->max_grad_norm);
    ref_step(o, lr, &s, rp, rg);
    const double lim = 1.25 * FLT_MAX;
    for (int k = 0; k < P; k++) {
        const double v[5] = {rp[k], s.m[k], s.v[k], s.ga[k], s.buf[k]};
        for (int i = 0; i < 5; i++)
            if (!(fabs(v[i]) < lim)) return true;
    }
    return false;
}

static void test_guard_checks_the_update(void **state) {
    (void)state;
    config cfg[64];
    size_t nc = make_configs(cfg);
    /* θ = ±2e38 (FLT_MAX ≈ 3.4e38) and a gradient whose step pushes each further out: with γ =
     * FLT_MAX every kind's exact first step leaves the float range (Adam's m̂/√v̂ = g/(|g| + ε) ≈
     * ±1, RMSprop's 1/√(1−α) > 1, SGD's g = ±2 or its clipped ±0.58); weight decay reverses
     * some directions, which the reference sees too. */
    const float big[P] = {-2e38f, 2e38f, -2e38f}, two[P] = {2.0f, -2.0f, 2.0f};
    size_t strict = 0;
    for (size_t c = 0; c < nc; c++) {
        const dr3_optim_options *o = &cfg[c].o;
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, P, o), DR3_OK);
        float p[P];
        ref_state rs;
        memset(&rs, 0, sizeof rs);
        memcpy(p, big, sizeof p);
        assert_int_equal(dr3_optim_set_lr(opt, FLT_MAX), DR3_OK);
        if (ref_overflows(o, FLT_MAX, rs, p, two)) {
            expect_step_refused(opt, p, two);
            strict++;
        } else {
            expect_finite_or_refused(opt, p, two);
        }
        /* after some ordinary steps, an lr = FLT_MAX step is never DR3_OK with a non-finite
         * value (whether it overflows depends on the accumulated state) */
        assert_int_equal(dr3_optim_reset(opt), DR3_OK);
        memcpy(p, P0, sizeof p);
        assert_int_equal(dr3_optim_set_lr(opt, 0.01f), DR3_OK);
        for (int t = 0; t < 3; t++) {
            float g[P];
            memcpy(g, G[t], sizeof g);
            assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
        }
        assert_int_equal(dr3_optim_set_lr(opt, FLT_MAX), DR3_OK);
        expect_finite_or_refused(opt, p, two);
        assert_int_equal(dr3_optim_set_lr(opt, 0.01f), DR3_OK);
        /* a finite gradient (norm 1e30 is finite in double) whose square overflows float:
         * Adam's v and RMSprop's square average would become Inf while θ stays finite */
        if (o->kind != DR3_OPTIM_SGD && o->max_grad_norm == 0)
            expect_step_refused(opt, p, (float[P]){1e30f, 0.0f, 0.0f});
        dr3_optim_free(opt);
    }
    assert_true(strict >= nc / 2); /* most configurations take the strict path */
}

/* Step counts that would wrap the counter or make Adam's bias correction 1 − β^t zero are
 * refused: set_step_count above 2^53, and a step from 2^53. */
static void test_step_count_limit(void **state) {
    (void)state;
    dr3_optim_options o = opts_of(DR3_OPTIM_ADAM);
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    TU_ASSERT_FAILS(dr3_optim_set_step_count(opt, UINT64_MAX), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_optim_set_step_count(opt, (UINT64_C(1) << 53) + 1), DR3_ERR_RANGE);
    assert_true(dr3_optim_step_count(opt) == 0);
    assert_int_equal(dr3_optim_set_step_count(opt, (UINT64_C(1) << 53) - 1), DR3_OK);
    float p[P], g[P] = {1, 2, 3};
    memcpy(p, P0, sizeof p);
    assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
    assert_true(dr3_optim_step_count(opt) == UINT64_C(1) << 53);
    float p0[P];
    memcpy(p0, p, sizeof p);
    TU_ASSERT_FAILS(dr3_optim_step(opt, p, g, P, NULL), DR3_ERR_RANGE);
    assert_memory_equal(p, p0, sizeof p);
    assert_true(dr3_optim_step_count(opt) == UINT64_C(1) << 53);
    dr3_optim_free(opt);
}

/* ---- state save / load ---------------------------------------------------------------------
 */

/* Runs STEPS steps on two optimizers, the second restored from the first's state after
 * @p split steps (and given the same parameters): they continue bitwise identically. */
static void test_state_round_trip(void **state) {
    (void)state;
    config cfg[64];
    size_t nc = make_configs(cfg);
    for (size_t c = 0; c < nc; c++) {
        dr3_optim *a = NULL, *b = NULL;
        assert_int_equal(dr3_optim_create(&a, P, &cfg[c].o), DR3_OK);
        assert_int_equal(dr3_optim_create(&b, P, &cfg[c].o), DR3_OK);
        float pa[P], pb[P];
        memcpy(pa, P0, sizeof pa);
        const int split = 3;
        for (int t = 0; t < STEPS; t++) {
            if (t == split) {
                unsigned char *buf;
                size_t n = state_bytes(a, &buf);
                /* state_size = header 40 + vectors + CRC 4 */
                assert_int_equal(n, 40 + 4 + dr3_optim_state_tensor_count(a) * P * 4);
                assert_int_equal(dr3_optim_state_load(b, buf, n), DR3_OK);
                assert_int_equal(dr3_optim_step_count(b), split);
                memcpy(pb, pa, sizeof pb);
                free(buf);
            }
            float g[P];
            memcpy(g, G[t], sizeof g);
            assert_int_equal(dr3_optim_step(a, pa, g, P, NULL), DR3_OK);
            if (t >= split) {
                memcpy(g, G[t], sizeof g);
                assert_int_equal(dr3_optim_step(b, pb, g, P, NULL), DR3_OK);
                assert_memory_equal(pa, pb, sizeof pa);
            }
        }
        unsigned char *sa, *sb;
        size_t na = state_bytes(a, &sa), nb = state_bytes(b, &sb);
        assert_int_equal(na, nb);
        assert_memory_equal(sa, sb, na);
        free(sa);
        free(sb);
        /* reset: state zero, step 0, and the trajectory starts over */
        assert_int_equal(dr3_optim_reset(a), DR3_OK);
        assert_int_equal(dr3_optim_step_count(a), 0);
        for (size_t i = 0; i < dr3_optim_state_tensor_count(a); i++) {
            float *d;
            assert_int_equal(dr3_optim_state_tensor(a, i, NULL, &d, NULL), DR3_OK);
            for (int k = 0; k < P; k++) assert_true(d[k] == 0.0f);
        }
        dr3_optim_free(a);
        dr3_optim_free(b);
    }
}

/* Asserts that loading @p buf (len bytes) into @p opt fails with @p want and changes nothing.
 */
static void expect_load_fails(dr3_optim *opt, const void *buf, size_t len, dr3_status want) {
    unsigned char *before, *after;
    size_t n0 = state_bytes(opt, &before);
    uint64_t steps = dr3_optim_step_count(opt);
    TU_ASSERT_FAILS(dr3_optim_state_load(opt, buf, len), want);
    size_t n1 = state_bytes(opt, &after);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    assert_int_equal(dr3_optim_step_count(opt), steps);
    free(before);
    free(after);
}

static uint32_t rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void test_state_malformed(void **state) {
    (void)state;
    dr3_optim_options o = opts_of(DR3_OPTIM_ADAM);
    dr3_optim *src = NULL, *dst = NULL;
    assert_int_equal(dr3_optim_create(&src, P, &o), DR3_OK);
    assert_int_equal(dr3_optim_create(&dst, P, &o), DR3_OK);
    float p[P], q[P];
    memcpy(p, P0, sizeof p);
    memcpy(q, P0, sizeof q);
    for (int t = 0; t < 3; t++) {
        float g[P];
        memcpy(g, G[t], sizeof g);
        assert_int_equal(dr3_optim_step(src, p, g, P, NULL), DR3_OK);
        memcpy(g, G[6 - t], sizeof g); /* dst has a different, non-zero state */
        assert_int_equal(dr3_optim_step(dst, q, g, P, NULL), DR3_OK);
    }
    assert_int_equal(dr3_optim_step(dst, q, (float[P]){1, 2, 3}, P, NULL), DR3_OK);
    unsigned char *good;
    size_t n = state_bytes(src, &good);
    assert_memory_equal(good, "DR3OPTM", 8);
    assert_int_equal(rd32(good + 8), 1); /* version */
    unsigned char *buf = malloc(n + 8);
    assert_non_null(buf);

    /* truncated at every length, and one byte too long */
    for (size_t len = 0; len < n; len++) {
        memcpy(buf, good, n);
        expect_load_fails(dst, buf, len, DR3_ERR_FORMAT);
    }
    memcpy(buf, good, n);
    buf[n] = 0;
    expect_load_fails(dst, buf, n + 1, DR3_ERR_FORMAT);
    /* bad magic */
    for (size_t k = 0; k < 8; k++) {
        memcpy(buf, good, n);
        buf[k] ^= 0x20;
        expect_load_fails(dst, buf, n, DR3_ERR_FORMAT);
    }
    /* unsupported version */
    memcpy(buf, good, n);
    buf[8] = 2;
    expect_load_fails(dst, buf, n, DR3_ERR_VERSION);
    /* wrong kind / count / number of vectors in the header */
    memcpy(buf, good, n);
    buf[12] = DR3_OPTIM_SGD;
    expect_load_fails(dst, buf, n, DR3_ERR_SHAPE);
    memcpy(buf, good, n);
    buf[16] = P + 1;
    expect_load_fails(dst, buf, n, DR3_ERR_SHAPE);
    memcpy(buf, good, n);
    buf[32] = 3;
    expect_load_fails(dst, buf, n, DR3_ERR_SHAPE);
    /* every single flipped bit pattern in the step count, reserved word, vectors and CRC:
     * the checksum catches it */
    for (size_t k = 24; k < n; k++) {
        if (k >= 32 && k < 36) continue; /* nstate: SHAPE, above */
        memcpy(buf, good, n);
        buf[k] ^= 0x01;
        expect_load_fails(dst, buf, n, DR3_ERR_CHECKSUM);
        memcpy(buf, good, n);
        buf[k] ^= 0x80;
        expect_load_fails(dst, buf, n, DR3_ERR_CHECKSUM);
    }
    /* any flipped byte anywhere is rejected (by some check) */
    for (size_t k = 0; k < n; k++) {
        memcpy(buf, good, n);
        buf[k] ^= 0xff;
        dr3_clear_error();
        unsigned char *before;
        size_t nb = state_bytes(dst, &before);
        assert_int_not_equal(dr3_optim_state_load(dst, buf, n), DR3_OK);
        unsigned char *after;
        state_bytes(dst, &after);
        assert_memory_equal(before, after, nb);
        free(before);
        free(after);
    }
    expect_load_fails(dst, NULL, n, DR3_ERR_INVALID_ARG);

    /* a valid state for another optimizer: other kind, size, or number of vectors */
    {
        dr3_optim_options other[4];
        size_t counts[4] = {P, P + 1, P, P};
        other[0] = opts_of(DR3_OPTIM_ADAMW); /* same layout, other kind */
        other[1] = opts_of(DR3_OPTIM_ADAM);  /* other size */
        other[2] = opts_of(DR3_OPTIM_RMSPROP);
        other[2].centered = 1; /* 2 vectors, other kind */
        other[3] = opts_of(DR3_OPTIM_SGD);
        other[3].momentum = 0.9f;
        for (int k = 0; k < 4; k++) {
            dr3_optim *x = NULL;
            assert_int_equal(dr3_optim_create(&x, counts[k], &other[k]), DR3_OK);
            unsigned char *xb;
            size_t xn = state_bytes(x, &xb);
            expect_load_fails(dst, xb, xn, DR3_ERR_SHAPE);
            free(xb);
            dr3_optim_free(x);
        }
        /* SGD with and without momentum: same kind, different number of vectors */
        dr3_optim *s0 = NULL, *s1 = NULL;
        dr3_optim_options a = opts_of(DR3_OPTIM_SGD), b = a;
        b.momentum = 0.5f;
        assert_int_equal(dr3_optim_create(&s0, P, &a), DR3_OK);
        assert_int_equal(dr3_optim_create(&s1, P, &b), DR3_OK);
        assert_int_equal(dr3_optim_step(s1, q, (float[P]){1, 2, 3}, P, NULL), DR3_OK);
        unsigned char *xb;
        size_t xn = state_bytes(s0, &xb);
        expect_load_fails(s1, xb, xn, DR3_ERR_SHAPE);
        free(xb);
        xn = state_bytes(s1, &xb);
        expect_load_fails(s0, xb, xn, DR3_ERR_SHAPE);
        free(xb);
        dr3_optim_free(s0);
        dr3_optim_free(s1);
    }

    /* the good buffer still loads, and then dst equals src */
    assert_int_equal(dr3_optim_state_load(dst, good, n), DR3_OK);
    unsigned char *now;
    state_bytes(dst, &now);
    assert_memory_equal(now, good, n);
    free(now);

    /* save and size errors */
    size_t sz;
    TU_ASSERT_FAILS(dr3_optim_state_size(NULL, &sz), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_state_size(src, NULL), DR3_ERR_INVALID_ARG);
    memset(buf, 0xAB, n + 8);
    TU_ASSERT_FAILS(dr3_optim_state_save(src, buf, n - 1), DR3_ERR_INVALID_ARG);
    for (size_t k = 0; k < n; k++) assert_int_equal(buf[k], 0xAB);
    TU_ASSERT_FAILS(dr3_optim_state_save(src, NULL, n), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_state_save(NULL, buf, n), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_state_load(NULL, good, n), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_optim_state_save(src, buf, n + 8), DR3_OK); /* larger is fine */
    assert_memory_equal(buf, good, n);
    free(buf);
    free(good);
    dr3_optim_free(src);
    dr3_optim_free(dst);
}

/* ---- options and arguments -----------------------------------------------------------------
 */

/* Buffers with a valid checksum (re-computed by the test's own CRC-32C) but impossible
 * values: NaN/Inf in any state vector, a negative second moment, a step count of 2^64 − 1.
 * Each is refused with DR3_ERR_FORMAT and the optimizer unchanged. Layout (docs/optim.md):
 * 40-byte header (steps at offset 24), then the vectors, then the CRC. */
static void test_state_load_checks_values(void **state) {
    (void)state;
    config cfg[64];
    size_t nc = make_configs(cfg);
    for (size_t c = 0; c < nc; c++) {
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, P, &cfg[c].o), DR3_OK);
        float p[P];
        memcpy(p, P0, sizeof p);
        for (int t = 0; t < 2; t++) {
            float g[P];
            memcpy(g, G[t], sizeof g);
            assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
        }
        unsigned char *good, *buf;
        size_t n = state_bytes(opt, &good);
        buf = malloc(n);
        assert_non_null(buf);
        /* the test's CRC agrees with the file's, so the crafted buffers below are sealed
         * the way the library would seal them */
        memcpy(buf, good, n);
        crc32c_ref_reseal(buf, n);
        assert_memory_equal(buf, good, n);
        assert_int_equal(dr3_optim_state_load(opt, buf, n), DR3_OK);
        const float bad[3] = {NAN, INFINITY, -INFINITY};
        for (size_t v = 0; v < dr3_optim_state_tensor_count(opt); v++) {
            const char *name;
            assert_int_equal(dr3_optim_state_tensor(opt, v, &name, NULL, NULL), DR3_OK);
            for (int b = 0; b < 3; b++) {
                memcpy(buf, good, n);
                memcpy(buf + 40 + (v * P + 1) * 4, &bad[b], 4);
                crc32c_ref_reseal(buf, n);
                expect_load_fails(opt, buf, n, DR3_ERR_FORMAT);
            }
            const bool second =
                strcmp(name, "exp_avg_sq") == 0 || strcmp(name, "square_avg") == 0;
            memcpy(buf, good, n);
            const float neg = -1.0f;
            memcpy(buf + 40 + (v * P + 2) * 4, &neg, 4);
            crc32c_ref_reseal(buf, n);
            if (second)
                expect_load_fails(opt, buf, n, DR3_ERR_FORMAT);
            else /* a negative first moment or momentum is ordinary */
                assert_int_equal(dr3_optim_state_load(opt, buf, n), DR3_OK);
        }
        const uint64_t steps[2] = {UINT64_MAX, (UINT64_C(1) << 53) + 1};
        for (int s = 0; s < 2; s++) {
            memcpy(buf, good, n);
            memcpy(buf + 24, &steps[s], 8);
            crc32c_ref_reseal(buf, n);
            expect_load_fails(opt, buf, n, DR3_ERR_FORMAT);
        }
        free(good);
        free(buf);
        dr3_optim_free(opt);
    }
}

static void expect_create_fails(size_t count, const dr3_optim_options *o, dr3_status want) {
    dr3_optim *opt = (dr3_optim *)(uintptr_t)1;
    TU_ASSERT_FAILS(dr3_optim_create(&opt, count, o), want);
    assert_null(opt);
}

static void test_bad_options(void **state) {
    (void)state;
    const dr3_optim_kind kinds[4] = {DR3_OPTIM_ADAM, DR3_OPTIM_ADAMW, DR3_OPTIM_SGD,
                                     DR3_OPTIM_RMSPROP};
    dr3_optim_options o = opts_of(DR3_OPTIM_ADAM);
    TU_ASSERT_FAILS(dr3_optim_create(NULL, P, &o), DR3_ERR_INVALID_ARG);
    expect_create_fails(P, NULL, DR3_ERR_INVALID_ARG);
    o.version = 0;
    expect_create_fails(P, &o, DR3_ERR_VERSION);
    o.version = DR3_OPTIM_OPTIONS_VERSION + 1;
    expect_create_fails(P, &o, DR3_ERR_VERSION);
    o = opts_of(DR3_OPTIM_ADAM);
    expect_create_fails(0, &o, DR3_ERR_INVALID_ARG);
    expect_create_fails(SIZE_MAX / 2, &o, DR3_ERR_OVERFLOW);
    o.kind = (dr3_optim_kind)4;
    expect_create_fails(P, &o, DR3_ERR_INVALID_ARG);
    o.kind = (dr3_optim_kind)-1;
    expect_create_fails(P, &o, DR3_ERR_INVALID_ARG);
    const float nonfinite[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 4; k++) {
#define BAD(field, value)                                                                      \
    do {                                                                                       \
        dr3_optim_options b = opts_of(kinds[k]);                                               \
        b.field = (value);                                                                     \
        expect_create_fails(P, &b, DR3_ERR_INVALID_ARG);                                       \
    } while (0)
        BAD(lr, -1e-3f);
        BAD(eps, 0.0f);
        BAD(eps, -1e-8f);
        BAD(weight_decay, -0.1f);
        BAD(max_grad_norm, -1.0f);
        BAD(momentum, -0.5f);
        BAD(dampening, -0.1f);
        BAD(dampening, 1.5f);
        for (int f = 0; f < 3; f++) {
            BAD(lr, nonfinite[f]);
            BAD(eps, nonfinite[f]);
            BAD(weight_decay, nonfinite[f]);
            BAD(max_grad_norm, nonfinite[f]);
            if (f != 1) BAD(momentum, nonfinite[f]);
        }
        BAD(momentum, INFINITY);
        if (kinds[k] == DR3_OPTIM_ADAM || kinds[k] == DR3_OPTIM_ADAMW) {
            BAD(beta1, 1.0f);
            BAD(beta1, -0.1f);
            BAD(beta1, NAN);
            BAD(beta2, 1.0f);
            BAD(beta2, -0.1f);
            BAD(beta2, NAN);
        }
        if (kinds[k] == DR3_OPTIM_RMSPROP) {
            BAD(alpha, 1.0f);
            BAD(alpha, -0.1f);
            BAD(alpha, NAN);
        }
#undef BAD
    }
    /* Nesterov needs momentum and no dampening */
    o = opts_of(DR3_OPTIM_SGD);
    o.nesterov = 1;
    expect_create_fails(P, &o, DR3_ERR_INVALID_ARG);
    o.momentum = 0.9f;
    o.dampening = 0.1f;
    expect_create_fails(P, &o, DR3_ERR_INVALID_ARG);
    o.dampening = 0.0f;
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    dr3_optim_free(opt);
    /* edge values torch accepts: lr 0, betas 0, dampening 1, alpha 0 */
    o = opts_of(DR3_OPTIM_ADAM);
    o.lr = 0.0f;
    o.beta1 = 0.0f;
    o.beta2 = 0.0f;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    float p[P] = {1, 2, 3}, g[P] = {1, 1, 1};
    assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
    assert_true(p[0] == 1 && p[1] == 2 && p[2] == 3); /* lr 0: no move */
    dr3_optim_free(opt);
    o = opts_of(DR3_OPTIM_RMSPROP);
    o.alpha = 0.0f;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    dr3_optim_free(opt);
    /* options set up by the _init() function (for bindings) equal the macro's defaults */
    dr3_optim_options via_fn;
    memset(&via_fn, 0x55, sizeof via_fn);
    assert_int_equal(dr3_optim_options_init(&via_fn, DR3_OPTIM_OPTIONS_VERSION), DR3_OK);
    const dr3_optim_options via_macro = DR3_OPTIM_OPTIONS_INIT;
    assert_true(via_fn.kind == via_macro.kind && via_fn.lr == via_macro.lr &&
                via_fn.momentum == via_macro.momentum && via_fn.eps == via_macro.eps);
    o = via_fn;
    o.kind = DR3_OPTIM_SGD;
    o.lr = 0.5f;
    o.momentum = 0;
    assert_int_equal(dr3_optim_create(&opt, 1, &o), DR3_OK);
    float x = 1.0f, gx = 1.0f;
    assert_int_equal(dr3_optim_step(opt, &x, &gx, 1, NULL), DR3_OK);
    assert_true(x == 0.5f);
    assert_int_equal(dr3_optim_state_tensor_count(opt), 0);
    dr3_optim_free(opt);
    dr3_optim_free(NULL);
}

static void test_bad_step_arguments(void **state) {
    (void)state;
    dr3_optim_options o = opts_of(DR3_OPTIM_ADAM);
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
    float p[P] = {1, 2, 3}, g[P] = {0.1f, 0.2f, 0.3f}, p0[P], g0[P];
    memcpy(p0, p, sizeof p);
    memcpy(g0, g, sizeof g);
    TU_ASSERT_FAILS(dr3_optim_step(NULL, p, g, P, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_step(opt, NULL, g, P, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_step(opt, p, NULL, P, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_step(opt, p, g, P - 1, NULL), DR3_ERR_SHAPE);
    TU_ASSERT_FAILS(dr3_optim_step(opt, p, g, P + 1, NULL), DR3_ERR_SHAPE);
    assert_memory_equal(p, p0, sizeof p);
    assert_memory_equal(g, g0, sizeof g);
    assert_int_equal(dr3_optim_step_count(opt), 0);
    /* learning rate */
    TU_ASSERT_FAILS(dr3_optim_set_lr(NULL, 0.1f), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_set_lr(opt, -0.1f), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_set_lr(opt, NAN), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_set_lr(opt, INFINITY), DR3_ERR_INVALID_ARG);
    assert_true(dr3_optim_get_lr(opt) == 1e-3f);
    assert_true(dr3_optim_get_lr(NULL) == 0.0f);
    assert_int_equal(dr3_optim_set_lr(opt, 0.0f), DR3_OK);
    /* step count, reset */
    TU_ASSERT_FAILS(dr3_optim_set_step_count(NULL, 3), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_optim_set_step_count(opt, 41), DR3_OK);
    assert_int_equal(dr3_optim_step_count(opt), 41);
    assert_int_equal(dr3_optim_step_count(NULL), 0);
    TU_ASSERT_FAILS(dr3_optim_reset(NULL), DR3_ERR_INVALID_ARG);
    dr3_optim_free(opt);
}

/* Adam's bias correction follows the step count: restoring t = 41 then stepping uses t = 42. */
static void test_set_step_count_bias_correction(void **state) {
    (void)state;
    dr3_optim_options o = opts_of(DR3_OPTIM_ADAM);
    o.lr = 0.1f;
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, 1, &o), DR3_OK);
    assert_int_equal(dr3_optim_set_step_count(opt, 41), DR3_OK);
    float p = 0.0f, g = 2.0f;
    assert_int_equal(dr3_optim_step(opt, &p, &g, 1, NULL), DR3_OK);
    double m = 0.1 * 2.0, v = 0.001 * 4.0;
    double want = -0.1 * (m / (1 - pow(0.9, 42))) / (sqrt(v / (1 - pow(0.999, 42))) + 1e-8);
    TU_ASSERT_CLOSE(p, want, 1e-5, 0);
    dr3_optim_free(opt);
}

/* ---- no allocation in a step ---------------------------------------------------------------
 */

static size_t n_alloc, n_free;
static void *counting_alloc(void *op, size_t size, size_t align) {
    (void)op;
    n_alloc++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}
static void counting_free(void *op, void *ptr) {
    (void)op;
    n_free++;
    free(ptr);
}

static void test_no_allocation_in_step(void **state) {
    (void)state;
    config cfg[64];
    size_t nc = make_configs(cfg);
    dr3_allocator al = DR3_ALLOCATOR_INIT;
    al.alloc = counting_alloc;
    al.free = counting_free;
    for (size_t c = 0; c < nc; c++) {
        dr3_optim_options o = cfg[c].o;
        o.allocator = &al;
        n_alloc = n_free = 0;
        dr3_optim *opt = NULL;
        assert_int_equal(dr3_optim_create(&opt, P, &o), DR3_OK);
        size_t after_create = n_alloc;
        assert_true(after_create >= 1);
        float p[P];
        memcpy(p, P0, sizeof p);
        unsigned char buf[256];
        size_t n;
        assert_int_equal(dr3_optim_state_size(opt, &n), DR3_OK);
        assert_true(n <= sizeof buf);
        for (int t = 0; t < STEPS; t++) {
            float g[P];
            memcpy(g, G[t], sizeof g);
            assert_int_equal(dr3_optim_set_lr(opt, LR[t]), DR3_OK);
            assert_int_equal(dr3_optim_step(opt, p, g, P, NULL), DR3_OK);
            assert_int_equal(dr3_optim_state_save(opt, buf, n), DR3_OK);
            assert_int_equal(dr3_optim_state_load(opt, buf, n), DR3_OK);
            assert_int_equal(dr3_clip_grad_norm(g, P, 0.5f, NULL), DR3_OK);
        }
        assert_int_equal(n_alloc, after_create);
        assert_int_equal(n_free, 0);
        dr3_optim_free(opt);
        assert_int_equal(n_free, n_alloc); /* everything returned through the hooks */
    }
}

/* The learners' threaded update (dr3i_optim_check/commit with threads > 1): the parameter
 * vector is cut into ranges, one per thread, so every configuration must store exactly the
 * bits dr3_optim_step stores on one thread (which test_closed_forms checks against the
 * double reference), over a vector long enough to be cut and with a ragged tail; and a
 * refused update with threads changes nothing. The commit also moves a Polyak target (the
 * learners' target networks) toward the new parameters, range by range. */
enum { BIG = 100003 };
static void test_threaded_update_same_bits(void **state) {
    (void)state;
    dr3k_pool_start(); /* its workers start in the default mode, subnormals kept */
    config cfg[64];
    size_t nc = make_configs(cfg);
    float *p1 = malloc(BIG * sizeof(float)), *p2 = malloc(BIG * sizeof(float));
    float *g1 = malloc(BIG * sizeof(float)), *g2 = malloc(BIG * sizeof(float));
    float *t1 = malloc(BIG * sizeof(float)), *t2 = malloc(BIG * sizeof(float)),
          *t1_before = malloc(BIG * sizeof(float));
    assert_non_null(p1 && p2 && g1 && g2 && t1 && t2 && t1_before);
    for (size_t c = 0; c < nc; c++)
        for (int threads = 2; threads <= 3; threads++) {
            dr3_optim *a = NULL, *b = NULL;
            assert_int_equal(dr3_optim_create(&a, BIG, &cfg[c].o), DR3_OK);
            assert_int_equal(dr3_optim_create(&b, BIG, &cfg[c].o), DR3_OK);
            dr3_rng rng;
            dr3_rng_seed(&rng, 40 + c);
            for (size_t k = 0; k < BIG; k++) p1[k] = p2[k] = dr3_rng_uniform(&rng) * 2 - 1;
            for (size_t k = 0; k < BIG; k++) t1[k] = t2[k] = t1_before[k] = p1[k] * 0.5f;
            for (int t = 0; t < 3; t++) {
                /* every seventh gradient tiny: Adam's and RMSprop's g² state is subnormal
                 * there and must be flushed on every thread alike */
                for (size_t k = 0; k < BIG; k++)
                    g1[k] = g2[k] =
                        k % 7 == 3 ? 1e-20f : (dr3_rng_uniform(&rng) - 0.5f) * 0.01f;
                float n1 = 0;
                assert_int_equal(dr3_optim_step(a, p1, g1, BIG, &n1), DR3_OK);
                /* the threaded commit also moves a Polyak target toward the new parameters:
                 * the same as (1 − τ)·target + τ·params afterwards, element by element */
                const float tau = 0.05f, keep = 1.0f - tau;
                for (size_t k = 0; k < BIG; k++) t1[k] = keep * t1[k] + tau * p1[k];
                dr3i_optim_plan plan = {0, 1.0f, false, 0, threads, t2, tau};
                assert_int_equal(dr3i_optim_check(b, p2, g2, BIG, &plan, "test"), DR3_OK);
                assert_memory_equal(t2, t1_before, BIG * sizeof(float)); /* check: untouched */
                dr3i_optim_commit(b, p2, g2, BIG, &plan);
                assert_true((float)plan.norm == n1);
                assert_memory_equal(p1, p2, BIG * sizeof(float));
                assert_memory_equal(t1, t2, BIG * sizeof(float));
                memcpy(t1_before, t1, BIG * sizeof(float));
                assert_memory_equal(g1, g2, BIG * sizeof(float)); /* clipped in place alike */
                for (size_t s = 0; s < dr3_optim_state_tensor_count(a); s++) {
                    float *sa, *sb;
                    assert_int_equal(dr3_optim_state_tensor(a, s, NULL, &sa, NULL), DR3_OK);
                    assert_int_equal(dr3_optim_state_tensor(b, s, NULL, &sb, NULL), DR3_OK);
                    assert_memory_equal(sa, sb, BIG * sizeof(float));
                }
            }
            /* an update that overflows in the last range only: refused, nothing changed */
            unsigned char *before = NULL, *after = NULL;
            size_t nb = state_bytes(b, &before);
            for (size_t k = 0; k < BIG; k++) g2[k] = 0.001f;
            p2[BIG - 1] = FLT_MAX; /* p − lr·g (and g² for Adam, RMSprop) overflow */
            g2[BIG - 1] = -FLT_MAX;
            memcpy(p1, p2, BIG * sizeof(float));
            dr3i_optim_plan plan = {0, 1.0f, false, 0, threads, NULL, 0};
            if (cfg[c].o.max_grad_norm == 0.0f) {
                assert_int_equal(dr3i_optim_check(b, p2, g2, BIG, &plan, "test"),
                                 DR3_ERR_NONFINITE);
                assert_memory_equal(p1, p2, BIG * sizeof(float));
                assert_int_equal(state_bytes(b, &after), nb);
                assert_memory_equal(before, after, nb);
                free(after);
            }
            free(before);
            dr3_optim_free(a);
            dr3_optim_free(b);
        }
    free(p1);
    free(p2);
    free(g1);
    free(g2);
    free(t1);
    free(t2);
    free(t1_before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_forms),
        cmocka_unit_test(test_threaded_update_same_bits),
        cmocka_unit_test(test_subnormals_flushed),
        cmocka_unit_test(test_state_tensor_names),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_step_clipping),
        cmocka_unit_test(test_nonfinite_guard),
        cmocka_unit_test(test_guard_checks_the_update),
        cmocka_unit_test(test_step_count_limit),
        cmocka_unit_test(test_state_load_checks_values),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_malformed),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_step_arguments),
        cmocka_unit_test(test_set_step_count_bias_correction),
        cmocka_unit_test(test_no_allocation_in_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
