/* A tiny SVG line-plot writer for the dr3 command (no plotting dependency). */
#ifndef DR3_TOOL_SVG_H
#define DR3_TOOL_SVG_H

#include <stddef.h>
#include <stdio.h>

typedef struct svg_series {
    const char *label;
    const double *x, *y, *lo, *hi; /* lo/hi: optional confidence band */
    size_t n;
} svg_series;

/* Writes a line plot with one line (and band) per series. log_y uses a log10 axis
 * (non-positive values are clipped to the smallest positive one). Returns 0 on success. */
int svg_plot(const char *path, const char *title, const char *xlabel, const char *ylabel,
             const svg_series *series, size_t n_series, int log_y);

#endif
