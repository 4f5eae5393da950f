// Integer GEMM on arm64 with sdot (built with __ARM_FEATURE_DOTPROD; otherwise the scalar twin runs). Compiles to
// nothing off arm64.
//
// Tile: 2 activation rows × one 16-column panel (four int32x4 per row). The panel holds signed codes; sdot
// multiplies signed by signed bytes, so no offset is needed. Integer block sums are exact and the epilogue is the
// scalar twin's (vfmaq_f32: one rounding), so the results are bit-identical to it.
#include "gemm_q8_internal.h"
#if defined(__aarch64__)
#if defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>

static inline __attribute__((always_inline)) void tile(int ns, int mr, int a128, const uint8_t *p, size_t pbb,
                                                       int64_t nb, const uint8_t *act, size_t ars, float *y,
                                                       int64_t ldy, int nc) {
    float32x4_t f[2][4], t[2][4];  // t: a128's span sums
    UNROLL
    for (int i = 0; i < 2; i++) for (int q = 0; q < 4; q++) f[i][q] = t[i][q] = vdupq_n_f32(0);
    const int G = 8 / ns;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *wb = p + (size_t)b * pbb, *ab = act + (size_t)b * IG_ACT_BLOCK;
        UNROLL
        for (int s = 0; s < ns; s++) {
            int32x4_t acc[2][4];
            UNROLL
            for (int i = 0; i < mr; i++) for (int q = 0; q < 4; q++) acc[i][q] = vdupq_n_s32(0);
            UNROLL
            for (int g = s * G; g < (s + 1) * G; g++) {
                int8x16_t wv[4];
                UNROLL
                for (int q = 0; q < 4; q++) wv[q] = vld1q_s8((const int8_t *)(wb + 64 * g + 16 * q));
                UNROLL
                for (int i = 0; i < mr; i++) {
                    int32_t a4;
                    memcpy(&a4, ab + (size_t)i * ars + 4 * g, 4);
                    const int8x16_t a = vreinterpretq_s8_s32(vdupq_n_s32(a4));
                    UNROLL
                    for (int q = 0; q < 4; q++) acc[i][q] = vdotq_s32(acc[i][q], wv[q], a);
                }
            }
            UNROLL
            for (int i = 0; i < mr; i++) {
                float da;
                memcpy(&da, ab + (size_t)i * ars + 32, 4);
                UNROLL
                for (int q = 0; q < 4; q++) {
                    const float32x4_t dw = vld1q_f32((const float *)(wb + IG_CODES + 64 * s + 16 * q));
                    if (a128) t[i][q] = vfmaq_f32(t[i][q], vcvtq_f32_s32(acc[i][q]), dw);
                    else f[i][q] = vfmaq_f32(f[i][q], vcvtq_f32_s32(acc[i][q]), vmulq_n_f32(dw, da));
                }
            }
        }
        if (a128 && ig_span_closes(b, nb)) {
            UNROLL
            for (int i = 0; i < mr; i++) {
                const float da = ig_span_scale(act + (size_t)i * ars, b);
                UNROLL
                for (int q = 0; q < 4; q++) {
                    f[i][q] = vfmaq_n_f32(f[i][q], t[i][q], da);
                    t[i][q] = vdupq_n_f32(0);
                }
            }
        }
    }
    UNROLL
    for (int i = 0; i < mr; i++) {
        float out[IG_NR];
        UNROLL
        for (int q = 0; q < 4; q++) vst1q_f32(out + 4 * q, f[i][q]);
        memcpy(y + i * ldy, out, (size_t)nc * sizeof(float));
    }
}

IG_PANEL_DRIVER(igemm_neon, )

const reel_igemm_fn reel_igemm_neon = igemm_neon;
#else
const reel_igemm_fn reel_igemm_neon = 0;
#endif
#endif
