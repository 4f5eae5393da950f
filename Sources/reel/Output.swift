#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ReelCore

/// A failure that depends on the files or the model, not on how the flags were spelled: ArgumentParser prints it as
/// "Error: …" and exits 1, with no usage text after it (a `ValidationError` prints the usage and exits 64).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Writes a line to stderr (warnings, summaries that must not mix with streamed output).
func printErr(_ s: String) {
    fputs(s + "\n", stderr)
}

/// Pads `s` to `n` columns (left-aligned).
func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
}

/// Pads `s` to `n` columns (right-aligned).
func rpad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s : String(repeating: " ", count: n - s.count) + s
}

/// A number with a fixed count of decimals.
func fixed(_ x: Double, _ decimals: Int) -> String {
    var p = 1.0
    for _ in 0..<decimals { p *= 10 }
    let v = (x * p).rounded() / p
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
        if decimals == 0 { s = String(s[..<dot]) }
    } else if decimals > 0 { s += "." + String(repeating: "0", count: decimals) }
    return s
}

/// "1.2M", "494M", "7.6B" parameters.
func formatCount(_ n: Int) -> String {
    let x = Double(n)
    if x >= 1e9 { return fixed(x / 1e9, 2) + "B" }
    if x >= 1e6 { return fixed(x / 1e6, 1) + "M" }
    if x >= 1e3 { return fixed(x / 1e3, 1) + "K" }
    return "\(n)"
}
