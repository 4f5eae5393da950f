// The decode gemv against the memory it streams: how close Reel's q4/q8 gemv kernels come to a plain read of the
// same bytes, and how fast they run when the bytes are already in cache. It links the kernels themselves (no copy):
//
//   clang -O2 -I Sources/CKernels/include tools/bench/gemv_probe.c Sources/CKernels/*.c -lpthread -lm -o gemv_probe
//   (cc works too; run.py uses clang where there is one, the compiler SwiftPM builds the kernels with)
//   ./gemv_probe [MiB = 1024] [passes = 7] [threads = 2]
//
// For q4 and q8 rows of Qwen2-0.5B's hidden size (k = 896), split over `threads` threads as contiguous row ranges:
//  - memory-bound: a MiB-sized matrix (2 MiB pages, as Reel maps weights), passes alternating reel_read_xor over the
//    same bytes (the read-only bound `reel bench --read-bound` uses) and reel_gemv;
//  - cache-resident: the same kernel over 512 KiB per thread (in L2; at most the whole matrix), repeated: its rate
//    with no memory in the way, which says how much of a memory-bound pass's time its arithmetic could hide behind.
// Prints a markdown table (one row per encoding; gemv ÷ read is the median of the per-pass ratios), then one JSON
// object with the medians (GB/s of weight bytes, 1e9 bytes/s).
#include "reel_quant.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

enum { K = 896 };

typedef struct {
    int read;  // 1: reel_read_xor, 0: reel_gemv
    int enc;
    const uint8_t *w;
    size_t rb;
    int64_t r0, r1;
    int repeat;
    const uint8_t *x;
    float *y;
    uint64_t sink;
} job;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *work(void *arg) {
    job *j = arg;
    for (int i = 0; i < j->repeat; i++) {
        if (j->read)
            j->sink ^= reel_read_xor(j->w + (size_t)j->r0 * j->rb, (size_t)(j->r1 - j->r0) * j->rb);
        else
            reel_gemv(j->enc, j->w, j->rb, j->r0, j->r1, K, j->x, j->y);
    }
    return NULL;
}

/// GB/s of one pass of `repeat` sweeps over rows [0, rows) split over `threads` threads.
static double pass(int read, int enc, const uint8_t *w, size_t rb, int64_t rows, int repeat, int threads,
                   const uint8_t *x, float *y, uint64_t *sink) {
    pthread_t th[threads];
    job jobs[threads];
    const double t0 = now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){read, enc, w, rb, rows * t / threads, rows * (t + 1) / threads, repeat, x, y, 0};
        pthread_create(&th[t], NULL, work, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        *sink ^= jobs[t].sink;
    }
    return (double)rows * rb * repeat / (now() - t0) / 1e9;
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    const size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    const int passes = argc > 2 ? atoi(argv[2]) : 7, threads = argc > 3 ? atoi(argv[3]) : 2;
    if (mib < 16 || passes < 1 || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: gemv_probe [MiB >= 16] [passes >= 1] [threads 1-256]\n");
        return 2;
    }
    const size_t huge = 2u << 20, bytes = mib << 20;
    uint8_t *buf = aligned_alloc(huge, (bytes + huge - 1) / huge * huge);
    float *y = malloc(bytes / 256 * sizeof(float) + 4096);  // ≥ one float per row (rows are ≥ 504 bytes)
    if (!buf || !y) {
        fprintf(stderr, "gemv_probe: cannot allocate %zu MiB\n", mib);
        return 1;
    }
#ifdef __linux__
    madvise(buf, bytes, MADV_HUGEPAGE);
#endif
    // A q8 activation row and 64 distinct weight rows (random, so no NaN or subnormal scales), tiled.
    float xf[K], wf[K];
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < K; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        xf[i] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
    }
    uint8_t x[REEL_Q8_BYTES * (K / 32)];
    reel_quantize_row_q8_act(xf, x, K);
    const int encs[2] = {REEL_ENC_Q4, REEL_ENC_Q8};
    const char *names[2] = {"q4", "q8"};
    double med[2][3];
    uint64_t sink = 0;
    printf("%d threads, ISA %s, k = %d; memory-bound: a %zu MiB matrix, %d passes alternating the read and the gemv "
           "(medians); cache-resident: %d × 512 KiB, repeated\n\n", threads, reel_isa_name(reel_isa_active()), K, mib,
           passes, threads);
    printf("| encoding | gemv GB/s | read GB/s | gemv ÷ read | cache-resident gemv GB/s | cache-resident ÷ read |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (int e = 0; e < 2; e++) {
        const size_t rb = reel_row_bytes(encs[e], K);
        const int64_t rows = (int64_t)(bytes / rb);
        for (int r = 0; r < 64; r++) {
            for (int i = 0; i < K; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                wf[i] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
            }
            if (encs[e] == REEL_ENC_Q4) reel_quantize_row_q4(wf, buf + r * rb, K);
            else reel_quantize_row_q8(wf, buf + r * rb, K);
        }
        for (int64_t r = 64; r < rows; r++) memcpy(buf + r * rb, buf + (r % 64) * rb, rb);
        double rd[passes], gv[passes], ratio[passes], cache[passes];
        pass(0, encs[e], buf, rb, rows, 1, threads, x, y, &sink);  // warm-up: page tables, frequency
        for (int p = 0; p < passes; p++) {
            rd[p] = pass(1, encs[e], buf, rb, rows, 1, threads, x, y, &sink);
            gv[p] = pass(0, encs[e], buf, rb, rows, 1, threads, x, y, &sink);
            ratio[p] = gv[p] / rd[p];
            // 512 KiB per thread: fits a core's L2; repeated so one pass takes about as long as a memory-bound one.
            const int64_t want = (int64_t)((size_t)threads * (512u << 10) / rb), small = want < rows ? want : rows;
            const int repeat = rows / small > 1 ? (int)(rows / small) : 1;
            cache[p] = pass(0, encs[e], buf, rb, small, repeat, threads, x, y, &sink);
        }
        med[e][0] = median(gv, passes);
        med[e][1] = median(rd, passes);
        med[e][2] = median(cache, passes);
        const double r = median(ratio, passes);
        printf("| %s | %.1f | %.1f | %.1f%% | %.1f | %.2f× |\n", names[e], med[e][0], med[e][1], 100 * r, med[e][2],
               med[e][2] / med[e][1]);
    }
    printf("\n{\"threads\": %d, \"q4_gemv_gb_per_s\": %.3f, \"q4_read_gb_per_s\": %.3f, \"q4_cache_gemv_gb_per_s\": %.3f, "
           "\"q8_gemv_gb_per_s\": %.3f, \"q8_read_gb_per_s\": %.3f, \"q8_cache_gemv_gb_per_s\": %.3f}\n",
           threads, med[0][0], med[0][1], med[0][2], med[1][0], med[1][1], med[1][2]);
    return sink == 42 && y[0] == 42.0f;  // keeps the reads and the gemv's output observable
}
