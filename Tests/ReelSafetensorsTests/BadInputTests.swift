import ReelCore
import ReelSafetensors
import XCTest

/// Each malformed file is refused with the error case that names what is wrong.
final class BadInputTests: XCTestCase {
    private var dir = ""
    override func setUpWithError() throws { dir = try scratchDirectory(self) }

    /// Writes `bytes` and returns the error opening them.
    private func openError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> (SafetensorsError?, String) {
        let p = dir + "/bad-\(line).safetensors"
        try writeBytes(bytes, to: p)
        return (thrownError({ try SafetensorsFile(path: p) }, file: file, line: line), p)
    }

    private func entry(_ name: String, _ dtype: String, _ shape: [Int], _ b: Int, _ e: Int) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(b),\#(e)]}"#
    }

    func testTruncatedFiles() throws {
        let good = try readWholeFile(Fixture.path("dtypes.safetensors"))
        var (e, p) = try openError(Array(good[0..<5]))
        XCTAssertEqual(e, .fileTooSmall(path: p, size: 5))
        (e, p) = try openError([])
        XCTAssertEqual(e, .fileTooSmall(path: p, size: 0))
        // Cut inside the header: the size field now points past the end.
        let n = good.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        (e, p) = try openError(Array(good[0..<100]))
        XCTAssertEqual(e, .headerBeyondFile(path: p, headerSize: n, fileSize: 100))
        // Cut inside the data: the last tensor now runs past the data region.
        let f = try SafetensorsFile(path: Fixture.path("dtypes.safetensors"))
        let last = f.tensors.last!
        (e, p) = try openError(Array(good.dropLast(3)))
        XCTAssertEqual(e, .offsetsBeyondData(path: p, tensor: last.name, end: last.dataOffsets.upperBound,
                                             dataSize: last.dataOffsets.upperBound - 3))
    }

    func testHeaderSizeField() throws {
        var (e, p) = try openError(crafted("{}", sizeField: 1 << 40))
        XCTAssertEqual(e, .headerTooLarge(path: p, headerSize: 1 << 40, limit: 100_000_000))
        (e, p) = try openError(crafted("{}", sizeField: UInt64.max))
        XCTAssertEqual(e, .headerTooLarge(path: p, headerSize: UInt64.max, limit: 100_000_000))
        (e, p) = try openError(crafted("{}  ", sizeField: 1000))
        XCTAssertEqual(e, .headerBeyondFile(path: p, headerSize: 1000, fileSize: 12))
        (e, p) = try openError(crafted("{}", sizeField: 0))
        XCTAssertEqual(e, .headerNotObject(path: p))
    }

    func testNonJSONAndNonObjectHeaders() throws {
        var (e, p) = try openError(crafted("hello world"))
        XCTAssertEqual(e, .headerNotObject(path: p))
        (e, p) = try openError(crafted("[1, 2]"))
        XCTAssertEqual(e, .headerNotObject(path: p))
        (e, p) = try openError(crafted(#"{"a": {"dtype": "F32",}"#))
        guard case .invalidJSON(p, _)? = e else { return XCTFail("\(String(describing: e))") }
        (e, p) = try openError(crafted("{} trailing"))
        guard case .invalidJSON(p, _)? = e else { return XCTFail("\(String(describing: e))") }
        (e, p) = try openError(crafted("{}\0\0"))
        XCTAssertEqual(e, .invalidJSON(path: p, message: "NUL byte at offset 10"))
        (e, p) = try openError(crafted("{\"\u{00e9}\":1}").enumerated().map { $0.offset == 11 ? 0xFF : $0.element })
        XCTAssertEqual(e, .headerNotUTF8(path: p, offset: 10))
    }

    func testEntryShape() throws {
        var (e, p) = try openError(crafted(#"{"w": 5}"#))
        XCTAssertEqual(e, .entryNotObject(path: p, tensor: "w"))
        (e, p) = try openError(crafted(#"{"w":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]))
        XCTAssertEqual(e, .missingKey(path: p, tensor: "w", key: "data_offsets"))
        (e, p) = try openError(crafted(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}"#, data: [0, 0, 0, 0]))
        XCTAssertEqual(e, .unexpectedKey(path: p, tensor: "w", key: "extra"))
        (e, p) = try openError(crafted(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        XCTAssertEqual(e, .wrongType(path: p, tensor: "w", key: "shape", expected: "an array of non-negative integers"))
        (e, p) = try openError(crafted(#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        XCTAssertEqual(e, .wrongType(path: p, tensor: "w", key: "shape", expected: "an array of non-negative integers"))
        (e, p) = try openError(crafted(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, data: [0, 0, 0, 0]))
        XCTAssertEqual(e, .wrongType(path: p, tensor: "w", key: "data_offsets", expected: "[begin, end]"))
        (e, p) = try openError(crafted(#"{"__metadata__":{"k":1}}"#))
        XCTAssertEqual(e, .invalidMetadata(path: p, key: "k", reason: "value is not a string"))
        let p2 = dir + "/nullmeta.safetensors"
        try writeBytes(crafted(#"{"__metadata__":null}"#), to: p2)
        XCTAssertNil(try SafetensorsFile(path: p2).metadata)
        (e, p) = try openError(crafted(#"{"__metadata__":[]}"#))
        XCTAssertEqual(e, .invalidMetadata(path: p, key: nil, reason: "not an object"))
    }

    func testUnknownDType() throws {
        let (e, p) = try openError(crafted("{" + entry("w", "F128", [1], 0, 16) + "}", data: .init(repeating: 0, count: 16)))
        XCTAssertEqual(e, .unknownDType(path: p, tensor: "w", dtype: "F128"))
    }

    func testShapeTimesDTypeMustEqualTheSpan() throws {
        var (e, p) = try openError(crafted("{" + entry("w", "F32", [2, 3], 0, 20) + "}", data: .init(repeating: 0, count: 20)))
        XCTAssertEqual(e, .sizeMismatch(path: p, tensor: "w", dtype: .f32, shape: [2, 3], expected: 24, actual: 20))
        (e, p) = try openError(crafted("{" + entry("w", "F64", [1 << 31, 1 << 31, 4], 0, 8) + "}", data: .init(repeating: 0, count: 8)))
        XCTAssertEqual(e, .sizeOverflow(path: p, tensor: "w", shape: [1 << 31, 1 << 31, 4]))
        (e, p) = try openError(crafted("{" + entry("w", "F4", [3], 0, 1) + "}", data: [0]))
        XCTAssertEqual(e, .partialByte(path: p, tensor: "w", dtype: .f4, shape: [3]))
    }

    func testOffsetsThatLie() throws {
        let data = [UInt8](repeating: 0, count: 16)
        // Beyond the data region.
        var (e, p) = try openError(crafted("{" + entry("a", "F32", [2], 0, 8) + "," + entry("b", "F32", [4], 8, 24) + "}", data: data))
        XCTAssertEqual(e, .offsetsBeyondData(path: p, tensor: "b", end: 24, dataSize: 16))
        // Overlapping.
        (e, p) = try openError(crafted("{" + entry("a", "F32", [3], 0, 12) + "," + entry("b", "F32", [2], 8, 16) + "}", data: data))
        XCTAssertEqual(e, .overlap(path: p, tensor: "b", other: "a", begin: 8, otherEnd: 12))
        // A hole between tensors.
        (e, p) = try openError(crafted("{" + entry("a", "F32", [1], 0, 4) + "," + entry("b", "F32", [2], 8, 16) + "}", data: data))
        XCTAssertEqual(e, .gap(path: p, after: "a", from: 4, to: 8))
        // A hole at the start, and bytes after the last tensor.
        (e, p) = try openError(crafted("{" + entry("b", "F32", [2], 8, 16) + "}", data: data))
        XCTAssertEqual(e, .gap(path: p, after: nil, from: 0, to: 8))
        (e, p) = try openError(crafted("{" + entry("a", "F32", [2], 0, 8) + "}", data: data))
        XCTAssertEqual(e, .gap(path: p, after: "a", from: 8, to: 16))
        // Inverted.
        (e, p) = try openError(crafted("{" + entry("a", "F32", [0], 8, 4) + "}", data: data))
        XCTAssertEqual(e, .invertedOffsets(path: p, tensor: "a", begin: 8, end: 4))
        // Listed out of order but tiling exactly: accepted, and reported in storage order.
        let p2 = dir + "/unordered.safetensors"
        try writeBytes(crafted("{" + entry("z", "F32", [2], 8, 16) + "," + entry("y", "F32", [2], 0, 8) + "}", data: data), to: p2)
        XCTAssertEqual(try SafetensorsFile(path: p2).names, ["y", "z"])
    }

    func testDuplicateNames() throws {
        let data = [UInt8](repeating: 0, count: 8)
        var (e, p) = try openError(crafted("{" + entry("w", "F32", [1], 0, 4) + "," + entry("w", "F32", [1], 4, 8) + "}", data: data))
        XCTAssertEqual(e, .duplicateKey(path: p, object: "the top level", key: "w"))
        // The same name spelled with an escape is still the same name.
        (e, p) = try openError(crafted("{" + entry("w", "F32", [1], 0, 4) + "," + entry("\\u0077", "F32", [1], 4, 8) + "}", data: data))
        XCTAssertEqual(e, .duplicateKey(path: p, object: "the top level", key: "w"))
        // A key twice inside one entry (json-c would silently keep the last).
        (e, p) = try openError(crafted(#"{"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        XCTAssertEqual(e, .duplicateKey(path: p, object: "w", key: "dtype"))
    }

    func testMissingFileIsAnIOError() {
        let p = dir + "/absent.safetensors"
        guard case .io(.open(p, _))? = thrownError({ try SafetensorsFile(path: p) }) else { return XCTFail() }
    }
}

/// ReelCore's JSON.parse (used for config and index files) must not merge a key spelled two ways.
final class CoreJSONDuplicateTests: XCTestCase {
    func testEscapedDuplicateTopLevelKeyIsRejected() {
        XCTAssertThrowsError(try JSON.parse(#"{"a":1,"\u0061":2}"#, source: "t")) { e in
            guard case let JSONError.parse(_, message) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("duplicate key"), message)
        }
        XCTAssertNoThrow(try JSON.parse(#"{"a":1,"\u0062":{"a":2}}"#, source: "t"))
    }
}
