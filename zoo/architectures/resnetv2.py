"""Pre-activation ResNet (ResNet-V2, He et al. 2016, "Identity Mappings in Deep Residual Networks")
with BatchNorm and plain convolutions, as timm's ``ResNetV2`` builds its non-BiT variants
(``resnetv2_18/34/50/101`` and their ``d`` forms: deep 3×3 stem, average-pool shortcuts).

Each block normalises and activates its input first (BN → ReLU), takes the projection shortcut
from that pre-activation, and adds the convolution branch without a final activation; one BN →
ReLU follows the last stage. (The GroupNorm / weight-standardised BiT form is :mod:`zoo.architectures.bit`.)
"""

from __future__ import annotations

import dataclasses

import jax
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class ResNetV2Config:
  """Defaults are timm's ``resnetv2_50``."""
  depths: tuple[int, ...] = (3, 4, 6, 3)
  hidden_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
  layer_type: str = "bottleneck"  # or "basic" (two 3×3 convs)
  bottle_ratio: float = 0.25  # inner width = make_divisible(out · bottle_ratio)
  stem_width: int = 64
  stem: str = "imagenet"  # 7×7/2 conv; "deep": 3×3/2, 3×3, 3×3 convs (widths w/2, w/2, w); "tiered": 3w/8, w/2, w
  avg_down: bool = False  # projection shortcut = 2×2/2 average pool (ceil, valid pixels) → 1×1 conv
  num_channels: int = 3
  num_classes: int = 1000


class PreActBlock(nnx.Module):
  """x + convs(x) with BN → ReLU before every conv; the first block of a stage that changes shape
  projects ``relu(norms[0](x))`` (1×1 conv, after a 2×2 average pool with ``avg_down``)."""

  def __init__(self, config: ResNetV2Config, in_features: int, out_features: int, stride: int, *,
               rngs: nnx.Rngs):
    mid = layers.make_divisible(out_features * config.bottle_ratio)
    if config.layer_type == "basic":
      specs = [(in_features, mid, 3, stride), (mid, out_features, 3, 1)]
    elif config.layer_type == "bottleneck":
      specs = [(in_features, mid, 1, 1), (mid, mid, 3, stride), (mid, out_features, 1, 1)]
    else:
      raise ValueError(f"ResNetV2 layer_type must be 'bottleneck' or 'basic'; got {config.layer_type!r}.")
    self.norms = nnx.List([layers.batch_norm(i, rngs=rngs) for i, _, _, _ in specs])
    self.convs = nnx.List([layers.conv(i, o, k, stride=s, rngs=rngs) for i, o, k, s in specs])
    projects = stride != 1 or in_features != out_features
    self.pool_shortcut = projects and config.avg_down and stride != 1
    self.shortcut = (layers.conv(in_features, out_features, 1, stride=1 if config.avg_down else stride, rngs=rngs)
                     if projects else None)

  def __call__(self, x):
    preact = jax.nn.relu(self.norms[0](x))
    shortcut = x
    if self.shortcut is not None:
      pooled = (layers.avg_pool_torch(preact, 2, 2, ceil_mode=True, count_include_pad=False)
                if self.pool_shortcut else preact)
      shortcut = self.shortcut(pooled)
    x = self.convs[0](preact)
    for norm, conv in zip(self.norms[1:], self.convs[1:]):
      x = conv(jax.nn.relu(norm(x)))
    return x + shortcut


class PreActStem(nnx.Module):
  """7×7/2 conv, or three 3×3 convs (BN → ReLU between them, none after the last), then a 3×3/2 max-pool."""

  def __init__(self, config: ResNetV2Config, *, rngs: nnx.Rngs):
    width = config.stem_width
    if config.stem == "imagenet":
      widths, kernel = (config.num_channels, width), 7
    elif config.stem in ("deep", "tiered"):
      first = 3 * width // 8 if config.stem == "tiered" else width // 2
      widths, kernel = (config.num_channels, first, width // 2, width), 3
    else:
      raise ValueError(f"ResNetV2 stem must be 'imagenet', 'deep' or 'tiered'; got {config.stem!r}.")
    self.convs = nnx.List([layers.conv(i, o, kernel, stride=2 if index == 0 else 1, rngs=rngs)
                           for index, (i, o) in enumerate(zip(widths[:-1], widths[1:]))])
    self.norms = nnx.List([layers.batch_norm(o, rngs=rngs) for o in widths[1:-1]])

  def __call__(self, x):
    x = self.convs[0](x)
    for norm, conv in zip(self.norms, self.convs[1:]):
      x = conv(jax.nn.relu(norm(x)))
    return layers.max_pool_torch(x, 3, 2, 1)


class ResNetV2(nnx.Module):
  """stem → stages of pre-activation blocks → BN → ReLU → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: ResNetV2Config, *, rngs: nnx.Rngs):
    self.config = config
    self.stem = PreActStem(config, rngs=rngs)
    stages, in_features = [], config.stem_width
    for index, (depth, out_features) in enumerate(zip(config.depths, config.hidden_sizes)):
      stride = 1 if index == 0 else 2
      stages.append(nnx.List([PreActBlock(config, in_features if j == 0 else out_features, out_features,
                                          stride if j == 0 else 1, rngs=rngs) for j in range(depth)]))
      in_features = out_features
    self.stages = nnx.List(stages)
    self.norm = layers.batch_norm(in_features, rngs=rngs)
    self.head = nnx.Linear(in_features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem(images)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return jax.nn.relu(self.norm(x))

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
