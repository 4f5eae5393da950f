import Foundation
import XCTest
import ReelCore

/// `MappedFile`'s diagnostics of how the kernel maps it.
final class MappedFileTests: XCTestCase {
    /// `hugePageBytes` reads this mapping's own `FilePmdMapped` line from /proc/self/smaps. Whether the kernel
    /// uses 2 MiB pages at all depends on the kernel and the file system (tmpfs without huge pages: never), so the
    /// test checks what holds everywhere: on Linux the mapping's line is found, and the figure is whole 2 MiB pages
    /// that fit inside the file; elsewhere it is unknown (nil).
    func testHugePageBytesDescribesThisMapping() throws {
        var template = Array((NSTemporaryDirectory() + "/reelcore-XXXXXX").utf8CString)
        let dir = String(cString: try XCTUnwrap(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/weights.bin"
        let f = try AtomicOutputFile(path: path, force: false)
        try f.write([UInt8](repeating: 7, count: 5 << 20 | 123))
        try f.commit()
        let m = try MappedFile(path: path, hugePages: true)
        var sum = 0
        for i in stride(from: 0, to: m.count, by: 4096) { sum &+= Int(m.bytes[i]) }  // fault every page in
        XCTAssertEqual(sum, 7 * ((m.count + 4095) / 4096))
        #if os(Linux)
        let huge = try XCTUnwrap(m.hugePageBytes(), "this mapping's FilePmdMapped line in /proc/self/smaps")
        XCTAssertEqual(huge % (2 << 20), 0)
        XCTAssertLessThanOrEqual(huge, m.count)
        #else
        XCTAssertNil(m.hugePageBytes())
        #endif
    }
}
