#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ReelCore

/// Log-mel features of one window (30 s unless the extractor's chunk length says otherwise).
public struct WhisperFeatures: Sendable, Equatable {
    public let melBins: Int
    /// `nb_max_frames`: chunk_length · 100 (3000 for 30 s, 200 for Reel AV's 2 s).
    public let frames: Int
    /// f32 [melBins, frames], row-major (as HF's `input_features[0]`).
    public var values: [Float]
    /// Frames backed by audio: ceil(samples / 160), at most `frames` (HF's `attention_mask.sum()`).
    public let validFrames: Int
}

/// How the 400-point spectra are computed. Both give the same features (the spectra agree to ~1e-12 before the f32
/// rounding; measured identical on the fixtures); see docs/media.md for timings.
public enum SpectrumMethod: Sendable {
    /// Own mixed-radix FFT (4·4·5·5), two real frames per complex transform.
    case fft
    /// The DFT as one f64 GEMM through OpenBLAS: frames [3000, 400] · [cos | sin] [400, 402].
    case gemm
}

/// `WhisperFeatureExtractor` (transformers 5.24): 16 kHz mono audio → [melBins, 3000] log-mel (30 s windows;
/// `chunkLength` seconds give [melBins, chunkLength · 100], e.g. Reel AV's 2 s windows of 200 frames).
///
/// Mirrors `_np_extract_fbank_features` and `audio_utils.spectrogram` (ARCHSPEC §5), rounding where they round:
/// pad/truncate to `n_samples` (480000 for 30 s); frames in f64 (reflect padding 200, periodic Hann from
/// `np.hanning(401)[:-1]`, n_fft 400, hop 160); the spectrum stored as complex64 (each part rounded to f32); |X|² in
/// f64; last frame dropped; Slaney mel filters in f64; log10(max(mel, 1e-10)) in f64, rounded to f32; then
/// max(x, max − 8) and (x + 4)/4 in f32. This reproduces transformers' numpy path bit for bit on the fixtures.
/// `_torch_extract_fbank_features` (what transformers runs when torch is installed) computes the STFT in f32 with MKL,
/// whose rounding depends on the CPU code path MKL picks; see docs/media.md for how far apart the two paths are.
public struct WhisperFeatureExtractor: Sendable {
    public static let sampleRate = 16000
    public static let nFFT = 400
    public static let hop = 160
    /// The default 30 s window: `n_samples` and `nb_max_frames`.
    public static let chunkSamples = 480_000
    public static let frames = 3000
    static let bins = nFFT / 2 + 1   // 201

    public let melBins: Int
    /// `chunk_length`: seconds per window.
    public let chunkLength: Int
    /// `n_samples` = chunk_length · 16000: samples per window (padded or truncated to this).
    public let chunkSamples: Int
    /// `nb_max_frames` = n_samples / 160: mel frames per window.
    public let frames: Int
    public let method: SpectrumMethod
    /// f64 [melBins, 201], as transformers' `mel_filter_bank` returns them (the numpy path uses them unrounded)
    let filters: [Double]
    /// Nonzero bin range [lo, hi) of each filter: [melBins]
    let spans: [(Int, Int)]
    /// f64 [400] periodic Hann, numpy's formula: `np.hanning(401)[:-1]` = 0.5 + 0.5·cos(π·(2i − 400)/400)
    let window: [Double]
    let fft: FFT

    /// - Parameters:
    ///   - melBins: 80 (Whisper ≤ v2) or 128 (large-v3, Qwen2-Audio, Omni); any positive count is accepted.
    ///   - chunkLength: seconds per window (`chunk_length`; 30 for Whisper and Qwen2-Audio, 2 for Reel AV).
    ///   - method: FFT (default, faster) or GEMM.
    public init(melBins: Int = 80, chunkLength: Int = 30, method: SpectrumMethod = .fft) throws {
        guard Self.melBinRange.contains(melBins) else { throw MediaError.badArgument(detail: "melBins must be in \(Self.melBinRange), got \(melBins)") }
        guard Self.chunkSeconds.contains(chunkLength) else {
            throw MediaError.badArgument(detail: "chunkLength must be in \(Self.chunkSeconds) seconds, got \(chunkLength)")
        }
        self.melBins = melBins
        self.chunkLength = chunkLength
        self.chunkSamples = chunkLength * Self.sampleRate
        self.frames = chunkSamples / Self.hop
        self.method = method
        let filters = Self.melFilters(melBins: melBins)
        self.filters = filters
        self.spans = (0..<melBins).map { m in
            let row = filters[(m * Self.bins)..<((m + 1) * Self.bins)]
            guard let lo = row.firstIndex(where: { $0 != 0 }), let hi = row.lastIndex(where: { $0 != 0 }) else { return (0, 0) }
            return (lo - m * Self.bins, hi + 1 - m * Self.bins)
        }
        self.window = (0..<Self.nFFT).map { 0.5 + 0.5 * cos(Double.pi * Double(2 * $0 - Self.nFFT) / Double(Self.nFFT)) }
        self.fft = try FFT(n: Self.nFFT)
    }

    /// Mel bins (`feature_size`) and window seconds (`chunk_length`) Reel accepts.
    public static let melBinRange = 1...512, chunkSeconds = 1...3600

    /// Reads a `preprocessor_config.json` object (`feature_size`, `chunk_length`, and when present `n_samples` /
    /// `nb_max_frames`, which must agree with it; the other keys must have Whisper's values).
    public init(json: JSON, method: SpectrumMethod = .fft) throws {
        let expected: [(String, Int)] = [("sampling_rate", 16000), ("n_fft", 400), ("hop_length", 160)]
        for (key, value) in expected {
            if let v = json[key], !v.isNull, v.int != value {
                throw MediaError.badConfig(key: key, detail: "only \(value) is supported, got \(v.serialized())")
            }
        }
        var bins = 80                                    // feature_size (class default 80)
        if let v = json["feature_size"], !v.isNull {
            guard let n = v.int, Self.melBinRange.contains(n) else {
                throw MediaError.badConfig(key: "feature_size", detail: "expected an integer in \(Self.melBinRange), got \(v.serialized())")
            }
            bins = n
        }
        var chunk = 30                                   // chunk_length (class default 30)
        if let v = json["chunk_length"], !v.isNull {
            guard let n = v.int, Self.chunkSeconds.contains(n) else {
                throw MediaError.badConfig(key: "chunk_length", detail: "expected whole seconds in \(Self.chunkSeconds), got \(v.serialized())")
            }
            chunk = n
        }
        for (key, value) in [("n_samples", chunk * Self.sampleRate), ("nb_max_frames", chunk * Self.sampleRate / Self.hop)] {
            if let v = json[key], !v.isNull, v.int != value {
                throw MediaError.badConfig(key: key, detail: "chunk_length \(chunk) implies \(value), got \(v.serialized())")
            }
        }
        try self.init(melBins: bins, chunkLength: chunk, method: method)
    }

    /// Features of the first window of `samples` (zero-padded when shorter), as HF computes them.
    public func features(_ samples: [Float]) -> WhisperFeatures {
        samples.withUnsafeBufferPointer { features($0) }
    }

    /// Features of each consecutive window of `samples` (the last one zero-padded); none for no samples.
    public func windows(_ samples: [Float]) -> [WhisperFeatures] {
        samples.withUnsafeBufferPointer { all in
            stride(from: 0, to: all.count, by: chunkSamples).map { start in
                let end = min(start + chunkSamples, all.count)
                return features(UnsafeBufferPointer(rebasing: all[start..<end]))
            }
        }
    }

    /// Features of the first window of `samples`.
    public func features(_ samples: UnsafeBufferPointer<Float>) -> WhisperFeatures {
        let n = min(samples.count, chunkSamples)
        let frames = self.frames, bins = Self.bins
        // 1. Power spectra: f64 [frames, 201]
        var power = [Double](repeating: 0, count: frames * bins)
        power.withUnsafeMutableBufferPointer { p in
            let framer = Framer(samples: samples, count: n, length: chunkSamples, window: window)
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
        // 3. log10 with the 1e-10 clamp in f64, rounded to f32 (`spectrogram`'s astype); the max − 8 floor over the
        //    whole window and (x + 4)/4 in f32, as `_np_extract_fbank_features` does them on the f32 array. Values
        //    clearly below the floor (most of a short clip's zero padding) skip the logarithm: c < 0.999·10^floor
        //    gives log10(c) < floor, so its f32 rounding is ≤ floor too.
        let floorLog: Float = Float(log10(max(top, 1e-10))) - 8
        let skipBelow = pow(10, Double(floorLog)) * 0.999
        let floorValue: Float = (floorLog + 4) / 4
        let values = mel.map { v -> Float in
            let c = max(v, 1e-10)
            return c < skipBelow ? floorValue : (max(Float(log10(c)), floorLog) + 4) / 4
        }
        let valid = (n + Self.hop - 1) / Self.hop
        return WhisperFeatures(melBins: melBins, frames: frames, values: values, validFrames: min(valid, frames))
    }

    /// Windowed STFT frames of the reflect-padded, zero-padded window.
    struct Framer {
        let samples: UnsafeBufferPointer<Float>
        let count: Int   // samples used (≤ length); the rest of the window is zeros
        let length: Int  // n_samples of the window (480000 for 30 s)
        let window: [Double]

        /// Sample `i` of the `length`-sample signal after reflect padding by 200 (i in −200 ..< length + 200).
        @inline(__always) func sample(_ i: Int) -> Double {
            let len = length
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
        while t < frames {
            let pair = t + 1 < frames
            framer.frame(t, into: a)
            if pair { framer.frame(t + 1, into: b) } else { b.update(repeating: 0, count: n) }
            re.update(from: a, count: n)
            im.update(from: b, count: n)
            fft.forward(re: re, im: im, scratchRe: sr, scratchIm: si)
            let pa = power + t * bins, pb = power + (t + 1) * bins
            for k in 0..<bins {
                let nk = k == 0 ? 0 : n - k
                let xr = re[k] + re[nk], xi = im[k] - im[nk]     // 2·A[k]
                pa[k] = Self.complex64Power(xr * 0.5, xi * 0.5)
                if pair {
                    let yr = im[k] + im[nk], yi = re[k] - re[nk]  // B[k] = (yr − i·yi)/2 (rounding is sign-symmetric)
                    pb[k] = Self.complex64Power(yr * 0.5, yi * 0.5)
                }
            }
            t += 2
        }
    }

    /// |X|² of one bin as `spectrogram` computes it: the spectrum is stored as complex64 (each part rounded to f32),
    /// then squared in f64 (numpy's `abs(x)**2` is hypot(r, i)², r² + i² here: the two differ by at most an f64 ulp or
    /// two, far below the f32 rounding of the log that follows).
    @inline(__always) static func complex64Power(_ re: Double, _ im: Double) -> Double {
        let r = Double(Float(re)), i = Double(Float(im))
        return r * r + i * i
    }

    /// The DFT as a GEMM: frames [frames, 400] · basis [400, 402] (cos columns, then −sin columns).
    private func powerGEMM(_ framer: Framer, into power: UnsafeMutablePointer<Double>) {
        let n = Self.nFFT, bins = Self.bins, frames = self.frames
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
                power[t * bins + k] = Self.complex64Power(y[t * 2 * bins + k], y[t * 2 * bins + bins + k])
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
