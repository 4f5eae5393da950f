import ArgumentParser
import ReelCore

@main
struct Reel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel",
        abstract: "Convert, quantise, validate and run video-language models on CPU from one mmap-able file.",
        discussion: """
        A typical session:
          reel convert ./Qwen2-0.5B-Instruct -o qwen2.reel           # Hugging Face checkpoint → .reel (lossless)
          reel quantize qwen2.reel -o qwen2-q4.reel --quant q4       # int4 body, int8 embeddings, f32 norms
          reel inspect qwen2-q4.reel                                  # what is inside
          reel verify qwen2-q4.reel                                   # structure and checksums

        Encodings: f32, f16, bf16, q8 (8.5 bits/weight), q4 (4.5), q4f (5.0). See formats/REEL.md.
        """,
        version: ReelVersion.string,
        subcommands: [Convert.self, Quantize.self, Inspect.self, Verify.self, Run.self, Chat.self, Forward.self, Parity.self, Bench.self]
    )
}
