import Foundation
import ReelCore
import ReelTokenizer
import XCTest

/// One recorded case of a `tok_*.expected.json` fixture (see tools/make_tokenizer_fixtures.py).
struct ParityCase {
    let text: String
    let ids: [Int]
    let idsSpecial: [Int]
    let decoded: String
    let decodedSkip: String

    init(_ j: JSON) throws {
        func ints(_ k: String) throws -> [Int] { try XCTUnwrap(j[k]?.array).map { try XCTUnwrap($0.int) } }
        text = try XCTUnwrap(j["text"]?.string)
        ids = try ints("ids")
        idsSpecial = try ints("ids_special")
        decoded = try XCTUnwrap(j["decoded"]?.string)
        decodedSkip = try XCTUnwrap(j["decoded_skip"]?.string)
    }
}

enum Fixtures {
    /// The test bundle's Fixtures directory.
    static func url(_ name: String) throws -> URL {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return dir.appendingPathComponent(name)
    }
    static func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: url(name))) }
    static func json(_ name: String) throws -> JSON { try JSON.parse(bytes(name), source: name) }
    static func exists(_ name: String) -> Bool {
        (try? url(name)).map { FileManager.default.fileExists(atPath: $0.path) } ?? false
    }

    /// `../shared/tokenizers` beside the repository root (found by walking up from this file), or nil.
    static func realTokenizersDir(file: String = #filePath) -> URL? {
        var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                let shared = dir.deletingLastPathComponent().appendingPathComponent("shared/tokenizers")
                return FileManager.default.fileExists(atPath: shared.path) ? shared : nil
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}

/// Checks `tok` against recorded cases (strings compared scalar by scalar: Swift's `==` on String is
/// canonical equivalence, which would let an NFC/NFD difference pass); returns one line per mismatch (empty when all agree).
func parityFailures(_ tok: Tokenizer, _ cases: [ParityCase], name: String) -> [String] {
    var out: [String] = []
    func check<T: Equatable>(_ what: String, _ c: ParityCase, _ got: T, _ want: T) {
        if got != want || String(describing: got).unicodeScalars.elementsEqual(String(describing: want).unicodeScalars) == false { out.append("\(name) \(what) for \(String(reflecting: c.text)):\n   got \(got)\n  want \(want)") }
    }
    for c in cases {
        check("encode(addSpecialTokens: false)", c, tok.encode(c.text, addSpecialTokens: false), c.ids)
        check("encode(addSpecialTokens: true)", c, tok.encode(c.text, addSpecialTokens: true), c.idsSpecial)
        check("decode", c, tok.decode(c.idsSpecial), c.decoded)
        check("decode(skipSpecialTokens: true)", c, tok.decode(c.idsSpecial, skipSpecialTokens: true), c.decodedSkip)
        for skip in [false, true] {
            let want = skip ? c.decodedSkip : c.decoded
            var stream = tok.streamingDecoder(skipSpecialTokens: skip)
            var chunks = c.idsSpecial.map { stream.feed($0) }
            chunks.append(stream.finish())
            check("streaming decode (skip \(skip))", c, chunks.joined(), want)
            // A chunk never ends in the middle of a character: U+FFFD appears only where the full decode has it.
            if !want.unicodeScalars.contains("\u{FFFD}") {
                check("streaming chunks free of U+FFFD (skip \(skip))", c,
                      chunks.filter { $0.unicodeScalars.contains("\u{FFFD}") }, [])
            }
        }
    }
    return out
}
