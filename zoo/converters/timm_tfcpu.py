"""timm's CPUBone (zoo.architectures.cpubone) and LowFormer (zoo.architectures.lowformer) as data.

``CPUBONE_VARIANTS`` / ``LOWFORMER_VARIANTS``: each architecture's keyword arguments as timm 1.0.31's model function passes
them to ``CPUBone`` / ``LowFormer`` (``timm/models/cpubone.py``, ``lowformer.py``); a checkpoint's ``model_args`` (its config.json)
override them. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.cpubone import LOCAL_MBCONV_NORMS, CpuBone, CpuBoneConfig
from zoo.architectures.lowformer import LowFormer, LowFormerConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names

# Every released CPUBone uses the fastit / grouping=2 / smallk_only_lasts / lose_transpose
# combination (timm's comment above cpubone_nano); the nnx module builds only the flags in _FIXED.
_RELEASED = dict(fused_conv=True, fused_downsample=True, attn_mlp_ratio=4, expand_groups=2, small_kernels=True,
                 attn_upsample="nearest")
_B1 = dict(width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 5, 5), downsample_expand_ratios=(6, 6, 6, 6))
_B2_HEAD = dict(depth_list=(0, 1, 1, 6, 6), head_widths=(2304, 2560), downsample_expand_ratios=(6, 6, 6, 6))
CPUBONE_VARIANTS: dict[str, dict] = {name: dict(_RELEASED, **args) for name, args in {
    "cpubone_nano": dict(width_list=(12, 24, 48, 96, 192), depth_list=(0, 1, 1, 1, 2)),
    "cpubone_t0": dict(width_list=(12, 24, 48, 96, 192), depth_list=(0, 1, 1, 2, 3)),
    "cpubone_s0": dict(width_list=(14, 28, 56, 112, 224), depth_list=(0, 1, 1, 2, 3)),
    "cpubone_b0_bfrobust": dict(width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 3, 4),
                                local_mbconv_norm="all"),
    "cpubone_b1_bfrobust": dict(_B1, local_mbconv_norm="all"),
    "cpubone_b1_dwnorm": dict(_B1, local_mbconv_norm="depth_proj"),
    "cpubone_b2_bfrobust": dict(_B2_HEAD, width_list=(20, 40, 80, 160, 320), local_mbconv_norm="all"),
    "cpubone_b2pt5_dwnorm": dict(_B2_HEAD, width_list=(24, 48, 96, 192, 384), local_mbconv_norm="depth_proj"),
    "cpubone_b3": dict(width_list=(32, 64, 128, 256, 512), depth_list=(1, 2, 3, 6, 6), stem_expand_ratio=4,
                       downsample_expand_ratios=(6, 6, 6, 6)),
}.items()}
_CPUBONE_ARGS = {"width_list", "depth_list", "head_widths", "expand_ratio", "stem_expand_ratio",
                 "downsample_expand_ratios", "local_mbconv_norm", "norm_layer", "act_layer", "proj_drop_rate",
                 "global_pool", *_RELEASED}
# The arguments the nnx module models only at these values (norm / act: CPUBone's defaults).
_FIXED = {"fused_conv": True, "fused_downsample": True, "small_kernels": True, "attn_upsample": "nearest",
          "norm_layer": "batchnorm2d", "act_layer": "hardswish"}


def _check_fixed(name: str, arguments: dict) -> None:
  """The released configuration's ``_FIXED`` flags only: else a ConversionError."""
  for key, value in _FIXED.items():
    if str(arguments.get(key, value)).lower() != str(value).lower():
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  if arguments.get("local_mbconv_norm", "proj") not in LOCAL_MBCONV_NORMS:
    raise ConversionError(f"timm model {name!r}: local_mbconv_norm={arguments['local_mbconv_norm']!r} is not one of "
                          f"{sorted(LOCAL_MBCONV_NORMS)}.")


def _stage_lists(name: str, arguments: dict) -> tuple:
  """(width_list, depth_list, expand_ratio, downsample_expand_ratios) of a CPUBone / LowFormer
  model: 5 widths and depths (stem + 4 stages), 4 downsample ratios (default: expand_ratio each)."""
  widths, depths = tuple(arguments["width_list"]), tuple(arguments["depth_list"])
  expand_ratio = arguments.get("expand_ratio", 4.0)
  downsample = tuple(arguments.get("downsample_expand_ratios") or (expand_ratio,) * (len(widths) - 1))
  if len(widths) != 5 or len(depths) != 5 or len(downsample) != 4:
    raise ConversionError(f"timm model {name!r}: width_list and depth_list need 5 values (stem + 4 stages) and "
                          f"downsample_expand_ratios 4 (got {widths}, {depths}, {downsample}).")
  return widths, depths, expand_ratio, downsample


def build_cpubone(name: str, config: dict) -> nnx.Module:
  """timm's CPUBone (resolution-free: any input size); ``proj_drop_rate`` only changes training."""
  arguments = _arguments(name, config, _CPUBONE_ARGS)
  arguments = {**CPUBONE_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments)
  widths, depths, expand_ratio, downsample = _stage_lists(name, arguments)
  return CpuBone(CpuBoneConfig(
      width_list=widths, depth_list=depths, head_widths=tuple(arguments.get("head_widths", (1536, 1600))),
      expand_ratio=expand_ratio, stem_expand_ratio=arguments.get("stem_expand_ratio", 2.0),
      downsample_expand_ratios=downsample, attn_mlp_ratio=arguments["attn_mlp_ratio"],
      expand_groups=arguments["expand_groups"], local_mbconv_norm=arguments.get("local_mbconv_norm", "proj"),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


CPUBONE_RENAMES = (
    (r"\.conv\.1\.", ".conv."),  # a 2×2 stride-1 conv's nn.Sequential(ZeroPad2d, Conv2d)
    (r"^head\.pre_classifier\.linear\.", "head.pre_classifier."),
    (r"^head\.pre_classifier\.norm\.", "head.pre_norm."),
    (r"^head\.classifier\.linear\.", "head.classifier."),
)


# --- LowFormer (timm's lowformer.py) --------------------------------------------------------------

_LOWFORMER_6666 = dict(downsample_expand_ratios=(6, 6, 6, 6))
LOWFORMER_VARIANTS: dict[str, dict] = {
    "lowformer_b0": dict(width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 3, 4)),
    "lowformer_b1": dict(_LOWFORMER_6666, width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 5, 5)),
    "lowformer_b15": dict(_LOWFORMER_6666, width_list=(20, 40, 80, 160, 320), depth_list=(0, 1, 1, 6, 6),
                          head_widths=(2304, 2560)),
    "lowformer_b2": dict(_LOWFORMER_6666, width_list=(24, 48, 96, 192, 384), depth_list=(0, 1, 1, 6, 6),
                         head_widths=(2304, 2560)),
    "lowformer_b3": dict(_LOWFORMER_6666, width_list=(32, 64, 128, 256, 512), depth_list=(1, 2, 3, 6, 6),
                         stem_expand_ratio=4),
    "lowformer_e1": dict(_LOWFORMER_6666, width_list=(20, 40, 80, 160, 320), depth_list=(0, 1, 1, 4, 4),
                         head_widths=(2304, 2560), attn=False, attn_mlp=False),
    "lowformer_e2": dict(_LOWFORMER_6666, width_list=(32, 64, 128, 256, 512), depth_list=(1, 2, 3, 4, 4),
                         attn=False, attn_mlp=False, stem_expand_ratio=4),
    "lowformer_e3": dict(_LOWFORMER_6666, width_list=(32, 64, 128, 256, 512), depth_list=(1, 2, 3, 6, 6),
                         attn_mlp=False, stem_expand_ratio=4),
}
_LOWFORMER_ARGS = {"width_list", "depth_list", "head_widths", "expand_ratio", "stem_expand_ratio",
                   "downsample_expand_ratios", "attn", "attn_mlp", "attn_mlp_ratio", "fused_conv", "expand_groups",
                   "norm_layer", "act_layer", "proj_drop_rate", "global_pool"}
# LowFormer's defaults for the arguments the nnx module models only at these values.
_LOWFORMER_FIXED = {"fused_conv": True, "expand_groups": 1, "norm_layer": "batchnorm2d", "act_layer": "hardswish"}


def build_lowformer(name: str, config: dict) -> nnx.Module:
  """timm's LowFormer (resolution-free: any input size); ``proj_drop_rate`` only changes training."""
  arguments = _arguments(name, config, _LOWFORMER_ARGS)
  arguments = {**LOWFORMER_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  for key, value in _LOWFORMER_FIXED.items():
    if str(arguments.get(key, value)).lower() != str(value).lower():
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  widths, depths, expand_ratio, downsample = _stage_lists(name, arguments)
  return LowFormer(LowFormerConfig(
      width_list=widths, depth_list=depths, head_widths=tuple(arguments.get("head_widths", (1536, 1600))),
      expand_ratio=expand_ratio, stem_expand_ratio=arguments.get("stem_expand_ratio", 2.0),
      downsample_expand_ratios=downsample, attn=bool(arguments.get("attn", True)),
      attn_mlp=bool(arguments.get("attn_mlp", True)), attn_mlp_ratio=arguments.get("attn_mlp_ratio", 4),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


LOWFORMER_RENAMES = (  # LowFormer's head sits at the top level; the nnx module reuses CPUBone's ClsHead
    (r"^in_conv\.", "head.in_conv."),
    (r"^pre_classifier\.0\.", "head.pre_classifier."),
    (r"^pre_classifier\.1\.", "head.pre_norm."),
    (r"^classifier\.", "head.classifier."),
)


ENTRIES: dict[str, dict] = {
    _names(CPUBONE_VARIANTS): dict(build=build_cpubone, renames=CPUBONE_RENAMES),
    _names(LOWFORMER_VARIANTS): dict(build=build_lowformer, renames=LOWFORMER_RENAMES),
}
