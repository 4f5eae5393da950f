#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import ReelCore
import ReelFormat
import ReelModels
import ReelRuntime

/// `reel bench`: prefill and decode speed of a model's decoder and, for LLaVA models, the vision encoder's frame
/// rate, llama-bench style (docs/performance.md).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prefill and decode speed (tokens/s), median and spread over repetitions.",
        discussion: """
        Two tests per repetition, as llama-bench runs them. Prefill (ppN): from an empty KV cache, --prompt-tokens \
        random valid token ids (logits for the last position only, as generation does). Decode (tgN): from an empty \
        cache, or from one holding --depth positions (an untimed prefill of that many random tokens, as \
        llama-bench's -d; with --depth equal to --prompt-tokens the decode goes on from the prefill test's cache), \
        --gen-tokens steps greedily past any EOS, timed from the first step. One untimed warm-up repetition \
        comes first (loading has already read the decoder's weights in from the mapping).

        A LLaVA or Reel AV model (a vision tower + projector) also encodes --frames random frames at the tower's input size per \
        repetition through the path `reel run --video` takes (tower, projector, pooling; 2 frames per batch), after a \
        one-frame warm-up: frames/s = frames ÷ time. A file that is a vision tower alone (SigLIP, CLIP) is timed the \
        same way through the whole tower, and only that.

        --bandwidth GBPS (the machine's read bandwidth, e.g. from tools/bench/run.py) adds the decode's share of the \
        read roofline: bytes streamed per token (every decoder Linear weight + lm_head, from the tensor table) × \
        tokens/s ÷ bandwidth.

        --read-bound adds the read-only bound of a decode step: in each repetition, after the decode, --gen-tokens \
        passes that read exactly the weight bytes a decode step reads (every Linear of every layer + lm_head), with \
        the same row split across the same threads and the same parallel operations (the attention's kept as an \
        empty one), but with a read kernel (XOR of 64-byte loads, prefetched as the gemvs prefetch) instead of the \
        dot products. Its tokens/s and GB/s are the best any gemv can do through this access pattern on this \
        machine at that moment. Each repetition then also reads the same bytes plainly, --gen-tokens times: one \
        parallel operation per pass over all of them end to end, one stream per thread — the memory's read rate \
        for these bytes at that moment, a roofline measured beside the decode it bounds, for machines whose memory \
        speed drifts. With --profile it adds a column: each op kind's weight reads alone, in GB/s, beside the \
        real op's.

        --dispatch measures the thread pool instead: the cost of one no-op parallel dispatch, and decode at 1 \
        thread and at --threads, with the share of a decode step the dispatches take.

        --json prints {"model_bytes", "threads", "prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_bytes"} \
        (medians), plus "encode_frames_per_s" for a model with a vision tower, with --bandwidth \
        "weight_bytes_per_token" and "decode_roofline_fraction", and with --read-bound "weight_bytes_per_token", \
        "read_bound_tokens_per_s", "read_bound_gb_per_s" and "plain_read_gb_per_s" (1e9 bytes/s), plus \
        "huge_page_bytes" (Linux: bytes of \
        the file mapped in 2 MiB pages at the end of the run; decode is 6-15% slower over 4 KiB pages). A vision \
        tower alone prints {"model_bytes", "threads", "encode_frames_per_s", "peak_rss_bytes"}.

        Examples:
          reel bench qwen2-q4.reel
          reel bench qwen2-q8.reel --prompt-tokens 512 --gen-tokens 128 --threads 2 --repetitions 5 --json
          reel bench qwen2-q4.reel --bandwidth 30
          reel bench qwen2-q8.reel --read-bound --gen-tokens 64
          reel bench llava-ov-q8.reel --frames 8 --json
          reel bench qwen2-q4.reel --dispatch
        """)

    @Argument(help: "The .reel model.")
    var model: String

    @Option(help: "Prompt length of the prefill test.")
    var promptTokens = 512

    @Option(help: "Tokens generated in the decode test.")
    var genTokens = 128

    @Option(help: "Positions in the KV cache when the decode test starts (an untimed prefill of random tokens), as llama-bench's -d; 0: an empty cache.")
    var depth = 0

    @Option(name: .customLong("frames"), help: "LLaVA and Reel AV models: random frames encoded per repetition (vision tower + projector; default 8).")
    var framesOption: Int?
    var frames: Int { framesOption ?? 8 }

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed repetitions (after one untimed warm-up).")
    var repetitions = 5

    @Option(help: "KV cache storage: f32 (the default, as transformers keeps it for an f32 model) or f16 (half the memory, as llama.cpp keeps it).")
    var kvCache: KVCacheStorage?
    /// --kv-cache or its default (optional so that a tower-only file can refuse it when given).
    var kvStorage: KVCacheStorage { kvCache ?? .f32 }

    @Option(help: "Measured read bandwidth in GB/s, to report decode as a share of the roofline.")
    var bandwidth: Double?

    @Option(help: "Seed of the random prompt.")
    var seed: UInt64 = 0

    @Flag(help: "Also time the read-only bound of a decode step: the same weight bytes, row split and dispatches, read without computing.")
    var readBound = false

    @Flag(help: "Thread-pool micro-benchmark: no-op dispatch cost, decode at 1 thread vs --threads.")
    var dispatch = false

    @Flag(help: "Per-operation timings of one prefill and the decode steps (from the decoder's stage hook), with GB/s of weights for decode; for a model with a vision tower also the tower's stages over --frames frames (the fastest of --repetitions), each beside OpenBLAS sgemm on the same shapes (best of 3).")
    var profile = false

    @Flag(help: "Print the medians as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard promptTokens > 0, genTokens > 0 else { throw ValidationError("--prompt-tokens and --gen-tokens must be positive") }
        guard repetitions > 0 else { throw ValidationError("--repetitions must be positive") }
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        try ModelOptions.validate(threads: threads)
        guard promptTokens <= 1 << 20, genTokens <= 1 << 20, depth <= 1 << 20 else {
            throw ValidationError("--prompt-tokens, --gen-tokens and --depth must be at most 1048576 each")
        }
        guard depth >= 0 else { throw ValidationError("--depth must be 0 or more, got \(depth)") }
        guard frames <= 4096 else { throw ValidationError("--frames must be at most 4096") }
        if let bandwidth, !(bandwidth > 0 && bandwidth.isFinite) { throw ValidationError("--bandwidth must be a positive, finite GB/s figure") }
        if profile && json { throw ValidationError("--profile prints tables only; drop --json (or --profile for the medians as JSON)") }
        if profile && dispatch { throw ValidationError("--profile and --dispatch are separate runs: give one") }
    }

    func run() throws {
        let file = try ReelFile(path: model)
        let threadCount = threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        guard file.component("decoder") != nil else {
            // A vision tower on its own (SiglipVisionModel, CLIPVisionModel): frames/s only.
            guard file.component("vision") != nil else {
                throw CLIError("\(model): architecture \(file.architecture) has neither a decoder nor a vision "
                                      + "tower to benchmark")
            }
            if dispatch || readBound || bandwidth != nil || kvCache != nil || depth != 0 {
                throw CLIError("\(model) is a vision tower without a decoder: --dispatch, --read-bound, "
                                      + "--bandwidth, --kv-cache and --depth are about decoding")
            }
            try runTower(file, threads: threadCount)
            return
        }
        if dispatch {
            try runDispatch(file, threads: threadCount)
            return
        }
        let bench = try DecoderBench(file: file, threads: threadCount, contextLength: contextLength, kvCache: kvStorage, seed: seed)
        try bench.repetition(prompt: promptTokens, gen: genTokens, depth: depth)  // warm-up: page the weights in
        if profile {
            try runProfile(file, bench)
            if let vision = try VisionBench(file: file, path: model, decoder: bench.decoder, threads: threadCount, frames: frames, seed: seed) {
                print("")
                try runVisionProfile(vision, file: file, threads: threadCount)
            }
            return
        }
        let vision = try VisionBench(file: file, path: model, decoder: bench.decoder, threads: threadCount, frames: frames, seed: seed)
        if vision == nil && framesOption != nil { printErr("note: --frames has no effect: \(model) has no vision tower") }
        try vision?.repetition(frames: 1)  // warm-up: page the tower in
        let bound = readBound ? try ReadBound(file: file, decoder: bench.decoder) : nil
        bound?.run(steps: 2)  // warm-up
        var prefill: [Double] = [], decode: [Double] = [], encode: [Double] = [], reads: [Double] = [], plain: [Double] = []
        for _ in 0..<repetitions {
            let r = try bench.repetition(prompt: promptTokens, gen: genTokens, depth: depth)
            prefill.append(r.prefill)
            decode.append(r.decode)
            if let bound {  // right after the decode they bound
                reads.append(bound.run(steps: genTokens))
                plain.append(bound.plainRead(steps: genTokens))
            }
            if let vision { encode.append(try vision.repetition(frames: frames)) }
        }
        let streamed = weightBytesPerToken(file)
        let rss = peakRSSBytes()
        let huge = file.hugePageBytes()
        let p = Stats(prefill), d = Stats(decode), e = encode.isEmpty ? nil : Stats(encode)
        let rb = reads.isEmpty ? nil : Stats(reads), pr = plain.isEmpty ? nil : Stats(plain)
        if json {
            var j = JSONObject([("model_bytes", .int(Int64(file.fileSize))), ("threads", .int(Int64(threadCount))),
                                ("prefill_tokens_per_s", .double(p.median)), ("decode_tokens_per_s", .double(d.median))])
            if let e { j["encode_frames_per_s"] = .double(e.median) }
            j["peak_rss_bytes"] = .int(Int64(rss))
            if depth > 0 { j["decode_depth"] = .int(Int64(depth)) }  // absent by default: issue 7's keys
            if let bandwidth {
                j["weight_bytes_per_token"] = .int(Int64(streamed))
                j["decode_roofline_fraction"] = .double(Double(streamed) * d.median / (bandwidth * 1e9))
            }
            if let rb, let bound {
                j["weight_bytes_per_token"] = .int(Int64(streamed))
                j["read_bound_tokens_per_s"] = .double(rb.median)
                j["read_bound_gb_per_s"] = .double(Double(bound.bytes) * rb.median / 1e9)
                if let pr { j["plain_read_gb_per_s"] = .double(Double(bound.bytes) * pr.median / 1e9) }
                if let huge { j["huge_page_bytes"] = .int(Int64(huge)) }
            }
            print(JSON.object(j).serialized(pretty: false))
            return
        }
        var rows = [tableRow(file, threadCount, "pp\(promptTokens)", p), tableRow(file, threadCount, decodeTest, d)]
        if let rb {  // the decode's read-only bound: same bytes, split and dispatches, no arithmetic
            rows.append(tableRow(file, threadCount, "read bound tg\(genTokens)", rb))
        }
        if let e { rows.append(tableRow(file, threadCount, "enc\(frames) (frames/s)", e, digits: 3)) }  // frames/s
        printTable(Self.tableHeader, rows)
        print("")
        print("repetitions \(repetitions) (+1 warm-up) · decode from \(depth > 0 ? "\(depth) cached positions" : "an empty cache") · KV cache \(kvStorage.rawValue) · peak RSS \(fixed(Double(rss) / 1_048_576, 1)) MiB · "
              + "weights streamed per decoded token \(fixed(Double(streamed) / 1_048_576, 1)) MiB")
        if let huge {  // 4 KiB pages cost decode 6-15% (docs/runtime.md, "2 MiB pages")
            print("file mapped in 2 MiB pages: \(fixed(Double(huge) / 1_048_576, 1)) MiB "
                  + "(\(fixed(100 * Double(huge) / Double(max(file.fileSize, 1)), 1))% of the file)")
        }
        if let rb, let bound {
            let gbs = Double(bound.bytes) * rb.median / 1e9
            print("read-only bound: \(fixed(gbs, 1)) GB/s of weights (\(fixed(rb.median, 2)) tok/s); decode reads "
                  + "\(fixed(Double(streamed) * d.median / 1e9, 1)) GB/s = \(fixed(100 * d.median / rb.median, 1))% of it")
            if let pr {
                print("plain read of the same bytes (one stream per thread, after each repetition): "
                      + "\(fixed(Double(bound.bytes) * pr.median / 1e9, 1)) GB/s; decode = \(fixed(100 * d.median / pr.median, 1))% of it")
            }
        }
        if let bandwidth {
            let achieved = Double(streamed) * d.median / 1e9
            print("decode reads \(fixed(achieved, 1)) GB/s of weights = \(fixed(100 * achieved / bandwidth, 1))% of the "
                  + "\(fixed(bandwidth, 1)) GB/s read roofline (roofline: \(fixed(bandwidth * 1e9 / Double(streamed), 1)) tok/s)")
        }
    }

    /// Positions the KV cache holds: the larger of the two tests.
    var contextLength: Int { max(promptTokens, depth + genTokens) }
    /// The decode test's name, as llama-bench's: "tg128", or "tg128 @ d512" from a cache of 512 positions.
    var decodeTest: String { depth > 0 ? "tg\(genTokens) @ d\(depth)" : "tg\(genTokens)" }

    /// The llama-bench-style table: one row per test, its median and spread.
    static let tableHeader = ["model", "size", "threads", "isa", "test", "t/s (median)", "spread (min – max)"]
    func tableRow(_ file: ReelFile, _ threads: Int, _ test: String, _ s: Stats, digits: Int = 2) -> [String] {
        [model.split(separator: "/").last.map(String.init) ?? model, "\(fixed(Double(file.fileSize) / 1_048_576, 1)) MiB",
         "\(threads)", Kernels.isaName, test, fixed(s.median, digits), "\(fixed(s.min, digits)) – \(fixed(s.max, digits))"]
    }

    /// A tower-only file: --frames random frames per repetition through the whole tower (2 per batch), after a
    /// one-frame warm-up; with --profile, the tower's per-op table.
    func runTower(_ file: ReelFile, threads: Int) throws {
        let vision = try VisionBench(tower: file, threads: threads, frames: frames, seed: seed)
        if profile {
            try runVisionProfile(vision, file: file, threads: threads)
            return
        }
        try vision.repetition(frames: 1)  // warm-up: page the tower in
        let e = Stats(try (0..<repetitions).map { _ in try vision.repetition(frames: frames) })
        let rss = peakRSSBytes()
        if json {
            let j = JSONObject([("model_bytes", .int(Int64(file.fileSize))), ("threads", .int(Int64(threads))),
                                ("encode_frames_per_s", .double(e.median)), ("peak_rss_bytes", .int(Int64(rss)))])
            print(JSON.object(j).serialized(pretty: false))
            return
        }
        printTable(Self.tableHeader, [tableRow(file, threads, "enc\(frames) (frames/s)", e, digits: 3)])
        print("")
        print("repetitions \(repetitions) (+1 warm-up) · peak RSS \(fixed(Double(rss) / 1_048_576, 1)) MiB · "
              + "\(fixed(1 / e.median, 3)) s/frame")
    }

    /// Per-op timings: the time between consecutive stage hooks, summed over layers and repetitions.
    func runProfile(_ file: ReelFile, _ bench: DecoderBench) throws {
        var pre = OpTimes(), dec = OpTimes()
        for _ in 0..<repetitions {
            let (p, d) = try bench.profiled(prompt: promptTokens, gen: genTokens, depth: depth)
            pre.merge(p)
            dec.merge(d)
        }
        let bytes = opWeightBytes(file)
        let reps = Double(repetitions)
        let preTotal = pre.total, decTotal = dec.total
        // With --read-bound: the same ops' weight reads alone (read kernel, same split and dispatches), per kind.
        var bound: [String: Double] = [:]
        if readBound {
            let rb = try ReadBound(file: file, decoder: bench.decoder)
            rb.run(steps: 2)
            bound = rb.profiled(steps: genTokens * repetitions)
        }
        func boundGBs(_ op: String) -> String {
            guard let b = bytes[op], let s = bound[op], s > 0 else { return "—" }
            return fixed(Double(b) / (s / reps / Double(genTokens)) / 1e9, 1)
        }
        var rows: [[String]] = []
        for op in OpTimes.order where pre.seconds[op] != nil || dec.seconds[op] != nil {
            let p = pre.seconds[op] ?? 0, d = dec.seconds[op] ?? 0
            let perToken = d / reps / Double(genTokens)
            let gbs = bytes[op].map { perToken > 0 ? fixed(Double($0) / perToken / 1e9, 1) : "—" } ?? "—"
            rows.append([op, fixed(1000 * p / reps, 1), fixed(100 * p / preTotal, 1) + "%",
                         fixed(1000 * perToken, 3), fixed(100 * d / decTotal, 1) + "%", gbs] + (readBound ? [boundGBs(op)] : []))
        }
        let boundTotal = bound.values.reduce(0, +)
        rows.append(["total", fixed(1000 * preTotal / reps, 1), "100%", fixed(1000 * decTotal / reps / Double(genTokens), 3), "100%",
                     fixed(Double(weightBytesPerToken(file)) / (decTotal / reps / Double(genTokens)) / 1e9, 1)]
                    + (readBound ? [fixed(Double(weightBytesPerToken(file)) / (boundTotal / reps / Double(genTokens)) / 1e9, 1)] : []))
        printTable(["op", "prefill\(promptTokens) ms", "share", "\(decodeTest) ms/token", "share", "decode GB/s of weights"]
                   + (readBound ? ["read-only bound GB/s"] : []), rows)
    }

    /// Per-stage timings of the vision tower over --frames frames (the tower's stage hook), with the rate of each
    /// matrix stage and, beside it, plain OpenBLAS sgemm's rate on the same shapes at the same thread count.
    func runVisionProfile(_ vision: VisionBench, file: ReelFile, threads: Int) throws {
        let tower = vision.tower, c = tower.config
        try vision.repetition(frames: 1)  // warm-up: page the tower in
        // The fastest repetition, as for the sgemm peer (`Kernels.sgemmSeconds`: best of its repetitions), so both
        // sides of "Reel ÷ sgemm" take the same statistic.
        var seconds: [VisionTower.Stage: Double] = [:], rep: [VisionTower.Stage: Double] = [:]
        var last = 0.0, total = Double.infinity
        tower.stageHook = { stage in
            let now = ProgressBar.now()
            rep[stage, default: 0] += now - last
            last = now
        }
        defer { tower.stageHook = nil }
        for _ in 0..<repetitions {
            rep = [:]
            last = ProgressBar.now()
            let t0 = last
            try vision.repetition(frames: frames)
            let t = ProgressBar.now() - t0
            if t < total { (total, seconds) = (t, rep) }
        }
        let perFrame = 1 / Double(frames)
        // Matrix shapes per batch (rows = images × tokens) and multiply-adds per frame, for the rates.
        let t = c.tokens, d = c.hiddenSize, inter = c.intermediateSize, layers = Double(c.numHiddenLayers)
        let rows = min(frames, tower.maxImages) * t
        let patchK = c.numChannels * c.patchSize * c.patchSize, g2 = c.grid * c.grid
        let shapes: [VisionTower.Stage: (flops: Double, n: Int, m: Int, k: Int, calls: Int)] = [
            .embeddings: (2 * Double(g2 * patchK * d), min(frames, tower.maxImages) * g2, d, patchK, 1),
            .qkvProj: (3 * 2 * Double(t * d * d) * layers, rows, d, d, 3),
            .outProj: (2 * Double(t * d * d) * layers, rows, d, d, 1),
            .fc1: (2 * Double(t * d * inter) * layers, rows, inter, d, 1),
            .fc2: (2 * Double(t * inter * d) * layers, rows, d, inter, 1),
        ]
        let attentionFlops = 2 * 2 * Double(t * t * d) * layers  // q·kᵀ and p·v over all heads
        let encoding = file.tensors.first { $0.name.hasSuffix("encoder.layers.0.mlp.fc1.weight") }.map { "\($0.encoding)" } ?? "?"
        var out: [[String]] = []
        var blasTotal = 0.0, reelMatrix = 0.0
        for stage in VisionTower.Stage.allCases {
            guard let sec = seconds[stage] else { continue }
            let ms = 1000 * sec * perFrame
            var rate = "—", blas = "—", ratio = "—"
            if let sh = shapes[stage] {
                let r = sh.flops / (sec * perFrame) / 1e9
                rate = fixed(r, 1)
                let calls = Double(sh.calls) * (stage == .embeddings ? 1 : layers)
                let batches = Double(frames) / Double(min(frames, tower.maxImages))
                let bs = Kernels.sgemmSeconds(n: sh.n, m: sh.m, k: sh.k, threads: threads) * calls * batches / Double(frames)
                blas = fixed(sh.flops / bs / 1e9, 1)
                ratio = fixed(bs / (sec * perFrame), 2)
                blasTotal += bs
                reelMatrix += sec * perFrame
            } else if stage == .attention {
                rate = fixed(attentionFlops / (sec * perFrame) / 1e9, 1)
            }
            out.append([stage.rawValue, fixed(ms, 1), fixed(100 * sec / total, 1) + "%", rate, blas, ratio])
        }
        let rest = total - seconds.values.reduce(0, +)
        out.append(["projector + pooling + other", fixed(1000 * rest * perFrame, 1), fixed(100 * rest / total, 1) + "%", "—", "—", "—"])
        out.append(["total", fixed(1000 * total * perFrame, 1), "100%", "—", "—", "—"])
        print("vision tower (\(encoding) Linear weights, \(c.numHiddenLayers) layers, \(t) tokens/frame), \(frames) frames "
              + "× \(repetitions) repetitions (the fastest shown), \(threads) threads: \(fixed(total * perFrame, 3)) s/frame")
        printTable(["op", "ms/frame", "share", "GFLOP/s (int8: GOP/s)", "OpenBLAS sgemm GFLOP/s, same shape", "Reel ÷ sgemm"], out)
        print("\nmatrix stages (embeddings, q/k/v, out_proj, fc1, fc2): \(fixed(1000 * reelMatrix, 1)) ms/frame in Reel, "
              + "\(fixed(1000 * blasTotal, 1)) ms/frame as plain cblas_sgemm calls of the same shapes (OpenBLAS \(BLASSetup.coreName), "
              + "\(threads) threads) = \(fixed(100 * blasTotal / reelMatrix, 1))% of sgemm's rate")
    }

    /// The thread-pool micro-benchmark.
    func runDispatch(_ file: ReelFile, threads n: Int) throws {
        var lines: [[String]] = []
        var results = JSONObject()
        for t in Array(Set([1, n])).sorted() {
            let pool = ThreadPool(threads: t)
            let iterations = 200_000
            // No-op dispatches: what one parallel op costs before it does any work.
            for _ in 0..<10_000 { pool.run { _ in } }
            let t0 = ProgressBar.now()
            for _ in 0..<iterations { pool.run { _ in } }
            let perDispatch = (ProgressBar.now() - t0) / Double(iterations)
            // parallelFor over a trivial range (the same path Linear takes).
            let sink = UnsafeMutablePointer<Int>.allocate(capacity: 64 * t)
            sink.initialize(repeating: 0, count: 64 * t)
            let t1 = ProgressBar.now()
            for _ in 0..<iterations { pool.parallelFor(64, granularity: 16) { r, w in sink[w * 64] &+= r.count } }
            let perFor = (ProgressBar.now() - t1) / Double(iterations)
            sink.deallocate()
            pool.shutdown()

            let bench = try DecoderBench(file: file, threads: t, contextLength: contextLength, kvCache: kvStorage, seed: seed)
            try bench.repetition(prompt: 16, gen: 4, depth: depth)
            var decode: [Double] = []
            for _ in 0..<repetitions { decode.append(try bench.repetition(prompt: 16, gen: genTokens, depth: depth).decode) }
            let d = Stats(decode)
            let ops = bench.dispatchesPerDecodeStep
            let share = t > 1 ? perFor * Double(ops) * d.median : 0
            lines.append(["\(t)", fixed(perDispatch * 1e9, 0), fixed(perFor * 1e9, 0), "\(ops)", fixed(d.median, 2),
                          t > 1 ? "\(fixed(100 * share, 2))%" : "—"])
            results["\(t)"] = ["noop_dispatch_ns": .double(perDispatch * 1e9), "parallel_for_ns": .double(perFor * 1e9),
                               "dispatches_per_token": .int(Int64(ops)), "decode_tokens_per_s": .double(d.median),
                               "dispatch_share_of_decode": .double(share)]
        }
        if json {
            print(JSON.object(JSONObject([("threads", .object(results))])).serialized(pretty: false))
            return
        }
        printTable(["threads", "no-op run (ns)", "parallelFor (ns)", "dispatches/token", "decode t/s", "dispatch share"], lines)
        if lines.count == 2, let one = Double(lines[0][4]), let two = Double(lines[1][4]), one > 0 {
            print("\ndecode speed-up \(lines[1][0]) vs 1 thread: \(fixed(two / one, 2))×")
        }
    }
}

/// Runs timed prefill/decode repetitions on one decoder.
final class DecoderBench {
    let decoder: Decoder
    var rng: SplitMix64

    init(file: ReelFile, threads: Int, contextLength: Int, kvCache: KVCacheStorage = .f32, seed: UInt64) throws {
        // Context = exactly what the test uses: the KV cache is allocated (and zeroed) up front.
        decoder = try inFile(file.path) {
            try Decoder(file: file, options: DecoderOptions(contextLength: contextLength, kvCache: kvCache, threads: threads))
        }
        rng = SplitMix64(seed: seed)
    }

    /// Parallel operations in one decode step: per layer q/k/v (one), attention, o, gate/up (one) and down, then
    /// lm_head.
    var dispatchesPerDecodeStep: Int { decoder.config.numHiddenLayers * 5 + 1 }

    /// One repetition: the prefill test (n tokens from an empty cache) and the decode test (`gen` steps from a
    /// cache of `depth` positions; `depth == n` goes on from the prefill test's cache). Tokens/s of each.
    @discardableResult
    func repetition(prompt n: Int, gen: Int, depth: Int) throws -> (prefill: Double, decode: Double) {
        decoder.reset()
        let t = ProgressBar.now()
        let logits = try decoder.prefill(tokens: randomTokens(n), logits: .last)
        let prefill = Double(n) / (ProgressBar.now() - t)
        var token = try decodeStart(depth: depth, after: n, logits: logits)
        let t0 = ProgressBar.now()
        for _ in 0..<gen {
            token = argmax(try decoder.decodeStep(token: token))
        }
        let decode = Double(gen) / (ProgressBar.now() - t0)
        return (prefill, decode)
    }

    /// Leaves `depth` positions in the cache for the decode test and returns its first token. Called right after
    /// the prefill test of `prompt` tokens, whose last `logits` are given: with `depth == prompt` that cache is kept;
    /// otherwise the cache is reset and, for depth > 0, filled by an untimed prefill of random tokens. The first
    /// token is the greedy one after those positions, or random from an empty cache.
    private func decodeStart(depth: Int, after prompt: Int, logits: Tensor) throws -> Int {
        if depth == prompt { return argmax(logits) }
        decoder.reset()
        guard depth > 0 else { return randomTokens(1)[0] }
        return argmax(try decoder.prefill(tokens: randomTokens(depth), logits: .last))
    }

    private func randomTokens(_ n: Int) -> [Int] {
        let vocab = UInt64(decoder.config.vocabSize)
        return (0..<n).map { _ in Int(rng.next() % vocab) }
    }

    /// One repetition with the decoder's stage hook timing every op: (prefill op times, decode op times).
    func profiled(prompt n: Int, gen: Int, depth: Int) throws -> (OpTimes, OpTimes) {
        let clock = OpClock()
        clock.layers = decoder.config.numHiddenLayers
        let hook: CaptureHook = { name, _, _ in clock.lap(name) }
        defer { decoder.capture = nil }
        decoder.reset()
        let tokens = randomTokens(n)
        decoder.capture = hook
        clock.start()
        let logits = try decoder.prefill(tokens: tokens, logits: .last)
        clock.lap("")
        let prefill = clock.times
        decoder.capture = nil  // the decode test's cache is set up untimed
        var token = try decodeStart(depth: depth, after: n, logits: logits)
        decoder.capture = hook
        clock.times = OpTimes()
        for _ in 0..<gen {
            clock.start()
            token = argmax(try decoder.decodeStep(token: token))
            clock.lap("")
        }
        return (prefill, clock.times)
    }

    private func argmax(_ logits: Tensor) -> Int {
        var best = 0
        var v = -Float.infinity
        for i in 0..<logits.count where logits.data[i] > v { v = logits.data[i]; best = i }
        return best
    }
}

/// The read-only bound of a decode step: the decoder's weight reads in its order — per layer q/k/v (one parallel
/// operation), the attention (an empty operation over the KV heads, as the real one's work items), o_proj,
/// gate/up (one), down_proj; then lm_head — each through `Linear.readRows` (the same row split and chunking as
/// `Linear.forwardRow` / `forward`, a read kernel instead of the dot products) on the decoder's own pool.
final class ReadBound {
    let pool: ThreadPool
    /// Per decode step, in order: the Linears one parallel operation reads (empty: the attention's operation).
    let ops: [[Linear]]
    let kvHeads: Int
    /// Weight bytes one step reads (equals `weightBytesPerToken` for Llama/Qwen2/Qwen3 decoders).
    let bytes: Int
    private(set) var sink: UInt64 = 0

    init(file: ReelFile, decoder: Decoder) throws {
        pool = decoder.pool
        kvHeads = decoder.config.numKeyValueHeads
        func linear(_ name: String) throws -> Linear { try Linear(weight: file.weight(name + ".weight")) }
        var ops: [[Linear]] = []
        for i in 0..<decoder.config.numHiddenLayers {
            let l = "decoder.layers.\(i)"
            ops.append(try ["q_proj", "k_proj", "v_proj"].map { try linear("\(l).self_attn.\($0)") })
            ops.append([])
            ops.append([try linear("\(l).self_attn.o_proj")])
            ops.append(try ["gate_proj", "up_proj"].map { try linear("\(l).mlp.\($0)") })
            ops.append([try linear("\(l).mlp.down_proj")])
        }
        ops.append([try linear(file.tensorInfo("decoder.lm_head.weight") != nil ? "decoder.lm_head" : "decoder.embed_tokens")])
        self.ops = ops
        bytes = ops.joined().reduce(0) { $0 + $1.weight.data.count }
    }

    /// `steps` plain reads of the same weight bytes: one parallel operation per step over all of them end to end (each
    /// thread one share of the concatenated tensors, read as one stream), so no operation edges, dispatches per op or
    /// attention — the memory's read rate for these bytes at this moment. Steps per second.
    @discardableResult
    func plainRead(steps: Int) -> Double {
        let regions = ops.joined().map { (UnsafeRawPointer($0.weight.data.baseAddress!), $0.weight.data.count) }
        let unit = 1 << 16, units = (bytes + unit - 1) / unit
        let slots = pool.sharedScratch(bytes: 64 * pool.threadCount)  // one cache line per thread
        let t = ProgressBar.now()
        for _ in 0..<steps {
            pool.parallelFor(units) { r, thread in
                var x: UInt64 = 0, at = 0
                let lo = r.lowerBound * unit, hi = min(bytes, r.upperBound * unit)
                for (p, n) in regions {
                    let a = max(lo, at), b = min(hi, at + n)
                    if a < b { x ^= Kernels.readXor(p + (a - at), count: b - a) }
                    at += n
                    if at >= hi { break }
                }
                let slot = slots + 64 * thread
                slot.storeBytes(of: slot.load(as: UInt64.self) ^ x, as: UInt64.self)
            }
        }
        let rate = Double(steps) / (ProgressBar.now() - t)
        for th in 0..<pool.threadCount { sink ^= slots.load(fromByteOffset: 64 * th, as: UInt64.self) }
        return rate
    }

    /// `steps` read-only decode steps; steps per second.
    @discardableResult
    func run(steps: Int) -> Double {
        let t = ProgressBar.now()
        for _ in 0..<steps { for op in ops { read(op) } }
        return Double(steps) / (ProgressBar.now() - t)
    }

    /// `steps` read-only decode steps timed per operation, charged to the profile's op kinds (`OpTimes.kind` of
    /// the first Linear's name): seconds per kind, summed over the steps.
    func profiled(steps: Int) -> [String: Double] {
        let kinds = ops.map { op -> String in
            guard let name = op.first?.weight.name else { return "attention (+ cache store)" }
            if !name.hasPrefix("decoder.layers.") { return "lm_head" }
            if name.hasSuffix("gate_proj.weight") { return "gate_proj + up_proj + silu·mul" }  // the profile charges gate/up to silu·mul's hook
            return OpTimes.kind(String(name.dropLast(".weight".count)))
        }
        var seconds: [String: Double] = [:]
        for _ in 0..<steps {
            for (op, kind) in zip(ops, kinds) {
                let t = ProgressBar.now()
                read(op)
                seconds[kind, default: 0] += ProgressBar.now() - t
            }
        }
        return seconds
    }

    @inline(__always) private func read(_ op: [Linear]) {
        if op.isEmpty {
            pool.parallelFor(kvHeads) { _, _ in }
        } else {
            sink ^= Linear.readRows(op, pool: pool)
        }
    }
}

/// Times a model's frame features on random frames through the path `reel run --video` takes: a LLaVA model's
/// `LlavaModel.videoFeatures` (tower → projector → pooling, 2 frames per batch, VisionLanguageModel's default) or a
/// Reel AV model's `ReelAVModel.visionFeatures` (tower → projector → pooling).
final class VisionBench {
    let encode: ([Float], Int) throws -> Void
    /// The tower (for `--profile`'s stage hook) and the frames it encodes per batch.
    let tower: VisionTower
    let pixelsPerFrame: Int
    let pixels: [Float]  // f32 [frames, 3, S, S], uniform in [−1, 1) (a normalised frame's range)

    /// nil when the file has no vision tower to time.
    init?(file: ReelFile, path: String, decoder: Decoder, threads: Int, frames: Int, seed: UInt64) throws {
        if LlavaFamily(rawValue: file.architecture) != nil {
            let llava = try LlavaModel(file: file, decoder: decoder, maxImages: 2)
            encode = { px, n in _ = try llava.videoFeatures(pixels: px, frames: n) }
            pixelsPerFrame = llava.vision.pixelsPerImage
            tower = llava.vision
        } else if file.architecture == ReelAVFamily.name {
            let av = try ReelAVModel(path: path, options: DecoderOptions(threads: threads), maxImages: 2)
            encode = { px, n in _ = try av.visionFeatures(pixels: px, frames: n) }
            pixelsPerFrame = av.vision.pixelsPerImage
            tower = av.vision
        } else {
            return nil
        }
        pixels = Self.randomPixels(frames * pixelsPerFrame, seed: seed)
    }

    /// A file that is a vision tower alone: every layer of it, per batch of 2 frames.
    init(tower file: ReelFile, threads: Int, frames: Int, seed: UInt64) throws {
        let t = try VisionTower(file: file, maxImages: 2, pool: ThreadPool(threads: threads))
        let last = t.config.numHiddenLayers
        encode = { px, n in try px.withUnsafeBufferPointer { try t.forward(pixels: $0.baseAddress!, images: n, hiddenStates: [last]) { _, _, _ in } } }
        pixelsPerFrame = t.pixelsPerImage
        tower = t
        pixels = Self.randomPixels(frames * pixelsPerFrame, seed: seed)
    }

    /// Uniform in [−1, 1) (a normalised frame's range), seeded.
    static func randomPixels(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed ^ 0x5EED)
        return (0..<count).map { _ in Float(rng.next() >> 40) / Float(1 << 23) - 1 }
    }

    /// Encodes the first `frames` frames; frames/s.
    @discardableResult
    func repetition(frames: Int) throws -> Double {
        let px = Array(pixels.prefix(frames * pixelsPerFrame))
        let t = ProgressBar.now()
        try encode(px, frames)
        return Double(frames) / (ProgressBar.now() - t)
    }
}

/// Seconds per op kind, summed.
struct OpTimes {
    /// Op kinds in forward order. The hook fires after a stage; the time since the previous hook is charged to it.
    static let order = ["embed", "input_layernorm", "qkv_proj", "qk_norm", "rope", "attention (+ cache store)", "o_proj",
                        "residual + post_attention_layernorm", "gate_proj + up_proj + silu·mul", "down_proj",
                        "residual add", "final norm", "lm_head", "other"]
    var seconds: [String: Double] = [:]
    var total: Double { seconds.values.reduce(0, +) }

    mutating func add(_ stage: String, _ s: Double) { seconds[Self.kind(stage), default: 0] += s }
    mutating func merge(_ o: OpTimes) { for (k, v) in o.seconds { seconds[k, default: 0] += v } }

    /// "layers.3.self_attn.q_proj" → "qkv_proj", …
    static func kind(_ stage: String) -> String {
        if stage == "hidden_states.0" { return "embed" }
        if stage.hasPrefix("hidden_states.") { return "residual add" }
        if stage == "logits" { return "lm_head" }
        if stage.hasSuffix("input_layernorm") { return "input_layernorm" }
        if stage.hasSuffix("q_proj") || stage.hasSuffix("k_proj") || stage.hasSuffix("v_proj") { return "qkv_proj" }
        if stage.hasSuffix("q_norm") || stage.hasSuffix("k_norm") { return "qk_norm" }
        if stage.hasSuffix("rope") { return "rope" }
        if stage.hasSuffix("self_attn.attn") { return "attention (+ cache store)" }
        if stage.hasSuffix("o_proj") { return "o_proj" }
        if stage.hasSuffix("post_attention_layernorm") { return "residual + post_attention_layernorm" }
        if stage.hasSuffix("mlp.act") { return "gate_proj + up_proj + silu·mul" }
        if stage.hasSuffix("mlp.down_proj") { return "down_proj" }
        return "other"
    }
}

/// Charges the time between stage hooks to the stage that just finished.
final class OpClock {
    var times = OpTimes()
    private var last = 0.0
    func start() { last = ProgressBar.now() }
    func lap(_ stage: String) {
        let now = ProgressBar.now()
        // hidden_states.{L} comes after the final norm; hidden_states.{i < L} at each layer's start (after the
        // previous layer's residual add); "" marks the end of a call (lm_head's copy-out, sampling excluded).
        let name = stage == "hidden_states.\(layers)" ? "final norm" : (stage.isEmpty ? "other" : OpTimes.kind(stage))
        times.seconds[name, default: 0] += now - last
        last = now
    }
    /// Decoder layers (names the final norm's stage).
    var layers = Int.max
}

/// Weight bytes per op kind (all layers) for the profile's GB/s column.
func opWeightBytes(_ file: ReelFile) -> [String: Int] {
    var b: [String: Int] = [:]
    for t in file.tensors where t.name.hasPrefix("decoder.layers.") && t.shape.count == 2 {
        let kind: String
        if t.name.hasSuffix("q_proj.weight") || t.name.hasSuffix("k_proj.weight") || t.name.hasSuffix("v_proj.weight") { kind = "qkv_proj" }
        else if t.name.hasSuffix("o_proj.weight") { kind = "o_proj" }
        else if t.name.hasSuffix("gate_proj.weight") || t.name.hasSuffix("up_proj.weight") { kind = "gate_proj + up_proj + silu·mul" }
        else if t.name.hasSuffix("down_proj.weight") { kind = "down_proj" }
        else { continue }
        b[kind, default: 0] += t.length
    }
    b["lm_head"] = (file.tensorInfo("decoder.lm_head.weight") ?? file.tensorInfo("decoder.embed_tokens.weight"))?.length
    return b
}

/// Median and range of a sample.
struct Stats {
    let median: Double, min: Double, max: Double
    init(_ xs: [Double]) {
        let s = xs.sorted()
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        min = s.first ?? 0
        max = s.last ?? 0
    }
}

/// Small seeded generator (the random prompt must be reproducible across runs and machines).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Bytes a decode step streams from the weights: every 2-D decoder tensor used as a Linear (the layers'
/// projections) plus lm_head (embed_tokens when tied). The embedding lookup reads one row and is left out.
func weightBytesPerToken(_ file: ReelFile) -> Int {
    var bytes = 0
    var hasHead = false
    for t in file.tensors where t.name.hasPrefix("decoder.") && t.shape.count == 2 {
        if t.name.hasPrefix("decoder.layers.") { bytes += t.length }
        if t.name == "decoder.lm_head.weight" { bytes += t.length; hasHead = true }
    }
    if !hasHead, let e = file.tensorInfo("decoder.embed_tokens.weight") { bytes += e.length }
    return bytes
}

/// Peak resident set of this process in bytes (Linux: /proc/self/status VmHWM; else getrusage).
func peakRSSBytes() -> Int {
    #if os(Linux)
    if let f = fopen("/proc/self/status", "r") {
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("VmHWM:") {
                let kb = s.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
                return kb * 1024
            }
        }
    }
    #endif
    var u = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Int(u.ru_maxrss) * 1024  // kilobytes on Linux
    #else
    getrusage(RUSAGE_SELF, &u)
    return Int(u.ru_maxrss)         // bytes on macOS
    #endif
}

/// Prints rows as a markdown table (llama-bench's look).
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { i, c in i == 0 ? pad(c, widths[i]) : rpad(c, widths[i]) }.joined(separator: " | ") + " |"
    }
    print(line(header))
    print("| " + widths.enumerated().map { i, w in String(repeating: "-", count: w - 1) + (i == 0 ? "-" : ":") }.joined(separator: " | ") + " |")
    for r in rows { print(line(r)) }
}
