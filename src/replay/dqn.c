/* DQN Replay Dataset checkpoints (Dopamine's OutOfGraphReplayBuffer.save): each member of
 * the buffer is np.save'd into a gzip stream named '<name>_ckpt.<N>.gz', store arrays with
 * the '$store$_' prefix. The rows stay in Dopamine's circular order: the cursor is
 * add_count % capacity, each episode starts with stack_size - 1 zero "padding" transitions
 * (after a terminal, or at the start of an empty buffer), and invalid_range lists the rows
 * around the cursor whose stack or n-step window crosses it. */
#include "gz.h"
#include "replay_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { D_OBS, D_ACT, D_REW, D_TERM, D_COUNT, D_INVALID, D_FILES };
static const char *const dqn_names[D_FILES] = {"$store$_observation", "$store$_action",
                                               "$store$_reward",      "$store$_terminal",
                                               "add_count",           "invalid_range"};

typedef struct dqnfile {
    char path[4096];
    dr3i_gz gz;
    int open;
    dr3i_npy_header h;
} dqnfile;

static int64_t get_i64(const uint8_t *p, dr3i_npy_dtype dt, int *integral) {
    *integral = 1;
    switch (dt) {
    case DR3I_NPY_I4: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case DR3I_NPY_I8: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    case DR3I_NPY_F8: { /* Dopamine's initial invalid_range is np.zeros (float64) */
        double v;
        memcpy(&v, p, 8);
        if (!(v >= -9e18 && v <= 9e18) || v != (double)(int64_t)v) {
            *integral = 0;
            return 0;
        }
        return (int64_t)v;
    }
    default:
        *integral = 0;
        return 0;
    }
}

static dr3_status column(const dqnfile *f, size_t cap, const char *who) {
    if (f->h.ndim != 1 || f->h.shape[0] != cap)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: shape must be (%zu,) like the observations",
                         who, f->path, cap);
    return DR3_OK;
}

static dr3_status load(dr3_replay **out, const char *dir, unsigned suffix, dr3_replay_options o,
                       const dr3i_alloc *palloc, dqnfile *f, const char *who) {
    const dr3i_alloc alloc = *palloc;
    dr3_status st;
    /* 1. every header, before anything big is allocated */
    for (int i = 0; i < D_FILES; i++) {
        int n = snprintf(f[i].path, sizeof f[i].path, "%s/%s_ckpt.%u.gz", dir, dqn_names[i],
                         suffix);
        if (n < 0 || (size_t)n >= sizeof f[i].path)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: dir is too long", who);
        if ((st = dr3i_gz_open_file(&f[i].gz, palloc, f[i].path, who)) != DR3_OK) return st;
        f[i].open = 1;
        if ((st = dr3i_gz_npy_header(&f[i].gz, &f[i].h)) != DR3_OK) return st;
    }
    const dqnfile *fo = &f[D_OBS];
    if (fo->h.ndim < 1 || fo->h.shape[0] == 0)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: observations need shape (capacity, ...)", who,
                         fo->path);
    if (fo->h.dtype != DR3I_NPY_U1 && fo->h.dtype != DR3I_NPY_F4)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: observations must be |u1 or <f4", who,
                         fo->path);
    const size_t cap = fo->h.shape[0];
    if (cap < 2 || cap > DR3I_REPLAY_MAX_ROWS)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: capacity %zu not in [2, 2^32-2]", who,
                         fo->path, cap);
    size_t obs_dim = fo->h.count / cap;
    if (obs_dim == 0)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: empty observations", who, fo->path);
    if (o.obs_dim != 0 && o.obs_dim != obs_dim)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: %s: obs_dim %zu, opts->obs_dim is %zu", who,
                         fo->path, obs_dim, o.obs_dim);
    if ((st = column(&f[D_ACT], cap, who)) != DR3_OK) return st;
    if ((st = column(&f[D_REW], cap, who)) != DR3_OK) return st;
    if ((st = column(&f[D_TERM], cap, who)) != DR3_OK) return st;
    if (f[D_ACT].h.dtype != DR3I_NPY_I4 && f[D_ACT].h.dtype != DR3I_NPY_I8)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: actions must be <i4 or <i8", who,
                         f[D_ACT].path);
    if (f[D_REW].h.dtype != DR3I_NPY_F4)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: rewards must be <f4", who,
                         f[D_REW].path);
    if (f[D_TERM].h.dtype != DR3I_NPY_U1 && f[D_TERM].h.dtype != DR3I_NPY_B1)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: %s: terminals must be |u1 or |b1", who,
                         f[D_TERM].path);
    if (f[D_COUNT].h.count != 1 || f[D_COUNT].h.ndim > 1 ||
        (f[D_COUNT].h.dtype != DR3I_NPY_I8 && f[D_COUNT].h.dtype != DR3I_NPY_I4))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: add_count must be one integer", who,
                         f[D_COUNT].path);
    if (f[D_INVALID].h.ndim != 1 || f[D_INVALID].h.count > 1024 ||
        (f[D_INVALID].h.dtype != DR3I_NPY_I8 && f[D_INVALID].h.dtype != DR3I_NPY_I4 &&
         f[D_INVALID].h.dtype != DR3I_NPY_F8))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: invalid_range must be a short integer vector",
                         who, f[D_INVALID].path);
    /* what the headers declare must fit in what the files hold, before anything that size
     * is allocated (a 1 KB file must not make the reader clear gigabytes) */
    for (int i = 0; i < D_FILES; i++)
        if ((st = dr3i_gz_check_plausible(&f[i].gz, f[i].h.data_bytes)) != DR3_OK) return st;
    /* small arrays */
    uint8_t small[1024 * 8];
    if ((st = dr3i_gz_read(&f[D_COUNT].gz, small, f[D_COUNT].h.data_bytes)) != DR3_OK ||
        (st = dr3i_gz_expect_end(&f[D_COUNT].gz)) != DR3_OK)
        return st;
    int integral;
    int64_t add_count = get_i64(small, f[D_COUNT].h.dtype, &integral);
    if (add_count < 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: add_count %lld is negative", who,
                         f[D_COUNT].path, (long long)add_count);
    const size_t n_inv = f[D_INVALID].h.count;
    int64_t inv[1024];
    if ((st = dr3i_gz_read(&f[D_INVALID].gz, small, f[D_INVALID].h.data_bytes)) != DR3_OK ||
        (st = dr3i_gz_expect_end(&f[D_INVALID].gz)) != DR3_OK)
        return st;
    for (size_t i = 0; i < n_inv; i++) {
        inv[i] = get_i64(small + i * f[D_INVALID].h.elem, f[D_INVALID].h.dtype, &integral);
        if (!integral || inv[i] < 0 || (uint64_t)inv[i] >= cap)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: entry %zu is not a row index below %zu",
                             who, f[D_INVALID].path, i, cap);
    }

    /* 2. the handle, with the big arrays read straight into place */
    o.obs_dim = obs_dim;
    o.obs_dtype = fo->h.dtype == DR3I_NPY_U1 ? DR3_DTYPE_U8 : DR3_DTYPE_F32;
    o.action_kind = DR3_ACTION_DISCRETE;
    o.action_dim = 0;
    o.capacity = cap;
    dr3_replay *r;
    if ((st = dr3i_replay_new(&r, &o, &alloc, who)) != DR3_OK) return st;
    *out = r;
    r->read_only = 1;
    r->cap = cap;
    r->size = (uint64_t)add_count < cap ? (size_t)add_count : cap;
    r->cursor = (size_t)((uint64_t)add_count % cap);
    size_t obs_total;
    if (!dr3i_mul(cap, r->obs_bytes, &obs_total))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %s: observations overflow", who, fo->path);
    r->obs = dr3i_replay_own(r, obs_total, who);
    r->act_i = dr3i_replay_own(r, cap * sizeof(int32_t), who);
    r->rew = dr3i_replay_own(r, cap * sizeof(float), who);
    r->flags = dr3i_replay_own(r, cap, who);
    if (r->obs == NULL || r->act_i == NULL || r->rew == NULL || r->flags == NULL)
        return DR3_ERR_NOMEM;
    if ((st = dr3i_gz_read(&f[D_OBS].gz, r->obs, obs_total)) != DR3_OK ||
        (st = dr3i_gz_expect_end(&f[D_OBS].gz)) != DR3_OK)
        return st;
    if (f[D_ACT].h.dtype == DR3I_NPY_I4) {
        if ((st = dr3i_gz_read(&f[D_ACT].gz, r->act_i, cap * 4)) != DR3_OK) return st;
    } else {
        for (size_t i = 0; i < cap; i++) {
            int64_t v;
            if ((st = dr3i_gz_read(&f[D_ACT].gz, &v, 8)) != DR3_OK) return st;
            r->act_i[i] = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
        }
    }
    if ((st = dr3i_gz_expect_end(&f[D_ACT].gz)) != DR3_OK) return st;
    if ((st = dr3i_gz_read(&f[D_REW].gz, r->rew, cap * 4)) != DR3_OK ||
        (st = dr3i_gz_expect_end(&f[D_REW].gz)) != DR3_OK)
        return st;
    if ((st = dr3i_gz_read(&f[D_TERM].gz, r->flags, cap)) != DR3_OK ||
        (st = dr3i_gz_expect_end(&f[D_TERM].gz)) != DR3_OK)
        return st;

    /* 3. validate the stored rows (rows never written hold np.empty garbage) */
    const size_t base = dr3i_oldest(r);
    int32_t amax = -1;
    for (size_t l = 0; l < r->size; l++) {
        size_t q = (base + l) % cap;
        if (r->flags[q] > 1)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: row %zu is %u, not 0 or 1", who,
                             f[D_TERM].path, q, r->flags[q]);
        if (!isfinite(r->rew[q]))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: row %zu is not finite", who,
                             f[D_REW].path, q);
        int32_t a = r->act_i[q];
        if (a < 0 || (o.num_actions != 0 && (size_t)a >= o.num_actions))
            return dr3i_fail(DR3_ERR_RANGE, "%s: %s: row %zu: action %d is out of range", who,
                             f[D_ACT].path, q, (int)a);
        if (a > amax) amax = a;
        if (o.obs_dtype == DR3_DTYPE_F32 &&
            !dr3i_all_finite((const float *)(r->obs + q * r->obs_bytes), obs_dim, 1))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: row %zu is not finite", who, fo->path,
                             q);
    }
    for (size_t q = 0; q < cap; q++) {
        if (!dr3i_stored(r, q)) { /* never written: make it inert */
            r->flags[q] = 0;
            r->act_i[q] = 0;
            r->rew[q] = 0;
        }
    }
    if (o.num_actions == 0 &&
        (st = dr3i_infer_num_actions(amax, &r->o.num_actions, f[D_ACT].path, who)) != DR3_OK)
        return st;

    /* 4. Dopamine's episode structure. Padding rows are the zero transitions (obs 0,
     * action 0, reward 0, not terminal) that follow a terminal, or open an empty buffer, at
     * most len(invalid_range) - 1 = stack_size + update_horizon - 1 of them. */
    const size_t max_pad = n_inv > 0 ? n_inv - 1 : 0;
    for (size_t q = 0; q < cap; q++) r->flags[q] = r->flags[q] ? DR3I_ROW_TERM : 0;
    int after_end = r->size < cap; /* an empty buffer began with padding */
    if (after_end) r->flags[0] |= DR3I_ROW_START;
    size_t pads = 0;
    for (size_t l = 0; l < r->size; l++) {
        size_t q = (base + l) % cap;
        if (after_end) {
            const uint8_t *ob = r->obs + q * r->obs_bytes;
            int zero = r->act_i[q] == 0 && r->rew[q] == 0.0f && !(r->flags[q] & DR3I_ROW_TERM);
            for (size_t b = 0; zero && b < r->obs_bytes; b++) zero = ob[b] == 0;
            if (zero && pads < max_pad) {
                r->flags[q] |= DR3I_ROW_PAD | DR3I_ROW_NOSAMPLE;
                pads++;
                continue;
            }
            after_end = 0;
        }
        if (r->flags[q] & DR3I_ROW_TERM) {
            after_end = 1;
            pads = 0;
            if (l + 1 < r->size) r->flags[(q + 1) % cap] |= DR3I_ROW_START;
        }
    }
    for (size_t i = 0; i < n_inv; i++) r->flags[inv[i]] |= DR3I_ROW_NOSAMPLE;
    return dr3i_replay_build_sets(r, who);
}

dr3_status dr3_replay_open_dqn(dr3_replay **out, const char *dir, unsigned suffix,
                               const dr3_replay_options *opts) {
    static const char *who = "dr3_replay_open_dqn";
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    if (dir == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: dir is NULL", who);
#ifndef DR3_HAVE_ZLIB
    (void)suffix;
    (void)opts;
    return dr3i_fail(DR3_ERR_UNSUPPORTED,
                     "%s: libdr3 was built without zlib; the DQN Replay Dataset cannot be read",
                     who);
#else
    dr3_status st = dr3i_runtime_ensure();
    if (st != DR3_OK) return st;
    dr3_replay_options o;
    dr3i_alloc alloc;
    if ((st = dr3i_replay_opts(&o, &alloc, opts, who)) != DR3_OK) return st;
    dqnfile *f = dr3i_calloc(&alloc, D_FILES * sizeof *f);
    if (f == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    dr3_replay *r = NULL;
    st = load(&r, dir, suffix, o, &alloc, f, who);
    for (int i = 0; i < D_FILES; i++)
        if (f[i].open) dr3i_gz_close(&f[i].gz);
    dr3i_free(&alloc, f);
    if (st != DR3_OK) {
        dr3_replay_free(r);
        return st;
    }
    *out = r;
    return DR3_OK;
#endif
}

/* ---- writing: Dopamine's layout (the inverse of the reader above) -------------------- */

#ifdef DR3_HAVE_ZLIB
#include "../io/atomic_file.h"
#include "npy.h"

#include <sys/stat.h>
#include <zlib.h>

/* A gzip stream deflated into an atomically written file. */
typedef struct gzw {
    dr3i_atomic_file af;
    z_stream z;
    int z_ok;
    unsigned char out[1 << 16];
    dr3_status st;
    const char *who;
} gzw;

static dr3_status gzw_pump(gzw *g, int flush) {
    int rc;
    do {
        g->z.next_out = g->out;
        g->z.avail_out = sizeof g->out;
        rc = deflate(&g->z, flush);
        if (rc == Z_STREAM_ERROR)
            return dr3i_fail(DR3_ERR_INTERNAL, "%s: zlib deflate failed", g->who);
        size_t have = sizeof g->out - g->z.avail_out;
        if (have > 0) {
            dr3_status st = dr3i_atomic_write(&g->af, g->out, have);
            if (st != DR3_OK) return st;
        }
    } while (g->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    return DR3_OK;
}

static void gzw_put(gzw *g, const void *p, size_t n) {
    while (g->st == DR3_OK && n > 0) {
        uInt c = n > (1u << 30) ? (1u << 30) : (uInt)n;
        g->z.next_in = (Bytef *)(uintptr_t)p;
        g->z.avail_in = c;
        g->st = gzw_pump(g, Z_NO_FLUSH);
        p = (const unsigned char *)p + c;
        n -= c;
    }
}

static dr3_status gzw_open(gzw *g, const dr3i_alloc *alloc, const char *path,
                           dr3i_npy_dtype dtype, size_t ndim, const size_t *shape,
                           const char *who) {
    memset(&g->z, 0, sizeof g->z);
    g->who = who;
    g->z_ok = 0;
    dr3_status st = dr3i_atomic_open_with(&g->af, path, alloc, who);
    if (st != DR3_OK) return st;
    /* windowBits 15 + 16: a gzip wrapper, as Dopamine's gzip.open writes */
    if (deflateInit2(&g->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        dr3i_atomic_abort(&g->af);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: cannot start zlib", who);
    }
    g->z_ok = 1;
    char head[512];
    size_t len;
    g->st = dr3i_npy_write_header(head, sizeof head, dtype, ndim, shape, &len);
    if (g->st == DR3_OK) gzw_put(g, head, len);
    return g->st;
}

static dr3_status gzw_close(gzw *g) {
    if (g->st == DR3_OK) g->st = gzw_pump(g, Z_FINISH);
    if (g->z_ok) deflateEnd(&g->z);
    g->z_ok = 0;
    if (g->st != DR3_OK) {
        dr3i_atomic_abort(&g->af);
        return g->st;
    }
    return dr3i_atomic_commit(&g->af);
}

/* The rows written, in order: before the first step of every episode stack_size − 1 zero
 * padding rows; observation-only rows (episode ends) and rows that were Dopamine padding
 * are left out. Calls fn(payload, slot or SIZE_MAX for padding) per row. */
static size_t dqn_rows(const dr3_replay *r, void (*fn)(void *, const dr3_replay *, size_t),
                       void *payload) {
    const size_t base = dr3i_oldest(r), pad = r->o.frame_stack - 1;
    size_t rows = 0;
    int start = 1;
    for (size_t l = 0; l < r->size; l++) {
        size_t q = (base + l) % r->cap;
        if (r->flags[q] & (DR3I_ROW_FINAL | DR3I_ROW_PAD)) {
            start = 1;
            continue;
        }
        if (start || (r->flags[q] & DR3I_ROW_START)) {
            for (size_t k = 0; k < pad; k++, rows++)
                if (fn) fn(payload, r, SIZE_MAX);
        }
        start = 0;
        if (fn) fn(payload, r, q);
        rows++;
        if (r->flags[q] & DR3I_ROW_END) start = 1;
    }
    return rows;
}

typedef struct dqn_put {
    gzw *g;
    int file;
    size_t newest; /* slot of the newest row (its truncation is left to invalid_range) */
} dqn_put;

static void put_row(void *payload, const dr3_replay *r, size_t q) {
    dqn_put *p = payload;
    static const uint8_t zeros[256];
    switch (p->file) {
    case D_OBS:
        if (q == SIZE_MAX) {
            for (size_t left = r->obs_bytes; left > 0;) {
                size_t c = left < sizeof zeros ? left : sizeof zeros;
                gzw_put(p->g, zeros, c);
                left -= c;
            }
        } else {
            gzw_put(p->g, r->obs + q * r->obs_bytes, r->obs_bytes);
        }
        break;
    case D_ACT: {
        int32_t a = q == SIZE_MAX ? 0 : r->act_i[q];
        gzw_put(p->g, &a, 4);
        break;
    }
    case D_REW: {
        float v = q == SIZE_MAX ? 0.0f : r->rew[q];
        gzw_put(p->g, &v, 4);
        break;
    }
    case D_TERM: {
        /* Dopamine has no truncation: an episode cut inside the data ends as terminal; the
         * newest row's cut is covered by invalid_range instead */
        uint8_t t = q != SIZE_MAX && ((r->flags[q] & DR3I_ROW_TERM) ||
                                      ((r->flags[q] & DR3I_ROW_TRUNC) && q != p->newest));
        gzw_put(p->g, &t, 1);
        break;
    }
    default:
        break;
    }
}

static void find_newest(void *payload, const dr3_replay *r, size_t q) {
    (void)r;
    if (q != SIZE_MAX) *(size_t *)payload = q;
}
#endif

dr3_status dr3_replay_save_dqn(const dr3_replay *r, const char *dir, unsigned suffix) {
    static const char *who = "dr3_replay_save_dqn";
    if (r == NULL || dir == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, r == NULL ? "r" : "dir");
#ifndef DR3_HAVE_ZLIB
    (void)suffix;
    return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: libdr3 was built without zlib", who);
#else
    if (r->o.action_kind != DR3_ACTION_DISCRETE)
        return dr3i_fail(DR3_ERR_UNSUPPORTED,
                         "%s: the DQN Replay layout holds discrete actions only", who);
    const size_t rows = dqn_rows(r, NULL, NULL);
    if (rows < 2) return dr3i_fail(DR3_ERR_STATE, "%s: fewer than 2 rows to write", who);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot create directory '%s': %s", who, dir,
                         strerror(errno));
    size_t newest = SIZE_MAX;
    (void)dqn_rows(r, find_newest, &newest);
    /* Dopamine's checkpoint of a buffer holding exactly these rows: capacity = add_count =
     * rows, so the cursor is 0; invalid_range = rows cursor − n … cursor + stack − 1 */
    const size_t K = r->o.frame_stack, n = r->o.n_step, n_inv = K + n;
    int64_t inv[64];
    if (n_inv > sizeof inv / sizeof inv[0] || n_inv > rows)
        return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: frame_stack + n_step too large", who);
    for (size_t i = 0; i < n_inv; i++) inv[i] = (int64_t)((rows - n + i) % rows);
    const int64_t add_count = (int64_t)rows;
    dr3_status st = DR3_OK;
    for (int file = 0; file < D_FILES && st == DR3_OK; file++) {
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s_ckpt.%u.gz", dir, dqn_names[file], suffix);
        if (len < 0 || (size_t)len >= sizeof path)
            return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: dir is too long", who);
        size_t shape[2] = {rows, 0}, ndim = 1;
        dr3i_npy_dtype dt = DR3I_NPY_U1;
        switch (file) {
        case D_OBS:
            dt = r->o.obs_dtype == DR3_DTYPE_U8 ? DR3I_NPY_U1 : DR3I_NPY_F4;
            shape[1] = r->o.obs_dim;
            ndim = 2;
            break;
        case D_ACT:
            dt = DR3I_NPY_I4;
            break;
        case D_REW:
            dt = DR3I_NPY_F4;
            break;
        case D_COUNT:
            dt = DR3I_NPY_I8;
            shape[0] = 1;
            break;
        case D_INVALID:
            dt = DR3I_NPY_I8;
            shape[0] = n_inv;
            break;
        default:
            break;
        }
        gzw *g = dr3i_calloc(&r->alloc, sizeof *g);
        if (g == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        if ((st = gzw_open(g, &r->alloc, path, dt, ndim, shape, who)) == DR3_OK) {
            if (file == D_COUNT) {
                gzw_put(g, &add_count, 8);
            } else if (file == D_INVALID) {
                gzw_put(g, inv, n_inv * 8);
            } else {
                dqn_put p = {g, file, newest};
                (void)dqn_rows(r, put_row, &p);
            }
            st = gzw_close(g);
        } else {
            (void)gzw_close(g);
        }
        dr3i_free(&r->alloc, g);
    }
    return st;
#endif
}
