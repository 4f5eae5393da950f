import ReelCore

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensor: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major dimensions; `[]` is a scalar, a 0 anywhere makes the tensor empty.
    public let shape: [Int]
    /// `data_offsets` from the header: relative to the start of the data region.
    public let dataOffsets: Range<Int>
    /// Absolute byte offset of the first element in the file (`8 + headerSize + begin`).
    public let fileOffset: Int
    public var byteCount: Int { dataOffsets.count }
    /// Product of the shape (1 for a scalar); it cannot overflow, the header was checked.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file mapped read-only, its header validated as the spec and the reference
/// `validate()` demand before any tensor can be reached:
/// - an 8-byte little-endian header size N, at most `maxHeaderSize`, and N ≤ file size − 8;
/// - N bytes of UTF-8 JSON: one object starting with `{`, no key twice in any object;
/// - an optional `__metadata__` object of strings; every other key a tensor entry with exactly
///   `dtype` (a known name), `shape` (non-negative integers) and `data_offsets` ([begin, end]);
/// - shape × element size = end − begin (overflow-checked);
/// - sorted by offset, the tensors tile the data region exactly: no overlap, no hole, and the last
///   one ends at the end of the file (the reference's "MetadataIncompleteBuffer").
public final class SafetensorsFile: @unchecked Sendable {
    /// The reference implementation's cap on the header size (100 MB).
    public static let maxHeaderSize = 100_000_000

    public let path: String
    /// N, the JSON header length in bytes (including padding).
    public let headerSize: Int
    /// `__metadata__`, if the header has one.
    public let metadata: [String: String]?
    /// Every tensor, in storage (offset) order.
    public let tensors: [SafetensorsTensor]
    private let byName: [String: Int]
    private let file: MappedFile

    /// Maps and validates `path`.
    public init(path: String) throws {
        do { file = try MappedFile(path: path) } catch let e as IOError { throw SafetensorsError.io(e) }
        self.path = path
        let header = try SafetensorsFile.validateHeader(file, path: path)
        headerSize = header.size
        metadata = header.metadata
        tensors = header.tensors
        var byName: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { byName[t.name] = i }
        self.byName = byName
    }

    /// Byte offset of the data region in the file.
    public var dataStart: Int { 8 + headerSize }
    /// Tensor names in storage order.
    public var names: [String] { tensors.map(\.name) }
    /// Size of the whole file in bytes.
    public var fileSize: Int { file.count }

    public func contains(_ name: String) -> Bool { byName[name] != nil }

    /// The header entry for `name`.
    public func tensor(_ name: String) throws -> SafetensorsTensor {
        guard let i = byName[name] else { throw SafetensorsError.tensorNotFound(source: path, tensor: name) }
        return tensors[i]
    }

    /// The tensor's bytes, in place in the mapping (no copy). Valid while this file is alive.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        try rawBytes(of: tensor(name))
    }

    /// The bytes of an entry taken from this file's `tensors`.
    public func rawBytes(of t: SafetensorsTensor) throws -> UnsafeRawBufferPointer {
        do { return try file.slice(offset: t.fileOffset, length: t.byteCount, what: "tensor \(t.name)") }
        catch let e as IOError { throw SafetensorsError.io(e) }
    }

    /// Converts elements `elements` (all, by default) of `name` to f32 into `buffer`, which must hold them.
    /// F64/F32/F16/BF16/F8 are widened or rounded to nearest; integers are rounded to nearest; BOOL is 0 or 1.
    public func readFloat32(_ name: String, elements: Range<Int>? = nil, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let t = try tensor(name)
        try convertToFloat32(t, bytes: rawBytes(of: t), elements: elements, into: buffer, source: path)
    }

    /// `name` converted to f32, as a new array.
    public func float32(_ name: String) throws -> [Float] {
        let t = try tensor(name)
        var out = [Float](repeating: 0, count: t.elementCount)
        try out.withUnsafeMutableBufferPointer { try readFloat32(name, into: $0) }
        return out
    }

    /// Counts NaN and infinite values of a float tensor in its stored dtype (zero for integer types).
    public func nonFiniteCount(_ name: String) throws -> NonFiniteCount {
        let t = try tensor(name)
        return countNonFinite(t, bytes: try rawBytes(of: t))
    }

    /// Hints the kernel that the data region will be read front to back (a conversion pass).
    public func adviseSequential() { file.advise(.sequential, offset: dataStart) }
}

// MARK: - Validation

extension SafetensorsFile {
    struct Header {
        var size: Int
        var metadata: [String: String]?
        var tensors: [SafetensorsTensor]
    }

    static func validateHeader(_ file: MappedFile, path: String) throws -> Header {
        let all = file.bytes
        guard all.count >= 8 else { throw SafetensorsError.fileTooSmall(path: path, size: all.count) }
        let n = all.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard n <= UInt64(maxHeaderSize) else {
            throw SafetensorsError.headerTooLarge(path: path, headerSize: n, limit: maxHeaderSize)
        }
        guard Int(n) <= all.count - 8 else { throw SafetensorsError.headerBeyondFile(path: path, headerSize: n, fileSize: all.count) }
        let size = Int(n)
        let text = UnsafeRawBufferPointer(rebasing: all[8..<(8 + size)])
        guard size > 0, text[0] == UInt8(ascii: "{") else { throw SafetensorsError.headerNotObject(path: path) }
        if let bad = firstInvalidUTF8(text) { throw SafetensorsError.headerNotUTF8(path: path, offset: 8 + bad) }
        // json-c stops at a NUL and would accept "{}\0junk"; JSON text never holds a raw NUL (serde rejects it too).
        if let nul = text.firstIndex(of: 0) {
            throw SafetensorsError.invalidJSON(path: path, message: "NUL byte at offset \(8 + nul)")
        }
        if let dup = firstDuplicateKey(text) { throw SafetensorsError.duplicateKey(path: path, object: dup.object, key: dup.key) }
        let json: JSON
        do { json = try JSON.parse(text, source: path) } catch let e as JSONError {
            if case let .parse(_, message) = e { throw SafetensorsError.invalidJSON(path: path, message: message) }
            throw SafetensorsError.invalidJSON(path: path, message: e.description)
        }
        guard let top = json.object else { throw SafetensorsError.headerNotObject(path: path) }

        let dataSize = all.count - 8 - size
        var metadata: [String: String]?
        var tensors: [SafetensorsTensor] = []
        tensors.reserveCapacity(top.count)
        for (key, value) in top {
            if key == "__metadata__" {
                // null reads as absent, as the reference's Option<HashMap> does.
                metadata = value.isNull ? nil : try parseMetadata(value, path: path)
            } else {
                tensors.append(try parseEntry(key, value, path: path, dataStart: 8 + size, dataSize: dataSize))
            }
        }
        try checkTiling(&tensors, path: path, dataSize: dataSize)
        return Header(size: size, metadata: metadata, tensors: tensors)
    }

    private static func parseMetadata(_ value: JSON, path: String) throws -> [String: String] {
        guard let o = value.object else { throw SafetensorsError.invalidMetadata(path: path, key: nil, reason: "not an object") }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard let s = v.string else {
                throw SafetensorsError.invalidMetadata(path: path, key: k, reason: "value is not a string")
            }
            out[k] = s
        }
        return out
    }

    private static func parseEntry(_ name: String, _ value: JSON, path: String, dataStart: Int, dataSize: Int) throws -> SafetensorsTensor {
        guard let o = value.object else { throw SafetensorsError.entryNotObject(path: path, tensor: name) }
        for key in o.keys where !["dtype", "shape", "data_offsets"].contains(key) {
            throw SafetensorsError.unexpectedKey(path: path, tensor: name, key: key)
        }
        func field(_ key: String) throws -> JSON {
            guard let v = o[key] else { throw SafetensorsError.missingKey(path: path, tensor: name, key: key) }
            return v
        }
        /// A non-negative JSON integer (not a double, not a string), as serde's usize demands.
        func count(_ v: JSON?, key: String, expected: String) throws -> Int {
            guard case let .int(i)? = v, i >= 0, let n = Int(exactly: i) else {
                throw SafetensorsError.wrongType(path: path, tensor: name, key: key, expected: expected)
            }
            return n
        }

        guard let dtypeName = try field("dtype").string else {
            throw SafetensorsError.wrongType(path: path, tensor: name, key: "dtype", expected: "a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw SafetensorsError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let dims = try field("shape").array else {
            throw SafetensorsError.wrongType(path: path, tensor: name, key: "shape", expected: "an array of non-negative integers")
        }
        let shape = try dims.map { try count($0, key: "shape", expected: "an array of non-negative integers") }
        guard let offs = try field("data_offsets").array, offs.count == 2 else {
            throw SafetensorsError.wrongType(path: path, tensor: name, key: "data_offsets", expected: "[begin, end]")
        }
        let begin = try count(offs[0], key: "data_offsets", expected: "[begin, end] of non-negative integers")
        let end = try count(offs[1], key: "data_offsets", expected: "[begin, end] of non-negative integers")

        var elements = 1
        for d in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw SafetensorsError.sizeOverflow(path: path, tensor: name, shape: shape) }
            elements = p
        }
        let (bits, bitsOverflow) = elements.multipliedReportingOverflow(by: dtype.bitSize)
        guard !bitsOverflow else { throw SafetensorsError.sizeOverflow(path: path, tensor: name, shape: shape) }
        guard bits % 8 == 0 else { throw SafetensorsError.partialByte(path: path, tensor: name, dtype: dtype, shape: shape) }
        guard end >= begin else { throw SafetensorsError.invertedOffsets(path: path, tensor: name, begin: begin, end: end) }
        guard end - begin == bits / 8 else {
            throw SafetensorsError.sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape, expected: bits / 8, actual: end - begin)
        }
        guard end <= dataSize else { throw SafetensorsError.offsetsBeyondData(path: path, tensor: name, end: end, dataSize: dataSize) }
        return SafetensorsTensor(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end, fileOffset: dataStart + begin)
    }

    /// Sorts by offset and checks that the tensors cover `0..<dataSize` exactly once.
    private static func checkTiling(_ tensors: inout [SafetensorsTensor], path: String, dataSize: Int) throws {
        tensors.sort {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var cursor = 0
        var previous: SafetensorsTensor?
        for t in tensors {
            let begin = t.dataOffsets.lowerBound
            if begin > cursor { throw SafetensorsError.gap(path: path, after: previous?.name, from: cursor, to: begin) }
            if begin < cursor, let p = previous {
                throw SafetensorsError.overlap(path: path, tensor: t.name, other: p.name, begin: begin, otherEnd: cursor)
            }
            cursor = t.dataOffsets.upperBound
            previous = t
        }
        if cursor < dataSize { throw SafetensorsError.gap(path: path, after: previous?.name, from: cursor, to: dataSize) }
    }
}
