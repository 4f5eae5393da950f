import Foundation
import XCTest
import ReelCore
import ReelModels

/// `reel eval` scoring: Video-MME's letter extraction and normalised exact match (docs/eval.md).
final class EvalScoringTests: XCTestCase {
    /// Expected letters follow Video-MME's `extract_characters_regex` (eval_your_results.py).
    func testOptionLetterLikeVideoMME() {
        XCTAssertEqual(QuestionScoring.optionLetter("B"), "B")
        XCTAssertEqual(QuestionScoring.optionLetter("  C. moves left"), "C")
        XCTAssertEqual(QuestionScoring.optionLetter("The best answer is D"), "D")
        XCTAssertEqual(QuestionScoring.optionLetter("Answer: (A)"), "A")
        XCTAssertEqual(QuestionScoring.optionLetter("the shape is red"), nil)
        XCTAssertNil(QuestionScoring.optionLetter("this is a long answer that never names any of the lettered options at all, sorry"))
        XCTAssertEqual(QuestionScoring.optionLetter("A red circle"), "A", "Video-MME takes the first capital A–D, even inside words")
    }

    /// Expected values from the Python twin (tools/reel_av/evaluate.py `normalise`).
    func testNormaliseLikeThePythonTwin() {
        XCTAssertEqual(QuestionScoring.normalise("Red, 3."), "red, 3")
        XCTAssertEqual(QuestionScoring.normalise("  red ,3 "), "red, 3")
        XCTAssertEqual(QuestionScoring.normalise("RED!!"), "red")
        XCTAssertEqual(QuestionScoring.normalise("left,   high"), "left, high")
        XCTAssertEqual(QuestionScoring.normalise("Café  au\tlait"), "caf au lait")
        XCTAssertEqual(QuestionScoring.normalise(", ,"), "")
    }

    func testReadsASetAndScores() throws {
        let dir = NSTemporaryDirectory() + "reel-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let text = """
        {"video": "clips/0001.mp4", "question": "What colour is the square?", "answer": "red", "category": "seen"}

        {"video": "clips/0001.mp4", "question": "How many beeps?", "options": ["A. 1", "B. 2", "C. 3", "D. 4"], "answer": "C", "category": "heard"}
        """
        try text.write(toFile: dir + "/q.jsonl", atomically: true, encoding: .utf8)
        let set = try QuestionSet(path: dir + "/q.jsonl")
        XCTAssertEqual(set.items.count, 2)
        XCTAssertEqual(set.items[0].videoPath, dir + "/clips/0001.mp4")
        XCTAssertEqual(set.items[1].line, 3)
        XCTAssertEqual(set.items[1].prompt, "How many beeps?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer with the option's letter from the given choices directly.")
        XCTAssertTrue(set.items[0].isCorrect("Red."))
        XCTAssertFalse(set.items[0].isCorrect("blue"))
        XCTAssertTrue(set.items[1].isCorrect("C"))
        XCTAssertFalse(set.items[1].isCorrect("B. 2"))
        var r = EvalReport()
        r.add(category: "seen", correct: true)
        r.add(category: "heard", correct: false)
        r.add(category: "seen", correct: false)
        XCTAssertEqual(r.overall.total, 3)
        XCTAssertEqual(r.categories.map(\.category), ["seen", "heard"])
        XCTAssertEqual(r.categories[0].accuracy, 0.5)
    }

    func testBadLinesNameTheLineAndKey() throws {
        let dir = NSTemporaryDirectory() + "reel-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        try "{\"video\": \"a.mp4\", \"answer\": \"x\"}\n".write(toFile: dir + "/q.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try QuestionSet(path: dir + "/q.jsonl")) { e in
            XCTAssertEqual(e as? JSONError, .missingKey(source: dir + "/q.jsonl:1", key: "question"))
        }
        try "{\"video\": \"a.mp4\", \"question\": \"q\", \"options\": [\"A. x\"], \"answer\": \"yes\"}\n".write(toFile: dir + "/q.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try QuestionSet(path: dir + "/q.jsonl")) { e in
            guard case JSONError.wrongType(_, "answer", _)? = e as? JSONError else { return XCTFail("\(e)") }
        }
    }

    /// Items that could never be scored right are refused naming the line and key (they used to load and score MISS,
    /// or 100% for an empty answer): a multiple-choice answer that is not exactly one of the options' letters,
    /// options not lettered in order, an empty options list or answer, a category that is not a string. A byte-order
    /// mark before the first line is not part of it.
    func testItemsThatCannotBeScoredAreRefused() throws {
        let dir = NSTemporaryDirectory() + "reel-eval-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let q = #""video": "a.mp4", "question": "How many?""#
        let cases: [(String, String)] = [
            (#"{\#(q), "options": ["A. 2", "B. 3"], "answer": "B. 3"}"#, "answer"),
            (#"{\#(q), "options": ["A. 2", "B. 3"], "answer": "Answer: B"}"#, "answer"),
            (#"{\#(q), "options": ["A. 2", "B. 3"], "answer": "D"}"#, "answer"),
            (#"{\#(q), "options": ["foo", "bar"], "answer": "A"}"#, "options"),
            (#"{\#(q), "options": ["B. 2", "A. 3"], "answer": "A"}"#, "options"),
            (#"{\#(q), "options": [], "answer": "A"}"#, "options"),
            (#"{\#(q), "answer": ""}"#, "answer"),
            (#"{\#(q), "answer": "red", "category": 3}"#, "category"),
        ]
        for (line, key) in cases {
            try (line + "\n").write(toFile: dir + "/q.jsonl", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try QuestionSet(path: dir + "/q.jsonl"), line) { e in
                guard case let JSONError.wrongType(source, k, _)? = e as? JSONError else { return XCTFail("\(line): \(e)") }
                XCTAssertEqual(source, dir + "/q.jsonl:1", line)
                XCTAssertEqual(k, key, line)
            }
        }
        try Data([0xEF, 0xBB, 0xBF] + Array(#"{\#(q), "options": ["A. 2", "B. 3"], "answer": " b "}"#.utf8)).write(to: URL(fileURLWithPath: dir + "/q.jsonl"))
        let set = try QuestionSet(path: dir + "/q.jsonl")
        XCTAssertTrue(set.items[0].isCorrect("B"))
    }
}
