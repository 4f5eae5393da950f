import ReelCore
import ReelQuant

/// Everything that can go wrong reading or writing a `.reel` file. Every case names the file, and where it
/// applies the header field, metadata key, tensor, blob or offset (formats/REEL.md).
public enum ReelFormatError: Error, CustomStringConvertible, Equatable {
    // Opening.
    /// The file could not be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// The first 8 bytes are not `REEL\r\n\x1a\n`.
    case badMagic(path: String)
    /// The file needs a newer reader (§5).
    case unsupportedVersion(path: String, fileVersion: UInt32, highestSupported: UInt32)
    /// The file is shorter than its header says (or than a header).
    case truncated(path: String, expectedBytes: UInt64, actualBytes: Int)
    /// A header field breaks §1.
    case badHeader(path: String, field: String, value: UInt64, reason: String)
    /// The metadata bytes do not hash to the header's `metadata_xxh64`.
    case metadataChecksumMismatch(path: String, expected: UInt64, actual: UInt64)
    /// The metadata is not valid JSON, or a key is missing, mistyped or invalid. `key` is a path like `tensors[3].shape`.
    case badMetadata(path: String, key: String, reason: String)
    /// A tensor names an encoding this build does not know.
    case unknownEncoding(path: String, tensor: String, encoding: String)
    /// A blob names a compression other than `none` or `zstd`.
    case unknownCompression(path: String, blob: String, compression: String)
    /// An `xxh64` value is not exactly 16 lower-case hex digits.
    case badChecksumString(path: String, region: String, value: String)
    /// A shape with no dimensions, a dimension < 1, or an element count ≥ 2⁶³.
    case badShape(path: String, tensor: String, shape: [Int])
    /// A tensor's `length` disagrees with its encoding × shape.
    case lengthMismatch(path: String, tensor: String, encoding: Encoding, shape: [Int], length: Int, expected: Int)
    /// Two tensors (or two blobs) share a name, or a name is empty.
    case duplicateName(path: String, name: String)
    case emptyName(path: String, key: String)
    /// A region's offset (relative to the data section) is not a multiple of 64.
    case misalignedRegion(path: String, region: String, offset: Int)
    /// A region ends past the data section (or its end overflows).
    case regionOutOfBounds(path: String, region: String, offset: Int, length: Int, dataLength: Int)
    /// Two regions share bytes.
    case overlappingRegions(path: String, first: String, second: String, offset: Int)

    // Reading.
    case noSuchTensor(path: String, name: String)
    case noSuchBlob(path: String, name: String)
    /// A tensor's bytes do not hash to its `xxh64` (found by `verify`).
    case tensorChecksumMismatch(path: String, tensor: String, expected: UInt64, actual: UInt64)
    /// A blob's stored bytes do not hash to its `xxh64`.
    case blobChecksumMismatch(path: String, blob: String, expected: UInt64, actual: UInt64)
    /// A blob does not decompress to `raw_length` bytes.
    case blobCorrupt(path: String, blob: String, reason: String)
    /// Padding that must be zero is not (found by `verify`).
    case nonZeroPadding(path: String, offset: Int)

    // Writing.
    /// The destination exists and `force` was not given.
    case outputExists(path: String)
    /// The destination's directory does not exist or cannot be written.
    case unwritableDirectory(path: String, reason: String)
    /// Writing, syncing or renaming failed (a full disk, an I/O error).
    case writeFailed(path: String, reason: String)
    /// The plan given to the writer is inconsistent (a reserved metadata key, a duplicate or empty name, a bad shape).
    case invalidPlan(path: String, reason: String)
    /// Tensors must be written in plan order.
    case tensorOutOfOrder(path: String, expected: String?, got: String)
    /// A tensor received more or fewer bytes than its encoding × shape.
    case wrongTensorByteCount(path: String, tensor: String, expected: Int, got: Int)
    /// A writer call made in the wrong state (append with no open tensor, finish with tensors unwritten, use after an error).
    case writerMisuse(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(p, r): return "\(p): cannot open: \(r)"
        case let .badMagic(p): return "\(p): not a .reel file (bad magic)"
        case let .unsupportedVersion(p, v, max):
            return "\(p): written with format version \(v); this reel reads versions up to \(max) — upgrade reel"
        case let .truncated(p, e, a): return "\(p): truncated: the header says \(e) bytes, the file has \(a)"
        case let .badHeader(p, f, v, r): return "\(p): header field \(f) = \(v): \(r)"
        case let .metadataChecksumMismatch(p, e, a):
            return "\(p): metadata checksum mismatch (header \(hex(e)), computed \(hex(a)))"
        case let .badMetadata(p, k, r): return "\(p): metadata key \(k): \(r)"
        case let .unknownEncoding(p, t, e): return "\(p): tensor \"\(t)\": unknown encoding \"\(e)\""
        case let .unknownCompression(p, b, c): return "\(p): blob \"\(b)\": unknown compression \"\(c)\""
        case let .badChecksumString(p, r, v): return "\(p): \(r): xxh64 \"\(v)\" is not 16 lower-case hex digits"
        case let .badShape(p, t, s): return "\(p): tensor \"\(t)\": invalid shape \(s)"
        case let .lengthMismatch(p, t, e, s, l, x):
            return "\(p): tensor \"\(t)\": length \(l) but \(e.rawValue) \(s) takes \(x) bytes"
        case let .duplicateName(p, n): return "\(p): name \"\(n)\" occurs twice"
        case let .emptyName(p, k): return "\(p): \(k): empty name"
        case let .misalignedRegion(p, r, o): return "\(p): \(r): offset \(o) is not a multiple of 64"
        case let .regionOutOfBounds(p, r, o, l, d):
            return "\(p): \(r): offset \(o) + length \(l) lies outside the data section (\(d) bytes)"
        case let .overlappingRegions(p, a, b, o): return "\(p): \(a) and \(b) overlap at data offset \(o)"
        case let .noSuchTensor(p, n): return "\(p): no tensor named \"\(n)\""
        case let .noSuchBlob(p, n): return "\(p): no blob named \"\(n)\""
        case let .tensorChecksumMismatch(p, t, e, a):
            return "\(p): tensor \"\(t)\" is corrupt: xxh64 \(hex(a)), metadata says \(hex(e))"
        case let .blobChecksumMismatch(p, b, e, a):
            return "\(p): blob \"\(b)\" is corrupt: xxh64 \(hex(a)), metadata says \(hex(e))"
        case let .blobCorrupt(p, b, r): return "\(p): blob \"\(b)\" is corrupt: \(r)"
        case let .nonZeroPadding(p, o): return "\(p): padding byte at offset \(o) is not zero"
        case let .outputExists(p): return "\(p): already exists (use --force to overwrite)"
        case let .unwritableDirectory(p, r): return "\(p): cannot create a file in this directory: \(r)"
        case let .writeFailed(p, r): return "\(p): write failed: \(r)"
        case let .invalidPlan(p, r): return "\(p): invalid plan: \(r)"
        case let .tensorOutOfOrder(p, e, g):
            return "\(p): tensor \"\(g)\" written out of plan order (expected \(e.map { "\"\($0)\"" } ?? "no more tensors"))"
        case let .wrongTensorByteCount(p, t, e, g): return "\(p): tensor \"\(t)\": expected \(e) bytes, got \(g)"
        case let .writerMisuse(p, r): return "\(p): \(r)"
        }
    }
}

private func hex(_ v: UInt64) -> String { Checksum.hex(v) }
