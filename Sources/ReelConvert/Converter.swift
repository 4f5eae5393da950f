import ReelCore
import ReelFormat
import ReelMedia
import ReelModels
import ReelQuant
import ReelSafetensors
import ReelTokenizer

/// What `reel convert` was asked to do.
public struct ConvertOptions: Sendable {
    /// Destination .reel path.
    public var output: String
    /// The body encoding; nil keeps the checkpoint's own float type (lossless).
    public var quant: Encoding?
    /// `--keep PATTERN=ENCODING` overrides, first match wins.
    public var overrides: [QuantPolicy.Override]
    /// Replace an existing output.
    public var force: Bool
    /// Store every tensor under its checkpoint name, for architectures Reel does not know.
    public var generic: Bool
    /// No progress bar.
    public var quiet: Bool

    public init(output: String, quant: Encoding? = nil, overrides: [QuantPolicy.Override] = [], force: Bool = false,
                generic: Bool = false, quiet: Bool = false) {
        self.output = output
        self.quant = quant
        self.overrides = overrides
        self.force = force
        self.generic = generic
        self.quiet = quiet
    }
}

/// What a conversion produced: the one-screen summary `reel convert` prints.
public struct ConvertSummary: Sendable {
    public let output: String
    public let architecture: String
    public let tensorCount: Int
    public let parameterCount: Int
    public let fileBytes: Int
    public let seconds: Double
    /// encoding → (tensors, parameters, bytes)
    public let perEncoding: [(encoding: Encoding, tensors: Int, parameters: Int, bytes: Int)]
    /// Non-fatal findings: NaN/Inf counts, skipped checkpoint tensors.
    public let warnings: [String]
    public let notes: [String]

    /// Bits per weight over every tensor.
    public var bitsPerWeight: Double {
        let bytes = perEncoding.reduce(0) { $0 + $1.bytes }
        return parameterCount == 0 ? 0 : Double(bytes * 8) / Double(parameterCount)
    }
}

/// Converts a Hugging Face checkpoint directory into a .reel file, tensor by tensor.
public enum Converter {
    /// The checkpoint files that are copied into a .reel whole (formats/REEL.md §4).
    static let blobFiles = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json"]
    static let preprocessorFiles = ["preprocessor_config.json", "video_preprocessor_config.json", "processor_config.json"]

    /// Converts `directory` per `options`.
    /// - Parameter log: receives warnings as they are found (the CLI prints them on stderr).
    public static func convert(checkpoint directory: String, options: ConvertOptions,
                               log: (String) -> Void = { _ in }) throws -> ConvertSummary {
        let start = ProgressBar.now()
        guard isDirectory(directory) else { throw ConvertError.notADirectory(directory) }
        let configPath = joinPath(directory, "config.json")
        guard fileExists(configPath) else { throw ConvertError.missingFile(configPath) }
        let config = try JSON.parse(readWholeFile(configPath), source: configPath)
        guard config.object != nil else { throw ModelsError.badValue(source: configPath, key: "", message: "config.json must be a JSON object") }
        let generationPath = joinPath(directory, "generation_config.json")
        let generation: JSON? = fileExists(generationPath) ? try JSON.parse(readWholeFile(generationPath), source: generationPath) : nil
        _ = try GenerationDefaults(generation, source: generationPath)  // sampling defaults `reel run` could not use
        let checkpoint = try SafetensorsCheckpoint(path: directory)
        let source = checkpoint.indexPath ?? checkpoint.files.first?.path ?? directory
        // Every file convert may read: the weights, their index, and the directory's configs and support files.
        let read = checkpoint.files.map(\.path) + [checkpoint.indexPath, configPath, generationPath].compactMap { $0 }
            + (blobFiles + preprocessorFiles).map { joinPath(directory, $0) }
        try refuseOutputOverInputs(options.output, inputs: read)

        // 1. The family's description of the model, and which checkpoint tensor feeds each Reel tensor.
        let spec = options.generic ? try genericSpec(checkpoint)
            : try FamilyRegistry.describe(config: config, generation: generation, source: configPath)
        var notes: [String] = []
        let mapping = try mapTensors(spec: spec, checkpoint: checkpoint, source: source, notes: &notes)

        // 2. Encodings from the policy.
        let body = options.quant ?? losslessEncoding(checkpoint, names: Array(mapping.values))
        let policy = QuantPolicy(body: body, overrides: options.overrides)
        let plan = spec.tensors.map { t -> PlannedTensor in
            let (enc, rule) = policy.encoding(for: t)
            return PlannedTensor(spec: t, encoding: enc, rule: rule, sourceName: mapping[t.name]!)
        }

        // 3. Metadata and blobs.
        var meta = JSONObject()
        meta["architecture"] = .string(spec.architecture)
        meta["components"] = spec.componentsJSON
        meta["source_config"] = config
        if let generation { meta["generation_config"] = generation }
        var blobs: [BlobPlan] = []
        var provenanceFiles: [(String, String)] = [("config.json", configPath)]
        if generation != nil { provenanceFiles.append(("generation_config.json", generationPath)) }
        for name in blobFiles {
            let p = joinPath(directory, name)
            guard fileExists(p) else { continue }
            let bytes = try readWholeFile(p)
            if name.hasSuffix(".json") { _ = try JSON.parse(bytes, source: p) }  // refuse a malformed file now, not at run time
            blobs.append(BlobPlan(name: name, bytes: bytes, compression: .zstd))
            provenanceFiles.append((name, p))
        }
        let templateWarning = try checkTokenizerAndTemplate(directory: directory, blobs: blobs)
        if let tj = blobs.first(where: { $0.name == "tokenizer.json" }) {
            var tok = JSONObject([("blob", .string("tokenizer.json"))])
            if blobs.contains(where: { $0.name == "tokenizer_config.json" }) { tok["config_blob"] = .string("tokenizer_config.json") }
            if let n = tokenizerVocabSize(tj.bytes) { tok["vocab_size"] = .int(Int64(n)) }
            meta["tokenizer"] = .object(tok)
        }
        var pre = JSONObject()
        for name in preprocessorFiles {
            let p = joinPath(directory, name)
            guard fileExists(p) else { continue }
            pre[name] = try JSON.parse(readWholeFile(p), source: p)
            provenanceFiles.append((name, p))
        }
        if !pre.isEmpty { meta["preprocessors"] = .object(pre) }
        let processorWarnings = processorProblems(pre, spec: spec, directory: directory)
        for f in checkpoint.files { provenanceFiles.append((String(f.path.split(separator: "/").last ?? ""), f.path)) }
        if let idx = checkpoint.indexPath { provenanceFiles.append(("model.safetensors.index.json", idx)) }
        meta["provenance"] = .object(try provenance(directory: directory, files: provenanceFiles, policy: policy, plan: plan))

        // 4. Stream every tensor into the writer.
        let reader = SafetensorsSource(checkpoint: checkpoint)
        var warnings = policy.unmatchedOverrideWarnings(plan.map(\.spec.name))
        warnings.forEach(log)
        for w in [templateWarning].compactMap({ $0 }) + processorWarnings {
            warnings.append(w)
            log(w)
        }
        let nonFinite = try writeModel(to: options.output, force: options.force, metadata: meta, blobs: blobs, plan: plan,
                                       source: reader, label: "convert", quiet: options.quiet)
        for (name, count) in nonFinite {
            let w = "warning: \(name) (\(mapping[name] ?? name)) contains \(count.nan) NaN and \(count.inf) infinite values"
                + (count.zeroed ? ", stored as 0 in the quantised encoding" : "")
            warnings.append(w)
            log(w)
        }
        return try summary(output: options.output, architecture: spec.architecture, plan: plan, start: start,
                           warnings: warnings, notes: notes)
    }

    /// Pairs every Reel tensor with its checkpoint tensor; strict both ways (STYLE §9).
    static func mapTensors(spec: ModelSpec, checkpoint: SafetensorsCheckpoint, source: String,
                           notes: inout [String]) throws -> [String: String] {
        let expected = Dictionary(spec.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var mapping: [String: String] = [:]
        for name in checkpoint.names {
            if let why = spec.ignoreReason(forCheckpointName: name) {
                notes.append("skipped \(name): \(why)")
                continue
            }
            guard let reel = spec.reelName(forCheckpointName: name) else {
                throw ConvertError.unmappedTensor(checkpoint: source, tensor: name, architecture: spec.architecture)
            }
            guard let t = expected[reel] else {
                if reel.hasSuffix("lm_head.weight") {  // some tied checkpoints store the head anyway
                    notes.append("skipped \(name): embeddings are tied")
                    continue
                }
                throw ConvertError.unexpectedTensor(checkpoint: source, tensor: name, reelName: reel, architecture: spec.architecture)
            }
            if let first = mapping[reel] {
                throw ConvertError.duplicateTensor(checkpoint: source, reelName: reel, first: first, second: name)
            }
            let info = try checkpoint.tensor(name)
            guard info.dtype.canConvertToFloat32 else {
                throw ConvertError.unsupportedDType(checkpoint: source, tensor: name, dtype: info.dtype.rawValue)
            }
            guard info.shape == t.shape else {
                throw ConvertError.shapeMismatch(checkpoint: source, tensor: name, found: info.shape, expected: t.shape)
            }
            mapping[reel] = name
        }
        for t in spec.tensors where mapping[t.name] == nil {
            throw ConvertError.missingTensor(checkpoint: source, reelName: t.name, architecture: spec.architecture)
        }
        return mapping
    }

    /// `--generic`: every tensor under its own name, roles from shape alone.
    static func genericSpec(_ checkpoint: SafetensorsCheckpoint) throws -> ModelSpec {
        var tensors: [TensorSpec] = []
        for name in checkpoint.names {
            let t = try checkpoint.tensor(name)
            guard !t.shape.isEmpty, t.shape.allSatisfy({ $0 > 0 }) else { continue }  // scalars and empty tensors carry no weights
            tensors.append(TensorSpec(name, t.shape, .linear))
        }
        let component = ComponentSpec(name: "generic", family: "generic", config: JSONObject(), tensors: tensors)
        return ModelSpec(architecture: "generic", components: [component], prefixes: [("", "")])
    }

    /// The float encoding that loses nothing: the checkpoint's own when all tensors share it, else f32.
    static func losslessEncoding(_ checkpoint: SafetensorsCheckpoint, names: [String]) -> Encoding {
        var kinds = Set<String>()
        for n in names { if let t = try? checkpoint.tensor(n) { kinds.insert(t.dtype.rawValue) } }
        if kinds == [SafetensorsDType.f16.rawValue] { return .f16 }
        if kinds == [SafetensorsDType.bf16.rawValue] { return .bf16 }
        return .f32
    }

    /// The largest token id + 1 in a tokenizer.json (model vocab and added tokens).
    static func tokenizerVocabSize(_ bytes: [UInt8]) -> Int? {
        guard let j = try? JSON.parse(bytes, source: "tokenizer.json") else { return nil }
        var maxId = -1
        if let v = j["model"]?["vocab"]?.object { for (_, id) in v { maxId = max(maxId, id.int ?? -1) } }
        if let v = j["model"]?["vocab"]?.array { maxId = max(maxId, v.count - 1) }  // Unigram: [[piece, score]]
        for a in j["added_tokens"]?.array ?? [] { maxId = max(maxId, a["id"]?.int ?? -1) }
        return maxId >= 0 ? maxId + 1 : nil
    }

    static func provenance(directory: String, files: [(String, String)], policy: QuantPolicy,
                           plan: [PlannedTensor]) throws -> JSONObject {
        var list: [JSON] = []
        for (name, path) in files {
            let m = try MappedFile(path: path)
            m.advise(.sequential)
            list.append(["name": .string(name), "bytes": .int(Int64(m.count)), "xxh64": .string(Checksum.hex(Checksum.xxh64(m.bytes)))])
        }
        var exceptions = JSONObject()
        for p in plan where p.encoding != policy.body && p.spec.shape.count > 1 {
            exceptions[p.spec.name] = .string("\(p.encoding.rawValue): \(p.rule)")
        }
        return JSONObject([
            ("converter", .string("reel \(ReelVersion.string)")),
            ("created", .string(isoTimestampUTC())),
            ("source", .string(directory)),
            ("files", .array(list)),
            ("quant", .string(policy.body.rawValue)),
            ("overrides", .array(policy.overrides.map { .string($0.description) })),
            ("exceptions", .object(exceptions)),
        ])
    }

    static func summary(output: String, architecture: String, plan: [PlannedTensor], start: Double,
                        warnings: [String], notes: [String]) throws -> ConvertSummary {
        var per: [Encoding: (Int, Int, Int)] = [:]
        var params = 0
        for p in plan {
            let n = p.spec.shape.reduce(1, *)
            params += n
            let b = p.encoding.byteCount(shape: p.spec.shape) ?? 0
            let cur = per[p.encoding] ?? (0, 0, 0)
            per[p.encoding] = (cur.0 + 1, cur.1 + n, cur.2 + b)
        }
        let rows = Encoding.allCases.compactMap { e in per[e].map { (encoding: e, tensors: $0.0, parameters: $0.1, bytes: $0.2) } }
        return ConvertSummary(output: output, architecture: architecture, tensorCount: plan.count, parameterCount: params,
                              fileBytes: try fileSize(output), seconds: ProgressBar.now() - start,
                              perEncoding: rows, warnings: warnings, notes: notes)
    }
}

/// One tensor of the output: where it comes from, how it is stored, and which rule decided that.
struct PlannedTensor {
    let spec: TensorSpec
    let encoding: Encoding
    let rule: String
    let sourceName: String
}

/// Reads checkpoint tensors for the pipeline.
struct SafetensorsSource: TensorSource {
    let checkpoint: SafetensorsCheckpoint

    func storedEncoding(_ name: String) throws -> Encoding? {
        switch try checkpoint.tensor(name).dtype {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default: return nil
        }
    }

    func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer { try checkpoint.rawBytes(name) }

    func readRows(_ name: String, rows: Range<Int>, k: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try checkpoint.readFloat32(name, elements: (rows.lowerBound * k)..<(rows.upperBound * k), into: buffer)
    }

    func nonFinite(_ name: String) throws -> NonFiniteCount { try checkpoint.nonFiniteCount(name) }
}

/// Warnings for processor configs the runtime's media paths would refuse, read as they read them: a model with an
/// audio tower takes `preprocessor_config.json` as Whisper feature settings; one with a vision tower alone (LLaVA)
/// takes `video_preprocessor_config.json` and `preprocessor_config.json` as image processors. (Reel AV's frame
/// settings are checked when the model loads.) Only the media paths need them, so this warns instead of failing.
func processorProblems(_ pre: JSONObject, spec: ModelSpec, directory: String) -> [String] {
    let has = Set(spec.components.map(\.name))
    var checks: [(String, (JSON) throws -> Void)] = []
    if has.contains("audio") {
        checks = [("preprocessor_config.json", { _ = try WhisperFeatureExtractor(json: $0) })]
    } else if has.contains("vision") {
        checks = ["video_preprocessor_config.json", "preprocessor_config.json"].map { ($0, { _ = try ImageProcessor(json: $0) }) }
    }
    return checks.compactMap { name, check in
        guard let json = pre[name] else { return nil }
        do { try check(json) } catch {
            return "warning: \(joinPath(directory, name)): \(error); `reel run` with media will refuse this file"
        }
        return nil
    }
}

/// Builds the tokenizer and parses the chat template the file will carry, as `reel run` will. A tokenizer.json Reel
/// cannot load (a bad pre-tokenizer regex, merges, model type) stops the conversion naming the file, instead of
/// surfacing at the first run. A chat template Reel cannot parse is a warning (returned): the file still works with
/// `--raw` and `--input-ids`, and the template may use a Jinja feature Reel lacks rather than be broken.
func checkTokenizerAndTemplate(directory: String, blobs: [BlobPlan]) throws -> String? {
    let config = blobs.first { $0.name == "tokenizer_config.json" }
    if let tj = blobs.first(where: { $0.name == "tokenizer.json" }) {
        let p = joinPath(directory, "tokenizer.json")
        do { _ = try Tokenizer(tokenizerJSON: tj.bytes, configJSON: config?.bytes, name: p) } catch {
            if "\(error)".hasPrefix(p) { throw error }  // it names the file already
            throw ConvertError.badSupportFile(path: p, message: "\(error)")
        }
    }
    guard let (text, p) = try ChatTemplate.source(inCheckpoint: directory) else { return nil }
    do { _ = try ChatTemplate(text) } catch {
        return "warning: \(p): \(error); `reel run` on this file needs --raw or --input-ids"
    }
    return nil
}
