/// A 1-based place in the template source.
struct SourcePos: Equatable, Sendable {
    var line: Int
    var column: Int
}

/// One token of an expression inside `{{ }}` or `{% %}`.
struct Tok: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case name(String)
        case string(String)
        case int(Int)
        case float(Double)
        case op(String)
        case end
    }
    var kind: Kind
    var pos: SourcePos

    func isName(_ n: String) -> Bool { if case let .name(x) = kind { return x == n }; return false }
    func isOp(_ o: String) -> Bool { if case let .op(x) = kind { return x == o }; return false }
}

/// Template-level tokens: literal text, `{{ … }}` and `{% … %}` (comments are dropped).
enum TemplateToken: Sendable {
    case text(String)
    case variable([Tok], SourcePos)
    case block([Tok], SourcePos)
}

/// Splits template source into text and tags, applying Jinja's whitespace rules as transformers configures them:
/// `-` strips all whitespace on that side, `trim_blocks` drops the first newline after a block or comment tag,
/// `lstrip_blocks` drops spaces and tabs before a block or comment tag that starts a line, `+` disables either.
/// Newlines are normalised to "\n" and one trailing newline is removed (`keep_trailing_newline=False`).
struct TemplateLexer {
    let s: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]
    let trimBlocks = true
    let lstripBlocks = true

    init(_ source: String) {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(source.unicodeScalars.count)
        var it = source.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if c == "\r" {
                out.append("\n")
                if let n = it.next(), n != "\n" { pending = n }
            } else {
                out.append(c)
            }
        }
        if out.last == "\n" { out.removeLast() }
        s = out
        for (i, c) in s.enumerated() where c == "\n" { lineStarts.append(i + 1) }
    }

    func pos(_ offset: Int) -> SourcePos {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourcePos(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    func tokens() throws -> [TemplateToken] {
        var out: [TemplateToken] = []
        var i = 0
        var lineStarting = true
        let n = s.count
        while i < n {
            var j = i
            while j + 1 < n && !(s[j] == "{" && (s[j + 1] == "{" || s[j + 1] == "%" || s[j + 1] == "#")) { j += 1 }
            if j + 1 >= n {
                out.append(.text(String(String.UnicodeScalarView(s[i..<n]))))
                break
            }
            var text = Array(s[i..<j])
            let kind = s[j + 1]
            var k = j + 2
            let sign: Unicode.Scalar? = k < n && (s[k] == "-" || s[k] == "+") ? s[k] : nil
            if sign == "-" {
                while let last = text.last, isSpace(last) { text.removeLast() }
                k += 1
            } else if sign == "+" && kind != "{" {
                k += 1
            } else if kind != "{" && lstripBlocks {
                let lPos = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                if (lPos > 0 || lineStarting) && lPos < text.count && text[lPos...].allSatisfy(isSpace) {
                    text.removeSubrange(lPos...)
                }
            }
            if !text.isEmpty { out.append(.text(String(String.UnicodeScalarView(text)))) }
            let open = pos(j)
            var m: Int
            var stripAfter = false, plusAfter = false
            if kind == "#" {
                var e = k
                while e + 1 < n && !(s[e] == "#" && s[e + 1] == "}") { e += 1 }
                guard e + 1 < n else { throw ChatTemplateError.syntax(line: open.line, column: open.column, message: "unterminated comment '{#'") }
                stripAfter = e > k && s[e - 1] == "-"
                plusAfter = e > k && s[e - 1] == "+"
                m = e + 2
            } else {
                var toks: [Tok] = []
                (toks, m, stripAfter, plusAfter) = try lexTag(from: k, variable: kind == "{", open: open)
                out.append(kind == "{" ? .variable(toks, open) : .block(toks, open))
            }
            let tagEnd = m
            if stripAfter {
                while m < n && isSpace(s[m]) { m += 1 }
            } else if kind != "{" && !plusAfter && trimBlocks && m < n && s[m] == "\n" {
                m += 1
            }
            lineStarting = m > tagEnd && s[m - 1] == "\n"
            i = m
        }
        return out
    }

    /// Lexes expression tokens up to the closing delimiter at bracket depth 0.
    /// - Returns: tokens (ending in `.end`), the offset after the delimiter, and its `-` / `+` modifier.
    private func lexTag(from start: Int, variable: Bool, open: SourcePos) throws -> ([Tok], Int, Bool, Bool) {
        var toks: [Tok] = []
        var i = start
        var depth = 0
        let n = s.count
        let close: Unicode.Scalar = variable ? "}" : "%"
        func at(_ k: Int) -> Unicode.Scalar? { k < n ? s[k] : nil }
        while true {
            while i < n && isSpace(s[i]) { i += 1 }
            guard i < n else {
                let what = variable ? "'{{' (expected '}}')" : "'{%' (expected '%}')"
                throw ChatTemplateError.syntax(line: open.line, column: open.column, message: "unterminated \(what)")
            }
            let p = pos(i)
            if depth == 0 {
                if s[i] == close && at(i + 1) == "}" { toks.append(Tok(kind: .end, pos: p)); return (toks, i + 2, false, false) }
                if (s[i] == "-" || (!variable && s[i] == "+")) && at(i + 1) == close && at(i + 2) == "}" {
                    toks.append(Tok(kind: .end, pos: p))
                    return (toks, i + 3, s[i] == "-", s[i] == "+")
                }
            }
            let c = s[i]
            if c == "'" || c == "\"" {
                let (str, next) = try lexString(at: i)
                toks.append(Tok(kind: .string(str), pos: p))
                i = next
            } else if isDigit(c) {
                var j = i
                while j < n && (isDigit(s[j]) || s[j] == "_") { j += 1 }
                var isFloat = false
                if j + 1 < n && s[j] == "." && isDigit(s[j + 1]) {
                    isFloat = true
                    j += 1
                    while j < n && (isDigit(s[j]) || s[j] == "_") { j += 1 }
                }
                if j < n && (s[j] == "e" || s[j] == "E") {
                    var k = j + 1
                    if k < n && (s[k] == "+" || s[k] == "-") { k += 1 }
                    if k < n && isDigit(s[k]) {
                        isFloat = true
                        j = k
                        while j < n && isDigit(s[j]) { j += 1 }
                    }
                }
                let lit = String(String.UnicodeScalarView(s[i..<j].filter { $0 != "_" }))
                if isFloat {
                    guard let d = Double(lit) else { throw ChatTemplateError.syntax(line: p.line, column: p.column, message: "bad number \(lit)") }
                    toks.append(Tok(kind: .float(d), pos: p))
                } else {
                    guard let v = Int(lit) else { throw ChatTemplateError.syntax(line: p.line, column: p.column, message: "integer \(lit) too large") }
                    toks.append(Tok(kind: .int(v), pos: p))
                }
                i = j
            } else if isNameStart(c) {
                var j = i + 1
                while j < n && (isNameStart(s[j]) || isDigit(s[j])) { j += 1 }
                toks.append(Tok(kind: .name(String(String.UnicodeScalarView(s[i..<j]))), pos: p))
                i = j
            } else {
                let two = at(i + 1).map { String(c) + String($0) } ?? ""
                if ["//", "**", "==", "!=", "<=", ">="].contains(two) {
                    toks.append(Tok(kind: .op(two), pos: p))
                    i += 2
                } else if "+-*/%~<>()[]{},.:|=".unicodeScalars.contains(c) {
                    if c == "(" || c == "[" || c == "{" { depth += 1 }
                    if c == ")" || c == "]" || c == "}" { depth -= 1 }
                    toks.append(Tok(kind: .op(String(c)), pos: p))
                    i += 1
                } else {
                    throw ChatTemplateError.syntax(line: p.line, column: p.column, message: "unexpected character '\(c)'")
                }
            }
        }
    }

    /// A quoted literal with Python's escapes (`\n \t \\ \' \" \xNN \uNNNN \UNNNNNNNN`, octal); unknown escapes stay.
    private func lexString(at start: Int) throws -> (String, Int) {
        let quote = s[start]
        var out = String.UnicodeScalarView()
        var i = start + 1
        let n = s.count
        while i < n {
            let c = s[i]
            if c == quote { return (String(out), i + 1) }
            if c == "\\" && i + 1 < n {
                let e = s[i + 1]
                i += 2
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\\": out.append("\\")
                case "'": out.append("'")
                case "\"": out.append("\"")
                case "\n": break
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "v": out.append("\u{0B}")
                case "x", "u", "U":
                    let len = e == "x" ? 2 : (e == "u" ? 4 : 8)
                    guard i + len <= n, let v = UInt32(String(String.UnicodeScalarView(s[i..<(i + len)])), radix: 16),
                          let u = Unicode.Scalar(v) else {
                        let p = pos(i - 2)
                        throw ChatTemplateError.syntax(line: p.line, column: p.column, message: "bad \\\(e) escape in string")
                    }
                    out.append(u)
                    i += len
                case "0"..."7":
                    var v = e.value - 48
                    var k = 0
                    while k < 2 && i < n && s[i].value >= 48 && s[i].value <= 55 { v = v * 8 + s[i].value - 48; i += 1; k += 1 }
                    out.append(Unicode.Scalar(v) ?? "?")
                default:
                    out.append("\\")
                    out.append(e)
                }
                continue
            }
            out.append(c)
            i += 1
        }
        let p = pos(start)
        throw ChatTemplateError.syntax(line: p.line, column: p.column, message: "unterminated string literal")
    }
}

/// Python's `str.isspace()` (also what `\s` matches in Jinja's lexer): Unicode White_Space plus U+001C–U+001F.
func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (c.value >= 0x1C && c.value <= 0x1F) }
private func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
private func isNameStart(_ c: Unicode.Scalar) -> Bool {
    (c.value >= 65 && c.value <= 90) || (c.value >= 97 && c.value <= 122) || c == "_"
}
