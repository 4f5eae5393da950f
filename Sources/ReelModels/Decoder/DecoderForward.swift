import ReelRuntime

extension Decoder {
    /// One forward pass over the `n` rows in `buffers.x` (embeddings in, at `buffers.positions`), appending their keys
    /// and values to the cache. Mirrors `LlamaModel.forward`: layers, final norm, then lm_head on the wanted rows.
    /// - Parameters:
    ///   - logits: `.last` → the last row's logits into `out` row `logitsRow`; `.all` → rows `logitsRow…+n`.
    func forwardChunk(rows n: Int, logits: LogitsRequest, into out: Tensor, logitsRow: Int) throws {
        let c = config, b = buffers, start = cache.count
        let H = c.hiddenSize
        try cache.reserve(n)
        for i in 0..<layers.count {
            emit("hidden_states.\(i)", b.x, start)
            try layerForward(i, layers[i], rows: n, start: start)
        }
        // hidden_states = self.norm(hidden_states)
        let eps = Float(c.rmsNormEps)
        norm.withUnsafeBufferPointer { Ops.rmsNorm(b.x.data, rows: n, dim: H, weight: $0.baseAddress!, eps: eps, into: b.x.data) }
        emit("hidden_states.\(layers.count)", b.x, start)  // HF: hs[L] is the final-norm output
        try cache.advance(n)
        for i in 0..<n { nextPosition = max(nextPosition, b.positions[i] + 1) }

        // logits = self.lm_head(hidden_states[:, slice_indices, :])
        switch logits {
        case .none: return
        case .last:
            try b.selected.reshape(rows: 1, columns: H)
            b.selected.data.update(from: b.x.row(n - 1), count: H)
            lmHead.forward(b.selected.data, rows: 1, into: out.row(logitsRow), pool: pool)
        case .all:
            lmHead.forward(b.x.data, rows: n, into: out.row(logitsRow), pool: pool)
        }
        if capture != nil {
            let rows = logits == .all ? n : 1
            let view = Tensor(shape: [rows, c.vocabSize])
            view.data.update(from: out.row(logitsRow), count: rows * c.vocabSize)
            emit("logits", view, logits == .all ? start : start + n - 1)
        }
    }

    /// Mirrors `LlamaDecoderLayer.forward` (Qwen2/Qwen3 the same, Qwen3 adding q/k norm before RoPE).
    private func layerForward(_ i: Int, _ w: DecoderLayerWeights, rows n: Int, start: Int) throws {
        let c = config, b = buffers
        let H = c.hiddenSize, hd = c.headDim, nH = c.numAttentionHeads, nKV = c.numKeyValueHeads
        let eps = Float(c.rmsNormEps)

        // residual = hidden_states; hidden_states = self.input_layernorm(hidden_states)
        try b.xNorm.reshape(rows: n, columns: H)
        w.inputLayernorm.withUnsafeBufferPointer {
            Ops.rmsNorm(b.x.data, rows: n, dim: H, weight: $0.baseAddress!, eps: eps, into: b.xNorm.data)
        }
        emit("layers.\(i).input_layernorm", b.xNorm, start)

        // --- self_attn (LlamaAttention.forward) ---
        // query/key/value_states = {q,k,v}_proj(hidden_states).view(n, heads, hd)
        if n == 1 {  // decode: q, k and v in one parallel operation (same numbers, one dispatch)
            try b.q.reshape(rows: 1, columns: w.qProj.outFeatures)
            try b.k.reshape(rows: 1, columns: w.kProj.outFeatures)
            try b.v.reshape(rows: 1, columns: w.vProj.outFeatures)
            Linear.forwardRow(b.xNorm.data, w.qProj, into: b.q.data, w.kProj, into: b.k.data, w.vProj, into: b.v.data, pool: pool)
        } else {  // prefill: one quantisation of the normalised rows for all three (integer GEMM)
            try Linear.forward(b.xNorm, sharedBy: [(w.qProj, b.q), (w.kProj, b.k), (w.vProj, b.v)], pool: pool)
        }
        emit("layers.\(i).self_attn.q_proj", b.q, start)
        emit("layers.\(i).self_attn.k_proj", b.k, start)
        emit("layers.\(i).self_attn.v_proj", b.v, start)
        // Qwen3: q_norm / k_norm over each head vector, before RoPE
        if let qNorm = w.qNorm, let kNorm = w.kNorm {
            qNorm.withUnsafeBufferPointer { Ops.rmsNorm(b.q.data, rows: n * nH, dim: hd, weight: $0.baseAddress!, eps: eps, into: b.q.data) }
            kNorm.withUnsafeBufferPointer { Ops.rmsNorm(b.k.data, rows: n * nKV, dim: hd, weight: $0.baseAddress!, eps: eps, into: b.k.data) }
            emit("layers.\(i).self_attn.q_norm", b.q, start)
            emit("layers.\(i).self_attn.k_norm", b.k, start)
        }
        // query_states, key_states = apply_rotary_pos_emb(q, k, cos, sin)
        b.positions.withUnsafeBufferPointer {
            rope.apply(q: b.q.data, qHeads: nH, k: b.k.data, kHeads: nKV, rows: n, positions: $0.baseAddress!)
        }
        emit("layers.\(i).self_attn.q_rope", b.q, start)
        emit("layers.\(i).self_attn.k_rope", b.k, start)
        // key_states, value_states = past_key_values.update(...)
        cache.store(layer: i, start: start, rows: n, k: b.k.data, v: b.v.data)
        // attn_output = softmax(q·kᵀ·hd^-0.5 + causal mask)·v, GQA by repeat_interleave
        try b.attn.reshape(rows: n, columns: nH * hd)
        cache.attention(layer: i, q: b.q.data, rows: n, start: start, heads: nH, scale: 1 / Float(hd).squareRoot(),
                        into: b.attn.data, pool: pool)
        emit("layers.\(i).self_attn.attn", b.attn, start)
        // attn_output = self.o_proj(attn_output)
        try w.oProj(b.attn, into: b.proj, pool: pool)
        emit("layers.\(i).self_attn.o_proj", b.proj, start)
        // hidden_states = residual + hidden_states
        Ops.add(b.x.data, b.proj.data, count: n * H)

        // residual = hidden_states; hidden_states = self.post_attention_layernorm(hidden_states)
        w.postAttentionLayernorm.withUnsafeBufferPointer {
            Ops.rmsNorm(b.x.data, rows: n, dim: H, weight: $0.baseAddress!, eps: eps, into: b.xNorm.data)
        }
        emit("layers.\(i).post_attention_layernorm", b.xNorm, start)
        // mlp: down_proj(act_fn(gate_proj(x)) * up_proj(x))
        if n == 1 {  // decode: gate and up in one parallel operation
            try b.gate.reshape(rows: 1, columns: w.gateProj.outFeatures)
            try b.up.reshape(rows: 1, columns: w.upProj.outFeatures)
            Linear.forwardRow(b.xNorm.data, w.gateProj, into: b.gate.data, w.upProj, into: b.up.data, pool: pool)
        } else {
            try Linear.forward(b.xNorm, sharedBy: [(w.gateProj, b.gate), (w.upProj, b.up)], pool: pool)
        }
        Ops.siluMul(b.gate.data, b.up.data, count: n * c.intermediateSize, pool: pool)
        emit("layers.\(i).mlp.act", b.gate, start)
        try w.downProj(b.gate, into: b.proj, pool: pool)
        emit("layers.\(i).mlp.down_proj", b.proj, start)
        // hidden_states = residual + hidden_states
        Ops.add(b.x.data, b.proj.data, count: n * H)
    }

    /// Hands a named intermediate to `capture`; the name is built only when a hook is set (no per-token strings).
    @inline(__always) private func emit(_ name: @autoclosure () -> String, _ t: Tensor, _ firstRow: Int) {
        if let capture { capture(name(), t, firstRow) }
    }
}

/// Collects captured intermediates across chunks into whole tensors: `tensors[name]` is f32 [rows, rowLength],
/// rows in sequence order. Pass `recorder.hook` as `Decoder.capture`.
public final class IntermediateRecorder {
    public private(set) var tensors: [String: (rowLength: Int, values: [Float])] = [:]
    /// Recorded names in the order first seen (stable output order for `reel forward` / `reel parity`).
    public private(set) var names: [String] = []
    /// Records only names this returns true for (default: all).
    public var filter: (String) -> Bool

    public init(filter: @escaping (String) -> Bool = { _ in true }) { self.filter = filter }

    public var hook: CaptureHook {
        { [unowned self] name, t, _ in
            guard self.filter(name) else { return }
            let k = t.rowLength
            if self.tensors[name] == nil { self.names.append(name) }
            self.tensors[name, default: (k, [])].values.append(contentsOf: UnsafeBufferPointer(start: t.data, count: t.count))
        }
    }

    public func removeAll() { tensors = [:]; names = [] }
}
