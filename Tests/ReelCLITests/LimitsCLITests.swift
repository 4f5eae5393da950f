import Foundation
import XCTest
import ReelCore

/// Out-of-range flags and sizes: a flag out of its range (docs/cli.md, run / chat) is a usage error naming it (exit
/// 64, with the usage); a context whose KV cache cannot exist, or a model config asking for absurd counts, is an error
/// naming the culprit (exit 1) — never a crash.
extension CLITests {
    func testLimitsFlagRangesAreUsageErrors() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let m = d + "/m.reel"
        let run = ["run", m, "--prompt", "Hi", "--max-tokens", "2"]
        let cases: [([String], String)] = [
            (run + ["--context", "0"], "--context"), (run + ["--context=-5"], "--context"),
            (run + ["--threads", "0"], "--threads"), (run + ["--threads=-1"], "--threads"),
            (run + ["--threads", "100000"], "--threads"),
            (run + ["--max-tokens=-1"], "--max-tokens"),
            (run + ["--temperature=-1"], "--temperature"), (run + ["--temperature", "nan"], "--temperature"),
            (run + ["--temperature", "inf"], "--temperature"),
            (run + ["--top-p", "2"], "--top-p"), (run + ["--top-p=-0.5"], "--top-p"), (run + ["--top-p", "0"], "--top-p"),
            (run + ["--min-p", "2"], "--min-p"), (run + ["--min-p=-0.1"], "--min-p"),
            (run + ["--repeat-penalty", "0"], "--repeat-penalty"), (run + ["--repeat-penalty=-1"], "--repeat-penalty"),
            (run + ["--top-k=-1"], "--top-k"),
            (["chat", m, "--top-p", "2"], "--top-p"), (["chat", m, "--context", "0"], "--context"),
            (["forward", m, "--inputs", d + "/in.safetensors", "--outputs", d + "/out.safetensors", "--threads", "0"], "--threads"),
            (["eval", m, "--set", d + "/q.jsonl", "--context=-1"], "--context"),
        ]
        for (args, flag) in cases {
            let r = try reel(args, stdin: "")
            XCTAssertEqual(r.status, 64, "\(args.dropFirst(2).joined(separator: " ")): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(flag), "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("Usage:"), "\(args): \(r.stderr)")
        }
        // The ends of each range are accepted; --max-tokens 0 only prefills.
        let edges = try reel(Array(run.dropLast(2)) + ["--max-tokens", "0", "--json", "--context", "64", "--threads", "1"])
        XCTAssertEqual(edges.status, 0, edges.stderr)
        XCTAssertEqual(try JSON.parse(edges.stdout, source: "run --json")["timings"]?["generated_tokens"]?.int, 0)
        let sampled = try reel(run + ["--temperature", "0.7", "--top-k", "0", "--top-p", "1", "--min-p", "0",
                                      "--repeat-penalty", "1.1", "--seed", "3", "--context", "256"])
        XCTAssertEqual(sampled.status, 0, sampled.stderr)
        let chat = try reel(["chat", m, "--top-p", "1", "--threads", "1", "--max-tokens", "2"], stdin: "Hi\n")
        XCTAssertEqual(chat.status, 0, chat.stderr)
    }

    /// A context whose cache size overflows, or fits an Int but no address space, is an error with the sizes (exit
    /// 1; it trapped or aborted on allocation before).
    func testLimitsContextTooLargeIsAnError() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let run = ["run", d + "/m.reel", "--prompt", "Hi", "--max-tokens", "2"]
        let overflow = try reel(run + ["--context", "\(Int.max)"])
        XCTAssertEqual(overflow.status, 1, overflow.stderr)
        XCTAssertTrue(overflow.stderr.contains("context of \(Int.max) positions"), overflow.stderr)
        XCTAssertTrue(overflow.stderr.contains("overflows"), overflow.stderr)
        XCTAssertFalse(overflow.stderr.contains("Usage:"), overflow.stderr)
        // 2^42 positions × 2 layers × 2 KV heads × 16 × 2 × 4 bytes = 2^51 bytes: no address space has that.
        let huge = try reel(run + ["--context", "\(1 << 42)"])
        XCTAssertEqual(huge.status, 1, huge.stderr)
        XCTAssertTrue(huge.stderr.contains("\(1 << 51) bytes"), huge.stderr)
    }

    /// A Reel AV config asking for 10^12 frames per segment (or 10^5 segments, or segments of 10^300 s) is refused when
    /// converted, naming the key; it converted before, and `run` then aborted allocating the frame list.
    func testLimitsReelAVCountsAreRefusedAtConvert() throws {
        let d = try scratch()
        let source = Self.root + "/Tests/ReelModelsTests/Fixtures/reel_av"
        let cases: [(String, JSON)] = [("frames_per_segment", .int(1_000_000_000_000)), ("max_segments", .int(100_000)),
                                       ("segment_seconds", .double(1e300))]
        for (key, value) in cases {
            let dir = d + "/\(key)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in try FileManager.default.contentsOfDirectory(atPath: source) where f != "config.json" {
                try FileManager.default.createSymbolicLink(atPath: dir + "/" + f, withDestinationPath: source + "/" + f)
            }
            let text = try String(contentsOfFile: source + "/config.json", encoding: .utf8)
            guard var config = try JSON.parse(text, source: "config.json").object else { return XCTFail("config.json") }
            config[key] = value
            try Data(JSON.object(config).serialized(pretty: true).utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
            let r = try reel(["convert", dir, "-o", dir + "/o.reel", "--quiet"])
            XCTAssertEqual(r.status, 1, "\(key) \(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(key), "\(key) \(value): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o.reel"))
        }
    }
}
