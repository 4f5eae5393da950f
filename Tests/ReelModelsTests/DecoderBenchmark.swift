import Foundation
import ReelCore
import ReelModels
import ReelQuant
import ReelRuntime
import XCTest

/// End-to-end decoder speed on a Qwen2-0.5B-shaped model with random weights (24 layers, H 896, I 4864, 14/2 heads,
/// vocab 151936, tied), plus the thread pool's per-operation overhead. Runs only with REEL_BENCH=1:
///     REEL_BENCH=1 swift test -c release --filter DecoderBenchmark
/// REEL_BENCH_QUANT picks the body encoding (default q4; embeddings q8 as the converter's policy).
final class DecoderBenchmark: XCTestCase {
    func testPoolOverhead() throws {
        guard ProcessInfo.processInfo.environment["REEL_BENCH"] == "1" else { throw XCTSkip("set REEL_BENCH=1") }
        let pool = ThreadPool()
        var sink = [Int](repeating: 0, count: pool.threadCount * 16)
        let reps = 20_000
        let t0 = DispatchTime.now().uptimeNanoseconds
        sink.withUnsafeMutableBufferPointer { s in
            for _ in 0..<reps { pool.run { w in s[w * 16] &+= 1 } }
        }
        let ns = Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(reps)
        print(String(format: "ThreadPool.run, %d threads: %.2f µs per operation", pool.threadCount, ns / 1000))
    }

    func testQwen2Shaped() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["REEL_BENCH"] == "1" else { throw XCTSkip("set REEL_BENCH=1") }
        let body = Encoding(userName: env["REEL_BENCH_QUANT"] ?? "q4") ?? .q4
        let H = 896, I = 4864, L = 24, nH = 14, nKV = 2, hd = 64, V = 151_936
        var rng = Xoshiro256(seed: 3)
        let noise = (0..<(1 << 20)).map { _ in Float(rng.nextDouble() - 0.5) * 0.04 }
        var cursor = 0
        func values(_ n: Int) -> [Float] {
            var out = [Float](); out.reserveCapacity(n)
            while out.count < n {
                let take = min(n - out.count, noise.count - cursor)
                out += noise[cursor..<(cursor + take)]
                cursor = (cursor + take * 7 + 1) % noise.count
            }
            return out
        }
        let w = InMemoryWeights()
        func add(_ name: String, _ shape: [Int], _ enc: Encoding) throws {
            let k = shape.last!, rows = shape.count == 1 ? 1 : shape[0]
            var v = values(rows * k)
            if shape.count == 1 { v = v.map { 1 + $0 } }
            try w.add(name, encoding: enc, shape: shape, bytes: try Codec.encode(v, rows: rows, k: k, as: enc))
        }
        let t0 = Date()
        try add("decoder.embed_tokens.weight", [V, H], body.isQuantized ? .q8 : body)
        for i in 0..<L {
            let p = "decoder.layers.\(i)."
            try add(p + "input_layernorm.weight", [H], .f32)
            try add(p + "post_attention_layernorm.weight", [H], .f32)
            try add(p + "self_attn.q_proj.weight", [nH * hd, H], body)
            try add(p + "self_attn.k_proj.weight", [nKV * hd, H], body)
            try add(p + "self_attn.v_proj.weight", [nKV * hd, H], body)
            for b in ["q", "k", "v"] { try add(p + "self_attn.\(b)_proj.bias", [(b == "q" ? nH : nKV) * hd], .f32) }
            try add(p + "self_attn.o_proj.weight", [H, nH * hd], body)
            try add(p + "mlp.gate_proj.weight", [I, H], body)
            try add(p + "mlp.up_proj.weight", [I, H], body)
            try add(p + "mlp.down_proj.weight", [H, I], body)
        }
        try add("decoder.norm.weight", [H], .f32)
        let config: JSON = [
            "family": "qwen2", "vocab_size": .int(Int64(V)), "hidden_size": .int(Int64(H)),
            "intermediate_size": .int(Int64(I)), "num_hidden_layers": .int(Int64(L)),
            "num_attention_heads": .int(Int64(nH)), "num_key_value_heads": .int(Int64(nKV)), "head_dim": .int(Int64(hd)),
            "rms_norm_eps": 1e-6, "max_position_embeddings": 32768, "tie_word_embeddings": true, "qkv_bias": true,
            "o_bias": false, "mlp_bias": false, "qk_norm": false, "hidden_act": "silu",
            "rope": ["type": "default", "theta": 1000000.0, "factor": 1.0], "bos_token_id": .null, "eos_token_ids": [],
        ]
        let dec = try Decoder(weights: w, config: config, options: DecoderOptions(contextLength: 4096))
        print(String(format: "Qwen2-0.5B-shaped, body %@, built in %.1f s, %d threads, ISA %@", body.rawValue,
                     Date().timeIntervalSince(t0), dec.pool.threadCount, Kernels.isaName))
        for promptLength in [128, 512, 128] {
            dec.reset()
            let prompt = (0..<promptLength).map { ($0 * 7919) % V }
            let p0 = Date()
            _ = try dec.prefill(tokens: prompt)
            let prefill = Date().timeIntervalSince(p0)
            let steps = 32
            let d0 = Date()
            var next = 0
            for _ in 0..<steps {
                let logits = try dec.decodeStep(token: next)
                next = Ops.argmax(logits.data, count: V)
            }
            let decode = Date().timeIntervalSince(d0)
            print(String(format: "  prompt %4d: prefill %.2f s (%.1f tok/s); decode %.1f ms/token (%.1f tok/s)",
                         promptLength, prefill, Double(promptLength) / prefill, decode / Double(steps) * 1000,
                         Double(steps) / decode))
        }
    }
}
