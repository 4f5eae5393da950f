import ReelCore
import ReelFormat
import ReelQuant
import ReelSafetensors

/// The one streaming path from a tensor source to a .reel file, shared by `convert` and `quantize`.
/// Peak memory is one chunk of rows (≤ 4 MiB of f32 plus its encoded form), not a tensor and never the model.
/// NaN and infinity counts of one tensor, and whether they were stored as 0 (quantised encodings).
struct NonFinite {
    var nan = 0
    var inf = 0
    var zeroed = false
    var total: Int { nan + inf }
}

func writeModel(to output: String, force: Bool, metadata: JSONObject, blobs: [BlobPlan], plan: [PlannedTensor],
                source: TensorSource, label: String, quiet: Bool) throws -> [(String, NonFinite)] {
    let writer = try ReelWriter(path: output, metadata: .object(metadata), blobs: blobs,
                                tensors: plan.map { TensorPlan(name: $0.spec.name, encoding: $0.encoding, shape: $0.spec.shape) },
                                force: force)
    let totalBytes = plan.reduce(0) { $0 + ($1.encoding.byteCount(shape: $1.spec.shape) ?? 0) }
    let bar = ProgressBar(label: label, total: plan.count, totalBytes: totalBytes, quiet: quiet)
    defer { bar.finish() }
    var nonFinite: [(String, NonFinite)] = []
    let chunkFloats = 1 << 20
    var floats = [Float](repeating: 0, count: chunkFloats)
    var encoded = [UInt8]()

    for p in plan {
        let k = p.spec.shape[p.spec.shape.count - 1]
        let rows = p.spec.shape.dropLast().reduce(1, *)
        try source.checkIntegrity(p.sourceName)
        try writer.beginTensor(p.spec.name)
        if try source.storedEncoding(p.sourceName) == p.encoding {
            // Already in the target encoding: copy the bytes as they are.
            let raw = try source.rawBytes(p.sourceName)
            var off = 0
            while off < raw.count {
                let n = min(raw.count - off, 8 << 20)
                try writer.append(UnsafeRawBufferPointer(rebasing: raw[off..<(off + n)]))
                bar.advance(bytes: n, note: p.spec.name)
                off += n
            }
            if let s = source as? SafetensorsSource {
                let c = try s.nonFinite(p.sourceName)
                if c.total > 0 { nonFinite.append((p.spec.name, NonFinite(nan: c.nan, inf: c.inf))) }
            }
        } else {
            // Rows → f32 → target encoding, a chunk of rows at a time.
            let rowBytes = try p.encoding.rowBytes(k).unwrapOr(ConvertError.notConvertible(tensor: p.spec.name, message: "row of \(k) elements is too large"))
            let rowsPerChunk = max(1, chunkFloats / k)
            if floats.count < rowsPerChunk * k { floats = [Float](repeating: 0, count: rowsPerChunk * k) }
            if encoded.count < rowsPerChunk * rowBytes { encoded = [UInt8](repeating: 0, count: rowsPerChunk * rowBytes) }
            var count = NonFinite()
            var r = 0
            while r < rows {
                let n = min(rowsPerChunk, rows - r)
                try floats.withUnsafeMutableBufferPointer { f in
                    let chunk = UnsafeMutableBufferPointer(rebasing: f[0..<(n * k)])
                    try source.readRows(p.sourceName, rows: r..<(r + n), k: k, into: chunk)
                    for i in chunk.indices where !chunk[i].isFinite {
                        if chunk[i].isNaN { count.nan += 1 } else { count.inf += 1 }
                        // A quantised block cannot hold NaN or infinity; store 0 (the warning says so).
                        if p.encoding.isQuantized { chunk[i] = 0 }
                    }
                    try encoded.withUnsafeMutableBytes { e in
                        let out = UnsafeMutableRawBufferPointer(rebasing: e[0..<(n * rowBytes)])
                        do {
                            _ = try Codec.encode(UnsafeBufferPointer(chunk), rows: n, k: k, as: p.encoding, into: out)
                        } catch QuantError.unrepresentable(let enc, let row) {
                            // Non-finite values were zeroed above, so this is a block whose scale overflows f16.
                            throw ConvertError.notConvertible(
                                tensor: p.spec.name,
                                message: "row \(r + row) cannot be stored as \(enc.rawValue): a block's scale would exceed the "
                                    + "largest f16 (65504); keep this tensor in f32 with --keep '\(p.spec.name)=f32'")
                        }
                        try writer.append(UnsafeRawBufferPointer(out))
                    }
                }
                bar.advance(bytes: n * rowBytes, note: p.spec.name)
                r += n
            }
            if count.total > 0 {
                count.zeroed = p.encoding.isQuantized
                nonFinite.append((p.spec.name, count))
            }
        }
        try writer.endTensor()
        bar.advance(items: 1)
    }
    try writer.finish()
    return nonFinite
}

extension Optional {
    /// The value, or the given error.
    func unwrapOr(_ error: @autoclosure () -> Error) throws -> Wrapped {
        guard let v = self else { throw error() }
        return v
    }
}
