import ReelCore

/// Everything that can go wrong reading or writing safetensors; every case names the file and,
/// where there is one, the tensor, key or offset. Offsets in `data_offsets` are relative to the
/// start of the data region (byte `8 + headerSize` of the file), as in the spec.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    // File and header framing.
    case io(IOError)
    /// The file is shorter than the 8-byte header-size field.
    case fileTooSmall(path: String, size: Int)
    /// The header-size field exceeds the cap (100 MB, as in the reference implementation).
    case headerTooLarge(path: String, headerSize: UInt64, limit: Int)
    /// The header-size field points past the end of the file.
    case headerBeyondFile(path: String, headerSize: UInt64, fileSize: Int)
    /// The header is not valid UTF-8 (the offset is from the start of the file).
    case headerNotUTF8(path: String, offset: Int)
    /// The header does not start with `{` or is JSON of another kind than an object.
    case headerNotObject(path: String)
    /// The header is not valid JSON.
    case invalidJSON(path: String, message: String)
    /// A key occurs twice in one JSON object; `object` is "header" or the tensor/object holding it.
    case duplicateKey(path: String, object: String, key: String)

    // Header content.
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(path: String, key: String?, reason: String)
    /// A tensor entry is not an object.
    case entryNotObject(path: String, tensor: String)
    case missingKey(path: String, tensor: String, key: String)
    /// A key other than `dtype`, `shape` and `data_offsets` in a tensor entry.
    case unexpectedKey(path: String, tensor: String, key: String)
    case wrongType(path: String, tensor: String, key: String, expected: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    /// shape × element size does not fit in an Int.
    case sizeOverflow(path: String, tensor: String, shape: [Int])
    /// A sub-byte dtype whose element count does not fill whole bytes.
    case partialByte(path: String, tensor: String, dtype: SafetensorsDType, shape: [Int])
    /// shape × element size disagrees with `end − begin`.
    case sizeMismatch(path: String, tensor: String, dtype: SafetensorsDType, shape: [Int], expected: Int, actual: Int)
    /// `end < begin`.
    case invertedOffsets(path: String, tensor: String, begin: Int, end: Int)
    /// `end` lies beyond the data region.
    case offsetsBeyondData(path: String, tensor: String, end: Int, dataSize: Int)
    /// Two tensors share bytes: `tensor` begins at `begin`, before `other` ends at `otherEnd`.
    case overlap(path: String, tensor: String, other: String, begin: Int, otherEnd: Int)
    /// Bytes `from..<to` of the data region belong to no tensor (`after` is the tensor before the hole).
    case gap(path: String, after: String?, from: Int, to: Int)

    // Access and conversion.
    case tensorNotFound(source: String, tensor: String)
    /// The dtype is recognised but cannot be converted (F4, F6, C64 …).
    case unsupportedConversion(source: String, tensor: String, dtype: SafetensorsDType, to: String)
    /// An element range or caller buffer that does not fit the tensor.
    case badRange(tensor: String, range: Range<Int>, elementCount: Int, bufferCount: Int)

    // Checkpoint directories and shard indexes.
    /// A directory with neither model.safetensors, an index, nor exactly one *.safetensors file.
    case noCheckpoint(directory: String)
    /// Several *.safetensors files and no index to say which belong together.
    case ambiguousCheckpoint(directory: String, candidates: [String])
    /// The index file is malformed (`key` says where).
    case invalidIndex(path: String, key: String, reason: String)
    /// The index names a shard file that does not exist.
    case missingShard(index: String, shard: String, tensor: String)
    /// The index puts `tensor` in `shard`, but that shard's header lacks it.
    case tensorMissingFromShard(index: String, tensor: String, shard: String)
    /// `shard` holds `tensor`, but the index does not list it.
    case tensorNotInIndex(index: String, tensor: String, shard: String)
    /// The same tensor name occurs in the headers of two shards.
    case tensorInTwoShards(tensor: String, first: String, second: String)

    // Writer.
    case writerInvalidTensor(tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .io(e): return e.description
        case let .fileTooSmall(p, n): return "\(p): \(n) bytes is too short for a safetensors file (the header size alone takes 8)"
        case let .headerTooLarge(p, n, limit): return "\(p): header size \(n) exceeds the \(limit)-byte limit"
        case let .headerBeyondFile(p, n, size): return "\(p): header size \(n) runs past the end of the file (\(size) bytes; truncated?)"
        case let .headerNotUTF8(p, o): return "\(p): header is not valid UTF-8 (near byte \(o))"
        case let .headerNotObject(p): return "\(p): header is not a JSON object starting with '{'"
        case let .invalidJSON(p, m): return "\(p): header is not valid JSON: \(m)"
        case let .duplicateKey(p, o, k): return "\(p): key \"\(k)\" occurs twice in \(o)"
        case let .invalidMetadata(p, k, r): return "\(p): __metadata__\(k.map { "[\"\($0)\"]" } ?? ""): \(r)"
        case let .entryNotObject(p, t): return "\(p): tensor \(t): entry is not an object"
        case let .missingKey(p, t, k): return "\(p): tensor \(t): missing \"\(k)\""
        case let .unexpectedKey(p, t, k): return "\(p): tensor \(t): unexpected key \"\(k)\" (only dtype, shape, data_offsets)"
        case let .wrongType(p, t, k, e): return "\(p): tensor \(t): \"\(k)\" should be \(e)"
        case let .unknownDType(p, t, d): return "\(p): tensor \(t): unknown dtype \"\(d)\""
        case let .sizeOverflow(p, t, s): return "\(p): tensor \(t): shape \(s) overflows"
        case let .partialByte(p, t, d, s): return "\(p): tensor \(t): \(d) shape \(s) does not fill whole bytes"
        case let .sizeMismatch(p, t, d, s, e, a):
            return "\(p): tensor \(t): \(d) shape \(s) needs \(e) bytes but data_offsets span \(a)"
        case let .invertedOffsets(p, t, b, e): return "\(p): tensor \(t): data_offsets [\(b), \(e)] end before they begin"
        case let .offsetsBeyondData(p, t, e, n): return "\(p): tensor \(t): data ends at \(e), beyond the \(n)-byte data region"
        case let .overlap(p, t, o, b, oe): return "\(p): tensor \(t) begins at \(b), inside \(o) (which ends at \(oe))"
        case let .gap(p, a, f, t):
            return "\(p): data bytes \(f)..<\(t) belong to no tensor\(a.map { " (after \($0))" } ?? "")"
        case let .tensorNotFound(s, t): return "\(s): no tensor named \(t)"
        case let .unsupportedConversion(s, t, d, to): return "\(s): tensor \(t): cannot convert \(d) to \(to)"
        case let .badRange(t, r, n, b):
            return "tensor \(t): elements \(r.lowerBound)..<\(r.upperBound) do not fit (tensor has \(n), buffer holds \(b))"
        case let .noCheckpoint(d): return "\(d): no model.safetensors, *.safetensors.index.json or *.safetensors file"
        case let .ambiguousCheckpoint(d, c): return "\(d): several safetensors files and no index: \(c.joined(separator: ", "))"
        case let .invalidIndex(p, k, r): return "\(p): \(k): \(r)"
        case let .missingShard(i, s, t): return "\(i): shard \(s) (for \(t)) does not exist"
        case let .tensorMissingFromShard(i, t, s): return "\(i): lists \(t) in \(s), but that shard does not contain it"
        case let .tensorNotInIndex(i, t, s): return "\(i): shard \(s) contains \(t), which the index does not list"
        case let .tensorInTwoShards(t, a, b): return "tensor \(t) occurs in two shards: \(a) and \(b)"
        case let .writerInvalidTensor(t, r): return "cannot write tensor \(t): \(r)"
        }
    }
}
