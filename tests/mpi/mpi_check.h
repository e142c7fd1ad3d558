/* Checks for the programs run under mpirun: a failed check prints the rank, place and
 * message and aborts the whole job (MPI_Abort), so no rank waits in a collective. The
 * including file defines `static int g_rank` (this process's rank, set after MPI_Init). */
#ifndef DR3_TEST_MPI_CHECK_H
#define DR3_TEST_MPI_CHECK_H

#include <mpi.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", g_rank, __FILE__, __LINE__,  \
                    #cond);                                                                    \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                      \
        }                                                                                      \
    } while (0)

#define OK(call)                                                                               \
    do {                                                                                       \
        dr3_status ok_st = (call);                                                             \
        CHECK(ok_st == DR3_OK, "%s -> %s: %s", #call, dr3_status_name(ok_st),                  \
              dr3_last_error());                                                               \
    } while (0)

#endif
