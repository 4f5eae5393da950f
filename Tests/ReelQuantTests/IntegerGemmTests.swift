import CKernels
import ReelQuant
import XCTest

/// The integer GEMM (`reel_igemm`, include/reel_gemm.h): every ISA path against the scalar twin, and against the dot
/// kernels it replaces for prefill, on sizes that are not multiples of the tiles (16/32 columns, 6 rows, 32 elements).
final class IntegerGemmTests: XCTestCase {
    /// GEMM vs the dot kernels: the integer block sums are identical; only the float accumulation differs (one fused
    /// multiply-add per block here, multiply then add — in another order on the vector paths — there), so
    /// |gemm − dot| ≤ this × Σ|ŵᵢ·âᵢ|, as `KernelParityTests.quantDotTolerance`.
    static let gemmVsDotTolerance: Double = 2e-5

    /// (columns, k, activation rows): partial panels, partial blocks, row tails of every length.
    static let shapes: [(n: Int, k: Int, m: Int)] = [
        (1, 1, 1), (3, 7, 2), (16, 32, 6), (17, 33, 5), (31, 63, 7), (33, 95, 13), (37, 1000, 3), (50, 4097, 9),
        (64, 64, 12), (70, 17, 1),
    ]

    struct Case {
        let enc: Encoding, n: Int, k: Int, m: Int
        let w: [UInt8], q8: [UInt8], packed: [UInt8]
        let wd: [Float], ad: [Float]  // dequantised weights and activations, for the error bound

        init(_ enc: Encoding, _ n: Int, _ k: Int, _ m: Int, _ rng: inout SplitMix64) throws {
            self.enc = enc; self.n = n; self.k = k; self.m = m
            let wf = Pattern.mixed.values(n * k, &rng).map { $0 * 0.02 }
            w = try Codec.encode(wf, rows: n, k: k, as: enc)
            let rows = (0..<m).map { i in (i % 3 == 2 ? Pattern.huge : .gaussian).values(k, &rng) }
            q8 = rows.flatMap { quantizeActivations($0) }
            var p = [UInt8](repeating: 0xAA, count: m * reel_igemm_act_row_bytes(Int64(k)))
            let q8Bytes = Encoding.q8.rowBytes(k)!
            let rc = q8.withUnsafeBytes { q in p.withUnsafeMutableBytes {
                reel_igemm_pack_act(enc.kernelCode, q.baseAddress, q8Bytes, Int64(m), Int64(k), $0.baseAddress)
            } }
            XCTAssertEqual(rc, Int32(REEL_OK))
            packed = p
            wd = try Codec.decode(w, rows: n, k: k, from: enc)
            ad = try Codec.decode(q8, rows: m, k: k, from: .q8)
        }

        /// y [m, n + 2] (two sentinel columns) over columns 1..<n+1 of a matrix whose first and last rows are extra.
        func run(columns: Range<Int>) -> [Float] {
            let ldy = n + 2
            var y = [Float](repeating: -7, count: m * ldy)
            var scratch = [UInt8](repeating: 0, count: reel_igemm_scratch_bytes(Int64(k)))
            let rc = w.withUnsafeBytes { wp in packed.withUnsafeBytes { ap in scratch.withUnsafeMutableBytes { sp in
                y.withUnsafeMutableBufferPointer { yp in
                    reel_igemm(enc.kernelCode, wp.baseAddress, enc.rowBytes(k)!, Int64(columns.lowerBound),
                               Int64(columns.upperBound), Int64(k), ap.baseAddress, Int64(m), yp.baseAddress! + 1,
                               Int64(ldy), sp.baseAddress)
                }
            } } }
            XCTAssertEqual(rc, Int32(REEL_OK))
            return y
        }
    }

    func testEveryISAIsBitIdenticalToTheScalarTwin() throws {
        var rng = SplitMix64(seed: 21)
        for enc in [Encoding.q8, .q4, .q4f] {
            for s in Self.shapes {
                let c = try Case(enc, s.n, s.k, s.m, &rng)
                let columns = s.n > 2 ? 1..<(s.n - 1) : 0..<s.n
                let want = scalar { c.run(columns: columns) }
                try forEachFastISA { isa in
                    let got = c.run(columns: columns)
                    if let i = got.indices.first(where: { got[$0].bitPattern != want[$0].bitPattern }) {
                        XCTFail("\(isa) \(enc) n=\(s.n) k=\(s.k) m=\(s.m): row \(i / (s.n + 2)) column \(i % (s.n + 2) - 1): "
                                + "\(got[i]) vs scalar \(want[i])")
                    }
                }
                // Only the asked columns are written.
                for i in 0..<s.m {
                    for j in 0..<(s.n + 2) where !columns.contains(j - 1) {
                        XCTAssertEqual(want[i * (s.n + 2) + j], -7, "\(enc) n=\(s.n) k=\(s.k) m=\(s.m) wrote column \(j - 1)")
                    }
                }
            }
        }
    }

    /// Against the dot kernels (each ISA's own) and against the dequantised rows in Double.
    func testMatchesTheDotKernels() throws {
        var rng = SplitMix64(seed: 22)
        for enc in [Encoding.q8, .q4, .q4f] {
            for s in Self.shapes {
                let c = try Case(enc, s.n, s.k, s.m, &rng)
                let rb = enc.rowBytes(s.k)!, ab = Encoding.q8.rowBytes(s.k)!
                for isa in KernelISA.available {
                    try KernelISA.force(isa)
                    let y = c.run(columns: 0..<s.n)
                    for i in 0..<s.m {
                        for r in 0..<s.n {
                            let dot = dotQ(Array(c.w[(r * rb)..<((r + 1) * rb)]), enc, Array(c.q8[(i * ab)..<((i + 1) * ab)]), k: s.k)
                            var bound = 0.0, exact = 0.0
                            for j in 0..<s.k {
                                let p = Double(c.wd[r * s.k + j]) * Double(c.ad[i * s.k + j])
                                bound += abs(p); exact += p
                            }
                            let got = Double(y[i * (s.n + 2) + r + 1])
                            let err = abs(got - Double(dot)), errExact = abs(got - exact)
                            XCTAssertLessThanOrEqual(err, Self.gemmVsDotTolerance * bound + 1e-30,
                                "\(isa) \(enc) n=\(s.n) k=\(s.k) m=\(s.m) [\(i), \(r)]: gemm \(got), dot \(dot), abs err \(err), rel \(err / max(bound, 1e-30))")
                            XCTAssertLessThanOrEqual(errExact, Self.gemmVsDotTolerance * bound + 1e-30,
                                "\(isa) \(enc) [\(i), \(r)]: gemm \(got) vs dequantised \(exact)")
                        }
                    }
                }
                try KernelISA.force(KernelISA.detected)
            }
        }
    }

    func testBadArguments() {
        var y = [Float](repeating: 0, count: 4)
        let w = [UInt8](repeating: 0, count: 64), a = [UInt8](repeating: 0, count: 64)
        var s = [UInt8](repeating: 0, count: reel_igemm_scratch_bytes(32))
        func call(_ enc: Encoding, rowBytes: Int, _ c0: Int64, _ c1: Int64, k: Int64) -> Int32 {
            reel_igemm(enc.kernelCode, w, rowBytes, c0, c1, k, a, 1, &y, 1, &s)
        }
        XCTAssertEqual(call(.f32, rowBytes: 128, 0, 1, k: 32), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(call(.q8, rowBytes: 33, 0, 1, k: 32), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(call(.q8, rowBytes: 34, 1, 0, k: 32), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(call(.q8, rowBytes: 34, 0, 0, k: 32), Int32(REEL_OK))
        XCTAssertEqual(reel_igemm_pack_act(Encoding.bf16.kernelCode, a, 34, 1, 32, &s), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_igemm_act_row_bytes(33), 96)
    }
}
