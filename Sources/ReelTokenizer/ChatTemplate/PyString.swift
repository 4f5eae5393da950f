// MARK: - String helpers (Python semantics, code-point based)

enum StripSide { case leading, trailing, both }

func strip(_ s: String, _ chars: Set<Unicode.Scalar>?, _ side: StripSide) -> String {
    let u = Array(s.unicodeScalars)
    let drop: (Unicode.Scalar) -> Bool = { chars?.contains($0) ?? isSpace($0) }
    var lo = 0, hi = u.count
    if side != .trailing { while lo < hi && drop(u[lo]) { lo += 1 } }
    if side != .leading { while hi > lo && drop(u[hi - 1]) { hi -= 1 } }
    return String(String.UnicodeScalarView(u[lo..<hi]))
}

func split(_ s: String, _ sep: String, _ maxsplit: Int) -> [String] {
    let u = Array(s.unicodeScalars), su = Array(sep.unicodeScalars)
    var out: [String] = []
    var start = 0, i = 0
    while i + su.count <= u.count && (maxsplit < 0 || out.count < maxsplit) {
        if Array(u[i..<(i + su.count)]) == su {
            out.append(String(String.UnicodeScalarView(u[start..<i])))
            i += su.count
            start = i
        } else {
            i += 1
        }
    }
    out.append(String(String.UnicodeScalarView(u[start...])))
    return out
}

func splitWhitespace(_ s: String, _ maxsplit: Int) -> [String] {
    let u = Array(s.unicodeScalars)
    var out: [String] = []
    var i = 0
    while i < u.count {
        while i < u.count && isSpace(u[i]) { i += 1 }
        if i >= u.count { break }
        if maxsplit >= 0 && out.count == maxsplit {
            var end = u.count
            while end > i && isSpace(u[end - 1]) { end -= 1 }
            out.append(String(String.UnicodeScalarView(u[i..<end])))
            break
        }
        let start = i
        while i < u.count && !isSpace(u[i]) { i += 1 }
        out.append(String(String.UnicodeScalarView(u[start..<i])))
    }
    return out
}

func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
    if old.isEmpty {
        // Python inserts `new` between every character (and at both ends).
        var parts = s.unicodeScalars.map { String($0) }
        let n = count < 0 ? parts.count + 1 : min(count, parts.count + 1)
        var out = ""
        for i in 0...parts.count {
            if i < n { out += new }
            if i < parts.count { out += parts[i] }
        }
        parts.removeAll()
        return out
    }
    let pieces = split(s, old, count)
    return pieces.joined(separator: new)
}

func capitalize(_ s: String) -> String {
    guard let f = s.unicodeScalars.first else { return s }
    return String(f).uppercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
}

/// Jinja's `title` filter: capitalise each word split at whitespace, '-', '(', '{', '[' and '<'.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var word = ""
    func flush() { if !word.isEmpty { out += capitalize(word); word = "" } }
    for u in s.unicodeScalars {
        if isSpace(u) || "-({[<".unicodeScalars.contains(u) {
            flush()
            out.unicodeScalars.append(u)
        } else {
            word.unicodeScalars.append(u)
        }
    }
    flush()
    return out
}

/// Python's `str.title()`: upper-case a letter that follows a non-letter, lower-case the rest.
func pyTitle(_ s: String) -> String {
    var out = ""
    var prevCased = false
    for u in s.unicodeScalars {
        let cased = u.properties.isCased
        out += prevCased ? String(u).lowercased() : String(u).uppercased()
        prevCased = cased
    }
    return out
}

/// Python's `int(str)`: optional sign, decimal digits, single underscores between digits, surrounding whitespace.
func pyParseInt(_ s: String) -> Int? {
    let t = strip(s, nil, .both)
    guard let digits = pyDigits(t.hasPrefix("+") || t.hasPrefix("-") ? String(t.dropFirst()) : t) else { return nil }
    return Int((t.hasPrefix("-") ? "-" : "") + digits)
}

/// Python's `float(str)`: decimal or exponent notation with optional underscores between digits, "inf",
/// "infinity", "nan" in any case; no hex.
func pyParseFloat(_ s: String) -> Double? {
    let t = strip(s, nil, .both)
    let body = t.hasPrefix("+") || t.hasPrefix("-") ? String(t.dropFirst()) : t
    if ["inf", "infinity", "nan"].contains(body.lowercased()) { return Double((t.hasPrefix("-") ? "-" : "") + body.lowercased()) }
    var cleaned = ""
    var prev: Character? = nil
    let chars = Array(body)
    for (i, ch) in chars.enumerated() {
        if ch == "_" {
            guard let p = prev, p.isASCII, p.isNumber, i + 1 < chars.count, chars[i + 1].isASCII, chars[i + 1].isNumber else { return nil }
        } else if ch.isASCII && (ch.isNumber || ch == "." || ch == "e" || ch == "E" || ch == "+" || ch == "-") {
            cleaned.append(ch)
        } else {
            return nil
        }
        prev = ch
    }
    guard cleaned.contains(where: { $0.isNumber }) else { return nil }
    return Double((t.hasPrefix("-") ? "-" : "") + cleaned)
}

private func pyDigits(_ s: String) -> String? {
    guard let f = s.first, f.isASCII, f.isNumber, let l = s.last, l.isASCII, l.isNumber, !s.contains("__") else { return nil }
    guard s.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) else { return nil }
    return s.filter { $0 != "_" }
}
