/* flock(2) is BSD, not POSIX: ask glibc for it */
#define _DEFAULT_SOURCE 1

#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_uint tmp_counter;

static char *dup_n(const dr3i_alloc *a, const char *s, size_t n) {
    char *p = dr3i_calloc(a, n + 1);
    if (p != NULL) memcpy(p, s, n);
    return p;
}

static void release(dr3i_atomic_file *f) {
    dr3i_alloc a = f->alloc;
    dr3i_free(&a, f->path);
    dr3i_free(&a, f->tmp_path);
    dr3i_free(&a, f->dir);
    memset(f, 0, sizeof *f);
}

dr3_status dr3i_atomic_open(dr3i_atomic_file *f, const char *path, const char *who) {
    dr3i_alloc a;
    dr3_status st = dr3i_alloc_init(&a, NULL, who);
    if (st != DR3_OK) return st;
    return dr3i_atomic_open_with(f, path, &a, who);
}

dr3_status dr3i_atomic_open_with(dr3i_atomic_file *f, const char *path, const dr3i_alloc *alloc,
                                 const char *who) {
    memset(f, 0, sizeof *f);
    f->who = who;
    f->alloc = *alloc;
    if (path == NULL || path[0] == '\0')
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is NULL or empty", who);
    const size_t plen = strlen(path);
    const char *slash = strrchr(path, '/');
    f->path = dup_n(alloc, path, plen);
    f->tmp_path = dr3i_calloc(alloc, plen + 64);
    f->dir = slash == NULL   ? dup_n(alloc, ".", 1)
             : slash == path ? dup_n(alloc, "/", 1)
                             : dup_n(alloc, path, (size_t)(slash - path));
    if (f->path == NULL || f->tmp_path == NULL || f->dir == NULL) {
        release(f);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    snprintf(f->tmp_path, plen + 64, "%s.tmp-%ld-%u", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1u));
    int fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        /* held until the file is renamed or removed; a writer that dies releases it. Best
         * effort: a file system without locks falls back on the pid and age checks. */
        (void)flock(fd, LOCK_EX | LOCK_NB);
    }
    if (fd < 0 || (f->fp = fdopen(fd, "wb")) == NULL) {
        int e = errno;
        dr3_status st =
            dr3i_fail(DR3_ERR_IO, "%s: cannot create '%s': %s", who, f->tmp_path, strerror(e));
        if (fd >= 0) {
            unlink(f->tmp_path);
            close(fd);
        }
        release(f);
        return st;
    }
    return DR3_OK;
}

dr3_status dr3i_atomic_write(dr3i_atomic_file *f, const void *data, size_t len) {
    if (f->failed) return DR3_ERR_IO;
    if (len > 0 && fwrite(data, 1, len, f->fp) != len) {
        f->failed = 1;
        return dr3i_fail(DR3_ERR_IO, "%s: writing '%s' failed: %s", f->who, f->tmp_path,
                         strerror(errno));
    }
    return DR3_OK;
}

void dr3i_atomic_abort(dr3i_atomic_file *f) {
    if (f->tmp_path != NULL) unlink(f->tmp_path); /* while still holding the lock */
    if (f->fp != NULL) fclose(f->fp);
    release(f);
}

static void fsync_dir(const char *d) {
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
}

dr3_status dr3i_atomic_commit(dr3i_atomic_file *f) {
    dr3_status st = DR3_OK;
    if (f->failed) {
        st = dr3i_fail(DR3_ERR_IO, "%s: not saving '%s' after a failed write", f->who, f->path);
    } else if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) {
        st = dr3i_fail(DR3_ERR_IO, "%s: syncing '%s' failed: %s", f->who, f->tmp_path,
                       strerror(errno));
    }
    /* rename while the file is still open and locked: an unlocked temporary file is fair
     * game for another process's clean-up */
    if (st == DR3_OK && rename(f->tmp_path, f->path) != 0)
        st = dr3i_fail(DR3_ERR_IO, "%s: renaming '%s' to '%s' failed: %s", f->who, f->tmp_path,
                       f->path, strerror(errno));
    if (st != DR3_OK) unlink(f->tmp_path);
    /* the data is already flushed and synced: a failing close changes nothing on disk */
    fclose(f->fp);
    f->fp = NULL;
    if (st == DR3_OK) {
        fsync_dir(f->dir);
        dr3i_atomic_clean_stale(f->path);
    }
    release(f);
    return st;
}

/* ---- stale temporary files -------------------------------------------------------------- */

/* Parses "<pid>-<n>" (decimal, nothing else); false if the text is anything more. */
static bool parse_tmp_suffix(const char *s, long *pid) {
    char *end;
    if (*s < '0' || *s > '9') return false;
    errno = 0;
    long p = strtol(s, &end, 10);
    if (errno != 0 || *end != '-' || p <= 0) return false;
    s = end + 1;
    if (*s < '0' || *s > '9') return false;
    while (*s >= '0' && *s <= '9') s++;
    if (*s != '\0') return false;
    *pid = p;
    return true;
}

size_t dr3i_atomic_clean_stale(const char *path) {
    if (path == NULL || path[0] == '\0') return 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dirbuf[4096];
    const char *dirname = ".";
    if (slash == path) {
        dirname = "/";
    } else if (slash != NULL) {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dirbuf) return 0;
        memcpy(dirbuf, path, n);
        dirbuf[n] = '\0';
        dirname = dirbuf;
    }
    const size_t blen = strlen(base);
    if (blen == 0) return 0;
    DIR *d = opendir(dirname);
    if (d == NULL) return 0;
    const int dfd = dirfd(d);
    const long self = (long)getpid();
    const time_t now = time(NULL);
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        long pid;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp-", 5) != 0 ||
            !parse_tmp_suffix(name + blen + 5, &pid))
            continue;
        /* this process's own files may belong to a save running in another thread; a pid
         * that exists (or that we may not signal) may be a live writer */
        if (pid == self || (pid_t)pid != pid) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat s1, s2;
        if (fstat(fd, &s1) == 0 && S_ISREG(s1.st_mode) &&
            now - s1.st_mtime >= DR3I_ATOMIC_STALE_SECONDS &&
            flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            /* still the same file under that name (not replaced since we opened it) */
            fstatat(dfd, name, &s2, AT_SYMLINK_NOFOLLOW) == 0 && s1.st_ino == s2.st_ino &&
            s1.st_dev == s2.st_dev && unlinkat(dfd, name, 0) == 0)
            removed++;
        close(fd);
    }
    closedir(d);
    return removed;
}

/* ---- reading ------------------------------------------------------------------------------
 */

dr3_status dr3i_rfile_open(dr3i_rfile *f, const char *path, const char *who) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (path == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is NULL", who);
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot open '%s': %s", who, path, strerror(errno));
    struct stat s;
    if (fstat(fd, &s) != 0) {
        int e = errno;
        close(fd);
        return dr3i_fail(DR3_ERR_IO, "%s: cannot stat '%s': %s", who, path, strerror(e));
    }
    if (!S_ISREG(s.st_mode)) {
        close(fd);
        return dr3i_fail(DR3_ERR_IO, "%s: '%s' is not a regular file (a %s)", who, path,
                         S_ISFIFO(s.st_mode)   ? "FIFO"
                         : S_ISDIR(s.st_mode)  ? "directory"
                         : S_ISCHR(s.st_mode)  ? "character device"
                         : S_ISBLK(s.st_mode)  ? "block device"
                         : S_ISSOCK(s.st_mode) ? "socket"
                                               : "special file");
    }
    /* regular files never block; clear the flag anyway so reads behave as usual */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    f->fd = fd;
    f->size = s.st_size > 0 ? (uint64_t)s.st_size : 0;
    f->path = path;
    f->who = who;
    return DR3_OK;
}

dr3_status dr3i_rfile_read(const dr3i_rfile *f, uint64_t off, void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        if (off > (uint64_t)INT64_MAX)
            return dr3i_fail(DR3_ERR_IO, "%s: offset beyond '%s'", f->who, f->path);
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t r = pread(f->fd, p, chunk, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return dr3i_fail(DR3_ERR_IO, "%s: reading '%s' failed: %s", f->who, f->path,
                             strerror(errno));
        if (r == 0)
            return dr3i_fail(DR3_ERR_IO, "%s: '%s' is shorter than when it was opened", f->who,
                             f->path);
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return DR3_OK;
}

void dr3i_rfile_close(dr3i_rfile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}
