/* Actor-critic checkpoints (dr3/ac.h). */
#include "ac_internal.h"

dr3_status dr3_ac_learner_save(const dr3_ac_learner *l, const char *path) {
    (void)l;
    (void)path;
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "dr3_ac_learner_save: not implemented yet");
}

dr3_status dr3_ac_learner_open(dr3_ac_learner **out, const char *path,
                               const dr3_ac_options *runtime) {
    (void)path;
    (void)runtime;
    if (out) *out = NULL;
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "dr3_ac_learner_open: not implemented yet");
}

dr3_status dr3_ac_learner_load(dr3_ac_learner *l, const char *path) {
    (void)l;
    (void)path;
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "dr3_ac_learner_load: not implemented yet");
}
