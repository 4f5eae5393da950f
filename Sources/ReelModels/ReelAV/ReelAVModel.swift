import ReelCore
import ReelFormat
import ReelMedia
import ReelRuntime

/// The model inputs of one clip, made by the media path of formats/REEL-AV.md §4.
public struct ReelAVClip: Sendable {
    public let path: String
    /// Segment start times in seconds (§4.2).
    public let segmentStarts: [Double]
    /// The decoded frame used for each (segment, frame), §4.2.
    public let frameIndices: [Int]
    /// f32 [segments·F, 3, S, S] (`pixel_values`), §4.3.
    public let pixelValues: [Float]
    /// f32 [segments, mels, 2·P] (`input_features`), §4.4; nil when the clip is run without audio.
    public let inputFeatures: [Float]?
    /// Why there is no audio when `inputFeatures` is nil and audio was asked for (e.g. "no audio stream").
    public let audioNote: String?
    /// Seconds spent decoding and preprocessing frames, and decoding audio + log-mel.
    public let frameSeconds: Double
    public let audioSeconds: Double

    public var segments: Int { segmentStarts.count }
    public var hasAudio: Bool { inputFeatures != nil }
}

/// Figures of the last `prompt` call, for the CLI's timings line.
public struct ReelAVTimings: Sendable {
    public var framesEncoded = 0
    public var visionSeconds = 0.0
    public var audioWindows = 0
    public var audioSeconds = 0.0
    public var framesPerSecond: Double { visionSeconds > 0 ? Double(framesEncoded) / visionSeconds : 0 }
}

/// A Reel AV `.reel` file opened for questions about clips (formats/REEL-AV.md): SigLIP tower + projector + 2×2
/// bilinear pooling (§5.1), the Qwen2-Audio tower without a mask + AvgPool1d + layer_norm + `audio_projector` (§5.2),
/// and a Qwen2 decoder fed the segment-interleaved embeddings (§3, §5.3). Mirrors
/// `ReelAVForConditionalGeneration` of tools/reel_av/model.py; the media path mirrors tools/reel_av/data.py.
public final class ReelAVModel {
    public let text: TextModel
    public let layout: ReelAVLayout
    public let vision: VisionTower
    /// nil when the file has no audio tower.
    public let audio: WhisperEncoderModel?
    public let imageProcessor: ImageProcessor
    public let featureExtractor: WhisperFeatureExtractor
    /// Receives `vision.*`, `projector.projected`, `vision_features`, `audio.*`, `audio_features`.
    public var capture: CaptureHook? {
        didSet {
            vision.capture = capture
            audio?.capture = capture
        }
    }
    /// Figures of the last `prompt` call.
    public private(set) var timings = ReelAVTimings()

    let featureLayer: Int
    let projectorAct: Activation
    let linear1: Linear          // any [Ht, Dv] (+ bias [Ht])
    let linear2: Linear          // any [Ht, Ht] (+ bias [Ht])
    let audioProjector: Linear?  // any [Ht, Da] + bias [Ht]

    /// Opens a `reel_av` file.
    /// - Parameters:
    ///   - options: the decoder's context length, KV cache storage and threads (shared with the encoders).
    ///   - maxImages: frames encoded per batch.
    public convenience init(path: String, options: DecoderOptions = DecoderOptions(), maxImages: Int = 4) throws {
        let text = try TextModel(path: path, options: options)
        // Errors of the towers, processors and layout name the file (`naming`), as TextModel's do.
        do { try self.init(text: text, maxImages: maxImages) } catch { throw naming(path, error) }
    }

    private init(text: TextModel, maxImages: Int) throws {
        let file = text.file, path = file.path
        guard file.architecture == ReelAVFamily.name else { throw ReelAVError.notReelAV(path: path, architecture: file.architecture) }
        guard let v = file.component("vision"), let p = file.component("projector") else {
            throw ReelAVError.config(path: path, key: "components", message: "a reel_av file has vision and projector components; this one has \(file.components.map(\.name))")
        }
        self.text = text
        layout = try ReelAVLayout(projectorConfig: p.config, source: path)
        let vocab = text.decoder.config.vocabSize
        for (key, id) in [("video_token_index", layout.videoToken), ("frame_token_index", layout.frameToken),
                          ("audio_token_index", layout.audioToken)] where id >= vocab {
            throw ReelAVError.config(path: path, key: "projector." + key, message: "\(id) is outside the vocabulary [0, \(vocab))")
        }
        let pool = text.decoder.pool
        vision = try VisionTower(weights: file, config: .object(v.config), prefix: "vision", maxImages: maxImages, pool: pool)
        featureLayer = p.config["vision_feature_layer"]?.int ?? -1
        _ = try vision.config.hiddenStateIndex(featureLayer)
        guard (p.config["vision_feature_select_strategy"]?.string ?? "full") == "full" else {
            throw ReelAVError.config(path: path, key: "projector.vision_feature_select_strategy", message: "only \"full\" is defined for reel_av")
        }
        projectorAct = try Activation(hfName: p.config["projector_hidden_act"]?.string ?? "gelu")
        let bias = p.config["multimodal_projector_bias"]?.bool ?? true
        let ht = text.decoder.config.hiddenSize, dv = vision.config.hiddenSize
        linear1 = try Linear(file, "projector.linear_1", out: ht, in: dv, hasBias: bias)
        linear2 = try Linear(file, "projector.linear_2", out: ht, in: ht, hasBias: bias)
        let pooled = (vision.config.grid + 1) / 2
        let expectTv = (p.config["vision_pooling"]?.string ?? "bilinear_2x2") == "none" ? vision.config.grid * vision.config.grid : pooled * pooled
        guard vision.config.tokens == vision.config.grid * vision.config.grid, layout.visionTokensPerFrame == expectTv else {
            throw ReelAVError.config(path: path, key: "projector.vision_tokens_per_frame",
                                     message: "\(layout.visionTokensPerFrame) does not match the tower's \(vision.config.grid)×\(vision.config.grid) grid")
        }
        if let a = file.component("audio") {
            let enc = try WhisperEncoderModel(weights: file, config: .object(a.config), prefix: "audio", pool: pool)
            guard enc.config.maxSourcePositions / 2 == layout.audioTokensPerSegment else {
                throw ReelAVError.config(path: path, key: "projector.audio_tokens_per_segment",
                                         message: "\(layout.audioTokensPerSegment), the audio tower gives \(enc.config.maxSourcePositions / 2)")
            }
            audio = enc
            audioProjector = try Linear(file, "audio_projector.linear", out: ht, in: enc.config.dModel, hasBias: true)
        } else {
            audio = nil
            audioProjector = nil
        }
        // Strict loading: every aligner tensor is used (the towers and the decoder check their own).
        var used: Set<String> = ["projector.linear_1.weight", "projector.linear_2.weight"]
        if bias { used.formUnion(["projector.linear_1.bias", "projector.linear_2.bias"]) }
        if audio != nil { used.formUnion(["audio_projector.linear.weight", "audio_projector.linear.bias"]) }
        let unused = file.weightNames.filter { ($0.hasPrefix("projector.") || $0.hasPrefix("audio_projector.")) && !used.contains($0) }
        guard unused.isEmpty else { throw ReelAVError.unusedWeights(path: path, names: unused.sorted()) }

        // Preprocessing from the file's own preprocessor_config.json (§1, §4.3–4.4).
        guard let pre = file.metadata["preprocessors"]?["preprocessor_config.json"] else {
            throw ReelAVError.config(path: path, key: "preprocessors.preprocessor_config.json",
                                     message: "missing: reconvert from a checkpoint directory that has preprocessor_config.json")
        }
        imageProcessor = try Self.frameProcessor(pre, side: vision.config.imageSize, path: path)
        featureExtractor = try WhisperFeatureExtractor(json: pre)
        if let enc = audio {
            if let problem = enc.config.windowProblem(melBins: featureExtractor.melBins, frames: featureExtractor.frames) {
                throw ReelAVError.config(path: path, key: "preprocessor_config.json chunk_length/feature_size", message: problem)
            }
            let windowSeconds = Double(featureExtractor.chunkLength)
            guard abs(windowSeconds - layout.segmentSeconds) < 1e-9 else {
                throw ReelAVError.config(path: path, key: "preprocessor_config.json chunk_length",
                                         message: "\(featureExtractor.chunkLength) s, but segment_seconds is \(layout.segmentSeconds)")
            }
        }
    }

    /// §4.3 as an `ImageProcessor`: exact S×S bicubic antialiased resize on uint8, then (x − 255·mean)/(255·std).
    /// The Reel AV config names the filter ("bicubic"); ImageProcessor takes PIL's code (3).
    static func frameProcessor(_ pre: JSON, side: Int, path: String) throws -> ImageProcessor {
        let s = pre["size"]
        let h = s?["height"]?.int ?? side, w = s?["width"]?.int ?? side
        guard h == side, w == side else {
            throw ReelAVError.config(path: path, key: "preprocessor_config.json size", message: "\(h)×\(w), the vision tower takes \(side)×\(side)")
        }
        let resample = pre["resample"]
        guard resample == nil || resample!.isNull || resample!.string == "bicubic" || resample!.int == 3 else {
            throw ReelAVError.config(path: path, key: "preprocessor_config.json resample", message: "\(resample!.serialized()); reel_av uses bicubic")
        }
        let json: JSON = ["do_resize": true, "size": ["height": .int(Int64(side)), "width": .int(Int64(side))], "resample": 3,
                          "do_rescale": true, "rescale_factor": .double(1.0 / 255.0), "do_normalize": true,
                          "image_mean": pre["image_mean"] ?? [0.5, 0.5, 0.5], "image_std": pre["image_std"] ?? [0.5, 0.5, 0.5]]
        return try ImageProcessor(json: json)
    }

    var hidden: Int { text.decoder.config.hiddenSize }

    // MARK: media (§4)

    /// Clips up to this many bytes of rgb24 (8 s of 720p, 2 min of the demo's 64×64) stream whole through one ffmpeg.
    static let decodeWholeClipBytes = 64 << 20

    /// Decodes a clip and makes its model inputs: frames at the §4.2 indices (ffmpeg), preprocessed as
    /// §4.3; with `audio` (and an audio tower and an audio stream), one log-mel window per segment (§4.4).
    public func clipInputs(videoPath: String, audio wantAudio: Bool) throws -> ReelAVClip {
        let t0 = ProgressBar.now()
        // §4.1: the plain ffmpeg decode (default swscale), as the training data was decoded. Opening a reader
        // probes the file; decoding starts at the first frame read.
        var reader = try VideoReader(path: videoPath, sampling: .all, conversion: .ffmpegDefault)
        defer { reader.close() }
        let info = reader.info
        guard let v = info.video else { throw MediaError.noVideoStream(path: videoPath) }
        guard let fps = v.frameRate, v.frameCount > 0 else {
            throw ReelAVError.media(path: videoPath, message: "the video stream has no frame rate or no frames")
        }
        guard fps.isFinite, fps > 0, (Double(v.frameCount) / fps).isFinite else {
            throw ReelAVError.media(path: videoPath, message: "frame rate \(fps) with \(v.frameCount) frames gives no finite duration")
        }
        let starts = layout.segmentStarts(frameCount: v.frameCount, fps: fps)
        // The prompt holds every placeholder of the clip: refuse a clip that cannot fit before decoding it.
        let placeholders = layout.placeholderCount(segments: starts.count, audio: wantAudio && audio != nil && info.hasAudio)
        guard placeholders <= text.decoder.cache.capacity else {
            throw ReelAVError.media(path: videoPath, message: "\(starts.count) segment(s) need \(placeholders) prompt placeholders, more than the context of \(text.decoder.cache.capacity) positions")
        }
        let indices = layout.frameIndices(frameCount: v.frameCount, fps: fps)
        let wanted = Set(indices)
        // A short clip is cheaper to stream whole than to probe again; a long one decodes only the sampled frames
        // (ffmpeg's select filter). Both give the same bytes. (In Double: the header's sizes may be anything.)
        if Double(v.frameCount) * Double(v.width) * Double(v.height) * 3 > Double(Self.decodeWholeClipBytes) {
            reader.close()
            reader = try VideoReader(path: videoPath, sampling: .explicit(indices), conversion: .ffmpegDefault)
        }
        // Each distinct index is decoded once, then frames are laid out in (segment, frame) order.
        var byIndex: [Int: [Float]] = [:]
        let side = vision.config.imageSize
        while let frame = try reader.next() {
            guard wanted.contains(frame.index) else { continue }
            let p = try imageProcessor.process(frame)
            guard p.height == side, p.width == side else {
                throw ReelAVError.media(path: videoPath, message: "frames process to \(p.width)×\(p.height), the tower takes \(side)×\(side)")
            }
            byIndex[frame.index] = p.pixels
            if byIndex.count == wanted.count { break }
        }
        var pixels: [Float] = []
        pixels.reserveCapacity(indices.count * vision.pixelsPerImage)
        for i in indices {
            guard let f = byIndex[min(i, v.frameCount - 1)] else {
                throw ReelAVError.media(path: videoPath, message: "frame \(i) was not decoded (the stream has fewer frames than its header says)")
            }
            pixels += f
        }
        let t1 = ProgressBar.now()
        var features: [Float]? = nil
        var note: String? = nil
        if wantAudio {
            if self.audio == nil {
                note = "the model has no audio tower"
            } else if !info.hasAudio {
                note = "the clip has no audio stream"
            } else {
                let samples = try AudioReader.read(videoPath)
                var out: [Float] = []
                for s in starts {
                    let w = layout.audioWindow(samples, start: s, sampleRate: WhisperFeatureExtractor.sampleRate,
                                               windowSamples: featureExtractor.chunkSamples)
                    out += featureExtractor.features(w).values
                }
                features = out
            }
        }
        return ReelAVClip(path: videoPath, segmentStarts: starts, frameIndices: indices, pixelValues: pixels,
                          inputFeatures: features, audioNote: note, frameSeconds: t1 - t0, audioSeconds: ProgressBar.now() - t1)
    }

    // MARK: encoders (§5.1, §5.2)

    /// Vision features f32 [frames·Tv, Ht] in (frame, token) order. Mirrors `vision_features`: SigLIP
    /// `hidden_states[vision_feature_layer]` (before post_layernorm) → linear_2(gelu(linear_1(·))) → bilinear to
    /// ⌈G/2⌉×⌈G/2⌉ (LLaVA-OneVision's `apply_pooling`).
    public func visionFeatures(pixels: [Float], frames: Int) throws -> [Float] {
        guard frames > 0, pixels.count == frames * vision.pixelsPerImage else {
            throw ReelAVError.inputShape(name: "pixel_values", expected: [frames, 3, vision.config.imageSize, vision.config.imageSize], count: pixels.count)
        }
        let ht = hidden, g = vision.config.grid, tv = layout.visionTokensPerFrame
        let pooling = tv != g * g
        var out = [Float](repeating: 0, count: frames * tv * ht)
        try pixels.withUnsafeBufferPointer { px in
            try vision.forward(pixels: px.baseAddress!, images: frames, hiddenStates: [featureLayer]) { first, b, states in
                // x = multi_modal_projector(hs[-1])   [b·G², Ht]
                let x = states[0]
                let h = Tensor(shape: [x.rows, ht]), projected = Tensor(shape: [x.rows, ht])
                try linear1(x, into: h, pool: text.decoder.pool)
                projectorAct.apply(h.data, count: h.count)
                try linear2(h, into: projected, pool: text.decoder.pool)
                capture?("projector.projected", projected, first * g * g)
                // F.interpolate(size=(⌈G/2⌉, ⌈G/2⌉), mode="bilinear") per frame   [b·Tv, Ht]
                let pooled = Tensor(shape: [b * tv, ht])
                for i in 0..<b {
                    if pooling {
                        EncoderOps.bilinear(projected.data + i * g * g * ht, height: g, width: g, channels: ht,
                                            outHeight: (g + 1) / 2, outWidth: (g + 1) / 2, into: pooled.data + i * tv * ht)
                    } else {
                        (pooled.data + i * tv * ht).update(from: projected.data + i * g * g * ht, count: tv * ht)
                    }
                }
                capture?("vision_features", pooled, first * tv)
                out.withUnsafeMutableBufferPointer { o in
                    (o.baseAddress! + first * tv * ht).update(from: pooled.data, count: b * tv * ht)
                }
            }
        }
        return out
    }

    /// Audio features f32 [segments·Ta, Ht] in (segment, token) order. Mirrors `audio_features`: Qwen2-Audio's tower
    /// with every position valid (no mask) → AvgPool1d(2, 2) → layer_norm → `audio_projector.linear`.
    /// - Parameter inputFeatures: f32 [segments, mels, 2·P].
    public func audioFeatures(inputFeatures: [Float], segments: Int) throws -> [Float] {
        guard let enc = audio, let projector = audioProjector else { throw ReelAVError.noAudioTower(path: text.file.path) }
        let c = enc.config, per = c.melBins * c.frames, ta = layout.audioTokensPerSegment, ht = hidden
        guard segments > 0, inputFeatures.count == segments * per else {
            throw ReelAVError.inputShape(name: "input_features", expected: [segments, c.melBins, c.frames], count: inputFeatures.count)
        }
        var out: [Float] = []
        out.reserveCapacity(segments * ta * ht)
        for k in 0..<segments {
            // hidden = audio_tower layers over all P positions (no padding mask)   [P, Da]
            let h = try enc.layerStack(features: Array(inputFeatures[(k * per)..<((k + 1) * per)]), positions: c.maxSourcePositions)
            // avg_pooler, then layer_norm   [Ta, Da]
            let pooled = Tensor(shape: [ta, c.dModel])
            AudioOps.avgPool2(h.data, length: 2 * ta, dim: c.dModel, into: pooled.data)
            try enc.finalLayerNorm(pooled)
            capture?("audio.last_hidden_state", pooled, k * ta)
            // audio_projector.linear   [Ta, Ht]
            let y = Tensor(shape: [ta, ht])
            try projector(pooled, into: y, pool: enc.pool)
            capture?("audio_features", y, k * ta)
            out += y.toArray()
        }
        return out
    }

    // MARK: prompt (§3)

    /// The chat-template prompt ids of one question about one clip: a user turn `[{"type": "video"}, {"type": "text"}]`
    /// (one `<video>` id), after an optional system turn, then the generation prompt.
    public func promptIds(question: String, system: String? = nil) throws -> [Int] {
        var m: [JSON] = []
        if let system { m.append(["role": "system", "content": .string(system)]) }
        m.append(["role": "user", "content": [["type": "video"], ["type": "text", "text": .string(question)]]])
        return try text.promptIds(messages: m)
    }

    /// Expands the one `<video>` of `ids` for `clip` (with audio when the clip has it), encodes the clip and splices
    /// the features into the token embeddings.
    public func prompt(ids: [Int], clip: ReelAVClip) throws -> PromptInput {
        let expanded = try layout.expand(ids, segments: clip.segments, audio: clip.hasAudio)
        // Refuse a prompt the context cannot hold before encoding the clip and embedding every token (a 10 MB
        // question made 1 GB of embeddings first).
        try text.decoder.cache.reserve(expanded.count)
        var t = ReelAVTimings()
        var start = ProgressBar.now()
        let v = try visionFeatures(pixels: clip.pixelValues, frames: clip.frameIndices.count)
        t.framesEncoded = clip.frameIndices.count
        t.visionSeconds = ProgressBar.now() - start
        var a: [Float] = []
        if let f = clip.inputFeatures {
            start = ProgressBar.now()
            a = try audioFeatures(inputFeatures: f, segments: clip.segments)
            t.audioWindows = clip.segments
            t.audioSeconds = ProgressBar.now() - start
        }
        timings = t
        var e = try text.decoder.embed(expanded)
        try layout.splice(into: &e, ids: expanded, hidden: hidden, vision: v, audio: a)
        return .embeddings(e, tokens: expanded)
    }

    /// The prompt of one question about one clip.
    public func prompt(question: String, system: String? = nil, clip: ReelAVClip) throws -> PromptInput {
        try prompt(ids: try promptIds(question: question, system: system), clip: clip)
    }

    /// Generates from a prompt built by `prompt(…)` after resetting the decoder.
    public func generate(_ input: PromptInput, options: GenerationOptions, onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        text.decoder.reset()
        return try text.generate(input, options: options, onText: onText)
    }
}
