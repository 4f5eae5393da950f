import XCTest
import ReelCore

final class ChecksumTests: XCTestCase {
    /// Reference values from the xxHash project's published test vectors (seed 0).
    func testKnownVectors() {
        XCTAssertEqual(Checksum.xxh64([]), 0xEF46DB3751D8E999)
        XCTAssertEqual(Checksum.xxh64(Array("a".utf8)), 0xD24EC4F1A98C6E5B)
        XCTAssertEqual(Checksum.xxh64(Array("abc".utf8)), 0x44BC2CF5AD770999)
    }

    func testStreamingEqualsOneShot() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for split in [0, 1, 7, 31, 32, 33, 100, 999, 1000] {
            var s = StreamingXXH64()
            s.update(Array(data[..<split]))
            s.update(Array(data[split...]))
            XCTAssertEqual(s.digest(), Checksum.xxh64(data), "split \(split)")
        }
    }

    func testHexIsExactlySixteenLowerCaseDigits() {
        XCTAssertEqual(Checksum.hex(0xAB), "00000000000000ab")
        XCTAssertEqual(Checksum.parseHex("00000000000000ab"), 0xAB)
        XCTAssertEqual(Checksum.parseHex(Checksum.hex(.max)), .max)
        for bad in ["00000000000000AB", "+0000000000000ab", "-000000000000001", "0ab", "00000000000000abc", " 0000000000000ab"] {
            XCTAssertNil(Checksum.parseHex(bad), bad)
        }
    }
}
