/// Errors from ReelRuntime: each case names the tensor, token, position or setting at fault.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    /// A weight the model needs is not in the file.
    case missingWeight(name: String)
    /// A weight has a shape other than the one the model needs.
    case shapeMismatch(name: String, expected: [Int], actual: [Int])
    /// A weight's byte count disagrees with its encoding and shape.
    case byteCountMismatch(name: String, expected: Int, actual: Int)
    /// A token id outside the embedding table.
    case tokenOutOfRange(token: Int, vocabSize: Int)
    /// Appending `requested` positions to a cache already holding `used` would exceed its `capacity`.
    case contextExceeded(used: Int, requested: Int, capacity: Int)
    /// A buffer is asked to hold more elements than it was allocated for.
    case bufferTooSmall(what: String, needed: Int, capacity: Int)
    /// An argument that makes no sense (e.g. a negative position, mismatched lengths), saying which.
    case invalidArgument(String)
    /// A feature recognised but not implemented (e.g. RoPE type "yarn").
    case unsupported(String)

    public var description: String {
        switch self {
        case let .missingWeight(name): return "missing weight \(name)"
        case let .shapeMismatch(name, e, a): return "weight \(name): expected shape \(e), found \(a)"
        case let .byteCountMismatch(name, e, a): return "weight \(name): expected \(e) bytes, found \(a)"
        case let .tokenOutOfRange(t, v): return "token id \(t) is outside the vocabulary [0, \(v))"
        case let .contextExceeded(used, req, cap):
            return "context exceeded: \(used) positions cached + \(req) new > capacity \(cap) (raise the context length: --context N in the CLI, DecoderOptions.contextLength in the API)"
        case let .bufferTooSmall(what, n, c): return "\(what): needs \(n) elements, capacity \(c)"
        case let .invalidArgument(m): return "invalid argument: \(m)"
        case let .unsupported(m): return "not supported: \(m)"
        }
    }
}
