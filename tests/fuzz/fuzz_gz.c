/* libFuzzer target: a gzip'd .npy stream (as in the DQN Replay Dataset) read from memory:
 * header, data (up to 1 MiB) and the end-of-stream check. */
#include "replay/gz.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr3i_alloc a;
    if (dr3i_alloc_init(&a, NULL, "fuzz") != DR3_OK) abort();
    dr3i_gz g;
    if (dr3i_gz_open_mem(&g, &a, data, size, "fuzz.gz", "fuzz") != DR3_OK) return 0;
    dr3i_npy_header h;
    if (dr3i_gz_npy_header(&g, &h) == DR3_OK && h.data_bytes <= (1u << 20)) {
        uint8_t *buf = malloc(h.data_bytes ? h.data_bytes : 1);
        if (buf == NULL) abort();
        if (dr3i_gz_read(&g, buf, h.data_bytes) == DR3_OK) (void)dr3i_gz_expect_end(&g);
        free(buf);
    }
    dr3i_gz_close(&g);
    return 0;
}
