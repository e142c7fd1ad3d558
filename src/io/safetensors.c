/* safetensors reader (strict JSON subset parser) and writer. */
#include "safetensors.h"

#include "../core/internal.h"
#include "atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a strict JSON parser for the header ------------------------------------------------ */

typedef struct parser {
    const char *p, *end;
    const char *who, *what;
    dr3_status st;
} parser;

static dr3_status bad(parser *ps, const char *msg) {
    if (ps->st == DR3_OK)
        ps->st = dr3i_fail(DR3_ERR_FORMAT, "%s: %s: bad safetensors header: %s", ps->who,
                           ps->what, msg);
    return ps->st;
}

static void ws(parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int expect(parser *ps, char c) {
    ws(ps);
    if (ps->p >= ps->end || *ps->p != c) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", c);
        bad(ps, msg);
        return 0;
    }
    ps->p++;
    return 1;
}

/* A JSON string into out (NUL-terminated, at most cap-1 bytes; longer is an error). */
static int string(parser *ps, char *out, size_t cap) {
    if (!expect(ps, '"')) return 0;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) return bad(ps, "control character in a string"), 0;
        if (c == '\\') {
            if (ps->p >= ps->end) break;
            char e = *ps->p++;
            switch (e) {
            case '"':
                c = '"';
                break;
            case '\\':
                c = '\\';
                break;
            case '/':
                c = '/';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    if (ps->p >= ps->end) return bad(ps, "short \\u escape"), 0;
                    char h = *ps->p++;
                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= (unsigned)(h - 'A' + 10);
                    else
                        return bad(ps, "bad \\u escape"), 0;
                }
                if (v == 0 || v > 0x7f) return bad(ps, "non-ASCII \\u escape"), 0;
                c = (unsigned char)v;
                break;
            }
            default:
                return bad(ps, "bad escape"), 0;
            }
        }
        if (n + 1 >= cap) return bad(ps, "string too long"), 0;
        out[n++] = (char)c;
    }
    if (ps->p >= ps->end) return bad(ps, "unterminated string"), 0;
    ps->p++;
    out[n] = '\0';
    return 1;
}

/* A non-negative integer that fits size_t. */
static int number(parser *ps, size_t *out) {
    ws(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return bad(ps, "expected an integer"), 0;
    size_t v = 0;
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return bad(ps, "leading zero"), 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        size_t d = (size_t)(*ps->p++ - '0');
        if (v > (SIZE_MAX - d) / 10) return bad(ps, "integer overflows"), 0;
        v = v * 10 + d;
    }
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
        return bad(ps, "expected an integer"), 0;
    *out = v;
    return 1;
}

static int int_array(parser *ps, size_t *out, size_t cap, size_t *n) {
    if (!expect(ps, '[')) return 0;
    *n = 0;
    ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 1;
    }
    for (;;) {
        if (*n >= cap) return bad(ps, "too many dimensions"), 0;
        if (!number(ps, &out[(*n)++])) return 0;
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        return expect(ps, ']');
    }
}

static size_t dtype_size(const char *d) {
    static const struct {
        const char *name;
        size_t size;
    } t[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
             {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U64", 8},  {"U32", 4},
             {"U16", 2}, {"U8", 1},  {"BOOL", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(d, t[i].name) == 0) return t[i].size;
    return 0;
}

static int tensor_entry(parser *ps, dr3i_st_tensor *t) {
    int have_dtype = 0, have_shape = 0, have_off = 0;
    if (!expect(ps, '{')) return 0;
    for (;;) {
        char key[32];
        if (!string(ps, key, sizeof key) || !expect(ps, ':')) return 0;
        if (strcmp(key, "dtype") == 0 && !have_dtype) {
            if (!string(ps, t->dtype, sizeof t->dtype)) return 0;
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!int_array(ps, t->shape, DR3I_ST_MAX_DIMS, &t->rank)) return 0;
            have_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0 && !have_off) {
            size_t off[3], n;
            if (!int_array(ps, off, 3, &n)) return 0;
            if (n != 2) return bad(ps, "data_offsets must have two entries"), 0;
            t->begin = off[0];
            t->end = off[1];
            have_off = 1;
        } else {
            return bad(ps, "unexpected or repeated key in a tensor entry"), 0;
        }
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (!expect(ps, '}')) return 0;
        break;
    }
    if (!have_dtype || !have_shape || !have_off)
        return bad(ps, "a tensor entry lacks dtype, shape or data_offsets"), 0;
    return 1;
}

static int cmp_begin(const void *a, const void *b) {
    const dr3i_st_tensor *x = *(const dr3i_st_tensor *const *)a,
                         *y = *(const dr3i_st_tensor *const *)b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

dr3_status dr3i_st_parse(const unsigned char *buf, size_t len, dr3i_st_file *out,
                         const char *who, const char *what) {
    memset(out, 0, sizeof *out);
    if (len < 8) return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: shorter than 8 bytes", who, what);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | buf[k];
    if (hlen < 2 || hlen > DR3I_ST_MAX_HEADER || hlen > len - 8)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: header length %llu is impossible for a %zu-byte "
                         "file",
                         who, what, (unsigned long long)hlen, len);
    dr3_status st =
        dr3i_st_parse_header(buf + 8, (size_t)hlen, len - 8 - (size_t)hlen, out, who, what);
    if (st != DR3_OK) return st;
    for (size_t i = 0; i < out->n_tensors; i++)
        out->tensors[i].data = buf + 8 + hlen + out->tensors[i].begin;
    return DR3_OK;
}

dr3_status dr3i_st_read_header(const dr3i_rfile *f, const dr3i_alloc *alloc,
                               dr3i_st_file *out) {
    memset(out, 0, sizeof *out);
    const char *who = f->who, *what = f->path;
    if (f->size < 8)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: shorter than 8 bytes", who, what);
    unsigned char len8[8];
    dr3_status st = dr3i_rfile_read(f, 0, len8, 8);
    if (st != DR3_OK) return st;
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | len8[k];
    /* checked against the file's size before anything is allocated */
    if (hlen < 2 || hlen > DR3I_ST_MAX_HEADER || hlen > f->size - 8 ||
        f->size - 8 - hlen > SIZE_MAX)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: header length %llu is impossible for a %llu-byte file", who,
                         what, (unsigned long long)hlen, (unsigned long long)f->size);
    unsigned char *json = dr3i_calloc(alloc, (size_t)hlen);
    if (json == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    st = dr3i_rfile_read(f, 8, json, (size_t)hlen);
    if (st == DR3_OK)
        st = dr3i_st_parse_header(json, (size_t)hlen, (size_t)(f->size - 8 - hlen), out, who,
                                  what);
    dr3i_free(alloc, json);
    if (st == DR3_OK) out->data_start = 8 + hlen;
    return st;
}

dr3_status dr3i_st_parse_header(const unsigned char *json, size_t hlen, size_t data_len,
                                dr3i_st_file *out, const char *who, const char *what) {
    memset(out, 0, sizeof *out);
    parser ps = {(const char *)json, (const char *)json + hlen, who, what, DR3_OK};
    if (!expect(&ps, '{')) return ps.st;
    ws(&ps);
    int empty = ps.p < ps.end && *ps.p == '}';
    while (!empty) {
        char key[128];
        if (!string(&ps, key, sizeof key) || !expect(&ps, ':')) return ps.st;
        if (strcmp(key, "__metadata__") == 0) {
            if (out->n_meta > 0) return bad(&ps, "repeated __metadata__");
            if (!expect(&ps, '{')) return ps.st;
            ws(&ps);
            if (ps.p < ps.end && *ps.p == '}')
                ps.p++;
            else
                for (;;) {
                    if (out->n_meta >= DR3I_ST_MAX_META)
                        return bad(&ps, "too many metadata keys");
                    if (!string(&ps, out->meta_key[out->n_meta], 64) || !expect(&ps, ':') ||
                        !string(&ps, out->meta_val[out->n_meta], 256))
                        return ps.st;
                    out->n_meta++;
                    ws(&ps);
                    if (ps.p < ps.end && *ps.p == ',') {
                        ps.p++;
                        continue;
                    }
                    if (!expect(&ps, '}')) return ps.st;
                    break;
                }
        } else {
            if (out->n_tensors >= DR3I_ST_MAX_TENSORS) return bad(&ps, "too many tensors");
            for (size_t i = 0; i < out->n_tensors; i++)
                if (strcmp(out->tensors[i].name, key) == 0)
                    return bad(&ps, "duplicate tensor name");
            dr3i_st_tensor *t = &out->tensors[out->n_tensors];
            memcpy(t->name, key, sizeof t->name);
            if (!tensor_entry(&ps, t)) return ps.st;
            out->n_tensors++;
        }
        ws(&ps);
        if (ps.p < ps.end && *ps.p == ',') {
            ps.p++;
            continue;
        }
        break;
    }
    if (!expect(&ps, '}')) return ps.st;
    ws(&ps);
    while (ps.p < ps.end && *ps.p == ' ') ps.p++;
    if (ps.p != ps.end) return bad(&ps, "bytes after the JSON object");

    /* every tensor: known dtype, size = shape product × dtype size, inside the data */
    dr3i_st_tensor *order[DR3I_ST_MAX_TENSORS];
    for (size_t i = 0; i < out->n_tensors; i++) {
        dr3i_st_tensor *t = &out->tensors[i];
        size_t esz = dtype_size(t->dtype), count = 1, bytes;
        if (esz == 0)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: tensor '%s' has unknown dtype '%s'", who,
                             what, t->name, t->dtype);
        for (size_t d = 0; d < t->rank; d++)
            if (!dr3i_mul(count, t->shape[d], &count))
                return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: tensor '%s' shape overflows", who,
                                 what, t->name);
        if (!dr3i_mul(count, esz, &bytes) || t->begin > t->end || t->end > data_len ||
            t->end - t->begin != bytes)
            return dr3i_fail(
                DR3_ERR_FORMAT,
                "%s: %s: tensor '%s' data_offsets [%zu, %zu] do not match its shape "
                "and dtype or the %zu-byte data region",
                who, what, t->name, t->begin, t->end, data_len);
        t->data = NULL;
        order[i] = t;
    }
    /* no overlaps, no holes: the tensors tile the data region exactly */
    qsort(order, out->n_tensors, sizeof order[0], cmp_begin);
    size_t pos = 0;
    for (size_t i = 0; i < out->n_tensors; i++) {
        if (order[i]->begin != pos)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: tensor '%s' %s", who, what,
                             order[i]->name,
                             order[i]->begin < pos ? "overlaps another tensor"
                                                   : "leaves a gap in the data region");
        pos = order[i]->end;
    }
    if (pos != data_len)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: %zu bytes of data are not covered by any tensor", who, what,
                         data_len - pos);
    return DR3_OK;
}

const dr3i_st_tensor *dr3i_st_find(const dr3i_st_file *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *dr3i_st_meta(const dr3i_st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
    return NULL;
}

/* ---- writer --------------------------------------------------------------------------- */

typedef struct sbuf {
    const dr3i_alloc *a;
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s) {
    size_t k = strlen(s);
    if (b->oom) return;
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->cap + k + 1) * 2;
        char *q = dr3i_calloc(b->a, cap); /* the hooks have no realloc */
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        if (b->p != NULL) memcpy(q, b->p, b->n + 1);
        dr3i_free(b->a, b->p);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

/* Elements of a tensor to write (its shape is the caller's, already a product that fits). */
static size_t out_count(const dr3i_st_out *t) {
    size_t count = 1;
    for (size_t d = 0; d < t->rank; d++) count *= t->shape[d];
    return count;
}

dr3_status dr3i_st_write(const char *path, const dr3i_st_out *t, size_t n,
                         const char *const (*meta)[2], size_t n_meta, const dr3i_alloc *alloc,
                         const char *who) {
    sbuf h = {alloc, NULL, 0, 0, 0};
    char tmp[512];
    put(&h, "{\"__metadata__\":{");
    for (size_t i = 0; i < n_meta; i++) {
        snprintf(tmp, sizeof tmp, "%s\"%s\":\"%s\"", i ? "," : "", meta[i][0], meta[i][1]);
        put(&h, tmp);
    }
    put(&h, "}");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t count = out_count(&t[i]);
        size_t bytes = count * (t[i].bytes ? 1 : sizeof(float));
        const char *dtype = t[i].bytes ? "U8" : "F32";
        char shape[96] = "";
        for (size_t d = 0; d < t[i].rank; d++) {
            char dim[24];
            snprintf(dim, sizeof dim, "%s%zu", d ? "," : "", t[i].shape[d]);
            strcat(shape, dim);
        }
        snprintf(tmp, sizeof tmp,
                 ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                 t[i].name, dtype, shape, off, off + bytes);
        put(&h, tmp);
        off += bytes;
    }
    put(&h, "}");
    while (!h.oom && h.n % 8 != 0) put(&h, " "); /* the format pads the header with spaces */
    if (h.oom) {
        dr3i_free(alloc, h.p);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)h.n >> (8 * k));
    dr3i_atomic_file f;
    dr3_status st = dr3i_atomic_open_with(&f, path, alloc, who);
    if (st == DR3_OK) st = dr3i_atomic_write(&f, len8, 8);
    if (st == DR3_OK) st = dr3i_atomic_write(&f, h.p, h.n);
    for (size_t i = 0; st == DR3_OK && i < n; i++) {
        size_t count = out_count(&t[i]);
        st = dr3i_atomic_write(&f, t[i].data, count * (t[i].bytes ? 1 : sizeof(float)));
    }
    dr3i_free(alloc, h.p);
    if (st != DR3_OK) {
        dr3i_atomic_abort(&f);
        return st;
    }
    return dr3i_atomic_commit(&f);
}
