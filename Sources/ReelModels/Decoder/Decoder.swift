import ReelCore
import ReelFormat
import ReelRuntime

/// Which positions of a prefill return logits.
public enum LogitsRequest: Equatable, Sendable {
    /// The last position only (what generation needs).
    case last
    /// Every position, [n, V].
    case all
    /// No logits (e.g. a prompt prefix whose continuation comes later).
    case none
}

/// Run-time settings of a decoder instance.
public struct DecoderOptions: Sendable {
    /// Positions the KV cache holds; nil = `max_position_embeddings`.
    public var contextLength: Int?
    public var kvCache: KVCacheStorage = .f32
    /// Rows processed per prefill chunk (bounds the activation buffers).
    public var maxBatch: Int = 128
    /// Threads of the decoder's pool; nil = all online cores.
    public var threads: Int?
    /// The component's tensor-name prefix.
    public var prefix: String = "decoder"

    public init(contextLength: Int? = nil, kvCache: KVCacheStorage = .f32, maxBatch: Int = 128, threads: Int? = nil,
                prefix: String = "decoder") {
        self.contextLength = contextLength; self.kvCache = kvCache; self.maxBatch = maxBatch
        self.threads = threads; self.prefix = prefix
    }
}

/// Receives named intermediates as they are computed: `value` holds `value.rows` rows of the sequence starting at
/// sequence index `firstRow` (a prefill runs in chunks of at most `maxBatch` rows). Valid only during the call.
public typealias CaptureHook = (_ name: String, _ value: Tensor, _ firstRow: Int) -> Void

/// One decoder layer's weights. Mirrors `LlamaDecoderLayer` / `Qwen2DecoderLayer` / `Qwen3DecoderLayer`.
struct DecoderLayerWeights {
    let inputLayernorm: [Float]          // f32 [H]
    let qProj: Linear                    // any [nH·hd, H] (+ bias [nH·hd] if qkv_bias)
    let kProj: Linear                    // any [nKV·hd, H]
    let vProj: Linear                    // any [nKV·hd, H]
    let oProj: Linear                    // any [H, nH·hd] (+ bias if o_bias)
    let qNorm: [Float]?                  // f32 [hd] (qk_norm)
    let kNorm: [Float]?                  // f32 [hd] (qk_norm)
    let postAttentionLayernorm: [Float]  // f32 [H]
    let gateProj: Linear                 // any [I, H]
    let upProj: Linear                   // any [I, H]
    let downProj: Linear                 // any [H, I]
}

/// The activations of one chunk, allocated once for `maxBatch` rows and reused every step.
final class DecoderBuffers {
    let x: Tensor        // f32 [n, H]   residual stream
    let xNorm: Tensor    // f32 [n, H]   normed input of a sub-block
    let q: Tensor        // f32 [n, nH·hd]
    let k: Tensor        // f32 [n, nKV·hd]
    let v: Tensor        // f32 [n, nKV·hd]
    let attn: Tensor     // f32 [n, nH·hd] attention output before o_proj
    let proj: Tensor     // f32 [n, H]   o_proj / down_proj output
    let gate: Tensor     // f32 [n, I]
    let up: Tensor       // f32 [n, I]
    let selected: Tensor // f32 [n, H]   final-normed rows whose logits are wanted
    let logits: Tensor   // f32 [1, V]   reused for decode steps and `.last`
    var positions: [Int] // [n]

    init(_ c: DecoderConfig, rows n: Int) {
        let qDim = c.numAttentionHeads * c.headDim, kvDim = c.numKeyValueHeads * c.headDim
        x = Tensor(shape: [n, c.hiddenSize]); xNorm = Tensor(shape: [n, c.hiddenSize])
        q = Tensor(shape: [n, qDim]); k = Tensor(shape: [n, kvDim]); v = Tensor(shape: [n, kvDim])
        attn = Tensor(shape: [n, qDim]); proj = Tensor(shape: [n, c.hiddenSize])
        gate = Tensor(shape: [n, c.intermediateSize]); up = Tensor(shape: [n, c.intermediateSize])
        selected = Tensor(shape: [n, c.hiddenSize]); logits = Tensor(shape: [1, c.vocabSize])
        positions = [Int](repeating: 0, count: n)
    }
}

/// A Llama / Qwen2 / Qwen3 causal decoder over weights in any encoding, with a KV cache.
/// Mirrors `LlamaModel.forward` + `LlamaForCausalLM`'s lm_head (Qwen2/Qwen3 differ only in biases and q/k norm).
///
/// Use: `prefill` a prompt (token ids, or ready embeddings spliced in by an encoder), then `decodeStep` one token
/// at a time; `reset` starts a new sequence. Not thread-safe: one sequence per instance.
public final class Decoder {
    public let config: DecoderConfig
    public let options: DecoderOptions
    public let pool: ThreadPool
    public let cache: KVCache
    /// Called with named intermediates when set (`hidden_states.{i}`, `layers.{i}.…`, `norm`, `logits`).
    public var capture: CaptureHook?
    /// The position the next token gets by default (one past the largest position used so far).
    public internal(set) var nextPosition = 0

    let embedTokens: Embedding           // any [V, H]
    let layers: [DecoderLayerWeights]
    let norm: [Float]                    // f32 [H]
    let lmHead: Linear                   // any [V, H] (embed_tokens when tied)
    let rope: RotaryEmbedding
    let buffers: DecoderBuffers

    /// Builds a decoder from its weights and normalised config (`components.decoder.config`).
    /// - Parameters:
    ///   - weights: tensors named `<prefix>.embed_tokens.weight`, `<prefix>.layers.{i}.…` (formats/REEL.md names).
    ///   - config: the normalised config object.
    public init(weights: WeightProvider, config json: JSON, options: DecoderOptions = DecoderOptions(),
                pool: ThreadPool? = nil) throws {
        let c = try DecoderConfig(json: json)
        guard c.hiddenAct == "silu" else { throw RuntimeError.unsupported("hidden_act \"\(c.hiddenAct)\" (only silu)") }
        config = c
        self.options = options
        self.pool = pool ?? ThreadPool(threads: options.threads)
        let p = options.prefix
        // Every decode step streams all of these: read them in now, in file order, so that they are mapped in
        // 2 MiB pages (docs/runtime.md, "2 MiB pages"), before `vector` below touches the first of them.
        weights.populate(prefix: p + ".")
        let H = c.hiddenSize, I = c.intermediateSize, hd = c.headDim
        let qDim = c.numAttentionHeads * hd, kvDim = c.numKeyValueHeads * hd
        var used = Set<String>()
        func vector(_ name: String, _ n: Int) throws -> [Float] {
            let w = try weights.weight(name)
            try w.expect(shape: [n])
            used.insert(name)
            return w.toFloat()
        }
        func linear(_ prefix: String, out: Int, in k: Int, bias: Bool) throws -> Linear {
            used.insert(prefix + ".weight")
            if bias { used.insert(prefix + ".bias") }
            return try Linear(weights, prefix, out: out, in: k, hasBias: bias)
        }

        let embed = try weights.weight("\(p).embed_tokens.weight")
        try embed.expect(shape: [c.vocabSize, H])
        used.insert(embed.name)
        embedTokens = try Embedding(weight: embed)
        // num_hidden_layers comes from the file's metadata (≤ 4096, ConfigLimits): a count its tensors do not back is
        // refused naming the key, not as a missing tensor of some layer.
        let lastLayer = "\(p).layers.\(c.numHiddenLayers - 1).input_layernorm.weight"
        guard weights.contains(lastLayer) else {
            throw DecoderError.config(key: "num_hidden_layers",
                                      message: "\(c.numHiddenLayers), but the file has no tensor \(lastLayer)")
        }
        layers = try (0..<c.numHiddenLayers).map { i in
            let l = "\(p).layers.\(i)"
            return DecoderLayerWeights(
                inputLayernorm: try vector("\(l).input_layernorm.weight", H),
                qProj: try linear("\(l).self_attn.q_proj", out: qDim, in: H, bias: c.qkvBias),
                kProj: try linear("\(l).self_attn.k_proj", out: kvDim, in: H, bias: c.qkvBias),
                vProj: try linear("\(l).self_attn.v_proj", out: kvDim, in: H, bias: c.qkvBias),
                oProj: try linear("\(l).self_attn.o_proj", out: H, in: qDim, bias: c.oBias),
                qNorm: c.qkNorm ? try vector("\(l).self_attn.q_norm.weight", hd) : nil,
                kNorm: c.qkNorm ? try vector("\(l).self_attn.k_norm.weight", hd) : nil,
                postAttentionLayernorm: try vector("\(l).post_attention_layernorm.weight", H),
                gateProj: try linear("\(l).mlp.gate_proj", out: I, in: H, bias: c.mlpBias),
                upProj: try linear("\(l).mlp.up_proj", out: I, in: H, bias: c.mlpBias),
                downProj: try linear("\(l).mlp.down_proj", out: H, in: I, bias: c.mlpBias))
        }
        norm = try vector("\(p).norm.weight", H)
        if weights.contains("\(p).lm_head.weight") || !c.tieWordEmbeddings {
            lmHead = try linear("\(p).lm_head", out: c.vocabSize, in: H, bias: false)
        } else {
            lmHead = try Linear(weight: embed)  // tied: lm_head.weight is embed_tokens.weight
        }
        let unused = weights.weightNames.filter { $0.hasPrefix(p + ".") && !used.contains($0) }
        guard unused.isEmpty else { throw DecoderError.unusedWeights(unused.sorted()) }

        rope = try RotaryEmbedding(headDim: hd, theta: c.rope.theta, scaling: try c.ropeScaling(),
                                   partialRotaryFactor: c.rope.partialRotaryFactor)
        let context = options.contextLength ?? c.maxPositionEmbeddings
        cache = try KVCache(layers: c.numHiddenLayers, kvHeads: c.numKeyValueHeads, headDim: hd, capacity: context,
                            storage: options.kvCache)
        guard options.maxBatch > 0 else { throw RuntimeError.invalidArgument("maxBatch \(options.maxBatch)") }
        buffers = DecoderBuffers(c, rows: options.maxBatch)
    }

    /// Forgets the sequence: empties the KV cache and restarts positions at 0.
    public func reset() {
        cache.reset()
        nextPosition = 0
    }

    /// Writes the embeddings of `tokens` (f32 [n, H]) to `out`: for splicing encoder features between text tokens.
    public func embed(_ tokens: [Int], into out: UnsafeMutablePointer<Float>) throws {
        for (i, t) in tokens.enumerated() { try embedTokens.lookup(t, into: out + i * config.hiddenSize) }
    }

    /// The embeddings of `tokens`, f32 [n·H].
    public func embed(_ tokens: [Int]) throws -> [Float] {
        var out = [Float](repeating: 0, count: tokens.count * config.hiddenSize)
        try out.withUnsafeMutableBufferPointer { try embed(tokens, into: $0.baseAddress!) }
        return out
    }

    /// Runs `tokens` through the model, appending them to the KV cache.
    /// - Parameters:
    ///   - positions: one per token; nil = `nextPosition, nextPosition+1, …`.
    ///   - logits: which positions' logits to return.
    /// - Returns: f32 [m, V] with m = 1 (`.last`), n (`.all`) or 0 (`.none`). For `.last` this is a buffer the
    ///   decoder reuses: read it before the next call.
    public func prefill(tokens: [Int], positions: [Int]? = nil, logits: LogitsRequest = .last) throws -> Tensor {
        for t in tokens where t < 0 || t >= config.vocabSize {
            throw RuntimeError.tokenOutOfRange(token: t, vocabSize: config.vocabSize)
        }
        return try run(count: tokens.count, positions: positions, logits: logits) { start, n, x in
            for i in 0..<n { try self.embedTokens.lookup(tokens[start + i], into: x + i * self.config.hiddenSize) }
        }
    }

    /// Runs ready input embeddings (f32 [n, H], e.g. text embeddings with vision/audio features spliced in) through
    /// the model, appending them to the KV cache. Positions and result as `prefill(tokens:)`.
    public func prefill(embeddings: [Float], positions: [Int]? = nil, logits: LogitsRequest = .last) throws -> Tensor {
        let H = config.hiddenSize
        guard embeddings.count % H == 0, !embeddings.isEmpty else {
            throw RuntimeError.invalidArgument("embeddings: \(embeddings.count) floats are not rows of hidden_size \(H)")
        }
        return try embeddings.withUnsafeBufferPointer { e in
            try run(count: e.count / H, positions: positions, logits: logits) { start, n, x in
                x.update(from: e.baseAddress! + start * H, count: n * H)
            }
        }
    }

    /// Appends one token and returns its next-token logits, f32 [1, V] (a reused buffer: read it before the next call).
    public func decodeStep(token: Int, position: Int? = nil) throws -> Tensor {
        guard token >= 0, token < config.vocabSize else {
            throw RuntimeError.tokenOutOfRange(token: token, vocabSize: config.vocabSize)
        }
        let b = buffers
        try cache.reserve(1)
        b.positions[0] = position ?? nextPosition
        rope.update(maxPosition: b.positions[0])
        try b.x.reshape(rows: 1, columns: config.hiddenSize)
        try embedTokens.lookup(token, into: b.x.data)
        try forwardChunk(rows: 1, logits: .last, into: b.logits, logitsRow: 0)
        return b.logits
    }

    /// Validates, then runs `count` rows in chunks of `maxBatch`; `fill(start, n, x)` writes each chunk's input rows.
    private func run(count n: Int, positions: [Int]?, logits request: LogitsRequest,
                     fill: (Int, Int, UnsafeMutablePointer<Float>) throws -> Void) throws -> Tensor {
        guard n > 0 else { throw RuntimeError.invalidArgument("prefill of 0 rows") }
        if let positions, positions.count != n {
            throw RuntimeError.invalidArgument("\(positions.count) positions for \(n) rows")
        }
        if let positions, let bad = positions.first(where: { $0 < 0 }) {
            throw RuntimeError.invalidArgument("negative position \(bad)")
        }
        try cache.reserve(n)
        let pos = positions ?? (0..<n).map { nextPosition + $0 }
        rope.update(maxPosition: pos.max() ?? 0)
        let V = config.vocabSize
        let out: Tensor
        switch request {
        case .last: out = buffers.logits; try out.reshape([1, V])
        case .all: out = Tensor(shape: [n, V])
        case .none: out = Tensor(shape: [0, V])
        }
        var start = 0
        while start < n {
            let m = min(options.maxBatch, n - start)
            try buffers.x.reshape(rows: m, columns: config.hiddenSize)
            try fill(start, m, buffers.x.data)
            for i in 0..<m { buffers.positions[i] = pos[start + i] }
            let isLast = start + m == n
            let chunkLogits: LogitsRequest = request == .all ? .all : (request == .last && isLast ? .last : .none)
            try forwardChunk(rows: m, logits: chunkLogits, into: out, logitsRow: request == .all ? start : 0)
            start += m
        }
        return out
    }
}

extension Decoder {
    /// A decoder over a `.reel` file's `component` (tensors in place in the mapping, config from the metadata).
    public convenience init(file: ReelFile, component: String = "decoder", options: DecoderOptions = DecoderOptions(),
                            pool: ThreadPool? = nil) throws {
        guard let c = file.component(component) else {
            throw DecoderError.config(key: "components.\(component)", message: "\(file.path) has no \(component) component")
        }
        var o = options
        o.prefix = component
        try self.init(weights: file, config: .object(c.config), options: o, pool: pool)
    }
}
