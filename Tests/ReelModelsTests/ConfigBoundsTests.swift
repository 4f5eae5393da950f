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

    /// A normalisation epsilon that is negative, not finite or beyond f32 is refused, at convert (ConfigReader) and
    /// in a .reel's component config; 0 and the usual values pass.
    func testEpsilonsMustBeUsable() throws {
        for bad in [-1e-6, Double.nan, Double.infinity, 1e300] {
            XCTAssertNotNil(ConfigLimits.epsilonProblem(bad), "\(bad)")
            let r = ConfigReader(["rms_norm_eps": .double(bad)], source: "c/config.json", path: "text_config.")
            XCTAssertThrowsError(try r.epsilon("rms_norm_eps")) { e in
                XCTAssertTrue("\(e)".hasPrefix("c/config.json") && "\(e)".contains("text_config.rms_norm_eps"), "\(e)")
            }
        }
        for good in [0, 1e-6, 1e-5, 1e-12] { XCTAssertNil(ConfigLimits.epsilonProblem(good), "\(good)") }
        let vision: JSON = ["family": "siglip_vision", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                            "num_attention_heads": 4, "num_channels": 3, "image_size": 28, "patch_size": 14,
                            "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": -1e-6]
        XCTAssertThrowsError(try VisionTowerConfig(json: vision)) { e in XCTAssertTrue("\(e)".contains("layer_norm_eps"), "\(e)") }
        let whisper: JSON = ["d_model": 32, "encoder_layers": 2, "encoder_attention_heads": 4, "encoder_ffn_dim": 64,
                             "num_mel_bins": 16, "max_source_positions": 50, "layer_norm_eps": .double(-.infinity)]
        XCTAssertThrowsError(try WhisperEncoderConfig(json: whisper)) { e in XCTAssertTrue("\(e)".contains("layer_norm_eps"), "\(e)") }
    }

    /// The feature windows an audio tower takes (Qwen2-Audio's and Reel AV's check of preprocessor_config.json):
    /// exactly num_mel_bins × 2·max_source_positions.
    func testAudioTowerWindowProblem() throws {
        let c = try WhisperEncoderConfig(json: ["d_model": 32, "encoder_layers": 2, "encoder_attention_heads": 4,
                                                "encoder_ffn_dim": 64, "num_mel_bins": 16, "max_source_positions": 50])
        XCTAssertNil(c.windowProblem(melBins: 16, frames: 100))
        for (m, f) in [(128, 3000), (16, 3000), (80, 100)] {
            let p = try XCTUnwrap(c.windowProblem(melBins: m, frames: f))
            XCTAssertTrue(p.contains("\(m)×\(f)") && p.contains("16×100"), p)
        }
    }

    /// Activations and the feature-select strategy are checked when the checkpoint is read, so convert refuses what
    /// `reel run` could not load.
    func testActivationsAndSelectStrategyAreCheckedAtConvert() throws {
        let r = ConfigReader(["projector_hidden_act": "bogus", "hidden_act": "silu", "vision_feature_select_strategy": "cls"],
                             source: "c/config.json", path: "")
        XCTAssertThrowsError(try r.activation("projector_hidden_act")) { e in
            XCTAssertTrue("\(e)".hasPrefix("c/config.json") && "\(e)".contains("projector_hidden_act") && "\(e)".contains("bogus"), "\(e)")
        }
        XCTAssertEqual(try r.activation("hidden_act"), "silu")
        XCTAssertEqual(try r.activation("absent", default: "gelu"), "gelu")
        XCTAssertThrowsError(try r.string("vision_feature_select_strategy", oneOf: ["default", "full"])) { e in
            XCTAssertTrue("\(e)".contains("cls is not supported (expected default or full)"), "\(e)")
        }
        // Whisper's encoder implements gelu (the erf form) only.
        let whisper = ConfigReader(["activation_function": "relu"], source: "w/config.json", path: "audio_config.")
        XCTAssertThrowsError(try WhisperEncoderFamily.component(whisper)) { e in
            XCTAssertTrue("\(e)".contains("audio_config.activation_function") && "\(e)".contains("relu is not supported (expected gelu)"), "\(e)")
        }
        XCTAssertNoThrow(try WhisperEncoderFamily.component(ConfigReader(["activation_function": "gelu"], source: "w/config.json", path: "")))
    }

    /// Processor numbers used in f32 or multiplied into sample counts are bounded: a rescale factor f32 rounds to 0
    /// made every pixel NaN; a chunk_length of 2^62 seconds overflowed.
    func testProcessorScalarsAreBounded() throws {
        for bad: JSON in [.double(1e-300), .double(1e300), .double(-1), 0] {
            XCTAssertThrowsError(try ImageProcessorConfig(json: ["size": 28, "rescale_factor": bad, "do_normalize": false])) { e in
                XCTAssertEqual((e as? MediaError).map { if case .badConfig(let k, _) = $0 { return k } else { return "" } }, "rescale_factor", "\(e)")
            }
        }
        XCTAssertNoThrow(try ImageProcessorConfig(json: ["size": 28, "rescale_factor": .double(1.0 / 255), "do_normalize": false]))
        for (key, bad) in [("chunk_length", JSON.int(1 << 62)), ("chunk_length", 0), ("feature_size", 100_000)] {
            XCTAssertThrowsError(try WhisperFeatureExtractor(json: [key: bad])) { e in
                XCTAssertEqual((e as? MediaError).map { if case .badConfig(let k, _) = $0 { return k } else { return "" } }, key, "\(e)")
            }
        }
    }
}
