/// Typed access to one JSON node of a tokenizer file, carrying the file name and the key path for errors.
struct ConfigNode {
    let value: JValue
    let file: String
    let path: String

    /// The child at `key`; throws when absent.
    func require(_ key: String) throws -> ConfigNode {
        guard let v = value[key], !v.isNull else { throw TokenizerError.missingKey(file: file, key: join(key)) }
        return ConfigNode(value: v, file: file, path: join(key))
    }

    /// The child at `key`, or nil when absent or null.
    func optional(_ key: String) -> ConfigNode? {
        guard let v = value[key], !v.isNull else { return nil }
        return ConfigNode(value: v, file: file, path: join(key))
    }

    func string(_ key: String) throws -> String { try require(key).asString() }
    func optionalString(_ key: String) throws -> String? { try optional(key)?.asString() }
    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let n = optional(key) else { return def }
        guard let b = n.value.bool else { throw TokenizerError.wrongType(file: file, key: n.path, expected: "a boolean") }
        return b
    }
    func int(_ key: String, default def: Int) throws -> Int {
        guard let n = optional(key) else { return def }
        return try n.asInt()
    }
    /// The `type` field of a component.
    func type() throws -> String { try string("type") }

    func asString() throws -> String {
        guard let s = value.string else { throw TokenizerError.wrongType(file: file, key: path, expected: "a string") }
        return s
    }
    func asInt() throws -> Int {
        guard let i = value.int else { throw TokenizerError.wrongType(file: file, key: path, expected: "an integer") }
        return i
    }
    func asArray() throws -> [ConfigNode] {
        guard let a = value.array else { throw TokenizerError.wrongType(file: file, key: path, expected: "an array") }
        return a.enumerated().map { ConfigNode(value: $1, file: file, path: "\(path)[\($0)]") }
    }
    func asObject() throws -> [(key: String, node: ConfigNode)] {
        guard let o = value.object else { throw TokenizerError.wrongType(file: file, key: path, expected: "an object") }
        return o.map { ($0.key, ConfigNode(value: $0.value, file: file, path: join($0.key))) }
    }

    func unsupported(_ type: String, key: String = "type") -> TokenizerError {
        .unsupported(file: file, key: join(key), type: type)
    }
    func invalid(_ key: String, _ value: String) -> TokenizerError {
        .invalidValue(file: file, key: join(key), value: value)
    }

    private func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// Parses `bytes` as JSON, turning a parse failure into `TokenizerError.invalidJSON`.
func parseDocument(_ bytes: [UInt8], file: String) throws -> ConfigNode {
    let j: JValue
    do { j = try JValue.parse(bytes) } catch { throw TokenizerError.invalidJSON(file: file, message: error.message) }
    guard j.object != nil else { throw TokenizerError.wrongType(file: file, key: "(root)", expected: "an object") }
    return ConfigNode(value: j, file: file, path: "")
}
