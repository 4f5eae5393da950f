import Foundation
import ReelCore
import ReelSafetensors
import XCTest

/// The writer: the reference's byte layout, round trips, and (when Python is present) the reference reader.
final class WriterTests: XCTestCase {
    /// The expected bytes of the reference crate's own `test_serialization` (attn.0, f32 [1, 2, 3], 0…5).
    func testMatchesTheReferenceSerializerByteForByte() throws {
        var w = SafetensorsWriter()
        try w.add("attn.0", float32: [0, 1, 2, 3, 4, 5], shape: [1, 2, 3])
        let reference: [UInt8] = [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ]
        XCTAssertEqual(w.serialized(), reference)
        // The same with a shorter name needs 7 spaces of padding (reference test_serialization_forced_alignement).
        var w2 = SafetensorsWriter()
        try w2.add("attn0", float32: [0, 1, 2, 3, 4, 5], shape: [1, 1, 2, 3])
        let bytes = w2.serialized()
        XCTAssertEqual(bytes[0], 72)
        XCTAssertEqual(Array(bytes[73..<80]), [UInt8](repeating: 32, count: 7))
        // No tensors at all: "{}" and six spaces.
        XCTAssertEqual(SafetensorsWriter().serialized(), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
    }

    private func sample() throws -> SafetensorsWriter {
        var w = SafetensorsWriter(metadata: ["producer": "reel forward", "format": "pt"])
        try w.add("logits", float32: [1.5, -2, .infinity, .nan, 0, 3.25], shape: [2, 3])
        try w.add("half", float16: [0.1, -65504, 1e-7, 2], shape: [4])
        try w.add("ids", int64: [Int64.min, -1, 0, Int64.max], shape: [2, 2])
        try w.add("lengths", int32: [7], shape: [])
        try w.add("empty", float32: [], shape: [3, 0])
        return w
    }

    func testRoundTrip() throws {
        let dir = try scratchDirectory(self)
        let p = dir + "/out.safetensors"
        try sample().write(to: p)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(f.metadata, ["producer": "reel forward", "format": "pt"])
        XCTAssertEqual(f.headerSize % 8, 0)
        // Sorted by element size, then name: every tensor aligned to its element size.
        XCTAssertEqual(f.names, ["ids", "empty", "lengths", "logits", "half"])
        for t in f.tensors { XCTAssertEqual(t.fileOffset % t.dtype.byteSize!, 0, t.name) }
        XCTAssertTrue(zip(try f.float32("logits"), [1.5, -2, .infinity, .nan, 0, 3.25]).allSatisfy(sameFloat))
        XCTAssertEqual(try f.nonFiniteCount("logits"), NonFiniteCount(nan: 1, inf: 1))
        XCTAssertEqual(try f.float32("half"), [0.0999755859375, -65504, 1.1920928955078125e-07, 2])
        XCTAssertEqual(try f.tensor("lengths").shape, [])
        XCTAssertEqual(try f.float32("lengths"), [7])
        XCTAssertEqual(try f.tensor("empty").shape, [3, 0])
        let ids = try f.rawBytes("ids")
        XCTAssertEqual((0..<4).map { ids.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }, [Int64.min, -1, 0, Int64.max])
        // Atomic: an existing file is not replaced without force.
        guard case .io(.exists(p))? = thrownError({ try sample().write(to: p) }) else { return XCTFail() }
        try sample().write(to: p, force: true)
    }

    func testRejectsInconsistentTensors() throws {
        var w = SafetensorsWriter()
        XCTAssertEqual(thrownError { try w.add("x", float32: [1, 2, 3], shape: [2, 2]) },
                       .writerInvalidTensor(tensor: "x", reason: "F32 [2, 2] needs 16 bytes, got 12"))
        try w.add("x", float32: [1], shape: [1])
        XCTAssertEqual(thrownError { try w.add("x", float32: [1], shape: [1]) }, .writerInvalidTensor(tensor: "x", reason: "added twice"))
        XCTAssertEqual(thrownError { try w.add("__metadata__", float32: [1], shape: [1]) },
                       .writerInvalidTensor(tensor: "__metadata__", reason: "reserved or empty name"))
    }

    /// Python's safetensors reads what we wrote; skipped when python3 with safetensors and numpy is absent.
    func testPythonReadsWhatWeWrite() throws {
        let dir = try scratchDirectory(self)
        let p = dir + "/out.safetensors"
        try sample().write(to: p)
        let script = """
        import json, sys
        from safetensors import safe_open
        out = {}
        with safe_open(sys.argv[1], framework="numpy") as f:
            out["__metadata__"] = f.metadata()
            for k in f.keys():
                t = f.get_tensor(k)
                out[k] = {"dtype": str(t.dtype), "shape": list(t.shape), "values": [repr(v) for v in t.reshape(-1).tolist()]}
        print(json.dumps(out, sort_keys=True))
        """
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proc.arguments = ["python3", "-c", script, p]
        let pipe = Pipe(), errPipe = Pipe()
        proc.standardOutput = pipe
        proc.standardError = errPipe
        do { try proc.run() } catch { throw XCTSkip("python3 not runnable: \(error)") }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        let stderr = String(decoding: err, as: UTF8.self)
        if proc.terminationStatus != 0 {
            if stderr.contains("ModuleNotFoundError") || stderr.contains("No such file") { throw XCTSkip("python3 safetensors/numpy absent") }
            return XCTFail("python failed: \(stderr)")
        }
        let json = try JSON.parse(Array(out), source: "python")
        XCTAssertEqual(json["__metadata__"], ["format": "pt", "producer": "reel forward"])
        XCTAssertEqual(json["logits"]?["dtype"], "float32")
        XCTAssertEqual(json["logits"]?["shape"], [2, 3])
        XCTAssertEqual(json["logits"]?["values"], ["1.5", "-2.0", "inf", "nan", "0.0", "3.25"])
        XCTAssertEqual(json["half"]?["dtype"], "float16")
        XCTAssertEqual(json["half"]?["values"], ["0.0999755859375", "-65504.0", "1.1920928955078125e-07", "2.0"])
        XCTAssertEqual(json["ids"]?["values"], ["-9223372036854775808", "-1", "0", "9223372036854775807"])
        XCTAssertEqual(json["lengths"]?["shape"], [])
        XCTAssertEqual(json["lengths"]?["dtype"], "int32")
        XCTAssertEqual(json["empty"]?["shape"], [3, 0])
    }
}
