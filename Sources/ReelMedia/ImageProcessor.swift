import ReelCore

/// Output size rule of a processor's `size` key.
public enum ProcessorSize: Sendable, Equatable {
    /// `{"height": h, "width": w}`: exactly h×w, aspect not kept (LLaVA-OneVision video: 384×384).
    case exact(height: Int, width: Int)
    /// `{"shortest_edge": s}` (or a bare int, as video processors read it): short side s, long side
    /// `Int(s · long / short)` (CLIP / LLaVA-NeXT-Video, before the centre crop).
    case shortestEdge(Int)
    /// `{"shortest_edge": s, "longest_edge": l}`: transformers' `get_size_with_aspect_ratio`.
    case shortestLongest(shortest: Int, longest: Int)

    /// The (height, width) an image of `height`×`width` is resized to.
    public func output(height: Int, width: Int) -> (height: Int, width: Int) {
        switch self {
        case let .exact(h, w):
            return (h, w)
        case let .shortestEdge(s):
            // transformers' get_resize_output_image_size(default_to_square=False): int(s * long / short)
            let (short, long) = width <= height ? (width, height) : (height, width)
            let newLong = Int(Double(s * long) / Double(short))
            return width <= height ? (newLong, s) : (s, newLong)
        case let .shortestLongest(s0, maxSize):
            var size = s0
            var raw: Double? = nil
            let minOrig = Double(min(height, width)), maxOrig = Double(max(height, width))
            if maxOrig / minOrig * Double(size) > Double(maxSize) {
                raw = Double(maxSize) * minOrig / maxOrig
                size = Int(raw!.rounded(.toNearestOrEven))
            }
            if (height <= width && height == size) || (width <= height && width == size) { return (height, width) }
            if width < height {
                return (raw.map { Int($0 * Double(height) / Double(width)) } ?? Int(Double(size * height) / Double(width)), size)
            }
            return (size, raw.map { Int($0 * Double(width) / Double(height)) } ?? Int(Double(size * width) / Double(height)))
        }
    }
}

/// The keys of a HF image/video processor config (preprocessor_config.json, video_preprocessor_config.json) that
/// Reel reads, each default beside its key (transformers' `BaseVideoProcessor` / fast image processor defaults).
/// `image_mean`/`image_std` have no default: checkpoints differ (SigLIP 0.5/0.5, CLIP 0.481…/0.268…).
public struct ImageProcessorConfig: Sendable, Equatable {
    public var doResize = true                  // do_resize
    public var size: ProcessorSize?             // size (required when do_resize)
    public var resample = ResizeFilter.bicubic  // resample: 2 bilinear, 3 bicubic
    public var doCenterCrop = false             // do_center_crop
    public var cropSize: (height: Int, width: Int)?  // crop_size (required when do_center_crop)
    public var doRescale = true                 // do_rescale
    public var rescaleFactor = 1.0 / 255.0      // rescale_factor
    public var doNormalize = true               // do_normalize
    public var imageMean: [Double] = []         // image_mean (3 values; required when do_normalize)
    public var imageStd: [Double] = []          // image_std  (3 values; required when do_normalize)

    public static func == (a: Self, b: Self) -> Bool {
        a.doResize == b.doResize && a.size == b.size && a.resample == b.resample && a.doCenterCrop == b.doCenterCrop
            && a.cropSize?.height == b.cropSize?.height && a.cropSize?.width == b.cropSize?.width
            && a.doRescale == b.doRescale && a.rescaleFactor == b.rescaleFactor && a.doNormalize == b.doNormalize
            && a.imageMean == b.imageMean && a.imageStd == b.imageStd
    }

    /// Reads the keys above from a processor config object.
    /// - Throws: `MediaError.badConfig` naming the key.
    public init(json: JSON) throws {
        guard json.object != nil else { throw MediaError.badConfig(key: "<root>", detail: "not a JSON object") }
        func flag(_ k: String, _ d: Bool) throws -> Bool {
            guard let v = json[k], !v.isNull else { return d }
            guard let b = v.bool else { throw MediaError.badConfig(key: k, detail: "expected true/false") }
            return b
        }
        doResize = try flag("do_resize", doResize)
        doCenterCrop = try flag("do_center_crop", doCenterCrop)
        doRescale = try flag("do_rescale", doRescale)
        doNormalize = try flag("do_normalize", doNormalize)
        if let r = json["resample"], !r.isNull {
            guard let code = r.int, let f = ResizeFilter(rawValue: code) else {
                throw MediaError.badConfig(key: "resample", detail: "only 2 (bilinear) and 3 (bicubic) are supported, got \(r.serialized())")
            }
            resample = f
        }
        if doResize {
            guard let s = json["size"], !s.isNull else { throw MediaError.badConfig(key: "size", detail: "missing") }
            size = try Self.parseSize(s)
        }
        if doCenterCrop {
            guard let c = json["crop_size"], !c.isNull else { throw MediaError.badConfig(key: "crop_size", detail: "missing") }
            if let n = c.int, Self.sides.contains(n) { cropSize = (n, n) }
            else if let h = c["height"]?.int, let w = c["width"]?.int, Self.sides.contains(h), Self.sides.contains(w) { cropSize = (h, w) }
            else { throw MediaError.badConfig(key: "crop_size", detail: "expected {height, width} of 1…\(Self.sides.upperBound) pixels, got \(c.serialized())") }
        }
        if doRescale, let r = json["rescale_factor"], !r.isNull {
            // Used in f32, as are its reciprocal and mean/std over it: both must be normal f32 numbers (1e-300 is 0 in f32).
            guard let v = r.double, v > 0, Float(v).isNormal, Float(1 / v).isNormal else {
                throw MediaError.badConfig(key: "rescale_factor", detail: "expected a positive number f32 holds, as does its reciprocal (about 1e-38…1e38), got \(r.serialized())")
            }
            rescaleFactor = v
        }
        if doNormalize {
            imageMean = try Self.triple(json, "image_mean", positive: false)
            imageStd = try Self.triple(json, "image_std", positive: true)
        }
    }

    /// Pixel sides a processor config may ask for: a larger one would only allocate frames no tower takes (an
    /// edited config of 10^10 asked for 30 GB and aborted).
    static let sides = 1...16384

    private static func parseSize(_ s: JSON) throws -> ProcessorSize {
        if let n = s.int, sides.contains(n) { return .shortestEdge(n) }
        if let h = s["height"]?.int, let w = s["width"]?.int, sides.contains(h), sides.contains(w) { return .exact(height: h, width: w) }
        if let se = s["shortest_edge"]?.int, sides.contains(se) {
            if let le = s["longest_edge"]?.int, sides.contains(le) { return .shortestLongest(shortest: se, longest: le) }
            if s["longest_edge"]?.int == nil { return .shortestEdge(se) }
        }
        throw MediaError.badConfig(key: "size", detail: "expected {height, width} or {shortest_edge[, longest_edge]} of 1…\(sides.upperBound) pixels, got \(s.serialized())")
    }

    private static func triple(_ json: JSON, _ key: String, positive: Bool) throws -> [Double] {
        guard let v = json[key], !v.isNull else { throw MediaError.badConfig(key: key, detail: "missing (needed when do_normalize)") }
        if let x = v.double { return [x, x, x] }
        guard let a = v.array, a.count == 3 else { throw MediaError.badConfig(key: key, detail: "expected 3 numbers") }
        let out = a.compactMap { $0.double }
        guard out.count == 3, out.allSatisfy({ $0.isFinite && (!positive || $0 > 0) }) else {
            throw MediaError.badConfig(key: key, detail: "expected 3 finite\(positive ? " positive" : "") numbers")
        }
        return out
    }
}

/// A processed image: f32 [3, height, width] (CHW planes, R then G then B).
public struct ProcessedImage: Sendable, Equatable {
    public var height: Int
    public var width: Int
    /// f32 [3, height, width]
    public var pixels: [Float]
}

/// Reproduces a checkpoint's image/video processor on one RGB frame: resize (uint8, antialiased, torch-exact),
/// centre crop, rescale and normalise in f32.
///
/// Mirrors `BaseVideoProcessor._preprocess` (transformers 5.24, torchvision backend) as used by
/// `LlavaOnevisionVideoProcessor` (exact size×size) and `LlavaNextVideoVideoProcessor` (shortest edge + crop).
public struct ImageProcessor: Sendable {
    public let config: ImageProcessorConfig
    // f32 [3]: the fused constants of `_fuse_mean_std_and_rescale_factor`: mean/rescale, std/rescale (rounded to f32
    // first, as torch.tensor(mean) * (1/rescale) does).
    private let mean: [Float]
    private let std: [Float]

    public init(config: ImageProcessorConfig) {
        self.config = config
        if config.doNormalize {
            let k = config.doRescale ? Float(1.0 / config.rescaleFactor) : 1
            mean = config.imageMean.map { Float($0) * k }
            std = config.imageStd.map { Float($0) * k }
        } else {
            mean = []
            std = []
        }
    }

    /// Reads the config from a processor config JSON object.
    public init(json: JSON) throws {
        self.init(config: try ImageProcessorConfig(json: json))
    }

    /// The (height, width) of the output for an input of the given size.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        var (h, w) = (height, width)
        if config.doResize, let s = config.size { (h, w) = s.output(height: h, width: w) }
        if config.doCenterCrop, let c = config.cropSize { (h, w) = c }
        return (h, w)
    }

    /// Processes one frame.
    /// - Returns: f32 [3, h, w].
    public func process(_ frame: RGBFrame) throws -> ProcessedImage {
        var px = frame.pixels
        var (h, w) = (frame.height, frame.width)
        // 1. Resize in uint8 (torchvision resize → torch uint8 antialias kernel).
        if config.doResize, let s = config.size {
            let (oh, ow) = s.output(height: h, width: w)
            guard oh > 0, ow > 0 else { throw MediaError.badArgument(detail: "resize of \(w)×\(h) gives \(ow)×\(oh)") }
            if (oh, ow) != (h, w) {
                px = try resizeRGB8(px, width: w, height: h, outWidth: ow, outHeight: oh, filter: config.resample)
                (h, w) = (oh, ow)
            }
        }
        // 2. Centre crop (zero-pad first if the crop is larger), as the torchvision backend's `center_crop`.
        if config.doCenterCrop, let c = config.cropSize {
            (px, h, w) = centerCrop(px, height: h, width: w, cropHeight: c.height, cropWidth: c.width)
        }
        // 3. Rescale and normalise (fused): (x − mean/r) / (std/r) in f32; CHW out.
        let plane = h * w
        var out = [Float](repeating: 0, count: 3 * plane)
        let scale = Float(config.rescaleFactor)
        px.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for c in 0..<3 {
                    let base = c * plane
                    if config.doNormalize {
                        let m = mean[c], sd = std[c]
                        for i in 0..<plane { o[base + i] = (Float(s[i * 3 + c]) - m) / sd }
                    } else if config.doRescale {
                        for i in 0..<plane { o[base + i] = Float(s[i * 3 + c]) * scale }
                    } else {
                        for i in 0..<plane { o[base + i] = Float(s[i * 3 + c]) }
                    }
                }
            }
        }
        return ProcessedImage(height: h, width: w, pixels: out)
    }

    /// u8 [h, w, 3] → u8 [ch, cw, 3]; top = int((h − ch)/2), left = int((w − cw)/2) after zero padding.
    private func centerCrop(_ px: [UInt8], height: Int, width: Int, cropHeight ch: Int, cropWidth cw: Int) -> ([UInt8], Int, Int) {
        var src = px, h = height, w = width
        if ch > h || cw > w {
            let padL = cw > w ? (cw - w) / 2 : 0, padT = ch > h ? (ch - h) / 2 : 0
            let padR = cw > w ? (cw - w + 1) / 2 : 0, padB = ch > h ? (ch - h + 1) / 2 : 0
            let nh = h + padT + padB, nw = w + padL + padR
            var padded = [UInt8](repeating: 0, count: nh * nw * 3)
            for y in 0..<h {
                for i in 0..<(w * 3) { padded[((y + padT) * nw + padL) * 3 + i] = src[y * w * 3 + i] }
            }
            (src, h, w) = (padded, nh, nw)
        }
        let top = (h - ch) / 2, left = (w - cw) / 2
        var out = [UInt8](repeating: 0, count: ch * cw * 3)
        for y in 0..<ch {
            let s = ((top + y) * w + left) * 3
            for i in 0..<(cw * 3) { out[y * cw * 3 + i] = src[s + i] }
        }
        return (out, ch, cw)
    }
}
