#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The BPE model of `tokenizer.json` (`model`, type "BPE"). Mirrors `tokenizers::models::bpe::BPE`:
/// characters → ids (with byte fallback or unk), then merges applied lowest rank first, leftmost first.
final class BPEModel: @unchecked Sendable {
    /// token (UTF-8 bytes, so that canonically equivalent tokens stay distinct) → id, and id → token
    /// (nil where the vocab leaves a hole).
    let vocab: [TokenKey: Int]
    let vocabR: [String?]
    /// (left id, right id) packed in a UInt64 → (rank, merged id). Rank is the merge's index in the file.
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    let unkId: Int?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    /// The ids of the `<0xNN>` tokens, when byte fallback is on.
    private let byteIds: [Int]?
    private let cache = WordCache(capacity: 10_000)

    init(_ n: ConfigNode) throws {
        // Files written by early tokenizers versions may leave out the model's type; merges then mean BPE.
        let type = try n.optionalString("type") ?? (n.optional("merges") != nil ? "BPE" : "(none)")
        guard type == "BPE" else { throw n.unsupported(type) }
        if let d = n.optional("dropout"), let p = d.value.double, p > 0 { throw n.invalid("dropout", "\(p) (BPE dropout is for training)") }

        // Raw values, not Nodes: a key path per entry would cost more than the entry (32k–150k of them).
        let vocabNode = try n.require("vocab")
        guard let entries = vocabNode.value.object else {
            throw TokenizerError.wrongType(file: n.file, key: vocabNode.path, expected: "an object")
        }
        var vocab: [TokenKey: Int] = [:]
        vocab.reserveCapacity(entries.count)
        var maxId = -1
        for (token, value) in entries {
            guard let id = value.int else {
                throw TokenizerError.wrongType(file: n.file, key: vocabNode.path + ".\(token)", expected: "an integer")
            }
            guard id >= 0, id < 1 << 31 else {
                throw TokenizerError.invalidValue(file: n.file, key: vocabNode.path + ".\(token)", value: "\(id)")
            }
            vocab[TokenKey(token)] = id
            maxId = max(maxId, id)
        }
        var vocabR = [String?](repeating: nil, count: maxId + 1)
        for (t, id) in entries.map({ ($0.key, $0.value.int ?? -1) }) where vocab[TokenKey(t)] == id { vocabR[id] = t }
        self.vocab = vocab
        self.vocabR = vocabR

        let prefix = try n.optionalString("continuing_subword_prefix")
        continuingSubwordPrefix = prefix?.isEmpty == true ? nil : prefix
        let suffix = try n.optionalString("end_of_word_suffix")
        endOfWordSuffix = suffix?.isEmpty == true ? nil : suffix
        merges = try BPEModel.readMerges(n, vocab: vocab, prefixLength: continuingSubwordPrefix?.utf8.count ?? 0)

        if let unk = try n.optionalString("unk_token") {
            guard let id = vocab[TokenKey(unk)] else { throw TokenizerError.unknownToken(file: n.file, key: n.path + ".unk_token", token: unk) }
            unkId = id
        } else { unkId = nil }
        fuseUnk = try n.bool("fuse_unk", default: false)
        byteFallback = try n.bool("byte_fallback", default: false)
        ignoreMerges = try n.bool("ignore_merges", default: false)
        if byteFallback {
            let ids = (0..<256).map { vocab[TokenKey(byteToken(UInt8($0)))] }
            byteIds = ids.contains(where: { $0 == nil }) ? nil : ids.map { $0! }
        } else { byteIds = nil }
    }

    /// Reads merges as "a b" strings (older files) or [a, b] pairs (newer files); the rank is the index.
    private static func readMerges(_ n: ConfigNode, vocab: [TokenKey: Int], prefixLength: Int) throws -> [UInt64: (rank: Int32, id: Int32)] {
        guard let m = n.optional("merges") else { return [:] }
        guard let list = m.value.array else { throw TokenizerError.wrongType(file: n.file, key: m.path, expected: "an array") }
        var out: [UInt64: (rank: Int32, id: Int32)] = [:]
        out.reserveCapacity(list.count)
        for (rank, item) in list.enumerated() {
            let path = { "\(m.path)[\(rank)]" }
            let a: String, b: String
            if let s = item.string {
                // "a b": split at the one space (tokens never contain a space in this serialisation).
                let u = s.utf8
                guard let sp = u.firstIndex(of: 0x20), !u[u.index(after: sp)...].contains(0x20) else {
                    throw TokenizerError.invalidValue(file: n.file, key: path(), value: "\"\(s)\" (expected \"a b\")")
                }
                a = String(s[..<sp]); b = String(s[u.index(after: sp)...])
            } else if let pair = item.array, pair.count == 2, let x = pair[0].string, let y = pair[1].string {
                a = x; b = y
            } else {
                throw TokenizerError.wrongType(file: n.file, key: path(), expected: "\"a b\" or [\"a\", \"b\"]")
            }
            guard let ia = vocab[TokenKey(a)] else { throw TokenizerError.unknownToken(file: n.file, key: path(), token: a) }
            guard let ib = vocab[TokenKey(b)] else { throw TokenizerError.unknownToken(file: n.file, key: path(), token: b) }
            let merged = prefixLength == 0 ? a + b : a + String(decoding: Array(b.utf8).dropFirst(prefixLength), as: UTF8.self)
            guard let id = vocab[TokenKey(merged)] else { throw TokenizerError.unknownToken(file: n.file, key: path(), token: merged) }
            // Later duplicates overwrite earlier ones, as building a HashMap does in tokenizers.
            out[pairKey(ia, ib)] = (Int32(rank), Int32(id))
        }
        return out
    }

    /// Token ids for one pre-tokenized word. Mirrors `BPE::tokenize` (cache, ignore_merges, merge_word).
    func tokenize(_ word: String, into out: inout [Int]) {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocab[TokenKey(word)] { out.append(id); return }
        // Keyed by bytes: "▁à" and "▁a\u{300}" are equal Swift Strings but different words here.
        let key = word.utf8.count < 256 ? TokenKey(word) : nil
        if let key, let hit = cache.get(key) { out += hit; return }
        let ids = mergeWord(word)
        if let key { cache.set(key, ids) }
        out += ids
    }

    /// Characters → initial symbols (with unk fusing and byte fallback), then the merge loop.
    private func mergeWord(_ word: String) -> [Int] {
        var symbols: [Int] = []
        var pendingUnk = false
        let scalars = word.unicodeScalars
        var i = scalars.startIndex
        var isFirst = true
        while i < scalars.endIndex {
            let c = scalars[i]
            scalars.formIndex(after: &i)
            let isLast = i == scalars.endIndex
            var s = String(c)
            if !isFirst, let p = continuingSubwordPrefix { s = p + s }
            if isLast, let x = endOfWordSuffix { s += x }
            isFirst = false
            if let id = vocab[TokenKey(s)] {
                if pendingUnk, let u = unkId { symbols.append(u); pendingUnk = false }
                symbols.append(id)
                continue
            }
            if let byteIds {
                // With byte fallback on, an unknown character never becomes unk, so none is pending here.
                for b in s.utf8 { symbols.append(byteIds[Int(b)]) }
                continue
            }
            guard let u = unkId else { continue }  // no unk token: the character is dropped
            if pendingUnk && !fuseUnk { symbols.append(u) }
            pendingUnk = true
        }
        if pendingUnk, let u = unkId { symbols.append(u) }
        return merge(symbols)
    }

    /// Applies merges lowest rank first (leftmost on ties) with a heap over a linked list of symbols.
    /// Mirrors `Word::merge_all`.
    private func merge(_ ids: [Int]) -> [Int] {
        let n = ids.count
        if n < 2 || merges.isEmpty { return ids }
        var sym = ids
        var prev = (0..<n).map { $0 - 1 }
        var next = (0..<n).map { $0 + 1 < n ? $0 + 1 : -1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for p in 0..<(n - 1) {
            if let m = merges[pairKey(sym[p], sym[p + 1])] { heap.push(.init(rank: m.rank, pos: Int32(p), id: m.id)) }
        }
        while let top = heap.pop() {
            let p = Int(top.pos)
            guard alive[p], next[p] >= 0 else { continue }
            let q = next[p]
            // Skip stale entries: the pair at p changed since this entry was pushed.
            guard let m = merges[pairKey(sym[p], sym[q])], m.id == top.id else { continue }
            sym[p] = Int(m.id)
            alive[q] = false
            next[p] = next[q]
            if next[q] >= 0 { prev[next[q]] = p }
            if prev[p] >= 0, let m = merges[pairKey(sym[prev[p]], sym[p])] {
                heap.push(.init(rank: m.rank, pos: Int32(prev[p]), id: m.id))
            }
            if next[p] >= 0, let m = merges[pairKey(sym[p], sym[next[p]])] {
                heap.push(.init(rank: m.rank, pos: Int32(p), id: m.id))
            }
        }
        var out: [Int] = []
        var p = 0
        while p >= 0 { out.append(sym[p]); p = next[p] }
        return out
    }
}

/// "<0x0A>": the byte-fallback token for a byte.
func byteToken(_ b: UInt8) -> String {
    let hex = Array("0123456789ABCDEF")
    return "<0x" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)]) + ">"
}

@inline(__always) private func pairKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: a)) << 32 | UInt64(UInt32(truncatingIfNeeded: b)) }

/// A binary min-heap of pending merges ordered by (rank, position).
private struct MergeHeap {
    struct Entry { var rank: Int32; var pos: Int32; var id: Int32 }
    private var a: [Entry] = []

    private static func less(_ x: Entry, _ y: Entry) -> Bool { x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos }

    mutating func push(_ e: Entry) {
        a.append(e)
        var i = a.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard MergeHeap.less(a[i], a[parent]) else { break }
            a.swapAt(i, parent); i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = a.first else { return nil }
        let last = a.removeLast()
        if a.isEmpty { return first }
        a[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < a.count && MergeHeap.less(a[l], a[m]) { m = l }
            if r < a.count && MergeHeap.less(a[r], a[m]) { m = r }
            if m == i { break }
            a.swapAt(i, m); i = m
        }
        return first
    }
}

/// A bounded word → ids cache shared by all callers of one tokenizer (guarded by a mutex).
final class WordCache: @unchecked Sendable {
    private var map: [TokenKey: [Int]] = [:]
    private let capacity: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(capacity: Int) {
        self.capacity = capacity
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func get(_ key: TokenKey) -> [Int]? {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return map[key]
    }

    func set(_ key: TokenKey, _ ids: [Int]) {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        if map.count >= capacity { return }  // full: stop adding, as tokenizers' cache does
        map[key] = ids
    }
}
