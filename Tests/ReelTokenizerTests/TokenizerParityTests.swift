import Foundation
import ReelCore
import ReelTokenizer
import XCTest

/// Parity with the HF `tokenizers` library: ids, decode and streaming decode on every recorded string.
final class TokenizerParityTests: XCTestCase {
    /// Trained fixtures: one per family configuration (see tools/make_tokenizer_fixtures.py).
    static let families = ["qwen2", "llama3", "anchored", "gpt2", "roberta", "llama2", "metaspace_first", "metaspace_always"]

    func testTrainedFixtures() throws {
        var failures: [String] = []
        for name in Self.families {
            let expected = try Fixtures.json("tok_\(name).expected.json")
            let config = Fixtures.exists("tok_\(name).config.json") ? try Fixtures.bytes("tok_\(name).config.json") : nil
            let tok = try Tokenizer(tokenizerJSON: Fixtures.bytes("tok_\(name).json"), configJSON: config, name: "tok_\(name).json")
            let cases = try XCTUnwrap(expected["cases"]?.array).map(ParityCase.init)
            XCTAssertGreaterThan(cases.count, 20)
            XCTAssertEqual(tok.vocabSize, expected["vocab_size"]?.int, name)
            failures += parityFailures(tok, cases, name: name)
        }
        XCTAssert(failures.isEmpty, "\(failures.count) mismatches:\n" + failures.prefix(15).joined(separator: "\n"))
    }

    /// The real files in ../shared/tokenizers (not in the repository); their expected ids are committed.
    static let realFiles = ["gpt2", "llama2", "llama2-legacy-merges", "phi3-mini", "whisper-tiny", "whisper-large-v3"]

    func testRealTokenizerFiles() throws {
        guard let dir = Fixtures.realTokenizersDir() else {
            throw XCTSkip("skipped: ../shared/tokenizers (the real tokenizer files) is absent beside the repository")
        }
        var failures: [String] = []
        var tested = 0
        for name in Self.realFiles {
            let path = dir.appendingPathComponent(name).appendingPathComponent("tokenizer.json").path
            guard FileManager.default.fileExists(atPath: path) else { print("skipped \(name): \(path) is absent"); continue }
            let configPath = dir.appendingPathComponent(name).appendingPathComponent("tokenizer_config.json").path
            let clock = ContinuousClock()
            let start = clock.now
            let tok = try Tokenizer(tokenizerFile: path,
                                    configFile: FileManager.default.fileExists(atPath: configPath) ? configPath : nil)
            print("loaded \(name)/tokenizer.json in \(clock.now - start)")  // information, not a timed assertion
            let expected = try Fixtures.json("tok_real_\(name).expected.json")
            XCTAssertEqual(tok.vocabSize, expected["vocab_size"]?.int, name)
            failures += parityFailures(tok, try XCTUnwrap(expected["cases"]?.array).map(ParityCase.init), name: name)
            tested += 1
        }
        XCTAssertGreaterThan(tested, 0)
        XCTAssert(failures.isEmpty, "\(failures.count) mismatches:\n" + failures.prefix(15).joined(separator: "\n"))
    }

    /// Bos/eos from the real configs (Whisper's has an integer beyond Int64, which must not stop loading).
    func testRealConfigs() throws {
        guard let dir = Fixtures.realTokenizersDir() else {
            throw XCTSkip("skipped: ../shared/tokenizers (the real tokenizer files) is absent beside the repository")
        }
        func load(_ name: String) throws -> Tokenizer {
            let d = dir.appendingPathComponent(name)
            return try Tokenizer(tokenizerFile: d.appendingPathComponent("tokenizer.json").path,
                                 configFile: d.appendingPathComponent("tokenizer_config.json").path)
        }
        let llama = try load("llama2")
        XCTAssertEqual([llama.bosTokenId, llama.eosTokenId, llama.unkTokenId], [1, 2, 0])
        let whisper = try load("whisper-large-v3")
        XCTAssertEqual(whisper.eosToken, "<|endoftext|>")
        XCTAssertEqual(whisper.eosTokenId, 50257)
        XCTAssertEqual(whisper.id(forToken: "<|notimestamps|>"), 50364)
        let phi3 = try load("phi3-mini")
        XCTAssertEqual(phi3.eosTokenId, 32000)
        XCTAssertEqual(phi3.id(forToken: "<|user|>"), 32010)
        XCTAssertEqual(phi3.addedTokens.first { $0.content == "<|user|>" }?.rstrip, true)
    }
}
