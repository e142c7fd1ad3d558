/* Built-in backup operators (dr3/backup.h). Each computes V(s') row by row from the
 * next-state Q-values; sums are in double for the expectations. */
#include "backup.h"

#include "../core/internal.h"

#include <string.h>

#define kind_names(k) dr3_backup_kind_name(k)

DR3I_DEFINE_STRUCT(dr3_backup_options, dr3_backup_options, DR3_BACKUP_OPTIONS_INIT,
                   DR3_BACKUP_OPTIONS_VERSION, sizeof(dr3_backup_options))
DR3I_DEFINE_STRUCT(dr3_backup_input, dr3_backup_input, DR3_BACKUP_INPUT_INIT,
                   DR3_BACKUP_INPUT_VERSION, sizeof(dr3_backup_input))
DR3I_DEFINE_STRUCT(dr3_backup_vtable, dr3_backup_vtable, DR3_BACKUP_VTABLE_INIT,
                   DR3_BACKUP_VTABLE_VERSION, sizeof(dr3_backup_vtable))

dr3_status dr3i_backup_options_load(dr3_backup_options *out, const dr3_backup_options *user,
                                    const char *who) {
    dr3_backup_options o = DR3_BACKUP_OPTIONS_INIT;
    dr3_status st =
        dr3i_struct_in(&o, user, &dr3i_desc_dr3_backup_options, true, who, "backup options");
    if (st != DR3_OK) return st;
    if (dr3_backup_kind_name(o.kind) == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown backup kind %d", who, (int)o.kind);
    if ((o.kind == DR3_BACKUP_EXPECTED || o.kind == DR3_BACKUP_SAMPLED) && o.policy == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: the '%s' backup needs a policy callback",
                         who, kind_names(o.kind));
    if (o.kind == DR3_BACKUP_SOFTMAX && !(isfinite(o.temperature) && o.temperature > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: softmax temperature must be finite and > 0",
                         who);
    *out = o;
    return DR3_OK;
}

/* Validates the parts of `in` that operator `kind` reads. */
static dr3_status check_input(const dr3_backup_options *o, const dr3_backup_input *in,
                              const char *who) {
    if (in == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: input is NULL", who);
    size_t n = in->n, na = in->num_actions, span;
    if (n == 0) return DR3_OK;
    if (na == 0) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: num_actions is 0", who);
    if (in->q_next_target == NULL || in->ld_q_next_target < na)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: q_next_target missing or its stride < A",
                         who);
    if (!dr3i_span(n, na, in->ld_q_next_target, &span))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: q_next_target size overflows", who);
    if (!dr3i_matrix_finite(in->q_next_target, n, na, in->ld_q_next_target))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: q_next_target contains NaN or Inf", who);
    switch (o->kind) {
    case DR3_BACKUP_SARSA:
        if (in->next_actions == NULL)
            return dr3i_fail(DR3_ERR_INVALID_ARG,
                             "%s: the sarsa backup needs the dataset's next actions", who);
        for (size_t i = 0; i < n; i++)
            if (in->next_actions[i] < 0 || (size_t)in->next_actions[i] >= na)
                return dr3i_fail(DR3_ERR_RANGE,
                                 "%s: next_actions[%zu] = %d is outside [0, %zu)", who, i,
                                 (int)in->next_actions[i], na);
        break;
    case DR3_BACKUP_DOUBLE:
        if (in->q_next_online == NULL || in->ld_q_next_online < na)
            return dr3i_fail(DR3_ERR_INVALID_ARG,
                             "%s: the double backup needs q_next_online (stride >= A)", who);
        if (!dr3i_matrix_finite(in->q_next_online, n, na, in->ld_q_next_online))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: q_next_online contains NaN or Inf", who);
        break;
    case DR3_BACKUP_EXPECTED:
    case DR3_BACKUP_SAMPLED:
        if (in->next_obs == NULL || in->ld_next_obs < in->obs_dim)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: the '%s' backup needs next_obs", who,
                             kind_names(o->kind));
        if (o->kind == DR3_BACKUP_SAMPLED && in->rng == NULL)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: the sampled backup needs an rng", who);
        if (in->scratch == NULL || !dr3i_mul(n, na, &span) || in->scratch_len < span)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: scratch must hold n x A = %zu floats",
                             who, n * na);
        break;
    default:
        break;
    }
    return DR3_OK;
}

/* Runs the policy into scratch (n × A, stride A) and checks each row is a distribution. */
static dr3_status policy_probs(const dr3_backup_options *o, const dr3_backup_input *in,
                               const char *who) {
    size_t n = in->n, na = in->num_actions;
    int rc = o->policy(o->policy_payload, n, in->next_obs, in->ld_next_obs, in->scratch, na);
    if (rc != 0)
        return dr3i_fail(DR3_ERR_CALLBACK, "%s: the policy callback failed (returned %d)", who,
                         rc);
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (size_t a = 0; a < na; a++) {
            float p = in->scratch[i * na + a];
            if (!isfinite(p) || p < 0)
                return dr3i_fail(DR3_ERR_CALLBACK,
                                 "%s: policy gave probability %g for row %zu action %zu", who,
                                 (double)p, i, a);
            sum += p;
        }
        if (sum < 0.999 || sum > 1.001)
            return dr3i_fail(DR3_ERR_CALLBACK, "%s: policy probabilities of row %zu sum to %g",
                             who, i, sum);
    }
    return DR3_OK;
}

static size_t argmax(const float *row, size_t na) {
    size_t best = 0;
    for (size_t a = 1; a < na; a++)
        if (row[a] > row[best]) best = a;
    return best;
}

/* Inverse-CDF draw from a discrete distribution p (sums to ~1). */
static size_t sample_from(const float *p, size_t na, dr3_rng *rng) {
    double u = dr3_rng_uniform_double(rng), acc = 0;
    for (size_t a = 0; a < na; a++) {
        acc += p[a];
        if (u < acc) return a;
    }
    /* rounding left u above the total: take the last action with non-zero mass */
    for (size_t a = na; a-- > 0;)
        if (p[a] > 0) return a;
    return na - 1;
}

static dr3_status compute(const dr3_backup_options *o, const dr3_backup_input *in,
                          float *values, const char *who) {
    dr3_status st = check_input(o, in, who);
    if (st != DR3_OK) return st;
    size_t n = in->n, na = in->num_actions;
    if (n == 0) return DR3_OK;
    if (values == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: values is NULL", who);
    if (o->kind == DR3_BACKUP_EXPECTED || o->kind == DR3_BACKUP_SAMPLED) {
        if ((st = policy_probs(o, in, who)) != DR3_OK) return st;
    }
    const float *qt = in->q_next_target;
    const size_t ldt = in->ld_q_next_target;
    for (size_t i = 0; i < n; i++) {
        const float *row = qt + i * ldt;
        double v = 0;
        switch (o->kind) {
        case DR3_BACKUP_SARSA:
            v = row[in->next_actions[i]];
            break;
        case DR3_BACKUP_MAX:
            v = row[argmax(row, na)];
            break;
        case DR3_BACKUP_DOUBLE:
            v = row[argmax(in->q_next_online + i * in->ld_q_next_online, na)];
            break;
        case DR3_BACKUP_EXPECTED:
            for (size_t a = 0; a < na; a++) v += (double)in->scratch[i * na + a] * row[a];
            break;
        case DR3_BACKUP_SAMPLED:
            v = row[sample_from(in->scratch + i * na, na, in->rng)];
            break;
        case DR3_BACKUP_SOFTMAX: {
            double mx = row[argmax(row, na)], z = 0, acc = 0, tau = o->temperature;
            for (size_t a = 0; a < na; a++) {
                double e = exp(((double)row[a] - mx) / tau);
                z += e;
                acc += e * row[a];
            }
            v = acc / z;
            break;
        }
        }
        values[i] = (float)v;
    }
    return DR3_OK;
}

dr3_status dr3_backup_values(const dr3_backup_options *opts, const dr3_backup_input *in,
                             float *values) {
    static const char who[] = "dr3_backup_values";
    dr3_backup_options o = DR3_BACKUP_OPTIONS_INIT;
    dr3_status st = dr3i_backup_options_load(&o, opts, who);
    if (st != DR3_OK) return st;
    dr3_backup_input x = DR3_BACKUP_INPUT_INIT;
    st = dr3i_struct_in(&x, in, &dr3i_desc_dr3_backup_input, false, who, "input");
    if (st != DR3_OK) return st;
    if (x.n > 0 && values == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: values is NULL", who);
    return compute(&o, &x, values, who);
}

static int builtin_next_values(void *payload, const dr3_backup_input *in, float *values) {
    /* The learner validated the options at creation; errors here carry their message in
     * dr3_last_error() and surface to the learner as a callback failure. */
    const dr3_backup_options *o = (const dr3_backup_options *)payload;
    return compute(o, in, values, dr3_backup_kind_name(o->kind)) == DR3_OK ? 0 : 1;
}

dr3_backup_vtable dr3i_backup_builtin_vtable(const dr3_backup_options *o) {
    dr3_backup_vtable vt = DR3_BACKUP_VTABLE_INIT;
    vt.name = dr3_backup_kind_name(o->kind);
    vt.next_values = builtin_next_values;
    vt.needs = o->kind == DR3_BACKUP_SARSA    ? DR3_BACKUP_NEEDS_NEXT_ACTIONS
               : o->kind == DR3_BACKUP_DOUBLE ? DR3_BACKUP_NEEDS_ONLINE_NEXT
                                              : 0u;
    return vt;
}

dr3_status dr3i_backup_vtable_load(dr3_backup_vtable *out, const dr3_backup_vtable *user,
                                   const char *who) {
    dr3_status st =
        dr3i_struct_in(out, user, &dr3i_desc_dr3_backup_vtable, false, who, "backup vtable");
    if (st != DR3_OK) return st;
    if (out->next_values == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: backup vtable has no next_values callback",
                         who);
    if (out->needs & ~(unsigned)(DR3_BACKUP_NEEDS_NEXT_ACTIONS | DR3_BACKUP_NEEDS_ONLINE_NEXT))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: backup vtable has unknown requirement bits",
                         who);
    return DR3_OK;
}

DR3I_ENUM_NAMES(dr3_backup_kind, dr3_backup_kind, "sarsa", "expected", "sampled", "max",
                "double", "softmax")
