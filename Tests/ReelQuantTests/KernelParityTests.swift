import CKernels
import ReelQuant
import XCTest

/// Every vector kernel against its scalar twin, on every ISA this machine runs (STYLE.md habit 7).
final class KernelParityTests: XCTestCase {
    /// Quantised dots: |fast − scalar| ≤ this × Σ|ŵᵢ·âᵢ| (only the float summation order differs).
    static let quantDotTolerance: Double = 2e-5
    /// Float dots: |fast − scalar| ≤ this × Σ|xᵢ·yᵢ|.
    static let floatDotTolerance: Double = 2e-5

    func testActivationQuantiserIsBitIdentical() throws {
        var rng = SplitMix64(seed: 1)
        for k in oddSizes {
            for p in Pattern.allCases {
                let x = p.values(k, &rng)
                let want = scalar { quantizeActivations(x) }
                try forEachFastISA { isa in
                    let got = quantizeActivations(x)
                    if let i = got.indices.first(where: { got[$0] != want[$0] }) {
                        XCTFail("\(isa) q8 activations k=\(k) \(p): first differing byte \(i): \(got[i]) vs \(want[i])")
                    }
                }
            }
        }
    }

    func testQuantisedDotsMatchScalar() throws {
        var rng = SplitMix64(seed: 2)
        for enc in [Encoding.q8, .q4, .q4f] {
            for k in oddSizes {
                for p in Pattern.allCases {
                    let w = quantize(p.values(k, &rng), enc)
                    let a = quantizeActivations(Pattern.gaussian.values(k, &rng))
                    let wd = dequantize(w, enc, k: k), ad = dequantize(a, .q8, k: k)
                    let bound = zip(wd, ad).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                    let want = scalar { dotQ(w, enc, a, k: k) }
                    let exact = zip(wd, ad).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    XCTAssertLessThanOrEqual(abs(Double(want) - exact), 1e-5 * bound + 1e-30,
                                             "scalar \(enc) dot k=\(k) \(p) vs the dequantised rows")
                    try forEachFastISA { isa in
                        let got = dotQ(w, enc, a, k: k)
                        let err = abs(Double(got) - Double(want))
                        XCTAssertLessThanOrEqual(err, Self.quantDotTolerance * bound + 1e-30,
                            "\(isa) \(enc)·q8 k=\(k) \(p): got \(got), scalar \(want), abs err \(err), rel \(err / max(bound, 1e-30))")
                    }
                }
            }
        }
    }

    func testFloatDotsMatchScalar() throws {
        var rng = SplitMix64(seed: 3)
        for k in oddSizes {
            let x = Pattern.gaussian.values(k, &rng), y = Pattern.mixed.values(k, &rng)
            var h = [UInt16](repeating: 0, count: k), b = [UInt16](repeating: 0, count: k)
            scalar {
                x.withUnsafeBufferPointer { xp in
                    h.withUnsafeMutableBufferPointer { HalfConversion.f32ToF16(xp, into: $0) }
                    b.withUnsafeMutableBufferPointer { HalfConversion.f32ToBF16(xp, into: $0) }
                }
            }
            let bound = zip(x, y).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            func dots() -> [Float] {
                [reel_dot_f32(x, y, Int64(k)), reel_dot_f16_f32(h, y, Int64(k)), reel_dot_bf16_f32(b, y, Int64(k))]
            }
            let want = scalar { dots() }
            try forEachFastISA { isa in
                for (name, (g, w)) in zip(["f32", "f16", "bf16"], zip(dots(), want)) {
                    let err = abs(Double(g) - Double(w))
                    XCTAssertLessThanOrEqual(err, Self.floatDotTolerance * bound + 1e-30,
                        "\(isa) \(name) dot k=\(k): got \(g), scalar \(w), abs err \(err), rel \(err / max(bound, 1e-30))")
                }
            }
        }
    }

    /// f16 → f32 on all 65 536 inputs, bf16 → f32 likewise; f32 → f16/bf16 on specials and random bit patterns.
    func testConversionsAreBitExact() throws {
        let allHalves = (0...0xFFFF).map { UInt16($0) }
        func widen(_ f: (UnsafeBufferPointer<UInt16>, UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
            var out = [Float](repeating: 0, count: allHalves.count)
            allHalves.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { f(s, $0) } }
            return out
        }
        var rng = SplitMix64(seed: 4)
        var floats: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, 65536, -65520, .infinity, -.infinity, .nan,
                               Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFC1_2345), 5.96e-8, 2.98e-8,
                               2.99e-8, 6.1e-5, 6.0e-5, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1.0009765625, 1.00048828125,
                               1.000732421875, 3.3895314e38]
        floats += (0..<20_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        floats += (0..<20_000).map { _ in rng.gaussian() * 1e-5 }
        func narrow(_ f: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<UInt16>) -> Void) -> [UInt16] {
            var out = [UInt16](repeating: 0, count: floats.count)
            floats.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { f(s, $0) } }
            return out
        }
        let (f16w, bf16w, f16n, bf16n) = scalar {
            (widen(HalfConversion.f16ToF32), widen(HalfConversion.bf16ToF32),
             narrow(HalfConversion.f32ToF16), narrow(HalfConversion.f32ToBF16))
        }
        // The scalar twins against Swift's own Float16 (an independent reference) and the bf16 definition.
        for (i, h) in allHalves.enumerated() {
            let ref = Float(Float16(bitPattern: h))
            XCTAssert(ref.isNaN ? f16w[i].isNaN : ref.bitPattern == f16w[i].bitPattern, "scalar f16 \(h) → \(f16w[i])")
            XCTAssertEqual(bf16w[i].bitPattern, UInt32(h) << 16)
        }
        for (i, f) in floats.enumerated() {
            let ref = Float16(f)
            XCTAssert(f.isNaN ? Float16(bitPattern: f16n[i]).isNaN : ref.bitPattern == f16n[i],
                      "scalar f32 \(f) → f16 \(f16n[i]), want \(ref.bitPattern)")
            if f.isNaN { XCTAssert(Float(bitPattern: UInt32(bf16n[i]) << 16).isNaN, "bf16 NaN lost for \(f)") }
        }
        try forEachFastISA { isa in
            let (a, b, c, d) = (widen(HalfConversion.f16ToF32), widen(HalfConversion.bf16ToF32),
                                narrow(HalfConversion.f32ToF16), narrow(HalfConversion.f32ToBF16))
            for i in allHalves.indices {
                let same = f16w[i].isNaN ? a[i].isNaN : a[i].bitPattern == f16w[i].bitPattern
                XCTAssert(same, "\(isa) f16→f32 of \(allHalves[i]): \(a[i]) vs scalar \(f16w[i])")
                XCTAssertEqual(b[i].bitPattern, bf16w[i].bitPattern, "\(isa) bf16→f32 of \(allHalves[i])")
            }
            for i in floats.indices {
                XCTAssertEqual(c[i], f16n[i], "\(isa) f32→f16 of \(floats[i]) (bits \(floats[i].bitPattern))")
                XCTAssertEqual(d[i], bf16n[i], "\(isa) f32→bf16 of \(floats[i]) (bits \(floats[i].bitPattern))")
            }
        }
    }

    /// reel_gemv / reel_gemm_rows against per-row scalar dots, on a row range, leaving other outputs untouched.
    func testGemvAndGemmMatchDots() throws {
        var rng = SplitMix64(seed: 5)
        let n = 9, range = 2..<7
        for enc in Encoding.allCases {
            // 16448 = 257 pairs of blocks: past the VNNI q4 decode gemv's prepared-activation limit (its fallback).
            for k in [1, 33, 95, 1000, 16448] {
                for m in k > 1000 ? [1] : [1, 3, 4, 5, 9] {
                    let wf = Pattern.mixed.values(n * k, &rng)
                    let w = try Codec.encode(wf, rows: n, k: k, as: enc)
                    let rowBytes = enc.rowBytes(k)!
                    let xf = (0..<m).map { _ in Pattern.gaussian.values(k, &rng) }
                    // Activations: q8 rows for quantised weights, f32 rows otherwise.
                    let xRowBytes = enc.isQuantized ? Encoding.q8.rowBytes(k)! : 4 * k
                    let x: [UInt8] = enc.isQuantized ? xf.flatMap { quantizeActivations($0) }
                                                     : xf.flatMap { $0.withUnsafeBytes { Array($0) } }
                    func run() -> [Float] {
                        var y = [Float](repeating: -7, count: m * n)
                        let rc = w.withUnsafeBytes { wp in x.withUnsafeBytes { xp in
                            m == 1 ? reel_gemv(enc.kernelCode, wp.baseAddress, rowBytes, Int64(range.lowerBound),
                                               Int64(range.upperBound), Int64(k), xp.baseAddress, &y)
                                   : reel_gemm_rows(enc.kernelCode, wp.baseAddress, rowBytes, Int64(range.lowerBound),
                                                    Int64(range.upperBound), Int64(k), xp.baseAddress, xRowBytes,
                                                    Int64(m), &y, Int64(n))
                        } }
                        XCTAssertEqual(rc, Int32(REEL_OK))
                        return y
                    }
                    // The reference: scalar per-row dots.
                    let want: [Float] = scalar {
                        var y = [Float](repeating: -7, count: m * n)
                        for i in 0..<m {
                            let xi = Array(x[(i * xRowBytes)..<((i + 1) * xRowBytes)])
                            for r in range {
                                let wr = Array(w[(r * rowBytes)..<((r + 1) * rowBytes)])
                                switch enc {
                                case .q8, .q4, .q4f: y[i * n + r] = dotQ(wr, enc, xi, k: k)
                                case .f32: y[i * n + r] = reel_dot_f32(wf.withUnsafeBufferPointer { Array($0[(r * k)..<((r + 1) * k)]) }, xf[i], Int64(k))
                                case .f16, .bf16:
                                    let h = wr.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
                                    y[i * n + r] = enc == .f16 ? reel_dot_f16_f32(h, xf[i], Int64(k)) : reel_dot_bf16_f32(h, xf[i], Int64(k))
                                }
                            }
                        }
                        return y
                    }
                    for isa in KernelISA.available {
                        try KernelISA.force(isa)
                        let got = run()
                        let (maxAbs, rel, at) = compare(got, want)
                        XCTAssertLessThanOrEqual(rel, 1e-4, "\(isa) \(enc) gemm m=\(m) k=\(k): max-abs \(maxAbs) rel \(rel) at \(at)")
                        for i in 0..<m { for r in 0..<n where !range.contains(r) {
                            XCTAssertEqual(got[i * n + r], -7, "\(isa) \(enc) wrote outside its row range")
                        } }
                    }
                    try KernelISA.force(KernelISA.detected)
                }
            }
        }
    }
}
