import ReelModels
import XCTest

/// `AnyresLayout` on sizes and pinpoints far outside any real image: an answer or a thrown config error, never an
/// arithmetic-overflow trap (`bestResolution` multiplied sides as Int; 2^40 × 2^40 overflowed).
final class AnyresOverflowTests: XCTestCase {
    /// LLaVA-OneVision's 384-pixel pinpoints, 1×1 … 6×6 tiles.
    let pins = (1...6).flatMap { h in (1...6).map { w in ImageSize(height: 384 * h, width: 384 * w) } }

    func testBestResolutionOfAHugeImageIsTheLargestMatchingPinpoint() {
        // Same as Python's integers: a square image fills the largest square pinpoint whatever its size.
        XCTAssertEqual(AnyresLayout.bestResolution(ImageSize(height: 1 << 40, width: 1 << 40), pinpoints: pins),
                       ImageSize(height: 2304, width: 2304))
        XCTAssertEqual(AnyresLayout.bestResolution(ImageSize(height: Int.max, width: Int.max), pinpoints: pins),
                       ImageSize(height: 2304, width: 2304))
        // the ordinary case is unchanged (VisionParityTests.testAnyresLayout): 480×640 → 768×768
        XCTAssertEqual(AnyresLayout.bestResolution(ImageSize(height: 480, width: 640), pinpoints: pins), ImageSize(height: 768, width: 768))
    }

    func testHugePinpointsAreChosenOrRefusedWithoutOverflow() {
        let huge = ImageSize(height: 1 << 40, width: 1 << 40)
        XCTAssertEqual(AnyresLayout.bestResolution(ImageSize(height: 480, width: 640), pinpoints: [ImageSize(height: 384, width: 384), huge]), huge)
        XCTAssertThrowsError(try AnyresLayout(size: ImageSize(height: 480, width: 640), pinpoints: [huge], grid: 27, tileSize: 384, maxPatches: 9)) { e in
            guard case let .config(key, _)? = e as? VisionError else { return XCTFail("\(e)") }
            XCTAssertEqual(key, "projector.image_grid_pinpoints")
        }
    }

    func testNonPositiveSizesAndTilesAreRefused() {
        XCTAssertNil(AnyresLayout.bestResolution(ImageSize(height: 0, width: 640), pinpoints: pins))
        XCTAssertNil(AnyresLayout.bestResolution(ImageSize(height: 480, width: 640), pinpoints: [ImageSize(height: 0, width: -1)]))
        XCTAssertThrowsError(try AnyresLayout(size: ImageSize(height: 480, width: 640), pinpoints: pins, grid: 27, tileSize: 0, maxPatches: 9)) { e in
            guard case let .config(key, _)? = e as? VisionError else { return XCTFail("\(e)") }
            XCTAssertEqual(key, "vision.image_size")
        }
        XCTAssertThrowsError(try AnyresLayout(size: ImageSize(height: -3, width: 640), pinpoints: pins, grid: 27, tileSize: 384, maxPatches: 9)) { e in
            guard case .badInput? = e as? VisionError else { return XCTFail("\(e)") }
        }
        let p = AnyresLayout.patchResize(ImageSize(height: 0, width: 0), to: ImageSize(height: 768, width: 768))
        XCTAssertEqual([p.resized.height, p.resized.width, p.left, p.top], [768, 768, 0, 0])
    }

    /// A huge anyres_max_N no longer overflows N·g·g: the grid is simply not shrunk.
    func testHugeMaxPatchesDoesNotOverflow() throws {
        let l = try AnyresLayout(size: ImageSize(height: 480, width: 640), pinpoints: pins, grid: 27, tileSize: 384, maxPatches: Int.max / 2)
        XCTAssertEqual([l.height, l.width, l.outHeight, l.outWidth], [40, 54, 40, 54])
    }
}
