/* The conv2d kernels (src/net/conv2d.c) against three independent references:
 *
 * - PyTorch: torch.nn.functional.conv2d and autograd, committed as
 *   tests/data/reference/conv_fixtures.h by tests/reference/gen_conv_fixtures.py (strides
 *   1/2/3/4, padding 0/1/2, odd and non-square sizes and kernels, batch 1 to 33, the MinAtar
 *   layer, the Nature-CNN first layer on uint8 frames);
 * - a direct convolution written here from the definition (seven nested loops, double
 *   precision), for forward, dW, db and dX on a grid of shapes including all three
 *   Nature-CNN layers, float and uint8 inputs, every batch grouping;
 * - central finite differences of a quadratic scalar loss, for dW, db and dX.
 *
 * Tolerances. Against PyTorch both sides compute in float32 from the same bits, so only the
 * summation order differs (BLIS's blocked dot products vs. torch's); the largest sums have
 * C·kh·kw = 256 terms (forward) and n·OH·OW = 800 (dW of the Nature layer): we allow rtol 1e-4
 * plus atol 1e-5 × max|reference| of the array, ~100× the observed differences (printed) and
 * far below the effect of any indexing bug. Against the double-precision direct convolution
 * the bound is per element: |ours − ref| <= 1e-5 · Σ|terms| (the sum of the absolute values of
 * the products that make up the element), the classic dot-product error bound with room. */
#include "testutil.h"

#include "core/internal.h"
#include "net/conv2d.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/reference/conv_fixtures.h"

#define TORCH_RTOL  1e-4
#define TORCH_ATOL  1e-5 /* times max|reference| */
#define NAIVE_TOL   1e-5 /* times Σ|terms| */
#define NAIVE_FLOOR 1e-7

/* ---- allocation counting: malloc and friends replaced by counting wrappers ------------- */
/* glibc allows replacing malloc in the program (the dynamic linker binds every library's
 * malloc to it); the wrappers forward to glibc's own __libc_* entry points. Sanitizers
 * replace malloc themselves, so the check is skipped under them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                     \
    __has_feature(memory_sanitizer)
#define COUNT_ALLOCS 0
#endif
#endif
#ifndef COUNT_ALLOCS
#if defined(__GLIBC__) && defined(__linux__)
#define COUNT_ALLOCS 1
#else
#define COUNT_ALLOCS 0
#endif
#endif

#if COUNT_ALLOCS
static atomic_int counting;
static atomic_long alloc_calls;

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *p);

static void note_alloc(void) {
    if (atomic_load(&counting)) atomic_fetch_add(&alloc_calls, 1);
}
void *malloc(size_t size) {
    note_alloc();
    return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
    note_alloc();
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
    note_alloc();
    return __libc_realloc(p, size);
}
void *aligned_alloc(size_t alignment, size_t size) {
    note_alloc();
    return __libc_memalign(alignment, size);
}
int posix_memalign(void **out, size_t alignment, size_t size) {
    note_alloc();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
void free(void *p) { __libc_free(p); }
#endif

/* ---- data of one layer ------------------------------------------------------------------ */

typedef struct layer {
    dr3i_conv2d c;
    size_t n;
    bool u8;
    float *xf;        /* n × in_size (float input), or NULL */
    uint8_t *xb;      /* n × in_size (uint8 input), or NULL */
    float *w, *b, *g; /* weight, bias, upstream gradient n × out_size */
} layer;

/* Our results, packed (no strides): out n × out_size, gw, gb, gx n × in_size (float input). */
typedef struct result {
    float *out, *gw, *gb, *gx;
} result;

static void layer_free(layer *l) {
    free(l->xf);
    free(l->xb);
    free(l->w);
    free(l->b);
    free(l->g);
    memset(l, 0, sizeof *l);
}

static void result_free(result *r) {
    free(r->out);
    free(r->gw);
    free(r->gb);
    free(r->gx);
    memset(r, 0, sizeof *r);
}

static dr3i_conv2d shape(size_t C, size_t H, size_t W, size_t K, size_t kh, size_t kw, size_t s,
                         size_t p) {
    dr3i_conv2d c = {
        .in_c = C, .in_h = H, .in_w = W, .out_c = K, .kh = kh, .kw = kw, .stride = s, .pad = p};
    assert_int_equal(dr3i_conv2d_init(&c, "test"), DR3_OK);
    return c;
}

/* A layer with random data (uniform ±1 input, weight ±1/√fan_in, bias ±0.5, upstream ±1). */
static void layer_random(layer *l, dr3i_conv2d c, size_t n, bool u8, uint64_t seed) {
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    memset(l, 0, sizeof *l);
    l->c = c;
    l->n = n;
    l->u8 = u8;
    float bound = (float)(1.0 / sqrt((double)c.patch));
    if (u8) {
        l->xb = malloc(n * c.in_size);
        for (size_t k = 0; k < n * c.in_size; k++)
            l->xb[k] = (uint8_t)(256.0f * dr3_rng_uniform(&rng));
    } else {
        l->xf = malloc(n * c.in_size * sizeof(float));
        tu_fill_strided(l->xf, 1, n * c.in_size, n * c.in_size, -1, 1, &rng);
    }
    l->w = malloc(c.weight_count * sizeof(float));
    l->b = malloc(c.out_c * sizeof(float));
    l->g = malloc(n * c.out_size * sizeof(float));
    tu_fill_strided(l->w, 1, c.weight_count, c.weight_count, -bound, bound, &rng);
    tu_fill_strided(l->b, 1, c.out_c, c.out_c, -0.5f, 0.5f, &rng);
    tu_fill_strided(l->g, 1, n * c.out_size, n * c.out_size, -1, 1, &rng);
}

/* The input value the convolution sees. */
static double x_at(const layer *l, size_t idx) {
    return l->u8 ? (double)((float)l->xb[idx] / 255.0f) : (double)l->xf[idx];
}

/* Strided copies: sample i at i·ld, NaN (float) / 0xA5 (bytes) between samples. */
static float *spread(const float *x, size_t n, size_t d, size_t ld) {
    float *y = tu_alloc_nan(n * ld);
    for (size_t i = 0; i < n; i++) memcpy(y + i * ld, x + i * d, d * sizeof(float));
    return y;
}
static void gather(float *dst, const float *y, size_t n, size_t d, size_t ld) {
    for (size_t i = 0; i < n; i++) memcpy(dst + i * d, y + i * ld, d * sizeof(float));
}

/* Runs forward and backward with workspace for @p group samples and per-sample strides
 * padded by @p extra; checks that nothing outside the outputs and the workspace was written
 * and that backward with REUSE_COLS (when allowed) and accumulation agree. */
static void run_ours(const layer *l, size_t group, size_t extra, int threads, result *r) {
    const dr3i_conv2d *c = &l->c;
    const size_t n = l->n, ldx = c->in_size + extra, ldo = c->out_size + extra;
    size_t wsf = 0;
    assert_int_equal(dr3i_conv2d_workspace(c, group, &wsf), DR3_OK);
    /* per sample: columns, GEMM result, the C planes split into stride phases; then dWᵀ */
    const size_t st = c->stride, na = st < c->in_h ? st : c->in_h,
                 nb = st < c->in_w ? st : c->in_w;
    const size_t phase = na * nb * ((c->in_h + st - 1) / st) * ((c->in_w + st - 1) / st);
    assert_int_equal(wsf, ((c->patch + c->out_c) * c->positions + c->in_c * phase) * group +
                              c->weight_count + c->out_c);
    /* with T threads, T slots of that size: each slot gets the group (docs/conv.md) */
    wsf *= (size_t)threads;
    const size_t canary = 17;
    float *ws = tu_alloc_nan(wsf + canary);
    dr3i_conv2d_src src = {NULL, NULL, ldx};
    float *xs = NULL;
    uint8_t *xbs = NULL;
    if (l->u8) {
        xbs = malloc(n * ldx);
        memset(xbs, 0xA5, n * ldx);
        for (size_t i = 0; i < n; i++)
            memcpy(xbs + i * ldx, l->xb + i * c->in_size, c->in_size);
        src.u8 = xbs;
    } else {
        xs = spread(l->xf, n, c->in_size, ldx);
        src.f32 = xs;
    }
    float *out = tu_alloc_nan(n * ldo);
    assert_int_equal(dr3i_conv2d_forward(c, threads, n, &src, l->w, l->b, out, ldo, 0, ws, wsf),
                     DR3_OK);
    assert_true(tu_padding_untouched(out, n, c->out_size, ldo));
    for (size_t k = 0; k < canary; k++) assert_true(isnan(ws[wsf + k]));
    r->out = malloc(n * c->out_size * sizeof(float));
    gather(r->out, out, n, c->out_size, ldo);

    float *g = spread(l->g, n, c->out_size, ldo);
    r->gw = tu_alloc_nan(c->weight_count); /* overwrite mode must not read these NaNs */
    r->gb = tu_alloc_nan(c->out_c);
    float *gx = l->u8 ? NULL : tu_alloc_nan(n * ldx);
    assert_int_equal(dr3i_conv2d_backward(c, threads, n, &src, l->w, g, ldo, r->gw, r->gb, gx,
                                          ldx, 0, ws, wsf),
                     DR3_OK);
    for (size_t k = 0; k < canary; k++) assert_true(isnan(ws[wsf + k]));
    if (gx != NULL) {
        assert_true(tu_padding_untouched(gx, n, c->in_size, ldx));
        r->gx = malloc(n * c->in_size * sizeof(float));
        gather(r->gx, gx, n, c->in_size, ldx);
    }

    /* REUSE_COLS right after a forward gives the same bits */
    /* each slot keeps its columns when its share of the batch fits in one group */
    assert_int_equal(dr3i_conv2d_cols_kept(c, threads, n, wsf),
                     (n + (size_t)threads - 1) / (size_t)threads <= group);
    if (dr3i_conv2d_cols_kept(c, threads, n, wsf)) {
        float *gw2 = tu_alloc_nan(c->weight_count), *gb2 = tu_alloc_nan(c->out_c);
        assert_int_equal(
            dr3i_conv2d_forward(c, threads, n, &src, l->w, l->b, out, ldo, 0, ws, wsf), DR3_OK);
        assert_int_equal(dr3i_conv2d_backward(c, threads, n, &src, l->w, g, ldo, gw2, gb2, NULL,
                                              0, DR3I_CONV2D_REUSE_COLS, ws, wsf),
                         DR3_OK);
        assert_memory_equal(gw2, r->gw, c->weight_count * sizeof(float));
        assert_memory_equal(gb2, r->gb, c->out_c * sizeof(float));
        free(gw2);
        free(gb2);
    }
    /* DR3I_CONV2D_RELU: max(out, 0) of the plain forward, bit for bit, padding untouched */
    {
        float *o2 = tu_alloc_nan(n * ldo);
        assert_int_equal(dr3i_conv2d_forward(c, threads, n, &src, l->w, l->b, o2, ldo,
                                             DR3I_CONV2D_RELU, ws, wsf),
                         DR3_OK);
        assert_true(tu_padding_untouched(o2, n, c->out_size, ldo));
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < c->out_size; k++) {
                const float v = r->out[i * c->out_size + k], want = v > 0 ? v : 0;
                assert_memory_equal(&o2[i * ldo + k], &want, sizeof want);
            }
        free(o2);
    }
    /* accumulating on top of the first results gives twice them */
    if (gx != NULL) {
        float *gw2 = malloc(c->weight_count * sizeof(float));
        float *gb2 = malloc(c->out_c * sizeof(float));
        memcpy(gw2, r->gw, c->weight_count * sizeof(float));
        memcpy(gb2, r->gb, c->out_c * sizeof(float));
        assert_int_equal(
            dr3i_conv2d_backward(c, threads, n, &src, l->w, g, ldo, gw2, gb2, gx, ldx,
                                 DR3I_CONV2D_ACCUMULATE | DR3I_CONV2D_ACCUMULATE_DX, ws, wsf),
            DR3_OK);
        assert_true(tu_padding_untouched(gx, n, c->in_size, ldx));
        for (size_t k = 0; k < c->weight_count; k++)
            TU_ASSERT_CLOSE(gw2[k], 2.0 * r->gw[k], 1e-6, 1e-6);
        for (size_t k = 0; k < c->out_c; k++)
            TU_ASSERT_CLOSE(gb2[k], 2.0 * r->gb[k], 1e-6, 1e-6);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < c->in_size; k++)
                TU_ASSERT_CLOSE(gx[i * ldx + k], 2.0 * r->gx[i * c->in_size + k], 1e-6, 1e-6);
        free(gw2);
        free(gb2);
    }
    free(gx);
    free(g);
    free(out);
    free(xs);
    free(xbs);
    free(ws);
}

/* ---- PyTorch fixtures ------------------------------------------------------------------- */

static double compare_torch(const char *what, const char *name, const float *got,
                            const float *want, size_t count) {
    double mx = 0, worst = 0;
    for (size_t k = 0; k < count; k++) mx = fmax(mx, fabs((double)want[k]));
    for (size_t k = 0; k < count; k++) {
        double a = got[k], b = want[k], tol = TORCH_ATOL * mx + TORCH_RTOL * fabs(b);
        if (!(fabs(a - b) <= tol))
            fail_msg("%s %s[%zu]: libdr3 %.9g, PyTorch %.9g (|diff| %.3g > tol %.3g)", name,
                     what, k, a, b, fabs(a - b), tol);
        if (tol > 0 && fabs(a - b) / tol > worst) worst = fabs(a - b) / tol;
    }
    return worst;
}

static void layer_from_fixture(layer *l, const ref_conv_case *f) {
    memset(l, 0, sizeof *l);
    l->c = shape(f->in_c, f->in_h, f->in_w, f->out_c, f->kh, f->kw, f->stride, f->pad);
    assert_int_equal(l->c.out_h, f->out_h);
    assert_int_equal(l->c.out_w, f->out_w);
    const dr3i_conv2d *c = &l->c;
    l->n = f->n;
    l->u8 = f->u8 != 0;
    size_t nx = f->n * c->in_size;
    if (l->u8) {
        l->xb = malloc(nx);
        ref_conv_fill_u8(l->xb, nx, f->seed_x);
    } else {
        l->xf = malloc(nx * sizeof(float));
        ref_conv_fill(l->xf, nx, f->seed_x, f->scale_x);
    }
    l->w = malloc(c->weight_count * sizeof(float));
    l->b = malloc(c->out_c * sizeof(float));
    l->g = malloc(f->n * c->out_size * sizeof(float));
    ref_conv_fill(l->w, c->weight_count, f->seed_w, f->scale_w);
    ref_conv_fill(l->b, c->out_c, f->seed_b, f->scale_b);
    ref_conv_fill(l->g, f->n * c->out_size, f->seed_g, f->scale_g);
    /* the generator reproduces the script's draws */
    const double got[8] = {x_at(l, 0), x_at(l, 1), l->w[0],
                           l->w[1],    l->b[0],    l->b[c->out_c > 1 ? 1 : 0],
                           l->g[0],    l->g[1]};
    for (int k = 0; k < 8; k++)
        if (got[k] != (double)f->check[k])
            fail_msg("%s: generated value %d is %.9g, the script drew %.9g", f->name, k, got[k],
                     (double)f->check[k]);
}

static void test_against_torch(void **state) {
    (void)state;
    assert_true(REF_CONV_NUM_CASES >= 12);
    /* the fixtures' uint8 inputs were scaled by torch exactly as libdr3 does */
    assert_int_equal(REF_CONV_U8_DIVISION_EXACT, 1);
    for (size_t k = 0; k < REF_CONV_NUM_CASES; k++) {
        const ref_conv_case *f = &REF_CONV_CASES[k];
        layer l;
        layer_from_fixture(&l, f);
        const dr3i_conv2d *c = &l.c;
        /* one GEMM for the batch; one per sample; groups of 2 with a remainder */
        const size_t groups[3] = {f->n, 1, 2};
        const size_t extras[3] = {0, 3, 1};
        double worst = 0;
        for (int v = 0; v < 3; v++) {
            if (v == 2 && f->n <= 2) continue; /* groups of 2 = one group */
            result r = {0};
            run_ours(&l, groups[v], extras[v], 1, &r);
            worst =
                fmax(worst, compare_torch("out", f->name, r.out, f->out, f->n * c->out_size));
            worst =
                fmax(worst, compare_torch("grad_w", f->name, r.gw, f->grad_w, c->weight_count));
            worst = fmax(worst, compare_torch("grad_b", f->name, r.gb, f->grad_b, c->out_c));
            if (f->grad_x != NULL)
                worst = fmax(worst, compare_torch("grad_x", f->name, r.gx, f->grad_x,
                                                  f->n * c->in_size));
            result_free(&r);
        }
        printf("  %-22s worst |diff|/tol = %.4f\n", f->name, worst);
        layer_free(&l);
    }
}

/* ---- the direct convolution in double -----------------------------------------------------
 */

typedef struct naive_result {
    double *out, *out_abs, *gw, *gw_abs, *gb, *gb_abs, *gx, *gx_abs;
} naive_result;

static double *dzeros(size_t count) {
    double *p = calloc(count ? count : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

/* Seven loops straight from the definition; the gradients by the chain rule on the same
 * loops (every product w·x that forms out[i][k][oh][ow] contributes g·x to dW and g·w to dX).
 */
static void naive(const layer *l, naive_result *r) {
    const dr3i_conv2d *c = &l->c;
    const size_t C = c->in_c, H = c->in_h, W = c->in_w, K = c->out_c, OH = c->out_h;
    const size_t OW = c->out_w;
    r->out = dzeros(l->n * c->out_size);
    r->out_abs = dzeros(l->n * c->out_size);
    r->gw = dzeros(c->weight_count);
    r->gw_abs = dzeros(c->weight_count);
    r->gb = dzeros(K);
    r->gb_abs = dzeros(K);
    r->gx = dzeros(l->n * c->in_size);
    r->gx_abs = dzeros(l->n * c->in_size);
    for (size_t i = 0; i < l->n; i++)
        for (size_t k = 0; k < K; k++)
            for (size_t oh = 0; oh < OH; oh++)
                for (size_t ow = 0; ow < OW; ow++) {
                    size_t o = ((i * K + k) * OH + oh) * OW + ow;
                    double acc = l->b[k], acc_abs = fabs((double)l->b[k]), g = l->g[o];
                    for (size_t ch = 0; ch < C; ch++)
                        for (size_t u = 0; u < c->kh; u++)
                            for (size_t v = 0; v < c->kw; v++) {
                                long h = (long)(oh * c->stride + u) - (long)c->pad;
                                long w = (long)(ow * c->stride + v) - (long)c->pad;
                                if (h < 0 || w < 0 || h >= (long)H || w >= (long)W) continue;
                                size_t xi = ((i * C + ch) * H + (size_t)h) * W + (size_t)w;
                                size_t wi = ((k * C + ch) * c->kh + u) * c->kw + v;
                                double xv = x_at(l, xi), wv = l->w[wi];
                                acc += wv * xv;
                                acc_abs += fabs(wv * xv);
                                r->gw[wi] += g * xv;
                                r->gw_abs[wi] += fabs(g * xv);
                                r->gx[xi] += g * wv;
                                r->gx_abs[xi] += fabs(g * wv);
                            }
                    r->out[o] = acc;
                    r->out_abs[o] = acc_abs;
                    r->gb[k] += g;
                    r->gb_abs[k] += fabs(g);
                }
}

static void naive_free(naive_result *r) {
    double *p[] = {r->out, r->out_abs, r->gw, r->gw_abs, r->gb, r->gb_abs, r->gx, r->gx_abs};
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++) free(p[k]);
}

static double compare_naive(const char *what, const char *name, const float *got,
                            const double *want, const double *abs_terms, size_t count) {
    double worst = 0;
    for (size_t k = 0; k < count; k++) {
        double tol = NAIVE_TOL * abs_terms[k] + NAIVE_FLOOR, d = fabs((double)got[k] - want[k]);
        if (!(d <= tol))
            fail_msg("%s %s[%zu]: libdr3 %.9g, direct %.12g (|diff| %.3g > tol %.3g)", name,
                     what, k, (double)got[k], want[k], d, tol);
        worst = fmax(worst, d / tol);
    }
    return worst;
}

typedef struct grid_case {
    const char *name;
    size_t n, C, H, W, K, kh, kw, s, p;
    bool u8;
} grid_case;

static const grid_case GRID[] = {
    {"1x1 everything", 1, 1, 1, 1, 1, 1, 1, 1, 0, false},
    {"kernel = image", 2, 3, 5, 5, 2, 5, 5, 1, 0, false},
    {"2x3 kernel p1", 3, 2, 6, 7, 3, 2, 3, 1, 1, false},
    {"s2 p1", 4, 2, 8, 8, 5, 3, 3, 2, 1, false},
    {"s3 p2", 2, 1, 9, 9, 2, 3, 3, 3, 2, false},
    {"4x2 kernel s2", 5, 3, 10, 7, 4, 4, 2, 2, 0, false},
    {"stride > kernel", 2, 2, 4, 4, 3, 3, 3, 5, 1, false},
    {"pad > kernel", 2, 1, 3, 3, 2, 1, 1, 1, 3, false},
    {"stride 1000", 2, 2, 5, 4, 3, 5, 4, 1000, 0, false},
    {"uint8 stride 999 p1", 3, 2, 5, 4, 3, 3, 2, 999, 1, true},
    {"batch 33", 33, 2, 7, 7, 3, 3, 3, 1, 1, false},
    {"uint8 s2 p1", 3, 3, 9, 8, 4, 3, 3, 2, 1, true},
    {"uint8 s3 p2", 4, 2, 11, 10, 3, 4, 3, 3, 2, true},
    {"uint8 s1 p1", 3, 2, 6, 6, 3, 3, 3, 1, 1, true},
    {"MinAtar", 3, 10, 10, 10, 16, 3, 3, 1, 0, false},
    {"Nature 1 float", 2, 4, 84, 84, 32, 8, 8, 4, 0, false},
    {"Nature 1 uint8", 2, 4, 84, 84, 32, 8, 8, 4, 0, true},
    {"Nature 2", 2, 32, 20, 20, 64, 4, 4, 2, 0, false},
    {"Nature 3", 2, 64, 9, 9, 64, 3, 3, 1, 0, false},
};

static void test_against_direct(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof GRID / sizeof GRID[0]; k++) {
        const grid_case *gc = &GRID[k];
        layer l;
        layer_random(&l, shape(gc->C, gc->H, gc->W, gc->K, gc->kh, gc->kw, gc->s, gc->p), gc->n,
                     gc->u8, 500 + k);
        const dr3i_conv2d *c = &l.c;
        naive_result ref;
        naive(&l, &ref);
        double worst = 0;
        const size_t groups[3] = {gc->n, 1, 2};
        for (int v = 0; v < 3; v++) {
            if (v == 2 && gc->n <= 2) continue;
            for (int threads = 1; threads <= (v == 0 ? 2 : 1); threads++) {
                result r = {0};
                run_ours(&l, groups[v], (size_t)v, threads, &r);
                worst = fmax(worst, compare_naive("out", gc->name, r.out, ref.out, ref.out_abs,
                                                  l.n * c->out_size));
                worst = fmax(worst, compare_naive("grad_w", gc->name, r.gw, ref.gw, ref.gw_abs,
                                                  c->weight_count));
                worst = fmax(worst, compare_naive("grad_b", gc->name, r.gb, ref.gb, ref.gb_abs,
                                                  c->out_c));
                if (!l.u8)
                    worst = fmax(worst, compare_naive("grad_x", gc->name, r.gx, ref.gx,
                                                      ref.gx_abs, l.n * c->in_size));
                result_free(&r);
            }
        }
        printf("  %-16s out %zux%zu  worst |diff|/tol = %.4f\n", gc->name, c->out_h, c->out_w,
               worst);
        naive_free(&ref);
        layer_free(&l);
    }
}

/* Every byte value enters as (float)v / 255.0f exactly: a 1×1 kernel of weight 1, bias 0. */
static void test_u8_scaling(void **state) {
    (void)state;
    dr3i_conv2d c = shape(1, 16, 16, 1, 1, 1, 1, 0);
    uint8_t x[256];
    for (int v = 0; v < 256; v++) x[v] = (uint8_t)v;
    float w = 1, b = 0, out[256], ws[770];
    size_t wsf;
    assert_int_equal(dr3i_conv2d_workspace(&c, 1, &wsf), DR3_OK);
    assert_int_equal(wsf, 770); /* (1 + 1)·256 + 256 + 1 + 1 */
    dr3i_conv2d_src src = {NULL, x, 256};
    assert_int_equal(dr3i_conv2d_forward(&c, 1, 1, &src, &w, &b, out, 256, 0, ws, wsf), DR3_OK);
    volatile float d = 255.0f;
    for (int v = 0; v < 256; v++) assert_true(out[v] == (float)v / d);
}

/* ---- finite differences --------------------------------------------------------------------
 */

/* L = Σ g·out + ½ Σ out² in double, from our float forward. */
static double fd_loss(const layer *l, float *out, float *ws, size_t wsf) {
    const dr3i_conv2d *c = &l->c;
    dr3i_conv2d_src src = {l->xf, NULL, c->in_size};
    assert_int_equal(
        dr3i_conv2d_forward(c, 1, l->n, &src, l->w, l->b, out, c->out_size, 0, ws, wsf),
        DR3_OK);
    double L = 0;
    for (size_t k = 0; k < l->n * c->out_size; k++)
        L += (double)l->g[k] * out[k] + 0.5 * (double)out[k] * out[k];
    return L;
}

/* Central difference of L in *p, with the steps float rounding actually took. */
static double fd_at(const layer *l, float *p, float *out, float *ws, size_t wsf) {
    const float keep = *p, h = 1.0f / 64;
    *p = keep + h;
    double up = (double)*p - keep, Lp = fd_loss(l, out, ws, wsf);
    *p = keep - h;
    double dn = keep - (double)*p, Lm = fd_loss(l, out, ws, wsf);
    *p = keep;
    return (Lp - Lm) / (up + dn);
}

static void test_finite_differences(void **state) {
    (void)state;
    const struct {
        size_t n, C, H, W, K, kh, kw, s, p;
    } shapes[] = {{2, 2, 5, 6, 3, 3, 2, 2, 1}, {1, 3, 6, 6, 2, 3, 3, 1, 0}};
    for (size_t t = 0; t < 2; t++) {
        layer l;
        layer_random(&l,
                     shape(shapes[t].C, shapes[t].H, shapes[t].W, shapes[t].K, shapes[t].kh,
                           shapes[t].kw, shapes[t].s, shapes[t].p),
                     shapes[t].n, false, 900 + t);
        const dr3i_conv2d *c = &l.c;
        size_t wsf, no = l.n * c->out_size;
        assert_int_equal(dr3i_conv2d_workspace(c, 1, &wsf), DR3_OK); /* per-sample GEMMs */
        float *ws = malloc(wsf * sizeof(float)), *out = malloc(no * sizeof(float));
        float *dout = malloc(no * sizeof(float));
        fd_loss(&l, out, ws, wsf);
        for (size_t k = 0; k < no; k++) dout[k] = l.g[k] + out[k]; /* dL/dout */
        float *gw = malloc(c->weight_count * sizeof(float)), gb[8];
        float *gx = malloc(l.n * c->in_size * sizeof(float));
        dr3i_conv2d_src src = {l.xf, NULL, c->in_size};
        assert_int_equal(dr3i_conv2d_backward(c, 1, l.n, &src, l.w, dout, c->out_size, gw, gb,
                                              gx, c->in_size, 0, ws, wsf),
                         DR3_OK);
        double worst = 0;
        for (size_t k = 0; k < c->weight_count; k++) {
            double fd = fd_at(&l, &l.w[k], out, ws, wsf);
            TU_ASSERT_CLOSE(gw[k], fd, 1e-3, 1e-3);
            worst = fmax(worst, fabs(gw[k] - fd));
        }
        for (size_t k = 0; k < c->out_c; k++) {
            double fd = fd_at(&l, &l.b[k], out, ws, wsf);
            TU_ASSERT_CLOSE(gb[k], fd, 1e-3, 1e-3);
            worst = fmax(worst, fabs(gb[k] - fd));
        }
        for (size_t k = 0; k < l.n * c->in_size; k++) {
            double fd = fd_at(&l, &l.xf[k], out, ws, wsf);
            TU_ASSERT_CLOSE(gx[k], fd, 1e-3, 1e-3);
            worst = fmax(worst, fabs(gx[k] - fd));
        }
        printf("  shape %zu: worst |analytic - finite difference| = %.3g\n", t, worst);
        free(ws);
        free(out);
        free(dout);
        free(gw);
        free(gx);
        layer_free(&l);
    }
}

/* ---- bad arguments -------------------------------------------------------------------------
 */

static void test_bad_shapes(void **state) {
    (void)state;
    const dr3i_conv2d ok = {.in_c = 4,
                            .in_h = 84,
                            .in_w = 84,
                            .out_c = 32,
                            .kh = 8,
                            .kw = 8,
                            .stride = 4,
                            .pad = 0};
    dr3i_conv2d c = ok;
    assert_int_equal(dr3i_conv2d_init(&c, "test"), DR3_OK);
    assert_int_equal(c.out_h, 20);
    assert_int_equal(c.out_w, 20);
    assert_int_equal(c.patch, 256);
    assert_int_equal(c.positions, 400);
    assert_int_equal(c.weight_count, 8192);
    TU_ASSERT_FAILS(dr3i_conv2d_init(NULL, "test"), DR3_ERR_INVALID_ARG);
    size_t *fields[] = {&c.in_c, &c.in_h, &c.in_w, &c.out_c, &c.kh, &c.kw, &c.stride};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        c = ok;
        *fields[k] = 0; /* the pointers point into c */
        TU_ASSERT_FAILS(dr3i_conv2d_init(&c, "test"), DR3_ERR_INVALID_ARG);
        assert_int_equal(c.positions, 0);
    }
    /* output smaller than 1×1: kernel taller / wider than the padded input */
    c = ok;
    c.kh = 85;
    TU_ASSERT_FAILS(dr3i_conv2d_init(&c, "test"), DR3_ERR_INVALID_ARG);
    assert_non_null(strstr(dr3_last_error(), "test"));
    c = ok;
    c.in_w = 5;
    c.pad = 1;
    TU_ASSERT_FAILS(dr3i_conv2d_init(&c, "test"), DR3_ERR_INVALID_ARG);
    c.pad = 2; /* 5 + 4 >= 8: a valid 1×… output */
    assert_int_equal(dr3i_conv2d_init(&c, "test"), DR3_OK);
    assert_int_equal(c.out_w, 1);
    /* overflow */
    c = ok;
    c.pad = SIZE_MAX / 2;
    TU_ASSERT_FAILS(dr3i_conv2d_init(&c, "test"), DR3_ERR_OVERFLOW);
    c = ok;
    c.in_c = c.out_c = SIZE_MAX / 8;
    TU_ASSERT_FAILS(dr3i_conv2d_init(&c, "test"), DR3_ERR_OVERFLOW);
    c = ok;
    c.in_h = c.in_w = (size_t)1 << 40;
    TU_ASSERT_FAILS(dr3i_conv2d_init(&c, "test"), DR3_ERR_OVERFLOW);

    /* workspace */
    c = ok;
    assert_int_equal(dr3i_conv2d_init(&c, "test"), DR3_OK);
    size_t wsf = 1;
    /* group suggestion: columns of at most 2 MiB per GEMM */
    assert_int_equal(dr3i_conv2d_suggest_group(&c, 32), 5); /* 256 × 400 floats per sample */
    assert_int_equal(dr3i_conv2d_suggest_group(&c, 3), 3);
    assert_int_equal(dr3i_conv2d_suggest_group(&c, 0), 0);
    dr3i_conv2d big = shape(64, 200, 200, 8, 5, 5, 1, 2); /* 256 MB per sample */
    assert_int_equal(dr3i_conv2d_suggest_group(&big, 32), 1);
    dr3i_conv2d mn = shape(10, 10, 10, 16, 3, 3, 1, 0);
    assert_int_equal(dr3i_conv2d_suggest_group(&mn, 256), 91);

    TU_ASSERT_FAILS(dr3i_conv2d_workspace(&c, 0, &wsf), DR3_ERR_INVALID_ARG);
    assert_int_equal(wsf, 0);
    TU_ASSERT_FAILS(dr3i_conv2d_workspace(&c, SIZE_MAX / 1000, &wsf), DR3_ERR_OVERFLOW);
    dr3i_conv2d raw = ok; /* never initialised */
    TU_ASSERT_FAILS(dr3i_conv2d_workspace(&raw, 1, &wsf), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3i_conv2d_suggest_group(&raw, 8), 0);
}

static void test_bad_calls(void **state) {
    (void)state;
    dr3i_conv2d c = shape(2, 5, 5, 3, 3, 3, 1, 1);
    size_t wsf, ws1; /* for groups of 2 and of 1 */
    assert_int_equal(dr3i_conv2d_workspace(&c, 2, &wsf), DR3_OK);
    assert_int_equal(dr3i_conv2d_workspace(&c, 1, &ws1), DR3_OK);
    float *ws = tu_alloc_nan(wsf), x[100] = {0}, w[54] = {0}, b[3] = {0};
    float *out = tu_alloc_nan(2 * c.out_size), *gx = tu_alloc_nan(100);
    float g[150] = {0}, gw[54], gb[3];
    uint8_t xb[100] = {0};
    const dr3i_conv2d_src fx = {x, NULL, 50}, bx = {NULL, xb, 50}, both = {x, xb, 50};
    const dr3i_conv2d_src neither = {NULL, NULL, 50}, short_ld = {x, NULL, 49};
    dr3i_conv2d raw = {
        .in_c = 1, .in_h = 1, .in_w = 1, .out_c = 1, .kh = 1, .kw = 1, .stride = 1};
    /* forward */
    TU_ASSERT_FAILS(dr3i_conv2d_forward(NULL, 1, 2, &fx, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&raw, 1, 2, &fx, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 0, &fx, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, NULL, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &both, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &neither, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &short_ld, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &fx, NULL, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &fx, w, NULL, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &fx, w, b, NULL, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &fx, w, b, out, 74, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &fx, w, b, out, 75, 0, NULL, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 2, &fx, w, b, out, 75, 0, ws, ws1 - 1),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(
        dr3i_conv2d_forward(&c, 1, 2, &fx, w, b, out, 75, DR3I_CONV2D_REUSE_COLS, ws, wsf),
        DR3_ERR_INVALID_ARG); /* no forward flag is defined yet */
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 0, 2, &fx, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    const dr3i_conv2d_src huge = {x, NULL, SIZE_MAX / 2};
    TU_ASSERT_FAILS(dr3i_conv2d_forward(&c, 1, 3, &huge, w, b, out, 75, 0, ws, wsf),
                    DR3_ERR_OVERFLOW);
    for (size_t k = 0; k < 2 * c.out_size; k++)
        assert_true(isnan(out[k])); /* nothing written */
    for (size_t k = 0; k < wsf; k++) assert_true(isnan(ws[k]));
    /* half the workspace: one sample per GEMM, still correct */
    assert_int_equal(dr3i_conv2d_forward(&c, 1, 2, &fx, w, b, out, 75, 0, ws, ws1), DR3_OK);

    /* backward */
    TU_ASSERT_FAILS(
        dr3i_conv2d_backward(&c, 1, 2, &fx, w, g, 75, gw, gb, gx, 50, 1u << 7, ws, wsf),
        DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_backward(&c, 1, 2, &fx, w, g, 75, gw, gb, gx, 50,
                                         DR3I_CONV2D_RELU, ws, wsf),
                    DR3_ERR_INVALID_ARG); /* a forward-only flag */
    TU_ASSERT_FAILS(dr3i_conv2d_backward(&c, 1, 2, &bx, w, g, 75, gw, gb, gx, 50, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG); /* no dX for a uint8 input */
    TU_ASSERT_FAILS(dr3i_conv2d_backward(&c, 1, 2, NULL, w, g, 75, gw, gb, NULL, 0, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG); /* dW needs x */
    TU_ASSERT_FAILS(
        dr3i_conv2d_backward(&c, 1, 2, &fx, w, NULL, 75, gw, gb, NULL, 0, 0, ws, wsf),
        DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_backward(&c, 1, 2, &fx, w, g, 74, gw, gb, NULL, 0, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_backward(&c, 1, 2, &fx, w, g, 75, gw, gb, gx, 49, 0, ws, wsf),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(
        dr3i_conv2d_backward(&c, 1, 2, &fx, NULL, g, 75, gw, gb, gx, 50, 0, ws, wsf),
        DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_conv2d_backward(&c, 1, 2, &fx, w, g, 75, gw, gb, gx, 50,
                                         DR3I_CONV2D_REUSE_COLS, ws, wsf - 1),
                    DR3_ERR_INVALID_ARG); /* the columns of 2 samples cannot be in it */
    for (size_t k = 0; k < 100; k++) assert_true(isnan(gx[k]));
    /* dX alone needs neither x nor dW; a uint8 input without dX is fine */
    assert_int_equal(
        dr3i_conv2d_backward(&c, 1, 2, NULL, w, g, 75, NULL, gb, gx, 50, 0, ws, wsf), DR3_OK);
    assert_int_equal(dr3i_conv2d_backward(&c, 1, 2, &bx, w, g, 75, gw, gb, NULL, 0, 0, ws, wsf),
                     DR3_OK);
    free(ws);
    free(out);
    free(gx);
}

/* ---- no allocation -------------------------------------------------------------------------
 */

static void test_no_allocation(void **state) {
    (void)state;
#if COUNT_ALLOCS
    layer l;
    layer_random(&l, shape(4, 20, 20, 8, 4, 4, 2, 1), 5, false, 77);
    const dr3i_conv2d *c = &l.c;
    size_t wsf;
    assert_int_equal(dr3i_conv2d_workspace(c, 3, &wsf), DR3_OK);
    float *ws = malloc(wsf * sizeof(float)), *out = malloc(5 * c->out_size * sizeof(float));
    float *gw = malloc(c->weight_count * sizeof(float)), *gb = malloc(8 * sizeof(float));
    float *gx = malloc(5 * c->in_size * sizeof(float));
    uint8_t *xb = calloc(5, c->in_size);
    dr3i_conv2d_src src = {l.xf, NULL, c->in_size}, bsrc = {NULL, xb, c->in_size};
    /* the counter works */
    atomic_store(&counting, 1);
    void *volatile probe = malloc(16);
    atomic_store(&counting, 0);
    free(probe);
    assert_int_equal(atomic_load(&alloc_calls), 1);
    for (int round = 0; round < 2; round++) {
        /* round 0 warms BLIS up (its packing-buffer pool allocates on first use) */
        atomic_store(&alloc_calls, 0);
        atomic_store(&counting, round);
        for (int threads = 1; threads <= 2; threads++) {
            assert_int_equal(dr3i_conv2d_forward(c, threads, 5, &src, l.w, l.b, out,
                                                 c->out_size, 0, ws, wsf),
                             DR3_OK);
            assert_int_equal(dr3i_conv2d_forward(c, threads, 5, &bsrc, l.w, l.b, out,
                                                 c->out_size, 0, ws, wsf),
                             DR3_OK);
            assert_int_equal(dr3i_conv2d_backward(c, threads, 5, &src, l.w, l.g, c->out_size,
                                                  gw, gb, gx, c->in_size, 0, ws, wsf),
                             DR3_OK);
        }
        atomic_store(&counting, 0);
    }
    printf("  allocations during forward/backward after warm-up: %ld\n",
           atomic_load(&alloc_calls));
    assert_int_equal(atomic_load(&alloc_calls), 0);
    free(ws);
    free(out);
    free(gw);
    free(gb);
    free(gx);
    free(xb);
    layer_free(&l);
#else
    skip();
#endif
}

int main(void) {
    if (dr3i_runtime_ensure() != DR3_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_torch), cmocka_unit_test(test_against_direct),
        cmocka_unit_test(test_u8_scaling),    cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_bad_shapes),    cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_no_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
