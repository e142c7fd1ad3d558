#define DR3_EXPERIMENTAL 1 /* the MinAtar network, REM heads, pixel behaviour cloning */
/* dr3 demo --suite minatar: the DR3 study on pixels (issue #12, part 2). For each MinAtar
 * game an online DQN's whole replay is logged in the DQN Replay layout (dr3 collect --agent
 * dqn, run in this process, cached on disk), uniform subsets of it are the offline datasets,
 * π_β is estimated by behaviour cloning on the pixels, and offline SARSA, TD under the cloned
 * π_β (expected and sampled), DQN, REM and CQL are trained on the MinAtar network with and
 * without DR3. Metrics go to CSV as each run ends; the report (tables, IQM with stratified
 * bootstrap intervals, SVG plots) can be redone from the CSVs. */
#include "cli.h"
#include "dataset.h"
#include "envs.h"
#include "stats.h"
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cmd_demo_minatar(int argc, char **argv);

/* ST_MAX_METHODS: what one run trains (6 methods x 2 variants); a report reads up to
 * ST_MAX_REPORT_METHODS (c0 sweeps add variants named like dqn+dr3(0.001)). */
enum { ST_MAX_GAMES = 5, ST_MAX_METHODS = 12, ST_MAX_REPORT_METHODS = 32, ST_MAX_DATASETS = 8 };

/* ---- configuration ------------------------------------------------------------------ */

typedef struct st_method {
    char name[32];
    dr3_backup_kind backup;
    int dr3, cql, rem;
} st_method;

typedef struct st_config {
    char games[ST_MAX_GAMES][32];
    size_t n_games;
    st_method methods[ST_MAX_METHODS];
    size_t n_methods;
    int variants; /* bit 0: without DR3, bit 1: with DR3 */
    size_t seeds, datasets, collect, subset, steps, eval_every, eval_size, eval_episodes;
    size_t eval_max_steps, batch, bc_steps, heads, srank_rows, workers;
    double lr, tau, gamma, c0, cql;
    const char *cache, *out;
} st_config;

static const char *const base_names[6] = {"sarsa", "expected", "sampled", "dqn", "rem", "cql"};

static int add_base(st_config *c, const char *base) {
    int k = -1;
    for (int i = 0; i < 6; i++)
        if (strcmp(base, base_names[i]) == 0) k = i;
    if (k < 0 || c->n_methods + 2 > ST_MAX_METHODS) return -1;
    for (int with = 0; with < 2; with++) {
        if (!(c->variants >> with & 1)) continue;
        st_method *m = &c->methods[c->n_methods++];
        memset(m, 0, sizeof *m);
        /* DR3 at a c0 other than the study's 0.01 is named for it: dqn+dr3(0.001) */
        if (with && c->c0 != 0.01)
            snprintf(m->name, sizeof m->name, "%s+dr3(%g)", base, c->c0);
        else
            snprintf(m->name, sizeof m->name, "%s%s", base, with ? "+dr3" : "");
        m->backup = k == 0   ? DR3_BACKUP_SARSA
                    : k == 1 ? DR3_BACKUP_EXPECTED
                    : k == 2 ? DR3_BACKUP_SAMPLED
                             : DR3_BACKUP_MAX;
        m->rem = k == 4;
        m->cql = k == 5;
        m->dr3 = with;
    }
    return 0;
}

/* Splits a comma list into fn(item); returns -1 if fn refuses one. */
static int each_item(const char *list, int (*fn)(st_config *, const char *), st_config *c) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (fn(c, t) != 0) return -1;
    return 0;
}

static int add_game(st_config *c, const char *g) {
    if (c->n_games >= ST_MAX_GAMES) return -1;
    char env[64];
    snprintf(env, sizeof env, "minatar-%s", g);
    dr3env *probe = NULL;
    if (dr3env_create(&probe, env, 0) != DR3_OK) return -1;
    dr3env_free(probe);
    snprintf(c->games[c->n_games++], 32, "%s", g);
    return 0;
}

/* ---- one game's data ------------------------------------------------------------------ */

typedef struct st_data {
    dr3_replay *replay;
    size_t *rows; /* sampleable rows (a' known or terminal), oldest first */
    size_t n_rows;
    float *mc; /* Monte-Carlo return of each of rows[] */
    size_t episodes;
    double ret_mean, ret_last; /* episode return over all / the last 10% of episodes */
} st_data;

static void free_data(st_data *d) {
    dr3_replay_free(d->replay);
    free(d->rows);
    free(d->mc);
    memset(d, 0, sizeof *d);
}

/* The logged DQN replay of (game, data seed): reused from the cache, else collected by
 * dr3 collect's own code, in this process. */
static int load_data(const st_config *c, const char *game, size_t ds, st_data *d) {
    memset(d, 0, sizeof *d);
    char dir[1024], probe[1200], env[64], steps[32], seed[32];
    snprintf(env, sizeof env, "minatar-%s", game);
    snprintf(dir, sizeof dir, "%s/%s-dqn%zu-seed%zu", c->cache, game, c->collect, ds);
    snprintf(probe, sizeof probe, "%s/$store$_action_ckpt.0.gz", dir);
    if (access(probe, R_OK) != 0) {
        if (mkdir(c->cache, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "dr3 demo: cannot create '%s': %s\n", c->cache, strerror(errno));
            return -1;
        }
        snprintf(steps, sizeof steps, "%zu", c->collect);
        snprintf(seed, sizeof seed, "%zu", ds);
        char *av[] = {"dr3",     "collect", "--env",  env,  "--agent", "dqn",
                      "--steps", steps,     "--seed", seed, "--out",   dir};
        printf("collecting %s: an online DQN, %zu steps, seed %zu -> %s\n", game, c->collect,
               ds, dir);
        fflush(stdout);
        if (cmd_collect((int)(sizeof av / sizeof av[0]), av) != CLI_OK) return -1;
    } else {
        printf("reusing %s\n", dir);
    }
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.gamma = (float)c->gamma;
    if (data_open("demo", dir, 0, &o, &d->replay) != CLI_OK) return -1;
    size_t total = dr3_replay_valid_count(d->replay, 0), n_all = 0;
    size_t *all = malloc(total * sizeof(size_t));
    float *rew = malloc(total * sizeof(float)), *g = malloc(total * sizeof(float));
    uint8_t *term = malloc(total), *nav = malloc(total);
    d->rows = malloc(total * sizeof(size_t));
    d->mc = malloc(total * sizeof(float));
    int rc = all && rew && g && term && nav && d->rows && d->mc ? 0 : -1;
    if (rc == 0 && dr3_replay_valid_indices(d->replay, 0, all, total, &n_all) != DR3_OK)
        rc = -1;
    if (rc == 0 && dr3_replay_valid_indices(d->replay, 1, d->rows, total, &d->n_rows) != DR3_OK)
        rc = -1;
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.rewards = rew;
    b.terminals = term;
    b.next_action_valid = nav;
    if (rc == 0 && dr3_replay_get(d->replay, all, n_all, &b) != DR3_OK) rc = -1;
    if (rc == 0) {
        /* episode returns (forward) and discounted returns to go (backward); an episode
         * ends at a terminal step or where no next action follows */
        double sum = 0, ep = 0;
        size_t n_eps = 0;
        double *eps = malloc((n_all + 1) * sizeof(double));
        for (size_t i = 0; i < n_all && eps; i++) {
            ep += rew[i];
            if (term[i] || !nav[i]) {
                eps[n_eps++] = ep;
                sum += ep;
                ep = 0;
            }
        }
        d->episodes = n_eps;
        d->ret_mean = n_eps ? sum / (double)n_eps : 0;
        size_t tail = n_eps / 10 ? n_eps / 10 : n_eps;
        double s2 = 0;
        for (size_t i = n_eps - tail; i < n_eps && eps; i++) s2 += eps[i];
        d->ret_last = tail ? s2 / (double)tail : 0;
        free(eps);
        double next = 0;
        for (size_t i = n_all; i-- > 0;) {
            int end = term[i] || !nav[i];
            g[i] = (float)(rew[i] + (end ? 0 : c->gamma * next));
            next = g[i];
        }
        /* rows[] is a subset of all[], both ascending */
        size_t j = 0;
        for (size_t i = 0; i < d->n_rows; i++) {
            while (j < n_all && all[j] < d->rows[i]) j++;
            d->mc[i] = j < n_all ? g[j] : 0;
        }
    }
    free(all);
    free(rew);
    free(g);
    free(term);
    free(nav);
    if (rc != 0) {
        fprintf(stderr, "dr3 demo: reading %s failed: %s\n", dir, dr3_last_error());
        free_data(d);
    }
    return rc;
}

/* ---- batches from a subset -------------------------------------------------------------- */

typedef struct st_batch {
    size_t n, S;
    size_t *idx;
    float *obs, *next_obs, *rewards, *discounts, *mc;
    int32_t *actions, *next_actions;
    uint8_t *terminals;
} st_batch;

static int batch_alloc(st_batch *b, size_t n, size_t S) {
    memset(b, 0, sizeof *b);
    b->n = n;
    b->S = S;
    b->idx = malloc(n * sizeof(size_t));
    b->obs = malloc(n * S * sizeof(float));
    b->next_obs = malloc(n * S * sizeof(float));
    b->rewards = malloc(n * sizeof(float));
    b->discounts = malloc(n * sizeof(float));
    b->mc = malloc(n * sizeof(float));
    b->actions = malloc(n * sizeof(int32_t));
    b->next_actions = malloc(n * sizeof(int32_t));
    b->terminals = malloc(n);
    return b->idx && b->obs && b->next_obs && b->rewards && b->discounts && b->mc &&
                   b->actions && b->next_actions && b->terminals
               ? 0
               : -1;
}

static void batch_free(st_batch *b) {
    free(b->idx);
    free(b->obs);
    free(b->next_obs);
    free(b->rewards);
    free(b->discounts);
    free(b->mc);
    free(b->actions);
    free(b->next_actions);
    free(b->terminals);
}

/* Fills b (first n rows) with the replay rows b->idx[0..n). */
static dr3_status batch_fill(const dr3_replay *r, st_batch *b, size_t n) {
    dr3_replay_batch rb = DR3_REPLAY_BATCH_INIT;
    rb.need_next_action = 1;
    rb.obs = b->obs;
    rb.ld_obs = b->S;
    rb.next_obs = b->next_obs;
    rb.ld_next_obs = b->S;
    rb.actions = b->actions;
    rb.next_actions = b->next_actions;
    rb.rewards = b->rewards;
    rb.discounts = b->discounts;
    rb.terminals = b->terminals;
    return dr3_replay_get(r, b->idx, n, &rb);
}

static dr3_batch as_learner_batch(const st_batch *b, size_t off, size_t n) {
    dr3_batch lb = DR3_BATCH_INIT;
    lb.n = n;
    lb.obs = b->obs + off * b->S;
    lb.ld_obs = b->S;
    lb.next_obs = b->next_obs + off * b->S;
    lb.ld_next_obs = b->S;
    lb.actions = b->actions + off;
    lb.next_actions = b->next_actions + off;
    lb.rewards = b->rewards + off;
    lb.discounts = b->discounts + off;
    lb.terminals = b->terminals + off;
    return lb;
}

/* ---- one offline run --------------------------------------------------------------------- */

typedef struct st_seed {
    size_t *subset; /* positions in data->rows */
    size_t n_subset;
    st_batch eval; /* the fixed evaluation set (rows of the subset) */
    dr3_bc *bc;
    double bc_loss, bc_acc;
} st_seed;

typedef struct greedy_actor {
    dr3_learner *l;
    size_t S;
} greedy_actor;

/* Greedy return over `episodes` episodes, each cut at max_steps. */
static dr3_status greedy_return(dr3env *env, dr3_learner *l, size_t episodes, size_t max_steps,
                                double *out) {
    const size_t S = dr3env_obs_dim(env);
    float obs[DR3ENV_MAX_OBS], r = 0;
    double total = 0;
    for (size_t e = 0; e < episodes; e++) {
        dr3_status st = dr3env_reset(env, obs);
        int term = 0, trunc = 0;
        for (size_t t = 0; st == DR3_OK && !term && !trunc && t < max_steps; t++) {
            int32_t a = 0;
            st = dr3_learner_act(l, 1, obs, S, 0.0f, NULL, &a);
            if (st == DR3_OK) st = dr3env_step(env, a, obs, &r, &term, &trunc);
            total += r * (st == DR3_OK);
        }
        if (st != DR3_OK) return st;
    }
    *out = total / (double)episodes;
    return DR3_OK;
}

static int run_one(const st_config *c, const char *game, const st_data *d, st_seed *sd,
                   const st_method *m, size_t seed, FILE *csv, pthread_mutex_t *lock) {
    const size_t S = dr3_replay_state_dim(d->replay);
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    dr3_replay_get_options(&ro, d->replay);
    const size_t A = ro.num_actions;
    dr3_net_desc desc;
    if (dr3_net_desc_preset(&desc, "minatar", S / 100, A) != DR3_OK) return -1;
    desc.num_heads = m->rem ? c->heads : 1;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = (float)c->lr;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = m->backup;
    bo.policy = dr3_bc_policy;
    bo.policy_payload = sd->bc;
    dr3_regularizer_options regs[2] = {DR3_REGULARIZER_OPTIONS_INIT,
                                       DR3_REGULARIZER_OPTIONS_INIT};
    const dr3_regularizer_options *reg_ptrs[2] = {&regs[0], &regs[1]};
    size_t nreg = 0;
    if (m->dr3) {
        regs[nreg].coef = (float)c->c0;
        regs[nreg++].flags = DR3_REG_MASK_TERMINAL;
    }
    if (m->cql) {
        regs[nreg].kind = DR3_REG_CQL;
        regs[nreg++].coef = (float)c->cql;
    }
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.batch_size = c->batch;
    o.gamma = (float)c->gamma;
    o.polyak_tau = (float)c->tau;
    o.optim = &oo;
    o.backup = &bo;
    o.regularizers = reg_ptrs;
    o.num_regularizers = nreg;
    o.seed = 1000003 * seed + 17;
    dr3_learner *l = NULL;
    dr3env *env = NULL;
    st_batch tb;
    char envname[64];
    snprintf(envname, sizeof envname, "minatar-%s", game);
    const size_t n_phi = c->srank_rows;
    float *phi = NULL;
    double *work = NULL;
    int rc = batch_alloc(&tb, c->batch, S);
    if (rc == 0 && dr3_learner_create_desc(&l, &o, &desc) != DR3_OK) rc = -1;
    if (rc == 0 && m->rem && dr3_learner_set_heads_mode(l, DR3_HEADS_REM) != DR3_OK) rc = -1;
    if (rc == 0 && dr3env_create(&env, envname, 5000 + seed) != DR3_OK) rc = -1;
    size_t F = l ? dr3_net_feature_dim(dr3_learner_online(l)) : 0;
    if (rc == 0) {
        phi = malloc(n_phi * F * sizeof(float));
        work = malloc(dr3_srank_workspace(n_phi, F) * sizeof(double));
        if (phi == NULL || work == NULL) rc = -1;
    }
    dr3_rng rng;
    dr3_rng_seed(&rng, 0x5eed0000ULL + 7919 * seed);
    double t0 = cli_now();
    for (size_t step = 0; step <= c->steps && rc == 0; step++) {
        if (step % c->eval_every == 0 || step == c->steps) {
            double dot = 0, cs = 0, nm = 0, q = 0, td = 0, mc = 0, ret = 0;
            size_t chunks = sd->eval.n / c->batch;
            for (size_t k = 0; k < chunks && rc == 0; k++) {
                dr3_batch lb = as_learner_batch(&sd->eval, k * c->batch, c->batch);
                dr3_step_metrics mt = DR3_STEP_METRICS_INIT;
                if (dr3_learner_evaluate(l, &lb, &mt) != DR3_OK) rc = -1;
                dot += mt.feature_dot / (double)chunks;
                cs += mt.feature_cos / (double)chunks;
                nm += mt.feature_norm / (double)chunks;
                q += mt.mean_q / (double)chunks;
                td += mt.td_loss / (double)chunks;
            }
            for (size_t i = 0; i < sd->eval.n; i++) mc += sd->eval.mc[i] / (double)sd->eval.n;
            /* srank of φ(s) of the online network on the first n_phi evaluation rows */
            dr3_net *online = dr3_learner_online(l);
            for (size_t i = 0; i < n_phi && rc == 0; i += c->batch) {
                const float *f = NULL;
                size_t n = n_phi - i < c->batch ? n_phi - i : c->batch;
                if (dr3_net_forward(online, n, sd->eval.obs + i * S, S, NULL, 0, NULL, 0, &f) !=
                    DR3_OK)
                    rc = -1;
                else
                    memcpy(phi + i * F, f, n * F * sizeof(float));
            }
            size_t rank = 0;
            if (rc == 0 && dr3_srank(n_phi, F, phi, F, 0.01, work,
                                     dr3_srank_workspace(n_phi, F), &rank, NULL) != DR3_OK)
                rc = -1;
            if (rc == 0 && c->eval_episodes > 0 &&
                greedy_return(env, l, c->eval_episodes, c->eval_max_steps, &ret) != DR3_OK)
                rc = -1;
            if (rc == 0) pthread_mutex_lock(lock);
            if (rc == 0)
                fprintf(csv,
                        "%s,%s,%s,%g,%g,%zu,%zu,%zu,%.6g,%.6g,%.6g,%zu,%.6g,%.6g,%.6g,%.6g\n",
                        game, m->name, dr3_backup_kind_name(m->backup), m->dr3 ? c->c0 : 0.0,
                        m->cql ? c->cql : 0.0, m->rem ? c->heads : (size_t)1, seed, step, dot,
                        cs, nm, rank, q, mc, td, ret);
            if (rc == 0) pthread_mutex_unlock(lock);
        }
        if (step < c->steps && rc == 0) {
            for (size_t i = 0; i < c->batch; i++)
                tb.idx[i] = d->rows[sd->subset[dr3_rng_below(&rng, sd->n_subset)]];
            dr3_batch lb = as_learner_batch(&tb, 0, c->batch);
            if (batch_fill(d->replay, &tb, c->batch) != DR3_OK ||
                dr3_learner_step(l, &lb, NULL) != DR3_OK)
                rc = -1;
        }
    }
    pthread_mutex_lock(lock);
    fflush(csv);
    if (rc != 0)
        fprintf(stderr, "dr3 demo: %s %s seed %zu failed: %s\n", game, m->name, seed,
                dr3_last_error());
    else
        printf("  %-14s %-12s seed %zu  %.0f s\n", game, m->name, seed, cli_now() - t0);
    fflush(stdout);
    pthread_mutex_unlock(lock);
    free(phi);
    free(work);
    batch_free(&tb);
    dr3env_free(env);
    dr3_learner_free(l);
    return rc;
}

/* The offline subset of seed `seed`: subset rows drawn uniformly without replacement from
 * the sampleable rows; the evaluation set is its first eval_size rows; π_β is cloned on it. */
static int make_seed(const st_config *c, const st_data *d, size_t seed, st_seed *sd) {
    memset(sd, 0, sizeof *sd);
    const size_t S = dr3_replay_state_dim(d->replay);
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    dr3_replay_get_options(&ro, d->replay);
    size_t n = c->subset < d->n_rows ? c->subset : d->n_rows;
    size_t *perm = malloc(d->n_rows * sizeof(size_t));
    if (perm == NULL) return -1;
    for (size_t i = 0; i < d->n_rows; i++) perm[i] = i;
    dr3_rng rng;
    dr3_rng_seed(&rng, 0xda7a5e7ULL + 104729 * seed);
    for (size_t i = 0; i < n; i++) { /* partial Fisher-Yates */
        size_t j = i + (size_t)dr3_rng_below(&rng, d->n_rows - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    sd->subset = perm;
    sd->n_subset = n;
    size_t ne = c->eval_size < n ? c->eval_size : n;
    ne -= ne % c->batch;
    if (ne < c->srank_rows || batch_alloc(&sd->eval, ne, S) != 0) return -1;
    for (size_t i = 0; i < ne; i++) {
        sd->eval.idx[i] = d->rows[perm[i]];
        sd->eval.mc[i] = d->mc[perm[i]];
    }
    if (batch_fill(d->replay, &sd->eval, ne) != DR3_OK) return -1;
    /* behaviour cloning on the subset's pixels, with the same network body */
    dr3_net_desc desc;
    dr3_bc_options bo = DR3_BC_OPTIONS_INIT;
    bo.batch_size = c->batch;
    bo.seed = 31 * seed + 5;
    if (dr3_net_desc_preset(&desc, "minatar", S / 100, ro.num_actions) != DR3_OK ||
        dr3_bc_create_desc(&sd->bc, &bo, &desc) != DR3_OK)
        return -1;
    st_batch b;
    if (batch_alloc(&b, c->batch, S) != 0) return -1;
    double tail = 0;
    size_t tail_n = 0;
    int rc = 0;
    for (size_t s = 0; s < c->bc_steps && rc == 0; s++) {
        for (size_t i = 0; i < c->batch; i++) b.idx[i] = d->rows[perm[dr3_rng_below(&rng, n)]];
        float loss = 0;
        if (batch_fill(d->replay, &b, c->batch) != DR3_OK ||
            dr3_bc_step(sd->bc, c->batch, b.obs, S, b.actions, &loss) != DR3_OK)
            rc = -1;
        if (s >= c->bc_steps * 9 / 10) tail += loss, tail_n++;
    }
    sd->bc_loss = tail_n ? tail / (double)tail_n : 0;
    /* accuracy of the clone's most likely action on the evaluation rows */
    float *p = malloc(ne * ro.num_actions * sizeof(float));
    size_t hit = 0;
    if (rc == 0 && p != NULL &&
        dr3_bc_probs(sd->bc, ne, sd->eval.obs, S, p, ro.num_actions) == DR3_OK) {
        for (size_t i = 0; i < ne; i++) {
            size_t best = 0;
            for (size_t a = 1; a < ro.num_actions; a++)
                if (p[i * ro.num_actions + a] > p[i * ro.num_actions + best]) best = a;
            hit += best == (size_t)sd->eval.actions[i];
        }
    } else {
        rc = -1;
    }
    sd->bc_acc = ne ? (double)hit / (double)ne : 0;
    free(p);
    batch_free(&b);
    return rc;
}

static void free_seed(st_seed *sd) {
    free(sd->subset);
    batch_free(&sd->eval);
    dr3_bc_free(sd->bc);
}

/* Uniform-policy return of a game (the 0 of the normalised score). */
static double random_return(const char *game, size_t episodes, size_t max_steps) {
    char env[64];
    snprintf(env, sizeof env, "minatar-%s", game);
    dr3env *e = NULL;
    if (dr3env_create(&e, env, 4242) != DR3_OK) return NAN;
    dr3_rng rng;
    dr3_rng_seed(&rng, 4243);
    float obs[DR3ENV_MAX_OBS], r;
    double total = 0;
    for (size_t k = 0; k < episodes; k++) {
        int term = 0, trunc = 0;
        dr3env_reset(e, obs);
        for (size_t t = 0; !term && !trunc && t < max_steps; t++) {
            int a = (int)dr3_rng_below(&rng, dr3env_num_actions(e));
            if (dr3env_step(e, a, obs, &r, &term, &trunc) != DR3_OK) break;
            total += r;
        }
    }
    dr3env_free(e);
    return total / (double)episodes;
}

/* ---- the report ------------------------------------------------------------------------- */

typedef struct st_row {
    char game[32], method[32];
    size_t seed, step;
    double dot, cos, norm, srank, q, mc, td, ret;
} st_row;

typedef struct st_game_info {
    char game[32];
    double random, data_mean, data_last;
    double ref; /* the 1 of the normalised score (set_refs) */
} st_game_info;

typedef struct st_table {
    st_row *rows;
    size_t n, cap;
    st_game_info games[ST_MAX_GAMES];
    size_t n_games;
    char methods[ST_MAX_REPORT_METHODS][32];
    size_t n_methods, seeds, points;
} st_table;

/* Reads an output directory's metrics.csv and games.csv, or, when `dir` names a file (such
 * as docs/figures/minatar-metrics.csv), that file and the games file beside it whose name
 * has its last "metrics" replaced by "games". */
static int read_metrics(const char *dir, st_table *t) {
    char path[1024], gpath[1024], line[1024];
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode)) {
        snprintf(path, sizeof path, "%s", dir);
        const char *slash = strrchr(dir, '/'), *key = NULL;
        for (const char *p = slash ? slash : dir; (p = strstr(p, "metrics")) != NULL; p++)
            key = p;
        if (key != NULL)
            snprintf(gpath, sizeof gpath, "%.*sgames%s", (int)(key - dir), dir, key + 7);
        else
            gpath[0] = 0;
    } else {
        snprintf(path, sizeof path, "%s/metrics.csv", dir);
        snprintf(gpath, sizeof gpath, "%s/games.csv", dir);
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "dr3 demo: cannot read '%s'\n", path);
        return -1;
    }
    if (fgets(line, sizeof line, f) == NULL || strncmp(line, "game,method,", 12) != 0) {
        fprintf(stderr, "dr3 demo: '%s' is not a metrics.csv of dr3 demo --suite minatar\n",
                path);
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        st_row r;
        char backup[32];
        double c0, cq, srank;
        size_t heads;
        if (sscanf(
                line,
                "%31[^,],%31[^,],%31[^,],%lf,%lf,%zu,%zu,%zu,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf",
                r.game, r.method, backup, &c0, &cq, &heads, &r.seed, &r.step, &r.dot, &r.cos,
                &r.norm, &srank, &r.q, &r.mc, &r.td, &r.ret) != 16)
            continue;
        r.srank = srank;
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 1024;
            st_row *nr = realloc(t->rows, cap * sizeof *nr);
            if (nr == NULL) break;
            t->rows = nr;
            t->cap = cap;
        }
        t->rows[t->n++] = r;
    }
    fclose(f);
    f = gpath[0] ? fopen(gpath, "r") : NULL;
    if (f == NULL) return 0; /* a study still running: its games are added by index_table */
    if (fgets(line, sizeof line, f) == NULL) line[0] = 0;
    while (fgets(line, sizeof line, f) != NULL && t->n_games < ST_MAX_GAMES) {
        st_game_info *g = &t->games[t->n_games];
        if (sscanf(line, "%31[^,],%lf,%lf,%lf", g->game, &g->random, &g->data_mean,
                   &g->data_last) == 4) {
            int dup = 0;
            for (size_t k = 0; k < t->n_games; k++)
                dup |= strcmp(t->games[k].game, g->game) == 0;
            t->n_games += !dup;
        }
    }
    fclose(f);
    return 0;
}

static size_t game_index(const st_table *t, const char *g) {
    for (size_t k = 0; k < t->n_games; k++)
        if (strcmp(t->games[k].game, g) == 0) return k;
    return SIZE_MAX;
}

/* Indexes the table: methods in order of appearance, seeds and points per run taken from
 * the complete runs. Returns a dense [game][method][seed][point] array of row pointers
 * (NULL where missing). */
static const st_row **index_table(st_table *t) {
    size_t max_step = 0, seeds = 0;
    for (size_t i = 0; i < t->n; i++) {
        const st_row *r = &t->rows[i];
        if (game_index(t, r->game) == SIZE_MAX && t->n_games < ST_MAX_GAMES) {
            /* no games.csv line (the game's runs have not all finished): no data returns */
            st_game_info *g = &t->games[t->n_games++];
            snprintf(g->game, sizeof g->game, "%s", r->game);
            g->random = 0;
            g->data_mean = g->data_last = NAN;
        }
        size_t m = 0;
        while (m < t->n_methods && strcmp(t->methods[m], r->method) != 0) m++;
        if (m == t->n_methods && m < ST_MAX_REPORT_METHODS)
            snprintf(t->methods[t->n_methods++], 32, "%s", r->method);
        if (r->seed + 1 > seeds) seeds = r->seed + 1;
        if (r->step > max_step) max_step = r->step;
    }
    /* points: the distinct steps of the first run */
    size_t points = 0;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].method, t->rows[0].method) == 0 &&
            strcmp(t->rows[i].game, t->rows[0].game) == 0 && t->rows[i].seed == t->rows[0].seed)
            points++;
    t->seeds = seeds;
    t->points = points;
    if (points == 0 || seeds == 0 || t->n_games == 0) return NULL;
    size_t G = t->n_games, M = t->n_methods;
    const st_row **ix = calloc(G * M * seeds * points, sizeof *ix);
    size_t *fill = calloc(G * M * seeds, sizeof *fill);
    for (size_t i = 0; ix && fill && i < t->n; i++) {
        const st_row *r = &t->rows[i];
        size_t g = game_index(t, r->game), m = 0;
        while (m < M && strcmp(t->methods[m], r->method) != 0) m++;
        if (g == SIZE_MAX || m == M) continue;
        size_t run = (g * M + m) * seeds + r->seed;
        if (fill[run] < points) ix[run * points + fill[run]++] = r;
    }
    free(fill);
    return ix;
}

static const st_row *at(const st_table *t, const st_row **ix, size_t g, size_t m, size_t s,
                        size_t p) {
    return ix[((g * t->n_methods + m) * t->seeds + s) * t->points + p];
}

static int run_complete(const st_table *t, const st_row **ix, size_t g, size_t m, size_t s) {
    for (size_t p = 0; p < t->points; p++)
        if (at(t, ix, g, m, s, p) == NULL) return 0;
    return 1;
}

/* A run's greedy return averaged over the last quarter of the evaluation points. */
static double run_raw(const st_table *t, const st_row **ix, size_t g, size_t m, size_t s) {
    size_t P = t->points, from = P - (P + 3) / 4;
    double acc = 0;
    for (size_t p = from; p < P; p++) acc += at(t, ix, g, m, s, p)->ret;
    return acc / (double)(P - from);
}

/* The normalised score: (R - random) / (ref - random), ref = the better of the logged DQN's
 * last 10% of episodes and the best run of the game, c0 sweeps left out (so 1 is reachable and
 * a game whose logging DQN barely beats random does not blow up the scale). */
static double normalise(const st_game_info *gi, double r) {
    double den = gi->ref - gi->random;
    return den > 0 ? (r - gi->random) / den : 0;
}

static void set_refs(st_table *t, const st_row **ix) {
    for (size_t g = 0; g < t->n_games; g++) {
        double best = isnan(t->games[g].data_last) ? -INFINITY : t->games[g].data_last;
        for (size_t m = 0; m < t->n_methods; m++)
            for (size_t s = 0; s < t->seeds; s++)
                /* runs of a c0 sweep (method+dr3(c0)) do not move the study's scale */
                if (strstr(t->methods[m], "+dr3(") == NULL && run_complete(t, ix, g, m, s)) {
                    double r = run_raw(t, ix, g, m, s);
                    if (r > best) best = r;
                }
        t->games[g].ref = best;
    }
}

static double t95(size_t df) {
    static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447,
                               2.365, 2.306,  2.262, 2.228, 2.201, 2.179, 2.160};
    return df < sizeof t / sizeof t[0] ? t[df] : 1.96;
}

static void mean_ci(const double *v, size_t n, double *mean, double *half) {
    double s = 0, sq = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *mean = n ? s / (double)n : NAN;
    for (size_t i = 0; i < n; i++) sq += (v[i] - *mean) * (v[i] - *mean);
    *half = n > 1 ? t95(n - 1) * sqrt(sq / (double)(n - 1)) / sqrt((double)n) : 0;
}

typedef double (*field_fn)(const st_row *);
static double f_dot(const st_row *r) { return r->dot; }
static double f_cos(const st_row *r) { return r->cos; }
static double f_srank(const st_row *r) { return r->srank; }
static double f_q(const st_row *r) { return r->q; }
static double f_ret(const st_row *r) { return r->ret; }

/* Per-game plot of one field: one line per method, mean over the complete seeds with a 95%
 * t-interval band; DR3 variants dashed in their base method's colour. */
static int plot_game(const st_table *t, const st_row **ix, size_t g, const char *dir,
                     const char *what, const char *ylabel, field_fn f, int log_y, int with_mc) {
    size_t P = t->points, M = t->n_methods, S = t->seeds;
    svg_series se[ST_MAX_REPORT_METHODS + 1];
    double *buf = malloc(sizeof(double) * (M + 1) * P * 4), *v = malloc(sizeof(double) * S);
    size_t ns = 0;
    for (size_t m = 0; m < M && buf && v; m++) {
        double *x = buf + ns * P * 4, *y = x + P, *lo = y + P, *hi = lo + P;
        size_t have = 0;
        for (size_t i = 0; i < P; i++) {
            size_t k = 0;
            for (size_t s = 0; s < S; s++)
                if (run_complete(t, ix, g, m, s)) {
                    v[k++] = f(at(t, ix, g, m, s, i));
                    x[i] = (double)at(t, ix, g, m, s, i)->step;
                }
            if (k == 0) break;
            double mean, half;
            mean_ci(v, k, &mean, &half);
            y[i] = mean;
            lo[i] = mean - half;
            hi[i] = mean + half;
            have = k;
        }
        if (have == 0) continue;
        size_t base = 0;
        size_t len = strcspn(t->methods[m], "+");
        for (size_t j = 0; j < 6; j++)
            if (strlen(base_names[j]) == len && strncmp(base_names[j], t->methods[m], len) == 0)
                base = j;
        int dr3 = strstr(t->methods[m], "+dr3") != NULL;
        /* the study's DR3 dashed, DR3 at a swept c0 (method+dr3(c0)) dotted */
        const char *dash = strstr(t->methods[m], "+dr3(") ? "2 3" : dr3 ? "6 4" : NULL;
        se[ns++] = (svg_series){t->methods[m], x, y, lo, hi, P, (int)base, dash};
    }
    if (with_mc && ns > 0 && buf) {
        double *x = buf + ns * P * 4, *y = x + P;
        memcpy(x, se[0].x, P * sizeof(double));
        for (size_t i = 0; i < P; i++) {
            double acc = 0;
            size_t k = 0;
            for (size_t s = 0; s < S; s++)
                if (run_complete(t, ix, g, 0, s)) acc += at(t, ix, g, 0, s, i)->mc, k++;
            y[i] = k ? acc / (double)k : 0;
        }
        se[ns++] = (svg_series){"MC return of data", x, y, NULL, NULL, P, 7, "1 3"};
    }
    char path[1024], title[128];
    snprintf(path, sizeof path, "%s/minatar-%s-%s.svg", dir, t->games[g].game, what);
    snprintf(title, sizeof title, "%s: %s", t->games[g].game, ylabel);
    int rc = ns ? svg_plot(path, title, "gradient steps", ylabel, se, ns, log_y, 0) : 0;
    free(buf);
    free(v);
    return rc;
}

/* For every method the scores of its complete runs as games x seeds (seeds missing in some
 * game shrink every game to the common count). Returns the runs per game (0: none). */
static size_t method_scores(const st_table *t, const st_row **ix, size_t m, double *out,
                            size_t *games_used, int final_only, size_t point) {
    size_t runs = SIZE_MAX, G = 0;
    for (size_t g = 0; g < t->n_games; g++) {
        size_t k = 0;
        for (size_t s = 0; s < t->seeds; s++) k += (size_t)run_complete(t, ix, g, m, s);
        if (k == 0) continue;
        if (k < runs) runs = k;
        G++;
    }
    if (G == 0) return 0;
    size_t row = 0;
    for (size_t g = 0; g < t->n_games; g++) {
        size_t k = 0;
        for (size_t s = 0; s < t->seeds && k < runs; s++) {
            if (!run_complete(t, ix, g, m, s)) continue;
            double r = final_only ? run_raw(t, ix, g, m, s) : at(t, ix, g, m, s, point)->ret;
            out[row * runs + k++] = normalise(&t->games[g], r);
        }
        if (k) row++;
    }
    *games_used = G;
    return runs;
}

static int report(const char *const *dirs, size_t n_dirs, const char *out_dir, FILE *out) {
    st_table t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < n_dirs; i++)
        if (read_metrics(dirs[i], &t) != 0) {
            free(t.rows);
            return -1;
        }
    const st_row **ix = index_table(&t);
    if (ix == NULL) {
        fprintf(stderr, "dr3 demo: no complete runs to report\n");
        free(t.rows);
        return -1;
    }
    int rc = 0;
    set_refs(&t, ix);
    size_t M = t.n_methods, S = t.seeds, P = t.points, early = (P - 1) / 4;
    double *v = malloc(sizeof(double) * S);
    char path[1024];
    snprintf(path, sizeof path, "%s/summary.txt", out_dir);
    FILE *sf = fopen(path, "w");
    FILE *dst[2] = {out, sf};
    for (size_t g = 0; g < t.n_games; g++) {
        static const struct {
            const char *file, *label;
            field_fn f;
            int log_y, mc;
        } plots[] = {{"feature_dot", "phi(s).phi(s') (log scale)", f_dot, 1, 0},
                     {"feature_cos", "cos(phi(s), phi(s'))", f_cos, 0, 0},
                     {"srank", "srank of phi (delta 0.01)", f_srank, 0, 0},
                     {"q_values", "mean Q(s,a) on the data", f_q, 0, 1},
                     {"return", "greedy return", f_ret, 0, 0}};
        for (size_t k = 0; k < sizeof plots / sizeof plots[0]; k++)
            rc |= plot_game(&t, ix, g, out_dir, plots[k].file, plots[k].label, plots[k].f,
                            plots[k].log_y, plots[k].mc);
        for (int d = 0; d < 2; d++) {
            if (dst[d] == NULL) continue;
            const st_game_info *gi = &t.games[g];
            fprintf(dst[d],
                    "\n%s: random policy %.2f, logged DQN %.2f over all episodes, %.2f over "
                    "the last 10%%; normalised score 1 = %.2f\n",
                    gi->game, gi->random, gi->data_mean, gi->data_last, gi->ref);
            fprintf(dst[d], "%-20s %5s %16s %14s %12s %9s %15s %13s %13s\n", "method", "seeds",
                    "phi.phi' growth", "final phi.phi'", "final cos", "srank", "final Q (MC)",
                    "return avg", "return end");
            for (size_t m = 0; m < M; m++) {
                size_t k = 0;
                double c[7][2], mcv = 0;
                double *vals[7];
                for (int j = 0; j < 7; j++) vals[j] = calloc(S ? S : 1, sizeof(double));
                for (size_t s = 0; s < S; s++) {
                    if (!run_complete(&t, ix, g, m, s)) continue;
                    const st_row *e = at(&t, ix, g, m, s, early),
                                 *l = at(&t, ix, g, m, s, P - 1);
                    vals[0][k] = e->dot > 0 ? l->dot / e->dot : 0;
                    vals[1][k] = l->dot;
                    vals[2][k] = l->cos;
                    vals[3][k] = l->srank;
                    vals[4][k] = l->q;
                    double acc = 0;
                    for (size_t i = 1; i < P; i++) acc += at(&t, ix, g, m, s, i)->ret;
                    vals[5][k] = P > 1 ? acc / (double)(P - 1) : 0;
                    vals[6][k] = l->ret;
                    mcv += l->mc;
                    k++;
                }
                if (k > 0) {
                    for (int j = 0; j < 7; j++) mean_ci(vals[j], k, &c[j][0], &c[j][1]);
                    char cell[7][40];
                    snprintf(cell[0], 40, "%.2fx +-%.2f", c[0][0], c[0][1]);
                    snprintf(cell[1], 40, "%.3g +-%.2g", c[1][0], c[1][1]);
                    snprintf(cell[2], 40, "%.2f +-%.2f", c[2][0], c[2][1]);
                    snprintf(cell[3], 40, "%.0f +-%.0f", c[3][0], c[3][1]);
                    snprintf(cell[4], 40, "%.2f (%.2f)", c[4][0], mcv / (double)k);
                    snprintf(cell[5], 40, "%.2f +-%.2f", c[5][0], c[5][1]);
                    snprintf(cell[6], 40, "%.2f +-%.2f", c[6][0], c[6][1]);
                    fprintf(dst[d], "%-20s %5zu %16s %14s %12s %9s %15s %13s %13s\n",
                            t.methods[m], k, cell[0], cell[1], cell[2], cell[3], cell[4],
                            cell[5], cell[6]);
                }
                for (int j = 0; j < 7; j++) free(vals[j]);
            }
        }
    }
    /* IQM of the normalised score over games x seeds, stratified bootstrap 95% intervals */
    size_t cap = t.n_games * S + 1;
    double *sc = malloc(sizeof(double) * cap), *pool_a = malloc(sizeof(double) * cap * M),
           *pool_b = malloc(sizeof(double) * cap * M);
    size_t pool_n[2] = {0, 0}, pool_runs = SIZE_MAX;
    int pool_mixed = 0; /* methods with different seed counts are not pooled */
    for (int d = 0; d < 2; d++) {
        if (dst[d] == NULL) continue;
        fprintf(dst[d],
                "\nIQM of the normalised score (greedy return over the last quarter of "
                "training; 0 = random policy, 1 = the better of the logged DQN's last 10%% of "
                "episodes and the game's best run), over games x seeds, 95%% stratified "
                "bootstrap interval (2000 resamples):\n");
        fprintf(dst[d], "%-10s %6s %26s %26s\n", "method", "runs", "without DR3", "with DR3");
    }
    for (size_t m = 0; m + 1 < M && sc && pool_a && pool_b; m++) {
        /* pairs: a method and its DR3 variant at the study's c0 (named method+dr3) */
        size_t len = strlen(t.methods[m]);
        if (strstr(t.methods[m], "+dr3") != NULL ||
            strncmp(t.methods[m + 1], t.methods[m], len) != 0 ||
            strcmp(t.methods[m + 1] + len, "+dr3") != 0)
            continue;
        double pt[2], lo[2], hi[2];
        size_t G[2], runs[2];
        for (int w = 0; w < 2; w++) {
            runs[w] = method_scores(&t, ix, m + (size_t)w, sc, &G[w], 1, 0);
            if (runs[w] == 0 ||
                stats_iqm_ci(sc, G[w], runs[w], 2000, 95.0, 12345, &pt[w], &lo[w], &hi[w]) != 0)
                pt[w] = lo[w] = hi[w] = NAN;
            double *pool = w ? pool_b : pool_a;
            /* pooled over methods: each (game, method) a stratum, seeds the runs */
            if (runs[w] > 0) {
                pool_mixed |= pool_runs != SIZE_MAX && runs[w] != pool_runs;
                if (runs[w] < pool_runs) pool_runs = runs[w];
                for (size_t i = 0; i < G[w] * runs[w]; i++) pool[pool_n[w]++] = sc[i];
            }
        }
        for (int d = 0; d < 2; d++)
            if (dst[d])
                fprintf(dst[d],
                        "%-10.*s %3zux%-2zu %8.3f [%6.3f, %6.3f] %8.3f [%6.3f, %6.3f]\n",
                        (int)strcspn(t.methods[m], "+"), t.methods[m], G[0], runs[0], pt[0],
                        lo[0], hi[0], pt[1], lo[1], hi[1]);
    }
    if (!pool_mixed && pool_n[0] > 0 && pool_n[0] == pool_n[1] && pool_runs != SIZE_MAX &&
        pool_n[0] % pool_runs == 0) {
        double pt[2], lo[2], hi[2];
        for (int w = 0; w < 2; w++)
            stats_iqm_ci(w ? pool_b : pool_a, pool_n[w] / pool_runs, pool_runs, 2000, 95.0, 777,
                         &pt[w], &lo[w], &hi[w]);
        for (int d = 0; d < 2; d++)
            if (dst[d])
                fprintf(dst[d], "%-10s %6zu %8.3f [%6.3f, %6.3f] %8.3f [%6.3f, %6.3f]\n", "all",
                        pool_n[0], pt[0], lo[0], hi[0], pt[1], lo[1], hi[1]);
    }
    /* IQM curves over training: every method with and without DR3 (at the study's c0) */
    {
        svg_series se[ST_MAX_REPORT_METHODS];
        size_t ns = 0;
        double *buf = malloc(sizeof(double) * M * P * 4);
        for (size_t m = 0; m < M && buf && sc; m++) {
            /* c0-sweep variants usually cover a subset of the games: not in the IQM plot */
            if (strstr(t.methods[m], "+dr3(") != NULL) continue;
            double *x = buf + ns * P * 4, *y = x + P, *lo = y + P, *hi = lo + P;
            size_t G = 0, runs = 0;
            int ok = 1;
            for (size_t i = 0; i < P && ok; i++) {
                runs = method_scores(&t, ix, m, sc, &G, 0, i);
                ok = runs > 0 &&
                     stats_iqm_ci(sc, G, runs, 500, 95.0, 99 + i, &y[i], &lo[i], &hi[i]) == 0;
                for (size_t g = 0; g < t.n_games && ok; g++)
                    for (size_t s = 0; s < S; s++)
                        if (run_complete(&t, ix, g, m, s))
                            x[i] = (double)at(&t, ix, g, m, s, i)->step;
            }
            if (!ok) continue;
            size_t len = strcspn(t.methods[m], "+"), base = 0;
            for (size_t j = 0; j < 6; j++)
                if (strlen(base_names[j]) == len &&
                    strncmp(base_names[j], t.methods[m], len) == 0)
                    base = j;
            int dr3 = strstr(t.methods[m], "+dr3") != NULL;
            se[ns++] = (svg_series){t.methods[m],
                                    x,
                                    y,
                                    lo,
                                    hi,
                                    P,
                                    (int)base,
                                    strstr(t.methods[m], "+dr3(") ? "2 3" : dr3 ? "6 4" : NULL};
        }
        snprintf(path, sizeof path, "%s/minatar-iqm-return.svg", out_dir);
        if (ns > 0)
            rc |= svg_plot(path, "IQM normalised greedy return over games x seeds (95% CI)",
                           "gradient steps", "normalised return", se, ns, 0, 0);
        free(buf);
    }
    free(sc);
    free(pool_a);
    free(pool_b);
    if (sf) fclose(sf);
    free(v);
    free(ix);
    free(t.rows);
    return rc;
}

/* Seeds of one game in parallel (--workers): each worker takes the next seed, prepares its
 * subset and clone and trains every method on it; one thread per run, the numbers are those
 * of a sequential run. */
typedef struct seed_jobs {
    const st_config *c;
    const char *game;
    st_data *data;
    size_t nds;
    FILE *csv;
    pthread_mutex_t lock;
    atomic_size_t next;
    atomic_int failed;
    double bc_loss, bc_acc; /* sums over seeds, under lock */
} seed_jobs;

static void *seed_worker(void *arg) {
    seed_jobs *j = arg;
    const st_config *c = j->c;
    for (;;) {
        size_t s = atomic_fetch_add(&j->next, 1);
        if (s >= c->seeds || atomic_load(&j->failed)) break;
        st_seed sd;
        const st_data *d = &j->data[s % j->nds];
        int rc = make_seed(c, d, s, &sd);
        pthread_mutex_lock(&j->lock);
        if (rc != 0)
            fprintf(stderr, "dr3 demo: preparing %s seed %zu failed: %s\n", j->game, s,
                    dr3_last_error());
        else
            printf("%s seed %zu: subset %zu, behaviour cloning cross-entropy %.3f, accuracy "
                   "%.2f\n",
                   j->game, s, sd.n_subset, sd.bc_loss, sd.bc_acc);
        fflush(stdout);
        j->bc_loss += sd.bc_loss;
        j->bc_acc += sd.bc_acc;
        pthread_mutex_unlock(&j->lock);
        for (size_t m = 0; m < c->n_methods && rc == 0; m++)
            rc = run_one(c, j->game, d, &sd, &c->methods[m], s, j->csv, &j->lock);
        free_seed(&sd);
        if (rc != 0) atomic_store(&j->failed, 1);
    }
    return NULL;
}

/* ---- the command ------------------------------------------------------------------------ */

int cmd_demo_minatar(int argc, char **argv) {
    bool quick = false;
    const char *suite = NULL, *games = NULL, *methods = "sarsa,expected,sampled,dqn,rem,cql";
    const char *out = "dr3-minatar", *cache = NULL, *from = NULL, *variants = "both";
    uint64_t seeds = 3, steps = 0, collect = 0, subset = 0, eval_every = 0, eval_episodes = 0;
    uint64_t batch = 32, bc_steps = 0, heads = 4, datasets = 1, eval_size = 1024;
    uint64_t eval_max_steps = 2500, workers = 2;
    double lr = 2.5e-4, tau = 0.005, gamma = 0.99, c0 = 0.01, cql = 0.1;
    const cli_opt opts[] = {
        {"suite", 's', &suite, "minatar: this study (without it, dr3 demo runs CartPole)"},
        {"quick", 'b', &quick,
         "a tiny end-to-end check (breakout, 1 seed, well under a minute)"},
        {"games", 's', &games,
         "comma list of breakout, freeway, asterix, space_invaders, seaquest, or all "
         "(breakout)"},
        {"methods", 's', &methods,
         "comma list of sarsa, expected, sampled, dqn, rem, cql; each runs with and without "
         "DR3 (all)"},
        {"variants", 's', &variants,
         "both | plain | dr3: each method without and with DR3, or only one of them (both; "
         "a c0 sweep reruns only the DR3 variants)"},
        {"seeds", 'u', &seeds, "offline seeds per game (3)"},
        {"steps", 'u', &steps, "gradient steps per offline run (3000; quick 40)"},
        {"collect", 'u', &collect, "online DQN steps logged per game (30000; quick 1000)"},
        {"datasets", 'u', &datasets,
         "DQN runs per game; seed s trains on run s mod this (1: every seed shares one)"},
        {"subset", 'u', &subset, "transitions in each seed's uniform offline subset (10000)"},
        {"cache", 's', &cache, "directory of the logged replays (OUT/cache)"},
        {"out", 's', &out, "output directory (dr3-minatar)"},
        {"c0", 'f', &c0, "DR3 coefficient (0.01)"},
        {"cql", 'f', &cql, "CQL alpha (0.1)"},
        {"heads", 'u', &heads, "REM heads (4)"},
        {"lr", 'f', &lr, "Adam learning rate (2.5e-4)"},
        {"tau", 'f', &tau, "Polyak rate of the target network (0.005)"},
        {"gamma", 'f', &gamma, "discount (0.99)"},
        {"batch", 'u', &batch, "batch size (32)"},
        {"bc-steps", 'u', &bc_steps, "behaviour-cloning steps per seed (2000; quick 50)"},
        {"eval-every", 'u', &eval_every, "steps between evaluations (steps/10; quick steps/4)"},
        {"eval-size", 'u', &eval_size, "evaluation transitions (1024; quick 128)"},
        {"eval-episodes", 'u', &eval_episodes, "greedy episodes per evaluation (5; quick 1)"},
        {"eval-max-steps", 'u', &eval_max_steps,
         "steps at which an evaluation episode is cut "
         "(2500)"},
        {"workers", 'u', &workers, "seeds trained in parallel, one thread each (2)"},
        {"from", 's', &from,
         "comma list of earlier output directories or metrics.csv files (games.csv beside "
         "them): redo the report from their CSVs (no training)"},
    };
    int rc = cli_parse("demo", "--suite minatar [options]", argc, argv, 2, opts,
                       sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    if (suite == NULL || strcmp(suite, "minatar") != 0) {
        fprintf(stderr, "dr3 demo: --suite must be minatar\n");
        return CLI_USAGE;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "dr3 demo: cannot create '%s': %s\n", out, strerror(errno));
        return CLI_FAIL;
    }
    if (from != NULL) {
        char buf[1024];
        const char *dirs[16];
        size_t nd = 0;
        snprintf(buf, sizeof buf, "%s", from);
        for (char *save = NULL, *tk = strtok_r(buf, ",", &save); tk && nd < 16;
             tk = strtok_r(NULL, ",", &save))
            dirs[nd++] = tk;
        return report(dirs, nd, out, stdout) == 0 ? CLI_OK : CLI_FAIL;
    }
    st_config c;
    memset(&c, 0, sizeof c);
    c.variants = strcmp(variants, "both") == 0    ? 3
                 : strcmp(variants, "plain") == 0 ? 1
                 : strcmp(variants, "dr3") == 0   ? 2
                                                  : 0;
    if (c.variants == 0) {
        fprintf(stderr, "dr3 demo: --variants must be both, plain or dr3\n");
        return CLI_USAGE;
    }
    c.c0 = c0; /* names the DR3 variants of a c0 other than 0.01 */
    if (games != NULL && strcmp(games, "all") == 0)
        games = "breakout,freeway,asterix,space_invaders,seaquest";
    if (each_item(games ? games : "breakout", add_game, &c) != 0 ||
        each_item(methods, add_base, &c) != 0) {
        fprintf(stderr, "dr3 demo: unknown game or method in --games/--methods\n");
        return CLI_USAGE;
    }
    c.seeds = (size_t)seeds;
    c.steps = (size_t)(steps ? steps : quick ? 40 : 3000);
    c.collect = (size_t)(collect ? collect : quick ? 1000 : 30000);
    c.subset = (size_t)(subset ? subset : quick ? 1000 : 10000);
    size_t parts = quick ? 4 : 10; /* evaluation points: parts + 1 */
    c.eval_every = (size_t)(eval_every ? eval_every : c.steps / parts ? c.steps / parts : 1);
    c.eval_size = (size_t)(quick && eval_size == 1024 ? 128 : eval_size);
    c.eval_episodes = (size_t)(eval_episodes ? eval_episodes : quick ? 1 : 5);
    c.eval_max_steps = (size_t)(quick && eval_max_steps == 2500 ? 200 : eval_max_steps);
    c.batch = (size_t)batch;
    c.bc_steps = (size_t)(bc_steps ? bc_steps : quick ? 50 : 2000);
    c.heads = (size_t)heads;
    c.datasets = (size_t)datasets;
    c.workers = (size_t)workers;
    c.srank_rows = c.eval_size < 256 ? c.eval_size : 256;
    c.srank_rows -= c.srank_rows % c.batch;
    c.lr = lr;
    c.tau = tau;
    c.gamma = gamma;
    c.c0 = c0;
    c.cql = cql;
    c.out = out;
    char cache_buf[1024];
    snprintf(cache_buf, sizeof cache_buf, "%s/cache", out);
    c.cache = cache ? cache : cache_buf;
    if (quick && seeds == 3) c.seeds = 1;
    if (c.seeds < 1 || c.seeds > 64 || c.batch < 8 || c.batch > 4096 || c.heads < 2 ||
        c.heads > 64 || c.workers < 1 || c.workers > 16 || c.datasets < 1 ||
        c.datasets > ST_MAX_DATASETS || c.collect < 4 * c.batch || c.subset < 2 * c.batch ||
        c.eval_size < c.batch || c.srank_rows < c.batch || !(lr > 0) ||
        !(tau > 0 && tau <= 1) || !(gamma >= 0 && gamma < 1) || !(c0 > 0) || !(cql > 0) ||
        c.eval_max_steps == 0) {
        fprintf(stderr, "dr3 demo: an option is out of range (see dr3 demo --suite minatar "
                        "--help)\n");
        return CLI_USAGE;
    }
    double t0 = cli_now();
    printf("dr3 demo --suite minatar: %zu games x %zu methods x %zu seeds; DQN replay of %zu "
           "steps per game, offline subsets of %zu, %zu gradient steps (batch %zu, Adam %g), "
           "DR3 c0 %g, CQL alpha %g, REM %zu heads\n",
           c.n_games, c.n_methods, c.seeds, c.collect, c.subset, c.steps, c.batch, c.lr, c.c0,
           c.cql, c.heads);
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.csv", out);
    FILE *csv = fopen(path, "w");
    snprintf(path, sizeof path, "%s/games.csv", out);
    FILE *gcsv = fopen(path, "w");
    if (csv == NULL || gcsv == NULL) {
        fprintf(stderr, "dr3 demo: cannot write into '%s'\n", out);
        if (csv) fclose(csv);
        if (gcsv) fclose(gcsv);
        return CLI_FAIL;
    }
    fprintf(csv, "game,method,backup,dr3_c0,cql_alpha,heads,seed,step,feature_dot,feature_cos,"
                 "feature_norm,srank,mean_q,mc_return,td_loss,greedy_return\n");
    fprintf(gcsv, "game,random_return,data_return_mean,data_return_last10,episodes,"
                  "transitions,bc_cross_entropy,bc_accuracy\n");
    rc = CLI_OK;
    for (size_t g = 0; g < c.n_games && rc == CLI_OK; g++) {
        st_data data[ST_MAX_DATASETS];
        memset(data, 0, sizeof data);
        size_t nds = c.datasets < c.seeds ? c.datasets : c.seeds;
        for (size_t k = 0; k < nds && rc == CLI_OK; k++)
            if (load_data(&c, c.games[g], k, &data[k]) != 0) rc = CLI_FAIL;
        double rnd = random_return(c.games[g], 100, c.eval_max_steps);
        double dmean = 0, dlast = 0;
        for (size_t k = 0; k < nds && rc == CLI_OK; k++) {
            dmean += data[k].ret_mean / (double)nds;
            dlast += data[k].ret_last / (double)nds;
            printf("%s data %zu: %zu transitions, %zu episodes, return %.2f (last 10%%: %.2f); "
                   "random policy %.2f\n",
                   c.games[g], k, data[k].n_rows, data[k].episodes, data[k].ret_mean,
                   data[k].ret_last, rnd);
        }
        seed_jobs jobs;
        memset(&jobs, 0, sizeof jobs);
        jobs.c = &c;
        jobs.game = c.games[g];
        jobs.data = data;
        jobs.nds = nds;
        jobs.csv = csv;
        pthread_mutex_init(&jobs.lock, NULL);
        size_t nw = c.workers < c.seeds ? c.workers : c.seeds, started = 0;
        pthread_t th[16];
        for (size_t w = 0; w < nw && rc == CLI_OK; w++)
            if (pthread_create(&th[w], NULL, seed_worker, &jobs) == 0) started++;
        if (started == 0 && rc == CLI_OK) seed_worker(&jobs);
        for (size_t w = 0; w < started; w++) pthread_join(th[w], NULL);
        pthread_mutex_destroy(&jobs.lock);
        if (atomic_load(&jobs.failed)) rc = CLI_FAIL;
        double bc_loss = jobs.bc_loss / (double)c.seeds, bc_acc = jobs.bc_acc / (double)c.seeds;
        if (rc == CLI_OK) {
            fprintf(gcsv, "%s,%.6g,%.6g,%.6g,%zu,%zu,%.4g,%.4g\n", c.games[g], rnd, dmean,
                    dlast, data[0].episodes, data[0].n_rows, bc_loss, bc_acc);
            fflush(gcsv);
        }
        for (size_t k = 0; k < nds; k++) free_data(&data[k]);
    }
    fclose(csv);
    fclose(gcsv);
    if (rc != CLI_OK) return rc;
    printf("\ntraining took %.0f s\n", cli_now() - t0);
    const char *dirs[1] = {out};
    if (report(dirs, 1, out, stdout) != 0) {
        fprintf(stderr, "dr3 demo: writing the report into '%s' failed\n", out);
        return CLI_FAIL;
    }
    printf("\nwrote %s/metrics.csv, games.csv, summary.txt and plots %s/minatar-*.svg\n", out,
           out);
    return CLI_OK;
}
