import ReelCore

/// A checkpoint's chat template (the Jinja subset HF chat templates use), compiled once and rendered per conversation.
///
/// Mirrors `transformers.utils.chat_template_utils.render_jinja_template`: the template is compiled with
/// `trim_blocks=True, lstrip_blocks=True`, `tojson` is Python's `json.dumps(ensure_ascii=False)`, and
/// `raise_exception`, `strftime_now` and `namespace` are globals. See docs/chat-templates.md for the subset.
public struct ChatTemplate: Sendable {
    let body: [Node]
    let macros: [String: MacroDef]

    /// Compiles a template.
    /// - Parameter source: the Jinja text, as found under `chat_template`.
    /// - Throws: `ChatTemplateError.syntax`, `.unknownFilter` or `.unknownTest`, each with line and column.
    public init(_ source: String) throws {
        let lexed = try TemplateLexer(source).tokens()
        var parser = TemplateParser(lexed)
        body = try parser.parseTemplate()
        macros = parser.macros
    }

    /// Renders a conversation.
    /// - Parameters:
    ///   - messages: JSON objects such as `{"role": "user", "content": "hi"}`; `content` may be a list of parts
    ///     (`{"type": "text", "text": "…"}`, `{"type": "video"}`, …). Null-valued keys are dropped and reasoning
    ///     fields aliased, as `apply_chat_template` does.
    ///   - addGenerationPrompt: append the assistant header, as `add_generation_prompt=True` does.
    ///   - variables: further template variables: `bos_token`, `eos_token`, `tools`, `date_string`, ….
    ///     Like transformers, `tools` and `documents` are defined (as none) when not given.
    /// - Returns: the prompt text.
    /// - Throws: `ChatTemplateError.raised` for `raise_exception(msg)`, `.render` for type and undefined errors.
    public func render(messages: [JSON], addGenerationPrompt: Bool, variables: [String: JSON] = [:]) throws -> String {
        var globals: [String: Value] = [:]
        for (k, v) in variables { globals[k] = Value(json: v) }
        if globals["tools"] == nil { globals["tools"] = Value.none }
        if globals["documents"] == nil { globals["documents"] = Value.none }
        globals["messages"] = .list(try messages.enumerated().map { try Self.prepare(message: $1, index: $0) })
        globals["add_generation_prompt"] = .bool(addGenerationPrompt)
        var interp = Interpreter(globals: globals, macros: macros, now: now)
        return try interp.render(body)
    }

    /// A message as `apply_chat_template` hands it to the template: keys whose value is null are dropped
    /// (`_normalize_chat_messages`), and reasoning given under `reasoning_content`, `thinking` or `reasoning` is
    /// also exposed as `thinking` (first) and `reasoning_content` (`_alias_reasoning_fields`).
    static func prepare(message: JSON, index: Int) throws -> Value {
        guard case let .object(o) = message else {
            throw ChatTemplateError.invalidMessage(index: index, reason: "a message must be a JSON object")
        }
        var kept = JSONObject()
        for (k, v) in o where !v.isNull { kept[k] = v }
        if let reasoning = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap({ kept[$0] }).first {
            var aliased = JSONObject([("thinking", reasoning)])
            for (k, v) in kept { aliased[k] = v }
            aliased["reasoning_content"] = reasoning
            kept = aliased
        }
        return Value(json: .object(kept))
    }

    /// The clock behind `strftime_now`; local time by default. Tests pin it.
    public var now: @Sendable () -> BrokenDownTime = { BrokenDownTime.localNow() }

    /// Finds the chat template in a parsed tokenizer_config.json, processor_config.json or chat_template.json.
    ///
    /// `chat_template` may be a string, or a list of `{"name": …, "template": …}` of which `name` (default
    /// "default") is taken.
    /// - Returns: the template text, or nil when the config has none.
    /// - Throws: `ChatTemplateError.config` when the key is present but malformed or the name is missing.
    public static func source(inConfig config: JSON, name: String = "default") throws -> String? {
        guard let value = config["chat_template"], !value.isNull else { return nil }
        if let s = value.string { return s }
        guard let list = value.array else {
            throw ChatTemplateError.config("chat_template should be a string or a list of {name, template}")
        }
        var names: [String] = []
        for entry in list {
            guard let n = entry["name"]?.string, let t = entry["template"]?.string else {
                throw ChatTemplateError.config("chat_template list entries need string \"name\" and \"template\"")
            }
            if n == name { return t }
            names.append(n)
        }
        throw ChatTemplateError.config("no chat_template named \"\(name)\" (have: \(names.joined(separator: ", ")))")
    }
}

/// Errors from compiling or rendering a chat template; every case past `config` names line and column (1-based).
public enum ChatTemplateError: Error, Equatable, CustomStringConvertible {
    /// Malformed template text: an unterminated tag or block, an unexpected token.
    case syntax(line: Int, column: Int, message: String)
    /// A filter the interpreter does not know; Jinja also rejects these at compile time.
    case unknownFilter(name: String, line: Int, column: Int)
    /// A test (`x is …`) the interpreter does not know.
    case unknownTest(name: String, line: Int, column: Int)
    /// A failure while rendering: wrong types, an undefined value used as an object, a bad call.
    case render(line: Int, column: Int, message: String)
    /// The template called `raise_exception(message)`.
    case raised(message: String, line: Int, column: Int)
    /// A message passed to `render` is not a JSON object.
    case invalidMessage(index: Int, reason: String)
    /// The config holding the template is malformed.
    case config(String)

    public var description: String {
        switch self {
        case let .syntax(l, c, m): return "chat template \(l):\(c): syntax error: \(m)"
        case let .unknownFilter(n, l, c): return "chat template \(l):\(c): unknown filter '\(n)'"
        case let .unknownTest(n, l, c): return "chat template \(l):\(c): unknown test '\(n)'"
        case let .render(l, c, m): return "chat template \(l):\(c): \(m)"
        case let .raised(m, l, c): return "chat template \(l):\(c): raise_exception: \(m)"
        case let .invalidMessage(i, r): return "chat message \(i): \(r)"
        case let .config(m): return "chat template config: \(m)"
        }
    }
}

/// A calendar time for `strftime_now`.
public struct BrokenDownTime: Sendable, Equatable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    /// 0 = Sunday.
    public var weekday: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, weekday: Int) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second, self.weekday) =
            (year, month, day, hour, minute, second, weekday)
    }
}
