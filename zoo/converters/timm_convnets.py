"""timm's convolutional families ConvNeXt V1/V2 (timm/models/convnext.py), RegNet X/Y
(timm/models/regnet.py) and ResNetV2-BiT (timm/models/resnetv2.py) as data: a table of each family's entry points with the model
arguments timm 1.0.31 builds them with, the translation to the nnx module's config, and the
regex renames from timm's tensor names.

``ENTRIES`` maps a regex that fully matches timm architecture names to
``dict(build=..., renames=..., ignore=...)``; zoo.converters.timm wraps each in a
``TimmFamily``. This module does not import zoo.converters.timm (no import cycle).
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures import layers
from zoo.architectures.bit import BiT, BitConfig
from zoo.architectures.convnext import ConvNext, ConvNextConfig
from zoo.architectures.regnet import RegNet, RegNetConfig, design_space_widths
from zoo.converters.mapping import ConversionError

# Training-only arguments: no effect on the inference forward pass.
_TRAINING_ONLY = frozenset({"drop_rate", "drop_path_rate", "zero_init_last", "head_init_scale",
                            "pretrained_cfg_overlay"})


def _arguments(name: str, config: dict, defaults: dict, supported: set[str]) -> dict:
  """The entry point's ``defaults`` overlaid with the export's ``model_args``; a ConversionError
  for an argument the nnx family does not model, or a pooling other than the average."""
  given = {k: v for k, v in (config.get("model_args") or {}).items() if k not in _TRAINING_ONLY}
  unknown = sorted(set(given) - supported - {"num_classes", "in_chans", "global_pool"})
  if unknown:
    raise ConversionError(f"timm model {name!r}: model_args {unknown} are not supported by this converter "
                          f"(supported: {sorted(supported | {'num_classes', 'in_chans', 'global_pool'})}).")
  pool = given.pop("global_pool", config.get("global_pool") or "avg")
  if pool != "avg":
    raise ConversionError(f"timm model {name!r}: global_pool {pool!r} is not supported (only 'avg').")
  arguments = {**defaults, **given}
  arguments.setdefault("num_classes", config.get("num_classes", 1000))
  arguments.setdefault("in_chans", 3)
  return arguments


def _require(name: str, arguments: dict, allowed: dict) -> None:
  """A ConversionError when an argument has a value outside ``allowed[argument]``."""
  for key, values in allowed.items():
    if key in arguments and arguments[key] not in values:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported "
                            f"(supported: {', '.join(map(repr, values))}).")


# --- ConvNeXt V1 / V2 ------------------------------------------------------------------------

_V2 = dict(use_grn=True, ls_init_value=None)
_TIMM_SMALL = dict(conv_mlp=True)  # timm's own small variants (atto … nano): 1×1-conv MLP, same function
# timm/models/convnext.py entry points → their model_args (timm 1.0.31).
CONVNEXT_VARIANTS: dict[str, dict] = {
    "convnext_zepto_rms": dict(depths=(2, 2, 4, 2), dims=(32, 64, 128, 256), norm_layer="simplenorm", **_TIMM_SMALL),
    "convnext_zepto_rms_ols": dict(depths=(2, 2, 4, 2), dims=(32, 64, 128, 256), norm_layer="simplenorm",
                                   stem_type="overlap_act", **_TIMM_SMALL),
    "convnext_atto": dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), **_TIMM_SMALL),
    "convnext_atto_ols": dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), stem_type="overlap_tiered", **_TIMM_SMALL),
    "convnext_femto": dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), **_TIMM_SMALL),
    "convnext_femto_ols": dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), stem_type="overlap_tiered",
                               **_TIMM_SMALL),
    "convnext_pico": dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), **_TIMM_SMALL),
    "convnext_pico_ols": dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), stem_type="overlap_tiered",
                              **_TIMM_SMALL),
    "convnext_nano": dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), **_TIMM_SMALL),
    "convnext_nano_ols": dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), stem_type="overlap", **_TIMM_SMALL),
    "convnext_tiny_hnf": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), head_norm_first=True, **_TIMM_SMALL),
    "convnext_tiny": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    "convnext_small": dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    "convnext_base": dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    "convnext_large": dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
    "convnext_large_mlp": dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), head_hidden_size=1536),
    "convnext_xlarge": dict(depths=(3, 3, 27, 3), dims=(256, 512, 1024, 2048)),
    "convnext_xxlarge": dict(depths=(3, 4, 30, 3), dims=(384, 768, 1536, 3072), norm_eps=1e-5),
    "convnextv2_atto": dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), **_V2, **_TIMM_SMALL),
    "convnextv2_femto": dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), **_V2, **_TIMM_SMALL),
    "convnextv2_pico": dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), **_V2, **_TIMM_SMALL),
    "convnextv2_nano": dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), **_V2, **_TIMM_SMALL),
    "convnextv2_tiny": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), **_V2),
    "convnextv2_small": dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768), **_V2),
    "convnextv2_base": dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024), **_V2),
    "convnextv2_large": dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536), **_V2),
    "convnextv2_huge": dict(depths=(3, 3, 27, 3), dims=(352, 704, 1408, 2816), **_V2),
}
_CONVNEXT_ARGS = {"depths", "dims", "ls_init_value", "stem_type", "patch_size", "head_norm_first", "head_hidden_size",
                  "conv_mlp", "conv_bias", "use_grn", "act_layer", "norm_layer", "norm_eps", "kernel_sizes",
                  "output_stride"}
# timm activation names → zoo.architectures.layers.ACTIVATIONS names
_ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "silu": "silu", "swish": "silu", "relu": "relu"}
_NORMS = {None: "layernorm", "layernorm": "layernorm", "layernorm2d": "layernorm", "simplenorm": "simplenorm",
          "simplenorm2d": "simplenorm"}


def build_convnext(name: str, config: dict) -> nnx.Module:
  """timm's ``convnext_*`` / ``convnextv2_*``: the entry point's arguments (CONVNEXT_VARIANTS)
  overlaid with the export's ``model_args``. ``conv_mlp`` (1×1 convs instead of Linear, a
  channels-first norm) computes the same function: its 1×1 kernels load into the Linears."""
  arguments = _arguments(name, config, CONVNEXT_VARIANTS[name], _CONVNEXT_ARGS)
  _require(name, arguments, {"conv_bias": (True,), "output_stride": (32,), "kernel_sizes": (7, (7,) * 4, [7] * 4),
                             "act_layer": tuple(_ACTIVATIONS), "norm_layer": tuple(_NORMS),
                             "stem_type": ("patch", "overlap", "overlap_tiered", "overlap_act")})
  grn, layer_scale = arguments.get("use_grn", False), arguments.get("ls_init_value", 1e-6)
  if grn and layer_scale is not None:
    raise ConversionError(f"timm model {name!r}: use_grn with a layer scale (ls_init_value={layer_scale}) is not "
                          "supported (ConvNeXt V2 has none: ls_init_value=None).")
  norm_eps = arguments.get("norm_eps") or 1e-6  # timm's LayerNorm / SimpleNorm default
  return ConvNext(ConvNextConfig(
      hidden_sizes=tuple(arguments["dims"]), depths=tuple(arguments["depths"]),
      patch_size=arguments.get("patch_size", 4), num_channels=arguments["in_chans"],
      hidden_act=_ACTIVATIONS[arguments.get("act_layer", "gelu")], layer_norm_eps=norm_eps, norm_eps=norm_eps,
      layer_scale_init_value=1e-6 if layer_scale is not None else 0.0, global_response_norm=grn,
      norm=_NORMS[arguments.get("norm_layer")], stem=arguments.get("stem_type", "patch"),
      head_norm_first=bool(arguments.get("head_norm_first", False)),
      head_hidden_size=arguments.get("head_hidden_size") or 0, num_classes=arguments["num_classes"]),
      rngs=nnx.Rngs(0))


_CONVNEXT_RENAMES = (
    (r"^stages\.(\d+)\.downsample\.0\.", r"stages.\1.downsample_norm."),
    (r"^stages\.(\d+)\.downsample\.1\.", r"stages.\1.downsample_conv."),
    (r"\.conv_dw\.", ".dwconv."),
    (r"\.mlp\.fc1\.", ".pwconv1."), (r"\.mlp\.fc2\.", ".pwconv2."), (r"\.mlp\.grn\.", ".grn."),
    (r"\.gamma$", ".layer_scale"),
    (r"^(norm_pre|head\.norm)\.", "norm."),
    (r"^head\.pre_logits\.fc\.", "head_hidden."),
    (r"^head\.fc\.", "head."),
)
_CONVNEXT_PATCH = [n for n, a in CONVNEXT_VARIANTS.items() if a.get("stem_type", "patch") == "patch"]
_CONVNEXT_OVERLAP = [n for n in CONVNEXT_VARIANTS if n not in _CONVNEXT_PATCH]


# --- RegNet X / Y ----------------------------------------------------------------------------

# timm/models/regnet.py ``model_cfgs`` (timm 1.0.31): the design-space point of each entry point
# (w0, wa, wm, depth, group_size, se_ratio[, group_min_ratio: torchvision's rounding]).
_Y = dict(se_ratio=0.25)
REGNET_VARIANTS: dict[str, dict] = {
    "regnetx_002": dict(w0=24, wa=36.44, wm=2.49, group_size=8, depth=13),
    "regnetx_004": dict(w0=24, wa=24.48, wm=2.54, group_size=16, depth=22),
    "regnetx_004_tv": dict(w0=24, wa=24.48, wm=2.54, group_size=16, depth=22, group_min_ratio=0.9),
    "regnetx_006": dict(w0=48, wa=36.97, wm=2.24, group_size=24, depth=16),
    "regnetx_008": dict(w0=56, wa=35.73, wm=2.28, group_size=16, depth=16),
    "regnetx_016": dict(w0=80, wa=34.01, wm=2.25, group_size=24, depth=18),
    "regnetx_032": dict(w0=88, wa=26.31, wm=2.25, group_size=48, depth=25),
    "regnetx_040": dict(w0=96, wa=38.65, wm=2.43, group_size=40, depth=23),
    "regnetx_064": dict(w0=184, wa=60.83, wm=2.07, group_size=56, depth=17),
    "regnetx_080": dict(w0=80, wa=49.56, wm=2.88, group_size=120, depth=23),
    "regnetx_120": dict(w0=168, wa=73.36, wm=2.37, group_size=112, depth=19),
    "regnetx_160": dict(w0=216, wa=55.59, wm=2.1, group_size=128, depth=22),
    "regnetx_320": dict(w0=320, wa=69.86, wm=2.0, group_size=168, depth=23),
    "regnety_002": dict(w0=24, wa=36.44, wm=2.49, group_size=8, depth=13, **_Y),
    "regnety_004": dict(w0=48, wa=27.89, wm=2.09, group_size=8, depth=16, **_Y),
    "regnety_006": dict(w0=48, wa=32.54, wm=2.32, group_size=16, depth=15, **_Y),
    "regnety_008": dict(w0=56, wa=38.84, wm=2.4, group_size=16, depth=14, **_Y),
    "regnety_008_tv": dict(w0=56, wa=38.84, wm=2.4, group_size=16, depth=14, group_min_ratio=0.9, **_Y),
    "regnety_016": dict(w0=48, wa=20.71, wm=2.65, group_size=24, depth=27, **_Y),
    "regnety_032": dict(w0=80, wa=42.63, wm=2.66, group_size=24, depth=21, **_Y),
    "regnety_040": dict(w0=96, wa=31.41, wm=2.24, group_size=64, depth=22, **_Y),
    "regnety_064": dict(w0=112, wa=33.22, wm=2.27, group_size=72, depth=25, **_Y),
    "regnety_080": dict(w0=192, wa=76.82, wm=2.19, group_size=56, depth=17, **_Y),
    "regnety_080_tv": dict(w0=192, wa=76.82, wm=2.19, group_size=56, depth=17, group_min_ratio=0.9, **_Y),
    "regnety_120": dict(w0=168, wa=73.36, wm=2.37, group_size=112, depth=19, **_Y),
    "regnety_160": dict(w0=200, wa=106.23, wm=2.48, group_size=112, depth=18, **_Y),
    "regnety_320": dict(w0=232, wa=115.89, wm=2.53, group_size=232, depth=20, **_Y),
    "regnety_640": dict(w0=352, wa=147.48, wm=2.4, group_size=328, depth=20, **_Y),
    "regnety_1280": dict(w0=456, wa=160.83, wm=2.52, group_size=264, depth=27, **_Y),
    "regnety_2560": dict(w0=640, wa=230.83, wm=2.53, group_size=373, depth=27, **_Y),
}
_REGNET_ARGS = {"w0", "wa", "wm", "depth", "group_size", "se_ratio", "group_min_ratio", "bottle_ratio", "stem_width",
                "downsample", "linear_out", "preact", "num_features", "act_layer", "norm_layer", "output_stride"}


def build_regnet(name: str, config: dict) -> nnx.Module:
  """timm's ``regnetx_*`` / ``regnety_*``: the design-space point (REGNET_VARIANTS, overlaid with
  the export's ``model_args``) → stage widths, depths and group sizes → the nnx RegNet (Y =
  squeeze-excitation with round(in/4) units, as se_ratio 0.25 of the block input)."""
  arguments = _arguments(name, config, REGNET_VARIANTS[name], _REGNET_ARGS)
  _require(name, arguments, {"se_ratio": (0, 0.0, 0.25), "bottle_ratio": (1, 1.0), "downsample": ("conv1x1",),
                             "linear_out": (False,), "preact": (False,), "num_features": (0,), "act_layer": ("relu",),
                             "norm_layer": ("batchnorm",), "output_stride": (32,)})
  widths, depths, groups = design_space_widths(arguments["w0"], arguments["wa"], arguments["wm"], arguments["depth"],
                                               arguments["group_size"],
                                               group_min_ratio=arguments.get("group_min_ratio", 0.0))
  if len(widths) != 4:
    raise ConversionError(f"timm model {name!r}: the design-space point gives {len(widths)} stages (timm needs 4).")
  return RegNet(RegNetConfig(
      embedding_size=arguments.get("stem_width", 32), hidden_sizes=widths, depths=depths, groups_width=groups,
      layer_type="y" if arguments.get("se_ratio") else "x", num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


_REGNET_RENAMES = (
    (r"^s(\d+)\.b(\d+)\.", lambda m: f"stages.{int(m[1]) - 1}.{int(m[2]) - 1}."),
    (r"\.se\.fc1\.", ".se.reduce."), (r"\.se\.fc2\.", ".se.expand."),
    (r"\.downsample\.", ".shortcut."),
    (r"^head\.fc\.", "head."),
)


# --- ResNetV2 BiT ----------------------------------------------------------------------------

# timm/models/resnetv2.py ``resnetv2_{depth}x{width}_bit`` entry points: blocks per stage and
# width factor; _create_resnetv2_bit adds stem_type "fixed" (7×7/2 conv, zero pad 1, 3×3/2 max
# pool) and StdConv2d (ε 1e-8); ResNetV2's defaults: pre-activation bottlenecks (ratio 1/4),
# GroupNorm(32) + ReLU, channels (256, 512, 1024, 2048) and stem 64, both × width.
BIT_VARIANTS: dict[str, dict] = {
    "resnetv2_50x1_bit": dict(layers=(3, 4, 6, 3), width_factor=1),
    "resnetv2_50x3_bit": dict(layers=(3, 4, 6, 3), width_factor=3),
    "resnetv2_101x1_bit": dict(layers=(3, 4, 23, 3), width_factor=1),
    "resnetv2_101x3_bit": dict(layers=(3, 4, 23, 3), width_factor=3),
    "resnetv2_152x2_bit": dict(layers=(3, 8, 36, 3), width_factor=2),
    "resnetv2_152x4_bit": dict(layers=(3, 8, 36, 3), width_factor=4),
}
_BIT_ARGS = {"layers", "channels", "width_factor", "stem_chs", "stem_type", "avg_down", "preact", "basic",
             "bottle_ratio", "output_stride"}


def build_bit(name: str, config: dict) -> nnx.Module:
  """timm's ``resnetv2_*_bit``: the nnx BiT with symmetric (PyTorch) padding, the stem's fixed
  zero pad before an unpadded max pool, and the GroupNorm + ReLU before the mean."""
  arguments = _arguments(name, config, BIT_VARIANTS[name], _BIT_ARGS)
  _require(name, arguments, {"stem_type": ("fixed",), "avg_down": (False,), "preact": (True,), "basic": (False,),
                             "bottle_ratio": (0.25,), "output_stride": (32,)})
  width = arguments["width_factor"]
  return BiT(BitConfig(
      embedding_size=layers.make_divisible(arguments.get("stem_chs", 64) * width),
      hidden_sizes=tuple(arguments.get("channels", (256, 512, 1024, 2048))), depths=tuple(arguments["layers"]),
      layer_type="preactivation", global_padding=None, embedding_dynamic_padding=False, width_factor=width,
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


_BIT_RENAMES = (
    (r"^stem\.conv\.", "stem_conv."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"\.downsample\.conv\.", ".downsample_conv."),
    (r"(norm\d?)\.(weight|bias)$", r"\1.norm.\2"),
    (r"^head\.fc\.", "head."),
)


ENTRIES: dict[str, dict] = {
    "|".join(_CONVNEXT_PATCH): dict(build=build_convnext, renames=(
        (r"^stem\.0\.", "patch_embed."), (r"^stem\.1\.", "stem_norm."), *_CONVNEXT_RENAMES)),
    "|".join(_CONVNEXT_OVERLAP): dict(build=build_convnext, renames=(
        (r"^stem\.(\d+)\.", r"stem_layers.\1."), *_CONVNEXT_RENAMES)),
    "|".join(REGNET_VARIANTS): dict(build=build_regnet, renames=_REGNET_RENAMES),
    "|".join(BIT_VARIANTS): dict(build=build_bit, renames=_BIT_RENAMES),
}
