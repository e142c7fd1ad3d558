/* Writes the HDF5 fixtures read by tests/test_hdf5.c, in the layouts D4RL and Minari store
 * (h5py conventions: bools are an int8 enum {FALSE, TRUE}). Build and run by hand:
 *   cc -I/usr/include/hdf5/serial gen_fixtures.c -lhdf5_serial -o /tmp/gen && /tmp/gen .
 * The values follow simple formulas restated in the test. CI never runs this. */
#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static hid_t bool_type(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char f = 0, tr = 1;
    H5Tenum_insert(t, "FALSE", &f);
    H5Tenum_insert(t, "TRUE", &tr);
    return t;
}

static void put(hid_t loc, const char *name, hid_t mem, hid_t file_t, int nd, hsize_t d0,
                hsize_t d1, const void *data) {
    hsize_t dims[2] = {d0, d1};
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, file_t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    H5Sclose(sp);
}

static void put_bool(hid_t loc, const char *name, hsize_t n, const signed char *v) {
    hid_t t = bool_type();
    put(loc, name, t, t, 1, n, 0, v);
    H5Tclose(t);
}

static hid_t create(const char *dir, const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

/* D4RL: continuous actions, timeouts, no next_observations, extra groups */
static void d4rl_continuous(const char *dir, const char *name, int variant) {
    hid_t f = create(dir, name);
    float obs[8][3], act[8][2], rew[8];
    signed char term[8] = {0, 0, 1, 0, 0, 0, 0, 0}, tout[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 3; j++) obs[i][j] = (float)i + 0.1f * (float)j;
        act[i][0] = 0.5f * (float)i;
        act[i][1] = -0.5f * (float)i;
        rew[i] = (float)i;
    }
    if (variant == 1) obs[4][1] = NAN;
    if (variant == 2) term[3] = 2;
    if (variant == 5) { /* observations as a group, like a Dict space */
        hid_t g = H5Gcreate2(f, "observations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        put(g, "pos", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, 8, 3, obs);
        H5Gclose(g);
    } else {
        put(f, "observations", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, 8, 3, obs);
    }
    put(f, "actions", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, 8, 2, act);
    if (variant != 3) /* 3: rewards missing */
        put(f, "rewards", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, variant == 4 ? 7 : 8, 0, rew);
    put_bool(f, "terminals", 8, term);
    put_bool(f, "timeouts", 8, tout);
    hid_t g = H5Gcreate2(f, "infos", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put(g, "qpos", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, 8, 3, obs);
    H5Gclose(g);
    g = H5Gcreate2(f, "metadata", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);
}

/* D4RL-style: float64 observations, int64 discrete actions, uint8 terminals,
 * next_observations */
static void d4rl_discrete(const char *dir, const char *name, int variant) {
    hid_t f = create(dir, name);
    double obs[5][2], nobs[5][2], rew[5] = {1, 2, 3, 4, 5};
    long long act[5] = {0, 2, 1, 2, 0};
    if (variant == 1) act[3] = 2 | (1LL << 25); /* one flipped bit: 33554434 */
    unsigned char term[5] = {0, 1, 0, 0, 1};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++) {
            obs[i][j] = i * 10 + j;
            nobs[i][j] = obs[i][j] + 1000;
        }
    put(f, "observations", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, 5, 2, obs);
    put(f, "next_observations", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, 5, 2, nobs);
    put(f, "actions", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, 5, 0, act);
    put(f, "rewards", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, 5, 0, rew);
    put(f, "terminals", H5T_NATIVE_UCHAR, H5T_STD_U8LE, 1, 5, 0, term);
    H5Fclose(f);
}

/* D4RL layout declaring 10^9 rows that were never written: libhdf5 allocates no storage
 * (contiguous layout, late allocation), so the file is a few KB. */
static void d4rl_unwritten(const char *dir) {
    hid_t f = create(dir, "d4rl_bad_unwritten_rows.h5");
    const hsize_t n = 1000000000ULL;
    const char *names[4] = {"observations", "actions", "rewards", "terminals"};
    hid_t types[4] = {H5T_IEEE_F32LE, H5T_STD_I64LE, H5T_IEEE_F32LE, H5T_STD_U8LE};
    for (int i = 0; i < 4; i++) {
        hsize_t dims[2] = {n, 4};
        hid_t sp = H5Screate_simple(i == 0 ? 2 : 1, dims, NULL);
        hid_t ds = H5Dcreate2(f, names[i], types[i], sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

/* d4rl_bad_crashes_libhdf5.h5 is d4rl_continuous.h5 with three bytes changed (found by
 * mutating it at random, as tests/fuzz/fuzz_hdf5.c does): libhdf5 1.10.8 dereferences a bad
 * pointer inside H5Dopen2 (H5O_msg_read) and the process dies with SIGSEGV. */
static void d4rl_crash(const char *dir) {
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/d4rl_continuous.h5", dir);
    snprintf(dst, sizeof dst, "%s/d4rl_bad_crashes_libhdf5.h5", dir);
    unsigned char buf[1 << 16];
    FILE *in = fopen(src, "rb");
    size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in) fclose(in);
    const size_t at[3] = {1848, 4439, 5233};
    const unsigned char to[3] = {0x20, 0x01, 0xfd};
    for (int i = 0; i < 3; i++)
        if (at[i] < n) buf[at[i]] = to[i];
    FILE *out = fopen(dst, "wb");
    if (out) {
        fwrite(buf, 1, n, out);
        fclose(out);
    }
}

/* Minari main_data.hdf5: episode_<i> groups */
static void minari(const char *dir, const char *name, int variant) {
    hid_t f = create(dir, name);
    const int T[3] = {3, 2, 2};
    const int nep = variant == 4 ? 0 : 3;
    for (int e = 0; e < nep; e++) {
        char gname[32];
        snprintf(gname, sizeof gname, "episode_%d", e);
        hid_t g = H5Gcreate2(f, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        long long id = e, steps = T[e];
        hid_t as = H5Screate(H5S_SCALAR);
        hid_t at = H5Acreate2(g, "id", H5T_STD_I64LE, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, H5T_NATIVE_LLONG, &id);
        H5Aclose(at);
        at = H5Acreate2(g, "total_steps", H5T_STD_I64LE, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, H5T_NATIVE_LLONG, &steps);
        H5Aclose(at);
        H5Sclose(as);
        double obs[4][2], rew[3];
        long long act[3];
        signed char term[3] = {0, 0, 0}, trunc[3] = {0, 0, 0};
        for (int t = 0; t <= T[e]; t++)
            for (int j = 0; j < 2; j++) obs[t][j] = 10.0 * e + t + 0.5 * j;
        for (int t = 0; t < T[e]; t++) {
            rew[t] = e + t;
            act[t] = (e + t) % 3;
        }
        if (e == 0) term[T[e] - 1] = 1;
        if (e == 1) trunc[T[e] - 1] = 1;
        if (variant == 2 && e == 0) term[0] = 1; /* ends before its last step */
        int nobs = T[e] + 1 - (variant == 1 && e == 1);
        if (variant == 3 && e == 2) {
            hid_t og = H5Gcreate2(g, "observations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            put(og, "position", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, (hsize_t)nobs, 2, obs);
            H5Gclose(og);
        } else {
            put(g, "observations", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, (hsize_t)nobs, 2, obs);
        }
        put(g, "actions", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, (hsize_t)T[e], 0, act);
        put(g, "rewards", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, (hsize_t)T[e], 0, rew);
        put_bool(g, "terminations", (hsize_t)T[e], term);
        put_bool(g, "truncations", (hsize_t)T[e], trunc);
        hid_t ig = H5Gcreate2(g, "infos", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(ig);
        H5Gclose(g);
    }
    H5Fclose(f);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    d4rl_continuous(dir, "d4rl_continuous.h5", 0);
    d4rl_continuous(dir, "d4rl_bad_nan_obs.h5", 1);
    d4rl_continuous(dir, "d4rl_bad_flag.h5", 2);
    d4rl_continuous(dir, "d4rl_bad_no_rewards.h5", 3);
    d4rl_continuous(dir, "d4rl_bad_lengths.h5", 4);
    d4rl_continuous(dir, "d4rl_bad_obs_group.h5", 5);
    d4rl_discrete(dir, "d4rl_discrete_next.h5", 0);
    d4rl_discrete(dir, "d4rl_bad_huge_action.h5", 1);
    d4rl_unwritten(dir);
    d4rl_crash(dir);
    minari(dir, "minari_main_data.hdf5", 0);
    minari(dir, "minari_bad_obs_rows.hdf5", 1);
    minari(dir, "minari_bad_early_end.hdf5", 2);
    minari(dir, "minari_bad_dict_obs.hdf5", 3);
    minari(dir, "minari_bad_no_episodes.hdf5", 4);
    return 0;
}
