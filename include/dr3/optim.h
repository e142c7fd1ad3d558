/**
 * @file dr3/optim.h
 * @brief First-order optimizers over one flat parameter vector, with PyTorch's semantics:
 *        Adam, AdamW, SGD (momentum, Nesterov) and RMSProp, plus global-norm clipping.
 *
 * The update formulas are exactly torch.optim's (docs/optim.md writes them out), so a
 * configuration tuned in PyTorch carries over. RMSProp note: PyTorch's RMSprop adds ε
 * outside the square root and starts the mean square at 0; TensorFlow's (used by the
 * original DQN code and Dopamine's RMSProp configurations) adds ε inside the root and
 * starts it at 1 in tf.compat.v1 — the same hyper-parameters do not mean the same thing.
 *
 * A step rejects non-finite gradients before changing parameters or state.
 * Threading: one thread at a time per optimizer. No allocation after creation.
 */
#ifndef DR3_OPTIM_H
#define DR3_OPTIM_H

#include <dr3/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque optimizer handle. */
typedef struct dr3_optim dr3_optim;

/** Optimizers. Values are fixed. */
typedef enum dr3_optim_kind {
    DR3_OPTIM_ADAM = 0,   /**< torch.optim.Adam (weight_decay is an L2 term on the gradient). */
    DR3_OPTIM_ADAMW = 1,  /**< torch.optim.AdamW (decoupled weight decay). */
    DR3_OPTIM_SGD = 2,    /**< torch.optim.SGD (momentum, dampening, Nesterov). */
    DR3_OPTIM_RMSPROP = 3 /**< torch.optim.RMSprop (alpha, centered, momentum). */
} dr3_optim_kind;

/** @brief A static name for a ::dr3_optim_kind value ("adam", "adamw", "sgd", "rmsprop"), or
 * NULL for an unknown value. Thread-safe. */
DR3_API const char *dr3_optim_kind_name(dr3_optim_kind value);

/** @brief Parses a name given by dr3_optim_kind_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_optim_kind_parse(dr3_optim_kind *out, const char *name);

/** Version of ::dr3_optim_options in this header (1: as released in 1.0). */
#define DR3_OPTIM_OPTIONS_VERSION 1

/** Configuration; unused fields are ignored by the other kinds. */
typedef struct dr3_optim_options {
    unsigned version;    /**< ::DR3_OPTIM_OPTIONS_VERSION; set by the _INIT macro or
                            dr3_optim_options_init(). */
    dr3_optim_kind kind; /**< Default Adam. */
    float lr;            /**< Learning rate (>= 0, as torch.optim; default 1e-3). */
    float beta1;         /**< Adam/AdamW first-moment decay (default 0.9). */
    float beta2;         /**< Adam/AdamW second-moment decay (default 0.999). */
    float eps;           /**< Adam/AdamW default 1e-8; RMSProp uses it too. */
    float weight_decay;  /**< λ >= 0 (default 0). */
    float momentum;      /**< SGD / RMSProp momentum (default 0). */
    float dampening;     /**< SGD dampening (default 0). */
    int nesterov;        /**< SGD Nesterov momentum (needs momentum > 0, dampening 0). */
    float alpha;         /**< RMSProp smoothing constant (default 0.99). */
    int centered;        /**< RMSProp centered variant. */
    float max_grad_norm; /**< Clip the global gradient norm to this (0: no clipping). */
    const dr3_allocator *allocator; /**< Memory hooks (NULL: C library). */
} dr3_optim_options;

/** Initializer for ::dr3_optim_options: PyTorch's Adam defaults. */
#define DR3_OPTIM_OPTIONS_INIT                                                                 \
    {                                                                                          \
        DR3_OPTIM_OPTIONS_VERSION, DR3_OPTIM_ADAM, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f,     \
            0.0f, 0, 0.99f, 0, 0.0f, NULL                                                      \
    }

/** @brief Fills @p s with the defaults of ::DR3_OPTIM_OPTIONS_INIT for struct version @p
 * version (pass ::DR3_OPTIM_OPTIONS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_optim_options_init(dr3_optim_options *s, unsigned version);

/**
 * @brief Creates an optimizer for @p param_count parameters (state zeroed, step 0).
 * Errors: ::DR3_ERR_INVALID_ARG (bad hyper-parameters: lr < 0, betas outside [0, 1),
 * eps <= 0, negative decay/momentum, Nesterov without momentum or with dampening, ...),
 * ::DR3_ERR_OVERFLOW, ::DR3_ERR_NOMEM. *out is NULL on error.
 */
DR3_API dr3_status dr3_optim_create(dr3_optim **out, size_t param_count,
                                    const dr3_optim_options *opts);

/** @brief Frees the optimizer. Accepts NULL. */
DR3_API void dr3_optim_free(dr3_optim *opt);

/**
 * @brief One update: clips @p grads in place to max_grad_norm (if set), then updates
 *        @p params and the state.
 * @param opt            the optimizer.
 * @param params         the parameter vector, updated in place.
 * @param grads          its gradient (clipped in place when max_grad_norm is set).
 * @param count          must equal the param_count given at creation.
 * @param grad_norm_out  if non-NULL, the global L2 norm of the gradient before clipping.
 * The step is all or nothing: it first computes the whole update without storing it, and
 * stores it only if every new parameter and state value is finite (no allocation: the
 * update is evaluated twice, see docs/optim.md for the cost). On x86 the update runs with
 * subnormal floats flushed to zero (results below 1.2e-38 become 0; they cost ~100 cycles
 * each) and the caller's MXCSR is restored before returning (docs/optim.md).
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_SHAPE (count), ::DR3_ERR_NONFINITE (a NaN/Inf
 * gradient, or an update that would make a parameter or state value NaN/Inf, e.g. an
 * overflowing learning rate: params, grads, state and step count are left exactly as they
 * were), ::DR3_ERR_RANGE (the step count has reached 2^53; nothing changed).
 */
DR3_API dr3_status dr3_optim_step(dr3_optim *opt, float *params, float *grads, size_t count,
                                  float *grad_norm_out);

/**
 * @brief Scales @p grads so their global L2 norm is at most @p max_norm
 *        (torch.nn.utils.clip_grad_norm_: factor max_norm / (norm + 1e-6) when below 1).
 * @param grads    the gradient vector, scaled in place.
 * @param n        its length.
 * @param max_norm the largest allowed norm (> 0).
 * @param norm_out if non-NULL, the norm before clipping. Errors: ::DR3_ERR_INVALID_ARG
 * (NULL with n > 0, max_norm <= 0 or not finite), ::DR3_ERR_NONFINITE (nothing scaled).
 */
DR3_API dr3_status dr3_clip_grad_norm(float *grads, size_t n, float max_norm, float *norm_out);

/** @brief Sets the learning rate (>= 0, finite) for the following steps. */
DR3_API dr3_status dr3_optim_set_lr(dr3_optim *opt, float lr);
/** @brief The current learning rate (0 for NULL). */
DR3_API float dr3_optim_get_lr(const dr3_optim *opt);
/** @brief Steps taken (used by Adam's bias correction). */
DR3_API uint64_t dr3_optim_step_count(const dr3_optim *opt);
/** @brief Zeroes the state and the step count. */
DR3_API dr3_status dr3_optim_reset(dr3_optim *opt);

/** @brief Number of state vectors (e.g. 2 for Adam: exp_avg, exp_avg_sq). */
DR3_API size_t dr3_optim_state_tensor_count(const dr3_optim *opt);
/** @brief The @p index-th state vector: its PyTorch name ("exp_avg", "exp_avg_sq",
 *  "momentum_buffer", "square_avg", "grad_avg"), data (borrowed, param_count floats). */
DR3_API dr3_status dr3_optim_state_tensor(dr3_optim *opt, size_t index, const char **name,
                                          float **data, size_t *len);
/** @brief Overrides the step count (when restoring state kept elsewhere).
 *  Errors: ::DR3_ERR_RANGE (@p steps above 2^53; the count is unchanged). */
DR3_API dr3_status dr3_optim_set_step_count(dr3_optim *opt, uint64_t steps);

/** @brief Bytes dr3_optim_state_save() writes. */
DR3_API dr3_status dr3_optim_state_size(const dr3_optim *opt, size_t *bytes);
/** @brief Serialises the state (versioned header, kind, step, vectors, CRC-32C) into @p buf
 *  of @p len bytes. Errors: ::DR3_ERR_INVALID_ARG (buffer too small). */
DR3_API dr3_status dr3_optim_state_save(const dr3_optim *opt, void *buf, size_t len);
/** @brief Restores a state written by dr3_optim_state_save() for the same kind and size.
 *  Errors: ::DR3_ERR_FORMAT (also for a valid checksum over impossible values: NaN/Inf in
 *  any vector, a negative second moment, a step count above 2^53), ::DR3_ERR_VERSION,
 *  ::DR3_ERR_SHAPE, ::DR3_ERR_CHECKSUM; the optimizer is unchanged on error. */
DR3_API dr3_status dr3_optim_state_load(dr3_optim *opt, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DR3_OPTIM_H */
