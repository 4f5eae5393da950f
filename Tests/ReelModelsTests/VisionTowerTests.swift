import Foundation
import ReelCore
import ReelModels
import ReelRuntime
import XCTest

/// Standalone SiglipVisionModel / CLIPVisionModel (tools/make_vision_fixtures.py `make_towers`), converted from the
/// layout a standalone v5 save writes (no `vision_model.` prefix): every hidden state, SigLIP's last_hidden_state
/// (post_layernorm of every token) and CLIP's pooler_output (post_layernorm of the class token).
final class VisionTowerTests: XCTestCase {
    static let f32Relative = 1e-5

    func testStandaloneTowers() throws {
        for fixture in ["vision_siglip", "vision_clip"] {
            let ref = try FixtureModel.reference(fixture)
            let file = try FixtureModel.file(fixture)
            XCTAssertEqual(file.architecture, fixture == "vision_siglip" ? "siglip_vision" : "clip_vision")
            let tower = try VisionTower(file: file, pool: ThreadPool(threads: 2))
            let c = tower.config
            XCTAssertEqual(c.hiddenAct, fixture == "vision_siglip" ? .geluTanh : .quickGelu)
            let px = try ref.floats("pixel_values")
            let L = c.numHiddenLayers
            var states = [[Float]](repeating: [], count: L + 2)
            try px.withUnsafeBufferPointer { p in
                try tower.forward(pixels: p.baseAddress!, images: 2, hiddenStates: Array(0...L), postLayernorm: true) { _, _, s in
                    for (j, t) in s.enumerated() { states[j] += t.toArray() }
                }
            }
            for i in 0...L {
                let r = try ParityReport(name: "\(fixture) hidden_states.\(i)", reference: try ref.floats("hidden_states.\(i)"), actual: states[i])
                print(r)
                assertRelative(r, Self.f32Relative)
            }
            let post = states[L + 1]
            if fixture == "vision_siglip" {
                let r = try ParityReport(name: "siglip last_hidden_state", reference: try ref.floats("last_hidden_state"), actual: post)
                print(r)
                assertRelative(r, Self.f32Relative)
            } else {
                // CLIP: last_hidden_state is the last layer's output; pooler_output = post_layernorm(token 0)
                try assertClose("clip last_hidden_state", states[L], try ref.floats("last_hidden_state"), relative: Self.f32Relative)
                let d = c.hiddenSize, t = c.tokens
                let pooled = (0..<2).flatMap { Array(post[($0 * t * d)..<($0 * t * d + d)]) }
                let r = try ParityReport(name: "clip pooler_output", reference: try ref.floats("pooler_output"), actual: pooled)
                print(r)
                assertRelative(r, Self.f32Relative)
            }
        }
    }

    /// The ops against their definitions on small odd sizes: GELU variants at known points, pooling by hand,
    /// bilinear taps of ARCHSPEC §3 (27 → 14).
    func testEncoderOps() throws {
        var x: [Float] = [-3, -1, 0, 0.5, 2]
        let erf = x.map { Double($0) * 0.5 * (1 + Foundation.erf(Double($0) / 2.0.squareRoot())) }
        Activation.geluErf.apply(&x, count: x.count)
        for (a, b) in zip(x, erf) { XCTAssertEqual(Double(a), b, accuracy: 1e-6) }
        var q: [Float] = [1, -2]
        Activation.quickGelu.apply(&q, count: 2)
        XCTAssertEqual(q[0], 1 / (1 + expf(-1.702)), accuracy: 1e-6)
        XCTAssertThrowsError(try Activation(hfName: "mish")) { e in
            guard case RuntimeError.unsupported? = e as? RuntimeError else { return XCTFail("\(e)") }
        }
        let taps = EncoderOps.bilinearTaps(input: 27, output: 14)
        XCTAssertEqual(taps[0].i0, 0)
        XCTAssertEqual(Double(taps[0].lambda), 0.4643, accuracy: 1e-4)
        XCTAssertEqual(taps[13].i0, 25)
        XCTAssertEqual(taps[13].i1, 26)
        XCTAssertEqual(Double(taps[13].lambda), 0.5357, accuracy: 1e-4)
        // 3×3 map, 2 channels, pool 2 stride 2 (floor: one output)
        let m: [Float] = (0..<18).map(Float.init)
        var avg = [Float](repeating: 0, count: 2), mx = [Float](repeating: 0, count: 2)
        EncoderOps.pool2d(m, height: 3, width: 3, channels: 2, kernel: 2, stride: 2, mode: .average, into: &avg)
        EncoderOps.pool2d(m, height: 3, width: 3, channels: 2, kernel: 2, stride: 2, mode: .max, into: &mx)
        let want: [Float] = [4, 5]  // (0 + 2 + 6 + 8) / 4, (1 + 3 + 7 + 9) / 4
        XCTAssertEqual(avg, want)
        XCTAssertEqual(mx, [8, 9])
    }
}
