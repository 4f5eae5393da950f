import Foundation
import XCTest
import ReelCore
import ReelTokenizer

/// Byte-for-byte parity with transformers' own chat-template rendering (fixture made by
/// tools/make_chat_template_fixtures.py).
final class ChatTemplateParityTests: XCTestCase {
    private func loadFixture() throws -> JSON {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: dir.appendingPathComponent("chat_templates.json"))
        return try JSON.parse([UInt8](data), source: "chat_templates.json")
    }

    func testEveryFixtureCaseMatchesTransformers() throws {
        let fixture = try loadFixture()
        let templates = try XCTUnwrap(fixture["templates"]?.object)
        let cases = try XCTUnwrap(fixture["cases"]?.array)
        let conversations = try XCTUnwrap(fixture["conversations"])
        XCTAssertGreaterThan(cases.count, 50)
        var compiled: [String: ChatTemplate] = [:]
        // Templates whose cases expect a compile error must fail to compile; every other one must compile.
        let mustFail = Set(cases.filter { $0["error_kind"]?.string == "compile" }.compactMap { $0["template"]?.string })
        for (name, entry) in templates {
            do {
                compiled[name] = try ChatTemplate(XCTUnwrap(entry["template"]?.string))
                if mustFail.contains(name) { XCTFail("template \(name) compiled, but Jinja rejects it") }
            } catch let e as ChatTemplateError {
                switch e {
                case .syntax, .unknownFilter, .unknownTest:
                    if !mustFail.contains(name) { XCTFail("template \(name) does not compile: \(e)") }
                default:
                    XCTFail("template \(name): unexpected \(e)")
                }
            }
        }
        var checked = 0
        for c in cases {
            let name = try XCTUnwrap(c["name"]?.string)
            guard let template = compiled[try XCTUnwrap(c["template"]?.string)] else { continue }
            let messages = try XCTUnwrap(conversations[XCTUnwrap(c["conversation"]?.string)]?.array, name)
            let agp = try XCTUnwrap(c["add_generation_prompt"]?.bool)
            var vars: [String: JSON] = [:]
            for (k, v) in try fixture["variables"]?[XCTUnwrap(c["variables"]?.string)]?.object ?? JSONObject() { vars[k] = v }
            if let expected = c["expected"]?.string {
                do {
                    let got = try template.render(messages: messages, addGenerationPrompt: agp, variables: vars)
                    XCTAssertEqual(got, expected, "\(name): \(firstDifference(got, expected))")
                } catch {
                    XCTFail("\(name): threw \(error)")
                }
            } else {
                // raise_exception → .raised; Jinja's UndefinedError and Python's TypeError → .render, same message;
                // other Python errors (ZeroDivisionError, ValueError, …) → any ChatTemplateError.
                let message = try XCTUnwrap(c["expected_error"]?.string, name)
                let kind = try XCTUnwrap(c["error_kind"]?.string, name)
                XCTAssertThrowsError(try template.render(messages: messages, addGenerationPrompt: agp, variables: vars), name) { e in
                    switch (kind, e) {
                    case let ("raise_exception", ChatTemplateError.raised(got, _, _)): XCTAssertEqual(got, message, name)
                    case let ("render", ChatTemplateError.render(_, _, got)): XCTAssertEqual(got, message, name)
                    case ("any", is ChatTemplateError): break
                    default: XCTFail("\(name): expected a \(kind) error '\(message)', got \(e)")
                    }
                }
            }
            checked += 1
        }
        XCTAssertEqual(checked + failedToCompile(cases, compiled), cases.count)
    }

    func testFixtureCoversEveryFamily() throws {
        let names = try XCTUnwrap(loadFixture()["templates"]?.object).keys
        for family in ["qwen2", "qwen2_5", "qwen2_vl", "qwen3", "llama3", "llama3_1", "llama3_2", "llama2", "phi3", "llava_onevision",
                       "qwen2_audio", "llava_next_video"] {
            XCTAssertTrue(names.contains(family), family)
        }
    }

    /// Llama-3.2 asks `strftime_now("%d %b %Y")` when no date_string is given; with the clock pinned to the date the
    /// fixture passed as date_string, the output must be the same bytes.
    func testLlamaDateComesFromStrftimeNowWhenNotGiven() throws {
        let fixture = try loadFixture()
        var template = try ChatTemplate(XCTUnwrap(fixture["templates"]?["llama3_2"]?["template"]?.string))
        template.now = { BrokenDownTime(year: 2025, month: 3, day: 7, hour: 9, weekday: 5) }
        let cases = try XCTUnwrap(fixture["cases"]?.array).filter { $0["template"]?.string == "llama3_2" && $0["expected"] != nil }
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            var vars: [String: JSON] = [:]
            let set = try XCTUnwrap(fixture["variables"]?[XCTUnwrap(c["variables"]?.string)])
            for (k, v) in set.object ?? JSONObject() where k != "date_string" { vars[k] = v }
            XCTAssertEqual(set["date_string"]?.string, "07 Mar 2025")
            let got = try template.render(messages: XCTUnwrap(fixture["conversations"]?[XCTUnwrap(c["conversation"]?.string)]?.array),
                                          addGenerationPrompt: XCTUnwrap(c["add_generation_prompt"]?.bool), variables: vars)
            XCTAssertEqual(got, c["expected"]?.string, c["name"]?.string ?? "")
        }
    }

    private func failedToCompile(_ cases: [JSON], _ compiled: [String: ChatTemplate]) -> Int {
        cases.filter { compiled[$0["template"]?.string ?? ""] == nil }.count
    }

    private func firstDifference(_ a: String, _ b: String) -> String {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        var i = 0
        while i < x.count && i < y.count && x[i] == y[i] { i += 1 }
        func around(_ s: [Unicode.Scalar]) -> String {
            let lo = max(0, i - 20), hi = min(s.count, i + 20)
            return String(String.UnicodeScalarView(s[lo..<hi])).debugDescription
        }
        return "first difference at scalar \(i): got \(around(x)) expected \(around(y))"
    }
}
