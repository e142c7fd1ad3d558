/* MinAtar-style games (Young & Tian 2019, arXiv:1903.03176) written from their published
 * rules: Breakout, Freeway, Asterix, Space Invaders and Seaquest on a 10×10 grid with one
 * binary channel per object kind. Part of the static helper library dr3_envs (tools/envs), not
 * of libdr3's ABI. docs/minatar.md lists each game's rules as implemented, the constants this
 * code chose where the published rules give none, and the sources.
 *
 * Observations are uint8 0/1 in channel-major layout C×10×10 (obs[c·100 + row·10 + col],
 * row 0 at the top): the NCHW layout of one sample that libdr3's conv nets take. MinAtar
 * itself returns 10×10×C (channel last); obs here is its transpose.
 *
 * Randomness (the games' spawns and the sticky actions) comes from the environment's own
 * dr3_rng seeded at creation, so a seed and an action sequence fix the trajectory. Steps
 * allocate nothing. Threading: one environment per thread. Tests set positions by hand
 * through minatar_state.h. */
#ifndef DR3_MINATAR_H
#define DR3_MINATAR_H

#include <dr3/dr3.h>

#include <stddef.h>
#include <stdint.h>

#define DR3MT_ROWS  10
#define DR3MT_COLS  10
#define DR3MT_CELLS (DR3MT_ROWS * DR3MT_COLS)
/* The most channels any game has: size observation buffers with this or num_channels. */
#define DR3MT_MAX_CHANNELS 10

typedef struct dr3mt dr3mt;

/* Game names: "breakout", "freeway", "asterix", "space_invaders", "seaquest".
 * NULL-terminated. */
extern const char *const dr3mt_names[];

typedef struct dr3mt_options {
    /* Probability that the previous executed action is repeated instead of the chosen one
     * (MinAtar's sticky actions), in [0, 1]. Default 0.1. */
    double sticky_action_prob;
    /* Nonzero: the game gets harder over time as MinAtar's difficulty ramping does
     * (Asterix: faster spawns and objects; Space Invaders: each new wave faster;
     * Seaquest: faster enemies after each surfacing). Default 1. */
    int difficulty_ramping;
} dr3mt_options;

/* The defaults: sticky_action_prob 0.1, difficulty_ramping 1. */
dr3mt_options dr3mt_default_options(void);

/* Creates a game by name, seeded; opts NULL means the defaults. The episode starts with
 * dr3mt_reset. DR3_ERR_INVALID_ARG for NULL out/game, an unknown name or an option out of
 * range (*out is then NULL); DR3_ERR_NOMEM. */
dr3_status dr3mt_create(dr3mt **out, const char *game, uint64_t seed,
                        const dr3mt_options *opts);
void dr3mt_free(dr3mt *env); /* NULL is a no-op */
const char *dr3mt_name(const dr3mt *env);
/* Channels C of the observation (breakout 4, freeway 7, asterix 4, space_invaders 6,
 * seaquest 10). */
size_t dr3mt_num_channels(const dr3mt *env);
/* The game's minimal action set as MinAtar defines it, numbered 0..n−1 in MinAtar's order
 * of its full set (no-op, left, up, right, down, fire) restricted to the game:
 *   breakout: noop, left, right           freeway: noop, up, down
 *   asterix: noop, left, up, right, down  space_invaders: noop, left, right, fire
 *   seaquest: noop, left, up, right, down, fire */
size_t dr3mt_num_actions(const dr3mt *env);
/* Number of floats/bytes of one observation: num_channels · 100. */
size_t dr3mt_obs_size(const dr3mt *env);

/* Starts an episode and writes the first observation (obs_size bytes). DR3_ERR_INVALID_ARG
 * for NULL. */
dr3_status dr3mt_reset(dr3mt *env, uint8_t *obs);
/* One step: with probability sticky_action_prob the previous executed action is executed
 * again instead of `action` (the first step of an episode repeats no-op). Writes the next
 * observation, the reward and whether the episode ended (terminal; Freeway's 2500-step
 * limit is reported as terminal, as MinAtar does). Errors, with nothing changed:
 * DR3_ERR_INVALID_ARG (NULL), DR3_ERR_RANGE (action outside 0..num_actions−1),
 * DR3_ERR_STATE (no episode running: before the first reset or after the terminal step). */
dr3_status dr3mt_step(dr3mt *env, int action, uint8_t *obs, float *reward, int *terminal);
/* The action executed in the last step (after stickiness), −1 before the first step. */
int dr3mt_last_action(const dr3mt *env);
/* Steps taken in the current episode. */
size_t dr3mt_steps(const dr3mt *env);
/* Writes the current observation again (obs_size bytes). */
dr3_status dr3mt_observe(const dr3mt *env, uint8_t *obs);

#endif
