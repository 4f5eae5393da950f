import ReelCore
import ReelFormat
import ReelRuntime

/// One encoder layer's weights. Mirrors `SiglipEncoderLayer` / `CLIPEncoderLayer`.
struct VisionLayerWeights {
    let layerNorm1: (weight: [Float], bias: [Float])  // f32 [D], [D]
    let qProj: Linear                                 // any [D, D] + bias [D]
    let kProj: Linear                                 // any [D, D] + bias [D]
    let vProj: Linear                                 // any [D, D] + bias [D]
    let outProj: Linear                               // any [D, D] + bias [D]
    let layerNorm2: (weight: [Float], bias: [Float])  // f32 [D], [D]
    let fc1: Linear                                   // any [I, D] + bias [I]
    let fc2: Linear                                   // any [D, I] + bias [D]
}

/// The activations of one batch of images, allocated for `maxImages` images and reused.
final class VisionBuffers {
    let patches: Tensor  // f32 [b·G², C·P·P]  im2col of the pixels
    let embed: Tensor    // f32 [b·G², D]      patch_embedding output
    let x: Tensor        // f32 [b·T, D]       residual stream
    let xNorm: Tensor    // f32 [b·T, D]
    let q: Tensor        // f32 [b·T, D]
    let k: Tensor        // f32 [b·T, D]
    let v: Tensor        // f32 [b·T, D]
    let attn: Tensor     // f32 [b·T, D]
    let proj: Tensor     // f32 [b·T, D]
    let mlp: Tensor      // f32 [b·T, I]

    init(_ c: VisionTowerConfig, images b: Int) {
        let g2 = c.grid * c.grid, t = c.tokens, d = c.hiddenSize
        patches = Tensor(shape: [b * g2, c.numChannels * c.patchSize * c.patchSize])
        embed = Tensor(shape: [b * g2, d])
        x = Tensor(shape: [b * t, d]); xNorm = Tensor(shape: [b * t, d])
        q = Tensor(shape: [b * t, d]); k = Tensor(shape: [b * t, d]); v = Tensor(shape: [b * t, d])
        attn = Tensor(shape: [b * t, d]); proj = Tensor(shape: [b * t, d])
        mlp = Tensor(shape: [b * t, c.intermediateSize])
    }
}

/// A SigLIP or CLIP vision transformer over weights in any encoding. Mirrors `SiglipVisionTransformer.forward`
/// (patch conv → + position embeddings → pre-LN layers → post_layernorm) and `CLIPVisionTransformer.forward`
/// (class token prepended, `pre_layrnorm` before layer 0).
///
/// Images are encoded `maxImages` at a time: the patch convolution is one GEMM over all patches of the batch
/// (`Linear`, so f32 weights go through OpenBLAS and int8/int4 through the quantised GEMM), and each layer's
/// projections and MLP are GEMMs over all tokens of the batch.
public final class VisionTower {
    public let config: VisionTowerConfig
    public let pool: ThreadPool
    /// Images per batch (bounds the activation buffers).
    public let maxImages: Int
    /// Receives `vision.embeddings`, `vision.hidden_states.{i}` (HF's `hidden_states[i]`: hs[0] the embeddings,
    /// hs[i] the output of layer i, before post_layernorm) and `vision.post_layernorm`; rows are tokens,
    /// `firstRow` = first image index · tokens.
    public var capture: CaptureHook?
    /// Called after each stage of the forward pass with the stage that just finished (profiling: `reel bench
    /// --profile` on a vision model charges the time since the previous call to it). Costs one nil check per stage
    /// when unset.
    public var stageHook: ((Stage) -> Void)?

    /// The stages `stageHook` reports, in forward order (per layer: layer_norm1 … residual add after the MLP).
    public enum Stage: String, CaseIterable, Sendable {
        case embeddings
        case layerNorm1 = "layer_norm1"
        case qkvProj = "q_proj + k_proj + v_proj"
        case attention = "attention (q·kᵀ, softmax, ·v)"
        case outProj = "out_proj"
        case residual = "residual adds"
        case layerNorm2 = "layer_norm2"
        case fc1 = "fc1 (+ activation)"
        case activation = "activation (inside fc1)"
        case fc2
        case postLayernorm = "post_layernorm"
    }

    /// How the layers' attention multiplies (`EncoderAttentionPrecision.automatic`: int16 when the Linear weights
    /// are quantised and the CPU has the vector path, else f32). Settable, e.g. for an A/B in `reel bench --profile`.
    public var attentionPrecision: EncoderAttentionPrecision

    let patchEmbedding: Linear                         // any [D, C·P·P] (+ bias [D], SigLIP), the conv as a GEMM
    let classEmbedding: [Float]?                       // f32 [D] (CLIP)
    let positionEmbedding: [Float]                     // f32 [T, D]
    let preLayernorm: (weight: [Float], bias: [Float])?  // f32 [D] (CLIP)
    let layers: [VisionLayerWeights]
    let postLayernorm: (weight: [Float], bias: [Float])  // f32 [D]
    let buffers: VisionBuffers

    /// Builds a tower from its weights (`<prefix>.embeddings.…`, `<prefix>.encoder.layers.{i}.…`) and normalised config.
    /// Strict: every weight under `<prefix>.` must be used.
    public init(weights: WeightProvider, config json: JSON, prefix p: String = "vision", maxImages: Int = 2,
                pool: ThreadPool? = nil) throws {
        let c = try VisionTowerConfig(json: json)
        guard !c.visionUseHead else {
            throw RuntimeError.unsupported("SigLIP's attention-pooling head (vision_use_head); LLaVA towers have none")
        }
        guard maxImages > 0 else { throw VisionError.badInput("maxImages \(maxImages)") }
        config = c
        self.maxImages = maxImages
        self.pool = pool ?? ThreadPool()
        let d = c.hiddenSize, inter = c.intermediateSize, k = c.numChannels * c.patchSize * c.patchSize
        var used = Set<String>()
        func vector(_ name: String, _ n: Int) throws -> [Float] {
            let w = try weights.weight(name)
            try w.expect(shape: [n])
            used.insert(name)
            return w.toFloat()
        }
        func norm(_ name: String) throws -> (weight: [Float], bias: [Float]) {
            (try vector(name + ".weight", d), try vector(name + ".bias", d))
        }
        func linear(_ prefix: String, out: Int, in k: Int) throws -> Linear {
            used.insert(prefix + ".weight"); used.insert(prefix + ".bias")
            let l = try Linear(weights, prefix, out: out, in: k, hasBias: true)
            l.activationScale = .per128  // a tower: activation scales per 128 (docs/kernels.md "Activation scales per 128")
            return l
        }

        // nn.Conv2d(C, D, kernel=P, stride=P) as a GEMM: the [D, C, P, P] weight viewed as [D, C·P·P] in place.
        let conv = try weights.weight("\(p).embeddings.patch_embedding.weight")
        try conv.expect(shape: [d, c.numChannels, c.patchSize, c.patchSize])
        used.insert(conv.name)
        let convMatrix = try WeightTensor(name: conv.name, encoding: conv.encoding, shape: [d, k], data: conv.data, owner: conv.owner)
        let convBias: WeightTensor? = c.classToken ? nil : try weights.weight("\(p).embeddings.patch_embedding.bias")
        if let convBias { used.insert(convBias.name) }
        patchEmbedding = try Linear(weight: convMatrix, bias: convBias)
        classEmbedding = c.classToken ? try vector("\(p).embeddings.class_embedding", d) : nil
        let pos = try weights.weight("\(p).embeddings.position_embedding.weight")
        try pos.expect(shape: [c.tokens, d])
        used.insert(pos.name)
        positionEmbedding = pos.toFloat()
        preLayernorm = c.preLayernorm ? try norm("\(p).pre_layrnorm") : nil
        layers = try (0..<c.numHiddenLayers).map { i in
            let l = "\(p).encoder.layers.\(i)"
            return VisionLayerWeights(
                layerNorm1: try norm("\(l).layer_norm1"),
                qProj: try linear("\(l).self_attn.q_proj", out: d, in: d),
                kProj: try linear("\(l).self_attn.k_proj", out: d, in: d),
                vProj: try linear("\(l).self_attn.v_proj", out: d, in: d),
                outProj: try linear("\(l).self_attn.out_proj", out: d, in: d),
                layerNorm2: try norm("\(l).layer_norm2"),
                fc1: try linear("\(l).mlp.fc1", out: inter, in: d),
                fc2: try linear("\(l).mlp.fc2", out: d, in: inter))
        }
        postLayernorm = try norm("\(p).post_layernorm")
        // Encoder batches are frames × tokens rows (1458 for two so400m frames). `.auto`: quantised layers take the
        // int8 GEMM (1.7× dequantise + sgemm at q8 on so400m, docs/performance.md), f16/bf16 dequantised tiles.
        for l in layers { for lin in [l.qProj, l.kProj, l.vProj, l.outProj, l.fc1, l.fc2] { lin.prefillPath = .auto } }
        let unused = weights.weightNames.filter { $0.hasPrefix(p + ".") && !used.contains($0) }
        guard unused.isEmpty else { throw VisionError.unusedWeights(unused.sorted()) }
        buffers = VisionBuffers(c, images: maxImages)
        attentionPrecision = .automatic(quantised: layers.first?.qProj.weight.encoding.isQuantized ?? false)
    }

    /// A tower over a `.reel` file's `component` (tensors in place in the mapping).
    public convenience init(file: ReelFile, component: String = "vision", maxImages: Int = 2, pool: ThreadPool? = nil) throws {
        guard let comp = file.component(component) else {
            throw VisionError.config(key: "components.\(component)", message: "\(file.path) has no \(component) component")
        }
        try self.init(weights: file, config: .object(comp.config), prefix: component, maxImages: maxImages, pool: pool)
    }

    /// Pixel floats per image: C·H·W.
    public var pixelsPerImage: Int { config.numChannels * config.imageSize * config.imageSize }

    /// Encodes images and hands each batch's requested hidden states to `body`.
    /// - Parameters:
    ///   - pixels: f32 [n, C, H, W] (processor output), H = W = `image_size`.
    ///   - images: n.
    ///   - hiddenStates: HF `hidden_states` indices (negative from the end) to hand over; layers past the largest
    ///     are not run. `postLayernorm` additionally runs all layers and applies `post_layernorm`.
    ///   - body: `(firstImage, count, states)`, `states[j]` f32 [count·T, D] for `hiddenStates[j]` (then the
    ///     post-LN output if asked), valid only during the call.
    public func forward(pixels: UnsafePointer<Float>, images n: Int, hiddenStates: [Int], postLayernorm: Bool = false,
                        _ body: (_ firstImage: Int, _ count: Int, _ states: [Tensor]) throws -> Void) throws {
        let c = config, d = c.hiddenSize, t = c.tokens
        let wanted = try hiddenStates.map { try c.hiddenStateIndex($0) }
        let depth = postLayernorm ? c.numHiddenLayers : (wanted.max() ?? 0)
        var first = 0
        while first < n {
            let b = min(maxImages, n - first)
            var states = wanted.map { _ in Tensor(shape: [b * t, d]) }
            func keep(_ i: Int) {
                for (j, w) in wanted.enumerated() where w == i { states[j].data.update(from: buffers.x.data, count: b * t * d) }
            }
            try embed(pixels + first * pixelsPerImage, images: b, firstRow: first * t)
            stageHook?(.embeddings)
            keep(0)
            for i in 0..<depth {
                try layerForward(layers[i], images: b)
                emit("vision.hidden_states.\(i + 1)", buffers.x, first * t)
                keep(i + 1)
            }
            if postLayernorm {
                let x = buffers.x
                postLayernormWeights { w, bias in
                    EncoderOps.layerNorm(x.data, rows: b * t, dim: d, weight: w, bias: bias, eps: Float(c.layerNormEps), into: x.data)
                }
                stageHook?(.postLayernorm)
                emit("vision.post_layernorm", x, first * t)
                let out = Tensor(shape: [b * t, d])
                out.data.update(from: x.data, count: b * t * d)
                states.append(out)
            }
            try body(first, b, states)
            first += b
        }
    }

    private func postLayernormWeights(_ f: (UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
        postLayernorm.weight.withUnsafeBufferPointer { w in postLayernorm.bias.withUnsafeBufferPointer { f(w.baseAddress!, $0.baseAddress!) } }
    }

    /// Mirrors `SiglipVisionEmbeddings.forward` / `CLIPVisionEmbeddings.forward` (+ CLIP's `pre_layrnorm`):
    /// fills `buffers.x` [b·T, D] and emits `vision.hidden_states.0`.
    private func embed(_ pixels: UnsafePointer<Float>, images b: Int, firstRow: Int) throws {
        let c = config, buf = buffers, d = c.hiddenSize, t = c.tokens, g2 = c.grid * c.grid
        let k = c.numChannels * c.patchSize * c.patchSize
        // patch_embeds = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)   (conv as im2col · Wᵀ)
        try buf.patches.reshape([b * g2, k])
        for i in 0..<b {
            EncoderOps.patchify(pixels + i * pixelsPerImage, channels: c.numChannels, height: c.imageSize,
                                width: c.imageSize, patch: c.patchSize, into: buf.patches.data + i * g2 * k)
        }
        try patchEmbedding(buf.patches, into: buf.embed, pool: pool)  // [b·G², D]
        // embeddings = cat([class_embeds, patch_embeds]) (CLIP) + position_embedding(position_ids)
        try buf.x.reshape([b * t, d])
        let cls = c.classToken ? 1 : 0
        for i in 0..<b {
            let xi = buf.x.data + i * t * d
            if let classEmbedding { classEmbedding.withUnsafeBufferPointer { xi.update(from: $0.baseAddress!, count: d) } }
            (xi + cls * d).update(from: buf.embed.data + i * g2 * d, count: g2 * d)
            positionEmbedding.withUnsafeBufferPointer { Ops.add(xi, $0.baseAddress!, count: t * d) }
        }
        emit("vision.embeddings", buf.x, firstRow)
        // hidden_states = self.pre_layrnorm(hidden_states)   (CLIP)
        if let pre = preLayernorm {
            pre.weight.withUnsafeBufferPointer { w in pre.bias.withUnsafeBufferPointer { bias in
                EncoderOps.layerNorm(buf.x.data, rows: b * t, dim: d, weight: w.baseAddress!, bias: bias.baseAddress!,
                                     eps: Float(c.layerNormEps), into: buf.x.data, pool: pool)
            } }
        }
        emit("vision.hidden_states.0", buf.x, firstRow)
    }

    /// Mirrors `SiglipEncoderLayer.forward` (CLIP's is the same): pre-LN attention and MLP, each with a residual.
    private func layerForward(_ w: VisionLayerWeights, images b: Int) throws {
        let c = config, buf = buffers, d = c.hiddenSize, t = c.tokens, n = b * t
        let eps = Float(c.layerNormEps)
        func layerNorm(_ p: (weight: [Float], bias: [Float])) throws {
            try buf.xNorm.reshape([n, d])
            p.weight.withUnsafeBufferPointer { wt in p.bias.withUnsafeBufferPointer { bias in
                EncoderOps.layerNorm(buf.x.data, rows: n, dim: d, weight: wt.baseAddress!, bias: bias.baseAddress!,
                                     eps: eps, into: buf.xNorm.data, pool: pool)
            } }
        }
        // residual = hidden_states; hidden_states = self.layer_norm1(hidden_states)
        try layerNorm(w.layerNorm1)
        stageHook?(.layerNorm1)
        // hidden_states = self.self_attn(hidden_states): q/k/v projections, softmax(q·kᵀ·hd^-0.5)·v, out_proj
        // one quantisation of the normalised rows for all three (integer GEMM)
        try Linear.forward(buf.xNorm, sharedBy: [(w.qProj, buf.q), (w.kProj, buf.k), (w.vProj, buf.v)], pool: pool)
        stageHook?(.qkvProj)
        try buf.attn.reshape([n, d])
        EncoderOps.attention(q: buf.q.data, k: buf.k.data, v: buf.v.data, sequences: b, length: t,
                             heads: c.numAttentionHeads, headDim: c.headDim, scale: 1 / Float(c.headDim).squareRoot(),
                             into: buf.attn.data, pool: pool, precision: attentionPrecision)
        stageHook?(.attention)
        try w.outProj(buf.attn, into: buf.proj, pool: pool)
        stageHook?(.outProj)
        // hidden_states = residual + hidden_states
        EncoderOps.add(buf.x.data, buf.proj.data, rows: n, dim: d, pool: pool)
        stageHook?(.residual)
        // residual = hidden_states; hidden_states = self.mlp(self.layer_norm2(hidden_states))
        try layerNorm(w.layerNorm2)
        stageHook?(.layerNorm2)
        // fc1 and the activation in one pass: each output chunk is activated while still in cache (so400m: the
        // separate pass read and wrote 12.5 MB per frame and layer).
        try w.fc1(buf.xNorm, into: buf.mlp, pool: pool, activation: c.hiddenAct)
        stageHook?(.fc1)
        stageHook?(.activation)
        try w.fc2(buf.mlp, into: buf.proj, pool: pool)
        stageHook?(.fc2)
        // hidden_states = residual + hidden_states
        EncoderOps.add(buf.x.data, buf.proj.data, rows: n, dim: d, pool: pool)
        stageHook?(.residual)
    }

    @inline(__always) private func emit(_ name: String, _ t: Tensor, _ firstRow: Int) {
        capture?(name, t, firstRow)
    }
}
