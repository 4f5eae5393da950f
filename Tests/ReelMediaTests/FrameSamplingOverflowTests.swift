import ReelMedia
import XCTest

/// Frame sampling with an absurd fps, frame rate or frame count: the plan is clamped, never an Int-conversion or
/// multiplication trap (`--fps 1e30` overflowed `Int(total / rate · fps)`).
final class FrameSamplingOverflowTests: XCTestCase {
    func testHugeFpsMeansEveryFrameUpToTheCap() throws {
        XCTAssertEqual(try FrameSampling.fps(1e30, max: 5).indices(total: 24, frameRate: 12), [0, 4, 9, 14, 19])
        XCTAssertEqual(try FrameSampling.fps(1e30, max: 100).indices(total: 24, frameRate: 12), Array(0..<24))
        XCTAssertEqual(try FrameSampling.fps(.greatestFiniteMagnitude, max: 3).indices(total: 24, frameRate: 1e-300), [0, 8, 16])
        // ordinary rates are unchanged
        XCTAssertEqual(try FrameSampling.fps(1, max: 8).indices(total: 24, frameRate: 12), [0, 12])
    }

    func testUnusableFrameRateIsTreatedAsUnknown() throws {
        // unknown rate: one frame per requested sample, so n = total, capped
        for rate in [0, -5, .nan, .infinity] as [Double] {
            XCTAssertEqual(try FrameSampling.fps(2, max: 4).indices(total: 24, frameRate: rate), [0, 6, 12, 18], "rate \(rate)")
        }
    }

    func testHugeFrameCountsDoNotOverflowTheIndexRule() throws {
        let total = Int.max / 2   // 2^62 − 1
        let idx = try FrameSampling.frames(8).indices(total: total, frameRate: 30)
        XCTAssertEqual(idx.count, 8)
        XCTAssertEqual(idx.first, 0)
        XCTAssertEqual(idx.last, (7 << 59) - 1)   // ⌊7·(2^62 − 1)/8⌋ = 7·2^59 − ⌈7/8⌉, exact
        XCTAssertEqual(idx, idx.sorted())
        XCTAssertLessThan(idx.last!, total)
    }

    /// The reader plans with the clamped rule too: a huge fps on the 24-frame fixture takes `max` frames.
    func testReaderWithHugeFps() throws {
        let tools = try Fixtures.tools()
        let reader = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .fps(1e30, max: 3), tools: tools)
        XCTAssertEqual(reader.indices, [0, 8, 16])
        XCTAssertEqual(try reader.readAll().map(\.index), [0, 8, 16])
    }
}
