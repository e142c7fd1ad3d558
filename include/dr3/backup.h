/**
 * @file dr3/backup.h
 * @brief Built-in TD backup operators.
 *
 * The TD target of transition i is y_i = r_i + discount_i · V(s'_i) with discount_i =
 * γ^k (1 − terminal_i) for a k-step return. The operators differ in V:
 *
 * | kind                  | V(s')                                   | the paper's name |
 * |-----------------------|-----------------------------------------|-----------------------------|
 * | ::DR3_BACKUP_SARSA    | Q_t(s', a'_data)                        | offline SARSA | |
 * ::DR3_BACKUP_EXPECTED | Σ_a π(a\|s') Q_t(s', a)                 | TD, expectation under π_β |
 * | ::DR3_BACKUP_SAMPLED  | Q_t(s', a'), a' ~ π(·\|s')              | TD, a' sampled from π_β |
 * | ::DR3_BACKUP_MAX      | max_a Q_t(s', a)                        | Q-learning (DQN) | |
 * ::DR3_BACKUP_DOUBLE   | Q_t(s', argmax_a Q_θ(s', a))            | double DQN | |
 * ::DR3_BACKUP_SOFTMAX  | Σ_a softmax(Q_t(s',·)/τ)_a Q_t(s', a)   | Boltzmann backup |
 *
 * Q_t is the target network, Q_θ the online one. π for EXPECTED / SAMPLED comes from a
 * ::dr3_policy_fn callback: the known behaviour policy of a dataset, or a behaviour-cloned
 * one (dr3_bc_policy() in dr3/bc.h), as the DR3 paper does for unknown behaviour policies.
 */
#ifndef DR3_BACKUP_H
#define DR3_BACKUP_H

#include <dr3/common.h>
#include <dr3/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of ::dr3_backup_input in this header (1: as released in 1.0). */
#define DR3_BACKUP_INPUT_VERSION 1

/**
 * @brief Read-only view of a batch's next states, given to a backup operator (built-in
 *        through dr3_backup_values(), or a plugin, dr3/sys/backup.h).
 *
 * All matrices are row-major with the given row strides (in floats). Pointers are borrowed
 * for the duration of the call only.
 */
typedef struct dr3_backup_input {
    unsigned version;            /**< ::DR3_BACKUP_INPUT_VERSION; set by the _INIT macro. */
    size_t n;                    /**< Rows (transitions) in the batch. */
    size_t num_actions;          /**< Number of discrete actions A. */
    size_t obs_dim;              /**< Observation size. */
    const float *next_obs;       /**< s'_i, n × obs_dim. */
    size_t ld_next_obs;          /**< Row stride of next_obs. */
    const float *q_next_online;  /**< Q_θ(s'_i, ·) of the online network, n × A. */
    size_t ld_q_next_online;     /**< Row stride of q_next_online. */
    const float *q_next_target;  /**< Q_θ̄(s'_i, ·) of the target network, n × A. */
    size_t ld_q_next_target;     /**< Row stride of q_next_target. */
    const int32_t *next_actions; /**< Dataset next actions a'_i, or NULL if unavailable. */
    dr3_rng *rng;                /**< The learner's generator (for sampling operators). */
    float *scratch;              /**< Workspace of scratch_len floats (n × A at least). */
    size_t scratch_len;          /**< Length of scratch. */
} dr3_backup_input;

/** Initializer for ::dr3_backup_input: everything empty. */
#define DR3_BACKUP_INPUT_INIT                                                                  \
    { DR3_BACKUP_INPUT_VERSION, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, NULL, 0 }

/** @brief Fills @p s with ::DR3_BACKUP_INPUT_INIT for struct version @p version (pass
 *  ::DR3_BACKUP_INPUT_VERSION). Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION.
 *  Thread-safe. */
DR3_API dr3_status dr3_backup_input_init(dr3_backup_input *s, unsigned version);

/** Built-in operators. Values are fixed. */
typedef enum dr3_backup_kind {
    DR3_BACKUP_SARSA = 0,    /**< a' from the dataset. */
    DR3_BACKUP_EXPECTED = 1, /**< expectation over a policy π(·|s'). */
    DR3_BACKUP_SAMPLED = 2,  /**< one a' sampled from π(·|s'). */
    DR3_BACKUP_MAX = 3,      /**< max over actions (Q-learning). */
    DR3_BACKUP_DOUBLE = 4,   /**< argmax by the online net, value from the target net. */
    DR3_BACKUP_SOFTMAX = 5   /**< Boltzmann expectation with temperature τ. */
} dr3_backup_kind;

/**
 * @brief A policy over discrete actions: writes π(a | obs_i) into probs (n × num_actions,
 * row stride @p ld_probs) for the n observations (row stride @p ld_obs). Each row must be
 * finite, non-negative and sum to 1 (±1e-3). Return 0 on success, non-zero on failure.
 */
typedef int (*dr3_policy_fn)(void *payload, size_t n, const float *obs, size_t ld_obs,
                             float *probs, size_t ld_probs);

/** Version of ::dr3_backup_options in this header (1: as released in 1.0). */
#define DR3_BACKUP_OPTIONS_VERSION 1

/** Options of a built-in backup. */
typedef struct dr3_backup_options {
    unsigned version;     /**< ::DR3_BACKUP_OPTIONS_VERSION; set by the _INIT macro or
                             dr3_backup_options_init(). */
    dr3_backup_kind kind; /**< Which operator (default ::DR3_BACKUP_MAX). */
    dr3_policy_fn policy; /**< π for EXPECTED / SAMPLED (required there). */
    void *policy_payload; /**< Passed to @p policy. Borrowed: must outlive the user. */
    float temperature;    /**< τ > 0 for SOFTMAX (default 1). */
} dr3_backup_options;

/** Initializer for ::dr3_backup_options: Q-learning (max). */
#define DR3_BACKUP_OPTIONS_INIT                                                                \
    { DR3_BACKUP_OPTIONS_VERSION, DR3_BACKUP_MAX, NULL, NULL, 1.0f }

/** @brief Fills @p s with the defaults of ::DR3_BACKUP_OPTIONS_INIT for struct version @p
 * version (pass ::DR3_BACKUP_OPTIONS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_backup_options_init(dr3_backup_options *s, unsigned version);

/** @brief A static name for a built-in kind ("sarsa", "expected", "sampled", "max",
 *  "double", "softmax"), or NULL for an unknown value. */
DR3_API const char *dr3_backup_kind_name(dr3_backup_kind kind);

/** @brief Parses a name as given by dr3_backup_kind_name() into @p out.
 *  Returns ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_backup_kind_parse(dr3_backup_kind *out, const char *name);

/**
 * @brief Computes V(s'_i) for i < in->n with a built-in operator, for use in a custom
 *        training loop (the learner calls the same code).
 *
 * @p in must provide q_next_target (and q_next_online for DOUBLE, next_actions for SARSA,
 * next_obs and rng for EXPECTED/SAMPLED, rng for SAMPLED, scratch of n × A floats for
 * EXPECTED/SAMPLED/SOFTMAX). @p values receives n floats.
 * Errors: ::DR3_ERR_INVALID_ARG (missing inputs, bad options), ::DR3_ERR_RANGE (a dataset
 * action outside [0, A)), ::DR3_ERR_CALLBACK (the policy failed or returned an invalid
 * distribution), ::DR3_ERR_NONFINITE. Nothing is written to @p values on error.
 * Thread-safe if the policy callback is and @p in->rng is not shared.
 */
DR3_API dr3_status dr3_backup_values(const dr3_backup_options *opts, const dr3_backup_input *in,
                                     float *values);

#ifdef __cplusplus
}
#endif

#endif /* DR3_BACKUP_H */
