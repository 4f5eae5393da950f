import Foundation
import XCTest
import ReelCore

/// `reel run --video` on a LLaVA model: a clip the context cannot hold is refused before any frame is decoded or
/// encoded, and a stream that ends before its sampled frames is noted, not passed over in silence.
extension CLITests {
    func testVideoOverTheContextIsRefusedBeforeDecoding() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        try nextVideoClipModel(d + "/nv.reel")
        let clip = Self.root + "/Tests/ReelMediaTests/Fixtures/clip.mp4"  // 24 frames; 4 tokens each for this model
        // --save-pixels would be written once the frames are decoded: its absence shows nothing was.
        let r = try reel(["run", d + "/nv.reel", "--video", clip, "--frames", "1000", "--context", "64", "--prompt", "x",
                          "--save-pixels", d + "/pixels.safetensors"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("context exceeded: 0 positions cached + 96 new > capacity 64"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Usage"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/pixels.safetensors"))
        // The same frames fit a larger context.
        let ok = try reel(["run", d + "/nv.reel", "--video", clip, "--frames", "1000", "--context", "256", "--prompt", "x",
                           "--max-tokens", "1", "--json", "--threads", "1"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try JSON.parse(ok.stdout, source: "run --json")["vision"]?["frames_decoded"]?.int, 24)
    }

    func testVideoStreamEndingEarlyIsNoted() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        try nextVideoClipModel(d + "/nv.reel")
        // The fixture clip with its index first, cut in half: its header still promises 24 frames.
        let ffmpeg = ProcessInfo.processInfo.environment["REEL_FFMPEG"] ?? "/usr/bin/ffmpeg"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ffmpeg)
        p.arguments = ["-nostdin", "-v", "error", "-y", "-i", Self.root + "/Tests/ReelMediaTests/Fixtures/clip.mp4",
                       "-c", "copy", "-movflags", "+faststart", d + "/whole.mp4"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: d + "/whole.mp4"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: d + "/half.mp4"))

        let r = try reel(["run", d + "/nv.reel", "--video", d + "/half.mp4", "--frames", "8", "--prompt", "x",
                          "--max-tokens", "1", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let decoded = try XCTUnwrap(try JSON.parse(r.stdout, source: "run --json")["vision"]?["frames_decoded"]?.int)
        XCTAssertTrue((1..<8).contains(decoded), "\(decoded)")
        XCTAssertTrue(r.stderr.contains("note: \(d)/half.mp4: the stream ended after \(decoded) of the 8 frames sampled from the 24 its header gives"), r.stderr)
        let whole = try reel(["run", d + "/nv.reel", "--video", d + "/whole.mp4", "--frames", "8", "--prompt", "x",
                              "--max-tokens", "1", "--json", "--threads", "1"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertFalse(whole.stderr.contains("note:"), whole.stderr)
    }
}
