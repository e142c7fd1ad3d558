#include "testutil.h"

#include <math.h>
#include <stdlib.h>

void tu_fill_strided(float *x, size_t n, size_t d, size_t ld, float lo, float hi,
                     dr3_rng *rng) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ld; j++)
            x[i * ld + j] = j < d ? lo + (hi - lo) * dr3_rng_uniform(rng) : NAN;
}

int tu_padding_untouched(const float *x, size_t n, size_t d, size_t ld) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = d; j < ld; j++)
            if (!isnan(x[i * ld + j])) return 0;
    return 1;
}

float *tu_alloc_nan(size_t count) {
    float *p = malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++) p[i] = NAN;
    return p;
}
