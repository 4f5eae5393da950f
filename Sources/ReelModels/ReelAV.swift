import ReelCore

/// Reel AV (formats/REEL-AV.md): a SigLIP tower + LLaVA-style projector with 2×2 bilinear pooling, a Qwen2-Audio
/// (Whisper) tower + linear projector, and a Qwen2 decoder, interleaved by time segments. Config keys and tensor
/// table; the forward pass composes the vision, audio and decoder runtimes.
public enum ReelAVFamily {
    public static let name = "reel_av"

    static func describe(_ config: JSON, generation: JSON?, source: String) throws -> ModelSpec {
        let r = ConfigReader(config, source: source)
        let vision = try VisionFamily.siglip.component(try r.child("vision_config"))
        guard vision.config["vision_use_head"] == .bool(false) else {
            throw ModelsError.badValue(source: source, key: "vision_config.vision_use_head", message: "must be false for reel_av")
        }
        let audio = try WhisperEncoderFamily.component(try r.child("audio_config"))
        let decoder = try DecoderFamily.textComponent(of: r, generation: generation, defaultType: "qwen2")
        let dv = try vision.config["hidden_size"]!.int.unwrap()
        let da = try audio.config["d_model"]!.int.unwrap()
        let ht = try decoder.config["hidden_size"]!.int.unwrap()
        let image = try vision.config["image_size"]!.int.unwrap(), patch = try vision.config["patch_size"]!.int.unwrap()
        let grid = image / patch
        let pooling = try r.string("vision_pooling", default: "bilinear_2x2")
        guard ["bilinear_2x2", "none"].contains(pooling) else {
            throw ModelsError.badValue(source: source, key: "vision_pooling", message: "\(pooling); known: bilinear_2x2, none")
        }
        let pooled = pooling == "none" ? grid : (grid + 1) / 2
        let (square, overflow) = pooled.multipliedReportingOverflow(by: pooled)
        let tokensPerFrame = overflow ? Int.max : square  // refused below with the key
        let positions = try audio.config["max_source_positions"]!.int.unwrap()
        let tokensPerSegment = positions / 2
        // The derived counts are written for checking: a mismatch means the file and this reader disagree.
        if r.has("vision_tokens_per_frame"), try r.int("vision_tokens_per_frame") != tokensPerFrame {
            throw ModelsError.badValue(source: source, key: "vision_tokens_per_frame", message: "config says \(try r.int("vision_tokens_per_frame")), the vision config implies \(tokensPerFrame)")
        }
        if r.has("audio_tokens_per_segment"), try r.int("audio_tokens_per_segment") != tokensPerSegment {
            throw ModelsError.badValue(source: source, key: "audio_tokens_per_segment", message: "config says \(try r.int("audio_tokens_per_segment")), max_source_positions implies \(tokensPerSegment)")
        }
        // The time layout's counts, within ReelAVLayout.Limits (formats/REEL-AV.md §1), refused here as at load.
        let segmentSeconds = try ReelAVLayout.segmentSeconds(r, default: 2)
        let (framesPerSegment, maxSegments) = try ReelAVLayout.segmentCounts(r, defaults: (2, 8))
        for (key, n) in [("vision_tokens_per_frame", tokensPerFrame), ("audio_tokens_per_segment", tokensPerSegment)]
            where n < 1 || n > ReelAVLayout.Limits.tokens {
            throw ModelsError.badValue(source: source, key: key, message: "the towers' configs imply \(n); must be 1…\(ReelAVLayout.Limits.tokens)")
        }
        let (videoToken, frameToken, audioToken) = (try r.int("video_token_index", default: 3),
                                                    try r.int("frame_token_index", default: 4),
                                                    try r.int("audio_token_index", default: 5))
        try ReelAVLayout.checkTokens(r, video: videoToken, frame: frameToken, audio: audioToken)
        let vocab = try decoder.config["vocab_size"]!.int.unwrap()
        for (key, id) in [("video_token_index", videoToken), ("frame_token_index", frameToken), ("audio_token_index", audioToken)]
            where id >= vocab {
            throw ModelsError.badValue(source: source, key: key, message: "\(id) is outside text_config's vocabulary [0, \(vocab))")
        }
        let bias = try r.bool("multimodal_projector_bias", default: true)
        let projector = JSONObject([
            ("family", .string("reel_av_projector")),
            ("projector_hidden_act", .string(try r.activation("projector_hidden_act", default: "gelu"))),
            ("multimodal_projector_bias", .bool(bias)),
            ("vision_feature_layer", .int(Int64(try r.int("vision_feature_layer", default: -1)))),
            ("vision_feature_select_strategy", .string(try r.string("vision_feature_select_strategy", default: "full", oneOf: ["full"]))),
            ("vision_pooling", .string(pooling)),
            ("video_token_index", .int(Int64(videoToken))),
            ("frame_token_index", .int(Int64(frameToken))),
            ("audio_token_index", .int(Int64(audioToken))),
            ("segment_seconds", .double(segmentSeconds)),
            ("frames_per_segment", .int(Int64(framesPerSegment))),
            ("max_segments", .int(Int64(maxSegments))),
            ("vision_tokens_per_frame", .int(Int64(tokensPerFrame))),
            ("audio_tokens_per_segment", .int(Int64(tokensPerSegment))),
        ])
        var pt = [TensorSpec("projector.linear_1.weight", [ht, dv], .linear), TensorSpec("projector.linear_2.weight", [ht, ht], .linear)]
        if bias { pt += [TensorSpec("projector.linear_1.bias", [ht], .vector), TensorSpec("projector.linear_2.bias", [ht], .vector)] }
        let audioProjector = ComponentSpec(name: "audio_projector", family: "reel_av_audio_projector", config: JSONObject([("family", .string("reel_av_audio_projector"))]),
                                           tensors: [TensorSpec("audio_projector.linear.weight", [ht, da], .linear),
                                                     TensorSpec("audio_projector.linear.bias", [ht], .vector)])
        let components = [vision, ComponentSpec(name: "projector", family: "reel_av_projector", config: projector, tensors: pt),
                          audio, audioProjector, decoder]
        return ModelSpec(architecture: name, components: components, prefixes: VisionFamily.prefixes(under: "vision_tower.") + [
            ("multi_modal_projector.", "projector."), ("audio_tower.", "audio."), ("audio_projector.", "audio_projector."),
            ("language_model.model.", "decoder."), ("language_model.lm_head.", "decoder.lm_head."),
        ], ignored: [("vision_tower.vision_model.embeddings.position_ids", "a buffer")])
    }

    static var family: ModelFamily {
        ModelFamily(architecture: name, hfArchitectures: ["ReelAVForConditionalGeneration"], modelTypes: [name]) { c, g, s in
            try describe(c, generation: g, source: s)
        }
    }
}
