/* Aggregate statistics for the MinAtar study (`dr3 demo --suite minatar`): the interquartile
 * mean and its stratified bootstrap confidence interval, as rliable computes them (Agarwal,
 * Schwarzer, Castro, Courville & Bellemare, "Deep Reinforcement Learning at the Edge of the
 * Statistical Precipice", NeurIPS 2021). Written from the paper's description. */
#ifndef DR3_TOOL_STATS_H
#define DR3_TOOL_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The interquartile mean of x[0..n): the mean of what is left after floor(n/4) values are
 * cut from each end of the sorted sample (scipy.stats.trim_mean(x, 0.25), which rliable
 * uses). work: n doubles (x is not changed). n = 0 gives NaN. */
double stats_iqm(const double *x, size_t n, double *work);

/* The q-th percentile (0 <= q <= 100) of sorted[0..n), interpolated linearly between
 * neighbouring order statistics (numpy.percentile's default). n = 0 gives NaN. */
double stats_percentile(const double *sorted, size_t n, double q);

/* A stratified bootstrap interval of the IQM of scores[task * runs + run] (tasks x runs,
 * e.g. games x seeds): each of reps resamples draws, for every task independently, runs
 * values of that task with replacement; the IQM of the pooled resample is recorded. *lo and
 * *hi are the (100 - level)/2 and (100 + level)/2 percentiles of those IQMs (rliable's
 * percentile method; level 95 for a 95% interval); *point is the IQM of the scores.
 * Deterministic per seed. Returns 0, or -1 on bad arguments (zero sizes, reps = 0, level
 * outside (0, 100)) or memory. */
int stats_iqm_ci(const double *scores, size_t tasks, size_t runs, size_t reps, double level,
                 uint64_t seed, double *point, double *lo, double *hi);

#endif
