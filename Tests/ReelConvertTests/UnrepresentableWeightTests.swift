import XCTest
import ReelCore
import ReelConvert
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
