import Foundation
import ReelMedia
import XCTest

/// Frames too large to decode are refused from the probe, before ffmpeg decodes anything; a stream that ends before
/// its sampled frames says how many it gave.
final class FrameBoundsTests: XCTestCase {
    private func scratch() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("reel-frame-bounds-\(getpid())-\(name.hashValue)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// A one-bit PNG of `width`×`height` (a few KB, made in a fraction of a second; ffmpeg's colour source rounds
    /// odd sides down to even ones).
    private func blankImage(_ path: String, width: Int, height: Int, tools: MediaTools) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        p.arguments = ["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=\(width)x\(height)",
                       "-frames:v", "1", "-pix_fmt", "monob", path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ffmpeg made no \(width)×\(height) image")
    }

    func testFramesBeyondTheBoundAreRefusedFromTheProbe() throws {
        let tools = try Fixtures.tools()
        let d = try scratch()
        XCTAssertEqual(VideoReader.maxFramePixels, 8192 * 8192)
        let over = d + "/over.png", at = d + "/at.png"
        try blankImage(over, width: 8194, height: 8192, tools: tools)
        try blankImage(at, width: 8192, height: 8192, tools: tools)
        assertThrows(.frameTooLarge(path: over, width: 8194, height: 8192, limit: 8192 * 8192)) {
            _ = try VideoReader(path: over, sampling: .frames(1), tools: tools)
        }
        let message = MediaError.frameTooLarge(path: over, width: 8194, height: 8192, limit: 8192 * 8192).description
        XCTAssertTrue(message.hasPrefix(over + ": frames of 8194×8192 pixels") && message.contains("scale=3840:-2"), message)
        // At the bound the reader opens (nothing is decoded until next()).
        let reader = try VideoReader(path: at, sampling: .frames(1), tools: tools)
        XCTAssertEqual(reader.width * reader.height, VideoReader.maxFramePixels)
        reader.close()
    }

    func testStreamEndingEarlyReportsTheFramesItGave() throws {
        let tools = try Fixtures.tools()
        let d = try scratch()
        // clip.mp4 with its index first, cut in half: the probe still reads 24 frames, the stream holds fewer.
        let whole = d + "/faststart.mp4", half = d + "/half.mp4"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        p.arguments = ["-nostdin", "-v", "error", "-y", "-i", Fixtures.path("clip.mp4"), "-c", "copy", "-movflags", "+faststart", whole]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: half))

        let full = try VideoReader(path: whole, sampling: .frames(8), tools: tools)
        XCTAssertEqual(try full.readAll().count, 8)
        XCTAssertEqual(full.framesDecoded, 8)

        let cut = try VideoReader(path: half, sampling: .frames(8), tools: tools)
        XCTAssertEqual(cut.indices.count, 8)
        let frames = try cut.readAll()
        XCTAssertEqual(cut.framesDecoded, frames.count)
        XCTAssertTrue((1..<8).contains(frames.count), "\(frames.count) of 8 frames from half a file")
    }
}
