"""DenseNet-BC (Huang et al. 2017), torchvision's / timm's layout.

Stem: 7×7/2 conv → BN → ReLU → 3×3/2 max-pool (2·growth_rate channels). Dense block
layer: x ← concat(x, conv3×3(relu(BN(conv1×1(relu(BN(x))))))) with bn_size·growth_rate
bottleneck channels and growth_rate new ones. Transition: relu(BN) → 1×1 conv halving the
channels → 2×2/2 average pool. After the last block: relu(BN) → global mean (embedding) →
Linear. Converted from timm's ``densenet121/161/169/201`` by :mod:`zoo.converters.timm`.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class DenseNetConfig:
  """Field names follow timm's ``DenseNet`` arguments (DenseNet-121 defaults)."""
  growth_rate: int = 32
  block_config: tuple[int, ...] = (6, 12, 24, 16)
  bn_size: int = 4
  num_channels: int = 3
  num_classes: int = 1000


class NormActConv(nnx.Module):
  """conv(relu(BN(x))): the pre-activation unit of dense layers and transitions."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, *, rngs: nnx.Rngs):
    self.norm = layers.batch_norm(in_features, rngs=rngs)
    self.conv = layers.conv(in_features, out_features, kernel_size, rngs=rngs)

  def __call__(self, x):
    return self.conv(nnx.relu(self.norm(x)))


class DenseLayer(nnx.Module):
  """The growth_rate new channels of one dense layer (bottleneck 1×1 then 3×3)."""

  def __init__(self, in_features: int, config: DenseNetConfig, *, rngs: nnx.Rngs):
    width = config.bn_size * config.growth_rate
    self.bottleneck = NormActConv(in_features, width, 1, rngs=rngs)
    self.expand = NormActConv(width, config.growth_rate, 3, rngs=rngs)

  def __call__(self, x):
    return self.expand(self.bottleneck(x))


class DenseNet(nnx.Module):
  """stem → dense blocks with transitions → relu(BN) → global mean (embedding) → Linear."""

  def __init__(self, config: DenseNetConfig, *, rngs: nnx.Rngs):
    features = 2 * config.growth_rate
    self.stem_conv = layers.conv(config.num_channels, features, 7, stride=2, rngs=rngs)
    self.stem_norm = layers.batch_norm(features, rngs=rngs)
    blocks, transitions = [], []
    for index, depth in enumerate(config.block_config):
      blocks.append(nnx.List([DenseLayer(features + j * config.growth_rate, config, rngs=rngs) for j in range(depth)]))
      features += depth * config.growth_rate
      if index != len(config.block_config) - 1:
        transitions.append(NormActConv(features, features // 2, 1, rngs=rngs))
        features //= 2
    self.blocks, self.transitions = nnx.List(blocks), nnx.List(transitions)
    self.final_norm = layers.batch_norm(features, rngs=rngs)
    self.head = nnx.Linear(features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = layers.max_pool_torch(nnx.relu(self.stem_norm(self.stem_conv(images))), 3, 2, 1)
    for index, block in enumerate(self.blocks):
      for layer in block:
        x = jnp.concatenate([x, layer(x)], axis=-1)
      if index < len(self.transitions):
        x = layers.avg_pool_torch(self.transitions[index](x), 2, 2)
    return nnx.relu(self.final_norm(x))

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
