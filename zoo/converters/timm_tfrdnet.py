"""timm's RDNet (zoo.architectures.rdnet) as data.

``RDNET_VARIANTS``: each architecture's keyword arguments as timm 1.0.31's model function passes
them to ``RDNet`` (``timm/models/rdnet.py``); a checkpoint's ``model_args`` (its config.json)
override them. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.rdnet import RdNet, RdNetConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names


def _rdnet_args(num_init_features: int, growth_rates: list[int], downsample_stages: tuple[int, ...]) -> dict:
  """timm's rdnet_* model_args: 3 blocks a stage, 'Block' in the first two stages, 'BlockESE' after."""
  stages = len(growth_rates)
  return dict(num_init_features=num_init_features, growth_rates=tuple(growth_rates), num_blocks_list=(3,) * stages,
              is_downsample_block=(None,) + tuple(i in downsample_stages for i in range(1, stages)),
              transition_compression_ratio=0.5, block_type=("Block",) * 2 + ("BlockESE",) * (stages - 2))


RDNET_VARIANTS: dict[str, dict] = {
    "rdnet_tiny": _rdnet_args(64, [64, 104] + [128] * 4 + [224], (1, 2, 6)),
    "rdnet_small": _rdnet_args(72, [64, 128] + [128] * 7 + [240] * 2, (1, 2, 9)),
    "rdnet_base": _rdnet_args(120, [96, 128] + [168] * 7 + [336] * 2, (1, 2, 9)),
    "rdnet_large": _rdnet_args(144, [128, 192] + [256] * 8 + [360] * 2, (1, 2, 10)),
}
_RDNET_ARGS = {"global_pool", "growth_rates", "num_blocks_list", "block_type", "is_downsample_block",
               "bottleneck_width_ratio", "transition_compression_ratio", "ls_init_value", "stem_type", "patch_size",
               "num_init_features", "head_init_scale", "head_norm_first", "conv_bias", "act_layer", "norm_layer",
               "norm_eps"}
# RDNet's defaults for the arguments the nnx module models only at these values.
_RDNET_FIXED = {"stem_type": "patch", "head_norm_first": False, "conv_bias": True, "act_layer": "gelu",
                "norm_layer": "layernorm2d"}
_BLOCK_TYPES = {"block": False, "blockese": True}  # timm's _get_block_type (lower-cased) → EffectiveSE or not


def build_rdnet(name: str, config: dict) -> nnx.Module:
  """timm's RDNet (resolution-free): patch stem, GELU, LayerNorm2d (ε ``norm_eps``, timm's 1e-6),
  pool → LayerNorm → Linear head; ``ls_init_value`` and ``head_init_scale`` only change the init
  (a layer scale of 0, i.e. none, is not modelled)."""
  arguments = _arguments(name, config, _RDNET_ARGS)
  arguments = {**RDNET_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  for key, value in _RDNET_FIXED.items():
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  if arguments.get("ls_init_value", 1e-6) <= 0:
    raise ConversionError(f"timm model {name!r}: ls_init_value <= 0 (no layer scale) is not supported.")
  block_types = [str(block).lower().strip() for block in arguments["block_type"]]
  if any(block not in _BLOCK_TYPES for block in block_types):
    raise ConversionError(f"timm model {name!r}: block_type {arguments['block_type']!r} has an unknown type "
                          f"(supported: 'Block', 'BlockESE').")
  try:
    model_config = RdNetConfig(
        growth_rates=tuple(arguments["growth_rates"]), num_blocks=tuple(arguments["num_blocks_list"]),
        effective_se=tuple(_BLOCK_TYPES[block] for block in block_types),
        downsample=tuple(bool(flag) for flag in arguments["is_downsample_block"]),
        bottleneck_width_ratio=arguments.get("bottleneck_width_ratio", 4.0),
        transition_compression_ratio=arguments.get("transition_compression_ratio", 0.5),
        patch_size=arguments.get("patch_size", 4), num_init_features=arguments.get("num_init_features", 64),
        norm_eps=arguments.get("norm_eps", 1e-6), num_channels=arguments["in_chans"],
        num_classes=arguments["num_classes"])
  except ValueError as error:
    raise ConversionError(f"timm model {name!r}: {error}") from None
  return RdNet(model_config, rngs=nnx.Rngs(0))


_DENSE_BLOCK_LAYERS = {"0": "conv_dw", "1": "norm", "2": "conv_pw1", "4": "conv_pw2", "5.fc": "se.fc"}
RDNET_RENAMES = (
    (r"^stem\.0\.", "stem."),
    (r"^stem\.1\.", "stem_norm."),
    (r"^dense_stages\.(\d+)\.0\.(weight|bias)$", r"stages.\1.transition_norm.\2"),  # LayerNorm: 1-d leaves
    (r"^dense_stages\.(\d+)\.1\.(weight|bias)$", r"stages.\1.transition.\2"),
    (r"^dense_stages\.(\d+)\.\d\.dense_block(\d+)\.", r"stages.\1.blocks.\2."),
    (r"\.layers\.layers\.(0|1|2|4|5\.fc)\.", lambda m: f".{_DENSE_BLOCK_LAYERS[m[1]]}."),
    (r"^head\.norm\.", "norm."),
    (r"^head\.fc\.", "head."),
)


ENTRIES: dict[str, dict] = {
    _names(RDNET_VARIANTS): dict(build=build_rdnet, renames=RDNET_RENAMES),
}
