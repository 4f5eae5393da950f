/// A piece of text on its way to the model: after added-token splitting, normalisation and pre-tokenisation.
struct Piece {
    var text: String
    /// The piece starts at offset 0 of the original input (Metaspace's `prepend_scheme: first` needs this).
    var atStart: Bool
}

/// GPT-2's byte-to-unicode table: every byte maps to a printable character, so that byte-level BPE
/// vocabularies are plain strings. Mirrors `bytes_char()` in tokenizers.
enum ByteLevelAlphabet {
    /// byte → character.
    static let encoder: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()
    /// character → byte.
    static let decoder: [Unicode.Scalar: UInt8] = {
        var d: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in encoder.enumerated() { d[c] = UInt8(b) }
        return d
    }()

    /// Maps the UTF-8 bytes of `s` to their characters.
    static func encode(_ s: String) -> String {
        String(scalars: s.utf8.map { encoder[Int($0)] })
    }
}

/// GPT-2's split regex, used by the ByteLevel pre-tokenizer when `use_regex` is true.
let gpt2SplitPattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

/// A pre-tokenizer from `tokenizer.json` (`pre_tokenizer`). Each one maps a list of pieces to a finer list.
indirect enum PreTokenizer {
    case sequence([PreTokenizer])
    /// Split on a pattern (string or regex), with a delimiter behaviour, optionally inverted.
    case split(Pattern, SplitBehavior, invert: Bool)
    /// GPT-2 byte level: optional leading space, optional GPT-2 regex split, then bytes → characters.
    case byteLevel(addPrefixSpace: Bool, split: Pattern?)
    /// SentencePiece's metaspace: spaces → replacement, prepend per scheme, optional split before each replacement.
    case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme, split: Bool)

    enum PrependScheme: String { case always, first, never }

    init(_ n: ConfigNode) throws {
        let type = try n.type()
        switch type {
        case "Sequence":
            self = .sequence(try n.require("pretokenizers").asArray().map(PreTokenizer.init))
        case "Split":
            let b = try n.string("behavior")
            guard let behavior = SplitBehavior(rawValue: b) else { throw n.invalid("behavior", b) }
            self = .split(try Pattern(n.require("pattern")), behavior, invert: try n.bool("invert", default: false))
        case "ByteLevel":
            let useRegex = try n.bool("use_regex", default: true)
            let pattern = useRegex
                ? Pattern.regex(try compileRegex(gpt2SplitPattern, file: n.file, key: n.path + ".use_regex"))
                : nil
            self = .byteLevel(addPrefixSpace: try n.bool("add_prefix_space", default: true), split: pattern)
        case "Metaspace":
            let rep = try n.string("replacement").scalars
            guard rep.count == 1 else { throw n.invalid("replacement", "\"\(String(scalars: rep))\" (must be one character)") }
            var scheme: PrependScheme = try n.bool("add_prefix_space", default: true) ? .always : .never
            if let s = try n.optionalString("prepend_scheme") {
                guard let p = PrependScheme(rawValue: s) else { throw n.invalid("prepend_scheme", s) }
                scheme = p
            }
            self = .metaspace(replacement: rep[0], prepend: scheme, split: try n.bool("split", default: true))
        case "WhitespaceSplit":
            self = .split(.regex(try compileRegex(#"\s+"#, file: n.file, key: n.path)), .removed, invert: false)
        case "Whitespace":
            self = .split(.regex(try compileRegex(#"\w+|[^\w\s]+"#, file: n.file, key: n.path)), .removed, invert: true)
        case "Digits":
            let individual = try n.bool("individual_digits", default: false)
            self = .split(.regex(try compileRegex(individual ? #"\p{N}"# : #"\p{N}+"#, file: n.file, key: n.path)),
                          .isolated, invert: false)
        default: throw n.unsupported(type)
        }
    }

    func preTokenize(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case let .sequence(list):
            return list.reduce(pieces) { $1.preTokenize($0) }
        case let .split(pattern, behavior, invert):
            return pieces.flatMap { splitPiece($0, pattern, behavior, invert: invert) }
        case let .byteLevel(addPrefixSpace, split):
            return pieces.flatMap { p -> [Piece] in
                var p = p
                if addPrefixSpace && p.text.unicodeScalars.first != " " && !p.text.isEmpty { p.text = " " + p.text }
                let parts = split.map { splitPiece(p, $0, .isolated, invert: false) } ?? [p]
                return parts.map { Piece(text: ByteLevelAlphabet.encode($0.text), atStart: $0.atStart) }
            }
        case let .metaspace(rep, scheme, split):
            return pieces.flatMap { p -> [Piece] in
                var sc = p.text.scalars.map { $0 == " " ? rep : $0 }
                let prepend = scheme == .always || (scheme == .first && p.atStart)
                if prepend && !sc.isEmpty && sc[0] != rep { sc.insert(rep, at: 0) }
                let q = Piece(text: String(scalars: sc), atStart: p.atStart)
                return split ? splitPiece(q, .literal([rep]), .mergedWithNext, invert: false) : [q]
            }
        }
    }

    private func splitPiece(_ p: Piece, _ pattern: Pattern, _ behavior: SplitBehavior, invert: Bool) -> [Piece] {
        let sc = p.text.scalars
        var matches = pattern.findMatches(sc, text: p.text)
        if invert { matches = matches.map { ($0.range, !$0.isMatch) } }
        return behavior.apply(matches).map { r in
            Piece(text: String(scalars: sc[r]), atStart: p.atStart && r.lowerBound == 0)
        }
    }
}
