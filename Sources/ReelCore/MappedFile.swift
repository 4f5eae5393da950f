#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file: the only Swift file that maps files (KVCache maps anonymous memory).
/// Pages are read by the kernel on first touch, so mapping a file costs O(1), not O(size).
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps `path` read-only.
    /// - Parameter hugePages: ask the kernel (Linux) to back the mapping with 2 MiB pages where it can
    ///   (`MADV_HUGEPAGE`, before any page is touched): pages first read through this mapping come into the page
    ///   cache as 2 MiB folios and are mapped whole, so a stream over the weights takes one TLB entry and one page
    ///   walk per 2 MiB instead of per 4 KiB. Decode streams every weight once per token; on the development
    ///   machine this is 6–15% more tokens/s (docs/runtime.md, "2 MiB pages"). Pages already cached in small
    ///   folios (a file just written) stay small; `AtomicOutputFile` drops a written file from the cache for this.
    public init(path: String, hugePages: Bool = false) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; the file type is
        // checked right after, and a regular file's reads and mapping do not depend on the flag.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw IOError.open(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw IOError.open(path: path, errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw IOError.notARegularFile(path: path) }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw IOError.map(path: path, errno: errno) }
        base = p
        #if os(Linux)
        if hugePages { _ = madvise(p, count, MADV_HUGEPAGE) }
        #endif
    }

    /// Bytes of this mapping the kernel maps with 2 MiB pages right now (`FilePmdMapped` of the mapping in
    /// `/proc/self/smaps`); nil where that is not known (not Linux, no smaps, or an empty file).
    public func hugePageBytes() -> Int? { smaps("FilePmdMapped:") }

    /// Bytes of this mapping that are mapped in (resident) right now (`Rss` of the mapping in `/proc/self/smaps`);
    /// nil where that is not known.
    public func residentBytes() -> Int? { smaps("Rss:") }

    /// A kB field of this mapping's entry in /proc/self/smaps, in bytes.
    private func smaps(_ field: String) -> Int? {
        #if os(Linux)
        guard let base, let f = fopen("/proc/self/smaps", "r") else { return nil }
        defer { fclose(f) }
        let start = UInt(bitPattern: base)
        var inMapping = false
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = String(cString: line)
            if let dash = text.firstIndex(of: "-"), let lo = UInt(text[..<dash], radix: 16),
               text[text.index(after: dash)...].first?.isHexDigit == true {
                inMapping = lo == start  // a mapping's header line: "lo-hi perms offset dev inode path"
            } else if inMapping, text.hasPrefix(field) {
                let kb = text.dropFirst(field.count).split(separator: " ").first.flatMap { Int($0) }
                return kb.map { $0 * 1024 }
            }
        }
        return nil
        #else
        return nil
        #endif
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The whole mapping.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A bounds- and overflow-checked slice of the mapping.
    /// - Parameters:
    ///   - offset: byte offset from the start of the file.
    ///   - length: byte length.
    ///   - what: names the region in an error ("tensor model.norm.weight").
    public func slice(offset: Int, length: Int, what: String) throws -> UnsafeRawBufferPointer {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard offset >= 0, length >= 0, !overflow, end <= count else {
            throw IOError.outOfBounds(path: path, what: what, offset: offset, length: length, fileSize: count)
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }

    /// Hints the kernel about the access pattern of a region (sequential for conversion, willneed for weights).
    public func advise(_ advice: Advice, offset: Int = 0, length: Int? = nil) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset / page) * page
        let len = min(count - start, (length ?? count - offset) + (offset - start))
        guard len > 0 else { return }
        _ = madvise(base + start, len, advice.raw)
    }

    /// Reads a region into memory now, in address order, one pass (`MADV_POPULATE_READ`, Linux 5.14; on an older
    /// kernel one load per page): what a later stream over it finds is then already mapped. Through a `hugePages`
    /// mapping this is how a decoder's weights reach the page cache as whole 2 MiB folios: faulted in by the first
    /// forward pass instead, from two threads at two places in each tensor, some 2 MiB stretches came in as small
    /// folios (a Qwen2-0.5B q4 file: 83–86% in 2 MiB pages; docs/runtime.md, "2 MiB pages"). Does nothing off Linux
    /// or for an empty region; errors are not reported (the pages then come in on first touch, as without it).
    public func populate(offset: Int, length: Int) {
        #if os(Linux)
        guard let base, count > 0, offset >= 0, length > 0, offset < count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset / page) * page
        let end = min(count, offset + length)
        guard madvise(base + start, end - start, MappedFile.populateRead) != 0 else { return }
        guard errno == EINVAL else { return }  // EINVAL: a kernel before 5.14; anything else: leave it to the faults
        let p = UnsafeRawPointer(base)
        var sink: UInt8 = 0
        for o in stride(from: start, to: end, by: page) { sink ^= p.load(fromByteOffset: o, as: UInt8.self) }
        withExtendedLifetime(sink) {}
        #endif
    }

    /// The machine's physical memory in bytes (`_SC_PHYS_PAGES` × page size), nil where it is not known.
    public static var physicalMemory: Int? {
        let pages = Int(sysconf(Int32(_SC_PHYS_PAGES))), page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: page)
        return pages > 0 && page > 0 && !overflow ? bytes : nil
    }

    /// `MADV_POPULATE_READ` (Linux 5.14), which older C headers do not define.
    private static let populateRead: Int32 = 22

    public enum Advice {
        case sequential, willNeed, dontNeed, normal
        var raw: Int32 {
            switch self {
            case .sequential: return MADV_SEQUENTIAL
            case .willNeed: return MADV_WILLNEED
            case .dontNeed: return MADV_DONTNEED
            case .normal: return MADV_NORMAL
            }
        }
    }
}

/// File-system errors, each naming the path.
public enum IOError: Error, CustomStringConvertible, Equatable {
    case open(path: String, errno: Int32)
    case notARegularFile(path: String)
    case map(path: String, errno: Int32)
    case outOfBounds(path: String, what: String, offset: Int, length: Int, fileSize: Int)
    case write(path: String, errno: Int32)
    case exists(path: String)
    case rename(from: String, to: String, errno: Int32)
    /// An output path names one of the command's inputs.
    case outputIsInput(output: String, input: String)

    /// The failure without the path, for an error that names the path itself (`ReelFormatError.cannotOpen`).
    public var reason: String {
        switch self {
        case let .open(_, e), let .map(_, e), let .write(_, e): return IOError.message(e)
        case .notARegularFile: return "not a regular file"
        default: return description
        }
    }

    public var description: String {
        switch self {
        case let .open(path, e): return "\(path): cannot open: \(IOError.message(e))"
        case let .notARegularFile(path): return "\(path): not a regular file"
        case let .map(path, e): return "\(path): cannot map into memory: \(IOError.message(e))"
        case let .outOfBounds(path, what, offset, length, size):
            return "\(path): \(what) at offset \(offset) with length \(length) lies outside the file (\(size) bytes)"
        case let .write(path, e): return "\(path): write failed: \(IOError.message(e))"
        case let .exists(path): return "\(path): already exists (use --force to overwrite)"
        case let .rename(from, to, e): return "cannot rename \(from) to \(to): \(IOError.message(e))"
        case let .outputIsInput(output, input):
            return "\(output) is the same file as the input \(input): write the output elsewhere (--force does not overwrite an input)"
        }
    }

    public static func message(_ e: Int32) -> String { String(cString: strerror(e)) }
}

/// Reads a whole (small) file into memory: config.json, tokenizer.json.
public func readWholeFile(_ path: String) throws -> [UInt8] {
    let m = try MappedFile(path: path)
    return Array(m.bytes)
}

/// True when `path` names an existing file or directory.
public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

/// True when anything stands at `path`, a dangling symbolic link included (`lstat`).
public func pathEntryExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// True when `path` names something other than a regular file (following symbolic links): a directory, a device,
/// a FIFO or a socket. False when nothing is there or the link dangles.
public func isSpecialFile(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG
}

/// True when `a` and `b` name the same existing file (one device and inode: through links and other spellings).
public func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat(), y = stat()
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
}

/// Throws `IOError.outputIsInput` when `output` is an existing file that is also one of `inputs` (an output is
/// written to a temporary file and renamed over its destination, so the input would be gone, not read).
public func refuseOutputOverInputs(_ output: String, inputs: [String]) throws {
    if let input = inputs.first(where: { sameFile(output, $0) }) { throw IOError.outputIsInput(output: output, input: input) }
}

/// True when `path` names a directory.
public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// The file names in a directory, sorted.
public func listDirectory(_ path: String) throws -> [String] {
    guard let d = opendir(path) else { throw IOError.open(path: path, errno: errno) }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// The size of a file in bytes.
public func fileSize(_ path: String) throws -> Int {
    var st = stat()
    guard stat(path, &st) == 0 else { throw IOError.open(path: path, errno: errno) }
    return Int(st.st_size)
}

/// Joins path components with "/".
public func joinPath(_ a: String, _ b: String) -> String {
    if a.isEmpty { return b }
    return a.hasSuffix("/") ? a + b : a + "/" + b
}
