import Foundation
import ReelConvert
import ReelCore
import ReelFormat
import ReelQuant
import ReelRuntime
import XCTest

/// The fixtures made by tools/make_decoder_fixtures.py.
enum Fixtures {
    static var root: URL {
        get throws {
            guard let u = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw TestFailure("Fixtures folder missing from the test bundle")
            }
            return u
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A minimal safetensors reader for the tests (header + raw bytes); ReelSafetensors replaces it once in main.
struct SafetensorsFixture {
    struct Entry { let dtype: String; let shape: [Int]; let bytes: [UInt8] }
    let entries: [String: Entry]

    init(_ url: URL) throws {
        let data = try [UInt8](Data(contentsOf: url))
        guard data.count >= 8 else { throw TestFailure("\(url.path): too short") }
        let n = data[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSON.parse(Array(data[8..<(8 + n)]), source: url.lastPathComponent)
        var out: [String: Entry] = [:]
        for (name, v) in header.object! where name != "__metadata__" {
            let offs = v["data_offsets"]!.array!.map { $0.int! }
            out[name] = Entry(dtype: v["dtype"]!.string!, shape: v["shape"]!.array!.map { $0.int! },
                              bytes: Array(data[(8 + n + offs[0])..<(8 + n + offs[1])]))
        }
        entries = out
    }

    /// A tensor as f32 (from F32, BF16 or F16).
    func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw TestFailure("fixture tensor \(name) missing") }
        return e.bytes.withUnsafeBytes { b -> [Float] in
            switch e.dtype {
            case "F32": return Array(b.bindMemory(to: Float.self))
            case "BF16": return b.bindMemory(to: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
            case "F16": return b.bindMemory(to: UInt16.self).map { Float(Float16(bitPattern: $0)) }
            default: return []
            }
        }
    }

    func ints(_ name: String) throws -> [Int] {
        guard let e = entries[name], e.dtype == "I64" else { throw TestFailure("fixture tensor \(name) missing or not I64") }
        return e.bytes.withUnsafeBytes { b in b.bindMemory(to: Int64.self).map { Int($0) } }
    }

    func shape(_ name: String) -> [Int] { entries[name]?.shape ?? [] }
}

/// Stores f32 values in an encoding through ReelQuant's codec (the converter's quantisers).
enum TestEncoder {
    static func encode(_ w: [Float], rowLength k: Int, as enc: Encoding) throws -> [UInt8] {
        try Codec.encode(w, rows: w.count / k, k: k, as: enc)
    }
}

/// The fixture checkpoints converted by ReelConvert (the real HF → Reel map, config normalisation and quant policy),
/// once per (family, encoding) per test run, into a temporary directory.
enum FixtureModel {
    nonisolated(unsafe) private static var cache: [String: ReelFile] = [:]
    private static let lock = NSLock()

    /// One directory per test process, removed when the process exits (the converted files stay mapped until then).
    static let tempDir: String = {
        let d = NSTemporaryDirectory() + "reel-models-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "reel-models-tests-\(getpid())") }
        return d
    }()

    /// The fixture `family` converted with `--quant encoding` (nil keeps the checkpoint's bf16).
    static func file(_ family: String, encoding: Encoding? = .f32) throws -> ReelFile {
        lock.lock(); defer { lock.unlock() }
        let key = "\(family)-\(encoding?.rawValue ?? "source")"
        if let f = cache[key] { return f }
        let dir = try Fixtures.root.appendingPathComponent(family).path
        let out = tempDir + "/\(key).reel"
        _ = try Converter.convert(checkpoint: dir, options: ConvertOptions(output: out, quant: encoding, force: true, quiet: true))
        let f = try ReelFile(path: out)
        cache[key] = f
        return f
    }

    /// Weights and normalised config of a converted fixture.
    static func load(_ family: String, encoding: Encoding? = .f32) throws -> (WeightProvider, JSON) {
        let f = try file(family, encoding: encoding)
        guard let c = f.component("decoder") else { throw TestFailure("\(f.path): no decoder component") }
        return (f, .object(c.config))
    }

    static func reference(_ family: String) throws -> SafetensorsFixture {
        try SafetensorsFixture(try Fixtures.root.appendingPathComponent(family).appendingPathComponent("ref.safetensors"))
    }
}

/// Fails with max-abs, relative error and where, when `report`'s relative error exceeds `bound`.
func assertRelative(_ report: ParityReport, _ bound: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThanOrEqual(report.relative, bound, "\(report) — bound \(bound)", file: file, line: line)
}

func assertClose(_ name: String, _ actual: [Float], _ reference: [Float], relative bound: Double,
                 file: StaticString = #filePath, line: UInt = #line) throws {
    let r = try ParityReport(name: name, reference: reference, actual: actual)
    assertRelative(r, bound, file: file, line: line)
}
