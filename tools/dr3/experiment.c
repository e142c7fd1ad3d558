/* The DR3 feature co-adaptation experiment (Kumar et al., 2022, Fig. 1 analogue). */
#include "experiment.h"

#include "cli.h"

#include "envs.h"
#include "svg.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- per-seed data ------------------------------------------------------------------- */

typedef struct seed_data {
    dr3env *env; /* for the behaviour policy's probabilities (read-only) */
    dr3env_policy policy;
    dr3_replay *replay;
    /* the fixed evaluation set, as learner batches */
    size_t n_eval;
    float *obs, *next_obs, *rewards, *discounts, *mc;
    int32_t *actions, *next_actions;
    double mc_mean;
} seed_data;

static int make_seed_data(const exp_config *c, size_t seed, seed_data *d) {
    memset(d, 0, sizeof *d);
    if (dr3env_create(&d->env, c->env, 1000 + seed) != DR3_OK) return -1;
    d->policy.env = d->env;
    d->policy.epsilon = c->epsilon;
    size_t S = dr3env_obs_dim(d->env);
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = c->transitions * 2 + 16;
    ro.obs_dim = S;
    ro.num_actions = dr3env_num_actions(d->env);
    ro.gamma = c->gamma;
    if (dr3_replay_create(&d->replay, &ro) != DR3_OK) return -1;
    float *mc = malloc(c->transitions * sizeof(float));
    dr3_rng rng;
    dr3_rng_seed(&rng, 77 + seed);
    if (mc == NULL || dr3env_collect(d->env, &d->policy, c->transitions, c->gamma, &rng,
                                     d->replay, mc) != DR3_OK)
        return -1;
    /* the evaluation set: evenly spaced transitions that have a dataset next action, so
     * every backup (SARSA included) can be evaluated on it */
    size_t total = dr3_replay_valid_count(d->replay, 0), count;
    size_t *all = malloc(total * sizeof(size_t)), *all_sarsa = malloc(total * sizeof(size_t));
    dr3_replay_valid_indices(d->replay, 0, all, total, &count);
    size_t n_sarsa;
    dr3_replay_valid_indices(d->replay, 1, all_sarsa, total, &n_sarsa);
    size_t n = c->eval_size < n_sarsa ? c->eval_size : n_sarsa;
    n -= n % c->batch;
    d->n_eval = n;
    size_t *pick = malloc(n * sizeof(size_t));
    d->obs = malloc(n * S * sizeof(float));
    d->next_obs = malloc(n * S * sizeof(float));
    d->rewards = malloc(n * sizeof(float));
    d->discounts = malloc(n * sizeof(float));
    d->mc = malloc(n * sizeof(float));
    d->actions = malloc(n * sizeof(int32_t));
    d->next_actions = malloc(n * sizeof(int32_t));
    double mc_sum = 0;
    for (size_t i = 0; i < n; i++) {
        pick[i] = all_sarsa[i * n_sarsa / n];
        /* position of this row among all steps (oldest first) gives its MC return */
        size_t lo = 0, hi = count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (all[mid] < pick[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        d->mc[i] = mc[lo];
        mc_sum += mc[lo];
    }
    d->mc_mean = n ? mc_sum / (double)n : 0;
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.need_next_action = 1;
    b.obs = d->obs;
    b.ld_obs = S;
    b.next_obs = d->next_obs;
    b.ld_next_obs = S;
    b.actions = d->actions;
    b.next_actions = d->next_actions;
    b.rewards = d->rewards;
    b.discounts = d->discounts;
    int rc = dr3_replay_get(d->replay, pick, n, &b) == DR3_OK ? 0 : -1;
    free(pick);
    free(all);
    free(all_sarsa);
    free(mc);
    return rc;
}

static void free_seed_data(seed_data *d) {
    dr3env_free(d->env);
    dr3_replay_free(d->replay);
    free(d->obs);
    free(d->next_obs);
    free(d->rewards);
    free(d->discounts);
    free(d->mc);
    free(d->actions);
    free(d->next_actions);
}

/* ---- one run ----------------------------------------------------------------------------- */

typedef struct actor {
    dr3_learner *l;
    size_t S;
} actor;

static int greedy(void *payload, const float *obs) {
    actor *a = payload;
    int32_t act = 0;
    dr3_learner_act(a->l, 1, obs, a->S, 0.0f, NULL, &act);
    return act;
}

typedef struct job_ctx {
    const exp_config *cfg;
    seed_data *seeds;
    exp_results *res;
    atomic_size_t next_job, done_jobs;
    size_t n_jobs;
    FILE *log;
    pthread_mutex_t log_lock;
    atomic_int failed;
} job_ctx;

static int run_one(job_ctx *ctx, size_t method, size_t seed) {
    const exp_config *c = ctx->cfg;
    const exp_method *m = &c->methods[method];
    seed_data *d = &ctx->seeds[seed];
    size_t S = dr3env_obs_dim(d->env), A = dr3env_num_actions(d->env);
    size_t hidden[8];
    for (size_t i = 0; i < c->depth && i < 8; i++) hidden[i] = c->width;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = c->lr;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = m->backup;
    bo.policy = dr3env_policy_fn;
    bo.policy_payload = &d->policy;
    dr3_regularizer_options reg = DR3_REGULARIZER_OPTIONS_INIT;
    reg.coef = m->c0;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = A;
    o.num_hidden = c->depth;
    o.hidden = hidden;
    o.batch_size = c->batch;
    o.gamma = c->gamma;
    o.td_kind = DR3_TD_MSE;
    o.polyak_tau = c->tau;
    o.optim = &oo;
    o.backup = &bo;
    const dr3_regularizer_options *reg_ptr = &reg;
    o.regularizers = &reg_ptr;
    o.num_regularizers = m->c0 > 0 ? 1 : 0;
    o.srank_every = 0; /* srank is computed below, on one evaluation chunk */
    o.seed = 31 * seed + 7;
    dr3_learner *l = NULL;
    if (dr3_learner_create(&l, &o) != DR3_OK) return -1;
    exp_point *pts = ctx->res->points + (method * c->seeds + seed) * ctx->res->n_points;
    dr3env *eval_env = NULL;
    if (dr3env_create(&eval_env, c->env, 5000 + seed) != DR3_OK) {
        dr3_learner_free(l);
        return -1;
    }
    actor act = {l, S};
    size_t point = 0;
    int rc = 0;
    for (size_t step = 0; step <= c->steps && rc == 0; step++) {
        if (step % c->eval_every == 0) {
            exp_point *p = &pts[point++];
            memset(p, 0, sizeof *p);
            p->step = (double)step;
            size_t chunks = d->n_eval / c->batch;
            for (size_t k = 0; k < chunks && rc == 0; k++) {
                dr3_batch b = DR3_BATCH_INIT;
                size_t off = k * c->batch;
                b.n = c->batch;
                b.obs = d->obs + off * S;
                b.ld_obs = S;
                b.next_obs = d->next_obs + off * S;
                b.ld_next_obs = S;
                b.actions = d->actions + off;
                b.next_actions = d->next_actions + off;
                b.rewards = d->rewards + off;
                b.discounts = d->discounts + off;
                dr3_step_metrics mt = DR3_STEP_METRICS_INIT;
                if (dr3_learner_evaluate(l, &b, &mt) != DR3_OK) {
                    rc = -1;
                    break;
                }
                p->dot += mt.feature_dot / (double)chunks;
                p->cos += mt.feature_cos / (double)chunks;
                p->norm += mt.feature_norm / (double)chunks;
                p->dead += mt.dead_fraction / (double)chunks;
                p->q += mt.mean_q / (double)chunks;
                p->td += mt.td_loss / (double)chunks;
            }
            /* srank of φ(s) on the first chunk: features of the online network */
            const float *phi = NULL;
            dr3_net *online = dr3_learner_online(l);
            size_t rank = 0;
            if (rc == 0 &&
                (dr3_net_forward(online, c->batch, d->obs, S, NULL, 0, NULL, 0, &phi) !=
                     DR3_OK ||
                 dr3_srank(c->batch, dr3_net_feature_dim(online), phi,
                           dr3_net_feature_dim(online), 0.01, NULL, 0, &rank, NULL) != DR3_OK))
                rc = -1;
            p->srank = (double)rank;
            p->mc = d->mc_mean;
            if (rc == 0 && c->eval_episodes > 0)
                rc =
                    dr3env_evaluate(eval_env, c->eval_episodes, greedy, &act, &p->ret) == DR3_OK
                        ? 0
                        : -1;
        }
        if (step < c->steps && rc == 0) {
            if (dr3_learner_step_replay(l, d->replay, NULL) != DR3_OK) rc = -1;
        }
    }
    if (rc != 0) {
        pthread_mutex_lock(&ctx->log_lock);
        fprintf(stderr, "dr3 demo: %s seed %zu failed: %s\n", m->name, seed, dr3_last_error());
        pthread_mutex_unlock(&ctx->log_lock);
    }
    dr3env_free(eval_env);
    dr3_learner_free(l);
    return rc;
}

static void *worker(void *arg) {
    job_ctx *ctx = arg;
    for (;;) {
        size_t j = atomic_fetch_add(&ctx->next_job, 1);
        if (j >= ctx->n_jobs || atomic_load(&ctx->failed)) break;
        size_t method = j % ctx->cfg->n_methods, seed = j / ctx->cfg->n_methods;
        if (run_one(ctx, method, seed) != 0) atomic_store(&ctx->failed, 1);
        size_t done = atomic_fetch_add(&ctx->done_jobs, 1) + 1;
        if (ctx->log) {
            pthread_mutex_lock(&ctx->log_lock);
            fprintf(ctx->log, "  [%zu/%zu] %-16s seed %zu done\n", done, ctx->n_jobs,
                    ctx->cfg->methods[method].name, seed);
            fflush(ctx->log);
            pthread_mutex_unlock(&ctx->log_lock);
        }
    }
    return NULL;
}

int exp_run(const exp_config *c, exp_results *out, FILE *log) {
    memset(out, 0, sizeof *out);
    double t0 = cli_now();
    out->n_points = c->steps / c->eval_every + 1;
    out->points = calloc(c->n_methods * c->seeds * out->n_points, sizeof(exp_point));
    seed_data *seeds = calloc(c->seeds, sizeof(seed_data));
    if (out->points == NULL || seeds == NULL) return -1;
    int rc = 0;
    for (size_t s = 0; s < c->seeds && rc == 0; s++) rc = make_seed_data(c, s, &seeds[s]);
    if (rc == 0) {
        job_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.cfg = c;
        ctx.seeds = seeds;
        ctx.res = out;
        ctx.n_jobs = c->n_methods * c->seeds;
        ctx.log = log;
        pthread_mutex_init(&ctx.log_lock, NULL);
        int nw = c->workers < 1 ? 1 : c->workers;
        pthread_t th[16];
        if (nw > 16) nw = 16;
        for (int i = 0; i < nw; i++) pthread_create(&th[i], NULL, worker, &ctx);
        for (int i = 0; i < nw; i++) pthread_join(th[i], NULL);
        pthread_mutex_destroy(&ctx.log_lock);
        rc = atomic_load(&ctx.failed) ? -1 : 0;
    }
    for (size_t s = 0; s < c->seeds; s++) free_seed_data(&seeds[s]);
    free(seeds);
    out->seconds = cli_now() - t0;
    return rc;
}

int exp_read_csv(const char *path, exp_config *c, exp_results *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "dr3 demo: cannot read '%s'\n", path);
        return -1;
    }
    /* pass 1: methods (in order), seeds, points per run */
    char line[1024];
    size_t rows = 0, seeds = 0, points = 0, lineno = 1;
    double step_max = 0, step_1 = 0;
    int bad = fgets(line, sizeof line, f) == NULL ||
              strncmp(line, "method,backup,c0,seed,step,", 27) != 0;
    c->n_methods = 0;
    while (!bad && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        char name[32], backup[32];
        double c0, step;
        size_t seed;
        if (sscanf(line, "%31[^,],%31[^,],%lf,%zu,%lf,", name, backup, &c0, &seed, &step) !=
                5 ||
            seed >= 64) {
            bad = 1;
            break;
        }
        size_t m = 0;
        while (m < c->n_methods && strcmp(c->methods[m].name, name) != 0) m++;
        if (m == c->n_methods) {
            if (m == EXP_MAX_METHODS ||
                dr3_backup_kind_parse(&c->methods[m].backup, backup) != DR3_OK) {
                bad = 1;
                break;
            }
            snprintf(c->methods[m].name, sizeof c->methods[m].name, "%s", name);
            c->methods[m].c0 = (float)c0;
            c->n_methods++;
        }
        if (m == 0 && seed == 0) {
            if (points == 1) step_1 = step;
            points++;
        }
        if (seed + 1 > seeds) seeds = seed + 1;
        if (step > step_max) step_max = step;
        rows++;
    }
    if (bad || c->n_methods == 0 || points < 2 || rows != c->n_methods * seeds * points) {
        fprintf(stderr, "dr3 demo: '%s' is not a complete metrics.csv of dr3 demo (line %zu)\n",
                path, lineno);
        fclose(f);
        return -1;
    }
    c->seeds = seeds;
    c->steps = (size_t)step_max;
    c->eval_every = (size_t)step_1;
    out->n_points = points;
    out->seconds = -1;
    out->points = calloc(rows, sizeof(exp_point));
    if (out->points == NULL) {
        fclose(f);
        return -1;
    }
    /* pass 2: the values, placed by method, seed and order within the run */
    rewind(f);
    if (fgets(line, sizeof line, f) == NULL) bad = 1;
    size_t *fill = calloc(c->n_methods * seeds, sizeof(size_t));
    while (!bad && fill != NULL && fgets(line, sizeof line, f) != NULL) {
        char name[32], backup[32];
        double c0;
        size_t seed, m = 0;
        exp_point p;
        if (sscanf(line, "%31[^,],%31[^,],%lf,%zu,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf",
                   name, backup, &c0, &seed, &p.step, &p.dot, &p.cos, &p.norm, &p.dead, &p.q,
                   &p.mc, &p.srank, &p.ret, &p.td) != 14) {
            bad = 1;
            break;
        }
        while (m < c->n_methods && strcmp(c->methods[m].name, name) != 0) m++;
        size_t *k = &fill[m * seeds + seed];
        if (*k >= points) {
            bad = 1;
            break;
        }
        out->points[(m * seeds + seed) * points + (*k)++] = p;
    }
    free(fill);
    fclose(f);
    if (bad) {
        fprintf(stderr, "dr3 demo: '%s': malformed row\n", path);
        exp_results_free(out);
        return -1;
    }
    return 0;
}

void exp_results_free(exp_results *res) {
    free(res->points);
    res->points = NULL;
}

/* ---- reporting -------------------------------------------------------------------------- */

/* Two-sided 95% Student t quantiles for df = 1..30 (beyond: 1.96). */
static double t95(size_t df) {
    static const double t[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    return df == 0 ? 0 : (df <= 30 ? t[df - 1] : 1.96);
}

/* Mean and 95% half-width over seeds of f(point) for one method at one point. */
typedef double (*field_fn)(const exp_point *p);
static double f_dot(const exp_point *p) { return p->dot; }
static double f_cos(const exp_point *p) { return p->cos; }
static double f_q(const exp_point *p) { return p->q; }
static double f_ret(const exp_point *p) { return p->ret; }
static double f_srank(const exp_point *p) { return p->srank; }

static const exp_point *pt(const exp_config *c, const exp_results *r, size_t m, size_t s,
                           size_t i) {
    return &r->points[(m * c->seeds + s) * r->n_points + i];
}

static void mean_ci(const double *v, size_t n, double *mean, double *half) {
    double s = 0, sq = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) sq += (v[i] - *mean) * (v[i] - *mean);
    *half = n > 1 ? t95(n - 1) * sqrt(sq / (double)(n - 1)) / sqrt((double)n) : 0;
}

/* A method's base backup: its name up to "+dr3". */
static size_t base_len(const char *name) {
    const char *plus = strchr(name, '+');
    return plus != NULL ? (size_t)(plus - name) : strlen(name);
}

static int same_base(const exp_config *c, size_t a, size_t b) {
    size_t la = base_len(c->methods[a].name);
    return la == base_len(c->methods[b].name) &&
           strncmp(c->methods[a].name, c->methods[b].name, la) == 0;
}

/* Colour and line style of method m: every variant of one backup shares its colour (one
 * colour per distinct backup, in order of appearance), the DR3 variants are dashed (one
 * dash pattern per distinct coefficient, in order of appearance). */
static void style(const exp_config *c, size_t m, int *color, const char **dash) {
    static const char *const dashes[] = {"7 4", "2 3", "12 3 3 3", "4 4 1 4"};
    int col = 0;
    for (size_t k = 0; k < c->n_methods && !same_base(c, k, m); k++) {
        int first = 1;
        for (size_t j = 0; j < k; j++) first &= !same_base(c, j, k);
        col += first;
    }
    *color = col;
    *dash = NULL;
    if (c->methods[m].c0 > 0) {
        size_t rank = 0;
        for (size_t k = 0; k < c->n_methods && c->methods[k].c0 != c->methods[m].c0; k++) {
            int first = c->methods[k].c0 > 0;
            for (size_t j = 0; j < k; j++) first &= c->methods[j].c0 != c->methods[k].c0;
            rank += (size_t)first;
        }
        *dash = dashes[rank % (sizeof dashes / sizeof dashes[0])];
    }
}

/* "mean +-half" with as many decimals as the mean's magnitude deserves (3 significant
 * digits, never an exponent): 1090 +-210, 28.6 +-7.0, 9.42 +-0.48. */
static void pm(char *out, size_t cap, double mean, double half) {
    double a = fabs(mean);
    int d = a >= 100 ? 0 : a >= 10 ? 1 : 2;
    snprintf(out, cap, "%.*f +-%.*f", d, mean, d, half);
}

static int plot(const exp_config *c, const exp_results *r, const char *dir, const char *file,
                const char *title, const char *ylabel, field_fn f, int log_y, int with_mc,
                int y_zero) {
    size_t P = r->n_points, S = c->seeds;
    svg_series series[EXP_MAX_METHODS + 1];
    double *buf = malloc(sizeof(double) * c->n_methods * P * 4),
           *v = malloc(sizeof(double) * S);
    for (size_t m = 0; m < c->n_methods; m++) {
        double *x = buf + m * P * 4, *y = x + P, *lo = y + P, *hi = lo + P;
        for (size_t i = 0; i < P; i++) {
            for (size_t s = 0; s < S; s++) v[s] = f(pt(c, r, m, s, i));
            double mean, half;
            mean_ci(v, S, &mean, &half);
            x[i] = pt(c, r, m, 0, i)->step;
            y[i] = mean;
            lo[i] = mean - half;
            hi[i] = mean + half;
        }
        int color;
        const char *dash;
        style(c, m, &color, &dash);
        series[m] = (svg_series){c->methods[m].name, x, y, lo, hi, P, color, dash};
    }
    /* the Monte-Carlo return of the data (seed average): what Q of the behaviour policy
     * should approach; Q-learning may legitimately exceed it, not the 1/(1-γ) bound */
    double *mcx = malloc(sizeof(double) * P * 2), *mcy = mcx + P;
    size_t ns = c->n_methods;
    if (with_mc) {
        for (size_t i = 0; i < P; i++) {
            double acc = 0;
            for (size_t s = 0; s < S; s++) acc += pt(c, r, 0, s, i)->mc;
            mcx[i] = pt(c, r, 0, 0, i)->step;
            mcy[i] = acc / (double)S;
        }
        /* grey, dotted: a reference, not a method */
        series[ns++] = (svg_series){"MC return of data", mcx, mcy, NULL, NULL, P, 7, "1 3"};
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = svg_plot(path, title, "gradient steps", ylabel, series, ns, log_y, y_zero);
    free(mcx);
    free(buf);
    free(v);
    return rc;
}

int exp_report(const exp_config *c, const exp_results *r, const char *dir, FILE *out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fprintf(f, "method,backup,c0,seed,step,feature_dot,feature_cos,feature_norm,dead_fraction,"
               "mean_q,mc_return,srank,greedy_return,td_loss\n");
    for (size_t m = 0; m < c->n_methods; m++)
        for (size_t s = 0; s < c->seeds; s++)
            for (size_t i = 0; i < r->n_points; i++) {
                const exp_point *p = pt(c, r, m, s, i);
                fprintf(f, "%s,%s,%g,%zu,%.0f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                        c->methods[m].name, dr3_backup_kind_name(c->methods[m].backup),
                        (double)c->methods[m].c0, s, p->step, p->dot, p->cos, p->norm, p->dead,
                        p->q, p->mc, p->srank, p->ret, p->td);
            }
    if (fclose(f) != 0) return -1;
    int rc = 0;
    rc |= plot(c, r, dir, "feature_dot.svg", "feature co-adaptation: mean phi(s).phi(s')",
               "phi(s).phi(s') (log scale)", f_dot, 1, 0, 0);
    rc |= plot(c, r, dir, "feature_cos.svg", "mean cos(phi(s), phi(s'))", "cosine", f_cos, 0, 0,
               0);
    rc |= plot(c, r, dir, "q_values.svg", "mean Q(s,a) on the data", "Q", f_q, 0, 1, 0);
    rc |= plot(c, r, dir, "return.svg", "greedy policy return", "return", f_ret, 0, 0, 1);
    rc |=
        plot(c, r, dir, "srank.svg", "srank of phi (delta = 0.01)", "srank", f_srank, 0, 0, 1);
    if (rc != 0) return -1;

    /* the summary table: growth of φ·φ' from 25% of training to the end, final values,
     * return averaged over training (as the paper reports) and at the end. Cells are
     * formatted first, then every column is padded to its widest cell. */
    size_t P = r->n_points, S = c->seeds, early = (P - 1) / 4;
    double *v = malloc(sizeof(double) * S);
    enum { COLS = 8, CELL = 40 };
    static const char *const head[COLS] = {"method",     "phi.phi' growth", "final phi.phi'",
                                           "final cos",  "srank",           "final Q",
                                           "return avg", "return final"};
    char(*cell)[COLS][CELL] = calloc(c->n_methods + 1, sizeof *cell);
    if (v == NULL || cell == NULL) {
        free(v);
        free(cell);
        return -1;
    }
    for (int j = 0; j < COLS; j++) snprintf(cell[0][j], CELL, "%s", head[j]);
    for (size_t m = 0; m < c->n_methods; m++) {
        double g, gh, dot, doth, cs, csh, sr, srh, q, qh, ra, rah, rf, rfh;
        for (size_t s = 0; s < S; s++) {
            double e = pt(c, r, m, s, early)->dot, l = pt(c, r, m, s, P - 1)->dot;
            v[s] = e > 0 ? l / e : 0;
        }
        mean_ci(v, S, &g, &gh);
        for (size_t s = 0; s < S; s++) v[s] = pt(c, r, m, s, P - 1)->dot;
        mean_ci(v, S, &dot, &doth);
        for (size_t s = 0; s < S; s++) v[s] = pt(c, r, m, s, P - 1)->cos;
        mean_ci(v, S, &cs, &csh);
        for (size_t s = 0; s < S; s++) v[s] = pt(c, r, m, s, P - 1)->srank;
        mean_ci(v, S, &sr, &srh);
        for (size_t s = 0; s < S; s++) v[s] = pt(c, r, m, s, P - 1)->q;
        mean_ci(v, S, &q, &qh);
        for (size_t s = 0; s < S; s++) {
            double acc = 0;
            for (size_t i = 1; i < P; i++) acc += pt(c, r, m, s, i)->ret;
            v[s] = P > 1 ? acc / (double)(P - 1) : 0;
        }
        mean_ci(v, S, &ra, &rah);
        for (size_t s = 0; s < S; s++) v[s] = pt(c, r, m, s, P - 1)->ret;
        mean_ci(v, S, &rf, &rfh);
        char(*row)[CELL] = cell[m + 1];
        snprintf(row[0], CELL, "%s", c->methods[m].name);
        snprintf(row[1], CELL, "%.2fx +-%.2f", g, gh);
        pm(row[2], CELL, dot, doth);
        snprintf(row[3], CELL, "%.2f +-%.2f", cs, csh);
        snprintf(row[4], CELL, "%.0f", sr);
        pm(row[5], CELL, q, qh);
        snprintf(row[6], CELL, "%.0f +-%.0f", ra, rah);
        snprintf(row[7], CELL, "%.0f +-%.0f", rf, rfh);
    }
    int width[COLS] = {0};
    for (size_t i = 0; i <= c->n_methods; i++)
        for (int j = 0; j < COLS; j++) {
            int w = (int)strlen(cell[i][j]);
            if (w > width[j]) width[j] = w;
        }
    char took[32] = "";
    if (r->seconds >= 0) snprintf(took, sizeof took, "; %.0f s", r->seconds);
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    FILE *sf = fopen(path, "w");
    FILE *dst[2] = {out, sf};
    for (int k = 0; k < 2; k++) {
        if (dst[k] == NULL) continue;
        fprintf(dst[k],
                "%s, epsilon %.2f behaviour policy, %zu transitions, %zu seeds, %zu steps; "
                "MC return of the data %.1f\n",
                c->env, c->epsilon, c->transitions, S, c->steps, pt(c, r, 0, 0, 0)->mc);
        for (size_t i = 0; i <= c->n_methods; i++) {
            /* the method left-aligned, numbers right-aligned, two spaces between columns */
            fprintf(dst[k], "%-*s", width[0], cell[i][0]);
            for (int j = 1; j < COLS; j++) fprintf(dst[k], "  %*s", width[j], cell[i][j]);
            fputc('\n', dst[k]);
        }
        fprintf(
            dst[k],
            "\n"
            "mean +- 95%% interval over %zu seeds, at the end of training (%zu steps) unless "
            "noted%s.\n"
            "  phi.phi'      mean dot product phi(s).phi(s') of the online network's "
            "last-hidden-layer\n"
            "                features of consecutive states on a fixed evaluation set "
            "(what DR3 penalises)\n"
            "  growth        phi.phi' at the end / phi.phi' at %.0f%% of training\n"
            "  cos           mean cosine similarity of phi(s) and phi(s')\n"
            "  srank         effective rank of the feature matrix (delta = 0.01; at most "
            "the width, %zu):\n"
            "                lower means collapsed features\n"
            "  final Q       mean Q(s,a) on the set; compare with the data's MC return\n"
            "  return        greedy policy's episode return, averaged over training / at "
            "the end\n",
            S, c->steps, took, 100.0 * (double)early / (double)(P - 1), c->width);
    }
    free(cell);
    if (sf) fclose(sf);
    free(v);
    return 0;
}
