/// Decodes audio with ffmpeg, resampled to 16 kHz mono f32 (`-ac 1 -ar 16000 -f f32le`) through a pipe.
public enum AudioReader {
    /// The rate Whisper-family encoders expect.
    public static let sampleRate = 16000

    /// The ffmpeg arguments (after the executable) that decode the first audio stream of `path` to 16 kHz mono f32le.
    public static func ffmpegArguments(path: String, streamIndex: Int) -> [String] {
        ["-nostdin", "-hide_banner", "-v", "error", "-i", path, "-map", "0:\(streamIndex)", "-vn", "-sn", "-dn",
         "-ac", "1", "-ar", "\(sampleRate)", "-f", "f32le", "-"]
    }

    /// All samples of the first audio stream of `path` (wav, mp3, flac, a video's audio track …), 16 kHz mono.
    /// - Throws: `MediaError.noAudioStream` (distinct, so a video can fall back to frames only), `.emptyMedia` for
    ///   a stream with no samples, `.toolFailed` with ffmpeg's stderr, and the probe's errors.
    public static func read(_ path: String, tools: MediaTools? = nil) throws -> [Float] {
        let tools = try tools ?? MediaTools.locate()
        let info = try MediaProbe.probe(path, tools: tools)
        guard let audio = info.audio else {
            if !info.hasVideo, (info.duration ?? 0) <= 0 {
                throw MediaError.emptyMedia(path: path, detail: "no streams and zero duration")
            }
            throw MediaError.noAudioStream(path: path)
        }
        let child = try ChildProcess(executable: tools.ffmpeg, arguments: ffmpegArguments(path: path, streamIndex: audio.index),
                                     tool: "ffmpeg", inputPath: path)
        var samples: [Float] = []
        if let d = audio.duration ?? info.duration, d > 0, d < 24 * 3600 {
            samples.reserveCapacity(Int(d * Double(sampleRate)) + sampleRate)
        }
        var chunk = [Float](repeating: 0, count: 1 << 15)
        var carry = 0   // bytes of a partial sample left at the end of a read
        while true {
            let got = try chunk.withUnsafeMutableBytes { raw -> Int in
                try child.read(into: raw.baseAddress! + carry, count: raw.count - carry)
            }
            let bytes = carry + got
            let whole = bytes / 4
            // f32le: little-endian hosts (x86-64, arm64) read the floats in place.
            samples.append(contentsOf: chunk[0..<whole])
            carry = bytes - whole * 4
            if carry > 0 {
                chunk.withUnsafeMutableBytes { raw in
                    for k in 0..<carry { raw[k] = raw[whole * 4 + k] }
                }
            }
            if got == 0 { break }
        }
        try child.finish()
        guard carry == 0 else { throw MediaError.truncatedOutput(path: path, detail: "\(carry) stray bytes after the last sample") }
        guard !samples.isEmpty else { throw MediaError.emptyMedia(path: path, detail: "the audio stream has no samples") }
        return samples
    }
}
