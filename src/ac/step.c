/* The actor-critic update (dr3/ac.h). */
#include "ac_internal.h"

dr3_status dr3_ac_learner_step_batch(dr3_ac_learner *l, const dr3_ac_batch *batch,
                                     dr3_ac_metrics *metrics) {
    (void)l;
    (void)batch;
    (void)metrics;
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "dr3_ac_learner_step_batch: not implemented yet");
}

dr3_status dr3_ac_learner_step(dr3_ac_learner *l, const dr3_replay *replay,
                               dr3_ac_metrics *metrics) {
    (void)l;
    (void)replay;
    (void)metrics;
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "dr3_ac_learner_step: not implemented yet");
}
