"""Reference fixtures for Reel's audio path: the Whisper encoder and Qwen2-Audio (ARCHSPEC §5, §7).

    python3 tools/make_audio_fixtures.py [out_dir]      # default: Tests/ReelModelsTests/Fixtures

Tiny random models, every parameter randomised with `randomize_`. To keep the fixtures small the first two use
`max_source_positions = 50`, so the encoders take exactly 2·50 = 100 mel frames (transformers checks
`input_features.shape[-1] == max_source_positions · 2`); the log-mel features come from transformers'
`WhisperFeatureExtractor(chunk_length=1)` (1 s = 16000 samples → 100 frames) on deterministic synthetic audio
(a chirp plus seeded noise) that fills only part of the window, so the padding and the valid-frame count are real.

<out>/whisper/   WhisperEncoder (80 mels, d_model 32, 2 layers, 4 heads, ffn 64), f32 checkpoint.
  ref.safetensors: input_features f32 [80,100], feature_attention_mask i64 [100],
  audio.conv1 f32 [100,32] (gelu(conv1)), audio.conv2 f32 [50,32] (gelu(conv2)),
  audio.hidden_states.{0..2} f32 [50,32] (0: conv2 + positions; i: raw output of layer i),
  audio.last_hidden_state f32 [50,32] (final layer_norm; equals HF's output_hidden_states[-1]).

<out>/qwen2_audio/   Qwen2AudioForConditionalGeneration (audio as above but 128 mels; Qwen2 text H 64, 2 layers,
  I 64, nH 4, nKV 2, vocab 404, untied lm_head), weights rounded to bf16 and saved as bf16 (keeps the directory under
  400 KB); the tokenizer is examples/tiny-qwen2's plus <|AUDIO|> (400), <|audio_bos|> (401), <|audio_eos|> (402),
  with Qwen2AudioProcessor's default chat template. Inputs come from Qwen2AudioProcessor (chat template, feature
  extraction, <|AUDIO|> expansion). The reference runs in float64 on exactly the stored values.
  ref.safetensors: input_ids i64 [S], input_features f16 [128,100], feature_attention_mask i64 [100],
  audio.conv2, audio.hidden_states.{0..2} (valid positions only: the first (L-1)//2+1 rows),
  audio.pooled f32 [n,32] (AvgPool1d(2,2)), audio.last_hidden_state f32 [n,32] (layer_norm after pooling),
  audio_features f32 [n,64] (projector), logits f32 [16,404] (the prompt's last 16 positions; all of them
  attend to the audio), greedy_ids i64 [16] (generate, do_sample=False, no EOS stop).

Both input_features are rounded to f16 first and stored as F16 (the reference runs on exactly those values), which
halves their size.

<out>/qwen2_audio_30s/   Qwen2-Audio with the real max_source_positions 1500 (3000 mel frames = one 30 s window,
  750 tokens) and tiny widths (audio d_model 16, 2 layers, 2 heads, ffn 32, 128 mels; text H 32, I 64, 2 layers,
  context 1024), bf16, plus preprocessor_config.json and clip.mp3: 34 s made by ffmpeg (chirp, beeps, seeded pink
  noise; 16 kHz mono 24 kb/s mp3), decoded here with ReelMedia's ffmpeg command. Qwen2AudioProcessor keeps the first
  30 s. ref.safetensors: input_ids [815], samples [1], features every 100th column from the extractor's numpy path
  (input_features_cols) and torch path (torch.input_features_cols); from the numpy-path features, the encoder stages,
  audio_features (every 10th row), logits [8,404] and greedy_ids [8]; from the torch-path features (the processor's
  default with torch installed) torch.audio_features / torch.logits / torch.greedy_ids; and windows.*: Reel's
  window-by-window extension run by transformers' modules (both windows as a batch of two clips, 750 + 100 tokens over
  one placeholder run): valid frames, the second window's features and audio_features, logits, greedy.

Deterministic: re-running rewrites the same bytes.
"""
import json
import math
import os
import shutil
import subprocess
import sys

from common import randomize_, save_ref  # sets HF_HUB_OFFLINE

import numpy as np
import torch
import transformers.models.whisper.feature_extraction_whisper as fxw
from transformers import (AutoTokenizer, GenerationConfig, Qwen2AudioConfig, Qwen2AudioForConditionalGeneration,
                          Qwen2AudioProcessor, WhisperConfig, WhisperFeatureExtractor)
from transformers.models.whisper.modeling_whisper import WhisperEncoder

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "ReelModelsTests", "Fixtures")
POSITIONS = 50                  # max_source_positions → 100 mel frames
AUDIO = dict(d_model=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64,
             max_source_positions=POSITIONS)
NEW_TOKENS = 16
LOGIT_ROWS = 16                 # qwen2_audio: logits of the prompt's last positions


def synthetic_audio(samples, seed):
    """A 200→2000 Hz chirp at 0.5 plus seeded noise at 0.05: deterministic, with energy across the mel range."""
    t = torch.arange(samples, dtype=torch.float64) / 16000
    f0, f1, dur = 200.0, 2000.0, samples / 16000
    phase = 2 * math.pi * (f0 * t + (f1 - f0) / (2 * dur) * t * t)
    g = torch.Generator().manual_seed(seed)
    x = 0.5 * torch.sin(phase) + 0.05 * torch.randn(samples, generator=g, dtype=torch.float64)
    return x.float().numpy()


def capture_encoder(enc, stages, positions):
    """Forward hooks recording the encoder's named intermediates (first `positions` rows, batch 0)."""
    def put(name, rows=None):
        def hook(_m, _inp, out):
            t = out[0] if isinstance(out, tuple) else out
            t = t[0]
            if name == "audio.conv1" or name == "audio.conv2":
                t = torch.nn.functional.gelu(t).transpose(0, 1)    # [C, T] → [T, C], after the gelu
            stages[name] = (t if rows is None else t[:rows]).float()
        return hook
    hooks = [enc.conv1.register_forward_hook(put("audio.conv1")), enc.conv2.register_forward_hook(put("audio.conv2"))]
    hooks.append(enc.layers[0].register_forward_pre_hook(
        lambda _m, args: stages.__setitem__("audio.hidden_states.0", args[0][0][:positions].float())))
    for i, layer in enumerate(enc.layers):
        hooks.append(layer.register_forward_hook(put(f"audio.hidden_states.{i + 1}", positions)))
    return hooks


def make_whisper():
    d = os.path.join(OUT, "whisper")
    os.makedirs(d, exist_ok=True)
    fe = WhisperFeatureExtractor(feature_size=80, chunk_length=1)
    audio = synthetic_audio(9337, seed=1)       # ceil(9337/160) = 59 valid frames of 100
    feats = fe(audio, sampling_rate=16000, return_attention_mask=True, padding="max_length", return_tensors="pt")
    assert feats.input_features.shape == (1, 80, 100), feats.input_features.shape
    feats["input_features"] = feats.input_features.half().float()

    m = WhisperEncoder(WhisperConfig(num_mel_bins=80, **AUDIO)).eval()
    randomize_(m, seed=1)
    m.save_pretrained(d)
    m = WhisperEncoder.from_pretrained(d, dtype=torch.float64).eval()
    stages = {}
    hooks = capture_encoder(m, stages, POSITIONS)
    with torch.no_grad():
        out = m(feats.input_features.double(), output_hidden_states=True)
    for h in hooks:
        h.remove()
    stages["audio.last_hidden_state"] = out.last_hidden_state[0].float()
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)   # HF ties hs[-1] to the final norm
    ref = {"input_features": feats.input_features[0].half(),
           "feature_attention_mask": feats.attention_mask[0].to(torch.int64), **stages}
    save_ref(ref, os.path.join(d, "ref.safetensors"))
    print("whisper:", {k: tuple(v.shape) for k, v in ref.items()})


def make_tokenizer(d):
    tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, "examples", "tiny-qwen2"))
    tok.add_special_tokens({"additional_special_tokens": ["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]})
    assert tok.convert_tokens_to_ids(["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]) == [400, 401, 402]
    return tok


def save_tiny_qwen2_audio(d, audio, hidden, max_positions, seed):
    """A tiny random Qwen2-Audio (the given encoder shape, a 2-layer Qwen2 decoder) saved to d in bf16, reloaded as
    the float64 reference. Weights are rounded to bf16 first so the checkpoint holds exactly the reference's values."""
    cfg = Qwen2AudioConfig(
        audio_config=dict(model_type="qwen2_audio_encoder", num_mel_bins=128, **audio),
        text_config=dict(model_type="qwen2", vocab_size=404, hidden_size=hidden, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max_positions, rms_norm_eps=1e-6, tie_word_embeddings=False,
                         bos_token_id=0, eos_token_id=2, rope_parameters={"rope_type": "default", "rope_theta": 1e6}),
        audio_token_index=400, tie_word_embeddings=False)
    m = Qwen2AudioForConditionalGeneration(cfg).eval()
    randomize_(m, seed=seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    m.generation_config = GenerationConfig(bos_token_id=0, eos_token_id=2, do_sample=False)
    m.to(torch.bfloat16).save_pretrained(d)
    return Qwen2AudioForConditionalGeneration.from_pretrained(d, dtype=torch.float64).eval()


def make_qwen2_audio():
    d = os.path.join(OUT, "qwen2_audio")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    tok = make_tokenizer(d)
    fe = WhisperFeatureExtractor(feature_size=128, chunk_length=1)
    proc = Qwen2AudioProcessor(feature_extractor=fe, tokenizer=tok)
    tok.chat_template = proc.chat_template          # the processor's default (vicuna-style) template
    tok.save_pretrained(d)

    m = save_tiny_qwen2_audio(d, AUDIO, hidden=64, max_positions=256, seed=2)

    messages = [{"role": "user", "content": [{"type": "audio", "audio_url": "chirp.wav"},
                                             {"type": "text", "text": "What is this sound?"}]}]
    text = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    audio = synthetic_audio(12345, seed=2)      # L = ceil(12345/160) = 78 frames → 39 positions → 19 tokens
    inputs = proc(text=text, audio=[audio], sampling_rate=16000, return_tensors="pt")
    inputs["input_features"] = inputs.input_features.half().float()
    L = int(inputs.feature_attention_mask.sum())
    positions = (L - 1) // 2 + 1
    n = (positions - 2) // 2 + 1
    assert (L, positions, n) == (78, 39, 19), (L, positions, n)
    assert int((inputs.input_ids == 400).sum()) == n

    enc = m.model.audio_tower
    stages = {}
    hooks = capture_encoder(enc, stages, positions)
    hooks.append(enc.layer_norm.register_forward_pre_hook(
        lambda _m, args: stages.__setitem__("audio.pooled", args[0][0][:n].float())))
    hooks.append(enc.layer_norm.register_forward_hook(
        lambda _m, _i, out: stages.__setitem__("audio.last_hidden_state", out[0][:n].float())))
    hooks.append(m.model.multi_modal_projector.register_forward_hook(
        lambda _m, _i, out: stages.__setitem__("audio_features", out[0][:n].float())))
    kw = dict(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
              input_features=inputs.input_features.double(), feature_attention_mask=inputs.feature_attention_mask)
    with torch.no_grad():
        out = m(**kw)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        gen = m.generate(**kw, max_new_tokens=NEW_TOKENS, min_new_tokens=0, do_sample=False, eos_token_id=None)
    greedy = gen[0, inputs.input_ids.shape[1]:]
    assert greedy.numel() == NEW_TOKENS, greedy.shape
    stages.pop("audio.conv1")                   # checked by the whisper fixture; keeps this directory small
    ref = {"input_ids": inputs.input_ids[0].to(torch.int64),
           "input_features": inputs.input_features[0].half(),
           "feature_attention_mask": inputs.feature_attention_mask[0].to(torch.int64),
           **stages,
           "logits": out.logits[0, -LOGIT_ROWS:].float(),
           "greedy_ids": greedy.to(torch.int64)}
    save_ref(ref, os.path.join(d, "ref.safetensors"))
    with open(os.path.join(d, "prompt.json"), "w") as f:   # what the Swift test renders through the template
        json.dump({"messages": messages, "text": text}, f, indent=1)
    print("qwen2_audio:", {k: tuple(v.shape) for k, v in ref.items()})


# ---- Qwen2-Audio with the real 1500 source positions, from a 34 s mp3 (tools/make_audio_fixtures.py, ARCHSPEC §5)

AUDIO30 = dict(d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32, max_source_positions=1500)
CLIP_SECONDS = 34               # > 30 s: transformers keeps the first 30 s; Reel's window-by-window path sees both
ROW_STRIDE = 10                 # stored rows of the [1500|750, D] stages: every 10th
COL_STRIDE = 100                # stored columns of the [128, 3000] features: every 100th
GREEDY_30S = 8
LOGIT_ROWS_30S = 8              # logits of the prompt's last 8 positions
PROMPT_30S = "Describe the sound."


def make_clip(path):
    """34 s at 16 kHz mono: a rising chirp with a slow tremolo, 880 Hz beeps every 3 s, seeded pink noise; 24 kb/s mp3."""
    chirp = f"aevalsrc=exprs='0.25*sin(2*PI*(150*t+25*t*t))*(0.6+0.4*sin(2*PI*0.5*t))':s=16000:d={CLIP_SECONDS}"
    beep = f"sine=frequency=880:sample_rate=16000:duration={CLIP_SECONDS}"
    noise = f"anoisesrc=color=pink:amplitude=0.04:sample_rate=16000:duration={CLIP_SECONDS}:seed=11"
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
                    "-f", "lavfi", "-i", chirp, "-f", "lavfi", "-i", beep, "-f", "lavfi", "-i", noise,
                    "-filter_complex", "[1:a]volume='if(lt(mod(t,3),0.4),0.3,0)':eval=frame[b];"
                                       "[0:a][b][2:a]amix=inputs=3:normalize=0",
                    "-ac", "1", "-ar", "16000", "-c:a", "libmp3lame", "-b:a", "24k", "-id3v2_version", "0",
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1", path], check=True)


def decode(path):
    """16 kHz mono f32 exactly as ReelMedia's AudioReader asks ffmpeg for it."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path, "-map", "0:a:0", "-vn", "-sn",
                          "-dn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<f4").copy()


def numpy_path(call):
    """Runs `call()` with transformers' WhisperFeatureExtractor on its numpy path (as when torch is not installed)."""
    saved = fxw.is_torch_available
    fxw.is_torch_available = lambda: False
    try:
        return call()
    finally:
        fxw.is_torch_available = saved


def run_qwen2_audio(m, kw, new_tokens, stages=None, logit_rows=LOGIT_ROWS_30S):
    """One forward (optionally capturing the audio stages) and a greedy continuation of `new_tokens`, no EOS stop."""
    enc, hooks = m.model.audio_tower, []
    if stages is not None:
        hooks = capture_encoder(enc, stages, 1500)
        hooks.append(enc.layer_norm.register_forward_pre_hook(
            lambda _m, args: stages.__setitem__("audio.pooled", args[0][0].float())))
        hooks.append(enc.layer_norm.register_forward_hook(
            lambda _m, _i, out: stages.__setitem__("audio.last_hidden_state", out[0].float())))
    feats = {}
    hooks.append(m.model.multi_modal_projector.register_forward_hook(
        lambda _m, _i, out: feats.__setitem__("audio_features", out.float())))
    with torch.no_grad():
        out = m(**kw)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        gen = m.generate(**kw, max_new_tokens=new_tokens, min_new_tokens=0, do_sample=False, eos_token_id=None)
    greedy = gen[0, kw["input_ids"].shape[1]:]
    assert greedy.numel() == new_tokens, greedy.shape
    return feats["audio_features"], out.logits[0, -logit_rows:].float(), greedy.to(torch.int64)


def make_qwen2_audio_30s():
    d = os.path.join(OUT, "qwen2_audio_30s")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    make_clip(os.path.join(d, "clip.mp3"))
    samples = decode(os.path.join(d, "clip.mp3"))
    assert samples.size > 480000, samples.size
    tok = make_tokenizer(d)
    proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok)
    tok.chat_template = proc.chat_template
    tok.save_pretrained(d)
    proc.feature_extractor.save_pretrained(d)     # preprocessor_config.json, as a real checkpoint ships it

    m = save_tiny_qwen2_audio(d, AUDIO30, hidden=32, max_positions=1024, seed=3)

    messages = [{"role": "user", "content": [{"type": "audio", "audio_url": "clip.mp3"},
                                             {"type": "text", "text": PROMPT_30S}]}]
    text = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # What Qwen2AudioProcessor does by default (torch installed: the torch feature path; truncation to 30 s) and the
    # same on the numpy feature path, which Reel's log-mel reproduces bit for bit.
    by_torch = proc(text=text, audio=[samples], sampling_rate=16000, return_tensors="pt")
    by_numpy = numpy_path(lambda: proc(text=text, audio=[samples], sampling_rate=16000, return_tensors="pt"))
    for inputs in (by_torch, by_numpy):
        assert inputs.input_features.shape == (1, 128, 3000), inputs.input_features.shape
        assert bool(inputs.feature_attention_mask.all()), "the first 30 s are all audio"
        assert int((inputs.input_ids == 400).sum()) == 750
    assert torch.equal(by_torch.input_ids, by_numpy.input_ids)

    def kw(inputs):
        return dict(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                    input_features=inputs.input_features.double(), feature_attention_mask=inputs.feature_attention_mask)
    stages = {}
    feats, logits, greedy = run_qwen2_audio(m, kw(by_numpy), GREEDY_30S, stages)
    t_feats, t_logits, t_greedy = run_qwen2_audio(m, kw(by_torch), GREEDY_30S)
    stages.pop("audio.conv1")
    ref = {"input_ids": by_numpy.input_ids[0].to(torch.int64),
           "samples": torch.tensor([samples.size], dtype=torch.int64),
           "input_features_cols": by_numpy.input_features[0, :, ::COL_STRIDE].float(),
           "torch.input_features_cols": by_torch.input_features[0, :, ::COL_STRIDE].float(),
           **{k: v[::ROW_STRIDE] for k, v in stages.items()},
           "audio_features": feats[0, ::ROW_STRIDE],
           "logits": logits, "greedy_ids": greedy,
           "torch.audio_features": t_feats[0, ::ROW_STRIDE], "torch.logits": t_logits, "torch.greedy_ids": t_greedy}
    ref.update(make_windows_reference(m, proc, tok, text, samples))
    save_ref(ref, os.path.join(d, "ref.safetensors"))
    with open(os.path.join(d, "prompt.json"), "w") as f:
        json.dump({"messages": messages, "text": text, "prompt": PROMPT_30S, "greedy_text": tok.decode(greedy),
                   "windows_greedy_text": tok.decode(ref["windows.greedy_ids"])}, f, indent=1)
    print("qwen2_audio_30s:", {k: tuple(v.shape) for k, v in ref.items()})
    print("  greedy (numpy features)", greedy.tolist(), "(torch features)", t_greedy.tolist())
    print("  sizes:", {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))})


def make_windows_reference(m, proc, tok, text, samples):
    """Reel's window-by-window extension (`reel run --audio`, the default) expressed with transformers' own modules: both 30 s windows
    as a batch of two clips through the audio tower (each masked to its valid frames), their tokens concatenated over
    one <|AUDIO|> run of 750 + n₂ (masked_scatter fills the run in order)."""
    fe = proc.feature_extractor
    wins = numpy_path(lambda: fe([samples[:480000], samples[480000:]], sampling_rate=16000, return_tensors="pt",
                                 return_attention_mask=True, padding="max_length"))
    valid = wins.attention_mask.sum(-1).tolist()
    counts = [((v - 1) // 2 + 1 - 2) // 2 + 1 for v in valid]
    ids = tok(text, return_tensors="pt").input_ids[0].tolist()
    at = ids.index(400)
    ids = torch.tensor([ids[:at] + [400] * sum(counts) + ids[at + 1:]])
    kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), input_features=wins.input_features.double(),
              feature_attention_mask=wins.attention_mask)
    feats, logits, greedy = run_qwen2_audio(m, kw, GREEDY_30S)
    second = feats[1, :counts[1]]
    return {"windows.valid_frames": torch.tensor(valid, dtype=torch.int64),
            "windows.second_features_cols": wins.input_features[1, :, ::COL_STRIDE].float(),
            "windows.second_audio_features": second[::ROW_STRIDE],
            "windows.logits": logits, "windows.greedy_ids": greedy}


if __name__ == "__main__":
    make_whisper()
    make_qwen2_audio()
    make_qwen2_audio_30s()
