import ReelCore

/// The Whisper audio encoder (ARCHSPEC §5): standalone, inside WhisperForConditionalGeneration (encoder only), and as
/// Qwen2-Audio's audio tower. Config keys and tensor table; the forward pass lands with the audio issue.
public enum WhisperEncoderFamily {
    public static let name = "whisper_encoder"

    /// Normalises a Whisper encoder config (`audio_config` in Qwen2-Audio, top level for Whisper).
    public static func component(_ r: ConfigReader) throws -> ComponentSpec {
        let d = try r.positiveInt("d_model", default: 1280)
        let layers = try r.positiveInt("encoder_layers", default: 32)
        let heads = try r.positiveInt("encoder_attention_heads", default: 20)
        let ffn = try r.positiveInt("encoder_ffn_dim", default: 5120)
        let mels = try r.positiveInt("num_mel_bins", default: 128)
        let positions = try r.positiveInt("max_source_positions", default: 1500)
        guard d % heads == 0 else {
            throw ModelsError.badValue(source: r.source, key: r.path + "encoder_attention_heads", message: "\(heads) does not divide d_model \(d)")
        }
        let act = try r.string("activation_function", default: "gelu", oneOf: ["gelu"])  // the erf form
        let config = JSONObject([
            ("family", .string(name)), ("d_model", .int(Int64(d))), ("encoder_layers", .int(Int64(layers))),
            ("encoder_attention_heads", .int(Int64(heads))), ("encoder_ffn_dim", .int(Int64(ffn))),
            ("num_mel_bins", .int(Int64(mels))), ("max_source_positions", .int(Int64(positions))),
            ("activation_function", .string(act)),
            ("scale_embedding", .bool(try r.bool("scale_embedding", default: false))),
            ("layer_norm_eps", .double(1e-5)),
        ])
        let p = "audio."
        var t: [TensorSpec] = [
            TensorSpec(p + "conv1.weight", [d, mels, 3], .convolution), TensorSpec(p + "conv1.bias", [d], .vector),
            TensorSpec(p + "conv2.weight", [d, d, 3], .convolution), TensorSpec(p + "conv2.bias", [d], .vector),
            TensorSpec(p + "embed_positions.weight", [positions, d], .positionEmbedding),
        ]
        for i in 0..<layers {
            let l = "\(p)layers.\(i)."
            for n in ["self_attn_layer_norm", "final_layer_norm"] {
                t.append(TensorSpec(l + n + ".weight", [d], .vector))
                t.append(TensorSpec(l + n + ".bias", [d], .vector))
            }
            for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                t.append(TensorSpec(l + "self_attn.\(n).weight", [d, d], .linear))
                if n != "k_proj" { t.append(TensorSpec(l + "self_attn.\(n).bias", [d], .vector)) }  // k_proj has no bias
            }
            t.append(TensorSpec(l + "fc1.weight", [ffn, d], .linear))
            t.append(TensorSpec(l + "fc1.bias", [ffn], .vector))
            t.append(TensorSpec(l + "fc2.weight", [d, ffn], .linear))
            t.append(TensorSpec(l + "fc2.bias", [d], .vector))
        }
        t.append(TensorSpec(p + "layer_norm.weight", [d], .vector))
        t.append(TensorSpec(p + "layer_norm.bias", [d], .vector))
        return ComponentSpec(name: "audio", family: name, config: config, tensors: t)
    }

    /// The registry entry: a Whisper checkpoint converted for its encoder.
    static var family: ModelFamily {
        ModelFamily(architecture: name, hfArchitectures: ["WhisperEncoder", "WhisperForConditionalGeneration", "WhisperModel"],
                    modelTypes: ["whisper"]) { config, _, source in
            ModelSpec(architecture: name, components: [try component(ConfigReader(config, source: source))],
                      prefixes: [("model.encoder.", "audio."), ("encoder.", "audio."), ("", "audio.")],
                      ignored: [("model.decoder.", "Reel runs the Whisper encoder only"),
                                ("decoder.", "Reel runs the Whisper encoder only"),
                                ("proj_out.", "the Whisper decoder's output head")])
        }
    }
}
