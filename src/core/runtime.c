/* Version queries and the once-per-process choice of BLIS kernels (see dr3/runtime.h for
 * the rule and docs/performance.md for the measurements behind it). */
#include <dr3/runtime.h>

#include "../kernels/kernels.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DR3I_X86 1
#endif

const char *dr3_version(void) { return DR3_VERSION_STRING; }

unsigned dr3_version_number(void) { return (unsigned)DR3_VERSION_NUMBER; }

/* ---- CPU identification ---------------------------------------------------------- */

typedef struct cpu_facts {
    char vendor[13];
    int family, model;
    bool avx, avx2_fma, avx512;
} cpu_facts;

#ifdef DR3I_X86
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static void cpu_identify(cpu_facts *f) {
    memset(f, 0, sizeof *f);
    strcpy(f->vendor, "unknown");
#ifdef DR3I_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    memcpy(f->vendor, &b, 4);
    memcpy(f->vendor + 4, &d, 4);
    memcpy(f->vendor + 8, &c, 4);
    f->vendor[12] = '\0';
    __get_cpuid(1, &a, &b, &c, &d);
    int base_family = (int)((a >> 8) & 0xf), base_model = (int)((a >> 4) & 0xf);
    f->family = base_family == 0xf ? base_family + (int)((a >> 20) & 0xff) : base_family;
    f->model = (base_family == 0x6 || base_family == 0xf)
                   ? base_model + (int)(((a >> 16) & 0xf) << 4)
                   : base_model;
    bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    bool ymm_os = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state */
    bool zmm_os = (xcr0 & 0xe6) == 0xe6; /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    f->avx = avx && ymm_os;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        bool avx2 = (b >> 5) & 1;
        bool f512 = (b >> 16) & 1, dq = (b >> 17) & 1, cd = (b >> 28) & 1, bw = (b >> 30) & 1,
             vl = (b >> 31) & 1;
        f->avx2_fma = f->avx && avx2 && fma;
        f->avx512 = f->avx2_fma && zmm_os && f512 && dq && cd && bw && vl;
    }
#endif
}

/* What BLIS 0.9's own detection (bli_cpuid_query_id) picks for this CPU, reconstructed
 * from its documented rules: it knows Intel by features and AMD by family only, so AMD
 * families newer than 0x19 (Zen 5 is 0x1A) fall through to "generic". */
static const char *blis_would_pick(const cpu_facts *f) {
    if (strcmp(f->vendor, "GenuineIntel") == 0) {
        if (f->avx512) return "skx";
        if (f->avx2_fma) return "haswell";
        if (f->avx) return "sandybridge";
        return "generic";
    }
    if (strcmp(f->vendor, "AuthenticAMD") == 0) {
        if (f->family == 0x19 && f->avx2_fma) return "zen3";
        if (f->family == 0x17 && f->avx2_fma) return f->model >= 0x30 ? "zen2" : "zen";
        return "generic";
    }
    return "generic";
}

/* libdr3's rule: keep what BLIS recognises; replace a generic fallback by the best
 * optimised configuration the CPU can execute. */
static const char *best_for(const cpu_facts *f) {
    const char *auto_pick = blis_would_pick(f);
    if (strcmp(auto_pick, "generic") != 0) return auto_pick;
    if (f->avx512) return "skx";
    if (f->avx2_fma) return strcmp(f->vendor, "AuthenticAMD") == 0 ? "zen3" : "haswell";
    if (f->avx) return "sandybridge";
    return "generic";
}

/* Configurations libdr3 will request and the CPU features each needs. Others in BLIS's
 * list are either absent from distribution builds (knl crashes Debian's) or obsolete. */
static bool arch_runs_here(const char *name, const cpu_facts *f) {
    if (strcmp(name, "generic") == 0) return true;
    if (strcmp(name, "sandybridge") == 0) return f->avx;
    if (strcmp(name, "haswell") == 0 || strcmp(name, "zen") == 0 || strcmp(name, "zen2") == 0 ||
        strcmp(name, "zen3") == 0)
        return f->avx2_fma;
    if (strcmp(name, "skx") == 0) return f->avx512;
    return false;
}

static bool arch_known(const char *name) {
    static const char *const names[] = {"skx",     "zen3",        "zen2",   "zen",
                                        "haswell", "sandybridge", "generic"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return true;
    return false;
}

/* ---- one-time initialisation ------------------------------------------------------ */

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static bool rt_ready;
static char rt_user_arch[16]; /* from dr3_runtime_set_blis_arch, "" if none */
static cpu_facts rt_cpu;
static const char *rt_auto, *rt_best, *rt_active;
static int rt_source;

static dr3_status runtime_init_locked(void) {
    cpu_identify(&rt_cpu);
    rt_auto = blis_would_pick(&rt_cpu);
    rt_best = best_for(&rt_cpu);

    const char *want = NULL;
    int source = DR3_BLIS_ARCH_FROM_BLIS;
    const char *host_env = getenv("BLIS_ARCH_TYPE");
    const char *dr3_env = getenv("DR3_BLIS_ARCH");
    if (host_env != NULL) {
        source = DR3_BLIS_ARCH_FROM_HOST_ENV;
    } else if (rt_user_arch[0] != '\0' && strcmp(rt_user_arch, "auto") != 0) {
        want = rt_user_arch;
        source = DR3_BLIS_ARCH_FROM_USER;
    } else if (dr3_env != NULL && dr3_env[0] != '\0' && strcmp(dr3_env, "auto") != 0 &&
               arch_known(dr3_env) && arch_runs_here(dr3_env, &rt_cpu)) {
        /* An unknown or unrunnable DR3_BLIS_ARCH is ignored (auto), never fatal: the
         * environment must not be able to crash a program with an illegal instruction. */
        want = dr3_env;
        source = DR3_BLIS_ARCH_FROM_USER;
    } else if (strcmp(rt_best, rt_auto) != 0) {
        want = rt_best;
        source = DR3_BLIS_ARCH_FROM_LIBDR3;
    }

    int want_id = want ? dr3k_blis_arch_id(want) : -1;
    if (want != NULL && want_id >= 0) {
        /* BLIS reads BLIS_ARCH_TYPE once, as a number, during bli_init(). Set it for that
         * moment only, then restore the environment as the host had it (unset). */
        char num[16];
        snprintf(num, sizeof num, "%d", want_id);
        setenv("BLIS_ARCH_TYPE", num, 1);
        dr3k_blis_init();
        unsetenv("BLIS_ARCH_TYPE");
    } else {
        dr3k_blis_init();
    }
    int active = dr3k_blis_arch_active();
    rt_active = dr3k_blis_arch_name(active);
    if (want_id >= 0 && active != want_id) source = DR3_BLIS_ARCH_FROM_HOST_INIT;
    rt_source = source;
    rt_ready = true;
    return DR3_OK;
}

dr3_status dr3i_runtime_ensure(void) {
    dr3_status st = DR3_OK;
    pthread_mutex_lock(&rt_lock);
    if (!rt_ready) st = runtime_init_locked();
    pthread_mutex_unlock(&rt_lock);
    return st;
}

dr3_status dr3_runtime_init(void) { return dr3i_runtime_ensure(); }

dr3_status dr3_runtime_set_blis_arch(const char *arch) {
    if (arch == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_runtime_set_blis_arch: arch is NULL");
    if (strcmp(arch, "auto") != 0 && !arch_known(arch))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "dr3_runtime_set_blis_arch: unknown configuration '%s' (expected "
                         "auto, skx, zen3, zen2, zen, haswell, sandybridge or generic)",
                         arch);
    dr3_status st = DR3_OK;
    pthread_mutex_lock(&rt_lock);
    if (rt_ready) {
        st = dr3i_fail(DR3_ERR_STATE,
                       "dr3_runtime_set_blis_arch: BLIS is already initialised (active: %s); "
                       "call this before creating any libdr3 handle",
                       rt_active);
    } else {
        cpu_facts f;
        cpu_identify(&f);
        if (strcmp(arch, "auto") != 0 && !arch_runs_here(arch, &f)) {
            st = dr3i_fail(DR3_ERR_UNSUPPORTED,
                           "dr3_runtime_set_blis_arch: this CPU cannot run the '%s' kernels "
                           "(AVX2/FMA: %s, AVX-512: %s)",
                           arch, f.avx2_fma ? "yes" : "no", f.avx512 ? "yes" : "no");
        } else if (strcmp(arch, "auto") != 0 && dr3k_blis_arch_id(arch) < 0) {
            st = dr3i_fail(DR3_ERR_UNSUPPORTED,
                           "dr3_runtime_set_blis_arch: this BLIS has no '%s' configuration",
                           arch);
        } else {
            snprintf(rt_user_arch, sizeof rt_user_arch, "%s", arch);
        }
    }
    pthread_mutex_unlock(&rt_lock);
    return st;
}

dr3_status dr3_runtime_info_get(dr3_runtime_info *info) {
    if (info == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_runtime_info_get: info is NULL");
    if (info->struct_size < sizeof(size_t))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "dr3_runtime_info_get: struct_size %zu is too small (use "
                         "DR3_RUNTIME_INFO_INIT)",
                         info->struct_size);
    dr3_status st = dr3i_runtime_ensure();
    if (st != DR3_OK) return st;
    static char vendor[13];
    dr3_runtime_info full;
    memset(&full, 0, sizeof full);
    pthread_mutex_lock(&rt_lock);
    memcpy(vendor, rt_cpu.vendor, sizeof vendor);
    full.struct_size = info->struct_size;
    full.version = DR3_VERSION_STRING;
    full.blis_version = dr3k_blis_version();
    full.blis_arch = rt_active;
    full.blis_arch_auto = rt_auto;
    full.blis_arch_best = rt_best;
    full.blis_arch_source = rt_source;
    full.blis_threading = dr3k_blis_threading();
    full.default_threads = 1;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    full.hardware_threads = online > 0 ? (int)online : 1;
    full.cpu_vendor = vendor;
    full.cpu_family = rt_cpu.family;
    full.cpu_model = rt_cpu.model;
    full.cpu_avx2_fma = rt_cpu.avx2_fma;
    full.cpu_avx512 = rt_cpu.avx512;
#ifdef DR3_HAVE_ZLIB
    full.has_zlib = 1;
#endif
#ifdef DR3_HAVE_HDF5
    full.has_hdf5 = 1;
#endif
    pthread_mutex_unlock(&rt_lock);
    size_t n = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    memcpy(info, &full, n);
    return DR3_OK;
}
