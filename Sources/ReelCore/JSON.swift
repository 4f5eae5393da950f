import CJSONC

/// A JSON value. Objects keep their keys in source order so a config copied verbatim reads the same.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// Parses UTF-8 JSON text with json-c.
    /// - Parameters:
    ///   - bytes: the text; need not be NUL-terminated.
    ///   - source: names the file or block in error messages.
    public static func parse(_ bytes: UnsafeRawBufferPointer, source: String) throws -> JSON {
        guard let tok = json_tokener_new_ex(256) else { throw JSONError.parse(source: source, message: "out of memory") }
        defer { json_tokener_free(tok) }
        // RFC 8259 text must be UTF-8; without VALIDATE_UTF8 json-c passes invalid bytes through to Swift's decoder,
        // which silently replaces them (two distinct invalid names could then compare equal).
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        guard bytes.count < Int(Int32.max) else {
            throw JSONError.parse(source: source, message: "document of \(bytes.count) bytes is too large")
        }
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        let obj = bytes.count == 0 ? nil : json_tokener_parse_ex(tok, base, Int32(bytes.count))
        let err = json_tokener_get_error(tok)
        if err != json_tokener_success || bytes.count == 0 {
            if let obj { json_object_put(obj) }
            let msg = bytes.count == 0 ? "empty document"
                : (err == json_tokener_continue ? "unexpected end of document" : String(cString: json_tokener_error_desc(err)))
            throw JSONError.parse(source: source, message: "\(msg) (near byte \(json_tokener_get_parse_end(tok)))")
        }
        let end = json_tokener_get_parse_end(tok)
        if end < bytes.count {
            // Only whitespace may follow the document.
            for i in end..<bytes.count where ![0x20, 0x09, 0x0A, 0x0D, 0x00].contains(bytes[i]) {
                json_object_put(obj)
                throw JSONError.parse(source: source, message: "trailing data at byte \(i)")
            }
        }
        defer { json_object_put(obj) }
        let value = try convert(obj, source: source, depth: 0)
        // json-c keeps the last of duplicate keys without a word; a top-level duplicate (a tensor named twice) is an error.
        if case let .object(o) = value, let dup = duplicateTopLevelKey(bytes, distinctKeys: o.count) {
            throw JSONError.parse(source: source, message: "duplicate key \"\(dup)\"")
        }
        return value
    }

    /// Scans the raw text of a top-level object; returns a key that occurs twice, if the raw key count exceeds `distinctKeys`.
    private static func duplicateTopLevelKey(_ b: UnsafeRawBufferPointer, distinctKeys: Int) -> String? {
        var depth = 0, i = 0, expectKey = false
        var seen = Set<[UInt8]>()
        var count = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < b.count && b[j] != UInt8(ascii: "\"") { j += b[j] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1 && expectKey {
                    let key = Array(b[(i + 1)..<min(j, b.count)])
                    count += 1
                    if !seen.insert(key).inserted { return String(decoding: key, as: UTF8.self) }
                    expectKey = false
                }
                i = j + 1
                continue
            }
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; if depth == 1 { expectKey = true }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): if depth == 1 { expectKey = true }
            default: break
            }
            i += 1
        }
        // Raw keys all differ but json-c merged some: the same key spelled with escapes ("a" and "\u0061").
        return count > distinctKeys ? "(a key written in two spellings)" : nil
    }

    /// Parses a Swift string.
    public static func parse(_ text: String, source: String) throws -> JSON {
        var t = text
        return try t.withUTF8 { try parse(UnsafeRawBufferPointer($0), source: source) }
    }

    /// Parses a byte array.
    public static func parse(_ bytes: [UInt8], source: String) throws -> JSON {
        try bytes.withUnsafeBytes { try parse($0, source: source) }
    }

    private static func convert(_ o: OpaquePointer?, source: String, depth: Int) throws -> JSON {
        guard let o else { return .null }
        switch json_object_get_type(o) {
        case json_type_null: return .null
        case json_type_boolean: return .bool(json_object_get_boolean(o) != 0)
        case json_type_double: return .double(json_object_get_double(o))
        case json_type_int:
            // json-c keeps values above Int64.max as uint64 (tokenizer configs write 1000000000000000019884624838656
            // for "no limit"); such a value is read as a double. json-c clamps integers past 2⁶⁴ to 2⁶⁴.
            if json_object_get_int64(o) == Int64.max && json_object_get_uint64(o) > UInt64(Int64.max) {
                return .double(json_object_get_double(o))
            }
            return .int(json_object_get_int64(o))
        case json_type_string:
            let len = Int(json_object_get_string_len(o))
            guard let p = json_object_get_string(o) else { return .string("") }
            let buf = UnsafeRawBufferPointer(start: p, count: len)
            return .string(String(decoding: buf, as: UTF8.self))
        case json_type_array:
            let n = json_object_array_length(o)
            var out: [JSON] = []
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try convert(json_object_array_get_idx(o, i), source: source, depth: depth + 1)) }
            return .array(out)
        case json_type_object:
            var result = JSONObject()
            var it = json_object_iter_begin(o)
            var end = json_object_iter_end(o)
            while json_object_iter_equal(&it, &end) == 0 {
                let name = String(cString: json_object_iter_peek_name(&it))
                let value = try convert(json_object_iter_peek_value(&it), source: source, depth: depth + 1)
                result[name] = value
                json_object_iter_next(&it)
            }
            return .object(result)
        default:
            throw JSONError.parse(source: source, message: "unknown JSON type")
        }
    }
}

/// An insertion-ordered JSON object.
public struct JSONObject: Equatable, Sendable, Sequence {
    public private(set) var keys: [String] = []
    private var values: [String: JSON] = [:]

    public init() {}
    public init(_ pairs: [(String, JSON)]) { for (k, v) in pairs { self[k] = v } }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> JSON? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: JSON)> {
        var i = 0
        return AnyIterator {
            guard i < keys.count else { return nil }
            defer { i += 1 }
            return (keys[i], values[keys[i]]!)
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.values == b.values }
}

/// Errors from parsing or reading JSON, each naming the document and key.
public enum JSONError: Error, CustomStringConvertible, Equatable {
    case parse(source: String, message: String)
    case missingKey(source: String, key: String)
    case wrongType(source: String, key: String, expected: String)

    public var description: String {
        switch self {
        case let .parse(source, message): return "\(source): invalid JSON: \(message)"
        case let .missingKey(source, key): return "\(source): missing key \"\(key)\""
        case let .wrongType(source, key, expected): return "\(source): key \"\(key)\" should be \(expected)"
        }
    }
}

// MARK: - Accessors

extension JSON {
    public subscript(key: String) -> JSON? {
        if case let .object(o) = self { return o[key] }
        return nil
    }
    public subscript(index: Int) -> JSON? {
        if case let .array(a) = self, index >= 0, index < a.count { return a[index] }
        return nil
    }
    public var object: JSONObject? { if case let .object(o) = self { return o }; return nil }
    public var array: [JSON]? { if case let .array(a) = self { return a }; return nil }
    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
    /// An integer; a double is accepted only when it is integral.
    public var int: Int? {
        switch self {
        case let .int(i): return Int(exactly: i)
        case let .double(d): return d.rounded() == d && abs(d) < 9e15 ? Int(d) : nil
        default: return nil
        }
    }
    /// A number as Double (int or double).
    public var double: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }
}

// MARK: - Serialisation

extension JSON {
    /// Deterministic JSON text: keys in insertion order, shortest round-trip doubles.
    /// - Parameter pretty: indent nested values by two spaces.
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(to out: inout String, pretty: Bool, indent: Int) {
        let nl = pretty ? "\n" : ""
        let pad = { (n: Int) in pretty ? String(repeating: "  ", count: n) : "" }
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d):
            if d.isFinite {
                out += d.rounded() == d && abs(d) < 1e15 ? String(format1: d) : "\(d)"
            } else { out += "null" }  // JSON has no NaN/Inf
        case let .string(s): JSON.escape(s, into: &out)
        case let .array(a):
            if a.isEmpty { out += "[]"; return }
            out += "[" + nl
            for (i, v) in a.enumerated() {
                out += pad(indent + 1)
                v.write(to: &out, pretty: pretty, indent: indent + 1)
                out += (i + 1 < a.count ? "," : "") + nl
            }
            out += pad(indent) + "]"
        case let .object(o):
            if o.isEmpty { out += "{}"; return }
            out += "{" + nl
            for (i, kv) in o.enumerated() {
                out += pad(indent + 1)
                JSON.escape(kv.key, into: &out)
                out += pretty ? ": " : ":"
                kv.value.write(to: &out, pretty: pretty, indent: indent + 1)
                out += (i + 1 < o.count ? "," : "") + nl
            }
            out += pad(indent) + "}"
        }
    }

    /// Appends `s` as a JSON string literal, escaped as Python's `json.dumps(ensure_ascii=False)` does: the short
    /// escapes for `" \\ \n \r \t \b \f`, `\u00XX` for other control characters, everything else as is.
    public static func escape(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}

private extension String {
    /// An integral double written with one decimal so it reads back as a double ("2.0").
    init(format1 d: Double) { self = "\(Int64(d)).0" }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
                ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral v: String) { self = .string(v) }
    public init(integerLiteral v: Int) { self = .int(Int64(v)) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(floatLiteral v: Double) { self = .double(v) }
    public init(arrayLiteral v: JSON...) { self = .array(v) }
    public init(dictionaryLiteral v: (String, JSON)...) { self = .object(JSONObject(v)) }
}
