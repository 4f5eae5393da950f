// Integer GEMM for prefill: q8/q4/q4f weights × int8 activations, register-blocked, weights repacked into column
// panels per tile at run time (no copy of the model). Implemented in gemm_q8_*.c, chosen in dispatch.c with the
// other kernels (REEL_ISA applies). Design: docs/kernels.md "Integer GEMM".
//
// Use: quantise each activation row to q8 (reel_quantize_row_q8_act), pack the rows once per call
// (reel_igemm_pack_act), then call reel_igemm on ranges of output columns (weight rows), one range per thread,
// each thread with its own scratch of reel_igemm_scratch_bytes(k) bytes.
//
// y[i·ldy + c] = Σ_blocks (d_w·d_a) · Σ q_w·q_a — the integer block sums are exact, so the result differs from
// reel_gemm_rows / the dot kernels only in float rounding (here one fused multiply-add per block, in block order;
// q4f one per 16-element half). Every ISA path gives bit-identical results to the scalar twin.
#ifndef REEL_GEMM_H
#define REEL_GEMM_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bytes of one packed activation row of k elements (48 per block of 32).
size_t reel_igemm_act_row_bytes(int64_t k);

/// Packs m q8 activation rows (rows q8_row_bytes apart, as reel_quantize_row_q8_act writes them) for weights of
/// `encoding` (q8, q4, q4f): per block the 32 codes, the scale as f32 and the offset corrections the VNNI path
/// needs. dst holds m · reel_igemm_act_row_bytes(k) bytes, rows back to back. Returns REEL_OK or
/// REEL_ERR_BAD_ARGUMENT.
int reel_igemm_pack_act(int encoding, const void *q8_rows, size_t q8_row_bytes, int64_t m, int64_t k, void *dst);

/// Per-thread scratch reel_igemm needs for k (the repacked weight panels of one tile), in bytes; 64-byte aligned
/// memory is best.
size_t reel_igemm_scratch_bytes(int64_t k);

/// y[i·ldy + c] = dot(weight row c, activation row i) for i in [0, m), c in [col_begin, col_end). w is the whole
/// weight matrix (row c at w + c·row_bytes), act the packed activations (reel_igemm_pack_act with the same
/// encoding and k). Returns REEL_OK, or REEL_ERR_BAD_ARGUMENT for a non-quantised encoding or a row_bytes that
/// does not match k.
int reel_igemm(int encoding, const void *w, size_t row_bytes, int64_t col_begin, int64_t col_end, int64_t k,
               const void *act, int64_t m, float *y, int64_t ldy, void *scratch);

/// Activations with one scale per 128 elements (encoder towers; docs/kernels.md "Activation scales per 128"):
/// quantises m f32 rows (rows ldx floats apart) to int8, per span of 128 elements (the last may be shorter)
/// d = max|x| / 127 (f32) and codes rne(x / d) (computed as x · (1/d)), and packs them for weights of `encoding` in
/// reel_igemm_pack_act's layout, each block carrying its span's d. dst holds m · reel_igemm_act_row_bytes(k) bytes.
/// Returns REEL_OK or REEL_ERR_BAD_ARGUMENT.
int reel_igemm_quantize_act128(int encoding, const float *x, size_t ldx, int64_t m, int64_t k, void *dst);

/// reel_igemm over rows packed by reel_igemm_quantize_act128: y[i·ldy + c] = Σ_spans d_a · (Σ_blocks d_w · Σ q_w·q_a),
/// in order, one fused multiply-add per block (q4f: per half) and one per span — a float multiply per block fewer
/// than reel_igemm. Each span's scale is read from its first block, so rows packed by reel_igemm_pack_act (a scale
/// per block) give wrong results here. Same arguments and return codes as reel_igemm.
int reel_igemm_act128(int encoding, const void *w, size_t row_bytes, int64_t col_begin, int64_t col_end, int64_t k,
                      const void *act, int64_t m, float *y, int64_t ldy, void *scratch);

#ifdef __cplusplus
}
#endif
#endif
