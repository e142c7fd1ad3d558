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

#define BC_MR  6 /* rows of C per register block (two vectors wide) */
#define BC_MR1 8 /* rows per block when one vector covers the columns */

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
    for (size_t r = 0; r < BC_MR; r++) acc0[r] = acc1[r] = VZERO();
    const MT m0 = VMASK(nj), m1 = VMASK(nj > W ? nj - W : 1);
    const bool two = nj > W;
    for (size_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        VT b0 = VLOADM(bp, m0), b1 = two ? VLOADM(bp + W, m1) : VZERO();
        const float *ap = a + p * acs;
        for (size_t r = 0; r < R; r++) {
            VT av = VSET1(ap[r * ars]);
            acc0[r] = VFMA(av, b0, acc0[r]);
            acc1[r] = VFMA(av, b1, acc1[r]);
        }
    }
    for (size_t r = 0; r < R; r++) {
        TK(bc_store)(acc0[r], alpha, beta, c + r * crs, ccs, m0, nj < W ? nj : W);
        if (two) TK(bc_store)(acc1[r], alpha, beta, c + r * crs + W * ccs, ccs, m1, nj - W);
    }
}

/* One block of R rows (R <= BC_MR1) and one vector of columns. */
TK_INLINE void TK(bc_block1)(size_t R, size_t nj, size_t k, float alpha, const float *a,
                             size_t ars, size_t acs, const float *b, size_t ldb, float beta,
                             float *c, size_t crs, size_t ccs) {
    VT acc[BC_MR1];
    for (size_t r = 0; r < BC_MR1; r++) acc[r] = VZERO();
    const MT m0 = VMASK(nj);
    for (size_t p = 0; p < k; p++) {
        VT b0 = VLOADM(b + p * ldb, m0);
        const float *ap = a + p * acs;
        for (size_t r = 0; r < R; r++) acc[r] = VFMA(VSET1(ap[r * ars]), b0, acc[r]);
    }
    for (size_t r = 0; r < R; r++) TK(bc_store)(acc[r], alpha, beta, c + r * crs, ccs, m0, nj);
}

void TK(dr3k_bcast)(size_t m, size_t n, size_t k, float alpha, const float *a, size_t ars,
                    size_t acs, const float *b, size_t ldb, float beta, float *c, size_t crs,
                    size_t ccs) {
    if (n <= W) {
        size_t i = 0;
        for (; i + BC_MR1 <= m; i += BC_MR1)
            TK(bc_block1)
            (BC_MR1, n, k, alpha, a + i * ars, ars, acs, b, ldb, beta, c + i * crs, crs, ccs);
        for (; i < m; i++)
            TK(bc_block1)
            (1, n, k, alpha, a + i * ars, ars, acs, b, ldb, beta, c + i * crs, crs, ccs);
        return;
    }
    for (size_t j = 0; j < n; j += 2 * W) {
        const size_t nj = n - j < 2 * W ? n - j : 2 * W;
        size_t i = 0;
        for (; i + BC_MR <= m; i += BC_MR)
            TK(bc_block2)
            (BC_MR, nj, k, alpha, a + i * ars, ars, acs, b + j, ldb, beta,
             c + i * crs + j * ccs, crs, ccs);
        for (; i < m; i++)
            TK(bc_block2)
            (1, nj, k, alpha, a + i * ars, ars, acs, b + j, ldb, beta, c + i * crs + j * ccs,
             crs, ccs);
    }
}

/* Dot products of R rows of A with S rows of B (R, S <= 4), vectorised along p. */
TK_INLINE void TK(dot_block)(size_t R, size_t S, size_t k, float alpha, const float *a,
                             size_t lda, const float *b, size_t ldb, float beta, float *c,
                             size_t ldc) {
    VT acc[4][4];
    for (size_t r = 0; r < 4; r++)
        for (size_t s = 0; s < 4; s++) acc[r][s] = VZERO();
    const MT full = VMASK(W);
    size_t p = 0;
    for (; p + W <= k; p += W) {
        VT bv[4];
        for (size_t s = 0; s < S; s++) bv[s] = VLOADM(b + s * ldb + p, full);
        for (size_t r = 0; r < R; r++) {
            VT av = VLOADM(a + r * lda + p, full);
            for (size_t s = 0; s < S; s++) acc[r][s] = VFMA(av, bv[s], acc[r][s]);
        }
    }
    if (p < k) {
        const MT tail = VMASK(k - p);
        VT bv[4];
        for (size_t s = 0; s < S; s++) bv[s] = VLOADM(b + s * ldb + p, tail);
        for (size_t r = 0; r < R; r++) {
            VT av = VLOADM(a + r * lda + p, tail);
            for (size_t s = 0; s < S; s++) acc[r][s] = VFMA(av, bv[s], acc[r][s]);
        }
    }
    for (size_t r = 0; r < R; r++)
        for (size_t s = 0; s < S; s++) {
            float v = alpha * VHSUM(acc[r][s]);
            float *cp = c + r * ldc + s;
            *cp = beta != 0.0f ? beta * *cp + v : v;
        }
}

void TK(dr3k_dot)(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                  const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    size_t i = 0;
    for (; i + 4 <= m; i += 4) {
        size_t j = 0;
        for (; j + 4 <= n; j += 4)
            TK(dot_block)
            (4, 4, k, alpha, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
        for (; j < n; j++)
            TK(dot_block)
            (4, 1, k, alpha, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
    }
    for (; i < m; i++) {
        size_t j = 0;
        for (; j + 4 <= n; j += 4)
            TK(dot_block)
            (1, 4, k, alpha, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
        for (; j < n; j++)
            TK(dot_block)
            (1, 1, k, alpha, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
    }
}

#undef BC_MR
#undef BC_MR1
