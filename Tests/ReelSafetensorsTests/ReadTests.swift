import ReelCore
import ReelSafetensors
import XCTest

/// Files written by the Python safetensors library, compared with the values the script recorded.
final class ReadTests: XCTestCase {
    /// Checks every tensor of `file` against expected.json's entry `section`.
    private func checkAgainstExpected(_ names: [String], section: JSON,
                                      tensor: (String) throws -> SafetensorsTensor,
                                      float32: (String) throws -> [Float],
                                      nonFinite: (String) throws -> NonFiniteCount,
                                      raw: (String) throws -> UnsafeRawBufferPointer) throws {
        let expected = try XCTUnwrap(section["tensors"]?.object)
        XCTAssertEqual(Set(names), Set(expected.keys))
        for (name, e) in expected {
            let t = try tensor(name)
            XCTAssertEqual(t.dtype.rawValue, e["dtype"]?.string, name)
            XCTAssertEqual(t.shape, e["shape"]?.array?.compactMap(\.int), name)
            let want = try XCTUnwrap(e["f32"]?.array).map { expectedFloat($0)! }
            XCTAssertEqual(t.elementCount, want.count, name)
            let got = try float32(name)
            for (i, (g, w)) in zip(got, want).enumerated() where !sameFloat(g, w) {
                XCTFail("\(name)[\(i)]: got \(g), expected \(w)")
            }
            let nf = try nonFinite(name)
            XCTAssertEqual(nf, NonFiniteCount(nan: e["nan"]?.int ?? -1, inf: e["inf"]?.int ?? -1), name)
            if let rawValues = e["raw"]?.array {
                try checkRawIntegers(t, try raw(name), rawValues.compactMap(\.string))
            }
        }
    }

    /// The stored integers, read exactly in their own type.
    private func checkRawIntegers(_ t: SafetensorsTensor, _ b: UnsafeRawBufferPointer, _ want: [String]) throws {
        XCTAssertEqual(b.count, t.byteCount)
        let size = t.dtype.byteSize!
        for i in 0..<t.elementCount {
            let o = i * size
            let got: String
            switch t.dtype {
            case .bool, .u8: got = String(b[o])
            case .i8: got = String(Int8(bitPattern: b[o]))
            case .i16: got = String(Int16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int16.self)))
            case .u16: got = String(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
            case .i32: got = String(Int32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int32.self)))
            case .u32: got = String(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
            case .i64: got = String(Int64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int64.self)))
            case .u64: got = String(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
            default: XCTFail("\(t.name): unexpected integer dtype \(t.dtype)"); return
            }
            XCTAssertEqual(got, want[i], "\(t.name)[\(i)]")
        }
    }

    func testEveryDTypeMatchesTheReferenceValues() throws {
        let f = try SafetensorsFile(path: Fixture.path("dtypes.safetensors"))
        let section = try XCTUnwrap(Fixture.expected()["dtypes.safetensors"])
        try checkAgainstExpected(f.names, section: section, tensor: f.tensor, float32: f.float32,
                                 nonFinite: f.nonFiniteCount, raw: f.rawBytes)
        let meta = try XCTUnwrap(section["metadata"]?.object)
        XCTAssertEqual(f.metadata, Dictionary(uniqueKeysWithValues: meta.map { ($0.key, $0.value.string!) }))
        // Every dtype the brief asks for is present.
        let dtypes = Set(f.tensors.map(\.dtype))
        for d in [SafetensorsDType.f64, .f32, .f16, .bf16, .i8, .u8, .i16, .u16, .i32, .u32, .i64, .u64, .bool, .f8e4m3, .f8e5m2] {
            XCTAssertTrue(dtypes.contains(d), "fixture lacks \(d)")
        }
    }

    func testScalarsAndEmptyTensors() throws {
        let f = try SafetensorsFile(path: Fixture.path("special.safetensors"))
        let section = try XCTUnwrap(Fixture.expected()["special.safetensors"])
        try checkAgainstExpected(f.names, section: section, tensor: f.tensor, float32: f.float32,
                                 nonFinite: f.nonFiniteCount, raw: f.rawBytes)
        XCTAssertNil(f.metadata)
        XCTAssertEqual(try f.tensor("scalar_f32").shape, [])
        XCTAssertEqual(try f.tensor("scalar_f32").elementCount, 1)
        XCTAssertEqual(try f.tensor("empty_2x0x3_f16").elementCount, 0)
        XCTAssertEqual(try f.rawBytes("empty_2x0x3_f16").count, 0)
        XCTAssertEqual(try f.float32("empty_f32"), [])
    }

    func testNamesAreInStorageOrderAndBytesLieInTheMapping() throws {
        let f = try SafetensorsFile(path: Fixture.path("dtypes.safetensors"))
        var end = 0
        for t in f.tensors {
            XCTAssertEqual(t.dataOffsets.lowerBound, end, t.name)
            end = t.dataOffsets.upperBound
            XCTAssertEqual(t.fileOffset, f.dataStart + t.dataOffsets.lowerBound)
        }
        XCTAssertEqual(f.dataStart + end, f.fileSize)
        // The raw buffer is the mapping itself: consecutive tensors are adjacent in memory.
        let a = try f.rawBytes(f.tensors[0].name), b = try f.rawBytes(f.tensors[1].name)
        XCTAssertEqual(a.baseAddress! + a.count, b.baseAddress!)
    }

    func testElementRangesConvertIntoTheCallerBuffer() throws {
        let f = try SafetensorsFile(path: Fixture.path("dtypes.safetensors"))
        let all = try f.float32("f16")
        var part = [Float](repeating: -1, count: 5)
        try part.withUnsafeMutableBufferPointer { try f.readFloat32("f16", elements: 3..<7, into: $0) }
        XCTAssertTrue(zip(part[0..<4], all[3..<7]).allSatisfy(sameFloat))
        XCTAssertEqual(part[4], -1, "the buffer past the range is untouched")
        var small = [Float](repeating: 0, count: 2)
        let e = thrownError { try small.withUnsafeMutableBufferPointer { try f.readFloat32("f16", elements: 3..<7, into: $0) } }
        XCTAssertEqual(e, .badRange(tensor: "f16", range: 3..<7, elementCount: 12, bufferCount: 2))
        XCTAssertEqual(thrownError { try f.float32("nope") }, .tensorNotFound(source: f.path, tensor: "nope"))
    }

    func testRefusedConversionsNameTheDType() throws {
        let dir = try scratchDirectory(self)
        let p = dir + "/c64.safetensors"
        try writeBytes(crafted(#"{"z":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: [0, 0, 0x80, 0x7F, 0, 0, 0xC0, 0x7F]), to: p)
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(thrownError { try f.float32("z") }, .unsupportedConversion(source: p, tensor: "z", dtype: .c64, to: "F32"))
        XCTAssertEqual(try f.nonFiniteCount("z"), NonFiniteCount(nan: 1, inf: 1))
    }

    func testF8E8M0AndF16Helpers() throws {
        let dir = try scratchDirectory(self)
        let p = dir + "/e8m0.safetensors"
        try writeBytes(crafted(#"{"s":{"dtype":"F8_E8M0","shape":[4],"data_offsets":[0,4]}}"#, data: [127, 130, 0, 255]), to: p)
        let v = try SafetensorsFile(path: p).float32("s")
        XCTAssertEqual(Array(v[0..<3]), [1, 8, 0x1p-127])
        XCTAssertTrue(v[3].isNaN)
        // f16 rounding: ties to even, overflow to inf, subnormals kept.
        XCTAssertEqual(floatToFloat16Bits(1), 0x3C00)
        XCTAssertEqual(floatToFloat16Bits(65520), 0x7C00)
        XCTAssertEqual(floatToFloat16Bits(0x1p-24), 0x0001)
        XCTAssertEqual(floatToFloat16Bits(0x1p-25), 0x0000)
        XCTAssertEqual(floatToFloat16Bits(1 + 0x1p-11), 0x3C00)
        XCTAssertEqual(floatToFloat16Bits(1 + 3 * 0x1p-11), 0x3C02)
        for bits in UInt16(0)...UInt16.max where !float16BitsToFloat(bits).isNaN {
            XCTAssertEqual(floatToFloat16Bits(float16BitsToFloat(bits)), bits)
        }
    }
}
