#!/usr/bin/env python3
"""Makes examples/tiny-qwen2: a tiny random Qwen2ForCausalLM checkpoint in the Hugging Face layout
(config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json with a ChatML
chat template), so a fresh clone can run `reel convert` / `quantize` / `inspect` / `run` with no download.

Its weights are random: it exercises the pipeline; it does not answer questions.
Deterministic: re-running writes byte-identical files. Usage: python3 tools/make_example_checkpoint.py [OUT_DIR]
"""
import json, os, sys

os.environ["HF_HUB_OFFLINE"] = "1"
import torch
from tokenizers import Tokenizer, Regex, models, normalizers, pre_tokenizers, decoders, trainers
from transformers import Qwen2Config, Qwen2ForCausalLM

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "examples", "tiny-qwen2")
os.makedirs(OUT, exist_ok=True)

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A red circle moves left across a blue background while three beeps sound.",
    "What colour is the square? The square is green.",
    "How many beeps are there? There are two beeps.",
    "Video models turn frames into embeddings; an aligner maps them into the language model.",
    "Reel converts, quantises, validates and runs video-language models on a CPU.",
    "def main():\n    print('hello, world')\n",
    "1234567890 3.14159 2026-11-24",
] * 20
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# A Qwen2-style byte-level BPE: NFC, the Qwen2 split regex, ByteLevel without its own regex.
tok = Tokenizer(models.BPE())
tok.normalizer = normalizers.NFC()
tok.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
])
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(CORPUS, trainer=trainer)
tok.save(os.path.join(OUT, "tokenizer.json"))
vocab = tok.get_vocab_size()
ids = {s: tok.token_to_id(s) for s in SPECIALS}

CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
    json.dump({"tokenizer_class": "Qwen2Tokenizer", "bos_token": None, "eos_token": "<|im_end|>",
               "pad_token": "<|endoftext|>", "model_max_length": 256, "chat_template": CHATML,
               "added_tokens_decoder": {str(ids[s]): {"content": s, "special": True} for s in SPECIALS}},
              f, indent=2, ensure_ascii=False)

cfg = Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-6,
                  bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"])
torch.manual_seed(0)
model = Qwen2ForCausalLM(cfg).eval()
g = torch.Generator().manual_seed(0)
with torch.no_grad():  # randomise every parameter (HF init leaves norms at 1 and biases at 0)
    for n, p in model.named_parameters():
        if p.dim() == 1 and "norm" in n:
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
        else:
            p.copy_(0.05 * torch.randn(p.shape, generator=g))
model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
model.save_pretrained(OUT)
print(f"wrote {OUT}: vocab {vocab}, {sum(p.numel() for p in model.parameters())} parameters")
