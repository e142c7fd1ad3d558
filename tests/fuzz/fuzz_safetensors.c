/* libFuzzer target: the safetensors reader (header JSON, offsets, sizes), then the network
 * readers on the same bytes as a file: dr3_net_open (the architecture from libdr3's
 * metadata, MLP or layer list) and dr3_net_load into a small MLP. Bad files must get a
 * status, never a crash, an out-of-bounds read or an allocation the file cannot back. */
#include "io/safetensors.h"

#include <dr3/dr3.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dr3i_st_file *f;
    static dr3_net *mlp;
    static char path[64];
    if (f == NULL && (f = malloc(sizeof *f)) == NULL) return 0;
    if (mlp == NULL) {
        static const size_t hidden[1] = {5};
        dr3_net_options o = DR3_NET_OPTIONS_INIT;
        o.obs_dim = 3;
        o.action_dim = 2;
        o.num_hidden = 1;
        o.hidden = hidden;
        o.max_batch = 1;
        if (dr3_net_create(&mlp, &o) != DR3_OK) abort();
        snprintf(path, sizeof path, "/tmp/dr3-fuzz-st-%ld", (long)getpid());
    }
    if (dr3i_st_parse(data, size, f, "fuzz", "input") == DR3_OK) {
        /* a parsed file's tensors must lie inside the input */
        for (size_t i = 0; i < f->n_tensors; i++)
            if (f->tensors[i].data < data ||
                f->tensors[i].data + (f->tensors[i].end - f->tensors[i].begin) > data + size)
                abort();
    }
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    dr3_net *n = NULL;
    if (dr3_net_open(&n, path, NULL) == DR3_OK && n == NULL) abort();
    dr3_net_free(n);
    (void)dr3_net_load(mlp, path);
    unlink(path);
    return 0;
}
