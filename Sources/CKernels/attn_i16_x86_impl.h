// The integer attention's AVX-512 kernels, included twice by attn_i16_x86.c: with IA_VNNI 1 the pair products
// accumulate with vpdpwssd, with 0 with vpmaddwd + vpaddd — the same exact integer sums either way.
// Expects K(name), KTGT and IA_VNNI.
#include <immintrin.h>

#define AI __attribute__((always_inline)) inline
// Full unrolling of the tiles' row and vector loops keeps the accumulators in registers (with the inline-asm dot
// below clang otherwise left the row loop rolled and the accumulators on the stack).
#if defined(__clang__)
#define IA_UNROLL _Pragma("clang loop unroll(full)")
#else
#define IA_UNROLL _Pragma("GCC unroll 8")
#endif
#if IA_VNNI
/// acc + Σ pairs a·b with vpdpwssd itself. Through the intrinsic, clang's generic tuning splits vpdpwssd into
/// vpmaddwd + vpaddd where it judges the fused form slow (it did in the q·kᵀ tile's loop): twice the operations on
/// the vector ports. The inline asm keeps one instruction; the result is the same exact integer sum.
static KTGT AI __m512i K(dpw)(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}
#define DPW(acc, a, b) K(dpw)((acc), (a), (b))
#else
#define DPW(acc, a, b) _mm512_add_epi32((acc), _mm512_madd_epi16((a), (b)))
#endif

/// IA_QR rows × nv panels of 16 keys; nv is a constant at each call, so the accumulators stay in registers.
static KTGT AI void K(qk_tile)(const int32_t *q, int64_t np, const int32_t *kp, const int nv, const float *qs,
                               const float *ks, float *sc, int64_t lds) {   // kp: nv panels, pair-major (ia_kidx)
    __m512i acc[IA_QR][4];
    IA_UNROLL for (int r = 0; r < IA_QR; r++)
        IA_UNROLL for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_si512();
    for (int64_t p = 0; p < np; p++) {
        __m512i b[4];
        IA_UNROLL for (int v = 0; v < nv; v++) b[v] = _mm512_loadu_si512((const void *)(kp + (p * nv + v) * 16));
        IA_UNROLL for (int r = 0; r < IA_QR; r++) {
            const __m512i a = _mm512_set1_epi32(q[r * np + p]);
            IA_UNROLL for (int v = 0; v < nv; v++) acc[r][v] = DPW(acc[r][v], a, b[v]);
        }
    }
    for (int r = 0; r < IA_QR; r++) {
        const __m512 s = _mm512_set1_ps(qs[r]);
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(sc + r * lds + v * 16,
                             _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][v]), s), _mm512_loadu_ps(ks + v * 16)));
    }
}

static KTGT void K(qk)(const int32_t *q, int64_t np, const int32_t *kp, int64_t panels, const float *qs,
                       const float *ks, float *sc, int64_t lds) {
    int64_t n = 0;
    for (; n + 4 <= panels; n += 4) K(qk_tile)(q, np, kp + n * np * 16, 4, qs, ks + n * 16, sc + n * 16, lds);
    for (; n < panels; n++) K(qk_tile)(q, np, kp + n * np * 16, 1, qs, ks + n * 16, sc + n * 16, lds);
}

/// IA_PR rows × ne vectors of 16 output columns from column e0; ne is a constant at each call.
static KTGT AI void K(pv_tile)(const int32_t *p, int64_t ldp, int64_t pairs, const int32_t *vp, int64_t ep,
                               int64_t e0, const int ne, const float *vs, const float *rs, int64_t rows, int64_t d,
                               float *out, int64_t ldo) {
    __m512i acc[IA_PR][5];
    IA_UNROLL for (int r = 0; r < IA_PR; r++)
        IA_UNROLL for (int v = 0; v < ne; v++) acc[r][v] = _mm512_setzero_si512();
    const int32_t *vt = vp + e0;
    for (int64_t t = 0; t < pairs; t++, vt += ep) {
        __m512i b[5];
        IA_UNROLL for (int v = 0; v < ne; v++) b[v] = _mm512_loadu_si512((const void *)(vt + v * 16));
        IA_UNROLL for (int r = 0; r < IA_PR; r++) {
            const __m512i a = _mm512_set1_epi32(p[r * ldp + t]);
            IA_UNROLL for (int v = 0; v < ne; v++) acc[r][v] = DPW(acc[r][v], a, b[v]);
        }
    }
    for (int r = 0; r < IA_PR; r++) {
        if (r >= rows) break;
        const __m512 s = _mm512_set1_ps(rs[r]);
        for (int v = 0; v < ne; v++) {
            const int64_t e = e0 + v * 16;
            const __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][v]), _mm512_loadu_ps(vs + e)), s);
            _mm512_mask_storeu_ps(out + r * ldo + e, reel_mask16(d - e), y);
        }
    }
}

static KTGT void K(pv)(const int32_t *p, int64_t ldp, int64_t pairs, const int32_t *vp, int64_t ep, const float *vs,
                       const float *rs, int64_t rows, int64_t d, float *out, int64_t ldo) {
    for (int64_t e0 = 0; e0 < ep; e0 += 80) {
        switch ((ep - e0) / 16 < 5 ? (ep - e0) / 16 : 5) {
        case 1: K(pv_tile)(p, ldp, pairs, vp, ep, e0, 1, vs, rs, rows, d, out, ldo); break;
        case 2: K(pv_tile)(p, ldp, pairs, vp, ep, e0, 2, vs, rs, rows, d, out, ldo); break;
        case 3: K(pv_tile)(p, ldp, pairs, vp, ep, e0, 3, vs, rs, rows, d, out, ldo); break;
        case 4: K(pv_tile)(p, ldp, pairs, vp, ep, e0, 4, vs, rs, rows, d, out, ldo); break;
        default: K(pv_tile)(p, ldp, pairs, vp, ep, e0, 5, vs, rs, rows, d, out, ldo); break;
        }
    }
}

/// Codes of y: cvtps2dq (round to nearest even; NaN and overflow give 0x80000000), clamped to ±m — ia_code.
static KTGT AI __m512i K(code)(__m512 y, __m512i m) {
    return _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(y), m), _mm512_sub_epi32(_mm512_setzero_si512(), m));
}

static KTGT float K(qrow)(const float *x, int64_t d, float qmax, int16_t *dst, int64_t n16) {
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    __m512 mv = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {  // max(a, mv) keeps mv when a is NaN, as the scalar twin's comparison
        const __m512 a = _mm512_and_ps(_mm512_maskz_loadu_ps(reel_mask16(d - i), x + i), sign);
        mv = _mm512_max_ps(a, mv);
    }
    const float m = _mm512_reduce_max_ps(mv);
    if (!(m > 0.0f) || !(m <= 3.4028234e38f)) {
        memset(dst, 0, (size_t)n16 * 2);
        return 0.0f;
    }
    const __m512 inv = _mm512_set1_ps(qmax / m);
    const __m512i mi = _mm512_set1_epi32((int32_t)qmax);
    int64_t i = 0;
    for (; i < d; i += 16) {
        const __mmask16 k = reel_mask16(d - i);
        const __m512i c = K(code)(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv), mi);
        _mm256_mask_storeu_epi16(dst + i, k, _mm512_cvtepi32_epi16(c));
    }
    for (i = d; i < n16; i++) dst[i] = 0;
    return m / qmax;
}

static KTGT AI int64_t K(sum_lanes)(__m512i v) {
    int32_t lanes[16];
    _mm512_storeu_si512((void *)lanes, v);
    int64_t total = 0;
    for (int l = 0; l < 16; l++) total += lanes[l];
    return total;
}

static KTGT int64_t K(prow)(const float *x, int64_t s, int16_t *dst) {
    const __m512 scale = _mm512_set1_ps(IA_PMAX);
    const __m512i mi = _mm512_set1_epi32((int32_t)IA_PMAX);
    __m512i sum = _mm512_setzero_si512();   // per lane ≤ 32767 · 4096 for s ≤ 65536
    for (int64_t i = 0; i < s; i += 16) {
        const __mmask16 k = reel_mask16(s - i);
        const __m512i c = _mm512_maskz_mov_epi32(k, K(code)(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), scale), mi));
        sum = _mm512_add_epi32(sum, c);
        _mm256_mask_storeu_epi16(dst + i, k, _mm512_cvtepi32_epi16(c));
    }
    if (s & 1) dst[s] = 0;
    const int64_t S = K(sum_lanes)(sum);
    if (S <= 0) {
        memset(dst, 0, (size_t)s * 2);
        return 0;
    }
    const __m512 f = _mm512_set1_ps(IA_PMAX / (float)S);
    sum = _mm512_setzero_si512();
    for (int64_t i = 0; i < s; i += 16) {
        const __mmask16 k = reel_mask16(s - i);
        const __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(k, dst + i)));
        const __m512i p = _mm512_maskz_mov_epi32(k, K(code)(_mm512_mul_ps(c, f), mi));
        sum = _mm512_add_epi32(sum, p);
        _mm256_mask_storeu_epi16(dst + i, k, _mm512_cvtepi32_epi16(p));
    }
    return K(sum_lanes)(sum);
}

static KTGT void K(vpair)(const float *v0, const float *v1, int64_t d, const float *inv, int32_t *dst, int64_t ep) {
    const __m512i mi = _mm512_set1_epi32((int32_t)IA_VMAX), lo16 = _mm512_set1_epi32(0xffff);
    for (int64_t e = 0; e < ep; e += 16) {
        const __mmask16 k = e < d ? reel_mask16(d - e) : 0;
        const __m512 w = _mm512_maskz_loadu_ps(k, inv + e);
        const __m512i a = _mm512_maskz_mov_epi32(k, K(code)(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, v0 + e), w), mi));
        __m512i b = _mm512_setzero_si512();
        if (v1) b = _mm512_maskz_mov_epi32(k, K(code)(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, v1 + e), w), mi));
        _mm512_storeu_si512((void *)(dst + e), _mm512_or_si512(_mm512_and_si512(a, lo16), _mm512_slli_epi32(b, 16)));
    }
}

#undef DPW
#undef IA_UNROLL
#undef AI
