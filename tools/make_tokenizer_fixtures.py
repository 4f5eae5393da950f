#!/usr/bin/env python3
"""Make the tokenizer parity fixtures for Tests/ReelTokenizerTests/Fixtures/tok_*.

Trains small BPE tokenizers with the HF `tokenizers` library, one per family, using exactly the
normalizer / pre-tokenizer / decoder / post-processor settings of the real families, and records what
`tokenizers` itself produces for a corpus of test strings. Also records ids for the real tokenizer
files under ../shared/tokenizers/ (the files themselves are not ours and are not copied).

Deterministic: training is single-threaded (RAYON_NUM_THREADS=1) on the corpus embedded below.
Nothing is downloaded. Re-run from the repository root:

    python3 tools/make_tokenizer_fixtures.py            # writes Tests/ReelTokenizerTests/Fixtures/tok_*
    python3 tools/make_tokenizer_fixtures.py --check    # fails if the committed fixtures differ
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "ReelTokenizerTests" / "Fixtures"
REAL = ROOT.parent / "shared" / "tokenizers"
REAL_NAMES = ["gpt2", "llama2", "llama2-legacy-merges", "phi3-mini", "whisper-tiny", "whisper-large-v3"]

# The regexes exactly as the real families' tokenizer.json files spell them.
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# A split pattern that looks before the position it matches at (\A: only at the start of the piece). Reel must search
# such a pattern over the whole piece, not match by match from where the last match ended (ReelTokenizer's SplitRegex).
ANCHORED_REGEX = r"\A\s+|" + QWEN2_REGEX
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# Training text: small, multilingual, with code and numbers. Arabic and most emoji are left out on purpose
# so that byte fallback (SentencePiece style) and unmerged bytes (byte level) are exercised by the tests.
CORPUS = """
The quick brown fox jumps over the lazy dog. The dog was not amused, and the fox ran away into the forest.
Hello world! How are you doing today? I'm fine, thanks. We'll see what they've done; she's here, it's late.
Video-language models read frames and text; the tokenizer turns text into ids and ids back into text.
In 1969, 600 million people watched the landing. Prices rose by 3.5% to $1,234.56 in 2024 and 2025.
def tokenize(text):
    for word in text.split():
        yield word.lower()  # lower-case every word
class Model:
    def __init__(self, hidden_size=4096, num_layers=32):
        self.hidden_size = hidden_size
if (x > 0 && y < 10) { return x * y; } else { return -1; }
Le café est très bon, à côté de la gare. Où est la bibliothèque ? Ça va très bien, merci.
Der schnelle braune Fuchs springt über den faulen Hund. Schöne Grüße aus München.
El niño comió una manzana. ¿Dónde está la estación? Mañana será otro día.
안녕하세요. 오늘 날씨가 정말 좋네요. 한국어 토크나이저를 시험합니다. 감사합니다.
你好，世界。今天天气很好。我们正在测试分词器。中文文本也需要正确处理。
こんにちは、世界。今日はいい天気ですね。トークナイザーのテストです。
Привет, мир! Как дела? Сегодня хорошая погода.
Γειά σου κόσμε. Ελληνικά γράμματα.
I like pizza 🍕 and parties 🎉 very much 😀.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 10000 123456789 3.14159 2.71828
Tabs\tand\tnewlines\nare whitespace too.    Four spaces.  Two spaces.
"""

# The test strings: every fixture is checked on all of them.
TEST_STRINGS = [
    "",
    " ",
    "Hello world",
    " Hello world",
    "Hello, world! How are you doing today?",
    "I'm sure they've said she'S gone; WE'LL see what it'd DO.",
    "안녕하세요, 세계! 오늘 날씨가 좋네요.",
    "你好，世界！今天天气很好。我们在测试。",
    "こんにちは世界",
    "مرحبا بالعالم، كيف حالك؟",
    "I love 🍕 and 🎉! 😀😃😄",
    "Family: 👨‍👩‍👧‍👦 and flag 🏳️‍🌈 and 👍🏽 thumbs",
    "def foo(x):\n    return x ** 2  # square\n\nclass Bar:\n\tpass\n",
    "a  b   c\t\td\n\n\ne \t \n f    ",
    "    \n\t\t   \n  \r\n\r\n",
    "   leading and trailing   ",
    "Numbers 1234567890123456 and 3.14159 and 1,000,000 and 007",
    "café naïve résumé Ångström São Paulo",
    "decomposed: e\u0301 a\u0300 o\u0308 (NFC matters)",
    "ﬁ ligature and Ｆｕｌｌ width and ½",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "<s>Hello</s> world <s> again",
    "Hello<|endoftext|>world <|endoftext|> end",
    "<|begin_of_text|>text<|eot_id|>",
    "Line one.\nLine two.\n\nLine four with\ttab.",
    "Mixed 日本語 and English and 한국어 and العربية in one line.",
    "▁already has the meta symbol ▁▁ twice",
    "zero\u200bwidth and nbsp\u00a0here",
    "Rare chars: ∮ ⅋ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꙮ",
    "<mask> and  <mask>  spaced",
    "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>",
    "<|startoftranscript|><|en|><|transcribe|><|0.00|> Hello there.<|1.50|>",
    "<|custom|>   tail and worldwide world hello-world world_x (world)",
    "abc<|endoftext|>def<|im_end|><|im_end|>",
    "aaaaaaaaaaaaaaaaaaaaaaaaa ============== ---------- 0000000000",
    "flags 🇰🇷🇯🇵 keycap 1️⃣ and skin 👩🏿‍💻",
    "ctrl \u0001\u0007\u007f\u0000 end",
    "line\u2028sep\u2029para\u0085next",
    "<0x41> is not a byte token here, nor is <unk> unknown",
    "'s 's 'S 'll 'LL 're 've 'm 'd 't",
    "x\u4f60\u597dabc zz \u00e9 \u0120zz",
    # A long line: Llama-2 has no pre-tokenizer, so this is one BPE word of ~1500 characters.
    " ".join(CORPUS.split())[:1500],
]

# Random mixtures of awkward pieces (seeded, so the same on every run): boundaries between scripts, special tokens
# glued to text, combining marks after spaces, partial special tokens, whitespace of every kind.
MIXTURE_PIECES = [
    "hello", "Hello", "WORLD", "the", " ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\t \t",
    "'s", "'S", "'ll", "'re", "’s", "'", "\"", "123", "4567890", "3.14", "1,000", "0", "٣٤٥", "²",
    "é", "é", "Å", "Å", "ﬁ", "Ｆ", "ß", "İ", "ı", "ǅ", "안녕", "하세요",
    "世界", "你好", "日本語", "مرحبا", "עברית",
    "हिन्दी", "ไทย",
    "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈",
    "👍🏽", "🇰🇷", "1️⃣", "​", "‍", " ", " ", "", "　",
    "", "", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "<mask>", "<|user|>", "<|end|>",
    "<|assistant|>", "<|0.00|>", "<|en|>", "<|custom|>", "<|begin_of_text|>", "<|eot_id|>", "<|", "|>", "<", ">", "<s",
    "▁", "▁▁", "<0x41>", ".", ",", "!", "?", "...", "()", "{}", "->", "==", "#", "//", "_", "__init__", "x_y",
    "a", "b", "aaaa", "world", "worldwide", "def", "return", "café", "naïve", "Ǆ", "ꙮ", "𝔘", "∮",
]


def mixtures(count=60, seed=1234):
    rng = random.Random(seed)
    return ["".join(rng.choice(MIXTURE_PIECES) for _ in range(rng.randint(1, 12))) for _ in range(count)]


SPECIALS_CHATML = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def trainer(vocab_size, special_tokens, byte_level):
    kw = dict(vocab_size=vocab_size, min_frequency=2, special_tokens=special_tokens, show_progress=False)
    if byte_level:
        kw["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    return trainers.BpeTrainer(**kw)


def byte_level_tokenizer(split_regex, ignore_merges=False, specials=SPECIALS_CHATML, normalizer=None, vocab=700):
    """Qwen2 / Llama-3 style: (NFC) + Split(regex, Isolated) + ByteLevel(no prefix, no regex)."""
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.train_from_iterator([CORPUS], trainer(vocab, specials, True))
    return tok


def make_qwen2():
    tok = byte_level_tokenizer(QWEN2_REGEX, normalizer=normalizers.NFC())
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, None


def make_anchored():
    return byte_level_tokenizer(ANCHORED_REGEX, normalizer=normalizers.NFC()), None


def make_llama3():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    tok = byte_level_tokenizer(LLAMA3_REGEX, ignore_merges=True, specials=specials, vocab=650)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "pad_token": None}
    return tok, config


def make_gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([CORPUS], trainer(600, ["<|endoftext|>"], True))
    # Added tokens with characters outside the byte-level alphabet (decoded as their own UTF-8) and inside it.
    tok.add_tokens(["\u4f60\u597dabc", "\u0120zz"])
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    return tok, None


def make_roberta():
    """GPT-2 style pre-tokenizer with add_prefix_space, RobertaProcessing, and an lstrip <mask> as RoBERTa has."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([CORPUS], trainer(600, ["<s>", "<pad>", "</s>", "<unk>"], True))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)])
    tok.add_tokens([AddedToken("world", single_word=True, normalized=True), AddedToken("<|custom|>", rstrip=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    config = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    return tok, config


def sentencepiece_model(vocab_size=800):
    """Trains merges on Metaspace words, then lays the vocab out as Llama-2 does: <unk> <s> </s>, 256 <0xNN>, rest."""
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=["<unk>", "<s>", "</s>"],
                             show_progress=False)
    t.train_from_iterator([CORPUS], tr)
    data = json.loads(t.to_str())
    trained = sorted(data["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for token, _ in trained:
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in data["model"]["merges"]]
    return vocab, merges


def sentencepiece_decoder():
    return decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])


def make_llama2(vocab, merges):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ["<unk>", "<s>", "</s>"]])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.decoder = sentencepiece_decoder()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    config = {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False,
                            "rstrip": False, "single_word": False}, "eos_token": "</s>", "pad_token": None, "unk_token": "<unk>"}
    return tok, config


def make_metaspace_first(vocab, merges):
    """Newer Llama conversion (legacy=false): Metaspace(prepend_scheme=first, split=false), no normalizer."""
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ["<unk>", "<s>", "</s>"]])
    tok.add_special_tokens([AddedToken("<|user|>", rstrip=True, normalized=False, special=True),
                            AddedToken("<|end|>", rstrip=True, normalized=False, special=True)])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=False),
                                     decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B:1", special_tokens=[("<s>", 1), ("</s>", 2)])
    return tok, None


def make_metaspace_always(vocab, merges):
    """Metaspace(prepend_scheme=always, split=true) with the Metaspace decoder, ignore_merges, no byte fallback (unk)."""
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=False, byte_fallback=False,
                               ignore_merges=True))
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ["<unk>", "<s>", "</s>"]])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    return tok, None


def cases(tok):
    out = []
    for text in TEST_STRINGS + mixtures():
        plain = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        out.append({
            "text": text,
            "ids": plain,
            "ids_special": special,
            # decode of the ids with special tokens, keeping and skipping them
            "decoded": tok.decode(special, skip_special_tokens=False),
            "decoded_skip": tok.decode(special, skip_special_tokens=True),
        })
    return out


def dump(obj):
    """JSON with one case per line: readable diffs, small files."""
    def case_lines(cs):
        return "[\n" + ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cs) + "\n ]"
    if "cases" in obj:
        head = {k: v for k, v in obj.items() if k != "cases"}
        return json.dumps(head, ensure_ascii=False)[:-1] + ',\n "cases": ' + case_lines(obj["cases"]) + "\n}\n"
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing them")
    args = ap.parse_args()

    sp_vocab, sp_merges = sentencepiece_model()
    families = {
        "qwen2": make_qwen2(),
        "llama3": make_llama3(),
        "anchored": make_anchored(),
        "gpt2": make_gpt2(),
        "roberta": make_roberta(),
        "llama2": make_llama2(sp_vocab, sp_merges),
        "metaspace_first": make_metaspace_first(sp_vocab, sp_merges),
        "metaspace_always": make_metaspace_always(sp_vocab, sp_merges),
    }
    files = {}
    for name, (tok, config) in families.items():
        # Re-load from the serialised text so the fixture is exactly what tokenizers reads back.
        text = tok.to_str(pretty=True)
        if name == "gpt2":
            # The older serialisation of merges ("a b" strings), as the real gpt2 and llama2-legacy files have it.
            data = json.loads(text)
            data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
            text = json.dumps(data, ensure_ascii=False, indent=2)
        tok = Tokenizer.from_str(text)
        files[f"tok_{name}.json"] = text + "\n"
        if config is not None:
            files[f"tok_{name}.config.json"] = dump(config)
        files[f"tok_{name}.expected.json"] = dump({"tokenizer": f"tok_{name}.json", "tokenizers_version": tokenizers.__version__,
                                                   "vocab_size": tok.get_vocab_size(with_added_tokens=True),
                                                   "cases": cases(tok)})

    for name in REAL_NAMES:
        path = REAL / name / "tokenizer.json"
        if not path.exists():
            print(f"warning: {path} is absent; its expected ids are not recorded", file=sys.stderr)
            continue
        tok = Tokenizer.from_file(str(path))
        files[f"tok_real_{name}.expected.json"] = dump({"tokenizer": f"../shared/tokenizers/{name}/tokenizer.json",
                                                        "tokenizers_version": tokenizers.__version__,
                                                        "vocab_size": tok.get_vocab_size(with_added_tokens=True),
                                                        "cases": cases(tok)})

    bad = 0
    for fname, content in files.items():
        p = OUT / fname
        if args.check:
            if not p.exists() or p.read_text(encoding="utf-8") != content:
                print(f"differs: {p}")
                bad += 1
        else:
            p.write_text(content, encoding="utf-8")
            print(f"wrote {p.relative_to(ROOT)} ({len(content.encode())} bytes)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
