/*
 * custom_regularizer.c — a regularizer written outside libdr3, plugged into a learner.
 *
 * The term is a scale-free cousin of DR3: the mean cosine similarity of consecutive
 * features,  R = c · (1/n) Σ_i cos(φ(s_i), φ(s'_i)),  with its gradient
 *     dR/dφ  = c/n · ( φ' / (|φ||φ'|) − cos · φ / |φ|² )   (and symmetrically for φ').
 * DR3's plain dot product can also be lowered by shrinking the features; the cosine can
 * only be lowered by making them point apart. The plugin is a vtable
 * (dr3/sys/regularizer.h) and a payload with c; it reads the step view and ADDS its
 * gradients into the buffers the learner gives it.
 *
 * The program trains Q-learning on a random MDP dataset with and without the term, and
 * prints the cosine the learner's own metrics report.
 *
 * Build against an installed libdr3:
 *   cc custom_regularizer.c $(pkg-config --cflags --libs dr3) -lm -o custom_regularizer
 */
#include <dr3/dr3.h>
#include <dr3/learner.h>
#include <dr3/sys/regularizer.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct cosine_reg {
    float coef;
} cosine_reg;

static int cosine_apply(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g,
                        float *loss) {
    const cosine_reg *c = payload;
    double total = 0;
    const double scale = c->coef / (double)v->n;
    for (size_t i = 0; i < v->n; i++) {
        const float *a = v->phi + i * v->ld_phi, *b = v->phi_next + i * v->ld_phi_next;
        double ab = 0, aa = 0, bb = 0;
        for (size_t j = 0; j < v->feature_dim; j++) {
            ab += (double)a[j] * b[j];
            aa += (double)a[j] * a[j];
            bb += (double)b[j] * b[j];
        }
        if (aa == 0 || bb == 0) continue; /* cosine undefined: no contribution */
        double na = sqrt(aa), nb = sqrt(bb), cosv = ab / (na * nb);
        total += cosv;
        float *ga = g->phi + i * g->ld_phi, *gb = g->phi_next + i * g->ld_phi_next;
        for (size_t j = 0; j < v->feature_dim; j++) {
            ga[j] += (float)(scale * (b[j] / (na * nb) - cosv * a[j] / aa));
            gb[j] += (float)(scale * (a[j] / (na * nb) - cosv * b[j] / bb));
        }
    }
    *loss = (float)(scale * total);
    if (!isfinite(*loss)) /* tell the learner why, through dr3/sys/errors.h */
        return dr3_error_set(DR3_ERR_NONFINITE, "cosine term is %g", (double)*loss) != DR3_OK;
    return 0;
}

enum { S = 12, A = 3, N = 256, DIM = 8 };

static float run(float coef, int steps, const float *obs, const float *next_obs,
                 const int32_t *act, const float *rew) {
    static const size_t hidden[2] = {64, 64};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = DIM;
    o.num_actions = A;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.batch_size = N;
    o.target_update_period = 100;
    o.seed = 5;
    dr3_learner *l = NULL;
    if (dr3_learner_create(&l, &o) != DR3_OK) return NAN;
    cosine_reg payload = {coef};
    dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
    vt.name = "cosine";
    vt.apply = cosine_apply;
    if (coef > 0 && dr3_learner_add_regularizer(l, &vt, &payload) != DR3_OK) {
        dr3_learner_free(l);
        return NAN;
    }
    dr3_batch b = DR3_BATCH_INIT;
    b.n = N;
    b.obs = obs;
    b.ld_obs = DIM;
    b.next_obs = next_obs;
    b.ld_next_obs = DIM;
    b.actions = act;
    b.rewards = rew;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    for (int t = 0; t < steps; t++)
        if (dr3_learner_step(l, &b, &m) != DR3_OK) {
            fprintf(stderr, "step failed: %s\n", dr3_last_error());
            dr3_learner_free(l);
            return NAN;
        }
    printf("  coef %.2f: TD loss %.4f, mean Q %.3f, cos(phi, phi') %.3f, phi.phi' %.2f\n", coef,
           m.td_loss, m.mean_q, m.feature_cos, m.feature_dot);
    dr3_learner_free(l);
    return m.feature_cos;
}

int main(int argc, char **argv) {
    int steps = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 300 : 2000;
    /* a random MDP: each state has a random embedding; transitions and rewards random */
    static float emb[S][DIM], obs[N][DIM], next_obs[N][DIM], rew[N];
    static int32_t act[N];
    dr3_rng rng;
    dr3_rng_seed(&rng, 42);
    for (int s = 0; s < S; s++)
        for (int j = 0; j < DIM; j++) emb[s][j] = (float)dr3_rng_normal(&rng);
    for (int i = 0; i < N; i++) {
        int s = (int)dr3_rng_below(&rng, S), a = (int)dr3_rng_below(&rng, A);
        int s2 = (s * 5 + a * 7 + 1) % S;
        memcpy(obs[i], emb[s], sizeof emb[s]);
        memcpy(next_obs[i], emb[s2], sizeof emb[s2]);
        act[i] = a;
        rew[i] = (s2 == 0) ? 1.0f : 0.0f;
    }
    printf("Q-learning on a random 12-state MDP, %d steps:\n", steps);
    float plain = run(0.0f, steps, &obs[0][0], &next_obs[0][0], act, rew);
    float reg = run(0.5f, steps, &obs[0][0], &next_obs[0][0], act, rew);
    if (isnan(plain) || isnan(reg)) return 1;
    printf("the cosine regularizer moved cos(phi, phi') from %.3f to %.3f\n", plain, reg);
    return 0;
}
