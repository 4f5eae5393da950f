import Foundation
import XCTest
import ReelCore
import ReelSafetensors

/// `reel run --video`, `reel eval` and `reel demo` on the tiny random Reel AV fixture
/// (Tests/ReelModelsTests/Fixtures/reel_av, tools/make_reel_av_fixtures.py).
extension CLITests {
    var reelAV: String { Self.root + "/Tests/ReelModelsTests/Fixtures/reel_av" }

    func reelAVSetup() throws -> (dir: String, reel: String) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", reelAV, "-o", d + "/av.reel", "--quiet"]).status, 0)
        return (d, d + "/av.reel")
    }

    /// The greedy answer from the mp4 equals the PyTorch reference's (sound included); --no-audio drops the audio
    /// placeholders (2 segments × 50).
    func testRunReelAVVideoMatchesReference() throws {
        let s = try reelAVSetup()
        let clip = reelAV + "/clip.mp4"
        let r = try reel(["run", s.reel, "--video", clip, "--prompt", "How many beeps are there?", "--max-tokens", "8", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout, source: "run --json")
        let ref = try SafetensorsFile(path: reelAV + "/ref.safetensors")
        XCTAssertEqual(j["tokens"]?.array?.compactMap(\.int), try ref.float32("answer_ids").map { Int($0) })
        XCTAssertEqual(j["timings"]?["prompt_tokens"]?.int, 143)
        XCTAssertEqual(j["media"]?["audio_windows"]?.int, 2)
        let silent = try reel(["run", s.reel, "--video", clip, "--prompt", "How many beeps are there?", "--max-tokens", "1", "--no-audio", "--json"])
        XCTAssertEqual(silent.status, 0, silent.stderr)
        XCTAssertEqual(try JSON.parse(silent.stdout, source: "run --json")["timings"]?["prompt_tokens"]?.int, 43)
        let text = try reel(["run", s.reel, "--video", clip, "--prompt", "Hi", "--max-tokens", "2"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stderr.contains("frames: 4 decoded"), text.stderr)
        XCTAssertTrue(text.stderr.contains("audio: 2 window(s)"), text.stderr)
    }

    func testEvalReelAVReportsPerCategory() throws {
        let s = try reelAVSetup()
        try FileManager.default.copyItem(atPath: reelAV + "/clip.mp4", toPath: s.dir + "/clip.mp4")
        let set = """
        {"video": "clip.mp4", "question": "How many beeps are there?", "answer": "2", "category": "heard"}
        {"video": "clip.mp4", "question": "Which way does it move?", "options": ["A. left", "B. right", "C. up", "D. still"], "answer": "B", "category": "seen"}
        """
        try Data(set.utf8).write(to: URL(fileURLWithPath: s.dir + "/q.jsonl"))
        let r = try reel(["eval", s.reel, "--set", s.dir + "/q.jsonl", "--json", "--max-tokens", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout, source: "eval --json")
        XCTAssertEqual(j["overall"]?["total"]?.int, 2)
        XCTAssertEqual(j["categories"]?["heard"]?["total"]?.int, 1)
        XCTAssertEqual(j["timings"]?["items"]?.int, 2)
        let bad = try reel(["eval", s.reel, "--set", s.dir + "/missing.jsonl"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("missing.jsonl"), bad.stderr)
    }

    func testDemoNamesMissingCheckpointAndRunsOnAnother() throws {
        let s = try reelAVSetup()
        let missing = try reel(["demo", "--checkpoint", s.dir + "/nowhere"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("nowhere"), missing.stderr)
        try FileManager.default.createDirectory(atPath: s.dir + "/empty", withIntermediateDirectories: true)
        let empty = try reel(["demo", "--checkpoint", s.dir + "/empty"])
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertTrue(empty.stderr.contains("no trained checkpoint"), empty.stderr)
        let r = try reel(["demo", "--checkpoint", reelAV, "--clips", "1", "--seed", "3", "--cache-dir", s.dir + "/cache"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("trained only on synthetic clips"), r.stdout)
        XCTAssertTrue(r.stdout.contains("int4  accuracy"), r.stdout)
        XCTAssertTrue(r.stderr.contains("converting"), r.stderr)
        let again = try reel(["demo", "--checkpoint", reelAV, "--clips", "1", "--seed", "3", "--cache-dir", s.dir + "/cache"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("converting"), "the int4 file is cached: \(again.stderr)")
    }
}
