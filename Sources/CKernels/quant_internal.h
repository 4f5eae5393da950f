// Private to CKernels: the per-ISA kernel table and helpers shared by quant_*.c.
#ifndef REEL_QUANT_INTERNAL_H
#define REEL_QUANT_INTERNAL_H
#include "include/reel_quant.h"
#include <string.h>

// One ISA's kernels. A NULL entry inherits from the path below it (scalar ← avx2 ← avx512 ← avx512vnni).
// Quantised dots and gemms take block counts (nb = ceil(k/32)); float dots take element counts.
typedef void (*reel_gemm_q_fn)(const uint8_t *w, size_t row_bytes, int64_t row_begin, int64_t row_end, int64_t nb,
                               const uint8_t *x, size_t x_row_bytes, int64_t m, float *y, int64_t ldy);
typedef struct {
    void (*f16_to_f32)(const uint16_t *, float *, int64_t);
    void (*f32_to_f16)(const float *, uint16_t *, int64_t);
    void (*bf16_to_f32)(const uint16_t *, float *, int64_t);
    void (*f32_to_bf16)(const float *, uint16_t *, int64_t);
    void (*quantize_q8_act)(const float *, void *, int64_t k);
    float (*dot_q8)(const uint8_t *w, const uint8_t *a, int64_t nb);
    float (*dot_q4)(const uint8_t *w, const uint8_t *a, int64_t nb);
    float (*dot_q4f)(const uint8_t *w, const uint8_t *a, int64_t nb);
    float (*dot_f32)(const float *, const float *, int64_t);
    float (*dot_f16)(const uint16_t *, const float *, int64_t);
    float (*dot_bf16)(const uint16_t *, const float *, int64_t);
    reel_gemm_q_fn gemm_q8, gemm_q4, gemm_q4f;  // NULL: dispatch loops over the dot
    uint64_t (*read_xor)(const uint8_t *p, size_t n);  // the read-only bound's stream (reel_read_xor)
    void (*softmax)(float *x, int64_t n);               // reel_softmax_f32
    void (*softmax_exp)(float *x, int64_t n);           // reel_softmax_exp_f32
    void (*layernorm)(const float *x, int64_t d, const float *w, const float *b, float eps, float *out);  // one row
    void (*gelu_tanh)(float *x, int64_t n);             // reel_gelu_tanh_f32
    void (*silu_mul)(float *g, const float *u, int64_t n);  // reel_silu_mul_f32
    void (*add)(float *y, const float *x, int64_t n);       // reel_add_f32
    void (*attn_decode)(const float *q, int64_t group, int64_t hd, const float *k, const float *v, int64_t ld,
                        int64_t len, float scale, float *scores, float *out);  // reel_attention_decode_f32
    void (*attn_decode_f16)(const float *q, int64_t group, int64_t hd, const uint16_t *k, const uint16_t *v,
                            int64_t ld, int64_t len, float scale, float *scores, float *out);  // _f16
} reel_ktable;

/// The load/store mask of a 16-lane step with `left` elements left (all 16 when left ≥ 16; left ≥ 1).
static inline uint16_t reel_mask16(int64_t left) { return left >= 16 ? 0xffff : (uint16_t)((1u << left) - 1); }

extern const reel_ktable reel_kt_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const reel_ktable reel_kt_avx2;
extern const reel_ktable reel_kt_avx512;
extern const reel_ktable reel_kt_avx512vnni;
#endif
#if defined(__aarch64__)
extern const reel_ktable reel_kt_neon;
#endif

static inline uint32_t reel_bits_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float reel_f32_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t reel_rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }  // little-endian hosts
static inline void reel_wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/// binary16 → binary32, exact; NaN quietened with its payload kept.
static inline float reel_h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-8f;  // m · 2^-24, exact
        return reel_f32_bits(reel_bits_f32(f) | sign);
    }
    if (e == 31) return reel_f32_bits(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0));
    return reel_f32_bits(sign | ((e + 112) << 23) | (m << 13));
}

/// binary32 → binary16, round to nearest even (F. Giesen's float_to_half_fast3_rtne); NaN → quiet NaN with the
/// payload's top bits, as F16C's vcvtps2ph does.
static inline uint16_t reel_f2h(float f) {
    uint32_t x = reel_bits_f32(f);
    uint32_t sign = x & 0x80000000u;
    x ^= sign;
    uint16_t o;
    if (x >= (127u + 16u) << 23) {  // ≥ 65536, Inf or NaN
        o = x > 0x7f800000u ? (uint16_t)(0x7e00 | ((x >> 13) & 0x3ff)) : 0x7c00;
    } else if (x < 113u << 23) {    // below 2^-14: f16 subnormal or zero; the FPU rounds for us
        const uint32_t magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
        o = (uint16_t)(reel_bits_f32(reel_f32_bits(x) + reel_f32_bits(magic)) - magic);
    } else {
        uint32_t odd = (x >> 13) & 1;
        x += ((uint32_t)(15 - 127) << 23) + 0xfff + odd;
        o = (uint16_t)(x >> 13);
    }
    return (uint16_t)(o | (sign >> 16));
}

/// binary32 → bfloat16, round to nearest even; NaN → quiet NaN.
static inline uint16_t reel_f2bf(float f) {
    uint32_t x = reel_bits_f32(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

static inline float reel_bf2f(uint16_t b) { return reel_f32_bits((uint32_t)b << 16); }

/// XOR of the 8-byte little-endian words of n bytes, a last partial word zero-padded: reel_read_xor's scalar twin
/// and every vector path's tail, so every path returns the same value.
static inline uint64_t reel_read_xor_tail(const uint8_t *p, size_t n) {
    uint64_t x = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { memcpy(&w, p + i, 8); x ^= w; }
    if (i < n) { w = 0; memcpy(&w, p + i, n - i); x ^= w; }
    return x;
}

// ---- exp for softmax: Cephes expf's range reduction and polynomial, written once for every path ---------------------
// e^x = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (ln 2 in two parts, so r is exact to a few ulp), e^r by a
// degree-7 polynomial on |r| ≤ ln2/2. Relative error ≤ 2 ulp against the exact value for x in [−87.3, 88.7]
// (tested: ReelQuantTests.SoftmaxKernelTests); below −87.33 (e^x under FLT_MIN, and −∞) the result is 0 — a masked
// score — and x is clamped to 88 above (softmax only feeds x ≤ 0). The vector paths evaluate the same operations in the same order (FMA
// where the scalar uses fmaf), so each element is bit-identical on every path; only softmax's sum order differs.
#define REEL_EXP_LO (-87.33654f)
#define REEL_EXP_HI 88.0f
#define REEL_LOG2E 1.44269504088896341f
#define REEL_LN2_HI 0.693359375f
#define REEL_LN2_LO (-2.12194440e-4f)
#define REEL_EXP_P0 1.9875691500e-4f
#define REEL_EXP_P1 1.3981999507e-3f
#define REEL_EXP_P2 8.3334519073e-3f
#define REEL_EXP_P3 4.1665795894e-2f
#define REEL_EXP_P4 1.6666665459e-1f
#define REEL_EXP_P5 5.0000001201e-1f

static inline float reel_exp_scalar(float x) {
    if (!(x >= REEL_EXP_LO)) return x != x ? x : 0.0f;  // −∞ and tiny → 0; NaN stays NaN
    if (x > REEL_EXP_HI) x = REEL_EXP_HI;
    const float n = __builtin_rintf(x * REEL_LOG2E);
    float r = __builtin_fmaf(n, -REEL_LN2_HI, x);
    r = __builtin_fmaf(n, -REEL_LN2_LO, r);
    float p = __builtin_fmaf(REEL_EXP_P0, r, REEL_EXP_P1);
    p = __builtin_fmaf(p, r, REEL_EXP_P2);
    p = __builtin_fmaf(p, r, REEL_EXP_P3);
    p = __builtin_fmaf(p, r, REEL_EXP_P4);
    p = __builtin_fmaf(p, r, REEL_EXP_P5);
    p = __builtin_fmaf(p, r * r, r + 1.0f);
    return p * reel_f32_bits((uint32_t)((int32_t)n + 127) << 23);
}

/// gelu_pytorch_tanh of one value, ½x(1 + tanh(√(2/π)(x + 0.044715x³))) written as x(1 − 1/(1 + e^{2z})) (one
/// exp, exact at ±∞), every operation spelled out (no contraction left to the compiler) so the vector paths match.
#define REEL_GELU_2C 1.5957691216057308f  // 2·√(2/π)
#define REEL_GELU_A 0.044715f
static inline float reel_gelu_tanh_scalar(float v) {
    const float u = (REEL_GELU_A * v) * v;
    const float e = reel_exp_scalar(REEL_GELU_2C * __builtin_fmaf(u, v, v));
    return v * (1.0f - 1.0f / (1.0f + e));
}

/// SwiGLU's product silu(g)·u = g / (1 + e^{−g}) · u, with reel_exp_scalar (g → −∞: e^{−g} is clamped at e^88, so
/// the product goes to −0, as it should).
static inline float reel_silu_mul_scalar(float g, float u) { return g / (1.0f + reel_exp_scalar(-g)) * u; }

/// The 16 lane sums of reel_layernorm_f32 added as a tree (l += l+8, +4, +2, +1): every path's reduction.
static inline float reel_lane_tree16(float *acc) {
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) acc[l] = acc[l] + acc[l + w];
    return acc[0];
}

/// rstd of reel_layernorm_f32 from the two lane-tree sums: every path's scalar tail.
static inline float reel_ln_rstd(float sq, int64_t d, float eps) { return 1.0f / __builtin_sqrtf(sq / (float)d + eps); }

/// Activation block quantiser shared by all paths for the partial last block (exactly the vector math).
void reel_quantize_block_q8_act_scalar(const float *x, int n, uint8_t *dst);

#endif
