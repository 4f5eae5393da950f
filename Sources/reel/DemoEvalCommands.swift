#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import ReelConvert
import ReelCore
import ReelFormat
import ReelMedia
import ReelModels
import ReelQuant
import ReelRuntime

/// Whether `path` is a Reel AV file (reads only the metadata).
func isReelAV(_ path: String) throws -> Bool {
    try ReelFile(path: path).architecture == ReelAVFamily.name
}

/// One question about one clip through `ReelAVModel`: the single path `reel run --video`, `reel eval` and `reel demo`
/// share (media → encoders → splice → greedy or sampled generation).
struct ReelAVAnswer {
    var result: GenerationResult
    var clip: ReelAVClip
    var encode: ReelAVTimings

    static func ask(_ m: ReelAVModel, video: String, question: String, system: String? = nil, audio: Bool,
                    options: GenerationOptions, clip cached: ReelAVClip? = nil, onText: (String) -> Void) throws -> ReelAVAnswer {
        let clip = try cached ?? m.clipInputs(videoPath: video, audio: audio)
        let input = try m.prompt(question: question, system: system, clip: clip)
        let r = try m.generate(input, options: options, onText: onText)
        return ReelAVAnswer(result: r, clip: clip, encode: m.timings)
    }

    /// "frames: 4 decoded at 95.1/s, encoded at 210.3/s · audio: 2 windows (decode + log-mel 0.05 s, encode 0.02 s) · prompt …"
    var timingsLine: String {
        let f = clip.frameIndices.count
        var s = "frames: \(f) decoded at \(fixed(Double(f) / max(clip.frameSeconds, 1e-9), 1))/s, encoded at \(fixed(encode.framesPerSecond, 1))/s · "
        s += clip.hasAudio ? "audio: \(encode.audioWindows) window(s) (decode + log-mel \(fixed(clip.audioSeconds, 2)) s, encode \(fixed(encode.audioSeconds, 2)) s) · "
                           : "audio: off · "
        return s + summaryLine(result)
    }

    var timingsJSON: JSON {
        ["frames_decoded": .int(Int64(clip.frameIndices.count)), "frame_decode_seconds": .double(clip.frameSeconds),
         "frames_encoded": .int(Int64(encode.framesEncoded)), "vision_seconds": .double(encode.visionSeconds),
         "audio_windows": .int(Int64(encode.audioWindows)), "audio_decode_seconds": .double(clip.audioSeconds),
         "audio_seconds": .double(encode.audioSeconds), "generation": result.timings.json]
    }
}

extension Run {
    /// A Reel AV model on one clip: frames at the §4.2 indices, the clip's sound unless --no-audio.
    func runReelAV() throws {
        guard video.count == 1 else { throw CLIError("a Reel AV model takes one --video clip") }
        if frames != nil || fps != nil {
            throw CLIError("--frames/--fps do not apply to Reel AV: its config fixes the frames per segment (formats/REEL-AV.md §4.2)")
        }
        let m = try ReelAVModel(path: model, options: load.decoderOptions)
        let clip = try m.clipInputs(videoPath: video[0], audio: !noAudio)
        if let note = clip.audioNote, !json { printErr("note: \(note): running on the frames only") }
        let a = try ReelAVAnswer.ask(m, video: video[0], question: prompt!, system: system, audio: !noAudio,
                                     options: sampling.options(for: m.text), clip: clip) { piece in
            if !json {
                fputs(piece, stdout)
                fflush(stdout)
            }
        }
        if json {
            let r = a.result
            let j: JSON = ["tokens": .array(r.tokens.map { .int(Int64($0)) }), "text": .string(r.text),
                           "stop_reason": .string(r.stopReason.rawValue), "timings": r.timings.json,
                           "media": a.timingsJSON, "segments": .int(Int64(clip.segments)), "audio": .bool(clip.hasAudio)]
            print(j.serialized(pretty: true))
        } else {
            print("")
            printErr("\(clip.segments) segment(s) · " + a.timingsLine)
        }
    }
}

// MARK: reel eval

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy of a Reel AV model on a question set (Video-MME-style JSON lines).",
        discussion: """
        Each line of the set names a video (relative to the set's file), a question, optional lettered options and \
        the expected answer (docs/eval.md). Every item runs through the same path as `reel run --video` with greedy \
        decoding; multiple-choice answers are scored by the option letter they contain (Video-MME's rule), open \
        answers by normalised exact match. Prints accuracy overall and per category.

        Examples:
          reel eval demo-q4.reel --set examples/reel-av-demo/heldout/questions.jsonl
          reel eval reel-av-demo-q4.reel --set questions.jsonl --log --json
        """)

    @Argument(help: "The .reel model (architecture reel_av).")
    var model: String

    @Option(name: .customLong("set"), help: "The question set (.jsonl).")
    var set: String

    @Option(help: "Stop each answer after this many tokens.")
    var maxTokens = 16

    @Option(help: "Only the first N items.")
    var limit: Int?

    @Flag(help: "Frames only, leave the clips' sound out.")
    var noAudio = false

    @Flag(help: "A line per item on stderr: verdict, category, question, answer, expected.")
    var log = false

    @Flag(help: "Print the report ({overall, categories, timings}) as JSON on stdout.")
    var json = false

    @OptionGroup var load: ModelOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    func run() throws {
        let questions = try QuestionSet(path: set)
        let items = Array(questions.items.prefix(limit ?? questions.items.count))
        let m = try ReelAVModel(path: model, options: load.decoderOptions)
        let outcome = try evaluate(m, items: items, setPath: set, audio: !noAudio, maxTokens: maxTokens, log: log, quiet: json)
        if json {
            var o = JSONObject([("model", .string(model)), ("set", .string(set))])
            for (k, v) in outcome.report.json.object ?? JSONObject() { o[k] = v }
            o["timings"] = outcome.timings.json
            print(JSON.object(o).serialized(pretty: true))
        } else {
            printReport(outcome.report, title: "\(model) on \(set)")
            printErr(outcome.timings.line)
        }
    }
}

/// Totals over an evaluation run.
struct EvalTimings {
    var items = 0, frames = 0, promptTokens = 0, generatedTokens = 0
    var mediaSeconds = 0.0, encodeSeconds = 0.0, prefillSeconds = 0.0, decodeSeconds = 0.0, wallSeconds = 0.0

    mutating func add(_ a: ReelAVAnswer, mediaFresh: Bool) {
        items += 1
        frames += a.encode.framesEncoded
        if mediaFresh { mediaSeconds += a.clip.frameSeconds + a.clip.audioSeconds }
        encodeSeconds += a.encode.visionSeconds + a.encode.audioSeconds
        promptTokens += a.result.timings.promptTokens
        generatedTokens += a.result.timings.generatedTokens
        prefillSeconds += a.result.timings.prefillSeconds
        decodeSeconds += a.result.timings.decodeSeconds
    }

    var json: JSON {
        ["items": .int(Int64(items)), "wall_seconds": .double(wallSeconds), "media_seconds": .double(mediaSeconds),
         "encode_seconds": .double(encodeSeconds), "frames_encoded": .int(Int64(frames)),
         "prompt_tokens": .int(Int64(promptTokens)), "prefill_seconds": .double(prefillSeconds),
         "generated_tokens": .int(Int64(generatedTokens)), "decode_seconds": .double(decodeSeconds),
         "prefill_tokens_per_s": .double(prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0),
         "decode_tokens_per_s": .double(decodeSeconds > 0 ? Double(max(generatedTokens - items, 0)) / decodeSeconds : 0)]
    }

    var line: String {
        "\(items) item(s) in \(fixed(wallSeconds, 1)) s · media \(fixed(mediaSeconds, 2)) s · encoders \(fixed(encodeSeconds, 2)) s (\(fixed(encodeSeconds > 0 ? Double(frames) / encodeSeconds : 0, 1)) frames/s, audio included) · prefill \(fixed(prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0, 1)) tok/s · decode \(fixed(decodeSeconds > 0 ? Double(max(generatedTokens - items, 0)) / decodeSeconds : 0, 1)) tok/s"
    }
}

/// Runs every item greedily (clips decoded once each), with a progress bar and an optional per-item log.
func evaluate(_ m: ReelAVModel, items: [QuestionItem], setPath: String? = nil, audio: Bool, maxTokens: Int, log: Bool, quiet: Bool)
    throws -> (report: EvalReport, timings: EvalTimings) {
    var report = EvalReport()
    var t = EvalTimings()
    let start = ProgressBar.now()
    let bar = ProgressBar(label: "eval", total: items.count, totalBytes: items.count, quiet: quiet || log)
    var clips: [String: ReelAVClip] = [:]
    var noted = Set<String>()
    let options = GenerationOptions(maxTokens: maxTokens, sampler: .greedy)
    for (i, item) in items.enumerated() {
        let cached = clips[item.videoPath]
        let a: ReelAVAnswer
        do {
            a = try ReelAVAnswer.ask(m, video: item.videoPath, question: item.prompt, audio: audio, options: options,
                                     clip: cached) { _ in }
        } catch {
            throw CLIError("\(setPath.map { "\($0):\(item.line): " } ?? "")\(error)")  // which item of the set
        }
        clips[item.videoPath] = a.clip
        if let note = a.clip.audioNote, audio, !noted.contains(item.videoPath) {
            noted.insert(item.videoPath)
            printErr("note: \(item.video): \(note): frames only")
        }
        let ok = item.isCorrect(a.result.text)
        report.add(category: item.category, correct: ok)
        t.add(a, mediaFresh: cached == nil)
        if log {
            let q = item.question.replacingOccurrences("\n", " ")
            printErr("[\(i + 1)/\(items.count)] \(ok ? "ok  " : "MISS") \(pad(item.category, 6)) \(item.video): \(q) → \"\(a.result.text.trimmedWhitespace)\" (expected \(item.answer))")
        }
        bar.advance(items: 1, bytes: 1, note: "\(report.overall.correct)/\(report.overall.total) correct")
    }
    bar.finish()
    t.wallSeconds = ProgressBar.now() - start
    return (report, t)
}

/// "accuracy 92.5% (37/40)" and one row per category, on stdout.
func printReport(_ r: EvalReport, title: String) {
    print(title)
    func row(_ x: EvalReport.Row) -> String {
        "  \(pad(x.category, 10)) \(rpad(fixed(100 * x.accuracy, 1), 5))%  (\(x.correct)/\(x.total))"
    }
    print(row(r.overall))
    for c in r.categories { print(row(c)) }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: String) -> String {
        var out = ""
        for ch in self { if ch == a { out += b } else { out.append(ch) } }
        return out
    }

    var trimmedWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" { s.removeLast() }
        return String(s)
    }
}

// MARK: reel demo

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See the whole pipeline answer questions about fresh synthetic clips, from an int4 file.",
        discussion: """
        Makes a handful of new clips with ffmpeg (coloured shapes moving over a background, a soundtrack of beeps), \
        converts the bundled examples/reel-av-demo checkpoint to int4 once (cached under $XDG_CACHE_HOME/reel or \
        ~/.cache/reel, rebuilt when the checkpoint changes), and asks each clip a question through exactly the path of `reel run --video` \
        (frames and sound). The model is SMALL and was trained only on synthetic clips like these: it shows the \
        pipeline working end to end, not general video understanding.

        Examples:
          reel demo
          reel demo --all            # f32 and int8 beside int4
          reel demo --clips 8 --seed 42
        """)

    @Option(help: "The Reel AV checkpoint directory.")
    var checkpoint = "examples/reel-av-demo"

    @Option(help: "Clips to make (1–64).")
    var clips = 4

    @Option(help: "Seed of the clips (default: a fresh one each run).")
    var seed: UInt64?

    @Flag(help: "Also run the f32 and int8 conversions and print their accuracy beside int4's.")
    var all = false

    @Option(help: "Where the converted files are cached (default: $XDG_CACHE_HOME/reel or ~/.cache/reel).")
    var cacheDir: String?

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Option(help: "Keep the clips in this directory, with a questions.jsonl for `reel eval --set` (docs/eval.md).")
    var saveClips: String?

    func validate() throws {
        try ModelOptions.validate(threads: threads)
        if clips < 1 || clips > 64 { throw ValidationError("--clips must be in 1...64") }
    }

    func run() throws {
        let dir = try locateCheckpoint()
        print("Reel AV demo — a SMALL model (a few MB) trained only on synthetic clips of coloured shapes and beeps.")
        print("It exercises the whole pipeline: ffmpeg decode → SigLIP frames + Whisper audio → Qwen2 decoder, from an int4 file.\n")
        let cache = try cacheDirectory()
        let encodings: [Encoding] = all ? [.q4, .q8, .f32] : [.q4]
        var files: [(Encoding, String)] = []
        for e in encodings { files.append((e, try cachedConversion(dir, encoding: e, cache: cache))) }

        // Fresh clips, each with one question (seen, heard, both, or multiple choice in turn).
        let base = seed ?? UInt64(ProgressBar.now() * 1e6) & 0xFFFF_FFFF
        let work = try makeTempDir()
        defer { removeTree(work) }
        let t0 = ProgressBar.now()
        let items = try makeClips(seed: base, work: work)
        print("made \(clips) clip(s) with ffmpeg in \(fixed(ProgressBar.now() - t0, 1)) s (seed \(base))\n")

        var summaries: [(Encoding, EvalReport, EvalTimings)] = []
        for (e, file) in files {
            if e != .q4 { print("running the same clips with \(encodingName(e)) …") }
            let (r, t) = try ask(file: file, items: items, show: e == .q4)
            summaries.append((e, r, t))
        }
        print("")
        for (e, r, t) in summaries {
            print("\(pad(encodingName(e), 5)) accuracy \(fixed(100 * r.overall.accuracy, 1))% (\(r.overall.correct)/\(r.overall.total)) · \(t.line)")
        }
        print("\n(A small model trained on synthetic clips, shown to exercise the pipeline; see docs/reel-av.md.)")
    }

    typealias DemoItem = (path: String, q: ReelAVDemoClips.Question)

    /// Writes `clips` clips (to --save-clips with a questions.jsonl, else to `work`) and picks a question for each.
    func makeClips(seed base: UInt64, work: String) throws -> [DemoItem] {
        let clipDir = saveClips ?? work
        if let saveClips { try makeDirectories(saveClips) }
        let categories = ["both", "heard", "seen", "choice"]
        var items: [DemoItem] = []
        for k in 0..<clips {
            let scene = ReelAVDemoClips.scene(seed: base &+ UInt64(k) &* 7919)
            let path = joinPath(clipDir, "clip\(k).mp4")
            try writeClip(scene, path: path, work: work)
            items.append((path, ReelAVDemoClips.question(scene, category: categories[k % categories.count])))
        }
        if let saveClips {
            let lines = items.enumerated().map { k, it -> String in
                var o = JSONObject([("video", .string("clip\(k).mp4")), ("question", .string(it.q.question))])
                if !it.q.options.isEmpty { o["options"] = .array(it.q.options.map { .string($0) }) }
                o["answer"] = .string(it.q.answer)
                o["category"] = .string(it.q.category)
                return JSON.object(o).serialized()
            }
            try writeFile(joinPath(saveClips, "questions.jsonl"), Array((lines.joined(separator: "\n") + "\n").utf8))
        }
        return items
    }

    /// Asks every clip its question with the model in `file` (greedy, as `reel run --video`); with `show`, prints
    /// the question, the streamed answer, the expected one and the timings line.
    func ask(file: String, items: [DemoItem], show: Bool) throws -> (EvalReport, EvalTimings) {
        let m = try ReelAVModel(path: file, options: DecoderOptions(threads: threads))
        let options = GenerationOptions(maxTokens: 16, sampler: .greedy)
        var report = EvalReport()
        var t = EvalTimings()
        let start = ProgressBar.now()
        for (k, item) in items.enumerated() {
            if show {
                print("clip \(k + 1): \(item.q.prompt.replacingOccurrences("\n", " | "))")
                fputs("  model:    ", stdout); fflush(stdout)
            }
            let a = try ReelAVAnswer.ask(m, video: item.path, question: item.q.prompt, audio: true, options: options) { piece in
                if show { fputs(piece, stdout); fflush(stdout) }
            }
            let ok = QuestionItemView(options: item.q.options, answer: item.q.answer).isCorrect(a.result.text)
            report.add(category: item.q.category, correct: ok)
            t.add(a, mediaFresh: true)
            if show {
                print("\n  expected: \(item.q.answer)   \(ok ? "✓" : "✗")")
                fflush(stdout)  // keep the order when stdout and stderr go to one pipe
                printErr("  " + a.timingsLine)
            }
        }
        t.wallSeconds = ProgressBar.now() - start
        return (report, t)
    }

    func encodingName(_ e: Encoding) -> String { e == .q4 ? "int4" : e == .q8 ? "int8" : e.rawValue }

    /// The checkpoint directory: as given, else beside the executable's repository (…/.build/<config>/reel).
    func locateCheckpoint() throws -> String {
        var candidates = [checkpoint]
        if !checkpoint.hasPrefix("/") {
            var exe = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/exe", &exe, exe.count - 1)
            if n > 0 {
                var p = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                for _ in 0..<4 { if let s = p.lastIndex(of: "/") { p = String(p[..<s]) } }  // reel, <config>, .build → repo
                candidates.append(joinPath(p, checkpoint))
            }
        }
        for c in candidates where isDirectory(c) && fileExists(joinPath(c, "config.json")) && fileExists(joinPath(c, "model.safetensors")) {
            return c
        }
        if let c = candidates.first(where: isDirectory) {
            throw CLIError("\(c) holds no trained checkpoint yet (config.json + model.safetensors; made by tools/train_demo.py). Pass --checkpoint DIR to use another Reel AV checkpoint.")
        }
        throw CLIError("the demo checkpoint directory \(checkpoint) is missing (looked in: \(candidates.joined(separator: ", "))). It is made by tools/train_demo.py and committed as examples/reel-av-demo/; pass --checkpoint DIR to use another.")
    }

    func cacheDirectory() throws -> String {
        let env = { (k: String) -> String? in getenv(k).map { String(cString: $0) } }
        let dir = cacheDir ?? env("XDG_CACHE_HOME").map { joinPath($0, "reel") } ?? env("HOME").map { joinPath($0, ".cache/reel") } ?? ".reel-cache"
        try makeDirectories(dir)
        return dir
    }

    /// The checkpoint converted at `encoding`, reused while the checkpoint's bytes (model.safetensors, configs,
    /// tokenizer) hash the same.
    func cachedConversion(_ dir: String, encoding: Encoding, cache: String) throws -> String {
        var h = StreamingXXH64()
        for name in (try listDirectory(dir)).sorted() where name.hasSuffix(".json") || name == "model.safetensors" || name.hasSuffix(".jinja") {
            h.update(Array(name.utf8))
            h.update(try readWholeFile(joinPath(dir, name)))
        }
        h.update(Array(ReelVersion.string.utf8))
        let out = joinPath(cache, "reel-av-demo-\(Checksum.hex(h.digest()))-\(encoding.rawValue).reel")
        if fileExists(out), (try? ReelFile(path: out)) != nil { return out }
        printErr("converting \(dir) to \(encodingName(encoding)) → \(out) (once; cached)")
        _ = try Converter.convert(checkpoint: dir, options: ConvertOptions(output: out, quant: encoding == .f32 ? .f32 : encoding,
                                                                          force: true, quiet: true))
        return out
    }

    func writeClip(_ scene: ReelAVDemoClips.Scene, path: String, work: String) throws {
        let rgb = joinPath(work, "frames.rgb"), wav = joinPath(work, "audio.wav")
        try writeFile(rgb, ReelAVDemoClips.frames(scene))
        try writeFile(wav, ReelAVDemoClips.wav(ReelAVDemoClips.audio(scene)))
        let tools = try MediaTools.locate()
        try spawnAndWait(tools.ffmpeg, ReelAVDemoClips.ffmpegArguments(frames: rgb, wav: wav, output: path))
    }
}

/// Scoring of a demo question, the same rules as `QuestionItem.isCorrect`.
struct QuestionItemView {
    let options: [String]
    let answer: String
    func isCorrect(_ response: String) -> Bool {
        options.isEmpty ? QuestionScoring.normalise(response) == QuestionScoring.normalise(answer)
                        : QuestionScoring.optionLetter(response) == answer.uppercased()
    }
}

// MARK: small POSIX helpers for the demo (no Foundation in the CLI)

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    guard let f = fopen(path, "wb") else { throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    guard n == bytes.count else { throw CLIError("short write to \(path)") }
}

func makeDirectories(_ path: String) throws {
    var p = ""
    for part in path.split(separator: "/", omittingEmptySubsequences: false) {
        p += (p.isEmpty && path.hasPrefix("/") ? "/" : (p.isEmpty ? "" : "/")) + part
        if part.isEmpty { continue }
        if !isDirectory(p) && mkdir(p, 0o755) != 0 && errno != EEXIST {
            throw CLIError("cannot create \(p): \(String(cString: strerror(errno)))")
        }
    }
}

func makeTempDir() throws -> String {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array((base + "/reel-demo-XXXXXX").utf8CString)
    guard let p = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory in \(base)") }
    return String(cString: p)
}

func removeTree(_ dir: String) {
    for name in (try? listDirectory(dir)) ?? [] where name != "." && name != ".." { unlink(joinPath(dir, name)) }
    rmdir(dir)
}

/// Runs `executable` with `arguments` (stdout/stderr inherited) and fails naming it on a non-zero exit.
func spawnAndWait(_ executable: String, _ arguments: [String]) throws {
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, nil, nil, argv, environ)
    guard rc == 0 else { throw CLIError("cannot run \(executable): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    guard status == 0 else { throw CLIError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status))") }
}
