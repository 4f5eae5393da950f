import Foundation
import XCTest
import ReelCore
import ReelSafetensors

/// The vision options of `reel run`, `reel forward` and `reel parity` on the LLaVA-NeXT-Video fixture
/// (Tests/ReelModelsTests/Fixtures/llava_next_video, tools/make_vision_fixtures.py).
extension CLITests {
    var nextVideo: String { Self.root + "/Tests/ReelModelsTests/Fixtures/llava_next_video" }

    /// The fixture converted at f32, and its pixel_values_videos + input_ids as a forward input file.
    func visionSetup() throws -> (dir: String, reel: String, inputs: String, ref: SafetensorsFile) {
        let d = try scratch()
        let out = d + "/nv.reel"
        XCTAssertEqual(try reel(["convert", nextVideo, "-o", out, "--quiet"]).status, 0)
        let ref = try SafetensorsFile(path: nextVideo + "/ref.safetensors")
        var w = SafetensorsWriter()
        try w.add("input_ids", int64: try ref.float32("input_ids").map { Int64($0) }, shape: [1, ref.tensor("input_ids").shape[0]])
        try w.add("pixel_values_videos", float32: try ref.float32("pixel_values_videos"), shape: ref.tensor("pixel_values_videos").shape)
        try w.write(to: d + "/in.safetensors")
        return (d, out, d + "/in.safetensors", ref)
    }

    func testForwardWritesVideoFeaturesNextToLogits() throws {
        let s = try visionSetup()
        let r = try reel(["forward", s.reel, "--inputs", s.inputs, "--outputs", s.dir + "/out.safetensors", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try SafetensorsFile(path: s.dir + "/out.safetensors")
        XCTAssertEqual(try out.tensor("video_features").shape, [12, 64])
        for name in ["video_features", "logits"] {
            let a = try out.float32(name), b = try s.ref.float32(name)
            XCTAssertEqual(a.count, b.count)
            XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 1e-5, name)
        }
    }

    func testParityWithPixelsComparesVisionStages() throws {
        let s = try visionSetup()
        let r = try reel(["parity", nextVideo, s.reel, "--pixels", s.inputs, "--prompt", "What happens in it?", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stages = try JSON.parse(r.stdout, source: "parity --json")["stages"]?.array ?? []
        let names = stages.compactMap { $0["stage"]?.string }
        for n in ["vision.hidden_states.2", "projector.pooled", "video_features", "logits"] { XCTAssertTrue(names.contains(n), n) }
        for st in stages { XCTAssertEqual(st["cosine"]?.double ?? 0, 1, accuracy: 1e-6, "\(st)") }  // f16 source → f32 file: exact
    }

    /// A real clip through ffmpeg and the checkpoint's video processor (a copy of the fixture with a
    /// video_preprocessor_config.json: shortest edge 28, centre crop 28, CLIP mean/std).
    func testRunWithVideoFile() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        let clip = Self.root + "/Tests/ReelMediaTests/Fixtures/clip.mp4"
        try nextVideoClipModel(d + "/nv.reel")
        let r = try reel(["run", d + "/nv.reel", "--video", clip, "--frames", "4", "--prompt", "What happens?", "--max-tokens", "5",
                          "--ignore-eos", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout, source: "run --json")
        XCTAssertEqual(j["tokens"]?.array?.count, 5)
        XCTAssertEqual(j["vision"]?["frames_decoded"]?.int, 4)
        XCTAssertEqual(j["timings"]?["prompt_tokens"]?.int, 47, "USER: <video>×16\\nWhat happens? ASSISTANT:")

        let bad = try reel(["run", d + "/nv.reel", "--video", d + "/missing.mp4", "--prompt", "x"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("missing.mp4"), bad.stderr)
        let noPrompt = try reel(["run", d + "/nv.reel", "--video", clip, "--input-ids", "1,2", "--raw"])
        XCTAssertNotEqual(noPrompt.status, 0)
    }

    /// The LLaVA-NeXT-Video fixture converted to `out` with a video_preprocessor_config.json added (shortest edge
    /// 28, centre crop 28, CLIP mean/std), so that `reel run --video` can process real clips for it.
    func nextVideoClipModel(_ out: String) throws {
        let ckpt = out + ".ckpt"
        try FileManager.default.copyItem(atPath: nextVideo, toPath: ckpt)
        let pre = #"{"size": {"shortest_edge": 28}, "do_center_crop": true, "crop_size": {"height": 28, "width": 28}, "resample": 3, "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}"#
        try Data(pre.utf8).write(to: URL(fileURLWithPath: ckpt + "/video_preprocessor_config.json"))
        XCTAssertEqual(try reel(["convert", ckpt, "-o", out, "--quiet"]).status, 0)
    }

    /// The image fixture's directory, and a copy of the LLaVA-OneVision fixture checkpoint under `d` with the image
    /// fixture's processor config, tokenizer and chat template (what `reel run --image` needs).
    func llavaOVImageCheckpoint(in d: String) throws -> (checkpoint: String, image: String) {
        let fixtures = Self.root + "/Tests/ReelModelsTests/Fixtures"
        let ckpt = d + "/ckpt", img = fixtures + "/llava_ov_image"
        try FileManager.default.copyItem(atPath: fixtures + "/llava_ov", toPath: ckpt)
        for f in ["preprocessor_config.json", "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json", "tokenizer/chat_template.jinja"] {
            try FileManager.default.copyItem(atPath: img + "/" + f, toPath: ckpt + "/" + (f.split(separator: "/").last.map(String.init) ?? f))
        }
        return (ckpt, img)
    }

    /// An image file through ffmpeg and LLaVA-OneVision's anyres processing (the fixture's preprocessor_config.json):
    /// the pixel values equal the processor's (replayed in torch by tools/make_vision_fixtures.py) and greedy tokens
    /// equal transformers' `generate` on the chat template's prompt.
    func testRunWithImageFile() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        let (ckpt, img) = try llavaOVImageCheckpoint(in: d)
        XCTAssertEqual(try reel(["convert", ckpt, "-o", d + "/ov.reel", "--quiet"]).status, 0)
        let ref = try SafetensorsFile(path: img + "/ref.safetensors")
        let r = try reel(["run", d + "/ov.reel", "--image", img + "/image.png", "--prompt", "What is it?", "--max-tokens", "8",
                          "--ignore-eos", "--json", "--threads", "1", "--save-pixels", d + "/px.safetensors"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let px = try SafetensorsFile(path: d + "/px.safetensors")
        XCTAssertEqual(try px.tensor("pixel_values").shape, [1, 5, 3, 35, 35])
        XCTAssertEqual(try px.float32("image_sizes"), [97, 123])
        let a = try px.float32("pixel_values"), b = try ref.float32("chat_pixel_values")
        // ±1 uint8 level after normalisation (std 0.5): 2/255; measured 0
        XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 2 / 255 + 1e-6)
        let j = try JSON.parse(r.stdout, source: "run --json")
        XCTAssertEqual(j["timings"]?["prompt_tokens"]?.int, try ref.tensor("chat_input_ids").shape[0])
        XCTAssertEqual(j["tokens"]?.array?.compactMap(\.int), try ref.float32("chat_greedy_ids").map { Int($0) })

        // two images: base-only each (pad to a square with the mean colour, squash): 25 + 1 tokens per image
        let two = try reel(["run", d + "/ov.reel", "--image", img + "/image.png", "--image", img + "/image2.png", "--prompt", "Same?",
                            "--max-tokens", "8", "--ignore-eos", "--json", "--threads", "1", "--save-pixels", d + "/px2.safetensors"])
        XCTAssertEqual(two.status, 0, two.stderr)
        let px2 = try SafetensorsFile(path: d + "/px2.safetensors")
        let want = try ref.float32("multi_pixel_values"), per = 3 * 35 * 35
        for i in 0..<2 {
            XCTAssertEqual(try px2.tensor("pixel_values.\(i)").shape, [1, 1, 3, 35, 35])
            let got = try px2.float32("pixel_values.\(i)")
            XCTAssertLessThanOrEqual(zip(got, want[(i * per)..<((i + 1) * per)]).map { abs($0 - $1) }.max() ?? 1, 2 / 255 + 1e-6, "image \(i)")
        }
        let jt = try JSON.parse(two.stdout, source: "run --json")
        XCTAssertEqual(jt["vision"]?["images_encoded"]?.int, 2)
        XCTAssertEqual(jt["timings"]?["prompt_tokens"]?.int, try ref.tensor("multi_input_ids").shape[0])
        XCTAssertEqual(jt["tokens"]?.array?.compactMap(\.int), try ref.float32("multi_greedy_ids").map { Int($0) })
    }
}
