"""More timm families as data: XCiT (zoo.architectures.xcit), ResMLP (zoo.architectures.resmlp) and
LeViT (zoo.architectures.levit).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as
timm 1.0.31's model function passes them to the model class (``timm/models/xcit.py``, ``mlp_mixer.py``, ``levit.py``); a
checkpoint's ``model_args`` (its config.json) override them. ``ENTRIES`` maps a regex that fully
matches the architecture names to ``dict(build=..., renames=...)``; zoo.converters.timm wraps
each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.levit import Levit, LevitConfig
from zoo.architectures.resmlp import ResMlp, ResMlpConfig
from zoo.architectures.xcit import Xcit, XcitConfig
from zoo.converters.mapping import ATTENTION_PROJECTIONS, ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square


def _check_fixed(name: str, arguments: dict, fixed: dict) -> None:
  """A ConversionError for an argument the nnx family models only at timm's default value."""
  for key, value in fixed.items():
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")


# --- XCiT (timm's xcit.py) ----------------------------------------------------------------------

# size → (embed_dim, num_heads); depth 12 models use eta 1.0, depth 24 models 1e-5 (only initialisation)
_XCIT_SIZES = {"nano": (128, 4), "tiny": (192, 4), "small": (384, 8), "medium": (512, 8), "large": (768, 16)}
_XCIT_DEPTHS = {"nano": (12,), "tiny": (12, 24), "small": (12, 24), "medium": (24,), "large": (24,)}
XCIT_VARIANTS: dict[str, dict] = {
    f"xcit_{size}_{depth}_p{patch}_{resolution}": dict(
        patch_size=patch, embed_dim=_XCIT_SIZES[size][0], depth=depth, num_heads=_XCIT_SIZES[size][1],
        tokens_norm=size != "nano")  # timm: tokens_norm=False for nano only
    for size, depths in _XCIT_DEPTHS.items() for depth in depths for patch in (16, 8) for resolution in (224, 384)}
_XCIT_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "eta",
              "tokens_norm", "cls_attn_layers", "use_pos_embed", "global_pool", "act_layer", "norm_layer"}


def build_xcit(name: str, config: dict) -> nnx.Module:
  """timm's Xcit: conv patch embedding with batch norm, Fourier positions, XCA blocks with local
  patch interaction, class-attention blocks, LayerNorm ε 1e-6; ``eta`` only initialises the layer
  scales and ``img_size`` only sizes timm's bookkeeping (the model is resolution-free)."""
  arguments = _arguments(name, config, _XCIT_ARGS)
  arguments = {**XCIT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_fixed(name, arguments, {"act_layer": None, "norm_layer": None})
  pool = arguments.get("global_pool", "token")
  if pool not in ("token", "avg"):
    raise ConversionError(f"timm model {name!r}: global_pool {pool!r} is not supported ('token' or 'avg').")
  if arguments["patch_size"] not in (8, 16):
    raise ConversionError(f"timm model {name!r}: patch_size {arguments['patch_size']} is not supported (8 or 16, "
                          "as timm's ConvPatchEmbed).")
  return Xcit(XcitConfig(
      patch_size=arguments["patch_size"], num_channels=arguments["in_chans"], hidden_size=arguments["embed_dim"],
      num_hidden_layers=arguments["depth"], num_attention_heads=arguments["num_heads"],
      mlp_ratio=arguments.get("mlp_ratio", 4.0), qkv_bias=arguments.get("qkv_bias", True),
      num_class_layers=arguments.get("cls_attn_layers", 2), tokens_norm=arguments["tokens_norm"],
      use_pos_embed=arguments.get("use_pos_embed", True), pooling="cls" if pool == "token" else "avg",
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


XCIT_RENAMES = (
    # timm: proj = Sequential(conv3x3 (Sequential(conv, bn)), GELU, conv3x3, GELU, …): convs at even indices
    (r"^patch_embed\.proj\.(\d+)\.0\.", lambda m: f"patch_convs.{int(m[1]) // 2}.conv."),
    (r"^patch_embed\.proj\.(\d+)\.1\.", lambda m: f"patch_convs.{int(m[1]) // 2}.bn."),
    (r"^pos_embed\.token_projection\.", "pos_projection."),
    (r"^cls_attn_blocks\.", "class_blocks."),
    (r"\.attn\.proj\.", ".attn.out."),
    (r"\.attn\.([qkv])\.", lambda m: f".attn.{ATTENTION_PROJECTIONS[m[1]]}."),
)


# --- ResMLP (timm's mlp_mixer.py with ResBlock and Affine) -------------------------------------

# MlpMixer(**kwargs) per architecture; init_values (1e-4, 1e-5, 1e-6) only initialises the layer scales.
RESMLP_VARIANTS: dict[str, dict] = {
    "resmlp_12_224": dict(patch_size=16, num_blocks=12, embed_dim=384),
    "resmlp_24_224": dict(patch_size=16, num_blocks=24, embed_dim=384),
    "resmlp_36_224": dict(patch_size=16, num_blocks=36, embed_dim=384),
    "resmlp_big_24_224": dict(patch_size=8, num_blocks=24, embed_dim=768),
}
_RESMLP_ARGS = {"img_size", "patch_size", "num_blocks", "embed_dim", "mlp_ratio", "global_pool", "stem_norm"}


def build_resmlp(name: str, config: dict) -> nnx.Module:
  """timm's MlpMixer with ResBlock / Affine: patch conv, token-mixing Linear and channel MLP
  (exact GELU, mlp_ratio 4) with layer scales, final Affine, mean pooling."""
  arguments = _arguments(name, config, _RESMLP_ARGS)
  arguments = {**RESMLP_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"stem_norm": False})
  return ResMlp(ResMlpConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments["patch_size"],
      num_channels=arguments["in_chans"], hidden_size=arguments["embed_dim"], num_blocks=arguments["num_blocks"],
      mlp_ratio=arguments.get("mlp_ratio", 4.0), num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


RESMLP_RENAMES = ((r"^stem\.proj\.", "stem."),)


# --- LeViT (timm's levit.py; the ``levit_conv_*`` models hold the same weights as 1×1 convs) ----------

_LEVIT_CONFIGS = {  # timm's model_cfgs
    "128s": dict(embed_dim=(128, 256, 384), key_dim=16, num_heads=(4, 6, 8), depth=(2, 3, 4)),
    "128": dict(embed_dim=(128, 256, 384), key_dim=16, num_heads=(4, 8, 12), depth=(4, 4, 4)),
    "192": dict(embed_dim=(192, 288, 384), key_dim=32, num_heads=(3, 5, 6), depth=(4, 4, 4)),
    "256": dict(embed_dim=(256, 384, 512), key_dim=32, num_heads=(4, 6, 8), depth=(4, 4, 4)),
    "384": dict(embed_dim=(384, 512, 768), key_dim=32, num_heads=(6, 9, 12), depth=(4, 4, 4)),
}
LEVIT_VARIANTS: dict[str, dict] = {f"levit{conv}_{size}": dict(cfg, use_conv=bool(conv))
                                   for size, cfg in _LEVIT_CONFIGS.items() for conv in ("", "_conv")}
_LEVIT_ARGS = {"img_size", "embed_dim", "key_dim", "num_heads", "depth", "attn_ratio", "mlp_ratio", "use_conv",
               "global_pool", "stem_type", "down_op", "act_layer", "attn_act_layer", "distilled"}


def _per_stage(value, stages: int) -> tuple:
  return tuple(value) if isinstance(value, (list, tuple)) else (value,) * stages


def build_levit(name: str, config: dict) -> nnx.Module:
  """timm's LevitDistilled (the pretrained LeViTs: mean of the two heads at inference), linear or
  conv layout, stride-16 stem, subsampling attention between stages, hard-swish."""
  arguments = _arguments(name, config, _LEVIT_ARGS)
  arguments = {**LEVIT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"stem_type": "s16", "down_op": "subsample", "act_layer": "hard_swish",
                                 "attn_act_layer": None, "distilled": True})
  stages = len(arguments["embed_dim"])
  return Levit(LevitConfig(
      image_size=_square(name, arguments.get("img_size", 224)), num_channels=arguments["in_chans"],
      embed_dims=tuple(arguments["embed_dim"]), key_dim=arguments["key_dim"],
      num_heads=_per_stage(arguments["num_heads"], stages), depths=tuple(arguments["depth"]),
      attn_ratio=arguments.get("attn_ratio", 2.0), mlp_ratio=arguments.get("mlp_ratio", 2.0),
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


LEVIT_RENAMES = (
    (r"^stem\.conv(\d)\.", lambda m: f"stem.{int(m[1]) - 1}."),
    (r"^stages\.(\d+)\.downsample\.attn_downsample\.", lambda m: f"downsamples.{int(m[1]) - 1}.attn."),
    (r"^stages\.(\d+)\.downsample\.mlp\.", lambda m: f"downsamples.{int(m[1]) - 1}.mlp."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"\.(proj|q)\.ln\.", r".\1."),
)


ENTRIES: dict[str, dict] = {
    _names(XCIT_VARIANTS): dict(build=build_xcit, renames=XCIT_RENAMES),
    _names(RESMLP_VARIANTS): dict(build=build_resmlp, renames=RESMLP_RENAMES),
    _names(LEVIT_VARIANTS): dict(build=build_levit, renames=LEVIT_RENAMES),
}
