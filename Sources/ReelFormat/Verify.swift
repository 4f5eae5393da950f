import ReelCore
import ReelQuant

/// What `ReelFile.verify` checked.
public struct VerifyReport: Equatable, Sendable {
    public let tensorsChecked: Int
    public let blobsChecked: Int
    /// Bytes hashed: every blob and tensor, plus the padding checked for zeros.
    public let bytesChecked: Int
}

extension ReelFile {
    /// Re-hashes every blob and tensor against its `xxh64` and checks that padding is zero, in file order.
    /// Throws on the first bad region, naming it (a corrupt tensor raises `tensorChecksumMismatch`).
    /// - Parameter progress: called with (bytes done, bytes total) after each chunk of at most 64 MiB.
    public func verify(progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> VerifyReport {
        enum Kind { case blob(BlobInfo), tensor(TensorInfo) }
        var regions: [(offset: Int, length: Int, kind: Kind)] = blobs.map { ($0.offset, $0.length, .blob($0)) }
        regions += tensors.map { ($0.offset, $0.length, .tensor($0)) }
        regions.sort { $0.offset < $1.offset }
        let file = mappedFile
        let total = dataOffset + dataLength
        var done = 0
        let chunk = 64 << 20
        file.advise(.sequential)

        // Zero padding: after the metadata, and in the gaps of the data section.
        func checkZeros(from start: Int, to end: Int) throws {
            var at = start
            while at < end {  // in chunks, releasing pages, as `hash` does
                let n = min(chunk, end - at)
                let b = try file.slice(offset: at, length: n, what: "padding")
                if let i = b.firstIndex(where: { $0 != 0 }) { throw ReelFormatError.nonZeroPadding(path: path, offset: at + i) }
                file.advise(.dontNeed, offset: at, length: n)
                at += n
                done += n
            }
        }
        // Hashes a region in chunks, releasing its pages as it goes so verifying a large file does not fill memory.
        func hash(offset: Int, length: Int, what: String) throws -> UInt64 {
            var h = StreamingXXH64()
            var at = 0
            repeat {
                let n = min(chunk, length - at)
                let b = try file.slice(offset: dataOffset + offset + at, length: n, what: what)
                h.update(b)
                file.advise(.dontNeed, offset: dataOffset + offset + at, length: n)
                at += n
                done += n
                progress?(done, total)
            } while at < length
            return h.digest()
        }

        try checkZeros(from: ReelLayout.headerSize + Int(header.metadataLength), to: dataOffset)
        var cursor = 0
        for r in regions {
            try checkZeros(from: dataOffset + cursor, to: dataOffset + r.offset)
            cursor = max(cursor, r.offset + r.length)
            switch r.kind {
            case let .blob(b):
                let sum = try hash(offset: b.offset, length: b.length, what: "blob \"\(b.name)\"")
                guard sum == b.xxh64 else {
                    throw ReelFormatError.blobChecksumMismatch(path: path, blob: b.name, expected: b.xxh64, actual: sum)
                }
                // A compressed blob must also decompress to its raw_length, as reading it will require.
                if b.compression != .none {
                    _ = try decoded(b, stored: try file.slice(offset: dataOffset + b.offset, length: b.length, what: "blob \"\(b.name)\""))
                }
            case let .tensor(t):
                let sum = try hash(offset: t.offset, length: t.length, what: "tensor \"\(t.name)\"")
                guard sum == t.xxh64 else {
                    throw ReelFormatError.tensorChecksumMismatch(path: path, tensor: t.name, expected: t.xxh64, actual: sum)
                }
            }
        }
        try checkZeros(from: dataOffset + cursor, to: dataOffset + dataLength)
        progress?(total, total)
        return VerifyReport(tensorsChecked: tensors.count, blobsChecked: blobs.count, bytesChecked: done)
    }
}

/// Per-encoding totals for `reel inspect`.
public struct ReelSummary: Equatable, Sendable {
    public struct Row: Equatable, Sendable {
        public let encoding: Encoding
        public let tensorCount: Int
        public let elementCount: Int
        public let bytes: Int
        /// Stored bits per element, partial blocks included.
        public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(bytes) * 8 / Double(elementCount) }
    }
    /// One row per encoding present, in `Encoding.allCases` order.
    public let rows: [Row]
    public let tensorCount: Int
    public let tensorBytes: Int
    public let elementCount: Int
    /// Stored (compressed) bytes of all blobs.
    public let blobBytes: Int
    public let fileBytes: Int
    /// Over all tensors.
    public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(tensorBytes) * 8 / Double(elementCount) }
}

extension ReelFile {
    /// Tensor counts, bytes and bits per weight per encoding, and the totals.
    public func summary() -> ReelSummary {
        let rows = Encoding.allCases.compactMap { e -> ReelSummary.Row? in
            let ts = tensors.filter { $0.encoding == e }
            if ts.isEmpty { return nil }
            return ReelSummary.Row(encoding: e, tensorCount: ts.count, elementCount: ts.reduce(0) { $0 + $1.elementCount },
                                   bytes: ts.reduce(0) { $0 + $1.length })
        }
        return ReelSummary(rows: rows, tensorCount: tensors.count, tensorBytes: rows.reduce(0) { $0 + $1.bytes },
                           elementCount: rows.reduce(0) { $0 + $1.elementCount },
                           blobBytes: blobs.reduce(0) { $0 + $1.length }, fileBytes: fileSize)
    }
}
