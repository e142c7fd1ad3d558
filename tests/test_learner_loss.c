/* The losses a learner step reports, against a reference computed here in double from the
 * network parameters alone: our own forward pass over the flat PyTorch-layout parameter
 * vector (dr3/net.h contract), the TD targets y = r + discount · max_a Q_target(s', a), the
 * TD loss (MSE and Huber, weighted), and every regularizer — DR3 plain, |·| and with the
 * terminal mask c0 · (1/n) Σ (1 − terminal_i) φ_i·φ'_i — and CQL; the gradient the step
 * used against central differences of that reference loss, and the feature metrics (mean
 * φ·φ', cosine, norm, dead units) and Q-values. Nothing here compares the learner against
 * itself. */
#include "testutil.h"

#include <dr3/learner.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { S = 3, H1 = 6, H2 = 5, NA = 3, BN = 8 };
enum { NPARAM = H1 * S + H1 + H2 * H1 + H2 + NA * H2 + NA };

static const double RTOL = 1e-5, ATOL = 2e-6;

/* ---- the reference: an MLP S → H1 → H2 → NA in double ----------------------------------- */

/* One linear layer y = W x + b with W [out × in] row-major followed by b [out], as
 * torch.nn.Linear stores them; returns the parameters after this layer. */
static const double *ref_linear(const double *p, size_t in, size_t out, const double *x,
                                double *y) {
    for (size_t o = 0; o < out; o++) {
        double s = p[in * out + o];
        for (size_t k = 0; k < in; k++) s += p[o * in + k] * x[k];
        y[o] = s;
    }
    return p + in * out + out;
}

static double ref_act(dr3_activation act, double x) {
    if (act == DR3_ACT_TANH) return tanh(x);
    assert_int_equal(act, DR3_ACT_RELU);
    return x > 0 ? x : 0;
}

/* Q(s, ·) and φ(s) (the last hidden layer after its activation) of one observation. */
static void ref_forward(dr3_activation act, const double *params, const float *obs,
                        double q[NA], double phi[H2]) {
    double x[S], h1[H1];
    for (size_t k = 0; k < S; k++) x[k] = obs[k];
    const double *p = ref_linear(params, S, H1, x, h1);
    for (size_t k = 0; k < H1; k++) h1[k] = ref_act(act, h1[k]);
    p = ref_linear(p, H1, H2, h1, phi);
    for (size_t k = 0; k < H2; k++) phi[k] = ref_act(act, phi[k]);
    p = ref_linear(p, H2, NA, phi, q);
    assert_true(p == params + NPARAM);
}

typedef struct batch_data {
    float obs[BN][S], next_obs[BN][S], rewards[BN], weights[BN], discounts[BN];
    int32_t actions[BN];
    uint8_t terminals[BN];
} batch_data;

static void fill_batch(batch_data *d, uint64_t seed) {
    dr3_rng rng;
    dr3_rng_seed(&rng, seed);
    memset(d, 0, sizeof *d);
    for (int i = 0; i < BN; i++) {
        for (int j = 0; j < S; j++) {
            d->obs[i][j] = 3 * dr3_rng_uniform(&rng) - 1.5f;
            d->next_obs[i][j] = 3 * dr3_rng_uniform(&rng) - 1.5f;
        }
        d->rewards[i] = 4 * dr3_rng_uniform(&rng) - 2;
        d->weights[i] = 0.25f + 1.5f * dr3_rng_uniform(&rng);
        d->actions[i] = (int32_t)dr3_rng_below(&rng, NA);
    }
    /* terminal rows 1, 5 and 6: asymmetric, so masking them and masking the others differ */
    d->terminals[1] = d->terminals[5] = d->terminals[6] = 1;
}

/* Which regularizers the learner under test has (in this order). */
typedef struct reg_spec {
    dr3_regularizer_kind kind;
    float coef;
    unsigned flags;
} reg_spec;

/* What the learner computes: its activation, TD loss and regularizers. */
typedef struct ref_model {
    dr3_activation act;
    dr3_td_kind kind;
    double delta;
    const reg_spec *regs;
    size_t nregs;
} ref_model;

typedef struct ref_result {
    double td, reg[4], total, mean_q, mean_target;
    double feature_dot, feature_cos, feature_norm, dead_fraction;
    double q[BN][NA];                /* Q(s_i, ·) of the online network */
    int huber_inside, huber_outside; /* rows on each side of the Huber threshold */
} ref_result;

/* How the reference derives each row's discount and non-terminal flag, following the
 * dr3_batch documentation. */
typedef struct ref_batch_rules {
    double gamma;
    const float *discounts;   /* NULL: gamma · (1 − terminal) */
    const uint8_t *terminals; /* NULL: nothing is terminal */
    const float *weights;     /* NULL: 1 */
    int invert_mask;          /* 1: the wrong mask (terminal_i), to show the test has power */
} ref_batch_rules;

static void reference(const double *online, const double *target, const batch_data *d, size_t n,
                      const ref_batch_rules *rules, const ref_model *md, ref_result *out) {
    memset(out, 0, sizeof *out);
    const reg_spec *regs = md->regs;
    double td = 0, sq = 0, sy = 0, dotsum = 0, cossum = 0, normsum = 0;
    double reg[4] = {0};
    int alive[H2] = {0};
    for (size_t i = 0; i < n; i++) {
        double q[NA], phi[H2], qn[NA], phin[H2], qt[NA], phit[H2];
        ref_forward(md->act, online, d->obs[i], q, phi);
        ref_forward(md->act, online, d->next_obs[i], qn, phin);
        ref_forward(md->act, target, d->next_obs[i], qt, phit);
        memcpy(out->q[i], q, sizeof q);
        int term = rules->terminals ? rules->terminals[i] != 0 : 0;
        double disc = rules->discounts ? rules->discounts[i] : rules->gamma * (term ? 0 : 1);
        double nonterminal = rules->terminals ? (term ? 0.0 : 1.0) : (disc > 0 ? 1.0 : 0.0);
        if (rules->invert_mask) nonterminal = 1.0 - nonterminal;
        double v = qt[0];
        for (int a = 1; a < NA; a++) v = qt[a] > v ? qt[a] : v;
        double y = d->rewards[i] + disc * v;
        double qa = q[d->actions[i]], x = qa - y, l;
        if (md->kind == DR3_TD_MSE) {
            l = x * x;
        } else if (fabs(x) <= md->delta) {
            l = 0.5 * x * x;
            out->huber_inside++;
        } else {
            l = md->delta * (fabs(x) - 0.5 * md->delta);
            out->huber_outside++;
        }
        td += (rules->weights ? rules->weights[i] : 1.0) * l;
        sq += qa;
        sy += y;
        double dot = 0, n1 = 0, n2 = 0;
        for (int k = 0; k < H2; k++) {
            dot += phi[k] * phin[k];
            n1 += phi[k] * phi[k];
            n2 += phin[k] * phin[k];
            alive[k] |= phi[k] != 0 || phin[k] != 0;
        }
        dotsum += dot;
        normsum += sqrt(n1);
        if (n1 > 0 && n2 > 0) cossum += dot / sqrt(n1 * n2);
        for (size_t r = 0; r < md->nregs; r++) {
            if (regs[r].kind == DR3_REG_DR3) {
                double m = (regs[r].flags & DR3_REG_MASK_TERMINAL) ? nonterminal : 1.0;
                reg[r] += m * ((regs[r].flags & DR3_REG_ABS) ? fabs(dot) : dot);
            } else if (regs[r].kind == DR3_REG_CQL) {
                double mx = q[0];
                for (int a = 1; a < NA; a++) mx = q[a] > mx ? q[a] : mx;
                double e = 0;
                for (int a = 0; a < NA; a++) e += exp(q[a] - mx);
                reg[r] += mx + log(e) - qa;
            } else {
                fail_msg("reference: regularizer kind %d not modelled", (int)regs[r].kind);
            }
        }
    }
    out->td = td / (double)n;
    out->total = out->td;
    for (size_t r = 0; r < md->nregs; r++) {
        out->reg[r] = regs[r].coef * reg[r] / (double)n;
        out->total += out->reg[r];
    }
    out->mean_q = sq / (double)n;
    out->mean_target = sy / (double)n;
    out->feature_dot = dotsum / (double)n;
    out->feature_cos = cossum / (double)n;
    out->feature_norm = normsum / (double)n;
    int dead = 0;
    for (int k = 0; k < H2; k++) dead += !alive[k];
    out->dead_fraction = dead / (double)H2;
}

/* The gradient of the reference loss w.r.t. the online parameters by central differences in
 * double (the target network and the batch fixed). */
static void reference_gradient(const double *online, const double *target, const batch_data *d,
                               size_t n, const ref_batch_rules *rules, const ref_model *md,
                               double *grad) {
    double p[NPARAM];
    memcpy(p, online, sizeof p);
    const double h = 1e-6;
    for (size_t k = 0; k < NPARAM; k++) {
        ref_result up, dn;
        p[k] = online[k] + h;
        reference(p, target, d, n, rules, md, &up);
        p[k] = online[k] - h;
        reference(p, target, d, n, rules, md, &dn);
        p[k] = online[k];
        grad[k] = (up.total - dn.total) / (2 * h);
    }
}

/* ---- the learner under test ------------------------------------------------------------- */

static dr3_learner *make_learner(const ref_model *md, float gamma, uint64_t seed) {
    static const size_t hidden[2] = {H1, H2};
    dr3_regularizer_options ro[4];
    for (size_t r = 0; r < md->nregs; r++) {
        ro[r] = (dr3_regularizer_options)DR3_REGULARIZER_OPTIONS_INIT;
        ro[r].kind = md->regs[r].kind;
        ro[r].coef = md->regs[r].coef;
        ro[r].flags = md->regs[r].flags;
    }
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.lr = 0.02f; /* Adam: the parameters move, so later steps are checked at new points */
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = NA;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.activation = md->act;
    o.batch_size = BN;
    o.gamma = gamma;
    o.td_kind = md->kind;
    o.huber_delta = (float)md->delta;
    o.target_update_period = 2; /* the target moves too, and differs from the online net */
    o.optim = &oo;
    const dr3_regularizer_options *ro_ptrs[4];
    for (size_t r = 0; r < md->nregs && r < 4; r++) ro_ptrs[r] = &ro[r];
    o.regularizers = ro_ptrs;
    o.num_regularizers = md->nregs;
    o.seed = seed;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    /* a target different from the online network from the first step on */
    assert_int_equal(dr3_net_reset_params(dr3_learner_target(l), seed + 1000), DR3_OK);
    return l;
}

static void check_metrics(const dr3_learner *l, const dr3_step_metrics *m,
                          const ref_result *ref, size_t nregs) {
    assert_int_equal(m->num_regularizers, nregs);
    TU_ASSERT_CLOSE(m->td_loss, ref->td, RTOL, ATOL);
    for (size_t r = 0; r < nregs; r++) {
        float reg = 0;
        assert_int_equal(dr3_learner_reg_loss(&reg, l, r), DR3_OK);
        TU_ASSERT_CLOSE(reg, ref->reg[r], RTOL, ATOL);
    }
    TU_ASSERT_CLOSE(m->loss, ref->total, RTOL, ATOL);
    TU_ASSERT_CLOSE(m->mean_q, ref->mean_q, RTOL, ATOL);
    TU_ASSERT_CLOSE(m->mean_target, ref->mean_target, RTOL, ATOL);
    TU_ASSERT_CLOSE(m->feature_dot, ref->feature_dot, RTOL, ATOL);
    TU_ASSERT_CLOSE(m->feature_cos, ref->feature_cos, RTOL, ATOL);
    TU_ASSERT_CLOSE(m->feature_norm, ref->feature_norm, RTOL, ATOL);
    TU_ASSERT_CLOSE(m->dead_fraction, ref->dead_fraction, 0, 1e-7);
}

static void to_double(const float *x, double *y, size_t n) {
    for (size_t k = 0; k < n; k++) y[k] = x[k];
}

/* Steps a learner on batch b several times; before each step, computes the reference from
 * the parameters as they are then and compares what q_values, evaluate and step report and
 * the gradient the step used. */
static void run_case(dr3_learner *l, const dr3_batch *b, const batch_data *d,
                     const ref_batch_rules *rules, const ref_model *md, int steps) {
    dr3_net *on = dr3_learner_online(l), *tg = dr3_learner_target(l);
    assert_int_equal(dr3_net_param_count(on), NPARAM);
    double online[NPARAM], target[NPARAM], fd[NPARAM];
    int inside = 0, outside = 0;
    for (int t = 0; t < steps; t++) {
        to_double(dr3_net_params(on), online, NPARAM);
        to_double(dr3_net_params(tg), target, NPARAM);
        ref_result ref;
        reference(online, target, d, b->n, rules, md, &ref);
        inside += ref.huber_inside;
        outside += ref.huber_outside;

        /* the test has power: the wrong (inverted) terminal mask gives other numbers */
        for (size_t r = 0; r < md->nregs; r++)
            if (md->regs[r].kind == DR3_REG_DR3 &&
                (md->regs[r].flags & DR3_REG_MASK_TERMINAL)) {
                ref_batch_rules wrong = *rules;
                wrong.invert_mask = 1;
                ref_result bad;
                reference(online, target, d, b->n, &wrong, md, &bad);
                if (!(fabs(bad.reg[r] - ref.reg[r]) > 20 * (ATOL + RTOL * fabs(ref.reg[r]))))
                    fail_msg("step %d, regularizer %zu: masked %.9g and inverted mask %.9g are "
                             "too close for this batch to tell them apart",
                             t, r, ref.reg[r], bad.reg[r]);
            }

        float q[BN][NA];
        assert_int_equal(dr3_learner_q_values(l, b->n, b->obs, b->ld_obs, &q[0][0], NA),
                         DR3_OK);
        for (size_t i = 0; i < b->n; i++)
            for (int a = 0; a < NA; a++) TU_ASSERT_CLOSE(q[i][a], ref.q[i][a], RTOL, ATOL);

        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_evaluate(l, b, &m), DR3_OK);
        check_metrics(l, &m, &ref, md->nregs);
        assert_true(m.grad_norm == 0.0f); /* evaluation takes no gradient */

        reference_gradient(online, target, d, b->n, rules, md, fd);
        m = (dr3_step_metrics)DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_step(l, b, &m), DR3_OK);
        check_metrics(l, &m, &ref, md->nregs); /* a step reports the losses before its update */
        /* no clipping is configured: the network's gradient vector is the one the step used */
        const float *g = dr3_net_grads(on);
        double err = 0, nrm = 0;
        for (size_t k = 0; k < NPARAM; k++) {
            TU_ASSERT_CLOSE(g[k], fd[k], 1e-3, 1e-5);
            err += (g[k] - fd[k]) * (g[k] - fd[k]);
            nrm += fd[k] * fd[k];
        }
        assert_true(sqrt(err) <= 1e-4 * sqrt(nrm));
        TU_ASSERT_CLOSE(m.grad_norm, sqrt(nrm), 1e-4, 1e-6);
    }
    if (md->kind == DR3_TD_HUBER) assert_true(inside > 0 && outside > 0); /* both branches */
}

static dr3_batch batch_of(batch_data *d) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = BN;
    b.obs = &d->obs[0][0];
    b.ld_obs = S;
    b.next_obs = &d->next_obs[0][0];
    b.ld_next_obs = S;
    b.actions = d->actions;
    b.rewards = d->rewards;
    b.terminals = d->terminals;
    return b;
}

/* ---- the cases -------------------------------------------------------------------------- */

static const reg_spec ALL_REGS[4] = {{DR3_REG_DR3, 0.7f, DR3_REG_MASK_TERMINAL},
                                     {DR3_REG_DR3, 0.2f, 0},
                                     {DR3_REG_DR3, 0.3f, DR3_REG_ABS | DR3_REG_MASK_TERMINAL},
                                     {DR3_REG_CQL, 0.5f, 0}};

/* Terminals from the batch, discount γ(1 − terminal), Huber with per-row weights. */
static void test_losses_huber_terminals(void **state) {
    (void)state;
    batch_data d;
    fill_batch(&d, 21);
    dr3_batch b = batch_of(&d);
    b.weights = d.weights;
    const float gamma = 0.9f;
    const ref_model md = {DR3_ACT_TANH, DR3_TD_HUBER, 0.5, ALL_REGS, 4};
    dr3_learner *l = make_learner(&md, gamma, 7);
    ref_batch_rules rules = {gamma, NULL, d.terminals, d.weights, 0};
    run_case(l, &b, &d, &rules, &md, 4);
    dr3_learner_free(l);
}

/* Only the DR3 term with the terminal mask (the learner's non-terminal flags are all it
 * reads), MSE, no weights. */
static void test_dr3_terminal_mask_alone(void **state) {
    (void)state;
    batch_data d;
    fill_batch(&d, 22);
    dr3_batch b = batch_of(&d);
    const float gamma = 0.99f;
    const ref_model md = {DR3_ACT_TANH, DR3_TD_MSE, 1.0, ALL_REGS, 1};
    dr3_learner *l = make_learner(&md, gamma, 8);
    ref_batch_rules rules = {gamma, NULL, d.terminals, NULL, 0};
    run_case(l, &b, &d, &rules, &md, 3);
    dr3_learner_free(l);
}

/* k-step style discounts given explicitly and no terminals: discount_i is used as is and a
 * row is non-terminal when its discount is > 0. */
static void test_losses_mse_discounts(void **state) {
    (void)state;
    batch_data d;
    fill_batch(&d, 23);
    const float disc[BN] = {0.9f, 0.0f, 0.81f, 0.729f, 0.5f, 0.0f, 0.0f, 1.0f};
    memcpy(d.discounts, disc, sizeof disc);
    dr3_batch b = batch_of(&d);
    b.terminals = NULL;
    b.discounts = d.discounts;
    const ref_model md = {DR3_ACT_TANH, DR3_TD_MSE, 1.0, ALL_REGS, 4};
    dr3_learner *l = make_learner(&md, 0.3f, 9);
    ref_batch_rules rules = {0.3f, d.discounts, NULL, NULL, 0};
    run_case(l, &b, &d, &rules, &md, 3);
    dr3_learner_free(l);
}

/* Discounts and terminals both given (the mask comes from the terminals), Huber δ = 1.5,
 * weights, the regularizers in another order. */
static void test_losses_huber_discounts_and_terminals(void **state) {
    (void)state;
    batch_data d;
    fill_batch(&d, 24);
    for (int i = 0; i < BN; i++) d.discounts[i] = d.terminals[i] ? 0.0f : 0.95f - 0.05f * i;
    dr3_batch b = batch_of(&d);
    b.discounts = d.discounts;
    b.weights = d.weights;
    const reg_spec regs[3] = {ALL_REGS[3], ALL_REGS[2], ALL_REGS[0]};
    const ref_model md = {DR3_ACT_TANH, DR3_TD_HUBER, 1.5, regs, 3};
    dr3_learner *l = make_learner(&md, 0.5f, 10);
    ref_batch_rules rules = {0.5f, d.discounts, d.terminals, d.weights, 0};
    run_case(l, &b, &d, &rules, &md, 3);
    dr3_learner_free(l);
}

/* ReLU features where unit 1 of φ is off on every row (bias −50), unit 3 is on only for two
 * next states (it reads a first-layer unit that fires only when the first coordinate of the
 * observation exceeds 1, which only s'_2 and s'_6 do) and the others are on (bias 1): a unit
 * counts as dead only when it is 0 on all 2n rows, so the dead fraction is 1/5; the other
 * metrics, the losses and the gradient follow the reference as before. */
static void test_relu_dead_units(void **state) {
    (void)state;
    batch_data d;
    fill_batch(&d, 25);
    for (int i = 0; i < BN; i++) {
        d.obs[i][0] *= 0.5f; /* <= 0.75 */
        d.next_obs[i][0] *= 0.5f;
    }
    d.next_obs[2][0] = 1.4f;
    d.next_obs[6][0] = 1.3f;
    dr3_batch b = batch_of(&d);
    const ref_model md = {DR3_ACT_RELU, DR3_TD_HUBER, 1.0, ALL_REGS, 4};
    dr3_learner *l = make_learner(&md, 0.9f, 11);
    float *w1 = dr3_net_params(dr3_learner_online(l)), *b1 = w1 + H1 * S;
    float *w2 = b1 + H1, *b2 = w2 + H2 * H1;
    w1[0] = 10; /* h1_0 = relu(10 x_0 − 10): > 0 only for x_0 > 1 */
    w1[1] = w1[2] = 0;
    b1[0] = -10;
    for (int k = 0; k < H1; k++) w2[3 * H1 + k] = k == 0 ? 20.0f : 0.0f;
    b2[3] = -1; /* φ_3 = relu(20 h1_0 − 1) */
    b2[1] = -50;
    b2[0] = b2[2] = b2[4] = 1;
    ref_batch_rules rules = {0.9f, NULL, d.terminals, NULL, 0};
    double online[NPARAM], target[NPARAM];
    to_double(w1, online, NPARAM);
    to_double(dr3_net_params(dr3_learner_target(l)), target, NPARAM);
    ref_result ref;
    reference(online, target, &d, BN, &rules, &md, &ref);
    TU_ASSERT_CLOSE(ref.dead_fraction, 0.2, 0, 1e-12); /* the construction worked */
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_evaluate(l, &b, &m), DR3_OK);
    TU_ASSERT_CLOSE(m.dead_fraction, 0.2, 0, 1e-7);
    run_case(l, &b, &d, &rules, &md, 2);
    dr3_learner_free(l);
}

/* ---- the TD loss worked out by hand -------------------------------------------------------
 */

/* A linear Q-network (no hidden layer): Q(s) = W s + b on 2-dimensional observations with 2
 * actions, parameters [W00 W01 W10 W11 b0 b1] set by hand for the online and target nets. */
static dr3_learner *linear_learner(dr3_td_kind kind) {
    static const float online[6] = {0.5f, -1, 2, 0.25f, 0.1f, -0.2f};
    static const float target[6] = {1, 2, -1, 3, 0.5f, -0.5f};
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.kind = DR3_OPTIM_SGD;
    oo.lr = 0.1f;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = 2;
    o.num_actions = 2;
    o.num_hidden = 0;
    o.batch_size = 4;
    o.gamma = 0.9f; /* not used: the batch gives its discounts */
    o.td_kind = kind;
    o.huber_delta = 1.0f;
    o.target_update_period = 1000;
    o.optim = &oo;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    assert_int_equal(dr3_net_param_count(dr3_learner_online(l)), 6);
    memcpy(dr3_net_params(dr3_learner_online(l)), online, sizeof online);
    memcpy(dr3_net_params(dr3_learner_target(l)), target, sizeof target);
    return l;
}

/* s = (1,0), (0,1), (1,1), (2,−1); a = 0, 1, 1, 0; r = 1, 0, −1, 0.5; s' = (0,1), (1,−1),
 * (2,0), (0,0); discounts 0.5, 0.25, 0 (terminal), 1.
 * Q_target(s') = (2.5, 2.5), (−0.5, −4.5), (2.5, −2.5), (0.5, −0.5): max 2.5, −0.5, ·, 0.5.
 * y = (1 + 0.5·2.5, 0.25·(−0.5), −1, 0.5 + 0.5) = (2.25, −0.125, −1, 1), mean 0.53125.
 * Q(s, a) = (0.6, 0.05, 2.05, 2.1), mean 1.2; errors x = (−1.65, 0.175, 3.05, 1.1).
 * Huber (δ = 1): 1.15, 0.0153125, 2.55, 0.6 → mean 1.078828125; with weights (1, 2, 0.5, 0):
 * (1.15 + 0.030625 + 1.275) / 4 = 0.61390625. MSE: 2.7225, 0.030625, 9.3025, 1.21 → mean
 * 3.31640625; weighted (2.7225 + 0.06125 + 4.65125) / 4 = 1.85875. */
static void test_td_loss_by_hand(void **state) {
    (void)state;
    static const float obs[8] = {1, 0, 0, 1, 1, 1, 2, -1}, next[8] = {0, 1, 1, -1, 2, 0, 0, 0};
    static const int32_t act[4] = {0, 1, 1, 0};
    static const float rew[4] = {1, 0, -1, 0.5f}, disc[4] = {0.5f, 0.25f, 0, 1};
    static const float w[4] = {1, 2, 0.5f, 0};
    static const uint8_t term[4] = {0, 0, 1, 0};
    dr3_batch b = DR3_BATCH_INIT;
    b.n = 4;
    b.obs = obs;
    b.ld_obs = 2;
    b.next_obs = next;
    b.ld_next_obs = 2;
    b.actions = act;
    b.rewards = rew;
    b.discounts = disc;
    b.terminals = term;
    const struct {
        dr3_td_kind kind;
        const float *weights;
        double td;
    } cases[4] = {{DR3_TD_HUBER, NULL, 1.078828125},
                  {DR3_TD_HUBER, w, 0.61390625},
                  {DR3_TD_MSE, NULL, 3.31640625},
                  {DR3_TD_MSE, w, 1.85875}};
    for (int c = 0; c < 4; c++) {
        dr3_learner *l = linear_learner(cases[c].kind);
        b.weights = cases[c].weights;
        dr3_step_metrics m = DR3_STEP_METRICS_INIT;
        assert_int_equal(dr3_learner_evaluate(l, &b, &m), DR3_OK);
        TU_ASSERT_CLOSE(m.td_loss, cases[c].td, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(m.loss, cases[c].td, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(m.mean_target, 0.53125, 1e-6, 1e-7);
        TU_ASSERT_CLOSE(m.mean_q, 1.2, 1e-6, 1e-7);
        dr3_learner_free(l);
    }
    /* one SGD step (lr 0.1) with weighted Huber: dL/dQ_i = w_i clip(x_i, ±1) / 4 =
     * (−0.25, 0.0875, 0.125, 0); W[a_i] −= 0.1 g_i s_i, b[a_i] −= 0.1 g_i gives
     * W = [0.525 −1; 1.9875 0.22875], b = (0.125, −0.22125). */
    dr3_learner *l = linear_learner(DR3_TD_HUBER);
    b.weights = w;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);
    TU_ASSERT_CLOSE(m.td_loss, 0.61390625, 1e-6, 1e-7);
    const double after[6] = {0.525, -1, 1.9875, 0.22875, 0.125, -0.22125};
    const float *p = dr3_net_params(dr3_learner_online(l));
    for (int k = 0; k < 6; k++) TU_ASSERT_CLOSE(p[k], after[k], 1e-6, 1e-7);
    /* ‖g‖ over W and b: row 0 contributes (−0.25, 0) to W[0] and −0.25 to b0; rows 1, 2 give
     * W[1] = (0.125, 0.2125), b1 = 0.2125 */
    TU_ASSERT_CLOSE(m.grad_norm, sqrt(0.0625 + 0.0625 + 0.015625 + 0.04515625 + 0.04515625),
                    1e-6, 1e-7);
    dr3_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_huber_terminals),
        cmocka_unit_test(test_dr3_terminal_mask_alone),
        cmocka_unit_test(test_losses_mse_discounts),
        cmocka_unit_test(test_losses_huber_discounts_and_terminals),
        cmocka_unit_test(test_relu_dead_units),
        cmocka_unit_test(test_td_loss_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
