import Foundation
import XCTest
import ReelCore
import ReelConvert
import ReelFormat
import ReelQuant

/// A finite weight too large for a quantised block's f16 scale is refused naming the tensor and the row, with the
/// way out (`--keep NAME=f32`), and nothing is left at the output path.
extension ConvertBadInputTests {
    func testWeightBeyondTheF16ScaleNamesTheTensor() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        try rewriteWeights(ck) { w in
            var t = w["model.layers.1.self_attn.q_proj.weight"]!
            t.values[t.shape[1] * 2 + 5] = 1e30  // row 2
            w["model.layers.1.self_attn.q_proj.weight"] = t
        }
        for quant: Encoding in [.q8, .q4, .q4f] {
            let out = joinPath(dir, "big-\(quant.rawValue).reel")
            XCTAssertThrowsError(try convert(ck, out, quant: quant)) { e in
                let m = "\(e)"
                XCTAssertTrue(m.contains("decoder.layers.1.self_attn.q_proj.weight") && m.contains("row 2"), m)
                XCTAssertTrue(m.contains("--keep 'decoder.layers.1.self_attn.q_proj.weight=f32'"), m)
            }
            XCTAssertFalse(fileExists(out))
        }
    }
}

/// `reel quantize` re-encodes a .reel file's tensors under fresh checksums, so it checks each source tensor's
/// checksum first: damaged weights are refused by name instead of being laundered into a valid-looking file.
extension ConvertBadInputTests {
    func testQuantizeRefusesADamagedTensor() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        let f32 = joinPath(dir, "f32.reel"), q8 = joinPath(dir, "q8.reel")
        _ = try convert(ck, f32)
        let file = try ReelFile(path: f32)
        let t = try XCTUnwrap(file.tensors.first { $0.name.hasSuffix("mlp.down_proj.weight") })
        let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: f32))
        try h.seek(toOffset: UInt64(file.dataOffset + t.offset + 4))
        let b = try XCTUnwrap(try h.read(upToCount: 1))[0]
        try h.seek(toOffset: UInt64(file.dataOffset + t.offset + 4))
        h.write(Data([b ^ 0x40]))
        try h.close()
        XCTAssertThrowsError(try Quantizer.quantize(input: f32, options: QuantizeOptions(output: q8, quant: .q8, quiet: true))) { e in
            XCTAssertTrue("\(e)".contains(t.name) && "\(e)".contains(f32), "\(e)")
        }
        XCTAssertFalse(fileExists(q8))
    }
}
