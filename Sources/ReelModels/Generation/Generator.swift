import ReelCore
import ReelRuntime
import ReelTokenizer

/// How to generate.
public struct GenerationOptions: Sendable {
    /// Stop after this many new tokens.
    public var maxTokens: Int
    public var sampler: SamplerConfig
    /// Stop when the text contains one of these (the stop string itself is not returned).
    public var stopStrings: [String]
    /// Keep going past EOS tokens (benchmarks).
    public var ignoreEOS: Bool

    public init(maxTokens: Int = 256, sampler: SamplerConfig = .greedy, stopStrings: [String] = [], ignoreEOS: Bool = false) {
        self.maxTokens = maxTokens
        self.sampler = sampler
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
    }
}

/// Why generation stopped; the raw values are what `--json` prints (OpenAI's `finish_reason` words).
public enum StopReason: String, Sendable {
    case eos, stop, length, context
}

/// Prompt and generation speed of one call.
public struct GenerationTimings: Sendable {
    public var promptTokens = 0
    public var generatedTokens = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    /// Tokens after the first (the first comes from the prefill's logits) per second of decode steps.
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(max(generatedTokens - 1, 0)) / decodeSeconds : 0 }

    public var json: JSON {
        ["prompt_tokens": .int(Int64(promptTokens)), "generated_tokens": .int(Int64(generatedTokens)),
         "prefill_seconds": .double(prefillSeconds), "decode_seconds": .double(decodeSeconds),
         "prefill_tokens_per_s": .double(prefillTokensPerSecond), "decode_tokens_per_s": .double(decodeTokensPerSecond)]
    }
}

public struct GenerationResult: Sendable {
    /// Generated ids, an EOS that ended generation included (as transformers' `generate` returns them).
    public var tokens: [Int]
    /// The text of the generated ids, special tokens and any stop string left out.
    public var text: String
    public var stopReason: StopReason
    public var timings: GenerationTimings
}

/// What a generation starts from.
public enum PromptInput {
    /// Token ids to append to the cache.
    case tokens([Int])
    /// Ready input embeddings f32 [n, hidden] (text embeddings with vision/audio features spliced in), and the n
    /// token ids they stand for (placeholder ids where features are; used by the repetition penalty).
    case embeddings([Float], tokens: [Int])
}

extension TextModel {
    /// Runs `prompt` after whatever the decoder already holds and generates from there, streaming text.
    /// - Parameters:
    ///   - prompt: token ids to append (the whole prompt, or a chat turn's new suffix).
    ///   - onText: receives text as soon as it is complete UTF-8 and cannot be the start of a stop string.
    public func generate(prompt: [Int], options: GenerationOptions, onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        try generate(.tokens(prompt), options: options, onText: onText)
    }

    /// As `generate(prompt:)`, from token ids or from ready embeddings.
    public func generate(_ input: PromptInput, options: GenerationOptions, onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        let prompt: [Int]
        switch input {
        case let .tokens(t): prompt = t
        case let .embeddings(_, t): prompt = t
        }
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        var timings = GenerationTimings()
        timings.promptTokens = prompt.count
        var history = prompt
        var sampler = Sampler(options.sampler)
        var stream = tokenizer.streamingDecoder(skipSpecialTokens: true)
        var text = ""        // text handed to onText
        var pending = ""     // decoded but held back: it may be the start of a stop string
        var tokens: [Int] = []
        var reason = StopReason.length
        let stops = options.stopStrings.filter { !$0.isEmpty }

        /// Emits what is safe; returns true when a stop string ended the text. A stop string cannot start inside text
        /// already emitted (that text would have been held back), so only `pending` is searched: per-token work is
        /// bounded by the stop strings' length, not the answer's.
        func push(_ piece: String, final: Bool) -> Bool {
            pending += piece
            var i = pending.startIndex
            while i < pending.endIndex {
                if stops.contains(where: { pending[i...].hasPrefix($0) }) {
                    emit(String(pending[..<i]))
                    pending = ""
                    return true
                }
                i = pending.index(after: i)
            }
            var hold = 0
            if !final {
                for s in stops {
                    for n in stride(from: min(s.count - 1, pending.count), to: hold, by: -1) where pending.hasSuffix(s.prefix(n)) {
                        hold = n
                        break
                    }
                }
            }
            emit(String(pending.dropLast(hold)))
            pending = String(pending.suffix(hold))
            return false
        }
        func emit(_ s: String) {
            guard !s.isEmpty else { return }
            text += s
            onText(s)
        }

        var t = ProgressBar.now()
        var logits: Tensor
        switch input {
        case let .tokens(t): logits = try decoder.prefill(tokens: t, logits: .last)
        case let .embeddings(e, _): logits = try decoder.prefill(embeddings: e, logits: .last)
        }
        timings.prefillSeconds = ProgressBar.now() - t
        t = ProgressBar.now()
        let vocab = logits.count
        while tokens.count < options.maxTokens {
            let token = sampler.sample(UnsafeMutableBufferPointer(start: logits.data, count: vocab), history: history)
            // NaN logits are never picked while any other is finite, so a NaN pick means they all are (a model whose
            // weights or inputs hold NaN or ∞): an error, not token 0 passed off as an answer.
            guard !logits.data[token].isNaN else { throw GenerationError.nanLogits(step: tokens.count) }
            tokens.append(token)
            history.append(token)
            if stopTokenIds.contains(token) && !options.ignoreEOS {
                reason = .eos
                break
            }
            if push(stream.feed(token), final: false) {
                reason = .stop
                break
            }
            if tokens.count == options.maxTokens { break }
            if decoder.cache.count >= decoder.cache.capacity {
                reason = .context
                break
            }
            logits = try decoder.decodeStep(token: token)
        }
        if reason != .stop && push(stream.finish(), final: true) { reason = .stop }
        timings.decodeSeconds = ProgressBar.now() - t
        timings.generatedTokens = tokens.count
        return GenerationResult(tokens: tokens, text: text, stopReason: reason, timings: timings)
    }
}
