// Integer attention for encoder towers: one head of bidirectional softmax(q·kᵀ·scale)·v with the two matrix products
// done on 16-bit integers (vpdpwssd on AVX-512 VNNI, vpmaddwd on AVX2 / AVX-512), accumulated exactly in 32 bits.
// Implemented in attn_i16.c (driver, scalar twin) and attn_i16_x86.c; the path follows the active ISA (REEL_ISA).
// Design and error bounds: docs/kernels.md "Integer attention".
//
// Quantisation: q and k rows symmetric per row to ±Q (Q = ⌊√((2³¹−1)/d)⌋, 5461 for d = 72), v per column to
// ±16383, the softmax's normalised probabilities to round(p·32767), normalised in integers (no float sum). The
// bounds keep every partial sum inside int32, so the integer products are exact on every path and the float
// epilogues run the same operations in the same order: the scalar twin and the vector paths give bit-identical
// outputs.
#ifndef REEL_ATTN_H
#define REEL_ATTN_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Scratch bytes reel_attention_i16 needs for a sequence of s rows and head size d (one call, one thread).
size_t reel_attention_i16_scratch_bytes(int64_t s, int64_t d);

/// out[i·ldo + c] = Σ_j softmax_j(q_i·k_j·scale) · v[j·ld + c] for i in [0, s), c in [0, d): one head, no mask.
/// q, k, v: rows ld floats apart (a head's columns of [s, heads·d] matrices). scratch: at least
/// reel_attention_i16_scratch_bytes(s, d) bytes, 64-byte aligned is best. Returns REEL_OK, or REEL_ERR_BAD_ARGUMENT
/// (s < 1, d < 1, s > 65536, ld or ldo < d). Non-finite inputs give unspecified (but memory-safe) results.
int reel_attention_i16(const float *q, const float *k, const float *v, int64_t ld, int64_t s, int64_t d, float scale,
                       float *out, int64_t ldo, void *scratch);

/// Decode attention of one KV head over an f32 KV cache: for g < group (the query heads that share the KV head),
/// out[g·hd + c] = Σ_s p_g[s] · v[s·ld + c], p_g = softmax_s(q_g · k_s · scale), s < len (causal decode: every
/// cached position), with k_s = k + s·ld and v_s = v + s·ld (a head's columns of the cache's [len, kvHeads·hd]
/// rows). q and out: group rows of hd floats back to back. scores: group·len floats of scratch (the probabilities
/// are left there). Reads the cache in place. Returns REEL_OK, or REEL_ERR_BAD_ARGUMENT (a NULL pointer, group, hd
/// or len < 1, ld < hd). AVX-512 vectorises it; elsewhere it runs the scalar twin (plain loops).
int reel_attention_decode_f32(const float *q, int64_t group, int64_t hd, const float *k, const float *v, int64_t ld,
                              int64_t len, float scale, float *scores, float *out);
/// reel_attention_decode_f32 over an f16 cache (IEEE half bits; k_s = k + s·ld, v_s likewise): each element is
/// widened to f32 as it is read, the rest is the same arithmetic, so it equals the f32 kernel on the widened cache
/// up to float rounding. Vectorised where reel_attention_decode_f32 is.
int reel_attention_decode_f16(const float *q, int64_t group, int64_t hd, const uint16_t *k, const uint16_t *v,
                              int64_t ld, int64_t len, float scale, float *scores, float *out);
/// 1 if the active ISA has a vector path for reel_attention_decode_f32 and reel_attention_decode_f16.
int reel_attention_decode_vectorised(void);

/// 1 if the active ISA has a vector path for reel_attention_i16 (else it runs the scalar twin).
int reel_attention_i16_vectorised(void);

#ifdef __cplusplus
}
#endif
#endif
