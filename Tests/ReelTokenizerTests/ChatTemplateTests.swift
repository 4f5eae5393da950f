import Foundation
import XCTest
import ReelCore
import ReelTokenizer

/// Errors, the pinned clock and the config lookup; parity of rendered text lives in ChatTemplateParityTests.
final class ChatTemplateTests: XCTestCase {
    private let user: [JSON] = [["role": "user", "content": "hi"]]

    private func render(_ source: String, _ messages: [JSON]? = nil, _ vars: [String: JSON] = [:]) throws -> String {
        try ChatTemplate(source).render(messages: messages ?? user, addGenerationPrompt: false, variables: vars)
    }

    func testUnclosedBlockNamesTheOpeningTag() {
        XCTAssertThrowsError(try ChatTemplate("hello\n  {% for m in messages %}\n{{ m.role }}")) { e in
            guard case let ChatTemplateError.syntax(line, column, message) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(line, 2)
            XCTAssertEqual(column, 6)
            XCTAssertTrue(message.contains("endfor"), message)
        }
        XCTAssertThrowsError(try ChatTemplate("{% if x %}a{% else %}b")) { e in
            guard case let ChatTemplateError.syntax(1, 4, message) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("endif"), message)
        }
    }

    func testUnterminatedTagsAndStrings() {
        let cases: [(String, Int, Int, String)] = [
            ("ab {{ x ", 1, 4, "'{{'"),
            ("x\n {% if true ", 2, 2, "'{%'"),
            ("{# never closed", 1, 1, "comment"),
            ("{{ 'open }}", 1, 4, "string"),
        ]
        for (source, line, column, needle) in cases {
            XCTAssertThrowsError(try ChatTemplate(source), source) { e in
                guard case let ChatTemplateError.syntax(l, c, message) = e else { return XCTFail("\(source): \(e)") }
                XCTAssertEqual([l, c], [line, column], source)
                XCTAssertTrue(message.contains(needle), "\(source): \(message)")
            }
        }
    }

    func testStrayEndTagAndUnknownTag() {
        XCTAssertThrowsError(try ChatTemplate("a{% endif %}")) { e in
            guard case let ChatTemplateError.syntax(1, 5, message) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("endif"), message)
        }
        XCTAssertThrowsError(try ChatTemplate("{% include 'x' %}")) { e in
            guard case ChatTemplateError.syntax(1, 4, _) = e else { return XCTFail("\(e)") }
        }
    }

    func testUnknownFilterIsRejectedAtCompileTimeWithPosition() {
        XCTAssertThrowsError(try ChatTemplate("line\n{{ x | frobnicate }}")) { e in
            XCTAssertEqual(e as? ChatTemplateError, .unknownFilter(name: "frobnicate", line: 2, column: 8))
            XCTAssertEqual("\(e)", "chat template 2:8: unknown filter 'frobnicate'")
        }
        XCTAssertThrowsError(try ChatTemplate("{{ x is frob }}")) { e in
            XCTAssertEqual(e as? ChatTemplateError, .unknownTest(name: "frob", line: 1, column: 9))
        }
        XCTAssertThrowsError(try render("{{ [1] | select('frob') | list }}")) { e in
            guard case ChatTemplateError.unknownTest("frob", 1, _) = e else { return XCTFail("\(e)") }
        }
    }

    func testRaiseExceptionMessageSurfaces() {
        let source = "{% for m in messages %}\n  {% if m.role != 'assistant' %}{{ raise_exception('Bad role: ' + m.role) }}{% endif %}\n{% endfor %}"
        XCTAssertThrowsError(try render(source)) { e in
            XCTAssertEqual(e as? ChatTemplateError, .raised(message: "Bad role: user", line: 2, column: 36))
        }
    }

    func testUndefinedBehavesLikeJinja() throws {
        // Printing, truth, length, default and `is defined` are fine …
        XCTAssertEqual(try render("[{{ nope }}]{{ nope is defined }}{{ nope | length }}{{ 'y' if nope else 'n' }}{{ messages[0].nope is defined }}"),
                       "[]False0nFalse")
        // … but using it as an object is an error naming it, as in Jinja's default Undefined.
        XCTAssertThrowsError(try render("{{ nope.attr }}")) { e in
            XCTAssertEqual(e as? ChatTemplateError, .render(line: 1, column: 8, message: "'nope' is undefined"))
        }
        XCTAssertThrowsError(try render("{{ 'a' + messages[0].nope }}")) { e in
            XCTAssertEqual(e as? ChatTemplateError, .render(line: 1, column: 8, message: "'dict object' has no attribute 'nope'"))
        }
    }

    func testTypeErrorsAreValues() {
        XCTAssertThrowsError(try render("{{ 'a' + 1 }}")) { e in
            XCTAssertEqual(e as? ChatTemplateError, .render(line: 1, column: 8, message: "can only concatenate str (not \"int\") to str"))
        }
        XCTAssertThrowsError(try render("{{ 1 // 0 }}")) { e in
            guard case ChatTemplateError.render(1, 6, _) = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try render("{% for x in 3 %}{% endfor %}")) { e in
            guard case ChatTemplateError.render(1, 4, _) = e else { return XCTFail("\(e)") }
        }
    }

    func testStrftimeNowUsesTheInjectedClock() throws {
        var t = try ChatTemplate("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %e, %H:%M:%S %p %y %%') }}")
        t.now = { BrokenDownTime(year: 2025, month: 3, day: 7, hour: 14, minute: 5, second: 9, weekday: 5) }
        XCTAssertEqual(try t.render(messages: user, addGenerationPrompt: false), "07 Mar 2025|Friday March  7, 14:05:09 PM 25 %")
        // The real clock gives "DD Mon YYYY".
        let live = try ChatTemplate("{{ strftime_now('%d %b %Y') }}").render(messages: user, addGenerationPrompt: false)
        XCTAssertEqual(live.count, 11, live)
    }

    func testToolsAndDocumentsDefaultToNoneLikeTransformers() throws {
        XCTAssertEqual(try render("{{ tools is defined }} {{ tools is none }} {{ documents is none }}"), "True True True")
        XCTAssertEqual(try render("{{ tools | length }}", nil, ["tools": [["type": "function"]]]), "1")
    }

    func testMessagesArePreparedLikeApplyChatTemplate() throws {
        let messages: [JSON] = [["role": "assistant", "content": .null, "reasoning": "r", "tool_calls": [["x": .null]]]]
        XCTAssertEqual(try render("{{ messages[0] | tojson }}", messages),
                       #"{"thinking": "r", "role": "assistant", "reasoning": "r", "tool_calls": [{"x": null}], "reasoning_content": "r"}"#)
        XCTAssertThrowsError(try render("{{ 1 }}", [["role": "user"], "not an object"])) { e in
            XCTAssertEqual(e as? ChatTemplateError, .invalidMessage(index: 1, reason: "a message must be a JSON object"))
        }
    }

    func testFindsTheTemplateInACheckpointDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws {
            let url = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        XCTAssertNil(try ChatTemplate.source(inCheckpoint: dir.path))
        try write("tokenizer_config.json", #"{"chat_template": [{"name": "default", "template": "T"}, {"name": "tool_use", "template": "U"}]}"#)
        XCTAssertEqual(try ChatTemplate.source(inCheckpoint: dir.path)?.text, "T")
        XCTAssertEqual(try ChatTemplate.source(inCheckpoint: dir.path, name: "tool_use")?.text, "U")
        // The processor's template (multimodal) wins over the tokenizer's, and a .jinja file over both.
        try write("chat_template.json", #"{"chat_template": "P"}"#)
        XCTAssertEqual(try ChatTemplate.source(inCheckpoint: dir.path)?.text, "P")
        try write("chat_template.jinja", "J\n")
        let found = try XCTUnwrap(ChatTemplate.source(inCheckpoint: dir.path))
        XCTAssertEqual(found.text, "J\n")
        XCTAssertTrue(found.path.hasSuffix("/chat_template.jinja"), found.path)
        try write("additional_chat_templates/rag.jinja", "R")
        XCTAssertEqual(try ChatTemplate.source(inCheckpoint: dir.path, name: "rag")?.text, "R")
        // A malformed file is an error naming it.
        try write("chat_template.json", #"{"chat_template": 7}"#)
        XCTAssertThrowsError(try ChatTemplate.source(inCheckpoint: dir.path, name: "tool_use")) { e in
            guard case let ChatTemplateError.config(message) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("chat_template.json"), message)
        }
    }

    func testFindsTheTemplateInAConfig() throws {
        let plain = try JSON.parse(#"{"bos_token": "<s>", "chat_template": "{{ 1 }}"}"#, source: "t")
        XCTAssertEqual(try ChatTemplate.source(inConfig: plain), "{{ 1 }}")
        let named = try JSON.parse(#"{"chat_template": [{"name": "default", "template": "A"}, {"name": "tool_use", "template": "B"}]}"#, source: "t")
        XCTAssertEqual(try ChatTemplate.source(inConfig: named), "A")
        XCTAssertEqual(try ChatTemplate.source(inConfig: named, name: "tool_use"), "B")
        XCTAssertThrowsError(try ChatTemplate.source(inConfig: named, name: "rag")) { e in
            guard case let ChatTemplateError.config(message) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(message.contains("rag") && message.contains("tool_use"), message)
        }
        XCTAssertNil(try ChatTemplate.source(inConfig: try JSON.parse(#"{"eos_token": "</s>"}"#, source: "t")))
        XCTAssertThrowsError(try ChatTemplate.source(inConfig: try JSON.parse(#"{"chat_template": 3}"#, source: "t"))) { e in
            guard case ChatTemplateError.config = e else { return XCTFail("\(e)") }
        }
    }
}
