#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How RoPE frequencies are scaled (transformers' `rope_type`; `modeling_rope_utils.py`).
public enum RopeScaling: Equatable, Sendable {
    /// `inv_freq = 1/θ^(2i/dim)`.
    case none
    /// `inv_freq /= factor`.
    case linear(factor: Double)
    /// NTK: for a sequence of length L > maxPositions, `θ' = θ·(factor·L/maxPositions − (factor−1))^(dim/(dim−2))`.
    case dynamic(factor: Double, maxPositions: Int)
    /// Llama 3.1: wavelengths above `original/lowFreqFactor` divided by `factor`, below `original/highFreqFactor`
    /// unchanged, smoothly interpolated between.
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Int)
    /// YaRN (`_compute_yarn_parameters`): interpolation below a ramp between the dims that turn `betaSlow` and
    /// `betaFast` times over `originalMaxPositions`, extrapolation above; cos/sin × the attention factor
    /// (given, or from `mscale`/`mscaleAllDim`, or 0.1·ln(factor)+1).
    case yarn(factor: Double, originalMaxPositions: Int, betaFast: Double = 32, betaSlow: Double = 1,
              attentionFactor: Double? = nil, mscale: Double? = nil, mscaleAllDim: Double? = nil, truncate: Bool = true)
}

/// Rotary position embedding with NeoX pairing `(i, i+dim/2)`, mirroring `LlamaRotaryEmbedding` +
/// `apply_rotary_pos_emb`: cos/sin of `position·inv_freq` in f32, `x' = x·cos + rotate_half(x)·sin`.
/// With `partialRotaryFactor` < 1 only the first `dim = Int(headDim·p)` elements of each head rotate.
public final class RotaryEmbedding: @unchecked Sendable {
    public let headDim: Int
    /// Rotated elements per head (even).
    public let dim: Int
    public let theta: Double
    public let scaling: RopeScaling
    /// f32 [dim/2]: the frequencies in use (dynamic scaling updates them as the sequence grows).
    public private(set) var invFreq: [Float] {
        didSet { for i in filled.indices { filled[i] = false } }  // the cached cos/sin belong to the old frequencies
    }
    /// cos and sin are multiplied by this (YaRN's attention factor; 1 otherwise).
    public let attentionScaling: Float
    private let originalInvFreq: [Float]
    /// Dynamic scaling's `max_seq_len_cached`.
    private var cachedSeqLen: Int
    /// f32 [dim] per position (cos of the dim/2 frequencies, then sin, × attentionScaling), computed on a position's
    /// first use and kept until the frequencies change: every layer of a forward pass rotates q and k at the same
    /// positions, so the 64 libm calls of a row (2.3% of a 512-token Qwen2-0.5B prefill when made per layer) are
    /// made once per position.
    /// Not thread-safe: `apply` fills it, so one thread rotates at a time (the decoder's layers run in order).
    private var table = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    /// One flag per position `table` has room for: whether its cos/sin are filled in.
    private var filled: [Bool] = []
    /// Positions past this (or negative) are not kept: their row is computed into `spare` on every use (the table
    /// stays ≤ 65536 × dim floats, 16 MiB at head_dim 64).
    static let cachedPositions = 65536
    private let spare: UnsafeMutablePointer<Float>

    public init(headDim: Int, theta: Double, scaling: RopeScaling = .none, partialRotaryFactor: Double = 1) throws {
        let dim = Int(Double(headDim) * partialRotaryFactor)
        guard headDim > 0, dim >= 2, dim % 2 == 0, dim <= headDim, theta > 0 else {
            throw RuntimeError.invalidArgument("rope: head_dim \(headDim), rotary dim \(dim), theta \(theta)")
        }
        self.headDim = headDim
        self.dim = dim
        self.theta = theta
        self.scaling = scaling
        let base = Self.defaultInvFreq(theta: theta, dim: dim)
        var attention: Float = 1
        switch scaling {
        case .none: invFreq = base
        case let .linear(factor): invFreq = base.map { $0 / Float(factor) }
        case let .dynamic(factor, maxPositions): invFreq = Self.dynamicInvFreq(theta: theta, dim: dim, factor: factor,
                                                                              maxPositions: maxPositions, seqLen: maxPositions)
        case let .llama3(factor, low, high, original):
            invFreq = Self.llama3InvFreq(base, factor: factor, low: low, high: high, original: original)
        case let .yarn(factor, original, betaFast, betaSlow, attentionFactor, mscale, mscaleAllDim, truncate):
            let y = Self.yarn(theta: theta, dim: dim, factor: factor, original: original, betaFast: betaFast,
                              betaSlow: betaSlow, attentionFactor: attentionFactor, mscale: mscale,
                              mscaleAllDim: mscaleAllDim, truncate: truncate)
            invFreq = y.invFreq
            attention = y.attentionFactor
        }
        attentionScaling = attention
        originalInvFreq = invFreq
        if case let .dynamic(_, maxPositions) = scaling { cachedSeqLen = maxPositions } else { cachedSeqLen = 0 }
        spare = .allocate(capacity: dim)
    }

    deinit { table.deallocate(); spare.deallocate() }

    /// `1/θ^(arange(0,dim,2)/dim)`, in f32 as transformers computes it.
    public static func defaultInvFreq(theta: Double, dim: Int) -> [Float] {
        (0..<(dim / 2)).map { i in 1 / powf(Float(theta), Float(2 * i) / Float(dim)) }
    }

    /// `_compute_dynamic_ntk_parameters` at sequence length `seqLen` (never below `maxPositions`).
    public static func dynamicInvFreq(theta: Double, dim: Int, factor: Double, maxPositions: Int, seqLen: Int) -> [Float] {
        let L = Double(max(seqLen, maxPositions))
        let b = theta * pow(factor * L / Double(maxPositions) - (factor - 1), Double(dim) / Double(dim - 2))
        return defaultInvFreq(theta: b, dim: dim)
    }

    /// `_compute_llama3_parameters`, in f32 like the reference.
    public static func llama3InvFreq(_ inv: [Float], factor: Double, low: Double, high: Double, original: Int) -> [Float] {
        let lowWavelen = Float(Double(original) / low), highWavelen = Float(Double(original) / high)
        let f = Float(factor)
        return inv.map { v in
            let wavelen = 2 * Float.pi / v
            let scaled = wavelen > lowWavelen ? v / f : v
            if wavelen < highWavelen || wavelen > lowWavelen { return scaled }
            let s = (Float(original) / wavelen - Float(low)) / (Float(high) - Float(low))
            return (1 - s) * scaled / f + s * scaled
        }
    }

    /// `_compute_yarn_parameters`: inverse frequencies (f32, as the reference) and the attention factor.
    public static func yarn(theta: Double, dim: Int, factor: Double, original: Int, betaFast: Double, betaSlow: Double,
                            attentionFactor: Double?, mscale: Double?, mscaleAllDim: Double?, truncate: Bool)
        -> (invFreq: [Float], attentionFactor: Float) {
        func getMscale(_ scale: Double, _ m: Double = 1) -> Double { scale <= 1 ? 1 : 0.1 * m * log(scale) + 1 }
        var attention = attentionFactor ?? getMscale(factor)
        if attentionFactor == nil, let mscale, let mscaleAllDim, mscale != 0, mscaleAllDim != 0 {
            attention = getMscale(factor, mscale) / getMscale(factor, mscaleAllDim)
        }
        func correctionDim(_ rotations: Double) -> Double {
            Double(dim) * log(Double(original) / (rotations * 2 * Double.pi)) / (2 * log(theta))
        }
        var low = correctionDim(betaFast), high = correctionDim(betaSlow)
        if truncate { low = low.rounded(.down); high = high.rounded(.up) }
        low = max(low, 0)
        high = min(high, Double(dim - 1))
        if low == high { high += 0.001 }
        let f = Float(factor)
        let inv: [Float] = (0..<(dim / 2)).map { i in
            let posFreq = powf(Float(theta), Float(2 * i) / Float(dim))
            let extrapolation = 1 / posFreq, interpolation = 1 / (f * posFreq)
            let ramp = min(max((Float(i) - Float(low)) / Float(high - low), 0), 1)
            let extrapolationFactor = 1 - ramp
            return interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor
        }
        return (inv, Float(attention))
    }

    /// Mirrors `dynamic_frequency_update`: call before a forward whose largest position is `maxPosition`.
    /// Grows the frequencies' sequence length when exceeded; resets once a forward is within the original length.
    public func update(maxPosition: Int) {
        guard case let .dynamic(factor, maxPositions) = scaling else { return }
        let seqLen = maxPosition + 1
        let cachedBefore = cachedSeqLen
        if seqLen > cachedSeqLen {
            invFreq = Self.dynamicInvFreq(theta: theta, dim: dim, factor: factor, maxPositions: maxPositions, seqLen: seqLen)
            cachedSeqLen = seqLen
        }
        if seqLen < maxPositions && cachedBefore > maxPositions {
            invFreq = originalInvFreq
            cachedSeqLen = maxPositions
        }
    }

    /// Rotates `heads` head vectors of each row in place.
    /// - Parameters:
    ///   - x: f32 [n, heads, headDim].
    ///   - positions: [n] absolute positions.
    public func apply(_ x: UnsafeMutablePointer<Float>, rows n: Int, heads: Int, positions: UnsafePointer<Int>) {
        let half = dim / 2
        for r in 0..<n { rotate(x + r * heads * headDim, heads: heads, half: half, cosSin: cosSin(positions[r])) }
    }

    /// Rotates q and k of each row with one cos/sin computation per row.
    /// - Parameters:
    ///   - q: f32 [n, qHeads, headDim]; `k`: f32 [n, kHeads, headDim].
    public func apply(q: UnsafeMutablePointer<Float>, qHeads: Int, k: UnsafeMutablePointer<Float>, kHeads: Int,
                      rows n: Int, positions: UnsafePointer<Int>) {
        let half = dim / 2
        for r in 0..<n {
            let cs = cosSin(positions[r])
            rotate(q + r * qHeads * headDim, heads: qHeads, half: half, cosSin: cs)
            rotate(k + r * kHeads * headDim, heads: kHeads, half: half, cosSin: cs)
        }
    }

    /// The cos/sin row of `position`: from the table (computed on first use) for 0 ≤ position < `cachedPositions`,
    /// else computed into `spare` each time.
    @inline(__always) private func cosSin(_ position: Int) -> UnsafePointer<Float> {
        guard position >= 0, position < Self.cachedPositions else {
            fillCosSin(position, into: spare)
            return UnsafePointer(spare)
        }
        if position >= filled.count {
            let grown = min(max(position + 1, 2 * filled.count, 256), Self.cachedPositions)
            let t = UnsafeMutablePointer<Float>.allocate(capacity: grown * dim)
            t.update(from: table, count: filled.count * dim)
            table.deallocate()
            table = t
            filled.append(contentsOf: repeatElement(false, count: grown - filled.count))
        }
        let row = table + position * dim
        if !filled[position] {
            fillCosSin(position, into: row)
            filled[position] = true
        }
        return UnsafePointer(row)
    }

    private func fillCosSin(_ position: Int, into row: UnsafeMutablePointer<Float>) {
        let p = Float(position)
        for i in 0..<(dim / 2) {
            let f = p * invFreq[i]  // f32 product, as `position_ids.float() * inv_freq`
            row[i] = Float(cos(Double(f))) * attentionScaling
            row[dim / 2 + i] = Float(sin(Double(f))) * attentionScaling
        }
    }

    @inline(__always) private func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, half: Int,
                                          cosSin: UnsafePointer<Float>) {
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<half {
                let c = cosSin[i], s = cosSin[half + i]
                let x1 = v[i], x2 = v[half + i]
                v[i] = x1 * c - x2 * s
                v[half + i] = x2 * c + x1 * s
            }
        }
    }
}
