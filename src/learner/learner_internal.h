/* The learner's private state, shared by its files (creation, step, checkpoint). */
#ifndef DR3_SRC_LEARNER_INTERNAL_H
#define DR3_SRC_LEARNER_INTERNAL_H

#include <dr3/learner.h>
#include <dr3/sys/backup.h>
#include <dr3/sys/collective.h>
#include <dr3/sys/regularizer.h>

#include "../core/internal.h"

/* Descriptors of the structs the learner reads for other modules (defined there). */
extern const dr3i_struct_desc dr3i_desc_dr3_optim_options;
extern const dr3i_struct_desc dr3i_desc_dr3_learner_options; /* learner.c */

typedef struct dr3i_learner_reg {
    dr3_regularizer_vtable vt;
    void *payload;
    dr3_regularizer_options builtin; /* payload of built-ins points here */
    int is_builtin;
    int touches_params; /* may add to the parameter gradient */
} dr3i_learner_reg;

/* Data-parallel training (collective.c; experimental dr3_learner_set_collective). */
typedef struct dr3i_learner_coll {
    bool on;                  /* a collective is installed */
    dr3_collective_vtable vt; /* read through its version */
    void *payload;            /* the user's */
    int rank, size;           /* checked at set time */
    uint64_t check_every;     /* fingerprint comparison period (0: the default, 100) */
    bool check_next;          /* compare the full fingerprints at the next step (after load) */
    float *buf;               /* the step's one allreduce: P gradients, then scalars */
    size_t buf_len;           /* its capacity in floats */
} dr3i_learner_coll;

struct dr3_learner {
    dr3i_alloc alloc;
    dr3_learner_options opts; /* copied; pointer fields cleared */
    size_t *hidden;
    size_t param_count, feature_dim;
    dr3_net *online, *target;
    dr3_optim *optim;
    dr3_rng rng;
    uint64_t steps;
    bool from_desc; /* networks from a layer list (experimental dr3_learner_create_desc) */
    /* multi-head Q (experimental): K heads of A Q-values on the shared φ, combined with
     * weights w_k (REM: a random convex combination per batch; ensembles: 1/K) */
    size_t heads;
    int heads_mode;                     /* dr3_heads_mode */
    float *head_w;                      /* K: this step's weights */
    float *last_head_w;                 /* K: those of the last successful step / evaluation */
    float *q_net, *qt_net, *grad_net;   /* 2B × KA, B × KA, 2B × KA (aliases when K = 1) */
    float *head_q, *head_g;             /* B: one head's Q(s, a) and its TD gradient */
    float *fixed_w;                     /* K: REM weights set by dr3_learner_set_head_weights */
    bool have_fixed_w;                  /* use fixed_w instead of drawing REM's weights */
    float *hs_mean_q, *hs_td;           /* K: this step's per-head stats (workspace) */
    float *last_hs_mean_q, *last_hs_td; /* K: those of the last successful step / evaluation */
    float hs_disagreement, last_hs_disagreement;
    /* uint8 replays (dr3_learner_step_replay, layer-list networks): the sampled [s; s'] as
     * raw frames, 2B × S bytes, fed to dr3_net_forward_u8 without a float batch */
    uint8_t *stacked_u8;
    bool u8_path; /* use it for uint8 replays with u8_scale "unit" (default on) */

    dr3_backup_vtable backup_vt;
    void *backup_payload;
    dr3_backup_options backup_opts;
    bool backup_builtin; /* backup_vt is one of the library's (reads what its needs say) */

    dr3i_learner_reg *reg; /* num_reg entries (capacity reg_cap), grown outside steps */
    size_t num_reg, reg_cap;

    /* workspace, B = batch_size rows, A actions, D features, S observation floats */
    float *stacked;  /* 2B × S: [s; s'] */
    float *q_all;    /* 2B × A: online Q(s,·) then Q(s',·) */
    float *q_target; /* B × A: target Q(s',·) */
    float *values, *targets, *q_taken, *g_taken, *discounts, *nonterminal; /* B */
    float *grad_out;                                                       /* 2B × A */
    float *grad_feat;                                                      /* 2B × D */
    float *phi_next_buf;  /* B × D: online φ(s') of a lean step (step.c), when measured */
    float *scratch;       /* B × A, for backups */
    float *param_grad;    /* P: direct parameter gradients of regularizers */
    float *reg_loss;      /* reg_cap: this step's regularizer losses (workspace) */
    float *last_reg_loss; /* reg_cap: those of the last successful step / evaluation */
    int have_last;        /* a step or evaluation has succeeded */
    double *srank_work;
    size_t srank_work_len;
    /* replay sampling buffers */
    float *rb_obs, *rb_next_obs, *rb_rewards, *rb_discounts;
    int32_t *rb_actions, *rb_next_actions;
    uint8_t *rb_terminals;
    dr3i_learner_coll coll; /* data-parallel replicas (collective.c) */
};

/* ---- collective.c: the data-parallel parts of the learner ---------------------------- */

/* The data-parallel stage of a step, between backward and optimize: one allreduce over the
 * gradients (weighted by the n rows), the loss parts and a fingerprint; writes the averages
 * back into the online network's gradient, *td_loss, *total_loss and l->reg_loss. @p local
 * is this rank's status so far: a failed rank still takes part (with a failure flag) so
 * that every rank fails the step together. Returns @p local (its message kept) or the
 * stage's own error; nothing but workspace is written. No allocation. */
dr3_status dr3i_collective_reduce(dr3_learner *l, dr3_status local, size_t n, float *td_loss,
                                  double *total_loss, const char *who);
/* Grows the reduce buffer for @p num_reg regularizers (outside steps). All-or-nothing. */
dr3_status dr3i_collective_reserve(dr3_learner *l, size_t num_reg, const char *who);
/* After dr3_learner_load: re-splits the loaded generator by rank and asks for a full
 * fingerprint comparison at the next step. Nothing without a collective. Cannot fail. */
void dr3i_collective_after_load(dr3_learner *l);
/* Calls the collective's destroy and frees its buffer (dr3_learner_free). */
void dr3i_collective_free(dr3_learner *l);

#endif
