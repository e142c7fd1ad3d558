/* The replay ring buffer: rows, episode bookkeeping, validity of n-step transitions,
 * uniform sampling into caller-owned batches. Dataset readers fill the same structure. */
#include "replay_internal.h"

#include <string.h>
#include <sys/mman.h>

#define NOT_IN UINT32_MAX

/* ---- options and allocation ------------------------------------------------------------ */

DR3I_DEFINE_STRUCT(dr3_replay_options, dr3_replay_options, DR3_REPLAY_OPTIONS_INIT,
                   DR3_REPLAY_OPTIONS_VERSION, sizeof(dr3_replay_options))
DR3I_DEFINE_STRUCT(dr3_replay_batch, dr3_replay_batch, DR3_REPLAY_BATCH_INIT,
                   DR3_REPLAY_BATCH_VERSION, sizeof(dr3_replay_batch))

dr3_status dr3i_replay_opts(dr3_replay_options *o, dr3i_alloc *alloc,
                            const dr3_replay_options *opts, const char *who) {
    /* Fields newer than the caller's version take the DR3_REPLAY_OPTIONS_INIT defaults
     * (including the embedded allocator's). */
    dr3_replay_options d = DR3_REPLAY_OPTIONS_INIT;
    dr3_status st = dr3i_struct_in(&d, opts, &dr3i_desc_dr3_replay_options, true, who, "opts");
    if (st != DR3_OK) return st;
    st = dr3i_alloc_init(alloc, &d.allocator, who);
    if (st != DR3_OK) return st;
    if (d.obs_dtype != DR3_DTYPE_F32 && d.obs_dtype != DR3_DTYPE_U8)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->obs_dtype %d is not a dr3_dtype", who,
                         (int)d.obs_dtype);
    if (d.action_kind != DR3_ACTION_DISCRETE && d.action_kind != DR3_ACTION_CONTINUOUS)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->action_kind %d is not valid", who,
                         (int)d.action_kind);
    if (d.u8_scale != DR3_U8_SCALE_UNIT && d.u8_scale != DR3_U8_SCALE_RAW)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->u8_scale %d is not valid", who,
                         (int)d.u8_scale);
    if (d.frame_stack < 1 || d.frame_stack > 4096)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->frame_stack %zu is not in [1, 4096]",
                         who, d.frame_stack);
    if (d.n_step < 1 || d.n_step > 4096)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->n_step %zu is not in [1, 4096]", who,
                         d.n_step);
    if (!(d.gamma >= 0.0f && d.gamma <= 1.0f))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->gamma %g is not in [0, 1]", who,
                         (double)d.gamma);
    if (d.num_actions > (size_t)INT32_MAX)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->num_actions %zu exceeds INT32_MAX",
                         who, d.num_actions);
    *o = d;
    return DR3_OK;
}

dr3_status dr3i_replay_new(dr3_replay **out, const dr3_replay_options *o,
                           const dr3i_alloc *alloc, const char *who) {
    dr3_replay *r = dr3i_calloc(alloc, sizeof *r);
    if (r == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    r->alloc = *alloc;
    r->o = *o;
    r->obs_elem = o->obs_dtype == DR3_DTYPE_U8 ? 1 : 4;
    r->act_width = o->action_kind == DR3_ACTION_DISCRETE ? 1 : o->action_dim;
    if (!dr3i_mul(o->obs_dim, r->obs_elem, &r->obs_bytes) ||
        !dr3i_mul(o->obs_dim, o->frame_stack, &r->state_dim)) {
        dr3i_free(alloc, r);
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: obs_dim %zu × frame_stack %zu overflows", who,
                         o->obs_dim, o->frame_stack);
    }
    *out = r;
    return DR3_OK;
}

void *dr3i_replay_own(dr3_replay *r, size_t bytes, const char *who) {
    if (r->n_owned == sizeof r->owned / sizeof r->owned[0]) {
        dr3i_fail(DR3_ERR_INTERNAL, "%s: too many owned blocks", who);
        return NULL;
    }
    void *p = dr3i_calloc(&r->alloc, bytes);
    if (p == NULL) {
        dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory (%zu bytes)", who, bytes);
        return NULL;
    }
    r->owned[r->n_owned++] = p;
    return p;
}

void dr3i_replay_disown(dr3_replay *r, void *p) {
    for (size_t i = 0; i < r->n_owned; i++)
        if (r->owned[i] == p) {
            dr3i_free(&r->alloc, p);
            r->owned[i] = r->owned[--r->n_owned];
            return;
        }
}

static dr3_status own_array(dr3_replay *r, void **dst, size_t count, size_t elem,
                            const char *who) {
    size_t bytes;
    if (!dr3i_mul(count, elem, &bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: %zu × %zu bytes overflows", who, count, elem);
    *dst = dr3i_replay_own(r, bytes, who);
    return *dst == NULL ? DR3_ERR_NOMEM : DR3_OK;
}

dr3_status dr3i_replay_alloc_ring(dr3_replay *r, const char *who) {
    dr3_status st;
    void *p = NULL;
    if ((st = own_array(r, &p, r->cap, r->obs_bytes, who)) != DR3_OK) return st;
    r->obs = p;
    if (r->o.action_kind == DR3_ACTION_DISCRETE) {
        if ((st = own_array(r, &p, r->cap, sizeof(int32_t), who)) != DR3_OK) return st;
        r->act_i = p;
    } else {
        size_t n;
        if (!dr3i_mul(r->cap, r->act_width, &n))
            return dr3i_fail(DR3_ERR_OVERFLOW, "%s: capacity × action_dim overflows", who);
        if ((st = own_array(r, &p, n, sizeof(float), who)) != DR3_OK) return st;
        r->act_f = p;
    }
    if ((st = own_array(r, &p, r->cap, sizeof(float), who)) != DR3_OK) return st;
    r->rew = p;
    if ((st = own_array(r, &p, r->cap, 1, who)) != DR3_OK) return st;
    r->flags = p;
    if ((st = own_array(r, &p, 1, r->obs_bytes, who)) != DR3_OK) return st;
    r->pending = p;
    /* One block for both lists and both position maps. */
    size_t n4;
    if (!dr3i_mul(r->cap, 4 * sizeof(uint32_t), &n4))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: capacity overflows", who);
    if ((st = own_array(r, &p, 1, n4, who)) != DR3_OK) return st;
    uint32_t *u = p;
    r->set[0] = u;
    r->set[1] = u + r->cap;
    r->pos[0] = u + 2 * r->cap;
    r->pos[1] = u + 3 * r->cap;
    for (size_t i = 0; i < 2 * r->cap; i++) r->pos[0][i] = NOT_IN;
    return DR3_OK;
}

dr3_status dr3_replay_create(dr3_replay **out, const dr3_replay_options *opts) {
    static const char *who = "dr3_replay_create";
    if (out == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out is NULL", who);
    *out = NULL;
    if (opts == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts is NULL", who);
    dr3_status st = dr3i_runtime_ensure();
    if (st != DR3_OK) return st;
    dr3_replay_options o;
    dr3i_alloc alloc;
    if ((st = dr3i_replay_opts(&o, &alloc, opts, who)) != DR3_OK) return st;
    if (o.capacity < 2 || o.capacity > DR3I_REPLAY_MAX_ROWS)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->capacity %zu is not in [2, 2^32-2]",
                         who, o.capacity);
    if (o.obs_dim == 0) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->obs_dim is 0", who);
    if (o.action_kind == DR3_ACTION_DISCRETE && o.num_actions == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->num_actions is 0", who);
    if (o.action_kind == DR3_ACTION_CONTINUOUS && o.action_dim == 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: opts->action_dim is 0", who);
    if (o.action_kind == DR3_ACTION_DISCRETE) o.action_dim = 0;
    dr3_replay *r;
    if ((st = dr3i_replay_new(&r, &o, &alloc, who)) != DR3_OK) return st;
    r->cap = o.capacity;
    if ((st = dr3i_replay_alloc_ring(r, who)) != DR3_OK) {
        dr3_replay_free(r);
        return st;
    }
    *out = r;
    return DR3_OK;
}

void dr3_replay_free(dr3_replay *r) {
    if (r == NULL) return;
    for (size_t i = 0; i < r->n_maps; i++) munmap(r->maps[i].addr, r->maps[i].len);
    for (size_t i = 0; i < r->n_owned; i++) dr3i_free(&r->alloc, r->owned[i]);
    dr3i_alloc a = r->alloc;
    dr3i_free(&a, r);
}

/* ---- row topology ----------------------------------------------------------------------- */

/* The K-1 frames before row p are stored or lie before its episode's start. */
static int history_ok(const dr3_replay *r, size_t p) {
    size_t q = p;
    for (size_t i = 1; i < r->o.frame_stack; i++) {
        if (r->flags[q] & DR3I_ROW_START) return 1;
        if (dr3i_lpos(r, q) == 0) return 0;
        q = dr3i_prev_slot(r, q);
    }
    return 1;
}

enum { S_ZERO, S_ROW, S_NEXTOBS };
enum { A_NONE, A_ROW, A_NEXT };

typedef struct tinfo {
    size_t k;
    double ret, disc;
    int done;
    int s_kind;
    size_t s_row;
    int a_kind;
    size_t a_row;
} tinfo;

/* Classifies row p as the start of an n-step transition: 0 not sampleable, bit 0 set if
 * sampleable, bit 1 set if also a' exists or the discount is 0. Fills *ti when sampleable. */
static unsigned classify(const dr3_replay *r, size_t p, tinfo *ti) {
    if (!dr3i_stored(r, p)) return 0;
    if (r->flags[p] & (DR3I_ROW_FINAL | DR3I_ROW_NOSAMPLE)) return 0;
    if (!history_ok(r, p)) return 0;
    const double gamma = (double)r->o.gamma;
    double ret = 0.0, g = 1.0;
    size_t q = p, q2;
    for (size_t j = 0;; j++) {
        uint8_t f = r->flags[q];
        ret += g * (double)r->rew[q];
        g *= gamma;
        if (f & DR3I_ROW_END) {
            ti->k = j + 1;
            ti->done = (f & DR3I_ROW_TERM) != 0;
            if (dr3i_next_in_ep(r, q, &q2)) {
                ti->s_kind = S_ROW;
                ti->s_row = q2;
            } else if (r->next_obs != NULL) {
                ti->s_kind = S_NEXTOBS;
                ti->s_row = q;
            } else {
                if (!ti->done) return 0; /* truncated without s_T: cannot bootstrap */
                ti->s_kind = S_ZERO;
                ti->s_row = q;
            }
            if (r->next_act_i != NULL || r->next_act_f != NULL) {
                ti->a_kind = A_NEXT;
                ti->a_row = q;
            } else {
                ti->a_kind = A_NONE;
                ti->a_row = 0;
            }
            break;
        }
        if (!dr3i_next_in_ep(r, q, &q2))
            return 0; /* the episode continues beyond the stored rows */
        if (j + 1 == r->o.n_step) {
            ti->k = j + 1;
            ti->done = 0;
            ti->s_kind = S_ROW;
            ti->s_row = q2;
            if (r->next_act_i != NULL || r->next_act_f != NULL) {
                ti->a_kind = A_NEXT;
                ti->a_row = q;
            } else if (!(r->flags[q2] & DR3I_ROW_FINAL)) {
                ti->a_kind = A_ROW;
                ti->a_row = q2;
            } else {
                ti->a_kind = A_NONE;
                ti->a_row = 0;
            }
            break;
        }
        if (r->flags[q2] & DR3I_ROW_FINAL) return 0; /* inconsistent rows: never sample */
        q = q2;
    }
    ti->ret = ret;
    ti->disc = ti->done ? 0.0 : g;
    return 1u | ((ti->done || ti->a_kind != A_NONE) ? 2u : 0u);
}

/* ---- sampling sets ---------------------------------------------------------------------- */

static void set_put(dr3_replay *r, int s, size_t q, int want) {
    uint32_t *pos = r->pos[s], *list = r->set[s];
    if (want && pos[q] == NOT_IN) {
        pos[q] = (uint32_t)r->set_n[s];
        list[r->set_n[s]++] = (uint32_t)q;
    } else if (!want && pos[q] != NOT_IN) {
        uint32_t at = pos[q], last = list[--r->set_n[s]];
        list[at] = last;
        pos[last] = at;
        pos[q] = NOT_IN;
    }
}

static void refresh(dr3_replay *r, size_t q) {
    tinfo ti;
    unsigned c = classify(r, q, &ti);
    set_put(r, 0, q, (c & 1u) != 0);
    set_put(r, 1, q, (c & 2u) != 0);
}

dr3_status dr3i_replay_build_sets(dr3_replay *r, const char *who) {
    size_t bytes;
    if (!dr3i_mul(r->cap, 2 * sizeof(uint32_t), &bytes))
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: row count overflows", who);
    uint32_t *u = dr3i_replay_own(r, bytes, who);
    if (u == NULL) return DR3_ERR_NOMEM;
    r->set[0] = u;
    r->set[1] = u + r->cap;
    r->pos[0] = r->pos[1] = NULL;
    r->set_n[0] = r->set_n[1] = 0;
    size_t base = dr3i_oldest(r);
    for (size_t l = 0; l < r->size; l++) {
        size_t q = (base + l) % r->cap;
        tinfo ti;
        unsigned c = classify(r, q, &ti);
        if (c & 1u) r->set[0][r->set_n[0]++] = (uint32_t)q;
        if (c & 2u) r->set[1][r->set_n[1]++] = (uint32_t)q;
    }
    return DR3_OK;
}

/* ---- adding ------------------------------------------------------------------------------ */

void dr3i_replay_put_row(dr3_replay *r, const void *obs, const void *action, float reward,
                         uint8_t flags) {
    size_t w = r->cursor;
    uint8_t *dst = r->obs + w * r->obs_bytes;
    if (obs != NULL)
        memcpy(dst, obs, r->obs_bytes);
    else
        memset(dst, 0, r->obs_bytes);
    if (r->act_i != NULL)
        r->act_i[w] = action != NULL ? *(const int32_t *)action : 0;
    else if (action != NULL)
        memcpy(r->act_f + w * r->act_width, action, r->act_width * sizeof(float));
    else
        memset(r->act_f + w * r->act_width, 0, r->act_width * sizeof(float));
    r->rew[w] = reward;
    r->flags[w] = flags;
    int was_full = r->size == r->cap;
    r->cursor = w + 1 == r->cap ? 0 : w + 1;
    if (!was_full) r->size++;
    /* Rows whose n-step window may now reach the new row, and (after an overwrite) rows that
     * lost the history of their frame stack. */
    size_t q = w;
    for (size_t d = 0; d <= r->o.n_step && d < r->cap; d++) {
        refresh(r, q);
        q = dr3i_prev_slot(r, q);
    }
    if (was_full) {
        q = w;
        for (size_t d = 1; d < r->o.frame_stack && d < r->cap; d++) {
            q = q + 1 == r->cap ? 0 : q + 1;
            refresh(r, q);
        }
    }
}

static dr3_status check_obs(const dr3_replay *r, const void *obs, const char *what,
                            const char *who) {
    if (r->o.obs_dtype == DR3_DTYPE_F32 && !dr3i_all_finite(obs, r->o.obs_dim, 1))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s contains NaN or Inf", who, what);
    return DR3_OK;
}

static dr3_status check_action(const dr3_replay *r, const void *action, const char *what,
                               const char *who) {
    if (r->o.action_kind == DR3_ACTION_DISCRETE) {
        int32_t a = *(const int32_t *)action;
        if (a < 0 || (size_t)a >= r->o.num_actions)
            return dr3i_fail(DR3_ERR_RANGE, "%s: %s %d is not in [0, %zu)", who, what, (int)a,
                             r->o.num_actions);
    } else if (!dr3i_all_finite(action, r->act_width, 1)) {
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s contains NaN or Inf", who, what);
    }
    return DR3_OK;
}

static dr3_status check_flags(int terminal, int truncated, const char *who) {
    if ((terminal != 0 && terminal != 1) || (truncated != 0 && truncated != 1))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: terminal (%d) and truncated (%d) must be 0 or 1", who, terminal,
                         truncated);
    return DR3_OK;
}

dr3_status dr3_replay_add(dr3_replay *r, const void *obs, const void *action, float reward,
                          int terminal, int truncated, const void *next_obs) {
    static const char *who = "dr3_replay_add";
    if (r == NULL || obs == NULL || action == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         r == NULL     ? "r"
                         : obs == NULL ? "obs"
                                       : "action");
    if (r->read_only)
        return dr3i_fail(DR3_ERR_STATE, "%s: the handle is a read-only dataset", who);
    dr3_status st;
    if ((st = check_flags(terminal, truncated, who)) != DR3_OK) return st;
    if (truncated && !terminal && next_obs == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: next_obs is NULL at a truncation (needed to bootstrap)", who);
    if ((st = check_obs(r, obs, "obs", who)) != DR3_OK) return st;
    if (next_obs != NULL && (st = check_obs(r, next_obs, "next_obs", who)) != DR3_OK) return st;
    if ((st = check_action(r, action, "action", who)) != DR3_OK) return st;
    if (!isfinite(reward))
        return dr3i_fail(DR3_ERR_NONFINITE, "%s: reward is %g", who, (double)reward);
    if (r->has_pending && memcmp(obs, r->pending, r->obs_bytes) != 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: obs differs from the next_obs of the previous add (end the "
                         "episode with terminal or truncated first)",
                         who);
    uint8_t f = (uint8_t)((r->episode_open ? 0 : DR3I_ROW_START) |
                          (terminal ? DR3I_ROW_TERM : 0) | (truncated ? DR3I_ROW_TRUNC : 0));
    dr3i_replay_put_row(r, obs, action, reward, f);
    if (terminal || truncated) {
        r->episode_open = 0;
        r->has_pending = 0;
        if (next_obs != NULL) dr3i_replay_put_row(r, next_obs, NULL, 0.0f, DR3I_ROW_FINAL);
    } else {
        r->episode_open = 1;
        r->has_pending = next_obs != NULL;
        if (next_obs != NULL) memcpy(r->pending, next_obs, r->obs_bytes);
    }
    return DR3_OK;
}

dr3_status dr3i_replay_check_episode(const dr3_replay *r, size_t steps, const void *obs,
                                     const void *actions, const float *rewards, int terminal,
                                     int truncated, const char *who) {
    if (obs == NULL || actions == NULL || rewards == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         obs == NULL       ? "obs"
                         : actions == NULL ? "actions"
                                           : "rewards");
    if (steps == 0) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: steps is 0", who);
    dr3_status st;
    if ((st = check_flags(terminal, truncated, who)) != DR3_OK) return st;
    size_t n_obs;
    if (!dr3i_mul(steps + 1, r->o.obs_dim, &n_obs) || steps + 1 == 0)
        return dr3i_fail(DR3_ERR_OVERFLOW, "%s: steps %zu overflows", who, steps);
    if (r->o.obs_dtype == DR3_DTYPE_F32) {
        const float *o = obs;
        for (size_t t = 0; t <= steps; t++)
            if (!dr3i_all_finite(o + t * r->o.obs_dim, r->o.obs_dim, 1))
                return dr3i_fail(DR3_ERR_NONFINITE, "%s: obs[%zu] contains NaN or Inf", who, t);
    }
    for (size_t t = 0; t < steps; t++) {
        const void *a = r->act_i != NULL
                            ? (const void *)((const int32_t *)actions + t)
                            : (const void *)((const float *)actions + t * r->act_width);
        if (r->o.action_kind == DR3_ACTION_DISCRETE) {
            int32_t v = *(const int32_t *)a;
            if (v < 0 || (size_t)v >= r->o.num_actions)
                return dr3i_fail(DR3_ERR_RANGE, "%s: actions[%zu] = %d is not in [0, %zu)", who,
                                 t, (int)v, r->o.num_actions);
        } else if (!dr3i_all_finite(a, r->act_width, 1)) {
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: actions[%zu] contains NaN or Inf", who, t);
        }
        if (!isfinite(rewards[t]))
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: rewards[%zu] is %g", who, t,
                             (double)rewards[t]);
    }
    if (r->has_pending && memcmp(obs, r->pending, r->obs_bytes) != 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: obs[0] differs from the next_obs of the previous add", who);
    return DR3_OK;
}

void dr3i_replay_put_episode(dr3_replay *r, size_t steps, const void *obs, const void *actions,
                             const float *rewards, int terminal, int truncated) {
    const uint8_t *o = obs;
    for (size_t t = 0; t < steps; t++) {
        const void *a = r->act_i != NULL
                            ? (const void *)((const int32_t *)actions + t)
                            : (const void *)((const float *)actions + t * r->act_width);
        uint8_t f = (uint8_t)(r->episode_open ? 0 : DR3I_ROW_START);
        if (t + 1 == steps)
            f |= (uint8_t)((terminal ? DR3I_ROW_TERM : 0) | (truncated ? DR3I_ROW_TRUNC : 0));
        dr3i_replay_put_row(r, o + t * r->obs_bytes, a, rewards[t], f);
        r->episode_open = 1;
    }
    const uint8_t *last = o + steps * r->obs_bytes;
    if (terminal || truncated) {
        dr3i_replay_put_row(r, last, NULL, 0.0f, DR3I_ROW_FINAL);
        r->episode_open = 0;
        r->has_pending = 0;
    } else {
        memcpy(r->pending, last, r->obs_bytes);
        r->has_pending = 1;
    }
}

dr3_status dr3_replay_add_episode(dr3_replay *r, size_t steps, const void *obs,
                                  const void *actions, const float *rewards, int terminal,
                                  int truncated) {
    static const char *who = "dr3_replay_add_episode";
    if (r == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: r is NULL", who);
    if (r->read_only)
        return dr3i_fail(DR3_ERR_STATE, "%s: the handle is a read-only dataset", who);
    dr3_status st =
        dr3i_replay_check_episode(r, steps, obs, actions, rewards, terminal, truncated, who);
    if (st != DR3_OK) return st;
    dr3i_replay_put_episode(r, steps, obs, actions, rewards, terminal, truncated);
    return DR3_OK;
}

/* ---- batches ---------------------------------------------------------------------------- */

static dr3_status read_batch(const dr3_replay *r, const dr3_replay_batch *in,
                             dr3_replay_batch *b, const char *who) {
    dr3_status st = dr3i_struct_in(b, in, &dr3i_desc_dr3_replay_batch, false, who, "out");
    if (st != DR3_OK) return st;
    const size_t sd = r->state_dim, ad = r->act_width;
    const int u8 = r->o.obs_dtype == DR3_DTYPE_U8;
    const int disc = r->o.action_kind == DR3_ACTION_DISCRETE;
#define LD_CHECK(ptr, ld, width)                                                               \
    if (b->ptr != NULL && b->ld < (width))                                                     \
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: out->" #ld " (%zu) < row width %zu", who,   \
                         b->ld, (size_t)(width));
    LD_CHECK(obs, ld_obs, sd)
    LD_CHECK(next_obs, ld_next_obs, sd)
    LD_CHECK(obs_u8, ld_obs_u8, sd)
    LD_CHECK(next_obs_u8, ld_next_obs_u8, sd)
    LD_CHECK(actions_f, ld_actions_f, ad)
    LD_CHECK(next_actions_f, ld_next_actions_f, ad)
#undef LD_CHECK
    if (!u8 && (b->obs_u8 != NULL || b->next_obs_u8 != NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: out->obs_u8/next_obs_u8 need uint8 observations", who);
    if (!disc && (b->actions != NULL || b->next_actions != NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: out->actions/next_actions are for discrete actions; use "
                         "actions_f/next_actions_f",
                         who);
    if (disc && (b->actions_f != NULL || b->next_actions_f != NULL))
        return dr3i_fail(DR3_ERR_INVALID_ARG,
                         "%s: out->actions_f/next_actions_f are for continuous actions", who);
    return DR3_OK;
}

/* Writes the frame stack ending with observation `last` (NULL: zeros), whose previous
 * frames are row h and before (has_h: h is valid), into float and/or uint8 rows. */
static void put_state(const dr3_replay *r, const uint8_t *last, int has_h, size_t h, float *df,
                      uint8_t *du) {
    const size_t K = r->o.frame_stack, d = r->o.obs_dim, ob = r->obs_bytes;
    /* x / 255 as documented: the correctly rounded quotient, the same bits the networks'
     * uint8 input layer computes (x · (1/255) differs from it in the last bit for some x) */
    const bool unit = r->o.u8_scale == DR3_U8_SCALE_UNIT;
    for (size_t f = K; f-- > 0;) {
        const uint8_t *src;
        if (f == K - 1) {
            src = last;
        } else if (has_h) {
            src = r->obs + h * ob;
            if ((r->flags[h] & DR3I_ROW_START) || dr3i_lpos(r, h) == 0)
                has_h = 0;
            else
                h = dr3i_prev_slot(r, h);
        } else {
            src = NULL;
        }
        if (df != NULL) {
            float *o = df + f * d;
            if (src == NULL)
                memset(o, 0, d * sizeof(float));
            else if (r->o.obs_dtype == DR3_DTYPE_F32)
                memcpy(o, src, d * sizeof(float));
            else if (unit)
                for (size_t i = 0; i < d; i++) o[i] = (float)src[i] / 255.0f;
            else
                for (size_t i = 0; i < d; i++) o[i] = (float)src[i];
        }
        if (du != NULL) {
            if (src == NULL)
                memset(du + f * d, 0, d);
            else
                memcpy(du + f * d, src, d);
        }
    }
}

static void put_transition(const dr3_replay *r, size_t p, const tinfo *ti,
                           const dr3_replay_batch *b, size_t i) {
    const size_t ad = r->act_width;
    if (b->obs != NULL || b->obs_u8 != NULL) {
        int has_h = !(r->flags[p] & DR3I_ROW_START) && dr3i_lpos(r, p) > 0;
        put_state(r, r->obs + p * r->obs_bytes, has_h, dr3i_prev_slot(r, p),
                  b->obs ? b->obs + i * b->ld_obs : NULL,
                  b->obs_u8 ? b->obs_u8 + i * b->ld_obs_u8 : NULL);
    }
    if (b->next_obs != NULL || b->next_obs_u8 != NULL) {
        float *df = b->next_obs ? b->next_obs + i * b->ld_next_obs : NULL;
        uint8_t *du = b->next_obs_u8 ? b->next_obs_u8 + i * b->ld_next_obs_u8 : NULL;
        if (ti->s_kind == S_ROW) {
            size_t q = ti->s_row;
            int has_h = !(r->flags[q] & DR3I_ROW_START) && dr3i_lpos(r, q) > 0;
            put_state(r, r->obs + q * r->obs_bytes, has_h, dr3i_prev_slot(r, q), df, du);
        } else if (ti->s_kind == S_NEXTOBS) {
            put_state(r, r->next_obs + ti->s_row * r->obs_bytes, 1, ti->s_row, df, du);
        } else {
            /* terminal without a final observation: a zero frame after s_t's frames, as
             * Dopamine's padding does */
            put_state(r, NULL, 1, ti->s_row, df, du);
        }
    }
    if (b->actions != NULL) b->actions[i] = r->act_i[p];
    if (b->actions_f != NULL)
        memcpy(b->actions_f + i * b->ld_actions_f, r->act_f + p * ad, ad * sizeof(float));
    if (b->next_actions != NULL) {
        int32_t a = 0;
        if (ti->a_kind == A_ROW) a = r->act_i[ti->a_row];
        if (ti->a_kind == A_NEXT) a = r->next_act_i[ti->a_row];
        b->next_actions[i] = a;
    }
    if (b->next_actions_f != NULL) {
        float *o = b->next_actions_f + i * b->ld_next_actions_f;
        if (ti->a_kind == A_ROW)
            memcpy(o, r->act_f + ti->a_row * ad, ad * sizeof(float));
        else if (ti->a_kind == A_NEXT)
            memcpy(o, r->next_act_f + ti->a_row * ad, ad * sizeof(float));
        else
            memset(o, 0, ad * sizeof(float));
    }
    if (b->next_action_valid != NULL) b->next_action_valid[i] = ti->a_kind != A_NONE;
    if (b->rewards != NULL) b->rewards[i] = (float)ti->ret;
    if (b->discounts != NULL) b->discounts[i] = (float)ti->disc;
    if (b->terminals != NULL) b->terminals[i] = (uint8_t)ti->done;
    if (b->steps != NULL) b->steps[i] = (int32_t)ti->k;
    if (b->indices != NULL) b->indices[i] = p;
}

dr3_status dr3_replay_sample(const dr3_replay *r, dr3_rng *rng, size_t n,
                             dr3_replay_batch *out) {
    static const char *who = "dr3_replay_sample";
    if (r == NULL || rng == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, r == NULL ? "r" : "rng");
    dr3_replay_batch b;
    dr3_status st = read_batch(r, out, &b, who);
    if (st != DR3_OK) return st;
    const int s = b.need_next_action ? 1 : 0;
    if (n > 0 && r->set_n[s] == 0)
        return dr3i_fail(DR3_ERR_STATE, "%s: no sampleable transition%s (%zu rows stored)", who,
                         s ? " with a next action" : "", r->size);
    const size_t lo = r->shard_n[s] ? r->shard_lo[s] : 0,
                 m = r->shard_n[s] ? r->shard_n[s] : r->set_n[s];
    for (size_t i = 0; i < n; i++) {
        size_t p = r->set[s][lo + dr3_rng_below(rng, m)];
        tinfo ti;
        classify(r, p, &ti);
        put_transition(r, p, &ti, &b, i);
    }
    return DR3_OK;
}

dr3_status dr3_replay_get(const dr3_replay *r, const size_t *indices, size_t n,
                          dr3_replay_batch *out) {
    static const char *who = "dr3_replay_get";
    if (r == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: r is NULL", who);
    if (indices == NULL && n > 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: indices is NULL", who);
    dr3_replay_batch b;
    dr3_status st = read_batch(r, out, &b, who);
    if (st != DR3_OK) return st;
    const unsigned need = b.need_next_action ? 2u : 1u;
    for (size_t i = 0; i < n; i++) {
        tinfo ti;
        if (indices[i] >= r->cap || !(classify(r, indices[i], &ti) & need))
            return dr3i_fail(DR3_ERR_RANGE, "%s: indices[%zu] = %zu is not a sampleable row%s",
                             who, i, indices[i], need == 2u ? " with a next action" : "");
    }
    for (size_t i = 0; i < n; i++) {
        tinfo ti;
        classify(r, indices[i], &ti);
        put_transition(r, indices[i], &ti, &b, i);
    }
    return DR3_OK;
}

/* ---- queries ---------------------------------------------------------------------------- */

size_t dr3_replay_size(const dr3_replay *r) { return r ? r->size : 0; }
size_t dr3_replay_capacity(const dr3_replay *r) { return r ? r->cap : 0; }
size_t dr3_replay_state_dim(const dr3_replay *r) { return r ? r->state_dim : 0; }
int dr3_replay_is_read_only(const dr3_replay *r) { return r ? r->read_only : 0; }

size_t dr3_replay_valid_count(const dr3_replay *r, int need_next_action) {
    return r ? r->set_n[need_next_action ? 1 : 0] : 0;
}

dr3_status dr3_replay_valid_indices(const dr3_replay *r, int need_next_action, size_t *out,
                                    size_t max, size_t *count) {
    static const char *who = "dr3_replay_valid_indices";
    if (r == NULL || count == NULL || (out == NULL && max > 0))
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         r == NULL       ? "r"
                         : count == NULL ? "count"
                                         : "out");
    const int s = need_next_action ? 1 : 0;
    size_t k = 0;
    if (r->pos[s] == NULL) {
        /* read-only: the list was built oldest first */
        for (; k < r->set_n[s] && k < max; k++) out[k] = r->set[s][k];
    } else {
        size_t base = dr3i_oldest(r);
        for (size_t l = 0; l < r->size && k < max; l++) {
            size_t q = (base + l) % r->cap;
            if (r->pos[s][q] != NOT_IN) out[k++] = q;
        }
    }
    *count = r->set_n[s];
    return DR3_OK;
}

dr3_status dr3_replay_set_shard(dr3_replay *r, size_t index, size_t count) {
    static const char *who = "dr3_replay_set_shard";
    if (r == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: r is NULL", who);
    if (count == 0 || index >= count)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: shard %zu of %zu does not exist", who, index,
                         count);
    if (!r->read_only)
        return dr3i_fail(DR3_ERR_STATE,
                         "%s: only read-only datasets can be sharded (a replay buffer's "
                         "stored order changes as it fills)",
                         who);
    size_t lo[2], m[2];
    for (int s = 0; s < 2; s++) {
        /* [floor(index·M/count), floor((index+1)·M/count)): sizes differ by at most one;
         * the products stay far below SIZE_MAX (M < 2^32 slots, count <= M checked) */
        size_t M = r->set_n[s];
        if (count > 1 && M < count && (s == 0 || M > 0))
            return dr3i_fail(DR3_ERR_RANGE,
                             "%s: %zu shards of %zu sampleable transitions%s leave some empty",
                             who, count, M, s ? " with a next action" : "");
        lo[s] = count > 1 ? (size_t)((uint64_t)index * M / count) : 0;
        m[s] = count > 1 ? (size_t)((uint64_t)(index + 1) * M / count) - lo[s] : 0;
    }
    for (int s = 0; s < 2; s++) {
        r->shard_lo[s] = lo[s];
        r->shard_n[s] = m[s];
    }
    return DR3_OK;
}

dr3_status dr3_replay_get_options(dr3_replay_options *out, const dr3_replay *r) {
    static const char *who = "dr3_replay_get_options";
    if (r == NULL || out == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, r == NULL ? "r" : "out");
    dr3_replay_options o = r->o;
    o.capacity = r->cap;
    return dr3i_struct_out(out, &o, &dr3i_desc_dr3_replay_options, who, "out");
}

DR3I_ENUM_NAMES(dr3_dtype, dr3_dtype, "f32", "u8")
DR3I_ENUM_NAMES(dr3_action_kind, dr3_action_kind, "discrete", "continuous")
DR3I_ENUM_NAMES(dr3_u8_scale, dr3_u8_scale, "unit", "raw")
