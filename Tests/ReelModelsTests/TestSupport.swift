import Foundation
import ReelCore
import ReelQuant
import ReelRuntime
import XCTest

/// The fixtures made by tools/make_decoder_fixtures.py.
enum Fixtures {
    static var root: URL {
        get throws {
            guard let u = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw TestFailure("Fixtures folder missing from the test bundle")
            }
            return u
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A minimal safetensors reader for the tests (header + raw bytes); ReelSafetensors replaces it once in main.
struct SafetensorsFixture {
    struct Entry { let dtype: String; let shape: [Int]; let bytes: [UInt8] }
    let entries: [String: Entry]

    init(_ url: URL) throws {
        let data = try [UInt8](Data(contentsOf: url))
        guard data.count >= 8 else { throw TestFailure("\(url.path): too short") }
        let n = data[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSON.parse(Array(data[8..<(8 + n)]), source: url.lastPathComponent)
        var out: [String: Entry] = [:]
        for (name, v) in header.object! where name != "__metadata__" {
            let offs = v["data_offsets"]!.array!.map { $0.int! }
            out[name] = Entry(dtype: v["dtype"]!.string!, shape: v["shape"]!.array!.map { $0.int! },
                              bytes: Array(data[(8 + n + offs[0])..<(8 + n + offs[1])]))
        }
        entries = out
    }

    /// A tensor as f32 (from F32, BF16 or F16).
    func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw TestFailure("fixture tensor \(name) missing") }
        return e.bytes.withUnsafeBytes { b -> [Float] in
            switch e.dtype {
            case "F32": return Array(b.bindMemory(to: Float.self))
            case "BF16": return b.bindMemory(to: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
            case "F16": return b.bindMemory(to: UInt16.self).map { Float(Float16(bitPattern: $0)) }
            default: return []
            }
        }
    }

    func ints(_ name: String) throws -> [Int] {
        guard let e = entries[name], e.dtype == "I64" else { throw TestFailure("fixture tensor \(name) missing or not I64") }
        return e.bytes.withUnsafeBytes { b in b.bindMemory(to: Int64.self).map { Int($0) } }
    }

    func shape(_ name: String) -> [Int] { entries[name]?.shape ?? [] }
}

/// Stores f32 values in an encoding (formats/REEL.md §3) — simple reference quantisers for the tests
/// (q8: d = max|w|/127; q4/q4f: GGUF Q4_0's d = m/−8), to be replaced by ReelQuant's once it is in main.
enum TestEncoder {
    static func encode(_ w: [Float], rowLength k: Int, as enc: Encoding) -> [UInt8] {
        let rows = w.count / k
        var out: [UInt8] = []
        out.reserveCapacity(enc.byteCount(shape: [rows, k])!)
        func f16(_ x: Float) -> [UInt8] { let b = Float16(x).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }
        for r in 0..<rows {
            let row = Array(w[(r * k)..<((r + 1) * k)])
            switch enc {
            case .f32: row.withUnsafeBytes { out += $0 }
            case .f16: for x in row { out += f16(x) }
            case .bf16:
                for x in row {
                    // round to nearest even
                    let u = x.bitPattern, rounded = (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16
                    out += [UInt8(rounded & 0xFF), UInt8(rounded >> 8)]
                }
            case .q8:
                for b in stride(from: 0, to: k, by: 32) {
                    let blk = (0..<32).map { b + $0 < k ? row[b + $0] : 0 }
                    let amax = blk.map(abs).max()!
                    let d = Float(Float16(amax / 127))
                    out += f16(d)
                    for x in blk { out.append(UInt8(bitPattern: Int8(d == 0 ? 0 : max(-127, min(127, (x / d).rounded()))))) }
                }
            case .q4, .q4f:
                for b in stride(from: 0, to: k, by: 32) {
                    let blk = (0..<32).map { b + $0 < k ? row[b + $0] : 0 }
                    func scale(_ xs: ArraySlice<Float>) -> Float {
                        let m = xs.max { abs($0) < abs($1) }!
                        return Float(Float16(m / -8))
                    }
                    let d0 = enc == .q4 ? scale(blk[0..<32]) : scale(blk[0..<16])
                    let d1 = enc == .q4 ? d0 : scale(blk[16..<32])
                    out += f16(d0)
                    if enc == .q4f { out += f16(d1) }
                    func code(_ x: Float, _ d: Float) -> UInt8 {
                        UInt8(Int(d == 0 ? 0 : max(-8, min(7, (x / d).rounded()))) + 8)
                    }
                    for j in 0..<16 { out.append(code(blk[j], d0) | code(blk[j + 16], d1) << 4) }
                }
            }
        }
        return out
    }
}

/// The HF → Reel decoder map and config normalisation, as the converter does them (test-local until ReelConvert
/// lands in main): `model.X` → `decoder.X`, `lm_head.weight` → `decoder.lm_head.weight`.
enum FixtureModel {
    static func normalisedConfig(_ hf: JSON) throws -> JSON {
        let family = hf["model_type"]!.string!
        let rp = hf["rope_parameters"] ?? JSON.object(JSONObject())
        let maxPos = hf["max_position_embeddings"]!.int!
        let attentionBias = hf["attention_bias"]?.bool ?? false
        var rope: [(String, JSON)] = [
            ("type", .string(rp["rope_type"]?.string ?? "default")),
            ("theta", .double(rp["rope_theta"]?.double ?? 10000)),
            ("factor", .double(rp["factor"]?.double ?? 1)),
            ("original_max_position_embeddings", .int(Int64(rp["original_max_position_embeddings"]?.int ?? maxPos))),
            ("partial_rotary_factor", .double(rp["partial_rotary_factor"]?.double ?? 1)),
        ]
        if let v = rp["low_freq_factor"] { rope.append(("low_freq_factor", v)) }
        if let v = rp["high_freq_factor"] { rope.append(("high_freq_factor", v)) }
        let heads = hf["num_attention_heads"]!.int!
        let pairs: [(String, JSON)] = [
            ("family", .string(family)),
            ("vocab_size", hf["vocab_size"]!),
            ("hidden_size", hf["hidden_size"]!),
            ("intermediate_size", hf["intermediate_size"]!),
            ("num_hidden_layers", hf["num_hidden_layers"]!),
            ("num_attention_heads", hf["num_attention_heads"]!),
            ("num_key_value_heads", hf["num_key_value_heads"] ?? .int(Int64(heads))),
            ("head_dim", hf["head_dim"] ?? .int(Int64(hf["hidden_size"]!.int! / heads))),
            ("rms_norm_eps", .double(hf["rms_norm_eps"]!.double!)),
            ("max_position_embeddings", .int(Int64(maxPos))),
            ("tie_word_embeddings", .bool(hf["tie_word_embeddings"]?.bool ?? false)),
            ("qkv_bias", .bool(family == "qwen2" ? true : attentionBias)),
            ("o_bias", .bool(family == "qwen2" ? false : attentionBias)),
            ("mlp_bias", .bool(hf["mlp_bias"]?.bool ?? false)),
            ("qk_norm", .bool(family == "qwen3")),
            ("hidden_act", hf["hidden_act"] ?? "silu"),
            ("rope", .object(JSONObject(rope))),
            ("bos_token_id", hf["bos_token_id"] ?? .null),
            ("eos_token_ids", .array([hf["eos_token_id"] ?? .null].filter { !$0.isNull })),
        ]
        return .object(JSONObject(pairs))
    }

    /// Loads a fixture checkpoint as Reel-named weights: 2-D tensors in `encoding` (embeddings and lm_head in q8
    /// when the body is 4-bit, as the converter's default policy), 1-D tensors in f32.
    static func load(_ family: String, encoding: Encoding = .f32) throws -> (InMemoryWeights, JSON) {
        let dir = try Fixtures.root.appendingPathComponent(family)
        let st = try SafetensorsFixture(dir.appendingPathComponent("model.safetensors"))
        let hf = try JSON.parse([UInt8](Data(contentsOf: dir.appendingPathComponent("config.json"))), source: "config.json")
        let weights = InMemoryWeights()
        for (name, e) in st.entries {
            let reelName = name.hasPrefix("model.") ? "decoder." + name.dropFirst(6) : "decoder." + name
            var enc = e.shape.count == 1 ? Encoding.f32 : encoding
            if (enc == .q4 || enc == .q4f) && (name.contains("embed_tokens") || name.contains("lm_head")) { enc = .q8 }
            let values = try st.floats(name)
            try weights.add(reelName, encoding: enc, shape: e.shape,
                            bytes: TestEncoder.encode(values, rowLength: e.shape.last!, as: enc))
        }
        return (weights, try normalisedConfig(hf))
    }

    static func reference(_ family: String) throws -> SafetensorsFixture {
        try SafetensorsFixture(try Fixtures.root.appendingPathComponent(family).appendingPathComponent("ref.safetensors"))
    }
}

/// Fails with max-abs, relative error and where, when `report`'s relative error exceeds `bound`.
func assertRelative(_ report: ParityReport, _ bound: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThanOrEqual(report.relative, bound, "\(report) — bound \(bound)", file: file, line: line)
}

func assertClose(_ name: String, _ actual: [Float], _ reference: [Float], relative bound: Double,
                 file: StaticString = #filePath, line: UInt = #line) throws {
    let r = try ParityReport(name: name, reference: reference, actual: actual)
    assertRelative(r, bound, file: file, line: line)
}
