/// Text helpers that work on Unicode scalars, as the HF tokenizers library works on Rust `char`s.
/// (Swift's `String` algorithms work on grapheme clusters: " " followed by U+0301 is one Character, which
/// would hide the space from a `replacing(" ", …)`.)

typealias Scalars = [Unicode.Scalar]

extension String {
    init(scalars: some Sequence<Unicode.Scalar>) {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        self = String(v)
    }
    var scalars: Scalars { Array(unicodeScalars) }
}

/// A split pattern: a literal string or a regular expression compiled from the file.
enum Pattern {
    case literal(Scalars)
    case regex(SplitRegex)

    /// Reads `{"String": …}` or `{"Regex": …}`.
    init(_ n: ConfigNode) throws {
        if let s = try n.optionalString("String") {
            self = .literal(s.scalars)
        } else if let r = try n.optionalString("Regex") {
            self = .regex(try compileRegex(r, file: n.file, key: n.path + ".Regex"))
        } else {
            throw TokenizerError.wrongType(file: n.file, key: n.path, expected: "{\"String\": …} or {\"Regex\": …}")
        }
    }

    /// Splits `s` into consecutive ranges (in scalar offsets) covering it, each flagged as a match or not.
    /// Mirrors `Pattern::find_matches` in tokenizers: empty matches are kept (and later dropped as empty pieces).
    func findMatches(_ s: Scalars, text: String) -> [(range: Range<Int>, isMatch: Bool)] {
        if s.isEmpty { return [(0..<0, false)] }
        var out: [(range: Range<Int>, isMatch: Bool)] = []
        var prev = 0
        func add(_ r: Range<Int>) {
            if prev != r.lowerBound { out.append((prev..<r.lowerBound, false)) }
            out.append((r, true))
            prev = r.upperBound
        }
        switch self {
        case let .literal(p):
            guard !p.isEmpty else { return [(0..<s.count, false)] }
            var i = 0
            while i + p.count <= s.count {
                if s[i] == p[0] && s[i..<(i + p.count)].elementsEqual(p) {
                    add(i..<(i + p.count)); i += p.count
                } else { i += 1 }
            }
        case let .regex(re):
            // Walk the match ranges in order, converting String.Index to scalar offsets incrementally.
            let view = text.unicodeScalars
            var idx = view.startIndex, off = 0
            func offset(of target: String.Index) -> Int {
                while idx < target { view.formIndex(after: &idx); off += 1 }
                return off
            }
            if re.searchable {
                // One match at a time, each searched from where the last ended (as `matches(of:)` does, after an
                // empty match from one scalar on), so nothing holds more than one match.
                var from = text.startIndex
                while let m = try? re.regex.firstMatch(in: text[from...]) {
                    add(offset(of: m.range.lowerBound)..<offset(of: m.range.upperBound))
                    if !m.range.isEmpty {
                        from = m.range.upperBound
                    } else if m.range.upperBound < text.endIndex {
                        from = view.index(after: m.range.upperBound)
                    } else { break }
                }
            } else {
                for m in text.matches(of: re.regex) { add(offset(of: m.range.lowerBound)..<offset(of: m.range.upperBound)) }
            }
        }
        if prev != s.count { out.append((prev..<s.count, false)) }
        return out
    }

    /// Replaces every match of the pattern in `s` with `content`.
    func replaceAll(in s: String, with content: Scalars) -> String {
        if case let .literal(p) = self, p.count == 1 {
            // Fast path for the common one-character pattern (" " → "▁", "▁" → " ").
            guard s.unicodeScalars.contains(p[0]) else { return s }
            var out = String.UnicodeScalarView()
            for c in s.unicodeScalars { if c == p[0] { out.append(contentsOf: content) } else { out.append(c) } }
            return String(out)
        }
        let sc = s.scalars
        var out = Scalars()
        out.reserveCapacity(sc.count)
        for (r, isMatch) in findMatches(sc, text: s) {
            if isMatch { out += content } else { out += sc[r] }
        }
        return String(scalars: out)
    }
}

/// A split pattern compiled with Swift's `Regex`, and whether it can be searched match by match.
struct SplitRegex {
    let regex: Regex<AnyRegexOutput>
    /// True when a search of the text from any position finds what a search of the whole text finds there: the
    /// pattern looks at nothing before the position (no lookbehind, no `^`, `\A`, `\G`, word or grapheme
    /// boundaries). Then `findMatches` takes one match at a time; else it collects them all with `matches(of:)`,
    /// which holds ~300 bytes per match (3 GB for a 37 MB line of words). Every pattern of the tokenizers Reel is
    /// tested on is searchable; an unsure reading of the pattern answers false (the exact, slower path).
    let searchable: Bool

    init(_ regex: Regex<AnyRegexOutput>, pattern: String) {
        self.regex = regex
        let scalars = Array(pattern.unicodeScalars)
        var ok = !["(?<=", "(?<!", "\\b", "\\B", "\\A", "\\G", "\\K", "\\y", "\\Y"].contains { pattern.contains($0) }
        for (i, c) in scalars.enumerated() where c == "^" && (i == 0 || scalars[i - 1] != "[") { ok = false }
        searchable = ok
    }
}

/// Compiles a pattern from the file with Swift's `Regex`, matching on Unicode scalars (as Oniguruma does),
/// not on grapheme clusters.
func compileRegex(_ pattern: String, file: String, key: String) throws -> SplitRegex {
    do {
        return SplitRegex(try Regex(pattern).matchingSemantics(.unicodeScalar), pattern: pattern)
    } catch {
        throw TokenizerError.badRegex(file: file, key: key, pattern: pattern, message: "\(error)")
    }
}

/// How a split pre-tokenizer treats the delimiters it finds (`SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// Turns pattern matches into the pieces to keep. Mirrors `NormalizedString::split`.
    func apply(_ matches: [(range: Range<Int>, isMatch: Bool)]) -> [Range<Int>] {
        var acc: [(range: Range<Int>, remove: Bool)] = []
        switch self {
        case .isolated:
            acc = matches.map { ($0.range, false) }
        case .removed:
            acc = matches.map { ($0.range, $0.isMatch) }
        case .contiguous:
            var previous = false
            for (r, m) in matches {
                if m == previous, let last = acc.last {
                    acc[acc.count - 1].range = last.range.lowerBound..<r.upperBound
                } else { acc.append((r, false)) }
                previous = m
            }
        case .mergedWithPrevious:
            var previous = false
            for (r, m) in matches {
                if m && !previous, let last = acc.last {
                    acc[acc.count - 1].range = last.range.lowerBound..<r.upperBound
                } else { acc.append((r, false)) }
                previous = m
            }
        case .mergedWithNext:
            var previous = false
            for (r, m) in matches.reversed() {
                if m && !previous, let last = acc.last {
                    acc[acc.count - 1].range = r.lowerBound..<last.range.upperBound
                } else { acc.append((r, false)) }
                previous = m
            }
            acc.reverse()
        }
        return acc.filter { !$0.remove && !$0.range.isEmpty }.map { $0.range }
    }
}

/// Rust's `char::is_whitespace` (the Unicode White_Space property).
@inline(__always) func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

/// A token string hashed and compared by its UTF-8 bytes. (`String`'s own `==` is canonical equivalence, under
/// which "Å" (U+00C5) and "A\u{30A}" are one key; vocabularies hold both as different tokens.)
struct TokenKey: Hashable {
    let text: String
    init(_ text: String) { self.text = text }

    static func == (a: TokenKey, b: TokenKey) -> Bool {
        var x = a.text, y = b.text
        return x.withUTF8 { p in y.withUTF8 { q in p.count == q.count && p.elementsEqual(q) } }
    }
    func hash(into h: inout Hasher) {
        var x = text
        x.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
