/* Polyak averaging of parameter vectors (internal.h), shared by dr3_net_polyak and the
 * optimizers' commit pass, so that both form the same bits. */
#include "internal.h"

DR3I_CLONES void dr3i_polyak(float *dst, const float *src, size_t n, float tau) {
    const float keep = 1.0f - tau;
    for (size_t k = 0; k < n; k++) dst[k] = keep * dst[k] + tau * src[k];
}
