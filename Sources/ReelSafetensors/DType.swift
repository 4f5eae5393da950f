/// The element types of the safetensors spec, spelled as in the header (`"BF16"`).
/// Every type the reference implementation knows is recognised, so a file is never refused for a
/// dtype it may legally hold; `canConvertToFloat32` says which ones Reel can turn into f32.
public enum SafetensorsDType: String, CaseIterable, Sendable, CustomStringConvertible {
    case bool = "BOOL"
    case f4 = "F4"
    case f6e2m3 = "F6_E2M3"
    case f6e3m2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case f8e8m0 = "F8_E8M0"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    public var description: String { rawValue }

    /// Bits per element (4 and 6 for the micro-scaling floats, which pack several per byte).
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Bytes per element, or nil for the sub-byte types.
    public var byteSize: Int? { bitSize % 8 == 0 ? bitSize / 8 : nil }

    /// Floating-point types, whose values may be NaN or infinite.
    public var isFloatingPoint: Bool {
        switch self {
        case .f4, .f6e2m3, .f6e3m2, .f8e5m2, .f8e4m3, .f8e8m0, .f16, .bf16, .f32, .f64, .c64: return true
        default: return false
        }
    }

    /// Whether `readFloat32` handles this type (the sub-byte floats and complex numbers are refused).
    public var canConvertToFloat32: Bool {
        switch self {
        case .f4, .f6e2m3, .f6e3m2, .c64: return false
        default: return true
        }
    }
}
