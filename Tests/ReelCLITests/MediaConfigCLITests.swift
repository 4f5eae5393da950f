import Foundation
import XCTest
import ReelCore

/// Media-side configs and inputs the runtime refuses are named: a processor config that the media path could not
/// use is a warning at convert and, at run, an error naming the .reel and the config; a projector setting Reel does
/// not implement stops convert naming config.json; an audio file too short for one token names the file, and a tower
/// whose window disagrees with the feature settings names the model.
extension CLITests {
    func testBadVideoProcessorConfigWarnsAtConvertAndIsNamedAtRun() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        let ck = d + "/ck"
        try FileManager.default.copyItem(atPath: nextVideo, toPath: ck)
        // rescale_factor 1e-300 is 0 in f32: every pixel would be NaN.
        let pre = #"{"size": {"shortest_edge": 28}, "do_center_crop": true, "crop_size": {"height": 28, "width": 28}, "resample": 3, "rescale_factor": 1e-300, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}"#
        try Data(pre.utf8).write(to: URL(fileURLWithPath: ck + "/video_preprocessor_config.json"))
        let c = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet", "--json"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let w = try JSON.parse(c.stdout, source: "convert --json")["warnings"]?.array?.compactMap(\.string) ?? []
        XCTAssertTrue(w.contains { $0.contains(ck + "/video_preprocessor_config.json: processor config key 'rescale_factor'") }, c.stdout)
        let r = try reel(["run", d + "/m.reel", "--video", Self.root + "/Tests/ReelMediaTests/Fixtures/clip.mp4", "--prompt", "x"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(d + "/m.reel: video_preprocessor_config.json: processor config key 'rescale_factor'"), r.stderr)
    }

    func testUnsupportedProjectorSettingsStopConvert() throws {
        let d = try scratch()
        for (key, value) in [("vision_feature_select_strategy", "cls"), ("projector_hidden_act", "bogus")] {
            let ck = d + "/ck-" + key
            try FileManager.default.copyItem(atPath: nextVideo, toPath: ck)
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ck + "/config.json"))) as! [String: Any]
            config[key] = value
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: ck + "/config.json"))
            let c = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet"])
            XCTAssertEqual(c.status, 1, c.stderr)
            XCTAssertTrue(c.stderr.contains(ck + "/config.json") && c.stderr.contains(key) && c.stderr.contains(value), c.stderr)
            XCTAssertFalse(fileExists(d + "/m.reel"))
        }
    }

    func testAudioTooShortForATokenIsNamed() throws {
        let d = try scratch()
        let fixtures = Self.root + "/Tests/ReelModelsTests/Fixtures"
        XCTAssertEqual(try reel(["convert", fixtures + "/qwen2_audio_30s", "-o", d + "/qa.reel", "--quiet"]).status, 0)
        // A tower whose window disagrees with the feature settings is named before any audio is read: the small
        // qwen2_audio fixture's tower takes 100 mel frames, Whisper's default window is 3000.
        XCTAssertEqual(try reel(["convert", fixtures + "/qwen2_audio", "-o", d + "/small.reel", "--quiet"]).status, 0)
        // 16 samples (1 ms) of 16-bit mono PCM: one mel frame, fewer than the 3 a token needs.
        var wav = Data("RIFF".utf8)
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { wav.append(contentsOf: $0) } }
        le(UInt32(36 + 32)); wav.append(contentsOf: Array("WAVEfmt ".utf8)); le(UInt32(16)); le(UInt16(1)); le(UInt16(1))
        le(UInt32(16000)); le(UInt32(32000)); le(UInt16(2)); le(UInt16(16)); wav.append(contentsOf: Array("data".utf8)); le(UInt32(32))
        for _ in 0..<16 { le(Int16(1000)) }
        try wav.write(to: URL(fileURLWithPath: d + "/short.wav"))
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let small = try reel(["run", d + "/small.reel", "--audio", d + "/short.wav", "--prompt", "x"])
        XCTAssertEqual(small.status, 1, small.stderr)
        XCTAssertTrue(small.stderr.contains(d + "/small.reel: the feature settings make windows of 128×3000 mel frames"), small.stderr)
        let r = try reel(["run", d + "/qa.reel", "--audio", d + "/short.wav", "--prompt", "x"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(d + "/short.wav: audio of 1 valid frame(s) is too short"), r.stderr)
    }
}
