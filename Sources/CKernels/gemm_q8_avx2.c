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
        if (a128 && (b % IG_SPAN == IG_SPAN - 1 || b == nb - 1)) {  // the span's end: its scale, from its first block
            UNROLL
            for (int i = 0; i < mr; i++) {
                float da;
                memcpy(&da, act + (size_t)(b - b % IG_SPAN) * IG_ACT_BLOCK + (size_t)i * ars + 32, 4);
                const __m256 va = _mm256_set1_ps(da);
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

#endif
