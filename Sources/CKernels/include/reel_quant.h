// Quantised kernels (contract: formats/REEL.md §Encodings). Implemented in quant_*.c.
#ifndef REEL_QUANT_H
#define REEL_QUANT_H
#include <stddef.h>
#include <stdint.h>
#endif
