/* 2-D convolution (conv2d.h): unfold a group of samples into columns, one GEMM per group,
 * fold back for the input gradient. Written from the definition
 *   out[i][k][oh][ow] = b[k] + Σ_{c,u,v} w[k][c][u][v] · x[i][c][oh·s + u − p][ow·s + v − p]
 * (x is 0 outside the image), so with the patch index r = (c, u, v) and the column index
 * j = (i, oh, ow) the layer is the product W[K × r] · cols[r × j]. */
#include "conv2d.h"

#include "../kernels/kernels.h"
#include "../kernels/thin.h"

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
    size_t in_size, positions, out_size, patch, wc, phf;
    const size_t na = c->stride < c->in_h ? c->stride : c->in_h;
    const size_t nb = c->stride < c->in_w ? c->stride : c->in_w;
    if (!dr3i_mul(c->in_c, c->in_h, &t) || !dr3i_mul(t, c->in_w, &in_size) ||
        !dr3i_mul(oh, ow, &positions) || !dr3i_mul(positions, c->out_c, &out_size) ||
        !dr3i_mul(c->in_c, c->kh, &t) || !dr3i_mul(t, c->kw, &patch) ||
        !dr3i_mul(patch, c->out_c, &wc) || !dr3i_add(wc, c->out_c, &t) ||
        !dr3i_add(patch, c->out_c, &t) || !dr3i_mul(t, positions, &t) ||
        !dr3i_mul(na, nb, &phf) || !dr3i_mul(phf, (c->in_h - 1) / c->stride + 1, &phf) ||
        !dr3i_mul(phf, (c->in_w - 1) / c->stride + 1, &phf) || !dr3i_add(t, phf, &t) ||
        !dr3i_add(t, wc, &t))
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

/* Workspace layout of a slot (one per thread, docs below) for a group of G samples: cols
 * [R × G·P], then the GEMM's result or the gathered dL/dout [K × G·P], then the group's input
 * planes split into their stride phases [G·C × phase_floats] (unfold of uint8 inputs), then
 * dWᵀ [R × K] and the bias sums [K] of the slot's samples. */
static size_t phase_floats(const dr3i_conv2d *c);
static size_t ws_per_sample(const dr3i_conv2d *c) {
    return (c->patch + c->out_c) * c->positions + c->in_c * phase_floats(c);
}
/* per slot: dWᵀ [R × K] and the bias sums [K] */
static size_t ws_fixed(const dr3i_conv2d *c) { return c->weight_count + c->out_c; }

dr3_status dr3i_conv2d_workspace(const dr3i_conv2d *c, size_t group, size_t *floats) {
    if (floats != NULL) *floats = 0;
    if (c == NULL || floats == NULL || c->positions == 0 || group == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "conv2d workspace: %s",
                         group == 0 ? "group must be >= 1" : "NULL or uninitialised argument");
    if (!dr3i_mul(ws_per_sample(c), group, floats) || !dr3i_add(*floats, ws_fixed(c), floats)) {
        *floats = 0;
        return dr3i_fail(DR3_ERR_OVERFLOW, "conv2d workspace: %zu samples overflow", group);
    }
    return DR3_OK;
}

size_t dr3i_conv2d_suggest_group(const dr3i_conv2d *c, size_t max_n) {
    if (c == NULL || c->positions == 0 || max_n == 0) return 0;
    const size_t budget = ((size_t)2 << 20) / sizeof(float), per = c->patch * c->positions;
    const size_t g = per >= budget ? 1 : budget / per;
    return g < max_n ? g : max_n;
}

/* The outputs o in [0, out) whose input coordinate o·s + k − p lies in [0, in): [*lo, *hi).
 * No division: both ends are at most ⌈p/s⌉ + 1 steps from 0 and out (k < kernel <= in + 2p). */
static void valid_range(size_t out, size_t in, size_t k, size_t s, size_t p, size_t *lo,
                        size_t *hi) {
    size_t a = 0, b = out;
    while (a < out && a * s + k < p) a++;
    while (b > a && (b - 1) * s + k >= in + p) b--;
    *lo = a;
    *hi = b;
}

/* d[q] = src[q·s] for q < count; inlined with s a constant where the call site has one, so
 * that the compiler can vectorise the common strides. */
static inline void gather(float *restrict d, const float *restrict src, size_t count,
                          size_t s) {
    for (size_t q = 0; q < count; q++) d[q] = src[q * s];
}
static inline void scatter_add(float *restrict d, const float *restrict src, size_t count,
                               size_t s) {
    for (size_t q = 0; q < count; q++) d[q * s] += src[q];
}

/* d[q] = s[q] for q < cnt, inline: the unfold's runs are short (OW − 1 = 7 floats for
 * MinAtar), where a call into libc's memcpy costs more than the copy. Blocks of 8 floats
 * through fixed-size memcpy (compiled to vector moves), the last block overlapping the one
 * before it (the same values written twice). */
static inline void copy_floats(float *restrict d, const float *restrict s, size_t cnt) {
    if (cnt >= 8) {
        size_t q = 0;
        for (; q + 8 <= cnt; q += 8) memcpy(d + q, s + q, 8 * sizeof(float));
        if (q < cnt) memcpy(d + cnt - 8, s + cnt - 8, 8 * sizeof(float));
    } else if (cnt >= 4) {
        memcpy(d, s, 4 * sizeof(float));
        memcpy(d + cnt - 4, s + cnt - 4, 4 * sizeof(float));
    } else {
        if (cnt > 0) d[0] = s[0];
        if (cnt > 1) d[1] = s[1];
        if (cnt > 2) d[2] = s[2];
    }
}

/* The valid output window of tap (u, v): rows [hlo, hhi), columns [wlo, whi). */
typedef struct window {
    size_t hlo, hhi, wlo, whi;
} window;

static window tap_window(const dr3i_conv2d *c, size_t u, size_t v) {
    window w;
    valid_range(c->out_h, c->in_h, u, c->stride, c->pad, &w.hlo, &w.hhi);
    valid_range(c->out_w, c->in_w, v, c->stride, c->pad, &w.wlo, &w.whi);
    if (w.wlo == w.whi) w.hhi = w.hlo; /* every tap of this row falls into padding */
    return w;
}

/* One row block of the columns: dst[oh·OW + ow] = the input tap (u, v) reads for output
 * (oh, ow), 0 in the padding. Inside the window t the inputs are
 * first[(oh − hlo)·row_step + (ow − wlo)·col_step]; col_step 1 copies whole runs. */
static void unfold_tap(const dr3i_conv2d *c, window t, const float *first, size_t row_step,
                       size_t col_step, float *restrict dst) {
    const size_t OH = c->out_h, OW = c->out_w, cnt = t.whi - t.wlo;
    memset(dst, 0, t.hlo * OW * sizeof(float));
    for (size_t oh = t.hlo; oh < t.hhi; oh++, first += row_step) {
        float *d = dst + oh * OW;
        for (size_t q = 0; q < t.wlo; q++) d[q] = 0;
        if (col_step == 1)
            copy_floats(d + t.wlo, first, cnt);
        else if (col_step == 2)
            gather(d + t.wlo, first, cnt, 2);
        else if (col_step == 4)
            gather(d + t.wlo, first, cnt, 4);
        else
            gather(d + t.wlo, first, cnt, col_step);
        for (size_t q = t.whi; q < OW; q++) d[q] = 0;
    }
    memset(dst + t.hhi * OW, 0, (OH - t.hhi) * OW * sizeof(float));
}

/* The phase split of one plane: min(s, H) × min(s, W) phases (rows a ≡ ih mod s, columns
 * b ≡ iw mod s; a phase with a >= H or b >= W would be empty) of ⌈H/s⌉ × ⌈W/s⌉ each. */
typedef struct phases {
    size_t na, nb, rows, cols, sub; /* sub = rows·cols: floats per phase */
} phases;

static phases phase_shape(const dr3i_conv2d *c) {
    const size_t s = c->stride;
    phases f = {s < c->in_h ? s : c->in_h, s < c->in_w ? s : c->in_w, (c->in_h - 1) / s + 1,
                (c->in_w - 1) / s + 1, 0};
    f.sub = f.rows * f.cols;
    return f;
}

/* Floats of the plane scratch (<= (H + s)·(W + s); the init checks its size arithmetic). */
static size_t phase_floats(const dr3i_conv2d *c) {
    const phases f = phase_shape(c);
    return f.na * f.nb * f.sub;
}

/* Splits one H × W plane (float or uint8, scaled) into its phases:
 * ph[(a·nb + b)·sub + i·cols + k] = x[i·s + a][k·s + b], so that every tap of a stride-s
 * kernel reads consecutive elements of one phase (see unfold). */
static void split_phases(const dr3i_conv2d *c, const float *xf, const uint8_t *xb, float *ph) {
    const size_t H = c->in_h, W = c->in_w, s = c->stride;
    const phases f = phase_shape(c);
    for (size_t ih = 0; ih < H; ih++) {
        const size_t a = ih % s, i = ih / s;
        for (size_t b = 0; b < f.nb; b++) {
            float *d = ph + (a * f.nb + b) * f.sub + i * f.cols;
            const size_t cnt = (W - b - 1) / s + 1; /* columns b, b + s, ... < W */
            if (xf != NULL)
                gather(d, xf + ih * W + b, cnt, s);
            else
                for (size_t k = 0; k < cnt; k++) d[k] = u8_unit[xb[ih * W + b + k * s]];
        }
    }
}

/* Without padding, tap (u, v) reads what tap (u − s, v) read one output row further down,
 * and what tap (u, v − s) read one output column further right:
 *   cols(u, v)[oh][ow] = x[oh·s + u][ow·s + v] = cols(u − s, v)[oh + 1][ow]
 *                                              = cols(u, v − s)[oh][ow + 1],
 * so a tap with u >= s is one contiguous copy of (OH − 1)·OW floats of an earlier row of
 * cols (still in cache) plus its last output row from x, and a tap with v >= s copies runs
 * of OW − 1 plus one element from x per output row. Only the s × s taps with u, v < s read
 * x with stride s (for the Nature layers: 16 of 64 and 4 of 16 taps). @p dst is this
 * sample's block in the row of tap (u, v); rows of cols are @p ldc apart, taps of one
 * channel in (u, v) order. */
static void unfold_shifted(const dr3i_conv2d *c, size_t u, size_t v, const float *plane,
                           float *restrict dst, size_t ldc) {
    const size_t OH = c->out_h, OW = c->out_w, W = c->in_w, s = c->stride;
    if (u >= s) {
        const float *src = dst - s * c->kw * ldc; /* tap (u − s, v) */
        memcpy(dst, src + OW, (OH - 1) * OW * sizeof(float));
        gather(dst + (OH - 1) * OW, plane + ((OH - 1) * s + u) * W + v, OW, s);
        return;
    }
    const float *src = dst - s * ldc; /* tap (u, v − s) */
    const float *last = plane + u * W + (OW - 1) * s + v;
    for (size_t oh = 0; oh < OH; oh++) {
        copy_floats(dst + oh * OW, src + oh * OW + 1, OW - 1);
        dst[oh * OW + OW - 1] = last[oh * s * W];
    }
}

/* cols[r][j·P + q] for the g samples starting at x (r = (c, u, v), q = (oh, ow)); ldc = g·P.
 * Tap by tap, so each row of cols is written front to back in runs of OW. A float input is
 * read in place (runs with step s). A uint8 input is first scaled into @p scratch
 * (g·C·phase_floats floats), once rather than once per tap that reads it (kh·kw/s² times),
 * and split into its stride phases on the way: tap (u, v) with u − p = a + s·m,
 * v − p = b + s·e (0 <= a, b < s) reads phase (a, b) at row oh + m, columns ow + e, so its
 * runs are contiguous. (Measured: the split pays for uint8 inputs; for float inputs with
 * s > 1 the extra pass costs more than the contiguous runs save, docs/conv.md.) */
static void unfold(const dr3i_conv2d *c, size_t g, const dr3i_conv2d_src *x, size_t i0,
                   float *cols, size_t ldc, float *scratch) {
    const size_t W = c->in_w, HW = c->in_h * W, P = c->positions, s = c->stride, p = c->pad;
    const bool direct = x->f32 != NULL;
    const phases f = phase_shape(c);
    const size_t plane_floats = f.na * f.nb * f.sub;
    if (!direct)
        for (size_t j = 0; j < g; j++)
            for (size_t ch = 0; ch < c->in_c; ch++) {
                const size_t at = (i0 + j) * x->ld + ch * HW;
                split_phases(c, NULL, x->u8 + at, scratch + (j * c->in_c + ch) * plane_floats);
            }
    float *row = cols;
    for (size_t ch = 0; ch < c->in_c; ch++)
        for (size_t u = 0; u < c->kh; u++)
            for (size_t v = 0; v < c->kw; v++, row += ldc) {
                const window t = tap_window(c, u, v);
                if (t.hlo == t.hhi) {
                    memset(row, 0, g * P * sizeof(float));
                    continue;
                }
                /* the input of (hlo, wlo): row ih = hlo·s + u − p = (hlo + m)·s + a, column
                 * iw = wlo·s + v − p = (wlo + e)·s + b; both >= 0 inside the window */
                const size_t ih = t.hlo * s + u - p, iw = t.wlo * s + v - p;
                for (size_t j = 0; j < g; j++) {
                    if (direct && p == 0 && (u >= s || v >= s)) {
                        const float *plane = x->f32 + (i0 + j) * x->ld + ch * HW;
                        unfold_shifted(c, u, v, plane, row + j * P, ldc);
                    } else if (direct) {
                        const float *plane = x->f32 + (i0 + j) * x->ld + ch * HW;
                        unfold_tap(c, t, plane + ih * W + iw, s * W, s, row + j * P);
                    } else {
                        const float *ph = scratch + (j * c->in_c + ch) * plane_floats;
                        const size_t off =
                            ((ih % s) * f.nb + iw % s) * f.sub + (ih / s) * f.cols + iw / s;
                        unfold_tap(c, t, ph + off, f.cols, 1, row + j * P);
                    }
                }
            }
}

/* The adjoint of unfold: gx[j][c][h][w] += cols[r][j·P + q] over every (r, q) that read
 * (c, h, w). Padding positions are dropped. */
static void fold_add(const dr3i_conv2d *c, size_t g, const float *cols, size_t ldc, float *gx,
                     size_t ld) {
    const size_t W = c->in_w, OW = c->out_w, s = c->stride, p = c->pad, P = c->positions;
    const size_t HW = c->in_h * W;
    const float *row = cols;
    for (size_t ch = 0; ch < c->in_c; ch++)
        for (size_t u = 0; u < c->kh; u++)
            for (size_t v = 0; v < c->kw; v++, row += ldc) {
                const window t = tap_window(c, u, v);
                for (size_t j = 0; j < g; j++)
                    for (size_t oh = t.hlo; oh < t.hhi; oh++) {
                        float *d =
                            gx + j * ld + ch * HW + (oh * s + u - p) * W + t.wlo * s + v - p;
                        const float *sr = row + j * P + oh * OW + t.wlo;
                        const size_t cnt = t.whi - t.wlo;
                        if (s == 1)
                            scatter_add(d, sr, cnt, 1);
                        else if (s == 2)
                            scatter_add(d, sr, cnt, 2);
                        else if (s == 4)
                            scatter_add(d, sr, cnt, 4);
                        else
                            scatter_add(d, sr, cnt, s);
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
    if (ws == NULL || ws_floats < ws_fixed(c) + ws_per_sample(c))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: workspace of %zu floats is smaller than one sample's (%zu)", who,
                         ws == NULL ? 0 : ws_floats, ws_fixed(c) + ws_per_sample(c));
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

/* ---- how a call is split ----------------------------------------------------------------
 *
 * With threads > 1 (and room in the workspace) the batch is cut into S = threads slots of
 * consecutive samples, slot t taking [n·t/S, n·(t+1)/S); each slot runs the whole
 * single-threaded pipeline (unfold, GEMM on one thread, move or fold) over its samples in its
 * own equal share of the workspace, on libdr3's worker pool (dr3k_parallel_for). So the
 * unfold, the fold and the moves run in parallel too, not only the GEMMs, with one fork and
 * join per call. The parameter gradients are summed per slot and the slots' sums added in
 * slot order at the end: the cut and the order depend on n, threads and ws_floats only, so the
 * bits are the same for every run with the same thread count. With one slot (threads 1, one
 * sample, or a workspace too small for two slots) the groups run one after the other and
 * `threads` goes to the GEMMs instead. */
typedef struct plan {
    size_t slots;       /* S >= 1 */
    size_t slot_floats; /* each slot's share of the workspace */
    size_t group;       /* G: samples per GEMM within a slot */
} plan;

static plan make_plan(const dr3i_conv2d *c, int threads, size_t n, size_t ws_floats) {
    const size_t one = ws_fixed(c) + ws_per_sample(c);
    size_t s = threads > 1 ? (size_t)threads : 1;
    if (s > n) s = n;
    if (s > ws_floats / one) s = ws_floats / one;
    if (s < 1) s = 1;
    plan p = {s, ws_floats / s, 0};
    p.group = (p.slot_floats - ws_fixed(c)) / ws_per_sample(c);
    return p;
}

static size_t slot_begin(size_t n, size_t slots, size_t t) { return n * t / slots; }

/* The largest number of samples one slot handles. */
static size_t slot_max(size_t n, size_t slots) {
    size_t m = 0;
    for (size_t t = 0; t < slots; t++) {
        const size_t len = slot_begin(n, slots, t + 1) - slot_begin(n, slots, t);
        if (len > m) m = len;
    }
    return m;
}

bool dr3i_conv2d_cols_kept(const dr3i_conv2d *c, int threads, size_t n, size_t ws_floats) {
    if (c == NULL || c->positions == 0 || n == 0 || threads < 1 ||
        ws_floats < ws_fixed(c) + ws_per_sample(c))
        return false;
    const plan p = make_plan(c, threads, n, ws_floats);
    return slot_max(n, p.slots) <= p.group;
}

/* Samples per forward product for a group of g. A small layer (at most 2^17 multiply-adds a
 * sample: MinAtar's) runs its product in blocks of about 2^17 multiply-adds, the size where
 * libdr3's thin kernels beat BLIS's packing (bench/conv_layers, docs/conv.md: the 4-plane
 * MinAtar layer's forward over 64 rows 0.141 ms in one product, 0.101–0.102 in blocks of 2–4
 * samples); larger layers keep one product per group (Nature 3 per sample: 2.4 against
 * 1.4 ms). A function of the shape only. */
static size_t gemm_block(const dr3i_conv2d *c, size_t g) {
    const size_t per = c->out_c * c->patch * c->positions, budget = (size_t)1 << 17;
    if (per > budget) return g;
    const size_t b = budget / per;
    return b < g ? b : g;
}

/* Samples [lo, hi) of a forward, groups of G one after the other, in the workspace @p ws
 * (G samples' worth plus the fixed part); @p threads for the GEMMs. */
static void forward_range(const dr3i_conv2d *c, int threads, size_t lo, size_t hi,
                          const dr3i_conv2d_src *x, const float *weight, const float *bias,
                          float *out, size_t ld_out, bool relu, float *ws, size_t G) {
    const size_t K = c->out_c, P = c->positions, R = c->patch;
    for (size_t i0 = lo; i0 < hi; i0 += G) {
        const size_t g = hi - i0 < G ? hi - i0 : G, ldc = g * P;
        float *cols = ws, *y = ws + R * ldc;
        unfold(c, g, x, i0, cols, ldc, ws + (R + K) * P * G);
        if (g == 1) {
            /* one sample: the product lands in out directly, on top of the bias */
            float *o = out + i0 * ld_out;
            for (size_t k = 0; k < K; k++)
                for (size_t q = 0; q < P; q++) o[k * P + q] = bias[k];
            dr3k_sgemm(threads, false, false, K, P, R, 1.0f, weight, R, cols, ldc, 1.0f, o, P);
            if (relu) /* the sample's K·P outputs, just written: still in cache */
                for (size_t q = 0; q < K * P; q++) o[q] = o[q] > 0 ? o[q] : 0;
            continue;
        }
        /* Y[K × g·P] = W · cols, in blocks of gb samples for small layers (below), then each
         * sample's K × P block moves to NCHW with the bias */
        const size_t gb = gemm_block(c, g);
        for (size_t j0 = 0; j0 < g; j0 += gb) {
            const size_t cnt = (g - j0 < gb ? g - j0 : gb) * P;
            /* one thread (always, in a slot): libdr3's broadcast kernels read the columns in
             * place, where BLIS would first copy them into its packed panels; measured faster
             * on every Nature and MinAtar layer (docs/conv.md: Nature 1 3.54–3.64 → 3.06–3.19
             * ms a batch of 32). Where they cannot run (DR3_THIN_KERNELS=off), BLIS. */
            if (threads == 1 && dr3k_thin_sgemm(0, false, false, K, cnt, R, 1.0f, weight, R,
                                                cols + j0 * P, ldc, 0.0f, y + j0 * P, ldc))
                continue;
            dr3k_sgemm(threads, false, false, K, cnt, R, 1.0f, weight, R, cols + j0 * P, ldc,
                       0.0f, y + j0 * P, ldc);
        }
        for (size_t j = 0; j < g; j++) {
            float *o = out + (i0 + j) * ld_out;
            for (size_t k = 0; k < K; k++) {
                const float *src = y + k * ldc + j * P, bk = bias[k];
                float *d = o + k * P;
                if (relu)
                    for (size_t q = 0; q < P; q++) {
                        const float v = src[q] + bk;
                        d[q] = v > 0 ? v : 0;
                    }
                else
                    for (size_t q = 0; q < P; q++) d[q] = src[q] + bk;
            }
        }
    }
}

/* Everything a slot needs, shared by the slots of one call. */
typedef struct call {
    const dr3i_conv2d *c;
    plan p;
    size_t n;
    const dr3i_conv2d_src *x;
    const float *weight, *bias, *grad_out;
    float *out, *grad_x, *ws;
    size_t ld_out, ld_grad_out, ld_grad_x;
    bool relu, want_w, want_b, reuse, acc_dx;
} call;

static void forward_slot(void *ctx, int slot) {
    const call *a = ctx;
    const size_t t = (size_t)slot;
    forward_range(a->c, 1, slot_begin(a->n, a->p.slots, t), slot_begin(a->n, a->p.slots, t + 1),
                  a->x, a->weight, a->bias, a->out, a->ld_out, a->relu,
                  a->ws + t * a->p.slot_floats, a->p.group);
}

dr3_status dr3i_conv2d_forward(const dr3i_conv2d *c, int threads, size_t n,
                               const dr3i_conv2d_src *x, const float *weight, const float *bias,
                               float *out, size_t ld_out, unsigned flags, float *ws,
                               size_t ws_floats) {
    static const char who[] = "conv2d forward";
    dr3_status st = check_call(c, n, x, true, weight, ws, ws_floats, who);
    if (st == DR3_OK && bias == NULL)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: bias is NULL", who);
    if (st == DR3_OK) st = check_out(n, out, ld_out, c->out_size, "out", who);
    if (st == DR3_OK && threads < 1)
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    if (st == DR3_OK && (flags & ~(unsigned)DR3I_CONV2D_RELU))
        st = dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown flags 0x%x", who,
                       flags & ~(unsigned)DR3I_CONV2D_RELU);
    if (st != DR3_OK) return st;

    const bool relu = (flags & DR3I_CONV2D_RELU) != 0;
    const plan p = make_plan(c, threads, n, ws_floats);
    if (p.slots == 1) {
        forward_range(c, threads, 0, n, x, weight, bias, out, ld_out, relu, ws, p.group);
        return DR3_OK;
    }
    call a = {.c = c,
              .p = p,
              .n = n,
              .x = x,
              .weight = weight,
              .bias = bias,
              .out = out,
              .ld_out = ld_out,
              .relu = relu,
              .ws = ws};
    dr3k_parallel_for((int)p.slots, forward_slot, &a);
    return DR3_OK;
}

/* Σ x[q] in double with four independent partial sums (a fixed order, so the same bits
 * every call; one dependent chain of double additions was ~3.5% of a Nature-CNN step). */
static double sum_double(const float *x, size_t count) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t q = 0;
    for (; q + 4 <= count; q += 4) {
        a0 += x[q];
        a1 += x[q + 1];
        a2 += x[q + 2];
        a3 += x[q + 3];
    }
    for (; q < count; q++) a0 += x[q];
    return (a0 + a1) + (a2 + a3);
}

/* Samples [lo, hi) of a backward in groups of G, in the workspace @p ws (G samples' worth,
 * then dWᵀ [R × K], then the bias sums [K]): dWᵀ and the bias sums of these samples are
 * left in the workspace (when asked for), dL/dx is written to grad_x. */
static void backward_range(const call *a, int threads, size_t lo, size_t hi, float *ws,
                           size_t G) {
    const dr3i_conv2d *c = a->c;
    const size_t K = c->out_c, P = c->positions, R = c->patch;
    /* dWᵀ [R × K] accumulates over the groups in the workspace: as a product with R rows and
     * K columns BLIS runs it ~1.5× faster than dW [K × R] (measured, docs/conv.md) */
    float *const phase = ws + (R + K) * P * G, *const dwt = ws + G * ws_per_sample(c);
    float *const bsum = dwt + R * K;
    if (a->want_b) memset(bsum, 0, K * sizeof(float));
    for (size_t i0 = lo; i0 < hi; i0 += G) {
        const size_t g = hi - i0 < G ? hi - i0 : G, ldc = g * P;
        float *cols = ws, *dy = ws + R * ldc;
        /* dY[K × g·P] gathered from NCHW; db = its row sums (in double: up to n·P terms) */
        for (size_t k = 0; k < K; k++) {
            double sum = 0;
            for (size_t j = 0; j < g; j++) {
                const float *src = a->grad_out + (i0 + j) * a->ld_grad_out + k * P;
                memcpy(dy + k * ldc + j * P, src, P * sizeof(float));
                if (a->want_b) sum += sum_double(src, P);
            }
            if (a->want_b) bsum[k] += (float)sum;
        }
        if (a->want_w) {
            if (!a->reuse) unfold(c, g, a->x, i0, cols, ldc, phase);
            /* dWᵀ[R × K] (+)= cols · dYᵀ */
            dr3k_sgemm(threads, false, true, R, K, ldc, 1.0f, cols, ldc, dy, ldc,
                       i0 == lo ? 0.0f : 1.0f, dwt, K);
        }
        if (a->grad_x != NULL) {
            /* dcols[R × g·P] = Wᵀ · dY (over the columns, now free), folded onto dX */
            dr3k_sgemm(threads, true, false, R, ldc, K, 1.0f, a->weight, R, dy, ldc, 0.0f, cols,
                       ldc);
            float *gx = a->grad_x + i0 * a->ld_grad_x;
            if (!a->acc_dx)
                for (size_t j = 0; j < g; j++)
                    memset(gx + j * a->ld_grad_x, 0, c->in_size * sizeof(float));
            fold_add(c, g, cols, ldc, gx, a->ld_grad_x);
        }
    }
}

static void backward_slot(void *ctx, int slot) {
    const call *a = ctx;
    const size_t t = (size_t)slot;
    backward_range(a, 1, slot_begin(a->n, a->p.slots, t), slot_begin(a->n, a->p.slots, t + 1),
                   a->ws + t * a->p.slot_floats, a->p.group);
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
    if (st == DR3_OK && (flags & DR3I_CONV2D_REUSE_COLS) &&
        !dr3i_conv2d_cols_kept(c, threads, n, ws_floats))
        st = dr3i_fail(DR3_ERR_INVALID_ARG,
                       "%s: REUSE_COLS with n = %zu: the workspace does not keep every "
                       "column of this call",
                       who, n);
    if (st != DR3_OK) return st;

    const size_t K = c->out_c, R = c->patch;
    const plan p = make_plan(c, threads, n, ws_floats);
    call a = {.c = c,
              .p = p,
              .n = n,
              .x = x,
              .weight = weight,
              .grad_out = grad_out,
              .ld_grad_out = ld_grad_out,
              .grad_x = grad_x,
              .ld_grad_x = ld_grad_x,
              .ws = ws,
              .want_w = grad_w != NULL,
              .want_b = grad_b != NULL,
              .reuse = (flags & DR3I_CONV2D_REUSE_COLS) != 0,
              .acc_dx = (flags & DR3I_CONV2D_ACCUMULATE_DX) != 0};
    if (p.slots == 1)
        backward_range(&a, threads, 0, n, ws, p.group);
    else
        dr3k_parallel_for((int)p.slots, backward_slot, &a);
    /* the slots' sums, added in slot order */
    const bool add = (flags & DR3I_CONV2D_ACCUMULATE) != 0;
    const size_t dwt_at = p.group * ws_per_sample(c);
    if (grad_w != NULL)
        for (size_t k = 0; k < K; k++)
            for (size_t r = 0; r < R; r++) {
                float v = add ? grad_w[k * R + r] : 0.0f;
                for (size_t t = 0; t < p.slots; t++)
                    v += ws[t * p.slot_floats + dwt_at + r * K + k];
                grad_w[k * R + r] = v;
            }
    if (grad_b != NULL)
        for (size_t k = 0; k < K; k++) {
            float v = add ? grad_b[k] : 0.0f;
            for (size_t t = 0; t < p.slots; t++)
                v += ws[t * p.slot_floats + dwt_at + R * K + k];
            grad_b[k] = v;
        }
    return DR3_OK;
}
