import CBLAS
import ReelQuant

/// The one Swift file that calls BLAS and the element kernels: row dequantisation per encoding, dot products, and
/// f32 GEMM/GEMV. Every other file calls these.
///
/// Dequantisation follows formats/REEL.md §3 exactly. Until CKernels' SIMD kernels land these are portable Swift;
/// swapping them for the C calls changes only this file.
public enum Kernels {
    /// Sets OpenBLAS to one thread: Reel's `ThreadPool` does the splitting, and two pools would fight for the cores.
    public static func configureBLAS() { openblas_set_num_threads(1) }

    /// Dequantises one stored row of `count` elements (`encoding`'s layout) into f32.
    public static func dequantizeRow(_ encoding: Encoding, _ src: UnsafeRawPointer, count k: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        switch encoding {
        case .f32:
            out.update(from: src.assumingMemoryBound(to: Float.self), count: k)
        case .f16:
            for i in 0..<k { out[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<k {
                out[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .q8:
            // block: f16 d, 32 × int8 q; w = d·q
            var i = 0, b = src
            while i < k {
                let d = Float(Float16(bitPattern: b.loadUnaligned(as: UInt16.self)))
                let q = (b + 2).assumingMemoryBound(to: Int8.self)
                for j in 0..<min(32, k - i) { out[i + j] = d * Float(q[j]) }
                i += 32; b += 34
            }
        case .q4, .q4f:
            // block: f16 d (q4f: d₀ for 0–15, d₁ for 16–31), 16 bytes: low nibble = element j, high = j+16; q = nibble−8
            let header = encoding == .q4 ? 2 : 4
            let blockBytes = encoding == .q4 ? 18 : 20
            var i = 0, b = src
            while i < k {
                let d0 = Float(Float16(bitPattern: b.loadUnaligned(as: UInt16.self)))
                let d1 = encoding == .q4 ? d0 : Float(Float16(bitPattern: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                let nib = (b + header).assumingMemoryBound(to: UInt8.self)
                let n = min(32, k - i)
                for j in 0..<min(16, n) { out[i + j] = d0 * Float(Int(nib[j] & 0x0F) - 8) }
                if n > 16 { for j in 16..<n { out[i + j] = d1 * Float(Int(nib[j - 16] >> 4) - 8) } }
                i += 32; b += blockBytes
            }
        }
    }

    /// Σ a[i]·b[i] over `n` elements.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// y[i] += a·x[i] over `n` elements.
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let av = SIMD16<Float>(repeating: a)
        while i + 16 <= n {
            let r = UnsafeMutableRawPointer(y + i)
            r.storeBytes(of: r.loadUnaligned(as: SIMD16<Float>.self)
                         + av * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { y[i] += a * x[i]; i += 1 }
    }

    /// y[n, ldy] (columns 0..<m) = x[n, k] · w[m, k]ᵀ (row-major; one BLAS call, single-threaded).
    public static func gemmNT(x: UnsafePointer<Float>, n: Int, w: UnsafePointer<Float>, m: Int, k: Int,
                              y: UnsafeMutablePointer<Float>, ldy: Int) {
        if n == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(k), 1, w, Int32(k), x, 1, 0, y, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(m), Int32(k), 1,
                        x, Int32(k), w, Int32(k), 0, y, Int32(ldy))
        }
    }

    /// f16 bits → f32.
    @inline(__always) public static func f16ToF32(_ h: UInt16) -> Float { Float(Float16(bitPattern: h)) }
    /// f32 → f16 bits (round to nearest even).
    @inline(__always) public static func f32ToF16(_ f: Float) -> UInt16 { Float16(f).bitPattern }
}
