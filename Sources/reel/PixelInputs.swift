import ArgumentParser
import ReelModels
import ReelSafetensors

/// Processor outputs read from a safetensors file (Hugging Face names), for `reel run --pixels` and `reel forward`:
///   pixel_values_videos  f32/f16/bf16 [1, F, 3, H, W] or [F, 3, H, W]: one video
///   pixel_values         [1, n, 3, H, W] or [n, 3, H, W]: one image's anyres tiles (base first)
///   image_sizes          int [1, 2] or [2]: that image's original (H, W)
/// The interim input until ReelMedia decodes files (`--video`, `--image`).
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
                throw ValidationError("\(path): \(name) has shape \(s); expected [1, n, 3, H, W] or [n, 3, H, W] (one video or image)")
            }
            return (try f.float32(name), s.count == 5 ? s[1] : s[0])
        }
        if let v = try images5("pixel_values_videos") {
            media.append(.video(pixels: v.values, frames: v.count))
            videos = 1
        }
        if let p = try images5("pixel_values") {
            guard f.contains("image_sizes") else { throw ValidationError("\(path): pixel_values needs image_sizes (the image's original H, W)") }
            let hw = try f.float32("image_sizes").map { Int($0) }
            guard hw.count == 2 else { throw ValidationError("\(path): image_sizes must hold one (H, W) pair") }
            media.append(.image(pixels: p.values, tiles: p.count, size: ImageSize(height: hw[0], width: hw[1])))
            images = 1
        }
    }
}
