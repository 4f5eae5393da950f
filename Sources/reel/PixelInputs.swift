#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import ReelCore
import ReelFormat
import ReelMedia
import ReelModels
import ReelSafetensors

/// Processor outputs read from a safetensors file (Hugging Face names), for `reel run --pixels` and `reel forward`:
///   pixel_values_videos  f32/f16/bf16 [1, F, 3, H, W] or [F, 3, H, W]: one video
///   pixel_values         [1, n, 3, H, W] or [n, 3, H, W]: one image's anyres tiles (base first)
///   image_sizes          int [1, 2] or [2]: that image's original (H, W)
/// For tensors made by a Python processor (e.g. images, whose anyres preprocessing Reel does not do yet).
struct PixelInputs {
    static let names = ["pixel_values_videos", "pixel_values", "image_sizes"]
    var media: [MediaInput] = []
    var videos = 0
    var images = 0

    init(path: String) throws {
        let f = try SafetensorsFile(path: path)
        try self.init(f, path: path)
    }

    init(_ f: SafetensorsFile, path: String) throws {
        func images5(_ name: String) throws -> (values: [Float], count: Int)? {
            guard f.contains(name) else { return nil }
            let s = try f.tensor(name).shape
            guard (s.count == 5 && s[0] == 1) || s.count == 4 else {
                throw CLIError("\(path): \(name) has shape \(s); expected [1, n, 3, H, W] or [n, 3, H, W] (one video or image)")
            }
            return (try f.float32(name), s.count == 5 ? s[1] : s[0])
        }
        if let v = try images5("pixel_values_videos") {
            media.append(.video(pixels: v.values, frames: v.count))
            videos = 1
        }
        if let p = try images5("pixel_values") {
            guard f.contains("image_sizes") else { throw CLIError("\(path): pixel_values needs image_sizes (the image's original H, W)") }
            let hw = try Self.imageSize(f, path: path)
            media.append(.image(pixels: p.values, tiles: p.count, size: hw))
            images = 1
        }
    }

    /// Largest original image side `image_sizes` may give, in pixels: larger is no photo and would only overflow
    /// the anyres arithmetic downstream.
    static let maxImageSide = 1 << 16

    /// `image_sizes`: one (H, W) pair of whole pixel counts in 1…`maxImageSide`, read exactly from an integer dtype
    /// (what processors write); a float dtype is taken when it holds whole numbers.
    static func imageSize(_ f: SafetensorsFile, path: String) throws -> ImageSize {
        let t = try f.tensor("image_sizes")
        guard t.elementCount == 2, t.shape.dropLast().allSatisfy({ $0 == 1 }) else {
            throw CLIError("\(path): image_sizes has shape \(t.shape); expected [1, 2] or [2] (one image's H, W)")
        }
        let hw: [Double]
        if let ints = try integerValues(f, "image_sizes", path: path) {
            hw = ints.map(Double.init)
        } else if t.dtype.isFloatingPoint {
            hw = try f.float32("image_sizes").map(Double.init)
        } else {
            throw CLIError("\(path): image_sizes has dtype \(t.dtype); expected I64 (the image's H, W in pixels)")
        }
        // NaN fails the range test; only whole numbers in range reach Int().
        for (i, x) in hw.enumerated() where !(x >= 1 && x <= Double(maxImageSide) && x == x.rounded()) {
            let shown = x == x.rounded() && abs(x) < 1e18 ? "\(Int(x))" : "\(x)"
            throw CLIError("\(path): image_sizes holds \(shown) at index \(i); expected whole pixel counts in 1…\(maxImageSide) (the image's original H, W)")
        }
        return ImageSize(height: Int(hw[0]), width: Int(hw[1]))
    }
}

/// Videos from files (ReelMedia: ffmpeg frames, the checkpoint's own video processor) as pixel values for a LLaVA
/// model: frames sampled by index, each processed to f32 [3, S, S] with S the tower's image_size.
struct VideoInputs {
    var media: [MediaInput] = []
    var frames = 0
    var decodeSeconds = 0.0

    /// - Parameters:
    ///   - file: the .reel, for `metadata.preprocessors` (video_preprocessor_config.json, else preprocessor_config.json)
    ///     and the tower's image_size.
    ///   - frames, fps: `.frames(frames ?? 8)`, or `.fps(fps, max: frames ?? 32)` when fps is given.
    ///   - plan: called with each video's sampled frame count before any frame is decoded (the caller refuses a
    ///     count the context cannot hold).
    init(paths: [String], file: ReelFile, frames count: Int?, fps: Double?, quiet: Bool,
         plan: (Int) throws -> Void = { _ in }) throws {
        let sampling: FrameSampling = fps.map { .fps($0, max: count ?? 32) } ?? .frames(count ?? 8)
        let pre = file.metadata["preprocessors"]
        let name = pre?["video_preprocessor_config.json"] != nil ? "video_preprocessor_config.json" : "preprocessor_config.json"
        guard let config = pre?[name] else {
            throw CLIError("\(file.path) carries no video_preprocessor_config.json or preprocessor_config.json: reconvert from a checkpoint directory that has the processor configs")
        }
        let processor = try inFile(file.path, name + ": ") { try ImageProcessor(json: config) }
        guard let side = file.component("vision")?.config["image_size"]?.int else {
            throw CLIError("\(file.path) (\(file.architecture)) has no vision tower")
        }
        let start = ProgressBar.now()
        let tty = !quiet && isatty(2) != 0
        for path in paths {
            let reader = try VideoReader(path: path, sampling: sampling)
            defer { reader.close() }
            try plan(reader.indices.count)
            var pixels: [Float] = []
            var n = 0
            try reader.forEach { frame in
                let p = try processor.process(frame)
                guard p.height == side, p.width == side else {
                    throw CLIError("the processor makes \(p.width)×\(p.height) frames; the vision tower takes \(side)×\(side)")
                }
                pixels += p.pixels
                n += 1
                if tty { fputs("\r\u{1B}[2Kdecoding \(path): frame \(n)/\(reader.indices.count)", stderr) }
            }
            if tty { fputs("\r\u{1B}[2K", stderr) }
            guard n > 0 else { throw CLIError("\(path): no frames decoded") }
            if n < reader.indices.count {
                let total = reader.info.video?.frameCount ?? 0
                printErr("note: \(path): the stream ended after \(n) of the \(reader.indices.count) frames sampled from the \(total) its header gives (a truncated file?); using the \(n) decoded")
            }
            media.append(.video(pixels: pixels, frames: n))
            frames += n
        }
        decodeSeconds = ProgressBar.now() - start
    }
}

/// Images from files (ReelMedia: ffmpeg decode; the checkpoint's `preprocessor_config.json`) as LLaVA-OneVision
/// pixel values, mirroring `LlavaOnevisionImageProcessor`: one image is tiled anyres (best pinpoint, aspect-keeping
/// uint8 resize, centred zero pad, tiles row-major after the base image squashed to the tile size); several images
/// are each padded to a square with the mean colour and squashed (base only, as transformers does for multi-image
/// prompts).
struct ImageInputs {
    var media: [MediaInput] = []
    var tiles = 0

    init(paths: [String], model: LlavaModel, file: ReelFile) throws {
        guard !paths.isEmpty else { return }
        guard model.config.variant == .onevision else {
            throw CLIError("--image: only LLaVA-OneVision's image processor is implemented; for \(file.architecture) pass the processor's outputs with --pixels")
        }
        guard let config = file.metadata["preprocessors"]?["preprocessor_config.json"] else {
            throw CLIError("\(file.path) carries no preprocessor_config.json: reconvert from a checkpoint directory that has it")
        }
        let processor = try inFile(file.path, "preprocessor_config.json: ") { try ImageProcessor(json: config) }
        let side = model.vision.config.imageSize
        func process(_ f: RGBFrame) throws -> [Float] {
            let p = try processor.process(f)
            guard p.height == side, p.width == side else {
                throw CLIError("the image processor makes \(p.width)×\(p.height) tiles; the vision tower takes \(side)×\(side)")
            }
            return p.pixels
        }
        for path in paths {
            let image = try ImageReader.read(path)
            let size = ImageSize(height: image.height, width: image.width)
            let frames = paths.count == 1 ? try Self.anyresTiles(image, layout: try model.anyresLayout(size), side: side, processor: processor)
                                          : [Self.squared(image, processor: processor)]
            media.append(.image(pixels: try frames.flatMap(process), tiles: frames.count, size: size))
            tiles += frames.count
        }
    }

    /// `_get_image_patches`: the base (the whole image, squashed by the processor's resize), then the tiles of the
    /// image resized with its aspect kept into the best pinpoint and centred on zero padding, row-major.
    static func anyresTiles(_ image: RGBFrame, layout: AnyresLayout, side: Int, processor: ImageProcessor) throws -> [RGBFrame] {
        let size = ImageSize(height: image.height, width: image.width)
        let best = ImageSize(height: layout.tilesHigh * side, width: layout.tilesWide * side)
        let (r, left, top) = AnyresLayout.patchResize(size, to: best)
        let resized = try resizeRGB8(image.pixels, width: size.width, height: size.height, outWidth: r.width,
                                     outHeight: r.height, filter: processor.config.resample)
        var frames = [image]
        for ty in 0..<layout.tilesHigh {
            for tx in 0..<layout.tilesWide {
                var tile = [UInt8](repeating: 0, count: side * side * 3)
                for y in 0..<side {
                    let sy = ty * side + y - top
                    guard sy >= 0, sy < r.height else { continue }
                    for x in 0..<side {
                        let sx = tx * side + x - left
                        guard sx >= 0, sx < r.width else { continue }
                        for c in 0..<3 { tile[(y * side + x) * 3 + c] = resized[(sy * r.width + sx) * 3 + c] }
                    }
                }
                frames.append(RGBFrame(width: side, height: side, pixels: tile))
            }
        }
        return frames
    }

    /// `pad_to_square(background_color = int(mean·255))`: the image centred on a square of the mean colour (the
    /// processor's resize then squashes it).
    static func squared(_ image: RGBFrame, processor: ImageProcessor) -> RGBFrame {
        let (w, h) = (image.width, image.height)
        let d = max(w, h), left = (d - w) / 2, top = (d - h) / 2
        let mean = processor.config.imageMean
        // int(mean·255), clamped to a byte in Double first: the config's mean is finite but not bounded.
        func byte(_ x: Double) -> UInt8 { x >= 255 ? 255 : x > 0 ? UInt8(x.rounded(.towardZero)) : 0 }   // NaN → 0
        let fill = (0..<3).map { mean.count == 3 ? byte(mean[$0] * 255) : 0 }
        var square = [UInt8](repeating: 0, count: d * d * 3)
        for i in 0..<(d * d) { for c in 0..<3 { square[i * 3 + c] = fill[c] } }
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { square[((y + top) * d + x + left) * 3 + c] = image.pixels[(y * w + x) * 3 + c] }
            }
        }
        return RGBFrame(width: d, height: d, pixels: square)
    }
}

/// Writes the media's pixel values under transformers' names (`pixel_values_videos`, `pixel_values` +
/// `image_sizes`; `.{i}` after the name when there are several), to compare with a Python processor.
func writePixels(_ media: [MediaInput], tile side: Int, to path: String) throws {
    var w = SafetensorsWriter(metadata: ["producer": "reel \(ReelVersion.string)"])
    let videos = media.filter { if case .video = $0 { return true }; return false }.count
    let images = media.count - videos
    var vi = 0, ii = 0
    for m in media {
        switch m {
        case let .video(px, frames):
            try w.add("pixel_values_videos" + (videos > 1 ? ".\(vi)" : ""), float32: px, shape: [1, frames, 3, side, side])
            vi += 1
        case let .image(px, tiles, size):
            let s = images > 1 ? ".\(ii)" : ""
            try w.add("pixel_values" + s, float32: px, shape: [1, tiles, 3, side, side])
            try w.add("image_sizes" + s, int64: [Int64(size.height), Int64(size.width)], shape: [1, 2])
            ii += 1
        }
    }
    try w.write(to: path, force: true)
}
