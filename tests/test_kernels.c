/* The kernels module: libdr3's own thin-product kernels (src/kernels/thin*.c) in every
 * instruction set this CPU runs (scalar forced through dr3k_thin_set_isa, AVX2, AVX-512) and
 * dr3k_sgemm's automatic choice between them and BLIS, against a naive double-precision
 * product written here, over many shapes, strides, transposes and alpha/beta; padding and
 * beta = 0 over NaN garbage; bitwise repeatability. */
#include "testutil.h"

#include "kernels/kernels.h"
#include "kernels/thin.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* op(A)(i, p) and op(B)(p, j) of row-major storage (the dr3k_sgemm contract). */
static double op_a(const float *a, size_t lda, bool t, size_t i, size_t p) {
    return t ? (double)a[p * lda + i] : (double)a[i * lda + p];
}
static double op_b(const float *b, size_t ldb, bool t, size_t p, size_t j) {
    return t ? (double)b[j * ldb + p] : (double)b[p * ldb + j];
}

typedef struct shape {
    bool ta, tb;
    size_t m, n, k, pad;
    float alpha, beta;
} shape;

/* Runs one product (thin kernels forced, or dr3k_sgemm's own choice) and checks every entry
 * against the double reference within the float error bound k·2⁻²³·Σ|a·b| (+ the beta term),
 * the padding untouched, and a second run bitwise equal. */
static void check_one(const shape *s, bool force, dr3_rng *rng) {
    const size_t ar = s->ta ? s->k : s->m, ac = s->ta ? s->m : s->k;
    const size_t br = s->tb ? s->n : s->k, bc = s->tb ? s->k : s->n;
    const size_t lda = ac + s->pad, ldb = bc + s->pad, ldc = s->n + s->pad;
    float *a = tu_alloc_nan(ar * lda + 1), *b = tu_alloc_nan(br * ldb + 1);
    float *c = tu_alloc_nan(s->m * ldc + 1), *c0 = tu_alloc_nan(s->m * ldc + 1);
    tu_fill_strided(a, ar, ac, lda, -1, 1, rng);
    tu_fill_strided(b, br, bc, ldb, -1, 1, rng);
    if (s->beta != 0.0f) tu_fill_strided(c, s->m, s->n, ldc, -1, 1, rng);
    /* with beta == 0, C keeps its NaN everywhere: the kernels must not read it */
    memcpy(c0, c, (s->m * ldc + 1) * sizeof(float));
    if (force) {
        bool done = dr3k_thin_sgemm(0, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a, lda, b, ldb,
                                    s->beta, c, ldc);
        assert_true(done);
    } else {
        dr3k_sgemm(1, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a, lda, b, ldb, s->beta, c,
                   ldc);
    }
    for (size_t i = 0; i < s->m; i++)
        for (size_t j = 0; j < s->n; j++) {
            double ref = 0, mag = 0;
            for (size_t p = 0; p < s->k; p++) {
                double v = op_a(a, lda, s->ta, i, p) * op_b(b, ldb, s->tb, p, j);
                ref += v;
                mag += fabs(v);
            }
            ref *= s->alpha;
            mag *= fabs(s->alpha);
            if (s->beta != 0.0f) {
                ref += (double)s->beta * c0[i * ldc + j];
                mag += fabs((double)s->beta * c0[i * ldc + j]);
            }
            double got = c[i * ldc + j], tol = (double)(s->k + 4) * 1.2e-7 * mag + 1e-30;
            if (!(fabs(got - ref) <= tol))
                fail_msg("%s%s m=%zu n=%zu k=%zu pad=%zu alpha=%g beta=%g isa=%s force=%d: "
                         "C(%zu,%zu) = %.9g, reference %.9g",
                         s->ta ? "T" : "N", s->tb ? "T" : "N", s->m, s->n, s->k, s->pad,
                         (double)s->alpha, (double)s->beta, dr3k_thin_isa_name(dr3k_thin_isa()),
                         (int)force, i, j, got, ref);
        }
    assert_true(tu_padding_untouched(c, s->m, s->n, ldc));
    assert_true(isnan(c[s->m * ldc])); /* the element after the last row */
    /* the same product again gives the same bits */
    float *c2 = tu_alloc_nan(s->m * ldc + 1);
    memcpy(c2, c0, (s->m * ldc + 1) * sizeof(float));
    if (force)
        dr3k_thin_sgemm(0, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a, lda, b, ldb, s->beta,
                        c2, ldc);
    else
        dr3k_sgemm(1, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a, lda, b, ldb, s->beta, c2,
                   ldc);
    for (size_t i = 0; i < s->m; i++)
        assert_memory_equal(c + i * ldc, c2 + i * ldc, s->n * sizeof(float));
    free(a);
    free(b);
    free(c);
    free(c0);
    free(c2);
}

static const size_t Ms[] = {1, 2, 5, 8, 13, 17, 32, 37};
static const size_t Ns[] = {1, 2, 3, 9, 16, 18, 33, 40};
static const size_t Ks[] = {1, 4, 15, 16, 17, 64, 100};

/* Every shape of the grid in the three transposes the kernels do, with and without padding,
 * three alpha/beta pairs. */
static void run_grid(bool force) {
    dr3_rng rng;
    dr3_rng_seed(&rng, 14);
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.25f}};
    int count = 0;
    for (int t = 0; t < 3; t++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
                    shape s = {t == 1,           t == 2,          Ms[mi],
                               Ns[ni],           Ks[ki],          (size_t)(count % 3) * 3,
                               ab[count % 3][0], ab[count % 3][1]};
                    check_one(&s, force, &rng);
                    count++;
                }
    /* long and wide thin shapes of real networks (Q heads, first layers, their gradients),
     * including more than one 256-column panel for the short-k path */
    static const shape big[] = {
        {false, true, 300, 2, 1030, 1, 1, 0},  {false, true, 1024, 18, 257, 0, 1, 0},
        {false, true, 70, 300, 4, 2, 1, 0},    {false, true, 3, 520, 300, 0, 1, 1},
        {true, false, 2, 520, 300, 1, 1, 0},   {true, false, 300, 4, 130, 0, 1, 1},
        {true, false, 260, 1, 77, 0, 1, 0},    {false, false, 130, 300, 2, 3, 1, 0},
        {false, false, 64, 1024, 18, 0, 1, 0}, {false, false, 5, 100, 300, 0, 2, 0.5f},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) check_one(&big[i], force, &rng);
}

static const int isas[] = {DR3K_ISA_SCALAR, DR3K_ISA_AVX2, DR3K_ISA_AVX512};

static void test_thin_kernels_every_isa(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        int got = dr3k_thin_set_isa(isas[i]);
        /* a set the CPU cannot run falls back to one it can (never to "off") */
        assert_true(got >= DR3K_ISA_SCALAR && got <= isas[i]);
        run_grid(true);
    }
    dr3k_thin_set_isa(-1);
}

/* dr3k_sgemm's own choice (thin kernels or BLIS), and BLIS alone. */
static void test_sgemm_automatic_and_blis(void **state) {
    (void)state;
    dr3k_thin_set_isa(-1);
    run_grid(false);
    assert_int_equal(dr3k_thin_set_isa(DR3K_ISA_OFF), DR3K_ISA_OFF);
    run_grid(false);
    dr3k_thin_set_isa(-1);
}

/* What the kernels refuse: both operands transposed (BLIS does those); and the rule keeps
 * wide products with more than one thread on BLIS. */
static void test_refusals(void **state) {
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {0};
    assert_false(dr3k_thin_sgemm(0, true, true, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2));
    /* a wide product with two threads (BLIS's parallel products win) */
    assert_false(dr3k_thin_sgemm(2, false, true, 512, 256, 256, 1, a, 2, b, 2, 0, c, 2));
    assert_false(dr3k_thin_sgemm(2, true, false, 512, 256, 256, 1, a, 2, b, 2, 0, c, 2));
    assert_true(c[0] == 0 && c[3] == 0);
}

/* k = 0: C = beta C, and beta = 0 clears garbage. */
static void test_empty_inner(void **state) {
    (void)state;
    float c[4] = {NAN, NAN, NAN, NAN}, d[4] = {1, 2, 3, 4};
    assert_true(dr3k_thin_sgemm(0, false, false, 2, 2, 0, 1, NULL, 1, NULL, 2, 0, c, 2));
    for (int i = 0; i < 4; i++) assert_true(c[i] == 0.0f);
    assert_true(dr3k_thin_sgemm(0, true, false, 2, 2, 0, 1, NULL, 2, NULL, 2, 2, d, 2));
    assert_true(d[0] == 2 && d[3] == 8);
}

/* Concurrent products: callers on several threads, each asking BLIS for 2 threads, wait
 * for free cores (blis.c) and get exactly the bits a lone call gets. (BLIS's bits do depend
 * on its thread count, which is why the count of a call is never changed, only delayed.) */
enum { CONC = 3, CM = 300, CN = 260, CK = 270 };
typedef struct conc_job {
    const float *a, *b;
    float *c;
    int rounds;
} conc_job;

static void *conc_run(void *p) {
    conc_job *j = p;
    for (int r = 0; r < j->rounds; r++)
        dr3k_sgemm(2, false, true, CM, CN, CK, 1.0f, j->a, CK, j->b, CK, 0.0f, j->c, CN);
    return NULL;
}

static void test_concurrent_same_bits(void **state) {
    (void)state;
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    float *a = tu_alloc_nan(CM * CK), *b = tu_alloc_nan(CN * CK), *ref = tu_alloc_nan(CM * CN);
    tu_fill_strided(a, CM, CK, CK, -1, 1, &rng);
    tu_fill_strided(b, CN, CK, CK, -1, 1, &rng);
    dr3k_sgemm(2, false, true, CM, CN, CK, 1.0f, a, CK, b, CK, 0.0f, ref, CN);
    pthread_t th[CONC];
    conc_job jobs[CONC];
    for (int i = 0; i < CONC; i++) {
        jobs[i] = (conc_job){a, b, tu_alloc_nan(CM * CN), 6};
        assert_int_equal(pthread_create(&th[i], NULL, conc_run, &jobs[i]), 0);
    }
    for (int i = 0; i < CONC; i++) {
        pthread_join(th[i], NULL);
        assert_memory_equal(jobs[i].c, ref, CM * CN * sizeof(float));
        free(jobs[i].c);
    }
    free(a);
    free(b);
    free(ref);
}

/* dr3k_sgemm_pair: a backward pass's dW = Δᵀ X and dX = Δ W side by side. Every entry
 * against the double reference, and with t threads bitwise what dr3k_sgemm gives for each
 * product with ceil(t/2) and floor(t/2) threads (no sum is ever split, whoever runs it);
 * beta = 0 never reads C's NaN garbage; small pairs run on the caller. */
static void expect_close(const float *c, size_t ldc, size_t m, size_t n, size_t k,
                         const float *a, size_t lda, bool ta, const float *b, size_t ldb,
                         bool tb) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double ref = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double v = op_a(a, lda, ta, i, p) * op_b(b, ldb, tb, p, j);
                ref += v;
                mag += fabs(v);
            }
            double tol = (double)(k + 4) * 1.2e-7 * mag + 1e-30;
            if (!(fabs((double)c[i * ldc + j] - ref) <= tol))
                fail_msg("pair: C(%zu,%zu) = %.9g, reference %.9g", i, j,
                         (double)c[i * ldc + j], ref);
        }
}

static void test_pair(void **state) {
    (void)state;
    dr3_rng rng;
    dr3_rng_seed(&rng, 21);
    /* delta n × out, X n × in, W out × in: dW (out × in) = deltaᵀ X, dX (n × in) = delta W */
    static const size_t shapes[][3] = {{300, 200, 130}, {512, 256, 256}, {40, 30, 20}};
    for (size_t si = 0; si < 3; si++) {
        const size_t n = shapes[si][0], in = shapes[si][1], out = shapes[si][2];
        float *delta = tu_alloc_nan(n * out), *x = tu_alloc_nan(n * in);
        float *w = tu_alloc_nan(out * in);
        tu_fill_strided(delta, n, out, out, -1, 1, &rng);
        tu_fill_strided(x, n, in, in, -1, 1, &rng);
        tu_fill_strided(w, out, in, in, -1, 1, &rng);
        for (int t = 1; t <= 4; t++) {
            float *dw = tu_alloc_nan(out * in), *dx = tu_alloc_nan(n * in);
            float *dw1 = tu_alloc_nan(out * in), *dx1 = tu_alloc_nan(n * in);
            const dr3k_sgemm_args a = {true, false, out, in,   n,  1.0f, delta,
                                       out,  x,     in,  0.0f, dw, in};
            const dr3k_sgemm_args b = {false, false, n,  in,   out, 1.0f, delta,
                                       out,   w,     in, 0.0f, dx,  in};
            dr3k_sgemm_pair(t, &a, &b);
            expect_close(dw, in, out, in, n, delta, out, true, x, in, false);
            expect_close(dx, in, n, in, out, delta, out, false, w, in, false);
            const int t0 = t < 2 ? t : (t + 1) / 2, t1 = t < 2 ? t : t / 2;
            dr3k_sgemm(t0, true, false, out, in, n, 1.0f, delta, out, x, in, 0.0f, dw1, in);
            dr3k_sgemm(t1, false, false, n, in, out, 1.0f, delta, out, w, in, 0.0f, dx1, in);
            assert_memory_equal(dw, dw1, out * in * sizeof(float));
            assert_memory_equal(dx, dx1, n * in * sizeof(float));
            free(dw);
            free(dx);
            free(dw1);
            free(dx1);
        }
        free(delta);
        free(x);
        free(w);
    }
}

/* dr3k_cut: parts start on 16-float boundaries, cover [0, len) in order, none is skipped. */
static void test_cut(void **state) {
    (void)state;
    for (size_t len = 0; len < 300; len += 7)
        for (int parts = 1; parts <= 5; parts++) {
            assert_int_equal(dr3k_cut(len, 0, parts), 0);
            assert_int_equal(dr3k_cut(len, parts, parts), len);
            for (int s = 1; s < parts; s++) {
                size_t c = dr3k_cut(len, s, parts);
                assert_true(c >= dr3k_cut(len, s - 1, parts));
                assert_true(c == len || c % 16 == 0);
            }
        }
}

/* Slices run in the floating-point mode of the thread that posted them (pool.c): with
 * subnormals flushed on the caller (as dr3_optim_step does), the workers flush too, and
 * after the caller restores its mode, so do they; a worker started in normal mode is not
 * stuck in it, nor in a mode it was started with. */
#include <xmmintrin.h>
enum { FP_SLICES = 8 };
typedef struct fp_probe {
    unsigned mode[FP_SLICES];
    pthread_t who[FP_SLICES];
} fp_probe;

static void fp_slice(void *ctx, int s) {
    fp_probe *p = ctx;
    volatile double x = 1;
    for (int i = 0; i < 2000000; i++) x = x * 1.0000001; /* ~ms: the worker takes some */
    p->mode[s] = _mm_getcsr() & 0xE040u;                 /* FTZ, rounding, DAZ */
    p->who[s] = pthread_self();
}

static void test_slices_in_callers_fp_mode(void **state) {
    (void)state;
    dr3k_pool_start(); /* workers born in the default mode */
    const unsigned saved = _mm_getcsr();
    const unsigned modes[3] = {saved | 0x8040u, (saved & ~0xE040u) | 0x2000u, saved};
    int others = 0;
    for (int m = 0; m < 3; m++) {
        _mm_setcsr(modes[m]);
        fp_probe p;
        memset(&p, 0, sizeof p);
        dr3k_parallel_for(FP_SLICES, fp_slice, &p);
        unsigned mine = _mm_getcsr();
        _mm_setcsr(saved);
        assert_int_equal(mine, modes[m]); /* the caller's own mode is left alone */
        for (int s = 0; s < FP_SLICES; s++) {
            assert_int_equal(p.mode[s], modes[m] & 0xE040u);
            others += !pthread_equal(p.who[s], pthread_self());
        }
    }
    (void)others; /* how many slices workers ran (0 only on a machine with one CPU) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thin_kernels_every_isa),
        cmocka_unit_test(test_sgemm_automatic_and_blis),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_empty_inner),
        cmocka_unit_test(test_concurrent_same_bits),
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_slices_in_callers_fp_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
