/// One filter application: `value | name(args, key=value)`.
struct FilterCall {
    let name: String
    let args: [Value]
    let kw: [String: Value]
    let pos: SourcePos

    /// The i-th positional argument, or the keyword of that name (Jinja filters accept either).
    func param(_ i: Int, _ key: String) -> Value? { i < args.count ? args[i] : kw[key] }

    /// Iterates like Python: lists, dict keys, characters; Undefined is empty.
    func sequence(_ x: Value) throws -> [Value] {
        switch x {
        case let .list(a), let .tuple(a): return a
        case let .dict(d): return d.keys.map { .string($0) }
        case let .string(s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw renderError(pos, "'\(x.typeName)' object is not iterable")
        }
    }
}

/// Jinja's built-in filters (jinja2/filters.py) with transformers' `tojson`.
extension Builtins {
    static func filter(_ name: String, _ v: Value, _ args: [Value], _ kw: [String: Value], _ pos: SourcePos,
                       _ interp: inout Interpreter) throws -> Value {
        let c = FilterCall(name: name, args: args, kw: kw, pos: pos)
        if let r = try textFilter(c, v) { return r }
        if let r = try valueFilter(c, v) { return r }
        if let r = try sequenceFilter(c, v, &interp) { return r }
        throw ChatTemplateError.unknownFilter(name: name, line: pos.line, column: pos.column)
    }

    /// Filters on text; like Jinja they read Undefined as "".
    private static func textFilter(_ c: FilterCall, _ v: Value) throws -> Value? {
        switch c.name {
        case "trim":
            if let chars = c.param(0, "chars"), case let .string(cs) = chars {
                return .string(strip(v.str, Set(cs.unicodeScalars), .both))
            }
            return .string(strip(v.str, nil, .both))
        case "upper": return .string(v.str.uppercased())
        case "lower": return .string(v.str.lowercased())
        case "capitalize": return .string(capitalize(v.str))
        case "title": return .string(jinjaTitle(v.str))
        case "string": return .string(v.str)
        case "replace":
            guard let old = c.param(0, "old"), let new = c.param(1, "new") else {
                throw renderError(c.pos, "replace needs two arguments")
            }
            return .string(replace(v.str, old.str, new.str, count: c.param(2, "count")?.intValue ?? -1))
        case "indent":
            let pad: String
            switch c.param(0, "width") {
            case let .string(s)?: pad = s
            case let w?: pad = String(repeating: " ", count: w.intValue ?? 4)
            case nil: pad = "    "
            }
            let first = c.param(1, "first")?.truthy ?? false
            let blank = c.param(2, "blank")?.truthy ?? false
            let lines = v.str.split(separator: "\n", omittingEmptySubsequences: false)
            let out = lines.enumerated().map { i, l -> String in
                if i == 0 && !first { return String(l) }
                return l.isEmpty && !blank ? "" : pad + l
            }
            return .string(out.joined(separator: "\n"))
        default:
            return nil
        }
    }

    /// Filters on single values: defaults, conversions, numbers, `tojson`, mappings.
    private static func valueFilter(_ c: FilterCall, _ v: Value) throws -> Value? {
        switch c.name {
        case "safe": return v
        case "default", "d":
            let fallback = c.param(0, "default_value") ?? .string("")
            let boolean = c.param(1, "boolean")?.truthy ?? false
            return v.isUndefined || (boolean && !v.truthy) ? fallback : v
        case "tojson": return try toJSON(c, v)
        case "int": return toInt(v, fallback: c.param(0, "default") ?? .int(0))
        case "float":
            if let d = v.number { return .double(d) }
            if case let .string(s) = v, let d = pyParseFloat(s) { return .double(d) }
            return c.param(0, "default") ?? .double(0)
        case "abs":
            switch v {
            case let .int(i): return .int(abs(i))
            case let .double(d): return .double(abs(d))
            case let .bool(b): return .int(b ? 1 : 0)
            default: throw renderError(c.pos, "bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            guard let d = v.number else { throw renderError(c.pos, "round needs a number") }
            let m = pyPow(10, Double(c.param(0, "precision")?.intValue ?? 0))
            let rule: FloatingPointRoundingRule
            switch c.param(1, "method")?.str ?? "common" {
            case "ceil": rule = .up
            case "floor": rule = .down
            default: rule = .toNearestOrAwayFromZero
            }
            return .double((d * m).rounded(rule) / m)
        case "items":
            switch v {
            case let .dict(d): return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
            case .undefined: return .list([])
            default: throw renderError(c.pos, "Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case let .dict(d) = v else { throw renderError(c.pos, "dictsort needs a mapping") }
            let sorted = d.pairs.sorted { $0.0.lowercased() < $1.0.lowercased() }
            return .list(sorted.map { .tuple([.string($0.0), $0.1]) })
        case "length", "count":
            switch v {
            case let .string(s): return .int(s.unicodeScalars.count)
            case let .list(a), let .tuple(a): return .int(a.count)
            case let .dict(d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw renderError(c.pos, "object of type '\(v.typeName)' has no len()")
            }
        default:
            return nil
        }
    }

    /// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)`.
    private static func toJSON(_ c: FilterCall, _ v: Value) throws -> Value {
        guard let j = v.toJSON(sortKeys: c.param(3, "sort_keys")?.truthy ?? false) else {
            throw renderError(c.pos, "Object of type \(v.typeName) is not JSON serializable")
        }
        var indent: String? = nil
        switch c.param(1, "indent") ?? .none {
        case let .int(n): indent = String(repeating: " ", count: max(n, 0))
        case let .string(s): indent = s
        default: break
        }
        var itemSep: String? = nil, keySep: String? = nil
        if let sep = c.param(2, "separators"), case let .list(p) = sep.asSequence, p.count == 2 {
            itemSep = p[0].str
            keySep = p[1].str
        }
        return .string(pyJSONDumps(j, indent: indent, itemSep: itemSep, keySep: keySep))
    }

    private static func toInt(_ v: Value, fallback: Value) -> Value {
        switch v {
        case let .int(i): return .int(i)
        case let .bool(b): return .int(b ? 1 : 0)
        case let .double(d): return d.isFinite ? .int(Int(d)) : fallback
        case let .string(s):
            if let i = pyParseInt(s) { return .int(i) }
            if let d = pyParseFloat(s), d.isFinite, abs(d) < 9e18 { return .int(Int(d)) }
            return fallback
        default: return fallback
        }
    }

    /// Filters over sequences: picking, reordering, selecting, mapping, aggregating.
    private static func sequenceFilter(_ c: FilterCall, _ v: Value, _ interp: inout Interpreter) throws -> Value? {
        switch c.name {
        case "join":
            var items = try c.sequence(v)
            if let attr = c.param(1, "attribute") { items = try items.map { try interp.getItem($0, attr, c.pos) } }
            return .string(items.map(\.str).joined(separator: c.param(0, "d")?.str ?? ""))
        case "first": return try c.sequence(v).first ?? .undefined("No first item, sequence was empty.")
        case "last": return try c.sequence(v).last ?? .undefined("No last item, sequence was empty.")
        case "list": return .list(try c.sequence(v))
        case "reverse":
            switch v {
            case let .string(s): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
            case .list, .tuple, .dict, .undefined: return .list(try c.sequence(v).reversed())
            default: throw renderError(c.pos, "argument must be iterable")
            }
        case "unique":
            var out: [Value] = []
            for x in try c.sequence(v) where !out.contains(where: { Value.equal($0, x) }) { out.append(x) }
            return .list(out)
        case "selectattr", "rejectattr", "select", "reject":
            return try select(c, v, &interp)
        case "map":
            // Jinja's map and select skip a falsy input (`if value:`) instead of iterating it.
            let items = v.truthy ? try c.sequence(v) : []
            if let attr = c.kw["attribute"] {
                return .list(try items.map { x in
                    let r = try interp.getItem(x, attr, c.pos)
                    return r.isUndefined ? (c.kw["default"] ?? r) : r
                })
            }
            guard let f = c.args.first?.str else { throw renderError(c.pos, "map needs a filter name or attribute=") }
            guard filterNames.contains(f) else { throw ChatTemplateError.unknownFilter(name: f, line: c.pos.line, column: c.pos.column) }
            return .list(try items.map { try filter(f, $0, Array(c.args.dropFirst()), [:], c.pos, &interp) })
        case "sort":
            let items = try c.sequence(v)
            let attr = c.param(2, "attribute")
            var keys: [Value] = []
            for x in items { keys.append(try attr.map { try interp.getItem(x, $0, c.pos) } ?? x) }
            let op = (c.param(0, "reverse")?.truthy ?? false) ? ">" : "<"
            var failure: Error? = nil
            let order = items.indices.sorted { i, j in
                do { return try compare(op, keys[i], keys[j], c.pos) } catch { failure = error; return false }
            }
            if let failure { throw failure }
            return .list(order.map { items[$0] })
        case "max", "min":
            let items = try c.sequence(v)
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            for x in items.dropFirst() where try compare(c.name == "max" ? ">" : "<", x, best, c.pos) { best = x }
            return best
        case "sum":
            var acc: Value = c.param(1, "start") ?? .int(0)
            for x in try c.sequence(v) { acc = try binary("+", acc, x, c.pos) }
            return acc
        default:
            return nil
        }
    }

    /// `select`/`reject` (test on the item) and `selectattr`/`rejectattr` (test on an attribute of it).
    private static func select(_ c: FilterCall, _ v: Value, _ interp: inout Interpreter) throws -> Value {
        var rest = c.args
        var attr: Value? = nil
        if c.name.hasSuffix("attr") {
            guard !rest.isEmpty else { throw renderError(c.pos, "\(c.name) needs an attribute name") }
            attr = rest.removeFirst()
        }
        let testName = rest.isEmpty ? nil : rest.removeFirst().str
        if let testName, !testNames.contains(testName) {
            throw ChatTemplateError.unknownTest(name: testName, line: c.pos.line, column: c.pos.column)
        }
        let keep = !c.name.hasPrefix("reject")
        var out: [Value] = []
        for x in v.truthy ? try c.sequence(v) : [] {
            let subject = try attr.map { try interp.getItem(x, $0, c.pos) } ?? x
            let ok = try testName.map { try test($0, subject, rest, c.pos) } ?? subject.truthy
            if ok == keep { out.append(x) }
        }
        return .list(out)
    }
}
