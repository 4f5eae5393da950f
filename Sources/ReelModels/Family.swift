import ReelCore
import ReelRuntime

/// What a tensor is for; the quantisation policy keys on it (docs/quantization.md).
public enum TensorRole: String, Sendable {
    /// A matrix multiplied by activations: the body of the model, stored at the chosen encoding.
    case linear
    /// The token embedding table (looked up by row; also the output head when tied).
    case tokenEmbedding
    /// The output projection to vocabulary logits.
    case outputHead
    /// Patch or convolution kernels (vision patchify, Whisper convs): small and sensitive.
    case convolution
    /// Learned or stored position tables.
    case positionEmbedding
    /// 1-D parameters: norm weights, biases, class embeddings, newline vectors.
    case vector
    /// Anything else with two or more dimensions (attention-pool probes, etc.).
    case other
}

/// One tensor a family needs, by Reel's name, with the shape its config implies.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let role: TensorRole
    public init(_ name: String, _ shape: [Int], _ role: TensorRole) {
        self.name = name
        self.shape = shape
        self.role = shape.count == 1 ? .vector : role
    }
}

/// One component of a model (decoder, vision, projector, audio) with its normalised config.
public struct ComponentSpec: Sendable {
    /// "decoder", "vision", "projector", "audio".
    public let name: String
    /// The component family: "qwen2", "llama", "qwen3", "siglip_vision", "clip_vision", "whisper_encoder", "llava_projector", …
    public let family: String
    /// Normalised hyperparameters; the keys the runtime reads.
    public let config: JSONObject
    public let tensors: [TensorSpec]

    public init(name: String, family: String, config: JSONObject, tensors: [TensorSpec]) {
        self.name = name
        self.family = family
        self.config = config
        self.tensors = tensors
    }
}

/// A checkpoint's model, described by its family: components, tensors and how checkpoint names map to Reel names.
public struct ModelSpec: Sendable {
    public let architecture: String
    public let components: [ComponentSpec]
    /// Checkpoint-name prefix → Reel-name prefix, tried in order; the first match wins.
    public let prefixes: [(checkpoint: String, reel: String)]
    /// Checkpoint tensors that Reel deliberately does not use (named, with the reason), matched by prefix.
    public let ignored: [(prefix: String, reason: String)]

    public init(architecture: String, components: [ComponentSpec],
                prefixes: [(checkpoint: String, reel: String)], ignored: [(prefix: String, reason: String)] = []) {
        self.architecture = architecture
        self.components = components
        self.prefixes = prefixes
        self.ignored = ignored
    }

    /// Every tensor of every component, in component order.
    public var tensors: [TensorSpec] { components.flatMap(\.tensors) }

    /// Reel's name for a checkpoint tensor, or nil when no prefix maps it.
    public func reelName(forCheckpointName name: String) -> String? {
        for p in prefixes where name.hasPrefix(p.checkpoint) {
            return p.reel + name.dropFirst(p.checkpoint.count)
        }
        return nil
    }

    /// Why a checkpoint tensor is skipped, when it is one Reel deliberately leaves out.
    public func ignoreReason(forCheckpointName name: String) -> String? {
        ignored.first { name.hasPrefix($0.prefix) }?.reason
    }

    /// The metadata `components` object: name → {"family", "config"}.
    public var componentsJSON: JSON {
        .object(JSONObject(components.map { ($0.name, ["family": .string($0.family), "config": .object($0.config)]) }))
    }
}

/// A model family as the registry knows it: how to recognise its config.json and describe the model.
public struct ModelFamily: Sendable {
    /// Reel's architecture key, stored in the file.
    public let architecture: String
    /// `architectures` entries of config.json that select this family.
    public let hfArchitectures: [String]
    /// `model_type` values that select this family when `architectures` is absent.
    public let modelTypes: [String]
    /// Builds the model description from config.json (and generation_config.json when present).
    public let describe: @Sendable (_ config: JSON, _ generation: JSON?, _ source: String) throws -> ModelSpec

    public init(architecture: String, hfArchitectures: [String], modelTypes: [String],
                describe: @escaping @Sendable (JSON, JSON?, String) throws -> ModelSpec) {
        self.architecture = architecture
        self.hfArchitectures = hfArchitectures
        self.modelTypes = modelTypes
        self.describe = describe
    }
}

/// Errors from reading a checkpoint's configuration against a family.
public enum ModelsError: Error, CustomStringConvertible, Equatable {
    case unknownArchitecture(source: String, found: String, supported: [String])
    case missingKey(source: String, key: String)
    case badValue(source: String, key: String, message: String)

    public var description: String {
        switch self {
        case let .unknownArchitecture(source, found, supported):
            return "\(source): unsupported architecture \(found). Supported: \(supported.joined(separator: ", ")). "
                + "Use --generic to store every tensor under its own name."
        case let .missingKey(source, key): return "\(source): missing required key \"\(key)\""
        case let .badValue(source, key, message): return "\(source): key \"\(key)\": \(message)"
        }
    }
}

/// Reads typed keys from a config object, each default beside its key; errors name the file and the key path.
public struct ConfigReader {
    public let json: JSON
    public let source: String
    /// The key path of this object inside the file ("text_config."), for error messages.
    public let path: String

    public init(_ json: JSON, source: String, path: String = "") {
        self.json = json
        self.source = source
        self.path = path
    }

    private func present(_ key: String) -> JSON? {
        guard let v = json[key], !v.isNull else { return nil }
        return v
    }

    public func int(_ key: String, default d: Int? = nil) throws -> Int {
        guard let v = present(key) else {
            if let d { return d }
            throw ModelsError.missingKey(source: source, key: path + key)
        }
        guard let i = v.int else { throw ModelsError.badValue(source: source, key: path + key, message: "expected an integer, found \(v.serialized())") }
        return i
    }

    public func positiveInt(_ key: String, default d: Int? = nil) throws -> Int {
        let i = try int(key, default: d)
        guard i > 0 else { throw ModelsError.badValue(source: source, key: path + key, message: "must be positive, found \(i)") }
        if let m = ConfigLimits.excess(key, i) { throw ModelsError.badValue(source: source, key: path + key, message: m) }
        return i
    }

    public func double(_ key: String, default d: Double? = nil) throws -> Double {
        guard let v = present(key) else {
            if let d { return d }
            throw ModelsError.missingKey(source: source, key: path + key)
        }
        guard let x = v.double else { throw ModelsError.badValue(source: source, key: path + key, message: "expected a number, found \(v.serialized())") }
        return x
    }

    /// A normalisation epsilon (`rms_norm_eps`, `layer_norm_eps`): a number `ConfigLimits.epsilonProblem` accepts.
    public func epsilon(_ key: String, default d: Double? = nil) throws -> Double {
        let x = try double(key, default: d)
        if let m = ConfigLimits.epsilonProblem(x) { throw ModelsError.badValue(source: source, key: path + key, message: m) }
        return x
    }

    /// An activation's Hugging Face name (`hidden_act`, `projector_hidden_act`) that Reel implements.
    public func activation(_ key: String, default d: String? = nil) throws -> String {
        let name = try string(key, default: d)
        do { _ = try Activation(hfName: name) } catch {
            throw ModelsError.badValue(source: source, key: path + key, message: "\(error)")
        }
        return name
    }

    public func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = present(key) else { return d }
        guard let b = v.bool else { throw ModelsError.badValue(source: source, key: path + key, message: "expected true or false, found \(v.serialized())") }
        return b
    }

    public func string(_ key: String, default d: String? = nil) throws -> String {
        guard let v = present(key) else {
            if let d { return d }
            throw ModelsError.missingKey(source: source, key: path + key)
        }
        guard let s = v.string else { throw ModelsError.badValue(source: source, key: path + key, message: "expected a string, found \(v.serialized())") }
        return s
    }

    /// A string that must be one of `allowed`.
    public func string(_ key: String, default d: String? = nil, oneOf allowed: [String]) throws -> String {
        let s = try string(key, default: d)
        guard allowed.contains(s) else {
            throw ModelsError.badValue(source: source, key: path + key, message: "\(s) is not supported (expected \(allowed.joined(separator: " or ")))")
        }
        return s
    }

    /// An int or a list of ints (token ids); empty when absent.
    public func ints(_ key: String) throws -> [Int] {
        guard let v = present(key) else { return [] }
        if let i = v.int { return [i] }
        if let a = v.array {
            return try a.map {
                guard let i = $0.int else { throw ModelsError.badValue(source: source, key: path + key, message: "expected integers") }
                return i
            }
        }
        throw ModelsError.badValue(source: source, key: path + key, message: "expected an integer or a list of integers")
    }

    /// A nested object (e.g. `text_config`); an empty object when absent, so class defaults apply.
    public func child(_ key: String) throws -> ConfigReader {
        guard let v = present(key) else { return ConfigReader(.object(JSONObject()), source: source, path: path + key + ".") }
        guard v.object != nil else { throw ModelsError.badValue(source: source, key: path + key, message: "expected an object") }
        return ConfigReader(v, source: source, path: path + key + ".")
    }

    public func has(_ key: String) -> Bool { present(key) != nil }
}

/// Upper bounds on a config's counts and sizes, far above any released model and far below what would exhaust memory
/// or overflow when a tensor table, a layer list or an image is sized from them (an edited config's
/// `num_hidden_layers` of 10^9 made `reel convert` build a billion-layer tensor table; an `image_size` of 2^40
/// overflowed). Keys without an entry are unbounded (context lengths: the KV cache is reserved lazily).
public enum ConfigLimits {
    public static func maximum(_ key: String) -> Int? {
        switch key {
        case "num_hidden_layers", "encoder_layers", "decoder_layers", "num_layers": return 4096
        case "num_attention_heads", "num_key_value_heads", "encoder_attention_heads": return 4096
        case "hidden_size", "intermediate_size", "d_model", "encoder_ffn_dim", "head_dim", "projection_dim": return 1 << 20
        case "vocab_size": return 1 << 24
        case "image_size", "patch_size": return 16384
        case "num_channels": return 64
        case "num_mel_bins": return 4096
        case "spatial_pool_stride": return 1024
        case "max_source_positions": return 1 << 20
        case "frames_per_segment", "max_segments": return ReelAVLayout.Limits.framesPerClip
        case "vision_tokens_per_frame", "audio_tokens_per_segment": return ReelAVLayout.Limits.tokens
        default: return nil
        }
    }

    /// Why `value` of `key` is refused (the message every config reader throws with its own error type), or nil.
    public static func excess(_ key: String, _ value: Int) -> String? {
        guard let m = maximum(key), value > m else { return nil }
        return "\(value) is more than \(m), the most Reel accepts"
    }

    /// Why a normalisation epsilon is refused, or nil: it must be finite, ≥ 0 and within f32's range (the norms add
    /// it in f32; a negative one makes a square root of a negative variance).
    public static func epsilonProblem(_ eps: Double) -> String? {
        eps.isFinite && eps >= 0 && eps <= Double(Float.greatestFiniteMagnitude)
            ? nil : "\(eps) is not a usable epsilon (a finite number ≥ 0 that f32 holds)"
    }
}
