"""Vision-tower speed, Reel vs PyTorch side by side, on a random LLaVA-OneVision with real SigLIP-so400m layer sizes.

    python3 tools/bench_vision.py [--layers 4] [--frames 4] [--threads 2] [--quant f32 q8 q4] [--reel .build/release/reel]

Builds LlavaOnevisionForConditionalGeneration with the hub's vision tower sizes (D 1152, I 4304, 16 heads, 384/14 →
729 tokens per frame) but only --layers layers, and a tiny Qwen2 text model (the decoder is not what is measured),
saves it (f16) to a temp dir, converts it with `reel convert --quant …`, and times the video features of --frames
frames: torch `get_video_features` (f32, torch threads = --threads) against `reel forward` with
pixel_values_videos (wall time of the command minus the same command's time for one frame is not taken: the
model load is mmap and the decoder is tiny, so the whole command is reported). Prints frames/s and the
extrapolation to the hub's 26 layers.
"""
import argparse
import os
import subprocess
import tempfile
import time

from common import randomize_, save_ref  # sets HF_HUB_OFFLINE

import torch
from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, Qwen2Config, SiglipVisionConfig

ap = argparse.ArgumentParser()
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--frames", type=int, default=4)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--quant", nargs="+", default=["f32", "q8", "q4"])
ap.add_argument("--reel", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "reel"))
a = ap.parse_args()
torch.set_num_threads(a.threads)

vc = SiglipVisionConfig(hidden_size=1152, intermediate_size=4304, num_hidden_layers=a.layers, num_attention_heads=16,
                        image_size=384, patch_size=14, vision_use_head=False)
tc = Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True)
cfg = LlavaOnevisionConfig(vision_config=vc.to_dict(), text_config=tc.to_dict(), image_token_index=250,
                           video_token_index=251, vision_feature_layer=-1, vision_feature_select_strategy="full",
                           tie_word_embeddings=True)
d = tempfile.mkdtemp(prefix="reel-bench-vision-")
m = randomize_(LlavaOnevisionForConditionalGeneration(cfg).eval())
m.to(torch.float16).save_pretrained(d)
m = m.float()
pv = torch.randn(1, a.frames, 3, 384, 384)
with torch.no_grad():
    m.model.get_video_features(pv[:, :1], vision_feature_layer=-1, vision_feature_select_strategy="full")  # warm-up
    t = time.perf_counter()
    m.model.get_video_features(pv, vision_feature_layer=-1, vision_feature_select_strategy="full")
    torch_s = time.perf_counter() - t
tokens = a.frames * 196 + 1
save_ref({"pixel_values_videos": pv, "input_ids": torch.tensor([[1] + [251] * tokens + [2]])}, os.path.join(d, "in.safetensors"))
print(f"SigLIP-so400m layer sizes, {a.layers} layers, {a.frames} frames of 729 tokens, {a.threads} threads")
print(f"{'':10} {'seconds':>8} {'frames/s':>9} {'s/frame @26 layers':>19}")
print(f"{'torch f32':10} {torch_s:8.2f} {a.frames / torch_s:9.2f} {torch_s / a.frames * 26 / a.layers:19.1f}")
for q in a.quant:
    out = os.path.join(d, f"{q}.reel")
    subprocess.run([a.reel, "convert", d, "-o", out, "--quant", q, "--quiet", "--force"], check=True)
    cmd = [a.reel, "forward", out, "--inputs", os.path.join(d, "in.safetensors"), "--outputs", os.path.join(d, "o.safetensors"),
           "--force", "--threads", str(a.threads)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    s = time.perf_counter() - t
    print(f"{'reel ' + q:10} {s:8.2f} {a.frames / s:9.2f} {s / a.frames * 26 / a.layers:19.1f}")
