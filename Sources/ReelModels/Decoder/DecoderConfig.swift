import ReelCore
import ReelRuntime

/// Errors from building or running a decoder, each naming the key or tensor at fault.
public enum DecoderError: Error, CustomStringConvertible, Equatable {
    /// A config key is missing or has the wrong type or value.
    case config(key: String, message: String)
    /// Weights under the decoder's prefix that the model does not use (strict loading).
    case unusedWeights([String])

    public var description: String {
        switch self {
        case let .config(key, message): return "decoder config: key \"\(key)\": \(message)"
        case let .unusedWeights(names):
            return "decoder: \(names.count) weight(s) not used by the model: \(names.prefix(8).joined(separator: ", "))"
                + (names.count > 8 ? ", …" : "")
        }
    }
}

/// The normalised decoder config a `.reel` file carries at `components.decoder.config` (written by ReelConvert;
/// one key per field below, all required unless a default is given beside it).
public struct DecoderConfig: Equatable, Sendable {
    public enum Family: String, Sendable { case llama, qwen2, qwen3 }

    /// RoPE settings: `rope` object of the config.
    public struct Rope: Equatable, Sendable {
        /// "default" | "linear" | "dynamic" | "llama3" | "yarn" | "longrope"
        public var type: String
        public var theta: Double
        public var factor: Double = 1
        public var lowFreqFactor: Double = 1
        public var highFreqFactor: Double = 4
        /// Defaults to `max_position_embeddings`.
        public var originalMaxPositionEmbeddings: Int
        public var partialRotaryFactor: Double = 1
        /// The whole `rope` object (yarn's beta_fast, beta_slow, attention_factor, mscale, mscale_all_dim, truncate).
        public var raw: JSONObject = JSONObject()
    }

    public var family: Family
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    public var qkvBias: Bool
    public var oBias: Bool
    public var mlpBias: Bool
    /// Qwen3: RMSNorm of each q and k head before RoPE.
    public var qkNorm: Bool
    public var hiddenAct: String
    public var rope: Rope
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    /// Reads the normalised config object.
    public init(json: JSON) throws {
        func value(_ key: String, in obj: JSON = json) throws -> JSON {
            guard let v = obj[key] else { throw DecoderError.config(key: key, message: "missing") }
            return v
        }
        func int(_ key: String, in obj: JSON = json) throws -> Int {
            guard let v = try value(key, in: obj).int else { throw DecoderError.config(key: key, message: "expected an integer") }
            return v
        }
        func positive(_ key: String) throws -> Int {
            let v = try int(key)
            guard v > 0 else { throw DecoderError.config(key: key, message: "must be positive, found \(v)") }
            if let m = ConfigLimits.excess(key, v) { throw DecoderError.config(key: key, message: m) }
            return v
        }
        func double(_ key: String, in obj: JSON = json, default d: Double? = nil) throws -> Double {
            guard let raw = obj[key], !raw.isNull else {
                if let d { return d }
                throw DecoderError.config(key: key, message: "missing")
            }
            guard let v = raw.double else { throw DecoderError.config(key: key, message: "expected a number") }
            return v
        }
        func bool(_ key: String, default d: Bool? = nil) throws -> Bool {
            guard let raw = json[key] else {
                if let d { return d }
                throw DecoderError.config(key: key, message: "missing")
            }
            guard let v = raw.bool else { throw DecoderError.config(key: key, message: "expected true or false") }
            return v
        }
        guard let f = try value("family").string, let fam = Family(rawValue: f) else {
            throw DecoderError.config(key: "family", message: "expected one of llama, qwen2, qwen3")
        }
        family = fam
        vocabSize = try positive("vocab_size")
        hiddenSize = try positive("hidden_size")
        intermediateSize = try positive("intermediate_size")
        numHiddenLayers = try positive("num_hidden_layers")
        numAttentionHeads = try positive("num_attention_heads")
        numKeyValueHeads = try positive("num_key_value_heads")
        headDim = try positive("head_dim")
        rmsNormEps = try double("rms_norm_eps")
        if let m = ConfigLimits.epsilonProblem(rmsNormEps) { throw DecoderError.config(key: "rms_norm_eps", message: m) }
        maxPositionEmbeddings = try positive("max_position_embeddings")
        tieWordEmbeddings = try bool("tie_word_embeddings")
        qkvBias = try bool("qkv_bias", default: false)
        oBias = try bool("o_bias", default: false)
        mlpBias = try bool("mlp_bias", default: false)
        qkNorm = try bool("qk_norm", default: false)
        hiddenAct = json["hidden_act"]?.string ?? "silu"
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw DecoderError.config(key: "num_key_value_heads",
                                      message: "\(numKeyValueHeads) does not divide num_attention_heads \(numAttentionHeads)")
        }
        let r = try value("rope")
        guard r.object != nil else { throw DecoderError.config(key: "rope", message: "expected an object") }
        guard let type = r["type"]?.string else { throw DecoderError.config(key: "rope.type", message: "missing") }
        rope = Rope(type: type, theta: try double("theta", in: r),
                    factor: try double("factor", in: r, default: 1),
                    lowFreqFactor: try double("low_freq_factor", in: r, default: 1),
                    highFreqFactor: try double("high_freq_factor", in: r, default: 4),
                    originalMaxPositionEmbeddings: r["original_max_position_embeddings"]?.int ?? maxPositionEmbeddings,
                    partialRotaryFactor: try double("partial_rotary_factor", in: r, default: 1),
                    raw: r.object!)
        if let b = json["bos_token_id"], !b.isNull {
            guard let v = b.int else { throw DecoderError.config(key: "bos_token_id", message: "expected an integer or null") }
            bosTokenId = v
        } else {
            bosTokenId = nil
        }
        switch json["eos_token_ids"] {
        case nil, .null?: eosTokenIds = []
        case let .array(a)?:
            eosTokenIds = try a.map {
                guard let v = $0.int else { throw DecoderError.config(key: "eos_token_ids", message: "expected integers") }
                return v
            }
        case let v?:
            guard let i = v.int else { throw DecoderError.config(key: "eos_token_ids", message: "expected an array of integers") }
            eosTokenIds = [i]
        }
    }

    /// The RoPE scaling this config asks for; longrope is not implemented yet.
    public func ropeScaling() throws -> RopeScaling {
        switch rope.type {
        case "default": return .none
        case "linear": return .linear(factor: rope.factor)
        case "dynamic": return .dynamic(factor: rope.factor, maxPositions: maxPositionEmbeddings)
        case "llama3":
            return .llama3(factor: rope.factor, lowFreqFactor: rope.lowFreqFactor, highFreqFactor: rope.highFreqFactor,
                           originalMaxPositions: rope.originalMaxPositionEmbeddings)
        case "yarn":
            let raw = JSON.object(rope.raw)
            func number(_ key: String) throws -> Double? {
                guard let v = raw[key], !v.isNull else { return nil }
                guard let d = v.double else { throw DecoderError.config(key: "rope.\(key)", message: "expected a number") }
                return d
            }
            return .yarn(factor: rope.factor, originalMaxPositions: rope.originalMaxPositionEmbeddings,
                         betaFast: try number("beta_fast") ?? 32, betaSlow: try number("beta_slow") ?? 1,
                         attentionFactor: try number("attention_factor"), mscale: try number("mscale"),
                         mscaleAllDim: try number("mscale_all_dim"), truncate: raw["truncate"]?.bool ?? true)
        case "longrope":
            throw RuntimeError.unsupported("rope type \"longrope\" (implemented: default, linear, dynamic, llama3, yarn)")
        default:
            throw DecoderError.config(key: "rope.type", message: "unknown RoPE type \"\(rope.type)\"")
        }
    }
}
