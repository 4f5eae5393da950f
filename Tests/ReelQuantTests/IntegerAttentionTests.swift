import CKernels
import Foundation
import XCTest

/// reel_attention_i16 (docs/kernels.md "Integer attention"): the scalar twin against a Double reference, every
/// vector path bit-identical to the scalar twin (the integer sums are exact and the float epilogues the same
/// operations), reel_softmax_exp_f32 bit-identical on every path, and bad arguments refused.
final class IntegerAttentionTests: XCTestCase {
    /// One head: q, k, v [s, ld] (the head in the first d columns), scores ~ `spread` standard deviations.
    struct Head {
        let s: Int, d: Int, ld: Int
        var q: [Float], k: [Float], v: [Float]
        init(s: Int, d: Int, spread: Float, seed: UInt64) {
            self.s = s; self.d = d; ld = d + 3
            var rng = SplitMix64(seed: seed)
            let a = spread.squareRoot()   // q·k/√d then has standard deviation a² = spread
            q = (0..<(s * ld)).map { _ in rng.gaussian() * a }
            k = (0..<(s * ld)).map { _ in rng.gaussian() * a }
            v = (0..<(s * ld)).map { _ in rng.gaussian() }
        }
        var scale: Float { 1 / Float(d).squareRoot() }

        func run() -> [Float] {
            var out = [Float](repeating: .nan, count: s * ld)
            var scratch = [UInt8](repeating: 0, count: reel_attention_i16_scratch_bytes(Int64(s), Int64(d)))
            let rc = scratch.withUnsafeMutableBytes { sc in
                reel_attention_i16(q, k, v, Int64(ld), Int64(s), Int64(d), scale, &out, Int64(ld), sc.baseAddress!)
            }
            XCTAssertEqual(rc, 0)
            return out
        }

        /// softmax(q·kᵀ·scale)·v in Double.
        func reference() -> [Double] {
            var out = [Double](repeating: 0, count: s * ld)
            for i in 0..<s {
                var p = (0..<s).map { j in (0..<d).reduce(0.0) { $0 + Double(q[i * ld + $1]) * Double(k[j * ld + $1]) } * Double(scale) }
                let m = p.max()!
                p = p.map { Foundation.exp($0 - m) }
                let sum = p.reduce(0, +)
                for c in 0..<d { out[i * ld + c] = (0..<s).reduce(0.0) { $0 + p[$1] * Double(v[$1 * ld + c]) } / sum }
            }
            return out
        }
    }

    static let shapes: [(s: Int, d: Int)] = [(1, 1), (2, 5), (17, 13), (48, 8), (50, 72), (97, 64), (161, 72)]

    /// |scalar − reference| ≤ this × max|v|: 16-bit codes, each ≤ ½ code off (q, k ±5461 per row, v ±16383 per
    /// column, probabilities ±½ of 1/32767); measured worst 6e-4 on these shapes.
    static let relative: Double = 2e-3

    func testScalarTwinMatchesDoubleReference() {
        for (n, shape) in Self.shapes.enumerated() {
            for spread: Float in [0.5, 3] {
                let h = Head(s: shape.s, d: shape.d, spread: spread, seed: UInt64(n * 10) + UInt64(spread))
                let got = scalar { h.run() }, want = h.reference()
                let vmax = Double(h.v.map(abs).max()!)
                var worst = 0.0
                for i in 0..<h.s {
                    for c in 0..<h.d {
                        worst = max(worst, abs(Double(got[i * h.ld + c]) - want[i * h.ld + c]))
                    }
                    for c in h.d..<h.ld { XCTAssertTrue(got[i * h.ld + c].isNaN, "column \(c) ≥ d was written") }
                }
                XCTAssertLessThanOrEqual(worst, Self.relative * vmax, "s \(h.s) d \(h.d) spread \(spread): max-abs \(worst)")
            }
        }
    }

    func testVectorPathsAreBitIdenticalToScalar() throws {
        for (n, shape) in (Self.shapes + [(729, 72)]).enumerated() {
            let h = Head(s: shape.s, d: shape.d, spread: 3, seed: UInt64(100 + n))
            let want = scalar { h.run() }
            try forEachFastISA { isa in
                let got = h.run()
                let diff = got.indices.first { got[$0].bitPattern != want[$0].bitPattern }
                XCTAssertNil(diff, "\(isa) s \(h.s) d \(h.d): differs from the scalar twin at \(diff ?? -1)")
            }
        }
    }

    func testSoftmaxExpIsBitIdenticalOnEveryPath() throws {
        var rng = SplitMix64(seed: 7)
        let x: [Float] = [0, -Float.infinity, -100, 88] + (0..<1001).map { _ in rng.gaussian() * 20 }
        for n in [1, 7, 16, 17, 31, x.count] {
            func run() -> [Float] {
                var y = Array(x.prefix(n))
                reel_softmax_exp_f32(&y, Int64(n))
                return y
            }
            let want = scalar { run() }
            XCTAssertEqual(want.max(), 1, "n \(n): the largest must be e^0 = 1")
            try forEachFastISA { isa in
                let got = run()
                XCTAssertNil(got.indices.first { got[$0].bitPattern != want[$0].bitPattern }, "\(isa) n \(n)")
            }
        }
    }

    func testZeroAndNonFiniteInputsStayInBounds() {
        var h = Head(s: 20, d: 8, spread: 1, seed: 3)
        for i in 0..<h.q.count { h.q[i] = 0 }   // all scores 0: the output is the mean of v
        let got = h.run()
        for c in 0..<h.d {
            let mean = (0..<h.s).reduce(0.0) { $0 + Double(h.v[$1 * h.ld + c]) } / Double(h.s)
            XCTAssertEqual(Double(got[c]), mean, accuracy: 1e-3 * Double(h.v.map(abs).max()!))
        }
        h.k[5] = .nan
        h.v[9] = .infinity
        _ = h.run()   // unspecified values, but it must return
    }

    func testBadArgumentsAreRefused() {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        let x = [Float](repeating: 1, count: 64)
        var out = [Float](repeating: 0, count: 64)
        scratch.withUnsafeMutableBytes { sc in
            XCTAssertEqual(reel_attention_i16(x, x, x, 8, 0, 8, 1, &out, 8, sc.baseAddress!), -2, "s = 0")
            XCTAssertEqual(reel_attention_i16(x, x, x, 4, 8, 8, 1, &out, 8, sc.baseAddress!), -2, "ld < d")
            XCTAssertEqual(reel_attention_i16(x, x, x, 8, 65537, 8, 1, &out, 8, sc.baseAddress!), -2, "s > 65536")
        }
        XCTAssertEqual(reel_attention_i16_scratch_bytes(0, 8), 0)
    }
}
