"""Training the Reel AV demo model on synthetic clips (recipe: docs/demo-model.md)."""
from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from . import clips, data, evaluate, text
from .model import ReelAVForConditionalGeneration, expand_video, make_config

CATEGORIES = ("seen", "heard", "both")


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------------------------------------------------- media

def parsed(scenes: list[dict]) -> list[clips.Scene]:
    """scenes.jsonl rows (a Scene plus its "video" path) → Scenes."""
    return [clips.Scene.from_json({k: v for k, v in s.items() if k != "video"}) for s in scenes]


def prepare_media(clip_dir: str, pre: data.Preprocessor) -> dict:
    """Decodes every clip of a directory made by make_demo_clips.py through `data.load_clip` (the inference path)
    once, caching the inputs in clip_dir/media.pt. "scenes" holds each clip's `clips.Scene`."""
    cache = os.path.join(clip_dir, "media.pt")
    scenes = [json.loads(line) for line in open(os.path.join(clip_dir, "scenes.jsonl"))]
    if os.path.exists(cache):
        m = torch.load(cache)
        if m["preprocessor"] == pre.to_json() and len(m["videos"]) == len(scenes) and "frame_indices" in m:
            return m | {"scenes": parsed(scenes)}
    fe = pre.feature_extractor()
    pv, af, seg, fidx = [], [], [], []
    t = time.time()
    paths = [os.path.join(clip_dir, s["video"]) for s in scenes]
    chunk = 25
    for c0 in range(0, len(paths), chunk):
        w, h, fps = data.probe_video(paths[c0])
        decoded = data.decode_many(paths[c0:c0 + chunk], pre.sampling_rate, (w, h))
        for j, (frames, samples) in enumerate(decoded):
            c = data.clip_inputs(frames, fps, samples, pre, fe)
            if j == 0 and c0 % (10 * chunk) == 0:   # the shared-process decode equals the per-clip inference path
                ref = data.load_clip(paths[c0], pre, fe=fe)
                assert torch.equal(ref["pixel_values"], c["pixel_values"]), paths[c0]
                assert torch.equal(ref["input_features"], c["input_features"]), paths[c0]
            pv.append(c["pixel_values"])
            af.append(c["input_features"])
            seg.append(c["segments"])
            fidx.append(tuple(c["frame_indices"]))
        log(f"decoded {min(c0 + chunk, len(paths))}/{len(paths)} clips of {clip_dir} ({time.time() - t:.0f}s)")
    assert len(set(seg)) == 1 and len(set(fidx)) == 1, "training batches assume one segment plan"
    m = {"videos": [s["video"] for s in scenes], "pixel_values": torch.stack(pv), "input_features": torch.stack(af),
         "segments": seg[0], "frame_indices": list(fidx[0]), "preprocessor": pre.to_json()}
    torch.save(m, cache)
    return m | {"scenes": parsed(scenes)}


def media_cache(m: dict, clip_dir: str) -> dict:
    """video path → inputs, for evaluate.evaluate_set."""
    base = os.path.abspath(clip_dir)
    return {os.path.join(base, v): {"pixel_values": m["pixel_values"][i], "input_features": m["input_features"][i],
                                    "segments": m["segments"]} for i, v in enumerate(m["videos"])}


# ------------------------------------------------------------------------------------------- auxiliary vision targets

AUX_COLOURS = ("none",) + tuple(clips.COLOURS)     # class 0: no shape covers the token
AUX_SHAPES = ("none",) + clips.SHAPES
AUX_DIRECTIONS = ("none",) + clips.DIRECTIONS
AUX_COVER = 0.08                                   # a token belongs to a shape covering at least 8% of it


def token_targets(scene: clips.Scene, frame_indices: list[int], grid: int) -> tuple:
    """Training-only targets for the pooled vision tokens of one clip: for each sampled frame and each of the
    grid×grid tokens (row-major, each covering an (S/grid)² square), the colour, shape and direction class of the
    shape that, with its trail, covers most of it (0 when none covers AUX_COVER of it), and that shape's centre in
    [-1, 1]²."""
    size, cell = clips.SIZE, clips.SIZE // grid
    colour = torch.zeros(len(frame_indices), grid * grid, dtype=torch.long)
    shape = torch.zeros_like(colour)
    direction = torch.zeros_like(colour)
    centre = torch.zeros(len(frame_indices), grid * grid, 2)
    for f, i in enumerate(frame_indices):
        t = i / clips.FPS
        cover = np.zeros((len(scene.things), grid * grid))
        for k, th in enumerate(scene.things):
            m = clips.shape_mask(th, t) | clips.trail_mask(th, t)                # bool [S, S]
            cover[k] = m.reshape(grid, cell, grid, cell).mean(axis=(1, 3)).reshape(-1)
        for tok in range(grid * grid):
            k = int(cover[:, tok].argmax())
            if cover[k, tok] >= AUX_COVER:
                th = scene.things[k]
                colour[f, tok] = AUX_COLOURS.index(th.colour)
                shape[f, tok] = AUX_SHAPES.index(th.shape)
                direction[f, tok] = AUX_DIRECTIONS.index(th.direction)
                cx, cy = th.position(t)
                centre[f, tok] = torch.tensor([cx / size * 2 - 1, cy / size * 2 - 1])
    return colour, shape, direction, centre


def aux_targets(m: dict, grid: int) -> dict:
    """token_targets for every clip of a prepared media dict, stacked: [clips, segments·F, grid²(, 2)]."""
    idx = m["frame_indices"]
    tg = [token_targets(s, idx, grid) for s in m["scenes"]]
    return {"colour": torch.stack([t[0] for t in tg]), "shape": torch.stack([t[1] for t in tg]),
            "direction": torch.stack([t[2] for t in tg]), "centre": torch.stack([t[3] for t in tg])}


class AuxHead(torch.nn.Module):
    """A linear read-out of the vision tokens the decoder sees (after projector and pooling): colour and shape
    and direction logits and the centre of the shape under each token. Training only: it is not part of the exported model."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = torch.nn.Linear(hidden, len(AUX_COLOURS) + len(AUX_SHAPES) + len(AUX_DIRECTIONS) + 2)

    def loss(self, feats: torch.Tensor, colour, shape, direction, centre) -> torch.Tensor:
        """feats [N, T, H]; targets [N, T] / [N, T, 2] → colour, shape and direction CE + centre MSE (shape tokens
        only)."""
        out = self.proj(feats)
        nc, ns, nd = len(AUX_COLOURS), len(AUX_SHAPES), len(AUX_DIRECTIONS)
        ce = torch.nn.functional.cross_entropy
        lc = ce(out[..., :nc].reshape(-1, nc), colour.reshape(-1))
        ls = ce(out[..., nc:nc + ns].reshape(-1, ns), shape.reshape(-1))
        ld = ce(out[..., nc + ns:nc + ns + nd].reshape(-1, nd), direction.reshape(-1))
        on = (colour > 0).unsqueeze(-1).float()
        lp = (((out[..., nc + ns + nd:] - centre) ** 2) * on).sum() / on.sum().clamp(min=1) / 2
        return lc + ls + ld + 4 * lp


def normalised_rows(resid: torch.Tensor, items: list) -> torch.Tensor:
    """The RMS-normalised residual [n, H] at each item's (batch row, position) — what the read-out heads see."""
    x = resid[torch.tensor([r for r, _, _ in items]), torch.tensor([q for _, q, _ in items])]
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


class AnswerReadout(torch.nn.Module):
    """Training only: a linear read-out of the residual stream entering the decoder's last layer, at the position
    that gives an answer's first token, of the colour, shape and direction of the shape the question asks about. It
    asks the layers before the last to have fetched that shape's properties, so the last layer can match them to an
    option line (`--answer-readout`). The residual is RMS-normalised first, so a fresh head on a trained model starts
    with a sane loss."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = torch.nn.Linear(hidden, len(AUX_COLOURS) + len(AUX_SHAPES) + len(AUX_DIRECTIONS))

    def loss(self, resid: torch.Tensor, items: list) -> torch.Tensor:
        t = torch.tensor([c for _, _, c in items])                       # [n, 3]
        out = self.proj(normalised_rows(resid, items))
        nc, ns = len(AUX_COLOURS), len(AUX_SHAPES)
        ce = torch.nn.functional.cross_entropy
        return ce(out[:, :nc], t[:, 0]) + ce(out[:, nc:nc + ns], t[:, 1]) + ce(out[:, nc + ns:], t[:, 2])


class LetterReadout(torch.nn.Module):
    """Training only (`--letter-readout`): a linear read-out of the residual entering the decoder's last layer, at each
    position of an option's text, of that option's letter (A–D). The last layer's option head reads those positions
    and must carry the letter to the answer; this asks the earlier layers (the letter head) to have put it there."""

    def __init__(self, hidden: int):
        super().__init__()
        self.proj = torch.nn.Linear(hidden, 4)

    def loss(self, resid: torch.Tensor, items: list) -> torch.Tensor:
        t = torch.tensor([int(c) for _, _, c in items])
        return torch.nn.functional.cross_entropy(self.proj(normalised_rows(resid, items)), t)


def fit_aux_head(model, head: AuxHead, m: dict, aux: dict, clips_n: int = 256, steps: int = 300) -> float:
    """Fits a fresh read-out head to a trained model's (frozen) vision tokens before training continues (`--init`).
    The exported checkpoint does not carry the head, and a random one on tokens that have grown large gives a loss in
    the tens, whose gradient would swamp the answers' under the norm-1 clip for hundreds of steps."""
    idx = torch.arange(min(clips_n, len(m["videos"])))
    with torch.no_grad():
        feats = model.vision_features(m["pixel_values"][idx].flatten(0, 1))
    targets = [aux[k][idx].flatten(0, 1) for k in ("colour", "shape", "direction", "centre")]
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = head.loss(feats, *targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return loss.item()


# ------------------------------------------------------------------------------------------------------- sequences

class Encoder:
    """Tokenizes with a cache (the same few hundred strings recur)."""

    def __init__(self, tok: Tokenizer):
        self.tok, self.memo = tok, {}
        self.newline = tok.encode("\n").ids
        # tokens that end an option line (the newline may merge with preceding punctuation, e.g. "?\n")
        self.newline_like = {i for t, i in tok.get_vocab().items() if t.endswith("Ċ")}

    def __call__(self, s: str) -> list[int]:
        if s not in self.memo:
            self.memo[s] = self.tok.encode(s).ids
        return self.memo[s]


def referenced_thing(scene: clips.Scene, question: str) -> int | None:
    """The index of the shape a question asks about (by its colour, its motion, or its shape when unique), if any."""
    for k, t in enumerate(scene.things):
        if f"the {t.colour} " in question or f"that {clips._moves(t)}" in question \
                or question.startswith(f"What colour is the {t.shape}?"):
            return k
    return None


def option_lines(enc: Encoder, tokens: list[int]) -> list[tuple[int, int]]:
    """(start, end) token ranges of the lettered option lines "X. …" in a prompt: from the letter to the newline."""
    letters = {enc(c)[0] for c in "ABCD"}
    dot = enc(".")[0]
    out = []
    for j in range(len(tokens) - 1):
        if tokens[j] in letters and tokens[j + 1] == dot and (j == 0 or tokens[j - 1] in enc.newline_like):
            e = j + 2
            while e < len(tokens) and tokens[e] not in enc.newline_like:
                e += 1
            out.append((j, e))
    return out


def questions_about(enc: Encoder, scene: clips.Scene, rng, segments: int, config: dict, turns: tuple[int, int],
                    mc_share: float | None = None, mc_weight: float = 1.0, verify: bool = False,
                    option_text: bool = True):
    """Several independent single-question prompts about one clip, packed behind ONE copy of the clip (ids, labels,
    positions, branch, probes): the prefix is the user turn up to and including the clip; each branch is the rest of
    one question's prompt, its answer and <|im_end|>. A branch sees the prefix and itself only (see
    `attention_mask`), and its positions continue from the prefix, so each question is exactly the single-question
    prompt the model answers at inference — no question can copy another's answer. Only the answers and their
    <|im_end|> are trained (multiple-choice answers with loss weight `mc_weight`, in `weights`). Categories are drawn uniformly, then a question within the category (with `mc_share`, a
    multiple-choice one with that probability where the category has one).

    `probes` lists, for the attention loss, (kind, query position, target) records: ("shape", the last prompt
    position, index of the shape asked about), ("option", the last prompt position, token range of the right option's
    text after "X." — with `option_text` False its whole line, letter included) and ("letter", a position of an option's text, the position of its letter); with `verify`, also ("verify",
    a position of an option's text, index of the shape asked about): an option of a question about one shape reads
    that shape, so it can tell whether it is true before the answer looks for the true option."""
    qs = clips.questions_for(scene, rng)
    by_cat = {c: [q for q in qs if q["category"] == c] for c in CATEGORIES}
    prefix = expand_video(enc("<|im_start|>user\n<video>"), segments, config)
    ids, labels, pos, branch = list(prefix), [-100] * len(prefix), list(range(len(prefix))), [0] * len(prefix)
    probes, weights = [], [0.0] * len(prefix)
    for k in range(int(rng.integers(turns[0], turns[1] + 1))):
        q = by_cat[CATEGORIES[int(rng.integers(len(CATEGORIES)))]]
        mc = [x for x in q if x.get("options")]
        if mc_share is not None and mc:
            q = mc if rng.random() < mc_share else [x for x in q if not x.get("options")]
        q = q[int(rng.integers(len(q)))]
        full = expand_video(enc(text.user_turn(clips.prompt_text(q), video=True)), segments, config)
        assert full[:len(prefix)] == prefix, "the prompt's tokens must start with the clip prefix"
        a = enc(q["answer"]) + [text.IM_END]
        rest = full[len(prefix):] + a
        start = len(ids) - len(prefix)          # sequence index of full[j] is start + j
        last = start + len(full) - 1            # the position whose logits give the answer's first token
        thing = referenced_thing(scene, q["question"])
        if thing is not None:
            probes.append(("shape", last, thing))
        if q.get("options"):
            for n, (s0, e0) in enumerate(option_lines(enc, full)):
                if "ABCD"[n] == q["answer"]:   # its text, not its letter: a uniform look at the letters earns nothing
                    probes.append(("option", last, (start + s0 + (2 if option_text else 0), start + e0)))
                    probes.append(("copy", last, a[0]))   # the answer's first token: the option head should write it
                for j in range(s0 + 2, e0):
                    probes.append(("letter", start + j, start + s0))
                    probes.append(("lettercls", start + j, n))   # the option's letter, for `--letter-readout`
                    if thing is not None and verify:
                        probes.append(("verify", start + j, thing))
        ids += rest
        labels += [-100] * (len(full) - len(prefix)) + a
        pos += list(range(len(prefix), len(prefix) + len(rest)))
        branch += [k + 1] * len(rest)
        weights += [0.0] * (len(full) - len(prefix)) + [mc_weight if q.get("options") else 1.0] * len(a)
    return ids, labels, pos, branch, probes, weights


def attention_mask(branch: torch.Tensor) -> torch.Tensor:
    """bool [B, 1, L, L], True = may attend: causal, and a branch token sees the prefix (branch 0) and its own branch.
    Padding (branch −1) sees itself only."""
    L = branch.shape[1]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    bq, bk = branch[:, :, None], branch[:, None, :]
    m = causal & ((bk == 0) | (bq == bk))
    m |= torch.eye(L, dtype=torch.bool)
    return m[:, None]


def batch(enc, m, idx, rng, config, turns, mc_share=None, aux=None, mc_weight=1.0, verify=False, option_text=True):
    seqs = [questions_about(enc, m["scenes"][i], rng, m["segments"], config, turns, mc_share, mc_weight, verify,
                            option_text) for i in idx]
    n = max(len(s[0]) for s in seqs)
    ids = torch.full((len(seqs), n), text.ENDOFTEXT, dtype=torch.long)
    lab = torch.full((len(seqs), n), -100, dtype=torch.long)
    pos = torch.zeros((len(seqs), n), dtype=torch.long)
    br = torch.full((len(seqs), n), -1, dtype=torch.long)
    wt = torch.zeros((len(seqs), n))
    # kind → [(row, query position, targets)]; "answer": (row, answer position, the asked-about shape's classes)
    probes = {"shape": [], "option": [], "letter": [], "verify": [], "answer": [], "copy": [], "lettercls": []}
    for r, (s, l, p, b, pr, w) in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s)
        wt[r, :len(w)] = torch.tensor(w)
        lab[r, :len(l)] = torch.tensor(l)
        pos[r, :len(p)] = torch.tensor(p)
        br[r, :len(b)] = torch.tensor(b)
        frame_pos = None
        for kind, q, target in pr:
            if kind in ("shape", "verify"):
                if aux is None:
                    continue
                if frame_pos is None:
                    frame_pos = torch.nonzero(ids[r] == config["frame_token_index"]).flatten()
                th = m["scenes"][idx[r]].things[target]
                if kind == "shape":
                    probes["answer"].append((r, q, (AUX_COLOURS.index(th.colour), AUX_SHAPES.index(th.shape),
                                                    AUX_DIRECTIONS.index(th.direction))))
                on = aux["colour"][idx[r]].flatten() == AUX_COLOURS.index(th.colour)
                t = frame_pos[on]
                if len(t) == 0:
                    continue
            elif kind == "option":
                t = torch.arange(target[0], target[1])
            else:
                t = torch.tensor([target])
            probes[kind].append((r, q, t))
    pv = m["pixel_values"][idx].flatten(0, 1)        # [B·segments·F, 3, S, S]
    af = m["input_features"][idx].flatten(0, 1)      # [B·segments, mels, frames]
    return ids, lab, pv, af, pos, attention_mask(br), probes, wt


# Which decoder head each attention probe trains: kind → (layer, head); a negative layer counts from the last layer
# (so the option probe reads from the last layer however deep the decoder is). See `attention_loss`.
PROBE_HEADS = {"shape": (2, 0), "option": (-1, 2), "letter": (1, 3), "verify": (2, 0)}


def probe_heads(n_layers: int) -> dict:
    return {k: (l % n_layers, h) for k, (l, h) in PROBE_HEADS.items()}


def _probe_attention(module, query, key, value, attention_mask, **kw):
    """SDPA attention that also keeps a probed layer's post-RoPE queries and keys (and the mask), so the probed heads'
    weights can be computed at the probed positions only (`attention_loss`) — eager attention in every layer would
    compute and keep every head's full [L, L] weights, which made a step 2.5× slower."""
    out = sdpa_attention_forward(module, query, key, value, attention_mask, **kw)
    if getattr(module, "reel_probe", False):
        module.reel_qk = (query, key, attention_mask)
        module.reel_out = out[0]                    # [B, L, heads, head_dim], before o_proj
    return out


AttentionInterface.register("reel_probe", _probe_attention)


def enable_probes(model) -> dict:
    """Switches the decoder to `_probe_attention` and marks the probed layers; returns kind → (attention module,
    head)."""
    lm = model.language_model
    lm.set_attn_implementation("reel_probe")
    layers = lm.model.layers
    out = {}
    for kind, (layer, head) in probe_heads(len(layers)).items():
        attn = layers[layer].self_attn
        attn.reel_probe = True
        out[kind] = (attn, head)
    return out


def probe_weights(attn, head: int, rows: torch.Tensor, qs: torch.Tensor) -> torch.Tensor:
    """[n, L] attention weights of `head` of a probed layer from query position qs[i] of batch row rows[i], exactly
    as eager attention computes them (softmax of scaled q·k plus the mask)."""
    query, key, mask = attn.reel_qk
    kv = head // attn.num_key_value_groups
    q = query[rows, head, qs]                                   # [n, d]
    k = key[rows, kv]                                           # [n, L, d]
    logits = torch.einsum("nd,nld->nl", q, k) * attn.scaling
    if mask is not None:   # the bool [B, 1, L, L] mask of `attention_mask`, True = may attend
        logits = logits.masked_fill(~mask[rows, 0, qs], float("-inf"))
    return torch.softmax(logits, dim=-1)


def probed_items(heads: dict, probes: dict):
    """Per probe kind with items and a head: (attention module, head, batch rows, query positions, items)."""
    for kind, items in probes.items():
        if items and kind in heads:
            attn, head = heads[kind]
            yield attn, head, torch.tensor([r for r, _, _ in items]), torch.tensor([q for _, q, _ in items]), items


def attention_loss(heads: dict, probes: dict, L: int) -> torch.Tensor:
    """Training-only supervision of where three heads look, from the generator's ground truth: from the position
    that gives an answer's first token, one head (PROBE_HEADS["shape"]) should read the vision tokens of the shape the
    question asks about, another (["option"]) the right option's text; at an option's text, a third (["letter"])
    should read the option's letter (and with `--verify-probe` the shape head, from there, the asked-about shape).
    Loss: −log of the attention mass on the targets, averaged per kind, summed. `heads`: `enable_probes`."""
    total = torch.zeros(())
    for attn, head, rows, qs, items in probed_items(heads, probes):
        target = torch.zeros(len(items), L)
        for n, (_, _, t) in enumerate(items):
            target[n, t] = 1.0
        mass = (probe_weights(attn, head, rows, qs) * target).sum(-1)
        total = total + (-torch.log(mass + 1e-6)).mean()
    return total


def option_copy_loss(model, heads: dict, probes: dict, letters: list[int]) -> torch.Tensor:
    """Training-only: the option head's own output at the answer position of a multiple-choice question — its slice of
    o_proj, then the final norm and the output head, as if it alone made the residual — should pick the answer's
    letter among the option letters (cross-entropy over the letters' logits: the head need only tell the letters
    apart; every other token is left to the rest of the model). The option probe teaches the head where to look; this teaches it what to carry: the
    letter the option's text holds (which the letter head put there), so the two-step lookup is trained end to end
    instead of waiting for the answer loss alone to find it."""
    items = probes.get("copy") or []
    if not items or "option" not in heads:
        return torch.zeros(())
    attn, head = heads["option"]
    rows = torch.tensor([r for r, _, _ in items])
    qs = torch.tensor([q for _, q, _ in items])
    target = torch.tensor([letters.index(int(t)) for _, _, t in items])
    d = attn.head_dim
    o = attn.reel_out[rows, qs, head]                                   # [n, head_dim]
    c = o @ attn.o_proj.weight[:, head * d:(head + 1) * d].T             # [n, hidden]
    lm = model.language_model
    logits = lm.lm_head(lm.model.norm(c))[:, letters]
    return torch.nn.functional.cross_entropy(logits, target)


@torch.no_grad()
def check_probe_weights(model, heads: dict, ids, pv, af, pos, mask, probes) -> float:
    """Largest difference between `probe_weights` and eager attention's weights on one batch (they must agree: the
    probes train exactly the heads eager attention would report)."""
    lm = model.language_model
    lm.set_attn_implementation("eager")
    fmask = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    out = lm(inputs_embeds=model.embed(ids, pv, af), position_ids=pos, attention_mask=fmask, output_attentions=True)
    lm.set_attn_implementation("reel_probe")
    model(ids, pv, af, position_ids=pos, attention_mask=mask)
    worst = 0.0
    for attn, head, rows, qs, _ in probed_items(heads, probes):
        ref = out.attentions[attn.layer_idx][rows, head, qs]
        worst = max(worst, float((probe_weights(attn, head, rows, qs) - ref).abs().max()))
    return worst


def grow_decoder(model, extra: int):
    """A copy of `model` with `extra` decoder layers appended, each starting as the identity: its o_proj and
    down_proj are zero, so the residual stream passes through unchanged and the grown model answers exactly as the
    old one until training moves them."""
    config = json.loads(json.dumps(model.config))
    n = config["text_config"]["num_hidden_layers"]
    config["text_config"]["num_hidden_layers"] = n + extra
    if "layer_types" in config["text_config"]:
        config["text_config"]["layer_types"] += config["text_config"]["layer_types"][-1:] * extra
    grown = ReelAVForConditionalGeneration(config)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(".layers." in k and int(k.split(".layers.")[1].split(".")[0]) >= n
                                  for k in missing), (missing, unexpected)
    with torch.no_grad():
        for layer in grown.language_model.model.layers[n:]:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    return grown


# ------------------------------------------------------------------------------------------------------------- run

def default_config(vocab_size: int, pre: data.Preprocessor, heads: int = 4, kv_heads: int = 2, layers: int = 4) -> dict:
    return make_config(
        vision=dict(hidden_size=96, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                    image_size=pre.image_size, patch_size=8),
        audio=dict(num_mel_bins=pre.feature_size, d_model=64, encoder_layers=2, encoder_attention_heads=4,
                   encoder_ffn_dim=128, max_source_positions=pre.nb_max_frames // 2),
        text=dict(vocab_size=vocab_size, hidden_size=128, intermediate_size=384, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=2048, rope_theta=10000.0,
                  rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=None, eos_token_id=text.IM_END,
                  pad_token_id=text.ENDOFTEXT),
        segment_seconds=pre.segment_seconds, frames_per_segment=pre.frames_per_segment, max_segments=pre.max_segments,
    )


def tokenizer_corpus(scenes: list[clips.Scene], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for sc in scenes:
        for q in clips.questions_for(sc, rng):
            out.append(text.user_turn(clips.prompt_text(q), video=True) + q["answer"] + "<|im_end|>\n")
    return out


def export(model, tok, pre: data.Preprocessor, out: str, dtype=torch.float32) -> None:
    """The HF-layout checkpoint directory."""
    model.save_pretrained(out, dtype=dtype)
    text.save_tokenizer(tok, out)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(pre.to_json(), f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [text.IM_END, text.ENDOFTEXT], "pad_token_id": text.ENDOFTEXT,
                   "bos_token_id": None, "do_sample": False, "max_new_tokens": 16}, f, indent=2)
        f.write("\n")


@torch.no_grad()
def write_reference(model, tok, pre: data.Preprocessor, questions_path: str, out_path: str, n_items: int = 2) -> dict:
    """ref.safetensors for the Swift parity test: for the first question of the first `n_items` clips, decoded from
    the mp4 by the inference path: input_ids, pixel_values, input_features, the stages, the last 4 logits, answer."""
    base = os.path.dirname(os.path.abspath(questions_path))
    items, seen = [], set()
    for line in open(questions_path):
        it = json.loads(line)
        if it["video"] not in seen:
            seen.add(it["video"])
            items.append(it)
    tensors, meta = {}, {}
    for k, it in enumerate(items[:n_items]):
        media = data.load_clip(os.path.join(base, it["video"]), pre)
        ids = evaluate.prompt_ids(tok, it, media["segments"], model.config)
        st = {}
        logits = model(torch.tensor([ids]), media["pixel_values"], media["input_features"], stages=st)
        new = model.generate(torch.tensor([ids]), media["pixel_values"], media["input_features"])
        p = f"item{k}."
        tensors[p + "input_ids"] = torch.tensor(ids, dtype=torch.int64)
        tensors[p + "frame_indices"] = torch.tensor(media["frame_indices"], dtype=torch.int64)
        tensors[p + "pixel_values"] = media["pixel_values"]
        tensors[p + "input_features"] = media["input_features"]
        tensors[p + "vision_features"] = st["vision_features"]          # after projector and pooling
        tensors[p + "audio_features"] = st["audio_features"]            # after projector
        tensors[p + "logits_last4"] = logits[0, -4:]
        tensors[p + "answer_ids"] = torch.tensor(new, dtype=torch.int64)
        meta[p + "video"] = it["video"]
        meta[p + "question"] = it["question"]
        meta[p + "answer"] = tok.decode([i for i in new if i not in (text.IM_END, text.ENDOFTEXT)])
    save_file({k: v.contiguous() for k, v in tensors.items()}, out_path, metadata=meta)
    return meta


def train(a) -> None:
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    torch.set_num_threads(a.threads)
    pre = data.Preprocessor()
    t0 = time.time()
    tr = prepare_media(a.train_dir, pre)
    ev = prepare_media(a.eval_dir, pre)
    log(f"media ready: {len(tr['videos'])} training clips, {len(ev['videos'])} evaluation clips "
        f"({time.time() - t0:.0f}s)")

    if a.init:   # continue from an exported checkpoint: its tokenizer and weights (a fresh optimiser and schedule)
        tok = Tokenizer.from_file(os.path.join(a.init, "tokenizer.json"))
        model = ReelAVForConditionalGeneration.from_pretrained(a.init).train()
        if a.grow_layers:
            model = grow_decoder(model, a.grow_layers).train()
        config = model.config
        vocab = config["text_config"]["vocab_size"]
        log(f"continuing from {a.init}" + (f", {a.grow_layers} identity decoder layers appended" if a.grow_layers else ""))
    else:
        tok = text.train_tokenizer(tokenizer_corpus(tr["scenes"], a.seed), a.vocab)
        vocab = math.ceil(tok.get_vocab_size() / 64) * 64
        config = default_config(vocab, pre, a.decoder_heads, a.decoder_kv_heads, a.decoder_layers)
        model = ReelAVForConditionalGeneration(config)
    # transformers initialises the audio convolutions with N(0, 0.02), which leaves the sound far weaker than the
    # stored sinusoidal positions it is added to (a probe of the untrained features cannot tell a high tone from a
    # low one); He-normal weights ×2 make the sound the larger part.
    with torch.no_grad():
        for conv in (() if a.init else (model.audio_tower.conv1, model.audio_tower.conv2)):
            torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            conv.weight.mul_(2.0)
            conv.bias.zero_()
    if a.qk_init_std > 0 and not a.init:
        # transformers' N(0, 0.02) leaves the decoder's attention logits near zero, so every position starts by
        # averaging the whole sequence: a clip-wide property (the tone) comes through, one shape among 64 vision tokens
        # does not, and selective attention is learned slowly. Larger query/key weights start it selective.
        with torch.no_grad():
            for layer in model.language_model.model.layers:
                for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj):
                    lin.weight.normal_(0.0, a.qk_init_std)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"tokenizer {tok.get_vocab_size()} tokens (embedding rows {vocab}); model {n_params / 1e6:.2f} M parameters")
    enc = Encoder(tok)
    grid = math.isqrt(config["vision_tokens_per_frame"])
    aux = aux_targets(tr, grid) if a.aux_weight > 0 else None
    head = AuxHead(config["text_config"]["hidden_size"])
    if aux is not None:
        log(f"auxiliary vision targets: {grid}x{grid} tokens per frame, "
            f"{(aux['colour'] > 0).float().mean():.3f} of tokens on a shape; weight {a.aux_weight}")
        if a.init:
            log(f"read-out head fitted to the checkpoint's vision tokens: loss {fit_aux_head(model, head, tr, aux):.4f}")

    readout = AnswerReadout(config["text_config"]["hidden_size"]) if a.answer_readout > 0 else None
    lreadout = LetterReadout(config["text_config"]["hidden_size"]) if a.letter_readout > 0 else None
    params = list(model.named_parameters()) + (list(head.named_parameters()) if aux is not None else []) \
        + (list(readout.named_parameters()) if readout is not None else []) \
        + (list(lreadout.named_parameters()) if lreadout is not None else [])
    decay = [p for n, p in params if p.requires_grad and p.dim() >= 2]
    other = [p for n, p in params if p.requires_grad and p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / a.warmup) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps)))))
    ev_cache = media_cache(ev, a.eval_dir)
    qpath = os.path.join(a.eval_dir, "questions.jsonl")
    small_q = os.path.join(a.eval_dir, "questions_small.jsonl")
    with open(qpath) as f, open(small_q, "w") as g:
        g.writelines(f.readlines()[: 4 * a.eval_clips])

    t_train = time.time()
    model.train()
    ema, best, aux_ema, attn_ema = None, -1.0, 0.0, 0.0
    if a.attn_weight > 0:
        tc = config["text_config"]
        for kind, (layer, h) in PROBE_HEADS.items():
            if layer >= tc["num_hidden_layers"] or -layer > tc["num_hidden_layers"] or h >= tc["num_attention_heads"]:
                sys.exit(f"--attn-weight: the {kind} probe trains layer {layer} head {h}, but the decoder has "
                         f"{tc['num_hidden_layers']} layers of {tc['num_attention_heads']} heads")
        probed = enable_probes(model)
        chk = batch(enc, tr, np.arange(min(4, len(tr["videos"]))), np.random.default_rng(a.seed + 99), config,
                    (a.min_turns, a.max_turns), a.mc_share, aux, a.mc_weight, a.verify_probe)
        diff = check_probe_weights(model, probed, chk[0], *chk[2:7])   # ids, pixels, audio, positions, mask, probes
        if diff > 1e-4:
            sys.exit(f"the probed heads' weights differ from eager attention's by {diff:.2e}")
        log(f"attention probes: weight {a.attn_weight}, heads (layer, head) {probe_heads(tc['num_hidden_layers'])}; "
            f"equal to eager attention's weights within {diff:.1e}")
    if a.option_copy > 0 and a.attn_weight <= 0:
        sys.exit("--option-copy needs the attention probes (--attn-weight)")
    resid, ro_ema, copy_ema = {}, 0.0, 0.0
    letters = [enc(x)[0] for x in "ABCD"]   # an option's letter as the answer's first token
    assert all(len(enc(x)) == 1 for x in "ABCD"), "each option letter must be one token"
    if readout is not None or lreadout is not None:
        model.language_model.model.layers[-1].register_forward_pre_hook(
            lambda mod, args: resid.__setitem__("x", args[0]))
        log(f"read-outs at the last decoder layer's input: answer {a.answer_readout}, letter {a.letter_readout}")
    le_ema = 0.0
    for step in range(1, a.steps + 1):
        idx = rng.choice(len(tr["videos"]), size=a.batch, replace=False)
        ids, lab, pv, af, pos, mask, probes, wt = batch(enc, tr, idx, rng, config, (a.min_turns, a.max_turns),
                                                        a.mc_share, aux, a.mc_weight, a.verify_probe,
                                                        a.option_target == "text")
        st = {} if aux is not None else None
        logits = model(ids, pv, af, stages=st, position_ids=pos, attention_mask=mask)
        on = step > a.probes_from   # the probe and answer read-out losses start after a probe-free first phase
        if a.attn_weight > 0 and on:
            lp = attention_loss(probed, probes, ids.shape[1])
            attn_ema = lp.item() if step == 1 else 0.95 * attn_ema + 0.05 * lp.item()
        ce = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), lab[:, 1:].reshape(-1),
                                               ignore_index=-100, reduction="none")
        w = wt[:, 1:].reshape(-1)
        loss = (ce * w).sum() / w.sum()
        if aux is not None:
            la = head.loss(st["vision_features"], *(aux[k][idx].flatten(0, 1)
                                                    for k in ("colour", "shape", "direction", "centre")))
            aux_ema = la.item() if step == 1 else 0.95 * aux_ema + 0.05 * la.item()
            loss = loss + a.aux_weight * la
        if a.attn_weight > 0 and on:
            loss = loss + a.attn_weight * lp
        if a.option_copy > 0 and on:
            lc = option_copy_loss(model, probed, probes, letters)
            copy_ema = lc.item() if step == 1 else 0.95 * copy_ema + 0.05 * lc.item()
            loss = loss + a.option_copy * lc
        if lreadout is not None and probes["lettercls"] and on:
            ll = lreadout.loss(resid["x"], probes["lettercls"])
            le_ema = ll.item() if step == 1 else 0.95 * le_ema + 0.05 * ll.item()
            loss = loss + a.letter_readout * ll
        if readout is not None and probes["answer"] and on:
            lr_ = readout.loss(resid["x"], probes["answer"])
            ro_ema = lr_.item() if step == 1 else 0.95 * ro_ema + 0.05 * lr_.item()
            loss = loss + a.answer_readout * lr_
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % a.log_every == 0:
            log(f"step {step}/{a.steps} loss {ema:.4f}" + (f" (aux {aux_ema:.4f})" if aux is not None else "") + (f" (attn {attn_ema:.4f})" if a.attn_weight > 0 else "") + (f" (readout {ro_ema:.4f})" if readout is not None else "") + (f" (copy {copy_ema:.4f})" if a.option_copy > 0 else "") + (f" (letter {le_ema:.4f})" if lreadout is not None else "") + f" lr {sched.get_last_lr()[0]:.2e} "
                f"{(time.time() - t_train) / step:.2f}s/step")
        if step % a.eval_every == 0 or step == a.steps:
            model.eval()
            s = evaluate.evaluate_set(model, tok, small_q, pre, ev_cache)
            model.train()
            log(f"step {step} held-out ({a.eval_clips} clips) " + " ".join(f"{k} {v:.3f}" for k, v in s.items()))
            if s["overall"] >= best:   # keep the best export so far, so an interrupted run still leaves a model
                best = s["overall"]
                export(model, tok, pre, a.out)
    train_s = time.time() - t_train
    model.eval()
    s = evaluate.evaluate_set(model, tok, qpath, pre, ev_cache)
    log(f"training {train_s / 60:.1f} min; held-out ({len(ev['videos'])} clips, {s['n']} questions): "
        + " ".join(f"{k} {v:.3f}" for k, v in s.items()))
    export(model, tok, pre, a.out)
    with open(os.path.join(a.out, "training_log.json"), "w") as f:
        json.dump({"init": a.init, "steps": a.steps, "batch": a.batch, "seed": a.seed, "aux_weight": a.aux_weight, "attn_weight": a.attn_weight, "mc_share": a.mc_share, "mc_weight": a.mc_weight, "grow_layers": a.grow_layers,
                   "verify_probe": a.verify_probe, "answer_readout": a.answer_readout, "option_copy": a.option_copy, "letter_readout": a.letter_readout,
                   "option_target": a.option_target, "probes_from": a.probes_from, "lr": a.lr, "train_minutes": round(train_s / 60, 1),
                   "heldout": s, "threads": a.threads}, f, indent=2)
    log(f"exported to {a.out}")
