import ReelCore
import ReelQuant

/// Where the converter reads a tensor's rows from: a safetensors checkpoint (`reel convert`) or a .reel file
/// (`reel quantize`). One streaming pipeline serves both.
protocol TensorSource {
    /// The stored form, when it is one of Reel's encodings (so a tensor already in the target encoding is copied as is).
    func storedEncoding(_ name: String) throws -> Encoding?
    /// The stored bytes (for a straight copy).
    func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer
    /// Rows `rows` of a tensor viewed as rows of `k` elements, as f32.
    func readRows(_ name: String, rows: Range<Int>, k: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Throws when the stored bytes are known to be damaged (a .reel tensor whose checksum does not match), so that
    /// a re-encoding never writes damaged weights under fresh, valid checksums.
    func checkIntegrity(_ name: String) throws
}

extension TensorSource {
    func checkIntegrity(_ name: String) throws {}
}
