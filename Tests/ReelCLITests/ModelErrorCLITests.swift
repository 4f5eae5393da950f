import Foundation
import XCTest
import ReelCore

/// A tokenizer.json that `reel run` could not load stops `reel convert`, naming the file; a chat template it could not
/// parse is a warning at convert and, at run, an error naming the .reel file (the file still runs with --raw).
extension CLITests {
    func testBrokenChatTemplateWarnsAndBrokenTokenizerStopsConvert() throws {
        let d = try scratch()
        let ck = d + "/ck"
        try FileManager.default.copyItem(atPath: example, toPath: ck)
        try Data("{% for m in messages %}{{ m.content }}".utf8).write(to: URL(fileURLWithPath: ck + "/chat_template.jinja"))
        // A template Reel cannot parse is a warning (it may use a Jinja feature Reel lacks): the file still runs raw.
        let t = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet", "--json"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let w = try JSON.parse(t.stdout, source: "convert --json")["warnings"]?.array?.compactMap(\.string) ?? []
        XCTAssertTrue(w.contains { $0.contains(ck + "/chat_template.jinja: chat template") && $0.contains("--raw") }, t.stdout)
        let raw = try reel(["run", d + "/m.reel", "--prompt", "Hi", "--raw", "--max-tokens", "1"])
        XCTAssertEqual(raw.status, 0, raw.stderr)
        let templated = try reel(["run", d + "/m.reel", "--prompt", "Hi", "--max-tokens", "1"])
        XCTAssertEqual(templated.status, 1, templated.stderr)
        XCTAssertTrue(templated.stderr.contains(d + "/m.reel: chat template:"), templated.stderr)
        try FileManager.default.removeItem(atPath: d + "/m.reel")

        try FileManager.default.removeItem(atPath: ck + "/chat_template.jinja")
        let tj = ck + "/tokenizer.json"
        var tok = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tj))) as! [String: Any]
        var model = tok["model"] as! [String: Any]
        model["type"] = "Nonesuch"
        tok["model"] = model
        try JSONSerialization.data(withJSONObject: tok).write(to: URL(fileURLWithPath: tj))
        let k = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet"])
        XCTAssertEqual(k.status, 1, k.stderr)
        XCTAssertTrue(k.stderr.contains(tj) && k.stderr.contains("Nonesuch"), k.stderr)
        XCTAssertFalse(fileExists(d + "/m.reel"))
    }

    /// A clip of a question set that cannot be read names the set's line as well as the clip.
    func testEvalNamesTheQuestionSetLine() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", Self.root + "/examples/reel-av-demo", "-o", d + "/m.reel", "--quiet"]).status, 0)
        try Data("\n{\"video\": \"missing.mp4\", \"question\": \"q?\", \"answer\": \"a\"}\n".utf8)
            .write(to: URL(fileURLWithPath: d + "/q.jsonl"))
        let r = try reel(["eval", d + "/m.reel", "--set", d + "/q.jsonl"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(d + "/q.jsonl:2: " + d + "/missing.mp4"), r.stderr)
    }

    /// Parity against a checkpoint of another architecture is refused naming both.
    func testParityRefusesACheckpointOfAnotherArchitecture() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let other = Self.root + "/Tests/ReelModelsTests/Fixtures/qwen2_audio"
        let r = try reel(["parity", other, d + "/m.reel", "--prompt", "Hi"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("qwen2_audio checkpoint") && r.stderr.contains(d + "/m.reel holds qwen2"), r.stderr)
    }

    /// A LLaVA file whose image placeholder id is outside the decoder's vocabulary is refused when it loads, naming
    /// the key (no prompt could hold the placeholder; it failed later as "0 placeholders").
    func testLlavaPlaceholderOutsideTheVocabularyIsNamed() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        let (ckpt, img) = try llavaOVImageCheckpoint(in: d)
        let cfg = URL(fileURLWithPath: ckpt + "/config.json")
        var c = try JSONSerialization.jsonObject(with: Data(contentsOf: cfg)) as! [String: Any]
        c["image_token_index"] = 100_000
        try JSONSerialization.data(withJSONObject: c).write(to: cfg)
        let conv = try reel(["convert", ckpt, "-o", d + "/ov.reel", "--quiet"])
        XCTAssertEqual(conv.status, 0, conv.stderr)
        let r = try reel(["run", d + "/ov.reel", "--image", img + "/image.png", "--prompt", "What is it?", "--max-tokens", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("image_token_index") && r.stderr.contains("100000"), r.stderr)
    }
}
