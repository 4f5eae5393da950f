import ArgumentParser
import ReelCore
import ReelFormat
import ReelQuant

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is inside a .reel file.",
        discussion: """
        Architecture, components and their hyperparameters, the tokenizer, encodings with bytes and bits per \
        weight, the quantisation policy's exceptions, and provenance. Opening reads only the metadata, so this is \
        instant on any size of file.

        Examples:
          reel inspect model.reel
          reel inspect model.reel --tensors   # encoding, shape, bytes of each
          reel inspect model.reel --json | jq .components
        """)

    @Argument(help: "The .reel file.")
    var file: String

    @Flag(help: "List every tensor.")
    var tensors = false

    @Flag(help: "Print JSON on stdout (the metadata, less the verbatim source config, plus the summary).")
    var json = false

    func run() throws {
        let f = try ReelFile(path: file)
        let s = f.summary()
        if json {
            var o = JSONObject()
            o["file"] = .string(file)
            o["format_version"] = .int(Int64(f.formatVersion))
            o["architecture"] = .string(f.architecture)
            o["components"] = f.metadata["components"] ?? .null
            o["tokenizer"] = tokenizerSummary(f).map { JSON.object($0) } ?? .null
            o["encodings"] = .array(s.rows.map { ["encoding": .string($0.encoding.rawValue), "tensors": .int(Int64($0.tensorCount)),
                                                  "parameters": .int(Int64($0.elementCount)), "bytes": .int(Int64($0.bytes)),
                                                  "bits_per_weight": .double($0.bitsPerWeight)] })
            o["file_bytes"] = .int(Int64(s.fileBytes))
            o["bits_per_weight"] = .double(s.bitsPerWeight)
            o["provenance"] = f.metadata["provenance"] ?? .null
            if tensors {
                o["tensors"] = .array(f.tensors.map { ["name": .string($0.name), "encoding": .string($0.encoding.rawValue),
                                                        "shape": .array($0.shape.map { .int(Int64($0)) }), "bytes": .int(Int64($0.length))] })
            }
            print(JSON.object(o).serialized(pretty: true))
            return
        }
        print("\(file)  (.reel format v\(f.formatVersion), \(formatBytes(s.fileBytes)))")
        print("architecture  \(f.architecture)")
        for c in f.components {
            let keys = c.config.filter { k, v in k != "family" && v.object == nil && v.array == nil }.map { "\($0.key)=\($0.value.serialized())" }
            print("  \(pad(c.name, 10)) \(c.family): \(keys.joined(separator: " "))")
            if let rope = c.config["rope"]?.object {
                print("  \(pad("", 10)) rope: \(rope.map { "\($0.key)=\($0.value.serialized())" }.joined(separator: " "))")
            }
        }
        if let t = tokenizerSummary(f) {
            print("tokenizer     \(t.map { "\($0.key)=\($0.value.serialized())" }.joined(separator: " "))")
        } else {
            print("tokenizer     (none)")
        }
        if let pre = f.metadata["preprocessors"]?.object, !pre.isEmpty {
            print("preprocessors \(pre.keys.joined(separator: ", "))")
        }
        print("encodings")
        for r in s.rows {
            print("  \(pad(r.encoding.rawValue, 5)) \(rpad("\(r.tensorCount)", 5)) tensors \(rpad(formatCount(r.elementCount), 8)) params \(rpad(formatBytes(r.bytes), 10))  \(fixed(r.bitsPerWeight, 2)) bpw")
        }
        print("  total \(rpad("\(s.tensorCount)", 5)) tensors \(rpad(formatCount(s.elementCount), 8)) params \(rpad(formatBytes(s.tensorBytes), 10))  \(fixed(s.bitsPerWeight, 2)) bpw")
        if let p = f.metadata["provenance"]?.object {
            print("provenance")
            for k in ["converter", "created", "source", "quant", "quantized_from"] {
                if let v = p[k]?.string { print("  \(pad(k, 15)) \(v)") }
            }
            if let o = p["overrides"]?.array, !o.isEmpty { print("  \(pad("overrides", 15)) \(o.compactMap(\.string).joined(separator: " "))") }
            if let ex = p["exceptions"]?.object, !ex.isEmpty {
                print("  policy exceptions (tensors not at the body encoding):")
                for (k, v) in ex { print("    \(pad(k, 48)) \(v.string ?? "")") }
            }
            if let files = p["files"]?.array {
                print("  source files   \(files.count): " + files.compactMap { $0["name"]?.string }.joined(separator: ", "))
            }
        }
        if tensors {
            print("tensors")
            for t in f.tensors {
                print("  \(pad(t.name, 56)) \(pad(t.encoding.rawValue, 5)) \(pad("\(t.shape)", 16)) \(rpad(formatBytes(t.length), 10))")
            }
        }
    }

    /// Vocabulary size, model type and chat-template presence, read from the stored tokenizer files.
    func tokenizerSummary(_ f: ReelFile) -> JSONObject? {
        guard let t = f.metadata["tokenizer"]?.object else { return nil }
        var o = JSONObject()
        if let n = t["vocab_size"] { o["vocab_size"] = n }
        if let tj = try? f.blob(t["blob"]?.string ?? "tokenizer.json"), let j = try? JSON.parse(tj, source: "tokenizer.json") {
            o["model"] = j["model"]?["type"] ?? .null
            o["added_tokens"] = .int(Int64(j["added_tokens"]?.array?.count ?? 0))
        }
        if let cb = t["config_blob"]?.string, let tc = try? f.blob(cb), let j = try? JSON.parse(tc, source: cb) {
            o["chat_template"] = .bool(j["chat_template"] != nil || f.blobInfo("chat_template.jinja") != nil)
            for k in ["bos_token", "eos_token"] {
                if let v = j[k] { o[k] = v.string.map { .string($0) } ?? v["content"] ?? .null }
            }
        }
        return o
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a .reel file's structure and every checksum.",
        discussion: """
        Re-reads every tensor and blob and compares its XXH64 with the metadata. Exits 0 when the file is whole; \
        otherwise prints the first bad tensor or blob and exits 1.

        Example:
          reel verify model.reel && echo whole
        """)

    @Argument(help: "The .reel file.")
    var file: String

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    func run() throws {
        let f: ReelFile
        do { f = try ReelFile(path: file) } catch {
            // A file that does not open (missing, truncated, a bad header) is a failed check too, for scripts.
            if json { print(JSON.object(JSONObject([("file", .string(file)), ("ok", .bool(false)), ("error", .string("\(error)"))])).serialized(pretty: true)) }
            throw error
        }
        let bar = ProgressBar(label: "verify", total: f.tensors.count + f.blobs.count, totalBytes: f.dataLength, quiet: quiet)
        let report: VerifyReport
        do {
            var lastDone = 0
            report = try f.verify { done, total in
                bar.advance(items: 0, bytes: done - lastDone)
                lastDone = done
                _ = total
            }
            bar.finish()
        } catch {
            bar.finish()
            if json { print(JSON.object(JSONObject([("file", .string(file)), ("ok", .bool(false)), ("error", .string("\(error)"))])).serialized(pretty: true)) }
            throw error
        }
        if json {
            print(JSON.object(JSONObject([("file", .string(file)), ("ok", .bool(true)), ("tensors", .int(Int64(report.tensorsChecked))),
                                          ("blobs", .int(Int64(report.blobsChecked))), ("bytes", .int(Int64(report.bytesChecked)))])).serialized(pretty: true))
        } else {
            print("\(file): ok — \(report.tensorsChecked) tensors and \(report.blobsChecked) blobs, \(formatBytes(report.bytesChecked)) checked, every checksum matches")
        }
    }
}
