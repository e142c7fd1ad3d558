/* Private layout of dr3_replay, shared by the ring buffer (replay.c) and the dataset
 * readers (npy_dataset.c, dqn.c, hdf5.c). */
#ifndef DR3_SRC_REPLAY_REPLAY_INTERNAL_H
#define DR3_SRC_REPLAY_REPLAY_INTERNAL_H

#include <dr3/replay.h>

#include "../core/internal.h"
#include "files.h"

/* Row flags. */
enum {
    DR3I_ROW_TERM = 1,      /* the episode ended in an absorbing state after this step */
    DR3I_ROW_TRUNC = 2,     /* the episode was cut after this step */
    DR3I_ROW_START = 4,     /* first row of an episode: earlier frames are zeros */
    DR3I_ROW_FINAL = 8,     /* observation-only row: s_T of the previous (ended) step */
    DR3I_ROW_NOSAMPLE = 16, /* never a sampled s_t (Dopamine invalid range, padding) */
    DR3I_ROW_PAD = 32       /* Dopamine's zero padding row at an episode start */
};
#define DR3I_ROW_END (DR3I_ROW_TERM | DR3I_ROW_TRUNC)

/* Largest capacity: indices are kept as uint32 in the sampling sets. */
#define DR3I_REPLAY_MAX_ROWS ((size_t)UINT32_MAX - 1)

typedef struct dr3i_map {
    void *addr;
    size_t len;
} dr3i_map;

struct dr3_replay {
    dr3i_alloc alloc;
    dr3_replay_options o; /* normalised copy (allocator hooks live in alloc) */
    size_t obs_elem;      /* bytes per observation element (4 or 1) */
    size_t obs_bytes;     /* bytes per observation row */
    size_t act_width;     /* 1 (discrete) or action_dim */
    size_t state_dim;     /* obs_dim * frame_stack */
    int read_only;

    /* Rows live at physical slots [0, cap); the oldest is at `cursor` once the ring is
     * full (size == cap), at 0 before. */
    size_t cap, size, cursor;
    uint8_t *obs; /* cap × obs_bytes (owned, or inside a mapping) */
    int32_t *act_i;
    float *act_f;
    float *rew;
    uint8_t *flags;

    /* Datasets in the "flat" layout (rows are steps, no FINAL rows): optional explicit
     * next observation / next action of every row. NULL when absent. */
    const uint8_t *next_obs;
    int32_t *next_act_i;
    float *next_act_f;

    /* Sampling sets: A = sampleable, B = sampleable and (a' exists or discount 0). Dense
     * lists of slots plus, for ring buffers, the position of each slot (UINT32_MAX: not in). */
    uint32_t *set[2];
    uint32_t *pos[2];
    size_t set_n[2];
    /* dr3_replay_set_shard (read-only datasets): sampling draws from set[s][shard_lo[s] ..
     * shard_lo[s] + shard_n[s]); shard_n[s] == 0 means the whole set */
    size_t shard_lo[2], shard_n[2];

    /* Ring-buffer episode state. */
    int episode_open;
    int has_pending;
    uint8_t *pending; /* obs_bytes: the next_obs given to the last non-final add */

    /* Owned blocks (freed with alloc) and mappings (munmap'd) of datasets. */
    void *owned[16];
    size_t n_owned;
    dr3i_map maps[2];
    size_t n_maps;
};

/* ---- row topology (physical slots, logical positions) ---- */
static inline size_t dr3i_oldest(const dr3_replay *r) {
    return r->size < r->cap ? 0 : r->cursor;
}
/* Logical position (0 = oldest) of physical slot q. */
static inline size_t dr3i_lpos(const dr3_replay *r, size_t q) {
    return (q + r->cap - dr3i_oldest(r)) % r->cap;
}
static inline int dr3i_stored(const dr3_replay *r, size_t q) {
    return dr3i_lpos(r, q) < r->size;
}
static inline size_t dr3i_prev_slot(const dr3_replay *r, size_t q) {
    return q == 0 ? r->cap - 1 : q - 1;
}
/* The next row of the same episode, if stored. */
static inline int dr3i_next_in_ep(const dr3_replay *r, size_t q, size_t *q2) {
    if (dr3i_lpos(r, q) + 1 >= r->size) return 0;
    size_t n = q + 1 == r->cap ? 0 : q + 1;
    if (r->flags[n] & DR3I_ROW_START) return 0;
    *q2 = n;
    return 1;
}

/* Validates *opts (the fields of its version over the defaults) into *o and *alloc.
 * need_shapes: capacity/obs_dim/actions must be set (dr3_replay_create), else dataset use. */
dr3_status dr3i_replay_opts(dr3_replay_options *o, dr3i_alloc *alloc,
                            const dr3_replay_options *opts, const char *who);

/* Allocates a zeroed handle with the fields derived from o (obs_elem, ...). The arrays are
 * not allocated. */
dr3_status dr3i_replay_new(dr3_replay **out, const dr3_replay_options *o,
                           const dr3i_alloc *alloc, const char *who);

/* Allocates an owned block tracked by the handle (freed by dr3_replay_free). NULL on
 * failure (after recording DR3_ERR_NOMEM with who). */
void *dr3i_replay_own(dr3_replay *r, size_t bytes, const char *who);

/* Frees an owned block early (scratch used while loading). */
void dr3i_replay_disown(dr3_replay *r, void *p);

/* Allocates the ring arrays (obs, actions, rewards, flags, pending, sets with positions)
 * for r->cap rows. */
dr3_status dr3i_replay_alloc_ring(dr3_replay *r, const char *who);

/* Allocates the two sampling lists without positions (read-only datasets) and fills them
 * by classifying every row. */
dr3_status dr3i_replay_build_sets(dr3_replay *r, const char *who);

/* Writes one step/final row at the cursor (no validation) and updates the sets. */
void dr3i_replay_put_row(dr3_replay *r, const void *obs, const void *action, float reward,
                         uint8_t flags);

/* Adds a validated episode chunk (the body of dr3_replay_add_episode without checks). */
void dr3i_replay_put_episode(dr3_replay *r, size_t steps, const void *obs, const void *actions,
                             const float *rewards, int terminal, int truncated);

/* Checks an episode chunk as dr3_replay_add_episode does (ignores read_only). */
dr3_status dr3i_replay_check_episode(const dr3_replay *r, size_t steps, const void *obs,
                                     const void *actions, const float *rewards, int terminal,
                                     int truncated, const char *who);

#endif
