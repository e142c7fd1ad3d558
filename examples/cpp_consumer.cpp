// cpp_consumer.cpp — libdr3 from C++: the headers are plain C with extern "C" guards.
//
// A C++ program with its own model: an embedding table φ(s) = E[s] (one learned d-vector
// per state) and a linear head Q(s, a) = w_a · φ(s). It fits Q by offline SARSA-style
// policy evaluation on a ring of states (the evaluated policy always moves clockwise,
// reward 1 for each step out of state 0) and adds the DR3 term from libdr3. It prints the
// feature dot product and the error against the exact values, with and without DR3.
//
// Build against an installed libdr3:
//   c++ -std=c++11 cpp_consumer.cpp $(pkg-config --cflags --libs dr3) -o cpp_consumer
#include <dr3/dr3.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void ok(dr3_status st, const char *what) {
    if (st != DR3_OK)
        throw std::runtime_error(std::string(what) + ": " + dr3_status_str(st) + " (" +
                                 dr3_last_error() + ")");
}

struct Model {
    std::size_t states, dim;
    std::vector<float> emb;  // states × dim
    std::vector<float> head; // dim (a single action: the policy's)
    Model(std::size_t s, std::size_t d, dr3_rng &rng) : states(s), dim(d), emb(s * d), head(d) {
        for (float &x : emb) x = static_cast<float>(dr3_rng_normal(&rng) * 0.3);
        for (float &x : head) x = static_cast<float>(dr3_rng_normal(&rng) * 0.3);
    }
    const float *phi(std::size_t s) const { return &emb[s * dim]; }
    float q(std::size_t s) const {
        float v = 0;
        for (std::size_t j = 0; j < dim; j++) v += head[j] * emb[s * dim + j];
        return v;
    }
};

// Trains with DR3 coefficient c0 and returns {mean |phi.phi'|, mean |V - V_true|}.
std::vector<double> run(float c0, int steps) {
    const std::size_t S = 8, D = 16;
    const float gamma = 0.8f, lr = 0.1f;
    dr3_rng rng;
    dr3_rng_seed(&rng, 11);
    Model m(S, D, rng);

    // Exact values of "always move clockwise": V(s) = r(s) + gamma V(s+1), r = 1 at s = 0.
    std::vector<double> v_true(S, 0.0);
    for (int it = 0; it < 2000; it++)
        for (std::size_t s = 0; s < S; s++)
            v_true[s] = (s == 0 ? 1.0 : 0.0) + gamma * v_true[(s + 1) % S];

    std::vector<float> phi(S * D), phi_next(S * D), gphi(S * D), gnext(S * D);
    std::vector<float> q(S), y(S), gq(S);
    for (int step = 0; step < steps; step++) {
        // the whole ring is the batch: transitions s -> s+1
        for (std::size_t s = 0; s < S; s++) {
            std::memcpy(&phi[s * D], m.phi(s), D * sizeof(float));
            std::memcpy(&phi_next[s * D], m.phi((s + 1) % S), D * sizeof(float));
            q[s] = m.q(s);
            y[s] = (s == 0 ? 1.0f : 0.0f) + gamma * m.q((s + 1) % S); // semi-gradient target
        }
        std::fill(gq.begin(), gq.end(), 0.0f);
        std::fill(gphi.begin(), gphi.end(), 0.0f);
        std::fill(gnext.begin(), gnext.end(), 0.0f);
        float td = 0, reg = 0;
        ok(dr3_td_loss(S, q.data(), y.data(), nullptr, DR3_TD_MSE, 0.0f, &td, gq.data()),
           "dr3_td_loss");
        // The embedding is linear (no ReLU), so use |phi.phi'| as Dopamine does: the plain
        // dot product could be driven below zero without bound.
        ok(dr3_feature_dot_loss_ex(S, D, phi.data(), D, phi_next.data(), D, nullptr,
                                   DR3_DOT_ABS, c0, &reg, gphi.data(), gnext.data()),
           "dr3_feature_dot_loss_ex");
        // backward: Q = head . phi(s); the DR3 gradient reaches phi(s) and phi(s+1)
        std::vector<float> ghead(D, 0.0f), gemb(S * D, 0.0f);
        for (std::size_t s = 0; s < S; s++)
            for (std::size_t j = 0; j < D; j++) {
                ghead[j] += gq[s] * phi[s * D + j];
                gemb[s * D + j] += gq[s] * m.head[j] + gphi[s * D + j];
                gemb[((s + 1) % S) * D + j] += gnext[s * D + j];
            }
        for (std::size_t j = 0; j < D; j++) m.head[j] -= lr * ghead[j];
        for (std::size_t k = 0; k < S * D; k++) m.emb[k] -= lr * gemb[k];
    }
    float dot = 0;
    ok(dr3_feature_dot_loss_ex(S, D, phi.data(), D, phi_next.data(), D, nullptr, DR3_DOT_ABS,
                               1.0f, &dot, nullptr, nullptr),
       "dr3_feature_dot_loss_ex");
    double err = 0;
    for (std::size_t s = 0; s < S; s++) err += std::fabs(m.q(s) - v_true[s]);
    return {dot, err / S};
}

} // namespace

int main(int argc, char **argv) {
    int steps = 3000;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--quick") == 0)
            steps = 500;
        else {
            std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }
    try {
        dr3_runtime_info info = DR3_RUNTIME_INFO_INIT;
        ok(dr3_runtime_info_get(&info), "dr3_runtime_info_get");
        std::printf("libdr3 %s, BLIS %s (%s kernels)\n", info.libdr3_version, info.blis_version,
                    info.blis_arch);
        for (float c0 : {0.0f, 0.05f}) {
            std::vector<double> r = run(c0, steps);
            std::printf("c0 = %.2f: mean |phi(s).phi(s')| = %8.4f, mean |V - V_true| = %.4f\n",
                        c0, r[0], r[1]);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_consumer: %s\n", e.what());
        return 1;
    }
    return 0;
}
