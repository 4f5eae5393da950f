import CZstd

/// zstd compression: the only Swift file that calls libzstd.
public enum Zstd {
    /// Compresses `input` at `level` (3 is zstd's default).
    public static func compress(_ input: [UInt8], level: Int32 = 19) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level)
            }
        }
        if ZSTD_isError(n) != 0 { throw ZstdError(message: String(cString: ZSTD_getErrorName(n)), what: "compression") }
        out.removeSubrange(n...)
        return out
    }

    /// Decompresses a frame whose decompressed size must equal `expectedSize`.
    /// - Parameter what: names the blob in errors.
    public static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, what: String) throws -> [UInt8] {
        guard expectedSize >= 0, expectedSize < (1 << 34) else {
            throw ZstdError(message: "implausible decompressed size \(expectedSize)", what: what)
        }
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        if declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != UInt64(expectedSize) {
            throw ZstdError(message: "frame declares \(declared) bytes, metadata says \(expectedSize)", what: what)
        }
        var out = [UInt8](repeating: 0, count: expectedSize)
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, expectedSize, input.baseAddress, input.count)
        }
        if ZSTD_isError(n) != 0 { throw ZstdError(message: String(cString: ZSTD_getErrorName(n)), what: what) }
        guard n == expectedSize else { throw ZstdError(message: "decompressed \(n) bytes, expected \(expectedSize)", what: what) }
        return out
    }
}

public struct ZstdError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public let what: String
    public var description: String { "\(what): zstd: \(message)" }
}
