/// Walks the parsed template. Scoping follows Jinja: each `for` iteration gets a fresh frame (its `set`s do not leak
/// out of the loop nor into the next iteration),
/// `if` does not; a macro sees the template's top-level names and its parameters.
struct Interpreter {
    private var frames: [[String: Value]]
    let macros: [String: MacroDef]
    let now: @Sendable () -> BrokenDownTime

    init(globals: [String: Value], macros: [String: MacroDef], now: @escaping @Sendable () -> BrokenDownTime) {
        frames = [globals]
        self.macros = macros
        self.now = now
    }

    private enum Flow { case normal, breakLoop, continueLoop }

    mutating func render(_ body: [Node]) throws -> String {
        var out = ""
        _ = try exec(body, into: &out)
        return out
    }

    private mutating func exec(_ body: [Node], into out: inout String) throws -> Flow {
        for node in body {
            switch node {
            case let .text(s):
                out += s
            case let .output(e):
                out += try eval(e).str
            case let .ifChain(branches, elseBody):
                var taken = false
                for (cond, b) in branches {
                    guard try eval(cond).truthy else { continue }
                    taken = true
                    let f = try exec(b, into: &out)
                    if f != .normal { return f }
                    break
                }
                if !taken {
                    let f = try exec(elseBody, into: &out)
                    if f != .normal { return f }
                }
            case let .forLoop(targets, iter, filter, body, elseBody, pos):
                try runFor(targets: targets, iter: iter, filter: filter, body: body, elseBody: elseBody, pos: pos, into: &out)
            case let .set(target, e):
                let v = try eval(e)
                try assign(target, v)
            case let .setBlock(name, b):
                var captured = ""
                _ = try exec(b, into: &captured)
                frames[frames.count - 1][name] = .string(captured)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            case let .generation(b):
                let f = try exec(b, into: &out)
                if f != .normal { return f }
            }
        }
        return .normal
    }

    private mutating func assign(_ target: SetTarget, _ v: Value) throws {
        switch target {
        case let .names(names, pos):
            if names.count == 1 {
                frames[frames.count - 1][names[0]] = v
                return
            }
            guard case let .list(items) = v.asSequence, items.count == names.count else {
                throw ChatTemplateError.render(line: pos.line, column: pos.column, message: "cannot unpack \(v.typeName) into \(names.count) names")
            }
            for (n, x) in zip(names, items) { frames[frames.count - 1][n] = x }
        case let .attribute(obj, attr, pos):
            guard case let .namespace(ns) = lookup(obj) else {
                throw ChatTemplateError.render(line: pos.line, column: pos.column,
                                               message: "cannot assign attribute on non-namespace object '\(obj)'")
            }
            ns.attrs[attr] = v
        }
    }

    private mutating func runFor(targets: [String], iter: Expr, filter: Expr?, body: [Node], elseBody: [Node],
                                 pos: SourcePos, into out: inout String) throws {
        let seq = try eval(iter)
        var items: [Value]
        switch seq {
        case let .list(a), let .tuple(a): items = a
        case let .dict(d): items = d.keys.map { .string($0) }
        case let .string(s): items = s.unicodeScalars.map { .string(String($0)) }
        case .undefined: items = []
        default:
            throw ChatTemplateError.render(line: pos.line, column: pos.column, message: "'\(seq.typeName)' object is not iterable")
        }
        frames.append([:])
        defer { frames.removeLast() }
        if let filter {
            var kept: [Value] = []
            for x in items {
                try bind(targets, x, pos)
                if try eval(filter).truthy { kept.append(x) }
            }
            items = kept
        }
        // Jinja clears its "no iteration" flag at the end of the body, so the else branch also runs when every
        // iteration left early through break or continue.
        var completedAnIteration = false
        let n = items.count
        for (i, x) in items.enumerated() {
            // Each iteration starts clean: a `set` in one iteration is not visible in the next (as in Jinja).
            frames[frames.count - 1] = [:]
            try bind(targets, x, pos)
            var loop = Dict()
            loop["index0"] = .int(i)
            loop["index"] = .int(i + 1)
            loop["revindex0"] = .int(n - i - 1)
            loop["revindex"] = .int(n - i)
            loop["first"] = .bool(i == 0)
            loop["last"] = .bool(i == n - 1)
            loop["length"] = .int(n)
            loop["depth"] = .int(1)
            loop["depth0"] = .int(0)
            loop["previtem"] = i > 0 ? items[i - 1] : .undefined("'loop.previtem' is undefined")
            loop["nextitem"] = i + 1 < n ? items[i + 1] : .undefined("'loop.nextitem' is undefined")
            frames[frames.count - 1]["loop"] = .dict(loop)
            let f = try exec(body, into: &out)
            if f == .breakLoop { break }
            if f == .normal { completedAnIteration = true }
        }
        if !completedAnIteration {
            frames[frames.count - 1] = [:]
            _ = try exec(elseBody, into: &out)
        }
    }

    private mutating func bind(_ targets: [String], _ x: Value, _ pos: SourcePos) throws {
        if targets.count == 1 {
            frames[frames.count - 1][targets[0]] = x
            return
        }
        guard case let .list(parts) = x.asSequence, parts.count == targets.count else {
            throw ChatTemplateError.render(line: pos.line, column: pos.column,
                                           message: "cannot unpack \(x.typeName) into \(targets.count) loop variables")
        }
        for (t, p) in zip(targets, parts) { frames[frames.count - 1][t] = p }
    }

    func lookup(_ name: String) -> Value {
        for f in frames.reversed() { if let v = f[name] { return v } }
        if macros[name] != nil, let m = macros[name] { return .macro(m) }
        if Builtins.globalNames.contains(name) { return .builtin(name) }
        return .undefined("'\(name)' is undefined")
    }

    // MARK: - Expressions

    mutating func eval(_ e: Expr) throws -> Value {
        switch e {
        case let .literal(v):
            return v
        case let .name(n, _):
            return lookup(n)
        case let .list(items):
            return .list(try items.map { try eval($0) })
        case let .tuple(items):
            return .tuple(try items.map { try eval($0) })
        case let .dict(pairs):
            return try dictLiteral(pairs)
        case let .attr(base, name, pos):
            return try getAttr(try eval(base), name, pos)
        case let .item(base, key, pos):
            return try getItem(try eval(base), try eval(key), pos)
        case let .slice(base, a, b, c, pos):
            let v = try eval(base)
            let start = try a.map { try eval($0) }, stop = try b.map { try eval($0) }, step = try c.map { try eval($0) }
            return try slice(v, start, stop, step, pos)
        case let .unary(op, x, pos):
            return try Builtins.unary(op, try eval(x), pos)
        case let .binary(op, l, r, pos):
            return try Builtins.binary(op, try eval(l), try eval(r), pos)
        case let .and(l, r):
            let a = try eval(l)
            return a.truthy ? try eval(r) : a
        case let .or(l, r):
            let a = try eval(l)
            return a.truthy ? a : try eval(r)
        case let .not(x):
            return .bool(!(try eval(x).truthy))
        case let .compare(first, ops, pos):
            var left = try eval(first)
            for (op, rx) in ops {
                let right = try eval(rx)
                if !(try Builtins.compare(op, left, right, pos)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case let .test(x, name, args, pos):
            let v = try eval(x)
            let a = try args.map { try eval($0) }
            return .bool(try Builtins.test(name, v, a, pos))
        case let .filter(x, name, args, kwargs, pos):
            let v = try eval(x)
            let a = try args.map { try eval($0) }
            var kw: [String: Value] = [:]
            for (k, ke) in kwargs { kw[k] = try eval(ke) }
            return try Builtins.filter(name, v, a, kw, pos, &self)
        case let .call(callee, args, kwargs, pos):
            let f = try eval(callee)
            let a = try args.map { try eval($0) }
            var kw: [(String, Value)] = []
            for (k, ke) in kwargs { kw.append((k, try eval(ke))) }
            return try call(f, a, kw, pos)
        case let .cond(then, test, otherwise):
            if try eval(test).truthy { return try eval(then) }
            return try otherwise.map { try eval($0) } ?? .undefined("conditional expression had no else branch")
        }
    }

    private mutating func dictLiteral(_ pairs: [(Expr, Expr)]) throws -> Value {
        var d = Dict()
        for (k, v) in pairs {
            let key = try eval(k)
            guard case let .string(ks) = key else { throw renderError(exprPos(k), "dict keys must be strings, not \(key.typeName)") }
            d[ks] = try eval(v)
        }
        return .dict(d)
    }

    mutating func call(_ f: Value, _ args: [Value], _ kwargs: [(String, Value)], _ pos: SourcePos) throws -> Value {
        switch f {
        case let .builtin(name):
            return try Builtins.callGlobal(name, args, kwargs, pos, now: now)
        case let .method(name, box):
            return try Builtins.callMethod(name, box.value, args, kwargs, pos)
        case let .macro(m):
            return try callMacro(m, args, kwargs, pos)
        case let .undefined(msg):
            throw renderError(pos, msg)
        default:
            throw renderError(pos, "'\(f.typeName)' object is not callable")
        }
    }

    private mutating func callMacro(_ m: MacroDef, _ args: [Value], _ kwargs: [(String, Value)], _ pos: SourcePos) throws -> Value {
        guard args.count <= m.params.count else {
            throw renderError(pos, "macro '\(m.name)' takes \(m.params.count) arguments, got \(args.count)")
        }
        var frame: [String: Value] = [:]
        for (i, (p, def)) in m.params.enumerated() {
            if i < args.count {
                frame[p] = args[i]
            } else if let kv = kwargs.first(where: { $0.0 == p }) {
                frame[p] = kv.1
            } else if let def {
                frame[p] = try eval(def)
            } else {
                frame[p] = .undefined("'\(p)' is undefined")
            }
        }
        var sub = Interpreter(globals: frames[0], macros: macros, now: now)
        sub.frames.append(frame)
        return .string(try sub.render(m.body))
    }

    // MARK: - Access

    func getAttr(_ v: Value, _ name: String, _ pos: SourcePos) throws -> Value {
        switch v {
        case let .undefined(msg):
            throw renderError(pos, msg)
        case let .dict(d):
            if Builtins.dictMethods.contains(name) { return .method(name, Box(v)) }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case let .namespace(ns):
            return ns.attrs[name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
        case .string:
            if Builtins.stringMethods.contains(name) { return .method(name, Box(v)) }
            return .undefined("'str object' has no attribute '\(name)'")
        default:
            return .undefined("'\(v.typeName) object' has no attribute '\(name)'")
        }
    }

    func getItem(_ v: Value, _ key: Value, _ pos: SourcePos) throws -> Value {
        if case let .undefined(msg) = v { throw renderError(pos, msg) }
        switch (v, key) {
        case let (.list(a), _), let (.tuple(a), _):
            guard let i = key.intValue else {
                if case let .string(s) = key { return try getAttr(v, s, pos) }
                throw renderError(pos, "list indices must be integers, not \(key.typeName)")
            }
            let j = i < 0 ? a.count + i : i
            return j >= 0 && j < a.count ? a[j] : .undefined("list index \(i) out of range")
        case let (.dict(d), .string(k)):
            return d[k] ?? .undefined("'dict object' has no attribute '\(k)'")
        case let (.string(s), _):
            if case let .string(k) = key { return try getAttr(v, k, pos) }
            guard let i = key.intValue else { throw renderError(pos, "string indices must be integers") }
            let u = Array(s.unicodeScalars)
            let j = i < 0 ? u.count + i : i
            return j >= 0 && j < u.count ? .string(String(u[j])) : .undefined("string index \(i) out of range")
        case let (_, .string(k)):
            return try getAttr(v, k, pos)
        default:
            return .undefined("'\(v.typeName) object' has no item \(key.repr)")
        }
    }

    private func slice(_ v: Value, _ start: Value?, _ stop: Value?, _ step: Value?, _ pos: SourcePos) throws -> Value {
        func idx(_ x: Value?) throws -> Int? {
            guard let x, !(x.isNone) else { return nil }
            guard let i = x.intValue else { throw renderError(pos, "slice indices must be integers or None") }
            return i
        }
        let st = try idx(step) ?? 1
        guard st != 0 else { throw renderError(pos, "slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            var a = try idx(start), b = try idx(stop)
            if st > 0 {
                var lo = a ?? 0, hi = b ?? n
                if lo < 0 { lo = max(lo + n, 0) }; if lo > n { lo = n }
                if hi < 0 { hi = max(hi + n, 0) }; if hi > n { hi = n }
                return lo < hi ? Array(stride(from: lo, to: hi, by: st)) : []
            }
            if let x = a { a = x < 0 ? x + n : min(x, n - 1) }
            if let y = b { b = y < 0 ? y + n : y }
            let lo = a ?? n - 1, hi = b ?? -1
            if lo < 0 { return [] }
            return lo > hi ? Array(stride(from: lo, to: hi, by: st)).filter { $0 >= 0 && $0 < n } : []
        }
        switch v {
        case let .list(a): return .list(try indices(a.count).map { a[$0] })
        case let .tuple(a): return .tuple(try indices(a.count).map { a[$0] })
        case let .string(s):
            let u = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(u.count) { out.append(u[i]) }
            return .string(String(out))
        case let .undefined(msg): throw renderError(pos, msg)
        default: throw renderError(pos, "'\(v.typeName)' object is not subscriptable")
        }
    }

    private func exprPos(_ e: Expr) -> SourcePos {
        switch e {
        case let .name(_, p), let .attr(_, _, p), let .item(_, _, p), let .slice(_, _, _, _, p), let .unary(_, _, p),
             let .binary(_, _, _, p), let .compare(_, _, p), let .test(_, _, _, p), let .filter(_, _, _, _, p),
             let .call(_, _, _, p):
            return p
        default:
            return SourcePos(line: 0, column: 0)
        }
    }
}

func renderError(_ pos: SourcePos, _ message: String) -> ChatTemplateError {
    .render(line: pos.line, column: pos.column, message: message)
}

extension Value {
    var isNone: Bool { if case .none = self { return true }; return false }

    /// Lists and tuples as `.list`, for unpacking.
    var asSequence: Value {
        switch self {
        case let .tuple(a): return .list(a)
        default: return self
        }
    }
}
