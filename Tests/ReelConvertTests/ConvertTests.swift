import Foundation
import XCTest
import ReelConvert
import ReelCore
import ReelFormat
import ReelModels
import ReelQuant
import ReelSafetensors

/// Checkpoints made by tools/make_convert_fixtures.py with transformers' save_pretrained.
let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path

func fixture(_ name: String) -> String { joinPath(fixtures, name) }

/// The repository root, from this file's path (Tests/ReelConvertTests/ConvertTests.swift).
let repositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

extension XCTestCase {
    /// A fresh scratch directory per test, removed when the test ends.
    func scratchDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "reel-convert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

/// Copies a fixture checkpoint so a test can damage it.
func copyFixture(_ name: String, to dir: String) throws -> String {
    let dst = joinPath(dir, name)
    try FileManager.default.copyItem(atPath: fixture(name), toPath: dst)
    return dst
}

final class ConvertFamiliesTests: XCTestCase {
    /// Tensor counts of each fixture's .reel file: the checkpoint's tensors, all used (strict loading), none invented.
    let expected: [(dir: String, architecture: String, tensors: Int)] = [
        ("llama", "llama", 21), ("qwen2", "qwen2", 26), ("qwen2-sharded", "qwen2", 26), ("qwen3", "qwen3", 25),
        ("siglip", "siglip_vision", 37), ("clip", "clip_vision", 39), ("whisper", "whisper_encoder", 37),
        ("llava_onevision", "llava_onevision", 69), ("llava_onevision-hub", "llava_onevision", 69),
        ("llava_next_video", "llava_next_video", 65), ("qwen2_audio", "qwen2_audio", 66),
    ]

    func testEveryFamilyConvertsLosslesslyAndVerifies() throws {
        let dir = try scratchDirectory()
        for e in expected {
            let out = joinPath(dir, e.dir + ".reel")
            let s = try Converter.convert(checkpoint: fixture(e.dir), options: ConvertOptions(output: out, quiet: true))
            XCTAssertEqual(s.architecture, e.architecture, e.dir)
            let f = try ReelFile(path: out)
            XCTAssertEqual(f.architecture, e.architecture, e.dir)
            XCTAssertEqual(f.tensors.count, e.tensors, e.dir)
            XCTAssertNoThrow(try f.verify(), e.dir)
            // The fixtures are f16, so the lossless default keeps f16 for everything but 1-D tensors.
            for t in f.tensors { XCTAssertEqual(t.encoding, t.shape.count == 1 ? .f32 : .f16, "\(e.dir) \(t.name)") }
            // Every value survives: compare with the checkpoint through an independent path (safetensors → f32).
            let ck = try SafetensorsCheckpoint(path: fixture(e.dir))
            let spec = try FamilyRegistry.describe(config: f.metadata["source_config"]!, generation: f.metadata["generation_config"], source: e.dir)
            for name in ck.names {
                guard spec.ignoreReason(forCheckpointName: name) == nil, let reel = spec.reelName(forCheckpointName: name) else { continue }
                let want = try ck.float32(name)
                let got = try decodeAll(f, reel)
                XCTAssertEqual(got, want, "\(e.dir): \(name) → \(reel)")
            }
        }
    }

    func testHubAndV5LayoutsOfLlavaGiveTheSameTensors() throws {
        let dir = try scratchDirectory()
        let a = try ReelFile(path: convert("llava_onevision", dir))
        let b = try ReelFile(path: convert("llava_onevision-hub", dir))
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        for t in a.tensors { XCTAssertEqual(Array(try a.tensor(t.name).bytes), Array(try b.tensor(t.name).bytes), t.name) }
        XCTAssertTrue(a.tensors.contains { $0.name == "vision.embeddings.patch_embedding.weight" })
        XCTAssertTrue(a.tensors.contains { $0.name == "projector.image_newline" })
    }

    func testShardedCheckpointEqualsSingleFile() throws {
        // Both fixtures are the same seeded model; one is saved in 2 shards with an index.
        let dir = try scratchDirectory()
        let a = try ReelFile(path: convert("qwen2", dir))
        let b = try ReelFile(path: convert("qwen2-sharded", dir))
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        for t in a.tensors { XCTAssertEqual(Array(try a.tensor(t.name).bytes), Array(try b.tensor(t.name).bytes), t.name) }
    }

    func testTiedEmbeddingsStoreNoHead() throws {
        let dir = try scratchDirectory()
        let f = try ReelFile(path: convert("qwen2", dir))
        XCTAssertNil(f.tensorInfo("decoder.lm_head.weight"))
        XCTAssertEqual(f.component("decoder")?.config["tie_word_embeddings"], .bool(true))
        let llama = try ReelFile(path: convert("llama", dir))
        XCTAssertNotNil(llama.tensorInfo("decoder.lm_head.weight"))
        XCTAssertEqual(llama.component("decoder")?.config["rope"]?["type"], .string("llama3"))
    }

    func testMetadataCarriesConfigsAndProvenance() throws {
        let dir = try scratchDirectory()
        let f = try ReelFile(path: convert("llama", dir))
        let src = try JSON.parse(readWholeFile(joinPath(fixture("llama"), "config.json")), source: "config.json")
        XCTAssertEqual(f.metadata["source_config"], src)
        XCTAssertEqual(f.metadata["source_config"]?.object?.keys, src.object?.keys, "verbatim: key order kept")
        XCTAssertNotNil(f.metadata["generation_config"])
        let files = f.metadata["provenance"]?["files"]?.array ?? []
        XCTAssertTrue(files.contains { $0["name"]?.string == "model.safetensors" })
        let bytes = try readWholeFile(joinPath(fixture("llama"), "model.safetensors"))
        let entry = files.first { $0["name"]?.string == "model.safetensors" }
        XCTAssertEqual(entry?["xxh64"]?.string, Checksum.hex(Checksum.xxh64(bytes)))
        XCTAssertEqual(f.metadata["provenance"]?["converter"]?.string, "reel \(ReelVersion.string)")
    }

    func testTokenizerFilesBecomeBlobs() throws {
        let dir = try scratchDirectory()
        let example = joinPath(repositoryRoot, "examples/tiny-qwen2")
        let out = joinPath(dir, "tiny.reel")
        _ = try Converter.convert(checkpoint: example, options: ConvertOptions(output: out, quiet: true))
        let f = try ReelFile(path: out)
        XCTAssertEqual(try f.blob("tokenizer.json"), try readWholeFile(joinPath(example, "tokenizer.json")))
        XCTAssertEqual(try f.blob("tokenizer_config.json"), try readWholeFile(joinPath(example, "tokenizer_config.json")))
        XCTAssertEqual(f.metadata["tokenizer"]?["vocab_size"]?.int, 400)
    }

    func convert(_ name: String, _ dir: String, quant: Encoding? = nil) throws -> String {
        let out = joinPath(dir, "\(name)-\(quant?.rawValue ?? "auto").reel")
        _ = try Converter.convert(checkpoint: fixture(name), options: ConvertOptions(output: out, quant: quant, quiet: true))
        return out
    }
}

/// Every element of a stored tensor as f32, through ReelQuant's decoder.
func decodeAll(_ f: ReelFile, _ name: String) throws -> [Float] {
    let v = try f.tensor(name)
    let k = v.info.shape.last!
    let rows = v.info.shape.dropLast().reduce(1, *)
    var out = [Float](repeating: .nan, count: rows * k)
    try out.withUnsafeMutableBufferPointer { try Codec.decode(v.bytes, rows: rows, k: k, from: v.info.encoding, into: $0) }
    return out
}

final class QuantPolicyTests: XCTestCase {
    func testDefaultMixedPrecisionAtQ4() throws {
        let dir = try scratchDirectory()
        let out = joinPath(dir, "q4.reel")
        let s = try Converter.convert(checkpoint: fixture("llava_onevision"), options: ConvertOptions(output: out, quant: .q4, quiet: true))
        let f = try ReelFile(path: out)
        func enc(_ n: String) -> Encoding? { f.tensorInfo(n)?.encoding }
        XCTAssertEqual(enc("decoder.layers.0.self_attn.q_proj.weight"), .q4)
        XCTAssertEqual(enc("decoder.layers.0.self_attn.q_proj.bias"), .f32)
        XCTAssertEqual(enc("decoder.layers.0.input_layernorm.weight"), .f32)
        XCTAssertEqual(enc("decoder.embed_tokens.weight"), .q8)
        XCTAssertEqual(enc("decoder.lm_head.weight"), .q8)
        XCTAssertEqual(enc("vision.embeddings.patch_embedding.weight"), .f16)
        XCTAssertEqual(enc("vision.embeddings.position_embedding.weight"), .f16)
        XCTAssertEqual(enc("projector.linear_1.weight"), .q4)
        XCTAssertEqual(enc("projector.image_newline"), .f32)
        XCTAssertLessThan(s.bitsPerWeight, 16)
        let ex = f.metadata["provenance"]?["exceptions"]?.object
        XCTAssertEqual(ex?["decoder.embed_tokens.weight"]?.string, "q8: embeddings and output head stay q8")
    }

    func testKeepOverridesByPatternFirstMatchWins() throws {
        let dir = try scratchDirectory()
        let out = joinPath(dir, "keep.reel")
        let keep = try ["lm_head*=f16", "*.down_proj.weight=q8", "*.mlp.*=q4f", "decoder.layers.1.*=bf16"].map(QuantPolicy.Override.init(parsing:))
        _ = try Converter.convert(checkpoint: fixture("llama"), options: ConvertOptions(output: out, quant: .q4, overrides: keep, quiet: true))
        let f = try ReelFile(path: out)
        XCTAssertEqual(f.tensorInfo("decoder.lm_head.weight")?.encoding, .f16)
        XCTAssertEqual(f.tensorInfo("decoder.layers.0.mlp.down_proj.weight")?.encoding, .q8)
        XCTAssertEqual(f.tensorInfo("decoder.layers.0.mlp.up_proj.weight")?.encoding, .q4f)
        XCTAssertEqual(f.tensorInfo("decoder.layers.1.mlp.up_proj.weight")?.encoding, .q4f, "an earlier pattern wins")
        XCTAssertEqual(f.tensorInfo("decoder.layers.1.self_attn.q_proj.weight")?.encoding, .bf16)
        XCTAssertEqual(f.tensorInfo("decoder.layers.0.self_attn.q_proj.weight")?.encoding, .q4)
        XCTAssertEqual(f.metadata["provenance"]?["overrides"]?.array?.count, 4)
    }

    func testGlobMatching() {
        XCTAssertTrue(QuantPolicy.matches(pattern: "lm_head*", name: "decoder.lm_head.weight"))
        XCTAssertTrue(QuantPolicy.matches(pattern: "*.mlp.*", name: "decoder.layers.0.mlp.up_proj.weight"))
        XCTAssertTrue(QuantPolicy.matches(pattern: "decoder.layers.?.self_attn.*", name: "decoder.layers.3.self_attn.q_proj.weight"))
        XCTAssertFalse(QuantPolicy.matches(pattern: "decoder.layers.?.self_attn.*", name: "decoder.layers.13.self_attn.q_proj.weight"))
        XCTAssertFalse(QuantPolicy.matches(pattern: "head*", name: "decoder.lm_head.weight"), "matches start at a dot boundary")
        XCTAssertFalse(QuantPolicy.matches(pattern: "embed", name: "decoder.embed_tokens.weight"))
    }

    func testBadOverrideIsRefused() {
        XCTAssertThrowsError(try QuantPolicy.Override(parsing: "lm_head*=q3")) { e in
            guard case ConvertError.badOverride(let t, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(t, "lm_head*=q3")
        }
        XCTAssertThrowsError(try QuantPolicy.Override(parsing: "no-equals"))
    }

    func testQuantizeFromFloatAndRefuseRequantize() throws {
        let dir = try scratchDirectory()
        let f32 = joinPath(dir, "f32.reel")
        _ = try Converter.convert(checkpoint: fixture("qwen3"), options: ConvertOptions(output: f32, quant: .f32, quiet: true))
        let q8 = joinPath(dir, "q8.reel")
        _ = try Quantizer.quantize(input: f32, options: QuantizeOptions(output: q8, quant: .q8, quiet: true))
        let q8f = try ReelFile(path: q8)
        XCTAssertEqual(q8f.tensorInfo("decoder.layers.0.mlp.up_proj.weight")?.encoding, .q8)
        XCTAssertEqual(q8f.tensorInfo("decoder.layers.0.self_attn.q_norm.weight")?.encoding, .f32)
        XCTAssertNoThrow(try q8f.verify())
        // Same bytes as converting straight to q8: one pipeline, one quantiser.
        let direct = joinPath(dir, "direct-q8.reel")
        _ = try Converter.convert(checkpoint: fixture("qwen3"), options: ConvertOptions(output: direct, quant: .q8, quiet: true))
        let d = try ReelFile(path: direct)
        for t in d.tensors where t.encoding == .q8 {
            XCTAssertEqual(Array(try d.tensor(t.name).bytes), Array(try q8f.tensor(t.name).bytes), t.name)
        }
        // q8 → q4 compounds rounding: refused unless asked for.
        let q4 = joinPath(dir, "q4.reel")
        XCTAssertThrowsError(try Quantizer.quantize(input: q8, options: QuantizeOptions(output: q4, quant: .q4, quiet: true))) { e in
            guard case ConvertError.requantize(_, .q8, .q4) = e else { return XCTFail("\(e)") }
        }
        XCTAssertFalse(fileExists(q4))
        var warned: [String] = []
        _ = try Quantizer.quantize(input: q8, options: QuantizeOptions(output: q4, quant: .q4, allowRequantize: true, quiet: true)) { warned.append($0) }
        XCTAssertFalse(warned.isEmpty)
        XCTAssertEqual(try ReelFile(path: q4).metadata["provenance"]?["quantized_from"]?.string, q8)
    }
}
