"""ReXNet (Han et al. 2021, "Rethinking Channel Dimensions for Efficient Model Design") as timm
builds it (``timm/models/rexnet.py``), in timm's tensor names (``stem``, ``features.{i}``; the
head's ``fc`` renamed by the converter).

stem conv 3×3/2 → 16 linear bottlenecks whose widths grow linearly (by ``final_chs`` over the
network) → 1×1 conv to make_divisible(1280·w) → global mean → Linear. A bottleneck:
[1×1 expand (SiLU)] → depthwise 3×3 → [SE with BN inside] → ReLU6 → 1×1 linear; when stride 1
the input is added to its first channels (widths only grow).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class RexNetConfig:
  """timm's RexNet arguments (defaults: ``rexnet_100``); ``ch_div`` the channel divisor (the
  "rexnetr" rounded variants: 8 or 16)."""
  width_mult: float = 1.0
  depth_mult: float = 1.0
  initial_chs: int = 16
  final_chs: int = 180
  se_ratio: float = 1 / 12
  ch_div: int = 1
  num_channels: int = 3
  num_classes: int = 1000


@dataclasses.dataclass(frozen=True)
class RexBlockSpec:
  """One linear bottleneck: output channels, expansion, stride, SE ratio (timm's _block_cfg row)."""
  channels: int
  expansion: float
  stride: int
  se_ratio: float


def _divisible(value: float, divisor: int) -> int:
  return layers.make_divisible(value, divisor)


def block_specs(config: RexNetConfig) -> list[RexBlockSpec]:
  """timm's _block_cfg: repeats ⌈(1, 2, 2, 3, 3, 5)·depth⌉ with first strides (1, 2, 2, 2, 1, 2),
  expansion 1 then 6, SE from the third stage on; the i-th block's width
  make_divisible(round(base·w), ch_div) with base = initial (÷ w when w < 1) + i·final/blocks."""
  repeats = [math.ceil(r * config.depth_mult) for r in (1, 2, 2, 3, 3, 5)]
  strides = sum(([s] + [1] * (r - 1) for s, r in zip((1, 2, 2, 2, 1, 2), repeats)), [])
  expansions = [1.0] * repeats[0] + [6.0] * sum(repeats[1:])
  se_ratios = [0.0] * (repeats[0] + repeats[1]) + [config.se_ratio] * sum(repeats[2:])
  count = sum(repeats)
  base = config.initial_chs / config.width_mult if config.width_mult < 1.0 else config.initial_chs
  widths = []
  for _ in range(count):
    widths.append(_divisible(round(base * config.width_mult), config.ch_div))
    base += config.final_chs / count
  return [RexBlockSpec(*row) for row in zip(widths, expansions, strides, se_ratios)]


class SqueezeExciteBN(nnx.Module):
  """timm's SEModule with a norm: x · σ(fc2(relu(bn(fc1(mean_hw x)))))."""

  def __init__(self, dim: int, reduced: int, *, rngs: nnx.Rngs):
    self.fc1 = layers.conv(dim, reduced, 1, bias=True, rngs=rngs)
    self.bn = layers.batch_norm(reduced, rngs=rngs)
    self.fc2 = layers.conv(reduced, dim, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    gate = jnp.mean(x, axis=(1, 2), keepdims=True)
    return x * jax.nn.sigmoid(self.fc2(jax.nn.relu(self.bn(self.fc1(gate)))))


class LinearBottleneck(nnx.Module):
  """timm's LinearBottleneck (see the module docstring); tensors conv_exp / conv_dw / se / conv_pwl."""

  def __init__(self, in_dim: int, spec: RexBlockSpec, ch_div: int, *, rngs: nnx.Rngs):
    self.in_dim, self.skip = in_dim, spec.stride == 1 and in_dim <= spec.channels
    mid = _divisible(round(in_dim * spec.expansion), ch_div) if spec.expansion != 1.0 else in_dim
    self.conv_exp = ConvNormAct(in_dim, mid, 1, act="swish", rngs=rngs) if spec.expansion != 1.0 else None
    self.conv_dw = ConvNormAct(mid, mid, 3, stride=spec.stride, groups=mid, act=None, rngs=rngs)
    self.se = (SqueezeExciteBN(mid, _divisible(int(mid * spec.se_ratio), ch_div), rngs=rngs)
               if spec.se_ratio > 0 else None)
    self.conv_pwl = ConvNormAct(mid, spec.channels, 1, act=None, rngs=rngs)

  def __call__(self, inputs):
    x = inputs if self.conv_exp is None else self.conv_exp(inputs)
    x = self.conv_dw(x)
    if self.se is not None:
      x = self.se(x)
    x = self.conv_pwl(jax.nn.relu6(x))
    if not self.skip:
      return x
    return jnp.concatenate([x[..., :self.in_dim] + inputs, x[..., self.in_dim:]], axis=-1)


class RexNet(nnx.Module):
  """stem → features (bottlenecks, then the 1×1 conv) → global mean (the embedding) → head."""

  def __init__(self, config: RexNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    stem_base = 32 / config.width_mult if config.width_mult < 1.0 else 32
    dim = _divisible(round(stem_base * config.width_mult), config.ch_div)
    self.stem = ConvNormAct(config.num_channels, dim, 3, stride=2, act="swish", rngs=rngs)
    features = []
    for spec in block_specs(config):
      features.append(LinearBottleneck(dim, spec, config.ch_div, rngs=rngs))
      dim = spec.channels
    width = _divisible(1280 * config.width_mult, config.ch_div)
    features.append(ConvNormAct(dim, width, 1, act="swish", rngs=rngs))
    self.features = nnx.List(features)
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem(images)
    for block in self.features:
      x = block(x)
    return layers.pool_and_classify(x, self.head)
