"""RepViT (Wang et al. 2024, "RepViT: Revisiting Mobile CNN From ViT Perspective"), timm's layout
(``timm/models/repvit.py``, unfused training-time form).

stem (3×3/2 conv-BN, GELU, 3×3/2 conv-BN) → stages (from the second opened by a downsample: a
block without SE, a depthwise k×k/2 conv-BN, a 1×1 conv-BN, x + mlp(x)) of blocks
x = bn(dw_k(x) + dw_1(x) + x) [· SE on every other block]; x + mlp(x), mlp = 1×1 conv-BN → GELU →
1×1 conv-BN → global mean (the embedding) → BN + Linear, averaged with the distillation head's
BN + Linear. ``legacy`` (the m1 / m2 / m3 checkpoints): the 1×1 depthwise branch has its own BN and
the sum has none.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.levit import NormLinear
from zoo.architectures.resnet import ConvNormAct, SqueezeExcite


@dataclasses.dataclass(frozen=True)
class RepVitConfig:
  """Defaults: timm's repvit_m0_9."""
  embed_dims: tuple[int, ...] = (48, 96, 192, 384)
  depths: tuple[int, ...] = (2, 2, 14, 2)
  mlp_ratio: float = 2.0
  kernel_size: int = 3
  legacy: bool = False
  distillation: bool = True
  num_channels: int = 3
  num_classes: int = 1000


def _conv_norm(in_dim: int, out_dim: int, kernel_size: int, *, stride: int = 1, groups: int = 1, rngs: nnx.Rngs):
  """timm's ConvNorm: conv (padding (k - 1) / 2, no bias) → BN."""
  return ConvNormAct(in_dim, out_dim, kernel_size, stride=stride, groups=groups, act=None, rngs=rngs)


class RepVggDw(nnx.Module):
  """bn(dw_k(x) + dw_1(x) + x); legacy: dw_k(x) + dw_1(x) + x with both branches conv-BN."""

  def __init__(self, dim: int, kernel_size: int, legacy: bool, *, rngs: nnx.Rngs):
    self.conv = _conv_norm(dim, dim, kernel_size, groups=dim, rngs=rngs)
    if legacy:
      self.conv1 = _conv_norm(dim, dim, 1, groups=dim, rngs=rngs)
      self.bn = None
    else:
      self.conv1 = layers.conv(dim, dim, 1, groups=dim, bias=True, rngs=rngs)
      self.bn = layers.batch_norm(dim, rngs=rngs)

  def __call__(self, x):
    x = self.conv(x) + self.conv1(x) + x
    return self.bn(x) if self.bn is not None else x


class RepVitMlp(nnx.Module):
  """conv2(GELU(conv1(x))), 1×1 conv-BNs."""

  def __init__(self, dim: int, hidden: int, *, rngs: nnx.Rngs):
    self.conv1 = _conv_norm(dim, hidden, 1, rngs=rngs)
    self.conv2 = _conv_norm(hidden, dim, 1, rngs=rngs)

  def __call__(self, x):
    return self.conv2(layers.activation("gelu")(self.conv1(x)))


class RepVitBlock(nnx.Module):
  """x = se(token_mixer(x)); x + channel_mixer(x)."""

  def __init__(self, config: RepVitConfig, dim: int, use_se: bool, *, rngs: nnx.Rngs):
    self.token_mixer = RepVggDw(dim, config.kernel_size, config.legacy, rngs=rngs)
    self.se = SqueezeExcite(dim, layers.make_divisible(dim * 0.25, 8, round_limit=0.0), rngs=rngs) if use_se else None
    self.channel_mixer = RepVitMlp(dim, int(dim * config.mlp_ratio), rngs=rngs)

  def __call__(self, x):
    x = self.token_mixer(x)
    x = self.se(x) if self.se is not None else x
    return x + self.channel_mixer(x)


class RepVitDownsample(nnx.Module):
  """block without SE → depthwise k×k/2 conv-BN → 1×1 conv-BN to the new width → x + ffn(x)."""

  def __init__(self, config: RepVitConfig, in_dim: int, out_dim: int, *, rngs: nnx.Rngs):
    self.pre_block = RepVitBlock(config, in_dim, False, rngs=rngs)
    self.spatial_downsample = _conv_norm(in_dim, in_dim, config.kernel_size, stride=2, groups=in_dim, rngs=rngs)
    self.channel_downsample = _conv_norm(in_dim, out_dim, 1, rngs=rngs)
    self.ffn = RepVitMlp(out_dim, int(out_dim * config.mlp_ratio), rngs=rngs)

  def __call__(self, x):
    x = self.channel_downsample(self.spatial_downsample(self.pre_block(x)))
    return x + self.ffn(x)


class RepVitStage(nnx.Module):
  """[downsample] then blocks with SE on the first, third, … (timm toggles ``use_se`` from True)."""

  def __init__(self, config: RepVitConfig, index: int, *, rngs: nnx.Rngs):
    dim = config.embed_dims[index]
    self.downsample = RepVitDownsample(config, config.embed_dims[index - 1], dim, rngs=rngs) if index else None
    self.blocks = nnx.List([RepVitBlock(config, dim, i % 2 == 0, rngs=rngs) for i in range(config.depths[index])])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class RepVit(nnx.Module):
  def __init__(self, config: RepVitConfig, *, rngs: nnx.Rngs):
    self.config = config
    dim = config.embed_dims[0]
    self.stem = nnx.List([_conv_norm(config.num_channels, dim // 2, 3, stride=2, rngs=rngs),
                          _conv_norm(dim // 2, dim, 3, stride=2, rngs=rngs)])
    self.stages = nnx.List([RepVitStage(config, i, rngs=rngs) for i in range(len(config.embed_dims))])
    last, classes = config.embed_dims[-1], config.num_classes
    self.head = NormLinear(last, classes, rngs=rngs) if classes else None
    self.head_dist = NormLinear(last, classes, rngs=rngs) if classes and config.distillation else None

  def __call__(self, images):
    x = self.stem[1](layers.activation("gelu")(self.stem[0](images)))
    for stage in self.stages:
      x = stage(x)
    embedding = jnp.mean(x, axis=(1, 2))
    if self.head is None:
      return embedding, embedding
    logits = self.head(embedding)
    if self.head_dist is not None:  # timm's inference: the mean of the two heads
      logits = (logits + self.head_dist(embedding)) / 2
    return logits, embedding
