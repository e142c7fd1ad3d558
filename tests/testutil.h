/* Shared helpers for the cmocka tests: random data, strided copies, reference math in
 * double precision and finite differences. */
#ifndef DR3_TESTUTIL_H
#define DR3_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dr3/dr3.h>

/* Fills n×d (row stride ld) with U(lo, hi); padding between rows gets NaN so that any
 * read or write outside the logical matrix shows up. */
void tu_fill_strided(float *x, size_t n, size_t d, size_t ld, float lo, float hi, dr3_rng *rng);
/* True when every padding element (columns d..ld-1) of an n-row matrix is still NaN. */
int tu_padding_untouched(const float *x, size_t n, size_t d, size_t ld);
/* Allocates n*ld floats, all NaN. */
float *tu_alloc_nan(size_t count);

/* |a - b| <= atol + rtol * |b|, with a message naming what differs. */
#define TU_ASSERT_CLOSE(a, b, rtol, atol)                                                      \
    do {                                                                                       \
        double tu_a = (double)(a), tu_b = (double)(b);                                         \
        if (!(fabs(tu_a - tu_b) <= (atol) + (rtol)*fabs(tu_b)))                                \
            fail_msg("%s = %.9g, expected %s = %.9g (rtol %g, atol %g)", #a, tu_a, #b, tu_b,   \
                     (double)(rtol), (double)(atol));                                          \
    } while (0)

/* Asserts st == expected and that the last error message is not empty. */
#define TU_ASSERT_FAILS(call, expected)                                                        \
    do {                                                                                       \
        dr3_clear_error();                                                                     \
        dr3_status tu_st = (call);                                                             \
        if (tu_st != (expected))                                                               \
            fail_msg("%s returned %d (%s), expected %d", #call, (int)tu_st,                    \
                     dr3_status_str(tu_st), (int)(expected));                                  \
        if (dr3_last_error()[0] == '\0') fail_msg("%s set no error message", #call);           \
    } while (0)

#endif
