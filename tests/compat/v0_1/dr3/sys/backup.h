/**
 * @file dr3/sys/backup.h
 * @brief Plugin interface for TD backup operators: how V(s') is formed from the next-state
 *        Q-values, so that the TD target is y = r + discount · V(s').
 *
 * A backup is a vtable plus a payload pointer owned by the user. Built-in operators (SARSA,
 * expected and sampled TD under a policy, Q-learning max, double-Q; dr3/backup.h) are
 * implemented on this same interface. See examples/custom_backup.c for one written outside
 * the library.
 *
 * ABI rules (docs/api-stability.md): both structs begin with `struct_size` and only ever
 * grow at the end; the library reads `min(struct_size, sizeof)` bytes of a vtable and treats
 * missing or NULL optional callbacks as "use the default". Version history:
 * - 0.1: struct_size, name, next_values, destroy, requires.
 */
#ifndef DR3_SYS_BACKUP_H
#define DR3_SYS_BACKUP_H

#include <dr3/common.h>
#include <dr3/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Read-only view of a batch's next states, given to a backup operator.
 *
 * All matrices are row-major with the given row strides (in floats). Pointers are borrowed
 * for the duration of the call only.
 */
typedef struct dr3_backup_input {
    size_t struct_size;          /**< sizeof(dr3_backup_input) of the caller. */
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

/** Requirement bits for dr3_backup_vtable::requires. */
enum {
    /** The operator reads dr3_backup_input::next_actions (e.g. SARSA). */
    DR3_BACKUP_NEEDS_NEXT_ACTIONS = 1u << 0,
    /** The operator reads the online network's Q(s', ·) (e.g. double-Q). The learner always
     *  provides it; the bit documents the dependency. */
    DR3_BACKUP_NEEDS_ONLINE_NEXT = 1u << 1
};

/** @brief A backup operator: a table of callbacks plus the caller's payload. */
typedef struct dr3_backup_vtable {
    size_t struct_size; /**< sizeof(dr3_backup_vtable) as compiled by the plugin. */
    const char *name;   /**< Short static name for metrics and messages (may be NULL). */
    /**
     * Required. Writes V(s'_i) into values[i] for i < in->n. Must not keep pointers from
     * @p in. Returns 0 on success; any other value aborts the learner step with
     * ::DR3_ERR_CALLBACK before anything is modified (non-finite values do the same, with
     * ::DR3_ERR_NONFINITE).
     */
    int (*next_values)(void *payload, const dr3_backup_input *in, float *values);
    /** Optional: called once when the learner that holds this backup is freed. */
    void (*destroy)(void *payload);
    /** Bits of DR3_BACKUP_NEEDS_*; checked against each batch (0 if absent). */
    unsigned requires;
} dr3_backup_vtable;

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_BACKUP_H */
