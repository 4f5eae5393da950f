/// The resampling filters the HF processors use (PIL `resample` codes 2 and 3).
public enum ResizeFilter: Int, Sendable {
    case bilinear = 2
    case bicubic = 3

    /// Filter half-width in input pixels at scale 1 (torch's `interp_size / 2`).
    var radius: Double { self == .bilinear ? 1 : 2 }

    /// The antialiasing kernel (PIL / torch `aa_filter`): triangle, or Keys cubic with a = −0.5.
    func weight(_ x: Double) -> Double {
        let x = abs(x)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
    }
}

/// Precomputed taps of one axis of an antialiased uint8 resize, in torch's fixed point.
///
/// Mirrors `_compute_index_ranges_int16_weights` (aten/src/ATen/native/cpu/UpSampleKernel.cpp), which torch uses for
/// `interpolate(uint8, mode="bilinear"|"bicubic", antialias=True, align_corners=False)` and which torchvision's
/// uint8 resize calls: float64 PIL-style weights normalised per output pixel, then rounded to int16 with the largest
/// precision that keeps the biggest weight below 2¹⁵.
public struct ResampleTaps: Sendable {
    public let inSize: Int
    public let outSize: Int
    /// First input index of each output: Int [outSize]
    public let start: [Int]
    /// Number of input pixels of each output: Int [outSize]
    public let count: [Int]
    /// Stride between outputs in `weights`.
    public let stride: Int
    /// Fixed-point weights: Int32 [outSize, stride] (int16 values)
    public let weights: [Int32]
    /// Fractional bits of `weights`.
    public let precision: Int

    public init(inSize: Int, outSize: Int, filter: ResizeFilter) {
        self.inSize = inSize
        self.outSize = outSize
        let scale = Double(inSize) / Double(outSize)
        let support = scale >= 1 ? filter.radius * scale : filter.radius
        let invScale = scale >= 1 ? 1 / scale : 1
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        var start = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var w64 = [Double](repeating: 0, count: outSize * maxTaps)
        var wMax = 0.0
        for i in 0..<outSize {
            let center = scale * (Double(i) + 0.5)
            let xmin = max(Int(center - support + 0.5), 0)
            let xsize = min(max(min(Int(center + support + 0.5), inSize) - xmin, 0), maxTaps)
            var total = 0.0
            for j in 0..<xsize {
                let w = filter.weight((Double(j + xmin) - center + 0.5) * invScale)
                w64[i * maxTaps + j] = w
                total += w
            }
            if total != 0 {
                for j in 0..<xsize {
                    w64[i * maxTaps + j] /= total
                    wMax = max(wMax, w64[i * maxTaps + j])
                }
            }
            start[i] = xmin
            count[i] = xsize
        }
        var p = 0
        while p < 22 {
            if Int(0.5 + wMax * Double(1 << (p + 1))) >= (1 << 15) { break }
            p += 1
        }
        self.start = start
        self.count = count
        self.stride = maxTaps
        self.precision = p
        self.weights = w64.map { w in
            let v = w * Double(1 << p)
            return Int32(v < 0 ? (v - 0.5).rounded(.towardZero) : (v + 0.5).rounded(.towardZero))
        }
    }
}

/// Antialiased resize of an RGB24 image, bit-exact with torch's uint8 path (and so with torchvision's resize that
/// the HF fast processors call): horizontal pass, uint8 round + clamp, vertical pass, uint8 round + clamp.
/// A pass whose size does not change is skipped, as torch does.
/// - Parameters:
///   - pixels: u8 [height, width, 3]
/// - Returns: u8 [outHeight, outWidth, 3]
public func resizeRGB8(_ pixels: [UInt8], width: Int, height: Int, outWidth: Int, outHeight: Int,
                       filter: ResizeFilter = .bicubic) throws -> [UInt8] {
    guard width > 0, height > 0, outWidth > 0, outHeight > 0, pixels.count == width * height * 3 else {
        throw MediaError.badArgument(detail: "resize \(width)×\(height) (\(pixels.count) bytes) → \(outWidth)×\(outHeight)")
    }
    var cur = pixels
    if outWidth != width {
        let taps = ResampleTaps(inSize: width, outSize: outWidth, filter: filter)
        cur = horizontalPass(cur, width: width, height: height, taps: taps)
    }
    if outHeight != height {
        let taps = ResampleTaps(inSize: height, outSize: outHeight, filter: filter)
        cur = verticalPass(cur, rowBytes: outWidth * 3, taps: taps)
    }
    return cur
}

@inline(__always)
private func clip8(_ acc: Int32, _ shift: Int32) -> UInt8 {
    let v = acc >> shift
    return UInt8(truncatingIfNeeded: v < 0 ? 0 : (v > 255 ? 255 : v))
}

/// u8 [h, w, 3] → u8 [h, outSize, 3]
private func horizontalPass(_ src: [UInt8], width: Int, height: Int, taps: ResampleTaps) -> [UInt8] {
    let outW = taps.outSize
    var dst = [UInt8](repeating: 0, count: height * outW * 3)
    let shift = Int32(taps.precision)
    let half: Int32 = taps.precision > 0 ? 1 << (shift - 1) : 0
    let stride = taps.stride
    src.withUnsafeBufferPointer { sb in
    taps.weights.withUnsafeBufferPointer { wb in
    taps.start.withUnsafeBufferPointer { startb in
    taps.count.withUnsafeBufferPointer { countb in
    dst.withUnsafeMutableBufferPointer { db in
        let s = sb.baseAddress!, w = wb.baseAddress!, d = db.baseAddress!
        for y in 0..<height {
            let row = s + y * width * 3
            let out = d + y * outW * 3
            for x in 0..<outW {
                var r = half, g = half, b = half
                var p = row + startb[x] * 3
                let c = w + x * stride
                for k in 0..<countb[x] {
                    let ck = c[k]
                    r &+= Int32(p[0]) &* ck
                    g &+= Int32(p[1]) &* ck
                    b &+= Int32(p[2]) &* ck
                    p += 3
                }
                out[x * 3] = clip8(r, shift)
                out[x * 3 + 1] = clip8(g, shift)
                out[x * 3 + 2] = clip8(b, shift)
            }
        }
    }
    }
    }
    }
    }
    return dst
}

/// u8 [inSize, rowBytes] → u8 [outSize, rowBytes]
private func verticalPass(_ src: [UInt8], rowBytes: Int, taps: ResampleTaps) -> [UInt8] {
    var dst = [UInt8](repeating: 0, count: taps.outSize * rowBytes)
    let shift = Int32(taps.precision)
    let half: Int32 = taps.precision > 0 ? 1 << (shift - 1) : 0
    let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
    defer { acc.deallocate() }
    src.withUnsafeBufferPointer { sb in
    taps.weights.withUnsafeBufferPointer { wb in
    dst.withUnsafeMutableBufferPointer { db in
        let s = sb.baseAddress!, d = db.baseAddress!
        for y in 0..<taps.outSize {
            acc.update(repeating: half, count: rowBytes)
            for k in 0..<taps.count[y] {
                let c = wb[y * taps.stride + k]
                let row = s + (taps.start[y] + k) * rowBytes
                for i in 0..<rowBytes { acc[i] &+= Int32(row[i]) &* c }
            }
            let o = d + y * rowBytes
            for i in 0..<rowBytes { o[i] = clip8(acc[i], shift) }
        }
    }
    }
    }
    return dst
}
