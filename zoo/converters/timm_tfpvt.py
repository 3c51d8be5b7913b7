"""timm families as data: PVT v2 (timm's pvt_v2.py: zoo.architectures.pvt_v2) and Twins (timm's
twins.py: zoo.architectures.twins).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class; a checkpoint's ``model_args`` (its
config.json) override them. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.pvt_v2 import PvtV2, PvtV2Config
from zoo.architectures.twins import Twins, TwinsConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names


def _per_stage(name: str, key: str, value, stages: int) -> tuple:
  """timm's to_ntuple: a scalar repeated per stage; a sequence must have one entry per stage."""
  values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * stages
  if len(values) != stages:
    raise ConversionError(f"timm model {name!r}: {key}={value!r} needs {stages} entries (one per stage).")
  return values


def _check_norm_layer(name: str, arguments: dict) -> None:
  if arguments.get("norm_layer") is not None:
    raise ConversionError(f"timm model {name!r}: norm_layer {arguments['norm_layer']!r} is not supported "
                          "(the model class's LayerNorm only).")


# --- PVT v2 (timm's pvt_v2.py) ---------------------------------------------------------------------

# timm's model_args per entry point; the class defaults: sr_ratios (8, 4, 2, 1), mlp_ratios (8, 8, 4, 4),
# qkv_bias True, linear False.
_PVT_WIDE = (64, 128, 320, 512)
PVT_V2_VARIANTS: dict[str, dict] = {
    "pvt_v2_b0": dict(depths=(2, 2, 2, 2), embed_dims=(32, 64, 160, 256), num_heads=(1, 2, 5, 8)),
    "pvt_v2_b1": dict(depths=(2, 2, 2, 2), embed_dims=_PVT_WIDE, num_heads=(1, 2, 5, 8)),
    "pvt_v2_b2": dict(depths=(3, 4, 6, 3), embed_dims=_PVT_WIDE, num_heads=(1, 2, 5, 8)),
    "pvt_v2_b3": dict(depths=(3, 4, 18, 3), embed_dims=_PVT_WIDE, num_heads=(1, 2, 5, 8)),
    "pvt_v2_b4": dict(depths=(3, 8, 27, 3), embed_dims=_PVT_WIDE, num_heads=(1, 2, 5, 8)),
    "pvt_v2_b5": dict(depths=(3, 6, 40, 3), embed_dims=_PVT_WIDE, num_heads=(1, 2, 5, 8), mlp_ratios=(4, 4, 4, 4)),
    "pvt_v2_b2_li": dict(depths=(3, 4, 6, 3), embed_dims=_PVT_WIDE, num_heads=(1, 2, 5, 8), linear=True),
}
_PVT_V2_ARGS = {"depths", "embed_dims", "num_heads", "sr_ratios", "mlp_ratios", "qkv_bias", "linear", "norm_layer",
                "global_pool"}


def build_pvt_v2(name: str, config: dict) -> nnx.Module:
  """timm's PyramidVisionTransformerV2 of entry point ``name`` (resolution-free: no position
  embedding); ``model_args`` may override the per-stage tables, qkv_bias and linear."""
  arguments = _arguments(name, config, _PVT_V2_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_norm_layer(name, arguments)
  arguments = {**PVT_V2_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  stages = len(arguments["depths"])
  per_stage = lambda key, default: _per_stage(name, key, arguments.get(key, default), stages)
  return PvtV2(PvtV2Config(
      depths=tuple(arguments["depths"]), embed_dims=per_stage("embed_dims", None),
      num_heads=per_stage("num_heads", None), sr_ratios=per_stage("sr_ratios", (8, 4, 2, 1)),
      mlp_ratios=tuple(float(r) for r in per_stage("mlp_ratios", (8.0, 8.0, 4.0, 4.0))),
      qkv_bias=bool(arguments.get("qkv_bias", True)), linear=bool(arguments.get("linear", False)),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


# --- Twins (timm's twins.py) -----------------------------------------------------------------------

# timm's model_args per entry point (all patch_size 4, sr_ratios (8, 4, 2, 1)); SVT adds wss (7, 7, 7, 7).
_PCPVT_DEPTHS = {"small": (3, 4, 6, 3), "base": (3, 4, 18, 3), "large": (3, 8, 27, 3)}
_SVT_SIZES = {"small": ((64, 128, 256, 512), (2, 4, 8, 16), (2, 2, 10, 4)),
              "base": ((96, 192, 384, 768), (3, 6, 12, 24), (2, 2, 18, 2)),
              "large": ((128, 256, 512, 1024), (4, 8, 16, 32), (2, 2, 18, 2))}
TWINS_VARIANTS: dict[str, dict] = {
    **{f"twins_pcpvt_{size}": dict(patch_size=4, embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8),
                                   mlp_ratios=(8, 8, 4, 4), depths=depths, sr_ratios=(8, 4, 2, 1))
       for size, depths in _PCPVT_DEPTHS.items()},
    **{f"twins_svt_{size}": dict(patch_size=4, embed_dims=dims, num_heads=heads, mlp_ratios=(4, 4, 4, 4),
                                 depths=depths, wss=(7, 7, 7, 7), sr_ratios=(8, 4, 2, 1))
       for size, (dims, heads, depths) in _SVT_SIZES.items()},
}
_TWINS_ARGS = {"img_size", "patch_size", "embed_dims", "num_heads", "mlp_ratios", "depths", "sr_ratios", "wss",
               "norm_layer", "global_pool"}


def build_twins(name: str, config: dict) -> nnx.Module:
  """timm's Twins of entry point ``name`` (``img_size`` only sizes timm's bookkeeping: the model has no
  position embedding and runs at any size); ``model_args`` may override the per-stage tables."""
  arguments = _arguments(name, config, _TWINS_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_norm_layer(name, arguments)
  arguments = {**TWINS_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  stages = len(arguments["depths"])
  per_stage = lambda key: _per_stage(name, key, arguments[key], stages)
  windows = arguments.get("wss")
  return Twins(TwinsConfig(
      patch_size=int(arguments["patch_size"]), embed_dims=per_stage("embed_dims"), num_heads=per_stage("num_heads"),
      mlp_ratios=tuple(float(r) for r in per_stage("mlp_ratios")), depths=tuple(arguments["depths"]),
      sr_ratios=per_stage("sr_ratios"), window_sizes=None if windows is None else per_stage("wss"),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


TWINS_RENAMES = ((r"^pos_block\.(\d+)\.proj\.0\.", r"pos_block.\1.proj."),)


ENTRIES: dict[str, dict] = {
    _names(PVT_V2_VARIANTS): dict(build=build_pvt_v2, renames=()),
    _names(TWINS_VARIANTS): dict(build=build_twins, renames=TWINS_RENAMES),
}
