/* Dot products of float vectors summed in double (internal.h): eight interleaved partial
 * sums (element k goes to sum k mod 8) added in a fixed tree. The order is fixed, so the
 * bits are the same on every call and every CPU, and eight independent additions replace one
 * chain of them (a serial double sum costs about four cycles per element: 90 µs for the DR3
 * term of a 256 × 256 batch of features, against about 12 µs this way). */
#include "internal.h"

#include <string.h>

/* Eight floats and eight doubles as GCC vectors: one instruction each on AVX-512, split into
 * halves or quarters by the other clones; each lane does the same float operations (a
 * product rounded, then a sum rounded: no fused multiply-add) as the scalar s[j] += x·y, so
 * every clone and the plain loop give the same bits. */
typedef float f8 __attribute__((vector_size(32)));
typedef double d8 __attribute__((vector_size(64)));

/* (macros, not functions: a function passing these vectors would be compiled outside the
 * clones' instruction sets) */
#define LOAD8(dst, p)                                                                          \
    do {                                                                                       \
        f8 l8_;                                                                                \
        memcpy(&l8_, (p), sizeof l8_);                                                         \
        (dst) = __builtin_convertvector(l8_, d8);                                              \
    } while (0)

static inline double tree(const double s[8]) {
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

DR3I_CLONES double dr3i_dot_f64(const float *a, const float *b, size_t n) {
    d8 v = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        d8 x, y;
        LOAD8(x, a + k);
        LOAD8(y, b + k);
        v += x * y;
    }
    double s[8];
    memcpy(s, &v, sizeof s);
    for (size_t j = 0; k < n; k++, j++) s[j] += (double)a[k] * (double)b[k];
    return tree(s);
}

DR3I_CLONES void dr3i_dot3_f64(const float *a, const float *b, size_t n, double out[3]) {
    d8 v = {0, 0, 0, 0, 0, 0, 0, 0}, va = v, vb = v;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        d8 x, y;
        LOAD8(x, a + k);
        LOAD8(y, b + k);
        v += x * y;
        va += x * x;
        vb += y * y;
    }
    double s[8], sa[8], sb[8];
    memcpy(s, &v, sizeof s);
    memcpy(sa, &va, sizeof sa);
    memcpy(sb, &vb, sizeof sb);
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
