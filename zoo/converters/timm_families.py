"""timm architectures served by EfficientNet's builder (EfficientNet, ``tf_`` EfficientNet,
MobileNetV2), DLA and MLP-Mixer (ViT / DeiT: zoo.converters.timm_vits): how a timm
architecture name (and the checkpoint's ``config.json``: ``num_classes``, ``model_args``)
becomes an nnx module, and the regex renames from timm's tensor names.

``ENTRIES`` maps a regex that fully matches timm architecture names to
``dict(build=..., renames=..., ignore=...)``; zoo.converters.timm wraps each in a
``TimmFamily``. This module does not import zoo.converters.timm (no import cycle).
"""

from __future__ import annotations

import dataclasses
import re

from flax import nnx

from zoo.architectures.dla import DLA, DLAConfig
from zoo.architectures.efficientnet import MBConvNet, timm_efficientnet_config
from zoo.architectures.mixer import MixerConfig, MlpMixer
from zoo.architectures.mobilenet import timm_mobilenet_v2_config
from zoo.converters.mapping import ConversionError

# Training-only arguments: no effect on the inference forward pass.
_TRAINING_ONLY = frozenset({"drop_rate", "drop_path_rate", "drop_connect_rate", "attn_drop_rate", "proj_drop_rate",
                            "pos_drop_rate", "patch_drop_rate", "drop_block_rate"})


def _arguments(name: str, config: dict, supported: set[str]) -> dict:
  """``model_args`` of the config.json (timm's create_model kwargs) plus ``num_classes``;
  a ConversionError for arguments this converter does not model."""
  arguments = {k: v for k, v in (config.get("model_args") or {}).items() if k not in _TRAINING_ONLY}
  unknown = sorted(set(arguments) - supported - {"num_classes", "in_chans"})
  if unknown:
    raise ConversionError(f"timm model {name!r}: model_args {unknown} are not supported by this converter "
                          f"(supported: {sorted(supported | {'num_classes', 'in_chans'})}).")
  arguments.setdefault("num_classes", config.get("num_classes", 1000))
  arguments.setdefault("in_chans", 3)
  global_pool = arguments.pop("global_pool", config.get("global_pool"))
  arguments["global_pool"] = global_pool
  return arguments


def _check_pool(name: str, global_pool, expected: set):
  if global_pool not in expected | {None}:
    raise ConversionError(f"timm model {name!r}: global_pool {global_pool!r} is not supported (only {sorted(expected)}).")


def _names(table) -> str:
  """A regex that fully matches exactly the architecture names of a variants ``table``."""
  return "|".join(re.escape(name) for name in table)


def _square(name: str, size) -> int:
  """timm's ``img_size`` (an int or [height, width]) as one side; non-square is not supported."""
  height, width = (size, size) if isinstance(size, int) else size
  if height != width:
    raise ConversionError(f"timm model {name!r}: non-square img_size {size} is not supported.")
  return int(height)


# --- EfficientNet builder family -------------------------------------------------------------

# (channel multiplier, depth multiplier) of timm's efficientnet_* / tf_efficientnet_* entry points.
EFFICIENTNET_SCALES = {
    "b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4), "b4": (1.4, 1.8),
    "b5": (1.6, 2.2), "b6": (1.8, 2.6), "b7": (2.0, 3.1), "b8": (2.2, 3.6), "l2": (4.3, 5.3)}
# (channel multiplier, depth multiplier, fix_stem_head) of timm's mobilenetv2_* entry points.
MOBILENET_V2_SCALES = {
    "035": (0.35, 1.0, False), "050": (0.5, 1.0, False), "075": (0.75, 1.0, False), "100": (1.0, 1.0, False),
    "140": (1.4, 1.0, False), "110d": (1.1, 1.2, True), "120d": (1.2, 1.4, True)}
_MBCONV_ARGS = {"bn_eps", "pad_type", "global_pool"}


def _mbconv_options(name: str, config: dict, tf: bool) -> dict:
  arguments = _arguments(name, config, _MBCONV_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  pad_type = arguments.get("pad_type", "same" if tf else "")
  if pad_type not in ("", "same"):
    raise ConversionError(f"timm model {name!r}: pad_type {pad_type!r} is not supported ('' or 'same').")
  return dict(padding="SAME" if pad_type == "same" else "torch",
              batch_norm_eps=arguments.get("bn_eps", 1e-3 if tf else 1e-5),
              num_classes=arguments["num_classes"], num_channels=arguments["in_chans"])


def build_efficientnet(name: str, config: dict) -> nnx.Module:
  """``(tf_)efficientnet_{b0..b8,l2}``: timm's _gen_efficientnet with the variant's multipliers;
  ``tf_`` = TF "SAME" padding and BN epsilon 1e-3."""
  match = re.fullmatch(r"(tf_)?efficientnet_(b\d|l2)", name)
  width, depth = EFFICIENTNET_SCALES[match[2]]
  return MBConvNet(timm_efficientnet_config(width, depth, **_mbconv_options(name, config, bool(match[1]))),
                   rngs=nnx.Rngs(0))


def build_mobilenet_v2(name: str, config: dict) -> nnx.Module:
  """``mobilenetv2_{035,050,075,100,140,110d,120d}``: timm's _gen_mobilenet_v2."""
  width, depth, fix = MOBILENET_V2_SCALES[re.fullmatch(r"mobilenetv2_(\w+)", name)[1]]
  return MBConvNet(timm_mobilenet_v2_config(width, depth, fix_stem_head=fix, **_mbconv_options(name, config, False)),
                   rngs=nnx.Rngs(0))


# --- DLA -------------------------------------------------------------------------------------

_DLA_WIDE = (16, 32, 128, 256, 512, 1024)
_DLA_COMPACT = (16, 32, 64, 64, 128, 256)
# timm's dla* entry points: levels, channels, block, cardinality, base_width, shortcut_root.
DLA_VARIANTS = {
    "dla34": DLAConfig((1, 1, 1, 2, 2, 1), (16, 32, 64, 128, 256, 512), "basic"),
    "dla46_c": DLAConfig((1, 1, 1, 2, 2, 1), _DLA_COMPACT, "bottleneck"),
    "dla46x_c": DLAConfig((1, 1, 1, 2, 2, 1), _DLA_COMPACT, "bottleneck", 32, 4),
    "dla60x_c": DLAConfig((1, 1, 1, 2, 3, 1), _DLA_COMPACT, "bottleneck", 32, 4),
    "dla60": DLAConfig((1, 1, 1, 2, 3, 1), _DLA_WIDE, "bottleneck"),
    "dla60x": DLAConfig((1, 1, 1, 2, 3, 1), _DLA_WIDE, "bottleneck", 32, 4),
    "dla102": DLAConfig((1, 1, 1, 3, 4, 1), _DLA_WIDE, "bottleneck", shortcut_root=True),
    "dla102x": DLAConfig((1, 1, 1, 3, 4, 1), _DLA_WIDE, "bottleneck", 32, 4, shortcut_root=True),
    "dla102x2": DLAConfig((1, 1, 1, 3, 4, 1), _DLA_WIDE, "bottleneck", 64, 4, shortcut_root=True),
    "dla169": DLAConfig((1, 1, 2, 3, 5, 1), _DLA_WIDE, "bottleneck", shortcut_root=True),
}


def build_dla(name: str, config: dict) -> nnx.Module:
  """timm's ``dla*`` (not the Res2Net ones); ``model_args`` may override levels, channels,
  cardinality, base_width, shortcut_root."""
  arguments = _arguments(name, config, {"levels", "channels", "cardinality", "base_width", "shortcut_root",
                                        "global_pool"})
  _check_pool(name, arguments.pop("global_pool"), {"avg"})
  fields = {k: tuple(arguments[k]) if isinstance(arguments[k], list) else arguments[k]
            for k in ("levels", "channels", "cardinality", "base_width", "shortcut_root") if k in arguments}
  return DLA(dataclasses.replace(DLA_VARIANTS[name], **fields, num_classes=arguments["num_classes"],
                                 num_channels=arguments["in_chans"]), rngs=nnx.Rngs(0))


# --- MLP-Mixer -------------------------------------------------------------------------------

MIXER_SIZES = {"s": (512, 8), "b": (768, 12), "l": (1024, 24)}


def build_mixer(name: str, config: dict) -> nnx.Module:
  """``mixer_{s,b,l}{16,32}_224``: timm's MlpMixer (mlp_ratio (0.5, 4), exact GELU, ε 1e-6)."""
  match = re.fullmatch(r"mixer_([sbl])(\d+)_(\d+)", name)
  arguments = _arguments(name, config, {"img_size", "patch_size", "num_blocks", "embed_dim", "mlp_ratio",
                                        "global_pool"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  width, depth = MIXER_SIZES[match[1]]
  width = arguments.get("embed_dim", width)
  tokens_ratio, channels_ratio = arguments.get("mlp_ratio", (0.5, 4.0))
  return MlpMixer(MixerConfig(
      image_size=_square(name, arguments.get("img_size", int(match[3]))), patch_size=arguments.get("patch_size", int(match[2])),
      num_channels=arguments["in_chans"], hidden_size=width, num_blocks=arguments.get("num_blocks", depth),
      tokens_mlp_dim=int(tokens_ratio * width), channels_mlp_dim=int(channels_ratio * width), hidden_act="gelu",
      layer_norm_eps=1e-6, num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


def _dla_conv_level(match: re.Match) -> str:
  index = int(match[2])  # Sequential [conv, bn, relu] × n
  return f"level{match[1]}.{'convs' if index % 3 == 0 else 'bns'}.{index // 3}."


ENTRIES: dict[str, dict] = {
    r"(tf_)?efficientnet_(b\d|l2)": dict(build=build_efficientnet, renames=()),
    r"mobilenetv2_(035|050|075|100|140|110d|120d)": dict(build=build_mobilenet_v2, renames=()),
    "|".join(DLA_VARIANTS): dict(build=build_dla, renames=(
        (r"^base_layer\.0\.", "base_conv."), (r"^base_layer\.1\.", "base_bn."),
        (r"^level([01])\.(\d+)\.", _dla_conv_level),
        (r"\.project\.0\.", ".project_conv."), (r"\.project\.1\.", ".project_bn."))),
    r"mixer_(s|b|l)(16|32)_224": dict(build=build_mixer, renames=(
        (r"^stem\.proj\.", "stem."),
        (r"^blocks\.(\d+)\.mlp_tokens\.", r"blocks.\1.token_mlp."),
        (r"^blocks\.(\d+)\.mlp_channels\.", r"blocks.\1.channel_mlp."))),
}
