"""timm families as data: DaViT (timm's davit.py: zoo.architectures.davit).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class; a checkpoint's ``model_args`` (its
config.json) override them. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.davit import DaVit, DaVitConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names

# --- DaViT (timm's davit.py) -----------------------------------------------------------------------

# timm's model_args per entry point; the class defaults: window_size 7, mlp_ratio 4, qkv_bias True,
# attn_types (spatial, channel), ffn True, cpe_act False, down_kernel_size 2, channel_attn_v2 False.
# davit_*_fl (Florence-2: window 12, 3×3 downsampling, ChannelAttentionV2) are not ImageNet tags and
# not listed.
DAVIT_VARIANTS: dict[str, dict] = {
    "davit_tiny": dict(depths=(1, 1, 3, 1), embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24)),
    "davit_small": dict(depths=(1, 1, 9, 1), embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24)),
    "davit_base": dict(depths=(1, 1, 9, 1), embed_dims=(128, 256, 512, 1024), num_heads=(4, 8, 16, 32)),
    "davit_large": dict(depths=(1, 1, 9, 1), embed_dims=(192, 384, 768, 1536), num_heads=(6, 12, 24, 48)),
    "davit_huge": dict(depths=(1, 1, 9, 1), embed_dims=(256, 512, 1024, 2048), num_heads=(8, 16, 32, 64)),
    "davit_giant": dict(depths=(1, 1, 12, 3), embed_dims=(384, 768, 1536, 3072), num_heads=(12, 24, 48, 96)),
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


ENTRIES: dict[str, dict] = {
    _names(DAVIT_VARIANTS): dict(build=build_davit, renames=DAVIT_RENAMES),
}
