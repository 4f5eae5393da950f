import ReelQuant

/// Conversion errors, each naming the file, tensor or key at fault.
public enum ConvertError: Error, CustomStringConvertible, Equatable {
    case notADirectory(String)
    case missingFile(String)
    case badOverride(String, String)
    case unmappedTensor(checkpoint: String, tensor: String, architecture: String)
    case unexpectedTensor(checkpoint: String, tensor: String, reelName: String, architecture: String)
    case missingTensor(checkpoint: String, reelName: String, architecture: String)
    case duplicateTensor(checkpoint: String, reelName: String, first: String, second: String)
    case shapeMismatch(checkpoint: String, tensor: String, found: [Int], expected: [Int])
    case unsupportedDType(checkpoint: String, tensor: String, dtype: String)
    case requantize(tensor: String, from: Encoding, to: Encoding)
    case notConvertible(tensor: String, message: String)
    /// A file the model carries as a blob (tokenizer.json, the chat template) that Reel could not use at run time.
    case badSupportFile(path: String, message: String)

    public var description: String {
        switch self {
        case let .notADirectory(p): return "\(p): not a checkpoint directory"
        case let .missingFile(p): return "\(p): missing (a checkpoint directory needs config.json and model.safetensors or model.safetensors.index.json)"
        case let .badOverride(t, m): return "--keep \(t): \(m)"
        case let .unmappedTensor(c, t, a): return "\(c): tensor \(t) is not part of the \(a) tensor table (use --generic to keep every tensor under its own name)"
        case let .unexpectedTensor(c, t, r, a): return "\(c): tensor \(t) (Reel name \(r)) is not expected by the \(a) config"
        case let .missingTensor(c, r, a): return "\(c): tensor \(r) required by the \(a) config is missing from the checkpoint"
        case let .duplicateTensor(c, r, f, s): return "\(c): tensors \(f) and \(s) both map to \(r)"
        case let .shapeMismatch(c, t, f, e): return "\(c): tensor \(t) has shape \(f) but config.json implies \(e)"
        case let .unsupportedDType(c, t, d): return "\(c): tensor \(t) has dtype \(d), which Reel cannot convert"
        case let .requantize(t, f, to): return "tensor \(t) is already \(f.rawValue); re-quantising it to \(to.rawValue) compounds the error (pass --allow-requantize to do it anyway)"
        case let .notConvertible(t, m): return "tensor \(t): \(m)"
        case let .badSupportFile(p, m): return "\(p): \(m)"
        }
    }
}
