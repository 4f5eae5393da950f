import Foundation
import ReelCore
import ReelMedia
import ReelModels
import ReelRuntime
import XCTest

/// Qwen2-Audio end to end from a real 34 s mp3 against transformers 5.24, on the tiny random checkpoint of
/// tools/make_audio_fixtures.py with the real 1500 source positions (one 30 s window = 3000 mel frames, 750 tokens):
/// file → ffmpeg → log-mel → audio tower → projector → spliced prompt → logits → greedy continuation.
///
/// transformers' `Qwen2AudioProcessor` truncates the clip to its first 30 s; the reference does exactly that (the
/// prompt holds 750 `<|AUDIO|>`). The fixture records it twice: from the features of the extractor's numpy path
/// (which Reel's log-mel reproduces bit for bit, so every stage is held to the f32 bound) and from its torch path
/// (what the processor runs when torch is installed; its features differ from Reel's by MKL's f32 FFT rounding).
/// The `windows.*` entries are Reel's window-by-window extension (both windows, `reel run --audio` by default) expressed
/// with transformers' own modules: the two windows as a batch of two clips, their tokens over one run of 850.
final class Qwen2Audio30sTests: XCTestCase {
    // MARK: named bounds (docs/audio.md records the measured values)
    /// Features of the numpy path, every stored element: Reel reproduces its roundings (measured 0).
    static let melMaxAbs: Float = 1e-5
    /// Features of the torch path at the stored columns (MKL's f32 STFT; see WhisperFeatureTests'
    /// `melMaxAbsTorchWeakBands` for why the weak bands cannot be held to 1e-5). Measured 9.7e-6.
    static let melMaxAbsTorchWeakBands: Float = 6e-5
    /// f32 weights: encoder stages, audio_features and logits, max-abs relative to the reference's range (the
    /// reference runs in float64), as in AudioParityTests.
    static let f32Relative = 1e-5

    static let family = "qwen2_audio_30s"
    static let frames = 3000
    static let rowStride = 10      // ROW_STRIDE in tools/make_audio_fixtures.py
    static let colStride = 100     // COL_STRIDE

    func reference() throws -> SafetensorsFixture { try FixtureModel.reference(Self.family) }

    func model() throws -> AudioLanguageModel {
        try AudioLanguageModel(path: try FixtureModel.file(Self.family, encoding: .f32).path,
                               options: DecoderOptions(contextLength: 1024, threads: 2))
    }

    /// The clip decoded by ffmpeg as `reel run --audio` decodes it; skips without ffmpeg.
    func samples() throws -> [Float] {
        guard let tools = try? MediaTools.locate() else {
            throw XCTSkip("SKIPPED: ffmpeg/ffprobe not found, so the Qwen2-Audio 30 s test did not run")
        }
        return try AudioReader.read(try Fixtures.root.appendingPathComponent("\(Self.family)/clip.mp3").path, tools: tools)
    }

    /// Every `stride`-th column of f32 [bins, frames] features.
    func columns(_ values: [Float], bins: Int, stride: Int) -> [Float] {
        var out: [Float] = []
        for m in 0..<bins { for c in Swift.stride(from: 0, to: Self.frames, by: stride) { out.append(values[m * Self.frames + c]) } }
        return out
    }

    /// Every `stride`-th row of f32 [rows, width].
    func rows(_ values: [Float], width: Int, stride: Int) -> [Float] {
        Swift.stride(from: 0, to: values.count / width, by: stride).flatMap { values[($0 * width)..<(($0 + 1) * width)] }
    }

    func report(_ name: String, _ reference: [Float], _ actual: [Float], rowLength: Int) throws -> ParityReport {
        let r = try ParityReport(name: name, reference: reference, actual: actual, rowLength: rowLength)
        print(r)
        return r
    }

    /// Audio file → log-mel: the decoded length, the first window's valid frames and features (both of
    /// transformers' paths), and the second window Reel's `windows` cuts.
    func testFeaturesFromTheFileMatchTransformers() throws {
        let ref = try reference()
        let x = try samples()
        XCTAssertEqual(x.count, try ref.ints("samples").first)
        let fx = try WhisperFeatureExtractor(melBins: 128)
        let first = fx.features(x)
        XCTAssertEqual(first.validFrames, Self.frames)   // the first 30 s are all audio
        let got = columns(first.values, bins: 128, stride: Self.colStride)
        let numpy = try report("features (numpy path)", try ref.floats("input_features_cols"), got, rowLength: 30)
        XCTAssertLessThanOrEqual(numpy.maxAbs, Double(Self.melMaxAbs), "\(numpy)")
        let torch = try report("features (torch path)", try ref.floats("torch.input_features_cols"), got, rowLength: 30)
        XCTAssertLessThanOrEqual(torch.maxAbs, Double(Self.melMaxAbsTorchWeakBands), "\(torch)")

        let windows = fx.windows(x)
        XCTAssertEqual(windows.map(\.validFrames), try ref.ints("windows.valid_frames"))   // [3000, 400]
        XCTAssertEqual(windows[0].values, first.values)
        let second = try report("second window features (numpy path)", try ref.floats("windows.second_features_cols"),
                                columns(windows[1].values, bins: 128, stride: Self.colStride), rowLength: 30)
        XCTAssertLessThanOrEqual(second.maxAbs, Double(Self.melMaxAbs), "\(second)")
    }

    /// Features → every encoder stage → audio_features → logits → greedy, at f32, against the reference that ran on
    /// the numpy-path features; then the logits and greedy continuation of the processor's default (torch-path) run.
    func testFromTheFileToGreedyMatchesTransformers() throws {
        let ref = try reference()
        let x = try samples()
        let m = try model()
        XCTAssertEqual(m.framesPerWindow, Self.frames)
        let fx = try WhisperFeatureExtractor(melBins: m.encoder.config.melBins)
        let f = fx.features(x)
        let window = AudioWindow(features: f.values, validFrames: f.validFrames)
        let stages = AudioStages()
        m.capture = stages.hook
        // The prompt from plain text, through the chat template and the expansion, is the processor's.
        let input = try m.prompt(text: "Describe the sound.", audio: [window])
        guard case let .embeddings(e, tokens) = input else { return XCTFail("expected embeddings") }
        XCTAssertEqual(tokens, try ref.ints("input_ids"))
        XCTAssertEqual(tokens.filter { $0 == m.audioTokenId }.count, 750)
        for name in ["audio.conv2", "audio.hidden_states.0", "audio.hidden_states.1", "audio.hidden_states.2",
                     "audio.pooled", "audio.last_hidden_state", "audio_features"] {
            let got = try XCTUnwrap(stages.tensors[name], "\(name) not captured")
            let r = try report(name, try ref.floats(name), rows(got.values, width: got.rowLength, stride: Self.rowStride),
                               rowLength: got.rowLength)
            assertRelative(r, Self.f32Relative)
        }
        m.capture = nil
        let V = m.text.decoder.config.vocabSize
        let logits = try m.text.decoder.prefill(embeddings: e, logits: .all).toArray()
        for prefix in ["", "torch."] {
            let want = try ref.floats(prefix + "logits")
            let r = try report("\(prefix)logits (last 8 rows)", want, Array(logits.suffix(want.count)), rowLength: V)
            assertRelative(r, Self.f32Relative)
            let feats = try m.audioFeatures(features: window.features, validFrames: window.validFrames)
            let fr = try report("\(prefix)audio_features", try ref.floats(prefix + "audio_features"),
                                rows(feats, width: m.text.decoder.config.hiddenSize, stride: Self.rowStride),
                                rowLength: m.text.decoder.config.hiddenSize)
            assertRelative(fr, Self.f32Relative)
        }
        let result = try m.generate(input, options: GenerationOptions(maxTokens: 8, ignoreEOS: true))
        XCTAssertEqual(result.tokens, try ref.ints("greedy_ids"))
        XCTAssertEqual(result.tokens, try ref.ints("torch.greedy_ids"))
    }

    /// Reel's window-by-window extension: both windows encoded on their own, 750 + 100 tokens over the clip's one
    /// placeholder; against transformers' modules running the two windows as a batch.
    func testAllWindowsMatchesTransformersModules() throws {
        let ref = try reference()
        let x = try samples()
        let m = try model()
        let windows = try WhisperFeatureExtractor(melBins: 128).windows(x).map {
            AudioWindow(features: $0.values, validFrames: $0.validFrames)
        }
        XCTAssertEqual(windows.count, 2)
        let H = m.text.decoder.config.hiddenSize
        let second = try m.audioFeatures(features: windows[1].features, validFrames: windows[1].validFrames)
        XCTAssertEqual(second.count, 100 * H)
        assertRelative(try report("second window audio_features", try ref.floats("windows.second_audio_features"),
                                  rows(second, width: H, stride: Self.rowStride), rowLength: H), Self.f32Relative)
        let input = try m.prompt(text: "Describe the sound.", audio: windows)
        guard case let .embeddings(e, tokens) = input else { return XCTFail("expected embeddings") }
        XCTAssertEqual(tokens.filter { $0 == m.audioTokenId }.count, 850)
        let logits = try m.text.decoder.prefill(embeddings: e, logits: .all).toArray()
        let want = try ref.floats("windows.logits")
        assertRelative(try report("windows.logits (last 8 rows)", want, Array(logits.suffix(want.count)),
                                  rowLength: m.text.decoder.config.vocabSize), Self.f32Relative)
        XCTAssertEqual(try m.generate(input, options: GenerationOptions(maxTokens: 8, ignoreEOS: true)).tokens,
                       try ref.ints("windows.greedy_ids"))
    }
}
