import ReelCore
import ReelRuntime

/// Height and width of an original image in pixels (the processor's `image_sizes` row: (H, W)).
public struct ImageSize: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public init(height: Int, width: Int) { self.height = height; self.width = width }
}

/// The normalised LLaVA aligner config (`components.projector.config`, written by `LlavaFamily`) and the
/// architecture it belongs to.
public struct LlavaConfig: Equatable, Sendable {
    public enum Variant: String, Sendable {
        /// LlavaOnevisionForConditionalGeneration: projector, then 2×2 bilinear pooling, newline after the video.
        case onevision = "llava_onevision"
        /// LlavaNextVideoForConditionalGeneration: avg/max pooling with stride, then projector, no newline.
        case nextVideo = "llava_next_video"
    }

    public var variant: Variant
    public var projectorAct: Activation
    public var projectorBias: Bool
    /// HF `hidden_states` indices, concatenated along channels.
    public var featureLayers: [Int]
    /// "default" drops the CLS token; "full" keeps every token.
    public var selectStrategy: String
    public var imageTokenId: Int
    public var videoTokenId: Int
    /// `image_grid_pinpoints`: candidate (height, width) resolutions of the anyres tiling.
    public var gridPinpoints: [ImageSize]
    /// N of `vision_aspect_ratio = "anyres_max_N"` (LLaVA-OneVision's default is 9).
    public var maxPatches: Int
    /// LLaVA-NeXT-Video's `spatial_pool_mode` / `spatial_pool_stride`.
    public var poolMode: String
    public var poolStride: Int

    public init(json: JSON, architecture: String) throws {
        guard let v = Variant(rawValue: architecture) else {
            throw VisionError.config(key: "architecture", message: "\(architecture) is not a LLaVA architecture (llava_onevision, llava_next_video)")
        }
        let r = ComponentConfigReader(json: json, component: "projector")
        variant = v
        projectorAct = try r.activation("projector_hidden_act")
        projectorBias = try r.bool("multimodal_projector_bias", default: true)
        guard let layers = try r.value("vision_feature_layer").array?.compactMap(\.int), !layers.isEmpty else {
            throw VisionError.config(key: "projector.vision_feature_layer", message: "expected a non-empty list of integers")
        }
        featureLayers = layers
        selectStrategy = try r.string("vision_feature_select_strategy")
        guard ["default", "full"].contains(selectStrategy) else {
            throw VisionError.config(key: "projector.vision_feature_select_strategy", message: "\(selectStrategy) (expected default or full)")
        }
        imageTokenId = try r.int("image_token_index")
        videoTokenId = try r.int("video_token_index")
        let pinpoints = json["image_grid_pinpoints"]?.array ?? []
        guard pinpoints.count <= 1024 else {
            throw VisionError.config(key: "projector.image_grid_pinpoints", message: "\(pinpoints.count) pinpoints; at most 1024")
        }
        gridPinpoints = try pinpoints.map { p in
            guard let hw = p.array?.compactMap(\.int), hw.count == 2, (1...16384).contains(hw[0]), (1...16384).contains(hw[1]) else {
                throw VisionError.config(key: "projector.image_grid_pinpoints", message: "expected [height, width] pairs of 1…16384 pixels, found \(p.serialized())")
            }
            return ImageSize(height: hw[0], width: hw[1])
        }
        let ratio = json["vision_aspect_ratio"]?.string ?? "anyres_max_9"
        guard ratio.hasPrefix("anyres_max_"), let n = Int(ratio.dropFirst("anyres_max_".count)), (1...1024).contains(n) else {
            throw VisionError.config(key: "projector.vision_aspect_ratio", message: "\(ratio) (expected anyres_max_N)")
        }
        maxPatches = n
        poolMode = json["spatial_pool_mode"]?.string ?? "average"
        poolStride = json["spatial_pool_stride"]?.int ?? 2
        if v == .nextVideo {
            guard poolMode == "average" || poolMode == "max" else {
                throw RuntimeError.unsupported("spatial_pool_mode \"\(poolMode)\" (average and max are implemented)")
            }
            guard poolStride > 0 else { throw VisionError.config(key: "projector.spatial_pool_stride", message: "must be positive") }
            if let m = ConfigLimits.excess("spatial_pool_stride", poolStride) {
                throw VisionError.config(key: "projector.spatial_pool_stride", message: m)
            }
        }
    }
}

/// How LLaVA-OneVision lays out one image's anyres tiles (mirrors `get_anyres_image_grid_shape`, `unpad_image`
/// and the `anyres_max_N` resize of `LlavaOnevisionModel.pack_image_features`).
public struct AnyresLayout: Equatable, Sendable {
    /// Tiles per column and per row of the best pinpoint resolution.
    public var tilesHigh: Int
    public var tilesWide: Int
    /// The unpadded window of the [tilesHigh·g, tilesWide·g] feature grid: first row/column and extent.
    public var top: Int
    public var left: Int
    public var height: Int
    public var width: Int
    /// The grid after the `anyres_max_N` bilinear resize (equal to height/width when the ratio is ≤ 1.1).
    public var outHeight: Int
    public var outWidth: Int

    /// Mirrors `select_best_resolution`: the pinpoint maximising the effective resolution, ties broken by least waste.
    /// Computed in Double (exact for sides below 2^26, as Python's integers are), so no size can overflow it.
    /// - Returns: nil when `size` is not positive or no pinpoint is.
    public static func bestResolution(_ size: ImageSize, pinpoints: [ImageSize]) -> ImageSize? {
        guard size.width > 0, size.height > 0 else { return nil }
        let (ow, oh) = (Double(size.width), Double(size.height))
        var best: ImageSize?
        var maxEffective = 0.0, minWasted = Double.infinity
        for p in pinpoints where p.width > 0 && p.height > 0 {
            let (pw, ph) = (Double(p.width), Double(p.height))
            let scale = min(pw / ow, ph / oh)
            let w = (ow * scale).rounded(.towardZero), h = (oh * scale).rounded(.towardZero)   // int(original · scale)
            let effective = min(w * h, ow * oh)
            let wasted = pw * ph - effective
            if effective > maxEffective || (effective == maxEffective && wasted < minWasted) {
                maxEffective = effective
                minWasted = wasted
                best = p
            }
        }
        return best
    }

    /// - Parameters:
    ///   - size: the original image's (H, W).
    ///   - grid: feature tokens per tile side (image_size / patch_size).
    ///   - tileSize: the tower's image_size (pixels per tile side).
    ///   - maxPatches: N of `anyres_max_N` (LLaVA-OneVision); nil for no size cap (LLaVA-NeXT).
    public init(size: ImageSize, pinpoints: [ImageSize], grid g: Int, tileSize: Int, maxPatches: Int?) throws {
        guard size.height > 0, size.width > 0 else { throw VisionError.badInput("image size \(size.height)×\(size.width)") }
        guard g > 0, tileSize > 0 else {
            throw VisionError.config(key: "vision.image_size", message: "tile size \(tileSize) and feature grid \(g) must be positive")
        }
        guard let best = Self.bestResolution(size, pinpoints: pinpoints) else {
            throw VisionError.config(key: "projector.image_grid_pinpoints", message: "empty (or none positive): the anyres image path needs pinpoints")
        }
        tilesHigh = best.height / tileSize
        tilesWide = best.width / tileSize
        guard tilesHigh > 0, tilesWide > 0 else {
            throw VisionError.config(key: "projector.image_grid_pinpoints", message: "pinpoint \(best.height)×\(best.width) is smaller than a \(tileSize) tile")
        }
        // unpad_image: crop the centred padding back off, at feature-grid resolution
        let (ch, overH) = tilesHigh.multipliedReportingOverflow(by: g), (cw, overW) = tilesWide.multipliedReportingOverflow(by: g)
        guard !overH, !overW, !ch.multipliedReportingOverflow(by: cw).overflow,
              !tilesHigh.multipliedReportingOverflow(by: tilesWide).overflow else {
            throw VisionError.config(key: "projector.image_grid_pinpoints", message: "pinpoint \(best.height)×\(best.width) makes a feature grid too large")
        }
        top = 0; left = 0; height = ch; width = cw
        func round7(_ x: Double) -> Double { (x * 1e7).rounded() / 1e7 }
        if Double(size.width) / Double(size.height) > Double(cw) / Double(ch) {
            let newHeight = Int(round7(Double(size.height) * (Double(cw) / Double(size.width))))
            let pad = (ch - newHeight) / 2
            top = pad; height = ch - 2 * pad
        } else {
            let newWidth = Int(round7(Double(size.width) * (Double(ch) / Double(size.height))))
            let pad = (cw - newWidth) / 2
            left = pad; width = cw - 2 * pad
        }
        // anyres_max_N: shrink grids larger than N tiles' worth (ratio > 1.1) by bilinear interpolation
        let (h, w) = (height, width)
        let ratio = maxPatches.map { (Double(h) * Double(w) / (Double($0) * Double(g) * Double(g))).squareRoot() } ?? 0
        if ratio > 1.1 {
            outHeight = Int((Double(height) / ratio).rounded(.down))
            outWidth = Int((Double(width) / ratio).rounded(.down))
        } else {
            outHeight = height; outWidth = width
        }
    }

    /// Tiles the processor makes: the grid plus the base image.
    public var tiles: Int { tilesHigh * tilesWide + 1 }

    /// The processor side (`LlavaOnevisionImageProcessor._get_image_patches`): the size the image is resized to with
    /// its aspect kept (`get_patch_output_size`: the limiting side fills the pinpoint, the other is `ceil`ed), and the
    /// centred zero padding (left, top) that brings it to the pinpoint (`_get_padding_size`; the odd pixel goes
    /// right/bottom).
    /// A non-positive `size` gives `best` unpadded (there is no aspect to keep).
    public static func patchResize(_ size: ImageSize, to best: ImageSize) -> (resized: ImageSize, left: Int, top: Int) {
        guard size.width > 0, size.height > 0 else { return (best, 0, 0) }
        let sw = Double(best.width) / Double(size.width), sh = Double(best.height) / Double(size.height)
        var r = best
        if sw < sh {
            r.height = min(Int((Double(size.height) * sw).rounded(.up)), best.height)
        } else {
            r.width = min(Int((Double(size.width) * sh).rounded(.up)), best.width)
        }
        return (r, (best.width - r.width) / 2, (best.height - r.height) / 2)
    }
}
