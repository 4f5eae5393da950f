#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ReelCore

/// Synthetic clips for `reel demo`: a Swift port of tools/reel_av/clips.py (same sizes, colours, shapes, motion,
/// beeps and question wording, so the demo model's vocabulary covers every question), drawn from its own seeded
/// generator rather than numpy's, so the clips are fresh ones the model never saw. The CLI writes them with ffmpeg
/// (H.264 + AAC) exactly as `write_clip` does.
public enum ReelAVDemoClips {
    public static let size = 64            // frame width and height, pixels
    public static let fps = 8
    public static let seconds = 4.0
    public static let sampleRate = 16000
    static let travel = 30.0               // pixels a moving shape travels over the clip
    static let colours: [(String, (UInt8, UInt8, UInt8))] = [
        ("red", (220, 40, 40)), ("green", (40, 190, 60)), ("blue", (50, 90, 235)),
        ("yellow", (235, 215, 40)), ("white", (240, 240, 240)),
    ]
    static let shapes = ["circle", "square", "triangle"]
    static let directions = ["left", "right", "up", "down", "still"]
    static let backgrounds: [(UInt8, UInt8, UInt8)] = [(20, 20, 20), (45, 45, 50), (30, 40, 60), (60, 45, 35)]

    public struct Thing: Sendable {
        public let shape: String, colour: String, direction: String
        let radius: Double, x0: Double, y0: Double

        /// Centre at time t seconds.
        func position(_ t: Double) -> (Double, Double) {
            let f = t / ReelAVDemoClips.seconds * ReelAVDemoClips.travel
            switch direction {
            case "left": return (x0 - f, y0)
            case "right": return (x0 + f, y0)
            case "up": return (x0, y0 - f)
            case "down": return (x0, y0 + f)
            default: return (x0, y0)
            }
        }
    }

    public struct Scene: Sendable {
        public let seed: UInt64
        let background: (UInt8, UInt8, UInt8)
        public let things: [Thing]
        public let beeps: Int
        public let tone: String
        let frequency: Double, beepStart: Double, beepGap: Double, beepLength: Double
    }

    /// One question about a scene (the fields of a docs/eval.md line, without the video).
    public struct Question: Sendable {
        public let question: String
        public let options: [String]
        public let answer: String
        public let category: String

        /// The user message, as `QuestionItem.prompt` builds it.
        public var prompt: String {
            options.isEmpty ? question : ([question] + options + [QuestionItem.multipleChoiceInstruction]).joined(separator: "\n")
        }
    }

    /// SplitMix64: small, seeded, the same on every platform.
    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
        mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func normal() -> Double {
            let u = max(uniform(), 1e-300), v = uniform()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        mutating func shuffled<T>(_ a: [T]) -> [T] {
            var a = a
            for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(i + 1)) }
            return a
        }
    }

    /// A scene drawn from `seed` alone: 1–2 shapes of distinct colours and motions that never touch, 1–4 beeps of a
    /// high (1300–2000 Hz) or low (250–450 Hz) tone.
    public static func scene(seed: UInt64) -> Scene {
        var rng = RNG(state: seed)
        let n = 1 + rng.int(2)
        var things: [Thing] = []
        repeat {
            let cs = rng.shuffled(colours.map(\.0)).prefix(n), ds = rng.shuffled(directions).prefix(n)
            things = zip(cs, ds).map { c, d in
                let r = rng.uniform(7.0, 9.5)
                let lo = r + 2, hi = Double(size) - r - 2
                var x = rng.uniform(lo, hi), y = rng.uniform(lo, hi)
                switch d {
                case "left": x = rng.uniform(lo + travel, hi)
                case "right": x = rng.uniform(lo, hi - travel)
                case "up": y = rng.uniform(lo + travel, hi)
                case "down": y = rng.uniform(lo, hi - travel)
                default: break
                }
                return Thing(shape: shapes[rng.int(shapes.count)], colour: c, direction: d, radius: r, x0: x, y0: y)
            }
        } while !apart(things)
        let beeps = 1 + rng.int(4)
        let tone = rng.int(2) == 0 ? "high" : "low"
        let freq = tone == "high" ? rng.uniform(1300, 2000) : rng.uniform(250, 450)
        return Scene(seed: seed, background: backgrounds[rng.int(backgrounds.count)], things: things, beeps: beeps, tone: tone,
                     frequency: freq, beepStart: rng.uniform(0.1, 0.4), beepGap: rng.uniform(0.65, 0.95),
                     beepLength: rng.uniform(0.15, 0.25))
    }

    static func apart(_ things: [Thing]) -> Bool {
        for f in 0..<Int(seconds * Double(fps)) {
            let t = Double(f) / Double(fps)
            for i in things.indices {
                for j in things.indices where j > i {
                    let (xa, ya) = things[i].position(t), (xb, yb) = things[j].position(t)
                    if ((xa - xb) * (xa - xb) + (ya - yb) * (ya - yb)).squareRoot() < things[i].radius + things[j].radius + 3 { return false }
                }
            }
        }
        return true
    }

    /// u8 [frames, 64, 64, 3] RGB; frame i shows time i / fps.
    public static func frames(_ s: Scene) -> [UInt8] {
        let n = Int(seconds * Double(fps)), plane = size * size * 3
        var out = [UInt8](repeating: 0, count: n * plane)
        var img = [Double](repeating: 0, count: plane)
        for i in 0..<n {
            let t = Double(i) / Double(fps)
            for p in 0..<(size * size) {
                img[p * 3] = Double(s.background.0); img[p * 3 + 1] = Double(s.background.1); img[p * 3 + 2] = Double(s.background.2)
            }
            // A moving shape's trail: where it was dt seconds earlier, blended over what is there, faintest first.
            for th in s.things where th.direction != "still" {
                let rgb = colours.first { $0.0 == th.colour }!.1
                for (dt, alpha) in trail.reversed() {
                    for y in 0..<size {
                        for x in 0..<size where covers(th, at: t - dt, x: x, y: y) {
                            let o = (y * size + x) * 3
                            img[o] = img[o] * (1 - alpha) + Double(rgb.0) * alpha
                            img[o + 1] = img[o + 1] * (1 - alpha) + Double(rgb.1) * alpha
                            img[o + 2] = img[o + 2] * (1 - alpha) + Double(rgb.2) * alpha
                        }
                    }
                }
            }
            for p in 0..<plane { out[i * plane + p] = UInt8((img[p] + 0.5).rounded(.down)) }
            // The shapes themselves, on top.
            for th in s.things {
                let rgb = colours.first { $0.0 == th.colour }!.1
                for y in 0..<size {
                    for x in 0..<size where covers(th, at: t, x: x, y: y) {
                        let o = i * plane + (y * size + x) * 3
                        out[o] = rgb.0; out[o + 1] = rgb.1; out[o + 2] = rgb.2
                    }
                }
            }
        }
        return out
    }

    /// A moving shape's trail, as tools/reel_av/clips.py's TRAIL: (seconds back, opacity).
    static let trail: [(Double, Double)] = [(0.4, 0.55), (0.8, 0.35), (1.2, 0.18)]

    /// Whether pixel (x, y)'s centre is inside `th` at time t (clips.py `shape_mask`).
    static func covers(_ th: Thing, at t: Double, x: Int, y: Int) -> Bool {
        let (cx, cy) = th.position(t), r = th.radius
        let px = Double(x) + 0.5, py = Double(y) + 0.5
        switch th.shape {
        case "circle": return (px - cx) * (px - cx) + (py - cy) * (py - cy) <= r * r
        case "square": return abs(px - cx) <= r * 0.85 && abs(py - cy) <= r * 0.85
        default:  // triangle pointing up: apex (cx, cy − r), base at y = cy + 0.8 r
            let top = cy - r, base = cy + 0.8 * r
            return py >= top && py <= base && abs(px - cx) <= (py - top) / (base - top) * r
        }
    }

    /// i16 mono samples at 16 kHz: `beeps` tone bursts (10 ms ramps) over faint noise.
    public static func audio(_ s: Scene) -> [Int16] {
        let n = Int(seconds * Double(sampleRate))
        var rng = RNG(state: s.seed &+ 7_000_003)
        var a = (0..<n).map { _ in 0.01 * rng.normal() }
        let len = Int(s.beepLength * Double(sampleRate))
        let last = Double(len - 1) / Double(sampleRate)
        for k in 0..<s.beeps {
            let start = Int((s.beepStart + Double(k) * s.beepGap) * Double(sampleRate))
            for i in 0..<len where start + i < n {
                let t = Double(i) / Double(sampleRate)
                a[start + i] += 0.4 * sin(2 * Double.pi * s.frequency * t) * min(1, min(t, last - t) / 0.01)
            }
        }
        return a.map { Int16((max(-1, min(1, $0)) * 32767).rounded()) }
    }

    /// A 16-bit PCM mono wav file's bytes.
    public static func wav(_ samples: [Int16], rate: Int = sampleRate) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        let data = samples.count * 2
        var out = Array("RIFF".utf8) + le32(36 + data) + Array("WAVEfmt ".utf8) + le32(16) + le16(1) + le16(1)
        out += le32(rate) + le32(rate * 2) + le16(2) + le16(16) + Array("data".utf8) + le32(data)
        out.reserveCapacity(out.count + data)
        for s in samples { out += le16(Int(UInt16(bitPattern: s))) }
        return out
    }

    /// The arguments after `ffmpeg` that write the clip as tools/reel_av/clips.py `write_clip` does, reading the raw
    /// frames and the wav from files.
    public static func ffmpegArguments(frames: String, wav: String, output: String) -> [String] {
        ["-nostdin", "-v", "error", "-y",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(size)x\(size)", "-r", "\(fps)", "-i", frames,
         "-i", wav, "-map", "0:v", "-map", "1:a",
         "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p", "-threads", "1",
         "-c:a", "aac", "-b:a", "24k", "-ar", "\(sampleRate)", "-ac", "1",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
         "-movflags", "+faststart", output]
    }

    static func moves(_ t: Thing) -> String { t.direction == "still" ? "stands still" : "moves \(t.direction)" }

    /// Every question the scene answers (tools/reel_av/clips.py `questions_for`, same wording).
    static func allQuestions(_ s: Scene, _ rng: inout RNG) -> [Question] {
        var q: [Question] = []
        let shapesHere = s.things.map(\.shape)
        let beeps = "\(s.beeps)"
        func mc(_ question: String, _ answer: String, _ pool: [String], _ category: String) -> Question {
            let opts = rng.shuffled(Array(rng.shuffled(pool.filter { $0 != answer }).prefix(3)) + [answer])
            let letters = ["A", "B", "C", "D"]
            return Question(question: question, options: opts.enumerated().map { "\(letters[$0.offset]). \($0.element)" },
                            answer: letters[opts.firstIndex(of: answer)!], category: category)
        }
        q.append(Question(question: "How many shapes are there?", options: [], answer: "\(s.things.count)", category: "seen"))
        for t in s.things {
            q.append(Question(question: "What shape is the \(t.colour) one?", options: [], answer: t.shape, category: "seen"))
            q.append(Question(question: "Which way does the \(t.colour) \(t.shape) move?", options: [], answer: t.direction, category: "seen"))
            q.append(Question(question: "What colour is the shape that \(moves(t))?", options: [], answer: t.colour, category: "seen"))
            if shapesHere.filter({ $0 == t.shape }).count == 1 {
                q.append(Question(question: "What colour is the \(t.shape)?", options: [], answer: t.colour, category: "seen"))
            }
            q.append(mc("Which way does the \(t.colour) \(t.shape) move?", t.direction, directions, "seen"))
        }
        q.append(Question(question: "How many beeps are there?", options: [], answer: beeps, category: "heard"))
        q.append(Question(question: "Is the tone high or low?", options: [], answer: s.tone, category: "heard"))
        q.append(mc("How many beeps are there?", beeps, ["1", "2", "3", "4"], "heard"))
        for t in s.things {
            q.append(Question(question: "What colour is the shape that \(moves(t)), and how many beeps are there?", options: [],
                              answer: "\(t.colour), \(beeps)", category: "both"))
            q.append(Question(question: "What shape is the \(t.colour) one, and is the tone high or low?", options: [],
                              answer: "\(t.shape), \(s.tone)", category: "both"))
            q.append(Question(question: "Which way does the \(t.colour) \(t.shape) move, and how many beeps are there?", options: [],
                              answer: "\(t.direction), \(beeps)", category: "both"))
        }
        return q
    }

    /// One question of the scene from `category` ("seen", "heard", "both", or "choice" for a multiple-choice item).
    public static func question(_ s: Scene, category: String) -> Question {
        var rng = RNG(state: s.seed &+ 1_000_003)
        let all = allQuestions(s, &rng)
        let pool = category == "choice" ? all.filter { !$0.options.isEmpty }
                                        : all.filter { $0.category == category && $0.options.isEmpty }
        return pool[rng.int(pool.count)]
    }
}
