"""timm families as data: CoaT-Lite (timm's coat.py without parallel blocks: zoo.architectures.coat).

The variants table (``COAT_LITE_VARIANTS``) holds each name's keyword arguments as timm 1.0.31's
model function passes them to ``CoaT``; a checkpoint's ``model_args`` (its config.json) override
them. CoaT with parallel blocks (coat_tiny / mini / small) is not matched. ``ENTRIES`` maps a regex
that fully matches the architecture names to ``dict(build=..., renames=..., ignore=...)``;
zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.coat import CoaT, CoatConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names

# timm's model_args per entry point (all patch_size 4); the class defaults: num_heads 8, mlp_ratios
# (4, 4, 4, 4), qkv_bias True, crpe_window {3: 2, 5: 3, 7: 3}. img_size only sizes timm's PatchEmbed
# bookkeeping (no position embedding): the nnx module runs at any size.
COAT_LITE_VARIANTS: dict[str, dict] = {
    "coat_lite_tiny": dict(embed_dims=(64, 128, 256, 320), serial_depths=(2, 2, 2, 2), mlp_ratios=(8, 8, 4, 4)),
    "coat_lite_mini": dict(embed_dims=(64, 128, 320, 512), serial_depths=(2, 2, 2, 2), mlp_ratios=(8, 8, 4, 4)),
    "coat_lite_small": dict(embed_dims=(64, 128, 320, 512), serial_depths=(3, 4, 6, 3), mlp_ratios=(8, 8, 4, 4)),
    "coat_lite_medium": dict(embed_dims=(128, 256, 320, 512), serial_depths=(3, 6, 10, 8)),
    "coat_lite_medium_384": dict(embed_dims=(128, 256, 320, 512), serial_depths=(3, 6, 10, 8)),
}
_COAT_ARGS = {"img_size", "patch_size", "embed_dims", "serial_depths", "parallel_depth", "num_heads", "mlp_ratios",
              "qkv_bias", "crpe_window", "norm_layer", "global_pool"}


def _crpe_window(name: str, window, num_heads: int) -> tuple[tuple[int, int], ...]:
  """timm's crpe_window (an int: one window for all heads; a dict window → heads, JSON keys strings)."""
  if window is None:
    return CoatConfig.crpe_window
  if isinstance(window, int):
    return ((window, num_heads),)
  if isinstance(window, dict):
    return tuple((int(size), int(heads)) for size, heads in window.items())
  raise ConversionError(f"timm model {name!r}: crpe_window {window!r} must be an int or a dict window → heads.")


def build_coat_lite(name: str, config: dict) -> nnx.Module:
  """timm's CoaT of entry point ``name`` with serial blocks only; ``model_args`` may override the
  per-stage tables, num_heads, qkv_bias and crpe_window; parallel blocks raise a ConversionError."""
  arguments = _arguments(name, config, _COAT_ARGS)
  _check_pool(name, arguments["global_pool"], {"token"})
  if arguments.get("norm_layer") is not None:
    raise ConversionError(f"timm model {name!r}: norm_layer {arguments['norm_layer']!r} is not supported.")
  if arguments.get("parallel_depth"):
    raise ConversionError(f"timm model {name!r}: parallel_depth {arguments['parallel_depth']} (CoaT's parallel "
                          "blocks) is not supported; only CoaT-Lite (serial blocks) is.")
  arguments = {**COAT_LITE_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  num_heads = int(arguments.get("num_heads", 8))
  window = _crpe_window(name, arguments.get("crpe_window"), num_heads)
  try:
    coat_config = CoatConfig(
        patch_size=int(arguments.get("patch_size", 4)), embed_dims=tuple(arguments["embed_dims"]),
        serial_depths=tuple(arguments["serial_depths"]),
        mlp_ratios=tuple(float(r) for r in arguments.get("mlp_ratios", (4, 4, 4, 4))), num_heads=num_heads,
        qkv_bias=bool(arguments.get("qkv_bias", True)), crpe_window=window,
        num_channels=arguments["in_chans"], num_classes=arguments["num_classes"])
  except ValueError as error:
    raise ConversionError(f"timm model {name!r}: {error}") from error
  return CoaT(coat_config, rngs=nnx.Rngs(0))


def _stage_renames() -> tuple[tuple[str, str], ...]:
  """timm's per-stage names (patch_embed1, cls_token1, cpe1, crpe1, serial_blocks1, …) → stages.<i-1>."""
  renames = []
  for stage in range(1, 5):
    renames += [(rf"^patch_embed{stage}\.", f"stages.{stage - 1}.patch_embed."),
                (rf"^cls_token{stage}$", f"stages.{stage - 1}.cls_token"),
                (rf"^cpe{stage}\.", f"stages.{stage - 1}.cpe."),
                (rf"^crpe{stage}\.conv_list\.", f"stages.{stage - 1}.crpe.convs."),
                (rf"^serial_blocks{stage}\.", f"stages.{stage - 1}.blocks.")]
  return tuple(renames)


# The stage's shared cpe / crpe are registered in every block too (the same tensors under the block's name).
COAT_IGNORE = (r"^serial_blocks\d\.\d+\.(cpe|factoratt_crpe\.crpe)\.",)

ENTRIES: dict[str, dict] = {
    _names(COAT_LITE_VARIANTS): dict(build=build_coat_lite, renames=_stage_renames(), ignore=COAT_IGNORE),
}
