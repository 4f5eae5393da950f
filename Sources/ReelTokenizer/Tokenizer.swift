import ReelCore

/// A tokenizer read from a Hugging Face `tokenizer.json` (and optionally `tokenizer_config.json`).
///
/// Supports the BPE model in its byte-level (GPT-2, Qwen2, Llama-3, Whisper) and SentencePiece-style
/// (Llama-2, Phi-3; byte fallback, Metaspace) forms. `encode` and `decode` mirror `Tokenizer.encode` and
/// `Tokenizer.decode` of the HF `tokenizers` library, which the parity tests compare against.
/// Immutable after loading; safe to share between threads.
public final class Tokenizer: @unchecked Sendable {
    /// The added tokens (`added_tokens`), special or not, in file order.
    public var addedTokens: [AddedToken] { added.tokens }
    /// The ids of the special added tokens (skipped by `decode(skipSpecialTokens: true)`).
    public let specialTokenIds: Set<Int>
    /// From `tokenizer_config.json` when given (`bos_token` etc., a string or an AddedToken object).
    public let bosToken: String?, eosToken: String?, padToken: String?, unkToken: String?
    public let bosTokenId: Int?, eosTokenId: Int?, padTokenId: Int?, unkTokenId: Int?
    /// Number of distinct tokens, added tokens included (`get_vocab_size(with_added_tokens=True)`).
    public let vocabSize: Int

    private let model: BPEModel
    private let added: AddedVocabulary
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer?
    private let postProcessor: PostProcessor?
    private let decoder: TokenDecoder?
    private let specialContents: Set<TokenKey>

    /// Loads a tokenizer from the bytes of its files.
    /// - Parameters:
    ///   - tokenizerJSON: the bytes of `tokenizer.json`.
    ///   - configJSON: the bytes of `tokenizer_config.json`, if any (for bos/eos/pad/unk).
    ///   - name: how errors name the tokenizer file; the config is named "tokenizer_config.json".
    public init(tokenizerJSON: [UInt8], configJSON: [UInt8]? = nil, name: String = "tokenizer.json") throws {
        let root = try parseDocument(tokenizerJSON, file: name)
        let model = try BPEModel(root.require("model"))
        self.model = model
        let normalizer = try root.optional("normalizer").map(Normalizer.init)
        self.normalizer = normalizer
        preTokenizer = try root.optional("pre_tokenizer").map(PreTokenizer.init)
        postProcessor = try root.optional("post_processor").map(PostProcessor.init)
        decoder = try root.optional("decoder").map(TokenDecoder.init)
        let added = try AddedVocabulary(root.optional("added_tokens")?.asArray() ?? [], normalizer: normalizer)
        self.added = added
        specialTokenIds = Set(added.tokens.filter(\.special).map(\.id))
        specialContents = Set(added.tokens.filter(\.special).map { TokenKey($0.content) })
        vocabSize = model.vocab.count + Set(added.tokens.map { TokenKey($0.content) }).filter { model.vocab[$0] == nil }.count

        var named: [String?] = [nil, nil, nil, nil]
        var ids: [Int?] = [nil, nil, nil, nil]
        if let configJSON {
            let config = try parseDocument(configJSON, file: "tokenizer_config.json")
            for (i, key) in ["bos_token", "eos_token", "pad_token", "unk_token"].enumerated() {
                guard let n = config.optional(key) else { continue }
                let content = try n.value.string ?? n.string("content")
                guard let id = added.byContent[TokenKey(content)] ?? model.vocab[TokenKey(content)] else {
                    throw TokenizerError.unknownToken(file: config.file, key: key, token: content)
                }
                named[i] = content
                ids[i] = id
            }
        }
        (bosToken, eosToken, padToken, unkToken) = (named[0], named[1], named[2], named[3])
        (bosTokenId, eosTokenId, padTokenId, unkTokenId) = (ids[0], ids[1], ids[2], ids[3])
    }

    /// Loads a tokenizer from files on disk.
    public convenience init(tokenizerFile: String, configFile: String? = nil) throws {
        try self.init(tokenizerJSON: try readWholeFile(tokenizerFile), configJSON: try configFile.map(readWholeFile),
                      name: tokenizerFile)
    }

    /// Token ids for `text`.
    /// - Parameter addSpecialTokens: apply the post-processor (Llama-2's BOS, Whisper's prefix and suffix …).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        for segment in added.split(text, normalizer: normalizer) {
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(piece):
                let words = preTokenizer?.preTokenize([piece]) ?? [piece]
                for w in words { model.tokenize(w.text, into: &ids) }
            }
        }
        if addSpecialTokens, let postProcessor { ids = postProcessor.process(ids) }
        return ids
    }

    /// Text for `ids`. Unknown ids are skipped, as in tokenizers.
    /// - Parameter skipSpecialTokens: leave out special added tokens.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        let tokens = ids.compactMap { id -> String? in
            guard let t = token(forId: id) else { return nil }
            return skipSpecialTokens && specialContents.contains(TokenKey(t)) ? nil : t
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decode(tokens)
    }

    /// The id of a token string (added tokens first, then the model vocabulary).
    public func id(forToken token: String) -> Int? {
        let key = TokenKey(token)
        return added.byContent[key] ?? model.vocab[key]
    }

    /// The token string of an id, or nil when out of range.
    public func token(forId id: Int) -> String? {
        if let t = added.byId[id] { return t.content }
        return id >= 0 && id < model.vocabR.count ? model.vocabR[id] : nil
    }

    /// True when `id` is a special added token.
    public func isSpecial(_ id: Int) -> Bool { specialTokenIds.contains(id) }

    /// A decoder that turns ids into text one id at a time.
    public func streamingDecoder(skipSpecialTokens: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }
}
