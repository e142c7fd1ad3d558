/* 2-D convolution (conv2d.h): unfold a group of samples into columns, one GEMM per group,
 * fold back for the input gradient. Written from the definition
 *   out[i][k][oh][ow] = b[k] + Σ_{c,u,v} w[k][c][u][v] · x[i][c][oh·s + u − p][ow·s + v − p]
 * (x is 0 outside the image), so with the patch index r = (c, u, v) and the column index
 * j = (i, oh, ow) the layer is the product W[K × r] · cols[r × j]. */
#include "conv2d.h"

#include "../kernels/kernels.h"

#include <string.h>

/* (float)v / 255.0f for every byte, folded by the compiler (IEEE division, correctly
 * rounded), so the scaling costs a table lookup and matches a division exactly. */
#define U8F(v)   ((float)(v) / 255.0f)
#define U8F4(v)  U8F(v), U8F((v) + 1), U8F((v) + 2), U8F((v) + 3)
#define U8F16(v) U8F4(v), U8F4((v) + 4), U8F4((v) + 8), U8F4((v) + 12)
#define U8F64(v) U8F16(v), U8F16((v) + 16), U8F16((v) + 32), U8F16((v) + 48)
static const float u8_unit[256] = {U8F64(0), U8F64(64), U8F64(128), U8F64(192)};

dr3_status dr3i_conv2d_init(dr3i_conv2d *c, const char *who) {
    if (who == NULL) who = "conv2d";
    if (c == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: layer is NULL", who);
    c->out_h = c->out_w = c->in_size = c->out_size = 0;
    c->patch = c->positions = c->weight_count = 0;
    if (c->in_c == 0 || c->in_h == 0 || c->in_w == 0 || c->out_c == 0 || c->kh == 0 ||
        c->kw == 0 || c->stride == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: conv2d sizes must be >= 1 (in %zu×%zu×%zu, out %zu, kernel "
                         "%zu×%zu, stride %zu)",
                         who, c->in_c, c->in_h, c->in_w, c->out_c, c->kh, c->kw, c->stride);
    size_t ph, pw, t;
    if (!dr3i_mul(c->pad, 2, &t) || !dr3i_add(c->in_h, t, &ph) || !dr3i_add(c->in_w, t, &pw))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: conv2d padding %zu overflows", who, c->pad);
    if (ph < c->kh || pw < c->kw)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: conv2d kernel %zu×%zu is larger than the padded input %zu×%zu "
                         "(%zu×%zu + 2·%zu): the output would be empty",
                         who, c->kh, c->kw, ph, pw, c->in_h, c->in_w, c->pad);
    size_t oh = (ph - c->kh) / c->stride + 1, ow = (pw - c->kw) / c->stride + 1;
    size_t in_size, positions, out_size, patch, wc;
    if (!dr3i_mul(c->in_c, c->in_h, &t) || !dr3i_mul(t, c->in_w, &in_size) ||
        !dr3i_mul(oh, ow, &positions) || !dr3i_mul(positions, c->out_c, &out_size) ||
        !dr3i_mul(c->in_c, c->kh, &t) || !dr3i_mul(t, c->kw, &patch) ||
        !dr3i_mul(patch, c->out_c, &wc) || !dr3i_add(wc, c->out_c, &t) ||
        !dr3i_add(patch, c->out_c, &t) || !dr3i_mul(t, positions, &t))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: conv2d sizes overflow", who);
    c->out_h = oh;
    c->out_w = ow;
    c->in_size = in_size;
    c->out_size = out_size;
    c->patch = patch;
    c->positions = positions;
    c->weight_count = wc;
    return DR3_OK;
}

static size_t per_sample_ws(const dr3i_conv2d *c) {
    return (c->patch + c->out_c) * c->positions;
}

dr3_status dr3i_conv2d_workspace(const dr3i_conv2d *c, size_t group, size_t *floats) {
    if (floats != NULL) *floats = 0;
    if (c == NULL || floats == NULL || c->positions == 0 || group == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "conv2d workspace: %s",
                         group == 0 ? "group must be >= 1" : "NULL or uninitialised argument");
    if (!dr3i_mul(per_sample_ws(c), group, floats))
        return dr3i_fail(DR3_ERR_OVERFLOW, "conv2d workspace: %zu samples overflow", group);
    return DR3_OK;
}

/* The outputs o in [0, out) whose input coordinate o·s + k − p lies in [0, in): [*lo, *hi). */
static void valid_range(size_t out, size_t in, size_t k, size_t s, size_t p, size_t *lo,
                        size_t *hi) {
    size_t a = k >= p ? 0 : (p - k + s - 1) / s;          /* first o with o·s + k >= p */
    size_t b = in + p > k ? (in + p - k + s - 1) / s : 0; /* first o with o·s + k >= in + p */
    if (b > out) b = out;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* cols[r][j·P + q] for the g samples starting at x (r = (c, u, v), q = (oh, ow)); ldc = g·P.
 * Exactly one of xf / xb is non-NULL. */
static void unfold(const dr3i_conv2d *c, size_t g, const float *xf, const uint8_t *xb,
                   size_t ld, float *cols, size_t ldc) {
    const size_t H = c->in_h, W = c->in_w, OH = c->out_h, OW = c->out_w, s = c->stride;
    const size_t p = c->pad, P = c->positions;
    size_t r = 0;
    for (size_t ch = 0; ch < c->in_c; ch++)
        for (size_t u = 0; u < c->kh; u++) {
            size_t hlo, hhi;
            valid_range(OH, H, u, s, p, &hlo, &hhi);
            for (size_t v = 0; v < c->kw; v++, r++) {
                size_t wlo, whi;
                valid_range(OW, W, v, s, p, &wlo, &whi);
                for (size_t j = 0; j < g; j++) {
                    float *dst = cols + r * ldc + j * P;
                    size_t plane = j * ld + ch * H * W;
                    memset(dst, 0, hlo * OW * sizeof(float));
                    for (size_t oh = hlo; oh < hhi; oh++) {
                        float *d = dst + oh * OW;
                        /* input element of (oh, ow) is at base + ow·s (base >= 0 for ow >= wlo)
                         */
                        size_t row = plane + (oh * s + u - p) * W;
                        for (size_t q = 0; q < wlo; q++) d[q] = 0;
                        if (wlo == whi) {
                            /* every tap of this row falls into the padding */
                        } else if (xf != NULL) {
                            const float *src = xf + row + wlo * s + v - p;
                            if (s == 1)
                                memcpy(d + wlo, src, (whi - wlo) * sizeof(float));
                            else
                                for (size_t q = wlo; q < whi; q++) d[q] = src[(q - wlo) * s];
                        } else {
                            const uint8_t *src = xb + row + wlo * s + v - p;
                            for (size_t q = wlo; q < whi; q++)
                                d[q] = u8_unit[src[(q - wlo) * s]];
                        }
                        for (size_t q = whi; q < OW; q++) d[q] = 0;
                    }
                    memset(dst + hhi * OW, 0, (OH - hhi) * OW * sizeof(float));
                }
            }
        }
}

/* The adjoint of unfold: gx[j][c][h][w] += cols[r][j·P + q] over every (r, q) that read
 * (c, h, w). Padding positions are dropped. */
static void fold_add(const dr3i_conv2d *c, size_t g, const float *cols, size_t ldc, float *gx,
                     size_t ld) {
    const size_t H = c->in_h, W = c->in_w, OW = c->out_w, s = c->stride;
    const size_t p = c->pad, P = c->positions;
    size_t r = 0;
    for (size_t ch = 0; ch < c->in_c; ch++)
        for (size_t u = 0; u < c->kh; u++) {
            size_t hlo, hhi;
            valid_range(c->out_h, H, u, s, p, &hlo, &hhi);
            for (size_t v = 0; v < c->kw; v++, r++) {
                size_t wlo, whi;
                valid_range(OW, W, v, s, p, &wlo, &whi);
                for (size_t j = 0; j < g; j++) {
                    const float *src = cols + r * ldc + j * P;
                    size_t plane = j * ld + ch * H * W;
                    for (size_t oh = hlo; oh < hhi && wlo < whi; oh++) {
                        const float *sr = src + oh * OW;
                        float *d = gx + plane + (oh * s + u - p) * W + wlo * s + v - p;
                        if (s == 1)
                            for (size_t q = wlo; q < whi; q++) d[q - wlo] += sr[q];
                        else
                            for (size_t q = wlo; q < whi; q++) d[(q - wlo) * s] += sr[q];
                    }
                }
            }
        }
}

/* The argument checks shared by forward and backward; x_needed: x must be given. */
static dr3_status check_call(const dr3i_conv2d *c, size_t n, const dr3i_conv2d_src *x,
                             bool x_needed, const float *weight, const float *ws,
                             size_t ws_floats, const char *who) {
    if (c == NULL || c->positions == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: layer is NULL or not initialised", who);
    if (n == 0) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: n must be >= 1", who);
    if (weight == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: weight is NULL", who);
    if (x_needed) {
        if (x == NULL || (x->f32 == NULL) == (x->u8 == NULL))
            return dr3i_fail(DR3_ERR_INVALID_ARG,
                             "%s: the input needs exactly one of f32 and u8 set", who);
        size_t span;
        if (x->ld < c->in_size)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: input stride %zu < C·H·W = %zu", who,
                             x->ld, c->in_size);
        if (!dr3i_span(n, c->in_size, x->ld, &span))
            return dr3i_fail(DR3_ERR_OVERFLOW, "%s: input stride overflows", who);
    }
    if (ws == NULL || ws_floats < per_sample_ws(c))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: workspace of %zu floats is smaller than one sample's (%zu)", who,
                         ws == NULL ? 0 : ws_floats, per_sample_ws(c));
    return DR3_OK;
}

static dr3_status check_out(size_t n, const float *y, size_t ld, size_t width, const char *what,
                            const char *who) {
    size_t span;
    if (y == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, what);
    if (ld < width)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s stride %zu < %zu", who, what, ld, width);
    if (!dr3i_span(n, width, ld, &span))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s stride overflows", who, what);
    return DR3_OK;
}

dr3_status dr3i_conv2d_forward(const dr3i_conv2d *c, int threads, size_t n,
                               const dr3i_conv2d_src *x, const float *weight, const float *bias,
                               float *out, size_t ld_out, float *ws, size_t ws_floats) {
    static const char who[] = "conv2d forward";
    dr3_status st = check_call(c, n, x, true, weight, ws, ws_floats, who);
    if (st == DR3_OK && bias == NULL)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: bias is NULL", who);
    if (st == DR3_OK) st = check_out(n, out, ld_out, c->out_size, "out", who);
    if (st == DR3_OK && threads < 1)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    if (st != DR3_OK) return st;

    const size_t K = c->out_c, P = c->positions, R = c->patch;
    const size_t G = ws_floats / per_sample_ws(c);
    for (size_t i0 = 0; i0 < n; i0 += G) {
        const size_t g = n - i0 < G ? n - i0 : G, ldc = g * P;
        float *cols = ws, *y = ws + R * ldc;
        unfold(c, g, x->f32 ? x->f32 + i0 * x->ld : NULL, x->u8 ? x->u8 + i0 * x->ld : NULL,
               x->ld, cols, ldc);
        if (g == 1) {
            /* one sample: the product lands in out directly, on top of the bias */
            float *o = out + i0 * ld_out;
            for (size_t k = 0; k < K; k++)
                for (size_t q = 0; q < P; q++) o[k * P + q] = bias[k];
            dr3k_sgemm(threads, false, false, K, P, R, 1.0f, weight, R, cols, ldc, 1.0f, o, P);
            continue;
        }
        /* Y[K × g·P] = W · cols, then each sample's K × P block moves to NCHW with the bias */
        dr3k_sgemm(threads, false, false, K, ldc, R, 1.0f, weight, R, cols, ldc, 0.0f, y, ldc);
        for (size_t j = 0; j < g; j++) {
            float *o = out + (i0 + j) * ld_out;
            for (size_t k = 0; k < K; k++) {
                const float *src = y + k * ldc + j * P, bk = bias[k];
                float *d = o + k * P;
                for (size_t q = 0; q < P; q++) d[q] = src[q] + bk;
            }
        }
    }
    return DR3_OK;
}

dr3_status dr3i_conv2d_backward(const dr3i_conv2d *c, int threads, size_t n,
                                const dr3i_conv2d_src *x, const float *weight,
                                const float *grad_out, size_t ld_grad_out, float *grad_w,
                                float *grad_b, float *grad_x, size_t ld_grad_x, unsigned flags,
                                float *ws, size_t ws_floats) {
    static const char who[] = "conv2d backward";
    const unsigned known =
        DR3I_CONV2D_ACCUMULATE | DR3I_CONV2D_ACCUMULATE_DX | DR3I_CONV2D_REUSE_COLS;
    dr3_status st = check_call(c, n, x, grad_w != NULL, weight, ws, ws_floats, who);
    if (st == DR3_OK) st = check_out(n, grad_out, ld_grad_out, c->out_size, "grad_out", who);
    if (st == DR3_OK && grad_x != NULL)
        st = check_out(n, grad_x, ld_grad_x, c->in_size, "grad_x", who);
    if (st == DR3_OK && grad_x != NULL && x != NULL && x->u8 != NULL)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: no input gradient for a uint8 input", who);
    if (st == DR3_OK && (flags & ~known))
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown flags 0x%x", who, flags & ~known);
    if (st == DR3_OK && threads < 1)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    const size_t K = c->out_c, P = c->positions, R = c->patch;
    const size_t G = ws_floats / per_sample_ws(c);
    if (st == DR3_OK && (flags & DR3I_CONV2D_REUSE_COLS) && n > G)
        st = dr3i_fail(DR3_ERR_INVALID_ARG,
                       "%s: REUSE_COLS with n = %zu larger than the workspace's group %zu", who,
                       n, G);
    if (st != DR3_OK) return st;

    bool first = !(flags & DR3I_CONV2D_ACCUMULATE);
    if (first && grad_b != NULL) memset(grad_b, 0, K * sizeof(float));
    for (size_t i0 = 0; i0 < n; i0 += G) {
        const size_t g = n - i0 < G ? n - i0 : G, ldc = g * P;
        float *cols = ws, *dy = ws + R * ldc;
        /* dY[K × g·P] gathered from NCHW; db = its row sums (in double: up to n·P terms) */
        for (size_t k = 0; k < K; k++) {
            double sum = 0;
            for (size_t j = 0; j < g; j++) {
                const float *src = grad_out + (i0 + j) * ld_grad_out + k * P;
                float *d = dy + k * ldc + j * P;
                for (size_t q = 0; q < P; q++) {
                    d[q] = src[q];
                    sum += src[q];
                }
            }
            if (grad_b != NULL) grad_b[k] += (float)sum;
        }
        if (grad_w != NULL) {
            if (!(flags & DR3I_CONV2D_REUSE_COLS))
                unfold(c, g, x->f32 ? x->f32 + i0 * x->ld : NULL,
                       x->u8 ? x->u8 + i0 * x->ld : NULL, x->ld, cols, ldc);
            /* dW[K × R] (+)= dY · colsᵀ */
            dr3k_sgemm(threads, false, true, K, R, ldc, 1.0f, dy, ldc, cols, ldc,
                       first ? 0.0f : 1.0f, grad_w, R);
        }
        first = false;
        if (grad_x != NULL) {
            /* dcols[R × g·P] = Wᵀ · dY (over the columns, now free), folded onto dX */
            dr3k_sgemm(threads, true, false, R, ldc, K, 1.0f, weight, R, dy, ldc, 0.0f, cols,
                       ldc);
            float *gx = grad_x + i0 * ld_grad_x;
            if (!(flags & DR3I_CONV2D_ACCUMULATE_DX))
                for (size_t j = 0; j < g; j++)
                    memset(gx + j * ld_grad_x, 0, c->in_size * sizeof(float));
            fold_add(c, g, cols, ldc, gx, ld_grad_x);
        }
    }
    return DR3_OK;
}
