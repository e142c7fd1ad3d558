/* Data-parallel actor-critic learners (dr3_ac_learner_set_collective) with an in-process
 * collective: two threads are two ranks (allreduce and broadcast through shared memory and
 * barriers). Two ranks of 5 and 11 rows take the step one learner takes on the 16 rows (SAC,
 * CQL with the Lagrange multiplier, SARSA; each with DR3), starting from rank 0's weights even
 * though rank 1 was created with another seed; a rank that fails makes both fail with
 * nothing changed; learners with different options are refused. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <dr3/sys/continuous.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { D = 3, A = 2, NB = 8, NC = 3, RANKS = 2, STEPS = 3 };
static const size_t HID[2] = {12, 10};

/* ---- the in-process collective ---- */
typedef struct hub {
    pthread_barrier_t bar;
    float *slots[RANKS];
    void *bslots[RANKS];
    float *sum;
    size_t sum_cap;
} hub;

typedef struct peer {
    hub *h;
    int rank;
} peer;

static int p_rank(void *p) { return ((peer *)p)->rank; }
static int p_size(void *p) {
    (void)p;
    return RANKS;
}
static int p_allreduce(void *p, float *buf, size_t n) {
    peer *me = p;
    hub *h = me->h;
    h->slots[me->rank] = buf;
    pthread_barrier_wait(&h->bar);
    if (me->rank == 0) {
        if (h->sum_cap < n) {
            free(h->sum);
            h->sum = malloc(n * sizeof(float));
            h->sum_cap = n;
        }
        for (size_t i = 0; i < n; i++) {
            float s = 0;
            for (int r = 0; r < RANKS; r++) s += h->slots[r][i]; /* the same order everywhere */
            h->sum[i] = s;
        }
    }
    pthread_barrier_wait(&h->bar);
    memcpy(buf, h->sum, n * sizeof(float));
    pthread_barrier_wait(&h->bar);
    return 0;
}
static int p_bcast(void *p, void *buf, size_t bytes, int root) {
    peer *me = p;
    hub *h = me->h;
    h->bslots[me->rank] = buf;
    pthread_barrier_wait(&h->bar);
    if (me->rank != root) memcpy(buf, h->bslots[root], bytes);
    pthread_barrier_wait(&h->bar);
    return 0;
}

static dr3_collective_vtable vtable(void) {
    dr3_collective_vtable vt = DR3_COLLECTIVE_VTABLE_INIT;
    vt.name = "threads";
    vt.rank = p_rank;
    vt.size = p_size;
    vt.allreduce_sum = p_allreduce;
    vt.broadcast = p_bcast;
    return vt;
}

/* ---- data: RANKS·NB rows and their draws, per step ---- */
static float obs[STEPS][RANKS * NB * D], nobs[STEPS][RANKS * NB * D],
    act[STEPS][RANKS * NB * A], nact[STEPS][RANKS * NB * A], rew[STEPS][RANKS * NB],
    e1[STEPS][RANKS * NB * A], e2[STEPS][RANKS * NB * A], cu[STEPS][RANKS * NB * NC * A],
    co[STEPS][RANKS * NB * NC * A], cn[STEPS][RANKS * NB * NC * A], tn[STEPS][RANKS * NB * A];

static void make_data(void) {
    dr3_rng r;
    dr3_rng_seed(&r, 5);
    for (int t = 0; t < STEPS; t++) {
        for (int i = 0; i < RANKS * NB * D; i++) obs[t][i] = 2 * dr3_rng_uniform(&r) - 1;
        for (int i = 0; i < RANKS * NB * D; i++) nobs[t][i] = 2 * dr3_rng_uniform(&r) - 1;
        for (int i = 0; i < RANKS * NB * A; i++) act[t][i] = 2 * dr3_rng_uniform(&r) - 1;
        for (int i = 0; i < RANKS * NB * A; i++) nact[t][i] = 2 * dr3_rng_uniform(&r) - 1;
        for (int i = 0; i < RANKS * NB; i++) rew[t][i] = dr3_rng_uniform(&r);
        for (int i = 0; i < RANKS * NB * A; i++) e1[t][i] = (float)dr3_rng_normal(&r);
        for (int i = 0; i < RANKS * NB * A; i++) e2[t][i] = (float)dr3_rng_normal(&r);
        for (int i = 0; i < RANKS * NB * NC * A; i++) cu[t][i] = 2 * dr3_rng_uniform(&r) - 1;
        for (int i = 0; i < RANKS * NB * NC * A; i++) co[t][i] = (float)dr3_rng_normal(&r);
        for (int i = 0; i < RANKS * NB * NC * A; i++) cn[t][i] = (float)dr3_rng_normal(&r);
        for (int i = 0; i < RANKS * NB * A; i++) tn[t][i] = (float)dr3_rng_normal(&r);
    }
}

/* Rows [first, first + n) of step t. */
static dr3_ac_batch rows(int t, size_t first, size_t n) {
    dr3_ac_batch b = DR3_AC_BATCH_INIT;
    b.n = n;
    b.obs = obs[t] + first * D;
    b.ld_obs = D;
    b.next_obs = nobs[t] + first * D;
    b.ld_next_obs = D;
    b.actions = act[t] + first * A;
    b.ld_actions = A;
    b.next_actions = nact[t] + first * A;
    b.ld_next_actions = A;
    b.rewards = rew[t] + first;
    b.eps_next = e1[t] + first * A;
    b.eps_actor = e2[t] + first * A;
    b.cql_uniform = cu[t] + first * NC * A;
    b.cql_eps_obs = co[t] + first * NC * A;
    b.cql_eps_next = cn[t] + first * NC * A;
    b.td3_noise = tn[t] + first * A;
    return b;
}

static dr3_ac_learner *make(dr3_ac_algo algo, size_t batch, uint64_t seed, float gamma) {
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = algo;
    o.obs_dim = D;
    o.action_dim = A;
    o.critic_num_hidden = o.actor_num_hidden = 2;
    o.critic_hidden = o.actor_hidden = HID;
    o.batch_size = batch;
    o.cql_num_actions = NC;
    o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
    o.critic_lr = o.actor_lr = o.alpha_lr = 3e-3f;
    o.dr3_coef = 0.1f;
    o.gamma = gamma;
    o.seed = seed;
    o.policy_delay = 1; /* TD3+BC: the actor at every step, so Adam sees gradient sizes */
    dr3_ac_learner *l = NULL;
    if (dr3_ac_learner_create(&l, &o) != DR3_OK) fail_msg("create: %s", dr3_last_error());
    return l;
}

typedef struct job {
    hub *h;
    int rank;
    dr3_ac_algo algo;
    float gamma;
    int fail_step; /* rank 1 sends a bad batch at this step (-1: never) */
    dr3_ac_learner *l;
    dr3_status set, steps[STEPS];
    dr3_ac_metrics m[STEPS];
} job;

static void *run(void *arg) {
    job *j = arg;
    peer *me = malloc(sizeof *me);
    me->h = j->h;
    me->rank = j->rank;
    j->l = make(j->algo, RANKS * NB, 100 + (uint64_t)j->rank, j->gamma);
    dr3_collective_vtable vt = vtable();
    j->set = dr3_ac_learner_set_collective(j->l, &vt, me);
    if (j->set == DR3_OK)
        for (int t = 0; t < STEPS; t++) {
            /* unequal shares (5 and 11 rows), so the row weighting matters */
            dr3_ac_batch b = j->rank == 0 ? rows(t, 0, 5) : rows(t, 5, RANKS * NB - 5);
            if (t == j->fail_step && j->rank == 1) b.n = 0;
            j->m[t] = (dr3_ac_metrics)DR3_AC_METRICS_INIT;
            j->steps[t] = dr3_ac_learner_step_batch(j->l, &b, &j->m[t]);
        }
    dr3_ac_learner_set_collective(j->l, NULL, NULL);
    free(me);
    return NULL;
}

static void run_ranks(job jobs[RANKS]) {
    hub h;
    memset(&h, 0, sizeof h);
    pthread_barrier_init(&h.bar, NULL, RANKS);
    pthread_t th[RANKS];
    for (int r = 0; r < RANKS; r++) {
        jobs[r].h = &h;
        jobs[r].rank = r;
        pthread_create(&th[r], NULL, run, &jobs[r]);
    }
    for (int r = 0; r < RANKS; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&h.bar);
    free(h.sum);
}

static void nets_close(dr3_net *a, dr3_net *b, double tol) {
    if (a == NULL && b == NULL) return;
    size_t n = dr3_net_param_count(a);
    assert_int_equal(n, dr3_net_param_count(b));
    const float *x = dr3_net_params(a), *y = dr3_net_params(b);
    for (size_t i = 0; i < n; i++) TU_ASSERT_CLOSE(x[i], y[i], tol, tol);
}

static void compare(dr3_ac_learner *a, dr3_ac_learner *b, double tol) {
    for (size_t j = 0; j < 2; j++) {
        nets_close(dr3_ac_learner_critic(a, j), dr3_ac_learner_critic(b, j), tol);
        nets_close(dr3_ac_learner_target_critic(a, j), dr3_ac_learner_target_critic(b, j), tol);
    }
    nets_close(dr3_ac_learner_actor(a), dr3_ac_learner_actor(b), tol);
    TU_ASSERT_CLOSE(dr3_ac_learner_alpha(a), dr3_ac_learner_alpha(b), tol, tol);
    assert_int_equal(dr3_ac_learner_step_count(a), dr3_ac_learner_step_count(b));
}

static void test_two_ranks_equal_one_big_batch(void **state) {
    (void)state;
    make_data();
    /* TD3+BC: λ = α / mean|Q| over the rows of both ranks (5 and 11 rows: per-rank λs
     * differ from it), the actor updated at every step */
    const dr3_ac_algo algos[4] = {DR3_AC_SAC, DR3_AC_CQL, DR3_AC_SARSA, DR3_AC_TD3BC};
    for (int k = 0; k < 4; k++) {
        job jobs[RANKS];
        memset(jobs, 0, sizeof jobs);
        for (int r = 0; r < RANKS; r++) {
            jobs[r].algo = algos[k];
            jobs[r].gamma = 0.99f;
            jobs[r].fail_step = -1;
        }
        run_ranks(jobs);
        for (int r = 0; r < RANKS; r++) {
            assert_int_equal(jobs[r].set, DR3_OK);
            for (int t = 0; t < STEPS; t++) assert_int_equal(jobs[r].steps[t], DR3_OK);
        }
        compare(jobs[0].l, jobs[1].l, 0); /* the replicas are bit-identical */
        dr3_ac_learner *one = make(algos[k], RANKS * NB, 100, 0.99f);
        for (int t = 0; t < STEPS; t++) {
            dr3_ac_batch b = rows(t, 0, RANKS * NB);
            dr3_ac_metrics m = DR3_AC_METRICS_INIT;
            assert_int_equal(dr3_ac_learner_step_batch(one, &b, &m), DR3_OK);
            /* the losses reported are the means over all rows of all ranks */
            for (int r = 0; r < RANKS; r++) {
                TU_ASSERT_CLOSE(jobs[r].m[t].td_loss, m.td_loss, 1e-5, 1e-6);
                TU_ASSERT_CLOSE(jobs[r].m[t].critic_loss, m.critic_loss, 1e-5, 1e-6);
                TU_ASSERT_CLOSE(jobs[r].m[t].actor_loss, m.actor_loss, 1e-5, 1e-6);
            }
        }
        compare(jobs[0].l, one, 2e-5);
        dr3_ac_learner_free(one);
        for (int r = 0; r < RANKS; r++) dr3_ac_learner_free(jobs[r].l);
    }
}

static void test_failures(void **state) {
    (void)state;
    make_data();
    /* rank 1's step 1 is bad: both ranks fail it, both stay where step 0 left them */
    job jobs[RANKS];
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < RANKS; r++) {
        jobs[r].algo = DR3_AC_SAC;
        jobs[r].gamma = 0.99f;
        jobs[r].fail_step = 1;
    }
    run_ranks(jobs);
    assert_int_equal(jobs[0].steps[0], DR3_OK);
    assert_int_equal(jobs[0].steps[1], DR3_ERR_CALLBACK);
    assert_int_equal(jobs[1].steps[1], DR3_ERR_INVALID_ARG);
    assert_int_equal(jobs[0].steps[2], DR3_OK);
    compare(jobs[0].l, jobs[1].l, 0);
    assert_int_equal(dr3_ac_learner_step_count(jobs[0].l), 2);
    for (int r = 0; r < RANKS; r++) dr3_ac_learner_free(jobs[r].l);
    /* different options: refused on both ranks, learners unchanged */
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < RANKS; r++) {
        jobs[r].algo = DR3_AC_SAC;
        jobs[r].gamma = r == 0 ? 0.99f : 0.9f;
        jobs[r].fail_step = -1;
    }
    run_ranks(jobs);
    for (int r = 0; r < RANKS; r++) {
        assert_int_equal(jobs[r].set, DR3_ERR_SHAPE);
        assert_int_equal(dr3_ac_learner_step_count(jobs[r].l), 0);
        dr3_ac_learner_free(jobs[r].l);
    }
    /* bad vtables */
    dr3_ac_learner *l = make(DR3_AC_SAC, NB, 1, 0.99f);
    dr3_collective_vtable vt = DR3_COLLECTIVE_VTABLE_INIT;
    TU_ASSERT_FAILS(dr3_ac_learner_set_collective(l, &vt, NULL), DR3_ERR_INVALID_ARG);
    vt = vtable();
    vt.version = 0;
    TU_ASSERT_FAILS(dr3_ac_learner_set_collective(l, &vt, NULL), DR3_ERR_VERSION);
    TU_ASSERT_FAILS(dr3_ac_learner_set_collective(NULL, &vt, NULL), DR3_ERR_INVALID_ARG);
    dr3_ac_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_ranks_equal_one_big_batch),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
