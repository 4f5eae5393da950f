// Integer GEMM with AVX2 (vpmaddubsw + vpmaddwd; also the AVX-512-without-VNNI path). Compiled for any x86-64
// target; the functions carry their own target attribute and dispatch.c calls them only if the CPU has the features.
//
// Tile: 2 activation rows × one 16-column panel (two ymm of 8 columns). The panel holds signed codes; vpmaddubsw
// multiplies unsigned by signed bytes and saturates int16 pairs, so each product is fed as |w| · (a·sign w)
// (|w| ≤ 127 and |a| ≤ 127: a pair sums to at most 32258, no saturation). The integer block sums are exact and
// the epilogue is the scalar twin's, so the results are bit-identical to it.
#include "gemm_q8_internal.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define KFN static inline TGT __attribute__((always_inline))

/// One tile: rows [0, mr) of `act` (mr ≤ 2) × one panel; writes the first nc columns of each row.
KFN void tile(int ns, int mr, int a128, const uint8_t *p, size_t pbb, int64_t nb, const uint8_t *act, size_t ars,
              float *y, int64_t ldy, int nc) {
    __m256 f[2][2], t[2][2];  // t: a128's span sums
    UNROLL
    for (int i = 0; i < 2; i++) f[i][0] = f[i][1] = t[i][0] = t[i][1] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    const int G = 8 / ns;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = p + (size_t)b * pbb, *ab = act + (size_t)b * IG_ACT_BLOCK;
        UNROLL
        for (int s = 0; s < ns; s++) {
            __m256i acc[2][2];
            UNROLL
            for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
            UNROLL
            for (int g = s * G; g < (s + 1) * G; g++) {
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wb + 64 * g));
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wb + 64 * g + 32));
                const __m256i aw0 = _mm256_abs_epi8(w0), aw1 = _mm256_abs_epi8(w1);
                UNROLL
                for (int i = 0; i < mr; i++) {
                    int32_t a4;
                    memcpy(&a4, ab + (size_t)i * ars + 4 * g, 4);
                    const __m256i a = _mm256_set1_epi32(a4);
                    const __m256i s0 = _mm256_maddubs_epi16(aw0, _mm256_sign_epi8(a, w0));
                    const __m256i s1 = _mm256_maddubs_epi16(aw1, _mm256_sign_epi8(a, w1));
                    acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s0, ones));
                    acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s1, ones));
                }
            }
            const __m256 d0 = _mm256_loadu_ps((const float *)(wb + IG_CODES + 64 * s));
            const __m256 d1 = _mm256_loadu_ps((const float *)(wb + IG_CODES + 64 * s + 32));
            UNROLL
            for (int i = 0; i < mr; i++) {
                if (a128) {
                    t[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), d0, t[i][0]);
                    t[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), d1, t[i][1]);
                } else {
                    float da;
                    memcpy(&da, ab + (size_t)i * ars + 32, 4);
                    const __m256 va = _mm256_set1_ps(da);
                    f[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), _mm256_mul_ps(d0, va), f[i][0]);
                    f[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), _mm256_mul_ps(d1, va), f[i][1]);
                }
            }
        }
        if (a128 && ig_span_closes(b, nb)) {
            UNROLL
            for (int i = 0; i < mr; i++) {
                const __m256 va = _mm256_set1_ps(ig_span_scale(act + (size_t)i * ars, b));
                f[i][0] = _mm256_fmadd_ps(t[i][0], va, f[i][0]);
                f[i][1] = _mm256_fmadd_ps(t[i][1], va, f[i][1]);
                t[i][0] = t[i][1] = _mm256_setzero_ps();
            }
        }
    }
    UNROLL
    for (int i = 0; i < mr; i++) {
        if (nc == IG_NR) {
            _mm256_storeu_ps(y + i * ldy, f[i][0]);
            _mm256_storeu_ps(y + i * ldy + 8, f[i][1]);
        } else {
            float t[IG_NR];
            _mm256_storeu_ps(t, f[i][0]);
            _mm256_storeu_ps(t + 8, f[i][1]);
            memcpy(y + i * ldy, t, (size_t)nc * sizeof(float));
        }
    }
}

IG_PANEL_DRIVER(igemm_avx2, TGT)

const reel_igemm_fn reel_igemm_avx2 = igemm_avx2;

// ---- activations with a scale per 128 elements (reel_igemm_quantize_act128), bit-identical to the scalar twin ------

/// Codes of the 16 elements at x[j…] (those at or past k are zero) into dst, returning their sum. rne by vcvtps2dq
/// under the default rounding mode, as nearbyintf; vmaxps(v, −127) turns a NaN product into −127, as the twin does.
static inline TGT __attribute__((always_inline)) int32_t q16(const float *x, int64_t j, int64_t k, __m256 vid,
                                                            int8_t *dst) {
    const __m256 lim = _mm256_set1_ps(127.0f), nlim = _mm256_set1_ps(-127.0f);
    __m256i q[2];
    for (int h = 0; h < 2; h++) {
        if (j + 8 * h + 8 <= k) {
            const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * h), vid);
            q[h] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, nlim), lim));
        } else {  // lanes past k are 0, as the twin's (0 · id is NaN when 1/d overflowed)
            float t[8] = {0};
            int32_t keep[8] = {0};
            for (int e = 0; e < 8 && j + 8 * h + e < k; e++) t[e] = x[j + 8 * h + e], keep[e] = -1;
            const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(t), vid);
            q[h] = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, nlim), lim)),
                                    _mm256_loadu_si256((const __m256i *)keep));
        }
    }
    const __m256i p16 = _mm256_packs_epi32(q[0], q[1]);  // lanes: q0[0..3] q1[0..3] | q0[4..7] q1[4..7]
    const __m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
    // p8 holds q0[0..3] q1[0..3] q0[4..7] q1[4..7]: put the four groups of 4 back in element order
    _mm_storeu_si128((__m128i *)dst, _mm_shuffle_epi32(p8, _MM_SHUFFLE(3, 1, 2, 0)));
    __m256i sum = _mm256_add_epi32(q[0], q[1]);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s4);
}

/// max |x| over n elements, as the twin: |x| first, so a NaN is skipped as fmaxf skips it (vmaxps returns its
/// second operand then).
static inline TGT __attribute__((always_inline)) float amax_avx2(const float *x, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) mx = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), mx);
    float amax = 0.0f;
    for (; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    float lanes[8];
    _mm256_storeu_ps(lanes, mx);
    for (int e = 0; e < 8; e++) amax = fmaxf(amax, lanes[e]);
    return amax;
}
static inline TGT __attribute__((always_inline)) void codes_avx2(const float *xr, int64_t j, int64_t k, float id,
                                                                 int8_t *dst, int32_t *lo, int32_t *hi) {
    const __m256 vid = _mm256_set1_ps(id);
    *lo = q16(xr, j, k, vid, dst);
    *hi = q16(xr, j + 16, k, vid, dst + 16);
}
IG_QUANTIZE_DRIVER(igemm_quantize_avx2, TGT, amax_avx2, codes_avx2)

const reel_igemm_quantize_fn reel_igemm_quantize_avx2 = igemm_quantize_avx2;

#endif
