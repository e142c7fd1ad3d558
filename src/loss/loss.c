/* Stateless losses with gradients (dr3/loss.h). Each function validates everything before
 * it writes anything, sums in double (dot products in dr3i_dot_f64's fixed order), and adds
 * (never assigns) into gradient buffers. */
#include <dr3/loss.h>

#include "../core/internal.h"
#include "../kernels/kernels.h"

#include <float.h>
#include <math.h>
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
        double dot = dr3i_dot_f64(a, b, d);
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

/* Eigenvalues of a symmetric k×k matrix: Householder reduction to tridiagonal form (Golub &
 * Van Loan, Matrix Computations, §8.3.1), then each eigenvalue of the tridiagonal matrix by
 * bisection on Sturm sequence counts (§8.4.1). O(k³) once plus O(k²) per bisection step;
 * the cyclic Jacobi sweeps used before cost O(k³) each, with column-strided access.
 *
 * tridiagonalize: g (row-major, destroyed) → diagonal diag[k] and sub-diagonal off[k-1];
 * v and p are k doubles each of scratch (used only when k >= 3). */
static void tridiagonalize(double *g, size_t k, double *diag, double *off, double *v,
                           double *p) {
    for (size_t c = 0; c + 2 < k; c++) {
        /* the reflector H = I − 2vvᵀ maps g[c+1.., c] onto a multiple of e1 */
        size_t m = k - c - 1;
        const double *x = g + (c + 1) * k + c; /* column c below the diagonal, stride k */
        double norm = 0.0;
        for (size_t i = 0; i < m; i++) norm += x[i * k] * x[i * k];
        norm = sqrt(norm);
        diag[c] = g[c * k + c];
        if (norm == 0.0) {
            off[c] = 0.0;
            continue;
        }
        double alpha = x[0] > 0 ? -norm : norm;
        for (size_t i = 0; i < m; i++) v[i] = x[i * k];
        v[0] -= alpha;
        double vn = 0.0;
        for (size_t i = 0; i < m; i++) vn += v[i] * v[i];
        vn = sqrt(vn);
        off[c] = alpha;
        if (vn == 0.0) continue;
        for (size_t i = 0; i < m; i++) v[i] /= vn;
        /* trailing block A ← HAH = A − 2vwᵀ − 2wvᵀ with p = Av, w = p − (vᵀp)v */
        double *a = g + (c + 1) * k + (c + 1);
        double vp = 0.0;
        for (size_t i = 0; i < m; i++) {
            double s = 0.0;
            for (size_t j = 0; j < m; j++) s += a[i * k + j] * v[j];
            p[i] = s;
            vp += v[i] * s;
        }
        for (size_t i = 0; i < m; i++) p[i] -= vp * v[i];
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) a[i * k + j] -= 2.0 * (v[i] * p[j] + p[i] * v[j]);
    }
    if (k >= 2) {
        diag[k - 2] = g[(k - 2) * k + (k - 2)];
        off[k - 2] = g[(k - 1) * k + (k - 2)];
    }
    diag[k - 1] = g[(k - 1) * k + (k - 1)];
}

/* Number of eigenvalues of the tridiagonal (diag, off) below x (Sturm count, LDLᵀ pivots). */
static size_t sturm_below(const double *diag, const double *off, size_t k, double x,
                          double tiny) {
    size_t count = 0;
    double q = diag[0] - x;
    for (size_t i = 0;;) {
        if (q == 0.0) q = -tiny;
        if (q < 0.0) count++;
        if (++i == k) break;
        q = diag[i] - x - off[i - 1] * off[i - 1] / q;
    }
    return count;
}

static void symmetric_eigenvalues(double *g, size_t k, double *ev, double *off, double *v,
                                  double *p) {
    tridiagonalize(g, k, ev, off, v, p);
    /* Gershgorin bounds of the tridiagonal matrix */
    double lo = ev[0], hi = ev[0];
    for (size_t i = 0; i < k; i++) {
        double r = (i > 0 ? fabs(off[i - 1]) : 0.0) + (i + 1 < k ? fabs(off[i]) : 0.0);
        if (ev[i] - r < lo) lo = ev[i] - r;
        if (ev[i] + r > hi) hi = ev[i] + r;
    }
    double scale = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
    double tiny = scale > 0.0 ? scale * 1e-300 : 1e-300;
    if (tiny == 0.0) tiny = 1e-300;
    /* the i-th smallest eigenvalue: the point where the count passes i; written into the
     * diagonal's storage only after every count that needs it is done */
    double *out = g; /* the reduced matrix is no longer needed: k² >= k doubles of room */
    for (size_t i = 0; i < k; i++) {
        double a = lo, b = hi;
        for (int it = 0; it < 200 && b - a > 4.0 * DBL_EPSILON * scale; it++) {
            double mid = 0.5 * (a + b);
            if (mid <= a || mid >= b) break;
            if (sturm_below(ev, off, k, mid, tiny) > i)
                b = mid;
            else
                a = mid;
        }
        out[i] = 0.5 * (a + b);
    }
    memcpy(ev, out, k * sizeof(double));
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
    /* the copy is no longer needed: it holds the reduction's vectors (n·d >= 3k when
     * k >= 3; smaller k never reaches them) */
    symmetric_eigenvalues(gram, k, ev, copy, copy + k, copy + 2 * k);
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
