import XCTest
@testable import ReelModels

/// What the decoder or template builder finds wrong while a model loads comes back naming the model file, once.
final class ModelFileErrorTests: XCTestCase {
    struct Inner: Error, CustomStringConvertible { let description: String }

    func testLoadErrorsNameTheFileOnce() {
        XCTAssertThrowsError(try inFile("/m/x.reel", "chat template: ") { throw Inner(description: "1:4: syntax error") }) { e in
            XCTAssertEqual("\(e)", "/m/x.reel: chat template: 1:4: syntax error")
        }
        XCTAssertThrowsError(try inFile("/m/x.reel") { throw Inner(description: "/m/x.reel: truncated") }) { e in
            XCTAssertEqual("\(e)", "/m/x.reel: truncated")
        }
        XCTAssertEqual(try inFile("/m/x.reel") { 7 }, 7)
    }
}
