/* Built-in regularizers (dr3/regularizer.h), expressed through the stateless losses. */
#include "regularizer.h"

#include "../core/internal.h"
#include <dr3/loss.h>

#include <string.h>

#define kind_names(k) dr3_regularizer_kind_name(k)

DR3I_DEFINE_STRUCT(dr3_regularizer_options, dr3_regularizer_options,
                   DR3_REGULARIZER_OPTIONS_INIT, DR3_REGULARIZER_OPTIONS_VERSION,
                   sizeof(dr3_regularizer_options))
DR3I_DEFINE_STRUCT(dr3_reg_view, dr3_reg_view, DR3_REG_VIEW_INIT, DR3_REG_VIEW_VERSION,
                   sizeof(dr3_reg_view))
DR3I_DEFINE_STRUCT(dr3_reg_grads, dr3_reg_grads, DR3_REG_GRADS_INIT, DR3_REG_GRADS_VERSION,
                   sizeof(dr3_reg_grads))
DR3I_DEFINE_STRUCT(dr3_regularizer_vtable, dr3_regularizer_vtable, DR3_REGULARIZER_VTABLE_INIT,
                   DR3_REGULARIZER_VTABLE_VERSION, sizeof(dr3_regularizer_vtable))

dr3_status dr3i_regularizer_options_load(dr3_regularizer_options *out,
                                         const dr3_regularizer_options *user, const char *who) {
    dr3_regularizer_options o = DR3_REGULARIZER_OPTIONS_INIT;
    dr3_status st = dr3i_struct_in(&o, user, &dr3i_desc_dr3_regularizer_options, false, who,
                                   "regularizer options");
    if (st != DR3_OK) return st;
    if (dr3_regularizer_kind_name(o.kind) == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown regularizer kind %d", who,
                         (int)o.kind);
    if (!(isfinite(o.coef) && o.coef >= 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s coefficient must be finite and >= 0", who,
                         kind_names(o.kind));
    unsigned allowed = o.kind == DR3_REG_DR3 ? (DR3_REG_ABS | DR3_REG_MASK_TERMINAL) : 0u;
    if (o.flags & ~allowed)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: flags 0x%x are not valid for %s", who,
                         o.flags & ~allowed, kind_names(o.kind));
    *out = o;
    return DR3_OK;
}

static dr3_status need(bool ok, const char *who, const char *what) {
    return ok ? DR3_OK : dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s", who, what);
}

static dr3_status apply(const dr3_regularizer_options *o, const dr3_reg_view *v,
                        const dr3_reg_grads *g, float *loss, const char *who) {
    dr3_status st;
    if (v == NULL || g == NULL || loss == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: view, grads and loss must not be NULL", who);
    switch (o->kind) {
    case DR3_REG_DR3: {
        if ((st = need(v->phi && v->phi_next && (v->n == 0 || g->phi || g->phi_next), who,
                       "dr3 needs phi, phi_next and a feature gradient buffer")) != DR3_OK)
            return st;
        unsigned flags = (o->flags & DR3_REG_ABS) ? DR3_DOT_ABS : 0u;
        const float *mask = NULL;
        if (o->flags & DR3_REG_MASK_TERMINAL) {
            if ((st = need(v->nonterminal != NULL, who,
                           "dr3 terminal mask needs the view's nonterminal flags")) != DR3_OK)
                return st;
            mask = v->nonterminal;
        }
        return dr3_feature_dot_loss_ex(v->n, v->feature_dim, v->phi, v->ld_phi, v->phi_next,
                                       v->ld_phi_next, mask, flags, o->coef, loss, g->phi,
                                       g->phi_next);
    }
    case DR3_REG_CQL:
        if ((st = need(v->q && v->actions && (v->n == 0 || g->q), who,
                       "cql needs q, actions and a q gradient buffer")) != DR3_OK)
            return st;
        return dr3_cql_loss(v->n, v->num_actions, v->q, v->ld_q, v->actions, o->coef, loss,
                            g->q);
    case DR3_REG_L2: {
        if ((st = need(v->params && g->params, who, "l2 needs params and a params gradient")) !=
            DR3_OK)
            return st;
        if (!dr3i_all_finite(v->params, v->param_count, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: params contain NaN or Inf", who);
        double s = 0;
        for (size_t k = 0; k < v->param_count; k++) {
            s += (double)v->params[k] * v->params[k];
            g->params[k] += o->coef * v->params[k];
        }
        *loss = (float)(0.5 * o->coef * s);
        return DR3_OK;
    }
    case DR3_REG_FEATURE_L2: {
        /* ‖φ‖² = φ·φ: the feature dot loss of φ with itself, whose gradient 2φ·β/n is
         * split equally between its two (identical) arguments. */
        if ((st = need(v->phi && (v->n == 0 || g->phi), who,
                       "feature_l2 needs phi and its gradient buffer")) != DR3_OK)
            return st;
        return dr3_feature_dot_loss(v->n, v->feature_dim, v->phi, v->ld_phi, v->phi, v->ld_phi,
                                    o->coef, loss, g->phi, g->phi);
    }
    }
    return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: unknown regularizer kind", who);
}

dr3_status dr3_regularizer_apply(const dr3_regularizer_options *opts, const dr3_reg_view *view,
                                 const dr3_reg_grads *grads, float *loss) {
    static const char who[] = "dr3_regularizer_apply";
    dr3_regularizer_options o = DR3_REGULARIZER_OPTIONS_INIT;
    dr3_status st = dr3i_regularizer_options_load(&o, opts, who);
    if (st != DR3_OK) return st;
    dr3_reg_view v = DR3_REG_VIEW_INIT;
    dr3_reg_grads g = DR3_REG_GRADS_INIT;
    if ((st = dr3i_struct_in(&v, view, &dr3i_desc_dr3_reg_view, false, who, "view")) !=
            DR3_OK ||
        (st = dr3i_struct_in(&g, grads, &dr3i_desc_dr3_reg_grads, false, who, "grads")) !=
            DR3_OK)
        return st;
    return apply(&o, &v, &g, loss, who);
}

static int builtin_apply(void *payload, const dr3_reg_view *view, const dr3_reg_grads *grads,
                         float *loss) {
    const dr3_regularizer_options *o = (const dr3_regularizer_options *)payload;
    return apply(o, view, grads, loss, dr3_regularizer_kind_name(o->kind)) == DR3_OK ? 0 : 1;
}

dr3_regularizer_vtable dr3i_regularizer_builtin_vtable(const dr3_regularizer_options *o) {
    dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
    vt.name = dr3_regularizer_kind_name(o->kind);
    vt.apply = builtin_apply;
    return vt;
}

dr3_status dr3i_regularizer_vtable_load(dr3_regularizer_vtable *out,
                                        const dr3_regularizer_vtable *user, const char *who) {
    dr3_status st = dr3i_struct_in(out, user, &dr3i_desc_dr3_regularizer_vtable, false, who,
                                   "regularizer vtable");
    if (st != DR3_OK) return st;
    if (out->apply == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: regularizer vtable has no apply callback",
                         who);
    return DR3_OK;
}

DR3I_ENUM_NAMES(dr3_regularizer_kind, dr3_regularizer_kind, "dr3", "cql", "l2", "feature_l2")
