import Foundation
import ReelCore
import ReelSafetensors
import XCTest

/// Mutated files must yield a SafetensorsError or a file whose every tensor is readable within bounds;
/// a crash (or any other error type) fails the run. Fixed seed, so a failure reproduces.
final class FuzzTests: XCTestCase {
    static let iterations = 3000
    static let seed: UInt64 = 0x5EED_5AFE

    /// SplitMix64: small, deterministic, good enough to pick mutations.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        let headerEnd = min(b.count, 8 + Int(input.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        let digits = Array("0123456789".utf8), syntax = Array("{}[]\":,-e. ".utf8)
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            guard !b.isEmpty else { break }
            let at = Int.random(in: 0..<max(1, min(b.count, headerEnd)), using: &rng)  // mostly the header
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: b[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)  // bit flip
            case 1: b[at] = UInt8.random(in: 0...255, using: &rng)
            case 2: b.removeSubrange(Int.random(in: 0..<b.count, using: &rng)...)  // truncation
            case 3: b.insert(contentsOf: (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 4:  // a digit changed: offsets and shapes that lie
                if let i = (at..<b.count).first(where: { digits.contains(b[$0]) }) { b[i] = digits.randomElement(using: &rng)! }
            case 5: b[at] = syntax.randomElement(using: &rng)!  // JSON punctuation
            default:  // a random header-size field, near the truth or anywhere
                let n: UInt64 = Bool.random(using: &rng) ? UInt64.random(in: 0...UInt64.max, using: &rng)
                    : UInt64(max(0, headerEnd - 8 + Int.random(in: -16...16, using: &rng)))
                if b.count >= 8 { withUnsafeBytes(of: n.littleEndian) { b.replaceSubrange(0..<8, with: $0) } }
            }
        }
        return b
    }

    /// Touches every tensor through the public API; values must stay within the tensor's bytes.
    private func exercise(_ f: SafetensorsFile) throws {
        for t in f.tensors {
            let raw = try f.rawBytes(t.name)
            XCTAssertEqual(raw.count, t.byteCount)
            XCTAssertGreaterThanOrEqual(t.fileOffset, f.dataStart)
            XCTAssertLessThanOrEqual(t.fileOffset + t.byteCount, f.fileSize)
            _ = try f.nonFiniteCount(t.name)
            if t.dtype.canConvertToFloat32 { _ = try f.float32(t.name) }
        }
    }

    func testMutatedHeadersNeverCrash() throws {
        let dir = try scratchDirectory(self)
        let seeds = try ["dtypes.safetensors", "special.safetensors", "sharded/model-00001-of-00002.safetensors"].map {
            try readWholeFile(Fixture.path($0))
        }
        var rng = SplitMix64(state: Self.seed)
        var outcomes: [String: Int] = [:]
        for i in 0..<Self.iterations {
            let input = mutate(seeds[i % seeds.count], &rng)
            let p = dir + "/fuzz-\(i % 8).safetensors"
            unlink(p)
            try writeBytes(input, to: p)
            do {
                try exercise(try SafetensorsFile(path: p))
                outcomes["valid", default: 0] += 1
            } catch let e as SafetensorsError {
                outcomes[Mirror(reflecting: e).children.first?.label ?? "?", default: 0] += 1
                _ = e.description  // every case renders
            } catch {
                XCTFail("iteration \(i): unexpected error \(error)")
            }
        }
        print("fuzz outcomes:", outcomes.sorted { $0.key < $1.key })
        // The mutations should reach both outcomes, or the test proves little.
        XCTAssertGreaterThan(outcomes["valid", default: 0], 0)
        XCTAssertGreaterThan(outcomes.count, 8, "\(outcomes)")
    }

    /// The same for the shard index: every mutation is refused with a SafetensorsError or opens cleanly.
    func testMutatedIndexesNeverCrash() throws {
        let dir = try scratchDirectory(self)
        for name in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try FileManager.default.copyItem(atPath: Fixture.path("sharded/" + name), toPath: dir + "/" + name)
        }
        let index = try readWholeFile(Fixture.path("sharded/model.safetensors.index.json"))
        var rng = SplitMix64(state: Self.seed ^ 1)
        var valid = 0
        for i in 0..<500 {
            var b = index
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[at] = Array("{}[]\":,0a-/.".utf8).randomElement(using: &rng)!
                case 1: b.remove(at: at)
                default: b.insert(UInt8.random(in: 0x20...0x7E, using: &rng), at: at)
                }
            }
            let p = dir + "/model.safetensors.index.json"
            unlink(p)
            try writeBytes(b, to: p)
            do {
                let c = try SafetensorsCheckpoint(path: dir)
                for n in c.names { _ = try c.float32(n) }
                valid += 1
            } catch is SafetensorsError {
            } catch {
                XCTFail("iteration \(i): unexpected error \(error)")
            }
        }
        XCTAssertGreaterThan(valid, 0)
    }
}
