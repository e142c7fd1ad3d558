#define DR3_EXPERIMENTAL 1 /* --net nature|minatar: layer-list networks (issue #11) */
/* dr3 collect / train / eval: datasets, training from any supported format, evaluation. */
#include "cli.h"
#include "dataset.h"
#include "envs.h"

#ifdef DR3_TOOL_MPI /* dr3 train --mpi: data-parallel over mpirun's ranks (docs/mpi.md) */
#include <dr3/mpi.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- collect -------------------------------------------------------------------------- */

/* An online DQN in the environment whose whole replay is the dataset (the DQN Replay
 * Dataset's recipe, Agarwal et al. 2020, at MinAtar's scale): MinAtar's baseline settings
 * (Young & Tian 2019): the MinAtar network (an MLP 2 x 128 for the vector environments),
 * RMSProp (lr 2.5e-4, alpha 0.95, eps 0.01, centered), batch 32, gamma 0.99, Huber loss,
 * target copy every 1000 steps, one update per environment step after a warm-up, epsilon
 * from 1 to 0.1 linearly. Warm-up (5000 steps) and decay (100,000 steps) shrink to 5% and
 * 10% of shorter runs. The learner samples from everything logged so far (MinAtar's 100k
 * buffer, for runs up to 100k steps). */
static dr3_status run_dqn_agent(dr3env *env, dr3_replay *log, size_t transitions, uint64_t seed,
                                int pixels) {
    const size_t S = dr3env_obs_dim(env), A = dr3env_num_actions(env);
    dr3_optim_options rms = DR3_OPTIM_OPTIONS_INIT;
    rms.kind = DR3_OPTIM_RMSPROP;
    rms.lr = 2.5e-4f;
    rms.alpha = 0.95f;
    rms.eps = 0.01f;
    rms.centered = 1;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT; /* max backup, Huber 1, gamma 0.99 */
    static const size_t mlp_hidden[2] = {128, 128};
    o.obs_dim = S;
    o.num_actions = A;
    o.num_hidden = 2;
    o.hidden = mlp_hidden;
    o.batch_size = 32;
    o.target_update_period = 1000;
    o.optim = &rms;
    o.seed = seed;
    dr3_learner *l = NULL;
    dr3_status st;
    if (pixels) {
        dr3_net_desc d;
        st = dr3_net_desc_preset(&d, "minatar", S / 100, A);
        if (st == DR3_OK) st = dr3_learner_create_desc(&l, &o, &d);
    } else {
        st = dr3_learner_create(&l, &o);
    }
    if (st != DR3_OK) return st;
    const size_t warmup = transitions / 20 < 5000 ? transitions / 20 : 5000;
    const size_t decay =
        transitions / 10 < 100000 ? (transitions / 10 ? transitions / 10 : 1) : 100000;
    dr3_rng rng;
    dr3_rng_seed(&rng, seed ^ 0x64716e6167656e74ULL);
    float obs[DR3ENV_MAX_OBS], next[DR3ENV_MAX_OBS], reward;
    uint8_t ob8[DR3ENV_MAX_OBS], nx8[DR3ENV_MAX_OBS];
    int term = 0, trunc = 0;
    double ep_return = 0, recent = 0;
    size_t episodes = 0, recent_n = 0;
    st = dr3env_reset(env, obs);
    for (size_t t = 0; t < transitions && st == DR3_OK; t++) {
        double frac = (double)t / (double)decay;
        float eps = (float)(frac >= 1 ? 0.1 : 1.0 - 0.9 * frac);
        int32_t a = 0;
        st = dr3_learner_act(l, 1, obs, S, eps, &rng, &a);
        if (st == DR3_OK) st = dr3env_step(env, a, next, &reward, &term, &trunc);
        if (st != DR3_OK) break;
        int last = t + 1 == transitions;
        if (last && !term) trunc = 1; /* the data ends: cut the episode */
        int end = term || trunc;
        if (pixels) {
            /* 0/1 planes stored as 0/255 pixels: scaled by 1/255 as Atari frames are */
            for (size_t k = 0; k < S; k++)
                ob8[k] = obs[k] != 0 ? 255 : 0, nx8[k] = next[k] != 0 ? 255 : 0;
            st = dr3_replay_add(log, ob8, &a, reward, term, trunc, end ? nx8 : NULL);
        } else {
            st = dr3_replay_add(log, obs, &a, reward, term, trunc, end ? next : NULL);
        }
        ep_return += reward;
        if (st == DR3_OK && t >= warmup) st = dr3_learner_step_replay(l, log, NULL);
        if (end) {
            episodes++;
            recent += ep_return;
            recent_n++;
            ep_return = 0;
            if (!last && st == DR3_OK) st = dr3env_reset(env, obs);
        } else {
            memcpy(obs, next, S * sizeof(float));
        }
        if ((t + 1) % (transitions / 10 ? transitions / 10 : 1) == 0 && recent_n > 0) {
            printf("step %zu/%zu  epsilon %.2f  episodes %zu  mean return %.2f (last %zu)\n",
                   t + 1, transitions, (double)eps, episodes, recent / (double)recent_n,
                   recent_n);
            fflush(stdout);
            recent = 0;
            recent_n = 0;
        }
    }
    dr3_learner_free(l);
    return st;
}

int cmd_collect(int argc, char **argv) {
    if (cli_continuous_env(argc, argv)) return cmd_collect_continuous(argc, argv);
    const char *env_name = NULL, *out = NULL, *policy = "controller", *agent = "policy";
    const char *format = NULL;
    uint64_t transitions = 0, seed = 0;
    double epsilon = 0.5;
    const cli_opt opts[] = {
        {"env", 's', &env_name,
         "cartpole | mountaincar | gridworld | minatar-breakout | minatar-freeway | "
         "minatar-asterix | minatar-space_invaders | minatar-seaquest (required); continuous "
         "actions: pendulum | mountaincar-continuous | pointmaze, with options of their own "
         "(dr3 collect --env pendulum --help)"},
        {"policy", 's', &policy, "controller (epsilon-mixed) | uniform (default controller)"},
        {"epsilon", 'f', &epsilon, "probability of a uniform action (default 0.5)"},
        {"transitions", 'u', &transitions, "steps to record (required)"},
        {"steps", 'u', &transitions, "the same as --transitions"},
        {"seed", 'u', &seed, "random seed (default 0)"},
        {"out", 's', &out, "output directory (required)"},
        {"agent", 's', &agent,
         "policy (a behaviour policy, above) | dqn (an online DQN whose whole replay is the "
         "dataset; MinAtar's baseline settings) (default policy)"},
        {"format", 's', &format,
         "npy | dqn (the DQN Replay Dataset layout, checkpoint 0) (default npy; dqn with "
         "--agent dqn)"},
    };
    const char *syn = "--env E --transitions N --out DIR [--policy P] [--epsilon X] [--seed S]";
    int rc = cli_parse("collect", syn, argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    if (env_name == NULL || out == NULL || transitions == 0) {
        fprintf(stderr, "dr3 collect: --env, --transitions and --out are required\n");
        return CLI_USAGE;
    }
    if (strcmp(policy, "uniform") == 0)
        epsilon = 1.0;
    else if (strcmp(policy, "controller") != 0 || !(epsilon >= 0 && epsilon <= 1)) {
        fprintf(stderr,
                "dr3 collect: --policy must be controller or uniform, --epsilon in [0, 1]\n");
        return CLI_USAGE;
    }
    int dqn_agent = strcmp(agent, "dqn") == 0;
    if (!dqn_agent && strcmp(agent, "policy") != 0) {
        fprintf(stderr, "dr3 collect: --agent must be policy or dqn\n");
        return CLI_USAGE;
    }
    if (format == NULL) format = dqn_agent ? "dqn" : "npy";
    if (strcmp(format, "npy") != 0 && strcmp(format, "dqn") != 0) {
        fprintf(stderr, "dr3 collect: --format must be npy or dqn\n");
        return CLI_USAGE;
    }
    dr3env *env = NULL;
    if (dr3env_create(&env, env_name, seed) != DR3_OK) {
        fprintf(stderr, "dr3 collect: unknown environment '%s'\n", env_name);
        return CLI_USAGE;
    }
    /* MinAtar's 0/1 planes are kept as 0/255 bytes, like Atari frames: every reader (the
     * DQN Replay layout, u8_scale unit, dr3_net_forward_u8) turns them back into 0/1 */
    const int pixels = strncmp(env_name, "minatar-", 8) == 0;
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    ro.capacity = (size_t)transitions * 2 + 16;
    ro.obs_dim = dr3env_obs_dim(env);
    ro.num_actions = dr3env_num_actions(env);
    if (pixels && dqn_agent) ro.obs_dtype = DR3_DTYPE_U8;
    dr3_replay *r = NULL;
    dr3env_policy p = {env, epsilon};
    dr3_rng rng;
    dr3_rng_seed(&rng, seed ^ 0x636f6c6cULL);
    /* the output directory first: a long collection must not end in "cannot create" */
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "dr3 collect: cannot create '%s': %s\n", out, strerror(errno));
        dr3env_free(env);
        return CLI_FAIL;
    }
    dr3_status st = dr3_replay_create(&r, &ro);
    if (st == DR3_OK && dqn_agent)
        st = run_dqn_agent(env, r, (size_t)transitions, seed, pixels);
    else if (st == DR3_OK)
        st = dr3env_collect(env, &p, (size_t)transitions, 0.99f, &rng, r, NULL);
    if (st == DR3_OK) {
        st = strcmp(format, "dqn") == 0 ? dr3_replay_save_dqn(r, out, 0)
                                        : dr3_replay_save_npy(r, out);
    }
    if (st != DR3_OK)
        rc = cli_fail("collect", "collecting the dataset", st);
    else if (rc == CLI_OK && dqn_agent)
        printf("wrote %llu transitions of %s (an online DQN's whole replay, %s layout) to %s\n",
               (unsigned long long)transitions, env_name, format, out);
    else if (rc == CLI_OK)
        printf("wrote %llu transitions of %s (epsilon %.2f, %s layout) to %s\n",
               (unsigned long long)transitions, env_name, epsilon, format, out);
    dr3_replay_free(r);
    dr3env_free(env);
    return rc;
}

/* ---- train ----------------------------------------------------------------------------- */

typedef struct progress {
    double t0;
    uint64_t start, total;
    int tty;
    FILE *csv;
    uint64_t log_every;
    int quiet; /* --mpi ranks other than 0 */
} progress;

static int on_progress(void *payload, const dr3_step_metrics *m) {
    progress *p = payload;
    if (p->quiet) return 0;
    double el = cli_now() - p->t0, rate = el > 0 ? (double)(m->step - p->start) / el : 0;
    double eta = rate > 0 ? (double)(p->total - m->step) / rate : 0;
    if (p->csv)
        fprintf(p->csv, "%llu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                (unsigned long long)m->step, m->loss, m->td_loss, m->mean_q, m->feature_dot,
                m->feature_cos, m->feature_norm, m->dead_fraction, m->grad_norm);
    if (p->tty) {
        int width = 30, fill = (int)(width * (double)m->step / (double)p->total);
        printf("\r[%.*s%*s] %llu/%llu  %.0f steps/s  ETA %02d:%02d  TD %.4g  phi.phi' %.4g  ",
               fill, "##############################", width - fill, "",
               (unsigned long long)m->step, (unsigned long long)p->total, rate, (int)(eta / 60),
               (int)eta % 60, m->td_loss, m->feature_dot);
        fflush(stdout);
    } else if (m->step % p->log_every == 0 || m->step == p->total) {
        printf("step %llu/%llu  %.0f steps/s  td_loss %.5g  mean_q %.4g  phi.phi' %.5g  cos "
               "%.3f\n",
               (unsigned long long)m->step, (unsigned long long)p->total, rate, m->td_loss,
               m->mean_q, m->feature_dot, m->feature_cos);
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    if (cli_has_option(argc, argv, "algo")) return cmd_train_continuous(argc, argv);
    const char *data = NULL, *backup = "max", *ckpt = NULL, *metrics = NULL, *net = "mlp";
    uint64_t steps = 10000, width = 256, depth = 2, batch = 128, seed = 0, threads = 1;
    uint64_t bc_steps = 2000, frame_stack = 1, n_step = 1, suffix = 0, save_every = 0;
    uint64_t heads = 1;
    const char *heads_mode = "rem";
    double dr3c = 0, cql = 0, lr = 3e-4, gamma = 0.99, tau = 0.005;
    bool mpi = false, shard = false;
    const cli_opt opts[] = {
        {"data", 's', &data,
         "dataset: .npy dir, DQN-replay dir, D4RL .hdf5, Minari dir or .hdf5 (required)"},
        {"backup", 's', &backup, "sarsa | expected | sampled | max | double | softmax (max)"},
        {"dr3", 'f', &dr3c, "DR3 coefficient c0 (default 0: off)"},
        {"cql", 'f', &cql, "CQL alpha (default 0: off)"},
        {"steps", 'u', &steps, "total gradient steps (default 10000)"},
        {"checkpoint", 's', &ckpt,
         "checkpoint file: resumed from if it exists, saved at the end"},
        {"save-every", 'u', &save_every, "also save the checkpoint every N steps"},
        {"metrics", 's', &metrics, "write per-step metrics to this CSV file"},
        {"net", 's', &net,
         "mlp | nature | minatar (mlp; nature wants C x 84 x 84 states, minatar C x 10 x 10, "
         "in CHW order: DQN Replay with --frame-stack 4 gives 4 x 84 x 84; experimental)"},
        {"heads", 'u', &heads, "Q-heads on the shared features (1; > 1: experimental)"},
        {"heads-mode", 's', &heads_mode,
         "rem (random convex combination per batch) | mean | min (ensemble targets) (rem)"},
        {"width", 'u', &width, "hidden width (256)"},
        {"depth", 'u', &depth, "hidden layers (2)"},
        {"batch", 'u', &batch, "batch size (128)"},
        {"lr", 'f', &lr, "Adam learning rate (3e-4)"},
        {"gamma", 'f', &gamma, "discount (0.99)"},
        {"tau", 'f', &tau, "Polyak rate of the target network (0.005)"},
        {"n-step", 'u', &n_step, "n-step returns (1)"},
        {"frame-stack", 'u', &frame_stack, "frames per state for pixel datasets (1)"},
        {"suffix", 'u', &suffix, "DQN-replay checkpoint number (0)"},
        {"bc-steps", 'u', &bc_steps, "behaviour-cloning steps for expected/sampled (2000)"},
        {"threads", 'u', &threads, "BLIS threads (1)"},
        {"seed", 'u', &seed, "random seed (0)"},
        {"mpi", 'b', &mpi,
         "data-parallel under mpirun (libdr3-mpi, experimental): each rank samples its own "
         "--batch rows, gradients are averaged; rank 0 prints and writes the checkpoint and "
         "metrics"},
        {"shard", 'b', &shard,
         "with --mpi: rank k of N samples only the k-th of N contiguous parts of the dataset "
         "instead of all of it (docs/mpi.md)"},
    };
    int rc = cli_parse("train", "--data PATH [options]", argc, argv, 2, opts,
                       sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    int rank = 0;
#ifdef DR3_TOOL_MPI
    dr3_mpi *comm = NULL;
#endif
    if ((rc = cli_mpi_begin(mpi, shard, &rank)) != CLI_OK) return rc;
    dr3_backup_kind kind;
    if (data == NULL) {
        fprintf(stderr, "dr3 train: --data is required (see dr3 train --help)\n");
        return CLI_USAGE;
    }
    if (dr3_backup_kind_parse(&kind, backup) != DR3_OK) {
        fprintf(stderr, "dr3 train: unknown --backup '%s'\n", backup);
        return CLI_USAGE;
    }
    if (!(dr3c >= 0) || !(cql >= 0) || steps == 0 || depth > 16 || width == 0 || batch == 0 ||
        threads == 0 || !(gamma >= 0 && gamma <= 1) || !(tau > 0 && tau <= 1) || n_step == 0 ||
        frame_stack == 0) {
        fprintf(stderr, "dr3 train: an option is out of range (see dr3 train --help)\n");
        return CLI_USAGE;
    }
    dr3_replay *r = NULL;
    dr3_replay_options dopt = DR3_REPLAY_OPTIONS_INIT;
    dopt.gamma = (float)gamma;
    dopt.n_step = (size_t)n_step;
    dopt.frame_stack = (size_t)frame_stack;
    if ((rc = data_open("train", data, (unsigned)suffix, &dopt, &r)) != CLI_OK) return rc;
    dr3_status st;
    dr3_replay_options ro = DR3_REPLAY_OPTIONS_INIT;
    dr3_replay_get_options(&ro, r);
    if (ro.action_kind != DR3_ACTION_DISCRETE) {
        fprintf(stderr,
                "dr3 train: %s has continuous actions: training the actor-critic learner "
                "(--algo cql; if they are action indices, store them as integers: "
                "np.save(path, a.astype(np.int64)))\n",
                data);
        dr3_replay_free(r);
        return cmd_train_continuous(argc, argv);
    }
    size_t S = dr3_replay_state_dim(r), A = ro.num_actions;
    printf("dataset %s: %zu transitions, state %zu floats, %zu actions\n", data,
           dr3_replay_valid_count(r, 0), S, A);
    /* a convolutional preset: the state must be whole C x H x W planes */
    dr3_net_desc desc;
    bool conv = strcmp(net, "mlp") != 0;
    dr3_heads_mode hmode = DR3_HEADS_REM;
    if (strcmp(heads_mode, "mean") == 0)
        hmode = DR3_HEADS_MEAN;
    else if (strcmp(heads_mode, "min") == 0)
        hmode = DR3_HEADS_MIN;
    else if (strcmp(heads_mode, "rem") != 0)
        heads = 0; /* refused below */
    if (heads == 0 || heads > 64) {
        fprintf(stderr, "dr3 train: --heads must be 1..64 and --heads-mode rem, mean or min\n");
        dr3_replay_free(r);
        return CLI_USAGE;
    }
    if (conv) {
        size_t plane = strcmp(net, "nature") == 0    ? 84 * 84
                       : strcmp(net, "minatar") == 0 ? 100
                                                     : 0;
        if (plane == 0 || S % plane != 0 ||
            dr3_net_desc_preset(&desc, net, S / plane, A) != DR3_OK) {
            fprintf(stderr,
                    "dr3 train: --net %s needs states of whole %s planes (this dataset's have "
                    "%zu floats); use --net mlp, nature or minatar\n",
                    net, strcmp(net, "nature") == 0 ? "84 x 84" : "10 x 10", S);
            dr3_replay_free(r);
            return CLI_USAGE;
        }
        printf("network %s: %zu input planes of %zu x %zu\n", net, desc.in_channels,
               desc.in_height, desc.in_width);
    }
    /* several heads: the network is described as a layer list (an MLP is linear layers on a
     * C x 1 x 1 input) */
    dr3_layer mlp_layers[16];
    const dr3_layer *mlp_ptrs[16];
    if (heads > 1 && !conv) {
        desc = (dr3_net_desc)DR3_NET_DESC_INIT;
        desc.in_channels = S;
        desc.in_height = desc.in_width = 1;
        desc.num_layers = (size_t)depth;
        for (size_t i = 0; i < depth; i++) {
            mlp_layers[i] = (dr3_layer)DR3_LAYER_INIT;
            mlp_layers[i].units = (size_t)width;
            mlp_ptrs[i] = &mlp_layers[i];
        }
        desc.layers = mlp_ptrs;
        desc.action_dim = A;
        conv = true;
    }
    desc.num_heads = (size_t)heads;
    if (heads > 1) printf("heads %llu, %s\n", (unsigned long long)heads, heads_mode);

    size_t hidden[16];
    for (size_t i = 0; i < depth; i++) hidden[i] = (size_t)width;
    dr3_bc *bc = NULL;
    if (kind == DR3_BACKUP_EXPECTED || kind == DR3_BACKUP_SAMPLED) {
        /* the behaviour policy of a dataset is unknown: clone it, as the DR3 paper does */
        dr3_bc_options bo = DR3_BC_OPTIONS_INIT;
        bo.obs_dim = S;
        bo.num_actions = A;
        bo.num_hidden = depth;
        bo.hidden = hidden;
        bo.batch_size = (size_t)batch;
        bo.seed = seed;
        float bc_loss = 0;
        st = dr3_bc_create(&bc, &bo);
        if (st == DR3_OK) st = dr3_bc_train(bc, r, bc_steps, &bc_loss);
        if (st != DR3_OK) {
            dr3_bc_free(bc);
            dr3_replay_free(r);
            return cli_fail("train", "behaviour cloning", st);
        }
        printf("behaviour cloning: %llu steps, cross-entropy %.4f\n",
               (unsigned long long)bc_steps, bc_loss);
    }
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = (float)lr;
    dr3_backup_options bko = DR3_BACKUP_OPTIONS_INIT;
    bko.kind = kind;
    bko.policy = dr3_bc_policy;
    bko.policy_payload = bc;
    dr3_regularizer_options regs[2] = {DR3_REGULARIZER_OPTIONS_INIT,
                                       DR3_REGULARIZER_OPTIONS_INIT};
    size_t nreg = 0;
    if (dr3c > 0) regs[nreg++].coef = (float)dr3c;
    if (cql > 0) {
        regs[nreg].kind = DR3_REG_CQL;
        regs[nreg++].coef = (float)cql;
    }
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = A;
    o.num_hidden = (size_t)depth;
    o.hidden = hidden;
    o.batch_size = (size_t)batch;
    o.gamma = (float)gamma;
    o.polyak_tau = (float)tau;
    o.optim = &oo;
    o.backup = &bko;
    const dr3_regularizer_options *reg_ptrs[2] = {&regs[0], &regs[1]};
    o.regularizers = reg_ptrs;
    o.num_regularizers = nreg;
    o.threads = (int)threads;
    o.seed = seed;
    dr3_learner *l = NULL;
    st = conv ? dr3_learner_create_desc(&l, &o, &desc) : dr3_learner_create(&l, &o);
    if (st == DR3_OK && heads > 1) st = dr3_learner_set_heads_mode(l, hmode);
    if (st == DR3_OK && ckpt != NULL && access(ckpt, F_OK) == 0) {
        st = dr3_learner_load(l, ckpt);
        if (st == DR3_OK)
            printf("resumed from %s at step %llu\n", ckpt,
                   (unsigned long long)dr3_learner_step_count(l));
    }
#ifdef DR3_TOOL_MPI
    /* every rank loaded the same checkpoint (if any); rank 0's state wins, generators split */
    if (st == DR3_OK && mpi) st = dr3_mpi_create(&comm, MPI_COMM_WORLD);
    if (st == DR3_OK && mpi) st = dr3_mpi_attach(comm, l);
    if (st == DR3_OK && shard)
        st = dr3_replay_set_shard(r, (size_t)dr3_mpi_rank(comm), (size_t)dr3_mpi_size(comm));
    if (st == DR3_OK && mpi)
        printf("data-parallel: %d ranks x %llu rows per step%s\n", dr3_mpi_size(comm),
               (unsigned long long)batch,
               shard ? ", each rank on its own shard of the data" : "");
#endif
    progress pg = {cli_now(), l ? dr3_learner_step_count(l) : 0,
                   steps,     isatty(STDOUT_FILENO) && rank == 0,
                   NULL,      steps / 20 ? steps / 20 : 1,
                   rank != 0};
    if (rank != 0) metrics = NULL; /* rank 0 writes the metrics and the checkpoint */
    if (st == DR3_OK && metrics != NULL) {
        pg.csv = fopen(metrics, "a");
        if (pg.csv == NULL) {
            fprintf(stderr, "dr3 train: cannot open '%s': %s\n", metrics, strerror(errno));
            rc = CLI_FAIL;
        } else if (ftell(pg.csv) == 0) {
            fprintf(pg.csv, "step,loss,td_loss,mean_q,feature_dot,feature_cos,feature_norm,"
                            "dead_fraction,grad_norm\n");
        }
    }
    while (st == DR3_OK && rc == CLI_OK && dr3_learner_step_count(l) < steps) {
        uint64_t left = steps - dr3_learner_step_count(l);
        uint64_t chunk = save_every > 0 && save_every < left ? save_every : left;
        st = dr3_learner_train(l, r, chunk, 1, on_progress, &pg);
        if (st == DR3_OK && ckpt != NULL && rank == 0) {
            st = dr3_learner_save(l, ckpt);
#ifdef DR3_TOOL_MPI
            if (mpi && st != DR3_OK) { /* the other ranks already wait in the next step */
                cli_fail("train", "saving the checkpoint", st);
                MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
            }
#endif
        }
    }
    if (pg.tty) printf("\n");
    if (pg.csv) fclose(pg.csv);
    if (st != DR3_OK)
        rc = cli_fail("train", "training", st);
    else if (rc == CLI_OK)
        printf("done: %llu steps%s%s\n", (unsigned long long)dr3_learner_step_count(l),
               ckpt ? ", checkpoint " : "", ckpt ? ckpt : "");
    dr3_learner_free(l);
    dr3_bc_free(bc);
    dr3_replay_free(r);
#ifdef DR3_TOOL_MPI
    if (mpi) {
        dr3_mpi_free(comm);
        MPI_Finalize();
    }
#endif
    return rc;
}

/* ---- eval ------------------------------------------------------------------------------ */

typedef struct eval_actor {
    dr3_learner *l;
    size_t S;
} eval_actor;

static int eval_greedy(void *payload, const float *obs) {
    eval_actor *a = payload;
    int32_t act = 0;
    dr3_learner_act(a->l, 1, obs, a->S, 0.0f, NULL, &act);
    return act;
}

int cmd_eval(int argc, char **argv) {
    if (cli_continuous_env(argc, argv)) return cmd_eval_continuous(argc, argv);
    const char *ckpt = NULL, *env_name = NULL;
    uint64_t episodes = 10, seed = 0;
    const cli_opt opts[] = {
        {"checkpoint", 's', &ckpt, "a checkpoint written by dr3 train (required)"},
        {"env", 's', &env_name,
         "environment to act in (required; pendulum, mountaincar-continuous and pointmaze "
         "take a continuous-control checkpoint: dr3 eval --env pendulum --help)"},
        {"episodes", 'u', &episodes, "episodes (default 10)"},
        {"seed", 'u', &seed, "environment seed (default 0)"},
    };
    int rc = cli_parse("eval", "--checkpoint FILE --env E [--episodes K]", argc, argv, 2, opts,
                       sizeof opts / sizeof opts[0]);
    if (rc != CLI_OK) return rc < 0 ? CLI_OK : rc;
    if (ckpt == NULL || env_name == NULL || episodes == 0) {
        fprintf(stderr, "dr3 eval: --checkpoint and --env are required, --episodes > 0\n");
        return CLI_USAGE;
    }
    dr3env *env = NULL;
    if (dr3env_create(&env, env_name, seed) != DR3_OK) {
        fprintf(stderr, "dr3 eval: unknown environment '%s'\n", env_name);
        return CLI_USAGE;
    }
    /* the checkpoint's own architecture (MLP or layer list), greedy acting one row at a time */
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.batch_size = 1;
    dr3_learner *l = NULL;
    double mean = 0;
    dr3_status st = dr3_learner_open(&l, ckpt, &o);
    if (st != DR3_OK) {
        dr3env_free(env);
        return cli_fail("eval", "reading the checkpoint", st);
    }
    dr3_net *q = dr3_learner_online(l);
    if (dr3_net_obs_dim(q) != dr3env_obs_dim(env) ||
        dr3_net_action_dim(q) != dr3env_num_actions(env)) {
        fprintf(stderr,
                "dr3 eval: the checkpoint is for %zu observations and %zu actions, %s has "
                "%zu and %zu\n",
                dr3_net_obs_dim(q), dr3_net_action_dim(q), env_name, dr3env_obs_dim(env),
                dr3env_num_actions(env));
        dr3_learner_free(l);
        dr3env_free(env);
        return CLI_FAIL;
    }
    eval_actor act = {l, dr3_net_obs_dim(q)};
    if (st == DR3_OK &&
        dr3env_evaluate(env, (size_t)episodes, eval_greedy, &act, &mean) != DR3_OK)
        st = DR3_ERR_INTERNAL;
    if (st != DR3_OK)
        rc = cli_fail("eval", "evaluating", st);
    else
        printf("%s: mean return %.2f over %llu greedy episodes (checkpoint at step %llu)\n",
               env_name, mean, (unsigned long long)episodes,
               (unsigned long long)dr3_learner_step_count(l));
    dr3_learner_free(l);
    dr3env_free(env);
    return rc;
}
