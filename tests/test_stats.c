/* The MinAtar study's statistics (tools/dr3/stats.c): the IQM, numpy-style percentiles and
 * rliable's stratified bootstrap interval, against tests/reference/gen_stats_fixtures.py
 * (numpy; the bootstrap quantiles are exact, by enumerating every resample). */
#include "testutil.h"

#include "../tools/dr3/stats.c" /* the tool's code, compiled into this test */

#include "data/reference/stats_fixtures.h"

#include <math.h>

static void test_iqm_matches_trim_mean(void **state) {
    (void)state;
    double work[16];
    for (size_t k = 0; k < STATS_NSAMPLES; k++) {
        size_t n = stats_offsets[k + 1] - stats_offsets[k];
        const double *x = stats_data + stats_offsets[k];
        double before[16];
        memcpy(before, x, n * sizeof(double));
        TU_ASSERT_CLOSE(stats_iqm(x, n, work), stats_iqm_ref[k], 1e-12, 1e-12);
        assert_memory_equal(before, x, n * sizeof(double)); /* input untouched */
    }
    /* closed forms: 8 values 1..8 keep 3..6 (mean 4.5); 5 values cut 1 each end */
    const double a[8] = {8, 1, 7, 2, 6, 3, 5, 4}, b[5] = {100, -100, 1, 2, 3};
    TU_ASSERT_CLOSE(stats_iqm(a, 8, work), 4.5, 0, 1e-15);
    TU_ASSERT_CLOSE(stats_iqm(b, 5, work), 2.0, 0, 1e-15);
    assert_true(isnan(stats_iqm(a, 0, work)));
}

static void test_percentile_matches_numpy(void **state) {
    (void)state;
    const size_t nq = sizeof stats_q / sizeof stats_q[0];
    for (size_t k = 0; k < STATS_NSAMPLES; k++) {
        size_t n = stats_offsets[k + 1] - stats_offsets[k];
        double s[16];
        memcpy(s, stats_data + stats_offsets[k], n * sizeof(double));
        qsort(s, n, sizeof(double), cmp_double);
        for (size_t j = 0; j < nq; j++)
            TU_ASSERT_CLOSE(stats_percentile(s, n, stats_q[j]),
                            stats_percentile_ref[k * nq + j], 1e-12, 1e-12);
    }
    const double one[1] = {3};
    assert_true(isnan(stats_percentile(one, 0, 50)));
    assert_true(isnan(stats_percentile(one, 1, 101)));
}

static void test_bootstrap_interval_is_exact_quantile(void **state) {
    (void)state;
    double pt = 0, lo = 0, hi = 0;
    /* 200,000 resamples: the empirical 2.5% / 97.5% quantiles sit > 10 sd inside one atom of
     * the exact distribution, so they equal its value */
    assert_int_equal(stats_iqm_ci(stats_boot_scores, 2, 4, 200000, 95.0, 7, &pt, &lo, &hi), 0);
    TU_ASSERT_CLOSE(pt, stats_boot_ref[0], 1e-12, 1e-12);
    TU_ASSERT_CLOSE(lo, stats_boot_ref[1], 1e-9, 1e-9);
    TU_ASSERT_CLOSE(hi, stats_boot_ref[2], 1e-9, 1e-9);
    /* deterministic per seed */
    double pt2 = 0, lo2 = 0, hi2 = 0;
    assert_int_equal(stats_iqm_ci(stats_boot_scores, 2, 4, 1000, 90.0, 3, &pt, &lo, &hi), 0);
    assert_int_equal(stats_iqm_ci(stats_boot_scores, 2, 4, 1000, 90.0, 3, &pt2, &lo2, &hi2), 0);
    assert_true(lo == lo2 && hi == hi2 && pt == pt2);
    assert_true(lo <= pt && pt <= hi);
}

static void test_bootstrap_closed_forms(void **state) {
    (void)state;
    double pt = 0, lo = 0, hi = 0;
    /* every run of a task equal: every resample is the sample, the interval is a point */
    const double same[6] = {1, 1, 1, 5, 5, 5};
    assert_int_equal(stats_iqm_ci(same, 2, 3, 500, 95.0, 1, &pt, &lo, &hi), 0);
    TU_ASSERT_CLOSE(pt, 3.0, 0, 1e-15);
    TU_ASSERT_CLOSE(lo, 3.0, 0, 1e-15);
    TU_ASSERT_CLOSE(hi, 3.0, 0, 1e-15);
    /* stratified, not pooled: one run per task can only be resampled as itself */
    const double single[4] = {4, -2, 9, 0};
    assert_int_equal(stats_iqm_ci(single, 4, 1, 500, 95.0, 1, &pt, &lo, &hi), 0);
    TU_ASSERT_CLOSE(lo, 2.0, 0, 1e-15); /* IQM of {-2, 0, 4, 9} = (0 + 4) / 2 */
    TU_ASSERT_CLOSE(hi, 2.0, 0, 1e-15);
    /* bad arguments */
    assert_int_equal(stats_iqm_ci(same, 0, 3, 500, 95.0, 1, &pt, &lo, &hi), -1);
    assert_int_equal(stats_iqm_ci(same, 2, 0, 500, 95.0, 1, &pt, &lo, &hi), -1);
    assert_int_equal(stats_iqm_ci(same, 2, 3, 0, 95.0, 1, &pt, &lo, &hi), -1);
    assert_int_equal(stats_iqm_ci(same, 2, 3, 500, 100.0, 1, &pt, &lo, &hi), -1);
    assert_int_equal(stats_iqm_ci(NULL, 2, 3, 500, 95.0, 1, &pt, &lo, &hi), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iqm_matches_trim_mean),
        cmocka_unit_test(test_percentile_matches_numpy),
        cmocka_unit_test(test_bootstrap_interval_is_exact_quantile),
        cmocka_unit_test(test_bootstrap_closed_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
