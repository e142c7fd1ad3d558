/* Built-in backups wrapped as plugin vtables, so the learner drives built-in and user
 * operators through one code path. */
#ifndef DR3_SRC_BACKUP_H
#define DR3_SRC_BACKUP_H

#include <dr3/backup.h>

/* Copies the first struct_size bytes of user options over the defaults and validates them. */
dr3_status dr3i_backup_options_load(dr3_backup_options *out, const dr3_backup_options *user,
                                    const char *who);
/* The vtable for built-in operators; its payload is a dr3_backup_options owned by the caller
 * (the learner keeps a copy inside itself and passes its address). */
const dr3_backup_vtable *dr3i_backup_builtin_vtable(void);
/* Copies a user vtable (min(struct_size, sizeof)) into zeroed storage and validates it. */
dr3_status dr3i_backup_vtable_load(dr3_backup_vtable *out, const dr3_backup_vtable *user,
                                   const char *who);

#endif
