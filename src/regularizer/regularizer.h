/* Built-in regularizers as plugin vtables, and loading of user vtables. */
#ifndef DR3_SRC_REGULARIZER_H
#define DR3_SRC_REGULARIZER_H

#include <dr3/regularizer.h>

dr3_status dr3i_regularizer_options_load(dr3_regularizer_options *out,
                                         const dr3_regularizer_options *user, const char *who);
/* Payload: a dr3_regularizer_options owned by the caller. */
const dr3_regularizer_vtable *dr3i_regularizer_builtin_vtable(void);
dr3_status dr3i_regularizer_vtable_load(dr3_regularizer_vtable *out,
                                        const dr3_regularizer_vtable *user, const char *who);

#endif
