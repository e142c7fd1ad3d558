/* Learner checkpoints: a resumed run continues bit for bit, every corruption is refused
 * with the learner untouched, and a process killed while saving leaves a loadable file. */
/* flock(2), utimes(2): BSD/XSI, outside the POSIX level the tests are built with */
#define _DEFAULT_SOURCE 1

#include "testutil.h"

#include "crc32c_ref.h"

#include <dr3/learner.h>
#include <dr3/net.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
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

/* ---- crafted files: valid checksum, impossible values ------------------------------------
 * Offsets from docs/checkpoints.md: header fields at 8..103, hidden widths at 104, then the
 * online and target parameters (P floats each), then the optimizer blob (docs/optim.md:
 * step count at +24, vectors from +40, its own CRC last), then the file's CRC. The test
 * reseals both checksums with its own CRC-32C. */

typedef struct snapshot {
    float *online, *target;
    uint64_t steps;
    size_t np;
} snapshot;

static snapshot take(dr3_learner *l) {
    snapshot s;
    s.np = dr3_net_param_count(dr3_learner_online(l));
    s.online = malloc(s.np * sizeof(float));
    s.target = malloc(s.np * sizeof(float));
    memcpy(s.online, dr3_net_params(dr3_learner_online(l)), s.np * sizeof(float));
    memcpy(s.target, dr3_net_params(dr3_learner_target(l)), s.np * sizeof(float));
    s.steps = dr3_learner_step_count(l);
    return s;
}

static void assert_unchanged(dr3_learner *l, snapshot *s) {
    assert_memory_equal(s->online, dr3_net_params(dr3_learner_online(l)),
                        s->np * sizeof(float));
    assert_memory_equal(s->target, dr3_net_params(dr3_learner_target(l)),
                        s->np * sizeof(float));
    assert_true(dr3_learner_step_count(l) == s->steps);
}

static uint64_t rd64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void test_crafted_values_refused(void **state) {
    (void)state;
    char good[256], bad[256];
    tmp_path(good, sizeof good, "craft-good.ckpt");
    tmp_path(bad, sizeof bad, "craft-bad.ckpt");
    dr3_learner *a = make(16), *b = make(16);
    data d;
    for (int t = 0; t < 3; t++) {
        batch_for_step(&d, t);
        assert_int_equal(dr3_learner_step(a, &d.b, NULL), DR3_OK);
    }
    batch_for_step(&d, 50);
    assert_int_equal(dr3_learner_step(b, &d.b, NULL), DR3_OK); /* b has its own state */
    assert_int_equal(dr3_learner_save(a, good), DR3_OK);
    size_t len;
    unsigned char *bytes = slurp(good, &len), *buf = malloc(len);
    /* the layout as documented: P from the header, Adam's two vectors in the blob */
    const size_t P = (size_t)rd64(bytes + 40), nh = (size_t)rd64(bytes + 32);
    assert_int_equal(P, dr3_net_param_count(dr3_learner_online(a)));
    assert_int_equal(nh, 2);
    const size_t online = 104 + 8 * nh, target = online + 4 * P, blob = target + 4 * P;
    const size_t blob_len = (size_t)rd64(bytes + 56);
    assert_int_equal(blob_len, 44 + 2 * 4 * P);
    assert_int_equal(blob + blob_len + 4, len);
    assert_memory_equal(bytes + blob, "DR3OPTM", 8);
    const size_t exp_avg = blob + 40, exp_avg_sq = exp_avg + 4 * P;
    /* the test's CRC reproduces the file's */
    memcpy(buf, bytes, len);
    crc32c_ref_reseal(buf, len);
    assert_memory_equal(buf, bytes, len);

    snapshot s = take(b);
    const float nanv = NAN, inf = INFINITY, neg = -0.5f;
    const uint64_t huge = UINT64_MAX;
    struct {
        const char *what;
        size_t off;
        const void *val;
        size_t n;
        int in_blob;
    } cases[] = {
        {"NaN online parameter", online + 4 * 7, &nanv, 4, 0},
        {"Inf target parameter", target + 4 * (P - 1), &inf, 4, 0},
        {"negative exp_avg_sq", exp_avg_sq + 4 * 3, &neg, 4, 1},
        {"NaN exp_avg", exp_avg + 4 * 5, &nanv, 4, 1},
        {"Inf exp_avg_sq", exp_avg_sq, &inf, 4, 1},
        {"optimizer step count 2^64-1", blob + 24, &huge, 8, 1},
        {"learner step count 2^64-1", 48, &huge, 8, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(buf, bytes, len);
        memcpy(buf + cases[c].off, cases[c].val, cases[c].n);
        if (cases[c].in_blob) crc32c_ref_reseal(buf + blob, blob_len);
        crc32c_ref_reseal(buf, len);
        spit(bad, buf, len);
        dr3_clear_error();
        dr3_status st = dr3_learner_load(b, bad);
        if (st != DR3_ERR_FORMAT)
            fail_msg("%s: dr3_learner_load returned %d, expected DR3_ERR_FORMAT", cases[c].what,
                     (int)st);
        assert_true(dr3_last_error()[0] != '\0');
        assert_unchanged(b, &s);
        /* checkpoint_info reads the header: it refuses the impossible step counts */
        if (cases[c].off == 48) {
            dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
            TU_ASSERT_FAILS(dr3_learner_checkpoint_info(&info, bad), DR3_ERR_FORMAT);
        }
    }
    /* and the untouched file loads */
    assert_int_equal(dr3_learner_load(b, good), DR3_OK);
    assert_true(dr3_learner_step_count(b) == 3);
    free(s.online);
    free(s.target);
    free(buf);
    free(bytes);
    dr3_learner_free(a);
    dr3_learner_free(b);
    unlink(good);
    unlink(bad);
}

/* ---- sizes from the file are checked before anything is allocated ------------------------ */

static long max_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes `len` bytes of head then extends the file (sparse) to `size` bytes. */
static void sparse_file(const char *path, const void *head, size_t len, off_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    if (len > 0) assert_int_equal(write(fd, head, len), (ssize_t)len);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

/* A refused load must take little time and memory: no read of the whole file. */
#define EXPECT_QUICK_REFUSAL(call, want)                                                       \
    do {                                                                                       \
        long rss0 = max_rss_kb();                                                              \
        double t0 = now_s();                                                                   \
        TU_ASSERT_FAILS(call, want);                                                           \
        double dt = now_s() - t0;                                                              \
        long drss = max_rss_kb() - rss0;                                                       \
        if (dt > 2.0 || drss > 64 * 1024)                                                      \
            fail_msg("%s took %.2f s and %ld MB more peak memory", #call, dt, drss / 1024);    \
    } while (0)

static void test_huge_files_refused_early(void **state) {
    (void)state;
    char path[256], good[256];
    tmp_path(path, sizeof path, "huge.ckpt");
    tmp_path(good, sizeof good, "huge-good.ckpt");
    const off_t three_gb = (off_t)3 << 30;
    dr3_learner *l = make(16);
    snapshot s = take(l);
    dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
    /* 3 GB of zeros: the magic is wrong, which the first 104 bytes show */
    sparse_file(path, NULL, 0, three_gb);
    EXPECT_QUICK_REFUSAL(dr3_learner_load(l, path), DR3_ERR_FORMAT);
    EXPECT_QUICK_REFUSAL(dr3_learner_checkpoint_info(&info, path), DR3_ERR_FORMAT);
    /* a real checkpoint's header, padded to 3 GB: the header's total disagrees */
    assert_int_equal(dr3_learner_save(l, good), DR3_OK);
    size_t len;
    unsigned char *bytes = slurp(good, &len);
    sparse_file(path, bytes, len, three_gb);
    EXPECT_QUICK_REFUSAL(dr3_learner_load(l, path), DR3_ERR_FORMAT);
    EXPECT_QUICK_REFUSAL(dr3_learner_checkpoint_info(&info, path), DR3_ERR_FORMAT);
    /* a self-consistent header for two hidden layers of 20000 (400M parameters, a 4.8 GB
     * file with Adam's state), sparse: another architecture, refused before reading */
    {
        unsigned char h[104 + 16];
        memcpy(h, bytes, 104);
        const uint64_t w = 20000, obs = 4, act = 3;
        const uint64_t P = obs * w + w + w * w + w + w * act + act;
        const uint64_t optim_len = 44 + 2 * 4 * P;
        memcpy(h + 40, &P, 8);
        memcpy(h + 56, &optim_len, 8);
        memcpy(h + 104, &w, 8);
        memcpy(h + 112, &w, 8);
        sparse_file(path, h, sizeof h, (off_t)(sizeof h + 8 * P + optim_len + 4));
        EXPECT_QUICK_REFUSAL(dr3_learner_load(l, path), DR3_ERR_SHAPE);
        /* and declaring a parameter count its architecture does not have is refused too */
        const uint64_t lie = P + 1;
        memcpy(h + 40, &lie, 8);
        sparse_file(path, h, sizeof h, (off_t)(sizeof h + 8 * lie + optim_len + 4));
        EXPECT_QUICK_REFUSAL(dr3_learner_checkpoint_info(&info, path), DR3_ERR_FORMAT);
    }
    assert_unchanged(l, &s);
    free(s.online);
    free(s.target);
    free(bytes);
    dr3_learner_free(l);
    unlink(path);
    unlink(good);
}

/* ---- a FIFO (or a directory) named like a checkpoint is refused, not waited on ---------- */

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "blocked on a FIFO: open() waited for a writer\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static void test_non_regular_files_refused(void **state) {
    (void)state;
    char fifo[256], dir[256];
    tmp_path(fifo, sizeof fifo, "fifo.ckpt");
    tmp_path(dir, sizeof dir, "dir.ckpt");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    signal(SIGALRM, on_alarm);
    alarm(20); /* today's code blocks forever in open(): fail instead of hanging */
    dr3_learner *l = make(16);
    dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
    const char *paths[2] = {fifo, dir};
    for (int k = 0; k < 2; k++) {
        TU_ASSERT_FAILS(dr3_learner_load(l, paths[k]), DR3_ERR_IO);
        assert_non_null(strstr(dr3_last_error(), "not a regular file"));
        TU_ASSERT_FAILS(dr3_learner_checkpoint_info(&info, paths[k]), DR3_ERR_IO);
        assert_non_null(strstr(dr3_last_error(), "not a regular file"));
        dr3_net *n = NULL;
        TU_ASSERT_FAILS(dr3_net_load(dr3_learner_online(l), paths[k]), DR3_ERR_IO);
        assert_non_null(strstr(dr3_last_error(), "not a regular file"));
        TU_ASSERT_FAILS(dr3_net_open(&n, paths[k], NULL), DR3_ERR_IO);
        assert_null(n);
    }
    alarm(0);
    dr3_learner_free(l);
    unlink(fifo);
    rmdir(dir);
}

/* ---- stale temporary files of killed saves are removed by the next save ----------------- */

static pid_t dead_pid(void) {
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) _exit(0);
    int status;
    waitpid(p, &status, 0);
    return p; /* reaped: no process has this pid (until it is reused) */
}

static void touch(const char *dir, const char *name, int age_seconds) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
    if (age_seconds > 0) {
        struct timeval tv[2];
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= age_seconds;
        tv[1] = tv[0];
        assert_int_equal(utimes(p, tv), 0);
    }
}

static int exists(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void test_stale_temp_files_cleaned(void **state) {
    (void)state;
    char dir[] = "/tmp/dr3-ckpt-stale-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char target[512], name[256];
    snprintf(target, sizeof target, "%s/run.ckpt", dir);
    const long dead = (long)dead_pid(), self = (long)getpid();
    const int hour = 3600;
    /* a live writer in another pid namespace: its pid means nothing here, but it holds the
     * lock; simulated by a child that locks a file named with a dead pid */
    char locked[256];
    snprintf(locked, sizeof locked, "run.ckpt.tmp-%ld-7", dead);
    touch(dir, locked, hour);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, locked);
        int fd = open(p, O_RDONLY);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(1);
        (void)!write(pipefd[1], "x", 1);
        alarm(60); /* never outlives a failed test by long */
        pause();
        _exit(0);
    }
    char ready;
    assert_int_equal(read(pipefd[0], &ready, 1), 1);
    /* a live process (the holder) with an old file: a slow writer on this machine */
    char live[256];
    snprintf(live, sizeof live, "run.ckpt.tmp-%ld-0", (long)holder);
    touch(dir, live, hour);

    struct {
        const char *name;
        int age, gone;
    } files[16];
    char names[16][256];
    size_t nf = 0;
#define ADD(age_, gone_, ...)                                                                  \
    do {                                                                                       \
        snprintf(names[nf], sizeof names[nf], __VA_ARGS__);                                    \
        files[nf].name = names[nf];                                                            \
        files[nf].age = age_;                                                                  \
        files[nf].gone = gone_;                                                                \
        nf++;                                                                                  \
    } while (0)
    ADD(hour, 1, "run.ckpt.tmp-%ld-0", dead);   /* stale: removed */
    ADD(hour, 1, "run.ckpt.tmp-%ld-123", dead); /* stale: removed */
    ADD(0, 0, "run.ckpt.tmp-%ld-1", dead);      /* modified just now: kept */
    ADD(hour, 0, "run.ckpt.tmp-%ld-999", self); /* this process's (another thread's) */
    ADD(hour, 0, "run.ckpt.tmp-%ld-0x", dead);  /* not the pattern */
    ADD(hour, 0, "run.ckpt.tmp-%ld", dead);     /* not the pattern */
    ADD(hour, 0, "run.ckpt.tmp-abc-%d", 1);     /* not the pattern */
    ADD(hour, 0, "run.ckpt.bak%s", "");         /* unrelated */
    ADD(hour, 0, "other.ckpt.tmp-%ld-0", dead); /* another target's */
    ADD(hour, 0, "xrun.ckpt.tmp-%ld-0", dead);  /* another target's */
#undef ADD
    for (size_t i = 0; i < nf; i++) touch(dir, files[i].name, files[i].age);
    /* a directory named like a stale temporary file is not a file to delete */
    snprintf(name, sizeof name, "%s/run.ckpt.tmp-%ld-55", dir, dead);
    assert_int_equal(mkdir(name, 0700), 0);

    dr3_learner *l = make(16);
    assert_int_equal(dr3_learner_save(l, target), DR3_OK);
    for (size_t i = 0; i < nf; i++)
        if (exists(dir, files[i].name) == files[i].gone)
            fail_msg("%s was %s", files[i].name, files[i].gone ? "kept" : "removed");
    assert_true(exists(dir, locked));
    assert_true(exists(dir, live));
    assert_true(exists(dir, "run.ckpt"));
    snprintf(name, sizeof name, "run.ckpt.tmp-%ld-55", dead);
    assert_true(exists(dir, name));
    /* the writer of the safetensors format is the same: its stale files go too */
    snprintf(name, sizeof name, "net.safetensors.tmp-%ld-4", dead);
    touch(dir, name, hour);
    char net_path[512];
    snprintf(net_path, sizeof net_path, "%s/net.safetensors", dir);
    assert_int_equal(dr3_net_save(dr3_learner_online(l), net_path), DR3_OK);
    assert_false(exists(dir, name));
    /* once the holder is gone (its lock released), its files are stale too */
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    assert_int_equal(dr3_learner_save(l, target), DR3_OK);
    assert_false(exists(dir, locked));
    assert_false(exists(dir, live));
    dr3_learner_free(l);
    close(pipefd[0]);
    close(pipefd[1]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Two processes saving the same checkpoint at once, each cleaning stale files after every
 * save: neither may remove the other's temporary file (its rename would fail), and the
 * file always loads. */
static void test_concurrent_saves(void **state) {
    (void)state;
    char dir[] = "/tmp/dr3-ckpt-conc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/shared.ckpt", dir);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            dr3_learner *l = make(32);
            data d;
            for (int t = 0; t < 40; t++) {
                batch_for_step(&d, t + 100 * k);
                if (dr3_learner_step(l, &d.b, NULL) != DR3_OK) _exit(2);
                if (dr3_learner_save(l, path) != DR3_OK) _exit(3);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    dr3_learner *probe = make(32);
    assert_int_equal(dr3_learner_load(probe, path), DR3_OK);
    assert_true(dr3_learner_step_count(probe) == 40);
    dr3_learner_free(probe);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1 && rm -rf %s", dir, dir);
    assert_int_equal(system(cmd), 0); /* no temporary file left by the two writers */
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

/* dr3_learner_open: the architecture from the file (an options struct naming other widths
 * is overruled), the rest from the caller; the reopened learner continues bit for bit. */
static void test_open_recreates(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "open.ckpt");
    dr3_learner *a = make(24);
    data d;
    for (int t = 0; t < 5; t++) {
        batch_for_step(&d, t);
        assert_int_equal(dr3_learner_step(a, &d.b, NULL), DR3_OK);
    }
    assert_int_equal(dr3_learner_save(a, path), DR3_OK);
    dr3_learner *b = NULL;
    size_t wrong[1] = {7};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.num_hidden = 1; /* ignored: the file says 2 x 24 */
    o.hidden = wrong;
    o.batch_size = B;
    o.target_update_period = 4;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = DR3_BACKUP_SAMPLED;
    bo.policy = pi_uniform;
    o.backup = &bo;
    dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT;
    const dr3_regularizer_options *regs[1] = {&reg};
    o.regularizers = regs;
    o.num_regularizers = 1;
    assert_int_equal(dr3_learner_open(&b, path, &o), DR3_OK);
    assert_true(dr3_learner_step_count(b) == 5);
    size_t np = dr3_net_param_count(dr3_learner_online(a));
    assert_int_equal(dr3_net_param_count(dr3_learner_online(b)), np);
    for (int t = 5; t < 9; t++) {
        batch_for_step(&d, t);
        assert_int_equal(dr3_learner_step(a, &d.b, NULL), DR3_OK);
        assert_int_equal(dr3_learner_step(b, &d.b, NULL), DR3_OK);
    }
    assert_memory_equal(dr3_net_params(dr3_learner_online(a)),
                        dr3_net_params(dr3_learner_online(b)), np * sizeof(float));
    dr3_learner_free(b);
    /* NULL options: defaults, still the file's network */
    assert_int_equal(dr3_learner_open(&b, path, NULL), DR3_OK);
    assert_int_equal(dr3_net_param_count(dr3_learner_online(b)), np);
    dr3_learner_free(b);
    b = (dr3_learner *)1;
    TU_ASSERT_FAILS(dr3_learner_open(&b, "/nonexistent/x.ckpt", NULL), DR3_ERR_IO);
    assert_null(b);
    dr3_learner_free(a);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_is_bitwise_identical),
        cmocka_unit_test(test_open_recreates),
        cmocka_unit_test(test_corrupt_checkpoints_are_refused),
        cmocka_unit_test(test_kill_during_save),
        cmocka_unit_test(test_crafted_values_refused),
        cmocka_unit_test(test_huge_files_refused_early),
        cmocka_unit_test(test_non_regular_files_refused),
        cmocka_unit_test(test_stale_temp_files_cleaned),
        cmocka_unit_test(test_concurrent_saves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
