/* dr3 demo: the DR3 experiment on built-in data, no arguments needed. */
#include "cli.h"
#include "envs.h"
#include "experiment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void add_method(exp_config *c, const char *name, dr3_backup_kind k, float c0) {
    if (c->n_methods >= EXP_MAX_METHODS) return;
    exp_method *m = &c->methods[c->n_methods++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->backup = k;
    m->c0 = c0;
}

int cmd_demo_minatar(int argc, char **argv); /* study.c: dr3 demo --suite minatar */

int cmd_demo(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--suite") == 0) return cmd_demo_minatar(argc, argv);
    bool quick = false, sweep = false, all = false;
    const char *out = "dr3-demo", *env = "cartpole", *from_csv = NULL;
    uint64_t seeds = 0, steps = 0, transitions = 20000, width = 0, depth = 0, workers = 2;
    uint64_t batch = 128, eval_every = 0;
    double epsilon = 0.5, lr = 3e-4, tau = 0.005, gamma = 0.99, c0 = 0.1;
    const cli_opt opts[] = {
        {"quick", 'b', &quick,
         "a small run (seconds: 2x128 network, 1000 steps, 2 seeds) to check that everything "
         "works"},
        {"all", 'b', &all,
         "seven methods: also expected TD, and expected and max with DR3 (default: sarsa, "
         "sampled, sampled+dr3, max)"},
        {"seeds", 'u', &seeds, "independent seeds (default 3; quick 2)"},
        {"steps", 'u', &steps, "gradient steps per run (default 40000; quick 1000)"},
        {"out", 's', &out, "output directory (default dr3-demo)"},
        {"env", 's', &env, "cartpole | mountaincar | gridworld (default cartpole)"},
        {"epsilon", 'f', &epsilon, "behaviour policy: controller mixed with uniform (0.5)"},
        {"transitions", 'u', &transitions, "dataset size (default 20000)"},
        {"width", 'u', &width, "hidden width (default 256; quick 128)"},
        {"depth", 'u', &depth, "hidden layers (default 3; quick 2)"},
        {"batch", 'u', &batch, "batch size (default 128)"},
        {"lr", 'f', &lr, "Adam learning rate (default 3e-4)"},
        {"tau", 'f', &tau, "Polyak rate of the target network (default 0.005)"},
        {"gamma", 'f', &gamma, "discount (default 0.99)"},
        {"c0", 'f', &c0, "DR3 coefficient (default 0.1)"},
        {"sweep", 'b', &sweep, "also run every DR3 method with c0 = 0.03 and 0.3"},
        {"eval-every", 'u', &eval_every, "steps between evaluations (default steps/25)"},
        {"workers", 'u', &workers, "runs in parallel (default 2)"},
        {"from-csv", 's', &from_csv,
         "redo the plots and summary of an earlier run's metrics.csv (no training; pass "
         "that run's --env/--epsilon/--transitions/--width)"},
    };
    int rc = cli_parse("demo", "[options]", argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    /* The default is the configuration where the SARSA-vs-TD(pi_beta) contrast shows
     * (docs/experiment.md): 3x256, 40k steps, 3 seeds, the four methods that carry it. */
    if (steps == 0) steps = quick ? 1000 : 40000;
    if (seeds == 0) seeds = quick ? 2 : 3;
    if (width == 0) width = quick ? 128 : 256;
    if (depth == 0) depth = quick ? 2 : 3;
    if (quick && transitions == 20000) transitions = 4000;
    if (eval_every == 0) eval_every = steps / 25 ? steps / 25 : 1;
    if (seeds < 1 || seeds > 64 || depth > 8 || width < 1 || batch < 8 || workers < 1 ||
        workers > 16 || transitions < 4 * batch || !(epsilon >= 0 && epsilon <= 1) ||
        !(lr > 0) || !(tau > 0 && tau <= 1) || !(gamma >= 0 && gamma < 1) || !(c0 > 0)) {
        fprintf(stderr, "dr3 demo: an option is out of range (see dr3 demo --help)\n");
        return CLI_USAGE;
    }
    exp_config c;
    memset(&c, 0, sizeof c);
    c.env = env;
    c.epsilon = epsilon;
    c.transitions = transitions;
    c.steps = steps;
    c.eval_every = eval_every;
    c.eval_size = 2048;
    c.eval_episodes = quick ? 1 : 5;
    c.seeds = seeds;
    c.width = width;
    c.depth = depth;
    c.batch = batch;
    c.lr = (float)lr;
    c.tau = (float)tau;
    c.gamma = (float)gamma;
    c.workers = (int)workers;
    char name[32];
    /* without DR3: SARSA (a' from the data), TD with a' from the behaviour policy (a sample;
     * with --all also its expectation), Q-learning */
    add_method(&c, "sarsa", DR3_BACKUP_SARSA, 0);
    if (all) add_method(&c, "expected", DR3_BACKUP_EXPECTED, 0);
    add_method(&c, "sampled", DR3_BACKUP_SAMPLED, 0);
    add_method(&c, "max", DR3_BACKUP_MAX, 0);
    /* with DR3: the sampled TD backup (with --all also expected and max), at c0 and with
     * --sweep also at 0.03 and 0.3 */
    const float sweep_c0[3] = {0.03f, (float)c0, 0.3f};
    for (int k = sweep ? 0 : 1; k < (sweep ? 3 : 2); k++) {
        const char *base[3] = {"expected", "sampled", "max"};
        const dr3_backup_kind kinds[3] = {DR3_BACKUP_EXPECTED, DR3_BACKUP_SAMPLED,
                                          DR3_BACKUP_MAX};
        for (int b = 0; b < 3; b++) {
            if (!all && kinds[b] != DR3_BACKUP_SAMPLED) continue;
            snprintf(name, sizeof name, "%s+dr3(%g)", base[b], (double)sweep_c0[k]);
            add_method(&c, name, kinds[b], sweep_c0[k]);
        }
    }
    if (from_csv != NULL) {
        exp_results res;
        if (exp_read_csv(from_csv, &c, &res) != 0) return CLI_FAIL;
        if (mkdir(out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "dr3 demo: cannot create '%s': %s\n", out, strerror(errno));
            exp_results_free(&res);
            return CLI_FAIL;
        }
        rc = exp_report(&c, &res, out, stdout);
        exp_results_free(&res);
        if (rc != 0) {
            fprintf(stderr, "dr3 demo: writing results into '%s' failed\n", out);
            return CLI_FAIL;
        }
        return CLI_OK;
    }
    dr3env *probe = NULL;
    if (dr3env_create(&probe, env, 0) != DR3_OK) {
        fprintf(stderr, "dr3 demo: unknown environment '%s'\n", env);
        return CLI_USAGE;
    }
    dr3env_free(probe);
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "dr3 demo: cannot create '%s': %s\n", out, strerror(errno));
        return CLI_FAIL;
    }
    printf("dr3 demo: %zu methods x %zu seeds on %s (epsilon %.2f, %zu transitions), "
           "MLP %zux%zu, %zu steps each, %d parallel runs\n",
           c.n_methods, c.seeds, env, epsilon, c.transitions, c.depth, c.width, c.steps,
           c.workers);
    exp_results res;
    if (exp_run(&c, &res, stdout) != 0) {
        exp_results_free(&res);
        fprintf(stderr, "dr3 demo: the experiment failed\n");
        return CLI_FAIL;
    }
    printf("\n");
    rc = exp_report(&c, &res, out, stdout);
    exp_results_free(&res);
    if (rc != 0) {
        fprintf(stderr, "dr3 demo: writing results into '%s' failed\n", out);
        return CLI_FAIL;
    }
    printf("\nwrote %s/metrics.csv, %s/summary.txt and plots %s/{feature_dot,feature_cos,"
           "q_values,return,srank}.svg\n",
           out, out, out);
    return CLI_OK;
}
