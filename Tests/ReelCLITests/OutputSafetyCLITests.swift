import Foundation
import XCTest
import ReelCore

/// Outputs never destroy inputs and are never lost in silence; sampling defaults from a checkpoint are checked like
/// the flags that override them.
extension CLITests {
    /// An output that names one of the command's inputs is refused even with --force (it would be replaced, not
    /// read): quantize onto its source, convert onto the checkpoint's weights, forward onto its inputs.
    func testOutputOverAnInputIsRefused() throws {
        let d = try scratch()
        let ck = d + "/ck"
        try FileManager.default.copyItem(atPath: example, toPath: ck)
        let weights = try Data(contentsOf: URL(fileURLWithPath: ck + "/model.safetensors"))
        let c = try reel(["convert", ck, "-o", ck + "/model.safetensors", "--force", "--quiet"])
        XCTAssertEqual(c.status, 1, c.stderr)
        XCTAssertTrue(c.stderr.contains("is the same file as the input"), c.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: ck + "/model.safetensors")), weights)

        XCTAssertEqual(try reel(["convert", ck, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: d + "/m.reel"))
        let q = try reel(["quantize", d + "/m.reel", "-o", d + "/./m.reel", "--quant", "q4", "--force", "--quiet"])
        XCTAssertEqual(q.status, 1, q.stderr)
        XCTAssertTrue(q.stderr.contains("\(d)/./m.reel is the same file as the input \(d)/m.reel"), q.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/m.reel")), before)

        let f = try reel(["forward", d + "/m.reel", "--inputs", d + "/m.reel", "--outputs", d + "/m.reel", "--force"])
        XCTAssertEqual(f.status, 1, f.stderr)
        XCTAssertTrue(f.stderr.contains("is the same file as the input"), f.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: d + "/m.reel")), before)
    }

    /// Standard output that cannot be written (a full disk) is an error (exit 1), not exit 0 with the output lost.
    func testUnwritableStandardOutputIsAnError() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full here") }
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["inspect", d + "/m.reel", "--json"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        let err = Pipe()
        p.standardError = err
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, stderr)
        XCTAssertTrue(stderr.contains("writing the standard output failed: No space left on device"), stderr)
    }

    /// generation_config.json's sampling values have the flags' ranges: one out of range stops convert naming the
    /// key (a repetition_penalty of 0 crashed the sampler at run).
    func testGenerationConfigOutOfRangeStopsConvert() throws {
        let d = try scratch()
        let ck = d + "/ck"
        try FileManager.default.copyItem(atPath: example, toPath: ck)
        for (key, value) in [("repetition_penalty", "0"), ("top_p", "7"), ("temperature", "-5"), ("min_p", "5"), ("top_k", "2.5")] {
            try Data(#"{"do_sample": true, "\#(key)": \#(value)}"#.utf8).write(to: URL(fileURLWithPath: ck + "/generation_config.json"))
            let c = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet", "--force"])
            XCTAssertEqual(c.status, 1, "\(key): \(c.stderr)")
            XCTAssertTrue(c.stderr.contains(ck + "/generation_config.json") && c.stderr.contains(key) && c.stderr.contains("must be"), c.stderr)
        }
        try Data(#"{"do_sample": true, "temperature": 0.7, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.05}"#.utf8)
            .write(to: URL(fileURLWithPath: ck + "/generation_config.json"))
        XCTAssertEqual(try reel(["convert", ck, "-o", d + "/m.reel", "--quiet", "--force"]).status, 0)
        let r = try reel(["run", d + "/m.reel", "--prompt", "Hi", "--max-tokens", "3", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

extension CLITests {
    /// A malformed --input-ids list is a usage error of the command it was given to (empty items included, which
    /// were dropped before), and --bandwidth must be finite (inf gave a roofline of 0).
    func testMalformedInputIdsAndInfiniteBandwidthAreUsageErrors() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        for ids in ["1,,2", "1,2,", "", "1e30", "0x10"] {
            let r = try reel(["run", d + "/m.reel", "--raw", "--input-ids", ids, "--max-tokens", "1"])
            XCTAssertEqual(r.status, 64, "\(ids): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--input-ids takes comma-separated integers") && r.stderr.contains("reel run"), r.stderr)
        }
        XCTAssertEqual(try reel(["run", d + "/m.reel", "--raw", "--input-ids", " 1, 2 ", "--max-tokens", "1"]).status, 0)
        let bw = try reel(["bench", d + "/m.reel", "--bandwidth", "inf"])
        XCTAssertEqual(bw.status, 64, bw.stderr)
        XCTAssertTrue(bw.stderr.contains("--bandwidth must be a positive, finite"), bw.stderr)
    }
}
