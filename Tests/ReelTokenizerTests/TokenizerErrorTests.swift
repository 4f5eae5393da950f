import ReelTokenizer
import XCTest

/// Bad input: each case asserts the exact error, which names the file and the key or token at fault.
final class TokenizerErrorTests: XCTestCase {
    /// A minimal valid byte-level tokenizer.json with the given model/pre-tokenizer overrides.
    private func doc(model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#,
                     preTokenizer: String = "null", decoder: String = "null", normalizer: String = "null",
                     postProcessor: String = "null", added: String = "[]") -> [UInt8] {
        Array("""
        {"version": "1.0", "added_tokens": \(added), "normalizer": \(normalizer), "pre_tokenizer": \(preTokenizer),
         "post_processor": \(postProcessor), "decoder": \(decoder), "model": \(model)}
        """.utf8)
    }

    private func assertError(_ bytes: [UInt8], config: [UInt8]? = nil, _ expected: TokenizerError,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: bytes, configJSON: config), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, "\(error)", file: file, line: line)
        }
    }

    func testMinimalDocumentLoads() throws {
        let tok = try Tokenizer(tokenizerJSON: doc())
        XCTAssertEqual(tok.encode("abba"), [2, 1, 0])
        XCTAssertEqual(tok.decode([2, 1, 0]), "ab b a")  // no decoder: tokens joined by spaces, as in tokenizers
    }

    func testMalformedJSON() {
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Array(#"{"model": {"type": "BPE", "vocab": {"a": 0}"#.utf8))) { error in
            guard case let .invalidJSON(file, message)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "tokenizer.json")
            XCTAssert(message.contains("end of document"), message)
        }
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: [])) { error in
            guard case .invalidJSON("tokenizer.json", _)? = error as? TokenizerError else { return XCTFail("\(error)") }
        }
        assertError(Array("[1, 2]".utf8), .wrongType(file: "tokenizer.json", key: "(root)", expected: "an object"))
    }

    func testUnsupportedModelTypesAreNamed() {
        for type in ["WordPiece", "Unigram", "WordLevel"] {
            assertError(doc(model: #"{"type": "\#(type)", "vocab": {"a": 0}}"#),
                        .unsupported(file: "tokenizer.json", key: "model.type", type: type))
        }
    }

    func testMissingModel() {
        assertError(Array(#"{"version": "1.0", "added_tokens": []}"#.utf8), .missingKey(file: "tokenizer.json", key: "model"))
        assertError(doc(model: #"{"type": "BPE", "merges": []}"#), .missingKey(file: "tokenizer.json", key: "model.vocab"))
    }

    func testUnsupportedComponentsAreNamed() {
        assertError(doc(preTokenizer: #"{"type": "BertPreTokenizer"}"#),
                    .unsupported(file: "tokenizer.json", key: "pre_tokenizer.type", type: "BertPreTokenizer"))
        assertError(doc(normalizer: #"{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "BertNormalizer"}]}"#),
                    .unsupported(file: "tokenizer.json", key: "normalizer.normalizers[1].type", type: "BertNormalizer"))
        assertError(doc(decoder: ###"{"type": "WordPiece", "prefix": "##"}"###),
                    .unsupported(file: "tokenizer.json", key: "decoder.type", type: "WordPiece"))
        assertError(doc(postProcessor: #"{"type": "Mystery"}"#),
                    .unsupported(file: "tokenizer.json", key: "post_processor.type", type: "Mystery"))
    }

    func testBadRegexIsNamed() {
        let pre = #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|[a-"}, "behavior": "Isolated", "invert": false}]}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: doc(preTokenizer: pre))) { error in
            guard case let .badRegex(file, key, pattern, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "tokenizer.json")
            XCTAssertEqual(key, "pre_tokenizer.pretokenizers[0].pattern.Regex")
            XCTAssertEqual(pattern, "(?i:'s|[a-")
        }
    }

    func testBadSplitBehaviour() {
        assertError(doc(preTokenizer: #"{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false}"#),
                    .invalidValue(file: "tokenizer.json", key: "pre_tokenizer.behavior", value: "Sideways"))
    }

    func testMergeOfUnknownToken() {
        assertError(doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}"#),
                    .unknownToken(file: "tokenizer.json", key: "model.merges[0]", token: "c"))
        assertError(doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}"#),
                    .unknownToken(file: "tokenizer.json", key: "model.merges[0]", token: "ab"))
        assertError(doc(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b c"]}"#),
                    .invalidValue(file: "tokenizer.json", key: "model.merges[0]", value: "\"a b c\" (expected \"a b\")"))
        assertError(doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}"#),
                    .unknownToken(file: "tokenizer.json", key: "model.unk_token", token: "<unk>"))
    }

    func testWrongTypes() {
        assertError(doc(model: #"{"type": "BPE", "vocab": {"a": "zero"}, "merges": []}"#),
                    .wrongType(file: "tokenizer.json", key: "model.vocab.a", expected: "an integer"))
        assertError(doc(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": "yes"}"#),
                    .wrongType(file: "tokenizer.json", key: "model.byte_fallback", expected: "a boolean"))
    }

    func testTemplateWithUnknownSpecialToken() {
        let post = #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}}"#
        assertError(doc(postProcessor: post),
                    .unknownToken(file: "tokenizer.json", key: "post_processor.single[0].SpecialToken", token: "<s>"))
    }

    func testConfigWithUnknownBosToken() {
        assertError(doc(), config: Array(#"{"bos_token": "<s>"}"#.utf8),
                    .unknownToken(file: "tokenizer_config.json", key: "bos_token", token: "<s>"))
        assertError(doc(), config: Array(#"{"bos_token": {"content": 3}}"#.utf8),
                    .wrongType(file: "tokenizer_config.json", key: "bos_token.content", expected: "a string"))
    }
}
