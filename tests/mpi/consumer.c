/* An outside program using the installed libdr3-mpi (tests/mpi/check_mpi_install.cmake):
 * three data-parallel steps on random data, then the ranks compare parameters. */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>
#include <dr3/mpi.h>

#include <stdio.h>
#include <string.h>

#define TRY(call)                                                                              \
    do {                                                                                       \
        if ((call) != DR3_OK) {                                                                \
            fprintf(stderr, "%s: %s\n", #call, dr3_last_error());                              \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                      \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    dr3_mpi *mpi = NULL;
    TRY(dr3_mpi_create(&mpi, MPI_COMM_WORLD));
    const size_t hidden[] = {16};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = 3;
    o.num_actions = 2;
    o.num_hidden = 1;
    o.hidden = hidden;
    o.batch_size = 4;
    o.seed = (uint64_t)dr3_mpi_rank(mpi); /* rank 0's weights win at attach */
    dr3_learner *l = NULL;
    TRY(dr3_learner_create(&l, &o));
    TRY(dr3_mpi_attach(mpi, l));
    float obs[12], next[12], rew[4];
    int32_t act[4];
    dr3_rng g;
    dr3_rng_seed(&g, 10 + (uint64_t)dr3_mpi_rank(mpi));
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 12; i++)
            obs[i] = dr3_rng_uniform(&g), next[i] = dr3_rng_uniform(&g);
        for (int i = 0; i < 4; i++) rew[i] = dr3_rng_uniform(&g), act[i] = i % 2;
        dr3_batch b = DR3_BATCH_INIT;
        b.n = 4;
        b.obs = obs;
        b.ld_obs = 3;
        b.next_obs = next;
        b.ld_next_obs = 3;
        b.actions = act;
        b.rewards = rew;
        TRY(dr3_learner_step(l, &b, NULL));
    }
    float p0[256];
    size_t P = dr3_net_param_count(dr3_learner_online(l));
    if (P > 256) MPI_Abort(MPI_COMM_WORLD, 2);
    memcpy(p0, dr3_net_params(dr3_learner_online(l)), P * sizeof(float));
    MPI_Bcast(p0, (int)P, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int same = memcmp(p0, dr3_net_params(dr3_learner_online(l)), P * sizeof(float)) == 0;
    printf("consumer rank %d of %d: %s\n", dr3_mpi_rank(mpi), dr3_mpi_size(mpi),
           same ? "identical" : "DIFFERENT");
    dr3_learner_free(l);
    dr3_mpi_free(mpi);
    MPI_Finalize();
    return same ? 0 : 1;
}
