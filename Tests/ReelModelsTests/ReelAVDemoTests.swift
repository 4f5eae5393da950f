import Foundation
import ReelConvert
import ReelCore
import ReelFormat
import ReelModels
import ReelQuant
import ReelRuntime
import XCTest

/// The trained demo model (examples/reel-av-demo, tools/train_demo.py) against its own ref.safetensors
/// (formats/REEL-AV.md §6), and int4 against f32 on a subset of the held-out questions. Skipped while the checkpoint
/// is not in the tree. Also: the Swift clip generator of `reel demo`.
final class ReelAVDemoTests: XCTestCase {
    /// Bounds for the trained model. Its reference ran in float32 (PyTorch's own kernels), so the feature and logit
    /// bounds are looser than the float64 fixture's; pixels and log-mel as in ReelAVParityTests.
    static let featureRelative = 1e-4
    static let logitRelative = 1e-4
    /// Issue 6: int4 loses no more than 2 points of accuracy to f32.
    static let int4AccuracyLoss = 0.02
    /// Items of the committed held-out set (64 in all) the int4 test scores. One item of n is 100/n points, so the
    /// subset must exceed 50 items for "2 points" to allow anything but zero loss: with 16 it asserted "no item
    /// lost", a stricter rule than issue 6's; all 64 measure the issue's bound at 1.6-point resolution.
    static let subset = 64

    static var demoDir: String {
        var u = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { u.deleteLastPathComponent() }
        return u.appendingPathComponent("examples/reel-av-demo").path
    }

    func demo(_ enc: Encoding) throws -> ReelAVModel {
        let dir = Self.demoDir
        guard FileManager.default.fileExists(atPath: dir + "/model.safetensors") else {
            throw XCTSkip("examples/reel-av-demo is not in this tree yet")
        }
        let out = FixtureModel.tempDir + "/reel-av-demo-\(enc.rawValue).reel"
        if !FileManager.default.fileExists(atPath: out) {
            _ = try Converter.convert(checkpoint: dir, options: ConvertOptions(output: out, quant: enc, force: true, quiet: true))
        }
        return try ReelAVModel(path: out, options: DecoderOptions(threads: 2))
    }

    /// `__metadata__` of a safetensors file.
    func metadata(_ path: String) throws -> [String: String] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let n = data[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSON.parse(Array(data[8..<(8 + n)]), source: path)
        var out: [String: String] = [:]
        for (k, v) in header["__metadata__"]?.object ?? JSONObject() { out[k] = v.string }
        return out
    }

    func testDemoReferenceItems() throws {
        let m = try demo(.f32)
        let refPath = Self.demoDir + "/ref.safetensors"
        let ref = try SafetensorsFixture(URL(fileURLWithPath: refPath))
        let meta = try metadata(refPath)
        let hidden = m.text.decoder.config.hiddenSize, vocab = m.text.decoder.config.vocabSize
        for item in ["item0", "item1"] {
            guard let video = meta[item + ".video"], let question = meta[item + ".question"] else {
                return XCTFail("\(refPath): no \(item).video / \(item).question metadata")
            }
            let path = video.hasPrefix("/") ? video : Self.demoDir + "/heldout/" + video
            let clip = try m.clipInputs(videoPath: path, audio: true)
            XCTAssertEqual(clip.frameIndices, try ref.ints(item + ".frame_indices"), item)
            let px = try ParityReport(name: item + ".pixel_values", reference: try ref.floats(item + ".pixel_values"), actual: clip.pixelValues)
            print(px)
            XCTAssertLessThanOrEqual(px.maxAbs, ReelAVParityTests.pixelMaxAbs, "\(px)")
            let mel = try ParityReport(name: item + ".input_features", reference: try ref.floats(item + ".input_features"),
                                       actual: try XCTUnwrap(clip.inputFeatures))
            print(mel)
            XCTAssertLessThanOrEqual(mel.maxAbs, ReelAVParityTests.melMaxAbs, "\(mel)")
            let v = try m.visionFeatures(pixels: try ref.floats(item + ".pixel_values"), frames: clip.frameIndices.count)
            let vr = try ParityReport(name: item + ".vision_features", reference: try ref.floats(item + ".vision_features"), actual: v, rowLength: hidden)
            print(vr)
            assertRelative(vr, Self.featureRelative)
            let a = try m.audioFeatures(inputFeatures: try ref.floats(item + ".input_features"), segments: clip.segments)
            let ar = try ParityReport(name: item + ".audio_features", reference: try ref.floats(item + ".audio_features"), actual: a, rowLength: hidden)
            print(ar)
            assertRelative(ar, Self.featureRelative)
            // The item's prompt is the question set's (a multiple-choice item's options included): take the ids.
            let ids = try ref.ints(item + ".input_ids")
            let input = try m.prompt(ids: compactVideo(ids, m), clip: clip)
            guard case let .embeddings(e, tokens) = input else { return XCTFail("expected embeddings") }
            XCTAssertEqual(tokens, ids, item)
            m.text.decoder.reset()
            let logits = Array(try m.text.decoder.prefill(embeddings: e, logits: .all).toArray().suffix(4 * vocab))
            let lr = try ParityReport(name: item + ".logits_last4", reference: try ref.floats(item + ".logits_last4"), actual: logits, rowLength: vocab)
            print(lr)
            assertRelative(lr, Self.logitRelative)
            let r = try m.generate(input, options: GenerationOptions(maxTokens: 16))
            XCTAssertEqual(r.tokens, try ref.ints(item + ".answer_ids"), "\(item): \(question) → \(r.text)")
        }
    }

    /// The expanded ids with the placeholders folded back into one `<video>` (to go through `prompt(ids:clip:)`).
    func compactVideo(_ ids: [Int], _ m: ReelAVModel) -> [Int] {
        var out: [Int] = []
        var inVideo = false
        for t in ids {
            if t == m.layout.frameToken || t == m.layout.audioToken {
                if !inVideo { out.append(m.layout.videoToken); inVideo = true }
            } else {
                inVideo = false
                out.append(t)
            }
        }
        return out
    }

    /// int4 within 2 points of f32 on the first `subset` held-out questions (greedy, as `reel eval`; all 64 of them).
    func testInt4KeepsAccuracyOnHeldOutSubset() throws {
        let f32 = try demo(.f32), q4 = try demo(.q4)
        let set = try QuestionSet(path: Self.demoDir + "/heldout/questions.jsonl")
        let items = Array(set.items.prefix(Self.subset))
        var correct: [Int] = [0, 0]
        var clips: [String: ReelAVClip] = [:]
        for item in items {
            let clip = try clips[item.videoPath] ?? f32.clipInputs(videoPath: item.videoPath, audio: true)
            clips[item.videoPath] = clip
            for (k, m) in [f32, q4].enumerated() {
                let r = try m.generate(try m.prompt(question: item.prompt, clip: clip), options: GenerationOptions(maxTokens: 16))
                if item.isCorrect(r.text) { correct[k] += 1 }
            }
        }
        let acc = correct.map { Double($0) / Double(items.count) }
        print("held-out subset of \(items.count): f32 \(acc[0]), int4 \(acc[1])")
        XCTAssertGreaterThanOrEqual(acc[1], acc[0] - Self.int4AccuracyLoss - 1e-9, "f32 \(correct[0]), int4 \(correct[1]) of \(items.count)")
    }

    // MARK: reel demo's clip generator

    func testDemoClipsAreDeterministicAndAnswerable() throws {
        let a = ReelAVDemoClips.scene(seed: 42), b = ReelAVDemoClips.scene(seed: 42)
        XCTAssertEqual(ReelAVDemoClips.frames(a), ReelAVDemoClips.frames(b))
        XCTAssertEqual(ReelAVDemoClips.audio(a), ReelAVDemoClips.audio(b))
        XCTAssertEqual(ReelAVDemoClips.frames(a).count, 32 * 64 * 64 * 3)
        XCTAssertEqual(ReelAVDemoClips.audio(a).count, 64000)
        for seed in UInt64(0)..<50 {
            let s = ReelAVDemoClips.scene(seed: seed)
            XCTAssertTrue((1...2).contains(s.things.count))
            XCTAssertTrue((1...4).contains(s.beeps))
            XCTAssertEqual(Set(s.things.map(\.colour)).count, s.things.count, "distinct colours")
            XCTAssertEqual(ReelAVDemoClips.question(s, category: "heard").category, "heard")
            let mc = ReelAVDemoClips.question(s, category: "choice")
            XCTAssertEqual(mc.options.count, 4)
            XCTAssertTrue(mc.options.contains { $0.hasPrefix(mc.answer + ". ") })
            let both = ReelAVDemoClips.question(s, category: "both")
            XCTAssertTrue(both.answer.contains(", "), both.answer)
        }
        // Beeps are audible: count bursts above the noise.
        let s = ReelAVDemoClips.scene(seed: 7)
        let loud = ReelAVDemoClips.audio(s).map { abs(Int($0)) > 6000 }
        var bursts = 0, quiet = 10_000
        for l in loud {
            if l { if quiet > 1600 { bursts += 1 }; quiet = 0 } else { quiet += 1 }
        }
        XCTAssertEqual(bursts, s.beeps)
        let wav = ReelAVDemoClips.wav([1, -1])
        XCTAssertEqual(wav.count, 44 + 4)
        XCTAssertEqual(Array(wav[0..<4]), Array("RIFF".utf8))
    }
}
