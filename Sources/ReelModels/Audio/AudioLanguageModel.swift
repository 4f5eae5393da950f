import ReelCore
import ReelFormat
import ReelMedia
import ReelRuntime

/// One encoder window of audio: log-mel features f32 [mels, frames] (frames = 2 · max_source_positions, 3000 =
/// 30 s for Qwen2-Audio) as `WhisperFeatureExtractor` pads them, and how many of those frames hold audio
/// (the feature attention mask's sum, `ceil(samples / 160)`).
public struct AudioWindow: Sendable {
    public var features: [Float]
    public var validFrames: Int
    public init(features: [Float], validFrames: Int) {
        self.features = features
        self.validFrames = validFrames
    }
}

/// A Qwen2-Audio .reel file opened for generation (ARCHSPEC §5): the Whisper-style audio tower with the key-padding
/// mask, AvgPool1d(2, 2), layer_norm, the projector, and `<|AUDIO|>` expansion into a `TextModel`'s prompt.
/// Mirrors `Qwen2AudioForConditionalGeneration` (audio path of `Qwen2AudioModel.forward`).
///
/// Long audio: transformers' `Qwen2AudioProcessor` truncates every clip to its first 30 s window (the feature
/// extractor's default `truncation=True`); pass one window per clip (`WhisperFeatureExtractor.features`) to do the
/// same, as `reel run --audio` does by default. A clip may also be several windows (`WhisperFeatureExtractor.windows`,
/// `reel run --audio`, the default): each is encoded on its own exactly as transformers encodes one clip, and the clip's
/// placeholder expands to the windows' tokens in order — what transformers' model computes for the windows given as
/// a batch with their tokens over one placeholder run (tested), not what its processor produces.
public final class AudioLanguageModel {
    public let text: TextModel
    /// The audio tower and projector.
    public let tower: Qwen2AudioTower
    public var encoder: WhisperEncoderModel { tower.encoder }
    /// `audio_token_index`: the `<|AUDIO|>` placeholder id.
    public let audioTokenId: Int
    /// Receives the named intermediates of the encoder (`audio.*`, `audio_features`) and of the decoder.
    public var capture: CaptureHook? {
        didSet {
            tower.capture = capture
            text.decoder.capture = capture
        }
    }

    /// Opens a Qwen2-Audio file (architecture `qwen2_audio`).
    /// - Parameter options: the decoder's context length, KV cache storage, threads (shared with the encoder).
    public convenience init(path: String, options: DecoderOptions = DecoderOptions()) throws {
        let text = try TextModel(path: path, options: options)
        do { try self.init(text: text) } catch { throw naming(path, error) }  // errors name the file, as TextModel's do
    }

    private init(text: TextModel) throws {
        let file = text.file, path = file.path
        guard file.architecture == Qwen2AudioFamily.name, let audio = file.component("audio"),
              let proj = file.component("projector") else {
            throw AudioError.notAnAudioModel(path: path, architecture: file.architecture, expected: Qwen2AudioFamily.name)
        }
        self.text = text
        tower = try Qwen2AudioTower(weights: file, audioConfig: .object(audio.config), hidden: text.decoder.config.hiddenSize,
                                    pool: text.decoder.pool)
        guard let token = proj.config["audio_token_index"]?.int else {
            throw AudioError.config(key: "components.projector.audio_token_index", message: "missing or not an integer")
        }
        guard token >= 0, token < text.decoder.config.vocabSize else {
            throw AudioError.config(key: "audio_token_index", message: "\(token) is outside the vocabulary [0, \(text.decoder.config.vocabSize))")
        }
        audioTokenId = token
    }

    /// Audio tokens Qwen2-Audio gives `validFrames` valid mel frames: `((L − 1) // 2 + 1 − 2) // 2 + 1`
    /// (`Qwen2AudioProcessor`, with Python's floor division; 0 below 3 frames).
    public static func tokenCount(validFrames: Int) -> Int {
        let positions = WhisperEncoderModel.validPositions(validFrames: validFrames)
        return positions < 2 ? 0 : (positions - 2) / 2 + 1
    }

    /// The mel frames one window holds (3000 for Qwen2-Audio).
    public var framesPerWindow: Int { encoder.config.frames }

    /// The feature extractor of the file's preprocessor_config.json (Whisper's defaults without one), checked against
    /// the tower: its windows must be the tower's mel bins × frames. Errors name the file. (Not at load: a file whose
    /// settings disagree still runs on features made elsewhere, `reel forward` / `reel parity`.)
    public func featureExtractor() throws -> WhisperFeatureExtractor {
        let path = text.file.path, enc = encoder.config
        let fx = try inFile(path, "preprocessor_config.json: ") {
            try text.file.metadata["preprocessors"]?["preprocessor_config.json"].map { try WhisperFeatureExtractor(json: $0) }
                ?? WhisperFeatureExtractor(melBins: enc.melBins)
        }
        if let problem = enc.windowProblem(melBins: fx.melBins, frames: fx.frames) {
            throw GenerationError.inModel(path: path, detail: "\(problem); the settings are preprocessor_config.json's, or Whisper's defaults without one")
        }
        return fx
    }

    /// The projected audio features of one window (see `Qwen2AudioTower.audioFeatures`).
    public func audioFeatures(features: [Float], validFrames: Int) throws -> [Float] {
        try tower.audioFeatures(features: features, validFrames: validFrames)
    }

    /// The features of a clip made of consecutive windows, in order, f32 [Σ n_w, hidden].
    public func audioFeatures(_ clip: [AudioWindow]) throws -> [Float] {
        var out: [Float] = []
        for w in clip { out += try audioFeatures(features: w.features, validFrames: w.validFrames) }
        return out
    }

    /// Expands each `<|AUDIO|>` placeholder of `ids` to its clip's token count and splices the clip's features into
    /// the prompt embeddings (`inputs_embeds.masked_scatter(special_audio_mask, audio_features)`).
    ///
    /// A placeholder is a maximal run of `<|AUDIO|>` ids: a single id is expanded (what `Qwen2AudioProcessor`
    /// does); a run already of the clip's length (an expanded prompt) is kept. Runs and clips pair up in order.
    public func prompt(ids: [Int], audio clips: [[AudioWindow]]) throws -> PromptInput {
        var runs: [Range<Int>] = []
        var i = 0
        while i < ids.count {
            guard ids[i] == audioTokenId else { i += 1; continue }
            var j = i
            while j < ids.count && ids[j] == audioTokenId { j += 1 }
            runs.append(i..<j)
            i = j
        }
        guard runs.count == clips.count else {
            throw AudioError.placeholders(found: runs.count, clips: clips.count, detail: "each audio needs one <|AUDIO|> placeholder in the prompt")
        }
        // The expanded prompt's length is known before any window is encoded: refuse a prompt the context cannot
        // hold now, not after minutes of encoding (a 2-hour file is 240 windows).
        let planned = ids.count - runs.reduce(0) { $0 + $1.count }
            + clips.reduce(0) { $0 + $1.reduce(0) { $0 + Self.tokenCount(validFrames: $1.validFrames) } }
        try text.decoder.cache.reserve(planned)
        var features: [[Float]] = []
        for (k, clip) in clips.enumerated() {
            guard !clip.isEmpty else { throw AudioError.emptyClip(index: k) }
            features.append(try audioFeatures(clip))
        }
        let H = text.decoder.config.hiddenSize
        var expanded: [Int] = []
        var slots: [(start: Int, clip: Int)] = []
        var at = 0
        for (k, run) in runs.enumerated() {
            let n = features[k].count / H
            guard run.count == 1 || run.count == n else {
                throw AudioError.placeholders(found: runs.count, clips: clips.count,
                                              detail: "placeholder \(k) is a run of \(run.count) tokens; clip \(k) has \(n) audio tokens")
            }
            expanded += ids[at..<run.lowerBound]
            slots.append((expanded.count, k))
            expanded += [Int](repeating: audioTokenId, count: n)
            at = run.upperBound
        }
        expanded += ids[at...]

        // inputs_embeds = embed_tokens(input_ids); audio rows replaced by the clip's features
        var embeddings = try text.decoder.embed(expanded)
        for (start, k) in slots {
            embeddings.replaceSubrange((start * H)..<(start * H + features[k].count), with: features[k])
        }
        return .embeddings(embeddings, tokens: expanded)
    }

    /// The prompt for a conversation through the checkpoint's chat template, with one `<|AUDIO|>` per clip in the
    /// messages (e.g. Qwen2-Audio-Instruct's `{"type": "audio", …}` content items render as
    /// `Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>`).
    public func prompt(messages: [JSON], audio clips: [[AudioWindow]]) throws -> PromptInput {
        try prompt(ids: try text.promptIds(messages: messages), audio: clips)
    }

    /// The prompt for one question about one clip.
    ///
    /// With an audio-aware chat template (one that renders an audio content item as one `<|AUDIO|>`): a user turn of
    /// `[audio, text]` content items, as transformers' Qwen2-Audio examples build it. Otherwise (base checkpoints):
    /// `<|audio_bos|><|AUDIO|><|audio_eos|>` + text, through whatever template there is. A text that already
    /// contains `<|AUDIO|>` is used as it is.
    public func prompt(text user: String, system: String? = nil, audio clip: [AudioWindow]) throws -> PromptInput {
        let tok = text.tokenizer
        guard let audioToken = tok.token(forId: audioTokenId) else {
            throw AudioError.config(key: "audio_token_index", message: "\(audioTokenId) is not in the tokenizer")
        }
        var messages: [JSON] = []
        if let system { messages.append(["role": "system", "content": .string(system)]) }
        if user.contains(audioToken) {
            return try prompt(messages: messages + [["role": "user", "content": .string(user)]], audio: [clip])
        }
        // An audio-aware template renders an audio content item as exactly one placeholder.
        let itemized: JSON = ["role": "user", "content": .array([
            ["type": "audio", "audio_url": "audio"],
            ["type": "text", "text": .string(user)],
        ])]
        if text.chatTemplate != nil, let ids = try? text.promptIds(messages: messages + [itemized]),
           ids.filter({ $0 == audioTokenId }).count == 1 {
            return try prompt(ids: ids, audio: [clip])
        }
        let bos = tok.id(forToken: "<|audio_bos|>") != nil ? "<|audio_bos|>" : ""
        let eos = tok.id(forToken: "<|audio_eos|>") != nil ? "<|audio_eos|>" : ""
        return try prompt(messages: messages + [["role": "user", "content": .string(bos + audioToken + eos + user)]], audio: [clip])
    }

    /// Generates from a prompt built by `prompt(…)` (greedy or sampled, streaming text), after resetting the decoder.
    public func generate(_ input: PromptInput, options: GenerationOptions, onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        text.decoder.reset()
        return try text.generate(input, options: options, onText: onText)
    }
}

/// Qwen2-Audio's audio side: the Whisper-style tower under the key-padding mask, AvgPool1d(2, 2), layer_norm and
/// `multi_modal_projector.linear`, over weights from a .reel file or from the source checkpoint (`reel parity`).
public final class Qwen2AudioTower {
    public let encoder: WhisperEncoderModel
    let projector: Linear  // any [Ht, D] + bias [Ht]
    /// Receives `audio.*` and `audio_features`.
    public var capture: CaptureHook? { didSet { encoder.capture = capture } }

    /// - Parameters:
    ///   - weights: tensors `audio.*` and `projector.linear.{weight,bias}` (nothing else under `projector.`).
    ///   - hidden: the decoder's hidden size (the projector's output).
    public init(weights: WeightProvider, audioConfig: JSON, hidden: Int, pool: ThreadPool? = nil) throws {
        encoder = try WhisperEncoderModel(weights: weights, config: audioConfig, prefix: "audio", pool: pool)
        projector = try Linear(weights, "projector.linear", out: hidden, in: encoder.config.dModel, hasBias: true)
        let unused = weights.weightNames.filter { $0.hasPrefix("projector.") && $0 != "projector.linear.weight" && $0 != "projector.linear.bias" }
        guard unused.isEmpty else { throw AudioError.unusedWeights(unused.sorted()) }
    }

    /// The projected audio features of one window, f32 [n, hidden] with n = `tokenCount(validFrames:)`.
    /// Mirrors the audio branch of `Qwen2AudioModel.forward`: encoder layers under the key-padding mask (run on the
    /// valid positions only, exact), AvgPool1d(2, 2), layer_norm, multi_modal_projector, first n rows.
    /// - Parameters:
    ///   - features: f32 [mels, frames], padded as the feature extractor pads them.
    ///   - validFrames: `feature_attention_mask.sum()`.
    public func audioFeatures(features: [Float], validFrames: Int) throws -> [Float] {
        let c = encoder.config, D = c.dModel
        guard validFrames >= 1, validFrames <= c.frames else { throw AudioError.validFrames(validFrames, frames: c.frames) }
        let n = AudioLanguageModel.tokenCount(validFrames: validFrames)
        guard n >= 1 else { throw AudioError.noAudioTokens(validFrames: validFrames) }
        let positions = WhisperEncoderModel.validPositions(validFrames: validFrames)

        // hidden_states = audio_tower layers (key-padding mask: keys ≥ positions masked)   [positions, D]
        let h = try encoder.layerStack(features: features, positions: positions)
        // hidden_states = self.avg_pooler(hidden_states.permute(0, 2, 1)).permute(0, 2, 1)   [n, D] (valid rows)
        let pooled = Tensor(shape: [n, D])
        AudioOps.avgPool2(h.data, length: 2 * n, dim: D, into: pooled.data)
        capture?("audio.pooled", pooled, 0)
        // hidden_states = self.layer_norm(hidden_states)
        try encoder.finalLayerNorm(pooled)
        capture?("audio.last_hidden_state", pooled, 0)
        // audio_features = self.multi_modal_projector(selected_audio_feature)[:n]   [n, Ht]
        let out = Tensor(shape: [n, projector.outFeatures])
        try projector(pooled, into: out, pool: encoder.pool)
        capture?("audio_features", out, 0)
        return out.toArray()
    }
}
