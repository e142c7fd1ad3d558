/**
 * @file dr3/learner.h
 * @brief The value-based learner: an online Q-network, its target copy, an optimizer, a
 *        backup operator and any number of regularizers, trained one batch at a time.
 *
 * One dr3_learner_step() is the whole update, in this order (docs/guide.md):
 *  1. online forward on the stacked batch [s; s'] (2n rows, one GEMM per layer) giving
 *     Q(s,·), φ(s), Q(s',·), φ(s'); target forward on s' giving Q_t(s',·);
 *  2. the backup operator turns them into V(s'), and y = r + discount · V(s');
 *  3. the TD loss (MSE or Huber) on Q(s,a) − y, then every regularizer on the step view;
 *  4. one backward pass over the 2n rows (so DR3's gradient reaches the network through
 *     both φ(s) and φ(s')), plus direct parameter gradients;
 *  5. a non-finite guard, gradient clipping and the optimizer step; the target update.
 * A step that meets a non-finite loss or gradient, or a failing plugin, returns an error
 * before step 5 changes anything: parameters, optimizer state, target network, step counter
 * and random state are exactly as before the call.
 *
 * Only discrete-action Q-networks (Q(s,·) = W φ(s) + b) are learned here; critics φ(s,a)
 * are available as networks (dr3/net.h) for custom actor-critic loops.
 *
 * Threading: a learner is used by one thread at a time; distinct learners are independent.
 * Determinism: same options, seed, thread count and batches → bitwise-identical results.
 */
#ifndef DR3_LEARNER_H
#define DR3_LEARNER_H

#include <dr3/backup.h>
#include <dr3/common.h>
#include <dr3/loss.h>
#include <dr3/net.h>
#include <dr3/optim.h>
#include <dr3/regularizer.h>
#include <dr3/replay.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque learner handle. */
typedef struct dr3_learner dr3_learner;

/** Version of ::dr3_learner_options in this header (1: as released in 1.0). */
#define DR3_LEARNER_OPTIONS_VERSION 1

/** Configuration of a learner; copied at creation. */
typedef struct dr3_learner_options {
    unsigned version;            /**< ::DR3_LEARNER_OPTIONS_VERSION; set by the _INIT macro or
                                    dr3_learner_options_init(). */
    size_t obs_dim;              /**< Observation size (> 0). */
    size_t num_actions;          /**< Number of discrete actions (> 0). */
    size_t num_hidden;           /**< Hidden layers (0: Q linear in the observation). */
    const size_t *hidden;        /**< Their widths (num_hidden entries; copied). */
    dr3_activation activation;   /**< Hidden activation (default ReLU). */
    float activation_param;      /**< ELU α / leaky-ReLU slope; 0 means the default (1 /
                                      0.01, as PyTorch's). */
    size_t batch_size;           /**< Maximum rows per step (> 0). */
    float gamma;                 /**< Discount used when a batch gives no discounts. */
    dr3_td_kind td_kind;         /**< TD loss (default Huber). */
    float huber_delta;           /**< Huber threshold δ (default 1). */
    size_t target_update_period; /**< Hard target copy every k steps (when polyak_tau = 0). */
    float polyak_tau; /**< > 0: target ← (1−τ) target + τ online after each step. */
    const dr3_optim_options *optim;   /**< Optimizer (NULL: Adam, lr 3e-4, PyTorch defaults). */
    const dr3_backup_options *backup; /**< Built-in backup (NULL: Q-learning max). */
    /** Built-in regularizers: num_regularizers pointers to options (each read through its
     *  own version and copied; an array of pointers, so each struct's size may differ). */
    const dr3_regularizer_options *const *regularizers;
    size_t num_regularizers;        /**< Entries in regularizers (any number). */
    size_t srank_every;             /**< Compute srank of φ(s) every k steps (0: never). */
    int threads;                    /**< Threads (default 1; docs/threading.md). */
    uint64_t seed;                  /**< Seeds initial weights and the learner's generator. */
    const dr3_allocator *allocator; /**< Memory hooks (NULL: C library). */
} dr3_learner_options;

/** Initializer for ::dr3_learner_options (DQN-like defaults; set obs_dim, num_actions,
 *  hidden layers and batch_size). */
#define DR3_LEARNER_OPTIONS_INIT                                                               \
    {                                                                                          \
        DR3_LEARNER_OPTIONS_VERSION, 0, 0, 0, NULL, DR3_ACT_RELU, 0.0f, 0, 0.99f,              \
            DR3_TD_HUBER, 1.0f, 1000, 0.0f, NULL, NULL, NULL, 0, 0, 1, 0, NULL                 \
    }

/** @brief Fills @p s with the defaults of ::DR3_LEARNER_OPTIONS_INIT for struct version @p
 * version (pass ::DR3_LEARNER_OPTIONS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_learner_options_init(dr3_learner_options *s, unsigned version);

/** Version of ::dr3_batch in this header (1: as released in 1.0). */
#define DR3_BATCH_VERSION 1

/**
 * @brief One batch of transitions, in the caller's memory (nothing is copied or kept).
 *
 * discount_i is taken from @p discounts if given, else γ·(1 − terminal_i) with
 * terminal_i from @p terminals (or 0). The step's "non-terminal" mask, used by DR3's
 * terminal masking, is 1 − terminals[i] when given, else (discount_i > 0).
 */
typedef struct dr3_batch {
    unsigned version; /**< ::DR3_BATCH_VERSION; set by the _INIT macro or dr3_batch_init(). */
    size_t n;         /**< Rows, 1..batch_size. */
    const float *obs; /**< s, n × obs_dim. */
    size_t ld_obs;    /**< Row stride of obs (>= obs_dim). */
    const int32_t *actions;      /**< a, n actions in [0, num_actions). */
    const float *rewards;        /**< r (the k-step discounted reward sum for k-step data). */
    const float *next_obs;       /**< s', n × obs_dim. */
    size_t ld_next_obs;          /**< Row stride of next_obs. */
    const float *discounts;      /**< γ^k (1 − terminal), or NULL. */
    const uint8_t *terminals;    /**< 1 where s' is terminal, or NULL. */
    const int32_t *next_actions; /**< Dataset a' (needed by SARSA), or NULL. */
    const float *weights;        /**< Per-row TD loss weights, or NULL. */
} dr3_batch;

/** Initializer for ::dr3_batch. */
#define DR3_BATCH_INIT                                                                         \
    { DR3_BATCH_VERSION, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL }

/** @brief Fills @p s with the defaults of ::DR3_BATCH_INIT for struct version @p version
 *  (pass ::DR3_BATCH_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_batch_init(dr3_batch *s, unsigned version);

/** Version of ::dr3_step_metrics in this header (1: as released in 1.0). */
#define DR3_STEP_METRICS_VERSION 1

/** What one step (or an evaluation) measured. */
typedef struct dr3_step_metrics {
    unsigned version;        /**< ::DR3_STEP_METRICS_VERSION; set by the _INIT macro or
                                dr3_step_metrics_init(). */
    uint64_t step;           /**< Steps completed, including this one. */
    float loss;              /**< Total loss: TD + all regularizers. */
    float td_loss;           /**< TD loss. */
    size_t num_regularizers; /**< Regularizers in the step; each one's loss through
                                  dr3_learner_reg_loss(). */
    float mean_q;            /**< Mean Q(s_i, a_i). */
    float mean_target;       /**< Mean TD target y_i. */
    float feature_dot;       /**< Mean φ(s_i)·φ(s'_i) (online features). */
    float feature_cos;       /**< Mean cosine of φ(s_i) and φ(s'_i) (0 for zero vectors). */
    float feature_norm;      /**< Mean ‖φ(s_i)‖. */
    float dead_fraction;     /**< Fraction of feature units that are 0 on every row. */
    float grad_norm;         /**< Global gradient norm before clipping (0 in evaluation). */
    float srank;             /**< srank_0.01 of φ(s) this step, or −1 if not computed. */
} dr3_step_metrics;

/** Initializer for ::dr3_step_metrics. */
#define DR3_STEP_METRICS_INIT                                                                  \
    { DR3_STEP_METRICS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1 }

/** @brief Fills @p s with the defaults of ::DR3_STEP_METRICS_INIT for struct version @p version
 *  (pass ::DR3_STEP_METRICS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_step_metrics_init(dr3_step_metrics *s, unsigned version);

/**
 * @brief Creates a learner: online network (initialised from opts->seed as PyTorch's
 *        nn.Linear would be), target copy, optimizer, backup, regularizers, workspace for
 *        batch_size rows. All memory is allocated here; steps do not allocate.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL, zero sizes, bad options of any part),
 * ::DR3_ERR_OVERFLOW, ::DR3_ERR_NOMEM. *out is NULL on error.
 */
DR3_API dr3_status dr3_learner_create(dr3_learner **out, const dr3_learner_options *opts);

/** @brief Frees the learner, its networks and optimizer, and calls each plugin's
 *  destroy callback. Accepts NULL. */
DR3_API void dr3_learner_free(dr3_learner *learner);

/**
 * @brief One gradient step on @p batch (see the file comment for what happens).
 * @param learner the learner.
 * @param batch   the transitions (1 <= n <= batch_size rows; nothing is kept).
 * @param metrics if non-NULL, filled (the fields of its version) with what the step measured.
 * Errors: ::DR3_ERR_INVALID_ARG / ::DR3_ERR_RANGE (bad batch: NULLs, n = 0 or > batch_size,
 * actions out of range, SARSA without next actions), ::DR3_ERR_NONFINITE (non-finite
 * input, loss or gradient), ::DR3_ERR_CALLBACK (a plugin failed). On any error the learner
 * is unchanged.
 */
DR3_API dr3_status dr3_learner_step(dr3_learner *learner, const dr3_batch *batch,
                                    dr3_step_metrics *metrics);

/**
 * @brief Computes the step's metrics on @p batch without changing anything (no gradient
 *        step, no target update, no random draws except a sampling backup's, which uses a
 *        copy of the learner's generator). For fixed evaluation sets.
 */
DR3_API dr3_status dr3_learner_evaluate(dr3_learner *learner, const dr3_batch *batch,
                                        dr3_step_metrics *metrics);

/**
 * @brief Samples batch_size transitions from @p replay with the learner's generator and
 *        takes one step on them (the replay must be discrete-action with obs_dim matching).
 * Errors: those of dr3_replay_sample() and dr3_learner_step().
 */
DR3_API dr3_status dr3_learner_step_replay(dr3_learner *learner, const dr3_replay *replay,
                                           dr3_step_metrics *metrics);

/** @brief Progress callback for dr3_learner_train(): return non-zero to stop early. */
typedef int (*dr3_progress_fn)(void *payload, const dr3_step_metrics *metrics);

/**
 * @brief Runs @p steps steps of dr3_learner_step_replay(), calling @p progress (if not
 *        NULL) after every @p every-th step and after the last one.
 * Returns ::DR3_OK (also when the callback stopped it) or the first step's error.
 */
DR3_API dr3_status dr3_learner_train(dr3_learner *learner, const dr3_replay *replay,
                                     uint64_t steps, uint64_t every, dr3_progress_fn progress,
                                     void *payload);

/** @brief Q-values of the online network for n observations (any n; processed in chunks
 *  of batch_size): q is n × num_actions with row stride @p ld_q. */
DR3_API dr3_status dr3_learner_q_values(dr3_learner *learner, size_t n, const float *obs,
                                        size_t ld_obs, float *q, size_t ld_q);

/**
 * @brief ε-greedy actions for n observations: with probability @p epsilon a uniform action,
 *        else argmax_a Q(s, a) (ties to the lowest index). @p rng: the caller's generator,
 *        or NULL to use the learner's (which then advances).
 */
DR3_API dr3_status dr3_learner_act(dr3_learner *learner, size_t n, const float *obs,
                                   size_t ld_obs, float epsilon, dr3_rng *rng,
                                   int32_t *actions);

/**
 * @brief The loss of regularizer @p index (in the order they were added: the options'
 *        built-ins first, then plugins) in the last dr3_learner_step() or
 *        dr3_learner_evaluate() that succeeded, into @p out.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_RANGE (index >= the number of
 * regularizers), ::DR3_ERR_STATE (no step or evaluation yet).
 */
DR3_API dr3_status dr3_learner_reg_loss(float *out, const dr3_learner *learner, size_t index);

/** @brief Number of regularizers the learner applies (built-ins and plugins). */
DR3_API size_t dr3_learner_num_regularizers(const dr3_learner *learner);

/** @brief Optimizer steps taken so far. */
DR3_API uint64_t dr3_learner_step_count(const dr3_learner *learner);

/** @brief The online network (borrowed; do not free; changes only through the learner). */
DR3_API dr3_net *dr3_learner_online(dr3_learner *learner);
/** @brief The target network (borrowed). */
DR3_API dr3_net *dr3_learner_target(dr3_learner *learner);

/** @brief Sets the optimizer's learning rate for the following steps (same as
 *  dr3_learner_set_param() with ::DR3_LEARNER_LR). */
DR3_API dr3_status dr3_learner_set_lr(dr3_learner *learner, float lr);

/**
 * @brief Values of a learner that may change between steps, without any struct layout
 *        involved (zstd's `ZSTD_CCtx_setParameter` model). Values are fixed; an unknown key
 *        is a clean ::DR3_ERR_UNSUPPORTED, so a program can detect an older library.
 */
typedef enum dr3_learner_param {
    DR3_LEARNER_LR = 100,            /**< Optimizer learning rate, [0, FLT_MAX]. */
    DR3_LEARNER_POLYAK_TAU = 101,    /**< Polyak τ, [0, 1]; 0: hard copies every period. */
    DR3_LEARNER_TARGET_PERIOD = 102, /**< Steps between hard target copies, [1, 2^53]. */
    DR3_LEARNER_GAMMA = 103,         /**< Discount used when a batch gives none, [0, 1]. */
    DR3_LEARNER_HUBER_DELTA = 104,   /**< Huber threshold δ, [FLT_MIN, FLT_MAX]. */
    DR3_LEARNER_THREADS = 105        /**< Threads of the step and both nets, [1, 1024]. */
} dr3_learner_param;

/** @brief A static name for a ::dr3_learner_param ("lr", "polyak_tau", "target_period",
 *  "gamma", "huber_delta", "threads"), or NULL for an unknown value. Thread-safe. */
DR3_API const char *dr3_learner_param_name(dr3_learner_param param);

/** @brief Parses a name given by dr3_learner_param_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_learner_param_parse(dr3_learner_param *out, const char *name);

/**
 * @brief The closed range [*min, *max] a parameter accepts.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_UNSUPPORTED (unknown key). Thread-safe.
 */
DR3_API dr3_status dr3_learner_param_bounds(dr3_learner_param param, double *min, double *max);

/**
 * @brief Sets @p param to @p value for the following steps. Like the rest of the
 *        configuration, parameters are not stored in checkpoints: set them again after
 *        dr3_learner_load().
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner), ::DR3_ERR_UNSUPPORTED (unknown key),
 * ::DR3_ERR_RANGE (value outside the bounds or not finite, or τ = 0 while no target period
 * is set); the learner is unchanged on error. Not thread-safe with other calls on the
 * learner.
 */
DR3_API dr3_status dr3_learner_set_param(dr3_learner *learner, dr3_learner_param param,
                                         double value);

/** @brief The current value of @p param into @p out. Errors: ::DR3_ERR_INVALID_ARG,
 *  ::DR3_ERR_UNSUPPORTED. */
DR3_API dr3_status dr3_learner_get_param(double *out, const dr3_learner *learner,
                                         dr3_learner_param param);

/**
 * @brief Sets the coefficient (c0, α, λ or β; finite, >= 0) of the built-in regularizer
 *        at @p index (in the order of dr3_learner_reg_loss()) for the following steps.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_RANGE (index out of range, bad value),
 * ::DR3_ERR_STATE (the regularizer at @p index is a plugin: its payload holds its settings).
 */
DR3_API dr3_status dr3_learner_set_reg_coef(dr3_learner *learner, size_t index, float coef);

/**
 * @brief Saves the whole learner — online and target networks, optimizer state, step
 *        counter, random state and the options — to @p path atomically (temporary file,
 *        fsync, rename) with a CRC-32C checksum. Format: docs/formats.md.
 */
DR3_API dr3_status dr3_learner_save(const dr3_learner *learner, const char *path);

/**
 * @brief Restores a checkpoint into a learner created with the same architecture (the
 *        backup, regularizers and plugins are the caller's configuration and are not
 *        stored). A resumed learner continues bitwise-identically to one never stopped.
 * Errors: ::DR3_ERR_IO, ::DR3_ERR_FORMAT, ::DR3_ERR_CHECKSUM, ::DR3_ERR_SHAPE (different
 * architecture). On error the learner is unchanged.
 */
DR3_API dr3_status dr3_learner_load(dr3_learner *learner, const char *path);

/** Version of ::dr3_checkpoint_info in this header (1: as released in 1.0). */
#define DR3_CHECKPOINT_INFO_VERSION 1

/** What a checkpoint file holds, read without a learner (to create a matching one). */
typedef struct dr3_checkpoint_info {
    unsigned version;          /**< ::DR3_CHECKPOINT_INFO_VERSION; set by the _INIT macro or
                                  dr3_checkpoint_info_init(). */
    size_t obs_dim;            /**< Observation size. */
    size_t num_actions;        /**< Number of actions. */
    size_t num_hidden;         /**< Hidden layers in the file (all of them). */
    size_t *hidden;            /**< Input: where to write their widths, or NULL. */
    size_t hidden_capacity;    /**< Input: entries @p hidden has room for; the first
                                    min(num_hidden, hidden_capacity) widths are written. */
    dr3_activation activation; /**< Hidden activation. */
    float activation_param;    /**< Its parameter. */
    uint64_t steps;            /**< Optimizer steps taken when saved. */
} dr3_checkpoint_info;

/** Initializer for ::dr3_checkpoint_info. */
#define DR3_CHECKPOINT_INFO_INIT                                                               \
    { DR3_CHECKPOINT_INFO_VERSION, 0, 0, 0, NULL, 0, DR3_ACT_RELU, 0.0f, 0 }

/** @brief Fills @p s with the defaults of ::DR3_CHECKPOINT_INFO_INIT for struct version @p
 * version (pass ::DR3_CHECKPOINT_INFO_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_checkpoint_info_init(dr3_checkpoint_info *s, unsigned version);

/**
 * @brief Reads and verifies (format, version, checksum) a checkpoint written by
 *        dr3_learner_save() and reports its architecture, so that a program can create a
 *        learner to dr3_learner_load() it into.
 * Set info->hidden / hidden_capacity to receive the hidden widths.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_IO, ::DR3_ERR_FORMAT, ::DR3_ERR_VERSION,
 * ::DR3_ERR_CHECKSUM. Thread-safe.
 */
DR3_API dr3_status dr3_learner_checkpoint_info(dr3_checkpoint_info *info, const char *path);

/**
 * @brief Creates a learner with the architecture a checkpoint holds and restores it (as
 *        dr3_learner_create() then dr3_learner_load()): the way to resume or evaluate a
 *        saved learner without knowing its shape.
 *
 * The architecture (observation size, actions, hidden layers, activation — or, for a
 * checkpoint of an experimental layer-list network, its whole layer list) comes from the
 * file; everything else (batch size, optimizer, backup, regularizers, threads, allocator,
 * ...) from @p opts, whose architecture fields are ignored. @p opts may be NULL: the
 * defaults of ::DR3_LEARNER_OPTIONS_INIT with batch_size 32. Plugins are not stored; add
 * them again after opening.
 * Errors: those of dr3_learner_checkpoint_info(), dr3_learner_create() and
 * dr3_learner_load(); *out is NULL on error. Thread-safe.
 */
DR3_API dr3_status dr3_learner_open(dr3_learner **out, const char *path,
                                    const dr3_learner_options *opts);

#ifdef DR3_EXPERIMENTAL
/**
 * @brief Creates a learner whose online and target networks are built from a layer list
 *        (dr3_net_create_desc(): convolutional Q-networks such as the "nature" and
 *        "minatar" presets). Experimental (issue #11).
 *
 * @p opts is read as for dr3_learner_create(), except that the architecture comes from
 * @p desc: num_hidden/hidden/activation are ignored (the description's activation applies),
 * and obs_dim / num_actions are 0 (taken from the description: C·H·W and action_dim) or must
 * agree with it. Batches carry observations as floats, C·H·W per row in NCHW order (a uint8
 * replay with frame stacking produces them with its u8_scale). Checkpoints record the
 * layer list (format version 2, docs/formats.md): dr3_learner_load() refuses a file with
 * another architecture, dr3_learner_open() recreates the learner from the file, and
 * dr3_learner_checkpoint_info(), which describes MLPs, returns ::DR3_ERR_UNSUPPORTED.
 * dr3_learner_step_replay() on a uint8 replay with u8_scale "unit" makes no float batch: it
 * samples the raw frames of [s; s'] into the learner and runs the networks through
 * dr3_net_forward_u8() (values (float)v / 255, which may differ in the last bit from the
 * replay's own float conversion v · (1/255)). No allocation; docs/conv.md.
 * Errors: those of dr3_learner_create() and dr3_net_create_desc(), ::DR3_ERR_SHAPE.
 */
DR3_API dr3_status dr3_learner_create_desc(dr3_learner **out, const dr3_learner_options *opts,
                                           const dr3_net_desc *desc);

/** How a learner combines the K heads of a multi-head network (dr3_net_desc::num_heads).
 *  Experimental. Values are fixed. */
typedef enum dr3_heads_mode {
    /** REM (Agarwal et al. 2020): per batch a random convex combination α (α_k = u_k / Σu,
     *  u_k ~ U(0, 1)) of the heads, for Q(s, ·) and for the target's Q(s', ·); the TD loss,
     *  the backup and the regularizers see the combined Q. The default. */
    DR3_HEADS_REM = 0,
    /** Ensemble: every head regressed to one target whose V(s') comes from the heads'
     *  mean target Q; TD loss = the mean of the heads' losses; regularizers see the mean Q. */
    DR3_HEADS_MEAN = 1,
    /** As ::DR3_HEADS_MEAN, with the element-wise minimum of the heads' target Q
     *  (a pessimistic ensemble backup). */
    DR3_HEADS_MIN = 2
} dr3_heads_mode;

/** @brief Sets how the heads are combined for the following steps (no effect with one
 *  head). Acting and dr3_learner_q_values() use the heads' mean in every mode.
 *  Experimental. Errors: ::DR3_ERR_INVALID_ARG. */
DR3_API dr3_status dr3_learner_set_heads_mode(dr3_learner *learner, dr3_heads_mode mode);

/** @brief The head weights w_k of the last successful step or evaluation (REM's α, or 1/K)
 *  into @p out[k]. Experimental. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_SHAPE (@p k is not
 *  the number of heads). */
DR3_API dr3_status dr3_learner_head_weights(float *out, size_t k, const dr3_learner *learner);

/**
 * @brief Fixes REM's mixing weights: while set, every following step and evaluation in
 *        ::DR3_HEADS_REM mode uses @p w (k = the number of heads) instead of drawing a
 *        random convex combination, and draws nothing from the learner's generator for it.
 *        @p w == NULL returns to random draws. The weights are copied; like the rest of the
 *        configuration they are not stored in checkpoints. The ensemble modes ignore them
 *        (their weights stay 1/K). For tests against other implementations (the same
 *        mixing weights) and for evaluating fixed combinations. Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner), ::DR3_ERR_SHAPE (@p k is not the number of
 * heads), ::DR3_ERR_RANGE (a weight negative or not finite, or their sum not within 1e-4
 * of 1); the learner is unchanged on error. Not thread-safe with other calls on the learner.
 */
DR3_API dr3_status dr3_learner_set_head_weights(dr3_learner *learner, const float *w, size_t k);

/**
 * @brief Per-head diagnostics of the last successful step or evaluation, measured on the
 *        forward pass before the update (each output may be NULL; each holds k floats, k =
 *        the number of heads):
 *        - @p mean_q[j]: mean over the batch of head j's Q_j(s_i, a_i);
 *        - @p td_loss[j]: head j's TD loss (the learner's TD kind and batch weights) against
 *          the step's targets y_i — what an ensemble regresses each head to; with REM a
 *          diagnostic only (REM trains the combined Q);
 *        - @p disagreement: mean over the batch of the standard deviation over heads
 *          (population, divisor k) of Q_j(s_i, a_i); 0 with one head.
 *        Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner), ::DR3_ERR_SHAPE (@p k is not the number of
 * heads), ::DR3_ERR_STATE (no step or evaluation has succeeded yet). Thread-safe with other
 * readers of a learner that is not being stepped.
 */
DR3_API dr3_status dr3_learner_head_stats(const dr3_learner *learner, size_t k, float *mean_q,
                                          float *td_loss, float *disagreement);
#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_LEARNER_H */
