import Foundation
import ReelConvert
import ReelCore
import ReelFormat
import ReelModels
import ReelQuant
import ReelRuntime
import XCTest

/// Captures named intermediates (whole tensors; every audio stage is produced in one call).
final class AudioStages {
    var tensors: [String: (rowLength: Int, values: [Float])] = [:]
    var hook: CaptureHook { { [unowned self] name, t, _ in self.tensors[name] = (t.rowLength, t.toArray()) } }
}

/// The Whisper encoder and Qwen2-Audio against transformers 5.24 on the tiny random checkpoints of
/// tools/make_audio_fixtures.py (inputs: 100 mel frames = 2 · max_source_positions 50), converted by ReelConvert and
/// run from the mapped `.reel` file.
final class AudioParityTests: XCTestCase {
    // MARK: named bounds (docs/audio.md records the measured values)
    /// f32 weights: every encoder stage, the projected features and the logits, max-abs relative to the
    /// reference's range (the reference runs in float64). Measured ≤ 3.9e-7 (conv1/conv2), ≤ 2e-7 elsewhere.
    static let f32Relative = 1e-5
    /// Quantised weights (the encoder's linears and the decoder at the body encoding; convolutions and positions
    /// f16): (min cosine of audio_features, min cosine of the logits, max mean KL(ref‖reel) over the 16 logit rows in
    /// nats, min top-1 agreement). The feature bound also holds the standalone Whisper encoder's last_hidden_state.
    /// Random untrained weights have tiny logit margins, so top-1 is the noisiest.
    static let quantBounds: [Encoding: (featureCosine: Double, logitCosine: Double, kl: Double, top1: Double)] = [
        .q8: (0.9995, 0.9995, 1e-4, 0.90),   // measured: features 0.99998 (whisper 0.99999), logits 0.99996, KL 6.8e-6, top-1 1.0
        .q4: (0.98, 0.97, 1e-2, 0.40),       // measured: features 0.9953 (whisper 0.9970), logits 0.9881, KL 1.9e-3, top-1 0.5625
    ]

    func reference(_ family: String) throws -> SafetensorsFixture { try FixtureModel.reference(family) }

    func window(_ ref: SafetensorsFixture) throws -> AudioWindow {
        AudioWindow(features: try ref.floats("input_features"), validFrames: try ref.ints("feature_attention_mask").reduce(0, +))
    }

    func audioModel(_ encoding: Encoding? = .f32) throws -> AudioLanguageModel {
        try AudioLanguageModel(path: try FixtureModel.file("qwen2_audio", encoding: encoding).path,
                               options: DecoderOptions(contextLength: 128, threads: 2))
    }

    func whisperEncoder(_ encoding: Encoding? = .f32) throws -> WhisperEncoderModel {
        try WhisperEncoderModel(path: try FixtureModel.file("whisper", encoding: encoding).path, threads: 2)
    }

    func compare(_ stages: AudioStages, _ ref: SafetensorsFixture, _ names: [String], rows: Int? = nil,
                 bound: Double, file: StaticString = #filePath, line: UInt = #line) throws {
        for name in names {
            guard let got = stages.tensors[name] else { XCTFail("\(name) not captured", file: file, line: line); continue }
            var reference = try ref.floats(name)
            var actual = got.values
            if let rows {  // only the rows that hold audio (the rest are masked in transformers)
                reference = Array(reference.prefix(rows * got.rowLength))
                actual = Array(actual.prefix(rows * got.rowLength))
            }
            let r = try ParityReport(name: name, reference: reference, actual: actual, rowLength: got.rowLength)
            print(r)
            assertRelative(r, bound, file: file, line: line)
        }
    }

    // MARK: Whisper encoder

    /// Every stage of `WhisperEncoder.forward` at f32: conv1, conv2, the hidden states and the final layer_norm.
    func testWhisperEncoderF32MatchesTransformers() throws {
        let ref = try reference("whisper")
        let enc = try whisperEncoder()
        XCTAssertEqual(enc.config.melBins, 80)
        XCTAssertEqual(enc.config.frames, 100)
        let stages = AudioStages()
        enc.capture = stages.hook
        let out = try enc.forward(features: try ref.floats("input_features"))
        XCTAssertEqual(out.shape, [50, 32])
        try compare(stages, ref, ["audio.conv1", "audio.conv2", "audio.hidden_states.0", "audio.hidden_states.1",
                                  "audio.hidden_states.2", "audio.last_hidden_state"], bound: Self.f32Relative)
    }

    func testWhisperEncoderQuantised() throws {
        let ref = try reference("whisper")
        for enc in [Encoding.q8, .q4] {
            let out = try whisperEncoder(enc).forward(features: try ref.floats("input_features"))
            let r = try ParityReport(name: "whisper \(enc) last_hidden_state", reference: try ref.floats("audio.last_hidden_state"),
                                     actual: out.toArray(), rowLength: 32)
            print(r)
            XCTAssertGreaterThanOrEqual(r.cosine, Self.quantBounds[enc]!.featureCosine, "\(r)")
        }
    }

    func testWhisperEncoderRejectsBadInput() throws {
        let enc = try whisperEncoder()
        XCTAssertThrowsError(try enc.forward(features: [Float](repeating: 0, count: 80 * 99))) { e in
            XCTAssertEqual(e as? AudioError, .featureShape(expected: [80, 100], count: 80 * 99))
        }
        let path = try FixtureModel.file("qwen2_audio").path
        XCTAssertThrowsError(try WhisperEncoderModel(path: path)) { e in
            XCTAssertEqual(e as? AudioError, .notAnAudioModel(path: path, architecture: "qwen2_audio", expected: "whisper_encoder"))
        }
    }

    // MARK: Qwen2-Audio

    func testTokenCountMatchesQwen2AudioProcessor() {
        // ((L − 1) // 2 + 1 − 2) // 2 + 1 with Python's floor division
        let expected = [1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 1, 7: 2, 78: 19, 100: 25, 2999: 750, 3000: 750]
        for (frames, n) in expected { XCTAssertEqual(AudioLanguageModel.tokenCount(validFrames: frames), n, "L = \(frames)") }
    }

    /// The prompt (chat template + `<|AUDIO|>` expansion) equals Qwen2AudioProcessor's input_ids, both from the
    /// messages and from plain text.
    func testPromptMatchesQwen2AudioProcessor() throws {
        let ref = try reference("qwen2_audio")
        let m = try audioModel()
        XCTAssertEqual(m.audioTokenId, 400)
        let prompt = try JSON.parse(Array(try Data(contentsOf: try Fixtures.root.appendingPathComponent("qwen2_audio/prompt.json"))),
                                    source: "prompt.json")
        let messages = try XCTUnwrap(prompt["messages"]?.array)
        let w = try window(ref)
        guard case let .embeddings(e, tokens) = try m.prompt(messages: messages, audio: [[w]]) else { return XCTFail("expected embeddings") }
        XCTAssertEqual(tokens, try ref.ints("input_ids"))
        XCTAssertEqual(e.count, tokens.count * 64)
        guard case let .embeddings(_, fromText) = try m.prompt(text: "What is this sound?", audio: [w]) else { return XCTFail() }
        XCTAssertEqual(fromText, try ref.ints("input_ids"))
        // An already expanded prompt is kept as it is.
        guard case let .embeddings(e2, again) = try m.prompt(ids: tokens, audio: [[w]]) else { return XCTFail() }
        XCTAssertEqual(again, tokens)
        XCTAssertEqual(e2, e)
    }

    /// Encoder stages (valid positions), pooled, layer_norm, projector, then the logits of the expanded prompt and
    /// the greedy continuation, all at f32.
    func testQwen2AudioF32MatchesTransformers() throws {
        let ref = try reference("qwen2_audio")
        let m = try audioModel()
        let stages = AudioStages()
        m.capture = stages.hook
        let w = try window(ref)
        XCTAssertEqual(w.validFrames, 78)
        let input = try m.prompt(ids: try ref.ints("input_ids"), audio: [[w]])
        try compare(stages, ref, ["audio.conv2"], rows: 39, bound: Self.f32Relative)
        try compare(stages, ref, ["audio.hidden_states.0", "audio.hidden_states.1", "audio.hidden_states.2", "audio.pooled",
                                  "audio.last_hidden_state", "audio_features"], bound: Self.f32Relative)

        guard case let .embeddings(e, tokens) = input else { return XCTFail() }
        let logits = try m.text.decoder.prefill(embeddings: e, logits: .all)
        let refLogits = try ref.floats("logits")
        let V = m.text.decoder.config.vocabSize
        let tail = Array(logits.toArray().suffix(refLogits.count))
        let r = try ParityReport(name: "qwen2_audio f32 logits (last 16 rows)", reference: refLogits, actual: tail, rowLength: V)
        print(r)
        assertRelative(r, Self.f32Relative)
        XCTAssertEqual(tokens.count, 84)

        m.capture = nil
        let result = try m.generate(input, options: GenerationOptions(maxTokens: 16, ignoreEOS: true))
        XCTAssertEqual(result.tokens, try ref.ints("greedy_ids"))
    }

    /// The checkpoint's own bf16 weights (convert without --quant): the bf16 Linear paths and the conv view over bf16
    /// rows. The fixture's values are bf16-exact, so this meets the f32 bound.
    func testQwen2AudioSourceBF16() throws {
        let ref = try reference("qwen2_audio")
        let m = try audioModel(nil)
        let w = try window(ref)
        let features = try m.audioFeatures(features: w.features, validFrames: w.validFrames)
        try assertClose("qwen2_audio bf16 audio_features", features, try ref.floats("audio_features"), relative: Self.f32Relative)
        let input = try m.prompt(ids: try ref.ints("input_ids"), audio: [[w]])
        XCTAssertEqual(try m.generate(input, options: GenerationOptions(maxTokens: 16, ignoreEOS: true)).tokens, try ref.ints("greedy_ids"))
    }

    func testQwen2AudioQuantised() throws {
        let ref = try reference("qwen2_audio")
        let w = try window(ref)
        for enc in [Encoding.q8, .q4] {
            let b = Self.quantBounds[enc]!
            let m = try audioModel(enc)
            let features = try m.audioFeatures(features: w.features, validFrames: w.validFrames)
            let f = try ParityReport(name: "qwen2_audio \(enc) audio_features", reference: try ref.floats("audio_features"),
                                     actual: features, rowLength: 64)
            guard case let .embeddings(e, _) = try m.prompt(ids: try ref.ints("input_ids"), audio: [[w]]) else { return XCTFail() }
            let logits = try m.text.decoder.prefill(embeddings: e, logits: .all)
            let refLogits = try ref.floats("logits")
            let l = try ParityReport(name: "qwen2_audio \(enc) logits", reference: refLogits,
                                     actual: Array(logits.toArray().suffix(refLogits.count)), rowLength: m.text.decoder.config.vocabSize)
            print(f)
            print(l)
            XCTAssertGreaterThanOrEqual(f.cosine, b.featureCosine, "\(f)")
            XCTAssertGreaterThanOrEqual(l.cosine, b.logitCosine, "\(l)")
            XCTAssertLessThanOrEqual(l.klDivergence, b.kl, "\(l)")
            XCTAssertGreaterThanOrEqual(l.top1Agreement, b.top1, "\(l)")
        }
    }

    /// A clip of two windows (audio longer than one window) expands to both windows' tokens, in order.
    func testLongAudioRunsWindowByWindow() throws {
        let ref = try reference("qwen2_audio")
        let m = try audioModel()
        let w1 = try window(ref)
        let w2 = AudioWindow(features: w1.features, validFrames: 40)  // a shorter second window: 10 tokens
        let f1 = try m.audioFeatures(features: w1.features, validFrames: w1.validFrames)
        let f2 = try m.audioFeatures(features: w2.features, validFrames: w2.validFrames)
        XCTAssertEqual(f2.count, 10 * 64)
        XCTAssertEqual(try m.audioFeatures([w1, w2]), f1 + f2)
        guard case let .embeddings(e, tokens) = try m.prompt(text: "What is this sound?", audio: [w1, w2]) else { return XCTFail() }
        XCTAssertEqual(tokens.filter { $0 == 400 }.count, 29)
        let start = try XCTUnwrap(tokens.firstIndex(of: 400))
        XCTAssertEqual(Array(e[(start * 64)..<((start + 29) * 64)]), f1 + f2)
    }

    /// Two clips in one conversation: the template writes one placeholder per audio item, paired in order.
    func testTwoClipsPairWithTheirPlaceholdersInOrder() throws {
        let ref = try reference("qwen2_audio")
        let m = try audioModel()
        let w1 = try window(ref)
        let w2 = AudioWindow(features: w1.features, validFrames: 40)
        let messages: [JSON] = [["role": "user", "content": .array([
            ["type": "audio", "audio_url": "a.wav"], ["type": "audio", "audio_url": "b.wav"],
            ["type": "text", "text": "Which is longer?"],
        ])]]
        guard case let .embeddings(e, tokens) = try m.prompt(messages: messages, audio: [[w1], [w2]]) else { return XCTFail() }
        let text = m.text.tokenizer.decode(tokens)
        XCTAssertTrue(text.contains("Audio 1: <|audio_bos|>" + String(repeating: "<|AUDIO|>", count: 19) + "<|audio_eos|>\nAudio 2: <|audio_bos|>"
                                    + String(repeating: "<|AUDIO|>", count: 10) + "<|audio_eos|>"), text)
        let second = try XCTUnwrap(tokens.indices.first { $0 > 0 && tokens[$0] == 400 && tokens[$0 - 1] != 400 && $0 > tokens.firstIndex(of: 400)! })
        XCTAssertEqual(Array(e[(second * 64)..<((second + 10) * 64)]), try m.audioFeatures(features: w2.features, validFrames: 40))
    }

    func testQwen2AudioRejectsBadInput() throws {
        let ref = try reference("qwen2_audio")
        let m = try audioModel()
        let w = try window(ref)
        XCTAssertThrowsError(try m.audioFeatures(features: w.features, validFrames: 0)) { e in
            XCTAssertEqual(e as? AudioError, .validFrames(0, frames: 100))
        }
        XCTAssertThrowsError(try m.audioFeatures(features: w.features, validFrames: 101)) { e in
            XCTAssertEqual(e as? AudioError, .validFrames(101, frames: 100))
        }
        XCTAssertThrowsError(try m.audioFeatures(features: w.features, validFrames: 2)) { e in
            XCTAssertEqual(e as? AudioError, .noAudioTokens(validFrames: 2))
        }
        XCTAssertThrowsError(try m.audioFeatures(features: Array(w.features.dropLast()), validFrames: 50)) { e in
            XCTAssertEqual(e as? AudioError, .featureShape(expected: [128, 100], count: 128 * 100 - 1))
        }
        let ids = try ref.ints("input_ids")
        XCTAssertThrowsError(try m.prompt(ids: ids, audio: [[w], [w]])) { e in
            guard case let .placeholders(found, clips, _)? = e as? AudioError else { return XCTFail("\(e)") }
            XCTAssertEqual([found, clips], [1, 2])
        }
        XCTAssertThrowsError(try m.prompt(ids: [1, 400, 400, 2], audio: [[w]])) { e in
            guard case let .placeholders(found, clips, _)? = e as? AudioError else { return XCTFail("\(e)") }
            XCTAssertEqual([found, clips], [1, 1])
        }
        XCTAssertThrowsError(try m.prompt(ids: [1, 400, 2], audio: [[]])) { e in
            XCTAssertEqual(e as? AudioError, .emptyClip(index: 0))
        }
        // A text model with a tokenizer (the bundled examples/tiny-qwen2) is not an audio model.
        let path = FixtureModel.tempDir + "/audio-tiny-qwen2.reel"
        _ = try Converter.convert(checkpoint: GenerationTests.root + "/examples/tiny-qwen2", options: ConvertOptions(output: path, force: true, quiet: true))
        XCTAssertThrowsError(try AudioLanguageModel(path: path)) { e in
            XCTAssertEqual(e as? AudioError, .notAnAudioModel(path: path, architecture: "qwen2", expected: "qwen2_audio"))
        }
    }
}
