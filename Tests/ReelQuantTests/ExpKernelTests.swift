import CKernels
import Foundation
import XCTest

/// The kernels built on CKernels' vectorised exp: reel_softmax_f32 (attention), reel_gelu_tanh_f32 (SigLIP's MLP) and
/// reel_silu_mul_f32 (the decoders' SwiGLU).
/// Scalar twins against Double references with the exact exp/tanh; every vector path against the scalar twin, on odd
/// lengths, wide ranges and masked (−∞) scores.
final class ExpKernelTests: XCTestCase {
    /// Softmax tolerance per element, relative, in units of 2⁻²⁴: `expUlps` for the exp (≤ 2 ulp here, ≤ 1 ulp for
    /// libm, 1 for the final multiply), plus 2n for two f32 sums of n positive terms in different orders (the textbook
    /// worst case γₙ each; typical differences are far smaller).
    static let expUlps: Double = 4
    static func softmaxTolerance(_ n: Int, _ value: Float) -> Double {
        (expUlps + 2 * Double(n)) * 0x1p-24 * Double(value) + 1e-37
    }

    func rows(_ rng: inout SplitMix64) -> [(String, [Float])] {
        var out: [(String, [Float])] = []
        for n in [1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 641, 1000, 4097] {
            out.append(("gaussian×4 n=\(n)", (0..<n).map { _ in rng.gaussian() * 4 }))
            out.append(("wide n=\(n)", (0..<n).map { _ in rng.gaussian() * 40 }))
            out.append(("masked n=\(n)", (0..<n).map { i in i % 3 == 1 && i != 0 ? -.infinity : rng.gaussian() * 8 }))
        }
        out.append(("equal", [Float](repeating: 3.5, count: 77)))
        out.append(("underflowing tail", (0..<40).map { i in Float(-3 * i) }))  // e^(−117) underflows to 0
        return out
    }

    func softmax(_ x: [Float]) -> [Float] {
        var y = x
        y.withUnsafeMutableBufferPointer { reel_softmax_f32($0.baseAddress!, Int64($0.count)) }
        return y
    }

    /// The scalar twin against the softmax Reel had before (libm `expf` per element, the same sequential sum).
    func testScalarMatchesLibmSoftmax() {
        var rng = SplitMix64(seed: 21)
        for (name, x) in rows(&rng) {
            let got = scalar { softmax(x) }
            let m = x.max()!
            var ref = x.map { expf($0 - m) }
            let s = ref.reduce(Float(0), +)
            ref = ref.map { $0 * (1 / s) }
            for i in x.indices {
                let err = abs(Double(got[i]) - Double(ref[i]))
                XCTAssertLessThanOrEqual(err, Self.softmaxTolerance(x.count, ref[i]),
                    "scalar softmax \(name) at \(i): got \(got[i]), libm \(ref[i]), abs err \(err), rel \(err / max(Double(ref[i]), 1e-30))")
            }
        }
    }

    func testVectorPathsMatchScalar() throws {
        var rng = SplitMix64(seed: 22)
        for (name, x) in rows(&rng) {
            let want = scalar { softmax(x) }
            try forEachFastISA { isa in
                let got = softmax(x)
                for i in x.indices {
                    let err = abs(Double(got[i]) - Double(want[i]))
                    XCTAssertLessThanOrEqual(err, Self.softmaxTolerance(x.count, want[i]),
                        "\(isa) softmax \(name) at \(i): got \(got[i]), scalar \(want[i]), abs err \(err)")
                    if x[i] == -.infinity { XCTAssertEqual(got[i], 0, "\(isa) masked score \(name) at \(i)") }
                }
            }
        }
    }

    /// |scalar gelu − exact| ≤ this × |x| + `geluAbsolute`: the exp's 2 ulp enter through 1/(1 + e^{2z}), which is
    /// multiplied by x.
    static let geluRelative: Double = 4e-7
    static let geluAbsolute: Double = 1e-7

    func testGeluTanhScalarMatchesExactAndPathsAreBitIdentical() throws {
        var rng = SplitMix64(seed: 23)
        var x: [Float] = [0, -0, 1e-30, -1e-30, 1e-8, 0.5, -0.5, 3, -3, 10, -10, 30, -30, 100, -100, 1e6, -1e6, .infinity, -.infinity]
        x += (0..<4099).map { _ in rng.gaussian() * 3 }
        x += (0..<1000).map { i in Float(i - 500) * 0.02 }
        func gelu(_ v: [Float]) -> [Float] {
            var y = v
            y.withUnsafeMutableBufferPointer { reel_gelu_tanh_f32($0.baseAddress!, Int64($0.count)) }
            return y
        }
        let want = scalar { gelu(x) }
        for (i, v) in x.enumerated() {
            let d = Double(v)
            let exact = v.isInfinite ? (v > 0 ? d : 0) : 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
            let err = v.isInfinite ? (want[i] == Float(exact) ? 0 : .infinity) : abs(Double(want[i]) - exact)
            XCTAssertLessThanOrEqual(err, Self.geluRelative * abs(d) + Self.geluAbsolute,
                                     "scalar gelu_tanh(\(v)) = \(want[i]), exact \(exact), abs err \(err)")
        }
        for n in [1, 7, 8, 9, 15, 16, 17, 33, x.count] {
            let part = Array(x.prefix(n))
            try forEachFastISA { isa in
                let got = gelu(part)
                for i in part.indices where got[i].bitPattern != want[i].bitPattern {
                    XCTFail("\(isa) gelu_tanh(\(part[i])) n=\(n) at \(i): \(got[i]) vs scalar \(want[i])")
                }
            }
        }
    }

    /// |scalar silu·mul − exact| ≤ this × |g·u| + 1e-37: the exp's 2 ulp enter through σ(g), then a divide and a
    /// multiply.
    static let siluRelative: Double = 6e-7

    func testSiluMulScalarMatchesExactAndPathsAreBitIdentical() throws {
        var rng = SplitMix64(seed: 24)
        var g: [Float] = [0, -0, 1e-30, -1e-30, 0.5, -0.5, 5, -5, 20, -20, 87, -87, 88.5, -88.5, 100, -100, 1e6, -1e6]
        g += (0..<4099).map { _ in rng.gaussian() * 4 }
        let u = g.indices.map { _ in rng.gaussian() }
        func siluMul(_ n: Int) -> [Float] {
            var y = Array(g.prefix(n))
            y.withUnsafeMutableBufferPointer { reel_silu_mul_f32($0.baseAddress!, u, Int64(n)) }
            return y
        }
        let want = scalar { siluMul(g.count) }
        for i in g.indices {
            let x = Double(g[i])
            let exact = x / (1 + Foundation.exp(-x)) * Double(u[i])
            let err = abs(Double(want[i]) - exact)
            XCTAssertLessThanOrEqual(err, Self.siluRelative * abs(x * Double(u[i])) + 1e-37,
                                     "scalar silu(\(g[i]))·\(u[i]) = \(want[i]), exact \(exact), abs err \(err)")
        }
        for n in [1, 7, 8, 9, 15, 16, 17, 33, g.count] {
            try forEachFastISA { isa in
                let got = siluMul(n)
                for i in 0..<n where got[i].bitPattern != want[i].bitPattern {
                    XCTFail("\(isa) silu·mul(\(g[i]), \(u[i])) n=\(n) at \(i): \(got[i]) vs scalar \(want[i])")
                }
            }
        }
    }

    /// reel_add_f32 (residual adds, biases): every path equals the Float sum element by element, bit for bit, on
    /// lengths around the vector steps (8, 32), without touching y past n.
    func testAddIsTheFloatSumOnEveryPath() throws {
        var rng = SplitMix64(seed: 25)
        let x: [Float] = (0..<1030).map { _ in rng.gaussian() * 100 } + [.infinity, -.infinity, .nan, 1e-40]
        let y0: [Float] = x.indices.map { _ in rng.gaussian() }
        for n in [1, 7, 8, 9, 31, 32, 33, 63, 65, 1029, x.count - 1] {
            try forEachFastISA { isa in
                var y = y0
                y.withUnsafeMutableBufferPointer { reel_add_f32($0.baseAddress!, x, Int64(n)) }
                for i in y.indices {
                    let want = i < n ? y0[i] + x[i] : y0[i]
                    XCTAssertEqual(y[i].bitPattern, want.bitPattern, "\(isa) add n=\(n) at \(i): \(y[i]) vs \(want)")
                }
            }
        }
    }
}
