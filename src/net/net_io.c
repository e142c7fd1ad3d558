/* Network weights as safetensors (dr3_net_save / dr3_net_load / dr3_net_open). */
#include "../io/safetensors.h"
#include "net_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *head_name(dr3_head_kind h) {
    return h == DR3_HEAD_CRITIC ? "critic" : "discrete_q";
}

/* Index of layer l's module in the equivalent torch.nn.Sequential: layers at even indices
 * with their activations between them, and one Flatten after the last convolution (MLPs
 * have none: their indices are 0, 2, 4, ... as in 0.1). */
static size_t module_index(const dr3_net *net, size_t l) {
    bool conv_before = false;
    for (size_t k = 0; k < l; k++) conv_before |= net->layers[k].conv;
    return 2 * l + (conv_before && !net->layers[l].conv ? 1 : 0);
}

/* The PyTorch shape of layer l's weight: Conv2d [K, C, kh, kw] or Linear [out, in]. */
static size_t weight_shape(const dr3i_layer *ly, size_t shape[4]) {
    if (ly->conv) {
        shape[0] = ly->cv.out_c;
        shape[1] = ly->cv.in_c;
        shape[2] = ly->cv.kh;
        shape[3] = ly->cv.kw;
        return 4;
    }
    shape[0] = ly->out;
    shape[1] = ly->in;
    return 2;
}

static size_t bias_count(const dr3i_layer *ly) { return ly->conv ? ly->cv.out_c : ly->out; }

static dr3_status save_impl(const dr3_net *net, const dr3_optim *optim, const char *path,
                            const char *who) {
    if (net == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, net ? "path" : "net");
    const size_t L = net->num_layers;
    size_t state_len = 0;
    void *state = NULL;
    if (optim != NULL) {
        dr3_status st = dr3_optim_state_size(optim, &state_len);
        if (st != DR3_OK) return st;
        state = dr3i_calloc(&net->alloc, state_len);
        if (state == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        if ((st = dr3_optim_state_save(optim, state, state_len)) != DR3_OK) {
            dr3i_free(&net->alloc, state);
            return st;
        }
    }
    /* 2L + 1 entries and 2L names: overflow-free, L is a network that exists */
    dr3i_st_out *t = dr3i_calloc(&net->alloc, (2 * L + 1) * sizeof *t);
    char(*names)[48] = dr3i_calloc(&net->alloc, 2 * L * sizeof *names);
    if (t == NULL || names == NULL) {
        dr3i_free(&net->alloc, t);
        dr3i_free(&net->alloc, names);
        dr3i_free(&net->alloc, state);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    for (size_t l = 0; l < L; l++) {
        const dr3i_layer *ly = &net->layers[l];
        snprintf(names[2 * l], 48, "layers.%zu.weight", module_index(net, l));
        snprintf(names[2 * l + 1], 48, "layers.%zu.bias", module_index(net, l));
        t[2 * l] = (dr3i_st_out){names[2 * l], 0, {0, 0, 0, 0}, net->params + ly->w_off, 0};
        t[2 * l].rank = weight_shape(ly, t[2 * l].shape);
        t[2 * l + 1] = (dr3i_st_out){
            names[2 * l + 1], 1, {bias_count(ly), 0, 0, 0}, net->params + ly->b_off, 0};
    }
    char obs[32], act[32], hidden[512] = "", param[32];
    snprintf(obs, sizeof obs, "%zu", net->opts.obs_dim);
    snprintf(act, sizeof act, "%zu", net->opts.action_dim);
    snprintf(param, sizeof param, "%.9g", (double)net->opts.activation_param);
    for (size_t i = 0; i < net->opts.num_hidden; i++) {
        char w[32];
        snprintf(w, sizeof w, "%s%zu", i ? "," : "", net->hidden[i]);
        if (strlen(hidden) + strlen(w) + 1 < sizeof hidden) strcat(hidden, w);
    }
    /* a layer-list network (format_version 2) records its architecture as the checkpoints'
     * record (net_internal.h) in the "arch" key instead of "hidden" */
    char arch[400] = "";
    if (net->from_desc) {
        uint64_t words[DR3I_ARCH_HEAD_WORDS + DR3I_ARCH_LAYER_WORDS * 40];
        size_t nw = dr3i_net_arch_words(net, words, sizeof words / sizeof words[0]);
        for (size_t i = 0; i < nw; i++) {
            char w[24];
            snprintf(w, sizeof w, "%s%llu", i ? "," : "", (unsigned long long)words[i]);
            if (strlen(arch) + strlen(w) + 1 < sizeof arch) strcat(arch, w);
        }
        if (nw == 0 || strlen(arch) + 24 >= sizeof arch) {
            dr3i_free(&net->alloc, t);
            dr3i_free(&net->alloc, names);
            dr3i_free(&net->alloc, state);
            return dr3i_fail(DR3_ERR_UNSUPPORTED, "%s: too many layers to describe", who);
        }
    }
    const char *const meta[][2] = {
        {"format", "libdr3.net"},
        {"format_version", net->from_desc ? "2" : "1"},
        {"obs_dim", obs},
        {"action_dim", act},
        {"head", head_name(net->opts.head)},
        {net->from_desc ? "arch" : "hidden", net->from_desc ? arch : hidden},
        {"activation", dr3_activation_name(net->opts.activation)},
        {"activation_param", param}};
    size_t nt = 2 * L;
    if (state != NULL) t[nt++] = (dr3i_st_out){"optim.state", 1, {state_len, 0}, state, 1};
    dr3_status st =
        dr3i_st_write(path, t, nt, meta, sizeof meta / sizeof meta[0], &net->alloc, who);
    dr3i_free(&net->alloc, t);
    dr3i_free(&net->alloc, names);
    dr3i_free(&net->alloc, state);
    return st;
}

dr3_status dr3_net_save(const dr3_net *net, const char *path) {
    return save_impl(net, NULL, path, "dr3_net_save");
}

dr3_status dr3_net_save_with_optim(const dr3_net *net, const dr3_optim *optim,
                                   const char *path) {
    if (optim == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_save_with_optim: optim is NULL");
    return save_impl(net, optim, path, "dr3_net_save_with_optim");
}

/* ---- loading ----------------------------------------------------------------------------
 * Only the header is read first; every check that needs no tensor data (metadata, names,
 * dtypes, shapes, the optimizer blob's size) runs before the data is read or anything
 * sized by the file is allocated. */

/* The architecture libdr3's metadata describes. */
typedef struct meta_arch {
    int version; /* 1: MLP widths, 2: "arch" record */
    uint64_t words[DR3I_ARCH_HEAD_WORDS + DR3I_ARCH_LAYER_WORDS * 40]; /* version 2's record */
    size_t nwords;
    size_t obs_dim, action_dim, num_hidden, hidden[64];
    dr3_head_kind head;
    dr3_activation activation;
    float activation_param;
} meta_arch;

/* A decimal size: digits only, no sign or spaces, no overflow. */
static int parse_size(const char *s, size_t *out) {
    if (s == NULL || *s < '0' || *s > '9') return 0;
    size_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        size_t d = (size_t)(*s - '0');
        if (v > (SIZE_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (*s != '\0') return 0;
    *out = v;
    return 1;
}

/* Reads libdr3's metadata into *a. *present is 0 (and nothing else is checked) when the
 * file has none: a file from PyTorch, or with another tool's "format" (safetensors.torch
 * writes "pt"). A libdr3.net file must have format_version 1 and every key well formed. */
static dr3_status read_meta(const dr3i_st_file *f, meta_arch *a, int *present, const char *who,
                            const char *path) {
    memset(a, 0, sizeof *a);
    const char *fmt = dr3i_st_meta(f, "format");
    *present = fmt != NULL && strcmp(fmt, "libdr3.net") == 0;
    if (!*present) return DR3_OK;
    const char *ver = dr3i_st_meta(f, "format_version");
    if (ver == NULL || (strcmp(ver, "1") != 0 && strcmp(ver, "2") != 0))
        return dr3i_fail(DR3_ERR_VERSION,
                         "%s: '%s' is libdr3.net format_version '%s'; this library reads "
                         "versions 1 and 2",
                         who, path, ver ? ver : "(missing)");
    a->version = ver[0] - '0';
    if (a->version == 2) {
        /* a layer-list network: its record in "arch", comma-separated decimals */
        const char *rec = dr3i_st_meta(f, "arch");
        for (const char *p = rec; p != NULL && *p != '\0';) {
            char num[32];
            size_t k = 0, w;
            while (p[k] != '\0' && p[k] != ',' && k < sizeof num - 1) num[k] = p[k], k++;
            num[k] = '\0';
            if (a->nwords >= sizeof a->words / sizeof a->words[0] || !parse_size(num, &w) ||
                (p[k] != ',' && p[k] != '\0') || (p[k] == ',' && p[k + 1] == '\0'))
                return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': bad arch metadata", who, path);
            a->words[a->nwords++] = w;
            p += k + (p[k] == ',');
        }
        if (rec == NULL || a->nwords == 0)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': format_version 2 without arch", who,
                             path);
    }
    const char *hs = a->version == 2 ? "" : dr3i_st_meta(f, "hidden");
    const char *act = dr3i_st_meta(f, "activation");
    const char *head = dr3i_st_meta(f, "head"), *param = dr3i_st_meta(f, "activation_param");
    if (hs == NULL || act == NULL || head == NULL || param == NULL ||
        !parse_size(dr3i_st_meta(f, "obs_dim"), &a->obs_dim) ||
        !parse_size(dr3i_st_meta(f, "action_dim"), &a->action_dim))
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s': libdr3 metadata lacks or mangles obs_dim, action_dim, "
                         "hidden, head, activation or activation_param",
                         who, path);
    for (const char *p = hs; *p != '\0';) {
        char num[32];
        size_t k = 0, w;
        while (p[k] != '\0' && p[k] != ',' && k < sizeof num - 1) num[k] = p[k], k++;
        num[k] = '\0';
        if (a->num_hidden >= 64 || !parse_size(num, &w) || w == 0 ||
            (p[k] != ',' && p[k] != '\0') || (p[k] == ',' && p[k + 1] == '\0'))
            return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': bad hidden metadata '%s'", who, path,
                             hs);
        a->hidden[a->num_hidden++] = w;
        p += k + (p[k] == ',');
    }
    int found = 0;
    for (int k = 0; k < 5; k++)
        if (strcmp(act, dr3_activation_name((dr3_activation)k)) == 0) {
            a->activation = (dr3_activation)k;
            found = 1;
        }
    if (!found)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': unknown activation '%s'", who, path, act);
    if (strcmp(head, "critic") == 0)
        a->head = DR3_HEAD_CRITIC;
    else if (strcmp(head, "discrete_q") == 0)
        a->head = DR3_HEAD_DISCRETE_Q;
    else
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': unknown head '%s'", who, path, head);
    char *end;
    a->activation_param = strtof(param, &end);
    if (end == param || *end != '\0' || !isfinite(a->activation_param))
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': bad activation_param '%s'", who, path,
                         param);
    if (a->obs_dim == 0 || a->action_dim == 0 || a->obs_dim > SIZE_MAX - a->action_dim)
        return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': impossible obs_dim or action_dim", who,
                         path);
    return DR3_OK;
}

/* Checks that f has a layer's two tensors `layers.<index>.weight` / `.bias`, F32, with the
 * weight shape @p wshape (rank @p wrank) and @p nbias biases; a wrong shape or a missing
 * tensor fails with `code` (DR3_ERR_SHAPE against a network, DR3_ERR_FORMAT against the
 * file's own metadata), naming `against`. */
static dr3_status check_layer(const dr3i_st_file *f, size_t index, const size_t *wshape,
                              size_t wrank, size_t nbias, dr3_status code, const char *against,
                              const char *who, const char *path) {
    for (int k = 0; k < 2; k++) {
        char name[48];
        snprintf(name, sizeof name, "layers.%zu.%s", index, k ? "bias" : "weight");
        const dr3i_st_tensor *t = dr3i_st_find(f, name);
        if (t == NULL)
            return dr3i_fail(code, "%s: '%s' has no tensor '%s' (%s needs it)", who, path, name,
                             against);
        if (strcmp(t->dtype, "F32") != 0)
            return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': tensor '%s' is %s, not F32", who, path,
                             name, t->dtype);
        bool ok = k ? (t->rank == 1 && t->shape[0] == nbias) : t->rank == wrank;
        for (size_t d = 0; ok && !k && d < wrank; d++) ok = t->shape[d] == wshape[d];
        if (!ok) {
            char want[96] = "";
            for (size_t d = 0; d < (k ? 1 : wrank); d++) {
                char dim[24];
                snprintf(dim, sizeof dim, "%s%zu", d ? ", " : "", k ? nbias : wshape[d]);
                strcat(want, dim);
            }
            return dr3i_fail(code, "%s: '%s': tensor '%s' has the wrong shape (%s: [%s])", who,
                             path, name, against, want);
        }
    }
    return DR3_OK;
}

static size_t weight_tensors(const dr3i_st_file *f) {
    size_t n = 0; /* tensors other than the optimizer's */
    for (size_t i = 0; i < f->n_tensors; i++)
        n += strncmp(f->tensors[i].name, "optim.", 6) != 0;
    return n;
}

/* The file's tensors agree with its own metadata (architecture implied by it). */
static dr3_status check_against_meta(const dr3i_st_file *f, const meta_arch *a, const char *who,
                                     const char *path) {
    const size_t L = a->num_hidden + 1;
    static const char against[] = "its metadata";
    if (weight_tensors(f) != 2 * L)
        return dr3i_fail(DR3_ERR_FORMAT,
                         "%s: '%s' has %zu weight tensors, its metadata describes %zu", who,
                         path, weight_tensors(f), 2 * L);
    const bool critic = a->head == DR3_HEAD_CRITIC;
    size_t in = a->obs_dim + (critic ? a->action_dim : 0);
    for (size_t l = 0; l < L; l++) {
        size_t out = l + 1 < L ? a->hidden[l] : (critic ? 1 : a->action_dim);
        const size_t shape[2] = {out, in};
        dr3_status st =
            check_layer(f, 2 * l, shape, 2, out, DR3_ERR_FORMAT, against, who, path);
        if (st != DR3_OK) return st;
        in = out;
    }
    return DR3_OK;
}

/* The file holds exactly this network's weight tensors (names, F32, shapes). */
static dr3_status check_against_net(const dr3_net *net, const dr3i_st_file *f, const char *who,
                                    const char *path) {
    if (weight_tensors(f) != 2 * net->num_layers)
        return dr3i_fail(DR3_ERR_SHAPE,
                         "%s: '%s' has %zu weight tensors, the network needs %zu", who, path,
                         weight_tensors(f), 2 * net->num_layers);
    for (size_t l = 0; l < net->num_layers; l++) {
        size_t shape[4];
        size_t rank = weight_shape(&net->layers[l], shape);
        dr3_status st =
            check_layer(f, module_index(net, l), shape, rank, bias_count(&net->layers[l]),
                        DR3_ERR_SHAPE, "the network", who, path);
        if (st != DR3_OK) return st;
    }
    return DR3_OK;
}

/* Reads the weight tensors into dst (laid out as net->params) and checks them finite. */
static dr3_status read_weights(const dr3_net *net, const dr3i_rfile *rf, const dr3i_st_file *f,
                               float *dst) {
    for (size_t l = 0; l < net->num_layers; l++) {
        const dr3i_layer *ly = &net->layers[l];
        for (int k = 0; k < 2; k++) {
            char name[48];
            snprintf(name, sizeof name, "layers.%zu.%s", module_index(net, l),
                     k ? "bias" : "weight");
            const dr3i_st_tensor *t = dr3i_st_find(f, name);
            float *to = dst + (k ? ly->b_off : ly->w_off);
            const size_t count = k ? bias_count(ly) : ly->w_count;
            dr3_status st =
                dr3i_rfile_read(rf, f->data_start + t->begin, to, count * sizeof(float));
            if (st != DR3_OK) return st;
            if (!dr3i_all_finite(to, count, 1))
                return dr3i_fail(DR3_ERR_NONFINITE, "%s: '%s': tensor '%s' holds NaN or Inf",
                                 rf->who, rf->path, name);
        }
    }
    return DR3_OK;
}

/* Metadata the tensor shapes cannot show must match the network: activation and head (also
 * in foreign metadata that happens to use those keys) and, in libdr3's, activation_param. */
static dr3_status check_against_net_options(const dr3_net *net, const dr3i_st_file *f,
                                            const meta_arch *meta, const char *who,
                                            const char *path) {
    const char *act = dr3i_st_meta(f, "activation"), *head = dr3i_st_meta(f, "head");
    const char *want_act = dr3_activation_name(net->opts.activation);
    if (act != NULL && strcmp(act, want_act) != 0)
        return dr3i_fail(DR3_ERR_SHAPE,
                         "%s: '%s' was saved with activation %s, the network uses %s", who,
                         path, act, want_act);
    if (head != NULL && strcmp(head, head_name(net->opts.head)) != 0)
        return dr3i_fail(DR3_ERR_SHAPE, "%s: '%s' has a %s head, the network a %s head", who,
                         path, head, head_name(net->opts.head));
    if (meta != NULL && meta->activation_param != net->opts.activation_param)
        return dr3i_fail(
            DR3_ERR_SHAPE, "%s: '%s' was saved with activation_param %g, the network uses %g",
            who, path, (double)meta->activation_param, (double)net->opts.activation_param);
    return DR3_OK;
}

static dr3_status load_impl(dr3_net *net, dr3_optim *optim, const char *path, const char *who) {
    if (net == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, net ? "path" : "net");
    const dr3i_alloc *al = &net->alloc;
    dr3i_rfile rf;
    dr3_status st = dr3i_rfile_open(&rf, path, who);
    if (st != DR3_OK) return st;
    dr3i_st_file *f = dr3i_calloc(al, sizeof *f);
    float *staged = NULL;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    meta_arch meta;
    int have_meta = 0;
    if (f == NULL) st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    if (st == DR3_OK) st = dr3i_st_read_header(&rf, al, f);
    /* libdr3's metadata, when present, must be a version this library reads, agree with
     * the file's own tensors, and describe this network (activation, its parameter and
     * head are not visible in the tensor shapes) */
    if (st == DR3_OK) st = read_meta(f, &meta, &have_meta, who, path);
    if (st == DR3_OK && have_meta && (meta.version == 2) != net->from_desc)
        st = dr3i_fail(DR3_ERR_SHAPE, "%s: '%s' holds %s, the network is %s", who, path,
                       meta.version == 2 ? "a layer-list network" : "an MLP",
                       net->from_desc ? "a layer-list network" : "an MLP");
    if (st == DR3_OK && have_meta && meta.version == 2) {
        uint64_t mine[sizeof meta.words / sizeof meta.words[0]];
        size_t n = dr3i_net_arch_words(net, mine, sizeof mine / sizeof mine[0]);
        if (n != meta.nwords || memcmp(mine, meta.words, n * sizeof(uint64_t)) != 0)
            st = dr3i_fail(DR3_ERR_SHAPE, "%s: '%s' holds a different layer list", who, path);
    } else if (st == DR3_OK && have_meta) {
        st = check_against_meta(f, &meta, who, path);
    }
    if (st == DR3_OK)
        st = check_against_net_options(net, f, have_meta ? &meta : NULL, who, path);
    if (st == DR3_OK) st = check_against_net(net, f, who, path);
    const dr3i_st_tensor *os = NULL;
    if (st == DR3_OK && optim != NULL) {
        os = dr3i_st_find(f, "optim.state");
        size_t want = 0;
        if (os == NULL || strcmp(os->dtype, "U8") != 0 || os->rank != 1)
            st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' holds no optimizer state", who, path);
        else if ((st = dr3_optim_state_size(optim, &want)) == DR3_OK &&
                 os->end - os->begin != want)
            st = dr3i_fail(DR3_ERR_SHAPE,
                           "%s: '%s' holds a %zu-byte optimizer state, this optimizer's is %zu",
                           who, path, os->end - os->begin, want);
        blob_len = want;
    }
    /* sizes are now the network's and the optimizer's own: allocate and read */
    if (st == DR3_OK && (staged = dr3i_calloc(al, net->param_count * sizeof(float))) == NULL)
        st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    if (st == DR3_OK) st = read_weights(net, &rf, f, staged);
    if (st == DR3_OK && optim != NULL) {
        if ((blob = dr3i_calloc(al, blob_len)) == NULL)
            st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        else
            st = dr3i_rfile_read(&rf, f->data_start + os->begin, blob, blob_len);
        /* the optimizer validates its whole state before writing; the weights' copy that
         * follows cannot fail, so both change or neither does */
        if (st == DR3_OK) st = dr3_optim_state_load(optim, blob, blob_len);
    }
    if (st == DR3_OK) memcpy(net->params, staged, net->param_count * sizeof(float));
    dr3i_free(al, blob);
    dr3i_free(al, staged);
    dr3i_free(al, f);
    dr3i_rfile_close(&rf);
    return st;
}

dr3_status dr3_net_load(dr3_net *net, const char *path) {
    return load_impl(net, NULL, path, "dr3_net_load");
}

dr3_status dr3_net_load_with_optim(dr3_net *net, dr3_optim *optim, const char *path) {
    if (optim == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_net_load_with_optim: optim is NULL");
    return load_impl(net, optim, path, "dr3_net_load_with_optim");
}

dr3_status dr3_net_open(dr3_net **out, const char *path, const dr3_net_options *rt) {
    static const char who[] = "dr3_net_open";
    if (out == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, out ? "path" : "out");
    *out = NULL;
    dr3_net_options o = DR3_NET_OPTIONS_INIT;
    dr3_status st =
        dr3i_struct_in(&o, rt, &dr3i_desc_dr3_net_options, true, who, "runtime options");
    if (st != DR3_OK) return st;
    if (rt == NULL) o.max_batch = 1;
    /* the network's allocator (from the options) serves the reading too */
    dr3i_alloc al;
    st = dr3i_alloc_init(&al, o.allocator, who);
    if (st != DR3_OK) return st;
    dr3i_rfile rf;
    if ((st = dr3i_rfile_open(&rf, path, who)) != DR3_OK) return st;
    dr3i_st_file *f = dr3i_calloc(&al, sizeof *f);
    meta_arch meta;
    int have_meta = 0;
    if (f == NULL) st = dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    if (st == DR3_OK) st = dr3i_st_read_header(&rf, &al, f);
    if (st == DR3_OK) st = read_meta(f, &meta, &have_meta, who, path);
    if (st == DR3_OK && !have_meta)
        st = dr3i_fail(DR3_ERR_FORMAT,
                       "%s: '%s' has no libdr3 architecture metadata (create the network and "
                       "use dr3_net_load)",
                       who, path);
    /* the architecture the metadata describes must be the one the file's tensors have,
     * which the file's size backs: checked before the network is created, so that a small
     * file cannot make us allocate a huge network */
    dr3_net *net = NULL;
    if (st == DR3_OK && meta.version == 2) {
        /* a layer-list network: the record gives its parameter count, which the file's
         * tensors (bounded by its size) must hold before the network is created */
        dr3_net_desc d;
        dr3_layer ls[40];
        const dr3_layer *lp[40];
        size_t params = 0, held = 0;
        st = dr3i_arch_from_words(meta.words, meta.nwords, meta.action_dim, &d, ls, lp, 40,
                                  &params, who);
        for (size_t i = 0; st == DR3_OK && i < f->n_tensors; i++) {
            const dr3i_st_tensor *t = &f->tensors[i];
            if (strncmp(t->name, "optim.", 6) == 0) continue;
            size_t count = 1;
            for (size_t k = 0; k < t->rank; k++) count *= t->shape[k];
            held += count; /* each bounded by the file's size, checked by the reader */
        }
        if (st == DR3_OK && (held != params || weight_tensors(f) != 2 * (d.num_layers + 1) ||
                             d.in_channels * d.in_height * d.in_width != meta.obs_dim))
            st = dr3i_fail(DR3_ERR_FORMAT,
                           "%s: '%s': its tensors do not hold the network its arch metadata "
                           "describes",
                           who, path);
        d.activation = meta.activation;
        d.activation_param = meta.activation_param;
        if (st == DR3_OK) st = dr3_net_create_desc(&net, &d, &o);
        if (st == DR3_OK) st = check_against_net(net, f, who, path);
    } else if (st == DR3_OK) {
        st = check_against_meta(f, &meta, who, path);
    }
    if (st == DR3_OK && net == NULL) {
        o.obs_dim = meta.obs_dim;
        o.action_dim = meta.action_dim;
        o.num_hidden = meta.num_hidden;
        o.hidden = meta.hidden;
        o.activation = meta.activation;
        o.activation_param = meta.activation_param;
        o.head = meta.head;
        st = dr3_net_create(&net, &o);
    }
    if (st == DR3_OK) st = read_weights(net, &rf, f, net->params);
    dr3i_free(&al, f);
    dr3i_rfile_close(&rf);
    if (st != DR3_OK) {
        dr3_net_free(net);
        return st;
    }
    *out = net;
    return DR3_OK;
}
