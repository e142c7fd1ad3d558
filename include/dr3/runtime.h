/**
 * @file dr3/runtime.h
 * @brief Library version at run time, BLIS kernel selection and runtime information.
 *
 * libdr3 does all dense linear algebra with BLIS. BLIS picks one kernel configuration
 * ("sub-configuration", e.g. skx, zen3, haswell, generic) per process, once, when it is
 * initialised. Some BLIS releases do not recognise newer CPUs and fall back to their slow
 * generic kernels (Debian 12's BLIS 0.9.0 does so on AMD Zen 5: ~42 GFLOP/s sgemm per core
 * instead of ~220 with its skx kernels). libdr3 therefore decides the configuration before
 * BLIS initialises, by this rule (details in docs/performance.md):
 *
 *  1. If the host program set `BLIS_ARCH_TYPE` in the environment, it is respected.
 *  2. Else, if dr3_runtime_set_blis_arch() was called, or `DR3_BLIS_ARCH` is set in the
 *     environment (a name: "skx", "zen3", "haswell", "generic", or "auto"), that
 *     configuration is used, provided the CPU can run it.
 *  3. Else ("auto"), the CPU is identified with cpuid. If BLIS recognises it, BLIS's own
 *     choice is kept (it is tuned per CPU family); if BLIS would fall back to generic on a
 *     CPU that has AVX-512 (F, CD, BW, DQ, VL) or AVX2+FMA, the best matching optimised
 *     configuration is chosen instead (skx, then zen3 on AMD / haswell on Intel).
 *  4. If BLIS was already initialised by the host before libdr3's first use, nothing can be
 *     changed; the active configuration is reported as such.
 *
 * Initialisation happens once per process, on the first handle creation or on an explicit
 * dr3_runtime_init(). To apply the choice libdr3 briefly sets `BLIS_ARCH_TYPE` for BLIS's
 * initialisation and then restores the previous environment; call dr3_runtime_init() from
 * the main thread before starting other threads if your program reads the environment
 * concurrently.
 */
#ifndef DR3_RUNTIME_H
#define DR3_RUNTIME_H

#include <dr3/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The library's version string ("MAJOR.MINOR.PATCH"), static. Thread-safe. */
DR3_API const char *dr3_version(void);

/** @brief The library's version as MAJOR*10000 + MINOR*100 + PATCH. Thread-safe. */
DR3_API unsigned dr3_version_number(void);

/**
 * @brief Chooses the BLIS kernel configuration libdr3 will ask for (rule 2 above).
 *
 * @p arch is "auto", "skx", "zen3", "zen2", "zen", "haswell", "sandybridge" or "generic".
 * Must be called before the first libdr3 handle is created or dr3_runtime_init() runs.
 * Errors: ::DR3_ERR_INVALID_ARG for NULL or an unknown name; ::DR3_ERR_UNSUPPORTED if this
 * CPU cannot execute that configuration (e.g. "skx" without AVX-512) or this BLIS does not
 * contain it; ::DR3_ERR_STATE if BLIS is already initialised. Not thread-safe with
 * concurrent handle creation.
 */
DR3_API dr3_status dr3_runtime_set_blis_arch(const char *arch);

/**
 * @brief Initialises BLIS with libdr3's kernel choice. Idempotent and thread-safe; handle
 * constructors call it. Returns ::DR3_OK, or ::DR3_ERR_INTERNAL if BLIS failed to start.
 */
DR3_API dr3_status dr3_runtime_init(void);

/** Where the active BLIS configuration came from. Values are fixed. */
typedef enum dr3_blis_arch_source {
    DR3_BLIS_ARCH_FROM_BLIS = 0,     /**< BLIS's own CPU detection, kept by libdr3. */
    DR3_BLIS_ARCH_FROM_LIBDR3 = 1,   /**< libdr3 replaced BLIS's generic fallback. */
    DR3_BLIS_ARCH_FROM_USER = 2,     /**< dr3_runtime_set_blis_arch() or DR3_BLIS_ARCH. */
    DR3_BLIS_ARCH_FROM_HOST_ENV = 3, /**< BLIS_ARCH_TYPE set by the host program. */
    DR3_BLIS_ARCH_FROM_HOST_INIT = 4 /**< BLIS was initialised before libdr3 could choose. */
} dr3_blis_arch_source;

/** @brief A static name for a ::dr3_blis_arch_source value ("blis", "libdr3", "user",
 * "host_env", "host_init"), or NULL for an unknown value. Thread-safe. */
DR3_API const char *dr3_blis_arch_source_name(dr3_blis_arch_source value);

/** @brief Parses a name given by dr3_blis_arch_source_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_blis_arch_source_parse(dr3_blis_arch_source *out, const char *name);

/** Version of ::dr3_runtime_info in this header (1: as released in 1.0). */
#define DR3_RUNTIME_INFO_VERSION 1

/**
 * @brief What libdr3 runs with: versions, BLIS configuration, threads, optional features.
 * Filled by dr3_runtime_info_get(); strings are static and owned by the library.
 */
typedef struct dr3_runtime_info {
    unsigned version;           /**< ::DR3_RUNTIME_INFO_VERSION; set by the _INIT macro or
                                   dr3_runtime_info_init(). */
    const char *libdr3_version; /**< libdr3 version string. */
    const char *blis_version;   /**< BLIS version string, e.g. "0.9.0". */
    const char *blis_arch;      /**< Active BLIS configuration, e.g. "skx". */
    const char *blis_arch_auto; /**< What BLIS alone would pick on this CPU (libdr3's
                                     prediction from cpuid). */
    const char *blis_arch_best; /**< Best configuration for this CPU by libdr3's rule. */
    int blis_arch_source;       /**< A ::dr3_blis_arch_source value. */
    int blis_threading;         /**< 1 if this BLIS was built with OpenMP or pthreads. */
    int default_threads;        /**< Threads a new handle uses unless told otherwise (1). */
    int hardware_threads;       /**< Logical CPUs online. */
    const char *cpu_vendor;     /**< CPU vendor, e.g. AuthenticAMD, or unknown. */
    int cpu_family;             /**< x86 display family (e.g. 25 = Zen 3/4), 0 if unknown. */
    int cpu_model;              /**< x86 display model, 0 if unknown. */
    int cpu_avx2_fma;           /**< 1 if AVX2 and FMA3 are usable (CPU and OS). */
    int cpu_avx512;             /**< 1 if AVX-512 F/CD/BW/DQ/VL are usable (CPU and OS). */
    int has_zlib;               /**< 1 if gzip'd datasets can be read. */
    int has_hdf5;               /**< 1 if HDF5 datasets (D4RL, Minari) can be read. */
} dr3_runtime_info;

/** Initializer for ::dr3_runtime_info (every field listed, so -Wextra stays quiet; a
 *  field appended later is appended here too). */
#define DR3_RUNTIME_INFO_INIT                                                                  \
    {                                                                                          \
        DR3_RUNTIME_INFO_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, 0, 0, 0, 0,  \
            0, 0                                                                               \
    }

/** @brief Fills @p s with the defaults of ::DR3_RUNTIME_INFO_INIT for struct version @p version
 *  (pass ::DR3_RUNTIME_INFO_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_runtime_info_init(dr3_runtime_info *s, unsigned version);

/**
 * @brief Fills @p info (the fields of its version), initialising the runtime first.
 * Errors: ::DR3_ERR_INVALID_ARG if @p info is NULL, ::DR3_ERR_VERSION if its version is 0 or
 * newer than the library's. Thread-safe.
 */
DR3_API dr3_status dr3_runtime_info_get(dr3_runtime_info *info);

#ifdef __cplusplus
}
#endif

#endif /* DR3_RUNTIME_H */
