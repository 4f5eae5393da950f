import Foundation
import XCTest
import ReelCore

/// Inputs and outputs that are not regular files: a FIFO is refused at once (opening one for reading would wait for
/// a writer forever), a dangling symbolic link counts as an existing destination, and no --force renames over a
/// FIFO or device.
final class SpecialFileTests: XCTestCase {
    private func tempDir() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/reelcore-XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let d = String(cString: try XCTUnwrap(p))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func testFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let fifo = try tempDir() + "/pipe"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        // On a thread, so that a regression (a blocking open) fails this test instead of hanging the suite.
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var thrown: Error?
        Thread.detachNewThread {
            do { _ = try MappedFile(path: fifo) } catch { thrown = error }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "opening a FIFO blocked")
        XCTAssertEqual(thrown as? IOError, .notARegularFile(path: fifo))
        XCTAssertThrowsError(try readWholeFile(fifo))
    }

    func testDanglingSymlinkDestinationNeedsForce() throws {
        let dir = try tempDir()
        let link = dir + "/out.bin"
        XCTAssertEqual(symlink("missing-target", link), 0)
        XCTAssertThrowsError(try AtomicOutputFile(path: link, force: false)) { e in
            XCTAssertEqual(e as? IOError, .exists(path: link))
        }
        let f = try AtomicOutputFile(path: link, force: true)
        try f.write([1, 2, 3])
        try f.commit()
        XCTAssertEqual(try readWholeFile(link), [1, 2, 3])
        XCTAssertFalse(fileExists(dir + "/missing-target"), "the link itself was replaced, not its target created")
    }

    func testNoForceRenamesOverAFIFO() throws {
        let dir = try tempDir()
        let fifo = dir + "/out.bin"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try AtomicOutputFile(path: fifo, force: true)) { e in
            XCTAssertEqual(e as? IOError, .notARegularFile(path: fifo))
        }
        XCTAssertEqual(try listDirectory(dir), ["out.bin"], "no temporary file left")
    }

    func testTemporaryFileIsRegisteredForTheSignalHandlerUntilCommitOrDrop() throws {
        let dir = try tempDir()
        func registered(_ p: String) -> Bool { TemporaryFiles.registered.contains(p) }
        var tmp = ""
        do {
            let f = try AtomicOutputFile(path: dir + "/a.bin", force: false)
            tmp = f.temporaryPath
            XCTAssertTrue(registered(tmp))
        }  // dropped without commit
        XCTAssertFalse(registered(tmp))
        XCTAssertFalse(fileExists(tmp))
        let g = try AtomicOutputFile(path: dir + "/b.bin", force: false)
        XCTAssertTrue(registered(g.temporaryPath))
        try g.commit()
        XCTAssertFalse(registered(g.temporaryPath))
    }
}
