/* Plugin registration for the actor-critic learner (dr3/sys/continuous.h). The step calls
 * them (step.c); this file checks and copies the vtables and drops them at free. */
#include "ac_internal.h"

#include <string.h>

DR3I_DEFINE_STRUCT(dr3_ac_backup_vtable, dr3_ac_backup_vtable, DR3_AC_BACKUP_VTABLE_INIT,
                   DR3_AC_BACKUP_VTABLE_VERSION, sizeof(dr3_ac_backup_vtable))
DR3I_DEFINE_STRUCT(dr3_ac_regularizer_vtable, dr3_ac_regularizer_vtable,
                   DR3_AC_REGULARIZER_VTABLE_INIT, DR3_AC_REGULARIZER_VTABLE_VERSION,
                   sizeof(dr3_ac_regularizer_vtable))

void dr3i_ac_drop_plugins(dr3_ac_learner *l) {
    if (l->has_backup && l->backup.destroy) l->backup.destroy(l->backup_payload);
    l->has_backup = false;
    for (size_t i = 0; i < l->nreg; i++)
        if (l->reg[i].destroy) l->reg[i].destroy(l->reg_payload[i]);
    l->nreg = 0;
}

dr3_status dr3_ac_learner_set_backup(dr3_ac_learner *l, const dr3_ac_backup_vtable *vtable,
                                     void *payload) {
    static const char who[] = "dr3_ac_learner_set_backup";
    if (l == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: learner is NULL", who);
    dr3_ac_backup_vtable vt;
    if (vtable != NULL) {
        dr3_status st =
            dr3i_struct_in(&vt, vtable, &dr3i_desc_dr3_ac_backup_vtable, false, who, "vtable");
        if (st != DR3_OK) return st;
        if (vt.next_values == NULL)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: the vtable has no next_values", who);
    }
    if (l->has_backup && l->backup.destroy) l->backup.destroy(l->backup_payload);
    l->has_backup = vtable != NULL;
    if (vtable != NULL) {
        l->backup = vt;
        l->backup_payload = payload;
    }
    return DR3_OK;
}

dr3_status dr3_ac_learner_add_regularizer(dr3_ac_learner *l,
                                          const dr3_ac_regularizer_vtable *vtable,
                                          void *payload) {
    static const char who[] = "dr3_ac_learner_add_regularizer";
    if (l == NULL || vtable == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "vtable");
    dr3_ac_regularizer_vtable vt;
    dr3_status st =
        dr3i_struct_in(&vt, vtable, &dr3i_desc_dr3_ac_regularizer_vtable, false, who, "vtable");
    if (st != DR3_OK) return st;
    if (vt.apply == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: the vtable has no apply", who);
    if (l->nreg >= DR3_AC_MAX_REGULARIZERS)
        return dr3i_fail(DR3_ERR_RANGE, "%s: the learner already holds %d regularizers", who,
                         DR3_AC_MAX_REGULARIZERS);
    l->reg[l->nreg] = vt;
    l->reg_payload[l->nreg] = payload;
    l->reg_loss[l->nreg] = 0;
    l->nreg++;
    return DR3_OK;
}

dr3_status dr3_ac_learner_reg_loss(float *out, const dr3_ac_learner *l, size_t index) {
    static const char who[] = "dr3_ac_learner_reg_loss";
    if (out == NULL || l == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         out == NULL ? "out" : "learner");
    if (index >= l->nreg)
        return dr3i_fail(DR3_ERR_RANGE, "%s: index %zu >= %zu regularizers", who, index,
                         l->nreg);
    *out = l->reg_loss[index];
    return DR3_OK;
}
