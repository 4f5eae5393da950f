import Foundation
import ReelMedia
import XCTest

/// Opt-in (`REEL_BENCH=1`, release build): the log-mel of one full 30 s window (the tone fixture tiled), Reel's own
/// FFT and its DFT-as-GEMM beside transformers' two paths (tools/bench/logmel.py) in the same run, one thread each,
/// best of 5. docs/media.md records the figures. Prints only; no timing is asserted.
final class LogMelBenchmark: XCTestCase {
    func testLogMelOneWindow() throws {
        guard ProcessInfo.processInfo.environment["REEL_BENCH"] == "1" else { throw XCTSkip("set REEL_BENCH=1") }
        let tone = try AudioReader.read(Fixtures.path("tone.flac"), tools: try Fixtures.tools())
        var x: [Float] = []
        while x.count < WhisperFeatureExtractor.chunkSamples { x += tone }
        x = Array(x.prefix(WhisperFeatureExtractor.chunkSamples))
        let reps = 5
        for method in [SpectrumMethod.fft, .gemm] {
            let fe = try WhisperFeatureExtractor(melBins: 128, method: method)
            var best = Double.infinity
            for _ in 0..<reps {
                let t0 = Date()
                _ = fe.features(x)
                best = min(best, Date().timeIntervalSince(t0))
            }
            print("reel log-mel 128 × 3000, \(method): \(String(format: "%.1f", best * 1000)) ms")
        }
        // The peer, on the same samples.
        let raw = NSTemporaryDirectory() + "reel-logmel-\(getpid()).f32"
        try x.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: raw)) }
        defer { try? FileManager.default.removeItem(atPath: raw) }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", root.appendingPathComponent("tools/bench/logmel.py").path, raw, "128", "\(reps)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        print("transformers WhisperFeatureExtractor(128), 1 thread: \(String(decoding: data, as: UTF8.self))")
    }
}
