import CKernels

/// The instruction-set path the C kernels run (`REEL_ISA=…` in the environment selects one at start-up).
public enum KernelISA: String, CaseIterable, Sendable {
    case scalar, avx2, avx512, avx512vnni, neon

    var code: Int32 {
        switch self {
        case .scalar: return Int32(REEL_ISA_SCALAR)
        case .avx2: return Int32(REEL_ISA_AVX2)
        case .avx512: return Int32(REEL_ISA_AVX512)
        case .avx512vnni: return Int32(REEL_ISA_AVX512VNNI)
        case .neon: return Int32(REEL_ISA_NEON)
        }
    }

    init?(code: Int32) {
        guard let isa = KernelISA.allCases.first(where: { $0.code == code }) else { return nil }
        self = isa
    }

    /// The path kernels use now.
    public static var active: KernelISA { KernelISA(code: reel_isa_active()) ?? .scalar }

    /// The best path this CPU supports.
    public static var detected: KernelISA { KernelISA(code: reel_isa_detect()) ?? .scalar }

    /// Every path this CPU can run, scalar first.
    public static var available: [KernelISA] { allCases.filter { reel_isa_supported($0.code) != 0 } }

    /// Makes every later kernel call use `isa`; not to be called while other threads run kernels.
    /// - Throws: `QuantError.unsupportedISA` (and changes nothing) if this CPU cannot run it.
    public static func force(_ isa: KernelISA) throws {
        guard reel_isa_force(isa.code) == Int32(REEL_OK) else { throw QuantError.unsupportedISA(isa) }
    }
}
