import Foundation
import ReelTokenizer
import XCTest

/// Properties, configuration and streaming behaviour beyond the parity fixtures.
final class TokenizerAPITests: XCTestCase {
    private func load(_ name: String, config: Bool = false) throws -> Tokenizer {
        try Tokenizer(tokenizerJSON: Fixtures.bytes("tok_\(name).json"),
                      configJSON: config ? Fixtures.bytes("tok_\(name).config.json") : nil)
    }

    func testVocabularyLookups() throws {
        let tok = try load("llama2", config: true)
        XCTAssertEqual(tok.id(forToken: "<s>"), 1)
        XCTAssertEqual(tok.id(forToken: "<0x0A>"), 3 + 0x0A)
        XCTAssertEqual(tok.token(forId: 3 + 0xFF), "<0xFF>")
        XCTAssertNil(tok.token(forId: -1))
        XCTAssertNil(tok.token(forId: tok.vocabSize + 10))
        XCTAssertNil(tok.id(forToken: "no such token"))
        XCTAssertEqual(tok.specialTokenIds, [0, 1, 2])
        XCTAssertTrue(tok.isSpecial(1))
        // The config names bos as an AddedToken object and eos as a plain string.
        XCTAssertEqual(tok.bosToken, "<s>"); XCTAssertEqual(tok.bosTokenId, 1)
        XCTAssertEqual(tok.eosToken, "</s>"); XCTAssertEqual(tok.eosTokenId, 2)
        XCTAssertEqual(tok.unkTokenId, 0)
        XCTAssertNil(tok.padTokenId)  // "pad_token": null
        XCTAssertNil(try load("llama2").bosTokenId)  // no config, no bos
    }

    func testAddedTokensAndConfig() throws {
        let tok = try load("roberta", config: true)
        let mask = try XCTUnwrap(tok.addedTokens.first { $0.content == "<mask>" })
        XCTAssertTrue(mask.special && mask.lstrip && !mask.rstrip && !mask.normalized)
        let world = try XCTUnwrap(tok.addedTokens.first { $0.content == "world" })
        XCTAssertTrue(world.singleWord && !world.special)
        XCTAssertEqual(tok.padToken, "<pad>")
        XCTAssertEqual(tok.padTokenId, tok.id(forToken: "<pad>"))
        XCTAssertEqual(tok.id(forToken: "<mask>"), mask.id)
        XCTAssertEqual(tok.token(forId: mask.id), "<mask>")
    }

    func testUnknownIdsAreSkippedInDecode() throws {
        let tok = try load("gpt2")
        let ids = tok.encode("Hello world")
        XCTAssertEqual(tok.decode([999_999] + ids + [-5]), tok.decode(ids))
    }

    /// A character spread over byte-fallback tokens (SentencePiece) or byte-level tokens is held back whole.
    func testStreamingHoldsSplitCharacters() throws {
        for name in ["llama2", "qwen2", "gpt2"] {
            let tok = try load(name)
            let text = "ok 👨‍👩‍👧 مرحبا ꙮ!"
            let ids = tok.encode(text, addSpecialTokens: false)
            var stream = tok.streamingDecoder()
            var chunks: [String] = []
            for id in ids { chunks.append(stream.feed(id)) }
            chunks.append(stream.finish())
            XCTAssertEqual(Array(chunks.joined().unicodeScalars), Array(tok.decode(ids).unicodeScalars), name)
            XCTAssertFalse(chunks.contains { $0.unicodeScalars.contains("\u{FFFD}") }, "\(name): \(chunks)")
            // Some ids completed nothing (they carried the first bytes of a character).
            XCTAssertTrue(chunks.dropLast().contains(""), "\(name): \(chunks)")
        }
    }

    /// An incomplete character at the end is given back by finish() as U+FFFD, as a full decode shows it.
    func testStreamingFinishFlushesIncompleteCharacter() throws {
        let tok = try load("llama2")
        let bytes = Array("가".utf8)  // three bytes, each its own <0xNN> token
        let ids = try bytes.prefix(2).map { try XCTUnwrap(tok.id(forToken: String(format: "<0x%02X>", $0))) }
        var stream = tok.streamingDecoder()
        XCTAssertEqual(ids.map { stream.feed($0) }, ["", ""])
        let rest = stream.finish()
        XCTAssertEqual(rest, tok.decode(ids))
        XCTAssertEqual(rest, "\u{FFFD}\u{FFFD}")
        // After finish the decoder starts afresh.
        XCTAssertEqual(stream.feed(tok.encode("hi", addSpecialTokens: false)) + stream.finish(), "hi")
    }

    func testEncodeIsThreadSafe() throws {
        let tok = try load("qwen2")
        let texts = (0..<64).map { "thread \($0) 안녕하세요 world \($0 * 7919)" }
        let expected = texts.map { tok.encode($0) }
        let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in results[i] = tok.encode(texts[i]) }
        XCTAssertEqual(Array(results), expected)
    }
}
