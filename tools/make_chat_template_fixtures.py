#!/usr/bin/env python3
"""Renders the chat templates of Reel's model families with transformers' own Jinja machinery.

Writes Tests/ReelTokenizerTests/Fixtures/chat_templates.json: the templates (with their sources), the distinct
conversations, and for every case the template, the conversation, add_generation_prompt, the extra variables, and
either the expected text or the error the template raised (its message and kind). The Swift tests (ChatTemplateParityTests) assert byte-identical output.

Reference: transformers.utils.chat_template_utils.render_jinja_template, i.e. the sandboxed Jinja environment
transformers compiles every chat template with (trim_blocks=True, lstrip_blocks=True, its own tojson,
raise_exception, strftime_now, namespace). It is called exactly as apply_chat_template calls it: messages go through
_normalize_chat_messages (null-valued keys dropped) and `tools` and `documents` are always passed (None when
absent). Nothing is downloaded.

Run from the repository root:  python3 tools/make_chat_template_fixtures.py
Re-record only on purpose: the fixture is the reference the Swift renderer is held to.
"""

import json
import os
import sys

import jinja2
import transformers
from transformers.utils.chat_template_utils import _normalize_chat_messages, render_jinja_template

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ReelTokenizerTests", "Fixtures", "chat_templates.json")
SHARED_TOKENIZERS = "/work/shared/tokenizers"  # real tokenizer_config.json files; see SOURCES.md there


def config_template(name):
    """The chat_template string of a tokenizer_config.json in the shared tokenizer folder, read at fixture time."""
    with open(os.path.join(SHARED_TOKENIZERS, name, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    return cfg["chat_template"], {k: cfg[k] for k in ("bos_token", "eos_token") if isinstance(cfg.get(k), str)}


# ---------------------------------------------------------------------------------------------------------------
# Templates. Each names where the exact string was taken from.

QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

QWEN2_5 = "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n            {{- '\\n' + message.content }}\n        {%- endif %}\n        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n            {{- tool_call.name }}\n            {{- '\", \"arguments\": ' }}\n            {{- tool_call.arguments | tojson }}\n            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}\n        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"

QWEN2_VL = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAMA3_2 = "{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_message = true %}\n{%- endif %}\n{%- if not date_string is defined %}\n    {%- if strftime_now is defined %}\n        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n    {%- else %}\n        {%- set date_string = \"26 Jul 2024\" %}\n    {%- endif %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n{#- This block extracts the system message, so we can slot it into the right place. #}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n\n{#- System message #}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{%- if tools is not none and not tools_in_user_message %}\n    {{- \"You have access to the following functions. To call a function, please respond with JSON for a function call.\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n{%- endif %}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n\n{#- Custom tools are passed in a user message with some extra guidance #}\n{%- if tools_in_user_message and not tools is none %}\n    {#- Extract the first user message so we can plug it in here #}\n    {%- if messages | length != 0 %}\n        {%- set first_user_message = messages[0]['content']|trim %}\n        {%- set messages = messages[1:] %}\n    {%- else %}\n        {{- raise_exception(\"Cannot put tools in the first user message when there's no first user message!\") }}\n{%- endif %}\n    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}\n    {{- \"Given the following functions, please respond with a JSON for a function call \" }}\n    {{- \"with its proper arguments that best answers the given prompt.\\n\\n\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n    {{- first_user_message + \"<|eot_id|>\"}}\n{%- endif %}\n\n{%- for message in messages %}\n    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}\n        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n    {%- elif 'tool_calls' in message %}\n        {%- if not message.tool_calls|length == 1 %}\n            {{- raise_exception(\"This model only supports single tool-calls at once!\") }}\n        {%- endif %}\n        {%- set tool_call = message.tool_calls[0].function %}\n        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n        {{- '{\"name\": \"' + tool_call.name + '\", ' }}\n        {{- '\"parameters\": ' }}\n        {{- tool_call.arguments | tojson }}\n        {{- \"}\" }}\n        {{- \"<|eot_id|>\" }}\n    {%- elif message.role == \"tool\" or message.role == \"ipython\" %}\n        {{- \"<|start_header_id|>ipython<|end_header_id|>\\n\\n\" }}\n        {%- if message.content is mapping or message.content is iterable %}\n            {{- message.content | tojson }}\n        {%- else %}\n            {{- message.content }}\n        {%- endif %}\n        {{- \"<|eot_id|>\" }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n"

LLAVA_ONEVISION = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}"
    "{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}{{'<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAVA_NEXT_VIDEO = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{{ message['content'][0]['text'] }}"
    "{% else %}"
    "{{ message['role'].upper() + ': '}}"
    "{% endif %}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}"
    "{% endfor %}"
    "{# Render all text next #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}"
    "{% endfor %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ 'ASSISTANT:' }}"
    "{% endif %}"
)

# Qwen3 (a stress test: reversed loops, namespace, split/strip chains, reasoning content). The text is the JSON string
# literal exactly as it appears in tokenizer_config.json, decoded here.
QWEN3 = json.loads(r'''"{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0].role == 'system' %}\n        {{- messages[0].content + '\\n\\n' }}\n    {%- endif %}\n    {{- \"# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if messages[0].role == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n{%- for message in messages[::-1] %}\n    {%- set index = (messages|length - 1) - loop.index0 %}\n    {%- if ns.multi_step_tool and message.role == \"user\" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}\n        {%- set ns.multi_step_tool = false %}\n        {%- set ns.last_query_index = index %}\n    {%- endif %}\n{%- endfor %}\n{%- for message in messages %}\n    {%- if message.content is string %}\n        {%- set content = message.content %}\n    {%- else %}\n        {%- set content = '' %}\n    {%- endif %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) %}\n        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n        {%- set reasoning_content = '' %}\n        {%- if message.reasoning_content is string %}\n            {%- set reasoning_content = message.reasoning_content %}\n        {%- else %}\n            {%- if '</think>' in content %}\n                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n            {%- endif %}\n        {%- endif %}\n        {%- if loop.index0 > ns.last_query_index %}\n            {%- if loop.last or (not loop.last and reasoning_content) %}\n                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n            {%- else %}\n                {{- '<|im_start|>' + message.role + '\\n' + content }}\n            {%- endif %}\n        {%- else %}\n            {{- '<|im_start|>' + message.role + '\\n' + content }}\n        {%- endif %}\n        {%- if message.tool_calls %}\n            {%- for tool_call in message.tool_calls %}\n                {%- if (loop.first and content) or (not loop.first) %}\n                    {{- '\\n' }}\n                {%- endif %}\n                {%- if tool_call.function %}\n                    {%- set tool_call = tool_call.function %}\n                {%- endif %}\n                {{- '<tool_call>\\n{\"name\": \"' }}\n                {{- tool_call.name }}\n                {{- '\", \"arguments\": ' }}\n                {%- if tool_call.arguments is string %}\n                    {{- tool_call.arguments }}\n                {%- else %}\n                    {{- tool_call.arguments | tojson }}\n                {%- endif %}\n                {{- '}\\n</tool_call>' }}\n            {%- endfor %}\n        {%- endif %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}\n        {%- if loop.first or (messages[loop.index0 - 1].role != \"tool\") %}\n            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n        {{- content }}\n        {{- '\\n</tool_response>' }}\n        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n<think>\\n' }}\n{%- endif %}"''')

# Llama-3.1 / 3.3 (builtin_tools, <|python_tag|>, <|eom_id|>), as a JSON string literal decoded here.
LLAMA3_1 = json.loads(r'''"{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_message = true %}\n{%- endif %}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n{#- This block extracts the system message, so we can slot it into the right place. #}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n\n{#- System message + builtin tools #}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if builtin_tools is defined or tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{%- if builtin_tools is defined %}\n    {{- \"Tools: \" + builtin_tools | reject('equalto', 'code_interpreter') | join(\", \") + \"\\n\\n\"}}\n{%- endif %}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{%- if tools is not none and not tools_in_user_message %}\n    {{- \"You have access to the following functions. To call a function, please respond with JSON for a function call.\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n{%- endif %}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n\n{#- Custom tools are passed in a user message with some extra guidance #}\n{%- if tools_in_user_message and not tools is none %}\n    {#- Extract the first user message so we can plug it in here #}\n    {%- if messages | length != 0 %}\n        {%- set first_user_message = messages[0]['content']|trim %}\n        {%- set messages = messages[1:] %}\n    {%- else %}\n        {{- raise_exception(\"Cannot put tools in the first user message when there's no first user message!\") }}\n{%- endif %}\n    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}\n    {{- \"Given the following functions, please respond with a JSON for a function call \" }}\n    {{- \"with its proper arguments that best answers the given prompt.\\n\\n\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n    {{- first_user_message + \"<|eot_id|>\"}}\n{%- endif %}\n\n{%- for message in messages %}\n    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}\n        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n    {%- elif 'tool_calls' in message %}\n        {%- if not message.tool_calls|length == 1 %}\n            {{- raise_exception(\"This model only supports single tool-calls at once!\") }}\n        {%- endif %}\n        {%- set tool_call = message.tool_calls[0].function %}\n        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}\n            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n            {{- \"<|python_tag|>\" + tool_call.name + \".call(\" }}\n            {%- for arg_name, arg_val in tool_call.arguments | items %}\n                {{- arg_name + '=\"' + arg_val + '\"' }}\n                {%- if not loop.last %}\n                    {{- \", \" }}\n                {%- endif %}\n                {%- endfor %}\n            {{- \")\" }}\n        {%- else  %}\n            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n            {{- '{\"name\": \"' + tool_call.name + '\", ' }}\n            {{- '\"parameters\": ' }}\n            {{- tool_call.arguments | tojson }}\n            {{- \"}\" }}\n        {%- endif %}\n        {%- if builtin_tools is defined %}\n            {#- This means we're in ipython mode #}\n            {{- \"<|eom_id|>\" }}\n        {%- else %}\n            {{- \"<|eot_id|>\" }}\n        {%- endif %}\n    {%- elif message.role == \"tool\" or message.role == \"ipython\" %}\n        {{- \"<|start_header_id|>ipython<|end_header_id|>\\n\\n\" }}\n        {%- if message.content is mapping or message.content is iterable %}\n            {{- message.content | tojson }}\n        {%- else %}\n            {{- message.content }}\n        {%- endif %}\n        {{- \"<|eot_id|>\" }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n"''')

LLAMA2, LLAMA2_TOKENS = config_template("llama2")
PHI3, PHI3_TOKENS = config_template("phi3-mini")


def qwen2_audio_template():
    """Qwen2-Audio's template as transformers ships it (Qwen2AudioProcessor.default_chat_template)."""
    from transformers.models.qwen2_audio.processing_qwen2_audio import Qwen2AudioProcessor

    return Qwen2AudioProcessor.default_chat_template.fget(None)


TEMPLATES = {
    "qwen2": {
        "template": QWEN2,
        "source": "Qwen/Qwen2-7B-Instruct tokenizer_config.json chat_template (identical to Qwen1.5-72B-Chat); "
        "copied from github.com/mattt/Jinja Tests/JinjaTests/ChatTemplateTests.swift testQwenQwen1_5_72BChat",
    },
    "qwen2_5": {
        "template": QWEN2_5,
        "source": "Qwen/Qwen2.5-0.5B-Instruct tokenizer_config.json chat_template; copied from github.com/mattt/Jinja "
        "Tests/JinjaTests/ChatTemplateTests.swift testQwenQwen2_5_0_5BInstruct",
    },
    "qwen2_vl": {
        "template": QWEN2_VL,
        "source": "Qwen/Qwen2-VL-2B-Instruct chat_template; copied from github.com/mattt/Jinja "
        "Tests/JinjaTests/ChatTemplateTests.swift testQwen2VLTextOnly (also in openvino.genai tokenizer.cpp)",
    },
    "qwen3": {
        "template": QWEN3,
        "source": "Qwen/Qwen3-4B tokenizer_config.json chat_template; copied from github.com/akougkas/warpio-cli "
        "warpio-docs/ai-docs/model_cards/qwen3:4b.md @8dde6d21 (a verbatim dump of the hub file)",
    },
    "llama3": {
        "template": LLAMA3,
        "source": "meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json chat_template (as quoted in public code)",
    },
    "llama3_1": {
        "template": LLAMA3_1,
        "source": "meta-llama/Llama-3.3-70B-Instruct chat_template (the same template as Llama-3.1-Instruct); "
        "github.com/ye-NX/llama.cpp models/templates/meta-llama-Llama-3.3-70B-Instruct.jinja @b354d7c9, written by "
        "llama.cpp's scripts/get_chat_template.py from the hub",
    },
    "llama3_2": {
        "template": LLAMA3_2,
        "source": "meta-llama/Llama-3.2-3B-Instruct chat_template; github.com/ggerganov/llama.cpp "
        "models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja @7b5e0803. Llama-3.1 has the same date/tools "
        "logic plus builtin_tools.",
    },
    "llama2": {
        "template": LLAMA2,
        "source": "/work/shared/tokenizers/llama2/tokenizer_config.json (hf-internal-testing tiny-random Llama)",
    },
    "phi3": {
        "template": PHI3,
        "source": "/work/shared/tokenizers/phi3-mini/tokenizer_config.json (microsoft/Phi-3-mini)",
    },
    "llava_onevision": {
        "template": LLAVA_ONEVISION,
        "source": "llava-hf/llava-onevision-qwen2-*-hf chat_template; github.com/huggingface/transformers "
        "src/transformers/models/llava_onevision/convert_llava_onevision_weights_to_hf.py",
    },
    "qwen2_audio": {
        "template": qwen2_audio_template(),
        "source": "transformers " + transformers.__version__ + " models/qwen2_audio/processing_qwen2_audio.py "
        "Qwen2AudioProcessor.default_chat_template",
    },
    "llava_next_video": {
        "template": LLAVA_NEXT_VIDEO,
        "source": "llava-hf/LLaVA-NeXT-Video-7B-hf: chat_vicuna in github.com/huggingface/transformers "
        "src/transformers/models/llava_next_video/convert_llava_next_video_weights_to_hf.py @01080c62 "
        "(the template the conversion pushed; it renders <image> parts and text)",
    },
}

# ---------------------------------------------------------------------------------------------------------------
# Conversations.

UNICODE = "Ünïcödé 日本語 🎬 — \"double\" and 'single' quotes, a back\\slash, a tab\tand\nnew line"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city ✓",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name, e.g. Zürich"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]

TEXT = {
    "system_user": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Hi there!"},
    ],
    "multi_turn": [
        {"role": "system", "content": "  Be brief.  "},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": " 4. "},
        {"role": "user", "content": "And 3+3?"},
    ],
    "no_system": [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    "unicode": [
        {"role": "user", "content": UNICODE},
    ],
    "ends_with_assistant": [
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "hi"},
    ],
}

REASONING_CHAT = [
    {"role": "system", "content": "Think first."},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
    {"role": "user", "content": "and 3+3?"},
    {"role": "assistant", "content": "6", "reasoning_content": "\nadd again\n"},
]

TOOL_CHAT = [
    {"role": "system", "content": "Use tools when useful."},
    {"role": "user", "content": "Weather in Zürich?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}],
    },
    {"role": "tool", "content": "{\"temp_c\": 21.5}"},
    {"role": "user", "content": "Thanks"},
]

NOT_ALTERNATING = [
    {"role": "user", "content": "one"},
    {"role": "user", "content": "two"},
]

VISUAL = {
    "image_question": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown in this image?"}]},
    ],
    "video_multi_turn": [
        {"role": "system", "content": [{"type": "text", "text": "You describe videos."}]},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat jumps."}]},
        {"role": "user", "content": [{"type": "text", "text": "Then? " + UNICODE}, {"type": "image"}, {"type": "video"}]},
    ],
}

AUDIO = {
    "audio_question": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": [{"type": "audio", "audio_url": "glass.mp3"}, {"type": "text", "text": "What's that sound?"}]},
        {"role": "assistant", "content": "Glass shattering."},
        {"role": "user", "content": [{"type": "audio", "audio_url": "throat.wav"}, {"type": "text", "text": "And this?"}]},
    ],
    "audio_no_system": [
        {"role": "user", "content": [{"type": "text", "text": "Listen: "}, {"type": "audio"}, {"type": "audio"}]},
    ],
    "text_only": TEXT["no_system"],
}

QWEN_TOKENS = {"bos_token": None, "eos_token": "<|im_end|>"}  # Qwen2 tokenizers have no BOS token
LLAMA3_TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
LLAVA_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}

# (template, conversations, special tokens, extra variable sets)
PLAN = [
    ("qwen2", TEXT, QWEN_TOKENS, [{}]),
    ("qwen2_5", TEXT, QWEN_TOKENS, [{}]),
    ("qwen2_vl", {**VISUAL, "no_system": TEXT["no_system"]}, QWEN_TOKENS, [{}, {"add_vision_id": True}]),
    ("qwen3", {**TEXT, "reasoning": REASONING_CHAT}, QWEN_TOKENS, [{}]),
    ("llama3", TEXT, LLAMA3_TOKENS, [{}]),
    ("llama3_1", TEXT, LLAMA3_TOKENS, [{}, {"date_string": "07 Mar 2025"}]),
    ("llama3_2", TEXT, LLAMA3_TOKENS, [{"date_string": "07 Mar 2025"}]),
    ("llama2", TEXT, LLAMA2_TOKENS, [{}]),
    ("phi3", TEXT, PHI3_TOKENS, [{}]),
    ("llava_onevision", VISUAL, QWEN_TOKENS, [{}]),
    ("qwen2_audio", AUDIO, QWEN_TOKENS, [{}]),
    ("llava_next_video", VISUAL, LLAVA_TOKENS, [{}]),
]

EXTRA_CASES = [
    # Tools: tojson of nested dicts, tojson(indent=4), tool_calls and tool messages.
    ("qwen2_5", "tools", TOOL_CHAT, QWEN_TOKENS, {"tools": TOOLS}),
    ("qwen2_5", "null_content", [TOOL_CHAT[1], {**TOOL_CHAT[2], "content": None}, TOOL_CHAT[3]], QWEN_TOKENS, {"tools": TOOLS}),
    ("qwen3", "tools", TOOL_CHAT + [{"role": "assistant", "content": "<think>done</think>It is 21.5 °C."}], QWEN_TOKENS, {"tools": TOOLS}),
    ("llama3_2", "tools_in_user_message", TOOL_CHAT[1:2], LLAMA3_TOKENS, {"tools": TOOLS, "date_string": "07 Mar 2025"}),
    ("llama3_2", "tools_in_system", TOOL_CHAT, LLAMA3_TOKENS,
     {"tools": TOOLS, "date_string": "07 Mar 2025", "tools_in_user_message": False}),
    ("llama3_1", "tools_in_system", TOOL_CHAT, LLAMA3_TOKENS, {"tools": TOOLS, "tools_in_user_message": False}),
    ("llama3_1", "builtin_tools", [
        {"role": "system", "content": "Answer with search."},
        {"role": "user", "content": "Who won?"},
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "brave_search", "arguments": {"query": "winner \"2024\""}}}]},
        {"role": "ipython", "content": {"result": "Team Ä"}},
    ], LLAMA3_TOKENS, {"builtin_tools": ["code_interpreter", "brave_search", "wolfram_alpha"], "date_string": "07 Mar 2025"}),
    ("llama3_1", "two_tool_calls", [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "a", "arguments": {}}}, {"function": {"name": "b", "arguments": {}}}]},
    ], LLAMA3_TOKENS, {}),
    # raise_exception: the message must surface.
    ("llama2", "not_alternating", NOT_ALTERNATING, LLAMA2_TOKENS, {}),
    ("llama3_2", "tools_without_user", [{"role": "system", "content": "x"}], LLAMA3_TOKENS,
     {"tools": TOOLS, "date_string": "07 Mar 2025"}),
]


# Small synthetic templates, one language feature each, rendered by the same transformers machinery. They pin the
# corners the family templates do not reach (slices, filters, methods, loop variables, scoping, whitespace control).
FEATURES = {
    "ws_lstrip_trim": "  {% if true %}\n  x\n  {% endif %}\nafter\n    {% for i in [1, 2] %}\n    {{ i }}\n    {% endfor %}\nend",
    "ws_plus_minus": "a  {%+ if true +%}\n  b {%- if true -%}  c  {%- endif %}\n{%+ endif %}  d\n\n{{- ' e ' -}}\n\nf",
    "ws_comments": "x {# plain #} y\n  {# own line #}\nz {#- left -#}   w\n{#- both -#}\nq",
    "ws_newlines": "line1\r\nline2\r{% if true %}\r\nin\r\n{% endif %}\r\nlast\n",
    "ws_variable_no_trim": "{{ 'a' }}\n  {{ 'b' }}\n{% set x = 1 %}\n  {{ x }}\n",
    "literals": "{{ \"a\\tb\\u00e9\\x41\\\\ \\'q\\'\" }}|{{ 'it''s' }}|{{ 1_000 }}|{{ 1.5e3 }}|{{ 2.0 }}|{{ -3 }}|{{ [1, 'a', none, true, 2.5] }}|{{ {'k': [1, {'z': none}], \"d\": 'it\\'s'} }}|{{ (1,) }}|{{ (1, 'b') }}|{{ () }}|{{ True }} {{ None }}",
    "floats": "{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-7 }} {{ 10 / 4 }} {{ 4 / 2 }} {{ 1e15 }} {{ 123456.789 }} {{ 0.0001 }} {{ -0.5 }}",
    "slices": "{{ messages[1:] | length }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[-2:] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3,4,5][4:1:-1] }} {{ 'abc'[-1] }} {{ [1,2,3][:-1] }} {{ 'héllo'[1:3] }} {{ [1,2,3][5:] }} {{ messages[-1].role }} {{ messages[0]['content'][:5] }}",
    "arithmetic": "{{ 7 + 2 }} {{ 7 - 2.5 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 'a' ~ 1 ~ none ~ true }} {{ [1] + [2] }} {{ 1 + true }} {{ -(2) }} {{ 2 * 3 + 4 * 5 }} {{ (2 + 3) * 4 }} {{ 7.5 // 2 }} {{ 7.5 % 2 }}",
    "logic": "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ none or 'x' }} {{ 0 and 1 }} {{ not [] }} {{ 'b' in 'abc' }} {{ 2 not in [1,3] }} {{ 'role' in messages[0] }} {{ not 'z' in 'abc' }} {{ 'a' < 'b' }} {{ 2 >= 2.0 }} {{ true and 'yes' }} {{ '' or [] }}",
    "tests": "{{ foo is defined }} {{ foo is undefined }} {{ none is none }} {{ 'a' is string }} {{ messages[0] is mapping }} {{ messages is iterable }} {{ 'x' is sequence }} {{ 3 is number }} {{ 3.5 is number }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is equalto 'a' }} {{ 5 is not none }} {{ messages[0].content is string }} {{ 2 is in [1, 2] }} {{ 'a' is lower }}",
    "ternary": "{{ 'y' if messages else 'n' }}|{{ 'y' if [] }}|{{ 'a' if false else 'b' if true else 'c' }}|{{ ('x' if true else 'y') | upper }}",
    "filters_text": "{{ '  pad  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'MiXeD' | lower }}|{{ 'MiXeD' | upper }}|{{ 'hELLO wORLD' | capitalize }}|{{ 'hello big-world (x)' | title }}|{{ 'a-b' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 42 | string }}|{{ '12' | int + 1 }}|{{ 'x' | int }}|{{ 3.9 | int }}|{{ '2.5' | float }}|{{ 'abc' | length }}|{{ 'héllo' | length }}|{{ 'abc' | first }}|{{ 'abc' | last }}|{{ 'abc' | list }}|{{ 'abc' | reverse }}",
    "numbers_from_text": "{{ '1_000' | int }} {{ ' -7 ' | int }} {{ '0x1A' | int }} {{ '2.9' | int }} {{ '1e3' | int }} {{ 'abc' | int(5) }} {{ '1__0' | int }} {{ '.5' | float }} {{ '5.' | float }} {{ '-1_0.2_5' | float }} {{ 'nan' | float }} {{ '-Infinity' | float }} {{ '0x1p3' | float }} {{ '' | float }} {{ 'e5' | float }}",
    "unicode_whitespace": "{{ '\\x1c a\\u3000\\u00a0\\x85' | trim }}|{{ 'a\\x1fb\\u2003c'.split() }}|{{ '\\u200b x \\u200b'.strip() }}",
    "filters_default": "{{ foo | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ none | default('d') }}|{{ foo | d('short') }}|{{ messages[0].nope | default('nokey') }}|{{ foo | length }}|{{ foo | trim }}|[{{ foo }}]",
    "filters_lists": "{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ [1, 2, 2, 3, 1] | unique | list }}|{{ [1, 2, 3] | reverse | list }}|{{ [1, 2, 3] | first }}|{{ [1, 2, 3] | last }}|{{ [4, 9, 2] | max }}|{{ [4, 9, 2] | min }}|{{ [1, 2, 3] | sum }}|{{ ['a', 'b'] | join }}|{{ ['a', 'b', 1] | join(', ') }}|{{ [1, 2] | length }}|{{ [] | first }}|{{ messages | map(attribute='role') | join('/') }}|{{ messages | map(attribute='role') | list }}|{{ ['1', '2'] | map('int') | sum }}",
    "filters_select": "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='content') | join('+') }}|{{ messages | selectattr('name') | list | length }}|{{ messages | selectattr('name', 'defined') | map(attribute='name') | first }}|{{ [0, 1, 2, '', 'x'] | select | list }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ [1, 2, 3] | select('in', [2, 3]) | list }}",
    "filters_dict": "{% for k, v in {'b': 1, 'a': 2} | items %}{{ k }}={{ v }};{% endfor %}|{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{ k }}={{ v }};{% endfor %}|{{ {'a': 1} | items | list }}|{{ messages[0] | length }}|{{ {'x': 1} | list }}",
    "tojson": "{{ messages[0] | tojson }}|{{ {'k': [1, 2.5, none, true, 'é\"\\n\\t\\u0001'], 'e': {}, 'l': []} | tojson }}|{{ {'b': 1, 'a': {'d': 1, 'c': 2}} | tojson(sort_keys=true) }}|{{ [1, {'a': [2, 3]}, []] | tojson(indent=2) }}|{{ {'a': 1, 'b': [1, 2]} | tojson(separators=(',', ':')) }}|{{ 'str' | tojson }}|{{ 2.0 | tojson }}|{{ none | tojson }}|{{ {'x': 'y'} | tojson(indent='\t') }}|{{ [1] | tojson(indent=0) }}",
    "methods": "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a '.lstrip() }}|{{ ' a  '.rstrip() }}|{{ 'a  b\\tc\\n'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ 'hello world'.title() }}|{{ 'hello'.capitalize() }}|{{ 'a-b'.replace('-', '') }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.count('bc') }}|{{ ', '.join(['x', 'y']) }}|{{ messages[0].get('role') }}|{{ messages[0].get('nope', 'dflt') }}|{{ messages[0].get('nope') }}|{{ messages[0].keys() | list }}|{{ messages[0].values() | list | length }}|{% for k, v in messages[0].items() %}{{ k }}:{{ v | length }};{% endfor %}",
    "loops": "{% for m in messages %}{{ loop.index }}/{{ loop.length }} {{ loop.index0 }} {{ loop.revindex }} {{ loop.revindex0 }} {{ loop.first }} {{ loop.last }} prev={{ loop.previtem.role if loop.previtem is defined else '-' }} next={{ loop.nextitem.role if loop.nextitem is defined else '-' }};{% endfor %}",
    "loops_else_filter": "{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in [1, 2, 3, 4] if x is even %}{{ x }}@{{ loop.index }}{% endfor %}|{% for x in foo %}a{% else %}undef-empty{% endfor %}|{% for c in 'ab' %}[{{ c }}]{% endfor %}|{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}|{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}",
    "loops_control": "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for i in [1, 2] %}{% for j in 'ab' %}{{ i }}{{ j }}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}",
    "scoping": "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}|{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set blk %}B{{ 1 + 1 }}{% endset %}{{ blk }}|{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}|{% set messages = messages[1:] %}{{ messages | length }}",
    "scoping_else_macro": "{% set a = 0 %}{% for i in [] %}{% else %}{% set a = 1 %}{% endfor %}{{ a }}|{% for i in [1] %}{% set a = 5 %}{% continue %}{% else %}{{ a }}{% set a = 1 %}{% endfor %}{{ a }}|{% for i in [1, 2] %}{{ i }}{% break %}{% else %}E{% endfor %}|{% for i in [1, 2] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% else %}E{% endfor %}|{% macro f() %}{% set q = 1 %}{{ q }}{{ x }}{{ y }}{% endmacro %}{% set x = 1 %}{{ f() }}{{ q }}{% set x = 2 %}{% for y in [7] %}{{ f() }}{% endfor %}",
    "macros": "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}|{% macro render(m) %}<{{ m.role }}>{{ m.content | trim }}{% endmacro %}{% for m in messages %}{{ render(m) }}{% endfor %}",
    "globals": "{{ dict(a=1, b='x') }}|{{ range(3) | list }}|{{ namespace(v=3).v }}|{{ add_generation_prompt }}|{{ tools is none }}|{{ documents is none }}|{{ bos_token }}",
    "content_parts": "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% elif p['type'] in ['image', 'video'] %}<{{ p.type }}>{% endif %}{% endfor %}{% endif %}\n{% endfor %}",
    "llama3_1_builtin_tools": "{% set builtin_tools = ['code_interpreter', 'brave_search', 'wolfram_alpha'] %}{{- 'Tools: ' + builtin_tools | reject('equalto', 'code_interpreter') | join(', ') + '\\n\\n' }}{{ builtin_tools | string }}",
    "nested_data": "{% for m in messages %}{% if m.content is not string %}{% for p in m.content | selectattr('type', 'equalto', 'text') %}{{ p.text | tojson }}{% endfor %}{{ m.content | map(attribute='type') | join(',') }}{% endif %}{% endfor %}|{{ messages | selectattr('content', 'string') | map(attribute='role') | list }}",
    "message_preparation": "{% for m in messages %}{{ m | tojson }}\n{% endfor %}",
    "generation_tag": "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}",
}

# Templates that fail in Jinja; the fixture records the message (Reel's ChatTemplateError.render carries the same).
FEATURE_ERRORS = {
    "undefined_attribute": "{{ nope.attr }}",
    "undefined_arithmetic": "{{ 'a' + messages[0].nope }}",
    "str_plus_int": "{{ 'a' + 1 }}",
    "int_plus_str": "{{ 1 + 'a' }}",
    "none_not_iterable": "{% for x in none %}{% endfor %}",
    "raise_in_macro": "{% macro check(m) %}{% if m.role not in ['user', 'system'] %}{{ raise_exception('Unexpected role ' ~ m.role ~ '!') }}{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{% endfor %}",
}

def whitespace_fuzz(count=150, seed=20241124):
    """Random mixes of text and tags with random whitespace modifiers: a differential test of the lexer's
    trim_blocks / lstrip_blocks / '-' / '+' handling. Only templates Jinja accepts are kept."""
    import random

    rng = random.Random(seed)
    texts = ["", " ", "  ", "\n", "\n\n", "\t", " x ", "y\n", "\n  z", "  \n  ", "\n\t ", "w"]

    def mod(plus=True):
        return rng.choice(["", "", "-", "+"] if plus else ["", "", "-"])

    def block(body):
        return "{%" + mod() + " " + body + " " + mod() + "%}"

    def piece(depth=0):
        k = rng.randrange(8 if depth < 2 else 5)
        if k == 0:
            return "{{" + mod(False) + " 'v' " + mod(False) + "}}"
        if k == 1:
            return "{#" + mod() + " c " + mod() + "#}"
        if k == 2:
            return block("set q = 1")
        if k == 3:
            return rng.choice(texts) + rng.choice(texts)
        if k == 4:
            return "{{" + mod(False) + " q | default('d') " + mod(False) + "}}"
        inner = "".join(rng.choice(texts) + piece(depth + 1) for _ in range(rng.randrange(1, 3))) + rng.choice(texts)
        if k == 5:
            return block("if true") + inner + block("endif")
        if k == 6:
            return block("if false") + inner + block("else") + inner + block("endif")
        return block("for i in [1, 2]") + inner + "{{ i }}" + block("endfor")

    out = {}
    while len(out) < count:
        t = "".join(rng.choice(texts) + piece() for _ in range(rng.randrange(2, 6))) + rng.choice(texts)
        try:
            render_jinja_template(conversations=[[]], chat_template=t)
        except Exception:
            continue
        out[f"ws_fuzz_{len(out):03d}"] = t
    return out


EXPR_VARS = {"x": 3, "f": 2.5, "s": "Abc dé", "l": [1, 2, 3], "d": {"k": "v", "n": 1}, "e": [], "z": 0}


def expression_fuzz(count=250, seed=7):
    """Random expressions over literals, variables, operators, filters, tests, slices and methods, printed with
    `{{ }}`: a differential test of precedence, Python value semantics and printing. Only expressions Jinja
    evaluates without error are kept."""
    import random

    rng = random.Random(seed)
    atoms = ["0", "1", "-2", "7", "2.0", "0.5", "1e-05", "3.25", "'a'", "'Hé'", "\"q'\"", "''", "none", "true", "false",
             "x", "f", "s", "l", "d", "e", "z", "nope", "[1, 'b']", "{'a': 1}", "(1, 2)", "d.k", "d['n']", "l[-1]", "s[1:4]",
             "l[::-1]", "s[::2]", "d.missing"]
    binops = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">=", "in", "not in", "and", "or", "**"]
    filters = ["length", "string", "upper", "lower", "first", "last", "list", "trim", "tojson", "default('z')", "int",
               "float", "join(',')", "title", "capitalize", "abs", "sort", "count", "replace('a', 'X')",
               "tojson(indent=1)",
               # Jinja returns generators from these; consume them, as real templates do (printing a generator
               # shows its address, and a bad input only fails once consumed).
               "reverse | list", "unique | list", "items | list", "select | list", "map('string') | list"]
    tests = ["defined", "undefined", "number", "string", "none", "mapping", "iterable", "sequence", "odd", "true",
             "false", "integer", "float"]
    methods = [".upper()", ".lower()", ".strip()", ".split()", ".split('b')", ".startswith('A')", ".endswith('é')",
               ".title()", ".replace('b', 'B')", ".get('k')", ".get('x', 9)",
               # dict views print as dict_items([...]) in Python; templates iterate them, so list them here.
               ".keys() | list", ".values() | list", ".items() | list"]

    def expr(depth=0):
        k = rng.randrange(9 if depth < 3 else 1)
        if k == 0:
            return rng.choice(atoms)
        if k in (1, 2):
            return "(" + expr(depth + 1) + " " + rng.choice(binops) + " " + expr(depth + 1) + ")"
        if k == 3:
            return expr(depth + 1) + " | " + rng.choice(filters)
        if k == 4:
            return "(" + expr(depth + 1) + " is " + rng.choice(["", "not "]) + rng.choice(tests) + ")"
        if k == 5:
            return "(" + expr(depth + 1) + " if " + expr(depth + 1) + " else " + expr(depth + 1) + ")"
        if k == 6:
            return "(not " + expr(depth + 1) + ")"
        if k == 7:
            return "(" + expr(depth + 1) + ")" + rng.choice(methods)
        return "[" + expr(depth + 1) + ", " + expr(depth + 1) + "]"

    out, failing = {}, {}
    while len(out) < count:
        t = "{{ " + expr() + " }}"
        try:
            rendered, _ = render_jinja_template(conversations=[[]], chat_template=t, **EXPR_VARS)
        except Exception:
            if len(failing) < count // 4:
                failing[f"expr_fuzz_error_{len(failing):03d}"] = t
            continue
        if "<generator object" in rendered[0] or "j)" in rendered[0]:
            continue  # a lazy filter printed unconsumed, or a complex number: Python artefacts, not template output
        out[f"expr_fuzz_{len(out):03d}"] = t
    return out, failing


def statement_fuzz(count=150, seed=99):
    """Random nests of for/if/set/namespace/macro/break/continue over a conversation: a differential test of
    scoping (loop frames, namespace writes, macro frames) and loop variables."""
    import random

    rng = random.Random(seed)

    def value(in_loop):
        pool = ["a", "b", "1", "'t'", "ns.c", "messages | length", "a ~ b", "nope"]
        if in_loop:
            pool += ["m.role", "m.content | length", "loop.index", "loop.first", "loop.previtem.role", "i"]
        return rng.choice(pool)

    def cond(in_loop):
        return rng.choice([value(in_loop) + " == " + value(in_loop), value(in_loop) + " is defined",
                           "not " + value(in_loop), value(in_loop)])

    def body(depth, in_loop):
        parts = []
        for _ in range(rng.randrange(1, 4)):
            k = rng.randrange(9 if depth < 3 else 4)
            if k == 0:
                parts.append("{{ " + value(in_loop) + " | default('-') }},")
            elif k == 1:
                parts.append("{% set " + rng.choice(["a", "b"]) + " = " + value(in_loop) + " %}")
            elif k == 2:
                parts.append("{% set ns.c = ns.c ~ '" + rng.choice("xyz") + "' %}")
            elif k == 3:
                parts.append("{{ show(" + value(in_loop) + ") }}")
            elif k in (4, 5):
                filt = rng.choice(["", " if m.role == 'user'", " if m.content | length > 3"])
                var = rng.choice(["m", "m"]) if rng.random() < 0.8 else "i"
                src = "messages" if var == "m" else "range(3)"
                if var == "i":
                    filt = ""
                parts.append("{% for " + var + " in " + src + filt + " %}" + body(depth + 1, True)
                             + ("{% else %}none" if rng.random() < 0.2 else "") + "{% endfor %}")
            elif k == 6:
                parts.append("{% if " + cond(in_loop) + " %}" + body(depth + 1, in_loop) + "{% elif " + cond(in_loop)
                             + " %}" + body(depth + 1, in_loop) + "{% else %}" + body(depth + 1, in_loop) + "{% endif %}")
            elif k == 7 and in_loop:
                parts.append("{% if " + cond(True) + " %}{% " + rng.choice(["break", "continue"]) + " %}{% endif %}")
            else:
                parts.append("{{ a }}/{{ b }};")
        return "".join(parts)

    prelude = "{% macro show(x) %}<{{ x }}{% set a = 'macro-local' %}>{% endmacro %}{% set ns = namespace(c='') %}{% set a = 0 %}"
    out = {}
    while len(out) < count:
        t = prelude + body(0, False) + "|{{ a }}|{{ b | default('-') }}|{{ ns.c }}"
        try:
            render_jinja_template(conversations=[FEATURE_MESSAGES], chat_template=t)
        except Exception:
            continue
        out[f"stmt_fuzz_{len(out):03d}"] = t
    return out


# Templates Jinja refuses to compile; Reel must refuse them too (ChatTemplateError.syntax/unknownFilter/unknownTest).
SYNTAX_ERRORS = {
    "unclosed_if": "{% if true %}x",
    "unclosed_for": "{% for m in messages %}{{ m }}",
    "stray_endfor": "x{% endfor %}",
    "mismatched_end": "{% if true %}{% endfor %}",
    "else_twice": "{% if a %}1{% else %}2{% else %}3{% endif %}",
    "elif_after_else": "{% if a %}1{% else %}2{% elif b %}3{% endif %}",
    "unterminated_variable": "a {{ b",
    "unterminated_block": "a {% if b",
    "unterminated_comment": "a {# b",
    "unterminated_string": "{{ 'abc }}",
    "empty_expression": "{{ }}",
    "unknown_filter": "{{ x | frobnicate }}",
    "unknown_test": "{{ x is frobbed }}",
    "unknown_tag": "{% frob %}",
    "bad_operator": "{{ 1 + }}",
    "unbalanced_paren": "{{ (1 + 2 }}",
    "missing_in": "{% for x messages %}{% endfor %}",
    "set_without_value": "{% set %}",
    "break_outside_loop": "{% break %}",
    "unclosed_macro": "{% macro f() %}x",
}

FEATURE_MESSAGES = [
    {"role": "system", "content": "  Sys prompt é  ", "name": None},
    {"role": "user", "content": "Hello there", "name": "ann"},
    {"role": "assistant", "content": "Hi!", "reasoning": "greet back", "tool_calls": None},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What's this?", "extra": None}, {"type": "video"}]},
]


def render(template, messages, add_generation_prompt, variables):
    try:
        # As apply_chat_template does: drop null-valued keys, then render (which aliases reasoning fields).
        rendered, _ = render_jinja_template(
            conversations=[_normalize_chat_messages(messages)],
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            **variables,
        )
        return {"expected": rendered[0]}
    except jinja2.exceptions.TemplateSyntaxError as e:  # includes TemplateAssertionError (unknown filter/test)
        return {"expected_error": f"line {e.lineno}: {e.message}", "error_kind": "compile"}
    except SyntaxError as e:  # the Python Jinja generated does not compile, e.g. 'break' outside a loop
        return {"expected_error": f"{e.msg}", "error_kind": "compile"}
    except jinja2.exceptions.UndefinedError as e:
        return {"expected_error": str(e), "error_kind": "render"}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception raises the base class; subclasses (FilterArgumentError, …) are Jinja's own errors.
        return {"expected_error": str(e), "error_kind": "raise_exception" if type(e) is jinja2.exceptions.TemplateError else "render"}
    except TypeError as e:
        return {"expected_error": str(e), "error_kind": "render"}
    except Exception as e:  # ValueError, ZeroDivisionError, OverflowError, …: Reel must fail too, message aside
        return {"expected_error": f"{type(e).__name__}: {e}", "error_kind": "any"}


def main():
    cases = []
    stored_conversations = {}  # each distinct conversation is stored once; cases name it
    conversation_ids = {}
    stored_variables, variable_ids = {}, {}  # likewise each distinct variable set

    def add(name, template_name, messages, agp, variables):
        variables = {k: v for k, v in variables.items() if v is not None}
        key = json.dumps(messages, ensure_ascii=False)
        if key not in conversation_ids:
            conversation_ids[key] = f"c{len(conversation_ids):02d}"
            stored_conversations[conversation_ids[key]] = messages
        vkey = json.dumps(variables, ensure_ascii=False)
        if vkey not in variable_ids:
            variable_ids[vkey] = f"v{len(variable_ids):02d}"
            stored_variables[variable_ids[vkey]] = variables
        case = {
            "name": name,
            "template": template_name,
            "conversation": conversation_ids[key],
            "add_generation_prompt": agp,
            "variables": variable_ids[vkey],
        }
        case.update(render(TEMPLATES[template_name]["template"], messages, agp, variables))
        cases.append(case)

    for template_name, conversations, tokens, extras in PLAN:
        for conv_name, messages in conversations.items():
            for extra in extras:
                for agp in (False, True):
                    suffix = "".join(f"+{k}" for k in extra)
                    add(f"{template_name}/{conv_name}{suffix}/{'gen' if agp else 'nogen'}", template_name, messages, agp,
                        {**tokens, **extra})
    for name, template in FEATURES.items():
        TEMPLATES["feature/" + name] = {"template": template, "source": "FEATURES"}
        add("feature/" + name, "feature/" + name, FEATURE_MESSAGES, True, {"bos_token": "<s>"})
    for name, template in whitespace_fuzz().items():
        TEMPLATES["fuzz/" + name] = {"template": template, "source": "whitespace_fuzz()"}
        add("fuzz/" + name, "fuzz/" + name, [], False, {})
    for name, template in statement_fuzz().items():
        TEMPLATES["fuzz/" + name] = {"template": template, "source": "statement_fuzz()"}
        add("fuzz/" + name, "fuzz/" + name, FEATURE_MESSAGES, False, {})
    fuzz_ok, fuzz_failing = expression_fuzz()
    for name, template in {**fuzz_ok, **fuzz_failing}.items():
        TEMPLATES["fuzz/" + name] = {"template": template, "source": "expression_fuzz()"}
        add("fuzz/" + name, "fuzz/" + name, [], False, EXPR_VARS)
    for name, template in FEATURE_ERRORS.items():
        TEMPLATES["error/" + name] = {"template": template, "source": "FEATURE_ERRORS"}
        add("error/" + name, "error/" + name, FEATURE_MESSAGES, False, {})
    for name, template in SYNTAX_ERRORS.items():
        TEMPLATES["syntax/" + name] = {"template": template, "source": "SYNTAX_ERRORS"}
        add("syntax/" + name, "syntax/" + name, FEATURE_MESSAGES, False, {})
    for template_name, conv_name, messages, tokens, extra in EXTRA_CASES:
        for agp in (False, True):
            add(f"{template_name}/{conv_name}/{'gen' if agp else 'nogen'}", template_name, messages, agp, {**tokens, **extra})

    doc = {
        "generator": "tools/make_chat_template_fixtures.py",
        "reference": "transformers.utils.chat_template_utils.render_jinja_template",
        "transformers_version": transformers.__version__,
        "jinja2_version": jinja2.__version__,
        "templates": TEMPLATES,
        "sources": "a template's source names where it was copied from; synthetic ones name the table or "
        "generator function in tools/make_chat_template_fixtures.py",
        "conversations": stored_conversations,
        "variables": stored_variables,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.write("\n")
    errors = sum(1 for c in cases if "expected_error" in c)
    print(f"wrote {OUT}: {len(TEMPLATES)} templates, {len(cases)} cases ({errors} expected errors)", file=sys.stderr)


if __name__ == "__main__":
    main()
