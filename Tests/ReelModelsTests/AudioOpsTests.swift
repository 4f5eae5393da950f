import Foundation
import ReelModels
import ReelRuntime
import XCTest

/// AudioOps against plain float64 loops on odd sizes, covering what the tiny parity fixtures cannot: attention over
/// several 64-query blocks (the fixtures have ≤ 50 positions), fewer keys than queries (the key-padding mask), and
/// odd lengths for the stride-2 convolution and the pool.
final class AudioOpsTests: XCTestCase {
    /// f32 op vs float64 loop, max-abs relative to the reference's range.
    static let relative = 1e-5

    func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 20000) / 10000
        }
    }

    func testAttentionOverSeveralQueryBlocksAndMaskedKeys() throws {
        let heads = 3, hd = 8, D = heads * hd
        let pool = ThreadPool(threads: 2)
        for (n, keys) in [(150, 150), (150, 97), (1, 1), (65, 2)] {
            let q = values(n * D, seed: 1), k = values(n * D, seed: 2), v = values(n * D, seed: 3)
            var out = [Float](repeating: 0, count: n * D)
            var kHead = [Float](repeating: 0, count: keys * D), vHeadT = kHead
            AudioOps.attention(q: q, k: k, v: v, queries: n, keys: keys, heads: heads, headDim: hd,
                               kHead: &kHead, vHeadT: &vHeadT, into: &out, pool: pool)
            var ref = [Float](repeating: 0, count: n * D)
            for h in 0..<heads {
                for i in 0..<n {
                    var s = (0..<keys).map { j in (0..<hd).reduce(0.0) { $0 + Double(q[i * D + h * hd + $1]) * Double(k[j * D + h * hd + $1]) } }
                    let m = s.max()!
                    s = s.map { exp($0 - m) }
                    let z = s.reduce(0, +)
                    for d in 0..<hd {
                        ref[i * D + h * hd + d] = Float((0..<keys).reduce(0.0) { $0 + s[$1] / z * Double(v[$1 * D + h * hd + d]) })
                    }
                }
            }
            let r = try ParityReport(name: "attention n \(n) keys \(keys)", reference: ref, actual: out)
            XCTAssertLessThanOrEqual(r.relative, Self.relative, "\(r)")
        }
    }

    func testIm2colConvolutionAndPoolOnOddLengths() throws {
        let channels = 5, length = 13
        let x = values(channels * length, seed: 4)  // channel-major [5, 13]
        for stride in [1, 2] {
            let outLength = (length - 1) / stride + 1
            var cols = [Float](repeating: .nan, count: outLength * channels * 3)
            AudioOps.im2col3(channelMajor: x, channels: channels, length: length, stride: stride, rows: outLength, into: &cols)
            // The same input time-major gives the same columns.
            var xt = [Float](repeating: 0, count: length * channels)
            for c in 0..<channels { for t in 0..<length { xt[t * channels + c] = x[c * length + t] } }
            var colsT = [Float](repeating: .nan, count: outLength * channels * 3)
            AudioOps.im2col3(timeMajor: xt, channels: channels, length: length, stride: stride, rows: outLength, into: &colsT)
            XCTAssertEqual(cols, colsT)
            for t in 0..<outLength {
                for c in 0..<channels {
                    for j in 0..<3 {
                        let src = t * stride + j - 1
                        XCTAssertEqual(cols[t * channels * 3 + c * 3 + j], src < 0 || src >= length ? 0 : x[c * length + src])
                    }
                }
            }
        }
        // AvgPool1d(2, 2) drops the trailing odd row.
        let rows = values(7 * 3, seed: 5)
        var pooled = [Float](repeating: .nan, count: 3 * 3)
        AudioOps.avgPool2(rows, length: 7, dim: 3, into: &pooled)
        for t in 0..<3 { for i in 0..<3 { XCTAssertEqual(pooled[t * 3 + i], (rows[2 * t * 3 + i] + rows[(2 * t + 1) * 3 + i]) * 0.5) } }
    }

    func testLayerNormAndGelu() throws {
        let n = 3, dim = 37
        let x = values(n * dim, seed: 6), w = values(dim, seed: 7), b = values(dim, seed: 8)
        var y = [Float](repeating: 0, count: n * dim)
        EncoderOps.layerNorm(x, rows: n, dim: dim, weight: w, bias: b, eps: 1e-5, into: &y)
        var ref = [Float](repeating: 0, count: n * dim)
        for r in 0..<n {
            let row = x[(r * dim)..<((r + 1) * dim)].map(Double.init)
            let mean = row.reduce(0, +) / Double(dim)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(dim)
            for i in 0..<dim { ref[r * dim + i] = Float((row[i] - mean) / (variance + 1e-5).squareRoot() * Double(w[i]) + Double(b[i])) }
        }
        XCTAssertLessThanOrEqual(try ParityReport(name: "layerNorm", reference: ref, actual: y).relative, Self.relative)

        var g = x.map { $0 * 4 - 4 }
        let gRef = g.map { Float(0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot()))) }
        Activation.geluErf.apply(&g, count: g.count)
        XCTAssertLessThanOrEqual(try ParityReport(name: "gelu", reference: gRef, actual: g).relative, Self.relative)
    }
}
