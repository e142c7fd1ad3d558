/* Pendulum-v1, MountainCarContinuous-v0 and a maze2d-style point maze, with Gym's semantics.
 * Written from the equations in docs/continuous-envs.md (which cites the sources). */
#include "continuous.h"

#include <dr3/sys/errors.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const dr3cenv_names[] = {"pendulum", "mountaincar-continuous", "pointmaze", NULL};

enum kind { PENDULUM, CAR, MAZE };

static const double pi = 3.14159265358979323846;

/* ---- constants ------------------------------------------------------------------------ */

/* Pendulum-v1: θ̈ = 3g/(2l) sin θ + 3/(m l²) u, θ = 0 upright. */
#define PEND_G         10.0
#define PEND_M         1.0
#define PEND_L         1.0
#define PEND_DT        0.05
#define PEND_MAX_SPEED 8.0
#define PEND_MAX_TORQ  2.0

/* MountainCarContinuous-v0. */
#define CAR_POWER    0.0015
#define CAR_GRAVITY  0.0025
#define CAR_MIN_POS  (-1.2)
#define CAR_MAX_POS  0.6
#define CAR_MAX_SPD  0.07
#define CAR_GOAL_POS 0.45
#define CAR_GOAL_VEL 0.0

/* Point maze: D4RL's U_MAZE; row i of the strings is x = i, column j is y = j (D4RL's
 * parse_maze order). Cell (i, j) is the unit square centred on (i, j). */
#define MAZE_N 5
static const char *const maze_map[MAZE_N] = {"#####", "#GOO#", "###O#", "#OOO#", "#####"};
#define MAZE_DT          0.01 /* s per step (MuJoCo timestep 0.01, frame_skip 1) */
#define MAZE_GEAR        100.0
#define MAZE_DAMPING     1.0
#define MAZE_MAX_SPEED   5.0 /* each velocity component is clipped before the step */
#define MAZE_HALF        0.1 /* half-width of the square body */
#define MAZE_GOAL_RADIUS 0.5
#define MAZE_CONTACT_EPS 1e-9 /* overlap below this is contact, not penetration */
/* the mass of D4RL's particle: a sphere of radius 0.1 at density 1000 */
#define MAZE_MASS (1000.0 * 4.0 / 3.0 * pi * 0.001)

struct dr3cenv {
    enum kind kind;
    dr3_rng rng;
    double s[4];
    size_t steps;
    int done;
    float low[2], high[2];
    int dist[MAZE_N][MAZE_N]; /* maze: cell steps to the goal cell, -1 for walls */
    double goal[2];
};

/* ---- helpers -------------------------------------------------------------------------- */

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

static int maze_wall(long i, long j) {
    return i < 0 || j < 0 || i >= MAZE_N || j >= MAZE_N || maze_map[i][j] == '#';
}

/* True when the body centred at (x, y) overlaps a wall cell by more than the contact
 * tolerance. Cell i spans [i − 0.5, i + 0.5], so the body overlaps columns with
 * x − h − 0.5 < i < x + h + 0.5. */
static int maze_blocked(double x, double y) {
    const double h = MAZE_HALF - MAZE_CONTACT_EPS;
    long i0 = (long)floor(x - h - 0.5) + 1, i1 = (long)ceil(x + h + 0.5) - 1;
    long j0 = (long)floor(y - h - 0.5) + 1, j1 = (long)ceil(y + h + 0.5) - 1;
    for (long i = i0; i <= i1; i++)
        for (long j = j0; j <= j1; j++)
            if (maze_wall(i, j)) return 1;
    return 0;
}

/* Moves coordinate `axis` of p by d (|d| < 0.5) from a free position. If that penetrates a
 * wall, the body stops against the face it crossed (the only one it can cross) and the
 * velocity component into the wall is zeroed: an inelastic, frictionless contact. */
static void maze_move_axis(double *p, double *v, int axis, double d) {
    double q[2] = {p[0], p[1]};
    q[axis] += d;
    if (maze_blocked(q[0], q[1])) {
        if (d > 0) /* the leading edge crossed the face k − 0.5, k = ceil(edge − 0.5) */
            q[axis] = ceil(q[axis] + MAZE_HALF - 0.5) - 0.5 - MAZE_HALF;
        else
            q[axis] = floor(q[axis] - MAZE_HALF - 0.5) + 1.5 + MAZE_HALF;
        v[axis] = 0;
    }
    p[axis] = q[axis];
}

static void maze_bfs(dr3cenv *e) {
    int qx[MAZE_N * MAZE_N], qy[MAZE_N * MAZE_N], head = 0, tail = 0;
    for (int i = 0; i < MAZE_N; i++)
        for (int j = 0; j < MAZE_N; j++) {
            e->dist[i][j] = -1;
            if (maze_map[i][j] == 'G') {
                e->dist[i][j] = 0;
                e->goal[0] = i;
                e->goal[1] = j;
                qx[tail] = i;
                qy[tail++] = j;
            }
        }
    static const int di[4] = {1, -1, 0, 0}, dj[4] = {0, 0, 1, -1};
    while (head < tail) {
        int i = qx[head], j = qy[head++];
        for (int k = 0; k < 4; k++) {
            int ni = i + di[k], nj = j + dj[k];
            if (maze_wall(ni, nj) || e->dist[ni][nj] >= 0) continue;
            e->dist[ni][nj] = e->dist[i][j] + 1;
            qx[tail] = ni;
            qy[tail++] = nj;
        }
    }
}

/* ---- creation and queries ------------------------------------------------------------- */

dr3_status dr3cenv_create(dr3cenv **out, const char *name, uint64_t seed) {
    if (out == NULL) return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_create: out is NULL");
    *out = NULL;
    if (name == NULL) return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_create: name is NULL");
    enum kind k;
    if (strcmp(name, "pendulum") == 0)
        k = PENDULUM;
    else if (strcmp(name, "mountaincar-continuous") == 0)
        k = CAR;
    else if (strcmp(name, "pointmaze") == 0)
        k = MAZE;
    else
        return dr3_error_set(DR3_ERR_INVALID_ARG,
                             "dr3cenv_create: unknown environment '%s' (pendulum, "
                             "mountaincar-continuous, pointmaze)",
                             name);
    dr3cenv *e = calloc(1, sizeof *e);
    if (e == NULL) return dr3_error_set(DR3_ERR_NOMEM, "dr3cenv_create: out of memory");
    e->kind = k;
    e->done = 1;
    dr3_rng_seed(&e->rng, seed);
    switch (k) {
    case PENDULUM:
        e->low[0] = (float)-PEND_MAX_TORQ;
        e->high[0] = (float)PEND_MAX_TORQ;
        break;
    case CAR:
        e->low[0] = -1.0f;
        e->high[0] = 1.0f;
        break;
    case MAZE:
        e->low[0] = e->low[1] = -1.0f;
        e->high[0] = e->high[1] = 1.0f;
        maze_bfs(e);
        break;
    }
    *out = e;
    return DR3_OK;
}

void dr3cenv_free(dr3cenv *env) { free(env); }

const char *dr3cenv_name(const dr3cenv *e) { return dr3cenv_names[e->kind]; }
size_t dr3cenv_obs_dim(const dr3cenv *e) {
    return e->kind == PENDULUM ? 3 : e->kind == CAR ? 2 : 4;
}
size_t dr3cenv_action_dim(const dr3cenv *e) { return e->kind == MAZE ? 2 : 1; }
size_t dr3cenv_state_dim(const dr3cenv *e) { return e->kind == MAZE ? 4 : 2; }
const float *dr3cenv_action_low(const dr3cenv *e) { return e->low; }
const float *dr3cenv_action_high(const dr3cenv *e) { return e->high; }
size_t dr3cenv_max_steps(const dr3cenv *e) {
    return e->kind == PENDULUM ? 200 : e->kind == CAR ? 999 : 300;
}
size_t dr3cenv_elapsed(const dr3cenv *e) { return e->steps; }

static void observe(const dr3cenv *e, float *obs) {
    switch (e->kind) {
    case PENDULUM:
        obs[0] = (float)cos(e->s[0]);
        obs[1] = (float)sin(e->s[0]);
        obs[2] = (float)e->s[1];
        break;
    case CAR:
        obs[0] = (float)e->s[0];
        obs[1] = (float)e->s[1];
        break;
    case MAZE:
        for (int i = 0; i < 4; i++) obs[i] = (float)e->s[i];
        break;
    }
}

dr3_status dr3cenv_observe(const dr3cenv *e, float *obs) {
    if (e == NULL || obs == NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_observe: %s is NULL",
                             e == NULL ? "env" : "obs");
    observe(e, obs);
    return DR3_OK;
}

/* ---- reset and state ------------------------------------------------------------------ */

static double uniform(dr3_rng *rng, double lo, double hi) {
    return lo + (hi - lo) * dr3_rng_uniform_double(rng);
}

dr3_status dr3cenv_reset(dr3cenv *e, float *obs) {
    if (e == NULL || obs == NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_reset: %s is NULL",
                             e == NULL ? "env" : "obs");
    switch (e->kind) {
    case PENDULUM:
        e->s[0] = uniform(&e->rng, -pi, pi);
        e->s[1] = uniform(&e->rng, -1.0, 1.0);
        break;
    case CAR:
        e->s[0] = uniform(&e->rng, -0.6, -0.4);
        e->s[1] = 0;
        break;
    case MAZE: {
        /* a free cell (the goal cell included, as D4RL's reset_model draws from
         * empty_and_goal_locations), ±0.1 position noise, N(0, 0.1²) velocities */
        int cells[MAZE_N * MAZE_N][2], n = 0;
        for (int i = 0; i < MAZE_N; i++)
            for (int j = 0; j < MAZE_N; j++)
                if (!maze_wall(i, j)) {
                    cells[n][0] = i;
                    cells[n++][1] = j;
                }
        int c = (int)dr3_rng_below(&e->rng, (uint64_t)n);
        e->s[0] = cells[c][0] + uniform(&e->rng, -0.1, 0.1);
        e->s[1] = cells[c][1] + uniform(&e->rng, -0.1, 0.1);
        e->s[2] = 0.1 * dr3_rng_normal(&e->rng);
        e->s[3] = 0.1 * dr3_rng_normal(&e->rng);
        break;
    }
    }
    e->steps = 0;
    e->done = 0;
    observe(e, obs);
    return DR3_OK;
}

dr3_status dr3cenv_set_state(dr3cenv *e, const double *state) {
    if (e == NULL || state == NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_set_state: %s is NULL",
                             e == NULL ? "env" : "state");
    size_t n = dr3cenv_state_dim(e);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(state[i]))
            return dr3_error_set(DR3_ERR_NONFINITE, "dr3cenv_set_state: state[%zu] is %g", i,
                                 state[i]);
    switch (e->kind) {
    case PENDULUM:
        if (fabs(state[1]) > PEND_MAX_SPEED)
            return dr3_error_set(DR3_ERR_RANGE,
                                 "dr3cenv_set_state: pendulum velocity %g outside [-8, 8]",
                                 state[1]);
        break;
    case CAR:
        if (state[0] < CAR_MIN_POS || state[0] > CAR_MAX_POS || fabs(state[1]) > CAR_MAX_SPD)
            return dr3_error_set(DR3_ERR_RANGE,
                                 "dr3cenv_set_state: car state (%g, %g) outside "
                                 "[-1.2, 0.6] x [-0.07, 0.07]",
                                 state[0], state[1]);
        break;
    case MAZE:
        if (maze_blocked(state[0], state[1]))
            return dr3_error_set(DR3_ERR_RANGE,
                                 "dr3cenv_set_state: maze body at (%g, %g) overlaps a wall",
                                 state[0], state[1]);
        break;
    }
    memcpy(e->s, state, n * sizeof(double));
    e->steps = 0;
    e->done = 0;
    return DR3_OK;
}

dr3_status dr3cenv_get_state(const dr3cenv *e, double *state) {
    if (e == NULL || state == NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_get_state: %s is NULL",
                             e == NULL ? "env" : "state");
    memcpy(state, e->s, dr3cenv_state_dim(e) * sizeof(double));
    return DR3_OK;
}

/* ---- dynamics ------------------------------------------------------------------------- */

static double angle_normalize(double th) {
    double r = fmod(th + pi, 2 * pi); /* Python's % takes the divisor's sign */
    if (r < 0) r += 2 * pi;
    return r - pi;
}

/* Returns the reward; the cost is charged on the state before the step. */
static double pendulum_step(double *s, double u) {
    double th = s[0], thd = s[1], an = angle_normalize(th);
    double cost = an * an + 0.1 * thd * thd + 0.001 * u * u;
    double acc = 3.0 * PEND_G / (2.0 * PEND_L) * sin(th) + 3.0 / (PEND_M * PEND_L * PEND_L) * u;
    double nthd = clampd(thd + acc * PEND_DT, -PEND_MAX_SPEED, PEND_MAX_SPEED);
    s[0] = th + nthd * PEND_DT; /* v1: the clipped velocity moves the angle */
    s[1] = nthd;
    return -cost;
}

static int car_step(double *s, double force) {
    double p = s[0];
    double v = clampd(s[1] + force * CAR_POWER - CAR_GRAVITY * cos(3.0 * p), -CAR_MAX_SPD,
                      CAR_MAX_SPD);
    p = clampd(p + v, CAR_MIN_POS, CAR_MAX_POS);
    if (p == CAR_MIN_POS && v < 0) v = 0;
    s[0] = p;
    s[1] = v;
    return p >= CAR_GOAL_POS && v >= CAR_GOAL_VEL;
}

static double maze_step(dr3cenv *e, const double *a) {
    double *p = e->s, *v = e->s + 2;
    for (int k = 0; k < 2; k++) {
        double vk = clampd(v[k], -MAZE_MAX_SPEED, MAZE_MAX_SPEED);
        v[k] = vk + MAZE_DT * (MAZE_GEAR * a[k] - MAZE_DAMPING * vk) / MAZE_MASS;
    }
    /* semi-implicit Euler: the new velocity moves the body, one axis at a time */
    for (int k = 0; k < 2; k++) maze_move_axis(p, v, k, MAZE_DT * v[k]);
    double dx = p[0] - e->goal[0], dy = p[1] - e->goal[1];
    return sqrt(dx * dx + dy * dy) <= MAZE_GOAL_RADIUS ? 1.0 : 0.0;
}

dr3_status dr3cenv_step(dr3cenv *e, const float *action, float *obs, float *reward,
                        int *terminal, int *truncated) {
    if (e == NULL || action == NULL || obs == NULL || reward == NULL || terminal == NULL ||
        truncated == NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_step: %s is NULL",
                             e == NULL          ? "env"
                             : action == NULL   ? "action"
                             : obs == NULL      ? "obs"
                             : reward == NULL   ? "reward"
                             : terminal == NULL ? "terminal"
                                                : "truncated");
    if (e->done)
        return dr3_error_set(DR3_ERR_STATE,
                             "dr3cenv_step: no episode in progress (call dr3cenv_reset)");
    size_t na = dr3cenv_action_dim(e);
    double a[2];
    for (size_t i = 0; i < na; i++) {
        if (!isfinite(action[i]))
            return dr3_error_set(DR3_ERR_NONFINITE, "dr3cenv_step: action[%zu] is %g", i,
                                 (double)action[i]);
        a[i] = clampd(action[i], e->low[i], e->high[i]);
    }
    int term = 0;
    double r = 0;
    switch (e->kind) {
    case PENDULUM:
        r = pendulum_step(e->s, a[0]);
        break;
    case CAR:
        term = car_step(e->s, a[0]);
        /* Gym charges the action as given, not the clipped force */
        r = (term ? 100.0 : 0.0) - 0.1 * (double)action[0] * (double)action[0];
        break;
    case MAZE:
        r = maze_step(e, a); /* maze2d's sparse reward never ends the episode */
        break;
    }
    e->steps++;
    *terminal = term;
    *truncated = !term && e->steps >= dr3cenv_max_steps(e);
    e->done = *terminal || *truncated;
    *reward = (float)r;
    observe(e, obs);
    return DR3_OK;
}

/* ---- baseline controller and evaluation ----------------------------------------------- */

dr3_status dr3cenv_controller(const dr3cenv *e, const float *obs, float *action) {
    if (e == NULL || obs == NULL || action == NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_controller: %s is NULL",
                             e == NULL     ? "env"
                             : obs == NULL ? "obs"
                                           : "action");
    switch (e->kind) {
    case PENDULUM: {
        /* E = θ̇²/2 + (3g/2l) cos θ grows at dE/dt = (3/ml²) u θ̇; upright at rest is E*. */
        double th = atan2(obs[1], obs[0]), thd = obs[2];
        double k = 3.0 * PEND_G / (2.0 * PEND_L);
        double energy = 0.5 * thd * thd + k * cos(th), target = k;
        double u;
        if (cos(th) > 0.85)
            u = -(10.0 * th + 2.0 * thd);
        else
            u = PEND_MAX_TORQ * (thd >= 0 ? 1.0 : -1.0) * (energy < target ? 1.0 : -1.0);
        action[0] = (float)clampd(u, -PEND_MAX_TORQ, PEND_MAX_TORQ);
        break;
    }
    case CAR:
        action[0] = obs[1] >= 0 ? 1.0f : -1.0f;
        break;
    case MAZE: {
        long ci = lround(obs[0]), cj = lround(obs[1]);
        double w[2] = {e->goal[0], e->goal[1]};
        if (!maze_wall(ci, cj) && e->dist[ci][cj] > 0) {
            static const int di[4] = {1, -1, 0, 0}, dj[4] = {0, 0, 1, -1};
            for (int k = 0; k < 4; k++) {
                long ni = ci + di[k], nj = cj + dj[k];
                if (!maze_wall(ni, nj) && e->dist[ni][nj] == e->dist[ci][cj] - 1) {
                    w[0] = (double)ni;
                    w[1] = (double)nj;
                    break;
                }
            }
        }
        for (int k = 0; k < 2; k++)
            action[k] = (float)clampd(10.0 * (w[k] - obs[k]) - 1.0 * obs[2 + k], -1.0, 1.0);
        break;
    }
    }
    return DR3_OK;
}

dr3_status dr3cenv_evaluate(dr3cenv *e, size_t episodes, dr3cenv_actor_fn act, void *payload,
                            double *mean_return) {
    if (e == NULL || act == NULL || mean_return == NULL || episodes == 0)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3cenv_evaluate: %s",
                             episodes == 0 ? "episodes is 0" : "a NULL argument");
    float obs[4], next[4], action[2], r;
    double total = 0;
    for (size_t ep = 0; ep < episodes; ep++) {
        dr3_status st = dr3cenv_reset(e, obs);
        if (st != DR3_OK) return st;
        int term = 0, trunc = 0;
        while (!term && !trunc) {
            if (act(payload, obs, action) != 0)
                return dr3_error_set(DR3_ERR_CALLBACK,
                                     "dr3cenv_evaluate: the actor failed at step %zu of "
                                     "episode %zu",
                                     e->steps, ep);
            st = dr3cenv_step(e, action, next, &r, &term, &trunc);
            if (st != DR3_OK) return st;
            total += r;
            memcpy(obs, next, sizeof obs);
        }
    }
    *mean_return = total / (double)episodes;
    return DR3_OK;
}
