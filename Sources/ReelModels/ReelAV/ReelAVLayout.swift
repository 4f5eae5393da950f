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

    /// From the `projector` component's normalised config (`ReelAVFamily`).
    public init(projectorConfig c: JSONObject, source: String = "reel_av") throws {
        let r = ConfigReader(.object(c), source: source, path: "projector.")
        segmentSeconds = try r.double("segment_seconds")
        guard segmentSeconds > 0 else {
            throw ModelsError.badValue(source: source, key: "projector.segment_seconds", message: "must be positive")
        }
        framesPerSegment = try r.positiveInt("frames_per_segment")
        maxSegments = try r.positiveInt("max_segments")
        visionTokensPerFrame = try r.positiveInt("vision_tokens_per_frame")
        audioTokensPerSegment = try r.positiveInt("audio_tokens_per_segment")
        videoToken = try r.int("video_token_index")
        frameToken = try r.int("frame_token_index")
        audioToken = try r.int("audio_token_index")
    }

    /// Segment starts in seconds (§4.2): `n = max(1, min(max_segments, ceil(D/T)))`, `stride = max(T, D/n)`.
    public func segmentStarts(frameCount: Int, fps: Double) -> [Double] {
        let duration = Double(frameCount) / fps
        let n = max(1, min(maxSegments, Int((duration / segmentSeconds).rounded(.up))))
        let stride = max(segmentSeconds, duration / Double(n))
        return (0..<n).map { Double($0) * stride }
    }

    /// Frame j of segment k: `min(N − 1, floor((start_k + (j + 0.5)·T/F)·fps))` (§4.2), in (segment, frame) order.
    public func frameIndices(frameCount: Int, fps: Double) -> [Int] {
        segmentStarts(frameCount: frameCount, fps: fps).flatMap { start in
            (0..<framesPerSegment).map { j in
                min(frameCount - 1, Int(((start + (Double(j) + 0.5) * segmentSeconds / Double(framesPerSegment)) * fps).rounded(.down)))
            }
        }
    }

    /// Segment k's audio window (§4.4): `windowSamples` samples from `round(start·rate)`, zero-padded past the end.
    public func audioWindow(_ samples: [Float], start: Double, sampleRate: Int, windowSamples: Int) -> [Float] {
        var out = [Float](repeating: 0, count: windowSamples)
        let from = Int((start * Double(sampleRate)).rounded())
        if from < samples.count {
            let n = min(windowSamples, samples.count - from)
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
