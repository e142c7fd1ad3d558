/**
 * @file dr3/sys/collective.h
 * @brief Plugin interface for collective communication: data-parallel training of one
 *        learner across processes (MPI, NCCL, Gloo, a user's RPC layer). Experimental.
 *
 * A collective is a vtable plus a payload pointer owned by the user: rank, size, an in-place
 * sum of a float buffer over all ranks, a broadcast of bytes from one rank, and (optional) a
 * barrier. libdr3-mpi (dr3/mpi.h, a separate library) implements it on an MPI communicator;
 * any other transport implements the same six callbacks. docs/mpi.md describes the design,
 * the statistical meaning of per-rank sampling and the cost model.
 *
 * With a collective installed (dr3_learner_set_collective()), every rank runs the same
 * program on its own batches. Each dr3_learner_step() then makes exactly one
 * allreduce_sum() call, over one buffer holding the whole gradient vector followed by a few
 * scalars (the loss parts for the metrics, a failure flag, and a fingerprint of the step
 * counter or, every k steps, of the parameters and optimizer state). The optimizer step is
 * then the same on every rank, so the parameters stay bit-identical; a fingerprint that
 * differs between ranks fails the step with ::DR3_ERR_STATE ("ranks diverged").
 *
 * Every callback is collective: all ranks call it in the same order with the same sizes.
 * dr3_learner_step() is therefore collective too: every rank must call it the same number
 * of times. A rank whose step fails before the allreduce (bad batch, non-finite loss, a
 * failing plugin) still takes part in it with a failure flag, so all ranks fail that step
 * together and nothing changes anywhere.
 *
 * ABI rules (docs/api-stability.md): the vtable begins with `unsigned version`
 * (::DR3_COLLECTIVE_VTABLE_VERSION of the header the plugin was built with) and only ever
 * grows at the end. A callback explains a failure with dr3_error_set() (dr3/sys/errors.h).
 * Everything here is declared only when `DR3_EXPERIMENTAL` is defined: it may change in any
 * release (issue #15). Version history:
 * - 1: version, name, rank, size, allreduce_sum, broadcast, barrier, destroy.
 */
#ifndef DR3_SYS_COLLECTIVE_H
#define DR3_SYS_COLLECTIVE_H

#include <dr3/common.h>
#include <dr3/sys/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef DR3_EXPERIMENTAL

/** Version of ::dr3_collective_vtable in this header (1: the first, experimental). */
#define DR3_COLLECTIVE_VTABLE_VERSION 1

/** @brief A collective communication layer: a table of callbacks plus the caller's payload.
 *  Experimental. All callbacks but barrier and destroy are required. */
typedef struct dr3_collective_vtable {
    unsigned version; /**< ::DR3_COLLECTIVE_VTABLE_VERSION; set by the _INIT macro. */
    const char *name; /**< Short static name for messages ("mpi"; may be NULL). */
    /** Required. This process's rank in [0, size), or a negative value on failure. */
    int (*rank)(void *payload);
    /** Required. The number of ranks (>= 1), or a value < 1 on failure. */
    int (*size)(void *payload);
    /**
     * Required. Replaces buf[0..n) on every rank with the element-wise sum over all ranks
     * (in place). Every rank must receive the same bits (MPI_Allreduce does). Returns 0 on
     * success, anything else on failure.
     */
    int (*allreduce_sum)(void *payload, float *buf, size_t n);
    /** Required. Copies @p bytes bytes of @p buf on rank @p root to @p buf on every other
     *  rank. Returns 0 on success. */
    int (*broadcast)(void *payload, void *buf, size_t bytes, int root);
    /** Optional. Waits until every rank has called it. Returns 0 on success. */
    int (*barrier)(void *payload);
    /** Optional: called once when the learner that holds this collective is freed or the
     *  collective is replaced. */
    void (*destroy)(void *payload);
} dr3_collective_vtable;

/** Initializer for ::dr3_collective_vtable: no callbacks. */
#define DR3_COLLECTIVE_VTABLE_INIT                                                             \
    { DR3_COLLECTIVE_VTABLE_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/** @brief Fills @p s with ::DR3_COLLECTIVE_VTABLE_INIT for struct version @p version (pass
 *  ::DR3_COLLECTIVE_VTABLE_VERSION), for language bindings. Errors: ::DR3_ERR_INVALID_ARG,
 *  ::DR3_ERR_VERSION. Thread-safe. Experimental. */
DR3_API dr3_status dr3_collective_vtable_init(dr3_collective_vtable *s, unsigned version);

/** Opaque learner handle (dr3/learner.h). */
typedef struct dr3_learner dr3_learner;

/**
 * @brief Makes @p learner one replica of a data-parallel learner: collective over all ranks
 *        of @p vtable. Experimental.
 *
 * Every rank calls it with its own learner, created with the same options (architecture,
 * optimizer, losses; the seed may differ). It
 *  1. checks the vtable and that rank() and size() agree across processes (each rank in
 *     [0, size) held by exactly one process) and that the learners have the same
 *     architecture, optimizer and loss configuration (one allreduce);
 *  2. broadcasts rank 0's online and target parameters, optimizer state, step counter and
 *     generator to every rank (one broadcast);
 *  3. splits the generator per rank (dr3_rng_split() with the rank as stream), so that
 *     dr3_learner_step_replay() samples independent batches on each rank.
 * From then on each dr3_learner_step() averages the gradients of all ranks (weighted by
 * their batch rows) before the optimizer, so that N ranks with batches of b rows take the
 * step one process would take on the N·b rows. The step's loss, TD loss and regularizer
 * losses are those averages too; the other metrics describe this rank's batch.
 * dr3_learner_evaluate(), dr3_learner_q_values() and dr3_learner_act() stay local.
 *
 * After dr3_learner_load() of the same file on every rank the replicas go on without calling
 * it again: the load splits the loaded generator per rank, and the next step compares the
 * full fingerprints (replicas that loaded different files fail it with ::DR3_ERR_STATE).
 * Calling it again resynchronises from rank 0 at any time. A NULL
 * @p vtable removes the collective (calling its destroy). The vtable is read (fields of its
 * version) and copied; @p payload is borrowed until the learner is freed or the collective
 * replaced, when destroy (if any) is called.
 *
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner, a required callback missing, rank() or
 * size() out of range or inconsistent across processes), ::DR3_ERR_VERSION (version 0 or
 * newer than the library), ::DR3_ERR_SHAPE (the learners differ across ranks),
 * ::DR3_ERR_CALLBACK (a collective call failed), ::DR3_ERR_NOMEM. On error the learner is
 * unchanged (and keeps its previous collective, if any). Collective: every rank must call
 * it. Not thread-safe with other calls on the same learner.
 */
DR3_API dr3_status dr3_learner_set_collective(dr3_learner *learner,
                                              const dr3_collective_vtable *vtable,
                                              void *payload);

/**
 * @brief Sets how often (every @p every steps, >= 1; default 100) the replicas compare a
 *        fingerprint of their parameters, target parameters and optimizer state. The
 *        comparison rides in the step's allreduce (16 floats); the cost is one pass over
 *        the parameters and optimizer state to hash them. A mismatch fails that step on
 *        every rank with ::DR3_ERR_STATE ("ranks diverged"), nothing changed. Experimental.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL learner), ::DR3_ERR_RANGE (0). Must be set to the
 * same value on every rank.
 */
DR3_API dr3_status dr3_learner_set_sync_check(dr3_learner *learner, uint64_t every);

#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_COLLECTIVE_H */
