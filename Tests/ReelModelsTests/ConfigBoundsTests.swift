import XCTest
import ReelCore
import ReelMedia
import ReelModels

/// Counts and sizes read from a config are bounded where a huge value would size a tensor table, a layer list or an
/// image (a crafted config's 10^9 layers or 2^40-pixel image made convert and run exhaust memory or trap): the
/// error names the key and the bound.
final class ConfigBoundsTests: XCTestCase {
    func testConfigReaderBoundsCountsAndSizes() throws {
        let r = ConfigReader(["num_hidden_layers": 1_000_000_000, "image_size": .int(1 << 40), "hidden_size": 896,
                              "max_position_embeddings": .int(1 << 40)], source: "c/config.json", path: "vision_config.")
        XCTAssertThrowsError(try r.positiveInt("num_hidden_layers")) { e in
            XCTAssertTrue("\(e)".contains("vision_config.num_hidden_layers") && "\(e)".contains("4096"), "\(e)")
        }
        XCTAssertThrowsError(try r.positiveInt("image_size")) { e in XCTAssertTrue("\(e)".contains("16384"), "\(e)") }
        XCTAssertEqual(try r.positiveInt("hidden_size"), 896)
        XCTAssertEqual(try r.positiveInt("max_position_embeddings"), 1 << 40, "context lengths stay unbounded (lazy KV cache)")
        XCTAssertEqual(ConfigLimits.maximum("num_hidden_layers"), 4096)
    }

    func testProcessorSizesAreBounded() throws {
        XCTAssertNoThrow(try ImageProcessorConfig(json: ["size": ["height": 16384, "width": 384], "do_normalize": false]))
        for size: JSON in [["height": 100_000, "width": 100_000], ["shortest_edge": .int(1 << 62)],
                           ["shortest_edge": 384, "longest_edge": .int(1 << 62)], .int(1 << 62)] {
            XCTAssertThrowsError(try ImageProcessorConfig(json: ["size": size, "do_normalize": false])) { e in
                XCTAssertEqual((e as? MediaError).map { if case .badConfig(let k, _) = $0 { return k } else { return "" } }, "size", "\(e)")
            }
        }
        XCTAssertThrowsError(try ImageProcessorConfig(json: ["size": 384, "do_center_crop": true,
                                                             "crop_size": ["height": .int(1 << 40), "width": 1], "do_normalize": false]))
    }

    func testLlavaPinpointsAndPoolStrideAreBounded() throws {
        var json: [String: JSON] = ["projector_hidden_act": "gelu", "vision_feature_layer": [-1],
                                    "vision_feature_select_strategy": "full", "image_token_index": 5, "video_token_index": 6,
                                    "image_grid_pinpoints": [[384, 768]]]
        XCTAssertNoThrow(try LlavaConfig(json: .object(JSONObject(json.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })), architecture: "llava_onevision"))
        json["image_grid_pinpoints"] = [[35_000, 35_000]]
        XCTAssertThrowsError(try LlavaConfig(json: .object(JSONObject(json.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })), architecture: "llava_onevision")) { e in
            XCTAssertTrue("\(e)".contains("image_grid_pinpoints") && "\(e)".contains("16384"), "\(e)")
        }
        json["image_grid_pinpoints"] = [[384, 768]]
        json["spatial_pool_stride"] = .int(1 << 62)
        XCTAssertThrowsError(try LlavaConfig(json: .object(JSONObject(json.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })), architecture: "llava_next_video")) { e in
            XCTAssertTrue("\(e)".contains("spatial_pool_stride"), "\(e)")
        }
    }
}
