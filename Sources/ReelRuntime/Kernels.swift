#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CBLAS
import CKernels
import ReelQuant

/// The one Swift file that calls BLAS and CKernels: row dequantisation, q8 activation quantisation, the
/// quantised/half gemv and gemm-rows kernels (ISA chosen at run time inside CKernels), f32 GEMM/GEMV, and small
/// f32 vector helpers. Every other file calls these.
public enum Kernels {
    /// Sets OpenBLAS to one thread: Reel's `ThreadPool` does the splitting, and two pools would fight for the cores.
    public static func configureBLAS() { openblas_set_num_threads(1) }

    /// CKernels' number for an encoding (formats/REEL.md §3 table order).
    @inline(__always) static func code(_ e: Encoding) -> Int32 {
        switch e {
        case .f32: return Int32(REEL_ENC_F32)
        case .f16: return Int32(REEL_ENC_F16)
        case .bf16: return Int32(REEL_ENC_BF16)
        case .q8: return Int32(REEL_ENC_Q8)
        case .q4: return Int32(REEL_ENC_Q4)
        case .q4f: return Int32(REEL_ENC_Q4F)
        }
    }

    /// The instruction-set path the kernels use ("avx512vnni", "avx2", "scalar", …), with "+vbmi" when the
    /// avx512vnni path also uses its VBMI kernels (the q4 decode gemv), as `reel bench` shows it.
    public static var isaName: String {
        let isa = reel_isa_active()
        let name = String(cString: reel_isa_name(isa))
        return isa == Int32(REEL_ISA_AVX512VNNI) && reel_vbmi_enabled() != 0 ? name + "+vbmi" : name
    }

    /// Dequantises one stored row of `count` elements (`encoding`'s layout) into f32.
    public static func dequantizeRow(_ encoding: Encoding, _ src: UnsafeRawPointer, count k: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        let n = Int64(k)
        switch encoding {
        case .f32: out.update(from: src.assumingMemoryBound(to: Float.self), count: k)
        case .f16: reel_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), out, n)
        case .bf16: reel_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), out, n)
        case .q8: reel_dequantize_row_q8(src, out, n)
        case .q4: reel_dequantize_row_q4(src, out, n)
        case .q4f: reel_dequantize_row_q4f(src, out, n)
        }
    }

    /// Bytes of one q8 activation row of `k` elements.
    @inline(__always) public static func q8RowBytes(_ k: Int) -> Int { (k + 31) / 32 * 34 }

    /// Quantises an f32 activation row to q8 (d = absmax/127 per block of 32).
    @inline(__always) public static func quantizeActivationRow(_ x: UnsafePointer<Float>, count k: Int,
                                                               into dst: UnsafeMutableRawPointer) {
        reel_quantize_row_q8_act(x, dst, Int64(k))
    }

    /// y[r] = dot(weight row r, x) for r in `rows`: `x` is a q8 activation row for q8/q4/q4f weights, f32 otherwise.
    @inline(__always)
    static func gemv(_ enc: Encoding, w: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>, k: Int,
                     x: UnsafeRawPointer, y: UnsafeMutablePointer<Float>) {
        _ = reel_gemv(code(enc), w, rowBytes, Int64(rows.lowerBound), Int64(rows.upperBound), Int64(k), x, y)
    }

    /// y[i·ldy + r] = dot(weight row r, activation row i) for i < m, r in `rows` (activation rows `xRowBytes` apart).
    @inline(__always)
    static func gemmRows(_ enc: Encoding, w: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>, k: Int,
                         x: UnsafeRawPointer, xRowBytes: Int, m: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        _ = reel_gemm_rows(code(enc), w, rowBytes, Int64(rows.lowerBound), Int64(rows.upperBound), Int64(k),
                           x, xRowBytes, Int64(m), y, Int64(ldy))
    }

    /// XOR of the 8-byte words of `count` bytes at `p`, read with the widest loads the active ISA has: the read-only
    /// bound's stream (`reel_read_xor`; no arithmetic, so only the memory system sets its pace).
    @inline(__always) public static func readXor(_ p: UnsafeRawPointer, count: Int) -> UInt64 {
        reel_read_xor(p, count)
    }

    /// Softmax of one f32 row in place (`reel_softmax_f32`: vectorised exp, scalar twin; −∞ → 0).
    @inline(__always) public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        reel_softmax_f32(x, Int64(count))
    }

    /// True when the active ISA has a vector path for `attentionI16` (AVX-512 with or without VNNI); elsewhere it
    /// runs its scalar twin, and `EncoderOps.attention` keeps f32.
    public static var hasVectorIntegerAttention: Bool { reel_attention_i16_vectorised() != 0 }

    /// Scratch bytes `attentionI16` needs for one head of `length` rows and `headDim` columns.
    @inline(__always) public static func attentionI16ScratchBytes(length: Int, headDim: Int) -> Int {
        reel_attention_i16_scratch_bytes(Int64(length), Int64(headDim))
    }

    /// One head of bidirectional attention with 16-bit integer products (`reel_attention_i16`, docs/kernels.md
    /// "Integer attention"): out[i, c] = Σ_j softmax_j(q_i·k_j·scale)·v[j, c], rows `ld` / `ldo` floats apart.
    @inline(__always) public static func attentionI16(q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                                      v: UnsafePointer<Float>, ld: Int, length: Int, headDim: Int,
                                                      scale: Float, out: UnsafeMutablePointer<Float>, ldo: Int,
                                                      scratch: UnsafeMutableRawPointer) {
        let rc = reel_attention_i16(q, k, v, Int64(ld), Int64(length), Int64(headDim), scale, out, Int64(ldo), scratch)
        precondition(rc == 0, "reel_attention_i16: bad arguments (length \(length), headDim \(headDim), ld \(ld))")
    }

    /// gelu_pytorch_tanh in place (`reel_gelu_tanh_f32`: the softmax's vectorised exp, scalar twin).
    @inline(__always) public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        reel_gelu_tanh_f32(x, Int64(count))
    }

    /// gate[i] = silu(gate[i])·up[i] in place (`reel_silu_mul_f32`: the softmax's vectorised exp, scalar twin).
    @inline(__always) public static func siluMul(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        reel_silu_mul_f32(gate, up, Int64(count))
    }

    /// Whether the active ISA has a vector path for `attentionDecode` (AVX-512); elsewhere decode keeps the sgemm path.
    public static var attentionDecodeVectorised: Bool { reel_attention_decode_vectorised() != 0 }

    /// Decode attention of one KV head over an f32 cache (`reel_attention_decode_f32`): `group` query heads of
    /// `headDim`, `len` cached positions `ld` floats apart; `scores` holds group·len floats of scratch.
    @inline(__always)
    public static func attentionDecode(q: UnsafePointer<Float>, group: Int, headDim: Int, k: UnsafePointer<Float>,
                                       v: UnsafePointer<Float>, ld: Int, len: Int, scale: Float,
                                       scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let rc = reel_attention_decode_f32(q, Int64(group), Int64(headDim), k, v, Int64(ld), Int64(len), scale, scores, out)
        precondition(rc == 0, "reel_attention_decode_f32: bad arguments (group \(group), headDim \(headDim), ld \(ld), len \(len))")
    }

    /// `attentionDecode` over an f16 cache (IEEE half bits), widened as it is read (`reel_attention_decode_f16`).
    @inline(__always)
    public static func attentionDecode(q: UnsafePointer<Float>, group: Int, headDim: Int, k: UnsafePointer<UInt16>,
                                       v: UnsafePointer<UInt16>, ld: Int, len: Int, scale: Float,
                                       scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let rc = reel_attention_decode_f16(q, Int64(group), Int64(headDim), k, v, Int64(ld), Int64(len), scale, scores, out)
        precondition(rc == 0, "reel_attention_decode_f16: bad arguments (group \(group), headDim \(headDim), ld \(ld), len \(len))")
    }

    /// Bytes of one activation row packed for `igemm` (48 per block of 32).
    @inline(__always) public static func igemmActRowBytes(_ k: Int) -> Int { reel_igemm_act_row_bytes(Int64(k)) }

    /// Per-thread scratch bytes `igemm` needs for rows of `k` elements (the weight panels of one tile).
    @inline(__always) public static func igemmScratchBytes(_ k: Int) -> Int { reel_igemm_scratch_bytes(Int64(k)) }

    /// Packs `m` q8 activation rows (`q8RowBytes` apart) for `igemm` against weights of `enc` (q8/q4/q4f).
    @inline(__always)
    static func igemmPackActivations(_ enc: Encoding, q8: UnsafeRawPointer, q8RowBytes: Int, m: Int, k: Int,
                                     into dst: UnsafeMutableRawPointer) {
        _ = reel_igemm_pack_act(code(enc), q8, q8RowBytes, Int64(m), Int64(k), dst)
    }

    /// Quantises `m` f32 rows (`ldx` floats apart) with one scale per 128 elements and packs them for
    /// `igemm(scalePer128: true)` against weights of `enc` (`reel_igemm_quantize_act128`).
    @inline(__always)
    static func igemmQuantizeRows128(_ enc: Encoding, x: UnsafePointer<Float>, ldx: Int, m: Int, k: Int,
                                     into dst: UnsafeMutableRawPointer) {
        _ = reel_igemm_quantize_act128(code(enc), x, ldx, Int64(m), Int64(k), dst)
    }

    /// The integer GEMM: y[i·ldy + c] = dot(weight row c, activation row i) for i < m, c in `columns`, with
    /// activations packed by `igemmPackActivations` (a scale per block of 32) or, with `scalePer128`, by
    /// `igemmQuantizeRows128`; `scratch` holds `igemmScratchBytes(k)` bytes (per thread).
    @inline(__always)
    static func igemm(_ enc: Encoding, w: UnsafeRawPointer, rowBytes: Int, columns: Range<Int>, k: Int,
                      act: UnsafeRawPointer, m: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                      scratch: UnsafeMutableRawPointer, scalePer128: Bool = false) {
        _ = (scalePer128 ? reel_igemm_act128 : reel_igemm)(
            code(enc), w, rowBytes, Int64(columns.lowerBound), Int64(columns.upperBound), Int64(k), act, Int64(m), y,
            Int64(ldy), scratch)
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

    /// y[i] += x[i] over `n` elements (`reel_add_f32`: vectorised in C, bit-identical to a plain loop).
    @inline(__always)
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        reel_add_f32(y, x, Int64(n))
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

    /// The peer figure for an f32 matrix product: seconds of one plain `cblas_sgemm` computing y[n, m] = x[n, k] ·
    /// w[m, k]ᵀ (the shape `Linear` runs) on `threads` OpenBLAS threads — OpenBLAS splitting the work itself, not
    /// Reel's pool — best of `repetitions` after a warm-up call, on fresh deterministic data. OpenBLAS is set back to
    /// one thread afterwards (`configureBLAS`). For `reel bench --profile`: how fast OpenBLAS runs the same shapes.
    public static func sgemmSeconds(n: Int, m: Int, k: Int, threads: Int, repetitions: Int = 3) -> Double {
        let x = UnsafeMutablePointer<Float>.allocate(capacity: n * k), w = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: n * m)
        defer { x.deallocate(); w.deallocate(); y.deallocate() }
        for i in 0..<(n * k) { x[i] = Float(i % 61) / 61 - 0.5 }
        for i in 0..<(m * k) { w[i] = Float(i % 53) / 53 - 0.5 }
        openblas_set_num_threads(Int32(max(1, threads)))
        defer { configureBLAS() }
        var best = Double.infinity
        for r in 0...max(1, repetitions) {
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(m), Int32(k), 1, x, Int32(k), w, Int32(k),
                        0, y, Int32(m))
            clock_gettime(CLOCK_MONOTONIC, &t1)
            if r > 0 { best = min(best, Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9) }
        }
        return best
    }

    /// c[m, n] (row stride ldc) = alpha · op(a) · op(b) + beta · c, row-major, with strides: the strided GEMM of
    /// encoder attention (one head's columns inside [S, heads·hd] rows). op(a) is [m, k]; op(b) is [k, n].
    public static func gemm(transA: Bool = false, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// f16 bits → f32 rows.
    @inline(__always) public static func f16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        reel_f16_to_f32(src, dst, Int64(n))
    }
    /// f32 → f16 bits rows (round to nearest even).
    @inline(__always) public static func f32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        reel_f32_to_f16(src, dst, Int64(n))
    }
}
