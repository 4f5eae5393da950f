import ReelCore

/// Every family Reel converts, found by config.json's `architectures` (or `model_type`). Adding a family means one
/// file in this folder and one line here.
public enum FamilyRegistry {
    public static let families: [ModelFamily] = [
        DecoderFamily.llama.family,
        DecoderFamily.qwen2.family,
        DecoderFamily.qwen3.family,
        VisionFamily.siglip.family,
        VisionFamily.clip.family,
        WhisperEncoderFamily.family,
        LlavaFamily.onevision.family,
        LlavaFamily.nextVideo.family,
        Qwen2AudioFamily.family,
        ReelAVFamily.family,
    ]

    /// The names users can convert, for `--help` and error messages.
    public static var supportedNames: [String] {
        families.flatMap(\.hfArchitectures)
    }

    /// Finds the family of a config.json.
    /// - Parameter source: the config's path, for errors.
    public static func family(for config: JSON, source: String) throws -> ModelFamily {
        guard config.object != nil else { throw ModelsError.badValue(source: source, key: "", message: "config.json must be a JSON object") }
        let archs = config["architectures"]?.array?.compactMap(\.string) ?? []
        for a in archs {
            if let f = families.first(where: { $0.hfArchitectures.contains(a) }) { return f }
        }
        let type = config["model_type"]?.string
        if archs.isEmpty, let type, let f = families.first(where: { $0.modelTypes.contains(type) }) { return f }
        let found = archs.isEmpty ? (type.map { "model_type \"\($0)\"" } ?? "(no architectures or model_type)") : archs.joined(separator: ", ")
        throw ModelsError.unknownArchitecture(source: source, found: found, supported: supportedNames)
    }

    /// Describes a checkpoint from its config.json and optional generation_config.json.
    public static func describe(config: JSON, generation: JSON?, source: String) throws -> ModelSpec {
        try family(for: config, source: source).describe(config, generation, source)
    }
}
