/* 2-D convolution kernels with torch.nn.Conv2d semantics (internal to the net module).
 *
 * One layer: input NCHW (n × C × H × W), weight [K, C, kh, kw] (Conv2d.weight, contiguous),
 * bias [K], zero padding p on all four sides, the same stride s in both directions, output
 * NCHW n × K × OH × OW with OH = (H + 2p − kh)/s + 1 and OW = (W + 2p − kw)/s + 1 (integer
 * division, as PyTorch). No activation: the caller composes it.
 *
 * Scheme (docs/conv.md): the input is unfolded into a column matrix cols[C·kh·kw × g·OH·OW]
 * for a group of g samples (the batch as extra columns), so that one dr3k_sgemm computes the
 * whole group: Y = W · cols. Backward: dWᵀ = cols · dYᵀ, dcols = Wᵀ · dY, then dcols is
 * folded back onto dX, adding where windows overlap. uint8 inputs are scaled by 1/255 while
 * they are unfolded, so a frame batch is never converted to a float copy first.
 *
 * Memory: every scratch float comes from the caller's workspace (dr3i_conv2d_workspace);
 * forward and backward never allocate. A workspace sized for g samples lets a call take any
 * n: the batch is processed g samples per GEMM.
 *
 * Threading: the functions keep no state; calls on distinct workspaces and outputs may run
 * concurrently. With threads > 1 a call cuts the batch into `threads` slots of consecutive
 * samples, each with an equal share of the workspace, and runs each slot's whole pipeline
 * (unfold, single-threaded GEMMs, moves, fold) on libdr3's worker pool; the slots' parameter
 * gradients are added in slot order, so results depend on n, threads and the workspace size
 * only (bitwise the same from run to run). Where there is room for one slot only (one sample,
 * or a workspace smaller than two samples' worth), `threads` goes to the GEMMs instead. */
#ifndef DR3_SRC_NET_CONV2D_H
#define DR3_SRC_NET_CONV2D_H

#include "../core/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One convolution layer. The caller sets the eight shape fields (a designated initialiser
 * reads well) and calls dr3i_conv2d_init, which checks them and fills the derived ones. */
typedef struct dr3i_conv2d {
    size_t in_c, in_h, in_w; /* C, H, W */
    size_t out_c;            /* K: filters */
    size_t kh, kw;           /* kernel height, width */
    size_t stride, pad;      /* s >= 1 both ways; p zeros on every side */
    /* derived by dr3i_conv2d_init */
    size_t out_h, out_w; /* OH, OW */
    size_t in_size;      /* C·H·W: floats (or bytes) of one input sample */
    size_t out_size;     /* K·OH·OW: floats of one output sample */
    size_t patch;        /* C·kh·kw: one row of the weight matrix */
    size_t positions;    /* OH·OW */
    size_t weight_count; /* K·C·kh·kw; parameters = weight_count + K (bias) */
} dr3i_conv2d;

/* The input of a call: exactly one of f32 / u8 is non-NULL. Sample i starts at element
 * i·ld (ld >= C·H·W); within a sample the layout is C × H × W, contiguous. A u8 value v
 * enters the convolution as (float)v / 255.0f (correctly rounded, as torch's
 * `x.float() / 255`). */
typedef struct dr3i_conv2d_src {
    const float *f32;
    const uint8_t *u8;
    size_t ld;
} dr3i_conv2d_src;

/* Flags of dr3i_conv2d_backward. */
enum {
    /* add dW and db into grad_w / grad_b instead of overwriting them */
    DR3I_CONV2D_ACCUMULATE = 1u << 0,
    /* add dL/dX into grad_x instead of overwriting it */
    DR3I_CONV2D_ACCUMULATE_DX = 1u << 1,
    /* the workspace still holds the columns the last forward unfolded from this same input,
     * n, threads and ws_floats (nothing else used it since, and every slot's samples fitted
     * in one group: dr3i_conv2d_cols_kept): skip unfolding again. A backward that computes
     * dL/dx overwrites them (they hold dcols afterwards). */
    DR3I_CONV2D_REUSE_COLS = 1u << 2,
    /* forward only: out = max(conv(x) + bias, 0) (ReLU as `v > 0 ? v : 0`, the network's),
     * applied in the pass that adds the bias instead of a separate pass over the output */
    DR3I_CONV2D_RELU = 1u << 3,
};

/* Checks the shape fields of @p c and fills the derived ones. Fails with DR3_ERR_INVALID_ARG
 * when a size or the stride is 0 or the output would be smaller than 1×1 (H + 2p < kh or
 * W + 2p < kw), DR3_ERR_OVERFLOW when a size product does not fit; the message starts with
 * @p who. On failure the derived fields are zero. */
dr3_status dr3i_conv2d_init(dr3i_conv2d *c, const char *who);

/* Floats of workspace that lets forward and backward handle @p group samples per GEMM
 * (group >= 1): ((C·kh·kw + K)·OH·OW + C·F)·group + K·C·kh·kw + K, where
 * F = min(s, H)·min(s, W)·⌈H/s⌉·⌈W/s⌉ (= H·W for stride 1; the planes of a uint8 input
 * split by stride phase). Size it once at creation with group = the maximum batch for one
 * GEMM per call, or smaller to bound memory (docs/conv.md has measurements); with T threads,
 * T times this gives each slot that group. DR3_ERR_OVERFLOW
 * when it does not fit in size_t; DR3_ERR_INVALID_ARG for group 0 or an uninitialised @p c. */
dr3_status dr3i_conv2d_workspace(const dr3i_conv2d *c, size_t group, size_t *floats);

/* A group size for dr3i_conv2d_workspace: the largest g <= max_n (at least 1) whose column
 * matrix (C·kh·kw × g·OH·OW floats) fits in 2 MiB, about one core's L2. Measured on the
 * Nature and MinAtar layers at batch 32 (docs/conv.md): within ~7% of the best group for
 * each, where one GEMM per batch costs up to 12% more on the first Nature layer (its columns,
 * 13 MB, no longer stay in cache). 0 for an uninitialised @p c or max_n 0. */
size_t dr3i_conv2d_suggest_group(const dr3i_conv2d *c, size_t max_n);

/* Whether a forward of @p n samples with @p threads and @p ws_floats leaves all its columns in
 * the workspace (each slot's samples fit in one group), so that a backward with the same
 * arguments may pass DR3I_CONV2D_REUSE_COLS. False for bad arguments. */
bool dr3i_conv2d_cols_kept(const dr3i_conv2d *c, int threads, size_t n, size_t ws_floats);

/* out[i] = conv(x[i], weight) + bias for i < n. out's sample i starts at out + i·ld_out
 * (ld_out >= K·OH·OW). @p flags: 0, or DR3I_CONV2D_RELU to apply ReLU in the pass that adds
 * the bias (the one pass that touches every output anyway). @p ws holds @p
 * ws_floats floats (at least the workspace for a group of one; the group is the largest one
 * ws_floats has room for). Returns DR3_ERR_INVALID_ARG on a NULL pointer, n == 0, both or
 * neither input pointer, a stride or workspace too small, threads < 1, nonzero flags, and
 * DR3_ERR_OVERFLOW when n samples at a stride overflow; nothing is written then (the
 * values themselves are not checked for NaN: the caller's layer above does that once).
 * Never allocates. */
dr3_status dr3i_conv2d_forward(const dr3i_conv2d *c, int threads, size_t n,
                               const dr3i_conv2d_src *x, const float *weight, const float *bias,
                               float *out, size_t ld_out, unsigned flags, float *ws,
                               size_t ws_floats);

/* Given dL/dout (sample i at grad_out + i·ld_grad_out) and the forward's input x:
 * grad_w [K, C, kh, kw] = dL/dweight and grad_b [K] = dL/dbias (overwritten, or added to with
 * DR3I_CONV2D_ACCUMULATE; either may be NULL to skip it), and, when grad_x is non-NULL,
 * dL/dx (sample i at grad_x + i·ld_grad_x, ld_grad_x >= C·H·W; overwritten, or added to
 * with DR3I_CONV2D_ACCUMULATE_DX). dL/dx needs only the weight, not x; but it is available
 * for float inputs only (a uint8 input is data, not a parameter). x may be NULL when
 * grad_w is NULL. Errors as forward (nothing written), also for unknown flags and
 * REUSE_COLS when dr3i_conv2d_cols_kept is false; never allocates. */
dr3_status dr3i_conv2d_backward(const dr3i_conv2d *c, int threads, size_t n,
                                const dr3i_conv2d_src *x, const float *weight,
                                const float *grad_out, size_t ld_grad_out, float *grad_w,
                                float *grad_b, float *grad_x, size_t ld_grad_x, unsigned flags,
                                float *ws, size_t ws_floats);

#endif
