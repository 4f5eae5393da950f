import XCTest
import ReelCore
import ReelModels

/// Reel AV's time layout against the worked numbers of formats/REEL-AV.md.
final class ReelAVLayoutTests: XCTestCase {
    /// The demo model's projector config (formats/REEL-AV.md §1).
    func layout() throws -> ReelAVLayout {
        try ReelAVLayout(projectorConfig: JSONObject([
            ("segment_seconds", .double(2)), ("frames_per_segment", 2), ("max_segments", 8), ("vision_tokens_per_frame", 16),
            ("audio_tokens_per_segment", 50), ("video_token_index", 3), ("frame_token_index", 4), ("audio_token_index", 5),
        ]))
    }

    func testDemoClipSegmentsAndFrames() throws {
        // §4.2: demo clips (8 fps, 32 frames, 4 s): n = 2, frames 4, 12, 20, 28.
        let l = try layout()
        XCTAssertEqual(l.segmentStarts(frameCount: 32, fps: 8), [0, 2])
        XCTAssertEqual(l.frameIndices(frameCount: 32, fps: 8), [4, 12, 20, 28])
        // A 3 s clip still takes two segments; the second's late frame is clamped to the last frame.
        XCTAssertEqual(l.frameIndices(frameCount: 24, fps: 8), [4, 12, 20, 23])
        // A long clip (100 s) spreads max_segments = 8 segments with stride 12.5 s.
        XCTAssertEqual(l.segmentStarts(frameCount: 800, fps: 8), (0..<8).map { Double($0) * 12.5 })
        XCTAssertEqual(l.frameIndices(frameCount: 800, fps: 8).prefix(4), [4, 12, 104, 112])
    }

    func testExpandAndSplice() throws {
        let l = try layout()
        // §3: "How many beeps are there?" over a 2-segment clip gives 16 + 164 prompt tokens.
        let ids = [1, 9, 10, 3, 10, 11, 12, 2]
        let e = try l.expand(ids, segments: 2, audio: true)
        XCTAssertEqual(e.count, ids.count - 1 + 2 * (2 * 16 + 50))
        XCTAssertEqual(Array(e[3..<35]), Array(repeating: 4, count: 32))
        XCTAssertEqual(Array(e[35..<85]), Array(repeating: 5, count: 50))
        XCTAssertEqual(e[85], 4)
        XCTAssertEqual(try l.expand(ids, segments: 1, audio: false).count, ids.count - 1 + 32)
        XCTAssertThrowsError(try l.expand([1, 2], segments: 1, audio: true)) { XCTAssertEqual($0 as? ReelAVError, .videoPlaceholders(found: 0)) }

        let hidden = 2
        let small = [7, 4, 5, 4, 5, 8]
        var emb = [Float](repeating: 0, count: small.count * hidden)
        try l.splice(into: &emb, ids: small, hidden: hidden, vision: [1, 1, 2, 2], audio: [3, 3, 4, 4])
        XCTAssertEqual(emb, [0, 0, 1, 1, 3, 3, 2, 2, 4, 4, 0, 0])
        XCTAssertThrowsError(try l.splice(into: &emb, ids: small, hidden: hidden, vision: [1, 1], audio: [3, 3, 4, 4])) {
            XCTAssertEqual($0 as? ReelAVError, .featureCount(kind: "vision", placeholders: 2, features: 1))
        }
    }

    func testAudioWindows() throws {
        let l = try layout()
        let samples = (0..<40000).map { Float($0) }
        let w1 = l.audioWindow(samples, start: 2, sampleRate: 16000, windowSamples: 32000)
        XCTAssertEqual(w1.count, 32000)
        XCTAssertEqual(w1[0], 32000)
        XCTAssertEqual(w1[7999], 39999)
        XCTAssertEqual(w1[8000], 0, "zero-padded past the end of the audio")
    }
}
