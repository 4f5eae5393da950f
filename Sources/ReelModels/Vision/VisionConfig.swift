import ReelCore
import ReelRuntime

/// Errors of the vision towers and LLaVA aligners, each naming the key, tensor or input at fault.
public enum VisionError: Error, CustomStringConvertible, Equatable {
    /// A normalised config key is missing or has the wrong type or value.
    case config(key: String, message: String)
    /// Weights under a component's prefix that the model does not use (strict loading).
    case unusedWeights([String])
    /// Pixel values, sizes or frame counts that do not fit the model.
    case badInput(String)
    /// The prompt's placeholder tokens do not match the media given.
    case placeholders(String)

    public var description: String {
        switch self {
        case let .config(key, message): return "vision config: key \"\(key)\": \(message)"
        case let .unusedWeights(names):
            return "vision: \(names.count) weight(s) not used by the model: \(names.prefix(8).joined(separator: ", "))"
                + (names.count > 8 ? ", …" : "")
        case let .badInput(m): return "vision input: \(m)"
        case let .placeholders(m): return "placeholders: \(m)"
        }
    }
}

/// Reads keys of a normalised component config (`components.<name>.config` of a .reel file).
struct ComponentConfigReader {
    let json: JSON
    let component: String

    func value(_ key: String) throws -> JSON {
        guard let v = json[key], !v.isNull else { throw VisionError.config(key: "\(component).\(key)", message: "missing") }
        return v
    }
    func int(_ key: String) throws -> Int {
        guard let i = try value(key).int else { throw VisionError.config(key: "\(component).\(key)", message: "expected an integer") }
        return i
    }
    func positive(_ key: String) throws -> Int {
        let i = try int(key)
        guard i > 0 else { throw VisionError.config(key: "\(component).\(key)", message: "must be positive, found \(i)") }
        if let m = ConfigLimits.excess(key, i) { throw VisionError.config(key: "\(component).\(key)", message: m) }
        return i
    }
    func double(_ key: String) throws -> Double {
        guard let d = try value(key).double else { throw VisionError.config(key: "\(component).\(key)", message: "expected a number") }
        return d
    }
    func epsilon(_ key: String) throws -> Double {
        let d = try double(key)
        if let m = ConfigLimits.epsilonProblem(d) { throw VisionError.config(key: "\(component).\(key)", message: m) }
        return d
    }
    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = json[key], !v.isNull else { return d }
        guard let b = v.bool else { throw VisionError.config(key: "\(component).\(key)", message: "expected true or false") }
        return b
    }
    func string(_ key: String) throws -> String {
        guard let s = try value(key).string else { throw VisionError.config(key: "\(component).\(key)", message: "expected a string") }
        return s
    }
    func activation(_ key: String) throws -> Activation {
        do { return try Activation(hfName: try string(key)) } catch let e as RuntimeError {
            throw VisionError.config(key: "\(component).\(key)", message: e.description)
        }
    }
}

/// The normalised config of a SigLIP / CLIP vision tower (`components.vision.config`, written by `VisionFamily`).
public struct VisionTowerConfig: Equatable, Sendable {
    /// "siglip_vision" or "clip_vision".
    public var family: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numChannels: Int
    public var imageSize: Int
    public var patchSize: Int
    public var hiddenAct: Activation
    public var layerNormEps: Double
    /// CLIP: `class_embedding` is token 0.
    public var classToken: Bool
    /// CLIP: `pre_layrnorm` on the embeddings (so `hs[0]` is post-pre-LN).
    public var preLayernorm: Bool
    /// SigLIP's attention-pooling head (not used by LLaVA; not implemented).
    public var visionUseHead: Bool

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches per side: the stride-P conv without padding leaves the last `imageSize % patchSize` pixels unused
    /// (SigLIP so400m: 384/14 → 27).
    public var grid: Int { imageSize / patchSize }
    /// Tokens per image: grid², plus the class token.
    public var tokens: Int { grid * grid + (classToken ? 1 : 0) }

    public init(json: JSON) throws {
        let r = ComponentConfigReader(json: json, component: "vision")
        family = try r.string("family")
        hiddenSize = try r.positive("hidden_size")
        intermediateSize = try r.positive("intermediate_size")
        numHiddenLayers = try r.positive("num_hidden_layers")
        numAttentionHeads = try r.positive("num_attention_heads")
        numChannels = try r.positive("num_channels")
        imageSize = try r.positive("image_size")
        patchSize = try r.positive("patch_size")
        hiddenAct = try r.activation("hidden_act")
        layerNormEps = try r.epsilon("layer_norm_eps")
        classToken = try r.bool("class_token", default: false)
        preLayernorm = try r.bool("pre_layernorm", default: false)
        visionUseHead = try r.bool("vision_use_head", default: false)
        guard hiddenSize % numAttentionHeads == 0 else {
            throw VisionError.config(key: "vision.num_attention_heads", message: "\(numAttentionHeads) does not divide hidden_size \(hiddenSize)")
        }
        guard imageSize >= patchSize else {
            throw VisionError.config(key: "vision.image_size", message: "\(imageSize) is smaller than patch_size \(patchSize)")
        }
    }

    /// HF's `hidden_states[i]` index (negative counts from the end of the L+1 states) as 0…L.
    public func hiddenStateIndex(_ i: Int) throws -> Int {
        let n = numHiddenLayers + 1
        let j = i < 0 ? n + i : i
        guard j >= 0, j < n else {
            throw VisionError.config(key: "projector.vision_feature_layer", message: "\(i) is outside the \(n) hidden states")
        }
        return j
    }
}
