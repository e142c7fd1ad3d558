/**
 * @file dr3/rng.h
 * @brief The seeded, splittable random number generator every libdr3 handle uses.
 *
 * libdr3 keeps no global random state: every handle owns a ::dr3_rng seeded from the seed
 * given at creation, and functions that sample (replay sampling, ε-greedy acting) take the
 * caller's generator. The algorithm is part of the stable contract so that a seed gives the
 * same stream in every 1.x release: xoshiro256** (Blackman and Vigna, 2018), seeded by
 * expanding a 64-bit seed with splitmix64.
 *
 * Threading: a generator is plain data; use one per thread (see dr3_rng_split()).
 */
#ifndef DR3_RNG_H
#define DR3_RNG_H

#include <dr3/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Generator state. Plain data: copy it to fork a stream, store it to resume one.
 * The layout (four 64-bit words of xoshiro256** state) is fixed forever.
 */
typedef struct dr3_rng {
    uint64_t s[4]; /**< xoshiro256** state; never all zero. */
} dr3_rng;

/** @brief Seeds @p rng from a 64-bit seed (splitmix64 expansion). Any seed is valid.
 *  Does nothing if @p rng is NULL. */
DR3_API void dr3_rng_seed(dr3_rng *rng, uint64_t seed);

/** @brief Next 64 uniformly distributed bits. @p rng must not be NULL. */
DR3_API uint64_t dr3_rng_next(dr3_rng *rng);

/** @brief A uniform float in [0, 1) with 24 random bits. @p rng must not be NULL. */
DR3_API float dr3_rng_uniform(dr3_rng *rng);

/** @brief A uniform double in [0, 1) with 53 random bits. @p rng must not be NULL. */
DR3_API double dr3_rng_uniform_double(dr3_rng *rng);

/**
 * @brief A uniform integer in [0, n), without modulo bias (Lemire's multiply-and-reject).
 * Returns 0 when @p n is 0. @p rng must not be NULL.
 */
DR3_API uint64_t dr3_rng_below(dr3_rng *rng, uint64_t n);

/** @brief A standard normal deviate (Box–Muller on two uniforms). @p rng must not be NULL. */
DR3_API double dr3_rng_normal(dr3_rng *rng);

/**
 * @brief Derives an independent child generator from @p parent and advances the parent.
 *
 * The child is seeded by splitmix64 from one output of the parent mixed with @p stream, so
 * children made with different @p stream values (or successive calls) give unrelated
 * sequences. Use it to give each thread, environment or sub-component its own stream.
 * Returns ::DR3_ERR_INVALID_ARG if either pointer is NULL.
 */
DR3_API dr3_status dr3_rng_split(dr3_rng *parent, uint64_t stream, dr3_rng *child);

/** @brief Advances @p rng by 2^128 steps (the xoshiro256** jump): non-overlapping
 *  sub-streams for parallel workers. Does nothing if @p rng is NULL. */
DR3_API void dr3_rng_jump(dr3_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* DR3_RNG_H */
