#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS */
/* The 1.0 struct-versioning rule (docs/api-stability.md) and the regressions of issue #10's
 * review that concern the API surface: each test here fails on libdr3 0.1.
 *
 * The rule is checked on a synthetic two-version struct whose version-2 field sits in
 * version 1's tail padding: exactly the case where size-as-version (0.1's struct_size)
 * cannot tell the versions apart. */
#include "testutil.h"

#include "core/internal.h"

#include <dr3/sys/backup.h>
#include <dr3/sys/errors.h>
#include <dr3/sys/regularizer.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the rule on a synthetic struct ---------------------------------------------------- */

/* Version 1 was {version, double x, float y} (sizeof 24: 4 bytes of tail padding after y);
 * version 2 appended float z, which lands in that padding: sizeof is still 24. */
typedef struct demo_v2 {
    unsigned version;
    double x;
    float y;
    float z; /* added in version 2 */
} demo_v2;
typedef struct demo_v1 {
    unsigned version;
    double x;
    float y;
} demo_v1;

static const demo_v2 demo_defaults = {2, 1.5, 2.5f, 3.5f};
static const size_t demo_ends[] = {offsetof(demo_v2, z), sizeof(demo_v2)};
static const dr3i_struct_desc demo_desc = {"demo", "DEMO_INIT", sizeof(demo_v2),
                                           2,      demo_ends,   &demo_defaults};

static void test_tail_padding_versions(void **state) {
    (void)state;
    /* the premise: size cannot tell version 1 from version 2 */
    assert_int_equal(sizeof(demo_v1), sizeof(demo_v2));

    /* a version-1 caller whose padding holds garbage: z must be the default, not garbage */
    union {
        demo_v1 s;
        unsigned char bytes[sizeof(demo_v2)];
    } old;
    memset(&old, 0xAB, sizeof old);
    old.s.version = 1;
    old.s.x = -1.0;
    old.s.y = -2.0f;
    demo_v2 in;
    assert_int_equal(dr3i_struct_in(&in, &old, &demo_desc, false, "t", "demo"), DR3_OK);
    assert_int_equal(in.version, 2);
    assert_true(in.x == -1.0 && in.y == -2.0f);
    assert_true(in.z == 3.5f);

    /* a version-2 caller: every field is read */
    demo_v2 cur = {2, -1.0, -2.0f, -3.0f};
    assert_int_equal(dr3i_struct_in(&in, &cur, &demo_desc, false, "t", "demo"), DR3_OK);
    assert_true(in.z == -3.0f);

    /* output to a version-1 caller writes x and y and not one byte of the padding */
    demo_v2 full = {2, 7.0, 8.0f, 9.0f};
    memset(&old, 0xCD, sizeof old);
    old.s.version = 1;
    assert_int_equal(dr3i_struct_out(&old, &full, &demo_desc, "t", "demo"), DR3_OK);
    assert_true(old.s.x == 7.0 && old.s.y == 8.0f);
    assert_int_equal(old.s.version, 1);
    for (size_t i = offsetof(demo_v2, z); i < sizeof old; i++)
        assert_int_equal(old.bytes[i], 0xCD);

    /* init() of version 1 fills only version 1's bytes */
    memset(&old, 0xEE, sizeof old);
    assert_int_equal(dr3i_struct_init(&old, 1, &demo_desc, "demo_init"), DR3_OK);
    assert_true(old.s.version == 1 && old.s.x == 1.5 && old.s.y == 2.5f);
    for (size_t i = offsetof(demo_v2, z); i < sizeof old; i++)
        assert_int_equal(old.bytes[i], 0xEE);

    /* version 0 (never initialised), newer than the library, and a 0.1 struct_size */
    demo_v2 bad = cur;
    bad.version = 0;
    TU_ASSERT_FAILS(dr3i_struct_in(&in, &bad, &demo_desc, false, "t", "demo"), DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "DEMO_INIT"));
    bad.version = 3;
    TU_ASSERT_FAILS(dr3i_struct_in(&in, &bad, &demo_desc, false, "t", "demo"), DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "newer"));
    bad.version = (unsigned)sizeof(demo_v2);
    TU_ASSERT_FAILS(dr3i_struct_in(&in, &bad, &demo_desc, false, "t", "demo"), DR3_ERR_VERSION);
    assert_non_null(strstr(dr3_last_error(), "0.1"));
    TU_ASSERT_FAILS(dr3i_struct_in(&in, NULL, &demo_desc, false, "t", "demo"),
                    DR3_ERR_INVALID_ARG);
    assert_int_equal(dr3i_struct_in(&in, NULL, &demo_desc, true, "t", "demo"), DR3_OK);
    assert_true(in.z == 3.5f);
}

/* Every _init() function equals its _INIT macro byte for byte (a static object's padding is
 * zero, C11 6.7.9p10, and init() copies the library's static defaults). */
#define SAME_AS_MACRO(TYPE, INIT, FN, VERSION)                                                 \
    do {                                                                                       \
        static const TYPE a = INIT;                                                            \
        TYPE b;                                                                                \
        memset(&b, 0x77, sizeof b);                                                            \
        assert_int_equal(FN(&b, VERSION), DR3_OK);                                             \
        assert_memory_equal(&a, &b, sizeof b);                                                 \
        TU_ASSERT_FAILS(FN(&b, 0), DR3_ERR_VERSION);                                           \
        TU_ASSERT_FAILS(FN(&b, VERSION + 1), DR3_ERR_VERSION);                                 \
        TU_ASSERT_FAILS(FN(NULL, VERSION), DR3_ERR_INVALID_ARG);                               \
    } while (0)

static void test_init_functions(void **state) {
    (void)state;
    SAME_AS_MACRO(dr3_allocator, DR3_ALLOCATOR_INIT, dr3_allocator_init, DR3_ALLOCATOR_VERSION);
    SAME_AS_MACRO(dr3_learner_options, DR3_LEARNER_OPTIONS_INIT, dr3_learner_options_init,
                  DR3_LEARNER_OPTIONS_VERSION);
    SAME_AS_MACRO(dr3_batch, DR3_BATCH_INIT, dr3_batch_init, DR3_BATCH_VERSION);
    SAME_AS_MACRO(dr3_step_metrics, DR3_STEP_METRICS_INIT, dr3_step_metrics_init,
                  DR3_STEP_METRICS_VERSION);
    SAME_AS_MACRO(dr3_replay_options, DR3_REPLAY_OPTIONS_INIT, dr3_replay_options_init,
                  DR3_REPLAY_OPTIONS_VERSION);
    SAME_AS_MACRO(dr3_net_options, DR3_NET_OPTIONS_INIT, dr3_net_options_init,
                  DR3_NET_OPTIONS_VERSION);
    SAME_AS_MACRO(dr3_backup_vtable, DR3_BACKUP_VTABLE_INIT, dr3_backup_vtable_init,
                  DR3_BACKUP_VTABLE_VERSION);
    SAME_AS_MACRO(dr3_regularizer_vtable, DR3_REGULARIZER_VTABLE_INIT,
                  dr3_regularizer_vtable_init, DR3_REGULARIZER_VTABLE_VERSION);
    /* and the values are the macro's: spot-check the fields with non-zero defaults */
    dr3_learner_options lo;
    assert_int_equal(dr3_learner_options_init(&lo, DR3_LEARNER_OPTIONS_VERSION), DR3_OK);
    assert_true(lo.gamma == 0.99f && lo.td_kind == DR3_TD_HUBER && lo.huber_delta == 1.0f &&
                lo.target_update_period == 1000 && lo.threads == 1 &&
                lo.activation == DR3_ACT_RELU);
    dr3_replay_options ro;
    assert_int_equal(dr3_replay_options_init(&ro, DR3_REPLAY_OPTIONS_VERSION), DR3_OK);
    assert_true(ro.frame_stack == 1 && ro.n_step == 1 && ro.gamma == 0.99f &&
                ro.allocator.version == DR3_ALLOCATOR_VERSION);
}

/* Every enum's names round-trip, unknown values give NULL, unknown names an error. */
static void test_enum_names(void **state) {
    (void)state;
#define ROUND_TRIP(TYPE, PREFIX, COUNT)                                                        \
    for (int v = 0; v < (COUNT); v++) {                                                        \
        const char *nm = PREFIX##_name((TYPE)v);                                               \
        assert_non_null(nm);                                                                   \
        TYPE back;                                                                             \
        assert_int_equal(PREFIX##_parse(&back, nm), DR3_OK);                                   \
        assert_int_equal((int)back, v);                                                        \
    }                                                                                          \
    assert_null(PREFIX##_name((TYPE)(COUNT)));                                                 \
    {                                                                                          \
        TYPE untouched = (TYPE)0;                                                              \
        TU_ASSERT_FAILS(PREFIX##_parse(&untouched, "no-such-name"), DR3_ERR_INVALID_ARG);      \
        TU_ASSERT_FAILS(PREFIX##_parse(&untouched, NULL), DR3_ERR_INVALID_ARG);                \
    }
    ROUND_TRIP(dr3_backup_kind, dr3_backup_kind, 6)
    ROUND_TRIP(dr3_regularizer_kind, dr3_regularizer_kind, 4)
    ROUND_TRIP(dr3_td_kind, dr3_td_kind, 2)
    ROUND_TRIP(dr3_activation, dr3_activation, 5)
    ROUND_TRIP(dr3_head_kind, dr3_head_kind, 2)
    ROUND_TRIP(dr3_optim_kind, dr3_optim_kind, 4)
    ROUND_TRIP(dr3_dtype, dr3_dtype, 2)
    ROUND_TRIP(dr3_action_kind, dr3_action_kind, 2)
    ROUND_TRIP(dr3_u8_scale, dr3_u8_scale, 2)
    ROUND_TRIP(dr3_blis_arch_source, dr3_blis_arch_source, 5)
#undef ROUND_TRIP
    /* names agree with the enumerators they stand for */
    assert_string_equal(dr3_activation_name(DR3_ACT_LEAKY_RELU), "leaky_relu");
    assert_string_equal(dr3_backup_kind_name(DR3_BACKUP_SOFTMAX), "softmax");
    assert_string_equal(dr3_optim_kind_name(DR3_OPTIM_RMSPROP), "rmsprop");
    /* status codes are negative: every one round-trips */
    for (int s = 0; s >= (int)DR3_ERR_INTERNAL; s--) {
        dr3_status back;
        assert_int_equal(dr3_status_parse(&back, dr3_status_name((dr3_status)s)), DR3_OK);
        assert_int_equal((int)back, s);
    }
    assert_string_equal(dr3_status_name(DR3_ERR_NONFINITE), "nonfinite");
    assert_null(dr3_status_name((dr3_status)(DR3_ERR_INTERNAL - 1)));
    assert_null(dr3_status_name((dr3_status)1));
}

/* ---- a small learner for the regressions below ------------------------------------------ */

enum { S = 3, NA = 2, N = 4 };
static float obs[N * S] = {0.1f,  -0.2f, 0.3f, 0.4f, 0.5f,  -0.6f,
                           -0.7f, 0.8f,  0.9f, 1.0f, -1.1f, 0.2f};
static float next_obs[N * S] = {0.2f, 0.1f,  -0.3f, 0.5f,  -0.4f, 0.6f,
                                0.8f, -0.7f, 0.1f,  -0.9f, 1.2f,  0.3f};
static float rewards[N] = {1, 0, -1, 0.5f};
static int32_t actions[N] = {0, 1, 1, 0};
static int32_t next_actions[N] = {1, 0, 1, 1};

static dr3_learner *learner_of(dr3_activation act, float act_param, dr3_backup_kind kind) {
    static const size_t hidden[1] = {5};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = S;
    o.num_actions = NA;
    o.num_hidden = 1;
    o.hidden = hidden;
    o.activation = act;
    o.activation_param = act_param;
    o.batch_size = N;
    o.seed = 11;
    dr3_backup_options bo = DR3_BACKUP_OPTIONS_INIT;
    bo.kind = kind;
    o.backup = &bo;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    return l;
}

static dr3_batch batch_of(void) {
    dr3_batch b = DR3_BATCH_INIT;
    b.n = N;
    b.obs = obs;
    b.ld_obs = S;
    b.next_obs = next_obs;
    b.ld_next_obs = S;
    b.actions = actions;
    b.rewards = rewards;
    b.next_actions = next_actions;
    return b;
}

/* Defect 5: DR3_LEARNER_OPTIONS_INIT gave ELU α = 0.01; PyTorch's default is 1. The
 * learner's Q must equal a network built with α = 1 explicitly, computed here by hand. */
static void test_elu_default_alpha(void **state) {
    (void)state;
    dr3_learner *l = learner_of(DR3_ACT_ELU, 0.0f, DR3_BACKUP_MAX);
    dr3_net *net = dr3_learner_online(l);
    const float *p = dr3_net_params(net);
    /* layer 0: W0 [5×3], b0 [5]; layer 1: W1 [2×5], b1 [2] (torch.nn.Linear layout) */
    const float *w0 = p, *b0 = p + 15, *w1 = p + 20, *b1 = p + 30;
    float q[N * NA];
    assert_int_equal(dr3_learner_q_values(l, N, obs, S, q, NA), DR3_OK);
    int saw_negative = 0;
    for (int i = 0; i < N; i++) {
        double h[5];
        for (int j = 0; j < 5; j++) {
            double z = b0[j];
            for (int k = 0; k < S; k++) z += (double)w0[j * S + k] * obs[i * S + k];
            saw_negative |= z < -0.05;
            h[j] = z > 0 ? z : 1.0 * (exp(z) - 1.0); /* α = 1 */
        }
        for (int a = 0; a < NA; a++) {
            double v = b1[a];
            for (int j = 0; j < 5; j++) v += (double)w1[a * 5 + j] * h[j];
            TU_ASSERT_CLOSE(q[i * NA + a], v, 1e-5, 1e-6);
        }
    }
    assert_true(saw_negative); /* the test exercises the ELU's negative branch */
    dr3_learner_free(l);
}

/* Defect 2: the step read the caller's batch beyond the validated copy. A batch placed so
 * that it ends exactly at an unmapped page must be read only up to its own end. */
static void test_batch_at_page_end(void **state) {
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
    dr3_batch *b = (dr3_batch *)(void *)(mem + page - sizeof(dr3_batch));
    *b = batch_of();
    dr3_learner *l = learner_of(DR3_ACT_RELU, 0.0f, DR3_BACKUP_SARSA);
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    assert_int_equal(dr3_learner_step(l, b, &m), DR3_OK);
    assert_int_equal(dr3_learner_evaluate(l, b, &m), DR3_OK);
    dr3_learner_free(l);
    munmap(mem, (size_t)page * 2);
}

/* Defect 4: plugin failures keep the plugin's own words, once, with the right context; a
 * plugin that says nothing does not inherit an unrelated earlier message. */
static int failing_with_reason(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g,
                               float *loss) {
    (void)payload;
    (void)v;
    (void)g;
    (void)loss;
    return dr3_error_set(DR3_ERR_CALLBACK, "lambda went negative (%d)", -3) != DR3_OK;
}
static int failing_silently(void *payload, const dr3_reg_view *v, const dr3_reg_grads *g,
                            float *loss) {
    (void)payload;
    (void)v;
    (void)g;
    (void)loss;
    return 1;
}

static void test_plugin_error_messages(void **state) {
    (void)state;
    dr3_batch b = batch_of();
    dr3_learner *l = learner_of(DR3_ACT_RELU, 0.0f, DR3_BACKUP_MAX);
    dr3_regularizer_vtable vt = DR3_REGULARIZER_VTABLE_INIT;
    vt.name = "bad";
    vt.apply = failing_with_reason;
    assert_int_equal(dr3_learner_add_regularizer(l, &vt, NULL), DR3_OK);
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_CALLBACK);
    assert_string_equal(dr3_last_error(),
                        "dr3_learner_step: regularizer 0 ('bad') failed: lambda went negative "
                        "(-3)");
    TU_ASSERT_FAILS(dr3_learner_evaluate(l, &b, NULL), DR3_ERR_CALLBACK);
    assert_string_equal(dr3_last_error(),
                        "dr3_learner_evaluate: regularizer 0 ('bad') failed: lambda went "
                        "negative (-3)");
    dr3_learner_free(l);

    l = learner_of(DR3_ACT_RELU, 0.0f, DR3_BACKUP_MAX);
    vt.name = "quiet";
    vt.apply = failing_silently;
    assert_int_equal(dr3_learner_add_regularizer(l, &vt, NULL), DR3_OK);
    dr3_error_set(DR3_ERR_IO, "an unrelated earlier failure");
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_ERR_CALLBACK);
    assert_string_equal(dr3_last_error(),
                        "dr3_learner_step: regularizer 0 ('quiet') failed (no message from the "
                        "plugin)");
    dr3_learner_free(l);

    /* built-ins name themselves: a SARSA learner given a batch whose next actions are out of
     * range reports the check; the backup is called 'sarsa', not 'builtin' */
    l = learner_of(DR3_ACT_RELU, 0.0f, DR3_BACKUP_SARSA);
    b.next_actions = NULL;
    TU_ASSERT_FAILS(dr3_learner_evaluate(l, &b, NULL), DR3_ERR_INVALID_ARG);
    assert_non_null(strstr(dr3_last_error(), "dr3_learner_evaluate"));
    assert_non_null(strstr(dr3_last_error(), "'sarsa'"));
    dr3_learner_free(l);

    /* dr3_error_set with arguments pointing into the current message (the 0.1 formatter
     * wrote a buffer into itself) */
    dr3_error_set(DR3_ERR_IO, "first");
    dr3_error_set(DR3_ERR_IO, "%s, then %s", dr3_last_error(), "second");
    assert_string_equal(dr3_last_error(), "first, then second");
}

/* Row strides whose span overflows the address space are refused, not read (0.1 read
 * before the buffer with ld_obs = SIZE_MAX). */
static void test_stride_overflow(void **state) {
    (void)state;
    dr3_learner *l = learner_of(DR3_ACT_RELU, 0.0f, DR3_BACKUP_MAX);
    dr3_batch b = batch_of();
    b.ld_obs = SIZE_MAX;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_OVERFLOW);
    b.ld_obs = S;
    b.ld_next_obs = (SIZE_MAX / sizeof(float)) / 2;
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_OVERFLOW);
    assert_int_equal(dr3_learner_step_count(l), 0);
    float q[2];
    TU_ASSERT_FAILS(dr3_learner_q_values(l, 2, obs, SIZE_MAX / 2, q, NA), DR3_ERR_OVERFLOW);
    dr3_learner_free(l);
}

/* Defect 3: replay options from a struct that sets only what it needs take the _INIT
 * defaults (0.1 copied zeros over the embedded allocator and failed). */
static void test_replay_options_defaults(void **state) {
    (void)state;
    dr3_replay_options o;
    assert_int_equal(dr3_replay_options_init(&o, DR3_REPLAY_OPTIONS_VERSION), DR3_OK);
    o.capacity = 16;
    o.obs_dim = 2;
    o.num_actions = 2;
    dr3_replay *r = NULL;
    assert_int_equal(dr3_replay_create(&r, &o), DR3_OK);
    dr3_replay_options got = DR3_REPLAY_OPTIONS_INIT;
    assert_int_equal(dr3_replay_get_options(&got, r), DR3_OK);
    assert_true(got.n_step == 1 && got.frame_stack == 1 && got.gamma == 0.99f);
    dr3_replay_free(r);
    o.allocator.version = 0; /* an embedded struct that was never initialised */
    TU_ASSERT_FAILS(dr3_replay_create(&r, &o), DR3_ERR_VERSION);
    assert_null(r);
}

/* Defect 6 and the update guard: an update that would make parameters non-finite (Adam with
 * lr = FLT_MAX) is refused, and the learner — online and target parameters, step count — is
 * exactly as before; with a sane learning rate the same batch then steps. */
static void test_guard_leaves_learner_unchanged(void **state) {
    (void)state;
    dr3_learner *l = learner_of(DR3_ACT_RELU, 0.0f, DR3_BACKUP_MAX);
    dr3_batch b = batch_of();
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    size_t np = dr3_net_param_count(dr3_learner_online(l));
    float *on = malloc(np * sizeof(float)), *tg = malloc(np * sizeof(float));
    memcpy(on, dr3_net_params(dr3_learner_online(l)), np * sizeof(float));
    memcpy(tg, dr3_net_params(dr3_learner_target(l)), np * sizeof(float));
    assert_int_equal(dr3_learner_set_param(l, DR3_LEARNER_LR, FLT_MAX), DR3_OK);
    TU_ASSERT_FAILS(dr3_learner_step(l, &b, NULL), DR3_ERR_NONFINITE);
    assert_memory_equal(on, dr3_net_params(dr3_learner_online(l)), np * sizeof(float));
    assert_memory_equal(tg, dr3_net_params(dr3_learner_target(l)), np * sizeof(float));
    assert_int_equal(dr3_learner_step_count(l), 1);
    assert_int_equal(dr3_learner_set_param(l, DR3_LEARNER_LR, 1e-3), DR3_OK);
    assert_int_equal(dr3_learner_step(l, &b, NULL), DR3_OK);
    assert_int_equal(dr3_learner_step_count(l), 2);
    free(on);
    free(tg);
    dr3_learner_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_padding_versions),
        cmocka_unit_test(test_init_functions),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_elu_default_alpha),
        cmocka_unit_test(test_batch_at_page_end),
        cmocka_unit_test(test_plugin_error_messages),
        cmocka_unit_test(test_stride_overflow),
        cmocka_unit_test(test_replay_options_defaults),
        cmocka_unit_test(test_guard_leaves_learner_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
