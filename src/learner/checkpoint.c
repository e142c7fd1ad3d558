/* Whole-learner checkpoints (docs/formats.md, "Learner checkpoints"): written atomically
 * through the temp + fsync + rename writer, checksummed, validated in full before anything
 * is restored. Little-endian hosts only (the x86-64 and arm64 targets libdr3 supports). */
#include "learner_internal.h"

#include "../core/checksum.h"
#include "../io/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = {'D', 'R', '3', 'L', 'R', 'N', 'R', '\0'};
enum { CKPT_VERSION = 1 };

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
    void *optim_blob = malloc(optim_len);
    if (optim_blob == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    if ((st = dr3_optim_state_save(l->optim, optim_blob, optim_len)) != DR3_OK) {
        free(optim_blob);
        return st;
    }
    ckpt_header h;
    memset(&h, 0, sizeof h);
    h.version = CKPT_VERSION;
    h.activation = (uint32_t)l->opts.activation;
    h.activation_param = l->opts.activation_param;
    h.obs_dim = l->opts.obs_dim;
    h.num_actions = l->opts.num_actions;
    h.num_hidden = l->opts.num_hidden;
    h.param_count = l->param_count;
    h.steps = l->steps;
    h.optim_len = optim_len;
    memcpy(h.rng, l->rng.s, sizeof h.rng);

    writer w = {.crc = 0, .st = DR3_OK};
    if ((st = dr3i_atomic_open(&w.f, path, who)) != DR3_OK) {
        free(optim_blob);
        return st;
    }
    put(&w, MAGIC, sizeof MAGIC);
    put(&w, &h, sizeof h);
    for (size_t i = 0; i < l->opts.num_hidden; i++) {
        uint64_t width = l->hidden[i];
        put(&w, &width, sizeof width);
    }
    /* the networks' parameters are only read here; the const-cast is for the accessor */
    put(&w, dr3_net_params(l->online), l->param_count * sizeof(float));
    put(&w, dr3_net_params(l->target), l->param_count * sizeof(float));
    put(&w, optim_blob, optim_len);
    free(optim_blob);
    uint32_t crc = w.crc;
    put(&w, &crc, sizeof crc);
    if (w.st != DR3_OK) {
        dr3i_atomic_abort(&w.f);
        return w.st;
    }
    return dr3i_atomic_commit(&w.f);
}

/* Reads a checkpoint and verifies its framing: magic, version, sizes, checksum. On success
 * *buf_out (caller frees) holds the file and *h its header. */
static dr3_status read_verified(const char *path, unsigned char **buf_out, size_t *len_out,
                                ckpt_header *h, const char *who) {
    unsigned char *buf = NULL;
    size_t len = 0, need = 0, params_bytes = 0, off = sizeof MAGIC + sizeof *h;
    dr3_status st = dr3i_read_file(path, &buf, &len, who);
    if (st != DR3_OK) return st;
    if (len < off + 4 || memcmp(buf, MAGIC, sizeof MAGIC) != 0)
        st =
            dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' is not a libdr3 learner checkpoint", who, path);
    if (st == DR3_OK) {
        memcpy(h, buf + sizeof MAGIC, sizeof *h);
        if (h->version != CKPT_VERSION)
            st = dr3i_fail(DR3_ERR_VERSION,
                           "%s: '%s' has checkpoint version %u (this library reads %d)", who,
                           path, h->version, CKPT_VERSION);
    }
    /* sizes from the header, overflow-checked, must add up to the file length */
    if (st == DR3_OK &&
        (h->num_hidden > 1024 ||
         !dr3i_mul((size_t)h->param_count, 2 * sizeof(float), &params_bytes) ||
         !dr3i_add(off, (size_t)h->num_hidden * 8, &need) ||
         !dr3i_add(need, params_bytes, &need) || !dr3i_add(need, (size_t)h->optim_len, &need) ||
         !dr3i_add(need, 4, &need)))
        st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' has an impossible header", who, path);
    if (st == DR3_OK && need != len)
        st =
            dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' is %zu bytes, its header says %zu (truncated?)",
                      who, path, len, need);
    if (st == DR3_OK) {
        uint32_t crc;
        memcpy(&crc, buf + len - 4, 4);
        if (dr3i_crc32c(0, buf, len - 4) != crc)
            st = dr3i_fail(DR3_ERR_CHECKSUM, "%s: '%s' fails its checksum (corrupted)", who,
                           path);
    }
    if (st != DR3_OK) {
        free(buf);
        return st;
    }
    *buf_out = buf;
    *len_out = len;
    return DR3_OK;
}

DR3I_DEFINE_STRUCT(dr3_checkpoint_info, dr3_checkpoint_info, DR3_CHECKPOINT_INFO_INIT,
                   DR3_CHECKPOINT_INFO_VERSION, sizeof(dr3_checkpoint_info))

dr3_status dr3_learner_checkpoint_info(dr3_checkpoint_info *info, const char *path) {
    static const char who[] = "dr3_learner_checkpoint_info";
    if (path == NULL) return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: path is NULL", who);
    dr3_checkpoint_info full;
    dr3_status st =
        dr3i_struct_in(&full, info, &dr3i_desc_dr3_checkpoint_info, false, who, "info");
    if (st != DR3_OK) return st;
    if (full.hidden == NULL && full.hidden_capacity > 0)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: info->hidden is NULL with capacity %zu", who,
                         full.hidden_capacity);
    unsigned char *buf;
    size_t len;
    ckpt_header h;
    st = read_verified(path, &buf, &len, &h, who);
    if (st != DR3_OK) return st;
    full.obs_dim = (size_t)h.obs_dim;
    full.num_actions = (size_t)h.num_actions;
    full.num_hidden = (size_t)h.num_hidden;
    for (size_t i = 0; i < full.num_hidden && i < full.hidden_capacity; i++) {
        uint64_t w;
        memcpy(&w, buf + sizeof MAGIC + sizeof h + 8 * i, 8);
        full.hidden[i] = (size_t)w;
    }
    full.activation = (dr3_activation)h.activation;
    full.activation_param = h.activation_param;
    full.steps = h.steps;
    free(buf);
    return dr3i_struct_out(info, &full, &dr3i_desc_dr3_checkpoint_info, who, "info");
}

dr3_status dr3_learner_load(dr3_learner *l, const char *path) {
    static const char who[] = "dr3_learner_load";
    if (l == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who,
                         l == NULL ? "learner" : "path");
    unsigned char *buf = NULL;
    size_t len = 0;
    ckpt_header h;
    dr3_status st = read_verified(path, &buf, &len, &h, who);
    if (st != DR3_OK) return st;
    size_t off = sizeof MAGIC + sizeof h;
    const size_t params_bytes = (size_t)h.param_count * 2 * sizeof(float);
#define FAIL(code, ...)                                                                        \
    do {                                                                                       \
        st = dr3i_fail(code, __VA_ARGS__);                                                     \
        goto done;                                                                             \
    } while (0)
    /* the architecture must be this learner's */
    bool same = h.obs_dim == l->opts.obs_dim && h.num_actions == l->opts.num_actions &&
                h.num_hidden == l->opts.num_hidden && h.param_count == l->param_count &&
                h.activation == (uint32_t)l->opts.activation &&
                h.activation_param == l->opts.activation_param;
    for (size_t i = 0; same && i < h.num_hidden; i++) {
        uint64_t width;
        memcpy(&width, buf + off + 8 * i, 8);
        same = width == l->hidden[i];
    }
    if (!same)
        FAIL(DR3_ERR_SHAPE, "%s: '%s' holds a different network architecture", who, path);
    if ((h.rng[0] | h.rng[1] | h.rng[2] | h.rng[3]) == 0)
        FAIL(DR3_ERR_FORMAT, "%s: '%s' has an invalid generator state", who, path);
    off += (size_t)h.num_hidden * 8;
    const unsigned char *online = buf + off, *target = online + params_bytes / 2;
    const unsigned char *optim = buf + off + params_bytes;
    /* the optimizer validates its part completely before changing anything; after it the
     * remaining copies cannot fail, so the learner is restored entirely or not at all */
    if ((st = dr3_optim_state_load(l->optim, optim, (size_t)h.optim_len)) != DR3_OK) goto done;
    memcpy(dr3_net_params(l->online), online, params_bytes / 2);
    memcpy(dr3_net_params(l->target), target, params_bytes / 2);
    memcpy(l->rng.s, h.rng, sizeof h.rng);
    l->steps = h.steps;
#undef FAIL
done:
    free(buf);
    return st;
}
