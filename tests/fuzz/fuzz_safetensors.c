/* libFuzzer target: the safetensors reader (header JSON, offsets, sizes). */
#include "io/safetensors.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dr3i_st_file *f;
    if (f == NULL && (f = malloc(sizeof *f)) == NULL) return 0;
    if (dr3i_st_parse(data, size, f, "fuzz", "input") == DR3_OK) {
        /* a parsed file's tensors must lie inside the input */
        for (size_t i = 0; i < f->n_tensors; i++)
            if (f->tensors[i].data < data ||
                f->tensors[i].data + (f->tensors[i].end - f->tensors[i].begin) > data + size)
                abort();
    }
    return 0;
}
