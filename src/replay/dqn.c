/* DQN Replay Dataset checkpoints (Dopamine's OutOfGraphReplayBuffer.save): each member of
 * the buffer is np.save'd into a gzip stream named '<name>_ckpt.<N>.gz', store arrays with
 * the '$store$_' prefix. The rows stay in Dopamine's circular order: the cursor is
 * add_count % capacity, each episode starts with stack_size - 1 zero "padding" transitions
 * (after a terminal, or at the start of an empty buffer), and invalid_range lists the rows
 * around the cursor whose stack or n-step window crosses it. */
#include "gz.h"
#include "replay_internal.h"

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
