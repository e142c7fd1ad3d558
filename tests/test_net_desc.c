/* Networks from a layer list (experimental dr3_net_create_desc): a convolutional Q-network
 * against PyTorch (forward, φ, backward with an injected dL/dφ, input gradient, uint8
 * input), PyTorch's initialisation bounds, the presets' shapes from the papers, and bad
 * descriptions. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include "data/reference/convnet_fixtures.h"

#include "../src/learner/learner_internal.h" /* the u8 test compares with the float path */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Conv2d(2, 4, 3, s2, p1), Conv2d(4, 3, (2, 3)), Linear(24, 10), head 3: the fixture's net */
static dr3_net *fixture_net(size_t max_batch) {
    dr3_layer c1 = DR3_LAYER_INIT, c2 = DR3_LAYER_INIT, fc = DR3_LAYER_INIT;
    c1.kind = DR3_LAYER_CONV2D;
    c1.units = 4;
    c1.kernel_h = c1.kernel_w = 3;
    c1.stride = 2;
    c1.padding = 1;
    c2.kind = DR3_LAYER_CONV2D;
    c2.units = 3;
    c2.kernel_h = 2;
    c2.kernel_w = 3;
    fc.units = 10;
    const dr3_layer *layers[] = {&c1, &c2, &fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = CN_C;
    d.in_height = CN_H;
    d.in_width = CN_W;
    d.num_layers = 3;
    d.layers = layers;
    d.action_dim = 3;
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = max_batch;
    rt.seed = 5;
    dr3_net *net = NULL;
    assert_int_equal(dr3_net_create_desc(&net, &d, &rt), DR3_OK);
    return net;
}

static void test_against_pytorch(void **state) {
    (void)state;
    dr3_net *net = fixture_net(8);
    const size_t in = CN_C * CN_H * CN_W;
    assert_int_equal(dr3_net_param_count(net), CN_PARAMS);
    assert_int_equal(dr3_net_obs_dim(net), in);
    assert_int_equal(dr3_net_feature_dim(net), 10);
    assert_int_equal(dr3_net_output_dim(net), 3);
    memcpy(dr3_net_params(net), cn_params, sizeof cn_params);

    float q[CN_N * 3];
    const float *phi = NULL;
    assert_int_equal(dr3_net_forward(net, CN_N, cn_x, in, NULL, 0, q, 3, &phi), DR3_OK);
    for (size_t k = 0; k < CN_N * 3; k++) TU_ASSERT_CLOSE(q[k], cn_q[k], 1e-4, 1e-5);
    for (size_t k = 0; k < CN_N * 10; k++) TU_ASSERT_CLOSE(phi[k], cn_phi[k], 1e-4, 1e-5);

    float *gx = calloc(CN_N * in, sizeof(float));
    assert_int_equal(
        dr3_net_backward(net, CN_N, cn_grad_out, 3, cn_grad_features, 10, gx, in, 0), DR3_OK);
    const float *g = dr3_net_grads(net);
    for (size_t k = 0; k < CN_PARAMS; k++) TU_ASSERT_CLOSE(g[k], cn_grads[k], 1e-4, 1e-5);
    for (size_t k = 0; k < CN_N * in; k++) TU_ASSERT_CLOSE(gx[k], cn_grad_x[k], 1e-4, 1e-5);

    /* accumulation adds a second identical backward */
    assert_int_equal(dr3_net_backward(net, CN_N, cn_grad_out, 3, cn_grad_features, 10, NULL, 0,
                                      DR3_NET_ACCUMULATE),
                     DR3_OK);
    for (size_t k = 0; k < CN_PARAMS; k++) TU_ASSERT_CLOSE(g[k], 2 * cn_grads[k], 1e-4, 1e-5);

    /* pixels: uint8 rows scaled by 1/255 */
    assert_int_equal(dr3_net_forward_u8(net, CN_N, cn_x_u8, in, q, 3, NULL), DR3_OK);
    for (size_t k = 0; k < CN_N * 3; k++) TU_ASSERT_CLOSE(q[k], cn_q_u8[k], 1e-4, 1e-5);

    /* a clone computes the same */
    dr3_net *copy = NULL;
    assert_int_equal(dr3_net_clone(&copy, net), DR3_OK);
    assert_true(dr3_net_same_shape(copy, net));
    assert_int_equal(dr3_net_forward(copy, CN_N, cn_x, in, NULL, 0, q, 3, NULL), DR3_OK);
    for (size_t k = 0; k < CN_N * 3; k++) TU_ASSERT_CLOSE(q[k], cn_q[k], 1e-4, 1e-5);
    dr3_net_free(copy);
    free(gx);
    dr3_net_free(net);
}

/* Batch 1 and a batch larger than the convolution's GEMM group (32): the same rows give
 * the same outputs as in the fixture. */
static void test_batch_sizes(void **state) {
    (void)state;
    dr3_net *net = fixture_net(40);
    memcpy(dr3_net_params(net), cn_params, sizeof cn_params);
    const size_t in = CN_C * CN_H * CN_W;
    float *x = malloc(40 * in * sizeof(float)), q[40 * 3];
    for (size_t i = 0; i < 40; i++)
        memcpy(x + i * in, cn_x + (i % CN_N) * in, in * sizeof(float));
    assert_int_equal(dr3_net_forward(net, 40, x, in, NULL, 0, q, 3, NULL), DR3_OK);
    for (size_t i = 0; i < 40; i++)
        for (size_t a = 0; a < 3; a++)
            TU_ASSERT_CLOSE(q[i * 3 + a], cn_q[(i % CN_N) * 3 + a], 1e-4, 1e-5);
    assert_int_equal(dr3_net_forward(net, 1, cn_x + 2 * in, in, NULL, 0, q, 3, NULL), DR3_OK);
    for (size_t a = 0; a < 3; a++) TU_ASSERT_CLOSE(q[a], cn_q[2 * 3 + a], 1e-4, 1e-5);
    free(x);
    dr3_net_free(net);
}

/* PyTorch's default init: every weight and bias of a layer in ±1/√fan_in, fan_in = C·kh·kw
 * for a convolution; the sample spread matches the uniform's (bound/√3). */
static void test_init_bounds(void **state) {
    (void)state;
    dr3_net_desc d;
    assert_int_equal(dr3_net_desc_preset(&d, "nature", 4, 6), DR3_OK);
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = 2;
    rt.seed = 9;
    dr3_net *net = NULL;
    assert_int_equal(dr3_net_create_desc(&net, &d, &rt), DR3_OK);
    /* state_dict order: conv0 w [32,4,8,8] b [32], conv1 [64,32,4,4] [64], conv2 [64,64,3,3]
     * [64], fc [512, 3136] [512], head [6, 512] [6] */
    const size_t wsz[5] = {32 * 4 * 8 * 8, 64 * 32 * 4 * 4, 64 * 64 * 3 * 3, 512 * 3136,
                           6 * 512};
    const size_t bsz[5] = {32, 64, 64, 512, 6};
    const size_t fan[5] = {4 * 8 * 8, 32 * 4 * 4, 64 * 3 * 3, 3136, 512};
    size_t off = 0;
    for (int l = 0; l < 5; l++) {
        double bound = 1.0 / sqrt((double)fan[l]), ss = 0, mx = 0;
        const float *w = dr3_net_params(net) + off;
        for (size_t k = 0; k < wsz[l] + bsz[l]; k++) {
            ss += (double)w[k] * w[k];
            if (fabs(w[k]) > mx) mx = fabs(w[k]);
        }
        assert_true(mx <= bound * (1 + 1e-6));
        double sd = sqrt(ss / (double)(wsz[l] + bsz[l]));
        TU_ASSERT_CLOSE(sd, bound / sqrt(3.0), 0.1, 0);
        off += wsz[l] + bsz[l];
    }
    assert_int_equal(off, dr3_net_param_count(net));
    assert_int_equal(dr3_net_param_count(net), 1687206); /* Mnih et al.'s net with 6 actions */
    assert_int_equal(dr3_net_feature_dim(net), 512);
    assert_int_equal(dr3_net_obs_dim(net), 4 * 84 * 84);
    dr3_net_free(net);

    /* MinAtar: 10x10 input, conv 16 3x3 -> 8x8x16 = 1024, linear 128 */
    assert_int_equal(dr3_net_desc_preset(&d, "minatar", 7, 3), DR3_OK);
    assert_int_equal(dr3_net_create_desc(&net, &d, &rt), DR3_OK);
    assert_int_equal(dr3_net_param_count(net),
                     16 * 7 * 9 + 16 + 128 * 1024 + 128 + 3 * 128 + 3);
    assert_int_equal(dr3_net_feature_dim(net), 128);
    dr3_net_free(net);
}

static void test_bad_descriptions(void **state) {
    (void)state;
    dr3_net_desc d;
    dr3_net *net = (dr3_net *)1;
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = 2;
    TU_ASSERT_FAILS(dr3_net_desc_preset(&d, "resnet", 4, 6), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_desc_preset(&d, "nature", 0, 6), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_net_desc_preset(&d, "nature", 4, 6), DR3_OK);
    d.in_height = 6; /* an 8x8 kernel does not fit */
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, &d, &rt), DR3_ERR_INVALID_ARG);
    assert_null(net);
    /* a convolution after a linear layer */
    dr3_layer fc = DR3_LAYER_INIT, cv = DR3_LAYER_INIT;
    fc.units = 8;
    cv.kind = DR3_LAYER_CONV2D;
    cv.units = 2;
    cv.kernel_h = cv.kernel_w = 1;
    const dr3_layer *bad_order[] = {&fc, &cv};
    dr3_net_desc e = DR3_NET_DESC_INIT;
    e.in_channels = 2;
    e.in_height = e.in_width = 4;
    e.num_layers = 2;
    e.layers = bad_order;
    e.action_dim = 2;
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, &e, &rt), DR3_ERR_INVALID_ARG);
    /* an uninitialised layer struct, zero units, unknown kind */
    dr3_layer zero;
    memset(&zero, 0, sizeof zero);
    const dr3_layer *one[] = {&zero};
    e.num_layers = 1;
    e.layers = one;
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, &e, &rt), DR3_ERR_VERSION);
    zero = (dr3_layer)DR3_LAYER_INIT;
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, &e, &rt), DR3_ERR_INVALID_ARG);
    zero.units = 3;
    zero.kind = (dr3_layer_kind)7;
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, &e, &rt), DR3_ERR_INVALID_ARG);
    e.layers = NULL;
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, &e, &rt), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_create_desc(&net, NULL, &rt), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_create_desc(NULL, &d, &rt), DR3_ERR_INVALID_ARG);
    /* shapes of different conv nets are not the same shape */
    dr3_net *a = NULL, *b = NULL;
    assert_int_equal(dr3_net_desc_preset(&d, "minatar", 4, 3), DR3_OK);
    assert_int_equal(dr3_net_create_desc(&a, &d, &rt), DR3_OK);
    assert_int_equal(dr3_net_desc_preset(&d, "minatar", 4, 3), DR3_OK);
    dr3_layer wide = *d.layers[0];
    wide.padding = 1; /* 10x10 -> 10x10: the linear layer grows, so would the params */
    wide.kernel_h = wide.kernel_w = 3;
    const dr3_layer *alt[] = {&wide, d.layers[1]};
    d.layers = alt;
    assert_int_equal(dr3_net_create_desc(&b, &d, &rt), DR3_OK);
    assert_false(dr3_net_same_shape(a, b));
    TU_ASSERT_FAILS(dr3_net_copy_params(a, b), DR3_ERR_SHAPE);
    dr3_net_free(a);
    dr3_net_free(b);
}

/* The learner on a convolutional network, fed by a uint8 replay: a ring of 6 positions
 * drawn as one lit pixel on a 1x5x5 image (a frame stack of 2 gives C = 2), actions stay /
 * move, reward 1 for moving out of the last position. Offline Q-learning from uniform
 * behaviour must reach Q* from value iteration (gamma 0.8). */
static void test_learner_on_pixels(void **state) {
    (void)state;
    enum { P = 6, HW = 5, STEPS = 3000 };
    const float gamma = 0.8f;
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = STEPS + 2;
    ro.obs_dim = HW * HW;
    ro.obs_dtype = DR3_DTYPE_U8;
    ro.num_actions = 2;
    ro.frame_stack = 2;
    ro.gamma = gamma;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &ro), DR3_OK);
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    int s = 0;
    for (int t = 0; t < STEPS; t++) {
        uint8_t img[HW * HW] = {0}, nxt[HW * HW] = {0};
        int32_t a = (int32_t)dr3_rng_below(&rng, 2);
        int s2 = a == 1 ? (s + 1) % P : s;
        img[s * 4 % (HW * HW)] = 255; /* positions 0,4,8,12,16,20 */
        nxt[s2 * 4 % (HW * HW)] = 255;
        float rew = (s == P - 1 && a == 1) ? 1.0f : 0.0f;
        int last = t + 1 == STEPS;
        assert_int_equal(dr3_replay_add(r, img, &a, rew, 0, last, last ? nxt : NULL), DR3_OK);
        s = s2;
    }
    dr3_layer cv = DR3_LAYER_INIT, fc = DR3_LAYER_INIT;
    cv.kind = DR3_LAYER_CONV2D;
    cv.units = 8;
    cv.kernel_h = cv.kernel_w = 3;
    cv.padding = 1;
    fc.units = 32;
    const dr3_layer *layers[] = {&cv, &fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = 2;
    d.in_height = d.in_width = HW;
    d.num_layers = 2;
    d.layers = layers;
    d.action_dim = 2;
    dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
    adam.lr = 1e-3f;
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT;
    const dr3_regularizer_options *regs[] = {&dr3};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.batch_size = 64;
    o.gamma = gamma;
    o.polyak_tau = 0.02f;
    o.optim = &adam;
    o.regularizers = regs;
    o.num_regularizers = 1;
    o.seed = 4;
    dr3_learner *l = NULL;
    o.num_actions = 3; /* disagrees with the description */
    TU_ASSERT_FAILS(dr3_learner_create_desc(&l, &o, &d), DR3_ERR_SHAPE);
    o.num_actions = 0;
    assert_int_equal(dr3_learner_create_desc(&l, &o, &d), DR3_OK);
    assert_int_equal(dr3_net_feature_dim(dr3_learner_online(l)), 32);
    for (int t = 0; t < 2500; t++)
        assert_int_equal(dr3_learner_step_replay(l, r, NULL), DR3_OK);

    double qs[P][2] = {{0}};
    for (int it = 0; it < 300; it++)
        for (int p = 0; p < P; p++)
            for (int a = 0; a < 2; a++) {
                int p2 = a == 1 ? (p + 1) % P : p;
                qs[p][a] =
                    ((p == P - 1 && a == 1) ? 1.0 : 0.0) + gamma * fmax(qs[p2][0], qs[p2][1]);
            }
    /* a state as the replay stacks it: previous frame, then the current one (both lit at
     * the position reached, as after a "stay"; the frame before a "move" differs, so the
     * test feeds both kinds of stacks) */
    double worst = 0;
    for (int p = 0; p < P; p++)
        for (int prev_moved = 0; prev_moved < 2; prev_moved++) {
            float x[2 * HW * HW] = {0};
            int prev = prev_moved ? (p + P - 1) % P : p;
            x[prev * 4 % (HW * HW)] = 1.0f;
            x[HW * HW + p * 4 % (HW * HW)] = 1.0f;
            float q[2];
            assert_int_equal(dr3_learner_q_values(l, 1, x, 2 * HW * HW, q, 2), DR3_OK);
            for (int a = 0; a < 2; a++) worst = fmax(worst, fabs(q[a] - qs[p][a]));
        }
    if (!(worst < 0.1)) fail_msg("largest |Q - Q*| = %g", worst);
    /* checkpoints record the layer list: the learner reopens from the file alone and
     * computes the same Q-values; a learner with another layer list refuses the file */
    const char *path = "net_desc_learner.ckpt";
    assert_int_equal(dr3_learner_save(l, path), DR3_OK);
    dr3_learner *back = NULL;
    assert_int_equal(dr3_learner_open(&back, path, &o), DR3_OK); /* same configuration */
    assert_int_equal(dr3_learner_step_count(back), 2500);
    size_t np = dr3_net_param_count(dr3_learner_online(l));
    assert_int_equal(dr3_net_param_count(dr3_learner_online(back)), np);
    assert_memory_equal(dr3_net_params(dr3_learner_online(back)),
                        dr3_net_params(dr3_learner_online(l)), np * sizeof(float));
    assert_memory_equal(dr3_net_params(dr3_learner_target(back)),
                        dr3_net_params(dr3_learner_target(l)), np * sizeof(float));
    /* and it continues bit for bit like the original */
    assert_int_equal(dr3_learner_step_replay(l, r, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step_replay(back, r, NULL), DR3_OK);
    assert_memory_equal(dr3_net_params(dr3_learner_online(back)),
                        dr3_net_params(dr3_learner_online(l)), np * sizeof(float));
    dr3_learner_free(back);
    dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
    TU_ASSERT_FAILS(dr3_learner_checkpoint_info(&info, path), DR3_ERR_UNSUPPORTED);
    cv.units = 4; /* another layer list of the same input and actions */
    dr3_learner *other = NULL;
    assert_int_equal(dr3_learner_create_desc(&other, &o, &d), DR3_OK);
    TU_ASSERT_FAILS(dr3_learner_load(other, path), DR3_ERR_SHAPE);
    dr3_learner_free(other);
    remove(path);
    dr3_learner_free(l);
    dr3_replay_free(r);
}

/* One DQN + DR3 + CQL step with Adam on a convolutional Q-network, against the same step in
 * PyTorch (losses, the gradient, the parameters after Adam): the learner drives a layer-list
 * network exactly as it drives an MLP. */
static void test_learner_step_against_pytorch(void **state) {
    (void)state;
    dr3_layer cv = DR3_LAYER_INIT, fc = DR3_LAYER_INIT;
    cv.kind = DR3_LAYER_CONV2D;
    cv.units = 4;
    cv.kernel_h = cv.kernel_w = 3;
    cv.stride = 2;
    cv.padding = 1;
    fc.units = 16;
    const dr3_layer *layers[] = {&cv, &fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = CS_C;
    d.in_height = CS_H;
    d.in_width = CS_W;
    d.num_layers = 2;
    d.layers = layers;
    d.action_dim = CS_A;
    dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
    adam.lr = 1e-3f;
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT,
                            cql = DR3_REGULARIZER_OPTIONS_INIT;
    dr3.coef = 0.1f;
    cql.kind = DR3_REG_CQL;
    cql.coef = 0.5f;
    const dr3_regularizer_options *regs[] = {&dr3, &cql};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT; /* max backup, Huber 1, gamma 0.99 */
    o.batch_size = CS_N;
    o.optim = &adam;
    o.regularizers = regs;
    o.num_regularizers = 2;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create_desc(&l, &o, &d), DR3_OK);
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    assert_int_equal(dr3_net_param_count(on), CS_PARAMS);
    memcpy(dr3_net_params(on), cs_online, sizeof cs_online);
    memcpy(dr3_net_params(tg), cs_target, sizeof cs_target);
    dr3_batch b = DR3_BATCH_INIT;
    b.n = CS_N;
    b.obs = cs_obs;
    b.ld_obs = CS_C * CS_H * CS_W;
    b.next_obs = cs_next;
    b.ld_next_obs = CS_C * CS_H * CS_W;
    b.actions = cs_actions;
    b.rewards = cs_rewards;
    b.terminals = cs_terminals;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);
    float r0 = 0, r1 = 0;
    assert_int_equal(dr3_learner_reg_loss(&r0, l, 0), DR3_OK);
    assert_int_equal(dr3_learner_reg_loss(&r1, l, 1), DR3_OK);
    TU_ASSERT_CLOSE(m.td_loss, cs_td, 1e-4, 1e-6);
    TU_ASSERT_CLOSE(r0, cs_dr3, 1e-4, 1e-6);
    TU_ASSERT_CLOSE(r1, cs_cql, 1e-4, 1e-6);
    TU_ASSERT_CLOSE(m.loss, cs_loss, 1e-4, 1e-6);
    const float *g = dr3_net_grads(on), *p = dr3_net_params(on);
    for (size_t k = 0; k < CS_PARAMS; k++) TU_ASSERT_CLOSE(g[k], cs_grads[k], 1e-3, 1e-6);
    for (size_t k = 0; k < CS_PARAMS; k++) TU_ASSERT_CLOSE(p[k], cs_after[k], 1e-4, 1e-6);
    dr3_learner_free(l);
}

/* safetensors for layer-list networks: PyTorch's state_dict names (Flatten takes index 4),
 * 4-D Conv2d weights, and the architecture in format_version 2 metadata. A file written by
 * PyTorch loads and computes PyTorch's outputs; ours round-trips through dr3_net_open. */
static void test_safetensors(void **state) {
    (void)state;
    const size_t in = CN_C * CN_H * CN_W;
    float q[CN_N * 3];
    dr3_net *net = fixture_net(8);
    assert_int_equal(
        dr3_net_load(net, DR3_TEST_DATA_DIR "/safetensors/torch_convnet.safetensors"), DR3_OK);
    assert_memory_equal(dr3_net_params(net), cn_params, sizeof cn_params);
    assert_int_equal(dr3_net_forward(net, CN_N, cn_x, in, NULL, 0, q, 3, NULL), DR3_OK);
    for (size_t k = 0; k < CN_N * 3; k++) TU_ASSERT_CLOSE(q[k], cn_q[k], 1e-4, 1e-5);

    const char *path = "net_desc.safetensors";
    assert_int_equal(dr3_net_save(net, path), DR3_OK);
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = CN_N;
    dr3_net *back = NULL;
    assert_int_equal(dr3_net_open(&back, path, &rt), DR3_OK);
    assert_true(dr3_net_same_shape(back, net));
    assert_memory_equal(dr3_net_params(back), cn_params, sizeof cn_params);
    assert_int_equal(dr3_net_forward(back, CN_N, cn_x, in, NULL, 0, q, 3, NULL), DR3_OK);
    for (size_t k = 0; k < CN_N * 3; k++) TU_ASSERT_CLOSE(q[k], cn_q[k], 1e-4, 1e-5);
    dr3_net_free(back);

    /* a network with another layer list, or an MLP, refuses the file and stays as it was */
    dr3_net_desc d;
    assert_int_equal(dr3_net_desc_preset(&d, "minatar", 4, 3), DR3_OK);
    dr3_net *other = NULL;
    assert_int_equal(dr3_net_create_desc(&other, &d, &rt), DR3_OK);
    float *before = malloc(dr3_net_param_count(other) * sizeof(float));
    memcpy(before, dr3_net_params(other), dr3_net_param_count(other) * sizeof(float));
    TU_ASSERT_FAILS(dr3_net_load(other, path), DR3_ERR_SHAPE);
    assert_memory_equal(before, dr3_net_params(other),
                        dr3_net_param_count(other) * sizeof(float));
    free(before);
    dr3_net_free(other);
    static const size_t hidden[1] = {10};
    dr3_net_options mo = DR3_NET_OPTIONS_INIT;
    mo.obs_dim = in;
    mo.action_dim = 3;
    mo.num_hidden = 1;
    mo.hidden = hidden;
    mo.max_batch = 2;
    dr3_net *mlp = NULL;
    assert_int_equal(dr3_net_create(&mlp, &mo), DR3_OK);
    TU_ASSERT_FAILS(dr3_net_load(mlp, path), DR3_ERR_SHAPE);
    dr3_net_free(mlp);
    remove(path);
    dr3_net_free(net);
}

/* ---- multi-head Q (REM, ensembles) ------------------------------------------------------ */

enum { MH_S = 3, MH_A = 2, MH_N = 6, MH_H = 8 };
static const float mh_obs[MH_N * MH_S] = {0.1f,  -0.4f, 0.3f, 0.7f, 0.2f,  -0.5f,
                                          -0.3f, 0.9f,  0.1f, 0.5f, -0.6f, 0.8f,
                                          -0.2f, 0.3f,  0.6f, 0.4f, 0.4f,  -0.9f};
static const float mh_next[MH_N * MH_S] = {0.2f,  -0.1f, 0.5f, 0.6f, 0.3f,  -0.2f,
                                           -0.5f, 0.8f,  0.3f, 0.1f, -0.7f, 0.9f,
                                           -0.4f, 0.2f,  0.5f, 0.3f, 0.6f,  -0.8f};
static const float mh_rew[MH_N] = {1, 0, -0.5f, 0.25f, 0, 1};
static const int32_t mh_act[MH_N] = {0, 1, 1, 0, 1, 0};
static const uint8_t mh_term[MH_N] = {0, 0, 1, 0, 0, 0};

static dr3_learner *mh_learner(size_t heads, dr3_heads_mode mode, float lr) {
    dr3_layer fc = DR3_LAYER_INIT;
    fc.units = MH_H;
    const dr3_layer *layers[] = {&fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = MH_S;
    d.in_height = d.in_width = 1;
    d.num_layers = 1;
    d.layers = layers;
    d.action_dim = MH_A;
    d.num_heads = heads;
    d.activation = DR3_ACT_TANH;
    dr3_optim_options sgd = DR3_OPTIM_OPTIONS_INIT;
    sgd.kind = DR3_OPTIM_SGD;
    sgd.lr = lr;
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT,
                            cql = DR3_REGULARIZER_OPTIONS_INIT;
    cql.kind = DR3_REG_CQL;
    cql.coef = 0.3f;
    const dr3_regularizer_options *regs[] = {&dr3, &cql};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.batch_size = MH_N;
    o.td_kind = DR3_TD_MSE;
    o.gamma = 0.9f;
    o.target_update_period = 1000;
    o.optim = &sgd;
    o.regularizers = regs;
    o.num_regularizers = 2;
    o.seed = 21;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create_desc(&l, &o, &d), DR3_OK);
    assert_int_equal(dr3_learner_set_heads_mode(l, mode), DR3_OK);
    return l;
}

static dr3_batch mh_batch(void) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = MH_N;
    b.obs = mh_obs;
    b.ld_obs = MH_S;
    b.next_obs = mh_next;
    b.ld_next_obs = MH_S;
    b.actions = mh_act;
    b.rewards = mh_rew;
    b.terminals = mh_term;
    return b;
}

/* Copies a one-head network's parameters into a K-head one, every head a copy of the one. */
static void replicate_heads(dr3_net *multi, const dr3_net *one_c, size_t K) {
    dr3_net *one = (dr3_net *)one_c;
    const float *p = dr3_net_params(one);
    float *q = dr3_net_params(multi);
    const size_t trunk = MH_H * MH_S + MH_H; /* the hidden Linear's weight and bias */
    memcpy(q, p, trunk * sizeof(float));
    const float *w1 = p + trunk, *b1 = w1 + MH_A * MH_H;
    float *w = q + trunk, *b = w + K * MH_A * MH_H;
    for (size_t k = 0; k < K; k++) {
        memcpy(w + k * MH_A * MH_H, w1, MH_A * MH_H * sizeof(float));
        memcpy(b + k * MH_A, b1, MH_A * sizeof(float));
    }
}

/* With identical heads every mode is the one-head learner: same losses; the trunk's gradient
 * is the same and head k's is w_k times the one head's (REM's α_k, or 1/K). The one-head
 * learner is the reference (itself checked against PyTorch in test_reference.c). */
static void test_heads_identical_equal_one(void **state) {
    (void)state;
    const size_t K = 3;
    dr3_batch b = mh_batch();
    for (int mode = DR3_HEADS_REM; mode <= DR3_HEADS_MIN; mode++) {
        dr3_learner *one = mh_learner(1, DR3_HEADS_REM, 0.0f);
        dr3_learner *multi = mh_learner(K, (dr3_heads_mode)mode, 0.0f);
        assert_int_equal(dr3_net_output_dim(dr3_learner_online(multi)), K * MH_A);
        replicate_heads(dr3_learner_online(multi), dr3_learner_online(one), K);
        replicate_heads(dr3_learner_target(multi), dr3_learner_target(one), K);
        dr3_step_metrics m1 = DR3_STEP_METRICS_INIT, mk = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_step(one, &b, &m1), DR3_OK);
        assert_int_equal(dr3_learner_step(multi, &b, &mk), DR3_OK);
        TU_ASSERT_CLOSE(mk.td_loss, m1.td_loss, 1e-5, 1e-7);
        TU_ASSERT_CLOSE(mk.loss, m1.loss, 1e-5, 1e-7);
        TU_ASSERT_CLOSE(mk.mean_target, m1.mean_target, 1e-5, 1e-7);
        float w[3];
        assert_int_equal(dr3_learner_head_weights(w, K, multi), DR3_OK);
        double sum = 0;
        for (size_t k = 0; k < K; k++) {
            assert_true(w[k] > 0);
            sum += w[k];
            if (mode != DR3_HEADS_REM) TU_ASSERT_CLOSE(w[k], 1.0 / K, 1e-6, 0);
        }
        TU_ASSERT_CLOSE(sum, 1.0, 1e-6, 0);
        const float *g1 = dr3_net_grads(dr3_learner_online(one));
        const float *gk = dr3_net_grads(dr3_learner_online(multi));
        const size_t trunk = MH_H * MH_S + MH_H;
        for (size_t j = 0; j < trunk; j++) TU_ASSERT_CLOSE(gk[j], g1[j], 1e-4, 1e-6);
        const float *h1w = g1 + trunk, *h1b = h1w + MH_A * MH_H;
        const float *hkw = gk + trunk, *hkb = hkw + K * MH_A * MH_H;
        for (size_t k = 0; k < K; k++) {
            for (size_t j = 0; j < MH_A * MH_H; j++)
                TU_ASSERT_CLOSE(hkw[k * MH_A * MH_H + j], w[k] * h1w[j], 1e-4, 1e-6);
            for (size_t j = 0; j < MH_A; j++)
                TU_ASSERT_CLOSE(hkb[k * MH_A + j], w[k] * h1b[j], 1e-4, 1e-6);
        }
        dr3_learner_free(one);
        dr3_learner_free(multi);
    }
}

/* With different heads: the ensembles' targets and TD loss against a computation in the
 * test from the networks' own head outputs (MSE, gamma 0.9, max backup). REM's weights are
 * random, positive, sum to 1, change from step to step, and an evaluation does not advance
 * them. Acting uses the heads' mean. */
static void test_heads_different(void **state) {
    (void)state;
    const size_t K = 3, O = K * MH_A;
    dr3_batch b = mh_batch();
    for (int mode = DR3_HEADS_MEAN; mode <= DR3_HEADS_MIN; mode++) {
        dr3_learner *l = mh_learner(K, (dr3_heads_mode)mode, 0.0f);
        float q[MH_N * 3 * MH_A], qt[MH_N * 3 * MH_A];
        assert_int_equal(
            dr3_net_forward(dr3_learner_online(l), MH_N, mh_obs, MH_S, NULL, 0, q, O, NULL),
            DR3_OK);
        assert_int_equal(
            dr3_net_forward(dr3_learner_target(l), MH_N, mh_next, MH_S, NULL, 0, qt, O, NULL),
            DR3_OK);
        double td = 0, ysum = 0;
        for (size_t i = 0; i < MH_N; i++) {
            double best = -1e30;
            for (size_t a = 0; a < MH_A; a++) {
                double v = mode == DR3_HEADS_MIN ? 1e30 : 0;
                for (size_t k = 0; k < K; k++) {
                    double t = qt[i * O + k * MH_A + a];
                    if (mode == DR3_HEADS_MIN)
                        v = t < v ? t : v;
                    else
                        v += t / (double)K;
                }
                best = v > best ? v : best;
            }
            double y = mh_rew[i] + (mh_term[i] ? 0.0 : 0.9 * best);
            ysum += y;
            for (size_t k = 0; k < K; k++) {
                double e = q[i * O + k * MH_A + (size_t)mh_act[i]] - y;
                td += e * e / (double)(MH_N * K);
            }
        }
        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_evaluate(l, &b, &m), DR3_OK);
        TU_ASSERT_CLOSE(m.mean_target, ysum / MH_N, 1e-5, 1e-6);
        TU_ASSERT_CLOSE(m.td_loss, td, 1e-5, 1e-7);
        dr3_learner_free(l);
    }
    dr3_learner *l = mh_learner(K, DR3_HEADS_REM, 0.0f);
    float w1[3], w2[3], w3[3];
    assert_int_equal(dr3_learner_evaluate(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(w1, K, l), DR3_OK);
    assert_int_equal(dr3_learner_evaluate(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(w2, K, l), DR3_OK);
    assert_memory_equal(w1, w2, sizeof w1); /* evaluation does not advance the generator */
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(w2, K, l), DR3_OK);
    assert_memory_equal(w1, w2, sizeof w1); /* the step drew what evaluate previewed */
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_head_weights(w3, K, l), DR3_OK);
    assert_memory_not_equal(w2, w3, sizeof w2);
    TU_ASSERT_FAILS(dr3_learner_head_weights(w3, 2, l), DR3_ERR_SHAPE);
    TU_ASSERT_FAILS(dr3_learner_set_heads_mode(l, (dr3_heads_mode)7), DR3_ERR_INVALID_ARG);
    /* acting: the heads' mean */
    float q[MH_N * 3 * MH_A], qm[MH_N * MH_A];
    assert_int_equal(
        dr3_net_forward(dr3_learner_online(l), MH_N, mh_obs, MH_S, NULL, 0, q, O, NULL),
        DR3_OK);
    assert_int_equal(dr3_learner_q_values(l, MH_N, mh_obs, MH_S, qm, MH_A), DR3_OK);
    for (size_t i = 0; i < MH_N; i++)
        for (size_t a = 0; a < MH_A; a++)
            TU_ASSERT_CLOSE(qm[i * MH_A + a],
                            (q[i * O + a] + q[i * O + MH_A + a] + q[i * O + 2 * MH_A + a]) /
                                3.0,
                            1e-5, 1e-7);
    /* a checkpoint keeps the heads */
    const char *path = "heads.ckpt";
    assert_int_equal(dr3_learner_save(l, path), DR3_OK);
    dr3_learner *back = NULL;
    dr3_optim_options sgd = DR3_OPTIM_OPTIONS_INIT; /* the saved learner's optimizer */
    sgd.kind = DR3_OPTIM_SGD;
    dr3_learner_options oo = DR3_LEARNER_OPTIONS_INIT;
    oo.batch_size = MH_N;
    oo.optim = &sgd;
    if (dr3_learner_open(&back, path, &oo) != DR3_OK) fail_msg("%s", dr3_last_error());
    assert_int_equal(dr3_net_output_dim(dr3_learner_online(back)), O);
    float qb[MH_N * MH_A];
    assert_int_equal(dr3_learner_q_values(back, MH_N, mh_obs, MH_S, qb, MH_A), DR3_OK);
    assert_memory_equal(qb, qm, sizeof qb); /* same heads, same activation (tanh) */
    dr3_learner_free(back);
    remove(path);
    dr3_learner_free(l);
}

/* ---- uint8 replays: raw frames into dr3_net_forward_u8, no float batch ----------------- */

enum { U8_H = 6, U8_W = 5, U8_STACK = 3, U8_B = 8, U8_STEPS = 5 };

static size_t u8_allocs;
static void *u8_alloc(void *opaque, size_t size, size_t alignment) {
    (void)opaque;
    u8_allocs++;
    void *p = NULL;
    return posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size)
               ? NULL
               : p;
}
static void u8_free(void *opaque, void *p) {
    (void)opaque;
    free(p);
}

/* The expected backup's policy reads s' (floats): π(0|s') = 0.2 + 0.6·s'[0], the rest
 * split evenly. */
static int u8_policy(void *payload, size_t n, const float *obs, size_t ld, float *p,
                     size_t ldp) {
    (void)payload;
    for (size_t i = 0; i < n; i++) {
        float p0 = 0.2f + 0.6f * obs[i * ld];
        p[i * ldp] = p0;
        p[i * ldp + 1] = p[i * ldp + 2] = 0.5f * (1.0f - p0);
    }
    return 0;
}

/* lean: no DR3 term and an expected backup, so the step takes its lean form (the online
 * pass over s only) and the backup reads s' as floats; else DR3 + CQL with the max backup
 * (the full form over [s; s']). */
static dr3_learner *u8_learner(bool lean) {
    dr3_layer c1 = DR3_LAYER_INIT, c2 = DR3_LAYER_INIT, fc = DR3_LAYER_INIT;
    c1.kind = c2.kind = DR3_LAYER_CONV2D;
    c1.units = 4;
    c1.kernel_h = c1.kernel_w = 3;
    c1.stride = 2;
    c1.padding = 1;
    c2.units = 5;
    c2.kernel_h = c2.kernel_w = 2;
    fc.units = 12;
    const dr3_layer *layers[] = {&c1, &c2, &fc};
    dr3_net_desc d = DR3_NET_DESC_INIT;
    d.in_channels = U8_STACK;
    d.in_height = U8_H;
    d.in_width = U8_W;
    d.num_layers = 3;
    d.layers = layers;
    d.action_dim = 3;
    d.num_heads = 2; /* REM: the head weights come from the generator as well */
    dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
    adam.lr = 1e-3f;
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT,
                            cql = DR3_REGULARIZER_OPTIONS_INIT;
    cql.kind = DR3_REG_CQL;
    cql.coef = 0.5f;
    const dr3_regularizer_options *regs[] = {&cql, &dr3};
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    if (lean) {
        bo.kind = DR3_BACKUP_EXPECTED;
        bo.policy = u8_policy;
    }
    dr3_allocator al = DR3_ALLOCATOR_INIT;
    al.alloc = u8_alloc;
    al.free = u8_free;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.batch_size = U8_B;
    o.optim = &adam;
    o.regularizers = regs;
    o.num_regularizers = lean ? 1 : 2;
    o.backup = &bo;
    o.target_update_period = 2;
    o.seed = 17;
    o.allocator = &al;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create_desc(&l, &o, &d), DR3_OK);
    return l;
}

/* A layer-list learner on a uint8 replay samples raw frames and steps on them through
 * dr3_net_forward_u8: bit for bit the step on the float batch (float)v / 255 (the scaling
 * the networks apply) made from the same draws, within float rounding of the float path
 * (the replay's v · (1/255)), and without allocating. */
static void u8_case(bool lean) {
    const size_t S = U8_STACK * U8_H * U8_W, F = U8_H * U8_W;
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 400;
    ro.obs_dim = F;
    ro.obs_dtype = DR3_DTYPE_U8;
    ro.num_actions = 3;
    ro.frame_stack = U8_STACK;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &ro), DR3_OK);
    dr3_rng rng;
    dr3_rng_seed(&rng, 8);
    for (int ep = 0; ep < 6; ep++) { /* episodes of 9..39 steps, some terminal */
        size_t steps = 9 + (size_t)dr3_rng_below(&rng, 31);
        uint8_t frames[40 * U8_H * U8_W];
        int32_t acts[39];
        float rews[39];
        for (size_t i = 0; i < (steps + 1) * F; i++)
            frames[i] = (uint8_t)dr3_rng_below(&rng, 256);
        for (size_t t = 0; t < steps; t++) {
            acts[t] = (int32_t)dr3_rng_below(&rng, 3);
            rews[t] = dr3_rng_uniform(&rng) - 0.5f;
        }
        assert_int_equal(
            dr3_replay_add_episode(r, steps, frames, acts, rews, ep % 2, 1 - ep % 2), DR3_OK);
    }
    dr3_learner *a = u8_learner(lean), *b = u8_learner(lean), *c = u8_learner(lean);
    c->u8_path = false; /* the float path, for comparison */
    const size_t P = dr3_net_param_count(dr3_learner_online(a));
    uint8_t su[U8_B * 3 * U8_H * U8_W], nu[U8_B * 3 * U8_H * U8_W];
    float sf[U8_B * 3 * U8_H * U8_W], nf[U8_B * 3 * U8_H * U8_W], rew[U8_B], disc[U8_B];
    int32_t act[U8_B];
    uint8_t term[U8_B];
    float *grad_c = calloc(P, sizeof(float)), *grad_a = calloc(P, sizeof(float));
    assert_non_null(grad_c);
    assert_non_null(grad_a);
    const size_t before = u8_allocs;
    for (int t = 0; t < U8_STEPS; t++) {
        dr3_step_metrics ma = DR3_STEP_METRICS_INIT, mb = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_step_replay(a, r, &ma), DR3_OK);
        /* the same draws by hand: raw frames, scaled as the networks scale them */
        dr3_replay_batch rb = DR3_REPLAY_BATCH_INIT;
        rb.obs_u8 = su;
        rb.ld_obs_u8 = S;
        rb.next_obs_u8 = nu;
        rb.ld_next_obs_u8 = S;
        rb.actions = act;
        rb.rewards = rew;
        rb.discounts = disc;
        rb.terminals = term;
        dr3_rng g = b->rng;
        assert_int_equal(dr3_replay_sample(r, &g, U8_B, &rb), DR3_OK);
        b->rng = g;
        for (size_t i = 0; i < U8_B * S; i++) {
            sf[i] = (float)su[i] / 255.0f;
            nf[i] = (float)nu[i] / 255.0f;
        }
        dr3_batch bt = DR3_BATCH_INIT;
        bt.n = U8_B;
        bt.obs = sf;
        bt.ld_obs = S;
        bt.next_obs = nf;
        bt.ld_next_obs = S;
        bt.actions = act;
        bt.rewards = rew;
        bt.discounts = disc;
        bt.terminals = term;
        assert_int_equal(dr3_learner_step(b, &bt, &mb), DR3_OK);
        assert_memory_equal(dr3_net_params(dr3_learner_online(a)),
                            dr3_net_params(dr3_learner_online(b)), P * sizeof(float));
        assert_memory_equal(dr3_net_params(dr3_learner_target(a)),
                            dr3_net_params(dr3_learner_target(b)), P * sizeof(float));
        assert_memory_equal(&ma, &mb, sizeof ma);
        if (t == 0) { /* first step from equal parameters: the float path's gradient */
            memcpy(grad_a, dr3_net_grads(dr3_learner_online(a)), P * sizeof(float));
            dr3_step_metrics mc = DR3_STEP_METRICS_INIT;
            assert_int_equal(dr3_learner_step_replay(c, r, &mc), DR3_OK);
            memcpy(grad_c, dr3_net_grads(dr3_learner_online(c)), P * sizeof(float));
            TU_ASSERT_CLOSE(mc.loss, ma.loss, 1e-5, 1e-7);
            TU_ASSERT_CLOSE(mc.mean_q, ma.mean_q, 1e-5, 1e-7);
            double scale = 0;
            for (size_t k = 0; k < P; k++) scale = fmax(scale, fabs(grad_a[k]));
            for (size_t k = 0; k < P; k++)
                TU_ASSERT_CLOSE(grad_c[k], grad_a[k], 1e-4, 1e-5 * scale);
        }
    }
    assert_int_equal(u8_allocs, before); /* no allocation in any step */
    free(grad_a);
    free(grad_c);
    dr3_learner_free(a);
    dr3_learner_free(b);
    dr3_learner_free(c);
    dr3_replay_free(r);
}

static void test_u8_batches(void **state) {
    (void)state;
    u8_case(false);
    u8_case(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_pytorch),
        cmocka_unit_test(test_batch_sizes),
        cmocka_unit_test(test_init_bounds),
        cmocka_unit_test(test_bad_descriptions),
        cmocka_unit_test(test_learner_on_pixels),
        cmocka_unit_test(test_learner_step_against_pytorch),
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_heads_identical_equal_one),
        cmocka_unit_test(test_heads_different),
        cmocka_unit_test(test_u8_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
