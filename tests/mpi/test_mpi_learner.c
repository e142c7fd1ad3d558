/* Data-parallel learners under mpirun (libdr3-mpi). One program, several modes:
 *
 *   equiv sgd|adam|uneven
 *                   N ranks, each stepping on its own b rows of a fixed dataset, against one
 *                   process (no collective) stepping on the same N·b rows: parameters and
 *                   losses agree within float tolerance after each of 20 steps, and are
 *                   bit-identical across ranks after every step. Rank 0's state wins at
 *                   attach time (every rank starts from its own seed), and the generators
 *                   are split per rank. `uneven`: rank r steps on PER_RANK + 3r rows (SGD),
 *                   against one process on all of them (gradients are weighted by rows).
 *   failures        bad collectives refused on every rank (a rank numbering that is not
 *                   0..N-1 once each, learners that differ); a step that fails on one rank
 *                   fails on all, nothing changed; the divergence check fires when one
 *                   rank's parameters are perturbed, nothing changed.
 *   replay          dr3_learner_step_replay on every rank's copy of one replay: each rank
 *                   samples its own batch (rank-local metrics differ, the losses are the
 *                   global averages and agree), parameters stay bit-identical; a rank whose
 *                   replay cannot sample makes the step fail everywhere, nothing changed.
 *   resume PATH     rank 0 saves a checkpoint after 5 steps; every rank loads it into a new
 *                   learner (created from another seed) and attaches it again: 5 more
 *                   steps give bit for bit what the uninterrupted replicas give.
 *   die             rank 1 is killed (SIGKILL) while rank 0 steps: the MPI runtime must
 *                   end the job (checked by tests/mpi/check_mpi_die.cmake).
 *
 * The reference for `equiv` is the plain single-process learner (independent of the
 * collective code); cross-rank identity is checked with MPI directly, not through libdr3. */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>
#include <dr3/mpi.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank = -1;

#include "mpi_check.h"

/* `call` fails with `status` and a message containing `text`. */
#define FAILS(call, status, text)                                                              \
    do {                                                                                       \
        dr3_status f_st = (call);                                                              \
        CHECK(f_st == (status), "%s -> %s, expected %s (%s)", #call, dr3_status_name(f_st),    \
              dr3_status_name(status), dr3_last_error());                                      \
        CHECK(strstr(dr3_last_error(), (text)) != NULL, "%s: message '%s' lacks '%s'", #call,  \
              dr3_last_error(), (text));                                                       \
    } while (0)

enum { S = 8, A = 4, PER_RANK = 8, STEPS = 20 };

/* The fixed dataset: STEPS · N · PER_RANK transitions, the same on every rank. */
typedef struct data {
    size_t rows;
    float *obs, *next, *rew;
    int32_t *act;
    uint8_t *term;
} data;

static data make_data(size_t rows) {
    data d = {rows,
              malloc(rows * S * sizeof(float)),
              malloc(rows * S * sizeof(float)),
              malloc(rows * sizeof(float)),
              malloc(rows * sizeof(int32_t)),
              malloc(rows)};
    CHECK(d.obs && d.next && d.rew && d.act && d.term, "out of memory");
    dr3_rng g;
    dr3_rng_seed(&g, 2024);
    for (size_t i = 0; i < rows * S; i++) {
        d.obs[i] = 2 * dr3_rng_uniform(&g) - 1;
        d.next[i] = 2 * dr3_rng_uniform(&g) - 1;
    }
    for (size_t i = 0; i < rows; i++) {
        d.rew[i] = 2 * dr3_rng_uniform(&g) - 1;
        d.act[i] = (int32_t)dr3_rng_below(&g, A);
        d.term[i] = dr3_rng_uniform(&g) < 0.1f;
    }
    return d;
}

static void free_data(data *d) {
    free(d->obs);
    free(d->next);
    free(d->rew);
    free(d->act);
    free(d->term);
}

static dr3_batch rows_of(const data *d, size_t first, size_t n) {
    CHECK(first + n <= d->rows, "rows %zu+%zu of %zu", first, n, d->rows);
    dr3_batch b = DR3_BATCH_INIT;
    b.n = n;
    b.obs = d->obs + first * S;
    b.ld_obs = S;
    b.next_obs = d->next + first * S;
    b.ld_next_obs = S;
    b.actions = d->act + first;
    b.rewards = d->rew + first;
    b.terminals = d->term + first;
    return b;
}

static dr3_learner *make_learner(uint64_t seed, size_t batch, dr3_optim_kind kind,
                                 size_t width) {
    const size_t hidden[] = {width, 32};
    dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT;
    dr3.kind = DR3_REG_DR3;
    dr3.coef = 0.1f;
    const dr3_regularizer_options *regs[] = {&dr3};
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.kind = kind;
    oo.lr = kind == DR3_OPTIM_SGD ? 0.05f : 1e-3f;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = A;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.batch_size = batch;
    o.seed = seed;
    o.target_update_period = 5; /* four hard copies in 20 steps */
    o.optim = &oo;
    o.regularizers = regs;
    o.num_regularizers = 1;
    dr3_learner *l = NULL;
    OK(dr3_learner_create(&l, &o));
    return l;
}

static size_t nparams(dr3_learner *l) { return dr3_net_param_count(dr3_learner_online(l)); }

/* Every rank holds rank 0's bits exactly (online and target parameters), checked with a
 * plain MPI broadcast. */
static void check_identical(dr3_learner *l, float *tmp, const char *when) {
    const size_t P = nparams(l);
    memcpy(tmp, dr3_net_params(dr3_learner_online(l)), P * sizeof(float));
    memcpy(tmp + P, dr3_net_params(dr3_learner_target(l)), P * sizeof(float));
    MPI_Bcast(tmp, (int)(2 * P), MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(memcmp(tmp, dr3_net_params(dr3_learner_online(l)), P * sizeof(float)) == 0,
          "online parameters differ from rank 0's %s", when);
    CHECK(memcmp(tmp + P, dr3_net_params(dr3_learner_target(l)), P * sizeof(float)) == 0,
          "target parameters differ from rank 0's %s", when);
}

/* max over i of |a_i - b_i| / (atol + rtol |b_i|) */
static double worst(const float *a, const float *b, size_t n, double rtol, double atol) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(e <= w)) w = e; /* NaN counts as worst */
    }
    return w;
}

/* rows of rank k per step: PER_RANK, or PER_RANK + 3k when uneven */
static size_t rows_of_rank(int k, int uneven) {
    return PER_RANK + (uneven ? 3 * (size_t)k : 0);
}

static int mode_equiv(dr3_mpi *mpi, const char *opt) {
    const int N = dr3_mpi_size(mpi), r = dr3_mpi_rank(mpi);
    const dr3_optim_kind kind = strcmp(opt, "adam") == 0 ? DR3_OPTIM_ADAM : DR3_OPTIM_SGD;
    const int uneven = strcmp(opt, "uneven") == 0;
    /* rtol/atol on parameters and losses: float rounding of two summation orders, grown
     * through 20 steps (Adam divides by sqrt(v) and so magnifies them more than SGD) */
    const double rtol = kind == DR3_OPTIM_ADAM ? 1e-4 : 1e-5, atol = rtol * 1e-1;
    size_t total = 0, before = 0; /* rows per step in all; rows of the ranks before r */
    for (int k = 0; k < N; k++) {
        if (k < r) before += rows_of_rank(k, uneven);
        total += rows_of_rank(k, uneven);
    }
    const size_t mine_n = rows_of_rank(r, uneven);
    data d = make_data((size_t)STEPS * total);
    const uint64_t seed0 = 11;
    dr3_learner *ref = make_learner(seed0, total, kind, 64);
    dr3_learner *l = make_learner(seed0 + 1000 * (uint64_t)r, mine_n, kind, 64);
    const size_t P = nparams(l);
    float *tmp = malloc(2 * P * sizeof(float));
    CHECK(tmp != NULL, "out of memory");
    OK(dr3_mpi_attach(mpi, l));
    /* rank 0's initial weights (seed0) everywhere: the reference's, bit for bit */
    CHECK(memcmp(dr3_net_params(dr3_learner_online(l)), dr3_net_params(dr3_learner_online(ref)),
                 P * sizeof(float)) == 0,
          "after attach, the parameters are not rank 0's");
    check_identical(l, tmp, "after attach");

    double wp = 0, wl = 0;
    for (int s = 0; s < STEPS; s++) {
        const size_t base = (size_t)s * total;
        dr3_batch mine = rows_of(&d, base + before, mine_n);
        dr3_batch all = rows_of(&d, base, total);
        dr3_step_metrics m = DR3_STEP_METRICS_INIT, mr = DR3_STEP_METRICS_INIT;
        OK(dr3_learner_step(l, &mine, &m));
        OK(dr3_learner_step(ref, &all, &mr));
        check_identical(l, tmp, "after a step");
        double e = worst(dr3_net_params(dr3_learner_online(l)),
                         dr3_net_params(dr3_learner_online(ref)), P, rtol, atol);
        e = fmax(e, worst(dr3_net_params(dr3_learner_target(l)),
                          dr3_net_params(dr3_learner_target(ref)), P, rtol, atol));
        CHECK(e <= 1,
              "step %d: parameters differ from the %d-row single process by %g x "
              "the tolerance",
              s + 1, N * PER_RANK, e);
        float lr_, lref;
        OK(dr3_learner_reg_loss(&lr_, l, 0));
        OK(dr3_learner_reg_loss(&lref, ref, 0));
        const float got[] = {m.loss, m.td_loss, m.grad_norm, lr_};
        const float want[] = {mr.loss, mr.td_loss, mr.grad_norm, lref};
        double el = worst(got, want, 4, rtol, atol);
        CHECK(el <= 1, "step %d: loss %g td %g |g| %g dr3 %g vs one process %g %g %g %g", s + 1,
              (double)m.loss, (double)m.td_loss, (double)m.grad_norm, (double)lr_,
              (double)mr.loss, (double)mr.td_loss, (double)mr.grad_norm, (double)lref);
        CHECK(m.step == mr.step, "step counters %llu and %llu", (unsigned long long)m.step,
              (unsigned long long)mr.step);
        wp = fmax(wp, e);
        wl = fmax(wl, el);
    }
    /* the generators were split per rank: ε = 1 acting draws different actions */
    int32_t acts[32], act0[32];
    OK(dr3_learner_act(l, 32, d.obs, S, 1.0f, NULL, acts));
    memcpy(act0, acts, sizeof acts);
    MPI_Bcast(act0, 32, MPI_INT32_T, 0, MPI_COMM_WORLD);
    if (r != 0)
        CHECK(memcmp(act0, acts, sizeof acts) != 0, "rank %d drew rank 0's random actions", r);
    if (r == 0)
        printf("equiv %s: %d ranks x %s%d%s rows = one process x %zu rows for %d steps; "
               "bit-identical across ranks; worst error / tolerance: parameters %.3g, "
               "losses %.3g (rtol %g)\n",
               opt, N, uneven ? "(3r + " : "", PER_RANK, uneven ? ")" : "", total, STEPS, wp,
               wl, rtol);
    free(tmp);
    dr3_learner_free(l);
    dr3_learner_free(ref);
    free_data(&d);
    return 0;
}

/* A collective that wraps libdr3-mpi's but lies about its numbering. */
typedef struct liar {
    dr3_mpi *mpi;
    int lie; /* 1: every process says rank 0; 2: size one too many */
} liar;

static int liar_rank(void *p) {
    liar *x = p;
    return x->lie == 1 ? 0 : dr3_mpi_vtable()->rank(x->mpi);
}
static int liar_size(void *p) {
    liar *x = p;
    return dr3_mpi_vtable()->size(x->mpi) + (x->lie == 2);
}
static int liar_allreduce(void *p, float *buf, size_t n) {
    return dr3_mpi_vtable()->allreduce_sum(((liar *)p)->mpi, buf, n);
}
static int liar_bcast(void *p, void *buf, size_t bytes, int root) {
    return dr3_mpi_vtable()->broadcast(((liar *)p)->mpi, buf, bytes, root);
}

typedef struct snap {
    float *on, *tg;
    size_t n;
    uint64_t steps;
} snap;

static snap take(dr3_learner *l) {
    snap s = {NULL, NULL, nparams(l), dr3_learner_step_count(l)};
    s.on = malloc(s.n * sizeof(float));
    s.tg = malloc(s.n * sizeof(float));
    CHECK(s.on && s.tg, "out of memory");
    memcpy(s.on, dr3_net_params(dr3_learner_online(l)), s.n * sizeof(float));
    memcpy(s.tg, dr3_net_params(dr3_learner_target(l)), s.n * sizeof(float));
    return s;
}

static void check_unchanged(dr3_learner *l, snap *s, const char *what) {
    CHECK(memcmp(s->on, dr3_net_params(dr3_learner_online(l)), s->n * sizeof(float)) == 0 &&
              memcmp(s->tg, dr3_net_params(dr3_learner_target(l)), s->n * sizeof(float)) == 0 &&
              dr3_learner_step_count(l) == s->steps,
          "%s changed the learner", what);
    free(s->on);
    free(s->tg);
}

static int mode_failures(dr3_mpi *mpi) {
    const int N = dr3_mpi_size(mpi), r = dr3_mpi_rank(mpi);
    data d = make_data((size_t)16 * (size_t)N * PER_RANK);
    dr3_learner *l = make_learner(5 + (uint64_t)r, PER_RANK, DR3_OPTIM_ADAM, 64);

    /* 1. bad numberings, refused on every rank with the learner unchanged */
    dr3_collective_vtable vt = DR3_COLLECTIVE_VTABLE_INIT;
    vt.name = "liar";
    vt.rank = liar_rank;
    vt.size = liar_size;
    vt.allreduce_sum = liar_allreduce;
    vt.broadcast = liar_bcast;
    liar x = {mpi, 1};
    snap s0 = take(l);
    FAILS(dr3_learner_set_collective(l, &vt, &x), DR3_ERR_INVALID_ARG,
          "rank 0 is claimed by"); /* by all N processes */
    x.lie = 2;
    FAILS(dr3_learner_set_collective(l, &vt, &x), DR3_ERR_INVALID_ARG,
          "is claimed by 0 processes"); /* rank N is nobody's */
    check_unchanged(l, &s0, "a refused collective");
    /* a learner that differs on one rank: refused everywhere */
    dr3_learner *odd = make_learner(5, PER_RANK, DR3_OPTIM_ADAM, r == N - 1 ? 48 : 64);
    FAILS(dr3_mpi_attach(mpi, odd), DR3_ERR_SHAPE, "differ across ranks");
    dr3_learner_free(odd);

    /* 2. a step that fails on the last rank fails on all; nothing changes */
    OK(dr3_mpi_attach(mpi, l));
    OK(dr3_learner_set_sync_check(l, 3));
    dr3_batch b = rows_of(&d, (size_t)r * PER_RANK, PER_RANK);
    OK(dr3_learner_step(l, &b, NULL)); /* steps = 1 */
    int32_t bad_act[PER_RANK];
    memcpy(bad_act, b.actions, sizeof bad_act);
    bad_act[2] = -1;
    dr3_batch bad = b;
    if (r == N - 1) bad.actions = bad_act;
    snap s1 = take(l);
    if (r == N - 1)
        FAILS(dr3_learner_step(l, &bad, NULL), DR3_ERR_RANGE, "actions[2]");
    else
        FAILS(dr3_learner_step(l, &bad, NULL), DR3_ERR_STATE, "failed on 1 other rank");
    check_unchanged(l, &s1, "a step failed on one rank");

    /* 3. divergence: the last rank's parameters perturbed after step 1; steps 2 and 3 go
     *    through (fingerprints of the step counter only), the full comparison at the start
     *    of step 4 (steps = 3, every 3) fails everywhere, nothing changed */
    if (r == N - 1) dr3_net_params(dr3_learner_online(l))[7] += 1e-3f;
    for (int s = 2; s <= 3; s++) {
        b = rows_of(&d, (size_t)(s * N + r) * PER_RANK, PER_RANK);
        OK(dr3_learner_step(l, &b, NULL));
    }
    snap s2 = take(l);
    b = rows_of(&d, (size_t)(4 * N + r) * PER_RANK, PER_RANK);
    FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_STATE, "ranks diverged");
    check_unchanged(l, &s2, "the divergence check");
    /* resynchronising (attach again: rank 0's state wins) lets training go on */
    OK(dr3_mpi_attach(mpi, l));
    OK(dr3_learner_step(l, &b, NULL));
    float *tmp = malloc(2 * nparams(l) * sizeof(float));
    CHECK(tmp != NULL, "out of memory");
    check_identical(l, tmp, "after resynchronising");
    free(tmp);
    if (r == 0)
        printf("failures: bad numberings and mismatched learners refused on %d ranks; a "
               "one-rank failure and a divergence failed every rank with nothing changed\n",
               N);
    dr3_learner_free(l);
    free_data(&d);
    return 0;
}

static dr3_replay *make_replay(const data *d, size_t steps) {
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = 512;
    ro.obs_dim = S;
    ro.num_actions = A;
    dr3_replay *rp = NULL;
    OK(dr3_replay_create(&rp, &ro));
    if (steps > 0) /* one episode through the dataset's observations */
        OK(dr3_replay_add_episode(rp, steps, d->obs, d->act, d->rew, 1, 0));
    return rp;
}

static int mode_replay(dr3_mpi *mpi) {
    const int N = dr3_mpi_size(mpi), r = dr3_mpi_rank(mpi);
    data d = make_data(256);
    dr3_replay *rp = make_replay(&d, 200), *empty = make_replay(&d, 0);
    dr3_learner *l = make_learner(8, PER_RANK, DR3_OPTIM_ADAM, 64);
    OK(dr3_mpi_attach(mpi, l));
    float *tmp = malloc(2 * nparams(l) * sizeof(float));
    double *q = malloc((size_t)N * sizeof(double));
    CHECK(tmp && q, "out of memory");
    int differ = 0;
    for (int s = 0; s < 10; s++) {
        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        OK(dr3_learner_step_replay(l, rp, &m));
        check_identical(l, tmp, "after a replay step");
        float loss0[2] = {m.loss, m.td_loss};
        MPI_Bcast(loss0, 2, MPI_FLOAT, 0, MPI_COMM_WORLD);
        CHECK(loss0[0] == m.loss && loss0[1] == m.td_loss,
              "step %d: the step's losses differ between ranks (%g vs rank 0's %g)", s,
              (double)m.loss, (double)loss0[0]);
        double mine = m.mean_q;
        MPI_Allgather(&mine, 1, MPI_DOUBLE, q, 1, MPI_DOUBLE, MPI_COMM_WORLD);
        for (int k = 1; k < N; k++) differ += q[k] != q[0];
    }
    CHECK(differ > 0, "every rank saw the same batches (mean Q identical on all ranks)");
    /* the last rank cannot sample: every rank fails the step, nothing changes */
    snap s0 = take(l);
    if (r == N - 1)
        FAILS(dr3_learner_step_replay(l, empty, NULL), DR3_ERR_STATE, "sampleable");
    else
        FAILS(dr3_learner_step_replay(l, rp, NULL), DR3_ERR_STATE, "failed on 1 other rank");
    check_unchanged(l, &s0, "a replay that cannot sample on one rank");
    OK(dr3_learner_train(l, rp, 5, 0, NULL, NULL));
    check_identical(l, tmp, "after dr3_learner_train");
    if (r == 0)
        printf("replay: %d ranks sampled their own batches for 15 steps, bit-identical; a "
               "failed sample on one rank failed the step on all\n",
               N);
    free(tmp);
    free(q);
    dr3_learner_free(l);
    dr3_replay_free(rp);
    dr3_replay_free(empty);
    free_data(&d);
    return 0;
}

static int mode_resume(dr3_mpi *mpi, const char *path) {
    const int N = dr3_mpi_size(mpi), r = dr3_mpi_rank(mpi);
    data d = make_data((size_t)10 * (size_t)N * PER_RANK);
    dr3_learner *l = make_learner(21 + (uint64_t)r, PER_RANK, DR3_OPTIM_ADAM, 64);
    OK(dr3_mpi_attach(mpi, l));
    for (int s = 0; s < 5; s++) {
        dr3_batch b = rows_of(&d, (size_t)(s * N + r) * PER_RANK, PER_RANK);
        OK(dr3_learner_step(l, &b, NULL));
    }
    if (r == 0) OK(dr3_learner_save(l, path));
    MPI_Barrier(MPI_COMM_WORLD);
    dr3_learner *back = make_learner(99 + (uint64_t)r, PER_RANK, DR3_OPTIM_ADAM, 64);
    OK(dr3_learner_load(back, path));
    OK(dr3_mpi_attach(mpi, back));
    for (int s = 5; s < 10; s++) {
        dr3_batch b = rows_of(&d, (size_t)(s * N + r) * PER_RANK, PER_RANK);
        OK(dr3_learner_step(l, &b, NULL));
        OK(dr3_learner_step(back, &b, NULL));
    }
    const size_t P = nparams(l);
    CHECK(memcmp(dr3_net_params(dr3_learner_online(l)),
                 dr3_net_params(dr3_learner_online(back)), P * sizeof(float)) == 0 &&
              memcmp(dr3_net_params(dr3_learner_target(l)),
                     dr3_net_params(dr3_learner_target(back)), P * sizeof(float)) == 0 &&
              dr3_learner_step_count(back) == 10,
          "the resumed replicas differ from the uninterrupted ones");
    float *tmp = malloc(2 * P * sizeof(float));
    CHECK(tmp != NULL, "out of memory");
    check_identical(back, tmp, "after resuming");
    /* loading into the attached learner itself, without attaching again: the same steps
     * give the same bits, and the generators are per rank again */
    OK(dr3_learner_load(l, path));
    int32_t acts[32], act0[32];
    OK(dr3_learner_act(l, 32, d.obs, S, 1.0f, NULL, acts));
    memcpy(act0, acts, sizeof acts);
    MPI_Bcast(act0, 32, MPI_INT32_T, 0, MPI_COMM_WORLD);
    if (r != 0)
        CHECK(memcmp(act0, acts, sizeof acts) != 0,
              "after a load, rank %d draws rank 0's "
              "random actions",
              r);
    for (int s = 5; s < 10; s++) {
        dr3_batch b = rows_of(&d, (size_t)(s * N + r) * PER_RANK, PER_RANK);
        OK(dr3_learner_step(l, &b, NULL));
    }
    CHECK(memcmp(dr3_net_params(dr3_learner_online(l)),
                 dr3_net_params(dr3_learner_online(back)), P * sizeof(float)) == 0 &&
              dr3_learner_step_count(l) == 10,
          "loading into the attached learner gave another continuation");
    /* a rank whose state differs after the load is caught at the next step */
    OK(dr3_learner_load(l, path));
    if (r == N - 1) dr3_net_params(dr3_learner_online(l))[3] += 1e-3f;
    dr3_batch b = rows_of(&d, (size_t)(5 * N + r) * PER_RANK, PER_RANK);
    FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_STATE, "ranks diverged");
    free(tmp);
    if (r == 0)
        printf(
            "resume: %d ranks, checkpoint by rank 0 after 5 steps, loaded by all (into new "
            "learners attached again, and into the attached ones): 10 steps bit-identical "
            "to the uninterrupted run; a rank with another state after the load is caught at "
            "the next step\n",
            N);
    dr3_learner_free(back);
    dr3_learner_free(l);
    free_data(&d);
    return 0;
}

static int mode_die(dr3_mpi *mpi) {
    const int r = dr3_mpi_rank(mpi);
    data d = make_data((size_t)PER_RANK);
    dr3_learner *l = make_learner(3, PER_RANK, DR3_OPTIM_ADAM, 64);
    OK(dr3_mpi_attach(mpi, l));
    dr3_batch b = rows_of(&d, 0, PER_RANK);
    OK(dr3_learner_step(l, &b, NULL));
    if (r == 1) {
        fprintf(stderr, "rank 1: dying now\n");
        fflush(stderr);
        raise(SIGKILL);
    }
    /* the others step on; the job must be ended by the MPI runtime, not by us */
    for (long s = 0; s < 100000000L; s++) OK(dr3_learner_step(l, &b, NULL));
    printf("rank %d: finished stepping (the job should have been ended)\n", r);
    dr3_learner_free(l);
    free_data(&d);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    dr3_mpi *mpi = NULL;
    OK(dr3_mpi_create(&mpi, MPI_COMM_WORLD));
    CHECK(dr3_mpi_rank(mpi) == g_rank, "rank %d", dr3_mpi_rank(mpi));
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "equiv") == 0)
        rc = mode_equiv(mpi, argc >= 3 ? argv[2] : "sgd");
    else if (argc >= 2 && strcmp(argv[1], "failures") == 0)
        rc = mode_failures(mpi);
    else if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        rc = mode_replay(mpi);
    else if (argc >= 3 && strcmp(argv[1], "resume") == 0)
        rc = mode_resume(mpi, argv[2]);
    else if (argc >= 2 && strcmp(argv[1], "die") == 0)
        rc = mode_die(mpi);
    else if (g_rank == 0)
        fprintf(stderr,
                "usage: test_mpi_learner equiv [sgd|adam|uneven] | failures | replay | resume "
                "PATH | die\n");
    dr3_mpi_free(mpi);
    MPI_Finalize();
    return rc;
}
