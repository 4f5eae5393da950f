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
        let enc: Encoding, n: Int, k: Int, m: Int, per128: Bool
        let w: [UInt8], q8: [UInt8], packed: [UInt8]
        let wd: [Float], ad: [Float]  // dequantised weights and activations, for the error bound

        /// `per128`: activations by `reel_igemm_quantize_act128` (with the scalar twin, so every ISA's GEMM gets the
        /// same bytes), the GEMM `reel_igemm_act128`; `q8` is then empty.
        init(_ enc: Encoding, _ n: Int, _ k: Int, _ m: Int, _ rng: inout SplitMix64, per128: Bool = false) throws {
            self.enc = enc; self.n = n; self.k = k; self.m = m; self.per128 = per128
            let wf = Pattern.mixed.values(n * k, &rng).map { $0 * 0.02 }
            w = try Codec.encode(wf, rows: n, k: k, as: enc)
            let rows = (0..<m).map { i in (i % 3 == 2 ? Pattern.huge : i % 3 == 1 ? .mixed : .gaussian).values(k, &rng) }
            let rowBytes = reel_igemm_act_row_bytes(Int64(k))
            var p = [UInt8](repeating: 0xAA, count: m * rowBytes)
            if per128 {
                q8 = []
                let x = rows.flatMap { $0 }
                let rc = scalar { p.withUnsafeMutableBytes {
                    reel_igemm_quantize_act128(enc.kernelCode, x, k, Int64(m), Int64(k), $0.baseAddress)
                } }
                XCTAssertEqual(rc, Int32(REEL_OK))
                ad = (0..<m).flatMap { i in Self.dequantizePacked(p, row: i, k: k) }
            } else {
                q8 = rows.flatMap { quantizeActivations($0) }
                let q8Bytes = Encoding.q8.rowBytes(k)!
                let rc = q8.withUnsafeBytes { q in p.withUnsafeMutableBytes {
                    reel_igemm_pack_act(enc.kernelCode, q.baseAddress, q8Bytes, Int64(m), Int64(k), $0.baseAddress)
                } }
                XCTAssertEqual(rc, Int32(REEL_OK))
                ad = try Codec.decode(q8, rows: m, k: k, from: .q8)
            }
            packed = p
            wd = try Codec.decode(w, rows: n, k: k, from: enc)
        }

        /// Row i of packed activations as floats: each block's codes × its scale (gemm_q8_internal.h's layout).
        static func dequantizePacked(_ p: [UInt8], row i: Int, k: Int) -> [Float] {
            let base = i * reel_igemm_act_row_bytes(Int64(k))
            return (0..<k).map { j in
                let b = base + (j / 32) * 48
                let d = Float(bitPattern: UInt32(p[b + 32]) | UInt32(p[b + 33]) << 8 | UInt32(p[b + 34]) << 16 | UInt32(p[b + 35]) << 24)
                return Float(Int8(bitPattern: p[b + j % 32])) * d
            }
        }

        /// y [m, n + 2] (two sentinel columns) over columns 1..<n+1 of a matrix whose first and last rows are extra.
        func run(columns: Range<Int>) -> [Float] {
            let ldy = n + 2
            var y = [Float](repeating: -7, count: m * ldy)
            var scratch = [UInt8](repeating: 0, count: reel_igemm_scratch_bytes(Int64(k)))
            let rc = w.withUnsafeBytes { wp in packed.withUnsafeBytes { ap in scratch.withUnsafeMutableBytes { sp in
                y.withUnsafeMutableBufferPointer { yp in
                    (per128 ? reel_igemm_act128 : reel_igemm)(enc.kernelCode, wp.baseAddress, enc.rowBytes(k)!, Int64(columns.lowerBound),
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
        for (enc, per128) in [Encoding.q8, .q4, .q4f].flatMap({ e in [(e, false), (e, true)] }) {
            for s in Self.shapes {
                let c = try Case(enc, s.n, s.k, s.m, &rng, per128: per128)
                let columns = s.n > 2 ? 1..<(s.n - 1) : 0..<s.n
                let want = scalar { c.run(columns: columns) }
                try forEachFastISA { isa in
                    let got = c.run(columns: columns)
                    if let i = got.indices.first(where: { got[$0].bitPattern != want[$0].bitPattern }) {
                        XCTFail("\(isa) \(enc) per128 \(per128) n=\(s.n) k=\(s.k) m=\(s.m): row \(i / (s.n + 2)) column \(i % (s.n + 2) - 1): "
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

    /// Activations with a scale per 128 against the dequantised rows in Double (no dot kernel takes them): the same
    /// bound as the per-block GEMM's.
    func testPer128MatchesTheDequantisedProduct() throws {
        var rng = SplitMix64(seed: 23)
        for enc in [Encoding.q8, .q4, .q4f] {
            for s in Self.shapes {
                let c = try Case(enc, s.n, s.k, s.m, &rng, per128: true)
                for isa in KernelISA.available {
                    try KernelISA.force(isa)
                    let y = c.run(columns: 0..<s.n)
                    for i in 0..<s.m {
                        for r in 0..<s.n {
                            var bound = 0.0, exact = 0.0
                            for j in 0..<s.k {
                                let p = Double(c.wd[r * s.k + j]) * Double(c.ad[i * s.k + j])
                                bound += abs(p); exact += p
                            }
                            let got = Double(y[i * (s.n + 2) + r + 1])
                            XCTAssertLessThanOrEqual(abs(got - exact), Self.gemmVsDotTolerance * bound + 1e-30,
                                "\(isa) \(enc) n=\(s.n) k=\(s.k) m=\(s.m) [\(i), \(r)]: gemm \(got) vs dequantised \(exact)")
                        }
                    }
                }
                try KernelISA.force(KernelISA.detected)
            }
        }
    }

    /// `reel_igemm_quantize_act128` against its definition (include/reel_gemm.h), restated here in Swift: per span of
    /// 128 elements d = max|x| / 127 in f32, codes rne(x · (1/d)) clamped to ±127, zeros past k, each block's
    /// corrections −o·Σ over its codes; and every ISA's bytes equal the scalar twin's, including rows of zeros, of huge
    /// values, of values so small that 1/d overflows, and with ∞ or NaN.
    func testPer128QuantiserFollowsItsDefinitionOnEveryISA() throws {
        var rng = SplitMix64(seed: 24)
        for enc in [Encoding.q8, .q4, .q4f] {
            let o: Int32 = enc == .q8 ? 128 : 8
            for k in [1, 15, 16, 17, 31, 32, 33, 100, 127, 128, 129, 200, 1152, 4304] {
                var rows = Pattern.allCases.map { $0.values(k, &rng) }
                var special = Pattern.gaussian.values(k, &rng)
                special[k / 2] = .infinity
                rows.append(special)
                special[k / 2] = .nan
                rows.append(special)
                rows.append(Pattern.gaussian.values(k, &rng).map { $0 * 1e-38 })  // 1/d overflows to ∞
                let m = rows.count, ldx = k + 3  // rows ldx floats apart, with junk between them
                var x = [Float](repeating: .nan, count: m * ldx)
                for (i, r) in rows.enumerated() { x.replaceSubrange((i * ldx)..<(i * ldx + k), with: r) }
                let rowBytes = reel_igemm_act_row_bytes(Int64(k))
                func quantize() -> [UInt8] {
                    var p = [UInt8](repeating: 0xAA, count: m * rowBytes)
                    let rc = p.withUnsafeMutableBytes { reel_igemm_quantize_act128(enc.kernelCode, x, ldx, Int64(m), Int64(k), $0.baseAddress) }
                    XCTAssertEqual(rc, Int32(REEL_OK))
                    return p
                }
                let want = scalar { quantize() }
                for (i, r) in rows.enumerated() where !r.contains(where: { !$0.isFinite }) {
                    let spans = stride(from: 0, to: k, by: 128).map { r[$0..<min($0 + 128, k)].reduce(Float(0)) { max($0, abs($1)) } / 127 }
                    let codes = (0..<((k + 31) / 32 * 32)).map { j -> Int32 in
                        guard j < k else { return 0 }
                        let d = spans[j / 128], id: Float = d != 0 ? 1 / d : 0
                        return Int32(min(max(r[j] * id, -127), 127).rounded(.toNearestOrEven))
                    }
                    for b in 0..<((k + 31) / 32) {
                        let d = spans[b / 4]
                        let at = i * rowBytes + b * 48
                        let got = (0..<32).map { Int32(Int8(bitPattern: want[at + $0])) }
                        XCTAssertEqual(got, Array(codes[(b * 32)..<(b * 32 + 32)]), "\(enc) k=\(k) row \(i) block \(b)")
                        let words = (0..<4).map { w in (0..<4).reduce(UInt32(0)) { $0 | UInt32(want[at + 32 + 4 * w + $1]) << (8 * $1) } }
                        XCTAssertEqual(Float(bitPattern: words[0]), d, "\(enc) k=\(k) row \(i) block \(b) scale")
                        let lo = got[..<16].reduce(0, +), hi = got[16...].reduce(0, +)
                        XCTAssertEqual(words[1...].map { Int32(bitPattern: $0) }, [-o * (lo + hi), -o * lo, -o * hi],
                                       "\(enc) k=\(k) row \(i) block \(b) corrections")
                    }
                }
                try forEachFastISA { isa in
                    let got = quantize()
                    if let j = got.indices.first(where: { got[$0] != want[$0] }) {
                        XCTFail("\(isa) \(enc) k=\(k): byte \(j) (row \(j / rowBytes)) \(got[j]) vs scalar \(want[j])")
                    }
                }
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
        XCTAssertEqual(reel_igemm_act128(Encoding.f32.kernelCode, w, 128, 0, 1, 32, a, 1, &y, 1, &s), Int32(REEL_ERR_BAD_ARGUMENT))
        let x = [Float](repeating: 1, count: 64)
        XCTAssertEqual(reel_igemm_quantize_act128(Encoding.bf16.kernelCode, x, 32, 1, 32, &s), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_igemm_quantize_act128(Encoding.q8.kernelCode, x, 16, 2, 32, &s), Int32(REEL_ERR_BAD_ARGUMENT))  // ldx < k
        XCTAssertEqual(reel_igemm_quantize_act128(Encoding.q8.kernelCode, x, 32, 2, 32, &s), Int32(REEL_OK))
    }
}
