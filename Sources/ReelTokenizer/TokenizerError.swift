/// Errors from loading a tokenizer, each naming the file and the key (or token) at fault.
///
/// `file` is the name the caller gave the document ("tokenizer.json" by default); `key` is a dotted path
/// into it such as `pre_tokenizer.pretokenizers[0].pattern.Regex`.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The document is not valid JSON.
    case invalidJSON(file: String, message: String)
    /// A required key is absent.
    case missingKey(file: String, key: String)
    /// A key holds a value of the wrong JSON type.
    case wrongType(file: String, key: String, expected: String)
    /// A component type (model, normalizer, pre-tokenizer, decoder, post-processor) Reel does not implement.
    case unsupported(file: String, key: String, type: String)
    /// A value is present but not acceptable (an unknown split behaviour, a replacement of two characters …).
    case invalidValue(file: String, key: String, value: String)
    /// A regular expression from the file does not compile.
    case badRegex(file: String, key: String, pattern: String, message: String)
    /// A token referred to (by a merge, a post-processor or the config) is not in the vocabulary.
    case unknownToken(file: String, key: String, token: String)

    public var description: String {
        switch self {
        case let .invalidJSON(file, message): return "\(file): invalid JSON: \(message)"
        case let .missingKey(file, key): return "\(file): missing key \"\(key)\""
        case let .wrongType(file, key, expected): return "\(file): \"\(key)\" should be \(expected)"
        case let .unsupported(file, key, type): return "\(file): \"\(key)\" is \"\(type)\", which Reel does not support"
        case let .invalidValue(file, key, value): return "\(file): \"\(key)\" has invalid value \(value)"
        case let .badRegex(file, key, pattern, message):
            return "\(file): regex at \"\(key)\" does not compile (\(message)): \(pattern)"
        case let .unknownToken(file, key, token): return "\(file): \"\(key)\" refers to token \"\(token)\" not in the vocabulary"
        }
    }
}
