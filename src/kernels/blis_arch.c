/* Which BLIS kernel configuration ("sub-configuration") runs on this CPU: CPU
 * identification and libdr3's choice (the rule is stated in dr3/runtime.h, the measurements
 * behind it in docs/performance.md). Kept beside the BLIS wrappers: the only module that
 * knows about BLIS. */
#include "kernels.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DR3I_X86 1
#endif

/* ---- CPU identification ---------------------------------------------------------- */

#ifdef DR3I_X86
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

void dr3k_cpu_identify(dr3k_cpu_facts *f) {
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
    unsigned ext_max = __get_cpuid_max(0x80000000u, NULL);
    if (ext_max >= 0x80000004u) { /* the brand string, 48 bytes over three leaves */
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            unsigned r[4];
            __get_cpuid(0x80000002u + leaf, &r[0], &r[1], &r[2], &r[3]);
            memcpy(f->brand + 16 * leaf, r, 16);
        }
        f->brand[48] = '\0';
    }
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
const char *dr3k_blis_would_pick(const dr3k_cpu_facts *f) {
    if (strcmp(f->vendor, "GenuineIntel") == 0) {
        /* BLIS takes skx only where it counts two AVX-512 FMA units, which it reads from the
         * brand string's SKU (Xeon Platinum / Gold 6xxx / W, Core i9 ...); a virtual CPU
         * named "Intel(R) Xeon(R) Processor" gets haswell. */
        if (f->avx512 && (strstr(f->brand, "Platinum") || strstr(f->brand, "Gold 6") ||
                          strstr(f->brand, "Xeon(R) W-") || strstr(f->brand, "i9-")))
            return "skx";
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

/* libdr3's rule: on AMD keep what BLIS recognises (zen3 on Zen 3/4 has the small-matrix
 * path; measured as fast as skx on large shapes there); everywhere else, and on AMD CPUs BLIS
 * does not know, take the best optimised configuration the CPU can execute: skx with
 * AVX-512, then zen3 (AMD) / haswell (Intel) with AVX2+FMA. */
const char *dr3k_blis_best_for(const dr3k_cpu_facts *f) {
    const char *auto_pick = dr3k_blis_would_pick(f);
    if (strcmp(f->vendor, "AuthenticAMD") == 0 && strcmp(auto_pick, "generic") != 0)
        return auto_pick;
    if (f->avx512) return "skx";
    if (f->avx2_fma) return strcmp(f->vendor, "AuthenticAMD") == 0 ? "zen3" : "haswell";
    if (f->avx) return "sandybridge";
    return "generic";
}

/* Configurations libdr3 will request and the CPU features each needs. Others in BLIS's
 * list are either absent from distribution builds (knl crashes Debian's) or obsolete. */
bool dr3k_blis_arch_runs_here(const char *name, const dr3k_cpu_facts *f) {
    if (strcmp(name, "generic") == 0) return true;
    if (strcmp(name, "sandybridge") == 0) return f->avx;
    if (strcmp(name, "haswell") == 0 || strcmp(name, "zen") == 0 || strcmp(name, "zen2") == 0 ||
        strcmp(name, "zen3") == 0)
        return f->avx2_fma;
    if (strcmp(name, "skx") == 0) return f->avx512;
    return false;
}

bool dr3k_blis_arch_known(const char *name) {
    static const char *const names[] = {"skx",     "zen3",        "zen2",   "zen",
                                        "haswell", "sandybridge", "generic"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return true;
    return false;
}
