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
