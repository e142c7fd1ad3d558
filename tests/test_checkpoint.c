/* Learner checkpoints: a resumed run continues bit for bit, every corruption is refused
 * with the learner untouched, and a process killed while saving leaves a loadable file. */
#include "testutil.h"

#include <dr3/learner.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OBS = 4, ACT = 3, B = 16 };

static int pi_uniform(void *payload, size_t n, const float *obs, size_t ld, float *p,
                      size_t ldp) {
    (void)payload;
    (void)obs;
    (void)ld;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < ACT; a++) p[i * ldp + a] = 1.0f / ACT;
    return 0;
}

static dr3_learner *make(size_t width) {
    size_t hidden[2] = {width, width};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = OBS;
    o.num_actions = ACT;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.batch_size = B;
    o.target_update_period = 4;
    o.seed = 77;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = DR3_BACKUP_SAMPLED; /* uses the learner's generator: resuming must restore it */
    bo.policy = pi_uniform;
    o.backup = &bo;
    dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT;
    static const dr3_regularizer_options *reg_ptr[1];
    reg_ptr[0] = &reg;
    o.regularizers = reg_ptr;
    o.num_regularizers = 1;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    return l;
}

typedef struct data {
    float obs[B * OBS], next[B * OBS], r[B];
    int32_t a[B];
    dr3_batch b;
} data;

static void batch_for_step(data *d, int t) {
    dr3_rng rng;
    dr3_rng_seed(&rng, 1000 + (uint64_t)t);
    for (int i = 0; i < B * OBS; i++) {
        d->obs[i] = dr3_rng_uniform(&rng) * 2 - 1;
        d->next[i] = dr3_rng_uniform(&rng) * 2 - 1;
    }
    for (int i = 0; i < B; i++) {
        d->r[i] = dr3_rng_uniform(&rng);
        d->a[i] = (int32_t)dr3_rng_below(&rng, ACT);
    }
    d->b = (dr3_batch)DR3_BATCH_INIT;
    d->b.n = B;
    d->b.obs = d->obs;
    d->b.ld_obs = OBS;
    d->b.next_obs = d->next;
    d->b.ld_next_obs = OBS;
    d->b.actions = d->a;
    d->b.rewards = d->r;
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/dr3-ckpt-%ld-%s", (long)getpid(), name);
}

static void test_resume_is_bitwise_identical(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "resume.ckpt");
    dr3_learner *a = make(32), *b = make(32);
    data d;
    dr3_step_metrics ma = DR3_STEP_METRICS_INIT, mb = DR3_STEP_METRICS_INIT;
    for (int t = 0; t < 30; t++) {
        if (t == 13) assert_int_equal(dr3_learner_save(a, path), DR3_OK);
        batch_for_step(&d, t);
        assert_int_equal(dr3_learner_step(a, &d.b, &ma), DR3_OK);
    }
    /* b starts from a different state (some steps on other data), then loads step 13 */
    batch_for_step(&d, 99);
    for (int t = 0; t < 3; t++) assert_int_equal(dr3_learner_step(b, &d.b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_load(b, path), DR3_OK);
    assert_true(dr3_learner_step_count(b) == 13);
    for (int t = 13; t < 30; t++) {
        batch_for_step(&d, t);
        assert_int_equal(dr3_learner_step(b, &d.b, &mb), DR3_OK);
    }
    assert_memory_equal(&ma, &mb, sizeof ma);
    size_t np = dr3_net_param_count(dr3_learner_online(a));
    assert_memory_equal(dr3_net_params(dr3_learner_online(a)),
                        dr3_net_params(dr3_learner_online(b)), np * sizeof(float));
    assert_memory_equal(dr3_net_params(dr3_learner_target(a)),
                        dr3_net_params(dr3_learner_target(b)), np * sizeof(float));
    dr3_learner_free(a);
    dr3_learner_free(b);
    unlink(path);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*len);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void spit(const char *path, const unsigned char *p, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static void test_corrupt_checkpoints_are_refused(void **state) {
    (void)state;
    char good[256], bad[256];
    tmp_path(good, sizeof good, "good.ckpt");
    tmp_path(bad, sizeof bad, "bad.ckpt");
    dr3_learner *a = make(16), *b = make(16), *other = make(24);
    data d;
    batch_for_step(&d, 1);
    assert_int_equal(dr3_learner_step(a, &d.b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_save(a, good), DR3_OK);
    size_t len, np = dr3_net_param_count(dr3_learner_online(b));
    unsigned char *bytes = slurp(good, &len);
    float *before = malloc(np * sizeof(float));
    memcpy(before, dr3_net_params(dr3_learner_online(b)), np * sizeof(float));

    spit(bad, bytes, len / 2); /* truncated */
    TU_ASSERT_FAILS(dr3_learner_load(b, bad), DR3_ERR_FORMAT);
    spit(bad, bytes, 5); /* shorter than the header */
    TU_ASSERT_FAILS(dr3_learner_load(b, bad), DR3_ERR_FORMAT);
    bytes[len / 2] ^= 0x10; /* one flipped bit in the parameters */
    spit(bad, bytes, len);
    TU_ASSERT_FAILS(dr3_learner_load(b, bad), DR3_ERR_CHECKSUM);
    bytes[len / 2] ^= 0x10;
    bytes[0] = 'X'; /* magic */
    spit(bad, bytes, len);
    TU_ASSERT_FAILS(dr3_learner_load(b, bad), DR3_ERR_FORMAT);
    bytes[0] = 'D';
    bytes[8] = 9; /* version */
    spit(bad, bytes, len);
    TU_ASSERT_FAILS(dr3_learner_load(b, bad), DR3_ERR_VERSION);
    bytes[8] = 1;
    TU_ASSERT_FAILS(dr3_learner_load(other, good), DR3_ERR_SHAPE); /* architecture */
    TU_ASSERT_FAILS(dr3_learner_load(b, "/nonexistent/x.ckpt"), DR3_ERR_IO);
    TU_ASSERT_FAILS(dr3_learner_load(b, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_save(a, "/nonexistent/dir/x.ckpt"), DR3_ERR_IO);
    assert_memory_equal(before, dr3_net_params(dr3_learner_online(b)), np * sizeof(float));
    assert_true(dr3_learner_step_count(b) == 0);
    /* the architecture can be read without a learner; corrupt files are refused */
    dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
    size_t widths[2] = {0, 0};
    info.hidden = widths;
    info.hidden_capacity = 1; /* room for one: the count is still the file's */
    assert_int_equal(dr3_learner_checkpoint_info(&info, good), DR3_OK);
    assert_int_equal(info.num_hidden, 2);
    assert_int_equal(widths[0], 16);
    assert_int_equal(widths[1], 0);
    info.hidden_capacity = 2;
    assert_int_equal(dr3_learner_checkpoint_info(&info, good), DR3_OK);
    assert_int_equal(info.obs_dim, OBS);
    assert_int_equal(info.num_actions, ACT);
    assert_int_equal(info.num_hidden, 2);
    assert_int_equal(info.hidden[0], 16);
    assert_int_equal(info.hidden[1], 16);
    assert_int_equal(info.activation, DR3_ACT_RELU);
    assert_true(info.steps == 1);
    bytes[len - 1] ^= 1;
    spit(bad, bytes, len);
    TU_ASSERT_FAILS(dr3_learner_checkpoint_info(&info, bad), DR3_ERR_CHECKSUM);
    bytes[len - 1] ^= 1;
    /* and the intact file loads */
    spit(bad, bytes, len);
    assert_int_equal(dr3_learner_load(b, bad), DR3_OK);
    assert_true(dr3_learner_step_count(b) == 1);
    free(before);
    free(bytes);
    dr3_learner_free(a);
    dr3_learner_free(b);
    dr3_learner_free(other);
    unlink(good);
    unlink(bad);
}

/* A child saves in a loop; the parent kills it at a random moment, several times. The file
 * must always load: the old version or the new one, never a torn write. */
static void test_kill_during_save(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "kill.ckpt");
    dr3_learner *l = make(256); /* ~70k parameters: each save takes a while */
    assert_int_equal(dr3_learner_save(l, path), DR3_OK);
    dr3_rng rng;
    dr3_rng_seed(&rng, (uint64_t)time(NULL));
    int kills = 0;
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            data d;
            for (int t = 0;; t++) {
                batch_for_step(&d, t);
                dr3_learner_step(l, &d.b, NULL);
                dr3_learner_save(l, path);
            }
        }
        struct timespec ts = {0, (long)(2e6 + 20e6 * dr3_rng_uniform(&rng))};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status);
        dr3_learner *probe = make(256);
        assert_int_equal(dr3_learner_load(probe, path), DR3_OK);
        dr3_learner_free(probe);
    }
    assert_int_equal(kills, 6);
    dr3_learner_free(l);
    unlink(path);
    /* temporary files of killed writers are left behind (they are never renamed over the
     * checkpoint); clean them up */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -f %s.tmp-*", path);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_is_bitwise_identical),
        cmocka_unit_test(test_corrupt_checkpoints_are_refused),
        cmocka_unit_test(test_kill_during_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
