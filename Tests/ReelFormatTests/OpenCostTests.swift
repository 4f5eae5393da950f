import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelQuant

/// Opening is O(metadata): a 521 MiB (sparse) file opens without its weights being read into memory.
final class OpenCostTests: XCTestCase {
    /// Resident set size of this process, from /proc/self/statm.
    private func residentBytes() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let fields = text.split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func testOpeningASparseHalfGigabyteFileDoesNotReadIt() throws {
        let dir = try TempDir()
        let path = dir.file("big.reel")
        // f32 [131072, 1024] = 512 MiB, then q4 [4096, 4096] = 9 MiB.
        let shapes: [(String, Encoding, [Int])] = [("decoder.embed_tokens.weight", .f32, [131072, 1024]),
                                                   ("decoder.lm_head.weight", .q4, [4096, 4096])]
        var tensors: [JSON] = []
        var cursor = 0
        for (name, e, shape) in shapes {
            let n = e.byteCount(shape: shape)!
            tensors.append(["name": .string(name), "encoding": .string(e.rawValue), "shape": .array(shape.map { .int(Int64($0)) }),
                            "offset": .int(Int64(cursor)), "length": .int(Int64(n)), "xxh64": "0123456789abcdef"])
            cursor = (cursor + n + 63) / 64 * 64
        }
        let dataLength = cursor
        let meta = Array(JSON.object(JSONObject([("format_version", 1), ("architecture", "generic"), ("blobs", []),
                                                 ("tensors", .array(tensors))])).serialized().utf8)
        let d = 16384
        let header = ReelHeader(metadataLength: UInt64(meta.count), metadataXXH64: Checksum.xxh64(meta), dataOffset: UInt64(d),
                                dataLength: UInt64(dataLength), fileLength: UInt64(d + dataLength))
        try writeBytes(header.encoded() + meta, to: path)
        XCTAssertEqual(truncate(path, off_t(d + dataLength)), 0, "ftruncate to \(d + dataLength) bytes")
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        let onDisk = Int(st.st_blocks) * 512
        XCTAssertGreaterThanOrEqual(Int(st.st_size), 512 << 20)

        let before = try residentBytes()
        let clock = ContinuousClock()
        var f: ReelFile?
        var views: [TensorView] = []
        let openTime = try clock.measure {
            f = try ReelFile(path: path)
            views = try f!.tensors.map { try f!.tensor($0.name) }
            _ = f!.summary()
        }
        let after = try residentBytes()
        let growth = after - before
        print("open cost: file \(st.st_size >> 20) MiB (\(onDisk >> 10) KiB allocated on disk); open + views + summary took \(openTime); "
              + "resident memory grew by \(growth >> 10) KiB (\(before >> 20) → \(after >> 20) MiB)")
        XCTAssertLessThan(growth, 64 << 20, "opening must not read the weights")
        XCTAssertEqual(views.map(\.bytes.count), [512 << 20, 4096 * 128 * 18])

        // Control: touching 128 MiB of the view does show up in the same measurement.
        let touch = 128 << 20
        var x: UInt8 = 0
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for i in stride(from: 0, to: touch, by: page) { x &+= views[0].bytes[i] }
        let touched = try residentBytes()
        print("open cost control: touching \(touch >> 20) MiB raised resident memory by \((touched - after) >> 20) MiB (x = \(x))")
        XCTAssertGreaterThan(touched - after, touch / 2, "the measurement sees pages that are read")
        try f!.adviseDontNeed(tensor: "decoder.embed_tokens.weight")
    }

    /// `populate(prefix:)` maps in the tensors under the prefix, and only those: measured as the mapping's own
    /// resident bytes (Rss in /proc/self/smaps). Two 8 MiB tensors of a sparse file, "vision." first.
    func testPopulateMapsInOnlyTheNamedTensors() throws {
        #if os(Linux)
        let dir = try TempDir()
        let path = dir.file("two.reel")
        let mib8 = 8 << 20
        var tensors: [JSON] = []
        for (i, name) in ["vision.patch.weight", "decoder.embed_tokens.weight"].enumerated() {
            tensors.append(["name": .string(name), "encoding": "f32", "shape": [.int(Int64(mib8 / 4))],
                            "offset": .int(Int64(i * mib8)), "length": .int(Int64(mib8)), "xxh64": "0123456789abcdef"])
        }
        let meta = Array(JSON.object(JSONObject([("format_version", 1), ("architecture", "generic"), ("blobs", []),
                                                 ("tensors", .array(tensors))])).serialized().utf8)
        let d = 16384, dataLength = 2 * mib8
        let header = ReelHeader(metadataLength: UInt64(meta.count), metadataXXH64: Checksum.xxh64(meta), dataOffset: UInt64(d),
                                dataLength: UInt64(dataLength), fileLength: UInt64(d + dataLength))
        try writeBytes(header.encoded() + meta, to: path)
        XCTAssertEqual(truncate(path, off_t(d + dataLength)), 0)
        let f = try ReelFile(path: path)
        let start = try XCTUnwrap(f.residentBytes(), "this mapping's Rss line in /proc/self/smaps")
        XCTAssertLessThan(start, 2 << 20, "opening maps in the header and metadata only")

        f.populate(prefix: "nothing.")
        XCTAssertEqual(try XCTUnwrap(f.residentBytes()), start, "no tensor has that prefix")
        f.populate(prefix: "decoder.")
        let decoder = try XCTUnwrap(f.residentBytes())
        XCTAssertGreaterThanOrEqual(decoder, mib8, "all of decoder.embed_tokens.weight is mapped in")
        // The vision tensor ends where the decoder's begins, so one 2 MiB page of it may come along; no more.
        XCTAssertLessThanOrEqual(decoder, mib8 + (2 << 20) + start, "vision.patch.weight stays out")
        f.populate(prefix: "vision.")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(f.residentBytes()), 2 * mib8)
        #endif
    }
}
