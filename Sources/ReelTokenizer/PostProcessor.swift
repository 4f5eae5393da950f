/// A post-processor from `tokenizer.json` (`post_processor`): what `add_special_tokens` adds around a
/// single sequence. Pairs are not supported (Reel encodes one sequence at a time).
indirect enum PostProcessor {
    case sequence([PostProcessor])
    /// A template of special-token ids and the sequence ("$A"), e.g. `<s> $A` (Llama-2) or Whisper's prefix.
    case template([Item])
    /// Adds nothing; its offsets trimming does not change ids.
    case byteLevel
    /// `cls $A sep` (RobertaProcessing and BertProcessing).
    case wrap(cls: Int, sep: Int)

    enum Item { case ids([Int]), sequence }

    init(_ n: ConfigNode) throws {
        let type = try n.type()
        switch type {
        case "Sequence": self = .sequence(try n.require("processors").asArray().map(PostProcessor.init))
        case "ByteLevel": self = .byteLevel
        case "RobertaProcessing", "BertProcessing":
            func idOf(_ key: String) throws -> Int {
                let pair = try n.require(key).asArray()
                guard pair.count == 2 else { throw TokenizerError.wrongType(file: n.file, key: n.path + ".\(key)", expected: "[token, id]") }
                return try pair[1].asInt()
            }
            self = .wrap(cls: try idOf("cls"), sep: try idOf("sep"))
        case "TemplateProcessing":
            let specials = try n.optional("special_tokens")?.asObject() ?? []
            var table: [String: [Int]] = [:]
            for (name, s) in specials { table[name] = try s.require("ids").asArray().map { try $0.asInt() } }
            var items: [Item] = []
            for piece in try n.require("single").asArray() {
                if let s = piece.optional("SpecialToken") {
                    let name = try s.string("id")
                    guard let ids = table[name] else { throw TokenizerError.unknownToken(file: n.file, key: s.path, token: name) }
                    items.append(.ids(ids))
                } else if piece.optional("Sequence") != nil {
                    items.append(.sequence)
                } else {
                    throw TokenizerError.wrongType(file: n.file, key: piece.path, expected: "{\"SpecialToken\": …} or {\"Sequence\": …}")
                }
            }
            self = .template(items)
        default: throw n.unsupported(type)
        }
    }

    func process(_ ids: [Int]) -> [Int] {
        switch self {
        case let .sequence(list): return list.reduce(ids) { $1.process($0) }
        case .byteLevel: return ids
        case let .wrap(cls, sep): return [cls] + ids + [sep]
        case let .template(items):
            return items.flatMap { item -> [Int] in
                switch item { case let .ids(x): return x; case .sequence: return ids }
            }
        }
    }
}
