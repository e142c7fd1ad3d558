/* Crash-safe file replacement, used by every writer in libdr3 (weights, checkpoints,
 * datasets): data goes to a temporary file in the same directory, which is flushed,
 * fsync'd and renamed over the destination, and the directory is fsync'd. A crash at any
 * point leaves either the old file or the new one, never a mix. */
#ifndef DR3_SRC_IO_ATOMIC_FILE_H
#define DR3_SRC_IO_ATOMIC_FILE_H

#include <dr3/common.h>

#include <stdio.h>

typedef struct dr3i_atomic_file {
    FILE *fp;
    char *path;      /* destination */
    char *tmp_path;  /* "<path>.tmp-<pid>-<counter>" */
    const char *who; /* public function name, for error messages */
    int failed;      /* a write failed: commit refuses */
} dr3i_atomic_file;

/* Creates the temporary file. On failure nothing exists on disk and f needs no cleanup. */
dr3_status dr3i_atomic_open(dr3i_atomic_file *f, const char *path, const char *who);
/* Appends len bytes; on failure the file is marked failed (commit will refuse). */
dr3_status dr3i_atomic_write(dr3i_atomic_file *f, const void *data, size_t len);
/* Flushes, fsyncs, renames over the destination, fsyncs the directory, frees f.
 * On failure the temporary file is removed and the destination is untouched. */
dr3_status dr3i_atomic_commit(dr3i_atomic_file *f);
/* Discards the temporary file and frees f. Safe after a failed write. */
void dr3i_atomic_abort(dr3i_atomic_file *f);

/* Reads a whole file into a malloc'd buffer (*buf, freed by the caller) of *len bytes.
 * Errors name `who` and the path. */
dr3_status dr3i_read_file(const char *path, unsigned char **buf, size_t *len, const char *who);

#endif
