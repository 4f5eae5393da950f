import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelQuant

/// Mutated headers and metadata must give an error or a valid open, never a crash or an out-of-bounds view.
final class FuzzTests: XCTestCase {
    static let iterations = 3000

    func testMutatedFilesNeverCrash() throws {
        let dir = try TempDir()
        let good = dir.file("good.reel")
        try Sample.write(to: good)
        let original = try readBytes(good)
        let parts = try FileParts(path: good)
        let m = parts.metadata.count
        let d = Int(parts.header.dataOffset)
        let path = dir.file("mutant.reel")
        var g = SplitMix64(seed: 0x5EED_F00D)
        var opened = 0, refused: [String: Int] = [:]

        for i in 0..<Self.iterations {
            var b = original
            switch i % 6 {
            case 0:  // Byte flips anywhere in the header and metadata.
                for _ in 0..<Int.random(in: 1...4, using: &g) { b[Int.random(in: 0..<(64 + m), using: &g)] = UInt8.random(in: 0...255, using: &g) }
            case 1:  // Truncation.
                b.removeSubrange(Int.random(in: 0..<b.count, using: &g)...)
            case 2:  // Insertion of random bytes before the data section.
                let at = Int.random(in: 0...(d + 64), using: &g)
                b.insert(contentsOf: randomBytes(Int.random(in: 1...16, using: &g), using: &g), at: at)
            case 3:  // A random header integer: wild, small, or off by a little.
                let field = [8, 12, 16, 24, 32, 40, 48, 56].randomElement(using: &g)!
                let width = field < 16 ? 4 : 8
                var v = b[field..<(field + width)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                switch Int.random(in: 0..<3, using: &g) {
                case 0: v = g.next()
                case 1: v = UInt64.random(in: 0...70_000, using: &g)
                default: v = v &+ UInt64(bitPattern: Int64.random(in: -100...100, using: &g))
                }
                for k in 0..<width { b[field + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            case 4:  // Metadata edits with the checksum (and length) fixed, so validation past the checksum runs.
                var meta = parts.metadata
                let digits = meta.indices.filter { meta[$0] >= 0x30 && meta[$0] <= 0x39 }
                for _ in 0..<Int.random(in: 1...3, using: &g) {
                    switch Int.random(in: 0..<4, using: &g) {
                    case 0: meta[digits.randomElement(using: &g)!] = UInt8.random(in: 0x30...0x39, using: &g)
                    case 1: meta[Int.random(in: 0..<meta.count, using: &g)] = Array("{}[],:\"0123456789-.eE abcf".utf8).randomElement(using: &g)!
                    case 2: meta.remove(at: Int.random(in: 0..<meta.count, using: &g))
                    default: meta.insert(Array("0123456789,\"".utf8).randomElement(using: &g)!, at: Int.random(in: 0..<meta.count, using: &g))
                    }
                }
                b = rebuilt(original, metadata: meta, dataOffset: d)
            default:  // Structured edits of the tensor table (offsets, lengths, shapes) with a consistent checksum.
                var p = parts
                var o = p.metadataJSON
                let table = Bool.random(using: &g) ? "tensors" : "blobs"
                let n = o[table]?.array?.count ?? 0
                editEntry(&o, table: table, index: Int.random(in: 0..<n, using: &g)) { e in
                    let key = ["offset", "length", "shape", "raw_length", "encoding"].randomElement(using: &g)!
                    switch key {
                    case "shape": e[key] = .array((0..<Int.random(in: 0...3, using: &g)).map { _ in .int(Int64.random(in: -1...100, using: &g)) })
                    case "encoding": e[key] = .string(Encoding.allCases.randomElement(using: &g)!.rawValue)
                    default:
                        let choices: [Int64] = [0, 64, 128, 4096, Int64.random(in: 0...20_000, using: &g) / 64 * 64,
                                                Int64.random(in: -10...3000, using: &g), Int64.max - 63]
                        e[key] = .int(choices.randomElement(using: &g)!)
                    }
                }
                p.metadataJSON = o
                p.fixHeader()
                b = p.bytes()
            }
            try writeBytes(b, to: path)
            do {
                let f = try ReelFile(path: path)
                opened += 1
                try exercise(f)
            } catch let e as ReelFormatError {
                refused[caseName(e), default: 0] += 1
            } catch {
                XCTFail("iteration \(i): an error that is not a ReelFormatError: \(error)")
            }
        }
        print("fuzz: \(Self.iterations) mutants, \(opened) opened validly, refused: \(refused.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(opened, 0, "some mutants (checksum digits, equal-size shapes) are valid files")
        XCTAssertGreaterThan(refused.count, 8, "mutations reach many different checks")
    }

    /// Reads every byte of every tensor view (asserting it lies inside the mapping), every blob, and verifies.
    private func exercise(_ f: ReelFile) throws {
        let base = try XCTUnwrap(f.baseAddress)
        for t in f.tensors {
            let v = try f.tensor(t.name)
            let start = try XCTUnwrap(v.bytes.baseAddress)
            XCTAssertGreaterThanOrEqual(start, base + f.dataOffset)
            XCTAssertLessThanOrEqual(start + v.bytes.count, base + f.fileSize)
            XCTAssertEqual(v.bytes.count, t.length)
            var x: UInt8 = 0
            for byte in v.bytes { x ^= byte }
            _ = x
        }
        for b in f.blobs { _ = try? f.blob(b.name) }
        _ = try? f.verify()
        _ = f.summary()
    }

    /// The original with its metadata replaced (same data offset when it still fits) and the header made consistent.
    private func rebuilt(_ original: [UInt8], metadata: [UInt8], dataOffset d: Int) -> [UInt8] {
        var h = original.withUnsafeBytes { ReelHeader($0)! }
        h.metadataLength = UInt64(metadata.count)
        h.metadataXXH64 = Checksum.xxh64(metadata)
        var out = h.encoded() + metadata
        if out.count < d { out += [UInt8](repeating: 0, count: d - out.count) }
        return out + original[d...]
    }

    private func caseName(_ e: ReelFormatError) -> String { Mirror(reflecting: e).children.first?.label ?? "\(e)" }
}
