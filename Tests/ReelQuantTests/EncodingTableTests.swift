import CKernels
import ReelQuant
import XCTest

/// The encoding table (formats/REEL.md §3) and ISA selection.
final class EncodingTableTests: XCTestCase {
    func testBitsPerWeight() {
        XCTAssertLessThanOrEqual(Encoding.q8.bitsPerWeight, 8.5)
        XCTAssertLessThanOrEqual(Encoding.q4.bitsPerWeight, 4.5)
        XCTAssertEqual(Encoding.q4f.bitsPerWeight, 5.0)
    }

    func testSwiftAndCRowBytesAgree() {
        XCTAssertEqual(Int(REEL_Q8_BYTES), Encoding.q8.bytesPerBlock)
        XCTAssertEqual(Int(REEL_Q4_BYTES), Encoding.q4.bytesPerBlock)
        XCTAssertEqual(Int(REEL_Q4F_BYTES), Encoding.q4f.bytesPerBlock)
        for enc in Encoding.allCases {
            for k in oddSizes { XCTAssertEqual(reel_row_bytes(enc.kernelCode, Int64(k)), enc.rowBytes(k)!, "\(enc) k=\(k)") }
            XCTAssertEqual(reel_row_bytes(enc.kernelCode, 0), 0)
        }
        XCTAssertEqual(reel_row_bytes(99, 32), 0)
    }

    func testISASelection() throws {
        let saved = KernelISA.active
        defer { try? KernelISA.force(saved) }
        XCTAssertEqual(KernelISA.available.first, .scalar)
        XCTAssert(KernelISA.available.contains(KernelISA.detected))
        print("kernel ISAs available: \(KernelISA.available.map(\.rawValue)), detected \(KernelISA.detected), active \(saved)")
        for isa in KernelISA.allCases {
            XCTAssertEqual(String(cString: reel_isa_name(isa.kernelCodeForTest)), isa.rawValue)
            XCTAssertEqual(reel_isa_from_name(isa.rawValue), isa.kernelCodeForTest)
            if KernelISA.available.contains(isa) {
                try KernelISA.force(isa)
                XCTAssertEqual(KernelISA.active, isa)
            } else {
                let before = KernelISA.active
                XCTAssertThrowsError(try KernelISA.force(isa)) { XCTAssertEqual($0 as? QuantError, .unsupportedISA(isa)) }
                XCTAssertEqual(reel_isa_force(isa.kernelCodeForTest), Int32(REEL_ERR_UNSUPPORTED_ISA))
                XCTAssertEqual(KernelISA.active, before, "a refused force must not change the path")
            }
        }
        XCTAssertEqual(reel_isa_force(42), Int32(REEL_ERR_BAD_ARGUMENT))
        XCTAssertEqual(reel_isa_from_name("sse9"), Int32(REEL_ERR_BAD_ARGUMENT))
    }
}

extension KernelISA {
    /// The C number, for calling the C API directly (ISA numbers are the order of `allCases`).
    var kernelCodeForTest: Int32 { Int32(KernelISA.allCases.firstIndex(of: self)!) }
}
