/* A tiny SVG line-plot writer for the dr3 command (no plotting dependency). */
#ifndef DR3_TOOL_SVG_H
#define DR3_TOOL_SVG_H

#include <stddef.h>
#include <stdio.h>

typedef struct svg_series {
    const char *label;
    const double *x, *y, *lo, *hi; /* lo/hi: optional confidence band */
    size_t n;
    int color;        /* index into the palette; series sharing it share the colour */
    const char *dash; /* SVG stroke-dasharray ("6 4"), or NULL for a solid line */
} svg_series;

/* The palette's size; colour indices wrap around it. */
#define SVG_COLORS 12

/* Writes a line plot with one line (and band) per series. log_y uses a log10 axis
 * (non-positive values are clipped to the smallest positive one); y_zero makes a linear
 * axis start from 0 (include 0) and fit the lines, with bands clipped to it.
 * Returns 0 on success. */
int svg_plot(const char *path, const char *title, const char *xlabel, const char *ylabel,
             const svg_series *series, size_t n_series, int log_y, int y_zero);

#endif
