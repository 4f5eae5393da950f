// The scalar reference twins, and the weight quantisers (the same on every ISA). Plain C, any target.
#include "quant_internal.h"
#include <math.h>

// No fused multiply-adds: arm64 compilers contract a·b + c by default, which would make a .reel file's quantised
// bytes depend on the converting machine (and break rne() below).
#pragma STDC FP_CONTRACT OFF

// ---- conversions -------------------------------------------------------------------------------------------------

static void f16_to_f32(const uint16_t *s, float *d, int64_t n) { for (int64_t i = 0; i < n; i++) d[i] = reel_h2f(s[i]); }
static void f32_to_f16(const float *s, uint16_t *d, int64_t n) { for (int64_t i = 0; i < n; i++) d[i] = reel_f2h(s[i]); }
static void bf16_to_f32(const uint16_t *s, float *d, int64_t n) { for (int64_t i = 0; i < n; i++) d[i] = reel_bf2f(s[i]); }
static void f32_to_bf16(const float *s, uint16_t *d, int64_t n) { for (int64_t i = 0; i < n; i++) d[i] = reel_f2bf(s[i]); }

float reel_f16_to_f32_1(uint16_t h) { return reel_h2f(h); }
uint16_t reel_f32_to_f16_1(float f) { return reel_f2h(f); }

// ---- activations: absmax/127 ---------------------------------------------------------------------------------------

void reel_quantize_block_q8_act_scalar(const float *x, int n, uint8_t *dst) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    reel_wr16(dst, reel_f2h(d));
    int8_t *q = (int8_t *)(dst + 2);
    for (int i = 0; i < REEL_QK; i++) {
        float v = i < n ? nearbyintf(x[i] * id) : 0.0f;
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        q[i] = (int8_t)v;
    }
}

static void quantize_q8_act(const float *x, void *dst, int64_t k) {
    uint8_t *o = dst;
    for (int64_t i = 0; i < k; i += REEL_QK, o += REEL_Q8_BYTES)
        reel_quantize_block_q8_act_scalar(x + i, (int)(k - i < REEL_QK ? k - i : REEL_QK), o);
}

// ---- weights: scale search -----------------------------------------------------------------------------------------
// For each candidate inverse scale the codes are rounded and clamped, the least-squares scale for those codes is
// d = Σxq/Σq², and the block's squared error is Σx² − (Σxq)²/Σq². The best candidate's scale is rounded to f16,
// its codes re-rounded for that scale, and the result is kept only if its true error (with the f16 scale) beats the
// GGUF baseline's (Q8_0 or Q4_0 math, also with its f16 scale), so a block is never worse than GGUF's.

typedef struct { uint16_t d; int8_t q[REEL_QK]; } qblock;

static double block_err(const float *x, int n, const qblock *b) {
    const float d = reel_h2f(b->d);
    double e = 0;
    for (int i = 0; i < n; i++) { double r = (double)x[i] - (double)(d * (float)b->q[i]); e += r * r; }
    return e;
}

/// Round to nearest even without a libm call (baseline x86-64 has no roundss): adding and subtracting 1.5·2²³
/// leaves the integer part for |v| < 2²², and larger values are clamped anyway.
static inline float rne(float v) {
    const float magic = 12582912.0f;
    return fabsf(v) < 4194304.0f ? (v + magic) - magic : v;
}

static void round_codes(const float *x, int n, float id, int qmin, int qmax, int8_t *q) {
    for (int i = 0; i < n; i++) {
        float v = rne(x[i] * id);
        q[i] = (int8_t)(v < (float)qmin ? qmin : (v > (float)qmax ? qmax : v));
    }
}

/// Least-squares f16 scale for fixed codes.
static uint16_t ls_scale(const float *x, int n, const int8_t *q) {
    double sxq = 0, sqq = 0;
    for (int i = 0; i < n; i++) { sxq += (double)x[i] * q[i]; sqq += (double)q[i] * q[i]; }
    return sqq > 0 ? reel_f2h((float)(sxq / sqq)) : 0;
}

/// Searches the inverse scales `sign·(base + step·j)/m`, j in [jlo, jhi], where m is the block's signed
/// largest-magnitude value; improves on `best` (which holds the GGUF baseline) in place.
static void search(const float *x, int n, float m, float sign, float base, float step, int jlo, int jhi,
                   int qmin, int qmax, qblock *best, double *best_err) {
    double sxx = 0;
    for (int i = 0; i < n; i++) sxx += (double)x[i] * x[i];
    int8_t q[REEL_QK];
    double cand_e = INFINITY;
    float cand_id = 0;
    for (int j = jlo; j <= jhi; j++) {
        const float id = sign * (base + step * (float)j) / m;
        round_codes(x, n, id, qmin, qmax, q);
        // f32 sums suffice to rank candidates (the winner's true error is checked in f64 below); Σq² is exact.
        float sxq = 0;
        int32_t sqq = 0;
        for (int i = 0; i < n; i++) { sxq += x[i] * (float)q[i]; sqq += q[i] * q[i]; }
        if (sqq == 0) continue;
        const double e = sxx - (double)sxq * sxq / sqq;
        if (e < cand_e) { cand_e = e; cand_id = id; }
    }
    if (cand_e == INFINITY) return;
    qblock c;
    round_codes(x, n, cand_id, qmin, qmax, c.q);
    c.d = ls_scale(x, n, c.q);
    double e = block_err(x, n, &c);
    if (e < *best_err) { *best = c; *best_err = e; }
    // Re-round the codes for the f16 scale actually stored, then refit the scale once more.
    const float d = reel_h2f(c.d);
    if (d != 0.0f && isfinite(d)) {
        round_codes(x, n, 1.0f / d, qmin, qmax, c.q);
        e = block_err(x, n, &c);
        if (e < *best_err) { *best = c; *best_err = e; }
        c.d = ls_scale(x, n, c.q);
        e = block_err(x, n, &c);
        if (e < *best_err) { *best = c; *best_err = e; }
    }
}

/// Tries the f16 scales within `ulps` of `base` (same sign, finite, non-zero) with codes re-rounded for each.
/// This also rescues blocks whose ideal scale underflows f16 (|d| < 2^-24): they get the smallest subnormal
/// scales instead of zero.
static void try_f16_neighbours(const float *x, int n, uint16_t base, int ulps, int qmin, int qmax, qblock *best,
                               double *best_err) {
    const int mag = base & 0x7fff, sign = base & 0x8000;
    for (int delta = -ulps; delta <= ulps; delta++) {
        const int mg = mag + delta;
        if (mg < 1 || mg > 0x7bff) continue;
        qblock c;
        c.d = (uint16_t)(sign | mg);
        round_codes(x, n, 1.0f / reel_h2f(c.d), qmin, qmax, c.q);
        const double e = block_err(x, n, &c);
        if (e < *best_err) { *best = c; *best_err = e; }
    }
}

static int finite_row(const float *x, int64_t k) {
    for (int64_t i = 0; i < k; i++) if (!isfinite(x[i])) return 0;
    return 1;
}

/// q8 block of n ≤ 32 values (zero-padded).
static int quant_block_q8(const float *x, int n, uint8_t *dst) {
    float amax = 0;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    if (amax / 127.0f > 65504.0f) return REEL_ERR_BAD_ARGUMENT;
    qblock best = {0};
    // GGUF Q8_0 (quantize_row_q8_0_ref): d = amax/127, q = roundf(x/d).
    const float d0 = amax / 127.0f, id0 = d0 != 0.0f ? 1.0f / d0 : 0.0f;
    best.d = reel_f2h(d0);
    for (int i = 0; i < n; i++) best.q[i] = (int8_t)roundf(x[i] * id0);
    double best_err = block_err(x, n, &best);
    if (amax > 0 && best_err > 0) {
        search(x, n, amax, 1.0f, 127.0f, 0.5f, -6, 1, -127, 127, &best, &best_err);
        if (reel_f2h(d0) == 0) try_f16_neighbours(x, n, 1, 3, -127, 127, &best, &best_err);  // f16 underflow
        try_f16_neighbours(x, n, best.d, 1, -127, 127, &best, &best_err);
    }
    reel_wr16(dst, best.d);
    for (int i = 0; i < REEL_QK; i++) ((int8_t *)dst)[2 + i] = i < n ? best.q[i] : 0;
    return REEL_OK;
}

/// Symmetric int4 codes in [-8, 7] for n ≤ 32 values (zero-padded into q): returns the f16 scale.
static int quant_int4(const float *x, int n, uint16_t *d_out, int8_t *q_out) {
    float amax = 0, m = 0;
    for (int i = 0; i < n; i++) if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); m = x[i]; }
    if (amax / 8.0f > 65504.0f) return REEL_ERR_BAD_ARGUMENT;
    qblock best = {0};
    // GGUF Q4_0 (quantize_row_q4_0_ref): d = m/−8, q = min(15, (int8)(x/d + 8.5)) − 8.
    const float d0 = m / -8.0f, id0 = d0 != 0.0f ? 1.0f / d0 : 0.0f;
    best.d = reel_f2h(d0);
    for (int i = 0; i < n; i++) {
        int c = (int)(int8_t)(x[i] * id0 + 8.5f);
        best.q[i] = (int8_t)((c < 15 ? c : 15) - 8);
    }
    double best_err = block_err(x, n, &best);
    if (amax > 0 && best_err > 0) {
        search(x, n, m, -1.0f, 8.0f, 0.25f, -10, 2, -8, 7, &best, &best_err);  // m ↦ about −8
        search(x, n, m, 1.0f, 7.0f, 0.25f, -6, 2, -8, 7, &best, &best_err);    // m ↦ about +7
        if ((reel_f2h(d0) & 0x7fff) == 0)  // f16 underflow
            try_f16_neighbours(x, n, (uint16_t)((m > 0) << 15 | 1), 3, -8, 7, &best, &best_err);
        try_f16_neighbours(x, n, best.d, 1, -8, 7, &best, &best_err);
    }
    *d_out = best.d;
    memset(q_out, 0, REEL_QK);
    memcpy(q_out, best.q, (size_t)n);
    return REEL_OK;
}

static void pack_nibbles(const int8_t *q, uint8_t *b) {
    for (int j = 0; j < 16; j++) b[j] = (uint8_t)((q[j] + 8) | ((q[j + 16] + 8) << 4));
}

int reel_quantize_row_q8(const float *x, void *dst, int64_t k) {
    if (k < 1 || !finite_row(x, k)) return REEL_ERR_BAD_ARGUMENT;
    uint8_t *o = dst;
    for (int64_t i = 0; i < k; i += REEL_QK, o += REEL_Q8_BYTES) {
        int rc = quant_block_q8(x + i, (int)(k - i < REEL_QK ? k - i : REEL_QK), o);
        if (rc) return rc;
    }
    return REEL_OK;
}

int reel_quantize_row_q4(const float *x, void *dst, int64_t k) {
    if (k < 1 || !finite_row(x, k)) return REEL_ERR_BAD_ARGUMENT;
    uint8_t *o = dst;
    for (int64_t i = 0; i < k; i += REEL_QK, o += REEL_Q4_BYTES) {
        uint16_t d;
        int8_t q[REEL_QK];
        int rc = quant_int4(x + i, (int)(k - i < REEL_QK ? k - i : REEL_QK), &d, q);
        if (rc) return rc;
        reel_wr16(o, d);
        pack_nibbles(q, o + 2);
    }
    return REEL_OK;
}

int reel_quantize_row_q4f(const float *x, void *dst, int64_t k) {
    if (k < 1 || !finite_row(x, k)) return REEL_ERR_BAD_ARGUMENT;
    uint8_t *o = dst;
    for (int64_t i = 0; i < k; i += REEL_QK, o += REEL_Q4F_BYTES) {
        const int64_t left = k - i;
        const int n0 = left < 16 ? (int)left : 16, n1 = left <= 16 ? 0 : (left < 32 ? (int)left - 16 : 16);
        uint16_t d0, d1 = 0;
        int8_t q[REEL_QK], q1[REEL_QK];
        int rc = quant_int4(x + i, n0, &d0, q);
        if (rc) return rc;
        memset(q1, 0, sizeof q1);
        if (n1 > 0 && (rc = quant_int4(x + i + 16, n1, &d1, q1))) return rc;
        memcpy(q + 16, q1, 16);
        reel_wr16(o, d0);
        reel_wr16(o + 2, d1);
        pack_nibbles(q, o + 4);
    }
    return REEL_OK;
}

// ---- dequantise ----------------------------------------------------------------------------------------------------

void reel_dequantize_row_q8(const void *src, float *y, int64_t k) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < k; i += REEL_QK, b += REEL_Q8_BYTES) {
        const float d = reel_h2f(reel_rd16(b));
        for (int j = 0; j < REEL_QK && i + j < k; j++) y[i + j] = d * (float)((const int8_t *)b)[2 + j];
    }
}

void reel_dequantize_row_q4(const void *src, float *y, int64_t k) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < k; i += REEL_QK, b += REEL_Q4_BYTES) {
        const float d = reel_h2f(reel_rd16(b));
        for (int j = 0; j < REEL_QK && i + j < k; j++) {
            const int c = j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4);
            y[i + j] = d * (float)(c - 8);
        }
    }
}

void reel_dequantize_row_q4f(const void *src, float *y, int64_t k) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < k; i += REEL_QK, b += REEL_Q4F_BYTES) {
        const float d0 = reel_h2f(reel_rd16(b)), d1 = reel_h2f(reel_rd16(b + 2));
        for (int j = 0; j < REEL_QK && i + j < k; j++) {
            const int c = j < 16 ? (b[4 + j] & 15) : (b[4 + j - 16] >> 4);
            y[i + j] = (j < 16 ? d0 : d1) * (float)(c - 8);
        }
    }
}

// ---- dots ------------------------------------------------------------------------------------------------------------

static float dot_q8(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float s = 0;
    for (int64_t b = 0; b < nb; b++, w += REEL_Q8_BYTES, a += REEL_Q8_BYTES) {
        int32_t acc = 0;
        for (int j = 0; j < REEL_QK; j++) acc += (int32_t)((const int8_t *)w)[2 + j] * ((const int8_t *)a)[2 + j];
        s += reel_h2f(reel_rd16(w)) * reel_h2f(reel_rd16(a)) * (float)acc;
    }
    return s;
}

/// Σ over one q4 block's low-nibble half and high-nibble half.
static inline void q4_sums(const uint8_t *nib, const int8_t *a, int32_t *lo, int32_t *hi) {
    int32_t l = 0, h = 0;
    for (int j = 0; j < 16; j++) {
        l += ((nib[j] & 15) - 8) * a[j];
        h += ((nib[j] >> 4) - 8) * a[j + 16];
    }
    *lo = l, *hi = h;
}

static float dot_q4(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float s = 0;
    for (int64_t b = 0; b < nb; b++, w += REEL_Q4_BYTES, a += REEL_Q8_BYTES) {
        int32_t lo, hi;
        q4_sums(w + 2, (const int8_t *)a + 2, &lo, &hi);
        s += reel_h2f(reel_rd16(w)) * reel_h2f(reel_rd16(a)) * (float)(lo + hi);
    }
    return s;
}

static float dot_q4f(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float s = 0;
    for (int64_t b = 0; b < nb; b++, w += REEL_Q4F_BYTES, a += REEL_Q8_BYTES) {
        int32_t lo, hi;
        q4_sums(w + 4, (const int8_t *)a + 2, &lo, &hi);
        s += reel_h2f(reel_rd16(a)) * (reel_h2f(reel_rd16(w)) * (float)lo + reel_h2f(reel_rd16(w + 2)) * (float)hi);
    }
    return s;
}

static float dot_f32(const float *x, const float *y, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static float dot_f16(const uint16_t *x, const float *y, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += reel_h2f(x[i]) * y[i];
    return s;
}

static float dot_bf16(const uint16_t *x, const float *y, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += reel_bf2f(x[i]) * y[i];
    return s;
}

/// The read-only bound's reference: XOR of the row's 8-byte words (the last one zero-padded).
static uint64_t read_xor(const uint8_t *p, size_t n) { return reel_read_xor_tail(p, n); }

/// e^(x − max) in place: softmax's first two steps.
static void softmax_exp(float *x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int64_t i = 0; i < n; i++) x[i] = reel_exp_scalar(x[i] - m);
}

/// Softmax of one row in place: max, e^(x − max) with reel_exp_scalar, sum, scale — the vector paths' twin.
static void softmax(float *x, int64_t n) {
    softmax_exp(x, n);
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    const float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

/// One LayerNorm row: the 16-lane sums of the vector paths, element by element.
static void layernorm(const float *x, int64_t d, const float *w, const float *b, float eps, float *out) {
    float acc[16] = {0};
    for (int64_t i = 0; i < d; i++) acc[i % 16] += x[i];
    const float mean = reel_lane_tree16(acc) / (float)d;
    memset(acc, 0, sizeof acc);
    for (int64_t i = 0; i < d; i++) {
        const float c = x[i] - mean;
        acc[i % 16] = __builtin_fmaf(c, c, acc[i % 16]);
    }
    const float rstd = reel_ln_rstd(reel_lane_tree16(acc), d, eps);
    for (int64_t i = 0; i < d; i++) out[i] = __builtin_fmaf((x[i] - mean) * rstd, w[i], b[i]);
}

static void gelu_tanh(float *x, int64_t n) { for (int64_t i = 0; i < n; i++) x[i] = reel_gelu_tanh_scalar(x[i]); }

static void silu_mul(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = reel_silu_mul_scalar(g[i], u[i]);
}

static void add_f32(float *y, const float *x, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] += x[i]; }

/// Decode attention of one KV head (reel_attention_decode_f32 / _f16): the plain loops — dots in element order,
/// the scalar softmax, the weighted sum in position order. kv_at(f16, p, i) reads element i of an f32 or f16 cache.
static inline float kv_at(int f16, const void *p, int64_t i) {
    return f16 ? reel_h2f(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
static inline void attn_decode_t(int f16, const float *q, int64_t group, int64_t hd, const void *k, const void *v,
                                 int64_t ld, int64_t len, float scale, float *scores, float *out) {
    for (int64_t g = 0; g < group; g++) {
        float *sc = scores + g * len;
        for (int64_t s = 0; s < len; s++) {
            float t = 0;
            for (int64_t c = 0; c < hd; c++) t += q[g * hd + c] * kv_at(f16, k, s * ld + c);
            sc[s] = t * scale;
        }
        softmax(sc, len);
        for (int64_t c = 0; c < hd; c++) out[g * hd + c] = 0;
        for (int64_t s = 0; s < len; s++)
            for (int64_t c = 0; c < hd; c++) out[g * hd + c] += sc[s] * kv_at(f16, v, s * ld + c);
    }
}
static void attn_decode(const float *q, int64_t group, int64_t hd, const float *k, const float *v, int64_t ld,
                        int64_t len, float scale, float *scores, float *out) {
    attn_decode_t(0, q, group, hd, k, v, ld, len, scale, scores, out);
}
static void attn_decode_f16(const float *q, int64_t group, int64_t hd, const uint16_t *k, const uint16_t *v,
                            int64_t ld, int64_t len, float scale, float *scores, float *out) {
    attn_decode_t(1, q, group, hd, k, v, ld, len, scale, scores, out);
}

const reel_ktable reel_kt_scalar = {
    .f16_to_f32 = f16_to_f32, .f32_to_f16 = f32_to_f16, .bf16_to_f32 = bf16_to_f32, .f32_to_bf16 = f32_to_bf16,
    .quantize_q8_act = quantize_q8_act,
    .dot_q8 = dot_q8, .dot_q4 = dot_q4, .dot_q4f = dot_q4f,
    .dot_f32 = dot_f32, .dot_f16 = dot_f16, .dot_bf16 = dot_bf16, .read_xor = read_xor,
    .softmax = softmax, .softmax_exp = softmax_exp, .layernorm = layernorm, .gelu_tanh = gelu_tanh, .silu_mul = silu_mul,
    .add = add_f32, .attn_decode = attn_decode, .attn_decode_f16 = attn_decode_f16,
};
