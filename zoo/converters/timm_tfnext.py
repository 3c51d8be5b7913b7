"""timm families as data: Next-ViT (zoo.architectures.nextvit), EfficientFormer
(zoo.architectures.efficientformer), EfficientFormerV2 (zoo.architectures.efficientformer_v2).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class (``timm/models/nextvit.py`` /
``efficientformer.py`` / ``efficientformer_v2.py``: the model functions' ``model_args``); a
checkpoint's ``model_args`` (its config.json) override them. ``ENTRIES`` maps a regex that fully
matches the architecture names to ``dict(build=..., renames=...)``; zoo.converters.timm wraps each
in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.efficientformer import EfficientFormer, EfficientFormerConfig
from zoo.architectures.efficientformer_v2 import EfficientFormerV2, EfficientFormerV2Config
from zoo.architectures.nextvit import NextVit, NextVitConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square
from zoo.converters.timm_more import _check_fixed


# --- Next-ViT (timm's nextvit.py) ----------------------------------------------------------------

# timm's model_args per entry point (drop_path_rate only trains); the rest are NextViT's defaults.
NEXTVIT_VARIANTS: dict[str, dict] = {
    "nextvit_small": dict(depths=(3, 4, 10, 3)),
    "nextvit_base": dict(depths=(3, 4, 20, 3)),
    "nextvit_large": dict(depths=(3, 4, 30, 3)),
}
_NEXTVIT_ARGS = {"depths", "stem_chs", "strides", "sr_ratios", "head_dim", "mix_block_ratio", "norm_layer",
                 "act_layer", "global_pool"}


def build_nextvit(name: str, config: dict) -> nnx.Module:
  """timm's NextViT of entry point ``name``; ``model_args`` may override depths, stem widths, strides,
  sr ratios, head_dim and mix_block_ratio (batch norm and ReLU only)."""
  arguments = _arguments(name, config, _NEXTVIT_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_fixed(name, arguments, {"norm_layer": None, "act_layer": None})
  arguments = {**NEXTVIT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  depths = tuple(arguments["depths"])
  if len(depths) != 4 or depths[2] % 5:
    raise ConversionError(f"timm model {name!r}: depths {depths} are not supported (four stages, the third a "
                          "multiple of 5, as timm's fixed stage table).")
  defaults = NextVitConfig()
  return NextVit(NextVitConfig(
      depths=depths, stem_widths=tuple(arguments.get("stem_chs", defaults.stem_widths)),
      strides=tuple(arguments.get("strides", defaults.strides)),
      sr_ratios=tuple(arguments.get("sr_ratios", defaults.sr_ratios)),
      head_dim=arguments.get("head_dim", defaults.head_dim),
      mix_block_ratio=arguments.get("mix_block_ratio", defaults.mix_block_ratio),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


NEXTVIT_RENAMES = (
    (r"^stem\.(\d+)\.norm\.", r"stem.\1.bn."),  # the stem's ConvNormAct (zoo.architectures.resnet)
    (r"^head\.fc\.", "head."),
)


# --- EfficientFormer (timm's efficientformer.py) --------------------------------------------------

# timm's EfficientFormer_depth / EfficientFormer_width tables and each model function's num_vit.
EFFICIENTFORMER_VARIANTS: dict[str, dict] = {
    "efficientformer_l1": dict(depths=(3, 2, 6, 4), embed_dims=(48, 96, 224, 448), num_vit=1),
    "efficientformer_l3": dict(depths=(4, 4, 12, 6), embed_dims=(64, 128, 320, 512), num_vit=4),
    "efficientformer_l7": dict(depths=(6, 6, 18, 8), embed_dims=(96, 192, 384, 768), num_vit=8),
}
_EFFICIENTFORMER_ARGS = {"depths", "embed_dims", "num_vit", "mlp_ratios", "downsamples", "pool_size", "act_layer",
                         "norm_layer", "norm_layer_cl", "layer_scale_init_value", "img_size", "global_pool"}


def build_efficientformer(name: str, config: dict) -> nnx.Module:
  """timm's EfficientFormer of entry point ``name``; ``model_args`` may override depths, embed_dims, num_vit
  (≥ 1) and mlp_ratios (pool 3, GELU, BN / LayerNorm, downsampling in stages 2-4 and a 224 px input only;
  layer_scale_init_value only initialises)."""
  arguments = _arguments(name, config, _EFFICIENTFORMER_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_fixed(name, arguments, {"pool_size": 3, "act_layer": None, "norm_layer": None, "norm_layer_cl": None,
                                 "downsamples": None})
  # timm accepts and ignores img_size (the builder passes it for fixed-size models): the 7×7 bias grid is 224 px
  if arguments.get("img_size") is not None and _square(name, arguments["img_size"]) != 224:
    raise ConversionError(f"timm model {name!r}: img_size {arguments['img_size']} is not supported (224 only: "
                          "the attention biases are fixed on a 7×7 grid).")
  arguments = {**EFFICIENTFORMER_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  if len(arguments["depths"]) != 4 or int(arguments["num_vit"]) < 1:
    raise ConversionError(f"timm model {name!r}: depths {arguments['depths']} / num_vit {arguments['num_vit']} "
                          "are not supported (four stages, the 7×7 attention grid of the last one, num_vit ≥ 1).")
  return EfficientFormer(EfficientFormerConfig(
      depths=tuple(arguments["depths"]), widths=tuple(arguments["embed_dims"]), num_vit=int(arguments["num_vit"]),
      mlp_ratio=float(arguments.get("mlp_ratios", 4)), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


# --- EfficientFormerV2 (timm's efficientformer_v2.py) -----------------------------------------------

# timm's EfficientFormer_depth / _width / _expansion_ratios tables and each model function's num_vit.
EFFICIENTFORMER_V2_VARIANTS: dict[str, dict] = {
    "efficientformerv2_s0": dict(depths=(2, 2, 6, 4), embed_dims=(32, 48, 96, 176), num_vit=2,
                                 mlp_ratios=(4, 4, (4, 3, 3, 3, 4, 4), (4, 3, 3, 4))),
    "efficientformerv2_s1": dict(depths=(3, 3, 9, 6), embed_dims=(32, 48, 120, 224), num_vit=2,
                                 mlp_ratios=(4, 4, (4, 4, 3, 3, 3, 3, 4, 4, 4), (4, 4, 3, 3, 4, 4))),
    "efficientformerv2_s2": dict(depths=(4, 4, 12, 8), embed_dims=(32, 64, 144, 288), num_vit=4,
                                 mlp_ratios=(4, 4, (4, 4, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4), (4, 4, 3, 3, 3, 3, 4, 4))),
    "efficientformerv2_l": dict(depths=(5, 5, 15, 10), embed_dims=(40, 80, 192, 384), num_vit=6,
                                mlp_ratios=(4, 4, (4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4),
                                            (4, 4, 4, 3, 3, 3, 3, 4, 4, 4))),
}
_EFFICIENTFORMER_V2_ARGS = {"depths", "embed_dims", "num_vit", "mlp_ratios", "img_size", "downsamples", "norm_layer",
                            "norm_eps", "act_layer", "layer_scale_init_value", "distillation", "global_pool"}


def _block_ratios(name: str, ratios, depths) -> tuple[tuple[float, ...], ...]:
  """timm's to_ntuple twice: one ratio for the model, per stage, or per block → per block of every stage."""
  per_stage = ratios if isinstance(ratios, (list, tuple)) else [ratios] * len(depths)
  per_block = [tuple(r) if isinstance(r, (list, tuple)) else (r,) * d for r, d in zip(per_stage, depths)]
  if len(per_stage) != len(depths) or any(len(r) != d for r, d in zip(per_block, depths)):
    raise ConversionError(f"timm model {name!r}: mlp_ratios {ratios} do not fit depths {tuple(depths)}.")
  return tuple(tuple(float(x) for x in r) for r in per_block)


def build_efficientformer_v2(name: str, config: dict) -> nnx.Module:
  """timm's EfficientFormerV2 of entry point ``name``; ``model_args`` may override depths, embed_dims,
  num_vit, mlp_ratios and img_size (square; it fixes the attention bias grids); batch norm ε 1e-5, GELU,
  downsampling in stages 2-4, layer scales and the distillation head only (layer_scale_init_value only
  initialises)."""
  arguments = _arguments(name, config, _EFFICIENTFORMER_V2_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_fixed(name, arguments, {"downsamples": None, "norm_layer": "batchnorm2d", "norm_eps": 1e-5,
                                 "act_layer": "gelu", "distillation": True})
  if arguments.get("layer_scale_init_value", 1e-5) is None:
    raise ConversionError(f"timm model {name!r}: layer_scale_init_value=None (no layer scales) is not supported.")
  arguments = {**EFFICIENTFORMER_V2_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  depths = tuple(arguments["depths"])
  if len(depths) != 4:
    raise ConversionError(f"timm model {name!r}: depths {depths} are not supported (four stages).")
  return EfficientFormerV2(EfficientFormerV2Config(
      depths=depths, widths=tuple(arguments["embed_dims"]), num_vit=int(arguments["num_vit"]),
      mlp_ratios=_block_ratios(name, arguments["mlp_ratios"], depths),
      img_size=_square(name, arguments.get("img_size", 224)), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


ENTRIES: dict[str, dict] = {
    _names(NEXTVIT_VARIANTS): dict(build=build_nextvit, renames=NEXTVIT_RENAMES),
    # timm's module names are the nnx paths; attention_bias_idxs is a persistent index buffer (recomputed here)
    _names(EFFICIENTFORMER_VARIANTS): dict(build=build_efficientformer, renames=(),
                                           ignore=(r"attention_bias_idxs$",)),
    # timm's module names are the nnx paths (ConvNorm / ConvNormAct: conv, bn)
    _names(EFFICIENTFORMER_V2_VARIANTS): dict(build=build_efficientformer_v2, renames=()),
}
