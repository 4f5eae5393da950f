// AVX-512 kernels of the integer attention (attn_i16_x86_impl.h twice: with and without VNNI). Compiled for any
// x86-64 target; the functions carry their own target attribute and attn_i16.c calls them only on the matching
// active ISA.
#include "attn_i16_internal.h"
#include "quant_internal.h"  // reel_mask16
#if defined(__x86_64__) || defined(__i386__)
#include <string.h>

#define K(name) ia512_##name
#define KTGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define IA_VNNI 0
#include "attn_i16_x86_impl.h"
const ia_kernels reel_ia_avx512 = {K(qk), K(pv), K(qrow), K(prow), K(vpair)};
#undef K
#undef KTGT
#undef IA_VNNI

#define K(name) iavnni_##name
#define KTGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define IA_VNNI 1
#include "attn_i16_x86_impl.h"
const ia_kernels reel_ia_vnni = {K(qk), K(pv), K(qrow), K(prow), K(vpair)};

#endif
