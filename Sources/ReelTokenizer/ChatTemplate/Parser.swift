/// A statement of the template.
indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case ifChain([(Expr, [Node])], elseBody: [Node])
    case forLoop(targets: [String], iter: Expr, filter: Expr?, body: [Node], elseBody: [Node], pos: SourcePos)
    case set(SetTarget, Expr)
    case setBlock(String, [Node])
    case breakLoop(SourcePos)
    case continueLoop(SourcePos)
    /// `{% generation %}`: transformers' assistant-mask marker; renders its body unchanged.
    case generation([Node])
}

enum SetTarget: Sendable {
    case names([String], SourcePos)
    case attribute(String, String, SourcePos)
}

struct MacroDef: Sendable {
    var name: String
    var params: [(String, Expr?)]
    var body: [Node]
}

/// An expression with the place it starts, for error messages.
indirect enum Expr: Sendable {
    case literal(Value)
    case name(String, SourcePos)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case attr(Expr, String, SourcePos)
    case item(Expr, Expr, SourcePos)
    case slice(Expr, Expr?, Expr?, Expr?, SourcePos)
    case unary(String, Expr, SourcePos)
    case binary(String, Expr, Expr, SourcePos)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case not(Expr)
    case compare(Expr, [(String, Expr)], SourcePos)
    case test(Expr, String, [Expr], SourcePos)
    case filter(Expr, String, [Expr], [(String, Expr)], SourcePos)
    case call(Expr, [Expr], [(String, Expr)], SourcePos)
    case cond(then: Expr, test: Expr, otherwise: Expr?)
}

/// Recursive-descent parser with Jinja's grammar and operator precedence (jinja2/parser.py).
struct TemplateParser {
    private var tokens: [TemplateToken]
    private var index = 0
    private(set) var macros: [String: MacroDef] = [:]
    /// How many `for` bodies enclose the current tag (a macro body starts again at 0): `break`/`continue` need one.
    private var loopDepth = 0

    // Expression token cursor for the tag being parsed.
    private var toks: [Tok] = []
    private var t = 0

    init(_ tokens: [TemplateToken]) { self.tokens = tokens }

    mutating func parseTemplate() throws -> [Node] {
        let (body, end) = try parseBody(until: [])
        if let end { throw syntax(end.1, "unexpected '\(end.0)'") }
        return body
    }

    /// Parses nodes until a block tag whose keyword is in `until`; returns the body and that keyword (tokens left
    /// positioned after the keyword), or nil at end of input.
    private mutating func parseBody(until: Set<String>) throws -> ([Node], (String, SourcePos)?) {
        var body: [Node] = []
        while index < tokens.count {
            let tok = tokens[index]
            index += 1
            switch tok {
            case let .text(s):
                body.append(.text(s))
            case let .variable(ts, _):
                toks = ts; t = 0
                let e = try parseTuple()
                try expectEnd()
                body.append(.output(e))
            case let .block(ts, pos):
                toks = ts; t = 0
                guard case let .name(kw) = ts[0].kind else { throw syntax(pos, "expected a statement keyword after '{%'") }
                if until.contains(kw) { t = 1; return (body, (kw, ts[0].pos)) }
                t = 1
                if let node = try parseStatement(kw, pos: ts[0].pos) { body.append(node) }
            }
        }
        return (body, nil)
    }

    private mutating func parseStatement(_ kw: String, pos: SourcePos) throws -> Node? {
        switch kw {
        case "if": return try parseIf(pos)
        case "for": return try parseFor(pos)
        case "set": return try parseSet(pos)
        case "macro": try parseMacro(pos); return nil
        case "generation": return try parseGeneration(pos)
        case "break", "continue":
            guard loopDepth > 0 else { throw syntax(pos, "'\(kw)' outside loop") }
            try expectEnd()
            return kw == "break" ? .breakLoop(pos) : .continueLoop(pos)
        default:
            throw syntax(pos, "unknown or unexpected tag '\(kw)'")
        }
    }

    /// `{% if %}…{% elif %}…{% else %}…{% endif %}`.
    private mutating func parseIf(_ pos: SourcePos) throws -> Node {
        var branches: [(Expr, [Node])] = []
        var cond = try parseTuple(condexpr: false)
        try expectEnd()
        while true {
            let (body, end) = try parseBody(until: ["elif", "else", "endif"])
            guard let end else { throw unclosed("if", pos, "endif") }
            branches.append((cond, body))
            switch end.0 {
            case "elif":
                cond = try parseTuple(condexpr: false)
                try expectEnd()
            case "else":
                try expectEnd()
                let (elseBody, e2) = try parseBody(until: ["endif"])
                guard e2 != nil else { throw unclosed("if", pos, "endif") }
                try expectEnd()
                return .ifChain(branches, elseBody: elseBody)
            default:
                try expectEnd()
                return .ifChain(branches, elseBody: [])
            }
        }
    }

    /// `{% for a[, b] in expr [if cond] %}…[{% else %}…]{% endfor %}`.
    private mutating func parseFor(_ pos: SourcePos) throws -> Node {
        let targets = try parseTargetNames()
        try expectName("in")
        let iter = try parseTuple(condexpr: false)
        var filter: Expr? = nil
        if cur.isName("if") { t += 1; filter = try parseExpression() }
        if cur.isName("recursive") { throw syntax(cur.pos, "recursive loops are not supported") }
        try expectEnd()
        loopDepth += 1
        let (body, end) = try parseBody(until: ["else", "endfor"])
        loopDepth -= 1
        guard let end else { throw unclosed("for", pos, "endfor") }
        try expectEnd()
        var elseBody: [Node] = []
        if end.0 == "else" {
            let (b, e2) = try parseBody(until: ["endfor"])
            guard e2 != nil else { throw unclosed("for", pos, "endfor") }
            try expectEnd()
            elseBody = b
        }
        return .forLoop(targets: targets, iter: iter, filter: filter, body: body, elseBody: elseBody, pos: pos)
    }

    /// `{% set x = … %}`, `{% set a, b = … %}`, `{% set ns.attr = … %}`, `{% set x %}…{% endset %}`.
    private mutating func parseSet(_ pos: SourcePos) throws -> Node {
        let target: SetTarget
        let namePos = cur.pos
        let first = try expectNameToken()
        if cur.isOp(".") {
            t += 1
            target = .attribute(first, try expectNameToken(), namePos)
        } else {
            var names = [first]
            while cur.isOp(",") { t += 1; names.append(try expectNameToken()) }
            target = .names(names, namePos)
        }
        if cur.isOp("=") {
            t += 1
            let value = try parseTuple()
            try expectEnd()
            return .set(target, value)
        }
        guard case let .names(ns, _) = target, ns.count == 1 else { throw syntax(namePos, "expected '='") }
        try expectEnd()
        let (body, end) = try parseBody(until: ["endset"])
        guard end != nil else { throw unclosed("set", pos, "endset") }
        try expectEnd()
        return .setBlock(ns[0], body)
    }

    /// `{% macro name(a, b=default) %}…{% endmacro %}`; macros are template-global.
    private mutating func parseMacro(_ pos: SourcePos) throws {
        let name = try expectNameToken()
        try expectOp("(")
        var params: [(String, Expr?)] = []
        while !cur.isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            let p = try expectNameToken()
            var def: Expr? = nil
            if cur.isOp("=") { t += 1; def = try parseExpression() }
            params.append((p, def))
        }
        t += 1
        try expectEnd()
        let outerDepth = loopDepth
        loopDepth = 0
        let (body, end) = try parseBody(until: ["endmacro"])
        loopDepth = outerDepth
        guard end != nil else { throw unclosed("macro", pos, "endmacro") }
        try expectEnd()
        macros[name] = MacroDef(name: name, params: params, body: body)
    }

    /// transformers' `{% generation %}…{% endgeneration %}`.
    private mutating func parseGeneration(_ pos: SourcePos) throws -> Node {
        try expectEnd()
        let (body, end) = try parseBody(until: ["endgeneration"])
        guard end != nil else { throw unclosed("generation", pos, "endgeneration") }
        try expectEnd()
        return .generation(body)
    }

    // MARK: - Expressions

    private var cur: Tok { toks[min(t, toks.count - 1)] }

    private mutating func parseTuple(condexpr: Bool = true) throws -> Expr {
        let first = condexpr ? try parseExpression() : try parseOr()
        guard cur.isOp(",") else { return first }
        var items = [first]
        while cur.isOp(",") {
            t += 1
            if case .end = cur.kind { break }
            if cur.isOp(")") || cur.isOp("=") { break }
            items.append(condexpr ? try parseExpression() : try parseOr())
        }
        return .tuple(items)
    }

    private mutating func parseExpression() throws -> Expr {
        var e = try parseOr()
        while cur.isName("if") {
            t += 1
            let test = try parseOr()
            var other: Expr? = nil
            if cur.isName("else") { t += 1; other = try parseExpression() }
            e = .cond(then: e, test: test, otherwise: other)
        }
        return e
    }

    private mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while cur.isName("or") { t += 1; e = .or(e, try parseAnd()) }
        return e
    }

    private mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while cur.isName("and") { t += 1; e = .and(e, try parseNot()) }
        return e
    }

    private mutating func parseNot() throws -> Expr {
        if cur.isName("not") { t += 1; return .not(try parseNot()) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let pos = cur.pos
        let e = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if case let .op(o) = cur.kind, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                t += 1
                ops.append((o, try parseMath1()))
            } else if cur.isName("in") {
                t += 1
                ops.append(("in", try parseMath1()))
            } else if cur.isName("not") && t + 1 < toks.count && toks[t + 1].isName("in") {
                t += 2
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? e : .compare(e, ops, pos)
    }

    private mutating func parseMath1() throws -> Expr {
        var e = try parseConcat()
        while case let .op(o) = cur.kind, o == "+" || o == "-" {
            let p = cur.pos
            t += 1
            e = .binary(o, e, try parseConcat(), p)
        }
        return e
    }

    private mutating func parseConcat() throws -> Expr {
        var e = try parseMath2()
        while cur.isOp("~") {
            let p = cur.pos
            t += 1
            e = .binary("~", e, try parseMath2(), p)
        }
        return e
    }

    private mutating func parseMath2() throws -> Expr {
        var e = try parsePow()
        while case let .op(o) = cur.kind, ["*", "/", "//", "%"].contains(o) {
            let p = cur.pos
            t += 1
            e = .binary(o, e, try parsePow(), p)
        }
        return e
    }

    private mutating func parsePow() throws -> Expr {
        var e = try parseUnary(withFilter: true)
        while cur.isOp("**") {
            let p = cur.pos
            t += 1
            e = .binary("**", e, try parseUnary(withFilter: true), p)
        }
        return e
    }

    private mutating func parseUnary(withFilter: Bool) throws -> Expr {
        var e: Expr
        let p = cur.pos
        if cur.isOp("-") || cur.isOp("+") {
            guard case let .op(o) = cur.kind else { throw syntax(p, "unreachable") }
            t += 1
            e = .unary(o, try parseUnary(withFilter: false), p)
        } else {
            e = try parsePostfix(try parsePrimary())
        }
        if withFilter { e = try parseFilterExpr(e) }
        return e
    }

    private mutating func parsePrimary() throws -> Expr {
        let tok = cur
        switch tok.kind {
        case let .name(n):
            t += 1
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n, tok.pos)
            }
        case let .string(s):
            t += 1
            var str = s
            while case let .string(more) = cur.kind { str += more; t += 1 }
            return .literal(.string(str))
        case let .int(v):
            t += 1
            return .literal(.int(v))
        case let .float(v):
            t += 1
            return .literal(.double(v))
        case .op("("):
            t += 1
            if cur.isOp(")") { t += 1; return .tuple([]) }
            let e = try parseTuple()
            try expectOp(")")
            return e
        case .op("["):
            t += 1
            var items: [Expr] = []
            while !cur.isOp("]") {
                if !items.isEmpty { try expectOp(","); if cur.isOp("]") { break } }
                items.append(try parseExpression())
            }
            t += 1
            return .list(items)
        case .op("{"):
            t += 1
            var items: [(Expr, Expr)] = []
            while !cur.isOp("}") {
                if !items.isEmpty { try expectOp(","); if cur.isOp("}") { break } }
                let k = try parseExpression()
                try expectOp(":")
                items.append((k, try parseExpression()))
            }
            t += 1
            return .dict(items)
        case .end:
            throw syntax(tok.pos, "unexpected end of expression")
        default:
            throw syntax(tok.pos, "unexpected \(describe(tok))")
        }
    }

    private mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            let p = cur.pos
            if cur.isOp(".") {
                t += 1
                switch cur.kind {
                case let .name(n): t += 1; e = .attr(e, n, p)
                case let .int(i): t += 1; e = .item(e, .literal(.int(i)), p)
                default: throw syntax(cur.pos, "expected an attribute name after '.'")
                }
            } else if cur.isOp("[") {
                t += 1
                e = try parseSubscript(e, p)
            } else if cur.isOp("(") {
                e = try parseCall(e)
            } else {
                return e
            }
        }
    }

    private mutating func parseSubscript(_ base: Expr, _ p: SourcePos) throws -> Expr {
        var parts: [Expr?] = [nil]
        var isSlice = false
        while !cur.isOp("]") {
            if cur.isOp(":") {
                isSlice = true
                t += 1
                parts.append(nil)
                guard parts.count <= 3 else { throw syntax(cur.pos, "too many ':' in slice") }
            } else {
                guard parts[parts.count - 1] == nil else { throw syntax(cur.pos, "expected ']'") }
                parts[parts.count - 1] = try parseExpression()
            }
        }
        t += 1
        if !isSlice {
            guard let k = parts[0] else { throw syntax(p, "empty subscript") }
            return .item(base, k, p)
        }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, parts[0], parts[1], parts[2], p)
    }

    private mutating func parseCallArgs() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = [], kwargs: [(String, Expr)] = []
        while !cur.isOp(")") {
            if !args.isEmpty || !kwargs.isEmpty { try expectOp(","); if cur.isOp(")") { break } }
            if case let .name(n) = cur.kind, t + 1 < toks.count, toks[t + 1].isOp("=") {
                t += 2
                kwargs.append((n, try parseExpression()))
            } else {
                guard kwargs.isEmpty else { throw syntax(cur.pos, "positional argument after keyword argument") }
                args.append(try parseExpression())
            }
        }
        t += 1
        return (args, kwargs)
    }

    private mutating func parseCall(_ callee: Expr) throws -> Expr {
        // Errors from a call point at the callee (`raise_exception`, `m.get`), not at its '('.
        var p = cur.pos
        switch callee {
        case let .name(_, q), let .attr(_, _, q): p = q
        default: break
        }
        let (args, kwargs) = try parseCallArgs()
        return .call(callee, args, kwargs, p)
    }

    private mutating func parseFilterExpr(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            if cur.isOp("|") {
                t += 1
                let p = cur.pos
                let name = try expectNameToken()
                guard Builtins.filterNames.contains(name) else { throw ChatTemplateError.unknownFilter(name: name, line: p.line, column: p.column) }
                var args: [Expr] = [], kwargs: [(String, Expr)] = []
                if cur.isOp("(") { (args, kwargs) = try parseCallArgs() }
                e = .filter(e, name, args, kwargs, p)
            } else if cur.isName("is") {
                t += 1
                var negated = false
                if cur.isName("not") { t += 1; negated = true }
                let p = cur.pos
                let name = try expectNameToken()
                guard Builtins.testNames.contains(name) else { throw ChatTemplateError.unknownTest(name: name, line: p.line, column: p.column) }
                var args: [Expr] = []
                if cur.isOp("(") {
                    (args, _) = try parseCallArgs()
                } else if startsPrimary(cur) {
                    args = [try parsePostfix(try parsePrimary())]
                }
                let test = Expr.test(e, name, args, p)
                e = negated ? .not(test) : test
            } else if cur.isOp("(") {
                e = try parseCall(e)
            } else {
                return e
            }
        }
    }

    private func startsPrimary(_ tok: Tok) -> Bool {
        switch tok.kind {
        case let .name(n): return !["else", "or", "and", "if", "is", "not", "in"].contains(n)
        case .string, .int, .float: return true
        case .op("["), .op("{"): return true
        default: return false
        }
    }

    // MARK: - Helpers

    private mutating func parseTargetNames() throws -> [String] {
        var paren = false
        if cur.isOp("(") { paren = true; t += 1 }
        var names = [try expectNameToken()]
        while cur.isOp(",") { t += 1; names.append(try expectNameToken()) }
        if paren { try expectOp(")") }
        return names
    }

    private mutating func expectNameToken() throws -> String {
        guard case let .name(n) = cur.kind else { throw syntax(cur.pos, "expected a name, found \(describe(cur))") }
        t += 1
        return n
    }

    private mutating func expectName(_ n: String) throws {
        guard cur.isName(n) else { throw syntax(cur.pos, "expected '\(n)', found \(describe(cur))") }
        t += 1
    }

    private mutating func expectOp(_ o: String) throws {
        guard cur.isOp(o) else { throw syntax(cur.pos, "expected '\(o)', found \(describe(cur))") }
        t += 1
    }

    private func expectEnd() throws {
        guard case .end = cur.kind else { throw syntax(cur.pos, "expected end of tag, found \(describe(cur))") }
    }

    private func describe(_ tok: Tok) -> String {
        switch tok.kind {
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s)'"
        case let .int(i): return "number \(i)"
        case let .float(d): return "number \(d)"
        case let .op(o): return "'\(o)'"
        case .end: return "end of tag"
        }
    }

    private func syntax(_ p: SourcePos, _ message: String) -> ChatTemplateError {
        .syntax(line: p.line, column: p.column, message: message)
    }

    private func unclosed(_ tag: String, _ p: SourcePos, _ end: String) -> ChatTemplateError {
        .syntax(line: p.line, column: p.column, message: "'\(tag)' block is never closed (expected '{% \(end) %}')")
    }
}
