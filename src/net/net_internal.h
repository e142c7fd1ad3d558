/* The network's private layout, shared by the MLP code and its file format. */
#ifndef DR3_SRC_NET_INTERNAL_H
#define DR3_SRC_NET_INTERNAL_H

#ifndef DR3_EXPERIMENTAL
#define DR3_EXPERIMENTAL 1 /* the net module implements the layer-list API */
#endif
#include <dr3/net.h>

#include "../core/internal.h"
#include "conv2d.h"

typedef struct dr3i_layer {
    size_t in, out;      /* floats per row in and out (a convolution's C·H·W, K·OH·OW) */
    size_t w_off, b_off; /* offsets into params / grads */
    size_t w_count;      /* weights: out × in (linear) or K·C·kh·kw (convolution) */
    size_t fan_in;       /* in (linear) or C·kh·kw: PyTorch's init bound is 1/√fan_in */
    bool conv;           /* a 2-D convolution (geometry in cv) */
    dr3i_conv2d cv;
    float *act; /* max_batch × out: the layer's output (after the activation) */
} dr3i_layer;

struct dr3_net {
    dr3i_alloc alloc;
    dr3_net_options opts; /* hidden points to this->hidden; allocator NULL */
    size_t *hidden;
    size_t num_layers, in_width, out_width, param_count;
    dr3i_layer *layers;
    float *params, *grads;
    float *acts;     /* storage of every layer's act */
    float *input;    /* max_batch × in_width copy of the last forward's input */
    const float *x0; /* the last forward's input rows: input, or a trusted caller's rows */
    float *delta[2]; /* max_batch × widest layer: backward ping-pong buffers */
    float *ones;     /* max_batch ones: bias gradients as a product with this vector */
    size_t cached_n;
    bool have_forward;
    /* networks from a layer list (dr3_net_create_desc) */
    bool from_desc;
    size_t heads; /* output heads (1 for MLPs): the output row is heads × action_dim */
    size_t in_c, in_h, in_w;
    float *conv_ws; /* convolution workspace shared by the conv layers */
    size_t conv_ws_len;
    size_t conv_slot_floats; /* one slot per thread of this many floats (docs/conv.md) */
    bool cols_kept; /* the workspace holds the first layer's columns of the last forward */
};

/* dr3_net_copy_params / dr3_net_polyak without the checks, for callers that established
 * them once (same shape, τ in [0, 1]): they cannot fail. */
void dr3i_net_copy_params_trusted(dr3_net *dst, const dr3_net *src);
/* dr3_net_forward without its checks and without copying the input: for a caller (the
 * learner) that has checked x (n <= max_batch rows of in_width finite floats, contiguous)
 * and keeps it unchanged until the matching backward, which reads it in place. */
void dr3i_net_forward_trusted(dr3_net *net, size_t n, const float *x, float *out, size_t ld_out,
                              const float **features);
/* The outputs of the last forward pass: its n rows of dr3_net_output_dim floats, contiguous
 * (valid until the next forward). */
const float *dr3i_net_last_output(const dr3_net *net);
/* dr3_net_backward without its checks over the first n rows of the last forward pass
 * (n <= the rows of that pass: a caller that ran one pass over [s; s'] and needs the
 * gradient of the s rows only; the rows are contiguous per layer, so the first n rows of
 * every activation are a pass of their own). Overwrites the grads; no input or feature
 * gradient. */
void dr3i_net_backward_rows(dr3_net *net, size_t n, const float *grad_out, size_t ld_grad_out);
/* The backward pass without checks over rows [r0, r0 + n) of the last forward pass, for a
 * network of linear layers only (r0 > 0 is not supported with convolutions): grad_out,
 * grad_features and grad_input hold those n rows (row i for pass row r0 + i). With params,
 * the weight and bias gradients of those rows are formed (overwritten, or added with
 * DR3_NET_ACCUMULATE in flags); without, the grads keep their values and only grad_input is
 * formed. A caller (the actor-critic learner) runs one forward over [s, ã; s, a; s′, a′]
 * and takes the critic's parameter gradient from the last rows and the actor's input
 * gradient from the first, each in a pass of its own. */
void dr3i_net_backward_range(dr3_net *net, size_t r0, size_t n, const float *grad_out,
                             size_t ld_grad_out, const float *grad_features,
                             size_t ld_grad_features, float *grad_input, size_t ld_grad_input,
                             unsigned flags, bool params);
void dr3i_net_polyak_trusted(dr3_net *dst, const dr3_net *src, float tau);
/* Architecture records of layer-list networks (learner checkpoints, docs/formats.md): the
 * input C, H, W, the number of output heads K, then per hidden layer {kind, units, kernel_h,
 * kernel_w, stride, padding}. */
enum { DR3I_ARCH_HEAD_WORDS = 4, DR3I_ARCH_LAYER_WORDS = 6 };
/* Writes @p net's record into words (room for @p cap); returns its length, or 0 when the
 * net is not a layer-list network or cap is too small. */
size_t dr3i_net_arch_words(const dr3_net *net, uint64_t *words, size_t cap);
/* Reads a record (from a file: every value checked) into a description whose layers live
 * in the caller's @p layers / @p layer_ptrs (room for @p cap), and counts the parameters of
 * that network with @p action_dim outputs. DR3_ERR_FORMAT for anything implausible. */
dr3_status dr3i_arch_from_words(const uint64_t *words, size_t nwords, uint64_t action_dim,
                                dr3_net_desc *desc, dr3_layer *layers,
                                const dr3_layer **layer_ptrs, size_t cap, size_t *params,
                                const char *who);
/* The descriptor of dr3_net_options (mlp.c), for readers of runtime options. */
extern const dr3i_struct_desc dr3i_desc_dr3_net_options;

#endif
