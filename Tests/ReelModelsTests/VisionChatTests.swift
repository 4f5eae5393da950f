import Foundation
import ReelCore
import ReelModels
import ReelRuntime
import XCTest

/// End to end through the checkpoint's chat template: a `{"type": "video"}` content part becomes `<video>`, is
/// expanded to the video's feature tokens, the features are spliced in, and greedy generation equals transformers'
/// `generate` on the processor-expanded ids (tools/make_vision_fixtures.py, llava_next_video).
final class VisionChatTests: XCTestCase {
    func testVideoChatMatchesTransformersGenerate() throws {
        let ref = try FixtureModel.reference("llava_next_video")
        let path = try FixtureModel.file("llava_next_video").path
        let m = try VisionLanguageModel(path: path, options: DecoderOptions(contextLength: 128, threads: 2))
        let frames = ref.shape("pixel_values_videos")[1]
        let messages = VisionLanguageModel.messages(system: nil, user: "What happens in it?", videos: 1)
        let input = try m.prompt(messages: messages, media: [.video(pixels: try ref.floats("pixel_values_videos"), frames: frames)])
        guard case let .embeddings(e, tokens) = input else { return XCTFail("expected embeddings") }
        XCTAssertEqual(tokens, try ref.ints("chat_input_ids"))
        XCTAssertEqual(e.count, tokens.count * m.text.decoder.config.hiddenSize)
        XCTAssertEqual(m.timings.images, frames)
        let want = try ref.ints("chat_greedy_ids")
        let r = try m.text.generate(input, options: GenerationOptions(maxTokens: want.count, ignoreEOS: true))
        XCTAssertEqual(r.tokens, want)

        // a prompt whose placeholders do not match the media is an error, not a silent truncation
        m.text.decoder.reset()
        XCTAssertThrowsError(try m.prompt(messages: VisionLanguageModel.messages(system: nil, user: "hi", videos: 2),
                                          media: [.video(pixels: try ref.floats("pixel_values_videos"), frames: frames)])) { e in
            guard case VisionError.placeholders? = e as? VisionError else { return XCTFail("\(e)") }
        }
    }
}
