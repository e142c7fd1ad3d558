/* The DQN + DR3 learner step on the convolutional presets, timed (the peer is
 * bench/pytorch_conv_step.py, the same update in PyTorch): online forward on the stacked
 * [s; s'], target forward on s', max backup, Huber TD, DR3 0.1 on the 512/128-wide φ, one
 * backward, Adam. Best of 5 windows; prints ms/step and steps/s per config and threads.
 *   conv_step [seconds per config (default 4)] */
#define DR3_EXPERIMENTAL 1
#include <dr3/dr3.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct config {
    const char *name, *preset;
    size_t channels, actions, batch;
} config;

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 4.0;
    static const config configs[] = {{"minatar", "minatar", 4, 6, 32},
                                     {"nature", "nature", 4, 6, 32}};
    dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
    dr3_runtime_info_get(&info);
    printf("libdr3 %s, BLIS %s, kernels %s\n", info.libdr3_version, info.blis_version,
           info.blis_arch);
    printf("%-8s %3s %9s %9s\n", "config", "thr", "ms/step", "steps/s");
    for (int threads = 1; threads <= 2; threads++)
        for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
            const config *c = &configs[k];
            dr3_net_desc d;
            if (dr3_net_desc_preset(&d, c->preset, c->channels, c->actions) != DR3_OK) return 1;
            dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
            adam.lr = 1e-4f;
            dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT;
            const dr3_regularizer_options *regs[] = {&dr3};
            dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
            o.batch_size = c->batch;
            o.optim = &adam;
            o.regularizers = regs;
            o.num_regularizers = 1;
            o.threads = threads;
            o.seed = 1;
            dr3_learner *l = NULL;
            if (dr3_learner_create_desc(&l, &o, &d) != DR3_OK) {
                fprintf(stderr, "conv_step: %s\n", dr3_last_error());
                return 1;
            }
            const size_t S = d.in_channels * d.in_height * d.in_width, n = c->batch;
            float *obs = malloc(n * S * sizeof(float)), *next = malloc(n * S * sizeof(float));
            float *r = malloc(n * sizeof(float));
            int32_t *a = malloc(n * sizeof(int32_t));
            dr3_rng rng;
            dr3_rng_seed(&rng, 3);
            for (size_t i = 0; i < n * S; i++) obs[i] = dr3_rng_uniform(&rng);
            for (size_t i = 0; i < n * S; i++) next[i] = dr3_rng_uniform(&rng);
            for (size_t i = 0; i < n; i++) {
                r[i] = dr3_rng_uniform(&rng);
                a[i] = (int32_t)dr3_rng_below(&rng, c->actions);
            }
            dr3_batch b = DR3_BATCH_INIT;
            b.n = n;
            b.obs = obs;
            b.ld_obs = S;
            b.next_obs = next;
            b.ld_next_obs = S;
            b.actions = a;
            b.rewards = r;
            for (int w = 0; w < 3; w++) dr3_learner_step(l, &b, NULL);
            double best = 1e30;
            for (int window = 0; window < 5; window++) {
                int iters = 0;
                double t0 = now(), t;
                do {
                    if (dr3_learner_step(l, &b, NULL) != DR3_OK) {
                        fprintf(stderr, "conv_step: %s\n", dr3_last_error());
                        return 1;
                    }
                    iters++;
                    t = now() - t0;
                } while (t < secs / 5);
                if (t / iters < best) best = t / iters;
            }
            printf("%-8s %3d %9.3f %9.1f\n", c->name, threads, best * 1e3, 1.0 / best);
            fflush(stdout);
            free(obs);
            free(next);
            free(r);
            free(a);
            dr3_learner_free(l);
        }
    return 0;
}
