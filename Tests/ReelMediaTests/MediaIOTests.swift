import Foundation
import ReelCore
import ReelMedia
import XCTest

/// ffmpeg/ffprobe as subprocesses: probing, frame sampling, images, audio, and each error case.
final class MediaIOTests: XCTestCase {
    /// Decoded frames may differ from the fixture by this many uint8 levels: the fixture script runs the same ffmpeg
    /// command, and H.264 decoding is bit-exact, but the yuv→rgb step (swscale, pinned to its C path with
    /// `bitexact+accurate_rnd`) could still change between FFmpeg releases. Measured here: 0.
    static let decodeMaxLevelDiff = 2

    func testProbeClip() throws {
        let tools = try Fixtures.tools()
        let info = try MediaProbe.probe(Fixtures.path("clip.mp4"), tools: tools)
        let v = try XCTUnwrap(info.video)
        XCTAssertEqual(v.width, 123)
        XCTAssertEqual(v.height, 97)
        XCTAssertEqual(v.frameCount, 24)
        XCTAssertFalse(v.frameCountIsEstimate)
        XCTAssertEqual(v.frameRate ?? 0, 12, accuracy: 1e-9)
        XCTAssertEqual(info.duration ?? 0, 2, accuracy: 0.05)
        let a = try XCTUnwrap(info.audio)
        XCTAssertEqual(a.sampleRate, 44100)
        XCTAssertEqual(a.channels, 2)
        XCTAssertTrue(info.hasVideo && info.hasAudio)
    }

    func testProbeImageAndAudioOnly() throws {
        let tools = try Fixtures.tools()
        let img = try MediaProbe.probe(Fixtures.path("image.png"), tools: tools)
        XCTAssertEqual(img.video?.width, 41)
        XCTAssertEqual(img.video?.height, 29)
        XCTAssertEqual(img.video?.frameCount, 1)   // no nb_frames in PNG: counted packets
        XCTAssertFalse(img.hasAudio)
        let tone = try MediaProbe.probe(Fixtures.path("tone.flac"), tools: tools)
        XCTAssertFalse(tone.hasVideo)
        XCTAssertEqual(tone.audio?.sampleRate, 16000)
        XCTAssertEqual(tone.audio?.channels, 1)
    }

    func testSamplingIndices() throws {
        XCTAssertEqual(try FrameSampling.frames(4).indices(total: 24, frameRate: 12), [0, 6, 12, 18])
        XCTAssertEqual(try FrameSampling.frames(5).indices(total: 24, frameRate: 12), [0, 4, 9, 14, 19])
        XCTAssertEqual(try FrameSampling.frames(50).indices(total: 3, frameRate: 12), [0, 1, 2])
        XCTAssertEqual(try FrameSampling.all.indices(total: 3, frameRate: nil), [0, 1, 2])
        // 24 frames at 12 fps = 2 s; 3 fps → 6 frames, capped at 5.
        XCTAssertEqual(try FrameSampling.fps(3, max: 5).indices(total: 24, frameRate: 12), [0, 4, 9, 14, 19])
        XCTAssertEqual(try FrameSampling.fps(1, max: 8).indices(total: 24, frameRate: 12), [0, 12])
        XCTAssertEqual(try FrameSampling.fps(0.1, max: 8).indices(total: 24, frameRate: 12), [0])
        assertThrows(.badArgument(detail: "frame count must be positive, got 0")) {
            _ = try FrameSampling.frames(0).indices(total: 24, frameRate: 12)
        }
    }

    func testExplicitIndicesAreSortedDedupedAndClamped() throws {
        XCTAssertEqual(try FrameSampling.explicit([12, 0, 6, 6, 99]).indices(total: 24, frameRate: 12), [0, 6, 12, 23])
        assertThrows(.badArgument(detail: "explicit frame indices must be non-negative and not empty")) {
            _ = try FrameSampling.explicit([]).indices(total: 24, frameRate: 12)
        }
    }

    /// Explicit indices select exactly those frames: the same pixels as the uniform sampling that picks them.
    func testExplicitIndicesDecodeTheSameFrames() throws {
        let tools = try Fixtures.tools()
        let uniform = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .frames(4), tools: tools).readAll()
        let explicit = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .explicit([18, 0, 12, 6]), tools: tools).readAll()
        XCTAssertEqual(explicit.map(\.index), [0, 6, 12, 18])
        XCTAssertEqual(explicit.map(\.pixels), uniform.map(\.pixels))
        let one = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .explicit([5]), tools: tools).readAll()
        XCTAssertEqual(one.map(\.index), [5])
    }

    /// Reel's decode of 4 sampled frames equals the fixture script's (same command, same sampling).
    func testVideoFramesMatchFixture() throws {
        let tools = try Fixtures.tools()
        let (want, shape) = try Fixtures.bytes("clip_frames4")
        XCTAssertEqual(shape, [4, 97, 123, 3])
        let reader = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .frames(4), tools: tools)
        XCTAssertEqual(reader.indices, [0, 6, 12, 18])
        var got: [RGBFrame] = []
        try reader.forEach { got.append($0) }
        XCTAssertEqual(got.map(\.index), [0, 6, 12, 18])
        XCTAssertEqual(got.count, 4)
        var worst = 0
        for (f, frame) in got.enumerated() {
            XCTAssertEqual(frame.width, 123)
            XCTAssertEqual(frame.height, 97)
            let base = f * 97 * 123 * 3
            for i in 0..<frame.pixels.count { worst = max(worst, abs(Int(frame.pixels[i]) - Int(want[base + i]))) }
        }
        print("video decode: max level diff \(worst) over 4×97×123×3 (bound \(Self.decodeMaxLevelDiff))")
        XCTAssertLessThanOrEqual(worst, Self.decodeMaxLevelDiff)
        XCTAssertNil(try reader.next())   // stays ended
    }

    func testFpsSamplingAndEarlyStop() throws {
        let tools = try Fixtures.tools()
        let reader = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .fps(3, max: 5), tools: tools)
        XCTAssertEqual(reader.indices, [0, 4, 9, 14, 19])
        XCTAssertEqual(try reader.readAll().map(\.index), [0, 4, 9, 14, 19])
        // All 24 frames, with frame 6 equal to the second sampled fixture frame; then stop early.
        let all = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .all, tools: tools)
        var frames: [RGBFrame] = []
        for _ in 0..<7 { frames.append(try XCTUnwrap(all.next())) }
        all.close()
        XCTAssertNil(try all.next())
        let (want, _) = try Fixtures.bytes("clip_frames4")
        let n = 97 * 123 * 3
        let diff = zip(frames[6].pixels, want[n..<(2 * n)]).map { abs(Int($0) - Int($1)) }.max() ?? 99
        XCTAssertLessThanOrEqual(diff, Self.decodeMaxLevelDiff)
    }

    func testRotatedClipDecodesUpright() throws {
        let tools = try Fixtures.tools()
        let p = Fixtures.path("rotated.mp4")
        let v = try XCTUnwrap(try MediaProbe.probe(p, tools: tools).video)
        XCTAssertEqual(abs(v.rotation), 90)
        XCTAssertEqual([v.width, v.height], [32, 48])   // stored 48×32
        let frames = try VideoReader(path: p, sampling: .frames(2), tools: tools).readAll()
        XCTAssertEqual(frames.map(\.width), [32, 32])
        XCTAssertEqual(frames.map(\.height), [48, 48])
        let plain = try VideoReader(path: Fixtures.path("silent.mp4"), sampling: .frames(2), tools: tools).readAll()
        // Rotating the unrotated frame by ±90° gives the delivered frame.
        let (a, b) = (plain[0], frames[0])
        func rot(_ cw: Bool) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: a.pixels.count)
            for y in 0..<b.height { for x in 0..<b.width {
                let (sx, sy) = cw ? (y, a.height - 1 - x) : (a.width - 1 - y, x)
                for c in 0..<3 { out[(y * b.width + x) * 3 + c] = a.pixels[(sy * a.width + sx) * 3 + c] }
            } }
            return out
        }
        XCTAssertTrue(rot(true) == b.pixels || rot(false) == b.pixels)
    }

    func testImageThroughTheVideoPath() throws {
        let tools = try Fixtures.tools()
        let frame = try ImageReader.read(Fixtures.path("image.png"), tools: tools)
        let (want, shape) = try Fixtures.bytes("image_frame")
        XCTAssertEqual(shape, [1, 29, 41, 3])
        XCTAssertEqual(frame.width, 41)
        XCTAssertEqual(frame.height, 29)
        XCTAssertEqual(frame.pixels, want)   // PNG is RGB already: no conversion at all
        let many = try VideoReader(path: Fixtures.path("image.png"), sampling: .frames(8), tools: tools)
        XCTAssertEqual(try many.readAll().count, 1)
    }

    func testAudioTrackOfAVideo() throws {
        let tools = try Fixtures.tools()
        // Stereo 44.1 kHz AAC → 16 kHz mono: ~2 s of a 660 Hz sine.
        let samples = try AudioReader.read(Fixtures.path("clip.mp4"), tools: tools)
        XCTAssertEqual(Double(samples.count), 32000, accuracy: 1200)
        let rms = (samples.map { Double($0 * $0) }.reduce(0, +) / Double(samples.count)).squareRoot()
        XCTAssertGreaterThan(rms, 0.05)
        XCTAssertLessThan(samples.map(abs).max() ?? 9, 1.01)
    }

    func testLosslessAudioIsExact() throws {
        let tools = try Fixtures.tools()
        // 16 kHz mono s16 FLAC: ffmpeg only converts s16 → f32, so every sample is k/32768.
        let samples = try AudioReader.read(Fixtures.path("tone.flac"), tools: tools)
        XCTAssertEqual(samples.count, 48000)
        XCTAssertTrue(samples.allSatisfy { ($0 * 32768).rounded() == $0 * 32768 })
    }

    // MARK: errors

    func testMissingFile() throws {
        let tools = try Fixtures.tools()
        let p = Fixtures.path("does-not-exist.mp4")
        assertThrows(.fileNotFound(path: p)) { _ = try MediaProbe.probe(p, tools: tools) }
        assertThrows(.fileNotFound(path: p)) { _ = try VideoReader(path: p, sampling: .frames(4), tools: tools) }
        assertThrows(.fileNotFound(path: p)) { _ = try AudioReader.read(p, tools: tools) }
        // No tools needed to say the file is missing.
        assertThrows(.fileNotFound(path: p)) {
            _ = try MediaProbe.probe(p, tools: MediaTools(ffmpeg: "/nonexistent/ffmpeg", ffprobe: "/nonexistent/ffprobe"))
        }
    }

    func testDirectoryIsUnreadable() throws {
        assertThrows(.unreadable(path: Fixtures.dir.path, errno: EISDIR)) {
            _ = try MediaProbe.probe(Fixtures.dir.path, tools: MediaTools(ffmpeg: "/x", ffprobe: "/x"))
        }
    }

    func testNoAudioStreamIsItsOwnCase() throws {
        let tools = try Fixtures.tools()
        let p = Fixtures.path("silent.mp4")
        assertThrows(.noAudioStream(path: p)) { _ = try AudioReader.read(p, tools: tools) }
        // … and the frames of that clip still decode (the fallback `--video` takes).
        XCTAssertEqual(try VideoReader(path: p, sampling: .frames(2), tools: tools).readAll().count, 2)
    }

    func testNoVideoStream() throws {
        let tools = try Fixtures.tools()
        let p = Fixtures.path("tone.flac")
        assertThrows(.noVideoStream(path: p)) { _ = try VideoReader(path: p, sampling: .frames(4), tools: tools) }
    }

    func testEmptyFile() throws {
        let tools = try Fixtures.tools()
        let p = Fixtures.path("empty.mp4")
        assertThrows(.emptyMedia(path: p, detail: "the file is 0 bytes")) { _ = try MediaProbe.probe(p, tools: tools) }
        assertThrows(.emptyMedia(path: p, detail: "the file is 0 bytes")) { _ = try AudioReader.read(p, tools: tools) }
    }

    func testZeroLengthClips() throws {
        let tools = try Fixtures.tools()
        let mp4 = Fixtures.path("zero_frames.mp4")   // a valid container holding no frames
        assertThrows(.emptyMedia(path: mp4, detail: "no streams and zero duration")) {
            _ = try VideoReader(path: mp4, sampling: .frames(4), tools: tools)
        }
        assertThrows(.emptyMedia(path: mp4, detail: "no streams and zero duration")) { _ = try AudioReader.read(mp4, tools: tools) }
        let wav = Fixtures.path("zero_samples.wav")  // an audio stream with no samples
        assertThrows(.emptyMedia(path: wav, detail: "the audio stream has no samples")) { _ = try AudioReader.read(wav, tools: tools) }
    }

    func testGarbageFileReportsFFprobeStderr() throws {
        let tools = try Fixtures.tools()
        let p = Fixtures.path("garbage.mp4")
        do {
            _ = try VideoReader(path: p, sampling: .frames(4), tools: tools)
            XCTFail("garbage decoded")
        } catch let MediaError.toolFailed(tool, path, status, tail) {
            XCTAssertEqual(tool, "ffprobe")
            XCTAssertEqual(path, p)
            XCTAssertNotEqual(status, 0)
            XCTAssertTrue(tail.contains("Invalid data"), "stderr tail: \(tail)")
        }
    }

    func testToolNotFound() throws {
        let p = Fixtures.path("clip.mp4")
        // REEL_FFMPEG pointing at nothing.
        assertThrows(.toolNotFound(tool: "ffmpeg", searched: "REEL_FFMPEG=/nonexistent/ffmpeg")) {
            _ = try MediaTools.locate(environment: ["REEL_FFMPEG": "/nonexistent/ffmpeg", "PATH": "/usr/bin:/bin"])
        }
        // Not on PATH.
        assertThrows(.toolNotFound(tool: "ffmpeg", searched: "PATH=/nonexistent")) {
            _ = try MediaTools.locate(environment: ["PATH": "/nonexistent"])
        }
        // Explicit paths that do not exist.
        let bad = MediaTools(ffmpeg: "/nonexistent/ffmpeg", ffprobe: "/nonexistent/ffprobe")
        assertThrows(.toolNotFound(tool: "ffprobe", searched: "/nonexistent/ffprobe")) {
            _ = try VideoReader(path: p, sampling: .frames(4), tools: bad)
        }
        let message = MediaError.toolNotFound(tool: "ffmpeg", searched: "PATH=").description
        XCTAssertTrue(message.contains("apt-get install ffmpeg") && message.contains("REEL_FFMPEG"), message)
    }

    func testLocateHonoursEnvironment() throws {
        let real = try Fixtures.tools()
        // REEL_FFMPEG alone: ffprobe is taken from beside it, PATH is not needed.
        let t = try MediaTools.locate(environment: ["REEL_FFMPEG": real.ffmpeg, "PATH": "/nonexistent"])
        XCTAssertEqual(t.ffmpeg, real.ffmpeg)
        XCTAssertTrue(t.ffprobe.hasSuffix("/ffprobe"))
        let both = try MediaTools.locate(environment: ["REEL_FFMPEG": real.ffmpeg, "REEL_FFPROBE": real.ffprobe])
        XCTAssertEqual(both, real)
    }

    func testFFmpegFailureCarriesStderr() throws {
        let real = try Fixtures.tools()
        // ffprobe works; "ffmpeg" is a script that complains and exits 3, like a decoder failing mid-stream.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-media-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = dir.appendingPathComponent("ffmpeg")
        let lines = (1...10).map { "echo 'noise line \($0)' >&2" }.joined(separator: "\n")
        try "#!/bin/sh\n\(lines)\necho 'Error while decoding stream #0:0: Invalid data' >&2\nexit 3\n"
            .write(to: fake, atomically: true, encoding: .utf8)
        chmod(fake.path, 0o755)
        let tools = MediaTools(ffmpeg: fake.path, ffprobe: real.ffprobe)
        let clip = Fixtures.path("clip.mp4")
        for read in [{ _ = try VideoReader(path: clip, sampling: .frames(2), tools: tools).next() },
                     { _ = try AudioReader.read(clip, tools: tools) }] as [() throws -> Void] {
            do {
                try read()
                XCTFail("no error")
            } catch let MediaError.toolFailed(tool, path, status, tail) {
                XCTAssertEqual(tool, "ffmpeg")
                XCTAssertEqual(path, clip)
                XCTAssertEqual(status, 3)
                XCTAssertTrue(tail.hasSuffix("Error while decoding stream #0:0: Invalid data"), tail)
                XCTAssertFalse(tail.contains("noise line 4"), "only the last lines: \(tail)")
                XCTAssertTrue(MediaError.toolFailed(tool: tool, path: path, status: status, stderrTail: tail)
                    .description.contains("ffmpeg failed with status 3"))
            }
        }
    }
}
