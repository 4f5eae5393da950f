import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An activation function by its transformers `ACT2FN` name.
public enum Activation: String, Sendable, CaseIterable {
    /// `gelu`: exact, x·½(1 + erf(x/√2)) (`nn.GELU()`).
    case geluErf
    /// `gelu_pytorch_tanh` / `gelu_new` / `gelu_fast`: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    case geluTanh
    /// `quick_gelu`: x·σ(1.702x) (CLIP).
    case quickGelu
    /// `silu` / `swish`: x·σ(x).
    case silu
    case relu

    /// The activation `ACT2FN[name]` selects; throws `unsupported` for names Reel does not implement.
    public init(hfName name: String) throws {
        switch name {
        case "gelu": self = .geluErf
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": self = .geluTanh
        case "quick_gelu": self = .quickGelu
        case "silu", "swish": self = .silu
        case "relu": self = .relu
        default: throw RuntimeError.unsupported("activation \"\(name)\" (supported: gelu, gelu_pytorch_tanh, gelu_new, quick_gelu, silu, relu)")
        }
    }

    /// Applies the activation to `count` values in place, split over the pool's threads.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int, pool: ThreadPool) {
        pool.parallelFor(count, granularity: 4096) { r, _ in apply(x + r.lowerBound, count: r.count) }
    }

    /// Applies the activation to `count` values in place.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .geluErf:
            let r: Float = 0.70710678118654752440
            for i in 0..<count { let v = x[i]; x[i] = v * 0.5 * (1 + erff(v * r)) }
        case .geluTanh:
            // 1 + tanh(z) = 2 − 2/(1 + e^{2z}): one exp instead of tanhf (its expm1f was a fifth of a SigLIP
            // layer's time); exact at ±∞. CKernels' vectorised exp (the softmax's; libm's expf per element was
            // still ~10% of a SigLIP frame).
            Kernels.geluTanh(x, count: count)
        case .quickGelu:
            for i in 0..<count { let v = x[i]; x[i] = v / (1 + expf(-1.702 * v)) }
        case .silu:
            for i in 0..<count { let v = x[i]; x[i] = v / (1 + expf(-v)) }
        case .relu:
            for i in 0..<count { x[i] = max(x[i], 0) }
        }
    }
}

/// How `EncoderOps.attention` computes its two matrix products.
public enum EncoderAttentionPrecision: String, Sendable, CaseIterable {
    /// f32 GEMMs (OpenBLAS): PyTorch's f32 attention to ~1e-7.
    case f32
    /// 16-bit integer products, exact 32-bit sums (`Kernels.attentionI16`; docs/kernels.md "Integer attention"):
    /// 20–38 % less attention time than f32 on AVX-512 (so400m, docs/performance.md), outputs within 2e-3 × max|v|
    /// of a Double reference. Used by quantised vision towers where the CPU has the vector path; sequences longer
    /// than `maxLength` fall back to f32.
    case int16

    /// The longest sequence the int16 path takes (`reel_attention_i16`'s int32 bound).
    public static let maxLength = 65536

    /// The precision for a tower whose Linear weights are `quantised` (or not): `REEL_ENCODER_ATTENTION=f32|int16`
    /// overrides (another value is reported on stderr and ignored); otherwise int16 for quantised towers when the
    /// active ISA has its vector path, else f32.
    public static func automatic(quantised: Bool) -> EncoderAttentionPrecision {
        if let env = getenv("REEL_ENCODER_ATTENTION").map({ String(cString: $0) }), !env.isEmpty {
            if let p = Self(rawValue: env) { return p }
            fputs("reel: REEL_ENCODER_ATTENTION=\(env) is not one of f32, int16; ignored\n", stderr)
        }
        return quantised && Kernels.hasVectorIntegerAttention ? .int16 : .f32
    }
}

/// How `pool2d` reduces a window.
public enum PoolMode: String, Sendable {
    case average, max
}

/// The f32 operations of transformer encoders (vision towers, aligners): LayerNorm with bias, bidirectional
/// multi-head attention as GEMMs, patch extraction for a stride-P convolution, bilinear resizing and 2-D pooling.
/// Feature maps are channel-last, `[H, W, C]` — the token rows of an encoder, row-major over the grid.
public enum EncoderOps {
    /// LayerNorm, mirroring `nn.LayerNorm`: `(x − mean)/√(var + eps)·weight + bias` per row, biased variance
    /// (two passes, f32 sums over 16 lanes: CKernels' `reel_layernorm_f32`).
    /// - Parameters:
    ///   - x: f32 [n, dim]; `out` may alias it.
    ///   - weight, bias: f32 [dim].
    public static func layerNorm(_ x: UnsafePointer<Float>, rows n: Int, dim: Int, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, eps: Float, into out: UnsafeMutablePointer<Float>,
                                 pool: ThreadPool) {
        pool.parallelFor(n, granularity: 8) { r, _ in
            layerNorm(x + r.lowerBound * dim, rows: r.count, dim: dim, weight: weight, bias: bias, eps: eps,
                      into: out + r.lowerBound * dim)
        }
    }

    /// x[i] += y[i] over `rows` rows of `dim` (an encoder's residual adds), the rows split over the pool.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, rows n: Int, dim: Int,
                           pool: ThreadPool) {
        pool.parallelFor(n, granularity: 16) { r, _ in
            Ops.add(x + r.lowerBound * dim, y + r.lowerBound * dim, count: r.count * dim)
        }
    }

    /// LayerNorm on the calling thread (`reel_layernorm_f32`: f32 sums over 16 lanes, vectorised, scalar twin).
    public static func layerNorm(_ x: UnsafePointer<Float>, rows n: Int, dim: Int, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, eps: Float, into out: UnsafeMutablePointer<Float>) {
        reel_layernorm_f32(x, Int64(n), Int64(dim), weight, bias, eps, out)
    }

    /// Bidirectional (unmasked) multi-head attention of `sequences` independent sequences of `length` rows each:
    /// per sequence and head, `softmax(q·kᵀ·scale)·v` as two strided GEMMs. Mirrors `SiglipAttention` /
    /// `CLIPAttention` after the q/k/v projections (`eager` and `sdpa` agree to ~1e-7).
    /// - Parameters:
    ///   - q, k, v: f32 [sequences·length, heads·headDim], head h in columns h·headDim ..< (h+1)·headDim.
    ///   - out: f32 [sequences·length, heads·headDim]; must not overlap q, k, v.
    ///   - precision: `.f32` (the default) or `.int16` (`Kernels.attentionI16`, one head per task; f32 above
    ///     `EncoderAttentionPrecision.maxLength`).
    public static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 sequences: Int, length s: Int, heads: Int, headDim hd: Int, scale: Float,
                                 into out: UnsafeMutablePointer<Float>, pool: ThreadPool,
                                 precision: EncoderAttentionPrecision = .f32) {
        let d = heads * hd
        if precision == .int16 && s <= EncoderAttentionPrecision.maxLength {
            let bytes = Kernels.attentionI16ScratchBytes(length: s, headDim: hd)
            pool.parallelFor(sequences * heads) { tasks, worker in
                let scratch = UnsafeMutableRawPointer(pool.scratch(worker, count: (bytes + 3) / 4))
                for t in tasks {
                    let off = (t / heads) * s * d + (t % heads) * hd
                    Kernels.attentionI16(q: q + off, k: k + off, v: v + off, ld: d, length: s, headDim: hd, scale: scale,
                                         out: out + off, ldo: d, scratch: scratch)
                }
            }
            return
        }
        // Query rows per block: the block's scores [rows, S] stay in L2 between the two GEMMs and the softmax
        // (so400m: 729² f32 = 2.1 MiB per head did not; 128 × 729 is 365 KiB).
        let block = min(s, attentionRowBlock)
        pool.parallelFor(sequences * heads) { tasks, worker in
            let scores = pool.scratch(worker, count: block * s)  // f32 [block, S]
            for t in tasks {
                let seq = t / heads, h = t % heads
                let off = seq * s * d + h * hd
                var r0 = 0
                while r0 < s {
                    let rows = min(block, s - r0)
                    // scores = q_h[r0..<r0+rows] · k_hᵀ · scale
                    Kernels.gemm(transB: true, m: rows, n: s, k: hd, alpha: scale, a: q + off + r0 * d, lda: d,
                                 b: k + off, ldb: d, c: scores, ldc: s)
                    for r in 0..<rows { Ops.softmax(scores + r * s, count: s) }
                    // out_h[r0..<r0+rows] = softmax(scores) · v_h
                    Kernels.gemm(transB: false, m: rows, n: hd, k: s, a: scores, lda: s, b: v + off, ldb: d,
                                 c: out + off + r0 * d, ldc: d)
                    r0 += rows
                }
            }
        }
    }

    /// Query rows `attention` processes at a time per head (scores [128, S] f32 in per-thread scratch).
    public static let attentionRowBlock = 128

    /// Cuts one image `[C, H, W]` into non-overlapping `patch`×`patch` patches, one row per patch in row-major grid
    /// order, each row ordered (c, py, px) — so a stride-P convolution is `rows · weight[D, C·P·P]ᵀ`. As the conv
    /// without padding, the last `H % P` rows and `W % P` columns are not used.
    /// - Parameters:
    ///   - image: f32 [C, H, W].
    ///   - out: f32 [(H/P)·(W/P), C·P·P].
    public static func patchify(_ image: UnsafePointer<Float>, channels c: Int, height: Int, width: Int, patch p: Int,
                                into out: UnsafeMutablePointer<Float>) {
        let gh = height / p, gw = width / p, k = c * p * p
        for gy in 0..<gh {
            for gx in 0..<gw {
                var dst = out + (gy * gw + gx) * k
                for ch in 0..<c {
                    for py in 0..<p {
                        let src = image + (ch * height + gy * p + py) * width + gx * p
                        dst.update(from: src, count: p)
                        dst += p
                    }
                }
            }
        }
    }

    /// The source taps of one axis of `F.interpolate(mode="bilinear", align_corners=False)` with an output size
    /// (no antialias): `src = max((o + ½)·in/out − ½, 0)`, `i0 = ⌊src⌋`, `i1 = min(i0 + 1, in − 1)`, `λ = src − i0`.
    public static func bilinearTaps(input: Int, output: Int) -> [(i0: Int, i1: Int, lambda: Float)] {
        let scale = Double(input) / Double(output)
        return (0..<output).map { o in
            let src = max((Double(o) + 0.5) * scale - 0.5, 0)
            let i0 = min(Int(src), input - 1)
            return (i0, min(i0 + 1, input - 1), Float(src - Double(i0)))
        }
    }

    /// Bilinear resize of a channel-last map, mirroring `F.interpolate(x, size, mode="bilinear")` on NCHW.
    /// - Parameters:
    ///   - src: f32 [height, width, channels].
    ///   - out: f32 [outHeight, outWidth, channels]; must not overlap `src`.
    public static func bilinear(_ src: UnsafePointer<Float>, height: Int, width: Int, channels c: Int,
                                outHeight: Int, outWidth: Int, into out: UnsafeMutablePointer<Float>) {
        let ty = bilinearTaps(input: height, output: outHeight), tx = bilinearTaps(input: width, output: outWidth)
        for (oy, y) in ty.enumerated() {
            let h1 = y.lambda, h0 = 1 - h1
            for (ox, x) in tx.enumerated() {
                let w1 = x.lambda, w0 = 1 - w1
                let a = src + (y.i0 * width + x.i0) * c, b = src + (y.i0 * width + x.i1) * c
                let cc = src + (y.i1 * width + x.i0) * c, d = src + (y.i1 * width + x.i1) * c
                let o = out + (oy * outWidth + ox) * c
                for i in 0..<c { o[i] = h0 * (w0 * a[i] + w1 * b[i]) + h1 * (w0 * cc[i] + w1 * d[i]) }
            }
        }
    }

    /// `AvgPool2d` / `MaxPool2d(kernel, stride)` without padding (floor mode) on a channel-last map.
    /// - Parameters:
    ///   - src: f32 [height, width, channels].
    ///   - out: f32 [(height − kernel)/stride + 1, (width − kernel)/stride + 1, channels].
    public static func pool2d(_ src: UnsafePointer<Float>, height: Int, width: Int, channels c: Int, kernel: Int,
                              stride: Int, mode: PoolMode, into out: UnsafeMutablePointer<Float>) {
        let oh = (height - kernel) / stride + 1, ow = (width - kernel) / stride + 1
        let inv = 1 / Float(kernel * kernel)
        for oy in 0..<oh {
            for ox in 0..<ow {
                let o = out + (oy * ow + ox) * c
                let first = src + (oy * stride * width + ox * stride) * c
                o.update(from: first, count: c)
                for ky in 0..<kernel {
                    for kx in 0..<kernel where ky != 0 || kx != 0 {
                        let p = src + ((oy * stride + ky) * width + ox * stride + kx) * c
                        switch mode {
                        case .average: for i in 0..<c { o[i] += p[i] }
                        case .max: for i in 0..<c { o[i] = max(o[i], p[i]) }
                        }
                    }
                }
                if mode == .average { for i in 0..<c { o[i] *= inv } }
            }
        }
    }

    /// Output side of `pool2d` for one axis.
    public static func pooledSize(_ n: Int, kernel: Int, stride: Int) -> Int { (n - kernel) / stride + 1 }
}
