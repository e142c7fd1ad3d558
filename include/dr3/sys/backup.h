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
 * ABI rules (docs/api-stability.md): the vtable begins with `unsigned version`
 * (::DR3_BACKUP_VTABLE_VERSION of the header the plugin was built with) and only ever grows
 * at the end; the library reads the fields of the plugin's version and treats fields of
 * later versions, and NULL optional callbacks, as "use the default". A plugin explains a
 * failure with dr3_error_set() (dr3/sys/errors.h). Version history:
 * - 1 (libdr3 1.0): version, name, next_values, destroy, needs.
 *   (0.1's `size_t struct_size` and `unsigned requires` are gone; 0.1 plugins are refused
 *   with ::DR3_ERR_VERSION and a message asking for a rebuild.)
 */
#ifndef DR3_SYS_BACKUP_H
#define DR3_SYS_BACKUP_H

#include <dr3/backup.h>
#include <dr3/common.h>
#include <dr3/sys/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Requirement bits for dr3_backup_vtable::needs. */
enum {
    /** The operator reads dr3_backup_input::next_actions (e.g. SARSA). */
    DR3_BACKUP_NEEDS_NEXT_ACTIONS = 1u << 0,
    /** The operator reads the online network's Q(s', ·) (e.g. double-Q). The learner always
     *  provides it; the bit documents the dependency. */
    DR3_BACKUP_NEEDS_ONLINE_NEXT = 1u << 1
};

/** Version of ::dr3_backup_vtable in this header (1: as released in 1.0). */
#define DR3_BACKUP_VTABLE_VERSION 1

/** @brief A backup operator: a table of callbacks plus the caller's payload. */
typedef struct dr3_backup_vtable {
    unsigned version; /**< ::DR3_BACKUP_VTABLE_VERSION; set by the _INIT macro. */
    const char *name; /**< Short static name for metrics and messages (may be NULL). */
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
    unsigned needs;
} dr3_backup_vtable;

/** Initializer for ::dr3_backup_vtable: no callbacks, no requirements (set next_values). */
#define DR3_BACKUP_VTABLE_INIT                                                                 \
    { DR3_BACKUP_VTABLE_VERSION, NULL, NULL, NULL, 0u }

/** @brief Fills @p s with ::DR3_BACKUP_VTABLE_INIT for struct version @p version (pass
 *  ::DR3_BACKUP_VTABLE_VERSION), for language bindings. Errors: ::DR3_ERR_INVALID_ARG,
 *  ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_backup_vtable_init(dr3_backup_vtable *s, unsigned version);

/** Opaque learner handle (dr3/learner.h). */
typedef struct dr3_learner dr3_learner;

/**
 * @brief Replaces a learner's backup operator with a user plugin. The vtable is read
 *        (fields of its version) and copied; @p payload is borrowed until the learner is
 *        freed or the backup replaced, when the previous plugin's destroy callback (if any)
 *        is called.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner or vtable, no next_values callback, unknown
 * requirement bits), ::DR3_ERR_VERSION (version 0, a 0.1 vtable, or a newer one); the
 * learner is unchanged. Not thread-safe with other calls on the same learner.
 */
DR3_API dr3_status dr3_learner_set_backup(dr3_learner *learner, const dr3_backup_vtable *vtable,
                                          void *payload);

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_BACKUP_H */
