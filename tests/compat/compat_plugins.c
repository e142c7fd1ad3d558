/* Plugins as a user compiled them against libdr3 0.1's frozen sys/ headers. They only use
 * what those headers declare. */
#include <dr3/sys/backup.h>
#include <dr3/sys/regularizer.h>

#include <string.h>

/* V(s') = mean over actions of the target network's Q(s', ·). */
static int mean_backup(void *payload, const dr3_backup_input *in, float *values) {
    (void)payload;
    for (size_t i = 0; i < in->n; i++) {
        double s = 0;
        for (size_t a = 0; a < in->num_actions; a++)
            s += in->q_next_target[i * in->ld_q_next_target + a];
        values[i] = (float)(s / (double)in->num_actions);
    }
    return 0;
}

/* β · mean ‖φ(s')‖², gradient into φ(s') only. */
static int next_norm(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g,
                     float *loss) {
    const float beta = *(const float *)payload;
    double total = 0;
    for (size_t i = 0; i < v->n; i++)
        for (size_t j = 0; j < v->feature_dim; j++) {
            float x = v->phi_next[i * v->ld_phi_next + j];
            total += (double)x * x;
            g->phi_next[i * g->ld_phi_next + j] += 2.0f * beta * x / (float)v->n;
        }
    *loss = (float)(beta * total / (double)v->n);
    return 0;
}

const dr3_backup_vtable *compat_backup_vtable(void) {
    static const dr3_backup_vtable vt = {sizeof(dr3_backup_vtable), "compat-mean", mean_backup,
                                         NULL, 0};
    return &vt;
}

const dr3_regularizer_vtable *compat_regularizer_vtable(void) {
    static const dr3_regularizer_vtable vt = {sizeof(dr3_regularizer_vtable), "compat-norm",
                                              next_norm, NULL};
    return &vt;
}
