import Foundation
import XCTest
import ReelConvert
import ReelCore
import ReelModels
import ReelRuntime

/// The generation layer on the bundled tiny Qwen2 (examples/tiny-qwen2, random weights): prompt building through
/// the checkpoint's chat template, stop strings, limits, and chat turns that reuse the KV cache.
final class GenerationTests: XCTestCase {
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// The example converted once per test run (lossless f32), in the test process's directory (removed at exit).
    static let modelPath: String = {
        let out = FixtureModel.tempDir + "/generation.reel"
        _ = try? Converter.convert(checkpoint: root + "/examples/tiny-qwen2", options: ConvertOptions(output: out, force: true, quiet: true))
        return out
    }()

    func model() throws -> TextModel { try TextModel(path: Self.modelPath, options: DecoderOptions(contextLength: 128, threads: 1)) }

    /// Expected ids from transformers 5.24: `AutoTokenizer.from_pretrained("examples/tiny-qwen2")
    /// .apply_chat_template(messages, add_generation_prompt=True, tokenize=True)`.
    func testPromptIdsMatchTransformersApplyChatTemplate() throws {
        let m = try model()
        XCTAssertEqual(try m.promptIds(messages: TextModel.messages(system: "You are terse.", user: "What colour is the square? 3 beeps, café")),
                       [1, 85, 91, 85, 86, 336, 201, 59, 279, 306, 262, 275, 85, 71, 16, 2, 201, 1, 87, 85, 275, 201, 325, 288, 281, 358, 84, 303,
                        269, 310, 33, 223, 21, 287, 14, 281, 67, 72, 130, 105, 2, 201, 1, 67, 85, 85, 276, 86, 274, 86, 201])
        XCTAssertEqual(try m.promptIds(messages: TextModel.messages(system: nil, user: "How many beeps?")),
                       [1, 85, 91, 85, 86, 336, 201, 59, 279, 306, 261, 223, 259, 78, 82, 72, 87, 78, 261, 85, 85, 276, 86, 274, 86, 16, 2, 201,
                        1, 87, 85, 275, 201, 322, 395, 91, 287, 33, 2, 201, 1, 67, 85, 85, 276, 86, 274, 86, 201])
    }

    func testStopStringCutsTheTextAndStreamingMatches() throws {
        let m = try model()
        let prompt = try m.promptIds(messages: TextModel.messages(system: nil, user: "How many beeps?"))
        let free = try m.generate(prompt: prompt, options: GenerationOptions(maxTokens: 24, ignoreEOS: true))
        XCTAssertEqual(free.tokens.count, 24)
        XCTAssertEqual(free.stopReason, .length)
        let chars = Array(free.text)
        guard chars.count >= 6 else { throw XCTSkip("the random model's text is too short to cut") }
        // Stop at a string that first occurs in the middle of the free-running text.
        let stop = String(chars[(chars.count / 2)..<(chars.count / 2 + 2)])
        let firstAt = free.text.indices.first { free.text[$0...].hasPrefix(stop) }!
        m.decoder.reset()
        var streamed = ""
        let cut = try m.generate(prompt: prompt, options: GenerationOptions(maxTokens: 24, stopStrings: [stop], ignoreEOS: true)) { streamed += $0 }
        XCTAssertEqual(cut.stopReason, .stop)
        XCTAssertEqual(cut.text, String(free.text[..<firstAt]))
        XCTAssertEqual(streamed, cut.text, "what streams is exactly the returned text; the stop string never leaks")
        XCTAssertEqual(Array(cut.tokens), Array(free.tokens.prefix(cut.tokens.count)), "greedy is deterministic")
    }

    func testChatTurnReusingTheCacheEqualsAFreshRun() throws {
        let m = try model()
        var messages = TextModel.messages(system: nil, user: "hello")
        let first = try m.generate(prompt: try m.promptIds(messages: messages), options: GenerationOptions(maxTokens: 6, ignoreEOS: true))
        let cached = try m.promptIds(messages: messages) + first.tokens.dropLast()
        messages.append(["role": "assistant", "content": .string(first.text)])
        messages.append(["role": "user", "content": "how many beeps?"])
        let ids = try m.promptIds(messages: messages)
        var common = 0
        while common < min(cached.count, ids.count - 1) && cached[common] == ids[common] { common += 1 }
        XCTAssertGreaterThan(common, 10, "the second turn shares the first turn's prefix")
        m.decoder.rewind(to: common)
        let reused = try m.generate(prompt: Array(ids[common...]), options: GenerationOptions(maxTokens: 8, ignoreEOS: true))
        m.decoder.reset()
        let fresh = try m.generate(prompt: ids, options: GenerationOptions(maxTokens: 8, ignoreEOS: true))
        XCTAssertEqual(reused.tokens, fresh.tokens)
    }

    func testContextLimitStopsGeneration() throws {
        let m = try TextModel(path: Self.modelPath, options: DecoderOptions(contextLength: 20, threads: 1))
        let r = try m.generate(prompt: Array(repeating: 5, count: 16), options: GenerationOptions(maxTokens: 50, ignoreEOS: true))
        XCTAssertEqual(r.stopReason, .context)
        XCTAssertEqual(r.tokens.count, 5, "16 prompt positions + 4 fed-back tokens fill 20; the 5th token is sampled, not stored")
        XCTAssertThrowsError(try m.generate(prompt: [], options: GenerationOptions())) { e in
            XCTAssertEqual(e as? GenerationError, .emptyPrompt)
        }
    }
}
