/* Built-in backups wrapped as plugin vtables, so the learner drives built-in and user
 * operators through one code path. */
#ifndef DR3_SRC_BACKUP_H
#define DR3_SRC_BACKUP_H

#include <dr3/backup.h>
#include <dr3/sys/backup.h>

/* Reads the user's options (versioned; NULL gives the defaults) and validates them. */
dr3_status dr3i_backup_options_load(dr3_backup_options *out, const dr3_backup_options *user,
                                    const char *who);
/* The vtable of built-in operator o->kind, named after it; its payload is a
 * dr3_backup_options owned by the caller (the learner keeps a copy inside itself and passes
 * its address). */
dr3_backup_vtable dr3i_backup_builtin_vtable(const dr3_backup_options *o);
/* Reads a user vtable (the fields of its version) and validates it. */
dr3_status dr3i_backup_vtable_load(dr3_backup_vtable *out, const dr3_backup_vtable *user,
                                   const char *who);

#endif
