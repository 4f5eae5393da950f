"""The Reel AV media path (formats/REEL-AV.md §4): decode a clip with ffmpeg, cut it into segments, sample frames,
resize + normalise them, and compute one Whisper log-mel window per segment.

Training and inference both go through `load_clip`, so the model is trained on exactly what the runtime feeds it.
"""
from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from transformers import WhisperFeatureExtractor


@dataclass
class Preprocessor:
    """The keys of preprocessor_config.json that the media path reads."""
    image_size: int = 64
    image_mean: tuple = (0.5, 0.5, 0.5)
    image_std: tuple = (0.5, 0.5, 0.5)
    sampling_rate: int = 16000
    feature_size: int = 80          # mel bins
    n_fft: int = 400
    hop_length: int = 160
    chunk_length: int = 2           # seconds per audio window = segment_seconds
    segment_seconds: float = 2.0
    frames_per_segment: int = 2
    max_segments: int = 8

    @property
    def n_samples(self) -> int:
        return self.chunk_length * self.sampling_rate

    @property
    def nb_max_frames(self) -> int:
        return self.n_samples // self.hop_length

    def to_json(self) -> dict:
        return {
            "processor_class": "ReelAVProcessor",
            "feature_extractor_type": "WhisperFeatureExtractor",
            "image_processor_type": "ReelAVFrameProcessor",
            "size": {"height": self.image_size, "width": self.image_size},
            "do_resize": True, "resample": "bicubic", "antialias": True,
            "do_normalize": True, "image_mean": list(self.image_mean), "image_std": list(self.image_std),
            "sampling_rate": self.sampling_rate, "feature_size": self.feature_size, "n_fft": self.n_fft,
            "hop_length": self.hop_length, "chunk_length": self.chunk_length, "n_samples": self.n_samples,
            "nb_max_frames": self.nb_max_frames, "padding_value": 0.0, "return_attention_mask": False,
            "segment_seconds": self.segment_seconds, "frames_per_segment": self.frames_per_segment,
            "max_segments": self.max_segments,
        }

    @staticmethod
    def from_json(d: dict) -> "Preprocessor":
        assert d["chunk_length"] == d["segment_seconds"], "one audio window per segment"
        return Preprocessor(image_size=d["size"]["height"], image_mean=tuple(d["image_mean"]),
                            image_std=tuple(d["image_std"]), sampling_rate=d["sampling_rate"],
                            feature_size=d["feature_size"], n_fft=d["n_fft"], hop_length=d["hop_length"],
                            chunk_length=d["chunk_length"], segment_seconds=d["segment_seconds"],
                            frames_per_segment=d["frames_per_segment"], max_segments=d["max_segments"])

    def feature_extractor(self) -> WhisperFeatureExtractor:
        return WhisperFeatureExtractor(feature_size=self.feature_size, sampling_rate=self.sampling_rate,
                                       hop_length=self.hop_length, chunk_length=self.chunk_length,
                                       n_fft=self.n_fft, padding_value=0.0)


# ------------------------------------------------------------------------------------------------------------ decoding

def probe_video(path: str) -> tuple[int, int, Fraction]:
    """(width, height, avg_frame_rate) of the first video stream, from ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,avg_frame_rate", "-of", "csv=p=0", path],
                         check=True, capture_output=True, text=True).stdout.strip().split(",")
    return int(out[0]), int(out[1]), Fraction(out[2])


def decode_frames(path: str) -> tuple[np.ndarray, Fraction]:
    """Every frame of the first video stream as uint8 RGB [N, H, W, 3], and the stream's frame rate."""
    w, h, fps = probe_video(path)
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3), fps


def decode_audio(path: str, sampling_rate: int = 16000) -> np.ndarray:
    """The first audio stream as float32 mono samples at `sampling_rate` (ffmpeg resamples and downmixes)."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0",
                          "-ac", "1", "-ar", str(sampling_rate), "-f", "f32le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<f4").copy()


# -------------------------------------------------------------------------------------------------------- segmentation

def segment_plan(n_frames: int, fps: Fraction, p: Preprocessor) -> tuple[list[float], list[int]]:
    """Segment start times (s) and the indices of the frames sampled, segment by segment (REEL-AV.md §4.1)."""
    duration = n_frames / float(fps)
    n = max(1, min(p.max_segments, math.ceil(duration / p.segment_seconds)))
    stride = max(p.segment_seconds, duration / n)
    starts = [k * stride for k in range(n)]
    idx = []
    for s in starts:
        for j in range(p.frames_per_segment):
            t = s + (j + 0.5) * p.segment_seconds / p.frames_per_segment
            idx.append(min(n_frames - 1, math.floor(t * float(fps))))
    return starts, idx


def preprocess_frames(frames: np.ndarray, p: Preprocessor) -> torch.Tensor:
    """uint8 [n, H, W, 3] → f32 [n, 3, S, S]: bicubic antialiased resize on uint8 (skipped when already S×S), then
    (x − 255·mean) / (255·std)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    if x.shape[-2:] != (p.image_size, p.image_size):
        x = torch.nn.functional.interpolate(x, size=(p.image_size, p.image_size), mode="bicubic",
                                            antialias=True, align_corners=False)
    x = x.to(torch.float32)
    mean = torch.tensor(p.image_mean, dtype=torch.float32).view(1, 3, 1, 1) * 255
    std = torch.tensor(p.image_std, dtype=torch.float32).view(1, 3, 1, 1) * 255
    return (x - mean) / std


def audio_windows(samples: np.ndarray, starts: list[float], p: Preprocessor) -> np.ndarray:
    """f32 [segments, n_samples]: samples [round(start·sr), +n_samples) of each segment, zero-padded past the end."""
    out = np.zeros((len(starts), p.n_samples), np.float32)
    for k, s in enumerate(starts):
        a = int(round(s * p.sampling_rate))
        chunk = samples[a:a + p.n_samples]
        out[k, :len(chunk)] = chunk
    return out


def log_mel(windows: np.ndarray, p: Preprocessor, fe: WhisperFeatureExtractor | None = None) -> torch.Tensor:
    """f32 [segments, mels, nb_max_frames]: WhisperFeatureExtractor on each window (its max−8 floor is per window)."""
    fe = fe or p.feature_extractor()
    feats = fe([w for w in windows], sampling_rate=p.sampling_rate, return_tensors="pt", padding="max_length")
    return feats["input_features"].to(torch.float32)


def decode_many(paths: list[str], sampling_rate: int, size: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frames, samples) of many clips from ONE ffmpeg process, for precomputing training inputs: each clip's video
    and audio go through the same decoder and output options as `decode_frames` / `decode_audio` (so the bytes are
    the same; prepare_media checks that on a sample), only the process start-up is shared. `size` is (W, H)."""
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["ffmpeg", "-nostdin", "-v", "error"]
        for p in paths:
            cmd += ["-i", p]
        for i in range(len(paths)):
            cmd += ["-map", f"{i}:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", os.path.join(tmp, f"{i}.v")]
            cmd += ["-map", f"{i}:a:0", "-ac", "1", "-ar", str(sampling_rate), "-f", "f32le", os.path.join(tmp, f"{i}.a")]
        subprocess.run(cmd, check=True, capture_output=True)
        out = []
        for i in range(len(paths)):
            v = np.fromfile(os.path.join(tmp, f"{i}.v"), np.uint8).reshape(-1, size[1], size[0], 3)
            out.append((v, np.fromfile(os.path.join(tmp, f"{i}.a"), "<f4")))
        return out


def clip_inputs(frames: np.ndarray, fps: Fraction, samples: np.ndarray | None, p: Preprocessor, fe=None) -> dict:
    """Model inputs from decoded media: segment plan, frame sampling, preprocessing, log-mel per segment."""
    starts, idx = segment_plan(len(frames), fps, p)
    out = {"pixel_values": preprocess_frames(frames[idx], p), "segments": len(starts), "frame_indices": idx,
           "input_features": None}
    if samples is not None:
        out["input_features"] = log_mel(audio_windows(samples, starts, p), p, fe)
    return out


def load_clip(path: str, p: Preprocessor, audio: bool = True, fe=None) -> dict:
    """The model inputs of one clip: pixel_values [segments·F, 3, S, S], input_features [segments, mels, frames]
    (None without audio), segments, and the frame indices used."""
    frames, fps = decode_frames(path)
    return clip_inputs(frames, fps, decode_audio(path, p.sampling_rate) if audio else None, p, fe)
