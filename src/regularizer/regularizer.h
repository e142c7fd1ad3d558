/* Built-in regularizers as plugin vtables, and loading of user vtables. */
#ifndef DR3_SRC_REGULARIZER_H
#define DR3_SRC_REGULARIZER_H

#include <dr3/regularizer.h>
#include <dr3/sys/regularizer.h>

dr3_status dr3i_regularizer_options_load(dr3_regularizer_options *out,
                                         const dr3_regularizer_options *user, const char *who);
/* The vtable of built-in o->kind, named after it. Payload: a dr3_regularizer_options owned
 * by the caller. */
dr3_regularizer_vtable dr3i_regularizer_builtin_vtable(const dr3_regularizer_options *o);
dr3_status dr3i_regularizer_vtable_load(dr3_regularizer_vtable *out,
                                        const dr3_regularizer_vtable *user, const char *who);

#endif
