import CKernels
import Foundation
import XCTest

/// reel_layernorm_f32: the scalar twin against a Double LayerNorm, every vector path bit-identical to it (the same
/// 16-lane sums and tree), on lengths around the lane width and a row with a large mean (the two-pass variance).
final class LayerNormKernelTests: XCTestCase {
    /// |scalar − exact| ≤ this × (|normalised|·|w| + |b| + 1): f32 sums over ≤ 1153 elements.
    static let relative: Double = 2e-6

    func testScalarMatchesDoubleAndPathsAreBitIdentical() throws {
        var rng = SplitMix64(seed: 31)
        for d in [1, 2, 7, 15, 16, 17, 31, 33, 72, 1152, 1153] {
            for offset: Float in [0, 300] {
                let rows = 3
                let x = (0..<(rows * d)).map { _ in rng.gaussian() * 2 + offset }
                let w = (0..<d).map { _ in rng.gaussian() }, b = (0..<d).map { _ in rng.gaussian() }
                let eps: Float = 1e-6
                func run() -> [Float] {
                    var out = [Float](repeating: .nan, count: rows * d)
                    reel_layernorm_f32(x, Int64(rows), Int64(d), w, b, eps, &out)
                    return out
                }
                let want = scalar { run() }
                for r in 0..<rows {
                    let row = x[(r * d)..<((r + 1) * d)].map(Double.init)
                    let mean = row.reduce(0, +) / Double(d)
                    let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
                    for i in 0..<d {
                        let z = (row[i] - mean) / (variance + Double(eps)).squareRoot()
                        let exact = z * Double(w[i]) + Double(b[i])
                        let err = abs(Double(want[r * d + i]) - exact)
                        let size: Double = abs(z * Double(w[i])) + abs(Double(b[i])) + 1
                        let bound: Double = Self.relative * (1 + Double(offset) / 2) * size
                        XCTAssertLessThanOrEqual(err, bound,
                                                 "d \(d) offset \(offset) row \(r) at \(i): \(want[r * d + i]) vs \(exact)")
                    }
                }
                try forEachFastISA { isa in
                    let got = run()
                    let diff = got.indices.first { got[$0].bitPattern != want[$0].bitPattern }
                    XCTAssertNil(diff, "\(isa) d \(d) offset \(offset): differs from the scalar twin at \(diff ?? -1)")
                }
            }
        }
    }
}
