/* Data-parallel actor-critic learners under mpirun, through libdr3-mpi's collective
 * (dr3_ac_learner_set_collective with dr3_mpi_vtable()). For SAC, CQL (Lagrange multiplier)
 * and offline SARSA, each with DR3: N ranks, rank r stepping on its own rows of a fixed
 * dataset (with every random draw supplied, so the rows fully determine the step), against
 * one process without a collective stepping on all N ranks' rows: every network, α and the
 * reported losses agree within float tolerance after every step, and the replicas are
 * bit-identical across ranks (checked with MPI directly). Rank r has PER + 3r rows, so the
 * row weighting of the averaged gradients matters; every rank starts from its own seed, so
 * rank 0's broadcast at attach time matters too. */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>
#include <dr3/mpi.h>
#include <dr3/sys/continuous.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank = -1;

#include "mpi_check.h"

enum { D = 3, A = 2, PER = 5, NC = 3, STEPS = 6, MAX_RANKS = 8 };
static const size_t HID[2] = {12, 10};

/* One step's rows of all ranks and their draws (the same on every rank). */
typedef struct rows_t {
    size_t n;
    float *obs, *nobs, *act, *nact, *rew, *e1, *e2, *cu, *co, *cn;
} rows_t;

static float *fill(dr3_rng *r, size_t count, int normal) {
    float *v = malloc(count * sizeof(float));
    CHECK(v != NULL, "out of memory");
    for (size_t i = 0; i < count; i++)
        v[i] = normal ? (float)dr3_rng_normal(r) : 2.0f * dr3_rng_uniform(r) - 1.0f;
    return v;
}

static rows_t make_rows(size_t n, uint64_t seed) {
    dr3_rng r;
    dr3_rng_seed(&r, seed);
    rows_t x = {n,
                fill(&r, n * D, 0),
                fill(&r, n * D, 0),
                fill(&r, n * A, 0),
                fill(&r, n * A, 0),
                fill(&r, n, 0),
                fill(&r, n * A, 1),
                fill(&r, n * A, 1),
                fill(&r, n * NC * A, 0),
                fill(&r, n * NC * A, 1),
                fill(&r, n * NC * A, 1)};
    return x;
}

static void free_rows(rows_t *x) {
    float *all[] = {x->obs, x->nobs, x->act, x->nact, x->rew,
                    x->e1,  x->e2,   x->cu,  x->co,   x->cn};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

/* Rows [first, first + n) with their draws. */
static dr3_ac_batch slice(const rows_t *x, size_t first, size_t n) {
    dr3_ac_batch b = DR3_AC_BATCH_INIT;
    b.n = n;
    b.obs = x->obs + first * D;
    b.ld_obs = D;
    b.next_obs = x->nobs + first * D;
    b.ld_next_obs = D;
    b.actions = x->act + first * A;
    b.ld_actions = A;
    b.next_actions = x->nact + first * A;
    b.ld_next_actions = A;
    b.rewards = x->rew + first;
    b.eps_next = x->e1 + first * A;
    b.eps_actor = x->e2 + first * A;
    b.cql_uniform = x->cu + first * NC * A;
    b.cql_eps_obs = x->co + first * NC * A;
    b.cql_eps_next = x->cn + first * NC * A;
    return b;
}

static dr3_ac_learner *make(dr3_ac_algo algo, size_t batch, uint64_t seed) {
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = algo;
    o.obs_dim = D;
    o.action_dim = A;
    o.critic_num_hidden = o.actor_num_hidden = 2;
    o.critic_hidden = o.actor_hidden = HID;
    o.batch_size = batch;
    o.cql_num_actions = NC;
    o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
    o.critic_lr = o.actor_lr = o.alpha_lr = 3e-3f;
    o.dr3_coef = 0.1f;
    o.seed = seed;
    dr3_ac_learner *l = NULL;
    OK(dr3_ac_learner_create(&l, &o));
    return l;
}

/* The learner's networks, in a fixed order (NULL entries skipped by the callers). */
static size_t nets_of(dr3_ac_learner *l, dr3_net *out[6]) {
    out[0] = dr3_ac_learner_critic(l, 0);
    out[1] = dr3_ac_learner_critic(l, 1);
    out[2] = dr3_ac_learner_target_critic(l, 0);
    out[3] = dr3_ac_learner_target_critic(l, 1);
    out[4] = dr3_ac_learner_actor(l);
    out[5] = dr3_ac_learner_target_actor(l);
    return 6;
}

/* Every parameter and α bit-identical on all ranks: the minimum and maximum over ranks of
 * each float's bits agree. */
static void check_identical(dr3_ac_learner *l, int t) {
    dr3_net *nets[6];
    nets_of(l, nets);
    for (int k = 0; k < 6; k++) {
        if (nets[k] == NULL) continue;
        size_t n = dr3_net_param_count(nets[k]);
        const float *p = dr3_net_params(nets[k]);
        unsigned *lo = malloc(n * sizeof(unsigned)), *hi = malloc(n * sizeof(unsigned));
        CHECK(lo != NULL && hi != NULL, "out of memory");
        memcpy(lo, p, n * sizeof(unsigned));
        memcpy(hi, p, n * sizeof(unsigned));
        MPI_Allreduce(MPI_IN_PLACE, lo, (int)n, MPI_UNSIGNED, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, hi, (int)n, MPI_UNSIGNED, MPI_MAX, MPI_COMM_WORLD);
        CHECK(memcmp(lo, hi, n * sizeof(unsigned)) == 0, "step %d: network %d differs by rank",
              t, k);
        free(lo);
        free(hi);
    }
    float alpha = dr3_ac_learner_alpha(l), amin = alpha, amax = alpha;
    MPI_Allreduce(MPI_IN_PLACE, &amin, 1, MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &amax, 1, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    CHECK(amin == amax, "step %d: alpha differs by rank", t);
}

static void check_close(dr3_ac_learner *a, dr3_ac_learner *b, double tol, int t) {
    dr3_net *na[6], *nb[6];
    nets_of(a, na);
    nets_of(b, nb);
    for (int k = 0; k < 6; k++) {
        CHECK((na[k] == NULL) == (nb[k] == NULL), "network %d exists in one learner only", k);
        if (na[k] == NULL) continue;
        size_t n = dr3_net_param_count(na[k]);
        const float *x = dr3_net_params(na[k]), *y = dr3_net_params(nb[k]);
        for (size_t i = 0; i < n; i++)
            CHECK(fabs((double)x[i] - (double)y[i]) <= tol * (1.0 + fabs((double)y[i])),
                  "step %d: network %d parameter %zu: %.9g vs one process %.9g", t, k, i,
                  (double)x[i], (double)y[i]);
    }
    double x = dr3_ac_learner_alpha(a), y = dr3_ac_learner_alpha(b);
    CHECK(fabs(x - y) <= tol * (1.0 + fabs(y)), "step %d: alpha %.9g vs %.9g", t, x, y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    CHECK(size >= 2 && size <= MAX_RANKS, "run under mpirun -np 2..%d", MAX_RANKS);
    size_t first = 0, total = 0;
    for (int r = 0; r < size; r++) {
        if (r == g_rank) first = total;
        total += PER + 3 * (size_t)r;
    }
    const size_t mine = PER + 3 * (size_t)g_rank;
    dr3_mpi *mpi = NULL;
    OK(dr3_mpi_create(&mpi, MPI_COMM_WORLD));
    const dr3_ac_algo algos[3] = {DR3_AC_SAC, DR3_AC_CQL, DR3_AC_SARSA};
    for (int k = 0; k < 3; k++) {
        /* every rank from its own seed: attaching broadcasts rank 0's state */
        dr3_ac_learner *l = make(algos[k], total, 100 + (uint64_t)g_rank);
        OK(dr3_ac_learner_set_collective(l, dr3_mpi_vtable(), mpi));
        dr3_ac_learner *one = make(algos[k], total, 100); /* rank 0's seed */
        for (int t = 0; t < STEPS; t++) {
            rows_t x = make_rows(total, 1000 + (uint64_t)(k * STEPS + t));
            dr3_ac_batch b = slice(&x, first, mine), all = slice(&x, 0, total);
            dr3_ac_metrics m = DR3_AC_METRICS_INIT, mo = DR3_AC_METRICS_INIT;
            OK(dr3_ac_learner_step_batch(l, &b, &m));
            OK(dr3_ac_learner_step_batch(one, &all, &mo));
            check_identical(l, t);
            check_close(l, one, 2e-5, t);
            CHECK(fabs((double)m.critic_loss - (double)mo.critic_loss) <=
                      1e-5 * (1.0 + fabs((double)mo.critic_loss)),
                  "step %d: critic loss %.9g vs one process %.9g", t, (double)m.critic_loss,
                  (double)mo.critic_loss);
            free_rows(&x);
        }
        CHECK(dr3_ac_learner_step_count(l) == STEPS, "step count");
        OK(dr3_ac_learner_set_collective(l, NULL, NULL));
        dr3_ac_learner_free(l);
        dr3_ac_learner_free(one);
        if (g_rank == 0)
            printf("%s: %d ranks (%zu rows) = one process, %d steps\n",
                   dr3_ac_algo_name(algos[k]), size, total, STEPS);
    }
    dr3_mpi_free(mpi);
    MPI_Finalize();
    return 0;
}
