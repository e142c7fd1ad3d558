/* Built-in backup operators against values worked out by hand, and their error paths. */
#include "testutil.h"

#include "backup/backup.h"

#include <math.h>
#include <string.h>

enum { NB = 3, NA = 3, LDQ = 4 };

/* Q_target(s'): rows {1, 5, 2}, {-1, -3, -2}, {0, 0, 7}; online argmax picks 0, 2, 1 */
static const float QT[NB * LDQ] = {1, 5, 2, NAN, -1, -3, -2, NAN, 0, 0, 7, NAN};
static const float QO[NB * LDQ] = {9, 1, 1, NAN, 0, 1, 2, NAN, 0, 3, 1, NAN};
static const float OBS[NB * 2] = {0, 1, 2, 3, 4, 5};
static const int32_t NEXT_A[NB] = {2, 1, 0};

/* π(a|s') = (0.5, 0.25, 0.25) for every row */
static int fixed_policy(void *payload, size_t n, const float *obs, size_t ld, float *p,
                        size_t ldp) {
    (void)obs;
    (void)ld;
    int *calls = payload;
    ++*calls;
    for (size_t i = 0; i < n; i++) {
        p[i * ldp] = 0.5f;
        p[i * ldp + 1] = 0.25f;
        p[i * ldp + 2] = 0.25f;
    }
    return 0;
}

/* deterministic policy: always action 1 */
static int one_hot_policy(void *payload, size_t n, const float *obs, size_t ld, float *p,
                          size_t ldp) {
    (void)payload;
    (void)obs;
    (void)ld;
    for (size_t i = 0; i < n; i++) {
        p[i * ldp] = 0;
        p[i * ldp + 1] = 1;
        p[i * ldp + 2] = 0;
    }
    return 0;
}

static int bad_sum_policy(void *payload, size_t n, const float *obs, size_t ld, float *p,
                          size_t ldp) {
    (void)payload;
    (void)obs;
    (void)ld;
    for (size_t i = 0; i < n * ldp; i++) p[i] = 0.5f;
    return 0;
}

static int failing_policy(void *payload, size_t n, const float *obs, size_t ld, float *p,
                          size_t ldp) {
    (void)payload;
    (void)n;
    (void)obs;
    (void)ld;
    (void)p;
    (void)ldp;
    return 7;
}

static dr3_backup_input make_input(float *scratch, dr3_rng *rng) {
    dr3_backup_input in = DR3_BACKUP_INPUT_INIT;
    in.n = NB;
    in.num_actions = NA;
    in.obs_dim = 2;
    in.next_obs = OBS;
    in.ld_next_obs = 2;
    in.q_next_online = QO;
    in.ld_q_next_online = LDQ;
    in.q_next_target = QT;
    in.ld_q_next_target = LDQ;
    in.next_actions = NEXT_A;
    in.rng = rng;
    in.scratch = scratch;
    in.scratch_len = NB * NA;
    return in;
}

static void expect_values(dr3_backup_kind kind, dr3_policy_fn pol, void *payload,
                          const float *expected) {
    float scratch[NB * NA], v[NB];
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    dr3_backup_input in = make_input(scratch, &rng);
    dr3_backup_options o = DR3_BACKUP_OPTIONS_INIT;
    o.kind = kind;
    o.policy = pol;
    o.policy_payload = payload;
    assert_int_equal(dr3_backup_values(&o, &in, v), DR3_OK);
    for (int i = 0; i < NB; i++) TU_ASSERT_CLOSE(v[i], expected[i], 1e-6, 1e-6);
}

/* The softmax backup of n rows at temperature tau, through dr3_backup_values. */
static void softmax_values(const float *qt, size_t ld, size_t n, float tau, float *v) {
    float scratch[NB * NA];
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    dr3_backup_input in = make_input(scratch, &rng);
    in.n = n;
    in.q_next_target = qt;
    in.ld_q_next_target = ld;
    dr3_backup_options o = DR3_BACKUP_OPTIONS_INIT;
    o.kind = DR3_BACKUP_SOFTMAX;
    o.temperature = tau;
    assert_int_equal(dr3_backup_values(&o, &in, v), DR3_OK);
}

/* Σ_a q_a e^{(q_a − max)/τ} / Σ_a e^{(q_a − max)/τ} in long double, for each row. */
static void check_softmax(const float *qt, size_t ld, size_t n, float tau) {
    float v[NB];
    softmax_values(qt, ld, n, tau, v);
    for (size_t i = 0; i < n; i++) {
        const float *row = qt + i * ld;
        long double mx = row[0], z = 0, acc = 0;
        for (size_t a = 1; a < NA; a++) mx = row[a] > mx ? row[a] : mx;
        for (size_t a = 0; a < NA; a++) {
            long double w = expl(((long double)row[a] - mx) / (long double)tau);
            z += w;
            acc += w * row[a];
        }
        assert_true(isfinite(v[i]));
        TU_ASSERT_CLOSE(v[i], (double)(acc / z), 1e-6, 1e-6);
    }
}

static void test_backup_closed_forms(void **state) {
    (void)state;
    const float sarsa[NB] = {2, -3, 0}, mx[NB] = {5, -1, 7}, dbl[NB] = {1, -2, 0};
    expect_values(DR3_BACKUP_SARSA, NULL, NULL, sarsa);
    expect_values(DR3_BACKUP_MAX, NULL, NULL, mx);
    expect_values(DR3_BACKUP_DOUBLE, NULL, NULL, dbl);
    int calls = 0;
    /* 0.5 q0 + 0.25 q1 + 0.25 q2 */
    const float ex[NB] = {0.5f + 1.25f + 0.5f, -0.5f - 0.75f - 0.5f, 1.75f};
    expect_values(DR3_BACKUP_EXPECTED, fixed_policy, &calls, ex);
    assert_int_equal(calls, 1); /* one call for the whole batch */
    /* sampled with a deterministic policy equals the chosen column */
    const float col1[NB] = {5, -3, 0};
    expect_values(DR3_BACKUP_SAMPLED, one_hot_policy, NULL, col1);
    /* softmax: every row at every temperature against the reference below */
    check_softmax(QT, LDQ, NB, 1.0f);
    check_softmax(QT, LDQ, NB, 1e-3f);
    check_softmax(QT, LDQ, NB, 1e6f);
    /* by hand: τ = 1 on {1, 5, 2} is (e + 5e⁵ + 2e²)/(e + e⁵ + e²); a tiny τ approaches the
     * max, a huge one the plain mean */
    double e[3] = {exp(1.0), exp(5.0), exp(2.0)};
    float v[NB];
    softmax_values(QT, LDQ, NB, 1.0f, v);
    TU_ASSERT_CLOSE(v[0], (e[0] + 5 * e[1] + 2 * e[2]) / (e[0] + e[1] + e[2]), 1e-6, 0);
    softmax_values(QT, LDQ, NB, 1e-3f, v);
    TU_ASSERT_CLOSE(v[0], 5, 1e-6, 0);
    TU_ASSERT_CLOSE(v[1], -1, 1e-6, 0);
    TU_ASSERT_CLOSE(v[2], 7, 1e-6, 0);
    softmax_values(QT, LDQ, NB, 1e6f, v);
    TU_ASSERT_CLOSE(v[0], 8.0 / 3, 1e-4, 0);
    TU_ASSERT_CLOSE(v[1], -2, 1e-4, 0);
    TU_ASSERT_CLOSE(v[2], 7.0 / 3, 1e-4, 0);
}

/* |Q| = 1e3 and 1e4 (and Q/τ = 1e7): exp(Q/τ) overflows or underflows in double, so only a
 * max-shifted softmax is finite. */
static void test_softmax_large_magnitude(void **state) {
    (void)state;
    static const float big[NB * LDQ] = {1000,     999, 997,  NAN,   -1000, -1001,
                                        -1000.5f, NAN, 1e4f, -1e4f, 9999,  NAN};
    check_softmax(big, LDQ, NB, 1.0f);
    check_softmax(big, LDQ, NB, 0.5f);
    check_softmax(big, LDQ, NB, 1e-3f);
    /* by hand, τ = 1: row {1000, 999, 997} is 1000 − (e⁻¹ + 3e⁻³)/(1 + e⁻¹ + e⁻³) */
    float v[NB];
    softmax_values(big, LDQ, NB, 1.0f, v);
    double a = exp(-1.0), c = exp(-3.0);
    TU_ASSERT_CLOSE(v[0], 1000 - (a + 3 * c) / (1 + a + c), 1e-7, 0);
    TU_ASSERT_CLOSE(v[2], 1e4 - 1 / (1 + exp(1.0)), 1e-7, 0); /* −1e4 weighs nothing */
}

/* The sampled backup's average over many draws converges to the expected backup. */
static void test_sampled_matches_expectation(void **state) {
    (void)state;
    float scratch[NB * NA], v[NB];
    dr3_rng rng;
    dr3_rng_seed(&rng, 11);
    dr3_backup_input in = make_input(scratch, &rng);
    dr3_backup_options o = DR3_BACKUP_OPTIONS_INIT;
    int calls = 0;
    o.kind = DR3_BACKUP_SAMPLED;
    o.policy = fixed_policy;
    o.policy_payload = &calls;
    double mean[NB] = {0};
    const int T = 40000;
    for (int t = 0; t < T; t++) {
        assert_int_equal(dr3_backup_values(&o, &in, v), DR3_OK);
        for (int i = 0; i < NB; i++) mean[i] += v[i] / T;
    }
    const double ex[NB] = {2.25, -1.75, 1.75};
    /* standard error of each mean < 0.02; allow 5 sigma */
    for (int i = 0; i < NB; i++) TU_ASSERT_CLOSE(mean[i], ex[i], 0, 0.1);
}

static void test_backup_errors(void **state) {
    (void)state;
    float scratch[NB * NA], v[NB] = {42, 42, 42};
    dr3_rng rng;
    dr3_rng_seed(&rng, 3);
    dr3_backup_input in = make_input(scratch, &rng);
    dr3_backup_options o = DR3_BACKUP_OPTIONS_INIT;

    o.kind = DR3_BACKUP_EXPECTED; /* no policy */
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);
    o.policy = bad_sum_policy;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_CALLBACK);
    o.policy = failing_policy;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_CALLBACK);
    o.policy = fixed_policy;
    int calls = 0;
    o.policy_payload = &calls;
    in.scratch_len = 2;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);
    in.scratch_len = NB * NA;

    o.kind = DR3_BACKUP_SARSA;
    in.next_actions = NULL;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);
    const int32_t bad_a[NB] = {0, 3, 0};
    in.next_actions = bad_a;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_RANGE);
    in.next_actions = NEXT_A;

    o.kind = DR3_BACKUP_DOUBLE;
    in.q_next_online = NULL;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);
    in.q_next_online = QO;

    o.kind = DR3_BACKUP_SOFTMAX;
    o.temperature = 0;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);
    o.temperature = 1;
    o.kind = (dr3_backup_kind)42;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);

    o.kind = DR3_BACKUP_MAX;
    float nan_q[NB * LDQ];
    memcpy(nan_q, QT, sizeof nan_q);
    nan_q[5] = NAN;
    in.q_next_target = nan_q;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_NONFINITE);
    in.q_next_target = QT;
    in.ld_q_next_target = 2;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_INVALID_ARG);
    in.ld_q_next_target = LDQ;
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, NULL), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_backup_values(&o, NULL, v), DR3_ERR_INVALID_ARG);
    in.version = 0; /* not initialised */
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_VERSION);
    in.version = DR3_BACKUP_INPUT_VERSION + 1; /* from a newer header */
    TU_ASSERT_FAILS(dr3_backup_values(&o, &in, v), DR3_ERR_VERSION);
    for (int i = 0; i < NB; i++) assert_true(v[i] == 42);

    /* names round-trip; unknown names fail */
    for (int k = 0; k <= 5; k++) {
        dr3_backup_kind parsed;
        assert_int_equal(
            dr3_backup_kind_parse(&parsed, dr3_backup_kind_name((dr3_backup_kind)k)), DR3_OK);
        assert_int_equal(parsed, k);
    }
    dr3_backup_kind parsed;
    TU_ASSERT_FAILS(dr3_backup_kind_parse(&parsed, "argmax"), DR3_ERR_INVALID_ARG);
    assert_null(dr3_backup_kind_name((dr3_backup_kind)6));
}

/* Vtables are read through their version: bad versions, a missing callback and unknown
 * requirement bits are refused; the built-in vtable is named after its operator. */
static void test_vtable_load(void **state) {
    (void)state;
    dr3_backup_vtable vt = DR3_BACKUP_VTABLE_INIT, out;
    vt.name = "x";
    TU_ASSERT_FAILS(dr3i_backup_vtable_load(&out, &vt, "t"), DR3_ERR_INVALID_ARG); /* no cb */
    dr3_backup_options so = DR3_BACKUP_OPTIONS_INIT;
    so.kind = DR3_BACKUP_SARSA;
    dr3_backup_vtable builtin = dr3i_backup_builtin_vtable(&so);
    assert_string_equal(builtin.name, "sarsa");
    assert_int_equal(builtin.needs, DR3_BACKUP_NEEDS_NEXT_ACTIONS);
    vt.next_values = builtin.next_values;
    assert_int_equal(dr3i_backup_vtable_load(&out, &vt, "t"), DR3_OK);
    assert_null(out.destroy);
    assert_int_equal(out.needs, 0);
    vt.needs = 0xffffu;
    TU_ASSERT_FAILS(dr3i_backup_vtable_load(&out, &vt, "t"), DR3_ERR_INVALID_ARG); /* bits */
    vt.needs = 0;
    vt.version = 0;
    TU_ASSERT_FAILS(dr3i_backup_vtable_load(&out, &vt, "t"), DR3_ERR_VERSION);
    vt.version = 40; /* what a 0.1 plugin's size_t struct_size reads as */
    TU_ASSERT_FAILS(dr3i_backup_vtable_load(&out, &vt, "t"), DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "0.1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_closed_forms),
        cmocka_unit_test(test_softmax_large_magnitude),
        cmocka_unit_test(test_sampled_matches_expectation),
        cmocka_unit_test(test_backup_errors),
        cmocka_unit_test(test_vtable_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
