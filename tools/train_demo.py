#!/usr/bin/env python3
"""Trains the Reel AV demo model on synthetic clips and exports it (recipe and results: docs/demo-model.md).

    python tools/make_demo_clips.py out/train --count 1500 --seed 0
    python tools/make_demo_clips.py out/eval --count 200 --seed 1000000
    python tools/train_demo.py --out out/reel-av-demo

Then, with --heldout DIR (e.g. examples/reel-av-demo/heldout, made with --count 16 --seed 1000000), it evaluates
the exported checkpoint on DIR/questions.jsonl from the mp4 files and writes ref.safetensors for the Swift parity test.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from reel_av import data, evaluate, train  # noqa: E402
from reel_av.model import ReelAVForConditionalGeneration  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-dir", default="out/train")
    ap.add_argument("--eval-dir", default="out/eval")
    ap.add_argument("--out", default="out/reel-av-demo")
    ap.add_argument("--heldout", help="a clip directory to evaluate the export on and to take ref.safetensors from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--min-turns", type=int, default=4, help="questions per training conversation: at least")
    ap.add_argument("--max-turns", type=int, default=8, help="... and at most")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--aux-weight", type=float, default=1.0,
                    help="weight of the training-only read-out loss on the vision tokens (0: off)")
    ap.add_argument("--attn-weight", type=float, default=0.0,
                    help="weight of the training-only loss on where three decoder heads look (0: off)")
    ap.add_argument("--verify-probe", action="store_true",
                    help="with --attn-weight: an option of a question about one shape also reads that shape "
                         "(the shape probe's head, from the option's text)")
    ap.add_argument("--answer-readout", type=float, default=0.0,
                    help="weight of the training-only read-out of the asked-about shape's colour, shape and direction "
                         "from the residual entering the last decoder layer at the answer position (needs --aux-weight)")
    ap.add_argument("--option-target", choices=("text", "line"), default="text",
                    help="what the option probe should read: the right option's text (after \"C.\"), or its whole "
                         "line, letter included (stages 4-6 of the committed checkpoint)")
    ap.add_argument("--option-copy", type=float, default=0.0,
                    help="weight of the option head's copy loss: its own output should give the answer's letter "
                         "(needs --attn-weight; training only)")
    ap.add_argument("--letter-readout", type=float, default=0.0,
                    help="weight of a read-out of each option's letter from its text's positions at the last decoder "
                         "layer's input (training only)")
    ap.add_argument("--probes-from", type=int, default=0,
                    help="the attention probes and the answer read-out count from the step after this one")
    ap.add_argument("--mc-share", type=float, default=None,
                    help="probability that a seen/heard question is multiple choice (default: uniform over questions)")
    ap.add_argument("--mc-weight", type=float, default=1.0,
                    help="loss weight of multiple-choice answers (the open answers have 1)")
    ap.add_argument("--decoder-heads", type=int, help="from scratch: the decoder's attention heads (default 4; hidden 128)")
    ap.add_argument("--decoder-kv-heads", type=int, help="... and its key/value heads (default 2)")
    ap.add_argument("--decoder-layers", type=int, help="from scratch: the decoder's layers (default 4)")
    ap.add_argument("--grow-layers", type=int, default=0,
                    help="with --init: append this many decoder layers, each starting as the identity")
    ap.add_argument("--qk-init-std", type=float, default=0.0,
                    help="std of the decoder's q_proj/k_proj initial weights (0: transformers' initializer_range)")
    ap.add_argument("--init", help="continue training an exported checkpoint directory (its tokenizer and weights)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--eval-clips", type=int, default=30)
    ap.add_argument("--skip-train", action="store_true", help="only the --heldout step, on an existing --out")
    a = ap.parse_args()
    if a.mc_share is not None and not 0 <= a.mc_share <= 1:
        ap.error(f"--mc-share {a.mc_share}: a probability, 0 to 1")
    if a.mc_weight <= 0 or a.attn_weight < 0 or a.aux_weight < 0 or a.answer_readout < 0:
        ap.error("--mc-weight must be positive, --attn-weight, --aux-weight and --answer-readout at least 0")
    if a.answer_readout > 0 and a.aux_weight == 0:
        ap.error("--answer-readout takes its targets from the vision read-out's: give --aux-weight above 0")
    if a.verify_probe and a.attn_weight == 0:
        ap.error("--verify-probe is an attention probe: give --attn-weight above 0")
    if a.grow_layers < 0 or (a.grow_layers and not a.init):
        ap.error("--grow-layers appends layers to an --init checkpoint: give --init and a count of at least 0")
    shape = {"--decoder-heads": a.decoder_heads, "--decoder-kv-heads": a.decoder_kv_heads,
             "--decoder-layers": a.decoder_layers}
    if a.init and any(v is not None for v in shape.values()):
        ap.error(f"{', '.join(k for k, v in shape.items() if v is not None)}: --init keeps the checkpoint's decoder "
                 "(--grow-layers appends layers to it)")
    a.decoder_heads, a.decoder_kv_heads, a.decoder_layers = (a.decoder_heads or 4, a.decoder_kv_heads or 2,
                                                             a.decoder_layers or 4)
    if min(a.decoder_heads, a.decoder_kv_heads, a.decoder_layers) < 1 or a.decoder_heads % a.decoder_kv_heads:
        ap.error("--decoder-heads, --decoder-kv-heads and --decoder-layers must be positive, the heads a multiple of "
                 "the key/value heads")
    if not a.skip_train:
        train.train(a)
    if a.heldout:
        torch.set_num_threads(a.threads)
        model = ReelAVForConditionalGeneration.from_pretrained(a.out)
        tok = Tokenizer.from_file(os.path.join(a.out, "tokenizer.json"))
        pre = data.Preprocessor.from_json(json.load(open(os.path.join(a.out, "preprocessor_config.json"))))
        s = evaluate.evaluate_set(model, tok, os.path.join(a.heldout, "questions.jsonl"), pre)
        train.log("exported checkpoint on " + a.heldout + ": " + " ".join(f"{k} {v:.3f}" for k, v in s.items()))
        meta = train.write_reference(model, tok, pre, os.path.join(a.heldout, "questions.jsonl"),
                                     os.path.join(a.out, "ref.safetensors"))
        train.log(f"ref.safetensors: {meta}")


if __name__ == "__main__":
    main()
