import ReelQuant

/// `y = x·Wᵀ + b` over a weight stored in any encoding, read in place from the mapping (one Linear for every
/// storage; never a second, converted copy of the model).
///
/// f32 weights go straight to BLAS (sgemv for one row, sgemm for many) on each thread's slice of output rows.
/// f16/bf16/q8/q4/q4f weights are dequantised a tile of `tileRows` rows at a time into per-thread scratch, which
/// BLAS then multiplies: the tile stays in L1/L2, so a prefill reads each weight byte once per call.
public final class Linear: @unchecked Sendable {
    /// any encoding [out, in]
    public let weight: WeightTensor
    /// f32 [out], when the layer has a bias.
    public let bias: [Float]?
    public let inFeatures: Int
    public let outFeatures: Int
    /// Output rows dequantised per tile (32 rows × 4 KiB rows of a 1024-wide f32 tile = 128 KiB).
    public static let tileRows = 32

    /// - Parameters:
    ///   - weight: `[out, in]`.
    ///   - bias: `[out]`, any encoding (converted to f32 once).
    public init(weight: WeightTensor, bias: WeightTensor? = nil) throws {
        guard weight.shape.count == 2 else {
            throw RuntimeError.shapeMismatch(name: weight.name, expected: [-1, -1], actual: weight.shape)
        }
        self.weight = weight
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

    /// y[n, out] = x[n, in] · Wᵀ + b. `x` and `y` must not overlap.
    public func forward(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        guard n > 0 else { return }
        let k = inFeatures, m = outFeatures
        let enc = weight.encoding
        let base = UnsafeRawPointer(weight.data.baseAddress!)
        let rowBytes = weight.rowBytes
        let tile = Self.tileRows
        pool.parallelFor(m, granularity: enc == .f32 ? 16 : tile) { rows, worker in
            if enc == .f32 {
                let w = (base + rows.lowerBound * rowBytes).assumingMemoryBound(to: Float.self)
                Kernels.gemmNT(x: x, n: n, w: w, m: rows.count, k: k, y: y + rows.lowerBound, ldy: m)
            } else {
                let scratch = pool.scratch(worker, count: tile * k)  // f32 [tile, in]
                var r0 = rows.lowerBound
                while r0 < rows.upperBound {
                    let t = min(tile, rows.upperBound - r0)
                    for r in 0..<t { Kernels.dequantizeRow(enc, base + (r0 + r) * rowBytes, count: k, into: scratch + r * k) }
                    Kernels.gemmNT(x: x, n: n, w: scratch, m: t, k: k, y: y + r0, ldy: m)
                    r0 += t
                }
            }
            if let bias {
                bias.withUnsafeBufferPointer { b in
                    for i in 0..<n {
                        let yi = y + i * m
                        for r in rows { yi[r] += b[r] }
                    }
                }
            }
        }
    }

    /// y = x·Wᵀ + b for `x` [n, in]; reshapes `y` to [n, out].
    public func callAsFunction(_ x: Tensor, into y: Tensor, pool: ThreadPool) throws {
        guard x.rowLength == inFeatures else {
            throw RuntimeError.invalidArgument("\(weight.name): input rows have \(x.rowLength) elements, expected \(inFeatures)")
        }
        try y.reshape([x.rows, outFeatures])
        forward(x.data, rows: x.rows, into: y.data, pool: pool)
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
