/* Private helpers shared by every libdr3 module: error reporting, allocation, size
 * arithmetic and argument checks. Never installed; symbols are hidden in the shared
 * library and carry the dr3i_ prefix in the static one. */
#ifndef DR3_SRC_CORE_INTERNAL_H
#define DR3_SRC_CORE_INTERNAL_H

#include <dr3/common.h>

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define DR3I_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DR3I_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#else
#define DR3I_PRINTF(f, a)
#define DR3I_UNLIKELY(x) (x)
#endif

/* Alignment of every buffer libdr3 allocates: a cache line, what BLIS and AVX-512 like. */
#define DR3I_ALIGN 64

/* Records "fmt..." as this thread's last error and returns status, so that a failing
 * check reads: return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: x is NULL", __func__); */
dr3_status dr3i_fail(dr3_status status, const char *fmt, ...) DR3I_PRINTF(2, 3);

/* The error serial now; pass it to dr3i_fail_after() after calling a plugin. */
unsigned long dr3i_error_mark(void);
/* Reports a failed plugin call: "context: <the plugin's message>" when the plugin set one
 * (dr3_error_set) since @p mark, else "context (no message from the plugin)". */
dr3_status dr3i_fail_after(dr3_status status, unsigned long mark, const char *fmt, ...)
    DR3I_PRINTF(3, 4);

/* ---- versioned public structs (the one place that reads a caller's struct) ----------
 * Every public struct begins with `unsigned version`. A descriptor names, per struct, the
 * bytes each version owns (ends[v-1]: offsetof the first field added in version v+1, or
 * sizeof for the newest) and the newest _INIT value. */
typedef struct dr3i_struct_desc {
    const char *type;     /* "dr3_learner_options" */
    const char *init;     /* "DR3_LEARNER_OPTIONS_INIT" */
    size_t size;          /* sizeof the newest layout */
    unsigned newest;      /* the header's _VERSION */
    const size_t *ends;   /* newest entries */
    const void *defaults; /* the newest _INIT value */
} dr3i_struct_desc;

/* Copies the caller's struct @p user into @p out (size d->size): the fields of the caller's
 * version, the defaults for newer ones; out's version becomes the newest. NULL @p user gives
 * the defaults when @p null_ok, else an error. Errors name @p who and @p what. */
dr3_status dr3i_struct_in(void *out, const void *user, const dr3i_struct_desc *d, bool null_ok,
                          const char *who, const char *what);
/* Writes the newest-layout @p full into the caller's @p user up to its version's end; the
 * caller's version field is kept. */
dr3_status dr3i_struct_out(void *user, const void *full, const dr3i_struct_desc *d,
                           const char *who, const char *what);
/* The public _init(): fills @p user with the defaults up to @p version's end. */
dr3_status dr3i_struct_init(void *user, unsigned version, const dr3i_struct_desc *d,
                            const char *who);

/* Defines TYPE's descriptor `dr3i_desc_<name>` and its public `<name>_init()`; the
 * trailing arguments are the ends of versions 1..newest. */
#define DR3I_DEFINE_STRUCT(name, TYPE, INIT_MACRO, VERSION_MACRO, ...)                         \
    static const TYPE dr3i_defaults_##name = INIT_MACRO;                                       \
    static const size_t dr3i_ends_##name[] = {__VA_ARGS__};                                    \
    _Static_assert(sizeof dr3i_ends_##name / sizeof(size_t) == (VERSION_MACRO),                \
                   #TYPE ": one end per version");                                             \
    const dr3i_struct_desc dr3i_desc_##name = {                                                \
        #TYPE,           #INIT_MACRO,      sizeof(TYPE),                                       \
        (VERSION_MACRO), dr3i_ends_##name, &dr3i_defaults_##name};                             \
    dr3_status name##_init(TYPE *s, unsigned version) {                                        \
        return dr3i_struct_init(s, version, &dr3i_desc_##name, #name "_init");                 \
    }

/* ---- enum names (each module defines its enums' pairs with DR3I_ENUM_NAMES) ------------ */
const char *dr3i_enum_name(const char *const *names, size_t count, int value);
dr3_status dr3i_enum_parse(int *out, const char *const *names, size_t count, const char *name,
                           const char *who);

/* Defines <prefix>_name(TYPE) and <prefix>_parse(TYPE *, const char *) over the names of
 * values 0, 1, 2, ... in order. */
#define DR3I_ENUM_NAMES(prefix, TYPE, ...)                                                     \
    static const char *const prefix##_names[] = {__VA_ARGS__};                                 \
    const char *prefix##_name(TYPE value) {                                                    \
        return dr3i_enum_name(prefix##_names, sizeof prefix##_names / sizeof *prefix##_names,  \
                              (int)value);                                                     \
    }                                                                                          \
    dr3_status prefix##_parse(TYPE *out, const char *name) {                                   \
        int v = 0;                                                                             \
        dr3_status st = dr3i_enum_parse(&v, prefix##_names,                                    \
                                        sizeof prefix##_names / sizeof *prefix##_names, name,  \
                                        #prefix "_parse");                                     \
        if (st == DR3_OK) *out = (TYPE)v;                                                      \
        return st;                                                                             \
    }

/* A handle's allocator: a copy of the user's hooks, or the C library when they are NULL. */
typedef struct dr3i_alloc {
    void *(*alloc)(void *opaque, size_t size, size_t alignment);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
} dr3i_alloc;

/* Reads the user's hooks (may be NULL: the C library). Fails if the hooks are half set
 * (alloc without free or the reverse) or the struct's version is bad. */
dr3_status dr3i_alloc_init(dr3i_alloc *out, const dr3_allocator *user, const char *who);
/* 64-byte aligned, zero-filled block of size bytes (size 0 gives a valid 64-byte block);
 * NULL on failure (the caller reports DR3_ERR_NOMEM). */
void *dr3i_calloc(const dr3i_alloc *a, size_t size);
void dr3i_free(const dr3i_alloc *a, void *p);

/* Overflow-checked size arithmetic: false when the result does not fit. */
/* Subnormal floats (below 1.2e-38) cost up to a hundred cycles per operation on x86 (a
 * microcode assist). Adam's moments of parameters whose gradients have died decay into that
 * range and made the demo's optimizer 5x slower (docs/performance.md). The optimizer runs with
 * flush-to-zero and denormals-are-zero set in MXCSR and restores the caller's MXCSR before it
 * returns: what changes is only that results below 1.2e-38 are 0 instead of subnormal (far
 * below anything that moves a parameter; the same on every run, so determinism holds). On
 * other architectures these do nothing. */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
typedef unsigned int dr3i_fpmode;
static inline dr3i_fpmode dr3i_ftz_enter(void) {
    dr3i_fpmode saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return saved;
}
static inline void dr3i_ftz_leave(dr3i_fpmode saved) { _mm_setcsr(saved); }
#else
typedef int dr3i_fpmode;
static inline dr3i_fpmode dr3i_ftz_enter(void) { return 0; }
static inline void dr3i_ftz_leave(dr3i_fpmode saved) { (void)saved; }
#endif

static inline bool dr3i_mul(size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / b) return false;
    *out = a * b;
    return true;
}
static inline bool dr3i_add(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return false;
    *out = a + b;
    return true;
}

/* Number of floats spanned by an n-row matrix with d columns and row stride ld:
 * (n-1)*ld + d, or 0 for n == 0. False on overflow. */
static inline bool dr3i_span(size_t n, size_t d, size_t ld, size_t *out) {
    size_t t;
    if (n == 0) {
        *out = 0;
        return true;
    }
    if (!dr3i_mul(n - 1, ld, &t)) return false;
    return dr3i_add(t, d, out);
}

/* True when every x[i*inc], i < n, is finite. */
bool dr3i_all_finite(const float *x, size_t n, size_t inc);
/* True when every entry of an n×d row-major matrix with row stride ld is finite. */
bool dr3i_matrix_finite(const float *x, size_t n, size_t d, size_t ld);

/* Loops compiled for AVX-512, AVX2 and the baseline, chosen when the library loads (GCC's
 * target_clones, an ifunc): the same operations per element in every version (no
 * contraction in ISO C mode), so the same bits, faster where the CPU has wider vectors. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&   \
    !defined(DR3_NO_IFUNC)
#define DR3I_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DR3I_CLONES
#endif

/* Σ a[k]·b[k] over n floats, in double, in a fixed order (dot.c). */
double dr3i_dot_f64(const float *a, const float *b, size_t n);
/* out = {a·b, a·a, b·b} in one pass, each summed as dr3i_dot_f64 sums (dot.c). */
void dr3i_dot3_f64(const float *a, const float *b, size_t n, double out[3]);

/* dr3_rng_normal's transform of its two uniforms (u1 = 1 − the first draw, u2 = the
 * second): a caller that draws the uniforms in order and transforms them elsewhere (on
 * several threads) gets the same values (rng.c). */
double dr3i_normal_from(double u1, double u2);

/* dst = (1 − τ)·dst + τ·src over n floats, element by element (polyak.c). */
void dr3i_polyak(float *dst, const float *src, size_t n, float tau);

/* Reads the one-time runtime state; initialises BLIS with libdr3's kernel choice on first
 * use. Every handle constructor calls it. */
dr3_status dr3i_runtime_ensure(void);

#endif /* DR3_SRC_CORE_INTERNAL_H */
