"""MobileNetV2 (Sandler et al. 2018) as timm builds it (``mobilenetv2_*``) and as transformers
ports TF-slim's (``MobileNetV2ForImageClassification``): one module,
:class:`zoo.architectures.efficientnet.MBConvNet`, configured by the functions here.

Both are stem 3×3/2 → a depthwise-separable block → 16 inverted residuals (expansion 6)
→ 1×1 head conv → mean → Linear, with ReLU6; transformers' variant pads TF "SAME" and
rounds channels with ``min_depth``.
"""

from __future__ import annotations

from zoo.architectures import layers
from zoo.architectures.efficientnet import (MOBILENET_V2_STAGES, MBConvBlockSpec, MBConvNet, MBConvNetConfig,
                                            timm_builder_stages)

MobileNetV2 = MBConvNet

# Inverted residuals per stage after the first block (transformers' 16 ``layer``s).
STAGE_REPEATS = tuple(row.repeats for row in MOBILENET_V2_STAGES[1:])


def timm_mobilenet_v2_config(channel_multiplier: float = 1.0, depth_multiplier: float = 1.0, *,
                             fix_stem_head: bool = False, padding: str = "torch", batch_norm_eps: float = 1e-5,
                             num_classes: int = 1000, num_channels: int = 3) -> MBConvNetConfig:
  """timm's ``_gen_mobilenet_v2``: stages scaled by the multipliers ("ceil" repeats); with
  ``fix_stem_head`` (``mobilenetv2_110d/120d``) the stem (32), head (1280) and the first and
  last stages stay unscaled; otherwise stem make_divisible(32·w), head max(1280, make_divisible(1280·w))."""
  round_channels = lambda c: layers.make_divisible(c * channel_multiplier)
  stem = 32 if fix_stem_head else round_channels(32)
  stages = timm_builder_stages(MOBILENET_V2_STAGES, stem, channel_multiplier=channel_multiplier,
                               depth_multiplier=depth_multiplier, fix_first_last=fix_stem_head)
  head = 1280 if fix_stem_head else max(1280, round_channels(1280))
  return MBConvNetConfig(stem, stages, head, act="relu6", padding=padding, batch_norm_eps=batch_norm_eps,
                         num_classes=num_classes, num_channels=num_channels)


def transformers_mobilenet_v2_config(*, depth_multiplier: float = 1.0, depth_divisible_by: int = 8,
                                     min_depth: int = 8, expand_ratio: float = 6.0, finegrained_output: bool = True,
                                     tf_padding: bool = True, hidden_act: str = "relu6", layer_norm_eps: float = 1e-3,
                                     num_channels: int = 3, num_classes: int = 1000) -> MBConvNetConfig:
  """transformers' ``MobileNetV2Model``: channels c → make_divisible(int(round(c·d)), divisor,
  min_depth), expansion make_divisible(int(round(in·e))), head 1280 when ``finegrained_output``
  and d < 1 (else scaled); residual when stride 1 and in = out."""
  scale = lambda c: layers.make_divisible(int(round(c * depth_multiplier)), depth_divisible_by, min_value=min_depth)
  stem = scale(32)
  first = MBConvBlockSpec("ds", stem, scale(16), 3, 1, stem)
  stages, in_dim = [(first,)], first.out_dim
  for row in MOBILENET_V2_STAGES[1:]:
    out_dim, blocks = scale(row.channels), []
    for j in range(row.repeats):
      stride = row.stride if j == 0 else 1
      mid = layers.make_divisible(int(round(in_dim * expand_ratio)), depth_divisible_by, min_value=min_depth)
      blocks.append(MBConvBlockSpec("ir", in_dim, out_dim, 3, stride, mid, skip=stride == 1 and in_dim == out_dim))
      in_dim = out_dim
    stages.append(tuple(blocks))
  head = 1280 if finegrained_output and depth_multiplier < 1.0 else scale(1280)
  return MBConvNetConfig(stem, tuple(stages), head, act=hidden_act, padding="SAME" if tf_padding else "torch",
                         batch_norm_eps=layer_norm_eps, num_channels=num_channels, num_classes=num_classes)
