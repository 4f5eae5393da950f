import ReelQuant

/// `y = x·Wᵀ + b` over a weight stored in any encoding, read in place from the mapping (one Linear for every
/// storage; never a second, converted copy of the model).
///
/// - f32: OpenBLAS on each thread's slice of output rows (sgemv for one row, sgemm for many).
/// - f16/bf16: one row → CKernels' gemv (f16/bf16 · f32 dot); several rows → `prefillPath` (default: dequantise
///   tiles into sgemm).
/// - q8/q4/q4f: the activation rows are quantised to q8 once per call (d = absmax/127 per block of 32, as
///   llama.cpp's Q8_0 activations), then one row → CKernels' gemv (integer dots, VNNI where available); several
///   rows → `prefillPath` (default `.auto`: the integer GEMM, `reel_igemm`, docs/kernels.md), whose activations
///   a tower's layers scale per 128 elements instead (`activationScale`).
/// Work is split by output rows (the output's columns) across the pool's threads.
public final class Linear: @unchecked Sendable {
    /// How a weight in a non-f32 encoding multiplies several activation rows (prefill).
    public enum PrefillPath: String, Sendable, CaseIterable {
        /// CKernels' `reel_gemm_rows`: each weight block loaded once for all rows (q8 activations for quantised
        /// weights, so prefill and decode see the same numerics).
        case kernel
        /// Dequantise `tileRows` weight rows into f32 scratch, then OpenBLAS sgemm (f32 activations).
        case dequantizeTile
        /// CKernels' `reel_igemm` (q8/q4/q4f only): register-blocked integer GEMM over weight panels repacked per
        /// tile; q8 activations as `kernel`, so the integer block sums are the same and only float rounding differs.
        case integerGemm
        /// q8/q4/q4f: `integerGemm` (the default for them); f16/bf16: `kernel` below `tileMinRows` activation rows,
        /// `dequantizeTile` from there.
        case auto
    }

    /// How the integer GEMM quantises activation rows to int8 (docs/kernels.md "Activation scales per 128").
    public enum ActivationScale: String, Sendable, CaseIterable {
        /// One scale per block of 32, as the decode's dot kernels quantise a row: prefill and decode of a prompt see
        /// the same integer sums. The default, and what decoders use.
        case per32
        /// One scale per 128 elements: the GEMM sums 4 blocks' integer sums with the weight's scales alone, then
        /// multiplies by the activation's scale once — a float multiply per block fewer, 5–8% faster on VNNI, with
        /// up to 2× the activation rounding error of `per32` next to outlier channels (docs/kernels.md). Encoder
        /// towers (vision, audio) use it: their rows are never decoded one at a time.
        case per128
    }

    /// any encoding [out, in]
    public let weight: WeightTensor
    /// f32 [out], when the layer has a bias.
    public let bias: [Float]?
    public let inFeatures: Int
    public let outFeatures: Int
    /// The prefill path; the default is the faster one measured per encoding (docs/runtime.md, `LinearBenchmark`).
    public var prefillPath: PrefillPath
    /// The activation scales of the integer GEMM (several rows, quantised weights); one row always takes the dot
    /// kernels' per-block scales.
    public var activationScale: ActivationScale = .per32
    /// Measured on Zen 4 with OpenBLAS on its AVX-512 kernels: for f16/bf16, dequantise + sgemm was 1.4–2.8× faster
    /// than the f16·f32 kernel; for q8/q4/q4f the integer kernel was 1.1–4× faster than dequantise + sgemm (and keeps
    /// prefill and decode numerics identical).
    ///
    /// Re-measured on an idle-ish machine (docs/performance.md; thread CPU time, one thread, [4864, 896] q4 and
    /// [896, 4864] q8): the integer kernel wins up to ~64 rows (1.3–2× at 32), dequantise + sgemm from ~96 rows
    /// (1.26× q4, 1.47× q8 at 128 — a full prefill chunk). The integer GEMM beats both from 2 rows (VNNI, one thread:
    /// 6–7× the kernel at 128 rows; docs/kernels.md "Integer GEMM"), hence `.auto` → `integerGemm` for them.
    public static func defaultPrefillPath(for encoding: Encoding) -> PrefillPath {
        encoding.isQuantized ? .auto : .dequantizeTile
    }
    /// Activation rows from which `.auto` dequantises f16/bf16 tiles instead of running the f16/bf16 kernel.
    public static let tileMinRows = 96
    /// Weight rows dequantised per tile on the `dequantizeTile` path (32 rows × 2048 f32 = 256 KiB: stays in L2).
    public static let tileRows = 32
    /// Tile rows when a call has at least `wideTileMinRows` activation rows (vision towers), so the activations are
    /// packed by sgemm a few times per weight, not once per 32 rows (256 × 4304 f32 = 4.4 MiB scratch per thread).
    public static let wideTileRows = 256
    public static let wideTileMinRows = 512

    /// - Parameters:
    ///   - weight: `[out, in]`.
    ///   - bias: `[out]`, any encoding (converted to f32 once).
    public init(weight: WeightTensor, bias: WeightTensor? = nil) throws {
        guard weight.shape.count == 2 else {
            throw RuntimeError.shapeMismatch(name: weight.name, expected: [-1, -1], actual: weight.shape)
        }
        self.weight = weight
        prefillPath = Self.defaultPrefillPath(for: weight.encoding)
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        if let bias {
            try bias.expect(shape: [outFeatures])
            self.bias = bias.toFloat()
        } else {
            self.bias = nil
        }
    }

    /// Loads `<prefix>.weight` and, when `hasBias`, `<prefix>.bias`, checking the shape `[out, in]`.
    public convenience init(_ weights: WeightProvider, _ prefix: String, out: Int, in k: Int, hasBias: Bool) throws {
        let w = try weights.weight(prefix + ".weight")
        try w.expect(shape: [out, k])
        try self.init(weight: w, bias: hasBias ? weights.weight(prefix + ".bias") : nil)
    }

    /// Several Linears that read the same `n` rows of x (q/k/v projections, a decoder's gate/up): with the integer GEMM
    /// (quantised weights of one encoding, n > 1) x is quantised and packed once for all of them instead of once
    /// per layer; otherwise each layer's own `forward`. Each `y` gets exactly what `forward(x, rows: n, …)` of its
    /// layer writes.
    public static func forward(_ x: UnsafePointer<Float>, rows n: Int, sharedBy layers: [(Linear, UnsafeMutablePointer<Float>)],
                               pool: ThreadPool) {
        guard let first = layers.first?.0 else { return }
        let shared = layers.allSatisfy { l, _ in
            l.weight.encoding == first.weight.encoding && l.inFeatures == first.inFeatures
                && l.activationScale == first.activationScale && l.usesIntegerGemm(rows: n)
        }
        let packed = shared ? first.quantizeForIntegerGemm(x, rows: n, pool: pool) : nil
        for (layer, y) in layers { layer.forward(x, rows: n, into: y, pool: pool, packed: packed) }
    }

    /// Whether `forward` with `n` rows takes the integer GEMM.
    func usesIntegerGemm(rows n: Int) -> Bool {
        weight.encoding.isQuantized && n > 1 && (prefillPath == .integerGemm || prefillPath == .auto)
    }

    /// x's rows quantised to int8 (per `activationScale`) and packed for the integer GEMM against this layer's
    /// encoding, in the pool's shared scratch (valid until the next call that uses it).
    func quantizeForIntegerGemm(_ x: UnsafePointer<Float>, rows n: Int, pool: ThreadPool) -> UnsafeRawPointer {
        let k = inFeatures, enc = weight.encoding
        let actRowBytes = Kernels.igemmActRowBytes(k)
        if activationScale == .per128 {  // straight from f32 to the packed rows
            let packed = pool.sharedScratch(bytes: n * actRowBytes)
            pool.parallelFor(n) { rows, _ in
                Kernels.igemmQuantizeRows128(enc, x: x + rows.lowerBound * k, ldx: k, m: rows.count, k: k,
                                             into: packed + rows.lowerBound * actRowBytes)
            }
            return UnsafeRawPointer(packed)
        }
        let q8Bytes = Kernels.q8RowBytes(k)
        let packedOffset = (n * q8Bytes + 63) / 64 * 64
        let q = pool.sharedScratch(bytes: packedOffset + n * actRowBytes)
        let packed = q + packedOffset
        pool.parallelFor(n) { rows, _ in
            for i in rows {
                Kernels.quantizeActivationRow(x + i * k, count: k, into: q + i * q8Bytes)
                Kernels.igemmPackActivations(enc, q8: q + i * q8Bytes, q8RowBytes: q8Bytes, m: 1, k: k,
                                             into: packed + i * actRowBytes)
            }
        }
        return UnsafeRawPointer(packed)
    }

    /// y[n, out] = x[n, in] · Wᵀ + b. `x` and `y` must not overlap.
    public func forward(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool,
                        activation: Activation? = nil) {
        forward(x, rows: n, into: y, pool: pool, activation: activation, packed: nil)
    }

    /// `forward` with `packed`: x already quantised and packed for the integer GEMM (`quantizeForIntegerGemm`),
    /// used when this call takes the integer GEMM.
    func forward(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool,
                 activation: Activation? = nil, packed prepacked: UnsafeRawPointer?) {
        guard n > 0 else { return }
        let k = inFeatures, m = outFeatures
        let enc = weight.encoding
        let w = UnsafeRawPointer(weight.data.baseAddress!)
        let rowBytes = weight.rowBytes
        let useIGemm = usesIntegerGemm(rows: n)
        let useKernel = enc != .f32 && !useIGemm
            && (n == 1 || prefillPath == .kernel || prefillPath == .integerGemm
                || (prefillPath == .auto && n < Self.tileMinRows))

        // Activations for the kernels: q8 rows for quantised weights (quantised once, shared by all threads); for
        // the integer GEMM also packed (codes, f32 scale, offset corrections per block) after the q8 rows.
        var act = UnsafeRawPointer(x), actRowBytes = k * 4
        if useIGemm {
            act = prepacked ?? quantizeForIntegerGemm(x, rows: n, pool: pool)
            actRowBytes = Kernels.igemmActRowBytes(k)
        } else if useKernel && enc.isQuantized {  // q8 activation rows for the dot kernels
            let q8Bytes = Kernels.q8RowBytes(k)
            actRowBytes = q8Bytes
            let q = pool.sharedScratch(bytes: n * q8Bytes)
            if n == 1 {
                Kernels.quantizeActivationRow(x, count: k, into: q)
            } else {
                pool.parallelFor(n) { rows, _ in
                    for i in rows { Kernels.quantizeActivationRow(x + i * k, count: k, into: q + i * q8Bytes) }
                }
            }
            act = UnsafeRawPointer(q)
        }

        // Many activation rows (encoders: frames × 729 tokens): sgemm repacks x for every tile, so take wider tiles.
        let tile = n >= Self.wideTileMinRows ? Self.wideTileRows : Self.tileRows
        // The integer GEMM packs 32 weight rows per tile, so its chunks are multiples of 32. f32 weights with many
        // activation rows (encoders: frames × tokens): one chunk per thread, since every sgemm call packs all of x
        // again ([1458, 1152] f32 = 6.7 MB for two so400m frames) and 4 chunks per thread packed it 4× as often.
        let granularity = useIGemm ? 32 : (enc == .f32 && n >= Self.wideTileMinRows
            ? (m + pool.threadCount - 1) / pool.threadCount : 16)
        pool.parallelFor(m, granularity: granularity) { rows, worker in
            if n == 1 {  // decode: the one-row path forwardRow shares
                self.rowSlice(rows, x: x, act: act, y: y)
                activation?.apply(y + rows.lowerBound, count: rows.count)
                return
            }
            if enc == .f32 {
                let wr = (w + rows.lowerBound * rowBytes).assumingMemoryBound(to: Float.self)
                Kernels.gemmNT(x: x, n: n, w: wr, m: rows.count, k: k, y: y + rows.lowerBound, ldy: m)
            } else if useIGemm {
                let scratch = pool.scratch(worker, count: (Kernels.igemmScratchBytes(k) + 3) / 4)
                Kernels.igemm(enc, w: w, rowBytes: rowBytes, columns: rows, k: k, act: act, m: n, y: y, ldy: m,
                              scratch: UnsafeMutableRawPointer(scratch), scalePer128: self.activationScale == .per128)
            } else if useKernel {
                Kernels.gemmRows(enc, w: w, rowBytes: rowBytes, rows: rows, k: k, x: act, xRowBytes: actRowBytes,
                                 m: n, y: y, ldy: m)
            } else {
                let scratch = pool.scratch(worker, count: tile * k)  // f32 [tile, in]
                var r0 = rows.lowerBound
                while r0 < rows.upperBound {
                    let t = min(tile, rows.upperBound - r0)
                    for r in 0..<t { Kernels.dequantizeRow(enc, w + (r0 + r) * rowBytes, count: k, into: scratch + r * k) }
                    Kernels.gemmNT(x: x, n: n, w: scratch, m: t, k: k, y: y + r0, ldy: m)
                    r0 += t
                }
            }
            if let bias {  // C's vectorised add per row (the Swift loop here was 3.8% of a so400m frame)
                bias.withUnsafeBufferPointer { b in
                    for i in 0..<n { Kernels.add(y + i * m + rows.lowerBound, b.baseAddress! + rows.lowerBound, rows.count) }
                }
            }
            // The activation on the chunk just written (still in cache), instead of a later pass over all of y.
            if let activation { for i in 0..<n { activation.apply(y + i * m + rows.lowerBound, count: rows.count) } }
        }
    }

    /// One activation row through two or three Linears that read it (q/k/v, gate/up) as one parallel operation:
    /// the row is quantised once and the threads split the layers' output rows together, so a decode step pays
    /// one dispatch (and one wait for the slowest thread) instead of one per layer. Each `y` gets exactly what
    /// `forward(x, rows: 1, …)` of its layer writes. The layers must share `inFeatures`.
    public static func forwardRow(_ x: UnsafePointer<Float>, _ a: Linear, into ya: UnsafeMutablePointer<Float>,
                                  _ b: Linear, into yb: UnsafeMutablePointer<Float>,
                                  _ c: Linear? = nil, into yc: UnsafeMutablePointer<Float>? = nil, pool: ThreadPool) {
        let k = a.inFeatures
        precondition(b.inFeatures == k && (c?.inFeatures ?? k) == k && (c == nil) == (yc == nil))
        var act = UnsafeRawPointer(x)
        if a.weight.encoding.isQuantized || b.weight.encoding.isQuantized || (c?.weight.encoding.isQuantized ?? false) {
            let q = pool.sharedScratch(bytes: Kernels.q8RowBytes(k))
            Kernels.quantizeActivationRow(x, count: k, into: q)
            act = UnsafeRawPointer(q)
        }
        let na = a.outFeatures, nb = b.outFeatures, nc = c?.outFeatures ?? 0
        pool.parallelFor(na + nb + nc, granularity: 16) { rows, _ in
            let ra = rows.clamped(to: 0..<na), rb = rows.clamped(to: na..<(na + nb))
            if !ra.isEmpty { a.rowSlice(ra, x: x, act: act, y: ya) }
            if !rb.isEmpty { b.rowSlice((rb.lowerBound - na)..<(rb.upperBound - na), x: x, act: act, y: yb) }
            if let c, let yc {
                let rc = rows.clamped(to: (na + nb)..<(na + nb + nc))
                if !rc.isEmpty { c.rowSlice((rc.lowerBound - na - nb)..<(rc.upperBound - na - nb), x: x, act: act, y: yc) }
            }
        }
    }

    /// The read-only bound of one decode operation: streams the weight bytes that `forwardRow(x, layers…)` (2–3
    /// layers) or `forward(x, rows: 1, …)` (one layer) reads, split over the pool exactly as they split it (one
    /// parallel operation over the layers' output rows together, chunks of multiples of 16 rows), but each chunk
    /// only XORs its rows' bytes (`Kernels.readXor`) instead of computing dot products. What a decode step made of
    /// these reaches is the best any gemv kernel can do through the same access pattern and dispatches
    /// (`reel bench --read-bound`). Returns the XOR of what was read, so nothing can be optimised away.
    public static func readRows(_ layers: [Linear], pool: ThreadPool) -> UInt64 {
        let total = layers.reduce(0) { $0 + $1.outFeatures }
        guard total > 0 else { return 0 }
        let sink = pool.sharedScratch(bytes: 64 * pool.threadCount)  // one cache line per thread
        for t in 0..<pool.threadCount { sink.storeBytes(of: UInt64(0), toByteOffset: 64 * t, as: UInt64.self) }
        pool.parallelFor(total, granularity: 16) { rows, thread in
            var x: UInt64 = 0, first = 0
            for l in layers {
                let r = rows.clamped(to: first..<(first + l.outFeatures))
                if !r.isEmpty {
                    let rb = l.weight.rowBytes
                    x ^= Kernels.readXor(UnsafeRawPointer(l.weight.data.baseAddress!) + (r.lowerBound - first) * rb,
                                         count: r.count * rb)
                }
                first += l.outFeatures
            }
            let slot = sink + 64 * thread
            slot.storeBytes(of: slot.load(as: UInt64.self) ^ x, as: UInt64.self)
        }
        var x: UInt64 = 0
        for t in 0..<pool.threadCount { x ^= sink.load(fromByteOffset: 64 * t, as: UInt64.self) }
        return x
    }

    /// Output rows `rows` of one activation row, as `forward`'s one-row path computes them: sgemv for f32, the
    /// f16/bf16·f32 gemv, or the integer gemv over `act` (the row quantised to q8) for q8/q4/q4f; plus the bias.
    @inline(__always)
    private func rowSlice(_ rows: Range<Int>, x: UnsafePointer<Float>, act: UnsafeRawPointer,
                          y: UnsafeMutablePointer<Float>) {
        let enc = weight.encoding, k = inFeatures, rowBytes = weight.rowBytes
        let w = UnsafeRawPointer(weight.data.baseAddress!)
        if enc == .f32 {
            let wr = (w + rows.lowerBound * rowBytes).assumingMemoryBound(to: Float.self)
            Kernels.gemmNT(x: x, n: 1, w: wr, m: rows.count, k: k, y: y + rows.lowerBound, ldy: outFeatures)
        } else {
            Kernels.gemv(enc, w: w, rowBytes: rowBytes, rows: rows, k: k, x: enc.isQuantized ? act : UnsafeRawPointer(x), y: y)
        }
        if let bias { bias.withUnsafeBufferPointer { b in Kernels.add(y + rows.lowerBound, b.baseAddress! + rows.lowerBound, rows.count) } }
    }

    /// `forward(_:rows:sharedBy:pool:)` on tensors: every layer reads x, each writes its own y (reshaped to
    /// [x.rows, out]).
    public static func forward(_ x: Tensor, sharedBy layers: [(Linear, Tensor)], pool: ThreadPool) throws {
        for (layer, y) in layers { try layer.shapeOutput(y, for: x) }
        forward(x.data, rows: x.rows, sharedBy: layers.map { ($0.0, $0.1.data) }, pool: pool)
    }

    /// Checks that x's rows have `inFeatures` elements and reshapes y to [x.rows, outFeatures].
    private func shapeOutput(_ y: Tensor, for x: Tensor) throws {
        guard x.rowLength == inFeatures else {
            throw RuntimeError.invalidArgument("\(weight.name): input rows have \(x.rowLength) elements, expected \(inFeatures)")
        }
        try y.reshape(rows: x.rows, columns: outFeatures)
    }

    /// y = act(x·Wᵀ + b) for `x` [n, in] (`activation` nil: none); reshapes `y` to [n, out]. The activation runs per
    /// output chunk right after it is written, element by element the same as `Activation.apply` on all of y.
    public func callAsFunction(_ x: Tensor, into y: Tensor, pool: ThreadPool, activation: Activation? = nil) throws {
        try shapeOutput(y, for: x)
        forward(x.data, rows: x.rows, into: y.data, pool: pool, activation: activation)
    }
}

/// A token-embedding table `[V, H]` in any encoding; a lookup dequantises one row.
public struct Embedding: @unchecked Sendable {
    /// any encoding [V, H]
    public let weight: WeightTensor
    public var vocabSize: Int { weight.shape[0] }
    public var dim: Int { weight.shape[1] }

    public init(weight: WeightTensor) throws {
        guard weight.shape.count == 2 else {
            throw RuntimeError.shapeMismatch(name: weight.name, expected: [-1, -1], actual: weight.shape)
        }
        self.weight = weight
    }

    /// Writes the embedding of `token` (H floats) to `out`.
    public func lookup(_ token: Int, into out: UnsafeMutablePointer<Float>) throws {
        guard token >= 0, token < vocabSize else { throw RuntimeError.tokenOutOfRange(token: token, vocabSize: vocabSize) }
        weight.dequantizeRow(token, into: out)
    }
}
