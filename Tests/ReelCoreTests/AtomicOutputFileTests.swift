import Foundation
import XCTest
import ReelCore

/// The guarantees ReelFormat's writer relies on: nothing at the destination until commit, no temporary file left.
final class AtomicOutputFileTests: XCTestCase {
    private func tempDir() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/reelcore-XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try XCTUnwrap(p))
    }
    private func list(_ dir: String) -> [String] { (try? listDirectory(dir)) ?? [] }

    func testCommitWritesAndPatches() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.bin"
        let f = try AtomicOutputFile(path: path, force: false)
        try f.write([1, 2, 3, 4])
        try f.writeZeros(3)
        try f.write([UInt8](repeating: 9, count: 3 << 20))  // bigger than the buffer
        try f.overwrite(at: 1, [7, 7])
        XCTAssertFalse(fileExists(path), "nothing at the destination before commit")
        XCTAssertEqual(f.position, 7 + (3 << 20))
        try f.commit()
        let b = try readWholeFile(path)
        XCTAssertEqual(Array(b[0..<8]), [1, 7, 7, 4, 0, 0, 0, 9])
        XCTAssertEqual(b.count, 7 + (3 << 20))
        XCTAssertEqual(list(dir), ["out.bin"])
    }

    func testDroppedWithoutCommitLeavesNothing() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let f = try AtomicOutputFile(path: dir + "/out.bin", force: false)
            try f.write([1, 2, 3])
            XCTAssertEqual(list(dir).count, 1)
        }
        XCTAssertEqual(list(dir), [])
    }

    func testByteLimitSimulatesAFullDisk() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.bin"
        do {
            let f = try AtomicOutputFile(path: path, force: false, byteLimit: 1000)
            try f.write([UInt8](repeating: 1, count: 900))
            XCTAssertThrowsError(try f.write([UInt8](repeating: 1, count: 2 << 20))) {
                guard case let .write(_, e)? = $0 as? IOError else { return XCTFail("\($0)") }
                XCTAssertEqual(e, ENOSPC)
            }
        }
        XCTAssertEqual(list(dir), [])
    }

    func testExistingDestinationNeedsForce() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.bin"
        try Data([5]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try AtomicOutputFile(path: path, force: false)) { XCTAssertEqual($0 as? IOError, .exists(path: path)) }
        let f = try AtomicOutputFile(path: path, force: true)
        try f.write([6])
        try f.commit()
        XCTAssertEqual(try readWholeFile(path), [6])
        XCTAssertThrowsError(try AtomicOutputFile(path: dir + "/missing/out.bin", force: false)) {
            XCTAssertEqual($0 as? IOError, .open(path: dir + "/missing", errno: ENOENT))
        }
    }

    /// A symbolic link at the destination is written through: the file it names gets the new bytes and the link
    /// stays a link (renaming onto the link made it a regular file, as --force once did to /dev/stdout).
    func testSymbolicLinkIsWrittenThrough() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let real = dir + "/real.bin", link = dir + "/link.bin"
        try Data([1]).write(to: URL(fileURLWithPath: real))
        XCTAssertEqual(symlink("real.bin", link), 0)
        let f = try AtomicOutputFile(path: link, force: true)
        try f.write([2, 3])
        try f.commit()
        XCTAssertEqual(try readWholeFile(real), [2, 3])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "real.bin")
        XCTAssertEqual(list(dir), ["link.bin", "real.bin"])
        XCTAssertThrowsError(try AtomicOutputFile(path: "", force: true))
    }

    /// An output that is one of the inputs is refused, whatever the spelling (`refuseOutputOverInputs`).
    func testOutputOverAnInputIsRefused() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = dir + "/in.reel"
        try Data([1]).write(to: URL(fileURLWithPath: input))
        XCTAssertThrowsError(try refuseOutputOverInputs(dir + "/./in.reel", inputs: [dir + "/other", input])) {
            XCTAssertEqual($0 as? IOError, .outputIsInput(output: dir + "/./in.reel", input: input))
        }
        XCTAssertNoThrow(try refuseOutputOverInputs(dir + "/out.reel", inputs: [input]))
    }
}
