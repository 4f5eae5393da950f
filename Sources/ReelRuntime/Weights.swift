import ReelQuant

/// One stored weight: its encoding, HF shape (rows are output channels) and bytes, used in place (no copy).
public struct WeightTensor: @unchecked Sendable {
    public let name: String
    public let encoding: Encoding
    /// As in HF: `[out, in]` for a linear weight, `[V, H]` for an embedding, `[n]` for a norm.
    public let shape: [Int]
    /// The stored bytes (formats/REEL.md §3): R rows of K = shape.last elements, rows back to back.
    public let data: UnsafeRawBufferPointer
    /// Keeps the bytes alive (the mapping or an owned array).
    public let owner: AnyObject?

    /// Checks that `data` holds exactly the bytes `encoding` and `shape` imply.
    public init(name: String, encoding: Encoding, shape: [Int], data: UnsafeRawBufferPointer, owner: AnyObject?) throws {
        guard let need = encoding.byteCount(shape: shape) else {
            throw RuntimeError.invalidArgument("weight \(name): invalid shape \(shape)")
        }
        guard need == data.count else { throw RuntimeError.byteCountMismatch(name: name, expected: need, actual: data.count) }
        self.name = name
        self.encoding = encoding
        self.shape = shape
        self.data = data
        self.owner = owner
        rowLength = shape[shape.count - 1]
        rows = need / encoding.rowBytes(rowLength)!
        rowBytes = encoding.rowBytes(rowLength)!
    }

    /// Elements per row (the reduction axis of a linear weight).
    public let rowLength: Int
    /// Number of rows: the product of all dimensions but the last.
    public let rows: Int
    /// Bytes per stored row.
    public let rowBytes: Int

    /// Throws `shapeMismatch` unless the shape is `expected`.
    public func expect(shape expected: [Int]) throws {
        guard shape == expected else { throw RuntimeError.shapeMismatch(name: name, expected: expected, actual: shape) }
    }

    /// Row `i` dequantised to f32 into `out` (rowLength elements).
    public func dequantizeRow(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        Kernels.dequantizeRow(encoding, UnsafeRawPointer(data.baseAddress!) + i * rowBytes, count: rowLength, into: out)
    }

    /// The whole tensor as f32 (for 1-D parameters such as norm weights and biases; not for the per-token loop).
    public func toFloat() -> [Float] {
        var out = [Float](repeating: 0, count: rows * rowLength)
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows { dequantizeRow(r, into: o.baseAddress! + r * rowLength) }
        }
        return out
    }
}

/// Where a model's weights come from: a `.reel` file's mapping, or memory (tests).
public protocol WeightProvider: AnyObject {
    /// The weight called `name`; throws `RuntimeError.missingWeight` (or the provider's own error) if absent.
    func weight(_ name: String) throws -> WeightTensor
    /// Whether a weight called `name` exists (optional tensors: biases, an untied lm_head).
    func contains(_ name: String) -> Bool
    /// Every weight's name (for strict loading: a model checks it used all of those under its prefix).
    var weightNames: [String] { get }
    /// Reads the weights named `prefix…` into memory now, ahead of their first use (a mapped file: in file order, so
    /// they come in as 2 MiB pages). A provider that holds its weights in memory already does nothing.
    func populate(prefix: String)
}

extension WeightProvider {
    public func populate(prefix: String) {}
}

/// Weights held in memory, each an owned byte array: for tests and for tools that build a model without a file.
public final class InMemoryWeights: WeightProvider, @unchecked Sendable {
    private final class Storage {
        let bytes: UnsafeMutableRawBufferPointer
        init(count: Int) { bytes = .allocate(byteCount: max(count, 1), alignment: 64) }
        deinit { bytes.deallocate() }
    }
    private var entries: [String: (Encoding, [Int], Storage, Int)] = [:]
    public init() {}

    /// Adds (or replaces) a weight from its stored bytes.
    public func add(_ name: String, encoding: Encoding, shape: [Int], bytes: [UInt8]) throws {
        guard let need = encoding.byteCount(shape: shape) else {
            throw RuntimeError.invalidArgument("weight \(name): invalid shape \(shape)")
        }
        guard need == bytes.count else { throw RuntimeError.byteCountMismatch(name: name, expected: need, actual: bytes.count) }
        let s = Storage(count: bytes.count)
        bytes.withUnsafeBytes { s.bytes.copyMemory(from: $0) }
        entries[name] = (encoding, shape, s, bytes.count)
    }

    /// Adds an f32 weight.
    public func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try add(name, encoding: .f32, shape: shape, bytes: floats.withUnsafeBytes { Array($0) })
    }

    public var weightNames: [String] { entries.keys.sorted() }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public func weight(_ name: String) throws -> WeightTensor {
        guard let (enc, shape, s, n) = entries[name] else { throw RuntimeError.missingWeight(name: name) }
        return try WeightTensor(name: name, encoding: enc, shape: shape,
                                data: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(s.bytes)[0..<n]), owner: s)
    }
}
