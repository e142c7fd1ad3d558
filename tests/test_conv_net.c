/* Convolutional networks with more than one thread (docs/conv.md, "Threads"): the batch is
 * cut into one slot per thread, each slot running its own unfold, GEMMs and fold on the
 * worker pool. Checked on two layer lists (two convolutions with stride and padding; a single
 * convolution whose columns are kept for backward, as MinAtar's): per thread count the
 * results are bitwise the same from net to net and after dr3_net_set_threads changed the
 * thread count (up from 1, down from 4); every thread count agrees with one thread (itself
 * checked against PyTorch in test_net_desc and test_rem) to float rounding; kept columns are
 * not reused once a backward with an input gradient overwrote them; no allocation through the
 * network's allocator in forward or backward. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 33, A = 3 };

static atomic_long allocs;
static atomic_int refuse; /* 1: every allocation fails (out of memory) */
static void *count_alloc(void *opaque, size_t size, size_t align) {
    (void)opaque;
    atomic_fetch_add(&allocs, 1);
    if (atomic_load(&refuse)) return NULL;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, size) == 0 ? p : NULL;
}
static void count_free(void *opaque, void *p) {
    (void)opaque;
    free(p);
}

typedef struct shape {
    const char *name;
    size_t c, h, w;
    dr3_layer layers[3];
    size_t num_layers;
} shape;

static shape two_convs(void) {
    shape s = {"conv s2 p1 + conv 2x2 + fc",
               3,
               13,
               11,
               {DR3_LAYER_INIT, DR3_LAYER_INIT, DR3_LAYER_INIT},
               3};
    s.layers[0].kind = DR3_LAYER_CONV2D;
    s.layers[0].units = 5;
    s.layers[0].kernel_h = s.layers[0].kernel_w = 3;
    s.layers[0].stride = 2;
    s.layers[0].padding = 1;
    s.layers[1].kind = DR3_LAYER_CONV2D;
    s.layers[1].units = 4;
    s.layers[1].kernel_h = s.layers[1].kernel_w = 2;
    s.layers[2].units = 12;
    return s;
}

static shape one_conv(void) {
    shape s = {"conv 3x3 + fc (columns kept)", 2, 6, 7, {DR3_LAYER_INIT, DR3_LAYER_INIT}, 2};
    s.layers[0].kind = DR3_LAYER_CONV2D;
    s.layers[0].units = 4;
    s.layers[0].kernel_h = s.layers[0].kernel_w = 3;
    s.layers[1].units = 8;
    return s;
}

static dr3_net *make(const shape *s, int threads) {
    const dr3_layer *ptrs[3] = {&s->layers[0], &s->layers[1], &s->layers[2]};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = s->c;
    d.in_height = s->h;
    d.in_width = s->w;
    d.num_layers = s->num_layers;
    d.layers = ptrs;
    d.action_dim = A;
    dr3_allocator al = DR3_ALLOCATOR_INIT;
    al.alloc = count_alloc;
    al.free = count_free;
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = N;
    rt.seed = 9;
    rt.threads = threads;
    rt.allocator = &al;
    dr3_net *net = NULL;
    assert_int_equal(dr3_net_create_desc(&net, &d, &rt), DR3_OK);
    return net;
}

/* Everything one forward and backward produce. */
typedef struct run {
    float *q, *phi, *grads, *gx;
    size_t nq, nphi, np, nx;
} run;

static void run_free(run *r) {
    free(r->q);
    free(r->phi);
    free(r->grads);
    free(r->gx);
}

static float *random_floats(size_t count, uint64_t seed, float lo, float hi) {
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    float *x = malloc(count * sizeof(float));
    for (size_t k = 0; k < count; k++) x[k] = lo + (hi - lo) * dr3_rng_uniform(&rng);
    return x;
}

/* forward on n rows, backward with dL/dQ and dL/dφ (and dL/dx when with_gx). */
static run forward_backward(dr3_net *net, size_t n, bool with_gx) {
    const size_t S = dr3_net_obs_dim(net), O = dr3_net_output_dim(net),
                 D = dr3_net_feature_dim(net);
    float *x = random_floats(n * S, 1, 0, 1), *gq = random_floats(n * O, 2, -1, 1);
    float *gphi = random_floats(n * D, 3, -0.1f, 0.1f);
    run r = {malloc(n * O * sizeof(float)),
             malloc(n * D * sizeof(float)),
             malloc(dr3_net_param_count(net) * sizeof(float)),
             with_gx ? malloc(n * S * sizeof(float)) : NULL,
             n * O,
             n * D,
             dr3_net_param_count(net),
             with_gx ? n * S : 0};
    const float *phi = NULL;
    assert_int_equal(dr3_net_forward(net, n, x, S, NULL, 0, r.q, O, &phi), DR3_OK);
    memcpy(r.phi, phi, n * D * sizeof(float));
    assert_int_equal(dr3_net_backward(net, n, gq, O, gphi, D, r.gx, S, 0), DR3_OK);
    memcpy(r.grads, dr3_net_grads(net), r.np * sizeof(float));
    free(x);
    free(gq);
    free(gphi);
    return r;
}

static void assert_same_bits(const run *a, const run *b) {
    assert_memory_equal(a->q, b->q, a->nq * sizeof(float));
    assert_memory_equal(a->phi, b->phi, a->nphi * sizeof(float));
    assert_memory_equal(a->grads, b->grads, a->np * sizeof(float));
    if (a->gx != NULL) assert_memory_equal(a->gx, b->gx, a->nx * sizeof(float));
}

/* |a − b| <= 1e-5·max|b| + 1e-5·|b| element-wise; returns the worst ratio to that bound */
static double close_to(const float *a, const float *b, size_t count) {
    double mx = 0, worst = 0;
    for (size_t k = 0; k < count; k++) mx = fmax(mx, fabs((double)b[k]));
    for (size_t k = 0; k < count; k++) {
        const double tol = 1e-5 * mx + 1e-5 * fabs((double)b[k]) + 1e-30;
        worst = fmax(worst, fabs((double)a[k] - (double)b[k]) / tol);
    }
    assert_true(worst <= 1.0);
    return worst;
}

static void check_shape(const shape *s) {
    dr3_net *one = make(s, 1);
    run ref = forward_backward(one, N, true);
    run ref_nogx = forward_backward(one, N, false);
    double worst = 0;
    for (int threads = 2; threads <= 3; threads++) {
        dr3_net *a = make(s, threads), *b = make(s, threads), *grown = make(s, 1),
                *shrunk = make(s, 4);
        assert_int_equal(dr3_net_set_threads(grown, threads), DR3_OK);
        assert_int_equal(dr3_net_set_threads(shrunk, threads), DR3_OK);
        for (int gx = 0; gx < 2; gx++) {
            run ra = forward_backward(a, N, gx), rb = forward_backward(b, N, gx),
                rg = forward_backward(grown, N, gx), rs = forward_backward(shrunk, N, gx);
            assert_same_bits(&ra, &rb);
            assert_same_bits(&ra, &rg);
            assert_same_bits(&ra, &rs);
            const run *r1 = gx ? &ref : &ref_nogx;
            worst = fmax(worst, close_to(ra.q, r1->q, ra.nq));
            worst = fmax(worst, close_to(ra.phi, r1->phi, ra.nphi));
            worst = fmax(worst, close_to(ra.grads, r1->grads, ra.np));
            if (gx) worst = fmax(worst, close_to(ra.gx, r1->gx, ra.nx));
            run_free(&ra);
            run_free(&rb);
            run_free(&rg);
            run_free(&rs);
        }
        /* one row: one slot, the GEMMs get the threads */
        run r1 = forward_backward(a, 1, true);
        dr3_net *c1 = make(s, 1);
        run s1 = forward_backward(c1, 1, true);
        worst = fmax(worst, close_to(r1.grads, s1.grads, r1.np));
        run_free(&r1);
        run_free(&s1);
        /* no allocation through the network's allocator in forward and backward */
        const long before = atomic_load(&allocs);
        run quiet = forward_backward(a, N, false);
        assert_int_equal(atomic_load(&allocs), before);
        run_free(&quiet);
        dr3_net_free(a);
        dr3_net_free(b);
        dr3_net_free(grown);
        dr3_net_free(shrunk);
        dr3_net_free(c1);
    }
    /* a backward with dL/dx overwrites kept columns: a second backward after the same
     * forward (without dL/dx) must unfold again and give the gradients of a fresh pair */
    for (int threads = 1; threads <= 2; threads++) {
        dr3_net *net = make(s, threads);
        const size_t S = dr3_net_obs_dim(net), O = dr3_net_output_dim(net);
        float *x = random_floats(N * S, 1, 0, 1), *gq = random_floats(N * O, 2, -1, 1);
        float *gx = malloc(N * S * sizeof(float));
        assert_int_equal(dr3_net_forward(net, N, x, S, NULL, 0, NULL, 0, NULL), DR3_OK);
        assert_int_equal(dr3_net_backward(net, N, gq, O, NULL, 0, gx, S, 0), DR3_OK);
        assert_int_equal(dr3_net_backward(net, N, gq, O, NULL, 0, NULL, 0, 0), DR3_OK);
        float *g2 = malloc(dr3_net_param_count(net) * sizeof(float));
        memcpy(g2, dr3_net_grads(net), dr3_net_param_count(net) * sizeof(float));
        assert_int_equal(dr3_net_forward(net, N, x, S, NULL, 0, NULL, 0, NULL), DR3_OK);
        assert_int_equal(dr3_net_backward(net, N, gq, O, NULL, 0, NULL, 0, 0), DR3_OK);
        assert_memory_equal(g2, dr3_net_grads(net), dr3_net_param_count(net) * sizeof(float));
        free(x);
        free(gq);
        free(gx);
        free(g2);
        dr3_net_free(net);
    }
    printf("  %-32s threads 2, 3 against 1: worst |diff|/tol = %.4f\n", s->name, worst);
    run_free(&ref);
    run_free(&ref_nogx);
    dr3_net_free(one);
}

static void test_two_convs(void **state) {
    (void)state;
    shape s = two_convs();
    check_shape(&s);
}

static void test_one_conv_kept_columns(void **state) {
    (void)state;
    shape s = one_conv();
    check_shape(&s);
}

/* dr3_net_set_threads grows a conv network's workspace for more slots; out of memory it
 * fails with DR3_ERR_NOMEM and the network keeps its thread count and gives the same bits. */
static void test_set_threads_out_of_memory(void **state) {
    (void)state;
    shape s = two_convs();
    dr3_net *net = make(&s, 1);
    run before = forward_backward(net, N, false);
    atomic_store(&refuse, 1);
    TU_ASSERT_FAILS(dr3_net_set_threads(net, 8), DR3_ERR_NOMEM);
    atomic_store(&refuse, 0);
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    assert_int_equal(dr3_net_get_options(&o, net), DR3_OK);
    assert_int_equal(o.threads, 1);
    run after = forward_backward(net, N, false);
    assert_same_bits(&before, &after);
    run_free(&before);
    run_free(&after);
    dr3_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_threads_out_of_memory),
        cmocka_unit_test(test_two_convs),
        cmocka_unit_test(test_one_conv_kept_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
