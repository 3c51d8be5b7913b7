"""RegNet X and Y (Radosavovic et al. 2020), transformers' layout.

3×3/2 stem → stages of bottleneck blocks without width reduction: 1×1 → grouped 3×3
(groups = width / groups_width, stride in the first block of a stage) → [Y: squeeze-
excitation, reduced to round(in/4)] → 1×1, residual (1×1 conv + BN projection when the
shape changes), ReLU → global mean (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class RegNetConfig:
  """Field names and defaults follow transformers' ``RegNetConfig``."""
  embedding_size: int = 32
  hidden_sizes: tuple[int, ...] = (128, 192, 512, 1088)
  depths: tuple[int, ...] = (2, 6, 12, 2)
  groups_width: int | tuple[int, ...] = 64  # channels per group; one per stage (timm's design-space rounding)
  layer_type: str = "y"  # "x": no squeeze-excitation
  hidden_act: str = "relu"
  downsample_in_first_stage: bool = True
  num_channels: int = 3
  num_classes: int = 1000


def design_space_widths(w0: int, wa: float, wm: float, depth: int, group_size: int, *, group_min_ratio: float = 0.0,
                        quant: int = 8) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
  """Stage widths, depths and group sizes of a RegNet design-space point (Radosavovic et al.
  2020, eq. 2–3, as pycls and timm's ``generate_regnet`` / ``adjust_widths_groups_comp``
  compute them in float32): u_j = w0 + wa·j, s_j = round(log(u_j / w0) / log wm),
  w_j = round(w0·wm^s_j / q)·q; blocks of equal width form a stage; each stage's group size
  is min(group_size, w) and the width is rounded to a multiple of it (to the nearest one, or
  timm's make_divisible with min_value ``group_min_ratio`` when given)."""
  cont = np.arange(depth, dtype=np.float32) * np.float32(wa) + np.float32(w0)
  exps = np.round(np.log(cont / np.float32(w0)) / np.float32(math.log(wm)))
  widths = np.round(np.float32(w0) * np.power(np.float32(wm), exps) / np.float32(quant)) * np.float32(quant)
  stage_widths, stage_depths = np.unique(widths.astype(np.int64), return_counts=True)
  groups = [min(group_size, int(w)) for w in stage_widths]
  if group_min_ratio:
    stage_widths = [layers.make_divisible(int(w), g, min_value=group_min_ratio) for w, g in zip(stage_widths, groups)]
  else:
    stage_widths = [int(round(int(w) / g) * g) for w, g in zip(stage_widths, groups)]
  return tuple(stage_widths), tuple(int(d) for d in stage_depths), tuple(groups)


class SqueezeExcitation(nnx.Module):
  """x · sigmoid(expand(relu(reduce(mean over H, W of x)))), 1×1 convs with bias."""

  def __init__(self, features: int, reduced: int, *, rngs: nnx.Rngs):
    self.reduce = layers.conv(features, reduced, 1, bias=True, rngs=rngs)
    self.expand = layers.conv(reduced, features, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    pooled = jnp.mean(x, axis=(1, 2), keepdims=True)
    return x * jax.nn.sigmoid(self.expand(jax.nn.relu(self.reduce(pooled))))


class RegNetBlock(nnx.Module):
  """act(conv3(se(conv2(conv1(x)))) + shortcut(x))."""

  def __init__(self, config: RegNetConfig, in_features: int, out_features: int, stride: int, group_width: int, *,
               rngs: nnx.Rngs):
    act = config.hidden_act
    groups = max(1, out_features // group_width)
    self.conv1 = ConvNormAct(in_features, out_features, 1, act=act, rngs=rngs)
    self.conv2 = ConvNormAct(out_features, out_features, 3, stride=stride, groups=groups, act=act, rngs=rngs)
    self.se = (SqueezeExcitation(out_features, int(round(in_features / 4)), rngs=rngs)
               if config.layer_type == "y" else None)
    self.conv3 = ConvNormAct(out_features, out_features, 1, act=None, rngs=rngs)
    needs_projection = in_features != out_features or stride != 1
    self.shortcut = (ConvNormAct(in_features, out_features, 1, stride=stride, act=None, rngs=rngs)
                     if needs_projection else None)
    self.act = layers.activation(act)

  def __call__(self, x):
    residual = x if self.shortcut is None else self.shortcut(x)
    y = self.conv2(self.conv1(x))
    if self.se is not None:
      y = self.se(y)
    return self.act(self.conv3(y) + residual)


class RegNet(nnx.Module):
  def __init__(self, config: RegNetConfig, *, rngs: nnx.Rngs):
    if config.layer_type not in ("x", "y"):
      raise ValueError(f"RegNet layer_type must be 'x' or 'y'; got {config.layer_type!r}.")
    if len(config.depths) != len(config.hidden_sizes):
      raise ValueError(f"RegNet depths {config.depths} and hidden_sizes {config.hidden_sizes} differ in length.")
    self.config = config
    self.stem = ConvNormAct(config.num_channels, config.embedding_size, 3, stride=2, act=config.hidden_act,
                            rngs=rngs)
    group_widths = config.groups_width
    if isinstance(group_widths, int):
      group_widths = (group_widths,) * len(config.depths)
    stages, in_features = [], config.embedding_size
    for index, (depth, out_features) in enumerate(zip(config.depths, config.hidden_sizes)):
      stride = 2 if index > 0 or config.downsample_in_first_stage else 1
      stages.append(nnx.List([RegNetBlock(config, in_features if j == 0 else out_features, out_features,
                                          stride if j == 0 else 1, group_widths[index], rngs=rngs)
                              for j in range(depth)]))
      in_features = out_features
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(in_features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem(images)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
