"""FasterNet (Chen et al. 2023, "Run, Don't Walk: Chasing Higher FLOPS for Faster Neural
Networks"), timm's layout (``timm/models/fasternet.py``).

patch embed (p×p/p conv, BN) → 4 stages (from the second: 2×2/2 conv + BN doubling the
width) of blocks x + mlp(pconv(x)), where pconv convolves (3×3) the first width / n_div
channels and passes the rest, and mlp = 1×1 conv → BN → act → 1×1 conv → global mean → 1×1
conv to ``feature_dim`` → act (the embedding) → Linear. Convs have no bias."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class FasterNetConfig:
  """Defaults: timm's fasternet_t2."""
  embed_dim: int = 96
  depths: tuple[int, ...] = (1, 2, 8, 2)
  mlp_ratio: float = 2.0
  n_div: int = 4
  patch_size: int = 4
  merge_size: int = 2
  feature_dim: int = 1280
  activation: str = "relu"
  num_channels: int = 3
  num_classes: int = 1000


class ConvNorm(nnx.Module):
  """norm(conv(x)): a k×k/k conv without bias, then BN (timm's PatchEmbed / PatchMerging: proj|reduction, norm)."""

  def __init__(self, in_features: int, out_features: int, size: int, *, rngs: nnx.Rngs):
    self.conv = layers.conv(in_features, out_features, size, stride=size, padding="VALID", rngs=rngs)
    self.norm = layers.batch_norm(out_features, rngs=rngs)

  def __call__(self, x):
    return self.norm(self.conv(x))


class FasterNetBlock(nnx.Module):
  """x + fc2(act(bn(fc1(pconv(x))))) with pconv the 3×3 conv of the first width / n_div channels."""

  def __init__(self, config: FasterNetConfig, width: int, *, rngs: nnx.Rngs):
    self.partial = width // config.n_div
    hidden = int(width * config.mlp_ratio)
    self.partial_conv3 = layers.conv(self.partial, self.partial, 3, rngs=rngs)
    self.fc1 = layers.conv(width, hidden, 1, rngs=rngs)
    self.norm = layers.batch_norm(hidden, rngs=rngs)
    self.fc2 = layers.conv(hidden, width, 1, rngs=rngs)
    self.act = layers.activation(config.activation)

  def __call__(self, x):
    mixed = jnp.concatenate([self.partial_conv3(x[..., :self.partial]), x[..., self.partial:]], axis=-1)
    return x + self.fc2(self.act(self.norm(self.fc1(mixed))))


class FasterNetStage(nnx.Module):
  def __init__(self, config: FasterNetConfig, index: int, *, rngs: nnx.Rngs):
    width = config.embed_dim * 2 ** index
    self.downsample = ConvNorm(width // 2, width, config.merge_size, rngs=rngs) if index else None
    self.blocks = nnx.List([FasterNetBlock(config, width, rngs=rngs) for _ in range(config.depths[index])])

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample(x)
    for block in self.blocks:
      x = block(x)
    return x


class FasterNet(nnx.Module):
  def __init__(self, config: FasterNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.patch_embed = ConvNorm(config.num_channels, config.embed_dim, config.patch_size, rngs=rngs)
    self.stages = nnx.List([FasterNetStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    last = config.embed_dim * 2 ** (len(config.depths) - 1)
    self.conv_head = layers.conv(last, config.feature_dim, 1, rngs=rngs)
    self.classifier = nnx.Linear(config.feature_dim, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.patch_embed(images)
    for stage in self.stages:
      x = stage(x)
    pooled = jnp.mean(x, axis=(1, 2), keepdims=True)
    embedding = layers.activation(self.config.activation)(self.conv_head(pooled))[:, 0, 0]
    return (self.classifier(embedding) if self.classifier is not None else embedding), embedding
