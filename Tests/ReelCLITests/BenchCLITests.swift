import Foundation
import XCTest
import ReelCore

/// `reel bench --json`: exactly issue 7's keys, with "encode_frames_per_s" only for a model with a vision tower, and
/// only it for a tower alone (speeds are checked for being positive, never against a threshold).
extension CLITests {
    static let benchKeys = ["model_bytes", "threads", "prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_bytes"]

    func benchJSON(_ model: String, _ extra: [String] = []) throws -> JSONObject {
        let r = try reel(["bench", model, "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1", "--threads", "1", "--json"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(try JSON.parse(r.stdout, source: "bench --json").object, r.stdout)
    }

    func testBenchJSONKeysTextModel() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quant", "q8", "--quiet"]).status, 0)
        let j = try benchJSON(d + "/m.reel", ["--frames", "2"])  // --frames has no effect without a vision tower …
        XCTAssertEqual(j.keys.sorted(), Self.benchKeys.sorted())
        let noted = try reel(["bench", d + "/m.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1",
                              "--threads", "1", "--json", "--frames", "2"])
        XCTAssertTrue(noted.stderr.contains("note: --frames has no effect: \(d)/m.reel has no vision tower"), noted.stderr)  // … and says so
        XCTAssertEqual(j["threads"]?.int, 1)
        XCTAssertEqual(j["model_bytes"]?.int, Int((try FileManager.default.attributesOfItem(atPath: d + "/m.reel")[.size] as? NSNumber)?.intValue ?? -1))
        for k in ["prefill_tokens_per_s", "decode_tokens_per_s"] { XCTAssertGreaterThan(j[k]?.double ?? 0, 0, k) }
        XCTAssertGreaterThan(j["peak_rss_bytes"]?.int ?? 0, 0)
        let bw = try benchJSON(d + "/m.reel", ["--bandwidth", "20"])
        XCTAssertEqual(bw.keys.sorted(), (Self.benchKeys + ["weight_bytes_per_token", "decode_roofline_fraction"]).sorted())
    }

    /// `--read-bound`: the read-only bound of a decode step adds exactly its keys; it streams the same bytes the
    /// decode does (weight_bytes_per_token), and its GB/s is those bytes × its tokens/s. The plain read of the same
    /// bytes beside it has a rate of its own.
    func testBenchReadBound() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quant", "q4", "--quiet"]).status, 0)
        let j = try benchJSON(d + "/m.reel", ["--read-bound"])
        #if os(Linux)
        let pages = ["huge_page_bytes"]  // how much of the file is mapped in 2 MiB pages (/proc/self/smaps)
        #else
        let pages: [String] = []
        #endif
        XCTAssertEqual(j.keys.sorted(), (Self.benchKeys + ["weight_bytes_per_token", "read_bound_tokens_per_s",
                                                           "read_bound_gb_per_s", "plain_read_gb_per_s"] + pages).sorted())
        XCTAssertGreaterThan(try XCTUnwrap(j["plain_read_gb_per_s"]?.double), 0)
        let huge = j["huge_page_bytes"]?.int ?? 0
        XCTAssertTrue(huge >= 0 && huge <= (j["model_bytes"]?.int ?? 0) && huge % (2 << 20) == 0, "\(huge)")
        let tps = try XCTUnwrap(j["read_bound_tokens_per_s"]?.double), gbs = try XCTUnwrap(j["read_bound_gb_per_s"]?.double)
        let bytes = Double(try XCTUnwrap(j["weight_bytes_per_token"]?.int))
        XCTAssertGreaterThan(tps, 0)
        XCTAssertEqual(gbs, bytes * tps / 1e9, accuracy: 1e-9 * max(gbs, 1))
        let both = try benchJSON(d + "/m.reel", ["--read-bound", "--bandwidth", "20"])
        XCTAssertEqual(both.keys.sorted(), (Self.benchKeys + ["weight_bytes_per_token", "decode_roofline_fraction",
                                                              "read_bound_tokens_per_s", "read_bound_gb_per_s",
                                                              "plain_read_gb_per_s"] + pages).sorted())

        let table = try reel(["bench", d + "/m.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1",
                              "--threads", "2", "--read-bound"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("read bound tg3"), table.stdout)
        XCTAssertTrue(table.stdout.contains("read-only bound:"), table.stdout)
        XCTAssertTrue(table.stdout.contains("plain read of the same bytes"), table.stdout)
        #if os(Linux)
        XCTAssertTrue(table.stdout.contains("file mapped in 2 MiB pages:"), table.stdout)
        #endif

        // --profile --read-bound: each op kind's weight reads alone, as a column beside the real op's GB/s.
        let prof = try reel(["bench", d + "/m.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1",
                             "--threads", "2", "--profile", "--read-bound"])
        XCTAssertEqual(prof.status, 0, prof.stderr)
        XCTAssertTrue(prof.stdout.contains("read-only bound GB/s"), prof.stdout)
        let head = try XCTUnwrap(prof.stdout.split(separator: "\n").first { $0.hasPrefix("| lm_head") }, prof.stdout)
        XCTAssertEqual(head.split(separator: "|").count, 7, "lm_head row: \(head)")
        for op in ["| qkv_proj", "| o_proj", "| gate_proj + up_proj", "| down_proj", "| lm_head"] {
            let row = try XCTUnwrap(prof.stdout.split(separator: "\n").first { $0.hasPrefix(op) }, prof.stdout)
            XCTAssertNotEqual(row.split(separator: "|").last?.trimmingCharacters(in: .whitespaces), "—", "no read-only bound for \(row)")
        }
    }

    /// `--depth D`: the decode test starts from a cache of D positions, as llama-bench's -d. The table names the test
    /// "tgN @ dD" (the profile's column too), --json adds "decode_depth" (absent by default, so issue 7's keys stay
    /// exact), D equal to --prompt-tokens runs on from the prefill test's cache, and a depth below 0 is refused.
    func testBenchDepth() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quant", "q8", "--quiet"]).status, 0)
        for depth in [4, 5] {  // 5 = --prompt-tokens
            let j = try benchJSON(d + "/m.reel", ["--depth", "\(depth)"])
            XCTAssertEqual(j.keys.sorted(), (Self.benchKeys + ["decode_depth"]).sorted())
            XCTAssertEqual(j["decode_depth"]?.int, depth)
            XCTAssertGreaterThan(j["decode_tokens_per_s"]?.double ?? 0, 0)
        }
        let table = try reel(["bench", d + "/m.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1",
                              "--depth", "4"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("tg3 @ d4") && table.stdout.contains("pp5"), table.stdout)
        XCTAssertTrue(table.stdout.contains("decode from 4 cached positions"), table.stdout)
        let plain = try reel(["bench", d + "/m.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1"])
        XCTAssertTrue(plain.stdout.contains(" tg3 |") && plain.stdout.contains("decode from an empty cache"), plain.stdout)
        let prof = try reel(["bench", d + "/m.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1",
                             "--depth", "4", "--profile"])
        XCTAssertEqual(prof.status, 0, prof.stderr)
        XCTAssertTrue(prof.stdout.contains("tg3 @ d4 ms/token"), prof.stdout)
        let negative = try reel(["bench", d + "/m.reel", "--depth=-1"])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.stderr.contains("--depth must be 0 or more"), negative.stderr)
    }

    /// The LLaVA-OneVision fixture (SigLIP 35/7, 3 layers): frames through the tower and projector as `reel run --video`.
    func testBenchJSONKeysVisionModel() throws {
        let d = try scratch()
        let ov = Self.root + "/Tests/ReelModelsTests/Fixtures/llava_ov"
        XCTAssertEqual(try reel(["convert", ov, "-o", d + "/ov.reel", "--quiet"]).status, 0)
        let j = try benchJSON(d + "/ov.reel", ["--frames", "3"])
        XCTAssertEqual(j.keys.sorted(), (Self.benchKeys + ["encode_frames_per_s"]).sorted())
        XCTAssertGreaterThan(j["encode_frames_per_s"]?.double ?? 0, 0)

        let table = try reel(["bench", d + "/ov.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1", "--frames", "3"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("enc3 (frames/s)"), table.stdout)
        // --profile on a vision model adds the tower's per-stage table with OpenBLAS's rate on the same shapes.
        let prof = try reel(["bench", d + "/ov.reel", "--prompt-tokens", "5", "--gen-tokens", "3", "--repetitions", "1",
                             "--frames", "3", "--profile"])
        XCTAssertEqual(prof.status, 0, prof.stderr)
        for stage in ["embeddings", "layer_norm1", "q_proj + k_proj + v_proj", "attention (q·kᵀ, softmax, ·v)", "out_proj",
                      "layer_norm2", "fc1 (+ activation)", "activation (inside fc1)", "fc2", "projector + pooling + other", "OpenBLAS sgemm"] {
            XCTAssertTrue(prof.stdout.contains("| \(stage)") || prof.stdout.contains(stage), "missing \(stage): \(prof.stdout)")
        }
        XCTAssertTrue(prof.stdout.contains("3 frames × 1 repetitions"), prof.stdout)
        let bad = try reel(["bench", d + "/ov.reel", "--frames", "0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--frames"), bad.stderr)
    }

    /// A vision tower on its own (SiglipVisionModel / CLIPVisionModel): frames/s only, so the keys are those of a
    /// model without a decoder; the decode measurements are refused by name, and a file with neither is refused.
    func testBenchTowerOnlyFile() throws {
        let d = try scratch()
        for (name, fixture) in [("siglip", "vision_siglip"), ("clip", "vision_clip")] {
            let m = d + "/\(name).reel"
            let c = try reel(["convert", Self.root + "/Tests/ReelModelsTests/Fixtures/" + fixture, "-o", m, "--quiet"])
            XCTAssertEqual(c.status, 0, c.stderr)
            let r = try reel(["bench", m, "--frames", "3", "--repetitions", "2", "--threads", "1", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let j = try XCTUnwrap(try JSON.parse(r.stdout, source: "bench --json").object, r.stdout)
            XCTAssertEqual(j.keys.sorted(), ["encode_frames_per_s", "model_bytes", "peak_rss_bytes", "threads"], name)
            XCTAssertGreaterThan(j["encode_frames_per_s"]?.double ?? 0, 0, name)
            let table = try reel(["bench", m, "--frames", "3", "--repetitions", "1"])
            XCTAssertEqual(table.status, 0, table.stderr)
            XCTAssertTrue(table.stdout.contains("enc3 (frames/s)"), table.stdout)
            let prof = try reel(["bench", m, "--frames", "2", "--repetitions", "1", "--profile"])
            XCTAssertEqual(prof.status, 0, prof.stderr)
            XCTAssertTrue(prof.stdout.contains("fc1 (+ activation)") && prof.stdout.contains("OpenBLAS sgemm"), prof.stdout)
            let bound = try reel(["bench", m, "--read-bound"])
            XCTAssertNotEqual(bound.status, 0)
            XCTAssertTrue(bound.stderr.contains(m) && bound.stderr.contains("--read-bound"), bound.stderr)
            let kv = try reel(["bench", m, "--kv-cache", "f16"])
            XCTAssertNotEqual(kv.status, 0)
            XCTAssertTrue(kv.stderr.contains("--kv-cache"), kv.stderr)
            let depth = try reel(["bench", m, "--depth", "8"])
            XCTAssertNotEqual(depth.status, 0)
            XCTAssertTrue(depth.stderr.contains("--depth"), depth.stderr)
        }
        let w = d + "/whisper.reel"
        XCTAssertEqual(try reel(["convert", Self.root + "/Tests/ReelModelsTests/Fixtures/whisper", "-o", w, "--quiet"]).status, 0)
        let r = try reel(["bench", w])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("neither a decoder nor a vision tower"), r.stderr)
    }

    /// The Reel AV fixture: frames through its tower, projector and pooling as `reel run --video`.
    func testBenchJSONKeysReelAVModel() throws {
        let d = try scratch()
        let av = Self.root + "/Tests/ReelModelsTests/Fixtures/reel_av"
        let c = try reel(["convert", av, "-o", d + "/av.reel", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let j = try benchJSON(d + "/av.reel", ["--frames", "2"])
        XCTAssertEqual(j.keys.sorted(), (Self.benchKeys + ["encode_frames_per_s"]).sorted())
        XCTAssertGreaterThan(j["encode_frames_per_s"]?.double ?? 0, 0)
    }
}
