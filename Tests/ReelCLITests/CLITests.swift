import Foundation
import XCTest
import ReelCore
import ReelFormat
import ReelSafetensors

/// The command-line contracts users and outside tools rely on (README, docs/cli.md), checked on the built `reel`
/// binary: exit codes, JSON keys, and errors that name what is wrong.
final class CLITests: XCTestCase {
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// `reel` sits next to the test bundle (`swift build --build-tests` builds both).
    static let binary: String = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent()] {
            let p = dir.appendingPathComponent("reel").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent().appendingPathComponent("reel").path
    }()

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    func reel(_ args: [String], stdin: String? = nil) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw XCTSkip("no reel binary at \(Self.binary): run `swift build` first")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A fresh directory, removed when the test ends.
    func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "reel-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    var example: String { Self.root + "/examples/tiny-qwen2" }

    func testHelpTeachesEveryCommand() throws {
        let r = try reel(["--help"])
        XCTAssertEqual(r.status, 0)
        for c in ["convert", "quantize", "inspect", "verify", "run", "chat", "forward", "parity"] {
            XCTAssertTrue(r.stdout.contains(c), "--help lists \(c)")
        }
        let convert = try reel(["convert", "--help"])
        XCTAssertTrue(convert.stdout.contains("Qwen2ForCausalLM") && convert.stdout.contains("--keep"))
    }

    func testConvertQuantizeInspectVerifyJSON() throws {
        let d = try scratch()
        let c = try reel(["convert", example, "-o", d + "/m.reel", "--json", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let cj = try JSON.parse(c.stdout, source: "convert --json")
        XCTAssertEqual(cj["architecture"]?.string, "qwen2")
        XCTAssertEqual(cj["tensors"]?.int, 26)
        let q = try reel(["quantize", d + "/m.reel", "-o", d + "/q4.reel", "--quant", "q4", "--json", "--quiet"])
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertLessThan(try JSON.parse(q.stdout, source: "quantize --json")["bits_per_weight"]?.double ?? 99, 6)
        let i = try reel(["inspect", d + "/q4.reel", "--json", "--tensors"])
        XCTAssertEqual(i.status, 0, i.stderr)
        let ij = try JSON.parse(i.stdout, source: "inspect --json")
        XCTAssertEqual(ij["components"]?["decoder"]?["config"]?["hidden_size"]?.int, 64)
        XCTAssertEqual(ij["tensors"]?.array?.count, 26)
        XCTAssertEqual(ij["tokenizer"]?["vocab_size"]?.int, 400)
        let v = try reel(["verify", d + "/q4.reel", "--json"])
        XCTAssertEqual(v.status, 0, v.stderr)
        XCTAssertEqual(try JSON.parse(v.stdout, source: "verify --json")["ok"], .bool(true))
    }

    func testBadInputExitsNonZeroAndNamesTheCulprit() throws {
        let d = try scratch()
        let missing = try reel(["convert", d + "/nope", "-o", d + "/x.reel"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(d + "/nope"), missing.stderr)
        XCTAssertFalse(fileExists(d + "/x.reel"))

        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let exists = try reel(["convert", example, "-o", d + "/m.reel", "--quiet"])
        XCTAssertNotEqual(exists.status, 0)
        XCTAssertTrue(exists.stderr.contains("--force"), exists.stderr)

        // Corrupt the last tensor's first byte: verify names it and fails.
        let f = try ReelFile(path: d + "/m.reel")
        let last = f.tensors.max { $0.offset < $1.offset }!
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: d + "/m.reel"))
        try h.seek(toOffset: UInt64(f.dataOffset + last.offset))
        let byte = try h.read(upToCount: 1)![0]
        try h.seek(toOffset: UInt64(f.dataOffset + last.offset))
        h.write(Data([byte ^ 0xFF]))
        try h.close()
        let bad = try reel(["verify", d + "/m.reel", "--quiet"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains(last.name), bad.stderr)

        let badIds = try reel(["run", d + "/m.reel", "--input-ids", "1,x", "--raw"])
        XCTAssertNotEqual(badIds.status, 0)
        XCTAssertTrue(badIds.stderr.contains("--input-ids"), badIds.stderr)
    }

    /// Flags that cannot go together are usage errors (exit 64, with the usage line); a failure that depends on the
    /// files or the model exits 1 with the error alone. `verify --json` reports a file that does not open as JSON too.
    func testUsageErrorsAndFileErrorsExitCodes() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)

        let missing = try reel(["verify", d + "/missing.reel", "--json"])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        let j = try JSON.parse(missing.stdout, source: "verify --json (missing file)")
        XCTAssertEqual(j["ok"], .bool(false))
        XCTAssertEqual(j["file"]?.string, d + "/missing.reel")
        XCTAssertTrue(j["error"]?.string?.contains("missing.reel") ?? false, missing.stdout)

        // The text model is not a Reel AV model: a fact about the file, not the flags' spelling.
        let noAudio = try reel(["run", d + "/m.reel", "--video", d + "/none.mp4", "--prompt", "Hi", "--no-audio"])
        XCTAssertEqual(noAudio.status, 1, noAudio.stderr)
        XCTAssertTrue(noAudio.stderr.contains("--no-audio is for Reel AV models"), noAudio.stderr)
        XCTAssertFalse(noAudio.stderr.contains("Usage:"), noAudio.stderr)

        for (args, says) in [(["bench", d + "/m.reel", "--profile", "--json"], "--profile"),
                             (["bench", d + "/m.reel", "--profile", "--dispatch"], "--dispatch"),
                             (["bench", d + "/m.reel", "--threads", "100000"], "--threads"),
                             (["bench", d + "/m.reel", "--prompt-tokens", "2000000"], "--prompt-tokens"),
                             (["parity", example, d + "/m.reel", "--pixels", "p.safetensors", "--audio-inputs", "a.safetensors"], "--audio-inputs"),
                             (["parity", example, d + "/m.reel", "--prompt", "Hi", "--raw", "--pixels", "p.safetensors"], "--raw")] {
            let r = try reel(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(says) && r.stderr.contains("Usage:"), "\(args): \(r.stderr)")
        }
    }

    func testRunJSONContract() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let r = try reel(["run", d + "/m.reel", "--input-ids", "5,6,7", "--raw", "--max-tokens", "6", "--ignore-eos", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSON.parse(r.stdout, source: "run --json")
        XCTAssertEqual(j["tokens"]?.array?.count, 6)
        XCTAssertNotNil(j["text"]?.string)
        XCTAssertEqual(j["stop_reason"]?.string, "length")
        for k in ["prompt_tokens", "generated_tokens", "prefill_tokens_per_s", "decode_tokens_per_s"] {
            XCTAssertNotNil(j["timings"]?[k]?.double, k)
        }
        // Streaming mode: text on stdout, the summary on stderr.
        let s = try reel(["run", d + "/m.reel", "--prompt", "How many beeps?", "--max-tokens", "4", "--threads", "1"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stderr.contains("tok/s"), s.stderr)
    }

    func testForwardWritesLogitsAndHiddenStates() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        var w = SafetensorsWriter()
        try w.add("input_ids", int64: [1, 5, 9, 77, 3], shape: [1, 5])
        try w.write(to: d + "/in.safetensors")
        let r = try reel(["forward", d + "/m.reel", "--inputs", d + "/in.safetensors", "--outputs", d + "/out.safetensors", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try SafetensorsFile(path: d + "/out.safetensors")
        XCTAssertEqual(try out.tensor("logits").shape, [5, 400])
        XCTAssertEqual(try out.tensor("hidden_states.0").shape, [5, 64])
        XCTAssertEqual(try out.tensor("hidden_states.2").shape, [5, 64])
        XCTAssertFalse(out.contains("hidden_states.3"))
        // An unsupported input is named.
        var w2 = SafetensorsWriter()
        try w2.add("input_ids", int64: [1, 2], shape: [1, 2])
        try w2.add("pixel_soup", float32: [0], shape: [1])
        try w2.write(to: d + "/bad.safetensors")
        let bad = try reel(["forward", d + "/m.reel", "--inputs", d + "/bad.safetensors", "--outputs", d + "/o2.safetensors"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("pixel_soup"), bad.stderr)
    }

    func testParityJSONReportsEveryStage() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/q8.reel", "--quant", "q8", "--quiet"]).status, 0)
        let r = try reel(["parity", example, d + "/q8.reel", "--input-ids", "1,5,9,77,3,100", "--json", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let stages = try JSON.parse(r.stdout, source: "parity --json")["stages"]?.array ?? []
        XCTAssertEqual(stages.compactMap { $0["stage"]?.string }, ["hidden_states.0", "hidden_states.1", "hidden_states.2", "logits"])
        let logits = stages.last!
        XCTAssertGreaterThan(logits["cosine"]?.double ?? 0, 0.99)
        XCTAssertNotNil(logits["kl_divergence"]?.double)
        XCTAssertNotNil(logits["top1_agreement"]?.double)
    }
}
