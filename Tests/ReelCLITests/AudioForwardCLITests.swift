import Foundation
import XCTest
import ReelCore
import ReelSafetensors

/// `reel forward` with Qwen2-Audio inputs, against transformers' own outputs for the tiny random model of
/// tools/make_audio_fixtures.py (Tests/ReelModelsTests/Fixtures/qwen2_audio/ref.safetensors).
extension CLITests {
    /// Named tolerance: relative to the reference's range, as the model parity tests use at f32.
    static let audioF32Relative: Float = 1e-5

    func testForwardWritesAudioFeaturesAndLogitsMatchingTransformers() throws {
        let cli = self
        let fixture = CLITests.root + "/Tests/ReelModelsTests/Fixtures/qwen2_audio"
        let d = try cli.scratch()
        let c = try cli.reel(["convert", fixture, "-o", d + "/qa.reel", "--quant", "f32", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let ref = try SafetensorsFile(path: fixture + "/ref.safetensors")
        let ids = try ref.float32("input_ids").map { Int64($0) }
        var w = SafetensorsWriter()
        try w.add("input_ids", int64: ids, shape: [1, ids.count])
        try w.add("input_features", float32: try ref.float32("input_features"), shape: [1] + (try ref.tensor("input_features").shape))
        let mask = try ref.float32("feature_attention_mask").map { Int64($0) }
        try w.add("feature_attention_mask", int64: mask, shape: [1, mask.count])
        try w.write(to: d + "/in.safetensors")
        let r = try cli.reel(["forward", d + "/qa.reel", "--inputs", d + "/in.safetensors", "--outputs", d + "/out.safetensors", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try SafetensorsFile(path: d + "/out.safetensors")
        func relative(_ got: [Float], _ want: [Float]) -> Float {
            let range = (want.max() ?? 0) - (want.min() ?? 0)
            return zip(got, want).map { abs($0 - $1) }.max()! / max(range, 1e-12)
        }
        let features = try out.float32("audio_features"), wantFeatures = try ref.float32("audio_features")
        XCTAssertEqual(features.count, wantFeatures.count)
        XCTAssertLessThan(relative(features, wantFeatures), Self.audioF32Relative)
        // The reference keeps the last 16 positions' logits.
        let logits = try out.float32("logits"), wantLogits = try ref.float32("logits")
        XCTAssertEqual(try out.tensor("logits").shape, [ids.count, 404])
        XCTAssertLessThan(relative(Array(logits.suffix(wantLogits.count)), wantLogits), Self.audioF32Relative)
    }

    /// `reel parity --audio-inputs`: tower, features and decoder stages, checkpoint vs a q8 file.
    func testParityCoversTheAudioStages() throws {
        let fixture = CLITests.root + "/Tests/ReelModelsTests/Fixtures/qwen2_audio"
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", fixture, "-o", d + "/q8.reel", "--quant", "q8", "--quiet"]).status, 0)
        let ref = try SafetensorsFile(path: fixture + "/ref.safetensors")
        var w = SafetensorsWriter()
        let ids = try ref.float32("input_ids").map { Int64($0) }
        try w.add("input_ids", int64: ids, shape: [1, ids.count])
        try w.add("input_features", float32: try ref.float32("input_features"), shape: [1] + (try ref.tensor("input_features").shape))
        try w.add("feature_attention_mask", int64: try ref.float32("feature_attention_mask").map { Int64($0) }, shape: [1, 100])
        try w.write(to: d + "/in.safetensors")
        let r = try reel(["parity", fixture, d + "/q8.reel", "--audio-inputs", d + "/in.safetensors", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stages = try JSON.parse(r.stdout, source: "parity --json")["stages"]?.array ?? []
        let names = stages.compactMap { $0["stage"]?.string }
        XCTAssertTrue(names.contains("audio.hidden_states.0") && names.contains("audio_features") && names.contains("logits"), "\(names)")
        for s in stages { XCTAssertGreaterThan(s["cosine"]?.double ?? 0, 0.999, s["stage"]?.string ?? "") }
    }
}

/// `reel run --audio` on a real 34 s mp3 with the tiny random Qwen2-Audio of 1500 source positions
/// (Tests/ReelModelsTests/Fixtures/qwen2_audio_30s, tools/make_audio_fixtures.py): the greedy continuation equals
/// transformers' modules on both windows (750 + 100 tokens; the default, window by window), and with `--first-window`
/// transformers' `generate` on `Qwen2AudioProcessor`'s inputs (first 30 s, 750 audio tokens).
extension CLITests {
    var qwen2Audio30s: String { Self.root + "/Tests/ReelModelsTests/Fixtures/qwen2_audio_30s" }

    func testRunAudioFromA34SecondFileMatchesTransformersGreedy() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        let c = try reel(["convert", qwen2Audio30s, "-o", d + "/qa.reel", "--quant", "f32", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let ref = try SafetensorsFile(path: qwen2Audio30s + "/ref.safetensors")
        let prompt = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: qwen2Audio30s + "/prompt.json"))), source: "prompt.json")
        let args = ["run", d + "/qa.reel", "--audio", qwen2Audio30s + "/clip.mp3", "--prompt", "Describe the sound.",
                    "--max-tokens", "8", "--temperature", "0", "--ignore-eos", "--json", "--threads", "1"]

        let r = try reel(args + ["--first-window"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout, source: "run --first-window --json")
        XCTAssertEqual(j["tokens"]?.array?.compactMap(\.int), try ref.float32("greedy_ids").map { Int($0) })
        XCTAssertEqual(j["tokens"]?.array?.compactMap(\.int), try ref.float32("torch.greedy_ids").map { Int($0) })
        XCTAssertEqual(j["text"]?.string, prompt["greedy_text"]?.string)
        XCTAssertEqual(j["timings"]?["prompt_tokens"]?.int, try ref.float32("input_ids").count)   // 815: 750 audio tokens
        XCTAssertTrue(r.stderr.contains("only its first 30 s are used"), r.stderr)

        let all = try reel(args)
        XCTAssertEqual(all.status, 0, all.stderr)
        let ja = try JSON.parse(all.stdout, source: "run --json (window by window)")
        XCTAssertEqual(ja["tokens"]?.array?.compactMap(\.int), try ref.float32("windows.greedy_ids").map { Int($0) })
        XCTAssertEqual(ja["text"]?.string, prompt["windows_greedy_text"]?.string)
        XCTAssertEqual(ja["timings"]?["prompt_tokens"]?.int, try ref.float32("input_ids").count + 100)
        XCTAssertTrue(all.stderr.contains("encoded in 2 windows of 30 s"), all.stderr)

        // A context too small for the two windows' tokens is refused before any window is encoded (no "audio: …
        // encoded" line): a long file must not take minutes of encoding to learn it does not fit.
        let small = try reel(["run", d + "/qa.reel", "--audio", qwen2Audio30s + "/clip.mp3", "--prompt", "Describe the sound.",
                              "--context", "64", "--threads", "1"])
        XCTAssertEqual(small.status, 1, small.stderr)
        XCTAssertTrue(small.stderr.contains("context exceeded") && !small.stderr.contains("· encoded"), small.stderr)

        let bad = try reel(["run", d + "/qa.reel", "--prompt", "Hi", "--first-window"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--first-window goes with --audio"), bad.stderr)
    }
}
