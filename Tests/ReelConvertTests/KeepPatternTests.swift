import XCTest
import ReelConvert
import ReelQuant

/// A `--keep` pattern that matches no tensor changes nothing; convert and quantize say so instead of staying silent.
final class KeepPatternTests: XCTestCase {
    func testUnmatchedKeepPatternIsWarned() throws {
        let dir = try scratchDirectory()
        let ck = try copyFixture("qwen2", to: dir)
        let keep = [try QuantPolicy.Override(parsing: "*.down_proj.weight=q8"), try QuantPolicy.Override(parsing: "vision.*=f16")]
        var logged: [String] = []
        let s = try Converter.convert(checkpoint: ck, options: ConvertOptions(output: dir + "/m.reel", quant: .q4, overrides: keep, quiet: true)) {
            logged.append($0)
        }
        XCTAssertEqual(s.warnings.count, 1, "\(s.warnings)")
        XCTAssertTrue(s.warnings[0].contains("--keep 'vision.*=f16' matches no tensor"), s.warnings[0])
        XCTAssertEqual(logged, s.warnings)

        _ = try Converter.convert(checkpoint: ck, options: ConvertOptions(output: dir + "/f32.reel", quiet: true))
        let q = try Quantizer.quantize(input: dir + "/f32.reel", options: QuantizeOptions(output: dir + "/q.reel", quant: .q4, overrides: [try QuantPolicy.Override(parsing: "lm_hed*=f16")], quiet: true))
        XCTAssertEqual(q.warnings.count, 1, "\(q.warnings)")
        XCTAssertTrue(q.warnings[0].contains("--keep 'lm_hed*=f16'"), q.warnings[0])
    }
}
