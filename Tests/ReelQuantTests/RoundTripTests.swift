import CKernels
import ReelQuant
import XCTest

/// Encode → decode for every encoding, and the Codec's error cases.
final class RoundTripTests: XCTestCase {
    /// Per element, |w − ŵ| ≤ this × the block's (or q4f half-block's) max |w|: one q8 step is max/127.
    static let q8StepBound: Float = 1.0 / 127 * 1.01
    /// One int4 step is about max/8; the search may clamp the largest element by up to half a step more.
    static let q4StepBound: Float = 1.0 / 7 * 1.01

    func testFloatEncodingsRoundTripExactly() throws {
        var rng = SplitMix64(seed: 10)
        for k in oddSizes {
            let x = Pattern.mixed.values(3 * k, &rng)
            XCTAssertEqual(try Codec.decode(Codec.encode(x, rows: 3, k: k, as: .f32), rows: 3, k: k, from: .f32), x)
            // Values representable in f16 / bf16 come back bit for bit (every ISA).
            let halves = (0..<(3 * k)).map { _ in Float(Float16(bitPattern: UInt16(truncatingIfNeeded: rng.next()) & 0x7BFF)) }
            let bf = x.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) }
            for isa in KernelISA.available {
                try KernelISA.force(isa)
                XCTAssertEqual(try Codec.decode(Codec.encode(halves, rows: 3, k: k, as: .f16), rows: 3, k: k, from: .f16),
                               halves, "\(isa) f16 k=\(k)")
                XCTAssertEqual(try Codec.decode(Codec.encode(bf, rows: 3, k: k, as: .bf16), rows: 3, k: k, from: .bf16),
                               bf, "\(isa) bf16 k=\(k)")
            }
            try KernelISA.force(KernelISA.detected)
        }
    }

    func testQuantisedRoundTripErrorIsBoundedPerBlock() throws {
        var rng = SplitMix64(seed: 11)
        for enc in [Encoding.q8, .q4, .q4f] {
            let group = enc == .q4f ? 16 : 32
            let bound = enc == .q8 ? Self.q8StepBound : Self.q4StepBound
            for k in oddSizes {
                for p in Pattern.allCases {
                    let rows = 2
                    let x = p.values(rows * k, &rng)
                    let y = try Codec.decode(Codec.encode(x, rows: rows, k: k, as: enc), rows: rows, k: k, from: enc)
                    for r in 0..<rows {
                        for g in stride(from: 0, to: k, by: group) {
                            let idx = (r * k + g)..<(r * k + min(g + group, k))
                            let amax = x[idx].map(abs).max()!
                            // The f16 scale's own rounding adds 2⁻¹¹ relative; tiny scales lose more (f16 subnormals).
                            let slack = amax * 1e-3 + 1e-7
                            for i in idx {
                                XCTAssertLessThanOrEqual(abs(x[i] - y[i]), bound * amax + slack,
                                    "\(enc) k=\(k) \(p) row \(r) element \(i - r * k): \(x[i]) → \(y[i]) (block max \(amax))")
                            }
                        }
                    }
                }
            }
        }
    }

    /// A partial last block stores zero codes: q8 byte 0, int4 nibble 8.
    func testPartialBlockIsZeroPadded() throws {
        var rng = SplitMix64(seed: 12)
        for enc in [Encoding.q8, .q4, .q4f] {
            for k in [1, 7, 17, 33, 95] {
                let b = try Codec.encode(Pattern.gaussian.values(k, &rng), rows: 1, k: k, as: enc)
                let last = b.count - enc.bytesPerBlock, used = k % 32 == 0 ? 32 : k % 32
                for j in used..<32 {
                    let code: Int
                    switch enc {
                    case .q8: code = Int(Int8(bitPattern: b[last + 2 + j]))
                    default:
                        let byte = b[last + (enc == .q4 ? 2 : 4) + j % 16]
                        code = Int(j < 16 ? byte & 15 : byte >> 4) - 8
                    }
                    XCTAssertEqual(code, 0, "\(enc) k=\(k): padding element \(j) has code \(code)")
                }
            }
        }
    }

    func testActivationQuantiserMatchesQ8Math() throws {
        var rng = SplitMix64(seed: 13)
        let x = Pattern.mixed.values(100, &rng)
        var out = [UInt8](repeating: 0, count: Encoding.q8.rowBytes(100)!)
        try x.withUnsafeBufferPointer { xp in try out.withUnsafeMutableBytes { try Codec.quantizeActivations(xp, into: $0) } }
        let y = try Codec.decode(out, rows: 1, k: 100, from: .q8)
        for b in stride(from: 0, to: 100, by: 32) {
            let idx = b..<min(b + 32, 100)
            let amax = x[idx].map(abs).max()!
            // Half a step, plus the f16 rounding of the scale (codes are rounded for the unrounded d, as GGUF does).
            for i in idx { XCTAssertLessThanOrEqual(abs(x[i] - y[i]), amax / 254 + amax * 1e-3, "element \(i)") }
        }
    }

    func testErrorsAreValues() throws {
        XCTAssertThrowsError(try Codec.encode([1, 2, 3], rows: 0, k: 3, as: .q8)) {
            XCTAssertEqual($0 as? QuantError, .badShape(rows: 0, k: 3))
        }
        XCTAssertThrowsError(try Codec.encode([1, 2, 3], rows: 2, k: 3, as: .q4)) {
            XCTAssertEqual($0 as? QuantError, .sourceTooSmall(encoding: .f32, needed: 6, actual: 3))
        }
        XCTAssertThrowsError(try Codec.encode([1, 2, 3, 4, 5, .nan], rows: 2, k: 3, as: .q4)) {
            XCTAssertEqual($0 as? QuantError, .unrepresentable(encoding: .q4, row: 1))
        }
        XCTAssertThrowsError(try Codec.encode([1, .infinity], rows: 1, k: 2, as: .q8)) {
            XCTAssertEqual($0 as? QuantError, .unrepresentable(encoding: .q8, row: 0))
        }
        let x: [Float] = [1, 2, 3]
        var small = [UInt8](repeating: 0, count: 33)
        try x.withUnsafeBufferPointer { xp in
            try small.withUnsafeMutableBytes { d in
                XCTAssertThrowsError(try Codec.encode(xp, rows: 1, k: 3, as: .q8, into: d)) {
                    XCTAssertEqual($0 as? QuantError, .destinationTooSmall(encoding: .q8, needed: 34, actual: 33))
                }
            }
        }
        XCTAssertThrowsError(try Codec.decode([UInt8](repeating: 0, count: 17), rows: 1, k: 32, from: .q4)) {
            XCTAssertEqual($0 as? QuantError, .sourceTooSmall(encoding: .q4, needed: 18, actual: 17))
        }
    }
}

/// The bytes follow formats/REEL.md §3, decoded here straight from the spec's drawings (not through the kernels).
final class SpecLayoutTests: XCTestCase {
    static func specDecode(_ b: [UInt8], _ enc: Encoding, k: Int) -> [Float] {
        func f16(_ o: Int) -> Float { Float(Float16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8)) }
        var y: [Float] = []
        for blk in 0..<((k + 31) / 32) {
            let o = blk * enc.bytesPerBlock
            for i in 0..<32 where y.count < k {
                switch enc {
                case .q8: y.append(f16(o) * Float(Int8(bitPattern: b[o + 2 + i])))
                case .q4: y.append(f16(o) * Float(Int(i < 16 ? b[o + 2 + i] & 15 : b[o + 2 + i - 16] >> 4) - 8))
                default: y.append(f16(o + (i < 16 ? 0 : 2)) * Float(Int(i < 16 ? b[o + 4 + i] & 15 : b[o + 4 + i - 16] >> 4) - 8))
                }
            }
        }
        return y
    }

    func testQuantisedBytesMatchTheSpec() throws {
        var rng = SplitMix64(seed: 30)
        for enc in [Encoding.q8, .q4, .q4f] {
            for k in oddSizes {
                let x = Pattern.mixed.values(k, &rng)
                let b = try Codec.encode(x, rows: 1, k: k, as: enc)
                XCTAssertEqual(b.count, enc.rowBytes(k))
                XCTAssertEqual(try Codec.decode(b, rows: 1, k: k, from: enc), Self.specDecode(b, enc, k: k), "\(enc) k=\(k)")
                if enc == .q8 { XCTAssertFalse(b.enumerated().contains { $0.offset % 34 >= 2 && $0.element == 0x80 }, "q8 wrote −128") }
            }
        }
    }
}
