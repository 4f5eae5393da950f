import ReelCore

/// The decoder families LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM: one forward, three sets of
/// defaults (ARCHSPEC §1). This file owns their config keys and tensor table; the forward pass is in Decoder/.
public enum DecoderFamily: String, Sendable, CaseIterable {
    case llama, qwen2, qwen3

    /// Class defaults of the transformers config, used only when config.json omits a key.
    struct Defaults {
        let vocab: Int, hidden: Int, intermediate: Int, layers: Int, heads: Int, maxPositions: Int
        let rmsEps: Double
        let explicitHeadDim: Int?   // Qwen3 declares head_dim; the others derive H / nH
    }

    var defaults: Defaults {
        switch self {
        case .llama: return Defaults(vocab: 32000, hidden: 4096, intermediate: 11008, layers: 32, heads: 32, maxPositions: 2048, rmsEps: 1e-6, explicitHeadDim: nil)
        case .qwen2: return Defaults(vocab: 151936, hidden: 4096, intermediate: 22016, layers: 32, heads: 32, maxPositions: 32768, rmsEps: 1e-6, explicitHeadDim: nil)
        case .qwen3: return Defaults(vocab: 151936, hidden: 4096, intermediate: 22016, layers: 32, heads: 32, maxPositions: 32768, rmsEps: 1e-6, explicitHeadDim: 128)
        }
    }

    /// The family of a text config's `model_type`.
    public init?(modelType: String) { self.init(rawValue: modelType) }

    /// Normalises a decoder config (top-level for a causal LM, `text_config` inside a composite) into the keys the
    /// runtime reads (documented in formats/REEL.md's decoder section and Sources/ReelModels/Decoder/).
    /// - Parameters:
    ///   - r: the config object.
    ///   - generation: generation_config.json when present (its eos ids join the config's).
    ///   - tieDefault: a composite's own `tie_word_embeddings`, which LLaVA configs inherit.
    public func component(_ r: ConfigReader, generation: JSON? = nil, tieDefault: Bool = false) throws -> ComponentSpec {
        let d = defaults
        let vocab = try r.positiveInt("vocab_size", default: d.vocab)
        let hidden = try r.positiveInt("hidden_size", default: d.hidden)
        let inter = try r.positiveInt("intermediate_size", default: d.intermediate)
        let layers = try r.positiveInt("num_hidden_layers", default: d.layers)
        let heads = try r.positiveInt("num_attention_heads", default: d.heads)
        let kvHeads = try r.positiveInt("num_key_value_heads", default: heads)
        guard heads % kvHeads == 0 else {
            throw ModelsError.badValue(source: r.source, key: r.path + "num_key_value_heads",
                                       message: "\(kvHeads) does not divide num_attention_heads \(heads)")
        }
        let headDim = try r.positiveInt("head_dim", default: d.explicitHeadDim ?? hidden / heads)
        let attentionBias = try r.bool("attention_bias", default: false)
        let qkvBias = self == .qwen2 ? true : attentionBias
        let oBias = self == .qwen2 ? false : attentionBias
        let mlpBias = self == .llama ? try r.bool("mlp_bias", default: false) : false
        let tied = try r.bool("tie_word_embeddings", default: tieDefault)
        let act = try r.string("hidden_act", default: "silu")
        guard act == "silu" else { throw ModelsError.badValue(source: r.source, key: r.path + "hidden_act", message: "only silu is supported, found \(act)") }
        let maxPos = try r.positiveInt("max_position_embeddings", default: d.maxPositions)
        let rope = try ropeConfig(r, maxPositions: maxPos)
        var eos = try r.ints("eos_token_id")
        if let g = generation {
            for id in try ConfigReader(g, source: "generation_config.json").ints("eos_token_id") where !eos.contains(id) { eos.append(id) }
        }
        let bos: JSON = r.has("bos_token_id") ? .int(Int64(try r.int("bos_token_id"))) : .null

        let config = JSONObject([
            ("family", .string(rawValue)),
            ("vocab_size", .int(Int64(vocab))), ("hidden_size", .int(Int64(hidden))),
            ("intermediate_size", .int(Int64(inter))), ("num_hidden_layers", .int(Int64(layers))),
            ("num_attention_heads", .int(Int64(heads))), ("num_key_value_heads", .int(Int64(kvHeads))),
            ("head_dim", .int(Int64(headDim))), ("rms_norm_eps", .double(try r.epsilon("rms_norm_eps", default: d.rmsEps))),
            ("max_position_embeddings", .int(Int64(maxPos))), ("tie_word_embeddings", .bool(tied)),
            ("qkv_bias", .bool(qkvBias)), ("o_bias", .bool(oBias)), ("mlp_bias", .bool(mlpBias)),
            ("qk_norm", .bool(self == .qwen3)), ("hidden_act", .string(act)), ("rope", .object(rope)),
            ("bos_token_id", bos), ("eos_token_ids", .array(eos.map { .int(Int64($0)) })),
        ])

        // Tensor table (ARCHSPEC §1); weight rows are output channels.
        let p = "decoder."
        var t: [TensorSpec] = [TensorSpec(p + "embed_tokens.weight", [vocab, hidden], .tokenEmbedding)]
        for i in 0..<layers {
            let l = "\(p)layers.\(i)."
            t.append(TensorSpec(l + "input_layernorm.weight", [hidden], .vector))
            t.append(TensorSpec(l + "self_attn.q_proj.weight", [heads * headDim, hidden], .linear))
            t.append(TensorSpec(l + "self_attn.k_proj.weight", [kvHeads * headDim, hidden], .linear))
            t.append(TensorSpec(l + "self_attn.v_proj.weight", [kvHeads * headDim, hidden], .linear))
            if qkvBias {
                t.append(TensorSpec(l + "self_attn.q_proj.bias", [heads * headDim], .vector))
                t.append(TensorSpec(l + "self_attn.k_proj.bias", [kvHeads * headDim], .vector))
                t.append(TensorSpec(l + "self_attn.v_proj.bias", [kvHeads * headDim], .vector))
            }
            t.append(TensorSpec(l + "self_attn.o_proj.weight", [hidden, heads * headDim], .linear))
            if oBias { t.append(TensorSpec(l + "self_attn.o_proj.bias", [hidden], .vector)) }
            if self == .qwen3 {
                t.append(TensorSpec(l + "self_attn.q_norm.weight", [headDim], .vector))
                t.append(TensorSpec(l + "self_attn.k_norm.weight", [headDim], .vector))
            }
            t.append(TensorSpec(l + "post_attention_layernorm.weight", [hidden], .vector))
            t.append(TensorSpec(l + "mlp.gate_proj.weight", [inter, hidden], .linear))
            t.append(TensorSpec(l + "mlp.up_proj.weight", [inter, hidden], .linear))
            t.append(TensorSpec(l + "mlp.down_proj.weight", [hidden, inter], .linear))
            if mlpBias {
                t.append(TensorSpec(l + "mlp.gate_proj.bias", [inter], .vector))
                t.append(TensorSpec(l + "mlp.up_proj.bias", [inter], .vector))
                t.append(TensorSpec(l + "mlp.down_proj.bias", [hidden], .vector))
            }
        }
        t.append(TensorSpec(p + "norm.weight", [hidden], .vector))
        if !tied { t.append(TensorSpec(p + "lm_head.weight", [vocab, hidden], .outputHead)) }
        return ComponentSpec(name: "decoder", family: rawValue, config: config, tensors: t)
    }

    /// RoPE settings from either spelling: v5's `rope_parameters`, or the hub's `rope_theta` + `rope_scaling` (ARCHSPEC §0).
    func ropeConfig(_ r: ConfigReader, maxPositions: Int) throws -> JSONObject {
        let params = try r.has("rope_parameters") ? r.child("rope_parameters") : r.child("rope_scaling")
        let type = try params.has("rope_type") ? params.string("rope_type") : params.string("type", default: "default")
        let known = ["default", "linear", "dynamic", "llama3", "yarn", "longrope"]
        guard known.contains(type) else {
            throw ModelsError.badValue(source: r.source, key: params.path + "rope_type", message: "unknown RoPE type \(type); known: \(known.joined(separator: ", "))")
        }
        let theta = try params.has("rope_theta") ? params.double("rope_theta") : r.double("rope_theta", default: 10000)
        var out = JSONObject([
            ("type", .string(type)), ("theta", .double(theta)),
            ("factor", .double(try params.double("factor", default: 1))),
            ("original_max_position_embeddings", .int(Int64(try params.positiveInt("original_max_position_embeddings", default: maxPositions)))),
            ("partial_rotary_factor", .double(try params.has("partial_rotary_factor") ? params.double("partial_rotary_factor") : r.double("partial_rotary_factor", default: 1))),
        ])
        if type == "llama3" {
            out["low_freq_factor"] = .double(try params.double("low_freq_factor"))
            out["high_freq_factor"] = .double(try params.double("high_freq_factor"))
        }
        // yarn / longrope keep their extra keys verbatim for the runtime.
        if type == "yarn" || type == "longrope", let o = params.json.object {
            for (k, v) in o where out[k] == nil && k != "rope_type" && k != "type" { out[k] = v }
        }
        return out
    }

    /// The decoder of a composite (LLaVA, Qwen2-Audio, Reel AV): `text_config` read with its own `model_type`'s
    /// defaults; `tie_word_embeddings` is inherited from the composite's top level.
    static func textComponent(of r: ConfigReader, generation: JSON?, defaultType: String) throws -> ComponentSpec {
        let tr = try r.child("text_config")
        let textType = try tr.string("model_type", default: defaultType)
        guard let text = DecoderFamily(modelType: textType) else {
            throw ModelsError.badValue(source: r.source, key: "text_config.model_type",
                                       message: "unsupported text model \(textType); supported: llama, qwen2, qwen3")
        }
        return try text.component(tr, generation: generation, tieDefault: try r.bool("tie_word_embeddings", default: false))
    }

    /// The registry entry of a causal LM of this family.
    var family: ModelFamily {
        let me = self
        let arch: String
        switch self {
        case .llama: arch = "LlamaForCausalLM"
        case .qwen2: arch = "Qwen2ForCausalLM"
        case .qwen3: arch = "Qwen3ForCausalLM"
        }
        return ModelFamily(architecture: rawValue, hfArchitectures: [arch], modelTypes: [rawValue]) { config, generation, source in
            let decoder = try me.component(ConfigReader(config, source: source), generation: generation)
            return ModelSpec(architecture: me.rawValue, components: [decoder],
                             prefixes: [("model.", "decoder."), ("lm_head.", "decoder.lm_head.")],
                             ignored: [("model.rotary_emb.", "a buffer recomputed from the config")])
        }
    }
}
