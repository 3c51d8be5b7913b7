"""timm families as data: DaViT (timm's davit.py: zoo.architectures.davit) and SwiftFormer (timm's
swiftformer.py: zoo.architectures.swiftformer).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class; a checkpoint's ``model_args`` (its
config.json) override them. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.davit import DaVit, DaVitConfig
from zoo.architectures.swiftformer import SwiftFormer, SwiftFormerConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names
from zoo.converters.timm_more import _check_fixed

# --- DaViT (timm's davit.py) -----------------------------------------------------------------------

# timm's model_args per entry point; the class defaults: window_size 7, mlp_ratio 4, qkv_bias True,
# attn_types (spatial, channel), ffn True, cpe_act False, down_kernel_size 2, channel_attn_v2 False.
# Only the entry points with pretrained ImageNet tags (the ones the parity check covers): davit_large /
# _huge / _giant have no weights in timm 1.0.31, davit_*_fl (Florence-2: window 12, 3×3 downsampling,
# ChannelAttentionV2) are no 1,000-class tags.
DAVIT_VARIANTS: dict[str, dict] = {
    "davit_tiny": dict(depths=(1, 1, 3, 1), embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24)),
    "davit_small": dict(depths=(1, 1, 9, 1), embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24)),
    "davit_base": dict(depths=(1, 1, 9, 1), embed_dims=(128, 256, 512, 1024), num_heads=(4, 8, 16, 32)),
}
_DAVIT_ARGS = {"depths", "embed_dims", "num_heads", "window_size", "mlp_ratio", "global_pool"}


def build_davit(name: str, config: dict) -> nnx.Module:
  """timm's DaVit of entry point ``name`` (resolution-free: no position embedding); ``model_args``
  may override the per-stage tables, window_size and mlp_ratio (other DaVit options raise)."""
  arguments = _arguments(name, config, _DAVIT_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  arguments = {**DAVIT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  try:
    return DaVit(DaVitConfig(
        depths=tuple(arguments["depths"]), embed_dims=tuple(arguments["embed_dims"]),
        num_heads=tuple(arguments["num_heads"]), window_size=int(arguments.get("window_size", 7)),
        mlp_ratio=float(arguments.get("mlp_ratio", 4.0)), num_channels=arguments["in_chans"],
        num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))
  except ValueError as error:
    raise ConversionError(f"timm model {name!r}: {error}") from None


DAVIT_RENAMES = ((r"^head\.norm\.", "head_norm."), (r"^head\.fc\.", "head."))


# --- SwiftFormer (timm's swiftformer.py) -----------------------------------------------------------

# timm's model_args per entry point; the class defaults: mlp_ratios 4, downsamples (False, True, True,
# True), 3×3/2 downsampling (padding 1), GELU, layer scale on.
SWIFTFORMER_VARIANTS: dict[str, dict] = {
    "swiftformer_xs": dict(layers=(3, 3, 6, 4), embed_dims=(48, 56, 112, 220)),
    "swiftformer_s": dict(layers=(3, 3, 9, 6), embed_dims=(48, 64, 168, 224)),
    "swiftformer_l1": dict(layers=(4, 3, 10, 5), embed_dims=(48, 96, 192, 384)),
    "swiftformer_l3": dict(layers=(4, 4, 12, 6), embed_dims=(64, 128, 320, 512)),
}
_SWIFTFORMER_ARGS = {"layers", "embed_dims", "mlp_ratios", "downsamples", "act_layer", "down_patch_size",
                     "down_stride", "down_pad", "use_layer_scale", "layer_scale_init_value", "output_stride",
                     "img_size", "global_pool"}


def build_swiftformer(name: str, config: dict) -> nnx.Module:
  """timm's SwiftFormer of entry point ``name`` (resolution-free: timm accepts and ignores img_size);
  ``model_args`` may override layers, embed_dims and mlp_ratios (layer_scale_init_value only
  initialises; other options at timm's defaults only)."""
  arguments = _arguments(name, config, _SWIFTFORMER_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_fixed(name, arguments, {"downsamples": None, "act_layer": None, "down_patch_size": 3, "down_stride": 2,
                                 "down_pad": 1, "use_layer_scale": True, "output_stride": 32})
  arguments = {**SWIFTFORMER_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  try:
    return SwiftFormer(SwiftFormerConfig(
        depths=tuple(arguments["layers"]), embed_dims=tuple(arguments["embed_dims"]),
        mlp_ratio=float(arguments.get("mlp_ratios", 4)), num_channels=arguments["in_chans"],
        num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))
  except ValueError as error:
    raise ConversionError(f"timm model {name!r}: {error}") from None


SWIFTFORMER_RENAMES = (
    (r"^stem\.0\.", "stem.conv1."), (r"^stem\.1\.", "stem.norm1."),
    (r"^stem\.3\.", "stem.conv2."), (r"^stem\.4\.", "stem.norm2."),
    (r"\.downsample\.proj\.", ".downsample.conv."),
)


ENTRIES: dict[str, dict] = {
    _names(DAVIT_VARIANTS): dict(build=build_davit, renames=DAVIT_RENAMES),
    _names(SWIFTFORMER_VARIANTS): dict(build=build_swiftformer, renames=SWIFTFORMER_RENAMES),
}
