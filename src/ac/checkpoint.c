/* Actor-critic checkpoints (dr3/ac.h; format in docs/actor-critic.md): one little-endian
 * file, written atomically (temp + fsync + rename), CRC-32C over everything before the
 * trailing checksum, validated in full before a learner is built from it. A load builds a
 * complete new learner first and swaps it in only when everything succeeded. */
#include "ac_internal.h"

#include "../core/checksum.h"
#include "../io/atomic_file.h"

#include <string.h>

static const char MAGIC[8] = {'D', 'R', '3', 'A', 'C', 'L', 'R', 'N'};
enum { AC_CKPT_VERSION = 1 };
/* Largest file accepted (a sanity bound before allocating the read buffer). */
#define AC_CKPT_MAX ((uint64_t)1 << 34)

/* ---- a growable byte buffer (saving and opening are not training steps) ---- */
typedef struct buf {
    const dr3i_alloc *a;
    uint8_t *p;
    size_t len, cap;
    dr3_status st;
} buf;

static void put(buf *b, const void *x, size_t n) {
    if (b->st != DR3_OK) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = dr3i_calloc(b->a, cap);
        if (q == NULL) {
            b->st = dr3i_fail(DR3_ERR_NOMEM, "dr3_ac_learner_save: out of memory");
            return;
        }
        if (b->len) memcpy(q, b->p, b->len);
        dr3i_free(b->a, b->p);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, x, n);
    b->len += n;
}
static void put_u64(buf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_f32(buf *b, float v) { put(b, &v, sizeof v); }

/* ---- a bounds-checked reader over the file's bytes ---- */
typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    int bad;
} rd;

static void get(rd *r, void *x, size_t n) {
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        memset(x, 0, n);
        return;
    }
    memcpy(x, r->p + r->off, n);
    r->off += n;
}
static uint64_t get_u64(rd *r) {
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}
static float get_f32(rd *r) {
    float v;
    get(r, &v, sizeof v);
    return v;
}

/* Everything of a learner in file order; the options first. */
static void write_all(buf *b, const dr3_ac_learner *l) {
    const dr3_ac_options *o = &l->o;
    put(b, MAGIC, sizeof MAGIC);
    put_u64(b, AC_CKPT_VERSION);
    const uint64_t ints[] = {(uint64_t)o->algo,
                             o->obs_dim,
                             o->action_dim,
                             o->critic_num_hidden,
                             o->actor_num_hidden,
                             (uint64_t)o->activation,
                             o->batch_size,
                             (uint64_t)o->twin_critics,
                             (uint64_t)o->auto_alpha,
                             (uint64_t)o->backup_entropy,
                             (uint64_t)o->cql_alpha_mode,
                             o->cql_num_actions,
                             o->policy_delay,
                             o->seed};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) put_u64(b, ints[i]);
    const float fl[] = {o->gamma,
                        o->tau,
                        o->critic_lr,
                        o->actor_lr,
                        o->alpha_lr,
                        o->init_alpha,
                        o->target_entropy_per_dim,
                        o->log_std_min,
                        o->log_std_max,
                        o->cql_alpha,
                        o->cql_target_gap,
                        o->cql_init_alpha,
                        o->cql_temperature,
                        o->policy_noise,
                        o->noise_clip,
                        o->bc_alpha,
                        o->dr3_coef};
    for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) put_f32(b, fl[i]);
    for (size_t i = 0; i < o->critic_num_hidden; i++) put_u64(b, o->critic_hidden[i]);
    for (size_t i = 0; i < o->actor_num_hidden; i++) put_u64(b, o->actor_hidden[i]);
    put(b, l->low, l->adim * sizeof(float));
    put(b, l->high, l->adim * sizeof(float));
    /* state */
    put_u64(b, l->steps);
    put(b, l->rng.s, sizeof l->rng.s);
    put(b, l->act_rng.s, sizeof l->act_rng.s);
    put_f32(b, l->log_alpha);
    put_f32(b, l->log_cql_alpha);
    dr3_net *nets[] = {l->q[0], l->q[1], l->qt[0], l->qt[1], l->pi, l->pit};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
        if (nets[i] == NULL) continue;
        size_t c = dr3_net_param_count(nets[i]);
        put_u64(b, c);
        put(b, dr3_net_params(nets[i]), c * sizeof(float));
    }
    dr3_optim *opts[] = {l->q_opt[0], l->q_opt[1], l->pi_opt, l->alpha_opt, l->cql_opt};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (opts[i] == NULL) continue;
        size_t len = 0;
        if (b->st == DR3_OK) b->st = dr3_optim_state_size(opts[i], &len);
        put_u64(b, len);
        if (b->st != DR3_OK) return;
        size_t at = b->len;
        /* reserve, then let the optimizer write its bytes in place */
        static const uint8_t zero[256];
        for (size_t left = len; left > 0;) {
            size_t k = left < sizeof zero ? left : sizeof zero;
            put(b, zero, k);
            left -= k;
        }
        if (b->st == DR3_OK) b->st = dr3_optim_state_save(opts[i], b->p + at, len);
    }
}

dr3_status dr3i_ac_serialize(const dr3_ac_learner *l, uint8_t **out, size_t *len) {
    buf b = {&l->alloc, NULL, 0, 0, DR3_OK};
    write_all(&b, l);
    uint32_t crc = b.st == DR3_OK ? dr3i_crc32c(0, b.p, b.len) : 0;
    put(&b, &crc, sizeof crc);
    if (b.st != DR3_OK) {
        dr3i_free(&l->alloc, b.p);
        return b.st;
    }
    *out = b.p;
    *len = b.len;
    return DR3_OK;
}

dr3_status dr3_ac_learner_save(const dr3_ac_learner *l, const char *path) {
    static const char who[] = "dr3_ac_learner_save";
    if (l == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "path");
    buf b = {&l->alloc, NULL, 0, 0, DR3_OK};
    dr3_status st = dr3i_ac_serialize(l, &b.p, &b.len);
    if (st == DR3_OK) {
        dr3i_atomic_file f;
        if ((st = dr3i_atomic_open_with(&f, path, &l->alloc, who)) == DR3_OK) {
            if ((st = dr3i_atomic_write(&f, b.p, b.len)) == DR3_OK)
                st = dr3i_atomic_commit(&f);
            else
                dr3i_atomic_abort(&f);
        }
    }
    dr3i_free(&l->alloc, b.p);
    return st;
}

static dr3_status bad(const char *who, const char *path, const char *what) {
    return dr3i_fail(DR3_ERR_FORMAT, "%s: %s: %s", who, path, what);
}

/* Parses the file's bytes into a new learner. */
dr3_status dr3i_ac_parse(dr3_ac_learner **out, const uint8_t *p, size_t len,
                         const dr3_ac_options *runtime, const dr3i_alloc *a, const char *path,
                         const char *who) {
    if (len < sizeof MAGIC + 8 + 4 || memcmp(p, MAGIC, sizeof MAGIC) != 0)
        return bad(who, path, "not an actor-critic checkpoint (bad magic)");
    uint32_t crc;
    memcpy(&crc, p + len - 4, 4);
    if (dr3i_crc32c(0, p, len - 4) != crc)
        return dr3i_fail(DR3_ERR_CHECKSUM, "%s: %s: checksum mismatch (corrupted file)", who,
                         path);
    rd r = {p, len - 4, sizeof MAGIC, 0};
    uint64_t version = get_u64(&r);
    if (version != AC_CKPT_VERSION)
        return dr3i_fail(DR3_ERR_VERSION, "%s: %s: checkpoint version %llu not supported", who,
                         path, (unsigned long long)version);
    dr3_ac_options o = DR3_AC_OPTIONS_INIT;
    uint64_t v[14];
    for (size_t i = 0; i < 14; i++) v[i] = get_u64(&r);
    if (v[3] > DR3I_AC_MAX_HIDDEN || v[4] > DR3I_AC_MAX_HIDDEN || v[2] > (1u << 16) ||
        v[0] > 3 || v[5] > 4 || v[10] > 1)
        return bad(who, path, "options out of range");
    o.algo = (dr3_ac_algo)v[0];
    o.obs_dim = v[1];
    o.action_dim = v[2];
    o.critic_num_hidden = v[3];
    o.actor_num_hidden = v[4];
    o.activation = (dr3_activation)v[5];
    o.batch_size = v[6];
    o.twin_critics = (int)v[7];
    o.auto_alpha = (int)v[8];
    o.backup_entropy = (int)v[9];
    o.cql_alpha_mode = (dr3_cql_alpha_mode)v[10];
    o.cql_num_actions = v[11];
    o.policy_delay = v[12];
    o.seed = v[13];
    float *fl[] = {&o.gamma,
                   &o.tau,
                   &o.critic_lr,
                   &o.actor_lr,
                   &o.alpha_lr,
                   &o.init_alpha,
                   &o.target_entropy_per_dim,
                   &o.log_std_min,
                   &o.log_std_max,
                   &o.cql_alpha,
                   &o.cql_target_gap,
                   &o.cql_init_alpha,
                   &o.cql_temperature,
                   &o.policy_noise,
                   &o.noise_clip,
                   &o.bc_alpha,
                   &o.dr3_coef};
    for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) *fl[i] = get_f32(&r);
    size_t ch[DR3I_AC_MAX_HIDDEN], ah[DR3I_AC_MAX_HIDDEN];
    for (size_t i = 0; i < o.critic_num_hidden; i++) {
        uint64_t w = get_u64(&r);
        if (w == 0 || w > (1u << 20)) return bad(who, path, "bad critic width");
        ch[i] = (size_t)w;
    }
    for (size_t i = 0; i < o.actor_num_hidden; i++) {
        uint64_t w = get_u64(&r);
        if (w == 0 || w > (1u << 20)) return bad(who, path, "bad actor width");
        ah[i] = (size_t)w;
    }
    o.critic_hidden = ch;
    o.actor_hidden = ah;
    /* zero hidden layers with a non-NULL list means "linear" (not the default widths) */
    if (r.bad || o.action_dim == 0 || r.len - r.off < 2 * o.action_dim * sizeof(float))
        return bad(who, path, "truncated options");
    float *bounds = dr3i_calloc(a, 2 * o.action_dim * sizeof(float));
    if (bounds == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    get(&r, bounds, 2 * o.action_dim * sizeof(float));
    o.action_low = bounds;
    o.action_high = bounds + o.action_dim;
    o.threads = runtime ? runtime->threads : 1;
    o.allocator = runtime ? runtime->allocator : NULL;
    dr3_ac_learner *l = NULL;
    dr3_status st = dr3i_ac_create(&l, &o, who);
    dr3i_free(a, bounds);
    if (st != DR3_OK) return st;
    l->steps = get_u64(&r);
    get(&r, l->rng.s, sizeof l->rng.s);
    get(&r, l->act_rng.s, sizeof l->act_rng.s);
    l->log_alpha = get_f32(&r);
    l->log_cql_alpha = get_f32(&r);
    if (!isfinite(l->log_alpha) || !isfinite(l->log_cql_alpha)) {
        dr3_ac_learner_free(l);
        return bad(who, path, "non-finite temperature");
    }
    dr3_net *nets[] = {l->q[0], l->q[1], l->qt[0], l->qt[1], l->pi, l->pit};
    for (size_t i = 0; i < sizeof nets / sizeof *nets && !r.bad; i++) {
        if (nets[i] == NULL) continue;
        size_t c = dr3_net_param_count(nets[i]);
        if (get_u64(&r) != c) r.bad = 1;
        if (r.bad || r.len - r.off < c * sizeof(float)) {
            r.bad = 1;
            break;
        }
        get(&r, dr3_net_params(nets[i]), c * sizeof(float));
        if (!dr3i_all_finite(dr3_net_params(nets[i]), c, 1)) {
            dr3_ac_learner_free(l);
            return dr3i_fail(DR3_ERR_NONFINITE, "%s: %s: non-finite parameters", who, path);
        }
    }
    dr3_optim *opts[] = {l->q_opt[0], l->q_opt[1], l->pi_opt, l->alpha_opt, l->cql_opt};
    for (size_t i = 0; i < sizeof opts / sizeof *opts && !r.bad; i++) {
        if (opts[i] == NULL) continue;
        uint64_t n = get_u64(&r);
        if (r.bad || n > r.len - r.off) {
            r.bad = 1;
            break;
        }
        if ((st = dr3_optim_state_load(opts[i], p + r.off, (size_t)n)) != DR3_OK) {
            dr3_ac_learner_free(l);
            return st;
        }
        r.off += (size_t)n;
    }
    if (r.bad || r.off != r.len) {
        dr3_ac_learner_free(l);
        return bad(who, path, r.bad ? "truncated state" : "trailing bytes");
    }
    /* a zero rng state is invalid for xoshiro */
    if ((l->rng.s[0] | l->rng.s[1] | l->rng.s[2] | l->rng.s[3]) == 0 ||
        (l->act_rng.s[0] | l->act_rng.s[1] | l->act_rng.s[2] | l->act_rng.s[3]) == 0) {
        dr3_ac_learner_free(l);
        return bad(who, path, "invalid generator state");
    }
    *out = l;
    return DR3_OK;
}

static dr3_status open_file(dr3_ac_learner **out, const char *path,
                            const dr3_ac_options *runtime, const dr3i_alloc *a,
                            const char *who) {
    dr3i_rfile f;
    dr3_status st = dr3i_rfile_open(&f, path, who);
    if (st != DR3_OK) return st;
    if (f.size > AC_CKPT_MAX) {
        dr3i_rfile_close(&f);
        return bad(who, path, "file too large");
    }
    uint8_t *p = dr3i_calloc(a, (size_t)f.size);
    if (p == NULL) {
        dr3i_rfile_close(&f);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    st = dr3i_rfile_read(&f, 0, p, (size_t)f.size);
    dr3i_rfile_close(&f);
    if (st == DR3_OK) st = dr3i_ac_parse(out, p, (size_t)f.size, runtime, a, path, who);
    dr3i_free(a, p);
    return st;
}

dr3_status dr3_ac_learner_open(dr3_ac_learner **out, const char *path,
                               const dr3_ac_options *runtime) {
    static const char who[] = "dr3_ac_learner_open";
    if (out == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, out ? "path" : "out");
    *out = NULL;
    dr3_ac_options rt;
    dr3_status st =
        dr3i_struct_in(&rt, runtime, &dr3i_desc_dr3_ac_options, true, who, "runtime");
    if (st != DR3_OK) return st;
    if (rt.threads < 1) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: threads must be >= 1", who);
    dr3i_alloc a;
    if ((st = dr3i_alloc_init(&a, rt.allocator, who)) != DR3_OK) return st;
    return open_file(out, path, &rt, &a, who);
}

dr3_status dr3_ac_learner_load(dr3_ac_learner *l, const char *path) {
    static const char who[] = "dr3_ac_learner_load";
    if (l == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, l ? "path" : "learner");
    dr3_ac_options rt = DR3_AC_OPTIONS_INIT;
    rt.threads = l->o.threads;
    rt.allocator = &l->hooks;
    dr3_ac_learner *t = NULL;
    dr3_status st = open_file(&t, path, &rt, &l->alloc, who);
    if (st != DR3_OK) return st;
    const dr3_ac_options *a = &l->o, *b = &t->o;
    bool same =
        a->algo == b->algo && a->obs_dim == b->obs_dim && a->action_dim == b->action_dim &&
        a->twin_critics == b->twin_critics && a->activation == b->activation &&
        a->batch_size == b->batch_size && a->cql_num_actions == b->cql_num_actions &&
        a->critic_num_hidden == b->critic_num_hidden &&
        a->actor_num_hidden == b->actor_num_hidden &&
        memcmp(l->critic_hidden, t->critic_hidden, a->critic_num_hidden * sizeof(size_t)) ==
            0 &&
        memcmp(l->actor_hidden, t->actor_hidden, a->actor_num_hidden * sizeof(size_t)) == 0;
    if (!same) {
        dr3_ac_learner_free(t);
        return dr3i_fail(DR3_ERR_SHAPE,
                         "%s: %s holds a different learner (algorithm, sizes or widths)", who,
                         path);
    }
    dr3i_ac_adopt(l, t);
    if (l->coll.on) dr3i_ac_coll_after_load(l);
    return DR3_OK;
}

void dr3i_ac_adopt(dr3_ac_learner *l, dr3_ac_learner *t) {
    /* swap everything; the old state leaves with t */
    dr3_ac_learner tmp = *l;
    *l = *t;
    *t = tmp;
    l->o.critic_hidden = l->critic_hidden;
    l->o.actor_hidden = l->actor_hidden;
    t->o.critic_hidden = t->critic_hidden;
    t->o.actor_hidden = t->actor_hidden;
    /* the plugins stay with the learner */
    l->has_backup = tmp.has_backup;
    l->backup = tmp.backup;
    l->backup_payload = tmp.backup_payload;
    l->nreg = tmp.nreg;
    memcpy(l->reg, tmp.reg, sizeof l->reg);
    memcpy(l->reg_payload, tmp.reg_payload, sizeof l->reg_payload);
    memcpy(l->reg_loss, tmp.reg_loss, sizeof l->reg_loss);
    t->has_backup = false;
    t->nreg = 0;
    /* and so does the collective */
    l->coll = tmp.coll;
    memset(&t->coll, 0, sizeof t->coll);
    dr3_ac_learner_free(t);
}
