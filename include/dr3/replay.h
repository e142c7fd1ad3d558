/**
 * @file dr3/replay.h
 * @brief Replay buffers and offline datasets: a fixed-capacity ring buffer filled by
 *        transitions or whole episodes, uniform n-step sampling into caller-owned arrays, and
 *        readers/writers for the dataset formats RL people hold (.npy directories, the DQN
 *        Replay Dataset, D4RL and Minari HDF5). docs/datasets.md describes every layout.
 *
 * Model. A replay handle stores *rows* in a ring of `capacity` rows. A row is one step of an
 * episode: observation s_t, action a_t, reward r_t and the flags terminal_t (the episode ended
 * in an absorbing state: do not bootstrap) and truncated_t (the episode was cut, e.g. a time
 * limit: bootstrap from s_{t+1}). The next observation of a step is the observation of the
 * next row of the same episode, so each observation is stored once; at the end of an episode
 * the final observation s_T is stored as an extra observation-only row. Transition t is
 * *sampleable* when everything its n-step target needs is stored:
 *   - k = min(n_step, steps until the episode ends at or after t); the target reads
 *     R = sum_{j<k} gamma^j r_{t+j}, discount = gamma^k * (1 - terminal), s' = s_{t+k},
 *     a' = the dataset's action at s_{t+k};
 *   - s_{t+k} must be stored (a transition whose window reaches the newest row, or a
 *     truncated end without a final observation, is never sampled); after a terminal step s'
 *     is not needed by the target; when no final observation was given, its newest frame
 *     is zeros (older frames, with frame stacking, are those of s_t, as in Dopamine);
 *   - with frame stacking (frame_stack = K > 1) the K-1 previous observations of s_t must be
 *     stored too (frames before the start of an episode are zeros).
 * The dataset action a' at s_{t+k} does not exist when s_{t+k} is the final observation of a
 * truncated episode. Such a transition is still sampleable for Q-learning style targets;
 * a sampler that asks for next actions (dr3_replay_batch::need_next_action) draws only from
 * transitions whose a' exists or whose discount is 0, and every batch reports per row
 * whether a' was available (dr3_replay_batch::next_action_valid).
 *
 * Threading: one handle may be used by one thread at a time; sampling from a read-only
 * handle (a dataset) from several threads at once is safe when each thread has its own RNG
 * and batch.
 */
#ifndef DR3_REPLAY_H
#define DR3_REPLAY_H

#include <dr3/common.h>
#include <dr3/rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A replay buffer or an opened dataset. Opaque; see dr3_replay_create(). */
typedef struct dr3_replay dr3_replay;

/** Element type of stored observations. Values are fixed. */
typedef enum dr3_dtype {
    DR3_DTYPE_F32 = 0, /**< 32-bit float (vector observations). */
    DR3_DTYPE_U8 = 1   /**< 8-bit unsigned (pixels); sampled as floats or raw bytes. */
} dr3_dtype;

/** @brief A static name for a ::dr3_dtype value ("f32", "u8"), or NULL for an
 *  unknown value. Thread-safe. */
DR3_API const char *dr3_dtype_name(dr3_dtype value);

/** @brief Parses a name given by dr3_dtype_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_dtype_parse(dr3_dtype *out, const char *name);

/** What an action is. Values are fixed. */
typedef enum dr3_action_kind {
    DR3_ACTION_DISCRETE = 0,  /**< One int32 index in [0, num_actions). */
    DR3_ACTION_CONTINUOUS = 1 /**< A vector of action_dim finite floats. */
} dr3_action_kind;

/** @brief A static name for a ::dr3_action_kind value ("discrete", "continuous"), or NULL for
 * an unknown value. Thread-safe. */
DR3_API const char *dr3_action_kind_name(dr3_action_kind value);

/** @brief Parses a name given by dr3_action_kind_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_action_kind_parse(dr3_action_kind *out, const char *name);

/** How uint8 observations become floats in a batch. Values are fixed. */
typedef enum dr3_u8_scale {
    DR3_U8_SCALE_UNIT = 0, /**< x / 255, in [0, 1] (the default). */
    DR3_U8_SCALE_RAW = 1   /**< x as is, in [0, 255]. */
} dr3_u8_scale;

/** @brief A static name for a ::dr3_u8_scale value ("unit", "raw"), or NULL for an
 *  unknown value. Thread-safe. */
DR3_API const char *dr3_u8_scale_name(dr3_u8_scale value);

/** @brief Parses a name given by dr3_u8_scale_name() into @p out. Returns
 *  ::DR3_ERR_INVALID_ARG for NULL or an unknown name (@p out unchanged). */
DR3_API dr3_status dr3_u8_scale_parse(dr3_u8_scale *out, const char *name);

/** Version of ::dr3_replay_options in this header (1: as released in 1.0). */
#define DR3_REPLAY_OPTIONS_VERSION 1

/**
 * @brief Options of a replay buffer (dr3_replay_create()) or of an opened dataset.
 *
 * For dataset readers the shapes come from the file: `capacity`, `obs_dtype` and
 * `action_kind` are ignored (taken from the file), `obs_dim` and `action_dim` are either 0
 * or checked against the file (::DR3_ERR_SHAPE), and `num_actions` is either 0 (taken as
 * 1 + the largest action in the file, refused with ::DR3_ERR_RANGE above 65,536 so that a
 * corrupt action cannot size a huge network) or a bound every action is checked against
 * (::DR3_ERR_RANGE). `frame_stack`, `n_step`, `gamma`, `u8_scale` and `allocator`
 * always apply.
 */
typedef struct dr3_replay_options {
    unsigned version;            /**< ::DR3_REPLAY_OPTIONS_VERSION; set by the _INIT macro or
                                    dr3_replay_options_init(). */
    size_t capacity;             /**< Rows kept (steps plus one final row per episode), >= 2,
                                      < 2^32 - 1. The oldest rows are overwritten. */
    size_t obs_dim;              /**< Elements of one observation (flattened), >= 1. */
    dr3_dtype obs_dtype;         /**< Element type of observations. */
    dr3_action_kind action_kind; /**< Discrete or continuous actions. */
    size_t num_actions;          /**< Discrete: number of actions (indices are checked). */
    size_t action_dim;           /**< Continuous: floats per action. */
    size_t frame_stack;          /**< K >= 1: a sampled state is the last K observations. */
    size_t n_step;               /**< n >= 1: length of the return in each transition. */
    float gamma;                 /**< Discount in [0, 1]. */
    dr3_u8_scale u8_scale;       /**< Float conversion of uint8 observations. */
    dr3_allocator allocator;     /**< Memory hooks for every allocation of the handle. */
} dr3_replay_options;

/** Initializer for ::dr3_replay_options: every field listed. capacity, obs_dim and
 *  num_actions/action_dim must be set before dr3_replay_create(). */
#define DR3_REPLAY_OPTIONS_INIT                                                                \
    {                                                                                          \
        DR3_REPLAY_OPTIONS_VERSION, 0, 0, DR3_DTYPE_F32, DR3_ACTION_DISCRETE, 0, 0, 1, 1,      \
            0.99f, DR3_U8_SCALE_UNIT, DR3_ALLOCATOR_INIT                                       \
    }

/** @brief Fills @p s with the defaults of ::DR3_REPLAY_OPTIONS_INIT for struct version @p
 * version (pass ::DR3_REPLAY_OPTIONS_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_replay_options_init(dr3_replay_options *s, unsigned version);

/** Version of ::dr3_replay_batch in this header (1: as released in 1.0). */
#define DR3_REPLAY_BATCH_VERSION 1

/**
 * @brief Where a batch goes: caller-owned arrays for n transitions. Every output pointer may
 * be NULL (not wanted). Rows of 2-D outputs are `ld_*` elements apart (ld >= the row width).
 *
 * With state_dim = obs_dim * frame_stack (dr3_replay_state_dim()), a state row holds the K
 * frames oldest first: [s_{t-K+1} | ... | s_t], each obs_dim elements.
 */
typedef struct dr3_replay_batch {
    unsigned version;         /**< ::DR3_REPLAY_BATCH_VERSION; set by the _INIT macro or
                                 dr3_replay_batch_init(). */
    int need_next_action;     /**< Input: if nonzero, draw (and accept in dr3_replay_get())
                                   only transitions whose a' exists or whose discount is 0. */
    float *obs;               /**< n × state_dim floats, s_t (uint8 converted by u8_scale). */
    size_t ld_obs;            /**< Row stride of obs. */
    float *next_obs;          /**< n × state_dim floats, s' = s_{t+k}. */
    size_t ld_next_obs;       /**< Row stride of next_obs. */
    uint8_t *obs_u8;          /**< uint8 datasets only: n × state_dim raw bytes of s_t. */
    size_t ld_obs_u8;         /**< Row stride of obs_u8. */
    uint8_t *next_obs_u8;     /**< uint8 datasets only: n × state_dim raw bytes of s'. */
    size_t ld_next_obs_u8;    /**< Row stride of next_obs_u8. */
    int32_t *actions;         /**< Discrete: n action indices a_t. */
    int32_t *next_actions;    /**< Discrete: n indices a' (0 where next_action_valid is 0). */
    float *actions_f;         /**< Continuous: n × action_dim, a_t. */
    size_t ld_actions_f;      /**< Row stride of actions_f. */
    float *next_actions_f;    /**< Continuous: n × action_dim, a' (zeros where invalid). */
    size_t ld_next_actions_f; /**< Row stride of next_actions_f. */
    uint8_t *next_action_valid; /**< n flags: 1 if a' is the dataset's action at s'. */
    float *rewards;             /**< n discounted k-step returns sum_{j<k} gamma^j r_{t+j}. */
    float *discounts;           /**< n values gamma^k * (1 - terminal). */
    uint8_t *terminals;         /**< n flags: 1 if the window ended in a terminal step. */
    int32_t *steps;             /**< n values k (1..n_step). */
    size_t *indices;            /**< n row indices t (usable with dr3_replay_get()). */
} dr3_replay_batch;

/** Initializer for ::dr3_replay_batch: nothing requested. */
#define DR3_REPLAY_BATCH_INIT                                                                  \
    {                                                                                          \
        DR3_REPLAY_BATCH_VERSION, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, NULL, 0,  \
            NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL                                        \
    }

/** @brief Fills @p s with the defaults of ::DR3_REPLAY_BATCH_INIT for struct version @p version
 *  (pass ::DR3_REPLAY_BATCH_VERSION), for language bindings that cannot use C macros.
 *  Errors: ::DR3_ERR_INVALID_ARG (NULL), ::DR3_ERR_VERSION (0 or newer than the
 *  library). Thread-safe. */
DR3_API dr3_status dr3_replay_batch_init(dr3_replay_batch *s, unsigned version);

/**
 * @brief Creates an empty ring buffer with room for opts->capacity rows.
 *
 * All memory (rows, index sets for sampling) is allocated here; adding and sampling never
 * allocate. Errors: ::DR3_ERR_INVALID_ARG (NULL, capacity < 2 or >= 2^32 - 1, obs_dim 0,
 * bad enum, num_actions 0 or > INT32_MAX for discrete, action_dim 0 for continuous,
 * frame_stack or n_step 0, gamma outside [0, 1], half-set allocator), ::DR3_ERR_OVERFLOW,
 * ::DR3_ERR_NOMEM. On failure *out is NULL.
 */
DR3_API dr3_status dr3_replay_create(dr3_replay **out, const dr3_replay_options *opts);

/** @brief Releases a replay handle (and unmaps its files). NULL is a no-op. */
DR3_API void dr3_replay_free(dr3_replay *r);

/**
 * @brief Appends one step (s_t, a_t, r_t, terminal_t, truncated_t) of the current episode.
 *
 * @p obs is obs_dim elements of the buffer's dtype (float or uint8). @p action points to one
 * int32 (discrete) or action_dim floats (continuous). The observation after this step is
 * given by the next call within the episode, so each observation is stored once:
 *  - terminal or truncated nonzero ends the episode; @p next_obs is then the final
 *    observation s_{t+1}, stored as an observation-only row. It is required when only
 *    truncated is set (the target bootstraps from it) and optional after a terminal step
 *    (NULL: the newest frame of s' reads as zeros; the target does not use it). The next call
 * starts a new episode.
 *  - otherwise @p next_obs may be NULL, or s_{t+1} as a check: the next call's @p obs must
 *    then be bitwise equal to it (::DR3_ERR_INVALID_ARG otherwise), so callers holding
 *    (s, a, r, s', done) tuples can pass them as they are.
 * Errors (the buffer is unchanged): ::DR3_ERR_INVALID_ARG (NULL pointers, flags not 0/1,
 * missing next_obs after a truncation, obs not continuing the previous next_obs),
 * ::DR3_ERR_NONFINITE (NaN/Inf in obs, next_obs, continuous action or reward),
 * ::DR3_ERR_RANGE (discrete action outside [0, num_actions)), ::DR3_ERR_STATE (read-only
 * dataset handle). Never allocates.
 */
DR3_API dr3_status dr3_replay_add(dr3_replay *r, const void *obs, const void *action,
                                  float reward, int terminal, int truncated,
                                  const void *next_obs);

/**
 * @brief Appends a whole episode (or a chunk of one) of @p steps steps.
 *
 * @p obs holds steps + 1 observations (the last is the observation after the last step),
 * @p actions steps actions (int32 or steps × action_dim floats), @p rewards steps floats.
 * @p terminal / @p truncated apply to the last step (both 0: the episode stays open and
 * continues with the next add, whose first observation must equal obs[steps]). Equivalent
 * to dr3_replay_add() per step with next_obs = obs[t+1], but everything is validated
 * before the first row is written. Errors as dr3_replay_add(); steps = 0 is invalid.
 */
DR3_API dr3_status dr3_replay_add_episode(dr3_replay *r, size_t steps, const void *obs,
                                          const void *actions, const float *rewards,
                                          int terminal, int truncated);

/**
 * @brief Draws @p n transitions uniformly (with replacement) among the sampleable ones,
 * using @p rng, and writes the requested outputs of @p out.
 *
 * Never allocates and never returns a transition whose s' is missing. The choice of rows
 * depends only on the RNG state, the stored rows and need_next_action, so the same seed
 * gives the same batch. Errors (outputs and @p rng untouched): ::DR3_ERR_INVALID_ARG (NULL,
 * an ld smaller than the row width, a uint8 output on a float buffer, a discrete output on a
 * continuous buffer or the reverse), ::DR3_ERR_STATE (n > 0 and nothing is sampleable).
 */
DR3_API dr3_status dr3_replay_sample(const dr3_replay *r, dr3_rng *rng, size_t n,
                                     dr3_replay_batch *out);

/**
 * @brief Fetches the transitions at the given row @p indices (for tests and fixed
 * evaluation sets), as dr3_replay_sample() would have written them.
 * Errors: as dr3_replay_sample(), plus ::DR3_ERR_RANGE if an index is not a sampleable
 * transition (with out->need_next_action: one whose a' exists or whose discount is 0).
 */
DR3_API dr3_status dr3_replay_get(const dr3_replay *r, const size_t *indices, size_t n,
                                  dr3_replay_batch *out);

/** @brief Rows stored (steps and final observations, at most the capacity); 0 for NULL. */
DR3_API size_t dr3_replay_size(const dr3_replay *r);
/** @brief Rows the handle can hold; for a dataset, the rows it has. 0 for NULL. */
DR3_API size_t dr3_replay_capacity(const dr3_replay *r);
/** @brief Floats in one sampled state: obs_dim × frame_stack. 0 for NULL. */
DR3_API size_t dr3_replay_state_dim(const dr3_replay *r);
/** @brief 1 for dataset handles (adds fail with ::DR3_ERR_STATE), 0 for ring buffers. */
DR3_API int dr3_replay_is_read_only(const dr3_replay *r);

/**
 * @brief Number of sampleable transitions (with @p need_next_action: those whose a' exists
 * or whose discount is 0). 0 for NULL.
 */
DR3_API size_t dr3_replay_valid_count(const dr3_replay *r, int need_next_action);

/**
 * @brief Writes the row indices of the sampleable transitions, oldest first, into
 * @p out (room for @p max), and their total number into @p count (which may exceed @p max:
 * only the first @p max are written). @p out may be NULL when @p max is 0.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL r or count, NULL out with max > 0).
 */
DR3_API dr3_status dr3_replay_valid_indices(const dr3_replay *r, int need_next_action,
                                            size_t *out, size_t max, size_t *count);

/**
 * @brief Copies the handle's options (shapes from the file for datasets) into @p out,
 * the fields of its version. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_VERSION.
 */
DR3_API dr3_status dr3_replay_get_options(dr3_replay_options *out, const dr3_replay *r);

/* ---- datasets ------------------------------------------------------------------------- */

/**
 * @brief Opens a directory of .npy files (observations.npy, actions.npy, rewards.npy,
 * terminals.npy, optional timeouts.npy, next_observations.npy, next_actions.npy; layout in
 * docs/datasets.md) as a read-only handle.
 *
 * Observations (and next observations) are memory-mapped, not read: a dataset larger than
 * RAM can be sampled. float64 arrays (numpy's default) are accepted and converted to float32
 * in memory once, so they are not memapped (save them with `x.astype(np.float32)` to keep
 * the mapping). Actions, rewards and flags are read into memory (about 10 bytes per
 * row plus the actions). Every header is validated (magic, version 1/2/3, dtype, C order,
 * shape against the file size, agreement of lengths between files) and float observations
 * and rewards are checked to be finite, so opening reads each file once.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_IO (missing file, or a FIFO, device or other
 * non-regular file, refused without blocking), ::DR3_ERR_FORMAT,
 * ::DR3_ERR_UNSUPPORTED (dtype, byte order, Fortran order), ::DR3_ERR_SHAPE,
 * ::DR3_ERR_OVERFLOW, ::DR3_ERR_NONFINITE, ::DR3_ERR_RANGE (action), ::DR3_ERR_NOMEM; the
 * message names the file and field. On failure *out is NULL.
 */
DR3_API dr3_status dr3_replay_open_npy(dr3_replay **out, const char *dir,
                                       const dr3_replay_options *opts);

/**
 * @brief Writes the stored steps, oldest first, as a .npy directory that
 * dr3_replay_open_npy() and `numpy.load` read (created if missing; each file replaced
 * atomically). Observations keep their dtype and are written flat, shape (N, obs_dim);
 * discrete actions are '<i4' (N,), continuous '<f4' (N, action_dim); terminals and timeouts
 * '|b1'. next_observations.npy is written when some episode end has a final observation.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_IO, ::DR3_ERR_NOMEM.
 */
DR3_API dr3_status dr3_replay_save_npy(const dr3_replay *r, const char *dir);

/**
 * @brief Loads one checkpoint of the DQN Replay Dataset (Agarwal et al. 2020; Dopamine's
 * OutOfGraphReplayBuffer layout): the gzip'd .npy files `$store$_observation_ckpt.N.gz`,
 * `$store$_action_ckpt.N.gz`, `$store$_reward_ckpt.N.gz`, `$store$_terminal_ckpt.N.gz`,
 * `add_count_ckpt.N.gz` and `invalid_range_ckpt.N.gz` in @p dir, N = @p suffix, as a
 * read-only handle (held in memory: a full Atari checkpoint is ~7 GB).
 *
 * Rows keep Dopamine's circular order and padding; a row is sampleable only where Dopamine's
 * sampler would accept it (not in invalid_range, not a padding row, stack not crossing a
 * terminal, next state stored), with the n-step window of opts. Set opts->frame_stack to 4
 * for the usual Atari setting. Requires zlib (::DR3_ERR_UNSUPPORTED otherwise).
 * Errors as dr3_replay_open_npy(), plus ::DR3_ERR_FORMAT for a corrupt gzip stream.
 */
DR3_API dr3_status dr3_replay_open_dqn(dr3_replay **out, const char *dir, unsigned suffix,
                                       const dr3_replay_options *opts);

/**
 * @brief Writes the stored steps, oldest first, as one checkpoint of the DQN Replay Dataset
 *        layout (Dopamine's OutOfGraphReplayBuffer.save: the six gzip'd .npy files
 *        `$store$_observation_ckpt.N.gz` … `invalid_range_ckpt.N.gz` in @p dir, N =
 *        @p suffix; created if missing, each file replaced atomically), so that
 *        dr3_replay_open_dqn() — and Dopamine — read it back.
 *
 * The checkpoint is that of a buffer holding exactly these rows (capacity = add_count =
 * rows, cursor 0). Every episode is preceded by frame_stack − 1 zero padding rows, as
 * Dopamine stores them; observation-only rows (the final observation of an episode) are
 * not stored, as Dopamine does not store them. Dopamine has no truncation: an episode cut
 * inside the data (not the last one) is written as terminal; the last episode's cut is
 * covered by invalid_range (Dopamine's rows cursor − n_step … cursor + frame_stack − 1).
 * Discrete actions only. Requires zlib.
 * Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_UNSUPPORTED (continuous actions, no zlib),
 * ::DR3_ERR_STATE (fewer than 2 rows), ::DR3_ERR_IO, ::DR3_ERR_NOMEM. Thread-safe with
 * other readers of @p r.
 */
DR3_API dr3_status dr3_replay_save_dqn(const dr3_replay *r, const char *dir, unsigned suffix);

/**
 * @brief Loads a D4RL HDF5 file (datasets observations [N, d], actions [N] or [N, m],
 * rewards [N], terminals [N], optional timeouts [N], next_observations [N, d],
 * next_actions) into memory as a read-only handle. Requires libhdf5
 * (::DR3_ERR_UNSUPPORTED with a message otherwise). Errors as dr3_replay_open_npy(), and
 * ::DR3_ERR_FORMAT when a dataset declares far more rows than the file stores (checked
 * before anything is allocated).
 * **Untrusted files:** libhdf5 1.10 itself can crash on malformed files (docs/datasets.md);
 * the `dr3` command therefore reads HDF5 in a child process. Do the same in a program that
 * opens files it did not write.
 */
DR3_API dr3_status dr3_replay_open_d4rl(dr3_replay **out, const char *path,
                                        const dr3_replay_options *opts);

/**
 * @brief Loads a Minari HDF5 file (`main_data.hdf5`: groups episode_0 .. episode_{E-1},
 * each with observations [T+1, ...], actions [T, ...], rewards [T], terminations [T],
 * truncations [T]; Box spaces only) into memory as a read-only handle, one episode after
 * the other. Requires libhdf5 (::DR3_ERR_UNSUPPORTED otherwise).
 * Errors and the warning about untrusted files as dr3_replay_open_d4rl().
 */
DR3_API dr3_status dr3_replay_open_minari(dr3_replay **out, const char *path,
                                          const dr3_replay_options *opts);

#ifdef DR3_EXPERIMENTAL
/* Experimental (docs/api-stability.md §5): may change in any release. */

/**
 * @brief Restricts dr3_replay_sample() on this read-only dataset to shard @p index of
 *        @p count: the index-th of @p count contiguous, near-equal parts (sizes differ by
 *        at most one) of its sampleable transitions in stored order, oldest first. Data-
 *        parallel ranks that each take shard `rank` of `size` sample disjoint parts of the
 *        data, which together cover all of it (docs/mpi.md explains what that does to the
 *        gradient estimate). `count` = 1 restores sampling from everything.
 *
 * The two sampling sets (all sampleable transitions, and those with a next action) are
 * sharded separately, each in its own stored order. dr3_replay_get(),
 * dr3_replay_valid_count() and dr3_replay_valid_indices() still see the whole dataset.
 *
 * Errors (nothing changes): ::DR3_ERR_INVALID_ARG (NULL, @p count 0, @p index >= @p count),
 * ::DR3_ERR_STATE (a writable replay buffer, whose stored order changes as it is filled),
 * ::DR3_ERR_RANGE (the shard would hold no sampleable transition: more shards than
 * transitions). Not thread-safe with samplers of the same handle; set it before sampling.
 */
DR3_API dr3_status dr3_replay_set_shard(dr3_replay *r, size_t index, size_t count);

/* ---- D4RL-layout writers (experimental: may change in any release) -------------------- */

/**
 * @brief Writes the stored steps, oldest first, as a D4RL HDF5 file (the arrays D4RL's
 *        `get_dataset()` returns, at the file's root), which dr3_replay_open_d4rl(), h5py
 *        and D4RL-based code read.
 *
 * Datasets: `observations` (N, obs_dim) float32 (uint8 for a uint8 buffer),
 * `actions` (N, action_dim) float32 or (N,) int32 for discrete actions, `rewards` (N,)
 * float32, `terminals` and `timeouts` (N,) h5py booleans (truncated steps are timeouts),
 * `next_observations` (N, obs_dim): s' of every step (zeros where none is stored: after a
 * terminal without final observation, and for the newest step of an open episode, which
 * therefore has neither flag set and is not sampled when read back), and `next_actions`
 * when @p r came from a file that had them. Final-observation rows are not steps: they
 * appear as the next_observations of the step they end. Reading the file back gives the
 * same transitions, except that the first row starts an episode (a ring that wrapped
 * mid-episode lost its start).
 *
 * The file is assembled in memory by libhdf5 (about the size of the file: N × (2 ×
 * obs_dim + action_dim) × 4 bytes plus a little) and written to a temporary file beside
 * @p path, fsync'd and renamed over it: on any failure @p path is untouched and nothing is
 * left behind. Requires libhdf5.
 * Errors: ::DR3_ERR_INVALID_ARG (NULL or empty), ::DR3_ERR_STATE (no steps stored),
 * ::DR3_ERR_UNSUPPORTED (built without HDF5), ::DR3_ERR_IO, ::DR3_ERR_NOMEM,
 * ::DR3_ERR_OVERFLOW. Not thread-safe with other libhdf5 users in the process unless
 * libhdf5 was built thread-safe; safe with other readers of @p r.
 */
DR3_API dr3_status dr3_replay_save_d4rl(const dr3_replay *r, const char *path);

/**
 * @brief Writes the same arrays as dr3_replay_save_d4rl() as a directory of .npy files
 *        (`observations.npy`, `actions.npy`, `rewards.npy`, `terminals.npy`,
 *        `timeouts.npy`, `next_observations.npy`, optional `next_actions.npy`; flags
 *        '|b1'), which dr3_replay_open_npy() and `numpy.load` read.
 *
 * All or nothing for the whole directory: the files are written into a temporary directory
 * beside @p dir, which then takes @p dir's place in one rename (an existing @p dir is
 * swapped out atomically with Linux's renameat2 exchange and its arrays removed). An
 * existing @p dir that holds anything but these array files is refused, not replaced.
 * Needs no HDF5. Errors: ::DR3_ERR_INVALID_ARG, ::DR3_ERR_STATE (no steps stored),
 * ::DR3_ERR_IO (including a @p dir that is a file or holds other files), ::DR3_ERR_NOMEM.
 * Safe with other readers of @p r.
 */
DR3_API dr3_status dr3_replay_save_d4rl_npy(const dr3_replay *r, const char *dir);
#endif /* DR3_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* DR3_REPLAY_H */
