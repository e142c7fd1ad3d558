/* xoshiro256** seeded by splitmix64. Algorithms as published by Blackman and Vigna
 * (https://prng.di.unimi.it/); this is an independent implementation. */
#include <dr3/rng.h>

#include "internal.h"

__extension__ typedef unsigned __int128 dr3i_u128;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void dr3_rng_seed(dr3_rng *rng, uint64_t seed) {
    if (rng == NULL) return;
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&sm);
    /* splitmix64 is a bijection of a counter, so four consecutive outputs are never all
     * zero; keep the guard anyway since the all-zero state is a fixed point. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0) rng->s[0] = 1;
}

uint64_t dr3_rng_next(dr3_rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float dr3_rng_uniform(dr3_rng *rng) {
    return (float)(dr3_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

double dr3_rng_uniform_double(dr3_rng *rng) {
    return (double)(dr3_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t dr3_rng_below(dr3_rng *rng, uint64_t n) {
    if (n == 0) return 0;
    /* Lemire's nearly-divisionless method on 64x64->128-bit products. */
    dr3i_u128 m = (dr3i_u128)dr3_rng_next(rng) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            m = (dr3i_u128)dr3_rng_next(rng) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double dr3i_normal_from(double u1, double u2) {
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

double dr3_rng_normal(dr3_rng *rng) {
    /* Box–Muller; 1 - u keeps the log argument in (0, 1]. */
    double u1 = 1.0 - dr3_rng_uniform_double(rng);
    double u2 = dr3_rng_uniform_double(rng);
    return dr3i_normal_from(u1, u2);
}

dr3_status dr3_rng_split(dr3_rng *parent, uint64_t stream, dr3_rng *child) {
    if (parent == NULL || child == NULL)
        return dr3i_fail(DR3_ERR_INVALID_ARG, "dr3_rng_split: %s is NULL",
                         parent == NULL ? "parent" : "child");
    uint64_t sm = dr3_rng_next(parent) ^ (stream * 0xd1342543de82ef95ULL);
    sm = splitmix64(&sm); /* decorrelate nearby stream ids before expanding */
    dr3_rng_seed(child, sm);
    return DR3_OK;
}

void dr3_rng_jump(dr3_rng *rng) {
    static const uint64_t jump[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                    0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    if (rng == NULL) return;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) {
            if (jump[i] & (UINT64_C(1) << b)) {
                s0 ^= rng->s[0];
                s1 ^= rng->s[1];
                s2 ^= rng->s[2];
                s3 ^= rng->s[3];
            }
            dr3_rng_next(rng);
        }
    }
    rng->s[0] = s0;
    rng->s[1] = s1;
    rng->s[2] = s2;
    rng->s[3] = s3;
}
