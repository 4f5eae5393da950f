// Quantised kernels (contract: formats/REEL.md §3 Encodings). Implemented in quant_*.c, chosen in dispatch.c.
//
// Every kernel has a scalar reference twin (quant_scalar.c) and, where it pays, AVX2 (+FMA, F16C), AVX-512
// (F/BW/VL/DQ), AVX-512-VNNI and NEON variants. The best variant the CPU supports is chosen at first use;
// REEL_ISA=scalar|avx2|avx512|avx512vnni|neon in the environment, or reel_isa_force(), selects another one.
//
// Lengths are in elements and may be any k >= 1: a quantised row of k elements is ceil(k/32) blocks, the partial
// last block zero-padded. Quantised activations use the q8 layout (34-byte blocks, [-127, 127] codes).
#ifndef REEL_QUANT_H
#define REEL_QUANT_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Encodings, in formats/REEL.md §3 table order (the Swift `Encoding` maps onto these).
enum {
    REEL_ENC_F32 = 0,
    REEL_ENC_F16 = 1,
    REEL_ENC_BF16 = 2,
    REEL_ENC_Q8 = 3,   // 34-byte blocks: f16 d, int8 q[32]
    REEL_ENC_Q4 = 4,   // 18-byte blocks: f16 d, nibbles b[16]
    REEL_ENC_Q4F = 5,  // 20-byte blocks: f16 d0, f16 d1, nibbles b[16]
};

#define REEL_QK 32          // elements per quantised block
#define REEL_Q8_BYTES 34    // bytes per q8 block
#define REEL_Q4_BYTES 18    // bytes per q4 block
#define REEL_Q4F_BYTES 20   // bytes per q4f block

// Instruction-set paths.
enum {
    REEL_ISA_SCALAR = 0,
    REEL_ISA_AVX2 = 1,        // AVX2 + FMA + F16C
    REEL_ISA_AVX512 = 2,      // AVX-512 F/BW/VL/DQ
    REEL_ISA_AVX512VNNI = 3,  // AVX-512 + VNNI (vpdpbusd)
    REEL_ISA_NEON = 4,        // arm64 Advanced SIMD (+ sdot when built with __ARM_FEATURE_DOTPROD)
    REEL_ISA_COUNT = 5,
};

// Return codes.
enum {
    REEL_OK = 0,
    REEL_ERR_UNSUPPORTED_ISA = -1,  // the CPU (or this build) cannot run the requested path
    REEL_ERR_BAD_ARGUMENT = -2,     // unknown ISA / encoding number, k < 1, …
};

// ---- ISA selection ----------------------------------------------------------------------------------------------

/// The best path this CPU supports (ignores REEL_ISA and reel_isa_force).
int reel_isa_detect(void);
/// 1 if `isa` can run on this CPU, else 0.
int reel_isa_supported(int isa);
/// The path kernels use now (the detected one, or REEL_ISA, or the last successful reel_isa_force).
int reel_isa_active(void);
/// Selects a path for every later call; REEL_ERR_UNSUPPORTED_ISA (and no change) if this CPU cannot run it.
/// Not meant to be called while other threads run kernels.
int reel_isa_force(int isa);
/// 1 if the avx512vnni path may use its AVX-512 VBMI kernels (the q4 decode gemv): the CPU has VBMI and they are
/// not switched off. REEL_VBMI=0 in the environment, or reel_vbmi_enable(0), switches them off (any other value than
/// 0 or 1 is reported on stderr and ignored).
int reel_vbmi_enabled(void);
/// Switches the VBMI kernels on (1) or off (0); REEL_ERR_UNSUPPORTED_ISA (and no change) to switch them on where
/// the CPU lacks VBMI. Tests use it to run both q4 decode paths on one machine. Not meant to be called while other
/// threads run kernels.
int reel_vbmi_enable(int on);
/// "scalar", "avx2", "avx512", "avx512vnni", "neon", or "unknown".
const char *reel_isa_name(int isa);
/// The ISA number for a name above, or REEL_ERR_BAD_ARGUMENT.
int reel_isa_from_name(const char *name);

// ---- f16 / bf16 <-> f32 rows (round to nearest even; NaN stays NaN, quietened) -----------------------------------

void reel_f16_to_f32(const uint16_t *src, float *dst, int64_t n);
void reel_f32_to_f16(const float *src, uint16_t *dst, int64_t n);
void reel_bf16_to_f32(const uint16_t *src, float *dst, int64_t n);
void reel_f32_to_bf16(const float *src, uint16_t *dst, int64_t n);
/// One value (scalar, exact): for tests and scales.
float reel_f16_to_f32_1(uint16_t h);
uint16_t reel_f32_to_f16_1(float f);

// ---- quantise / dequantise one row of k elements -----------------------------------------------------------------
// Weight quantisers search the scale that minimises each block's squared error; they are the same code on every
// ISA (a .reel file does not depend on the machine that converted it). dst holds reel_row_bytes(enc, k) bytes.
// Non-finite inputs are not representable: the weight quantisers return REEL_ERR_BAD_ARGUMENT on NaN/Inf.

/// Bytes of one row of k elements in `encoding`, or 0 for k < 1 or an unknown encoding.
size_t reel_row_bytes(int encoding, int64_t k);

int reel_quantize_row_q8(const float *x, void *dst, int64_t k);
int reel_quantize_row_q4(const float *x, void *dst, int64_t k);
int reel_quantize_row_q4f(const float *x, void *dst, int64_t k);
/// Activations: d = absmax/127 per block, codes round-to-nearest-even (GGUF Q8_0 math); vectorised, bit-identical
/// on every ISA. For finite inputs.
void reel_quantize_row_q8_act(const float *x, void *dst, int64_t k);

void reel_dequantize_row_q8(const void *src, float *y, int64_t k);
void reel_dequantize_row_q4(const void *src, float *y, int64_t k);
void reel_dequantize_row_q4f(const void *src, float *y, int64_t k);

// ---- dot products over one row of k elements ---------------------------------------------------------------------
// Quantised: w is a weight row, a a q8 activation row (reel_quantize_row_q8_act) of the same k.

float reel_dot_q8_q8(const void *w, const void *a, int64_t k);
float reel_dot_q4_q8(const void *w, const void *a, int64_t k);
float reel_dot_q4f_q8(const void *w, const void *a, int64_t k);
float reel_dot_f32(const float *x, const float *y, int64_t k);
float reel_dot_f16_f32(const uint16_t *x, const float *y, int64_t k);
float reel_dot_bf16_f32(const uint16_t *x, const float *y, int64_t k);

// ---- matrix-vector and matrix-matrix over a range of weight rows (the runtime calls these per thread) -------------

/// y[r] = dot(w row r, x) for r in [row_begin, row_end). w is the whole weight matrix (row r starts at
/// w + r·row_bytes), y the whole output vector. x is a q8 activation row for q8/q4/q4f weights, f32 for
/// f32/f16/bf16 weights. Returns REEL_OK, or REEL_ERR_BAD_ARGUMENT for an unknown encoding or a row_bytes that
/// does not match k.
int reel_gemv(int encoding, const void *w, size_t row_bytes, int64_t row_begin, int64_t row_end, int64_t k,
              const void *x_q8_or_f32, float *y);

/// y[i·ldy + r] = dot(w row r, activation row i) for i in [0, m), r in [row_begin, row_end): each weight block is
/// loaded once and used for several activation rows (the prefill path). Activation row i starts at
/// x + i·x_row_bytes (q8 rows for quantised weights, f32 rows otherwise).
int reel_gemm_rows(int encoding, const void *w, size_t row_bytes, int64_t row_begin, int64_t row_end, int64_t k,
                   const void *x, size_t x_row_bytes, int64_t m, float *y, int64_t ldy);

// ---- softmax ----------------------------------------------------------------------------------------------------

/// Softmax of one row of n floats in place: x[i] = e^(x[i] − max) / Σ. e^ is Cephes expf's polynomial (≤ 2 ulp
/// relative error; arguments below −87.34, e.g. −∞ for a masked score, give 0), vectorised on AVX2 / AVX-512 with
/// each e^ bit-identical to the scalar twin's; only the order of the sum differs between paths.
void reel_softmax_f32(float *x, int64_t n);
/// LayerNorm of n rows of d floats (nn.LayerNorm, biased variance): out = (x − mean)·rstd·w + b, rstd =
/// 1/√(var + eps). Sums in f32 over 16 lanes (element i into lane i mod 16), the lanes added as a tree (l += l+8,
/// +4, +2, +1), in the same order on every path, so every path gives bit-identical results. out may alias x.
void reel_layernorm_f32(const float *x, int64_t n, int64_t d, const float *w, const float *b, float eps, float *out);
/// x[i] = e^(x[i] − max x) in place, not normalised (the largest becomes exactly 1): reel_softmax_f32 without the
/// sum, so every ISA path gives bit-identical results.
void reel_softmax_exp_f32(float *x, int64_t n);

/// gelu_pytorch_tanh in place: x·½(1 + tanh(√(2/π)(x + 0.044715x³))), computed as x(1 − 1/(1 + e^{2z})) with the
/// same e^ (so exact at ±∞); each element bit-identical on every path.
void reel_gelu_tanh_f32(float *x, int64_t n);

/// SwiGLU's product in place: g[i] = silu(g[i])·u[i] = g[i] / (1 + e^{−g[i]}) · u[i], with the same e^; each element
/// bit-identical on every path.
void reel_silu_mul_f32(float *g, const float *u, int64_t n);

/// y[i] += x[i] for i < n (residual adds, biases): one float add per element, bit-identical on every path.
void reel_add_f32(float *y, const float *x, int64_t n);

// ---- the read-only bound (benchmarks) ----------------------------------------------------------------------------

/// Reads n bytes at p with the widest loads the active path has (64-byte steps on AVX-512; on x86 with the decode
/// gemvs' far prefetch, so no gemv out-reads it) and returns the XOR of their 8-byte little-endian words (the last
/// one zero-padded): a stream with no arithmetic, so `reel bench --read-bound` can time the bytes a decode step
/// reads from the weights with nothing else in the way. Every path returns the same value. Unaligned p is fine.
uint64_t reel_read_xor(const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
