import Foundation
import XCTest
import ReelCore

/// A problem found inside a model file while loading it (the decoder's config, the chat template) names the file.
extension CLITests {
    func testBrokenChatTemplateNamesTheModelFile() throws {
        let d = try scratch()
        let ck = d + "/ck"
        try FileManager.default.copyItem(atPath: example, toPath: ck)
        try? FileManager.default.removeItem(atPath: ck + "/chat_template.jinja")
        try Data("{% if %}broken".utf8).write(to: URL(fileURLWithPath: ck + "/chat_template.jinja"))
        XCTAssertEqual(try reel(["convert", ck, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let r = try reel(["run", d + "/m.reel", "--prompt", "Hi", "--max-tokens", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(d + "/m.reel: chat template:"), r.stderr)
    }
}
