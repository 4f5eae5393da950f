#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Python operator semantics: numeric tower with bool as int, floor division and modulo, str/list concatenation.
extension Builtins {

    static func binary(_ op: String, _ a: Value, _ b: Value, _ pos: SourcePos) throws -> Value {
        if op == "~" { return .string(a.str + b.str) }
        if case let .undefined(m) = a { throw renderError(pos, m) }
        if case let .undefined(m) = b { throw renderError(pos, m) }
        func typeError() -> ChatTemplateError {
            if op == "+", case .string = a { return renderError(pos, "can only concatenate str (not \"\(b.typeName)\") to str") }
            if op == "+", case .list = a { return renderError(pos, "can only concatenate list (not \"\(b.typeName)\") to list") }
            let spelled = op == "**" ? "** or pow()" : op
            return renderError(pos, "unsupported operand type(s) for \(spelled): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch (op, a, b) {
        case let ("%", .string(x), _): return try percentFormat(x, b, pos)
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
                if y < 0 { return .double(pyPow(Double(x), Double(y))) }
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
            case "**": return .double(pyPow(x, y))
            default: break
            }
        }
        throw typeError()
    }

    static func unary(_ op: String, _ v: Value, _ pos: SourcePos) throws -> Value {
        if case let .undefined(m) = v { throw renderError(pos, m) }
        switch (op, v) {
        case ("-", .int(let i)): return .int(-i)
        case ("-", .double(let d)): return .double(-d)
        case ("-", .bool(let b)): return .int(b ? -1 : 0)
        case ("+", .int), ("+", .double): return v
        case ("+", .bool(let b)): return .int(b ? 1 : 0)
        default: throw renderError(pos, "bad operand type for unary \(op): '\(v.typeName)'")
        }
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
}

/// Python's float `**` (C `pow`); a negative base with a fractional exponent gives nan where Python gives complex.
func pyPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

/// Python's `str % args` for the conversions templates could use: `%s %r %d %i %f %%`.
/// A tuple supplies one value per directive; a dict or list with no directives leaves the text as is (Python treats
/// them as a mapping).
private func percentFormat(_ format: String, _ arg: Value, _ pos: SourcePos) throws -> Value {
    var values: [Value]
    switch arg {
    case let .tuple(t): values = t
    default: values = [arg]
    }
    var out = ""
    var it = format.makeIterator()
    var used = 0
    while let c = it.next() {
        guard c == "%" else { out.append(c); continue }
        guard let d = it.next() else { throw renderError(pos, "incomplete format") }
        if d == "%" { out.append("%"); continue }
        guard used < values.count else { throw renderError(pos, "not enough arguments for format string") }
        let v = values[used]
        used += 1
        switch d {
        case "s": out += v.str
        case "r": out += v.repr
        case "d", "i":
            guard let n = v.number else { throw renderError(pos, "%\(d) format: a real number is required, not \(v.typeName)") }
            out += String(Int(n.rounded(.towardZero)))
        case "f":
            guard let n = v.number else { throw renderError(pos, "%f format: a real number is required, not \(v.typeName)") }
            out += fixed6(n)
        default:
            throw renderError(pos, "unsupported format character '\(d)'")
        }
    }
    if used < values.count {
        switch arg {
        case .dict, .list: break
        case .tuple where values.isEmpty: break
        default: throw renderError(pos, "not all arguments converted during string formatting")
        }
    }
    return .string(out)
}

/// `%f`: six decimals, rounded half-even on the exact binary value like C's printf.
private func fixed6(_ x: Double) -> String {
    let neg = x < 0
    let scaled = (abs(x) * 1_000_000).rounded(.toNearestOrEven)
    guard scaled < 9e18 else { return pyFloat(x) }
    let n = Int64(scaled)
    let frac = String(n % 1_000_000)
    return (neg ? "-" : "") + String(n / 1_000_000) + "." + String(repeating: "0", count: 6 - frac.count) + frac
}
