"""Parity of zoo.load_timm with timm's own PyTorch modules for the transformer families of
zoo.converters.timm_vits: timm's VisionTransformer in its variants (CLIP pre-norm towers with
exact and quick GELU, register / GAP models with positions on the patches only or on every
token, ``fc_norm`` after the pool or the final norm before it, layer scale, no class token,
SigLIP's MAP head, bias-free qkv, FlexiViT, EVA-L, DeiT III).

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every norm moved from its default, exported with timm's ``save_for_hf``). Each case is
a variant's own architecture with reduced width / depth / image size (timm's keyword
arguments, which the converter honours); logits and pre-logits must agree to 1e-4 in float32.
Every architecture of the variant tables is checked tensor by tensor (name and shape) against
the state dict of timm's default model, built on the meta device.
"""

from __future__ import annotations

import pytest

from zoo.converters import timm as timm_converter
from zoo.converters import timm_vit_variants, timm_vits
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness


_TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
CASES = [
    # ViT families, each its own architecture shrunk by timm's keyword arguments
    dict(name="clip", architecture="vit_base_patch16_clip_224", kwargs=_TINY),  # pre-norm, no patch bias, ε 1e-5
    dict(name="clip_quickgelu", architecture="vit_base_patch16_clip_quickgelu_224", kwargs=_TINY),
    dict(name="reg4_gap", architecture="vit_betwixt_patch16_reg4_gap_256", kwargs=_TINY),  # no_embed_class, fc_norm
    dict(name="so150m_reg4", architecture="vit_so150m_patch16_reg4_gap_256", kwargs=_TINY),  # registers positioned
    dict(name="so150m2_reg1", architecture="vit_so150m2_patch16_reg1_gap_256", kwargs=_TINY),  # bias-free qkv
    dict(name="medium_gap", architecture="vit_medium_patch16_gap_256", kwargs=_TINY),  # no class token, no registers
    dict(name="siglip_map", architecture="vit_so400m_patch14_siglip_378", kwargs=_TINY),  # attention pooling
    dict(name="siglip_gap_tanh", architecture="vit_base_patch16_siglip_gap_224", kwargs=_TINY),  # tanh GELU
    dict(name="flexivit", architecture="flexivit_small", kwargs=_TINY),
    dict(name="eva_large", architecture="eva_large_patch14_196", kwargs=_TINY),  # class token + mean pool, fc_norm
    dict(name="deit3_reduced", architecture="deit3_small_patch16_224", kwargs=_TINY),
    dict(name="deit3_small", architecture="deit3_small_patch16_224", kwargs=dict(img_size=32)),  # full width/depth
    dict(name="beit3", architecture="beit3_base_patch16_224", kwargs=_TINY),  # inner norms in attention and MLP
    dict(name="res_post", architecture="vit_base_patch16_rpn_224", kwargs=_TINY),  # norms after the branches
    # BEiT: relative position bias per block, q/v biases, layer scale, mean pooling + fc_norm
    dict(name="beit", architecture="beit_base_patch16_224", kwargs=_TINY),
    # BEiT v2 with one shared relative bias table, absolute positions and class-token pooling
    dict(name="beitv2_shared_token", architecture="beitv2_base_patch16_224",
         kwargs=dict(_TINY, use_rel_pos_bias=False, use_shared_rel_pos_bias=True, use_abs_pos_emb=True,
                     global_pool="token")),
    dict(name="eva_giant", architecture="eva_giant_patch14_224", kwargs=_TINY),  # absolute positions, no layer scale
    # Swin: stage maps 16, 8, 4, 2 at 64 px with 2×2 windows (a shifted block in stage 2)
    dict(name="swin", architecture="swin_tiny_patch4_window7_224", resolution=64,
         kwargs=dict(img_size=64, window_size=2, embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                     num_classes=5)),
    dict(name="swin_s3", architecture="swin_s3_tiny_224", resolution=64,  # a window per stage
         kwargs=dict(img_size=64, window_size=[4, 4, 2, 2], embed_dim=16, depths=[2, 1, 1, 1],
                     num_heads=[1, 2, 2, 4], num_classes=5)),
    # Swin V2: stage maps 16, 8, 4, 2 with 4×4 windows: the last stage's window shrinks to its map (timm's rule)
    dict(name="swinv2", architecture="swinv2_tiny_window8_256", resolution=64,
         kwargs=dict(img_size=64, window_size=4, embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                     num_classes=5)),
    # Swin V2 fine-tuned from smaller windows: bias coordinates scaled by the pretrained windows (12, 12, 12, 6)
    dict(name="swinv2_pretrained_windows", architecture="swinv2_base_window12to16_192to256", resolution=64,
         kwargs=dict(img_size=64, window_size=4, embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                     num_classes=5)),
    # CaiT: talking-heads self-attention blocks, then class-attention blocks (one query: the class token)
    dict(name="cait", architecture="cait_xxs24_224", kwargs=_TINY),
]
for case in CASES:
  case.setdefault("resolution", 32)
  case.setdefault("batch", 2)
FAMILY_TABLES = {"vit": timm_vits.VIT_VARIANTS, "beit": {**timm_vits.BEIT_VARIANTS, **timm_vits.EVA_VARIANTS},
                 "swin": {**timm_vits.SWIN_VARIANTS, **timm_vits.SWINV2_VARIANTS}, "cait": timm_vits.CAIT_VARIANTS,
                 "eva_rope": timm_vit_variants.EVA_ROPE_VARIANTS, "relpos": timm_vit_variants.VIT_RELPOS_VARIANTS,
                 "hybrid": timm_vit_variants.VIT_HYBRID_VARIANTS, "pit": timm_vit_variants.PIT_VARIANTS}
# Every variant with one block per stage (the names, widths, heads, tokens and heads of the
# table, at a fraction of the cost of the full depth).
SHALLOW = {"vit": dict(depth=1), "beit": dict(depth=1), "swin": dict(depths=[1, 1, 1, 1]),
           "cait": dict(depth=1), "eva_rope": dict(depth=1), "relpos": dict(depth=1), "hybrid": dict(depth=1),
           "pit": dict(depth=[1, 1, 1])}
SHAPES = [dict(name=name, architecture=name, kwargs=dict(SHALLOW[family], num_classes=1000))
          for family, table in FAMILY_TABLES.items() for name in table]


timm_exports = timm_parity.exports_fixture("timm_vits", CASES, SHAPES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_transformer_families_match_timm(case, timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / case["name"], case["name"], tmp_path)


def test_every_variant_maps_timm_state_dict(timm_exports):
  """Every tensor of timm's model of each variant (name and shape on the meta device, no
weights) maps onto a parameter of the variant's abstract nnx module (eval_shape, no FLOPs) with
that shape after the layout change, and every parameter gets one (what
zoo.converters.mapping.load_into checks, without materialising the weights)."""
  timm_parity.assert_every_variant_maps(timm_exports, SHAPES)


@pytest.mark.parametrize("model_args, message", [
    ({"attn_layer": "flash"}, "attn_layer 'flash'"),
    ({"global_pool": "avgmax"}, "global_pool 'avgmax'"),
    ({"act_layer": "silu"}, "act_layer 'silu'"),
    ({"block_fn": "ParallelThingsBlock"}, "block_fn"),
])
def test_vit_rejects_unsupported_arguments(model_args, message):
  config = {"architecture": "vit_tiny_patch16_224", "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"vit_tiny_patch16_224.*{message}"):
    timm_converter.family_of("vit_tiny_patch16_224").build("vit_tiny_patch16_224", config)


@pytest.mark.parametrize("architecture, model_args, message", [
    ("eva02_tiny_patch14_336", {"rope_type": "dinov3"}, "rope_type 'dinov3'"),
    ("eva02_tiny_patch14_336", {"scale_attn_inner": True}, "scale_attn_inner"),
    ("vit_small_patch16_rope_224", {"use_fc_norm": True}, "global_pool 'token' with use_fc_norm=True"),
    ("vit_relpos_small_patch16_224", {"rel_pos_type": "bias"}, "rel_pos_type"),
])
def test_rotary_and_relpos_vits_reject_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)
