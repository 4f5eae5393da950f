/// Element-wise conversion of stored tensor bytes to f32, and the NaN/Inf census.
/// Loads are unaligned: the spec does not require the header size to be a multiple of 8.

/// NaN and infinity counts of one tensor, counted in its stored dtype.
public struct NonFiniteCount: Equatable, Sendable {
    public var nan: Int
    public var inf: Int
    public var total: Int { nan + inf }
    public init(nan: Int = 0, inf: Int = 0) { self.nan = nan; self.inf = inf }
}

/// IEEE binary16 bits → f32 (exact).
@inline(__always)
public func float16BitsToFloat(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h & 0x8000) << 16
    let exp = UInt32(h >> 10) & 0x1F
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        let v = Float(mant) * 0x1p-24  // zero or subnormal: mant × 2^-24
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

/// f32 → IEEE binary16 bits, rounding to nearest even (overflow → ±inf, NaN stays NaN).
public func floatToFloat16Bits(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xFF)
    let mant = bits & 0x7F_FFFF
    if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        // Subnormal or zero in f16: shift the full significand, round to nearest even.
        if e < -10 { return sign }
        let full = mant | 0x80_0000
        let shift = UInt32(14 - e)
        var half = full >> shift
        let rest = full & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var h = UInt32(e) << 10 | (mant >> 13)
    let rest = mant & 0x1FFF
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }  // may carry into the exponent: correct
    return sign | UInt16(h)
}

/// bfloat16 bits → f32 (exact).
@inline(__always)
public func bfloat16BitsToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

/// F8_E4M3 (torch float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN) → f32.
@inline(__always)
func float8E4M3ToFloat(_ b: UInt8) -> Float {
    let exp = Int((b >> 3) & 0xF), mant = Float(b & 0x7)
    let v: Float
    if exp == 15 && b & 0x7 == 7 { return .nan }
    if exp == 0 { v = mant * 0x1p-9 } else { v = Float(sign: .plus, exponent: exp - 7, significand: 1 + mant / 8) }
    return b & 0x80 != 0 ? -v : v
}

/// F8_E5M2 is the top byte of an IEEE binary16.
@inline(__always)
func float8E5M2ToFloat(_ b: UInt8) -> Float { float16BitsToFloat(UInt16(b) << 8) }

/// F8_E8M0 (OCP MX scale): 2^(e − 127); 0xFF is NaN.
@inline(__always)
func float8E8M0ToFloat(_ b: UInt8) -> Float {
    b == 0xFF ? .nan : Float(sign: .plus, exponent: Int(b) - 127, significand: 1)
}

/// Converts `elements` of tensor `t` (stored in `bytes`) to f32 into the front of `buffer`.
func convertToFloat32(_ t: SafetensorsTensor, bytes: UnsafeRawBufferPointer, elements: Range<Int>?,
                      into buffer: UnsafeMutableBufferPointer<Float>, source: String) throws {
    let n = t.elementCount
    let r = elements ?? 0..<n
    guard r.lowerBound >= 0, r.upperBound <= n, r.count <= buffer.count else {
        throw SafetensorsError.badRange(tensor: t.name, range: r, elementCount: n, bufferCount: buffer.count)
    }
    guard t.dtype.canConvertToFloat32, let size = t.dtype.byteSize else {
        throw SafetensorsError.unsupportedConversion(source: source, tensor: t.name, dtype: t.dtype, to: "F32")
    }
    guard bytes.count == n * size else {  // a caller-made entry that does not match its bytes
        throw SafetensorsError.badRange(tensor: t.name, range: r, elementCount: bytes.count / size, bufferCount: buffer.count)
    }
    guard let out = buffer.baseAddress, !r.isEmpty else { return }
    let base = r.lowerBound
    @inline(__always) func each<T>(_: T.Type, _ f: (T) -> Float) {
        for i in 0..<r.count { out[i] = f(bytes.loadUnaligned(fromByteOffset: (base + i) * size, as: T.self)) }
    }
    #if _endian(little)
    if t.dtype == .f32 {  // the common case is a copy
        UnsafeMutableRawPointer(out).copyMemory(from: bytes.baseAddress! + base * 4, byteCount: r.count * 4)
        return
    }
    #endif
    switch t.dtype {
    case .f32: each(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) }
    case .f64: each(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
    case .f16: each(UInt16.self) { float16BitsToFloat(UInt16(littleEndian: $0)) }
    case .bf16: each(UInt16.self) { bfloat16BitsToFloat(UInt16(littleEndian: $0)) }
    case .f8e4m3: each(UInt8.self, float8E4M3ToFloat)
    case .f8e5m2: each(UInt8.self, float8E5M2ToFloat)
    case .f8e8m0: each(UInt8.self, float8E8M0ToFloat)
    case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
    case .u8: each(UInt8.self) { Float($0) }
    case .i8: each(Int8.self) { Float($0) }
    case .u16: each(UInt16.self) { Float(UInt16(littleEndian: $0)) }
    case .i16: each(Int16.self) { Float(Int16(littleEndian: $0)) }
    case .u32: each(UInt32.self) { Float(UInt32(littleEndian: $0)) }
    case .i32: each(Int32.self) { Float(Int32(littleEndian: $0)) }
    case .u64: each(UInt64.self) { Float(UInt64(littleEndian: $0)) }
    case .i64: each(Int64.self) { Float(Int64(littleEndian: $0)) }
    case .f4, .f6e2m3, .f6e3m2, .c64:
        throw SafetensorsError.unsupportedConversion(source: source, tensor: t.name, dtype: t.dtype, to: "F32")
    }
}

/// NaN/Inf census on the stored bits. C64 counts each f32 part; F4/F6 have no special values.
func countNonFinite(_ t: SafetensorsTensor, bytes: UnsafeRawBufferPointer) -> NonFiniteCount {
    var c = NonFiniteCount()
    @inline(__always) func scan<T: FixedWidthInteger>(_: T.Type, expMask: T, mantMask: T) {
        let n = bytes.count / MemoryLayout<T>.size
        for i in 0..<n {
            let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
            if v & expMask == expMask { if v & mantMask != 0 { c.nan += 1 } else { c.inf += 1 } }
        }
    }
    switch t.dtype {
    case .f32, .c64: scan(UInt32.self, expMask: 0x7F80_0000, mantMask: 0x007F_FFFF)
    case .f64: scan(UInt64.self, expMask: 0x7FF0_0000_0000_0000, mantMask: 0x000F_FFFF_FFFF_FFFF)
    case .f16: scan(UInt16.self, expMask: 0x7C00, mantMask: 0x03FF)
    case .bf16: scan(UInt16.self, expMask: 0x7F80, mantMask: 0x007F)
    case .f8e5m2: scan(UInt8.self, expMask: 0x7C, mantMask: 0x03)
    case .f8e4m3: for b in bytes where b & 0x7F == 0x7F { c.nan += 1 }
    case .f8e8m0: for b in bytes where b == 0xFF { c.nan += 1 }
    default: break
    }
    return c
}
