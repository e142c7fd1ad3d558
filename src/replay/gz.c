/* gzip streams through zlib: gzip wrapper only (header and CRC-32/ISIZE trailer checked by
 * zlib), concatenated members accepted, exact-length reads so a short or long stream is an
 * error rather than silently zero-filled or ignored. */
#include "gz.h"

#include "files.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef DR3_HAVE_ZLIB
#include <zlib.h>

#define GZ_IN 65536

typedef struct gzimpl {
    z_stream zs;
    uint8_t in[GZ_IN];
} gzimpl;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    size_t n;
    if (!dr3i_mul(items, size, &n)) return Z_NULL;
    return dr3i_calloc((const dr3i_alloc *)opaque, n);
}
static void z_free(voidpf opaque, voidpf p) { dr3i_free((const dr3i_alloc *)opaque, p); }

static dr3_status start(dr3i_gz *g) {
    gzimpl *z = dr3i_calloc(g->alloc, sizeof *z);
    if (z == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: %s: out of memory", g->who, g->name);
    z->zs.zalloc = z_alloc;
    z->zs.zfree = z_free;
    z->zs.opaque = (voidpf)g->alloc;
    if (inflateInit2(&z->zs, 16 + MAX_WBITS) != Z_OK) {
        dr3i_free(g->alloc, z);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: %s: cannot start zlib", g->who, g->name);
    }
    g->z = z;
    return DR3_OK;
}

dr3_status dr3i_gz_open_file(dr3i_gz *g, const dr3i_alloc *alloc, const char *path,
                             const char *who) {
    memset(g, 0, sizeof *g);
    g->alloc = alloc;
    g->name = path;
    g->who = who;
    int fd = -1;
    dr3_status st = dr3i_open_regular(path, &fd, NULL, who);
    if (st != DR3_OK) return st;
    g->fp = fdopen(fd, "rb");
    if (g->fp == NULL) {
        int e = errno;
        close(fd);
        return dr3i_fail(DR3_ERR_IO, "%s: cannot open '%s': %s", who, path, strerror(e));
    }
    st = start(g);
    if (st != DR3_OK) {
        fclose(g->fp);
        g->fp = NULL;
    }
    return st;
}

dr3_status dr3i_gz_open_mem(dr3i_gz *g, const dr3i_alloc *alloc, const void *data, size_t len,
                            const char *name, const char *who) {
    memset(g, 0, sizeof *g);
    g->alloc = alloc;
    g->name = name;
    g->who = who;
    g->mem = data;
    g->mem_len = len;
    return start(g);
}

void dr3i_gz_close(dr3i_gz *g) {
    if (g->z != NULL) {
        gzimpl *z = g->z;
        inflateEnd(&z->zs);
        dr3i_free(g->alloc, z);
    }
    if (g->fp != NULL) fclose(g->fp);
    g->z = NULL;
    g->fp = NULL;
}

/* Refills the input buffer; 0 bytes at the end of the source. */
static dr3_status refill(dr3i_gz *g, size_t *got) {
    gzimpl *z = g->z;
    size_t n;
    if (g->fp != NULL) {
        n = fread(z->in, 1, GZ_IN, g->fp);
        if (n == 0 && ferror(g->fp))
            return dr3i_fail(DR3_ERR_IO, "%s: reading '%s' failed", g->who, g->name);
    } else {
        n = g->mem_len - g->mem_pos;
        if (n > GZ_IN) n = GZ_IN;
        memcpy(z->in, g->mem + g->mem_pos, n);
        g->mem_pos += n;
    }
    z->zs.next_in = z->in;
    z->zs.avail_in = (uInt)n;
    *got = n;
    return DR3_OK;
}

/* Up to n bytes; *got < n only at a clean end (the last member complete, no input left). */
static dr3_status pull(dr3i_gz *g, uint8_t *dst, size_t n, size_t *got) {
    gzimpl *z = g->z;
    size_t done = 0;
    while (done < n) {
        if (z->zs.avail_in == 0) {
            size_t in = 0;
            dr3_status st = refill(g, &in);
            if (st != DR3_OK) return st;
            if (in == 0) {
                if (g->started && g->member_done) break;
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: %s", g->who, g->name,
                                 g->started ? "truncated gzip stream" : "empty file, not gzip");
            }
        }
        if (g->member_done) { /* another member follows */
            if (inflateReset(&z->zs) != Z_OK)
                return dr3i_fail(DR3_ERR_INTERNAL, "%s: %s: inflateReset", g->who, g->name);
            g->member_done = 0;
        }
        g->started = 1;
        size_t want = n - done;
        if (want > UINT_MAX) want = UINT_MAX;
        z->zs.next_out = dst + done;
        z->zs.avail_out = (uInt)want;
        int rc = inflate(&z->zs, Z_NO_FLUSH);
        done += want - z->zs.avail_out;
        if (rc == Z_STREAM_END) {
            g->member_done = 1;
        } else if (rc == Z_BUF_ERROR) {
            if (z->zs.avail_in != 0 && z->zs.avail_out != 0)
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: corrupt gzip stream", g->who,
                                 g->name);
        } else if (rc != Z_OK) {
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: corrupt gzip stream (%s)", g->who,
                             g->name, z->zs.msg ? z->zs.msg : "zlib error");
        }
    }
    *got = done;
    return DR3_OK;
}

dr3_status dr3i_gz_read(dr3i_gz *g, void *dst, size_t n) {
    size_t got;
    dr3_status st = pull(g, dst, n, &got);
    if (st != DR3_OK) return st;
    if (got != n)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: stream ends after %zu of %zu expected bytes",
                         g->who, g->name, got, n);
    return DR3_OK;
}

dr3_status dr3i_gz_expect_end(dr3i_gz *g) {
    uint8_t b;
    size_t got;
    dr3_status st = pull(g, &b, 1, &got);
    if (st != DR3_OK) return st;
    if (got != 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: unexpected data after the array", g->who,
                         g->name);
    return DR3_OK;
}

#else /* !DR3_HAVE_ZLIB */

static dr3_status no_zlib(const char *who) {
    return dr3i_fail(DR3_ERR_UNSUPPORTED,
                     "%s: libdr3 was built without zlib; gzip'd datasets cannot be read "
                     "(install zlib1g-dev and rebuild)",
                     who);
}
dr3_status dr3i_gz_open_file(dr3i_gz *g, const dr3i_alloc *alloc, const char *path,
                             const char *who) {
    memset(g, 0, sizeof *g);
    (void)alloc;
    (void)path;
    return no_zlib(who);
}
dr3_status dr3i_gz_open_mem(dr3i_gz *g, const dr3i_alloc *alloc, const void *data, size_t len,
                            const char *name, const char *who) {
    memset(g, 0, sizeof *g);
    (void)alloc;
    (void)data;
    (void)len;
    (void)name;
    return no_zlib(who);
}
dr3_status dr3i_gz_read(dr3i_gz *g, void *dst, size_t n) {
    (void)dst;
    (void)n;
    return no_zlib(g->who);
}
dr3_status dr3i_gz_expect_end(dr3i_gz *g) { return no_zlib(g->who); }
void dr3i_gz_close(dr3i_gz *g) { (void)g; }

#endif

dr3_status dr3i_gz_source_size(const dr3i_gz *g, uint64_t *bytes) {
    if (g->fp == NULL) {
        *bytes = g->mem_len;
        return DR3_OK;
    }
    struct stat sb;
    if (fstat(fileno(g->fp), &sb) != 0)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot stat '%s'", g->who, g->name);
    *bytes = (uint64_t)sb.st_size;
    return DR3_OK;
}

dr3_status dr3i_gz_check_plausible(const dr3i_gz *g, uint64_t bytes) {
    uint64_t have = 0;
    dr3_status st = dr3i_gz_source_size(g, &have);
    if (st != DR3_OK) return st;
    if (bytes / DR3I_GZ_MAX_RATIO > have)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: the header declares %llu bytes of data, more than a gzip "
                         "stream of %llu bytes can hold (truncated or corrupt file)",
                         g->who, g->name, (unsigned long long)bytes, (unsigned long long)have);
    return DR3_OK;
}

dr3_status dr3i_gz_npy_header(dr3i_gz *g, dr3i_npy_header *h) {
    uint8_t pre[DR3I_NPY_PREAMBLE];
    dr3_status st = dr3i_gz_read(g, pre, 10);
    if (st != DR3_OK) return st;
    size_t have = 10, off;
    if (pre[6] >= 2 && pre[6] <= 3) {
        if ((st = dr3i_gz_read(g, pre + 10, 2)) != DR3_OK) return st;
        have = 12;
    }
    if ((st = dr3i_npy_data_offset(pre, have, &off, g->name, g->who)) != DR3_OK) return st;
    uint8_t *buf = dr3i_calloc(g->alloc, off);
    if (buf == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: %s: out of memory", g->who, g->name);
    memcpy(buf, pre, have);
    st = dr3i_gz_read(g, buf + have, off - have);
    if (st == DR3_OK) st = dr3i_npy_parse(buf, off, h, g->name, g->who);
    dr3i_free(g->alloc, buf);
    return st;
}
