// Integer GEMM with AVX-512 VNNI (vpdpbusd). Compiled for any x86-64 target; the functions carry their own target
// attribute and dispatch.c calls them only if the CPU has the features.
//
// Tile: IG_MR activation rows × 32 columns (two 16-column panels). Per block of 32 and row i, the int32
// accumulators start at the activation's offset correction; each 4-element group g is one vpdpbusd per panel
// (weight codes u = q + o from the panel, the row's 4 activation bytes broadcast from memory), so after 8 groups
// they hold Σ q·a exactly. The epilogue per block (q4f: per half) is cvtdq2ps, d_w·d_a, fma into the f32
// accumulators — the scalar twin's order. With activation scales per 128 (reel_igemm_act128) the epilogue per block
// is cvtdq2ps and an fma with d_w into span accumulators, and per span of 4 blocks one fma with d_a (IG_MR128 rows).
// The panels are repacked from the mapped rows per tile with gathers. Also here: reel_igemm_quantize_act128's
// AVX-512 path.
#include "gemm_q8_internal.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define KFN static inline TGT __attribute__((always_inline))
#ifndef IG_MR
// Activation rows per tile: 10 int32 + 10 f32 accumulators, 2 weight registers and the broadcasts fit the 32 zmm
// registers. 6 rows (12 + 12) made clang spill accumulators to the stack every block: one thread, the so400m fc1
// shape [1458, 1152] × [1152, 4304] on an AVX-512-VNNI Xeon, best of 8, three rounds alternately: 6 rows 367–376
// GOP/s, 5 rows 353–434, 4 rows 288–411 (docs/kernels.md).
#define IG_MR 5
#endif
// Rows per tile with spans of scales (reel_igemm_act128): its 10 span accumulators take the registers of a fifth row.
// One thread, so400m shapes, against 5 rows: [729, 1152] × [1152, 4304] 356–365 vs 342–352 GOP/s, × [1152, 1152]
// 357–372 vs 338–356 (docs/kernels.md "Activation scales per 128").
#define IG_MR128 4

/// Packs columns [r0, r0 + nc) of w into one panel, codes offset for vpdpbusd (gemm_q8_internal.h layout).
KFN void pack_panel(int enc, const uint8_t *w, size_t rb, int64_t r0, int nc, int64_t nb, uint8_t *dst) {
    const int ns = ig_nsub(enc);
    const size_t pbb = ig_panel_block_bytes(ns), wbs = ig_weight_block_bytes(enc);
    const __mmask16 mk = (__mmask16)((1u << nc) - 1);
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)rb));
    const __m512i z = _mm512_setzero_si512(), nib = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8((char)0x80);
    const uint8_t *base = w + (size_t)r0 * rb;
    for (int64_t b = 0; b < nb; b++, base += wbs, dst += pbb) {
        if (enc == REEL_ENC_Q8) {
            for (int g = 0; g < 8; g++) {
                const __m512i v = _mm512_mask_i32gather_epi32(z, mk, idx, base + 2 + 4 * g, 1);
                _mm512_storeu_si512((__m512i *)(dst + 64 * g), _mm512_xor_si512(v, flip));  // q + 128
            }
        } else {
            const int off = enc == REEL_ENC_Q4F ? 4 : 2;
            for (int g = 0; g < 4; g++) {
                const __m512i v = _mm512_mask_i32gather_epi32(z, mk, idx, base + off + 4 * g, 1);
                _mm512_storeu_si512((__m512i *)(dst + 64 * g), _mm512_and_si512(v, nib));
                _mm512_storeu_si512((__m512i *)(dst + 64 * (g + 4)), _mm512_and_si512(_mm512_srli_epi16(v, 4), nib));
            }
        }
        const __m512i s = _mm512_mask_i32gather_epi32(z, mk, idx, base, 1);  // d (q4f: d₀ | d₁ << 16)
        _mm512_storeu_ps(dst + IG_CODES, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(s)));
        if (ns == 2) _mm512_storeu_ps(dst + IG_CODES + 64, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(s, 16))));
    }
}

/// One block's integer sums for rows [0, mr) of the tile: after it, acc[i][p] = Σ q·a over block b (q4f: half s)
/// for panel p, and d0/d1 hold the panels' weight scales. A macro so the accumulators stay in the caller's registers.
#define IG_BLOCK_SUMS(b, s)                                                                                      \
    const uint8_t *w0 = p0 + (size_t)(b) * pbb, *w1 = p1 + (size_t)(b) * pbb;                                  \
    const uint8_t *ab = act + (size_t)(b) * IG_ACT_BLOCK;                                                        \
    __m512i acc[IG_MR][2];                                                                                       \
    UNROLL                                                                                                       \
    for (int i = 0; i < mr; i++) {                                                                               \
        int32_t c;                                                                                               \
        memcpy(&c, ab + (size_t)i * ars + 36 + 4 * (ns == 1 ? 0 : 1 + (s)), 4);                                  \
        acc[i][0] = acc[i][1] = _mm512_set1_epi32(c);                                                            \
    }                                                                                                            \
    UNROLL                                                                                                       \
    for (int g = (s) * G; g < ((s) + 1) * G; g++) {                                                              \
        const __m512i u0 = _mm512_loadu_si512((const __m512i *)(w0 + 64 * g));                                  \
        const __m512i u1 = np == 2 ? _mm512_loadu_si512((const __m512i *)(w1 + 64 * g)) : u0;                   \
        UNROLL                                                                                                   \
        for (int i = 0; i < mr; i++) {                                                                           \
            int32_t a4;                                                                                          \
            memcpy(&a4, ab + (size_t)i * ars + 4 * g, 4);                                                        \
            const __m512i a = _mm512_set1_epi32(a4);                                                             \
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], u0, a);                                                   \
            if (np == 2) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], u1, a);                                      \
        }                                                                                                        \
    }                                                                                                            \
    const __m512 d0 = _mm512_loadu_ps(w0 + IG_CODES + 64 * (s));                                                 \
    const __m512 d1 = np == 2 ? _mm512_loadu_ps(w1 + IG_CODES + 64 * (s)) : d0;

/// One tile: rows [0, mr) of `act` × np panels (p0, p1). ns, mr, np and a128 are constants after inlining.
/// a128 = 0: per block, f += cvt(Σ) · (d_w · d_a). a128 = 1 (reel_igemm_act128): per block t += cvt(Σ) · d_w, and
/// per span of IG_SPAN blocks f += t · d_a — one multiply per block fewer, for 10 more registers (so 4 rows).
KFN void tile(int ns, int mr, int np, int a128, const uint8_t *p0, const uint8_t *p1, size_t pbb, int64_t nb,
              const uint8_t *act, size_t ars, float *y, int64_t ldy, __mmask16 m0, __mmask16 m1) {
    __m512 f[IG_MR][2], t[IG_MR][2];
    UNROLL
    for (int i = 0; i < IG_MR; i++) f[i][0] = f[i][1] = t[i][0] = t[i][1] = _mm512_setzero_ps();
    const int G = 8 / ns;
    if (!a128) {
        for (int64_t b = 0; b < nb; b++) {
            UNROLL
            for (int s = 0; s < ns; s++) {
                IG_BLOCK_SUMS(b, s)
                UNROLL
                for (int i = 0; i < mr; i++) {
                    float da;
                    memcpy(&da, ab + (size_t)i * ars + 32, 4);
                    const __m512 va = _mm512_set1_ps(da);
                    f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), _mm512_mul_ps(d0, va), f[i][0]);
                    if (np == 2) f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), _mm512_mul_ps(d1, va), f[i][1]);
                }
            }
        }
    } else {
        for (int64_t b0 = 0; b0 < nb; b0 += IG_SPAN) {
            const int64_t b1 = nb - b0 < IG_SPAN ? nb : b0 + IG_SPAN;
            for (int64_t b = b0; b < b1; b++) {
                UNROLL
                for (int s = 0; s < ns; s++) {
                    IG_BLOCK_SUMS(b, s)
                    UNROLL
                    for (int i = 0; i < mr; i++) {
                        t[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), d0, t[i][0]);
                        if (np == 2) t[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), d1, t[i][1]);
                    }
                }
            }
            UNROLL
            for (int i = 0; i < mr; i++) {
                const __m512 va = _mm512_set1_ps(ig_span_scale(act + (size_t)i * ars, b0));
                f[i][0] = _mm512_fmadd_ps(t[i][0], va, f[i][0]);
                if (np == 2) f[i][1] = _mm512_fmadd_ps(t[i][1], va, f[i][1]);
                t[i][0] = t[i][1] = _mm512_setzero_ps();
            }
        }
    }
    UNROLL
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(y + i * ldy, m0, f[i][0]);
        if (np == 2) _mm512_mask_storeu_ps(y + i * ldy + IG_NR, m1, f[i][1]);
    }
}
#undef IG_BLOCK_SUMS

/// Tile shapes as constants, so the accumulators live in registers. While the tiles run, the pfb bytes at pf (the
/// mapped rows the next pair of panels packs from) are prefetched into L2, an equal share of lines before each
/// tile. pack_panel's gathers take 16 rows at once, each from a different row of the mapping, and the hardware
/// prefetchers do not follow them: without this the packing waited on memory for 15% of a so400m fc1
/// ([729, 1152] × [1152, 4304], one thread; docs/kernels.md "Integer GEMM").
KFN void tiles(int ns, int np, int a128, const uint8_t *p0, const uint8_t *p1, size_t pbb, int64_t nb,
               const uint8_t *act, size_t ars, int64_t m, float *y, int64_t ldy, __mmask16 m0, __mmask16 m1,
               const uint8_t *pf, size_t pfb) {
    const int MR = a128 ? IG_MR128 : IG_MR;  // rows per full tile
    const size_t lines = (pfb + 63) / 64, ntiles = (size_t)(m / MR) + 1;
    const size_t share = (lines + ntiles - 1) / ntiles * 64;
    size_t done = 0;
    int64_t i = 0;
    for (; i + MR <= m; i += MR) {
        for (const size_t end = done + share; done < end && done < pfb; done += 64)
            _mm_prefetch((const char *)(pf + done), _MM_HINT_T1);
        if (a128) tile(ns, IG_MR128, np, 1, p0, p1, pbb, nb, act + (size_t)i * ars, ars, y + i * ldy, ldy, m0, m1);
        else tile(ns, IG_MR, np, 0, p0, p1, pbb, nb, act + (size_t)i * ars, ars, y + i * ldy, ldy, m0, m1);
    }
    for (; done < pfb; done += 64) _mm_prefetch((const char *)(pf + done), _MM_HINT_T1);
    const int rest = (int)(m - i);
    const uint8_t *a = act + (size_t)i * ars;
    float *yi = y + i * ldy;
    switch (rest) {
#if IG_MR > 5
    case 5: tile(ns, 5, np, a128, p0, p1, pbb, nb, a, ars, yi, ldy, m0, m1); break;
#endif
#if IG_MR > 4
    case 4: tile(ns, 4, np, a128, p0, p1, pbb, nb, a, ars, yi, ldy, m0, m1); break;
#endif
#if IG_MR > 3
    case 3: tile(ns, 3, np, a128, p0, p1, pbb, nb, a, ars, yi, ldy, m0, m1); break;
#endif
    case 2: tile(ns, 2, np, a128, p0, p1, pbb, nb, a, ars, yi, ldy, m0, m1); break;
    case 1: tile(ns, 1, np, a128, p0, p1, pbb, nb, a, ars, yi, ldy, m0, m1); break;
    default: break;
    }
}

static TGT void igemm_vnni(int enc, int a128, const uint8_t *w, size_t rb, int64_t c0, int64_t c1, int64_t nb,
                           const uint8_t *act, int64_t m, float *y, int64_t ldy, uint8_t *scratch) {
    const int ns = ig_nsub(enc);
    const size_t pbb = ig_panel_block_bytes(ns), ars = (size_t)nb * IG_ACT_BLOCK;
    uint8_t *p0 = scratch, *p1 = scratch + (size_t)nb * pbb;
    for (int64_t c = c0; c < c1; c += 2 * IG_NR) {
        const int nc = c1 - c < 2 * IG_NR ? (int)(c1 - c) : 2 * IG_NR;
        const int n0 = nc < IG_NR ? nc : IG_NR, n1 = nc - n0;
        pack_panel(enc, w, rb, c, n0, nb, p0);
        if (n1) pack_panel(enc, w, rb, c + IG_NR, n1, nb, p1);
        const __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
        // The rows the next pair packs from, contiguous in the mapping. At the range's end these are the 32 rows
        // after it, which the thread pool usually hands the same thread next (its share, front to back); past the
        // matrix they are other bytes of the mapping, or none, and a prefetch never faults.
        const uint8_t *pf = (const uint8_t *)((uintptr_t)w + (uintptr_t)(c + nc) * rb);
        const size_t pfb = (size_t)(2 * IG_NR) * rb;
#define IG_TILES(NS, A128)                                                                                          \
    do {                                                                                                          \
        if (n1) tiles(NS, 2, A128, p0, p1, pbb, nb, act, ars, m, y + c, ldy, m0, m1, pf, pfb);                      \
        else tiles(NS, 1, A128, p0, p0, pbb, nb, act, ars, m, y + c, ldy, m0, m1, pf, pfb);                         \
    } while (0)
        if (ns == 1) {
            if (a128) IG_TILES(1, 1);
            else IG_TILES(1, 0);
        } else {
            if (a128) IG_TILES(2, 1);
            else IG_TILES(2, 0);
        }
#undef IG_TILES
    }
}

const reel_igemm_fn reel_igemm_avx512vnni = igemm_vnni;

// ---- activations with a scale per 128 elements (reel_igemm_quantize_act128) ----------------------------------------
// AVX-512F/BW without VNNI, so AVX-512 CPUs without VNNI use it too. Bit-identical to igemm_quantize_scalar: the
// same amax (max is exact in any order), d, id, products and round-to-nearest-even (vcvtps2dq, as nearbyintf under
// the default rounding mode), and exact integer sums.

#define QTGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

/// max |x| over n elements: |x| first, so a NaN is skipped as fmaxf skips it (vmaxps returns its second operand then).
static inline QTGT __attribute__((always_inline)) float amax_avx512(const float *x, int64_t n) {
    __m512 mx = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) mx = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(reel_mask16(n - j), x + j)), mx);
    return _mm512_reduce_max_ps(mx);
}
static inline QTGT __attribute__((always_inline)) void codes_avx512(const float *xr, int64_t j0, int64_t k, float id,
                                                                    int8_t *dst, int32_t *lo, int32_t *hi) {
    const __m512 lim = _mm512_set1_ps(127.0f), nlim = _mm512_set1_ps(-127.0f), vid = _mm512_set1_ps(id);
    int32_t h[2];
    for (int half = 0; half < 2; half++) {
        const int64_t j = j0 + 16 * half;
        const __mmask16 mk = j < k ? reel_mask16(k - j) : 0;
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + j), vid);
        // lanes past k are 0, as the twin's: 0 · id is NaN when 1/d overflowed (d < 2⁻¹²⁸)
        const __m512i q = _mm512_maskz_cvtps_epi32(mk, _mm512_min_ps(_mm512_max_ps(v, nlim), lim));
        _mm_storeu_si128((__m128i *)(dst + 16 * half), _mm512_cvtepi32_epi8(q));
        h[half] = _mm512_reduce_add_epi32(q);
    }
    *lo = h[0];
    *hi = h[1];
}
IG_QUANTIZE_DRIVER(igemm_quantize_avx512, QTGT, amax_avx512, codes_avx512)

const reel_igemm_quantize_fn reel_igemm_quantize_avx512 = igemm_quantize_avx512;

#endif
