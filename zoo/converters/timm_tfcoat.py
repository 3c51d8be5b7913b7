"""timm families as data: CoaT and CoaT-Lite (timm's coat.py: zoo.architectures.coat).

The variants table (``COAT_VARIANTS``) holds each name's keyword arguments as timm 1.0.31's
model function passes them to ``CoaT``; a checkpoint's ``model_args`` (its config.json) override
them. ``ENTRIES`` maps a regex
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
COAT_VARIANTS: dict[str, dict] = {
    "coat_tiny": dict(embed_dims=(152, 152, 152, 152), serial_depths=(2, 2, 2, 2), parallel_depth=6),
    "coat_mini": dict(embed_dims=(152, 216, 216, 216), serial_depths=(2, 2, 2, 2), parallel_depth=6),
    "coat_small": dict(embed_dims=(152, 320, 320, 320), serial_depths=(2, 2, 2, 2), parallel_depth=6),
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


def build_coat(name: str, config: dict) -> nnx.Module:
  """timm's CoaT of entry point ``name``; ``model_args`` may override the per-stage tables,
  parallel_depth, num_heads, qkv_bias and crpe_window."""
  arguments = _arguments(name, config, _COAT_ARGS)
  _check_pool(name, arguments["global_pool"], {"token"})
  if arguments.get("norm_layer") is not None:
    raise ConversionError(f"timm model {name!r}: norm_layer {arguments['norm_layer']!r} is not supported.")
  arguments = {**COAT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  num_heads = int(arguments.get("num_heads", 8))
  window = _crpe_window(name, arguments.get("crpe_window"), num_heads)
  try:
    coat_config = CoatConfig(
        patch_size=int(arguments.get("patch_size", 4)), embed_dims=tuple(arguments["embed_dims"]),
        serial_depths=tuple(arguments["serial_depths"]),
        mlp_ratios=tuple(float(r) for r in arguments.get("mlp_ratios", (4, 4, 4, 4))), num_heads=num_heads,
        qkv_bias=bool(arguments.get("qkv_bias", True)), crpe_window=window,
        parallel_depth=int(arguments.get("parallel_depth", 0)),
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
  for index, stage in enumerate((2, 3, 4)):  # ParallelBlock's per-stage norm1<s>, factoratt_crpe<s>, norm2<s>
    renames += [(rf"^(parallel_blocks\.\d+)\.norm1{stage}\.", rf"\1.norms1.{index}."),
                (rf"^(parallel_blocks\.\d+)\.factoratt_crpe{stage}\.", rf"\1.attns.{index}."),
                (rf"^(parallel_blocks\.\d+)\.norm2{stage}\.", rf"\1.norms2.{index}.")]
  return tuple(renames) + ((r"^(parallel_blocks\.\d+)\.mlp2\.", r"\1.mlp."),)


# Shared modules are registered under several names (the same tensors): the stage's cpe / crpe in every
# serial block, the crpe in every parallel block's attention, ParallelBlock's one MLP as mlp2, mlp3 and mlp4.
# A file keeps every name (torch's state_dict) or, written by safetensors' save_model, the first in sorted
# order (cpe1…, crpe1…, mlp2): the copies are skipped and the kept names map to the one nnx parameter.
COAT_IGNORE = (r"^serial_blocks\d\.\d+\.(cpe|factoratt_crpe\.crpe)\.",
               r"^parallel_blocks\.\d+\.factoratt_crpe\d\.crpe\.", r"^parallel_blocks\.\d+\.mlp[34]\.")

ENTRIES: dict[str, dict] = {
    _names(COAT_VARIANTS): dict(build=build_coat, renames=_stage_renames(), ignore=COAT_IGNORE),
}
