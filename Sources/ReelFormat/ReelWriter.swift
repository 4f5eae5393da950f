#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ReelCore
import ReelQuant

/// A blob to store whole (tokenizer.json, a chat template).
public struct BlobPlan: Sendable {
    public let name: String
    public let bytes: [UInt8]
    public let compression: BlobCompression

    public init(name: String, bytes: [UInt8], compression: BlobCompression = .zstd) {
        self.name = name
        self.bytes = bytes
        self.compression = compression
    }
}

/// A tensor the writer will receive later; its byte size follows from encoding × shape.
public struct TensorPlan: Sendable {
    public let name: String
    public let encoding: Encoding
    public let shape: [Int]

    public init(name: String, encoding: Encoding, shape: [Int]) {
        self.name = name
        self.encoding = encoding
        self.shape = shape
    }
}

/// Writes a `.reel` file as formats/REEL.md §6 describes: lays out every region from the plan, writes the header and
/// the metadata with placeholder checksums, stores the blobs, accepts each tensor's bytes in plan order (in any number
/// of chunks), then patches the checksums and renames the temporary file onto the destination.
///
/// Any error — a wrong byte count, a full disk, a call out of order — removes the temporary file and leaves the writer
/// failed; nothing is ever left at the destination unless `finish()` returns.
///
///     let w = try ReelWriter(path: out, metadata: meta, blobs: blobs, tensors: plan)
///     for t in plan { try w.beginTensor(t.name); try w.append(bytes(t)); try w.endTensor() }
///     try w.finish()
public final class ReelWriter {
    public let path: String
    /// The layout: every tensor's offset and length (checksums are zero until written).
    public private(set) var tensors: [TensorInfo]
    public private(set) var blobs: [BlobInfo]
    public let dataOffset: Int
    public let dataLength: Int

    private var out: AtomicOutputFile?
    private let userMetadata: JSONObject
    private let metadataLength: Int
    private var nextTensor = 0
    private var open: (index: Int, written: Int, hash: StreamingXXH64)?
    private var failure: String?

    /// Plans the file, creates the temporary file and writes everything up to the first tensor.
    /// - Parameters:
    ///   - path: the destination.
    ///   - metadata: a JSON object with at least `architecture`; `format_version`, `blobs` and `tensors` are the
    ///     writer's and must be absent.
    ///   - blobs: stored in this order, zstd-compressed at `zstdLevel` or raw.
    ///   - tensors: the order in which their bytes must be given.
    ///   - force: replace an existing destination.
    ///   - byteLimit: simulate a full disk after this many bytes (tests).
    public init(path: String, metadata: JSON, blobs blobPlans: [BlobPlan] = [], tensors tensorPlans: [TensorPlan],
                force: Bool = false, zstdLevel: Int32 = 19, byteLimit: Int? = nil) throws {
        self.path = path
        guard let meta = metadata.object else { throw ReelFormatError.invalidPlan(path: path, reason: "metadata is not a JSON object") }
        for key in ["format_version", "blobs", "tensors"] where meta[key] != nil {
            throw ReelFormatError.invalidPlan(path: path, reason: "metadata key \"\(key)\" is written by the writer")
        }
        guard let arch = meta["architecture"]?.string, !arch.isEmpty else {
            throw ReelFormatError.invalidPlan(path: path, reason: "metadata needs a non-empty string \"architecture\"")
        }
        userMetadata = meta

        // Stored blob bytes first: a compressed blob's length is only known after compressing it.
        var stored: [[UInt8]] = []
        for b in blobPlans {
            switch b.compression {
            case .none: stored.append(b.bytes)
            case .zstd:
                do { stored.append(try Zstd.compress(b.bytes, level: zstdLevel)) } catch {
                    throw ReelFormatError.invalidPlan(path: path, reason: "blob \"\(b.name)\": \(error)")
                }
            }
        }

        // Offsets, relative to the data section: blobs, then tensors, each on a 64-byte boundary.
        var cursor = 0
        func place(_ length: Int, _ what: String) throws -> Int {
            guard let at = ReelLayout.alignUp(cursor, ReelLayout.regionAlignment),
                  case let (end, false) = at.addingReportingOverflow(length) else {
                throw ReelFormatError.invalidPlan(path: path, reason: "\(what): the file would exceed \(Int.max) bytes")
            }
            cursor = end
            return at
        }
        var names = Set<String>()
        var blobs: [BlobInfo] = []
        for (b, s) in zip(blobPlans, stored) {
            try Self.checkName(b.name, &names, kind: "blob", path: path)
            blobs.append(BlobInfo(name: b.name, compression: b.compression, offset: try place(s.count, "blob \"\(b.name)\""),
                                  length: s.count, rawLength: b.bytes.count, xxh64: Checksum.xxh64(s)))
        }
        names.removeAll()
        var tensors: [TensorInfo] = []
        for t in tensorPlans {
            try Self.checkName(t.name, &names, kind: "tensor", path: path)
            guard let n = tensorByteCount(encoding: t.encoding, shape: t.shape) else {
                throw ReelFormatError.badShape(path: path, tensor: t.name, shape: t.shape)
            }
            tensors.append(TensorInfo(name: t.name, encoding: t.encoding, shape: t.shape,
                                      offset: try place(n, "tensor \"\(t.name)\""), length: n, xxh64: 0))
        }
        self.blobs = blobs
        self.tensors = tensors
        dataLength = cursor

        // The reader's own rules, so a plan the reader would refuse (a malformed `components`) fails before writing.
        let placeholderJSON = Self.metadataJSON(userMetadata, blobs: blobs, tensors: tensors, placeholders: true)
        _ = try MetadataValidator(path: path).validate(placeholderJSON, headerVersion: ReelLayout.formatVersion,
                                                       dataLength: dataLength)
        let placeholder = Array(placeholderJSON.serialized().utf8)
        metadataLength = placeholder.count
        guard metadataLength <= ReelLayout.maxMetadataLength,
              let d = ReelLayout.alignUp(ReelLayout.headerSize + metadataLength, ReelLayout.dataAlignment),
              case (_, false) = d.addingReportingOverflow(dataLength) else {
            throw ReelFormatError.invalidPlan(path: path, reason: "metadata of \(metadataLength) bytes is too large")
        }
        dataOffset = d

        do { out = try AtomicOutputFile(path: path, force: force, byteLimit: byteLimit) } catch {
            throw Self.translate(error, path: path)
        }
        try guarded {
            guard let out else { return }
            try out.write(header(metadataXXH64: 0).encoded())
            try out.write(placeholder)
            try out.writeZeros(dataOffset - out.position)
            for (b, s) in zip(blobs, stored) {
                try out.writeZeros(dataOffset + b.offset - out.position)
                try out.write(s)
            }
        }
    }

    // MARK: - Tensors

    /// Starts the next tensor of the plan; `name` must be it.
    public func beginTensor(_ name: String) throws {
        try guarded {
            if let open { throw misuse("beginTensor(\"\(name)\") while tensor \"\(tensors[open.index].name)\" is open") }
            guard nextTensor < tensors.count, tensors[nextTensor].name == name else {
                throw ReelFormatError.tensorOutOfOrder(path: path, expected: nextTensor < tensors.count ? tensors[nextTensor].name : nil,
                                                       got: name)
            }
            guard let out else { return }
            try out.writeZeros(dataOffset + tensors[nextTensor].offset - out.position)
            open = (nextTensor, 0, StreamingXXH64())
        }
    }

    /// Appends bytes to the open tensor; more bytes than the plan allows is an error.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try guarded {
            guard var o = open else { throw misuse("append with no tensor open") }
            let t = tensors[o.index]
            guard bytes.count <= t.length - o.written else {
                throw ReelFormatError.wrongTensorByteCount(path: path, tensor: t.name, expected: t.length,
                                                           got: o.written + bytes.count)
            }
            try out?.write(bytes)
            o.hash.update(bytes)
            o.written += bytes.count
            open = o
        }
    }

    public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Ends the open tensor; fewer bytes than the plan is an error.
    public func endTensor() throws {
        try guarded {
            guard let o = open else { throw misuse("endTensor with no tensor open") }
            let t = tensors[o.index]
            guard o.written == t.length else {
                throw ReelFormatError.wrongTensorByteCount(path: path, tensor: t.name, expected: t.length, got: o.written)
            }
            tensors[o.index] = TensorInfo(name: t.name, encoding: t.encoding, shape: t.shape, offset: t.offset,
                                          length: t.length, xxh64: o.hash.digest())
            open = nil
            nextTensor += 1
        }
    }

    /// Writes a whole tensor in one call.
    public func writeTensor(_ name: String, _ bytes: UnsafeRawBufferPointer) throws {
        try beginTensor(name)
        try append(bytes)
        try endTensor()
    }

    public func writeTensor(_ name: String, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeTensor(name, $0) }
    }

    /// Writes a tensor produced piecewise: `body` receives an `append` function and may call it any number of times.
    public func writeTensor(_ name: String, _ body: (_ append: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try beginTensor(name)
        do { try body { try self.append($0) } } catch { abort(); throw error }
        try endTensor()
    }

    // MARK: - Finishing

    /// Patches the checksums into the metadata and header, syncs, and renames onto the destination.
    public func finish() throws {
        try guarded {
            if let open { throw misuse("finish() while tensor \"\(tensors[open.index].name)\" is open") }
            guard nextTensor == tensors.count else {
                throw misuse("finish() with \(tensors.count - nextTensor) tensors unwritten, next \"\(tensors[nextTensor].name)\"")
            }
            guard let out else { return }
            try out.writeZeros(dataOffset + dataLength - out.position)
            let text = Array(Self.metadataJSON(userMetadata, blobs: blobs, tensors: tensors, placeholders: false).serialized().utf8)
            guard text.count == metadataLength else {
                throw misuse("internal: metadata changed length from \(metadataLength) to \(text.count) when patched")
            }
            try out.overwrite(at: ReelLayout.headerSize, text)
            try out.overwrite(at: 0, header(metadataXXH64: Checksum.xxh64(text)).encoded())
            try out.commit()
            self.out = nil
            failure = "finish() has already been called"
        }
    }

    /// Abandons the file: the temporary file is removed and the destination is left as it was.
    public func abort() {
        out = nil
        if failure == nil { failure = "the writer was aborted" }
    }

    // MARK: - Helpers

    private func header(metadataXXH64: UInt64) -> ReelHeader {
        ReelHeader(metadataLength: UInt64(metadataLength), metadataXXH64: metadataXXH64, dataOffset: UInt64(dataOffset),
                   dataLength: UInt64(dataLength), fileLength: UInt64(dataOffset + dataLength))
    }

    private func misuse(_ reason: String) -> ReelFormatError { .writerMisuse(path: path, reason: reason) }

    /// Runs a step; on any error drops the temporary file and refuses every later call.
    private func guarded(_ body: () throws -> Void) throws {
        if let failure { throw misuse("writer unusable: \(failure)") }
        do { try body() } catch {
            let e = Self.translate(error, path: path)
            failure = "an earlier error: \(e)"
            out = nil
            throw e
        }
    }

    private static func translate(_ error: Error, path: String) -> Error {
        guard let io = error as? IOError else { return error }
        switch io {
        case .exists: return ReelFormatError.outputExists(path: path)
        case let .open(dir, e): return ReelFormatError.unwritableDirectory(path: dir, reason: IOError.message(e))
        case .notARegularFile: return ReelFormatError.writeFailed(path: path, reason: "the destination is not a regular file (a directory, device, FIFO or socket)")
        case let .write(_, e): return ReelFormatError.writeFailed(path: path, reason: IOError.message(e))
        case let .rename(_, _, e): return ReelFormatError.writeFailed(path: path, reason: "rename: \(IOError.message(e))")
        default: return ReelFormatError.writeFailed(path: path, reason: "\(io)")
        }
    }

    private static func checkName(_ name: String, _ seen: inout Set<String>, kind: String, path: String) throws {
        guard !name.isEmpty else { throw ReelFormatError.invalidPlan(path: path, reason: "a \(kind) has an empty name") }
        guard seen.insert(name).inserted else { throw ReelFormatError.duplicateName(path: path, name: name) }
    }

    /// `format_version`, the caller's keys in order, then `blobs` and `tensors`; compact, so the length is exact.
    private static func metadataJSON(_ user: JSONObject, blobs: [BlobInfo], tensors: [TensorInfo], placeholders: Bool) -> JSON {
        func sum(_ v: UInt64) -> JSON { .string(placeholders ? ReelLayout.placeholderChecksum : Checksum.hex(v)) }
        var o = JSONObject()
        o["format_version"] = .int(Int64(ReelLayout.formatVersion))
        for (k, v) in user { o[k] = v }
        o["blobs"] = .array(blobs.map { b in
            ["name": .string(b.name), "compression": .string(b.compression.rawValue), "offset": .int(Int64(b.offset)),
             "length": .int(Int64(b.length)), "raw_length": .int(Int64(b.rawLength)), "xxh64": sum(b.xxh64)]
        })
        o["tensors"] = .array(tensors.map { t in
            ["name": .string(t.name), "encoding": .string(t.encoding.rawValue), "shape": .array(t.shape.map { .int(Int64($0)) }),
             "offset": .int(Int64(t.offset)), "length": .int(Int64(t.length)), "xxh64": sum(t.xxh64)]
        })
        return .object(o)
    }
}
