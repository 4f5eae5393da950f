#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where ffmpeg and ffprobe live. Codecs stay out of Reel's binary: we run the tools as child processes.
public struct MediaTools: Sendable, Equatable {
    /// Path of the `ffmpeg` executable.
    public var ffmpeg: String
    /// Path of the `ffprobe` executable.
    public var ffprobe: String

    /// Explicit paths; checked when first used.
    public init(ffmpeg: String, ffprobe: String) {
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
    }

    /// Finds the tools: `REEL_FFMPEG` / `REEL_FFPROBE` if set (an ffprobe beside `REEL_FFMPEG` is preferred when
    /// only that is set), else the first executable of that name on `PATH`.
    /// - Throws: `MediaError.toolNotFound` saying where it looked and how to install FFmpeg.
    public static func locate(environment: [String: String]? = nil) throws -> MediaTools {
        let env = environment ?? currentEnvironment()
        let ffmpeg = try find("ffmpeg", override: env["REEL_FFMPEG"], besides: nil, path: env["PATH"])
        let ffprobe = try find("ffprobe", override: env["REEL_FFPROBE"],
                               besides: env["REEL_FFMPEG"] == nil ? nil : ffmpeg, path: env["PATH"])
        return MediaTools(ffmpeg: ffmpeg, ffprobe: ffprobe)
    }

    private static func find(_ name: String, override: String?, besides sibling: String?, path: String?) throws -> String {
        if let override, !override.isEmpty {
            guard isExecutable(override) else {
                throw MediaError.toolNotFound(tool: name, searched: "REEL_\(name.uppercased())=\(override)")
            }
            return override
        }
        if let sibling, let slash = sibling.lastIndex(of: "/") {
            let candidate = String(sibling[..<slash]) + "/" + name
            if isExecutable(candidate) { return candidate }
        }
        let dirs = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for dir in dirs where !dir.isEmpty {
            let candidate = dir + "/" + name
            if isExecutable(candidate) { return candidate }
        }
        throw MediaError.toolNotFound(tool: name, searched: "PATH=\(path ?? "")")
    }

    static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }

    static func currentEnvironment() -> [String: String] {
        var out: [String: String] = [:]
        guard var p = environment() else { return out }
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}

/// The process environment block (`environ`; Darwin exposes it through `_NSGetEnviron`).
func environment() -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    #if canImport(Darwin)
    return _NSGetEnviron().pointee
    #else
    return environ
    #endif
}

/// Checks that `path` is a readable, non-empty regular file before any tool sees it, so errors name the real cause.
func checkReadableFile(_ path: String) throws {
    var st = stat()
    guard stat(path, &st) == 0 else {
        if errno == ENOENT || errno == ENOTDIR { throw MediaError.fileNotFound(path: path) }
        throw MediaError.unreadable(path: path, errno: errno)
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        if (st.st_mode & S_IFMT) == S_IFDIR { throw MediaError.unreadable(path: path, errno: EISDIR) }
        throw MediaError.notARegularFile(path: path)  // a FIFO, device or socket: ffmpeg could block on it
    }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw MediaError.unreadable(path: path, errno: errno) }
    close(fd)
    if st.st_size == 0 { throw MediaError.emptyMedia(path: path, detail: "the file is 0 bytes") }
}

/// A child process whose stdout we read through a pipe; its stderr is collected (last 8 KiB) for error messages.
/// The only Swift file that calls posix_spawn, pipe, poll and waitpid.
final class ChildProcess {
    let tool: String
    let inputPath: String
    private var pid: pid_t = 0
    private var stdoutFD: Int32 = -1
    private var stderrFD: Int32 = -1
    private var stderrBytes: [UInt8] = []
    private var reaped = false
    private static let stderrKeep = 8192

    /// Starts `executable arguments…` with stdin from /dev/null and stdout/stderr on pipes.
    /// - Parameters:
    ///   - tool: the name used in errors ("ffmpeg", "ffprobe").
    ///   - inputPath: the media file, named in errors.
    init(executable: String, arguments: [String], tool: String, inputPath: String) throws {
        self.tool = tool
        self.inputPath = inputPath
        guard MediaTools.isExecutable(executable) else {
            throw MediaError.toolNotFound(tool: tool, searched: executable)
        }
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard pipe(&out) == 0 else { throw MediaError.spawnFailed(tool: tool, errno: errno) }
        guard pipe(&err) == 0 else {
            let e = errno; close(out[0]); close(out[1])
            throw MediaError.spawnFailed(tool: tool, errno: e)
        }
        // Our ends must not leak into other children.
        for fd in [out[0], err[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        #if canImport(Glibc)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t? = nil
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        posix_spawn_file_actions_addclose(&actions, out[0])
        posix_spawn_file_actions_addclose(&actions, err[0])

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environment())
        close(out[1]); close(err[1])
        guard rc == 0 else {
            close(out[0]); close(err[0])
            throw MediaError.spawnFailed(tool: tool, errno: rc)
        }
        pid = child
        stdoutFD = out[0]
        stderrFD = err[0]
    }

    deinit { terminate() }

    /// Reads stdout until `count` bytes have arrived or the child closes it; returns the number read.
    /// stderr is drained meanwhile so a chatty child never blocks on a full pipe.
    func read(into base: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var got = 0
        while got < count, stdoutFD >= 0 {
            var fds = [pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, stderrFD >= 0 ? 2 : 1, -1)
            if n < 0 {
                if errno == EINTR { continue }
                throw MediaError.spawnFailed(tool: tool, errno: errno)
            }
            if stderrFD >= 0, fds[1].revents != 0 { drainStderrOnce() }
            if fds[0].revents != 0 {
                let r = Glibc_read(stdoutFD, base + got, count - got)
                if r < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    throw MediaError.spawnFailed(tool: tool, errno: errno)
                }
                if r == 0 { close(stdoutFD); stdoutFD = -1; break }
                got += r
            }
        }
        return got
    }

    /// Reads all of stdout.
    func readAll() throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// Waits for the child to exit.
    /// - Throws: `MediaError.toolFailed` with the tail of stderr if it exited non-zero or was killed.
    func finish() throws {
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
        while stderrFD >= 0 { drainStderrOnce() }
        let status = reap()
        if status != 0 {
            throw MediaError.toolFailed(tool: tool, path: inputPath, status: status, stderrTail: stderrTail())
        }
    }

    /// Stops the child early (the consumer has what it wanted) and reaps it.
    func terminate() {
        // pid 0 means init threw before spawning; kill(0, …) would signal our whole process group.
        guard !reaped, pid > 0 else { return }
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
        if stderrFD >= 0 { close(stderrFD); stderrFD = -1 }
        kill(pid, SIGTERM)
        _ = reap()
    }

    /// The last few lines of the child's stderr.
    func stderrTail(lines: Int = 6) -> String {
        let text = String(decoding: stderrBytes, as: UTF8.self)
        let all = text.split(separator: "\n", omittingEmptySubsequences: true)
        return all.suffix(lines).joined(separator: "\n")
    }

    private func drainStderrOnce() {
        var buf = [UInt8](repeating: 0, count: 4096)
        let r = buf.withUnsafeMutableBytes { Glibc_read(stderrFD, $0.baseAddress!, $0.count) }
        if r < 0, errno == EINTR { return }
        if r <= 0 { close(stderrFD); stderrFD = -1; return }
        stderrBytes.append(contentsOf: buf[0..<r])
        if stderrBytes.count > Self.stderrKeep { stderrBytes.removeFirst(stderrBytes.count - Self.stderrKeep) }
    }

    /// Exit status: the code, or 128 + signal if killed.
    private func reap() -> Int32 {
        guard !reaped, pid > 0 else { return 0 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { reaped = true; return -1 }
        }
        reaped = true
        let low = status & 0x7f
        if low == 0 { return (status >> 8) & 0xff }
        return 128 + low
    }
}

/// `read(2)`, named apart from `ChildProcess.read`.
@inline(__always)
private func Glibc_read(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, buf, n)
    #else
    return Darwin.read(fd, buf, n)
    #endif
}

/// Runs a tool to completion and returns its stdout.
func runTool(_ executable: String, _ arguments: [String], tool: String, inputPath: String) throws -> [UInt8] {
    let child = try ChildProcess(executable: executable, arguments: arguments, tool: tool, inputPath: inputPath)
    let out = try child.readAll()
    try child.finish()
    return out
}
