#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import ReelCore
import ReelRuntime

@main
struct Reel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reel",
        abstract: "Convert, quantise, validate and run video-language models on CPU from one mmap-able file.",
        discussion: """
        A typical session:
          reel convert ./Qwen2-0.5B-Instruct -o qwen2.reel      # checkpoint → .reel
          reel quantize qwen2.reel -o qwen2-q4.reel --quant q4  # int4 body
          reel inspect qwen2-q4.reel                            # what is inside
          reel verify qwen2-q4.reel                             # every checksum
          reel run qwen2-q4.reel --prompt "Why is the sky blue?"
          reel bench qwen2-q4.reel                              # tokens/s

        Encodings: f32, f16, bf16, q8 (8.5 bits/weight), q4 (4.5), q4f (5.0). See formats/REEL.md.
        """,
        version: ReelVersion.string,
        subcommands: [Convert.self, Quantize.self, Inspect.self, Verify.self, Run.self, Chat.self, Forward.self, Parity.self,
                      Eval.self, Demo.self, Bench.self]
    )

    static func main() {
        useBestBLASKernels()
        // Output that could not be written (a full disk, /dev/full) is an error, not exit 0 with the output lost:
        // stdout is flushed at exit and checked.
        atexit {
            if fflush(stdout) != 0 || ferror(stdout) != 0 {
                fputs("Error: writing the standard output failed: \(String(cString: strerror(errno)))\n", stderr)
                _exit(1)
            }
        }
        main(nil)
    }

    /// Restarts the process with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to generic kernels on a CPU with
    /// AVX2 or AVX-512 (see `BLASSetup`). OpenBLAS reads the variable only when it loads, hence the re-exec;
    /// a user's own `OPENBLAS_CORETYPE` is always respected.
    static func useBestBLASKernels() {
        #if os(Linux)
        guard getenv("OPENBLAS_CORETYPE") == nil, let core = BLASSetup.betterCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)  // returns only on failure: carry on with the kernels we have
        #endif
    }
}
