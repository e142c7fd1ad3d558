/* Stateless losses with gradients (dr3/loss.h). Each function validates everything before
 * it writes anything, sums in double, and adds (never assigns) into gradient buffers. */
#include <dr3/loss.h>

#include "../core/internal.h"
#include "../kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

/* Validates an n×d row-major float matrix argument. */
static dr3_status check_matrix(const char *fn, const char *name, size_t n, size_t d,
                               const void *p, size_t ld, const char *ld_name) {
    if (n == 0) return DR3_OK;
    if (p == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL with n = %zu", fn, name, n);
    if (ld < d)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s (%zu) < d (%zu)", fn, ld_name, ld, d);
    size_t span;
    if (!dr3i_span(n, d, ld, &span) || !dr3i_mul(span, sizeof(float), &span))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s of %zu rows with stride %zu overflows", fn,
                         name, n, ld);
    return DR3_OK;
}

static dr3_status feature_dot(const char *fn, size_t n, size_t d, const float *phi,
                              size_t ld_phi, const float *phi_next, size_t ld_next,
                              const float *mask, unsigned flags, float coef, float *loss,
                              float *grad_phi, float *grad_next) {
    dr3_status st;
    if (loss == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: loss is NULL", fn);
    if (flags & ~(unsigned)(DR3_DOT_ABS | DR3_DOT_MASK_MEAN))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown flags 0x%x", fn,
                         flags & ~(unsigned)(DR3_DOT_ABS | DR3_DOT_MASK_MEAN));
    if (!isfinite(coef)) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: coef is not finite", fn);
    if (n > 0 && d == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: d is 0 with n = %zu", fn, n);
    if ((st = check_matrix(fn, "phi", n, d, phi, ld_phi, "ld_phi")) != DR3_OK) return st;
    if ((st = check_matrix(fn, "phi_next", n, d, phi_next, ld_next, "ld_next")) != DR3_OK)
        return st;
    if (!dr3i_matrix_finite(phi, n, d, ld_phi))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: phi contains NaN or Inf", fn);
    if (!dr3i_matrix_finite(phi_next, n, d, ld_next))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: phi_next contains NaN or Inf", fn);
    if (mask != NULL && !dr3i_all_finite(mask, n, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: mask contains NaN or Inf", fn);

    double denom = (double)n;
    if (mask != NULL && (flags & DR3_DOT_MASK_MEAN)) {
        denom = 0.0;
        for (size_t i = 0; i < n; i++) denom += mask[i];
    }
    if (n == 0 || denom == 0.0) {
        *loss = 0.0f;
        return DR3_OK;
    }
    const double scale = (double)coef / denom;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *a = phi + i * ld_phi, *b = phi_next + i * ld_next;
        double dot = 0.0;
        for (size_t j = 0; j < d; j++) dot += (double)a[j] * (double)b[j];
        double m = mask ? (double)mask[i] : 1.0;
        double sign = 1.0;
        if (flags & DR3_DOT_ABS) {
            sign = dot > 0.0 ? 1.0 : (dot < 0.0 ? -1.0 : 0.0);
            dot = dot < 0.0 ? -dot : dot;
        }
        total += m * dot;
        float g = (float)(scale * m * sign);
        if (g == 0.0f) continue;
        if (grad_phi != NULL) {
            float *ga = grad_phi + i * ld_phi;
            for (size_t j = 0; j < d; j++) ga[j] += g * b[j];
        }
        if (grad_next != NULL) {
            float *gb = grad_next + i * ld_next;
            for (size_t j = 0; j < d; j++) gb[j] += g * a[j];
        }
    }
    *loss = (float)(scale * total);
    return DR3_OK;
}

dr3_status dr3_feature_dot_loss(size_t n, size_t d, const float *phi, size_t ld_phi,
                                const float *phi_next, size_t ld_next, float coef, float *loss,
                                float *grad_phi, float *grad_next) {
    return feature_dot(__func__, n, d, phi, ld_phi, phi_next, ld_next, NULL, 0, coef, loss,
                       grad_phi, grad_next);
}

dr3_status dr3_feature_dot_loss_ex(size_t n, size_t d, const float *phi, size_t ld_phi,
                                   const float *phi_next, size_t ld_next, const float *mask,
                                   unsigned flags, float coef, float *loss, float *grad_phi,
                                   float *grad_next) {
    return feature_dot(__func__, n, d, phi, ld_phi, phi_next, ld_next, mask, flags, coef, loss,
                       grad_phi, grad_next);
}

dr3_status dr3_td_loss(size_t n, const float *q, const float *target, const float *weights,
                       dr3_td_kind kind, float delta, float *loss, float *grad_q) {
    static const char fn[] = "dr3_td_loss";
    if (loss == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: loss is NULL", fn);
    if (kind != DR3_TD_MSE && kind != DR3_TD_HUBER)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown kind %d", fn, (int)kind);
    if (kind == DR3_TD_HUBER && !(isfinite(delta) && delta > 0.0f))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: Huber delta must be finite and > 0", fn);
    if (n > 0 && (q == NULL || target == NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL with n = %zu", fn,
                         q == NULL ? "q" : "target", n);
    if (n > SIZE_MAX / sizeof(float))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: n = %zu overflows", fn, n);
    if (!dr3i_all_finite(q, n, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: q contains NaN or Inf", fn);
    if (!dr3i_all_finite(target, n, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: target contains NaN or Inf", fn);
    if (weights != NULL && !dr3i_all_finite(weights, n, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: weights contain NaN or Inf", fn);
    if (n == 0) {
        *loss = 0.0f;
        return DR3_OK;
    }
    const double inv_n = 1.0 / (double)n, dl = (double)delta;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)q[i] - (double)target[i];
        double w = weights ? (double)weights[i] : 1.0;
        double l, g;
        if (kind == DR3_TD_MSE) {
            l = x * x;
            g = 2.0 * x;
        } else if (fabs(x) <= dl) {
            l = 0.5 * x * x;
            g = x;
        } else {
            l = dl * (fabs(x) - 0.5 * dl);
            g = x > 0 ? dl : -dl;
        }
        total += w * l;
        if (grad_q != NULL) grad_q[i] += (float)(w * g * inv_n);
    }
    *loss = (float)(total * inv_n);
    return DR3_OK;
}

dr3_status dr3_cql_loss(size_t n, size_t num_actions, const float *q, size_t ld_q,
                        const int32_t *actions, float alpha, float *loss, float *grad_q) {
    static const char fn[] = "dr3_cql_loss";
    dr3_status st;
    if (loss == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: loss is NULL", fn);
    if (!isfinite(alpha)) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: alpha is not finite", fn);
    if (n > 0 && num_actions == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: num_actions is 0", fn);
    if ((st = check_matrix(fn, "q", n, num_actions, q, ld_q, "ld_q")) != DR3_OK) return st;
    if (n > 0 && actions == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: actions is NULL with n = %zu", fn, n);
    for (size_t i = 0; i < n; i++)
        if (actions[i] < 0 || (size_t)actions[i] >= num_actions)
            return dr3i_fail(DR3_ERR_RANGE, "%s: actions[%zu] = %d is outside [0, %zu)", fn, i,
                             (int)actions[i], num_actions);
    if (!dr3i_matrix_finite(q, n, num_actions, ld_q))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: q contains NaN or Inf", fn);
    if (n == 0) {
        *loss = 0.0f;
        return DR3_OK;
    }
    const double scale = (double)alpha / (double)n;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *row = q + i * ld_q;
        double mx = row[0];
        for (size_t a = 1; a < num_actions; a++)
            if (row[a] > mx) mx = row[a];
        double sum = 0.0;
        for (size_t a = 0; a < num_actions; a++) sum += exp((double)row[a] - mx);
        double lse = mx + log(sum);
        total += lse - (double)row[actions[i]];
        if (grad_q != NULL) {
            float *g = grad_q + i * ld_q;
            for (size_t a = 0; a < num_actions; a++) {
                double p = exp((double)row[a] - lse);
                g[a] += (float)(scale * (p - (a == (size_t)actions[i] ? 1.0 : 0.0)));
            }
        }
    }
    *loss = (float)(scale * total);
    return DR3_OK;
}

/* ---- srank ------------------------------------------------------------------------ */

size_t dr3_srank_workspace(size_t n, size_t d) {
    size_t k = n < d ? n : d, kk, nd, out;
    if (!dr3i_mul(k, k, &kk) || !dr3i_mul(n, d, &nd) || !dr3i_add(kk, k, &out) ||
        !dr3i_add(out, nd, &out) || out > SIZE_MAX / sizeof(double))
        return 0;
    return out;
}

/* Eigenvalues of the symmetric k×k matrix g (row-major, destroyed) by cyclic Jacobi
 * rotations (Golub & Van Loan, Matrix Computations, §8.5), written to ev. */
static void jacobi_eigenvalues(double *g, size_t k, double *ev) {
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t p = 0; p < k; p++) {
            diag += g[p * k + p] * g[p * k + p];
            for (size_t q2 = p + 1; q2 < k; q2++) off += g[p * k + q2] * g[p * k + q2];
        }
        if (off <= 1e-30 * diag || off == 0.0) break;
        for (size_t p = 0; p + 1 < k; p++) {
            for (size_t r = p + 1; r < k; r++) {
                double apq = g[p * k + r];
                if (apq == 0.0) continue;
                double app = g[p * k + p], aqq = g[r * k + r];
                double theta = (aqq - app) / (2.0 * apq);
                double t =
                    (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t j = 0; j < k; j++) { /* rows p and r */
                    double gpj = g[p * k + j], grj = g[r * k + j];
                    g[p * k + j] = c * gpj - s * grj;
                    g[r * k + j] = s * gpj + c * grj;
                }
                for (size_t j = 0; j < k; j++) { /* columns p and r */
                    double gjp = g[j * k + p], gjr = g[j * k + r];
                    g[j * k + p] = c * gjp - s * gjr;
                    g[j * k + r] = s * gjp + c * gjr;
                }
                g[p * k + r] = g[r * k + p] = 0.0;
            }
        }
    }
    for (size_t i = 0; i < k; i++) ev[i] = g[i * k + i];
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

dr3_status dr3_srank(size_t n, size_t d, const float *phi, size_t ld_phi, double delta,
                     double *work, size_t work_len, size_t *rank, float *sv) {
    static const char fn[] = "dr3_srank";
    dr3_status st;
    if (rank == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: rank is NULL", fn);
    if (!(delta >= 0.0 && delta < 1.0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: delta must be in [0, 1)", fn);
    if (n > 0 && d == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: d is 0 with n = %zu", fn, n);
    if ((st = check_matrix(fn, "phi", n, d, phi, ld_phi, "ld_phi")) != DR3_OK) return st;
    size_t need = dr3_srank_workspace(n, d);
    if (n > 0 && need == 0)
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %zu x %zu is too large", fn, n, d);
    if (work != NULL && work_len < need)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: work_len %zu < %zu required", fn, work_len,
                         need);
    if (!dr3i_matrix_finite(phi, n, d, ld_phi))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: phi contains NaN or Inf", fn);
    if (n == 0) {
        *rank = 0;
        return DR3_OK;
    }
    const size_t k = n < d ? n : d;
    double *own = work == NULL ? malloc(need * sizeof(double)) : NULL;
    if (work == NULL && own == NULL)
        return dr3i_fail(DR3_ERR_NOMEM, "%s: cannot allocate workspace", fn);
    double *w = work != NULL ? work : own;
    /* A double copy of phi, so the Gram product is formed in double precision. */
    double *copy = w + k * k + k;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) copy[i * d + j] = (double)phi[i * ld_phi + j];
    double *gram = w, *ev = w + k * k;
    if (d <= n) /* G = ΦᵀΦ, d×d */
        dr3k_dgemm(1, true, false, d, d, n, 1.0, copy, d, copy, d, 0.0, gram, d);
    else /* G = ΦΦᵀ, n×n: same non-zero eigenvalues */
        dr3k_dgemm(1, false, true, n, n, d, 1.0, copy, d, copy, d, 0.0, gram, n);
    jacobi_eigenvalues(gram, k, ev);
    for (size_t i = 0; i < k; i++) ev[i] = ev[i] > 0.0 ? sqrt(ev[i]) : 0.0;
    qsort(ev, k, sizeof(double), cmp_desc);
    double total = 0.0;
    for (size_t i = 0; i < k; i++) total += ev[i];
    size_t r = 0;
    if (total > 0.0) {
        double acc = 0.0;
        for (r = 0; r < k;) {
            acc += ev[r++];
            if (acc / total >= 1.0 - delta) break;
        }
    }
    if (sv != NULL)
        for (size_t i = 0; i < k; i++) sv[i] = (float)ev[i];
    free(own);
    *rank = r;
    return DR3_OK;
}

DR3I_ENUM_NAMES(dr3_td_kind, dr3_td_kind, "mse", "huber")
