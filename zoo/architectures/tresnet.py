"""TResNet (Ridnik et al. 2021, "TResNet: High Performance GPU-Dedicated Architecture"), timm's
layout (``timm/models/tresnet.py``, class ``TResNet``).

Space-to-depth stem (4×4 blocks → 16·C channels, ordered (row, column, channel)) → 3×3
conv-BN-LeakyReLU(0.01) → four stages of ResNet blocks (basic in the first two stages, except
TResNet-v2: bottlenecks throughout) whose convs use BN + LeakyReLU(0.001); a strided conv runs at
stride 1 and is followed by a 3×3 blur pool (anti-aliasing); SE (ReLU, σ) after the 3×3 conv
in stages 1–3; shortcut = [2×2/2 average pool (ceil, valid pixels)] → 1×1 conv-BN when the shape
changes; out = ReLU(branch + shortcut) → global mean → Linear.
"""

from __future__ import annotations

import dataclasses

import jax
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import AvgPoolDown, SqueezeExcite, blur_pool

BLOCK_SLOPE = 1e-3  # timm's partial(nn.LeakyReLU, negative_slope=1e-3) in the blocks
STEM_SLOPE = 1e-2  # nn.LeakyReLU's default, the stem conv's


@dataclasses.dataclass(frozen=True)
class TResNetConfig:
  """Defaults: timm's tresnet_m."""
  layers: tuple[int, ...] = (3, 4, 11, 3)
  width_factor: float = 1.0
  v2: bool = False
  num_channels: int = 3
  num_classes: int = 1000


class ConvBnLeaky(nnx.Module):
  """timm's ConvNormAct as TResNet uses it: conv (no bias, stride 1 when anti-aliased) → BN →
  LeakyReLU(``slope``; none when None) → [blur pool /2 when ``anti_alias``]."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, *, stride: int = 1,
               slope: float | None = BLOCK_SLOPE, rngs: nnx.Rngs):
    self.anti_alias = stride > 1
    self.conv = layers.conv(in_features, out_features, kernel_size, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)
    self.slope = slope

  def __call__(self, x):
    x = self.bn(self.conv(x))
    if self.slope is not None:
      x = jax.nn.leaky_relu(x, self.slope)
    return blur_pool(x) if self.anti_alias else x


class TResNetBlock(nnx.Module):
  """Basic (conv1 3×3, SE, conv2 3×3) or bottleneck (conv1 1×1, conv2 3×3, SE, conv3 1×1) block;
  the last conv has no activation; ReLU after the residual sum."""

  def __init__(self, bottleneck: bool, in_features: int, planes: int, stride: int, use_se: bool, *, rngs: nnx.Rngs):
    out = planes * (4 if bottleneck else 1)
    if bottleneck:
      self.conv1 = ConvBnLeaky(in_features, planes, 1, rngs=rngs)
      self.conv2 = ConvBnLeaky(planes, planes, 3, stride=stride, rngs=rngs)
      self.conv3 = ConvBnLeaky(planes, out, 1, slope=None, rngs=rngs)
      hidden = max(out // 8, 64)
    else:
      self.conv1 = ConvBnLeaky(in_features, planes, 3, stride=stride, rngs=rngs)
      self.conv2 = ConvBnLeaky(planes, planes, 3, slope=None, rngs=rngs)
      self.conv3 = None
      hidden = max(out // 4, 64)
    self.se = SqueezeExcite(planes, hidden, rngs=rngs) if use_se else None
    projection = (ConvBnLeaky(in_features, out, 1, slope=None, rngs=rngs)
                  if stride != 1 or in_features != out else None)
    self.downsample = (None if projection is None else
                       nnx.List([AvgPoolDown(), projection] if stride == 2 else [projection]))

  def __call__(self, x):
    shortcut = x
    if self.downsample is not None:
      for layer in self.downsample:
        shortcut = layer(shortcut)
    y = self.conv2(self.conv1(x))
    if self.conv3 is None:  # basic: SE after conv2
      y = self.se(y) if self.se is not None else y
    else:  # bottleneck: SE between conv2 and conv3
      y = self.conv3(self.se(y) if self.se is not None else y)
    return jax.nn.relu(y + shortcut)


def space_to_depth(x, block: int = 4):
  """NHWC → [N, H/b, W/b, b·b·C], channels ordered (row offset, column offset, channel) as timm's
  SpaceToDepth (which permutes NCHW to (N, b, b, C, H/b, W/b))."""
  n, h, w, c = x.shape
  x = x.reshape(n, h // block, block, w // block, block, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(n, h // block, w // block, block * block * c)


class TResNet(nnx.Module):
  def __init__(self, config: TResNetConfig, *, rngs: nnx.Rngs):
    planes = int(64 * config.width_factor)
    if config.v2:
      planes = planes // 8 * 8
    self.conv1 = ConvBnLeaky(config.num_channels * 16, planes, 3, slope=STEM_SLOPE, rngs=rngs)
    width, stages = planes, []
    for index, depth in enumerate(config.layers):
      bottleneck = config.v2 or index >= 2
      stage_planes = planes * 2 ** index
      blocks = []
      for block in range(depth):
        blocks.append(TResNetBlock(bottleneck, width, stage_planes, 2 if block == 0 and index > 0 else 1,
                                   use_se=index < 3, rngs=rngs))
        width = stage_planes * (4 if bottleneck else 1)
      stages.append(nnx.List(blocks))
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    if images.shape[1] % 4 or images.shape[2] % 4:
      raise ValueError(f"TResNet's space-to-depth stem needs sides divisible by 4; got {images.shape[1:3]}.")
    x = self.conv1(space_to_depth(images))
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return layers.pool_and_classify(x, self.head)
