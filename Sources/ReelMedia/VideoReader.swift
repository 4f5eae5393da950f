/// One decoded frame.
public struct RGBFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Index of the frame in decode order (0-based), as used for sampling.
    public var index: Int
    /// u8 [height, width, 3], RGB interleaved, rows top to bottom.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, index: Int = 0, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.index = index
        self.pixels = pixels
    }
}

/// Which frames to take from a video.
public enum FrameSampling: Sendable, Equatable {
    /// Every frame.
    case all
    /// `n` frames spread uniformly by index: `idx = i·total / n` (integer division), `i < n` —
    /// transformers' `default_sample_indices_fn`, what LLaVA-OneVision's video processor does when it samples.
    /// Asking for more frames than the clip has gives every frame.
    case frames(Int)
    /// `fps` frames per second of video, at most `max`: `n = max(1, Int(total / videoFPS · fps))`, capped at `max`,
    /// then the same index rule as `.frames(n)` (transformers' rule when `fps` is given). An fps above the video's
    /// own rate takes every frame (still at most `max`).
    case fps(Double, max: Int)
    /// Exactly these frame indices (a model's own rule, e.g. Reel AV's per-segment sampling); sorted, repeats
    /// removed, and clamped to the last frame.
    case explicit([Int])

    /// The frame indices this sampling takes from a clip of `total` frames at `frameRate` fps.
    /// - Throws: `MediaError.badArgument` for a non-positive count or rate.
    public func indices(total: Int, frameRate: Double?) throws -> [Int] {
        guard total > 0 else { return [] }
        let n: Int
        switch self {
        case let .explicit(list):
            guard list.allSatisfy({ $0 >= 0 }), !list.isEmpty else {
                throw MediaError.badArgument(detail: "explicit frame indices must be non-negative and not empty")
            }
            return Array(Set(list.map { min($0, total - 1) })).sorted()
        case .all:
            n = total
        case let .frames(k):
            guard k > 0 else { throw MediaError.badArgument(detail: "frame count must be positive, got \(k)") }
            n = min(k, total)
        case let .fps(f, cap):
            guard f > 0, f.isFinite, cap > 0 else {
                throw MediaError.badArgument(detail: "fps sampling needs fps > 0 and max > 0, got \(f), \(cap)")
            }
            // Unknown (or unusable: 0, NaN, ∞ from a probe) rate: treat as one frame per requested sample.
            let rate = frameRate.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? f
            // In Double until it is known to be below `total`: a huge fps (1e30) just means every frame, up to `cap`.
            let want = Double(total) / rate * f
            n = min(cap, total, want < Double(total) ? max(1, Int(want)) : total)
        }
        // i·total/n in double width: `total` comes from the probe and may be near Int.max; the quotient is < total.
        return (0..<n).map { i in
            let p = i.multipliedFullWidth(by: total)
            return n.dividingFullWidth((p.high, p.low)).quotient
        }
    }
}

/// How ffmpeg converts the decoded YUV frames to RGB.
public enum ColorConversion: Sendable, Equatable {
    /// Pinned swscale flags (`bicubic+accurate_rnd+full_chroma_int+bitexact`): the same bytes on every CPU.
    case pinned
    /// ffmpeg's default swscale flags, as a plain `ffmpeg -i CLIP -f rawvideo -pix_fmt rgb24 -` decodes: what a
    /// model trained on that decode expects (Reel AV, formats/REEL-AV.md §4.1). Differs from `.pinned` by up to
    /// ~30 levels at chroma edges.
    case ffmpegDefault
}

/// Decodes frames with ffmpeg through a pipe (`-f rawvideo -pix_fmt rgb24`), one frame at a time.
///
/// ffmpeg's `select` filter keeps only the sampled indices, so unsampled frames never cross the pipe, and at most one
/// frame is held in memory. Images (`.png`, `.jpg`) are one-frame videos and go through the same path.
public final class VideoReader {
    /// The probe of the input.
    public let info: MediaInfo
    /// The frame indices that will be decoded, in order.
    public let indices: [Int]
    public let width: Int
    public let height: Int
    public let path: String
    private let tools: MediaTools
    private var child: ChildProcess?
    private var produced = 0
    private var finished = false
    private let explicitSampling: FrameSampling?
    private let conversion: ColorConversion

    /// The largest frame Reel decodes, in pixels: 2^26 (8192 × 8192; 8K video is 7680 × 4320). Beyond it one
    /// rgb24 frame is over 192 MiB in Reel, and ffmpeg's frame threads hold several (a 16000 × 16000 clip took
    /// 6 GB in the ffmpeg child).
    public static let maxFramePixels = 1 << 26

    /// Sampled frames decoded so far. Below `indices.count` after the last `next()` when the stream ended early
    /// (a truncated file, or a header that promised more frames than the stream holds).
    public var framesDecoded: Int { produced }

    /// Probes `path` and plans the sampling; decoding starts on the first `next()`.
    /// - Throws: `MediaError.noVideoStream`, `.emptyMedia` (no frames), and the probe's errors.
    ///   - conversion: the YUV → RGB conversion (`.pinned` unless a model's media path says otherwise).
    public init(path: String, sampling: FrameSampling = .all, conversion: ColorConversion = .pinned, tools: MediaTools? = nil) throws {
        let tools = try tools ?? MediaTools.locate()
        let info = try MediaProbe.probe(path, tools: tools)
        guard let video = info.video else {
            if !info.hasAudio, (info.duration ?? 0) <= 0 {
                throw MediaError.emptyMedia(path: path, detail: "no streams and zero duration")
            }
            throw MediaError.noVideoStream(path: path)
        }
        guard video.frameCount > 0 else { throw MediaError.emptyMedia(path: path, detail: "the video stream has no frames") }
        // Sides first: their product may overflow (the probe reports whatever the header says).
        guard video.width <= Self.maxFramePixels, video.height <= Self.maxFramePixels,
              video.width * video.height <= Self.maxFramePixels else {
            throw MediaError.frameTooLarge(path: path, width: video.width, height: video.height, limit: Self.maxFramePixels)
        }
        self.info = info
        self.tools = tools
        self.path = path
        self.width = video.width
        self.height = video.height
        self.indices = try sampling.indices(total: video.frameCount, frameRate: video.frameRate)
        if case .explicit = sampling { explicitSampling = sampling } else { explicitSampling = nil }
        self.conversion = conversion
    }

    deinit { child?.terminate() }

    /// The ffmpeg arguments (after the executable) that decode the planned frames to rgb24 on stdout.
    /// tools/make_media_fixtures.py builds the same command.
    public var ffmpegArguments: [String] {
        let total = info.video?.frameCount ?? 0
        var args = ["-nostdin", "-hide_banner", "-v", "error", "-i", path,
                    "-map", "0:\(info.video?.index ?? 0)", "-an", "-sn", "-dn"]
        if conversion == .pinned {
            // Pin the yuv→rgb conversion (C code path, accurate rounding) so it does not depend on the CPU.
            args += ["-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact"]
        }
        let n = indices.count
        var filters: [String] = []
        if case let .explicit(list)? = explicitSampling, n < total || list.count != n {
            filters.append("select='" + indices.map { "eq(n,\($0))" }.joined(separator: "+") + "'")
        } else if n < total {
            // Keep frame n iff n = floor(i·total/n') for some i < n': i = ceil(n·n'/total) is the only candidate.
            // All operands are small integers, so ffmpeg's double arithmetic is exact here.
            filters.append("select='lt(ceil(n*\(n)/\(total)),\(n))*eq(floor(ceil(n*\(n)/\(total))*\(total)/\(n)),n)'")
        }
        // Pin the output size to the probed one: a mid-stream resolution change must not misframe the pipe.
        filters.append("scale=\(width):\(height)")
        args += ["-vf", filters.joined(separator: ",")]
        args += ["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        return args
    }

    /// The next sampled frame, or nil at the end (see `framesDecoded` for a stream that ended early).
    /// - Throws: `MediaError.toolFailed` (with ffmpeg's stderr) if decoding fails, `.truncatedOutput` for a partial
    ///   frame, `.emptyMedia` if the stream decodes to no frames at all.
    public func next() throws -> RGBFrame? {
        if finished || produced >= indices.count { return try end() }
        if child == nil {
            child = try ChildProcess(executable: tools.ffmpeg, arguments: ffmpegArguments, tool: "ffmpeg", inputPath: path)
        }
        let frameBytes = width * height * 3
        var pixels = [UInt8](repeating: 0, count: frameBytes)
        let got = try pixels.withUnsafeMutableBytes { try child!.read(into: $0.baseAddress!, count: frameBytes) }
        if got == 0 { return try end() }
        guard got == frameBytes else {
            child?.terminate()
            throw MediaError.truncatedOutput(path: path, detail: "frame \(produced) has \(got) of \(frameBytes) bytes")
        }
        let frame = RGBFrame(width: width, height: height, index: indices[produced], pixels: pixels)
        produced += 1
        return frame
    }

    /// Calls `body` on each sampled frame in order.
    public func forEach(_ body: (RGBFrame) throws -> Void) throws {
        while let f = try next() { try body(f) }
    }

    /// All sampled frames (holds them all; prefer `next()`/`forEach` for long clips).
    public func readAll() throws -> [RGBFrame] {
        var out: [RGBFrame] = []
        try forEach { out.append($0) }
        return out
    }

    /// Stops decoding early.
    public func close() {
        child?.terminate()
        child = nil
        finished = true
    }

    private func end() throws -> RGBFrame? {
        if !finished {
            finished = true
            if let c = child {
                // More output than planned is not expected; stop ffmpeg rather than drain it.
                if produced >= indices.count { c.terminate() } else { try c.finish() }
            }
            child = nil
            if produced == 0 { throw MediaError.emptyMedia(path: path, detail: "ffmpeg decoded no frames") }
        }
        return nil
    }
}

/// Reads a still image (any format ffmpeg decodes) as one RGB frame.
public enum ImageReader {
    /// Decodes the first frame of `path`.
    public static func read(_ path: String, tools: MediaTools? = nil) throws -> RGBFrame {
        let reader = try VideoReader(path: path, sampling: .frames(1), tools: tools)
        defer { reader.close() }
        guard let frame = try reader.next() else { throw MediaError.emptyMedia(path: path, detail: "no image decoded") }
        return frame
    }
}
