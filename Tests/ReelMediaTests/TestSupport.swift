import Foundation
import ReelCore
import ReelMedia
import XCTest

/// The committed fixtures (tools/make_media_fixtures.py) and helpers shared by the media tests.
enum Fixtures {
    static let dir: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let reference: JSON = {
        let data = (try? Data(contentsOf: dir.appendingPathComponent("reference.json"))) ?? Data()
        return (try? JSON.parse([UInt8](data), source: "reference.json")) ?? .null
    }()

    /// A stored array: raw little-endian bytes and its shape.
    static func bytes(_ name: String) throws -> (bytes: [UInt8], shape: [Int]) {
        let entry = try XCTUnwrap(reference["arrays"]?[name], "reference.json has no array \(name)")
        let file = try XCTUnwrap(entry["file"]?.string)
        let shape = (entry["shape"]?.array ?? []).compactMap { $0.int }
        let data = try Data(contentsOf: dir.appendingPathComponent(file))
        return ([UInt8](data), shape)
    }

    static func floats(_ name: String) throws -> (values: [Float], shape: [Int]) {
        let (b, shape) = try bytes(name)
        XCTAssertEqual(b.count, shape.reduce(4, *), "\(name): size")
        let values = b.withUnsafeBytes { raw in (0..<(b.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        return (values, shape)
    }

    /// ffmpeg and ffprobe, or an XCTSkip saying plainly that the test did not run.
    static func tools() throws -> MediaTools {
        do {
            return try MediaTools.locate()
        } catch {
            throw XCTSkip("SKIPPED: ffmpeg/ffprobe not found, so this media test did not run (\(error))")
        }
    }
}

/// Max-abs / relative error report between two arrays; `limit(i)` is the bound at element i.
struct Comparison: CustomStringConvertible {
    var maxAbs: Float = 0
    var maxAbsAt = 0
    var worstRatio: Float = 0   // max |Δ| / bound
    var worstAt = 0
    var referenceMagnitude: Float = 0
    var count = 0

    init(_ got: [Float], _ want: [Float], limit: (Int) -> Float) {
        count = min(got.count, want.count)
        for i in 0..<count {
            let d = abs(got[i] - want[i])
            if d > maxAbs || d.isNaN { maxAbs = d; maxAbsAt = i }
            let r = d / limit(i)
            if r > worstRatio || r.isNaN { worstRatio = r; worstAt = i }
            referenceMagnitude = max(referenceMagnitude, abs(want[i]))
        }
    }

    var passes: Bool { worstRatio <= 1 }
    var description: String {
        "max-abs \(maxAbs) at \(maxAbsAt), relative \(maxAbs / max(referenceMagnitude, 1e-30)), "
            + "worst |Δ|/bound \(worstRatio) at \(worstAt) of \(count)"
    }
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows(_ expected: MediaError, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected \(expected), nothing thrown", file: file, line: line)
    } catch let e as MediaError {
        XCTAssertEqual(e, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}
