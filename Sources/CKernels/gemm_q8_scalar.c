// Integer GEMM: activation packing, the portable panel packer, and the scalar reference twin.
#include "gemm_q8_internal.h"
#include <math.h>

// ---- activations ---------------------------------------------------------------------------------------------------

int reel_igemm_pack_act(int enc, const void *q8_rows, size_t q8_row_bytes, int64_t m, int64_t k, void *dst) {
    if (k < 1 || m < 0 || (enc != REEL_ENC_Q8 && enc != REEL_ENC_Q4 && enc != REEL_ENC_Q4F))
        return REEL_ERR_BAD_ARGUMENT;
    const int64_t nb = (k + REEL_QK - 1) / REEL_QK;
    const int32_t o = ig_offset(enc);
    for (int64_t i = 0; i < m; i++) {
        const uint8_t *src = (const uint8_t *)q8_rows + (size_t)i * q8_row_bytes;
        uint8_t *d = (uint8_t *)dst + (size_t)i * (size_t)nb * IG_ACT_BLOCK;
        for (int64_t b = 0; b < nb; b++, src += REEL_Q8_BYTES, d += IG_ACT_BLOCK) {
            memcpy(d, src + 2, REEL_QK);
            const int8_t *a = (const int8_t *)(src + 2);
            int32_t lo = 0, hi = 0;
            for (int j = 0; j < 16; j++) lo += a[j], hi += a[j + 16];
            ig_act_block_tail(d, reel_h2f(reel_rd16(src)), o, lo, hi);
        }
    }
    return REEL_OK;
}

/// The scalar twin of reel_igemm_quantize_act128 (IG_QUANTIZE_DRIVER): the ISA paths reproduce, per span of 128
/// elements (IG_SPAN blocks; the last may be shorter), its amax (NaNs skipped), d = amax / 127, id = 1 / d and codes
/// rne(x · id clamped to ±127), a NaN product clamped to −127 as vmaxps(v, −127) does (an infinite x makes amax
/// infinite and its own product ∞ · 0).
static float amax_scalar(const float *x, int64_t n) {
    float amax = 0.0f;
    for (int64_t e = 0; e < n; e++) amax = fmaxf(amax, fabsf(x[e]));
    return amax;
}
static void codes_scalar(const float *xr, int64_t j0, int64_t k, float id, int8_t *a, int32_t *lo, int32_t *hi) {
    *lo = *hi = 0;
    for (int j = 0; j < REEL_QK; j++) {
        float v = j0 + j < k ? xr[j0 + j] * id : 0.0f;
        v = v > -127.0f ? v : -127.0f;
        v = v < 127.0f ? v : 127.0f;
        a[j] = (int8_t)nearbyintf(v);
        *(j < 16 ? lo : hi) += a[j];
    }
}
IG_QUANTIZE_DRIVER(igemm_quantize_scalar, , amax_scalar, codes_scalar)

const reel_igemm_quantize_fn reel_igemm_quantize_scalar = igemm_quantize_scalar;

// ---- weights -------------------------------------------------------------------------------------------------------

void reel_ig_pack_panel_c(int enc, int offset, const uint8_t *w, size_t rb, int64_t r0, int nc, int64_t nb,
                          uint8_t *dst) {
    const int ns = ig_nsub(enc);
    const size_t pbb = ig_panel_block_bytes(ns), wbs = ig_weight_block_bytes(enc);
    const int o = offset ? ig_offset(enc) : 0;
    memset(dst, 0, (size_t)nb * pbb);
    for (int c = 0; c < nc; c++) {
        const uint8_t *row = w + (size_t)(r0 + c) * rb;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *wb = row + (size_t)b * wbs;
            uint8_t *pb = dst + (size_t)b * pbb;
            float *sc = (float *)(pb + IG_CODES);
            for (int j = 0; j < REEL_QK; j++) {
                int q;
                if (enc == REEL_ENC_Q8) q = ((const int8_t *)wb)[2 + j];
                else {
                    const uint8_t nib = wb[(enc == REEL_ENC_Q4F ? 4 : 2) + (j & 15)];
                    q = (j < 16 ? (nib & 15) : (nib >> 4)) - 8;
                }
                pb[(j / 4) * 64 + c * 4 + (j & 3)] = (uint8_t)(q + o);
            }
            sc[c] = reel_h2f(reel_rd16(wb));
            if (ns == 2) sc[16 + c] = reel_h2f(reel_rd16(wb + 2));
        }
    }
}

// ---- the scalar twin: straight from the weight rows, the order every ISA path reproduces -----------------------------

static void igemm_scalar(int enc, int a128, const uint8_t *w, size_t rb, int64_t c0, int64_t c1, int64_t nb,
                         const uint8_t *act, int64_t m, float *y, int64_t ldy, uint8_t *scratch) {
    (void)scratch;
    const size_t wbs = ig_weight_block_bytes(enc), ars = (size_t)nb * IG_ACT_BLOCK;
    for (int64_t i = 0; i < m; i++) {
        const uint8_t *ar = act + (size_t)i * ars;
        for (int64_t c = c0; c < c1; c++) {
            const uint8_t *wr = w + (size_t)c * rb;
            float s = 0, t = 0;  // a128: t sums a span's blocks, then s = fma(t, d_a, s)
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *wb = wr + (size_t)b * wbs, *ab = ar + (size_t)b * IG_ACT_BLOCK;
                const int8_t *a = (const int8_t *)ab;
                float da = 1.0f;  // a128: the block takes d_w alone (d_w · 1 is exact)
                if (!a128) memcpy(&da, ab + 32, 4);
                int32_t lo = 0, hi = 0;
                for (int j = 0; j < 16; j++) {
                    int ql, qh;
                    if (enc == REEL_ENC_Q8) ql = ((const int8_t *)wb)[2 + j], qh = ((const int8_t *)wb)[2 + 16 + j];
                    else {
                        const uint8_t nib = wb[(enc == REEL_ENC_Q4F ? 4 : 2) + j];
                        ql = (nib & 15) - 8, qh = (nib >> 4) - 8;
                    }
                    lo += ql * a[j], hi += qh * a[16 + j];
                }
                float *acc = a128 ? &t : &s;
                const float d0 = reel_h2f(reel_rd16(wb));
                if (enc == REEL_ENC_Q4F) {
                    *acc = fmaf((float)lo, d0 * da, *acc);
                    *acc = fmaf((float)hi, reel_h2f(reel_rd16(wb + 2)) * da, *acc);
                } else {
                    *acc = fmaf((float)(lo + hi), d0 * da, *acc);
                }
                if (a128 && ig_span_closes(b, nb)) {
                    s = fmaf(t, ig_span_scale(ar, b), s);
                    t = 0;
                }
            }
            y[i * ldy + c] = s;
        }
    }
}

const reel_igemm_fn reel_igemm_scalar = igemm_scalar;
