/*
 * custom_loop.c — the DR3 loss inside your own training loop.
 *
 * This program owns its network, its data and its update; it only asks libdr3 for two
 * losses and their gradients:
 *   dr3_td_loss          the TD regression loss and dL/dQ(s,a)
 *   dr3_feature_dot_loss the DR3 term c0 * mean_i φ(s_i)·φ(s'_i) and dL/dφ, dL/dφ'
 * and pushes the feature gradients back through its own layers.
 *
 * Task: offline Q-learning on a 12-state chain (move left/right, reward 1 for reaching
 * the right end, which is terminal; γ = 0.9) from 2,000 uniformly random transitions.
 * Observations are a 4-number encoding of the position. The network is 4 → 32 (ReLU) → 2,
 * φ(s) is the 32-unit hidden layer. The program trains once without DR3 and once with it
 * and prints, for each, the TD loss, the mean feature dot product φ(s)·φ(s') and the error
 * against the exact Q* from value iteration.
 *
 * Build against an installed libdr3:
 *   cc custom_loop.c $(pkg-config --cflags --libs dr3) -lm -o custom_loop
 * Run:  ./custom_loop [--quick] [--c0 X] [--steps N]
 */
#include <dr3/dr3.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_STATES = 12, N_ACTIONS = 2, OBS = 4, HID = 32, BATCH = 64, DATA = 2000 };
static const float GAMMA = 0.9f;

/* ---- the environment and its exact solution ------------------------------------- */

static void observe(int s, float *obs) {
    float x = (float)s / (N_STATES - 1);
    obs[0] = x;
    obs[1] = x * x;
    obs[2] = sinf(3.14159265f * x);
    obs[3] = cosf(3.14159265f * x);
}

/* One move; returns the next state, sets reward and terminal. */
static int chain_step(int s, int a, float *reward, int *terminal) {
    int next = a == 1 ? s + 1 : (s > 0 ? s - 1 : 0);
    *terminal = next == N_STATES - 1;
    *reward = *terminal ? 1.0f : 0.0f;
    return next;
}

static void value_iteration(double qstar[N_STATES][N_ACTIONS]) {
    memset(qstar, 0, sizeof(double) * N_STATES * N_ACTIONS);
    for (int it = 0; it < 500; it++)
        for (int s = 0; s < N_STATES - 1; s++)
            for (int a = 0; a < N_ACTIONS; a++) {
                float r;
                int done, next = chain_step(s, a, &r, &done);
                double v = qstar[next][0] > qstar[next][1] ? qstar[next][0] : qstar[next][1];
                qstar[s][a] = r + (done ? 0.0 : GAMMA * v);
            }
}

/* ---- our own little network: obs -> ReLU(W1 obs + b1) = phi -> W2 phi + b2 ------- */

typedef struct net {
    float w1[HID][OBS], b1[HID], w2[N_ACTIONS][HID], b2[N_ACTIONS];
} net;

static void net_init(net *m, dr3_rng *rng) {
    for (int h = 0; h < HID; h++) {
        for (int i = 0; i < OBS; i++) m->w1[h][i] = (dr3_rng_uniform(rng) * 2 - 1) * 0.5f;
        m->b1[h] = (dr3_rng_uniform(rng) * 2 - 1) * 0.5f;
    }
    for (int a = 0; a < N_ACTIONS; a++) {
        for (int h = 0; h < HID; h++) m->w2[a][h] = (dr3_rng_uniform(rng) * 2 - 1) * 0.18f;
        m->b2[a] = 0;
    }
}

static void net_forward(const net *m, const float *obs, float *phi, float *q) {
    for (int h = 0; h < HID; h++) {
        float z = m->b1[h];
        for (int i = 0; i < OBS; i++) z += m->w1[h][i] * obs[i];
        phi[h] = z > 0 ? z : 0;
    }
    for (int a = 0; a < N_ACTIONS; a++) {
        float z = m->b2[a];
        for (int h = 0; h < HID; h++) z += m->w2[a][h] * phi[h];
        q[a] = z;
    }
}

/* Accumulates into g the gradient of one row: dq (dL/dQ), dphi (extra dL/dphi). */
static void net_backward(const net *m, net *g, const float *obs, const float *phi,
                         const float *dq, const float *dphi_extra) {
    float dphi[HID];
    for (int h = 0; h < HID; h++) dphi[h] = dphi_extra ? dphi_extra[h] : 0;
    for (int a = 0; a < N_ACTIONS; a++) {
        if (dq[a] == 0) continue;
        g->b2[a] += dq[a];
        for (int h = 0; h < HID; h++) {
            g->w2[a][h] += dq[a] * phi[h];
            dphi[h] += dq[a] * m->w2[a][h];
        }
    }
    for (int h = 0; h < HID; h++) {
        if (phi[h] <= 0) continue; /* ReLU gate */
        g->b1[h] += dphi[h];
        for (int i = 0; i < OBS; i++) g->w1[h][i] += dphi[h] * obs[i];
    }
}

/* ---- the offline dataset ---------------------------------------------------------- */

typedef struct transition {
    float obs[OBS], next_obs[OBS], reward, done;
    int action, state;
} transition;

static void make_dataset(transition *data, dr3_rng *rng) {
    for (int i = 0; i < DATA; i++) {
        transition *t = &data[i];
        int s = (int)dr3_rng_below(rng, N_STATES - 1), terminal;
        t->state = s;
        t->action = (int)dr3_rng_below(rng, N_ACTIONS);
        int next = chain_step(s, t->action, &t->reward, &terminal);
        t->done = (float)terminal;
        observe(s, t->obs);
        observe(next, t->next_obs);
    }
}

/* ---- one training run -------------------------------------------------------------- */

static int check(dr3_status st, const char *what) {
    if (st == DR3_OK) return 0;
    fprintf(stderr, "%s failed: %s (%s)\n", what, dr3_status_str(st), dr3_last_error());
    return 1;
}

typedef struct run_result {
    float dot, q_error;
} run_result;

static int train(const transition *data, float c0, int steps, int report_every,
                 run_result *res) {
    static net online, target, grad;
    static float phi[BATCH][HID], phi_next[BATCH][HID], q[BATCH][N_ACTIONS];
    static float q_next_unused[BATCH][N_ACTIONS], q_target[BATCH][N_ACTIONS];
    static float gphi[BATCH][HID], gphi_next[BATCH][HID];
    float q_taken[BATCH], y[BATCH], gq[BATCH], tmp_phi[HID];
    const float lr = 0.05f;
    double qstar[N_STATES][N_ACTIONS];
    dr3_rng rng;

    value_iteration(qstar);
    dr3_rng_seed(&rng, 7);
    net_init(&online, &rng);
    target = online;
    printf("  %6s %10s %10s %12s %10s\n", "step", "TD loss", "DR3 term", "phi.phi'", "|Q-Q*|");
    for (int step = 1; step <= steps; step++) {
        const transition *batch[BATCH];
        for (int i = 0; i < BATCH; i++) batch[i] = &data[dr3_rng_below(&rng, DATA)];

        /* forward: online on s and s', target on s' */
        for (int i = 0; i < BATCH; i++) {
            net_forward(&online, batch[i]->obs, phi[i], q[i]);
            net_forward(&online, batch[i]->next_obs, phi_next[i], q_next_unused[i]);
            net_forward(&target, batch[i]->next_obs, tmp_phi, q_target[i]);
            float v = fmaxf(q_target[i][0], q_target[i][1]); /* Q-learning backup */
            y[i] = batch[i]->reward + GAMMA * (1 - batch[i]->done) * v;
            q_taken[i] = q[i][batch[i]->action];
        }

        /* losses from libdr3: gradients are ADDED, so clear the buffers first */
        float td, reg;
        memset(gq, 0, sizeof gq);
        memset(gphi, 0, sizeof gphi);
        memset(gphi_next, 0, sizeof gphi_next);
        if (check(dr3_td_loss(BATCH, q_taken, y, NULL, DR3_TD_MSE, 0, &td, gq), "td loss") ||
            check(dr3_feature_dot_loss(BATCH, HID, &phi[0][0], HID, &phi_next[0][0], HID, c0,
                                       &reg, &gphi[0][0], &gphi_next[0][0]),
                  "dr3 loss"))
            return 1;

        /* backward through our own network, for both the s rows and the s' rows */
        memset(&grad, 0, sizeof grad);
        for (int i = 0; i < BATCH; i++) {
            float dq[N_ACTIONS] = {0, 0}, none[N_ACTIONS] = {0, 0};
            dq[batch[i]->action] = gq[i];
            net_backward(&online, &grad, batch[i]->obs, phi[i], dq, gphi[i]);
            net_backward(&online, &grad, batch[i]->next_obs, phi_next[i], none, gphi_next[i]);
        }
        float *p = (float *)&online, *g = (float *)&grad;
        for (size_t k = 0; k < sizeof online / sizeof(float); k++) p[k] -= lr * g[k];
        if (step % 50 == 0) target = online;

        if (step % report_every == 0 || step == steps) {
            /* c0 may be 0, so measure the dot product itself with coefficient 1 */
            float dot;
            dr3_feature_dot_loss(BATCH, HID, &phi[0][0], HID, &phi_next[0][0], HID, 1.0f, &dot,
                                 NULL, NULL);
            double err = 0;
            float o[OBS], f[HID], qs[N_ACTIONS];
            for (int s = 0; s < N_STATES - 1; s++) {
                observe(s, o);
                net_forward(&online, o, f, qs);
                for (int a = 0; a < N_ACTIONS; a++) err += fabs(qs[a] - qstar[s][a]);
            }
            res->dot = dot;
            res->q_error = (float)(err / ((N_STATES - 1) * N_ACTIONS));
            printf("  %6d %10.5f %10.5f %12.4f %10.4f\n", step, td, reg, dot, res->q_error);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int steps = 6000;
    float c0 = 0.1f;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            steps = 600;
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--c0") == 0 && i + 1 < argc)
            c0 = (float)atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--steps N] [--c0 X]\n", argv[0]);
            return 2;
        }
    }
    if (steps <= 0 || !(c0 >= 0)) {
        fprintf(stderr, "custom_loop: --steps must be > 0 and --c0 >= 0\n");
        return 2;
    }
    printf("libdr3 %s (headers %s)\n", dr3_version(), DR3_VERSION_STRING);

    static transition data[DATA];
    dr3_rng rng;
    dr3_rng_seed(&rng, 2022);
    make_dataset(data, &rng);

    int every = steps >= 1000 ? steps / 6 : steps / 3;
    if (every == 0) every = 1;
    run_result plain, reg;
    printf("\nOffline Q-learning, no regularizer:\n");
    if (train(data, 0.0f, steps, every, &plain)) return 1;
    printf("\nOffline Q-learning + DR3 (c0 = %g):\n", c0);
    if (train(data, c0, steps, every, &reg)) return 1;
    printf("\nFinal phi(s).phi(s'): %.4f without DR3, %.4f with (%.1fx smaller);\n"
           "mean |Q - Q*|: %.4f without, %.4f with.\n",
           plain.dot, reg.dot, reg.dot > 0 ? plain.dot / reg.dot : 0.0, plain.q_error,
           reg.q_error);
    return 0;
}
