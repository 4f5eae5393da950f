import ReelCore

/// One question of a set (docs/eval.md): a video path relative to the set's file, the question, optional lettered
/// options (multiple choice, Video-MME style), the expected answer, and a category for per-category accuracy.
public struct QuestionItem: Sendable, Equatable {
    /// 1-based line number in the file (for messages and logs).
    public let line: Int
    /// The media path as written in the file, and resolved against the file's folder.
    public let video: String
    public let videoPath: String
    public let question: String
    /// "A. red", "B. blue" … (empty for an open question).
    public let options: [String]
    /// The option letter for multiple choice; the expected text otherwise.
    public let answer: String
    public let category: String

    public var isMultipleChoice: Bool { !options.isEmpty }

    /// Video-MME's instruction after the options.
    public static let multipleChoiceInstruction = "Answer with the option's letter from the given choices directly."

    /// The user message: the question, then (multiple choice) one option per line and the instruction.
    public var prompt: String {
        isMultipleChoice ? ([question] + options + [QuestionItem.multipleChoiceInstruction]).joined(separator: "\n") : question
    }

    /// Whether `response` answers the item: the extracted option letter, or normalised exact match.
    public func isCorrect(_ response: String) -> Bool {
        isMultipleChoice ? QuestionScoring.optionLetter(response) == answer.uppercased()
                         : QuestionScoring.normalise(response) == QuestionScoring.normalise(answer)
    }
}

/// A question set read from a JSON-lines file.
public struct QuestionSet: Sendable {
    public let path: String
    public let items: [QuestionItem]

    /// Reads `path`; every malformed line is an error naming the line and key.
    public init(path: String) throws {
        self.path = path
        let bytes = try readWholeFile(path)
        let base = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var items: [QuestionItem] = []
        var lineNo = 0
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            // A byte-order mark before the first line (some editors write one) is not part of the JSON.
            let body = lineNo == 1 && raw.starts(with: [0xEF, 0xBB, 0xBF]) ? raw.dropFirst(3) : raw[...]
            let text = String(decoding: body, as: UTF8.self)
            if text.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            let where_ = "\(path):\(lineNo)"
            let j = try JSON.parse(text, source: where_)
            func str(_ k: String) throws -> String {
                guard let v = j[k] else { throw JSONError.missingKey(source: where_, key: k) }
                guard let s = v.string else { throw JSONError.wrongType(source: where_, key: k, expected: "a string") }
                return s
            }
            let video = try str("video")
            var options: [String] = []
            if let o = j["options"], !o.isNull {
                guard let a = o.array, a.allSatisfy({ $0.string != nil }) else {
                    throw JSONError.wrongType(source: where_, key: "options", expected: "a list of strings")
                }
                options = a.compactMap(\.string)
                // Lettered in order, "A. …", "B. …" (Video-MME), so that the answer's letter names one of them.
                let letters = (0..<options.count).map { String(UnicodeScalar(UInt8(65 + min($0, 25)))) }
                guard !options.isEmpty, options.count <= 26,
                      zip(options, letters).allSatisfy({ $0.hasPrefix($1 + ".") }) else {
                    throw JSONError.wrongType(source: where_, key: "options", expected: "a list of 1–26 lettered options in order: \"A. …\", \"B. …\", …")
                }
            }
            var category = "all"
            if let c = j["category"], !c.isNull {
                guard let s = c.string else { throw JSONError.wrongType(source: where_, key: "category", expected: "a string") }
                category = s
            }
            var answer = try str("answer")
            if !options.isEmpty {
                // Scoring compares the response's letter with the answer, so the answer is that letter alone.
                let letter = answer.split(separator: " ").joined().uppercased()
                guard letter.count == 1, let u = letter.unicodeScalars.first, u.value >= 65, u.value < 65 + UInt32(options.count) else {
                    throw JSONError.wrongType(source: where_, key: "answer", expected: "one of the options' letters (A–\(String(UnicodeScalar(UInt8(64 + options.count))))), got \"\(answer)\"")
                }
                answer = letter
            } else if QuestionScoring.normalise(answer).isEmpty {
                throw JSONError.wrongType(source: where_, key: "answer", expected: "a non-empty expected answer")
            }
            items.append(QuestionItem(line: lineNo, video: video, videoPath: video.hasPrefix("/") ? video : joinPath(base, video),
                                      question: try str("question"), options: options, answer: answer, category: category))
        }
        guard !items.isEmpty else { throw JSONError.parse(source: path, message: "no questions in the file") }
        self.items = items
    }
}

/// Scoring rules (docs/eval.md).
public enum QuestionScoring {
    /// Phrases Video-MME's scorer removes before looking for the letter.
    static let answerPrefixes = ["The best answer is", "The correct answer is", "The answer is", "The answer",
                                 "The best option is", "The correct option is", "Best answer:", "Best option:",
                                 "Answer:", "Option:", "The correct answer", "The correct option"]

    /// The option letter of a response, as Video-MME's `extract_characters_regex` finds it: strip the answer
    /// prefixes, give up on a long response with no A–D, else the first A, B, C or D.
    public static func optionLetter(_ response: String) -> String? {
        var s = response.trimmed
        for p in answerPrefixes { s = s.replacingAll(p, with: "") }
        let letters: Set<Character> = ["A", "B", "C", "D"]
        let first = s.first { letters.contains($0) }
        if s.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).count > 10 && first == nil { return nil }
        return first.map { String($0) }
    }

    /// Python's `re.sub(r"[^a-z0-9, ]", " ", s.lower())`, then `\s*,\s*` → ", ", runs of spaces → one, and
    /// leading/trailing spaces and commas stripped.
    public static func normalise(_ s: String) -> String {
        var out: [Character] = []
        var pendingSpace = false
        for ch in s.lowercased() {
            let keep = ("a"..."z").contains(ch) || ("0"..."9").contains(ch)
            if ch == "," {
                out.append(","); out.append(" ")   // spaces around a comma fold into ", "
                pendingSpace = false
            } else if keep {
                if pendingSpace && !(out.last == " ") && !out.isEmpty { out.append(" ") }
                pendingSpace = false
                out.append(ch)
            } else {
                pendingSpace = true
            }
        }
        return String(out).trimmed(of: [" ", ","])
    }
}

/// Accuracy overall and per category.
public struct EvalReport: Sendable {
    public struct Row: Sendable { public let category: String; public var correct: Int; public var total: Int
        public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) } }
    public private(set) var overall = Row(category: "overall", correct: 0, total: 0)
    public private(set) var categories: [Row] = []

    public init() {}

    public mutating func add(category: String, correct: Bool) {
        overall.total += 1
        if correct { overall.correct += 1 }
        if let i = categories.firstIndex(where: { $0.category == category }) {
            categories[i].total += 1
            if correct { categories[i].correct += 1 }
        } else {
            categories.append(Row(category: category, correct: correct ? 1 : 0, total: 1))
        }
    }

    public var json: JSON {
        func row(_ r: Row) -> JSON { ["correct": .int(Int64(r.correct)), "total": .int(Int64(r.total)), "accuracy": .double(r.accuracy)] }
        return ["overall": row(overall), "categories": .object(JSONObject(categories.map { ($0.category, row($0)) }))]
    }
}

extension String {
    var trimmed: String { trimmed(of: [" ", "\n", "\t", "\r"]) }

    func trimmed(of set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }

    /// Every occurrence of `target` replaced (no Foundation).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) {
                out += replacement
                i = index(i, offsetBy: target.count)
            } else {
                out.append(self[i])
                i = index(after: i)
            }
        }
        return out
    }
}
