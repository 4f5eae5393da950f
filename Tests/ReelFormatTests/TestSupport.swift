import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelQuant

/// A deterministic generator (SplitMix64) so a failing fuzz case can be replayed.
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
}

/// A fresh directory under the system temporary directory, removed when released.
final class TempDir {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/reelfmt-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw NSError(domain: "TempDir", code: Int(errno))
        }
        path = String(cString: p)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
func writeBytes(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

func randomBytes<G: RandomNumberGenerator>(_ n: Int, using g: inout G) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: n)
    var i = 0
    while i < n {
        var v = g.next()
        for _ in 0..<8 where i < n { out[i] = UInt8(truncatingIfNeeded: v); v >>= 8; i += 1 }
    }
    return out
}

/// Asserts that `body` throws a `ReelFormatError` for which `matches` is true, and returns it.
@discardableResult
func assertReelError(_ what: String, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void, matches: (ReelFormatError) -> Bool) -> ReelFormatError? {
    do {
        try body()
        XCTFail("\(what): expected an error, got none", file: file, line: line)
    } catch let e as ReelFormatError {
        XCTAssertTrue(matches(e), "\(what): unexpected error \(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("\(what): expected a ReelFormatError, got \(error)", file: file, line: line)
    }
    return nil
}

/// A small valid file: two blobs (zstd and raw), tensors of several encodings with odd shapes.
struct Sample {
    static let metadata: JSON = [
        "architecture": "generic",
        "components": ["decoder": ["family": "qwen2", "config": ["hidden_size": 48, "rms_norm_eps": 1e-6]]],
        "source_config": ["model_type": "qwen2", "hidden_size": 48],
        "provenance": ["converter": "reel 0.1.0", "quant": "q4"],
    ]
    static let tensorPlans = [
        TensorPlan(name: "embed.weight", encoding: .f16, shape: [5, 48]),
        TensorPlan(name: "layers.0.q_proj.weight", encoding: .q4, shape: [3, 45]),
        TensorPlan(name: "layers.0.k_proj.weight", encoding: .q8, shape: [2, 70]),
        TensorPlan(name: "norm.weight", encoding: .f32, shape: [48]),
    ]
    static func blobPlans() -> [BlobPlan] {
        [BlobPlan(name: "tokenizer.json", bytes: Array(String(repeating: "{\"vocab\": [1, 2, 3]} ", count: 40).utf8)),
         BlobPlan(name: "chat_template.jinja", bytes: Array("{{ messages }}".utf8), compression: .none)]
    }

    /// Writes the sample to `path`; returns each tensor's bytes by name.
    @discardableResult
    static func write(to path: String, seed: UInt64 = 1) throws -> [String: [UInt8]] {
        var g = SplitMix64(seed: seed)
        let w = try ReelWriter(path: path, metadata: metadata, blobs: blobPlans(), tensors: tensorPlans)
        var data: [String: [UInt8]] = [:]
        for t in tensorPlans {
            let bytes = randomBytes(t.encoding.byteCount(shape: t.shape)!, using: &g)
            try w.writeTensor(t.name, bytes)
            data[t.name] = bytes
        }
        try w.finish()
        return data
    }
}

/// A file's parts, for tests that build deliberately broken files.
struct FileParts {
    var header: ReelHeader
    var metadata: [UInt8]
    var data: [UInt8]

    init(path: String) throws {
        let b = try readBytes(path)
        header = b.withUnsafeBytes { ReelHeader($0)! }
        metadata = Array(b[64..<(64 + Int(header.metadataLength))])
        data = Array(b[Int(header.dataOffset)...])
    }

    var metadataJSON: JSONObject {
        get { (try? JSON.parse(metadata, source: "test"))?.object ?? JSONObject() }
        set { metadata = Array(JSON.object(newValue).serialized().utf8) }
    }

    /// Recomputes the header from the parts (consistent sizes and checksum) unless told otherwise.
    mutating func fixHeader() {
        let d = (64 + metadata.count + 16383) / 16384 * 16384
        header.metadataLength = UInt64(metadata.count)
        header.metadataXXH64 = Checksum.xxh64(metadata)
        header.dataOffset = UInt64(d)
        header.dataLength = UInt64(data.count)
        header.fileLength = UInt64(d + data.count)
    }

    /// The bytes: header, metadata, zeros to the next 16 KiB, data (whatever the header says).
    func bytes() -> [UInt8] {
        var out = header.encoded() + metadata
        let d = (64 + metadata.count + 16383) / 16384 * 16384
        if d > out.count { out += [UInt8](repeating: 0, count: d - out.count) }
        return out + data
    }

    func write(to path: String) throws { try writeBytes(bytes(), to: path) }
}

/// Edits one entry of the `tensors` (or `blobs`) table.
func editEntry(_ o: inout JSONObject, table: String, index: Int, _ edit: (inout JSONObject) -> Void) {
    guard var arr = o[table]?.array, var e = arr[index].object else { return }
    edit(&e)
    arr[index] = .object(e)
    o[table] = .array(arr)
}
