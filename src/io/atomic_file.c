#include "atomic_file.h"

#include "../core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint tmp_counter;

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL) memcpy(p, s, n);
    return p;
}

dr3_status dr3i_atomic_open(dr3i_atomic_file *f, const char *path, const char *who) {
    memset(f, 0, sizeof *f);
    f->who = who;
    if (path == NULL || path[0] == '\0')
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is NULL or empty", who);
    size_t len = strlen(path) + 64;
    f->path = dup_str(path);
    f->tmp_path = malloc(len);
    if (f->path == NULL || f->tmp_path == NULL) {
        free(f->path);
        free(f->tmp_path);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    snprintf(f->tmp_path, len, "%s.tmp-%ld-%u", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1u));
    int fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || (f->fp = fdopen(fd, "wb")) == NULL) {
        int e = errno;
        if (fd >= 0) close(fd);
        dr3_status st =
            dr3i_fail(DR3_ERR_IO, "%s: cannot create '%s': %s", who, f->tmp_path, strerror(e));
        if (fd >= 0) unlink(f->tmp_path);
        free(f->path);
        free(f->tmp_path);
        memset(f, 0, sizeof *f);
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

static void release(dr3i_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}

void dr3i_atomic_abort(dr3i_atomic_file *f) {
    if (f->fp != NULL) fclose(f->fp);
    if (f->tmp_path != NULL) unlink(f->tmp_path);
    release(f);
}

static void fsync_parent_dir(const char *path) {
    char *dir = dup_str(path);
    if (dir == NULL) return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash != NULL) {
        *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
    free(dir);
}

dr3_status dr3i_atomic_commit(dr3i_atomic_file *f) {
    dr3_status st = DR3_OK;
    if (f->failed) {
        st = dr3i_fail(DR3_ERR_IO, "%s: not saving '%s' after a failed write", f->who, f->path);
    } else if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) {
        st = dr3i_fail(DR3_ERR_IO, "%s: syncing '%s' failed: %s", f->who, f->tmp_path,
                       strerror(errno));
    }
    if (fclose(f->fp) != 0 && st == DR3_OK)
        st = dr3i_fail(DR3_ERR_IO, "%s: closing '%s' failed: %s", f->who, f->tmp_path,
                       strerror(errno));
    f->fp = NULL;
    if (st == DR3_OK && rename(f->tmp_path, f->path) != 0)
        st = dr3i_fail(DR3_ERR_IO, "%s: renaming '%s' to '%s' failed: %s", f->who, f->tmp_path,
                       f->path, strerror(errno));
    if (st != DR3_OK) {
        unlink(f->tmp_path);
    } else {
        fsync_parent_dir(f->path);
    }
    release(f);
    return st;
}

dr3_status dr3i_read_file(const char *path, unsigned char **out, size_t *len, const char *who) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot open '%s': %s", who, path, strerror(errno));
    dr3_status st = DR3_OK;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    if (size < 0 || fseek(fp, 0, SEEK_SET) != 0)
        st = dr3i_fail(DR3_ERR_IO, "%s: cannot size '%s'", who, path);
    unsigned char *buf = NULL;
    if (st == DR3_OK) {
        buf = malloc(size > 0 ? (size_t)size : 1);
        if (buf == NULL)
            st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        else if (fread(buf, 1, (size_t)size, fp) != (size_t)size)
            st = dr3i_fail(DR3_ERR_IO, "%s: reading '%s' failed", who, path);
    }
    fclose(fp);
    if (st != DR3_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = (size_t)size;
    return DR3_OK;
}
