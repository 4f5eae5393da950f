import ReelCore
import ReelMedia
import XCTest

/// Resize / crop / normalise parity with the HF processors' torch ops (tools/make_media_fixtures.py).
final class ImageProcessorTests: XCTestCase {
    /// After normalisation a pixel may differ by this many uint8 levels, i.e. by `maxLevelDiff / (255·std_c)` in
    /// channel c (the ±1/255 per channel of the brief, scaled by 1/std). Measured: 0 (the resize is bit-exact).
    static let maxLevelDiff: Float = 1
    /// f32 slack on top of the level bound (the normalisation itself is the same f32 arithmetic as torch).
    static let f32Slack: Float = 1e-6

    private func frames(_ name: String) throws -> [RGBFrame] {
        let (bytes, shape) = try Fixtures.bytes(name)
        let (t, h, w) = (shape[0], shape[1], shape[2])
        return (0..<t).map { RGBFrame(width: w, height: h, index: $0, pixels: Array(bytes[($0 * h * w * 3)..<(($0 + 1) * h * w * 3)])) }
    }

    /// Runs each stored processor config on the stored uint8 frames and compares with transformers' output.
    private func checkParity(_ name: String, frames input: [RGBFrame]? = nil) throws {
        let entry = try XCTUnwrap(Fixtures.reference["processors"]?[name])
        let config = try XCTUnwrap(entry["config"])
        let processor = try ImageProcessor(json: config)
        let input = try input ?? frames(try XCTUnwrap(entry["input"]?.string))
        let (want, shape) = try Fixtures.floats(try XCTUnwrap(entry["output"]?.string))
        XCTAssertEqual(shape[0], input.count)
        var got: [Float] = []
        for f in input {
            let out = try processor.process(f)
            XCTAssertEqual([3, out.height, out.width], Array(shape[1...]), name)
            XCTAssertEqual(processor.outputSize(height: f.height, width: f.width).height, out.height)
            got += out.pixels
        }
        let std = processor.config.imageStd.map(Float.init)
        let plane = shape[2] * shape[3]
        let cmp = Comparison(got, want) { i in Self.maxLevelDiff / (255 * std[(i / plane) % 3]) + Self.f32Slack }
        print("\(name): \(cmp)")
        XCTAssertTrue(cmp.passes, "\(name): \(cmp)")
        XCTAssertEqual(got.count, want.count)
    }

    func testLlavaOnevisionSiglip70() throws { try checkParity("ov_siglip70") }          // 123×97 → 70×70, 0.5/0.5
    func testLlavaOnevisionClipMean40x56() throws { try checkParity("ov_clip40x56") }     // non-square, CLIP mean/std
    func testNextVideoShortestEdgeCrop() throws { try checkParity("nextvideo_clip56c48") } // 97 → 56 short side, crop 48
    func testImageUpscale() throws { try checkParity("image_ov_siglip70") }               // 41×29 → 70×70
    func testBilinear() throws { try checkParity("image_bilinear_20x16") }                // resample 2
    func testHeightOnlyResize() throws { try checkParity("image_height_only_41x12") }     // horizontal pass skipped
    func testCropLargerThanImage() throws { try checkParity("image_crop_pad_s20c24") }    // 28×20 → zero-pad → 24×24

    /// The same comparison, decoding the clip with ffmpeg first (what `reel --video` does).
    func testDecodeThenProcess() throws {
        let tools = try Fixtures.tools()
        let frames = try VideoReader(path: Fixtures.path("clip.mp4"), sampling: .frames(4), tools: tools).readAll()
        try checkParity("ov_siglip70", frames: frames)
    }

    func testResizeIdentityAndTaps() throws {
        let px: [UInt8] = (0..<(5 * 4 * 3)).map { UInt8(($0 * 37) % 256) }
        XCTAssertEqual(try resizeRGB8(px, width: 5, height: 4, outWidth: 5, outHeight: 4), px)
        // Each output's weights sum to 1 in fixed point (± rounding of each tap).
        for (i, o) in [(97, 70), (41, 70), (123, 56), (384, 384), (1000, 3)] {
            let taps = ResampleTaps(inSize: i, outSize: o, filter: .bicubic)
            for x in 0..<o {
                let s = (0..<taps.count[x]).reduce(Int32(0)) { $0 + taps.weights[x * taps.stride + $1] }
                XCTAssertLessThanOrEqual(abs(Int(s) - (1 << taps.precision)), taps.count[x], "\(i)→\(o) at \(x)")
                XCTAssertGreaterThanOrEqual(taps.start[x], 0)
                XCTAssertLessThanOrEqual(taps.start[x] + taps.count[x], i)
            }
        }
        XCTAssertThrowsError(try resizeRGB8(px, width: 5, height: 5, outWidth: 2, outHeight: 2))
    }

    func testConfigKeys() throws {
        let ok: JSON = ["size": ["shortest_edge": 56], "do_center_crop": true, "crop_size": 48,
                        "image_mean": [0.5, 0.5, 0.5], "image_std": 0.5]
        let c = try ImageProcessorConfig(json: ok)
        XCTAssertEqual(c.size, .shortestEdge(56))
        XCTAssertEqual(c.cropSize?.height, 48)
        XCTAssertEqual(c.imageStd, [0.5, 0.5, 0.5])
        XCTAssertEqual(c.resample, .bicubic)
        XCTAssertEqual(ProcessorSize.shortestEdge(56).output(height: 97, width: 123).width, 71)
        XCTAssertEqual(ProcessorSize.shortestEdge(56).output(height: 123, width: 97).height, 71)

        assertThrows(.badConfig(key: "image_mean", detail: "missing (needed when do_normalize)")) {
            _ = try ImageProcessorConfig(json: ["size": ["height": 70, "width": 70], "image_std": [0.5, 0.5, 0.5]])
        }
        assertThrows(.badConfig(key: "size", detail: "missing")) {
            _ = try ImageProcessorConfig(json: ["image_mean": 0.5, "image_std": 0.5])
        }
        assertThrows(.badConfig(key: "resample", detail: "only 2 (bilinear) and 3 (bicubic) are supported, got 1")) {
            _ = try ImageProcessorConfig(json: ["size": 70, "resample": 1, "image_mean": 0.5, "image_std": 0.5])
        }
        assertThrows(.badConfig(key: "image_std", detail: "expected 3 finite positive numbers")) {
            _ = try ImageProcessorConfig(json: ["size": 70, "image_mean": 0.5, "image_std": [0.5, 0, 0.5]])
        }
        // Without normalisation, mean/std are not needed and rescale alone applies.
        let p = try ImageProcessor(json: ["do_normalize": false, "do_resize": false])
        let out = try p.process(RGBFrame(width: 1, height: 1, pixels: [0, 51, 255]))
        XCTAssertEqual(out.pixels, [0, 51 * Float(1.0 / 255.0), 1])   // x · f32(rescale_factor), as torch
    }
}
