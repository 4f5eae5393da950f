#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BrokenDownTime {
    /// The local time now, as Python's `datetime.now()` gives it.
    public static func localNow() -> BrokenDownTime {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return BrokenDownTime(year: Int(tmv.tm_year) + 1900, month: Int(tmv.tm_mon) + 1, day: Int(tmv.tm_mday),
                              hour: Int(tmv.tm_hour), minute: Int(tmv.tm_min), second: Int(tmv.tm_sec),
                              weekday: Int(tmv.tm_wday))
    }
}

private let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                          "October", "November", "December"]
private let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

/// Python's `strftime` in the C locale, for the directives chat templates use; others are copied through.
func strftime(_ format: String, _ t: BrokenDownTime) -> String {
    func pad(_ v: Int, _ w: Int = 2) -> String {
        let s = String(v)
        return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
    }
    var out = ""
    var it = format.makeIterator()
    while let c = it.next() {
        guard c == "%", let d = it.next() else { out.append(c); continue }
        let month = monthNames[max(0, min(11, t.month - 1))]
        let day = dayNames[max(0, min(6, t.weekday))]
        switch d {
        case "d": out += pad(t.day)
        case "e": out += t.day < 10 ? " \(t.day)" : "\(t.day)"
        case "m": out += pad(t.month)
        case "Y": out += String(t.year)
        case "y": out += pad(t.year % 100)
        case "b", "h": out += String(month.prefix(3))
        case "B": out += month
        case "a": out += String(day.prefix(3))
        case "A": out += day
        case "H": out += pad(t.hour)
        case "I": out += pad(t.hour % 12 == 0 ? 12 : t.hour % 12)
        case "M": out += pad(t.minute)
        case "S": out += pad(t.second)
        case "p": out += t.hour < 12 ? "AM" : "PM"
        case "%": out += "%"
        default: out.append("%"); out.append(d)
        }
    }
    return out
}
