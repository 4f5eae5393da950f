#!/usr/bin/env python3
"""Writes the ReelSafetensors test fixtures with the reference safetensors library.

Run from the repository root:  python3 tools/make_safetensors_fixtures.py
Output: Tests/ReelSafetensorsTests/Fixtures/
  dtypes.safetensors        one tensor per dtype with known values, plus __metadata__
  special.safetensors       0-d scalars and empty tensors (a 0 in the shape)
  sharded/                  a 2-shard checkpoint with model.safetensors.index.json
  expected.json             for every tensor: dtype, shape, the f32 values (torch's own cast),
                            the exact raw values (integers as decimal strings), NaN/Inf counts
Non-finite floats are written as the strings "nan", "inf", "-inf" (JSON has no such numbers).
"""
import json
import os
import shutil

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ReelSafetensorsTests", "Fixtures")


def float_text(x):
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def describe(name, t, dtype):
    """Expected values for one tensor: f32 as torch casts it, raw values exactly."""
    flat = t.reshape(-1)
    if t.dtype in (torch.uint64, torch.int64, torch.uint32, torch.int32, torch.uint16, torch.int16,
                   torch.uint8, torch.int8, torch.bool):
        raw = [str(int(v)) for v in flat.tolist()]
        # Through numpy (torch lacks some unsigned casts); the chosen values round the same via f64.
        f32 = [float_text(v) for v in np.array([int(v) for v in flat.tolist()], dtype=np.float64).astype(np.float32)]
    else:
        raw = None
        f32 = [float_text(v) for v in flat.to(torch.float32).tolist()]
    # Counted in the stored dtype (f64 -> f64 is exact for every float dtype; a cast to f32 would add Infs).
    nan = int(torch.isnan(flat.to(torch.float64)).sum()) if raw is None else 0
    inf = int(torch.isinf(flat.to(torch.float64)).sum()) if raw is None else 0
    return {"dtype": dtype, "shape": list(t.shape), "f32": f32, "raw": raw, "nan": nan, "inf": inf}


def main():
    shutil.rmtree(os.path.join(ROOT, "sharded"), ignore_errors=True)
    os.makedirs(os.path.join(ROOT, "sharded"))
    expected = {}

    # --- dtypes.safetensors: every dtype with values that exercise its edges -------------------------
    base = [0.0, 1.0, -2.5, 0.333251953125, 65504.0, -1e-3, 3.0e38, 1e-8]
    t = {}
    t["f64"] = (torch.tensor([0.0, 1.0, -2.5, 1e300, -1e-300, 0.1, float("nan"), float("inf")], dtype=torch.float64).reshape(2, 4), "F64")
    t["f32"] = (torch.tensor(base + [float("nan"), float("-inf"), float("inf"), -0.0], dtype=torch.float32).reshape(3, 4), "F32")
    t["f16"] = (torch.tensor([0.0, 1.0, -2.5, 0.333251953125, 65504.0, -1e-3, 6.0e-8, 1e-5,
                              float("nan"), float("inf"), -0.0, 0.1], dtype=torch.float16).reshape(2, 2, 3), "F16")
    t["bf16"] = (torch.tensor([0.0, 1.0, -2.5, 0.333251953125, 3.0e38, -1e-3, 1e-40, float("-inf"),
                               float("nan"), 123.4], dtype=torch.bfloat16).reshape(10), "BF16")
    t["i8"] = (torch.tensor([-128, -1, 0, 1, 127, 42], dtype=torch.int8).reshape(2, 3), "I8")
    t["u8"] = (torch.tensor([0, 1, 128, 255], dtype=torch.uint8), "U8")
    t["i16"] = (torch.tensor([-32768, -1, 0, 32767, 1234], dtype=torch.int16), "I16")
    t["u16"] = (torch.tensor([0, 1, 40000, 65535], dtype=torch.uint16), "U16")
    t["i32"] = (torch.tensor([-2147483648, -1, 0, 2147483647, 16777217], dtype=torch.int32), "I32")
    t["u32"] = (torch.tensor([0, 1, 3000000000, 4294967295], dtype=torch.uint32), "U32")
    t["i64"] = (torch.tensor([-9223372036854775808, -1, 0, 9223372036854775807, 1 << 40], dtype=torch.int64), "I64")
    t["u64"] = (torch.tensor([0, 1, 1 << 63, (1 << 64) - 1], dtype=torch.uint64), "U64")
    t["bool"] = (torch.tensor([True, False, False, True, True], dtype=torch.bool), "BOOL")
    t["f8_e4m3"] = (torch.tensor([0.0, 1.0, -2.5, 448.0, -448.0, 0.001953125, 0.1, float("nan")],
                                 dtype=torch.float32).to(torch.float8_e4m3fn), "F8_E4M3")
    t["f8_e5m2"] = (torch.tensor([0.0, 1.0, -2.5, 57344.0, 1.52587890625e-05, 0.1, float("inf"), float("nan")],
                                 dtype=torch.float32).to(torch.float8_e5m2), "F8_E5M2")
    t["nonfinite_f32"] = (torch.tensor([float("nan"), 1.0, float("inf"), float("-inf"), float("nan"), 0.0]), "F32")
    t["nonfinite_bf16"] = (torch.tensor([float("inf"), float("nan"), 2.0], dtype=torch.bfloat16), "BF16")
    tensors = {k: v[0].contiguous() for k, v in t.items()}
    save_file(tensors, os.path.join(ROOT, "dtypes.safetensors"),
              metadata={"format": "pt", "producer": "tools/make_safetensors_fixtures.py", "note": "ünïcode ✓"})
    expected["dtypes.safetensors"] = {
        "metadata": {"format": "pt", "producer": "tools/make_safetensors_fixtures.py", "note": "ünïcode ✓"},
        "tensors": {k: describe(k, tensors[k], t[k][1]) for k in tensors},
    }

    # --- special.safetensors: 0-d scalars and empty tensors, as the library writes them ----------
    s = {
        "scalar_f32": (torch.tensor(3.5, dtype=torch.float32), "F32"),
        "scalar_i64": (torch.tensor(-7, dtype=torch.int64), "I64"),
        "scalar_bf16": (torch.tensor(-0.75, dtype=torch.bfloat16), "BF16"),
        "empty_f32": (torch.zeros(0, dtype=torch.float32), "F32"),
        "empty_2x0x3_f16": (torch.zeros(2, 0, 3, dtype=torch.float16), "F16"),
        "empty_i32": (torch.zeros(0, 4, dtype=torch.int32), "I32"),
        "tail_u8": (torch.tensor([9, 8, 7], dtype=torch.uint8), "U8"),
    }
    stensors = {k: v[0].contiguous() for k, v in s.items()}
    save_file(stensors, os.path.join(ROOT, "special.safetensors"))
    expected["special.safetensors"] = {"metadata": None,
                                       "tensors": {k: describe(k, stensors[k], s[k][1]) for k in stensors}}

    # --- sharded/: two shards and the index transformers writes -----------------------------------
    g = torch.Generator().manual_seed(1234)
    shard_tensors = [
        {"model.embed.weight": torch.randn(4, 3, generator=g).to(torch.bfloat16),
         "model.layers.0.norm.weight": (torch.rand(3, generator=g) + 0.5).to(torch.float16),
         "model.layers.0.proj.weight": torch.randn(3, 3, generator=g)},
        {"model.layers.1.proj.weight": torch.randn(2, 3, generator=g),
         "model.layers.1.proj.bias": torch.randn(2, generator=g).to(torch.float16),
         "lm_head.weight": torch.randn(4, 3, generator=g).to(torch.bfloat16)},
    ]
    weight_map = {}
    total = 0
    sharded_expected = {}
    for i, tensors in enumerate(shard_tensors):
        fname = f"model-{i + 1:05d}-of-{len(shard_tensors):05d}.safetensors"
        save_file(tensors, os.path.join(ROOT, "sharded", fname), metadata={"format": "pt"})
        dtype_names = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}
        for k, v in tensors.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
            sharded_expected[k] = dict(describe(k, v, dtype_names[v.dtype]), shard=fname)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(ROOT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    expected["sharded"] = {"tensors": sharded_expected}

    with open(os.path.join(ROOT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")

    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(ROOT) for n in ns)
    print(f"wrote fixtures to {os.path.normpath(ROOT)} ({size} bytes)")


if __name__ == "__main__":
    main()
