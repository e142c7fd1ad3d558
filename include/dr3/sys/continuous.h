/**
 * @file dr3/sys/continuous.h
 * @brief Plugin interfaces of the actor-critic learner (continuous actions; experimental):
 *        a backup operator that forms V(s′) from the target critics at (s′, a′), and
 *        regularizers on each online critic's features φ(s, a), φ(s′, a′) and values.
 *
 * They are separate from dr3/sys/backup.h and dr3/sys/regularizer.h, whose inputs are
 * Q(s′, ·) over a finite action set and per-state features φ(s): a continuous critic has
 * one value per (s, a) pair, and a′ comes from a policy or the data, so the views differ
 * (docs/actor-critic.md, "Plugins", says why). Same ABI rules as every plugin
 * (docs/api-stability.md): each struct starts with `unsigned version`, grows only at the
 * end, has an _INIT macro and an _init() function; a callback fails by returning non-zero,
 * optionally after dr3_error_set(), and the learner reports ::DR3_ERR_CALLBACK with its
 * context, having changed nothing. Callbacks run inside dr3_ac_learner_step_batch() /
 * dr3_ac_learner_step() on the calling thread, must not call the learner, and must not
 * keep pointers from their views. Version history: 1 (libdr3 1.0, experimental).
 *
 * Everything here is experimental: define DR3_EXPERIMENTAL before including it.
 */
#ifndef DR3_SYS_CONTINUOUS_H
#define DR3_SYS_CONTINUOUS_H

#include <dr3/ac.h>
#include <dr3/common.h>
#include <dr3/sys/collective.h>
#include <dr3/sys/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef DR3_EXPERIMENTAL

/** Version of ::dr3_ac_backup_input in this header. */
#define DR3_AC_BACKUP_INPUT_VERSION 1

/** @brief What a continuous backup sees (filled by the learner; read-only). Experimental. */
typedef struct dr3_ac_backup_input {
    unsigned version;           /**< The library's ::DR3_AC_BACKUP_INPUT_VERSION. */
    size_t n;                   /**< Rows. */
    size_t num_critics;         /**< Target critics (1 or 2). */
    const float *target_q;      /**< num_critics × n, critic-major: Q̄_j(s′_i, a′_i). */
    const float *next_log_prob; /**< n values log π(a′_i|s′_i) (0 for TD3+BC and SARSA). */
    float alpha;                /**< The step's temperature α (0 without one). */
    size_t obs_dim;             /**< Observation size. */
    size_t action_dim;          /**< Action size. */
    const float *next_obs;      /**< n × obs_dim, row stride ld_next_obs: s′. */
    size_t ld_next_obs;         /**< Row stride of next_obs. */
    const float *next_actions; /**< n × action_dim (contiguous), a′ normalised to [−1, 1]. */
    const float *rewards;      /**< n rewards. */
    const float *discounts;    /**< n discounts; the target is y = r + discount · V. */
} dr3_ac_backup_input;

/** Version of ::dr3_ac_backup_vtable in this header. */
#define DR3_AC_BACKUP_VTABLE_VERSION 1

/** @brief A continuous backup operator (replaces "min_j Q̄_j − α log π"). Experimental. */
typedef struct dr3_ac_backup_vtable {
    unsigned version; /**< ::DR3_AC_BACKUP_VTABLE_VERSION; set by the _INIT macro. */
    const char *name; /**< Short static name for messages (may be NULL). */
    /** Required: writes V(s′_i) into values[i], i < in->n. Returns 0 on success. */
    int (*next_values)(void *payload, const dr3_ac_backup_input *in, float *values);
    /** Optional: called once when the learner drops the plugin (free or replace). */
    void (*destroy)(void *payload);
} dr3_ac_backup_vtable;

/** Initializer for ::dr3_ac_backup_vtable (set next_values). */
#define DR3_AC_BACKUP_VTABLE_INIT                                                              \
    { DR3_AC_BACKUP_VTABLE_VERSION, NULL, NULL, NULL }

/** @brief Fills @p s with ::DR3_AC_BACKUP_VTABLE_INIT for struct version @p version.
 *  Experimental. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_ac_backup_vtable_init(dr3_ac_backup_vtable *s, unsigned version);

/**
 * @brief Replaces the learner's backup with a user plugin (NULL @p vtable restores the
 *        built-in one). The vtable is copied; @p payload is borrowed until the learner is
 *        freed or the backup replaced, when the plugin's destroy (if any) is called.
 *        Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner, no next_values), ::DR3_ERR_VERSION; the
 * learner is unchanged. Not thread-safe with other calls on the same learner.
 */
DR3_API dr3_status dr3_ac_learner_set_backup(dr3_ac_learner *learner,
                                             const dr3_ac_backup_vtable *vtable, void *payload);

/** Version of ::dr3_ac_reg_view in this header. */
#define DR3_AC_REG_VIEW_VERSION 1

/** @brief What a continuous regularizer sees for one online critic (read-only).
 *  Experimental. */
typedef struct dr3_ac_reg_view {
    unsigned version;   /**< The library's ::DR3_AC_REG_VIEW_VERSION. */
    size_t n;           /**< Rows. */
    size_t critic;      /**< Which online critic (0 or 1); called once per critic. */
    size_t feature_dim; /**< d, the width of φ. */
    const float *phi;   /**< n × d (contiguous): φ_j(s_i, a_i). */
    const float
        *phi_next; /**< n × d (contiguous): φ_j(s′_i, a′_i), a′ as the backup takes it. */
    const float *q;            /**< n values Q_j(s_i, a_i). */
    const float *q_next;       /**< n values Q_j(s′_i, a′_i) of the online critic. */
    const float *targets;      /**< n TD targets y_i. */
    size_t obs_dim;            /**< Observation size. */
    size_t action_dim;         /**< Action size. */
    const float *obs;          /**< n × obs_dim (contiguous): s. */
    const float *actions;      /**< n × action_dim (contiguous): a, normalised to [−1, 1]. */
    const float *next_obs;     /**< n × obs_dim (contiguous): s′. */
    const float *next_actions; /**< n × action_dim (contiguous): a′, normalised. */
} dr3_ac_reg_view;

/** Version of ::dr3_ac_reg_grads in this header. */
#define DR3_AC_REG_GRADS_VERSION 1

/** @brief Where a continuous regularizer ADDS its gradients (zeroed or holding the other
 *  terms' gradients; add, never overwrite). Experimental. */
typedef struct dr3_ac_reg_grads {
    unsigned version; /**< The library's ::DR3_AC_REG_GRADS_VERSION. */
    float *phi;       /**< n × d: dL/dφ(s, a). */
    float *phi_next;  /**< n × d: dL/dφ(s′, a′). */
    float *q;         /**< n: dL/dQ(s, a). */
    float *q_next;    /**< n: dL/dQ(s′, a′). */
} dr3_ac_reg_grads;

/** Version of ::dr3_ac_regularizer_vtable in this header. */
#define DR3_AC_REGULARIZER_VTABLE_VERSION 1

/** @brief A regularizer added to each online critic's loss. Experimental. */
typedef struct dr3_ac_regularizer_vtable {
    unsigned version; /**< ::DR3_AC_REGULARIZER_VTABLE_VERSION; set by the _INIT macro. */
    const char *name; /**< Short static name for messages (may be NULL). */
    /** Required: writes the term's loss to *loss and adds its gradients into @p grads.
     *  Returns 0 on success. */
    int (*apply)(void *payload, const dr3_ac_reg_view *view, float *loss,
                 const dr3_ac_reg_grads *grads);
    /** Optional: called once when the learner is freed. */
    void (*destroy)(void *payload);
} dr3_ac_regularizer_vtable;

/** Initializer for ::dr3_ac_regularizer_vtable (set apply). */
#define DR3_AC_REGULARIZER_VTABLE_INIT                                                         \
    { DR3_AC_REGULARIZER_VTABLE_VERSION, NULL, NULL, NULL }

/** @brief Fills @p s with ::DR3_AC_REGULARIZER_VTABLE_INIT for struct version @p version.
 *  Experimental. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_ac_regularizer_vtable_init(dr3_ac_regularizer_vtable *s,
                                                  unsigned version);

/** Most regularizer plugins one learner holds. */
#define DR3_AC_MAX_REGULARIZERS 8

/**
 * @brief Adds a regularizer plugin to every online critic's loss (after the built-in TD,
 *        CQL and DR3 terms). The vtable is copied; @p payload is borrowed until the learner
 *        is freed, when destroy (if any) is called. Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner, no apply), ::DR3_ERR_VERSION,
 * ::DR3_ERR_RANGE (already ::DR3_AC_MAX_REGULARIZERS); the learner is unchanged.
 */
DR3_API dr3_status dr3_ac_learner_add_regularizer(dr3_ac_learner *learner,
                                                  const dr3_ac_regularizer_vtable *vtable,
                                                  void *payload);

/** @brief The loss of plugin regularizer @p index in the last step, summed over the critics,
 *  into @p out. Experimental. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_RANGE. */
DR3_API dr3_status dr3_ac_learner_reg_loss(float *out, const dr3_ac_learner *learner,
                                           size_t index);

/**
 * @brief Makes @p learner one replica of a data-parallel actor-critic learner over the
 *        ranks of @p vtable (dr3/sys/collective.h; libdr3-mpi implements it on MPI).
 *        Experimental.
 * Every rank calls it with a learner created with the same options (the seed may differ).
 * It checks that each rank is held once and that the options agree (one allreduce), copies
 * rank 0's whole state (every network, optimizer, α, α′, generators, step count) to every
 * rank (one broadcast; on the other ranks the networks are replaced, so pointers from the
 * getters become invalid), and splits the generators per rank. From then on each step makes
 * one allreduce: the row-weighted mean of every gradient (critics, actor, log α, log α′),
 * so N ranks of b rows take the step one process takes on their N·b rows, for every
 * algorithm (TD3+BC's λ = α/mean|Q| is formed from the rows of all ranks after the
 * allreduce, which then also carries the actor gradient's behaviour-cloning part). The metrics'
 * TD, critic and actor losses are the ranks' means; the others describe this rank's rows. A
 * rank whose step fails before the allreduce still takes part, so all fail together and
 * nothing changes anywhere; a fingerprint (step count; every 100 steps and after a load the
 * whole state) fails the step with ::DR3_ERR_STATE when the replicas diverged. Steps are
 * therefore collective: every rank calls them the same number of times. NULL @p vtable
 * removes the collective (calling its destroy). The vtable is copied; @p payload is borrowed
 * until the learner is freed or the collective replaced.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner, a required callback missing, rank()/size()
 * out of range or inconsistent), ::DR3_ERR_VERSION, ::DR3_ERR_SHAPE (options differ across
 * ranks), ::DR3_ERR_CALLBACK (a collective call failed), ::DR3_ERR_NOMEM; on error the
 * learner is unchanged. Collective: every rank must call it.
 */
DR3_API dr3_status dr3_ac_learner_set_collective(dr3_ac_learner *learner,
                                                 const dr3_collective_vtable *vtable,
                                                 void *payload);

#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_CONTINUOUS_H */
