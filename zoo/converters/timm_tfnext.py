"""timm families as data: Next-ViT (zoo.architectures.nextvit).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class (``timm/models/nextvit.py``: the
``nextvit_*`` functions' ``model_args``); a checkpoint's ``model_args`` (its config.json) override
them. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.nextvit import NextVit, NextVitConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names
from zoo.converters.timm_more import _check_fixed


# --- Next-ViT (timm's nextvit.py) ----------------------------------------------------------------

# timm's model_args per entry point (drop_path_rate only trains); the rest are NextViT's defaults.
NEXTVIT_VARIANTS: dict[str, dict] = {
    "nextvit_small": dict(depths=(3, 4, 10, 3)),
    "nextvit_base": dict(depths=(3, 4, 20, 3)),
    "nextvit_large": dict(depths=(3, 4, 30, 3)),
}
_NEXTVIT_ARGS = {"depths", "stem_chs", "strides", "sr_ratios", "head_dim", "mix_block_ratio", "attn_drop_rate",
                 "norm_layer", "act_layer", "global_pool"}


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


ENTRIES: dict[str, dict] = {
    _names(NEXTVIT_VARIANTS): dict(build=build_nextvit, renames=NEXTVIT_RENAMES),
}
