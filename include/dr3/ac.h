/**
 * @file dr3/ac.h
 * @brief Actor-critic learners for continuous actions (experimental): SAC, CQL(H), TD3+BC
 *        and offline SARSA critics, with DR3 on the critics' features φ(s, a).
 *
 * A ::dr3_ac_learner holds one or two critics Q_j(s, a) (::DR3_HEAD_CRITIC networks on
 * [s, a]; φ(s, a) is the last hidden layer), their Polyak-averaged targets, an actor network
 * (SAC/CQL: a tanh-Gaussian policy, the actor outputs mean and log-std; TD3+BC: a
 * deterministic tanh policy with a target copy), the temperature α (SAC/CQL) and the CQL
 * Lagrange multiplier α′, with one Adam optimizer each. A step updates all of them from
 * one batch: every loss and gradient is computed from the parameters before the step, then
 * checked for non-finite values, then applied (all or nothing).
 *
 * **Actions** are stored and acted in the caller's units, inside the box
 * [action_low, action_high]; the networks see them normalised to [−1, 1]
 * (a_n = 2 (a − low) / (high − low) − 1), and the actor's tanh output is mapped back.
 * Every randomly drawn quantity of a step is listed in ::dr3_ac_batch and may be supplied
 * by the caller (tests, reproductions of other code); otherwise the learner draws it from
 * its own generator (seeded by dr3_ac_options::seed, saved in checkpoints).
 *
 * The algorithms (docs/actor-critic.md has the formulas):
 * - SAC (Haarnoja et al. 2018): y = r + d·(min_j Q̄_j(s′, a′) − α log π(a′|s′)), a′ ~ π(·|s′);
 *   actor loss mean(α log π(ã|s) − min_j Q_j(s, ã)), ã ~ π(·|s) reparameterised;
 *   temperature loss −mean(log α · (log π(ã|s) + H̄)) with H̄ = target_entropy_per_dim·|A|.
 * - CQL(H) (Kumar et al. 2020): SAC plus, per critic, α_cql·(T·logsumexp over the N uniform
 *   actions (minus log 0.5^|A|), N actions of π at s and N of π at s′ (minus their
 *   log-probs), all evaluated at s, divided by T) − mean Q_j(s, a)); fixed α_cql or the
 *   Lagrange form α′·(term − target_gap) with α′ = exp(log α′) tuned to keep the term near
 *   the gap.
 * - TD3+BC (Fujimoto & Gu 2021): y = r + d·min_j Q̄_j(s′, clip(π̄(s′) + clip(σε, −c, c))),
 *   actor every policy_delay steps with loss −λ·mean Q_1(s, π(s)) + mean (π(s) − a)²,
 *   λ = bc_alpha / mean|Q_1(s, π(s))|; targets move on actor steps.
 * - SARSA: critics only, y = r + d·min_j Q̄_j(s′, a′) with a′ from the data.
 * - DR3 (Kumar et al. 2022): each online critic adds c0·mean φ_j(s, a)·φ_j(s′, a′), a′ as the
 *   backup takes it, with the gradient through both features.
 *
 * Everything here is experimental (docs/api-stability.md §5): define DR3_EXPERIMENTAL
 * before including the headers. Threading: one thread at a time per learner.
 */
#ifndef DR3_AC_H
#define DR3_AC_H

#include <dr3/common.h>
#include <dr3/net.h>
#include <dr3/replay.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef DR3_EXPERIMENTAL

/** Opaque actor-critic learner handle. */
typedef struct dr3_ac_learner dr3_ac_learner;

/** Actor-critic algorithms. Values are fixed. */
typedef enum dr3_ac_algo {
    DR3_AC_SAC = 0,   /**< Soft actor-critic (online or offline without regularizer). */
    DR3_AC_CQL = 1,   /**< Conservative Q-learning, CQL(H), on top of SAC. */
    DR3_AC_TD3BC = 2, /**< TD3 with a behaviour-cloning term. */
    DR3_AC_SARSA = 3  /**< Critics only, a′ from the data (offline evaluation). */
} dr3_ac_algo;

/** @brief A static name for a ::dr3_ac_algo value ("sac", "cql", "td3bc", "sarsa"), or NULL
 *  for an unknown value. Experimental. Thread-safe. */
DR3_API const char *dr3_ac_algo_name(dr3_ac_algo value);

/** @brief Parses a name given by dr3_ac_algo_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). Experimental.
 *  Thread-safe. */
DR3_API dr3_status dr3_ac_algo_parse(dr3_ac_algo *out, const char *name);

/** How CQL's weight on its conservative term is set. Values are fixed. */
typedef enum dr3_cql_alpha_mode {
    DR3_CQL_ALPHA_FIXED = 0,   /**< α_cql = dr3_ac_options::cql_alpha throughout. */
    DR3_CQL_ALPHA_LAGRANGE = 1 /**< α′ = exp(log α′) ≥ 0 tuned toward cql_target_gap. */
} dr3_cql_alpha_mode;

/** @brief A static name for a ::dr3_cql_alpha_mode value ("fixed", "lagrange"), or NULL for
 *  an unknown value. Experimental. Thread-safe. */
DR3_API const char *dr3_cql_alpha_mode_name(dr3_cql_alpha_mode value);

/** @brief Parses a name given by dr3_cql_alpha_mode_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). Experimental.
 *  Thread-safe. */
DR3_API dr3_status dr3_cql_alpha_mode_parse(dr3_cql_alpha_mode *out, const char *name);

/** Version of ::dr3_ac_options in this header. */
#define DR3_AC_OPTIONS_VERSION 1

/** @brief Configuration of an actor-critic learner; copied at creation. Experimental. */
typedef struct dr3_ac_options {
    unsigned version;         /**< ::DR3_AC_OPTIONS_VERSION; set by ::DR3_AC_OPTIONS_INIT or
                                   dr3_ac_options_init(). */
    dr3_ac_algo algo;         /**< Algorithm (default SAC). */
    size_t obs_dim;           /**< Observation size (> 0). */
    size_t action_dim;        /**< Action size |A| (> 0). */
    const float *action_low;  /**< action_dim lower bounds (copied), or NULL for −1. */
    const float *action_high; /**< action_dim upper bounds (> low; copied), or NULL for 1. */
    size_t
        critic_num_hidden; /**< Hidden layers of each critic (0 with NULL widths: 256, 256). */
    const size_t *critic_hidden; /**< Their widths (copied), or NULL for the default. */
    size_t actor_num_hidden;     /**< Hidden layers of the actor (0 with NULL: 256, 256). */
    const size_t *actor_hidden;  /**< Their widths (copied), or NULL for the default. */
    dr3_activation activation;   /**< Hidden activation of every network (default ReLU). */
    size_t batch_size;           /**< Rows per step (> 0; default 256). */
    float gamma;                 /**< Discount for dr3_ac_learner_step() (default 0.99). */
    float tau;                   /**< Polyak rate of the targets, in [0, 1] (default 0.005). */
    float critic_lr;             /**< Adam learning rate of the critics (default 3e-4; any
                                    finite value >= 0: a step it would overflow fails). */
    float actor_lr;              /**< Adam learning rate of the actor (default 3e-4). */
    float alpha_lr;   /**< Adam learning rate of log α and log α′ (default 3e-4). */
    int twin_critics; /**< 1: two critics and the min backup (default); 0: one. */
    int auto_alpha;   /**< SAC/CQL: tune α toward the target entropy (default 1). */
    float init_alpha; /**< SAC/CQL: initial α (> 0; default 1). */
    float target_entropy_per_dim; /**< H̄ = this · |A| (default −1: H̄ = −|A|). */
    int backup_entropy; /**< SAC/CQL: subtract α log π(a′|s′) in the target (default 1). */
    float log_std_min;  /**< Lower clamp of the actor's log-std (default −20). */
    float log_std_max;  /**< Upper clamp of the actor's log-std (default 2). */
    dr3_cql_alpha_mode cql_alpha_mode; /**< CQL: fixed or Lagrange (default fixed). */
    float cql_alpha;                   /**< CQL: fixed weight α_cql (>= 0; default 5). */
    float cql_target_gap;   /**< CQL Lagrange: target value τ of the term (default 10). */
    float cql_init_alpha;   /**< CQL Lagrange: initial α′ (> 0; default 1). */
    size_t cql_num_actions; /**< CQL: N sampled actions of each kind (> 0; default 10). */
    float cql_temperature;  /**< CQL: temperature T of the logsumexp (> 0; default 1). */
    float policy_noise;     /**< TD3+BC: σ of the target smoothing noise (default 0.2). */
    float noise_clip;       /**< TD3+BC: clip c of that noise (default 0.5). */
    size_t policy_delay;    /**< TD3+BC: actor and targets every this many steps (default 2). */
    float bc_alpha;         /**< TD3+BC: α of λ = α / mean|Q| (default 2.5). */
    float dr3_coef;         /**< DR3 coefficient c0 >= 0 (default 0: off). */
    int threads;            /**< Threads (>= 1; default 1; docs/threading.md). */
    uint64_t seed;          /**< Seeds the weights and the learner's generator. */
    const dr3_allocator *allocator; /**< Memory hooks (NULL: C library). */
} dr3_ac_options;

/** Initializer for ::dr3_ac_options (set obs_dim and action_dim). */
#define DR3_AC_OPTIONS_INIT                                                                    \
    {                                                                                          \
        DR3_AC_OPTIONS_VERSION, DR3_AC_SAC, 0, 0, NULL, NULL, 0, NULL, 0, NULL, DR3_ACT_RELU,  \
            256, 0.99f, 0.005f, 3e-4f, 3e-4f, 3e-4f, 1, 1, 1.0f, -1.0f, 1, -20.0f, 2.0f,       \
            DR3_CQL_ALPHA_FIXED, 5.0f, 10.0f, 1.0f, 10, 1.0f, 0.2f, 0.5f, 2, 2.5f, 0.0f, 1, 0, \
            NULL                                                                               \
    }

/** @brief Fills @p s with the defaults of ::DR3_AC_OPTIONS_INIT for struct version
 *  @p version (pass ::DR3_AC_OPTIONS_VERSION). Experimental. Errors: ::DR3_ERR_INVALID_ARG
 *  (NULL), ::DR3_ERR_VERSION (0 or newer than the library). Thread-safe. */
DR3_API dr3_status dr3_ac_options_init(dr3_ac_options *s, unsigned version);

/** Version of ::dr3_ac_batch in this header. */
#define DR3_AC_BATCH_VERSION 1

/**
 * @brief One batch of transitions in the caller's memory (read during the call, not kept),
 *        plus optional random draws. Experimental.
 *
 * Actions are in the caller's units (inside [action_low, action_high]). discount_i is
 * taken from @p discounts if given, else γ·(1 − terminal_i). The optional draws are rows of
 * action_dim floats, contiguous (row stride action_dim); NULL means "draw it":
 * - eps_next: n standard normals for a′ ~ π(·|s′) (SAC/CQL backup and DR3's a′);
 * - eps_actor: n standard normals for ã ~ π(·|s) (actor and temperature losses);
 * - cql_uniform: N·n actions in normalised units [−1, 1] (row i·N + k is the k-th for row
 *   i); cql_eps_obs / cql_eps_next: N·n standard normals for π at s and at s′ (same order);
 * - td3_noise: n standard normals ε of the target smoothing σε (clipped to ±c).
 */
typedef struct dr3_ac_batch {
    unsigned version;          /**< ::DR3_AC_BATCH_VERSION; set by ::DR3_AC_BATCH_INIT. */
    size_t n;                  /**< Rows, 1..batch_size. */
    const float *obs;          /**< s, n × obs_dim. */
    size_t ld_obs;             /**< Row stride of obs (>= obs_dim). */
    const float *actions;      /**< a, n × action_dim. */
    size_t ld_actions;         /**< Row stride of actions (>= action_dim). */
    const float *rewards;      /**< r, n values. */
    const float *next_obs;     /**< s′, n × obs_dim. */
    size_t ld_next_obs;        /**< Row stride of next_obs. */
    const float *discounts;    /**< n values γ^k (1 − terminal), or NULL. */
    const uint8_t *terminals;  /**< n flags, 1 where s′ is terminal, or NULL (none). */
    const float *next_actions; /**< a′ from the data, n × action_dim (SARSA needs it). */
    size_t ld_next_actions;    /**< Row stride of next_actions. */
    const float *eps_next;     /**< Optional draws (see above), n × action_dim. */
    const float *eps_actor;    /**< Optional draws, n × action_dim. */
    const float *cql_uniform;  /**< Optional draws, N·n × action_dim. */
    const float *cql_eps_obs;  /**< Optional draws, N·n × action_dim. */
    const float *cql_eps_next; /**< Optional draws, N·n × action_dim. */
    const float *td3_noise;    /**< Optional draws, n × action_dim. */
} dr3_ac_batch;

/** Initializer for ::dr3_ac_batch. */
#define DR3_AC_BATCH_INIT                                                                      \
    {                                                                                          \
        DR3_AC_BATCH_VERSION, 0, NULL, 0, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL,   \
            NULL, NULL, NULL, NULL, NULL                                                       \
    }

/** @brief Fills @p s with ::DR3_AC_BATCH_INIT for struct version @p version. Experimental.
 *  Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_ac_batch_init(dr3_ac_batch *s, unsigned version);

/** Version of ::dr3_ac_metrics in this header. */
#define DR3_AC_METRICS_VERSION 1

/** @brief What one step measured (from the parameters before the update). Experimental. */
typedef struct dr3_ac_metrics {
    unsigned version;  /**< ::DR3_AC_METRICS_VERSION; set by ::DR3_AC_METRICS_INIT. */
    uint64_t step;     /**< Steps completed, including this one. */
    float critic_loss; /**< Total critic loss: TD + CQL + DR3, summed over the critics. */
    float td_loss;     /**< Mean squared TD error, summed over the critics. */
    float actor_loss;  /**< Actor loss (0 on steps without an actor update). */
    float alpha;       /**< SAC/CQL temperature α used in this step (0 otherwise). */
    float alpha_loss;  /**< Temperature loss (0 without automatic tuning). */
    float entropy;     /**< −mean log π(ã|s) (SAC/CQL; 0 otherwise). */
    float mean_q;      /**< Mean Q_1(s, a) on the data actions. */
    float mean_target; /**< Mean TD target y. */
    float feature_dot; /**< Mean φ_1(s, a)·φ_1(s′, a′) of the first online critic. */
    float feature_cos; /**< Mean cosine of φ_1(s, a) and φ_1(s′, a′) (0 for zero vectors). */
    float feature_norm; /**< Mean ‖φ_1(s, a)‖. */
    float dr3_loss;     /**< DR3 term c0·mean φ·φ′, summed over the critics. */
    float cql_term;  /**< CQL: mean over critics of logsumexp part − mean Q (unweighted). */
    float cql_alpha; /**< CQL: the weight used (α_cql, or α′ in the Lagrange form). */
    float critic_grad_norm; /**< Global norm of the critics' gradient. */
} dr3_ac_metrics;

/** Initializer for ::dr3_ac_metrics. */
#define DR3_AC_METRICS_INIT                                                                    \
    { DR3_AC_METRICS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/** @brief Fills @p s with ::DR3_AC_METRICS_INIT for struct version @p version. Experimental.
 *  Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_ac_metrics_init(dr3_ac_metrics *s, unsigned version);

/**
 * @brief Creates an actor-critic learner: networks initialised as PyTorch's nn.Linear
 *        defaults from opts->seed (critic j from seed + j + 1, the actor from seed + 3),
 *        targets copied from them, optimizers, and all workspace for batch_size rows; steps
 *        never allocate. Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL, zero sizes, bounds with high <= low or non-finite,
 * rates or coefficients out of range, threads < 1), ::DR3_ERR_VERSION, ::DR3_ERR_OVERFLOW,
 * ::DR3_ERR_NOMEM. *out is NULL on error.
 */
DR3_API dr3_status dr3_ac_learner_create(dr3_ac_learner **out, const dr3_ac_options *opts);

/** @brief Frees the learner. Accepts NULL. Experimental. */
DR3_API void dr3_ac_learner_free(dr3_ac_learner *learner);

/**
 * @brief One update (critics, actor, temperature, CQL α′, targets) on the caller's batch.
 *        Experimental.
 * @param learner the learner.
 * @param batch   the transitions and optional draws (::dr3_ac_batch; n <= batch_size).
 * @param metrics if non-NULL, filled (the fields of its version).
 * Errors: ::DR3_ERR_INVALID_ARG (NULL, bad sizes or strides, SARSA without next_actions),
 * ::DR3_ERR_VERSION, ::DR3_ERR_NONFINITE (non-finite input, loss or gradient, or an
 * optimizer update that would overflow, e.g. an absurd learning rate), ::DR3_ERR_RANGE (an
 * optimizer's step count at 2^53). On error nothing changes (parameters, targets, every
 * optimizer's moments and step count, α, α′, generator, step count), whichever update
 * refused. Allocates nothing.
 */
DR3_API dr3_status dr3_ac_learner_step_batch(dr3_ac_learner *learner, const dr3_ac_batch *batch,
                                             dr3_ac_metrics *metrics);

/**
 * @brief One update on batch_size transitions sampled uniformly from @p replay (continuous
 *        actions of action_dim floats, obs of obs_dim floats; its n-step discounts are
 *        used). SARSA draws only transitions whose a′ exists. Experimental.
 * Errors: those of dr3_ac_learner_step_batch(), ::DR3_ERR_SHAPE (replay does not match),
 * ::DR3_ERR_STATE (too few valid transitions). On error nothing changes.
 */
DR3_API dr3_status dr3_ac_learner_step(dr3_ac_learner *learner, const dr3_replay *replay,
                                       dr3_ac_metrics *metrics);

/**
 * @brief Actions for @p n observations, in the caller's units. Deterministic: the policy's
 *        mode (tanh of the mean, or the TD3 actor's output); otherwise SAC/CQL sample
 *        π(·|s) and TD3+BC adds N(0, policy_noise²) exploration noise to its output (kept
 *        inside the box), drawn from the learner's acting generator (separate from the
 *        training one, saved in checkpoints). Experimental.
 * @param learner       the learner (not SARSA: it has no actor).
 * @param n             rows (any number; processed in chunks).
 * @param obs           n × obs_dim, row stride @p ld_obs.
 * @param ld_obs        row stride of obs (>= obs_dim).
 * @param deterministic nonzero for the mode.
 * @param out_actions   n × action_dim, row stride @p ld_out.
 * @param ld_out        row stride of out_actions (>= action_dim).
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_NONFINITE, ::DR3_ERR_STATE (SARSA).
 */
DR3_API dr3_status dr3_ac_learner_act(dr3_ac_learner *learner, size_t n, const float *obs,
                                      size_t ld_obs, int deterministic, float *out_actions,
                                      size_t ld_out);

/**
 * @brief Q_1(s, a) of the first online critic for @p n rows (actions in the caller's
 *        units), written to @p out (n floats). Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_NONFINITE.
 */
DR3_API dr3_status dr3_ac_learner_q_values(dr3_ac_learner *learner, size_t n, const float *obs,
                                           size_t ld_obs, const float *actions,
                                           size_t ld_actions, float *out);

/** @brief Steps completed (0 for NULL). Experimental. */
DR3_API uint64_t dr3_ac_learner_step_count(const dr3_ac_learner *learner);

/** @brief Online critic @p index (0 or 1; borrowed until the learner is freed or replaced
 *  by dr3_ac_learner_load() / dr3_ac_learner_set_collective()), or NULL when absent. Its
 *  parameters may be written between steps (tests copy PyTorch weights in). Experimental. */
DR3_API dr3_net *dr3_ac_learner_critic(dr3_ac_learner *learner, size_t index);

/** @brief Target critic @p index (borrowed), or NULL when absent. Experimental. */
DR3_API dr3_net *dr3_ac_learner_target_critic(dr3_ac_learner *learner, size_t index);

/** @brief The actor network (borrowed), or NULL for SARSA. SAC/CQL: output 2|A| (mean, then
 *  log-std); TD3+BC: |A| pre-tanh outputs. Experimental. */
DR3_API dr3_net *dr3_ac_learner_actor(dr3_ac_learner *learner);

/** @brief The TD3+BC target actor (borrowed), or NULL. Experimental. */
DR3_API dr3_net *dr3_ac_learner_target_actor(dr3_ac_learner *learner);

/** @brief Current temperature α (SAC/CQL; 0 otherwise). Experimental. */
DR3_API float dr3_ac_learner_alpha(const dr3_ac_learner *learner);

/** @brief Sets the DR3 coefficient c0 (finite, >= 0) for the following steps.
 *  Experimental. Errors: ::DR3_ERR_INVALID_ARG. */
DR3_API dr3_status dr3_ac_learner_set_dr3_coef(dr3_ac_learner *learner, float coef);

/** @brief Sets the BLIS thread count (>= 1) of every network. Experimental.
 *  Errors: ::DR3_ERR_INVALID_ARG. */
DR3_API dr3_status dr3_ac_learner_set_threads(dr3_ac_learner *learner, int threads);

/** @brief Copies the options the learner was created with into @p out (fields of its
 *  version; pointer fields point into the learner, allocator NULL). Experimental.
 *  Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. */
DR3_API dr3_status dr3_ac_learner_get_options(dr3_ac_options *out,
                                              const dr3_ac_learner *learner);

/**
 * @brief Saves everything needed to resume bit-identically (options, every network, the
 *        optimizers' state, α, α′, generators, step count) in one checksummed file, written
 *        atomically (temporary file, fsync, rename). Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_IO, ::DR3_ERR_NOMEM.
 */
DR3_API dr3_status dr3_ac_learner_save(const dr3_ac_learner *learner, const char *path);

/**
 * @brief Creates a learner from a file written by dr3_ac_learner_save(). @p runtime, if not
 *        NULL, supplies threads and allocator (other fields are ignored). The file is
 *        validated (magic, version, checksum, sizes, finiteness) before anything is built.
 *        Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_IO, ::DR3_ERR_FORMAT, ::DR3_ERR_NOMEM.
 * *out is NULL on error.
 */
DR3_API dr3_status dr3_ac_learner_open(dr3_ac_learner **out, const char *path,
                                       const dr3_ac_options *runtime);

/**
 * @brief Restores a file written by dr3_ac_learner_save() into @p learner, whose options
 *        (architecture and algorithm) must match the file's. The learner keeps its plugins
 *        and collective; networks returned earlier by the getters (dr3_ac_learner_critic()
 *        and the others) are replaced, so those pointers become invalid. Experimental.
 * Errors: as dr3_ac_learner_open(), ::DR3_ERR_SHAPE; on error the learner is unchanged.
 */
DR3_API dr3_status dr3_ac_learner_load(dr3_ac_learner *learner, const char *path);

#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_AC_H */
