/*
 * custom_continuous_backup.c — a backup operator and a critic regularizer for the
 * actor-critic learner, written outside libdr3 (dr3/sys/continuous.h; experimental API).
 *
 * The backup blends the twin target critics instead of taking their minimum:
 *     V(s') = β · min_j Q̄_j(s', a') + (1 − β) · max_j Q̄_j(s', a') − α log π(a'|s')
 * (β = 1 is SAC's clipped double-Q; smaller β is less pessimistic, as in TQC/REDQ-style
 * ablations). The regularizer is a feature-norm penalty λ · mean ‖φ(s, a)‖², a second
 * term next to the built-in DR3 term on the same features.
 *
 * The program builds an offline dataset on a 1-D "go to 0" task (s' = clip(s + 0.25 a),
 * r = −|s'|, random actions), trains SAC + DR3 with both plugins, and checks that the learned
 * policy moves toward 0 from both sides and that the plugins ran on every step.
 *
 * Build against an installed libdr3:
 *   cc custom_continuous_backup.c $(pkg-config --cflags --libs dr3) -lm -o ccb
 */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>
#include <dr3/sys/continuous.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct blend {
    float beta;
    unsigned long calls;
} blend;

static int blend_values(void *payload, const dr3_ac_backup_input *in, float *values) {
    blend *b = payload;
    b->calls++;
    for (size_t i = 0; i < in->n; i++) {
        float lo = in->target_q[i], hi = lo;
        if (in->num_critics == 2) {
            float q2 = in->target_q[in->n + i];
            lo = q2 < lo ? q2 : lo;
            hi = q2 > hi ? q2 : hi;
        }
        values[i] = b->beta * lo + (1 - b->beta) * hi - in->alpha * in->next_log_prob[i];
    }
    return 0;
}

typedef struct feature_l2 {
    float lambda;
    unsigned long calls;
} feature_l2;

static int feature_l2_apply(void *payload, const dr3_ac_reg_view *v, float *loss,
                            const dr3_ac_reg_grads *g) {
    feature_l2 *f = payload;
    f->calls++;
    double s = 0;
    for (size_t i = 0; i < v->n * v->feature_dim; i++) {
        s += (double)v->phi[i] * v->phi[i];
        g->phi[i] += 2.0f * f->lambda * v->phi[i] / (float)v->n; /* add, never overwrite */
    }
    *loss = (float)(f->lambda * s / (double)v->n);
    return 0;
}

static float clampf(float x) { return x < -1 ? -1 : (x > 1 ? 1 : x); }

int main(int argc, char **argv) {
    const int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const int steps = quick ? 1500 : 5000;
    /* dataset: 200 episodes of 20 random steps */
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 200 * 21;
    ro.obs_dim = 1;
    ro.action_kind = DR3_ACTION_CONTINUOUS;
    ro.action_dim = 1;
    ro.gamma = 0.9f;
    dr3_replay *data = NULL;
    if (dr3_replay_create(&data, &ro) != DR3_OK)
        return fprintf(stderr, "%s\n", dr3_last_error()), 1;
    dr3_rng rng;
    dr3_rng_seed(&rng, 1);
    for (int e = 0; e < 200; e++) {
        float s = 2 * dr3_rng_uniform(&rng) - 1;
        for (int t = 0; t < 20; t++) {
            float a = 2 * dr3_rng_uniform(&rng) - 1, s2 = clampf(s + 0.25f * a);
            if (dr3_replay_add(data, &s, &a, -fabsf(s2), 0, t == 19, &s2) != DR3_OK)
                return fprintf(stderr, "%s\n", dr3_last_error()), 1;
            s = s2;
        }
    }
    static const size_t hidden[2] = {32, 32};
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = DR3_AC_SAC;
    o.obs_dim = 1;
    o.action_dim = 1;
    o.critic_num_hidden = o.actor_num_hidden = 2;
    o.critic_hidden = o.actor_hidden = hidden;
    o.batch_size = 64;
    o.gamma = 0.9f;
    o.dr3_coef = 0.01f;
    o.seed = 5;
    dr3_ac_learner *l = NULL;
    if (dr3_ac_learner_create(&l, &o) != DR3_OK)
        return fprintf(stderr, "%s\n", dr3_last_error()), 1;
    blend b = {0.75f, 0};
    feature_l2 f = {1e-4f, 0};
    dr3_ac_backup_vtable bv = DR3_AC_BACKUP_VTABLE_INIT;
    bv.name = "blend";
    bv.next_values = blend_values;
    dr3_ac_regularizer_vtable rv = DR3_AC_REGULARIZER_VTABLE_INIT;
    rv.name = "feature_l2";
    rv.apply = feature_l2_apply;
    if (dr3_ac_learner_set_backup(l, &bv, &b) != DR3_OK ||
        dr3_ac_learner_add_regularizer(l, &rv, &f) != DR3_OK)
        return fprintf(stderr, "%s\n", dr3_last_error()), 1;
    dr3_ac_metrics m = DR3_AC_METRICS_INIT;
    for (int t = 1; t <= steps; t++) {
        if (dr3_ac_learner_step(l, data, &m) != DR3_OK)
            return fprintf(stderr, "%s\n", dr3_last_error()), 1;
        if (t % 500 == 0) {
            float reg = 0;
            dr3_ac_learner_reg_loss(&reg, l, 0);
            printf("step %5d  critic %.4f  actor %.4f  alpha %.3f  Q %.3f  phi.phi' %.3f  "
                   "feature_l2 %.5f\n",
                   t, m.critic_loss, m.actor_loss, m.alpha, m.mean_q, m.feature_dot, reg);
        }
    }
    const float probes[4] = {-0.8f, -0.4f, 0.4f, 0.8f};
    float acts[4];
    dr3_ac_learner_act(l, 4, probes, 1, 1, acts, 1);
    int ok = b.calls == (unsigned long)steps && f.calls == 2ul * (unsigned long)steps;
    for (int i = 0; i < 4; i++) {
        printf("s = %+.1f  ->  a = %+.3f\n", probes[i], acts[i]);
        ok = ok && (probes[i] < 0 ? acts[i] > 0.2f : acts[i] < -0.2f);
    }
    printf("backup called %lu times, regularizer %lu times: %s\n", b.calls, f.calls,
           ok ? "OK" : "FAILED");
    dr3_ac_learner_free(l);
    dr3_replay_free(data);
    return ok ? 0 : 1;
}
