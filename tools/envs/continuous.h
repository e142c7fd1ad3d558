/* Continuous-action environments for the dr3 command, benchmarks and tests: Gym's
 * Pendulum-v1 and MountainCarContinuous-v0, and a point mass in D4RL's maze2d U-maze. Part
 * of the static helper library dr3_envs (tools/envs, never installed), not of libdr3's ABI.
 * docs/continuous-envs.md gives the equations, constants and sources.
 *
 * Gym semantics: a step reports terminal (the task ended: do not bootstrap) or truncated
 * (the time limit: bootstrap), never both; after either, call reset. Each environment owns
 * a dr3_rng seeded at creation, used only by reset, so a seed fixes every episode. Steps
 * allocate nothing. Errors return a negative dr3_status, set dr3_last_error() (through
 * dr3_error_set) and change nothing. One environment must not be used by two threads at
 * once; different environments are independent. */
#ifndef DR3_CONTINUOUS_H
#define DR3_CONTINUOUS_H

#include <dr3/dr3.h>

#include <stddef.h>
#include <stdint.h>

typedef struct dr3cenv dr3cenv;

/* Names: "pendulum", "mountaincar-continuous", "pointmaze". NULL-terminated list. */
extern const char *const dr3cenv_names[];

/* Creates an environment by name, seeded. DR3_ERR_INVALID_ARG (NULL, unknown name),
 * DR3_ERR_NOMEM; *out is NULL on error. The episode starts only at dr3cenv_reset. */
dr3_status dr3cenv_create(dr3cenv **out, const char *name, uint64_t seed);
/* Frees the environment; NULL is a no-op. */
void dr3cenv_free(dr3cenv *env);

/* Queries; env must not be NULL. */
const char *dr3cenv_name(const dr3cenv *env);
size_t dr3cenv_obs_dim(const dr3cenv *env);    /* pendulum 3, car 2, maze 4 */
size_t dr3cenv_action_dim(const dr3cenv *env); /* pendulum 1, car 1, maze 2 */
size_t dr3cenv_state_dim(const dr3cenv *env);  /* doubles taken by dr3cenv_set_state */
/* Per-dimension action bounds, arrays of action_dim floats owned by the environment. */
const float *dr3cenv_action_low(const dr3cenv *env);
const float *dr3cenv_action_high(const dr3cenv *env);
size_t dr3cenv_max_steps(const dr3cenv *env); /* the time limit: 200, 999, 300 */
size_t dr3cenv_elapsed(const dr3cenv *env);   /* steps taken in the current episode */

/* Starts an episode from the environment's reset distribution and writes the first
 * observation (obs_dim floats). DR3_ERR_INVALID_ARG for NULL. */
dr3_status dr3cenv_reset(dr3cenv *env, float *obs);

/* One step. action has action_dim floats; each is clipped to [low, high] as Gym does
 * (MountainCarContinuous, like Gym, charges its energy cost on the action as given).
 * Writes the next observation, the reward and the two flags.
 * Errors: DR3_ERR_INVALID_ARG (NULL), DR3_ERR_NONFINITE (a NaN or infinite action),
 * DR3_ERR_STATE (no episode: never reset, or it ended). Nothing changes on error. */
dr3_status dr3cenv_step(dr3cenv *env, const float *action, float *obs, float *reward,
                        int *terminal, int *truncated);

/* Sets the internal state (tests, planning) and starts a fresh episode there (step counter
 * 0): pendulum θ (rad, 0 upright, any value), θ̇ (rad/s, |θ̇| <= 8); car position in
 * [−1.2, 0.6], velocity in [−0.07, 0.07]; maze x, y, vx, vy with the body in free space.
 * DR3_ERR_INVALID_ARG (NULL), DR3_ERR_NONFINITE, DR3_ERR_RANGE (outside those sets). */
dr3_status dr3cenv_set_state(dr3cenv *env, const double *state);
/* Copies the internal state (state_dim doubles, the layout of set_state). */
dr3_status dr3cenv_get_state(const dr3cenv *env, double *state);
/* Writes the observation of the current state without stepping. */
dr3_status dr3cenv_observe(const dr3cenv *env, float *obs);

/* The hand-written baseline controller, a deterministic function of the observation:
 *   pendulum: bang-bang energy pumping towards the upright energy, a PD hold near the top;
 *   mountaincar-continuous: full throttle along the velocity (right when it is 0);
 *   pointmaze: D4RL's waypoint rule, a = clip(10 (w − p) − v) towards the centre of the
 *   next cell on a shortest cell path to the goal (the goal itself in the goal cell).
 * Writes action_dim floats within the bounds. DR3_ERR_INVALID_ARG for NULL. */
dr3_status dr3cenv_controller(const dr3cenv *env, const float *obs, float *action);

/* An actor: writes an action for an observation; non-zero means failure. */
typedef int (*dr3cenv_actor_fn)(void *payload, const float *obs, float *action);
/* Runs `episodes` episodes (reset … terminal/truncated) with `act` and writes the mean
 * undiscounted return. DR3_ERR_INVALID_ARG (NULL, episodes 0), DR3_ERR_CALLBACK (the actor
 * failed), or a step's error (a non-finite action). */
dr3_status dr3cenv_evaluate(dr3cenv *env, size_t episodes, dr3cenv_actor_fn act, void *payload,
                            double *mean_return);

#endif
