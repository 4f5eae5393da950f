"""Question-set evaluation (the Python twin of `reel eval`): open answers by normalised exact match, multiple-choice
answers by the option letter, accuracy overall and per category."""
from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import defaultdict

import torch

from . import clips, data, text
from .model import ReelAVForConditionalGeneration, expand_video


def normalise(s: str) -> str:
    """Lower case, punctuation other than the comma dropped, whitespace collapsed."""
    s = re.sub(r"[^a-z0-9, ]", " ", s.lower())
    s = re.sub(r"\s*,\s*", ", ", s)
    return re.sub(r"\s+", " ", s).strip(" ,")


def option_letter(s: str) -> str | None:
    """The option letter of a multiple-choice answer, as Video-MME extracts it: the first standalone A-D."""
    m = re.search(r"\b([A-D])\b", s.strip())
    return m.group(1) if m else None


def correct(item: dict, answer: str) -> bool:
    if item.get("options"):
        return option_letter(answer) == item["answer"]
    return normalise(answer) == normalise(item["answer"])


def prompt_ids(tok, item: dict, segments: int, config: dict) -> list[int]:
    ids = tok.encode(text.user_turn(clips.prompt_text(item), video=True)).ids
    return expand_video(ids, segments, config)


@torch.no_grad()
def answer(model, tok, item: dict, media: dict) -> tuple[str, list[int]]:
    ids = prompt_ids(tok, item, media["segments"], model.config)
    new = model.generate(torch.tensor([ids]), media["pixel_values"], media["input_features"])
    return tok.decode([i for i in new if i not in (text.IM_END, text.ENDOFTEXT)]), new


def score(results) -> dict:
    """results: (category, ok) pairs → {"overall": acc, "n": n, category: acc, ...}."""
    per = defaultdict(list)
    for cat, ok in results:
        per[cat].append(ok)
        per["overall"].append(ok)
    return {k: sum(v) / len(v) for k, v in per.items()} | {"n": len(results)}


def evaluate_set(model, tok, questions_path: str, pre: data.Preprocessor, media_cache=None, log=None) -> dict:
    """Runs every item of a questions.jsonl through the full media path (decode, segment, preprocess) and greedy
    generation. `media_cache` maps a video path to already loaded inputs (training precomputes them the same way)."""
    base = os.path.dirname(os.path.abspath(questions_path))
    items = [json.loads(line) for line in open(questions_path)]
    fe = pre.feature_extractor()
    media_cache = dict(media_cache or {})
    results = []
    for it in items:
        path = os.path.join(base, it["video"])
        if path not in media_cache:
            media_cache[path] = data.load_clip(path, pre, fe=fe)
        media = media_cache[path]
        ans, _ = answer(model, tok, it, media)
        ok = correct(it, ans)
        results.append((it["category"], ok))
        if log:
            print(f"{'ok ' if ok else 'BAD'} {it['video']} [{it['category']}] {it['question']!r} → {ans!r} "
                  f"(expected {it['answer']!r})", file=log)
    return score(results)


def main() -> None:
    import argparse
    from tokenizers import Tokenizer
    ap = argparse.ArgumentParser(description="Evaluate a Reel AV checkpoint directory on a questions.jsonl")
    ap.add_argument("model")
    ap.add_argument("questions")
    ap.add_argument("--log", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = ReelAVForConditionalGeneration.from_pretrained(a.model)
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    pre = data.Preprocessor.from_json(json.load(open(os.path.join(a.model, "preprocessor_config.json"))))
    t = time.time()
    s = evaluate_set(model, tok, a.questions, pre, log=sys.stdout if a.log else None)
    print(json.dumps(s), f"{time.time() - t:.1f}s")


if __name__ == "__main__":
    main()
