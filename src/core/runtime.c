/* Version queries, runtime information and the once-per-process BLIS initialisation with
 * the kernel choice made in kernels/blis_arch.c (dr3/runtime.h states the rule). */
#include <dr3/runtime.h>

#include "../kernels/kernels.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *dr3_version(void) { return DR3_VERSION_STRING; }

unsigned dr3_version_number(void) { return (unsigned)DR3_VERSION_NUMBER; }

/* ---- one-time initialisation ------------------------------------------------------ */

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static bool rt_ready;
static char rt_user_arch[16]; /* from dr3_runtime_set_blis_arch, "" if none */
static dr3k_cpu_facts rt_cpu;
static const char *rt_auto, *rt_best, *rt_active;
static int rt_source;

static dr3_status runtime_init_locked(void) {
    dr3k_cpu_identify(&rt_cpu);
    rt_auto = dr3k_blis_would_pick(&rt_cpu);
    rt_best = dr3k_blis_best_for(&rt_cpu);

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
               dr3k_blis_arch_known(dr3_env) && dr3k_blis_arch_runs_here(dr3_env, &rt_cpu)) {
        /* An unknown or unrunnable DR3_BLIS_ARCH is ignored (auto), never fatal: the
         * environment must not be able to crash a program with an illegal instruction. */
        want = dr3_env;
        source = DR3_BLIS_ARCH_FROM_USER;
    } else {
        /* Always ask for the choice explicitly: BLIS's own detection is only predicted (it
         * reads SKUs from brand strings), so leaving it to BLIS could diverge. */
        want = rt_best;
        source =
            strcmp(rt_best, rt_auto) == 0 ? DR3_BLIS_ARCH_FROM_BLIS : DR3_BLIS_ARCH_FROM_LIBDR3;
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
    if (strcmp(arch, "auto") != 0 && !dr3k_blis_arch_known(arch))
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
        dr3k_cpu_facts f;
        dr3k_cpu_identify(&f);
        if (strcmp(arch, "auto") != 0 && !dr3k_blis_arch_runs_here(arch, &f)) {
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

DR3I_DEFINE_STRUCT(dr3_runtime_info, dr3_runtime_info, DR3_RUNTIME_INFO_INIT,
                   DR3_RUNTIME_INFO_VERSION, sizeof(dr3_runtime_info))

dr3_status dr3_runtime_info_get(dr3_runtime_info *info) {
    static const char who[] = "dr3_runtime_info_get";
    dr3_runtime_info probe = DR3_RUNTIME_INFO_INIT;
    dr3_status st =
        dr3i_struct_in(&probe, info, &dr3i_desc_dr3_runtime_info, false, who, "info");
    if (st != DR3_OK) return st;
    st = dr3i_runtime_ensure();
    if (st != DR3_OK) return st;
    static char vendor[13];
    dr3_runtime_info full;
    memset(&full, 0, sizeof full);
    pthread_mutex_lock(&rt_lock);
    memcpy(vendor, rt_cpu.vendor, sizeof vendor);
    full.version = DR3_RUNTIME_INFO_VERSION;
    full.libdr3_version = DR3_VERSION_STRING;
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
    return dr3i_struct_out(info, &full, &dr3i_desc_dr3_runtime_info, who, "info");
}

DR3I_ENUM_NAMES(dr3_blis_arch_source, dr3_blis_arch_source, "blis", "libdr3", "user",
                "host_env", "host_init")
