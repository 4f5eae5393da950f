#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far a computed tensor is from a reference: the numbers `reel parity` prints and the tests bound.
///
/// The tensor is read as rows of `rowLength` (e.g. logits [S, V]); KL and top-1 are per row (next-token
/// distributions), the rest over all elements.
public struct ParityReport: Sendable, CustomStringConvertible {
    public let name: String
    public let count: Int
    public let rowLength: Int
    /// max |actual − reference|.
    public let maxAbs: Double
    /// Flat index of `maxAbs`.
    public let maxAbsIndex: Int
    /// maxAbs / (max(reference) − min(reference)): the error relative to the reference's range.
    public let relative: Double
    /// Root-mean-square of the difference.
    public let rms: Double
    /// Cosine similarity of the flattened tensors.
    public let cosine: Double
    /// Mean over rows of KL(softmax(reference) ‖ softmax(actual)) in nats.
    public let klDivergence: Double
    /// Fraction of rows whose argmax agrees.
    public let top1Agreement: Double

    /// - Parameters:
    ///   - rowLength: elements per row; defaults to one row of everything.
    public init(name: String, reference: [Float], actual: [Float], rowLength: Int? = nil) throws {
        guard reference.count == actual.count, !reference.isEmpty else {
            throw RuntimeError.invalidArgument("parity \(name): reference has \(reference.count) elements, actual \(actual.count)")
        }
        let k = rowLength ?? reference.count
        guard k > 0, reference.count % k == 0 else {
            throw RuntimeError.invalidArgument("parity \(name): \(reference.count) elements are not rows of \(k)")
        }
        self.name = name
        count = reference.count
        self.rowLength = k
        var maxAbs = 0.0, at = 0, sq = 0.0, dot = 0.0, nr = 0.0, na = 0.0
        var lo = Double.infinity, hi = -Double.infinity
        for i in 0..<count {
            let r = Double(reference[i]), a = Double(actual[i])
            let d = abs(a - r)
            if d > maxAbs || d.isNaN { maxAbs = d; at = i }
            sq += d * d; dot += r * a; nr += r * r; na += a * a
            lo = min(lo, r); hi = max(hi, r)
        }
        self.maxAbs = maxAbs
        maxAbsIndex = at
        relative = hi > lo ? maxAbs / (hi - lo) : maxAbs
        rms = (sq / Double(count)).squareRoot()
        // Clamped: rounding can put an identical pair a hair above 1 (1.0000000000000002 in --json).
        cosine = nr > 0 && na > 0 ? min(1, max(-1, dot / (nr.squareRoot() * na.squareRoot()))) : (nr == na ? 1 : 0)
        let rows = count / k
        var kl = 0.0, agree = 0
        for row in 0..<rows {
            let r = reference[(row * k)..<((row + 1) * k)].map(Double.init)
            let a = actual[(row * k)..<((row + 1) * k)].map(Double.init)
            let lr = Self.logSoftmax(r), la = Self.logSoftmax(a)
            for i in 0..<k { kl += exp(lr[i]) * (lr[i] - la[i]) }
            if Self.argmax(r) == Self.argmax(a) { agree += 1 }
        }
        klDivergence = kl / Double(rows)
        top1Agreement = Double(agree) / Double(rows)
    }

    private static func logSoftmax(_ x: [Double]) -> [Double] {
        let m = x.max() ?? 0
        let lse = m + log(x.reduce(0) { $0 + exp($1 - m) })
        return x.map { $0 - lse }
    }

    private static func argmax(_ x: [Double]) -> Int {
        var b = 0
        for i in x.indices where x[i] > x[b] { b = i }
        return b
    }

    /// "(row, column)" of the largest difference.
    public var maxAbsPosition: (row: Int, column: Int) { (maxAbsIndex / rowLength, maxAbsIndex % rowLength) }

    public var description: String {
        let p = maxAbsPosition
        return "\(name): max-abs \(fmt(maxAbs)) at [\(p.row), \(p.column)], relative \(fmt(relative)), rms \(fmt(rms)), "
            + "cosine \(fmt(cosine, digits: 8)), KL \(fmt(klDivergence)), top-1 \(fmt(top1Agreement * 100, digits: 4))%"
    }

    private func fmt(_ x: Double, digits: Int = 3) -> String {
        if x == 0 { return "0" }
        if x.isNaN { return "nan" }
        let e = Int(floor(log10(abs(x))))
        if e >= -3 && e < 6 {
            let scale = pow(10.0, Double(max(digits - 1 - e, 0)))
            return "\((x * scale).rounded() / scale)"
        }
        let m = x / pow(10.0, Double(e))
        let scale = pow(10.0, Double(digits - 1))
        return "\((m * scale).rounded() / scale)e\(e)"
    }
}
