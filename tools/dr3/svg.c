#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const palette[SVG_COLORS] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                "#bcbd22", "#17becf", "#000000", "#aec7e8"};

static double tr(double v, int log_y, double floor_pos) {
    if (!log_y) return v;
    return log10(v > floor_pos ? v : floor_pos);
}

static double clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static void escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

int svg_plot(const char *path, const char *title, const char *xlabel, const char *ylabel,
             const svg_series *series, size_t n_series, int log_y, int y_zero) {
    const double W = 760, H = 460, L = 80, R = 190, T = 40, B = 56;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    double floor_pos = INFINITY;
    for (size_t s = 0; s < n_series; s++)
        for (size_t i = 0; i < series[s].n; i++) {
            const double vals[3] = {series[s].y[i],
                                    series[s].lo ? series[s].lo[i] : series[s].y[i],
                                    series[s].hi ? series[s].hi[i] : series[s].y[i]};
            for (int k = 0; k < 3; k++)
                if (vals[k] > 0 && vals[k] < floor_pos) floor_pos = vals[k];
        }
    if (!isfinite(floor_pos)) floor_pos = 1e-12;
    for (size_t s = 0; s < n_series; s++)
        for (size_t i = 0; i < series[s].n; i++) {
            double x = series[s].x[i];
            double lo = tr(series[s].lo ? series[s].lo[i] : series[s].y[i], log_y, floor_pos);
            double hi = tr(series[s].hi ? series[s].hi[i] : series[s].y[i], log_y, floor_pos);
            double y = tr(series[s].y[i], log_y, floor_pos);
            if (!isfinite(y)) continue;
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            if (y_zero && !log_y) { /* the means set the axis; bands are clipped to it */
                lo = y;
                hi = y;
            }
            ymin = fmin(ymin, fmin(y, lo));
            ymax = fmax(ymax, fmax(y, hi));
        }
    if (y_zero && !log_y && isfinite(ymin)) {
        ymin = fmin(ymin, 0);
        ymax = fmax(ymax, 0);
    }
    if (!(xmax > xmin)) xmax = xmin + 1;
    if (!(ymax > ymin)) ymax = ymin + 1;
    double ystep = 1;
    int yt;
    if (log_y) {
        ymin = floor(ymin);
        ymax = ceil(ymax);
        yt = (int)(ymax - ymin);
    } else {
        /* round ticks: 1, 2 or 5 times a power of ten, about five of them */
        double raw = (ymax - ymin) / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
        ystep = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
        ymin = floor(ymin / ystep) * ystep;
        ymax = ceil(ymax / ystep) * ystep;
        yt = (int)lround((ymax - ymin) / ystep);
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
#define PX(x) (L + ((x)-xmin) / (xmax - xmin) * (W - L - R))
#define PY(y) (T + (1 - ((y)-ymin) / (ymax - ymin)) * (H - T - B))
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
            "height=\"100%%\" fill=\"white\"/>\n",
            W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">",
            (L + W - R) / 2);
    escape(f, title);
    fprintf(f, "</text>\n");
    /* axes, ticks, grid */
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            L, T, W - L - R, H - T - B);
    for (int k = 0; k <= 5; k++) {
        double x = xmin + (xmax - xmin) * k / 5.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                PX(x), T, PX(x), H - B);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(x),
                H - B + 16, round(x));
    }
    if (yt < 1) yt = 1;
    for (int k = 0; k <= yt; k++) {
        double y = ymin + (ymax - ymin) * k / yt;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                L, PY(y), W - R, PY(y));
        if (log_y)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", L - 6,
                    PY(y) + 4, (int)lround(y));
        else
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", L - 6,
                    PY(y) + 4, fabs(y) < 1e-12 * ystep ? 0.0 : y);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">", (L + W - R) / 2, H - 14);
    escape(f, xlabel);
    fprintf(f,
            "</text>\n<text transform=\"translate(18 %.0f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            (T + H - B) / 2);
    escape(f, ylabel);
    fprintf(f, "</text>\n");
    for (size_t s = 0; s < n_series; s++) {
        const svg_series *se = &series[s];
        const char *col = palette[(size_t)se->color % SVG_COLORS];
        char dash[64] = "";
        if (se->dash != NULL) snprintf(dash, sizeof dash, " stroke-dasharray=\"%s\"", se->dash);
        if (se->lo && se->hi && se->n > 1) {
            fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" points=\"",
                    col);
            for (size_t i = 0; i < se->n; i++)
                fprintf(f, "%.1f,%.1f ", PX(se->x[i]),
                        PY(clip(tr(se->hi[i], log_y, floor_pos), ymin, ymax)));
            for (size_t i = se->n; i-- > 0;)
                fprintf(f, "%.1f,%.1f ", PX(se->x[i]),
                        PY(clip(tr(se->lo[i], log_y, floor_pos), ymin, ymax)));
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                dash);
        for (size_t i = 0; i < se->n; i++)
            fprintf(f, "%.1f,%.1f ", PX(se->x[i]), PY(tr(se->y[i], log_y, floor_pos)));
        fprintf(f, "\"/>\n");
        double ly = T + 10 + 18.0 * (double)s;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"%s/>\n",
                W - R + 6, ly, W - R + 32, ly, col, dash);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", W - R + 38, ly + 4);
        escape(f, se->label);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
    return fclose(f) == 0 ? 0 : -1;
}
