/// Decodes ids one at a time, returning only complete text: a character whose bytes are spread over several
/// tokens (byte-level or `<0xNN>` byte fallback) is held back until its last byte arrives.
///
/// Mirrors `DecodeStream` of tokenizers: it decodes a short window of ids (the previous chunk as context, plus
/// the pending ids) and returns what the window adds beyond its context, so decoders that depend on position
/// (Strip, Metaspace) give the same text as one full `decode`. Call `finish()` at the end of the sequence to
/// flush what is still held (an incomplete character then becomes U+FFFD, as in a full decode).
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    /// The window: context ids (already returned) followed by pending ids.
    private var ids: [Int] = []
    /// `decode(ids[..<pending])`, the text of the context.
    private var prefix = ""
    /// Where in `ids` the latest returned chunk starts; it becomes the context of the next window.
    private var prefixIndex = 0

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Feeds one id; returns the text it completes (often empty).
    public mutating func feed(_ id: Int) -> String {
        ids.append(id)
        let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        // Hold back while the end may be the first bytes of a character (decoded for now as U+FFFD).
        guard text.utf8.count > prefix.utf8.count, text.unicodeScalars.last != "\u{FFFD}",
              text.utf8.starts(with: prefix.utf8) else { return "" }
        let chunk = String(decoding: text.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
        let newPrefixIndex = ids.count - prefixIndex
        ids.removeFirst(prefixIndex)
        prefix = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        prefixIndex = newPrefixIndex
        return chunk
    }

    /// Feeds several ids; returns the text they complete.
    public mutating func feed(_ ids: [Int]) -> String { ids.map { feed($0) }.joined() }

    /// Returns whatever is still held (U+FFFD for an incomplete character) and resets the decoder.
    public mutating func finish() -> String {
        defer { ids = []; prefix = ""; prefixIndex = 0 }
        let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        guard text.utf8.count > prefix.utf8.count, text.utf8.starts(with: prefix.utf8) else { return "" }
        return String(decoding: text.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
    }
}
