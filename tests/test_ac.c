/* The actor-critic learner (dr3/ac.h): bad options and batches refused with nothing changed,
 * the tanh-Gaussian log-prob and the temperature update against closed forms, the DR3
 * gradient through both φ(s,a) and φ(s′,a′) against finite differences, determinism per
 * seed and thread count, no allocation in a step, replay sampling, acting, checkpoints
 * (bit-identical resume; corrupted files refused). The PyTorch comparison is in
 * test_ac_reference.c. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <dr3/sys/continuous.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { D = 4, A = 2, NB = 16 };
static const size_t HID[2] = {12, 10};

static dr3_ac_options base_options(dr3_ac_algo algo) {
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = algo;
    o.obs_dim = D;
    o.action_dim = A;
    o.critic_num_hidden = 2;
    o.critic_hidden = HID;
    o.actor_num_hidden = 2;
    o.actor_hidden = HID;
    o.batch_size = NB;
    o.cql_num_actions = 3;
    o.seed = 7;
    return o;
}

static dr3_ac_learner *make(const dr3_ac_options *o) {
    dr3_ac_learner *l = NULL;
    dr3_status st = dr3_ac_learner_create(&l, o);
    if (st != DR3_OK) fail_msg("create: %s", dr3_last_error());
    return l;
}

/* A batch of NB random transitions (owned by the static arrays). */
typedef struct batch_data {
    float obs[NB * D], act[NB * A], rew[NB], next_obs[NB * D], next_act[NB * A];
    uint8_t term[NB];
} batch_data;

static void fill_batch(batch_data *bd, uint64_t seed, dr3_ac_batch *b) {
    dr3_rng r;
    dr3_rng_seed(&r, seed);
    for (size_t i = 0; i < NB * D; i++) bd->obs[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (size_t i = 0; i < NB * D; i++) bd->next_obs[i] = 2 * dr3_rng_uniform(&r) - 1;
    for (size_t i = 0; i < NB * A; i++) bd->act[i] = 1.8f * dr3_rng_uniform(&r) - 0.9f;
    for (size_t i = 0; i < NB * A; i++) bd->next_act[i] = 1.8f * dr3_rng_uniform(&r) - 0.9f;
    for (size_t i = 0; i < NB; i++) bd->rew[i] = dr3_rng_uniform(&r);
    for (size_t i = 0; i < NB; i++) bd->term[i] = dr3_rng_uniform(&r) < 0.2f;
    dr3_ac_batch x = DR3_AC_BATCH_INIT;
    x.n = NB;
    x.obs = bd->obs;
    x.ld_obs = D;
    x.actions = bd->act;
    x.ld_actions = A;
    x.rewards = bd->rew;
    x.next_obs = bd->next_obs;
    x.ld_next_obs = D;
    x.terminals = bd->term;
    x.next_actions = bd->next_act;
    x.ld_next_actions = A;
    *b = x;
}

/* Every parameter and the step count; equal snapshots mean "nothing changed". */
typedef struct snapshot {
    float *p;
    size_t count;
    uint64_t steps;
    float alpha;
} snapshot;

static dr3_net *net_at(dr3_ac_learner *l, size_t k) {
    switch (k) {
    case 0:
        return dr3_ac_learner_critic(l, 0);
    case 1:
        return dr3_ac_learner_critic(l, 1);
    case 2:
        return dr3_ac_learner_target_critic(l, 0);
    case 3:
        return dr3_ac_learner_target_critic(l, 1);
    case 4:
        return dr3_ac_learner_actor(l);
    default:
        return dr3_ac_learner_target_actor(l);
    }
}

static snapshot snap(dr3_ac_learner *l) {
    snapshot s = {NULL, 0, dr3_ac_learner_step_count(l), dr3_ac_learner_alpha(l)};
    for (size_t k = 0; k < 6; k++) s.count += dr3_net_param_count(net_at(l, k));
    s.p = malloc(s.count * sizeof(float));
    size_t at = 0;
    for (size_t k = 0; k < 6; k++) {
        dr3_net *n = net_at(l, k);
        if (n == NULL) continue;
        memcpy(s.p + at, dr3_net_params(n), dr3_net_param_count(n) * sizeof(float));
        at += dr3_net_param_count(n);
    }
    return s;
}

static int same(const snapshot *a, const snapshot *b) {
    return a->count == b->count && a->steps == b->steps &&
           memcmp(&a->alpha, &b->alpha, sizeof a->alpha) == 0 &&
           memcmp(a->p, b->p, a->count * sizeof(float)) == 0;
}

/* ---- options ---------------------------------------------------------------------------- */

static void test_bad_options(void **state) {
    (void)state;
    dr3_ac_learner *l = (dr3_ac_learner *)&l;
    TU_ASSERT_FAILS(dr3_ac_learner_create(&l, NULL), DR3_ERR_INVALID_ARG);
    assert_null(l);
    TU_ASSERT_FAILS(dr3_ac_learner_create(NULL, NULL), DR3_ERR_INVALID_ARG);
    dr3_ac_options o = base_options(DR3_AC_SAC);
    o.version = 0;
    TU_ASSERT_FAILS(dr3_ac_learner_create(&l, &o), DR3_ERR_VERSION);
    o.version = DR3_AC_OPTIONS_VERSION + 1;
    TU_ASSERT_FAILS(dr3_ac_learner_create(&l, &o), DR3_ERR_VERSION);
    const float lo[A] = {0, 1}, hi_bad[A] = {1, 1}, hi_nan[A] = {1, NAN};
    for (int k = 0; k < 22; k++) {
        o = base_options(DR3_AC_SAC);
        switch (k) {
        case 0:
            o.obs_dim = 0;
            break;
        case 1:
            o.action_dim = 0;
            break;
        case 2:
            o.batch_size = 0;
            break;
        case 3:
            o.action_low = lo, o.action_high = hi_bad;
            break;
        case 4:
            o.action_low = lo, o.action_high = hi_nan;
            break;
        case 5:
            o.gamma = 1.5f;
            break;
        case 6:
            o.gamma = NAN;
            break;
        case 7:
            o.tau = -0.1f;
            break;
        case 8:
            o.critic_lr = -1;
            break;
        case 9:
            o.threads = 0;
            break;
        case 10:
            o.cql_num_actions = 0;
            break;
        case 11:
            o.log_std_min = 3;
            break;
        case 12:
            o.policy_delay = 0;
            break;
        case 13:
            o.dr3_coef = -0.1f;
            break;
        case 14:
            o.critic_hidden = NULL;
            break;
        case 15:
            o.init_alpha = 0;
            break;
        case 16:
            o.algo = (dr3_ac_algo)7;
            break;
        case 17:
            o.cql_alpha_mode = (dr3_cql_alpha_mode)2;
            break;
        case 18:
            o.cql_temperature = 0;
            break;
        case 19:
            o.twin_critics = 2;
            break;
        case 20:
            o.activation = (dr3_activation)9;
            break;
        case 21:
            o.dr3_coef = INFINITY;
            break;
        }
        l = (dr3_ac_learner *)&l;
        dr3_clear_error();
        dr3_status st = dr3_ac_learner_create(&l, &o);
        if (st != DR3_ERR_INVALID_ARG) fail_msg("case %d: status %d", k, (int)st);
        assert_true(dr3_last_error()[0] != '\0');
        assert_null(l);
    }
    /* names */
    dr3_ac_algo a;
    assert_int_equal(dr3_ac_algo_parse(&a, "td3bc"), DR3_OK);
    assert_int_equal(a, DR3_AC_TD3BC);
    assert_string_equal(dr3_ac_algo_name(DR3_AC_CQL), "cql");
    assert_null(dr3_ac_algo_name((dr3_ac_algo)9));
    TU_ASSERT_FAILS(dr3_ac_algo_parse(&a, "ppo"), DR3_ERR_INVALID_ARG);
    dr3_cql_alpha_mode m;
    assert_int_equal(dr3_cql_alpha_mode_parse(&m, "lagrange"), DR3_OK);
    assert_int_equal(m, DR3_CQL_ALPHA_LAGRANGE);
    /* _init against _INIT */
    dr3_ac_options x, y = DR3_AC_OPTIONS_INIT;
    memset(&x, 0xab, sizeof x);
    assert_int_equal(dr3_ac_options_init(&x, DR3_AC_OPTIONS_VERSION), DR3_OK);
    assert_int_equal(x.batch_size, y.batch_size);
    assert_true(x.target_entropy_per_dim == -1.0f && x.tau == y.tau);
    /* defaults: 256-256 networks, get_options gives them back */
    o = base_options(DR3_AC_SAC);
    o.critic_num_hidden = 0;
    o.critic_hidden = NULL;
    l = make(&o);
    dr3_ac_options got = DR3_AC_OPTIONS_INIT;
    assert_int_equal(dr3_ac_learner_get_options(&got, l), DR3_OK);
    assert_int_equal(got.critic_num_hidden, 2);
    assert_int_equal(got.critic_hidden[0], 256);
    assert_int_equal(dr3_net_feature_dim(dr3_ac_learner_critic(l, 0)), 256);
    assert_int_equal(dr3_net_output_dim(dr3_ac_learner_actor(l)), 2 * A);
    dr3_ac_learner_free(l);
    dr3_ac_learner_free(NULL);
}

/* ---- bad batches: refused, nothing changes ---------------------------------------------- */

static void test_bad_batch_changes_nothing(void **state) {
    (void)state;
    dr3_ac_options o = base_options(DR3_AC_CQL);
    dr3_ac_learner *l = make(&o), *twin = make(&o);
    batch_data bd;
    dr3_ac_batch good;
    fill_batch(&bd, 1, &good);
    snapshot before = snap(l);
    for (int k = 0; k < 9; k++) {
        dr3_ac_batch b = good;
        float nan_obs[NB * D];
        memcpy(nan_obs, bd.obs, sizeof nan_obs);
        nan_obs[5] = NAN;
        float disc[NB];
        for (int i = 0; i < NB; i++) disc[i] = 0.5f;
        disc[3] = 1.5f;
        float big[NB];
        for (int i = 0; i < NB; i++) big[i] = 3e38f;
        float eps_nan[NB * A] = {0};
        eps_nan[1] = NAN;
        dr3_status want = DR3_ERR_INVALID_ARG;
        switch (k) {
        case 0:
            b.n = 0;
            break;
        case 1:
            b.n = NB + 1;
            break;
        case 2:
            b.obs = NULL;
            break;
        case 3:
            b.ld_obs = D - 1;
            break;
        case 4:
            b.obs = nan_obs, want = DR3_ERR_NONFINITE;
            break;
        case 5:
            b.discounts = disc;
            break;
        case 6:
            b.version = 0, want = DR3_ERR_VERSION;
            break;
        case 7:
            b.eps_next = eps_nan, want = DR3_ERR_NONFINITE;
            break;
        case 8:
            b.rewards = big, want = DR3_ERR_NONFINITE;
            break; /* TD loss overflows */
        }
        dr3_clear_error();
        dr3_status st = dr3_ac_learner_step_batch(l, &b, NULL);
        if (st != want)
            fail_msg("case %d: status %d, want %d (%s)", k, st, want, dr3_last_error());
        snapshot now = snap(l);
        assert_true(same(&before, &now));
        free(now.p);
    }
    /* SARSA without a' */
    dr3_ac_options os = base_options(DR3_AC_SARSA);
    dr3_ac_learner *s = make(&os);
    dr3_ac_batch b = good;
    b.next_actions = NULL;
    TU_ASSERT_FAILS(dr3_ac_learner_step_batch(s, &b, NULL), DR3_ERR_INVALID_ARG);
    float act[A];
    TU_ASSERT_FAILS(dr3_ac_learner_act(s, 1, bd.obs, D, 1, act, A), DR3_ERR_STATE);
    dr3_ac_learner_free(s);
    /* the generator was not advanced either: the next good step equals a fresh twin's */
    assert_int_equal(dr3_ac_learner_step_batch(l, &good, NULL), DR3_OK);
    assert_int_equal(dr3_ac_learner_step_batch(twin, &good, NULL), DR3_OK);
    snapshot x = snap(l), y = snap(twin);
    assert_true(same(&x, &y));
    free(x.p);
    free(y.p);
    free(before.p);
    dr3_ac_learner_free(l);
    dr3_ac_learner_free(twin);
}

/* ---- closed forms ------------------------------------------------------------------------ */

/* Sets the actor so that its output is constant: mean μ_k and log-std ls_k on every row
 * (last layer's weights 0, bias = the outputs). */
static void constant_actor(dr3_ac_learner *l, const float *mu, const float *ls) {
    dr3_net *pi = dr3_ac_learner_actor(l);
    float *p = dr3_net_params(pi);
    size_t np = dr3_net_param_count(pi), out = 2 * A, in = HID[1];
    float *w = p + np - out - out * in, *b = p + np - out;
    memset(w, 0, out * in * sizeof(float));
    for (size_t k = 0; k < A; k++) {
        b[k] = mu[k];
        b[A + k] = ls[k];
    }
}

static void test_tanh_gauss_logprob_and_temperature(void **state) {
    (void)state;
    /* μ chosen so that some u are far in the tails (1 − tanh² u ~ 1e-7), where the naive
     * log(1 − tanh²) in float32 would lose everything */
    const float mus[3][A] = {{0.3f, -0.7f}, {6.0f, -7.5f}, {0.0f, 0.0f}};
    const float lss[3][A] = {{-0.5f, 0.2f}, {-1.0f, -2.0f}, {1.9f, -4.0f}};
    for (int c = 0; c < 3; c++) {
        dr3_ac_options o = base_options(DR3_AC_SAC);
        o.init_alpha = 0.3f;
        o.alpha_lr = 0.01f;
        o.log_std_min = -5;
        dr3_ac_learner *l = make(&o);
        constant_actor(l, mus[c], lss[c]);
        batch_data bd;
        dr3_ac_batch b;
        fill_batch(&bd, 2, &b);
        float eps[NB * A];
        dr3_rng r;
        dr3_rng_seed(&r, 99 + (uint64_t)c);
        for (int i = 0; i < NB * A; i++) eps[i] = (float)dr3_rng_normal(&r);
        b.eps_actor = eps;
        /* closed form in double: log N(u; μ, σ) − log(1 − tanh(u)²), u = μ + σε */
        double lp = 0;
        for (int i = 0; i < NB; i++)
            for (int k = 0; k < A; k++) {
                double s = exp((double)lss[c][k]), e = eps[i * A + k];
                double u = mus[c][k] + s * e;
                double t = tanh(u);
                double l1mt2 = (fabs(u) > 15) ? log(4.0) - 2 * fabs(u) : log(1 - t * t);
                lp += -0.5 * e * e - log(s) - 0.5 * log(2 * 3.14159265358979323846) - l1mt2;
            }
        double entropy = -lp / NB;
        dr3_ac_metrics m = DR3_AC_METRICS_INIT;
        assert_int_equal(dr3_ac_learner_step_batch(l, &b, &m), DR3_OK);
        TU_ASSERT_CLOSE(m.entropy, entropy, 1e-5, 1e-4);
        /* temperature: loss −log α (log π + H̄), H̄ = −|A|; its gradient is
         * g = −(mean log π + H̄) = entropy − H̄... with the sign of the loss:
         * d/d log α = −(−entropy + H̄) = entropy − H̄ ... and Adam's first step moves
         * log α by −lr·g/(|g| + eps) */
        double g = -(-entropy + (-(double)A));
        double la = log(0.3) - 0.01 * g / (fabs(g) + 1e-8);
        TU_ASSERT_CLOSE(logf(dr3_ac_learner_alpha(l)), la, 1e-5, 2e-6);
        TU_ASSERT_CLOSE(m.alpha, 0.3, 1e-6, 0);
        TU_ASSERT_CLOSE(m.alpha_loss, -log(0.3) * (-entropy - A), 1e-4, 1e-5);
        dr3_ac_learner_free(l);
    }
}

/* ---- DR3: gradient through both φ(s,a) and φ(s′,a′) ------------------------------------ */

/* mean_i φ(s_i, a_i)·φ(s′_i, a′_i) of @p net in double, with the features of two forwards. */
static double dot_term(dr3_net *net, const float *obs, const float *act, const float *nobs,
                       const float *nact, size_t n) {
    size_t fd = dr3_net_feature_dim(net);
    const float *phi;
    double *keep = malloc(n * fd * sizeof(double));
    assert_int_equal(dr3_net_forward(net, n, obs, D, act, A, NULL, 1, &phi), DR3_OK);
    for (size_t i = 0; i < n * fd; i++) keep[i] = phi[i];
    assert_int_equal(dr3_net_forward(net, n, nobs, D, nact, A, NULL, 1, &phi), DR3_OK);
    double s = 0;
    for (size_t i = 0; i < n * fd; i++) s += keep[i] * phi[i];
    free(keep);
    return s / (double)n;
}

static void test_dr3_gradient_both_features(void **state) {
    (void)state;
    /* SARSA: a′ from the data, so φ(s′, a′) depends on the critic only. Tanh nets: smooth
     * for finite differences. The DR3 gradient is the difference of the step's critic
     * gradients with c0 = 1 and c0 = 0 (same weights, same batch). */
    dr3_ac_options o = base_options(DR3_AC_SARSA);
    o.activation = DR3_ACT_TANH;
    o.twin_critics = 1;
    o.critic_lr = 0; /* the parameters stay where the gradient was taken */
    o.tau = 0;
    batch_data bd;
    dr3_ac_batch b;
    fill_batch(&bd, 3, &b);
    float an[NB * A], ann[NB * A]; /* normalised actions (the box is [−1, 1]: identical) */
    memcpy(an, bd.act, sizeof an);
    memcpy(ann, bd.next_act, sizeof ann);
    for (size_t j = 0; j < 2; j++) {
        o.dr3_coef = 1.0f;
        dr3_ac_learner *with = make(&o);
        o.dr3_coef = 0.0f;
        dr3_ac_learner *without = make(&o);
        dr3_ac_metrics m = DR3_AC_METRICS_INIT;
        assert_int_equal(dr3_ac_learner_step_batch(with, &b, &m), DR3_OK);
        assert_int_equal(dr3_ac_learner_step_batch(without, &b, NULL), DR3_OK);
        dr3_net *q = dr3_ac_learner_critic(with, j);
        size_t np = dr3_net_param_count(q);
        const float *g1 = dr3_net_grads(q),
                    *g0 = dr3_net_grads(dr3_ac_learner_critic(without, j));
        dr3_net *probe = NULL;
        assert_int_equal(dr3_net_clone(&probe, q), DR3_OK);
        float *p = dr3_net_params(probe);
        double max_err = 0, max_g = 0, max_diff_one = 0;
        for (size_t k = 0; k < np; k += 3) {
            float keep = p[k];
            const float h = 1e-2f;
            p[k] = keep + h;
            double up = dot_term(probe, bd.obs, an, bd.next_obs, ann, NB);
            p[k] = keep - h;
            double dn = dot_term(probe, bd.obs, an, bd.next_obs, ann, NB);
            p[k] = keep;
            double fd = (up - dn) / (2.0 * h);
            double g = (double)g1[k] - (double)g0[k];
            max_err = fmax(max_err, fabs(fd - g));
            max_g = fmax(max_g, fabs(g));
            /* the gradient through φ(s, a) alone (s′ features held): differs from the full one
             */
            p[k] = keep + h;
            const float *phi;
            size_t fd_dim = dr3_net_feature_dim(probe);
            double *up_phi = malloc(NB * fd_dim * sizeof(double));
            assert_int_equal(dr3_net_forward(probe, NB, bd.obs, D, an, A, NULL, 1, &phi),
                             DR3_OK);
            for (size_t i = 0; i < NB * fd_dim; i++) up_phi[i] = phi[i];
            p[k] = keep - h;
            assert_int_equal(dr3_net_forward(probe, NB, bd.obs, D, an, A, NULL, 1, &phi),
                             DR3_OK);
            for (size_t i = 0; i < NB * fd_dim; i++) up_phi[i] -= phi[i];
            p[k] = keep;
            assert_int_equal(dr3_net_forward(probe, NB, bd.next_obs, D, ann, A, NULL, 1, &phi),
                             DR3_OK);
            double one = 0;
            for (size_t i = 0; i < NB * fd_dim; i++) one += up_phi[i] * phi[i];
            one /= (2.0 * h * NB);
            max_diff_one = fmax(max_diff_one, fabs(one - g));
            free(up_phi);
        }
        printf("[ dr3 fd ] critic %zu: max |FD − grad| = %.3g (max |grad| %.3g); "
               "one-sided differs by up to %.3g\n",
               j, max_err, max_g, max_diff_one);
        assert_true(max_g > 1e-3);
        assert_true(max_err < 2e-3 * fmax(1.0, max_g));
        assert_true(max_diff_one > 50 * max_err); /* both features carry gradient */
        /* the metric and the loss agree with the direct computation */
        double direct = dot_term(probe, bd.obs, an, bd.next_obs, ann, NB);
        if (j == 0) TU_ASSERT_CLOSE(m.feature_dot, direct, 1e-4, 1e-5);
        dr3_net_free(probe);
        dr3_ac_learner_free(with);
        dr3_ac_learner_free(without);
    }
}

/* ---- determinism, threads, allocation ---------------------------------------------------- */

static dr3_replay *make_replay(size_t steps, uint64_t seed) {
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = steps + 64;
    ro.obs_dim = D;
    ro.action_kind = DR3_ACTION_CONTINUOUS;
    ro.action_dim = A;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &ro), DR3_OK);
    dr3_rng g;
    dr3_rng_seed(&g, seed);
    float obs[D], next[D], act[A];
    for (int k = 0; k < D; k++) obs[k] = dr3_rng_uniform(&g);
    for (size_t t = 0; t < steps; t++) {
        for (int k = 0; k < D; k++) next[k] = obs[k] + 0.1f * (dr3_rng_uniform(&g) - 0.5f);
        for (int k = 0; k < A; k++) act[k] = 1.6f * dr3_rng_uniform(&g) - 0.8f;
        int end = (t % 25) == 24;
        assert_int_equal(dr3_replay_add(r, obs, act, next[0], end, 0, next), DR3_OK);
        if (end)
            for (int k = 0; k < D; k++) next[k] = dr3_rng_uniform(&g);
        memcpy(obs, next, sizeof obs);
    }
    return r;
}

typedef struct counting {
    size_t allocs, frees;
} counting;
static void *count_alloc(void *opaque, size_t size, size_t alignment) {
    ((counting *)opaque)->allocs++;
    void *p = NULL;
    return posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size)
               ? NULL
               : p;
}
static void count_free(void *opaque, void *p) {
    ((counting *)opaque)->frees++;
    free(p);
}

static void test_determinism_threads_no_alloc(void **state) {
    (void)state;
    dr3_replay *r = make_replay(400, 5);
    for (int algo = 0; algo < 4; algo++) {
        /* 2 threads for SAC and CQL only: oversubscribed machines make BLIS's 2-thread
         * barriers slow, and the threaded path is the same for every algorithm */
        for (int threads = 1; threads <= (algo <= DR3_AC_CQL ? 2 : 1); threads++) {
            counting cnt = {0, 0};
            dr3_allocator hooks = DR3_ALLOCATOR_INIT;
            hooks.alloc = count_alloc;
            hooks.free = count_free;
            hooks.opaque = &cnt;
            dr3_ac_options o = base_options((dr3_ac_algo)algo);
            o.threads = threads;
            o.dr3_coef = 0.05f;
            o.allocator = &hooks;
            dr3_ac_learner *a = make(&o);
            o.allocator = NULL;
            dr3_ac_learner *b = make(&o);
            size_t after_create = cnt.allocs;
            assert_true(after_create > 0);
            dr3_ac_metrics m = DR3_AC_METRICS_INIT;
            for (int t = 0; t < 4; t++) {
                assert_int_equal(dr3_ac_learner_step(a, r, &m), DR3_OK);
                assert_int_equal(dr3_ac_learner_step(b, r, NULL), DR3_OK);
                assert_true(isfinite(m.critic_loss) && isfinite(m.feature_dot));
            }
            assert_int_equal(cnt.allocs, after_create); /* no allocation in a step */
            snapshot x = snap(a), y = snap(b);
            assert_true(same(&x, &y));
            assert_int_equal(x.steps, 4);
            free(x.p);
            free(y.p);
            dr3_ac_learner_free(a);
            assert_int_equal(cnt.allocs, cnt.frees);
            dr3_ac_learner_free(b);
        }
    }
    /* a different seed gives different parameters */
    dr3_ac_options o = base_options(DR3_AC_SAC);
    dr3_ac_learner *a = make(&o);
    o.seed = 8;
    dr3_ac_learner *b = make(&o);
    snapshot x = snap(a), y = snap(b);
    assert_false(same(&x, &y));
    free(x.p);
    free(y.p);
    /* a replay of another shape is refused */
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 8;
    ro.obs_dim = D;
    ro.num_actions = 3;
    dr3_replay *disc = NULL;
    assert_int_equal(dr3_replay_create(&disc, &ro), DR3_OK);
    TU_ASSERT_FAILS(dr3_ac_learner_step(a, disc, NULL), DR3_ERR_SHAPE);
    dr3_replay_free(disc);
    dr3_ac_learner_free(a);
    dr3_ac_learner_free(b);
    dr3_replay_free(r);
}

/* Two threads against one: the batch, the draws and the parameters are the same, so the
 * first step's losses agree to float rounding (the cut of each product and of the CQL
 * samples changes only the order of nothing or of a few roundings). With two threads the
 * CQL normals (128 × 20 × 2 per set) are transformed in two parts: draws 1% off there fail
 * the CQL term's comparison. */
static void test_two_threads_match_one(void **state) {
    (void)state;
    dr3_replay *r = make_replay(400, 12);
    for (int algo = 0; algo <= DR3_AC_CQL; algo++) {
        dr3_ac_options o = base_options((dr3_ac_algo)algo);
        o.dr3_coef = 0.05f;
        o.batch_size = 128; /* enough samples (128 × 20) for them to be cut in two */
        o.cql_num_actions = 20;
        o.threads = 1;
        dr3_ac_learner *one = make(&o);
        o.threads = 2;
        dr3_ac_learner *two = make(&o);
        dr3_ac_metrics m1 = DR3_AC_METRICS_INIT, m2 = DR3_AC_METRICS_INIT;
        assert_int_equal(dr3_ac_learner_step(one, r, &m1), DR3_OK);
        assert_int_equal(dr3_ac_learner_step(two, r, &m2), DR3_OK);
        TU_ASSERT_CLOSE(m2.critic_loss, m1.critic_loss, 1e-4, 1e-6);
        TU_ASSERT_CLOSE(m2.td_loss, m1.td_loss, 1e-4, 1e-6);
        TU_ASSERT_CLOSE(m2.actor_loss, m1.actor_loss, 1e-4, 1e-6);
        TU_ASSERT_CLOSE(m2.entropy, m1.entropy, 1e-4, 1e-6);
        TU_ASSERT_CLOSE(m2.cql_term, m1.cql_term, 1e-4, 1e-6);
        TU_ASSERT_CLOSE(m2.feature_dot, m1.feature_dot, 1e-4, 1e-6);
        TU_ASSERT_CLOSE(m2.critic_grad_norm, m1.critic_grad_norm, 1e-3, 1e-6);
        if (algo == DR3_AC_CQL) assert_true(m1.cql_term != 0.0f);
        dr3_ac_learner_free(one);
        dr3_ac_learner_free(two);
    }
    dr3_replay_free(r);
}

/* A plugin regularizer that adds nothing: it makes the learner run its two critics one
 * after the other (plugins need not be thread-safe), which is the reference here. */
static int zero_reg(void *payload, const dr3_ac_reg_view *v, float *loss,
                    const dr3_ac_reg_grads *g) {
    (void)payload;
    (void)v;
    (void)g;
    *loss = 0.0f;
    return 0;
}

/* With 2 threads the twin critics' passes (and their forwards for the targets and the
 * actor) run at the same time, one per thread: every bit of the learner (networks,
 * optimizers, α, α′) equals the passes run one after the other. */
static void test_parallel_critics_same_bits(void **state) {
    (void)state;
    dr3_replay *r = make_replay(400, 9);
    for (int algo = 0; algo <= DR3_AC_CQL; algo++) {
        dr3_ac_options o = base_options((dr3_ac_algo)algo);
        o.threads = 2;
        o.dr3_coef = 0.05f;
        dr3_ac_learner *par = make(&o), *seq = make(&o);
        dr3_ac_regularizer_vtable vt = DR3_AC_REGULARIZER_VTABLE_INIT;
        vt.name = "zero";
        vt.apply = zero_reg;
        assert_int_equal(dr3_ac_learner_add_regularizer(seq, &vt, NULL), DR3_OK);
        for (int t = 0; t < 5; t++) {
            dr3_ac_metrics m1 = DR3_AC_METRICS_INIT, m2 = DR3_AC_METRICS_INIT;
            assert_int_equal(dr3_ac_learner_step(par, r, &m1), DR3_OK);
            assert_int_equal(dr3_ac_learner_step(seq, r, &m2), DR3_OK);
            assert_true(m1.critic_loss == m2.critic_loss && m1.feature_dot == m2.feature_dot);
        }
        snapshot x = snap(par), y = snap(seq);
        assert_true(same(&x, &y));
        free(x.p);
        free(y.p);
        dr3_ac_learner_free(par);
        dr3_ac_learner_free(seq);
    }
    dr3_replay_free(r);
}

/* ---- acting -------------------------------------------------------------------------------
 */

static void test_act(void **state) {
    (void)state;
    const float lo[A] = {-2, 0}, hi[A] = {2, 10};
    dr3_ac_options o = base_options(DR3_AC_SAC);
    o.action_low = lo;
    o.action_high = hi;
    dr3_ac_learner *l = make(&o);
    const float mu[A] = {0.4f, -1.2f}, ls[A] = {-0.3f, 0.1f};
    constant_actor(l, mu, ls);
    float obs[40 * D], act[40 * 3];
    for (int i = 0; i < 40 * D; i++) obs[i] = (float)(i % 7) * 0.1f;
    assert_int_equal(dr3_ac_learner_act(l, 40, obs, D, 1, act, 3), DR3_OK);
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < A; k++) {
            double want = lo[k] + 0.5 * (tanh(mu[k]) + 1) * (hi[k] - lo[k]);
            TU_ASSERT_CLOSE(act[i * 3 + k], want, 1e-5, 1e-5);
        }
    /* stochastic: inside the box, mean of atanh(normalised) ≈ μ */
    double s[A] = {0, 0};
    for (int rep = 0; rep < 50; rep++) {
        assert_int_equal(dr3_ac_learner_act(l, 40, obs, D, 0, act, 3), DR3_OK);
        for (int i = 0; i < 40; i++)
            for (int k = 0; k < A; k++) {
                assert_true(act[i * 3 + k] >= lo[k] && act[i * 3 + k] <= hi[k]);
                double an = 2 * (act[i * 3 + k] - lo[k]) / (hi[k] - lo[k]) - 1;
                s[k] += atanh(fmax(-0.999999, fmin(0.999999, an)));
            }
    }
    for (int k = 0; k < A; k++) TU_ASSERT_CLOSE(s[k] / 2000, mu[k], 0, 0.08);
    TU_ASSERT_FAILS(dr3_ac_learner_act(l, 1, obs, D - 1, 1, act, 3), DR3_ERR_INVALID_ARG);
    obs[0] = NAN;
    TU_ASSERT_FAILS(dr3_ac_learner_act(l, 1, obs, D, 1, act, 3), DR3_ERR_NONFINITE);
    /* Q values: the critic on normalised actions */
    obs[0] = 0;
    float q[4], qa[4 * A];
    for (int i = 0; i < 4 * A; i++) qa[i] = (i % 2) ? 5.0f : 0.0f; /* normalised: 0 */
    assert_int_equal(dr3_ac_learner_q_values(l, 4, obs, D, qa, A, q), DR3_OK);
    float zero[A] = {0, 0};
    float q0;
    assert_int_equal(
        dr3_net_forward(dr3_ac_learner_critic(l, 0), 1, obs, D, zero, A, &q0, 1, NULL), DR3_OK);
    TU_ASSERT_CLOSE(q[0], q0, 1e-6, 1e-7);
    dr3_ac_learner_free(l);
}

/* ---- checkpoints --------------------------------------------------------------------------
 */

static void test_checkpoint_resume(void **state) {
    (void)state;
    char path[] = "/tmp/dr3_ac_ckpt_XXXXXX";
    int fdsc = mkstemp(path);
    assert_true(fdsc >= 0);
    close(fdsc);
    dr3_replay *r = make_replay(300, 9);
    for (int algo = 0; algo < 4; algo++) {
        dr3_ac_options o = base_options((dr3_ac_algo)algo);
        o.dr3_coef = 0.1f;
        if (algo == DR3_AC_CQL) o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
        dr3_ac_learner *a = make(&o);
        for (int t = 0; t < 3; t++) assert_int_equal(dr3_ac_learner_step(a, r, NULL), DR3_OK);
        assert_int_equal(dr3_ac_learner_save(a, path), DR3_OK);
        for (int t = 0; t < 3; t++) assert_int_equal(dr3_ac_learner_step(a, r, NULL), DR3_OK);
        /* open: a new learner continues bit-identically (TD3's delayed actor included) */
        dr3_ac_learner *b = NULL;
        assert_int_equal(dr3_ac_learner_open(&b, path, NULL), DR3_OK);
        assert_int_equal(dr3_ac_learner_step_count(b), 3);
        for (int t = 0; t < 3; t++) assert_int_equal(dr3_ac_learner_step(b, r, NULL), DR3_OK);
        snapshot x = snap(a), y = snap(b);
        assert_true(same(&x, &y));
        /* load into a fresh learner with the same options: the same */
        dr3_ac_learner *c = make(&o);
        assert_int_equal(dr3_ac_learner_load(c, path), DR3_OK);
        for (int t = 0; t < 3; t++) assert_int_equal(dr3_ac_learner_step(c, r, NULL), DR3_OK);
        snapshot z = snap(c);
        assert_true(same(&x, &z));
        /* acting after a resume continues the acting stream too */
        float obs[D] = {0.1f, 0.2f, 0.3f, 0.4f}, u[A], v[A];
        if (algo != DR3_AC_SARSA) {
            assert_int_equal(dr3_ac_learner_act(b, 1, obs, D, 0, u, A), DR3_OK);
            assert_int_equal(dr3_ac_learner_act(c, 1, obs, D, 0, v, A), DR3_OK);
            assert_memory_equal(u, v, sizeof u);
        }
        free(x.p);
        free(y.p);
        free(z.p);
        dr3_ac_learner_free(a);
        dr3_ac_learner_free(b);
        dr3_ac_learner_free(c);
    }
    /* corrupted and truncated files are refused; load leaves the learner as it was */
    dr3_ac_options o = base_options(DR3_AC_SAC);
    dr3_ac_learner *a = make(&o);
    assert_int_equal(dr3_ac_learner_save(a, path), DR3_OK);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size);
    assert_int_equal(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    o.seed = 123;
    dr3_ac_learner *other = make(&o);
    snapshot before = snap(other);
    const long cuts[] = {0, 5, 100, size / 2, size - 1};
    for (size_t k = 0; k < 5; k++) {
        f = fopen(path, "wb");
        fwrite(bytes, 1, (size_t)cuts[k], f);
        fclose(f);
        dr3_ac_learner *x = (dr3_ac_learner *)&x;
        dr3_status st = dr3_ac_learner_open(&x, path, NULL);
        assert_true(st == DR3_ERR_FORMAT || st == DR3_ERR_CHECKSUM);
        assert_null(x);
        assert_true(dr3_ac_learner_load(other, path) < 0);
    }
    for (long at = 9; at < size; at += size / 7) {
        bytes[at] ^= 0x10;
        f = fopen(path, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        bytes[at] ^= 0x10;
        dr3_ac_learner *x = NULL;
        TU_ASSERT_FAILS(dr3_ac_learner_open(&x, path, NULL), DR3_ERR_CHECKSUM);
        TU_ASSERT_FAILS(dr3_ac_learner_load(other, path), DR3_ERR_CHECKSUM);
    }
    snapshot now = snap(other);
    assert_true(same(&before, &now));
    /* a learner of another shape refuses the (valid) file */
    f = fopen(path, "wb");
    fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
    dr3_ac_options o2 = base_options(DR3_AC_TD3BC);
    dr3_ac_learner *td3 = make(&o2);
    TU_ASSERT_FAILS(dr3_ac_learner_load(td3, path), DR3_ERR_SHAPE);
    dr3_ac_learner *none = NULL;
    TU_ASSERT_FAILS(dr3_ac_learner_open(&none, "/nonexistent/dir/x", NULL), DR3_ERR_IO);
    dr3_ac_learner_free(td3);
    free(bytes);
    free(before.p);
    free(now.p);
    dr3_ac_learner_free(a);
    dr3_ac_learner_free(other);
    dr3_replay_free(r);
    unlink(path);
}

/* ---- a refused optimizer update changes nothing ------------------------------------------ */

/* The learner's whole saved state (options, networks, targets, every optimizer's moments
 * and step count, log α, log α′, both generators, steps) as bytes; *len its size. */
static unsigned char *state_bytes(dr3_ac_learner *l, size_t *len) {
    char path[] = "/tmp/dr3_ac_state_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(dr3_ac_learner_save(l, path), DR3_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)size);
    assert_int_equal(fread(b, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    unlink(path);
    *len = (size_t)size;
    return b;
}

static void assert_same_state(dr3_ac_learner *a, dr3_ac_learner *b) {
    size_t na, nb;
    unsigned char *x = state_bytes(a, &na), *y = state_bytes(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

static void test_refused_update_changes_nothing(void **state) {
    (void)state;
    /* 1. a learning rate so large that the last optimizer's update overflows (SAC: α;
     * CQL-Lagrange: α then α′ share alpha_lr; TD3+BC: the actor, on its delayed step 2) or a
     * target gap so large that α′'s (the last) does: the critics and the actor have already
     * been updated when it refuses, and must be put back. */
    for (int c = 0; c < 6; c++) {
        dr3_ac_options o = base_options(DR3_AC_SAC);
        o.dr3_coef = 0.1f;
        int refused_at = 1;
        switch (c) {
        case 0:
            o.alpha_lr = FLT_MAX;
            break;
        case 1:
            o.actor_lr = FLT_MAX;
            break;
        case 2:
            o.algo = DR3_AC_CQL;
            o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
            o.alpha_lr = FLT_MAX;
            break;
        case 3:
            o.algo = DR3_AC_CQL;
            o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
            o.cql_target_gap = 1e25f; /* α′'s gradient ~1e25: its second moment overflows */
            break;
        case 4:
            o.algo = DR3_AC_TD3BC;
            o.policy_delay = 2;
            o.actor_lr = FLT_MAX;
            refused_at = 2;
            break;
        case 5:
            o.critic_lr = FLT_MAX;
            break;
        }
        dr3_ac_learner *l = make(&o), *fresh = make(&o);
        batch_data bd;
        dr3_ac_batch b;
        for (int t = 1; t < refused_at; t++) {
            fill_batch(&bd, 10 + (uint64_t)t, &b);
            assert_int_equal(dr3_ac_learner_step_batch(l, &b, NULL), DR3_OK);
            assert_int_equal(dr3_ac_learner_step_batch(fresh, &b, NULL), DR3_OK);
        }
        size_t n0, n1;
        unsigned char *before = state_bytes(l, &n0);
        fill_batch(&bd, 10 + (uint64_t)refused_at, &b);
        dr3_ac_metrics m = DR3_AC_METRICS_INIT;
        dr3_status st = dr3_ac_learner_step_batch(l, &b, &m);
        if (st != DR3_ERR_NONFINITE)
            fail_msg("case %d: status %d (%s)", c, st, dr3_last_error());
        /* the replay path too (its sampling draws from the generator) */
        dr3_replay *r = make_replay(300, 4);
        assert_int_equal(dr3_ac_learner_step(l, r, &m), DR3_ERR_NONFINITE);
        dr3_replay_free(r);
        unsigned char *after = state_bytes(l, &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(before, after, n0);
        assert_same_state(l, fresh);
        free(before);
        free(after);
        dr3_ac_learner_free(l);
        dr3_ac_learner_free(fresh);
    }

    /* 2. refusals that depend on the batch, with ordinary learning rates, so that the next
     * good step can be taken: it must equal a fresh learner's first step. SAC and CQL-Lagrange:
     * a clamped log-std (no gradient) and huge actor draws make −log π ~ 1e36, whose
     * temperature gradient overflows Adam's second moment (α; for CQL the huge draws are
     * the CQL policy samples, which reach only α′, the last). (TD3+BC's last update is the
     * actor's; a batch cannot make its gradient overflow Adam without first making the
     * actor loss itself non-finite, which the guard refuses before any update.) */
    for (int c = 0; c < 2; c++) {
        dr3_ac_options o = base_options(c == 1 ? DR3_AC_CQL : DR3_AC_SAC);
        if (c == 1) o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
        dr3_ac_learner *l = make(&o), *fresh = make(&o);
        const float mu[A] = {0.1f, -0.2f}, ls[A] = {25.0f, 25.0f};
        constant_actor(l, mu, ls);
        constant_actor(fresh, mu, ls);
        batch_data bd;
        dr3_ac_batch bad, good;
        fill_batch(&bd, 21, &bad);
        float huge[NB * 3 * A];
        for (size_t i = 0; i < NB * 3 * A; i++) huge[i] = 1e18f;
        if (c == 0) bad.eps_actor = huge;
        if (c == 1) bad.cql_eps_obs = huge;
        size_t n0, n1;
        unsigned char *before = state_bytes(l, &n0);
        dr3_status st = dr3_ac_learner_step_batch(l, &bad, NULL);
        if (st != DR3_ERR_NONFINITE)
            fail_msg("batch case %d: status %d (%s)", c, st, dr3_last_error());
        unsigned char *after = state_bytes(l, &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(before, after, n0);
        batch_data gd;
        fill_batch(&gd, 22, &good);
        dr3_ac_metrics m1 = DR3_AC_METRICS_INIT, m2 = DR3_AC_METRICS_INIT;
        assert_int_equal(dr3_ac_learner_step_batch(l, &good, &m1), DR3_OK);
        assert_int_equal(dr3_ac_learner_step_batch(fresh, &good, &m2), DR3_OK);
        assert_memory_equal(&m1, &m2, sizeof m1);
        assert_same_state(l, fresh);
        free(before);
        free(after);
        dr3_ac_learner_free(l);
        dr3_ac_learner_free(fresh);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_batch_changes_nothing),
        cmocka_unit_test(test_tanh_gauss_logprob_and_temperature),
        cmocka_unit_test(test_dr3_gradient_both_features),
        cmocka_unit_test(test_determinism_threads_no_alloc),
        cmocka_unit_test(test_two_threads_match_one),
        cmocka_unit_test(test_parallel_critics_same_bits),
        cmocka_unit_test(test_act),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_refused_update_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
