/* Environments and behaviour policies for the dr3 command, benchmarks and tests (the
 * static helper library dr3_envs in tools/envs, never installed). Not part of libdr3's ABI.
 * Dynamics follow Gym's classic-control definitions; docs/environments.md lists the
 * constants and sources and says why this code lives here. */
#ifndef DR3_ENVS_H
#define DR3_ENVS_H

#include <dr3/dr3.h>

#include <stddef.h>
#include <stdint.h>

typedef struct dr3env dr3env;

/* Largest observation (Seaquest's 10 planes of 10 × 10) and action set of any environment. */
#define DR3ENV_MAX_OBS     1000
#define DR3ENV_MAX_ACTIONS 8

/* Names: "cartpole", "mountaincar", "gridworld", and the MinAtar games "minatar-breakout",
 * "minatar-freeway", "minatar-asterix", "minatar-space_invaders", "minatar-seaquest" (C × 10
 * × 10 planes of 0/1 as floats, MinAtar's minimal action sets, sticky actions 0.1;
 * docs/minatar.md). NULL-terminated list. */
extern const char *const dr3env_names[];

/* Creates an environment by name, seeded (resets draw from the environment's own
 * generator). DR3_ERR_INVALID_ARG for an unknown name. */
dr3_status dr3env_create(dr3env **out, const char *name, uint64_t seed);
void dr3env_free(dr3env *env);
const char *dr3env_name(const dr3env *env);
size_t dr3env_obs_dim(const dr3env *env);
size_t dr3env_num_actions(const dr3env *env);
size_t dr3env_max_steps(const dr3env *env); /* the time limit */

/* Starts an episode and writes the first observation. */
dr3_status dr3env_reset(dr3env *env, float *obs);
/* One step with Gym semantics: terminal = the task ended (do not bootstrap); truncated =
 * the time limit was reached (bootstrap). After either, call reset. DR3_ERR_RANGE for an
 * invalid action, DR3_ERR_STATE when the episode is over. */
dr3_status dr3env_step(dr3env *env, int action, float *obs, float *reward, int *terminal,
                       int *truncated);
/* Sets the internal state directly (tests): CartPole x, ẋ, θ, θ̇; MountainCar position,
 * velocity; gridworld column, row. Also resets the step counter. */
dr3_status dr3env_set_state(dr3env *env, const double *state);

/* Behaviour policies with exact action probabilities: with probability 1 − epsilon the
 * environment's hand-written controller, else uniform. The controller is
 *   cartpole: push right iff θ + θ̇ > 0;  mountaincar: push in the direction of the
 *   velocity (right when 0);  gridworld: a uniformly random move among those on a shortest
 *   path to the goal. */
typedef struct dr3env_policy {
    const dr3env *env;
    double epsilon;
} dr3env_policy;

/* π(·|obs) for one observation into probs[num_actions]. */
dr3_status dr3env_policy_probs(const dr3env_policy *p, const float *obs, float *probs);
/* A dr3_policy_fn (dr3/backup.h) over a batch; payload is a const dr3env_policy *. */
int dr3env_policy_fn(void *payload, size_t n, const float *obs, size_t ld_obs, float *probs,
                     size_t ld_probs);
/* Draws an action from π(·|obs). */
int dr3env_policy_sample(const dr3env_policy *p, const float *obs, dr3_rng *rng);

/* Rolls the policy for `transitions` steps (episodes restart as needed; the last episode
 * is cut at the end, flagged truncated) into a replay buffer created by the caller with the
 * environment's obs_dim and num_actions. If mc_return is non-NULL it receives, per stored
 * step in order, the discounted return-to-go within its episode (a truncated episode's
 * return is the truncated sum). */
dr3_status dr3env_collect(dr3env *env, const dr3env_policy *p, size_t transitions, float gamma,
                          dr3_rng *rng, dr3_replay *out, float *mc_return);

/* Mean undiscounted return of `episodes` episodes acted by `act` (returns an action for an
 * observation). */
typedef int (*dr3env_actor_fn)(void *payload, const float *obs);
dr3_status dr3env_evaluate(dr3env *env, size_t episodes, dr3env_actor_fn act, void *payload,
                           double *mean_return);

#endif
