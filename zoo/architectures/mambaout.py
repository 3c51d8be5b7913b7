"""MambaOut (Yu & Wang 2024, "MambaOut: Do We Really Need Mamba for Vision?"), timm's layout
(``timm/models/mambaout.py``); channels-last throughout, LayerNorms with ε 1e-6.

stem (3×3/2 conv → [LN] → act → 3×3/2 conv → LN) → stages, from the second opened by a 3×3/2 conv
with a LayerNorm after it ("conv") or before it ("conv_nf"), of gated CNN blocks
x + γ · fc2(act(g) · [i, dw_k(c)]) with (g, i, c) = split(fc1(LN(x))) (c: the conv_ratio · dim
channels convolved depthwise, i: the rest of the hidden width; γ only with layer scales) → head:
global mean → LN → Linear → GELU [→ LN: the "default" head] (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import LayerScale

_EPS = 1e-6  # timm.layers.LayerNorm's default


@dataclasses.dataclass(frozen=True)
class MambaOutConfig:
  """Defaults: timm's mambaout_femto."""
  depths: tuple[int, ...] = (3, 3, 9, 3)
  dims: tuple[int, ...] = (48, 96, 192, 288)
  expansion_ratio: float = 8 / 3
  conv_ratio: float = 1.0
  kernel_size: int = 7
  stem_mid_norm: bool = True
  layer_scale: bool = False
  downsample: str = "conv"  # or "conv_nf" (norm first)
  head: str = "default"  # MlpHead (LN after the hidden layer) or "norm_mlp" (ClNormMlpClassifierHead)
  activation: str = "gelu"  # blocks and stem; the head always uses GELU
  num_channels: int = 3
  num_classes: int = 1000


def _layer_norm(dim: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
  return nnx.LayerNorm(dim, epsilon=_EPS, rngs=rngs)


class Stem(nnx.Module):
  def __init__(self, config: MambaOutConfig, *, rngs: nnx.Rngs):
    dim = config.dims[0]
    self.conv1 = layers.conv(config.num_channels, dim // 2, 3, stride=2, bias=True, rngs=rngs)
    self.norm1 = _layer_norm(dim // 2, rngs) if config.stem_mid_norm else None
    self.conv2 = layers.conv(dim // 2, dim, 3, stride=2, bias=True, rngs=rngs)
    self.norm2 = _layer_norm(dim, rngs)
    self.act = layers.activation(config.activation)

  def __call__(self, x):
    x = self.conv1(x)
    x = self.norm1(x) if self.norm1 is not None else x
    return self.norm2(self.conv2(self.act(x)))


class Downsample(nnx.Module):
  """3×3/2 conv (bias) with a LayerNorm after it, or before it (``norm_first``)."""

  def __init__(self, in_dim: int, out_dim: int, norm_first: bool, *, rngs: nnx.Rngs):
    self.norm_first = norm_first
    self.norm = _layer_norm(in_dim if norm_first else out_dim, rngs)
    self.conv = layers.conv(in_dim, out_dim, 3, stride=2, bias=True, rngs=rngs)

  def __call__(self, x):
    return self.conv(self.norm(x)) if self.norm_first else self.norm(self.conv(x))


class GatedConvBlock(nnx.Module):
  def __init__(self, dim: int, config: MambaOutConfig, *, rngs: nnx.Rngs):
    hidden, conv_channels = int(config.expansion_ratio * dim), int(config.conv_ratio * dim)
    self.splits = (hidden, 2 * hidden - conv_channels)  # (g | i | c) boundaries in fc1's output
    self.norm = _layer_norm(dim, rngs)
    self.fc1 = nnx.Linear(dim, 2 * hidden, rngs=rngs)
    self.conv = layers.conv(conv_channels, conv_channels, config.kernel_size, groups=conv_channels, bias=True,
                            rngs=rngs)
    self.fc2 = nnx.Linear(hidden, dim, rngs=rngs)
    self.ls = LayerScale(dim) if config.layer_scale else None
    self.act = layers.activation(config.activation)

  def __call__(self, x):
    gate, identity, convolved = jnp.split(self.fc1(self.norm(x)), self.splits, axis=-1)
    out = self.fc2(self.act(gate) * jnp.concatenate([identity, self.conv(convolved)], axis=-1))
    return x + (self.ls(out) if self.ls is not None else out)


class MambaOutStage(nnx.Module):
  def __init__(self, config: MambaOutConfig, index: int, *, rngs: nnx.Rngs):
    dim = config.dims[index]
    self.downsample = (Downsample(config.dims[index - 1], dim, config.downsample == "conv_nf", rngs=rngs)
                       if index else None)
    self.blocks = nnx.List([GatedConvBlock(dim, config, rngs=rngs) for _ in range(config.depths[index])])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class PreLogits(nnx.Module):
  """GELU(fc(x)) [→ LN]: the head's hidden layer (timm's ``pre_logits`` Sequential)."""

  def __init__(self, dim: int, hidden: int, hidden_norm: bool, *, rngs: nnx.Rngs):
    self.fc = nnx.Linear(dim, hidden, rngs=rngs)
    self.norm = _layer_norm(hidden, rngs) if hidden_norm else None

  def __call__(self, x):
    x = layers.activation("gelu")(self.fc(x))
    return self.norm(x) if self.norm is not None else x


class MlpHead(nnx.Module):
  """LN(mean) → pre_logits (the embedding) → fc: timm's MlpHead (``hidden_norm``) or
  ClNormMlpClassifierHead, hidden width 4 · dim."""

  def __init__(self, dim: int, num_classes: int, hidden_norm: bool, *, rngs: nnx.Rngs):
    self.norm = _layer_norm(dim, rngs)
    self.pre_logits = PreLogits(dim, 4 * dim, hidden_norm, rngs=rngs)
    self.fc = nnx.Linear(4 * dim, num_classes, rngs=rngs) if num_classes else None

  def __call__(self, x):
    embedding = self.pre_logits(self.norm(jnp.mean(x, axis=(1, 2))))
    return (self.fc(embedding) if self.fc is not None else embedding), embedding


class MambaOut(nnx.Module):
  def __init__(self, config: MambaOutConfig, *, rngs: nnx.Rngs):
    self.stem = Stem(config, rngs=rngs)
    self.stages = nnx.List([MambaOutStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    self.head = MlpHead(config.dims[-1], config.num_classes, config.head == "default", rngs=rngs)

  def __call__(self, images):
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    return self.head(x)
