/* Every allocation made while saving or loading weights and checkpoints goes through the
 * handle's allocator hooks (dr3_allocator): the C library's allocation functions are wrapped
 * at link time (-Wl,--wrap=malloc,...: every call from libdr3's objects, which this test
 * links statically, lands in __wrap_*), so a direct malloc/calloc/realloc/aligned_alloc/
 * posix_memalign/free anywhere on those paths is counted, and the count must be zero.
 * Allocations inside the C library itself (fopen's buffer, opendir) are not libdr3's and
 * are not seen. */
#include "testutil.h"

#include <dr3/learner.h>
#include <dr3/net.h>
#include <dr3/optim.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef DR3_TEST_WRAP_MALLOC

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void __real_free(void *p);

static int watching;      /* count only inside the calls under test */
static size_t direct;     /* C library calls from libdr3 while watching */
static size_t hook_alloc; /* calls of the hooks */
static size_t hook_free;

void *__wrap_malloc(size_t n) {
    direct += watching;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
    direct += watching;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
    direct += watching;
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n) {
    direct += watching;
    return __real_aligned_alloc(a, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n) {
    direct += watching;
    return __real_posix_memalign(p, a, n);
}
void __wrap_free(void *p) {
    direct += watching && p != NULL;
    __real_free(p);
}

static void *hook_alloc_fn(void *op, size_t size, size_t align) {
    (void)op;
    hook_alloc++;
    return __real_aligned_alloc(align, (size + align - 1) / align * align);
}
static void hook_free_fn(void *op, void *p) {
    (void)op;
    hook_free++;
    __real_free(p);
}

/* Runs `call` while counting; asserts it returned `want`, made no direct allocation, used
 * the hooks at least `min_hooks` times and gave back everything it took. */
#define WATCH(call, want, min_hooks)                                                           \
    do {                                                                                       \
        direct = hook_alloc = hook_free = 0;                                                   \
        watching = 1;                                                                          \
        dr3_status st_ = (call);                                                               \
        watching = 0;                                                                          \
        if (st_ != (want))                                                                     \
            fail_msg("%s returned %d (%s): %s", #call, (int)st_, dr3_status_str(st_),          \
                     dr3_last_error());                                                        \
        if (direct != 0)                                                                       \
            fail_msg("%s called the C library's allocator directly %zu times", #call, direct); \
        if ((long)hook_alloc < (long)(min_hooks))                                              \
            fail_msg("%s used the hooks %zu times, expected at least %d", #call, hook_alloc,   \
                     (int)(min_hooks));                                                        \
        if (hook_free != hook_alloc)                                                           \
            fail_msg("%s: %zu allocations through the hooks, %zu frees", #call, hook_alloc,    \
                     hook_free);                                                               \
    } while (0)

static void test_checkpoint_paths_use_hooks(void **state) {
    (void)state;
    dr3_allocator al = DR3_ALLOCATOR_INIT;
    al.alloc = hook_alloc_fn;
    al.free = hook_free_fn;
    size_t hidden[2] = {16, 16};
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    o.obs_dim = 4;
    o.num_actions = 3;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.batch_size = 8;
    o.seed = 5;
    o.allocator = &al;
    dr3_learner *l = NULL;
    assert_int_equal(dr3_learner_create(&l, &o), DR3_OK);
    char path[256];
    snprintf(path, sizeof path, "/tmp/dr3-ioalloc-%ld.ckpt", (long)getpid());
    WATCH(dr3_learner_save(l, path), DR3_OK, 1);
    WATCH(dr3_learner_load(l, path), DR3_OK, 1);
    /* a refused load returns what it took, too */
    WATCH(dr3_learner_load(l, "/nonexistent/x.ckpt"), DR3_ERR_IO, 0);
    /* reading the architecture needs no allocation at all */
    dr3_checkpoint_info info = DR3_CHECKPOINT_INFO_INIT;
    size_t widths[4] = {0};
    info.hidden = widths;
    info.hidden_capacity = 4;
    WATCH(dr3_learner_checkpoint_info(&info, path), DR3_OK, 0);
    assert_int_equal(hook_alloc, 0);
    assert_int_equal(widths[1], 16);
    dr3_learner_free(l);
    unlink(path);
}

static void test_net_paths_use_hooks(void **state) {
    (void)state;
    dr3_allocator al = DR3_ALLOCATOR_INIT;
    al.alloc = hook_alloc_fn;
    al.free = hook_free_fn;
    size_t hidden[2] = {7, 5};
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    o.obs_dim = 3;
    o.action_dim = 2;
    o.num_hidden = 2;
    o.hidden = hidden;
    o.max_batch = 4;
    o.allocator = &al;
    dr3_net *a = NULL, *b = NULL;
    assert_int_equal(dr3_net_create(&a, &o), DR3_OK);
    assert_int_equal(dr3_net_create(&b, &o), DR3_OK);
    dr3_optim_options oo = DR3_OPTIM_OPTIONS_INIT;
    oo.allocator = &al;
    dr3_optim *opt = NULL;
    assert_int_equal(dr3_optim_create(&opt, dr3_net_param_count(a), &oo), DR3_OK);
    char path[256], path2[256];
    snprintf(path, sizeof path, "/tmp/dr3-ioalloc-%ld.safetensors", (long)getpid());
    snprintf(path2, sizeof path2, "/tmp/dr3-ioalloc-%ld-opt.safetensors", (long)getpid());
    WATCH(dr3_net_save(a, path), DR3_OK, 1);
    WATCH(dr3_net_load(b, path), DR3_OK, 1);
    WATCH(dr3_net_save_with_optim(a, opt, path2), DR3_OK, 1);
    WATCH(dr3_net_load_with_optim(b, opt, path2), DR3_OK, 1);
    WATCH(dr3_net_load(b, "/nonexistent/x.safetensors"), DR3_ERR_IO, 0);
    /* the new network and the reading use the allocator given in the options */
    dr3_net *c = NULL;
    dr3_net_options rt = DR3_NET_OPTIONS_INIT;
    rt.max_batch = 2;
    rt.allocator = &al;
    direct = hook_alloc = hook_free = 0;
    watching = 1;
    dr3_status st = dr3_net_open(&c, path, &rt);
    watching = 0;
    assert_int_equal(st, DR3_OK);
    assert_int_equal(direct, 0);
    assert_true(hook_alloc > hook_free); /* the network itself is still alive */
    size_t live = hook_alloc - hook_free;
    hook_free = 0;
    dr3_net_free(c);
    assert_int_equal(hook_free, live);
    dr3_optim_free(opt);
    dr3_net_free(a);
    dr3_net_free(b);
    unlink(path);
    unlink(path2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_paths_use_hooks),
        cmocka_unit_test(test_net_paths_use_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void) {
    printf("skipped: the allocation wrappers need GNU ld's --wrap\n");
    return 0;
}

#endif
