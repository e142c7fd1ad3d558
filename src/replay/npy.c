/* NumPy .npy header parsing and writing. The header is a Python dict literal; only the
 * subset numpy itself writes is accepted: {'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), } in any key order, with spaces, padded with spaces and a newline. */
#include "npy.h"

#include "../core/internal.h"

#include <stdio.h>
#include <string.h>

static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static const struct {
    const char *descr;
    dr3i_npy_dtype dtype;
    size_t elem;
} dtypes[] = {
    {"<f4", DR3I_NPY_F4, 4}, {"<f8", DR3I_NPY_F8, 8}, {"|u1", DR3I_NPY_U1, 1},
    {"<u1", DR3I_NPY_U1, 1}, {"|b1", DR3I_NPY_B1, 1}, {"<i4", DR3I_NPY_I4, 4},
    {"<i8", DR3I_NPY_I8, 8},
};

size_t dr3i_npy_elem(dr3i_npy_dtype dtype) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == dtype) return dtypes[i].elem;
    return 0;
}

dr3_status dr3i_npy_data_offset(const void *buf, size_t len, size_t *offset, const char *name,
                                const char *who) {
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, magic, 6) != 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: not a .npy file (bad magic)", who, name);
    if (b[6] < 1 || b[6] > 3 || b[7] != 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: unsupported .npy version %u.%u", who, name,
                         b[6], b[7]);
    size_t hl, pre;
    if (b[6] == 1) {
        hl = (size_t)b[8] | (size_t)b[9] << 8;
        pre = 10;
    } else {
        if (len < 12)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: truncated .npy preamble", who, name);
        hl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        pre = 12;
    }
    if (hl > DR3I_NPY_MAX_HEADER)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: header length %zu is implausible", who, name,
                         hl);
    *offset = pre + hl;
    return DR3_OK;
}

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, copied into out (cap bytes). */
static int read_str(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int read_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* Non-negative decimal integer (Python 2 files may carry an 'L' suffix). -1 bad, -2 overflow */
static int read_size(cursor *c, size_t *v) {
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
    size_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t d = (size_t)(*c->p - '0');
        if (x > (SIZE_MAX - d) / 10) return -2;
        x = x * 10 + d;
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    *v = x;
    return 0;
}

dr3_status dr3i_npy_parse(const void *buf, size_t len, dr3i_npy_header *h, const char *name,
                          const char *who) {
    size_t off;
    dr3_status st = dr3i_npy_data_offset(buf, len, &off, name, who);
    if (st != DR3_OK) return st;
    if (len < off)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: truncated .npy header (%zu of %zu bytes)",
                         who, name, len, off);
    const unsigned char *b = buf;
    memset(h, 0, sizeof *h);
    h->version = b[6];
    h->data_offset = off;
    size_t pre = h->version == 1 ? 10 : 12;
    for (size_t i = pre; i < off; i++)
        if (b[i] == 0 || b[i] > 0x7e || (b[i] < 0x20 && b[i] != '\n' && b[i] != '\t'))
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: header byte %zu (0x%02x) is not text",
                             who, name, i, b[i]);
    cursor c = {(const char *)b + pre, (const char *)b + off};
    int have_descr = 0, have_order = 0, have_shape = 0;
    char descr[16] = "";
    if (!eat(&c, '{'))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: header is not a dict", who, name);
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32];
        if (!read_str(&c, key, sizeof key) || !eat(&c, ':'))
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: malformed header dict", who, name);
        if (strcmp(key, "descr") == 0) {
            if (have_descr++ || !read_str(&c, descr, sizeof descr))
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: bad or repeated 'descr'", who, name);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_order++)
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: repeated 'fortran_order'", who, name);
            if (read_word(&c, "True"))
                return dr3i_fail(DR3_ERR_UNSUPPORTED,
                                 "%s: %s: fortran_order True is not supported (save C order)",
                                 who, name);
            if (!read_word(&c, "False"))
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: bad 'fortran_order'", who, name);
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++ || !eat(&c, '('))
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: bad or repeated 'shape'", who, name);
            if (!eat(&c, ')')) {
                for (;;) {
                    if (h->ndim == DR3I_NPY_MAX_DIMS)
                        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: more than %d dimensions",
                                         who, name, DR3I_NPY_MAX_DIMS);
                    int rc = read_size(&c, &h->shape[h->ndim]);
                    if (rc == -2)
                        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: shape[%zu] overflows", who,
                                         name, h->ndim);
                    if (rc != 0)
                        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: bad shape[%zu]", who, name,
                                         h->ndim);
                    h->ndim++;
                    if (eat(&c, ',')) {
                        if (eat(&c, ')')) break;
                        continue;
                    }
                    if (h->ndim > 1 && eat(&c, ')')) break;
                    /* "(3)" is an int, not a tuple; anything else is garbage */
                    return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: 'shape' is not a tuple", who,
                                     name);
                }
            }
        } else {
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: unexpected header key '%s'", who, name,
                             key);
        }
        if (eat(&c, ',')) continue;
        if (eat(&c, '}')) break;
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: malformed header dict", who, name);
    }
    skip_ws(&c);
    if (c.p != c.end)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: trailing bytes after the header dict", who,
                         name);
    if (!have_descr || !have_order || !have_shape)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: header lacks '%s'", who, name,
                         !have_descr   ? "descr"
                         : !have_order ? "fortran_order"
                                       : "shape");
    int found = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(descr, dtypes[i].descr) == 0) {
            h->dtype = dtypes[i].dtype;
            h->elem = dtypes[i].elem;
            found = 1;
        }
    if (!found)
        return dr3i_fail(
            DR3_ERR_UNSUPPORTED,
            "%s: %s: dtype '%s' is not supported (use <f4, |u1, <i4, <i8, |b1, <f8)", who, name,
            descr);
    h->count = 1;
    for (size_t i = 0; i < h->ndim; i++)
        if (!dr3i_mul(h->count, h->shape[i], &h->count))
            return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: element count overflows", who, name);
    if (!dr3i_mul(h->count, h->elem, &h->data_bytes) ||
        !dr3i_add(h->data_offset, h->data_bytes, &(size_t){0}))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: data size overflows", who, name);
    return DR3_OK;
}

dr3_status dr3i_npy_write_header(char *buf, size_t cap, dr3i_npy_dtype dtype, size_t ndim,
                                 const size_t *shape, size_t *len) {
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == dtype && descr == NULL) descr = dtypes[i].descr;
    if (descr == NULL || ndim > DR3I_NPY_MAX_DIMS)
        return dr3i_fail(DR3_ERR_INTERNAL, "npy writer: bad dtype or rank");
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (size_t i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%zu", i ? ", " : "", shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    size_t body = (size_t)n + 1; /* + '\n' */
    size_t total = (10 + body + 63) / 64 * 64;
    if (total > cap || total - 10 > 65535)
        return dr3i_fail(DR3_ERR_INTERNAL, "npy writer: header buffer too small");
    memcpy(buf, magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    size_t hl = total - 10;
    buf[8] = (char)(hl & 0xff);
    buf[9] = (char)(hl >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    *len = total;
    return DR3_OK;
}
