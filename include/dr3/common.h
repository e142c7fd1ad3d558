/**
 * @file dr3/common.h
 * @brief Status codes, error reporting, export macro and allocator hooks shared by every
 *        libdr3 module.
 *
 * Conventions used across the whole API (docs/conventions.md, docs/api-stability.md):
 * - Every function that can fail returns a ::dr3_status; ::DR3_OK is 0 and every failure is
 *   negative. On failure nothing the caller owns is modified, and dr3_last_error() holds a
 *   message naming the argument or field at fault.
 * - Constructors are `dr3_X_create(dr3_X **out, ...)`; the object returned through `out` is
 *   owned by the caller and released with `dr3_X_free()`, which accepts NULL.
 * - Pointers returned by getters are borrowed and live as long as the object they came from.
 * - Every public struct begins with `unsigned version`, set by its `_INIT` macro or its
 *   `_init()` function to the `_VERSION` macro of the header the program was built with.
 *   The library reads only the fields that version has and gives every newer field its
 *   default, so a program built against an older header keeps working against a newer
 *   library (docs/api-stability.md).
 * - Threading: one object may be used by one thread at a time; distinct objects may be used
 *   from distinct threads concurrently (docs/threading.md lists the exceptions).
 */
#ifndef DR3_COMMON_H
#define DR3_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <dr3/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @def DR3_API
 *  Marks a function as part of the exported, stable interface of the shared library. */
#if defined(DR3_STATIC_DEFINE)
#define DR3_API
#elif defined(_WIN32)
#if defined(DR3_BUILDING_LIBRARY)
#define DR3_API __declspec(dllexport)
#else
#define DR3_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define DR3_API __attribute__((visibility("default")))
#else
#define DR3_API
#endif

/**
 * @brief Result of every fallible libdr3 call.
 *
 * The numeric values are part of the ABI: they are never renumbered or reused, new codes
 * are only ever added with new values.
 */
typedef enum dr3_status {
    DR3_OK = 0,               /**< Success. */
    DR3_ERR_INVALID_ARG = -1, /**< A NULL pointer, zero or out-of-range size, bad enum. */
    DR3_ERR_NOMEM = -2,       /**< An allocation failed. */
    DR3_ERR_NONFINITE = -3,   /**< A NaN or infinity in an input, loss or gradient. */
    DR3_ERR_IO = -4,          /**< Reading, writing, syncing or renaming a file failed. */
    DR3_ERR_FORMAT = -5,      /**< A file or buffer is malformed (bad magic, header, size). */
    DR3_ERR_UNSUPPORTED = -6, /**< The feature is not compiled in or not supported here. */
    DR3_ERR_SHAPE = -7,       /**< Dimensions of two arguments or handles disagree. */
    DR3_ERR_OVERFLOW = -8,    /**< A size computation would overflow size_t. */
    DR3_ERR_RANGE = -9,       /**< An index (action, layer, row) is out of range. */
    DR3_ERR_STATE = -10,      /**< The object is not in a state that allows the call. */
    DR3_ERR_CALLBACK = -11,   /**< A user callback or plugin reported a failure. */
    DR3_ERR_CHECKSUM = -12,   /**< A file's checksum does not match its contents. */
    DR3_ERR_VERSION = -13,    /**< A file or struct comes from an incompatible version. */
    DR3_ERR_INTERNAL = -14    /**< A bug in libdr3; please report it. */
} dr3_status;

/**
 * @brief A static, human-readable name for a status code ("invalid argument", ...).
 *
 * Never returns NULL; unknown values give "unknown status". Thread-safe.
 */
DR3_API const char *dr3_status_str(dr3_status status);

/** @brief The status's identifier without prefix ("ok", "invalid_arg", "nomem", ...,
 *  "internal"; the enum's names in lower case), or NULL for an unknown value. Thread-safe. */
DR3_API const char *dr3_status_name(dr3_status status);

/** @brief Parses a name given by dr3_status_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_status_parse(dr3_status *out, const char *name);

/**
 * @brief The detailed message of the last failing libdr3 call on the calling thread.
 *
 * The message names the function and the argument, field or file at fault, for example
 * `dr3_feature_dot_loss: ld_phi (3) < d (4)`. It is empty ("") if no call has failed on this
 * thread. The returned pointer is valid until the next libdr3 call on the same thread.
 * Successful calls do not clear it. Thread-safe (thread-local storage).
 */
DR3_API const char *dr3_last_error(void);

/** @brief Clears the calling thread's last error message. Thread-safe. */
DR3_API void dr3_clear_error(void);

/** Version of ::dr3_allocator in this header (1: alloc, free, opaque). */
#define DR3_ALLOCATOR_VERSION 1

/**
 * @brief Memory hooks a handle uses for all of its allocations.
 *
 * Copied into the handle at creation; NULL everywhere means the C library (aligned
 * allocation through `aligned_alloc`). `alloc` must return memory aligned to at least
 * `alignment` bytes (a power of two, at most 4096; libdr3 asks for 64 so BLIS and SIMD
 * loads see cache-line-aligned rows) or NULL on failure. `free` receives pointers returned
 * by `alloc` and is never called with NULL. `opaque` is passed back unchanged.
 * The hooks may be called from any thread that uses the handle.
 */
typedef struct dr3_allocator {
    unsigned version; /**< ::DR3_ALLOCATOR_VERSION; set by ::DR3_ALLOCATOR_INIT. */
    void *(*alloc)(void *opaque, size_t size, size_t alignment); /**< Allocate. */
    void (*free)(void *opaque, void *ptr);                       /**< Release. */
    void *opaque;                                                /**< User data. */
} dr3_allocator;

/** Initializer for ::dr3_allocator: all hooks NULL (use the C library). */
#define DR3_ALLOCATOR_INIT                                                                     \
    { DR3_ALLOCATOR_VERSION, NULL, NULL, NULL }

/**
 * @brief Fills @p allocator with the defaults of ::DR3_ALLOCATOR_INIT for struct version
 *        @p version (pass ::DR3_ALLOCATOR_VERSION), for languages without C macros.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (version 0 or newer than the
 * library). Thread-safe.
 */
DR3_API dr3_status dr3_allocator_init(dr3_allocator *allocator, unsigned version);

#ifdef __cplusplus
}
#endif

#endif /* DR3_COMMON_H */
