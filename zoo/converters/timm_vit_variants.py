"""timm's further ViT model files as data, served by zoo.architectures.vit.VisionTransformer:
``eva.py``'s rotary-position ViTs (EVA-02, timm's SBB ViTs with RoPE, Naver's RoPE-ViT with axial
or mixed frequencies), ``vision_transformer_relpos.py`` (relative position biases from an MLP,
per block or shared) and ``vision_transformer_hybrid.py`` (ViT on a ResNet-V2 / BiT feature map);
and ``pit.py`` (pooling-based ViT, zoo.architectures.pit, built on the same encoder blocks).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class (``timm/models/eva.py``,
``vision_transformer_relpos.py``, ``vision_transformer_hybrid.py``, ``pit.py``), with ``img_size`` where the architecture's default pretrained
config is not 224² and ``block_fn`` by its class name. A checkpoint's
``model_args`` (its config.json) override them. ``ENTRIES`` maps a regex that fully matches the
architecture names to ``dict(build=..., renames=..., ignore=...)``; zoo.converters.timm wraps each
in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.bit import BitConfig
from zoo.architectures.pit import PiT, PiTConfig

from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.converters.mapping import ATTENTION_PROJECTIONS, ConversionError
from zoo.converters.timm_families import _arguments, _names, _square
from zoo.converters.timm_vits import _pretrained_img_size

# --- timm's Eva (eva.py) with rotary position embeddings ---------------------------------------------------

_EVA02 = dict(mlp_ratio=4 * 2 / 3, swiglu_mlp=True, use_rot_pos_emb=True, ref_feat_shape=(16, 16))
_SBB_ROPE = dict(img_size=256, patch_size=16, qkv_fused=True, init_values=1e-05, class_token=False,
                 use_rot_pos_emb=True, use_abs_pos_emb=False, ref_feat_shape=(16, 16))
_NAVER_ROPE = dict(patch_size=16, mlp_ratio=4, attn_type="rope", qkv_bias=True, init_values=1e-05, class_token=True,
                   global_pool="token", use_rot_pos_emb=True, rope_grid_indexing="xy")
# Naver's RoPE-ViT: axial (temperature 100) or mixed (learned, temperature 10), with ("ape") or without the
# absolute position table (then only on the patches: no_embed_class).
_NAVER_KINDS = {
    "rope": dict(use_abs_pos_emb=False, rope_temperature=100.0),
    "rope_ape": dict(no_embed_class=True, use_abs_pos_emb=True, rope_temperature=100.0),
    "rope_mixed": dict(use_abs_pos_emb=False, rope_temperature=10.0, rope_type="mixed"),
    "rope_mixed_ape": dict(no_embed_class=True, use_abs_pos_emb=True, rope_temperature=10.0, rope_type="mixed"),
}
_NAVER_SIZES = {"small": dict(embed_dim=384, depth=12, num_heads=6), "base": dict(embed_dim=768, depth=12, num_heads=12),
                "large": dict(embed_dim=1024, depth=24, num_heads=16)}
EVA_ROPE_VARIANTS: dict[str, dict] = {
    "eva02_tiny_patch14_336": dict(img_size=336, patch_size=14, embed_dim=192, depth=12, num_heads=3, **_EVA02),
    "eva02_small_patch14_336": dict(img_size=336, patch_size=14, embed_dim=384, depth=12, num_heads=6, **_EVA02),
    "eva02_base_patch14_448": dict(img_size=448, patch_size=14, embed_dim=768, depth=12, num_heads=12,
                                   qkv_fused=False, scale_mlp=True, **_EVA02),
    "eva02_large_patch14_448": dict(img_size=448, patch_size=14, embed_dim=1024, depth=24, num_heads=16,
                                    qkv_fused=False, scale_mlp=True, **_EVA02),
    "vit_medium_patch16_rope_reg1_gap_256": dict(embed_dim=512, depth=12, num_heads=8, qkv_bias=True,
                                                 num_reg_tokens=1, **_SBB_ROPE),
    "vit_mediumd_patch16_rope_reg1_gap_256": dict(embed_dim=512, depth=20, num_heads=8, qkv_bias=False,
                                                  num_reg_tokens=1, **_SBB_ROPE),
    "vit_betwixt_patch16_rope_reg4_gap_256": dict(embed_dim=640, depth=12, num_heads=10, qkv_bias=True,
                                                  num_reg_tokens=4, **_SBB_ROPE),
    "vit_base_patch16_rope_reg1_gap_256": dict(embed_dim=768, depth=12, num_heads=12, qkv_bias=True,
                                               num_reg_tokens=1, **_SBB_ROPE),
    # timm's vit_base_patch16_rope_224 also passes use_fc_norm=False: its value with token pooling anyway
    **{f"vit_{size}_patch16_{kind}_224": dict(**dimensions, **_NAVER_ROPE, **options,
                                               **(dict(use_fc_norm=False) if (size, kind) == ("base", "rope") else {}))
       for size, dimensions in _NAVER_SIZES.items() for kind, options in _NAVER_KINDS.items()},
}
_EVA_ROPE_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "qkv_bias", "qkv_fused", "mlp_ratio",
                  "swiglu_mlp", "scale_mlp", "scale_attn_inner", "attn_type", "init_values", "class_token",
                  "num_reg_tokens", "no_embed_class", "use_abs_pos_emb", "use_rot_pos_emb", "rope_type",
                  "rope_grid_offset", "rope_grid_indexing", "rope_temperature", "rope_rotate_half", "use_post_norm",
                  "use_pre_transformer_norm", "use_post_transformer_norm", "use_fc_norm", "dynamic_img_size",
                  "ref_feat_shape", "head_init_scale", "global_pool"}
# Arguments whose only modelled value is timm's default.
_EVA_ROPE_FIXED = dict(scale_attn_inner=False, rope_grid_offset=0.0, rope_rotate_half=False, use_post_norm=False,
                       use_pre_transformer_norm=False, dynamic_img_size=False, use_rot_pos_emb=True)
_ROTARY_TYPES = {"cat": "axial", "mixed": "mixed"}


def _eva_rope_arguments(name: str, config: dict) -> dict:
  """The variant's timm arguments updated by the checkpoint's ``model_args``, each checked."""
  arguments = {k: v for k, v in _arguments(name, config, _EVA_ROPE_ARGS).items() if v is not None}
  arguments = {**EVA_ROPE_VARIANTS[name], **_pretrained_img_size(config), **arguments}
  for key, value in _EVA_ROPE_FIXED.items():
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  if arguments.get("rope_type", "cat") not in _ROTARY_TYPES:
    raise ConversionError(f"timm model {name!r}: rope_type {arguments['rope_type']!r} is not supported "
                          f"(only {sorted(_ROTARY_TYPES)}).")
  pool, fc_norm = arguments.get("global_pool", "avg"), arguments.get("use_fc_norm")
  post_norm = arguments.get("use_post_transformer_norm")
  if pool not in ("avg", "token") or fc_norm not in (None, pool == "avg") or post_norm not in (None, pool != "avg"):
    raise ConversionError(f"timm model {name!r}: global_pool {pool!r} with use_fc_norm={fc_norm!r}, "
                          f"use_post_transformer_norm={post_norm!r} is not supported ('avg' with the norm after "
                          "the pool, or 'token' with the norm after the blocks).")
  if arguments.get("scale_mlp") and not arguments.get("swiglu_mlp"):
    raise ConversionError(f"timm model {name!r}: scale_mlp is supported with swiglu_mlp only (EVA-02).")
  return arguments


def build_eva_rope(name: str, config: dict) -> nnx.Module:
  """timm's Eva with rotary positions as :class:`VisionTransformer`: LayerNorm ε 1e-6; ``eva``
  attention = fused qkv with q / v biases only (or three projections, the key without bias),
  Naver's ``rope`` attention = one biased qkv; SwiGLU packed, or split with its sub-LN when
  ``scale_mlp``; rotary embeddings on the patch tokens only; mean pooling then ``fc_norm``, or
  the class token after the final norm."""
  arguments = _eva_rope_arguments(name, config)
  width = arguments.get("embed_dim", 768)
  qkv_bias, eva_attention = arguments.get("qkv_bias", True), arguments.get("attn_type", "eva") == "eva"
  reference = arguments.get("ref_feat_shape")
  reference = None if reference is None else _square(name, reference)
  pool = arguments.get("global_pool", "avg")
  return VisionTransformer(ViTConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments.get("patch_size", 16),
      num_channels=arguments["in_chans"], hidden_size=width, num_hidden_layers=arguments.get("depth", 12),
      num_attention_heads=arguments.get("num_heads", 12),
      intermediate_size=int(width * arguments.get("mlp_ratio", 4.0)), hidden_act="gelu", layer_norm_eps=1e-6,
      qkv_bias=qkv_bias, key_bias=False if eva_attention and qkv_bias else None,
      fused_qkv=arguments.get("qkv_fused", True), num_classes=arguments["num_classes"],
      layer_scale=arguments.get("init_values") is not None, num_register_tokens=arguments.get("num_reg_tokens", 0),
      swiglu=bool(arguments.get("swiglu_mlp", False)), swiglu_packed=not arguments.get("scale_mlp", False),
      scale_mlp_norm=bool(arguments.get("scale_mlp", False)), pooling={"avg": "avg", "token": "cls"}[pool],
      class_token=arguments.get("class_token", True), norm_after_pool=pool == "avg",
      prefix_positions="none" if arguments.get("no_embed_class") else "all",
      absolute_positions=arguments.get("use_abs_pos_emb", True),
      rotary=_ROTARY_TYPES[arguments.get("rope_type", "cat")],
      rotary_temperature=float(arguments.get("rope_temperature", 10000.0)),
      rotary_xy=arguments.get("rope_grid_indexing", "ij") == "xy", rotary_reference_grid=reference),
      rngs=nnx.Rngs(0))


EVA_ROPE_RENAMES = (
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"blocks.\1.attn.out."),
    (r"^blocks\.(\d+)\.attn\.([qkv])_proj\.", lambda m: f"blocks.{m[1]}.attn.{ATTENTION_PROJECTIONS[m[2]]}."),
    (r"^blocks\.(\d+)\.gamma_([12])$", r"blocks.\1.ls\2"),
    (r"^fc_norm\.", "norm."),  # the norm after the pool: the module's one final norm
    (r"^rope\.freqs$", "rope_freqs"),  # mixed RoPE's learned frequencies [2, depth, heads, d_head / 2]
)


# --- timm's VisionTransformerRelPos (vision_transformer_relpos.py) ----------------------------------------------

VIT_RELPOS_VARIANTS: dict[str, dict] = {
    "vit_relpos_base_patch32_plus_rpn_256": dict(img_size=256, patch_size=32, embed_dim=896, depth=12, num_heads=14,
                                                 block_fn="ResPostRelPosBlock"),
    "vit_relpos_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, qkv_bias=False,
                                         fc_norm=True),
    "vit_relpos_medium_patch16_224": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, qkv_bias=False,
                                          fc_norm=True),
    "vit_relpos_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, qkv_bias=False,
                                        fc_norm=True),
    "vit_srelpos_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, qkv_bias=False,
                                          fc_norm=False, rel_pos_dim=384, shared_rel_pos=True),
    "vit_srelpos_medium_patch16_224": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, qkv_bias=False,
                                           fc_norm=False, rel_pos_dim=512, shared_rel_pos=True),
    "vit_relpos_medium_patch16_cls_224": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, qkv_bias=False,
                                              fc_norm=False, rel_pos_dim=256, class_token=True, global_pool="token"),
    "vit_relpos_base_patch16_clsgap_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, qkv_bias=False,
                                               fc_norm=True, class_token=True),
    "vit_relpos_small_patch16_rpn_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, qkv_bias=False,
                                             block_fn="ResPostRelPosBlock"),
    "vit_relpos_medium_patch16_rpn_224": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, qkv_bias=False,
                                              block_fn="ResPostRelPosBlock"),
    "vit_relpos_base_patch16_rpn_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, qkv_bias=False,
                                            block_fn="ResPostRelPosBlock"),
}
_VIT_RELPOS_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "qk_norm",
                    "init_values", "class_token", "fc_norm", "rel_pos_type", "rel_pos_dim", "shared_rel_pos",
                    "block_fn", "weight_init", "fix_init", "global_pool"}
_VIT_RELPOS_FIXED = dict(qk_norm=False, rel_pos_type="mlp")


def build_vit_relpos(name: str, config: dict) -> nnx.Module:
  """timm's VisionTransformerRelPos as :class:`VisionTransformer`: no absolute positions, a
  RelPosMlp ("cr" log offsets, hidden ``rel_pos_dim``, default 128) per block or shared; fused qkv,
  LayerNorm ε 1e-6, layer scale when ``init_values`` (default 1e-6; ResPostRelPosBlock: post-norm,
  no layer scale); mean pooling (norm before it, or after with ``fc_norm``) or the class token."""
  arguments = {k: v for k, v in _arguments(name, config, _VIT_RELPOS_ARGS).items() if v is not None}
  arguments = {**VIT_RELPOS_VARIANTS[name], **_pretrained_img_size(config), **arguments}
  for key, value in _VIT_RELPOS_FIXED.items():
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  block, pool = arguments.get("block_fn", "RelPosBlock"), arguments.get("global_pool", "avg")
  if block not in ("RelPosBlock", "ResPostRelPosBlock") or pool not in ("avg", "token"):
    raise ConversionError(f"timm model {name!r}: block_fn {block!r} / global_pool {pool!r} is not supported "
                          "(RelPosBlock or ResPostRelPosBlock; 'avg' or 'token').")
  post_norm = block == "ResPostRelPosBlock"  # init_values then only initialise its norms
  width = arguments.get("embed_dim", 768)
  return VisionTransformer(ViTConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments.get("patch_size", 16),
      num_channels=arguments["in_chans"], hidden_size=width, num_hidden_layers=arguments.get("depth", 12),
      num_attention_heads=arguments.get("num_heads", 12),
      intermediate_size=int(width * arguments.get("mlp_ratio", 4.0)), hidden_act="gelu", layer_norm_eps=1e-6,
      qkv_bias=arguments.get("qkv_bias", True), fused_qkv=True, num_classes=arguments["num_classes"],
      layer_scale=bool(arguments.get("init_values", 1e-6)) and not post_norm, post_norm=post_norm,
      class_token=arguments.get("class_token", False), pooling={"avg": "avg", "token": "cls"}[pool],
      norm_after_pool=bool(arguments.get("fc_norm", False)), absolute_positions=False,
      relative_position_mlp=arguments.get("rel_pos_dim") or 128,
      shared_relative_position=bool(arguments.get("shared_rel_pos", False))), rngs=nnx.Rngs(0))


VIT_RELPOS_RENAMES = (
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"blocks.\1.attn.out."),
    (r"^blocks\.(\d+)\.ls([12])\.gamma$", r"blocks.\1.ls\2"),
    (r"^blocks\.(\d+)\.attn\.rel_pos\.mlp\.", r"rel_pos.\1."),
    (r"^shared_rel_pos\.mlp\.", "shared_rel_pos."),
    (r"^fc_norm\.", "norm."),  # the norm after the pool: the module's one final norm
)


# --- timm's hybrid ViT (vision_transformer_hybrid.py) on a ResNetV2 trunk ----------------------------------------

# ``backbone_layers``: the blocks per stage timm's ``_resnetv2(layers)`` passes to ResNetV2 (() = its stem
# alone); the other keys are the VisionTransformer arguments (patch_size 1 on the feature map by default).
VIT_HYBRID_VARIANTS: dict[str, dict] = {
    "vit_tiny_r_s16_p8_224": dict(backbone_layers=(), patch_size=8, embed_dim=192, depth=12, num_heads=3),
    "vit_tiny_r_s16_p8_384": dict(backbone_layers=(), patch_size=8, embed_dim=192, depth=12, num_heads=3,
                                  img_size=384),
    "vit_small_r26_s32_224": dict(backbone_layers=(2, 2, 2, 2), embed_dim=384, depth=12, num_heads=6),
    "vit_small_r26_s32_384": dict(backbone_layers=(2, 2, 2, 2), embed_dim=384, depth=12, num_heads=6, img_size=384),
    "vit_base_r50_s16_384": dict(backbone_layers=(3, 4, 9), embed_dim=768, depth=12, num_heads=12, img_size=384),
    "vit_large_r50_s32_224": dict(backbone_layers=(3, 4, 6, 3), embed_dim=1024, depth=24, num_heads=16),
    "vit_large_r50_s32_384": dict(backbone_layers=(3, 4, 6, 3), embed_dim=1024, depth=24, num_heads=16,
                                  img_size=384),
}
_VIT_HYBRID_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias",
                    "global_pool", "padding_same"}


def build_vit_hybrid(name: str, config: dict) -> nnx.Module:
  """timm's hybrid ViT as :class:`VisionTransformer` with a BiT trunk: ResNetV2 with preact=False
  (post-activation bottlenecks, GroupNorm(32) + ReLU), StdConv2dSame (ε 1e-8, TF "SAME" padding)
  and the "same" stem (7×7/2 conv, norm, 3×3/2 max pool); then a class token, positions on every
  token, LayerNorm ε 1e-6 and class-token pooling as timm's VisionTransformer defaults."""
  arguments = {k: v for k, v in _arguments(name, config, _VIT_HYBRID_ARGS).items() if v is not None}
  arguments = {**VIT_HYBRID_VARIANTS[name], **_pretrained_img_size(config), **arguments}
  if not arguments.get("padding_same", True) or arguments.get("global_pool", "token") != "token":
    raise ConversionError(f"timm model {name!r}: padding_same={arguments.get('padding_same')!r}, global_pool "
                          f"{arguments.get('global_pool')!r} is not supported (TF 'SAME' padding, 'token' pooling).")
  width = arguments["embed_dim"]
  backbone = BitConfig(depths=tuple(arguments["backbone_layers"]), layer_type="bottleneck", global_padding="SAME",
                       embedding_dynamic_padding=True, num_channels=arguments["in_chans"], num_classes=0)
  return VisionTransformer(ViTConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments.get("patch_size", 1),
      num_channels=arguments["in_chans"], hidden_size=width, num_hidden_layers=arguments["depth"],
      num_attention_heads=arguments["num_heads"], intermediate_size=int(width * arguments.get("mlp_ratio", 4.0)),
      hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=arguments.get("qkv_bias", True), fused_qkv=True,
      prefix_positions="all", num_classes=arguments["num_classes"], backbone=backbone), rngs=nnx.Rngs(0))


VIT_HYBRID_RENAMES = (
    # the stem: ResNetV2's ``stem`` module, or the whole backbone when it has no stages
    (r"^patch_embed\.backbone\.(?:stem\.)?conv\.", "backbone.stem_conv."),
    (r"^patch_embed\.backbone\.(?:stem\.)?norm\.", "backbone.stem_norm.norm."),
    (r"^patch_embed\.backbone\.stages\.(\d+)\.blocks\.(\d+)\.", r"backbone.stages.\1.\2."),
    (r"\.downsample\.conv\.", ".downsample_conv."),
    (r"\.downsample\.norm\.", ".downsample_norm.norm."),
    (r"^(backbone\.stages\.\d+\.\d+\.norm\d)\.", r"\1.norm."),
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"blocks.\1.attn.out."),
)


# --- timm's PoolingVisionTransformer (pit.py) ----------------------------------------------------------------

_PIT_B = dict(patch_size=14, stride=7, base_dims=(64, 64, 64), depth=(3, 6, 4), heads=(4, 8, 16), mlp_ratio=4)
_PIT_S = dict(patch_size=16, stride=8, base_dims=(48, 48, 48), depth=(2, 6, 4), heads=(3, 6, 12), mlp_ratio=4)
_PIT_XS = dict(patch_size=16, stride=8, base_dims=(48, 48, 48), depth=(2, 6, 4), heads=(2, 4, 8), mlp_ratio=4)
_PIT_TI = dict(patch_size=16, stride=8, base_dims=(32, 32, 32), depth=(2, 6, 4), heads=(2, 4, 8), mlp_ratio=4)
PIT_VARIANTS: dict[str, dict] = {
    **{f"pit_{size}_224": dict(args) for size, args in (("b", _PIT_B), ("s", _PIT_S), ("xs", _PIT_XS), ("ti", _PIT_TI))},
    **{f"pit_{size}_distilled_224": dict(args, distilled=True)
       for size, args in (("b", _PIT_B), ("s", _PIT_S), ("xs", _PIT_XS), ("ti", _PIT_TI))},
}
_PIT_ARGS = {"img_size", "patch_size", "stride", "stem_type", "base_dims", "depth", "heads", "mlp_ratio", "distilled",
             "global_pool"}


def build_pit(name: str, config: dict) -> nnx.Module:
  """timm's PiT as :class:`PiT` ('token' pooling, the overlapping conv stem)."""
  arguments = {k: v for k, v in _arguments(name, config, _PIT_ARGS).items() if v is not None}
  arguments = {**PIT_VARIANTS[name], **_pretrained_img_size(config), **arguments}
  if arguments.get("global_pool", "token") != "token" or arguments.get("stem_type", "overlap") != "overlap":
    raise ConversionError(f"timm model {name!r}: global_pool {arguments.get('global_pool')!r} / stem_type "
                          f"{arguments.get('stem_type')!r} is not supported ('token', 'overlap').")
  return PiT(PiTConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments["patch_size"],
      stride=arguments["stride"], base_dims=tuple(arguments["base_dims"]), depths=tuple(arguments["depth"]),
      heads=tuple(arguments["heads"]), mlp_ratio=float(arguments.get("mlp_ratio", 4)),
      distilled=bool(arguments.get("distilled", False)), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


PIT_RENAMES = (
    (r"^patch_embed\.conv\.", "patch_embed."),
    (r"^transformers\.(\d+)\.pool\.", r"stages.\1."),
    (r"^transformers\.(\d+)\.blocks\.(\d+)\.attn\.proj\.", r"stages.\1.blocks.\2.attn.out."),
    (r"^transformers\.(\d+)\.blocks\.", r"stages.\1.blocks."),
)


ENTRIES: dict[str, dict] = {
    _names(EVA_ROPE_VARIANTS): dict(build=build_eva_rope, renames=EVA_ROPE_RENAMES),
    _names(VIT_RELPOS_VARIANTS): dict(build=build_vit_relpos, renames=VIT_RELPOS_RENAMES),
    _names(VIT_HYBRID_VARIANTS): dict(build=build_vit_hybrid, renames=VIT_HYBRID_RENAMES),
    _names(PIT_VARIANTS): dict(build=build_pit, renames=PIT_RENAMES),
}
