/* DQN Replay Dataset checkpoints: the test re-implements Dopamine's OutOfGraphReplayBuffer
 * (add with zero padding, cursor, invalid_range, is_valid_transition,
 * sample_transition_batch) from its documented behaviour, writes a checkpoint in exactly
 * Dopamine's layout (np.save'd arrays in gzip files named '$store$_<x>_ckpt.N.gz',
 * 'add_count_ckpt.N.gz', 'invalid_range_ckpt.N.gz') and checks that libdr3 samples the
 * same transitions. Malformed checkpoints must fail cleanly. */
#include "testutil.h"

#include "replay/gz.h"

#include <dr3/replay.h>

#include <zlib.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define D 6 /* observation shape (2, 3) */

typedef struct dop {
    size_t C, K, N;
    uint8_t *obs;
    int32_t *act;
    float *rew;
    uint8_t *term;
    long add_count;
    int64_t inv[16];
} dop;

static size_t cursor(const dop *d) { return (size_t)(d->add_count % (long)d->C); }

static void dop_add_raw(dop *d, const uint8_t *o, int32_t a, float r, uint8_t t) {
    size_t c = cursor(d);
    memcpy(d->obs + c * D, o, D);
    d->act[c] = a;
    d->rew[c] = r;
    d->term[c] = t;
    d->add_count++;
    size_t c2 = cursor(d);
    for (size_t i = 0; i < d->K + d->N; i++)
        d->inv[i] = (int64_t)((c2 + 2 * d->C - d->N + i) % d->C);
}

static void dop_add(dop *d, const uint8_t *o, int32_t a, float r, uint8_t t) {
    if (d->add_count == 0 || d->term[(cursor(d) + d->C - 1) % d->C] == 1) {
        uint8_t z[D] = {0};
        for (size_t i = 0; i + 1 < d->K; i++) dop_add_raw(d, z, 0, 0, 0);
    }
    dop_add_raw(d, o, a, r, t);
}

static int dop_valid(const dop *d, size_t index) {
    int full = d->add_count >= (long)d->C;
    if (!full) {
        if ((long)index >= (long)cursor(d) - (long)d->N) return 0;
        if (index < d->K - 1) return 0;
    }
    for (size_t i = 0; i < d->K + d->N; i++)
        if (d->inv[i] == (int64_t)index) return 0;
    for (size_t j = 1; j < d->K; j++) /* terminal in any frame but the last */
        if (d->term[(index + d->C - j) % d->C]) return 0;
    return 1;
}

static void dop_stack(const dop *d, size_t index, uint8_t *out) {
    for (size_t f = 0; f < d->K; f++) /* oldest first */
        memcpy(out + f * D, d->obs + ((index + d->C * 2 - (d->K - 1) + f) % d->C) * D, D);
}

/* ---- writing a checkpoint --------------------------------------------------------------- */

static void gz_npy(const char *path, const char *dict, const void *data, size_t bytes,
                   const void *extra, size_t extra_bytes) {
    char hdr[256];
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64;
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)(total - 10);
    hdr[9] = 0;
    memcpy(hdr + 10, dict, dl);
    memset(hdr + 10 + dl, ' ', total - 10 - dl - 1);
    hdr[total - 1] = '\n';
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, hdr, (unsigned)total), (int)total);
    if (bytes) assert_int_equal(gzwrite(g, data, (unsigned)bytes), (int)bytes);
    if (extra_bytes)
        assert_int_equal(gzwrite(g, extra, (unsigned)extra_bytes), (int)extra_bytes);
    assert_int_equal(gzclose(g), Z_OK);
}

static void ckpt_path(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s_ckpt.3.gz", dir, name);
}

static void write_ckpt(const dop *d, const char *dir) {
    mkdir(dir, 0755);
    char p[512], dict[200];
    ckpt_path(p, sizeof p, dir, "$store$_observation");
    snprintf(dict, sizeof dict,
             "{'descr': '|u1', 'fortran_order': False, 'shape': (%zu, 2, 3), }", d->C);
    gz_npy(p, dict, d->obs, d->C * D, NULL, 0);
    ckpt_path(p, sizeof p, dir, "$store$_action");
    snprintf(dict, sizeof dict, "{'descr': '<i4', 'fortran_order': False, 'shape': (%zu,), }",
             d->C);
    gz_npy(p, dict, d->act, d->C * 4, NULL, 0);
    ckpt_path(p, sizeof p, dir, "$store$_reward");
    snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }",
             d->C);
    gz_npy(p, dict, d->rew, d->C * 4, NULL, 0);
    ckpt_path(p, sizeof p, dir, "$store$_terminal");
    snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%zu,), }",
             d->C);
    gz_npy(p, dict, d->term, d->C, NULL, 0);
    ckpt_path(p, sizeof p, dir, "add_count");
    int64_t ac = d->add_count;
    gz_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &ac, 8, NULL, 0);
    ckpt_path(p, sizeof p, dir, "invalid_range");
    snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%zu,), }",
             d->K + d->N);
    gz_npy(p, dict, d->inv, (d->K + d->N) * 8, NULL, 0);
}

static char tmp_root[256];

static void make_tmp(char *out, size_t cap, const char *name) {
    if (tmp_root[0] == '\0') {
        snprintf(tmp_root, sizeof tmp_root, "/tmp/dr3_test_dqn_XXXXXX");
        assert_non_null(mkdtemp(tmp_root));
    }
    int n = snprintf(out, cap, "%s/%s", tmp_root, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static dop *simulate(size_t C, size_t K, size_t N, int steps, uint64_t seed) {
    dop *d = calloc(1, sizeof *d);
    d->C = C;
    d->K = K;
    d->N = N;
    d->obs = calloc(C, D);
    d->act = calloc(C, sizeof(int32_t));
    d->rew = calloc(C, sizeof(float));
    d->term = calloc(C, 1);
    /* np.empty garbage in rows never written: must be ignored */
    for (size_t i = 0; i < C; i++) {
        d->act[i] = 12345;
        d->term[i] = 7;
        d->rew[i] = NAN;
    }
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    for (int s = 0; s < steps; s++) {
        uint8_t o[D];
        for (int j = 0; j < D; j++) o[j] = (uint8_t)((s * 7 + j) % 250 + 1);
        uint64_t u = dr3_rng_below(&rng, 9);
        dop_add(d, o, (int32_t)dr3_rng_below(&rng, 6), (float)dr3_rng_below(&rng, 7) - 3.0f,
                u == 0);
    }
    return d;
}

static void dop_free(dop *d) {
    free(d->obs);
    free(d->act);
    free(d->rew);
    free(d->term);
    free(d);
}

/* An allocator that records the largest single request. */
typedef struct biggest {
    size_t max;
} biggest;
static void *big_alloc(void *opaque, size_t size, size_t alignment) {
    biggest *b = opaque;
    if (size > b->max) b->max = size;
    void *q = NULL;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    return posix_memalign(&q, alignment, size ? size : 1) == 0 ? q : NULL;
}
static void big_free(void *opaque, void *q) {
    (void)opaque;
    free(q);
}

static void check_against_dopamine(size_t C, size_t K, size_t N, int steps, uint64_t seed) {
    dop *d = simulate(C, K, N, steps, seed);
    char dir[512], name[64];
    snprintf(name, sizeof name, "ck_%zu_%zu_%zu_%d", C, K, N, steps);
    make_tmp(dir, sizeof dir, name);
    write_ckpt(d, dir);
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.frame_stack = K;
    o.n_step = N;
    o.gamma = 0.9f;
    dr3_replay *r = NULL;
    if (dr3_replay_open_dqn(&r, dir, 3, &o) != DR3_OK) fail_msg("%s", dr3_last_error());
    assert_int_equal(dr3_replay_is_read_only(r), 1);
    assert_int_equal(dr3_replay_capacity(r), C);
    size_t *idx = malloc(C * sizeof *idx), n;
    assert_int_equal(dr3_replay_valid_indices(r, 0, idx, C, &n), DR3_OK);
    size_t expect = 0;
    for (size_t i = 0; i < C; i++) expect += (size_t)dop_valid(d, i);
    assert_int_equal(n, expect);
    assert_true(n > C / 4);
    uint8_t s[64], ns[64], ds[64], dns[64];
    for (size_t i = 0; i < n; i++) {
        size_t index = idx[i];
        assert_true(dop_valid(d, index));
        /* Dopamine's sample_transition_batch */
        size_t len = N;
        int term = 0;
        for (size_t j = 0; j < N; j++)
            if (d->term[(index + j) % C]) {
                len = j + 1;
                term = 1;
                break;
            }
        double ret = 0, g = 1;
        for (size_t j = 0; j < len; j++, g *= 0.9) ret += g * d->rew[(index + j) % C];
        dop_stack(d, index, ds);
        dop_stack(d, (index + len) % C, dns);
        float rw, disc;
        int32_t a;
        uint8_t t;
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs_u8 = s;
        b.ld_obs_u8 = K * D;
        b.next_obs_u8 = ns;
        b.ld_next_obs_u8 = K * D;
        b.rewards = &rw;
        b.discounts = &disc;
        b.actions = &a;
        b.terminals = &t;
        assert_int_equal(dr3_replay_get(r, &index, 1, &b), DR3_OK);
        assert_memory_equal(s, ds, K * D);
        /* after a terminal Dopamine's next state ends in a padding frame; with K = 1 there
         * is none and its contents are undefined (its docstring), ours is a zero frame */
        if (!term || K > 1) assert_memory_equal(ns, dns, K * D);
        TU_ASSERT_CLOSE(rw, ret, 1e-6, 1e-6);
        TU_ASSERT_CLOSE(disc, term ? 0.0 : g, 1e-6, 0);
        assert_int_equal(t, term);
        assert_int_equal(a, d->act[index]);
    }
    /* sampling only ever returns these rows */
    dr3_rng rng;
    dr3_rng_seed(&rng, 9);
    size_t got[256];
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.indices = got;
    assert_int_equal(dr3_replay_sample(r, &rng, 256, &b), DR3_OK);
    for (int i = 0; i < 256; i++) assert_true(dop_valid(d, got[i]));
    free(idx);
    dr3_replay_free(r);
    dop_free(d);
}

static void test_matches_dopamine_not_full(void **state) {
    (void)state;
    check_against_dopamine(400, 4, 1, 250, 1);
    check_against_dopamine(400, 2, 2, 300, 2);
}

static void test_matches_dopamine_wrapped(void **state) {
    (void)state;
    check_against_dopamine(300, 4, 1, 1000, 3);
    check_against_dopamine(257, 4, 3, 1234, 4);
    check_against_dopamine(100, 1, 1, 333, 5);
}

/* ---- malformed checkpoints -------------------------------------------------------------- */

static void expect_fail(const char *dir, dr3_status st, const char *file) {
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.frame_stack = 4;
    dr3_replay *r = (dr3_replay *)1;
    TU_ASSERT_FAILS(dr3_replay_open_dqn(&r, dir, 3, &o), st);
    assert_null(r);
    if (strstr(dr3_last_error(), file) == NULL)
        fail_msg("'%s' does not name %s", dr3_last_error(), file);
}

static void corrupt_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
}

static void test_malformed_checkpoints(void **state) {
    (void)state;
    dop *d = simulate(64, 4, 1, 100, 8);
    char dir[512], p[600], dict[200];
    int k = 0;
#define FRESH()                                                                                \
    do {                                                                                       \
        char nm[32];                                                                           \
        snprintf(nm, sizeof nm, "bad_%d", k++);                                                \
        make_tmp(dir, sizeof dir, nm);                                                         \
        write_ckpt(d, dir);                                                                    \
    } while (0)

    FRESH();
    ckpt_path(p, sizeof p, dir, "add_count");
    unlink(p);
    expect_fail(dir, DR3_ERR_IO, "add_count");

    FRESH(); /* corrupt compressed data: zlib's CRC or decoder catches it */
    ckpt_path(p, sizeof p, dir, "$store$_observation");
    struct stat sb;
    stat(p, &sb);
    corrupt_byte(p, sb.st_size / 2);
    expect_fail(dir, DR3_ERR_FORMAT, "$store$_observation");

    FRESH(); /* truncated file */
    ckpt_path(p, sizeof p, dir, "$store$_reward");
    stat(p, &sb);
    assert_int_equal(truncate(p, sb.st_size - 9), 0);
    expect_fail(dir, DR3_ERR_FORMAT, "$store$_reward");

    FRESH(); /* bytes after the array inside the gzip stream */
    ckpt_path(p, sizeof p, dir, "$store$_action");
    snprintf(dict, sizeof dict, "{'descr': '<i4', 'fortran_order': False, 'shape': (64,), }");
    int32_t extra = 0;
    gz_npy(p, dict, d->act, 64 * 4, &extra, 4);
    expect_fail(dir, DR3_ERR_FORMAT, "$store$_action");

    FRESH(); /* lengths disagree */
    ckpt_path(p, sizeof p, dir, "$store$_action");
    gz_npy(p, "{'descr': '<i4', 'fortran_order': False, 'shape': (63,), }", d->act, 63 * 4,
           NULL, 0);
    expect_fail(dir, DR3_ERR_SHAPE, "$store$_action");

    FRESH(); /* terminal flag 2 in a stored row */
    ckpt_path(p, sizeof p, dir, "$store$_terminal");
    uint8_t t2[64];
    memcpy(t2, d->term, 64);
    t2[10] = 2;
    gz_npy(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (64,), }", t2, 64, NULL, 0);
    expect_fail(dir, DR3_ERR_FORMAT, "$store$_terminal");

    FRESH(); /* invalid_range outside the buffer */
    ckpt_path(p, sizeof p, dir, "invalid_range");
    int64_t inv[5] = {1, 2, 3, 4, 64};
    gz_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", inv, 40, NULL, 0);
    expect_fail(dir, DR3_ERR_FORMAT, "invalid_range");

    FRESH(); /* negative add_count */
    ckpt_path(p, sizeof p, dir, "add_count");
    int64_t neg = -1;
    gz_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &neg, 8, NULL, 0);
    expect_fail(dir, DR3_ERR_FORMAT, "add_count");

    FRESH(); /* a plain .npy, not gzip'd */
    ckpt_path(p, sizeof p, dir, "$store$_reward");
    FILE *f = fopen(p, "wb");
    fputs("\x93NUMPY\x01", f);
    fclose(f);
    expect_fail(dir, DR3_ERR_FORMAT, "$store$_reward");

    FRESH(); /* float actions */
    ckpt_path(p, sizeof p, dir, "$store$_action");
    gz_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (64,), }", d->rew, 64 * 4,
           NULL, 0);
    expect_fail(dir, DR3_ERR_UNSUPPORTED, "$store$_action");

    FRESH(); /* action bound */
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.num_actions = 2;
    dr3_replay *r = (dr3_replay *)1;
    TU_ASSERT_FAILS(dr3_replay_open_dqn(&r, dir, 3, &o), DR3_ERR_RANGE);
    assert_null(r);
    TU_ASSERT_FAILS(dr3_replay_open_dqn(&r, dir, 4, &o), DR3_ERR_IO); /* other suffix */
    TU_ASSERT_FAILS(dr3_replay_open_dqn(&r, NULL, 3, &o), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_open_dqn(NULL, dir, 3, &o), DR3_ERR_INVALID_ARG);
    o.num_actions = 6;
    assert_int_equal(dr3_replay_open_dqn(&r, dir, 3, &o), DR3_OK);
    dr3_replay_free(r);

    FRESH(); /* one flipped bit in a stored action: not 2^25 + 1 actions */
    ckpt_path(p, sizeof p, dir, "$store$_action");
    int32_t flipped[64];
    memcpy(flipped, d->act, sizeof flipped);
    flipped[20] |= 1 << 25;
    gz_npy(p, "{'descr': '<i4', 'fortran_order': False, 'shape': (64,), }", flipped, 64 * 4,
           NULL, 0);
    expect_fail(dir, DR3_ERR_RANGE, "$store$_action");
    assert_non_null(strstr(dr3_last_error(), "num_actions"));

    FRESH(); /* headers declaring 10^6 rows over streams of a few bytes: refused before the
              * reader allocates (and clears) what they declare */
    {
        static const char *const huge[4][2] = {
            {"$store$_observation",
             "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000, 2, 3), }"},
            {"$store$_action",
             "{'descr': '<i4', 'fortran_order': False, 'shape': (1000000,), }"},
            {"$store$_reward",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }"},
            {"$store$_terminal",
             "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000,), }"}};
        uint8_t few[64] = {0};
        for (int i = 0; i < 4; i++) {
            ckpt_path(p, sizeof p, dir, huge[i][0]);
            gz_npy(p, huge[i][1], few, sizeof few, NULL, 0);
        }
        biggest b = {0};
        dr3_replay_options ho = DR3_REPLAY_OPTIONS_INIT;
        ho.allocator.alloc = big_alloc;
        ho.allocator.free = big_free;
        ho.allocator.opaque = &b;
        dr3_replay *hr = (dr3_replay *)1;
        TU_ASSERT_FAILS(dr3_replay_open_dqn(&hr, dir, 3, &ho), DR3_ERR_FORMAT);
        assert_null(hr);
        assert_non_null(strstr(dr3_last_error(), "$store$_observation"));
        if (b.max >= 1000000) fail_msg("allocated %zu bytes before refusing", b.max);
    }

    FRESH(); /* a FIFO named like a checkpoint file: refused, not waited on */
    ckpt_path(p, sizeof p, dir, "$store$_terminal");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(20);
    expect_fail(dir, DR3_ERR_IO, "$store$_terminal");
    alarm(0);
    assert_non_null(strstr(dr3_last_error(), "FIFO"));
    dop_free(d);
#undef FRESH
}

/* The gzip reader on memory: concatenated members, exact lengths. */
static void test_gz_reader(void **state) {
    (void)state;
    uint8_t plain[100], packed[400];
    for (int i = 0; i < 100; i++) plain[i] = (uint8_t)(i * 3);
    /* two gzip members: 60 bytes then 40 */
    size_t total = 0;
    for (int m = 0; m < 2; m++) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(
            deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        zs.next_in = plain + (m ? 60 : 0);
        zs.avail_in = m ? 40 : 60;
        zs.next_out = packed + total;
        zs.avail_out = (uInt)(sizeof packed - total);
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        total += zs.total_out;
        deflateEnd(&zs);
    }
    dr3i_alloc a;
    assert_int_equal(dr3i_alloc_init(&a, NULL, "t"), DR3_OK);
    dr3i_gz g;
    uint8_t out[100];
    assert_int_equal(dr3i_gz_open_mem(&g, &a, packed, total, "mem", "t"), DR3_OK);
    assert_int_equal(dr3i_gz_read(&g, out, 100), DR3_OK);
    assert_memory_equal(out, plain, 100);
    assert_int_equal(dr3i_gz_expect_end(&g), DR3_OK);
    dr3i_gz_close(&g);
    /* asking for more than there is */
    assert_int_equal(dr3i_gz_open_mem(&g, &a, packed, total, "mem", "t"), DR3_OK);
    uint8_t big[101];
    TU_ASSERT_FAILS(dr3i_gz_read(&g, big, 101), DR3_ERR_FORMAT);
    dr3i_gz_close(&g);
    /* data left over */
    assert_int_equal(dr3i_gz_open_mem(&g, &a, packed, total, "mem", "t"), DR3_OK);
    assert_int_equal(dr3i_gz_read(&g, out, 99), DR3_OK);
    TU_ASSERT_FAILS(dr3i_gz_expect_end(&g), DR3_ERR_FORMAT);
    dr3i_gz_close(&g);
    /* empty input, garbage, a damaged trailer */
    assert_int_equal(dr3i_gz_open_mem(&g, &a, packed, 0, "mem", "t"), DR3_OK);
    TU_ASSERT_FAILS(dr3i_gz_read(&g, out, 1), DR3_ERR_FORMAT);
    dr3i_gz_close(&g);
    assert_int_equal(dr3i_gz_open_mem(&g, &a, plain, 100, "mem", "t"), DR3_OK);
    TU_ASSERT_FAILS(dr3i_gz_read(&g, out, 1), DR3_ERR_FORMAT);
    dr3i_gz_close(&g);
    packed[total - 6] ^= 1; /* CRC of the second member */
    assert_int_equal(dr3i_gz_open_mem(&g, &a, packed, total, "mem", "t"), DR3_OK);
    dr3_status st = dr3i_gz_read(&g, out, 100);
    if (st == DR3_OK) st = dr3i_gz_expect_end(&g);
    assert_int_equal(st, DR3_ERR_FORMAT);
    dr3i_gz_close(&g);
}

static int cleanup(void **state) {
    (void)state;
    if (tmp_root[0] != '\0') {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}

/* ---- writing the layout: dr3_replay_save_dqn ------------------------------------------ */

enum { RT_OBS = 6, RT_K = 2, RT_MAXT = 400 };
typedef struct rt_tr {
    uint8_t s[RT_K * RT_OBS], s2[RT_K * RT_OBS];
    int32_t a;
    float r, d;
} rt_tr;

static int rt_cmp(const void *x, const void *y) { return memcmp(x, y, sizeof(rt_tr)); }

/* Every sampleable transition of a handle, as plain records sorted bytewise. */
static size_t rt_all(const dr3_replay *r, rt_tr *out, size_t cap) {
    size_t idx[RT_MAXT], count = 0;
    assert_int_equal(dr3_replay_valid_indices(r, 0, idx, RT_MAXT, &count), DR3_OK);
    assert_true(count <= cap);
    for (size_t i = 0; i < count; i++) {
        rt_tr *t = &out[i];
        memset(t, 0, sizeof *t);
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs_u8 = t->s;
        b.ld_obs_u8 = RT_K * RT_OBS;
        b.next_obs_u8 = t->s2;
        b.ld_next_obs_u8 = RT_K * RT_OBS;
        b.actions = &t->a;
        b.rewards = &t->r;
        b.discounts = &t->d;
        assert_int_equal(dr3_replay_get(r, &idx[i], 1, &b), DR3_OK);
        if (t->d == 0) memset(t->s2, 0, sizeof t->s2); /* not used by a target */
    }
    qsort(out, count, sizeof *out, rt_cmp);
    return count;
}

/* A ring buffer of uint8 observations with a frame stack of 2 — terminal episodes and a
 * last episode cut by the end of the data — written in Dopamine's layout and read back:
 * the same transitions, less the two Dopamine's invalid_range excludes (the first step,
 * row cursor + stack − 1, and the newest step, whose next state is not stored). */
static void test_save_dqn_round_trip(void **state) {
    (void)state;
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 300;
    o.obs_dim = RT_OBS;
    o.obs_dtype = DR3_DTYPE_U8;
    o.num_actions = 3;
    o.frame_stack = RT_K;
    o.gamma = 0.9f;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    dr3_rng rng;
    dr3_rng_seed(&rng, 4);
    uint8_t obs[RT_OBS], next[RT_OBS];
    size_t steps = 0, first_slot = 0;
    for (int ep = 0; ep < 6; ep++) {
        size_t len = 3 + dr3_rng_below(&rng, 9);
        for (size_t k = 0; k < RT_OBS; k++) obs[k] = (uint8_t)dr3_rng_below(&rng, 256);
        for (size_t t = 0; t < len; t++) {
            for (size_t k = 0; k < RT_OBS; k++) next[k] = (uint8_t)dr3_rng_below(&rng, 256);
            int32_t a = (int32_t)dr3_rng_below(&rng, 3);
            float rew = (float)dr3_rng_below(&rng, 3) - 1.0f;
            int last = t + 1 == len, term = last && ep < 5, trunc = last && ep == 5;
            assert_int_equal(dr3_replay_add(r, obs, &a, rew, term, trunc, last ? next : NULL),
                             DR3_OK);
            memcpy(obs, next, sizeof obs);
            steps++;
        }
    }
    static rt_tr mine[RT_MAXT], theirs[RT_MAXT];
    size_t n1 = rt_all(r, mine, RT_MAXT);
    assert_int_equal(n1, steps); /* every step is sampleable in the ring */
    char dir[256];
    make_tmp(dir, sizeof dir, "dqn_written");
    assert_int_equal(dr3_replay_save_dqn(r, dir, 7), DR3_OK);
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.frame_stack = RT_K;
    ro.gamma = 0.9f;
    dr3_replay *back = NULL;
    assert_int_equal(dr3_replay_open_dqn(&back, dir, 7, &ro), DR3_OK);
    size_t n2 = rt_all(back, theirs, RT_MAXT);
    assert_int_equal(n2, steps - 2);
    /* the first and the newest step are the two missing: every other transition is there */
    size_t idx[RT_MAXT], count;
    assert_int_equal(dr3_replay_valid_indices(r, 0, idx, RT_MAXT, &count), DR3_OK);
    (void)first_slot;
    size_t drop[2] = {idx[0], idx[count - 1]};
    rt_tr expect[RT_MAXT];
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        if (idx[i] == drop[0] || idx[i] == drop[1]) continue;
        rt_tr t;
        memset(&t, 0, sizeof t);
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs_u8 = t.s;
        b.ld_obs_u8 = RT_K * RT_OBS;
        b.next_obs_u8 = t.s2;
        b.ld_next_obs_u8 = RT_K * RT_OBS;
        b.actions = &t.a;
        b.rewards = &t.r;
        b.discounts = &t.d;
        assert_int_equal(dr3_replay_get(r, &idx[i], 1, &b), DR3_OK);
        if (t.d == 0) memset(t.s2, 0, sizeof t.s2);
        expect[m++] = t;
    }
    qsort(expect, m, sizeof *expect, rt_cmp);
    assert_int_equal(m, n2);
    assert_memory_equal(expect, theirs, m * sizeof *expect);
    /* refusals: continuous actions, and nothing written */
    dr3_replay_free(back);
    dr3_replay_free(r);
    o.action_kind = DR3_ACTION_CONTINUOUS;
    o.action_dim = 2;
    o.num_actions = 0;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    TU_ASSERT_FAILS(dr3_replay_save_dqn(r, dir, 8), DR3_ERR_UNSUPPORTED);
    dr3_replay_free(r);
}

int main(void) {
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    if (dr3_runtime_info_get(&info) != DR3_OK || !info.has_zlib) {
        /* built without zlib: the loader must say so */
        dr3_replay *r = (dr3_replay *)1;
        if (dr3_replay_open_dqn(&r, "/tmp", 1, NULL) != DR3_ERR_UNSUPPORTED || r != NULL)
            return 1;
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gz_reader),
        cmocka_unit_test(test_matches_dopamine_not_full),
        cmocka_unit_test(test_matches_dopamine_wrapped),
        cmocka_unit_test(test_malformed_checkpoints),
        cmocka_unit_test(test_save_dqn_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
