// AVX-512 kernels (two blocks per 512-bit register), without and with VNNI (vpdpbusd). Compiled for any x86-64
// target; the functions carry their own target attribute and dispatch.c calls them only if the CPU has the features.
#include "quant_internal.h"
#if defined(__x86_64__) || defined(__i386__)

#define K(name) avx512_##name
#define KTGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define KWIDE 1
#define KVNNI 0
#include "quant_x86_impl.h"

const reel_ktable reel_kt_avx512 = KTABLE;

#undef K
#undef KTGT
#undef KVNNI
#define K(name) vnni_##name
#define KTGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define KVNNI 1
#include "quant_x86_impl.h"

// Conversions and float dots are the AVX-512 ones recompiled; the integer dots use vpdpbusd.
const reel_ktable reel_kt_avx512vnni = KTABLE;

#endif
