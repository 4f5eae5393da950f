import ReelCore

/// The time layout of a Reel AV prompt (formats/REEL-AV.md §3–4): how a clip is cut into segments, which frames and
/// which audio window each segment takes, and how the one `<video>` token becomes the interleaved placeholders.
public struct ReelAVLayout: Sendable, Equatable {
    public let segmentSeconds: Double
    public let framesPerSegment: Int
    public let maxSegments: Int
    public let visionTokensPerFrame: Int
    public let audioTokensPerSegment: Int
    public let videoToken: Int
    public let frameToken: Int
    public let audioToken: Int

    /// Upper bounds on the time layout's counts (formats/REEL-AV.md §1), so a file cannot ask for more frames, segments
    /// or placeholders than any real clip needs: everything sized by them (frame lists, pixels, audio windows, prompt
    /// placeholders) stays small and its arithmetic cannot overflow.
    public enum Limits {
        /// `frames_per_segment`, `max_segments`, and their product (frames per clip), at most this.
        public static let framesPerClip = 1024
        /// `segment_seconds` at most this (an hour).
        public static let segmentSeconds = 3600.0
        /// `vision_tokens_per_frame` and `audio_tokens_per_segment` at most this.
        public static let tokens = 65536
    }

    /// From the `projector` component's normalised config (`ReelAVFamily`).
    /// - Throws: `ModelsError` naming the key when a count is missing, not positive, or over its `Limits`, or when the
    ///   placeholder ids are negative or not distinct.
    public init(projectorConfig c: JSONObject, source: String = "reel_av") throws {
        let r = ConfigReader(.object(c), source: source, path: "projector.")
        segmentSeconds = try Self.segmentSeconds(r)
        (framesPerSegment, maxSegments) = try Self.segmentCounts(r)
        visionTokensPerFrame = try r.positiveInt("vision_tokens_per_frame")  // ≤ Limits.tokens (ConfigLimits)
        audioTokensPerSegment = try r.positiveInt("audio_tokens_per_segment")
        videoToken = try r.int("video_token_index")
        frameToken = try r.int("frame_token_index")
        audioToken = try r.int("audio_token_index")
        try Self.checkTokens(r, video: videoToken, frame: frameToken, audio: audioToken)
    }

    /// The three placeholder ids: not negative, and distinct (the splice tells modalities apart by id).
    static func checkTokens(_ r: ConfigReader, video: Int, frame: Int, audio: Int) throws {
        let ids = [("video_token_index", video), ("frame_token_index", frame), ("audio_token_index", audio)]
        for (key, id) in ids where id < 0 {
            throw ModelsError.badValue(source: r.source, key: r.path + key, message: "\(id) is negative")
        }
        for (i, a) in ids.enumerated() {
            for b in ids[(i + 1)...] where a.1 == b.1 {
                throw ModelsError.badValue(source: r.source, key: r.path + b.0, message: "\(b.1) is also \(a.0)")
            }
        }
    }

    /// `segment_seconds`: finite, positive, at most `Limits.segmentSeconds`.
    static func segmentSeconds(_ r: ConfigReader, default d: Double? = nil) throws -> Double {
        let t = try r.double("segment_seconds", default: d)
        guard t > 0, t <= Limits.segmentSeconds else {
            throw ModelsError.badValue(source: r.source, key: r.path + "segment_seconds",
                                       message: "\(t); must be positive and at most \(Limits.segmentSeconds)")
        }
        return t
    }

    /// `frames_per_segment` and `max_segments`, each and their product (frames per clip) at most `Limits.framesPerClip`.
    static func segmentCounts(_ r: ConfigReader, defaults: (Int, Int)? = nil) throws -> (Int, Int) {
        let f = try r.positiveInt("frames_per_segment", default: defaults?.0)  // each ≤ Limits.framesPerClip (ConfigLimits)
        let n = try r.positiveInt("max_segments", default: defaults?.1)
        guard f * n <= Limits.framesPerClip else {
            throw ModelsError.badValue(source: r.source, key: r.path + "frames_per_segment",
                                       message: "\(f) frames × max_segments \(n) = \(f * n) frames per clip, more than \(Limits.framesPerClip)")
        }
        return (f, n)
    }

    /// Prompt placeholders of a clip cut into `segments` segments: `segments · (F·Tv + Ta)` (Ta only with audio).
    public func placeholderCount(segments: Int, audio: Bool) -> Int {
        segments * (framesPerSegment * visionTokensPerFrame + (audio ? audioTokensPerSegment : 0))
    }

    /// Segment starts in seconds (§4.2): `n = max(1, min(max_segments, ceil(D/T)))`, `stride = max(T, D/n)`.
    /// The count is taken in double precision, so a clip of any length (or a frame rate of 0) gives 1…max_segments.
    public func segmentStarts(frameCount: Int, fps: Double) -> [Double] {
        let duration = Double(frameCount) / fps
        let want = (duration / segmentSeconds).rounded(.up)
        let n = want >= Double(maxSegments) ? maxSegments : (want >= 1 ? Int(want) : 1)
        let stride = max(segmentSeconds, duration / Double(n))
        return (0..<n).map { Double($0) * stride }
    }

    /// Frame j of segment k: `min(N − 1, floor((start_k + (j + 0.5)·T/F)·fps))` (§4.2), in (segment, frame) order.
    public func frameIndices(frameCount: Int, fps: Double) -> [Int] {
        segmentStarts(frameCount: frameCount, fps: fps).flatMap { start in
            (0..<framesPerSegment).map { j in
                // min(N − 1, ·) taken before the conversion to Int, which traps on values out of its range
                let x = ((start + (Double(j) + 0.5) * segmentSeconds / Double(framesPerSegment)) * fps).rounded(.down)
                return x < Double(frameCount - 1) ? Int(max(x, 0)) : frameCount - 1
            }
        }
    }

    /// Segment k's audio window (§4.4): `windowSamples` samples from `round(start·rate)`, zero-padded past the end.
    public func audioWindow(_ samples: [Float], start: Double, sampleRate: Int, windowSamples: Int) -> [Float] {
        var out = [Float](repeating: 0, count: windowSamples)
        let at = (start * Double(sampleRate)).rounded()
        if at >= 0, at < Double(samples.count) {  // compared as Double: a start past the audio is all zeros
            let from = Int(at), n = min(windowSamples, samples.count - from)
            out.replaceSubrange(0..<n, with: samples[from..<(from + n)])
        }
        return out
    }

    /// Placeholders of one segment: F·Tv `<frame>` then (with audio) Ta `<audio>` (§3).
    func segmentTokens(audio: Bool) -> [Int] {
        Array(repeating: frameToken, count: framesPerSegment * visionTokensPerFrame)
            + (audio ? Array(repeating: audioToken, count: audioTokensPerSegment) : [])
    }

    /// Replaces the single `<video>` id of a prompt with the interleaved placeholders of `segments` segments.
    public func expand(_ ids: [Int], segments: Int, audio: Bool) throws -> [Int] {
        let at = ids.indices.filter { ids[$0] == videoToken }
        guard at.count == 1 else {
            throw ReelAVError.videoPlaceholders(found: at.count)
        }
        let one = segmentTokens(audio: audio)
        return Array(ids[..<at[0]]) + (0..<segments).flatMap { _ in one } + Array(ids[(at[0] + 1)...])
    }

    /// Overwrites the embedding rows of `<frame>` positions with vision feature rows and of `<audio>` positions with
    /// audio feature rows, each in sequence order (LLaVA's masked_scatter per modality).
    /// - Parameters:
    ///   - embeddings: f32 [ids.count, hidden], modified in place.
    ///   - vision: f32 [frames·Tv, hidden] in (segment, frame, token) order.
    ///   - audio: f32 [segments·Ta, hidden] in (segment, token) order, or empty without audio.
    public func splice(into embeddings: inout [Float], ids: [Int], hidden: Int, vision: [Float], audio: [Float]) throws {
        let framePositions = ids.indices.filter { ids[$0] == frameToken }
        let audioPositions = ids.indices.filter { ids[$0] == audioToken }
        guard framePositions.count * hidden == vision.count else {
            throw ReelAVError.featureCount(kind: "vision", placeholders: framePositions.count, features: vision.count / max(hidden, 1))
        }
        guard audioPositions.count * hidden == audio.count else {
            throw ReelAVError.featureCount(kind: "audio", placeholders: audioPositions.count, features: audio.count / max(hidden, 1))
        }
        for (r, p) in framePositions.enumerated() {
            embeddings.replaceSubrange((p * hidden)..<((p + 1) * hidden), with: vision[(r * hidden)..<((r + 1) * hidden)])
        }
        for (r, p) in audioPositions.enumerated() {
            embeddings.replaceSubrange((p * hidden)..<((p + 1) * hidden), with: audio[(r * hidden)..<((r + 1) * hidden)])
        }
    }
}

/// Reel AV errors, naming what did not match.
public enum ReelAVError: Error, CustomStringConvertible, Equatable {
    case videoPlaceholders(found: Int)
    case featureCount(kind: String, placeholders: Int, features: Int)
    case notReelAV(path: String, architecture: String)
    case config(path: String, key: String, message: String)
    case unusedWeights(path: String, names: [String])
    case media(path: String, message: String)
    case inputShape(name: String, expected: [Int], count: Int)
    case noAudioTower(path: String)

    public var description: String {
        switch self {
        case let .videoPlaceholders(n): return "the prompt must hold exactly one <video> token (the chat template puts it there), found \(n)"
        case let .featureCount(kind, p, f): return "\(p) \(kind) placeholders but \(f) \(kind) feature rows"
        case let .notReelAV(path, arch): return "\(path): architecture \(arch) is not reel_av (formats/REEL-AV.md)"
        case let .config(path, key, message): return "\(path): \(key): \(message)"
        case let .unusedWeights(path, names): return "\(path): tensors not used by reel_av: \(names.joined(separator: ", "))"
        case let .media(path, message): return "\(path): \(message)"
        case let .inputShape(name, expected, count): return "\(name): \(count) values are not \(expected)"
        case let .noAudioTower(path): return "\(path) has no audio tower"
        }
    }
}
