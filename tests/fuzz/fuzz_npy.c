/* libFuzzer target: the .npy header parser on arbitrary bytes. Checks the invariants the
 * readers rely on, and that an accepted header survives a write/parse round trip. */
#include "replay/npy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr3i_npy_header h;
    if (dr3i_npy_parse(data, size, &h, "fuzz.npy", "fuzz") != DR3_OK) return 0;
    size_t count = 1;
    for (size_t i = 0; i < h.ndim; i++) count *= h.shape[i];
    if (h.data_offset > size || h.ndim > DR3I_NPY_MAX_DIMS || count != h.count ||
        h.data_bytes != h.count * h.elem || h.elem != dr3i_npy_elem(h.dtype))
        abort();
    char buf[512];
    size_t len;
    if (dr3i_npy_write_header(buf, sizeof buf, h.dtype, h.ndim, h.shape, &len) != DR3_OK)
        abort();
    dr3i_npy_header h2;
    if (dr3i_npy_parse(buf, len, &h2, "rt.npy", "fuzz") != DR3_OK || h2.dtype != h.dtype ||
        h2.ndim != h.ndim || memcmp(h2.shape, h.shape, h.ndim * sizeof h.shape[0]) != 0 ||
        len % 64 != 0)
        abort();
    return 0;
}
