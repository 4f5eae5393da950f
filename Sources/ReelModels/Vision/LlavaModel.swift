import ReelCore
import ReelFormat
import ReelRuntime

/// A LLaVA-OneVision or LLaVA-NeXT-Video model: the vision tower, the aligner (`multi_modal_projector`, pooling,
/// `image_newline`) and the decoder, over a `.reel` file's mapped weights. Mirrors
/// `LlavaOnevisionModel.get_video_features` / `get_image_features` and `LlavaNextVideoModel.get_video_features`,
/// plus the processor's placeholder expansion and the model's `masked_scatter` of features into the embeddings.
///
/// Takes ready pixel values (the processor's output, f32 [n, 3, H, W]); frames and images from files come from
/// ReelMedia.
public final class LlavaModel {
    public let config: LlavaConfig
    public let vision: VisionTower
    public let decoder: Decoder
    /// Receives the aligner's stages (`projector.selected`, `projector.projected`, `projector.pooled`,
    /// `video_features`, `image_features`); rows are tokens of the stage. Set `vision.capture` for the tower's.
    public var capture: CaptureHook?
    /// Called after each batch of frames or tiles is encoded: (done, total) — for progress lines on long clips.
    public var progress: ((_ done: Int, _ total: Int) -> Void)?

    let linear1: Linear        // any [Ht, Dv·layers] (+ bias [Ht])
    let linear2: Linear        // any [Ht, Ht] (+ bias [Ht])
    let imageNewline: [Float]  // f32 [Ht]

    /// A model over a `.reel` file (tensors in place in the mapping, configs from the metadata).
    /// - Parameters:
    ///   - decoder: the decoder to splice into (e.g. a `TextModel`'s); nil builds one over the file.
    ///   - maxImages: frames or tiles encoded per batch.
    public convenience init(file: ReelFile, decoder: Decoder? = nil, options: DecoderOptions = DecoderOptions(),
                            maxImages: Int = 2) throws {
        var configs: [String: JSON] = [:]
        for name in ["vision", "projector", "decoder"] {
            guard let comp = file.component(name) else {
                throw VisionError.config(key: "components.\(name)", message: "\(file.path) (\(file.architecture)) has no \(name) component")
            }
            configs[name] = .object(comp.config)
        }
        try self.init(weights: file, architecture: file.architecture, vision: configs["vision"]!,
                      projector: configs["projector"]!, decoder: decoder ?? Decoder(file: file, options: options),
                      maxImages: maxImages)
    }

    /// A model over any weights with Reel names (`vision.…`, `projector.…`, `decoder.…`; e.g. a checkpoint read in
    /// place by ReelConvert's `CheckpointWeights`) and normalised component configs.
    public init(weights: WeightProvider, architecture: String, vision visionConfig: JSON, projector: JSON,
                decoder dec: Decoder, maxImages: Int = 2) throws {
        config = try LlavaConfig(json: projector, architecture: architecture)
        decoder = dec
        vision = try VisionTower(weights: weights, config: visionConfig, prefix: "vision", maxImages: maxImages, pool: dec.pool)
        let ht = dec.config.hiddenSize
        let inDim = vision.config.hiddenSize * config.featureLayers.count
        var used: Set<String> = []
        linear1 = try Linear(weights, "projector.linear_1", out: ht, in: inDim, hasBias: config.projectorBias)
        linear2 = try Linear(weights, "projector.linear_2", out: ht, in: ht, hasBias: config.projectorBias)
        for l in ["linear_1", "linear_2"] {
            used.insert("projector.\(l).weight")
            if config.projectorBias { used.insert("projector.\(l).bias") }
        }
        linear1.prefillPath = .auto  // many rows per call, as the tower's (VisionTower.init)
        linear2.prefillPath = .auto
        let nl = try weights.weight("projector.image_newline")
        try nl.expect(shape: [ht])
        used.insert(nl.name)
        imageNewline = nl.toFloat()
        let unused = weights.weightNames.filter { $0.hasPrefix("projector.") && !used.contains($0) }
        guard unused.isEmpty else { throw VisionError.unusedWeights(unused.sorted()) }
        for l in config.featureLayers { _ = try vision.config.hiddenStateIndex(l) }
        // The placeholders must be tokens the decoder has (else no prompt can hold them: "0 placeholders" later).
        for (key, id) in [("image_token_index", config.imageTokenId), ("video_token_index", config.videoTokenId)]
        where !(0..<dec.config.vocabSize).contains(id) {
            throw VisionError.config(key: "projector.\(key)", message: "\(id) is outside the decoder's vocabulary [0, \(dec.config.vocabSize))")
        }
        if config.selectStrategy == "full" && vision.config.classToken && config.variant == .onevision {
            throw VisionError.config(key: "projector.vision_feature_select_strategy", message: "\"full\" keeps CLIP's class token, which the 2-D pooling cannot place")
        }
    }

    /// Feature tokens per image after selection: T, or T − 1 with the "default" strategy.
    public var selectedTokens: Int { vision.config.tokens - (config.selectStrategy == "default" ? 1 : 0) }
    /// Tokens per side of the selected grid.
    var grid: Int { vision.config.grid }
    var hidden: Int { decoder.config.hiddenSize }

    // MARK: token counts (what the processor expands each placeholder to)

    /// Feature tokens of one frame in a video.
    public var tokensPerFrame: Int {
        switch config.variant {
        case .onevision:
            let s = (grid + 1) / 2
            return s * s
        case .nextVideo:
            let s = EncoderOps.pooledSize(grid, kernel: config.poolStride, stride: config.poolStride)
            return s * s
        }
    }

    /// Feature tokens of a video of `frames` frames: F·ceil(g/2)² + 1 (OneVision), F·(g/stride)² (NeXT-Video).
    public func tokens(videoFrames frames: Int) -> Int {
        frames * tokensPerFrame + (config.variant == .onevision ? 1 : 0)
    }

    /// The anyres layout of an image of `size` (LLaVA-OneVision caps it at `anyres_max_N`; LLaVA-NeXT does not).
    public func anyresLayout(_ size: ImageSize) throws -> AnyresLayout {
        try AnyresLayout(size: size, pinpoints: config.gridPinpoints, grid: grid, tileSize: vision.config.imageSize,
                         maxPatches: config.variant == .onevision ? config.maxPatches : nil)
    }

    /// Feature tokens of an image: base + h'·(w' + 1) with anyres tiles, base + 1 for a base-only image.
    public func tokens(imageTiles tiles: Int, size: ImageSize) throws -> Int {
        if tiles == 1 { return selectedTokens + 1 }
        let l = try anyresLayout(size)
        return selectedTokens + l.outHeight * (l.outWidth + 1)
    }

    // MARK: features

    /// Encodes images with the tower and hands each batch's selected features to `body`: HF's
    /// `hidden_states[vision_feature_layer]` (a list concatenated along channels), CLS dropped for "default".
    /// - Parameter body: `(firstImage, count, selected f32 [count·T', Dv·layers])`.
    func selectedFeatures(_ pixels: UnsafePointer<Float>, images n: Int,
                          _ body: (Int, Int, Tensor) throws -> Void) throws {
        let dv = vision.config.hiddenSize, t = vision.config.tokens, ts = selectedTokens
        let layers = config.featureLayers, width = dv * layers.count
        let skip = t - ts
        try vision.forward(pixels: pixels, images: n, hiddenStates: layers) { first, b, states in
            let sel = Tensor(shape: [b * ts, width])
            for i in 0..<b {
                for r in 0..<ts {
                    for (j, s) in states.enumerated() {
                        (sel.data + (i * ts + r) * width + j * dv).update(from: s.data + (i * t + skip + r) * dv, count: dv)
                    }
                }
            }
            capture?("projector.selected", sel, first * ts)
            try body(first, b, sel)
            progress?(first + b, n)
        }
    }

    /// Mirrors `LlavaOnevisionMultiModalProjector.forward`: linear_2(act(linear_1(x))). f32 [n, in] → [n, Ht].
    func project(_ x: Tensor) throws -> Tensor {
        let h = Tensor(shape: [x.rows, hidden]), out = Tensor(shape: [x.rows, hidden])
        try linear1(x, into: h, pool: decoder.pool)
        config.projectorAct.apply(h.data, count: h.count, pool: decoder.pool)
        try linear2(h, into: out, pool: decoder.pool)
        return out
    }

    /// Video features for the decoder, f32 [tokens(videoFrames: F), Ht].
    /// - Parameters:
    ///   - pixels: f32 [F, 3, H, W] (`pixel_values_videos` of one video).
    ///   - frames: F.
    public func videoFeatures(pixels: [Float], frames: Int) throws -> Tensor {
        guard frames > 0, pixels.count == frames * vision.pixelsPerImage else {
            throw VisionError.badInput("\(pixels.count) pixel values are not \(frames) frame(s) of \(vision.pixelsPerImage) (3×\(vision.config.imageSize)×\(vision.config.imageSize))")
        }
        let ht = hidden, g = grid, per = tokensPerFrame
        let out = Tensor(shape: [tokens(videoFrames: frames), ht])
        try pixels.withUnsafeBufferPointer { px in
            try selectedFeatures(px.baseAddress!, images: frames) { first, b, sel in
                switch config.variant {
                case .onevision:
                    // video_features = self.multi_modal_projector(selected); then apply_pooling:
                    // [b, g, g, Ht] → F.interpolate(size=(ceil(g/2), ceil(g/2)), mode="bilinear") → [b, s², Ht]
                    guard selectedTokens == g * g else { throw VisionError.badInput("selected tokens \(selectedTokens) are not a \(g)×\(g) grid") }
                    let projected = try project(sel)
                    capture?("projector.projected", projected, first * g * g)
                    let s = (g + 1) / 2
                    let pooled = Tensor(shape: [b * per, ht])
                    for i in 0..<b {
                        EncoderOps.bilinear(projected.data + i * g * g * ht, height: g, width: g, channels: ht,
                                            outHeight: s, outWidth: s, into: pooled.data + i * per * ht)
                    }
                    capture?("projector.pooled", pooled, first * per)
                    (out.data + first * per * ht).update(from: pooled.data, count: b * per * ht)
                case .nextVideo:
                    // video_features = self.vision_resampler(selected) (Avg/MaxPool2d(stride)); then the projector
                    let d = sel.rowLength, gs = selectedTokens
                    guard gs == g * g else { throw VisionError.badInput("selected tokens \(gs) are not a \(g)×\(g) grid") }
                    let pooled = Tensor(shape: [b * per, d])
                    for i in 0..<b {
                        EncoderOps.pool2d(sel.data + i * gs * d, height: g, width: g, channels: d, kernel: config.poolStride,
                                          stride: config.poolStride, mode: config.poolMode == "max" ? .max : .average,
                                          into: pooled.data + i * per * d)
                    }
                    capture?("projector.pooled", pooled, first * per)
                    let projected = try project(pooled)
                    capture?("projector.projected", projected, first * per)
                    (out.data + first * per * ht).update(from: projected.data, count: b * per * ht)
                }
            }
        }
        // OneVision: torch.cat((video_features, image_newline), dim=1) — one newline after all frames
        if config.variant == .onevision {
            imageNewline.withUnsafeBufferPointer { out.row(frames * per).update(from: $0.baseAddress!, count: ht) }
        }
        capture?("video_features", out, 0)
        return out
    }

    /// Image features for the decoder, f32 [tokens(imageTiles:size:), Ht]. Mirrors `get_image_features` +
    /// `pack_image_features` of LLaVA-OneVision (and LLaVA-NeXT-Video, which has no size cap): every tile through
    /// the tower and projector; the base tile's tokens first; the other tiles arranged as one grid, unpadded to the
    /// image's aspect, shrunk when larger than `anyres_max_N` allows (OneVision), with `image_newline` after each row.
    /// A base-only image (OneVision's multi-image prompts) is the base tile plus one newline.
    /// - Parameters:
    ///   - pixels: f32 [tiles, 3, H, W] (`pixel_values` of one image: base first, then the tiles row-major).
    ///   - size: the original image's (H, W) (`image_sizes`).
    public func imageFeatures(pixels: [Float], tiles: Int, size: ImageSize) throws -> Tensor {
        let count = try tokens(imageTiles: tiles, size: size)
        guard tiles > 0, pixels.count == tiles * vision.pixelsPerImage else {
            throw VisionError.badInput("\(pixels.count) pixel values are not \(tiles) tile(s) of \(vision.pixelsPerImage)")
        }
        let layout = tiles > 1 ? try anyresLayout(size) : nil
        if let layout, layout.tiles != tiles {
            throw VisionError.badInput("an image of \(size.height)×\(size.width) has \(layout.tiles) tiles (base + \(layout.tilesHigh)×\(layout.tilesWide)), found \(tiles)")
        }
        let ht = hidden, ts = selectedTokens, g = grid
        // image_features = self.multi_modal_projector(selected) for every tile
        let projected = Tensor(shape: [tiles * ts, ht])
        try pixels.withUnsafeBufferPointer { px in
            try selectedFeatures(px.baseAddress!, images: tiles) { first, b, sel in
                let p = try project(sel)
                (projected.data + first * ts * ht).update(from: p.data, count: b * ts * ht)
            }
        }
        capture?("projector.projected", projected, 0)
        let out = Tensor(shape: [count, ht])
        out.data.update(from: projected.data, count: ts * ht)  // base_image_feature
        var row = ts
        func newline() {
            imageNewline.withUnsafeBufferPointer { out.row(row).update(from: $0.baseAddress!, count: ht) }
            row += 1
        }
        guard let l = layout else {
            newline()
            capture?("image_features", out, 0)
            return out
        }
        guard ts == g * g else { throw VisionError.badInput("selected tokens \(ts) are not a \(g)×\(g) grid") }
        // view(nh, nw, g, g, C).permute(4, 0, 2, 1, 3): one [nh·g, nw·g] grid (channel-last here), then unpad
        let gridW = l.width, gridH = l.height
        let cropped = Tensor(shape: [gridH * gridW, ht])
        for y in 0..<gridH {
            for x in 0..<gridW {
                let gy = l.top + y, gx = l.left + x
                let tile = 1 + (gy / g) * l.tilesWide + gx / g
                let src = projected.row(tile * ts + (gy % g) * g + gx % g)
                cropped.row(y * gridW + x).update(from: src, count: ht)
            }
        }
        var grid2 = cropped
        if l.outHeight != gridH || l.outWidth != gridW {
            grid2 = Tensor(shape: [l.outHeight * l.outWidth, ht])
            EncoderOps.bilinear(cropped.data, height: gridH, width: gridW, channels: ht, outHeight: l.outHeight,
                                outWidth: l.outWidth, into: grid2.data)
        }
        // torch.cat((image_feature, image_newline[:, None, None]), dim=-1).flatten(1, 2).transpose(0, 1)
        for y in 0..<l.outHeight {
            (out.row(row)).update(from: grid2.row(y * l.outWidth), count: l.outWidth * ht)
            row += l.outWidth
            newline()
        }
        capture?("image_features", out, 0)
        return out
    }

    // MARK: prompt

    /// Expands each placeholder token to the number of feature tokens its media needs, in order (as the processor does).
    /// - Parameters:
    ///   - ids: prompt ids with one `video_token_index` per video and one `image_token_index` per image.
    ///   - videoTokens, imageTokens: feature tokens per video / per image, in prompt order.
    public func expandPlaceholders(_ ids: [Int], videoTokens: [Int], imageTokens: [Int]) throws -> [Int] {
        let nv = ids.filter { $0 == config.videoTokenId }.count, ni = ids.filter { $0 == config.imageTokenId }.count
        guard nv == videoTokens.count, ni == imageTokens.count else {
            throw VisionError.placeholders("the prompt has \(nv) video and \(ni) image placeholder(s) for \(videoTokens.count) video(s) and \(imageTokens.count) image(s)")
        }
        var out: [Int] = []
        var v = 0, i = 0
        for t in ids {
            if t == config.videoTokenId {
                out += Array(repeating: t, count: videoTokens[v]); v += 1
            } else if t == config.imageTokenId {
                out += Array(repeating: t, count: imageTokens[i]); i += 1
            } else {
                out.append(t)
            }
        }
        return out
    }

    /// The decoder's input embeddings f32 [n·Ht]: token embeddings, with the video (image) token positions filled
    /// by the rows of `videoFeatures` (`imageFeatures`) in sequence order — HF's `masked_scatter`.
    public func inputEmbeddings(ids: [Int], videoFeatures: [Tensor] = [], imageFeatures: [Tensor] = []) throws -> [Float] {
        let ht = hidden
        var e = try decoder.embed(ids)
        for (token, feats, what) in [(config.videoTokenId, videoFeatures, "video"), (config.imageTokenId, imageFeatures, "image")] {
            let positions = ids.indices.filter { ids[$0] == token }
            let rows = feats.reduce(0) { $0 + $1.rows }
            guard positions.count == rows, feats.allSatisfy({ $0.rowLength == ht }) else {
                throw VisionError.placeholders("\(what) features and \(what) tokens do not match, tokens: \(positions.count), features: \(rows)")
            }
            var k = 0
            e.withUnsafeMutableBufferPointer { dst in
                for f in feats {
                    for r in 0..<f.rows {
                        (dst.baseAddress! + positions[k] * ht).update(from: f.row(r), count: ht)
                        k += 1
                    }
                }
            }
        }
        return e
    }
}
