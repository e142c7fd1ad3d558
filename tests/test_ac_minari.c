/* A Minari dataset as the actor-critic learner reads it (issue #13): the fixture
 * tests/data/minari/pointmaze-tiny-v0 was written with h5py in Minari's layout by
 * tests/reference/gen_minari_fixture.py, which also wrote every transition as text
 * (tests/reference/minari_fixture_transitions.txt). Every sampleable row the reader loads
 * must be that list's row, in order and bit for bit (s, a, r, s′, terminal, discount), and
 * a learner must train on it. Without HDF5 support the reader must say so. The command-line
 * path (dr3 train --data DIR, dr3 eval) is tests/check_cli_continuous.cmake's. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINARI DR3_TEST_DATA_DIR "/minari/pointmaze-tiny-v0/data/main_data.hdf5"
#define REF    DR3_TEST_DATA_DIR "/../reference/minari_fixture_transitions.txt"

enum { S = 4, A = 2, MAXROWS = 128 };

typedef struct ref_row {
    int episode, t, terminal, truncated;
    float obs[S], act[A], reward, next_obs[S];
} ref_row;

static size_t read_reference(ref_row *rows) {
    FILE *f = fopen(REF, "r");
    if (f == NULL) fail_msg("cannot open %s", REF);
    char line[1024];
    size_t n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#') continue;
        assert_true(n < MAXROWS);
        ref_row *r = &rows[n];
        char *p = line, *end;
        r->episode = (int)strtol(p, &end, 10), p = end;
        r->t = (int)strtol(p, &end, 10), p = end;
        for (int k = 0; k < S; k++) r->obs[k] = strtof(p, &end), p = end;
        for (int k = 0; k < A; k++) r->act[k] = strtof(p, &end), p = end;
        r->reward = strtof(p, &end), p = end;
        for (int k = 0; k < S; k++) r->next_obs[k] = strtof(p, &end), p = end;
        r->terminal = (int)strtol(p, &end, 10), p = end;
        r->truncated = (int)strtol(p, &end, 10), p = end;
        assert_true(end != line);
        n++;
    }
    fclose(f);
    return n;
}

static int have_hdf5(void) {
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    assert_int_equal(dr3_runtime_info_get(&info), DR3_OK);
    return info.has_hdf5;
}

static void test_minari_rows_equal_the_generator(void **state) {
    (void)state;
    ref_row ref[MAXROWS];
    size_t nref = read_reference(ref);
    assert_int_equal(nref, 64); /* 12 + 9 + 15 + 7 + 11 + 10 steps */
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.gamma = 0.99f;
    dr3_replay *r = NULL;
    if (!have_hdf5()) {
        TU_ASSERT_FAILS(dr3_replay_open_minari(&r, MINARI, &o), DR3_ERR_UNSUPPORTED);
        return;
    }
    if (dr3_replay_open_minari(&r, MINARI, &o) != DR3_OK)
        fail_msg("open_minari: %s", dr3_last_error());
    dr3_replay_options got = DR3_REPLAY_OPTIONS_INIT;
    assert_int_equal(dr3_replay_get_options(&got, r), DR3_OK);
    assert_int_equal(got.action_kind, DR3_ACTION_CONTINUOUS);
    assert_int_equal(got.action_dim, A);
    assert_int_equal(dr3_replay_state_dim(r), S);
    /* 64 steps plus one final observation per episode */
    assert_int_equal(dr3_replay_size(r), 64 + 6);
    size_t k = 0;
    for (size_t i = 0; i < dr3_replay_size(r); i++) {
        float obs[S], next[S], act[A], rew, disc;
        uint8_t term;
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs = obs;
        b.ld_obs = S;
        b.next_obs = next;
        b.ld_next_obs = S;
        b.actions_f = act;
        b.ld_actions_f = A;
        b.rewards = &rew;
        b.discounts = &disc;
        b.terminals = &term;
        dr3_status st = dr3_replay_get(r, &i, 1, &b);
        if (st == DR3_ERR_RANGE) continue; /* a final-observation row */
        assert_int_equal(st, DR3_OK);
        assert_true(k < nref);
        const ref_row *x = &ref[k++];
        assert_memory_equal(obs, x->obs, sizeof obs);
        assert_memory_equal(act, x->act, sizeof act);
        assert_memory_equal(&rew, &x->reward, sizeof rew);
        assert_int_equal(term, x->terminal);
        /* a terminal step does not bootstrap; any other (the time limit, an open end, a
         * middle step) does, from the stored next observation */
        assert_true(disc == (x->terminal ? 0.0f : 0.99f));
        if (!x->terminal) assert_memory_equal(next, x->next_obs, sizeof next);
    }
    assert_int_equal(k, nref);

    /* and a CQL learner trains on it */
    dr3_ac_options ao = DR3_AC_OPTIONS_INIT;
    static const size_t hid[2] = {16, 16};
    ao.algo = DR3_AC_CQL;
    ao.obs_dim = S;
    ao.action_dim = A;
    ao.critic_num_hidden = ao.actor_num_hidden = 2;
    ao.critic_hidden = ao.actor_hidden = hid;
    ao.batch_size = 16;
    ao.cql_num_actions = 2;
    ao.dr3_coef = 0.1f;
    dr3_ac_learner *l = NULL;
    assert_int_equal(dr3_ac_learner_create(&l, &ao), DR3_OK);
    dr3_ac_metrics m = DR3_AC_METRICS_INIT;
    for (int t = 0; t < 5; t++) assert_int_equal(dr3_ac_learner_step(l, r, &m), DR3_OK);
    assert_true(isfinite(m.critic_loss) && isfinite(m.feature_dot));
    assert_int_equal(dr3_ac_learner_step_count(l), 5);
    dr3_ac_learner_free(l);
    dr3_replay_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minari_rows_equal_the_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
