// Private to CKernels: the layouts shared by the integer GEMM files (gemm_q8_*.c). See include/reel_gemm.h.
//
// Packed activation row: per block of 32, 48 bytes
//     [0, 32)  int8 codes a[32] (the q8 activation codes, unchanged)
//     [32, 36) f32 d_a
//     [36, 48) int32 corr[3]: −o·Σa over the block, over its first 16, over its last 16
// where o is the weight code offset of the VNNI path (128 for q8, 8 for q4/q4f): vpdpbusd multiplies unsigned by
// signed bytes, so weights go in as u = q + o and Σ q·a = Σ u·a + corr (exact in int32: |Σ u·a| ≤ 32·255·127).
//
// Weight panel: IG_NR = 16 consecutive weight rows ("columns" of the output), per block of 32
//     [0, 512)            codes: group g (elements 4g … 4g+3) of column c at g·64 + c·4, four bytes in element
//                         order (u = q + o on the VNNI path, signed q elsewhere)
//     [512, 512 + 64·ns)  f32 scales [ns][16]: ns = 1 (q8, q4) or 2 (q4f: d₀ for elements 0–15, d₁ for 16–31)
// Missing columns of a partial panel are zero and never stored.
#ifndef REEL_GEMM_Q8_INTERNAL_H
#define REEL_GEMM_Q8_INTERNAL_H
#include "quant_internal.h"
#include "include/reel_gemm.h"

#define IG_NR 16            // columns per panel
#define IG_ACT_BLOCK 48     // packed activation bytes per block
#define IG_CODES 512        // code bytes per panel block
#define IG_MAX_PANELS 2     // panels packed per tile (scratch is sized for this many)
#define IG_SPAN 4           // blocks per activation scale in reel_igemm_act128 (128 elements)

/// Bytes of one panel block: codes + ns·16 f32 scales.
static inline size_t ig_panel_block_bytes(int nsub) { return IG_CODES + (size_t)64 * nsub; }
static inline int ig_nsub(int enc) { return enc == REEL_ENC_Q4F ? 2 : 1; }
static inline size_t ig_weight_block_bytes(int enc) {
    return enc == REEL_ENC_Q8 ? REEL_Q8_BYTES : enc == REEL_ENC_Q4 ? REEL_Q4_BYTES : REEL_Q4F_BYTES;
}
/// One past the last element of the activation scale span that starts at block b0, in rows of k elements.
static inline int64_t ig_span_end(int64_t b0, int64_t k) {
    const int64_t e0 = b0 * REEL_QK;
    return k - e0 < IG_SPAN * REEL_QK ? k : e0 + IG_SPAN * REEL_QK;
}
/// Whether block b of a row of nb closes its activation scale span (reel_igemm_act128): the span's last block, or
/// the row's.
static inline int ig_span_closes(int64_t b, int64_t nb) { return b % IG_SPAN == IG_SPAN - 1 || b == nb - 1; }
/// The activation scale of the span holding block b, in the packed row `row` (reel_igemm_act128: each block of a
/// span carries it; read from the span's first).
static inline float ig_span_scale(const uint8_t *row, int64_t b) {
    float d;
    memcpy(&d, row + (size_t)(b - b % IG_SPAN) * IG_ACT_BLOCK + 32, 4);
    return d;
}
/// Writes the tail of a packed activation block (the layout above) from its scale and its halves' code sums.
static inline void ig_act_block_tail(uint8_t *d, float da, int32_t o, int32_t lo, int32_t hi) {
    const int32_t corr[3] = {-o * (lo + hi), -o * lo, -o * hi};
    memcpy(d + 32, &da, 4);
    memcpy(d + 36, corr, 12);
}
/// Offset that makes the weight codes unsigned for vpdpbusd.
static inline int ig_offset(int enc) { return enc == REEL_ENC_Q8 ? 128 : 8; }

// UNROLL before a loop with a constant trip count: the row, group and panel loops must unroll so the accumulators
// stay in registers (without it clang kept them on the stack: ~2× slower).
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

/// One ISA's GEMM over columns [c0, c1) (nb blocks per row); scratch holds IG_MAX_PANELS panels. a128 = 0: each
/// block's d_a enters its block's product (reel_igemm); a128 = 1: the blocks of a span of IG_SPAN are summed with
/// d_w alone, and the span's d_a (its first block's) multiplies that sum (reel_igemm_act128).
typedef void (*reel_igemm_fn)(int enc, int a128, const uint8_t *w, size_t rb, int64_t c0, int64_t c1, int64_t nb,
                              const uint8_t *act, int64_t m, float *y, int64_t ldy, uint8_t *scratch);

/// One ISA's reel_igemm_quantize_act128 over rows [0, m) (arguments checked by the caller).
typedef void (*reel_igemm_quantize_fn)(int enc, const float *x, size_t ldx, int64_t m, int64_t k, uint8_t *dst);

/// Portable panel packer: columns [r0, r0 + nc) (nc ≤ 16) of w into one panel; `offset` 1 stores u = q + o,
/// 0 stores signed q.
void reel_ig_pack_panel_c(int enc, int offset, const uint8_t *w, size_t rb, int64_t r0, int nc, int64_t nb,
                          uint8_t *dst);

/// Defines `static ATTR void NAME(…)`, a reel_igemm_fn for an ISA whose file has a tile of at most 2 activation rows
/// × one panel, `tile(ns, mr, a128, panel, pbb, nb, act, ars, y, ldy, nc)` (AVX2, NEON). Per 16-column panel it packs
/// signed codes into scratch, then runs the tile over pairs of rows; ns and mr are constants in each call so the
/// tile's loops unroll (a128 is a branch per block, outside the inner loops).
#define IG_PANEL_DRIVER(NAME, ATTR)                                                                                   \
    static ATTR void NAME(int enc, int a128, const uint8_t *w, size_t rb, int64_t c0, int64_t c1, int64_t nb,         \
                          const uint8_t *act, int64_t m, float *y, int64_t ldy, uint8_t *scratch) {                   \
        const int ns = ig_nsub(enc);                                                                                  \
        const size_t pbb = ig_panel_block_bytes(ns), ars = (size_t)nb * IG_ACT_BLOCK;                                 \
        for (int64_t c = c0; c < c1; c += IG_NR) {                                                                    \
            const int nc = c1 - c < IG_NR ? (int)(c1 - c) : IG_NR;                                                    \
            reel_ig_pack_panel_c(enc, 0, w, rb, c, nc, nb, scratch);                                                  \
            for (int64_t i = 0; i < m; i += 2) {                                                                      \
                const uint8_t *a = act + (size_t)i * ars;                                                             \
                float *yi = y + i * ldy + c;                                                                          \
                if (i + 2 <= m) {                                                                                     \
                    if (ns == 1) tile(1, 2, a128, scratch, pbb, nb, a, ars, yi, ldy, nc);                             \
                    else tile(2, 2, a128, scratch, pbb, nb, a, ars, yi, ldy, nc);                                     \
                } else if (ns == 1) {                                                                                 \
                    tile(1, 1, a128, scratch, pbb, nb, a, ars, yi, ldy, nc);                                          \
                } else {                                                                                              \
                    tile(2, 1, a128, scratch, pbb, nb, a, ars, yi, ldy, nc);                                          \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
    }

/// Defines `static ATTR void NAME(…)`, a reel_igemm_quantize_fn (activations with a scale per span of IG_SPAN
/// blocks, reel_igemm_quantize_act128), from an ISA's two pieces, so every path takes the same steps as the scalar
/// twin:
///   float AMAX(const float *x, int64_t n)   max |x| over n ≥ 1 elements, NaNs skipped (as fmaxf skips them);
///   void CODES(const float *xr, int64_t j, int64_t k, float id, int8_t *dst, int32_t *lo, int32_t *hi)
///       the 32 codes rne(x · id clamped to ±127) of the block at element j of a row of k (a NaN product → −127,
///       elements at or past k → 0), and the sums of its two halves.
/// Per span: d = amax / 127 and id = 1 / d (0 when d is 0); each block carries d.
#define IG_QUANTIZE_DRIVER(NAME, ATTR, AMAX, CODES)                                                                  \
    static ATTR void NAME(int enc, const float *x, size_t ldx, int64_t m, int64_t k, uint8_t *dst) {                 \
        const int64_t nb = (k + REEL_QK - 1) / REEL_QK;                                                              \
        const int32_t o = ig_offset(enc);                                                                            \
        for (int64_t i = 0; i < m; i++) {                                                                            \
            const float *xr = x + (size_t)i * ldx;                                                                   \
            uint8_t *d = dst + (size_t)i * (size_t)nb * IG_ACT_BLOCK;                                                \
            for (int64_t b0 = 0; b0 < nb; b0 += IG_SPAN) {                                                           \
                const int64_t e0 = b0 * REEL_QK;                                                                     \
                const float da = AMAX(xr + e0, ig_span_end(b0, k) - e0) / 127.0f;                                    \
                const float id = da != 0.0f ? 1.0f / da : 0.0f;                                                      \
                for (int64_t b = b0; b < nb && b < b0 + IG_SPAN; b++, d += IG_ACT_BLOCK) {                           \
                    int32_t lo, hi;                                                                                  \
                    CODES(xr, b * REEL_QK, k, id, (int8_t *)d, &lo, &hi);                                            \
                    ig_act_block_tail(d, da, o, lo, hi);                                                             \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

extern const reel_igemm_fn reel_igemm_scalar;
extern const reel_igemm_quantize_fn reel_igemm_quantize_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const reel_igemm_fn reel_igemm_avx2;
extern const reel_igemm_quantize_fn reel_igemm_quantize_avx2;
extern const reel_igemm_fn reel_igemm_avx512vnni;
extern const reel_igemm_quantize_fn reel_igemm_quantize_avx512;
#endif
#if defined(__aarch64__)
extern const reel_igemm_fn reel_igemm_neon;  // NULL without __ARM_FEATURE_DOTPROD
#endif

#endif
