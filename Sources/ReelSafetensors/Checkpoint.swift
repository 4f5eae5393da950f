import ReelCore

/// A Hugging Face checkpoint: one safetensors file, or shards tied together by an index
/// (`model.safetensors.index.json`, whose `weight_map` maps each tensor to its shard file).
/// Every shard is mapped and validated on open (mapping is O(1)), and the index and the shards
/// must agree exactly: no shard missing, no tensor missing from its shard, none unlisted, none twice.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    /// The directory holding the files.
    public let directory: String
    /// The index file, for a sharded checkpoint.
    public let indexPath: String?
    /// The files, in the order their tensors are listed (index: sorted shard names).
    public let files: [SafetensorsFile]
    /// Every tensor name: file by file, in storage order within a file (sequential reads when streaming).
    public let names: [String]
    private let location: [String: Int]

    /// Opens a checkpoint from a directory, an index file or a single `.safetensors` file.
    ///
    /// In a directory the first match wins: `model.safetensors` (as transformers prefers it),
    /// `model.safetensors.index.json`, a lone `*.safetensors.index.json`, a lone `*.safetensors`.
    public convenience init(path: String) throws {
        if isDirectory(path) {
            let (file, isIndex) = try SafetensorsCheckpoint.locate(directory: path)
            try self.init(file: joinPath(path, file), isIndex: isIndex)
        } else {
            try self.init(file: path, isIndex: path.hasSuffix(".json"))
        }
    }

    private init(file: String, isIndex: Bool) throws {
        directory = SafetensorsCheckpoint.parent(of: file)
        if isIndex {
            indexPath = file
            let (shardNames, weightMap) = try SafetensorsCheckpoint.readIndex(file)
            var files: [SafetensorsFile] = []
            for shard in shardNames {
                let shardPath = joinPath(directory, shard)
                guard fileExists(shardPath) else {
                    let tensor = weightMap.first { $0.shard == shard }?.tensor ?? ""
                    throw SafetensorsError.missingShard(index: file, shard: shard, tensor: tensor)
                }
                files.append(try SafetensorsFile(path: shardPath))
            }
            self.files = files
            location = try SafetensorsCheckpoint.reconcile(index: file, shardNames: shardNames, weightMap: weightMap, files: files)
        } else {
            indexPath = nil
            let f = try SafetensorsFile(path: file)
            files = [f]
            var location: [String: Int] = [:]
            for n in f.names { location[n] = 0 }
            self.location = location
        }
        names = files.flatMap(\.names)
    }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The file that holds `name`.
    public func file(for name: String) throws -> SafetensorsFile {
        guard let i = location[name] else { throw SafetensorsError.tensorNotFound(source: indexPath ?? directory, tensor: name) }
        return files[i]
    }

    /// The header entry for `name`: dtype, shape, offsets.
    public func tensor(_ name: String) throws -> SafetensorsTensor { try file(for: name).tensor(name) }

    /// The stored bytes of `name`, in place in the mapping (no copy). Valid while the checkpoint is alive.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer { try file(for: name).rawBytes(name) }

    /// Converts elements `elements` (all, by default) of `name` to f32 into `buffer`.
    public func readFloat32(_ name: String, elements: Range<Int>? = nil, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try file(for: name).readFloat32(name, elements: elements, into: buffer)
    }

    /// `name` converted to f32, as a new array.
    public func float32(_ name: String) throws -> [Float] { try file(for: name).float32(name) }

    /// NaN and infinity counts of `name` in its stored dtype.
    public func nonFiniteCount(_ name: String) throws -> NonFiniteCount { try file(for: name).nonFiniteCount(name) }

    // MARK: - Opening

    private static func locate(directory: String) throws -> (file: String, isIndex: Bool) {
        let entries = try wrapIO { try listDirectory(directory) }.filter { !isDirectory(joinPath(directory, $0)) }
        if entries.contains("model.safetensors") { return ("model.safetensors", false) }
        if entries.contains("model.safetensors.index.json") { return ("model.safetensors.index.json", true) }
        let indexes = entries.filter { $0.hasSuffix(".safetensors.index.json") }
        if indexes.count == 1 { return (indexes[0], true) }
        let files = entries.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
        if indexes.count > 1 { throw SafetensorsError.ambiguousCheckpoint(directory: directory, candidates: indexes) }
        if files.count == 1 { return (files[0], false) }
        if files.isEmpty { throw SafetensorsError.noCheckpoint(directory: directory) }
        throw SafetensorsError.ambiguousCheckpoint(directory: directory, candidates: files)
    }

    /// Parses the index: the sorted distinct shard names and the (tensor, shard) pairs in file order.
    private static func readIndex(_ path: String) throws -> ([String], [(tensor: String, shard: String)]) {
        let bytes = try wrapIO { try readWholeFile(path) }
        if let dup = bytes.withUnsafeBytes({ firstDuplicateKey($0) }) {
            throw SafetensorsError.invalidIndex(path: path, key: dup.object, reason: "\"\(dup.key)\" is listed twice")
        }
        let json: JSON
        do { json = try JSON.parse(bytes, source: path) } catch {
            throw SafetensorsError.invalidIndex(path: path, key: "(document)", reason: "\(error)")
        }
        guard json.object != nil else { throw SafetensorsError.invalidIndex(path: path, key: "(document)", reason: "not a JSON object") }
        guard let map = json["weight_map"]?.object else {
            throw SafetensorsError.invalidIndex(path: path, key: "weight_map", reason: "missing or not an object")
        }
        var pairs: [(tensor: String, shard: String)] = []
        for (tensor, v) in map {
            guard let shard = v.string, isSafeShardName(shard) else {
                throw SafetensorsError.invalidIndex(path: path, key: "weight_map.\(tensor)", reason: "not a relative shard file name")
            }
            pairs.append((tensor, shard))
        }
        return (Array(Set(pairs.map(\.shard))).sorted(), pairs)
    }

    /// A shard path must stay inside the checkpoint directory.
    private static func isSafeShardName(_ s: String) -> Bool {
        !s.isEmpty && !s.hasPrefix("/") && !s.split(separator: "/", omittingEmptySubsequences: false).contains("..")
            && !s.utf8.contains(0)
    }

    /// Checks index against shard headers; returns tensor → file position.
    private static func reconcile(index: String, shardNames: [String], weightMap: [(tensor: String, shard: String)],
                                  files: [SafetensorsFile]) throws -> [String: Int] {
        var found: [String: Int] = [:]
        for (i, f) in files.enumerated() {
            for name in f.names {
                if let j = found[name] { throw SafetensorsError.tensorInTwoShards(tensor: name, first: shardNames[j], second: shardNames[i]) }
                found[name] = i
            }
        }
        let position = Dictionary(uniqueKeysWithValues: shardNames.enumerated().map { ($1, $0) })
        var listed = Set<String>()
        for (tensor, shard) in weightMap {
            listed.insert(tensor)
            guard let p = position[shard], found[tensor] == p else {
                throw SafetensorsError.tensorMissingFromShard(index: index, tensor: tensor, shard: shard)
            }
        }
        for (i, f) in files.enumerated() {
            for name in f.names where !listed.contains(name) {
                throw SafetensorsError.tensorNotInIndex(index: index, tensor: name, shard: shardNames[i])
            }
        }
        return found
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let p = String(path[..<slash])
        return p.isEmpty ? "/" : p
    }
}

func wrapIO<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as IOError { throw SafetensorsError.io(e) }
}
