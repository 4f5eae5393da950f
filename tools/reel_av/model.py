"""PyTorch reference of Reel AV (formats/REEL-AV.md), built from transformers' own modules.

    vision_tower           SiglipVisionModel                       pixel_values [N=segments·F, 3, S, S]
    multi_modal_projector  linear_1 → GELU(erf) → linear_2         on hidden_states[-1] (pre post_layernorm)
                           2×2 bilinear pooling (LLaVA-OneVision)  [N, G², Ht] → [N, ceil(G/2)², Ht]
    audio_tower            Qwen2AudioEncoder (Whisper layers,      input_features [segments, mels, 2·P]
                           AvgPool1d(2,2), then layer_norm)        → [segments, P/2, Da]
    audio_projector        linear                                  → [segments, P/2, Ht]
    language_model         Qwen2ForCausalLM                        frame features fill the <frame> positions in
                                                                   order, audio features the <audio> positions

The state dict names are the checkpoint names: vision_tower.vision_model.*, multi_modal_projector.linear_{1,2}.*,
audio_tower.*, audio_projector.linear.*, language_model.model.*, language_model.lm_head.weight.
"""
from __future__ import annotations

import json
import math
import os

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel
from transformers.models.qwen2_audio.configuration_qwen2_audio import Qwen2AudioEncoderConfig
from transformers.models.qwen2_audio.modeling_qwen2_audio import Qwen2AudioEncoder

# Keys of the top-level config.json that are not sub-configs, with their defaults (REEL-AV.md §1).
TOP_DEFAULTS = {
    "video_token_index": 3, "frame_token_index": 4, "audio_token_index": 5,
    "segment_seconds": 2.0, "frames_per_segment": 2, "max_segments": 8,
    "vision_feature_layer": -1, "vision_feature_select_strategy": "full", "vision_pooling": "bilinear_2x2",
    "projector_hidden_act": "gelu", "multimodal_projector_bias": True, "tie_word_embeddings": False,
}


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's position table: sin half then cos half (ARCHSPEC §5)."""
    inc = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-inc * torch.arange(channels // 2, dtype=torch.float32))
    t = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


def make_config(vision: dict, audio: dict, text: dict, **top) -> dict:
    """A complete config.json dict. Sub-configs go through their transformers classes so every key is written."""
    cfg = {"architectures": ["ReelAVForConditionalGeneration"], "model_type": "reel_av"}
    cfg.update(TOP_DEFAULTS)
    cfg.update(top)
    vision = {"vision_use_head": False, **vision}
    v = SiglipVisionConfig(**vision).to_diff_dict()
    v.update(vision)
    v["model_type"] = "siglip_vision_model"
    a = Qwen2AudioEncoderConfig(**audio).to_diff_dict()
    a.update(audio)
    a["model_type"] = "qwen2_audio_encoder"
    t = Qwen2Config(**text).to_diff_dict()
    t.update(text)
    t["model_type"] = "qwen2"
    for d in (v, a, t):
        d.pop("transformers_version", None)
    g = v["image_size"] // v["patch_size"]
    cfg["vision_tokens_per_frame"] = math.ceil(g / 2) ** 2 if cfg["vision_pooling"] == "bilinear_2x2" else g * g
    cfg["audio_tokens_per_segment"] = a["max_source_positions"] // 2
    cfg["vision_config"], cfg["audio_config"], cfg["text_config"] = v, a, t
    return cfg


def to_file_name(name: str) -> str:
    """In-memory name → checkpoint name: the hub layout keeps SigLIP's `vision_model.` segment (ARCHSPEC §0)."""
    return "vision_tower.vision_model." + name[len("vision_tower."):] if name.startswith("vision_tower.") else name


def from_file_name(name: str) -> str:
    return "vision_tower." + name[len("vision_tower.vision_model."):] if name.startswith("vision_tower.vision_model.") \
        else name


class VisionProjector(nn.Module):
    """LLaVA's multi_modal_projector: linear_1 → GELU (erf) → linear_2."""

    def __init__(self, dv: int, ht: int, bias: bool = True):
        super().__init__()
        self.linear_1 = nn.Linear(dv, ht, bias=bias)   # f32 [Ht, Dv]
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(ht, ht, bias=bias)   # f32 [Ht, Ht]

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class AudioProjector(nn.Module):
    """Qwen2-Audio's projector (there `multi_modal_projector.linear`)."""

    def __init__(self, da: int, ht: int):
        super().__init__()
        self.linear = nn.Linear(da, ht)                 # f32 [Ht, Da]

    def forward(self, x):
        return self.linear(x)


class ReelAVForConditionalGeneration(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = config
        vc = {k: v for k, v in config["vision_config"].items() if k != "model_type"}
        ac = {k: v for k, v in config["audio_config"].items() if k != "model_type"}
        tc = {k: v for k, v in config["text_config"].items() if k != "model_type"}
        self.vision_tower = SiglipVisionModel(SiglipVisionConfig(**vc))
        self.audio_tower = Qwen2AudioEncoder(Qwen2AudioEncoderConfig(**ac))
        self.language_model = Qwen2ForCausalLM(Qwen2Config(**tc))
        ht = self.language_model.config.hidden_size
        self.multi_modal_projector = VisionProjector(self.vision_tower.config.hidden_size, ht,
                                                     config["multimodal_projector_bias"])
        self.audio_projector = AudioProjector(self.audio_tower.config.d_model, ht)
        with torch.no_grad():
            self.audio_tower.embed_positions.weight.copy_(sinusoids(*self.audio_tower.embed_positions.weight.shape))

    # ------------------------------------------------------------------------------------------------ encoders
    def vision_features(self, pixel_values: torch.Tensor, stages: dict | None = None) -> torch.Tensor:
        """[N, 3, S, S] → [N, tokens_per_frame, Ht]. Mirrors LLaVA-OneVision's video path without image_newline."""
        hs = self.vision_tower(pixel_values, output_hidden_states=True).hidden_states
        feat = hs[self.config["vision_feature_layer"]]                     # [N, G², Dv], before post_layernorm
        x = self.multi_modal_projector(feat)                                # [N, G², Ht]
        if stages is not None:
            stages["vision_hidden"] = feat
            stages["vision_projected"] = x
        if self.config["vision_pooling"] == "bilinear_2x2":
            n, t, c = x.shape
            g = int(math.isqrt(t))
            x = x.view(n, g, g, c).permute(0, 3, 1, 2)
            x = nn.functional.interpolate(x, size=(math.ceil(g / 2), math.ceil(g / 2)), mode="bilinear",
                                          align_corners=False)
            x = x.permute(0, 2, 3, 1).reshape(n, -1, c)                     # [N, ceil(G/2)², Ht], row-major
        if stages is not None:
            stages["vision_features"] = x
        return x

    def audio_features(self, input_features: torch.Tensor, stages: dict | None = None) -> torch.Tensor:
        """[segments, mels, 2·P] → [segments, P/2, Ht]. Mirrors Qwen2-Audio's tower + projector, no padding mask."""
        h = self.audio_tower(input_features).last_hidden_state              # [segments, P/2, Da]
        x = self.audio_projector(h)
        if stages is not None:
            stages["audio_tower"] = h
            stages["audio_features"] = x
        return x

    def embed(self, input_ids, pixel_values=None, input_features=None, stages=None) -> torch.Tensor:
        """Token embeddings with the placeholders replaced: <frame> positions take the frame features in order
        (frame-major, row-major within a frame), <audio> positions the audio features in order."""
        emb = self.language_model.get_input_embeddings()(input_ids)
        for ids_key, feats in (("frame_token_index", None if pixel_values is None else
                                self.vision_features(pixel_values, stages)),
                               ("audio_token_index", None if input_features is None else
                                self.audio_features(input_features, stages))):
            mask = input_ids == self.config[ids_key]
            n = int(mask.sum())
            if feats is None:
                assert n == 0, f"{n} {ids_key} placeholders but no features"
                continue
            feats = feats.reshape(-1, feats.shape[-1])
            assert n == feats.shape[0], f"{n} {ids_key} placeholders for {feats.shape[0]} features"
            emb = emb.masked_scatter(mask.unsqueeze(-1), feats.to(emb.dtype))
        return emb

    def forward(self, input_ids, pixel_values=None, input_features=None, stages=None, **kw):
        """Logits [B, L, V]. `stages`, when a dict, receives the named intermediates."""
        emb = self.embed(input_ids, pixel_values, input_features, stages)
        return self.language_model(inputs_embeds=emb, **kw).logits

    @torch.no_grad()
    def generate(self, input_ids, pixel_values=None, input_features=None, max_new_tokens=16, eos_token_id=(2, 0)):
        """Greedy decoding of one sequence ([1, L] ids) with the KV cache. Returns the new ids (eos included)."""
        emb = self.embed(input_ids, pixel_values, input_features)
        out = self.language_model(inputs_embeds=emb, use_cache=True)
        new = []
        for _ in range(max_new_tokens):
            nxt = int(out.logits[0, -1].argmax())
            new.append(nxt)
            if nxt in eos_token_id:
                break
            out = self.language_model(input_ids=torch.tensor([[nxt]]), cache=out.past_key_values, use_cache=True)
        return new

    # ----------------------------------------------------------------------------------------------- files
    def save_pretrained(self, d: str, dtype=torch.float32) -> None:
        """model.safetensors (checkpoint names, `dtype`) + config.json. Tokenizer and processor files are written by
        the caller (train.py) since they are not the model's."""
        os.makedirs(d, exist_ok=True)
        sd = {to_file_name(k): v.detach().to(dtype).contiguous() for k, v in self.state_dict().items()}
        save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)
            f.write("\n")

    @classmethod
    def from_pretrained(cls, d: str) -> "ReelAVForConditionalGeneration":
        with open(os.path.join(d, "config.json")) as f:
            config = json.load(f)
        m = cls(config)
        sd = {from_file_name(k): v.to(torch.float32) for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
        m.load_state_dict(sd, strict=True)
        return m.eval()


def expand_video(ids: list[int], segments: int, config: dict) -> list[int]:
    """Replaces each <video> id by the clip's placeholders (REEL-AV.md §3): per segment, frames_per_segment ×
    vision_tokens_per_frame <frame> ids, then audio_tokens_per_segment <audio> ids (none when `audio` is off)."""
    seg = ([config["frame_token_index"]] * (config["frames_per_segment"] * config["vision_tokens_per_frame"])
           + [config["audio_token_index"]] * config["audio_tokens_per_segment"])
    out = []
    for i in ids:
        out.extend(seg * segments if i == config["video_token_index"] else [i])
    return out
