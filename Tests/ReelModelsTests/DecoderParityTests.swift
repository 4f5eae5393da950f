import Foundation
import ReelCore
import ReelModels
import ReelQuant
import ReelRuntime
import XCTest

/// The decoder against transformers 5.24 on the tiny random checkpoints of tools/make_decoder_fixtures.py.
/// Each fixture is converted by ReelConvert (`Converter.convert`, as `reel convert --quant …`) and run from the
/// mapped `.reel` file.
final class DecoderParityTests: XCTestCase {
    static let families = ["llama", "qwen2", "qwen3"]

    // MARK: named bounds (docs/runtime.md records the measured values)
    /// f32 weights: logits and hidden states, max-abs relative to the reference's range (measured ≤ 2.9e-7).
    static let f32Relative = 1e-5
    /// f16 / bf16 weights. The fixture's values are bf16-exact, so here they measure like f32; the bound is the one
    /// a real checkpoint stored at f16 should meet.
    static let halfRelative = 1e-3
    /// f32 weights with an f16 KV cache (measured ≤ 1.9e-4).
    static let f16CacheRelative = 1e-3
    /// Quantised weights, over the 39 next-token distributions of the greedy path: (min cosine of the logits,
    /// max mean KL(ref‖reel) in nats, min top-1 agreement). Random untrained weights have tiny logit margins, so
    /// top-1 is the noisiest; the worst measured family is in the comment.
    static let quantBounds: [Encoding: (cosine: Double, kl: Double, top1: Double)] = [
        .q8: (0.9995, 1e-4, 0.90),    // worst measured: 0.99979, 3.5e-5, 0.974
        .q4f: (0.975, 5e-3, 0.65),    // worst measured: 0.9842, 2.4e-3, 0.718
        .q4: (0.95, 1e-2, 0.50),      // worst measured: 0.9744, 4.1e-3, 0.590
    ]

    func makeDecoder(_ family: String, encoding: Encoding? = .f32, options: DecoderOptions = DecoderOptions(threads: 2))
        throws -> Decoder {
        try Decoder(file: try FixtureModel.file(family, encoding: encoding), options: options)
    }

    /// Full-sequence logits and every hidden state at f32.
    func testF32LogitsAndHiddenStates() throws {
        for family in Self.families {
            let ref = try FixtureModel.reference(family)
            let dec = try makeDecoder(family)
            let recorder = IntermediateRecorder { $0.hasPrefix("hidden_states.") }
            dec.capture = recorder.hook
            let logits = try dec.prefill(tokens: try ref.ints("input_ids"), logits: .all)
            let r = try ParityReport(name: "\(family) f32 logits", reference: try ref.floats("logits"),
                                     actual: logits.toArray(), rowLength: dec.config.vocabSize)
            print(r)
            assertRelative(r, Self.f32Relative)
            XCTAssertEqual(r.top1Agreement, 1)
            for i in 0...dec.config.numHiddenLayers {
                let name = "hidden_states.\(i)"
                guard let got = recorder.tensors[name] else { XCTFail("\(family): \(name) not captured"); continue }
                let h = try ParityReport(name: "\(family) \(name)", reference: try ref.floats(name), actual: got.values,
                                         rowLength: got.rowLength)
                if i == dec.config.numHiddenLayers { print(h) }
                assertRelative(h, Self.f32Relative)
            }
        }
    }

    /// Greedy continuation through the KV cache (prefill, then one decode step per token) equals `generate`'s,
    /// and each step's logits match its scores. Also run with a prefill split into chunks of 3 rows.
    func testGreedyContinuationWithCache() throws {
        for family in Self.families {
            for maxBatch in [128, 3] {
                let ref = try FixtureModel.reference(family)
                let dec = try makeDecoder(family, options: DecoderOptions(maxBatch: maxBatch, threads: 2))
                let expected = try ref.ints("greedy_ids"), scores = try ref.floats("greedy_logits")
                let V = dec.config.vocabSize
                var logits = try dec.prefill(tokens: try ref.ints("input_ids")).toArray()
                var got: [Int] = [], stepLogits: [Float] = []
                for _ in 0..<expected.count {
                    stepLogits += logits
                    let next = logits.withUnsafeBufferPointer { Ops.argmax($0.baseAddress!, count: V) }
                    got.append(next)
                    logits = try dec.decodeStep(token: next).toArray()
                }
                XCTAssertEqual(got, expected, "\(family) greedy (maxBatch \(maxBatch))")
                let r = try ParityReport(name: "\(family) cached decode logits", reference: scores, actual: stepLogits,
                                         rowLength: V)
                if maxBatch == 128 { print(r) }
                assertRelative(r, Self.f32Relative)
            }
        }
    }

    /// Half-precision weights, and an f16 KV cache.
    func testHalfPrecision() throws {
        for family in Self.families {
            let ref = try FixtureModel.reference(family)
            let ids = try ref.ints("input_ids"), want = try ref.floats("logits")
            for enc in [Encoding.f16, .bf16, nil] {
                let dec = try makeDecoder(family, encoding: enc)
                let r = try ParityReport(name: "\(family) \(enc?.rawValue ?? "source (bf16)") logits", reference: want,
                                         actual: try dec.prefill(tokens: ids, logits: .all).toArray(),
                                         rowLength: dec.config.vocabSize)
                print(r)
                assertRelative(r, Self.halfRelative)
            }
            let dec = try makeDecoder(family, options: DecoderOptions(kvCache: .f16, threads: 2))
            let r = try ParityReport(name: "\(family) f16-cache logits", reference: want,
                                     actual: try dec.prefill(tokens: ids, logits: .all).toArray(),
                                     rowLength: dec.config.vocabSize)
            print(r)
            assertRelative(r, Self.f16CacheRelative)
            // The decode path over the f16 cache (its own kernel): half the prompt prefilled, the rest one step each.
            dec.reset()
            let half = ids.count / 2
            var stepped = try dec.prefill(tokens: Array(ids[..<half]), logits: .all).toArray()
            for t in ids[half...] { stepped += try dec.decodeStep(token: t).toArray() }
            let d = try ParityReport(name: "\(family) f16-cache decode logits", reference: want, actual: stepped,
                                     rowLength: dec.config.vocabSize)
            print(d)
            assertRelative(d, Self.f16CacheRelative)
        }
    }

    /// Quantised weights: cosine, KL and top-1 of the 39 next-token distributions along the reference's greedy path,
    /// both ways the runtime computes them: one prefill of all rows (the prefill path), and prefill of the prompt then
    /// a decode step per reference token (the gemv path, with q8 activations).
    func testQuantisedParity() throws {
        for family in Self.families {
            let ref = try FixtureModel.reference(family)
            let prompt = try ref.ints("input_ids"), greedy = try ref.ints("greedy_ids")
            let V = 128
            // logits at sequence position p: the prompt's rows 0..<S-1, then generate's scores (score j is position S-1+j)
            let want = Array(try ref.floats("logits")[0..<((prompt.count - 1) * V)]) + (try ref.floats("greedy_logits"))
            for enc in [Encoding.q8, .q4f, .q4] {
                let dec = try makeDecoder(family, encoding: enc)
                let prefilled = try dec.prefill(tokens: prompt + greedy.dropLast(), logits: .all).toArray()
                dec.reset()
                var stepped = try dec.prefill(tokens: prompt, logits: .all).toArray()
                for t in greedy.dropLast() { stepped += try dec.decodeStep(token: t).toArray() }
                for (how, got) in [("prefill", prefilled), ("decode", stepped)] {
                    let r = try ParityReport(name: "\(family) \(enc) \(how) logits", reference: want, actual: got, rowLength: V)
                    print(r)
                    let b = Self.quantBounds[enc]!
                    XCTAssertGreaterThanOrEqual(r.cosine, b.cosine, "\(r)")
                    XCTAssertLessThanOrEqual(r.klDivergence, b.kl, "\(r)")
                    XCTAssertGreaterThanOrEqual(r.top1Agreement, b.top1, "\(r)")
                }
            }
        }
    }

    /// Ready embeddings at given positions behave exactly like the tokens they embed (the splice path).
    func testEmbeddingsInputMatchesTokens() throws {
        let ref = try FixtureModel.reference("qwen3")
        let ids = try ref.ints("input_ids")
        let dec = try makeDecoder("qwen3")
        let fromTokens = try dec.prefill(tokens: ids, logits: .all).toArray()
        dec.reset()
        let e = try dec.embed(ids)
        // first half as embeddings, second half as tokens, explicit positions
        _ = try dec.prefill(embeddings: Array(e[0..<(4 * 64)]), positions: [0, 1, 2, 3], logits: .none)
        let tail = try dec.prefill(tokens: Array(ids[4...]), positions: [4, 5, 6, 7], logits: .all).toArray()
        try assertClose("embeddings splice", tail, Array(fromTokens[(4 * 128)...]), relative: 1e-6)
    }

    func testErrors() throws {
        let dec = try makeDecoder("qwen2", options: DecoderOptions(contextLength: 10, threads: 1))
        XCTAssertThrowsError(try dec.prefill(tokens: [1, 2, 128])) { e in
            XCTAssertEqual(e as? RuntimeError, .tokenOutOfRange(token: 128, vocabSize: 128))
        }
        _ = try dec.prefill(tokens: Array(1...8))
        XCTAssertThrowsError(try dec.prefill(tokens: [1, 2, 3])) { e in
            XCTAssertEqual(e as? RuntimeError, .contextExceeded(used: 8, requested: 3, capacity: 10))
        }
        _ = try dec.decodeStep(token: 5)
        _ = try dec.decodeStep(token: 5)
        XCTAssertThrowsError(try dec.decodeStep(token: 5)) { e in
            XCTAssertEqual(e as? RuntimeError, .contextExceeded(used: 10, requested: 1, capacity: 10))
        }
        dec.reset()
        XCTAssertNoThrow(try dec.decodeStep(token: 5))

        // missing and unused weights; bad config keys
        let (weights, config) = try FixtureModel.load("llama")
        let extra = InMemoryWeights()
        for n in weights.weightNames {
            let w = try weights.weight(n)
            try extra.add(n, encoding: w.encoding, shape: w.shape, bytes: Array(w.data))
        }
        try extra.add("decoder.layers.0.self_attn.rotary.weight", shape: [2], floats: [1, 2])
        XCTAssertThrowsError(try Decoder(weights: extra, config: config)) { e in
            XCTAssertEqual(e as? DecoderError, .unusedWeights(["decoder.layers.0.self_attn.rotary.weight"]))
        }
        var c = config.object!
        c["num_key_value_heads"] = 3
        XCTAssertThrowsError(try Decoder(weights: weights, config: .object(c))) { e in
            guard case DecoderError.config(key: "num_key_value_heads", _)? = e as? DecoderError else { return XCTFail("\(e)") }
        }
        c = config.object!
        c["rope"] = ["type": "longrope", "theta": 10000.0, "factor": 4.0]
        XCTAssertThrowsError(try Decoder(weights: weights, config: .object(c))) { e in
            guard case RuntimeError.unsupported? = e as? RuntimeError else { return XCTFail("\(e)") }
        }
        c = config.object!
        c["head_dim"] = 8
        XCTAssertThrowsError(try Decoder(weights: weights, config: .object(c))) { e in
            XCTAssertEqual(e as? RuntimeError,
                           .shapeMismatch(name: "decoder.layers.0.self_attn.q_proj.weight", expected: [32, 64], actual: [64, 64]))
        }
    }
}
