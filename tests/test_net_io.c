/* Network weights as safetensors: round trips, a file written by PyTorch, and every kind of
 * malformed file, each refused with the network unchanged. */
#include "testutil.h"

#include <dr3/net.h>

#include "../tests/data/safetensors/torch_mlp_expected.h"
#include "io/safetensors.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static dr3_net *make(dr3_activation act, size_t h1, size_t h2, uint64_t seed) {
    size_t hidden[2] = {h1, h2};
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = 3;
    o.action_dim = 2;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.activation = act;
    o.max_batch = 4;
    o.seed = seed;
    dr3_net *n = NULL;
    assert_int_equal(dr3_net_create(&n, &o), DR3_OK);
    return n;
}

static void path_of(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/dr3-netio-%ld-%s", (long)getpid(), name);
}

static void test_round_trip(void **state) {
    (void)state;
    char path[256];
    path_of(path, sizeof path, "rt.safetensors");
    dr3_net *a = make(DR3_ACT_ELU, 6, 5, 1), *b = make(DR3_ACT_ELU, 6, 5, 2);
    assert_int_equal(dr3_net_save(a, path), DR3_OK);
    assert_int_equal(dr3_net_load(b, path), DR3_OK);
    size_t P = dr3_net_param_count(a);
    assert_memory_equal(dr3_net_params(a), dr3_net_params(b), P * sizeof(float));
    dr3_net *c = NULL;
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = 3;
    assert_int_equal(dr3_net_open(&c, path, &rt), DR3_OK);
    assert_true(dr3_net_same_shape(a, c));
    assert_int_equal(dr3_net_max_batch(c), 3);
    float x[6] = {0.1f, 0.2f, 0.3f, -1, 0, 1}, qa[4], qc[4];
    assert_int_equal(dr3_net_forward(a, 2, x, 3, NULL, 0, qa, 2, NULL), DR3_OK);
    assert_int_equal(dr3_net_forward(c, 2, x, 3, NULL, 0, qc, 2, NULL), DR3_OK);
    assert_memory_equal(qa, qc, sizeof qa); /* same weights, same activation (ELU) */
    /* another architecture or activation is refused, the net unchanged */
    dr3_net *d = make(DR3_ACT_ELU, 6, 4, 3), *e = make(DR3_ACT_RELU, 6, 5, 3);
    float *before = malloc(dr3_net_param_count(d) * sizeof(float));
    memcpy(before, dr3_net_params(d), dr3_net_param_count(d) * sizeof(float));
    TU_ASSERT_FAILS(dr3_net_load(d, path), DR3_ERR_SHAPE);
    assert_memory_equal(before, dr3_net_params(d), dr3_net_param_count(d) * sizeof(float));
    TU_ASSERT_FAILS(dr3_net_load(e, path), DR3_ERR_SHAPE);
    TU_ASSERT_FAILS(dr3_net_load(d, "/nonexistent/x.safetensors"), DR3_ERR_IO);
    TU_ASSERT_FAILS(dr3_net_save(a, "/nonexistent/dir/x.safetensors"), DR3_ERR_IO);
    free(before);
    unlink(path);
    dr3_net_free(a);
    dr3_net_free(b);
    dr3_net_free(c);
    dr3_net_free(d);
    dr3_net_free(e);
}

/* A file PyTorch wrote (tests/reference/gen_safetensors.py): same outputs as torch. */
static void test_load_pytorch_file(void **state) {
    (void)state;
    dr3_net *n = make(DR3_ACT_TANH, 5, 4, 9);
    assert_int_equal(dr3_net_load(n, DR3_TEST_DATA_DIR "/safetensors/torch_mlp.safetensors"),
                     DR3_OK);
    float q[6];
    assert_int_equal(dr3_net_forward(n, 3, torch_mlp_inputs, 3, NULL, 0, q, 2, NULL), DR3_OK);
    for (int i = 0; i < 6; i++) TU_ASSERT_CLOSE(q[i], torch_mlp_outputs[i], 1e-5, 1e-6);
    /* without libdr3's metadata the architecture cannot be rebuilt */
    dr3_net *m = NULL;
    TU_ASSERT_FAILS(
        dr3_net_open(&m, DR3_TEST_DATA_DIR "/safetensors/torch_mlp.safetensors", NULL),
        DR3_ERR_FORMAT);
    assert_null(m);
    dr3_net_free(n);
}

/* Builds a file image from a JSON header and a data region. */
static size_t image(unsigned char *buf, const char *json, size_t data_len) {
    size_t h = strlen(json);
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(buf + 8, json, h);
    memset(buf + 8 + h, 0, data_len);
    return 8 + h + data_len;
}

static void test_reader_rejects_malformed(void **state) {
    (void)state;
    static unsigned char buf[4096];
    dr3i_st_file *f = malloc(sizeof *f);
    size_t len;
    len = image(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24);
    assert_int_equal(dr3i_st_parse(buf, len, f, "t", "x"), DR3_OK);
    assert_int_equal(f->n_tensors, 1);
    const char *bad_headers[] = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}",  /* size lie */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,48]}}",  /* past end */
        "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",   /* dtype */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3]}}",                          /* missing */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}",   /* unclosed */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}", /* negative */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[24,24]}}", /* duplicate */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[8,20]}}",  /* overlap */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12]}}", /* hole at end */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615,2],\"data_offsets\":[0,24]}"
        "}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,24]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}} trailing",
        "[1,2]",
        "{\"__metadata__\":{\"k\":7},\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":["
        "0,24]}}",
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        len = image(buf, bad_headers[i], 24);
        dr3_clear_error();
        if (dr3i_st_parse(buf, len, f, "t", "x") != DR3_ERR_FORMAT)
            fail_msg("malformed header %zu was accepted: %s", i, bad_headers[i]);
        assert_true(dr3_last_error()[0] != '\0');
    }
    /* header length larger than the file, absurdly large, and a truncated file */
    len = image(buf, "{}", 0);
    buf[0] = 0xff;
    TU_ASSERT_FAILS(dr3i_st_parse(buf, len, f, "t", "x"), DR3_ERR_FORMAT);
    buf[7] = 0x7f;
    TU_ASSERT_FAILS(dr3i_st_parse(buf, len, f, "t", "x"), DR3_ERR_FORMAT);
    TU_ASSERT_FAILS(dr3i_st_parse(buf, 5, f, "t", "x"), DR3_ERR_FORMAT);
    free(f);
}

/* Malformed files given to dr3_net_load leave the network as it was. */
static void test_load_malformed_files(void **state) {
    (void)state;
    char good[256], bad[256];
    path_of(good, sizeof good, "good.safetensors");
    path_of(bad, sizeof bad, "bad.safetensors");
    dr3_net *a = make(DR3_ACT_RELU, 6, 5, 1), *b = make(DR3_ACT_RELU, 6, 5, 2);
    assert_int_equal(dr3_net_save(a, good), DR3_OK);
    FILE *fp = fopen(good, "rb");
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)len);
    assert_int_equal(fread(bytes, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    size_t P = dr3_net_param_count(b);
    float *before = malloc(P * sizeof(float));
    memcpy(before, dr3_net_params(b), P * sizeof(float));
    /* truncations at several points, a NaN weight, a wrong dtype string */
    const long cuts[] = {4, 16, len / 2, len - 1};
    for (size_t k = 0; k < 4; k++) {
        fp = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)cuts[k], fp);
        fclose(fp);
        TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_FORMAT);
    }
    unsigned char *nan_copy = malloc((size_t)len);
    memcpy(nan_copy, bytes, (size_t)len);
    const float nanv = NAN;
    memcpy(nan_copy + len - 4, &nanv, 4); /* the last bias */
    fp = fopen(bad, "wb");
    fwrite(nan_copy, 1, (size_t)len, fp);
    fclose(fp);
    TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_NONFINITE);
    char *hdr = (char *)nan_copy + 8, *f32 = strstr(hdr, "\"F32\"");
    memcpy(nan_copy + len - 4, bytes + len - 4, 4);
    memcpy(f32, "\"I32\"", 5);
    fp = fopen(bad, "wb");
    fwrite(nan_copy, 1, (size_t)len, fp);
    fclose(fp);
    TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_FORMAT);
    assert_memory_equal(before, dr3_net_params(b), P * sizeof(float));
    if (getenv("DR3_KEEP_NET_FILE"))
        printf("kept %s\n", good); /* for the Python check */
    else
        unlink(good);
    unlink(bad);
    free(nan_copy);
    free(bytes);
    free(before);
    dr3_net_free(a);
    dr3_net_free(b);
}

/* Weights plus optimizer state: a custom loop stops, reloads, and continues bit for bit. */
static void test_with_optimizer(void **state) {
    (void)state;
    char path[256], plain[256];
    path_of(path, sizeof path, "opt.safetensors");
    path_of(plain, sizeof plain, "plain.safetensors");
    dr3_net *a = make(DR3_ACT_TANH, 6, 5, 1), *b = make(DR3_ACT_TANH, 6, 5, 7);
    size_t P = dr3_net_param_count(a);
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    dr3_optim *oa = NULL, *ob = NULL, *sgd = NULL;
    assert_int_equal(dr3_optim_create(&oa, P, &oo), DR3_OK);
    assert_int_equal(dr3_optim_create(&ob, P, &oo), DR3_OK);
    oo.kind = DR3_OPTIM_SGD;
    assert_int_equal(dr3_optim_create(&sgd, P, &oo), DR3_OK);
    float x[6] = {0.1f, 0.2f, 0.3f, -1, 0, 1}, g[4] = {0.5f, -0.25f, 1, 0.1f};
    for (int t = 0; t < 3; t++) {
        assert_int_equal(dr3_net_forward(a, 2, x, 3, NULL, 0, NULL, 0, NULL), DR3_OK);
        assert_int_equal(dr3_net_backward(a, 2, g, 2, NULL, 0, NULL, 0, 0), DR3_OK);
        assert_int_equal(dr3_optim_step(oa, dr3_net_params(a), dr3_net_grads(a), P, NULL),
                         DR3_OK);
    }
    assert_int_equal(dr3_net_save_with_optim(a, oa, path), DR3_OK);
    assert_int_equal(dr3_net_load_with_optim(b, ob, path), DR3_OK);
    assert_true(dr3_optim_step_count(ob) == 3);
    for (int t = 0; t < 2; t++) {
        dr3_net *n[2] = {a, b};
        dr3_optim *o[2] = {oa, ob};
        for (int k = 0; k < 2; k++) {
            assert_int_equal(dr3_net_forward(n[k], 2, x, 3, NULL, 0, NULL, 0, NULL), DR3_OK);
            assert_int_equal(dr3_net_backward(n[k], 2, g, 2, NULL, 0, NULL, 0, 0), DR3_OK);
            assert_int_equal(
                dr3_optim_step(o[k], dr3_net_params(n[k]), dr3_net_grads(n[k]), P, NULL),
                DR3_OK);
        }
    }
    assert_memory_equal(dr3_net_params(a), dr3_net_params(b), P * sizeof(float));
    /* the weights alone load from the same file; a plain file has no optimizer state; the
     * wrong optimizer kind is refused with both untouched */
    dr3_net *c = make(DR3_ACT_TANH, 6, 5, 3);
    assert_int_equal(dr3_net_load(c, path), DR3_OK);
    assert_int_equal(dr3_net_save(a, plain), DR3_OK);
    float *before = malloc(P * sizeof(float));
    memcpy(before, dr3_net_params(c), P * sizeof(float));
    TU_ASSERT_FAILS(dr3_net_load_with_optim(c, ob, plain), DR3_ERR_FORMAT);
    TU_ASSERT_FAILS(dr3_net_load_with_optim(c, sgd, path), DR3_ERR_SHAPE);
    assert_memory_equal(before, dr3_net_params(c), P * sizeof(float));
    assert_true(dr3_optim_step_count(sgd) == 0);
    TU_ASSERT_FAILS(dr3_net_save_with_optim(a, NULL, path), DR3_ERR_INVALID_ARG);
    free(before);
    unlink(path);
    unlink(plain);
    dr3_optim_free(oa);
    dr3_optim_free(ob);
    dr3_optim_free(sgd);
    dr3_net_free(a);
    dr3_net_free(b);
    dr3_net_free(c);
}

/* ---- metadata, versions and sizes ---------------------------------------------------------
 * Files are crafted by editing the JSON header of a file libdr3 wrote (the 8-byte length is
 * rewritten; the data region is kept), following the format in docs/formats.md. */

typedef struct st_bytes {
    unsigned char *p;
    size_t len, hlen; /* whole file, JSON header */
} st_bytes;

static st_bytes read_st(const char *path) {
    st_bytes b;
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    b.len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    b.p = malloc(b.len);
    assert_int_equal(fread(b.p, 1, b.len, fp), b.len);
    fclose(fp);
    b.hlen = 0;
    for (int k = 7; k >= 0; k--) b.hlen = (b.hlen << 8) | b.p[k];
    return b;
}

/* Writes `json` as the header of src's data region to path; the file is then extended
 * (sparse) to `total` bytes when total is larger. */
static void write_with_header(const char *path, const st_bytes *src, const char *json,
                              off_t total) {
    const size_t h = strlen(json), data = src->len - 8 - src->hlen;
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h >> (8 * k));
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(len8, 1, 8, fp), 8);
    assert_int_equal(fwrite(json, 1, h, fp), h);
    assert_int_equal(fwrite(src->p + 8 + src->hlen, 1, data, fp), data);
    fclose(fp);
    if (total > (off_t)(8 + h + data)) assert_int_equal(truncate(path, total), 0);
}

/* src's header with the first occurrence of `from` replaced by `to`, written to path. */
static void write_edited(const char *path, const st_bytes *src, const char *from,
                         const char *to) {
    char json[8192];
    assert_true(src->hlen < sizeof json);
    memcpy(json, src->p + 8, src->hlen);
    json[src->hlen] = '\0';
    char *at = strstr(json, from);
    if (at == NULL) fail_msg("'%s' is not in the header %s", from, json);
    char out[8192];
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
    write_with_header(path, src, out, 0);
}

static void test_metadata_must_agree(void **state) {
    (void)state;
    char good[256], bad[256];
    path_of(good, sizeof good, "meta-good.safetensors");
    path_of(bad, sizeof bad, "meta-bad.safetensors");
    dr3_net *a = make(DR3_ACT_RELU, 6, 5, 1), *b = make(DR3_ACT_RELU, 6, 5, 2);
    assert_int_equal(dr3_net_save(a, good), DR3_OK);
    st_bytes src = read_st(good);
    const size_t P = dr3_net_param_count(b);
    float *before = malloc(P * sizeof(float));
    memcpy(before, dr3_net_params(b), P * sizeof(float));
    /* metadata that disagrees with the file's own tensors (which match the network): the
     * file is inconsistent, DR3_ERR_FORMAT for both loaders */
    const char *edits[][2] = {
        {"\"hidden\":\"6,5\"", "\"hidden\":\"6,64\""},
        {"\"hidden\":\"6,5\"", "\"hidden\":\"6\""},
        {"\"hidden\":\"6,5\"", "\"hidden\":\"6,5,5\""},
        {"\"obs_dim\":\"3\"", "\"obs_dim\":\"4\""},
        {"\"action_dim\":\"2\"", "\"action_dim\":\"3\""},
        {"\"head\":\"discrete_q\"", "\"head\":\"critic\""},
        {"\"hidden\":\"6,5\"", "\"hidden\":\"6,,5\""},
        {"\"obs_dim\":\"3\"", "\"obs_dim\":\"+3\""},
        {"\"activation_param\":\"0.00999999978\"", "\"activation_param\":\"nan\""},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        write_edited(bad, &src, edits[i][0], edits[i][1]);
        dr3_clear_error();
        dr3_status st = dr3_net_load(b, bad);
        if (st != DR3_ERR_FORMAT)
            fail_msg("%s: dr3_net_load returned %d, expected DR3_ERR_FORMAT", edits[i][1],
                     (int)st);
        assert_true(dr3_last_error()[0] != '\0');
        dr3_net *n = (dr3_net *)&src; /* must be reset to NULL */
        TU_ASSERT_FAILS(dr3_net_open(&n, bad, NULL), DR3_ERR_FORMAT);
        assert_null(n);
    }
    /* version 2 (layer-list networks) needs its "arch" record */
    write_edited(bad, &src, "\"format_version\":\"1\"", "\"format_version\":\"2\"");
    TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_FORMAT);
    assert_non_null(strstr(dr3_last_error(), "arch"));
    /* a format version this library does not read */
    const char *versions[] = {"\"format_version\":\"3\"", "\"format_version\":\"1.0\"",
                              "\"format_version\":\"\""};
    for (size_t i = 0; i < 3; i++) {
        write_edited(bad, &src, "\"format_version\":\"1\"", versions[i]);
        TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_VERSION);
        assert_non_null(strstr(dr3_last_error(), "format_version"));
        dr3_net *n = NULL;
        TU_ASSERT_FAILS(dr3_net_open(&n, bad, NULL), DR3_ERR_VERSION);
        assert_null(n);
    }
    write_edited(bad, &src, "\"format_version\":\"1\",", "");
    TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_VERSION);
    /* consistent metadata for another activation parameter: not this network */
    write_edited(bad, &src, "\"activation_param\":\"0.00999999978\"",
                 "\"activation_param\":\"0.5\"");
    TU_ASSERT_FAILS(dr3_net_load(b, bad), DR3_ERR_SHAPE);
    assert_memory_equal(before, dr3_net_params(b), P * sizeof(float));
    /* another tool's metadata (safetensors.torch writes {"format": "pt"}) is not libdr3's:
     * the file loads by its tensors */
    char json[8192];
    memcpy(json, src.p + 8, src.hlen);
    json[src.hlen] = '\0';
    char *end = strchr(json, '}'); /* end of __metadata__ (no braces inside values) */
    char pt[8192];
    snprintf(pt, sizeof pt, "{\"__metadata__\":{\"format\":\"pt\"%s", end);
    write_with_header(bad, &src, pt, 0);
    assert_int_equal(dr3_net_load(b, bad), DR3_OK);
    assert_memory_equal(dr3_net_params(a), dr3_net_params(b), P * sizeof(float));
    /* and the unedited file loads both ways */
    dr3_net *n = NULL;
    assert_int_equal(dr3_net_open(&n, good, NULL), DR3_OK);
    assert_true(dr3_net_same_shape(a, n));
    dr3_net_free(n);
    free(before);
    free(src.p);
    dr3_net_free(a);
    dr3_net_free(b);
    unlink(good);
    unlink(bad);
}

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

/* The call must finish quickly without a large allocation or a read of the whole file. */
#define EXPECT_QUICK(expr, want)                                                               \
    do {                                                                                       \
        long rss0 = max_rss_kb();                                                              \
        double t0 = now_s();                                                                   \
        dr3_clear_error();                                                                     \
        dr3_status got = (expr);                                                               \
        double dt = now_s() - t0;                                                              \
        long drss = max_rss_kb() - rss0;                                                       \
        if (got != (want))                                                                     \
            fail_msg("%s returned %d (%s), expected %d", #expr, (int)got, dr3_status_str(got), \
                     (int)(want));                                                             \
        if (dt > 2.0 || drss > 64 * 1024)                                                      \
            fail_msg("%s took %.2f s and %ld MB more peak memory", #expr, dt, drss / 1024);    \
    } while (0)

static void test_sizes_checked_before_allocating(void **state) {
    (void)state;
    char good[256], bad[256];
    path_of(good, sizeof good, "size-good.safetensors");
    path_of(bad, sizeof bad, "size-bad.safetensors");
    dr3_net *a = make(DR3_ACT_RELU, 6, 5, 1), *b = make(DR3_ACT_RELU, 6, 5, 2);
    assert_int_equal(dr3_net_save(a, good), DR3_OK);
    st_bytes src = read_st(good);
    const size_t P = dr3_net_param_count(b);
    dr3_net *n = NULL;
    const off_t three_gb = (off_t)3 << 30;
    /* a 3 GB sparse file of zeros: its header length (0) is impossible */
    int fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, three_gb), 0);
    close(fd);
    EXPECT_QUICK(dr3_net_load(b, bad), DR3_ERR_FORMAT);
    EXPECT_QUICK(dr3_net_open(&n, bad, NULL), DR3_ERR_FORMAT);
    /* a real header followed by 3 GB that no tensor covers */
    char json[8192];
    memcpy(json, src.p + 8, src.hlen);
    json[src.hlen] = '\0';
    write_with_header(bad, &src, json, three_gb);
    EXPECT_QUICK(dr3_net_load(b, bad), DR3_ERR_FORMAT);
    EXPECT_QUICK(dr3_net_open(&n, bad, NULL), DR3_ERR_FORMAT);
    /* metadata claiming hidden widths of 20000000 (a 6 GB network) in a small file whose
     * tensors are 6 and 5 wide: refused before any network is created */
    write_edited(bad, &src, "\"hidden\":\"6,5\"", "\"hidden\":\"20000000,5\"");
    EXPECT_QUICK(dr3_net_open(&n, bad, NULL), DR3_ERR_FORMAT);
    assert_null(n);
    /* a valid file with an extra 3 GB tensor the loader does not need (an optimizer blob
     * of another program): the weights load without reading it */
    const size_t data = src.len - 8 - src.hlen;
    char *close_brace = strrchr(json, '}');
    assert_non_null(close_brace);
    char big[8192];
    snprintf(big, sizeof big,
             "%.*s,\"optim.other\":{\"dtype\":\"U8\",\"shape\":[%lld],\"data_offsets\":[%zu,"
             "%lld]}}",
             (int)(close_brace - json), json, (long long)three_gb, data,
             (long long)data + (long long)three_gb);
    size_t h = strlen(big);
    write_with_header(bad, &src, big, (off_t)(8 + h + data) + three_gb);
    EXPECT_QUICK(dr3_net_load(b, bad), DR3_OK);
    assert_memory_equal(dr3_net_params(a), dr3_net_params(b), P * sizeof(float));
    EXPECT_QUICK(dr3_net_open(&n, bad, NULL), DR3_OK);
    assert_true(dr3_net_same_shape(a, n));
    dr3_net_free(n);
    free(src.p);
    dr3_net_free(a);
    dr3_net_free(b);
    unlink(good);
    unlink(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_load_pytorch_file),
        cmocka_unit_test(test_reader_rejects_malformed),
        cmocka_unit_test(test_load_malformed_files),
        cmocka_unit_test(test_with_optimizer),
        cmocka_unit_test(test_metadata_must_agree),
        cmocka_unit_test(test_sizes_checked_before_allocating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
