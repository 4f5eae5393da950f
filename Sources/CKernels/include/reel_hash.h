// XXH64 (Yann Collet's xxHash, 64-bit variant): checksums for .reel tensors and blobs.
#ifndef REEL_HASH_H
#define REEL_HASH_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t total_len;
    uint64_t v[4];
    uint64_t seed;
    uint8_t mem[32];
    uint32_t memsize;
} reel_xxh64_state;

uint64_t reel_xxh64(const void *data, size_t len, uint64_t seed);
void reel_xxh64_reset(reel_xxh64_state *s, uint64_t seed);
void reel_xxh64_update(reel_xxh64_state *s, const void *data, size_t len);
uint64_t reel_xxh64_digest(const reel_xxh64_state *s);

#endif
