import ReelCore
import ReelFormat
import ReelQuant
import ReelRuntime

/// Errors of the audio path, each saying which key, tensor, count or frame is at fault.
public enum AudioError: Error, CustomStringConvertible, Equatable {
    /// A normalised config key is missing or has the wrong type or value.
    case config(key: String, message: String)
    /// Weights under a component's prefix that the model does not use (strict loading).
    case unusedWeights([String])
    /// The features are not `[mels, frames]`.
    case featureShape(expected: [Int], count: Int)
    /// The valid frame count is outside 1…frames.
    case validFrames(Int, frames: Int)
    /// So few valid frames that Qwen2-Audio keeps no audio token (fewer than 3 frames, 30 ms).
    case noAudioTokens(validFrames: Int)
    /// An audio clip without any window.
    case emptyClip(index: Int)
    /// The prompt's `<|AUDIO|>` placeholders do not match the clips given (or a run of them is neither 1 nor the
    /// clip's token count).
    case placeholders(found: Int, clips: Int, detail: String)
    /// The file is not the kind of audio model asked for.
    case notAnAudioModel(path: String, architecture: String, expected: String)

    public var description: String {
        switch self {
        case let .config(key, message): return "audio config: key \"\(key)\": \(message)"
        case let .unusedWeights(names): return "audio: \(names.count) weights in the file are not used: \(names.prefix(8).joined(separator: ", "))"
        case let .featureShape(expected, count):
            return "audio features: expected f32 \(expected) (\(expected.reduce(1, *)) values: mel bins × frames), found \(count) values"
        case let .validFrames(n, frames): return "audio features: valid frame count \(n) is outside 1…\(frames)"
        case let .noAudioTokens(n): return "audio of \(n) valid frame(s) is too short: Qwen2-Audio keeps no token for fewer than 3 frames (30 ms)"
        case let .emptyClip(i): return "audio clip \(i) has no window"
        case let .placeholders(found, clips, detail):
            return "the prompt has \(found) audio placeholder(s) for \(clips) audio clip(s): \(detail)"
        case let .notAnAudioModel(path, arch, expected): return "\(path): architecture \(arch) is not \(expected)"
        }
    }
}

/// The normalised `whisper_encoder` component config (`WhisperEncoderFamily.component` writes it).
public struct WhisperEncoderConfig: Sendable, Equatable {
    /// d_model (D)
    public let dModel: Int
    /// encoder_layers
    public let layers: Int
    /// encoder_attention_heads
    public let heads: Int
    /// encoder_ffn_dim (F)
    public let ffnDim: Int
    /// num_mel_bins (80 for Whisper ≤ v2, 128 for large-v3 and Qwen2-Audio)
    public let melBins: Int
    /// max_source_positions (1500): the encoder's output length P
    public let maxSourcePositions: Int
    /// activation_function of the MLP (the convolutions always use erf GELU)
    public let activation: String
    public let layerNormEps: Float

    public var headDim: Int { dModel / heads }
    /// The mel frames the encoder takes, exactly: 2 · max_source_positions (3000 = 30 s for Whisper).
    public var frames: Int { 2 * maxSourcePositions }

    /// Why feature windows of `melBins` × `frames` cannot go into this encoder, or nil when they fit (both
    /// Qwen2-Audio and Reel AV check their preprocessor_config.json against their tower with it).
    public func windowProblem(melBins m: Int, frames f: Int) -> String? {
        m == melBins && f == frames ? nil
            : "the feature settings make windows of \(m)×\(f) mel frames, but the audio tower takes \(melBins)×\(frames) (num_mel_bins, 2 × max_source_positions)"
    }

    public init(json: JSON) throws {
        func int(_ key: String) throws -> Int {
            guard let v = json[key]?.int else { throw AudioError.config(key: key, message: "missing or not an integer") }
            guard v > 0 else { throw AudioError.config(key: key, message: "must be positive, found \(v)") }
            if let m = ConfigLimits.excess(key, v) { throw AudioError.config(key: key, message: m) }
            return v
        }
        dModel = try int("d_model")
        layers = try int("encoder_layers")
        heads = try int("encoder_attention_heads")
        ffnDim = try int("encoder_ffn_dim")
        melBins = try int("num_mel_bins")
        maxSourcePositions = try int("max_source_positions")
        activation = json["activation_function"]?.string ?? "gelu"
        let eps = json["layer_norm_eps"]?.double ?? 1e-5
        if let m = ConfigLimits.epsilonProblem(eps) { throw AudioError.config(key: "layer_norm_eps", message: m) }
        layerNormEps = Float(eps)
        guard dModel % heads == 0 else {
            throw AudioError.config(key: "encoder_attention_heads", message: "\(heads) does not divide d_model \(dModel)")
        }
        guard activation == "gelu" else {
            throw AudioError.config(key: "activation_function", message: "\"\(activation)\" is not supported (only gelu, the erf form)")
        }
    }
}

/// A LayerNorm's parameters, f32 [D] each.
struct LayerNormWeights {
    let weight: [Float]  // f32 [D]
    let bias: [Float]    // f32 [D]

    func callAsFunction(_ x: Tensor, into y: Tensor, eps: Float) throws {
        try y.reshape(x.shape)
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                EncoderOps.layerNorm(x.data, rows: x.rows, dim: x.rowLength, weight: w.baseAddress!, bias: b.baseAddress!,
                                     eps: eps, into: y.data)
            }
        }
    }
}

/// One encoder layer's weights. Mirrors `WhisperEncoderLayer` (= `Qwen2AudioEncoderLayer`).
struct WhisperLayerWeights {
    let selfAttnLayerNorm: LayerNormWeights  // f32 [D] ×2
    let qProj: Linear                        // any [D, D] + bias [D]
    let kProj: Linear                        // any [D, D], no bias
    let vProj: Linear                        // any [D, D] + bias [D]
    let outProj: Linear                      // any [D, D] + bias [D]
    let finalLayerNorm: LayerNormWeights     // f32 [D] ×2
    let fc1: Linear                          // any [F, D] + bias [F]
    let fc2: Linear                          // any [D, F] + bias [D]
}

/// The Whisper audio encoder (ARCHSPEC §5) over weights in any encoding: standalone (`whisper_encoder` files) and
/// as Qwen2-Audio's audio tower. Mirrors `WhisperEncoder.forward`:
/// gelu(conv1) → gelu(conv2, stride 2) → + embed_positions → pre-LN layers → layer_norm.
///
/// Input: log-mel features f32 [mels, frames] (channel-major, as `WhisperFeatureExtractor` returns them) with
/// frames = 2 · max_source_positions exactly. Named intermediates (`capture`): `audio.conv1` [frames, D],
/// `audio.conv2` [P, D], `audio.hidden_states.{0…L}` [P, D] (0 = conv2 + positions, i = raw output of layer i),
/// `audio.last_hidden_state` (after the final layer_norm, = HF's `output_hidden_states[-1]`).
/// Not thread-safe: one forward at a time.
public final class WhisperEncoderModel {
    public let config: WhisperEncoderConfig
    public let pool: ThreadPool
    /// Receives named intermediates when set (names start with `prefix + "."`).
    public var capture: CaptureHook?
    /// The component's tensor-name prefix ("audio").
    public let prefix: String

    let conv1: Linear                 // any [D, mels·3] (Conv1d [D, mels, 3] viewed as rows) + bias [D]
    let conv2: Linear                 // any [D, D·3] + bias [D]
    let embedPositions: WeightTensor  // any [P, D], read row by row
    let layers: [WhisperLayerWeights]
    let layerNorm: LayerNormWeights   // f32 [D] ×2

    /// Builds the encoder from its weights and normalised config (`components.audio.config`).
    /// - Parameters:
    ///   - weights: tensors named `<prefix>.conv1.weight`, `<prefix>.layers.{i}.…` (formats/REEL.md names).
    ///   - pool: threads to run on (share the decoder's); nil = a new pool of `threads`.
    public init(weights: WeightProvider, config json: JSON, prefix: String = "audio", pool: ThreadPool? = nil,
                threads: Int? = nil) throws {
        let c = try WhisperEncoderConfig(json: json)
        config = c
        self.prefix = prefix
        self.pool = pool ?? ThreadPool(threads: threads)
        let D = c.dModel, F = c.ffnDim, p = prefix
        var used = Set<String>()
        func norm(_ name: String) throws -> LayerNormWeights {
            let w = try weights.weight(name + ".weight"), b = try weights.weight(name + ".bias")
            try w.expect(shape: [D])
            try b.expect(shape: [D])
            used.formUnion([w.name, b.name])
            return LayerNormWeights(weight: w.toFloat(), bias: b.toFloat())
        }
        func linear(_ name: String, out: Int, in k: Int, bias: Bool = true) throws -> Linear {
            used.insert(name + ".weight")
            if bias { used.insert(name + ".bias") }
            let l = try Linear(weights, name, out: out, in: k, hasBias: bias)
            l.activationScale = .per128  // a tower: activation scales per 128 (docs/kernels.md "Activation scales per 128")
            return l
        }
        func conv(_ name: String, in k: Int) throws -> Linear {
            used.formUnion([name + ".weight", name + ".bias"])
            return try Self.convLinear(weights, name, out: D, in: k)
        }

        conv1 = try conv("\(p).conv1", in: c.melBins)
        conv2 = try conv("\(p).conv2", in: D)
        embedPositions = try weights.weight("\(p).embed_positions.weight")
        try embedPositions.expect(shape: [c.maxSourcePositions, D])
        used.insert(embedPositions.name)
        layers = try (0..<c.layers).map { i in
            let l = "\(p).layers.\(i)"
            return WhisperLayerWeights(
                selfAttnLayerNorm: try norm("\(l).self_attn_layer_norm"),
                qProj: try linear("\(l).self_attn.q_proj", out: D, in: D),
                kProj: try linear("\(l).self_attn.k_proj", out: D, in: D, bias: false),
                vProj: try linear("\(l).self_attn.v_proj", out: D, in: D),
                outProj: try linear("\(l).self_attn.out_proj", out: D, in: D),
                finalLayerNorm: try norm("\(l).final_layer_norm"),
                fc1: try linear("\(l).fc1", out: F, in: D),
                fc2: try linear("\(l).fc2", out: D, in: F))
        }
        layerNorm = try norm("\(p).layer_norm")
        let unused = weights.weightNames.filter { $0.hasPrefix(p + ".") && !used.contains($0) }
        guard unused.isEmpty else { throw AudioError.unusedWeights(unused.sorted()) }
    }

    /// Opens a standalone Whisper encoder file (architecture `whisper_encoder`, converted from a Whisper checkpoint).
    public convenience init(path: String, threads: Int? = nil) throws {
        let file = try ReelFile(path: path)
        guard file.architecture == WhisperEncoderFamily.name, let audio = file.component("audio") else {
            throw AudioError.notAnAudioModel(path: path, architecture: file.architecture, expected: WhisperEncoderFamily.name)
        }
        try self.init(weights: file, config: .object(audio.config), threads: threads)
    }

    /// A Conv1d weight `[out, in, 3]` as a Linear over `[out, in·3]` rows (fixed at load, no copy): the stored rows are
    /// the same bytes for f32/f16/bf16; a block-quantised kernel (only by an explicit `--keep`) is dequantised once.
    static func convLinear(_ weights: WeightProvider, _ name: String, out: Int, in k: Int) throws -> Linear {
        let w = try weights.weight(name + ".weight")
        try w.expect(shape: [out, k, 3])
        let view: WeightTensor
        if w.encoding.isQuantized {
            let m = InMemoryWeights()
            try m.add(w.name, shape: [out, k * 3], floats: w.toFloat())
            view = try m.weight(w.name)
        } else {
            view = try WeightTensor(name: w.name, encoding: w.encoding, shape: [out, k * 3], data: w.data, owner: w.owner)
        }
        return try Linear(weight: view, bias: try weights.weight(name + ".bias"))
    }

    /// Positions after the convolutions that hold real audio for `validFrames` valid mel frames: `(L − 1) // 2 + 1`
    /// (`_get_feat_extract_output_lengths`).
    public static func validPositions(validFrames: Int) -> Int { (validFrames - 1) / 2 + 1 }

    /// Runs `WhisperEncoder.forward`: features f32 [mels, frames] → `last_hidden_state` f32 [P, D].
    /// All P positions, no mask, as transformers' Whisper encoder (it ignores `attention_mask`).
    public func forward(features: [Float]) throws -> Tensor {
        let x = try layerStack(features: features, positions: config.maxSourcePositions)
        // hidden_states = self.layer_norm(hidden_states)
        try layerNorm(x, into: x, eps: config.layerNormEps)
        emit("last_hidden_state", x, 0)
        return x
    }

    /// The convolutions over the whole (padded) input, then positions and layers over the first `positions`
    /// positions only: Qwen2-Audio's key-padding mask, computed exactly by leaving the masked keys out (a masked
    /// key contributes nothing to a valid query, and the valid rows never read a padded row). The convolutions see
    /// the padded mel, as in transformers.
    /// - Returns: the raw output of the last layer, f32 [positions, D] (before any final norm).
    public func layerStack(features: [Float], positions n: Int) throws -> Tensor {
        let c = config, D = c.dModel, T = c.frames, M = c.melBins
        guard features.count == M * T else { throw AudioError.featureShape(expected: [M, T], count: features.count) }
        guard n >= 1, n <= c.maxSourcePositions else {
            throw RuntimeError.invalidArgument("audio positions \(n) outside 1…\(c.maxSourcePositions)")
        }
        // Rows of conv1 needed by the first n outputs of conv2 (row t reads conv1 rows 2t−1…2t+1).
        let t1 = min(T, 2 * n)

        // inputs_embeds = gelu(self.conv1(input_features))   [t1, D]
        let cols1 = Tensor(shape: [t1, M * 3])
        features.withUnsafeBufferPointer {
            AudioOps.im2col3(channelMajor: $0.baseAddress!, channels: M, length: T, stride: 1, rows: t1, into: cols1.data)
        }
        let h1 = Tensor(shape: [t1, D])
        try conv1(cols1, into: h1, pool: pool)
        Activation.geluErf.apply(h1.data, count: t1 * D, pool: pool)
        emit("conv1", h1, 0)

        // inputs_embeds = gelu(self.conv2(inputs_embeds)).permute(0, 2, 1)   [n, D]
        let cols2 = Tensor(shape: [n, D * 3])
        AudioOps.im2col3(timeMajor: h1.data, channels: D, length: T, stride: 2, rows: n, into: cols2.data)
        let x = Tensor(shape: [n, D])
        try conv2(cols2, into: x, pool: pool)
        Activation.geluErf.apply(x.data, count: n * D, pool: pool)
        emit("conv2", x, 0)

        // hidden_states = inputs_embeds + embed_positions
        var pos = [Float](repeating: 0, count: D)
        pos.withUnsafeMutableBufferPointer { pb in
            for t in 0..<n {
                embedPositions.dequantizeRow(t, into: pb.baseAddress!)
                Ops.add(x.row(t), pb.baseAddress!, count: D)
            }
        }

        let b = LayerBuffers(rows: n, dim: D, ffn: c.ffnDim)
        for (i, layer) in layers.enumerated() {
            emit("hidden_states.\(i)", x, 0)
            try layerForward(i, layer, x, b)
        }
        emit("hidden_states.\(layers.count)", x, 0)
        return x
    }

    /// The final `layer_norm` applied to `x` in place (Qwen2-Audio applies it after pooling).
    public func finalLayerNorm(_ x: Tensor) throws {
        try layerNorm(x, into: x, eps: config.layerNormEps)
    }

    /// Activations of one forward, allocated per call (one call per 30 s window).
    final class LayerBuffers {
        let xNorm, q, k, v, attn, proj: Tensor  // f32 [n, D]
        let ff: Tensor                          // f32 [n, F]
        let kHead, vHeadT: Tensor               // f32 [heads·n·hd] scratch of the attention
        init(rows n: Int, dim D: Int, ffn F: Int) {
            xNorm = Tensor(shape: [n, D]); q = Tensor(shape: [n, D]); k = Tensor(shape: [n, D]); v = Tensor(shape: [n, D])
            attn = Tensor(shape: [n, D]); proj = Tensor(shape: [n, D]); ff = Tensor(shape: [n, F])
            kHead = Tensor(shape: [n * D]); vHeadT = Tensor(shape: [n * D])
        }
    }

    /// Mirrors `WhisperEncoderLayer.forward` (pre-LN; `WhisperAttention` scales q by hd^-0.5 before q·kᵀ).
    private func layerForward(_ i: Int, _ w: WhisperLayerWeights, _ x: Tensor, _ b: LayerBuffers) throws {
        let c = config, n = x.rows, D = c.dModel
        let eps = c.layerNormEps

        // residual = hidden_states; hidden_states = self.self_attn_layer_norm(hidden_states)
        try w.selfAttnLayerNorm(x, into: b.xNorm, eps: eps)
        // query_states = self.q_proj(hidden_states) * self.scaling; key/value_states = k_proj / v_proj
        try w.qProj(b.xNorm, into: b.q, pool: pool)
        let scaling = 1 / Float(c.headDim).squareRoot()
        for j in 0..<(n * D) { b.q.data[j] *= scaling }
        try w.kProj(b.xNorm, into: b.k, pool: pool)
        try w.vProj(b.xNorm, into: b.v, pool: pool)
        // attn_output = softmax(q·kᵀ)·v per head (bidirectional; masked keys already left out)
        try b.attn.reshape([n, D])
        AudioOps.attention(q: b.q.data, k: b.k.data, v: b.v.data, queries: n, keys: n, heads: c.heads, headDim: c.headDim,
                           kHead: b.kHead.data, vHeadT: b.vHeadT.data, into: b.attn.data, pool: pool)
        // hidden_states = residual + self.out_proj(attn_output)
        try w.outProj(b.attn, into: b.proj, pool: pool)
        emit("layers.\(i).self_attn", b.proj, 0)
        Ops.add(x.data, b.proj.data, count: n * D)

        // residual = hidden_states; hidden_states = fc2(gelu(fc1(final_layer_norm(hidden_states))))
        try w.finalLayerNorm(x, into: b.xNorm, eps: eps)
        try w.fc1(b.xNorm, into: b.ff, pool: pool)
        Activation.geluErf.apply(b.ff.data, count: n * c.ffnDim, pool: pool)
        try w.fc2(b.ff, into: b.proj, pool: pool)
        emit("layers.\(i).mlp", b.proj, 0)
        // hidden_states = residual + hidden_states
        Ops.add(x.data, b.proj.data, count: n * D)
    }

    func emit(_ name: String, _ t: Tensor, _ firstRow: Int) {
        capture?("\(prefix).\(name)", t, firstRow)
    }
}
