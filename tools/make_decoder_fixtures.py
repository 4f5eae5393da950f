"""Reference fixtures for Reel's decoder (Llama / Qwen2 / Qwen3) and its ops, from transformers (ARCHSPEC §1, §7).

    python3 tools/make_decoder_fixtures.py [out_dir]      # default: Tests/ReelModelsTests/Fixtures

Writes, per family, <out>/<family>/{model.safetensors, config.json, generation_config.json, ref.safetensors}:
- a tiny random checkpoint (vocab 128, H 64, I 128, 2 layers, nH 4, nKV 2), every parameter randomised, weights
  rounded to bf16 and saved as bf16 (as real checkpoints are; halves the size) — the reference runs in float64 on
  exactly those values (stored as f32), so it is the model's exact output up to f32 storage;
- ref.safetensors: input_ids i64 [S], logits f32 [S,V], hidden_states.{0..L} f32 [S,H] (HF's output_hidden_states:
  hs[0] = embeddings, hs[i] = output of layer i, hs[L] = final-norm output), greedy_ids i64 [32] (generate,
  do_sample=False, no EOS stop) and greedy_logits f32 [32,V] (the scores of each generated step).
Plus <out>/ops.safetensors: RMSNorm, RoPE inverse frequencies for every scaling, rotated q/k, and GQA causal attention.

Variants: Llama with llama3 RoPE scaling (untied); Qwen2 tied with q/k/v biases; Qwen3 head_dim 32 with q/k norm,
tied and I = 96 (so model.safetensors stays under 200 KB). Deterministic: re-running rewrites the same bytes.
"""
import json
import os
import sys

from common import randomize_, save_ref  # sets HF_HUB_OFFLINE

import torch
from transformers import (GenerationConfig, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "Tests", "ReelModelsTests", "Fixtures")
IDS = [1, 5, 9, 77, 3, 100, 42, 8]
NEW_TOKENS = 32
COMMON = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=0)

FAMILIES = {
    "llama": (LlamaForCausalLM, LlamaConfig(**COMMON, rms_norm_eps=1e-5, tie_word_embeddings=False, rope_parameters={
        "rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64})),
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**COMMON, rms_norm_eps=1e-6, tie_word_embeddings=True,
                                            rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(**{**COMMON, "intermediate_size": 96}, head_dim=32, rms_norm_eps=1e-6,
                                            tie_word_embeddings=True,
                                            rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
}


def make_family(name, cls, cfg):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    m = cls(cfg).eval()
    randomize_(m, seed=0)
    with torch.no_grad():  # round to bf16 so the bf16 checkpoint holds exactly the values the reference uses
        for p in m.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    m.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0, do_sample=False)
    m.to(torch.bfloat16).save_pretrained(d)
    # The reference is the checkpoint as a user loads it, run in float64 (stored as f32). Not the in-memory model:
    # `.to(bfloat16)` also rounds the non-persistent RoPE `inv_freq` buffer, which would shift logits by ~4e-4.
    m = cls.from_pretrained(d, dtype=torch.float64).eval()

    ids = torch.tensor([IDS])
    with torch.no_grad():
        out = m(input_ids=ids, output_hidden_states=True)
        gen = m.generate(ids, max_new_tokens=NEW_TOKENS, min_new_tokens=0, do_sample=False, eos_token_id=None,
                         output_scores=True, return_dict_in_generate=True)
    greedy = gen.sequences[0, len(IDS):]
    assert greedy.numel() == NEW_TOKENS, greedy.shape
    ref = {
        "input_ids": ids[0].to(torch.int64),
        "logits": out.logits[0].float(),
        "greedy_ids": greedy.to(torch.int64),
        "greedy_logits": torch.stack([s[0] for s in gen.scores]).float(),
    }
    for i, h in enumerate(out.hidden_states):
        ref[f"hidden_states.{i}"] = h[0].float()
    save_ref(ref, os.path.join(d, "ref.safetensors"))
    for f in ("model.safetensors", "ref.safetensors"):
        print(f"{name}/{f}: {os.path.getsize(os.path.join(d, f))} bytes")


def rope_cfg(rope, hd=16, maxpos=32):
    return LlamaConfig(vocab_size=8, hidden_size=hd * 2, num_attention_heads=2, head_dim=hd,
                       max_position_embeddings=maxpos, rope_parameters=rope)


def make_ops():
    g = torch.Generator().manual_seed(1)
    t = {}
    # RMSNorm: x·rsqrt(mean(x²)+eps) in fp32, then × weight (no +1)
    from transformers.models.llama.modeling_llama import LlamaRMSNorm, apply_rotary_pos_emb, LlamaRotaryEmbedding
    x = torch.randn(3, 40, generator=g) * 2
    n = LlamaRMSNorm(40, eps=1e-5)
    with torch.no_grad():
        n.weight.copy_(1 + 0.1 * torch.randn(40, generator=g))
    t["rmsnorm.x"], t["rmsnorm.weight"], t["rmsnorm.y"] = x, n.weight.detach(), n(x).detach()

    # RoPE inverse frequencies per scaling (hd 16, maxpos 32); dynamic at seq_len 100 (> maxpos) and 20 (<)
    ropes = {
        "default": {"rope_type": "default", "rope_theta": 10000.0},
        "linear": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
        "dynamic": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
        "llama3": {"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
        "yarn": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 16},
        "yarn_mscale": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 8.0, "original_max_position_embeddings": 8,
                        "beta_fast": 16.0, "beta_slow": 2.0, "mscale": 1.0, "mscale_all_dim": 0.5},
    }
    meta = {}
    for k, r in ropes.items():
        cfg = rope_cfg(r)
        if k == "default":
            fn = lambda c, d, seq_len=None: LlamaRotaryEmbedding.compute_default_rope_parameters(c)
        else:
            fn = ROPE_INIT_FUNCTIONS[r["rope_type"]]
        inv, attention_factor = fn(cfg, None)
        t[f"rope.{k}.inv_freq"] = inv.float()
        t[f"rope.{k}.attention_factor"] = torch.tensor([attention_factor], dtype=torch.float32)
        if k == "dynamic":
            t["rope.dynamic.inv_freq.100"] = fn(cfg, None, seq_len=100)[0].float()
            t["rope.dynamic.inv_freq.20"] = fn(cfg, None, seq_len=20)[0].float()
        meta[k] = r
    # Rotated q/k for llama3 at positions 0..5 and 37, through the real rotary module ([S, heads, hd])
    cfg = rope_cfg(ropes["llama3"])
    rot = LlamaRotaryEmbedding(cfg)
    pos = torch.tensor([[0, 1, 2, 3, 4, 5, 37]])
    q = torch.randn(1, 2, 7, 16, generator=g)
    k = torch.randn(1, 1, 7, 16, generator=g)
    cos, sin = rot(q, pos)
    qe, ke = apply_rotary_pos_emb(q, k, cos, sin)
    t["rope.positions"] = pos[0].to(torch.int64)
    t["rope.q"], t["rope.k"] = q[0].transpose(0, 1).contiguous(), k[0].transpose(0, 1).contiguous()
    t["rope.q_out"], t["rope.k_out"] = qe[0].transpose(0, 1).contiguous(), ke[0].transpose(0, 1).contiguous()
    # the same q rotated with yarn (cos/sin scaled by the attention factor)
    rot = LlamaRotaryEmbedding(rope_cfg(ropes["yarn"]))
    cos, sin = rot(q, pos)
    qe, _ = apply_rotary_pos_emb(q, k, cos, sin)
    t["rope.yarn.q_out"] = qe[0].transpose(0, 1).contiguous()

    # Causal GQA attention (sdpa, repeat_interleave): q [S, nH, hd], k/v [S, nKV, hd] -> [S, nH, hd]
    S, nH, nKV, hd = 6, 4, 2, 8
    q = torch.randn(S, nH, hd, generator=g)
    k = torch.randn(S, nKV, hd, generator=g)
    v = torch.randn(S, nKV, hd, generator=g)
    kr = k.repeat_interleave(nH // nKV, dim=1)
    vr = v.repeat_interleave(nH // nKV, dim=1)
    o = torch.nn.functional.scaled_dot_product_attention(q.transpose(0, 1), kr.transpose(0, 1), vr.transpose(0, 1),
                                                         is_causal=True)
    t["attn.q"], t["attn.k"], t["attn.v"], t["attn.out"] = q, k, v, o.transpose(0, 1).contiguous()

    # softmax
    s = torch.randn(5, 33, generator=g) * 4
    t["softmax.x"], t["softmax.y"] = s, torch.softmax(s, dim=-1)
    save_ref(t, os.path.join(OUT, "ops.safetensors"))
    with open(os.path.join(OUT, "ops.json"), "w") as f:
        json.dump({"rope": meta, "rope_head_dim": 16, "rope_max_position_embeddings": 32, "rmsnorm_eps": 1e-5},
                  f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    for name, (cls, cfg) in FAMILIES.items():
        make_family(name, cls, cfg)
    make_ops()
