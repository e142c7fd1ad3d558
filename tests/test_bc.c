/* Behaviour cloning: on one-hot states the cross-entropy optimum is the empirical action
 * frequency of each state, computed independently here. */
#define DR3_EXPERIMENTAL 1 /* dr3_bc_create_desc */
#include "testutil.h"

#include <dr3/bc.h>

#include <math.h>
#include <string.h>

enum { BS = 4, BA = 3, BN = 256 };

static void test_bc_recovers_frequencies(void **state) {
    (void)state;
    const double pi[BS][BA] = {
        {0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}, {1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.05, 0.9, 0.05}};
    float obs[BN][BS];
    int32_t act[BN];
    double count[BS][BA] = {{0}}, total[BS] = {0};
    dr3_rng rng;
    dr3_rng_seed(&rng, 4);
    memset(obs, 0, sizeof obs);
    for (int i = 0; i < BN; i++) {
        int s = i % BS;
        double u = dr3_rng_uniform_double(&rng), acc = 0;
        int a = BA - 1;
        for (int k = 0; k < BA; k++) {
            acc += pi[s][k];
            if (u < acc) {
                a = k;
                break;
            }
        }
        obs[i][s] = 1;
        act[i] = a;
        count[s][a]++;
        total[s]++;
    }
    static const size_t hidden[1] = {16};
    dr3_bc_options o = DR3_BC_OPTIONS_INIT;
    o.obs_dim = BS;
    o.num_actions = BA;
    o.num_hidden = 1;
    o.hidden = hidden;
    o.batch_size = BN;
    o.seed = 9;
    dr3_bc *bc = NULL;
    assert_int_equal(dr3_bc_create(&bc, &o), DR3_OK);
    float loss = 0, first = 0;
    for (int t = 0; t < 1500; t++) {
        assert_int_equal(dr3_bc_step(bc, BN, &obs[0][0], BS, act, &loss), DR3_OK);
        if (t == 0) first = loss;
    }
    /* the minimum of the loss is the empirical conditional entropy */
    double entropy = 0;
    for (int s = 0; s < BS; s++)
        for (int a = 0; a < BA; a++)
            if (count[s][a] > 0) entropy -= count[s][a] / BN * log(count[s][a] / total[s]);
    assert_true(first > loss);
    TU_ASSERT_CLOSE(loss, entropy, 0, 5e-3);
    float eye[BS][BS] = {{0}}, p[BS][BA];
    for (int s = 0; s < BS; s++) eye[s][s] = 1;
    assert_int_equal(dr3_bc_probs(bc, BS, &eye[0][0], BS, &p[0][0], BA), DR3_OK);
    for (int s = 0; s < BS; s++) {
        double sum = 0;
        for (int a = 0; a < BA; a++) {
            TU_ASSERT_CLOSE(p[s][a], count[s][a] / total[s], 0, 0.02);
            sum += p[s][a];
        }
        TU_ASSERT_CLOSE(sum, 1.0, 0, 1e-5);
    }
    /* the policy callback gives the same numbers */
    float q[BS][BA];
    assert_int_equal(dr3_bc_policy(bc, BS, &eye[0][0], BS, &q[0][0], BA), 0);
    assert_memory_equal(p, q, sizeof p);
    /* bad input */
    act[3] = BA;
    TU_ASSERT_FAILS(dr3_bc_step(bc, BN, &obs[0][0], BS, act, &loss), DR3_ERR_RANGE);
    act[3] = 0;
    TU_ASSERT_FAILS(dr3_bc_step(bc, BN + 1, &obs[0][0], BS, act, &loss), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_bc_step(bc, BN, NULL, BS, act, &loss), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_bc_probs(bc, BS, &eye[0][0], BS - 1, &p[0][0], BA),
                    DR3_ERR_INVALID_ARG);
    dr3_bc_free(bc);
    dr3_bc_free(NULL);
    dr3_bc *none = NULL;
    o.num_actions = 0;
    TU_ASSERT_FAILS(dr3_bc_create(&none, &o), DR3_ERR_INVALID_ARG);
    assert_null(none);
}

/* dr3_bc_create_desc (experimental): the same optimum, reached through a convolutional
 * network on 1 x 2 x 2 images whose one lit pixel is the state. */
static void test_bc_conv_recovers_frequencies(void **state) {
    (void)state;
    const double pi[BS][BA] = {
        {0.6, 0.3, 0.1}, {0.2, 0.2, 0.6}, {0.5, 0.5, 0.0}, {0.1, 0.8, 0.1}};
    float obs[BN][BS];
    int32_t act[BN];
    double count[BS][BA] = {{0}}, total[BS] = {0};
    dr3_rng rng;
    dr3_rng_seed(&rng, 11);
    memset(obs, 0, sizeof obs);
    for (int i = 0; i < BN; i++) {
        int s = i % BS, a = BA - 1;
        double u = dr3_rng_uniform_double(&rng), acc = 0;
        for (int k = 0; k < BA; k++) {
            acc += pi[s][k];
            if (u < acc) {
                a = k;
                break;
            }
        }
        obs[i][s] = 1; /* pixel (s / 2, s % 2) of the single plane */
        act[i] = a;
        count[s][a]++;
        total[s]++;
    }
    dr3_layer conv = DR3_LAYER_INIT, fc = DR3_LAYER_INIT;
    conv.kind = DR3_LAYER_CONV2D;
    conv.units = 8;
    conv.kernel_h = conv.kernel_w = 2;
    conv.padding = 1;
    fc.units = 16;
    const dr3_layer *layers[2] = {&conv, &fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = 1;
    d.in_height = d.in_width = 2;
    d.num_layers = 2;
    d.layers = layers;
    d.action_dim = BA;
    dr3_bc_options o = DR3_BC_OPTIONS_INIT; /* obs_dim, num_actions 0: from the description */
    o.batch_size = BN;
    o.seed = 3;
    dr3_bc *bc = NULL;
    assert_int_equal(dr3_bc_create_desc(&bc, &o, &d), DR3_OK);
    float loss = 0;
    for (int t = 0; t < 1500; t++)
        assert_int_equal(dr3_bc_step(bc, BN, &obs[0][0], BS, act, &loss), DR3_OK);
    double entropy = 0;
    for (int s = 0; s < BS; s++)
        for (int a = 0; a < BA; a++)
            if (count[s][a] > 0) entropy -= count[s][a] / BN * log(count[s][a] / total[s]);
    TU_ASSERT_CLOSE(loss, entropy, 0, 5e-3);
    float eye[BS][BS] = {{0}}, p[BS][BA];
    for (int s = 0; s < BS; s++) eye[s][s] = 1;
    assert_int_equal(dr3_bc_probs(bc, BS, &eye[0][0], BS, &p[0][0], BA), DR3_OK);
    for (int s = 0; s < BS; s++)
        for (int a = 0; a < BA; a++) TU_ASSERT_CLOSE(p[s][a], count[s][a] / total[s], 0, 0.02);
    dr3_bc_free(bc);
    /* bad input: nothing is created */
    dr3_bc *none = NULL;
    TU_ASSERT_FAILS(dr3_bc_create_desc(&none, &o, NULL), DR3_ERR_INVALID_ARG);
    assert_null(none);
    o.obs_dim = BS + 1; /* disagrees with 1 x 2 x 2 */
    TU_ASSERT_FAILS(dr3_bc_create_desc(&none, &o, &d), DR3_ERR_SHAPE);
    assert_null(none);
    o.obs_dim = BS;
    o.num_actions = BA + 1;
    TU_ASSERT_FAILS(dr3_bc_create_desc(&none, &o, &d), DR3_ERR_SHAPE);
    o.num_actions = BA;
    d.num_heads = 2;
    TU_ASSERT_FAILS(dr3_bc_create_desc(&none, &o, &d), DR3_ERR_INVALID_ARG);
    d.num_heads = 1;
    d.in_height = 0;
    TU_ASSERT_FAILS(dr3_bc_create_desc(&none, &o, &d), DR3_ERR_INVALID_ARG);
    assert_null(none);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bc_recovers_frequencies),
        cmocka_unit_test(test_bc_conv_recovers_frequencies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
