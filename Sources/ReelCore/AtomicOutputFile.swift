#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written beside its destination under a temporary name and renamed into place only on `commit()`.
/// If the writer is dropped without committing (an error, a full disk), the temporary file is removed,
/// so a half-written output never stands where a good one should be.
public final class AtomicOutputFile {
    public let path: String
    public let temporaryPath: String
    /// Where the file is renamed to: `path`, or the file a symbolic link at `path` names.
    private let target: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    /// Bytes written so far (the logical end of the file).
    public private(set) var position: Int = 0
    private var committed = false
    /// Simulates a full disk after this many bytes (tests; also `REEL_TEST_DISK_LIMIT`).
    private let byteLimit: Int?

    /// Creates the temporary file next to `path`.
    /// - Parameters:
    ///   - path: the final destination.
    ///   - force: replace an existing destination; otherwise an existing file is an error.
    ///   - byteLimit: fail with ENOSPC after this many bytes (simulated full disk).
    public init(path: String, force: Bool, byteLimit: Int? = nil) throws {
        guard !path.isEmpty else { throw IOError.open(path: "(an empty output path)", errno: ENOENT) }
        // lstat: a dangling symbolic link is something at `path` too, and only --force replaces it.
        if !force && pathEntryExists(path) { throw IOError.exists(path: path) }
        // Never rename over a directory, a device (/dev/full), a FIFO or a socket, even with --force.
        if isSpecialFile(path) { throw IOError.notARegularFile(path: path) }
        self.path = path
        // A symbolic link to a file is written through: the file it names is replaced, the link stays (renaming
        // onto the link itself would turn it into a regular file — /dev/stdout → /proc/self/fd/1 included).
        var target = path
        if let resolved = realpath(path, nil) {
            var st = stat()
            if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK { target = String(cString: resolved) }
            free(resolved)
        }
        self.target = target
        let dir: String
        let name: String
        if let slash = target.lastIndex(of: "/") {
            dir = String(target[..<slash]).isEmpty ? "/" : String(target[..<slash])
            name = String(target[target.index(after: slash)...])
        } else { dir = "."; name = target }
        var template = Array("\(dir)/.\(name).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw IOError.open(path: dir, errno: errno) }
        self.fd = fd
        self.temporaryPath = String(cString: template)
        TemporaryFiles.register(temporaryPath)
        fchmod(fd, 0o644)
        if let byteLimit { self.byteLimit = byteLimit }
        else if let env = getenv("REEL_TEST_DISK_LIMIT"), let n = Int(String(cString: env)) { self.byteLimit = n }
        else { self.byteLimit = nil }
        buffer.reserveCapacity(bufferLimit)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
        TemporaryFiles.unregister(temporaryPath)
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > bufferLimit { try flush() }
        if bytes.count >= bufferLimit {
            try rawWrite(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
        position += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Appends `count` zero bytes (alignment padding).
    public func writeZeros(_ count: Int) throws {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    /// Overwrites bytes at an absolute offset already written (a header patched at the end).
    public func overwrite(at offset: Int, _ bytes: [UInt8]) throws {
        try flush()
        precondition(offset + bytes.count <= position, "overwrite past the end")
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw IOError.write(path: path, errno: n < 0 ? errno : EIO) }
    }

    /// Flushes, syncs and renames the temporary file onto `path`.
    public func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw IOError.write(path: path, errno: errno) }
        #if os(Linux)
        // The written pages sit in the page cache in small folios, and a mapping of them keeps 4 KiB pages for as
        // long as they stay cached (decode 6–15% slower, docs/runtime.md "2 MiB pages"). They are clean after the
        // fsync: drop them, so the first load reads the file back in 2 MiB folios (`MappedFile(hugePages:)`).
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        #endif
        close(fd)
        fd = -1
        guard rename(temporaryPath, target) == 0 else { throw IOError.rename(from: temporaryPath, to: target, errno: errno) }
        committed = true
        TemporaryFiles.unregister(temporaryPath)
    }

    private var flushed = 0
    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try rawWrite($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func rawWrite(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            var want = bytes.count - done
            if let limit = byteLimit {
                if flushed >= limit { throw IOError.write(path: path, errno: ENOSPC) }
                want = min(want, limit - flushed)
            }
            let n = sysWrite(fd, bytes.baseAddress! + done, want)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError.write(path: path, errno: errno)
            }
            done += n
            flushed += n
        }
    }
}

/// The temporary files of the `AtomicOutputFile`s still open, so that SIGINT, SIGTERM, SIGHUP or SIGXFSZ (Ctrl-C, `kill`,
/// a closed terminal, a file-size limit) during a conversion removes them before the process dies, instead of leaving a hidden
/// `.NAME.tmp-XXXXXX` beside the destination. The handler is installed with the first registration, only for
/// signals whose disposition is the default (an ignored SIGINT, as under `nohup`, stays ignored); it unlinks the
/// registered paths (`unlink` is async-signal-safe), restores the default disposition and re-raises the signal, so
/// the process ends exactly as it would have.
public enum TemporaryFiles {
    static let slots = 16
    /// C strings owned here (strdup/free), read by the signal handler without locking: a slot is published by a
    /// single pointer store and cleared before it is freed.
    nonisolated(unsafe) static let paths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slots)
        p.initialize(repeating: nil, count: slots)
        return p
    }()
    static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    nonisolated(unsafe) static var installed = false
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGXFSZ]

    static func register(_ path: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        // `paths` is initialised (a swift_once) before any handler can run: a handler that found it mid-initialisation
        // on the thread it interrupted would wait for itself forever.
        for i in 0..<slots where paths[i] == nil {
            paths[i] = strdup(path)
            break
        }  // more than 16 at once: that file is still removed by deinit on the normal paths
        if !installed {
            installed = true
            for sig in signals {
                // SIG_DFL comes back as nil; anything else (SIG_IGN, another handler) is put back as it was.
                let previous = signal(sig, removeTemporaryFilesAndReraise)
                if let previous, unsafeBitCast(previous, to: Int.self) != -1 { signal(sig, previous) }  // -1: SIG_ERR
            }
        }
    }

    /// The temporary paths registered now (tests, diagnostics).
    public static var registered: [String] {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return (0..<slots).compactMap { paths[$0].map { String(cString: $0) } }
    }

    static func unregister(_ path: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        for i in 0..<slots {
            if let p = paths[i], String(cString: p) == path {
                paths[i] = nil
                free(p)
            }
        }
    }
}

private func removeTemporaryFilesAndReraise(_ sig: Int32) {
    for i in 0..<TemporaryFiles.slots {
        if let p = TemporaryFiles.paths[i] { unlink(p) }
    }
    signal(sig, SIG_DFL)
    raise(sig)
}

#if canImport(Glibc)
private let sysWrite = Glibc.write
#else
private let sysWrite = Darwin.write
#endif
