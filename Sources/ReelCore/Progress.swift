#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar on stderr: items, bytes, rate and ETA. Silent when quiet or when stderr is not a terminal.
public final class ProgressBar {
    private let total: Int
    private let totalBytes: Int
    private let label: String
    private let enabled: Bool
    private let start: Double
    private var lastDraw: Double = 0
    private var done = 0
    private var doneBytes = 0

    /// - Parameters:
    ///   - label: a word before the bar ("convert").
    ///   - total: number of items (tensors).
    ///   - totalBytes: bytes the items add up to (for rate and ETA).
    ///   - quiet: force silence (`--quiet`).
    public init(label: String, total: Int, totalBytes: Int, quiet: Bool) {
        self.label = label
        self.total = max(total, 1)
        self.totalBytes = max(totalBytes, 1)
        self.enabled = !quiet && isatty(2) != 0 && getenv("CI") == nil
        self.start = ProgressBar.now()
    }

    /// Seconds on a monotonic clock.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds since the bar was made.
    public var elapsed: Double { ProgressBar.now() - start }

    /// Records progress: `items` more items and `bytes` more bytes; redraws at most ten times a second.
    public func advance(items: Int = 0, bytes: Int = 0, note: String = "") {
        done += items
        doneBytes += bytes
        guard enabled else { return }
        let t = ProgressBar.now()
        if t - lastDraw < 0.1 && done < total { return }
        lastDraw = t
        draw(note: note)
    }

    /// Clears the line when finished.
    public func finish() {
        guard enabled else { return }
        fputs("\r\u{1B}[2K", stderr)
        fflush(stderr)
    }

    private func draw(note: String) {
        let frac = min(1, Double(doneBytes) / Double(totalBytes))
        let width = 24
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let secs = max(elapsed, 1e-3)
        let rate = Double(doneBytes) / secs
        let eta = rate > 0 ? Double(totalBytes - doneBytes) / rate : 0
        var line = "\r\u{1B}[2K\(label) \(bar) \(done)/\(total) tensors  \(formatBytes(doneBytes))/\(formatBytes(totalBytes))  \(formatBytes(Int(rate)))/s  ETA \(formatDuration(eta))"
        if !note.isEmpty { line += "  \(note.suffix(40))" }
        fputs(line, stderr)
        fflush(stderr)
    }
}

/// "1.5 GiB", "340 KiB", "12 B".
public func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(v >= 100 ? "\(Int(v.rounded()))" : "\((v * 10).rounded() / 10)") + " " + units[u]
}

/// "3.2s", "1m05s", "2h03m".
public func formatDuration(_ s: Double) -> String {
    if !s.isFinite { return "--" }
    if s < 60 { return "\((s * 10).rounded() / 10)s" }
    let m = Int(s) / 60, sec = Int(s) % 60
    if m < 60 { return "\(m)m\(sec < 10 ? "0" : "")\(sec)s" }
    return "\(m / 60)h\(m % 60 < 10 ? "0" : "")\(m % 60)m"
}
