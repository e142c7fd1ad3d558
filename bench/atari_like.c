/* Writes a synthetic Atari-sized dataset in the DQN Replay layout, for measuring what
 * training on one costs in memory (bench/atari_rss.sh): N frames of 84 x 84 uint8 (a few
 * moving rectangles on a dark background, so gzip compresses them as it does real frames),
 * episodes of 200 to 2000 steps ending in a terminal step, 6 actions, rewards in {0, 1}.
 *   atari_like DIR [frames (default 100000)] [seed]
 * Prints the frame bytes (what the dataset holds in memory once loaded). */
#include <dr3/dr3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { W = 84, FRAME = W * W, ACTIONS = 6 };

static void draw(uint8_t *f, size_t t, const int *x0, const int *y0, const int *vx,
                 const int *vy) {
    memset(f, 16, FRAME);
    for (int k = 0; k < 4; k++) {
        int x = (int)((x0[k] + vx[k] * (long)t) % (W - 8)),
            y = (int)((y0[k] + vy[k] * (long)t) % (W - 6));
        if (x < 0) x += W - 8;
        if (y < 0) y += W - 6;
        for (int dy = 0; dy < 6; dy++) memset(f + (y + dy) * W + x, 64 + 48 * k, 8);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: atari_like DIR [frames] [seed]\n");
        return 2;
    }
    const size_t frames = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 100000;
    const uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = frames + frames / 100 + 16;
    o.obs_dim = FRAME;
    o.obs_dtype = DR3_DTYPE_U8;
    o.num_actions = ACTIONS;
    o.frame_stack = 4;
    dr3_replay *r = NULL;
    if (dr3_replay_create(&r, &o) != DR3_OK) {
        fprintf(stderr, "atari_like: %s\n", dr3_last_error());
        return 1;
    }
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    static uint8_t f[FRAME];
    size_t t = 0;
    while (t < frames) {
        size_t len = 200 + (size_t)dr3_rng_below(&rng, 1801);
        if (t + len > frames) len = frames - t;
        int x0[4], y0[4], vx[4], vy[4];
        for (int k = 0; k < 4; k++) {
            x0[k] = (int)dr3_rng_below(&rng, W - 8);
            y0[k] = (int)dr3_rng_below(&rng, W - 6);
            vx[k] = (int)dr3_rng_below(&rng, 5) - 2;
            vy[k] = (int)dr3_rng_below(&rng, 5) - 2;
        }
        for (size_t s = 0; s < len; s++, t++) {
            draw(f, s, x0, y0, vx, vy);
            int32_t a = (int32_t)dr3_rng_below(&rng, ACTIONS);
            float rew = dr3_rng_below(&rng, 20) == 0 ? 1.0f : 0.0f;
            int last = s + 1 == len;
            if (dr3_replay_add(r, f, &a, rew, last, 0, NULL) != DR3_OK) {
                fprintf(stderr, "atari_like: %s\n", dr3_last_error());
                return 1;
            }
        }
    }
    if (dr3_replay_save_dqn(r, argv[1], 0) != DR3_OK) {
        fprintf(stderr, "atari_like: %s\n", dr3_last_error());
        return 1;
    }
    printf("frames %zu, frame bytes %zu\n", frames, frames * (size_t)FRAME);
    dr3_replay_free(r);
    return 0;
}
