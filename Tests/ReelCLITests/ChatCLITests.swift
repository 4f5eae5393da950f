import Foundation
import XCTest
import ReelCore

/// `reel chat` when the conversation outgrows the context: the message that does not fit is not answered, an error
/// says so, and the chat goes on (/reset starts over); the exit status is 1 when any message went unanswered.
extension CLITests {
    func testChatMessageOverTheContextIsSkippedAndTheChatGoesOn() throws {
        let d = try scratch()
        XCTAssertEqual(try reel(["convert", example, "-o", d + "/m.reel", "--quiet"]).status, 0)
        let chat = ["chat", d + "/m.reel", "--context", "64", "--max-tokens", "4", "--ignore-eos", "--threads", "1"]
        let long = Array(repeating: "word", count: 80).joined(separator: " ")
        // Turn 1 fits; turn 2 does not (unanswered); /reset; turn 3 is answered from an empty cache.
        let r = try reel(chat, stdin: "Hi\n\(long)\n/reset\nHello\n")
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("more than the context of 64 positions: not answered. /reset starts over"), r.stderr)
        XCTAssertTrue(r.stderr.contains("1 message(s) did not fit the context of 64 positions"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Usage:"), r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n", omittingEmptySubsequences: false).count, 3, "two answers, one line each: \(r.stdout)")
        // Each answered turn is what a fresh chat gives for it: the skipped turn left nothing behind.
        let hi = try reel(chat, stdin: "Hi\n"), hello = try reel(chat, stdin: "Hello\n")
        XCTAssertEqual(hi.status, 0, hi.stderr)
        XCTAssertEqual(r.stdout, hi.stdout + hello.stdout)
    }
}
