import ReelCore

extension ChatTemplate {
    /// Finds the chat template a checkpoint directory carries.
    ///
    /// Consulted in order, first hit wins: `chat_template.jinja` (for another name,
    /// `additional_chat_templates/<name>.jinja`), `chat_template.json` (the processor's template, which multimodal
    /// checkpoints keep apart from the text-only one in the tokenizer config), `tokenizer_config.json`.
    /// - Parameters:
    ///   - directory: the checkpoint folder.
    ///   - name: which named template; "default" unless the checkpoint offers others (e.g. "tool_use").
    /// - Returns: the template text and the path it was read from, or nil when no file has one.
    /// - Throws: `ChatTemplateError.config` naming the file when one is unreadable or malformed.
    public static func source(inCheckpoint directory: String, name: String = "default") throws -> (text: String, path: String)? {
        let jinja = name == "default" ? joinPath(directory, "chat_template.jinja")
            : joinPath(joinPath(directory, "additional_chat_templates"), name + ".jinja")
        if fileExists(jinja) {
            return (try readText(jinja), jinja)
        }
        for file in ["chat_template.json", "tokenizer_config.json"] {
            let path = joinPath(directory, file)
            guard fileExists(path) else { continue }
            let config: JSON
            do {
                config = try JSON.parse(try readText(path), source: path)
            } catch let e as ChatTemplateError {
                throw e
            } catch {
                throw ChatTemplateError.config("\(error)")
            }
            do {
                if let text = try source(inConfig: config, name: name) { return (text, path) }
            } catch let ChatTemplateError.config(message) {
                throw ChatTemplateError.config("\(path): \(message)")
            }
        }
        return nil
    }

    private static func readText(_ path: String) throws -> String {
        do {
            guard try fileSize(path) > 0 else { return "" }
            return String(decoding: try readWholeFile(path), as: UTF8.self)
        } catch {
            throw ChatTemplateError.config("\(path): \(error)")
        }
    }
}
