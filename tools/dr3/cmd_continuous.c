#define DR3_EXPERIMENTAL 1 /* the actor-critic learner and the D4RL writers (issue #13) */
/* dr3 collect / train / eval for continuous actions: online SAC writing D4RL-layout datasets
 * (medium, replay, expert), offline SAC / CQL / TD3+BC / SARSA with DR3 on any continuous
 * dataset, and evaluation of actor-critic checkpoints. docs/experiment-continuous.md. */
#include "cli.h"
#include "continuous.h"
#include "dataset.h"

#include <dr3/ac.h>
#include <dr3/sys/continuous.h>

#ifdef DR3_TOOL_MPI /* dr3 train --algo ... --mpi: data-parallel over mpirun's ranks */
#include <dr3/mpi.h>
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAX_DIM = 64 };

static int is_continuous_env(const char *name) {
    for (size_t i = 0; name != NULL && dr3cenv_names[i] != NULL; i++)
        if (strcmp(name, dr3cenv_names[i]) == 0) return 1;
    return 0;
}

int cli_has_option(int argc, char **argv, const char *name) {
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, name) == 0) return 1;
    return 0;
}

int cli_continuous_env(int argc, char **argv) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], "--env") == 0) return is_continuous_env(argv[i + 1]);
    return 0;
}

static const char *env_list(void) { return "pendulum | mountaincar-continuous | pointmaze"; }

/* ---- acting ----------------------------------------------------------------------------- */

typedef struct actor {
    dr3_ac_learner *l;
    size_t obs_dim, action_dim;
    int deterministic;
    const float *low, *high; /* uniform actor when l is NULL */
    dr3_rng *rng;
    /* the waypoint controller when ctl is not NULL: each step a uniform action with
     * probability p_random, otherwise the controller's action plus N(0, noise²) per
     * dimension, clipped to the box */
    const dr3cenv *ctl;
    double noise, p_random;
} actor;

static int act(void *payload, const float *obs, float *action) {
    actor *a = payload;
    if (a->ctl != NULL && (a->p_random <= 0 || dr3_rng_uniform(a->rng) >= a->p_random)) {
        if (dr3cenv_controller(a->ctl, obs, action) != DR3_OK) return 1;
        for (size_t j = 0; j < a->action_dim; j++) {
            double x = action[j] + (a->noise > 0 ? a->noise * dr3_rng_normal(a->rng) : 0.0);
            action[j] = (float)(x < a->low[j] ? a->low[j] : x > a->high[j] ? a->high[j] : x);
        }
        return 0;
    }
    if (a->l == NULL) {
        for (size_t j = 0; j < a->action_dim; j++)
            action[j] = a->low[j] + (a->high[j] - a->low[j]) * (float)dr3_rng_uniform(a->rng);
        return 0;
    }
    return dr3_ac_learner_act(a->l, 1, obs, a->obs_dim, a->deterministic, action,
                              a->action_dim) != DR3_OK;
}

/* ---- collect ---------------------------------------------------------------------------- */

typedef struct snapshot {
    uint64_t step;
    double ret;
    char path[4200];
} snapshot;

/* Runs `transitions` steps of an actor in env into a new replay buffer (episodes cut by the
 * end of the data are truncated with their final observation). */
static dr3_status rollouts_into(dr3cenv *env, actor *a, size_t transitions, dr3_replay *r,
                                double *mean_return, size_t *episodes) {
    const size_t S = dr3cenv_obs_dim(env);
    dr3_status st = DR3_OK;
    float obs[MAX_DIM], next[MAX_DIM], action[MAX_DIM], reward;
    int term = 0, trunc = 0;
    double ret = 0, sum = 0;
    size_t eps = 0;
    if (st == DR3_OK) st = dr3cenv_reset(env, obs);
    for (size_t t = 0; t < transitions && st == DR3_OK; t++) {
        if (act(a, obs, action) != 0) {
            st = DR3_ERR_CALLBACK;
            break;
        }
        st = dr3cenv_step(env, action, next, &reward, &term, &trunc);
        if (st != DR3_OK) break;
        int last = t + 1 == transitions;
        if (last && !term) trunc = 1;
        int end = term || trunc;
        st = dr3_replay_add(r, obs, action, reward, term, trunc, end ? next : NULL);
        ret += reward;
        if (end) {
            if (!last || term || dr3cenv_elapsed(env) >= dr3cenv_max_steps(env)) {
                sum += ret; /* a complete episode */
                eps++;
            }
            ret = 0;
            if (!last && st == DR3_OK) st = dr3cenv_reset(env, obs);
        } else {
            memcpy(obs, next, S * sizeof(float));
        }
    }
    if (st != DR3_OK) return st;
    *mean_return = eps > 0 ? sum / (double)eps : ret;
    *episodes = eps;
    return DR3_OK;
}

static dr3_status new_replay(dr3cenv *env, size_t transitions, dr3_replay **out) {
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = transitions * 2 + 16;
    ro.obs_dim = dr3cenv_obs_dim(env);
    ro.action_kind = DR3_ACTION_CONTINUOUS;
    ro.action_dim = dr3cenv_action_dim(env);
    return dr3_replay_create(out, &ro);
}

static dr3_status rollouts(dr3cenv *env, actor *a, size_t transitions, dr3_replay **out,
                           double *mean_return, size_t *episodes) {
    dr3_replay *r = NULL;
    dr3_status st = new_replay(env, transitions, &r);
    if (st == DR3_OK) st = rollouts_into(env, a, transitions, r, mean_return, episodes);
    if (st != DR3_OK) {
        dr3_replay_free(r);
        return st;
    }
    *out = r;
    return DR3_OK;
}

static dr3_status write_dataset(const dr3_replay *r, const char *path, int npy) {
    return npy ? dr3_replay_save_d4rl_npy(r, path) : dr3_replay_save_d4rl(r, path);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* dr3 collect --agent controller: datasets from the environment's waypoint controller
 * (dr3cenv_controller) with Gaussian action noise, as D4RL's maze2d datasets were made (its
 * generate_maze2d_datasets.py --noisy adds N(0, 0.5²) to the controller's action and clips).
 * Levels: expert = controller + N(0, noise²); medium = the same, but each step is a uniform
 * random action with probability p_random; replay = three equal consecutive parts, uniform
 * random actions, the medium actor and the expert actor (a stand-in for a learning run's
 * replay). Every level comes from its own stream of episodes of one rollout environment. */
static int collect_controller(const char *env_name, uint64_t seed, size_t transitions,
                              double noise, double p_random, size_t eval_episodes,
                              const int *want, char (*paths)[4200], int npy) {
    dr3cenv *env = NULL, *eval_env = NULL;
    if (dr3cenv_create(&env, env_name, seed + 2000003) != DR3_OK ||
        dr3cenv_create(&eval_env, env_name, seed + 1000003) != DR3_OK) {
        fprintf(stderr, "dr3 collect: unknown environment '%s' (%s)\n", env_name, env_list());
        dr3cenv_free(env);
        return CLI_USAGE;
    }
    const size_t S = dr3cenv_obs_dim(env), A = dr3cenv_action_dim(env);
    const float *low = dr3cenv_action_low(env), *high = dr3cenv_action_high(env);
    dr3_rng rng;
    dr3_rng_seed(&rng, seed ^ 0xc0a7c011ec7ULL);
    actor uniform = {NULL, S, A, 0, low, high, &rng, NULL, 0, 0};
    actor clean = {NULL, S, A, 0, low, high, &rng, env, 0, 0};
    actor expert = {NULL, S, A, 0, low, high, &rng, env, noise, 0};
    actor medium = {NULL, S, A, 0, low, high, &rng, env, noise, p_random};
    int rc = CLI_OK;
    double r_rand = 0, r_ctl = 0, r_exp = 0, r_med = 0;
    dr3_status st = dr3cenv_evaluate(eval_env, eval_episodes, act, &uniform, &r_rand);
    if (st == DR3_OK) st = dr3cenv_evaluate(eval_env, eval_episodes, act, &clean, &r_ctl);
    if (st == DR3_OK) st = dr3cenv_evaluate(eval_env, eval_episodes, act, &expert, &r_exp);
    if (st == DR3_OK) st = dr3cenv_evaluate(eval_env, eval_episodes, act, &medium, &r_med);
    if (st != DR3_OK) {
        rc = cli_fail("collect", "evaluating the controller", st);
    } else {
        printf("%s: uniform random actions: mean return %.2f over %zu episodes\n", env_name,
               r_rand, eval_episodes);
        printf("%s: controller without noise: mean return %.2f over %zu episodes\n", env_name,
               r_ctl, eval_episodes);
        printf("%s: expert actor (controller + N(0, %.3g^2)): mean return %.2f\n", env_name,
               noise, r_exp);
        printf("%s: medium actor (uniform with probability %.3g, else the expert actor): mean "
               "return %.2f\n",
               env_name, p_random, r_med);
    }
    static const char *const names[3] = {"medium", "replay", "expert"};
    for (int k = 0; k < 3 && rc == CLI_OK; k++) {
        if (!want[k]) continue;
        dr3_replay *r = NULL;
        double ret[3] = {0, 0, 0};
        size_t eps[3] = {0, 0, 0};
        st = new_replay(env, transitions, &r);
        if (st == DR3_OK && k == 0) st = rollouts_into(env, &medium, transitions, r, ret, eps);
        if (st == DR3_OK && k == 2) st = rollouts_into(env, &expert, transitions, r, ret, eps);
        if (st == DR3_OK && k == 1) {
            size_t part[3] = {transitions / 3, transitions / 3, 0};
            part[2] = transitions - part[0] - part[1];
            actor *who[3] = {&uniform, &medium, &expert};
            for (int p = 0; p < 3 && st == DR3_OK; p++)
                st = rollouts_into(env, who[p], part[p], r, &ret[p], &eps[p]);
        }
        if (st == DR3_OK) st = write_dataset(r, paths[k], npy);
        if (st != DR3_OK)
            rc = cli_fail("collect", "writing a controller dataset", st);
        else if (k == 1)
            printf("wrote replay: %zu transitions (thirds: uniform random %.2f, medium %.2f, "
                   "expert %.2f mean return over %zu/%zu/%zu episodes) to %s\n",
                   transitions, ret[0], ret[1], ret[2], eps[0], eps[1], eps[2], paths[k]);
        else
            printf("wrote %s: %zu transitions (mean return %.2f over %zu episodes) to %s\n",
                   names[k], transitions, ret[0], eps[0], paths[k]);
        dr3_replay_free(r);
    }
    dr3cenv_free(env);
    dr3cenv_free(eval_env);
    return rc;
}

int cmd_collect_continuous(int argc, char **argv) {
    const char *env_name = NULL, *out = NULL, *algo = "sac", *levels = "replay", *format = NULL,
               *agent_out = NULL, *agent = "sac";
    double noise = 0.5, p_random = 0.85;
    uint64_t steps = 0, transitions = 0, seed = 0, width = 256, batch = 256, eval_every = 0;
    uint64_t eval_episodes = 5, start_steps = 0, threads = 1;
    const cli_opt opts[] = {
        {"env", 's', &env_name, "pendulum | mountaincar-continuous | pointmaze (required)"},
        {"algo", 's', &algo, "the online agent: sac (default sac)"},
        {"agent", 's', &agent,
         "sac (an online SAC run) | controller (the waypoint controller with Gaussian "
         "noise; pointmaze) (default sac)"},
        {"noise", 'f', &noise, "controller: action noise standard deviation (0.5, as D4RL)"},
        {"random-prob", 'f', &p_random,
         "controller: probability of a uniform action per step in medium (0.85)"},
        {"steps", 'u', &steps, "environment steps of the online SAC run (required)"},
        {"level", 's', &levels,
         "medium | replay | expert, or a comma list (then --out is a directory holding "
         "<level>.hdf5 or <level>/) (default replay)"},
        {"out", 's', &out, "output: FILE.hdf5 (D4RL HDF5) or DIR (.npy files) (required)"},
        {"format", 's', &format, "hdf5 | npy (default: hdf5 when --out ends in .hdf5 or .h5)"},
        {"transitions", 'u', &transitions,
         "rows of the medium and expert datasets (default --steps)"},
        {"start-steps", 'u', &start_steps,
         "uniform random actions before SAC acts (default min(5000, steps/10), >= batch)"},
        {"eval-every", 'u', &eval_every,
         "evaluate and snapshot the policy every N steps (default steps/20)"},
        {"eval-episodes", 'u', &eval_episodes, "episodes per evaluation (default 5)"},
        {"width", 'u', &width, "hidden width of the critics and the actor (256)"},
        {"batch", 'u', &batch, "SAC batch size (256)"},
        {"save-agent", 's', &agent_out, "also save the final SAC learner to this checkpoint"},
        {"threads", 'u', &threads, "BLIS threads (1)"},
        {"seed", 'u', &seed, "random seed (0)"},
    };
    const char *syn = "--env E (--algo sac --steps N | --agent controller --transitions N) "
                      "--level medium|replay|expert --out FILE.hdf5|DIR [options]";
    int rc = cli_parse("collect", syn, argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    const int controller = strcmp(agent, "controller") == 0;
    if (!controller && strcmp(agent, "sac") != 0) {
        fprintf(stderr, "dr3 collect: --agent must be sac or controller\n");
        return CLI_USAGE;
    }
    if (env_name == NULL || out == NULL || (steps == 0 && !controller) ||
        (controller && steps == 0 && transitions == 0)) {
        fprintf(stderr, "dr3 collect: --env, --out and --steps (with --agent controller: "
                        "--transitions) are required\n");
        return CLI_USAGE;
    }
    if (controller && !(noise >= 0 && noise <= 100 && p_random >= 0 && p_random <= 1)) {
        fprintf(stderr, "dr3 collect: --noise must be in [0, 100] and --random-prob in "
                        "[0, 1]\n");
        return CLI_USAGE;
    }
    if (strlen(out) > 4000) {
        fprintf(stderr, "dr3 collect: --out is too long\n");
        return CLI_USAGE;
    }
    if (strcmp(algo, "sac") != 0) {
        fprintf(stderr, "dr3 collect: --algo must be sac for continuous environments\n");
        return CLI_USAGE;
    }
    int want[3] = {0, 0, 0}, nlevels = 0; /* medium, replay, expert */
    static const char *const level_names[3] = {"medium", "replay", "expert"};
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", levels);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            int k = -1;
            for (int i = 0; i < 3; i++)
                if (strcmp(tok, level_names[i]) == 0) k = i;
            if (k < 0) {
                fprintf(stderr, "dr3 collect: --level must be medium, replay or expert\n");
                return CLI_USAGE;
            }
            if (!want[k]) nlevels++;
            want[k] = 1;
        }
        if (nlevels == 0) {
            fprintf(stderr, "dr3 collect: --level must be medium, replay or expert\n");
            return CLI_USAGE;
        }
    }
    if (format == NULL)
        format = nlevels == 1 && (ends_with(out, ".hdf5") || ends_with(out, ".h5")) ? "hdf5"
                 : nlevels > 1                                                      ? "hdf5"
                                                                                    : "npy";
    if (strcmp(format, "hdf5") != 0 && strcmp(format, "npy") != 0) {
        fprintf(stderr, "dr3 collect: --format must be hdf5 or npy\n");
        return CLI_USAGE;
    }
    const int npy = strcmp(format, "npy") == 0;
    if (transitions == 0) transitions = steps;
    if (controller) {
        char cpaths[3][4200];
        for (int k = 0; k < 3; k++) {
            if (nlevels == 1)
                snprintf(cpaths[k], sizeof cpaths[k], "%s", out);
            else
                snprintf(cpaths[k], sizeof cpaths[k], "%s/%s%s", out, level_names[k],
                         npy ? "" : ".hdf5");
        }
        if (nlevels > 1 && mkdir(out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "dr3 collect: cannot create '%s': %s\n", out, strerror(errno));
            return CLI_FAIL;
        }
        if (eval_episodes == 0 || transitions < 3) {
            fprintf(stderr, "dr3 collect: --transitions must be >= 3, --eval-episodes >= 1\n");
            return CLI_USAGE;
        }
        return collect_controller(env_name, seed, (size_t)transitions, noise, p_random,
                                  (size_t)eval_episodes, want, cpaths, npy);
    }
    if (eval_every == 0) eval_every = steps / 20 ? steps / 20 : 1;
    if (start_steps == 0) start_steps = steps / 10 < 5000 ? steps / 10 : 5000;
    if (start_steps < batch) start_steps = batch;
    if (width == 0 || batch == 0 || threads == 0 || eval_episodes == 0 ||
        start_steps >= steps) {
        fprintf(stderr, "dr3 collect: an option is out of range (--steps must exceed the "
                        "random start, at least --batch steps)\n");
        return CLI_USAGE;
    }
    dr3cenv *env = NULL, *eval_env = NULL, *roll_env = NULL;
    if (dr3cenv_create(&env, env_name, seed) != DR3_OK ||
        dr3cenv_create(&eval_env, env_name, seed + 1000003) != DR3_OK ||
        dr3cenv_create(&roll_env, env_name, seed + 2000003) != DR3_OK) {
        fprintf(stderr, "dr3 collect: unknown environment '%s' (%s)\n", env_name, env_list());
        dr3cenv_free(env);
        dr3cenv_free(eval_env);
        return CLI_USAGE;
    }
    const size_t S = dr3cenv_obs_dim(env), A = dr3cenv_action_dim(env);
    const float *low = dr3cenv_action_low(env), *high = dr3cenv_action_high(env);
    /* output paths: checked (and directories created) first, so that a long run does not
     * end in "cannot create" */
    char paths[3][4200];
    for (int k = 0; k < 3; k++) {
        if (nlevels == 1)
            snprintf(paths[k], sizeof paths[k], "%s", out);
        else
            snprintf(paths[k], sizeof paths[k], "%s/%s%s", out, level_names[k],
                     npy ? "" : ".hdf5");
    }
    if (nlevels > 1 && mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "dr3 collect: cannot create '%s': %s\n", out, strerror(errno));
        rc = CLI_FAIL;
    }
    char snapdir[4000] = "";
    if (rc == CLI_OK) {
        const char *tmp = getenv("TMPDIR");
        snprintf(snapdir, sizeof snapdir, "%s/dr3-collect-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(snapdir) == NULL) {
            fprintf(stderr, "dr3 collect: cannot create a directory in %s: %s\n",
                    tmp ? tmp : "/tmp", strerror(errno));
            snapdir[0] = '\0';
            rc = CLI_FAIL;
        }
    }
    const size_t n_snap_max = (size_t)(steps / eval_every) + 2;
    snapshot *snaps = calloc(n_snap_max, sizeof *snaps);
    size_t n_snaps = 0;
    if (snaps == NULL) rc = CLI_FAIL;

    size_t hidden[2] = {(size_t)width, (size_t)width};
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = DR3_AC_SAC;
    o.obs_dim = S;
    o.action_dim = A;
    o.action_low = low;
    o.action_high = high;
    o.critic_num_hidden = o.actor_num_hidden = 2;
    o.critic_hidden = o.actor_hidden = hidden;
    o.batch_size = (size_t)batch;
    o.threads = (int)threads;
    o.seed = seed;
    dr3_ac_learner *l = NULL;
    dr3_replay *log = NULL;
    dr3_status st = DR3_OK;
    if (rc == CLI_OK) st = dr3_ac_learner_create(&l, &o);
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = (size_t)steps * 2 + 16;
    ro.obs_dim = S;
    ro.action_kind = DR3_ACTION_CONTINUOUS;
    ro.action_dim = A;
    if (rc == CLI_OK && st == DR3_OK) st = dr3_replay_create(&log, &ro);

    dr3_rng rng;
    dr3_rng_seed(&rng, seed ^ 0x5ac0c011ec7ULL);
    actor uniform = {NULL, S, A, 0, low, high, &rng, NULL, 0, 0};
    actor policy = {l, S, A, 1, low, high, &rng, NULL, 0, 0};
    double random_return = 0;
    if (rc == CLI_OK && st == DR3_OK)
        st = dr3cenv_evaluate(eval_env, (size_t)eval_episodes, act, &uniform, &random_return);
    if (rc == CLI_OK && st == DR3_OK)
        printf("%s: uniform random actions: mean return %.2f over %llu episodes\n", env_name,
               random_return, (unsigned long long)eval_episodes);

    float obs[MAX_DIM], next[MAX_DIM], action[MAX_DIM], reward;
    int term = 0, trunc = 0;
    double ep_return = 0, recent = 0, t0 = cli_now();
    size_t recent_n = 0;
    if (rc == CLI_OK && st == DR3_OK) st = dr3cenv_reset(env, obs);
    dr3_ac_metrics m = DR3_AC_METRICS_INIT;
    for (uint64_t t = 0; rc == CLI_OK && st == DR3_OK && t < steps; t++) {
        if (t < start_steps)
            act(&uniform, obs, action);
        else
            st = dr3_ac_learner_act(l, 1, obs, S, 0, action, A);
        if (st == DR3_OK) st = dr3cenv_step(env, action, next, &reward, &term, &trunc);
        if (st != DR3_OK) break;
        int last = t + 1 == steps;
        if (last && !term) trunc = 1; /* the data ends: cut the episode */
        int end = term || trunc;
        st = dr3_replay_add(log, obs, action, reward, term, trunc, end ? next : NULL);
        ep_return += reward;
        if (st == DR3_OK && t + 1 >= start_steps) st = dr3_ac_learner_step(l, log, &m);
        if (end) {
            recent += ep_return;
            recent_n++;
            ep_return = 0;
            if (!last && st == DR3_OK) st = dr3cenv_reset(env, obs);
        } else {
            memcpy(obs, next, S * sizeof(float));
        }
        if (st == DR3_OK && t + 1 > start_steps && ((t + 1) % eval_every == 0 || last)) {
            snapshot *sn = &snaps[n_snaps];
            sn->step = t + 1;
            st = dr3cenv_evaluate(eval_env, (size_t)eval_episodes, act, &policy, &sn->ret);
            if (snprintf(sn->path, sizeof sn->path, "%s/policy-%llu.ck", snapdir,
                         (unsigned long long)(t + 1)) >= (int)sizeof sn->path)
                st = DR3_ERR_INVALID_ARG;
            if (st == DR3_OK && (want[0] || want[2])) st = dr3_ac_learner_save(l, sn->path);
            if (st == DR3_OK && n_snaps + 1 < n_snap_max) n_snaps++;
            printf("step %llu/%llu  %.0f steps/s  training return %.2f (%zu episodes)  policy "
                   "return %.2f  alpha %.3f  Q %.3g\n",
                   (unsigned long long)(t + 1), (unsigned long long)steps,
                   (double)(t + 1) / (cli_now() - t0),
                   recent_n ? recent / (double)recent_n : 0.0, recent_n, sn->ret,
                   (double)m.alpha, (double)m.mean_q);
            fflush(stdout);
            recent = 0;
            recent_n = 0;
        }
    }
    if (st != DR3_OK && rc == CLI_OK) rc = cli_fail("collect", "the online SAC run", st);
    /* the expert: the best evaluated policy of the run (short runs are noisy: the last one
     * can be a dip) */
    size_t best_snap = 0;
    for (size_t i = 1; i < n_snaps; i++)
        if (snaps[i].ret > snaps[best_snap].ret) best_snap = i;
    double expert_return = n_snaps > 0 ? snaps[best_snap].ret : 0;
    if (rc == CLI_OK)
        printf("%s: expert policy (best evaluation, step %llu) return %.2f, final %.2f, "
               "uniform random %.2f\n",
               env_name, (unsigned long long)(n_snaps ? snaps[best_snap].step : 0),
               expert_return, n_snaps ? snaps[n_snaps - 1].ret : 0.0, random_return);
    if (rc == CLI_OK && agent_out != NULL && (st = dr3_ac_learner_save(l, agent_out)) != DR3_OK)
        rc = cli_fail("collect", "saving the agent", st);
    /* replay: the whole buffer of the run, as D4RL's full-replay datasets */
    if (rc == CLI_OK && want[1]) {
        if ((st = write_dataset(log, paths[1], npy)) != DR3_OK)
            rc = cli_fail("collect", "writing the replay dataset", st);
        else
            printf("wrote replay: %llu transitions (the whole SAC replay) to %s\n",
                   (unsigned long long)steps, paths[1]);
    }
    /* expert: rollouts of the best policy, sampled (D4RL samples its policies too) */
    if (rc == CLI_OK && want[2]) {
        dr3_replay *ex = NULL;
        dr3_ac_learner *xp = NULL;
        double ret;
        size_t eps;
        st =
            n_snaps > 0 ? dr3_ac_learner_open(&xp, snaps[best_snap].path, NULL) : DR3_ERR_STATE;
        actor sample = {xp, S, A, 0, low, high, &rng, NULL, 0, 0};
        if (st == DR3_OK)
            st = rollouts(roll_env, &sample, (size_t)transitions, &ex, &ret, &eps);
        if (st == DR3_OK) st = write_dataset(ex, paths[2], npy);
        if (st != DR3_OK)
            rc = cli_fail("collect", "writing the expert dataset", st);
        else
            printf("wrote expert: %llu transitions of the policy at step %llu (mean return "
                   "%.2f over %zu episodes) to %s\n",
                   (unsigned long long)transitions, (unsigned long long)snaps[best_snap].step,
                   ret, eps, paths[2]);
        dr3_replay_free(ex);
        dr3_ac_learner_free(xp);
    }
    /* medium: the snapshot whose normalised return (random 0, expert 1) is nearest 0.5 */
    if (rc == CLI_OK && want[0]) {
        size_t best = best_snap;
        double span = expert_return - random_return, best_d = INFINITY;
        for (size_t i = 0; i < n_snaps; i++) {
            if (i == best_snap && n_snaps > 1) continue;
            double score = span != 0 ? (snaps[i].ret - random_return) / span : 0;
            if (fabs(score - 0.5) < best_d) best_d = fabs(score - 0.5), best = i;
        }
        if (!(span > 0))
            fprintf(stderr, "dr3 collect: warning: the best policy is no better than random "
                            "actions; the medium level is not meaningful\n");
        dr3_ac_learner *mp = NULL;
        dr3_replay *md = NULL;
        double ret;
        size_t eps;
        st = n_snaps > 0 ? dr3_ac_learner_open(&mp, snaps[best].path, NULL) : DR3_ERR_STATE;
        actor sample = {mp, S, A, 0, low, high, &rng, NULL, 0, 0};
        if (st == DR3_OK)
            st = rollouts(roll_env, &sample, (size_t)transitions, &md, &ret, &eps);
        if (st == DR3_OK) st = write_dataset(md, paths[0], npy);
        if (st != DR3_OK)
            rc = cli_fail("collect", "writing the medium dataset", st);
        else
            printf("wrote medium: %llu transitions of the policy at step %llu (evaluation "
                   "return %.2f, normalised %.2f; rollouts' mean return %.2f over %zu "
                   "episodes) to %s\n",
                   (unsigned long long)transitions, (unsigned long long)snaps[best].step,
                   snaps[best].ret, span != 0 ? (snaps[best].ret - random_return) / span : 0.0,
                   ret, eps, paths[0]);
        dr3_replay_free(md);
        dr3_ac_learner_free(mp);
    }
    for (size_t i = 0; i < n_snaps; i++) unlink(snaps[i].path);
    if (snapdir[0] != '\0') rmdir(snapdir);
    free(snaps);
    dr3_replay_free(log);
    dr3_ac_learner_free(l);
    dr3cenv_free(env);
    dr3cenv_free(eval_env);
    dr3cenv_free(roll_env);
    return rc;
}

/* ---- train ------------------------------------------------------------------------------ */

typedef struct fixed_set {
    size_t n;
    float *obs, *act, *mc; /* n × S, n × A, n discounted returns of the data */
} fixed_set;

static void fixed_set_free(fixed_set *f) {
    free(f->obs);
    free(f->act);
    free(f->mc);
    memset(f, 0, sizeof *f);
}

/* Up to max rows spread evenly over the dataset, with the data's discounted return from each
 * row to the end of its episode (an n-step window as long as any episode here: the reader's
 * window stops at the episode's end and does not bootstrap after a terminal; an episode cut
 * by a timeout is counted up to the cut). */
static int fixed_set_make(const char *data, double gamma, size_t S, size_t A, size_t max,
                          fixed_set *f) {
    memset(f, 0, sizeof *f);
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.gamma = (float)gamma;
    o.n_step = 4096;
    dr3_replay *r = NULL;
    int rc = data_open("train", data, 0, &o, &r);
    if (rc != CLI_OK) return rc;
    size_t total = 0;
    dr3_replay_valid_indices(r, 0, NULL, 0, &total);
    size_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t n = total < max ? total : max;
    f->obs = malloc((n ? n : 1) * S * sizeof(float));
    f->act = malloc((n ? n : 1) * A * sizeof(float));
    f->mc = malloc((n ? n : 1) * sizeof(float));
    size_t *pick = malloc((n ? n : 1) * sizeof *pick);
    dr3_status st = DR3_ERR_NOMEM;
    if (all != NULL && f->obs != NULL && f->act != NULL && f->mc != NULL && pick != NULL) {
        st = dr3_replay_valid_indices(r, 0, all, total, &total);
        for (size_t i = 0; i < n; i++) pick[i] = all[i * total / n];
        dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
        b.obs = f->obs;
        b.ld_obs = S;
        b.actions_f = f->act;
        b.ld_actions_f = A;
        b.rewards = f->mc;
        if (st == DR3_OK && n > 0) st = dr3_replay_get(r, pick, n, &b);
    }
    free(all);
    free(pick);
    dr3_replay_free(r);
    if (st != DR3_OK) {
        fixed_set_free(f);
        return cli_fail("train", "reading the data's returns", st);
    }
    f->n = n;
    return CLI_OK;
}

/* Mean Q_1(s, a) of the learner and mean return of the data over the fixed set. */
static dr3_status q_vs_mc(dr3_ac_learner *l, const fixed_set *f, size_t S, size_t A, double *q,
                          double *mc) {
    *q = *mc = 0;
    float out[256];
    for (size_t i = 0; i < f->n; i += 256) {
        size_t k = f->n - i < 256 ? f->n - i : 256;
        dr3_status st =
            dr3_ac_learner_q_values(l, k, f->obs + i * S, S, f->act + i * A, A, out);
        if (st != DR3_OK) return st;
        for (size_t j = 0; j < k; j++) *q += out[j], *mc += f->mc[i + j];
    }
    if (f->n > 0) *q /= (double)f->n, *mc /= (double)f->n;
    return DR3_OK;
}

typedef struct progress {
    double t0;
    uint64_t start, total, log_every;
    int tty;
    FILE *csv;
} progress;

static void report(progress *p, const dr3_ac_metrics *m) {
    double el = cli_now() - p->t0, rate = el > 0 ? (double)(m->step - p->start) / el : 0;
    double eta = rate > 0 ? (double)(p->total - m->step) / rate : 0;
    if (p->csv)
        fprintf(p->csv,
                "%llu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                (unsigned long long)m->step, m->critic_loss, m->td_loss, m->actor_loss,
                m->alpha, m->entropy, m->mean_q, m->mean_target, m->feature_dot, m->feature_cos,
                m->feature_norm, m->dr3_loss, m->cql_term, m->cql_alpha, m->critic_grad_norm);
    if (p->tty) {
        int width = 30, fill = (int)(width * (double)m->step / (double)p->total);
        printf("\r[%.*s%*s] %llu/%llu  %.0f steps/s  ETA %02d:%02d  TD %.4g  phi.phi' %.4g  ",
               fill, "##############################", width - fill, "",
               (unsigned long long)m->step, (unsigned long long)p->total, rate, (int)(eta / 60),
               (int)eta % 60, (double)m->td_loss, (double)m->feature_dot);
        fflush(stdout);
    } else if (m->step % p->log_every == 0 || m->step == p->total) {
        printf("step %llu/%llu  %.0f steps/s  td_loss %.5g  mean_q %.4g  phi.phi' %.5g  cos "
               "%.3f\n",
               (unsigned long long)m->step, (unsigned long long)p->total, rate,
               (double)m->td_loss, (double)m->mean_q, (double)m->feature_dot,
               (double)m->feature_cos);
    }
}

/* Per-dimension bounds for a dataset without an environment: symmetric, covering every
 * action in it, at least [-1, 1] (D4RL's MuJoCo actions are in [-1, 1]). */
static dr3_status data_bounds(const dr3_replay *r, size_t A, float *low, float *high) {
    for (size_t j = 0; j < A; j++) high[j] = 1.0f;
    size_t total = 0;
    dr3_replay_valid_indices(r, 0, NULL, 0, &total);
    size_t *idx = malloc((total ? total : 1) * sizeof *idx);
    float *a = malloc(1024 * A * sizeof(float));
    dr3_status st = idx != NULL && a != NULL ? DR3_OK : DR3_ERR_NOMEM;
    if (st == DR3_OK) st = dr3_replay_valid_indices(r, 0, idx, total, &total);
    dr3_replay_batch b = DR3_REPLAY_BATCH_INIT;
    b.actions_f = a;
    b.ld_actions_f = A;
    for (size_t i = 0; i < total && st == DR3_OK; i += 1024) {
        size_t k = total - i < 1024 ? total - i : 1024;
        st = dr3_replay_get(r, idx + i, k, &b);
        for (size_t q = 0; q < k * A && st == DR3_OK; q++)
            if (fabsf(a[q]) > high[q % A]) high[q % A] = fabsf(a[q]);
    }
    for (size_t j = 0; j < A; j++) low[j] = -high[j];
    free(idx);
    free(a);
    return st;
}

int cmd_train_continuous(int argc, char **argv) {
    const char *data = NULL, *algo_name = "cql", *ckpt = NULL, *metrics = NULL,
               *env_name = NULL, *eval_csv = NULL;
    uint64_t steps = 10000, width = 256, depth = 2, batch = 256, seed = 0, threads = 1;
    uint64_t save_every = 0, n_step = 1, eval_every = 0, eval_episodes = 10, cql_actions = 10;
    double dr3c = 0, lr = 3e-4, actor_lr = -1, gamma = 0.99, tau = 0.005, cql_alpha = 5;
    double cql_gap = 0, bc_alpha = 2.5;
    bool mpi = false, shard = false;
    const cli_opt opts[] = {
        {"data", 's', &data,
         "dataset with continuous actions: D4RL .hdf5, .npy dir, Minari dir or .hdf5 "
         "(required)"},
        {"algo", 's', &algo_name, "cql | sac | td3bc | sarsa (default cql)"},
        {"dr3", 'f', &dr3c, "DR3 coefficient c0 on the critics' features (default 0: off)"},
        {"steps", 'u', &steps, "total gradient steps (default 10000)"},
        {"checkpoint", 's', &ckpt,
         "checkpoint file: resumed from if it exists, saved at the end"},
        {"save-every", 'u', &save_every, "also save the checkpoint every N steps"},
        {"metrics", 's', &metrics, "write per-step metrics to this CSV file"},
        {"env", 's', &env_name,
         "pendulum | mountaincar-continuous | pointmaze: its action bounds, and policy "
         "evaluations with --eval-every (default: bounds from the data)"},
        {"eval-every", 'u', &eval_every,
         "every N steps: policy return in --env, Q against the data's returns (default: at "
         "the end only)"},
        {"eval-episodes", 'u', &eval_episodes, "episodes per evaluation (10)"},
        {"eval-csv", 's', &eval_csv, "write the evaluations to this CSV file"},
        {"width", 'u', &width, "hidden width of the critics and the actor (256)"},
        {"depth", 'u', &depth, "hidden layers (2)"},
        {"batch", 'u', &batch, "batch size (256)"},
        {"lr", 'f', &lr, "Adam learning rate of the critics (3e-4)"},
        {"actor-lr", 'f', &actor_lr, "Adam learning rate of the actor (default --lr)"},
        {"gamma", 'f', &gamma, "discount (0.99)"},
        {"tau", 'f', &tau, "Polyak rate of the target critics (0.005)"},
        {"n-step", 'u', &n_step, "n-step returns (1)"},
        {"cql-alpha", 'f', &cql_alpha, "CQL: weight of the conservative term (5)"},
        {"cql-lagrange", 'f', &cql_gap,
         "CQL: tune the weight (Lagrange form) toward this gap (default 0: fixed weight)"},
        {"cql-actions", 'u', &cql_actions, "CQL: sampled actions of each kind (10)"},
        {"bc-alpha", 'f', &bc_alpha, "TD3+BC: alpha of lambda = alpha / mean|Q| (2.5)"},
        {"threads", 'u', &threads, "BLIS threads (1)"},
        {"seed", 'u', &seed, "random seed (0)"},
        {"mpi", 'b', &mpi,
         "data-parallel under mpirun (libdr3-mpi, experimental): each rank samples its own "
         "--batch rows, gradients are averaged; rank 0 prints, evaluates and writes the "
         "checkpoint and CSV files"},
        {"shard", 'b', &shard,
         "with --mpi: rank k of N samples only the k-th of N contiguous parts of the dataset "
         "(docs/mpi.md)"},
    };
    int rc = cli_parse("train", "--data PATH --algo cql|sac|td3bc|sarsa [--dr3 C0] [options]",
                       argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    int rank = 0;
#ifdef DR3_TOOL_MPI
    dr3_mpi *comm = NULL;
#endif
    if ((rc = cli_mpi_begin(mpi, shard, &rank)) != CLI_OK) return rc;
    if (rank != 0) { /* rank 0 alone writes files and evaluates */
        metrics = NULL;
        eval_csv = NULL;
    }
    dr3_ac_algo algo;
    if (data == NULL) {
        fprintf(stderr, "dr3 train: --data is required (see dr3 train --help)\n");
        return CLI_USAGE;
    }
    if (dr3_ac_algo_parse(&algo, algo_name) != DR3_OK) {
        fprintf(stderr, "dr3 train: --algo must be cql, sac, td3bc or sarsa\n");
        return CLI_USAGE;
    }
    if (actor_lr < 0) actor_lr = lr;
    if (!(dr3c >= 0) || steps == 0 || depth == 0 || depth > 16 || width == 0 || batch == 0 ||
        threads == 0 || !(gamma >= 0 && gamma <= 1) || !(tau > 0 && tau <= 1) || n_step == 0 ||
        !(lr > 0) || !(actor_lr > 0) || !(cql_alpha >= 0) || !(cql_gap >= 0) ||
        cql_actions == 0 || eval_episodes == 0 || !(bc_alpha > 0)) {
        fprintf(stderr, "dr3 train: an option is out of range (see dr3 train --help)\n");
        return CLI_USAGE;
    }
    dr3cenv *env = NULL;
    if (env_name != NULL && dr3cenv_create(&env, env_name, seed + 7) != DR3_OK) {
        fprintf(stderr, "dr3 train: unknown --env '%s' (%s)\n", env_name, env_list());
        return CLI_USAGE;
    }
    if (eval_every > 0 && env == NULL) {
        fprintf(stderr, "dr3 train: --eval-every needs --env\n");
        return CLI_USAGE;
    }
    dr3_replay *r = NULL;
    dr3_replay_options dopt = DR3_REPLAY_OPTIONS_INIT;
    dopt.gamma = (float)gamma;
    dopt.n_step = (size_t)n_step;
    if ((rc = data_open("train", data, 0, &dopt, &r)) != CLI_OK) {
        dr3cenv_free(env);
        return rc;
    }
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    dr3_replay_get_options(&ro, r);
    const size_t S = dr3_replay_state_dim(r), A = ro.action_dim;
    if (ro.action_kind != DR3_ACTION_CONTINUOUS) {
        fprintf(stderr,
                "dr3 train: '%s' has discrete actions; --algo is for continuous actions "
                "(leave it out to train the discrete learner, with --backup)\n",
                data);
        dr3_replay_free(r);
        dr3cenv_free(env);
        return CLI_FAIL;
    }
    if (A > MAX_DIM ||
        (env != NULL && (dr3cenv_obs_dim(env) != S || dr3cenv_action_dim(env) != A))) {
        fprintf(stderr, "dr3 train: the dataset has %zu observations and %zu actions%s%s%s\n",
                S, A, env ? ", " : " (too many)", env ? env_name : "",
                env ? " does not match" : "");
        dr3_replay_free(r);
        dr3cenv_free(env);
        return CLI_FAIL;
    }
    float low[MAX_DIM], high[MAX_DIM];
    dr3_status st = DR3_OK;
    if (env != NULL) {
        memcpy(low, dr3cenv_action_low(env), A * sizeof(float));
        memcpy(high, dr3cenv_action_high(env), A * sizeof(float));
    } else {
        st = data_bounds(r, A, low, high);
    }
    printf("dataset %s: %zu transitions, %zu observations, %zu actions in [%g, %g]%s; %s%s\n",
           data, dr3_replay_valid_count(r, 0), S, A, (double)low[0], (double)high[0],
           A > 1 ? " (first)" : "", dr3_ac_algo_name(algo), dr3c > 0 ? " + DR3" : "");
    fixed_set fs = {0, NULL, NULL, NULL};
    if (st == DR3_OK && (rc = fixed_set_make(data, gamma, S, A, 2000, &fs)) != CLI_OK) {
        dr3_replay_free(r);
        dr3cenv_free(env);
        return rc;
    }
    size_t hidden[16];
    for (size_t i = 0; i < depth; i++) hidden[i] = (size_t)width;
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    o.algo = algo;
    o.obs_dim = S;
    o.action_dim = A;
    o.action_low = low;
    o.action_high = high;
    o.critic_num_hidden = o.actor_num_hidden = (size_t)depth;
    o.critic_hidden = o.actor_hidden = hidden;
    o.batch_size = (size_t)batch;
    o.gamma = (float)gamma;
    o.tau = (float)tau;
    o.critic_lr = (float)lr;
    o.actor_lr = (float)actor_lr;
    o.cql_alpha = (float)cql_alpha;
    if (cql_gap > 0) {
        o.cql_alpha_mode = DR3_CQL_ALPHA_LAGRANGE;
        o.cql_target_gap = (float)cql_gap;
    }
    o.cql_num_actions = (size_t)cql_actions;
    o.bc_alpha = (float)bc_alpha;
    o.dr3_coef = (float)dr3c;
    o.threads = (int)threads;
    o.seed = seed;
    dr3_ac_learner *l = NULL;
    if (st == DR3_OK) st = dr3_ac_learner_create(&l, &o);
    if (st == DR3_OK && ckpt != NULL && access(ckpt, F_OK) == 0) {
        st = dr3_ac_learner_load(l, ckpt);
        if (st == DR3_OK)
            printf("resumed from %s at step %llu\n", ckpt,
                   (unsigned long long)dr3_ac_learner_step_count(l));
    }
#ifdef DR3_TOOL_MPI
    /* every rank loaded the same checkpoint (if any); rank 0's state wins, generators split */
    if (st == DR3_OK && mpi) st = dr3_mpi_create(&comm, MPI_COMM_WORLD);
    if (st == DR3_OK && mpi) st = dr3_ac_learner_set_collective(l, dr3_mpi_vtable(), comm);
    if (st == DR3_OK && shard)
        st = dr3_replay_set_shard(r, (size_t)dr3_mpi_rank(comm), (size_t)dr3_mpi_size(comm));
    if (st == DR3_OK && mpi)
        printf("data-parallel: %d ranks x %llu rows per step%s\n", dr3_mpi_size(comm),
               (unsigned long long)batch,
               shard ? ", each rank on its own shard of the data" : "");
#endif
    progress pg = {cli_now(),
                   l ? dr3_ac_learner_step_count(l) : 0,
                   steps,
                   steps / 20 ? steps / 20 : 1,
                   isatty(STDOUT_FILENO),
                   NULL};
    FILE *ecsv = NULL;
    if (st == DR3_OK && metrics != NULL) {
        pg.csv = fopen(metrics, "a");
        if (pg.csv == NULL) {
            fprintf(stderr, "dr3 train: cannot open '%s': %s\n", metrics, strerror(errno));
            rc = CLI_FAIL;
        } else if (ftell(pg.csv) == 0) {
            fprintf(pg.csv, "step,critic_loss,td_loss,actor_loss,alpha,entropy,mean_q,"
                            "mean_target,feature_dot,feature_cos,feature_norm,dr3_loss,"
                            "cql_term,cql_alpha,grad_norm\n");
        }
    }
    if (st == DR3_OK && rc == CLI_OK && eval_csv != NULL) {
        ecsv = fopen(eval_csv, "a");
        if (ecsv == NULL) {
            fprintf(stderr, "dr3 train: cannot open '%s': %s\n", eval_csv, strerror(errno));
            rc = CLI_FAIL;
        } else if (ftell(ecsv) == 0) {
            fprintf(ecsv, "step,return,mean_q,mc_return\n");
        }
    }
    actor pol = {l, S, A, 1, low, high, NULL, NULL, 0, 0};
    dr3_ac_metrics m = DR3_AC_METRICS_INIT;
    while (st == DR3_OK && rc == CLI_OK && dr3_ac_learner_step_count(l) < steps) {
        st = dr3_ac_learner_step(l, r, &m);
        if (st != DR3_OK) break;
        report(&pg, &m);
        uint64_t k = m.step;
        int last = k == steps;
        if (ckpt != NULL && rank == 0 && ((save_every > 0 && k % save_every == 0) || last)) {
            st = dr3_ac_learner_save(l, ckpt);
#ifdef DR3_TOOL_MPI
            if (mpi && st != DR3_OK) { /* the other ranks already wait in the next step */
                cli_fail("train", "saving the checkpoint", st);
                MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
            }
#endif
        }
        if (st == DR3_OK && rank == 0 && ((eval_every > 0 && k % eval_every == 0) || last)) {
            double ret = NAN, q = 0, mc = 0;
            if (env != NULL && algo != DR3_AC_SARSA)
                st = dr3cenv_evaluate(env, (size_t)eval_episodes, act, &pol, &ret);
            if (st == DR3_OK) st = q_vs_mc(l, &fs, S, A, &q, &mc);
            if (st == DR3_OK) {
                if (pg.tty) printf("\n");
                printf("eval at step %llu: ", (unsigned long long)k);
                if (!isnan(ret))
                    printf("policy return %.2f over %llu episodes, ", ret,
                           (unsigned long long)eval_episodes);
                printf("mean Q(s,a) %.3f vs the data's discounted return %.3f (%zu rows)\n", q,
                       mc, fs.n);
                if (ecsv != NULL)
                    fprintf(ecsv, "%llu,%.6g,%.6g,%.6g\n", (unsigned long long)k, ret, q, mc);
            }
        }
    }
    if (pg.tty) printf("\n");
    if (pg.csv) fclose(pg.csv);
    if (ecsv) fclose(ecsv);
    if (st != DR3_OK)
        rc = cli_fail("train", "training", st);
    else if (rc == CLI_OK)
        printf("done: %llu steps%s%s\n", (unsigned long long)dr3_ac_learner_step_count(l),
               ckpt ? ", checkpoint " : "", ckpt ? ckpt : "");
    fixed_set_free(&fs);
    dr3_ac_learner_free(l);
    dr3_replay_free(r);
    dr3cenv_free(env);
#ifdef DR3_TOOL_MPI
    if (mpi) {
        dr3_mpi_free(comm);
        MPI_Finalize();
    }
#endif
    return rc;
}

/* ---- eval ------------------------------------------------------------------------------- */

int cmd_eval_continuous(int argc, char **argv) {
    const char *ckpt = NULL, *env_name = NULL;
    uint64_t episodes = 10, seed = 0;
    bool sample = false;
    const cli_opt opts[] = {
        {"checkpoint", 's', &ckpt, "a checkpoint written by dr3 train --algo (required)"},
        {"env", 's', &env_name, "pendulum | mountaincar-continuous | pointmaze (required)"},
        {"episodes", 'u', &episodes, "episodes (default 10)"},
        {"seed", 'u', &seed, "environment seed (default 0)"},
        {"sample", 'b', &sample, "sample actions from the policy (default: its mode)"},
    };
    int rc = cli_parse("eval", "--checkpoint FILE --env E [--episodes K]", argc, argv, 2, opts,
                       sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    if (ckpt == NULL || env_name == NULL || episodes == 0) {
        fprintf(stderr, "dr3 eval: --checkpoint and --env are required, --episodes > 0\n");
        return CLI_USAGE;
    }
    dr3cenv *env = NULL;
    if (dr3cenv_create(&env, env_name, seed) != DR3_OK) {
        fprintf(stderr, "dr3 eval: unknown environment '%s'\n", env_name);
        return CLI_USAGE;
    }
    dr3_ac_learner *l = NULL;
    dr3_status st = dr3_ac_learner_open(&l, ckpt, NULL);
    if (st != DR3_OK) {
        dr3cenv_free(env);
        return cli_fail("eval", "reading the checkpoint", st);
    }
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    dr3_ac_learner_get_options(&o, l);
    if (o.obs_dim != dr3cenv_obs_dim(env) || o.action_dim != dr3cenv_action_dim(env) ||
        o.algo == DR3_AC_SARSA) {
        if (o.algo == DR3_AC_SARSA)
            fprintf(stderr, "dr3 eval: a SARSA checkpoint has critics only, no policy\n");
        else
            fprintf(stderr,
                    "dr3 eval: the checkpoint is for %zu observations and %zu actions, %s has "
                    "%zu and %zu\n",
                    o.obs_dim, o.action_dim, env_name, dr3cenv_obs_dim(env),
                    dr3cenv_action_dim(env));
        dr3_ac_learner_free(l);
        dr3cenv_free(env);
        return CLI_FAIL;
    }
    actor a = {l, o.obs_dim, o.action_dim, !sample, NULL, NULL, NULL, NULL, 0, 0};
    double mean = 0;
    st = dr3cenv_evaluate(env, (size_t)episodes, act, &a, &mean);
    if (st != DR3_OK)
        rc = cli_fail("eval", "evaluating", st);
    else
        printf("%s: mean return %.2f over %llu %s episodes (%s checkpoint at step %llu)\n",
               env_name, mean, (unsigned long long)episodes,
               sample ? "sampled" : "deterministic", dr3_ac_algo_name(o.algo),
               (unsigned long long)dr3_ac_learner_step_count(l));
    dr3_ac_learner_free(l);
    dr3cenv_free(env);
    return rc;
}
