#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the KV cache stores keys and values.
public enum KVCacheStorage: String, Sendable {
    case f32, f16

    /// Bytes per stored element.
    public var elementBytes: Int { self == .f32 ? 4 : 2 }
}

/// Keys and values of every layer for up to `capacity` positions.
/// Layout per layer: keys f32|f16 [kvHeads, capacity, headDim], values likewise — head-major, so the attention of one
/// KV head (one thread's work in decode) reads its keys and values as two contiguous streams.
///
/// The whole cache is one anonymous private mapping reserved up front but filled lazily: the kernel gives a zero page
/// on first touch, so positions never written cost address space, not memory. A context of a model's full
/// `max_position_embeddings` (128k–1M positions) therefore costs only the pages of the positions used: in each
/// (layer, keys|values, KV head) run, `count · headDim` elements from its start.
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
    private let memory: AnonymousMemory  // owns the mapping
    private let base: UnsafeMutableRawPointer

    /// Reserves (without touching) the cache of `capacity` positions.
    /// - Throws: `RuntimeError.invalidArgument` naming the context, layers, KV heads and head dim when a count is not
    ///   positive, when the byte count overflows an `Int`, or when the address space cannot be reserved (the message
    ///   gives the byte count).
    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int, storage: KVCacheStorage = .f32) throws {
        guard layers > 0, kvHeads > 0, headDim > 0, capacity > 0 else {
            throw RuntimeError.invalidArgument("kv cache: layers \(layers), kv heads \(kvHeads), head dim \(headDim), capacity \(capacity)")
        }
        let shape = "a context of \(capacity) positions × \(layers) layers × \(kvHeads) KV heads × head dim \(headDim) × 2 (keys, values) × \(storage.elementBytes) bytes (\(storage))"
        guard let bytes = Self.byteCount(layers: layers, kvHeads: kvHeads, headDim: headDim, capacity: capacity,
                                         storage: storage) else {
            throw RuntimeError.invalidArgument("kv cache: \(shape) overflows a 64-bit byte count; use a smaller context length (--context N in the CLI; by default it is the model's max_position_embeddings)")
        }
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.capacity = capacity
        self.storage = storage
        rowElements = kvHeads * headDim
        perLayer = capacity * rowElements
        do {
            memory = try AnonymousMemory(bytes: bytes)
            base = memory.base
        } catch let AnonymousMemory.Failure.map(code) {
            throw RuntimeError.invalidArgument("kv cache: \(shape) = \(bytes) bytes: the address space could not be reserved (\(String(cString: strerror(code)))); use a smaller context length (--context N in the CLI; by default it is the model's max_position_embeddings)")
        }
    }

    /// The bytes a cache of this shape reserves (`layers · 2 · capacity · kvHeads · headDim · element bytes`), nil
    /// when that overflows an `Int`.
    public static func byteCount(layers: Int, kvHeads: Int, headDim: Int, capacity: Int, storage: KVCacheStorage) -> Int? {
        var n = 2 * storage.elementBytes
        for f in [layers, kvHeads, headDim, capacity] {
            guard f >= 0 else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: f)
            if o { return nil }
            n = m
        }
        return n
    }

    /// Bytes reserved (address space; memory is taken only by the pages of positions written).
    public var byteCount: Int { memory.count }

    /// Forgets every position.
    public func reset() { count = 0 }

    /// Throws `contextExceeded` unless `n` more positions fit.
    public func reserve(_ n: Int) throws {
        guard n >= 0, n <= capacity - count else {
            throw RuntimeError.contextExceeded(used: count, requested: n, capacity: capacity)
        }
        // The prefill attention scratch of these rows (`scratchFloats`) is then a count that fits an Int.
        guard Self.scratchFloats(rows: n, span: count + n, headDim: headDim, f16: storage == .f16) != nil else {
            throw RuntimeError.invalidArgument("kv cache: attention scratch of \(n) rows over \(count + n) positions overflows a 64-bit byte count")
        }
    }

    /// Floats of per-thread scratch that `attention` asks for over `rows` query rows and `span` cached positions:
    /// scores [rows, span], plus an f16 cache's widened keys and values (2 · span · headDim). It grows with the
    /// positions in use, never with the capacity. nil when the byte count overflows an `Int`.
    static func scratchFloats(rows: Int, span: Int, headDim: Int, f16: Bool) -> Int? {
        let (scores, o1) = rows.multipliedReportingOverflow(by: span)
        let (widened, o2) = f16 ? (2 * span).multipliedReportingOverflow(by: headDim) : (0, false)
        let (total, o3) = scores.addingReportingOverflow(widened)
        guard !o1, !o2, !o3, total <= Int.max / 4 else { return nil }
        return total
    }

    /// Marks `n` positions (already stored in every layer) as cached.
    public func advance(_ n: Int) throws {
        try reserve(n)
        count += n
    }

    /// Drops positions after the first `n` (e.g. to re-run a shared prefix).
    public func truncate(to n: Int) { count = max(0, min(count, n)) }

    @inline(__always) private func slot(_ layer: Int, _ which: Int) -> UnsafeMutableRawPointer {
        base + (layer * 2 + which) * perLayer * storage.elementBytes
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
    /// Several rows (prefill) use two sgemm calls per head; an f16 cache first widens the head's cached rows into
    /// the thread's scratch. One row (decode) batches the query heads that share a KV head: per KV head, scores
    /// [group, len] = Q·Kᵀ·scale and out = P·V, by `Kernels.attentionDecode` reading the cache (f32 or f16) in
    /// place where it is vectorised, else as two sgemm calls (an f16 cache widened first), so each cached key and
    /// value is read once per token, not once per query head.
    /// - Parameters:
    ///   - q: f32 [n, heads, headDim], rows at sequence indices `start..<start+n` (already stored in the cache).
    ///   - out: f32 [n, heads, headDim].
    public func attention(layer: Int, q: UnsafePointer<Float>, rows n: Int, start: Int, heads: Int, scale: Float,
                          into out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        guard n > 0 else { return }
        let hd = headDim, group = heads / kvHeads, head = capacity * headDim  // one KV head's rows
        let keys = slot(layer, 0), values = slot(layer, 1)
        let f16 = storage == .f16
        /// KV head j's first `rows` keys and values as f32: in place for an f32 cache, else widened into `scratch`
        /// (2·rows·hd floats).
        func kvRows(_ j: Int, _ rows: Int,
                    _ scratch: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
            if !f16 {
                return (UnsafePointer(keys.assumingMemoryBound(to: Float.self) + j * head),
                        UnsafePointer(values.assumingMemoryBound(to: Float.self) + j * head))
            }
            Kernels.f16ToF32(keys.assumingMemoryBound(to: UInt16.self) + j * head, scratch, rows * hd)
            Kernels.f16ToF32(values.assumingMemoryBound(to: UInt16.self) + j * head, scratch + rows * hd, rows * hd)
            return (UnsafePointer(scratch), UnsafePointer(scratch + rows * hd))
        }
        if n > 1 {
            // Prefill: per head, two BLAS calls over the whole chunk (scores = Q·Kᵀ·scale, causal softmax, P·V).
            let span = start + n
            pool.parallelFor(heads) { hs, worker in
                let scratch = pool.scratch(worker, count: n * span + (f16 ? 2 * span * hd : 0))
                let scores = scratch  // f32 [n, span], then the widened K and V of an f16 cache
                var widened = -1  // the KV head whose rows the scratch holds
                var k = UnsafePointer(scratch), v = UnsafePointer(scratch)
                for h in hs {
                    let j = h / group
                    if j != widened { (k, v) = kvRows(j, span, scratch + n * span); widened = j }
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
        // Decode: the `group` query heads of KV head j are consecutive rows of q ([group, hd], lda = hd). With
        // AVX-512 one C kernel reads the cache in place (`Kernels.attentionDecode`); elsewhere two sgemm calls,
        // which pack all of the cached K and V per call (1.9 ms of an 18 ms Qwen2-0.5B q4 step at 640 positions
        // on AVX-512, against 1.3–1.4 in place, docs/kernels.md "Decode attention").
        let len = start + 1, inPlace = Kernels.attentionDecodeVectorised
        pool.parallelFor(kvHeads) { js, worker in
            let scratch = pool.scratch(worker, count: group * len + (f16 && !inPlace ? 2 * len * hd : 0))
            let scores = scratch  // f32 [group, len]
            for j in js {
                let qj = q + j * group * hd, oj = out + j * group * hd
                if inPlace && f16 {
                    let k = keys.assumingMemoryBound(to: UInt16.self) + j * head
                    let v = values.assumingMemoryBound(to: UInt16.self) + j * head
                    Kernels.attentionDecode(q: qj, group: group, headDim: hd, k: k, v: v, ld: hd, len: len,
                                            scale: scale, scores: scores, into: oj)
                    continue
                }
                let (k, v) = kvRows(j, len, scratch + group * len)
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
    }
}

/// Zero-filled memory from an anonymous private mapping: pages are taken on first touch (MAP_NORESERVE: no swap or
/// commit charge is reserved for the untouched rest where the kernel's overcommit policy allows it), and the whole
/// range is unmapped on deinit. The KV cache's only use of mmap; file mappings are ReelCore's `MappedFile`.
final class AnonymousMemory {
    enum Failure: Error { case map(errno: Int32) }

    let base: UnsafeMutableRawPointer
    let count: Int

    /// - Throws: `Failure.map` with mmap's errno (e.g. ENOMEM when the address space or the commit limit is short).
    init(bytes: Int) throws {
        #if canImport(Glibc)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #else
        let flags = MAP_PRIVATE | MAP_ANON | MAP_NORESERVE
        #endif
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let p, p != MAP_FAILED else { throw Failure.map(errno: errno) }
        base = p
        count = bytes
    }

    deinit { munmap(base, count) }
}
