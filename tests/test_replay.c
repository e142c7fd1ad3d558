/* Replay ring buffer: adding, validation, n-step targets against hand-computed values,
 * episode boundaries, terminals vs truncations, frame stacking, wrap-around against an
 * independent reference model, uniform sampling, and no allocation after creation. */
#include "testutil.h"

#include <dr3/replay.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static dr3_replay *make(size_t cap, size_t obs_dim, size_t n_step, size_t stack, float gamma) {
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = cap;
    o.obs_dim = obs_dim;
    o.num_actions = 4;
    o.n_step = n_step;
    o.frame_stack = stack;
    o.gamma = gamma;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    assert_non_null(r);
    return r;
}

/* One transition fetched with every output requested. */
typedef struct tr {
    float obs[64], next_obs[64];
    int32_t a, na;
    uint8_t nav, term;
    float rew, disc;
    int32_t k;
    size_t idx;
} tr;

static dr3_status fetch(const dr3_replay *r, size_t idx, int need_next, tr *t) {
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.need_next_action = need_next;
    b.obs = t->obs;
    b.ld_obs = 64;
    b.next_obs = t->next_obs;
    b.ld_next_obs = 64;
    b.actions = &t->a;
    b.next_actions = &t->na;
    b.next_action_valid = &t->nav;
    b.rewards = &t->rew;
    b.discounts = &t->disc;
    b.terminals = &t->term;
    b.steps = &t->k;
    b.indices = &t->idx;
    return dr3_replay_get(r, &idx, 1, &b);
}

static void test_create_rejects_bad_options(void **state) {
    (void)state;
    dr3_replay *r = (dr3_replay *)1;
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 10;
    o.obs_dim = 3;
    o.num_actions = 2;
    TU_ASSERT_FAILS(dr3_replay_create(NULL, &o), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_create(&r, NULL), DR3_ERR_INVALID_ARG);
    assert_null(r);
    struct {
        size_t field;
        dr3_replay_options o;
    } cases[12];
    for (int i = 0; i < 12; i++) cases[i].o = o;
    cases[0].o.capacity = 1;
    cases[1].o.obs_dim = 0;
    cases[2].o.num_actions = 0;
    cases[3].o.action_kind = DR3_ACTION_CONTINUOUS; /* action_dim 0 */
    cases[4].o.frame_stack = 0;
    cases[5].o.n_step = 0;
    cases[6].o.gamma = 1.5f;
    cases[7].o.gamma = NAN;
    cases[8].o.obs_dtype = (dr3_dtype)7;
    cases[9].o.action_kind = (dr3_action_kind)9;
    cases[10].o.u8_scale = (dr3_u8_scale)3;
    cases[11].o.allocator.alloc = (void *(*)(void *, size_t, size_t))1; /* free missing */
    for (int i = 0; i < 12; i++) {
        r = (dr3_replay *)1;
        TU_ASSERT_FAILS(dr3_replay_create(&r, &cases[i].o), DR3_ERR_INVALID_ARG);
        assert_null(r);
    }
    o.capacity = (size_t)UINT32_MAX;
    TU_ASSERT_FAILS(dr3_replay_create(&r, &o), DR3_ERR_INVALID_ARG);
    o.capacity = 10;
    o.obs_dim = SIZE_MAX / 2;
    o.frame_stack = 4;
    TU_ASSERT_FAILS(dr3_replay_create(&r, &o), DR3_ERR_OVERFLOW);
    dr3_replay_free(NULL);
}

static void test_add_validates_and_leaves_buffer_unchanged(void **state) {
    (void)state;
    dr3_replay *r = make(16, 2, 1, 1, 0.9f);
    float o0[2] = {0, 0}, o1[2] = {1, 1}, bad[2] = {1, NAN};
    int32_t a = 1, big = 4, neg = -1;
    assert_int_equal(dr3_replay_add(r, o0, &a, 1.0f, 0, 0, o1), DR3_OK);
    size_t size = dr3_replay_size(r), valid = dr3_replay_valid_count(r, 0);
    TU_ASSERT_FAILS(dr3_replay_add(NULL, o1, &a, 0, 0, 0, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_add(r, NULL, &a, 0, 0, 0, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, NULL, 0, 0, 0, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_add(r, bad, &a, 0, 0, 0, NULL), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &a, NAN, 0, 0, NULL), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &a, INFINITY, 0, 0, NULL), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &a, 0, 1, 0, bad), DR3_ERR_NONFINITE);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &big, 0, 0, 0, NULL), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &neg, 0, 0, 0, NULL), DR3_ERR_RANGE);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &a, 0, 2, 0, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &a, 0, 0, -1, NULL), DR3_ERR_INVALID_ARG);
    /* a truncation needs s' to bootstrap */
    TU_ASSERT_FAILS(dr3_replay_add(r, o1, &a, 0, 0, 1, NULL), DR3_ERR_INVALID_ARG);
    /* obs must continue the next_obs given before */
    TU_ASSERT_FAILS(dr3_replay_add(r, o0, &a, 0, 0, 0, NULL), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_replay_size(r), size);
    assert_int_equal(dr3_replay_valid_count(r, 0), valid);
    assert_int_equal(dr3_replay_add(r, o1, &a, 0, 1, 0, NULL), DR3_OK);
    assert_int_equal(dr3_replay_size(r), 2);

    /* continuous actions: NaN rejected */
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 8;
    o.obs_dim = 2;
    o.action_kind = DR3_ACTION_CONTINUOUS;
    o.action_dim = 2;
    dr3_replay *c;
    assert_int_equal(dr3_replay_create(&c, &o), DR3_OK);
    float ca[2] = {0.5f, NAN};
    TU_ASSERT_FAILS(dr3_replay_add(c, o0, ca, 0, 0, 0, NULL), DR3_ERR_NONFINITE);
    assert_int_equal(dr3_replay_size(c), 0);
    /* episode-wise: a bad value anywhere leaves the buffer as it was */
    float obs3[6] = {0, 0, 1, 1, 2, 2}, acts[4] = {0, 0, 1, 1}, rews[2] = {1, 2};
    obs3[5] = INFINITY;
    TU_ASSERT_FAILS(dr3_replay_add_episode(c, 2, obs3, acts, rews, 1, 0), DR3_ERR_NONFINITE);
    obs3[5] = 2;
    rews[1] = NAN;
    TU_ASSERT_FAILS(dr3_replay_add_episode(c, 2, obs3, acts, rews, 1, 0), DR3_ERR_NONFINITE);
    rews[1] = 2;
    TU_ASSERT_FAILS(dr3_replay_add_episode(c, 0, obs3, acts, rews, 1, 0), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_add_episode(c, 2, NULL, acts, rews, 1, 0), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_replay_size(c), 0);
    assert_int_equal(dr3_replay_add_episode(c, 2, obs3, acts, rews, 1, 0), DR3_OK);
    assert_int_equal(dr3_replay_size(c), 3);
    dr3_replay_free(c);
    dr3_replay_free(r);
}

/* Episode of 5 steps: obs_t = (t, 10 + t), a_t = t % 4, r_t = t + 1, gamma 0.5, n = 3.
 * Hand-computed: R_0 = 1 + .5*2 + .25*3 = 2.75, R_1 = 2 + 1.5 + 1 = 4.5,
 * R_2 = 3 + 2 + 1.25 = 6.25, R_3 = 4 + 2.5 = 6.5, R_4 = 5. */
static void add_episode5(dr3_replay *r, int terminal, int truncated, int final_obs) {
    for (int t = 0; t < 5; t++) {
        float o[2] = {(float)t, 10.0f + (float)t}, nx[2] = {(float)t + 1, 11.0f + (float)t};
        int32_t a = t % 4;
        int end = t == 4;
        assert_int_equal(dr3_replay_add(r, o, &a, (float)(t + 1), end ? terminal : 0,
                                        end ? truncated : 0, (end && !final_obs) ? NULL : nx),
                         DR3_OK);
    }
}

static void test_nstep_terminal(void **state) {
    (void)state;
    dr3_replay *r = make(32, 2, 3, 1, 0.5f);
    add_episode5(r, 1, 0, 1);
    assert_int_equal(dr3_replay_size(r), 6); /* 5 steps + final observation */
    const float R[5] = {2.75f, 4.5f, 6.25f, 6.5f, 5.0f};
    const int K[5] = {3, 3, 3, 2, 1};
    const float D[5] = {0.125f, 0.125f, 0, 0, 0};
    for (size_t t = 0; t < 5; t++) {
        tr x;
        assert_int_equal(fetch(r, t, 1, &x), DR3_OK);
        TU_ASSERT_CLOSE(x.rew, R[t], 1e-6, 1e-6);
        TU_ASSERT_CLOSE(x.disc, D[t], 0, 1e-7);
        assert_int_equal(x.k, K[t]);
        assert_int_equal(x.term, t >= 2);
        assert_int_equal(x.a, (int)t % 4);
        assert_int_equal(x.idx, t);
        TU_ASSERT_CLOSE(x.obs[0], (float)t, 0, 0);
        TU_ASSERT_CLOSE(x.next_obs[0], (float)(t + (size_t)K[t]), 0, 0);
        TU_ASSERT_CLOSE(x.next_obs[1], 10.0f + (float)(t + (size_t)K[t]), 0, 0);
        /* a' exists inside the episode; at the terminal end it does not (discount 0) */
        assert_int_equal(x.nav, t < 2);
        if (t < 2) assert_int_equal(x.na, (int)(t + 3) % 4);
    }
    tr x;
    TU_ASSERT_FAILS(fetch(r, 5, 0, &x), DR3_ERR_RANGE); /* the final row is not a step */
    TU_ASSERT_FAILS(fetch(r, 6, 0, &x), DR3_ERR_RANGE); /* not stored */
    assert_int_equal(dr3_replay_valid_count(r, 0), 5);
    assert_int_equal(dr3_replay_valid_count(r, 1), 5);
    dr3_replay_free(r);
}

static void test_nstep_truncation_bootstraps(void **state) {
    (void)state;
    dr3_replay *r = make(32, 2, 3, 1, 0.5f);
    add_episode5(r, 0, 1, 1);
    const float D[5] = {0.125f, 0.125f, 0.125f, 0.25f, 0.5f};
    for (size_t t = 0; t < 5; t++) {
        tr x;
        assert_int_equal(fetch(r, t, 0, &x), DR3_OK);
        TU_ASSERT_CLOSE(x.disc, D[t], 0, 1e-7);
        assert_int_equal(x.term, 0);
        assert_int_equal(x.nav, t < 2); /* s_5 is the final observation: no a' */
        if (t >= 2) {
            assert_int_equal(x.na, 0);
            TU_ASSERT_FAILS(fetch(r, t, 1, &x), DR3_ERR_RANGE);
        }
    }
    assert_int_equal(dr3_replay_valid_count(r, 0), 5);
    assert_int_equal(dr3_replay_valid_count(r, 1), 2);
    dr3_replay_free(r);
}

static void test_terminal_without_final_obs(void **state) {
    (void)state;
    dr3_replay *r = make(32, 2, 1, 1, 0.9f);
    add_episode5(r, 1, 0, 0);
    assert_int_equal(dr3_replay_size(r), 5);
    tr x;
    assert_int_equal(fetch(r, 4, 1, &x), DR3_OK);
    TU_ASSERT_CLOSE(x.rew, 5.0f, 0, 0);
    TU_ASSERT_CLOSE(x.disc, 0.0f, 0, 0);
    TU_ASSERT_CLOSE(x.next_obs[0], 0.0f, 0, 0);
    TU_ASSERT_CLOSE(x.next_obs[1], 0.0f, 0, 0);
    assert_int_equal(x.term, 1);
    /* the next episode starts fresh */
    float o[2] = {100, 100};
    int32_t a = 0;
    assert_int_equal(dr3_replay_add(r, o, &a, 0, 0, 0, NULL), DR3_OK);
    assert_int_equal(dr3_replay_valid_count(r, 0), 5); /* new step has no s' yet */
    dr3_replay_free(r);
}

static void test_open_episode_end_is_not_sampled(void **state) {
    (void)state;
    dr3_replay *r = make(32, 1, 2, 1, 0.9f);
    for (int t = 0; t < 4; t++) {
        float o = (float)t;
        int32_t a = 0;
        assert_int_equal(dr3_replay_add(r, &o, &a, 1, 0, 0, NULL), DR3_OK);
    }
    /* rows 0,1 have s_{t+2}; rows 2,3 would need rows 4,5 */
    size_t idx[8], n;
    assert_int_equal(dr3_replay_valid_indices(r, 0, idx, 8, &n), DR3_OK);
    assert_int_equal(n, 2);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
    tr x;
    TU_ASSERT_FAILS(fetch(r, 2, 0, &x), DR3_ERR_RANGE);
    dr3_replay_free(r);
}

static void test_frame_stack_across_episode_start(void **state) {
    (void)state;
    dr3_replay *r = make(32, 1, 1, 3, 0.9f);
    float obsA[3] = {1, 2, 3}, obsB[4] = {11, 12, 13, 14}, rw[3] = {0, 0, 0};
    int32_t ac[3] = {0, 1, 2};
    assert_int_equal(dr3_replay_add_episode(r, 2, obsA, ac, rw, 1, 0), DR3_OK);
    assert_int_equal(dr3_replay_add_episode(r, 3, obsB, ac, rw, 0, 1), DR3_OK);
    /* rows: A0 A1 A_final B0 B1 B2 B_final */
    tr x;
    assert_int_equal(fetch(r, 1, 0, &x), DR3_OK); /* A1: [0, 1, 2] -> [1, 2, 3] */
    const float a1[3] = {0, 1, 2}, a1n[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        TU_ASSERT_CLOSE(x.obs[i], a1[i], 0, 0);
        TU_ASSERT_CLOSE(x.next_obs[i], a1n[i], 0, 0);
    }
    assert_int_equal(fetch(r, 3, 0, &x), DR3_OK); /* B0: zeros before the start */
    const float b0[3] = {0, 0, 11}, b0n[3] = {0, 11, 12};
    for (int i = 0; i < 3; i++) {
        TU_ASSERT_CLOSE(x.obs[i], b0[i], 0, 0);
        TU_ASSERT_CLOSE(x.next_obs[i], b0n[i], 0, 0);
    }
    assert_int_equal(fetch(r, 5, 0, &x), DR3_OK); /* B2 -> final: [12, 13, 14] */
    const float b2[3] = {11, 12, 13}, b2n[3] = {12, 13, 14};
    for (int i = 0; i < 3; i++) {
        TU_ASSERT_CLOSE(x.obs[i], b2[i], 0, 0);
        TU_ASSERT_CLOSE(x.next_obs[i], b2n[i], 0, 0);
    }
    TU_ASSERT_CLOSE(x.disc, 0.9f, 1e-6, 0);
    dr3_replay_free(r);
}

/* ---- ring wrap-around against an independent reference -------------------------------- */

typedef struct ref_row {
    int final; /* observation-only row */
    int start, term, trunc;
    float rew;
    int32_t act;
    long ep;
} ref_row;

#define HIST 4000

/* Reference: linear history of every row written; the buffer keeps the last cap rows. */
static void check_against_reference(const dr3_replay *r, const ref_row *h, long total,
                                    size_t cap, size_t n, size_t K, double gamma) {
    long first = total > (long)cap ? total - (long)cap : 0;
    size_t expect_valid = 0, expect_b = 0;
    for (long g = first; g < total; g++) {
        if (h[g].final) continue;
        /* history: K-1 previous frames are stored or before the episode start */
        int ok = 1;
        for (long j = 1; j < (long)K; j++) {
            long p = g - j;
            if (h[p + 1].start) break;
            if (p < first) ok = 0;
        }
        /* forward window */
        double ret = 0, gg = 1;
        long q = g, k = 0, s_row = -1;
        int done = 0, has_s = 0, has_a = 0;
        for (;;) {
            ret += gg * h[q].rew;
            gg *= gamma;
            k++;
            if (h[q].term || h[q].trunc) {
                done = h[q].term;
                has_s = q + 1 < total && h[q + 1].final;
                s_row = has_s ? q + 1 : -1;
                if (!has_s && !done) ok = 0;
                break;
            }
            if (q + 1 >= total) {
                ok = 0;
                break;
            }
            if (k == (long)n) {
                s_row = q + 1;
                has_s = 1;
                has_a = 1;
                break;
            }
            q++;
        }
        if (!ok) continue;
        expect_valid++;
        if (done || has_a) expect_b++;
        /* the slot of global row g */
        size_t slot = (size_t)(g % (long)cap);
        tr x;
        assert_int_equal(fetch(r, slot, 0, &x), DR3_OK);
        TU_ASSERT_CLOSE(x.obs[(K - 1) * 2], (float)g, 0, 0);
        TU_ASSERT_CLOSE(x.rew, ret, 1e-5, 1e-5);
        TU_ASSERT_CLOSE(x.disc, done ? 0.0 : gg, 1e-5, 1e-7);
        assert_int_equal(x.k, k);
        assert_int_equal(x.nav, has_a);
        if (s_row >= 0) TU_ASSERT_CLOSE(x.next_obs[(K - 1) * 2], (float)s_row, 0, 0);
        /* earlier frames: the rows before, zeros before the episode start */
        long p = g;
        for (long f = (long)K - 2; f >= 0; f--) {
            float want = 0;
            if (!h[p].start) {
                p--;
                want = (float)p;
            } else {
                p = -1;
            }
            if (p < 0) want = 0;
            TU_ASSERT_CLOSE(x.obs[f * 2], want, 0, 0);
            if (p < 0) {
                for (long f2 = f - 1; f2 >= 0; f2--) TU_ASSERT_CLOSE(x.obs[f2 * 2], 0.0f, 0, 0);
                break;
            }
        }
    }
    assert_int_equal(dr3_replay_valid_count(r, 0), expect_valid);
    assert_int_equal(dr3_replay_valid_count(r, 1), expect_b);
}

static void test_wraparound_matches_reference(void **state) {
    (void)state;
    const size_t cap = 23, n = 3, K = 3;
    const double gamma = 0.8;
    dr3_replay *r = make(cap, 2, n, K, (float)gamma);
    ref_row *h = calloc(HIST, sizeof *h);
    dr3_rng rng;
    dr3_rng_seed(&rng, 7);
    long total = 0, ep = 0;
    int open = 0;
    while (total < 1500) {
        float o[2] = {(float)total, (float)ep};
        int32_t a = (int32_t)dr3_rng_below(&rng, 4);
        float rew = (float)dr3_rng_below(&rng, 10) - 4.0f;
        uint64_t u = dr3_rng_below(&rng, 10);
        int term = u == 0, trunc = u == 1 || u == 2;
        int give_final = trunc || (term && dr3_rng_below(&rng, 2));
        float nx[2] = {(float)(total + 1), (float)ep};
        assert_int_equal(dr3_replay_add(r, o, &a, rew, term, trunc, give_final ? nx : NULL),
                         DR3_OK);
        h[total] = (ref_row){0, !open, term, trunc, rew, a, ep};
        total++;
        open = 1;
        if (term || trunc) {
            if (give_final) h[total++] = (ref_row){1, 0, 0, 0, 0, 0, ep};
            open = 0;
            ep++;
        }
        if (total % 7 == 0 || total > 1480)
            check_against_reference(r, h, total, cap, n, K, gamma);
    }
    free(h);
    dr3_replay_free(r);
}

/* ---- sampling ---------------------------------------------------------------------------- */

static void test_sample_uniform_and_valid(void **state) {
    (void)state;
    dr3_replay *r = make(64, 1, 2, 1, 0.9f);
    /* two episodes, one truncated; 10 sampleable transitions of which 8 have an a' or
     * discount 0 */
    float obs[6] = {0, 1, 2, 3, 4, 5}, rw[5] = {0};
    int32_t ac[5] = {0, 1, 2, 3, 0};
    assert_int_equal(dr3_replay_add_episode(r, 5, obs, ac, rw, 1, 0), DR3_OK);
    assert_int_equal(dr3_replay_add_episode(r, 5, obs, ac, rw, 0, 1), DR3_OK);
    size_t valid[16], nv, valid_b[16], nb;
    assert_int_equal(dr3_replay_valid_indices(r, 0, valid, 16, &nv), DR3_OK);
    assert_int_equal(dr3_replay_valid_indices(r, 1, valid_b, 16, &nb), DR3_OK);
    assert_int_equal(nv, 10);
    assert_int_equal(nb, 8); /* truncated episode: steps 3 and 4 reach s_5 without a' */
    for (int pass = 0; pass < 2; pass++) {
        const size_t *set = pass ? valid_b : valid;
        size_t ns = pass ? nb : nv;
        enum { N = 256, ROUNDS = 200 };
        size_t idx[N];
        long counts[64] = {0};
        dr3_rng rng;
        dr3_rng_seed(&rng, 11 + (uint64_t)pass);
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.need_next_action = pass;
        b.indices = idx;
        uint8_t nav[N];
        b.next_action_valid = nav;
        float disc[N];
        b.discounts = disc;
        for (int round = 0; round < ROUNDS; round++) {
            assert_int_equal(dr3_replay_sample(r, &rng, N, &b), DR3_OK);
            for (int i = 0; i < N; i++) {
                int found = 0;
                for (size_t j = 0; j < ns; j++) found |= set[j] == idx[i];
                assert_true(found);
                if (pass) assert_true(nav[i] || disc[i] == 0.0f);
                counts[idx[i]]++;
            }
        }
        /* chi-square with ns-1 dof; 99.9% quantile for 9 dof is 27.9, for 7 dof 24.3 */
        double expect = (double)N * ROUNDS / (double)ns, chi = 0;
        for (size_t j = 0; j < ns; j++) {
            double d = (double)counts[set[j]] - expect;
            chi += d * d / expect;
        }
        assert_true(chi < (pass ? 24.3 : 27.9));
    }
    /* same seed, same batch */
    size_t i1[32], i2[32];
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    dr3_rng g1, g2;
    dr3_rng_seed(&g1, 5);
    dr3_rng_seed(&g2, 5);
    b.indices = i1;
    assert_int_equal(dr3_replay_sample(r, &g1, 32, &b), DR3_OK);
    b.indices = i2;
    assert_int_equal(dr3_replay_sample(r, &g2, 32, &b), DR3_OK);
    assert_memory_equal(i1, i2, sizeof i1);
    dr3_replay_free(r);
}

static void test_batch_validation(void **state) {
    (void)state;
    dr3_replay *r = make(16, 3, 1, 2, 0.9f);
    dr3_rng rng, before;
    dr3_rng_seed(&rng, 1);
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    float buf[64];
    b.obs = buf;
    b.ld_obs = 6;
    TU_ASSERT_FAILS(dr3_replay_sample(r, &rng, 1, &b), DR3_ERR_STATE); /* empty */
    float o[3] = {1, 2, 3};
    int32_t a = 0;
    assert_int_equal(dr3_replay_add(r, o, &a, 0, 1, 0, o), DR3_OK);
    assert_int_equal(dr3_replay_sample(r, &rng, 0, &b), DR3_OK);
    before = rng;
    b.ld_obs = 5; /* < state_dim 6 */
    TU_ASSERT_FAILS(dr3_replay_sample(r, &rng, 1, &b), DR3_ERR_INVALID_ARG);
    assert_memory_equal(&rng, &before, sizeof rng);
    b.ld_obs = 6;
    uint8_t u8[64];
    b.obs_u8 = u8;
    b.ld_obs_u8 = 6;
    TU_ASSERT_FAILS(dr3_replay_sample(r, &rng, 1, &b), DR3_ERR_INVALID_ARG); /* float data */
    b.obs_u8 = NULL;
    b.actions_f = buf;
    b.ld_actions_f = 1;
    TU_ASSERT_FAILS(dr3_replay_sample(r, &rng, 1, &b), DR3_ERR_INVALID_ARG); /* discrete */
    b.actions_f = NULL;
    TU_ASSERT_FAILS(dr3_replay_sample(NULL, &rng, 1, &b), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_sample(r, NULL, 1, &b), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_sample(r, &rng, 1, NULL), DR3_ERR_INVALID_ARG);
    dr3_replay_batch tiny = b;
    tiny.version = 0;
    TU_ASSERT_FAILS(dr3_replay_sample(r, &rng, 1, &tiny), DR3_ERR_VERSION);
    TU_ASSERT_FAILS(dr3_replay_get(r, NULL, 1, &b), DR3_ERR_INVALID_ARG);
    size_t bad = 1000;
    TU_ASSERT_FAILS(dr3_replay_get(r, &bad, 1, &b), DR3_ERR_RANGE);
    size_t cnt;
    TU_ASSERT_FAILS(dr3_replay_valid_indices(r, 0, NULL, 1, &cnt), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_valid_indices(r, 0, NULL, 0, NULL), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_replay_valid_indices(r, 0, NULL, 0, &cnt), DR3_OK);
    assert_int_equal(cnt, 1);
    /* strided output: padding untouched */
    float *out = tu_alloc_nan(2 * 9);
    b.obs = out;
    b.ld_obs = 9;
    assert_int_equal(dr3_replay_sample(r, &rng, 2, &b), DR3_OK);
    assert_true(tu_padding_untouched(out, 2, 6, 9));
    TU_ASSERT_CLOSE(out[9 + 3], 1.0f, 0, 0);
    TU_ASSERT_CLOSE(out[9 + 0], 0.0f, 0, 0);
    free(out);
    dr3_replay_options got = DR3_REPLAY_OPTIONS_INIT;
    assert_int_equal(dr3_replay_get_options(&got, r), DR3_OK);
    assert_int_equal(got.obs_dim, 3);
    assert_int_equal(got.frame_stack, 2);
    assert_int_equal(got.capacity, 16);
    assert_int_equal(dr3_replay_state_dim(r), 6);
    assert_int_equal(dr3_replay_is_read_only(r), 0);
    dr3_replay_free(r);
}

static void test_u8_observations(void **state) {
    (void)state;
    for (int scale = 0; scale < 2; scale++) {
        dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
        o.capacity = 8;
        o.obs_dim = 3;
        o.obs_dtype = DR3_DTYPE_U8;
        o.num_actions = 2;
        o.frame_stack = 2;
        o.u8_scale = scale ? DR3_U8_SCALE_RAW : DR3_U8_SCALE_UNIT;
        dr3_replay *r;
        assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
        uint8_t s0[3] = {0, 128, 255}, s1[3] = {1, 2, 3}, s2[3] = {51, 102, 204};
        int32_t a = 1;
        assert_int_equal(dr3_replay_add(r, s0, &a, 0, 0, 0, NULL), DR3_OK);
        assert_int_equal(dr3_replay_add(r, s1, &a, 0, 1, 0, s2), DR3_OK);
        float f[6], nf[6];
        uint8_t raw[6], nraw[6];
        size_t idx = 1;
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs = f;
        b.ld_obs = 6;
        b.next_obs = nf;
        b.ld_next_obs = 6;
        b.obs_u8 = raw;
        b.ld_obs_u8 = 6;
        b.next_obs_u8 = nraw;
        b.ld_next_obs_u8 = 6;
        assert_int_equal(dr3_replay_get(r, &idx, 1, &b), DR3_OK);
        const uint8_t want[6] = {0, 128, 255, 1, 2, 3}, nwant[6] = {1, 2, 3, 51, 102, 204};
        assert_memory_equal(raw, want, 6);
        assert_memory_equal(nraw, nwant, 6);
        double k = scale ? 1.0 : 1.0 / 255.0;
        for (int i = 0; i < 6; i++) {
            TU_ASSERT_CLOSE(f[i], want[i] * k, 1e-6, 0);
            TU_ASSERT_CLOSE(nf[i], nwant[i] * k, 1e-6, 0);
        }
        dr3_replay_free(r);
    }
}

/* Every byte value converts to exactly x / 255 (the correctly rounded quotient, computed
 * here in double and rounded once: x / 255 repeats its 8 bits forever, so the double is never
 * a float tie) — the same bits as the networks' uint8 input layer. */
static void test_u8_unit_scale_exact(void **state) {
    (void)state;
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 4;
    o.obs_dim = 256;
    o.obs_dtype = DR3_DTYPE_U8;
    o.num_actions = 2;
    dr3_replay *r;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    uint8_t s0[256], s1[256];
    for (int i = 0; i < 256; i++) s0[i] = (uint8_t)i, s1[i] = (uint8_t)(255 - i);
    int32_t a = 0;
    assert_int_equal(dr3_replay_add(r, s0, &a, 0, 1, 0, s1), DR3_OK);
    float f[256], nf[256];
    size_t idx = 0;
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.obs = f;
    b.ld_obs = 256;
    b.next_obs = nf;
    b.ld_next_obs = 256;
    assert_int_equal(dr3_replay_get(r, &idx, 1, &b), DR3_OK);
    for (int i = 0; i < 256; i++) {
        const float want = (float)((double)i / 255.0),
                    nwant = (float)((double)(255 - i) / 255.0);
        if (f[i] != want || nf[i] != nwant)
            fail_msg("byte %d: %.9g (want %.9g), next %.9g (want %.9g)", i, (double)f[i],
                     (double)want, (double)nf[i], (double)nwant);
    }
    dr3_replay_free(r);
}

static void test_continuous_actions(void **state) {
    (void)state;
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 16;
    o.obs_dim = 1;
    o.action_kind = DR3_ACTION_CONTINUOUS;
    o.action_dim = 2;
    o.gamma = 1.0f;
    dr3_replay *r;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    float obs[4] = {0, 1, 2, 3}, acts[6] = {0.1f, 0.2f, 1.1f, 1.2f, 2.1f, 2.2f},
          rw[3] = {1, 1, 1};
    assert_int_equal(dr3_replay_add_episode(r, 3, obs, acts, rw, 0, 1), DR3_OK);
    float a[3 * 3], na[3 * 3];
    uint8_t nav[3];
    size_t idx[3] = {0, 1, 2};
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.actions_f = a;
    b.ld_actions_f = 3;
    b.next_actions_f = na;
    b.ld_next_actions_f = 3;
    b.next_action_valid = nav;
    int32_t ai;
    b.actions = &ai;
    TU_ASSERT_FAILS(dr3_replay_get(r, idx, 3, &b), DR3_ERR_INVALID_ARG);
    b.actions = NULL;
    assert_int_equal(dr3_replay_get(r, idx, 3, &b), DR3_OK);
    for (int i = 0; i < 3; i++) {
        TU_ASSERT_CLOSE(a[i * 3], acts[i * 2], 0, 0);
        TU_ASSERT_CLOSE(a[i * 3 + 1], acts[i * 2 + 1], 0, 0);
        assert_int_equal(nav[i], i < 2);
        TU_ASSERT_CLOSE(na[i * 3], i < 2 ? acts[(i + 1) * 2] : 0.0f, 0, 0);
    }
    dr3_replay_free(r);
}

/* add_episode equals the add loop, and a chunk without an end continues the episode */
static void test_add_episode_equals_add_loop(void **state) {
    (void)state;
    dr3_replay *a = make(40, 1, 2, 2, 0.7f), *b = make(40, 1, 2, 2, 0.7f);
    float obs[7] = {0, 1, 2, 3, 4, 5, 6}, rw[6] = {1, -1, 2, -2, 3, -3};
    int32_t ac[6] = {0, 1, 2, 3, 0, 1};
    assert_int_equal(dr3_replay_add_episode(a, 3, obs, ac, rw, 0, 0), DR3_OK);
    float wrong[2] = {9, 10}; /* one step: two observations, the first must be obs[3] */
    TU_ASSERT_FAILS(dr3_replay_add_episode(a, 1, wrong, ac, rw, 0, 0), DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3_replay_add_episode(a, 3, obs + 3, ac + 3, rw + 3, 1, 0), DR3_OK);
    for (int t = 0; t < 6; t++)
        assert_int_equal(dr3_replay_add(b, &obs[t], &ac[t], rw[t], t == 5, 0, &obs[t + 1]),
                         DR3_OK);
    assert_int_equal(dr3_replay_size(a), dr3_replay_size(b));
    assert_int_equal(dr3_replay_valid_count(a, 0), 6);
    for (size_t t = 0; t < 6; t++) {
        tr x, y;
        assert_int_equal(fetch(a, t, 0, &x), DR3_OK);
        assert_int_equal(fetch(b, t, 0, &y), DR3_OK);
        assert_memory_equal(x.obs, y.obs, 2 * sizeof(float));
        assert_memory_equal(x.next_obs, y.next_obs, 2 * sizeof(float));
        assert_true(x.rew == y.rew && x.disc == y.disc && x.na == y.na && x.nav == y.nav);
    }
    dr3_replay_free(a);
    dr3_replay_free(b);
}

/* ---- no allocation after creation -------------------------------------------------------- */

typedef struct counting {
    long allocs, frees;
} counting;

static void *count_alloc(void *opaque, size_t size, size_t alignment) {
    ((counting *)opaque)->allocs++;
    size_t rounded = (size + alignment - 1) / alignment * alignment;
    return aligned_alloc(alignment, rounded);
}
static void count_free(void *opaque, void *p) {
    ((counting *)opaque)->frees++;
    free(p);
}

static void test_no_allocation_after_create(void **state) {
    (void)state;
    counting c = {0, 0};
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 50;
    o.obs_dim = 4;
    o.num_actions = 3;
    o.n_step = 3;
    o.frame_stack = 2;
    o.allocator.alloc = count_alloc;
    o.allocator.free = count_free;
    o.allocator.opaque = &c;
    dr3_replay *r;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    long after_create = c.allocs;
    assert_true(after_create > 0);
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    float obs[4] = {0}, batch[32 * 8], nbatch[32 * 8], rw[32];
    int32_t acts[32];
    size_t idx[32];
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.obs = batch;
    b.ld_obs = 8;
    b.next_obs = nbatch;
    b.ld_next_obs = 8;
    b.actions = acts;
    b.rewards = rw;
    b.indices = idx;
    for (int t = 0; t < 500; t++) {
        obs[0] = (float)t;
        int32_t a = t % 3;
        int end = t % 17 == 16;
        assert_int_equal(
            dr3_replay_add(r, obs, &a, 1, end && t % 2, end && !(t % 2), end ? obs : NULL),
            DR3_OK);
        if (t > 10) assert_int_equal(dr3_replay_sample(r, &rng, 32, &b), DR3_OK);
    }
    assert_int_equal(c.allocs, after_create);
    assert_int_equal(c.frees, 0);
    dr3_replay_free(r);
    assert_int_equal(c.frees, c.allocs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_options),
        cmocka_unit_test(test_add_validates_and_leaves_buffer_unchanged),
        cmocka_unit_test(test_nstep_terminal),
        cmocka_unit_test(test_nstep_truncation_bootstraps),
        cmocka_unit_test(test_terminal_without_final_obs),
        cmocka_unit_test(test_open_episode_end_is_not_sampled),
        cmocka_unit_test(test_frame_stack_across_episode_start),
        cmocka_unit_test(test_wraparound_matches_reference),
        cmocka_unit_test(test_sample_uniform_and_valid),
        cmocka_unit_test(test_batch_validation),
        cmocka_unit_test(test_u8_observations),
        cmocka_unit_test(test_u8_unit_scale_exact),
        cmocka_unit_test(test_continuous_actions),
        cmocka_unit_test(test_add_episode_equals_add_loop),
        cmocka_unit_test(test_no_allocation_after_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
