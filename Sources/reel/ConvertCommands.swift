import ArgumentParser
import ReelConvert
import ReelCore
import ReelModels
import ReelQuant

extension Encoding: ExpressibleByArgument {
    public init?(argument: String) { self.init(userName: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension QuantPolicy.Override: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Hugging Face checkpoint directory into a .reel file.",
        discussion: """
        The directory holds config.json and model.safetensors (or a sharded model.safetensors.index.json), and \
        optionally tokenizer.json, tokenizer_config.json, generation_config.json and the preprocessor configs, all \
        of which are carried into the .reel file. The family is found from config.json's "architectures".

        Supported: \(FamilyRegistry.supportedNames.joined(separator: ", ")).

        Tensors stream one at a time (memory stays near one tensor), into a temporary file renamed on success. \
        Quantised bodies keep norms and biases at f32, embeddings and the output head at q8, and patch, conv and \
        position embeddings at f16; --keep overrides any tensor by glob pattern, matched against the whole Reel \
        name or any dot-separated tail of it ('lm_head*=q8', '*.mlp.down_proj.weight=q8', 'decoder.*=f16').

        Examples:
          reel convert ./Qwen2-0.5B-Instruct -o qwen2.reel
          reel convert ./llava-onevision-0.5b -o llava-q4.reel --quant q4 \\
              --keep '*.down_proj.weight=q8'
        """)

    @Argument(help: "The checkpoint directory.")
    var checkpoint: String

    @Option(name: .shortAndLong, help: "The .reel file to write.")
    var output: String

    @Option(help: "Body encoding: f32, f16, bf16, q8, q4, q4f. Default: the checkpoint's own float type (lossless).")
    var quant: Encoding?

    @Option(name: .customLong("keep"), parsing: .singleValue, help: "PATTERN=ENCODING: store matching tensors in ENCODING (repeatable; first match wins).")
    var keep: [QuantPolicy.Override] = []

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    @Flag(help: "Store every tensor under its checkpoint name, for an architecture Reel does not know (no runtime support).")
    var generic = false

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() throws {
        let summary = try Converter.convert(checkpoint: checkpoint, options: ConvertOptions(
            output: output, quant: quant, overrides: keep, force: force, generic: generic, quiet: quiet), log: printErr)
        printSummary(summary, verb: "converted \(checkpoint)", json: json, quiet: quiet)
    }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-encode a .reel file at another precision (from a float file).",
        discussion: """
        Applies the same mixed-precision policy as convert --quant. Tensors already quantised are copied when their \
        encoding is kept; re-quantising one (q8 → q4) is refused unless --allow-requantize, because the errors of \
        the two roundings add up: quantise from an f32/f16/bf16 file instead.

        Example:
          reel quantize qwen2.reel -o qwen2-q4.reel --quant q4
        """)

    @Argument(help: "The .reel file to read.")
    var input: String

    @Option(name: .shortAndLong, help: "The .reel file to write.")
    var output: String

    @Option(help: "Body encoding: q8, q4, q4f, f16, bf16, f32.")
    var quant: Encoding

    @Option(name: .customLong("keep"), parsing: .singleValue, help: "PATTERN=ENCODING override (repeatable; first match wins).")
    var keep: [QuantPolicy.Override] = []

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    @Flag(help: "Re-quantise tensors that are already quantised (with a warning).")
    var allowRequantize = false

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() throws {
        let summary = try Quantizer.quantize(input: input, options: QuantizeOptions(
            output: output, quant: quant, overrides: keep, force: force, allowRequantize: allowRequantize, quiet: quiet), log: printErr)
        printSummary(summary, verb: "quantised \(input)", json: json, quiet: quiet)
    }
}

/// The one-screen summary after convert / quantize.
func printSummary(_ s: ConvertSummary, verb: String, json: Bool, quiet: Bool) {
    if json {
        let j: JSON = [
            "output": .string(s.output), "architecture": .string(s.architecture), "tensors": .int(Int64(s.tensorCount)),
            "parameters": .int(Int64(s.parameterCount)), "file_bytes": .int(Int64(s.fileBytes)),
            "bits_per_weight": .double(s.bitsPerWeight), "seconds": .double(s.seconds),
            "encodings": .array(s.perEncoding.map { ["encoding": .string($0.encoding.rawValue), "tensors": .int(Int64($0.tensors)),
                                                     "parameters": .int(Int64($0.parameters)), "bytes": .int(Int64($0.bytes))] }),
            "warnings": .array(s.warnings.map { .string($0) }),
        ]
        print(j.serialized(pretty: true))
        return
    }
    print("\(verb) → \(s.output)")
    print("  architecture  \(s.architecture)")
    print("  tensors       \(s.tensorCount) (\(formatCount(s.parameterCount)) parameters)")
    print("  size          \(formatBytes(s.fileBytes)), \(fixed(s.bitsPerWeight, 2)) bits per weight")
    for e in s.perEncoding {
        let bpw = e.parameters == 0 ? 0 : Double(e.bytes * 8) / Double(e.parameters)
        print("    \(pad(e.encoding.rawValue, 5)) \(rpad("\(e.tensors)", 5)) tensors \(rpad(formatCount(e.parameters), 8)) params \(rpad(formatBytes(e.bytes), 10))  \(fixed(bpw, 2)) bpw")
    }
    print("  time          \(formatDuration(s.seconds))")
    if !quiet { for n in s.notes.prefix(5) { print("  note: \(n)") } }
    if s.notes.count > 5 && !quiet { print("  note: … and \(s.notes.count - 5) more skipped tensors") }
}
