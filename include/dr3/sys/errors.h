/**
 * @file dr3/sys/errors.h
 * @brief Error reporting for plugins: how a backup, regularizer or policy callback explains
 *        why it failed.
 *
 * A plugin callback that fails returns non-zero. Before returning it may call
 * dr3_error_set() with its own message; the library then reports the failure with its
 * context around the plugin's words, for example
 * `dr3_learner_step: regularizer 1 ('my_reg') failed: lambda went negative`, through
 * dr3_last_error(). A plugin that sets no message gets `...failed (no message from the
 * plugin)`. (libgit2's `git_error_set` in `git2/sys/errors.h` is the model.)
 */
#ifndef DR3_SYS_ERRORS_H
#define DR3_SYS_ERRORS_H

#include <dr3/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @def DR3_PRINTF_LIKE
 *  Lets GCC and Clang check dr3_error_set()'s format string against its arguments. */
#if defined(__GNUC__)
#define DR3_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define DR3_PRINTF_LIKE(f, a)
#endif

/**
 * @brief Sets the calling thread's last error message (printf-style; truncated to 1023
 *        bytes) and returns @p status, so a plugin can write
 *        `return dr3_error_set(DR3_ERR_CALLBACK, "bad lambda %g", x) != 0;`.
 *
 * Safe to call with arguments that point into the current message (dr3_last_error()).
 * @p fmt NULL clears the message. Thread-safe (thread-local storage).
 */
DR3_API dr3_status dr3_error_set(dr3_status status, const char *fmt, ...) DR3_PRINTF_LIKE(2, 3);

#ifdef __cplusplus
}
#endif

#endif /* DR3_SYS_ERRORS_H */
