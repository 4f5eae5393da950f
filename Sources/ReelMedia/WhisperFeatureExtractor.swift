#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ReelCore

/// Log-mel features of one 30 s window.
public struct WhisperFeatures: Sendable, Equatable {
    public let melBins: Int
    /// Always 3000 (30 s at hop 160).
    public let frames: Int
    /// f32 [melBins, frames], row-major (as HF's `input_features[0]`).
    public var values: [Float]
    /// Frames backed by audio: ceil(samples / 160), at most 3000 (HF's `attention_mask.sum()`).
    public let validFrames: Int
}

/// How the 400-point spectra are computed. Both give the same features to ~1e-12; see docs/media.md for timings.
public enum SpectrumMethod: Sendable {
    /// Own mixed-radix FFT (4·4·5·5), two real frames per complex transform.
    case fft
    /// The DFT as one f64 GEMM through OpenBLAS: frames [3000, 400] · [cos | sin] [400, 402].
    case gemm
}

/// `WhisperFeatureExtractor` (transformers 5.24) in f64: 16 kHz mono audio → [melBins, 3000] log-mel.
///
/// Mirrors `_torch_extract_fbank_features` (ARCHSPEC §5): pad/truncate to 480000 samples; STFT with n_fft 400,
/// hop 160, periodic Hann, reflect padding 200 (center=True); |X|², last frame dropped; Slaney mel filters
/// (built in f64, rounded to f32 as HF uses them); log10(max(mel, 1e-10)); max(x, max − 8); (x + 4)/4.
/// Computing in f64 keeps Reel near the exact value; HF's own f32 STFT is the larger error (docs/media.md).
public struct WhisperFeatureExtractor: Sendable {
    public static let sampleRate = 16000
    public static let nFFT = 400
    public static let hop = 160
    public static let chunkSamples = 480_000
    public static let frames = 3000
    static let bins = nFFT / 2 + 1   // 201

    public let melBins: Int
    public let method: SpectrumMethod
    /// f64 [melBins, 201] (values are f32-representable)
    let filters: [Double]
    /// Nonzero bin range [lo, hi) of each filter: [melBins]
    let spans: [(Int, Int)]
    /// f64 [400] periodic Hann
    let window: [Double]
    let fft: FFT

    /// - Parameters:
    ///   - melBins: 80 (Whisper ≤ v2) or 128 (large-v3, Qwen2-Audio, Omni); any positive count is accepted.
    ///   - method: FFT (default, faster) or GEMM.
    public init(melBins: Int = 80, method: SpectrumMethod = .fft) throws {
        guard melBins > 0, melBins <= 512 else { throw MediaError.badArgument(detail: "melBins must be in 1...512, got \(melBins)") }
        self.melBins = melBins
        self.method = method
        let filters = Self.melFilters(melBins: melBins).map { Double(Float($0)) }
        self.filters = filters
        self.spans = (0..<melBins).map { m in
            let row = filters[(m * Self.bins)..<((m + 1) * Self.bins)]
            guard let lo = row.firstIndex(where: { $0 != 0 }), let hi = row.lastIndex(where: { $0 != 0 }) else { return (0, 0) }
            return (lo - m * Self.bins, hi + 1 - m * Self.bins)
        }
        self.window = (0..<Self.nFFT).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(Self.nFFT)) }
        self.fft = try FFT(n: Self.nFFT)
    }

    /// Reads a `preprocessor_config.json` object (`feature_size`; the other keys must have Whisper's values).
    public init(json: JSON, method: SpectrumMethod = .fft) throws {
        let expected: [(String, Int)] = [("sampling_rate", 16000), ("n_fft", 400), ("hop_length", 160), ("chunk_length", 30)]
        for (key, value) in expected {
            if let v = json[key], !v.isNull, v.int != value {
                throw MediaError.badConfig(key: key, detail: "only \(value) is supported, got \(v.serialized())")
            }
        }
        var bins = 80                                    // feature_size (class default 80)
        if let v = json["feature_size"], !v.isNull {
            guard let n = v.int else { throw MediaError.badConfig(key: "feature_size", detail: "expected an integer") }
            bins = n
        }
        try self.init(melBins: bins, method: method)
    }

    /// Features of the first 30 s of `samples` (zero-padded when shorter), as HF computes them.
    public func features(_ samples: [Float]) -> WhisperFeatures {
        samples.withUnsafeBufferPointer { features($0) }
    }

    /// Features of each consecutive 30 s window of `samples` (the last one zero-padded); none for no samples.
    public func windows(_ samples: [Float]) -> [WhisperFeatures] {
        samples.withUnsafeBufferPointer { all in
            stride(from: 0, to: all.count, by: Self.chunkSamples).map { start in
                let end = min(start + Self.chunkSamples, all.count)
                return features(UnsafeBufferPointer(rebasing: all[start..<end]))
            }
        }
    }

    /// Features of the first 30 s of `samples`.
    public func features(_ samples: UnsafeBufferPointer<Float>) -> WhisperFeatures {
        let n = min(samples.count, Self.chunkSamples)
        let frames = Self.frames, bins = Self.bins
        // 1. Power spectra: f64 [3000, 201]
        var power = [Double](repeating: 0, count: frames * bins)
        power.withUnsafeMutableBufferPointer { p in
            let framer = Framer(samples: samples, count: n, window: window)
            switch method {
            case .fft: powerFFT(framer, into: p.baseAddress!)
            case .gemm: powerGEMM(framer, into: p.baseAddress!)
            }
        }
        // 2. mel = filters · powerᵀ: f64 [melBins, 3000]. Each triangle covers a few bins, so only its nonzero span
        //    is summed (≈ 2·201 products per frame instead of melBins·201).
        var mel = [Double](repeating: 0, count: melBins * frames)
        var top = 0.0
        power.withUnsafeBufferPointer { p in
            filters.withUnsafeBufferPointer { f in
                mel.withUnsafeMutableBufferPointer { m in
                    for b in 0..<melBins {
                        let (lo, hi) = spans[b]
                        let w = f.baseAddress! + b * bins
                        let row = m.baseAddress! + b * frames
                        for t in 0..<frames {
                            let pt = p.baseAddress! + t * bins
                            var acc = 0.0
                            for k in lo..<hi { acc += w[k] * pt[k] }
                            row[t] = acc
                            top = max(top, acc)
                        }
                    }
                }
            }
        }
        // 3. log10 with the 1e-10 clamp, the max − 8 floor over the whole window, then (x + 4)/4. Values clearly
        //    below the floor (most of a short clip's zero padding) skip the logarithm.
        let floorLog = log10(max(top, 1e-10)) - 8
        let skipBelow = pow(10, floorLog) * 0.999
        let floorValue = Float((floorLog + 4) / 4)
        let values = mel.map { v -> Float in
            let c = max(v, 1e-10)
            return c < skipBelow ? floorValue : Float((max(log10(c), floorLog) + 4) / 4)
        }
        let valid = (n + Self.hop - 1) / Self.hop
        return WhisperFeatures(melBins: melBins, frames: frames, values: values, validFrames: min(valid, frames))
    }

    /// Windowed STFT frames of the reflect-padded, zero-padded 30 s signal.
    struct Framer {
        let samples: UnsafeBufferPointer<Float>
        let count: Int   // samples used (≤ 480000); the rest of the window is zeros
        let window: [Double]

        /// Sample `i` of the 480000-sample signal after reflect padding by 200 (i in −200 ..< 480200).
        @inline(__always) func sample(_ i: Int) -> Double {
            let len = WhisperFeatureExtractor.chunkSamples
            var j = i
            if j < 0 { j = -j } else if j >= len { j = 2 * (len - 1) - j }
            return j < count ? Double(samples[j]) : 0
        }

        /// Writes frame `t` (window applied) into `out[0..<400]`.
        @inline(__always) func frame(_ t: Int, into out: UnsafeMutablePointer<Double>) {
            let start = t * WhisperFeatureExtractor.hop - WhisperFeatureExtractor.nFFT / 2
            if start >= 0, start + WhisperFeatureExtractor.nFFT <= count {
                for k in 0..<WhisperFeatureExtractor.nFFT { out[k] = Double(samples[start + k]) * window[k] }
            } else {
                for k in 0..<WhisperFeatureExtractor.nFFT { out[k] = sample(start + k) * window[k] }
            }
        }
    }

    /// Two real frames per complex FFT: z = a + i·b, A[k] = (Z[k] + conj Z[n−k])/2, B[k] = (Z[k] − conj Z[n−k])/2i.
    private func powerFFT(_ framer: Framer, into power: UnsafeMutablePointer<Double>) {
        let n = Self.nFFT, bins = Self.bins
        let buf = UnsafeMutablePointer<Double>.allocate(capacity: 6 * n)
        defer { buf.deallocate() }
        let re = buf, im = buf + n, sr = buf + 2 * n, si = buf + 3 * n
        let a = buf + 4 * n, b = buf + 5 * n
        var t = 0
        while t < Self.frames {
            let pair = t + 1 < Self.frames
            framer.frame(t, into: a)
            if pair { framer.frame(t + 1, into: b) } else { b.update(repeating: 0, count: n) }
            re.update(from: a, count: n)
            im.update(from: b, count: n)
            fft.forward(re: re, im: im, scratchRe: sr, scratchIm: si)
            let pa = power + t * bins, pb = power + (t + 1) * bins
            for k in 0..<bins {
                let nk = k == 0 ? 0 : n - k
                let xr = re[k] + re[nk], xi = im[k] - im[nk]     // 2·A[k]
                pa[k] = (xr * xr + xi * xi) * 0.25
                if pair {
                    let yr = im[k] + im[nk], yi = re[k] - re[nk]  // 2·B[k] up to a unit factor
                    pb[k] = (yr * yr + yi * yi) * 0.25
                }
            }
            t += 2
        }
    }

    /// The DFT as a GEMM: frames [3000, 400] · basis [400, 402] (cos columns, then −sin columns).
    private func powerGEMM(_ framer: Framer, into power: UnsafeMutablePointer<Double>) {
        let n = Self.nFFT, bins = Self.bins, frames = Self.frames
        let x = UnsafeMutablePointer<Double>.allocate(capacity: frames * n)
        let basis = UnsafeMutablePointer<Double>.allocate(capacity: n * 2 * bins)
        let y = UnsafeMutablePointer<Double>.allocate(capacity: frames * 2 * bins)
        defer { x.deallocate(); basis.deallocate(); y.deallocate() }
        for t in 0..<frames { framer.frame(t, into: x + t * n) }
        for i in 0..<n {
            for k in 0..<bins {
                let angle = 2 * Double.pi * Double((i * k) % n) / Double(n)
                basis[i * 2 * bins + k] = cos(angle)
                basis[i * 2 * bins + bins + k] = -sin(angle)
            }
        }
        BLAS.dgemm(m: frames, n: 2 * bins, k: n, a: x, b: basis, transB: false, c: y)
        for t in 0..<frames {
            for k in 0..<bins {
                let r = y[t * 2 * bins + k], s = y[t * 2 * bins + bins + k]
                power[t * bins + k] = r * r + s * s
            }
        }
    }

    /// Slaney-scale, Slaney-normalised triangular filters, f64 [melBins, 201]; transformers' `mel_filter_bank(
    /// num_frequency_bins=201, num_mel_filters=melBins, min_frequency=0, max_frequency=8000, sampling_rate=16000,
    /// norm="slaney", mel_scale="slaney")`, transposed.
    public static func melFilters(melBins: Int) -> [Double] {
        func hzToMel(_ f: Double) -> Double { f >= 1000 ? 15 + log(f / 1000) * (27 / log(6.4)) : 3 * f / 200 }
        func melToHz(_ m: Double) -> Double { m >= 15 ? 1000 * exp((log(6.4) / 27) * (m - 15)) : 200 * m / 3 }
        // np.linspace(start, stop, num): start + i·step, last element exactly stop.
        func linspace(_ a: Double, _ b: Double, _ num: Int) -> [Double] {
            let step = (b - a) / Double(num - 1)
            return (0..<num).map { $0 == num - 1 ? b : a + Double($0) * step }
        }
        let melMin = hzToMel(0), melMax = hzToMel(8000)
        let centres = linspace(melMin, melMax, melBins + 2).map(melToHz)   // Hz [melBins + 2]
        let fftFreqs = linspace(0, 8000, bins)                             // Hz [201]
        var out = [Double](repeating: 0, count: melBins * bins)
        for m in 0..<melBins {
            let lower = centres[m], centre = centres[m + 1], upper = centres[m + 2]
            let enorm = 2 / (upper - lower)
            for k in 0..<bins {
                let f = fftFreqs[k]
                let down = -(lower - f) / (centre - lower)
                let up = (upper - f) / (upper - centre)
                out[m * bins + k] = max(0, min(down, up)) * enorm
            }
        }
        return out
    }
}
