/// Operators, tests, filters, globals and methods, each mirroring Jinja's (jinja2/filters.py, tests.py) or Python's.
enum Builtins {
    static let filterNames: Set<String> = [
        "trim", "length", "count", "upper", "lower", "capitalize", "title", "default", "d", "tojson", "join", "first",
        "last", "list", "string", "int", "float", "replace", "items", "selectattr", "rejectattr", "select", "reject",
        "map", "abs", "round", "reverse", "safe", "unique", "sort", "dictsort", "indent", "max", "min", "sum",
    ]
    static let testNames: Set<String> = [
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer", "float",
        "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=",
        "in", "odd", "even", "divisibleby", "callable", "lower", "upper", "sameas",
    ]
    static let globalNames: Set<String> = ["raise_exception", "namespace", "strftime_now", "range", "dict"]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get"]
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper", "lower", "title", "capitalize",
        "replace", "find", "count", "join",
    ]

    // MARK: - Operators

    static func binary(_ op: String, _ a: Value, _ b: Value, _ pos: SourcePos) throws -> Value {
        if op == "~" { return .string(a.str + b.str) }
        if case let .undefined(m) = a { throw renderError(pos, m) }
        if case let .undefined(m) = b { throw renderError(pos, m) }
        func typeError() -> ChatTemplateError {
            if op == "+", case .string = a { return renderError(pos, "can only concatenate str (not \"\(b.typeName)\") to str") }
            if op == "+", case .list = a { return renderError(pos, "can only concatenate list (not \"\(b.typeName)\") to list") }
            return renderError(pos, "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch (op, a, b) {
        case let ("+", .string(x), .string(y)): return .string(x + y)
        case let ("+", .list(x), .list(y)): return .list(x + y)
        case let ("+", .tuple(x), .tuple(y)): return .tuple(x + y)
        case let ("*", .string(x), _), let ("*", _, .string(x)):
            guard let n = (op == "*" && a.intValue != nil ? a : b).intValue else { throw typeError() }
            return .string(String(repeating: x, count: max(n, 0)))
        case let ("*", .list(x), _), let ("*", _, .list(x)):
            guard let n = (a.intValue != nil ? a : b).intValue else { throw typeError() }
            return .list(Array([[Value]](repeating: x, count: max(n, 0)).joined()))
        default: break
        }
        if let x = a.intValue, let y = b.intValue {
            switch op {
            case "+": return .int(x &+ y)
            case "-": return .int(x &- y)
            case "*": return .int(x &* y)
            case "/":
                guard y != 0 else { throw renderError(pos, "division by zero") }
                return .double(Double(x) / Double(y))
            case "//":
                guard y != 0 else { throw renderError(pos, "integer division or modulo by zero") }
                let q = x / y
                return .int((x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q)
            case "%":
                guard y != 0 else { throw renderError(pos, "integer division or modulo by zero") }
                let r = x % y
                return .int(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            case "**":
                if y < 0 { return .double(pow(Double(x), Double(y))) }
                var r = 1
                for _ in 0..<y { r = r &* x }
                return .int(r)
            default: break
            }
        }
        if let x = a.number, let y = b.number {
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/":
                guard y != 0 else { throw renderError(pos, "float division by zero") }
                return .double(x / y)
            case "//":
                guard y != 0 else { throw renderError(pos, "float floor division by zero") }
                return .double((x / y).rounded(.down))
            case "%":
                guard y != 0 else { throw renderError(pos, "float modulo") }
                let r = x.truncatingRemainder(dividingBy: y)
                return .double(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            case "**": return .double(pow(x, y))
            default: break
            }
        }
        throw typeError()
    }

    static func compare(_ op: String, _ a: Value, _ b: Value, _ pos: SourcePos) throws -> Bool {
        switch op {
        case "==": return Value.equal(a, b)
        case "!=": return !Value.equal(a, b)
        case "in": return try contains(b, a, pos)
        case "notin": return !(try contains(b, a, pos))
        default: break
        }
        let ord: Int
        if let x = a.number, let y = b.number {
            ord = x < y ? -1 : (x > y ? 1 : 0)
        } else if case let .string(x) = a, case let .string(y) = b {
            let xs = Array(x.unicodeScalars.map(\.value)), ys = Array(y.unicodeScalars.map(\.value))
            ord = xs.lexicographicallyPrecedes(ys) ? -1 : (xs == ys ? 0 : 1)
        } else {
            if case let .undefined(m) = a { throw renderError(pos, m) }
            if case let .undefined(m) = b { throw renderError(pos, m) }
            throw renderError(pos, "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
        switch op {
        case "<": return ord < 0
        case "<=": return ord <= 0
        case ">": return ord > 0
        default: return ord >= 0
        }
    }

    static func contains(_ container: Value, _ item: Value, _ pos: SourcePos) throws -> Bool {
        switch container {
        case let .string(s):
            guard case let .string(sub) = item else {
                throw renderError(pos, "'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return sub.isEmpty || s.contains(sub)
        case let .list(a), let .tuple(a): return a.contains { Value.equal($0, item) }
        case let .dict(d):
            if case let .string(k) = item { return d[k] != nil }
            return false
        case let .namespace(ns):
            if case let .string(k) = item { return ns.attrs[k] != nil }
            return false
        case .undefined: return false
        default: throw renderError(pos, "argument of type '\(container.typeName)' is not iterable")
        }
    }

    // MARK: - Tests

    static func test(_ name: String, _ v: Value, _ args: [Value], _ pos: SourcePos) throws -> Bool {
        func arg() throws -> Value {
            guard let a = args.first else { throw renderError(pos, "test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v.isNone
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "iterable", "sequence":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "number": return v.number != nil
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "callable":
            switch v {
            case .builtin, .method, .macro: return true
            default: return false
            }
        case "lower": if case let .string(s) = v { return s == s.lowercased() }; return false
        case "upper": if case let .string(s) = v { return s == s.uppercased() }; return false
        case "odd", "even", "divisibleby":
            guard let i = v.intValue else { throw renderError(pos, "test '\(name)' needs an integer") }
            if name == "odd" { return i % 2 != 0 }
            if name == "even" { return i % 2 == 0 }
            guard let d = try arg().intValue, d != 0 else { throw renderError(pos, "divisibleby needs a non-zero integer") }
            return i % d == 0
        case "sameas":
            let o = try arg()
            if case let .namespace(x) = v, case let .namespace(y) = o { return x === y }
            return Value.equal(v, o) && v.typeName == o.typeName
        case "in": return try contains(try arg(), v, pos)
        case "equalto", "eq", "==": return Value.equal(v, try arg())
        case "ne", "!=": return !Value.equal(v, try arg())
        case "lt", "<": return try compare("<", v, try arg(), pos)
        case "le", "<=": return try compare("<=", v, try arg(), pos)
        case "gt", ">": return try compare(">", v, try arg(), pos)
        case "ge", ">=": return try compare(">=", v, try arg(), pos)
        default: throw ChatTemplateError.unknownTest(name: name, line: pos.line, column: pos.column)
        }
    }

    // MARK: - Filters

    static func filter(_ name: String, _ v: Value, _ args: [Value], _ kw: [String: Value], _ pos: SourcePos,
                       _ interp: inout Interpreter) throws -> Value {
        func param(_ i: Int, _ key: String) -> Value? { i < args.count ? args[i] : kw[key] }
        func string(_ x: Value) throws -> String {
            if case let .undefined(m) = x, name != "trim" && name != "string" && name != "upper" && name != "lower" {
                throw renderError(pos, m)
            }
            return x.str
        }
        func sequence(_ x: Value) throws -> [Value] {
            switch x {
            case let .list(a), let .tuple(a): return a
            case let .dict(d): return d.keys.map { .string($0) }
            case let .string(s): return s.unicodeScalars.map { .string(String($0)) }
            case .undefined: return []
            default: throw renderError(pos, "filter '\(name)': '\(x.typeName)' object is not iterable")
            }
        }
        switch name {
        case "trim":
            if let chars = param(0, "chars"), case let .string(c) = chars { return .string(strip(v.str, Set(c.unicodeScalars), .both)) }
            return .string(strip(v.str, nil, .both))
        case "upper": return .string(v.str.uppercased())
        case "lower": return .string(v.str.lowercased())
        case "capitalize": return .string(capitalize(try string(v)))
        case "title": return .string(jinjaTitle(try string(v)))
        case "string", "safe": return name == "safe" ? v : .string(v.str)
        case "length", "count":
            switch v {
            case let .string(s): return .int(s.unicodeScalars.count)
            case let .list(a), let .tuple(a): return .int(a.count)
            case let .dict(d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw renderError(pos, "object of type '\(v.typeName)' has no len()")
            }
        case "default", "d":
            let fallback = param(0, "default_value") ?? .string("")
            let boolean = param(1, "boolean")?.truthy ?? false
            return v.isUndefined || (boolean && !v.truthy) ? fallback : v
        case "tojson":
            guard let j = v.toJSON(sortKeys: param(3, "sort_keys")?.truthy ?? false) else {
                throw renderError(pos, "Object of type \(v.typeName) is not JSON serializable")
            }
            var indent: String? = nil
            switch param(1, "indent") ?? .none {
            case let .int(n): indent = String(repeating: " ", count: max(n, 0))
            case let .string(s): indent = s
            default: break
            }
            var itemSep: String? = nil, keySep: String? = nil
            if let sep = param(2, "separators"), case let .list(p) = sep.asSequence, p.count == 2 {
                itemSep = p[0].str
                keySep = p[1].str
            }
            return .string(pyJSONDumps(j, indent: indent, itemSep: itemSep, keySep: keySep))
        case "join":
            let sep = param(0, "d")?.str ?? ""
            var items = try sequence(v)
            if let attr = param(1, "attribute") { items = try items.map { try interp.getItem($0, attr, pos) } }
            return .string(items.map(\.str).joined(separator: sep))
        case "first":
            return try sequence(v).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            return try sequence(v).last ?? .undefined("No last item, sequence was empty.")
        case "list":
            return .list(try sequence(v))
        case "reverse":
            if case let .string(s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try sequence(v).reversed())
        case "unique":
            var out: [Value] = []
            for x in try sequence(v) where !out.contains(where: { Value.equal($0, x) }) { out.append(x) }
            return .list(out)
        case "int":
            let fallback = param(0, "default") ?? .int(0)
            switch v {
            case let .int(i): return .int(i)
            case let .bool(b): return .int(b ? 1 : 0)
            case let .double(d): return d.isFinite ? .int(Int(d)) : fallback
            case let .string(s):
                let t = strip(s, nil, .both)
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = param(0, "default") ?? .double(0)
            if let d = v.number { return .double(d) }
            if case let .string(s) = v, let d = Double(strip(s, nil, .both)) { return .double(d) }
            return fallback
        case "abs":
            switch v {
            case let .int(i): return .int(abs(i))
            case let .double(d): return .double(abs(d))
            default: throw renderError(pos, "bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            guard let d = v.number else { throw renderError(pos, "round needs a number") }
            let p = param(0, "precision")?.intValue ?? 0
            let m = pow(10.0, Double(p))
            let method = param(1, "method")?.str ?? "common"
            let scaled = d * m
            let r = method == "ceil" ? scaled.rounded(.up) : method == "floor" ? scaled.rounded(.down) : scaled.rounded(.toNearestOrAwayFromZero)
            return .double(r / m)
        case "replace":
            guard let old = param(0, "old"), let new = param(1, "new") else { throw renderError(pos, "replace needs two arguments") }
            return .string(replace(try string(v), old.str, new.str, count: param(2, "count")?.intValue ?? -1))
        case "items":
            switch v {
            case let .dict(d): return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
            case .undefined: return .list([])
            default: throw renderError(pos, "items filter needs a mapping, got \(v.typeName)")
            }
        case "dictsort":
            guard case let .dict(d) = v else { throw renderError(pos, "dictsort needs a mapping") }
            return .list(d.pairs.sorted { $0.0.lowercased() < $1.0.lowercased() }.map { .tuple([.string($0.0), $0.1]) })
        case "selectattr", "rejectattr", "select", "reject":
            let byAttr = name.hasSuffix("attr")
            var rest = args
            var attr: Value? = nil
            if byAttr {
                guard !rest.isEmpty else { throw renderError(pos, "\(name) needs an attribute name") }
                attr = rest.removeFirst()
            }
            let testName = rest.isEmpty ? nil : rest.removeFirst().str
            if let testName, !testNames.contains(testName) {
                throw ChatTemplateError.unknownTest(name: testName, line: pos.line, column: pos.column)
            }
            let keep = !name.hasPrefix("reject")
            var out: [Value] = []
            for x in try sequence(v) {
                let subject = try attr.map { try interp.getItem(x, $0, pos) } ?? x
                let ok = try testName.map { try test($0, subject, rest, pos) } ?? subject.truthy
                if ok == keep { out.append(x) }
            }
            return .list(out)
        case "map":
            let items = try sequence(v)
            if let attr = kw["attribute"] {
                return .list(try items.map { x in
                    let r = try interp.getItem(x, attr, pos)
                    if r.isUndefined, let d = kw["default"] { return d }
                    return r
                })
            }
            guard let f = args.first?.str else { throw renderError(pos, "map needs a filter name or attribute=") }
            guard filterNames.contains(f) else { throw ChatTemplateError.unknownFilter(name: f, line: pos.line, column: pos.column) }
            return .list(try items.map { try filter(f, $0, Array(args.dropFirst()), [:], pos, &interp) })
        case "sort":
            let reverse = param(0, "reverse")?.truthy ?? false
            let attr = param(2, "attribute")
            let items = try sequence(v)
            var keys: [Value] = []
            for x in items { keys.append(try attr.map { a in try interp.getItem(x, a, pos) } ?? x) }
            var idx = Array(items.indices)
            var failure: Error? = nil
            idx.sort { i, j in
                do { return try compare(reverse ? ">" : "<", keys[i], keys[j], pos) } catch { failure = error; return false }
            }
            if let failure { throw failure }
            return .list(idx.map { items[$0] })
        case "max", "min", "sum":
            let items = try sequence(v)
            if name == "sum" {
                var acc: Value = param(1, "start") ?? .int(0)
                for x in items { acc = try binary("+", acc, x, pos) }
                return acc
            }
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            for x in items.dropFirst() where try compare(name == "max" ? ">" : "<", x, best, pos) { best = x }
            return best
        case "indent":
            let width = param(0, "width")
            let pad = width.map { w -> String in if case let .string(s) = w { return s }; return String(repeating: " ", count: w.intValue ?? 4) } ?? "    "
            let first = param(1, "first")?.truthy ?? false
            let blank = param(2, "blank")?.truthy ?? false
            let lines = try string(v).split(separator: "\n", omittingEmptySubsequences: false)
            var out: [String] = []
            for (i, l) in lines.enumerated() {
                if i == 0 && !first { out.append(String(l)); continue }
                out.append(l.isEmpty && !blank ? "" : pad + l)
            }
            return .string(out.joined(separator: "\n"))
        default:
            throw ChatTemplateError.unknownFilter(name: name, line: pos.line, column: pos.column)
        }
    }

    // MARK: - Globals

    static func callGlobal(_ name: String, _ args: [Value], _ kwargs: [(String, Value)], _ pos: SourcePos,
                           now: @Sendable () -> BrokenDownTime) throws -> Value {
        switch name {
        case "raise_exception":
            throw ChatTemplateError.raised(message: args.first?.str ?? "", line: pos.line, column: pos.column)
        case "namespace", "dict":
            var d = Dict()
            if let first = args.first {
                guard case let .dict(init0) = first else { throw renderError(pos, "\(name)() takes a mapping or keywords") }
                d = init0
            }
            for (k, v) in kwargs { d[k] = v }
            if name == "dict" { return .dict(d) }
            for k in d.keys where k.hasPrefix("_") {
                throw renderError(pos, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(k)'.")
            }
            let ns = Namespace()
            ns.attrs = d
            return .namespace(ns)
        case "strftime_now":
            guard case let .string(fmt) = args.first ?? .none else { throw renderError(pos, "strftime_now needs a format string") }
            return .string(strftime(fmt, now()))
        case "range":
            let ints = args.compactMap(\.intValue)
            guard ints.count == args.count, (1...3).contains(ints.count) else { throw renderError(pos, "range() takes 1 to 3 integers") }
            let (lo, hi, st) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard st != 0 else { throw renderError(pos, "range() arg 3 must not be zero") }
            guard abs((hi - lo) / st) < 1_000_000 else { throw renderError(pos, "range too large") }
            return .list(Array(stride(from: lo, to: hi, by: st)).map { .int($0) })
        default:
            throw renderError(pos, "'\(name)' is not callable")
        }
    }

    // MARK: - Methods

    static func callMethod(_ name: String, _ recv: Value, _ args: [Value], _ kwargs: [(String, Value)], _ pos: SourcePos) throws -> Value {
        func arg(_ i: Int, _ key: String) -> Value? {
            i < args.count ? args[i] : kwargs.first(where: { $0.0 == key })?.1
        }
        if case let .dict(d) = recv {
            switch name {
            case "items": return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
            case "keys": return .list(d.keys.map { .string($0) })
            case "values": return .list(d.pairs.map(\.1))
            case "get":
                guard let k = arg(0, "key") else { throw renderError(pos, "get expected at least 1 argument") }
                if case let .string(ks) = k, let v = d[ks] { return v }
                return arg(1, "default") ?? .none
            default: break
            }
        }
        guard case let .string(s) = recv else { throw renderError(pos, "'\(recv.typeName)' object has no method '\(name)'") }
        func chars(_ i: Int) -> Set<Unicode.Scalar>? {
            guard let a = arg(i, "chars"), case let .string(c) = a else { return nil }
            return Set(c.unicodeScalars)
        }
        switch name {
        case "strip": return .string(strip(s, chars(0), .both))
        case "lstrip": return .string(strip(s, chars(0), .leading))
        case "rstrip": return .string(strip(s, chars(0), .trailing))
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "capitalize": return .string(capitalize(s))
        case "title": return .string(pyTitle(s))
        case "split":
            let sep = arg(0, "sep")
            let maxsplit = arg(1, "maxsplit")?.intValue ?? -1
            if let sep, case let .string(sp) = sep {
                guard !sp.isEmpty else { throw renderError(pos, "empty separator") }
                return .list(split(s, sp, maxsplit).map { .string($0) })
            }
            return .list(splitWhitespace(s, maxsplit).map { .string($0) })
        case "startswith", "endswith":
            guard let a = arg(0, "prefix") else { throw renderError(pos, "\(name) takes at least 1 argument") }
            let options: [String]
            switch a {
            case let .string(x): options = [x]
            case let .tuple(xs), let .list(xs): options = xs.map(\.str)
            default: throw renderError(pos, "\(name) first arg must be str or a tuple of str, not \(a.typeName)")
            }
            let u = Array(s.unicodeScalars)
            return .bool(options.contains { o in
                let ou = Array(o.unicodeScalars)
                return name == "startswith" ? u.starts(with: ou) : u.reversed().starts(with: ou.reversed())
            })
        case "replace":
            guard let old = arg(0, "old"), let new = arg(1, "new") else { throw renderError(pos, "replace takes 2 arguments") }
            return .string(replace(s, old.str, new.str, count: arg(2, "count")?.intValue ?? -1))
        case "find":
            guard let sub = arg(0, "sub")?.str else { throw renderError(pos, "find takes 1 argument") }
            let u = Array(s.unicodeScalars), su = Array(sub.unicodeScalars)
            if su.isEmpty { return .int(0) }
            if u.count >= su.count {
                for i in 0...(u.count - su.count) where Array(u[i..<(i + su.count)]) == su { return .int(i) }
            }
            return .int(-1)
        case "count":
            guard let sub = arg(0, "sub")?.str, !sub.isEmpty else { throw renderError(pos, "count takes a non-empty string") }
            return .int(split(s, sub, -1).count - 1)
        case "join":
            guard let a = arg(0, "iterable") else { throw renderError(pos, "join takes 1 argument") }
            switch a {
            case let .list(xs), let .tuple(xs):
                var parts: [String] = []
                for x in xs {
                    guard case let .string(p) = x else { throw renderError(pos, "sequence item: expected str instance, \(x.typeName) found") }
                    parts.append(p)
                }
                return .string(parts.joined(separator: s))
            default: throw renderError(pos, "can only join an iterable")
            }
        default:
            throw renderError(pos, "'str' object has no method '\(name)'")
        }
    }
}

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

private func pow(_ x: Double, _ y: Double) -> Double {
    if y == y.rounded() && abs(y) < 64 {
        var r = 1.0
        for _ in 0..<Int(abs(y)) { r *= x }
        return y < 0 ? 1 / r : r
    }
    return expApprox(y * logApprox(x))
}

// Non-integral powers are not used by chat templates; kept dependency-free and approximate.
private func logApprox(_ x: Double) -> Double {
    guard x > 0 else { return .nan }
    var m = x, e = 0.0
    while m > 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    let t = (m - 1) / (m + 1)
    var sum = 0.0, term = t
    for k in stride(from: 1, to: 60, by: 2) { sum += term / Double(k); term *= t * t }
    return 2 * sum + e * 0.6931471805599453
}

private func expApprox(_ x: Double) -> Double {
    var sum = 1.0, term = 1.0
    for k in 1..<60 { term *= x / Double(k); sum += term }
    return sum
}
