/* The thin kernels, written once over a small vector vocabulary and included by thin.c
 * (scalar: one lane), thin_avx2.c (8 lanes) and thin_avx512.c (16 lanes). The includer
 * defines:
 *   TK(name)            the function name with the instruction set's suffix
 *   VT, W               vector type and lanes;  MT  lane mask type
 *   VMASK(n)            mask of the first min(n, W) lanes (n >= 1)
 *   VZERO(), VSET1(x)   constants
 *   VLOADM(p, m)        load the masked lanes (others 0; masked-off memory is not touched)
 *   VSTOREM(p, m, v)    store the masked lanes
 *   VFMA(a, b, c)       a * b + c, one rounding where the CPU has FMA
 *   VMUL(a, b), VADD(a, b), VHSUM(v)   product, sum, sum of all lanes (fixed order)
 * Every output is a sum in a fixed order that depends on the shape only: the broadcast
 * kernel adds the k products of an output in order p = 0, 1, ...; the dot kernel keeps one
 * partial sum per lane (lane l takes p ≡ l mod W) and adds the lanes in a fixed tree. */

/* Rows of C per register block: two vectors wide (2·BC_MR accumulators) or one (BC_MR1),
 * leaving registers for the B vectors and the broadcast. A block covering every row of a thin
 * product streams B once. */
#define PF_AHEAD 16
#if NREG >= 32
#define BC_MR  12
#define BC_MR1 24
#else
#define BC_MR  6
#define BC_MR1 12
#endif

/* Scales and stores one row of a block: c = alpha * acc (+ beta * c). */
TK_INLINE void TK(bc_store)(VT acc, float alpha, float beta, float *c, size_t ccs, MT m,
                            size_t nj) {
    VT out = VMUL(acc, VSET1(alpha));
    if (ccs == 1) {
        if (beta != 0.0f) out = VFMA(VLOADM(c, m), VSET1(beta), out);
        VSTOREM(c, m, out);
    } else {
        float t[W];
        VSTOREM(t, VMASK(W), out);
        for (size_t j = 0; j < nj; j++)
            c[j * ccs] = beta != 0.0f ? beta * c[j * ccs] + t[j] : t[j];
    }
}

/* One block of R rows (R <= BC_MR) and two vectors of columns. */
TK_INLINE void TK(bc_block2)(size_t R, size_t nj, size_t k, float alpha, const float *a,
                             size_t ars, size_t acs, const float *b, size_t ldb, float beta,
                             float *c, size_t crs, size_t ccs) {
    VT acc0[BC_MR], acc1[BC_MR];
    _Pragma("GCC unroll 32") for (size_t r = 0; r < BC_MR; r++) acc0[r] = acc1[r] = VZERO();
    const MT m0 = VMASK(nj), m1 = VMASK(nj > W ? nj - W : 1);
    const bool two = nj > W;
    for (size_t p = 0; p < k; p++) {
        __builtin_prefetch(b + (p + PF_AHEAD) * ldb);
        __builtin_prefetch(a + (p + PF_AHEAD) * acs);
        const float *bp = b + p * ldb;
        VT b0 = VLOADM(bp, m0), b1 = two ? VLOADM(bp + W, m1) : VZERO();
        const float *ap = a + p * acs;
        _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++) {
            VT av = VSET1(ap[r * ars]);
            acc0[r] = VFMA(av, b0, acc0[r]);
            acc1[r] = VFMA(av, b1, acc1[r]);
        }
    }
    _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++) {
        TK(bc_store)(acc0[r], alpha, beta, c + r * crs, ccs, m0, nj < W ? nj : W);
        if (two) TK(bc_store)(acc1[r], alpha, beta, c + r * crs + W * ccs, ccs, m1, nj - W);
    }
}

/* One block of R rows (R <= BC_MR1) and one vector of columns. */
TK_INLINE void TK(bc_block1)(size_t R, size_t nj, size_t k, float alpha, const float *a,
                             size_t ars, size_t acs, const float *b, size_t ldb, float beta,
                             float *c, size_t crs, size_t ccs) {
    VT acc[BC_MR1];
    _Pragma("GCC unroll 32") for (size_t r = 0; r < BC_MR1; r++) acc[r] = VZERO();
    const MT m0 = VMASK(nj);
    for (size_t p = 0; p < k; p++) {
        __builtin_prefetch(b + (p + PF_AHEAD) * ldb);
        __builtin_prefetch(a + (p + PF_AHEAD) * acs);
        VT b0 = VLOADM(b + p * ldb, m0);
        const float *ap = a + p * acs;
        _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++) acc[r] =
            VFMA(VSET1(ap[r * ars]), b0, acc[r]);
    }
    _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++)
        TK(bc_store)(acc[r], alpha, beta, c + r * crs, ccs, m0, nj);
}

/* A block of R rows (any R up to the block height) with R a constant in each case, so
 * that the accumulators live in registers. */
static void TK(bc_rows1)(size_t R, size_t nj, size_t k, float alpha, const float *a, size_t ars,
                         size_t acs, const float *b, size_t ldb, float beta, float *c,
                         size_t crs, size_t ccs) {
    switch (R) {
    case 1:
        TK(bc_block1)(1, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 2:
        TK(bc_block1)(2, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 3:
        TK(bc_block1)(3, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 4:
        TK(bc_block1)(4, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 5:
        TK(bc_block1)(5, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 6:
        TK(bc_block1)(6, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 7:
        TK(bc_block1)(7, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 8:
        TK(bc_block1)(8, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 9:
        TK(bc_block1)(9, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 10:
        TK(bc_block1)(10, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 11:
        TK(bc_block1)(11, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 12:
        TK(bc_block1)(12, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
#if BC_MR1 > 12
    case 13:
        TK(bc_block1)(13, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 14:
        TK(bc_block1)(14, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 15:
        TK(bc_block1)(15, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 16:
        TK(bc_block1)(16, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 17:
        TK(bc_block1)(17, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 18:
        TK(bc_block1)(18, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 19:
        TK(bc_block1)(19, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 20:
        TK(bc_block1)(20, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 21:
        TK(bc_block1)(21, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 22:
        TK(bc_block1)(22, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 23:
        TK(bc_block1)(23, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 24:
        TK(bc_block1)(24, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
#endif
        break;
    default:
        break;
    }
}

static void TK(bc_rows2)(size_t R, size_t nj, size_t k, float alpha, const float *a, size_t ars,
                         size_t acs, const float *b, size_t ldb, float beta, float *c,
                         size_t crs, size_t ccs) {
    switch (R) {
    case 1:
        TK(bc_block2)(1, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 2:
        TK(bc_block2)(2, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 3:
        TK(bc_block2)(3, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 4:
        TK(bc_block2)(4, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 5:
        TK(bc_block2)(5, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 6:
        TK(bc_block2)(6, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
#if BC_MR > 6
    case 7:
        TK(bc_block2)(7, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 8:
        TK(bc_block2)(8, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 9:
        TK(bc_block2)(9, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 10:
        TK(bc_block2)(10, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 11:
        TK(bc_block2)(11, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
        break;
    case 12:
        TK(bc_block2)(12, nj, k, alpha, a, ars, acs, b, ldb, beta, c, crs, ccs);
#endif
        break;
    default:
        break;
    }
}

void TK(dr3k_bcast)(size_t m, size_t n, size_t k, float alpha, const float *a, size_t ars,
                    size_t acs, const float *b, size_t ldb, float beta, float *c, size_t crs,
                    size_t ccs) {
    /* one vector of columns when that is all there is, or when one block then covers all
     * rows (B is read once) */
    const bool one = n <= W || (m <= BC_MR1 && m > BC_MR);
    const size_t strip = one ? W : 2 * W, mr = one ? BC_MR1 : BC_MR;
    for (size_t j = 0; j < n; j += strip) {
        const size_t nj = n - j < strip ? n - j : strip;
        for (size_t i = 0; i < m; i += mr) {
            const size_t R = m - i < mr ? m - i : mr;
            if (one) TK(bc_rows1)
            (R, nj, k, alpha, a + i * ars, ars, acs, b + j, ldb, beta, c + i * crs + j * ccs,
             crs, ccs);
            else TK(bc_rows2)(R, nj, k, alpha, a + i * ars, ars, acs, b + j, ldb, beta,
                              c + i * crs + j * ccs, crs, ccs);
        }
    }
}

/* Dot products of R rows of A with S rows of B (R, S <= 4), vectorised along p. */
TK_INLINE void TK(dot_block)(size_t R, size_t S, size_t k, float alpha, const float *a,
                             size_t lda, const float *b, size_t ldb, float beta, float *c,
                             size_t ldc) {
    VT acc[4][4];
    _Pragma("GCC unroll 32") for (size_t r = 0; r < 4; r++)
        _Pragma("GCC unroll 32") for (size_t s = 0; s < 4; s++) acc[r][s] = VZERO();
    const MT full = VMASK(W);
    size_t p = 0;
    for (; p + W <= k; p += W) {
        VT bv[4];
        _Pragma("GCC unroll 32") for (size_t s = 0; s < S; s++) bv[s] =
            VLOADM(b + s * ldb + p, full);
        _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++) {
            VT av = VLOADM(a + r * lda + p, full);
            _Pragma("GCC unroll 32") for (size_t s = 0; s < S; s++) acc[r][s] =
                VFMA(av, bv[s], acc[r][s]);
        }
    }
    if (p < k) {
        const MT tail = VMASK(k - p);
        VT bv[4];
        _Pragma("GCC unroll 32") for (size_t s = 0; s < S; s++) bv[s] =
            VLOADM(b + s * ldb + p, tail);
        _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++) {
            VT av = VLOADM(a + r * lda + p, tail);
            _Pragma("GCC unroll 32") for (size_t s = 0; s < S; s++) acc[r][s] =
                VFMA(av, bv[s], acc[r][s]);
        }
    }
    _Pragma("GCC unroll 32") for (size_t r = 0; r < R; r++)
        _Pragma("GCC unroll 32") for (size_t s = 0; s < S; s++) {
        float v = alpha * VHSUM(acc[r][s]);
        float *cp = c + r * ldc + s;
        *cp = beta != 0.0f ? beta * *cp + v : v;
    }
}

static void TK(dot_rs)(size_t R, size_t S, size_t k, float alpha, const float *a, size_t lda,
                       const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    switch (R * 8 + S) {
    case 9:
        TK(dot_block)(1, 1, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 10:
        TK(dot_block)(1, 2, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 11:
        TK(dot_block)(1, 3, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 12:
        TK(dot_block)(1, 4, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 17:
        TK(dot_block)(2, 1, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 18:
        TK(dot_block)(2, 2, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 19:
        TK(dot_block)(2, 3, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 20:
        TK(dot_block)(2, 4, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 25:
        TK(dot_block)(3, 1, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 26:
        TK(dot_block)(3, 2, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 27:
        TK(dot_block)(3, 3, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 28:
        TK(dot_block)(3, 4, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 33:
        TK(dot_block)(4, 1, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 34:
        TK(dot_block)(4, 2, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 35:
        TK(dot_block)(4, 3, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    case 36:
        TK(dot_block)(4, 4, k, alpha, a, lda, b, ldb, beta, c, ldc);
        break;
    default:
        break;
    }
}

void TK(dr3k_dot)(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                  const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    for (size_t i = 0; i < m; i += 4)
        for (size_t j = 0; j < n; j += 4) TK(dot_rs)
    (m - i < 4 ? m - i : 4, n - j < 4 ? n - j : 4, k, alpha, a + i * lda, lda, b + j * ldb, ldb,
     beta, c + i * ldc + j, ldc);
}

#undef BC_MR
#undef BC_MR1
