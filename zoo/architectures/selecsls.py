"""SelecSLS (Mehta et al. 2020, "XNect: Real-time Multi-Person 3D Motion Capture with a Single
RGB Camera"), timm's layout (``timm/models/selecsls.py``).

stem 3×3/2 conv-BN-ReLU → blocks: d₁ = conv3×3(x), d₂ = conv3×3(conv1×1(d₁)), d₃ =
conv3×3(conv1×1(d₂)), out = conv1×1(concat(d₁, d₂, d₃[, skip])); a block that starts a level
(``is_first``) makes its output the skip its level's later blocks concatenate → head conv-BN-ReLUs
→ global mean → Linear. Every conv is conv (no bias) → BN → ReLU."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class SelecSlsConfig:
  """``blocks``: (in, skip, mid, out, is_first, stride) per block and ``head``: (in, out, kernel,
  stride) per conv, as timm's ``_create_selecsls`` lists them (defaults: selecsls42b)."""
  blocks: tuple[tuple[int, int, int, int, bool, int], ...] = (
      (32, 0, 64, 64, True, 2), (64, 64, 64, 128, False, 1), (128, 0, 144, 144, True, 2),
      (144, 144, 144, 288, False, 1), (288, 0, 304, 304, True, 2), (304, 304, 304, 480, False, 1))
  head: tuple[tuple[int, int, int, int], ...] = ((480, 960, 3, 2), (960, 1024, 3, 1), (1024, 1280, 3, 2),
                                                 (1280, 1024, 1, 1))
  num_channels: int = 3
  num_classes: int = 1000


class SelecSlsBlock(nnx.Module):
  def __init__(self, in_features: int, skip: int, mid: int, out: int, is_first: bool, stride: int, *,
               rngs: nnx.Rngs):
    self.is_first = is_first
    self.conv1 = ConvNormAct(in_features, mid, 3, stride=stride, rngs=rngs)
    self.conv2 = ConvNormAct(mid, mid, 1, rngs=rngs)
    self.conv3 = ConvNormAct(mid, mid // 2, 3, rngs=rngs)
    self.conv4 = ConvNormAct(mid // 2, mid, 1, rngs=rngs)
    self.conv5 = ConvNormAct(mid, mid // 2, 3, rngs=rngs)
    self.conv6 = ConvNormAct(2 * mid + (0 if is_first else skip), out, 1, rngs=rngs)

  def __call__(self, x, skip):
    """(output, the skip the next block reads)."""
    d1 = self.conv1(x)
    d2 = self.conv3(self.conv2(d1))
    d3 = self.conv5(self.conv4(d2))
    if self.is_first:
      out = self.conv6(jnp.concatenate([d1, d2, d3], axis=-1))
      return out, out
    return self.conv6(jnp.concatenate([d1, d2, d3, skip], axis=-1)), skip


class SelecSls(nnx.Module):
  def __init__(self, config: SelecSlsConfig, *, rngs: nnx.Rngs):
    self.stem = ConvNormAct(config.num_channels, 32, 3, stride=2, rngs=rngs)
    self.features = nnx.List([SelecSlsBlock(*block, rngs=rngs) for block in config.blocks])
    self.head_convs = nnx.List([ConvNormAct(i, o, k, stride=s, rngs=rngs) for i, o, k, s in config.head])
    width = config.head[-1][1]
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = skip = self.stem(images)
    for block in self.features:
      x, skip = block(x, skip)
    for conv in self.head_convs:
      x = conv(x)
    return layers.pool_and_classify(x, self.head)
