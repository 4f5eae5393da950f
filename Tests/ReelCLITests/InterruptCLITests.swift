import Foundation
import XCTest
import ReelCore
import ReelSafetensors

/// A conversion stopped by a signal (Ctrl-C, `kill`, a closed terminal, a file-size limit) leaves neither its output nor the hidden
/// temporary file beside it (`AtomicOutputFile`'s signal handler), and dies of the signal as it would have.
extension CLITests {
    func testInterruptedConvertLeavesNoTemporaryFile() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else { throw XCTSkip("no reel binary at \(Self.binary)") }
        let d = try scratch()
        let ck = d + "/ck", out = d + "/out"
        try FileManager.default.createDirectory(atPath: ck, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Data(#"{"architectures": ["FooModel"], "model_type": "foo"}"#.utf8).write(to: URL(fileURLWithPath: ck + "/config.json"))
        // 16 MiB of f32 to quantise: long enough (seconds in a debug build) to be interrupted while writing.
        var w = SafetensorsWriter()
        try w.add("w", float32: (0..<(2048 * 2048)).map { Float(($0 * 7919) % 1000) / 500 - 1 }, shape: [2048, 2048])
        try w.write(to: ck + "/model.safetensors")

        for sig in [SIGINT, SIGTERM, SIGXFSZ] {  // SIGXFSZ: a file-size limit (ulimit -f) reached
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = ["convert", ck, "-o", out + "/m.reel", "--generic", "--quant", "q4f", "--quiet", "--force"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Wait until the temporary file has bytes in it (the writer is under way), then signal.
            var started = false
            for _ in 0..<20_000 where p.isRunning {
                if let t = ((try? listDirectory(out)) ?? []).first(where: { $0.hasPrefix(".m.reel.tmp-") }),
                   ((try? fileSize(out + "/" + t)) ?? 0) > 0 { started = true; break }
                usleep(500)
            }
            guard started, p.isRunning else {
                p.waitUntilExit()
                throw XCTSkip("the conversion ended before it could be interrupted")
            }
            kill(p.processIdentifier, sig)
            for _ in 0..<600 where p.isRunning { usleep(100_000) }  // 60 s at most: a stuck handler fails, not hangs
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                return XCTFail("signal \(sig): reel convert did not exit within 60 s")
            }
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "signal \(sig)")
            XCTAssertEqual(p.terminationStatus, sig, "dies of the signal it got")
            XCTAssertEqual((try? listDirectory(out)) ?? ["?"], [], "signal \(sig): nothing left in the output directory")
        }
    }
}
