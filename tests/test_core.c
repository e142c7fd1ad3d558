/* Core: status strings, thread-local errors, allocator hooks, RNG, runtime info. */
#include "testutil.h"

#include "core/checksum.h"
#include "core/internal.h"
#include "io/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_status_codes_fixed(void **state) {
    (void)state;
    /* The numeric values are ABI: changing one must fail this test. */
    assert_int_equal(DR3_OK, 0);
    assert_int_equal(DR3_ERR_INVALID_ARG, -1);
    assert_int_equal(DR3_ERR_NOMEM, -2);
    assert_int_equal(DR3_ERR_NONFINITE, -3);
    assert_int_equal(DR3_ERR_IO, -4);
    assert_int_equal(DR3_ERR_FORMAT, -5);
    assert_int_equal(DR3_ERR_UNSUPPORTED, -6);
    assert_int_equal(DR3_ERR_SHAPE, -7);
    assert_int_equal(DR3_ERR_OVERFLOW, -8);
    assert_int_equal(DR3_ERR_RANGE, -9);
    assert_int_equal(DR3_ERR_STATE, -10);
    assert_int_equal(DR3_ERR_CALLBACK, -11);
    assert_int_equal(DR3_ERR_CHECKSUM, -12);
    assert_int_equal(DR3_ERR_VERSION, -13);
    assert_int_equal(DR3_ERR_INTERNAL, -14);
    for (int s = 0; s >= -14; s--) {
        const char *msg = dr3_status_str((dr3_status)s);
        assert_non_null(msg);
        assert_string_not_equal(msg, "unknown status");
    }
    assert_string_equal(dr3_status_str((dr3_status)-999), "unknown status");
}

static void *thread_error(void *arg) {
    (void)arg;
    /* a fresh thread starts with no error, and its failure stays on this thread */
    int clean = dr3_last_error()[0] == '\0';
    float loss;
    dr3_feature_dot_loss(1, 1, NULL, 1, NULL, 1, 1.0f, &loss, NULL, NULL);
    return (void *)(intptr_t)(clean && strstr(dr3_last_error(), "phi") != NULL);
}

static void test_last_error_thread_local(void **state) {
    (void)state;
    dr3_clear_error();
    assert_string_equal(dr3_last_error(), "");
    float loss;
    TU_ASSERT_FAILS(dr3_feature_dot_loss(2, 3, NULL, 3, NULL, 3, 1.0f, &loss, NULL, NULL),
                    DR3_ERR_INVALID_ARG);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", dr3_last_error());
    assert_non_null(strstr(mine, "dr3_feature_dot_loss"));
    pthread_t t;
    void *ret;
    dr3_clear_error();
    assert_int_equal(pthread_create(&t, NULL, thread_error, NULL), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_true((intptr_t)ret);
    /* the other thread's failure did not touch this thread's message */
    assert_string_equal(dr3_last_error(), "");
}

static size_t n_alloc, n_free;
static void *count_alloc(void *opaque, size_t size, size_t alignment) {
    (void)opaque;
    n_alloc++;
    return aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}
static void count_free(void *opaque, void *p) {
    (void)opaque;
    n_free++;
    free(p);
}

static void test_allocator_hooks(void **state) {
    (void)state;
    dr3i_alloc a;
    dr3_allocator user = DR3_ALLOCATOR_INIT;
    user.alloc = count_alloc;
    user.free = count_free;
    assert_int_equal(dr3i_alloc_init(&a, &user, "test"), DR3_OK);
    void *p = dr3i_calloc(&a, 1000);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(((unsigned char *)p)[i], 0);
    dr3i_free(&a, p);
    dr3i_free(&a, NULL);
    assert_int_equal(n_alloc, 1);
    assert_int_equal(n_free, 1);

    /* default hooks, and the half-set error */
    assert_int_equal(dr3i_alloc_init(&a, NULL, "test"), DR3_OK);
    p = dr3i_calloc(&a, 3);
    assert_int_equal((uintptr_t)p % 64, 0);
    dr3i_free(&a, p);
    user.free = NULL;
    TU_ASSERT_FAILS(dr3i_alloc_init(&a, &user, "test"), DR3_ERR_INVALID_ARG);
    user.version = 0;
    TU_ASSERT_FAILS(dr3i_alloc_init(&a, &user, "test"), DR3_ERR_VERSION);
}

static void test_size_arithmetic(void **state) {
    (void)state;
    size_t out;
    assert_true(dr3i_mul(1u << 20, 1u << 20, &out));
    assert_false(dr3i_mul(SIZE_MAX / 2 + 1, 2, &out));
    assert_false(dr3i_add(SIZE_MAX, 1, &out));
    assert_true(dr3i_span(0, 5, 7, &out));
    assert_int_equal(out, 0);
    assert_true(dr3i_span(3, 5, 7, &out));
    assert_int_equal(out, 19);
    assert_false(dr3i_span(SIZE_MAX / 4, 5, 8, &out));
}

/* xoshiro256** reference: the first outputs for the state {1, 2, 3, 4}, computed by
 * with an independent Python transcription of the published recurrence. */
static void test_rng_reference_values(void **state) {
    (void)state;
    dr3_rng r = {{1, 2, 3, 4}};
    assert_true(dr3_rng_next(&r) == 11520u); /* rotl(10, 7) * 9 = 1280 * 9 */
    assert_true(dr3_rng_next(&r) == 0u);     /* s1 became 0 after one step */
    assert_true(dr3_rng_next(&r) == 1509978240u);
}

static void test_rng_statistics_and_split(void **state) {
    (void)state;
    dr3_rng a, b, c;
    dr3_rng_seed(&a, 42);
    dr3_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(dr3_rng_next(&a) == dr3_rng_next(&b));
    /* uniform mean and variance, normal mean and variance, below() range and balance */
    double sum = 0, sq = 0, ns = 0, nsq = 0;
    size_t counts[7] = {0};
    const int N = 200000;
    for (int i = 0; i < N; i++) {
        float u = dr3_rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
        sq += (double)u * u;
        double z = dr3_rng_normal(&a);
        ns += z;
        nsq += z * z;
        uint64_t k = dr3_rng_below(&a, 7);
        assert_true(k < 7);
        counts[k]++;
    }
    TU_ASSERT_CLOSE(sum / N, 0.5, 0, 0.005);
    TU_ASSERT_CLOSE(sq / N - (sum / N) * (sum / N), 1.0 / 12, 0, 0.002);
    TU_ASSERT_CLOSE(ns / N, 0.0, 0, 0.01);
    TU_ASSERT_CLOSE(nsq / N, 1.0, 0, 0.02);
    for (int k = 0; k < 7; k++) TU_ASSERT_CLOSE(counts[k] / (double)N, 1.0 / 7, 0, 0.004);
    assert_true(dr3_rng_below(&a, 0) == 0);
    assert_true(dr3_rng_below(&a, 1) == 0);

    /* split: deterministic, distinct streams, parent advanced */
    dr3_rng_seed(&a, 1);
    dr3_rng_seed(&b, 1);
    assert_int_equal(dr3_rng_split(&a, 0, &c), DR3_OK);
    dr3_rng d;
    assert_int_equal(dr3_rng_split(&b, 0, &d), DR3_OK);
    assert_memory_equal(&c, &d, sizeof c);
    dr3_rng e;
    dr3_rng_seed(&b, 1);
    assert_int_equal(dr3_rng_split(&b, 1, &e), DR3_OK);
    int same = 0;
    for (int i = 0; i < 64; i++) same += dr3_rng_next(&c) == dr3_rng_next(&e);
    assert_true(same < 2);
    TU_ASSERT_FAILS(dr3_rng_split(NULL, 0, &c), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_rng_split(&a, 0, NULL), DR3_ERR_INVALID_ARG);

    /* jump gives a different, deterministic state */
    dr3_rng_seed(&a, 5);
    dr3_rng_seed(&b, 5);
    dr3_rng_jump(&a);
    dr3_rng_jump(&b);
    assert_memory_equal(&a, &b, sizeof a);
    dr3_rng_seed(&c, 5);
    assert_memory_not_equal(&a, &c, sizeof a);
    dr3_rng_jump(NULL);
    dr3_rng_seed(NULL, 1);
}

static void test_versions_and_runtime(void **state) {
    (void)state;
    assert_string_equal(dr3_version(), DR3_VERSION_STRING);
    assert_int_equal(dr3_version_number(), DR3_VERSION_NUMBER);
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", DR3_VERSION_MAJOR, DR3_VERSION_MINOR,
             DR3_VERSION_PATCH);
    assert_string_equal(buf, dr3_version());

    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    assert_int_equal(dr3_runtime_info_get(&info), DR3_OK);
    assert_string_equal(info.libdr3_version, DR3_VERSION_STRING);
    assert_non_null(info.blis_version);
    assert_non_null(info.blis_arch);
    assert_true(strlen(info.blis_arch) > 0);
    assert_int_equal(info.default_threads, 1);
    assert_true(info.hardware_threads >= 1);
    /* the active kernels are the best for this CPU unless the environment chose them */
    if (getenv("BLIS_ARCH_TYPE") == NULL && getenv("DR3_BLIS_ARCH") == NULL)
        assert_string_equal(info.blis_arch, info.blis_arch_best);
    if (info.cpu_avx512) assert_true(info.cpu_avx2_fma);

    /* the struct is written up to its version's end and not one byte further; the caller's
     * version is kept */
    struct {
        dr3_runtime_info head;
        char canary[8];
    } big;
    memset(&big, 0x5a, sizeof big);
    assert_int_equal(dr3_runtime_info_init(&big.head, DR3_RUNTIME_INFO_VERSION), DR3_OK);
    assert_int_equal(dr3_runtime_info_get(&big.head), DR3_OK);
    assert_int_equal(big.head.version, DR3_RUNTIME_INFO_VERSION);
    assert_string_equal(big.head.libdr3_version, DR3_VERSION_STRING);
    for (size_t i = 0; i < sizeof big.canary; i++) assert_int_equal(big.canary[i], 0x5a);

    TU_ASSERT_FAILS(dr3_runtime_info_get(NULL), DR3_ERR_INVALID_ARG);
    info.version = 0;
    TU_ASSERT_FAILS(dr3_runtime_info_get(&info), DR3_ERR_VERSION);
    info.version = DR3_RUNTIME_INFO_VERSION + 1;
    TU_ASSERT_FAILS(dr3_runtime_info_get(&info), DR3_ERR_VERSION);
    /* after initialisation the kernel choice is fixed */
    TU_ASSERT_FAILS(dr3_runtime_set_blis_arch("generic"), DR3_ERR_STATE);
    TU_ASSERT_FAILS(dr3_runtime_set_blis_arch("no-such-arch"), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_runtime_set_blis_arch(NULL), DR3_ERR_INVALID_ARG);
}

static void test_crc32c_known_vectors(void **state) {
    (void)state;
    /* Check values from RFC 3720 (iSCSI), appendix B.4, and the "123456789" check value. */
    assert_int_equal(dr3i_crc32c(0, "123456789", 9), 0xE3069283u);
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        inc[i] = (unsigned char)i;
    }
    assert_int_equal(dr3i_crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(dr3i_crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(dr3i_crc32c(0, inc, 32), 0x46DD794Eu);
    /* chaining equals one pass */
    assert_int_equal(dr3i_crc32c(dr3i_crc32c(0, inc, 13), inc + 13, 19), 0x46DD794Eu);
}

static void test_atomic_file(void **state) {
    (void)state;
    char dir[] = "/tmp/dr3-atomic-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/file.bin", dir);
    dr3i_atomic_file f;
    assert_int_equal(dr3i_atomic_open(&f, path, "test"), DR3_OK);
    assert_int_equal(dr3i_atomic_write(&f, "old", 3), DR3_OK);
    assert_int_equal(dr3i_atomic_commit(&f), DR3_OK);
    /* an aborted replacement leaves the old contents and no temporary file */
    assert_int_equal(dr3i_atomic_open(&f, path, "test"), DR3_OK);
    assert_int_equal(dr3i_atomic_write(&f, "new!", 4), DR3_OK);
    dr3i_atomic_abort(&f);
    char buf[8] = {0};
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(buf, 1, sizeof buf, fp), 3);
    fclose(fp);
    assert_string_equal(buf, "old");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    /* a committed replacement has the new contents */
    assert_int_equal(dr3i_atomic_open(&f, path, "test"), DR3_OK);
    assert_int_equal(dr3i_atomic_write(&f, "new!", 4), DR3_OK);
    assert_int_equal(dr3i_atomic_commit(&f), DR3_OK);
    fp = fopen(path, "rb");
    assert_int_equal(fread(buf, 1, sizeof buf, fp), 4);
    fclose(fp);
    assert_memory_equal(buf, "new!", 4);
    /* a directory that does not exist fails cleanly */
    TU_ASSERT_FAILS(dr3i_atomic_open(&f, "/nonexistent-dir/x", "test"), DR3_ERR_IO);
    TU_ASSERT_FAILS(dr3i_atomic_open(&f, NULL, "test"), DR3_ERR_INVALID_ARG);
    unlink(path);
    rmdir(dir);
}

/* dr3i_dot_f64 and dr3i_dot3_f64: within double rounding of a long-double sum written here,
 * for lengths around every multiple of the eight partial sums, with exact small-integer
 * cases; the three sums of dr3i_dot3_f64 are bitwise dr3i_dot_f64's. */
static void test_dot_f64(void **state) {
    (void)state;
    dr3_rng rng;
    dr3_rng_seed(&rng, 77);
    static float a[1030], b[1030];
    for (size_t k = 0; k < 1030; k++) {
        a[k] = dr3_rng_uniform(&rng) * 2 - 1;
        b[k] = dr3_rng_uniform(&rng) * 2 - 1;
    }
    static const size_t lens[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 256, 1030};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const size_t n = lens[li];
        long double ref = 0, mag = 0;
        for (size_t k = 0; k < n; k++) {
            ref += (long double)a[k] * b[k];
            mag += fabsl((long double)a[k] * b[k]);
        }
        const double got = dr3i_dot_f64(a, b, n);
        assert_true(fabsl((long double)got - ref) <= (long double)(n + 1) * 1.2e-16L * mag);
        double t[3];
        dr3i_dot3_f64(a, b, n, t);
        assert_true(t[0] == got);
        assert_true(t[1] == dr3i_dot_f64(a, a, n));
        assert_true(t[2] == dr3i_dot_f64(b, b, n));
    }
    /* small integers: every partial sum and the tree are exact */
    float x[19], y[19];
    double exact = 0;
    for (int k = 0; k < 19; k++) {
        x[k] = (float)(k - 9);
        y[k] = (float)(3 * k + 1);
        exact += (double)(k - 9) * (3 * k + 1);
    }
    assert_true(dr3i_dot_f64(x, y, 19) == exact);
    assert_true(dr3i_dot_f64(x, y, 0) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_codes_fixed),
        cmocka_unit_test(test_last_error_thread_local),
        cmocka_unit_test(test_allocator_hooks),
        cmocka_unit_test(test_size_arithmetic),
        cmocka_unit_test(test_dot_f64),
        cmocka_unit_test(test_rng_reference_values),
        cmocka_unit_test(test_rng_statistics_and_split),
        cmocka_unit_test(test_versions_and_runtime),
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_atomic_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
