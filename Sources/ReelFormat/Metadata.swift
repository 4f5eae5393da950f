import ReelCore
import ReelQuant

/// One tensor's row of the metadata table. `offset` is relative to the data section.
public struct TensorInfo: Equatable, Sendable {
    public let name: String
    public let encoding: Encoding
    public let shape: [Int]
    public let offset: Int
    public let length: Int
    public let xxh64: UInt64

    public init(name: String, encoding: Encoding, shape: [Int], offset: Int, length: Int, xxh64: UInt64) {
        self.name = name
        self.encoding = encoding
        self.shape = shape
        self.offset = offset
        self.length = length
        self.xxh64 = xxh64
    }

    /// The number of elements (the product of the shape; validated to fit at open).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// How a blob's bytes are stored.
public enum BlobCompression: String, Sendable, CaseIterable {
    case none, zstd
}

/// One blob's row of the metadata table. `offset` is relative to the data section.
public struct BlobInfo: Equatable, Sendable {
    public let name: String
    public let compression: BlobCompression
    public let offset: Int
    /// Stored (possibly compressed) bytes.
    public let length: Int
    /// Bytes after decompression.
    public let rawLength: Int
    /// XXH64 of the stored bytes.
    public let xxh64: UInt64
}

/// One entry of `components`: `{"family": string, "config": object}`.
public struct ReelComponent: Equatable, Sendable {
    public let name: String
    public let family: String
    public let config: JSONObject
}

/// The validated tables of a metadata object (formats/REEL.md §2).
struct ValidatedMetadata {
    var formatVersion: Int
    var architecture: String
    var components: [ReelComponent]
    var blobs: [BlobInfo]
    var tensors: [TensorInfo]
}

/// Validates every rule of §2 against a data section of `dataLength` bytes, before any pointer is formed.
struct MetadataValidator {
    let path: String

    func validate(_ json: JSON, headerVersion: UInt32, dataLength: Int) throws -> ValidatedMetadata {
        guard let root = json.object else { throw bad("(root)", "not a JSON object") }
        guard case let .int(v)? = root["format_version"] else { throw bad("format_version", "missing or not an integer") }
        guard v == Int64(headerVersion) else {
            throw bad("format_version", "\(v) disagrees with the header's \(headerVersion)")
        }
        guard let arch = root["architecture"]?.string else { throw bad("architecture", "missing or not a string") }
        guard !arch.isEmpty else { throw ReelFormatError.emptyName(path: path, key: "architecture") }
        let components = try readComponents(root["components"])

        guard let blobArray = root["blobs"]?.array else { throw bad("blobs", "missing or not an array") }
        guard let tensorArray = root["tensors"]?.array else { throw bad("tensors", "missing or not an array") }
        var blobs: [BlobInfo] = []
        var seen = Set<String>()
        for (i, entry) in blobArray.enumerated() {
            let b = try readBlob(entry, key: "blobs[\(i)]")
            guard seen.insert(b.name).inserted else { throw ReelFormatError.duplicateName(path: path, name: b.name) }
            try checkRegion("blob \"\(b.name)\"", offset: b.offset, length: b.length, dataLength: dataLength)
            blobs.append(b)
        }
        var tensors: [TensorInfo] = []
        seen.removeAll()
        for (i, entry) in tensorArray.enumerated() {
            let t = try readTensor(entry, key: "tensors[\(i)]")
            guard seen.insert(t.name).inserted else { throw ReelFormatError.duplicateName(path: path, name: t.name) }
            try checkRegion("tensor \"\(t.name)\"", offset: t.offset, length: t.length, dataLength: dataLength)
            tensors.append(t)
        }
        try checkOverlaps(blobs: blobs, tensors: tensors)
        // §2: the data section ends where its last region ends (writers add no trailing padding). Checked here, as
        // it is O(1): a header claiming gigabytes past the last region made `verify` read them all.
        let end = (blobs.map { $0.offset + $0.length } + tensors.map { $0.offset + $0.length }).max() ?? 0
        guard end == dataLength else {
            throw ReelFormatError.badMetadata(path: path, key: "data_length",
                                              reason: "the data section is \(dataLength) bytes but its last blob or tensor ends at \(end)")
        }
        return ValidatedMetadata(formatVersion: Int(v), architecture: arch, components: components,
                                 blobs: blobs, tensors: tensors)
    }

    private func bad(_ key: String, _ reason: String) -> ReelFormatError {
        .badMetadata(path: path, key: key, reason: reason)
    }

    /// A non-negative JSON integer; doubles are refused (an offset of 64.5 is not an offset).
    private func count(_ o: JSONObject, _ name: String, key: String) throws -> Int {
        guard case let .int(v)? = o[name] else { throw bad("\(key).\(name)", "missing or not an integer") }
        guard v >= 0, let n = Int(exactly: v) else { throw bad("\(key).\(name)", "\(v) is negative") }
        return n
    }

    private func name(_ o: JSONObject, key: String) throws -> String {
        guard let n = o["name"]?.string else { throw bad("\(key).name", "missing or not a string") }
        guard !n.isEmpty else { throw ReelFormatError.emptyName(path: path, key: "\(key).name") }
        return n
    }

    private func checksum(_ o: JSONObject, region: String, key: String) throws -> UInt64 {
        guard let s = o["xxh64"]?.string else { throw bad("\(key).xxh64", "missing or not a string") }
        guard let v = Checksum.parseHex(s) else { throw ReelFormatError.badChecksumString(path: path, region: region, value: s) }
        return v
    }

    private func readComponents(_ json: JSON?) throws -> [ReelComponent] {
        guard let json else { return [] }
        guard let o = json.object else { throw bad("components", "not an object") }
        return try o.map { kv in
            let key = "components.\(kv.key)"
            guard let family = kv.value["family"]?.string else { throw bad("\(key).family", "missing or not a string") }
            guard let config = kv.value["config"]?.object else { throw bad("\(key).config", "missing or not an object") }
            return ReelComponent(name: kv.key, family: family, config: config)
        }
    }

    private func readBlob(_ json: JSON, key: String) throws -> BlobInfo {
        guard let o = json.object else { throw bad(key, "not an object") }
        let n = try name(o, key: key)
        guard let c = o["compression"]?.string else { throw bad("\(key).compression", "missing or not a string") }
        guard let compression = BlobCompression(rawValue: c) else {
            throw ReelFormatError.unknownCompression(path: path, blob: n, compression: c)
        }
        let offset = try count(o, "offset", key: key)
        let length = try count(o, "length", key: key)
        let raw = try count(o, "raw_length", key: key)
        if compression == .none && raw != length {
            throw bad("\(key).raw_length", "\(raw) differs from length \(length) for an uncompressed blob")
        }
        let sum = try checksum(o, region: "blob \"\(n)\"", key: key)
        return BlobInfo(name: n, compression: compression, offset: offset, length: length, rawLength: raw, xxh64: sum)
    }

    private func readTensor(_ json: JSON, key: String) throws -> TensorInfo {
        guard let o = json.object else { throw bad(key, "not an object") }
        let n = try name(o, key: key)
        guard let e = o["encoding"]?.string else { throw bad("\(key).encoding", "missing or not a string") }
        guard let encoding = Encoding(rawValue: e) else {
            throw ReelFormatError.unknownEncoding(path: path, tensor: n, encoding: e)
        }
        guard let dims = o["shape"]?.array else { throw bad("\(key).shape", "missing or not an array") }
        var shape: [Int] = []
        for d in dims {
            guard case let .int(v) = d else { throw bad("\(key).shape", "\(d.serialized()) is not an integer") }
            shape.append(Int(truncatingIfNeeded: v))
        }
        guard let expected = tensorByteCount(encoding: encoding, shape: shape) else {
            throw ReelFormatError.badShape(path: path, tensor: n, shape: shape)
        }
        let offset = try count(o, "offset", key: key)
        let length = try count(o, "length", key: key)
        guard length == expected else {
            throw ReelFormatError.lengthMismatch(path: path, tensor: n, encoding: encoding, shape: shape,
                                                 length: length, expected: expected)
        }
        let sum = try checksum(o, region: "tensor \"\(n)\"", key: key)
        return TensorInfo(name: n, encoding: encoding, shape: shape, offset: offset, length: length, xxh64: sum)
    }

    private func checkRegion(_ region: String, offset: Int, length: Int, dataLength: Int) throws {
        guard offset % ReelLayout.regionAlignment == 0 else {
            throw ReelFormatError.misalignedRegion(path: path, region: region, offset: offset)
        }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= dataLength else {
            throw ReelFormatError.regionOutOfBounds(path: path, region: region, offset: offset, length: length,
                                                    dataLength: dataLength)
        }
    }

    /// Sorted by offset, each non-empty region must start at or after the end of the one before.
    private func checkOverlaps(blobs: [BlobInfo], tensors: [TensorInfo]) throws {
        var regions = blobs.filter { $0.length > 0 }.map { (name: "blob \"\($0.name)\"", start: $0.offset, end: $0.offset + $0.length) }
        regions += tensors.map { (name: "tensor \"\($0.name)\"", start: $0.offset, end: $0.offset + $0.length) }
        regions.sort { $0.start < $1.start }
        for i in regions.indices.dropFirst() where regions[i].start < regions[i - 1].end {
            throw ReelFormatError.overlappingRegions(path: path, first: regions[i - 1].name, second: regions[i].name,
                                                     offset: regions[i].start)
        }
    }
}

/// Bytes of a tensor, or nil if the shape is invalid: no dimensions, a dimension < 1, or ≥ 2⁶³ elements (§2).
func tensorByteCount(encoding: Encoding, shape: [Int]) -> Int? {
    guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { return nil }
    var elements = 1
    for d in shape {
        let (n, o) = elements.multipliedReportingOverflow(by: d)
        if o { return nil }
        elements = n
    }
    return encoding.byteCount(shape: shape)
}
