import ReelCore

/// Raw-text checks that json-c cannot make, because it keeps the last of duplicate keys without a word.

/// The first key that occurs twice in any one object of `text`, with the key path of that object
/// ("the top level", "weight_map", "model.norm.weight"). Escaped keys are compared after decoding,
/// so `"a"` and `"\u0061"` collide. Malformed text yields nil: the JSON parser reports it.
func firstDuplicateKey(_ text: UnsafeRawBufferPointer) -> (object: String, key: String)? {
    struct Frame { var isObject: Bool; var keys: Set<String>; var expectKey: Bool; var name: String }
    var stack: [Frame] = []
    var lastKey = ""
    var i = 0
    let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    while i < text.count {
        let c = text[i]
        if c == quote {
            var j = i + 1
            var escaped = false
            while j < text.count && text[j] != quote {
                if text[j] == backslash { escaped = true; j += 1 }
                j += 1
            }
            guard j < text.count else { return nil }
            if var top = stack.last, top.isObject, top.expectKey {
                let raw = UnsafeRawBufferPointer(rebasing: text[(i + 1)..<j])
                let key = decodeKey(raw, escaped: escaped)
                if !top.keys.insert(key).inserted { return (top.name, key) }
                top.expectKey = false
                stack[stack.count - 1] = top
                lastKey = key
            }
            i = j + 1
            continue
        }
        switch c {
        case UInt8(ascii: "{"):
            let name: String
            if let top = stack.last {
                name = stack.count == 1 ? lastKey : (top.isObject ? "\(top.name).\(lastKey)" : "\(top.name)[]")
            } else {
                name = "the top level"
            }
            stack.append(Frame(isObject: true, keys: [], expectKey: true, name: name))
        case UInt8(ascii: "["):
            let name = stack.last.map { stack.count == 1 ? lastKey : "\($0.name).\(lastKey)" } ?? "the top level"
            stack.append(Frame(isObject: false, keys: [], expectKey: false, name: name))
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            if stack.popLast() == nil { return nil }
            if stack.isEmpty { return nil }
        case UInt8(ascii: ","):
            if stack.last?.isObject == true { stack[stack.count - 1].expectKey = true }
        default:
            break
        }
        i += 1
    }
    return nil
}

private func decodeKey(_ raw: UnsafeRawBufferPointer, escaped: Bool) -> String {
    if escaped, let decoded = try? JSON.parse(Array("\"".utf8) + Array(raw) + Array("\"".utf8), source: "key").string {
        return decoded
    }
    return String(decoding: raw, as: UTF8.self)
}

/// The offset of the first byte that is not part of well-formed UTF-8 (no overlongs, surrogates or
/// values past U+10FFFF), or nil when all of `bytes` is well-formed.
func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {
        let b0 = bytes[i]
        if b0 < 0x80 { i += 1; continue }
        let len: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF  // allowed range of the second byte
        switch b0 {
        case 0xC2...0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1...0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: return i
        }
        guard i + len <= n else { return i }
        guard bytes[i + 1] >= lo && bytes[i + 1] <= hi else { return i }
        for k in 2..<max(2, len) where bytes[i + k] & 0xC0 != 0x80 { return i }
        i += len
    }
    return nil
}
