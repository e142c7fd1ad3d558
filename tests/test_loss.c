/* Losses (dr3/loss.h) against direct double-precision references and central finite
 * differences, on random data with row strides larger than the row length. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 37, D = 19, LD = 23, LD2 = 29, A = 5, LDQ = 8 };

/* ---- references, written independently of src/loss/loss.c ------------------------- */

static double ref_dot(const float *phi, size_t ld, const float *nxt, size_t ld2,
                      const float *mask, unsigned flags, double coef, size_t n, size_t d) {
    double s = 0, msum = 0;
    for (size_t i = 0; i < n; i++) {
        double dot = 0;
        for (size_t j = 0; j < d; j++) dot += (double)phi[i * ld + j] * nxt[i * ld2 + j];
        if (flags & DR3_DOT_ABS) dot = fabs(dot);
        double m = mask ? mask[i] : 1.0;
        s += m * dot;
        msum += m;
    }
    double denom = (flags & DR3_DOT_MASK_MEAN) && mask ? msum : (double)n;
    return denom == 0 ? 0 : coef * s / denom;
}

static double ref_td(const float *q, const float *y, const float *w, int kind, double delta,
                     size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)q[i] - y[i], l;
        if (kind == DR3_TD_MSE)
            l = x * x;
        else
            l = fabs(x) <= delta ? 0.5 * x * x : delta * (fabs(x) - 0.5 * delta);
        s += (w ? w[i] : 1.0) * l;
    }
    return s / (double)n;
}

/* log-sum-exp with the max shift, in long double: finite for any finite float row. */
static long double ref_lse(const float *row, size_t na) {
    long double mx = row[0];
    for (size_t k = 1; k < na; k++)
        if (row[k] > mx) mx = row[k];
    long double e = 0;
    for (size_t k = 0; k < na; k++) e += expl((long double)row[k] - mx);
    return mx + logl(e);
}

static double ref_cql(const float *q, size_t ld, const int32_t *a, double alpha, size_t n,
                      size_t na) {
    long double s = 0;
    for (size_t i = 0; i < n; i++) s += ref_lse(q + i * ld, na) - q[i * ld + (size_t)a[i]];
    return (double)(alpha * s / (long double)n);
}

/* ---- feature dot ------------------------------------------------------------------- */

static void check_dot_case(const float *mask, unsigned flags) {
    dr3_rng rng;
    dr3_rng_seed(&rng, 1234 + flags);
    float *phi = tu_alloc_nan(N * LD), *nxt = tu_alloc_nan(N * LD2);
    float *gphi = tu_alloc_nan(N * LD), *gnxt = tu_alloc_nan(N * LD2);
    /* signed features so that |.| matters */
    tu_fill_strided(phi, N, D, LD, -1, 1, &rng);
    tu_fill_strided(nxt, N, D, LD2, -1, 1, &rng);
    /* gradient buffers start with non-zero values: the loss must ADD to them */
    tu_fill_strided(gphi, N, D, LD, -0.5f, 0.5f, &rng);
    tu_fill_strided(gnxt, N, D, LD2, -0.5f, 0.5f, &rng);
    float *gphi0 = malloc(sizeof(float) * N * LD), *gnxt0 = malloc(sizeof(float) * N * LD2);
    memcpy(gphi0, gphi, sizeof(float) * N * LD);
    memcpy(gnxt0, gnxt, sizeof(float) * N * LD2);
    const float coef = 0.37f;

    float loss = -1;
    assert_int_equal(
        dr3_feature_dot_loss_ex(N, D, phi, LD, nxt, LD2, mask, flags, coef, &loss, gphi, gnxt),
        DR3_OK);
    TU_ASSERT_CLOSE(loss, ref_dot(phi, LD, nxt, LD2, mask, flags, coef, N, D), 1e-6, 1e-7);
    assert_true(tu_padding_untouched(gphi, N, D, LD));
    assert_true(tu_padding_untouched(gnxt, N, D, LD2));

    /* central differences of the double reference, entry by entry */
    const double h = 1e-3;
    for (size_t i = 0; i < N; i += 3)
        for (size_t j = 0; j < D; j += 2) {
            float save = phi[i * LD + j];
            phi[i * LD + j] = save + (float)h;
            double up = ref_dot(phi, LD, nxt, LD2, mask, flags, coef, N, D);
            phi[i * LD + j] = save - (float)h;
            double dn = ref_dot(phi, LD, nxt, LD2, mask, flags, coef, N, D);
            phi[i * LD + j] = save;
            double fd = (up - dn) / (2 * h);
            TU_ASSERT_CLOSE(gphi[i * LD + j] - gphi0[i * LD + j], fd, 1e-3, 1e-6);

            save = nxt[i * LD2 + j];
            nxt[i * LD2 + j] = save + (float)h;
            up = ref_dot(phi, LD, nxt, LD2, mask, flags, coef, N, D);
            nxt[i * LD2 + j] = save - (float)h;
            dn = ref_dot(phi, LD, nxt, LD2, mask, flags, coef, N, D);
            nxt[i * LD2 + j] = save;
            fd = (up - dn) / (2 * h);
            TU_ASSERT_CLOSE(gnxt[i * LD2 + j] - gnxt0[i * LD2 + j], fd, 1e-3, 1e-6);
        }
    free(phi);
    free(nxt);
    free(gphi);
    free(gnxt);
    free(gphi0);
    free(gnxt0);
}

static void test_feature_dot_plain(void **state) {
    (void)state;
    check_dot_case(NULL, 0);
}

static void test_feature_dot_variants(void **state) {
    (void)state;
    float mask[N];
    for (int i = 0; i < N; i++) mask[i] = (i % 4 == 0) ? 0.0f : 1.0f; /* 1 - terminal */
    check_dot_case(mask, 0);
    check_dot_case(mask, DR3_DOT_ABS);
    check_dot_case(mask, DR3_DOT_MASK_MEAN);
    check_dot_case(mask, DR3_DOT_ABS | DR3_DOT_MASK_MEAN);
    check_dot_case(NULL, DR3_DOT_ABS);
}

static void test_feature_dot_closed_form(void **state) {
    (void)state;
    /* phi = [1 2; 3 4], phi' = [5 6; 7 8]: dots 17 and 53, mean 35 */
    float phi[4] = {1, 2, 3, 4}, nxt[4] = {5, 6, 7, 8}, g1[4] = {0}, g2[4] = {0}, loss;
    assert_int_equal(dr3_feature_dot_loss(2, 2, phi, 2, nxt, 2, 0.1f, &loss, g1, g2), DR3_OK);
    TU_ASSERT_CLOSE(loss, 3.5, 1e-6, 0);
    /* d/dphi = coef/n * phi' */
    const float e1[4] = {0.25f, 0.3f, 0.35f, 0.4f}, e2[4] = {0.05f, 0.1f, 0.15f, 0.2f};
    for (int k = 0; k < 4; k++) {
        TU_ASSERT_CLOSE(g1[k], e1[k], 1e-6, 0);
        TU_ASSERT_CLOSE(g2[k], e2[k], 1e-6, 0);
    }
    /* NULL gradients are skipped; n = 0 gives 0 with NULL data */
    assert_int_equal(dr3_feature_dot_loss(2, 2, phi, 2, nxt, 2, 0.1f, &loss, NULL, NULL),
                     DR3_OK);
    TU_ASSERT_CLOSE(loss, 3.5, 1e-6, 0);
    assert_int_equal(dr3_feature_dot_loss(0, 0, NULL, 0, NULL, 0, 1.0f, &loss, NULL, NULL),
                     DR3_OK);
    assert_true(loss == 0.0f);
    /* all rows masked with MASK_MEAN: 0, no division by zero */
    float zero_mask[2] = {0, 0};
    assert_int_equal(dr3_feature_dot_loss_ex(2, 2, phi, 2, nxt, 2, zero_mask, DR3_DOT_MASK_MEAN,
                                             1.0f, &loss, g1, g2),
                     DR3_OK);
    assert_true(loss == 0.0f);
}

static void test_feature_dot_bad_args(void **state) {
    (void)state;
    float phi[8] = {1, 2, 3, 4, 5, 6, 7, 8}, nxt[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    float g[8] = {0}, loss = 42.0f;
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, NULL, 4, nxt, 4, 1, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, NULL, 4, 1, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, nxt, 4, 1, NULL, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 3, nxt, 4, 1, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, nxt, 2, 1, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 0, phi, 4, nxt, 4, 1, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, nxt, 4, NAN, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, nxt, 4, INFINITY, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(
        dr3_feature_dot_loss(SIZE_MAX / 2, 4, phi, SIZE_MAX / 4, nxt, 4, 1, &loss, g, g),
        DR3_ERR_OVERFLOW);
    TU_ASSERT_FAILS(dr3_feature_dot_loss_ex(2, 4, phi, 4, nxt, 4, NULL, 0x80u, 1, &loss, g, g),
                    DR3_ERR_INVALID_ARG);
    phi[5] = NAN;
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, nxt, 4, 1, &loss, g, g),
                    DR3_ERR_NONFINITE);
    phi[5] = 6;
    nxt[7] = INFINITY;
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 4, phi, 4, nxt, 4, 1, &loss, g, g),
                    DR3_ERR_NONFINITE);
    nxt[7] = 1;
    float bad_mask[2] = {1, NAN};
    TU_ASSERT_FAILS(dr3_feature_dot_loss_ex(2, 4, phi, 4, nxt, 4, bad_mask, 0, 1, &loss, g, g),
                    DR3_ERR_NONFINITE);
    /* nothing was written by any failing call */
    assert_true(loss == 42.0f);
    for (int k = 0; k < 8; k++) assert_true(g[k] == 0.0f);
}

/* ---- TD loss -------------------------------------------------------------------------- */

static void check_td(int kind, float delta, int weighted) {
    dr3_rng rng;
    dr3_rng_seed(&rng, 99 + (uint64_t)kind);
    float q[N], y[N], w[N], g[N], g0[N];
    for (int i = 0; i < N; i++) {
        q[i] = 4 * dr3_rng_uniform(&rng) - 2;
        /* keep |q - y| away from the Huber kink so differences are smooth */
        float off;
        do off = 6 * dr3_rng_uniform(&rng) - 3;
        while (fabsf(fabsf(off) - delta) < 0.05f);
        y[i] = q[i] - off;
        w[i] = 0.5f + dr3_rng_uniform(&rng);
        g[i] = g0[i] = dr3_rng_uniform(&rng) - 0.5f;
    }
    const float *wp = weighted ? w : NULL;
    float loss;
    assert_int_equal(dr3_td_loss(N, q, y, wp, (dr3_td_kind)kind, delta, &loss, g), DR3_OK);
    TU_ASSERT_CLOSE(loss, ref_td(q, y, wp, kind, delta, N), 1e-6, 1e-7);
    const double h = 1e-3;
    for (int i = 0; i < N; i++) {
        float save = q[i];
        q[i] = save + (float)h;
        double up = ref_td(q, y, wp, kind, delta, N);
        q[i] = save - (float)h;
        double dn = ref_td(q, y, wp, kind, delta, N);
        q[i] = save;
        TU_ASSERT_CLOSE(g[i] - g0[i], (up - dn) / (2 * h), 2e-3, 1e-6);
    }
}

static void test_td_loss(void **state) {
    (void)state;
    check_td(DR3_TD_MSE, 0, 0);
    check_td(DR3_TD_MSE, 0, 1);
    check_td(DR3_TD_HUBER, 1.0f, 0);
    check_td(DR3_TD_HUBER, 0.5f, 1);
    /* closed form: errors 0.5 and 3 with delta 1: (0.125 + 2.5) / 2 */
    float q[2] = {1.5f, 4}, y[2] = {1, 1}, loss, g[2] = {0, 0};
    assert_int_equal(dr3_td_loss(2, q, y, NULL, DR3_TD_HUBER, 1, &loss, g), DR3_OK);
    TU_ASSERT_CLOSE(loss, 1.3125, 1e-7, 0);
    TU_ASSERT_CLOSE(g[0], 0.25, 1e-7, 0);
    TU_ASSERT_CLOSE(g[1], 0.5, 1e-7, 0);
    assert_int_equal(dr3_td_loss(2, q, y, NULL, DR3_TD_MSE, 0, &loss, NULL), DR3_OK);
    TU_ASSERT_CLOSE(loss, (0.25 + 9) / 2, 1e-7, 0);
}

static void test_td_bad_args(void **state) {
    (void)state;
    float q[2] = {1, 2}, y[2] = {0, 0}, w[2] = {1, 1}, g[2] = {0, 0}, loss = 7;
    TU_ASSERT_FAILS(dr3_td_loss(2, NULL, y, NULL, DR3_TD_MSE, 0, &loss, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_td_loss(2, q, NULL, NULL, DR3_TD_MSE, 0, &loss, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, DR3_TD_MSE, 0, NULL, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, (dr3_td_kind)7, 0, &loss, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, DR3_TD_HUBER, 0, &loss, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, DR3_TD_HUBER, -1, &loss, g),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, DR3_TD_HUBER, NAN, &loss, g),
                    DR3_ERR_INVALID_ARG);
    q[1] = NAN;
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, DR3_TD_MSE, 0, &loss, g), DR3_ERR_NONFINITE);
    q[1] = 2;
    y[0] = -INFINITY;
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, NULL, DR3_TD_MSE, 0, &loss, g), DR3_ERR_NONFINITE);
    y[0] = 0;
    w[1] = NAN;
    TU_ASSERT_FAILS(dr3_td_loss(2, q, y, w, DR3_TD_MSE, 0, &loss, g), DR3_ERR_NONFINITE);
    assert_true(loss == 7 && g[0] == 0 && g[1] == 0);
    assert_int_equal(dr3_td_loss(0, NULL, NULL, NULL, DR3_TD_MSE, 0, &loss, NULL), DR3_OK);
    assert_true(loss == 0);
}

/* ---- CQL --------------------------------------------------------------------------------- */

static void test_cql(void **state) {
    (void)state;
    dr3_rng rng;
    dr3_rng_seed(&rng, 5);
    float *q = tu_alloc_nan(N * LDQ), *g = tu_alloc_nan(N * LDQ),
          *g0 = malloc(sizeof(float) * N * LDQ);
    int32_t act[N];
    /* moderate-magnitude Q values (|Q| <= 60, where even an unshifted exp() stays finite;
     * test_cql_huge_magnitude below is the one that needs the max shift) */
    tu_fill_strided(q, N, A, LDQ, -40, 60, &rng);
    tu_fill_strided(g, N, A, LDQ, -0.1f, 0.1f, &rng);
    memcpy(g0, g, sizeof(float) * N * LDQ);
    for (int i = 0; i < N; i++) act[i] = (int32_t)dr3_rng_below(&rng, A);
    float loss;
    assert_int_equal(dr3_cql_loss(N, A, q, LDQ, act, 0.7f, &loss, g), DR3_OK);
    TU_ASSERT_CLOSE(loss, ref_cql(q, LDQ, act, 0.7, N, A), 1e-5, 1e-6);
    assert_true(tu_padding_untouched(g, N, A, LDQ));
    /* finite differences on moderate values (the reference exp() would overflow at 60) */
    tu_fill_strided(q, N, A, LDQ, -2, 2, &rng);
    memcpy(g, g0, sizeof(float) * N * LDQ);
    assert_int_equal(dr3_cql_loss(N, A, q, LDQ, act, 0.7f, &loss, g), DR3_OK);
    const double h = 1e-3;
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < A; k++) {
            float save = q[i * LDQ + k];
            q[i * LDQ + k] = save + (float)h;
            double up = ref_cql(q, LDQ, act, 0.7, N, A);
            q[i * LDQ + k] = save - (float)h;
            double dn = ref_cql(q, LDQ, act, 0.7, N, A);
            q[i * LDQ + k] = save;
            TU_ASSERT_CLOSE(g[i * LDQ + k] - g0[i * LDQ + k], (up - dn) / (2 * h), 2e-3, 2e-6);
        }
    /* closed form: equal Q values give log(A) per row */
    float flat[2 * A];
    for (int k = 0; k < 2 * A; k++) flat[k] = 3.0f;
    int32_t a2[2] = {0, 4};
    assert_int_equal(dr3_cql_loss(2, A, flat, A, a2, 1.0f, &loss, NULL), DR3_OK);
    TU_ASSERT_CLOSE(loss, log((double)A), 1e-6, 0);
    free(q);
    free(g);
    free(g0);
}

/* |Q| = 1e3 and 1e4: exp(Q) overflows (or underflows to 0) in double, so only a max-shifted
 * log-sum-exp is finite. Loss and gradient against the long-double shifted reference and
 * the softmax written out here, and 2-action closed forms lse = max + log1p(exp(-|d|)). */
static void check_cql_at_scale(float scale, uint64_t seed) {
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    float *q = tu_alloc_nan(N * LDQ), *g = tu_alloc_nan(N * LDQ);
    float g0[N * LDQ];
    int32_t act[N];
    for (size_t i = 0; i < N; i++) {
        /* rows around +scale, around -scale, and rows mixing both signs */
        float centre = (i % 3 == 0) ? scale : (i % 3 == 1) ? -scale : 0.0f;
        for (size_t k = 0; k < A; k++) {
            float c = centre != 0.0f ? centre : ((k % 2) ? scale : -scale);
            q[i * LDQ + k] = c + (8.0f * dr3_rng_uniform(&rng) - 4.0f);
        }
        act[i] = (int32_t)dr3_rng_below(&rng, A);
    }
    tu_fill_strided(g, N, A, LDQ, -0.1f, 0.1f, &rng);
    memcpy(g0, g, sizeof g0);
    const double alpha = 0.7;
    float loss = NAN;
    assert_int_equal(dr3_cql_loss(N, A, q, LDQ, act, (float)alpha, &loss, g), DR3_OK);
    assert_true(isfinite(loss));
    TU_ASSERT_CLOSE(loss, ref_cql(q, LDQ, act, alpha, N, A), 1e-6, 1e-6);
    assert_true(tu_padding_untouched(g, N, A, LDQ));
    for (size_t i = 0; i < N; i++) {
        long double lse = ref_lse(q + i * LDQ, A);
        for (size_t k = 0; k < A; k++) {
            long double p = expl((long double)q[i * LDQ + k] - lse);
            double expect = alpha / N * (double)(p - (k == (size_t)act[i] ? 1.0L : 0.0L));
            assert_true(isfinite(g[i * LDQ + k]));
            TU_ASSERT_CLOSE(g[i * LDQ + k] - g0[i * LDQ + k], expect, 1e-5, 1e-7);
        }
    }
    free(q);
    free(g);
}

static void test_cql_huge_magnitude(void **state) {
    (void)state;
    check_cql_at_scale(1e3f, 31);
    check_cql_at_scale(1e4f, 32);
    /* closed forms, one row each, alpha 1: loss = lse - q[a], grad = softmax - onehot */
    struct {
        float q0, q1;
        int32_t a;
    } rows[] = {{1000, 999, 1},        {-1000, -1001, 0}, {1e4f, 1e4f - 2, 0},
                {-1e4f, -1e4f + 3, 0}, {1e4f, -1e4f, 1},  {-1e4f, -1e4f, 1}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        float qq[2] = {rows[r].q0, rows[r].q1}, gg[2] = {0, 0}, loss = NAN;
        int32_t a = rows[r].a;
        double hi = qq[0] > qq[1] ? qq[0] : qq[1], d = fabs((double)qq[0] - qq[1]);
        double lse = hi + log1p(exp(-d));
        double p0 = 1.0 / (1.0 + exp((double)qq[1] - qq[0])), p1 = 1.0 - p0;
        assert_int_equal(dr3_cql_loss(1, 2, qq, 2, &a, 1.0f, &loss, gg), DR3_OK);
        TU_ASSERT_CLOSE(loss, lse - qq[a], 1e-6, 1e-6);
        TU_ASSERT_CLOSE(gg[0], p0 - (a == 0), 1e-6, 1e-7);
        TU_ASSERT_CLOSE(gg[1], p1 - (a == 1), 1e-6, 1e-7);
    }
    /* the first row by hand: 1 + log1p(e^-1) = 1.31326168751822..., p = (0.731.., 0.268..) */
    float qq[2] = {1000, 999}, gg[2] = {0, 0}, loss = NAN;
    int32_t a = 1;
    assert_int_equal(dr3_cql_loss(1, 2, qq, 2, &a, 1.0f, &loss, gg), DR3_OK);
    TU_ASSERT_CLOSE(loss, 1.3132616875182228, 1e-6, 0);
    TU_ASSERT_CLOSE(gg[0], 0.7310585786300049, 1e-6, 0);
    TU_ASSERT_CLOSE(gg[1], 0.2689414213699951 - 1.0, 1e-6, 0);
}

static void test_cql_bad_args(void **state) {
    (void)state;
    float q[4] = {1, 2, 3, 4}, g[4] = {0}, loss = 3;
    int32_t a[2] = {0, 1};
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, NULL, 2, a, 1, &loss, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 2, NULL, 1, &loss, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 1, a, 1, &loss, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_cql_loss(2, 0, q, 2, a, 1, &loss, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 2, a, NAN, &loss, g), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 2, a, 1, NULL, g), DR3_ERR_INVALID_ARG);
    a[1] = 2;
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 2, a, 1, &loss, g), DR3_ERR_RANGE);
    a[1] = -1;
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 2, a, 1, &loss, g), DR3_ERR_RANGE);
    a[1] = 1;
    q[2] = NAN;
    TU_ASSERT_FAILS(dr3_cql_loss(2, 2, q, 2, a, 1, &loss, g), DR3_ERR_NONFINITE);
    assert_true(loss == 3 && g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0);
}

/* ---- srank ------------------------------------------------------------------------------- */

/* Builds n×d Φ = U diag(sv) Vᵀ with random orthonormal U (n×k) and V (d×k), by Gram-Schmidt
 * in double, so the singular values are known exactly. */
static void make_with_singular_values(float *phi, size_t n, size_t d, size_t ld,
                                      const double *sv, size_t k, dr3_rng *rng) {
    double *u = calloc(n * k, sizeof(double)), *v = calloc(d * k, sizeof(double));
    double *mats[2] = {u, v};
    size_t rows[2] = {n, d};
    for (int m = 0; m < 2; m++) {
        double *x = mats[m];
        size_t r = rows[m];
        for (size_t c = 0; c < k; c++) {
            for (size_t i = 0; i < r; i++) x[i * k + c] = dr3_rng_normal(rng);
            for (int pass = 0; pass < 2; pass++) /* re-orthogonalise for accuracy */
                for (size_t p = 0; p < c; p++) {
                    double dot = 0;
                    for (size_t i = 0; i < r; i++) dot += x[i * k + c] * x[i * k + p];
                    for (size_t i = 0; i < r; i++) x[i * k + c] -= dot * x[i * k + p];
                }
            double nrm = 0;
            for (size_t i = 0; i < r; i++) nrm += x[i * k + c] * x[i * k + c];
            nrm = sqrt(nrm);
            for (size_t i = 0; i < r; i++) x[i * k + c] /= nrm;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t c = 0; c < k; c++) s += u[i * k + c] * sv[c] * v[j * k + c];
            phi[i * ld + j] = (float)s;
        }
    free(u);
    free(v);
}

static size_t ref_srank(const double *sv, size_t k, double delta) {
    double total = 0, acc = 0;
    for (size_t i = 0; i < k; i++) total += sv[i];
    for (size_t i = 0; i < k; i++) {
        acc += sv[i];
        if (acc / total >= 1 - delta) return i + 1;
    }
    return k;
}

static void test_srank(void **state) {
    (void)state;
    dr3_rng rng;
    dr3_rng_seed(&rng, 77);
    /* tall (n > d) and wide (n < d) shapes, strided; the last two are the size of the
     * learners' feature batches */
    const size_t shapes[4][2] = {{64, 12}, {10, 30}, {150, 96}, {96, 160}};
    for (int s = 0; s < 4; s++) {
        size_t n = shapes[s][0], d = shapes[s][1], ld = d + 3, k = n < d ? n : d;
        double sv[96];
        /* geometric decay: srank at delta = 0.01 is well inside (0, k) */
        for (size_t i = 0; i < k; i++) sv[i] = 10.0 * pow(k > 30 ? 0.9 : 0.6, (double)i);
        float *phi = tu_alloc_nan(n * ld);
        make_with_singular_values(phi, n, d, ld, sv, k, &rng);
        size_t rank = 0;
        float got[96];
        assert_int_equal(dr3_srank(n, d, phi, ld, 0.01, NULL, 0, &rank, got), DR3_OK);
        for (size_t i = 0; i < k; i++) TU_ASSERT_CLOSE(got[i], sv[i], 1e-4, 1e-5);
        assert_int_equal(rank, ref_srank(sv, k, 0.01));
        assert_true(rank > 1 && rank < k);
        /* with a caller workspace: same answer */
        size_t wl = dr3_srank_workspace(n, d);
        double *work = malloc(wl * sizeof(double));
        size_t rank2 = 0;
        assert_int_equal(dr3_srank(n, d, phi, ld, 0.01, work, wl, &rank2, NULL), DR3_OK);
        assert_int_equal(rank2, rank);
        TU_ASSERT_FAILS(dr3_srank(n, d, phi, ld, 0.01, work, wl - 1, &rank2, NULL),
                        DR3_ERR_INVALID_ARG);
        free(work);
        free(phi);
    }
    /* rank-1 and zero matrices */
    float ones[12];
    for (int i = 0; i < 12; i++) ones[i] = 1.0f;
    size_t rank;
    assert_int_equal(dr3_srank(4, 3, ones, 3, 0.01, NULL, 0, &rank, NULL), DR3_OK);
    assert_int_equal(rank, 1);
    memset(ones, 0, sizeof ones);
    assert_int_equal(dr3_srank(4, 3, ones, 3, 0.01, NULL, 0, &rank, NULL), DR3_OK);
    assert_int_equal(rank, 0);
    /* identity: all singular values equal, srank = k at delta 0.01 */
    float eye[25] = {0};
    for (int i = 0; i < 5; i++) eye[i * 5 + i] = 2.0f;
    assert_int_equal(dr3_srank(5, 5, eye, 5, 0.01, NULL, 0, &rank, NULL), DR3_OK);
    assert_int_equal(rank, 5);
    /* bad arguments */
    TU_ASSERT_FAILS(dr3_srank(5, 5, eye, 5, 1.0, NULL, 0, &rank, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_srank(5, 5, eye, 5, -0.1, NULL, 0, &rank, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_srank(5, 5, eye, 4, 0.01, NULL, 0, &rank, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_srank(5, 5, NULL, 5, 0.01, NULL, 0, &rank, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_srank(5, 5, eye, 5, 0.01, NULL, 0, NULL, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_srank(SIZE_MAX / 2, 5, eye, 5, 0.01, NULL, 0, &rank, NULL),
                    DR3_ERR_OVERFLOW);
    eye[3] = NAN;
    TU_ASSERT_FAILS(dr3_srank(5, 5, eye, 5, 0.01, NULL, 0, &rank, NULL), DR3_ERR_NONFINITE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feature_dot_plain),
        cmocka_unit_test(test_feature_dot_variants),
        cmocka_unit_test(test_feature_dot_closed_form),
        cmocka_unit_test(test_feature_dot_bad_args),
        cmocka_unit_test(test_td_loss),
        cmocka_unit_test(test_td_bad_args),
        cmocka_unit_test(test_cql),
        cmocka_unit_test(test_cql_huge_magnitude),
        cmocka_unit_test(test_cql_bad_args),
        cmocka_unit_test(test_srank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
