/**
 * @file dr3/bc.h
 * @brief Behaviour cloning: a softmax policy over discrete actions, trained by
 *        cross-entropy on the (s, a) pairs of a dataset.
 *
 * The DR3 paper's TD-under-π_β experiments need the behaviour policy π_β of a dataset; when
 * it is unknown, it is estimated by behaviour cloning. A ::dr3_bc handle is an MLP whose
 * outputs are logits, π(a|s) = softmax(logits(s))_a. Pass dr3_bc_policy() with the handle as
 * payload to an EXPECTED or SAMPLED backup (dr3/backup.h).
 *
 * Threading: one thread at a time per handle (the policy callback uses the handle).
 */
#ifndef DR3_BC_H
#define DR3_BC_H

#include <dr3/common.h>
#include <dr3/net.h>
#include <dr3/optim.h>
#include <dr3/replay.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque behaviour-cloning handle. */
typedef struct dr3_bc dr3_bc;

/** Version of ::dr3_bc_options in this header (1: as released in 1.0). */
#define DR3_BC_OPTIONS_VERSION 1

/** Configuration of a behaviour-cloning policy. */
typedef struct dr3_bc_options {
    unsigned version;               /**< ::DR3_BC_OPTIONS_VERSION; set by the _INIT macro or
                                       dr3_bc_options_init(). */
    size_t obs_dim;                 /**< Observation size (> 0). */
    size_t num_actions;             /**< Number of actions (> 0). */
    size_t num_hidden;              /**< Hidden layers. */
    const size_t *hidden;           /**< Their widths (copied). */
    dr3_activation activation;      /**< Hidden activation (default ReLU). */
    size_t batch_size;              /**< Maximum rows per training step and per call (> 0). */
    const dr3_optim_options *optim; /**< Optimizer (NULL: Adam, lr 1e-3). */
    int threads;                    /**< BLIS threads (default 1). */
    uint64_t seed;                  /**< Initial weights and sampling. */
    const dr3_allocator *allocator; /**< Memory hooks (NULL: C library). */
} dr3_bc_options;

/** Initializer for ::dr3_bc_options. */
#define DR3_BC_OPTIONS_INIT                                                                    \
    { DR3_BC_OPTIONS_VERSION, 0, 0, 0, NULL, DR3_ACT_RELU, 0, NULL, 1, 0, NULL }

/** @brief Fills @p s with the defaults of ::DR3_BC_OPTIONS_INIT for struct version @p version
 *  (pass ::DR3_BC_OPTIONS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_bc_options_init(dr3_bc_options *s, unsigned version);

/** @brief Creates a behaviour-cloning policy. Errors: ::DR3_ERR_INVALID_ARG,
 *  ::DR3_ERR_OVERFLOW, ::DR3_ERR_NOMEM; *out is NULL on error. */
DR3_API dr3_status dr3_bc_create(dr3_bc **out, const dr3_bc_options *opts);

/** @brief Frees the handle. Accepts NULL. */
DR3_API void dr3_bc_free(dr3_bc *bc);

/**
 * @brief One cross-entropy step on n pairs (obs row stride @p ld_obs, actions in
 *        [0, num_actions)); the mean negative log-likelihood before the step goes to *loss
 *        (may be NULL). Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_RANGE, ::DR3_ERR_NONFINITE;
 *        nothing changes on error.
 */
DR3_API dr3_status dr3_bc_step(dr3_bc *bc, size_t n, const float *obs, size_t ld_obs,
                               const int32_t *actions, float *loss);

/** @brief Trains for @p steps steps on uniform samples from a discrete-action @p replay
 *  (batch_size rows each); the last step's loss goes to *loss (may be NULL). */
DR3_API dr3_status dr3_bc_train(dr3_bc *bc, const dr3_replay *replay, uint64_t steps,
                                float *loss);

/** @brief π(a | obs_i) for n observations (any n), probs n × num_actions with row stride
 *  @p ld_probs; each row sums to 1. */
DR3_API dr3_status dr3_bc_probs(dr3_bc *bc, size_t n, const float *obs, size_t ld_obs,
                                float *probs, size_t ld_probs);

/** @brief A ::dr3_policy_fn for backups: @p payload is a dr3_bc *. Returns 0 on success. */
DR3_API int dr3_bc_policy(void *payload, size_t n, const float *obs, size_t ld_obs,
                          float *probs, size_t ld_probs);

#ifdef DR3_EXPERIMENTAL
/**
 * @brief Creates a behaviour-cloning policy on a layer-list network (dr3_net_create_desc():
 *        convolutional nets such as the "minatar" and "nature" presets), for pixel datasets.
 *        Experimental (issue #12).
 *
 * @p opts is read as for dr3_bc_create() except that the architecture comes from @p desc:
 * num_hidden, hidden and activation are ignored, and obs_dim / num_actions are 0 (taken from
 * the description: C·H·W inputs in NCHW order, action_dim logits) or must agree with it.
 * The description must have one head. Ownership: @p desc is read, not kept.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL, an incomplete description, several heads),
 * ::DR3_ERR_SHAPE (sizes that disagree), those of dr3_net_create_desc() and
 * dr3_bc_create(); *out is NULL on error.
 */
DR3_API dr3_status dr3_bc_create_desc(dr3_bc **out, const dr3_bc_options *opts,
                                      const dr3_net_desc *desc);
#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_BC_H */
