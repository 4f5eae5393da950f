import ReelCore

/// What ffprobe says about a file.
public struct MediaInfo: Sendable, Equatable {
    /// The file probed.
    public var path: String
    /// Container duration in seconds, if known.
    public var duration: Double?
    /// The first video stream that is not cover art, if any.
    public var video: VideoStreamInfo?
    /// The first audio stream, if any.
    public var audio: AudioStreamInfo?

    public var hasVideo: Bool { video != nil }
    public var hasAudio: Bool { audio != nil }
}

/// One video stream.
public struct VideoStreamInfo: Sendable, Equatable {
    /// ffprobe's stream index (used with `-map 0:<index>`).
    public var index: Int
    public var codec: String
    /// Width of the frames Reel delivers: ffmpeg applies the display rotation, so a portrait phone clip stored as
    /// 1920×1080 with a 90° display matrix decodes to 1080×1920.
    public var width: Int
    /// Height of the delivered frames (after rotation).
    public var height: Int
    /// Display rotation in degrees as ffprobe reports it (0 when none; the sign convention varies by version).
    public var rotation: Int
    /// Average frame rate (`avg_frame_rate`, else `r_frame_rate`), if known.
    public var frameRate: Double?
    /// Frame count: the container's `nb_frames`, else the demuxed packet count, else duration × frame rate.
    public var frameCount: Int
    /// True when `frameCount` came from duration × frame rate.
    public var frameCountIsEstimate: Bool
    /// Stream duration in seconds, if known.
    public var duration: Double?
}

/// One audio stream.
public struct AudioStreamInfo: Sendable, Equatable {
    public var index: Int
    public var codec: String
    public var sampleRate: Int
    public var channels: Int
    public var duration: Double?
}

/// ffprobe as a subprocess, its JSON parsed with ReelCore's JSON.
public enum MediaProbe {
    /// Probes `path`: streams, size, frame rate, frame count, duration.
    /// - Parameters:
    ///   - path: any file ffmpeg reads (video, audio, image).
    ///   - tools: where ffmpeg/ffprobe live; `MediaTools.locate()` when nil.
    /// - Throws: `MediaError` (`.fileNotFound`, `.emptyMedia` for a 0-byte file, `.toolFailed` for a file ffprobe
    ///   cannot read, `.toolNotFound`).
    public static func probe(_ path: String, tools: MediaTools? = nil) throws -> MediaInfo {
        try checkReadableFile(path)
        let tools = try tools ?? MediaTools.locate()
        let out = try runTool(tools.ffprobe, ["-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                                             "--", path], tool: "ffprobe", inputPath: path)
        let json: JSON
        do {
            json = try out.withUnsafeBytes { try JSON.parse($0, source: "ffprobe output for \(path)") }
        } catch {
            throw MediaError.badProbe(path: path, detail: "\(error)")
        }
        var info = MediaInfo(path: path, duration: number(json["format"]?["duration"]), video: nil, audio: nil)
        for stream in json["streams"]?.array ?? [] {
            guard let type = stream["codec_type"]?.string, let index = stream["index"]?.int else { continue }
            if type == "video", info.video == nil, stream["disposition"]?["attached_pic"]?.int != 1 {
                info.video = try videoInfo(stream, index: index, path: path, tools: tools, container: info.duration)
            } else if type == "audio", info.audio == nil {
                info.audio = AudioStreamInfo(index: index, codec: stream["codec_name"]?.string ?? "?",
                                             sampleRate: wholeNumber(stream["sample_rate"]) ?? 0,
                                             channels: stream["channels"]?.int ?? 0,
                                             duration: number(stream["duration"]))
            }
        }
        return info
    }

    private static func videoInfo(_ s: JSON, index: Int, path: String, tools: MediaTools,
                                   container: Double?) throws -> VideoStreamInfo {
        guard var w = s["width"]?.int, var h = s["height"]?.int, w > 0, h > 0 else {
            throw MediaError.badProbe(path: path, detail: "video stream \(index) has no width/height")
        }
        // Display matrix (side data) or, from older muxers, a `rotate` tag.
        var rotation = 0
        for side in s["side_data_list"]?.array ?? [] {
            if let r = number(side["rotation"]) { rotation = Int(r.truncatingRemainder(dividingBy: 360)) }
        }
        if rotation == 0, let r = number(s["tags"]?["rotate"]) { rotation = Int(r.truncatingRemainder(dividingBy: 360)) }
        if abs(rotation) % 180 == 90 { swap(&w, &h) }
        let rate = rational(s["avg_frame_rate"]) ?? rational(s["r_frame_rate"])
        let duration = number(s["duration"]) ?? container
        var count = wholeNumber(s["nb_frames"]) ?? 0
        var estimate = false
        if count <= 0 {
            // No frame count in the container (mkv, webm, images): count packets (demux only, no decoding).
            let out = try runTool(tools.ffprobe, ["-v", "error", "-select_streams", "\(index)", "-count_packets",
                                                  "-show_entries", "stream=nb_read_packets", "-print_format", "json",
                                                  "--", path], tool: "ffprobe", inputPath: path)
            if let j = try? out.withUnsafeBytes({ try JSON.parse($0, source: "ffprobe packets for \(path)") }) {
                count = wholeNumber(j["streams"]?[0]?["nb_read_packets"]) ?? 0
            }
        }
        if count <= 0, let rate, let duration, let n = wholeNumber(.double((rate * duration).rounded())) {
            count = n
            estimate = true
        }
        return VideoStreamInfo(index: index, codec: s["codec_name"]?.string ?? "?", width: w, height: h,
                               rotation: rotation, frameRate: rate, frameCount: max(count, 0), frameCountIsEstimate: estimate,
                               duration: duration)
    }

    /// A count or rate from ffprobe as an Int, nil when absent or beyond 2^40 (a crafted file's huge value, which
    /// `Int(_:)` would trap on, is treated as unknown).
    public static func wholeNumber(_ j: JSON?) -> Int? {
        guard let d = number(j), abs(d) <= Double(1 << 40) else { return nil }
        return Int(d.rounded(.towardZero))
    }

    /// ffprobe writes most numbers as strings ("2.000000", "24", "N/A").
    static func number(_ j: JSON?) -> Double? {
        guard let j else { return nil }
        if let d = j.double { return d.isFinite ? d : nil }
        if let s = j.string, let d = Double(s), d.isFinite { return d }
        return nil
    }

    /// "30000/1001" → 29.97; "0/0" → nil.
    static func rational(_ j: JSON?) -> Double? {
        guard let s = j?.string else { return nil }
        let parts = s.split(separator: "/")
        guard parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), n > 0, d > 0 else { return nil }
        return n / d
    }
}
