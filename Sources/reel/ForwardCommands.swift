import ArgumentParser
import ReelConvert
import ReelCore
import ReelFormat
import ReelModels
import ReelRuntime
import ReelSafetensors

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one forward pass over tensors from a safetensors file and write the outputs to another.",
        discussion: """
        For diffing Reel against PyTorch without writing Swift (docs/cli.md, "forward"). Inputs use Hugging Face names:
          input_ids             int64 or int32, [1, S] or [S]
          attention_mask        optional; input_ids' shape, all ones (no padding)
          pixel_values_videos   LLaVA models: one video, or
          pixel_values + image_sizes   one image (the processor's outputs);
                                input_ids must hold the placeholders already
                                expanded, as in transformers
          input_features        Qwen2-Audio: [1, mels, frames] log-mel
                                features (+ feature_attention_mask [1, frames]);
                                input_ids holds the expanded <|AUDIO|> run
        Outputs (f32):
          logits                [S, vocab]
          hidden_states.{i}     [S, hidden] for i = 0…L, as transformers'
                                output_hidden_states: 0 is the embeddings,
                                i the output of layer i, L the final norm's
          video_features, image_features, audio_features   [tokens, hidden]
                                when pixels or features are given
        --all-stages adds every named intermediate: vision.hidden_states.{i}, projector.*, \
        layers.{i}.self_attn.q_proj, layers.{i}.mlp.act, …

        Example:
          python -c "import torch, safetensors.torch as s; s.save_file({'input_ids': torch.tensor([[1,5,9]])}, 'in.safetensors')"
          reel forward model.reel --inputs in.safetensors --outputs out.safetensors
        """)

    @Argument(help: "The .reel model.")
    var model: String

    @Option(help: "A safetensors file with the inputs.")
    var inputs: String

    @Option(help: "The safetensors file to write.")
    var outputs: String

    @Flag(help: "Write every named intermediate, not only logits and hidden states.")
    var allStages = false

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    @OptionGroup var load: ModelOptions

    func run() throws {
        try refuseOutputOverInputs(outputs, inputs: [inputs, model])
        let ids = try readInputIds(inputs)
        let file = try ReelFile(path: model)
        let pixels = try PixelInputs(path: inputs)
        if !pixels.media.isEmpty { return try runWithMedia(file, ids: ids, media: pixels.media) }
        if try SafetensorsFile(path: inputs).contains("input_features") { return try runWithAudio(ids: ids) }
        guard let c = file.component("decoder") else { throw GenerationError.notATextModel(path: model, architecture: file.architecture) }
        var opts = load.decoderOptions
        opts.contextLength = max(opts.contextLength ?? 0, ids.count)
        let decoder = try inFile(model) { try Decoder(weights: file, config: .object(c.config), options: opts) }
        try checkVocabulary(ids, vocabSize: decoder.config.vocabSize, path: inputs)
        let recorder = IntermediateRecorder { allStages || $0 == "logits" || $0.hasPrefix("hidden_states.") }
        decoder.capture = recorder.hook
        _ = try decoder.prefill(tokens: ids, logits: .all)
        var w = SafetensorsWriter(metadata: ["producer": "reel \(ReelVersion.string)", "model": model])
        for name in recorder.names {
            let s = recorder.tensors[name]!
            try w.add(name, float32: s.values, shape: [s.values.count / s.rowLength, s.rowLength])
        }
        try w.write(to: outputs, force: force)
        printErr("wrote \(recorder.names.count) tensors for \(ids.count) tokens to \(outputs)")
    }
}

extension Forward {
    /// Qwen2-Audio: `input_features` [1, mels, frames] (+ `feature_attention_mask` [1, frames]) through the audio tower
    /// and projector, spliced into the `<|AUDIO|>` run of `input_ids` (as the HF processor expands it), one prefill.
    func runWithAudio(ids: [Int]) throws {
        let st = try SafetensorsFile(path: inputs)
        let shape = try st.tensor("input_features").shape
        guard shape.count >= 2, shape.dropLast(2).allSatisfy({ $0 == 1 }) else {
            throw CLIError("\(inputs): input_features has shape \(shape); expected [mels, frames] or [1, mels, frames]")
        }
        let valid = try validFrames(st, frames: shape[shape.count - 1], path: inputs)
        var opts = load.decoderOptions
        opts.contextLength = max(opts.contextLength ?? 0, ids.count)
        let m = try AudioLanguageModel(path: model, options: opts)
        try checkVocabulary(ids, vocabSize: m.text.decoder.config.vocabSize, path: inputs)
        let stages = IntermediateRecorder { allStages || $0 == "audio_features" }
        m.capture = stages.hook
        let input = try m.prompt(ids: ids, audio: [[AudioWindow(features: try st.float32("input_features"), validFrames: valid)]])
        guard case let .embeddings(embeddings, tokens) = input else { return }
        let recorder = IntermediateRecorder { allStages || $0 == "logits" || $0.hasPrefix("hidden_states.") }
        m.text.decoder.capture = recorder.hook
        m.text.decoder.reset()
        _ = try m.text.decoder.prefill(embeddings: embeddings, logits: .all)
        var w = SafetensorsWriter(metadata: ["producer": "reel \(ReelVersion.string)", "model": model])
        for r in [stages, recorder] {
            for name in r.names {
                let s = r.tensors[name]!
                try w.add(name, float32: s.values, shape: [s.values.count / s.rowLength, s.rowLength])
            }
        }
        try w.write(to: outputs, force: force)
        printErr("wrote \(stages.names.count + recorder.names.count) tensors for \(tokens.count) tokens to \(outputs)")
    }

    /// LLaVA: features from the pixels, spliced into the embeddings of `ids` (placeholders expanded), one prefill.
    func runWithMedia(_ file: ReelFile, ids: [Int], media: [MediaInput]) throws {
        var opts = load.decoderOptions
        opts.contextLength = max(opts.contextLength ?? 0, ids.count)
        let m = try LlavaModel(file: file, options: opts)
        try checkVocabulary(ids, vocabSize: m.decoder.config.vocabSize, path: inputs)
        let stages = IntermediateRecorder { allStages || $0 == "video_features" || $0 == "image_features" }
        m.capture = stages.hook
        m.vision.capture = allStages ? stages.hook : nil
        var videos: [Tensor] = [], images: [Tensor] = []
        for x in media {
            switch x {
            case let .video(p, frames): videos.append(try m.videoFeatures(pixels: p, frames: frames))
            case let .image(p, tiles, size): images.append(try m.imageFeatures(pixels: p, tiles: tiles, size: size))
            }
        }
        let recorder = IntermediateRecorder { allStages || $0 == "logits" || $0.hasPrefix("hidden_states.") }
        m.decoder.capture = recorder.hook
        _ = try m.decoder.prefill(embeddings: try m.inputEmbeddings(ids: ids, videoFeatures: videos, imageFeatures: images), logits: .all)
        var w = SafetensorsWriter(metadata: ["producer": "reel \(ReelVersion.string)", "model": model])
        for (name, s) in stages.tensors.sorted(by: { $0.key < $1.key }) {
            try w.add(name, float32: s.values, shape: [s.values.count / s.rowLength, s.rowLength])
        }
        for name in recorder.names {
            let s = recorder.tensors[name]!
            try w.add(name, float32: s.values, shape: [s.values.count / s.rowLength, s.rowLength])
        }
        try w.write(to: outputs, force: force)
        printErr("wrote \(stages.tensors.count + recorder.names.count) tensors for \(ids.count) tokens to \(outputs)")
    }
}

/// `input_ids` from a safetensors file (int64 or int32, [1, S] or [S]); an `attention_mask` must be all ones.
/// Inputs with names Reel does not take are refused by name.
func readInputIds(_ path: String) throws -> [Int] {
    let f = try SafetensorsFile(path: path)
    let supported = ["input_ids", "attention_mask", "input_features", "feature_attention_mask"] + PixelInputs.names
    for name in f.names where !supported.contains(name) {
        throw CLIError("\(path): input \(name) is not supported by this model; supported inputs: \(supported.joined(separator: ", "))")
    }
    guard f.contains("input_ids") else { throw CLIError("\(path): no input_ids tensor") }
    return try tokenIds(f, path: path)
}

/// `input_ids` of `f`, read exactly: an integer dtype (I64 or I32 as transformers writes them; the other integer
/// widths too), one sequence, no negative id; float and bool ids are refused by dtype (through f32 they would lose
/// precision above 2^24 and NaN or ±inf have no id). An `attention_mask`, if present, has input_ids' shape and
/// holds only ones (one unpadded sequence).
func tokenIds(_ f: SafetensorsFile, path: String) throws -> [Int] {
    let t = try f.tensor("input_ids")
    guard t.shape.count == 1 || (t.shape.count == 2 && t.shape[0] == 1) else {
        throw CLIError("\(path): input_ids has shape \(t.shape); expected [S] or [1, S] (one sequence)")
    }
    guard let ids = try integerValues(f, "input_ids", path: path) else {
        throw CLIError("\(path): input_ids has dtype \(t.dtype); expected I64 or I32 (token ids are integers)")
    }
    guard !ids.isEmpty else { throw CLIError("\(path): input_ids is empty (shape \(t.shape)); give at least one token") }
    if let i = ids.firstIndex(where: { $0 < 0 }) {
        throw CLIError("\(path): input_ids holds \(ids[i]) at index \(i); token ids are non-negative")
    }
    if f.contains("attention_mask") {
        let m = try f.tensor("attention_mask")
        guard m.shape == t.shape else {
            throw CLIError("\(path): attention_mask has shape \(m.shape); expected input_ids' shape \(t.shape)")
        }
        let mask = try maskValues(f, "attention_mask", path: path)
        guard !mask.contains(false) else {
            throw CLIError("\(path): attention_mask has zeros; padded batches are not supported (pass one unpadded sequence)")
        }
    }
    return ids
}

/// Refuses an id outside the model's vocabulary naming the inputs file (the decoder's own error names only the id).
func checkVocabulary(_ ids: [Int], vocabSize: Int, path: String) throws {
    if let i = ids.firstIndex(where: { $0 < 0 || $0 >= vocabSize }) {
        throw CLIError("\(path): input_ids holds \(ids[i]) at index \(i), outside the model's vocabulary [0, \(vocabSize))")
    }
}

/// The elements of an integer tensor, exactly, as Int (I64, I32, I16, I8, U64, U32, U16, U8); nil for the float
/// and bool dtypes.
/// - Throws: `CLIError` naming the file, tensor and index of a U64 value above Int.max.
func integerValues(_ f: SafetensorsFile, _ name: String, path: String) throws -> [Int]? {
    let t = try f.tensor(name)
    let bytes = try f.rawBytes(of: t)
    func read<T: FixedWidthInteger>(_: T.Type) throws -> [Int] {
        let size = MemoryLayout<T>.size
        guard bytes.count == t.elementCount * size else {   // the header check makes this hold; never read past it
            throw CLIError("\(path): \(name) has \(bytes.count) bytes for \(t.elementCount) \(t.dtype) elements")
        }
        return try (0..<t.elementCount).map { i in
            let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * size, as: T.self))
            guard let x = Int(exactly: v) else { throw CLIError("\(path): \(name) holds \(v) at index \(i), beyond the Int range") }
            return x
        }
    }
    switch t.dtype {
    case .i64: return try read(Int64.self)
    case .i32: return try read(Int32.self)
    case .i16: return try read(Int16.self)
    case .i8: return try read(Int8.self)
    case .u64: return try read(UInt64.self)
    case .u32: return try read(UInt32.self)
    case .u16: return try read(UInt16.self)
    case .u8: return try read(UInt8.self)
    default: return nil
    }
}

/// A 0/1 mask (`attention_mask`, `feature_attention_mask`; any dtype Reel reads: int, bool or float) as Bools.
/// - Throws: `CLIError` naming the file, tensor and index of a value other than 0 or 1 (NaN included).
func maskValues(_ f: SafetensorsFile, _ name: String, path: String) throws -> [Bool] {
    if let v = try integerValues(f, name, path: path) {
        if let i = v.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw CLIError("\(path): \(name) holds \(v[i]) at index \(i); a mask holds only 0 and 1")
        }
        return v.map { $0 == 1 }
    }
    let v = try f.float32(name)   // bool and float masks
    if let i = v.firstIndex(where: { $0 != 0 && $0 != 1 }) {
        throw CLIError("\(path): \(name) holds \(v[i]) at index \(i); a mask holds only 0 and 1")
    }
    return v.map { $0 == 1 }
}

/// Qwen2-Audio's valid frame count: the ones of `feature_attention_mask` (one per frame, `[1, frames]` or
/// `[frames]`), or every frame without one.
func validFrames(_ f: SafetensorsFile, frames: Int, path: String) throws -> Int {
    guard f.contains("feature_attention_mask") else { return frames }
    let t = try f.tensor("feature_attention_mask")
    guard t.elementCount == frames, t.shape.dropLast().allSatisfy({ $0 == 1 }) else {
        throw CLIError("\(path): feature_attention_mask has shape \(t.shape); expected [1, \(frames)] (one per input_features frame)")
    }
    return try maskValues(f, "feature_attention_mask", path: path).filter { $0 }.count
}

struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a .reel file with the checkpoint it came from, stage by stage.",
        discussion: """
        Runs the source checkpoint's weights (f32/f16/bf16, in place from its safetensors) and the .reel file through \
        Reel's runtime on the same tokens, and prints for every hidden state and for the logits: max-abs and relative \
        error, cosine similarity, and for the logits the KL divergence of the next-token distributions and top-1 \
        agreement. Use it to see what quantisation costs; no Python needed. (For parity with PyTorch itself, see \
        `reel forward` and docs/cli.md, "forward".)

        Examples:
          reel parity ./Qwen2-0.5B-Instruct qwen2-q4.reel --prompt "The capital of France is"
          reel parity ./ckpt model.reel --input-ids 1,5,9,77 --json
        """)

    @Argument(help: "The checkpoint directory the file was converted from.")
    var checkpoint: String

    @Argument(help: "The .reel file.")
    var model: String

    @Option(help: "Text to run (through the model's chat template unless --raw).")
    var prompt: String?

    @Option(help: "Comma-separated token ids to run as they are.")
    var inputIds: String?

    @Flag(help: "Tokenize --prompt without the chat template.")
    var raw = false

    @Flag(help: "Print the reports as JSON.")
    var json = false

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "LLaVA models: processor outputs (pixel_values_videos, or pixel_values + image_sizes) run through both towers and aligners: vision.hidden_states.{i}, projector.* and video_/image_features are compared, then the decoder on the spliced prompt (--prompt gets one media part each; --input-ids must hold the expanded placeholders).")
    var pixels: String?

    func validate() throws {
        try ModelOptions.validate(threads: threads)
        if pixels != nil && audioInputs != nil {
            throw ValidationError("give one of --pixels (a LLaVA model's processor outputs) and --audio-inputs (a Qwen2-Audio model's features)")
        }
        if raw && (pixels != nil || audioInputs != nil) {
            throw ValidationError("--raw is for a text-only prompt: with --pixels or --audio-inputs the prompt goes through the chat template (or pass --input-ids with the placeholders expanded)")
        }
        if audioInputs != nil {
            guard prompt == nil || inputIds == nil else { throw ValidationError("give at most one of --prompt and --input-ids") }
        } else {
            guard (prompt == nil) != (inputIds == nil) else { throw ValidationError("give exactly one of --prompt and --input-ids") }
        }
        if let inputIds { _ = try parseIds(inputIds) }  // here, so a malformed list gets this command's usage
    }

    @Option(help: "Qwen2-Audio: a safetensors file with input_features [1, mels, frames] (+ feature_attention_mask, and input_ids with the <|AUDIO|> run expanded unless --prompt is given). The audio tower's hidden states, audio_features, then the decoder on the spliced prompt are compared.")
    var audioInputs: String?

    func run() throws {
        if let pixels { return try runWithMedia(pixels) }
        if let audioInputs { return try runWithAudio(audioInputs) }
        let file = try ReelFile(path: model)
        guard let c = file.component("decoder") else { throw GenerationError.notATextModel(path: model, architecture: file.architecture) }
        let ids: [Int]
        if let inputIds {
            ids = try parseIds(inputIds)
        } else {
            let m = try TextModel(path: model, options: DecoderOptions(contextLength: 1, threads: threads))
            ids = raw ? m.tokenizer.encode(prompt!, addSpecialTokens: true) : try m.promptIds(messages: TextModel.messages(system: nil, user: prompt!))
        }
        let source = try CheckpointWeights(directory: checkpoint)
        try sameArchitecture(source, file)
        guard let refConfig = source.componentConfig("decoder") else {
            throw GenerationError.notATextModel(path: checkpoint, architecture: source.spec.architecture)
        }
        let opts = DecoderOptions(contextLength: ids.count, threads: threads)
        func stages(_ d: Decoder) throws -> IntermediateRecorder {
            let r = IntermediateRecorder { $0 == "logits" || $0.hasPrefix("hidden_states.") }
            d.capture = r.hook
            _ = try d.prefill(tokens: ids, logits: .all)
            return r
        }
        let reference = try stages(try Decoder(weights: source, config: refConfig, options: opts))
        let actual = try stages(try inFile(model) { try Decoder(weights: file, config: .object(c.config), options: opts) })
        var reports: [ParityReport] = []
        for name in reference.names {
            guard let a = actual.tensors[name], let r = reference.tensors[name] else { continue }
            reports.append(try ParityReport(name: name, reference: r.values, actual: a.values, rowLength: r.rowLength))
        }
        show(reports, tokens: ids.count)
    }

    /// Prints the reports as a table (or JSON with --json).
    func show(_ reports: [ParityReport], tokens: Int) {
        if json {
            let j = JSON.array(reports.map { p in
                ["stage": .string(p.name), "max_abs": .double(p.maxAbs), "relative": .double(p.relative), "cosine": .double(p.cosine),
                 "kl_divergence": p.name == "logits" ? .double(p.klDivergence) : .null,
                 "top1_agreement": p.name == "logits" ? .double(p.top1Agreement) : .null]
            })
            print(JSON.object(JSONObject([("tokens", .int(Int64(tokens))), ("stages", j)])).serialized(pretty: true))
            return
        }
        print("\(model) vs \(checkpoint) on \(tokens) tokens")
        let w = max(18, reports.map(\.name.count).max() ?? 0)
        print("\(pad("stage", w)) \(rpad("max-abs", 11)) \(rpad("relative", 11)) \(rpad("cosine", 10)) \(rpad("KL", 11)) \(rpad("top-1", 7))")
        for p in reports {
            let logits = p.name == "logits"
            print("\(pad(p.name, w)) \(rpad(sci(p.maxAbs), 11)) \(rpad(sci(p.relative), 11)) \(rpad(fixed(p.cosine, 6), 10)) \(rpad(logits ? sci(p.klDivergence) : "", 11)) \(rpad(logits ? fixed(p.top1Agreement * 100, 1) + "%" : "", 7))")
        }
    }
}

extension Parity {
    /// Parity compares a file with the checkpoint it was converted from: a checkpoint of another architecture is
    /// refused by name (it gave a stage mismatch deep inside, or, for two LLaVA variants, exit 0 with no warning).
    func sameArchitecture(_ source: CheckpointWeights, _ file: ReelFile) throws {
        let a = source.spec.architecture, b = file.architecture
        guard a == b else {
            throw CLIError("\(checkpoint) is a \(a) checkpoint but \(model) holds \(b): parity compares a .reel file with the checkpoint it was converted from")
        }
    }

    /// Vision, aligner and decoder stages of a LLaVA model: checkpoint vs .reel on the same pixels and prompt.
    func runWithMedia(_ path: String) throws {
        let inputs = try PixelInputs(path: path)
        let file = try ReelFile(path: model)
        let source = try CheckpointWeights(directory: checkpoint)
        try sameArchitecture(source, file)
        var ids: [Int]
        var order: [String] = []      // stage names in pipeline order (as first recorded)
        var expand = inputIds == nil  // the first model expands the rendered prompt's placeholders for both
        if let inputIds {
            ids = try parseIds(inputIds)
        } else {
            let m = try TextModel(path: model, options: DecoderOptions(contextLength: 1, threads: threads))
            ids = try m.promptIds(messages: VisionLanguageModel.messages(system: nil, user: prompt!, videos: inputs.videos, images: inputs.images))
        }
        func stages(_ w: WeightProvider, architecture: String, config: (String) -> JSON?) throws -> (IntermediateRecorder, IntermediateRecorder?, Int) {
            guard let v = config("vision"), let p = config("projector"), let d = config("decoder") else {
                throw CLIError("\(model): architecture \(architecture) has no vision tower, projector and decoder (--pixels is for LLaVA models)")
            }
            let decoder = try Decoder(weights: w, config: d, options: DecoderOptions(threads: threads))
            let m = try LlavaModel(weights: w, architecture: architecture, vision: v, projector: p, decoder: decoder)
            if expand {
                expand = false
                var vt: [Int] = [], it: [Int] = []
                for x in inputs.media {
                    switch x {
                    case let .video(_, f): vt.append(m.tokens(videoFrames: f))
                    case let .image(_, n, size): it.append(try m.tokens(imageTiles: n, size: size))
                    }
                }
                ids = try m.expandPlaceholders(ids, videoTokens: vt, imageTokens: it)
            }
            let rec = IntermediateRecorder()
            let hook = rec.hook
            m.capture = { name, t, row in
                if rec.tensors[name] == nil && !order.contains(name) { order.append(name) }
                hook(name, t, row)
            }
            m.vision.capture = m.capture
            var videos: [Tensor] = [], images: [Tensor] = []
            for x in inputs.media {
                switch x {
                case let .video(px, f): videos.append(try m.videoFeatures(pixels: px, frames: f))
                case let .image(px, n, size): images.append(try m.imageFeatures(pixels: px, tiles: n, size: size))
                }
            }
            let lm = IntermediateRecorder { $0 == "logits" || $0.hasPrefix("hidden_states.") }
            decoder.capture = lm.hook
            _ = try decoder.prefill(embeddings: try m.inputEmbeddings(ids: ids, videoFeatures: videos, imageFeatures: images), logits: .all)
            return (rec, lm, m.decoder.config.vocabSize)
        }
        let (rv, rl, _) = try stages(source, architecture: source.spec.architecture, config: source.componentConfig)
        let (av, al, _) = try stages(file, architecture: file.architecture) { file.component($0).map { .object($0.config) } }
        var reports: [ParityReport] = []
        for name in order {
            guard let r = rv.tensors[name], let a = av.tensors[name] else { continue }
            reports.append(try ParityReport(name: name, reference: r.values, actual: a.values, rowLength: r.rowLength))
        }
        if let rl, let al {
            for name in rl.names {
                guard let a = al.tensors[name], let r = rl.tensors[name] else { continue }
                reports.append(try ParityReport(name: name, reference: r.values, actual: a.values, rowLength: r.rowLength))
            }
        }
        show(reports, tokens: ids.count)
    }
}

extension Parity {
    /// Qwen2-Audio: the audio tower and projector, then the decoder on the spliced prompt, checkpoint vs .reel.
    func runWithAudio(_ path: String) throws {
        let st = try SafetensorsFile(path: path)
        guard st.contains("input_features") else { throw CLIError("\(path): no input_features tensor") }
        let features = try st.float32("input_features")
        let valid = try validFrames(st, frames: try st.tensor("input_features").shape.last ?? 0, path: path)
        let file = try ReelFile(path: model)
        guard let audio = file.component("audio"), let projector = file.component("projector"), let decoder = file.component("decoder"),
              let audioToken = projector.config["audio_token_index"]?.int else {
            throw CLIError("\(model): architecture \(file.architecture) has no audio tower, projector and decoder (audio inputs are for Qwen2-Audio models)")
        }
        let ids: [Int]
        if let inputIds {
            ids = try parseIds(inputIds)
        } else if let prompt {
            let m = try AudioLanguageModel(path: model, options: DecoderOptions(contextLength: 1, threads: threads))
            guard case let .embeddings(_, tokens) = try m.prompt(text: prompt, audio: [AudioWindow(features: features, validFrames: valid)]) else { return }
            ids = tokens
        } else if st.contains("input_ids") {
            ids = try tokenIds(st, path: path)
        } else {
            throw CLIError("give --prompt, --input-ids, or input_ids in \(path)")
        }
        let source = try CheckpointWeights(directory: checkpoint)
        try sameArchitecture(source, file)
        func stages(_ w: WeightProvider, audio: JSON, decoder: JSON) throws -> IntermediateRecorder {
            let dec = try Decoder(weights: w, config: decoder, options: DecoderOptions(contextLength: ids.count, threads: threads))
            let tower = try Qwen2AudioTower(weights: w, audioConfig: audio, hidden: dec.config.hiddenSize, pool: dec.pool)
            let rec = IntermediateRecorder { $0.hasPrefix("audio.hidden_states.") || $0 == "audio_features" || $0 == "logits" || $0.hasPrefix("hidden_states.") }
            tower.capture = rec.hook
            dec.capture = rec.hook
            let feats = try tower.audioFeatures(features: features, validFrames: valid)
            // Splice the features into the <|AUDIO|> positions, in order (Qwen2-Audio's masked_scatter).
            let H = dec.config.hiddenSize
            var emb = try dec.embed(ids)
            let at = ids.indices.filter { ids[$0] == audioToken }
            guard at.count * H == feats.count else {
                throw CLIError("\(at.count) <|AUDIO|> tokens in the prompt but \(feats.count / H) audio feature rows")
            }
            for (r, p) in at.enumerated() { emb.replaceSubrange((p * H)..<((p + 1) * H), with: feats[(r * H)..<((r + 1) * H)]) }
            _ = try dec.prefill(embeddings: emb, logits: .all)
            return rec
        }
        guard let ra = source.componentConfig("audio"), let rd = source.componentConfig("decoder") else {
            throw CLIError("\(checkpoint): architecture \(source.spec.architecture) has no audio tower and decoder (--audio-inputs is for Qwen2-Audio checkpoints)")
        }
        let reference = try stages(source, audio: ra, decoder: rd)
        let actual = try stages(file, audio: .object(audio.config), decoder: .object(decoder.config))
        var reports: [ParityReport] = []
        for name in reference.names {
            guard let r = reference.tensors[name], let a = actual.tensors[name] else { continue }
            reports.append(try ParityReport(name: name, reference: r.values, actual: a.values, rowLength: r.rowLength))
        }
        show(reports, tokens: ids.count)
    }
}

/// 1.23e-04
func sci(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return "\(x)" }
    var e = 0
    var m = abs(x)
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    return (x < 0 ? "-" : "") + fixed(m, 2) + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + "\(abs(e))"
}
