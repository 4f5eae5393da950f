import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelQuant

final class RoundTripTests: XCTestCase {
    /// Every encoding, with shapes whose last dimension is not a multiple of 32, written in uneven chunks.
    func testEveryEncodingBlobsAndMetadataRoundTrip() throws {
        let dir = try TempDir()
        let path = dir.file("model.reel")
        var g = SplitMix64(seed: 42)
        var plans: [TensorPlan] = []
        for e in Encoding.allCases {
            plans.append(TensorPlan(name: "\(e.rawValue).matrix", encoding: e, shape: [7, 45]))
            plans.append(TensorPlan(name: "\(e.rawValue).vector", encoding: e, shape: [33]))
            plans.append(TensorPlan(name: "\(e.rawValue).cube", encoding: e, shape: [2, 3, 64]))
        }
        var expected: [String: [UInt8]] = [:]
        for p in plans {
            let n = p.encoding.byteCount(shape: p.shape)!
            if p.encoding == .f32 {
                // Real values: a ramp with a sign pattern, so a byte-order slip would show.
                let values = (0..<(n / 4)).map { Float($0) * 0.37 - 3.5 }
                expected[p.name] = values.withUnsafeBytes { Array($0) }
            } else {
                expected[p.name] = randomBytes(n, using: &g)
            }
        }
        let tokenizer = Array(String(repeating: "{\"model\": {\"vocab\": {\"a\": 0}}}\n", count: 100).utf8)
        let template = Array("{% for m in messages %}{{ m.content }}{% endfor %}".utf8)
        let blobs = [BlobPlan(name: "tokenizer.json", bytes: tokenizer),
                     BlobPlan(name: "chat_template.jinja", bytes: template, compression: .none),
                     BlobPlan(name: "empty.json", bytes: [], compression: .none),
                     BlobPlan(name: "empty.zst", bytes: [])]

        let w = try ReelWriter(path: path, metadata: Sample.metadata, blobs: blobs, tensors: plans)
        for p in plans {
            let bytes = expected[p.name]!
            // Chunks of 1, 7, 100, … bytes: the checksum must not depend on how the bytes arrive.
            try w.writeTensor(p.name) { append in
                var at = 0, step = 1
                while at < bytes.count {
                    let n = min(step, bytes.count - at)
                    try bytes.withUnsafeBytes { try append(UnsafeRawBufferPointer(rebasing: $0[at..<(at + n)])) }
                    at += n
                    step = step * 7 % 101 + 1
                }
            }
        }
        try w.finish()
        XCTAssertEqual(dir.contents(), ["model.reel"], "no temporary file left beside the output")

        let f = try ReelFile(path: path)
        XCTAssertEqual(f.formatVersion, 1)
        XCTAssertEqual(f.architecture, "generic")
        XCTAssertEqual(f.metadata["source_config"], Sample.metadata["source_config"])
        XCTAssertEqual(f.metadata["provenance"]?["quant"], "q4")
        XCTAssertEqual(f.components.map(\.name), ["decoder"])
        XCTAssertEqual(f.component("decoder")?.family, "qwen2")
        XCTAssertEqual(f.component("decoder")?.config["hidden_size"], 48)
        XCTAssertEqual(f.tensors.map(\.name), plans.map(\.name), "tensors in plan (file) order")
        XCTAssertEqual(f.dataOffset % 16384, 0)
        XCTAssertEqual(f.fileSize, f.dataOffset + f.dataLength)

        let base = Int(bitPattern: f.baseAddress)
        var previousEnd = 0
        for p in plans {
            let info = try XCTUnwrap(f.tensorInfo(p.name))
            XCTAssertEqual(info.encoding, p.encoding)
            XCTAssertEqual(info.shape, p.shape)
            XCTAssertEqual(info.offset % 64, 0, p.name)
            XCTAssertGreaterThanOrEqual(info.offset, previousEnd)
            previousEnd = info.offset + info.length
            let v = try f.tensor(p.name)
            let address = Int(bitPattern: v.bytes.baseAddress)
            XCTAssertEqual((address - base) % 64, 0, "\(p.name) is 64-byte aligned relative to the mapping")
            XCTAssertEqual(address % 64, 0, "\(p.name) is 64-byte aligned in memory")
            XCTAssertEqual(Array(v.bytes), expected[p.name], p.name)
            XCTAssertEqual(info.xxh64, Checksum.xxh64(expected[p.name]!))
        }
        let f32 = try f.tensor("f32.matrix")
        let floats = Array(f32.bytes.bindMemory(to: Float.self))
        XCTAssertEqual(floats[0], -3.5)
        XCTAssertEqual(floats[10], Float(10) * 0.37 - 3.5)

        XCTAssertEqual(try f.blob("tokenizer.json"), tokenizer)
        XCTAssertEqual(try f.blob("chat_template.jinja"), template)
        XCTAssertEqual(try f.blob("empty.json"), [])
        XCTAssertEqual(try f.blob("empty.zst"), [])
        let tok = try XCTUnwrap(f.blobInfo("tokenizer.json"))
        XCTAssertEqual(tok.compression, .zstd)
        XCTAssertLessThan(tok.length, tokenizer.count, "zstd actually compressed")
        XCTAssertEqual(tok.rawLength, tokenizer.count)

        var calls = 0, last = (0, 0)
        let report = try f.verify { done, total in calls += 1; last = (done, total); XCTAssertLessThanOrEqual(done, total) }
        XCTAssertEqual(last.0, f.fileSize)
        XCTAssertEqual(last.1, f.fileSize)
        XCTAssertEqual(w.tensors, f.tensors, "the writer's table, checksums included, is what the reader sees")
        XCTAssertEqual(report.tensorsChecked, plans.count)
        XCTAssertEqual(report.blobsChecked, 4)
        XCTAssertGreaterThan(calls, 0)
        try f.adviseWillNeed(tensor: "q4.matrix")
        try f.adviseDontNeed(tensor: "q4.matrix")
        f.adviseSequential()
    }

    /// A view keeps the mapping alive after the file object is gone.
    func testViewOutlivesFile() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        let data = try Sample.write(to: path)
        var view: TensorView?
        do { view = try ReelFile(path: path).tensor("norm.weight") }
        XCTAssertEqual(view.map { Array($0.bytes) }, data["norm.weight"])
    }

    func testSummary() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        try Sample.write(to: path)
        let s = try ReelFile(path: path).summary()
        XCTAssertEqual(s.rows.map(\.encoding), [.f32, .f16, .q8, .q4])
        let q4 = try XCTUnwrap(s.rows.first { $0.encoding == .q4 })
        XCTAssertEqual(q4.tensorCount, 1)
        XCTAssertEqual(q4.bytes, 3 * 2 * 18)
        XCTAssertEqual(q4.elementCount, 3 * 45)
        XCTAssertEqual(q4.bitsPerWeight, Double(3 * 2 * 18 * 8) / Double(3 * 45), accuracy: 1e-12)
        let f16 = try XCTUnwrap(s.rows.first { $0.encoding == .f16 })
        XCTAssertEqual(f16.bitsPerWeight, 16)
        XCTAssertEqual(s.tensorCount, 4)
        XCTAssertEqual(s.tensorBytes, 5 * 48 * 2 + 3 * 2 * 18 + 2 * 3 * 34 + 48 * 4)
        XCTAssertEqual(s.fileBytes, try fileSize(path))
    }

    func testFileWithNoTensorsOrBlobs() throws {
        let dir = try TempDir()
        let path = dir.file("empty.reel")
        let w = try ReelWriter(path: path, metadata: ["architecture": "generic"], tensors: [])
        try w.finish()
        let f = try ReelFile(path: path)
        XCTAssertEqual(f.tensors, [])
        XCTAssertEqual(f.dataLength, 0)
        XCTAssertEqual(try f.verify().bytesChecked, 16384 - 64 - Int(f.header.metadataLength))
    }
}
