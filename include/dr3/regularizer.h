/**
 * @file dr3/regularizer.h
 * @brief Built-in regularizers added to the TD loss.
 *
 * | kind                         | loss                                                     |
 * |------------------------------|----------------------------------------------------------|
 * | ::DR3_REG_DR3                | c0 · (1/N) Σ_i m_i · g(φ(s_i)·φ(s'_i))  (DR3)            |
 * | ::DR3_REG_CQL                | α · (1/n) Σ_i (logsumexp_a Q(s_i,a) − Q(s_i,a_i))  (CQL) |
 * | ::DR3_REG_L2                 | (λ/2) ‖θ‖²  (weight decay, gradient λθ)                  |
 * | ::DR3_REG_FEATURE_L2         | β · (1/n) Σ_i ‖φ(s_i)‖²                                  |
 *
 * DR3's m_i is 1 − terminal_i when ::DR3_REG_MASK_TERMINAL is set (else 1), g is |·| with
 * ::DR3_REG_ABS (Dopamine's choice; a no-op on ReLU features), and N = n. Gradients reach
 * both φ(s) and φ(s'), as in the paper. Coefficients used by the paper and its reference
 * code: c0 = 0.03 with CQL on Atari, c0 = 0.1 in Dopamine's DR3 agent.
 */
#ifndef DR3_REGULARIZER_H
#define DR3_REGULARIZER_H

#include <dr3/common.h>
#include <dr3/sys/regularizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Built-in regularizers. Values are fixed. */
typedef enum dr3_regularizer_kind {
    DR3_REG_DR3 = 0,       /**< Feature dot product of consecutive state-actions. */
    DR3_REG_CQL = 1,       /**< Discrete CQL(H). */
    DR3_REG_L2 = 2,        /**< Weight decay on all parameters. */
    DR3_REG_FEATURE_L2 = 3 /**< Squared norm of φ(s). */
} dr3_regularizer_kind;

/** Flags for ::DR3_REG_DR3. */
enum {
    DR3_REG_ABS = 1u << 0,          /**< |φ·φ'| per row. */
    DR3_REG_MASK_TERMINAL = 1u << 1 /**< Drop rows whose transition is terminal. */
};

/** Options of a built-in regularizer. */
typedef struct dr3_regularizer_options {
    size_t struct_size;        /**< sizeof(dr3_regularizer_options); set by the _INIT macro. */
    dr3_regularizer_kind kind; /**< Which term (default ::DR3_REG_DR3). */
    float coef;                /**< c0, α, λ or β (finite, >= 0; default 0.1). */
    unsigned flags;            /**< DR3_REG_* flags (DR3 only; others must be 0). */
} dr3_regularizer_options;

/** Initializer for ::dr3_regularizer_options: DR3 with c0 = 0.1, plain mean. */
#define DR3_REGULARIZER_OPTIONS_INIT                                                           \
    { sizeof(dr3_regularizer_options), DR3_REG_DR3, 0.1f, 0u }

/** @brief A static name ("dr3", "cql", "l2", "feature_l2"), NULL for an unknown kind. */
DR3_API const char *dr3_regularizer_kind_name(dr3_regularizer_kind kind);

/**
 * @brief Evaluates a built-in regularizer on a step view and ADDS its gradients, for use in
 *        a custom loop (the learner calls the same code).
 *
 * Errors: ::DR3_ERR_INVALID_ARG (bad options, missing view fields or gradient buffers the
 * term needs), ::DR3_ERR_RANGE (action out of range), ::DR3_ERR_NONFINITE. Nothing is
 * written on error. Thread-safe.
 */
DR3_API dr3_status dr3_regularizer_apply(const dr3_regularizer_options *opts,
                                         const dr3_reg_view *view, const dr3_reg_grads *grads,
                                         float *loss);

#ifdef __cplusplus
}
#endif

#endif /* DR3_REGULARIZER_H */
