#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ReelRuntime

/// The f32 operations of the Whisper-style audio encoder that `ReelRuntime.Ops` does not have: LayerNorm with a
/// bias, erf GELU, im2col for a kernel-3 Conv1d (so the convolution is one GEMM through `Linear`), bidirectional
/// attention over a key prefix, and AvgPool1d(2, 2).
///
/// Kept here, in the audio folder, so the audio and vision branches do not collide; `layerNorm`, `gelu` and
/// `attention` are candidates to merge with ReelRuntime's EncoderOps later.
public enum AudioOps {
    /// im2col for `nn.Conv1d(kernel_size=3, padding=1, stride=s)`: `cols[t, c·3 + j] = x(c, t·s + j − 1)` (zero outside
    /// the input), so that `cols · Wᵀ` with W viewed as `[out, in·3]` is the convolution, time-major.
    /// - Parameters:
    ///   - x: the input, read through `at(c, t)`; `channels` × `length`.
    ///   - rows: output positions wanted (at most (length − 1) / stride + 1, the convolution's output length).
    ///   - out: f32 [rows, channels·3].
    @inline(__always)
    static func im2col3(channels: Int, length: Int, stride: Int, rows: Int, into out: UnsafeMutablePointer<Float>,
                        at: (_ c: Int, _ t: Int) -> Float) {
        let outLength = min(rows, (length - 1) / stride + 1)
        for t in 0..<outLength {
            let row = out + t * channels * 3
            for j in 0..<3 {
                let src = t * stride + j - 1
                if src < 0 || src >= length {
                    for c in 0..<channels { row[c * 3 + j] = 0 }
                } else {
                    for c in 0..<channels { row[c * 3 + j] = at(c, src) }
                }
            }
        }
    }

    /// im2col of a channel-major input f32 [channels, length] (the log-mel features).
    public static func im2col3(channelMajor x: UnsafePointer<Float>, channels: Int, length: Int, stride: Int, rows: Int,
                               into out: UnsafeMutablePointer<Float>) {
        im2col3(channels: channels, length: length, stride: stride, rows: rows, into: out) { c, t in x[c * length + t] }
    }

    /// im2col of a time-major input f32 [length, channels] (the first convolution's output).
    public static func im2col3(timeMajor x: UnsafePointer<Float>, channels: Int, length: Int, stride: Int, rows: Int,
                               into out: UnsafeMutablePointer<Float>) {
        im2col3(channels: channels, length: length, stride: stride, rows: rows, into: out) { c, t in x[t * channels + c] }
    }

    /// `nn.AvgPool1d(2, stride=2)` over time of a time-major f32 [length, dim]: out[t] = (x[2t] + x[2t+1]) / 2 for
    /// t < length / 2 (a trailing odd row is dropped, as torch does).
    public static func avgPool2(_ x: UnsafePointer<Float>, length: Int, dim: Int, into out: UnsafeMutablePointer<Float>) {
        for t in 0..<(length / 2) {
            let a = x + 2 * t * dim, b = a + dim, y = out + t * dim
            for i in 0..<dim { y[i] = (a[i] + b[i]) * 0.5 }
        }
    }

    /// Query rows per attention work unit (bounds the per-thread scores scratch to 64 × keys).
    static let queryBlock = 64

    /// Bidirectional multi-head attention, mirroring `eager_attention_forward` with `scaling = 1` (the caller has
    /// already scaled q, as `WhisperAttention` does): `softmax(q_h·k_hᵀ)·v_h` per head over the first `keys` keys
    /// (the key-padding mask: keys from `keys` on are masked out).
    /// - Parameters:
    ///   - q: f32 [n, heads·hd] (scaled queries).
    ///   - k, v: f32 [keys, heads·hd].
    ///   - out: f32 [n, heads·hd].
    ///   - kHead: scratch f32 [heads·keys·hd] (each head's keys, contiguous); vHeadT: scratch f32 [heads·hd·keys].
    public static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 queries n: Int, keys: Int, heads: Int, headDim hd: Int,
                                 kHead: UnsafeMutablePointer<Float>, vHeadT: UnsafeMutablePointer<Float>,
                                 into out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let D = heads * hd
        // Per head: K_h [keys, hd] and V_hᵀ [hd, keys], contiguous, so both products are GEMMs.
        pool.parallelFor(heads) { hs, _ in
            for h in hs {
                let kh = kHead + h * keys * hd, vt = vHeadT + h * hd * keys
                for t in 0..<keys {
                    (kh + t * hd).update(from: k + t * D + h * hd, count: hd)
                    for d in 0..<hd { vt[d * keys + t] = v[t * D + h * hd + d] }
                }
            }
        }
        let qb = queryBlock
        let blocks = (n + qb - 1) / qb
        pool.parallelFor(heads * blocks) { units, worker in
            // scratch: q block [qb, hd] | scores [qb, keys] | out block [qb, hd]
            let s = pool.scratch(worker, count: qb * hd * 2 + qb * keys)
            let qh = s, scores = s + qb * hd, oh = scores + qb * keys
            for u in units {
                let h = u / blocks, r0 = (u % blocks) * qb, m = min(qb, n - r0)
                for i in 0..<m { (qh + i * hd).update(from: q + (r0 + i) * D + h * hd, count: hd) }
                // attn_weights = q_h · k_hᵀ   [m, keys]
                Kernels.gemmNT(x: qh, n: m, w: kHead + h * keys * hd, m: keys, k: hd, y: scores, ldy: keys)
                for i in 0..<m { Ops.softmax(scores + i * keys, count: keys) }
                // attn_output = attn_weights · v_h   [m, hd]
                Kernels.gemmNT(x: scores, n: m, w: vHeadT + h * hd * keys, m: hd, k: keys, y: oh, ldy: hd)
                for i in 0..<m { (out + (r0 + i) * D + h * hd).update(from: oh + i * hd, count: hd) }
            }
        }
    }
}
