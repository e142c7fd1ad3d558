/* IQM and stratified bootstrap intervals (stats.h). */
#include "stats.h"

#include <dr3/rng.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* IQM of w[0..n), which it sorts in place */
static double iqm_inplace(double *w, size_t n) {
    if (n == 0) return NAN;
    qsort(w, n, sizeof *w, cmp_double);
    size_t cut = n / 4; /* scipy: int(proportiontocut * n) from each end */
    double s = 0;
    for (size_t i = cut; i < n - cut; i++) s += w[i];
    return s / (double)(n - 2 * cut);
}

double stats_iqm(const double *x, size_t n, double *work) {
    if (n == 0 || x == NULL || work == NULL) return NAN;
    memcpy(work, x, n * sizeof *work);
    return iqm_inplace(work, n);
}

double stats_percentile(const double *sorted, size_t n, double q) {
    if (n == 0 || sorted == NULL || !(q >= 0 && q <= 100)) return NAN;
    double pos = q / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i >= n - 1) return sorted[n - 1];
    double f = pos - (double)i;
    return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

int stats_iqm_ci(const double *scores, size_t tasks, size_t runs, size_t reps, double level,
                 uint64_t seed, double *point, double *lo, double *hi) {
    if (scores == NULL || point == NULL || lo == NULL || hi == NULL || tasks == 0 ||
        runs == 0 || reps == 0 || !(level > 0 && level < 100) || tasks > SIZE_MAX / runs)
        return -1;
    size_t n = tasks * runs;
    double *w = malloc(n * sizeof *w), *stat = malloc(reps * sizeof *stat);
    if (w == NULL || stat == NULL) {
        free(w);
        free(stat);
        return -1;
    }
    *point = stats_iqm(scores, n, w);
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    for (size_t r = 0; r < reps; r++) {
        for (size_t t = 0; t < tasks; t++)
            for (size_t k = 0; k < runs; k++) {
                size_t j = (size_t)dr3_rng_below(&rng, runs);
                w[t * runs + k] = scores[t * runs + j];
            }
        stat[r] = iqm_inplace(w, n);
    }
    qsort(stat, reps, sizeof *stat, cmp_double);
    *lo = stats_percentile(stat, reps, (100.0 - level) / 2);
    *hi = stats_percentile(stat, reps, (100.0 + level) / 2);
    free(w);
    free(stat);
    return 0;
}
