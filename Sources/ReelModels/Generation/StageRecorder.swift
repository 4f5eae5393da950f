import ReelRuntime

/// Collects a model's named intermediates (the decoder's capture hook) into whole-sequence arrays, so any stage can
/// be written out (`reel forward`) or compared with a reference (`reel parity`).
public final class StageRecorder {
    /// Stage names in the order first seen.
    public private(set) var names: [String] = []
    /// name → (row length, rows × row length values; rows never written stay NaN).
    public private(set) var stages: [String: (rowLength: Int, values: [Float])] = [:]
    private let rows: Int
    private let keep: (String) -> Bool

    /// - Parameters:
    ///   - rows: the sequence length.
    ///   - keep: which stage names to record.
    public init(rows: Int, keep: @escaping (String) -> Bool) {
        self.rows = rows
        self.keep = keep
    }

    /// The hook to install on a decoder: `decoder.capture = recorder.record`.
    public func record(_ name: String, _ t: Tensor, _ firstRow: Int) {
        guard keep(name) else { return }
        let k = t.rowLength
        if stages[name] == nil {
            names.append(name)
            stages[name] = (k, [Float](repeating: .nan, count: rows * k))
        }
        let n = min(t.rows, rows - firstRow)
        guard n > 0, stages[name]!.rowLength == k else { return }
        stages[name]!.values.withUnsafeMutableBufferPointer { dst in
            (dst.baseAddress! + firstRow * k).update(from: t.data, count: n * k)
        }
    }

    /// Only the rows that were written (e.g. the last position's logits), row-major.
    public func writtenRows(_ name: String) -> (rows: [Int], values: [Float])? {
        guard let s = stages[name] else { return nil }
        var rowsOut: [Int] = []
        var values: [Float] = []
        for r in 0..<rows where !s.values[r * s.rowLength].isNaN {
            rowsOut.append(r)
            values.append(contentsOf: s.values[(r * s.rowLength)..<((r + 1) * s.rowLength)])
        }
        return (rowsOut, values)
    }
}
