/*
 * net_dr3_loop.c — DR3 in your own update, with libdr3's network (dr3_net) and optimizer.
 *
 * The update() below is the whole recipe (the README and docs/tutorial-custom-loop.md show
 * it): one forward of the online network on the stacked batch [s; s'] (2n rows) gives
 * Q(s,·) and both feature sets φ(s) (rows 0..n-1) and φ(s') (rows n..2n-1); the DR3 term's
 * gradients for both go into ONE backward over the same 2n rows, as grad_features, next to
 * the TD gradient on the Q outputs of the first n rows. The features pointer lives in the
 * network's workspace: it is invalidated by the next forward or backward of that network,
 * so the target values come from the target network (its own workspace) and the DR3 loss is
 * computed before the backward.
 *
 * Task: offline DQN (Huber TD, Polyak target) on an 8-state chain (right moves toward a
 * terminal reward of 1, γ = 0.9) from 1,000 random transitions, trained with c0 = 0 and
 * c0 = 0.1; prints the TD loss, the mean φ(s)·φ(s') and the error against Q*.
 *
 * Build against an installed libdr3:
 *   cc net_dr3_loop.c $(pkg-config --cflags --libs dr3) -lm -o net_dr3_loop
 */
#include <dr3/dr3.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STATES = 8, ACTIONS = 2, OBS = 3, HID = 32, N = 64, DATA = 1000 };
static const float GAMMA = 0.9f;

/* Buffers of one update, sized for the stacked batch (2N rows). */
typedef struct work {
    float obs2[2 * N * OBS]; /* rows 0..N-1: s, rows N..2N-1: s' */
    int32_t a[N];
    float r[N], done[N];
    float q[2 * N * ACTIONS], qt[N * ACTIONS], y[N], qa[N], gq[N];
    float gout[2 * N * ACTIONS], gphi[2 * N * HID];
} work;

/* One DQN + DR3 update on the n transitions in w (obs2, a, r, done). */
static dr3_status update(dr3_net *online, dr3_net *target, dr3_optim *opt, size_t n, float c0,
                         work *w, float *td, float *dot) {
    const size_t S = OBS, A = ACTIONS, d = dr3_net_feature_dim(online);
    const float *phi = NULL; /* n × d for s, then n × d for s' (row stride d) */
    float reg = 0;
    dr3_status st;
    /* 1. targets from the target network (its own workspace: online's φ stays valid) */
    st = dr3_net_forward(target, n, w->obs2 + n * S, S, NULL, 0, w->qt, A, NULL);
    if (st != DR3_OK) return st;
    for (size_t i = 0; i < n; i++) {
        float v = fmaxf(w->qt[i * A], w->qt[i * A + 1]);
        w->y[i] = w->r[i] + GAMMA * (1 - w->done[i]) * v;
    }
    /* 2. ONE online forward on the 2n stacked rows: Q(s,·), Q(s',·), φ(s), φ(s') */
    st = dr3_net_forward(online, 2 * n, w->obs2, S, NULL, 0, w->q, A, &phi);
    if (st != DR3_OK) return st;
    for (size_t i = 0; i < n; i++) w->qa[i] = w->q[i * A + (size_t)w->a[i]];
    /* 3. losses; both ADD their gradients, so start from zeros */
    memset(w->gq, 0, n * sizeof(float));
    memset(w->gout, 0, 2 * n * A * sizeof(float));
    memset(w->gphi, 0, 2 * n * d * sizeof(float));
    st = dr3_td_loss(n, w->qa, w->y, NULL, DR3_TD_HUBER, 1.0f, td, w->gq);
    if (st != DR3_OK) return st;
    /* c0 (1/n) Σ φ(s_i)·φ(s'_i): dL/dφ(s) into rows 0..n-1, dL/dφ(s') into rows n..2n-1 */
    st = dr3_feature_dot_loss(n, d, phi, d, phi + n * d, d, c0, &reg, w->gphi, w->gphi + n * d);
    if (st != DR3_OK) return st;
    if (dot != NULL) { /* the diagnostic φ·φ' (c0 = 1, no gradient); phi is still valid */
        st = dr3_feature_dot_loss(n, d, phi, d, phi + n * d, d, 1.0f, dot, NULL, NULL);
        if (st != DR3_OK) return st;
    }
    /* 4. ONE backward over the same 2n rows: the TD gradient on Q(s_i, a_i) only (the
     * s' rows get 0: the target is a constant), DR3's gradient through both φ(s) and φ(s') */
    for (size_t i = 0; i < n; i++) w->gout[i * A + (size_t)w->a[i]] = w->gq[i];
    st = dr3_net_backward(online, 2 * n, w->gout, A, w->gphi, d, NULL, 0, 0);
    if (st != DR3_OK) return st;
    /* phi is invalid from here on */
    /* 5. the optimizer on the flat parameter vector, then the target network */
    st = dr3_optim_step(opt, dr3_net_params(online), dr3_net_grads(online),
                        dr3_net_param_count(online), NULL);
    if (st != DR3_OK) return st;
    return dr3_net_polyak(target, online, 0.01f);
}

/* ---- the chain, its data and its exact Q* ------------------------------------------- */

static void observe(int s, float *o) {
    float x = (float)s / (STATES - 1);
    o[0] = x;
    o[1] = x * x;
    o[2] = 1.0f - x;
}

static int step(int s, int a, float *r, int *done) {
    int next = a == 1 ? s + 1 : (s > 0 ? s - 1 : 0);
    *done = next == STATES - 1;
    *r = *done ? 1.0f : 0.0f;
    return next;
}

typedef struct transition {
    int s, a, s2, done;
    float r;
} transition;

static int train(float c0, const transition *data, double qstar[STATES][ACTIONS]) {
    const size_t hidden[2] = {HID, HID};
    dr3_net_options no = DR3_NET_OPTIONS_INIT;
    no.obs_dim = OBS;
    no.action_dim = ACTIONS;
    no.num_hidden = 2;
    no.hidden = hidden;
    no.max_batch = 2 * N; /* the stacked batch */
    no.seed = 7;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = 1e-3f;
    dr3_net *online = NULL, *target = NULL;
    dr3_optim *opt = NULL;
    work *w = calloc(1, sizeof *w);
    dr3_status st = w ? dr3_net_create(&online, &no) : DR3_ERR_NOMEM;
    if (st == DR3_OK) st = dr3_net_clone(&target, online);
    if (st == DR3_OK) st = dr3_optim_create(&opt, dr3_net_param_count(online), &oo);
    dr3_rng rng;
    dr3_rng_seed(&rng, 11);
    float td = 0, dot = 0;
    for (int it = 0; it < 3000 && st == DR3_OK; it++) {
        for (int i = 0; i < N; i++) {
            const transition *t = &data[dr3_rng_below(&rng, DATA)];
            observe(t->s, w->obs2 + i * OBS);
            observe(t->s2, w->obs2 + (N + i) * OBS);
            w->a[i] = t->a;
            w->r[i] = t->r;
            w->done[i] = (float)t->done;
        }
        st = update(online, target, opt, N, c0, w, &td, &dot);
    }
    double err = 0;
    for (int s = 0; s < STATES - 1 && st == DR3_OK; s++) {
        float o[OBS], q[ACTIONS];
        observe(s, o);
        st = dr3_net_forward(online, 1, o, OBS, NULL, 0, q, ACTIONS, NULL);
        for (int a = 0; a < ACTIONS; a++) err += fabs(q[a] - qstar[s][a]) / (2 * (STATES - 1));
    }
    if (st == DR3_OK)
        printf("c0 = %-4g  TD loss %.2e  phi(s).phi(s') %7.3f  mean |Q - Q*| %.3f\n", c0, td,
               dot, err);
    else
        fprintf(stderr, "net_dr3_loop: %s: %s\n", dr3_status_str(st), dr3_last_error());
    dr3_optim_free(opt);
    dr3_net_free(target);
    dr3_net_free(online);
    free(w);
    return st == DR3_OK ? 0 : 1;
}

int main(void) {
    double qstar[STATES][ACTIONS] = {{0}};
    for (int it = 0; it < 200; it++)
        for (int s = 0; s < STATES - 1; s++)
            for (int a = 0; a < ACTIONS; a++) {
                float r;
                int done, s2 = step(s, a, &r, &done);
                double v = fmax(qstar[s2][0], qstar[s2][1]);
                qstar[s][a] = r + (done ? 0 : GAMMA * v);
            }
    static transition data[DATA];
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    for (int i = 0; i < DATA; i++) {
        transition *t = &data[i];
        t->s = (int)dr3_rng_below(&rng, STATES - 1);
        t->a = (int)dr3_rng_below(&rng, ACTIONS);
        t->s2 = step(t->s, t->a, &t->r, &t->done);
    }
    return train(0.0f, data, qstar) | train(0.1f, data, qstar);
}
