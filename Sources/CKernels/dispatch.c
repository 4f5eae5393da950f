// Run-time ISA choice and the public entry points: each looks up the active kernel table.
#include "quant_internal.h"
#include "gemm_q8_internal.h"
#include "include/reel_attn.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const isa_names[REEL_ISA_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni", "neon"};

const char *reel_isa_name(int isa) { return isa >= 0 && isa < REEL_ISA_COUNT ? isa_names[isa] : "unknown"; }

int reel_isa_from_name(const char *name) {
    if (!name) return REEL_ERR_BAD_ARGUMENT;
    for (int i = 0; i < REEL_ISA_COUNT; i++) if (strcmp(name, isa_names[i]) == 0) return i;
    return REEL_ERR_BAD_ARGUMENT;
}

int reel_isa_supported(int isa) {
    switch (isa) {
    case REEL_ISA_SCALAR: return 1;
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports also checks that the OS saves the YMM/ZMM state (XGETBV).
    case REEL_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case REEL_ISA_AVX512:
        return reel_isa_supported(REEL_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq");
    case REEL_ISA_AVX512VNNI:
        return reel_isa_supported(REEL_ISA_AVX512) && __builtin_cpu_supports("avx512vnni");
#endif
#if defined(__aarch64__)
    case REEL_ISA_NEON: return 1;
#endif
    default: return 0;
    }
}

int reel_isa_detect(void) {
    for (int i = REEL_ISA_COUNT - 1; i > 0; i--) if (reel_isa_supported(i)) return i;
    return REEL_ISA_SCALAR;
}

// Effective tables: each ISA's entries, with NULLs filled from the path below it.
static reel_ktable tables[REEL_ISA_COUNT];
static _Atomic(int) active_isa = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void inherit(reel_ktable *dst, const reel_ktable *base, const reel_ktable *own) {
    *dst = *own;
    const void **d = (const void **)dst;
    const void *const *b = (const void *const *)base;
    for (size_t i = 0; i < sizeof(reel_ktable) / sizeof(void *); i++) if (!d[i]) d[i] = b[i];
}

static void init(void) {
    tables[REEL_ISA_SCALAR] = reel_kt_scalar;
#if defined(__x86_64__) || defined(__i386__)
    inherit(&tables[REEL_ISA_AVX2], &tables[REEL_ISA_SCALAR], &reel_kt_avx2);
    inherit(&tables[REEL_ISA_AVX512], &tables[REEL_ISA_AVX2], &reel_kt_avx512);
    inherit(&tables[REEL_ISA_AVX512VNNI], &tables[REEL_ISA_AVX512], &reel_kt_avx512vnni);
#endif
#if defined(__aarch64__)
    inherit(&tables[REEL_ISA_NEON], &tables[REEL_ISA_SCALAR], &reel_kt_neon);
#endif
    int isa = reel_isa_detect();
    const char *env = getenv("REEL_ISA");
    if (env && *env) {
        int want = reel_isa_from_name(env);
        if (want >= 0 && reel_isa_supported(want)) isa = want;
        else fprintf(stderr, "reel: REEL_ISA=%s is not supported on this CPU; using %s\n", env, isa_names[isa]);
    }
    atomic_store(&active_isa, isa);
}

static inline const reel_ktable *kt(void) {
    int isa = atomic_load_explicit(&active_isa, memory_order_acquire);
    if (isa < 0) {
        pthread_once(&once, init);
        isa = atomic_load(&active_isa);
    }
    return &tables[isa];
}

int reel_isa_active(void) { (void)kt(); return atomic_load(&active_isa); }

int reel_isa_force(int isa) {
    if (isa < 0 || isa >= REEL_ISA_COUNT) return REEL_ERR_BAD_ARGUMENT;
    if (!reel_isa_supported(isa)) return REEL_ERR_UNSUPPORTED_ISA;
    (void)kt();
    atomic_store(&active_isa, isa);
    return REEL_OK;
}

static int vbmi_supported(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512vbmi");
#else
    return 0;
#endif
}

// -1: not decided yet; else 0/1.
static _Atomic(int) vbmi_on = -1;

int reel_vbmi_enabled(void) {
    int v = atomic_load_explicit(&vbmi_on, memory_order_relaxed);
    if (v < 0) {
        const char *env = getenv("REEL_VBMI");
        v = vbmi_supported();
        if (env && *env) {
            if (strcmp(env, "0") == 0) v = 0;
            else if (strcmp(env, "1") != 0) fprintf(stderr, "reel: REEL_VBMI=%s is not 0 or 1; ignored\n", env);
            else if (!v) fprintf(stderr, "reel: REEL_VBMI=1 but this CPU has no AVX-512 VBMI; not used\n");
        }
        atomic_store(&vbmi_on, v);
    }
    return v;
}

int reel_vbmi_enable(int on) {
    if (on && !vbmi_supported()) return REEL_ERR_UNSUPPORTED_ISA;
    atomic_store(&vbmi_on, on ? 1 : 0);
    return REEL_OK;
}

// ---- public entry points -------------------------------------------------------------------------------------------

void reel_f16_to_f32(const uint16_t *s, float *d, int64_t n) { if (n > 0) kt()->f16_to_f32(s, d, n); }
void reel_f32_to_f16(const float *s, uint16_t *d, int64_t n) { if (n > 0) kt()->f32_to_f16(s, d, n); }
void reel_bf16_to_f32(const uint16_t *s, float *d, int64_t n) { if (n > 0) kt()->bf16_to_f32(s, d, n); }
void reel_f32_to_bf16(const float *s, uint16_t *d, int64_t n) { if (n > 0) kt()->f32_to_bf16(s, d, n); }
void reel_quantize_row_q8_act(const float *x, void *dst, int64_t k) { if (k > 0) kt()->quantize_q8_act(x, dst, k); }

static inline int64_t nblocks(int64_t k) { return (k + REEL_QK - 1) / REEL_QK; }

float reel_dot_q8_q8(const void *w, const void *a, int64_t k) { return k > 0 ? kt()->dot_q8(w, a, nblocks(k)) : 0; }
float reel_dot_q4_q8(const void *w, const void *a, int64_t k) { return k > 0 ? kt()->dot_q4(w, a, nblocks(k)) : 0; }
float reel_dot_q4f_q8(const void *w, const void *a, int64_t k) { return k > 0 ? kt()->dot_q4f(w, a, nblocks(k)) : 0; }
float reel_dot_f32(const float *x, const float *y, int64_t k) { return k > 0 ? kt()->dot_f32(x, y, k) : 0; }
float reel_dot_f16_f32(const uint16_t *x, const float *y, int64_t k) { return k > 0 ? kt()->dot_f16(x, y, k) : 0; }
float reel_dot_bf16_f32(const uint16_t *x, const float *y, int64_t k) { return k > 0 ? kt()->dot_bf16(x, y, k) : 0; }

uint64_t reel_read_xor(const void *p, size_t n) { return n > 0 ? kt()->read_xor(p, n) : 0; }
void reel_softmax_f32(float *x, int64_t n) { if (n > 0) kt()->softmax(x, n); }
void reel_softmax_exp_f32(float *x, int64_t n) { if (n > 0) kt()->softmax_exp(x, n); }
void reel_layernorm_f32(const float *x, int64_t n, int64_t d, const float *w, const float *b, float eps, float *out) {
    if (n < 1 || d < 1) return;
    const reel_ktable *t = kt();
    for (int64_t r = 0; r < n; r++) t->layernorm(x + r * d, d, w, b, eps, out + r * d);
}
void reel_gelu_tanh_f32(float *x, int64_t n) { if (n > 0) kt()->gelu_tanh(x, n); }
void reel_silu_mul_f32(float *g, const float *u, int64_t n) { if (n > 0) kt()->silu_mul(g, u, n); }
void reel_add_f32(float *y, const float *x, int64_t n) { if (n > 0) kt()->add(y, x, n); }

int reel_attention_decode_f32(const float *q, int64_t group, int64_t hd, const float *k, const float *v, int64_t ld,
                              int64_t len, float scale, float *scores, float *out) {
    if (!q || !k || !v || !scores || !out || group < 1 || hd < 1 || len < 1 || ld < hd) return REEL_ERR_BAD_ARGUMENT;
    kt()->attn_decode(q, group, hd, k, v, ld, len, scale, scores, out);
    return REEL_OK;
}

int reel_attention_decode_f16(const float *q, int64_t group, int64_t hd, const uint16_t *k, const uint16_t *v,
                              int64_t ld, int64_t len, float scale, float *scores, float *out) {
    if (!q || !k || !v || !scores || !out || group < 1 || hd < 1 || len < 1 || ld < hd) return REEL_ERR_BAD_ARGUMENT;
    kt()->attn_decode_f16(q, group, hd, k, v, ld, len, scale, scores, out);
    return REEL_OK;
}

int reel_attention_decode_vectorised(void) { return kt()->attn_decode != reel_kt_scalar.attn_decode; }

size_t reel_row_bytes(int encoding, int64_t k) {
    if (k < 1) return 0;
    switch (encoding) {
    case REEL_ENC_F32: return (size_t)k * 4;
    case REEL_ENC_F16: case REEL_ENC_BF16: return (size_t)k * 2;
    case REEL_ENC_Q8: return (size_t)nblocks(k) * REEL_Q8_BYTES;
    case REEL_ENC_Q4: return (size_t)nblocks(k) * REEL_Q4_BYTES;
    case REEL_ENC_Q4F: return (size_t)nblocks(k) * REEL_Q4F_BYTES;
    default: return 0;
    }
}

int reel_gemm_rows(int encoding, const void *w, size_t row_bytes, int64_t row_begin, int64_t row_end, int64_t k,
                   const void *x, size_t x_row_bytes, int64_t m, float *y, int64_t ldy) {
    const size_t rb = reel_row_bytes(encoding, k);
    if (rb == 0 || rb != row_bytes || row_begin < 0 || row_end < row_begin || m < 0) return REEL_ERR_BAD_ARGUMENT;
    if (row_end == row_begin || m == 0) return REEL_OK;
    const reel_ktable *t = kt();
    const uint8_t *wb = w, *xb = x;
    reel_gemm_q_fn gemm = NULL;
    float (*dq)(const uint8_t *, const uint8_t *, int64_t) = NULL;
    switch (encoding) {
    case REEL_ENC_Q8: gemm = t->gemm_q8, dq = t->dot_q8; break;
    case REEL_ENC_Q4: gemm = t->gemm_q4, dq = t->dot_q4; break;
    case REEL_ENC_Q4F: gemm = t->gemm_q4f, dq = t->dot_q4f; break;
    default: break;
    }
    if (gemm) {
        gemm(wb, row_bytes, row_begin, row_end, nblocks(k), xb, x_row_bytes, m, y, ldy);
        return REEL_OK;
    }
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *wr = wb + (size_t)r * row_bytes;
        for (int64_t i = 0; i < m; i++) {
            const uint8_t *xi = xb + (size_t)i * x_row_bytes;
            float v;
            switch (encoding) {
            case REEL_ENC_F32: v = t->dot_f32((const float *)wr, (const float *)xi, k); break;
            case REEL_ENC_F16: v = t->dot_f16((const uint16_t *)wr, (const float *)xi, k); break;
            case REEL_ENC_BF16: v = t->dot_bf16((const uint16_t *)wr, (const float *)xi, k); break;
            default: v = dq(wr, xi, nblocks(k)); break;
            }
            y[i * ldy + r] = v;
        }
    }
    return REEL_OK;
}

int reel_gemv(int encoding, const void *w, size_t row_bytes, int64_t row_begin, int64_t row_end, int64_t k,
              const void *x, float *y) {
    return reel_gemm_rows(encoding, w, row_bytes, row_begin, row_end, k, x, 0, 1, y, 0);
}

// ---- integer GEMM (gemm_q8_*.c) --------------------------------------------------------------------------------------

/// The active ISA's GEMM: AVX-512 without VNNI takes the AVX2 one; NEON without sdot the scalar twin.
static reel_igemm_fn igemm_fn(void) {
    switch (reel_isa_active()) {
#if defined(__x86_64__) || defined(__i386__)
    case REEL_ISA_AVX2: case REEL_ISA_AVX512: return reel_igemm_avx2;
    case REEL_ISA_AVX512VNNI: return reel_igemm_avx512vnni;
#endif
#if defined(__aarch64__)
    case REEL_ISA_NEON: return reel_igemm_neon ? reel_igemm_neon : reel_igemm_scalar;
#endif
    default: return reel_igemm_scalar;
    }
}

size_t reel_igemm_act_row_bytes(int64_t k) { return k < 1 ? 0 : (size_t)nblocks(k) * IG_ACT_BLOCK; }

size_t reel_igemm_scratch_bytes(int64_t k) {
    return k < 1 ? 0 : (size_t)IG_MAX_PANELS * (size_t)nblocks(k) * ig_panel_block_bytes(2);
}

static int igemm(int a128, int encoding, const void *w, size_t row_bytes, int64_t col_begin, int64_t col_end,
                 int64_t k, const void *act, int64_t m, float *y, int64_t ldy, void *scratch) {
    if (encoding != REEL_ENC_Q8 && encoding != REEL_ENC_Q4 && encoding != REEL_ENC_Q4F) return REEL_ERR_BAD_ARGUMENT;
    const size_t rb = reel_row_bytes(encoding, k);
    if (rb == 0 || rb != row_bytes || col_begin < 0 || col_end < col_begin || m < 0) return REEL_ERR_BAD_ARGUMENT;
    if (col_end == col_begin || m == 0) return REEL_OK;
    igemm_fn()(encoding, a128, w, row_bytes, col_begin, col_end, nblocks(k), act, m, y, ldy, scratch);
    return REEL_OK;
}

int reel_igemm(int encoding, const void *w, size_t row_bytes, int64_t col_begin, int64_t col_end, int64_t k,
               const void *act, int64_t m, float *y, int64_t ldy, void *scratch) {
    return igemm(0, encoding, w, row_bytes, col_begin, col_end, k, act, m, y, ldy, scratch);
}

int reel_igemm_act128(int encoding, const void *w, size_t row_bytes, int64_t col_begin, int64_t col_end, int64_t k,
                      const void *act, int64_t m, float *y, int64_t ldy, void *scratch) {
    return igemm(1, encoding, w, row_bytes, col_begin, col_end, k, act, m, y, ldy, scratch);
}

/// AVX-512 (with or without VNNI) and AVX2 have their own quantisers; NEON takes the scalar twin.
int reel_igemm_quantize_act128(int encoding, const float *x, size_t ldx, int64_t m, int64_t k, void *dst) {
    if (k < 1 || m < 0 || (m > 1 && ldx < (size_t)k) || !x || !dst
        || (encoding != REEL_ENC_Q8 && encoding != REEL_ENC_Q4 && encoding != REEL_ENC_Q4F))
        return REEL_ERR_BAD_ARGUMENT;
    reel_igemm_quantize_fn f = reel_igemm_quantize_scalar;
#if defined(__x86_64__) || defined(__i386__)
    const int isa = reel_isa_active();
    if (isa == REEL_ISA_AVX512 || isa == REEL_ISA_AVX512VNNI) f = reel_igemm_quantize_avx512;
    else if (isa == REEL_ISA_AVX2) f = reel_igemm_quantize_avx2;
#endif
    f(encoding, x, ldx, m, k, (uint8_t *)dst);
    return REEL_OK;
}
