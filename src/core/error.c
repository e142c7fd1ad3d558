/* Status names and the thread-local last-error message. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <dr3/sys/errors.h>

#if defined(_MSC_VER)
#define DR3I_THREAD_LOCAL __declspec(thread)
#else
#define DR3I_THREAD_LOCAL _Thread_local
#endif

/* Long enough for a function name, a file path and the field at fault. */
#define DR3I_ERROR_LEN 1024

static DR3I_THREAD_LOCAL char last_error[DR3I_ERROR_LEN];
/* Counts every message set on this thread, so a caller can tell whether a plugin it called
 * set one (dr3i_error_mark) without clearing the user's message first. */
static DR3I_THREAD_LOCAL unsigned long error_serial;

const char *dr3_status_str(dr3_status status) {
    switch (status) {
    case DR3_OK:
        return "ok";
    case DR3_ERR_INVALID_ARG:
        return "invalid argument";
    case DR3_ERR_NOMEM:
        return "out of memory";
    case DR3_ERR_NONFINITE:
        return "non-finite value";
    case DR3_ERR_IO:
        return "I/O error";
    case DR3_ERR_FORMAT:
        return "malformed data";
    case DR3_ERR_UNSUPPORTED:
        return "unsupported";
    case DR3_ERR_SHAPE:
        return "shape mismatch";
    case DR3_ERR_OVERFLOW:
        return "size overflow";
    case DR3_ERR_RANGE:
        return "index out of range";
    case DR3_ERR_STATE:
        return "invalid state";
    case DR3_ERR_CALLBACK:
        return "callback failed";
    case DR3_ERR_CHECKSUM:
        return "checksum mismatch";
    case DR3_ERR_VERSION:
        return "incompatible version";
    case DR3_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

const char *dr3_last_error(void) { return last_error; }

void dr3_clear_error(void) { last_error[0] = '\0'; }

/* Formats into a separate buffer first: an argument may point into last_error itself. */
static void set_message(const char *fmt, va_list ap) {
    char tmp[DR3I_ERROR_LEN];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(last_error, tmp, sizeof tmp);
    error_serial++;
}

dr3_status dr3i_fail(dr3_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    return status;
}

dr3_status dr3_error_set(dr3_status status, const char *fmt, ...) {
    if (fmt == NULL) {
        last_error[0] = '\0';
        error_serial++;
        return status;
    }
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    return status;
}

unsigned long dr3i_error_mark(void) { return error_serial; }

dr3_status dr3i_fail_after(dr3_status status, unsigned long mark, const char *fmt, ...) {
    char ctx[DR3I_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    if (error_serial != mark && last_error[0] != '\0')
        return dr3i_fail(status, "%s: %s", ctx, last_error);
    return dr3i_fail(status, "%s (no message from the plugin)", ctx);
}
