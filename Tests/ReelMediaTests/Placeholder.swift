import XCTest

// Replaced by the media tests.
final class ReelMediaPlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
