// Integer attention (reel_attn.h): the driver — packing, the softmax, row blocking — and the scalar twins of the
// kernels (attn_i16_x86.c has the AVX-512 paths). Design: docs/kernels.md "Integer attention".
#include "attn_i16_internal.h"
#include <math.h>
#include <string.h>

// ---- scalar twins ----------------------------------------------------------------------------------------------------

static void qk_scalar(const int32_t *q, int64_t np, const int32_t *kp, int64_t panels, const float *qs,
                      const float *ks, float *scores, int64_t lds) {
    for (int64_t r = 0; r < IA_QR; r++)
        for (int64_t n = 0; n < panels; n++)
            for (int l = 0; l < 16; l++) {
                int32_t acc = 0;
                for (int64_t p = 0; p < np; p++) {
                    const int32_t a = q[r * np + p], b = kp[ia_kidx(n * 16 + l, p, np, panels)];
                    acc += ia_lo(a) * ia_lo(b) + ia_hi(a) * ia_hi(b);
                }
                scores[r * lds + n * 16 + l] = ((float)acc * qs[r]) * ks[n * 16 + l];
            }
}

static void pv_scalar(const int32_t *p, int64_t ldp, int64_t pairs, const int32_t *vp, int64_t ep, const float *vs,
                      const float *rs, int64_t rows, int64_t d, float *out, int64_t ldo) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t e = 0; e < d; e++) {
            int32_t acc = 0;
            for (int64_t t = 0; t < pairs; t++) {
                const int32_t a = p[r * ldp + t], b = vp[t * ep + e];
                acc += ia_lo(a) * ia_lo(b) + ia_hi(a) * ia_hi(b);
            }
            out[r * ldo + e] = ((float)acc * vs[e]) * rs[r];
        }
}

static float qrow_scalar(const float *x, int64_t d, float qmax, int16_t *dst, int64_t n16) {
    float m = 0.0f;
    for (int64_t i = 0; i < d; i++) {
        const float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    if (!(m > 0.0f) || !(m <= 3.4028234e38f)) {
        memset(dst, 0, (size_t)n16 * 2);
        return 0.0f;
    }
    const float inv = qmax / m;
    int64_t i = 0;
    for (; i < d; i++) dst[i] = (int16_t)ia_code(x[i] * inv, qmax);
    for (; i < n16; i++) dst[i] = 0;
    return m / qmax;
}

static int64_t prow_scalar(const float *x, int64_t s, int16_t *dst) {
    int64_t sum = 0;
    for (int64_t i = 0; i < s; i++) {
        const int32_t c = ia_code(x[i] * IA_PMAX, IA_PMAX);
        dst[i] = (int16_t)c;
        sum += c;
    }
    if (s & 1) dst[s] = 0;
    if (sum <= 0) {
        memset(dst, 0, (size_t)s * 2);
        return 0;
    }
    const float f = IA_PMAX / (float)sum;
    int64_t total = 0;
    for (int64_t i = 0; i < s; i++) {
        const int32_t c = ia_code((float)dst[i] * f, IA_PMAX);
        dst[i] = (int16_t)c;
        total += c;
    }
    return total;
}

static void vpair_scalar(const float *v0, const float *v1, int64_t d, const float *inv, int32_t *dst, int64_t ep) {
    int64_t e = 0;
    for (; e < d; e++) {
        const uint32_t lo = (uint16_t)(int16_t)ia_code(v0[e] * inv[e], IA_VMAX);
        const uint32_t hi = v1 ? (uint16_t)(int16_t)ia_code(v1[e] * inv[e], IA_VMAX) : 0u;
        dst[e] = (int32_t)(lo | hi << 16);
    }
    for (; e < ep; e++) dst[e] = 0;
}

const ia_kernels reel_ia_scalar = {qk_scalar, pv_scalar, qrow_scalar, prow_scalar, vpair_scalar};

// ---- driver ----------------------------------------------------------------------------------------------------------

static const ia_kernels *ia_active(void) {
    switch (reel_isa_active()) {
#if defined(__x86_64__) || defined(__i386__)
    case REEL_ISA_AVX512: return &reel_ia_avx512;
    case REEL_ISA_AVX512VNNI: return &reel_ia_vnni;
#endif
    default: return &reel_ia_scalar;  // AVX2 and NEON: the callers keep f32 attention (reel_attention_i16_vectorised)
    }
}

int reel_attention_i16_vectorised(void) { return ia_active() != &reel_ia_scalar; }

/// Scratch regions, each 64-byte aligned (offsets in bytes).
typedef struct {
    int64_t np, panels, pairs, ep, lds;
    size_t kp, ks, vp, vs, qb, qs, sc, pb, rs, total;
} ia_layout;

static size_t ia_up64(size_t n) { return (n + 63) & ~(size_t)63; }

/// Rows of q, k and v are a head's d columns of [s, heads·d] matrices: strided by ld floats (4.6 KB for so400m), past
/// what the hardware's stride prefetchers follow, so every row's first load waited on a miss (qrow: 11% of a head's
/// time, almost all of it on its first load). Prefetching the row IA_AHEAD rows ahead hides it.
#define IA_AHEAD 4
static inline void ia_prefetch_row(const float *x, int64_t d) {
    for (int64_t i = 0; i < d; i += 16) __builtin_prefetch(x + i);
    __builtin_prefetch(x + d - 1);
}

static ia_layout ia_plan(int64_t s, int64_t d) {
    ia_layout L;
    L.np = (d + 1) / 2;
    L.panels = (s + 15) / 16;
    L.pairs = (s + 1) / 2;
    L.ep = (d + 15) / 16 * 16;
    L.lds = L.panels * 16;
    size_t o = 0;
    L.kp = o, o += ia_up64((size_t)(L.panels * L.np * 16) * 4);
    L.ks = o, o += ia_up64((size_t)L.lds * 4);
    L.vp = o, o += ia_up64((size_t)(L.pairs * L.ep) * 4);
    L.vs = o, o += ia_up64((size_t)L.ep * 4 * 2);  // scales, then their inverses
    // q codes of a whole block of rows, and k codes row by row before they are scattered into panels: staged so
    // that no kernel reads words just written by the masked stores of qrow (a failed store-to-load forward per
    // word made qrow + the scatter 13% of a head's time).
    L.qb = o, o += ia_up64((size_t)((s > IA_RB ? s : IA_RB) * L.np) * 4);
    L.qs = o, o += ia_up64(IA_RB * 4);
    L.sc = o, o += ia_up64((size_t)(IA_RB * L.lds) * 4);
    L.pb = o, o += ia_up64((size_t)(IA_RB * L.pairs) * 4);
    L.rs = o, o += ia_up64(IA_RB * 4);
    L.total = o + 64;  // room to align the caller's pointer
    return L;
}

size_t reel_attention_i16_scratch_bytes(int64_t s, int64_t d) {
    if (s < 1 || d < 1 || s > 65536) return 0;
    return ia_plan(s, d).total;
}

int reel_attention_i16(const float *q, const float *k, const float *v, int64_t ld, int64_t s, int64_t d, float scale,
                       float *out, int64_t ldo, void *scratch) {
    if (s < 1 || d < 1 || s > 65536 || ld < d || ldo < d || !q || !k || !v || !out || !scratch)
        return REEL_ERR_BAD_ARGUMENT;
    const ia_kernels *K = ia_active();
    const ia_layout L = ia_plan(s, d);
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int32_t *kp = (int32_t *)(base + L.kp), *vp = (int32_t *)(base + L.vp), *qb = (int32_t *)(base + L.qb);
    int32_t *pb = (int32_t *)(base + L.pb);
    float *ks = (float *)(base + L.ks), *vs = (float *)(base + L.vs), *vinv = vs + L.ep;
    float *qs = (float *)(base + L.qs), *sc = (float *)(base + L.sc), *rs = (float *)(base + L.rs);
    const int64_t np = L.np, ep = L.ep, pairs = L.pairs, lds = L.lds;
    // Every partial sum of q·k stays below 2^31 in magnitude: 2·np codes of at most qmax² each.
    float qmax = floorf(sqrtf(2147483647.0f / (float)(2 * np)));
    if (qmax > 32767.0f) qmax = 32767.0f;

    // k: per-row codes, scattered into 16-key panels (pad keys: zero words, scale 0).
    memset(kp, 0, (size_t)(L.panels * np * 16) * 4);
    memset(ks, 0, (size_t)lds * 4);
    for (int64_t j = 0; j < s; j++) {
        if (j + IA_AHEAD < s) ia_prefetch_row(k + (j + IA_AHEAD) * ld, d);
        ks[j] = K->qrow(k + j * ld, d, qmax, (int16_t *)(qb + j * np), 2 * np);
    }
    for (int64_t j = 0; j < s; j++) {  // ia_kidx(j, p) = base + p·stride
        const int64_t base = ia_kidx(j, 0, np, L.panels), stride = ia_kidx(j, 1, np, L.panels) - base;
        const int32_t *src = qb + j * np;
        for (int64_t p = 0; p < np; p++) kp[base + p * stride] = src[p];
    }
    // v: per-column codes (±16383), two keys per word. Σ_j p_j·|v_j| ≤ (32767 + s/2)·16383 < 2^31 for s ≤ 65536.
    for (int64_t e = 0; e < ep; e++) vs[e] = 0.0f;
    for (int64_t j = 0; j < s; j++) {
        if (j + IA_AHEAD < s) ia_prefetch_row(v + (j + IA_AHEAD) * ld, d);
        const float *vj = v + j * ld;
        for (int64_t e = 0; e < d; e++) {
            const float a = fabsf(vj[e]);
            vs[e] = a > vs[e] ? a : vs[e];
        }
    }
    for (int64_t e = 0; e < ep; e++) {
        const float m = vs[e];
        const int ok = e < d && m > 0.0f && m <= 3.4028234e38f;
        vs[e] = ok ? m / IA_VMAX : 0.0f;
        vinv[e] = ok ? IA_VMAX / m : 0.0f;
    }
    for (int64_t t = 0; t < pairs; t++)
        K->vpair(v + 2 * t * ld, 2 * t + 1 < s ? v + (2 * t + 1) * ld : NULL, d, vinv, vp + t * ep, ep);

    for (int64_t i0 = 0; i0 < s; i0 += IA_RB) {
        const int64_t rows = s - i0 < IA_RB ? s - i0 : IA_RB;
        // scores = q·kᵀ·scale for the block's rows, IA_QR at a time (missing rows are zero)
        const int64_t padded = (rows + IA_QR - 1) / IA_QR * IA_QR;
        for (int64_t r = 0; r < padded; r++) {
            if (i0 + r + IA_AHEAD < s) ia_prefetch_row(q + (i0 + r + IA_AHEAD) * ld, d);
            if (r < rows) qs[r] = K->qrow(q + (i0 + r) * ld, d, qmax, (int16_t *)(qb + r * np), 2 * np) * scale;
            else memset(qb + r * np, 0, (size_t)np * 4), qs[r] = 0.0f;
        }
        for (int64_t r0 = 0; r0 < rows; r0 += IA_QR) K->qk(qb + r0 * np, np, kp, L.panels, qs + r0, ks, sc + r0 * lds, lds);
        // softmax per row, then probability codes; the row's code sum normalises the output
        for (int64_t r = 0; r < IA_RB; r++) {
            if (r < rows) {
                float *x = sc + r * lds;
                reel_softmax_exp_f32(x, s);
                const int64_t sum = K->prow(x, s, (int16_t *)(pb + r * pairs));
                rs[r] = sum > 0 ? 1.0f / (float)sum : 0.0f;
            } else {
                memset(pb + r * pairs, 0, (size_t)pairs * 4);
                rs[r] = 0.0f;
            }
        }
        for (int64_t r0 = 0; r0 < rows; r0 += IA_PR) {
            const int64_t n = rows - r0 < IA_PR ? rows - r0 : IA_PR;
            K->pv(pb + r0 * pairs, pairs, pairs, vp, ep, vs, rs + r0, n, d, out + (i0 + r0) * ldo, ldo);
        }
    }
    return REEL_OK;
}
