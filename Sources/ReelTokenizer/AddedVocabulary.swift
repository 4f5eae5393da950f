/// One entry of `added_tokens` in `tokenizer.json`.
public struct AddedToken: Equatable, Sendable {
    public let id: Int
    public let content: String
    public let special: Bool
    /// Also swallow whitespace on the left / right of the match.
    public let lstrip: Bool
    public let rstrip: Bool
    /// Match only when not inside a word.
    public let singleWord: Bool
    /// Match against normalized text (true) or the raw input (false).
    public let normalized: Bool
}

/// The added tokens and the two tries that find them: raw text first, then normalized text.
/// Mirrors `AddedVocabulary::extract_and_normalize` in tokenizers.
struct AddedVocabulary {
    let tokens: [AddedToken]
    let byId: [Int: AddedToken]
    /// content (UTF-8 bytes) → id.
    let byContent: [TokenKey: Int]
    private let rawTrie: Trie
    private let normalizedTrie: Trie

    init(_ list: [ConfigNode], normalizer: Normalizer?) throws {
        var tokens: [AddedToken] = []
        for n in list {
            tokens.append(AddedToken(
                id: try n.require("id").asInt(), content: try n.string("content"),
                special: try n.bool("special", default: false), lstrip: try n.bool("lstrip", default: false),
                rstrip: try n.bool("rstrip", default: false), singleWord: try n.bool("single_word", default: false),
                normalized: try n.bool("normalized", default: true)))
        }
        self.tokens = tokens
        var byId: [Int: AddedToken] = [:], byContent: [TokenKey: Int] = [:]
        var raw = Trie(), norm = Trie()
        for t in tokens {
            byId[t.id] = t
            byContent[TokenKey(t.content)] = t.id
            if t.normalized {
                // Normalized tokens are matched in normalized text, so their pattern is normalized too.
                norm.insert(Array((normalizer?.normalize(t.content) ?? t.content).utf8), t)
            } else {
                raw.insert(Array(t.content.utf8), t)
            }
        }
        self.byId = byId
        self.byContent = byContent
        rawTrie = raw
        normalizedTrie = norm
    }

    enum Segment {
        case token(Int)
        case text(Piece)
    }

    /// Splits `text` on added tokens; text between them is normalized. Empty pieces are dropped.
    func split(_ text: String, normalizer: Normalizer?) -> [Segment] {
        var out: [Segment] = []
        for seg in split(text, trie: rawTrie, atStart: true) {
            guard case let .text(p) = seg else { out.append(seg); continue }
            let normalized = normalizer?.normalize(p.text) ?? p.text
            if normalized.isEmpty { continue }
            out += split(normalized, trie: normalizedTrie, atStart: p.atStart)
        }
        return out
    }

    /// Leftmost-longest matches of the trie in `text`, with single_word / lstrip / rstrip applied.
    /// Mirrors `AddedVocabulary::find_matches`.
    private func split(_ text: String, trie: Trie, atStart: Bool) -> [Segment] {
        if trie.isEmpty { return text.isEmpty ? [] : [.text(Piece(text: text, atStart: atStart))] }
        let b = Array(text.utf8)
        var matches: [(token: AddedToken, start: Int, stop: Int)] = []
        var startOffset = 0
        var i = 0
        while i < b.count {
            guard let (t, len) = trie.longestMatch(b, at: i) else { i += 1; continue }
            var start = i, stop = i + len
            i = stop
            if t.singleWord {
                let startSpace = start == 0 || !endsWithWord(b, start)
                let stopSpace = stop == b.count || !startsWithWord(b, stop)
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip { start = max(whitespaceStart(before: start, in: b), startOffset) }
            if t.rstrip { stop = whitespaceEnd(after: stop, in: b) }
            matches.append((t, start, stop))
            startOffset = stop
        }
        var out: [Segment] = []
        var prev = 0
        func gap(_ a: Int, _ z: Int) -> Segment {
            .text(Piece(text: String(decoding: b[a..<z], as: UTF8.self), atStart: atStart && a == 0))
        }
        for m in matches {
            if prev < m.start { out.append(gap(prev, m.start)) }
            out.append(.token(m.token.id))
            prev = m.stop
        }
        if prev < b.count { out.append(gap(prev, b.count)) }
        return out
    }

    private func scalar(endingAt end: Int, _ b: [UInt8]) -> (Unicode.Scalar, Int)? {
        guard end > 0 else { return nil }
        var s = end - 1
        while s > 0 && b[s] & 0xC0 == 0x80 { s -= 1 }
        return String(decoding: b[s..<end], as: UTF8.self).unicodeScalars.first.map { ($0, s) }
    }
    private func scalar(startingAt start: Int, _ b: [UInt8]) -> (Unicode.Scalar, Int)? {
        guard start < b.count else { return nil }
        var e = start + 1
        while e < b.count && b[e] & 0xC0 == 0x80 { e += 1 }
        return String(decoding: b[start..<e], as: UTF8.self).unicodeScalars.first.map { ($0, e) }
    }
    private func isWordChar(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || c.properties.numericType == .decimal
            || c.properties.generalCategory == .nonspacingMark || c.properties.generalCategory == .spacingMark
    }
    private func endsWithWord(_ b: [UInt8], _ end: Int) -> Bool { scalar(endingAt: end, b).map { isWordChar($0.0) } ?? false }
    private func startsWithWord(_ b: [UInt8], _ start: Int) -> Bool { scalar(startingAt: start, b).map { isWordChar($0.0) } ?? false }
    private func whitespaceStart(before end: Int, in b: [UInt8]) -> Int {
        var p = end
        while let (c, s) = scalar(endingAt: p, b), isWhitespace(c) { p = s }
        return p
    }
    private func whitespaceEnd(after start: Int, in b: [UInt8]) -> Int {
        var p = start
        while let (c, e) = scalar(startingAt: p, b), isWhitespace(c) { p = e }
        return p
    }
}

/// A byte trie over added-token contents, for leftmost-longest matching.
private struct Trie {
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [AddedToken?] = [nil]

    var isEmpty: Bool { children[0].isEmpty }

    mutating func insert(_ bytes: [UInt8], _ token: AddedToken) {
        guard !bytes.isEmpty else { return }
        var node = 0
        for b in bytes {
            if let c = children[node][b] { node = Int(c); continue }
            children.append([:]); terminal.append(nil)
            children[node][b] = Int32(children.count - 1)
            node = children.count - 1
        }
        if terminal[node] == nil { terminal[node] = token }
    }

    /// The longest token that starts at `i`, with its length in bytes.
    func longestMatch(_ b: [UInt8], at i: Int) -> (AddedToken, Int)? {
        var node = 0, best: (AddedToken, Int)? = nil
        var j = i
        while j < b.count, let c = children[node][b[j]] {
            node = Int(c); j += 1
            if let t = terminal[node] { best = (t, j - i) }
        }
        return best
    }
}
