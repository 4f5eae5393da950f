import CKernels

/// Encodes f32 tensors into any `Encoding` and decodes them back, through the C kernels (formats/REEL.md §3).
///
/// A tensor is `rows` rows of `k` elements (the last dimension); rows are packed back to back. The buffer-based
/// functions write into caller-provided memory so a converter can stream tensor by tensor.
public enum Codec {
    /// Checks the shape and returns (elements, encoded bytes).
    static func sizes(rows: Int, k: Int, encoding: Encoding) throws -> (elements: Int, bytes: Int) {
        let (n, o) = rows.multipliedReportingOverflow(by: k)
        guard rows >= 1, k >= 1, !o, let bytes = encoding.byteCount(shape: [rows, k]) else {
            throw QuantError.badShape(rows: rows, k: k)
        }
        return (n, bytes)
    }

    /// Encodes `rows × k` f32 values (row-major) as `encoding` into `destination`.
    /// - Parameters:
    ///   - source: f32 [rows, k]
    ///   - destination: at least `encoding.byteCount(shape: [rows, k])` bytes; extra bytes are left untouched
    /// - Returns: the number of bytes written.
    /// - Throws: `QuantError` for a bad shape, a short buffer, or a row a quantised encoding cannot store (NaN, ±∞).
    @discardableResult
    public static func encode(_ source: UnsafeBufferPointer<Float>, rows: Int, k: Int, as encoding: Encoding,
                              into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        let (n, bytes) = try sizes(rows: rows, k: k, encoding: encoding)
        guard source.count >= n else { throw QuantError.sourceTooSmall(encoding: .f32, needed: n, actual: source.count) }
        guard destination.count >= bytes else {
            throw QuantError.destinationTooSmall(encoding: encoding, needed: bytes, actual: destination.count)
        }
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return 0 }
        switch encoding {
        case .f32:
            dst.copyMemory(from: src, byteCount: bytes)
        case .f16:
            reel_f32_to_f16(src, dst.assumingMemoryBound(to: UInt16.self), Int64(n))
        case .bf16:
            reel_f32_to_bf16(src, dst.assumingMemoryBound(to: UInt16.self), Int64(n))
        case .q8, .q4, .q4f:
            let rowBytes = bytes / rows
            for r in 0..<rows {
                let x = src + r * k, o = dst + r * rowBytes
                let rc: Int32
                switch encoding {
                case .q8: rc = reel_quantize_row_q8(x, o, Int64(k))
                case .q4: rc = reel_quantize_row_q4(x, o, Int64(k))
                default: rc = reel_quantize_row_q4f(x, o, Int64(k))
                }
                guard rc == Int32(REEL_OK) else { throw QuantError.unrepresentable(encoding: encoding, row: r) }
            }
        }
        return bytes
    }

    /// Encodes `rows × k` f32 values into a new byte array.
    public static func encode(_ source: [Float], rows: Int, k: Int, as encoding: Encoding) throws -> [UInt8] {
        let (_, bytes) = try sizes(rows: rows, k: k, encoding: encoding)
        var out = [UInt8](repeating: 0, count: bytes)
        try source.withUnsafeBufferPointer { s in
            try out.withUnsafeMutableBytes { _ = try encode(s, rows: rows, k: k, as: encoding, into: $0) }
        }
        return out
    }

    /// Decodes `rows × k` elements stored as `encoding` into f32.
    /// - Parameters:
    ///   - source: at least `encoding.byteCount(shape: [rows, k])` bytes
    ///   - destination: f32 [rows, k]
    public static func decode(_ source: UnsafeRawBufferPointer, rows: Int, k: Int, from encoding: Encoding,
                              into destination: UnsafeMutableBufferPointer<Float>) throws {
        let (n, bytes) = try sizes(rows: rows, k: k, encoding: encoding)
        guard source.count >= bytes else {
            throw QuantError.sourceTooSmall(encoding: encoding, needed: bytes, actual: source.count)
        }
        guard destination.count >= n else {
            throw QuantError.destinationTooSmall(encoding: .f32, needed: n, actual: destination.count)
        }
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        switch encoding {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: bytes)
        case .f16:
            reel_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, Int64(n))
        case .bf16:
            reel_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst, Int64(n))
        case .q8, .q4, .q4f:
            let rowBytes = bytes / rows
            for r in 0..<rows {
                let w = src + r * rowBytes, y = dst + r * k
                switch encoding {
                case .q8: reel_dequantize_row_q8(w, y, Int64(k))
                case .q4: reel_dequantize_row_q4(w, y, Int64(k))
                default: reel_dequantize_row_q4f(w, y, Int64(k))
                }
            }
        }
    }

    /// Decodes `rows × k` elements stored as `encoding` into a new f32 array.
    public static func decode(_ source: [UInt8], rows: Int, k: Int, from encoding: Encoding) throws -> [Float] {
        let (n, _) = try sizes(rows: rows, k: k, encoding: encoding)
        var out = [Float](repeating: 0, count: n)
        try source.withUnsafeBytes { s in
            try out.withUnsafeMutableBufferPointer { try decode(s, rows: rows, k: k, from: encoding, into: $0) }
        }
        return out
    }

    /// Quantises one activation row of `k` f32 values to q8 blocks (absmax/127: the fast per-token quantiser the
    /// runtime feeds to q8/q4/q4f dot products). `destination` holds at least `Encoding.q8.rowBytes(k)` bytes.
    public static func quantizeActivations(_ source: UnsafeBufferPointer<Float>,
                                           into destination: UnsafeMutableRawBufferPointer) throws {
        let k = source.count
        let (_, bytes) = try sizes(rows: 1, k: k, encoding: .q8)
        guard destination.count >= bytes else {
            throw QuantError.destinationTooSmall(encoding: .q8, needed: bytes, actual: destination.count)
        }
        reel_quantize_row_q8_act(source.baseAddress, destination.baseAddress, Int64(k))
    }
}

/// f16 / bf16 ↔ f32 buffer conversion (round to nearest even; NaN stays NaN).
public enum HalfConversion {
    /// Converts `min(source.count, destination.count)` binary16 values to f32.
    public static func f16ToF32(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        reel_f16_to_f32(source.baseAddress, destination.baseAddress, Int64(min(source.count, destination.count)))
    }
    /// Converts `min(source.count, destination.count)` f32 values to binary16.
    public static func f32ToF16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        reel_f32_to_f16(source.baseAddress, destination.baseAddress, Int64(min(source.count, destination.count)))
    }
    /// Converts `min(source.count, destination.count)` bfloat16 values to f32.
    public static func bf16ToF32(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        reel_bf16_to_f32(source.baseAddress, destination.baseAddress, Int64(min(source.count, destination.count)))
    }
    /// Converts `min(source.count, destination.count)` f32 values to bfloat16.
    public static func f32ToBF16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        reel_f32_to_bf16(source.baseAddress, destination.baseAddress, Int64(min(source.count, destination.count)))
    }
}
