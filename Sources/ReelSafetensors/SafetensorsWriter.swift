import ReelCore

/// A small safetensors writer for `reel forward` outputs and tests; tensors are held in memory.
///
/// The layout follows the reference serializer: tensors sorted by descending element size, then by
/// name, packed with no gaps; `__metadata__` first in the header; the header padded with spaces to a
/// multiple of 8 so every tensor is aligned to its element size. The file appears atomically.
public struct SafetensorsWriter {
    private struct Entry { var name: String; var dtype: SafetensorsDType; var shape: [Int]; var bytes: [UInt8] }
    private var entries: [Entry] = []
    private var names = Set<String>()
    /// Free-form `__metadata__`; written only when non-empty.
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Adds a tensor from its little-endian bytes.
    public mutating func add(_ name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) throws {
        guard !name.isEmpty, name != "__metadata__" else {
            throw SafetensorsError.writerInvalidTensor(tensor: name, reason: "reserved or empty name")
        }
        guard !names.contains(name) else { throw SafetensorsError.writerInvalidTensor(tensor: name, reason: "added twice") }
        guard let size = dtype.byteSize else {
            throw SafetensorsError.writerInvalidTensor(tensor: name, reason: "\(dtype) is a sub-byte type")
        }
        var n = size
        for d in shape {
            guard d >= 0 else { throw SafetensorsError.writerInvalidTensor(tensor: name, reason: "negative dimension in \(shape)") }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { throw SafetensorsError.writerInvalidTensor(tensor: name, reason: "shape \(shape) overflows") }
            n = p
        }
        guard n == bytes.count else {
            throw SafetensorsError.writerInvalidTensor(tensor: name, reason: "\(dtype) \(shape) needs \(n) bytes, got \(bytes.count)")
        }
        names.insert(name)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// Adds an f32 tensor; `values.count` must equal the product of `shape`.
    public mutating func add(_ name: String, float32 values: [Float], shape: [Int]) throws {
        try add(name, dtype: .f32, shape: shape, bytes: littleEndianBytes(values.map { $0.bitPattern }))
    }

    /// Adds an f16 tensor, rounding `values` to nearest even.
    public mutating func add(_ name: String, float16 values: [Float], shape: [Int]) throws {
        try add(name, dtype: .f16, shape: shape, bytes: littleEndianBytes(values.map(floatToFloat16Bits)))
    }

    public mutating func add(_ name: String, int64 values: [Int64], shape: [Int]) throws {
        try add(name, dtype: .i64, shape: shape, bytes: littleEndianBytes(values))
    }

    public mutating func add(_ name: String, int32 values: [Int32], shape: [Int]) throws {
        try add(name, dtype: .i32, shape: shape, bytes: littleEndianBytes(values))
    }

    /// The whole file as bytes: size field, padded header, data.
    public func serialized() -> [UInt8] {
        let (header, order) = layout()
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + order.reduce(0) { $0 + $1.bytes.count })
        out += littleEndianBytes([UInt64(header.count)])
        out += header
        for e in order { out += e.bytes }
        return out
    }

    /// Writes the file atomically (temporary file, then rename).
    /// - Parameters:
    ///   - path: the destination.
    ///   - force: replace an existing file.
    public func write(to path: String, force: Bool = false) throws {
        try wrapIO {
            let (header, order) = layout()
            let out = try AtomicOutputFile(path: path, force: force)
            try out.write(littleEndianBytes([UInt64(header.count)]))
            try out.write(header)
            for e in order { try out.write(e.bytes) }
            try out.commit()
        }
    }

    private func layout() -> (header: [UInt8], order: [Entry]) {
        let order = entries.sorted {
            let a = $0.dtype.byteSize ?? 0, b = $1.dtype.byteSize ?? 0
            return a != b ? a > b : $0.name < $1.name
        }
        var header = JSONObject()
        if !metadata.isEmpty {
            header["__metadata__"] = .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
        }
        var offset = 0
        for e in order {
            header[e.name] = .object(JSONObject([
                ("dtype", .string(e.dtype.rawValue)),
                ("shape", .array(e.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + e.bytes.count))])),
            ]))
            offset += e.bytes.count
        }
        var text = Array(JSON.object(header).serialized().utf8)
        text += [UInt8](repeating: 0x20, count: (8 - text.count % 8) % 8)
        return (text, order)
    }
}

private func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
    out.withUnsafeMutableBytes { raw in
        for (i, v) in values.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
    }
    return out
}
