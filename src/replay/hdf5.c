/* D4RL and Minari HDF5 datasets through libhdf5 (optional: without it both loaders return
 * DR3_ERR_UNSUPPORTED). D4RL: flat arrays observations/actions/rewards/terminals[/timeouts/
 * next_observations/next_actions] at the root. Minari (main_data.hdf5): groups episode_<i>
 * holding observations [T+1, ...], actions [T, ...], rewards, terminations, truncations [T]. */
#include "replay_internal.h"

#include <string.h>

#ifdef DR3_HAVE_HDF5
#include <hdf5.h>

#include <unistd.h>

/* HDF5 prints its error stack by default; a library must not print. Silence it for the
 * duration of a load and restore the caller's handler. */
typedef struct quiet {
    H5E_auto2_t fn;
    void *data;
} quiet;
static void quiet_on(quiet *q) {
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(const quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

typedef enum kind { K_FLOAT, K_INT, K_BOOL } kind;

/* One dataset's shape and element class. */
typedef struct dset {
    hid_t id;
    int ndim;
    hsize_t dims[8];
    H5T_class_t cls;
    size_t tsize;
    int is_unsigned;
    size_t rows, width; /* dims[0], product of the rest */
} dset;

static void dset_close(dset *d) {
    if (d->id >= 0) H5Dclose(d->id);
    d->id = -1;
}

/* deflate, the strongest filter libhdf5 ships, compresses at most about 1032:1; a dataset
 * claiming more than this many bytes per stored byte has rows that were never written. */
#define H5_MAX_RATIO 1100u

/* The extent a file declares is only a number: a file of a few KB may declare 10^9 rows it
 * never wrote (libhdf5 would hand back fill values). Compare it with the bytes actually
 * stored, and those with the file's size, before anything is allocated for it. */
static dr3_status plausible(const dset *d, const char *name, const char *where,
                            const char *who) {
    size_t declared;
    if (!dr3i_mul(d->rows, d->width, &declared) || !dr3i_mul(declared, d->tsize, &declared))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: '%s' is too large", who, where, name);
    if (declared == 0) return DR3_OK;
    hsize_t stored = H5Dget_storage_size(d->id);
    hsize_t fsize = 0;
    hid_t fid = H5Iget_file_id(d->id);
    if (fid < 0 || H5Fget_filesize(fid, &fsize) < 0) fsize = 0;
    if (fid >= 0) H5Fclose(fid);
    if (fsize > 0 && stored > fsize)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: '%s' claims %llu stored bytes in a file of %llu (corrupt "
                         "file)",
                         who, where, name, (unsigned long long)stored,
                         (unsigned long long)fsize);
    if ((double)declared > (double)stored * H5_MAX_RATIO)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: %s: '%s' declares %zu rows (%zu bytes) but stores only %llu "
                         "bytes: rows never written, or a corrupt file",
                         who, where, name, d->rows, declared, (unsigned long long)stored);
    return DR3_OK;
}

/* Opens loc/name if it exists (present = 0 otherwise). */
static dr3_status dset_open(hid_t loc, const char *name, const char *where, dset *d,
                            int *present, const char *who) {
    memset(d, 0, sizeof *d);
    d->id = -1;
    *present = 0;
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e <= 0) return DR3_OK;
    d->id = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d->id < 0) {
        hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
        if (g >= 0) {
            H5Gclose(g);
            return dr3i_fail(DR3_ERR_UNSUPPORTED,
                             "%s: %s: '%s' is a group (Dict/Tuple spaces are not supported)",
                             who, where, name);
        }
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: cannot open '%s'", who, where, name);
    }
    hid_t sp = H5Dget_space(d->id), ty = H5Dget_type(d->id);
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    dr3_status st = DR3_OK;
    if (nd < 0 || nd > 8 || ty < 0) {
        st = dr3i_fail(DR3_ERR_FORMAT, "%s: %s: '%s' has a bad dataspace or type", who, where,
                       name);
    } else {
        d->ndim = nd;
        H5Sget_simple_extent_dims(sp, d->dims, NULL);
        d->cls = H5Tget_class(ty);
        d->tsize = H5Tget_size(ty);
        d->is_unsigned = d->cls == H5T_INTEGER && H5Tget_sign(ty) == H5T_SGN_NONE;
        d->rows = nd >= 1 ? (size_t)d->dims[0] : 1;
        d->width = 1;
        for (int i = 1; i < nd && st == DR3_OK; i++)
            if (!dr3i_mul(d->width, (size_t)d->dims[i], &d->width))
                st = dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: '%s' is too large", who, where, name);
        if (nd >= 1 && (uint64_t)d->dims[0] > (uint64_t)SIZE_MAX)
            st = dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: '%s' is too large", who, where, name);
        if (st == DR3_OK && nd == 0)
            st = dr3i_fail(DR3_ERR_SHAPE, "%s: %s: '%s' is a scalar", who, where, name);
    }
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    if (st == DR3_OK) st = plausible(d, name, where, who);
    if (st != DR3_OK) {
        dset_close(d);
        return st;
    }
    *present = 1;
    return DR3_OK;
}

static dr3_status need(hid_t loc, const char *name, const char *where, dset *d,
                       const char *who) {
    int present;
    dr3_status st = dset_open(loc, name, where, d, &present, who);
    if (st == DR3_OK && !present)
        st = dr3i_fail(DR3_ERR_FORMAT, "%s: %s: dataset '%s' is missing", who, where, name);
    return st;
}

/* Reads the whole dataset converted to mem type into dst (rows*width elements). */
static dr3_status dset_read(const dset *d, hid_t mem, void *dst, const char *name,
                            const char *where, const char *who) {
    if (d->rows == 0) return DR3_OK;
    if (H5Dread(d->id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: reading '%s' failed (corrupt file or type)",
                         who, where, name);
    return DR3_OK;
}

/* A per-row scalar column: (N,) or (N, 1). */
static dr3_status column(const dset *d, size_t n, const char *name, const char *where,
                         const char *who) {
    if (d->rows != n || d->width != 1 || d->ndim > 2)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: '%s' must have shape (%zu,), has %zu × %zu",
                         who, where, name, n, d->rows, d->width);
    return DR3_OK;
}

/* 0/1 flags (h5py bool enums, integers or floats) ORed into flags as bit. */
static dr3_status read_flags(const dset *d, size_t n, uint8_t *flags, uint8_t bit, double *tmp,
                             const char *name, const char *where, const char *who) {
    dr3_status st = column(d, n, name, where, who);
    if (st != DR3_OK) return st;
    if (d->cls == H5T_ENUM) {
        /* h5py's bool: enum over int8 {FALSE: 0, TRUE: 1}; read its raw values */
        if (d->tsize != 1)
            return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: '%s' is an enum wider than a bool",
                             who, where, name);
        hid_t ft = H5Dget_type(d->id);
        hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        H5Tclose(ft);
        uint8_t *raw = (uint8_t *)tmp;
        st = dset_read(d, mt, raw, name, where, who);
        H5Tclose(mt);
        if (st != DR3_OK) return st;
        for (size_t i = 0; i < n; i++) tmp[n - 1 - i] = raw[n - 1 - i]; /* widen in place */
    } else if (d->cls == H5T_INTEGER || d->cls == H5T_FLOAT) {
        if ((st = dset_read(d, H5T_NATIVE_DOUBLE, tmp, name, where, who)) != DR3_OK) return st;
    } else {
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: '%s' must be bool, integer or float",
                         who, where, name);
    }
    for (size_t i = 0; i < n; i++) {
        if (tmp[i] != 0.0 && tmp[i] != 1.0)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: '%s'[%zu] is %g, not 0 or 1", who, where,
                             name, i, tmp[i]);
        if (tmp[i] != 0.0) flags[i] |= bit;
    }
    return DR3_OK;
}

/* Observations: floats (any width, converted to float32) or uint8. */
static dr3_status obs_dtype(const dset *d, dr3_dtype *dt, const char *name, const char *where,
                            const char *who) {
    if (d->cls == H5T_FLOAT)
        *dt = DR3_DTYPE_F32;
    else if (d->cls == H5T_INTEGER && d->tsize == 1 && d->is_unsigned)
        *dt = DR3_DTYPE_U8;
    else
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: '%s' must be float or uint8", who, where,
                         name);
    return DR3_OK;
}

static dr3_status read_obs(const dset *d, dr3_dtype dt, void *dst, const char *name,
                           const char *where, const char *who) {
    dr3_status st = dset_read(d, dt == DR3_DTYPE_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, dst,
                              name, where, who);
    if (st == DR3_OK && dt == DR3_DTYPE_F32 && !dr3i_all_finite(dst, d->rows * d->width, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: '%s' contains NaN or Inf", who, where,
                         name);
    return st;
}

/* Discrete actions into int32 (checked against bound, max tracked) or floats. */
static dr3_status read_actions(const dset *d, const dr3_replay_options *o, int32_t *ai,
                               float *af, double *tmp, int64_t *amax, const char *name,
                               const char *where, const char *who) {
    dr3_status st;
    if (ai != NULL) {
        if ((st = dset_read(d, H5T_NATIVE_DOUBLE, tmp, name, where, who)) != DR3_OK) return st;
        for (size_t i = 0; i < d->rows; i++) {
            double v = tmp[i];
            if (!(v >= 0 && v < (double)INT32_MAX) || v != (double)(int32_t)v ||
                (o->num_actions != 0 && v >= (double)o->num_actions))
                return dr3i_fail(DR3_ERR_RANGE, "%s: %s: '%s'[%zu] = %g is not a valid action",
                                 who, where, name, i, v);
            ai[i] = (int32_t)v;
            if (ai[i] > *amax) *amax = ai[i];
        }
        return DR3_OK;
    }
    if ((st = dset_read(d, H5T_NATIVE_FLOAT, af, name, where, who)) != DR3_OK) return st;
    if (!dr3i_all_finite(af, d->rows * d->width, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: '%s' contains NaN or Inf", who, where,
                         name);
    return DR3_OK;
}

static dr3_status read_rewards(const dset *d, float *dst, const char *where, const char *who) {
    if (d->cls != H5T_FLOAT && d->cls != H5T_INTEGER)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: 'rewards' must be numeric", who, where);
    dr3_status st = dset_read(d, H5T_NATIVE_FLOAT, dst, "rewards", where, who);
    if (st == DR3_OK && !dr3i_all_finite(dst, d->rows, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: 'rewards' contains NaN or Inf", who,
                         where);
    return st;
}

static dr3_status open_file(hid_t *f, const char *path, const char *who) {
    /* libhdf5 opens by name: check first that it is a regular file (a FIFO would block) */
    dr3_status st = dr3i_check_regular(path, NULL, who);
    if (st != DR3_OK) return st;
    if (access(path, R_OK) != 0)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot read '%s'", who, path);
    if (H5Fis_hdf5(path) <= 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' is not an HDF5 file", who, path);
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0) return dr3i_fail(DR3_ERR_FORMAT, "%s: cannot open '%s' as HDF5", who, path);
    return DR3_OK;
}

/* ---- D4RL ------------------------------------------------------------------------------- */

enum { X_OBS, X_ACT, X_REW, X_TERM, X_TIME, X_NOBS, X_NACT, X_COUNT };
static const char *const d4rl_names[X_COUNT] = {"observations", "actions",  "rewards",
                                                "terminals",    "timeouts", "next_observations",
                                                "next_actions"};

static dr3_status load_d4rl(dr3_replay **out, hid_t file, const char *path,
                            const dr3_replay_options *opts, dset *ds, const char *who) {
    dr3_replay_options o;
    dr3i_alloc alloc;
    dr3_status st = dr3i_replay_opts(&o, &alloc, opts, who);
    if (st != DR3_OK) return st;
    int present[X_COUNT];
    for (int i = 0; i < X_COUNT; i++) {
        st = i < X_TIME ? need(file, d4rl_names[i], path, &ds[i], who)
                        : dset_open(file, d4rl_names[i], path, &ds[i], &present[i], who);
        if (st != DR3_OK) return st;
        if (i < X_TIME) present[i] = 1;
    }
    const size_t n = ds[X_OBS].rows, obs_dim = ds[X_OBS].width;
    if (n == 0 || obs_dim == 0)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: 'observations' is empty", who, path);
    if (n > DR3I_REPLAY_MAX_ROWS)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: %zu rows exceed 2^32-2", who, path, n);
    if (o.obs_dim != 0 && o.obs_dim != obs_dim)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: obs_dim %zu, opts->obs_dim is %zu", who, path,
                         obs_dim, o.obs_dim);
    if ((st = obs_dtype(&ds[X_OBS], &o.obs_dtype, "observations", path, who)) != DR3_OK)
        return st;
    o.obs_dim = obs_dim;
    if (present[X_NOBS] && (ds[X_NOBS].rows != n || ds[X_NOBS].width != obs_dim ||
                            ds[X_NOBS].cls != ds[X_OBS].cls))
        return dr3i_fail(DR3_ERR_SHAPE,
                         "%s: %s: 'next_observations' differs from 'observations'", who, path);
    const dset *a = &ds[X_ACT];
    if (a->rows != n)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: 'actions' has %zu rows, observations %zu", who,
                         path, a->rows, n);
    if (a->cls == H5T_INTEGER) {
        if (a->width != 1 || a->ndim > 2)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: discrete 'actions' must be (N,)", who,
                             path);
        o.action_kind = DR3_ACTION_DISCRETE;
        o.action_dim = 0;
    } else if (a->cls == H5T_FLOAT) {
        if (o.action_dim != 0 && o.action_dim != a->width)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: action width %zu, opts->action_dim is %zu",
                             who, path, a->width, o.action_dim);
        o.action_kind = DR3_ACTION_CONTINUOUS;
        o.action_dim = a->width;
        o.num_actions = 0;
    } else {
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: 'actions' must be integer or float", who,
                         path);
    }
    if (present[X_NACT] &&
        (ds[X_NACT].rows != n || ds[X_NACT].width != a->width || ds[X_NACT].cls != a->cls))
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: 'next_actions' differs from 'actions'", who,
                         path);
    o.capacity = n;
    dr3_replay *r;
    if ((st = dr3i_replay_new(&r, &o, &alloc, who)) != DR3_OK) return st;
    *out = r;
    r->read_only = 1;
    r->cap = r->size = n;
    size_t ob, aw;
    if (!dr3i_mul(n, r->obs_bytes, &ob) || !dr3i_mul(n, r->act_width * 4, &aw))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: dataset too large", who, path);
    r->obs = dr3i_replay_own(r, ob, who);
    r->rew = dr3i_replay_own(r, n * sizeof(float), who);
    r->flags = dr3i_replay_own(r, n, who);
    double *tmp = dr3i_replay_own(r, n * sizeof(double), who); /* freed with the handle */
    if (r->obs == NULL || r->rew == NULL || r->flags == NULL || tmp == NULL)
        return DR3_ERR_NOMEM;
    if (o.action_kind == DR3_ACTION_DISCRETE) {
        if ((r->act_i = dr3i_replay_own(r, aw, who)) == NULL) return DR3_ERR_NOMEM;
    } else if ((r->act_f = dr3i_replay_own(r, aw, who)) == NULL) {
        return DR3_ERR_NOMEM;
    }
    if ((st = read_obs(&ds[X_OBS], o.obs_dtype, r->obs, "observations", path, who)) != DR3_OK)
        return st;
    if (present[X_NOBS]) {
        uint8_t *nx = dr3i_replay_own(r, ob, who);
        if (nx == NULL) return DR3_ERR_NOMEM;
        if ((st = read_obs(&ds[X_NOBS], o.obs_dtype, nx, "next_observations", path, who)) !=
            DR3_OK)
            return st;
        r->next_obs = nx;
    }
    int64_t amax = -1;
    if ((st = read_actions(a, &o, r->act_i, r->act_f, tmp, &amax, "actions", path, who)) !=
        DR3_OK)
        return st;
    if (present[X_NACT]) {
        void *na = dr3i_replay_own(r, aw, who);
        if (na == NULL) return DR3_ERR_NOMEM;
        if (r->act_i != NULL)
            r->next_act_i = na;
        else
            r->next_act_f = na;
        if ((st = read_actions(&ds[X_NACT], &o, r->next_act_i, r->next_act_f, tmp, &amax,
                               "next_actions", path, who)) != DR3_OK)
            return st;
    }
    if (o.action_kind == DR3_ACTION_DISCRETE && o.num_actions == 0 &&
        (st = dr3i_infer_num_actions(amax, &r->o.num_actions, path, who)) != DR3_OK)
        return st;
    if ((st = column(&ds[X_REW], n, "rewards", path, who)) != DR3_OK ||
        (st = read_rewards(&ds[X_REW], r->rew, path, who)) != DR3_OK)
        return st;
    if ((st = read_flags(&ds[X_TERM], n, r->flags, DR3I_ROW_TERM, tmp, "terminals", path,
                         who)) != DR3_OK)
        return st;
    if (present[X_TIME] && (st = read_flags(&ds[X_TIME], n, r->flags, DR3I_ROW_TRUNC, tmp,
                                            "timeouts", path, who)) != DR3_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (r->flags[i - 1] & DR3I_ROW_END)) r->flags[i] |= DR3I_ROW_START;
    dr3i_replay_disown(r, tmp);
    return dr3i_replay_build_sets(r, who);
}

/* ---- Minari ----------------------------------------------------------------------------- */

enum { M_OBS, M_ACT, M_REW, M_TERM, M_TRUNC, M_COUNT };
static const char *const minari_names[M_COUNT] = {"observations", "actions", "rewards",
                                                  "terminations", "truncations"};

typedef struct episode {
    hid_t g;
    dset d[M_COUNT];
    char where[4200];
} episode;

static void episode_close(episode *e) {
    for (int i = 0; i < M_COUNT; i++) dset_close(&e->d[i]);
    if (e->g >= 0) H5Gclose(e->g);
    e->g = -1;
}

static dr3_status episode_open(hid_t file, const char *path, size_t i, episode *e,
                               const char *who) {
    char name[64];
    snprintf(name, sizeof name, "episode_%zu", i);
    snprintf(e->where, sizeof e->where, "%s: %s", path, name);
    e->g = -1;
    for (int k = 0; k < M_COUNT; k++) e->d[k].id = -1;
    e->g = H5Gopen2(file, name, H5P_DEFAULT);
    if (e->g < 0) return dr3i_fail(DR3_ERR_FORMAT, "%s: %s is not a group", who, e->where);
    for (int k = 0; k < M_COUNT; k++) {
        dr3_status st = need(e->g, minari_names[k], e->where, &e->d[k], who);
        if (st != DR3_OK) return st;
    }
    const size_t T = e->d[M_ACT].rows;
    if (T == 0) return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: episode has no steps", who, e->where);
    if (e->d[M_OBS].rows != T + 1)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: 'observations' has %zu rows, needs T+1 = %zu",
                         who, e->where, e->d[M_OBS].rows, T + 1);
    for (int k = M_REW; k < M_COUNT; k++) {
        dr3_status st = column(&e->d[k], T, minari_names[k], e->where, who);
        if (st != DR3_OK) return st;
    }
    return DR3_OK;
}

static dr3_status load_minari(dr3_replay **out, hid_t file, const char *path,
                              const dr3_replay_options *opts, episode *e, const char *who) {
    dr3_replay_options o;
    dr3i_alloc alloc;
    dr3_status st = dr3i_replay_opts(&o, &alloc, opts, who);
    if (st != DR3_OK) return st;
    /* pass 1: shapes of every episode */
    size_t n_ep = 0, rows = 0, max_t = 0, obs_dim = 0, act_w = 0;
    dr3_dtype odt = DR3_DTYPE_F32;
    H5T_class_t acls = H5T_NO_CLASS;
    for (;; n_ep++) {
        char name[64];
        snprintf(name, sizeof name, "episode_%zu", n_ep);
        if (H5Lexists(file, name, H5P_DEFAULT) <= 0) break;
        st = episode_open(file, path, n_ep, e, who);
        if (st == DR3_OK) {
            const size_t T = e->d[M_ACT].rows;
            dr3_dtype dt = DR3_DTYPE_F32;
            if ((st = obs_dtype(&e->d[M_OBS], &dt, "observations", e->where, who)) == DR3_OK) {
                if (n_ep == 0) {
                    obs_dim = e->d[M_OBS].width;
                    odt = dt;
                    act_w = e->d[M_ACT].width;
                    acls = e->d[M_ACT].cls;
                } else if (e->d[M_OBS].width != obs_dim || dt != odt ||
                           e->d[M_ACT].width != act_w || e->d[M_ACT].cls != acls) {
                    st = dr3i_fail(DR3_ERR_SHAPE,
                                   "%s: %s: observation/action shape or type differs from "
                                   "episode_0",
                                   who, e->where);
                }
            }
            if (st == DR3_OK && (!dr3i_add(rows, T + 1, &rows) || rows > DR3I_REPLAY_MAX_ROWS))
                st = dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: more than 2^32-2 rows", who, path);
            if (T > max_t) max_t = T;
        }
        episode_close(e);
        if (st != DR3_OK) return st;
    }
    if (n_ep == 0) return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: no group 'episode_0'", who, path);
    if (obs_dim == 0)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: zero-width observations", who, path);
    if (o.obs_dim != 0 && o.obs_dim != obs_dim)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: obs_dim %zu, opts->obs_dim is %zu", who, path,
                         obs_dim, o.obs_dim);
    o.obs_dim = obs_dim;
    o.obs_dtype = odt;
    if (acls == H5T_INTEGER) {
        if (act_w != 1)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: discrete actions must be (T,)", who, path);
        o.action_kind = DR3_ACTION_DISCRETE;
        o.action_dim = 0;
    } else if (acls == H5T_FLOAT) {
        if (o.action_dim != 0 && o.action_dim != act_w)
            return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: action width %zu, opts->action_dim is %zu",
                             who, path, act_w, o.action_dim);
        o.action_kind = DR3_ACTION_CONTINUOUS;
        o.action_dim = act_w;
        o.num_actions = 0;
    } else {
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: actions must be integer or float", who,
                         path);
    }
    const size_t bound = o.num_actions;
    o.num_actions = o.action_kind == DR3_ACTION_DISCRETE ? (size_t)INT32_MAX : 0;
    o.capacity = rows < 2 ? 2 : rows;
    dr3_replay *r;
    if ((st = dr3i_replay_new(&r, &o, &alloc, who)) != DR3_OK) return st;
    *out = r;
    r->cap = o.capacity;
    if ((st = dr3i_replay_alloc_ring(r, who)) != DR3_OK) return st;
    /* episode buffers (owned by the handle: a few episode-sized blocks) */
    size_t ob, aw;
    if (!dr3i_mul(max_t + 1, r->obs_bytes, &ob) || !dr3i_mul(max_t, r->act_width * 4, &aw))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: episode too large", who, path);
    uint8_t *eobs = dr3i_replay_own(r, ob, who);
    void *eact = dr3i_replay_own(r, aw, who);
    float *erew = dr3i_replay_own(r, max_t * sizeof(float), who);
    double *tmp = dr3i_replay_own(r, (max_t + 1) * sizeof(double), who);
    uint8_t *ef = dr3i_replay_own(r, max_t + 1, who);
    if (!eobs || !eact || !erew || !tmp || !ef) return DR3_ERR_NOMEM;
    dr3_replay_options lim = o;
    lim.num_actions = bound;
    int64_t amax = -1;
    /* pass 2: read, validate and append each episode */
    for (size_t i = 0; i < n_ep; i++) {
        st = episode_open(file, path, i, e, who);
        const size_t T = e->d[M_ACT].rows;
        if (st == DR3_OK) st = read_obs(&e->d[M_OBS], odt, eobs, "observations", e->where, who);
        if (st == DR3_OK)
            st = read_actions(&e->d[M_ACT], &lim, r->act_i ? eact : NULL,
                              r->act_i ? NULL : eact, tmp, &amax, "actions", e->where, who);
        if (st == DR3_OK) st = read_rewards(&e->d[M_REW], erew, e->where, who);
        if (st == DR3_OK) {
            memset(ef, 0, T);
            st = read_flags(&e->d[M_TERM], T, ef, DR3I_ROW_TERM, tmp, "terminations", e->where,
                            who);
        }
        if (st == DR3_OK)
            st = read_flags(&e->d[M_TRUNC], T, ef, DR3I_ROW_TRUNC, tmp, "truncations", e->where,
                            who);
        for (size_t t = 0; st == DR3_OK && t + 1 < T; t++)
            if (ef[t] & DR3I_ROW_END)
                st = dr3i_fail(DR3_ERR_FORMAT, "%s: %s: the episode ends at step %zu of %zu",
                               who, e->where, t, T);
        episode_close(e);
        if (st != DR3_OK) return st;
        int term = (ef[T - 1] & DR3I_ROW_TERM) != 0;
        /* an episode that neither terminated nor was truncated was cut by the collector:
         * it has its last observation, so it bootstraps like a truncation */
        int trunc = !term;
        r->has_pending = 0;
        r->episode_open = 0;
        dr3i_replay_put_episode(r, T, eobs, eact, erew, term, trunc);
    }
    if (r->act_i != NULL) {
        if (bound != 0)
            r->o.num_actions = bound;
        else if ((st = dr3i_infer_num_actions(amax, &r->o.num_actions, path, who)) != DR3_OK)
            return st;
    }
    r->read_only = 1;
    void *scratch[5] = {eobs, eact, erew, tmp, ef};
    for (int i = 0; i < 5; i++) dr3i_replay_disown(r, scratch[i]);
    return DR3_OK;
}

typedef enum which { D4RL, MINARI } which;

static dr3_status load(dr3_replay **out, const char *path, const dr3_replay_options *opts,
                       which w, const char *who) {
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    if (path == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is NULL", who);
    dr3_status st = dr3i_runtime_ensure();
    if (st != DR3_OK) return st;
    quiet q;
    quiet_on(&q);
    hid_t file = -1;
    dr3_replay *r = NULL;
    st = open_file(&file, path, who);
    if (st == DR3_OK) {
        if (w == D4RL) {
            dset ds[X_COUNT];
            for (int i = 0; i < X_COUNT; i++) ds[i].id = -1;
            st = load_d4rl(&r, file, path, opts, ds, who);
            for (int i = 0; i < X_COUNT; i++) dset_close(&ds[i]);
        } else {
            episode e;
            memset(&e, 0, sizeof e);
            e.g = -1;
            for (int k = 0; k < M_COUNT; k++) e.d[k].id = -1;
            st = load_minari(&r, file, path, opts, &e, who);
            episode_close(&e);
        }
        H5Fclose(file);
    }
    quiet_off(&q);
    if (st != DR3_OK) {
        dr3_replay_free(r);
        return st;
    }
    *out = r;
    return DR3_OK;
}

dr3_status dr3_replay_open_d4rl(dr3_replay **out, const char *path,
                                const dr3_replay_options *opts) {
    return load(out, path, opts, D4RL, "dr3_replay_open_d4rl");
}

dr3_status dr3_replay_open_minari(dr3_replay **out, const char *path,
                                  const dr3_replay_options *opts) {
    return load(out, path, opts, MINARI, "dr3_replay_open_minari");
}

#else /* !DR3_HAVE_HDF5 */

static dr3_status no_hdf5(dr3_replay **out, const char *who) {
    if (out != NULL) *out = NULL;
    return dr3i_fail(DR3_ERR_UNSUPPORTED,
                     "%s: libdr3 was built without HDF5; install libhdf5-dev and rebuild with "
                     "-DDR3_WITH_HDF5=ON to read D4RL/Minari files",
                     who);
}

dr3_status dr3_replay_open_d4rl(dr3_replay **out, const char *path,
                                const dr3_replay_options *opts) {
    (void)path;
    (void)opts;
    return no_hdf5(out, "dr3_replay_open_d4rl");
}

dr3_status dr3_replay_open_minari(dr3_replay **out, const char *path,
                                  const dr3_replay_options *opts) {
    (void)path;
    (void)opts;
    return no_hdf5(out, "dr3_replay_open_minari");
}

#endif
