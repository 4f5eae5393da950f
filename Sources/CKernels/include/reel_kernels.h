// Umbrella header of Reel's C kernels.
#ifndef REEL_KERNELS_H
#define REEL_KERNELS_H
#include "reel_hash.h"
#include "reel_quant.h"
#include "reel_gemm.h"
#include "reel_attn.h"
#endif
