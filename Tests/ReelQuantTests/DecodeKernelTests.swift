import CKernels
import ReelQuant
import XCTest

/// The decode-side kernels added for issue 7's decode evidence: the q8 and q4 decode gemvs and the read-only bound's
/// stream, each against its scalar twin on odd sizes.
final class DecodeKernelTests: XCTestCase {
    /// reel_gemv on q8 weights, one activation row, every ISA against per-row scalar dots (`checkDecodeGemv`). k =
    /// 16384 is the VNNI gemv's largest prepared activation, 16416 one block past it (the tile path's fallback).
    func testQ8DecodeGemvMatchesScalar() throws {
        try checkDecodeGemv(.q8, ks: oddSizes + [16384, 16416], seed: 11)
    }

    /// reel_gemv on q4 weights, every ISA (the avx512vnni one with and without its VBMI gemv). k covers the VBMI
    /// gemv's groups of 4 blocks with tails of 0–3 blocks (k = 160: one group + 1 block; 4097: 32 groups + 1), fewer
    /// than 4 blocks (its fallback), its largest prepared activation (16384 = 128 groups) and one group past it
    /// (16512: the 256-bit gemv's fallback, the tile path).
    func testQ4DecodeGemvMatchesScalar() throws {
        try checkDecodeGemv(.q4, ks: oddSizes + [160, 224, 16384, 16512], seed: 12)
    }

    /// One activation row through reel_gemv on `enc` weights, every fast ISA against the scalar twin: |fast − scalar|
    /// ≤ `KernelParityTests.quantDotTolerance` × Σ|ŵ·â| per row (the integer block sums are exact; only the float
    /// summation order differs), and rows outside the range untouched. 11 rows in a range of 9 cover the 4-row steps,
    /// the 1-row tails and the one-row-at-a-time paths.
    private func checkDecodeGemv(_ enc: Encoding, ks: [Int], seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let n = 11, range = 1..<10
        for k in ks {
            for p in [Pattern.gaussian, .mixed, .huge, .zeros] {
                let rows = (0..<n).map { _ in p.values(k, &rng) }
                let w = rows.flatMap { quantize($0, enc) }
                let rb = enc.rowBytes(k)!
                let a = quantizeActivations(Pattern.mixed.values(k, &rng))
                let ad = dequantize(a, .q8, k: k)
                func gemv() -> [Float] {
                    var y = [Float](repeating: -7, count: n)
                    let rc = w.withUnsafeBytes { wp in a.withUnsafeBytes { ap in
                        reel_gemv(enc.kernelCode, wp.baseAddress, rb, Int64(range.lowerBound),
                                  Int64(range.upperBound), Int64(k), ap.baseAddress, &y)
                    } }
                    XCTAssertEqual(rc, Int32(REEL_OK))
                    return y
                }
                let want = scalar { gemv() }
                try forEachFastISA { isa in
                    let got = gemv()
                    let path = "\(isa)" + (reel_vbmi_enabled() != 0 ? " (VBMI)" : "")
                    for r in 0..<n {
                        guard range.contains(r) else { XCTAssertEqual(got[r], -7, "\(path) wrote row \(r)"); continue }
                        let wd = dequantize(Array(w[(r * rb)..<((r + 1) * rb)]), enc, k: k)
                        let bound = zip(wd, ad).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                        let err = abs(Double(got[r]) - Double(want[r]))
                        XCTAssertLessThanOrEqual(err, KernelParityTests.quantDotTolerance * bound + 1e-30,
                            "\(path) \(enc) gemv k=\(k) \(p) row \(r): got \(got[r]), scalar \(want[r]), abs err \(err), rel \(err / max(bound, 1e-30))")
                    }
                }
            }
        }
    }

    /// reel_read_xor: every ISA returns exactly the scalar twin's value, and the scalar twin is the XOR of the 8-byte
    /// little-endian words (the last one zero-padded), computed here independently; odd lengths and unaligned starts.
    func testReadXorMatchesScalarAndDefinition() throws {
        var rng = SplitMix64(seed: 12)
        let bytes = (0..<5000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for n in [0, 1, 7, 8, 9, 31, 63, 64, 65, 127, 255, 256, 257, 1000, 4097] {
            for start in [0, 1, 2, 3, 34] {
                let slice = Array(bytes[start..<(start + n)])
                var want: UInt64 = 0
                for w in stride(from: 0, to: n, by: 8) {
                    var v: UInt64 = 0
                    for (j, b) in slice[w..<min(w + 8, n)].enumerated() { v |= UInt64(b) << (8 * j) }
                    want ^= v
                }
                func read() -> UInt64 { bytes.withUnsafeBytes { reel_read_xor($0.baseAddress! + start, n) } }
                XCTAssertEqual(scalar { read() }, want, "scalar read_xor n=\(n) start=\(start)")
                try forEachFastISA { isa in XCTAssertEqual(read(), want, "\(isa) read_xor n=\(n) start=\(start)") }
            }
        }
    }
}
