/* dr3_optim_step in two phases, for callers that update several optimizers as one
 * all-or-nothing step (the actor-critic learner): check every optimizer first, and commit
 * all of them only when every check passed. Nothing is allocated and nothing is copied. */
#ifndef DR3_SRC_OPTIM_INTERNAL_H
#define DR3_SRC_OPTIM_INTERNAL_H

#include <dr3/optim.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct dr3i_optim_plan {
    double norm; /* the gradient's L2 norm before clipping */
    float coef;  /* the clipping factor (1 when not clipped) */
    bool clip;
    uint64_t step; /* the number of the step the commit takes */
    int threads;   /* in: threads the check and the commit may use (the same bits for any) */
    /* in: a target network's parameters (count floats) that the commit moves toward the new
     * parameters, dr3i_polyak(polyak, params, count, polyak_tau), range by range in its
     * write pass (under its flush-to-zero mode, docs/optim.md); NULL for none */
    float *polyak;
    float polyak_tau;
} dr3i_optim_plan;

/* The most ranges one pass is cut into. */
#define DR3I_OPTIM_MAX_PARTS 16

/* Everything dr3_optim_step checks (arguments, the step limit, a finite gradient, a finite
 * update of every parameter and state value), changing nothing; on success fills @p plan
 * (whose threads the caller sets: 1 or more).
 * @p who names the caller in the error message. */
dr3_status dr3i_optim_check(dr3_optim *opt, const float *params, const float *grads,
                            size_t count, dr3i_optim_plan *plan, const char *who);

/* Stores the update dr3i_optim_check computed, which must be the last call on this
 * optimizer, parameters and gradients since that check (so that it cannot fail): the same
 * bits dr3_optim_step stores. */
void dr3i_optim_commit(dr3_optim *opt, float *params, float *grads, size_t count,
                       const dr3i_optim_plan *plan);

#endif
