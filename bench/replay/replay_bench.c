/* Replay benchmarks: uniform sampling throughput (batch 256) for 4-float observations and
 * for 84×84 uint8 frames stacked 4 deep, and the time to open a 1M-transition .npy dataset
 * (written to /tmp first). Prints numbers, not verdicts.
 *   replay_bench [dir-for-the-dataset]   (default /tmp/dr3_bench_npy) */
#include <dr3/replay.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHECK(call)                                                                            \
    do {                                                                                       \
        dr3_status st_ = (call);                                                               \
        if (st_ != DR3_OK) {                                                                   \
            fprintf(stderr, "%s failed: %s\n", #call, dr3_last_error());                       \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

enum { BATCH = 256 };

/* Samples batches for about `secs` seconds; returns transitions per second. */
static double sample_rate(const dr3_replay *r, dr3_replay_batch *b, double secs) {
    dr3_rng rng;
    dr3_rng_seed(&rng, 1);
    long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 20; i++) CHECK(dr3_replay_sample(r, &rng, BATCH, b));
        n += 20 * BATCH;
        t = now() - t0;
    } while (t < secs);
    return (double)n / t;
}

static void fill(dr3_replay *r, size_t steps, size_t obs_bytes, int u8, int continuous) {
    unsigned char *obs = calloc(1, obs_bytes);
    float act[6] = {0};
    int32_t a = 0;
    for (size_t t = 0; t < steps; t++) {
        if (u8)
            memset(obs, (int)(t & 0xff), obs_bytes);
        else
            ((float *)obs)[0] = (float)t;
        int end = t % 200 == 199;
        CHECK(dr3_replay_add(r, obs, continuous ? (void *)act : (void *)&a, 1.0f, 0, end,
                             end ? obs : NULL));
        a = (a + 1) % 2;
    }
    free(obs);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/dr3_bench_npy";
    /* 1. vector observations, CartPole-like: obs_dim 4, 2 actions, 1M rows */
    {
        dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
        o.capacity = 1000000;
        o.obs_dim = 4;
        o.num_actions = 2;
        dr3_replay *r;
        CHECK(dr3_replay_create(&r, &o));
        double t0 = now();
        fill(r, 1000000, 4 * sizeof(float), 0, 0);
        double add_s = now() - t0;
        static float s[BATCH * 4], s2[BATCH * 4], rw[BATCH], d[BATCH];
        static int32_t a[BATCH], a2[BATCH];
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs = s;
        b.ld_obs = 4;
        b.next_obs = s2;
        b.ld_next_obs = 4;
        b.actions = a;
        b.next_actions = a2;
        b.rewards = rw;
        b.discounts = d;
        printf("obs 4 f32, n_step 1: add %.0f transitions/s; sample %.3g transitions/s "
               "(batch %d)\n",
               1e6 / add_s, sample_rate(r, &b, 1.0), BATCH);
        dr3_replay_free(r);
        o.n_step = 3;
        CHECK(dr3_replay_create(&r, &o));
        fill(r, 1000000, 4 * sizeof(float), 0, 0);
        printf("obs 4 f32, n_step 3: sample %.3g transitions/s\n", sample_rate(r, &b, 1.0));
        dr3_replay_free(r);
    }
    /* 2. Atari frames: 84×84 uint8, frame_stack 4 (state 28224 values), 20k rows */
    {
        dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
        o.capacity = 20000;
        o.obs_dim = 84 * 84;
        o.obs_dtype = DR3_DTYPE_U8;
        o.num_actions = 18;
        o.frame_stack = 4;
        dr3_replay *r;
        CHECK(dr3_replay_create(&r, &o));
        fill(r, 20000, 84 * 84, 1, 0);
        size_t sd = dr3_replay_state_dim(r);
        float *s = malloc(BATCH * sd * sizeof(float)), *s2 = malloc(BATCH * sd * sizeof(float));
        unsigned char *u = malloc(BATCH * sd), *u2 = malloc(BATCH * sd);
        int32_t a[BATCH];
        float rw[BATCH], d[BATCH];
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.actions = a;
        b.rewards = rw;
        b.discounts = d;
        b.obs = s;
        b.ld_obs = sd;
        b.next_obs = s2;
        b.ld_next_obs = sd;
        printf("obs 84x84x4 u8 -> f32 (/255): sample %.3g transitions/s\n",
               sample_rate(r, &b, 1.0));
        b.obs = NULL;
        b.next_obs = NULL;
        b.obs_u8 = u;
        b.ld_obs_u8 = sd;
        b.next_obs_u8 = u2;
        b.ld_next_obs_u8 = sd;
        printf("obs 84x84x4 u8 raw bytes:    sample %.3g transitions/s\n",
               sample_rate(r, &b, 1.0));
        free(s);
        free(s2);
        free(u);
        free(u2);
        dr3_replay_free(r);
    }
    /* 3. a 1M-transition .npy dataset (obs 17 f32, actions 6 f32, like D4RL halfcheetah) */
    {
        dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
        o.capacity = 1000000 + 5000;
        o.obs_dim = 17;
        o.action_kind = DR3_ACTION_CONTINUOUS;
        o.action_dim = 6;
        dr3_replay *r;
        CHECK(dr3_replay_create(&r, &o));
        fill(r, 1000000, 17 * sizeof(float), 0, 1);
        double t0 = now();
        CHECK(dr3_replay_save_npy(r, dir));
        double save_s = now() - t0;
        dr3_replay_free(r);
        dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
        t0 = now();
        CHECK(dr3_replay_open_npy(&r, dir, &ro));
        double open_s = now() - t0;
        float s[BATCH * 17], s2[BATCH * 17], a[BATCH * 6], rw[BATCH], d[BATCH];
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs = s;
        b.ld_obs = 17;
        b.next_obs = s2;
        b.ld_next_obs = 17;
        b.actions_f = a;
        b.ld_actions_f = 6;
        b.rewards = rw;
        b.discounts = d;
        printf("1M-transition .npy dataset (obs 17 f32, actions 6 f32, next_observations): "
               "save %.2f s, open %.3f s (page cache warm), %zu sampleable; sample %.3g "
               "transitions/s\n",
               save_s, open_s, dr3_replay_valid_count(r, 0), sample_rate(r, &b, 1.0));
        dr3_replay_free(r);
    }
    return 0;
}
