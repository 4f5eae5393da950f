import CKernels

/// XXH64 (seed 0): the checksum of every tensor and blob in a .reel file.
public enum Checksum {
    public static func xxh64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        reel_xxh64(bytes.baseAddress, bytes.count, seed)
    }
    public static func xxh64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { xxh64($0, seed: seed) }
    }
    /// The fixed-width (16 lower-case hex digits) text form stored in metadata.
    public static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
    /// Parses exactly 16 lower-case hex digits (the form `hex` writes); anything else, a sign or upper case included, is nil.
    public static func parseHex(_ s: String) -> UInt64? {
        let u = s.utf8
        guard u.count == 16, u.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return UInt64(s, radix: 16)
    }
}

/// Streaming XXH64 for data that arrives in pieces (a tensor written block by block).
public struct StreamingXXH64 {
    private var state = reel_xxh64_state()
    public init(seed: UInt64 = 0) { reel_xxh64_reset(&state, seed) }
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        reel_xxh64_update(&state, bytes.baseAddress, bytes.count)
    }
    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    public func digest() -> UInt64 {
        var s = state
        return reel_xxh64_digest(&s)
    }
}
