// AVX2 + FMA + F16C kernels (one 32-element block per 256-bit register). Compiled for any x86-64 target; the
// functions carry their own target attribute and dispatch.c calls them only if the CPU has the features.
#include "quant_internal.h"
#if defined(__x86_64__) || defined(__i386__)

#define K(name) avx2_##name
#define KTGT __attribute__((target("avx2,fma,f16c")))
#define KWIDE 0
#define KVNNI 0
#include "quant_x86_impl.h"

const reel_ktable reel_kt_avx2 = KTABLE;

#endif
