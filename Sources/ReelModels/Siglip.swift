import ReelCore

/// The vision towers SiglipVisionModel and CLIPVisionModel (ARCHSPEC §2): config keys and tensor table.
/// The forward pass lands with the vision issue.
public enum VisionFamily: String, Sendable, CaseIterable {
    case siglip = "siglip_vision"
    case clip = "clip_vision"

    /// Normalises a vision config (`vision_config` inside a composite, or top level for a standalone tower).
    public func component(_ r: ConfigReader) throws -> ComponentSpec {
        let isClip = self == .clip
        let hidden = try r.positiveInt("hidden_size", default: 768)
        let inter = try r.positiveInt("intermediate_size", default: 3072)
        let layers = try r.positiveInt("num_hidden_layers", default: 12)
        let heads = try r.positiveInt("num_attention_heads", default: 12)
        let channels = try r.positiveInt("num_channels", default: 3)
        let image = try r.positiveInt("image_size", default: 224)
        let patch = try r.positiveInt("patch_size", default: isClip ? 32 : 16)
        // The patch conv has stride P and no padding: a grid of floor(image/P) per side (so400m: 384/14 → 27), the
        // last image_size mod P rows and columns unused.
        guard image >= patch else {
            throw ModelsError.badValue(source: r.source, key: r.path + "image_size", message: "\(image) is smaller than patch_size \(patch)")
        }
        guard hidden % heads == 0 else {
            throw ModelsError.badValue(source: r.source, key: r.path + "num_attention_heads", message: "\(heads) does not divide hidden_size \(hidden)")
        }
        let grid = image / patch
        let useHead = isClip ? false : try r.bool("vision_use_head", default: true)
        let config = JSONObject([
            ("family", .string(rawValue)),
            ("hidden_size", .int(Int64(hidden))), ("intermediate_size", .int(Int64(inter))),
            ("num_hidden_layers", .int(Int64(layers))), ("num_attention_heads", .int(Int64(heads))),
            ("num_channels", .int(Int64(channels))), ("image_size", .int(Int64(image))), ("patch_size", .int(Int64(patch))),
            ("hidden_act", .string(try r.activation("hidden_act", default: isClip ? "quick_gelu" : "gelu_pytorch_tanh"))),
            ("layer_norm_eps", .double(try r.epsilon("layer_norm_eps", default: isClip ? 1e-5 : 1e-6))),
            ("class_token", .bool(isClip)), ("pre_layernorm", .bool(isClip)), ("vision_use_head", .bool(useHead)),
        ])
        let p = "vision."
        var t: [TensorSpec] = []
        t.append(TensorSpec(p + "embeddings.patch_embedding.weight", [hidden, channels, patch, patch], .convolution))
        if isClip {
            t.append(TensorSpec(p + "embeddings.class_embedding", [hidden], .vector))
        } else {
            t.append(TensorSpec(p + "embeddings.patch_embedding.bias", [hidden], .vector))
        }
        t.append(TensorSpec(p + "embeddings.position_embedding.weight", [grid * grid + (isClip ? 1 : 0), hidden], .positionEmbedding))
        if isClip {
            t.append(TensorSpec(p + "pre_layrnorm.weight", [hidden], .vector))
            t.append(TensorSpec(p + "pre_layrnorm.bias", [hidden], .vector))
        }
        for i in 0..<layers {
            let l = "\(p)encoder.layers.\(i)."
            for n in ["layer_norm1", "layer_norm2"] {
                t.append(TensorSpec(l + n + ".weight", [hidden], .vector))
                t.append(TensorSpec(l + n + ".bias", [hidden], .vector))
            }
            for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                t.append(TensorSpec(l + "self_attn.\(n).weight", [hidden, hidden], .linear))
                t.append(TensorSpec(l + "self_attn.\(n).bias", [hidden], .vector))
            }
            t.append(TensorSpec(l + "mlp.fc1.weight", [inter, hidden], .linear))
            t.append(TensorSpec(l + "mlp.fc1.bias", [inter], .vector))
            t.append(TensorSpec(l + "mlp.fc2.weight", [hidden, inter], .linear))
            t.append(TensorSpec(l + "mlp.fc2.bias", [hidden], .vector))
        }
        t.append(TensorSpec(p + "post_layernorm.weight", [hidden], .vector))
        t.append(TensorSpec(p + "post_layernorm.bias", [hidden], .vector))
        if useHead {
            t.append(TensorSpec(p + "head.probe", [1, 1, hidden], .other))
            t.append(TensorSpec(p + "head.attention.in_proj_weight", [3 * hidden, hidden], .linear))
            t.append(TensorSpec(p + "head.attention.in_proj_bias", [3 * hidden], .vector))
            t.append(TensorSpec(p + "head.attention.out_proj.weight", [hidden, hidden], .linear))
            t.append(TensorSpec(p + "head.attention.out_proj.bias", [hidden], .vector))
            t.append(TensorSpec(p + "head.layernorm.weight", [hidden], .vector))
            t.append(TensorSpec(p + "head.layernorm.bias", [hidden], .vector))
            t.append(TensorSpec(p + "head.mlp.fc1.weight", [inter, hidden], .linear))
            t.append(TensorSpec(p + "head.mlp.fc1.bias", [inter], .vector))
            t.append(TensorSpec(p + "head.mlp.fc2.weight", [hidden, inter], .linear))
            t.append(TensorSpec(p + "head.mlp.fc2.bias", [hidden], .vector))
        }
        return ComponentSpec(name: "vision", family: rawValue, config: config, tensors: t)
    }

    /// Checkpoint prefixes of a tower stored under `prefix` ("" standalone, "vision_tower." in LLaVA), with the
    /// optional `vision_model.` segment that hub files carry and v5 saves drop (ARCHSPEC §0).
    static func prefixes(under prefix: String) -> [(checkpoint: String, reel: String)] {
        [(prefix + "vision_model.", "vision."), (prefix, "vision.")]
    }

    /// The registry entry of a standalone tower.
    var family: ModelFamily {
        let me = self
        let arch = self == .siglip ? "SiglipVisionModel" : "CLIPVisionModel"
        let type = self == .siglip ? "siglip_vision_model" : "clip_vision_model"
        return ModelFamily(architecture: rawValue, hfArchitectures: [arch], modelTypes: [type]) { config, _, source in
            ModelSpec(architecture: me.rawValue, components: [try me.component(ConfigReader(config, source: source))],
                      prefixes: VisionFamily.prefixes(under: ""),
                      ignored: [("vision_model.embeddings.position_ids", "a buffer"), ("embeddings.position_ids", "a buffer")])
        }
    }
}
