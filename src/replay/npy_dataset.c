/* .npy directory datasets: open (observations memory-mapped) and save. */
#include "npy.h"
#include "replay_internal.h"

#include "../io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int host_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* One .npy file, mapped whole. */
typedef struct npyfile {
    const char *name; /* "observations.npy" */
    char path[4096];
    int present;
    dr3i_npy_header h;
    void *map;
    size_t map_len;
    const uint8_t *data;
} npyfile;

static dr3_status map_npy(npyfile *f, const char *dir, int optional, const char *who) {
    int n = snprintf(f->path, sizeof f->path, "%s/%s", dir, f->name);
    if (n < 0 || (size_t)n >= sizeof f->path)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path '%s/%s' is too long", who, dir,
                         f->name);
    int fd = -1, missing = 0;
    dr3_status st = dr3i_open_regular(f->path, &fd, optional ? &missing : NULL, who);
    if (st != DR3_OK || missing) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return dr3i_fail(DR3_ERR_IO, "%s: cannot stat '%s'", who, f->path);
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: '%s' is too large to map", who, f->path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 10) {
        close(fd);
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: file of %zu bytes is not a .npy file", who,
                         f->path, size);
    }
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot map '%s': %s", who, f->path, strerror(e));
    f->map = m;
    f->map_len = size;
    st = dr3i_npy_parse(m, size, &f->h, f->path, who);
    if (st != DR3_OK) return st;
    if (f->h.data_offset + f->h.data_bytes != size)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: file has %zu data bytes, the header's shape needs %zu", who,
                         f->path, size - f->h.data_offset, f->h.data_bytes);
    if (f->h.data_offset % f->h.elem != 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: data offset %zu is not aligned", who, f->path,
                         f->h.data_offset);
    f->data = (const uint8_t *)m + f->h.data_offset;
    f->present = 1;
    return DR3_OK;
}

static void unmap_npy(npyfile *f) {
    if (f->map != NULL) munmap(f->map, f->map_len);
    f->map = NULL;
}

/* Rows (shape[0]) and the width of the remaining dimensions. */
static dr3_status rows_width(const npyfile *f, size_t *rows, size_t *width, const char *who) {
    *rows = 0;
    *width = 0;
    if (f->h.ndim < 1)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: a 0-d array has no rows", who, f->path);
    *rows = f->h.shape[0];
    *width = 1;
    for (size_t i = 1; i < f->h.ndim; i++) *width *= f->h.shape[i]; /* no overflow: count ok */
    return DR3_OK;
}

/* A per-row scalar: shape (N,) or (N, 1). */
static dr3_status check_column(const npyfile *f, size_t n, const char *who) {
    size_t rows = 0, w = 0;
    dr3_status st = rows_width(f, &rows, &w, who);
    if (st != DR3_OK) return st;
    if (rows != n || w != 1 || f->h.ndim > 2)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: shape must be (%zu,), has %zu rows × %zu", who,
                         f->path, n, rows, w);
    return DR3_OK;
}

static double get_num(const npyfile *f, size_t i) {
    const uint8_t *p = f->data + i * f->h.elem;
    switch (f->h.dtype) {
    case DR3I_NPY_F4: {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    case DR3I_NPY_F8: {
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    case DR3I_NPY_I4: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case DR3I_NPY_I8: {
        int64_t v;
        memcpy(&v, p, 8);
        return (double)v;
    }
    case DR3I_NPY_U1:
    case DR3I_NPY_B1:
        return *p;
    }
    return 0;
}

/* count floats of f (<f4, or <f8 narrowed once) into dst, all finite as float32. */
static dr3_status to_float(const npyfile *f, float *dst, size_t count, const char *who) {
    if (f->h.dtype == DR3I_NPY_F4) {
        memcpy(dst, f->data, count * sizeof(float));
    } else {
        for (size_t i = 0; i < count; i++) {
            double v = get_num(f, i);
            dst[i] = (float)v;
            if (isfinite(v) && !isfinite(dst[i]))
                return dr3i_fail(DR3_ERR_NONFINITE,
                                 "%s: %s: element %zu = %g does not fit in float32", who,
                                 f->path, i, v);
        }
    }
    if (!dr3i_all_finite(dst, count, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: contains NaN or Inf", who, f->path);
    return DR3_OK;
}

/* Flags stored as bool, integers or floats, each 0 or 1. */
static dr3_status read_flags(const npyfile *f, size_t n, uint8_t *flags, uint8_t bit,
                             const char *who) {
    /* any numeric dtype holding 0/1 (numpy's defaults are bool, int64 and float64) */
    dr3_status st = check_column(f, n, who);
    if (st != DR3_OK) return st;
    for (size_t i = 0; i < n; i++) {
        double v = get_num(f, i);
        if (v != 0.0 && v != 1.0)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: row %zu is %g, not 0 or 1", who, f->path,
                             i, v);
        if (v != 0.0) flags[i] |= bit;
    }
    return DR3_OK;
}

/* Actions (or next actions) into the handle's owned arrays. */
static dr3_status read_actions(dr3_replay *r, const npyfile *f, size_t n, int32_t **ai,
                               float **af, const char *who) {
    size_t rows = 0, w = 0;
    dr3_status st = rows_width(f, &rows, &w, who);
    if (st != DR3_OK) return st;
    if (rows != n)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: %zu rows, observations have %zu", who, f->path,
                         rows, n);
    if (r->o.action_kind == DR3_ACTION_DISCRETE) {
        if (w != 1 || f->h.ndim > 2)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: discrete actions must have shape (N,)",
                             who, f->path);
        int32_t *a = dr3i_replay_own(r, n * sizeof(int32_t), who);
        if (a == NULL) return DR3_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            double v = get_num(f, i);
            if (v < 0 || v >= (double)r->o.num_actions)
                return dr3i_fail(DR3_ERR_RANGE,
                                 "%s: %s: row %zu: action %.0f is not in [0, %zu)", who,
                                 f->path, i, v, r->o.num_actions);
            a[i] = (int32_t)v;
        }
        *ai = a;
    } else {
        if (w != r->act_width)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: action width %zu, expected %zu", who,
                             f->path, w, r->act_width);
        float *a = dr3i_replay_own(r, n * w * sizeof(float), who);
        if (a == NULL) return DR3_ERR_NOMEM;
        if ((st = to_float(f, a, n * w, who)) != DR3_OK) return st;
        *af = a;
    }
    return DR3_OK;
}

enum { F_OBS, F_ACT, F_REW, F_TERM, F_TIMEOUT, F_NOBS, F_NACT, F_COUNT };
static const char *const file_names[F_COUNT] = {
    "observations.npy", "actions.npy",           "rewards.npy",     "terminals.npy",
    "timeouts.npy",     "next_observations.npy", "next_actions.npy"};

static dr3_status open_npy(dr3_replay **out, const char *dir, const dr3_replay_options *opts,
                           npyfile *f, const char *who) {
    dr3_replay_options o;
    dr3i_alloc alloc;
    dr3_status st = dr3i_replay_opts(&o, &alloc, opts, who);
    if (st != DR3_OK) return st;
    for (int i = 0; i < F_COUNT; i++) {
        f[i].name = file_names[i];
        st = map_npy(&f[i], dir, i >= F_TIMEOUT, who);
        if (st != DR3_OK) return st;
    }
    /* observations: (N, ...) of <f4 or |u1 (mapped), or <f8 (numpy's default float:
     * converted to float32 into memory once) */
    size_t n = 0, obs_dim = 0;
    if ((st = rows_width(&f[F_OBS], &n, &obs_dim, who)) != DR3_OK) return st;
    const dr3i_npy_dtype odt = f[F_OBS].h.dtype;
    if (odt != DR3I_NPY_F4 && odt != DR3I_NPY_U1 && odt != DR3I_NPY_F8)
        return dr3i_fail(DR3_ERR_UNSUPPORTED,
                         "%s: %s: observations must be <f4, <f8 or |u1 (save them with "
                         "np.save(path, x.astype(np.float32)))",
                         who, f[F_OBS].path);
    if (n == 0 || obs_dim == 0)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: empty observations (%zu × %zu)", who,
                         f[F_OBS].path, n, obs_dim);
    if (n > DR3I_REPLAY_MAX_ROWS)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: %zu rows exceed 2^32-2", who,
                         f[F_OBS].path, n);
    if (o.obs_dim != 0 && o.obs_dim != obs_dim)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: obs_dim %zu, opts->obs_dim is %zu", who,
                         f[F_OBS].path, obs_dim, o.obs_dim);
    o.obs_dim = obs_dim;
    o.obs_dtype = odt == DR3I_NPY_U1 ? DR3_DTYPE_U8 : DR3_DTYPE_F32;
    if (f[F_NOBS].present) {
        if (f[F_NOBS].h.dtype != f[F_OBS].h.dtype || f[F_NOBS].h.ndim != f[F_OBS].h.ndim ||
            memcmp(f[F_NOBS].h.shape, f[F_OBS].h.shape, f[F_OBS].h.ndim * sizeof(size_t)) != 0)
            return dr3i_fail(DR3_ERR_SHAPE,
                             "%s: %s: dtype and shape must equal those of observations.npy",
                             who, f[F_NOBS].path);
    }
    /* actions decide the kind: integers are discrete, floats continuous */
    const dr3i_npy_dtype adt = f[F_ACT].h.dtype;
    if (adt == DR3I_NPY_I4 || adt == DR3I_NPY_I8) {
        o.action_kind = DR3_ACTION_DISCRETE;
        o.action_dim = 0;
        if (o.num_actions == 0) { /* infer: 1 + the largest action, bounded */
            double mx = -1;
            for (size_t i = 0; i < f[F_ACT].h.count; i++) {
                double v = get_num(&f[F_ACT], i);
                if (v > mx) mx = v;
            }
            if (f[F_NACT].present)
                for (size_t i = 0; i < f[F_NACT].h.count; i++) {
                    double v = get_num(&f[F_NACT], i);
                    if (v > mx) mx = v;
                }
            if (mx >= (double)INT32_MAX)
                return dr3i_fail(DR3_ERR_RANGE, "%s: %s: action %.0f exceeds INT32_MAX", who,
                                 f[F_ACT].path, mx);
            if ((st = dr3i_infer_num_actions((int64_t)mx, &o.num_actions, f[F_ACT].path,
                                             who)) != DR3_OK)
                return st;
        }
    } else if (adt == DR3I_NPY_F4 || adt == DR3I_NPY_F8) {
        size_t rows = 0, w = 0;
        if ((st = rows_width(&f[F_ACT], &rows, &w, who)) != DR3_OK) return st;
        if (o.action_dim != 0 && o.action_dim != w)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: action width %zu, opts->action_dim is %zu",
                             who, f[F_ACT].path, w, o.action_dim);
        o.action_kind = DR3_ACTION_CONTINUOUS;
        o.action_dim = w;
        o.num_actions = 0;
        if (w == 0)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: zero-width actions", who, f[F_ACT].path);
    } else {
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: actions must be <i4, <i8, <f4 or <f8",
                         who, f[F_ACT].path);
    }
    const int afloat = adt == DR3I_NPY_F4 || adt == DR3I_NPY_F8;
    const int nfloat = f[F_NACT].h.dtype == DR3I_NPY_F4 || f[F_NACT].h.dtype == DR3I_NPY_F8;
    if (f[F_NACT].present && nfloat != afloat)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: dtype kind differs from actions.npy",
                         who, f[F_NACT].path);
    o.capacity = n;

    dr3_replay *r;
    if ((st = dr3i_replay_new(&r, &o, &alloc, who)) != DR3_OK) return st;
    *out = r; /* freed by the caller on failure */
    r->read_only = 1;
    r->cap = r->size = n;
    r->cursor = 0;
    const uint8_t *obs_data[2] = {f[F_OBS].data, f[F_NOBS].data};
    if (odt == DR3I_NPY_F8) {
        /* converted once into owned memory (4 bytes per value); the mappings go */
        for (int k = 0; k < 2; k++) {
            const npyfile *src = &f[k == 0 ? F_OBS : F_NOBS];
            if (!src->present) continue;
            float *conv = dr3i_replay_own(r, n * obs_dim * sizeof(float), who);
            if (conv == NULL) return DR3_ERR_NOMEM;
            if ((st = to_float(src, conv, n * obs_dim, who)) != DR3_OK) return st;
            obs_data[k] = (const uint8_t *)conv;
        }
    } else if (o.obs_dtype == DR3_DTYPE_F32) {
        if (!dr3i_all_finite((const float *)f[F_OBS].data, n * obs_dim, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: contains NaN or Inf", who,
                             f[F_OBS].path);
        if (f[F_NOBS].present &&
            !dr3i_all_finite((const float *)f[F_NOBS].data, n * obs_dim, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: contains NaN or Inf", who,
                             f[F_NOBS].path);
    }
    if ((st = read_actions(r, &f[F_ACT], n, &r->act_i, &r->act_f, who)) != DR3_OK) return st;
    if (f[F_NACT].present &&
        (st = read_actions(r, &f[F_NACT], n, &r->next_act_i, &r->next_act_f, who)) != DR3_OK)
        return st;
    if (f[F_REW].h.dtype != DR3I_NPY_F4 && f[F_REW].h.dtype != DR3I_NPY_F8)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: rewards must be <f4 or <f8", who,
                         f[F_REW].path);
    if ((st = check_column(&f[F_REW], n, who)) != DR3_OK) return st;
    r->rew = dr3i_replay_own(r, n * sizeof(float), who);
    r->flags = dr3i_replay_own(r, n, who);
    if (r->rew == NULL || r->flags == NULL) return DR3_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        double v = get_num(&f[F_REW], i);
        if (!isfinite(v) || !isfinite((float)v))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: row %zu is %g", who, f[F_REW].path, i,
                             v);
        r->rew[i] = (float)v;
    }
    if ((st = read_flags(&f[F_TERM], n, r->flags, DR3I_ROW_TERM, who)) != DR3_OK) return st;
    if (f[F_TIMEOUT].present &&
        (st = read_flags(&f[F_TIMEOUT], n, r->flags, DR3I_ROW_TRUNC, who)) != DR3_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (r->flags[i - 1] & DR3I_ROW_END)) r->flags[i] |= DR3I_ROW_START;
    /* Keep the observation mappings (unless converted); drop the others. */
    r->obs = (uint8_t *)obs_data[0];
    if (f[F_NOBS].present) r->next_obs = obs_data[1];
    if (odt != DR3I_NPY_F8) {
        r->maps[r->n_maps++] = (dr3i_map){f[F_OBS].map, f[F_OBS].map_len};
        f[F_OBS].map = NULL;
        if (f[F_NOBS].present) {
            r->maps[r->n_maps++] = (dr3i_map){f[F_NOBS].map, f[F_NOBS].map_len};
            f[F_NOBS].map = NULL;
        }
    }
    /* Sampling reads observations at random: tell the kernel not to read ahead. */
    for (size_t i = 0; i < r->n_maps; i++)
        (void)posix_madvise(r->maps[i].addr, r->maps[i].len, POSIX_MADV_RANDOM);
    return dr3i_replay_build_sets(r, who);
}

dr3_status dr3_replay_open_npy(dr3_replay **out, const char *dir,
                               const dr3_replay_options *opts) {
    static const char *who = "dr3_replay_open_npy";
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    if (dir == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: dir is NULL", who);
    if (!host_little_endian())
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", who);
    dr3_status st = dr3i_runtime_ensure();
    if (st != DR3_OK) return st;
    npyfile f[F_COUNT];
    memset(f, 0, sizeof f);
    dr3_replay *r = NULL;
    st = open_npy(&r, dir, opts, f, who);
    for (int i = 0; i < F_COUNT; i++) unmap_npy(&f[i]);
    if (st != DR3_OK) {
        dr3_replay_free(r);
        return st;
    }
    *out = r;
    return DR3_OK;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Rows written: steps, oldest first; final-observation rows and Dopamine padding are not. */
static int written(const dr3_replay *r, size_t q) {
    return !(r->flags[q] & (DR3I_ROW_FINAL | DR3I_ROW_PAD));
}

/* The observation that follows step row q, or NULL (zeros) if none is stored. */
static const uint8_t *next_obs_of(const dr3_replay *r, size_t q) {
    size_t q2;
    if (dr3i_next_in_ep(r, q, &q2)) return r->obs + q2 * r->obs_bytes;
    if (r->next_obs != NULL) return r->next_obs + q * r->obs_bytes;
    return NULL;
}

typedef struct writer {
    dr3i_atomic_file af;
    dr3_status st;
} writer;

static dr3_status start_file(writer *w, const char *dir, const char *name, dr3i_npy_dtype dt,
                             size_t ndim, const size_t *shape, const char *who) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path '%s/%s' is too long", who, dir, name);
    char hdr[512];
    size_t len;
    dr3_status st = dr3i_npy_write_header(hdr, sizeof hdr, dt, ndim, shape, &len);
    if (st != DR3_OK) return st;
    if ((st = dr3i_atomic_open(&w->af, path, who)) != DR3_OK) return st;
    if ((st = dr3i_atomic_write(&w->af, hdr, len)) != DR3_OK) {
        dr3i_atomic_abort(&w->af);
        return st;
    }
    return DR3_OK;
}

/* An optional file from an earlier save would be read with the new ones: remove it. */
static dr3_status remove_stale(const char *dir, const char *name, const char *who) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path '%s/%s' is too long", who, dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot remove stale '%s': %s", who, path,
                         strerror(errno));
    return DR3_OK;
}

static dr3_status save_npy(const dr3_replay *r, const char *dir, const char *who) {
    size_t n = 0, base = dr3i_oldest(r);
    int any_final = 0;
    for (size_t l = 0; l < r->size; l++) {
        size_t q = (base + l) % r->cap;
        if (!written(r, q)) continue;
        n++;
        size_t q2;
        if ((r->flags[q] & DR3I_ROW_END) && dr3i_next_in_ep(r, q, &q2)) any_final = 1;
    }
    if (r->next_obs != NULL) any_final = 1;
    static const uint8_t zeros[64];
    dr3_status st = DR3_OK;
    for (int file = 0; file < F_COUNT && st == DR3_OK; file++) {
        size_t shape[2] = {n, 0}, ndim = 1;
        dr3i_npy_dtype dt = DR3I_NPY_B1;
        switch (file) {
        case F_OBS:
        case F_NOBS:
            if (file == F_NOBS && !any_final) {
                st = remove_stale(dir, file_names[file], who);
                continue;
            }
            dt = r->o.obs_dtype == DR3_DTYPE_U8 ? DR3I_NPY_U1 : DR3I_NPY_F4;
            shape[1] = r->o.obs_dim;
            ndim = 2;
            break;
        case F_ACT:
        case F_NACT:
            if (file == F_NACT && r->next_act_i == NULL && r->next_act_f == NULL) {
                st = remove_stale(dir, file_names[file], who);
                continue;
            }
            dt = r->act_i != NULL ? DR3I_NPY_I4 : DR3I_NPY_F4;
            shape[1] = r->act_width;
            ndim = r->act_i != NULL ? 1 : 2;
            break;
        case F_REW:
            dt = DR3I_NPY_F4;
            break;
        default:
            break;
        }
        writer w;
        if ((st = start_file(&w, dir, file_names[file], dt, ndim, shape, who)) != DR3_OK) break;
        for (size_t l = 0; l < r->size && st == DR3_OK; l++) {
            size_t q = (base + l) % r->cap;
            if (!written(r, q)) continue;
            uint8_t b;
            switch (file) {
            case F_OBS:
                st = dr3i_atomic_write(&w.af, r->obs + q * r->obs_bytes, r->obs_bytes);
                break;
            case F_NOBS: {
                const uint8_t *src = next_obs_of(r, q);
                if (src != NULL) {
                    st = dr3i_atomic_write(&w.af, src, r->obs_bytes);
                } else {
                    for (size_t left = r->obs_bytes; left > 0 && st == DR3_OK;) {
                        size_t c = left < sizeof zeros ? left : sizeof zeros;
                        st = dr3i_atomic_write(&w.af, zeros, c);
                        left -= c;
                    }
                }
                break;
            }
            case F_ACT:
                st = r->act_i != NULL ? dr3i_atomic_write(&w.af, &r->act_i[q], sizeof(int32_t))
                                      : dr3i_atomic_write(&w.af, r->act_f + q * r->act_width,
                                                          r->act_width * sizeof(float));
                break;
            case F_NACT:
                st = r->next_act_i != NULL
                         ? dr3i_atomic_write(&w.af, &r->next_act_i[q], sizeof(int32_t))
                         : dr3i_atomic_write(&w.af, r->next_act_f + q * r->act_width,
                                             r->act_width * sizeof(float));
                break;
            case F_REW:
                st = dr3i_atomic_write(&w.af, &r->rew[q], sizeof(float));
                break;
            case F_TERM:
            case F_TIMEOUT:
                b = (r->flags[q] & (file == F_TERM ? DR3I_ROW_TERM : DR3I_ROW_TRUNC)) != 0;
                st = dr3i_atomic_write(&w.af, &b, 1);
                break;
            }
        }
        if (st == DR3_OK)
            st = dr3i_atomic_commit(&w.af);
        else
            dr3i_atomic_abort(&w.af);
    }
    return st;
}

dr3_status dr3_replay_save_npy(const dr3_replay *r, const char *dir) {
    static const char *who = "dr3_replay_save_npy";
    if (r == NULL || dir == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, r == NULL ? "r" : "dir");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot create directory '%s': %s", who, dir,
                         strerror(errno));
    return save_npy(r, dir, who);
}
