/* CartPole-v1, MountainCar-v0 and a walled gridworld, with Gym's semantics; the MinAtar
 * games (minatar.c) behind the same interface, their 0/1 planes as floats. */
#include "envs.h"
#include "minatar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const dr3env_names[] = {"cartpole",
                                    "mountaincar",
                                    "gridworld",
                                    "minatar-breakout",
                                    "minatar-freeway",
                                    "minatar-asterix",
                                    "minatar-space_invaders",
                                    "minatar-seaquest",
                                    NULL};

enum kind { CARTPOLE, MOUNTAINCAR, GRIDWORLD, MINATAR };

/* MinAtar episodes end by the game's own rules (Freeway at 2500 steps); this limit only
 * guards against a policy that never loses. */
#define MINATAR_MAX_STEPS 100000

/* Gridworld: 10×10, '#' walls, 'G' goal; start uniformly among free cells except the goal.
 * Rows are listed top (row 0) to bottom. */
#define GW 10
static const char *const grid_map[GW] = {
    "......#...", "......#...", "..#...#...", "..#.......", "..#...####",
    "..#.......", "####......", ".......#..", ".......#..", ".......#.G",
};

struct dr3env {
    enum kind kind;
    const char *name;
    dr3mt *mt;                                   /* MinAtar games */
    uint8_t frame[DR3MT_MAX_CHANNELS * 10 * 10]; /* their last observation */
    dr3_rng rng;
    double s[4];
    size_t steps;
    int done;
    int dist[GW][GW]; /* gridworld: BFS distance to the goal, -1 for walls */
};

static void grid_bfs(dr3env *e) {
    int qx[GW * GW], qy[GW * GW], head = 0, tail = 0;
    for (int y = 0; y < GW; y++)
        for (int x = 0; x < GW; x++) e->dist[y][x] = -1;
    for (int y = 0; y < GW; y++)
        for (int x = 0; x < GW; x++)
            if (grid_map[y][x] == 'G') {
                e->dist[y][x] = 0;
                qx[tail] = x;
                qy[tail++] = y;
            }
    static const int dx[4] = {0, 1, 0, -1}, dy[4] = {-1, 0, 1, 0};
    while (head < tail) {
        int x = qx[head], y = qy[head++];
        for (int k = 0; k < 4; k++) {
            int nx = x + dx[k], ny = y + dy[k];
            if (nx < 0 || ny < 0 || nx >= GW || ny >= GW || grid_map[ny][nx] == '#' ||
                e->dist[ny][nx] >= 0)
                continue;
            e->dist[ny][nx] = e->dist[y][x] + 1;
            qx[tail] = nx;
            qy[tail++] = ny;
        }
    }
}

dr3_status dr3env_create(dr3env **out, const char *name, uint64_t seed) {
    if (out == NULL || name == NULL) return DR3_ERR_INVALID_ARG;
    *out = NULL;
    enum kind k;
    size_t index = 0;
    while (dr3env_names[index] != NULL && strcmp(dr3env_names[index], name) != 0) index++;
    if (dr3env_names[index] == NULL) return DR3_ERR_INVALID_ARG;
    k = index < MINATAR ? (enum kind)index : MINATAR;
    dr3env *e = calloc(1, sizeof *e);
    if (e == NULL) return DR3_ERR_NOMEM;
    e->kind = k;
    e->name = dr3env_names[index];
    if (k == MINATAR) {
        dr3_status st = dr3mt_create(&e->mt, name + strlen("minatar-"), seed, NULL);
        if (st != DR3_OK) {
            free(e);
            return st;
        }
    }
    e->done = 1;
    dr3_rng_seed(&e->rng, seed);
    if (k == GRIDWORLD) grid_bfs(e);
    *out = e;
    return DR3_OK;
}

void dr3env_free(dr3env *env) {
    if (env == NULL) return;
    dr3mt_free(env->mt);
    free(env);
}

const char *dr3env_name(const dr3env *e) { return e->name; }
size_t dr3env_obs_dim(const dr3env *e) {
    if (e->kind == MINATAR) return dr3mt_obs_size(e->mt);
    return e->kind == CARTPOLE ? 4 : 2;
}
size_t dr3env_num_actions(const dr3env *e) {
    if (e->kind == MINATAR) return dr3mt_num_actions(e->mt);
    return e->kind == CARTPOLE ? 2 : e->kind == MOUNTAINCAR ? 3 : 4;
}
size_t dr3env_max_steps(const dr3env *e) {
    if (e->kind == MINATAR) return MINATAR_MAX_STEPS;
    return e->kind == CARTPOLE ? 500 : e->kind == MOUNTAINCAR ? 200 : 100;
}

static void observe(const dr3env *e, float *obs) {
    switch (e->kind) {
    case CARTPOLE:
        for (int i = 0; i < 4; i++) obs[i] = (float)e->s[i];
        break;
    case MOUNTAINCAR:
        obs[0] = (float)e->s[0];
        obs[1] = (float)e->s[1];
        break;
    case GRIDWORLD: /* column and row scaled to [-1, 1] */
        obs[0] = (float)(2.0 * e->s[0] / (GW - 1) - 1.0);
        obs[1] = (float)(2.0 * e->s[1] / (GW - 1) - 1.0);
        break;
    case MINATAR: /* C × 10 × 10 planes of 0/1 */
        for (size_t i = 0; i < dr3mt_obs_size(e->mt); i++) obs[i] = (float)e->frame[i];
        break;
    }
}

dr3_status dr3env_reset(dr3env *e, float *obs) {
    if (e == NULL || obs == NULL) return DR3_ERR_INVALID_ARG;
    switch (e->kind) {
    case CARTPOLE:
        for (int i = 0; i < 4; i++) e->s[i] = 0.1 * dr3_rng_uniform_double(&e->rng) - 0.05;
        break;
    case MOUNTAINCAR:
        e->s[0] = -0.6 + 0.2 * dr3_rng_uniform_double(&e->rng);
        e->s[1] = 0;
        break;
    case GRIDWORLD:
        do {
            e->s[0] = (double)dr3_rng_below(&e->rng, GW);
            e->s[1] = (double)dr3_rng_below(&e->rng, GW);
        } while (grid_map[(int)e->s[1]][(int)e->s[0]] != '.');
        break;
    case MINATAR: {
        dr3_status st = dr3mt_reset(e->mt, e->frame);
        if (st != DR3_OK) return st;
        break;
    }
    }
    e->steps = 0;
    e->done = 0;
    observe(e, obs);
    return DR3_OK;
}

dr3_status dr3env_set_state(dr3env *e, const double *state) {
    if (e == NULL || state == NULL) return DR3_ERR_INVALID_ARG;
    if (e->kind == MINATAR) return DR3_ERR_UNSUPPORTED; /* see minatar_state.h */
    memcpy(e->s, state, sizeof(double) * (e->kind == CARTPOLE ? 4 : 2));
    e->steps = 0;
    e->done = 0;
    return DR3_OK;
}

/* Gym CartPole-v1: gravity 9.8, cart 1.0 kg, pole 0.1 kg, half-length 0.5 m, force 10 N,
 * τ = 0.02 s, explicit Euler; fails beyond 12° or 2.4 m; reward 1 per step. */
static int cartpole_step(double *s, int action) {
    const double g = 9.8, mc = 1.0, mp = 0.1, total = mc + mp, len = 0.5, pml = mp * len;
    const double force = action == 1 ? 10.0 : -10.0, tau = 0.02;
    double x = s[0], xd = s[1], th = s[2], thd = s[3];
    double c = cos(th), sn = sin(th);
    double temp = (force + pml * thd * thd * sn) / total;
    double thacc = (g * sn - c * temp) / (len * (4.0 / 3.0 - mp * c * c / total));
    double xacc = temp - pml * thacc * c / total;
    s[0] = x + tau * xd;
    s[1] = xd + tau * xacc;
    s[2] = th + tau * thd;
    s[3] = thd + tau * thacc;
    const double th_limit = 12.0 * 2.0 * 3.14159265358979323846 / 360.0;
    return s[0] < -2.4 || s[0] > 2.4 || s[2] < -th_limit || s[2] > th_limit;
}

/* Gym MountainCar-v0: force 0.001, gravity 0.0025, velocity in ±0.07, position in
 * [−1.2, 0.6] with an inelastic left wall, goal at 0.5; reward −1 per step. */
static int mountaincar_step(double *s, int action) {
    double v = s[1] + (action - 1) * 0.001 + cos(3 * s[0]) * (-0.0025);
    v = v < -0.07 ? -0.07 : (v > 0.07 ? 0.07 : v);
    double p = s[0] + v;
    if (p < -1.2) p = -1.2;
    if (p > 0.6) p = 0.6;
    if (p == -1.2 && v < 0) v = 0;
    s[0] = p;
    s[1] = v;
    return p >= 0.5 && v >= 0;
}

static const int grid_dx[4] = {0, 1, 0, -1},
                 grid_dy[4] = {-1, 0, 1, 0}; /* up right down left */

static int grid_blocked(int x, int y) {
    return x < 0 || y < 0 || x >= GW || y >= GW || grid_map[y][x] == '#';
}

dr3_status dr3env_step(dr3env *e, int action, float *obs, float *reward, int *terminal,
                       int *truncated) {
    if (e == NULL || obs == NULL || reward == NULL || terminal == NULL || truncated == NULL)
        return DR3_ERR_INVALID_ARG;
    if (e->done) return DR3_ERR_STATE;
    if (action < 0 || (size_t)action >= dr3env_num_actions(e)) return DR3_ERR_RANGE;
    int term = 0;
    float r = 0;
    switch (e->kind) {
    case CARTPOLE:
        term = cartpole_step(e->s, action);
        r = 1.0f;
        break;
    case MOUNTAINCAR:
        term = mountaincar_step(e->s, action);
        r = -1.0f;
        break;
    case GRIDWORLD: {
        int x = (int)e->s[0] + grid_dx[action], y = (int)e->s[1] + grid_dy[action];
        if (!grid_blocked(x, y)) {
            e->s[0] = x;
            e->s[1] = y;
        }
        term = grid_map[(int)e->s[1]][(int)e->s[0]] == 'G';
        r = term ? 1.0f : 0.0f;
        break;
    }
    case MINATAR: {
        dr3_status st = dr3mt_step(e->mt, action, e->frame, &r, &term);
        if (st != DR3_OK) return st;
        break;
    }
    }
    e->steps++;
    *terminal = term;
    *truncated = !term && e->steps >= dr3env_max_steps(e);
    e->done = *terminal || *truncated;
    *reward = r;
    observe(e, obs);
    return DR3_OK;
}

/* ---- behaviour policies ------------------------------------------------------------- */

dr3_status dr3env_policy_probs(const dr3env_policy *p, const float *obs, float *probs) {
    if (p == NULL || p->env == NULL || obs == NULL || probs == NULL || !(p->epsilon >= 0) ||
        p->epsilon > 1)
        return DR3_ERR_INVALID_ARG;
    const dr3env *e = p->env;
    size_t na = dr3env_num_actions(e);
    double ctrl[DR3ENV_MAX_ACTIONS] = {0};
    switch (e->kind) {
    case CARTPOLE:
        ctrl[obs[2] + obs[3] > 0 ? 1 : 0] = 1;
        break;
    case MOUNTAINCAR:
        ctrl[obs[1] >= 0 ? 2 : 0] = 1;
        break;
    case GRIDWORLD: {
        int x = (int)lround((obs[0] + 1.0) * (GW - 1) / 2.0);
        int y = (int)lround((obs[1] + 1.0) * (GW - 1) / 2.0);
        int best = e->dist[y][x], count = 0;
        for (int a = 0; a < 4; a++) {
            int nx = x + grid_dx[a], ny = y + grid_dy[a];
            if (!grid_blocked(nx, ny) && e->dist[ny][nx] == best - 1) {
                ctrl[a] = 1;
                count++;
            }
        }
        if (count == 0) /* at the goal (never asked in practice): uniform */
            for (int a = 0; a < 4; a++) ctrl[a] = 1, count = 4;
        for (int a = 0; a < 4; a++) ctrl[a] /= count;
        break;
    }
    case MINATAR: /* no hand-written controller: the behaviour is uniform */
        for (size_t a = 0; a < na; a++) ctrl[a] = 1.0 / (double)na;
        break;
    }
    for (size_t a = 0; a < na; a++)
        probs[a] = (float)((1 - p->epsilon) * ctrl[a] + p->epsilon / (double)na);
    return DR3_OK;
}

int dr3env_policy_fn(void *payload, size_t n, const float *obs, size_t ld_obs, float *probs,
                     size_t ld_probs) {
    const dr3env_policy *p = payload;
    for (size_t i = 0; i < n; i++)
        if (dr3env_policy_probs(p, obs + i * ld_obs, probs + i * ld_probs) != DR3_OK) return 1;
    return 0;
}

int dr3env_policy_sample(const dr3env_policy *p, const float *obs, dr3_rng *rng) {
    float probs[DR3ENV_MAX_ACTIONS];
    if (dr3env_policy_probs(p, obs, probs) != DR3_OK) return -1;
    size_t na = dr3env_num_actions(p->env);
    double u = dr3_rng_uniform_double(rng), acc = 0;
    for (size_t a = 0; a < na; a++) {
        acc += probs[a];
        if (u < acc) return (int)a;
    }
    for (size_t a = na; a-- > 0;)
        if (probs[a] > 0) return (int)a;
    return 0;
}

/* ---- collection and evaluation ------------------------------------------------------- */

dr3_status dr3env_collect(dr3env *env, const dr3env_policy *p, size_t transitions, float gamma,
                          dr3_rng *rng, dr3_replay *out, float *mc_return) {
    if (env == NULL || p == NULL || rng == NULL || out == NULL || transitions == 0)
        return DR3_ERR_INVALID_ARG;
    float obs[DR3ENV_MAX_OBS], next[DR3ENV_MAX_OBS], reward;
    int term, trunc;
    dr3_status st = dr3env_reset(env, obs);
    size_t episode_start = 0;
    for (size_t t = 0; t < transitions && st == DR3_OK; t++) {
        int32_t a = dr3env_policy_sample(p, obs, rng);
        st = dr3env_step(env, a, next, &reward, &term, &trunc);
        if (st != DR3_OK) break;
        int last = t + 1 == transitions;
        if (last && !term) trunc = 1; /* the data ends: cut the episode */
        int end = term || trunc;
        st = dr3_replay_add(out, obs, &a, reward, term, trunc, end ? next : NULL);
        if (mc_return != NULL) mc_return[t] = reward;
        if (end) {
            if (mc_return != NULL) /* discounted return-to-go, backwards over the episode */
                for (size_t k = t; k-- > episode_start;)
                    mc_return[k] += gamma * mc_return[k + 1];
            episode_start = t + 1;
            if (!last) st = dr3env_reset(env, obs);
        } else {
            memcpy(obs, next, dr3env_obs_dim(env) * sizeof(float));
        }
    }
    return st;
}

dr3_status dr3env_evaluate(dr3env *env, size_t episodes, dr3env_actor_fn act, void *payload,
                           double *mean_return) {
    if (env == NULL || act == NULL || mean_return == NULL || episodes == 0)
        return DR3_ERR_INVALID_ARG;
    double total = 0;
    float obs[DR3ENV_MAX_OBS], reward;
    int term = 0, trunc = 0;
    for (size_t e = 0; e < episodes; e++) {
        dr3_status st = dr3env_reset(env, obs);
        if (st != DR3_OK) return st;
        do {
            int a = act(payload, obs);
            if ((st = dr3env_step(env, a, obs, &reward, &term, &trunc)) != DR3_OK) return st;
            total += reward;
        } while (!term && !trunc);
    }
    *mean_return = total / (double)episodes;
    return DR3_OK;
}
