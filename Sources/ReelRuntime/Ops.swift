#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element-wise and row-wise f32 operations of a transformer block.
public enum Ops {
    /// RMSNorm, mirroring `LlamaRMSNorm.forward`: `x·rsqrt(mean(x²)+eps)` in f32, **then** `× weight` (no +1).
    /// - Parameters:
    ///   - x: f32 [n, dim]; `out` may alias it.
    ///   - weight: f32 [dim].
    public static func rmsNorm(_ x: UnsafePointer<Float>, rows n: Int, dim: Int, weight: UnsafePointer<Float>, eps: Float,
                               into out: UnsafeMutablePointer<Float>) {
        for r in 0..<n {
            let xr = x + r * dim, yr = out + r * dim
            let meanSquare = Kernels.dot(xr, xr, dim) / Float(dim)
            let inv = 1 / (meanSquare + eps).squareRoot()
            for i in 0..<dim { yr[i] = weight[i] * (xr[i] * inv) }
        }
    }

    /// `gate[i] = silu(gate[i]) · up[i]` (the SwiGLU product of `LlamaMLP`): silu(x) = x·σ(x). CKernels'
    /// `reel_silu_mul_f32` (the softmax's vectorised exp; libm's `expf` per element was ≈ 4 ns, a fifth of a
    /// 512-token prefill's SwiGLU).
    public static func siluMul(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        Kernels.siluMul(gate, up, count: count)
    }

    /// `siluMul` split over the pool's threads when the product is large (prefill: [n, intermediate]); the same
    /// per-element arithmetic, so the result is identical. One decode row (a few thousand elements) stays on the
    /// calling thread, where a dispatch would cost more than it saves.
    public static func siluMul(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int,
                               pool: ThreadPool) {
        guard count >= siluMulParallelMin, pool.threadCount > 1 else { siluMul(gate, up, count: count); return }
        pool.parallelFor(count, granularity: 4096) { r, _ in siluMul(gate + r.lowerBound, up + r.lowerBound, count: r.count) }
    }
    /// Elements from which `siluMul(_:_:count:pool:)` splits the work.
    public static let siluMulParallelMin = 65_536

    /// `x[i] = silu(x[i])`.
    public static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] / (1 + expf(-x[i])) }
    }

    /// `x[i] += y[i]` (the residual add).
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        Kernels.add(x, y, count)
    }

    /// Numerically stable softmax of one row in place; `-inf` entries become 0. CKernels' `reel_softmax_f32`: the
    /// max, e^(x − max) through a vectorised Cephes polynomial (≤ 2 ulp; libm's `expf` per element took most of
    /// the time of attention's softmax), the sum, the scale.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.softmax(x, count: count)
    }

    /// Index of the largest element (the first on ties, as `torch.argmax`; NaN is passed over, where torch would
    /// pick it, so a NaN result means every element is NaN).
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        while best + 1 < count && x[best].isNaN { best += 1 }  // NaN never wins while a number is left
        for i in (best + 1)..<max(count, best + 1) where x[i] > x[best] { best = i }
        return best
    }
}
