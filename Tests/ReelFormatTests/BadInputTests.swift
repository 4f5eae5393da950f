import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelQuant

/// Each broken file must be refused with the error case that names what is wrong.
final class BadInputTests: XCTestCase {
    var dir: TempDir!
    var good: String!

    override func setUpWithError() throws {
        dir = try TempDir()
        good = dir.file("good.reel")
        try Sample.write(to: good)
    }

    /// XCTest keeps every test case object until the run ends: release the directory now, so it is removed.
    override func tearDown() {
        dir = nil
        super.tearDown()
    }

    /// Writes a variant of the good file with its metadata edited (and the header made consistent again).
    func variant(_ name: String, _ edit: (inout JSONObject) -> Void) throws -> String {
        var parts = try FileParts(path: good)
        var o = parts.metadataJSON
        edit(&o)
        parts.metadataJSON = o
        parts.fixHeader()
        let path = dir.file(name)
        try parts.write(to: path)
        return path
    }

    func testBadMagic() throws {
        var b = try readBytes(good)
        b[3] = UInt8(ascii: "X")
        let p = dir.file("magic.reel")
        try writeBytes(b, to: p)
        assertReelError("bad magic", { _ = try ReelFile(path: p) }) { $0 == .badMagic(path: p) }
        // A text-mode transfer turns \r\n into \n.
        b = try readBytes(good)
        b.remove(at: 4)
        try writeBytes(b, to: p)
        assertReelError("CRLF mangled", { _ = try ReelFile(path: p) }) { $0 == .badMagic(path: p) }
        try writeBytes(Array("hello".utf8), to: p)
        assertReelError("short foreign file", { _ = try ReelFile(path: p) }) { $0 == .badMagic(path: p) }
    }

    func testTruncatedAtSeveralPoints() throws {
        let b = try readBytes(good)
        let f = try ReelFile(path: good)
        let cuts = [0, 5, 40, 63, 64, 100, 64 + Int(f.header.metadataLength) - 1, f.dataOffset - 1, f.dataOffset,
                    f.dataOffset + 10, b.count - 1]
        for cut in cuts {
            let p = dir.file("cut\(cut).reel")
            try writeBytes(Array(b[..<cut]), to: p)
            assertReelError("cut at \(cut)", { _ = try ReelFile(path: p) }) {
                if case let .truncated(path, expected, actual) = $0 {
                    return path == p && actual == cut && expected == (cut < 64 ? 64 : UInt64(b.count))
                }
                return false
            }
        }
    }

    func testFutureVersionNamesBothVersions() throws {
        var parts = try FileParts(path: good)
        parts.header.formatVersion = 2
        let p = dir.file("model.reel")
        try parts.write(to: p)
        let e = assertReelError("v2", { _ = try ReelFile(path: p) }) {
            $0 == .unsupportedVersion(path: p, fileVersion: 2, highestSupported: 1)
        }
        let message = e.map { "\($0)" } ?? ""
        XCTAssertTrue(message.contains("written with format version 2"), message)
        XCTAssertTrue(message.contains("reads versions up to 1"), message)
        XCTAssertTrue(message.contains("upgrade reel"), message)
    }

    func testBadHeaderFields() throws {
        let cases: [(String, (inout ReelHeader) -> Void)] = [
            ("header_size", { $0.headerSize = 128 }),
            ("metadata_offset", { $0.metadataOffset = 128 }),
            ("format_version", { $0.formatVersion = 0 }),
            ("data_offset", { $0.dataOffset += 64 }),
            ("metadata_length", { $0.metadataLength = 1 }),
            ("metadata_length", { $0.metadataLength = 1 << 40 }),
            ("data_length", { $0.dataLength += 1 }),
        ]
        for (i, (field, edit)) in cases.enumerated() {
            var parts = try FileParts(path: good)
            edit(&parts.header)
            let p = dir.file("h\(i).reel")
            try parts.write(to: p)
            assertReelError(field, { _ = try ReelFile(path: p) }) {
                if case let .badHeader(_, f, _, _) = $0 { return f == field }
                return false
            }
        }
        // Extra bytes after file_length.
        let p = dir.file("long.reel")
        try writeBytes(try readBytes(good) + [0], to: p)
        assertReelError("trailing byte", { _ = try ReelFile(path: p) }) {
            if case let .badHeader(_, f, _, _) = $0 { return f == "file_length" }
            return false
        }
    }

    func testMetadataChecksumMismatch() throws {
        var b = try readBytes(good)
        let i = try readBytes(good).firstIndex(of: UInt8(ascii: "g"))!  // inside "generic"
        b[i] = UInt8(ascii: "G")
        let p = dir.file("sum.reel")
        try writeBytes(b, to: p)
        assertReelError("metadata flip", { _ = try ReelFile(path: p) }) {
            if case let .metadataChecksumMismatch(path, _, _) = $0 { return path == p }
            return false
        }
    }

    func testOffsetOutsideData() throws {
        let p = try variant("outside.reel") { o in
            editEntry(&o, table: "tensors", index: 3) { $0["offset"] = .int(1 << 20) }
        }
        assertReelError("outside", { _ = try ReelFile(path: p) }) {
            if case let .regionOutOfBounds(_, region, offset, _, _) = $0 { return region == "tensor \"norm.weight\"" && offset == 1 << 20 }
            return false
        }
        let q = try variant("overflow.reel") { o in
            editEntry(&o, table: "blobs", index: 0) { $0["offset"] = .int(Int64.max - 63) }
        }
        assertReelError("overflowing end", { _ = try ReelFile(path: q) }) {
            if case let .regionOutOfBounds(_, region, _, _, _) = $0 { return region == "blob \"tokenizer.json\"" }
            return false
        }
    }

    func testMisalignedOffset() throws {
        let p = try variant("misaligned.reel") { o in
            editEntry(&o, table: "tensors", index: 1) { $0["offset"] = .int(Int64(($0["offset"]!.int ?? 0) + 8)) }
        }
        assertReelError("misaligned", { _ = try ReelFile(path: p) }) {
            if case let .misalignedRegion(_, region, _) = $0 { return region == "tensor \"layers.0.q_proj.weight\"" }
            return false
        }
    }

    func testOverlappingRegions() throws {
        let f = try ReelFile(path: good)
        let p = try variant("overlap.reel") { o in
            editEntry(&o, table: "tensors", index: 2) { $0["offset"] = .int(Int64(f.tensors[1].offset)) }
        }
        assertReelError("overlap", { _ = try ReelFile(path: p) }) {
            if case let .overlappingRegions(_, a, b, _) = $0 {
                return Set([a, b]) == ["tensor \"layers.0.q_proj.weight\"", "tensor \"layers.0.k_proj.weight\""]
            }
            return false
        }
        // A tensor placed on top of a blob.
        let q = try variant("overlap-blob.reel") { o in
            editEntry(&o, table: "tensors", index: 3) { $0["offset"] = .int(0) }
        }
        assertReelError("overlap blob", { _ = try ReelFile(path: q) }) {
            if case let .overlappingRegions(_, a, b, _) = $0 { return a == "blob \"tokenizer.json\"" && b == "tensor \"norm.weight\"" }
            return false
        }
    }

    func testLengthContradictsEncodingAndShape() throws {
        let p = try variant("length.reel") { o in
            editEntry(&o, table: "tensors", index: 1) { $0["shape"] = [3, 64] }
        }
        // [3, 45] and [3, 64] both take 2 blocks per row: the same length, so this one is valid.
        XCTAssertNoThrow(try ReelFile(path: p))
        let q = try variant("length2.reel") { o in
            editEntry(&o, table: "tensors", index: 1) { $0["shape"] = [3, 65] }
        }
        assertReelError("length", { _ = try ReelFile(path: q) }) {
            $0 == .lengthMismatch(path: q, tensor: "layers.0.q_proj.weight", encoding: .q4, shape: [3, 65], length: 108, expected: 162)
        }
        let r = try variant("encoding.reel") { o in
            editEntry(&o, table: "tensors", index: 0) { $0["encoding"] = "f32" }
        }
        assertReelError("encoding changes the size", { _ = try ReelFile(path: r) }) {
            if case let .lengthMismatch(_, t, e, _, _, _) = $0 { return t == "embed.weight" && e == .f32 }
            return false
        }
        for (i, shape) in [[], [0, 48], [-1, 48], [Int(Int64.max), 2, 2]].enumerated() {
            let s = try variant("shape\(i).reel") { o in
                editEntry(&o, table: "tensors", index: 3) { $0["shape"] = .array(shape.map { .int(Int64($0)) }) }
            }
            assertReelError("shape \(shape)", { _ = try ReelFile(path: s) }) {
                $0 == .badShape(path: s, tensor: "norm.weight", shape: shape)
            }
        }
    }

    func testDuplicateAndEmptyNames() throws {
        let p = try variant("dup.reel") { o in
            editEntry(&o, table: "tensors", index: 2) { $0["name"] = "layers.0.q_proj.weight" }
        }
        assertReelError("duplicate", { _ = try ReelFile(path: p) }) { $0 == .duplicateName(path: p, name: "layers.0.q_proj.weight") }
        let q = try variant("empty.reel") { o in
            editEntry(&o, table: "blobs", index: 1) { $0["name"] = "" }
        }
        assertReelError("empty", { _ = try ReelFile(path: q) }) { $0 == .emptyName(path: q, key: "blobs[1].name") }
        // A duplicate top-level key is refused by the JSON layer.
        var parts = try FileParts(path: good)
        parts.metadata = Array(("{\"architecture\":\"x\"," + String(decoding: parts.metadata.dropFirst(), as: UTF8.self)).utf8)
        parts.fixHeader()
        let r = dir.file("dupkey.reel")
        try parts.write(to: r)
        assertReelError("duplicate top-level key", { _ = try ReelFile(path: r) }) {
            if case let .badMetadata(_, _, reason) = $0 { return reason.contains("duplicate key") }
            return false
        }
    }

    func testUnknownEncodingAndCompression() throws {
        let p = try variant("enc.reel") { o in editEntry(&o, table: "tensors", index: 1) { $0["encoding"] = "q3_k" } }
        assertReelError("encoding", { _ = try ReelFile(path: p) }) {
            $0 == .unknownEncoding(path: p, tensor: "layers.0.q_proj.weight", encoding: "q3_k")
        }
        let q = try variant("comp.reel") { o in editEntry(&o, table: "blobs", index: 0) { $0["compression"] = "gzip" } }
        assertReelError("compression", { _ = try ReelFile(path: q) }) {
            $0 == .unknownCompression(path: q, blob: "tokenizer.json", compression: "gzip")
        }
    }

    func testChecksumStrings() throws {
        for (i, bad) in ["ABCDEF0123456789", "+bcdef012345678", "0123", "0123456789abcdefa", "0123456789abcdeg"].enumerated() {
            let p = try variant("x\(i).reel") { o in editEntry(&o, table: "tensors", index: 0) { $0["xxh64"] = .string(bad) } }
            assertReelError("xxh64 \(bad)", { _ = try ReelFile(path: p) }) {
                $0 == .badChecksumString(path: p, region: "tensor \"embed.weight\"", value: bad)
            }
        }
    }

    func testMissingOrMistypedKeys() throws {
        let cases: [(String, (inout JSONObject) -> Void)] = [
            ("architecture", { $0["architecture"] = nil }),
            ("format_version", { $0["format_version"] = 2 }),
            ("tensors", { $0["tensors"] = "none" }),
            ("tensors[0].offset", { editEntry(&$0, table: "tensors", index: 0) { $0["offset"] = 64.0 } }),
            ("tensors[0].offset", { editEntry(&$0, table: "tensors", index: 0) { $0["offset"] = -64 } }),
            ("blobs[1].raw_length", { editEntry(&$0, table: "blobs", index: 1) { $0["raw_length"] = 3 } }),
            ("components.decoder.config", { $0["components"] = ["decoder": ["family": "qwen2"]] }),
        ]
        for (i, (key, edit)) in cases.enumerated() {
            let p = try variant("k\(i).reel", edit)
            assertReelError(key, { _ = try ReelFile(path: p) }) {
                if case let .badMetadata(_, k, _) = $0 { return k == key }
                return false
            }
        }
        var parts = try FileParts(path: good)
        parts.metadata = Array("[1, 2]".utf8)
        parts.fixHeader()
        let p = dir.file("array.reel")
        try parts.write(to: p)
        assertReelError("not an object", { _ = try ReelFile(path: p) }) {
            if case let .badMetadata(_, k, _) = $0 { return k == "(root)" }
            return false
        }
    }

    func testCorruptTensorByteNamedByVerify() throws {
        let f0 = try ReelFile(path: good)
        var b = try readBytes(good)
        let k = try XCTUnwrap(f0.tensorInfo("layers.0.k_proj.weight"))
        let n = try XCTUnwrap(f0.tensorInfo("norm.weight"))
        b[f0.dataOffset + k.offset + 17] ^= 0x01
        b[f0.dataOffset + n.offset] ^= 0x80
        let p = dir.file("corrupt.reel")
        try writeBytes(b, to: p)
        let f = try ReelFile(path: p)  // opening does not read tensors
        assertReelError("verify", { _ = try f.verify() }) {
            if case let .tensorChecksumMismatch(path, t, expected, _) = $0 {
                return path == p && t == "layers.0.k_proj.weight" && expected == k.xxh64
            }
            return false
        }
    }

    func testCorruptBlobNamedByBlob() throws {
        let f0 = try ReelFile(path: good)
        let tok = try XCTUnwrap(f0.blobInfo("tokenizer.json"))
        var b = try readBytes(good)
        b[f0.dataOffset + tok.offset + tok.length / 2] ^= 0xFF
        let p = dir.file("blob.reel")
        try writeBytes(b, to: p)
        let f = try ReelFile(path: p)
        assertReelError("blob", { _ = try f.blob("tokenizer.json") }) {
            if case let .blobChecksumMismatch(_, name, _, _) = $0 { return name == "tokenizer.json" }
            return false
        }
        assertReelError("verify blob", { _ = try f.verify() }) {
            if case let .blobChecksumMismatch(_, name, _, _) = $0 { return name == "tokenizer.json" }
            return false
        }
        XCTAssertEqual(try f.blob("chat_template.jinja"), Array("{{ messages }}".utf8))
        // A consistent checksum over bytes that are not a zstd frame of raw_length bytes.
        let q = try variant("rawlen.reel") { o in editEntry(&o, table: "blobs", index: 0) { $0["raw_length"] = 5 } }
        assertReelError("raw_length", { _ = try ReelFile(path: q).blob("tokenizer.json") }) {
            if case let .blobCorrupt(_, name, _) = $0 { return name == "tokenizer.json" }
            return false
        }
        // verify decompresses each compressed blob too: it does not call a file good that reading then refuses.
        assertReelError("verify raw_length", { _ = try ReelFile(path: q).verify() }) {
            if case let .blobCorrupt(_, name, _) = $0 { return name == "tokenizer.json" }
            return false
        }
    }

    /// The data section ends where its last region ends (formats/REEL.md §2), checked at open: a header declaring
    /// gigabytes past the last tensor (a sparse file) made `verify` read them all, holding them in memory.
    func testDataSectionPastTheLastRegionIsRefusedAtOpen() throws {
        var parts = try FileParts(path: good)
        parts.data += [UInt8](repeating: 0, count: 4096)
        parts.fixHeader()
        let p = dir.file("trailing.reel")
        try parts.write(to: p)
        let e = assertReelError("trailing data", { _ = try ReelFile(path: p) }) {
            if case let .badMetadata(_, key, _) = $0 { return key == "data_length" }
            return false
        }
        XCTAssertTrue("\(e.map { "\($0)" } ?? "")".contains("ends at \(parts.data.count - 4096)"), "\(String(describing: e))")
    }

    func testNonZeroPaddingFoundByVerify() throws {
        let f0 = try ReelFile(path: good)
        var b = try readBytes(good)
        b[f0.dataOffset - 1] = 1
        let p = dir.file("pad.reel")
        try writeBytes(b, to: p)
        assertReelError("padding", { _ = try ReelFile(path: p).verify() }) { $0 == .nonZeroPadding(path: p, offset: f0.dataOffset - 1) }
    }

    func testLookupsOfMissingNames() throws {
        let f = try ReelFile(path: good)
        assertReelError("tensor", { _ = try f.tensor("nope") }) { $0 == .noSuchTensor(path: good, name: "nope") }
        assertReelError("blob", { _ = try f.blob("nope") }) { $0 == .noSuchBlob(path: good, name: "nope") }
        let missing = dir.file("absent.reel")
        assertReelError("absent file", { _ = try ReelFile(path: missing) }) {
            if case let .cannotOpen(p, _) = $0 { return p == missing }
            return false
        }
    }
}
