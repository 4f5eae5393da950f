import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelQuant

final class WriterTests: XCTestCase {
    let plan = [TensorPlan(name: "a", encoding: .f32, shape: [4, 8]), TensorPlan(name: "b", encoding: .q8, shape: [2, 40])]
    let meta: JSON = ["architecture": "generic"]

    func testExistingOutputNeedsForce() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        try Sample.write(to: path)
        let before = try readBytes(path)
        assertReelError("exists", { _ = try ReelWriter(path: path, metadata: meta, tensors: plan) }) { $0 == .outputExists(path: path) }
        XCTAssertEqual(try readBytes(path), before, "the existing file is untouched")
        let w = try ReelWriter(path: path, metadata: meta, tensors: plan, force: true)
        try w.writeTensor("a", [UInt8](repeating: 1, count: 128))
        try w.writeTensor("b", [UInt8](repeating: 2, count: 2 * 2 * 34))
        try w.finish()
        XCTAssertEqual(try ReelFile(path: path).tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(dir.contents(), ["m.reel"])
    }

    func testUnwritableDirectory() throws {
        let dir = try TempDir()
        let missing = dir.file("no/such/dir")
        assertReelError("missing dir", { _ = try ReelWriter(path: missing + "/m.reel", metadata: meta, tensors: plan) }) {
            $0 == .unwritableDirectory(path: missing, reason: "No such file or directory")
        }
        // A regular file where a directory should be (also what a read-only directory gives a non-root user).
        try writeBytes([1], to: dir.file("plain"))
        assertReelError("file as dir", { _ = try ReelWriter(path: dir.file("plain") + "/m.reel", metadata: meta, tensors: plan) }) {
            if case let .unwritableDirectory(p, _) = $0 { return p == dir.file("plain") }
            return false
        }
        if getuid() != 0 {
            let ro = dir.file("ro")
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: false)
            chmod(ro, 0o555)
            defer { chmod(ro, 0o755) }
            assertReelError("read-only dir", { _ = try ReelWriter(path: ro + "/m.reel", metadata: meta, tensors: plan) }) {
                $0 == .unwritableDirectory(path: ro, reason: "Permission denied")
            }
        }
    }

    /// A disk that fills at several points: during the header, a blob, a tensor, and the final padding.
    func testFullDiskLeavesNothing() throws {
        let sizeDir = try TempDir()
        try Sample.write(to: sizeDir.file("m.reel"))
        let size = try fileSize(sizeDir.file("m.reel"))
        for limit in [10, 100, 16384 + 10, 16384 + 1000, size - 1] {
            let dir = try TempDir()
            let path = dir.file("m.reel")
            var g = SplitMix64(seed: 7)
            let e = assertReelError("limit \(limit)", {
                let w = try ReelWriter(path: path, metadata: Sample.metadata, blobs: Sample.blobPlans(), tensors: Sample.tensorPlans,
                                       byteLimit: limit)
                for t in Sample.tensorPlans {
                    try w.writeTensor(t.name, randomBytes(t.encoding.byteCount(shape: t.shape)!, using: &g))
                }
                try w.finish()
                _ = w  // the writer is still alive here: the temporary file must already be gone
                XCTAssertEqual(dir.contents(), [])
            }) { $0 == .writeFailed(path: path, reason: "No space left on device") }
            XCTAssertNotNil(e)
            XCTAssertEqual(dir.contents(), [], "limit \(limit): no output and no temporary file")
        }
    }

    func testTemporaryFileGoneAsSoonAsAnErrorIsThrown() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        let w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        XCTAssertEqual(dir.contents().count, 1, "the temporary file exists while writing")
        XCTAssertThrowsError(try w.writeTensor("a", [1, 2, 3]))
        XCTAssertEqual(dir.contents(), [], "removed at the error, while the writer is still referenced")
        assertReelError("use after error", { try w.beginTensor("b") }) {
            if case .writerMisuse = $0 { return true }
            return false
        }
        withExtendedLifetime(w) {}
    }

    func testWrongChunkSizes() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        // Too many bytes across chunks.
        var w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        try w.beginTensor("a")
        try w.append([UInt8](repeating: 0, count: 100))
        assertReelError("too many", { try w.append([UInt8](repeating: 0, count: 29)) }) {
            $0 == .wrongTensorByteCount(path: path, tensor: "a", expected: 128, got: 129)
        }
        // Too few.
        w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        try w.beginTensor("a")
        try w.append([UInt8](repeating: 0, count: 127))
        assertReelError("too few", { try w.endTensor() }) {
            $0 == .wrongTensorByteCount(path: path, tensor: "a", expected: 128, got: 127)
        }
        // Out of plan order.
        w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        assertReelError("order", { try w.beginTensor("b") }) { $0 == .tensorOutOfOrder(path: path, expected: "a", got: "b") }
        // Finishing early, appending with nothing open.
        w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        try w.writeTensor("a", [UInt8](repeating: 0, count: 128))
        assertReelError("finish early", { try w.finish() }) { if case .writerMisuse = $0 { return true }; return false }
        w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        assertReelError("append unopened", { try w.append([1]) }) { if case .writerMisuse = $0 { return true }; return false }
        // An error thrown by the producer of a closure-written tensor aborts the file too.
        w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        struct Producer: Error {}
        XCTAssertThrowsError(try w.writeTensor("a") { _ in throw Producer() }) { XCTAssertTrue($0 is Producer) }
        XCTAssertEqual(dir.contents(), [])
        XCTAssertFalse(fileExists(path))
    }

    func testInvalidPlans() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        assertReelError("reserved key", { _ = try ReelWriter(path: path, metadata: ["architecture": "x", "tensors": []], tensors: plan) }) {
            if case .invalidPlan = $0 { return true }; return false
        }
        assertReelError("no architecture", { _ = try ReelWriter(path: path, metadata: ["x": 1], tensors: plan) }) {
            if case .invalidPlan = $0 { return true }; return false
        }
        assertReelError("duplicate", { _ = try ReelWriter(path: path, metadata: meta, tensors: plan + [plan[0]]) }) {
            $0 == .duplicateName(path: path, name: "a")
        }
        assertReelError("bad shape", {
            _ = try ReelWriter(path: path, metadata: meta, tensors: [TensorPlan(name: "z", encoding: .q4, shape: [0, 32])])
        }) { $0 == .badShape(path: path, tensor: "z", shape: [0, 32]) }
        assertReelError("bad components", {
            _ = try ReelWriter(path: path, metadata: ["architecture": "x", "components": ["v": 1]], tensors: plan)
        }) { if case let .badMetadata(_, key, _) = $0 { return key == "components.v.family" }; return false }
        XCTAssertEqual(dir.contents(), [])
    }

    func testAbortLeavesNothing() throws {
        let dir = try TempDir()
        let path = dir.file("m.reel")
        let w = try ReelWriter(path: path, metadata: meta, tensors: plan)
        try w.writeTensor("a", [UInt8](repeating: 0, count: 128))
        w.abort()
        XCTAssertEqual(dir.contents(), [])
        withExtendedLifetime(w) {}
    }
}
