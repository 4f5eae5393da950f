import ReelCore
import ReelModels
import ReelQuant
import ReelRuntime
import ReelSafetensors

/// A Hugging Face checkpoint seen through a family's tensor map, as weights the runtime can run: f32, f16 and bf16
/// tensors are used in place from the safetensors mapping under their Reel names (nothing is copied). This is how
/// `reel parity` runs the source weights through Reel's own float path, without Python.
public final class CheckpointWeights: WeightProvider, @unchecked Sendable {
    public let checkpoint: SafetensorsCheckpoint
    public let spec: ModelSpec
    /// Reel name → checkpoint name.
    let mapping: [String: String]

    /// Opens `directory` (config.json + safetensors) and maps its tensors strictly, as the converter does.
    public init(directory: String) throws {
        let configPath = joinPath(directory, "config.json")
        guard fileExists(configPath) else { throw ConvertError.missingFile(configPath) }
        let config = try JSON.parse(readWholeFile(configPath), source: configPath)
        let generationPath = joinPath(directory, "generation_config.json")
        let generation: JSON? = fileExists(generationPath) ? try JSON.parse(readWholeFile(generationPath), source: generationPath) : nil
        checkpoint = try SafetensorsCheckpoint(path: directory)
        spec = try FamilyRegistry.describe(config: config, generation: generation, source: configPath)
        var notes: [String] = []
        mapping = try Converter.mapTensors(spec: spec, checkpoint: checkpoint, source: directory, notes: &notes)
    }

    /// The normalised config of a component (`decoder`, `vision`, …).
    public func componentConfig(_ name: String) -> JSON? {
        spec.components.first { $0.name == name }.map { .object($0.config) }
    }

    public func weight(_ name: String) throws -> WeightTensor {
        guard let source = mapping[name] else { throw RuntimeError.missingWeight(name: name) }
        let t = try checkpoint.tensor(source)
        let encoding: Encoding
        switch t.dtype {
        case .f32: encoding = .f32
        case .f16: encoding = .f16
        case .bf16: encoding = .bf16
        default: throw ConvertError.unsupportedDType(checkpoint: checkpoint.directory, tensor: source, dtype: t.dtype.rawValue)
        }
        return try WeightTensor(name: name, encoding: encoding, shape: t.shape, data: try checkpoint.rawBytes(source), owner: checkpoint)
    }

    public func contains(_ name: String) -> Bool { mapping[name] != nil }
    public var weightNames: [String] { spec.tensors.map(\.name).filter { mapping[$0] != nil } }
}
