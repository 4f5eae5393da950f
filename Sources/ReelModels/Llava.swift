import ReelCore

/// LLaVA-OneVision and LLaVA-NeXT-Video (ARCHSPEC §3–4): a vision tower, the `multi_modal_projector`
/// (linear_1 → act → linear_2), `image_newline`, and a decoder. Config keys and tensor table; the video and image
/// paths land with the vision issue.
public enum LlavaFamily: String, Sendable, CaseIterable {
    case onevision = "llava_onevision"
    case nextVideo = "llava_next_video"

    func describe(_ config: JSON, generation: JSON?, source: String) throws -> ModelSpec {
        let r = ConfigReader(config, source: source)
        let vr = try r.child("vision_config")
        let visionType = try vr.string("model_type", default: self == .onevision ? "siglip_vision_model" : "clip_vision_model")
        let vision: VisionFamily
        switch visionType {
        case "siglip_vision_model": vision = .siglip
        case "clip_vision_model": vision = .clip
        default: throw ModelsError.badValue(source: source, key: "vision_config.model_type", message: "unsupported vision tower \(visionType); supported: siglip_vision_model, clip_vision_model")
        }
        let decoder = try DecoderFamily.textComponent(of: r, generation: generation, defaultType: self == .onevision ? "qwen2" : "llama")
        let visionComponent = try vision.component(vr)
        let dv = try visionComponent.config["hidden_size"]!.int.unwrap()
        let ht = try decoder.config["hidden_size"]!.int.unwrap()

        // vision_feature_layer may be a list: the selected layers are concatenated along channels.
        let featureLayers: [Int] = try config["vision_feature_layer"].map { v in
            if let i = v.int { return [i] }
            if let a = v.array { return try a.map { try $0.int.unwrap(key: "vision_feature_layer", source: source) } }
            throw ModelsError.badValue(source: source, key: "vision_feature_layer", message: "expected an integer or a list")
        } ?? [self == .onevision ? -1 : -2]
        let bias = try r.bool("multimodal_projector_bias", default: true)
        var projector = JSONObject([
            ("family", .string("llava_projector")),
            ("projector_hidden_act", .string(try r.activation("projector_hidden_act", default: "gelu"))),
            ("multimodal_projector_bias", .bool(bias)),
            ("vision_feature_layer", .array(featureLayers.map { .int(Int64($0)) })),
            ("vision_feature_select_strategy", .string(try r.string("vision_feature_select_strategy", default: self == .onevision ? "full" : "default", oneOf: ["default", "full"]))),
            ("image_token_index", .int(Int64(try r.int("image_token_index", default: self == .onevision ? 151646 : 32001)))),
            ("video_token_index", .int(Int64(try r.int("video_token_index", default: self == .onevision ? 151647 : 32000)))),
        ])
        if let pinpoints = config["image_grid_pinpoints"] { projector["image_grid_pinpoints"] = pinpoints }
        if let ratio = config["vision_aspect_ratio"] { projector["vision_aspect_ratio"] = ratio }
        let poolMode = try r.string("spatial_pool_mode", default: "average")
        if self == .nextVideo {
            projector["spatial_pool_mode"] = .string(poolMode)
            projector["spatial_pool_stride"] = .int(Int64(try r.positiveInt("spatial_pool_stride", default: 2)))
        }
        let inDim = dv * featureLayers.count
        var pt: [TensorSpec] = [
            TensorSpec("projector.linear_1.weight", [ht, inDim], .linear),
            TensorSpec("projector.linear_2.weight", [ht, ht], .linear),
        ]
        if bias {
            pt.insert(TensorSpec("projector.linear_1.bias", [ht], .vector), at: 1)
            pt.append(TensorSpec("projector.linear_2.bias", [ht], .vector))
        }
        pt.append(TensorSpec("projector.image_newline", [ht], .vector))
        if self == .nextVideo && poolMode == "conv" {
            let stride = try r.positiveInt("spatial_pool_stride", default: 2)
            pt.append(TensorSpec("projector.vision_resampler.pool.weight", [dv, dv, stride, stride], .convolution))
            pt.append(TensorSpec("projector.vision_resampler.pool.bias", [dv], .vector))
        }
        let proj = ComponentSpec(name: "projector", family: "llava_projector", config: projector, tensors: pt)

        // Hub layout (language_model.model.*, vision_tower.vision_model.*) and the v5 in-memory-style layout
        // (model.language_model.*, model.vision_tower.*) both map to the same Reel names.
        var prefixes: [(checkpoint: String, reel: String)] = [
            ("language_model.model.", "decoder."), ("language_model.lm_head.", "decoder.lm_head."),
            ("model.language_model.", "decoder."), ("lm_head.", "decoder.lm_head."),
            ("multi_modal_projector.", "projector."), ("model.multi_modal_projector.", "projector."),
            ("image_newline", "projector.image_newline"), ("model.image_newline", "projector.image_newline"),
            ("vision_resampler.", "projector.vision_resampler."), ("model.vision_resampler.", "projector.vision_resampler."),
        ]
        prefixes += VisionFamily.prefixes(under: "model.vision_tower.") + VisionFamily.prefixes(under: "vision_tower.")
        return ModelSpec(architecture: rawValue, components: [visionComponent, proj, decoder], prefixes: prefixes,
                         ignored: [("vision_tower.vision_model.embeddings.position_ids", "a buffer"),
                                   ("vision_tower.embeddings.position_ids", "a buffer")])
    }

    var family: ModelFamily {
        let me = self
        let arch = self == .onevision ? "LlavaOnevisionForConditionalGeneration" : "LlavaNextVideoForConditionalGeneration"
        return ModelFamily(architecture: rawValue, hfArchitectures: [arch], modelTypes: [rawValue]) { config, generation, source in
            try me.describe(config, generation: generation, source: source)
        }
    }
}

/// Qwen2-Audio (ARCHSPEC §5): the Whisper-style `audio_tower`, `multi_modal_projector.linear`, and a Qwen2 decoder.
public enum Qwen2AudioFamily {
    public static let name = "qwen2_audio"

    static var family: ModelFamily {
        ModelFamily(architecture: name, hfArchitectures: ["Qwen2AudioForConditionalGeneration"], modelTypes: [name]) { config, generation, source in
            let r = ConfigReader(config, source: source)
            let audio = try WhisperEncoderFamily.component(try r.child("audio_config"))
            let decoder = try DecoderFamily.textComponent(of: r, generation: generation, defaultType: "qwen2")
            let d = try audio.config["d_model"]!.int.unwrap()
            let ht = try decoder.config["hidden_size"]!.int.unwrap()
            let projector = ComponentSpec(name: "projector", family: "qwen2_audio_projector", config: JSONObject([
                ("family", .string("qwen2_audio_projector")),
                ("audio_token_index", .int(Int64(try r.int("audio_token_index", default: 151646)))),
            ]), tensors: [TensorSpec("projector.linear.weight", [ht, d], .linear), TensorSpec("projector.linear.bias", [ht], .vector)])
            return ModelSpec(architecture: name, components: [audio, projector, decoder], prefixes: [
                ("audio_tower.", "audio."), ("multi_modal_projector.", "projector."),
                ("language_model.model.", "decoder."), ("language_model.lm_head.", "decoder.lm_head."),
                ("model.language_model.", "decoder."), ("lm_head.", "decoder.lm_head."),
            ])
        }
    }
}

extension Optional {
    /// Unwraps a value the family code has just written, or throws instead of trapping.
    func unwrap(key: String = "", source: String = "") throws -> Wrapped {
        guard let v = self else { throw ModelsError.badValue(source: source, key: key, message: "missing or of the wrong type") }
        return v
    }
}
