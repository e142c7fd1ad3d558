/* Networks: gradients against central finite differences (every activation, both heads,
 * the injected dφ path, the input gradient, accumulate vs overwrite), initialisation
 * against PyTorch's distribution, the stacked-batch equivalence, target-network updates,
 * no allocation after creation, and bad input. */
#define DR3_EXPERIMENTAL 1 /* net_internal.h declares the layer-list internals */
#include "testutil.h"

#include <dr3/net.h>

#include "net/net_internal.h" /* dr3i_net_backward_range, dr3i_net_backward_rows */

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { NB = 5, OBS = 3, ACTD = 2 };

static dr3_net *make_net(dr3_activation act, dr3_head_kind head, size_t nh, uint64_t seed) {
    static const size_t hidden[3] = {7, 6, 4};
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = OBS;
    o.action_dim = head == DR3_HEAD_CRITIC ? ACTD : 3;
    o.num_hidden = nh;
    o.hidden = hidden;
    o.activation = act;
    o.head = head;
    o.max_batch = 2 * NB;
    o.seed = seed;
    dr3_net *net = NULL;
    assert_int_equal(dr3_net_create(&net, &o), DR3_OK);
    return net;
}

/* A fixed scalar loss of the outputs and features: L = Σ c_out·out + Σ c_phi·φ (+ a square
 * so the output gradient is not constant), evaluated in double. */
typedef struct loss_def {
    float obs[NB * OBS], act[NB * ACTD], cout[NB * 3], cphi[NB * 8];
} loss_def;

static double eval_loss(dr3_net *net, const loss_def *d, bool critic) {
    float out[NB * 3];
    const float *phi;
    assert_int_equal(dr3_net_forward(net, NB, d->obs, OBS, critic ? d->act : NULL, ACTD, out,
                                     dr3_net_output_dim(net), &phi),
                     DR3_OK);
    size_t O = dr3_net_output_dim(net), D = dr3_net_feature_dim(net);
    double l = 0;
    for (size_t i = 0; i < NB * O; i++)
        l += d->cout[i] * out[i] + 0.5 * (double)out[i] * out[i];
    for (size_t i = 0; i < NB * D; i++) l += (double)d->cphi[i] * phi[i];
    return l;
}

/* Central difference of eval_loss in the variable *x, with steps h and h/4. A ReLU kink
 * crossed by the perturbation makes the two disagree; then there is no derivative to
 * compare with and the function returns false (the caller counts those, and they must be
 * rare). Everywhere else the two agree and the h/4 estimate is returned. */
static bool central_difference(dr3_net *net, const loss_def *d, bool critic, float *x,
                               double *out) {
    const float hs[2] = {1e-3f, 2.5e-4f};
    double fd[2];
    float save = *x;
    for (int s = 0; s < 2; s++) {
        *x = save + hs[s];
        double up = eval_loss(net, d, critic);
        *x = save - hs[s];
        double dn = eval_loss(net, d, critic);
        fd[s] = (up - dn) / (2.0 * hs[s]);
    }
    *x = save;
    *out = fd[1];
    return fabs(fd[0] - fd[1]) <= 4e-3 + 1e-2 * fabs(fd[1]);
}

/* Backward with dL/dout = c_out + out and dL/dφ = c_phi; compares the parameter and input
 * gradients with central differences of eval_loss. */
static void check_gradients(dr3_activation act, dr3_head_kind head, size_t nh) {
    bool critic = head == DR3_HEAD_CRITIC;
    dr3_net *net = make_net(act, head, nh, 11 + nh);
    loss_def d;
    dr3_rng rng;
    dr3_rng_seed(&rng, 5);
    for (size_t i = 0; i < NB * OBS; i++) d.obs[i] = dr3_rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < NB * ACTD; i++) d.act[i] = dr3_rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < NB * 3; i++) d.cout[i] = dr3_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < NB * 8; i++) d.cphi[i] = dr3_rng_uniform(&rng) - 0.5f;
    size_t O = dr3_net_output_dim(net), D = dr3_net_feature_dim(net);
    size_t W = OBS + (critic ? ACTD : 0), P = dr3_net_param_count(net);

    float out[NB * 3], gout[NB * 3], gin[NB * 5];
    const float *phi;
    assert_int_equal(
        dr3_net_forward(net, NB, d.obs, OBS, critic ? d.act : NULL, ACTD, out, O, &phi),
        DR3_OK);
    /* ReLU-type kinks make differences wrong where a pre-activation is within h of 0:
     * skip such nets' check only if it happens (it does not with these seeds), by
     * asserting the margin instead */
    for (size_t i = 0; i < NB * O; i++) gout[i] = d.cout[i] + out[i];
    assert_int_equal(dr3_net_backward(net, NB, gout, O, d.cphi, D, gin, W, 0), DR3_OK);
    float *g = malloc(P * sizeof(float));
    memcpy(g, dr3_net_grads(net), P * sizeof(float));

    float *p = dr3_net_params(net);
    size_t checked = 0, kinks = 0;
    for (size_t k = 0; k < P; k++) {
        double fd;
        if (central_difference(net, &d, critic, &p[k], &fd)) {
            TU_ASSERT_CLOSE(g[k], fd, 2e-2, 2e-3);
            checked++;
        } else {
            kinks++;
        }
    }
    /* input gradient: observations (and the action of a critic) */
    for (size_t i = 0; i < NB; i++)
        for (size_t j = 0; j < W; j++) {
            float *x = j < OBS ? &d.obs[i * OBS + j] : &d.act[i * ACTD + (j - OBS)];
            double fd;
            if (central_difference(net, &d, critic, x, &fd)) {
                TU_ASSERT_CLOSE(gin[i * W + j], fd, 2e-2, 2e-3);
                checked++;
            } else {
                kinks++;
            }
        }
    /* smooth activations never hit a kink; ReLU-type ones rarely do */
    if (act != DR3_ACT_RELU && act != DR3_ACT_LEAKY_RELU) assert_int_equal(kinks, 0);
    assert_true(kinks * 20 <= checked);
    free(g);
    dr3_net_free(net);
}

static void test_gradients_every_activation(void **state) {
    (void)state;
    const dr3_activation acts[] = {DR3_ACT_IDENTITY, DR3_ACT_RELU, DR3_ACT_TANH, DR3_ACT_ELU,
                                   DR3_ACT_LEAKY_RELU};
    for (size_t a = 0; a < 5; a++) {
        check_gradients(acts[a], DR3_HEAD_DISCRETE_Q, 2);
        check_gradients(acts[a], DR3_HEAD_CRITIC, 2);
    }
    /* depth 1 and 3, and a linear network (φ is the input) */
    check_gradients(DR3_ACT_TANH, DR3_HEAD_DISCRETE_Q, 1);
    check_gradients(DR3_ACT_TANH, DR3_HEAD_DISCRETE_Q, 3);
    check_gradients(DR3_ACT_TANH, DR3_HEAD_DISCRETE_Q, 0);
}

/* The input-gradient-only backward (the actor-critic learner's pass through its critics):
 * the input gradient agrees with central differences and with the full backward's, bit for
 * bit, and the network's parameter gradients keep their values (none is formed). */
static void test_backward_input_only(void **state) {
    (void)state;
    dr3_net *net = make_net(DR3_ACT_TANH, DR3_HEAD_CRITIC, 2, 21);
    loss_def d;
    dr3_rng rng;
    dr3_rng_seed(&rng, 8);
    for (size_t i = 0; i < NB * OBS; i++) d.obs[i] = dr3_rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < NB * ACTD; i++) d.act[i] = dr3_rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < NB * 3; i++) d.cout[i] = dr3_rng_uniform(&rng) - 0.5f;
    memset(d.cphi, 0, sizeof d.cphi);
    const size_t O = dr3_net_output_dim(net), W = OBS + ACTD, P = dr3_net_param_count(net);
    float out[NB * 3], gout[NB * 3], gin[NB * 5], gfull[NB * 5];
    assert_int_equal(dr3_net_forward(net, NB, d.obs, OBS, d.act, ACTD, out, O, NULL), DR3_OK);
    for (size_t i = 0; i < NB * O; i++) gout[i] = d.cout[i] + out[i];
    float *sentinel = malloc(P * sizeof(float));
    for (size_t k = 0; k < P; k++) sentinel[k] = (float)k * 0.25f - 3.0f;
    memcpy(dr3_net_grads(net), sentinel, P * sizeof(float));
    dr3i_net_backward_range(net, 0, NB, gout, O, NULL, 0, gin, W, 0, false);
    assert_memory_equal(dr3_net_grads(net), sentinel, P * sizeof(float));
    assert_int_equal(dr3_net_backward(net, NB, gout, O, NULL, 0, gfull, W, 0), DR3_OK);
    assert_memory_equal(gin, gfull, sizeof gin);
    for (size_t i = 0; i < NB; i++)
        for (size_t j = 0; j < W; j++) {
            float *x = j < OBS ? &d.obs[i * OBS + j] : &d.act[i * ACTD + (j - OBS)];
            double fd;
            if (central_difference(net, &d, true, x, &fd))
                TU_ASSERT_CLOSE(gin[i * W + j], fd, 2e-2, 2e-3);
        }
    free(sentinel);
    dr3_net_free(net);
}

static void test_accumulate_and_feature_only(void **state) {
    (void)state;
    dr3_net *net = make_net(DR3_ACT_TANH, DR3_HEAD_DISCRETE_Q, 2, 3);
    enum { D = 6 }; /* feature width: the last of the two hidden layers */
    assert_int_equal(dr3_net_feature_dim(net), D);
    float obs[NB * OBS], gout[NB * 3], gphi[NB * D];
    for (int i = 0; i < NB * OBS; i++) obs[i] = 0.1f * (float)i - 0.7f;
    for (int i = 0; i < NB * 3; i++) gout[i] = 0.05f * (float)(i % 7) - 0.1f;
    for (int i = 0; i < NB * D; i++) gphi[i] = 0.03f * (float)(i % 5) - 0.06f;
    size_t P = dr3_net_param_count(net);
    float *g1 = malloc(P * sizeof(float)), *g2 = malloc(P * sizeof(float));
    assert_int_equal(dr3_net_forward(net, NB, obs, OBS, NULL, 0, NULL, 0, NULL), DR3_OK);
    assert_int_equal(dr3_net_backward(net, NB, gout, 3, NULL, 0, NULL, 0, 0), DR3_OK);
    memcpy(g1, dr3_net_grads(net), P * sizeof(float));
    /* feature-only gradient (grad_out NULL), accumulated on top */
    assert_int_equal(dr3_net_backward(net, NB, NULL, 0, gphi, D, NULL, 0, 0), DR3_OK);
    memcpy(g2, dr3_net_grads(net), P * sizeof(float));
    assert_int_equal(dr3_net_backward(net, NB, gout, 3, NULL, 0, NULL, 0, 0), DR3_OK);
    assert_int_equal(dr3_net_backward(net, NB, NULL, 0, gphi, D, NULL, 0, DR3_NET_ACCUMULATE),
                     DR3_OK);
    const float *acc = dr3_net_grads(net);
    for (size_t k = 0; k < P; k++) TU_ASSERT_CLOSE(acc[k], g1[k] + g2[k], 1e-5, 1e-7);
    /* and both at once equals the sum too (linearity of backprop) */
    assert_int_equal(dr3_net_backward(net, NB, gout, 3, gphi, D, NULL, 0, 0), DR3_OK);
    for (size_t k = 0; k < P; k++) TU_ASSERT_CLOSE(acc[k], g1[k] + g2[k], 1e-5, 1e-7);
    /* the output layer gets no gradient from a feature-only backward */
    size_t head_w = 3 * D + 3;
    for (size_t k = P - head_w; k < P; k++) assert_true(g2[k] == 0.0f);
    free(g1);
    free(g2);
    dr3_net_free(net);
}

/* torch.nn.Linear's default: W, b ~ U(±1/√fan_in); mean 0, variance bound²/3. */
static void test_init_distribution(void **state) {
    (void)state;
    static const size_t hidden[1] = {512};
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = 400;
    o.action_dim = 2;
    o.num_hidden = 1;
    o.hidden = hidden;
    o.max_batch = 1;
    o.seed = 123;
    dr3_net *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(dr3_net_create(&a, &o), DR3_OK);
    assert_int_equal(dr3_net_create(&b, &o), DR3_OK);
    o.seed = 124;
    assert_int_equal(dr3_net_create(&c, &o), DR3_OK);
    size_t P = dr3_net_param_count(a);
    assert_int_equal(P, 400 * 512 + 512 + 512 * 2 + 2);
    assert_memory_equal(dr3_net_params(a), dr3_net_params(b), P * sizeof(float));
    assert_memory_not_equal(dr3_net_params(a), dr3_net_params(c), P * sizeof(float));
    const float *w = dr3_net_params(a);
    double bound = 1.0 / sqrt(400.0), sum = 0, sq = 0;
    size_t nw = 400 * 512;
    for (size_t k = 0; k < nw; k++) {
        assert_true(fabs(w[k]) <= bound);
        sum += w[k];
        sq += (double)w[k] * w[k];
    }
    TU_ASSERT_CLOSE(sum / nw, 0.0, 0, 3e-4);
    TU_ASSERT_CLOSE(sq / nw, bound * bound / 3, 1e-2, 0);
    const float *bias = w + nw;
    for (size_t k = 0; k < 512; k++) assert_true(fabs(bias[k]) <= bound);
    const float *w2 = bias + 512;
    for (size_t k = 0; k < 1024; k++) assert_true(fabs(w2[k]) <= 1.0 / sqrt(512.0));
    assert_int_equal(dr3_net_reset_params(c, 123), DR3_OK);
    assert_memory_equal(dr3_net_params(a), dr3_net_params(c), P * sizeof(float));
    dr3_net_free(a);
    dr3_net_free(b);
    dr3_net_free(c);
}

static void test_stacked_equals_separate(void **state) {
    (void)state;
    dr3_net *net = make_net(DR3_ACT_RELU, DR3_HEAD_DISCRETE_Q, 2, 9);
    float x[2 * NB * OBS], q_all[2 * NB * 3], q1[NB * 3], q2[NB * 3];
    for (int i = 0; i < 2 * NB * OBS; i++) x[i] = (float)((i * 37) % 11) * 0.1f - 0.5f;
    const float *phi;
    assert_int_equal(dr3_net_forward(net, 2 * NB, x, OBS, NULL, 0, q_all, 3, &phi), DR3_OK);
    float phi_all[2 * NB * 4];
    memcpy(phi_all, phi, sizeof phi_all);
    assert_int_equal(dr3_net_forward(net, NB, x, OBS, NULL, 0, q1, 3, &phi), DR3_OK);
    assert_int_equal(dr3_net_forward(net, NB, x + NB * OBS, OBS, NULL, 0, q2, 3, NULL), DR3_OK);
    for (int i = 0; i < NB * 3; i++) {
        TU_ASSERT_CLOSE(q_all[i], q1[i], 1e-5, 1e-6);
        TU_ASSERT_CLOSE(q_all[NB * 3 + i], q2[i], 1e-5, 1e-6);
    }
    /* strided output and an independent reference forward in double */
    const float *p = dr3_net_params(net);
    for (int i = 0; i < NB; i++) {
        double h1[7], h2[6];
        for (int k = 0; k < 7; k++) {
            double z = p[7 * 3 + k];
            for (int j = 0; j < 3; j++) z += p[k * 3 + j] * (double)x[i * 3 + j];
            h1[k] = z > 0 ? z : 0;
        }
        const float *w2 = p + 7 * 3 + 7, *b2 = w2 + 6 * 7;
        for (int k = 0; k < 6; k++) {
            double z = b2[k];
            for (int j = 0; j < 7; j++) z += w2[k * 7 + j] * h1[j];
            h2[k] = z > 0 ? z : 0;
        }
        /* the third hidden width is not used with 2 hidden layers; head is 3 × 6 */
        const float *w3 = b2 + 6, *b3 = w3 + 3 * 6;
        for (int a = 0; a < 3; a++) {
            double z = b3[a];
            for (int j = 0; j < 6; j++) z += w3[a * 6 + j] * h2[j];
            TU_ASSERT_CLOSE(q1[i * 3 + a], z, 1e-5, 1e-6);
        }
    }
    dr3_net_free(net);
}

static void test_copy_polyak_clone(void **state) {
    (void)state;
    dr3_net *a = make_net(DR3_ACT_RELU, DR3_HEAD_DISCRETE_Q, 2, 1);
    dr3_net *b = make_net(DR3_ACT_RELU, DR3_HEAD_DISCRETE_Q, 2, 2);
    dr3_net *c = make_net(DR3_ACT_RELU, DR3_HEAD_DISCRETE_Q, 1, 2);
    size_t P = dr3_net_param_count(a);
    float *pa = malloc(P * sizeof(float)), *pb = malloc(P * sizeof(float));
    memcpy(pa, dr3_net_params(a), P * sizeof(float));
    memcpy(pb, dr3_net_params(b), P * sizeof(float));
    assert_int_equal(dr3_net_polyak(b, a, 0.25f), DR3_OK);
    for (size_t k = 0; k < P; k++)
        TU_ASSERT_CLOSE(dr3_net_params(b)[k], 0.75 * pb[k] + 0.25 * pa[k], 1e-6, 1e-7);
    assert_int_equal(dr3_net_copy_params(b, a), DR3_OK);
    assert_memory_equal(dr3_net_params(b), pa, P * sizeof(float));
    TU_ASSERT_FAILS(dr3_net_copy_params(c, a), DR3_ERR_SHAPE);
    TU_ASSERT_FAILS(dr3_net_polyak(c, a, 0.5f), DR3_ERR_SHAPE);
    TU_ASSERT_FAILS(dr3_net_polyak(b, a, 1.5f), DR3_ERR_INVALID_ARG);
    dr3_net *d = NULL;
    assert_int_equal(dr3_net_clone(&d, a), DR3_OK);
    assert_true(dr3_net_same_shape(a, d));
    assert_false(dr3_net_same_shape(a, c));
    assert_memory_equal(dr3_net_params(d), pa, P * sizeof(float));
    free(pa);
    free(pb);
    dr3_net_free(a);
    dr3_net_free(b);
    dr3_net_free(c);
    dr3_net_free(d);
}

static size_t allocs;
static void *counting_alloc(void *op, size_t size, size_t align) {
    (void)op;
    allocs++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}
static void counting_free(void *op, void *p) {
    (void)op;
    free(p);
}

static void test_no_allocation_after_create(void **state) {
    (void)state;
    static const size_t hidden[2] = {64, 64};
    dr3_allocator al = DR3_ALLOCATOR_INIT;
    al.alloc = counting_alloc;
    al.free = counting_free;
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = 8;
    o.action_dim = 4;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.max_batch = 32;
    o.allocator = &al;
    dr3_net *net = NULL;
    assert_int_equal(dr3_net_create(&net, &o), DR3_OK);
    size_t after_create = allocs;
    assert_true(after_create > 0);
    float x[32 * 8], q[32 * 4], g[32 * 4], gx[32 * 8];
    for (int i = 0; i < 32 * 8; i++) x[i] = 0.01f * (float)i;
    for (int i = 0; i < 32 * 4; i++) g[i] = 0.1f;
    for (int rep = 0; rep < 3; rep++) {
        assert_int_equal(dr3_net_forward(net, 32, x, 8, NULL, 0, q, 4, NULL), DR3_OK);
        assert_int_equal(dr3_net_backward(net, 32, g, 4, NULL, 0, gx, 8, 0), DR3_OK);
    }
    assert_int_equal(allocs, after_create);
    dr3_net_free(net);
}

static void test_bad_input(void **state) {
    (void)state;
    dr3_net *net = make_net(DR3_ACT_RELU, DR3_HEAD_DISCRETE_Q, 2, 1);
    dr3_net *critic = make_net(DR3_ACT_RELU, DR3_HEAD_CRITIC, 2, 1);
    float x[2 * NB * OBS] = {0}, q[2 * NB * 3], g[2 * NB * 3] = {0};
    TU_ASSERT_FAILS(dr3_net_forward(net, 2 * NB + 1, x, OBS, NULL, 0, q, 3, NULL),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(net, 0, x, OBS, NULL, 0, q, 3, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(net, NB, NULL, OBS, NULL, 0, q, 3, NULL),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(net, NB, x, OBS - 1, NULL, 0, q, 3, NULL),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(net, NB, x, OBS, NULL, 0, q, 2, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(critic, NB, x, OBS, NULL, 0, q, 1, NULL),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(net, NB, x, SIZE_MAX / 2, NULL, 0, q, 3, NULL),
                    DR3_ERR_OVERFLOW);
    x[4] = NAN;
    TU_ASSERT_FAILS(dr3_net_forward(net, NB, x, OBS, NULL, 0, q, 3, NULL), DR3_ERR_NONFINITE);
    x[4] = 0;
    TU_ASSERT_FAILS(dr3_net_backward(net, NB, g, 3, NULL, 0, NULL, 0, 0), DR3_ERR_STATE);
    assert_int_equal(dr3_net_forward(net, NB, x, OBS, NULL, 0, q, 3, NULL), DR3_OK);
    TU_ASSERT_FAILS(dr3_net_backward(net, NB + 1, g, 3, NULL, 0, NULL, 0, 0), DR3_ERR_STATE);
    TU_ASSERT_FAILS(dr3_net_backward(net, NB, g, 3, NULL, 0, NULL, 0, 0x8),
                    DR3_ERR_INVALID_ARG);
    g[2] = INFINITY;
    size_t P = dr3_net_param_count(net);
    float *before = malloc(P * sizeof(float));
    memcpy(before, dr3_net_grads(net), P * sizeof(float));
    TU_ASSERT_FAILS(dr3_net_backward(net, NB, g, 3, NULL, 0, NULL, 0, 0), DR3_ERR_NONFINITE);
    assert_memory_equal(before, dr3_net_grads(net), P * sizeof(float));
    free(before);

    static const size_t zero_w[1] = {0}, big[2] = {SIZE_MAX / 4, SIZE_MAX / 4};
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    dr3_net *bad = (dr3_net *)1;
    TU_ASSERT_FAILS(dr3_net_create(&bad, &o), DR3_ERR_INVALID_ARG);
    assert_null(bad);
    o.obs_dim = 3;
    o.action_dim = 2;
    o.max_batch = 4;
    o.num_hidden = 1;
    o.hidden = zero_w;
    TU_ASSERT_FAILS(dr3_net_create(&bad, &o), DR3_ERR_INVALID_ARG);
    o.hidden = big;
    o.num_hidden = 2;
    TU_ASSERT_FAILS(dr3_net_create(&bad, &o), DR3_ERR_OVERFLOW);
    o.hidden = NULL;
    TU_ASSERT_FAILS(dr3_net_create(&bad, &o), DR3_ERR_INVALID_ARG);
    o.num_hidden = 0;
    o.activation = (dr3_activation)9;
    TU_ASSERT_FAILS(dr3_net_create(&bad, &o), DR3_ERR_INVALID_ARG);
    o.activation = DR3_ACT_RELU;
    o.threads = 0;
    TU_ASSERT_FAILS(dr3_net_create(&bad, &o), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_create(NULL, &o), DR3_ERR_INVALID_ARG);
    dr3_net_free(NULL);
    dr3_net_free(net);
    dr3_net_free(critic);
}

/* Two threads (docs/threading.md): a forward pass cut into row blocks that each run the whole
 * network, and backward passes whose dW and dX run side by side. Outputs against a forward in
 * double written here, every gradient against the one-thread net (checked against finite
 * differences above) within float rounding, and the same bits on a second run. */
enum { TN = 256, TS = 5, TA = 2, TH = 256 };
static void two_threads_case(dr3_head_kind head) {
    const bool critic = head == DR3_HEAD_CRITIC;
    static const size_t hidden[2] = {TH, TH};
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = TS;
    o.action_dim = critic ? TA : 3;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.head = head;
    o.max_batch = TN;
    o.seed = 8;
    o.threads = 1;
    dr3_net *one = NULL, *two = NULL;
    assert_int_equal(dr3_net_create(&one, &o), DR3_OK);
    o.threads = 2;
    assert_int_equal(dr3_net_create(&two, &o), DR3_OK);
    assert_int_equal(dr3_net_copy_params(two, one), DR3_OK);
    const size_t O = dr3_net_output_dim(one), W = TS + (critic ? TA : 0);
    const size_t P = dr3_net_param_count(one);
    float *obs = malloc(TN * TS * sizeof(float)), *act = malloc(TN * TA * sizeof(float));
    float *gout = malloc(TN * O * sizeof(float)), *gphi = malloc(TN * TH * sizeof(float));
    float *out[3], *gin[3], *grads[3], *phis[3];
    dr3_rng rng;
    dr3_rng_seed(&rng, 12);
    for (size_t i = 0; i < TN * TS; i++) obs[i] = dr3_rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < TN * TA; i++) act[i] = dr3_rng_uniform(&rng) * 2 - 1;
    for (size_t i = 0; i < TN * O; i++) gout[i] = dr3_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < TN * TH; i++) gphi[i] = (dr3_rng_uniform(&rng) - 0.5f) * 0.1f;
    /* run 0: one thread; runs 1 and 2: two threads */
    for (int r = 0; r < 3; r++) {
        dr3_net *net = r == 0 ? one : two;
        out[r] = malloc(TN * O * sizeof(float));
        gin[r] = malloc(TN * W * sizeof(float));
        grads[r] = malloc(P * sizeof(float));
        phis[r] = malloc(TN * TH * sizeof(float));
        const float *phi;
        assert_int_equal(
            dr3_net_forward(net, TN, obs, TS, critic ? act : NULL, TA, out[r], O, &phi),
            DR3_OK);
        memcpy(phis[r], phi, TN * TH * sizeof(float));
        assert_int_equal(dr3_net_backward(net, TN, gout, O, gphi, TH, gin[r], W, 0), DR3_OK);
        memcpy(grads[r], dr3_net_grads(net), P * sizeof(float));
    }
    /* the outputs against a forward in double from the parameters (PyTorch's layout) */
    const float *p = dr3_net_params(one);
    const float *w1 = p, *b1 = w1 + TH * W, *w2 = b1 + TH, *b2 = w2 + TH * TH, *w3 = b2 + TH;
    const float *b3 = w3 + O * TH;
    for (size_t i = 0; i < TN; i++) {
        double h1[TH], h2[TH];
        for (size_t k = 0; k < TH; k++) {
            double z = b1[k];
            for (size_t j = 0; j < W; j++)
                z += w1[k * W + j] * (double)(j < TS ? obs[i * TS + j] : act[i * TA + j - TS]);
            h1[k] = z > 0 ? z : 0;
        }
        for (size_t k = 0; k < TH; k++) {
            double z = b2[k];
            for (size_t j = 0; j < TH; j++) z += w2[k * TH + j] * h1[j];
            h2[k] = z > 0 ? z : 0;
            TU_ASSERT_CLOSE(phis[1][i * TH + k], h2[k], 1e-4, 1e-5);
        }
        for (size_t a = 0; a < O; a++) {
            double z = b3[a];
            for (size_t j = 0; j < TH; j++) z += w3[a * TH + j] * h2[j];
            TU_ASSERT_CLOSE(out[1][i * O + a], z, 1e-4, 1e-5);
        }
    }
    for (size_t i = 0; i < TN * O; i++) TU_ASSERT_CLOSE(out[1][i], out[0][i], 1e-5, 1e-6);
    for (size_t i = 0; i < TN * W; i++) TU_ASSERT_CLOSE(gin[1][i], gin[0][i], 1e-4, 1e-6);
    for (size_t k = 0; k < P; k++) TU_ASSERT_CLOSE(grads[1][k], grads[0][k], 1e-4, 1e-6);
    assert_memory_equal(out[1], out[2], TN * O * sizeof(float));
    assert_memory_equal(gin[1], gin[2], TN * W * sizeof(float));
    assert_memory_equal(grads[1], grads[2], P * sizeof(float));
    /* the input-gradient-only pass (dX alone) with two threads, against the full one */
    float *gin2 = malloc(TN * W * sizeof(float));
    assert_int_equal(
        dr3_net_forward(two, TN, obs, TS, critic ? act : NULL, TA, out[2], O, NULL), DR3_OK);
    dr3i_net_backward_range(two, 0, TN, gout, O, NULL, 0, gin2, W, 0, false);
    float *g0 = malloc(TN * W * sizeof(float));
    assert_int_equal(dr3_net_backward(two, TN, gout, O, NULL, 0, g0, W, 0), DR3_OK);
    assert_memory_equal(gin2, g0, TN * W * sizeof(float));
    free(g0);
    free(gin2);
    for (int r = 0; r < 3; r++) {
        free(out[r]);
        free(gin[r]);
        free(grads[r]);
        free(phis[r]);
    }
    free(obs);
    free(act);
    free(gout);
    free(gphi);
    dr3_net_free(one);
    dr3_net_free(two);
}

static void test_two_threads(void **state) {
    (void)state;
    two_threads_case(DR3_HEAD_DISCRETE_Q);
    two_threads_case(DR3_HEAD_CRITIC);
}

/* dr3i_net_backward_rows: the gradient of the first n rows of a pass over 2n rows (the
 * actor-critic learner's pass over [s; s']) equals that of a pass over those n rows alone,
 * and dr3i_net_last_output hands out that pass's outputs. */
static void test_backward_first_rows(void **state) {
    (void)state;
    dr3_net *net = make_net(DR3_ACT_RELU, DR3_HEAD_DISCRETE_Q, 2, 21);
    float x[2 * NB * OBS], out[2 * NB * 3], gout[NB * 3];
    for (int i = 0; i < 2 * NB * OBS; i++) x[i] = (float)((i * 29) % 13) * 0.1f - 0.6f;
    for (int i = 0; i < NB * 3; i++) gout[i] = (float)(i % 5) * 0.2f - 0.4f;
    const size_t P = dr3_net_param_count(net);
    float *g_ref = malloc(P * sizeof(float));
    assert_int_equal(dr3_net_forward(net, NB, x, OBS, NULL, 0, out, 3, NULL), DR3_OK);
    assert_int_equal(dr3_net_backward(net, NB, gout, 3, NULL, 0, NULL, 0, 0), DR3_OK);
    memcpy(g_ref, dr3_net_grads(net), P * sizeof(float));
    assert_int_equal(dr3_net_forward(net, 2 * NB, x, OBS, NULL, 0, out, 3, NULL), DR3_OK);
    assert_memory_equal(dr3i_net_last_output(net), out, 2 * NB * 3 * sizeof(float));
    dr3i_net_backward_rows(net, NB, gout, 3);
    for (size_t k = 0; k < P; k++) TU_ASSERT_CLOSE(dr3_net_grads(net)[k], g_ref[k], 1e-5, 1e-7);
    free(g_ref);
    dr3_net_free(net);
}

/* dr3i_net_backward_range over the last n rows of a pass over 2n rows (the actor-critic
 * learner's [s, a; s′, a′] after [s, ã], and its input-only pass over [s, ã]): the parameter
 * gradient (with a feature gradient) and the input gradient equal those of a pass over
 * those n rows alone; without params the network's gradients keep their values. A critic,
 * so the single-output head's fused input gradient runs at a row offset too. */
static void test_backward_row_range(void **state) {
    (void)state;
    dr3_net *net = make_net(DR3_ACT_TANH, DR3_HEAD_CRITIC, 2, 23);
    enum { W = OBS + ACTD };
    const size_t D = dr3_net_feature_dim(net), P = dr3_net_param_count(net);
    float obs[2 * NB * OBS], act[2 * NB * ACTD], out[2 * NB], gout[NB], gfeat[NB * 8];
    float gin_ref[NB * W], gin[NB * W];
    assert_true(D <= 8);
    for (int i = 0; i < 2 * NB * OBS; i++) obs[i] = (float)((i * 29) % 13) * 0.1f - 0.6f;
    for (int i = 0; i < 2 * NB * ACTD; i++) act[i] = (float)((i * 17) % 11) * 0.1f - 0.5f;
    for (int i = 0; i < NB; i++) gout[i] = (float)(i % 5) * 0.2f - 0.4f;
    for (size_t i = 0; i < NB * D; i++) gfeat[i] = (float)(i % 7) * 0.05f - 0.15f;
    float *g_ref = malloc(P * sizeof(float)), *sentinel = malloc(P * sizeof(float));
    assert_non_null(g_ref && sentinel);
    assert_int_equal(
        dr3_net_forward(net, NB, obs + NB * OBS, OBS, act + NB * ACTD, ACTD, out, 1, NULL),
        DR3_OK);
    assert_int_equal(dr3_net_backward(net, NB, gout, 1, gfeat, D, gin_ref, W, 0), DR3_OK);
    memcpy(g_ref, dr3_net_grads(net), P * sizeof(float));
    assert_int_equal(dr3_net_forward(net, 2 * NB, obs, OBS, act, ACTD, out, 1, NULL), DR3_OK);
    dr3i_net_backward_range(net, NB, NB, gout, 1, gfeat, D, gin, W, 0, true);
    for (size_t k = 0; k < P; k++) TU_ASSERT_CLOSE(dr3_net_grads(net)[k], g_ref[k], 1e-5, 1e-7);
    for (size_t i = 0; i < NB * W; i++) TU_ASSERT_CLOSE(gin[i], gin_ref[i], 1e-5, 1e-7);
    for (size_t k = 0; k < P; k++) sentinel[k] = (float)k * 0.5f - 1.0f;
    memcpy(dr3_net_grads(net), sentinel, P * sizeof(float));
    memset(gin, 0, sizeof gin);
    dr3i_net_backward_range(net, NB, NB, gout, 1, gfeat, D, gin, W, 0, false);
    assert_memory_equal(dr3_net_grads(net), sentinel, P * sizeof(float));
    for (size_t i = 0; i < NB * W; i++) TU_ASSERT_CLOSE(gin[i], gin_ref[i], 1e-5, 1e-7);
    free(g_ref);
    free(sentinel);
    dr3_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_every_activation),
        cmocka_unit_test(test_backward_input_only),
        cmocka_unit_test(test_backward_first_rows),
        cmocka_unit_test(test_backward_row_range),
        cmocka_unit_test(test_accumulate_and_feature_only),
        cmocka_unit_test(test_init_distribution),
        cmocka_unit_test(test_stacked_equals_separate),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_copy_polyak_clone),
        cmocka_unit_test(test_no_allocation_after_create),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
