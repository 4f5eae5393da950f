#!/usr/bin/env python3
"""Reel side by side with PyTorch on the Qwen2-0.5B and LLaVA-OneVision-0.5B shapes, in one run, on CPU (issue 7).

Makes a random-weight Qwen2-0.5B checkpoint with transformers (hidden 896, 24 layers, 14 heads, 2 KV heads,
intermediate 4864, vocab 151936, tied; saved as bf16), converts it with `reel convert` to f32 / q8 / q4 (cached in a
scratch directory outside the repository), measures the machine's read bandwidth (a STREAM-like C read kernel
compiled with plain `cc -O2`, 2 threads) and its speed (a one-thread C probe whose rate follows the clock), runs
`reel bench --json` on each file and the same work in PyTorch (bf16 and f32), and writes docs/performance.md (the part
between the bench markers) and docs/performance.png. The tests are llama-bench's: prefill 512 tokens from an empty KV
cache (logits for the last position), and greedy-decode 128 tokens from an empty cache (`--depth`, default 0, as
llama-bench's -d; issue 7's llama.cpp figures are of that test). The quantised files are also decoded from a
512-position cache (`reel bench --depth 512`: the decode right after the prefill test, as after a 512-token prompt),
in a table of its own.

Vision (skip with --no-vision): a random-weight LLaVA-OneVision-0.5B (the hub config's SigLIP-so400m tower: 384²,
patch 14, 26 layers — so400m has 27, LLaVA-OneVision drops the last —, hidden 1152, MLP 4304, 16 heads; projector;
the same Qwen2-0.5B decoder), converted to f32 and q8; s/frame of the vision tower + projector on --frames random
frames in Reel (`reel bench --frames`) and PyTorch (`get_video_features`, f32 and bf16); and the time to first token
of an 8-frame video question through `reel run --video` (a 10 s 1280×720 H.264 test clip made with ffmpeg), split
into decoding the frames (ffmpeg + the processor), encoding them and the prefill.

Measurements wait for a quiet machine (1-minute load average below --max-load, up to --wait seconds); the load
average is recorded with every figure, and the doc says loudly when the machine never got quiet.

Usage: python3 tools/bench/run.py [--scratch DIR] [--threads 2] [--repetitions 5] [--encodings f32,q8,q4]
                                  [--frames 8] [--vision-encodings f32,q8] [--no-vision]
Each Reel decode run also reports its read-only bound (`reel bench --read-bound`): the decode step's weight bytes,
row split and dispatches with a read kernel instead of the dot products; the decode table shows it as a column.
Beside the per-op profile, tools/bench/gemv_probe.c (built from Reel's kernel sources) times the q4 and q8 decode
gemvs alone against that read kernel over the same bytes, and again with the bytes in cache.

Needs: torch, transformers, matplotlib, ffmpeg, a C compiler, and `swift build -c release --product reel` done.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE_ARG = "past_key_values"
BEGIN, END = "<!-- bench:begin (tools/bench/run.py writes this part) -->", "<!-- bench:end -->"

# Qwen2-0.5B's shape (Qwen/Qwen2-0.5B config.json), random weights.
QWEN2_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0,
                 rms_norm_eps=1e-6, tie_word_embeddings=True, hidden_act="silu")

# LLaVA-OneVision-0.5B's vision tower (llava-hf/llava-onevision-qwen2-0.5b-ov-hf config.json: SigLIP-so400m with
# 26 of its 27 layers, vision_feature_layer -1, "full" selection); the decoder is QWEN2_05B.
SIGLIP_SO400M = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=26, num_attention_heads=16,
                     image_size=384, patch_size=14, vision_use_head=False)
# The placeholder ids of the tokenizer copied from the vision test fixture (byte-level ASCII, <image> 120, <video> 121).
LLAVA_TOKENS = dict(image_token_index=120, video_token_index=121)
VIDEO_PROMPT = "What happens in this video? Answer in one sentence."

# Reference figures from issue 7 (llama.cpp on this machine; not re-measured by this script).
LLAMA_CPP = {"q4": {"prefill": 340.0, "decode": 78.0, "roofline": 0.80},
             "q8": {"prefill": 270.0, "decode": 49.0, "roofline": 0.78}}
TARGETS = {"decode_roofline": 0.90, "prefill": 500.0}
IDLE_BANDWIDTH = 30.0  # GB/s, issue 7's STREAM-like figure for this machine when idle (27–33)

READ_BW_C = r"""
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
/* STREAM-like read bandwidth: T threads each sum their share of a buffer with 16-byte vectors (GCC/Clang vector
   extensions: SSE2 at plain -O2) and 8 independent accumulators; best of R passes. The buffer asks for 2 MiB
   pages, as Reel's weight mapping does (MappedFile(hugePages:)), so both are read through the same page size. */
typedef uint64_t v2 __attribute__((vector_size(16)));
static v2 *buf; static size_t vecs; static int T;
static void *reader(void *arg) {
    size_t t = (size_t)arg, lo = vecs / T * t, hi = t == (size_t)T - 1 ? vecs : vecs / T * (t + 1);
    v2 a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, f = {0}, g = {0}, h = {0};
    for (size_t i = lo; i + 8 <= hi; i += 8) {
        a += buf[i]; b += buf[i + 1]; c += buf[i + 2]; d += buf[i + 3];
        e += buf[i + 4]; f += buf[i + 5]; g += buf[i + 6]; h += buf[i + 7];
    }
    a += b + c + d + e + f + g + h;
    return (void *)(uintptr_t)(a[0] ^ a[1]);
}
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    size_t bytes = (size_t)atol(argv[1]) << 20; T = atoi(argv[2]); int reps = atoi(argv[3]);
    vecs = bytes / 16; buf = aligned_alloc(2 << 20, vecs * 16);
#ifdef __linux__
    madvise(buf, vecs * 16, MADV_HUGEPAGE);
#endif
    memset(buf, 1, vecs * 16);
    pthread_t th[64]; uintptr_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int t = 0; t < T; t++) pthread_create(&th[t], 0, reader, (void *)(uintptr_t)t);
        for (int t = 0; t < T; t++) { void *v; pthread_join(th[t], &v); sink ^= (uintptr_t)v; }
        printf("%.3f\n", bytes / (now() - t0) / 1e9);
    }
    return sink == 42;
}
"""


CPU_PROBE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
/* CPU-speed probe: one thread, 8 independent multiply-add chains a = a·m + c in f32, each step waiting for the
   last (latency-bound), R passes; prints G steps/s per pass — proportional to the core's clock, so runs on a VM
   whose speed drifts can be told apart by clock (this probe) and memory system (the read bandwidth). */
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    int reps = atoi(argv[1]); long n = 20000000; volatile float seed = 1.0f;
    float a[8], m = 0.999999f * seed, c = 1e-7f * seed;
    for (int j = 0; j < 8; j++) a[j] = seed + (float)j;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < n; i++)
            for (int j = 0; j < 8; j++) a[j] = a[j] * m + c;
        printf("%.3f\n", (double)n * 8 / (now() - t0) / 1e9);
    }
    float s = 0;
    for (int j = 0; j < 8; j++) s += a[j];
    return s == 42.0f;
}
"""

INT8_PROBE_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
/* Int8 speed probe: T threads, each a register-only loop of 12 independent 512-bit vpdpbusd chains (64 multiply-adds
   = 128 integer ops each), R passes; prints the best pass's G ops/s over all threads, or 0 without AVX-512 VNNI.
   The peak of Reel's int8 GEMM instruction on this machine. The twelve accumulators are twelve variables, not an
   array: with `"+v"(a[j])` gcc stored every accumulator to the stack after each vpdpbusd, and the probe measured
   the stores (on the AMD EPYC host 419 GOP/s on 2 threads, against 935 from registers; clang had kept them in
   registers). 24 chains read the same as 12. */
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }
#if defined(__x86_64__)
#include <immintrin.h>
#define N 50000000L
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void *loop(void *arg) {
    const __m512i x = _mm512_set1_epi8(1), y = _mm512_set1_epi8(2);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < N; i++) {
#define D(a) __asm__ volatile("vpdpbusd %1, %2, %0" : "+v"(a) : "v"(x), "v"(y));
        D(a0) D(a1) D(a2) D(a3) D(a4) D(a5) D(a6) D(a7) D(a8) D(a9) D(a10) D(a11)
    }
    const __m512i s = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                         _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7))),
        _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    *(int *)arg = _mm512_reduce_add_epi32(s);
    return NULL;
}
int main(int argc, char **argv) {
    int reps = atoi(argv[1]), T = atoi(argv[2]);
    if (!__builtin_cpu_supports("avx512vnni") || T < 1) { printf("0\n"); return 0; }
    pthread_t *t = malloc(sizeof(pthread_t) * T);
    int *sink = malloc(sizeof(int) * T);
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int i = 0; i < T; i++) pthread_create(&t[i], NULL, loop, &sink[i]);
        for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
        double g = (double)N * 12 * 128 * T / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    free(t), free(sink);
    printf("%.1f\n", best);
    return 0;
}
#else
int main(void) { printf("0\n"); return 0; }
#endif
"""


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def load1():
    return os.getloadavg()[0]


def wait_quiet(max_load, deadline):
    """Waits until the 1-minute load average is below max_load or the deadline passes; returns (quiet, load)."""
    while True:
        l = load1()
        if l < max_load:
            return True, l
        if time.time() >= deadline:
            return False, l
        log(f"load average {l:.2f} ≥ {max_load}: waiting for a quiet machine")
        time.sleep(20)


def make_checkpoint(out):
    """Random-weight Qwen2-0.5B in the Hugging Face layout (bf16 safetensors + the tiny example's tokenizer)."""
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    log("making the random Qwen2-0.5B checkpoint", out)
    torch.manual_seed(0)
    cfg = Qwen2Config(**QWEN2_05B, bos_token_id=0, eos_token_id=2)
    model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    with torch.no_grad():  # norm weights of 1 hide nothing in a benchmark, but keep them realistic anyway
        for n, p in model.named_parameters():
            if p.dim() == 1 and "norm" in n:
                p.copy_(1 + 0.1 * torch.randn(p.shape))
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    # A tokenizer so `reel convert` gets a complete checkpoint; the benchmark feeds token ids directly.
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(ROOT, "examples", "tiny-qwen2", f), tmp)
    os.replace(tmp, out)


def make_llava_checkpoint(out):
    """Random-weight LLaVA-OneVision-0.5B in the Hugging Face layout (bf16), with a chat template, a tokenizer that
    has <video>/<image> and the 384² video processor config, so `reel run --video` works on it."""
    if os.path.exists(os.path.join(out, "model.safetensors")) or os.path.exists(os.path.join(out, "model.safetensors.index.json")):
        return
    import torch
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, Qwen2Config, SiglipVisionConfig
    log("making the random LLaVA-OneVision-0.5B checkpoint", out)
    torch.manual_seed(0)
    text = Qwen2Config(**QWEN2_05B, bos_token_id=1, eos_token_id=2)
    cfg = LlavaOnevisionConfig(vision_config=SiglipVisionConfig(**SIGLIP_SO400M).to_dict(), text_config=text.to_dict(),
                               vision_feature_layer=-1, vision_feature_select_strategy="full", tie_word_embeddings=True,
                               **LLAVA_TOKENS)
    model = LlavaOnevisionForConditionalGeneration(cfg).to(torch.bfloat16)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() == 1 and "norm" in n and n.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape))
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    del model
    tok = os.path.join(ROOT, "Tests", "ReelModelsTests", "Fixtures", "llava_ov_image", "tokenizer")
    for f in os.listdir(tok):
        shutil.copy(os.path.join(tok, f), tmp)
    pre = {"size": {"height": 384, "width": 384}, "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255,
           "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "do_convert_rgb": True}
    with open(os.path.join(tmp, "video_preprocessor_config.json"), "w") as f:
        json.dump(pre, f)
    os.replace(tmp, out)


def make_clip(path):
    """A 10 s 1280×720 30 fps H.264 test pattern (what a phone clip costs ffmpeg to decode, roughly)."""
    if not os.path.exists(path):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                        "-t", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p", path], check=True)


def reel_vision(reel, model, args):
    """`reel bench --frames` (encode frames/s; a short prefill/decode rides along) and the 8-frame time to first token
    through `reel run --video`, split into frame decoding, encoding and prefill."""
    before = load1()
    cmd = [reel, "bench", model, "--prompt-tokens", "16", "--gen-tokens", "4", "--frames", str(args.frames),
           "--threads", str(args.threads), "--repetitions", str(args.vision_repetitions), "--json"]
    drop_page_cache(model)
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    r["load"] = (before, load1())
    before = load1()
    t = time.perf_counter()
    out = subprocess.run([reel, "run", model, "--video", args.clip, "--frames", "8", "--prompt", VIDEO_PROMPT,
                          "--max-tokens", "1", "--ignore-eos", "--json", "--threads", str(args.threads)],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t
    j = json.loads(out)
    r["ttft"] = {"decode_frames_s": j["vision"]["decode_seconds"], "encode_s": j["vision"]["encode_seconds"],
                 "prefill_s": j["timings"]["prefill_seconds"], "prompt_tokens": j["timings"]["prompt_tokens"],
                 "command_s": wall, "load": (before, load1())}
    return r


def torch_vision(ckpt, dtype_name, args):
    """Seconds per frame of `get_video_features` (tower + projector + pooling) on --frames random frames."""
    import torch
    from transformers import LlavaOnevisionForConditionalGeneration
    torch.set_num_threads(args.threads)
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype_name]
    model = LlavaOnevisionForConditionalGeneration.from_pretrained(ckpt, dtype=dtype).eval()
    g = torch.Generator().manual_seed(0)
    pv = (torch.rand(1, args.frames, 3, 384, 384, generator=g) * 2 - 1).to(dtype)
    kw = dict(vision_feature_layer=-1, vision_feature_select_strategy="full")
    before = load1()
    times = []
    with torch.inference_mode():
        model.model.get_video_features(pv[:, :1], **kw)  # warm-up
        for _ in range(max(1, args.torch_repetitions - 1)):
            t = time.perf_counter()
            model.model.get_video_features(pv, **kw)
            times.append((time.perf_counter() - t) / args.frames)
            log(f"torch {dtype_name} vision: {times[-1]:.2f} s/frame")
    return {"s_per_frame": statistics.median(times), "load": (before, load1())}


def convert(reel, ckpt, out, enc):
    if os.path.exists(out):
        return
    log(f"reel convert → {enc}")
    subprocess.run([reel, "convert", ckpt, "-o", out, "--quant", enc, "--quiet", "--force"], check=True)


def cpu_name():
    """The CPU's model name from /proc/cpuinfo (the machine behind a benchmark can change between runs)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


_compiled = {}


def compiled(scratch, name, source):
    """The C program `source` built with plain `cc -O2 -pthread` as `scratch/name`, once per run."""
    exe = os.path.join(scratch, name)
    if _compiled.get(exe) != source:
        with open(exe + ".c", "w") as f:
            f.write(source)
        subprocess.run(["cc", "-O2", "-pthread", exe + ".c", "-o", exe], check=True)
        _compiled[exe] = source
    return exe


def read_bandwidth(scratch, threads, mib=1024, reps=7):
    """GB/s (1e9 bytes/s), best and median of `reps` passes over a `mib` MiB buffer."""
    exe = compiled(scratch, "readbw", READ_BW_C)
    out = subprocess.run([exe, str(mib), str(threads), str(reps)], check=True, capture_output=True, text=True).stdout
    v = [float(x) for x in out.split()][1:]  # the first pass faults pages in
    return max(v), statistics.median(v)


def probe_range(v):
    return f"{min(v):.2f}" if max(v) - min(v) < 0.005 else f"{min(v):.2f}–{max(v):.2f}"


def cpu_probe(scratch, reps=5):
    """The CPU probe's best pass (G steps/s, one thread): see CPU_PROBE_C."""
    exe = compiled(scratch, "cpuprobe", CPU_PROBE_C)
    out = subprocess.run([exe, str(reps)], check=True, capture_output=True, text=True).stdout
    return max(float(x) for x in out.split())


def int8_probe(scratch, threads, reps=3):
    """The int8 speed probe's best pass (G ops/s over `threads` threads; 0 without AVX-512 VNNI): see INT8_PROBE_C."""
    exe = compiled(scratch, "int8probe", INT8_PROBE_C)
    out = subprocess.run([exe, str(reps), str(threads)], check=True, capture_output=True, text=True).stdout
    return float(out.split()[0])


def gemv_probe(scratch, threads, mib=1024, passes=7):
    """tools/bench/gemv_probe.c built against Reel's own kernel sources (with clang where there is one: the compiler
    SwiftPM builds them with), run once: its markdown table, and its JSON line as a dict."""
    exe = os.path.join(scratch, "gemv_probe")
    kernels = os.path.join(ROOT, "Sources", "CKernels")
    sources = [os.path.join(ROOT, "tools", "bench", "gemv_probe.c")] + sorted(
        os.path.join(kernels, f) for f in os.listdir(kernels) if f.endswith(".c"))
    cc = shutil.which("clang") or "cc"
    subprocess.run([cc, "-O2", "-pthread", "-I", os.path.join(kernels, "include")] + sources + ["-lm", "-o", exe],
                   check=True)
    out = subprocess.run([exe, str(mib), str(passes), str(threads)], check=True, capture_output=True, text=True).stdout
    table, _, last = out.strip().rpartition("\n")
    return table.strip(), json.loads(last)


def drop_page_cache(path):
    """Drops a model file's clean pages from the page cache before a Reel run, so every run reads it back the same
    way: in 2 MiB folios, mapped as 2 MiB pages (`MappedFile(hugePages:)`). Pages cached in small folios (a file
    written or read some other way) stay 4 KiB pages in every later mapping, and decode runs 6–15% slower over them
    (docs/runtime.md, "2 MiB pages")."""
    if hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def reel_bench(reel, model, args, bandwidth, depth):
    cmd = [reel, "bench", model, "--prompt-tokens", str(args.prompt_tokens), "--gen-tokens", str(args.gen_tokens),
           "--threads", str(args.threads), "--repetitions", str(args.repetitions), "--json", "--bandwidth", f"{bandwidth:.3f}",
           "--read-bound", f"--depth={depth}"]
    drop_page_cache(model)
    before = load1()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    r["load"] = (before, load1())
    return r


def kv_cache(out):
    """The KV cache of a forward's output (`cache` from transformers 5.x, `past_key_values` before)."""
    return out.cache if CACHE_ARG == "cache" else out.past_key_values


def torch_bench(ckpt, dtype_name, args):
    """Prefill and greedy decode in PyTorch with the KV cache, the same tests, token counts and threads as reel bench:
    the decode starts from a cache of --depth positions (an untimed prefill; a random first token when 0)."""
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(args.threads)
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype_name]
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=dtype).eval()
    global CACHE_ARG
    import inspect
    CACHE_ARG = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    g = torch.Generator().manual_seed(0)
    prefill, decode = [], []
    before = load1()
    reps = max(1, args.torch_repetitions)
    with torch.inference_mode():
        for r in range(reps + 1):  # the first is a short warm-up
            n, gen = (args.prompt_tokens, args.gen_tokens) if r > 0 else (min(32, args.prompt_tokens), 4)
            ids = torch.randint(0, QWEN2_05B["vocab_size"], (1, n), generator=g)
            t = time.perf_counter()
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            tp = time.perf_counter() - t
            past, tok = kv_cache(out), out.logits[:, -1].argmax(-1, keepdim=True)
            if args.depth != n:  # the decode test's own cache: `depth` positions, or none
                past = None
                tok = torch.randint(0, QWEN2_05B["vocab_size"], (1, 1), generator=g)
                if args.depth > 0:
                    ids = torch.randint(0, QWEN2_05B["vocab_size"], (1, args.depth), generator=g)
                    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                    past, tok = kv_cache(out), out.logits[:, -1].argmax(-1, keepdim=True)
            t = time.perf_counter()
            for _ in range(gen):
                extra = {CACHE_ARG: past} if past is not None else {}
                out = model(input_ids=tok, use_cache=True, **extra)
                past, tok = kv_cache(out), out.logits[:, -1].argmax(-1, keepdim=True)
            td = time.perf_counter() - t
            if r > 0:
                prefill.append(n / tp)
                decode.append(gen / td)
                log(f"torch {dtype_name}: prefill {n / tp:.1f} tok/s, decode {gen / td:.2f} tok/s")
    return {"prefill_tokens_per_s": statistics.median(prefill), "decode_tokens_per_s": statistics.median(decode),
            "prefill_spread": (min(prefill), max(prefill)), "decode_spread": (min(decode), max(decode)),
            "load": (before, load1())}


def plot(results, torch_results, path, ctx):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels, pre, dec, colors = [], [], [], []
    for enc, r in results.items():
        labels.append(f"Reel {enc}"); pre.append(r["prefill_tokens_per_s"]); dec.append(r["decode_tokens_per_s"]); colors.append("#1f77b4")
    for d, r in torch_results.items():
        labels.append(f"PyTorch {d}"); pre.append(r["prefill_tokens_per_s"]); dec.append(r["decode_tokens_per_s"]); colors.append("#ff7f0e")
    for enc, r in LLAMA_CPP.items():
        labels.append(f"llama.cpp {enc.upper()}_0*"); pre.append(r["prefill"]); dec.append(r["decode"]); colors.append("#bbbbbb")
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for a, vals, title, target in ((ax[0], pre, f"prefill {ctx['prompt']} tokens (tok/s)", TARGETS["prefill"]),
                                   (ax[1], dec, f"decode {ctx['gen']} tokens from {depth_words(ctx['depth'])} (tok/s)", None)):
        bars = a.barh(labels, vals, color=colors)
        a.bar_label(bars, fmt="%.1f", padding=2, fontsize=8)
        a.set_title(title)
        a.invert_yaxis()
        if target:
            a.axvline(target, color="red", ls="--", lw=1)
            a.text(target, len(labels) - 0.5, " target", color="red", fontsize=8)
    quiet = "" if ctx["quiet"] else " — MACHINE NOT QUIET"
    fig.suptitle(f"Qwen2-0.5B shape, random weights, {ctx['threads']} threads, {ctx['when']}, load avg at start "
                 f"{ctx['load_start']:.2f}{quiet} (* llama.cpp: issue 7 figures, not this run)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def fmt(x, d=1):
    return f"{x:.{d}f}"


def write_vision(L, ctx):
    v = ctx["vision"]
    L.append(f"Vision: random-weight LLaVA-OneVision-0.5B shape (SigLIP-so400m tower at 384², patch 14, 26 layers, "
             f"hidden 1152; projector; the Qwen2-0.5B decoder above), vision tower + projector + pooling on "
             f"{ctx['frames']} random frames, {ctx['threads']} threads; Reel `reel bench --frames` (median of "
             f"{ctx['vreps']}, after a one-frame warm-up), PyTorch `get_video_features`"
             + (f"; CPU probe before each Reel run {probe_range(ctx['vprobes'])} G steps/s" if ctx.get("vprobes") else "")
             + (f"; int8 speed probe (register-only 512-bit `vpdpbusd`, {ctx['threads']} threads) before each Reel run "
                f"{', '.join(fmt(x, 0) for x in ctx['int8probes'])} GOP/s" if any(ctx.get("int8probes", [])) else "")
             + ":")
    L.append("")
    L.append("| engine | encoding | file MiB | s/frame | frames/s | speed ÷ PyTorch bf16 | speed ÷ PyTorch f32 | load avg |")
    L.append("|---|---|---:|---:|---:|---:|---:|---|")
    tv = v["torch"]
    for enc, r in v["reel"].items():
        spf = 1 / r["encode_frames_per_s"]
        ratios = [fmt(tv[d]["s_per_frame"] / spf, 2) + "×" if d in tv else "—" for d in ("bf16", "f32")]
        L.append(f"| Reel | {enc} | {fmt(r['model_bytes'] / 2**20)} | {fmt(spf, 2)} | {fmt(r['encode_frames_per_s'], 3)} | "
                 f"{ratios[0]} | {ratios[1]} | {fmt(r['load'][0], 2)} → {fmt(r['load'][1], 2)} |")
    for d, r in tv.items():
        L.append(f"| PyTorch | {d} | — | {fmt(r['s_per_frame'], 2)} | {fmt(1 / r['s_per_frame'], 3)} | — | — | "
                 f"{fmt(r['load'][0], 2)} → {fmt(r['load'][1], 2)} |")
    L.append("| target (issue 7) | q8 | — | ≤ 1.2 | ≥ 0.833 | — | — | — |")
    L.append("")
    L.append(f"Time to first token of an 8-frame video question (`reel run --video clip.mp4 --frames 8 --max-tokens 1`, "
             f"a 10 s 1280×720 H.264 clip; \"{VIDEO_PROMPT}\"):")
    L.append("")
    L.append("| Reel encoding | prompt tokens | decode frames s | encode s | prefill s | time to first token s | whole command s | load avg |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for enc, r in v["reel"].items():
        t = r["ttft"]
        total = t["decode_frames_s"] + t["encode_s"] + t["prefill_s"]
        share = lambda x: f"{fmt(x, 2)} ({fmt(100 * x / total, 0)}%)"
        L.append(f"| {enc} | {t['prompt_tokens']} | {share(t['decode_frames_s'])} | {share(t['encode_s'])} | "
                 f"{share(t['prefill_s'])} | **{fmt(total, 2)}** | {fmt(t['command_s'], 2)} | "
                 f"{fmt(t['load'][0], 2)} → {fmt(t['load'][1], 2)} |")
    L.append("")


def depth_words(depth):
    return "an empty KV cache" if depth == 0 else f"a KV cache of {depth} positions"


def plain_read_share(r):
    """The decode's weight stream as a fraction of the plain read measured beside it (None without one)."""
    pr = r.get("plain_read_gb_per_s")
    return r["weight_bytes_per_token"] * r["decode_tokens_per_s"] / (pr * 1e9) if pr else None


def beside_words(r):
    """"; N% of the G GB/s plain read measured beside it", or "" without a plain read."""
    pr = r.get("plain_read_gb_per_s")
    return f"; {fmt(100 * plain_read_share(r))}% of the {fmt(pr, 1)} GB/s plain read measured beside it" if pr else ""


def decode_verdict(r, ctx):
    """The decode target (≥ 90%) against both rooflines: the plain read beside the decode, and the run's best pass,
    with how far the read-only bound itself got towards that pass when it fell short of 90% of it."""
    def short(f):
        if f > 1:
            return "not valid (above 100%: the read was depressed by other load)"
        return "met" if f >= TARGETS["decode_roofline"] else fmt(100 * (TARGETS["decode_roofline"] - f)) + " points short"
    parts = []
    if r.get("plain_read_gb_per_s"):
        parts.append(f"against the read beside it: {short(plain_read_share(r))}")
    parts.append(f"against the run's best pass: {short(r['decode_roofline_fraction'])}")
    ceiling = ctx["bound_bandwidth"] / ctx["bandwidth"]
    if ceiling < TARGETS["decode_roofline"]:
        parts.append(f"the best read-only bound itself reached {fmt(100 * ceiling)}% of that pass")
    return "; ".join(parts)


def write_doc(path, ctx):
    bw = ctx["bandwidth"]
    L = []
    L.append(f"Measured {ctx['when']} by `tools/bench/run.py` on {ctx['cpu']} ({ctx['cores']} cores), "
             f"{ctx['threads']} threads, random-weight Qwen2-0.5B shape (hidden 896, 24 layers, 14/2 heads, "
             f"intermediate 4864, vocab 151936, tied); llama-bench's tests: prefill {ctx['prompt']} tokens (pp{ctx['prompt']}) and "
             f"decode {ctx['gen']} tokens (tg{ctx['gen']}) from {depth_words(ctx['depth'])}; "
             f"medians of {ctx['reps']} Reel repetitions and {ctx['treps']} PyTorch repetitions, each after a warm-up. "
             f"Reel at commit `{ctx['commit']}`. {ctx['torch_note']}")
    L.append("")
    if not ctx["quiet"]:
        L.append(f"> **⚠ THE MACHINE WAS NOT QUIET.** The 1-minute load average did not stay below {ctx['max_load']} "
                 f"for the whole run (it was {fmt(ctx['load_start'], 2)} at the start; see the load column): other processes shared the "
                 "2 cores, so every figure below is depressed by an unknown, varying amount. Re-run on an idle machine.")
        L.append("")
    if ctx.get("probes"):
        L.append(f"CPU probe before each decode run (one thread, 8 latency-bound f32 multiply-add chains, `cc -O2`; "
                 f"proportional to the core's clock, so a slow run shows whether the clock or, as the read bandwidth and "
                 f"read-only bounds show, the memory system was slow): {probe_range(ctx['probes'])} G steps/s.")
        L.append("")
    L.append(f"Read bandwidth ({ctx['threads']} threads): the STREAM-like `cc -O2` read kernel (1 GiB, measured before each "
             f"Reel run) best {fmt(ctx['stream_bandwidth'], 1)} GB/s, median {fmt(ctx['bandwidth_median'], 1)} GB/s; the best "
             f"read-only bound (`reel bench --read-bound`, 64-byte loads through the decode's access pattern) "
             f"{fmt(ctx['bound_bandwidth'], 1)} GB/s. The roofline takes the higher, **{fmt(bw, 1)} GB/s** (issue 7 measured "
             f"27–33 GB/s on its machine when idle). Roofline = bandwidth ÷ weight bytes streamed per token. Both read "
             f"through 2 MiB pages: the STREAM buffer asks for them, and each model file is dropped from the page "
             f"cache before its Reel run so it is read back in 2 MiB folios (column \"in 2 MiB pages\"; over 4 KiB "
             f"pages decode runs 6–15% slower, docs/runtime.md).")
    L.append("")
    L.append("| engine | encoding | file MiB | weights/token MiB | prefill tok/s | decode tok/s | decode roofline tok/s | "
             "% of roofline | read-only bound tok/s (GB/s) | decode ÷ read bound | plain read GB/s | decode ÷ plain read | "
             "peak RSS MiB | in 2 MiB pages | load avg |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for enc, r in ctx["reel"].items():
        wpt = r["weight_bytes_per_token"]
        rb = r.get("read_bound_tokens_per_s")
        rbc = f"{fmt(rb, 2)} ({fmt(r['read_bound_gb_per_s'], 1)})" if rb else "—"
        rbr = f"{fmt(100 * r['decode_tokens_per_s'] / rb)}%" if rb else "—"
        huge = f"{fmt(100 * r['huge_page_bytes'] / r['model_bytes'])}%" if "huge_page_bytes" in r else "—"
        pr, share = r.get("plain_read_gb_per_s"), plain_read_share(r)
        prc = fmt(pr, 1) if pr else "—"
        prr = f"{fmt(100 * share)}%" if pr else "—"
        L.append(f"| Reel | {enc} | {fmt(r['model_bytes'] / 2**20)} | {fmt(wpt / 2**20)} | "
                 f"{fmt(r['prefill_tokens_per_s'])} | {fmt(r['decode_tokens_per_s'], 2)} | {fmt(bw * 1e9 / wpt)} | "
                 f"{fmt(100 * r['decode_roofline_fraction'])}% | {rbc} | {rbr} | {prc} | {prr} | {fmt(r['peak_rss_bytes'] / 2**20)} | "
                 f"{huge} | {fmt(r['load'][0], 2)} → {fmt(r['load'][1], 2)} |")
    for d, r in ctx["torch"].items():
        wpt = ctx["torch_bytes"][d]
        pct = r["decode_tokens_per_s"] * wpt / (bw * 1e9)
        L.append(f"| PyTorch | {d} | — | {fmt(wpt / 2**20)} | {fmt(r['prefill_tokens_per_s'])} | "
                 f"{fmt(r['decode_tokens_per_s'], 2)} | {fmt(bw * 1e9 / wpt)} | {fmt(100 * pct)}% | — | — | — | — | — | — | "
                 f"{fmt(r['load'][0], 2)} → {fmt(r['load'][1], 2)} |")
    for enc, r in LLAMA_CPP.items():
        L.append(f"| llama.cpp (issue 7, not this run) | {enc.upper()}_0 | — | — | {fmt(r['prefill'])} | "
                 f"{fmt(r['decode'], 1)} | — | ≈{fmt(100 * r['roofline'], 0)}% | — | — | — | — | — | — | — |")
    L.append("")
    L.append("Read-only bound (`reel bench --read-bound`, measured in each repetition right after the decode): the "
             "bytes a decode step reads from the weights, with the same row split, threads and parallel operations, "
             "read by a kernel that only XORs 64-byte loads — the best any gemv can do through this access pattern "
             "at that moment. Decode ÷ read bound is the share of it the real kernels reach; the rest of the gap to "
             "the roofline is the access pattern (per-operation chunks, dispatches, the working set) itself. Plain read "
             "(also in each repetition, right after the read-only bound): the same bytes read end to end, one stream "
             "per thread and one parallel operation per pass — the memory's rate for these bytes at the moment of the "
             "decode, where the roofline above takes the run's best pass, whichever minute it came from.")
    L.append("")
    if ctx.get("deep"):
        d = ctx["prompt"]
        L.append(f"The quantised files decoding from a cache of {d} positions (`reel bench --depth {d}`: the decode test "
                 f"goes on from the prefill test's cache, as after a {d}-token prompt; {ctx['gen']} steps, so the "
                 f"attention reads {d}–{d + ctx['gen'] - 1} cached positions, bytes the weight roofline does not count):")
        L.append("")
        L.append("| encoding | decode tok/s @ d" + str(d) + f" | ÷ decode from {depth_words(ctx['depth'])} | % of roofline | "
                 "decode ÷ read bound | plain read GB/s | decode ÷ plain read | load avg |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---|")
        for enc, r in ctx["deep"].items():
            rb, pr = r.get("read_bound_tokens_per_s"), r.get("plain_read_gb_per_s")
            top = ctx["reel"].get(enc, {}).get("decode_tokens_per_s")
            L.append(f"| {enc} | {fmt(r['decode_tokens_per_s'], 2)} | "
                     f"{fmt(100 * r['decode_tokens_per_s'] / top) + '%' if top else '—'} | "
                     f"{fmt(100 * r['decode_roofline_fraction'])}% | "
                     f"{fmt(100 * r['decode_tokens_per_s'] / rb) + '%' if rb else '—'} | {fmt(pr, 1) if pr else '—'} | "
                     f"{fmt(100 * plain_read_share(r)) + '%' if pr else '—'} | {fmt(r['load'][0], 2)} → {fmt(r['load'][1], 2)} |")
        L.append("")
    L.append("Ratios (Reel ÷ peer, higher is better for Reel):")
    L.append("")
    L.append("| Reel encoding | prefill ÷ PyTorch bf16 | prefill ÷ PyTorch f32 | decode ÷ PyTorch bf16 | decode ÷ PyTorch f32 | "
             "prefill ÷ llama.cpp | decode ÷ llama.cpp |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for enc, r in ctx["reel"].items():
        cells = []
        for d in ("bf16", "f32"):
            t = ctx["torch"].get(d)
            cells.append(fmt(r["prefill_tokens_per_s"] / t["prefill_tokens_per_s"], 2) + "×" if t else "—")
        for d in ("bf16", "f32"):
            t = ctx["torch"].get(d)
            cells.append(fmt(r["decode_tokens_per_s"] / t["decode_tokens_per_s"], 2) + "×" if t else "—")
        lc = LLAMA_CPP.get(enc)
        cells.append(fmt(r["prefill_tokens_per_s"] / lc["prefill"], 2) + "×" if lc else "—")
        cells.append(fmt(r["decode_tokens_per_s"] / lc["decode"], 2) + "×" if lc else "—")
        L.append(f"| {enc} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("Against the targets of issue 7:")
    L.append("")
    L.append("| target | measured | gap |")
    L.append("|---|---|---|")
    for enc in ("q4", "q8"):
        r = ctx["reel"].get(enc)
        if not r:
            continue
        f = r["decode_roofline_fraction"]
        idle = r["weight_bytes_per_token"] * r["decode_tokens_per_s"] / (IDLE_BANDWIDTH * 1e9)
        L.append(f"| decode {enc} ≥ 90% of read roofline (tg{ctx['gen']} from {depth_words(ctx['depth'])}) | "
                 f"{fmt(100 * f)}% of this run's {fmt(bw, 1)} GB/s{beside_words(r)}; "
                 f"{fmt(100 * idle)}% of the idle machine's ≈{fmt(IDLE_BANDWIDTH, 0)} GB/s | {decode_verdict(r, ctx)} |")
        dr = ctx.get("deep", {}).get(enc)
        if dr:
            L.append(f"| the same from a cache of {ctx['prompt']} positions (tg{ctx['gen']} @ d{ctx['prompt']}) | "
                     f"{fmt(100 * dr['decode_roofline_fraction'])}% of this run's {fmt(bw, 1)} GB/s{beside_words(dr)} | "
                     f"{decode_verdict(dr, ctx)} |")
    for enc in ("q4", "q8"):
        r = ctx["reel"].get(enc)
        if not r:
            continue
        p = r["prefill_tokens_per_s"]
        L.append(f"| prefill {enc} ≥ 500 tok/s | {fmt(p)} tok/s | "
                 f"{'met' if p >= TARGETS['prefill'] else fmt(TARGETS['prefill'] / p, 2) + '× short'} |")
    L.append("")
    if ctx.get("vision"):
        write_vision(L, ctx)
    titles = [("profile", "Per-op timings (`reel bench --profile --read-bound`, 2 repetitions)"),
              ("dispatch", "Thread pool (`reel bench --dispatch`, 32 decoded tokens)"),
              ("gemv_probe", "The decode gemv kernels against a plain read of the same bytes (`tools/bench/gemv_probe.c`, "
                             "Reel's kernel sources; \"read\" is `reel_read_xor`, the read-only bound's kernel)")]
    titles += [(k, "Vision tower per op (`reel bench --profile --frames 2 --repetitions 3`, the fastest)") for k in sorted(ctx["extras"])
               if k.startswith("vision_profile_")]
    for key, title in titles:
        if key in ctx["extras"]:
            name, load, text = ctx["extras"][key]
            L.append(f"{title} on {name}, load average {fmt(load, 2)} at the start:")
            L.append("")
            L.append(text.strip())
            L.append("")
    L.append("![Reel vs PyTorch, Qwen2-0.5B shape](performance.png)")
    L.append("")
    L.append(f"Reproduce: `swift build -c release --product reel && python3 tools/bench/run.py` "
             f"(scratch: `{ctx['scratch_hint']}`; about {ctx['minutes']} minutes here).")
    block = BEGIN + "\n" + "\n".join(L) + "\n" + END
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if os.path.exists(path):
        text = open(path).read()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = "# Performance\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch", default=os.environ.get("REEL_BENCH_DIR", os.path.expanduser("~/.cache/reel-bench")))
    ap.add_argument("--reel", default=os.path.join(ROOT, ".build", "release", "reel"))
    ap.add_argument("--encodings", default="f32,q8,q4")
    ap.add_argument("--torch-dtypes", default="bf16,f32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--depth", type=int, default=0, help="KV-cache positions when the decode test starts (llama-bench's -d)")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--torch-repetitions", type=int, default=2)
    ap.add_argument("--no-profile", action="store_true", help="skip the per-op profile and dispatch tables")
    ap.add_argument("--no-vision", action="store_true", help="skip the LLaVA-OneVision checkpoint (vision tower, video TTFT)")
    ap.add_argument("--vision-encodings", default="f32,q8")
    ap.add_argument("--frames", type=int, default=8, help="frames encoded per vision repetition")
    ap.add_argument("--vision-repetitions", type=int, default=2)
    ap.add_argument("--reuse-torch", action="store_true", help="take PyTorch's figures from the previous run's last-run.json")
    ap.add_argument("--reel-only", action="store_true", help="skip PyTorch (keeps nothing from earlier runs)")
    ap.add_argument("--max-load", type=float, default=1.5, help="measure only below this 1-minute load average")
    ap.add_argument("--wait", type=float, default=900, help="seconds to wait for a quiet machine before running anyway")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "performance.md"))
    ap.add_argument("--prepare-only", action="store_true", help="make and convert the checkpoints, measure nothing")
    args = ap.parse_args()
    if not os.path.exists(args.reel):
        sys.exit(f"{args.reel} not found: run `swift build -c release --product reel` first")
    os.makedirs(args.scratch, exist_ok=True)
    started = time.time()
    # The commit measured: HEAD when the run starts (the binary was built from it), not when the doc is written.
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    ckpt = os.path.join(args.scratch, "qwen2-0.5b-random")
    make_checkpoint(ckpt)
    encs = [e for e in args.encodings.split(",") if e]
    models = {e: os.path.join(args.scratch, f"qwen2-0.5b-{e}.reel") for e in encs}
    for e, m in models.items():
        convert(args.reel, ckpt, m, e)
    vmodels = {}
    if not args.no_vision:
        vckpt = os.path.join(args.scratch, "llava-ov-0.5b-random")
        make_llava_checkpoint(vckpt)
        vmodels = {e: os.path.join(args.scratch, f"llava-ov-0.5b-{e}.reel") for e in args.vision_encodings.split(",") if e}
        for e, m in vmodels.items():
            convert(args.reel, vckpt, m, e)
        args.clip = os.path.join(args.scratch, "clip-720p-10s.mp4")
        make_clip(args.clip)
    if args.prepare_only:
        return

    load_start = load1()
    quiet, _ = wait_quiet(args.max_load, time.time() + args.wait)
    # Bandwidth drifts (and other processes take some): measure it before every Reel run and use the best.
    samples, probes, vprobes, int8probes = [], [], [], []
    reel = {}
    for e, m in models.items():
        q, _ = wait_quiet(args.max_load, time.time() + (args.wait if quiet else 0))
        quiet = quiet and q
        samples.append(read_bandwidth(args.scratch, args.threads))
        probes.append(cpu_probe(args.scratch))
        log(f"read bandwidth {samples[-1][0]:.1f} GB/s (median pass {samples[-1][1]:.1f}); CPU probe {probes[-1]:.2f}")
        reel[e] = reel_bench(args.reel, m, args, max(s[0] for s in samples), args.depth)
        log(f"reel {e}: {reel[e]}")
    # The quantised files' decode from a cache of prompt-tokens positions (right after the prefill test).
    deep = {}
    if args.depth != args.prompt_tokens:
        for e in [e for e in ("q4", "q8") if e in models]:
            q, _ = wait_quiet(args.max_load, time.time() + (args.wait if quiet else 0))
            quiet = quiet and q
            samples.append(read_bandwidth(args.scratch, args.threads))
            deep[e] = reel_bench(args.reel, models[e], args, max(s[0] for s in samples), args.prompt_tokens)
            log(f"reel {e} at depth {args.prompt_tokens}: {deep[e]}")
    # The roofline's bandwidth is the best read rate measured in this run: the STREAM-like kernel's, or a read-only
    # bound's (64-byte loads through the decode's own access pattern) when that is higher, so a slow read kernel
    # cannot flatter the fractions.
    stream_bw = max(s[0] for s in samples)
    bound_bw = max((max(r.get("read_bound_gb_per_s", 0), r.get("plain_read_gb_per_s", 0))
                    for r in list(reel.values()) + list(deep.values())), default=0)
    bw = max(stream_bw, bound_bw)
    bw_med = statistics.median(s[1] for s in samples)
    for r in list(reel.values()) + list(deep.values()):  # every fraction against the run's best bandwidth
        r["decode_roofline_fraction"] = r["weight_bytes_per_token"] * r["decode_tokens_per_s"] / (bw * 1e9)
    # Evidence of what limits it: per-op timings and the thread-pool micro-benchmark, on the last quantised file.
    extras = {}
    prof = next((models[e] for e in ("q4", "q8") if e in models), None)
    if prof and not args.no_profile:
        base = [args.reel, "bench", prof, "--threads", str(args.threads), "--repetitions", "2"]
        extras["profile"] = (os.path.basename(prof), load1(), subprocess.run(
            base + ["--prompt-tokens", str(args.prompt_tokens), "--gen-tokens", str(args.gen_tokens), "--profile",
                    "--read-bound", f"--depth={args.depth}"], check=True, capture_output=True, text=True).stdout)
        extras["dispatch"] = (os.path.basename(prof), load1(), subprocess.run(
            base + ["--gen-tokens", "32", "--dispatch", f"--depth={args.depth}"], check=True, capture_output=True, text=True).stdout)
        # The decode gemvs alone against a plain read of the same bytes, and with the bytes in cache.
        table, probe = gemv_probe(args.scratch, args.threads)
        extras["gemv_probe"] = ("random q4 / q8 rows of k = 896", load1(), table)
        log(f"gemv probe: {probe}")
    tres = {}
    if args.reuse_torch:  # PyTorch's figures from the previous run (when only Reel changed)
        prev = json.load(open(os.path.join(args.scratch, "last-run.json")))
        tres = prev["torch"]
        if prev.get("depth", args.prompt_tokens) != args.depth:  # runs before --depth decoded after the prompt
            sys.exit(f"--reuse-torch: the previous run's PyTorch decode started at depth {prev.get('depth', args.prompt_tokens)}, "
                     f"this one at {args.depth}; run without --reuse-torch")
        torch_when = prev.get("torch_when", prev["when"])  # when PyTorch actually ran, through chains of reuse
        torch_note = f"PyTorch figures reused from the run of {torch_when} (`--reuse-torch`)."
    else:
        torch_when, torch_note = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), ""
    for d in ([] if args.reel_only or args.reuse_torch else [d for d in args.torch_dtypes.split(",") if d]):
        q, _ = wait_quiet(args.max_load, time.time() + (args.wait if quiet else 0))
        quiet = quiet and q
        tres[d] = torch_bench(ckpt, d, args)
    vision = None
    if vmodels:
        vision = {"reel": {}, "torch": {}}
        for e, m in vmodels.items():
            q, _ = wait_quiet(args.max_load, time.time() + (args.wait if quiet else 0))
            quiet = quiet and q
            vprobes.append(cpu_probe(args.scratch))
            int8probes.append(int8_probe(args.scratch, args.threads))
            vision["reel"][e] = reel_vision(args.reel, m, args)
            log(f"reel vision {e}: {vision['reel'][e]}")
            if not args.no_profile:  # the tower's per-op profile beside OpenBLAS sgemm on the same shapes
                # 3 repetitions, the fastest shown: the same statistic as the sgemm peer's best of 3
                out = subprocess.run([args.reel, "bench", m, "--profile", "--frames", "2", "--repetitions", "3",
                                      "--prompt-tokens", "16", "--gen-tokens", "4", "--threads", str(args.threads)],
                                     check=True, capture_output=True, text=True).stdout
                extras[f"vision_profile_{e}"] = (os.path.basename(m), load1(), out[out.index("vision tower"):])
        if args.reuse_torch:
            vision["torch"] = prev.get("vision", {}).get("torch", {})
        elif not args.reel_only:
            for d in [d for d in args.torch_dtypes.split(",") if d]:
                q, _ = wait_quiet(args.max_load, time.time() + (args.wait if quiet else 0))
                quiet = quiet and q
                vision["torch"][d] = torch_vision(vckpt, d, args)
    # PyTorch streams every Linear weight + the tied lm_head in its dtype each decode step.
    c = QWEN2_05B
    H, I, hd = c["hidden_size"], c["intermediate_size"], c["hidden_size"] // c["num_attention_heads"]
    per_layer = H * H * 2 + 2 * H * c["num_key_value_heads"] * hd + 3 * H * I
    params = per_layer * c["num_hidden_layers"] + c["vocab_size"] * H
    torch_bytes = {"bf16": params * 2, "f32": params * 4}
    ctx = dict(vision=vision, frames=args.frames, vreps=args.vision_repetitions, commit=commit, torch_note=torch_note, torch_when=torch_when, extras=extras, bandwidth=bw, stream_bandwidth=stream_bw, bound_bandwidth=bound_bw, bandwidth_median=bw_med, reel=reel, deep=deep, depth=args.depth, torch=tres, torch_bytes=torch_bytes,
               threads=args.threads, prompt=args.prompt_tokens, gen=args.gen_tokens, reps=args.repetitions,
               treps=args.torch_repetitions, quiet=quiet, max_load=args.max_load, load_start=load_start,
               when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu=cpu_name(), cores=os.cpu_count(),
               probes=probes, vprobes=vprobes, int8probes=int8probes,
               scratch_hint="$REEL_BENCH_DIR or ~/.cache/reel-bench", minutes=round((time.time() - started) / 60))
    write_doc(args.doc, ctx)
    plot(reel, tres, os.path.join(os.path.dirname(args.doc), "performance.png"), ctx)
    with open(os.path.join(args.scratch, "last-run.json"), "w") as f:
        json.dump({k: v for k, v in ctx.items()}, f, indent=1)
    log("wrote", args.doc)


if __name__ == "__main__":
    main()
