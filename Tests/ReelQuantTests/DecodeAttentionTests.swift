import CKernels
import ReelQuant
import XCTest

/// reel_attention_decode_f32 and _f16 (decode attention of one KV head over an f32 or f16 cache) on every ISA against
/// a Double reference, on head sizes with and without a partial 16-lane chunk, groups around the 8-head blocks and
/// cache lengths around the prefetch distance; and their refusals.
final class DecodeAttentionTests: XCTestCase {
    func testMatchesDoubleReferenceOnEveryPath() throws {
        var rng = SplitMix64(seed: 31)
        for (group, hd) in [(1, 16), (7, 64), (8, 72), (9, 128), (2, 5)] {
            for len in [1, 3, 16, 17, 40, 700] { for half in [false, true] {
                let kvHeads = 2, ld = kvHeads * hd + 3  // a head's columns inside wider rows, as the cache's
                let q = (0..<(group * hd)).map { _ in rng.gaussian() }
                // An f16 cache holds the values rounded to half; the reference reads the same rounded values.
                let round = { (x: Float) in half ? Float(Float16(x)) : x }
                let k = (0..<(len * ld)).map { _ in round(rng.gaussian()) }
                let v = (0..<(len * ld)).map { _ in round(rng.gaussian()) }
                let kh = k.map { Float16($0).bitPattern }, vh = v.map { Float16($0).bitPattern }
                let scale = 1 / Float(hd).squareRoot(), off = hd  // KV head 1
                // Reference in Double.
                var want = [Double](repeating: 0, count: group * hd)
                for g in 0..<group {
                    var s = (0..<len).map { j in
                        (0..<hd).reduce(0.0) { $0 + Double(q[g * hd + $1]) * Double(k[j * ld + off + $1]) } * Double(scale)
                    }
                    let m = s.max()!
                    s = s.map { Foundation.exp($0 - m) }
                    let z = s.reduce(0, +)
                    for j in 0..<len { for c in 0..<hd { want[g * hd + c] += s[j] / z * Double(v[j * ld + off + c]) } }
                }
                func run() -> [Float] {
                    var out = [Float](repeating: -7, count: group * hd)
                    var scores = [Float](repeating: 0, count: group * len)
                    let rc = half
                        ? kh.withUnsafeBufferPointer { kp in vh.withUnsafeBufferPointer { vp in
                            reel_attention_decode_f16(q, Int64(group), Int64(hd), kp.baseAddress! + off, vp.baseAddress! + off,
                                                      Int64(ld), Int64(len), scale, &scores, &out)
                        } }
                        : k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                            reel_attention_decode_f32(q, Int64(group), Int64(hd), kp.baseAddress! + off, vp.baseAddress! + off,
                                                      Int64(ld), Int64(len), scale, &scores, &out)
                        } }
                    XCTAssertEqual(rc, Int32(REEL_OK))
                    return out
                }
                let check = { (path: String, got: [Float]) in
                    for i in got.indices {
                        XCTAssertLessThanOrEqual(abs(Double(got[i]) - want[i]), 2e-5 * (1 + abs(want[i])),
                                                 "\(path) \(half ? "f16" : "f32") group \(group) hd \(hd) len \(len) at \(i): \(got[i]) vs \(want[i])")
                    }
                }
                check("scalar", scalar { run() })
                try forEachFastISA { isa in check("\(isa)", run()) }
            } }
        }
    }

    func testBadArgumentsAreRefused() {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 64)
        p.initialize(repeating: 0, count: 64)
        defer { p.deallocate() }
        XCTAssertEqual(reel_attention_decode_f32(p, 0, 8, p, p, 8, 1, 1, p, p), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_attention_decode_f32(p, 1, 8, p, p, 7, 1, 1, p, p), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_attention_decode_f32(p, 1, 8, p, p, 8, 0, 1, p, p), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_attention_decode_f32(nil, 1, 8, p, p, 8, 1, 1, p, p), Int32(REEL_ERR_BAD_ARGUMENT))
        let h = UnsafeMutablePointer<UInt16>.allocate(capacity: 64)
        h.initialize(repeating: 0, count: 64)
        defer { h.deallocate() }
        XCTAssertEqual(reel_attention_decode_f16(p, 1, 8, h, h, 7, 1, 1, p, p), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_attention_decode_f16(p, 1, 8, nil, h, 8, 1, 1, p, p), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_attention_decode_f16(p, 1, 8, h, h, 8, 1, 1, p, p), Int32(REEL_OK))
    }
}
