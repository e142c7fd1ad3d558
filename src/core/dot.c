/* Dot products of float vectors summed in double (internal.h): eight interleaved partial
 * sums (element k goes to sum k mod 8) added in a fixed tree. The order is fixed, so the
 * bits are the same on every call and every CPU, and eight independent additions replace one
 * chain of them (a serial double sum costs about four cycles per element: 90 µs for the DR3
 * term of a 256 × 256 batch of features, against about 12 µs this way). */
#include "internal.h"

static inline double tree(const double s[8]) {
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

DR3I_CLONES double dr3i_dot_f64(const float *a, const float *b, size_t n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (size_t j = 0; j < 8; j++) s[j] += (double)a[k + j] * (double)b[k + j];
    for (size_t j = 0; k < n; k++, j++) s[j] += (double)a[k] * (double)b[k];
    return tree(s);
}

DR3I_CLONES void dr3i_dot3_f64(const float *a, const float *b, size_t n, double out[3]) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sa[8] = {0, 0, 0, 0, 0, 0, 0, 0},
           sb[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (size_t j = 0; j < 8; j++) {
            const double x = a[k + j], y = b[k + j];
            s[j] += x * y;
            sa[j] += x * x;
            sb[j] += y * y;
        }
    for (size_t j = 0; k < n; k++, j++) {
        const double x = a[k], y = b[k];
        s[j] += x * y;
        sa[j] += x * x;
        sb[j] += y * y;
    }
    out[0] = tree(s);
    out[1] = tree(sa);
    out[2] = tree(sb);
}
