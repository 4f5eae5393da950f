#!/usr/bin/env python3
"""Tiny random checkpoints of every family `reel convert` knows, saved with transformers' save_pretrained, for
Tests/ReelConvertTests. Shapes follow ../shared/ARCHSPEC.md §7. Weights are stored as float16 to keep the fixtures
small (and to exercise dtype conversion); one decoder is also saved as a 2-shard checkpoint, and LLaVA-OneVision is
also rewritten in the hub layout (`vision_tower.vision_model.*`).

Deterministic. Usage: python3 tools/make_convert_fixtures.py [OUT_DIR]
"""
import json, os, shutil, sys

os.environ["HF_HUB_OFFLINE"] = "1"
import torch
import transformers as T
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import randomize_  # noqa: E402  (every parameter randomised, norms around 1)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "ReelConvertTests", "Fixtures")


def save(name, model, **kw):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    randomize_(model)
    model = model.to(torch.float16)
    model.save_pretrained(d, **kw)
    files = sorted(os.listdir(d))
    n = sum(len(load_file(os.path.join(d, f))) for f in files if f.endswith(".safetensors"))
    print(f"{name}: {n} tensors, files {files}")
    return d


TEXT = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
llama = T.LlamaConfig(**TEXT, rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0,
                      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
save("llama", T.LlamaForCausalLM(llama))
save("qwen2", T.Qwen2ForCausalLM(T.Qwen2Config(**TEXT, tie_word_embeddings=True)))
save("qwen2-sharded", T.Qwen2ForCausalLM(T.Qwen2Config(**TEXT, tie_word_embeddings=True)), max_shard_size="20KB")
save("qwen3", T.Qwen3ForCausalLM(T.Qwen3Config(**TEXT, head_dim=16)))

VIS = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=56, patch_size=14)
save("siglip", T.SiglipVisionModel(T.SiglipVisionConfig(**VIS, vision_use_head=False)))
save("clip", T.CLIPVisionModel(T.CLIPVisionConfig(**VIS, projection_dim=16)))

whisper = T.WhisperConfig(num_mel_bins=80, d_model=16, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=32,
                          decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=32, vocab_size=96,
                          max_source_positions=64, max_target_positions=32,
                          pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
save("whisper", T.WhisperForConditionalGeneration(whisper).model.encoder)

qtext = T.Qwen2Config(**TEXT)
ov = T.LlavaOnevisionConfig(
    vision_config=T.SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       image_size=70, patch_size=14, vision_use_head=False).to_dict(),
    text_config=qtext.to_dict(), image_token_index=60, video_token_index=61,
    image_grid_pinpoints=[[70, 70], [70, 140], [140, 70], [140, 140]])
d = save("llava_onevision", T.LlavaOnevisionForConditionalGeneration(ov))
# The hub layout of the same model: vision_tower.vision_model.* (ARCHSPEC §0).
hub = os.path.join(OUT, "llava_onevision-hub")
shutil.rmtree(hub, ignore_errors=True)
shutil.copytree(d, hub)
sd = load_file(os.path.join(hub, "model.safetensors"))
sd = {k.replace("vision_tower.", "vision_tower.vision_model.", 1) if k.startswith("vision_tower.") else k: v for k, v in sd.items()}
save_file(sd, os.path.join(hub, "model.safetensors"), metadata={"format": "pt"})
print("llava_onevision-hub:", len(sd), "tensors, e.g.", sorted(k for k in sd if k.startswith("vision_tower."))[0])

nv = T.LlavaNextVideoConfig(
    vision_config=T.CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     image_size=56, patch_size=14, projection_dim=16).to_dict(),
    text_config=T.LlamaConfig(**TEXT).to_dict(), image_token_index=60, video_token_index=61,
    image_grid_pinpoints=[[56, 56], [56, 112], [112, 56]])
save("llava_next_video", T.LlavaNextVideoForConditionalGeneration(nv))

qa = T.Qwen2AudioConfig(audio_config=T.Qwen2AudioEncoderConfig(num_mel_bins=128, d_model=16, encoder_layers=2,
                        encoder_attention_heads=4, encoder_ffn_dim=32, max_source_positions=64).to_dict(),
                        text_config=qtext.to_dict(), audio_token_index=60)
save("qwen2_audio", T.Qwen2AudioForConditionalGeneration(qa))
