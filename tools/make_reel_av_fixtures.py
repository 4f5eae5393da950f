"""Reference fixture for Reel AV (formats/REEL-AV.md §6), made with the PyTorch reference tools/reel_av/model.py.

    python3 tools/make_reel_av_fixtures.py [out_dir]      # default: Tests/ReelModelsTests/Fixtures/reel_av

A TINY random `ReelAVForConditionalGeneration` (every parameter randomised with common.randomize_), a tiny byte-level
BPE tokenizer with the demo's ChatML template (tools/reel_av/text.py), and one short synthetic clip made by
tools/reel_av/clips.py (64×64, 8 fps, 4 s, H.264 + AAC). The tower takes 32×32 frames, so the clip's frames go
through the §4.3 bicubic antialiased resize; the audio windows are 2 s (chunk_length 2, 200 mel frames, P = 100).

    vision  SigLIP hidden 32, 2 layers, 4 heads, image 32, patch 8 → G 4 → pooled 2×2 (Tv 4)
    audio   Qwen2-Audio encoder, 80 mels, d_model 32, 2 layers, 4 heads, ffn 64, P 100 (Ta 50)
    text    Qwen2 hidden 32, 2 layers, 4 heads / 2 kv, intermediate 64, vocab 300, untied lm_head

The media inputs come from tools/reel_av/data.py's `load_clip` (ffmpeg decode, §4.2 plan, resize + normalise,
transformers' WhisperFeatureExtractor per window), exactly as training and evaluation use them. The model then runs
in float64 on exactly the stored f32 weights and inputs.

ref.safetensors:
  input_ids i64 [L] (placeholders expanded), frame_indices i64 [n·F], pixel_values f32 [n·F, 3, 32, 32],
  input_features f32 [n, 80, 200], vision_features f32 [n·F, 4, 32], audio_features f32 [n, 50, 32],
  logits_last4 f32 [4, 300], answer_ids i64 [k] (greedy, full recompute each step, stop at <|im_end|>/<|endoftext|>
  or after 8 tokens),
  noaudio.input_ids i64, noaudio.logits_last4 f32 [4, 300] (the same question, frames only: --no-audio).
Metadata: question, video.

Deterministic: re-running rewrites the same files.
"""
import json
import os
import shutil
import sys

from common import randomize_  # sets HF_HUB_OFFLINE

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from reel_av import clips, data, text  # noqa: E402
from reel_av.model import ReelAVForConditionalGeneration, expand_video, make_config  # noqa: E402

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

ROOT = os.path.join(HERE, "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "ReelModelsTests", "Fixtures", "reel_av")
QUESTION = "How many beeps are there?"
NEW_TOKENS = 8
VOCAB = 300
CLIP_SEED = 11


def tokenizer_texts():
    texts = []
    for seed in range(40):
        scene = clips.sample_scene(seed)
        rng = __import__("numpy").random.default_rng(seed)
        for q in clips.questions_for(scene, rng):
            texts.append(text.user_turn(clips.prompt_text(q), True) + q["answer"] + "<|im_end|>\n")
    return texts


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    tok = text.train_tokenizer(tokenizer_texts(), VOCAB)
    text.save_tokenizer(tok, OUT, max_length=512)
    vocab = tok.get_vocab_size()
    assert vocab <= VOCAB, vocab

    pre = data.Preprocessor(image_size=32)
    cfg = make_config(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_channels=3,
                    image_size=32, patch_size=8, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
        audio=dict(num_mel_bins=80, d_model=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64,
                   max_source_positions=100, activation_function="gelu", scale_embedding=False),
        text=dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, max_position_embeddings=512,
                  tie_word_embeddings=False, eos_token_id=2, pad_token_id=0),
        segment_seconds=pre.segment_seconds, frames_per_segment=pre.frames_per_segment, max_segments=pre.max_segments)
    model = ReelAVForConditionalGeneration(cfg)
    randomize_(model, seed=0)
    # randomize_ also overwrites the stored Whisper sinusoids (REEL-AV.md §2), so a runtime that recomputes them fails.
    model.save_pretrained(OUT, dtype=torch.float32)
    with open(os.path.join(OUT, "preprocessor_config.json"), "w") as f:
        json.dump(pre.to_json(), f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [2, 0], "pad_token_id": 0, "do_sample": False}, f, indent=2)
        f.write("\n")

    clip = os.path.join(OUT, "clip.mp4")
    clips.write_clip(clips.sample_scene(CLIP_SEED), clip)

    ref = ReelAVForConditionalGeneration.from_pretrained(OUT).double()
    inputs = data.load_clip(clip, pre, audio=True)
    n = inputs["segments"]
    prompt = tok.encode(text.user_turn(QUESTION, True)).ids
    assert prompt.count(text.VIDEO) == 1
    ids = expand_video(prompt, n, cfg)
    px = inputs["pixel_values"]
    feats = inputs["input_features"]
    stages = {}
    with torch.no_grad():
        logits = ref(torch.tensor([ids]), px.double(), feats.double(), stages=stages)[0]
        answer = []
        cur = list(ids)
        for _ in range(NEW_TOKENS):
            nxt = int(ref(torch.tensor([cur]), px.double(), feats.double())[0, -1].argmax())
            answer.append(nxt)
            if nxt in (text.IM_END, text.ENDOFTEXT):
                break
            cur.append(nxt)
        # frames only (--no-audio): each segment keeps its F·Tv <frame> tokens
        no_cfg = dict(cfg, audio_tokens_per_segment=0)
        ids_na = expand_video(prompt, n, no_cfg)
        logits_na = ref(torch.tensor([ids_na]), px.double(), None)[0]
    out = {
        "input_ids": torch.tensor(ids, dtype=torch.int64),
        "frame_indices": torch.tensor(inputs["frame_indices"], dtype=torch.int64),
        "pixel_values": px.float(),
        "input_features": feats.float(),
        "vision_features": stages["vision_features"].float(),
        "audio_features": stages["audio_features"].float(),
        "logits_last4": logits[-4:].float(),
        "answer_ids": torch.tensor(answer, dtype=torch.int64),
        "noaudio.input_ids": torch.tensor(ids_na, dtype=torch.int64),
        "noaudio.logits_last4": logits_na[-4:].float(),
    }
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "ref.safetensors"),
              metadata={"question": QUESTION, "video": "clip.mp4"})
    print(f"{OUT}: {n} segments, frames {inputs['frame_indices']}, {len(ids)} prompt tokens, answer {answer}")


if __name__ == "__main__":
    main()
