import Foundation
import ReelCore
import ReelSafetensors
import XCTest

/// Fixture and scratch-file helpers shared by the ReelSafetensors tests.
enum Fixture {
    static var directory: String {
        // Bundle.module is only generated for targets with resources; this one copies Fixtures.
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path
    }
    static func path(_ name: String) -> String { directory + "/" + name }

    /// expected.json, written by tools/make_safetensors_fixtures.py.
    static func expected() throws -> JSON { try JSON.parse(readWholeFile(path("expected.json")), source: "expected.json") }
}

/// A fresh scratch directory, removed when the test case ends.
func scratchDirectory(_ test: XCTestCase) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-st-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw NSError(domain: "write", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot write \(path)"])
    }
}

/// A safetensors file from header text and data, with the size field `sizeField` (default: the true length).
func crafted(_ header: String, data: [UInt8] = [], sizeField: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    let n = sizeField ?? UInt64(h.count)
    return withUnsafeBytes(of: n.littleEndian) { Array($0) } + h + data
}

/// The SafetensorsError thrown by `body`, or nil (failing the test) if it threw something else or nothing.
func thrownError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> SafetensorsError? {
    do {
        _ = try body()
        XCTFail("expected a SafetensorsError, got success", file: file, line: line)
    } catch let e as SafetensorsError {
        return e
    } catch {
        XCTFail("expected a SafetensorsError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Expected f32 from expected.json: numbers, or "nan" / "inf" / "-inf".
func expectedFloat(_ v: JSON) -> Float? {
    switch v.string {
    case "nan": return .nan
    case "inf": return .infinity
    case "-inf": return -.infinity
    default: return v.double.map { Float($0) }
    }
}

/// Bitwise equality, except that any NaN matches any NaN.
func sameFloat(_ a: Float, _ b: Float) -> Bool { (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern }
