/**
 * @file dr3/sys/regularizer.h
 * @brief Plugin interface for regularizers: terms added to the TD loss that see a
 *        read-only view of the training step and add their own gradients.
 *
 * The built-ins (DR3, CQL, L2, feature L2; dr3/regularizer.h) are implemented on this same
 * interface. examples/custom_regularizer.c writes one outside the library.
 *
 * ABI rules: every struct begins with `struct_size` and only grows at the end; the library
 * reads `min(struct_size, sizeof)` bytes of a vtable and treats absent or NULL optional
 * callbacks as "nothing to do". Version history:
 * - 0.1: dr3_reg_view, dr3_reg_grads, dr3_regularizer_vtable {struct_size, name, apply,
 *   destroy}.
 */
#ifndef DR3_SYS_REGULARIZER_H
#define DR3_SYS_REGULARIZER_H

#include <dr3/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Read-only view of one training step, after the forward passes.
 *
 * Row-major matrices with row strides in floats; pointers valid during the call only.
 * For discrete-action Q-networks φ(s,a) = φ(s), the last hidden layer's activation.
 */
typedef struct dr3_reg_view {
    size_t struct_size;          /**< sizeof(dr3_reg_view) of the library. */
    size_t n;                    /**< Rows (transitions). */
    size_t feature_dim;          /**< d, the width of φ. */
    size_t num_actions;          /**< A. */
    size_t param_count;          /**< Length of the flat parameter vector. */
    const float *phi;            /**< φ(s_i, a_i), n × d (online network). */
    size_t ld_phi;               /**< Row stride of phi. */
    const float *phi_next;       /**< φ(s'_i, a'_i), n × d (online network). */
    size_t ld_phi_next;          /**< Row stride of phi_next. */
    const float *q;              /**< Q_θ(s_i, ·), n × A. */
    size_t ld_q;                 /**< Row stride of q. */
    const float *q_next;         /**< Q_θ(s'_i, ·), n × A (online network). */
    size_t ld_q_next;            /**< Row stride of q_next. */
    const int32_t *actions;      /**< Dataset actions a_i. */
    const int32_t *next_actions; /**< Dataset next actions a'_i, or NULL. */
    const float *discounts;      /**< γ^k (1 − terminal_i) of each transition. */
    const float *nonterminal;    /**< 1 − terminal_i (exactly 0 or 1). */
    const float *params;         /**< The online network's flat parameters. */
    uint64_t step;               /**< Optimizer steps taken before this one. */
} dr3_reg_view;

/**
 * @brief Where a regularizer ADDS its gradients (each pointer may be NULL only if the
 *        library does not offer that gradient; the learner offers all of them).
 */
typedef struct dr3_reg_grads {
    size_t struct_size; /**< sizeof(dr3_reg_grads) of the library. */
    float *phi;         /**< dL/dφ(s), n × d. */
    size_t ld_phi;      /**< Row stride. */
    float *phi_next;    /**< dL/dφ(s'), n × d: DR3's gradient through the next features. */
    size_t ld_phi_next; /**< Row stride. */
    float *q;           /**< dL/dQ(s, ·), n × A. */
    size_t ld_q;        /**< Row stride. */
    float *q_next;      /**< dL/dQ(s', ·), n × A (online network). */
    size_t ld_q_next;   /**< Row stride. */
    float *params;      /**< dL/dθ, param_count floats (direct parameter terms). */
} dr3_reg_grads;

/** @brief A regularizer: callbacks plus the caller's payload pointer. */
typedef struct dr3_regularizer_vtable {
    size_t struct_size; /**< sizeof(dr3_regularizer_vtable) as compiled by the plugin. */
    const char *name;   /**< Short static name for metrics (may be NULL). */
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

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_REGULARIZER_H */
