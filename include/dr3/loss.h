/**
 * @file dr3/loss.h
 * @brief Stateless losses with gradients: the DR3 feature dot product, TD (MSE / Huber),
 *        the discrete CQL term, and the srank diagnostic.
 *
 * These functions work on plain float arrays, so they fit any training loop, including one
 * whose network is not a libdr3 network (see examples/custom_loop.c). All of them:
 * - validate every argument first and write nothing (not even @p loss) when they fail;
 * - ADD their gradient into the gradient buffers given (so several losses can share one
 *   buffer); pass NULL to skip a gradient;
 * - accumulate sums in double precision, so results do not depend on the batch order
 *   beyond float rounding of the final value;
 * - reject non-finite inputs that reach the loss with ::DR3_ERR_NONFINITE;
 * - are thread-safe (no shared state) and do not allocate, except dr3_srank() when it is not
 *   given a workspace.
 * Row-major matrices are given by a pointer and a leading dimension (row stride, in floats).
 */
#ifndef DR3_LOSS_H
#define DR3_LOSS_H

#include <dr3/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The DR3 regulariser: loss = coef * (1/n) * Σ_i φ_i · φ'_i.
 *
 * @param n         rows (batch size); n = 0 gives loss 0.
 * @param d         feature dimension (> 0 when n > 0).
 * @param phi       n×d features φ(s_i, a_i), row stride @p ld_phi (>= d).
 * @param ld_phi    row stride of @p phi and @p grad_phi, in floats.
 * @param phi_next  n×d features φ(s'_i, a'_i), row stride @p ld_next (>= d).
 * @param ld_next   row stride of @p phi_next and @p grad_next, in floats.
 * @param coef      the DR3 coefficient c0 (finite; 0.03 with CQL on Atari and 0.1 in
 *                  Dopamine's DR3 configuration are the values used in the paper's code).
 * @param loss      out: the loss (must not be NULL).
 * @param grad_phi  if non-NULL, coef/n * φ'_i is ADDED to row i (stride @p ld_phi).
 * @param grad_next if non-NULL, coef/n * φ_i is ADDED to row i (stride @p ld_next).
 *
 * The paper backpropagates through both φ and φ' (both from the online network).
 * Returns ::DR3_OK; ::DR3_ERR_INVALID_ARG for NULL data with n > 0, NULL @p loss, d = 0
 * with n > 0, ld < d, non-finite coef; ::DR3_ERR_OVERFLOW if n*ld overflows;
 * ::DR3_ERR_NONFINITE if a feature is NaN/Inf. Nothing is written on error.
 */
DR3_API dr3_status dr3_feature_dot_loss(size_t n, size_t d, const float *phi, size_t ld_phi,
                                        const float *phi_next, size_t ld_next, float coef,
                                        float *loss, float *grad_phi, float *grad_next);

/** Flags for dr3_feature_dot_loss_ex(). */
enum {
    /** Use |φ_i · φ'_i| per row, as Dopamine's DR3 agent does (a no-op on ReLU features). */
    DR3_DOT_ABS = 1u << 0,
    /** Divide by Σ_i mask_i instead of n (the mean over unmasked rows; 0 if all masked). */
    DR3_DOT_MASK_MEAN = 1u << 1
};

/**
 * @brief dr3_feature_dot_loss() with the variants used by the reference implementations.
 *
 * loss = coef * (1/N) * Σ_i m_i * g(φ_i · φ'_i), where m_i = mask[i] (or 1 if @p mask is
 * NULL; typically 1 − terminal_i), g is the identity or |·| (::DR3_DOT_ABS), and N = n, or
 * Σ_i m_i with ::DR3_DOT_MASK_MEAN. The gradient of |x| at x = 0 is taken as 0.
 * @p mask, if given, has n finite entries. Unknown bits in @p flags are an error
 * (::DR3_ERR_INVALID_ARG), so a program can detect a library too old for a flag.
 * Other arguments and errors as dr3_feature_dot_loss().
 */
DR3_API dr3_status dr3_feature_dot_loss_ex(size_t n, size_t d, const float *phi, size_t ld_phi,
                                           const float *phi_next, size_t ld_next,
                                           const float *mask, unsigned flags, float coef,
                                           float *loss, float *grad_phi, float *grad_next);

/** TD loss kinds. Values are fixed. */
typedef enum dr3_td_kind {
    /** Mean squared error, mean_i (q_i − y_i)², as torch.nn.functional.mse_loss. */
    DR3_TD_MSE = 0,
    /** Huber with threshold δ: 0.5 x² if |x| <= δ else δ(|x| − 0.5 δ), averaged, as
     *  torch.nn.functional.huber_loss (δ = 1 is Dopamine's and DQN's choice). */
    DR3_TD_HUBER = 1
} dr3_td_kind;

/** @brief A static name for a ::dr3_td_kind value ("mse", "huber"), or NULL for an
 *  unknown value. Thread-safe. */
DR3_API const char *dr3_td_kind_name(dr3_td_kind value);

/** @brief Parses a name given by dr3_td_kind_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_td_kind_parse(dr3_td_kind *out, const char *name);

/**
 * @brief TD regression loss of predictions q (= Q(s_i, a_i)) against targets y.
 *
 * loss = (1/n) Σ_i w_i ℓ(q_i − y_i), with w_i = weights[i] or 1 if @p weights is NULL
 * (e.g. prioritized-replay importance weights). If @p grad_q is non-NULL, dloss/dq_i is ADDED
 * to grad_q[i]. Targets are constants (no gradient), as in every TD method.
 * @p delta is used by ::DR3_TD_HUBER only and must be finite and > 0 there.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL with n > 0, bad kind, bad delta),
 * ::DR3_ERR_NONFINITE (NaN/Inf in q, y or weights). Nothing is written on error.
 */
DR3_API dr3_status dr3_td_loss(size_t n, const float *q, const float *target,
                               const float *weights, dr3_td_kind kind, float delta, float *loss,
                               float *grad_q);

/**
 * @brief The discrete-action CQL(H) term: alpha * (1/n) Σ_i (logsumexp_a Q(s_i,a) −
 * Q(s_i,a_i)).
 *
 * @param n, num_actions  batch size and number of actions (> 0 when n > 0).
 * @param q       n×num_actions Q-values, row stride @p ld_q (>= num_actions).
 * @param ld_q    row stride of @p q and @p grad_q, in floats.
 * @param actions n dataset actions, each in [0, num_actions).
 * @param alpha   CQL weight (finite).
 * @param loss    out: the loss (must not be NULL).
 * @param grad_q  if non-NULL, alpha/n * (softmax(Q(s_i,·)) − onehot(a_i)) is ADDED to row i.
 * The log-sum-exp is computed stably (max-shifted). Errors: ::DR3_ERR_INVALID_ARG,
 * ::DR3_ERR_RANGE (an action out of range), ::DR3_ERR_NONFINITE. Nothing written on error.
 */
DR3_API dr3_status dr3_cql_loss(size_t n, size_t num_actions, const float *q, size_t ld_q,
                                const int32_t *actions, float alpha, float *loss,
                                float *grad_q);

/**
 * @brief Number of doubles of workspace dr3_srank() needs for an n×d matrix:
 *        n*d + k*k + k where k = min(n, d); 0 on overflow.
 */
DR3_API size_t dr3_srank_workspace(size_t n, size_t d);

/**
 * @brief The effective rank srank_δ(Φ) = min{k : Σ_{i<=k} σ_i / Σ_i σ_i >= 1 − δ} of an n×d
 *        feature matrix (Kumar et al., "Implicit under-parameterization", 2021; used by DR3).
 *
 * Method: the Gram matrix of the smaller side (ΦᵀΦ if d <= n, else ΦΦᵀ) is formed in double
 * precision with BLIS, its eigenvalues are found by the cyclic Jacobi method (accurate to a
 * few ulps of the largest), and σ_i = sqrt(max(λ_i, 0)). Squaring loses singular values below
 * ~1e-8·σ_max, whose share of Σσ is far under any useful δ, so srank is unaffected.
 *
 * @param n         rows of the feature matrix.
 * @param d         columns (feature dimension).
 * @param phi       n×d features, row stride @p ld_phi (>= d).
 * @param ld_phi    row stride in floats.
 * @param delta     threshold in [0, 1) (the paper uses 0.01).
 * @param work      NULL (allocate internally with malloc) or at least
 *                  dr3_srank_workspace(n, d) doubles.
 * @param work_len  length of @p work in doubles (ignored when @p work is NULL).
 * @param rank      out: srank (0 for an all-zero matrix or n = 0).
 * @param sv        if non-NULL, receives the min(n,d) singular values in descending order.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_OVERFLOW, ::DR3_ERR_NOMEM, ::DR3_ERR_NONFINITE.
 * With a workspace it does not allocate. Not for the inner training loop: O(n·k² + k³) work.
 */
DR3_API dr3_status dr3_srank(size_t n, size_t d, const float *phi, size_t ld_phi, double delta,
                             double *work, size_t work_len, size_t *rank, float *sv);

#ifdef __cplusplus
}
#endif

#endif /* DR3_LOSS_H */
