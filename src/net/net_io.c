/* Network weights as safetensors (dr3_net_save / dr3_net_load / dr3_net_open). */
#include "../io/safetensors.h"
#include "net_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *head_name(dr3_head_kind h) {
    return h == DR3_HEAD_CRITIC ? "critic" : "discrete_q";
}

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
        state = malloc(state_len);
        if (state == NULL) return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
        if ((st = dr3_optim_state_save(optim, state, state_len)) != DR3_OK) {
            free(state);
            return st;
        }
    }
    dr3i_st_out *t = calloc(2 * L + 1, sizeof *t);
    char(*names)[32] = calloc(2 * L, sizeof *names);
    if (t == NULL || names == NULL) {
        free(t);
        free(names);
        free(state);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    for (size_t l = 0; l < L; l++) {
        const dr3i_layer *ly = &net->layers[l];
        snprintf(names[2 * l], 48, "layers.%zu.weight", 2 * l);
        snprintf(names[2 * l + 1], 48, "layers.%zu.bias", 2 * l);
        t[2 * l] =
            (dr3i_st_out){names[2 * l], 2, {ly->out, ly->in}, net->params + ly->w_off, 0};
        t[2 * l + 1] =
            (dr3i_st_out){names[2 * l + 1], 1, {ly->out, 0}, net->params + ly->b_off, 0};
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
    const char *const meta[][2] = {{"format", "libdr3.net"},
                                   {"format_version", "1"},
                                   {"obs_dim", obs},
                                   {"action_dim", act},
                                   {"head", head_name(net->opts.head)},
                                   {"hidden", hidden},
                                   {"activation", dr3i_activation_name(net->opts.activation)},
                                   {"activation_param", param}};
    size_t nt = 2 * L;
    if (state != NULL) t[nt++] = (dr3i_st_out){"optim.state", 1, {state_len, 0}, state, 1};
    dr3_status st = dr3i_st_write(path, t, nt, meta, sizeof meta / sizeof meta[0], who);
    free(t);
    free(names);
    free(state);
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

/* Checks that file f holds exactly this network's tensors (names, F32, shapes) with finite
 * values. */
static dr3_status check_tensors(const dr3_net *net, const dr3i_st_file *f, const char *who,
                                const char *path) {
    size_t weights = 0; /* tensors other than the optimizer's */
    for (size_t i = 0; i < f->n_tensors; i++)
        weights += strncmp(f->tensors[i].name, "optim.", 6) != 0;
    if (weights != 2 * net->num_layers)
        return dr3i_fail(DR3_ERR_SHAPE,
                         "%s: '%s' has %zu weight tensors, the network needs %zu", who, path,
                         weights, 2 * net->num_layers);
    for (size_t l = 0; l < net->num_layers; l++) {
        const dr3i_layer *ly = &net->layers[l];
        for (int k = 0; k < 2; k++) {
            char name[48];
            snprintf(name, sizeof name, "layers.%zu.%s", 2 * l, k ? "bias" : "weight");
            const dr3i_st_tensor *t = dr3i_st_find(f, name);
            if (t == NULL)
                return dr3i_fail(DR3_ERR_SHAPE, "%s: '%s' has no tensor '%s'", who, path, name);
            if (strcmp(t->dtype, "F32") != 0)
                return dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': tensor '%s' is %s, not F32", who,
                                 path, name, t->dtype);
            bool ok = k ? (t->rank == 1 && t->shape[0] == ly->out)
                        : (t->rank == 2 && t->shape[0] == ly->out && t->shape[1] == ly->in);
            if (!ok)
                return dr3i_fail(DR3_ERR_SHAPE, "%s: '%s': tensor '%s' has the wrong shape",
                                 who, path, name);
            size_t count = k ? ly->out : ly->out * ly->in;
            for (size_t i = 0; i < count; i++) {
                float v;
                memcpy(&v, t->data + i * sizeof(float), sizeof v);
                if (!isfinite(v))
                    return dr3i_fail(DR3_ERR_NONFINITE,
                                     "%s: '%s': tensor '%s' holds NaN or Inf", who, path, name);
            }
        }
    }
    return DR3_OK;
}

static void copy_tensors(dr3_net *net, const dr3i_st_file *f) {
    for (size_t l = 0; l < net->num_layers; l++) {
        const dr3i_layer *ly = &net->layers[l];
        char name[48];
        snprintf(name, sizeof name, "layers.%zu.weight", 2 * l);
        memcpy(net->params + ly->w_off, dr3i_st_find(f, name)->data,
               ly->out * ly->in * sizeof(float));
        snprintf(name, sizeof name, "layers.%zu.bias", 2 * l);
        memcpy(net->params + ly->b_off, dr3i_st_find(f, name)->data, ly->out * sizeof(float));
    }
}

static dr3_status read_parse(const char *path, unsigned char **buf, dr3i_st_file **f,
                             const char *who) {
    size_t len;
    dr3_status st = dr3i_read_file(path, buf, &len, who);
    if (st != DR3_OK) return st;
    *f = malloc(sizeof **f);
    if (*f == NULL) {
        free(*buf);
        return dr3i_fail(DR3_ERR_NOMEM, "%s: out of memory", who);
    }
    st = dr3i_st_parse(*buf, len, *f, who, path);
    if (st != DR3_OK) {
        free(*f);
        free(*buf);
    }
    return st;
}

static dr3_status load_impl(dr3_net *net, dr3_optim *optim, const char *path, const char *who) {
    if (net == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, net ? "path" : "net");
    unsigned char *buf;
    dr3i_st_file *f;
    dr3_status st = read_parse(path, &buf, &f, who);
    if (st != DR3_OK) return st;
    /* libdr3's metadata, when present, must agree (activation and head are not visible in
     * the tensor shapes) */
    const char *act = dr3i_st_meta(f, "activation"), *head = dr3i_st_meta(f, "head");
    if (act != NULL && strcmp(act, dr3i_activation_name(net->opts.activation)) != 0)
        st = dr3i_fail(DR3_ERR_SHAPE,
                       "%s: '%s' was saved with activation %s, the network uses %s", who, path,
                       act, dr3i_activation_name(net->opts.activation));
    else if (head != NULL && strcmp(head, head_name(net->opts.head)) != 0)
        st = dr3i_fail(DR3_ERR_SHAPE, "%s: '%s' has a %s head, the network a %s head", who,
                       path, head, head_name(net->opts.head));
    if (st == DR3_OK) st = check_tensors(net, f, who, path);
    if (st == DR3_OK && optim != NULL) {
        /* the optimizer validates its whole state before writing; the weights' copy that
         * follows cannot fail, so both change or neither does */
        const dr3i_st_tensor *os = dr3i_st_find(f, "optim.state");
        if (os == NULL || strcmp(os->dtype, "U8") != 0 || os->rank != 1)
            st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s' holds no optimizer state", who, path);
        else
            st = dr3_optim_state_load(optim, os->data, os->end - os->begin);
    }
    if (st == DR3_OK) copy_tensors(net, f);
    free(f);
    free(buf);
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

static int parse_size(const char *s, size_t *out) {
    if (s == NULL || *s == '\0') return 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || s[0] == '-') return 0;
    *out = (size_t)v;
    return 1;
}

dr3_status dr3_net_open(dr3_net **out, const char *path, const dr3_net_options *rt) {
    static const char who[] = "dr3_net_open";
    if (out == NULL || path == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "%s: %s is NULL", who, out ? "path" : "out");
    *out = NULL;
    unsigned char *buf;
    dr3i_st_file *f;
    dr3_status st = read_parse(path, &buf, &f, who);
    if (st != DR3_OK) return st;
    dr3_net_options o;
    st = dr3i_struct_in(&o, rt, &dr3i_desc_dr3_net_options, true, who, "runtime options");
    if (rt == NULL) o.max_batch = 1;
    size_t hidden[64], nh = 0;
    const char *fmt = dr3i_st_meta(f, "format"), *hs = dr3i_st_meta(f, "hidden");
    const char *act = dr3i_st_meta(f, "activation"), *head = dr3i_st_meta(f, "head");
    const char *param = dr3i_st_meta(f, "activation_param");
    if (st != DR3_OK) {
        /* the caller's runtime options were refused: keep that message */
    } else if (fmt == NULL || strcmp(fmt, "libdr3.net") != 0 || hs == NULL || act == NULL ||
               head == NULL || !parse_size(dr3i_st_meta(f, "obs_dim"), &o.obs_dim) ||
               !parse_size(dr3i_st_meta(f, "action_dim"), &o.action_dim))
        st = dr3i_fail(DR3_ERR_FORMAT,
                       "%s: '%s' has no libdr3 architecture metadata (create the network and "
                       "use dr3_net_load)",
                       who, path);
    for (const char *p = hs; st == DR3_OK && p && *p;) {
        char *end;
        unsigned long long w = strtoull(p, &end, 10);
        if (end == p || nh >= 64 || w == 0)
            st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': bad hidden metadata '%s'", who, path, hs);
        hidden[nh++] = (size_t)w;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': bad hidden metadata '%s'", who, path, hs);
    }
    if (st == DR3_OK) {
        int found = 0;
        for (int a = 0; a < 5; a++)
            if (strcmp(act, dr3i_activation_name((dr3_activation)a)) == 0) {
                o.activation = (dr3_activation)a;
                found = 1;
            }
        if (!found)
            st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': unknown activation '%s'", who, path, act);
        if (strcmp(head, "critic") == 0)
            o.head = DR3_HEAD_CRITIC;
        else if (strcmp(head, "discrete_q") == 0)
            o.head = DR3_HEAD_DISCRETE_Q;
        else
            st = dr3i_fail(DR3_ERR_FORMAT, "%s: '%s': unknown head '%s'", who, path, head);
        o.activation_param = param ? strtof(param, NULL) : 0.0f;
    }
    o.num_hidden = nh;
    o.hidden = hidden;
    dr3_net *net = NULL;
    if (st == DR3_OK) st = dr3_net_create(&net, &o);
    if (st == DR3_OK) st = check_tensors(net, f, who, path);
    if (st == DR3_OK) copy_tensors(net, f);
    free(f);
    free(buf);
    if (st != DR3_OK) {
        dr3_net_free(net);
        return st;
    }
    *out = net;
    return DR3_OK;
}
