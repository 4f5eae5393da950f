import CBLAS
import CKernels

/// Which OpenBLAS kernels run, and the fix for CPUs newer than the installed OpenBLAS.
///
/// OpenBLAS picks its kernel set (the "core type") once, when the library loads. OpenBLAS 0.3.21 (Debian 12)
/// predates Zen 4 and falls back to its generic Prescott (SSE3) kernels there, several times slower for sgemm than
/// its AVX-512 ones. The `reel` command therefore asks for a core type that matches the instructions the CPU has
/// (through `OPENBLAS_CORETYPE`, before OpenBLAS loads) whenever OpenBLAS's own choice was a generic one.
public enum BLASSetup {
    /// The kernel set OpenBLAS is using ("Prescott", "Haswell", "SkylakeX", "Zen", …).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// A better core type than the one in use, or nil when OpenBLAS's choice is already specific.
    public static func betterCoreType() -> String? {
        let generic = ["prescott", "core2", "katmai", "coppermine", "northwood", "banias", "atom", "nano", "unknown"]
        guard generic.contains(coreName.lowercased()) else { return nil }
        switch reel_isa_detect() {
        case Int32(REEL_ISA_AVX512), Int32(REEL_ISA_AVX512VNNI): return "SkylakeX"
        case Int32(REEL_ISA_AVX2): return "Haswell"
        default: return nil
        }
    }
}
