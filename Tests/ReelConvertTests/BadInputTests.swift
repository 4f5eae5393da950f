import Foundation
import XCTest
import ReelConvert
import ReelCore
import ReelFormat
import ReelModels
import ReelQuant
import ReelSafetensors

/// Every bad input of issue 2 that reaches the converter ends in a clear error naming what is wrong, and leaves no
/// output behind.
final class ConvertBadInputTests: XCTestCase {
    func convert(_ dir: String, _ out: String, quant: Encoding? = nil, force: Bool = false, generic: Bool = false) throws -> ConvertSummary {
        try Converter.convert(checkpoint: dir, options: ConvertOptions(output: out, quant: quant, force: force, generic: generic, quiet: true))
    }

    func testMissingConfig() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        try FileManager.default.removeItem(atPath: joinPath(ck, "config.json"))
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            XCTAssertEqual(e as? ConvertError, .missingFile(joinPath(ck, "config.json")))
        }
        XCTAssertFalse(fileExists(joinPath(dir, "o.reel")))
    }

    func testMalformedConfig() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        try "{\"architectures\": [\"Qwen2ForCausalLM\"], ".write(toFile: joinPath(ck, "config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            guard case JSONError.parse(let source, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(source, joinPath(ck, "config.json"))
        }
    }

    func testNotADirectory() throws {
        let dir = try scratchDirectory()
        XCTAssertThrowsError(try convert(joinPath(dir, "nope"), joinPath(dir, "o.reel"))) { e in
            XCTAssertEqual(e as? ConvertError, .notADirectory(joinPath(dir, "nope")))
        }
    }

    func testUnknownArchitectureListsSupportedAndGenericWorks() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        try editConfig(ck) { $0["architectures"] = ["MambaForCausalLM"]; $0["model_type"] = "mamba" }
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            guard case ModelsError.unknownArchitecture(_, let found, let supported) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(found, "MambaForCausalLM")
            XCTAssertTrue(supported.contains("Qwen2ForCausalLM") && supported.contains("LlavaOnevisionForConditionalGeneration"))
            XCTAssertTrue("\(e)".contains("--generic"))
        }
        let s = try convert(ck, joinPath(dir, "g.reel"), generic: true)
        XCTAssertEqual(s.architecture, "generic")
        let f = try ReelFile(path: joinPath(dir, "g.reel"))
        XCTAssertNotNil(f.tensorInfo("model.layers.0.self_attn.q_proj.weight"), "generic keeps checkpoint names")
        XCTAssertEqual(f.tensors.count, 26)
    }

    func testTensorMissingFromTheFamilyTable() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("llama", to: dir)
        try rewriteWeights(ck) { $0.removeValue(forKey: "model.layers.1.mlp.up_proj.weight") }
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            guard case ConvertError.missingTensor(_, let reel, let arch) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(reel, "decoder.layers.1.mlp.up_proj.weight")
            XCTAssertEqual(arch, "llama")
        }
    }

    func testUnexpectedTensorIsNamed() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("llama", to: dir)
        try rewriteWeights(ck) { $0["model.layers.0.mlp.extra.weight"] = ($0["model.norm.weight"]!) }
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            guard case ConvertError.unexpectedTensor(_, let t, let reel, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(t, "model.layers.0.mlp.extra.weight")
            XCTAssertEqual(reel, "decoder.layers.0.mlp.extra.weight")
        }
    }

    func testShapeThatContradictsTheConfig() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        try editConfig(ck) { $0["intermediate_size"] = 64 }
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            guard case ConvertError.shapeMismatch(_, let t, let found, let want) = e else { return XCTFail("\(e)") }
            // The first MLP tensor in the checkpoint's order is the down projection [hidden, intermediate].
            XCTAssertEqual(t, "model.layers.0.mlp.down_proj.weight")
            XCTAssertEqual(found, [32, 48])
            XCTAssertEqual(want, [32, 64])
        }
    }

    func testNaNAndInfAreCountedAndWarned() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        try rewriteWeights(ck) { w in
            var t = w["model.layers.0.mlp.up_proj.weight"]!
            t.values[3] = .nan; t.values[7] = .nan; t.values[11] = .infinity
            w["model.layers.0.mlp.up_proj.weight"] = t
        }
        for quant: Encoding? in [nil, .q8] {  // the raw-copy path and the re-encoding path both count
            var logged: [String] = []
            let out = joinPath(dir, "nan-\(quant?.rawValue ?? "auto").reel")
            let s = try Converter.convert(checkpoint: ck, options: ConvertOptions(output: out, quant: quant, quiet: true)) { logged.append($0) }
            XCTAssertEqual(s.warnings.count, 1)
            XCTAssertTrue(s.warnings[0].contains("decoder.layers.0.mlp.up_proj.weight"), s.warnings[0])
            XCTAssertTrue(s.warnings[0].contains("2 NaN and 1 infinite"), s.warnings[0])
            if quant == .q8 {
                XCTAssertTrue(s.warnings[0].contains("stored as 0"), s.warnings[0])
                let f = try ReelFile(path: out)
                XCTAssertTrue(try decodeAll(f, "decoder.layers.0.mlp.up_proj.weight").allSatisfy(\.isFinite))
            }
            XCTAssertEqual(logged, s.warnings)
        }
    }

    func testExistingOutputNeedsForce() throws {
        let dir = try scratchDirectory()
        let out = joinPath(dir, "o.reel")
        try "keep me".write(toFile: out, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try convert(fixture("qwen2"), out)) { e in
            XCTAssertTrue("\(e)".contains(out), "\(e)")
        }
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep me")
        XCTAssertNoThrow(try convert(fixture("qwen2"), out, force: true))
        XCTAssertNoThrow(try ReelFile(path: out))
    }

    func testUnwritableDirectory() throws {
        let dir = try scratchDirectory()
        XCTAssertThrowsError(try convert(fixture("qwen2"), joinPath(dir, "no/such/dir/o.reel"))) { e in
            XCTAssertTrue("\(e)".contains("no/such/dir"), "\(e)")
        }
    }

    func testFullDiskLeavesNothingBehind() throws {
        let dir = try scratchDirectory()
        let out = joinPath(dir, "o.reel")
        setenv("REEL_TEST_DISK_LIMIT", "30000", 1)
        defer { unsetenv("REEL_TEST_DISK_LIMIT") }
        XCTAssertThrowsError(try convert(fixture("llama"), out)) { e in
            XCTAssertTrue("\(e)".lowercased().contains("no space left"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "no output and no temporary file left")
    }

    func testTruncatedSafetensorsNamesTheFile() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        let st = joinPath(ck, "model.safetensors")
        let bytes = try readWholeFile(st)
        try Data(bytes[0..<(bytes.count / 2)]).write(to: URL(fileURLWithPath: st))
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            XCTAssertTrue(e is SafetensorsError, "\(e)")
            XCTAssertTrue("\(e)".contains(st), "\(e)")
        }
        XCTAssertFalse(fileExists(joinPath(dir, "o.reel")))
    }

    func testMissingShardNamesIt() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2-sharded", to: dir)
        try FileManager.default.removeItem(atPath: joinPath(ck, "model-00002-of-00002.safetensors"))
        XCTAssertThrowsError(try convert(ck, joinPath(dir, "o.reel"))) { e in
            XCTAssertTrue("\(e)".contains("model-00002-of-00002.safetensors"), "\(e)")
        }
    }

    // MARK: helpers

    func editConfig(_ ck: String, _ edit: (inout JSONObject) -> Void) throws {
        let p = joinPath(ck, "config.json")
        var o = try JSON.parse(readWholeFile(p), source: p).object!
        edit(&o)
        try JSON.object(o).serialized(pretty: true).write(toFile: p, atomically: true, encoding: .utf8)
    }

    struct Tensor { var shape: [Int]; var values: [Float] }

    /// Rewrites a single-file checkpoint's weights as f32 through the Swift safetensors writer.
    func rewriteWeights(_ ck: String, _ edit: (inout [String: Tensor]) -> Void) throws {
        let p = joinPath(ck, "model.safetensors")
        var tensors: [String: Tensor] = [:]
        do {
            let f = try SafetensorsFile(path: p)
            for t in f.tensors { tensors[t.name] = Tensor(shape: t.shape, values: try f.float32(t.name)) }
        }
        edit(&tensors)
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            try w.add(name, float32: t.values, shape: t.shape)
        }
        try w.write(to: p, force: true)
    }
}
