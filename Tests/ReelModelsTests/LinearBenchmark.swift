import Foundation
import ReelQuant
import ReelRuntime
import XCTest

/// Linear throughput per encoding and prefill path. Runs only with REEL_BENCH=1 (release build recommended):
///     REEL_BENCH=1 swift test -c release --filter LinearBenchmark
/// Prints one line per (encoding, rows, path): time per call and effective weight bandwidth.
final class LinearBenchmark: XCTestCase {
    func testLinearThroughput() throws {
        guard ProcessInfo.processInfo.environment["REEL_BENCH"] == "1" else { throw XCTSkip("set REEL_BENCH=1") }
        let pool = ThreadPool()
        let out = Int(ProcessInfo.processInfo.environment["REEL_BENCH_OUT"] ?? "") ?? 5632
        let k = Int(ProcessInfo.processInfo.environment["REEL_BENCH_IN"] ?? "") ?? 2048
        var rng = Xoshiro256(seed: 1)
        let w = (0..<(out * k)).map { _ in Float(rng.nextDouble() - 0.5) * 0.1 }
        let maxRows = 64
        let x = (0..<(maxRows * k)).map { _ in Float(rng.nextDouble() - 0.5) }
        var y = [Float](repeating: 0, count: maxRows * out)
        print("Linear [\(out), \(k)], \(pool.threadCount) threads, ISA \(Kernels.isaName)")
        for enc in Encoding.allCases {
            let weights = InMemoryWeights()
            try weights.add("w", encoding: enc, shape: [out, k], bytes: try Codec.encode(w, rows: out, k: k, as: enc))
            let lin = try Linear(weight: try weights.weight("w"))
            let bytes = Double(lin.weight.data.count)
            for n in [1, 16, 64] {
                for path in (enc == .f32 || n == 1 ? [Linear.PrefillPath.kernel] : Linear.PrefillPath.allCases) {
                    lin.prefillPath = path
                    lin.forward(x, rows: n, into: &y, pool: pool)  // warm-up
                    let reps = n == 1 ? 200 : 20
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<reps { lin.forward(x, rows: n, into: &y, pool: pool) }
                    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(reps)
                    let label = enc == .f32 ? "blas" : (n == 1 ? "gemv" : path.rawValue)
                    print(String(format: "  %-4@ n=%-3d %-15@ %8.3f ms  %6.1f GB/s  %7.1f GFLOP/s", enc.rawValue as NSString,
                                 n, label as NSString, s * 1e3, bytes / s / 1e9, 2 * Double(n * out * k) / s / 1e9))
                }
            }
        }
    }
}
