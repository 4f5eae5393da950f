import Foundation
import XCTest
import ReelCore
import ReelSafetensors

/// Malformed `reel forward` / `reel run` inputs exit 1 with an error naming the file and tensor, never a runtime
/// trap: float or out-of-range token ids, a mask that does not fit, NaN or huge `image_sizes`, an absurd `--fps`.
/// Each input is written here, small, by the test that uses it.
final class MalformedInputCLITests: XCTestCase {
    struct Result { let status: Int32; let trapped: Bool; let stderr: String; let stdout: String }

    func reel(_ args: [String]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: CLITests.binary) else {
            throw XCTSkip("no reel binary at \(CLITests.binary): run `swift build` first")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, trapped: p.terminationReason == .uncaughtSignal,
                      stderr: String(decoding: e, as: UTF8.self), stdout: String(decoding: o, as: UTF8.self))
    }

    func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "reel-malformed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// Writes `tensors` to `dir/name.safetensors` and returns the path.
    func inputs(_ dir: String, _ name: String, _ add: (inout SafetensorsWriter) throws -> Void) throws -> String {
        var w = SafetensorsWriter()
        try add(&w)
        let path = dir + "/" + name + ".safetensors"
        try w.write(to: path)
        return path
    }

    /// `reel forward` on `model` with `input`: asserts exit 1 (not a trap) and that stderr names the file and holds
    /// every one of `says`.
    func assertRefused(_ model: String, _ input: String, _ says: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try reel(["forward", model, "--inputs", input, "--outputs", input + ".out.safetensors", "--threads", "1"])
        XCTAssertFalse(r.trapped, "trapped: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        for s in [input] + says { XCTAssertTrue(r.stderr.contains(s), "stderr lacks \"\(s)\": \(r.stderr)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: input + ".out.safetensors"), file: file, line: line)
    }

    /// The example model (tiny Qwen2, vocabulary 400) converted at f32.
    func example(_ d: String) throws -> String {
        let r = try reel(["convert", CLITests.root + "/examples/tiny-qwen2", "-o", d + "/m.reel", "--quant", "f32", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return d + "/m.reel"
    }

    /// Float and bool ids are refused by dtype (NaN, ±inf and 1e30 trapped converting to Int; ids above 2^24 lost
    /// precision through f32); the integer dtypes are read exactly.
    func testFloatInputIdsAreRefusedByDtype() throws {
        let d = try scratch()
        let m = try example(d)
        let nan = try inputs(d, "nan") { try $0.add("input_ids", float32: [1, .nan, 9], shape: [1, 3]) }
        try assertRefused(m, nan, ["input_ids has dtype F32; expected I64 or I32"])
        let huge = try inputs(d, "huge") { try $0.add("input_ids", float32: [1, 1e30, -.infinity], shape: [3]) }
        try assertRefused(m, huge, ["input_ids has dtype F32"])
        let whole = try inputs(d, "whole") { try $0.add("input_ids", float32: [1, 5, 9], shape: [1, 3]) }
        try assertRefused(m, whole, ["input_ids has dtype F32"])
        let half = try inputs(d, "half") { try $0.add("input_ids", float16: [1, 5, 9], shape: [1, 3]) }
        try assertRefused(m, half, ["input_ids has dtype F16"])
        let bool = try inputs(d, "bool") { try $0.add("input_ids", dtype: .bool, shape: [2], bytes: [1, 0]) }
        try assertRefused(m, bool, ["input_ids has dtype BOOL"])

        for (name, add) in [("i64", { (w: inout SafetensorsWriter) in try w.add("input_ids", int64: [1, 5, 9, 399], shape: [1, 4]) }),
                            ("i32", { (w: inout SafetensorsWriter) in try w.add("input_ids", int32: [1, 5, 9, 399], shape: [4]) }),
                            ("u8", { (w: inout SafetensorsWriter) in try w.add("input_ids", dtype: .u8, shape: [4], bytes: [1, 5, 9, 200]) })] {
            let ok = try inputs(d, name, add)
            let r = try reel(["forward", m, "--inputs", ok, "--outputs", d + "/\(name).out.safetensors", "--threads", "1"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(try SafetensorsFile(path: d + "/\(name).out.safetensors").tensor("logits").shape, [4, 400], name)
        }
    }

    /// Integer ids are exact: 2^40 and 2^24 + 1 are reported as themselves (f32 made 2^24 + 1 into 2^24), Int64.max no
    /// longer traps, a negative id and an empty tensor are refused, all naming the file.
    func testIntegerInputIdsOutOfRangeAreRefusedNamingTheFile() throws {
        let d = try scratch()
        let m = try example(d)
        let big = try inputs(d, "big") { try $0.add("input_ids", int64: [1, 1 << 40, 9], shape: [1, 3]) }
        try assertRefused(m, big, ["input_ids holds 1099511627776 at index 1", "outside the model's vocabulary [0, 400)"])
        let exact = try inputs(d, "exact") { try $0.add("input_ids", int64: [1, (1 << 24) + 1], shape: [2]) }
        try assertRefused(m, exact, ["input_ids holds 16777217 at index 1"])
        let max = try inputs(d, "max") { try $0.add("input_ids", int64: [Int64.max], shape: [1, 1]) }
        try assertRefused(m, max, ["input_ids holds 9223372036854775807 at index 0"])
        let negative = try inputs(d, "negative") { try $0.add("input_ids", int32: [3, -1], shape: [1, 2]) }
        try assertRefused(m, negative, ["input_ids holds -1 at index 1; token ids are non-negative"])
        let u64 = try inputs(d, "u64") {
            try $0.add("input_ids", dtype: .u64, shape: [1], bytes: [UInt8](repeating: 0xFF, count: 8))
        }
        try assertRefused(m, u64, ["input_ids holds 18446744073709551615 at index 0, beyond the Int range"])
        let empty = try inputs(d, "empty") { try $0.add("input_ids", int64: [], shape: [1, 0]) }
        try assertRefused(m, empty, ["input_ids is empty"])
    }

    /// attention_mask must have input_ids' shape and hold only 0 and 1 (a wrong length was accepted; 2s were refused
    /// as "has zeros"); zeros are refused as padding; all ones passes.
    func testAttentionMaskMustMatchAndBeOnes() throws {
        let d = try scratch()
        let m = try example(d)
        func withMask(_ name: String, _ mask: [Int64], shape: [Int]) throws -> String {
            try inputs(d, name) {
                try $0.add("input_ids", int64: [1, 5, 9, 77], shape: [1, 4])
                try $0.add("attention_mask", int64: mask, shape: shape)
            }
        }
        try assertRefused(m, try withMask("short", [1, 1, 1], shape: [1, 3]), ["attention_mask has shape [1, 3]; expected input_ids' shape [1, 4]"])
        try assertRefused(m, try withMask("flat", [1, 1, 1, 1], shape: [4]), ["attention_mask has shape [4]"])
        try assertRefused(m, try withMask("twos", [1, 2, 1, 1], shape: [1, 4]), ["attention_mask holds 2 at index 1; a mask holds only 0 and 1"])
        try assertRefused(m, try withMask("zeros", [1, 1, 0, 0], shape: [1, 4]), ["attention_mask has zeros"])
        let nan = try inputs(d, "nan") {
            try $0.add("input_ids", int64: [1, 5], shape: [2])
            try $0.add("attention_mask", float32: [1, .nan], shape: [2])
        }
        try assertRefused(m, nan, ["attention_mask holds nan at index 1"])
        let ones = try withMask("ones", [1, 1, 1, 1], shape: [1, 4])
        let r = try reel(["forward", m, "--inputs", ones, "--outputs", d + "/ones.out.safetensors", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// image_sizes on the LLaVA-OneVision fixture: NaN trapped converting to Int, 2^40 overflowed the anyres
    /// arithmetic; both, zero and a float dtype that is not whole are refused naming the file; the processor's I64
    /// (97, 123), or the same as whole floats, runs.
    func testImageSizesMustBeWholePixelCountsInRange() throws {
        let d = try scratch()
        let fixtures = CLITests.root + "/Tests/ReelModelsTests/Fixtures"
        let c = try reel(["convert", fixtures + "/llava_ov", "-o", d + "/ov.reel", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let ref = try SafetensorsFile(path: fixtures + "/llava_ov_image/ref.safetensors")
        let ids = try XCTUnwrap(integerIds(ref, "input_ids"))
        let pixels = try ref.float32("pixel_values"), pixelShape = try ref.tensor("pixel_values").shape
        func image(_ name: String, _ sizes: (inout SafetensorsWriter) throws -> Void) throws -> String {
            try inputs(d, name) {
                try $0.add("input_ids", int64: ids, shape: [1, ids.count])
                try $0.add("pixel_values", float32: pixels, shape: pixelShape)
                try sizes(&$0)
            }
        }
        let nan = try image("nan") { try $0.add("image_sizes", float32: [.nan, 123], shape: [1, 2]) }
        try assertRefused(d + "/ov.reel", nan, ["image_sizes holds nan at index 0", "1…65536"])
        let huge = try image("huge") { try $0.add("image_sizes", int64: [1 << 40, 1 << 40], shape: [1, 2]) }
        try assertRefused(d + "/ov.reel", huge, ["image_sizes holds 1099511627776 at index 0"])
        let zero = try image("zero") { try $0.add("image_sizes", int64: [97, 0], shape: [2]) }
        try assertRefused(d + "/ov.reel", zero, ["image_sizes holds 0 at index 1"])
        let frac = try image("frac") { try $0.add("image_sizes", float32: [97.5, 123], shape: [1, 2]) }
        try assertRefused(d + "/ov.reel", frac, ["image_sizes holds 97.5 at index 0"])
        let three = try image("three") { try $0.add("image_sizes", int64: [97, 123, 1], shape: [1, 3]) }
        try assertRefused(d + "/ov.reel", three, ["image_sizes has shape [1, 3]"])

        for (name, sizes) in [("i64", { (w: inout SafetensorsWriter) in try w.add("image_sizes", int64: [97, 123], shape: [1, 2]) }),
                              ("f32", { (w: inout SafetensorsWriter) in try w.add("image_sizes", float32: [97, 123], shape: [1, 2]) })] {
            let ok = try image(name, sizes)
            let r = try reel(["forward", d + "/ov.reel", "--inputs", ok, "--outputs", d + "/\(name).out.safetensors", "--threads", "1"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(try SafetensorsFile(path: d + "/\(name).out.safetensors").tensor("image_features").shape,
                           try ref.tensor("image_features").shape, name)
        }
    }

    /// Qwen2-Audio's feature_attention_mask: a NaN trapped in Int(sum); now it and a mask of the wrong length are
    /// refused naming the file.
    func testFeatureAttentionMaskIsValidated() throws {
        let d = try scratch()
        let fixture = CLITests.root + "/Tests/ReelModelsTests/Fixtures/qwen2_audio"
        let c = try reel(["convert", fixture, "-o", d + "/qa.reel", "--quant", "f32", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let ref = try SafetensorsFile(path: fixture + "/ref.safetensors")
        let features = try ref.float32("input_features"), shape = [1] + (try ref.tensor("input_features").shape)
        let frames = shape.last!
        func audio(_ name: String, mask: [Float], length: Int) throws -> String {
            try inputs(d, name) {
                try $0.add("input_ids", int64: [1, 2, 3], shape: [1, 3])
                try $0.add("input_features", float32: features, shape: shape)
                try $0.add("feature_attention_mask", float32: mask, shape: [1, length])
            }
        }
        var nanMask = [Float](repeating: 1, count: frames)
        nanMask[5] = .nan
        try assertRefused(d + "/qa.reel", try audio("nan", mask: nanMask, length: frames), ["feature_attention_mask holds nan at index 5"])
        try assertRefused(d + "/qa.reel", try audio("short", mask: [1, 1], length: 2),
                          ["feature_attention_mask has shape [1, 2]; expected [1, \(frames)]"])
    }

    /// `--fps 1e30` overflowed Int in the frame-count arithmetic; now it means every frame, at most --frames.
    func testHugeFpsTakesAtMostFramesFrames() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") || ProcessInfo.processInfo.environment["REEL_FFMPEG"] != nil else {
            throw XCTSkip("ffmpeg not installed")
        }
        let d = try scratch()
        let ckpt = d + "/ckpt"
        try FileManager.default.copyItem(atPath: CLITests.root + "/Tests/ReelModelsTests/Fixtures/llava_next_video", toPath: ckpt)
        let pre = #"{"size": {"shortest_edge": 28}, "do_center_crop": true, "crop_size": {"height": 28, "width": 28}, "resample": 3, "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}"#
        try Data(pre.utf8).write(to: URL(fileURLWithPath: ckpt + "/video_preprocessor_config.json"))
        let c = try reel(["convert", ckpt, "-o", d + "/nv.reel", "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let clip = CLITests.root + "/Tests/ReelMediaTests/Fixtures/clip.mp4"
        let r = try reel(["run", d + "/nv.reel", "--video", clip, "--fps", "1e30", "--frames", "3", "--prompt", "What happens?",
                          "--max-tokens", "2", "--ignore-eos", "--json", "--threads", "1"])
        XCTAssertFalse(r.trapped, r.stderr)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try JSON.parse(r.stdout, source: "run --json")["vision"]?["frames_decoded"]?.int, 3)
    }

    /// An integer tensor of the reference file as Int64 (the fixtures store ids as I64).
    private func integerIds(_ f: SafetensorsFile, _ name: String) throws -> [Int64]? {
        let t = try f.tensor(name)
        guard t.dtype == .i64 else { return nil }
        let b = try f.rawBytes(of: t)
        return (0..<t.elementCount).map { Int64(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
    }
}
