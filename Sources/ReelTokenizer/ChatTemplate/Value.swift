import ReelCore

/// A runtime value, with Python's semantics for printing, truth, equality and arithmetic.
enum Value: @unchecked Sendable {
    /// Jinja's default Undefined: prints "", is falsy, fails when used as an object. Carries the name for errors.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case tuple([Value])
    case dict(Dict)
    case namespace(Namespace)
    case macro(MacroDef)
    case builtin(String)
    /// A method bound to its receiver, e.g. `"a b".split`.
    case method(String, Box)

    init(json: JSON) {
        switch json {
        case .null: self = .none
        case let .bool(b): self = .bool(b)
        case let .int(i): self = .int(Int(i))
        case let .double(d): self = .double(d)
        case let .string(s): self = .string(s)
        case let .array(a): self = .list(a.map { Value(json: $0) })
        case let .object(o):
            var d = Dict()
            for (k, v) in o { d[k] = Value(json: v) }
            self = .dict(d)
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true }; return false }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .double(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .list(a), let .tuple(a): return !a.isEmpty
        case let .dict(d): return d.count > 0
        case .namespace, .macro, .builtin, .method: return true
        }
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .macro: return "Macro"
        case .builtin, .method: return "function"
        }
    }

    /// `str(x)`, which `{{ x }}` prints (Undefined prints "").
    var str: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .double(d): return pyFloat(d)
        case let .string(s): return s
        case .list, .tuple, .dict: return repr
        case .namespace: return "<Namespace>"
        case let .macro(m): return "<Macro '\(m.name)'>"
        case let .builtin(n), let .method(n, _): return "<function \(n)>"
        }
    }

    /// `repr(x)`, used inside printed containers.
    var repr: String {
        switch self {
        case let .string(s): return pyRepr(s)
        case let .list(a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case let .tuple(a): return "(" + a.map(\.repr).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case let .dict(d): return "{" + d.pairs.map { pyRepr($0.0) + ": " + $0.1.repr }.joined(separator: ", ") + "}"
        case .undefined: return "Undefined"
        default: return str
        }
    }

    /// Python `==` (1 == 1.0 == True; containers compare deeply; Undefined equals Undefined).
    static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case let (.dict(x), .dict(y)):
            return x.count == y.count && x.pairs.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        case let (.namespace(x), .namespace(y)): return x === y
        default:
            if let x = a.number, let y = b.number { return x == y }
            return false
        }
    }

    /// A numeric view (bool counts as int, as in Python).
    var number: Double? {
        switch self {
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    var intValue: Int? {
        switch self {
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return i
        default: return nil
        }
    }

    /// The value as JSON, for `tojson`.
    func toJSON(sortKeys: Bool = false) -> JSON? {
        switch self {
        case .none: return .null
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(Int64(i))
        case let .double(d): return .double(d)
        case let .string(s): return .string(s)
        case let .list(a), let .tuple(a):
            var out: [JSON] = []
            for v in a { guard let j = v.toJSON(sortKeys: sortKeys) else { return nil }; out.append(j) }
            return .array(out)
        case let .dict(d):
            var o = JSONObject()
            let pairs = sortKeys ? d.pairs.sorted { $0.0 < $1.0 } : d.pairs
            for (k, v) in pairs { guard let j = v.toJSON(sortKeys: sortKeys) else { return nil }; o[k] = j }
            return .object(o)
        case let .namespace(ns): return Value.dict(ns.attrs).toJSON(sortKeys: sortKeys)
        default: return nil
        }
    }
}

/// An insertion-ordered dict with string keys (chat messages and tool schemas only use string keys).
struct Dict: Sendable {
    private(set) var keys: [String] = []
    private var map: [String: Value] = [:]

    var count: Int { keys.count }
    var pairs: [(String, Value)] { keys.map { ($0, map[$0]!) } }

    subscript(key: String) -> Value? {
        get { map[key] }
        set {
            if let newValue {
                if map.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if map.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
}

/// `namespace(...)`: the one mutable object templates have (`{% set ns.found = true %}`).
final class Namespace: @unchecked Sendable {
    var attrs = Dict()
}

/// Holds a method's receiver.
final class Box: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent below 1e-4 and from 1e16.
func pyFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    if d == d.rounded() && abs(d) < 1e16 {
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        return String(Int64(d)) + ".0"
    }
    // Swift's description is shortest round-trip too; only its exponent threshold and spelling differ.
    let desc = "\(d)"
    let mag = abs(d)
    if mag >= 1e-4 && mag < 1e16 {
        if !desc.contains("e") { return desc }
        // Swift uses an exponent above 2^53; Python writes these positionally.
        return positional(desc)
    }
    if desc.contains("e") {
        // "1e-05" / "1.5e+16": Swift already pads the exponent to two digits and writes the sign.
        return desc
    }
    return exponential(desc)
}

/// "9.1e+15" → "9100000000000000.0".
private func positional(_ s: String) -> String {
    let parts = s.split(separator: "e")
    guard parts.count == 2, let exp = Int(parts[1]) else { return s }
    var mant = String(parts[0])
    let neg = mant.hasPrefix("-")
    if neg { mant.removeFirst() }
    let comps = mant.split(separator: ".", omittingEmptySubsequences: false)
    var digits = String(comps[0]) + (comps.count > 1 ? String(comps[1]) : "")
    let point = comps[0].count + exp
    if point >= digits.count {
        digits += String(repeating: "0", count: point - digits.count)
        return (neg ? "-" : "") + digits + ".0"
    }
    let idx = digits.index(digits.startIndex, offsetBy: max(point, 0))
    return (neg ? "-" : "") + digits[..<idx] + "." + digits[idx...]
}

/// "0.00001" → "1e-05" (positional spellings Swift uses where Python switches to an exponent).
private func exponential(_ s: String) -> String {
    var t = s
    let neg = t.hasPrefix("-")
    if neg { t.removeFirst() }
    let comps = t.split(separator: ".", omittingEmptySubsequences: false)
    let all = String(comps[0]) + (comps.count > 1 ? String(comps[1]) : "")
    guard let firstNZ = all.firstIndex(where: { $0 != "0" }) else { return s }
    let pos = all.distance(from: all.startIndex, to: firstNZ)
    let exp = comps[0].count - pos - 1
    var sig = String(all[firstNZ...])
    while sig.count > 1 && sig.hasSuffix("0") { sig.removeLast() }
    let mant = sig.count > 1 ? String(sig.prefix(1)) + "." + String(sig.dropFirst()) : sig
    let e = abs(exp) < 10 ? "0\(abs(exp))" : "\(abs(exp))"
    return (neg ? "-" : "") + mant + "e" + (exp < 0 ? "-" : "+") + e
}

/// Python's `repr(str)`: single quotes unless the text has ' and no ".
func pyRepr(_ s: String) -> String {
    let q: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(q)
    for u in s.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(u) == q {
                out += "\\" + String(q)
            } else if u.value < 0x20 || u.value == 0x7F {
                let h = String(u.value, radix: 16)
                out += "\\x" + String(repeating: "0", count: 2 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    out.append(q)
    return out
}

/// Python's `json.dumps(x, ensure_ascii=False, indent=indent, separators=separators)`.
func pyJSONDumps(_ j: JSON, indent: String?, itemSep: String?, keySep: String?) -> String {
    var out = ""
    let item = itemSep ?? (indent == nil ? ", " : ",")
    let key = keySep ?? ": "
    func write(_ v: JSON, _ level: Int) {
        switch v {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d): out += d.isFinite ? pyFloat(d) : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"))
        case let .string(s): JSON.escape(s, into: &out)
        case let .array(a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += item }
                if let indent { out += "\n" + String(repeating: indent, count: level + 1) }
                write(x, level + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case let .object(o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            for (i, kv) in o.enumerated() {
                if i > 0 { out += item }
                if let indent { out += "\n" + String(repeating: indent, count: level + 1) }
                JSON.escape(kv.key, into: &out)
                out += key
                write(kv.value, level + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "}"
        }
    }
    write(j, 0)
    return out
}

