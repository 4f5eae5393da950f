// arm64 Advanced SIMD kernels (NEON is baseline on arm64). Integer dots use sdot when the build targets
// __ARM_FEATURE_DOTPROD (e.g. -mcpu=apple-m1), else widening multiplies. gemm entries are NULL: dispatch loops
// over the dots. Compiles to nothing on other architectures.
#include "quant_internal.h"
#if defined(__aarch64__)
#include <arm_neon.h>

static inline float h2f(const uint8_t *p) { __fp16 h; memcpy(&h, p, 2); return (float)h; }

/// 4 int32 lanes whose sum is Σ w·a over 32 bytes (w0/a0: bytes 0–15, w1/a1: bytes 16–31).
static inline int32x4_t dot32(int8x16_t w0, int8x16_t a0, int8x16_t w1, int8x16_t a1) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, a0), w1, a1);
#else
    int32x4_t s = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(a0)));
    s = vpadalq_s16(s, vmull_s8(vget_high_s8(w0), vget_high_s8(a0)));
    s = vpadalq_s16(s, vmull_s8(vget_low_s8(w1), vget_low_s8(a1)));
    return vpadalq_s16(s, vmull_s8(vget_high_s8(w1), vget_high_s8(a1)));
#endif
}

static inline int32x4_t dot16(int8x16_t w, int8x16_t a) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdupq_n_s32(0), w, a);
#else
    int32x4_t s = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(a)));
    return vpadalq_s16(s, vmull_s8(vget_high_s8(w), vget_high_s8(a)));
#endif
}

static float dot_q8(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t b = 0; b < nb; b++, w += REEL_Q8_BYTES, a += REEL_Q8_BYTES) {
        const int8x16_t w0 = vld1q_s8((const int8_t *)w + 2), w1 = vld1q_s8((const int8_t *)w + 18);
        const int8x16_t a0 = vld1q_s8((const int8_t *)a + 2), a1 = vld1q_s8((const int8_t *)a + 18);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot32(w0, a0, w1, a1)), h2f(w) * h2f(a));
    }
    return vaddvq_f32(acc);
}

/// q4 codes of one block: elements 0–15 in *lo, 16–31 in *hi, as signed [-8, 7].
static inline void q4_codes(const uint8_t *nib, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t b = vld1q_u8(nib);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), vdupq_n_s8(8));
}

static float dot_q4(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t b = 0; b < nb; b++, w += REEL_Q4_BYTES, a += REEL_Q8_BYTES) {
        int8x16_t lo, hi;
        q4_codes(w + 2, &lo, &hi);
        const int8x16_t a0 = vld1q_s8((const int8_t *)a + 2), a1 = vld1q_s8((const int8_t *)a + 18);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot32(lo, a0, hi, a1)), h2f(w) * h2f(a));
    }
    return vaddvq_f32(acc);
}

static float dot_q4f(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t b = 0; b < nb; b++, w += REEL_Q4F_BYTES, a += REEL_Q8_BYTES) {
        int8x16_t lo, hi;
        q4_codes(w + 4, &lo, &hi);
        const int8x16_t a0 = vld1q_s8((const int8_t *)a + 2), a1 = vld1q_s8((const int8_t *)a + 18);
        const float da = h2f(a);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot16(lo, a0)), h2f(w) * da);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot16(hi, a1)), h2f(w + 2) * da);
    }
    return vaddvq_f32(acc);
}

/// Bit-identical to reel_quantize_block_q8_act_scalar (vcvtnq rounds to nearest even, as nearbyintf).
static void quantize_q8_act(const float *x, void *dst, int64_t k) {
    uint8_t *o = dst;
    int64_t i = 0;
    for (; i + REEL_QK <= k; i += REEL_QK, o += REEL_Q8_BYTES) {
        float32x4_t v[8];
        float32x4_t mx = vdupq_n_f32(0);
        for (int j = 0; j < 8; j++) {
            v[j] = vld1q_f32(x + i + 4 * j);
            mx = vmaxq_f32(mx, vabsq_f32(v[j]));
        }
        const float amax = vmaxvq_f32(mx);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        reel_wr16(o, reel_f2h(d));
        for (int j = 0; j < 8; j += 2) {
            int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(v[j], id)), q1 = vcvtnq_s32_f32(vmulq_n_f32(v[j + 1], id));
            q0 = vmaxq_s32(vminq_s32(q0, vdupq_n_s32(127)), vdupq_n_s32(-127));
            q1 = vmaxq_s32(vminq_s32(q1, vdupq_n_s32(127)), vdupq_n_s32(-127));
            const int16x8_t q16 = vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1));
            vst1_s8((int8_t *)(o + 2 + 4 * j), vqmovn_s16(q16));
        }
    }
    if (i < k) reel_quantize_block_q8_act_scalar(x + i, (int)(k - i), o);
}

static void f16_to_f32(const uint16_t *s, float *d, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(d + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(s + i))));
    for (; i < n; i++) d[i] = reel_h2f(s[i]);
}

static void f32_to_f16(const float *s, uint16_t *d, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(d + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(s + i))));
    for (; i < n; i++) d[i] = reel_f2h(s[i]);
}

static void bf16_to_f32(const uint16_t *s, float *d, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_u32((uint32_t *)(d + i), vshll_n_u16(vld1_u16(s + i), 16));
    for (; i < n; i++) d[i] = reel_bf2f(s[i]);
}

static float dot_f32(const float *x, const float *y, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

static float dot_f16(const uint16_t *x, const float *y, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))), vld1q_f32(y + i));
    float s = vaddvq_f32(a0);
    for (; i < n; i++) s += reel_h2f(x[i]) * y[i];
    return s;
}

static float dot_bf16(const uint16_t *x, const float *y, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        a0 = vfmaq_f32(a0, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(x + i), 16)), vld1q_f32(y + i));
    float s = vaddvq_f32(a0);
    for (; i < n; i++) s += reel_bf2f(x[i]) * y[i];
    return s;
}

// f32 → bf16 stays scalar (integer rounding; rarely hot).
/// The read-only bound's stream: 64 bytes per step into four 128-bit XOR accumulators.
static uint64_t read_xor(const uint8_t *p, size_t n) {
    uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = veorq_u64(a0, vld1q_u64((const uint64_t *)(p + i)));
        a1 = veorq_u64(a1, vld1q_u64((const uint64_t *)(p + i + 16)));
        a2 = veorq_u64(a2, vld1q_u64((const uint64_t *)(p + i + 32)));
        a3 = veorq_u64(a3, vld1q_u64((const uint64_t *)(p + i + 48)));
    }
    const uint64x2_t a = veorq_u64(veorq_u64(a0, a1), veorq_u64(a2, a3));
    return vgetq_lane_u64(a, 0) ^ vgetq_lane_u64(a, 1) ^ reel_read_xor_tail(p + i, n - i);
}

const reel_ktable reel_kt_neon = {
    .f16_to_f32 = f16_to_f32, .f32_to_f16 = f32_to_f16, .bf16_to_f32 = bf16_to_f32,
    .quantize_q8_act = quantize_q8_act,
    .dot_q8 = dot_q8, .dot_q4 = dot_q4, .dot_q4f = dot_q4f,
    .dot_f32 = dot_f32, .dot_f16 = dot_f16, .dot_bf16 = dot_bf16, .read_xor = read_xor,
};

#endif
