import ReelCore
import ReelFormat
import ReelModels
import ReelQuant

/// What `reel quantize` was asked to do.
public struct QuantizeOptions: Sendable {
    public var output: String
    public var quant: Encoding
    public var overrides: [QuantPolicy.Override]
    public var force: Bool
    /// Re-encode tensors that are already quantised (compounds the error; warned about).
    public var allowRequantize: Bool
    public var quiet: Bool

    public init(output: String, quant: Encoding, overrides: [QuantPolicy.Override] = [], force: Bool = false,
                allowRequantize: Bool = false, quiet: Bool = false) {
        self.output = output
        self.quant = quant
        self.overrides = overrides
        self.force = force
        self.allowRequantize = allowRequantize
        self.quiet = quiet
    }
}

/// Re-encodes a .reel file under a new policy (`reel quantize`), streaming tensor by tensor.
public enum Quantizer {
    public static func quantize(input: String, options: QuantizeOptions, log: (String) -> Void = { _ in }) throws -> ConvertSummary {
        let start = ProgressBar.now()
        try refuseOutputOverInputs(options.output, inputs: [input])
        let file = try ReelFile(path: input)
        let roles = try rolesByName(file)
        let policy = QuantPolicy(body: options.quant, overrides: options.overrides)
        var warnings = policy.unmatchedOverrideWarnings(file.tensors.map(\.name))
        warnings.forEach(log)
        var plan: [PlannedTensor] = []
        for info in file.tensors {
            let spec = TensorSpec(info.name, info.shape, roles[info.name] ?? (info.shape.count == 1 ? .vector : .linear))
            let (enc, rule) = policy.encoding(for: spec)
            if info.encoding.isQuantized && enc != info.encoding {
                guard options.allowRequantize else { throw ConvertError.requantize(tensor: info.name, from: info.encoding, to: enc) }
                let w = "warning: re-quantising \(info.name) from \(info.encoding.rawValue) to \(enc.rawValue) compounds the error"
                warnings.append(w)
                log(w)
            }
            plan.append(PlannedTensor(spec: spec, encoding: enc, rule: rule, sourceName: info.name))
        }

        var meta = file.metadata.object ?? JSONObject()
        for k in ["format_version", "blobs", "tensors"] { meta[k] = nil }
        var prov = meta["provenance"]?.object ?? JSONObject()
        var exceptions = JSONObject()
        for p in plan where p.encoding != policy.body && p.spec.shape.count > 1 {
            exceptions[p.spec.name] = .string("\(p.encoding.rawValue): \(p.rule)")
        }
        prov["quant"] = .string(policy.body.rawValue)
        prov["overrides"] = .array(policy.overrides.map { .string($0.description) })
        prov["exceptions"] = .object(exceptions)
        prov["quantized_from"] = .string(input)
        prov["quantized"] = .string(isoTimestampUTC())
        meta["provenance"] = .object(prov)
        let blobs = try file.blobs.map { BlobPlan(name: $0.name, bytes: try file.blob($0.name), compression: $0.compression) }

        _ = try writeModel(to: options.output, force: options.force, metadata: meta, blobs: blobs, plan: plan,
                           source: ReelSource(file: file), label: "quantize", quiet: options.quiet)
        return try Converter.summary(output: options.output, architecture: file.architecture, plan: plan, start: start,
                                     warnings: warnings, notes: [])
    }

    /// Roles of a file's tensors, from its family's description of the stored source config.
    static func rolesByName(_ file: ReelFile) throws -> [String: TensorRole] {
        guard file.architecture != "generic", let config = file.metadata["source_config"] else { return [:] }
        let spec = try FamilyRegistry.describe(config: config, generation: file.metadata["generation_config"], source: "\(file.path): source_config")
        return Dictionary(spec.tensors.map { ($0.name, $0.role) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Reads a .reel file's tensors for the pipeline.
struct ReelSource: TensorSource {
    let file: ReelFile
    func storedEncoding(_ name: String) throws -> Encoding? { try file.tensor(name).info.encoding }
    func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer { try file.tensor(name).bytes }
    /// The tensor's XXH64 against the metadata (one pass over bytes the conversion reads next anyway).
    func checkIntegrity(_ name: String) throws {
        let view = try file.tensor(name)
        let sum = Checksum.xxh64(view.bytes)
        guard sum == view.info.xxh64 else {
            throw ReelFormatError.tensorChecksumMismatch(path: file.path, tensor: name, expected: view.info.xxh64, actual: sum)
        }
    }
    func readRows(_ name: String, rows: Range<Int>, k: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let view = try file.tensor(name)
        let enc = view.info.encoding
        let rowBytes = try enc.rowBytes(k).unwrapOr(ConvertError.notConvertible(tensor: name, message: "bad row length"))
        let bytes = UnsafeRawBufferPointer(rebasing: view.bytes[(rows.lowerBound * rowBytes)..<(rows.upperBound * rowBytes)])
        try Codec.decode(bytes, rows: rows.count, k: k, from: enc, into: buffer)
    }
}
