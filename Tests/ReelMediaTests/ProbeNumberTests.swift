import XCTest
import ReelCore
import ReelMedia

/// ffprobe's numbers come from the file: a crafted container's huge frame count, sample rate or rotation is treated
/// as unknown (or reduced), never converted with a trapping `Int(_:)`.
final class ProbeNumberTests: XCTestCase {
    func testHugeOrNonFiniteCountsAreUnknown() {
        XCTAssertEqual(MediaProbe.wholeNumber(.string("240")), 240)
        XCTAssertEqual(MediaProbe.wholeNumber(.string("2.9")), 2)
        XCTAssertEqual(MediaProbe.wholeNumber(.double(1e12)), 1_000_000_000_000)
        XCTAssertNil(MediaProbe.wholeNumber(.string("1e30")))
        XCTAssertNil(MediaProbe.wholeNumber(.double(9.3e18)))
        XCTAssertNil(MediaProbe.wholeNumber(.string("N/A")))
        XCTAssertNil(MediaProbe.wholeNumber(.double(.infinity)))
        XCTAssertNil(MediaProbe.wholeNumber(nil))
    }
}
