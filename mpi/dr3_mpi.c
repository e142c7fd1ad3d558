/* libdr3-mpi: dr3/sys/collective.h on an MPI communicator (dr3/mpi.h). Each callback is one
 * MPI collective on a private duplicate of the caller's communicator; buffers larger than
 * INT_MAX elements go in INT_MAX-sized pieces (MPI counts are int). */
#include <dr3/mpi.h>

#include <limits.h>
#include <stdlib.h>

struct dr3_mpi {
    MPI_Comm comm; /* our duplicate */
    int rank, size;
};

/* Reports a failed MPI call through the plugin error setter; returns non-zero. */
static int mpi_failed(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) msg[0] = '\0';
    dr3_error_set(DR3_ERR_CALLBACK, "%s failed: %s (MPI error %d)", what, msg, rc);
    return 1;
}

static int cb_rank(void *payload) { return ((const dr3_mpi *)payload)->rank; }

static int cb_size(void *payload) { return ((const dr3_mpi *)payload)->size; }

static int cb_allreduce_sum(void *payload, float *buf, size_t n) {
    const dr3_mpi *m = payload;
    while (n > 0) {
        int count = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, m->comm);
        if (rc != MPI_SUCCESS) return mpi_failed(rc, "MPI_Allreduce");
        buf += count;
        n -= (size_t)count;
    }
    return 0;
}

static int cb_broadcast(void *payload, void *buf, size_t bytes, int root) {
    const dr3_mpi *m = payload;
    unsigned char *p = buf;
    while (bytes > 0) {
        int count = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
        int rc = MPI_Bcast(p, count, MPI_BYTE, root, m->comm);
        if (rc != MPI_SUCCESS) return mpi_failed(rc, "MPI_Bcast");
        p += count;
        bytes -= (size_t)count;
    }
    return 0;
}

static int cb_barrier(void *payload) {
    int rc = MPI_Barrier(((const dr3_mpi *)payload)->comm);
    return rc == MPI_SUCCESS ? 0 : mpi_failed(rc, "MPI_Barrier");
}

static const dr3_collective_vtable vtable = {DR3_COLLECTIVE_VTABLE_VERSION,
                                             "mpi",
                                             cb_rank,
                                             cb_size,
                                             cb_allreduce_sum,
                                             cb_broadcast,
                                             cb_barrier,
                                             NULL};

const dr3_collective_vtable *dr3_mpi_vtable(void) { return &vtable; }

dr3_status dr3_mpi_create(dr3_mpi **out, MPI_Comm comm) {
    static const char who[] = "dr3_mpi_create";
    if (out == NULL) return dr3_error_set(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    if (comm == MPI_COMM_NULL)
        return dr3_error_set(DR3_ERR_INVALID_ARG, "%s: comm is MPI_COMM_NULL", who);
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin)
        return dr3_error_set(DR3_ERR_STATE, "%s: MPI is %s", who,
                             fin ? "already finalised" : "not initialised (call MPI_Init)");
    dr3_mpi *m = calloc(1, sizeof *m);
    if (m == NULL) return dr3_error_set(DR3_ERR_NOMEM, "%s: out of memory", who);
    m->comm = MPI_COMM_NULL;
    int rc = MPI_Comm_dup(comm, &m->comm), dup_ok = rc == MPI_SUCCESS;
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(m->comm, &m->rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(m->comm, &m->size);
    if (rc != MPI_SUCCESS) {
        mpi_failed(rc, "dr3_mpi_create: MPI_Comm_dup/rank/size");
        if (dup_ok) MPI_Comm_free(&m->comm);
        free(m);
        return DR3_ERR_CALLBACK;
    }
    *out = m;
    return DR3_OK;
}

void dr3_mpi_free(dr3_mpi *m) {
    if (m == NULL) return;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Comm_free(&m->comm);
    free(m);
}

dr3_status dr3_mpi_attach(dr3_mpi *m, dr3_learner *learner) {
    if (m == NULL) return dr3_error_set(DR3_ERR_INVALID_ARG, "dr3_mpi_attach: mpi is NULL");
    return dr3_learner_set_collective(learner, &vtable, m);
}

int dr3_mpi_rank(const dr3_mpi *m) { return m ? m->rank : -1; }

int dr3_mpi_size(const dr3_mpi *m) { return m ? m->size : 0; }
