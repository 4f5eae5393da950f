import ReelQuant
import XCTest

/// Reel's quantisers against GGUF's Q8_0 and Q4_0 at the same bits (formats/REEL.md §3 "Better than Q4_0").
///
/// The yardsticks follow llama.cpp ggml-quants.c `quantize_row_q8_0_ref` and `quantize_row_q4_0_ref`, written
/// here independently of the kernels under test.
final class QualityTests: XCTestCase {
    static let rows = 64, k = 4096

    /// GGUF Q8_0: d = amax/127, q = round(x/d), d stored as f16.
    static func ggufQ8_0(_ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for b in stride(from: 0, to: x.count, by: 32) {
            let amax = x[b..<(b + 32)].map(abs).max()!
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            let d16 = Float(Float16(d))
            for i in b..<(b + 32) { y[i] = d16 * (x[i] * id).rounded(.toNearestOrAwayFromZero) }
        }
        return y
    }

    /// GGUF Q4_0: m = the signed value of largest magnitude, d = m/−8, q = min(15, trunc(x/d + 8.5)) − 8.
    static func ggufQ4_0(_ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for b in stride(from: 0, to: x.count, by: 32) {
            var amax: Float = 0, m: Float = 0
            for v in x[b..<(b + 32)] where abs(v) > amax { amax = abs(v); m = v }
            let d = m / -8, id: Float = d != 0 ? 1 / d : 0
            let d16 = Float(Float16(d))
            for i in b..<(b + 32) {
                let q = min(15, Int(Int8(truncatingIfNeeded: Int(x[i] * id + 8.5))))
                y[i] = d16 * Float(q - 8)
            }
        }
        return y
    }

    static func rmse(_ a: [Float], _ b: [Float]) -> Double {
        (zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(a.count)).squareRoot()
    }

    func check(_ name: String, _ x: [Float]) throws {
        let (rows, k) = (Self.rows, Self.k)
        let r8 = Self.rmse(x, try Codec.decode(Codec.encode(x, rows: rows, k: k, as: .q8), rows: rows, k: k, from: .q8))
        let r4 = Self.rmse(x, try Codec.decode(Codec.encode(x, rows: rows, k: k, as: .q4), rows: rows, k: k, from: .q4))
        let r4f = Self.rmse(x, try Codec.decode(Codec.encode(x, rows: rows, k: k, as: .q4f), rows: rows, k: k, from: .q4f))
        let g8 = Self.rmse(x, Self.ggufQ8_0(x)), g4 = Self.rmse(x, Self.ggufQ4_0(x))
        print(String(format: "%@: RMSE q8 %.4e vs GGUF Q8_0 %.4e (%.1f%%); q4 %.4e vs GGUF Q4_0 %.4e (%.1f%%); q4f %.4e",
                     name, r8, g8, 100 * (r8 / g8 - 1), r4, g4, 100 * (r4 / g4 - 1), r4f))
        XCTAssertLessThanOrEqual(r8, g8, "\(name): q8 RMSE \(r8) worse than GGUF Q8_0 \(g8)")
        XCTAssertLessThanOrEqual(r4, g4, "\(name): q4 RMSE \(r4) worse than GGUF Q4_0 \(g4)")
        XCTAssertLessThanOrEqual(r4f, r4, "\(name): q4f RMSE \(r4f) worse than q4 \(r4)")
    }

    func testGaussianWeights() throws {
        var rng = SplitMix64(seed: 20)
        try check("Gaussian", (0..<(Self.rows * Self.k)).map { _ in rng.gaussian() * 0.02 })
    }

    func testStudentT3Weights() throws {
        var rng = SplitMix64(seed: 21)
        try check("Student-t(3)", (0..<(Self.rows * Self.k)).map { _ in rng.studentT3() * 0.02 })
    }
}
