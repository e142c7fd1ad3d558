/* Plugins compiled against the frozen 0.1 sys/ headers, offered to the 1.x library: 1.0
 * replaced the plugin structs' size_t struct_size by an explicit version (release notes in
 * docs/api-stability.md), so they must be refused with DR3_ERR_VERSION and a message asking
 * for a rebuild, and the learner must keep working unchanged. */
#include "testutil.h"

#include <dr3/learner.h>
#include <dr3/sys/backup.h>
#include <dr3/sys/regularizer.h>

#include <math.h>
#include <string.h>

/* from compat_plugins.c (compiled against tests/compat/v0_1) */
const void *compat_backup_vtable(void);
const void *compat_regularizer_vtable(void);

static void test_old_plugins_load_and_run(void **state) {
    (void)state;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    static const size_t hidden[1] = {8};
    o.obs_dim = 2;
    o.num_actions = 3;
    o.num_hidden = 1;
    o.hidden = hidden;
    o.batch_size = 4;
    o.td_kind = DR3_TD_MSE;
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.kind = DR3_OPTIM_SGD;
    oo.lr = 0.0f;
    o.optim = &oo;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    float beta = 0.25f;
    /* 1.0 breaks the plugin ABI once (size_t struct_size -> unsigned version): a 0.1 plugin
     * must be refused with a message naming the cause, never misread, and the learner must
     * be left exactly as it was */
    TU_ASSERT_FAILS(dr3_learner_set_backup(l, compat_backup_vtable(), NULL), DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "0.1"));
    assert_non_null(strstr(dr3_last_error(), "rebuild"));
    TU_ASSERT_FAILS(dr3_learner_add_regularizer(l, compat_regularizer_vtable(), &beta),
                    DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "rebuild"));
    assert_int_equal(dr3_learner_num_regularizers(l), 0);
    float obs[8] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f};
    float next[8] = {0.2f, 0.1f, 0.3f, -0.4f, -0.5f, 0.6f, 0.1f, 0.9f};
    float r[4] = {1, 0, 0.5f, 0};
    int32_t a[4] = {0, 1, 2, 0};
    dr3_batch b = DR3_BATCH_INIT;
    b.n = 4;
    b.obs = obs;
    b.ld_obs = 2;
    b.next_obs = next;
    b.ld_next_obs = 2;
    b.actions = a;
    b.rewards = r;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    /* the default backup (max) is still in place: targets r + γ max_a Q_t(s', a) */
    assert_int_equal(dr3_learner_step(l, &b, &m), DR3_OK);
    float qt[12];
    assert_int_equal(dr3_net_forward(dr3_learner_target(l), 4, next, 2, NULL, 0, qt, 3, NULL),
                     DR3_OK);
    double mt = 0;
    for (int i = 0; i < 4; i++) {
        double mx = fmax(qt[3 * i], fmax(qt[3 * i + 1], qt[3 * i + 2]));
        mt += r[i] + 0.99 * mx;
    }
    TU_ASSERT_CLOSE(m.mean_target, mt / 4, 1e-5, 1e-6);
    dr3_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_old_plugins_load_and_run)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
