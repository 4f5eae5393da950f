import Foundation
import XCTest
import ReelCore

/// A tokenizer.json or chat template that `reel run` could not use stops `reel convert`, naming the file.
extension CLITests {
    func testBrokenChatTemplateOrTokenizerStopsConvertNamingTheFile() throws {
        let d = try scratch()
        let ck = d + "/ck"
        try FileManager.default.copyItem(atPath: example, toPath: ck)
        try Data("{% for m in messages %}{{ m.content }}".utf8).write(to: URL(fileURLWithPath: ck + "/chat_template.jinja"))
        let t = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet"])
        XCTAssertEqual(t.status, 1, t.stderr)
        XCTAssertTrue(t.stderr.contains(ck + "/chat_template.jinja: chat template"), t.stderr)
        XCTAssertFalse(fileExists(d + "/m.reel"))

        try FileManager.default.removeItem(atPath: ck + "/chat_template.jinja")
        let tj = ck + "/tokenizer.json"
        var tok = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tj))) as! [String: Any]
        var model = tok["model"] as! [String: Any]
        model["type"] = "Nonesuch"
        tok["model"] = model
        try JSONSerialization.data(withJSONObject: tok).write(to: URL(fileURLWithPath: tj))
        let k = try reel(["convert", ck, "-o", d + "/m.reel", "--quiet"])
        XCTAssertEqual(k.status, 1, k.stderr)
        XCTAssertTrue(k.stderr.contains(tj) && k.stderr.contains("Nonesuch"), k.stderr)
        XCTAssertFalse(fileExists(d + "/m.reel"))
    }
}
