/* D4RL-layout writers (dr3_replay_save_d4rl, dr3_replay_save_d4rl_npy): every transition of
 * a replay buffer comes back through our readers, the arrays are the ones a D4RL file holds
 * (checked independently with numpy and h5py by tests/reference/check_d4rl_write.py, run by
 * the test d4rl_write_reference on the files `test_d4rl_write --write DIR` leaves), and
 * failures leave nothing behind.
 *
 * The replay holds four episodes, values by formulas the Python check repeats:
 *   episode e has T = {4, 3, 2, 2}[e] steps, obs[t][j] = 10 e + t + 0.25 j (t = 0..T),
 *   action[t][j] = 0.5 (t + 1) - 0.125 j - e, reward[t] = e + 0.5 t;
 *   e = 0 ends terminal with its final observation, e = 1 truncated with it, e = 2 terminal
 *   without it, e = 3 stays open. */
#define DR3_EXPERIMENTAL 1
#include "testutil.h"

#include <dr3/replay.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OBS_DIM = 3, ACT_DIM = 2, EPISODES = 4 };
static const int steps_of[EPISODES] = {4, 3, 2, 2};

static void fill_obs(float *o, int e, int t) {
    for (int j = 0; j < OBS_DIM; j++) o[j] = 10.0f * (float)e + (float)t + 0.25f * (float)j;
}
static void fill_act(float *a, int e, int t) {
    for (int j = 0; j < ACT_DIM; j++)
        a[j] = 0.5f * (float)(t + 1) - 0.125f * (float)j - (float)e;
}

static dr3_replay *make_replay(size_t n_step) {
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 64;
    o.obs_dim = OBS_DIM;
    o.action_kind = DR3_ACTION_CONTINUOUS;
    o.action_dim = ACT_DIM;
    o.n_step = n_step;
    o.gamma = 0.5f;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    for (int e = 0; e < EPISODES; e++) {
        for (int t = 0; t < steps_of[e]; t++) {
            float ob[OBS_DIM], nx[OBS_DIM], a[ACT_DIM];
            fill_obs(ob, e, t);
            fill_obs(nx, e, t + 1);
            fill_act(a, e, t);
            int last = t + 1 == steps_of[e];
            int term = last && (e == 0 || e == 2), trunc = last && e == 1;
            const float *next = (e == 2 && last) ? NULL : nx;
            if (e == 3) next = NULL;
            if (dr3_replay_add(r, ob, a, (float)e + 0.5f * (float)t, term, trunc, next) !=
                DR3_OK)
                fail_msg("%s", dr3_last_error());
        }
    }
    return r;
}

typedef struct tr {
    float obs[OBS_DIM], next_obs[OBS_DIM], a[ACT_DIM], na[ACT_DIM];
    uint8_t nav, term;
    float rew, disc;
    int32_t k;
} tr;

static void fetch(const dr3_replay *r, size_t idx, tr *t) {
    memset(t, 0, sizeof *t);
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.obs = t->obs;
    b.ld_obs = OBS_DIM;
    b.next_obs = t->next_obs;
    b.ld_next_obs = OBS_DIM;
    b.actions_f = t->a;
    b.ld_actions_f = ACT_DIM;
    b.next_actions_f = t->na;
    b.ld_next_actions_f = ACT_DIM;
    b.next_action_valid = &t->nav;
    b.rewards = &t->rew;
    b.discounts = &t->disc;
    b.terminals = &t->term;
    b.steps = &t->k;
    if (dr3_replay_get(r, &idx, 1, &b) != DR3_OK) fail_msg("%s", dr3_last_error());
}

/* Both handles hold the same sampleable transitions, in the same order, with equal values
 * (a' included; the written file has no next_actions, so a' at a truncated end is missing in
 * both). */
static void assert_same_transitions(const dr3_replay *a, const dr3_replay *b) {
    size_t ia[64], ib[64], na, nb;
    for (int need = 0; need < 2; need++) {
        assert_int_equal(dr3_replay_valid_indices(a, need, ia, 64, &na), DR3_OK);
        assert_int_equal(dr3_replay_valid_indices(b, need, ib, 64, &nb), DR3_OK);
        assert_int_equal(na, nb);
    }
    assert_int_equal(dr3_replay_valid_indices(a, 0, ia, 64, &na), DR3_OK);
    assert_int_equal(dr3_replay_valid_indices(b, 0, ib, 64, &nb), DR3_OK);
    assert_true(na > 0);
    for (size_t i = 0; i < na; i++) {
        tr x, y;
        fetch(a, ia[i], &x);
        fetch(b, ib[i], &y);
        assert_memory_equal(x.obs, y.obs, sizeof x.obs);
        assert_memory_equal(x.next_obs, y.next_obs, sizeof x.next_obs);
        assert_memory_equal(x.a, y.a, sizeof x.a);
        assert_memory_equal(x.na, y.na, sizeof x.na);
        assert_int_equal(x.nav, y.nav);
        assert_int_equal(x.term, y.term);
        assert_int_equal(x.k, y.k);
        assert_true(x.rew == y.rew);
        assert_true(x.disc == y.disc);
    }
}

static char tmp_root[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/dr3_test_d4rl_write_XXXXXX");
    return mkdtemp(tmp_root) == NULL ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Entries of dir other than . and .. (0 if it does not exist). */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static int have_hdf5(void) {
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    assert_int_equal(dr3_runtime_info_get(&info), DR3_OK);
    return info.has_hdf5;
}

static void test_hdf5_round_trip(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/ds.hdf5", tmp_root);
    for (size_t n_step = 1; n_step <= 3; n_step += 2) {
        dr3_replay *r = make_replay(n_step);
        if (!have_hdf5()) {
            TU_ASSERT_FAILS(dr3_replay_save_d4rl(r, path), DR3_ERR_UNSUPPORTED);
            assert_int_equal(access(path, F_OK), -1);
            dr3_replay_free(r);
            return;
        }
        if (dr3_replay_save_d4rl(r, path) != DR3_OK) fail_msg("%s", dr3_last_error());
        dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
        o.n_step = n_step;
        o.gamma = 0.5f;
        dr3_replay *back = NULL;
        if (dr3_replay_open_d4rl(&back, path, &o) != DR3_OK) fail_msg("%s", dr3_last_error());
        assert_int_equal(dr3_replay_size(back), 11); /* steps only */
        assert_same_transitions(r, back);
        dr3_replay_free(back);
        dr3_replay_free(r);
    }
    assert_int_equal(count_entries(tmp_root), 1); /* no temporary left */
    unlink(path);
}

static void test_npy_round_trip(void **state) {
    (void)state;
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/npy", tmp_root);
    for (size_t n_step = 1; n_step <= 3; n_step += 2) {
        dr3_replay *r = make_replay(n_step);
        /* the second pass replaces the first directory */
        if (dr3_replay_save_d4rl_npy(r, dir) != DR3_OK) fail_msg("%s", dr3_last_error());
        assert_int_equal(count_entries(dir), 6);
        snprintf(p, sizeof p, "%s/timeouts.npy", dir);
        assert_int_equal(access(p, F_OK), 0);
        snprintf(p, sizeof p, "%s/next_observations.npy", dir);
        assert_int_equal(access(p, F_OK), 0);
        dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
        o.n_step = n_step;
        o.gamma = 0.5f;
        dr3_replay *back = NULL;
        if (dr3_replay_open_npy(&back, dir, &o) != DR3_OK) fail_msg("%s", dr3_last_error());
        assert_int_equal(dr3_replay_size(back), 11);
        assert_same_transitions(r, back);
        if (have_hdf5()) {
            /* a dataset handle (flat rows, explicit next observations) written again */
            char h5[600];
            snprintf(h5, sizeof h5, "%s/again.h5", tmp_root);
            dr3_replay *again = NULL;
            if (dr3_replay_save_d4rl(back, h5) != DR3_OK) fail_msg("%s", dr3_last_error());
            assert_int_equal(dr3_replay_open_d4rl(&again, h5, &o), DR3_OK);
            assert_same_transitions(r, again);
            dr3_replay_free(again);
            unlink(h5);
        }
        dr3_replay_free(back);
        dr3_replay_free(r);
        assert_int_equal(count_entries(tmp_root), 1); /* no temporary directory left */
    }
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    assert_int_equal(system(p), 0);
}

/* A discrete, uint8 buffer keeps its types (int32 actions, uint8 observations). */
static void test_discrete_u8(void **state) {
    (void)state;
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 16;
    o.obs_dim = 4;
    o.obs_dtype = DR3_DTYPE_U8;
    o.num_actions = 5;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    uint8_t obs[6][4];
    for (int t = 0; t < 6; t++)
        for (int j = 0; j < 4; j++) obs[t][j] = (uint8_t)(40 * t + j);
    const int32_t act[5] = {4, 0, 3, 1, 2};
    const float rew[5] = {1, -1, 2, 0, 3};
    assert_int_equal(dr3_replay_add_episode(r, 5, obs, act, rew, 1, 0), DR3_OK);
    char path[512], dir[512];
    snprintf(path, sizeof path, "%s/u8.h5", tmp_root);
    snprintf(dir, sizeof dir, "%s/u8", tmp_root);
    assert_int_equal(dr3_replay_save_d4rl_npy(r, dir), DR3_OK);
    dr3_replay *back = NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            assert_int_equal(dr3_replay_open_npy(&back, dir, NULL), DR3_OK);
        } else {
            if (!have_hdf5()) break;
            assert_int_equal(dr3_replay_save_d4rl(r, path), DR3_OK);
            assert_int_equal(dr3_replay_open_d4rl(&back, path, NULL), DR3_OK);
        }
        dr3_replay_options got = DR3_REPLAY_OPTIONS_INIT;
        assert_int_equal(dr3_replay_get_options(&got, back), DR3_OK);
        assert_int_equal(got.obs_dtype, DR3_DTYPE_U8);
        assert_int_equal(got.action_kind, DR3_ACTION_DISCRETE);
        assert_int_equal(got.num_actions, 5);
        assert_int_equal(dr3_replay_valid_count(back, 0), 5);
        size_t idx[5] = {0, 1, 2, 3, 4};
        uint8_t so[5][4], sn[5][4];
        int32_t a[5];
        float rw[5];
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs_u8 = &so[0][0];
        b.ld_obs_u8 = 4;
        b.next_obs_u8 = &sn[0][0];
        b.ld_next_obs_u8 = 4;
        b.actions = a;
        b.rewards = rw;
        assert_int_equal(dr3_replay_get(back, idx, 5, &b), DR3_OK);
        assert_memory_equal(so, obs, sizeof so);
        assert_memory_equal(sn, obs[1], sizeof sn);
        assert_memory_equal(a, act, sizeof a);
        assert_memory_equal(rw, rew, sizeof rw);
        dr3_replay_free(back);
        back = NULL;
    }
    dr3_replay_free(r);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, path);
    assert_int_equal(system(cmd), 0);
}

static void test_failures_leave_nothing(void **state) {
    (void)state;
    char path[512], dir[512], p[600];
    /* an empty buffer has no steps: refused, nothing created */
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = 8;
    o.obs_dim = 2;
    o.num_actions = 2;
    dr3_replay *empty = NULL;
    assert_int_equal(dr3_replay_create(&empty, &o), DR3_OK);
    snprintf(path, sizeof path, "%s/empty.h5", tmp_root);
    snprintf(dir, sizeof dir, "%s/empty", tmp_root);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl(empty, path),
                    have_hdf5() ? DR3_ERR_STATE : DR3_ERR_UNSUPPORTED);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl_npy(empty, dir), DR3_ERR_STATE);
    assert_int_equal(count_entries(tmp_root), 0);
    dr3_replay_free(empty);

    dr3_replay *r = make_replay(1);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl(NULL, path), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl(r, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl_npy(r, ""), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl_npy(NULL, dir), DR3_ERR_INVALID_ARG);
    /* a parent that does not exist */
    snprintf(path, sizeof path, "%s/missing/ds.h5", tmp_root);
    snprintf(dir, sizeof dir, "%s/missing/ds", tmp_root);
    if (have_hdf5()) TU_ASSERT_FAILS(dr3_replay_save_d4rl(r, path), DR3_ERR_IO);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl_npy(r, dir), DR3_ERR_IO);
    assert_int_equal(count_entries(tmp_root), 0);

    /* a destination directory holding a file of its own is refused and left as it was */
    snprintf(dir, sizeof dir, "%s/mine", tmp_root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    TU_ASSERT_FAILS(dr3_replay_save_d4rl_npy(r, dir), DR3_ERR_IO);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(count_entries(tmp_root), 1);
    /* a regular file where the directory should be */
    TU_ASSERT_FAILS(dr3_replay_save_d4rl_npy(r, p), DR3_ERR_IO);
    /* an HDF5 destination that is a directory: the rename fails, the directory stays */
    if (have_hdf5()) {
        TU_ASSERT_FAILS(dr3_replay_save_d4rl(r, dir), DR3_ERR_IO);
        assert_int_equal(count_entries(dir), 1);
    }
    assert_int_equal(count_entries(tmp_root), 1);
    unlink(p);
    rmdir(dir);
    dr3_replay_free(r);
}

/* `test_d4rl_write --write DIR`: leaves DIR/d4rl.hdf5 (when HDF5 is built in) and DIR/npy/
 * for tests/reference/check_d4rl_write.py. */
static int write_for_reference(const char *dir) {
    dr3_replay *r = make_replay(1);
    char p[4200];
    snprintf(p, sizeof p, "%s/npy", dir);
    dr3_status st = dr3_replay_save_d4rl_npy(r, p);
    if (st == DR3_OK && have_hdf5()) {
        snprintf(p, sizeof p, "%s/d4rl.hdf5", dir);
        st = dr3_replay_save_d4rl(r, p);
    }
    if (st != DR3_OK) fprintf(stderr, "%s\n", dr3_last_error());
    dr3_replay_free(r);
    return st == DR3_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write") == 0) return write_for_reference(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdf5_round_trip),
        cmocka_unit_test(test_npy_round_trip),
        cmocka_unit_test(test_discrete_u8),
        cmocka_unit_test(test_failures_leave_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
