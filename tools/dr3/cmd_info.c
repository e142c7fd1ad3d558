#define DR3_EXPERIMENTAL 1 /* lists the layer-list network presets (issue #11) */
/* dr3 info: versions, BLIS kernels, threads and optional features. */
#include "cli.h"

#include <stdio.h>

int cmd_info(int argc, char **argv) {
    int rc = cli_parse("info", "", argc, argv, 2, NULL, 0);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_status st = dr3_runtime_info_get(&info);
    if (st != DR3_OK) return cli_fail("info", "reading runtime information", st);
    static const char *const source[] = {
        "BLIS's own CPU detection", "libdr3 (replacing BLIS's own choice)",
        "user choice (DR3_BLIS_ARCH or dr3_runtime_set_blis_arch)",
        "host environment (BLIS_ARCH_TYPE)", "BLIS was initialised before libdr3"};
    int src = info.blis_arch_source;
    printf("libdr3        %s (headers %s)\n", info.libdr3_version, DR3_VERSION_STRING);
    printf("BLIS          %s, %s\n", info.blis_version,
           info.blis_threading ? "multithreaded build" : "single-threaded build");
    printf("kernels       %s, chosen by %s\n", info.blis_arch,
           src >= 0 && src <= 4 ? source[src] : "?");
    printf("              BLIS alone would pick %s; best for this CPU: %s\n",
           info.blis_arch_auto, info.blis_arch_best);
    printf("CPU           %s family %d model %d; AVX2+FMA %s, AVX-512 %s\n", info.cpu_vendor,
           info.cpu_family, info.cpu_model, info.cpu_avx2_fma ? "yes" : "no",
           info.cpu_avx512 ? "yes" : "no");
    printf("threads       %d per handle by default, %d hardware threads\n",
           info.default_threads, info.hardware_threads);
    printf("features      gzip datasets: %s, HDF5 datasets (D4RL/Minari): %s\n",
           info.has_zlib ? "yes" : "no", info.has_hdf5 ? "yes" : "no");
    /* the network presets of dr3 train --net, described by the library itself */
    static const char *const presets[] = {"nature", "minatar"};
    printf("networks      mlp (--width x --depth, ReLU)");
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        dr3_net_desc d;
        if (dr3_net_desc_preset(&d, presets[p], 4, 1) != DR3_OK) continue;
        printf(", %s (C x %zu x %zu:", presets[p], d.in_height, d.in_width);
        for (size_t l = 0; l < d.num_layers; l++) {
            const dr3_layer *ly = d.layers[l];
            if (ly->kind == DR3_LAYER_CONV2D)
                printf(" conv %zu %zux%zu/%zu", ly->units, ly->kernel_h, ly->kernel_w,
                       ly->stride);
            else
                printf(" linear %zu", ly->units);
        }
        printf(")");
    }
    printf("\n");
    return CLI_OK;
}
