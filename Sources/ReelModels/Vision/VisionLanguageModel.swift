import ReelCore
import ReelFormat
import ReelRuntime

/// One video or image of a prompt, as the processor's pixel values.
public enum MediaInput {
    /// f32 [frames, 3, H, W] (`pixel_values_videos` of one video).
    case video(pixels: [Float], frames: Int)
    /// f32 [tiles, 3, H, W] (`pixel_values` of one image: the base tile, then the anyres tiles row-major; 1 tile for
    /// base-only images, as in multi-image prompts) and the original (H, W) (`image_sizes`).
    case image(pixels: [Float], tiles: Int, size: ImageSize)
}

/// Per-call figures of the vision side, for the CLI's timings line.
public struct VisionTimings: Sendable {
    public var images = 0
    public var encodeSeconds = 0.0
    public var imagesPerSecond: Double { encodeSeconds > 0 ? Double(images) / encodeSeconds : 0 }
}

/// A .reel LLaVA model opened for chat about videos and images: the `TextModel` (decoder, tokenizer, chat template,
/// stop tokens) and a `LlavaModel` (tower, aligner) splicing into the same decoder.
///
/// `prompt(messages:media:)` renders the conversation with the checkpoint's template (content parts
/// `{"type": "video"}` / `{"type": "image"}` become `<video>` / `<image>`), expands each placeholder to its media's
/// feature tokens, encodes the media and splices the features in; `TextModel.generate(.embeddings…)` runs it.
public final class VisionLanguageModel {
    public let text: TextModel
    public let llava: LlavaModel
    /// Figures of the last `prompt` call.
    public private(set) var timings = VisionTimings()

    /// Opens `path`.
    /// - Parameters:
    ///   - options: the decoder's context length, KV cache storage and threads.
    ///   - maxImages: frames or tiles encoded per batch.
    public init(path: String, options: DecoderOptions = DecoderOptions(), maxImages: Int = 2) throws {
        let text = try TextModel(path: path, options: options)
        self.text = text
        llava = try inFile(path) { try LlavaModel(file: text.file, decoder: text.decoder, maxImages: maxImages) }
    }

    /// The decoder's input for a conversation with media, in the order their placeholders appear (videos in video
    /// order, images in image order).
    public func prompt(messages: [JSON], media: [MediaInput]) throws -> PromptInput {
        try prompt(ids: try text.promptIds(messages: messages), media: media)
    }

    /// The decoder's input for prompt ids holding one placeholder token per video and per image.
    public func prompt(ids: [Int], media: [MediaInput]) throws -> PromptInput {
        var videoTokens: [Int] = [], imageTokens: [Int] = []
        for m in media {
            switch m {
            case let .video(_, frames): videoTokens.append(llava.tokens(videoFrames: frames))
            case let .image(_, tiles, size): imageTokens.append(try llava.tokens(imageTiles: tiles, size: size))
            }
        }
        let expanded = try llava.expandPlaceholders(ids, videoTokens: videoTokens, imageTokens: imageTokens)
        // The expanded length is known before anything is encoded: refuse a prompt the context cannot hold now, not
        // after encoding every frame.
        try text.decoder.cache.reserve(expanded.count)
        var videos: [Tensor] = [], images: [Tensor] = []
        let start = ProgressBar.now()
        var count = 0
        for m in media {
            switch m {
            case let .video(pixels, frames):
                videos.append(try llava.videoFeatures(pixels: pixels, frames: frames)); count += frames
            case let .image(pixels, tiles, size):
                images.append(try llava.imageFeatures(pixels: pixels, tiles: tiles, size: size)); count += tiles
            }
        }
        timings = VisionTimings(images: count, encodeSeconds: ProgressBar.now() - start)
        let e = try llava.inputEmbeddings(ids: expanded, videoFeatures: videos, imageFeatures: images)
        return .embeddings(e, tokens: expanded)
    }

    /// `[{"role": "user", "content": [{"type": "video"}…, {"type": "image"}…, {"type": "text", "text": …}]}]`, after
    /// an optional system turn (content parts too, as LLaVA templates index `content[0]['text']`).
    public static func messages(system: String?, user: String, videos: Int = 0, images: Int = 0) -> [JSON] {
        var m: [JSON] = []
        if let system { m.append(["role": "system", "content": [["type": "text", "text": .string(system)]]]) }
        var parts: [JSON] = Array(repeating: ["type": "video"], count: videos) + Array(repeating: ["type": "image"], count: images)
        parts.append(["type": "text", "text": .string(user)])
        m.append(["role": "user", "content": .array(parts)])
        return m
    }
}
