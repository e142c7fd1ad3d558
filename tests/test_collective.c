/* The collective interface without MPI (dr3/sys/collective.h): bad vtables refused with a
 * message and the learner unchanged; a one-rank collective steps as the plain learner does;
 * a failing allreduce and a locally failing step leave the learner unchanged; a fake that
 * answers for two identical peers is caught as inconsistent. The N-process behaviour is
 * tested under mpirun (tests/mpi/). */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <dr3/learner.h>
#include <dr3/sys/collective.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { S = 6, A = 3, B = 16, ROWS = 64 };

/* A fake collective: `size` copies of this process (allreduce multiplies by size). */
typedef struct fake {
    int rank, size;
    int fail_at; /* the allreduce call number that fails (0: none) */
    int calls, bcasts, destroyed;
} fake;

static int f_rank(void *p) { return ((fake *)p)->rank; }
static int f_size(void *p) { return ((fake *)p)->size; }
static int f_allreduce(void *p, float *buf, size_t n) {
    fake *f = p;
    if (++f->calls == f->fail_at) {
        dr3_error_set(DR3_ERR_CALLBACK, "link down");
        return 1;
    }
    for (size_t i = 0; i < n; i++) buf[i] *= (float)f->size;
    return 0;
}
static int f_bcast(void *p, void *buf, size_t bytes, int root) {
    (void)buf;
    (void)bytes;
    (void)root;
    ((fake *)p)->bcasts++;
    return 0;
}
static void f_destroy(void *p) { ((fake *)p)->destroyed++; }

static dr3_collective_vtable fake_vtable(void) {
    dr3_collective_vtable vt = DR3_COLLECTIVE_VTABLE_INIT;
    vt.name = "fake";
    vt.rank = f_rank;
    vt.size = f_size;
    vt.allreduce_sum = f_allreduce;
    vt.broadcast = f_bcast;
    vt.destroy = f_destroy;
    return vt;
}

/* A fixed dataset of ROWS transitions. */
typedef struct data {
    float obs[ROWS * S], next[ROWS * S], rew[ROWS];
    int32_t act[ROWS];
    uint8_t term[ROWS];
} data;

static void make_data(data *d) {
    dr3_rng g;
    dr3_rng_seed(&g, 7);
    for (size_t i = 0; i < ROWS * S; i++) {
        d->obs[i] = 2 * dr3_rng_uniform(&g) - 1;
        d->next[i] = 2 * dr3_rng_uniform(&g) - 1;
    }
    for (size_t i = 0; i < ROWS; i++) {
        d->rew[i] = dr3_rng_uniform(&g);
        d->act[i] = (int32_t)dr3_rng_below(&g, A);
        d->term[i] = dr3_rng_uniform(&g) < 0.1f;
    }
}

static dr3_batch rows(const data *d, size_t first, size_t n) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = n;
    b.obs = d->obs + first * S;
    b.ld_obs = S;
    b.next_obs = d->next + first * S;
    b.ld_next_obs = S;
    b.actions = d->act + first;
    b.rewards = d->rew + first;
    b.terminals = d->term + first;
    return b;
}

static dr3_learner *learner(uint64_t seed) {
    static const size_t hidden[] = {32, 16};
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT;
    dr3.kind = DR3_REG_DR3;
    dr3.coef = 0.1f;
    const dr3_regularizer_options *regs[] = {&dr3};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = A;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.batch_size = B;
    o.seed = seed;
    o.target_update_period = 3;
    o.regularizers = regs;
    o.num_regularizers = 1;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    return l;
}

/* The online parameters, target parameters and step count, copied. */
typedef struct snap {
    float *on, *tg;
    size_t n;
    uint64_t steps;
} snap;

static snap take(dr3_learner *l) {
    snap s;
    s.n = dr3_net_param_count(dr3_learner_online(l));
    s.on = malloc(s.n * sizeof(float));
    s.tg = malloc(s.n * sizeof(float));
    memcpy(s.on, dr3_net_params(dr3_learner_online(l)), s.n * sizeof(float));
    memcpy(s.tg, dr3_net_params(dr3_learner_target(l)), s.n * sizeof(float));
    s.steps = dr3_learner_step_count(l);
    return s;
}

static void assert_same(dr3_learner *l, const snap *s) {
    assert_memory_equal(dr3_net_params(dr3_learner_online(l)), s->on, s->n * sizeof(float));
    assert_memory_equal(dr3_net_params(dr3_learner_target(l)), s->tg, s->n * sizeof(float));
    assert_int_equal(dr3_learner_step_count(l), s->steps);
}

static void drop(snap *s) {
    free(s->on);
    free(s->tg);
}

static void test_bad_vtables(void **state) {
    (void)state;
    dr3_learner *l = learner(1);
    snap before = take(l);
    fake f = {0, 1, 0, 0, 0, 0};
    dr3_collective_vtable vt = fake_vtable();

    TU_ASSERT_FAILS(dr3_learner_set_collective(NULL, &vt, &f), DR3_ERR_INVALID_ARG);
    dr3_collective_vtable bad = vt;
    bad.version = 0;
    TU_ASSERT_FAILS(dr3_learner_set_collective(l, &bad, &f), DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "DR3_COLLECTIVE_VTABLE_INIT"));
    bad.version = DR3_COLLECTIVE_VTABLE_VERSION + 1;
    TU_ASSERT_FAILS(dr3_learner_set_collective(l, &bad, &f), DR3_ERR_VERSION);
    const char *names[] = {"rank", "size", "allreduce_sum", "broadcast"};
    for (int k = 0; k < 4; k++) {
        bad = vt;
        if (k == 0) bad.rank = NULL;
        if (k == 1) bad.size = NULL;
        if (k == 2) bad.allreduce_sum = NULL;
        if (k == 3) bad.broadcast = NULL;
        TU_ASSERT_FAILS(dr3_learner_set_collective(l, &bad, &f), DR3_ERR_INVALID_ARG);
        assert_non_null(strstr(dr3_last_error(), names[k]));
    }
    /* rank outside [0, size), size < 1 */
    f.rank = 2;
    f.size = 2;
    TU_ASSERT_FAILS(dr3_learner_set_collective(l, &vt, &f), DR3_ERR_INVALID_ARG);
    assert_non_null(strstr(dr3_last_error(), "rank() returned 2"));
    f.rank = 0;
    f.size = 0;
    TU_ASSERT_FAILS(dr3_learner_set_collective(l, &vt, &f), DR3_ERR_INVALID_ARG);
    assert_non_null(strstr(dr3_last_error(), "size() returned 0"));
    /* two processes that both say rank 0 (this fake mirrors itself): inconsistent */
    f.size = 2;
    TU_ASSERT_FAILS(dr3_learner_set_collective(l, &vt, &f), DR3_ERR_INVALID_ARG);
    assert_non_null(strstr(dr3_last_error(), "rank 0 is claimed by 2 processes"));
    assert_int_equal(f.bcasts, 0);
    /* a failing allreduce at set time */
    f.size = 1;
    f.calls = 0;
    f.fail_at = 1;
    TU_ASSERT_FAILS(dr3_learner_set_collective(l, &vt, &f), DR3_ERR_CALLBACK);
    assert_non_null(strstr(dr3_last_error(), "link down"));
    TU_ASSERT_FAILS(dr3_learner_set_sync_check(l, 0), DR3_ERR_RANGE);
    assert_int_equal(f.destroyed, 0);
    assert_same(l, &before);
    drop(&before);
    dr3_learner_free(l);
    assert_int_equal(f.destroyed, 0); /* never installed */
}

/* One rank: the step is the plain learner's, up to rounding (n·g / n). */
static void test_one_rank_matches_plain(void **state) {
    (void)state;
    data d;
    make_data(&d);
    dr3_learner *plain = learner(3), *one = learner(3);
    fake f = {0, 1, 0, 0, 0, 0};
    dr3_collective_vtable vt = fake_vtable();
    assert_int_equal(dr3_learner_set_collective(one, &vt, &f), DR3_OK);
    assert_int_equal(dr3_learner_set_sync_check(one, 2), DR3_OK);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.bcasts, 1);
    for (int s = 0; s < 10; s++) {
        dr3_batch b = rows(&d, (size_t)(s % 4) * B, B);
        dr3_step_metrics m1 = DR3_STEP_METRICS_INIT, m2 = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_step(plain, &b, &m1), DR3_OK);
        assert_int_equal(dr3_learner_step(one, &b, &m2), DR3_OK);
        TU_ASSERT_CLOSE(m2.loss, m1.loss, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(m2.td_loss, m1.td_loss, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(m2.grad_norm, m1.grad_norm, 1e-5, 1e-7);
        float r1, r2;
        assert_int_equal(dr3_learner_reg_loss(&r1, plain, 0), DR3_OK);
        assert_int_equal(dr3_learner_reg_loss(&r2, one, 0), DR3_OK);
        TU_ASSERT_CLOSE(r2, r1, 1e-6, 1e-7);
    }
    assert_int_equal(f.calls, 11); /* one allreduce per step */
    const float *p1 = dr3_net_params(dr3_learner_online(plain));
    const float *p2 = dr3_net_params(dr3_learner_online(one));
    for (size_t i = 0; i < dr3_net_param_count(dr3_learner_online(plain)); i++)
        TU_ASSERT_CLOSE(p2[i], p1[i], 1e-5, 1e-6);

    /* removing it calls destroy once; installing and freeing calls it once */
    assert_int_equal(dr3_learner_set_collective(one, NULL, NULL), DR3_OK);
    assert_int_equal(f.destroyed, 1);
    dr3_batch b = rows(&d, 0, B);
    int calls = f.calls;
    assert_int_equal(dr3_learner_step(one, &b, NULL), DR3_OK);
    assert_int_equal(f.calls, calls);
    assert_int_equal(dr3_learner_set_collective(one, &vt, &f), DR3_OK);
    assert_int_equal(dr3_learner_set_collective(one, &vt, &f), DR3_OK); /* same: kept */
    assert_int_equal(f.destroyed, 1);
    dr3_learner_free(one);
    assert_int_equal(f.destroyed, 2);
    dr3_learner_free(plain);
}

/* A failing allreduce, and a step that fails locally, change nothing; the local failure
 * still takes part in the allreduce and keeps its own message. */
static void test_failures_change_nothing(void **state) {
    (void)state;
    data d;
    make_data(&d);
    dr3_learner *l = learner(5);
    fake f = {0, 1, 0, 0, 0, 0};
    dr3_collective_vtable vt = fake_vtable();
    assert_int_equal(dr3_learner_set_collective(l, &vt, &f), DR3_OK);
    dr3_batch b = rows(&d, 0, B);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    snap before = take(l);
    f.fail_at = f.calls + 1;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_CALLBACK);
    assert_non_null(strstr(dr3_last_error(), "link down"));
    assert_non_null(strstr(dr3_last_error(), "allreduce_sum"));
    assert_same(l, &before);

    int32_t bad_act[B];
    memcpy(bad_act, d.act, sizeof bad_act);
    bad_act[3] = A; /* out of range */
    dr3_batch bad = b;
    bad.actions = bad_act;
    int calls = f.calls;
    TU_ASSERT_FAILS(dr3_learner_step(l, &bad, NULL), DR3_ERR_RANGE);
    assert_non_null(strstr(dr3_last_error(), "actions[3]"));
    assert_int_equal(f.calls, calls + 1); /* it joined the allreduce */
    assert_same(l, &before);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    drop(&before);
    dr3_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_vtables),
        cmocka_unit_test(test_one_rank_matches_plain),
        cmocka_unit_test(test_failures_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
