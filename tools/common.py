"""Shared helpers for Reel's reference-fixture scripts (ARCHSPEC §7).

Every script: builds a tiny random HF model, randomises *every* parameter (HF init leaves norm weights at 1 and
biases at 0, which hides bugs), saves it with save_pretrained, runs it, and writes the reference tensors to
ref.safetensors. Offline and deterministic: re-running rewrites byte-identical files.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


def randomize_(m, seed=0):
    """Norm weights = 1 + 0.1·N, everything else (biases included) = 0.05·N, from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if p.dim() == 1 and ("norm" in n or "ln" in n) and n.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return m


def save_ref(tensors, path):
    """Writes a dict of tensors (lists flattened as name.<i>) to a safetensors file, contiguous and detached."""
    flat = {}
    for k, v in tensors.items():
        if isinstance(v, (list, tuple)):
            for i, t in enumerate(v):
                flat[f"{k}.{i}"] = t.detach().contiguous().clone()
        else:
            flat[k] = v.detach().contiguous().clone()
    save_file(flat, path)
