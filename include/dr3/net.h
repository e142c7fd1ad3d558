/**
 * @file dr3/net.h
 * @brief Multi-layer perceptron Q-networks and critics with access to their features φ.
 *
 * A ::dr3_net is a stack of fully connected layers. Hidden layers apply an activation; the
 * output layer is linear. The features φ are the output of the last hidden layer, after its
 * activation — what DR3 regularizes. Two heads:
 * - ::DR3_HEAD_DISCRETE_Q: input s (obs_dim floats), output Q(s, ·) (action_dim floats, one
 *   per action); φ = φ(s).
 * - ::DR3_HEAD_CRITIC: input [s, a] (obs_dim + action_dim floats), output Q(s, a) (1
 *   float); φ = φ(s, a).
 * With no hidden layers the network is linear and φ is its input.
 *
 * **Parameter layout (contract).** All parameters are one contiguous float vector, layer by
 * layer, each as PyTorch's torch.nn.Linear stores it: weight row-major [out × in], then bias
 * [out]. Gradients are a second vector with the same layout. A model trained in PyTorch can
 * be copied in, and ours out, with no reshuffling (see docs/net.md for the state_dict names).
 *
 * **Workspace.** Forward and backward never allocate: activations for up to max_batch rows
 * are sized at creation. The features pointer returned by dr3_net_forward() points into that
 * workspace and stays valid until the next forward, backward or free of the same network.
 *
 * **Non-finite inputs** are rejected with ::DR3_ERR_NONFINITE before any computation.
 *
 * Threading: one thread at a time per network; distinct networks are independent.
 */
#ifndef DR3_NET_H
#define DR3_NET_H

#include <dr3/common.h>
#include <dr3/optim.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque network handle. */
typedef struct dr3_net dr3_net;

/** Hidden-layer activations. Values are fixed. */
typedef enum dr3_activation {
    DR3_ACT_IDENTITY = 0, /**< f(x) = x. */
    DR3_ACT_RELU = 1,     /**< max(x, 0). */
    DR3_ACT_TANH = 2,     /**< tanh(x). */
    DR3_ACT_ELU = 3, /**< x if x > 0 else α(eˣ − 1); α = activation_param (default 1). */
    DR3_ACT_LEAKY_RELU = 4 /**< x if x > 0 else s·x; s = activation_param (default 0.01). */
} dr3_activation;

/** @brief A static name for a ::dr3_activation value ("identity", "relu", "tanh", "elu",
 * "leaky_relu"), or NULL for an unknown value. Thread-safe. */
DR3_API const char *dr3_activation_name(dr3_activation value);

/** @brief Parses a name given by dr3_activation_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_activation_parse(dr3_activation *out, const char *name);

/** Output heads. Values are fixed. */
typedef enum dr3_head_kind {
    DR3_HEAD_DISCRETE_Q = 0, /**< Q(s, ·) for action_dim discrete actions. */
    DR3_HEAD_CRITIC = 1      /**< Q(s, a) for a continuous action of action_dim floats. */
} dr3_head_kind;

/** @brief A static name for a ::dr3_head_kind value ("discrete_q", "critic"), or NULL for an
 *  unknown value. Thread-safe. */
DR3_API const char *dr3_head_kind_name(dr3_head_kind value);

/** @brief Parses a name given by dr3_head_kind_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_head_kind_parse(dr3_head_kind *out, const char *name);

/** Version of ::dr3_net_options in this header (1: as released in 1.0). */
#define DR3_NET_OPTIONS_VERSION 1

/** Configuration of a network; copied at creation. */
typedef struct dr3_net_options {
    unsigned version;          /**< ::DR3_NET_OPTIONS_VERSION; set by the _INIT macro or
                                  dr3_net_options_init(). */
    size_t obs_dim;            /**< Observation size (> 0). */
    size_t action_dim;         /**< Actions (discrete head) or action size (critic) (> 0). */
    size_t num_hidden;         /**< Number of hidden layers (0: linear). */
    const size_t *hidden;      /**< Widths of the hidden layers (copied; each > 0). */
    dr3_activation activation; /**< Hidden activation (default ReLU). */
    float activation_param;    /**< ELU α / leaky-ReLU slope; 0 means the default. */
    dr3_head_kind head;        /**< Output head (default discrete Q). */
    size_t max_batch;          /**< Most rows one forward/backward handles (> 0). */
    uint64_t seed;             /**< Seeds the initial weights. */
    int threads;               /**< Threads (>= 1; default 1; docs/threading.md). */
    const dr3_allocator *allocator; /**< Memory hooks (NULL: C library). */
} dr3_net_options;

/** Initializer for ::dr3_net_options. */
#define DR3_NET_OPTIONS_INIT                                                                   \
    {                                                                                          \
        DR3_NET_OPTIONS_VERSION, 0, 0, 0, NULL, DR3_ACT_RELU, 0.0f, DR3_HEAD_DISCRETE_Q, 0, 0, \
            1, NULL                                                                            \
    }

/** @brief Fills @p s with the defaults of ::DR3_NET_OPTIONS_INIT for struct version @p version
 *  (pass ::DR3_NET_OPTIONS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_net_options_init(dr3_net_options *s, unsigned version);

/** Flags for dr3_net_backward(). */
enum {
    /** Add this backward's parameter gradients to the gradient vector instead of
     *  overwriting it. */
    DR3_NET_ACCUMULATE = 1u << 0
};

/**
 * @brief Creates a network, initialised as torch.nn.Linear's default would be (weights and
 *        biases uniform in ±1/√fan_in) from opts->seed: the same seed gives the same weights.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL, zero sizes, bad enum, threads < 1),
 * ::DR3_ERR_OVERFLOW (sizes), ::DR3_ERR_NOMEM. *out is NULL on error.
 */
DR3_API dr3_status dr3_net_create(dr3_net **out, const dr3_net_options *opts);

/** @brief A new network with the same architecture, options and parameters as @p src
 *  (its own workspace; gradients zero). Errors as dr3_net_create(). */
DR3_API dr3_status dr3_net_clone(dr3_net **out, const dr3_net *src);

/** @brief Frees the network. Accepts NULL. */
DR3_API void dr3_net_free(dr3_net *net);

/** @brief Re-initialises the parameters from @p seed (as at creation); zeroes gradients. */
DR3_API dr3_status dr3_net_reset_params(dr3_net *net, uint64_t seed);

/** @brief Number of parameters (floats in dr3_net_params()). 0 for NULL. */
DR3_API size_t dr3_net_param_count(const dr3_net *net);
/** @brief The parameter vector (borrowed; writable; lives as long as the network). */
DR3_API float *dr3_net_params(dr3_net *net);
/** @brief The gradient vector, same layout (borrowed; filled by dr3_net_backward()). */
DR3_API float *dr3_net_grads(dr3_net *net);
/** @brief Observation size. */
DR3_API size_t dr3_net_obs_dim(const dr3_net *net);
/** @brief action_dim as given at creation. */
DR3_API size_t dr3_net_action_dim(const dr3_net *net);
/** @brief Floats per output row: action_dim (discrete head) or 1 (critic). */
DR3_API size_t dr3_net_output_dim(const dr3_net *net);
/** @brief Width of φ: the last hidden layer's width, or the input width with no hidden layer.
 */
DR3_API size_t dr3_net_feature_dim(const dr3_net *net);
/** @brief max_batch given at creation. */
DR3_API size_t dr3_net_max_batch(const dr3_net *net);
/** @brief Number of linear layers (hidden layers + 1). */
DR3_API size_t dr3_net_num_layers(const dr3_net *net);
/** @brief Copies the options the network was created with (hidden points into the
 *  network; allocator NULL) into @p out (the fields of its version). */
DR3_API dr3_status dr3_net_get_options(dr3_net_options *out, const dr3_net *net);
/** @brief Sets the thread count (>= 1) for the following calls. A network with convolution
 *  layers re-plans its per-thread workspace slots and may grow the workspace here (never in
 *  a forward or backward). Errors: ::DR3_ERR_INVALID_ARG (NULL, threads < 1),
 *  ::DR3_ERR_OVERFLOW or ::DR3_ERR_NOMEM (the larger workspace; the network keeps its old
 *  count and workspace). Not thread-safe with other calls on the same network. */
DR3_API dr3_status dr3_net_set_threads(dr3_net *net, int threads);

/**
 * @brief Forward pass on n rows (1 <= n <= max_batch).
 *
 * @param net      the network.
 * @param n        rows.
 * @param ld_obs   row stride of @p obs (>= obs_dim).
 * @param ld_action row stride of @p action (critic only).
 * @param ld_out   row stride of @p out (>= output_dim).
 * @param obs      n × obs_dim observations, row stride @p ld_obs.
 * @param action   critic only: n × action_dim actions (row stride @p ld_action); NULL for
 *                 the discrete head.
 * @param out      n × output_dim outputs (row stride @p ld_out), or NULL.
 * @param features if non-NULL, receives a pointer to φ: n × feature_dim floats with row
 *                 stride feature_dim, inside the network's workspace (valid until the next
 *                 forward/backward/free of this network).
 * The pass is cached for dr3_net_backward(). Errors: ::DR3_ERR_INVALID_ARG,
 * ::DR3_ERR_NONFINITE.
 */
DR3_API dr3_status dr3_net_forward(dr3_net *net, size_t n, const float *obs, size_t ld_obs,
                                   const float *action, size_t ld_action, float *out,
                                   size_t ld_out, const float **features);

/**
 * @brief Backward pass through the last forward (same n).
 *
 * @param net           the network.
 * @param n             rows: must equal the last forward's.
 * @param ld_grad_out   row stride of @p grad_out.
 * @param ld_grad_features row stride of @p grad_features.
 * @param ld_grad_input row stride of @p grad_input.
 * @param grad_out      dL/d(output), n × output_dim (row stride @p ld_grad_out), or NULL
 *                      (no loss on the outputs).
 * @param grad_features extra dL/dφ injected at the feature layer, n × feature_dim (row
 *                      stride @p ld_grad_features), or NULL. This is how a DR3 gradient
 *                      enters.
 * @param grad_input    if non-NULL, receives dL/d(input): n × input width (obs_dim, plus
 *                      action_dim for a critic) with row stride @p ld_grad_input.
 * @param flags         0 overwrites the gradient vector; ::DR3_NET_ACCUMULATE adds to it.
 * Errors: ::DR3_ERR_STATE (no forward, or n differs from it), ::DR3_ERR_INVALID_ARG,
 * ::DR3_ERR_NONFINITE (a non-finite incoming gradient; nothing is written).
 */
DR3_API dr3_status dr3_net_backward(dr3_net *net, size_t n, const float *grad_out,
                                    size_t ld_grad_out, const float *grad_features,
                                    size_t ld_grad_features, float *grad_input,
                                    size_t ld_grad_input, unsigned flags);

/** @brief dst's parameters ← src's. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_SHAPE. */
DR3_API dr3_status dr3_net_copy_params(dr3_net *dst, const dr3_net *src);

/** @brief dst ← (1 − τ)·dst + τ·src (Polyak averaging, τ in [0, 1]).
 *  Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_SHAPE. */
DR3_API dr3_status dr3_net_polyak(dr3_net *dst, const dr3_net *src, float tau);

/** @brief 1 if the two networks have the same architecture (layer sizes, head), else 0. */
DR3_API int dr3_net_same_shape(const dr3_net *a, const dr3_net *b);

/**
 * @brief Saves the weights as a safetensors file, atomically (temporary file, fsync,
 *        rename).
 *
 * Tensors are named as the state_dict of a PyTorch module whose attribute `layers` is an
 * nn.Sequential of Linear and activation modules: `layers.0.weight` [out × in],
 * `layers.0.bias` [out], `layers.2.weight`, … (Linear modules at even indices, the
 * activations between them), dtype F32. `__metadata__` records the architecture
 * (docs/formats.md). Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_IO, ::DR3_ERR_NOMEM.
 */
DR3_API dr3_status dr3_net_save(const dr3_net *net, const char *path);

/**
 * @brief Loads weights from a safetensors file into @p net, whose architecture must match
 *        the file's tensors (names and shapes as dr3_net_save() writes them; a file written
 *        by PyTorch with that naming loads too, with or without libdr3's metadata).
 * Every header field, offset and size is validated first; on any error (::DR3_ERR_IO,
 * ::DR3_ERR_FORMAT, ::DR3_ERR_SHAPE, ::DR3_ERR_NONFINITE) the network is unchanged.
 */
DR3_API dr3_status dr3_net_load(dr3_net *net, const char *path);

/**
 * @brief Creates a network from a file written by dr3_net_save(): the architecture comes
 *        from `__metadata__`. @p runtime_opts, if not NULL, supplies max_batch, seed,
 *        threads and allocator (the architecture fields are ignored); NULL means
 *        max_batch 1 and one thread. Errors as dr3_net_load() and dr3_net_create();
 *        *out is NULL on error.
 */
DR3_API dr3_status dr3_net_open(dr3_net **out, const char *path,
                                const dr3_net_options *runtime_opts);

/**
 * @brief dr3_net_save() plus the optimizer's state, so a custom training loop can stop and
 *        resume: the state (dr3_optim_state_save()'s bytes) is stored as the U8 tensor
 *        `optim.state`. PyTorch users loading the weights should drop keys starting with
 *        `optim.` before load_state_dict. Errors as dr3_net_save().
 */
DR3_API dr3_status dr3_net_save_with_optim(const dr3_net *net, const dr3_optim *optim,
                                           const char *path);

/**
 * @brief Restores what dr3_net_save_with_optim() wrote into @p net and @p optim (same
 *        architecture, same optimizer kind and size). Everything is validated first; on
 *        error both are unchanged. Errors as dr3_net_load(), plus those of
 *        dr3_optim_state_load() and ::DR3_ERR_FORMAT when the file has no optimizer state.
 */
DR3_API dr3_status dr3_net_load_with_optim(dr3_net *net, dr3_optim *optim, const char *path);

#ifdef DR3_EXPERIMENTAL
/* ---- networks from a layer list (experimental: issue #11; may change in any release) ---- */

/** Kinds of layers in a ::dr3_net_desc. Values are fixed. */
typedef enum dr3_layer_kind {
    DR3_LAYER_LINEAR = 0, /**< torch.nn.Linear: `units` outputs. */
    DR3_LAYER_CONV2D = 1 /**< torch.nn.Conv2d on C×H×W: `units` filters of kernel_h×kernel_w,
                              the same stride both ways, zero padding on every side. */
} dr3_layer_kind;

/** Version of ::dr3_layer in this header. */
#define DR3_LAYER_VERSION 1

/** @brief One hidden layer of a ::dr3_net_desc (followed by the description's activation).
 *  Experimental. */
typedef struct dr3_layer {
    unsigned version;    /**< ::DR3_LAYER_VERSION; set by ::DR3_LAYER_INIT. */
    dr3_layer_kind kind; /**< Linear or 2-D convolution. */
    size_t units;        /**< Linear: output features; conv: filters (output channels). */
    size_t kernel_h;     /**< Conv: kernel height. */
    size_t kernel_w;     /**< Conv: kernel width. */
    size_t stride;       /**< Conv: stride (>= 1, both directions). */
    size_t padding;      /**< Conv: zero padding on each side. */
} dr3_layer;

/** Initializer for ::dr3_layer: a linear layer (set units). */
#define DR3_LAYER_INIT                                                                         \
    { DR3_LAYER_VERSION, DR3_LAYER_LINEAR, 0, 0, 0, 1, 0 }

/** @brief Fills @p s with ::DR3_LAYER_INIT for struct version @p version. Experimental.
 *  Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_layer_init(dr3_layer *s, unsigned version);

/** Version of ::dr3_net_desc in this header. */
#define DR3_NET_DESC_VERSION 1

/**
 * @brief A network as a list of layers (experimental): convolutions on a C×H×W input
 *        (NCHW, as PyTorch), then fully connected layers, then the output head. The flatten
 *        between the last convolution and the first linear layer is implicit (PyTorch's
 *        nn.Flatten order, C·H·W). Every hidden layer is followed by `activation`; φ is the
 *        last hidden layer's output (after it), as for MLPs. Input rows hold C·H·W floats.
 */
typedef struct dr3_net_desc {
    unsigned version;   /**< ::DR3_NET_DESC_VERSION; set by ::DR3_NET_DESC_INIT. */
    size_t in_channels; /**< C (for an MLP: the observation size, with H = W = 1). */
    size_t in_height;   /**< H. */
    size_t in_width;    /**< W. */
    size_t num_layers;  /**< Hidden layers (convolutions first, then linear). */
    const dr3_layer *const *layers; /**< num_layers pointers (each read through its version,
                                         copied at creation). */
    dr3_activation activation;      /**< After every hidden layer (default ReLU). */
    float activation_param;         /**< ELU α / leaky slope; 0 means the default. */
    size_t action_dim;              /**< Q-values per state and head (> 0). */
    size_t num_heads; /**< K >= 1 output heads on the shared φ (REM, ensembles): the output
                           row is K × action_dim, head-major; the last Linear has
                           K·action_dim outputs (default 1). */
} dr3_net_desc;

/** Initializer for ::dr3_net_desc (set the input shape, layers and action_dim). */
#define DR3_NET_DESC_INIT                                                                      \
    { DR3_NET_DESC_VERSION, 0, 0, 0, 0, NULL, DR3_ACT_RELU, 0.0f, 0, 1 }

/** @brief Fills @p s with ::DR3_NET_DESC_INIT for struct version @p version. Experimental.
 *  Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_net_desc_init(dr3_net_desc *s, unsigned version);

/**
 * @brief Fills @p out with a named architecture for @p in_channels input planes and
 *        @p action_dim actions. Its layer pointers are static (borrowed, never freed).
 *        - "nature": Mnih et al. 2015 on 84×84 — conv 32 8×8/4, conv 64 4×4/2, conv 64
 *          3×3/1, linear 512 (φ is the 512-wide output);
 *        - "minatar": Young & Tian 2019 on 10×10 — conv 16 3×3/1, linear 128.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL, zero sizes, unknown name). Thread-safe.
 */
DR3_API dr3_status dr3_net_desc_preset(dr3_net_desc *out, const char *name, size_t in_channels,
                                       size_t action_dim);

/**
 * @brief Creates a network from a layer list, initialised as PyTorch's defaults (weights and
 *        biases uniform in ±1/√fan_in, fan_in = C·kh·kw for a convolution) from
 *        runtime->seed. @p runtime supplies max_batch, seed, threads and allocator (its
 *        architecture fields are ignored; obs_dim becomes C·H·W). Parameters are laid out as
 *        the equivalent torch.nn.Sequential's state_dict: each layer's weight
 *        (Conv2d [K, C, kh, kw] / Linear [out, in]) then bias. Saving such a network to a
 *        file is not supported yet (dr3_net_save refuses it).
 * Errors: ::DR3_ERR_INVALID_ARG (bad sizes, a convolution after a linear layer, a kernel
 * larger than its padded input), ::DR3_ERR_VERSION, ::DR3_ERR_OVERFLOW, ::DR3_ERR_NOMEM.
 * *out is NULL on error.
 */
DR3_API dr3_status dr3_net_create_desc(dr3_net **out, const dr3_net_desc *desc,
                                       const dr3_net_options *runtime);

/**
 * @brief dr3_net_forward() on uint8 input rows (pixels), scaled by 1/255 once, into the
 *        network's own input buffer (the caller's frames are never copied to floats
 *        elsewhere). Discrete-head networks only. Errors as dr3_net_forward().
 */
DR3_API dr3_status dr3_net_forward_u8(dr3_net *net, size_t n, const uint8_t *obs, size_t ld_obs,
                                      float *out, size_t ld_out, const float **features);
#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_NET_H */
