/* Built-in regularizers on a step view: closed forms, the gradient buffers each one feeds,
 * option validation and vtable loading. */
#include "testutil.h"

#include "regularizer/regularizer.h"

#include <math.h>
#include <string.h>

enum { RN = 4, RD = 3, RA = 2, RP = 5 };

typedef struct fixture {
    float phi[RN * RD], nxt[RN * RD], q[RN * RA], qn[RN * RA], params[RP];
    float nonterminal[RN], discounts[RN];
    int32_t actions[RN];
    float g_phi[RN * RD], g_nxt[RN * RD], g_q[RN * RA], g_qn[RN * RA], g_params[RP];
    dr3_reg_view view;
    dr3_reg_grads grads;
} fixture;

static void setup(fixture *f) {
    memset(f, 0, sizeof *f);
    for (int i = 0; i < RN * RD; i++) {
        f->phi[i] = (float)(i % 5) - 1.5f;
        f->nxt[i] = (float)((i * 3) % 7) * 0.5f - 1.0f;
    }
    for (int i = 0; i < RN * RA; i++) f->q[i] = f->qn[i] = (float)i * 0.25f;
    for (int i = 0; i < RP; i++) f->params[i] = (float)i - 2.0f;
    for (int i = 0; i < RN; i++) {
        f->nonterminal[i] = i == 2 ? 0.0f : 1.0f;
        f->discounts[i] = 0.99f * f->nonterminal[i];
        f->actions[i] = i % RA;
    }
    f->view = (dr3_reg_view){DR3_REG_VIEW_VERSION,
                             RN,
                             RD,
                             RA,
                             RP,
                             f->phi,
                             RD,
                             f->nxt,
                             RD,
                             f->q,
                             RA,
                             f->qn,
                             RA,
                             f->actions,
                             NULL,
                             f->discounts,
                             f->nonterminal,
                             f->params,
                             0};
    f->grads = (dr3_reg_grads){DR3_REG_GRADS_VERSION,
                               f->g_phi,
                               RD,
                               f->g_nxt,
                               RD,
                               f->g_q,
                               RA,
                               f->g_qn,
                               RA,
                               f->g_params};
}

static double row_dot(const fixture *f, int i) {
    double s = 0;
    for (int j = 0; j < RD; j++) s += (double)f->phi[i * RD + j] * f->nxt[i * RD + j];
    return s;
}

static void test_dr3_variants(void **state) {
    (void)state;
    fixture f;
    for (unsigned flags = 0; flags < 4; flags++) {
        setup(&f);
        dr3_regularizer_options o = DR3_REGULARIZER_OPTIONS_INIT;
        o.coef = 0.3f;
        o.flags = flags;
        float loss;
        assert_int_equal(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_OK);
        double expect = 0;
        for (int i = 0; i < RN; i++) {
            if ((flags & DR3_REG_MASK_TERMINAL) && i == 2) continue;
            double d = row_dot(&f, i);
            expect += (flags & DR3_REG_ABS) ? fabs(d) : d;
        }
        expect *= 0.3 / RN;
        TU_ASSERT_CLOSE(loss, expect, 1e-6, 1e-7);
        /* gradient reaches both phi and phi_next; masked row gets none */
        for (int i = 0; i < RN; i++) {
            double s = 0.3 / RN;
            if ((flags & DR3_REG_MASK_TERMINAL) && i == 2) s = 0;
            if ((flags & DR3_REG_ABS) && row_dot(&f, i) < 0) s = -s;
            for (int j = 0; j < RD; j++) {
                TU_ASSERT_CLOSE(f.g_phi[i * RD + j], s * f.nxt[i * RD + j], 1e-6, 1e-7);
                TU_ASSERT_CLOSE(f.g_nxt[i * RD + j], s * f.phi[i * RD + j], 1e-6, 1e-7);
            }
        }
        for (int k = 0; k < RN * RA; k++) assert_true(f.g_q[k] == 0);
    }
}

static void test_cql_l2_feature(void **state) {
    (void)state;
    fixture f;
    setup(&f);
    dr3_regularizer_options o = DR3_REGULARIZER_OPTIONS_INIT;
    float loss;
    o.kind = DR3_REG_CQL;
    o.coef = 2.0f;
    assert_int_equal(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_OK);
    double expect = 0;
    for (int i = 0; i < RN; i++) {
        double a = f.q[i * RA], b = f.q[i * RA + 1];
        expect += log(exp(a) + exp(b)) - f.q[i * RA + f.actions[i]];
    }
    TU_ASSERT_CLOSE(loss, 2.0 * expect / RN, 1e-6, 1e-7);
    /* dQ(s_i, a) = coef/n · (softmax_a − [a = a_i]) in every row; nothing else is touched */
    for (int i = 0; i < RN; i++) {
        double a = f.q[i * RA], b = f.q[i * RA + 1];
        double p0 = 1.0 / (1.0 + exp(b - a)), p[RA] = {p0, 1.0 - p0};
        for (int k = 0; k < RA; k++)
            TU_ASSERT_CLOSE(f.g_q[i * RA + k], 2.0 / RN * (p[k] - (k == f.actions[i])), 1e-6,
                            1e-7);
    }
    for (int k = 0; k < RN * RA; k++) assert_true(f.g_qn[k] == 0);
    for (int k = 0; k < RN * RD; k++) assert_true(f.g_phi[k] == 0 && f.g_nxt[k] == 0);

    o.kind = DR3_REG_L2;
    o.coef = 0.1f;
    assert_int_equal(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_OK);
    TU_ASSERT_CLOSE(loss, 0.05 * (4 + 1 + 0 + 1 + 4), 1e-6, 0);
    for (int k = 0; k < RP; k++) TU_ASSERT_CLOSE(f.g_params[k], 0.1 * f.params[k], 1e-6, 1e-7);

    setup(&f);
    o.kind = DR3_REG_FEATURE_L2;
    o.coef = 0.5f;
    assert_int_equal(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_OK);
    double sq = 0;
    for (int k = 0; k < RN * RD; k++) sq += (double)f.phi[k] * f.phi[k];
    TU_ASSERT_CLOSE(loss, 0.5 * sq / RN, 1e-6, 0);
    for (int k = 0; k < RN * RD; k++)
        TU_ASSERT_CLOSE(f.g_phi[k], 2 * 0.5 * f.phi[k] / RN, 1e-6, 1e-7);
    for (int k = 0; k < RN * RD; k++) assert_true(f.g_nxt[k] == 0);
}

static void test_options_and_errors(void **state) {
    (void)state;
    fixture f;
    setup(&f);
    dr3_regularizer_options o = DR3_REGULARIZER_OPTIONS_INIT;
    float loss = 9;
    o.coef = -1;
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    o.coef = NAN;
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    o.coef = 1;
    o.kind = DR3_REG_CQL;
    o.flags = DR3_REG_ABS; /* DR3-only flag */
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    o.flags = 0;
    o.kind = (dr3_regularizer_kind)17;
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3_regularizer_apply(NULL, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    o.kind = DR3_REG_DR3;
    o.flags = DR3_REG_MASK_TERMINAL;
    f.view.nonterminal = NULL;
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    f.view.nonterminal = f.nonterminal;
    o.kind = DR3_REG_CQL;
    o.flags = 0;
    f.actions[1] = 5;
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_RANGE);
    f.actions[1] = 1;
    o.kind = DR3_REG_L2;
    f.grads.params = NULL;
    TU_ASSERT_FAILS(dr3_regularizer_apply(&o, &f.view, &f.grads, &loss), DR3_ERR_INVALID_ARG);
    assert_true(loss == 9);
    assert_string_equal(dr3_regularizer_kind_name(DR3_REG_FEATURE_L2), "feature_l2");
    assert_null(dr3_regularizer_kind_name((dr3_regularizer_kind)4));

    /* vtables: read through their version; bad versions and a missing apply are refused;
     * built-ins are named after their kind */
    dr3_regularizer_options cql = DR3_REGULARIZER_OPTIONS_INIT;
    cql.kind = DR3_REG_CQL;
    dr3_regularizer_vtable vt = dr3i_regularizer_builtin_vtable(&cql), out;
    assert_string_equal(vt.name, "cql");
    assert_int_equal(dr3i_regularizer_vtable_load(&out, &vt, "t"), DR3_OK);
    assert_null(out.destroy);
    vt.version = 0;
    TU_ASSERT_FAILS(dr3i_regularizer_vtable_load(&out, &vt, "t"), DR3_ERR_VERSION);
    vt.version = 32; /* a 0.1 plugin's struct_size */
    TU_ASSERT_FAILS(dr3i_regularizer_vtable_load(&out, &vt, "t"), DR3_ERR_VERSION);
    vt.version = DR3_REGULARIZER_VTABLE_VERSION;
    vt.apply = NULL;
    TU_ASSERT_FAILS(dr3i_regularizer_vtable_load(&out, &vt, "t"), DR3_ERR_INVALID_ARG);
    TU_ASSERT_FAILS(dr3i_regularizer_vtable_load(&out, NULL, "t"), DR3_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dr3_variants),
        cmocka_unit_test(test_cql_l2_feature),
        cmocka_unit_test(test_options_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
