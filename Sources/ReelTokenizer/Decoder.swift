/// A decoder from `tokenizer.json` (`decoder`): token strings → text. Each step maps a list of strings to a
/// list of strings, as `Decoder::decode_chain` does in tokenizers; the result is their concatenation.
indirect enum TokenDecoder {
    case sequence([TokenDecoder])
    /// Byte-level characters → bytes → UTF-8 (invalid sequences become U+FFFD).
    case byteLevel
    case replace(Pattern, Scalars)
    /// Runs of `<0xNN>` tokens → their UTF-8 text, or one U+FFFD per byte when invalid.
    case byteFallback
    /// Joins everything into one string.
    case fuse
    /// Removes up to `start` leading and `stop` trailing `content` characters from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// Replacement → space; the first token loses its replacements when a prefix was prepended.
    case metaspace(replacement: Unicode.Scalar, stripFirst: Bool)

    init(_ n: ConfigNode) throws {
        let type = try n.type()
        switch type {
        case "Sequence": self = .sequence(try n.require("decoders").asArray().map(TokenDecoder.init))
        case "ByteLevel": self = .byteLevel
        case "Replace": self = .replace(try Pattern(n.require("pattern")), try n.string("content").scalars)
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            let c = try n.string("content").scalars
            guard c.count == 1 else { throw n.invalid("content", "\"\(String(scalars: c))\" (must be one character)") }
            self = .strip(content: c[0], start: try n.int("start", default: 0), stop: try n.int("stop", default: 0))
        case "Metaspace":
            let rep = try n.string("replacement").scalars
            guard rep.count == 1 else { throw n.invalid("replacement", "\"\(String(scalars: rep))\" (must be one character)") }
            var strip = try n.bool("add_prefix_space", default: true)
            if let s = try n.optionalString("prepend_scheme") { strip = s != "never" }
            self = .metaspace(replacement: rep[0], stripFirst: strip)
        default: throw n.unsupported(type)
        }
    }

    func decode(_ tokens: [String]) -> String { decodeChain(tokens).joined() }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case let .sequence(list):
            return list.reduce(tokens) { $1.decodeChain($0) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                let start = bytes.count
                var ok = true
                for c in t.unicodeScalars {
                    guard let b = ByteLevelAlphabet.decoder[c] else { ok = false; break }
                    bytes.append(b)
                }
                // A token with a character outside the alphabet is taken as its own UTF-8 bytes.
                if !ok { bytes.removeSubrange(start...); bytes += t.utf8 }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case let .replace(pattern, content):
            return tokens.map { pattern.replaceAll(in: $0, with: content) }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = parseByteToken(t) { pending.append(b) } else { flush(); out.append(t) }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { t in
                var sc = t.scalars[...]
                var n = 0
                while n < start, let f = sc.first, f == content { sc = sc.dropFirst(); n += 1 }
                n = 0
                while n < stop, let l = sc.last, l == content { sc = sc.dropLast(); n += 1 }
                return String(scalars: sc)
            }
        case let .metaspace(rep, stripFirst):
            return tokens.enumerated().map { i, t in
                String(scalars: t.unicodeScalars.compactMap { c -> Unicode.Scalar? in
                    guard c == rep else { return c }
                    return i == 0 && stripFirst ? nil : " "
                })
            }
        }
    }
}

/// The byte of a `<0xNN>` token, or nil.
func parseByteToken(_ t: String) -> UInt8? {
    let u = Array(t.utf8)
    guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
          u[5] == UInt8(ascii: ">") else { return nil }
    return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
}
