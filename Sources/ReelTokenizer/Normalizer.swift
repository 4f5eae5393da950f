/// A text normalizer from `tokenizer.json` (`normalizer`). Mirrors the `tokenizers` normalizers the
/// supported families use.
indirect enum Normalizer {
    case sequence([Normalizer])
    /// Unicode NFC composition (Qwen2).
    case nfc
    /// Prepends a string to non-empty text (Llama-2: "▁").
    case prepend(String)
    /// Replaces every match of a pattern (Llama-2: " " → "▁").
    case replace(Pattern, Scalars)
    case lowercase
    /// Removes leading and/or trailing whitespace.
    case strip(left: Bool, right: Bool)

    init(_ n: ConfigNode) throws {
        let type = try n.type()
        switch type {
        case "Sequence":
            self = .sequence(try n.require("normalizers").asArray().map(Normalizer.init))
        case "NFC": self = .nfc
        case "Prepend": self = .prepend(try n.string("prepend"))
        case "Replace": self = .replace(try Pattern(n.require("pattern")), try n.string("content").scalars)
        case "Lowercase": self = .lowercase
        case "Strip": self = .strip(left: try n.bool("strip_left", default: true), right: try n.bool("strip_right", default: true))
        default: throw n.unsupported(type)
        }
    }

    func normalize(_ s: String) -> String {
        switch self {
        case let .sequence(list): return list.reduce(s) { $1.normalize($0) }
        case .nfc: return String(decoding: s._nfcCodeUnits, as: UTF8.self)
        case let .prepend(p): return s.isEmpty ? s : p + s
        case let .replace(pattern, content): return pattern.replaceAll(in: s, with: content)
        case .lowercase: return s.lowercased()
        case let .strip(left, right):
            var sc = s.scalars[...]
            if left { while let f = sc.first, isWhitespace(f) { sc = sc.dropFirst() } }
            if right { while let l = sc.last, isWhitespace(l) { sc = sc.dropLast() } }
            return String(scalars: sc)
        }
    }
}
