"""Reference fixtures for Reel's vision towers and LLaVA aligners, from transformers (ARCHSPEC §2–4, §7).

    python3 tools/make_vision_fixtures.py [out_dir]      # default: Tests/ReelModelsTests/Fixtures

Writes:
- <out>/vision_siglip/, <out>/vision_clip/: standalone SiglipVisionModel (30/7: image_size not a multiple of the
  patch, as so400m's 384/14) / CLIPVisionModel (28/7), 3 layers, D 32, f32, with hidden_states, last_hidden_state
  (and CLIP's pooler_output) for pixel_values [2,3,S,S].
- <out>/llava_ov/: a tiny random LlavaOnevisionForConditionalGeneration (SigLIP 35/7 → 5×5 grid, 3 layers, D 32;
  Qwen2 text vocab 128, H 64, tied), every parameter randomised with `randomize_`, rounded to f16 and saved as f16.
  ref.safetensors (video path): pixel_values_videos f32 [1,4,3,35,35] (f16 values), input_ids i64 [S] (placeholders already
  expanded to 4·9+1 video tokens), vision hidden_states.{0..3} f32 [4,25,32], projected
  [4,25,64], pooled [4,9,64], video_features [37,64], lm_hidden_states.{0,2} [S,64] (embeddings, final norm), logits [S,128],
  greedy_ids i64 [8].
- <out>/llava_ov_image/ref.safetensors (image path, same checkpoint): pixel_values f32 [1,5,3,35,35],
  image_sizes i64 [1,2] = (97,123), vision hidden_states of the 5 tiles, image_features, logits, greedy_ids.
  vision_aspect_ratio is "anyres_max_1" so the unpadded 8×10 grid is bilinearly resized (the ratio > 1.1 branch).
  Plus the image-file path: image.png (a 97×123 pattern), preprocessor_config.json, tokenizer/ (byte-level ASCII with
  the LLaVA-OneVision chat template), and chat_pixel_values (the processor's output), chat_input_ids / chat_greedy_ids / chat_logits (last position) for the
  processor's pixel values; and a two-image prompt (image2.png 45×60): multi_pixel_values [2,1,3,35,35] (base
  only, padded to a square with the mean colour), multi_input_ids, multi_greedy_ids, multi_logits — for the (LlavaOnevisionImageProcessor replayed with torch uint8 resizes; no torchvision here).
- <out>/llava_next_video/: a tiny random LlavaNextVideoForConditionalGeneration (CLIP 28/7 → 4×4 + CLS, 3 layers,
  quick_gelu; Llama text, untied; vision_feature_layer −2, "default", average pool stride 2), saved as f16;
  ref.safetensors: pixel_values_videos [1,3,3,28,28], vision hidden states, selected [3,16,32], pooled [3,4,32],
  video_features [12,64], logits, greedy_ids; and a tokenizer (byte-level ASCII, <video> = 121) with a vicuna-style
  chat template, chat_input_ids (the rendered template with <video> expanded) and chat_greedy_ids.
- <out>/llava_next_video_image/ref.safetensors (image path, same checkpoint): pixel_values [1,5,3,28,28] for a
  40×50 image (base + 2×2 tiles), image_features, logits, greedy_ids.

The reference is the saved checkpoint reloaded in float64 (stored as f32), so it is the model's exact output up to
f32 storage. Deterministic: re-running rewrites the same bytes.
"""
import json
import os
import sys

from common import randomize_, save_ref  # sets HF_HUB_OFFLINE

import torch
from transformers import (CLIPVisionConfig, CLIPVisionModel, GenerationConfig, LlamaConfig, LlavaNextVideoConfig,
                          LlavaNextVideoForConditionalGeneration, LlavaOnevisionConfig,
                          LlavaOnevisionForConditionalGeneration, Qwen2Config, SiglipVisionConfig, SiglipVisionModel)

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "Tests", "ReelModelsTests", "Fixtures")
NEW_TOKENS = 8
IMAGE_TOKEN, VIDEO_TOKEN = 120, 121
TEXT = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def save_checkpoint(cls, cfg, d, seed):
    """Random model → every parameter randomised → rounded to f16 → saved as f16 → reloaded in float64."""
    os.makedirs(d, exist_ok=True)
    m = cls(cfg).eval()
    randomize_(m, seed=seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))
    m.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0, do_sample=False)
    m.to(torch.float16).save_pretrained(d)
    return cls.from_pretrained(d, dtype=torch.float64).eval()


def pixels(shape, seed):
    """Normalised-looking pixel values, rounded to f16 (stored as F16: exact, and half the bytes)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).to(torch.float16)


def greedy(m, ids, **kw):
    gen = m.generate(ids, max_new_tokens=NEW_TOKENS, min_new_tokens=0, do_sample=False, eos_token_id=None, **kw)
    out = gen[0, ids.shape[1]:]
    assert out.numel() == NEW_TOKENS, out.shape
    return out.to(torch.int64)


def lm_stages(ref, out):
    ref["logits"] = out.logits[0].float()
    for i, h in enumerate(out.hidden_states):
        ref[f"lm_hidden_states.{i}"] = h[0].float()


def tower_stages(ref, tower, px):
    vo = tower(px, output_hidden_states=True)
    for i, h in enumerate(vo.hidden_states):
        ref[f"vision_hidden_states.{i}"] = h.float()
    return vo.hidden_states


def report(d):
    for f in sorted(os.listdir(d)):
        print(f"{os.path.basename(d)}/{f}: {os.path.getsize(os.path.join(d, f))} bytes")


LLAVA_ONEVISION_TEMPLATE = (  # tools/make_chat_template_fixtures.py LLAVA_ONEVISION
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}"
    "{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}{{'<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def test_image(h, w):
    """A smooth RGB pattern (compresses to a small PNG), uint8 [3, h, w]."""
    y = torch.arange(h, dtype=torch.float64)[:, None].expand(h, w)
    x = torch.arange(w, dtype=torch.float64)[None, :].expand(h, w)
    rgb = torch.stack([x * 255 / (w - 1), y * 255 / (h - 1), 128 + 100 * torch.sin(x / 7) * torch.cos(y / 5)])
    return rgb.round().clamp(0, 255).to(torch.uint8)


def resize_u8(img, h, w):
    """torchvision's uint8 resize: interpolate(uint8, bicubic, antialias=True); same size is a no-op."""
    if tuple(img.shape[1:]) == (h, w):
        return img
    return torch.nn.functional.interpolate(img[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False)[0]


def onevision_image_pixels(img, pinpoints, tile, mean, std):
    """LlavaOnevisionImageProcessor (torchvision backend) on one image, replayed with torch ops (no torchvision here):
    best pinpoint → aspect-keeping resize (ceil) → centred zero pad → tiles row-major, after the base (the image
    squashed to tile×tile); then the fused rescale + normalise in f32."""
    import math
    from transformers.image_processing_utils import select_best_resolution
    H, W = img.shape[1:]
    bh, bw = select_best_resolution((H, W), pinpoints)
    sw, sh = bw / W, bh / H
    if sw < sh:
        nw, nh = bw, min(math.ceil(H * sw), bh)
    else:
        nh, nw = bh, min(math.ceil(W * sh), bw)
    r = resize_u8(img, nh, nw)
    px, rx = divmod(bw - nw, 2)
    py, ry = divmod(bh - nh, 2)
    padded = torch.nn.functional.pad(r, (px, px + rx, py, py + ry))
    tiles = [resize_u8(img, tile, tile)] + [padded[:, i:i + tile, j:j + tile] for i in range(0, bh, tile)
                                            for j in range(0, bw, tile)]
    m = torch.tensor(mean, dtype=torch.float32)[:, None, None] * (1 / (1 / 255))
    sd = torch.tensor(std, dtype=torch.float32)[:, None, None] * (1 / (1 / 255))
    return torch.stack([(t.float() - m) / sd for t in tiles])


def onevision_square_pixels(img, tile, mean, std):
    """LlavaOnevisionImageProcessor for an image of a multi-image prompt: pad_to_square with int(mean·255), resize
    to tile×tile, rescale + normalise. [1, 3, tile, tile]."""
    H, W = img.shape[1:]
    d = max(H, W)
    left, top = (d - W) // 2, (d - H) // 2
    sq = torch.empty(3, d, d, dtype=torch.uint8)
    for c in range(3):
        sq[c] = int(mean[c] * 255)
    sq[:, top:top + H, left:left + W] = img
    t = resize_u8(sq, tile, tile)
    m = torch.tensor(mean, dtype=torch.float32)[:, None, None] * (1 / (1 / 255))
    sd = torch.tensor(std, dtype=torch.float32)[:, None, None] * (1 / (1 / 255))
    return ((t.float() - m) / sd)[None]


def make_llava_ov():
    d = os.path.join(OUT, "llava_ov")
    vc = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                            image_size=35, patch_size=7, vision_use_head=False)
    tc = Qwen2Config(**TEXT, rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6})
    cfg = LlavaOnevisionConfig(vision_config=vc.to_dict(), text_config=tc.to_dict(), image_token_index=IMAGE_TOKEN,
                               video_token_index=VIDEO_TOKEN, vision_feature_layer=-1,
                               vision_feature_select_strategy="full", projector_hidden_act="gelu",
                               image_grid_pinpoints=[[35, 35], [35, 70], [70, 35], [70, 70]],
                               vision_aspect_ratio="anyres_max_1", tie_word_embeddings=True)
    m = save_checkpoint(LlavaOnevisionForConditionalGeneration, cfg, d, seed=1)
    model = m.model

    # --- video path: 4 frames → 4·ceil(5/2)² + 1 = 37 tokens
    pv = pixels((1, 4, 3, 35, 35), seed=2)
    ids = torch.tensor([[1, 5, 9] + [VIDEO_TOKEN] * 37 + [77, 3]])
    ref = {"pixel_values_videos": pv, "input_ids": ids[0]}
    with torch.no_grad():
        hs = tower_stages(ref, model.vision_tower, pv.double().view(4, 3, 35, 35))
        selected = hs[-1]
        projected = model.multi_modal_projector(selected)
        pooled = model.apply_pooling(projected)
        feats = model.get_video_features(pv.double(), vision_feature_layer=-1,
                                         vision_feature_select_strategy="full").pooler_output[0]
        manual = torch.cat([pooled.reshape(-1, 64), model.image_newline[None]], dim=0)
        assert torch.equal(feats, manual), (feats - manual).abs().max()
        ref.update(projected=projected.float(), pooled=pooled.float(), video_features=feats.float())
        out = m(input_ids=ids, pixel_values_videos=pv.double(), output_hidden_states=True)
        lm_stages(ref, out)
        del ref["lm_hidden_states.1"]  # keep the directory under 400 KB
        ref["greedy_ids"] = greedy(m, ids, pixel_values_videos=pv.double())
    save_ref(ref, os.path.join(d, "ref.safetensors"))
    report(d)

    # --- image path: a 97×123 image → best pinpoint 70×70 → base + 2×2 tiles
    di = os.path.join(OUT, "llava_ov_image")
    os.makedirs(di, exist_ok=True)
    pvi = pixels((1, 5, 3, 35, 35), seed=3)
    sizes = torch.tensor([[97, 123]])
    with torch.no_grad():
        feats = model.get_image_features(pvi.double(), sizes, vision_feature_layer=-1,
                                         vision_feature_select_strategy="full",
                                         vision_aspect_ratio="anyres_max_1").pooler_output[0]
        n = feats.shape[0]
        ids = torch.tensor([[1, 5] + [IMAGE_TOKEN] * n + [9, 3]])
        ref = {"pixel_values": pvi, "image_sizes": sizes.to(torch.int64), "input_ids": ids[0],
               "image_features": feats.float()}
        tower_stages(ref, model.vision_tower, pvi.double()[0])
        out = m(input_ids=ids, pixel_values=pvi.double(), image_sizes=sizes, output_hidden_states=True)
        lm_stages(ref, out)
        del ref["lm_hidden_states.1"]  # keep the directory small: embeddings and the final norm are enough
        ref["greedy_ids"] = greedy(m, ids, pixel_values=pvi.double(), image_sizes=sizes)
        # end to end from an image file: the processor replayed in torch, the chat template, one <image> expanded
        from PIL import Image
        img = test_image(97, 123)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(os.path.join(di, "image.png"))
        pins = [[35, 35], [35, 70], [70, 35], [70, 70]]
        chat_px = onevision_image_pixels(img, pins, 35, [0.5] * 3, [0.5] * 3)[None]
        with open(os.path.join(di, "preprocessor_config.json"), "w") as f:
            json.dump({"image_processor_type": "LlavaOnevisionImageProcessor", "do_resize": True,
                       "size": {"height": 35, "width": 35}, "resample": 3, "do_rescale": True,
                       "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3,
                       "do_pad": True, "do_convert_rgb": True, "image_grid_pinpoints": pins}, f, indent=1)
            f.write("\n")
        tok = make_tokenizer(LLAVA_ONEVISION_TEMPLATE)
        tok.save_pretrained(os.path.join(di, "tokenizer"))
        chat = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]
        rendered = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=False)
        n_img = model.get_image_features(chat_px.double(), sizes, vision_feature_layer=-1,
                                         vision_feature_select_strategy="full",
                                         vision_aspect_ratio="anyres_max_1").pooler_output[0].shape[0]
        expanded = []
        for t in rendered:
            expanded += [t] * n_img if t == IMAGE_TOKEN else [t]
        chat_ids = torch.tensor([expanded])
        ref["chat_pixel_values"] = chat_px
        ref["chat_input_ids"] = chat_ids[0]
        ref["chat_greedy_ids"] = greedy(m, chat_ids, pixel_values=chat_px.double(), image_sizes=sizes)
        ref["chat_logits"] = m(input_ids=chat_ids, pixel_values=chat_px.double(), image_sizes=sizes).logits[0, -1].float()
        # two images: base-only each (pad to a square with the mean colour, squash), batch_num_images = [2]
        img2 = test_image(45, 60).flip(2)
        Image.fromarray(img2.permute(1, 2, 0).numpy()).save(os.path.join(di, "image2.png"))
        multi = torch.stack([onevision_square_pixels(im, 35, [0.5] * 3, [0.5] * 3) for im in (img, img2)])
        msizes = torch.tensor([[97, 123], [45, 60]])
        chat2 = [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Same?"}]}]
        rendered = tok.apply_chat_template(chat2, add_generation_prompt=True, tokenize=True, return_dict=False)
        expanded = []
        for t in rendered:
            expanded += [t] * 26 if t == IMAGE_TOKEN else [t]
        mids = torch.tensor([expanded])
        kw = dict(pixel_values=multi.double(), image_sizes=msizes, batch_num_images=torch.tensor([2]))
        ref["multi_pixel_values"] = multi
        ref["multi_input_ids"] = mids[0]
        ref["multi_greedy_ids"] = greedy(m, mids, **kw)
        ref["multi_logits"] = m(input_ids=mids, **kw).logits[0, -1].float()
    save_ref(ref, os.path.join(di, "ref.safetensors"))
    print(f"llava_ov image tokens: {n}")
    report(di)


# LLaVA-NeXT-Video's vicuna-style template (tools/make_chat_template_fixtures.py LLAVA_NEXT_VIDEO) with the
# checkpoint's `{"type": "video"}` content parts rendered as "<video>\n" after the images.
NEXT_VIDEO_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'][0]['text'] }}"
    "{% else %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
CHAT = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens in it?"}]}]


def make_tokenizer(template):
    """A byte-level BPE over newline and printable ASCII (ids 3…98, no merges), <unk>/<s>/</s> = 0/1/2, unused
    fillers up to the special placeholders <image>/<video> at IMAGE_TOKEN/VIDEO_TOKEN: fits the 128-token model."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    # GPT-2's byte → printable-character table (byte-level BPE)
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:] + [256 + i for i in range(256) if i not in bs]
    bs += [i for i in range(256) if i not in bs]
    byte_map = dict(zip(bs, map(chr, cs)))
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in [10] + list(range(32, 127)):
        vocab[byte_map[b]] = len(vocab)
    while len(vocab) < IMAGE_TOKEN:
        vocab[f"<unused{len(vocab)}>"] = len(vocab)
    vocab["<image>"], vocab["<video>"] = IMAGE_TOKEN, VIDEO_TOKEN
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<unk>", "<s>", "</s>", "<image>", "<video>"]])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=128)
    fast.chat_template = template
    assert fast.convert_tokens_to_ids(["<image>", "<video>"]) == [IMAGE_TOKEN, VIDEO_TOKEN]
    return fast


def make_llava_next_video():
    d = os.path.join(OUT, "llava_next_video")
    vc = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                          image_size=28, patch_size=7, projection_dim=16, hidden_act="quick_gelu")
    tc = LlamaConfig(**{**TEXT, "intermediate_size": 80}, rms_norm_eps=1e-5, tie_word_embeddings=False,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    cfg = LlavaNextVideoConfig(vision_config=vc.to_dict(), text_config=tc.to_dict(), image_token_index=IMAGE_TOKEN,
                               video_token_index=VIDEO_TOKEN, vision_feature_layer=-2,
                               vision_feature_select_strategy="default", projector_hidden_act="gelu",
                               spatial_pool_mode="average", spatial_pool_stride=2,
                               image_grid_pinpoints=[[28, 28], [28, 56], [56, 28], [56, 56]],
                               tie_word_embeddings=False)
    m = save_checkpoint(LlavaNextVideoForConditionalGeneration, cfg, d, seed=4)
    model = m.model
    pv = pixels((1, 3, 3, 28, 28), seed=5)
    ids = torch.tensor([[1, 5, 9] + [VIDEO_TOKEN] * 12 + [77, 3]])
    ref = {"pixel_values_videos": pv, "input_ids": ids[0]}
    with torch.no_grad():
        hs = tower_stages(ref, model.vision_tower, pv.double().view(3, 3, 28, 28))
        selected = hs[-2][:, 1:]
        pooled = model.vision_resampler(selected)
        feats = model.get_video_features(pv.double(), vision_feature_layer=-2,
                                         vision_feature_select_strategy="default").pooler_output[0]
        ref.update(selected=selected.float(), pooled=pooled.float(), video_features=feats.float())
        out = m(input_ids=ids, pixel_values_videos=pv.double(), output_hidden_states=True)
        lm_stages(ref, out)
        ref["greedy_ids"] = greedy(m, ids, pixel_values_videos=pv.double())
        # end to end through the chat template: one <video> expanded to F·(g/stride)² tokens, as the processor does
        tok = make_tokenizer(NEXT_VIDEO_TEMPLATE)
        tok.save_pretrained(d)

        # image path (LLaVA-NeXT anyres, no size cap): a 40×50 image → best pinpoint 56×56 → base + 2×2 tiles
        di = os.path.join(OUT, "llava_next_video_image")
        os.makedirs(di, exist_ok=True)
        pvi = pixels((1, 5, 3, 28, 28), seed=8)
        isz = torch.tensor([[40, 50]])
        ifeats = model.get_image_features(pvi.double(), isz, vision_feature_layer=-2,
                                          vision_feature_select_strategy="default").pooler_output[0]
        iids = torch.tensor([[1, 5] + [IMAGE_TOKEN] * ifeats.shape[0] + [9, 3]])
        iref = {"pixel_values": pvi, "image_sizes": isz.to(torch.int64), "input_ids": iids[0],
                "image_features": ifeats.float()}
        iout = m(input_ids=iids, pixel_values=pvi.double(), image_sizes=isz)
        iref["logits"] = iout.logits[0].float()
        iref["greedy_ids"] = greedy(m, iids, pixel_values=pvi.double(), image_sizes=isz)
        save_ref(iref, os.path.join(di, "ref.safetensors"))
        print(f"llava_next_video image tokens: {ifeats.shape[0]}")
        report(di)
        rendered = tok.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=True, return_dict=False)
        expanded = []
        for t in rendered:
            expanded += [t] * 12 if t == VIDEO_TOKEN else [t]
        chat_ids = torch.tensor([expanded])
        ref["chat_input_ids"] = chat_ids[0]
        ref["chat_greedy_ids"] = greedy(m, chat_ids, pixel_values_videos=pv.double())
    save_ref(ref, os.path.join(d, "ref.safetensors"))
    report(d)


def make_towers():
    """Standalone towers (saved without the `vision_model.` prefix), f32: hidden_states.{0..3}, last_hidden_state
    (post_layernorm of every token) and, for CLIP, pooler_output (post_layernorm of the class token)."""
    for name, cls, cfg in [
        ("vision_siglip", SiglipVisionModel, SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                                                num_attention_heads=4, image_size=30, patch_size=7,
                                                                vision_use_head=False)),
        ("vision_clip", CLIPVisionModel, CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                                          num_attention_heads=4, image_size=28, patch_size=7,
                                                          projection_dim=16)),
    ]:
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        m = cls(cfg).eval()
        randomize_(m, seed=6)
        m.save_pretrained(d)
        m = cls.from_pretrained(d, dtype=torch.float64).eval()
        side = cfg.image_size  # SigLIP 30/7: a 4×4 grid with 2 unused pixels, as so400m's 384/14
        px = pixels((2, 3, side, side), seed=7)
        with torch.no_grad():
            out = m(pixel_values=px.double(), output_hidden_states=True)
        ref = {"pixel_values": px, "last_hidden_state": out.last_hidden_state.float()}
        if name == "vision_clip":
            ref["pooler_output"] = out.pooler_output.float()
        for i, h in enumerate(out.hidden_states):
            ref[f"hidden_states.{i}"] = h.float()
        save_ref(ref, os.path.join(d, "ref.safetensors"))
        report(d)


if __name__ == "__main__":
    make_towers()
    make_llava_ov()
    make_llava_next_video()
