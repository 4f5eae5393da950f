/// The constants of formats/REEL.md §1.
public enum ReelLayout {
    /// `REEL\r\n\x1a\n`: catches text-mode and truncating transfers.
    public static let magic: [UInt8] = [0x52, 0x45, 0x45, 0x4C, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The highest format version this build reads and the one it writes.
    public static let formatVersion: UInt32 = 1
    public static let headerSize = 64
    /// The data section starts on a multiple of this (16 KiB pages, the largest common page size).
    public static let dataAlignment = 16384
    /// Every blob and tensor starts on a multiple of this, relative to the data section.
    public static let regionAlignment = 64
    /// The largest metadata block a reader accepts.
    public static let maxMetadataLength = 256 << 20
    /// The checksum written before the real one is known (same length, so the metadata can be patched in place).
    public static let placeholderChecksum = "0000000000000000"

    /// `n` rounded up to a multiple of `alignment` (a power of two), or nil on overflow.
    public static func alignUp(_ n: Int, _ alignment: Int) -> Int? {
        let (s, o) = n.addingReportingOverflow(alignment - 1)
        return o ? nil : s & ~(alignment - 1)
    }
}

/// The 64-byte header (formats/REEL.md §1), as raw little-endian integers; `ReelFile` validates them.
public struct ReelHeader: Equatable, Sendable {
    public var formatVersion: UInt32
    public var headerSize: UInt32
    public var metadataOffset: UInt64
    public var metadataLength: UInt64
    public var metadataXXH64: UInt64
    public var dataOffset: UInt64
    public var dataLength: UInt64
    public var fileLength: UInt64

    public init(formatVersion: UInt32 = ReelLayout.formatVersion, headerSize: UInt32 = 64, metadataOffset: UInt64 = 64,
                metadataLength: UInt64, metadataXXH64: UInt64, dataOffset: UInt64, dataLength: UInt64, fileLength: UInt64) {
        self.formatVersion = formatVersion
        self.headerSize = headerSize
        self.metadataOffset = metadataOffset
        self.metadataLength = metadataLength
        self.metadataXXH64 = metadataXXH64
        self.dataOffset = dataOffset
        self.dataLength = dataLength
        self.fileLength = fileLength
    }

    /// Reads the fields after the magic; nil if fewer than 64 bytes are given. Does not check the magic.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= ReelLayout.headerSize else { return nil }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        self.init(formatVersion: u32(8), headerSize: u32(12), metadataOffset: u64(16), metadataLength: u64(24),
                  metadataXXH64: u64(32), dataOffset: u64(40), dataLength: u64(48), fileLength: u64(56))
    }

    /// The 64 bytes on disk, magic included.
    public func encoded() -> [UInt8] {
        var out = ReelLayout.magic
        out.reserveCapacity(ReelLayout.headerSize)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(formatVersion)
        put(headerSize)
        put(metadataOffset)
        put(metadataLength)
        put(metadataXXH64)
        put(dataOffset)
        put(dataLength)
        put(fileLength)
        return out
    }
}
