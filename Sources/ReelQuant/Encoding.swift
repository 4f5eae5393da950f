/// How a tensor's elements are stored: one row of this table per encoding (formats/REEL.md §3).
public enum Encoding: String, CaseIterable, Sendable, Codable {
    case f32, f16, bf16, q8, q4, q4f

    /// Elements per block: 1 for float encodings, 32 for the quantised ones.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8, .q4, .q4f: return 32
        }
    }

    /// Bytes per block (formats/REEL.md draws each layout).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8: return 34   // f16 d + 32 × int8
        case .q4: return 18   // f16 d + 16 bytes of nibbles
        case .q4f: return 20  // f16 d₀ + f16 d₁ + 16 bytes of nibbles
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bits per weight for rows whose length is a multiple of the block size.
    public var bitsPerWeight: Double { Double(bytesPerBlock * 8) / Double(blockSize) }

    /// Bytes of one row of `k` elements (a partial last block is stored whole), or nil on overflow.
    public func rowBytes(_ k: Int) -> Int? {
        guard k >= 1 else { return nil }
        let blocks = (k + blockSize - 1) / blockSize
        let (n, o) = blocks.multipliedReportingOverflow(by: bytesPerBlock)
        return o ? nil : n
    }

    /// Bytes of a whole tensor: rows of the last dimension packed back to back; nil on overflow or a zero/negative dim.
    public func byteCount(shape: [Int]) -> Int? {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { return nil }
        guard let row = rowBytes(shape[shape.count - 1]) else { return nil }
        var total = row
        for d in shape.dropLast() {
            let (n, o) = total.multipliedReportingOverflow(by: d)
            if o { return nil }
            total = n
        }
        return total
    }

    /// Parses the names users type (`q8`, `int8`, `q4`, `int4`, `f16` …).
    public init?(userName: String) {
        switch userName.lowercased() {
        case "f32", "fp32", "float32": self = .f32
        case "f16", "fp16", "float16": self = .f16
        case "bf16", "bfloat16": self = .bf16
        case "q8", "int8", "q8_0": self = .q8
        case "q4", "int4", "q4_0": self = .q4
        case "q4f", "int4f": self = .q4f
        default: return nil
        }
    }
}

extension Encoding {
    /// The encoding's number in the C kernels (`REEL_ENC_*` in reel_quant.h).
    public var kernelCode: Int32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .bf16: return 2
        case .q8: return 3
        case .q4: return 4
        case .q4f: return 5
        }
    }
}
