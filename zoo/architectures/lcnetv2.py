"""PP-LCNetV2 (PaddleClas) as timm builds it (``timm/models/lcnetv2.py``; the training form with
multi-scale depthwise branches, not the re-parameterised one), in timm's tensor names.

stem: conv 3×3/2 → a depthwise-separable block; four stages of depthwise-separable blocks (the
first at stride 2), channels make_divisible(2c · scale) for c = 64, 128, 256, 512; global mean →
1×1 conv (no bias) → ReLU (the embedding) → Linear. A block: depthwise k×k → BN → ReLU (stage 3:
the sum of parallel depthwise k×k, (k−2)×(k−2), … → BN branches, 1×1 only at stride 1, then ReLU)
→ [SE] → 1×1 (stage 3: two 1×1 convs through half the output width) → [+ x].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct, SqueezeExcite


@dataclasses.dataclass(frozen=True)
class LCNetV2Stage:
  """timm's _STAGE_CFG row: base channels, depthwise kernel, split 1×1, re-parameterisable
  depthwise branches, SE, shortcut."""
  channels: int
  kernel_size: int
  split_pw: bool = False
  use_rep: bool = False
  use_se: bool = False
  use_shortcut: bool = False


LCNETV2_STAGES = (LCNetV2Stage(64, 3), LCNetV2Stage(128, 3), LCNetV2Stage(256, 5, True, True, True),
                  LCNetV2Stage(512, 5, use_rep=True, use_shortcut=True))


@dataclasses.dataclass(frozen=True)
class LCNetV2Config:
  """timm's LCNetV2 arguments (defaults: ``lcnetv2_base``)."""
  scale: float = 1.0
  depths: tuple[int, ...] = (2, 2, 6, 2)
  head_dim: int = 1280
  num_channels: int = 3
  num_classes: int = 1000


class RepDepthwiseSeparable(nnx.Module):
  """timm's RepDepthwiseSeparable (see the module docstring); tensors dw_conv / dw_conv_list.{i},
  se.fc1 / fc2, pw_conv / pw_conv.{0,1}."""

  def __init__(self, in_dim: int, out_dim: int, stride: int, stage: LCNetV2Stage, *, rngs: nnx.Rngs):
    self.skip = stage.use_shortcut and stride == 1 and in_dim == out_dim
    depthwise = lambda k, act: ConvNormAct(in_dim, in_dim, k, stride=stride, groups=in_dim, act=act, rngs=rngs)
    kernels = [k for k in range(stage.kernel_size, 0, -2) if not (k == 1 and stride != 1)]
    self.dw_conv_list = nnx.List([depthwise(k, None) for k in kernels]) if stage.use_rep else None
    self.dw_conv = None if stage.use_rep else depthwise(stage.kernel_size, "relu")
    self.se = SqueezeExcite(in_dim, int(in_dim * 0.25), rngs=rngs) if stage.use_se else None
    if stage.split_pw:
      mid = int(out_dim * 0.5)
      self.pw_conv = nnx.List([ConvNormAct(in_dim, mid, 1, rngs=rngs), ConvNormAct(mid, out_dim, 1, rngs=rngs)])
    else:
      self.pw_conv = ConvNormAct(in_dim, out_dim, 1, rngs=rngs)

  def __call__(self, inputs):
    if self.dw_conv is not None:
      x = self.dw_conv(inputs)
    else:
      x = jax.nn.relu(sum(branch(inputs) for branch in self.dw_conv_list))
    if self.se is not None:
      x = self.se(x)
    for conv in (self.pw_conv if isinstance(self.pw_conv, nnx.List) else [self.pw_conv]):
      x = conv(x)
    return x + inputs if self.skip else x


class LCNetV2(nnx.Module):
  """stem → stages → mean → conv_head → ReLU (the embedding) → classifier."""

  def __init__(self, config: LCNetV2Config, *, rngs: nnx.Rngs):
    self.config = config
    stem, dim = layers.make_divisible(32 * config.scale), layers.make_divisible(64 * config.scale)
    self.stem = nnx.List([ConvNormAct(config.num_channels, stem, 3, stride=2, rngs=rngs),
                          RepDepthwiseSeparable(stem, dim, 1, LCNetV2Stage(0, 3), rngs=rngs)])
    stages = []
    for stage, depth in zip(LCNETV2_STAGES, config.depths):
      out_dim, blocks = layers.make_divisible(stage.channels * 2 * config.scale), []
      for index in range(depth):
        blocks.append(RepDepthwiseSeparable(dim, out_dim, 2 if index == 0 else 1, stage, rngs=rngs))
        dim = out_dim
      stages.append(nnx.List(blocks))
    self.stages = nnx.List(stages)
    self.conv_head = layers.conv(dim, config.head_dim, 1, rngs=rngs)
    self.classifier = nnx.Linear(config.head_dim, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = images
    for module in self.stem:
      x = module(x)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    embedding = jax.nn.relu(self.conv_head(jnp.mean(x, axis=(1, 2), keepdims=True)))[:, 0, 0]
    return (self.classifier(embedding) if self.classifier is not None else embedding), embedding
