"""timm's non-BiT pre-activation ResNets (timm/models/resnetv2.py ``resnetv2_18/34/50/101`` and
``resnetv2_18d/34d/50d/101d``: BatchNormAct2d + plain ``create_conv2d``), Res2Nets
(timm/models/res2net.py: timm's ResNet with ``Bottle2neck`` blocks) and ResNeSts
(timm/models/resnest.py: ``ResNestBottleneck``) as data: each entry point's model_args (timm
1.0.31), the key renames onto :class:`zoo.architectures.resnetv2.ResNetV2` /
:class:`zoo.architectures.resnet.ResNet`, and the ``ENTRIES`` that :mod:`zoo.converters.timm` registers.

(ResNet-v1 variants with options — ECA, anti-aliasing, ResNet-RS — extend the ResNet family in
:mod:`zoo.converters.timm` itself.)
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.resnetv2 import ResNetV2, ResNetV2Config
from zoo.converters.timm_convnets import _arguments, _require

_BASIC = dict(channels=(64, 128, 256, 512), basic=True, bottle_ratio=1.0)
_D = dict(stem_type="deep", avg_down=True)
# timm/models/resnetv2.py entry points (conv_layer=create_conv2d, norm_layer=BatchNormAct2d in all).
RESNETV2_VARIANTS: dict[str, dict] = {
    "resnetv2_18": dict(layers=(2, 2, 2, 2), **_BASIC),
    "resnetv2_18d": dict(layers=(2, 2, 2, 2), **_BASIC, **_D),
    "resnetv2_34": dict(layers=(3, 4, 6, 3), **_BASIC),
    "resnetv2_34d": dict(layers=(3, 4, 6, 3), **_BASIC, **_D),
    "resnetv2_50": dict(layers=(3, 4, 6, 3)),
    "resnetv2_50d": dict(layers=(3, 4, 6, 3), **_D),
    "resnetv2_50t": dict(layers=(3, 4, 6, 3), stem_type="tiered", avg_down=True),
    "resnetv2_101": dict(layers=(3, 4, 23, 3)),
    "resnetv2_101d": dict(layers=(3, 4, 23, 3), **_D),
    "resnetv2_152": dict(layers=(3, 8, 36, 3)),
    "resnetv2_152d": dict(layers=(3, 8, 36, 3), **_D),
}
_RESNETV2_ARGS = {"layers", "channels", "basic", "bottle_ratio", "stem_chs", "stem_type", "avg_down", "preact",
                  "width_factor", "output_stride"}


def build_resnetv2(name: str, config: dict) -> nnx.Module:
  """timm's ``resnetv2_{depth}[d|t]`` (BatchNorm, plain convs): the nnx pre-activation ResNetV2."""
  arguments = _arguments(name, config, RESNETV2_VARIANTS[name], _RESNETV2_ARGS)
  _require(name, arguments, {"stem_type": ("", "deep", "tiered"), "preact": (True,), "width_factor": (1,),
                             "output_stride": (32,)})
  return ResNetV2(ResNetV2Config(
      depths=tuple(arguments["layers"]), hidden_sizes=tuple(arguments.get("channels", (256, 512, 1024, 2048))),
      layer_type="basic" if arguments.get("basic") else "bottleneck",
      bottle_ratio=arguments.get("bottle_ratio", 0.25), stem_width=arguments.get("stem_chs", 64),
      stem={"": "imagenet"}.get(arguments.get("stem_type", ""), arguments.get("stem_type")),
      avg_down=bool(arguments.get("avg_down", False)), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


_RESNETV2_RENAMES = (
    (r"^stem\.conv\.", "stem.convs.0."),
    (r"^stem\.(conv|norm)(\d)\.", lambda m: f"stem.{m[1]}s.{int(m[2]) - 1}."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"\.downsample\.conv\.", ".shortcut."),
    (r"^(stages\.\d+\.\d+)\.(conv|norm)(\d)\.", lambda m: f"{m[1]}.{m[2]}s.{int(m[3]) - 1}."),
    (r"^head\.fc\.", "head."),
)


_R2_D = dict(stem_type="deep", avg_down=True, stem_width=32)
# timm/models/res2net.py entry points (block=Bottle2neck; scale from block_args).
RES2NET_VARIANTS: dict[str, dict] = {
    "res2net50_26w_4s": dict(layers=(3, 4, 6, 3), base_width=26, scale=4),
    "res2net101_26w_4s": dict(layers=(3, 4, 23, 3), base_width=26, scale=4),
    "res2net50_26w_6s": dict(layers=(3, 4, 6, 3), base_width=26, scale=6),
    "res2net50_26w_8s": dict(layers=(3, 4, 6, 3), base_width=26, scale=8),
    "res2net50_48w_2s": dict(layers=(3, 4, 6, 3), base_width=48, scale=2),
    "res2net50_14w_8s": dict(layers=(3, 4, 6, 3), base_width=14, scale=8),
    "res2next50": dict(layers=(3, 4, 6, 3), base_width=4, cardinality=8, scale=4),
    "res2net50d": dict(layers=(3, 4, 6, 3), base_width=26, scale=4, **_R2_D),
    "res2net101d": dict(layers=(3, 4, 23, 3), base_width=26, scale=4, **_R2_D),
}
_RES2NET_ARGS = {"layers", "base_width", "cardinality", "stem_type", "stem_width", "avg_down", "output_stride"}


def build_res2net(name: str, config: dict) -> nnx.Module:
  """timm's ``res2net*`` / ``res2next50``: the nnx ResNet with Res2Net bottlenecks (expansion 4)."""
  arguments = _arguments(name, config, RES2NET_VARIANTS[name], _RES2NET_ARGS)
  _require(name, arguments, {"stem_type": ("", "deep"), "output_stride": (32,)})
  deep = arguments.get("stem_type") == "deep"
  stem_width = arguments.get("stem_width", 64)
  return ResNet(ResNetConfig(
      depths=tuple(arguments["layers"]), hidden_sizes=(256, 512, 1024, 2048), layer_type="res2net",
      res2net_scale=arguments["scale"], base_width=arguments["base_width"],
      cardinality=arguments.get("cardinality", 1), stem="deep" if deep else "imagenet", stem_width=stem_width,
      embedding_size=2 * stem_width if deep else 64, avg_down=bool(arguments.get("avg_down", False)),
      indexed_shortcut=True, num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]),
      rngs=nnx.Rngs(0))


_RES2NET_RENAMES = (
    (r"^conv1\.weight$", "stem.conv.weight"),  # the 7×7 stem (timm's ResNet: conv1 / bn1)
    (r"^conv1\.0\.", "stem.layers.0.conv."), (r"^conv1\.1\.", "stem.layers.0.bn."),  # the deep stem
    (r"^conv1\.3\.", "stem.layers.1.conv."), (r"^conv1\.4\.", "stem.layers.1.bn."),
    (r"^conv1\.6\.", "stem.conv."), (r"^bn1\.", "stem.bn."),
    (r"^layer(\d+)\.(\d+)\.", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}."),
    (r"\.(conv|bn)1\.", r".reduce.\1."), (r"\.(conv|bn)3\.", r".expand.\1."),
    (r"\.convs\.(\d+)\.", r".scales.\1.conv."), (r"\.bns\.(\d+)\.", r".scales.\1.bn."),
    (r"\.downsample\.", ".shortcut."),
    (r"^fc\.", "head."),
)


_NEST = dict(stem_type="deep", avg_down=True, base_width=64, cardinality=1, radix=2, avd_first=False)
# timm/models/resnest.py entry points (block=ResNestBottleneck, block_args radix / avd=True / avd_first).
RESNEST_VARIANTS: dict[str, dict] = {
    "resnest14d": dict(layers=(1, 1, 1, 1), stem_width=32, **_NEST),
    "resnest26d": dict(layers=(2, 2, 2, 2), stem_width=32, **_NEST),
    "resnest50d": dict(layers=(3, 4, 6, 3), stem_width=32, **_NEST),
    "resnest101e": dict(layers=(3, 4, 23, 3), stem_width=64, **_NEST),
    "resnest200e": dict(layers=(3, 24, 36, 3), stem_width=64, **_NEST),
    "resnest269e": dict(layers=(3, 30, 48, 8), stem_width=64, **_NEST),
    "resnest50d_4s2x40d": dict(layers=(3, 4, 6, 3), stem_width=32, **{
        **_NEST, "base_width": 40, "cardinality": 2, "radix": 4, "avd_first": True}),
    "resnest50d_1s4x24d": dict(layers=(3, 4, 6, 3), stem_width=32, **{
        **_NEST, "base_width": 24, "cardinality": 4, "radix": 1, "avd_first": True}),
}


def build_resnest(name: str, config: dict) -> nnx.Module:
  """timm's ``resnest*``: the nnx ResNet with ResNeSt split-attention bottlenecks (deep stem, avg_down)."""
  arguments = _arguments(name, config, RESNEST_VARIANTS[name], _RES2NET_ARGS)
  _require(name, arguments, {"stem_type": ("deep",), "avg_down": (True,), "output_stride": (32,)})
  stem_width = arguments["stem_width"]
  return ResNet(ResNetConfig(
      depths=tuple(arguments["layers"]), hidden_sizes=(256, 512, 1024, 2048), layer_type="resnest",
      radix=arguments["radix"], avd_first=arguments["avd_first"], base_width=arguments["base_width"],
      cardinality=arguments["cardinality"], stem="deep", stem_width=stem_width, embedding_size=2 * stem_width,
      avg_down=True, indexed_shortcut=True, num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]),
      rngs=nnx.Rngs(0))


_RESNEST_RENAMES = (
    *_RES2NET_RENAMES[:7],  # the deep stem, as timm's ResNet names it
    (r"^layer(\d+)\.(\d+)\.", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}."),
    (r"^(stages\.\d+\.\d+)\.(conv|bn)1\.", r"\1.reduce.\2."),
    (r"^(stages\.\d+\.\d+)\.(conv|bn)3\.", r"\1.expand.\2."),
    (r"^(stages\.\d+\.\d+)\.conv2\.", r"\1.split_attention."),
    (r"\.downsample\.", ".shortcut."),
    (r"^fc\.", "head."),
)


ENTRIES: dict[str, dict] = {
    "|".join(RESNETV2_VARIANTS): dict(build=build_resnetv2, renames=_RESNETV2_RENAMES),
    "|".join(RES2NET_VARIANTS): dict(build=build_res2net, renames=_RES2NET_RENAMES),
    "|".join(RESNEST_VARIANTS): dict(build=build_resnest, renames=_RESNEST_RENAMES),
}
