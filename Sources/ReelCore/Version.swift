#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reel's version, written into every file's provenance and printed by `reel --version`.
public enum ReelVersion {
    public static let string = "0.1.0"
}

/// The current UTC time as ISO-8601 ("2026-11-24T16:20:00Z").
public func isoTimestampUTC() -> String {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))T\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))Z"
}
