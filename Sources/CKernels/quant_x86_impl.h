// The x86 kernels, written once and instantiated per ISA: quant_avx2.c includes this with 256-bit vectors,
// quant_avx512.c twice (AVX-512, AVX-512-VNNI). Before including, define:
//   K(name)  the instance's name prefix, e.g. avx2_##name
//   KTGT     the target attribute, e.g. __attribute__((target("avx2,fma,f16c")))
//   KWIDE    1: two blocks per 512-bit register (AVX-512F/BW/VL/DQ), 0: one block per 256-bit register
//   KVNNI    1: integer dots with vpdpbusd (AVX-512-VNNI), 0: vpmaddubsw + vpmaddwd
//
// Int8 dots: vpmaddubsw / vpdpbusd multiply an unsigned byte by a signed byte, so a signed weight w and an
// activation a are fed as |w| and a·sign(w) (the sign trick; q8 and activations never hold −128, formats/REEL.md).
// With VNNI, q4's unsigned codes u = q + 8 go in directly: Σ q·a = Σ u·a − Σ 8·a (the offset trick).
#include <immintrin.h>

#ifndef REEL_PREFETCH
// Bytes ahead of each weight row's read position to prefetch: measured on the 4096×4096 gemv, 512 beats the
// hardware prefetcher alone by ~1.5× when several rows stream at once.
#define REEL_PREFETCH 512
#endif
#ifndef REEL_GEMV_PREFETCH_SHORT
// The decode gemvs' prefetch distance for rows shorter than REEL_GEMV_SHORT_ROW bytes (k = 896: q8 952, q4 504
// bytes). Their 4-row tiles interleave four short streams, which the hardware prefetcher does not run ahead of;
// prefetching 4 KiB ahead (past the tile, into the next ones) took a single thread's out-of-cache gemv from 56–60%
// to 73–82% of the read-only stream's rate (q8 and q4 [~150k, 896], docs/kernels.md). Longer rows (k = 4864) keep
// REEL_PREFETCH: there 512 measured as good or better.
#define REEL_GEMV_PREFETCH_SHORT 4096
#endif
#define REEL_GEMV_SHORT_ROW 2048
#ifndef REEL_GEMV_PREFETCH_FAR
// A second prefetch of the decode gemvs' stream, this many bytes ahead into L2 (hint T2), beyond where the hardware
// streamer (which stops at 4 KiB boundaries) reaches, so more of the stream is in flight. 8 KiB (two 4 KiB pages)
// took 2 threads' out-of-cache gemv from 81–90% to 86–100% (q8) of the plain read's rate (docs/kernels.md). With
// the weights in 2 MiB pages, 16 KiB beat 8 KiB by 3.5–14% in every one of eight step-by-step A/Bs of the decode
// (q4 and q8, blocks of 8 steps alternating in one process); 12, 16 and 24 KiB measured alike. One core's gemv
// streams 21 → 25 GB/s with it, which is what the decode gets when the VM gives each core its own bandwidth.
#define REEL_GEMV_PREFETCH_FAR 16384
#endif
#ifndef REEL_READ_PREFETCH_FAR
// The read-only bound's (read_xor) far prefetch: 8 KiB reads faster than 16 KiB (2 threads 32 against 30 GB/s,
// alternating passes), and the bound must stay the best read of these bytes.
#define REEL_READ_PREFETCH_FAR 8192
#endif
#define KFN static inline KTGT __attribute__((always_inline))

/// One f16 value broadcast to 8 f32 lanes (vpbroadcastw + vcvtph2ps: no scalar round trip, no false dependency).
KFN __m256 K(bcast_h)(const uint8_t *p) { return _mm256_cvtph_ps(_mm_set1_epi16((short)reel_rd16(p))); }

/// q4f's two scales as [d₀ ×4, d₁ ×4]: lanes 0–3 of a 32-byte dot hold elements 0–15, lanes 4–7 hold 16–31.
KFN __m256 K(q4f_scales)(const uint8_t *p) {
    uint32_t two;
    memcpy(&two, p, 4);
    const __m128 d = _mm_cvtph_ps(_mm_cvtsi32_si128((int)two));
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}

KFN float K(hsum8)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// 32 q4 codes of one block in element order, as signed bytes in [-8, 7].
KFN __m256i K(q4_32)(const uint8_t *nib) {
    const __m128i b = _mm_loadu_si128((const __m128i *)nib);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

/// 8 int32 lanes, lane i = Σ w·a over bytes 4i … 4i+3, given aw = |w| and a.
KFN __m256i K(dot_i8_32)(__m256i aw, __m256i w, __m256i a) {
    const __m256i sa = _mm256_sign_epi8(a, w);
#if KVNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sa);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sa), _mm256_set1_epi16(1));
#endif
}

static inline size_t K(block_bytes)(int enc) {
    return enc == REEL_ENC_Q8 ? REEL_Q8_BYTES : enc == REEL_ENC_Q4 ? REEL_Q4_BYTES : REEL_Q4F_BYTES;
}

/// A register tile: out[i·mr + j] = dot(weight row w + i·wrs, activation row x + j·xs) over nb blocks, for
/// i < nr ≤ 4, j < mr ≤ 4, one block per 256-bit register. Each weight block is unpacked once for mr activation
/// rows and each activation block loaded once for nr weight rows. nr and mr are constants after inlining.
KFN void K(tile32)(int enc, int nr, int mr, const uint8_t *w, size_t wrs, int64_t nb, const uint8_t *x, size_t xs,
                   float *out) {
    const size_t wbs = K(block_bytes)(enc), off = enc == REEL_ENC_Q4F ? 4 : 2;
    __m256 acc[4][4];
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i wq[4], wa[4];
        __m256 dw[4];
        for (int i = 0; i < nr; i++) {
            const uint8_t *wb = w + (size_t)i * wrs + (size_t)b * wbs;
            _mm_prefetch((const char *)(wb + REEL_PREFETCH), _MM_HINT_T0);
            wq[i] = enc == REEL_ENC_Q8 ? _mm256_loadu_si256((const __m256i *)(wb + 2)) : K(q4_32)(wb + off);
            wa[i] = _mm256_sign_epi8(wq[i], wq[i]);
            dw[i] = enc == REEL_ENC_Q4F ? K(q4f_scales)(wb) : K(bcast_h)(wb);
        }
        for (int j = 0; j < mr; j++) {
            const uint8_t *ab = x + (size_t)j * xs + (size_t)b * REEL_Q8_BYTES;
            const __m256i av = _mm256_loadu_si256((const __m256i *)(ab + 2));
            const __m256 da = K(bcast_h)(ab);
            for (int i = 0; i < nr; i++) {
                const __m256i p = K(dot_i8_32)(wa[i], wq[i], av);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw[i], da), acc[i][j]);
            }
        }
    }
    for (int i = 0; i < nr; i++) for (int j = 0; j < mr; j++) out[i * mr + j] = K(hsum8)(acc[i][j]);
}

#if KWIDE
/// Two 32-byte q8 code arrays as one register.
KFN __m512i K(pair_q8)(const uint8_t *c0, const uint8_t *c1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)c0)),
                              _mm256_loadu_si256((const __m256i *)c1), 1);
}

/// Two q4 blocks' unsigned codes (0 … 15) in element order: [lo₀ hi₀ lo₁ hi₁] in 128-bit lanes.
KFN __m512i K(pair_q4)(const uint8_t *n0, const uint8_t *n1) {
    const __m256i t = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)n1), _mm_loadu_si128((const __m128i *)n0));
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);  // x₀ x₁ x₀>>4 x₁>>4
    z = _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

/// Two blocks' scales as 16 lanes: [s₀ ×8, s₁ ×8], or for q4f [d₀₀ ×4, d₀₁ ×4, d₁₀ ×4, d₁₁ ×4].
KFN __m512 K(pair_scales)(int q4f, const uint8_t *b0, const uint8_t *b1) {
    if (q4f) {
        uint32_t s0, s1;
        memcpy(&s0, b0, 4);
        memcpy(&s1, b1, 4);
        const __m128 d = _mm_cvtph_ps(_mm_set_epi32(0, 0, (int)s1, (int)s0));
        return _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                     _mm512_castps128_ps512(d));
    }
    const __m128 d = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(reel_rd16(b0)), reel_rd16(b1), 1));
    return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                 _mm512_castps128_ps512(d));
}

/// tile32 with two blocks per 512-bit register; an odd last block goes through tile32. q8 weights use the sign
/// trick (AVX-512 has no vpsignb: |w| and a masked-negated where w < 0); q4 codes use the offset trick with VNNI.
KFN void K(tile)(int enc, int nr, int mr, const uint8_t *w, size_t wrs, int64_t nb, const uint8_t *x, size_t xs,
                 float *out) {
    const size_t wbs = K(block_bytes)(enc), off = enc == REEL_ENC_Q4F ? 4 : 2;
    const int offset_trick = KVNNI && enc != REEL_ENC_Q8;
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i wq[4], wa[4];
        __mmask64 neg[4];
        __m512 dw[4];
        for (int i = 0; i < nr; i++) {
            const uint8_t *w0 = w + (size_t)i * wrs + (size_t)b * wbs, *w1 = w0 + wbs;
            _mm_prefetch((const char *)(w0 + REEL_PREFETCH), _MM_HINT_T0);
            wq[i] = enc == REEL_ENC_Q8 ? K(pair_q8)(w0 + 2, w1 + 2) : K(pair_q4)(w0 + off, w1 + off);
            if (!offset_trick) {
                if (enc != REEL_ENC_Q8) wq[i] = _mm512_sub_epi8(wq[i], _mm512_set1_epi8(8));
                wa[i] = _mm512_abs_epi8(wq[i]);
                neg[i] = _mm512_movepi8_mask(wq[i]);
            }
            dw[i] = K(pair_scales)(enc == REEL_ENC_Q4F, w0, w1);
        }
        for (int j = 0; j < mr; j++) {
            const uint8_t *a0 = x + (size_t)j * xs + (size_t)b * REEL_Q8_BYTES, *a1 = a0 + REEL_Q8_BYTES;
            const __m512i av = K(pair_q8)(a0 + 2, a1 + 2);
            const __m512 da = K(pair_scales)(0, a0, a1);
#if KVNNI
            const __m512i corr = offset_trick ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), av)
                                              : _mm512_setzero_si512();
#endif
            for (int i = 0; i < nr; i++) {
                __m512i p;
#if KVNNI
                if (offset_trick) {
                    p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[i], av), corr);
                } else {
                    const __m512i sa = _mm512_mask_sub_epi8(av, neg[i], _mm512_setzero_si512(), av);
                    p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wa[i], sa);
                }
#else
                const __m512i sa = _mm512_mask_sub_epi8(av, neg[i], _mm512_setzero_si512(), av);
                p = _mm512_madd_epi16(_mm512_maddubs_epi16(wa[i], sa), _mm512_set1_epi16(1));
#endif
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw[i], da), acc[i][j]);
            }
        }
    }
    float tail[16] = {0};
    if (b < nb) K(tile32)(enc, nr, mr, w + (size_t)b * wbs, wrs, 1, x + (size_t)b * REEL_Q8_BYTES, xs, tail);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < mr; j++) out[i * mr + j] = _mm512_reduce_add_ps(acc[i][j]) + tail[i * mr + j];
}
#else
KFN void K(tile)(int enc, int nr, int mr, const uint8_t *w, size_t wrs, int64_t nb, const uint8_t *x, size_t xs,
                 float *out) {
    K(tile32)(enc, nr, mr, w, wrs, nb, x, xs, out);
}
#endif

/// Rows [r0, r1) × activation rows [0, m). Decode (m = 1) runs 4 weight rows per tile so each activation block is
/// loaded once for 4 rows; prefill runs 2 weight rows × 4 activation rows.
KFN void K(gemm)(int enc, const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb, const uint8_t *x,
                 size_t xs, int64_t m, float *y, int64_t ldy) {
    float o[16];
    int64_t r = r0;
    if (m == 1) {
        for (; r + 4 <= r1; r += 4) {
            K(tile)(enc, 4, 1, w + (size_t)r * rb, rb, nb, x, xs, o);
            for (int i = 0; i < 4; i++) y[r + i] = o[i];
        }
        for (; r < r1; r++) {
            K(tile)(enc, 1, 1, w + (size_t)r * rb, rb, nb, x, xs, o);
            y[r] = o[0];
        }
        return;
    }
    for (; r < r1;) {
        const int nr = r + 2 <= r1 ? 2 : 1;
        const uint8_t *wr = w + (size_t)r * rb;
        for (int64_t i = 0; i < m; i += 4) {
            const uint8_t *xi = x + (size_t)i * xs;
            const int mr = m - i < 4 ? (int)(m - i) : 4;
            // Constant tile shapes, so the accumulators live in registers.
#define KT(NR, MR) K(tile)(enc, NR, MR, wr, rb, nb, xi, xs, o)
            if (nr == 2) {
                switch (mr) { case 4: KT(2, 4); break; case 3: KT(2, 3); break; case 2: KT(2, 2); break; default: KT(2, 1); }
            } else {
                switch (mr) { case 4: KT(1, 4); break; case 3: KT(1, 3); break; case 2: KT(1, 2); break; default: KT(1, 1); }
            }
#undef KT
            for (int a = 0; a < nr; a++)
                for (int j = 0; j < mr; j++) y[(i + j) * ldy + r + a] = o[a * mr + j];
        }
        r += nr;
    }
}

#if KWIDE && KVNNI
/// Pairs of blocks the VNNI q4 decode gemv prepares on the stack (32 × 4 bytes each): k ≤ 16384. Longer rows take
/// the tile path.
#define REEL_GEMV_Q4_MAX_PAIRS 256

/// The q4 decode gemv's view of the activation, per pair of blocks (b, b+1), laid out once per call in the order the
/// weight nibbles unpack to: lo = [a_b[0:16], a_b+1[0:16]], hi = [a_b[16:32], a_b+1[16:32]]; the offset trick's
/// −8·Σa per 4-byte group of lo + hi (int32 lanes 0–3: block b, 4–7: block b+1); the activation scales per lane.
typedef struct {
    __m256i lo[REEL_GEMV_Q4_MAX_PAIRS], hi[REEL_GEMV_Q4_MAX_PAIRS], negcorr[REEL_GEMV_Q4_MAX_PAIRS];
    __m256 da[REEL_GEMV_Q4_MAX_PAIRS];
} K(gemv_q4_act);

/// One weight row's two-block step: 256-bit throughout (Zen 4 splits 512-bit operations in two, so nothing is
/// gained by wider registers, and the two blocks' lo/hi halves need no cross-lane shuffle this way). 2 dots, the
/// correction preloaded as the accumulator; both f16 scales from one 32-byte load (words 0 and 9 of the pair).
KFN __m256 K(gemv_q4_step)(const uint8_t *w0, __m256i lo, __m256i hi, __m256i negcorr, __m256 da, __m256 acc) {
    const __m256i m = _mm256_set1_epi8(0x0f);
    const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(w0 + 2))),
                                              _mm_loadu_si128((const __m128i *)(w0 + REEL_Q4_BYTES + 2)), 1);
    __m256i p = _mm256_dpbusd_epi32(negcorr, _mm256_and_si256(t, m), lo);
    p = _mm256_dpbusd_epi32(p, _mm256_and_si256(_mm256_srli_epi16(t, 4), m), hi);
    const __m128i s = _mm256_castsi256_si128(_mm256_permutexvar_epi16(
        _mm256_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0), _mm256_loadu_si256((const __m256i *)w0)));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(_mm256_cvtph_ps(s), da), acc);
}

/// NR weight rows (a constant after inlining) of the q4 decode gemv over the prepared activation.
KFN void K(gemv_q4_rows)(int nr, const uint8_t *w, size_t rb, int64_t nb, const K(gemv_q4_act) *a,
                         const uint8_t *x, float *y) {
    __m256 acc[4];
    for (int i = 0; i < 4; i++) acc[i] = _mm256_setzero_ps();
    const int64_t np = nb / 2;
    const size_t pf = rb < REEL_GEMV_SHORT_ROW ? REEL_GEMV_PREFETCH_SHORT : REEL_PREFETCH;
    for (int64_t p = 0; p < np; p++) {
        const size_t off = (size_t)p * 2 * REEL_Q4_BYTES;
        for (int i = 0; i < nr; i++) {
            _mm_prefetch((const char *)(w + (size_t)i * rb + off + pf), _MM_HINT_T0);
            if (p & 1) _mm_prefetch((const char *)(w + (size_t)i * rb + off + REEL_GEMV_PREFETCH_FAR), _MM_HINT_T2);
            acc[i] = K(gemv_q4_step)(w + (size_t)i * rb + off, a->lo[p], a->hi[p], a->negcorr[p], a->da[p], acc[i]);
        }
    }
    float tail[4] = {0};
    if (nb & 1) K(tile32)(REEL_ENC_Q4, nr, 1, w + (size_t)(nb - 1) * REEL_Q4_BYTES, rb, 1,
                          x + (size_t)(nb - 1) * REEL_Q8_BYTES, 0, tail);
    for (int i = 0; i < nr; i++) y[i] = K(hsum8)(acc[i]) + tail[i];
}

/// Decode gemv for q4 weights with VNNI: y[r] = dot(row r, x) for r in [r0, r1), 4 rows at a time. Per weight row
/// and pair of blocks: 2 loads, 3 integer ops, 2 dots, a scale shuffle and conversion, and the float epilogue (the
/// tile path needs about half as many again: cross-lane unpacking, scale inserts, a separate correction).
static KTGT void K(gemv_q4)(const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb, const uint8_t *x,
                            float *y) {
    const int64_t np = nb / 2;
    if (np > REEL_GEMV_Q4_MAX_PAIRS) {
        K(gemm)(REEL_ENC_Q4, w, rb, r0, r1, nb, x, 0, 1, y, 0);
        return;
    }
    K(gemv_q4_act) a;
    for (int64_t p = 0; p < np; p++) {
        const uint8_t *a0 = x + (size_t)p * 2 * REEL_Q8_BYTES, *a1 = a0 + REEL_Q8_BYTES;
        a.lo[p] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a0 + 2))),
                                          _mm_loadu_si128((const __m128i *)(a1 + 2)), 1);
        a.hi[p] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a0 + 18))),
                                          _mm_loadu_si128((const __m128i *)(a1 + 18)), 1);
        const __m256i eight = _mm256_set1_epi8(8);
        const __m256i c = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, a.lo[p]), eight, a.hi[p]);
        a.negcorr[p] = _mm256_sub_epi32(_mm256_setzero_si256(), c);
        a.da[p] = _mm256_set_m128(_mm_set1_ps(reel_h2f(reel_rd16(a1))), _mm_set1_ps(reel_h2f(reel_rd16(a0))));
    }
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) K(gemv_q4_rows)(4, w + (size_t)r * rb, rb, nb, &a, x, y + r);
    for (; r < r1; r++) K(gemv_q4_rows)(1, w + (size_t)r * rb, rb, nb, &a, x, y + r);
}
#endif

#if KWIDE && KVNNI
#define KTGT_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,avx2,fma,f16c")))
/// Groups of 4 blocks the VBMI q4 decode gemv prepares on the stack (256 bytes each): k ≤ 16384.
#define REEL_GEMV_Q4X4_MAX_GROUPS 128

/// The VBMI q4 decode gemv's view of the activation, per group of 4 blocks (4g … 4g+3), 512-bit: lo = the groups'
/// elements 0–15 in 128-bit lanes 0–3 (block 4g+j in lane j), hi = elements 16–31; the offset trick's −8·Σa per
/// int32 lane of lo + hi; each block's scale in its lane's 4 f32 slots.
typedef struct {
    __m512i lo[REEL_GEMV_Q4X4_MAX_GROUPS], hi[REEL_GEMV_Q4X4_MAX_GROUPS], negcorr[REEL_GEMV_Q4X4_MAX_GROUPS];
    __m512 da[REEL_GEMV_Q4X4_MAX_GROUPS];
} K(gemv_q4x4_act);

/// Decode gemv for q4 weights with AVX-512 VBMI + VNNI: y[r] = dot(row r, x) for r in [r0, r1), one row at a time
/// (the range is one stream, as the q8 gemv), 4 blocks (72 bytes) per step in 512-bit registers: two 64-byte loads
/// (at 0 and 8) and one `vpermt2b` put the 4 blocks' nibble bytes in the 4 128-bit lanes; AND / shift / AND; two
/// `vpdpbusd` with the correction preloaded; the 4 f16 scales from the first load with one `vpermw`; the float
/// epilogue. About 13 operations per 72 bytes, against about 15 per 36 bytes in the 256-bit pair step. Rows whose
/// block count is not a multiple of 4 finish with the tile path's single-row dot.
static KTGT_VBMI void K(gemv_q4_vbmi)(const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb,
                                      const uint8_t *x, float *y) {
    const int64_t ng = nb / 4;
    if (ng > REEL_GEMV_Q4X4_MAX_GROUPS || ng == 0) {
        K(gemv_q4)(w, rb, r0, r1, nb, x, y);
        return;
    }
    K(gemv_q4x4_act) a;
    const __m512i eight = _mm512_set1_epi8(8);
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *a0 = x + (size_t)g * 4 * REEL_Q8_BYTES;
        __m512i lo = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(a0 + 2)));
        __m512i hi = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(a0 + 18)));
        lo = _mm512_inserti32x4(lo, _mm_loadu_si128((const __m128i *)(a0 + REEL_Q8_BYTES + 2)), 1);
        hi = _mm512_inserti32x4(hi, _mm_loadu_si128((const __m128i *)(a0 + REEL_Q8_BYTES + 18)), 1);
        lo = _mm512_inserti32x4(lo, _mm_loadu_si128((const __m128i *)(a0 + 2 * REEL_Q8_BYTES + 2)), 2);
        hi = _mm512_inserti32x4(hi, _mm_loadu_si128((const __m128i *)(a0 + 2 * REEL_Q8_BYTES + 18)), 2);
        lo = _mm512_inserti32x4(lo, _mm_loadu_si128((const __m128i *)(a0 + 3 * REEL_Q8_BYTES + 2)), 3);
        hi = _mm512_inserti32x4(hi, _mm_loadu_si128((const __m128i *)(a0 + 3 * REEL_Q8_BYTES + 18)), 3);
        a.lo[g] = lo;
        a.hi[g] = hi;
        const __m512i c = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, lo), eight, hi);
        a.negcorr[g] = _mm512_sub_epi32(_mm512_setzero_si512(), c);
        float d[16];
        for (int j = 0; j < 4; j++)
            for (int u = 0; u < 4; u++) d[4 * j + u] = reel_h2f(reel_rd16(a0 + (size_t)j * REEL_Q8_BYTES));
        a.da[g] = _mm512_loadu_ps(d);
    }
    // Byte 16j + t of the permuted register = byte 18j + 2 + t of the 72-byte group: bytes 0–63 from the load at 0
    // (index = byte), bytes 64–71 from the load at 8 (index 64 + byte − 8).
    uint8_t nidx[64];
    for (int j = 0; j < 4; j++)
        for (int t = 0; t < 16; t++) {
            const int b = 18 * j + 2 + t;
            nidx[16 * j + t] = (uint8_t)(b < 64 ? b : 64 + b - 8);
        }
    const __m512i inib = _mm512_loadu_si512((const void *)nidx);
    // Word 4j + u (u < 4) = the f16 scale of block j, word 9j of the group.
    const __m512i iscale = _mm512_setr_epi32(0, 0, 9 | 9 << 16, 9 | 9 << 16, 18 | 18 << 16, 18 | 18 << 16,
                                             27 | 27 << 16, 27 | 27 << 16, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i m = _mm512_set1_epi8(0x0f);
    const int64_t tail = nb - 4 * ng;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = w + (size_t)r * rb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        int64_t g = 0;
        for (; g < ng; g++) {
            const uint8_t *p = wr + (size_t)g * 4 * REEL_Q4_BYTES;
            _mm_prefetch((const char *)(p + REEL_GEMV_PREFETCH_SHORT), _MM_HINT_T0);
            _mm_prefetch((const char *)(p + REEL_GEMV_PREFETCH_FAR), _MM_HINT_T2);
            const __m512i A = _mm512_loadu_si512((const void *)p), C = _mm512_loadu_si512((const void *)(p + 8));
            const __m512i v = _mm512_permutex2var_epi8(A, inib, C);
            __m512i s = _mm512_dpbusd_epi32(a.negcorr[g], _mm512_and_si512(v, m), a.lo[g]);
            s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(v, 4), m), a.hi[g]);
            const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(iscale, A)));
            const __m512 t = _mm512_mul_ps(dw, a.da[g]);
            if (g & 1) acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), t, acc1);
            else acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), t, acc0);
        }
        float rest = 0;
        if (tail) K(tile32)(REEL_ENC_Q4, 1, 1, wr + (size_t)4 * ng * REEL_Q4_BYTES, 0, tail,
                            x + (size_t)4 * ng * REEL_Q8_BYTES, 0, &rest);
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + rest;
    }
}
#endif

#if KWIDE && KVNNI
/// Blocks the VNNI q8 decode gemv prepares on the stack (96 bytes each): k ≤ 16384. Longer rows take the tile path.
#define REEL_GEMV_Q8_MAX_BLOCKS 512

/// The q8 decode gemv's view of the activation, per block: the 32 codes, the offset trick's −128·Σa per 4-byte
/// group (int32 lanes), and the activation scale in 8 lanes.
typedef struct {
    __m256i a[REEL_GEMV_Q8_MAX_BLOCKS], negcorr[REEL_GEMV_Q8_MAX_BLOCKS];
    __m256 da[REEL_GEMV_Q8_MAX_BLOCKS];
} K(gemv_q8_act);

/// One weight row's block: u = w XOR 0x80 = w + 128 (unsigned, 1 … 255, as q8 never holds −128), one dot with the
/// correction preloaded as the accumulator (Σ u·a − 128·Σa = Σ w·a exactly), the float epilogue. No abs, no sign
/// mask: 256-bit throughout, as gemv_q4.
KFN __m256 K(gemv_q8_step)(const uint8_t *wb, __m256i a, __m256i negcorr, __m256 da, __m256 acc) {
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(wb + 2)), _mm256_set1_epi8((char)0x80));
    const __m256i p = _mm256_dpbusd_epi32(negcorr, u, a);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(K(bcast_h)(wb), da), acc);
}

/// One q8 weight row over the prepared activation, four blocks per step into four accumulators. Row after row, a
/// thread's range is read in address order: one stream, prefetched REEL_GEMV_PREFETCH_SHORT bytes ahead (crossing
/// into the next rows), instead of the 4-row tiles' four interleaved streams (docs/kernels.md, "Decode gemv").
KFN float K(gemv_q8_row)(const uint8_t *w, int64_t nb, const K(gemv_q8_act) *a) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        const uint8_t *wb = w + (size_t)b * REEL_Q8_BYTES;
        _mm_prefetch((const char *)(wb + REEL_GEMV_PREFETCH_SHORT), _MM_HINT_T0);
        _mm_prefetch((const char *)(wb + REEL_GEMV_PREFETCH_SHORT + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(wb + REEL_GEMV_PREFETCH_FAR), _MM_HINT_T2);
        _mm_prefetch((const char *)(wb + REEL_GEMV_PREFETCH_FAR + 64), _MM_HINT_T2);
        acc0 = K(gemv_q8_step)(wb, a->a[b], a->negcorr[b], a->da[b], acc0);
        acc1 = K(gemv_q8_step)(wb + REEL_Q8_BYTES, a->a[b + 1], a->negcorr[b + 1], a->da[b + 1], acc1);
        acc2 = K(gemv_q8_step)(wb + 2 * REEL_Q8_BYTES, a->a[b + 2], a->negcorr[b + 2], a->da[b + 2], acc2);
        acc3 = K(gemv_q8_step)(wb + 3 * REEL_Q8_BYTES, a->a[b + 3], a->negcorr[b + 3], a->da[b + 3], acc3);
    }
    for (; b < nb; b++) acc0 = K(gemv_q8_step)(w + (size_t)b * REEL_Q8_BYTES, a->a[b], a->negcorr[b], a->da[b], acc0);
    return K(hsum8)(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

/// Decode gemv for q8 weights with VNNI: y[r] = dot(row r, x) for r in [r0, r1), one row at a time (gemv_q8_row),
/// the activation laid out once per call. Per weight row and block: a load and an XOR, one dot, a scale broadcast
/// and conversion, and the float epilogue (the tile path also takes |w| and a sign mask, and masks a negate, per
/// block and row).
static KTGT void K(gemv_q8)(const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb, const uint8_t *x,
                            float *y) {
    if (nb > REEL_GEMV_Q8_MAX_BLOCKS) {
        K(gemm)(REEL_ENC_Q8, w, rb, r0, r1, nb, x, 0, 1, y, 0);
        return;
    }
    K(gemv_q8_act) a;
    const __m256i high = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *ab = x + (size_t)b * REEL_Q8_BYTES;
        a.a[b] = _mm256_loadu_si256((const __m256i *)(ab + 2));
        a.negcorr[b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), high, a.a[b]));
        a.da[b] = K(bcast_h)(ab);
    }
    for (int64_t r = r0; r < r1; r++) y[r] = K(gemv_q8_row)(w + (size_t)r * rb, nb, &a);
}
#endif

static KTGT void K(gemm_q8)(const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb, const uint8_t *x,
                            size_t xs, int64_t m, float *y, int64_t ldy) {
#if KWIDE && KVNNI && !defined(REEL_GEMV_Q8_TILE)  // -DREEL_GEMV_Q8_TILE: the tile path, for A/B harnesses
    if (m == 1) {  // decode
        K(gemv_q8)(w, rb, r0, r1, nb, x, y);
        return;
    }
#endif
    K(gemm)(REEL_ENC_Q8, w, rb, r0, r1, nb, x, xs, m, y, ldy);
}
static KTGT void K(gemm_q4)(const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb, const uint8_t *x,
                            size_t xs, int64_t m, float *y, int64_t ldy) {
#if KWIDE && KVNNI
    if (m == 1) {  // decode
        if (reel_vbmi_enabled()) K(gemv_q4_vbmi)(w, rb, r0, r1, nb, x, y);  // REEL_VBMI=0: the 256-bit pair path
        else K(gemv_q4)(w, rb, r0, r1, nb, x, y);
        return;
    }
#endif
    K(gemm)(REEL_ENC_Q4, w, rb, r0, r1, nb, x, xs, m, y, ldy);
}
static KTGT void K(gemm_q4f)(const uint8_t *w, size_t rb, int64_t r0, int64_t r1, int64_t nb, const uint8_t *x,
                             size_t xs, int64_t m, float *y, int64_t ldy) {
    K(gemm)(REEL_ENC_Q4F, w, rb, r0, r1, nb, x, xs, m, y, ldy);
}
static KTGT float K(dot_q8)(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float o;
    K(tile)(REEL_ENC_Q8, 1, 1, w, 0, nb, a, 0, &o);
    return o;
}
static KTGT float K(dot_q4)(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float o;
    K(tile)(REEL_ENC_Q4, 1, 1, w, 0, nb, a, 0, &o);
    return o;
}
static KTGT float K(dot_q4f)(const uint8_t *w, const uint8_t *a, int64_t nb) {
    float o;
    K(tile)(REEL_ENC_Q4F, 1, 1, w, 0, nb, a, 0, &o);
    return o;
}

// ---- activations: absmax/127, bit-identical to reel_quantize_block_q8_act_scalar ------------------------------------

static KTGT void K(quantize_q8_act)(const float *x, void *dst, int64_t k) {
    uint8_t *o = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int64_t i = 0;
    for (; i + REEL_QK <= k; i += REEL_QK, o += REEL_Q8_BYTES) {
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + i + 8 * j);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[j]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        reel_wr16(o, reel_f2h(d));
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int j = 0; j < 4; j++) {
            const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[j], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q[j] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f)));
        }
        // packs interleave 128-bit lanes; the permute puts the 32 codes back in order.
        const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), perm);
        _mm256_storeu_si256((__m256i *)(o + 2), p8);
    }
    if (i < k) reel_quantize_block_q8_act_scalar(x + i, (int)(k - i), o);
}

// ---- conversions -----------------------------------------------------------------------------------------------------

static KTGT void K(f16_to_f32)(const uint16_t *s, float *d, int64_t n) {
    int64_t i = 0;
#if KWIDE
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
#endif
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) d[i] = reel_h2f(s[i]);
}

static KTGT void K(f32_to_f16)(const float *s, uint16_t *d, int64_t n) {
    int64_t i = 0;
#if KWIDE
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(d + i), _mm512_cvtps_ph(_mm512_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) d[i] = reel_f2h(s[i]);
}

static KTGT void K(bf16_to_f32)(const uint16_t *s, float *d, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_slli_epi32(v, 16));
    }
    for (; i < n; i++) d[i] = reel_bf2f(s[i]);
}

/// Round to nearest even as reel_f2bf: (x + 0x7fff + lsb) >> 16, NaN → (x >> 16) | 0x40.
static KTGT void K(f32_to_bf16)(const float *s, uint16_t *d, int64_t n) {
    int64_t i = 0;
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i abs = _mm256_set1_epi32(0x7fffffff), quiet = _mm256_set1_epi32(0x40);
    for (; i + 8 <= n; i += 8) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), one);
        const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, bias), lsb), 16);
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs), inf);
        const __m256i qn = _mm256_or_si256(_mm256_srli_epi32(x, 16), quiet);
        const __m256i v = _mm256_blendv_epi8(r, qn, nan);
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), _MM_SHUFFLE(3, 1, 2, 0));
        _mm_storeu_si128((__m128i *)(d + i), _mm256_castsi256_si128(p));
    }
    for (; i < n; i++) d[i] = reel_f2bf(s[i]);
}

// ---- float dots --------------------------------------------------------------------------------------------------------

#if KWIDE
#define KDOT(NAME, T, LOAD16)                                                                    \
    static KTGT float K(NAME)(const T *x, const float *y, int64_t n) {                           \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                              \
        int64_t i = 0;                                                                           \
        for (; i + 32 <= n; i += 32) {                                                           \
            a0 = _mm512_fmadd_ps(LOAD16(x + i), _mm512_loadu_ps(y + i), a0);                     \
            a1 = _mm512_fmadd_ps(LOAD16(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);           \
        }                                                                                        \
        for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(LOAD16(x + i), _mm512_loadu_ps(y + i), a0); \
        if (i < n) {                                                                             \
            const __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);                               \
            T t[16] = {0};                                                                       \
            memcpy(t, x + i, (size_t)(n - i) * sizeof(T));                                       \
            a1 = _mm512_fmadd_ps(LOAD16(t), _mm512_maskz_loadu_ps(mk, y + i), a1);               \
        }                                                                                        \
        return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                                      \
    }
#define KLD_F32(p) _mm512_loadu_ps(p)
#define KLD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define KLD_BF16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#else
#define KDOT(NAME, T, LOAD8)                                                                     \
    static KTGT float K(NAME)(const T *x, const float *y, int64_t n) {                           \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                              \
        int64_t i = 0;                                                                           \
        for (; i + 16 <= n; i += 16) {                                                           \
            a0 = _mm256_fmadd_ps(LOAD8(x + i), _mm256_loadu_ps(y + i), a0);                      \
            a1 = _mm256_fmadd_ps(LOAD8(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);              \
        }                                                                                        \
        if (i < n) {                                                                             \
            T t[16] = {0};                                                                       \
            float u[16] = {0};                                                                   \
            memcpy(t, x + i, (size_t)(n - i) * sizeof(T));                                       \
            memcpy(u, y + i, (size_t)(n - i) * sizeof(float));                                   \
            a0 = _mm256_fmadd_ps(LOAD8(t), _mm256_loadu_ps(u), a0);                              \
            a1 = _mm256_fmadd_ps(LOAD8(t + 8), _mm256_loadu_ps(u + 8), a1);                      \
        }                                                                                        \
        return K(hsum8)(_mm256_add_ps(a0, a1));                                                  \
    }
#define KLD_F32(p) _mm256_loadu_ps(p)
#define KLD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define KLD_BF16(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#endif
KDOT(dot_f32, float, KLD_F32)
KDOT(dot_f16, uint16_t, KLD_F16)
KDOT(dot_bf16, uint16_t, KLD_BF16)
#undef KDOT
#undef KLD_F32
#undef KLD_F16
#undef KLD_BF16

// ---- the read-only bound (reel_read_xor): 64-byte loads XORed into four accumulators ---------------------------------

static KTGT uint64_t K(read_xor)(const uint8_t *p, size_t n) {
    size_t i = 0;
#if KWIDE
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 256 <= n; i += 256) {
        for (int l = 0; l < 256; l += 64) _mm_prefetch((const char *)(p + i + REEL_READ_PREFETCH_FAR + l), _MM_HINT_T2);
        a0 = _mm512_xor_si512(a0, _mm512_loadu_si512((const void *)(p + i)));
        a1 = _mm512_xor_si512(a1, _mm512_loadu_si512((const void *)(p + i + 64)));
        a2 = _mm512_xor_si512(a2, _mm512_loadu_si512((const void *)(p + i + 128)));
        a3 = _mm512_xor_si512(a3, _mm512_loadu_si512((const void *)(p + i + 192)));
    }
    for (; i + 64 <= n; i += 64) a0 = _mm512_xor_si512(a0, _mm512_loadu_si512((const void *)(p + i)));
    const __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
    const __m256i h = _mm256_xor_si256(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
#else
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 128 <= n; i += 128) {
        _mm_prefetch((const char *)(p + i + REEL_READ_PREFETCH_FAR), _MM_HINT_T2);
        _mm_prefetch((const char *)(p + i + REEL_READ_PREFETCH_FAR + 64), _MM_HINT_T2);
        a0 = _mm256_xor_si256(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
        a1 = _mm256_xor_si256(a1, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
    }
    for (; i + 32 <= n; i += 32) a0 = _mm256_xor_si256(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
    const __m256i h = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
#endif
    const __m128i q = _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    return (uint64_t)_mm_cvtsi128_si64(q) ^ (uint64_t)_mm_extract_epi64(q, 1) ^ reel_read_xor_tail(p + i, n - i);
}

// ---- softmax: reel_exp_scalar's operations, lane-wise (each e^x bit-identical to it), then sum and scale --------------

#if KWIDE
/// e^x on 16 lanes, the same operations as reel_exp_scalar.
KFN __m512 K(exp16)(__m512 x) {
    const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(REEL_EXP_LO), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_set1_ps(REEL_EXP_HI), x);  // NaN stays NaN
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(REEL_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-REEL_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-REEL_LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(REEL_EXP_P0), r, _mm512_set1_ps(REEL_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(REEL_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(REEL_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(REEL_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(REEL_EXP_P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps((__mmask16)~under, p, _mm512_castsi512_ps(e));
}

/// The largest of n floats (softmax's first step).
static KTGT float K(rowmax16)(const float *x, int64_t n) {
    __m512 mv = _mm512_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
    float m = _mm512_reduce_max_ps(mv);
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static KTGT void K(softmax)(float *x, int64_t n) {
    const float m = K(rowmax16)(x, n);
    int64_t i;
    const __m512 vm = _mm512_set1_ps(m);
    __m512 sv = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = K(exp16)(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        sv = _mm512_add_ps(sv, e);
    }
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        const __m512 e = K(exp16)(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm));
        _mm512_mask_storeu_ps(x + i, k, e);
        sv = _mm512_add_ps(sv, _mm512_maskz_mov_ps(k, e));
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sv));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv));
    }
}
/// e^(x − max) in place, element by element reel_exp_scalar's operations (a masked last step).
static KTGT void K(softmax_exp)(float *x, int64_t n) {
    const float m = K(rowmax16)(x, n);
    int64_t i;
    const __m512 vm = _mm512_set1_ps(m);
    for (i = 0; i < n; i += 16) {
        const __mmask16 k = reel_mask16(n - i);
        _mm512_mask_storeu_ps(x + i, k, K(exp16)(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm)));
    }
}
/// One LayerNorm row: 16 lanes, a masked last step (masked lanes add 0), the scalar twin's tree.
static KTGT void K(layernorm)(const float *x, int64_t d, const float *w, const float *b, float eps, float *out) {
    float acc[16];
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = reel_mask16(d - i);
        s = _mm512_mask_add_ps(s, k, s, _mm512_maskz_loadu_ps(k, x + i));
    }
    _mm512_storeu_ps(acc, s);
    const float mean = reel_lane_tree16(acc) / (float)d;
    const __m512 vm = _mm512_set1_ps(mean);
    s = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = reel_mask16(d - i);
        const __m512 c = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm);
        s = _mm512_mask3_fmadd_ps(c, c, s, k);
    }
    _mm512_storeu_ps(acc, s);
    const __m512 r = _mm512_set1_ps(reel_ln_rstd(reel_lane_tree16(acc), d, eps));
    for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 k = reel_mask16(d - i);
        const __m512 c = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm), r);
        _mm512_mask_storeu_ps(out + i, k, _mm512_fmadd_ps(c, _mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, b + i)));
    }
}
/// gelu_pytorch_tanh in place, reel_gelu_tanh_scalar's operations on 16 lanes (a masked last step).
static KTGT void K(gelu_tanh)(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = reel_mask16(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        const __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(REEL_GELU_A), v), v);
        const __m512 e = K(exp16)(_mm512_mul_ps(_mm512_set1_ps(REEL_GELU_2C), _mm512_fmadd_ps(u, v, v)));
        const __m512 one = _mm512_set1_ps(1.0f);
        const __m512 y = _mm512_mul_ps(v, _mm512_sub_ps(one, _mm512_div_ps(one, _mm512_add_ps(one, e))));
        _mm512_mask_storeu_ps(x + i, k, y);
    }
}
/// SwiGLU's silu(g)·u in place in g, reel_silu_mul_scalar's operations on 16 lanes (a masked last step).
static KTGT void K(silu_mul)(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = reel_mask16(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(k, g + i);
        const __m512 e = K(exp16)(_mm512_sub_ps(_mm512_setzero_ps(), v));
        const __m512 y = _mm512_mul_ps(_mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), _mm512_maskz_loadu_ps(k, u + i));
        _mm512_mask_storeu_ps(g + i, k, y);
    }
}
#else
/// e^x on 8 lanes, the same operations as reel_exp_scalar.
KFN __m256 K(exp8)(__m256 x) {
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(REEL_EXP_LO), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_set1_ps(REEL_EXP_HI), x);  // NaN stays NaN
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(REEL_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-REEL_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-REEL_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(REEL_EXP_P0), r, _mm256_set1_ps(REEL_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(REEL_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(REEL_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(REEL_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(REEL_EXP_P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/// The largest of n floats (softmax's first step).
static KTGT float K(rowmax8)(const float *x, int64_t n) {
    __m256 mv = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float m = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static KTGT void K(softmax)(float *x, int64_t n) {
    const float m = K(rowmax8)(x, n);
    int64_t i;
    const __m256 vm = _mm256_set1_ps(m);
    __m256 sv = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = K(exp8)(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        sv = _mm256_add_ps(sv, e);
    }
    float s = K(hsum8)(sv);
    for (; i < n; i++) { x[i] = reel_exp_scalar(x[i] - m); s += x[i]; }
    const __m256 inv = _mm256_set1_ps(1.0f / s);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / s;
}

/// e^(x − max) in place, element by element reel_exp_scalar's operations (the tail through it).
static KTGT void K(softmax_exp)(float *x, int64_t n) {
    const float m = K(rowmax8)(x, n);
    int64_t i;
    const __m256 vm = _mm256_set1_ps(m);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, K(exp8)(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm)));
    for (; i < n; i++) x[i] = reel_exp_scalar(x[i] - m);
}

/// One LayerNorm row: two 8-lane halves of the scalar twin's 16 lanes, the tail element by element, the same tree.
static KTGT void K(layernorm)(const float *x, int64_t d, const float *w, const float *b, float eps, float *out) {
    float acc[16];
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
    }
    _mm256_storeu_ps(acc, s0);
    _mm256_storeu_ps(acc + 8, s1);
    for (int64_t j = i; j < d; j++) acc[j - i] += x[j];
    const float mean = reel_lane_tree16(acc) / (float)d;
    const __m256 vm = _mm256_set1_ps(mean);
    s0 = _mm256_setzero_ps(), s1 = s0;
    for (i = 0; i + 16 <= d; i += 16) {
        const __m256 c0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm), c1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
        s0 = _mm256_fmadd_ps(c0, c0, s0);
        s1 = _mm256_fmadd_ps(c1, c1, s1);
    }
    _mm256_storeu_ps(acc, s0);
    _mm256_storeu_ps(acc + 8, s1);
    for (int64_t j = i; j < d; j++) {
        const float c = x[j] - mean;
        acc[j - i] = __builtin_fmaf(c, c, acc[j - i]);
    }
    const float rstd = reel_ln_rstd(reel_lane_tree16(acc), d, eps);
    const __m256 r = _mm256_set1_ps(rstd);
    for (i = 0; i + 8 <= d; i += 8) {
        const __m256 c = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), r);
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(c, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < d; i++) out[i] = __builtin_fmaf((x[i] - mean) * rstd, w[i], b[i]);
}

/// gelu_pytorch_tanh in place, reel_gelu_tanh_scalar's operations on 8 lanes (the tail through the scalar twin).
static KTGT void K(gelu_tanh)(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(REEL_GELU_A), v), v);
        const __m256 e = K(exp8)(_mm256_mul_ps(_mm256_set1_ps(REEL_GELU_2C), _mm256_fmadd_ps(u, v, v)));
        const __m256 one = _mm256_set1_ps(1.0f);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(v, _mm256_sub_ps(one, _mm256_div_ps(one, _mm256_add_ps(one, e)))));
    }
    for (; i < n; i++) x[i] = reel_gelu_tanh_scalar(x[i]);
}

/// SwiGLU's silu(g)·u in place in g, reel_silu_mul_scalar's operations on 8 lanes (the tail through the scalar twin).
static KTGT void K(silu_mul)(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(g + i);
        const __m256 e = K(exp8)(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = reel_silu_mul_scalar(g[i], u[i]);
}
#endif

#if KWIDE
#ifndef IA_DEC_AHEAD
#define IA_DEC_AHEAD 16  // cached positions prefetched ahead by the decode attention
#endif
#ifndef IA_DEC_FAR
#define IA_DEC_FAR 64    // key rows prefetched this far ahead into L2 (T2), with each position's value row
#endif
/// 16 cache elements from element idx of base (f32, or f16 widened), lanes past mask m zero.
KFN __m512 K(kv16)(int f16, __mmask16 m, const void *base, int64_t idx) {
    return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + idx))
               : _mm512_maskz_loadu_ps(m, (const float *)base + idx);
}

/// [Σa, Σb, Σc, Σd] of four 16-lane vectors: pairs interleaved and added within 128-bit lanes, then the four lanes.
KFN __m128 K(sum4)(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));  // a0+a2 b0+b2 a1+a3 b1+b3
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512 x = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));  // per lane: a b c d
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/// The decode attention's prefetches for cached position s (rows of `bytes` bytes, rs apart): its key row
/// IA_DEC_AHEAD positions ahead into L1, IA_DEC_FAR ahead into L2, and its own value row into L2 for the P·V pass.
KFN void K(attn_prefetch)(const char *kb, const char *vb, int64_t s, int64_t len, int64_t rs, int64_t bytes) {
    const char *ks = kb + s * rs;
    if (s + IA_DEC_AHEAD < len)
        for (int64_t c = 0; c < bytes; c += 64) _mm_prefetch(ks + IA_DEC_AHEAD * rs + c, _MM_HINT_T0);
    if (s + IA_DEC_FAR < len)
        for (int64_t c = 0; c < bytes; c += 64) _mm_prefetch(ks + IA_DEC_FAR * rs + c, _MM_HINT_T2);
    for (int64_t c = 0; c < bytes; c += 64) _mm_prefetch(vb + s * rs + c, _MM_HINT_T2);
}

/// Decode attention of one KV head over an f32 or f16 cache (reel_attention_decode_f32 / _f16), 16 lanes along the
/// head dimension (a masked last chunk): per position and query head, the dot as FMAs over the chunks and one lane
/// reduction; K(softmax) per query head; then the weighted sum of v for up to 8 query heads × 32 columns at a time,
/// each cached v row loaded once per pass and broadcast-multiplied into 16 accumulators. Reads the cache in place —
/// the sgemm path packed all of K and V per call. f16 rows are widened as they are loaded (half the bytes read).
KFN void K(attn_decode_t)(int f16, const float *q, int64_t group, int64_t hd, const void *k, const void *v, int64_t ld,
                          int64_t len, float scale, float *scores, float *out) {
    const int64_t es = f16 ? 2 : 4, rs = ld * es;  // bytes per cached element and per row (ld elements apart)
    const char *kb = (const char *)k, *vb = (const char *)v;
    const __m128 scale4 = _mm_set1_ps(scale);
    int64_t s = 0;
    // Whole 16-lane chunks (hd a multiple of 16): four positions at a time, their four dots per query head reduced
    // together (K(sum4)) — about a fifth of the instructions of one masked dot and one full reduction each.
    if ((hd & 15) == 0)
        for (; s + 4 <= len; s += 4) {
            for (int64_t u = s; u < s + 4; u++) K(attn_prefetch)(kb, vb, u, len, rs, hd * es);
            const char *k0 = kb + s * rs;
            for (int64_t g = 0; g < group; g++) {
                const float *qg = q + g * hd;
                __m512 t0 = _mm512_setzero_ps(), t1 = t0, t2 = t0, t3 = t0;
                for (int64_t c = 0; c < hd; c += 16) {
                    const __m512 qv = _mm512_loadu_ps(qg + c);
                    t0 = _mm512_fmadd_ps(qv, K(kv16)(f16, 0xffff, k0, c), t0);
                    t1 = _mm512_fmadd_ps(qv, K(kv16)(f16, 0xffff, k0 + rs, c), t1);
                    t2 = _mm512_fmadd_ps(qv, K(kv16)(f16, 0xffff, k0 + 2 * rs, c), t2);
                    t3 = _mm512_fmadd_ps(qv, K(kv16)(f16, 0xffff, k0 + 3 * rs, c), t3);
                }
                _mm_storeu_ps(scores + g * len + s, _mm_mul_ps(K(sum4)(t0, t1, t2, t3), scale4));
            }
        }
    for (; s < len; s++) {
        const char *ks = kb + s * rs;
        K(attn_prefetch)(kb, vb, s, len, rs, hd * es);
        for (int64_t g = 0; g < group; g++) {
            const float *qg = q + g * hd;
            __m512 t = _mm512_setzero_ps();
            for (int64_t c = 0; c < hd; c += 16) {
                const __mmask16 m = reel_mask16(hd - c);
                t = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, qg + c), K(kv16)(f16, m, ks, c), t);
            }
            scores[g * len + s] = _mm512_reduce_add_ps(t) * scale;
        }
    }
    for (int64_t g = 0; g < group; g++) K(softmax)(scores + g * len, len);
    for (int64_t g0 = 0; g0 < group; g0 += 8) {
        const int gn = group - g0 < 8 ? (int)(group - g0) : 8;
        for (int64_t c0 = 0; c0 < hd; c0 += 32) {
            const __mmask16 m0 = reel_mask16(hd - c0);
            const __mmask16 m1 = hd - c0 > 16 ? reel_mask16(hd - c0 - 16) : 0;
            __m512 acc[8][2];
            for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
            for (int64_t s = 0; s < len; s++) {
                const char *vs = vb + (s * ld + c0) * es;
                if (s + IA_DEC_AHEAD < len) {
                    _mm_prefetch(vs + IA_DEC_AHEAD * ld * es, _MM_HINT_T0);
                    if (!f16) _mm_prefetch(vs + IA_DEC_AHEAD * ld * es + 64, _MM_HINT_T0);
                }
                const __m512 v0 = K(kv16)(f16, m0, vs, 0), v1 = K(kv16)(f16, m1, vs, 16);
                for (int i = 0; i < 8; i++) {
                    if (i >= gn) break;
                    const __m512 p = _mm512_set1_ps(scores[(g0 + i) * len + s]);
                    acc[i][0] = _mm512_fmadd_ps(p, v0, acc[i][0]);
                    acc[i][1] = _mm512_fmadd_ps(p, v1, acc[i][1]);
                }
            }
            for (int i = 0; i < gn; i++) {
                _mm512_mask_storeu_ps(out + (g0 + i) * hd + c0, m0, acc[i][0]);
                _mm512_mask_storeu_ps(out + (g0 + i) * hd + c0 + 16, m1, acc[i][1]);
            }
        }
    }
}
static KTGT void K(attn_decode)(const float *q, int64_t group, int64_t hd, const float *k, const float *v, int64_t ld,
                                int64_t len, float scale, float *scores, float *out) {
    K(attn_decode_t)(0, q, group, hd, k, v, ld, len, scale, scores, out);
}
static KTGT void K(attn_decode_f16)(const float *q, int64_t group, int64_t hd, const uint16_t *k, const uint16_t *v,
                                    int64_t ld, int64_t len, float scale, float *scores, float *out) {
    K(attn_decode_t)(1, q, group, hd, k, v, ld, len, scale, scores, out);
}
#ifndef KATTN_DECODE
#define KATTN_DECODE K(attn_decode)  // used by KTABLE, after the include; K expands there
#define KATTN_DECODE_F16 K(attn_decode_f16)
#endif
#else
#define KATTN_DECODE NULL  // AVX2: the scalar twins (inherited)
#define KATTN_DECODE_F16 NULL
#endif

/// y[i] += x[i]: one add per element, so every path is bit-identical to the scalar twin. 256-bit on both x86
/// instances (the pass is bound by memory, not by the vector width), 4 vectors per step, the tail scalar.
static KTGT void K(add_f32)(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int u = 0; u < 32; u += 8)
            _mm256_storeu_ps(y + i + u, _mm256_add_ps(_mm256_loadu_ps(y + i + u), _mm256_loadu_ps(x + i + u)));
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

#define KTABLE                                                                                               \
    {                                                                                                        \
        .f16_to_f32 = K(f16_to_f32), .f32_to_f16 = K(f32_to_f16), .bf16_to_f32 = K(bf16_to_f32),             \
        .f32_to_bf16 = K(f32_to_bf16), .quantize_q8_act = K(quantize_q8_act), .dot_q8 = K(dot_q8),           \
        .dot_q4 = K(dot_q4), .dot_q4f = K(dot_q4f), .dot_f32 = K(dot_f32), .dot_f16 = K(dot_f16),            \
        .dot_bf16 = K(dot_bf16), .gemm_q8 = K(gemm_q8), .gemm_q4 = K(gemm_q4), .gemm_q4f = K(gemm_q4f),      \
        .read_xor = K(read_xor), .softmax = K(softmax), .softmax_exp = K(softmax_exp), .layernorm = K(layernorm), .gelu_tanh = K(gelu_tanh), .silu_mul = K(silu_mul),   \
        .add = K(add_f32), .attn_decode = KATTN_DECODE, .attn_decode_f16 = KATTN_DECODE_F16,                 \
    }
#undef KFN
