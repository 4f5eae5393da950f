import XCTest
import ReelCore

final class JSONTests: XCTestCase {
    func testParsesAndKeepsKeyOrder() throws {
        let j = try JSON.parse(#"{"b": 1, "a": [true, null, 2.5, "x\u00e9"], "c": {"d": -3}}"#, source: "t")
        XCTAssertEqual(j.object?.keys, ["b", "a", "c"])
        XCTAssertEqual(j["a"]?[3]?.string, "xé")
        XCTAssertEqual(j["c"]?["d"]?.int, -3)
        XCTAssertEqual(j["a"]?[2]?.double, 2.5)
        XCTAssertEqual(j.serialized(), #"{"b":1,"a":[true,null,2.5,"xé"],"c":{"d":-3}}"#)
    }

    func testRoundTripsThroughText() throws {
        let j: JSON = ["x": 1e-6, "y": 3.0, "s": "tab\there \"q\" \u{01}", "n": .null, "arr": [1, 2]]
        XCTAssertEqual(try JSON.parse(j.serialized(), source: "t"), j)
        XCTAssertEqual(try JSON.parse(j.serialized(pretty: true), source: "t"), j)
    }

    /// Tokenizer configs write 1000000000000000019884624838656 for "no limit"; integers past Int64 read as doubles
    /// (json-c clamps those past 2⁶⁴ to 2⁶⁴, which still means "no limit").
    func testHugeIntegersReadAsDoubles() throws {
        let j = try JSON.parse(#"{"m": 1000000000000000019884624838656, "u": 18446744073709551615, "i": 9223372036854775807}"#, source: "t")
        XCTAssertEqual(j["m"]?.double, 18446744073709551615.0)
        XCTAssertEqual(j["u"]?.double, 18446744073709551615.0)
        XCTAssertEqual(j["i"], .int(Int64.max))
        XCTAssertNil(j["m"]?.int)
    }

    func testErrorsNameTheSource() {
        for bad in ["", "{", "{\"a\":}", "[1,2", "{\"a\":1} x", "{\"a\":1,\"a\":2}", "nul"] {
            XCTAssertThrowsError(try JSON.parse(bad, source: "config.json"), bad) { e in
                guard case let JSONError.parse(source, _) = e else { return XCTFail("\(e)") }
                XCTAssertEqual(source, "config.json")
            }
        }
    }

    func testRejectsInvalidUTF8() {
        let bad: [UInt8] = Array(#"{"name": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        XCTAssertThrowsError(try JSON.parse(bad, source: "metadata")) { e in
            guard case let JSONError.parse(source, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(source, "metadata")
        }
        XCTAssertEqual(try JSON.parse(Array(#"{"name": "é"}"#.utf8), source: "m")["name"]?.string, "é")
    }
}
