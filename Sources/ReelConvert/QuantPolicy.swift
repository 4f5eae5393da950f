import ReelModels
import ReelQuant

/// Chooses each tensor's encoding: the mixed-precision default users know from llama.cpp's Q4_K_M, plus
/// per-tensor overrides (`--keep PATTERN=ENCODING`). docs/quantization.md explains each rule.
public struct QuantPolicy: Sendable, Equatable {
    /// The encoding of the model's body (its linear weights).
    public var body: Encoding
    /// `--keep` overrides in the order given; the first pattern that matches a tensor wins.
    public var overrides: [Override]

    public struct Override: Sendable, Equatable, CustomStringConvertible {
        public let pattern: String
        public let encoding: Encoding
        public init(pattern: String, encoding: Encoding) {
            self.pattern = pattern
            self.encoding = encoding
        }
        /// Parses `PATTERN=ENCODING`.
        public init(parsing text: String) throws {
            guard let eq = text.lastIndex(of: "="), eq != text.startIndex else { throw ConvertError.badOverride(text, "expected PATTERN=ENCODING") }
            let pat = String(text[..<eq])
            let enc = String(text[text.index(after: eq)...])
            guard let e = Encoding(userName: enc) else {
                throw ConvertError.badOverride(text, "unknown encoding \(enc); known: \(Encoding.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.init(pattern: pat, encoding: e)
        }
        public var description: String { "\(pattern)=\(encoding.rawValue)" }
    }

    public init(body: Encoding, overrides: [Override] = []) {
        self.body = body
        self.overrides = overrides
    }

    /// The encoding for one tensor and the rule that chose it (shown by `reel inspect --tensors`).
    public func encoding(for t: TensorSpec) -> (encoding: Encoding, rule: String) {
        if let o = overrides.first(where: { QuantPolicy.matches(pattern: $0.pattern, name: t.name) }) {
            return (o.encoding, "--keep \(o)")
        }
        if t.role == .vector || t.shape.count == 1 { return (.f32, "1-D tensors stay f32") }
        guard body.isQuantized else { return (body, "body") }
        switch t.role {
        case .tokenEmbedding, .outputHead:
            return (.q8, "embeddings and output head stay q8")
        case .convolution, .positionEmbedding, .other:
            return (.f16, "patch/conv and position embeddings stay f16")
        case .linear, .vector:
            return (body, "body")
        }
    }

    /// Warnings for `--keep` patterns that match none of `names` (a typo, or a pattern for another model): such an
    /// override changes nothing, which the user would not otherwise see.
    public func unmatchedOverrideWarnings(_ names: [String]) -> [String] {
        overrides.filter { o in !names.contains { QuantPolicy.matches(pattern: o.pattern, name: $0) } }.map {
            "warning: --keep '\($0)' matches no tensor of this model, so it changes nothing (patterns match Reel's names, "
                + "e.g. decoder.layers.0.mlp.down_proj.weight; `reel inspect --tensors FILE` lists them)"
        }
    }

    /// Glob match (`*` any run, `?` one character) against the whole name or any dot-separated tail of it, so
    /// `lm_head*` matches `decoder.lm_head.weight` and `*.mlp.*` matches every MLP weight.
    public static func matches(pattern: String, name: String) -> Bool {
        let p = Array(pattern.utf8)
        let n = Array(name.utf8)
        if glob(p, n[...]) { return true }
        for (i, c) in n.enumerated() where c == UInt8(ascii: ".") && glob(p, n[(i + 1)...]) { return true }
        return false
    }

    private static func glob(_ p: [UInt8], _ s: ArraySlice<UInt8>) -> Bool {
        // Iterative wildcard matching with one backtrack point (linear in practice).
        var pi = 0, si = s.startIndex
        var star = -1, mark = s.startIndex
        while si < s.endIndex {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == s[si]) { pi += 1; si += 1 }
            else if pi < p.count && p[pi] == UInt8(ascii: "*") { star = pi; mark = si; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; si = mark }
            else { return false }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
