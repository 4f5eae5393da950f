import CKernels
import Foundation
import ReelQuant
import XCTest

/// SplitMix64: a small deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Float {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self), u2 = Double.random(in: 0..<1, using: &self)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
    /// Student-t with ν = 3: z / sqrt(χ²₃ / 3).
    mutating func studentT3() -> Float {
        let z = gaussian()
        var chi2: Float = 0
        for _ in 0..<3 { let g = gaussian(); chi2 += g * g }
        return z / (chi2 / 3).squareRoot()
    }
}

/// Row lengths that exercise partial blocks, single blocks and long rows.
let oddSizes = [1, 7, 16, 17, 31, 32, 33, 63, 64, 65, 95, 1000, 4097]

/// Named input shapes for the parity tests.
enum Pattern: CaseIterable {
    case gaussian, zeros, huge, tiny, mixed

    func values(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
        switch self {
        case .gaussian: return (0..<n).map { _ in rng.gaussian() }
        case .zeros: return [Float](repeating: 0, count: n)
        case .huge: return (0..<n).map { _ in rng.gaussian() * 3.0e4 }
        case .tiny: return (0..<n).map { _ in rng.gaussian() * 1.0e-6 }
        case .mixed:  // one outlier per 50 elements, a few exact zeros
            return (0..<n).map { i in i % 50 == 3 ? rng.gaussian() * 100 : (i % 11 == 0 ? 0 : rng.gaussian()) }
        }
    }
}

/// Runs `body` once per non-scalar ISA this machine supports, restoring the active ISA afterwards.
func forEachFastISA(_ body: (KernelISA) throws -> Void) throws {
    let saved = KernelISA.active
    defer { try? KernelISA.force(saved) }
    for isa in KernelISA.available where isa != .scalar {
        try KernelISA.force(isa)
        if isa == .avx512vnni { try withEachVBMIState { try body(isa) } } else { try body(isa) }
    }
}

/// Runs `body` with the AVX-512 VBMI kernels on and then off where the CPU has VBMI (both q4 decode paths of the
/// avx512vnni ISA on one machine), else once; restores the state it found afterwards.
func withEachVBMIState(_ body: () throws -> Void) rethrows {
    let saved = reel_vbmi_enabled()
    guard reel_vbmi_enable(1) == Int32(REEL_OK) else { return try body() }
    defer { _ = reel_vbmi_enable(saved) }
    try body()
    _ = reel_vbmi_enable(0)
    try body()
}

/// Runs `body` with the scalar twins.
func scalar<T>(_ body: () throws -> T) rethrows -> T {
    let saved = KernelISA.active
    try? KernelISA.force(.scalar)
    defer { try? KernelISA.force(saved) }
    return try body()
}

/// Max-abs and relative error between two arrays, with where the max happened.
func compare(_ got: [Float], _ want: [Float]) -> (maxAbs: Float, rel: Float, at: Int) {
    var maxAbs: Float = 0, at = 0, norm: Float = 0
    for i in 0..<min(got.count, want.count) {
        let e = abs(got[i] - want[i])
        if e > maxAbs || e.isNaN { maxAbs = e; at = i }
        norm = max(norm, abs(want[i]))
    }
    return (maxAbs, norm > 0 ? maxAbs / norm : maxAbs, at)
}

func quantize(_ x: [Float], _ enc: Encoding) -> [UInt8] {
    var out = [UInt8](repeating: 0xAA, count: enc.rowBytes(x.count)!)
    x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBytes { o in
            switch enc {
            case .q8: _ = reel_quantize_row_q8(xp.baseAddress, o.baseAddress, Int64(x.count))
            case .q4: _ = reel_quantize_row_q4(xp.baseAddress, o.baseAddress, Int64(x.count))
            case .q4f: _ = reel_quantize_row_q4f(xp.baseAddress, o.baseAddress, Int64(x.count))
            default: break
            }
        }
    }
    return out
}

func quantizeActivations(_ x: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0xAA, count: Encoding.q8.rowBytes(x.count)!)
    x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBytes { reel_quantize_row_q8_act(xp.baseAddress, $0.baseAddress, Int64(x.count)) } }
    return out
}

func dequantize(_ b: [UInt8], _ enc: Encoding, k: Int) -> [Float] {
    (try? Codec.decode(b, rows: 1, k: k, from: enc)) ?? []
}

/// Dot of a quantised weight row with a q8 activation row through the active ISA.
func dotQ(_ w: [UInt8], _ enc: Encoding, _ a: [UInt8], k: Int) -> Float {
    w.withUnsafeBytes { wp in
        a.withUnsafeBytes { ap in
            switch enc {
            case .q8: return reel_dot_q8_q8(wp.baseAddress, ap.baseAddress, Int64(k))
            case .q4: return reel_dot_q4_q8(wp.baseAddress, ap.baseAddress, Int64(k))
            default: return reel_dot_q4f_q8(wp.baseAddress, ap.baseAddress, Int64(k))
            }
        }
    }
}
