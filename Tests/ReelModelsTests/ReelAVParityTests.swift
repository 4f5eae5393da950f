import Foundation
import ReelConvert
import ReelCore
import ReelFormat
import ReelMedia
import ReelModels
import ReelQuant
import ReelRuntime
import XCTest

/// Reel AV against its PyTorch reference (tools/reel_av/model.py, transformers 5.24 modules) on the tiny random
/// checkpoint and the synthetic clip of tools/make_reel_av_fixtures.py, converted by ReelConvert and run from the
/// mapped `.reel` file. The media path is checked from the mp4 itself; every model stage is checked on the
/// reference's own inputs, then end to end from the mp4.
final class ReelAVParityTests: XCTestCase {
    // MARK: named bounds (docs/reel-av.md records the measured values)
    /// pixel_values: one uint8 level after normalisation (std 0.5 → 2/255). Measured: 0 (same ffmpeg decode, and the
    /// 64 → 32 resize is the torch-exact uint8 kernel, so the bytes agree).
    static let pixelMaxAbs = 1.0 / (255 * 0.5) + 1e-6
    /// input_features (log-mel, f64 in Reel, f32 STFT in transformers' numpy path): max-abs. Measured 8.1e-6.
    static let melMaxAbs = 1e-4
    /// f32 weights: vision features, audio features and logits, max-abs relative to the reference's range (the
    /// reference runs in float64 on the stored f32 weights). Measured: vision 8.6e-8, audio 2.7e-7, logits 1.8e-7
    /// (frames only 1.3e-7).
    static let f32Relative = 1e-5
    /// Quantised weights: (min cosine of vision and audio features, min cosine of the logits, max mean KL(ref‖reel)
    /// over the 4 logit rows in nats, min top-1 agreement).
    static let quantBounds: [Encoding: (featureCosine: Double, logitCosine: Double, kl: Double, top1: Double)] = [
        .q8: (0.9995, 0.9995, 1e-4, 0.75),  // measured: vision 0.999996, audio 0.99994, logits 0.9999, KL 7.4e-6, top-1 1.0
        .q4: (0.98, 0.975, 5e-3, 0.5),      // measured: vision 0.9984, audio 0.9932, logits 0.9868, KL 9.8e-4, top-1 1.0
    ]

    static let hidden = 32, vocab = 300

    func reference() throws -> SafetensorsFixture { try FixtureModel.reference("reel_av") }
    var clipPath: String { get throws { try Fixtures.root.appendingPathComponent("reel_av/clip.mp4").path } }

    func model(_ encoding: Encoding = .f32) throws -> ReelAVModel {
        try ReelAVModel(path: try FixtureModel.file("reel_av", encoding: encoding).path,
                        options: DecoderOptions(contextLength: 256, threads: 2))
    }

    func report(_ name: String, _ ref: [Float], _ got: [Float], rowLength: Int) throws -> ParityReport {
        let r = try ParityReport(name: name, reference: ref, actual: got, rowLength: rowLength)
        print(r)
        return r
    }

    /// The last 4 prompt positions' logits, f32 [4, V].
    func lastLogits(_ m: ReelAVModel, _ input: PromptInput) throws -> [Float] {
        guard case let .embeddings(e, _) = input else { throw TestFailure("expected embeddings") }
        m.text.decoder.reset()
        let all = try m.text.decoder.prefill(embeddings: e, logits: .all).toArray()
        return Array(all.suffix(4 * Self.vocab))
    }

    // MARK: media path (§4)

    func testMediaPathMatchesReference() throws {
        let ref = try reference()
        let m = try model()
        let clip = try m.clipInputs(videoPath: try clipPath, audio: true)
        XCTAssertEqual(clip.segments, 2)
        XCTAssertEqual(clip.frameIndices, try ref.ints("frame_indices"))
        XCTAssertEqual(clip.frameIndices, [4, 12, 20, 28])
        let px = try report("pixel_values", try ref.floats("pixel_values"), clip.pixelValues, rowLength: 32 * 32)
        XCTAssertLessThanOrEqual(px.maxAbs, Self.pixelMaxAbs, "\(px)")
        let mel = try report("input_features", try ref.floats("input_features"), try XCTUnwrap(clip.inputFeatures), rowLength: 200)
        XCTAssertLessThanOrEqual(mel.maxAbs, Self.melMaxAbs, "\(mel)")
        XCTAssertEqual(m.featureExtractor.frames, 200)
        XCTAssertEqual(m.featureExtractor.chunkSamples, 32000)
        let silent = try m.clipInputs(videoPath: try clipPath, audio: false)
        XCTAssertNil(silent.inputFeatures)
        XCTAssertNil(silent.audioNote)
    }

    // MARK: model (§5) at f32

    func testEncodersF32MatchReference() throws {
        let ref = try reference()
        let m = try model()
        let v = try m.visionFeatures(pixels: try ref.floats("pixel_values"), frames: 4)
        assertRelative(try report("vision_features", try ref.floats("vision_features"), v, rowLength: Self.hidden), Self.f32Relative)
        let a = try m.audioFeatures(inputFeatures: try ref.floats("input_features"), segments: 2)
        assertRelative(try report("audio_features", try ref.floats("audio_features"), a, rowLength: Self.hidden), Self.f32Relative)
    }

    func testPromptLogitsAndGreedyF32MatchReference() throws {
        let ref = try reference()
        let m = try model()
        let clip = try m.clipInputs(videoPath: try clipPath, audio: true)
        let ids = try m.promptIds(question: "How many beeps are there?")
        let input = try m.prompt(ids: ids, clip: clip)
        guard case let .embeddings(_, tokens) = input else { return XCTFail("expected embeddings") }
        XCTAssertEqual(tokens, try ref.ints("input_ids"))
        XCTAssertEqual(m.timings.framesEncoded, 4)
        XCTAssertEqual(m.timings.audioWindows, 2)
        let logits = try lastLogits(m, input)
        assertRelative(try report("logits_last4", try ref.floats("logits_last4"), logits, rowLength: Self.vocab), Self.f32Relative)
        let answer = try m.generate(input, options: GenerationOptions(maxTokens: 8))
        XCTAssertEqual(answer.tokens, try ref.ints("answer_ids"))

        // --no-audio: frames only
        let silent = try m.clipInputs(videoPath: try clipPath, audio: false)
        let input2 = try m.prompt(ids: ids, clip: silent)
        guard case let .embeddings(_, tokens2) = input2 else { return XCTFail("expected embeddings") }
        XCTAssertEqual(tokens2, try ref.ints("noaudio.input_ids"))
        let logits2 = try lastLogits(m, input2)
        assertRelative(try report("noaudio.logits_last4", try ref.floats("noaudio.logits_last4"), logits2, rowLength: Self.vocab), Self.f32Relative)
    }

    // MARK: quantised

    func testQuantisedWithinBounds() throws {
        let ref = try reference()
        for enc in [Encoding.q8, .q4] {
            let m = try model(enc)
            let b = Self.quantBounds[enc]!
            let v = try report("\(enc) vision_features", try ref.floats("vision_features"),
                               try m.visionFeatures(pixels: try ref.floats("pixel_values"), frames: 4), rowLength: Self.hidden)
            let a = try report("\(enc) audio_features", try ref.floats("audio_features"),
                               try m.audioFeatures(inputFeatures: try ref.floats("input_features"), segments: 2), rowLength: Self.hidden)
            XCTAssertGreaterThanOrEqual(v.cosine, b.featureCosine, "\(v)")
            XCTAssertGreaterThanOrEqual(a.cosine, b.featureCosine, "\(a)")
            let clip = try m.clipInputs(videoPath: try clipPath, audio: true)
            let l = try report("\(enc) logits_last4", try ref.floats("logits_last4"),
                               try lastLogits(m, try m.prompt(question: "How many beeps are there?", clip: clip)), rowLength: Self.vocab)
            XCTAssertGreaterThanOrEqual(l.cosine, b.logitCosine, "\(l)")
            XCTAssertLessThanOrEqual(l.klDivergence, b.kl, "\(l)")
            XCTAssertGreaterThanOrEqual(l.top1Agreement, b.top1, "\(l)")
        }
    }

    // MARK: bad input

    func testRejectsWrongShapesAndNonReelAV() throws {
        let m = try model()
        XCTAssertThrowsError(try m.visionFeatures(pixels: [Float](repeating: 0, count: 10), frames: 1)) {
            XCTAssertEqual($0 as? ReelAVError, .inputShape(name: "pixel_values", expected: [1, 3, 32, 32], count: 10))
        }
        XCTAssertThrowsError(try m.audioFeatures(inputFeatures: [Float](repeating: 0, count: 80 * 199), segments: 1)) {
            XCTAssertEqual($0 as? ReelAVError, .inputShape(name: "input_features", expected: [1, 80, 200], count: 80 * 199))
        }
        let other = try FixtureModel.file("qwen2_audio").path
        XCTAssertThrowsError(try ReelAVModel(path: other)) {
            XCTAssertEqual($0 as? ReelAVError, .notReelAV(path: other, architecture: "qwen2_audio"))
        }
    }

    /// A checkpoint whose preprocessor_config.json makes windows the audio tower cannot take (64 mel bins for a
    /// tower of 80) converts, since the file keeps the config verbatim, but loading it is refused, naming the file,
    /// the keys and both shapes.
    func testRejectsFeatureWindowsTheAudioTowerCannotTake() throws {
        let src = try Fixtures.root.appendingPathComponent("reel_av").path
        let dir = FixtureModel.tempDir + "/reel_av_mel64"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: src + "/" + name, toPath: dir + "/" + name)
        }
        let pre = try String(contentsOfFile: src + "/preprocessor_config.json", encoding: .utf8)
        XCTAssertTrue(pre.contains("\"feature_size\": 80"))
        try pre.replacingOccurrences(of: "\"feature_size\": 80", with: "\"feature_size\": 64")
            .write(toFile: dir + "/preprocessor_config.json", atomically: true, encoding: .utf8)
        let out = FixtureModel.tempDir + "/reel_av_mel64.reel"
        _ = try Converter.convert(checkpoint: dir, options: ConvertOptions(output: out, quant: .f32, force: true, quiet: true))
        XCTAssertThrowsError(try ReelAVModel(path: out)) {
            XCTAssertEqual($0 as? ReelAVError, .config(
                path: out, key: "preprocessor_config.json chunk_length/feature_size",
                message: "the feature settings make windows of 64×200 mel frames, but the audio tower takes 80×200 "
                    + "(num_mel_bins, 2 × max_source_positions)"))
        }
    }

    /// The 2 s extractor keeps the 30 s defaults elsewhere and refuses a config whose n_samples disagrees.
    func testFeatureExtractorChunkLength() throws {
        let thirty = try WhisperFeatureExtractor(json: try JSON.parse(Array("{\"feature_size\": 80}".utf8), source: "t"))
        XCTAssertEqual(thirty.frames, 3000)
        XCTAssertEqual(thirty.chunkSamples, 480_000)
        let bad = try JSON.parse(Array("{\"chunk_length\": 2, \"n_samples\": 480000}".utf8), source: "t")
        XCTAssertThrowsError(try WhisperFeatureExtractor(json: bad)) {
            XCTAssertEqual($0 as? MediaError, .badConfig(key: "n_samples", detail: "chunk_length 2 implies 32000, got 480000"))
        }
    }
}
