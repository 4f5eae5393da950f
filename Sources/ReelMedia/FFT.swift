#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mixed-radix complex FFT in f64 (Stockham autosort: no bit reversal, natural order in and out).
///
/// Radices 4, 2, 3 and 5 have hand-written butterflies; any other prime factor uses a plain DFT butterfly.
/// Whisper's n = 400 = 4·4·5·5. Forward transform, no scaling: X[k] = Σ x[t]·e^(−2πi·kt/n).
public struct FFT: Sendable {
    public let n: Int
    /// Radix of each stage, in order.
    let radices: [Int]
    /// Per stage: f64 [Ns, p] twiddles e^(−2πi·r·k/(Ns·p)) as separate re/im, k < Ns, r < p.
    let twRe: [[Double]]
    let twIm: [[Double]]

    /// Plans a transform of length `n` (≥ 1).
    public init(n: Int) throws {
        guard n >= 1 else { throw MediaError.badArgument(detail: "FFT length must be ≥ 1, got \(n)") }
        self.n = n
        var radices: [Int] = []
        var m = n
        while m % 4 == 0 { radices.append(4); m /= 4 }
        for p in [2, 3, 5] { while m % p == 0 { radices.append(p); m /= p } }
        var f = 7
        while m > 1 {
            while m % f == 0 { radices.append(f); m /= f }
            f += 2
        }
        self.radices = radices
        var twRe: [[Double]] = [], twIm: [[Double]] = []
        var ns = 1
        for p in radices {
            var re = [Double](repeating: 1, count: ns * p), im = [Double](repeating: 0, count: ns * p)
            for k in 0..<ns {
                for r in 0..<p {
                    let angle = -2 * Double.pi * Double(r * k) / Double(ns * p)
                    re[k * p + r] = cos(angle)
                    im[k * p + r] = sin(angle)
                }
            }
            twRe.append(re)
            twIm.append(im)
            ns *= p
        }
        self.twRe = twRe
        self.twIm = twIm
    }

    /// Transforms (re, im) in place; `scratchRe`/`scratchIm` hold at least n values.
    public func forward(re: UnsafeMutablePointer<Double>, im: UnsafeMutablePointer<Double>,
                        scratchRe: UnsafeMutablePointer<Double>, scratchIm: UnsafeMutablePointer<Double>) {
        var xr = re, xi = im, yr = scratchRe, yi = scratchIm
        var ns = 1
        for (stage, p) in radices.enumerated() {
            let m = n / p
            twRe[stage].withUnsafeBufferPointer { tr in
                twIm[stage].withUnsafeBufferPointer { ti in
                    switch p {
                    case 4: Self.radix4(xr, xi, yr, yi, m: m, ns: ns, tr: tr.baseAddress!, ti: ti.baseAddress!)
                    case 5: Self.radix5(xr, xi, yr, yi, m: m, ns: ns, tr: tr.baseAddress!, ti: ti.baseAddress!)
                    default: Self.radixGeneric(p, xr, xi, yr, yi, m: m, ns: ns, tr: tr.baseAddress!, ti: ti.baseAddress!)
                    }
                }
            }
            swap(&xr, &yr)
            swap(&xi, &yi)
            ns *= p
        }
        if xr != re {
            re.update(from: xr, count: n)
            im.update(from: xi, count: n)
        }
    }

    private static func radix4(_ xr: UnsafeMutablePointer<Double>, _ xi: UnsafeMutablePointer<Double>,
                               _ yr: UnsafeMutablePointer<Double>, _ yi: UnsafeMutablePointer<Double>,
                               m: Int, ns: Int, tr: UnsafePointer<Double>, ti: UnsafePointer<Double>) {
        for j in 0..<m {
            let k = j % ns
            let t = k * 4
            let a0r = xr[j], a0i = xi[j]
            let b1r = xr[j + m], b1i = xi[j + m]
            let b2r = xr[j + 2 * m], b2i = xi[j + 2 * m]
            let b3r = xr[j + 3 * m], b3i = xi[j + 3 * m]
            let a1r = b1r * tr[t + 1] - b1i * ti[t + 1], a1i = b1r * ti[t + 1] + b1i * tr[t + 1]
            let a2r = b2r * tr[t + 2] - b2i * ti[t + 2], a2i = b2r * ti[t + 2] + b2i * tr[t + 2]
            let a3r = b3r * tr[t + 3] - b3i * ti[t + 3], a3i = b3r * ti[t + 3] + b3i * tr[t + 3]
            let s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i
            let s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i
            let o = (j / ns) * ns * 4 + k
            yr[o] = s02r + s13r; yi[o] = s02i + s13i
            yr[o + ns] = d02r + d13i; yi[o + ns] = d02i - d13r           // d02 − i·d13
            yr[o + 2 * ns] = s02r - s13r; yi[o + 2 * ns] = s02i - s13i
            yr[o + 3 * ns] = d02r - d13i; yi[o + 3 * ns] = d02i + d13r   // d02 + i·d13
        }
    }

    private static let c1 = cos(2 * Double.pi / 5), c2 = cos(4 * Double.pi / 5)
    private static let s1 = sin(2 * Double.pi / 5), s2 = sin(4 * Double.pi / 5)

    private static func radix5(_ xr: UnsafeMutablePointer<Double>, _ xi: UnsafeMutablePointer<Double>,
                               _ yr: UnsafeMutablePointer<Double>, _ yi: UnsafeMutablePointer<Double>,
                               m: Int, ns: Int, tr: UnsafePointer<Double>, ti: UnsafePointer<Double>) {
        let c1 = Self.c1, c2 = Self.c2, s1 = Self.s1, s2 = Self.s2
        for j in 0..<m {
            let k = j % ns
            let t = k * 5
            var ar = (xr[j], 0.0, 0.0, 0.0, 0.0), ai = (xi[j], 0.0, 0.0, 0.0, 0.0)
            @inline(__always) func tw(_ r: Int) -> (Double, Double) {
                let br = xr[j + r * m], bi = xi[j + r * m]
                return (br * tr[t + r] - bi * ti[t + r], br * ti[t + r] + bi * tr[t + r])
            }
            (ar.1, ai.1) = tw(1); (ar.2, ai.2) = tw(2); (ar.3, ai.3) = tw(3); (ar.4, ai.4) = tw(4)
            let t1r = ar.1 + ar.4, t1i = ai.1 + ai.4, t3r = ar.1 - ar.4, t3i = ai.1 - ai.4
            let t2r = ar.2 + ar.3, t2i = ai.2 + ai.3, t4r = ar.2 - ar.3, t4i = ai.2 - ai.3
            let b1r = ar.0 + c1 * t1r + c2 * t2r, b1i = ai.0 + c1 * t1i + c2 * t2i
            let b2r = ar.0 + c2 * t1r + c1 * t2r, b2i = ai.0 + c2 * t1i + c1 * t2i
            let e1r = s1 * t3r + s2 * t4r, e1i = s1 * t3i + s2 * t4i   // y1 = b1 − i·e1, y4 = b1 + i·e1
            let e2r = s2 * t3r - s1 * t4r, e2i = s2 * t3i - s1 * t4i   // y2 = b2 − i·e2, y3 = b2 + i·e2
            let o = (j / ns) * ns * 5 + k
            yr[o] = ar.0 + t1r + t2r; yi[o] = ai.0 + t1i + t2i
            yr[o + ns] = b1r + e1i; yi[o + ns] = b1i - e1r
            yr[o + 2 * ns] = b2r + e2i; yi[o + 2 * ns] = b2i - e2r
            yr[o + 3 * ns] = b2r - e2i; yi[o + 3 * ns] = b2i + e2r
            yr[o + 4 * ns] = b1r - e1i; yi[o + 4 * ns] = b1i + e1r
        }
    }

    private static func radixGeneric(_ p: Int, _ xr: UnsafeMutablePointer<Double>, _ xi: UnsafeMutablePointer<Double>,
                                     _ yr: UnsafeMutablePointer<Double>, _ yi: UnsafeMutablePointer<Double>,
                                     m: Int, ns: Int, tr: UnsafePointer<Double>, ti: UnsafePointer<Double>) {
        var vr = [Double](repeating: 0, count: p), vi = [Double](repeating: 0, count: p)
        var wr = [Double](repeating: 0, count: p), wi = [Double](repeating: 0, count: p)
        for q in 0..<p { wr[q] = cos(-2 * Double.pi * Double(q) / Double(p)); wi[q] = sin(-2 * Double.pi * Double(q) / Double(p)) }
        for j in 0..<m {
            let k = j % ns
            for r in 0..<p {
                let br = xr[j + r * m], bi = xi[j + r * m]
                let c = tr[k * p + r], s = ti[k * p + r]
                vr[r] = br * c - bi * s
                vi[r] = br * s + bi * c
            }
            let o = (j / ns) * ns * p + k
            for q in 0..<p {
                var sr = 0.0, si = 0.0
                for r in 0..<p {
                    let e = (q * r) % p
                    sr += vr[r] * wr[e] - vi[r] * wi[e]
                    si += vr[r] * wi[e] + vi[r] * wr[e]
                }
                yr[o + q * ns] = sr
                yi[o + q * ns] = si
            }
        }
    }
}
