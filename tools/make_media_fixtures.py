#!/usr/bin/env python3
"""Makes the ReelMedia parity fixtures (Tests/ReelMediaTests/Fixtures). Deterministic; re-run only on purpose.

    python3 tools/make_media_fixtures.py

Needs ffmpeg (libx264, aac, flac), espeak-ng (optional: the speech clip), torch and transformers.

Media files are made with ffmpeg's test sources, then decoded with ffmpeg exactly as ReelMedia does
(the argv below mirrors Sources/ReelMedia/FFmpegCommands.swift), and the decoded values are run through the
reference:
  - video: LlavaOnevisionVideoProcessor / LlavaNextVideoVideoProcessor need torchvision, which has no CPU wheel
    matching torch 2.13 here, so their `_preprocess` is replayed with the torch ops it calls (ARCHSPEC §3:
    torchvision's uint8 bicubic antialias resize is `F.interpolate(uint8, "bicubic", antialias=True)`, 0 diff),
    using transformers' own size helper and the fused rescale/normalise arithmetic of `rescale_and_normalize`.
  - audio: transformers.WhisperFeatureExtractor itself, through both of its paths (torch, and numpy as without torch).
Reference arrays are raw little-endian files described by Fixtures/reference.json.
"""
import json, os, subprocess, sys
import numpy as np
import torch
import torch.nn.functional as F

os.environ["HF_HUB_OFFLINE"] = "1"
from transformers import WhisperFeatureExtractor
import transformers.models.whisper.feature_extraction_whisper as fxw
from transformers.image_transforms import get_size_with_aspect_ratio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ReelMediaTests", "Fixtures")
FF = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y"]
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, **kw).stdout


# ---------------------------------------------------------------- the decode commands ReelMedia uses

def select_expr(n, total):
    """ffmpeg `select` expression keeping frame indices floor(i·total/n), i < n (HF default_sample_indices_fn)."""
    return f"select='lt(ceil(n*{n}/{total}),{n})*eq(floor(ceil(n*{n}/{total})*{total}/{n}),n)'"


def decode_frames(path, n, total, w, h):
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path, "-map", "0:v:0", "-an", "-sn", "-dn",
            "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact"]
    filters = [select_expr(n, total)] if n < total else []
    filters.append(f"scale={w}:{h}")   # pins the output size (a mid-stream size change cannot misframe the pipe)
    argv += ["-vf", ",".join(filters)]
    argv += ["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = run(argv)
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def decode_audio(path):
    raw = run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path, "-map", "0:a:0", "-vn", "-sn", "-dn",
               "-ac", "1", "-ar", "16000", "-f", "f32le", "-"])
    return np.frombuffer(raw, "<f4").copy()


def numpy_path_features(fe, x):
    """`fe(x)` through transformers' numpy path, as when torch is not installed (the module's `is_torch_available`)."""
    saved = fxw.is_torch_available
    fxw.is_torch_available = lambda: False
    try:
        return fe(x, sampling_rate=16000, return_tensors="np", return_attention_mask=True)
    finally:
        fxw.is_torch_available = saved


def sample_indices(n, total):
    return (np.arange(n, dtype=int) * total // n).tolist()


# ---------------------------------------------------------------- the processor (BaseVideoProcessor._preprocess)

def hf_preprocess(frames, cfg):
    """uint8 (T,H,W,3) → f32 (T,3,h,w), mirroring BaseVideoProcessor._preprocess with the torchvision backend."""
    x = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).contiguous()
    H, W = x.shape[-2:]
    size = cfg["size"]
    if "shortest_edge" in size and "longest_edge" in size:
        new = get_size_with_aspect_ratio((H, W), size["shortest_edge"], size["longest_edge"])
    elif "shortest_edge" in size:
        # transformers' get_resize_output_image_size(default_to_square=False) needs PIL just to read the size:
        short, long_ = (W, H) if W <= H else (H, W)
        new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long_ / short)
        new = (new_long, new_short) if W <= H else (new_short, new_long)
    else:
        new = (size["height"], size["width"])
    mode = {2: "bilinear", 3: "bicubic"}[cfg.get("resample", 3)]
    if tuple(new) != (H, W):   # torchvision returns the input unchanged when the size already matches
        x = F.interpolate(x, size=tuple(new), mode=mode, antialias=True, align_corners=False)
    if cfg.get("do_center_crop"):
        ch, cw = cfg["crop_size"]["height"], cfg["crop_size"]["width"]
        ih, iw = x.shape[-2:]
        if ch > ih or cw > iw:   # the torchvision backend's center_crop pads with zeros first
            pad = [(cw - iw) // 2 if cw > iw else 0, (ch - ih) // 2 if ch > ih else 0,
                   (cw - iw + 1) // 2 if cw > iw else 0, (ch - ih + 1) // 2 if ch > ih else 0]
            x = F.pad(x, (pad[0], pad[2], pad[1], pad[3]), value=0)
            ih, iw = x.shape[-2:]
        top, left = int((ih - ch) / 2.0), int((iw - cw) / 2.0)
        x = x[..., top:top + ch, left:left + cw]
    r = cfg["rescale_factor"]
    mean = torch.tensor(cfg["image_mean"]) * (1.0 / r)   # `_fuse_mean_std_and_rescale_factor`
    std = torch.tensor(cfg["image_std"]) * (1.0 / r)
    x = x.to(torch.float32)
    x = x.sub_(mean[:, None, None]).div_(std[:, None, None])   # torchvision `normalize`
    return x.contiguous()


# ---------------------------------------------------------------- writing

manifest = {"arrays": {}, "media": {}, "processors": {}, "whisper": {}}


def store(name, arr, dtype):
    arr = np.ascontiguousarray(arr.astype(dtype))
    fn = f"{name}.{ 'u8' if dtype == np.uint8 else 'f32'}"
    arr.tofile(os.path.join(OUT, fn))
    manifest["arrays"][name] = {"file": fn, "dtype": "u8" if dtype == np.uint8 else "f32", "shape": list(arr.shape)}


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda f: os.path.join(OUT, f)

    # Media: a 123×97 (odd) H.264 4:4:4 clip at 12 fps, 2 s, with a stereo 44.1 kHz AAC sine (ffmpeg downmixes and
    # resamples it); a silent clip; an image; an empty and a garbage file.
    run(FF + ["-f", "lavfi", "-i", "testsrc2=size=128x96:rate=12:duration=2",
              "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100:duration=2",
              "-vf", "scale=123:97:flags=bicubic,format=yuv444p",   # testsrc2 only makes even sizes
              "-c:v", "libx264", "-crf", "30", "-g", "12", "-threads", "1",
              "-c:a", "aac", "-b:a", "24k", "-ac", "2", "-shortest"] + BITEXACT + [p("clip.mp4")])
    run(FF + ["-f", "lavfi", "-i", "testsrc2=size=48x32:rate=4:duration=1", "-an",
              "-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "35", "-threads", "1"] + BITEXACT + [p("silent.mp4")])
    # The silent clip again with a 90° display rotation: ffmpeg delivers 32×48 frames.
    run(FF + ["-i", p("silent.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90"] + BITEXACT + [p("rotated.mp4")])
    run(FF + ["-f", "lavfi", "-i", "testsrc2=size=40x28:rate=1", "-frames:v", "1",
              "-vf", "scale=41:29:flags=bicubic"] + BITEXACT + [p("image.png")])
    open(p("empty.mp4"), "wb").close()
    # Zero-length media that ffprobe accepts: an mp4 with no frames (so no stream at all) and a wav with no samples.
    run(FF + ["-f", "lavfi", "-i", "testsrc2=size=48x32:rate=4", "-frames:v", "0", "-c:v", "libx264"] + BITEXACT
        + [p("zero_frames.mp4")])
    run(FF + ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", "-c:a", "pcm_s16le"] + BITEXACT
        + [p("zero_samples.wav")])
    with open(p("garbage.mp4"), "wb") as f:
        f.write(b"this is not a video file; ffprobe should refuse it.\n" * 4)

    # Audio at 16 kHz mono s16 so decoding is exact on any ffmpeg: s16/32768 → f32 involves no resampler.
    run(FF + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=3",
              "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.08:sample_rate=16000:duration=3:seed=7",
              "-filter_complex", "[0:a]volume=0.5[s];[s][1:a]amix=inputs=2:normalize=0",
              "-ac", "1", "-ar", "16000", "-sample_fmt", "s16", "-c:a", "flac"] + BITEXACT + [p("tone.flac")])
    have_speech = subprocess.run(["which", "espeak-ng"], capture_output=True).returncode == 0
    if have_speech:
        wav = run(["espeak-ng", "-v", "en-us", "-s", "170", "--stdout", "Reel turns video into words."])
        run(FF + ["-f", "wav", "-i", "-", "-ac", "1", "-ar", "16000", "-sample_fmt", "s16", "-c:a", "flac"] + BITEXACT
            + [p("speech.flac")], input=wav)

    # ---- probe facts the tests assert
    manifest["media"]["clip.mp4"] = {"width": 123, "height": 97, "frames": 24, "fps": 12.0, "duration": 2.0}

    # ---- video: 4 frames sampled by index, as Reel decodes them
    total, n = 24, 4
    frames = decode_frames(p("clip.mp4"), n, total, 123, 97)
    assert frames.shape == (n, 97, 123, 3), frames.shape
    full = decode_frames(p("clip.mp4"), total, total, 123, 97)
    assert np.array_equal(full[sample_indices(n, total)], frames), "select filter disagrees with index sampling"
    store("clip_frames4", frames, np.uint8)
    manifest["media"]["clip_frames4"] = {"indices": sample_indices(n, total)}

    ov_siglip = {"do_resize": True, "size": {"height": 70, "width": 70}, "resample": 3, "do_rescale": True,
                 "rescale_factor": 0.00392156862745098, "do_normalize": True,
                 "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "do_convert_rgb": True,
                 "video_processor_type": "LlavaOnevisionVideoProcessor"}
    ov_clip = dict(ov_siglip, size={"height": 40, "width": 56},
                   image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    next_clip = {"do_resize": True, "size": {"shortest_edge": 56}, "resample": 3, "do_center_crop": True,
                 "crop_size": {"height": 48, "width": 48}, "do_rescale": True, "rescale_factor": 0.00392156862745098,
                 "do_normalize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                 "image_std": [0.26862954, 0.26130258, 0.27577711],
                 "video_processor_type": "LlavaNextVideoVideoProcessor"}
    for name, cfg in [("ov_siglip70", ov_siglip), ("ov_clip40x56", ov_clip), ("nextvideo_clip56c48", next_clip)]:
        manifest["processors"][name] = {"config": cfg, "input": "clip_frames4", "output": f"px_{name}"}
        store(f"px_{name}", hf_preprocess(frames, cfg).numpy(), np.float32)

    # ---- image: one frame through the same path (upsampling 41×29 → 70×70)
    img = decode_frames(p("image.png"), 1, 1, 41, 29)
    store("image_frame", img, np.uint8)
    manifest["processors"]["image_ov_siglip70"] = {"config": ov_siglip, "input": "image_frame",
                                                   "output": "px_image_ov_siglip70"}
    store("px_image_ov_siglip70", hf_preprocess(img, ov_siglip).numpy(), np.float32)
    # Small image cases: bilinear; a height-only resize (the horizontal pass is skipped); a crop larger than the
    # resized image (zero padding on top and bottom).
    small = {"bilinear_20x16": dict(ov_clip, size={"height": 16, "width": 20}, resample=2),
             "height_only_41x12": dict(ov_siglip, size={"height": 12, "width": 41}),
             "crop_pad_s20c24": dict(next_clip, size={"shortest_edge": 20}, crop_size={"height": 24, "width": 24})}
    for name, cfg in small.items():
        manifest["processors"][f"image_{name}"] = {"config": cfg, "input": "image_frame", "output": f"px_image_{name}"}
        store(f"px_image_{name}", hf_preprocess(img, cfg).numpy(), np.float32)

    # ---- audio: WhisperFeatureExtractor on the samples ffmpeg gives Reel
    PAD_COLS = 8
    clips = ["tone.flac"] + (["speech.flac"] if have_speech else [])
    for clip in clips:
        x = decode_audio(p(clip))
        for mels in (80, 128):
            fe = WhisperFeatureExtractor(feature_size=mels)
            out = fe(x, sampling_rate=16000, return_tensors="np", return_attention_mask=True)
            feats, valid = out["input_features"][0], int(out["attention_mask"][0].sum())
            cols = min(3000, valid + PAD_COLS)
            name = f"mel{mels}_{clip.split('.')[0]}"
            store(name, feats[:, :cols], np.float32)
            manifest["whisper"][name] = {"audio": clip, "mel_bins": mels, "samples": int(x.size),
                                         "valid_frames": valid, "stored_columns": cols,
                                         "last_column": feats[:, 2999].astype(np.float32).tolist()}

    # ---- the same extractor's numpy path (`_np_extract_fbank_features`), which transformers runs when torch is not
    # installed: f64 frames, the spectrum stored as complex64, f64 mel and log10, f32 floor. Unlike the torch path (MKL's
    # f32 STFT, whose rounding depends on the CPU code path MKL picks), it is deterministic, so Reel is held to it
    # everywhere. Kept for the 128-bin clips and the 80-bin speech (the worst cases) to bound the fixture size.
    for clip, mels in [("tone.flac", 128)] + ([("speech.flac", 80), ("speech.flac", 128)] if have_speech else []):
        x = decode_audio(p(clip))
        out = numpy_path_features(WhisperFeatureExtractor(feature_size=mels), x)
        feats, valid = out["input_features"][0], int(out["attention_mask"][0].sum())
        cols = min(3000, valid + PAD_COLS)
        name = f"mel{mels}_{clip.split('.')[0]}_numpy"
        store(name, feats[:, :cols], np.float32)
        manifest["whisper"][name] = {"audio": clip, "mel_bins": mels, "samples": int(x.size), "path": "numpy",
                                     "valid_frames": valid, "stored_columns": cols,
                                     "last_column": feats[:, 2999].astype(np.float32).tolist()}

    # ---- long audio: the tone repeated to 35 s, cut into consecutive 30 s windows; every 25th column kept
    x = decode_audio(p("tone.flac"))
    long = np.tile(x, 12)[:35 * 16000]
    fe = WhisperFeatureExtractor(feature_size=80)
    wins = []
    for w, start in enumerate(range(0, long.size, 480000)):
        out = fe(long[start:start + 480000], sampling_rate=16000, return_tensors="np", return_attention_mask=True)
        store(f"mel80_long_w{w}", out["input_features"][0][:, ::25], np.float32)
        wins.append({"array": f"mel80_long_w{w}", "valid_frames": int(out["attention_mask"][0].sum())})
    manifest["whisper"]["long"] = {"audio": "tone.flac", "tile": 12, "samples": int(long.size), "mel_bins": 80,
                                   "column_stride": 25, "windows": wins}

    with open(p("reference.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total_bytes = sum(os.path.getsize(p(f)) for f in os.listdir(OUT))
    print(f"fixtures: {len(os.listdir(OUT))} files, {total_bytes} bytes")
    assert total_bytes < 1_750_000


if __name__ == "__main__":
    main()
