import ReelCore

/// Everything that can go wrong in ReelMedia. Each case names the file (or tool, or config key) and what went wrong.
public enum MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `ffmpeg` or `ffprobe` is not on PATH (or `REEL_FFMPEG`/`REEL_FFPROBE` points at nothing executable).
    case toolNotFound(tool: String, searched: String)
    /// The tool exists but could not be started.
    case spawnFailed(tool: String, errno: Int32)
    /// The input file does not exist.
    case fileNotFound(path: String)
    /// The input file exists but cannot be opened for reading (or is a directory).
    case unreadable(path: String, errno: Int32)
    /// The input is a FIFO, a device or a socket, not a file.
    case notARegularFile(path: String)
    /// The tool exited non-zero (or was killed); `stderrTail` holds the last lines it printed.
    case toolFailed(tool: String, path: String, status: Int32, stderrTail: String)
    /// The file has no (decodable, non-cover-art) video stream.
    case noVideoStream(path: String)
    /// The file has no audio stream; `--video` falls back to frames only on this case.
    case noAudioStream(path: String)
    /// A zero-byte file, or a stream that decodes to no frames / no samples.
    case emptyMedia(path: String, detail: String)
    /// ffprobe's JSON lacks something we need or has an impossible value.
    case badProbe(path: String, detail: String)
    /// ffmpeg's raw output ended in the middle of a frame or sample.
    case truncatedOutput(path: String, detail: String)
    /// The video's frames have more pixels than `VideoReader.maxFramePixels`.
    case frameTooLarge(path: String, width: Int, height: Int, limit: Int)
    /// A processor config key is missing, of the wrong type or out of range.
    case badConfig(key: String, detail: String)
    /// A caller-supplied value is out of range (frame count, image size, sample count …).
    case badArgument(detail: String)

    public var description: String {
        switch self {
        case let .toolNotFound(tool, searched):
            return "\(tool) not found (searched \(searched)). Install FFmpeg (Debian/Ubuntu: `apt-get install ffmpeg`; "
                + "macOS: `brew install ffmpeg`) or set REEL_FFMPEG / REEL_FFPROBE to the executables."
        case let .spawnFailed(tool, e):
            return "\(tool): could not start (errno \(e))"
        case let .fileNotFound(path):
            return "\(path): no such file"
        case let .unreadable(path, e):
            return "\(path): cannot be read: \(IOError.message(e)) (errno \(e))"
        case let .notARegularFile(path):
            return "\(path): not a regular file (a FIFO, device or socket)"
        case let .toolFailed(tool, path, status, tail):
            return "\(path): \(tool) failed with status \(status)" + (tail.isEmpty ? "" : ":\n\(tail)")
        case let .noVideoStream(path):
            return "\(path): no video stream"
        case let .noAudioStream(path):
            return "\(path): no audio stream"
        case let .emptyMedia(path, detail):
            return "\(path): empty media (\(detail))"
        case let .badProbe(path, detail):
            return "\(path): unexpected ffprobe output: \(detail)"
        case let .truncatedOutput(path, detail):
            return "\(path): truncated decoder output: \(detail)"
        case let .frameTooLarge(path, w, h, limit):
            return "\(path): frames of \(w)×\(h) pixels are larger than Reel decodes (at most \(limit) pixels, e.g. "
                + "8192×8192); scale it down first, e.g. `ffmpeg -i \(path) -vf scale=3840:-2 OUT` (OUT of the same type)"
        case let .badConfig(key, detail):
            return "processor config key '\(key)': \(detail)"
        case let .badArgument(detail):
            return "bad argument: \(detail)"
        }
    }
}
