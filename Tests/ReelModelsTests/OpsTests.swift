import Foundation
import ReelCore
import ReelQuant
import ReelRuntime
import Synchronization
import XCTest

/// Ops against transformers' numbers (Fixtures/ops.safetensors, made by tools/make_decoder_fixtures.py).
final class OpsTests: XCTestCase {
    /// RMSNorm, softmax, RoPE and attention in f32: relative to the reference's range.
    static let f32OpTolerance = 1e-6
    /// RoPE inverse frequencies (f32 pow vs torch's pow: a few ulp).
    static let invFreqTolerance = 1e-6
    /// Attention read back from an f16 KV cache.
    static let f16CacheTolerance = 2e-3
    /// Linear over q8/q4/q4f with q8-quantised activations (the kernel path), against f32 activations times the
    /// dequantised weight: relative to the output range.
    static let q8ActivationTolerance = 1e-2

    var ops: SafetensorsFixture!
    let pool = ThreadPool(threads: 2)

    override func setUpWithError() throws {
        ops = try SafetensorsFixture(try Fixtures.root.appendingPathComponent("ops.safetensors"))
    }

    func testRMSNorm() throws {
        let x = try ops.floats("rmsnorm.x"), w = try ops.floats("rmsnorm.weight")
        var y = [Float](repeating: 0, count: x.count)
        Ops.rmsNorm(x, rows: 3, dim: 40, weight: w, eps: 1e-5, into: &y)
        try assertClose("rmsnorm", y, try ops.floats("rmsnorm.y"), relative: Self.f32OpTolerance)
    }

    /// The pooled SwiGLU product is the single-threaded one, element for element (same arithmetic per element).
    func testSiluMulOnThePoolIsIdentical() {
        var rng = Xoshiro256(seed: 11)
        let n = Ops.siluMulParallelMin + 4097
        let gate = (0..<n).map { _ in Float(rng.nextDouble() * 16 - 8) }, up = (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) }
        var one = gate, pooled = gate
        Ops.siluMul(&one, up, count: n)
        Ops.siluMul(&pooled, up, count: n, pool: pool)
        XCTAssertEqual(one.map(\.bitPattern), pooled.map(\.bitPattern))
        XCTAssertEqual(one[1], gate[1] / (1 + expf(-gate[1])) * up[1])
    }

    func testSoftmax() throws {
        var x = try ops.floats("softmax.x")
        x.withUnsafeMutableBufferPointer { b in for r in 0..<5 { Ops.softmax(b.baseAddress! + r * 33, count: 33) } }
        try assertClose("softmax", x, try ops.floats("softmax.y"), relative: Self.f32OpTolerance)
    }

    func testRopeInverseFrequencies() throws {
        let cases: [(String, RopeScaling)] = [
            ("default", .none),
            ("linear", .linear(factor: 4)),
            ("dynamic", .dynamic(factor: 2, maxPositions: 32)),
            ("llama3", .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16)),
            ("yarn", .yarn(factor: 4, originalMaxPositions: 16)),
            ("yarn_mscale", .yarn(factor: 8, originalMaxPositions: 8, betaFast: 16, betaSlow: 2, mscale: 1, mscaleAllDim: 0.5)),
        ]
        for (name, scaling) in cases {
            let theta = name == "llama3" ? 5e5 : 10000
            let rope = try RotaryEmbedding(headDim: 16, theta: theta, scaling: scaling)
            try assertClose("inv_freq \(name)", rope.invFreq, try ops.floats("rope.\(name).inv_freq"),
                            relative: Self.invFreqTolerance)
            XCTAssertEqual(rope.attentionScaling, try ops.floats("rope.\(name).attention_factor")[0], accuracy: 1e-6, name)
        }
        // dynamic NTK grows with the sequence and resets below the original length
        let rope = try RotaryEmbedding(headDim: 16, theta: 10000, scaling: .dynamic(factor: 2, maxPositions: 32))
        rope.update(maxPosition: 99)
        try assertClose("inv_freq dynamic@100", rope.invFreq, try ops.floats("rope.dynamic.inv_freq.100"),
                        relative: Self.invFreqTolerance)
        rope.update(maxPosition: 19)
        try assertClose("inv_freq dynamic@20", rope.invFreq, try ops.floats("rope.dynamic.inv_freq.20"),
                        relative: Self.invFreqTolerance)
    }

    func testRopeApplyLlama3() throws {
        let rope = try RotaryEmbedding(headDim: 16, theta: 5e5,
                                       scaling: .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16))
        var q = try ops.floats("rope.q"), k = try ops.floats("rope.k")  // [7, 2, 16], [7, 1, 16]
        let pos = try ops.ints("rope.positions")
        rope.apply(q: &q, qHeads: 2, k: &k, kHeads: 1, rows: 7, positions: pos)
        try assertClose("rope q", q, try ops.floats("rope.q_out"), relative: Self.f32OpTolerance)
        try assertClose("rope k", k, try ops.floats("rope.k_out"), relative: Self.f32OpTolerance)
    }

    /// The per-position cos/sin table: a second pass at the same positions (the next layer) rotates exactly as
    /// the first, and after dynamic NTK changes the frequencies a cached position is recomputed — it rotates as a
    /// rope that never saw it. Positions outside the table (negative, ≥ 65536) take the uncached path.
    func testRopeCosSinCacheFollowsFrequencies() throws {
        let x = try ops.floats("rope.q")  // [7, 2, 16]
        let pos = [0, 5, 31, 70_000, -3, 5, 99]
        func rotated(_ rope: RotaryEmbedding) -> [Float] {
            var y = x
            rope.apply(&y, rows: 7, heads: 2, positions: pos)
            return y
        }
        let cached = try RotaryEmbedding(headDim: 16, theta: 10000, scaling: .dynamic(factor: 2, maxPositions: 32))
        cached.update(maxPosition: 31)
        let first = rotated(cached)
        XCTAssertEqual(rotated(cached), first, "a second pass at the same positions")
        cached.update(maxPosition: 99)  // NTK: new frequencies
        let fresh = try RotaryEmbedding(headDim: 16, theta: 10000, scaling: .dynamic(factor: 2, maxPositions: 32))
        fresh.update(maxPosition: 99)
        XCTAssertEqual(cached.invFreq, fresh.invFreq)
        let after = rotated(cached)
        XCTAssertEqual(after, rotated(fresh), "cached positions recomputed after the frequencies changed")
        XCTAssertNotEqual(after[32..<64], first[32..<64], "position 5 rotates differently under the new frequencies")
    }

    func testRopeApplyYarn() throws {
        let rope = try RotaryEmbedding(headDim: 16, theta: 10000, scaling: .yarn(factor: 4, originalMaxPositions: 16))
        var q = try ops.floats("rope.q"), k = try ops.floats("rope.k")
        rope.apply(q: &q, qHeads: 2, k: &k, kHeads: 1, rows: 7, positions: try ops.ints("rope.positions"))
        try assertClose("rope yarn q", q, try ops.floats("rope.yarn.q_out"), relative: Self.f32OpTolerance)
    }

    func testRopeRejectsUnknownSetup() {
        XCTAssertThrowsError(try RotaryEmbedding(headDim: 15, theta: 1e4)) { e in
            guard case RuntimeError.invalidArgument = e else { return XCTFail("\(e)") }
        }
    }

    /// GQA causal attention through the KV cache, whole-sequence and token by token, f32 and f16 storage.
    func testCausalGQAAttention() throws {
        let S = 6, nH = 4, nKV = 2, hd = 8
        let q = try ops.floats("attn.q"), k = try ops.floats("attn.k"), v = try ops.floats("attn.v")
        let ref = try ops.floats("attn.out")
        for storage in [KVCacheStorage.f32, .f16] {
            let bound = storage == .f32 ? Self.f32OpTolerance : Self.f16CacheTolerance
            // all rows at once
            let cache = try KVCache(layers: 1, kvHeads: nKV, headDim: hd, capacity: S, storage: storage)
            cache.store(layer: 0, start: 0, rows: S, k: k, v: v)
            var out = [Float](repeating: 0, count: S * nH * hd)
            cache.attention(layer: 0, q: q, rows: S, start: 0, heads: nH, scale: 1 / Float(hd).squareRoot(), into: &out, pool: pool)
            try assertClose("attention \(storage) prefill", out, ref, relative: bound)
            // one row at a time (decode)
            cache.reset()
            var stepOut = [Float](repeating: 0, count: S * nH * hd)
            for t in 0..<S {
                let kvRow = nKV * hd, qRow = nH * hd
                cache.store(layer: 0, start: t, rows: 1, k: Array(k[(t * kvRow)..<((t + 1) * kvRow)]),
                            v: Array(v[(t * kvRow)..<((t + 1) * kvRow)]))
                try cache.advance(1)
                var o = [Float](repeating: 0, count: qRow)
                cache.attention(layer: 0, q: Array(q[(t * qRow)..<((t + 1) * qRow)]), rows: 1, start: t, heads: nH,
                                scale: 1 / Float(hd).squareRoot(), into: &o, pool: pool)
                stepOut.replaceSubrange((t * qRow)..<((t + 1) * qRow), with: o)
            }
            try assertClose("attention \(storage) decode", stepOut, ref, relative: bound)
            XCTAssertThrowsError(try cache.advance(1)) { e in
                XCTAssertEqual(e as? RuntimeError, .contextExceeded(used: S, requested: 1, capacity: S))
            }
        }
    }

    /// A Linear [out, k] with bias from f32 weights stored `as` an encoding, and its weights dequantised back.
    static func linear(_ w: [Float], bias: [Float], out: Int, k: Int, as enc: Encoding) throws -> (Linear, [Float]) {
        let weights = InMemoryWeights()
        try weights.add("w", encoding: enc, shape: [out, k], bytes: try TestEncoder.encode(w, rowLength: k, as: enc))
        try weights.add("b", shape: [out], floats: bias)
        return (try Linear(weight: try weights.weight("w"), bias: try weights.weight("b")), try weights.weight("w").toFloat())
    }

    /// x [n, k] · wᵀ + bias in Double, rounded to Float: the reference for Linear over dequantised weights w [out, k].
    static func matmul(_ x: [Float], rows n: Int, _ w: [Float], bias: [Float], out: Int, k: Int) -> [Float] {
        (0..<(n * out)).map { e in
            let i = e / out, r = e % out
            var s = Double(bias[r])
            for j in 0..<k { s += Double(x[i * k + j]) * Double(w[r * k + j]) }
            return Float(s)
        }
    }

    /// Linear over every encoding equals dequantise-then-matmul (in Double), for 1 and several rows, odd sizes,
    /// with bias, on 2 threads.
    func testLinearAllEncodings() throws {
        let randn = Self.uniform(seed: 7)
        let out = 70, k = 100
        let w = randn(out * k), bias = randn(out)
        for enc in Encoding.allCases {
            let (lin, deq) = try Self.linear(w, bias: bias, out: out, k: k, as: enc)
            for (n, path) in [(1, Linear.PrefillPath.kernel), (5, .kernel), (5, .dequantizeTile), (5, .integerGemm),
                              (13, .auto)] {
                lin.prefillPath = path
                let x = randn(n * k)
                var y = [Float](repeating: 0, count: n * out)
                lin.forward(x, rows: n, into: &y, pool: pool)
                let ref = Self.matmul(x, rows: n, deq, bias: bias, out: out, k: k)
                let usesQ8Activations = enc.isQuantized && (n == 1 || path != .dequantizeTile)
                try assertClose("linear \(enc) n=\(n) \(path)", y, ref,
                                relative: usesQ8Activations ? Self.q8ActivationTolerance : Self.f32OpTolerance)
            }
        }
    }

    /// Activation scales per 128 (encoder towers' `activationScale`): the integer GEMM's result equals dequantise-then-
    /// matmul (in Double) within the q8 activation bound, over rows of 3 spans (the last partial) on 2 threads; it is
    /// not the per-32 result (the mode reaches the kernel); and `forward(_:rows:sharedBy:)` over per-128 layers, or a
    /// mix of per-128 and per-32 layers (each then on its own), writes what each layer's `forward` writes.
    func testLinearActivationScalesPer128() throws {
        let randn = Self.uniform(seed: 14)
        let out = 70, k = 300
        let w = randn(out * k), bias = randn(out)
        for enc in [Encoding.q8, .q4, .q4f] {
            let (lin, deq) = try Self.linear(w, bias: bias, out: out, k: k, as: enc)
            for n in [2, 37] {
                let x = randn(n * k)
                let ref = Self.matmul(x, rows: n, deq, bias: bias, out: out, k: k)
                var per32 = [Float](repeating: 0, count: n * out), per128 = per32
                lin.activationScale = .per32
                lin.forward(x, rows: n, into: &per32, pool: pool)
                lin.activationScale = .per128
                lin.forward(x, rows: n, into: &per128, pool: pool)
                try assertClose("linear \(enc) n=\(n) per128", per128, ref, relative: Self.q8ActivationTolerance)
                XCTAssertNotEqual(per128, per32, "\(enc) n=\(n): per-128 activation scales gave the per-32 result")
            }
        }
        let pool4 = ThreadPool(threads: 4)
        for modes in [[Linear.ActivationScale.per128, .per128, .per128], [.per128, .per32, .per128]] {
            let layers = try threeLayers([.q8, .q8, .q8], outs: [40, 24, 17], k: k, randn)
            for (l, mode) in zip(layers, modes) { l.activationScale = mode }
            let n = 37, x = randn(n * k)
            let want = layers.map { l -> [Float] in
                var y = [Float](repeating: 0, count: n * l.outFeatures)
                l.forward(x, rows: n, into: &y, pool: pool4)
                return y
            }
            var a = [Float](repeating: -7, count: n * 40), b = [Float](repeating: -7, count: n * 24)
            var c = [Float](repeating: -7, count: n * 17)
            a.withUnsafeMutableBufferPointer { y0 in b.withUnsafeMutableBufferPointer { y1 in
                c.withUnsafeMutableBufferPointer { y2 in
                    Linear.forward(x, rows: n, sharedBy: [(layers[0], y0.baseAddress!), (layers[1], y1.baseAddress!),
                                                          (layers[2], y2.baseAddress!)], pool: pool4)
                }
            } }
            XCTAssertEqual([a, b, c], want, "shared input, activation scales \(modes)")
        }
    }

    /// `forward(…, activation:)` (the vision towers' fc1 + gelu in one pass) writes exactly what `forward` then
    /// `Activation.apply` over all of y writes, for every encoding and path, 1 and many rows (the wide f32 chunks).
    func testFusedActivationEqualsSeparatePass() throws {
        let randn = Self.uniform(seed: 13, halfWidth: 2)
        let out = 70, k = 64
        let w = randn(out * k), bias = randn(out)
        for enc in Encoding.allCases {
            let (lin, _) = try Self.linear(w, bias: bias, out: out, k: k, as: enc)
            for (n, path) in [(1, Linear.PrefillPath.auto), (5, .kernel), (5, .integerGemm), (Linear.wideTileMinRows + 3, .auto)] {
                lin.prefillPath = path
                let x = randn(n * k)
                for act in [Activation.geluTanh, .geluErf, .quickGelu] {
                    var want = [Float](repeating: 0, count: n * out)
                    lin.forward(x, rows: n, into: &want, pool: pool)
                    act.apply(&want, count: n * out)
                    var got = [Float](repeating: .nan, count: n * out)
                    lin.forward(x, rows: n, into: &got, pool: pool, activation: act)
                    XCTAssertEqual(got, want, "\(enc) n=\(n) \(path) \(act)")
                }
            }
        }
    }

    /// A stream of uniform floats in [−halfWidth, halfWidth) from a seeded generator; each call continues it.
    static func uniform(seed: UInt64, halfWidth: Float = 1) -> (Int) -> [Float] {
        var rng = Xoshiro256(seed: seed)
        return { n in (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * halfWidth } }
    }

    /// Three Linears [out_i, k] of encodings `encs`, random weights, biases on the first and third.
    private func threeLayers(_ encs: [Encoding], outs: [Int], k: Int, _ randn: (Int) -> [Float]) throws -> [Linear] {
        let weights = InMemoryWeights()
        return try outs.enumerated().map { i, out in
            try weights.add("w\(i)", encoding: encs[i], shape: [out, k], bytes: try TestEncoder.encode(randn(out * k), rowLength: k, as: encs[i]))
            try weights.add("b\(i)", shape: [out], floats: randn(out))
            return try Linear(weight: try weights.weight("w\(i)"), bias: i == 1 ? nil : try weights.weight("b\(i)"))
        }
    }

    /// `Linear.forwardRow` (decode's fused q/k/v and gate/up) writes exactly what each layer's one-row `forward`
    /// writes, for every encoding, mixed encodings, biases, and output sizes that split the 16-row chunks.
    func testForwardRowMatchesEachLayer() throws {
        let randn = Self.uniform(seed: 11)
        let k = 100, outs = [40, 24, 17]
        let pool4 = ThreadPool(threads: 4)
        for e in Encoding.allCases.indices {
            let encs = (0..<3).map { Encoding.allCases[(e + $0) % Encoding.allCases.count] }  // mixed: enc, next, next
            let layers = try threeLayers(encs, outs: outs, k: k, randn)
            let x = randn(k)
            let want = layers.map { l -> [Float] in
                var y = [Float](repeating: 0, count: l.outFeatures)
                l.forward(x, rows: 1, into: &y, pool: pool4)
                return y
            }
            var y0 = [Float](repeating: -7, count: outs[0]), y1 = [Float](repeating: -7, count: outs[1])
            var y2 = [Float](repeating: -7, count: outs[2])
            Linear.forwardRow(x, layers[0], into: &y0, layers[1], into: &y1, layers[2], into: &y2, pool: pool4)
            XCTAssertEqual([y0, y1, y2], want, "three layers \(encs)")
            var z0 = [Float](repeating: -7, count: outs[0]), z1 = [Float](repeating: -7, count: outs[1])
            Linear.forwardRow(x, layers[0], into: &z0, layers[1], into: &z1, pool: pool4)
            XCTAssertEqual([z0, z1], Array(want[0..<2]), "two layers \(encs)")
        }
    }

    /// `Linear.forward(_:rows:sharedBy:)` (an encoder's q/k/v reading one input): each output bit-identical to its
    /// layer's own `forward`, when the layers share one quantisation (all q8, or all q4: the integer GEMM) and when
    /// they cannot (mixed encodings, f32, one row: each layer on its own).
    func testSharedInputForwardMatchesEachLayer() throws {
        let randn = Self.uniform(seed: 12)
        let k = 100, outs = [40, 24, 17]
        let pool4 = ThreadPool(threads: 4)
        let sets: [[Encoding]] = [[.q8, .q8, .q8], [.q4, .q4, .q4], [.q8, .q4, .f32], [.f32, .f32, .f32], [.f16, .bf16, .q4f]]
        for encs in sets {
            let layers = try threeLayers(encs, outs: outs, k: k, randn)
            for n in [1, 3, 37] {
                let x = randn(n * k)
                let want = layers.map { l -> [Float] in
                    var y = [Float](repeating: 0, count: n * l.outFeatures)
                    l.forward(x, rows: n, into: &y, pool: pool4)
                    return y
                }
                var a = [Float](repeating: -7, count: n * outs[0]), b = [Float](repeating: -7, count: n * outs[1])
                var c = [Float](repeating: -7, count: n * outs[2])
                a.withUnsafeMutableBufferPointer { y0 in b.withUnsafeMutableBufferPointer { y1 in
                    c.withUnsafeMutableBufferPointer { y2 in
                        Linear.forward(x, rows: n, sharedBy: [(layers[0], y0.baseAddress!), (layers[1], y1.baseAddress!),
                                                              (layers[2], y2.baseAddress!)], pool: pool4)
                    }
                } }
                XCTAssertEqual([a, b, c], want, "\(encs) rows \(n)")
            }
        }
    }

    func testEmbeddingLookupAndErrors() throws {
        let weights = InMemoryWeights()
        let table: [Float] = (0..<(10 * 33)).map { Float($0) / 100 }
        try weights.add("e", encoding: .q8, shape: [10, 33], bytes: try TestEncoder.encode(table, rowLength: 33, as: .q8))
        let emb = try Embedding(weight: try weights.weight("e"))
        var row = [Float](repeating: 0, count: 33)
        try emb.lookup(3, into: &row)
        // q8 is within one step of d = max|w|/127 per block of 32 (the quantiser may clip to lower the squared error)
        let r = try ParityReport(name: "embedding q8", reference: Array(table[99..<132]), actual: row)
        XCTAssertLessThanOrEqual(r.maxAbs, 1.31 / 127, "\(r)")
        XCTAssertThrowsError(try emb.lookup(10, into: &row)) { e in
            XCTAssertEqual(e as? RuntimeError, .tokenOutOfRange(token: 10, vocabSize: 10))
        }
        XCTAssertThrowsError(try weights.add("bad", encoding: .q4, shape: [2, 33], bytes: [1, 2, 3])) { e in
            XCTAssertEqual(e as? RuntimeError, .byteCountMismatch(name: "bad", expected: 72, actual: 3))
        }
    }

    func testThreadPoolCoversRangeOnce() {
        let p = ThreadPool(threads: 3)
        for count in [1, 2, 7, 64, 1001] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                p.parallelFor(count, granularity: 4) { range, _ in for i in range { h[i] += 1 } }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: count), "count \(count)")
        }
        // The schedule: pieces start on granularity multiples and tile the range. Each thread reads its own share
        // (units·t/threads ..< units·(t+1)/threads) front to back, and others take from its back: within every share,
        // the owner's pieces are one run from the share's start in address order, and the pieces others took are one
        // run to its end, taken back to front.
        let p16 = ThreadPool(threads: 16)
        for (pool, count, g) in [(p, 1152, 16), (p, 9728, 16), (p, 100_000, 1), (p, 2, 1), (p16, 100_000, 1), (p16, 37, 4)] {
            var taken: [(range: Range<Int>, thread: Int)] = []  // in the order taken, per thread
            let lock = NSLock()
            pool.parallelFor(count, granularity: g) { r, t in lock.lock(); taken.append((r, t)); lock.unlock() }
            let ranges = taken.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, count)
            for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound, "count \(count)") }
            XCTAssertTrue(ranges.allSatisfy { $0.lowerBound % g == 0 }, "count \(count)")
            let units = (count + g - 1) / g, n = pool.threadCount
            for share in 0..<n {
                let lo = min(count, units * share / n * g), hi = min(count, units * (share + 1) / n * g)
                let inShare = taken.filter { $0.range.lowerBound >= lo && $0.range.upperBound <= hi }
                XCTAssertEqual(inShare.reduce(0) { $0 + $1.range.count }, hi - lo, "share \(share) of \(count): pieces cross it")
                let own = inShare.filter { $0.thread == share }.map(\.range), others = inShare.filter { $0.thread != share }.map(\.range)
                var at = lo
                for r in own { XCTAssertEqual(r.lowerBound, at, "share \(share) of \(count): owner out of order"); at = r.upperBound }
                var end = hi
                for t in 0..<n where t != share {
                    let stolen = inShare.filter { $0.thread == t }.map(\.range.lowerBound)
                    XCTAssertEqual(stolen, stolen.sorted(by: >), "share \(share) of \(count): steals not back to front")
                }
                for r in others.sorted(by: { $0.lowerBound > $1.lowerBound }) {
                    XCTAssertEqual(r.upperBound, end, "share \(share) of \(count): stolen pieces leave a gap"); end = r.lowerBound
                }
                XCTAssertEqual(at, end, "share \(share) of \(count)")
            }
        }
        // A thread held up inside its first piece does not hold up its share: the caller takes the rest of it.
        let p2 = ThreadPool(threads: 2)
        for _ in 0..<20 {
            let count = 4096
            let done = Atomic<Int>(0), workerPieces = Atomic<Int>(0)
            p2.parallelFor(count, granularity: 16) { r, t in
                if t != 0 && workerPieces.add(1, ordering: .relaxed).newValue == 1 {
                    // wait (at most 10 s) until every other unit is done
                    let start = Date()
                    while done.load(ordering: .acquiring) + r.count < count && Date().timeIntervalSince(start) < 10 { sched_yield() }
                }
                done.add(r.count, ordering: .releasing)
            }
            XCTAssertEqual(done.load(ordering: .relaxed), count)
            XCTAssertLessThanOrEqual(workerPieces.load(ordering: .relaxed), 1, "the caller left units to the held-up worker")
        }
        // many small operations back to back (the per-token pattern)
        var total = 0
        let lock = NSLock()
        for _ in 0..<2000 { p.run { _ in lock.lock(); total += 1; lock.unlock() } }
        XCTAssertEqual(total, 6000)
    }

    /// Non-finite logits never crash the sampler (a repetition penalty of 1e-38 divides positive logits into +∞; a
    /// broken model gives NaN): NaN is never drawn while a number is left, +∞ logits share the draw, and with every
    /// logit NaN the pick is itself NaN, which `generate` reports as an error.
    func testSamplerHandlesNonFiniteLogits() {
        let nan = Float.nan, inf = Float.infinity
        for config in [SamplerConfig(topK: 5, seed: 1), SamplerConfig(topP: 0.5, seed: 1), SamplerConfig(minP: 0.1, seed: 1),
                       SamplerConfig(topK: 2, topP: 0.9, minP: 0.2, seed: 1), .greedy] {
            var s = Sampler(config)
            XCTAssertEqual(Set((0..<50).map { _ in s.sample([nan, 1, nan, 3, 2]) }).subtracting([1, 3, 4]), [], "\(config)")
            var t = Sampler(config)
            let draws = Set((0..<100).map { _ in t.sample([1, inf, 2, inf, nan]) })
            XCTAssertTrue(draws.isSubset(of: [1, 3]) && !draws.isEmpty, "\(config): \(draws)")
            var u = Sampler(config)
            let all = [nan, nan, nan]
            XCTAssertTrue(all[u.sample(all)].isNaN)
        }
        // The penalty that made +∞: 1e-38 on positive logits.
        var p = Sampler(SamplerConfig(topP: 0.5, repetitionPenalty: 1e-38, seed: 2))
        XCTAssertTrue([0, 1].contains(p.sample([3, 2, 1], history: [0, 1])))
        XCTAssertEqual(Ops.argmax([nan, 1, 5, nan], count: 4), 2)
        XCTAssertNil(SamplerConfig.rangeProblem(.topP, 1))
        XCTAssertNotNil(SamplerConfig.rangeProblem(.repetitionPenalty, 0))
        XCTAssertNotNil(SamplerConfig.rangeProblem(.topK, 2.5))
    }

    func testSamplerIsSeededAndFilters() {
        let logits: [Float] = [1, 3, 2, 0.5, 2.9, -1]
        var greedy = Sampler(.greedy)
        XCTAssertEqual(greedy.sample(logits), 1)
        // repetition penalty: 3/2 = 1.5 < 2.9, so token 4 wins greedily
        var penal = Sampler(SamplerConfig(temperature: 0, repetitionPenalty: 2))
        XCTAssertEqual(penal.sample(logits, history: [1]), 4)
        // top-k 2 keeps only tokens 1 and 4
        var a = Sampler(SamplerConfig(temperature: 1, topK: 2, seed: 42))
        let drawsA = (0..<200).map { _ in a.sample(logits) }
        XCTAssertEqual(Set(drawsA), [1, 4])
        var b = Sampler(SamplerConfig(temperature: 1, topK: 2, seed: 42))
        XCTAssertEqual((0..<200).map { _ in b.sample(logits) }, drawsA, "same seed, same draws")
        // top-p 0.5: token 1 alone has p≈0.40 < 0.5, so {1, 4}
        var c = Sampler(SamplerConfig(topP: 0.5, seed: 1))
        XCTAssertEqual(Set((0..<200).map { _ in c.sample(logits) }), [1, 4])
        // top-p sees the distribution top-k left, renormalised (HF masks to −inf between warpers): p(1) = 0.525 ≥ 0.5
        var e = Sampler(SamplerConfig(topK: 2, topP: 0.5, seed: 5))
        XCTAssertEqual(Set((0..<100).map { _ in e.sample(logits) }), [1])
        // min-p 0.5 keeps tokens with p ≥ 0.5·p_max: 1, 4 (p ratio e^-0.1) and 2 (e^-1 < 0.5: dropped)
        var d = Sampler(SamplerConfig(minP: 0.5, seed: 3))
        XCTAssertEqual(Set((0..<300).map { _ in d.sample(logits) }), [1, 4])
        // xoshiro256** seeded by splitmix64(0): values from an independent Python implementation
        var r = Xoshiro256(seed: 0)
        XCTAssertEqual([r.next(), r.next(), r.next()], [11091344671253066420, 13793997310169335082, 1900383378846508768])
    }

    func testParityReport() throws {
        let ref: [Float] = [0, 1, 2, 3, 3, 2, 1, 0]
        let same = try ParityReport(name: "same", reference: ref, actual: ref, rowLength: 4)
        XCTAssertEqual(same.maxAbs, 0)
        XCTAssertEqual(same.cosine, 1, accuracy: 1e-12)
        XCTAssertEqual(same.klDivergence, 0, accuracy: 1e-12)
        XCTAssertEqual(same.top1Agreement, 1)
        var act = ref
        act[5] = 4  // row 1's argmax moves from 4 to 5
        let r = try ParityReport(name: "moved", reference: ref, actual: act, rowLength: 4)
        XCTAssertEqual(r.maxAbs, 2)
        XCTAssertEqual(r.maxAbsPosition.row, 1)
        XCTAssertEqual(r.maxAbsPosition.column, 1)
        XCTAssertEqual(r.relative, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(r.top1Agreement, 0.5)
        XCTAssertGreaterThan(r.klDivergence, 0)
        XCTAssertThrowsError(try ParityReport(name: "x", reference: ref, actual: [1]))
    }
}
