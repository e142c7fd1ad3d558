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

#ifdef __cplusplus
extern "C" {
#endif

/** Version of ::dr3_reg_view in this header (1: as released in 1.0). */
#define DR3_REG_VIEW_VERSION 1

/**
 * @brief Read-only view of one training step, after the forward passes.
 *
 * Row-major matrices with row strides in floats; pointers valid during the call only.
 * For discrete-action Q-networks φ(s,a) = φ(s), the last hidden layer's activation.
 */
typedef struct dr3_reg_view {
    unsigned version;            /**< ::DR3_REG_VIEW_VERSION (the library's, in a plugin). */
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

/** Initializer for ::dr3_reg_view: everything empty. */
#define DR3_REG_VIEW_INIT                                                                      \
    {                                                                                          \
        DR3_REG_VIEW_VERSION, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL,      \
            NULL, NULL, NULL, 0                                                                \
    }

/** @brief Fills @p s with ::DR3_REG_VIEW_INIT for struct version @p version. Errors:
 *  ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_reg_view_init(dr3_reg_view *s, unsigned version);

/** Version of ::dr3_reg_grads in this header (1: as released in 1.0). */
#define DR3_REG_GRADS_VERSION 1

/**
 * @brief Where a regularizer ADDS its gradients (each pointer may be NULL only if the
 *        library does not offer that gradient; the learner offers all of them).
 */
typedef struct dr3_reg_grads {
    unsigned version;   /**< ::DR3_REG_GRADS_VERSION (the library's, in a plugin). */
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

/** Initializer for ::dr3_reg_grads: no gradient buffers. */
#define DR3_REG_GRADS_INIT                                                                     \
    { DR3_REG_GRADS_VERSION, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL }

/** @brief Fills @p s with ::DR3_REG_GRADS_INIT for struct version @p version. Errors:
 *  ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION. Thread-safe. */
DR3_API dr3_status dr3_reg_grads_init(dr3_reg_grads *s, unsigned version);

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

/** Version of ::dr3_regularizer_options in this header (1: as released in 1.0). */
#define DR3_REGULARIZER_OPTIONS_VERSION 1

/** Options of a built-in regularizer. */
typedef struct dr3_regularizer_options {
    unsigned version;          /**< ::DR3_REGULARIZER_OPTIONS_VERSION; set by the _INIT macro or
                                  dr3_regularizer_options_init(). */
    dr3_regularizer_kind kind; /**< Which term (default ::DR3_REG_DR3). */
    float coef;                /**< c0, α, λ or β (finite, >= 0; default 0.1). */
    unsigned flags;            /**< DR3_REG_* flags (DR3 only; others must be 0). */
} dr3_regularizer_options;

/** Initializer for ::dr3_regularizer_options: DR3 with c0 = 0.1, plain mean. */
#define DR3_REGULARIZER_OPTIONS_INIT                                                           \
    { DR3_REGULARIZER_OPTIONS_VERSION, DR3_REG_DR3, 0.1f, 0u }

/** @brief Fills @p s with the defaults of ::DR3_REGULARIZER_OPTIONS_INIT for struct version @p
 * version (pass ::DR3_REGULARIZER_OPTIONS_VERSION), for language bindings that cannot use C
 * macros. Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_regularizer_options_init(dr3_regularizer_options *s, unsigned version);

/** @brief A static name ("dr3", "cql", "l2", "feature_l2"), NULL for an unknown kind. */
DR3_API const char *dr3_regularizer_kind_name(dr3_regularizer_kind kind);

/** @brief Parses a name as given by dr3_regularizer_kind_name() into @p out.
 *  Returns ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_regularizer_kind_parse(dr3_regularizer_kind *out, const char *name);

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
