/* Private helpers shared by the dataset readers (.npy directories, DQN Replay gzip files,
 * HDF5): refusing files that are not regular files before reading them, and bounding what a
 * file may claim before anything is allocated for it. */
#ifndef DR3_SRC_REPLAY_FILES_H
#define DR3_SRC_REPLAY_FILES_H

#include "../core/internal.h"

#include <stddef.h>
#include <stdint.h>

/* Largest action count taken from the data when opts->num_actions is 0 (1 + the largest
 * action seen): a single flipped bit in an int32 action would otherwise ask for billions of
 * Q-values. A caller with more actions passes opts->num_actions explicitly. */
#define DR3I_MAX_INFERRED_ACTIONS (1u << 16)

/* Opens path read-only for a dataset reader: refuses (DR3_ERR_IO, with a message naming
 * the kind) anything but a regular file without blocking on a FIFO. If missing is non-NULL
 * a file that does not exist is not an error: *missing = 1, *fd = -1. */
dr3_status dr3i_open_regular(const char *path, int *fd, int *missing, const char *who);

/* The same check by name, for readers that cannot take a descriptor (libhdf5); the size
 * goes to *size if non-NULL. */
dr3_status dr3i_check_regular(const char *path, uint64_t *size, const char *who);

/* num_actions = 1 + max_action (1 if there is none), refused above
 * DR3I_MAX_INFERRED_ACTIONS with DR3_ERR_RANGE naming file. */
dr3_status dr3i_infer_num_actions(int64_t max_action, size_t *num_actions, const char *file,
                                  const char *who);

#endif
