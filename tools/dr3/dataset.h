/* `--data PATH` of the dr3 command: which format a path holds, and opening it so that no
 * input can kill the command (HDF5 files are parsed by libhdf5 in a child process). */
#ifndef DR3_TOOL_DATASET_H
#define DR3_TOOL_DATASET_H

#include <dr3/dr3.h>

typedef enum data_kind {
    DATA_NPY,    /* a directory holding observations.npy, actions.npy, ... */
    DATA_DQN,    /* a DQN Replay directory of $store$_*_ckpt.N.gz files */
    DATA_MINARI, /* a Minari main_data.hdf5 (or the dataset directory holding it) */
    DATA_HDF5,   /* another HDF5 file: D4RL, else Minari */
    DATA_NOT_A_DATASET
} data_kind;

/* Decides what `path` is from the file system alone (names and, for single files, the first
 * bytes; no parser runs). For DATA_MINARI the file to open goes to file (cap bytes). On
 * DATA_NOT_A_DATASET, why holds a one-line explanation of what was expected. */
data_kind data_detect(const char *path, unsigned suffix, char *file, size_t cap, char *why,
                      size_t why_cap);

/* Opens the dataset at path with options o (gamma, n_step, frame_stack). HDF5 files are
 * read by a child process and converted to the .npy layout in a temporary directory that
 * this process memory-maps; a child killed by a signal (libhdf5 crashed on a malformed
 * file) is reported, not shared. On failure prints one line "dr3 <cmd>: ..." to stderr and
 * returns nonzero; *out is NULL. */
int data_open(const char *cmd, const char *path, unsigned suffix, const dr3_replay_options *o,
              dr3_replay **out);

#endif
