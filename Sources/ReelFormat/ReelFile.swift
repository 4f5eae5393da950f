import ReelCore
import ReelQuant

/// A `.reel` file mapped read-only: the header and metadata validated at open, tensors as pointers into the mapping.
///
/// Opening is O(metadata): it reads the header, hashes and parses the metadata, and checks every offset, length and
/// name (formats/REEL.md §1–2) without touching a tensor's bytes. `verify` re-hashes the data section.
public final class ReelFile: @unchecked Sendable {
    public let path: String
    public let header: ReelHeader
    public let formatVersion: Int
    public let architecture: String
    /// The whole metadata object, `tensors` and `blobs` included.
    public let metadata: JSON
    public let components: [ReelComponent]
    /// Every tensor, in the order of the metadata table.
    public let tensors: [TensorInfo]
    public let blobs: [BlobInfo]
    /// Absolute file offset of the data section (a multiple of 16384).
    public let dataOffset: Int
    public let dataLength: Int

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]
    private let blobIndex: [String: Int]

    /// Maps and validates `path`.
    public init(path: String) throws {
        self.path = path
        do { mapping = try MappedFile(path: path, hugePages: true) } catch {
            throw ReelFormatError.cannotOpen(path: path, reason: (error as? IOError)?.reason ?? "\(error)")
        }
        let bytes = mapping.bytes
        let magic = ReelLayout.magic
        // A file shorter than the magic whose bytes match it is a truncated .reel, not a foreign file.
        for i in 0..<min(bytes.count, magic.count) where bytes[i] != magic[i] { throw ReelFormatError.badMagic(path: path) }
        guard let h = ReelHeader(bytes) else {
            throw ReelFormatError.truncated(path: path, expectedBytes: UInt64(ReelLayout.headerSize), actualBytes: bytes.count)
        }
        header = h
        let layout = try Self.checkHeader(h, fileSize: bytes.count, path: path)
        dataOffset = layout.dataOffset
        dataLength = layout.dataLength

        let meta = UnsafeRawBufferPointer(rebasing: bytes[ReelLayout.headerSize..<(ReelLayout.headerSize + layout.metadataLength)])
        let sum = Checksum.xxh64(meta)
        guard sum == h.metadataXXH64 else {
            throw ReelFormatError.metadataChecksumMismatch(path: path, expected: h.metadataXXH64, actual: sum)
        }
        let json: JSON
        do { json = try JSON.parse(meta, source: "metadata") } catch {
            throw ReelFormatError.badMetadata(path: path, key: "(root)", reason: "\(error)")
        }
        let v = try MetadataValidator(path: path).validate(json, headerVersion: h.formatVersion, dataLength: dataLength)
        metadata = json
        formatVersion = v.formatVersion
        architecture = v.architecture
        components = v.components
        tensors = v.tensors
        blobs = v.blobs
        tensorIndex = Dictionary(uniqueKeysWithValues: v.tensors.enumerated().map { ($1.name, $0) })
        blobIndex = Dictionary(uniqueKeysWithValues: v.blobs.enumerated().map { ($1.name, $0) })
    }

    /// Checks §1 and returns the sizes as `Int`s; every comparison is overflow-safe.
    private static func checkHeader(_ h: ReelHeader, fileSize: Int, path: String)
        throws -> (metadataLength: Int, dataOffset: Int, dataLength: Int) {
        func bad(_ field: String, _ value: UInt64, _ reason: String) -> ReelFormatError {
            .badHeader(path: path, field: field, value: value, reason: reason)
        }
        if h.formatVersion > ReelLayout.formatVersion {
            throw ReelFormatError.unsupportedVersion(path: path, fileVersion: h.formatVersion,
                                                     highestSupported: ReelLayout.formatVersion)
        }
        guard h.formatVersion >= 1 else { throw bad("format_version", UInt64(h.formatVersion), "versions start at 1") }
        guard h.headerSize == UInt32(ReelLayout.headerSize) else { throw bad("header_size", UInt64(h.headerSize), "must be 64") }
        guard h.metadataOffset == UInt64(ReelLayout.headerSize) else {
            throw bad("metadata_offset", h.metadataOffset, "must be 64")
        }
        // Truncation first: a cut file should say so, whatever else its header claims.
        if h.fileLength > UInt64(fileSize) {
            throw ReelFormatError.truncated(path: path, expectedBytes: h.fileLength, actualBytes: fileSize)
        }
        guard h.fileLength == UInt64(fileSize) else {
            throw bad("file_length", h.fileLength, "the file has \(fileSize) bytes")
        }
        guard h.metadataLength >= 2, h.metadataLength <= UInt64(ReelLayout.maxMetadataLength) else {
            throw bad("metadata_length", h.metadataLength, "must be between 2 and \(ReelLayout.maxMetadataLength)")
        }
        // All of these are ≤ file_length = fileSize ≤ Int.max from here on, so the conversions cannot trap.
        guard h.dataOffset % UInt64(ReelLayout.dataAlignment) == 0 else {
            throw bad("data_offset", h.dataOffset, "not a multiple of \(ReelLayout.dataAlignment)")
        }
        guard h.dataOffset >= UInt64(ReelLayout.headerSize) + h.metadataLength else {
            throw bad("data_offset", h.dataOffset, "overlaps the metadata (which ends at \(64 + h.metadataLength))")
        }
        guard h.dataOffset <= h.fileLength, h.dataLength == h.fileLength - h.dataOffset else {
            throw bad("data_length", h.dataLength, "data_offset \(h.dataOffset) + data_length ≠ file_length \(h.fileLength)")
        }
        return (Int(h.metadataLength), Int(h.dataOffset), Int(h.dataLength))
    }

    /// The tensor named `name`, if any.
    public func tensorInfo(_ name: String) -> TensorInfo? { tensorIndex[name].map { tensors[$0] } }

    public func blobInfo(_ name: String) -> BlobInfo? { blobIndex[name].map { blobs[$0] } }

    /// The component named `name` (`decoder`, `vision`, …), if any.
    public func component(_ name: String) -> ReelComponent? { components.first { $0.name == name } }

    /// A view of a tensor's bytes in the mapping; it keeps the mapping alive. Does not read the bytes.
    public func tensor(_ name: String) throws -> TensorView {
        guard let info = tensorInfo(name) else { throw ReelFormatError.noSuchTensor(path: path, name: name) }
        return TensorView(info: info, bytes: try region(offset: info.offset, length: info.length, what: "tensor \"\(name)\""),
                          owner: mapping)
    }

    /// A blob's bytes, decompressed, after checking the stored bytes' checksum and the raw length.
    public func blob(_ name: String) throws -> [UInt8] {
        guard let info = blobInfo(name) else { throw ReelFormatError.noSuchBlob(path: path, name: name) }
        let stored = try region(offset: info.offset, length: info.length, what: "blob \"\(name)\"")
        let sum = Checksum.xxh64(stored)
        guard sum == info.xxh64 else {
            throw ReelFormatError.blobChecksumMismatch(path: path, blob: name, expected: info.xxh64, actual: sum)
        }
        return try decoded(info, stored: stored)
    }

    /// A blob's stored bytes (already checksummed) as its contents: decompressed to exactly `raw_length` bytes.
    func decoded(_ info: BlobInfo, stored: UnsafeRawBufferPointer) throws -> [UInt8] {
        switch info.compression {
        case .none:
            return Array(stored)
        case .zstd:
            do { return try Zstd.decompress(stored, expectedSize: info.rawLength, what: "blob \"\(info.name)\"") } catch {
                throw ReelFormatError.blobCorrupt(path: path, blob: info.name, reason: "\(error)")
            }
        }
    }

    /// A validated region of the data section (offsets relative to it); the bounds were checked at open, and are
    /// checked again here by `MappedFile.slice` so no pointer is ever formed outside the mapping.
    private func region(offset: Int, length: Int, what: String) throws -> UnsafeRawBufferPointer {
        do { return try mapping.slice(offset: dataOffset + offset, length: length, what: what) } catch {
            throw ReelFormatError.regionOutOfBounds(path: path, region: what, offset: offset, length: length,
                                                    dataLength: dataLength)
        }
    }

    // MARK: - Paging hints

    /// Tells the kernel the whole file will be read front to back (conversion, verify).
    public func adviseSequential() { mapping.advise(.sequential) }

    /// Asks the kernel to start reading a tensor's pages now (prefetch before first use).
    public func adviseWillNeed(tensor name: String) throws {
        guard let t = tensorInfo(name) else { throw ReelFormatError.noSuchTensor(path: path, name: name) }
        mapping.advise(.willNeed, offset: dataOffset + t.offset, length: t.length)
    }

    /// Lets the kernel drop a tensor's pages (they are re-read from the file on next touch).
    public func adviseDontNeed(tensor name: String) throws {
        guard let t = tensorInfo(name) else { throw ReelFormatError.noSuchTensor(path: path, name: name) }
        mapping.advise(.dontNeed, offset: dataOffset + t.offset, length: t.length)
    }

    /// Reads the tensors whose names start with `prefix` into memory now, in file order (`MappedFile.populate`),
    /// so that they reach the page cache as 2 MiB folios before a model's threads first touch them. Skipped when
    /// they come to more than half of the machine's memory: then they are read as they are used, as before.
    public func populate(prefix: String) {
        let ranges = tensors.filter { $0.name.hasPrefix(prefix) && $0.length > 0 }
            .map { (dataOffset + $0.offset, dataOffset + $0.offset + $0.length) }.sorted { $0.0 < $1.0 }
        let total = ranges.reduce(0) { $0 + ($1.1 - $1.0) }
        guard total > 0, total <= (MappedFile.physicalMemory ?? Int.max) / 2 else { return }
        // Neighbours less than 2 MiB apart are read as one region, the gap with them (one call instead of hundreds).
        var merged: [(Int, Int)] = []
        for r in ranges {
            if let last = merged.last, r.0 - last.1 < 2 << 20 { merged[merged.count - 1].1 = max(last.1, r.1) }
            else { merged.append(r) }
        }
        for (lo, hi) in merged { mapping.populate(offset: lo, length: hi - lo) }
    }

    /// Any advice for the whole mapping.
    public func advise(_ advice: MappedFile.Advice) { mapping.advise(advice) }

    /// The mapping's base address (for alignment checks and diagnostics).
    public var baseAddress: UnsafeRawPointer? { mapping.bytes.baseAddress }
    public var fileSize: Int { mapping.count }
    /// Bytes of the file mapped with 2 MiB pages right now (`MappedFile.hugePageBytes`); nil where unknown.
    public func hugePageBytes() -> Int? { mapping.hugePageBytes() }
    /// Bytes of the file mapped in (resident) right now (`MappedFile.residentBytes`); nil where unknown.
    public func residentBytes() -> Int? { mapping.residentBytes() }

    var mappedFile: MappedFile { mapping }
}

/// A tensor's bytes inside the mapping, with its table row. Holding a view keeps the file mapped.
public struct TensorView: @unchecked Sendable {
    public let info: TensorInfo
    /// `info.length` bytes, 64-byte aligned in memory.
    public let bytes: UnsafeRawBufferPointer
    private let owner: MappedFile

    init(info: TensorInfo, bytes: UnsafeRawBufferPointer, owner: MappedFile) {
        self.info = info
        self.bytes = bytes
        self.owner = owner
    }

    public var name: String { info.name }
    public var encoding: Encoding { info.encoding }
    public var shape: [Int] { info.shape }

    /// Runs `body` with the bytes while guaranteeing the mapping outlives the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(bytes) }
    }
}
