import ReelCore
import ReelFormat
import ReelRuntime
import ReelTokenizer

/// A .reel file opened for text generation: the decoder over the mapped weights, the tokenizer and chat template
/// from the file's blobs, and the stop tokens from its configs. Loading reads metadata and small vectors only; the
/// weight matrices are used in place from the mapping.
public final class TextModel {
    public let file: ReelFile
    public let decoder: Decoder
    public let tokenizer: Tokenizer
    /// The checkpoint's own chat template, when it has one.
    public let chatTemplate: ChatTemplate?
    /// Why the file's chat template could not be parsed, if it could not (thrown by `promptIds`).
    let templateError: Error?
    /// Token ids that end generation: the config's and generation_config's `eos_token_id`s and the tokenizer's EOS.
    public let stopTokenIds: Set<Int>
    /// `bos_token` / `eos_token` strings for the template.
    let templateVariables: [String: JSON]

    /// Opens `path`.
    /// - Parameter options: context length, KV cache storage, threads.
    public init(path: String, options: DecoderOptions = DecoderOptions()) throws {
        let file = try ReelFile(path: path)
        self.file = file
        guard let component = file.component("decoder") else {
            throw GenerationError.notATextModel(path: path, architecture: file.architecture)
        }
        decoder = try inFile(path) { try Decoder(weights: file, config: .object(component.config), options: options) }
        guard file.metadata["tokenizer"] != nil else { throw GenerationError.noTokenizer(path: path) }
        let tokenizerName = file.metadata["tokenizer"]?["blob"]?.string ?? "tokenizer.json"
        let configName = file.metadata["tokenizer"]?["config_blob"]?.string
        let configBytes = try configName.map { try file.blob($0) }
        tokenizer = try Tokenizer(tokenizerJSON: try file.blob(tokenizerName), configJSON: configBytes, name: "\(path): \(tokenizerName)")

        // The template: chat_template.jinja, else tokenizer_config.json's chat_template.
        var source: String?
        if file.blobInfo("chat_template.jinja") != nil {
            source = String(decoding: try file.blob("chat_template.jinja"), as: UTF8.self)
        } else if let configBytes {
            source = try ChatTemplate.source(inConfig: try JSON.parse(configBytes, source: "\(path): tokenizer_config.json"))
        }
        // A template that does not parse fails only what needs it (promptIds), so --raw and --input-ids still run.
        do {
            chatTemplate = try inFile(path, "chat template: ") { try source.map { try ChatTemplate($0) } }
            templateError = nil
        } catch {
            chatTemplate = nil
            templateError = error
        }

        var stops = Set(decoder.config.eosTokenIds)
        if let e = tokenizer.eosTokenId { stops.insert(e) }
        stopTokenIds = stops
        var vars: [String: JSON] = [:]
        if let b = tokenizer.bosToken { vars["bos_token"] = .string(b) }
        if let e = tokenizer.eosToken { vars["eos_token"] = .string(e) }
        templateVariables = vars
    }

    /// Prompt token ids for a conversation, through the chat template when the model has one.
    /// Mirrors transformers' `apply_chat_template(messages, add_generation_prompt=True, tokenize=True)`, which encodes
    /// the rendered text without adding special tokens (the template writes them).
    public func promptIds(messages: [JSON], addGenerationPrompt: Bool = true) throws -> [Int] {
        if let templateError { throw templateError }
        guard let template = chatTemplate else {
            // No template: the user text as is, with the tokenizer's own special tokens (BOS).
            let text = messages.compactMap { $0["content"]?.string }.joined(separator: "\n")
            return tokenizer.encode(text, addSpecialTokens: true)
        }
        let rendered = try template.render(messages: messages, addGenerationPrompt: addGenerationPrompt, variables: templateVariables)
        return tokenizer.encode(rendered, addSpecialTokens: false)
    }

    /// `[{"role": "system", …}, {"role": "user", …}]` from plain strings.
    public static func messages(system: String?, user: String) -> [JSON] {
        var m: [JSON] = []
        if let system { m.append(["role": "system", "content": .string(system)]) }
        m.append(["role": "user", "content": .string(user)])
        return m
    }
}

/// The sampling defaults of a checkpoint's generation_config.json, each checked against the range the CLI's flags
/// have (`SamplerConfig.rangeProblem`): a value out of it is an error naming the file and key, where it would crash
/// the sampler (a repetition_penalty of 0) or sample nonsense (a top_p of 7). Absent keys are nil.
public struct GenerationDefaults: Sendable {
    public var sample = false
    public var temperature: Double?, topK: Int?, topP: Double?, minP: Double?, repetitionPenalty: Double?

    public init(_ json: JSON?, source: String) throws {
        guard let json else { return }
        let r = ConfigReader(json, source: source)
        sample = try r.bool("do_sample", default: false)
        func value(_ s: SamplerConfig.Setting) throws -> Double? {
            guard r.has(s.rawValue) else { return nil }
            let v = try r.double(s.rawValue)
            if let m = SamplerConfig.rangeProblem(s, v) { throw ModelsError.badValue(source: source, key: s.rawValue, message: m) }
            return v
        }
        temperature = try value(.temperature)
        topK = try value(.topK).map { Int($0) }
        topP = try value(.topP)
        minP = try value(.minP)
        repetitionPenalty = try value(.repetitionPenalty)
    }
}

/// Errors of the generation layer, naming the file and what is missing.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case notATextModel(path: String, architecture: String)
    case noTokenizer(path: String)
    case emptyPrompt
    /// Every logit was NaN at this generation step.
    case nanLogits(step: Int)
    /// What the decoder or template builder found wrong inside a model file (they do not know its path).
    case inModel(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notATextModel(p, a): return "\(p): architecture \(a) has no decoder to generate text with"
        case let .noTokenizer(p): return "\(p): the file carries no tokenizer.json, which generating text needs (convert a checkpoint directory that has one); `reel forward` runs token ids without it"
        case .emptyPrompt: return "the prompt is empty"
        case let .nanLogits(step): return "the model's logits are all NaN at generated token \(step): its weights or its inputs hold NaN or infinite values (`reel verify` checks checksums, not values)"
        case let .inModel(p, d): return "\(p): \(d)"
        }
    }
}

/// Runs `body`; an error from it comes back naming the model file (and what was being read), unless it already does.
public func inFile<T>(_ path: String, _ what: String = "", _ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw naming(path, error, what) }
}

/// `error` as `GenerationError.inModel`, naming the model file (and what was being read), unless its message
/// already starts with the path.
public func naming(_ path: String, _ error: Error, _ what: String = "") -> Error {
    let d = "\(error)"
    return d.hasPrefix(path) ? error : GenerationError.inModel(path: path, detail: what + d)
}

extension Decoder {
    /// Drops every cached position from `n` on, so a new suffix can follow a kept prefix (chat turns).
    public func rewind(to n: Int) {
        cache.truncate(to: n)
        nextPosition = min(nextPosition, max(0, n))
    }
}
