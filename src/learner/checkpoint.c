/* Whole-learner checkpoints (docs/formats.md, "Learner checkpoints"): written atomically
 * through the temp + fsync + rename writer, checksummed, validated in full before anything
 * is restored. Little-endian hosts only (the x86-64 and arm64 targets libdr3 supports). */
#include "learner_internal.h"

#include "../core/checksum.h"
#include "../io/atomic_file.h"
#include "../net/net_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char MAGIC[8] = {'D', 'R', '3', 'L', 'R', 'N', 'R', '\0'};
/* Version 1: an MLP, its hidden widths after the header. Version 2 (experimental layer-list
 * networks): an architecture record after the header instead (net_internal.h). */
enum { CKPT_VERSION = 1, CKPT_VERSION_LAYERS = 2 };

/* Longest architecture record read or written: 1024 MLP widths, or 4 + 6 × 170 layer-list
 * words. */
#define MAX_ARCH_WORDS 1024

/* Fixed part after the magic, in file order. */
typedef struct ckpt_header {
    uint32_t version, activation;
    uint64_t obs_dim, num_actions, num_hidden, param_count, steps, optim_len;
    uint64_t rng[4];
    float activation_param;
    uint32_t reserved;
} ckpt_header;

/* Streams bytes into the atomic file while accumulating the checksum. */
typedef struct writer {
    dr3i_atomic_file f;
    uint32_t crc;
    dr3_status st;
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (w->st != DR3_OK) return;
    w->crc = dr3i_crc32c(w->crc, p, n);
    w->st = dr3i_atomic_write(&w->f, p, n);
}

dr3_status dr3_learner_save(const dr3_learner *l, const char *path) {
    static const char who[] = "dr3_learner_save";
    if (l == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "path");
    size_t optim_len = 0;
    dr3_status st = dr3_optim_state_size(l->optim, &optim_len);
    if (st != DR3_OK) return st;
    /* serialising the optimizer state needs a buffer: saving is not a training step */
    void *optim_blob = dr3i_calloc(&l->alloc, optim_len);
    if (optim_blob == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    if ((st = dr3_optim_state_save(l->optim, optim_blob, optim_len)) != DR3_OK) {
        dr3i_free(&l->alloc, optim_blob);
        return st;
    }
    ckpt_header h;
    memset(&h, 0, sizeof h);
    uint64_t arch[MAX_ARCH_WORDS];
    size_t narch = 0;
    h.version = CKPT_VERSION;
    if (l->from_desc) {
        narch = dr3i_net_arch_words(l->online, arch, MAX_ARCH_WORDS);
        if (narch == 0) {
            dr3i_free(&l->alloc, optim_blob);
            return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: the network has too many layers to save",
                             who);
        }
        h.version = CKPT_VERSION_LAYERS;
    }
    h.activation = (uint32_t)l->opts.activation;
    h.activation_param = l->opts.activation_param;
    h.obs_dim = l->opts.obs_dim;
    h.num_actions = l->opts.num_actions;
    h.num_hidden = l->from_desc ? (narch - DR3I_ARCH_HEAD_WORDS) / DR3I_ARCH_LAYER_WORDS
                                : l->opts.num_hidden;
    h.param_count = l->param_count;
    h.steps = l->steps;
    h.optim_len = optim_len;
    memcpy(h.rng, l->rng.s, sizeof h.rng);

    writer w = {.crc = 0, .st = DR3_OK};
    if ((st = dr3i_atomic_open_with(&w.f, path, &l->alloc, who)) != DR3_OK) {
        dr3i_free(&l->alloc, optim_blob);
        return st;
    }
    put(&w, MAGIC, sizeof MAGIC);
    put(&w, &h, sizeof h);
    if (l->from_desc) {
        put(&w, arch, narch * sizeof(uint64_t));
    } else {
        for (size_t i = 0; i < l->opts.num_hidden; i++) {
            uint64_t width = l->hidden[i];
            put(&w, &width, sizeof width);
        }
    }
    /* the networks' parameters are only read here; the const-cast is for the accessor */
    put(&w, dr3_net_params(l->online), l->param_count * sizeof(float));
    put(&w, dr3_net_params(l->target), l->param_count * sizeof(float));
    put(&w, optim_blob, optim_len);
    dr3i_free(&l->alloc, optim_blob);
    uint32_t crc = w.crc;
    put(&w, &crc, sizeof crc);
    if (w.st != DR3_OK) {
        dr3i_atomic_abort(&w.f);
        return w.st;
    }
    return dr3i_atomic_commit(&w.f);
}

enum {
    HEAD_BYTES = 8 + 96,         /* magic + ckpt_header */
    MAX_HIDDEN = MAX_ARCH_WORDS, /* more hidden layers than any file libdr3 writes */
    OPTIM_HEADER = 44,     /* dr3_optim_state_save: 40-byte header + CRC (docs/optim.md) */
    OPTIM_MAX_VECTORS = 3, /* RMSprop centered with momentum */
};
/* Step counts above 2^53 are refused, as the optimizer refuses them (src/optim/optim.c):
 * a counter this far below 2^64 cannot wrap. */
#define MAX_STEPS (UINT64_C(1) << 53)

/* Number of parameters of the discrete-Q MLP obs_dim → hidden... → num_actions (the
 * learner's network, docs/net.md); false on overflow. */
static bool mlp_params(uint64_t obs_dim, uint64_t num_actions, const uint64_t *hidden,
                       size_t nh, size_t *out) {
    size_t total = 0, in = (size_t)obs_dim, w;
    for (size_t l = 0; l <= nh; l++) {
        size_t o = l < nh ? (size_t)hidden[l] : (size_t)num_actions;
        if (!dr3i_mul(in, o, &w) || !dr3i_add(w, o, &w) || !dr3i_add(total, w, &total))
            return false;
        in = o;
    }
    *out = total;
    return true;
}

/* Reads the fixed header and the hidden widths (into hidden[MAX_HIDDEN]) of an open
 * checkpoint and checks that they describe this file: magic, version, an architecture whose
 * parameter count is the declared one, an optimizer blob of a possible size, a step count
 * in range, and a total equal to the file's size. Nothing is allocated: a header declaring
 * gigabytes, or a huge file with a small header, is refused before the body is read. */
static dr3_status read_header(const dr3i_rfile *f, ckpt_header *h, uint64_t *hidden,
                              size_t *arch_words, const char *who) {
    const char *path = f->path;
    unsigned char head[HEAD_BYTES];
    if (f->size < HEAD_BYTES + 4)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s' is not a libdr3 learner checkpoint (%llu bytes)", who, path,
                         (unsigned long long)f->size);
    dr3_status st = dr3i_rfile_read(f, 0, head, sizeof head);
    if (st != DR3_OK) return st;
    if (memcmp(head, MAGIC, sizeof MAGIC) != 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' is not a libdr3 learner checkpoint", who,
                         path);
    memcpy(h, head + sizeof MAGIC, sizeof *h);
    if (h->version != CKPT_VERSION && h->version != CKPT_VERSION_LAYERS)
        return dr3i_fail(DR3_ERR_VERSION,
                         "%s: '%s' has checkpoint version %u (this library reads %d and %d)",
                         who, path, h->version, CKPT_VERSION, CKPT_VERSION_LAYERS);
    const bool layers = h->version == CKPT_VERSION_LAYERS;
    const uint64_t max_units =
        layers ? (MAX_ARCH_WORDS - DR3I_ARCH_HEAD_WORDS) / DR3I_ARCH_LAYER_WORDS : MAX_HIDDEN;
    if (h->num_hidden > max_units)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s' has an impossible header (%llu hidden layers)", who, path,
                         (unsigned long long)h->num_hidden);
    const size_t nh = layers
                          ? DR3I_ARCH_HEAD_WORDS + DR3I_ARCH_LAYER_WORDS * (size_t)h->num_hidden
                          : (size_t)h->num_hidden; /* words of the architecture record */
    if (f->size < HEAD_BYTES + 8 * nh + 4)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' is shorter than its header says", who, path);
    if (nh > 0 && (st = dr3i_rfile_read(f, HEAD_BYTES, hidden, 8 * nh)) != DR3_OK) return st;
    *arch_words = nh;
    size_t params = 0, need = 0, params_bytes = 0, vec = 0;
    bool arch_ok;
    if (layers) {
        dr3_net_desc d;
        dr3_layer ls[(MAX_ARCH_WORDS - DR3I_ARCH_HEAD_WORDS) / DR3I_ARCH_LAYER_WORDS];
        const dr3_layer *lp[(MAX_ARCH_WORDS - DR3I_ARCH_HEAD_WORDS) / DR3I_ARCH_LAYER_WORDS];
        arch_ok = dr3i_arch_from_words(hidden, nh, h->num_actions, &d, ls, lp,
                                       sizeof ls / sizeof ls[0], &params, who) == DR3_OK &&
                  d.in_channels * d.in_height * d.in_width == h->obs_dim;
    } else {
        arch_ok = mlp_params(h->obs_dim, h->num_actions, hidden, nh, &params);
    }
    if (!arch_ok || params != h->param_count)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s' declares %llu parameters, which its architecture does not "
                         "have",
                         who, path, (unsigned long long)h->param_count);
    /* the optimizer blob: header + 0 to 3 vectors of param_count floats */
    bool optim_ok = h->optim_len >= OPTIM_HEADER && dr3i_mul(params, sizeof(float), &vec) &&
                    vec > 0 && (h->optim_len - OPTIM_HEADER) % vec == 0 &&
                    (h->optim_len - OPTIM_HEADER) / vec <= OPTIM_MAX_VECTORS;
    if (!optim_ok)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s' declares an optimizer state of %llu bytes, impossible for "
                         "%zu parameters",
                         who, path, (unsigned long long)h->optim_len, params);
    if (!dr3i_mul(params, 2 * sizeof(float), &params_bytes) ||
        !dr3i_add(HEAD_BYTES, 8 * nh, &need) || !dr3i_add(need, params_bytes, &need) ||
        !dr3i_add(need, (size_t)h->optim_len, &need) || !dr3i_add(need, 4, &need))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' has an impossible header", who, path);
    if (need != f->size)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s' is %llu bytes, its header says %zu (truncated or padded?)",
                         who, path, (unsigned long long)f->size, need);
    if (h->steps > MAX_STEPS)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' has an impossible step count %llu", who,
                         path, (unsigned long long)h->steps);
    if ((h->rng[0] | h->rng[1] | h->rng[2] | h->rng[3]) == 0)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' has an invalid generator state", who, path);
    return DR3_OK;
}

DR3I_DEFINE_STRUCT(dr3_checkpoint_info, dr3_checkpoint_info, DR3_CHECKPOINT_INFO_INIT,
                   DR3_CHECKPOINT_INFO_VERSION, sizeof(dr3_checkpoint_info))

dr3_status dr3_learner_checkpoint_info(dr3_checkpoint_info *info, const char *path) {
    static const char who[] = "dr3_learner_checkpoint_info";
    if (path == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is NULL", who);
    dr3_checkpoint_info full = DR3_CHECKPOINT_INFO_INIT;
    dr3_status st =
        dr3i_struct_in(&full, info, &dr3i_desc_dr3_checkpoint_info, false, who, "info");
    if (st != DR3_OK) return st;
    if (full.hidden == NULL && full.hidden_capacity > 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: info->hidden is NULL with capacity %zu", who,
                         full.hidden_capacity);
    dr3i_rfile f;
    st = dr3i_rfile_open(&f, path, who);
    if (st != DR3_OK) return st;
    ckpt_header h;
    uint64_t hidden[MAX_HIDDEN];
    size_t nwords = 0;
    if ((st = read_header(&f, &h, hidden, &nwords, who)) != DR3_OK) {
        dr3i_rfile_close(&f);
        return st;
    }
    if (h.version == CKPT_VERSION_LAYERS) {
        dr3i_rfile_close(&f);
        return dr3i_fail(DR3_ERR_UNSUPPORTED,
                         "%s: '%s' holds a layer-list (convolutional) network, which "
                         "dr3_checkpoint_info cannot describe: recreate it with "
                         "dr3_learner_open",
                         who, path);
    }
    /* the checksum, streamed through a fixed buffer: no allocation, whatever the size */
    unsigned char chunk[16384];
    uint32_t crc = 0, stored;
    const uint64_t body = f.size - 4;
    for (uint64_t off = 0; st == DR3_OK && off < body; off += sizeof chunk) {
        size_t n = body - off < sizeof chunk ? (size_t)(body - off) : sizeof chunk;
        if ((st = dr3i_rfile_read(&f, off, chunk, n)) == DR3_OK)
            crc = dr3i_crc32c(crc, chunk, n);
    }
    if (st == DR3_OK) st = dr3i_rfile_read(&f, body, &stored, 4);
    dr3i_rfile_close(&f);
    if (st != DR3_OK) return st;
    if (crc != stored)
        return dr3i_fail(DR3_ERR_CHECKSUM, "%s: '%s' fails its checksum (corrupted)", who,
                         path);
    full.obs_dim = (size_t)h.obs_dim;
    full.num_actions = (size_t)h.num_actions;
    full.num_hidden = (size_t)h.num_hidden;
    for (size_t i = 0; i < full.num_hidden && i < full.hidden_capacity; i++)
        full.hidden[i] = (size_t)hidden[i];
    full.activation = (dr3_activation)h.activation;
    full.activation_param = h.activation_param;
    full.steps = h.steps;
    return dr3i_struct_out(info, &full, &dr3i_desc_dr3_checkpoint_info, who, "info");
}

/* True when every one of n little-endian floats at p is finite. */
static bool bytes_finite(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, p + i * sizeof v, sizeof v);
        if (!isfinite(v)) return false;
    }
    return true;
}

dr3_status dr3_learner_load(dr3_learner *l, const char *path) {
    static const char who[] = "dr3_learner_load";
    if (l == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "path");
    dr3i_rfile f;
    dr3_status st = dr3i_rfile_open(&f, path, who);
    if (st != DR3_OK) return st;
    ckpt_header h;
    uint64_t hidden[MAX_HIDDEN], mine[MAX_ARCH_WORDS];
    unsigned char *buf = NULL;
    size_t optim_len = 0, nwords = 0;
#define FAIL(code, ...)                                                                        \
    do {                                                                                       \
        st = dr3i_fail(code, __VA_ARGS__);                                                     \
        goto done;                                                                             \
    } while (0)
    if ((st = read_header(&f, &h, hidden, &nwords, who)) != DR3_OK) goto done;
    /* the architecture must be this learner's: checked before the body is allocated, which
     * bounds the allocation by the learner's own size */
    bool same = h.obs_dim == l->opts.obs_dim && h.num_actions == l->opts.num_actions &&
                h.param_count == l->param_count &&
                h.activation == (uint32_t)l->opts.activation &&
                h.activation_param == l->opts.activation_param;
    if (l->from_desc) {
        size_t n = dr3i_net_arch_words(l->online, mine, MAX_ARCH_WORDS);
        same = same && h.version == CKPT_VERSION_LAYERS && n == nwords &&
               memcmp(mine, hidden, n * sizeof(uint64_t)) == 0;
    } else {
        same = same && h.version == CKPT_VERSION && h.num_hidden == l->opts.num_hidden;
        for (size_t i = 0; same && i < h.num_hidden; i++) same = hidden[i] == l->hidden[i];
    }
    if (!same)
        FAIL(DR3_ERR_SHAPE, "%s: '%s' holds a different network architecture", who, path);
    if ((st = dr3_optim_state_size(l->optim, &optim_len)) != DR3_OK) goto done;
    if (h.optim_len != optim_len)
        FAIL(DR3_ERR_SHAPE, "%s: '%s' holds the state of a different optimizer", who, path);
    const size_t len = (size_t)f.size;
    if ((buf = dr3i_calloc(&l->alloc, len)) == NULL)
        FAIL(DR3_ERR_NOMEM, "%s: out of memory", who);
    if ((st = dr3i_rfile_read(&f, 0, buf, len)) != DR3_OK) goto done;
    uint32_t crc;
    memcpy(&crc, buf + len - 4, 4);
    if (dr3i_crc32c(0, buf, len - 4) != crc)
        FAIL(DR3_ERR_CHECKSUM, "%s: '%s' fails its checksum (corrupted)", who, path);
    /* the checksum only says the bytes are as written: the values must be usable too */
    const size_t n = l->param_count;
    const unsigned char *online = buf + HEAD_BYTES + 8 * nwords;
    const unsigned char *target = online + n * sizeof(float);
    const unsigned char *optim = target + n * sizeof(float);
    if (!bytes_finite(online, n) || !bytes_finite(target, n))
        FAIL(DR3_ERR_FORMAT, "%s: '%s' holds NaN or Inf %s parameters", who, path,
             bytes_finite(online, n) ? "target" : "online");
    /* the optimizer validates its part completely (values included) before changing
     * anything; after it the remaining copies cannot fail, so the learner is restored
     * entirely or not at all */
    if ((st = dr3_optim_state_load(l->optim, optim, optim_len)) != DR3_OK) goto done;
    memcpy(dr3_net_params(l->online), online, n * sizeof(float));
    memcpy(dr3_net_params(l->target), target, n * sizeof(float));
    memcpy(l->rng.s, h.rng, sizeof h.rng);
    l->steps = h.steps;
    /* data-parallel replicas (collective.c): each rank its own generator again, and a full
     * comparison of the replicas at the next step */
    dr3i_collective_after_load(l);
#undef FAIL
done:
    dr3i_free(&l->alloc, buf);
    dr3i_rfile_close(&f);
    return st;
}

dr3_status dr3_learner_open(dr3_learner **out, const char *path,
                            const dr3_learner_options *opts) {
    static const char who[] = "dr3_learner_open";
    if (out == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, out ? "path" : "out");
    *out = NULL;
    dr3_learner_options o = DR3_LEARNER_OPTIONS_INIT;
    dr3_status st = dr3i_struct_in(&o, opts, &dr3i_desc_dr3_learner_options, true, who, "opts");
    if (st != DR3_OK) return st;
    if (opts == NULL) o.batch_size = 32;
    dr3i_rfile f;
    if ((st = dr3i_rfile_open(&f, path, who)) != DR3_OK) return st;
    ckpt_header h;
    uint64_t arch[MAX_HIDDEN];
    size_t nwords = 0;
    st = read_header(&f, &h, arch, &nwords, who);
    dr3i_rfile_close(&f);
    if (st != DR3_OK) return st;
    /* the architecture is the file's; everything else is the caller's */
    o.obs_dim = (size_t)h.obs_dim;
    o.num_actions = (size_t)h.num_actions;
    o.activation = (dr3_activation)h.activation;
    o.activation_param = h.activation_param;
    dr3_learner *l = NULL;
    if (h.version == CKPT_VERSION_LAYERS) {
        dr3_net_desc d;
        dr3_layer ls[(MAX_ARCH_WORDS - DR3I_ARCH_HEAD_WORDS) / DR3I_ARCH_LAYER_WORDS];
        const dr3_layer *lp[(MAX_ARCH_WORDS - DR3I_ARCH_HEAD_WORDS) / DR3I_ARCH_LAYER_WORDS];
        size_t params;
        st = dr3i_arch_from_words(arch, nwords, h.num_actions, &d, ls, lp,
                                  sizeof ls / sizeof ls[0], &params, who);
        d.activation = o.activation;
        d.activation_param = o.activation_param;
        if (st == DR3_OK) st = dr3_learner_create_desc(&l, &o, &d);
    } else {
        size_t widths[MAX_HIDDEN];
        for (size_t i = 0; i < nwords; i++) widths[i] = (size_t)arch[i];
        o.num_hidden = nwords;
        o.hidden = widths;
        st = dr3_learner_create(&l, &o);
    }
    if (st == DR3_OK) st = dr3_learner_load(l, path);
    if (st != DR3_OK) {
        dr3_learner_free(l);
        return st;
    }
    *out = l;
    return DR3_OK;
}
