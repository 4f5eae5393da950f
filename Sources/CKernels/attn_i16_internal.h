// Private to CKernels: the integer attention's micro-kernels (attn_i16.c scalar twin, attn_i16_x86.c) and layouts.
//
// Layouts (all 32-bit words, each word two int16 — low half first — as vpdpwssd / vpmaddwd pair them):
// - q rows: IA_QR rows of np = d/2 (rounded up) words, word p = (q[2p], q[2p+1]).
// - k panels: 16 keys each, lane l of panel n = key 16n + l; word (key, p) = (k[2p], k[2p+1]). Panels come in groups
//   of 4 (64 keys) while 4 are left: group g holds pair p of its 64 keys at kp[g·64·np + 64p …]; the last
//   panels % 4 panels alone, panel n's pair p at kp[16·n·np + 16p …] (ia_kidx).
// - p rows: IA_PR rows of sp/2 words (ldp words apart), word t = (p[2t], p[2t+1]).
// - v pairs: pair t is ep words at vp[t·ep], lane e = (v_{2t}[e], v_{2t+1}[e]); ep = d rounded up to 16.
#ifndef REEL_ATTN_I16_INTERNAL_H
#define REEL_ATTN_I16_INTERNAL_H
#include "include/reel_attn.h"
#include "include/reel_quant.h"

#define IA_QR 6   // query rows per q·kᵀ tile
#define IA_PR 4   // rows per p·v tile
#define IA_RB 48  // query rows per block (a multiple of IA_QR and IA_PR): scores [IA_RB, S] stay in L2

/// The five kernels of one path. Every float→code conversion is round-to-nearest-even, clamped to ±max (NaN → −max);
/// the integer sums are exact, and the float epilogues are the same operations in the same order on every path.
typedef struct {
    /// scores[r·lds + 16n + l] = ((float)(q_r · k_{16n+l}) · qs[r]) · ks[16n + l] for r < IA_QR, n < panels.
    void (*qk)(const int32_t *q, int64_t np, const int32_t *kp, int64_t panels, const float *qs, const float *ks,
               float *scores, int64_t lds);
    /// out[r·ldo + e] = ((float)(Σ_t p_r·v) · vs[e]) · rs[r] for r < rows (≤ IA_PR; IA_PR rows of p are read), e < d.
    void (*pv)(const int32_t *p, int64_t ldp, int64_t pairs, const int32_t *vp, int64_t ep, const float *vs,
               const float *rs, int64_t rows, int64_t d, float *out, int64_t ldo);
    /// dst[i] = code(x[i] · (qmax / m)), m = max|x| over d values, for i < d; zero up to n16. Returns m / qmax, or
    /// 0 (and all codes 0) when m is 0 or not finite.
    float (*qrow)(const float *x, int64_t d, float qmax, int16_t *dst, int64_t n16);
    /// Probability codes of a row of e^(x − max) values (≤ 1, the largest 1): c[i] = code(x[i] · 32767), S = Σ c
    /// (exact), then dst[i] = code((float)c[i] · (32767 / (float)S)) — normalised probabilities · 32767, computed
    /// without a float sum, so every path agrees — and dst[s] = 0 when s is odd. Returns Σ dst (0: all zero).
    int64_t (*prow)(const float *x, int64_t s, int16_t *dst);
    /// dst[e] = word(code(v0[e] · inv[e]), code(v1[e] · inv[e])) for e < d with v1 NULL meaning zeros (±16383 codes);
    /// dst[e] = 0 for d ≤ e < ep.
    void (*vpair)(const float *v0, const float *v1, int64_t d, const float *inv, int32_t *dst, int64_t ep);
} ia_kernels;

extern const ia_kernels reel_ia_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const ia_kernels reel_ia_avx512, reel_ia_vnni;
#endif

#define IA_VMAX 16383.0f  // v codes: ±(2^14 − 1)
#define IA_PMAX 32767.0f  // probability codes: round(p · (2^15 − 1)), p ≤ 1

/// The scalar conversion every path matches: round to nearest even, clamp to ±m, NaN → −m (as cvtps2dq's
/// 0x80000000 clamped).
static inline int32_t ia_code(float y, float m) {
    if (!(y == y)) return -(int32_t)m;
    const float r = __builtin_rintf(y);
    if (r >= 2147483648.0f || r < -2147483648.0f) return -(int32_t)m;  // cvtps2dq's "integer indefinite"
    int32_t c = (int32_t)r;
    const int32_t im = (int32_t)m;
    return c > im ? im : (c < -im ? -im : c);
}

/// Index in kp of word (key j, pair p), for `panels` panels of np pairs.
static inline int64_t ia_kidx(int64_t j, int64_t p, int64_t np, int64_t panels) {
    const int64_t n = j / 16;
    if (n < panels / 4 * 4) return (j / 64) * 64 * np + p * 64 + j % 64;
    return n * 16 * np + p * 16 + j % 16;
}

static inline int32_t ia_lo(int32_t w) { return (int16_t)(uint16_t)((uint32_t)w & 0xffffu); }
static inline int32_t ia_hi(int32_t w) { return (int16_t)(uint16_t)((uint32_t)w >> 16); }
#endif
