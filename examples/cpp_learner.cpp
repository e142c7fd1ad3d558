// cpp_learner.cpp — libdr3's handles from C++: a replay buffer, a learner with DR3, its
// online network, saved and reopened, all owned by std::unique_ptr with the library's free
// functions as deleters (they accept NULL), and errors turned into exceptions.
//
// The task: a ring of 6 states (one-hot observations), actions stay (0) / move (1), reward 1
// for moving out of the last state. Data: uniform random behaviour, 4,000 steps. The learner
// runs offline Q-learning (max backup) with DR3 (c0 = 0.1) and its Q is compared with the
// exact Q* from value iteration. Exit status 0 when the largest error is below 0.1.
//
// Build against an installed libdr3 (C++11 or later):
//   c++ -std=c++17 cpp_learner.cpp $(pkg-config --cflags --libs dr3) -o cpp_learner
#include <dr3/dr3.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void check(dr3_status st, const char *what) {
    if (st != DR3_OK)
        throw std::runtime_error(std::string(what) + ": " + dr3_status_str(st) + " (" +
                                 dr3_last_error() + ")");
}

// One owner type per handle; the deleters are the library's free functions.
struct ReplayFree {
    void operator()(dr3_replay *r) const { dr3_replay_free(r); }
};
struct LearnerFree {
    void operator()(dr3_learner *l) const { dr3_learner_free(l); }
};
struct NetFree {
    void operator()(dr3_net *n) const { dr3_net_free(n); }
};
using Replay = std::unique_ptr<dr3_replay, ReplayFree>;
using Learner = std::unique_ptr<dr3_learner, LearnerFree>;
using Net = std::unique_ptr<dr3_net, NetFree>;

const int kStates = 6, kActions = 2;
const float kGamma = 0.9f;

int next_state(int s, int a) { return a == 1 ? (s + 1) % kStates : s; }
float reward(int s, int a) { return (s == kStates - 1 && a == 1) ? 1.0f : 0.0f; }

std::vector<float> one_hot(int s) {
    std::vector<float> x(kStates, 0.0f);
    x[static_cast<std::size_t>(s)] = 1.0f;
    return x;
}

Replay collect(std::size_t steps, dr3_rng &rng) {
    dr3_replay_options o = DR3_REPLAY_OPTIONS_INIT;
    o.capacity = steps + 2;
    o.obs_dim = kStates;
    o.num_actions = kActions;
    o.gamma = kGamma;
    dr3_replay *raw = nullptr;
    check(dr3_replay_create(&raw, &o), "dr3_replay_create");
    Replay r(raw);
    int s = 0;
    for (std::size_t t = 0; t < steps; t++) {
        int32_t a = static_cast<int32_t>(dr3_rng_below(&rng, kActions));
        int s2 = next_state(s, a);
        bool last = t + 1 == steps; // one long episode, cut (truncated) at the end
        std::vector<float> x = one_hot(s), x2 = one_hot(s2);
        check(dr3_replay_add(r.get(), x.data(), &a, reward(s, a), 0, last ? 1 : 0,
                             last ? x2.data() : nullptr),
              "dr3_replay_add");
        s = s2;
    }
    return r;
}

} // namespace

int main() {
    try {
        dr3_rng rng;
        dr3_rng_seed(&rng, 7);
        Replay data = collect(4000, rng);

        static const std::size_t hidden[2] = {32, 32};
        dr3_optim_options adam = DR3_OPTIM_OPTIONS_INIT;
        adam.lr = 1e-3f;
        dr3_regularizer_options dr3 = DR3_REGULARIZER_OPTIONS_INIT; // c0 = 0.1
        const dr3_regularizer_options *regs[] = {&dr3};
        dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT; // max backup, Huber TD
        o.obs_dim = kStates;
        o.num_actions = kActions;
        o.num_hidden = 2;
        o.hidden = hidden;
        o.batch_size = 64;
        o.gamma = kGamma;
        o.polyak_tau = 0.01f;
        o.optim = &adam;
        o.regularizers = regs;
        o.num_regularizers = 1;
        o.seed = 3;
        dr3_learner *raw = nullptr;
        check(dr3_learner_create(&raw, &o), "dr3_learner_create");
        Learner learner(raw);

        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        for (int step = 0; step < 6000; step++)
            check(dr3_learner_step_replay(learner.get(), data.get(), &m), "step");
        float dr3_term = 0;
        check(dr3_learner_reg_loss(&dr3_term, learner.get(), 0), "dr3_learner_reg_loss");
        std::printf("after %llu steps: TD loss %.2e, DR3 term %.3f, phi.phi' %.2f\n",
                    static_cast<unsigned long long>(m.step), m.td_loss, dr3_term,
                    m.feature_dot);

        // the online network outlives a save: write it, reopen it as a network of its own
        const char *path = "cpp_learner.safetensors";
        check(dr3_net_save(dr3_learner_online(learner.get()), path), "dr3_net_save");
        dr3_net_options rt = DR3_NET_OPTIONS_INIT;
        rt.max_batch = kStates;
        rt.threads = 1;
        dr3_net *net_raw = nullptr;
        check(dr3_net_open(&net_raw, path, &rt), "dr3_net_open");
        Net net(net_raw);
        std::remove(path);

        // exact Q* by value iteration
        double q_star[kStates][kActions] = {};
        for (int it = 0; it < 500; it++)
            for (int s = 0; s < kStates; s++)
                for (int a = 0; a < kActions; a++) {
                    int s2 = next_state(s, a);
                    q_star[s][a] =
                        reward(s, a) + kGamma * std::fmax(q_star[s2][0], q_star[s2][1]);
                }
        std::vector<float> eye(kStates * kStates, 0.0f), q(kStates * kActions);
        for (int s = 0; s < kStates; s++) eye[static_cast<std::size_t>(s * kStates + s)] = 1.0f;
        check(dr3_net_forward(net.get(), kStates, eye.data(), kStates, nullptr, 0, q.data(),
                              kActions, nullptr),
              "dr3_net_forward");
        double worst = 0;
        std::printf("state  Q(s,stay) [Q*]       Q(s,move) [Q*]\n");
        for (int s = 0; s < kStates; s++) {
            std::printf("%5d  %7.3f [%6.3f]   %7.3f [%6.3f]\n", s, q[s * kActions],
                        q_star[s][0], q[s * kActions + 1], q_star[s][1]);
            for (int a = 0; a < kActions; a++)
                worst = std::fmax(worst, std::fabs(q[s * kActions + a] - q_star[s][a]));
        }
        std::printf("largest |Q - Q*| = %.4f\n", worst);
        return worst < 0.1 ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_learner: %s\n", e.what());
        return 2;
    }
}
