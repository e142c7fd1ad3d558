/* Crash-safe file replacement, used by every writer in libdr3 (weights, checkpoints,
 * datasets): data goes to a temporary file in the same directory, which is flushed,
 * fsync'd and renamed over the destination, and the directory is fsync'd. A crash at any
 * point leaves either the old file or the new one, never a mix.
 *
 * And the matching reader side: files are opened without blocking (a FIFO named like a
 * checkpoint would otherwise block open() forever), only regular files are accepted, and
 * the size is known before anything is read, so that formats check their headers against
 * it before allocating. */
#ifndef DR3_SRC_IO_ATOMIC_FILE_H
#define DR3_SRC_IO_ATOMIC_FILE_H

#include <dr3/common.h>

#include "../core/internal.h"

#include <stdint.h>
#include <stdio.h>

typedef struct dr3i_atomic_file {
    FILE *fp;
    dr3i_alloc alloc; /* for the three strings below */
    char *path;       /* destination */
    char *tmp_path;   /* "<path>.tmp-<pid>-<counter>" */
    char *dir;        /* the destination's directory ("." when path has no '/') */
    const char *who;  /* public function name, for error messages */
    int failed;       /* a write failed: commit refuses */
} dr3i_atomic_file;

/* Creates the temporary file (exclusively locked with flock while it is being written, so
 * that no other process's clean-up takes it for stale). On failure nothing exists on disk
 * and f needs no cleanup. The _with form allocates through `alloc` (a handle's hooks); the
 * plain form uses the C library. */
dr3_status dr3i_atomic_open(dr3i_atomic_file *f, const char *path, const char *who);
dr3_status dr3i_atomic_open_with(dr3i_atomic_file *f, const char *path, const dr3i_alloc *alloc,
                                 const char *who);
/* Appends len bytes; on failure the file is marked failed (commit will refuse). */
dr3_status dr3i_atomic_write(dr3i_atomic_file *f, const void *data, size_t len);
/* Flushes, fsyncs, renames over the destination, fsyncs the directory, frees f, then removes
 * stale temporary files of the same destination (dr3i_atomic_clean_stale).
 * On failure the temporary file is removed and the destination is untouched. */
dr3_status dr3i_atomic_commit(dr3i_atomic_file *f);
/* Discards the temporary file and frees f. Safe after a failed write. */
void dr3i_atomic_abort(dr3i_atomic_file *f);

/* Seconds a temporary file must be unmodified before it can count as stale. */
enum { DR3I_ATOMIC_STALE_SECONDS = 10 };
/* Removes temporary files "<base>.tmp-<pid>-<n>" of destination `path` left by writers that
 * died: only names of exactly that pattern, only regular files, only when <pid> is not
 * this process and no process with that pid exists, the file has not been modified for
 * DR3I_ATOMIC_STALE_SECONDS and nobody holds its lock (a live writer in another pid
 * namespace still holds it). Best effort and silent; returns the number removed. */
size_t dr3i_atomic_clean_stale(const char *path);

/* A file open for reading. */
typedef struct dr3i_rfile {
    int fd;
    uint64_t size; /* bytes, from fstat at open */
    const char *path, *who;
} dr3i_rfile;

/* Opens path for reading without blocking; refuses anything but a regular file
 * (DR3_ERR_IO naming it, e.g. a FIFO or a directory). On failure f needs no close. */
dr3_status dr3i_rfile_open(dr3i_rfile *f, const char *path, const char *who);
/* Reads exactly n bytes at offset off; DR3_ERR_IO if the file is shorter (it changed since
 * it was opened: callers check offsets against f->size first) or the read fails. */
dr3_status dr3i_rfile_read(const dr3i_rfile *f, uint64_t off, void *buf, size_t n);
void dr3i_rfile_close(dr3i_rfile *f);

#endif
