/// Errors from encoding, decoding and ISA selection; each case says which row, encoding or buffer.
public enum QuantError: Error, CustomStringConvertible, Equatable, Sendable {
    /// rows or k below 1, or rows × k overflowing.
    case badShape(rows: Int, k: Int)
    /// A source buffer holding fewer elements or bytes than the shape needs.
    case sourceTooSmall(encoding: Encoding, needed: Int, actual: Int)
    /// A destination buffer holding fewer elements or bytes than the shape needs.
    case destinationTooSmall(encoding: Encoding, needed: Int, actual: Int)
    /// A NaN or infinity in a row being quantised (q8/q4/q4f cannot store it), or a scale beyond f16 range.
    case unrepresentable(encoding: Encoding, row: Int)
    /// The CPU (or this build) cannot run the requested kernel path.
    case unsupportedISA(KernelISA)

    public var description: String {
        switch self {
        case let .badShape(rows, k):
            return "bad tensor shape: \(rows) rows × \(k) elements (each must be ≥ 1, the product must fit)"
        case let .sourceTooSmall(encoding, needed, actual):
            return "\(encoding.rawValue) source holds \(actual), needs \(needed)"
        case let .destinationTooSmall(encoding, needed, actual):
            return "\(encoding.rawValue) destination holds \(actual), needs \(needed)"
        case let .unrepresentable(encoding, row):
            return "row \(row) cannot be stored as \(encoding.rawValue): NaN, infinity or a magnitude beyond f16 scales"
        case let .unsupportedISA(isa):
            return "kernel path \(isa.rawValue) is not supported on this CPU (available: "
                + KernelISA.available.map(\.rawValue).joined(separator: ", ") + ")"
        }
    }
}
