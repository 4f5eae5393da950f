/// How the KV cache stores keys and values.
public enum KVCacheStorage: String, Sendable {
    case f32, f16
}

/// Keys and values of every layer for up to `capacity` positions, allocated once.
/// Layout per layer: keys f32|f16 [kvHeads, capacity, headDim], values likewise — head-major, so the attention of one
/// KV head (one thread's work in decode) reads its keys and values as two contiguous streams.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let capacity: Int
    public let storage: KVCacheStorage
    /// Positions cached so far (the sequence index of the next token).
    public private(set) var count: Int = 0
    private let rowElements: Int
    private let perLayer: Int
    private let base: UnsafeMutableRawPointer

    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int, storage: KVCacheStorage = .f32) throws {
        guard layers > 0, kvHeads > 0, headDim > 0, capacity > 0 else {
            throw RuntimeError.invalidArgument("kv cache: layers \(layers), kv heads \(kvHeads), head dim \(headDim), capacity \(capacity)")
        }
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.capacity = capacity
        self.storage = storage
        rowElements = kvHeads * headDim
        perLayer = capacity * rowElements
        let bytes = layers * 2 * perLayer * (storage == .f32 ? 4 : 2)
        base = .allocate(byteCount: bytes, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit { base.deallocate() }

    /// Bytes held.
    public var byteCount: Int { layers * 2 * perLayer * (storage == .f32 ? 4 : 2) }

    /// Forgets every position.
    public func reset() { count = 0 }

    /// Throws `contextExceeded` unless `n` more positions fit.
    public func reserve(_ n: Int) throws {
        guard n >= 0, count + n <= capacity else {
            throw RuntimeError.contextExceeded(used: count, requested: n, capacity: capacity)
        }
    }

    /// Marks `n` positions (already stored in every layer) as cached.
    public func advance(_ n: Int) throws {
        try reserve(n)
        count += n
    }

    /// Drops positions after the first `n` (e.g. to re-run a shared prefix).
    public func truncate(to n: Int) { count = max(0, min(count, n)) }

    @inline(__always) private func slot(_ layer: Int, _ which: Int) -> UnsafeMutableRawPointer {
        base + (layer * 2 + which) * perLayer * (storage == .f32 ? 4 : 2)
    }

    /// Stores k and v of `n` rows at sequence indices `start..<start+n` of `layer`.
    /// - Parameters: k, v: f32 [n, kvHeads, headDim].
    public func store(layer: Int, start: Int, rows n: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        storeRows(slot(layer, 0), start: start, rows: n, from: k)
        storeRows(slot(layer, 1), start: start, rows: n, from: v)
    }

    @inline(__always)
    private func storeRows(_ dst: UnsafeMutableRawPointer, start: Int, rows n: Int, from src: UnsafePointer<Float>) {
        let e = rowElements, hd = headDim
        for i in 0..<n {
            for j in 0..<kvHeads {  // row i's head j → head j's row start + i
                let from = src + i * e + j * hd, at = (j * capacity + start + i) * hd
                switch storage {
                case .f32: (dst.assumingMemoryBound(to: Float.self) + at).update(from: from, count: hd)
                case .f16: Kernels.f32ToF16(from, dst.assumingMemoryBound(to: UInt16.self) + at, hd)
                }
            }
        }
    }

    /// Causal multi-head attention with grouped KV heads over the cache, mirroring `eager_attention_forward`
    /// after `repeat_kv`: query head h reads kv head `h / (heads/kvHeads)` (repeat_interleave), scores
    /// `q·kᵀ·scale`, softmax in f32, weighted sum of v. Row i attends to sequence indices `0...start+i`.
    /// Several rows over an f32 cache use two sgemm calls per head. One row (decode) over an f32 cache batches the
    /// query heads that share a KV head: per KV head, scores [group, len] = Q·Kᵀ·scale and out = P·V, by
    /// `Kernels.attentionDecode` reading the cache in place where it is vectorised, else as two sgemm calls, so each
    /// cached key and value is read once per token, not once per query head. An f16 cache takes a loop per (row, head).
    /// - Parameters:
    ///   - q: f32 [n, heads, headDim], rows at sequence indices `start..<start+n` (already stored in the cache).
    ///   - out: f32 [n, heads, headDim].
    public func attention(layer: Int, q: UnsafePointer<Float>, rows n: Int, start: Int, heads: Int, scale: Float,
                          into out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let hd = headDim, group = heads / kvHeads, head = capacity * headDim  // one KV head's rows
        let keys = slot(layer, 0), values = slot(layer, 1)
        let f16 = storage == .f16
        if n > 1 && !f16 {
            // Prefill: per head, two BLAS calls over the whole chunk (scores = Q·Kᵀ·scale, causal softmax, P·V).
            let span = start + n
            pool.parallelFor(heads) { hs, worker in
                let scores = pool.scratch(worker, count: n * span)  // f32 [n, span]
                for h in hs {
                    let j = h / group
                    let k = keys.assumingMemoryBound(to: Float.self) + j * head
                    let v = values.assumingMemoryBound(to: Float.self) + j * head
                    Kernels.gemm(transB: true, m: n, n: span, k: hd, alpha: scale, a: q + h * hd, lda: heads * hd,
                                 b: k, ldb: hd, c: scores, ldc: span)
                    for i in 0..<n {
                        let len = start + i + 1  // causal: row i sees sequence indices 0...start+i
                        let row = scores + i * span
                        Ops.softmax(row, count: len)
                        if len < span { (row + len).initialize(repeating: 0, count: span - len) }
                    }
                    Kernels.gemm(transB: false, m: n, n: hd, k: span, alpha: 1, a: scores, lda: span, b: v, ldb: hd,
                                 c: out + h * hd, ldc: heads * hd)
                }
            }
            return
        }
        if n == 1 && !f16 {
            // Decode: the `group` query heads of KV head j are consecutive rows of q ([group, hd], lda = hd). With
            // AVX-512 one C kernel reads the cache in place (`Kernels.attentionDecode`); elsewhere two sgemm calls,
            // which pack all of the cached K and V per call (1.9 ms of an 18 ms Qwen2-0.5B q4 step at 640 positions
            // on AVX-512, against 1.4–1.7 in place).
            let len = start + 1, inPlace = Kernels.attentionDecodeVectorised
            pool.parallelFor(kvHeads) { js, worker in
                let scores = pool.scratch(worker, count: group * len)  // f32 [group, len]
                for j in js {
                    let k = keys.assumingMemoryBound(to: Float.self) + j * head
                    let v = values.assumingMemoryBound(to: Float.self) + j * head
                    let qj = q + j * group * hd, oj = out + j * group * hd
                    if inPlace {
                        Kernels.attentionDecode(q: qj, group: group, headDim: hd, k: k, v: v, ld: hd, len: len,
                                                scale: scale, scores: scores, into: oj)
                        continue
                    }
                    Kernels.gemm(transB: true, m: group, n: len, k: hd, alpha: scale, a: qj, lda: hd,
                                 b: k, ldb: hd, c: scores, ldc: len)
                    for g in 0..<group { Ops.softmax(scores + g * len, count: len) }
                    Kernels.gemm(transB: false, m: group, n: hd, k: len, alpha: 1, a: scores, lda: len, b: v, ldb: hd,
                                 c: oj, ldc: hd)
                }
            }
            return
        }
        pool.parallelFor(n * heads) { items, worker in
            let span = start + n
            let scratch = pool.scratch(worker, count: span + 2 * hd)
            let scores = scratch, kv = scratch + span, acc = scratch + span + hd
            for item in items {
                let i = item / heads, h = item % heads, j = h / group
                let qv = q + (i * heads + h) * hd
                let len = start + i + 1
                for s in 0..<len {
                    if f16 {
                        Kernels.f16ToF32(keys.assumingMemoryBound(to: UInt16.self) + j * head + s * hd, kv, hd)
                        scores[s] = Kernels.dot(qv, kv, hd) * scale
                    } else {
                        scores[s] = Kernels.dot(qv, keys.assumingMemoryBound(to: Float.self) + j * head + s * hd, hd) * scale
                    }
                }
                Ops.softmax(scores, count: len)
                acc.initialize(repeating: 0, count: hd)
                for s in 0..<len {
                    if f16 {
                        Kernels.f16ToF32(values.assumingMemoryBound(to: UInt16.self) + j * head + s * hd, kv, hd)
                        Kernels.axpy(scores[s], kv, acc, hd)
                    } else {
                        Kernels.axpy(scores[s], values.assumingMemoryBound(to: Float.self) + j * head + s * hd, acc, hd)
                    }
                }
                (out + (i * heads + h) * hd).update(from: acc, count: hd)
            }
        }
    }
}
