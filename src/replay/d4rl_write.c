/* Writing a replay buffer or dataset in D4RL's layout (experimental): one HDF5 file, or a
 * directory of .npy files, holding the arrays D4RL's get_dataset() returns, one row per step
 * in time order: observations (N, d), actions (N, m) float32 or (N,) int32, rewards (N,),
 * terminals (N,), timeouts (N,), next_observations (N, d) and, when the source had them,
 * next_actions. Both writers are all-or-nothing: the data is assembled in a temporary file
 * or directory beside the destination and renamed over it at the end; on any failure the
 * destination is untouched and the temporary is removed. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* renameat2 (RENAME_EXCHANGE) for replacing a directory atomically */
#endif

#include "../io/atomic_file.h"
#include "npy.h"
#include "replay_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The columns, in the order they are written. */
enum { C_OBS, C_ACT, C_REW, C_TERM, C_TIME, C_NOBS, C_NACT, C_COUNT };
static const char *const col_names[C_COUNT] = {"observations", "actions",  "rewards",
                                               "terminals",    "timeouts", "next_observations",
                                               "next_actions"};

/* A stored step (not a final-observation row nor Dopamine padding): one output row. */
static int is_step(const dr3_replay *r, size_t q) {
    return !(r->flags[q] & (DR3I_ROW_FINAL | DR3I_ROW_PAD));
}

/* The observation after step q: the next row of its episode, the final-observation row
 * after its end, or a flat dataset's explicit next observation; NULL when none is stored
 * (the newest step of an open episode, a terminal without final observation). */
static const uint8_t *next_obs_of(const dr3_replay *r, size_t q) {
    size_t q2;
    if (dr3i_next_in_ep(r, q, &q2)) return r->obs + q2 * r->obs_bytes;
    if (r->next_obs != NULL) return r->next_obs + q * r->obs_bytes;
    return NULL;
}

static int has_next_actions(const dr3_replay *r) {
    return r->next_act_i != NULL || r->next_act_f != NULL;
}

/* Bytes of one row of column c. */
static size_t row_bytes(const dr3_replay *r, int c) {
    switch (c) {
    case C_OBS:
    case C_NOBS:
        return r->obs_bytes;
    case C_ACT:
    case C_NACT:
        return r->act_i != NULL ? sizeof(int32_t) : r->act_width * sizeof(float);
    case C_REW:
        return sizeof(float);
    default:
        return 1;
    }
}

/* Copies row q of column c into dst (row_bytes(r, c) bytes). */
static void row_copy(const dr3_replay *r, int c, size_t q, uint8_t *dst) {
    const size_t w = row_bytes(r, c);
    const void *src = NULL;
    switch (c) {
    case C_OBS:
        src = r->obs + q * r->obs_bytes;
        break;
    case C_NOBS:
        src = next_obs_of(r, q);
        break;
    case C_ACT:
        src = r->act_i != NULL ? (const void *)&r->act_i[q]
                               : (const void *)(r->act_f + q * r->act_width);
        break;
    case C_NACT:
        src = r->next_act_i != NULL ? (const void *)&r->next_act_i[q]
                                    : (const void *)(r->next_act_f + q * r->act_width);
        break;
    case C_REW:
        src = &r->rew[q];
        break;
    case C_TERM:
        dst[0] = (r->flags[q] & DR3I_ROW_TERM) != 0;
        return;
    case C_TIME:
        dst[0] = (r->flags[q] & DR3I_ROW_TRUNC) != 0;
        return;
    default:
        break;
    }
    if (src != NULL)
        memcpy(dst, src, w);
    else
        memset(dst, 0, w);
}

/* Physical slots of the steps, oldest first, into an array allocated with r's allocator. */
static dr3_status list_steps(const dr3_replay *r, size_t **slots, size_t *n, const char *who) {
    *slots = NULL;
    *n = 0;
    size_t count = 0, base = dr3i_oldest(r);
    for (size_t l = 0; l < r->size; l++)
        if (is_step(r, (base + l) % r->cap)) count++;
    if (count == 0) return dr3i_fail(DR3_ERR_STATE, "%s: the replay holds no steps", who);
    size_t bytes;
    if (!dr3i_mul(count, sizeof(size_t), &bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: too many rows", who);
    size_t *s = dr3i_calloc(&r->alloc, bytes);
    if (s == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory (%zu bytes)", who, bytes);
    size_t k = 0;
    for (size_t l = 0; l < r->size; l++) {
        size_t q = (base + l) % r->cap;
        if (is_step(r, q)) s[k++] = q;
    }
    *slots = s;
    *n = count;
    return DR3_OK;
}

static dr3_status check_args(const dr3_replay *r, const char *path, const char *who) {
    if (r == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, r == NULL ? "r" : "path");
    if (path[0] == '\0') return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is empty", who);
    return DR3_OK;
}

/* ---- HDF5 ------------------------------------------------------------------------------- */

#ifdef DR3_HAVE_HDF5
#include <hdf5.h>

/* The file is built in memory by libhdf5's core driver (no backing store), its image is
 * then written through the same atomic temp-file-and-rename path as every libdr3 writer. */
static dr3_status h5_dataset(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank,
                             const hsize_t *dims, const void *data, const char *path,
                             const char *who) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d =
        sp >= 0 ? H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    herr_t e = d >= 0 ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (d >= 0 && H5Dclose(d) < 0) e = -1;
    if (sp >= 0) H5Sclose(sp);
    if (e < 0)
        return dr3i_fail(DR3_ERR_IO, "%s: %s: libhdf5 failed to write '%s'", who, path, name);
    return DR3_OK;
}

/* h5py's bool: an enum over int8 with FALSE = 0 and TRUE = 1, what D4RL's files hold. */
static hid_t h5_bool_type(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    if (t < 0) return t;
    int8_t v = 0;
    herr_t e = H5Tenum_insert(t, "FALSE", &v);
    v = 1;
    if (e >= 0) e = H5Tenum_insert(t, "TRUE", &v);
    if (e < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static dr3_status h5_build(const dr3_replay *r, const size_t *slots, size_t n, hid_t file,
                           uint8_t *buf, const char *path, const char *who) {
    dr3_status st = DR3_OK;
    hid_t btype = h5_bool_type();
    if (btype < 0) return dr3i_fail(DR3_ERR_IO, "%s: libhdf5 cannot make a bool type", who);
    const int u8 = r->o.obs_dtype == DR3_DTYPE_U8, discrete = r->act_i != NULL;
    for (int c = 0; c < C_COUNT && st == DR3_OK; c++) {
        if (c == C_NACT && !has_next_actions(r)) continue;
        const size_t w = row_bytes(r, c);
        for (size_t i = 0; i < n; i++) row_copy(r, c, slots[i], buf + i * w);
        hsize_t dims[2] = {(hsize_t)n, 0};
        int rank = 1;
        hid_t ft = btype, mt = btype;
        switch (c) {
        case C_OBS:
        case C_NOBS:
            dims[1] = (hsize_t)r->o.obs_dim;
            rank = 2;
            ft = u8 ? H5T_STD_U8LE : H5T_IEEE_F32LE;
            mt = u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
            break;
        case C_ACT:
        case C_NACT:
            if (!discrete) {
                dims[1] = (hsize_t)r->act_width;
                rank = 2;
            }
            ft = discrete ? H5T_STD_I32LE : H5T_IEEE_F32LE;
            mt = discrete ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
            break;
        case C_REW:
            ft = H5T_IEEE_F32LE;
            mt = H5T_NATIVE_FLOAT;
            break;
        default:
            break;
        }
        st = h5_dataset(file, col_names[c], ft, mt, rank, dims, buf, path, who);
    }
    H5Tclose(btype);
    return st;
}

static dr3_status save_h5(const dr3_replay *r, const char *path, const char *who) {
    size_t *slots, n;
    dr3_status st = list_steps(r, &slots, &n, who);
    if (st != DR3_OK) return st;
    size_t widest = r->obs_bytes > r->act_width * 4 ? r->obs_bytes : r->act_width * 4, bytes;
    if (!dr3i_mul(n, widest < 4 ? 4 : widest, &bytes)) {
        dr3i_free(&r->alloc, slots);
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: dataset too large", who);
    }
    uint8_t *buf = dr3i_calloc(&r->alloc, bytes);
    if (buf == NULL) {
        dr3i_free(&r->alloc, slots);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory (%zu bytes)", who, bytes);
    }
    if ((st = dr3i_runtime_ensure()) != DR3_OK) goto done;
    /* libhdf5 prints its error stack by default; a library must not print */
    H5E_auto2_t efn;
    void *edata;
    H5Eget_auto2(H5E_DEFAULT, &efn, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t file = -1;
    char name[64];
    snprintf(name, sizeof name, "dr3-d4rl-%p", (const void *)r);
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0)
        file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        st = dr3i_fail(DR3_ERR_IO, "%s: libhdf5 cannot create an in-memory file", who);
    } else {
        st = h5_build(r, slots, n, file, buf, path, who);
        void *image = NULL;
        if (st == DR3_OK && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
            st = dr3i_fail(DR3_ERR_IO, "%s: libhdf5 failed to flush the file", who);
        ssize_t len = st == DR3_OK ? H5Fget_file_image(file, NULL, 0) : -1;
        if (st == DR3_OK && len <= 0)
            st = dr3i_fail(DR3_ERR_IO, "%s: libhdf5 gave no file image", who);
        if (st == DR3_OK && (image = dr3i_calloc(&r->alloc, (size_t)len)) == NULL)
            st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory (%zd bytes)", who, len);
        if (st == DR3_OK && H5Fget_file_image(file, image, (size_t)len) != len)
            st = dr3i_fail(DR3_ERR_IO, "%s: libhdf5 failed to copy the file image", who);
        H5Fclose(file);
        if (st == DR3_OK) {
            dr3i_atomic_file af;
            if ((st = dr3i_atomic_open_with(&af, path, &r->alloc, who)) == DR3_OK) {
                st = dr3i_atomic_write(&af, image, (size_t)len);
                if (st == DR3_OK)
                    st = dr3i_atomic_commit(&af);
                else
                    dr3i_atomic_abort(&af);
            }
        }
        dr3i_free(&r->alloc, image);
    }
    if (fapl >= 0) H5Pclose(fapl);
    H5Eset_auto2(H5E_DEFAULT, efn, edata);
done:
    dr3i_free(&r->alloc, buf);
    dr3i_free(&r->alloc, slots);
    return st;
}

#else /* !DR3_HAVE_HDF5 */

static dr3_status save_h5(const dr3_replay *r, const char *path, const char *who) {
    (void)r;
    (void)path;
    return dr3i_fail(DR3_ERR_UNSUPPORTED,
                     "%s: libdr3 was built without HDF5; write the .npy layout "
                     "(dr3_replay_save_d4rl_npy) or rebuild with libhdf5-dev",
                     who);
}

#endif

dr3_status dr3_replay_save_d4rl(const dr3_replay *r, const char *path) {
    static const char *who = "dr3_replay_save_d4rl";
    dr3_status st = check_args(r, path, who);
    if (st != DR3_OK) return st;
    return save_h5(r, path, who);
}

/* ---- .npy directory --------------------------------------------------------------------- */

static int is_ours(const char *name) {
    static const char *const suffix = ".npy";
    for (int c = 0; c < C_COUNT; c++) {
        size_t k = strlen(col_names[c]);
        if (strncmp(name, col_names[c], k) == 0 && strcmp(name + k, suffix) == 0) return 1;
    }
    return 0;
}

/* Removes our files from dir (and nothing else), then dir itself if it is empty. */
static void remove_dir(const char *dir) {
    char p[4200];
    for (int c = 0; c < C_COUNT; c++) {
        int k = snprintf(p, sizeof p, "%s/%s.npy", dir, col_names[c]);
        if (k > 0 && (size_t)k < sizeof p) unlink(p);
    }
    rmdir(dir);
}

/* The destination may be missing, or a directory holding only files this writer writes
 * (an earlier dataset); anything else is refused rather than replaced. */
static dr3_status check_dest(const char *dir, int *exists, const char *who) {
    struct stat sb;
    *exists = 0;
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) return DR3_OK;
        return dr3i_fail(DR3_ERR_IO, "%s: cannot stat '%s': %s", who, dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return dr3i_fail(DR3_ERR_IO, "%s: '%s' exists and is not a directory", who, dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot read directory '%s': %s", who, dir,
                         strerror(errno));
    dr3_status st = DR3_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (!is_ours(e->d_name)) {
            st = dr3i_fail(DR3_ERR_IO,
                           "%s: '%s' holds '%s', which is not a D4RL array: refusing to "
                           "replace it",
                           who, dir, e->d_name);
            break;
        }
    }
    closedir(d);
    *exists = 1;
    return st;
}

static dr3_status write_npy(const dr3_replay *r, const size_t *slots, size_t n, int c,
                            const char *dir, uint8_t *row, const char *who) {
    char path[4200];
    int k = snprintf(path, sizeof path, "%s/%s.npy", dir, col_names[c]);
    if (k < 0 || (size_t)k >= sizeof path)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path '%s' is too long", who, dir);
    dr3i_npy_dtype dt = DR3I_NPY_B1;
    size_t shape[2] = {n, 0}, ndim = 1;
    switch (c) {
    case C_OBS:
    case C_NOBS:
        dt = r->o.obs_dtype == DR3_DTYPE_U8 ? DR3I_NPY_U1 : DR3I_NPY_F4;
        shape[1] = r->o.obs_dim;
        ndim = 2;
        break;
    case C_ACT:
    case C_NACT:
        dt = r->act_i != NULL ? DR3I_NPY_I4 : DR3I_NPY_F4;
        shape[1] = r->act_width;
        ndim = r->act_i != NULL ? 1 : 2;
        break;
    case C_REW:
        dt = DR3I_NPY_F4;
        break;
    default:
        break;
    }
    char hdr[512];
    size_t len;
    dr3_status st = dr3i_npy_write_header(hdr, sizeof hdr, dt, ndim, shape, &len);
    if (st != DR3_OK) return st;
    dr3i_atomic_file af;
    if ((st = dr3i_atomic_open_with(&af, path, &r->alloc, who)) != DR3_OK) return st;
    st = dr3i_atomic_write(&af, hdr, len);
    const size_t w = row_bytes(r, c);
    for (size_t i = 0; i < n && st == DR3_OK; i++) {
        row_copy(r, c, slots[i], row);
        st = dr3i_atomic_write(&af, row, w);
    }
    if (st == DR3_OK) return dr3i_atomic_commit(&af);
    dr3i_atomic_abort(&af);
    return st;
}

static void sync_parent(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s", dir);
    char *slash = strrchr(p, '/');
    if (slash == NULL)
        snprintf(p, sizeof p, ".");
    else if (slash == p)
        p[1] = '\0';
    else
        *slash = '\0';
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

dr3_status dr3_replay_save_d4rl_npy(const dr3_replay *r, const char *dir) {
    static const char *who = "dr3_replay_save_d4rl_npy";
    dr3_status st = check_args(r, dir, who);
    if (st != DR3_OK) return st;
    char dest[4096];
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--; /* "out/" names the directory "out" */
    if (dl + 32 >= sizeof dest)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path '%s' is too long", who, dir);
    memcpy(dest, dir, dl);
    dest[dl] = '\0';
    int exists;
    if ((st = check_dest(dest, &exists, who)) != DR3_OK) return st;
    size_t *slots, n;
    if ((st = list_steps(r, &slots, &n, who)) != DR3_OK) return st;
    uint8_t *row = dr3i_calloc(&r->alloc, r->obs_bytes + r->act_width * 4 + 8);
    if (row == NULL) {
        dr3i_free(&r->alloc, slots);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dest);
    if (mkdtemp(tmp) == NULL) {
        st = dr3i_fail(DR3_ERR_IO, "%s: cannot create a directory beside '%s': %s", who, dest,
                       strerror(errno));
    } else {
        chmod(tmp, 0755); /* mkdtemp makes it 0700; a dataset is shared like save_npy's */
        for (int c = 0; c < C_COUNT && st == DR3_OK; c++)
            if (c != C_NACT || has_next_actions(r))
                st = write_npy(r, slots, n, c, tmp, row, who);
        if (st == DR3_OK) {
            /* a missing destination takes the new directory by a plain rename; an existing
             * one is swapped with it in one step, then the old arrays are removed */
            int e = exists ? renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_EXCHANGE)
                           : rename(tmp, dest);
            if (e != 0 && exists && (errno == EINVAL || errno == ENOSYS)) {
                /* a file system without the exchange: move the old one aside first (a
                 * crash between the two renames leaves it there, under the .old name) */
                char old[4200];
                snprintf(old, sizeof old, "%s.old-XXXXXX", dest);
                int fd = mkstemp(old);
                if (fd >= 0) {
                    close(fd);
                    unlink(old);
                    e = rename(dest, old);
                    if (e == 0 && (e = rename(tmp, dest)) != 0) rename(old, dest);
                    if (e == 0) remove_dir(old);
                }
            }
            if (e != 0)
                st = dr3i_fail(DR3_ERR_IO, "%s: cannot move the new arrays to '%s': %s", who,
                               dest, strerror(errno));
            else
                sync_parent(dest);
        }
        remove_dir(tmp); /* the failed new arrays, or after a swap the old ones */
    }
    dr3i_free(&r->alloc, row);
    dr3i_free(&r->alloc, slots);
    return st;
}
