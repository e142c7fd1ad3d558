/**
 * @file dr3/sys/regularizer.h
 * @brief Plugin interface for regularizers: terms added to the TD loss that see a
 *        read-only view of the training step and add their own gradients.
 *
 * The built-ins (DR3, CQL, L2, feature L2; dr3/regularizer.h) are implemented on this same
 * interface. examples/custom_regularizer.c writes one outside the library.
 *
 * ABI rules (docs/api-stability.md): the vtable begins with `unsigned version`
 * (::DR3_REGULARIZER_VTABLE_VERSION of the plugin's header) and only grows at the end; the
 * library reads the fields of the plugin's version and treats later fields, and NULL
 * optional callbacks, as "nothing to do". The view and gradient structs the library passes
 * carry the library's version: check `view->version` before reading a field added after
 * version 1. A plugin explains a failure with dr3_error_set() (dr3/sys/errors.h).
 * Version history:
 * - 1 (libdr3 1.0): version, name, apply, destroy. (0.1 plugins, whose vtables began with
 *   `size_t struct_size`, are refused with ::DR3_ERR_VERSION and a message to rebuild.)
 */
#ifndef DR3_SYS_REGULARIZER_H
#define DR3_SYS_REGULARIZER_H

#include <dr3/common.h>
#include <dr3/regularizer.h>
#include <dr3/sys/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of ::dr3_regularizer_vtable in this header (1: as released in 1.0). */
#define DR3_REGULARIZER_VTABLE_VERSION 1

/** @brief A regularizer: callbacks plus the caller's payload pointer. */
typedef struct dr3_regularizer_vtable {
    unsigned version; /**< ::DR3_REGULARIZER_VTABLE_VERSION; set by the _INIT macro. */
    const char *name; /**< Short static name for metrics (may be NULL). */
    /**
     * Required. Computes the term's loss into *loss and ADDS its gradients into @p grads.
     * Returns 0 on success; any other value aborts the step with ::DR3_ERR_CALLBACK before
     * the parameters or optimizer state change.
     */
    int (*apply)(void *payload, const dr3_reg_view *view, const dr3_reg_grads *grads,
                 float *loss);
    /** Optional: called once when the learner holding it is freed. */
    void (*destroy)(void *payload);
} dr3_regularizer_vtable;

/** Initializer for ::dr3_regularizer_vtable: no callbacks (set apply). */
#define DR3_REGULARIZER_VTABLE_INIT                                                            \
    { DR3_REGULARIZER_VTABLE_VERSION, NULL, NULL, NULL }

/** @brief Fills @p s with ::DR3_REGULARIZER_VTABLE_INIT for struct version @p version (pass
 *  ::DR3_REGULARIZER_VTABLE_VERSION), for language bindings. Errors: ::DR3_ERR_INVALID_ARG,
 *  ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_regularizer_vtable_init(dr3_regularizer_vtable *s, unsigned version);

/** Opaque learner handle (dr3/learner.h). */
typedef struct dr3_learner dr3_learner;

/**
 * @brief Appends a user regularizer after the learner's built-in ones. The vtable is read
 *        (fields of its version) and copied; @p payload is borrowed until the learner is
 *        freed, when the destroy callback (if any) is called. There is no fixed limit on the
 *        number of regularizers; this call allocates (never the step).
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner or vtable, no apply callback),
 * ::DR3_ERR_VERSION (version 0, a 0.1 vtable, or a newer one), ::DR3_ERR_NOMEM; the learner
 * is unchanged on error. Not thread-safe with other calls on the same learner.
 */
DR3_API dr3_status dr3_learner_add_regularizer(dr3_learner *learner,
                                               const dr3_regularizer_vtable *vtable,
                                               void *payload);

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_REGULARIZER_H */
