/**
 * @file dr3/mpi.h
 * @brief libdr3-mpi: the collective interface (dr3/sys/collective.h) on an MPI
 *        communicator, for data-parallel training across processes and machines.
 *        Experimental (issue #15).
 *
 * A separate library (libdr3-mpi.so.1; pkg-config `dr3-mpi`; CMake
 * `find_package(dr3 COMPONENTS mpi)` and the target `dr3::mpi`), so that libdr3 itself
 * never depends on MPI. Usage, on every rank (docs/mpi.md):
 *
 * @code
 * MPI_Init(&argc, &argv);
 * dr3_mpi *mpi = NULL;
 * dr3_mpi_create(&mpi, MPI_COMM_WORLD);          // duplicates the communicator
 * dr3_learner *l = NULL;
 * dr3_learner_create(&l, &opts);
 * dr3_mpi_attach(mpi, l);                        // broadcast from rank 0, split generators
 * for (...) dr3_learner_step_replay(l, replay, &m); // one allreduce per step
 * dr3_learner_free(l);
 * dr3_mpi_free(mpi);                             // before MPI_Finalize
 * MPI_Finalize();
 * @endcode
 *
 * Errors: MPI's error handler of @p comm applies. With the default (MPI_ERRORS_ARE_FATAL)
 * a failing or dead rank makes the MPI runtime end the whole job, so no rank waits forever
 * in a collective; with MPI_ERRORS_RETURN a failing call becomes ::DR3_ERR_CALLBACK with
 * MPI's error string.
 *
 * Threading: the handle is used by one thread at a time (MPI_THREAD_FUNNELED suffices when
 * that thread is the main thread). Like dr3/sys/collective.h, everything here is
 * experimental: define DR3_EXPERIMENTAL before including it.
 */
#ifndef DR3_MPI_H
#define DR3_MPI_H

#ifndef DR3_EXPERIMENTAL
#error "dr3/mpi.h is experimental: #define DR3_EXPERIMENTAL before including it (docs/mpi.md)"
#endif

#include <dr3/learner.h>
#include <dr3/sys/collective.h>

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @def DR3_MPI_API
 *  Marks a function exported by libdr3-mpi. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define DR3_MPI_API __attribute__((visibility("default")))
#else
#define DR3_MPI_API
#endif

/** Opaque handle: a duplicate of an MPI communicator, usable as a collective payload. */
typedef struct dr3_mpi dr3_mpi;

/**
 * @brief Creates a collective over @p comm (collective over @p comm: every rank calls it).
 *        The communicator is duplicated (MPI_Comm_dup), so libdr3's traffic never matches
 *        the program's own messages; the duplicate inherits @p comm's error handler.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL @p out, MPI_COMM_NULL), ::DR3_ERR_STATE (MPI not
 * initialised, or already finalised), ::DR3_ERR_CALLBACK (an MPI call failed),
 * ::DR3_ERR_NOMEM. *out is NULL on error.
 */
DR3_MPI_API dr3_status dr3_mpi_create(dr3_mpi **out, MPI_Comm comm);

/** @brief Frees the handle and its communicator (collective: every rank calls it, before
 *  MPI_Finalize and after every learner using it is freed or detached). Accepts NULL. */
DR3_MPI_API void dr3_mpi_free(dr3_mpi *mpi);

/** @brief The collective's vtable (static; pass it with the handle as payload to
 *  dr3_learner_set_collective()). Its destroy callback is NULL: the handle belongs to the
 *  caller, who frees it with dr3_mpi_free(). */
DR3_MPI_API const dr3_collective_vtable *dr3_mpi_vtable(void);

/** @brief dr3_learner_set_collective(@p learner, dr3_mpi_vtable(), @p mpi): makes the
 *  learner one replica of a data-parallel learner over the handle's ranks. Errors: those
 *  of dr3_learner_set_collective(); ::DR3_ERR_INVALID_ARG for a NULL handle. Collective. */
DR3_MPI_API dr3_status dr3_mpi_attach(dr3_mpi *mpi, dr3_learner *learner);

/** @brief This process's rank in the handle's communicator (-1 for NULL). */
DR3_MPI_API int dr3_mpi_rank(const dr3_mpi *mpi);

/** @brief The number of ranks in the handle's communicator (0 for NULL). */
DR3_MPI_API int dr3_mpi_size(const dr3_mpi *mpi);

#ifdef __cplusplus
}
#endif

#endif /* DR3_MPI_H */
