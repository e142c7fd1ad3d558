/* The bad-input matrix across the public API: NULL handles and pointers, zero and huge
 * sizes, out-of-range actions, NaN/Inf data, mismatched dimensions between handles. Each
 * call must return a negative status with a message, and afterwards every handle must be
 * unchanged (bitwise) and still work. */
#include "testutil.h"

#include <dr3/dr3.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { S = 3, A = 2, B = 8 };

typedef struct world {
    dr3_net *net;
    dr3_optim *opt;
    dr3_replay *replay, *other_replay;
    dr3_learner *learner;
    dr3_bc *bc;
    float *snapshot;
    size_t np;
} world;

static void make_world(world *w) {
    static const size_t hidden[1] = {8};
    dr3_net_options no = DR3_NET_OPTIONS_INIT;
    no.obs_dim = S;
    no.action_dim = A;
    no.num_hidden = 1;
    no.hidden = hidden;
    no.max_batch = B;
    assert_int_equal(dr3_net_create(&w->net, &no), DR3_OK);
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    assert_int_equal(dr3_optim_create(&w->opt, dr3_net_param_count(w->net), &oo), DR3_OK);
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 64;
    ro.obs_dim = S;
    ro.num_actions = A;
    assert_int_equal(dr3_replay_create(&w->replay, &ro), DR3_OK);
    ro.obs_dim = S + 1;
    assert_int_equal(dr3_replay_create(&w->other_replay, &ro), DR3_OK);
    float o[S + 1] = {0.1f, 0.2f, 0.3f, 0.4f};
    for (int t = 0; t < 20; t++) {
        int32_t a = t % A;
        int end = t % 10 == 9;
        o[0] = 0.01f * (float)t;
        assert_int_equal(dr3_replay_add(w->replay, o, &a, 1.0f, end, 0, end ? o : NULL),
                         DR3_OK);
        assert_int_equal(dr3_replay_add(w->other_replay, o, &a, 1.0f, end, 0, end ? o : NULL),
                         DR3_OK);
    }
    dr3_learner_options lo = DR3_LEARNER_OPTIONS_INIT;
    lo.obs_dim = S;
    lo.num_actions = A;
    lo.num_hidden = 1;
    lo.hidden = hidden;
    lo.batch_size = B;
    assert_int_equal(dr3_learner_create(&w->learner, &lo), DR3_OK);
    dr3_bc_options bo = DR3_BC_OPTIONS_INIT;
    bo.obs_dim = S;
    bo.num_actions = A;
    bo.batch_size = B;
    assert_int_equal(dr3_bc_create(&w->bc, &bo), DR3_OK);
    w->np = dr3_net_param_count(dr3_learner_online(w->learner));
    w->snapshot = malloc(w->np * sizeof(float) * 2);
    memcpy(w->snapshot, dr3_net_params(dr3_learner_online(w->learner)), w->np * sizeof(float));
    memcpy(w->snapshot + w->np, dr3_net_params(w->net), w->np * sizeof(float));
}

static void test_matrix(void **state) {
    (void)state;
    world w;
    memset(&w, 0, sizeof w);
    make_world(&w);
    float x[B * (S + 1)], q[B * A];
    int32_t act[B];
    dr3_rng rng;
    dr3_rng_seed(&rng, 1);
    for (int i = 0; i < B * (S + 1); i++) x[i] = 0.1f;
    for (int i = 0; i < B; i++) act[i] = 0;

    /* NULL handles */
    TU_ASSERT_FAILS(dr3_net_forward(NULL, 1, x, S, NULL, 0, q, A, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_backward(NULL, 1, q, A, NULL, 0, NULL, 0, 0), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_copy_params(NULL, w.net), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_step(NULL, x, x, 1, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_sample(NULL, &rng, 1, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_step(NULL, NULL, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_step_replay(NULL, w.replay, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_q_values(NULL, 1, x, S, q, A), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_save(NULL, "/tmp/x"), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_bc_step(NULL, 1, x, S, act, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_rng_split(NULL, 0, &rng), DR3_ERR_INVALID_ARG);
    /* NULL data pointers */
    TU_ASSERT_FAILS(dr3_net_forward(w.net, 1, NULL, S, NULL, 0, q, A, NULL),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_q_values(w.learner, 2, NULL, S, q, A), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_act(w.learner, 2, x, S, 0.1f, &rng, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_add(w.replay, NULL, act, 0, 0, 0, NULL), DR3_ERR_INVALID_ARG);
    /* zero and huge sizes */
    TU_ASSERT_FAILS(dr3_net_forward(w.net, 0, x, S, NULL, 0, q, A, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_net_forward(w.net, B + 1, x, S, NULL, 0, q, A, NULL),
                    DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_learner_q_values(w.learner, SIZE_MAX / 2, x, SIZE_MAX / 4, q, A),
                    DR3_ERR_OVERFLOW);
    TU_ASSERT_FAILS(dr3_feature_dot_loss(SIZE_MAX, 2, x, SIZE_MAX, x, 2, 1, q, NULL, NULL),
                    DR3_ERR_OVERFLOW);
    TU_ASSERT_FAILS(dr3_optim_step(w.opt, x, x, 1, NULL), DR3_ERR_SHAPE);
    dr3_optim *o2 = NULL;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    TU_ASSERT_FAILS(dr3_optim_create(&o2, 0, &oo), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_optim_create(&o2, SIZE_MAX / 2, &oo), DR3_ERR_OVERFLOW);
    /* out-of-range actions */
    int32_t bad = A;
    TU_ASSERT_FAILS(dr3_replay_add(w.replay, x, &bad, 0, 0, 0, NULL), DR3_ERR_RANGE);
    act[3] = -1;
    TU_ASSERT_FAILS(dr3_bc_step(w.bc, B, x, S, act, NULL), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_cql_loss(B, A, x, S, act, 1, q, NULL), DR3_ERR_RANGE);
    dr3_batch b = DR3_BATCH_INIT;
    b.n = B;
    b.obs = x;
    b.ld_obs = S;
    b.next_obs = x;
    b.ld_next_obs = S;
    b.actions = act;
    b.rewards = x;
    TU_ASSERT_FAILS(dr3_learner_step(w.learner, &b, NULL), DR3_ERR_RANGE);
    act[3] = 0;
    /* NaN / Inf observations and rewards */
    x[4] = NAN;
    TU_ASSERT_FAILS(dr3_learner_step(w.learner, &b, NULL), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_net_forward(w.net, B, x, S, NULL, 0, q, A, NULL), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_replay_add(w.replay, x + 3, act, 0, 0, 0, NULL), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_learner_act(w.learner, B, x, S, 0.0f, &rng, act), DR3_ERR_NONFINITE);
    x[4] = 0.1f;
    TU_ASSERT_FAILS(dr3_replay_add(w.replay, x, act, INFINITY, 0, 0, NULL), DR3_ERR_NONFINITE);
    x[1] = INFINITY; /* a reward, since rewards = x */
    TU_ASSERT_FAILS(dr3_learner_step(w.learner, &b, NULL), DR3_ERR_NONFINITE);
    x[1] = 0.1f;
    /* mismatched dimensions between handles */
    TU_ASSERT_FAILS(dr3_learner_step_replay(w.learner, w.other_replay, NULL), DR3_ERR_SHAPE);
    {
        static const size_t deeper[2] = {8, 8};
        dr3_net_options no = DR3_NET_OPTIONS_INIT;
        no.obs_dim = S;
        no.action_dim = A;
        no.num_hidden = 2;
        no.hidden = deeper;
        no.max_batch = 1;
        dr3_net *other = NULL;
        assert_int_equal(dr3_net_create(&other, &no), DR3_OK);
        TU_ASSERT_FAILS(dr3_net_copy_params(w.net, other), DR3_ERR_SHAPE);
        TU_ASSERT_FAILS(dr3_net_polyak(dr3_learner_target(w.learner), other, 0.5f),
                        DR3_ERR_SHAPE);
        dr3_net_free(other);
    }
    TU_ASSERT_FAILS(dr3_bc_train(w.bc, w.other_replay, 1, NULL), DR3_ERR_SHAPE);

    /* every handle unchanged and still usable */
    assert_memory_equal(w.snapshot, dr3_net_params(dr3_learner_online(w.learner)),
                        w.np * sizeof(float));
    assert_memory_equal(w.snapshot + w.np, dr3_net_params(w.net), w.np * sizeof(float));
    assert_true(dr3_learner_step_count(w.learner) == 0);
    assert_int_equal(dr3_replay_valid_count(w.replay, 0), 20);
    assert_int_equal(dr3_learner_step(w.learner, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step_replay(w.learner, w.replay, NULL), DR3_OK);
    assert_int_equal(dr3_net_forward(w.net, B, x, S, NULL, 0, q, A, NULL), DR3_OK);
    assert_int_equal(dr3_bc_step(w.bc, B, x, S, act, NULL), DR3_OK);
    free(w.snapshot);
    dr3_bc_free(w.bc);
    dr3_learner_free(w.learner);
    dr3_replay_free(w.replay);
    dr3_replay_free(w.other_replay);
    dr3_optim_free(w.opt);
    dr3_net_free(w.net);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matrix)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
