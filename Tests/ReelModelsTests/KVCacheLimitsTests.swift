import Foundation
import ReelCore
import ReelModels
import ReelRuntime
import XCTest

/// Resident memory and address-space limits of the process, for the lazily filled KV cache.
enum ProcessMemory {
    /// VmRSS of this process in bytes; nil where /proc is not there.
    static func residentBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }

    /// Whether the kernel refuses mappings beyond its commit limit even with MAP_NORESERVE (vm.overcommit_memory 2):
    /// there a huge cache is an error, not a lazy reservation.
    static var strictOvercommit: Bool {
        (try? String(contentsOfFile: "/proc/sys/vm/overcommit_memory", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) == "2"
    }
}

/// The KV cache's size: every byte count overflow-checked, the cache reserved up front but only touched where
/// positions are written (docs/runtime.md, "KV cache").
final class KVCacheLimitsTests: XCTestCase {
    let pool = ThreadPool(threads: 2)
    /// More resident memory than this after creating and using a huge cache means it was not filled lazily.
    static let residentGrowthBound = 64 << 20

    /// A cache that could not be created: the error must name the shape and the byte count.
    func assertUnreservable(_ e: Error, bytes: Int, file: StaticString = #filePath, line: UInt = #line) {
        guard case let RuntimeError.invalidArgument(m) = e else { return XCTFail("\(e)", file: file, line: line) }
        XCTAssertTrue(m.contains("\(bytes) bytes") && m.contains("could not be reserved"), m, file: file, line: line)
    }

    /// 64 GiB of f32 cache (more than the machine's memory, typically) is reserved, not allocated: writing 300
    /// positions of every layer and attending over them leaves RSS about where it was, and the attention equals the
    /// same rows' attention in a cache of exactly 300 positions.
    func testHugeCapacityIsReservedAndFilledLazily() throws {
        let layers = 4, nKV = 2, nH = 4, hd = 64, capacity = 1 << 24, rows = 300
        let bytes = try XCTUnwrap(KVCache.byteCount(layers: layers, kvHeads: nKV, headDim: hd, capacity: capacity, storage: .f32))
        XCTAssertEqual(bytes, 64 << 30)
        let before = ProcessMemory.residentBytes()
        let cache: KVCache
        do {
            cache = try KVCache(layers: layers, kvHeads: nKV, headDim: hd, capacity: capacity)
        } catch {
            guard ProcessMemory.strictOvercommit else { throw error }
            assertUnreservable(error, bytes: bytes)
            throw XCTSkip("vm.overcommit_memory is 2: a 64 GiB cache is refused (with its byte count), as it should be")
        }
        XCTAssertEqual(cache.byteCount, bytes)
        let small = try KVCache(layers: layers, kvHeads: nKV, headDim: hd, capacity: rows)
        var rng = SystemRandomNumberGenerator()
        let k = (0..<(rows * nKV * hd)).map { _ in Float.random(in: -1...1, using: &rng) }
        let v = (0..<(rows * nKV * hd)).map { _ in Float.random(in: -1...1, using: &rng) }
        let q = (0..<(rows * nH * hd)).map { _ in Float.random(in: -1...1, using: &rng) }
        var got = [Float](repeating: 0, count: rows * nH * hd), want = got
        for c in [cache, small] {
            for l in 0..<layers { c.store(layer: l, start: 0, rows: rows, k: k, v: v) }
            try c.advance(rows)
        }
        for l in 0..<layers {
            cache.attention(layer: l, q: q, rows: rows, start: 0, heads: nH, scale: 0.125, into: &got, pool: pool)
            small.attention(layer: l, q: q, rows: rows, start: 0, heads: nH, scale: 0.125, into: &want, pool: pool)
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-6, "layer \(l): max |huge − small| \(worst)")
        }
        if let before, let after = ProcessMemory.residentBytes() {
            XCTAssertLessThan(after - before, Self.residentGrowthBound,
                              "RSS grew \(after - before) bytes for a \(bytes)-byte cache holding \(rows) positions")
        }
        XCTAssertThrowsError(try cache.reserve(capacity - rows + 1)) { e in
            XCTAssertEqual(e as? RuntimeError, .contextExceeded(used: rows, requested: capacity - rows + 1, capacity: capacity))
        }
    }

    /// A byte count that overflows an Int is an error naming the context, layers, heads and head dim (not a trap);
    /// one that fits an Int but not the address space is an error giving the byte count (not an abort).
    func testOverflowingAndUnreservableCachesThrow() throws {
        XCTAssertNil(KVCache.byteCount(layers: 2, kvHeads: 2, headDim: 16, capacity: Int.max, storage: .f16))
        XCTAssertNil(KVCache.byteCount(layers: 1 << 40, kvHeads: 2, headDim: 16, capacity: 1 << 20, storage: .f32))
        XCTAssertThrowsError(try KVCache(layers: 2, kvHeads: 2, headDim: 16, capacity: Int.max)) { e in
            guard case let RuntimeError.invalidArgument(m) = e else { return XCTFail("\(e)") }
            for part in ["\(Int.max) positions", "2 layers", "2 KV heads", "head dim 16", "overflows"] {
                XCTAssertTrue(m.contains(part), "\(m) — should say \(part)")
            }
        }
        // 2^50 bytes: more than a 47- or 48-bit user address space.
        let capacity = 1 << 41
        let bytes = try XCTUnwrap(KVCache.byteCount(layers: 2, kvHeads: 2, headDim: 16, capacity: capacity, storage: .f32))
        XCTAssertEqual(bytes, 1 << 50)
        XCTAssertThrowsError(try KVCache(layers: 2, kvHeads: 2, headDim: 16, capacity: capacity)) { e in
            assertUnreservable(e, bytes: bytes)
            XCTAssertTrue("\(e)".contains("\(capacity) positions"), "\(e)")
        }
        XCTAssertThrowsError(try KVCache(layers: 2, kvHeads: 2, headDim: 16, capacity: 0)) { e in
            guard case RuntimeError.invalidArgument = e else { return XCTFail("\(e)") }
        }
    }

    /// A decoder at a context of 2^24 positions (8 GiB of cache, the default when a config says so) gives the logits
    /// of one at the default context and costs no more than the positions it used.
    func testDecoderAtHugeContextMatchesAndStaysSmall() throws {
        let (weights, config) = try FixtureModel.load("qwen2")
        let ids = Array(1...40)
        let reference = try Decoder(weights: weights, config: config, options: DecoderOptions(threads: 2))
        let want = try reference.prefill(tokens: ids, logits: .all).toArray()
        let before = ProcessMemory.residentBytes()
        let huge: Decoder
        do {
            huge = try Decoder(weights: weights, config: config, options: DecoderOptions(contextLength: 1 << 24, threads: 2))
        } catch {
            guard ProcessMemory.strictOvercommit else { throw error }
            throw XCTSkip("vm.overcommit_memory is 2: an 8 GiB cache is refused (\(error))")
        }
        XCTAssertEqual(huge.cache.capacity, 1 << 24)
        let got = try huge.prefill(tokens: ids, logits: .all).toArray()
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-5, "max |logits at 2^24 − logits at default| \(worst)")
        if let before, let after = ProcessMemory.residentBytes() {
            XCTAssertLessThan(after - before, Self.residentGrowthBound,
                              "RSS grew \(after - before) bytes for a \(huge.cache.byteCount)-byte cache holding \(ids.count) positions")
        }
    }
}

/// Counts read from a file's metadata are bounded before anything is sized by them.
final class ModelLimitsTests: XCTestCase {
    /// num_hidden_layers 4000 over a file with two layers: an error naming the key and the missing tensor, not an
    /// array of 4000 layers; 2^40 is refused by the config bound (ConfigLimits) before that.
    func testDecoderLayerCountMustMatchTheTensors() throws {
        let (weights, config) = try FixtureModel.load("qwen2")
        var c = try XCTUnwrap(config.object)
        c["num_hidden_layers"] = 4000
        XCTAssertThrowsError(try Decoder(weights: weights, config: .object(c), options: DecoderOptions(contextLength: 8, threads: 1))) { e in
            guard case let DecoderError.config(key, message) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(key, "num_hidden_layers")
            XCTAssertTrue(message.contains("decoder.layers.3999.input_layernorm.weight"), message)
        }
        c["num_hidden_layers"] = .int(1 << 40)
        XCTAssertThrowsError(try Decoder(weights: weights, config: .object(c), options: DecoderOptions(contextLength: 8, threads: 1))) { e in
            guard case let DecoderError.config(key, message) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(key, "num_hidden_layers")
            XCTAssertTrue(message.contains("is more than 4096"), message)
        }
    }

    /// The demo's projector config with `key` replaced.
    func projector(_ key: String, _ value: JSON) -> JSONObject {
        var c = JSONObject([
            ("segment_seconds", .double(2)), ("frames_per_segment", 2), ("max_segments", 8), ("vision_tokens_per_frame", 16),
            ("audio_tokens_per_segment", 50), ("video_token_index", 3), ("frame_token_index", 4), ("audio_token_index", 5),
        ])
        c[key] = value
        return c
    }

    /// Reel AV's segment counts, seconds and token counts past ReelAVLayout.Limits are refused naming the key
    /// (frames_per_segment 10^12 made an array of 10^12 frame indices).
    func testReelAVLayoutCountsAreBounded() throws {
        let bad: [(String, JSON, String)] = [
            ("frames_per_segment", .int(1_000_000_000_000), "frames_per_segment"),
            ("frames_per_segment", .int(0), "frames_per_segment"),
            ("max_segments", .int(1 << 40), "max_segments"),
            ("max_segments", .int(513), "frames_per_segment"),  // 2 × 513 frames per clip
            ("segment_seconds", .double(1e300), "segment_seconds"),
            ("segment_seconds", .double(0), "segment_seconds"),
            ("vision_tokens_per_frame", .int(1 << 62), "vision_tokens_per_frame"),
            ("audio_tokens_per_segment", .int(1 << 62), "audio_tokens_per_segment"),
        ]
        for (key, value, named) in bad {
            XCTAssertThrowsError(try ReelAVLayout(projectorConfig: projector(key, value), source: "t.reel"), "\(key) \(value)") { e in
                guard case let ModelsError.badValue(source, k, _) = e else { return XCTFail("\(e)") }
                XCTAssertEqual(source, "t.reel")
                XCTAssertEqual(k, "projector." + named)
            }
        }
        // The placeholder ids: not negative, and distinct.
        for (key, value, named) in [("frame_token_index", JSON.int(-1), "frame_token_index"),
                                    ("audio_token_index", .int(4), "audio_token_index")] {
            XCTAssertThrowsError(try ReelAVLayout(projectorConfig: projector(key, value), source: "t.reel"), "\(key) \(value)") { e in
                guard case let ModelsError.badValue(_, k, _) = e else { return XCTFail("\(e)") }
                XCTAssertEqual(k, "projector." + named)
            }
        }
        let most = try ReelAVLayout(projectorConfig: projector("max_segments", .int(512)))
        XCTAssertEqual(most.maxSegments * most.framesPerSegment, ReelAVLayout.Limits.framesPerClip)
        XCTAssertEqual(most.placeholderCount(segments: 3, audio: true), 3 * (2 * 16 + 50))
    }

    /// Frame indices and audio windows of a clip with an absurd frame rate or length are clamped, not trapped on.
    func testReelAVLayoutSurvivesExtremeClips() throws {
        let l = try ReelAVLayout(projectorConfig: projector("segment_seconds", .double(2)))
        XCTAssertEqual(l.segmentStarts(frameCount: Int.max, fps: 1e-300).count, 8)
        XCTAssertEqual(l.frameIndices(frameCount: 10, fps: 1e300), Array(repeating: 9, count: 2))
        XCTAssertEqual(l.audioWindow([1, 2, 3], start: 1e300, sampleRate: 16000, windowSamples: 4), [0, 0, 0, 0])
    }
}
