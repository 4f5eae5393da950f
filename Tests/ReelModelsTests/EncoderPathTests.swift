import Foundation
import ReelRuntime
import XCTest

/// The encoder-sized paths (vision towers: frames × hundreds of tokens), against Double references:
/// `EncoderOps.attention` over sequences longer than its query-row block (`attentionRowBlock`), so several blocks and
/// a partial last one run; an f32 `Linear` with at least `wideTileMinRows` activation rows (one chunk per thread).
final class EncoderPathTests: XCTestCase {
    /// |got − want| ≤ this × max|want|: f32 GEMMs and softmax against Double; the int16 path's products on 16-bit
    /// codes (q, k: ±5461 per row, v: ±16383 per column, probabilities · 32767; docs/kernels.md "Integer
    /// attention").
    static let relative: [EncoderAttentionPrecision: Float] = [.f32: 1e-5, .int16: 2e-3]

    func testRowBlocksMatchDoubleReference() {
        for precision in EncoderAttentionPrecision.allCases { rowBlocksMatchDoubleReference(precision) }
    }

    func rowBlocksMatchDoubleReference(_ precision: EncoderAttentionPrecision) {
        let pool = ThreadPool(threads: 2)
        let seqs = 2, heads = 3, hd = 8, d = heads * hd
        for s in [EncoderOps.attentionRowBlock - 1, EncoderOps.attentionRowBlock, 2 * EncoderOps.attentionRowBlock + 45] {
            var state: UInt64 = 0x5EED ^ UInt64(s)
            func rand() -> Float {  // splitmix64 → uniform in [−2, 2)
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return Float((z ^ (z >> 31)) >> 40) / Float(1 << 22) - 2
            }
            let q = (0..<(seqs * s * d)).map { _ in rand() }, k = (0..<(seqs * s * d)).map { _ in rand() }
            let v = (0..<(seqs * s * d)).map { _ in rand() }
            let scale = 1 / Float(hd).squareRoot()
            var out = [Float](repeating: .nan, count: seqs * s * d)
            EncoderOps.attention(q: q, k: k, v: v, sequences: seqs, length: s, heads: heads, headDim: hd, scale: scale,
                                 into: &out, pool: pool, precision: precision)
            var want = [Float](repeating: 0, count: out.count)
            for b in 0..<seqs {
                for h in 0..<heads {
                    for i in 0..<s {
                        let qi = (b * s + i) * d + h * hd
                        var p = (0..<s).map { j -> Double in
                            let kj = (b * s + j) * d + h * hd
                            return (0..<hd).reduce(0.0) { $0 + Double(q[qi + $1]) * Double(k[kj + $1]) } * Double(scale)
                        }
                        let m = p.max()!
                        p = p.map { Foundation.exp($0 - m) }
                        let sum = p.reduce(0, +)
                        for c in 0..<hd {
                            want[qi + c] = Float((0..<s).reduce(0.0) { $0 + p[$1] / sum * Double(v[(b * s + $1) * d + h * hd + c]) })
                        }
                    }
                }
            }
            XCTAssertNil(out.firstIndex { !$0.isFinite }, "\(precision) length \(s): an output was not written")
            let norm = want.map(abs).max()!
            let (i, err) = zip(out, want).enumerated().map { ($0, abs($1.0 - $1.1)) }.max { $0.1 < $1.1 }!
            XCTAssertLessThanOrEqual(err, Self.relative[precision]! * norm,
                                     "\(precision) length \(s): max-abs \(err) at \(i) (got \(out[i]), want \(want[i])), relative \(err / norm)")
        }
    }

    /// |got − want| ≤ this × max|want| for the f32 Linear (sgemm against Double).
    static let linearRelative: Float = 1e-5

    func testWideF32LinearMatchesDoubleReference() throws {
        let pool = ThreadPool(threads: 2)
        var rng = Xoshiro256(seed: 9)
        func randn(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) } }
        let n = Linear.wideTileMinRows + 37, k = 70
        for out in [1, 33, 130] {
            let w = randn(out * k), bias = randn(out), x = randn(n * k)
            let weights = InMemoryWeights()
            try weights.add("w", shape: [out, k], floats: w)
            try weights.add("b", shape: [out], floats: bias)
            let lin = try Linear(weight: try weights.weight("w"), bias: try weights.weight("b"))
            var y = [Float](repeating: .nan, count: n * out)
            lin.forward(x, rows: n, into: &y, pool: pool)
            XCTAssertNil(y.firstIndex { !$0.isFinite }, "out \(out): an output was not written")
            var worst: Float = 0, norm: Float = 0
            for i in 0..<n {
                for r in 0..<out {
                    var s = Double(bias[r])
                    for j in 0..<k { s += Double(x[i * k + j]) * Double(w[r * k + j]) }
                    worst = max(worst, abs(y[i * out + r] - Float(s)))
                    norm = max(norm, abs(Float(s)))
                }
            }
            XCTAssertLessThanOrEqual(worst, Self.linearRelative * norm, "f32 Linear [\(out), \(k)] × \(n) rows: max-abs \(worst), range \(norm)")
        }
    }
}
