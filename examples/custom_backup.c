/*
 * custom_backup.c — a TD backup operator written outside libdr3, plugged into a learner.
 *
 * The operator is mellowmax (Asadi & Littman, 2017):
 *     V(s') = mm_ω(Q_t(s', ·)) = log( (1/A) Σ_a exp(ω Q_t(s', a)) ) / ω
 * a smooth, non-expansive alternative to max that tends to max as ω → ∞ and to the mean as
 * ω → 0. The plugin is a vtable (dr3/sys/backup.h) plus a payload holding ω.
 *
 * The program builds a 6-state ring MDP dataset, trains a small Q-network with the mellowmax
 * backup and DR3, and prints the learned values next to the mellowmax fixed point computed
 * by value iteration here, so you can see the learner used the operator.
 *
 * Build against an installed libdr3:
 *   cc custom_backup.c $(pkg-config --cflags --libs dr3) -lm -o custom_backup
 */
#include <dr3/dr3.h>
#include <dr3/learner.h>
#include <dr3/sys/backup.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { STATES = 6, ACTIONS = 2, ROWS = STATES * ACTIONS };
static const float GAMMA = 0.9f;

typedef struct mellowmax {
    double omega;
} mellowmax;

static double mm(const float *q, size_t n, double omega) {
    double mx = q[0];
    for (size_t a = 1; a < n; a++) mx = q[a] > mx ? q[a] : mx;
    double s = 0;
    for (size_t a = 0; a < n; a++) s += exp(omega * (q[a] - mx));
    return mx + log(s / (double)n) / omega;
}

/* The plugin: V(s') for every row of the batch, from the target network's Q(s', ·). */
static int mellowmax_values(void *payload, const dr3_backup_input *in, float *values) {
    const mellowmax *m = payload;
    for (size_t i = 0; i < in->n; i++)
        values[i] =
            (float)mm(in->q_next_target + i * in->ld_q_next_target, in->num_actions, m->omega);
    return 0;
}

/* Ring MDP: action 1 moves clockwise, 0 stays; reward 1 for leaving state 5. */
static int next_state(int s, int a) { return a == 1 ? (s + 1) % STATES : s; }
static float reward(int s, int a) { return (s == STATES - 1 && a == 1) ? 1.0f : 0.0f; }

int main(int argc, char **argv) {
    int steps = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 1500 : 6000;
    float obs[ROWS][STATES] = {{0}}, next_obs[ROWS][STATES] = {{0}}, r[ROWS];
    int32_t act[ROWS];
    for (int s = 0, i = 0; s < STATES; s++)
        for (int a = 0; a < ACTIONS; a++, i++) {
            obs[i][s] = 1; /* one-hot states */
            next_obs[i][next_state(s, a)] = 1;
            act[i] = a;
            r[i] = reward(s, a);
        }

    static const size_t hidden[1] = {32};
    dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
    adam.lr = 3e-3f;
    dr3_regularizer_options dr3reg = DR3_REGULARIZER_OPTIONS_INIT; /* DR3 */
    dr3reg.coef = 0.01f;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = STATES;
    o.num_actions = ACTIONS;
    o.num_hidden = 1;
    o.hidden = hidden;
    o.batch_size = ROWS;
    o.gamma = GAMMA;
    o.td_kind = DR3_TD_MSE;
    o.target_update_period = 50;
    o.optim = &adam;
    const dr3_regularizer_options *regs[] = {&dr3reg};
    o.regularizers = regs;
    o.num_regularizers = 1;
    o.seed = 1;
    dr3_learner *learner = NULL;
    dr3_status st = dr3_learner_create(&learner, &o);
    if (st != DR3_OK) {
        fprintf(stderr, "create: %s\n", dr3_last_error());
        return 1;
    }
    mellowmax payload = {5.0};
    dr3_backup_vtable vt = DR3_BACKUP_VTABLE_INIT;
    vt.name = "mellowmax";
    vt.next_values = mellowmax_values;
    if ((st = dr3_learner_set_backup(learner, &vt, &payload)) != DR3_OK) {
        fprintf(stderr, "set_backup: %s\n", dr3_last_error());
        dr3_learner_free(learner);
        return 1;
    }

    dr3_batch b = DR3_BATCH_INIT;
    b.n = ROWS;
    b.obs = &obs[0][0];
    b.ld_obs = STATES;
    b.next_obs = &next_obs[0][0];
    b.ld_next_obs = STATES;
    b.actions = act;
    b.rewards = r;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    for (int t = 0; t < steps && st == DR3_OK; t++) st = dr3_learner_step(learner, &b, &m);
    if (st != DR3_OK) {
        fprintf(stderr, "step: %s\n", dr3_last_error());
        dr3_learner_free(learner);
        return 1;
    }

    /* the mellowmax fixed point by value iteration, for comparison */
    float qref[STATES][ACTIONS] = {{0}};
    for (int it = 0; it < 2000; it++) {
        float nq[STATES][ACTIONS];
        for (int s = 0; s < STATES; s++)
            for (int a = 0; a < ACTIONS; a++)
                nq[s][a] = reward(s, a) +
                           GAMMA * (float)mm(qref[next_state(s, a)], ACTIONS, payload.omega);
        memcpy(qref, nq, sizeof nq);
    }
    float eye[STATES][STATES] = {{0}}, q[STATES][ACTIONS];
    for (int s = 0; s < STATES; s++) eye[s][s] = 1;
    dr3_learner_q_values(learner, STATES, &eye[0][0], STATES, &q[0][0], ACTIONS);
    float dr3_term = 0;
    dr3_learner_reg_loss(&dr3_term, learner, 0);
    printf("after %d steps: TD loss %.2e, DR3 term %.2e, phi.phi' %.3f\n", steps, m.td_loss,
           dr3_term, m.feature_dot);
    printf("state  Q(s,stay) [fixed point]  Q(s,move) [fixed point]\n");
    double err = 0;
    for (int s = 0; s < STATES; s++) {
        printf("%5d  %9.3f [%6.3f]        %9.3f [%6.3f]\n", s, q[s][0], qref[s][0], q[s][1],
               qref[s][1]);
        err += fabs(q[s][0] - qref[s][0]) + fabs(q[s][1] - qref[s][1]);
    }
    printf("mean |Q - Q_mellowmax| = %.3f\n", err / ROWS);
    dr3_learner_free(learner);
    return 0;
}
