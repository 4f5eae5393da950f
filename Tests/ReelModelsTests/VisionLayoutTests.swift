import Foundation
import ReelConvert
import ReelCore
import ReelFormat
import ReelModels
import ReelRuntime
import XCTest

/// The converter accepts a LLaVA checkpoint in each layout it meets (ARCHSPEC §0): what transformers 5.24's
/// save_pretrained writes (`vision_tower.*`, the fixture), the hub's (`vision_tower.vision_model.*`) and the v5
/// in-memory names (`model.vision_tower.*`, `model.language_model.*`, `model.multi_modal_projector.*`,
/// `model.image_newline`) — and the model computes the same features from each.
final class VisionLayoutTests: XCTestCase {
    /// Copies the fixture checkpoint with its tensors renamed: only the safetensors header changes.
    func renamedCheckpoint(_ fixture: String, as layout: String, rename: (String) -> String) throws -> String {
        let src = try Fixtures.root.appendingPathComponent(fixture)
        let dir = FixtureModel.tempDir + "/\(fixture)-\(layout)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "generation_config.json"] {
            try FileManager.default.copyItem(atPath: src.appendingPathComponent(f).path, toPath: dir + "/" + f)
        }
        let bytes = try [UInt8](Data(contentsOf: src.appendingPathComponent("model.safetensors")))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard let header = try JSON.parse(Array(bytes[8..<(8 + n)]), source: "model.safetensors").object else {
            throw TestFailure("header is not an object")
        }
        var renamed = JSONObject()
        for (k, v) in header { renamed[k == "__metadata__" ? k : rename(k)] = v }
        var h = Array(JSON.object(renamed).serialized().utf8)
        while h.count % 8 != 0 { h.append(UInt8(ascii: " ")) }
        var out = (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xff) }
        out += h
        out += bytes[(8 + n)...]
        try Data(out).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        return dir
    }

    func testHubAndInMemoryLayoutsConvertToTheSameModel() throws {
        let ref = try FixtureModel.reference("llava_ov")
        let layouts: [(String, (String) -> String)] = [
            ("hub", { k in k.hasPrefix("vision_tower.") ? "vision_tower.vision_model." + k.dropFirst("vision_tower.".count) : k }),
            ("in-memory", { k in
                if k.hasPrefix("language_model.model.") { return "model.language_model." + k.dropFirst("language_model.model.".count) }
                if k.hasPrefix("language_model.lm_head.") { return "lm_head." + k.dropFirst("language_model.lm_head.".count) }
                return "model." + k
            }),
        ]
        for (name, rename) in layouts {
            let dir = try renamedCheckpoint("llava_ov", as: name, rename: rename)
            let out = dir + ".reel"
            _ = try Converter.convert(checkpoint: dir, options: ConvertOptions(output: out, force: true, quiet: true))
            let m = try LlavaModel(file: try ReelFile(path: out), options: DecoderOptions(threads: 2))
            let feats = try m.videoFeatures(pixels: try ref.floats("pixel_values_videos"), frames: 4)
            try assertClose("\(name) layout video_features", feats.toArray(), try ref.floats("video_features"), relative: 1e-5)
        }
    }
}
