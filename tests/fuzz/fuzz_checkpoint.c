/* libFuzzer target: learner checkpoints. Every input is written to a file and read back by
 * dr3_learner_checkpoint_info(), dr3_learner_load() into a small learner and
 * dr3_learner_open() (a learner of the file's own architecture); the library
 * must reject bad files with a status, never crash or read out of bounds. */
#include <dr3/dr3.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static dr3_learner *learner;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (learner == NULL) {
        static const size_t hidden[1] = {4};
        dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
        o.obs_dim = 2;
        o.num_actions = 2;
        o.num_hidden = 1;
        o.hidden = hidden;
        o.batch_size = 2;
        if (dr3_learner_create(&learner, &o) != DR3_OK) abort();
        snprintf(path, sizeof path, "/tmp/dr3-fuzz-ckpt-%ld", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
    (void)dr3_learner_checkpoint_info(&info, path);
    (void)dr3_learner_load(learner, path);
    /* the file's own architecture (MLP widths, or a layer list with convolutions) */
    dr3_learner *opened = NULL;
    if (dr3_learner_open(&opened, path, NULL) == DR3_OK && opened == NULL) abort();
    dr3_learner_free(opened);
    unlink(path);
    return 0;
}
