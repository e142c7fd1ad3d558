/* Private state of the actor-critic learner (dr3/ac.h). One file per stage:
 * ac.c (options, creation, getters, acting), step.c (the update), checkpoint.c (files). */
#ifndef DR3_SRC_AC_AC_INTERNAL_H
#define DR3_SRC_AC_AC_INTERNAL_H

#include <dr3/ac.h>
#include <dr3/sys/collective.h>
#include <dr3/sys/continuous.h>
#include <dr3/optim.h>
#include <dr3/rng.h>

#include "../core/internal.h"

#define DR3I_AC_MAX_HIDDEN 64

extern const dr3i_struct_desc dr3i_desc_dr3_ac_options;
extern const dr3i_struct_desc dr3i_desc_dr3_ac_batch;
extern const dr3i_struct_desc dr3i_desc_dr3_ac_metrics;

struct dr3_ac_learner {
    dr3i_alloc alloc;
    dr3_allocator hooks; /* the same hooks, for the networks and optimizers */
    dr3_ac_options o;    /* normalised; pointer fields point at the arrays below */
    float *low, *high;   /* action box (action_dim each) */
    size_t critic_hidden[DR3I_AC_MAX_HIDDEN], actor_hidden[DR3I_AC_MAX_HIDDEN];
    size_t nq; /* critics: 1 or 2 */
    size_t obs_dim, adim, n_max, ncql;
    size_t rows_max; /* rows of the critics' stacked pass */
    dr3_net *q[2], *qt[2], *pi, *pit;
    dr3_optim *q_opt[2], *pi_opt, *alpha_opt, *cql_opt;
    float log_alpha, log_cql_alpha;     /* scalar parameters (Adam through dr3_optim) */
    float g_log_alpha, g_log_cql_alpha; /* their gradients this step */
    dr3_rng rng, act_rng;
    uint64_t steps;

    /* plugins (dr3/sys/continuous.h) */
    bool has_backup;
    dr3_ac_backup_vtable backup;
    void *backup_payload;
    size_t nreg;
    dr3_ac_regularizer_vtable reg[DR3_AC_MAX_REGULARIZERS];
    void *reg_payload[DR3_AC_MAX_REGULARIZERS];
    float reg_loss[DR3_AC_MAX_REGULARIZERS];      /* last step's, summed over critics */
    float reg_loss_step[DR3_AC_MAX_REGULARIZERS]; /* this step's, kept only on success */

    /* data-parallel replicas (collective.c) */
    struct {
        bool on;
        dr3_collective_vtable vt;
        void *payload;
        int rank, size;
        float *buf;      /* the step's allreduce buffer */
        size_t len;      /* its floats */
        uint64_t every;  /* full-state fingerprint every this many steps */
        bool check_next; /* compare the full state at the next step (after a load) */
        /* TD3+BC: λ = α / mean|Q| over the rows of all ranks, so each rank keeps the two
         * parts of its actor gradient apart until the allreduce: the Q part (λ = 1) in the
         * actor's grads, the behaviour-cloning part here, with its sums of |Q|, Q and the
         * squared BC error */
        float *bc_grad;
        double td3_abs_q, td3_q, td3_bc;
    } coll;

    /* ---- workspace, sized at creation ---- */
    /* the critics' stacked rows: CQL 3N per row (3Nn) ; [s,a] (n) ; [s',a'] (n) */
    float *big_obs, *big_act; /* rows_max × obs_dim / adim */
    float *q_out;             /* rows_max */
    float *q_gout;            /* rows_max */
    float *q_gfeat;           /* 2 n_max × feature_dim: dL/dφ of [s, a; s′, a′] */
    float *q_ginput;          /* n_max × (obs_dim + adim) */
    float *y;                 /* n_max targets */
    float *qt_min;            /* n_max */
    float *qt_vals;           /* 2 × n_max: target critics at (s′, a′), critic-major */
    float *v_next;            /* n_max: V(s′) */
    float *next_logp;         /* n_max: log π(a'|s') */
    float *pi_out_next;       /* n_max × 2·adim actor outputs at s' */
    float *pi_out;            /* n_max × 2·adim actor outputs at s */
    float *pi_gout;           /* n_max × 2·adim */
    float *a_tilde, *u_tilde, *logp; /* actor sample at s: n × adim, n × adim, n */
    float *q_pi[2];                  /* n_max: Q_j(s, ã) */
    float *g_a;                      /* n_max × adim: dL_actor / dã */
    float *data_act, *data_next_act; /* normalised a and a' (n × adim) */
    float *cql_logp;                 /* 2 N n: log-probs of the CQL policy actions */
    float *cql_grad_q;               /* 3 N n: softmax weights of one critic */
    /* the second critic's own copies of q_out, q_gout, q_gfeat and cql_grad_q (twin critics
     * only), so that the two critics' passes can run at the same time (step.c) */
    float *q_out2, *q_gout2, *q_gfeat2, *cql_grad_q2, *q_ginput2;
    float *discount; /* n */
    /* draws made by the learner when the batch does not supply them */
    float *d_eps_next, *d_eps_actor, *d_cql_uniform, *d_cql_eps_obs, *d_cql_eps_next,
        *d_td3_noise;
    double *normal_u; /* 2 × the largest of those: uniforms for a threaded normal fill */
    size_t normal_max;
    /* replay sampling buffers */
    float *r_obs, *r_next_obs, *r_act, *r_next_act, *r_rew, *r_disc;
    uint8_t *r_term, *r_valid;
    int32_t *r_steps;
    size_t *r_idx;
};

/* Creation shared by dr3_ac_learner_create and dr3_ac_learner_open. */
dr3_status dr3i_ac_create(dr3_ac_learner **out, const dr3_ac_options *opts, const char *who);

/* Normalised action a_n = 2 (a − low)/(high − low) − 1 for n rows. */
void dr3i_ac_normalize(const dr3_ac_learner *l, size_t n, const float *a, size_t ld,
                       float *out);
/* Actor head at rows of actor output (2·adim per row: mean, log-std): clamped log-std. */
static inline float dr3i_ac_clamp(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Checkpoint bytes (checkpoint.c): the whole state, CRC-terminated, allocated with l's
 * hooks; and the reverse, building a new learner. */
dr3_status dr3i_ac_serialize(const dr3_ac_learner *l, uint8_t **out, size_t *len);
dr3_status dr3i_ac_parse(dr3_ac_learner **out, const uint8_t *p, size_t len,
                         const dr3_ac_options *runtime, const dr3i_alloc *a, const char *path,
                         const char *who);
/* Takes t's state into l (l keeps its plugins and collective) and frees t with l's old
 * state. */
void dr3i_ac_adopt(dr3_ac_learner *l, dr3_ac_learner *t);

/* Collective (collective.c). The step packs its gradients (times its rows) and losses,
 * allreduces them and unpacks the averages; a local failure still takes part (flagged). */
typedef struct dr3i_ac_reduce {
    size_t n; /* rows of this rank's batch */
    bool actor_step;
    double td, critic_loss, actor_loss; /* local means */
} dr3i_ac_reduce;
dr3_status dr3i_ac_coll_step(dr3_ac_learner *l, dr3_status local, dr3i_ac_reduce *r,
                             const char *who);
void dr3i_ac_coll_after_load(dr3_ac_learner *l);
void dr3i_ac_coll_free(dr3_ac_learner *l);

/* Plugins (plugins.c): the learner drops them at free. */
void dr3i_ac_drop_plugins(dr3_ac_learner *l);

#endif /* DR3_SRC_AC_AC_INTERNAL_H */
