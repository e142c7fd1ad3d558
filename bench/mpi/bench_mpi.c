/* Time per data-parallel step under mpirun (docs/mpi.md): one learner per rank, each
 * stepping on its own fixed batch; the allreduce callback is timed through a wrapper around
 * libdr3-mpi's vtable, so the report splits the step into compute and allreduce (which
 * includes waiting for the slowest rank).
 *
 *   mpirun -np N bench_mpi small|large|nature [batch per rank] [steps] [threads] [plain|check1]
 *
 * `plain` (with -np 1): the learner without a collective, the baseline. `check1`: the full
 * fingerprint (hash of parameters and optimizer state) every step instead of every 100. */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>
#include <dr3/mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct timed {
    dr3_mpi *mpi;
    double seconds;
    long calls;
} timed;

static int t_rank(void *p) { return dr3_mpi_vtable()->rank(((timed *)p)->mpi); }
static int t_size(void *p) { return dr3_mpi_vtable()->size(((timed *)p)->mpi); }
static int t_bcast(void *p, void *buf, size_t bytes, int root) {
    return dr3_mpi_vtable()->broadcast(((timed *)p)->mpi, buf, bytes, root);
}
static int t_allreduce(void *p, float *buf, size_t n) {
    timed *t = p;
    double t0 = MPI_Wtime();
    int rc = dr3_mpi_vtable()->allreduce_sum(t->mpi, buf, n);
    t->seconds += MPI_Wtime() - t0;
    t->calls++;
    return rc;
}

static void die(dr3_status st, const char *what) {
    if (st == DR3_OK) return;
    fprintf(stderr, "%s: %s\n", what, dr3_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *cfg = argc > 1 ? argv[1] : "small";
    const size_t B = argc > 2 ? (size_t)atol(argv[2]) : 256;
    const int steps = argc > 3 ? atoi(argv[3]) : 200;
    const int threads = argc > 4 ? atoi(argv[4]) : 1;
    const int plain = argc > 5 && strcmp(argv[5], "plain") == 0;
    const int check1 = argc > 5 && strcmp(argv[5], "check1") == 0;

    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    size_t small[] = {256, 256}, large[] = {1024, 1024};
    dr3_net_desc desc = DR3_NET_DESC_INIT;
    int nature = strcmp(cfg, "nature") == 0;
    if (strcmp(cfg, "large") == 0) {
        o.obs_dim = 64;
        o.num_actions = 18;
        o.num_hidden = 2;
        o.hidden = large;
    } else if (nature) {
        die(dr3_net_desc_preset(&desc, "nature", 4, 6), "preset");
    } else {
        o.obs_dim = 4;
        o.num_actions = 2;
        o.num_hidden = 2;
        o.hidden = small;
    }
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT;
    dr3.kind = DR3_REG_DR3;
    dr3.coef = 0.1f;
    const dr3_regularizer_options *regs[] = {&dr3};
    o.regularizers = regs;
    o.num_regularizers = 1;
    o.batch_size = B;
    o.threads = threads;
    o.seed = 1;
    dr3_learner *l = NULL;
    die(nature ? dr3_learner_create_desc(&l, &o, &desc) : dr3_learner_create(&l, &o), "create");
    const size_t S = dr3_net_obs_dim(dr3_learner_online(l));
    const size_t A = dr3_net_action_dim(dr3_learner_online(l));
    const size_t P = dr3_net_param_count(dr3_learner_online(l));

    float *obs = malloc(B * S * sizeof(float)), *next = malloc(B * S * sizeof(float));
    float *rew = malloc(B * sizeof(float));
    int32_t *act = malloc(B * sizeof(int32_t));
    dr3_rng g;
    dr3_rng_seed(&g, 100 + (uint64_t)rank);
    for (size_t i = 0; i < B * S; i++) {
        obs[i] = dr3_rng_uniform(&g);
        next[i] = dr3_rng_uniform(&g);
    }
    for (size_t i = 0; i < B; i++) {
        rew[i] = dr3_rng_uniform(&g);
        act[i] = (int32_t)dr3_rng_below(&g, A);
    }
    dr3_batch b = DR3_BATCH_INIT;
    b.n = B;
    b.obs = obs;
    b.ld_obs = S;
    b.next_obs = next;
    b.ld_next_obs = S;
    b.actions = act;
    b.rewards = rew;

    dr3_mpi *mpi = NULL;
    die(dr3_mpi_create(&mpi, MPI_COMM_WORLD), "dr3_mpi_create");
    timed t = {mpi, 0, 0};
    dr3_collective_vtable vt = DR3_COLLECTIVE_VTABLE_INIT;
    vt.name = "timed-mpi";
    vt.rank = t_rank;
    vt.size = t_size;
    vt.allreduce_sum = t_allreduce;
    vt.broadcast = t_bcast;
    if (!plain) die(dr3_learner_set_collective(l, &vt, &t), "set_collective");
    if (check1) die(dr3_learner_set_sync_check(l, 1), "set_sync_check");
    for (int s = 0; s < 5; s++) die(dr3_learner_step(l, &b, NULL), "step");
    t.seconds = 0;
    t.calls = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int s = 0; s < steps; s++) die(dr3_learner_step(l, &b, NULL), "step");
    double mine = MPI_Wtime() - t0, total = 0, ar = 0;
    MPI_Reduce(&mine, &total, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t.seconds, &ar, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double per = total / steps * 1e3, arper = ar / size / steps * 1e3;
        printf("%s: %d rank(s)%s%s, %d thread(s) each, batch %zu per rank (%zu in all), %zu "
               "params (%.2f MB allreduce): %.3f ms/step, allreduce %.3f ms (%.0f%%), "
               "%.0f rows/s\n",
               cfg, size, plain ? " without collective" : "",
               check1 ? ", fingerprint every step" : "", threads, B, B * (size_t)size, P,
               4.0 * (double)P / 1e6, per, arper, per > 0 ? 100 * arper / per : 0,
               (double)B * size / (per / 1e3));
    }
    dr3_learner_free(l);
    dr3_mpi_free(mpi);
    free(obs);
    free(next);
    free(rew);
    free(act);
    MPI_Finalize();
    return 0;
}
