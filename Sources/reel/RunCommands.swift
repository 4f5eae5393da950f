#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import ReelCore
import ReelMedia
import ReelModels
import ReelRuntime

/// Options that shape how a model is loaded.
struct ModelOptions: ParsableArguments {
    /// `--threads` at most this: more threads than any machine's cores only costs memory and thread creation.
    static let maxThreads = 1024

    @Option(help: "Threads, 1…\(ModelOptions.maxThreads) (default: all cores).")
    var threads: Int?

    @Option(help: "Context length in tokens, at least 1: the KV cache's size (default: the model's max_position_embeddings; memory is taken only for the positions used).")
    var context: Int?

    @Option(help: "KV cache storage: f32 (as transformers keeps it for an f32 model) or f16 (half the memory, as llama.cpp keeps it).")
    var kvCache: KVCacheStorage = .f32

    func validate() throws {
        try Self.validate(threads: threads)
        if let context, context < 1 { throw ValidationError("--context must be at least 1, got \(context)") }
    }

    /// `--threads` in 1…`maxThreads`, refused as a usage error naming it: every command that takes the flag.
    static func validate(threads: Int?) throws {
        if let threads, !(1...maxThreads).contains(threads) {
            throw ValidationError("--threads must be in 1…\(maxThreads), got \(threads)")
        }
    }

    var decoderOptions: DecoderOptions {
        DecoderOptions(contextLength: context, kvCache: kvCache, threads: threads)
    }
}

extension KVCacheStorage: ExpressibleByArgument {}

/// Sampling and stopping options, shared by run and chat.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Stop after this many new tokens (0: prefill only).")
    var maxTokens = 256

    @Option(help: "Temperature, ≥ 0; 0 is greedy. Default: the model's generation_config.json when it samples, else greedy.")
    var temperature: Float?

    @Option(help: "Keep the k most likely tokens, ≥ 0 (0: off).")
    var topK: Int?

    @Option(help: "Keep the smallest set of tokens whose probability reaches p, in (0, 1] (1: off).")
    var topP: Float?

    @Option(help: "Drop tokens less likely than min-p × the most likely, in [0, 1] (0: off).")
    var minP: Float?

    @Option(help: "Penalise tokens already in the sequence, > 0 (1: off; transformers' repetition_penalty).")
    var repeatPenalty: Float?

    @Option(help: "Random seed (sampling is reproducible for a seed).")
    var seed: UInt64 = 0

    @Option(parsing: .singleValue, help: "Stop when the text contains this string (repeatable).")
    var stop: [String] = []

    @Flag(help: "Keep generating past end-of-sequence tokens.")
    var ignoreEos = false

    /// Each flag in its range (docs/cli.md), refused as a usage error naming it.
    func validate() throws {
        if maxTokens < 0 { throw ValidationError("--max-tokens must be at least 0, got \(maxTokens)") }
        let flags: [(SamplerConfig.Setting, String, Double?)] = [
            (.temperature, "--temperature", temperature.map(Double.init)), (.topK, "--top-k", topK.map(Double.init)),
            (.topP, "--top-p", topP.map(Double.init)), (.minP, "--min-p", minP.map(Double.init)),
            (.repetitionPenalty, "--repeat-penalty", repeatPenalty.map(Double.init))]
        for (setting, flag, value) in flags {
            if let value, let m = SamplerConfig.rangeProblem(setting, value) { throw ValidationError("\(flag) \(m)") }
        }
    }

    /// Flags over the model's own generation_config.json defaults.
    func options(for model: TextModel) throws -> GenerationOptions {
        let g = try GenerationDefaults(model.file.metadata["generation_config"], source: "\(model.file.path): generation_config.json")
        var c = SamplerConfig.greedy
        if g.sample {
            c.temperature = Float(g.temperature ?? 1)
            c.topK = g.topK ?? 0
            c.topP = Float(g.topP ?? 1)
            c.minP = Float(g.minP ?? 0)
        }
        c.repetitionPenalty = Float(g.repetitionPenalty ?? 1)
        if let temperature { c.temperature = temperature }
        if let topK { c.topK = topK }
        if let topP { c.topP = topP }
        if let minP { c.minP = minP }
        if let repeatPenalty { c.repetitionPenalty = repeatPenalty }
        c.seed = seed
        return GenerationOptions(maxTokens: maxTokens, sampler: c, stopStrings: stop, ignoreEOS: ignoreEos)
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt, streaming it as it is written.",
        discussion: """
        The prompt goes through the model's own chat template (from its tokenizer_config.json) as one user turn, \
        after --system when given. The answer streams to stdout; a summary (prompt and generated tokens, prefill and \
        decode tokens/s) goes to stderr. --raw skips the template; --input-ids runs exact token ids.

        Examples:
          reel run qwen2-q4.reel --prompt "Why is the sky blue?"
          reel run qwen2-q4.reel --prompt "A haiku" --temperature 0.7 --top-p 0.9 --seed 7
          reel run qwen2.reel --input-ids 9707,11,1879 --raw --max-tokens 32 --json
          reel run llava-q8.reel --video clip.mp4 --frames 16 --prompt "What happens?"
          reel run llava-q8.reel --image photo.jpg --prompt "What is in the picture?"
          reel run reel-av-demo-q4.reel --video clip.mp4 --prompt "How many beeps?"
        """)

    @Argument(help: "The .reel model.")
    var model: String

    @Option(help: "The user's message.")
    var prompt: String?

    @Option(help: "A system message before the prompt.")
    var system: String?

    @Option(help: "Comma-separated token ids to run exactly as they are, as the prompt (needs --raw).")
    var inputIds: String?

    @Flag(help: "No chat template: the prompt's tokens (with the tokenizer's own BOS) or --input-ids as they are.")
    var raw = false

    @Option(help: "An audio file (anything ffmpeg reads: wav, mp3, flac, a video's sound) for an audio model (Qwen2-Audio).")
    var audio: String?

    @Flag(help: "Qwen2-Audio: use only the first 30 s of the audio, as transformers' Qwen2AudioProcessor does (by default a longer file is encoded window by window, 30 s each, its tokens in order).")
    var firstWindow = false

    @Option(parsing: .singleValue, help: "LLaVA models: a video file to ask about (repeatable); decoded by ffmpeg, processed as the checkpoint's video processor. Reel AV models: one clip, its sound included.")
    var video: [String] = []

    @Flag(help: "Reel AV models: frames only, leave the clip's sound out.")
    var noAudio = false

    @Option(parsing: .singleValue, help: "LLaVA-OneVision: an image file to ask about (repeatable; one image is tiled anyres, several are base-only as in transformers).")
    var image: [String] = []

    @Option(help: "Write the processed pixel values (transformers' names) to this safetensors file, to compare with a Python processor.")
    var savePixels: String?

    @Option(help: "Frames sampled uniformly from each video (transformers' index rule; default 8).")
    var frames: Int?

    @Option(help: "Sample this many frames per second of video instead, at most --frames (default 32).")
    var fps: Double?

    @Option(help: "LLaVA models: processor outputs (pixel_values_videos, or pixel_values + image_sizes) in a safetensors file, e.g. an image preprocessed in Python; the prompt gets one <video>/<image> part each.")
    var pixels: String?

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var load: ModelOptions

    @Flag(help: "Print {\"tokens\", \"text\", \"stop_reason\", \"timings\"} as JSON on stdout instead of streaming.")
    var json = false

    func validate() throws {
        guard (prompt == nil) != (inputIds == nil) else { throw ValidationError("give exactly one of --prompt and --input-ids") }
        if inputIds != nil && !raw { throw ValidationError("--input-ids runs exact ids: add --raw") }
        if let inputIds { _ = try parseIds(inputIds) }  // here, so a malformed list gets this command's usage
        if audio != nil && (prompt == nil || raw) { throw ValidationError("--audio goes with --prompt (through the chat template)") }
        if audio != nil && (pixels != nil || !video.isEmpty || !image.isEmpty) {
            throw ValidationError("--audio is for audio models (Qwen2-Audio); a Reel AV model hears a --video's own sound")
        }
        if (pixels != nil || !video.isEmpty || !image.isEmpty) && (prompt == nil || raw) {
            throw ValidationError("--video, --image and --pixels need --prompt (through the chat template)")
        }
        if (frames != nil || fps != nil) && video.isEmpty { throw ValidationError("--frames and --fps go with --video") }
        if noAudio && video.isEmpty { throw ValidationError("--no-audio goes with --video (a Reel AV model)") }
        if firstWindow && audio == nil { throw ValidationError("--first-window goes with --audio (a Qwen2-Audio model)") }
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1") }
        if let fps, !(fps > 0) { throw ValidationError("--fps must be positive") }
    }

    func run() throws {
        if !video.isEmpty, pixels == nil, image.isEmpty, try isReelAV(model) {
            if savePixels != nil { throw CLIError("--save-pixels is for LLaVA models; \(model) is a Reel AV model") }
            return try runReelAV()
        }
        if noAudio { throw CLIError("--no-audio is for Reel AV models (\(model) is not one)") }
        if pixels != nil || !video.isEmpty || !image.isEmpty { return try runWithMedia() }
        let stream: (String) -> Void = { piece in
            if !json {
                fputs(piece, stdout)
                fflush(stdout)
            }
        }
        let result: GenerationResult
        if let audio {
            result = try runAudio(audio, onText: stream)
        } else {
            let m = try TextModel(path: model, options: load.decoderOptions)
            let ids: [Int]
            if let inputIds {
                ids = try parseIds(inputIds)
            } else if raw {
                ids = m.tokenizer.encode(prompt!, addSpecialTokens: true)
            } else {
                ids = try m.promptIds(messages: TextModel.messages(system: system, user: prompt!))
            }
            result = try m.generate(prompt: ids, options: sampling.options(for: m), onText: stream)
        }
        if json {
            let j: JSON = ["tokens": .array(result.tokens.map { .int(Int64($0)) }), "text": .string(result.text),
                           "stop_reason": .string(result.stopReason.rawValue), "timings": result.timings.json]
            print(j.serialized(pretty: true))
        } else {
            print("")
            printErr(summaryLine(result))
        }
    }
}

extension Run {
    /// Qwen2-Audio: ffmpeg decodes the file to 16 kHz mono, the checkpoint's own feature extractor settings make
    /// Whisper log-mel windows of 30 s, the audio tower encodes them, and the answer streams. As transformers'
    /// A file longer than one window is encoded window by window (issue 5), unless --first-window asks for what
    /// transformers' `Qwen2AudioProcessor` does (its feature extractor truncates to the first window).
    func runAudio(_ path: String, onText: (String) -> Void) throws -> GenerationResult {
        let m = try AudioLanguageModel(path: model, options: load.decoderOptions)
        let fx = try m.featureExtractor()  // before any audio is read: a file whose settings disagree fails at once
        let t0 = ProgressBar.now()
        let samples = try AudioReader.read(path)
        let used = firstWindow ? [fx.features(samples)] : fx.windows(samples)   // features(): the first window
        let windows = used.map { AudioWindow(features: $0.values, validFrames: $0.validFrames) }
        if samples.count > fx.chunkSamples {
            printErr(firstWindow
                ? "note: the audio is \(fixed(Double(samples.count) / 16000, 1)) s; with --first-window only its first \(fx.chunkLength) s are used, as transformers' Qwen2AudioProcessor does"
                : "note: the audio is \(fixed(Double(samples.count) / 16000, 1)) s: encoded in \(windows.count) windows of \(fx.chunkLength) s, their tokens in order (--first-window keeps only the first, as transformers' Qwen2AudioProcessor does)")
        }
        let t1 = ProgressBar.now()
        let input: PromptInput
        do {
            input = try m.prompt(text: prompt!, system: system, audio: windows)
        } catch let e as AudioError {
            if case .noAudioTokens = e { throw CLIError("\(path): \(e)") }  // the file is too short: name it
            throw e
        }
        let t2 = ProgressBar.now()
        if !json {
            printErr("audio: \(fixed(Double(samples.count) / 16000, 1)) s in \(windows.count) window(s) · decoded + log-mel \(fixed(t1 - t0, 2)) s · encoded \(fixed(t2 - t1, 2)) s")
        }
        return try m.generate(input, options: sampling.options(for: m.text), onText: onText)
    }

    /// A LLaVA model on videos (and processor outputs): the prompt with one video/image content part each, features
    /// spliced in.
    func runWithMedia() throws {
        let m = try VisionLanguageModel(path: model, options: load.decoderOptions)
        let videos = try VideoInputs(paths: video, file: m.text.file, frames: frames, fps: fps, quiet: json) {
            try m.text.decoder.cache.reserve(m.llava.tokens(videoFrames: $0))
        }
        let images = try ImageInputs(paths: image, model: m.llava, file: m.text.file)
        let tensors = try pixels.map { try PixelInputs(path: $0) }
        let media = videos.media + images.media + (tensors?.media ?? [])
        if let savePixels { try writePixels(media, tile: m.llava.vision.config.imageSize, to: savePixels) }
        if !json && isatty(2) != 0 {
            m.llava.progress = { done, total in
                fputs(done < total ? "\r\u{1B}[2Kencoding: \(done)/\(total) frames/tiles" : "\r\u{1B}[2K", stderr)
            }
        }
        let messages = VisionLanguageModel.messages(system: system, user: prompt!, videos: video.count + (tensors?.videos ?? 0),
                                                    images: image.count + (tensors?.images ?? 0))
        let input = try m.prompt(messages: messages, media: media)
        let result = try m.text.generate(input, options: sampling.options(for: m.text)) { piece in
            if !json {
                fputs(piece, stdout)
                fflush(stdout)
            }
        }
        let v = m.timings
        if json {
            let j: JSON = ["tokens": .array(result.tokens.map { .int(Int64($0)) }), "text": .string(result.text),
                           "stop_reason": .string(result.stopReason.rawValue), "timings": result.timings.json,
                           "vision": ["frames_decoded": .int(Int64(videos.frames)), "decode_seconds": .double(videos.decodeSeconds),
                                      "images_encoded": .int(Int64(v.images)), "encode_seconds": .double(v.encodeSeconds)]]
            print(j.serialized(pretty: true))
        } else {
            print("")
            let decoded = videos.frames > 0 ? "decoded \(videos.frames) frame(s) at \(fixed(Double(videos.frames) / max(videos.decodeSeconds, 1e-9), 1))/s · " : ""
            printErr(decoded + "encoded \(v.images) frame(s)/tile(s) at \(fixed(v.imagesPerSecond, 1))/s · " + summaryLine(result))
        }
    }
}

/// "prompt 14 tokens · 32 generated (eos) · prefill 812.3 tok/s · decode 64.1 tok/s"
func summaryLine(_ r: GenerationResult) -> String {
    let t = r.timings
    return "prompt \(t.promptTokens) tokens · \(t.generatedTokens) generated (\(r.stopReason.rawValue)) · prefill \(fixed(t.prefillTokensPerSecond, 1)) tok/s · decode \(fixed(t.decodeTokensPerSecond, 1)) tok/s"
}

/// "1,2, 3" → [1, 2, 3].
func parseIds(_ s: String) throws -> [Int] {
    let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
    let ids = parts.compactMap { Int($0) }
    guard ids.count == parts.count, !ids.isEmpty else { throw ValidationError("--input-ids takes comma-separated integers, got \"\(s)\"") }
    return ids
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal; the KV cache is kept between turns.",
        discussion: """
        Type a message and press Enter. Each turn renders the whole conversation with the model's chat template and \
        runs only the tokens that differ from what the cache already holds, so long conversations stay fast. \
        Commands: /reset starts over, /exit (or end of input) quits. A message that would take the conversation past \
        the context is not answered (an error says so; /reset starts over) and the chat goes on; the exit status is \
        then 1.

        Example:
          reel chat qwen2-q4.reel --system "You are terse."
        """)

    @Argument(help: "The .reel model.")
    var model: String

    @Option(help: "A system message for the whole conversation.")
    var system: String?

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var load: ModelOptions

    func run() throws {
        let m = try TextModel(path: model, options: load.decoderOptions)
        let options = try sampling.options(for: m)  // once: the same settings every turn
        var messages: [JSON] = system.map { [["role": "system", "content": .string($0)]] } ?? []
        var cached: [Int] = []   // the tokens the KV cache holds, in order
        var unanswered = 0       // turns that did not fit the context
        let interactive = isatty(0) != 0
        if interactive { printErr("reel chat — \(model). /reset starts over, /exit quits.") }
        while true {
            if interactive { fputs("> ", stdout); fflush(stdout) }
            guard let line = readLine() else { break }
            if line == "/exit" { break }
            if line == "/reset" {
                messages = system.map { [["role": "system", "content": .string($0)]] } ?? []
                cached = []
                m.decoder.reset()
                continue
            }
            if line.allSatisfy(\.isWhitespace) { continue }  // nothing to say
            messages.append(["role": "user", "content": .string(line)])
            let ids = try m.promptIds(messages: messages)
            // Keep the cached prefix the new prompt shares; run only the rest.
            var common = 0
            while common < min(cached.count, ids.count - 1) && cached[common] == ids[common] { common += 1 }
            m.decoder.rewind(to: common)
            let result: GenerationResult
            do {
                result = try m.generate(prompt: Array(ids[common...]), options: options) { piece in
                    fputs(piece, stdout)
                    fflush(stdout)
                }
            } catch RuntimeError.contextExceeded(_, _, let capacity) {
                // The conversation no longer fits: this turn goes unanswered (the cache keeps the shared prefix) and
                // the chat goes on, so /reset can start over; the exit status says a turn was skipped.
                messages.removeLast()
                cached = Array(cached.prefix(common))
                unanswered += 1
                printErr("error: the conversation with this message is \(ids.count) tokens, more than the context of \(capacity) positions: not answered. /reset starts over; --context N gives a longer context.")
                continue
            }
            print("")
            if interactive { printErr(summaryLine(result)) }
            // The cache now holds the prompt and every generated token but the last (never fed back).
            cached = ids + result.tokens.dropLast()
            messages.append(["role": "assistant", "content": .string(result.text)])
        }
        if unanswered > 0 { throw CLIError("\(unanswered) message(s) did not fit the context of \(m.decoder.cache.capacity) positions and went unanswered") }
    }
}
