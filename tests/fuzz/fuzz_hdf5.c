/* libFuzzer target: the D4RL and Minari HDF5 readers. Each input is written to a file and
 * opened with dr3_replay_open_d4rl() and dr3_replay_open_minari(); libdr3's own checks
 * (dataset names, ranks, dtypes, lengths, overflow) must turn bad files into a status.
 * libhdf5 parses the container itself; crashes inside libhdf5 are reported separately. */
#include <dr3/dr3.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/dr3-fuzz-h5-%ld.hdf5", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    dr3_replay *r = NULL;
    if (dr3_replay_open_d4rl(&r, path, &o) == DR3_OK) dr3_replay_free(r);
    r = NULL;
    if (dr3_replay_open_minari(&r, path, &o) == DR3_OK) dr3_replay_free(r);
    unlink(path);
    return 0;
}
