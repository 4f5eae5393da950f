#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// xoshiro256** seeded through splitmix64: the same seed gives the same stream on every platform.
public struct Xoshiro256: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = Self.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Sampling settings; each default leaves the distribution unchanged.
public struct SamplerConfig: Sendable, Equatable {
    /// 0 means greedy (argmax, no randomness).
    public var temperature: Float = 1
    /// Keep the k most likely tokens; 0 = off.
    public var topK: Int = 0
    /// Keep the smallest set whose probability reaches p; 1 = off.
    public var topP: Float = 1
    /// Drop tokens whose probability is below minP × the top probability; 0 = off.
    public var minP: Float = 0
    /// HF's `RepetitionPenaltyLogitsProcessor`: a seen token's logit is divided by it if positive, multiplied if
    /// negative; 1 = off.
    public var repetitionPenalty: Float = 1
    public var seed: UInt64 = 0

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0, repetitionPenalty: Float = 1,
                seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP
        self.repetitionPenalty = repetitionPenalty; self.seed = seed
    }

    public static let greedy = SamplerConfig(temperature: 0)

    /// The sampling settings with a range (the CLI's flags and generation_config.json share it).
    public enum Setting: String, Sendable, CaseIterable {
        case temperature, topK = "top_k", topP = "top_p", minP = "min_p", repetitionPenalty = "repetition_penalty"
    }

    /// "must be …, got v" when `v` is outside `setting`'s range, else nil: temperature finite ≥ 0 (0: greedy), top-k
    /// a whole number ≥ 0, top-p in (0, 1], min-p in [0, 1], repetition penalty finite > 0.
    public static func rangeProblem(_ setting: Setting, _ v: Double) -> String? {
        let (ok, range): (Bool, String)
        switch setting {
        case .temperature: (ok, range) = (v.isFinite && v >= 0, "a finite number ≥ 0")
        case .topK: (ok, range) = (v >= 0 && v <= Double(Int32.max) && v == v.rounded(), "a whole number ≥ 0")
        case .topP: (ok, range) = (v > 0 && v <= 1, "in (0, 1]")
        case .minP: (ok, range) = (v >= 0 && v <= 1, "in [0, 1]")
        case .repetitionPenalty: (ok, range) = (v.isFinite && v > 0, "a finite number > 0")
        }
        return ok ? nil : "must be \(range), got \(v)"
    }
}

/// Picks the next token from logits, in transformers' order: repetition penalty → temperature → top-k → top-p →
/// min-p → draw. Each filter sees the distribution the previous one left, renormalised (HF masks to −inf between
/// warpers). Reuses its buffers and sorts only the candidates a filter needs: no allocation per token once the
/// vocabulary size is known, and no full-vocabulary sort.
public struct Sampler: Sendable {
    public let config: SamplerConfig
    private var rng: Xoshiro256
    private var probs: [Float] = []      // f32 [V]
    private var seen: [Bool] = []        // [V] marks for the repetition penalty
    private var candidates: [Int32] = [] // ids, best first after sorting

    public init(_ config: SamplerConfig) {
        self.config = config
        rng = Xoshiro256(seed: config.seed)
    }

    /// The next token. `logits` (f32 [V]) is modified in place by the penalty; `history` is the tokens seen so far
    /// (prompt included, as HF).
    public mutating func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: [Int] = []) -> Int {
        let v = logits.count
        if probs.count != v {
            probs = [Float](repeating: 0, count: v)
            seen = [Bool](repeating: false, count: v)
            candidates = []
            candidates.reserveCapacity(v)
        }
        if config.repetitionPenalty != 1 {
            for t in history where t >= 0 && t < v && !seen[t] {
                seen[t] = true
                let l = logits[t]
                logits[t] = l > 0 ? l / config.repetitionPenalty : l * config.repetitionPenalty
            }
            for t in history where t >= 0 && t < v { seen[t] = false }
        }
        if config.temperature <= 0 { return Ops.argmax(logits.baseAddress!, count: v) }

        // temperature, then softmax. Non-finite logits have a limit, not a crash: NaN counts as −∞ (never drawn);
        // if some are +∞ (a penalty of 1e-38 divides a positive logit into it), the draw is among those alone.
        var m = -Float.infinity
        for i in 0..<v where !logits[i].isNaN { m = max(m, logits[i]) }
        guard m > -Float.infinity else { return Ops.argmax(logits.baseAddress!, count: v) }  // nothing drawable
        var sum: Float = 0
        for i in 0..<v {
            let l = logits[i]
            let e = l.isNaN ? 0 : m == .infinity ? (l == .infinity ? 1 : 0) : expf((l - m) / config.temperature)
            probs[i] = e
            sum += e
        }
        var pmax: Float = 0
        for i in 0..<v { probs[i] /= sum; pmax = max(pmax, probs[i]) }

        let useTopK = config.topK > 0 && config.topK < v, useTopP = config.topP < 1
        if !useTopK && !useTopP {
            // only min-p (or nothing): every token at or above the threshold, in id order
            let threshold = config.minP > 0 ? config.minP * pmax : 0
            var total: Float = 0
            for i in 0..<v where probs[i] >= threshold { total += probs[i] }
            let u = Float(rng.nextDouble()) * total
            var cum: Float = 0, last = 0
            for i in 0..<v where probs[i] >= threshold {
                cum += probs[i]
                last = i
                if u < cum { return i }
            }
            return last
        }

        // Collect the candidates above a falling threshold until top-k / top-p are decidable, then sort those.
        var cut = pmax * 1e-4
        while true {
            candidates.removeAll(keepingCapacity: true)
            var mass: Float = 0
            for i in 0..<v where probs[i] >= cut { candidates.append(Int32(i)); mass += probs[i] }
            let enoughK = !useTopK || candidates.count >= config.topK
            let enoughP = !useTopP || mass >= config.topP
            if (enoughK && enoughP) || cut == 0 { break }
            cut = cut < 1e-30 ? 0 : cut * 1e-4
        }
        let p = probs
        candidates.sort { p[Int($0)] != p[Int($1)] ? p[Int($0)] > p[Int($1)] : $0 < $1 }
        var keep = candidates.count
        if useTopK { keep = min(keep, config.topK) }
        var kept: Float = 0
        for r in 0..<keep { kept += p[Int(candidates[r])] }
        if useTopP {
            // renormalised over what top-k kept: smallest prefix reaching top_p
            var cum: Float = 0
            for r in 0..<keep {
                cum += p[Int(candidates[r])]
                if cum >= config.topP * kept { keep = r + 1; break }
            }
        }
        if config.minP > 0 {
            let threshold = config.minP * p[Int(candidates[0])]
            var r = 1
            while r < keep && p[Int(candidates[r])] >= threshold { r += 1 }
            keep = r
        }
        keep = max(keep, 1)  // defensive: the best candidate always stays, whatever the filters' rounding
        var total: Float = 0
        for r in 0..<keep { total += p[Int(candidates[r])] }
        let u = Float(rng.nextDouble()) * total
        var cum: Float = 0
        for r in 0..<keep {
            cum += p[Int(candidates[r])]
            if u < cum { return Int(candidates[r]) }
        }
        return Int(candidates[keep - 1])
    }

    /// Convenience over an array.
    public mutating func sample(_ logits: [Float], history: [Int] = []) -> Int {
        var l = logits
        return l.withUnsafeMutableBufferPointer { sample($0, history: history) }
    }
}
