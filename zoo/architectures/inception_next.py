"""InceptionNeXt (Yu et al. 2024, "InceptionNeXt: When Inception Meets ConvNeXt"), the layout and
semantics of timm's ``MetaNeXt`` (timm/models/inception_next.py).

stem (4×4/4 conv → batch norm) → stages (i > 0: batch norm → 2×2/2 conv; then blocks of
x + γ·mlp(BN(mixer(x))), the mixer an Inception depthwise conv: channels split into
[identity | 3×3 | 1×k | k×1] depthwise convs; mlp 1×1 conv → GELU → 1×1 conv) → global mean →
Linear 3× → GELU → LayerNorm (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp

HEAD_MLP_RATIO = 3  # timm's MlpClassifierHead default
HEAD_NORM_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class InceptionNextConfig:
  """Defaults: InceptionNeXt-T. ``band_kernel_size`` and ``branch_ratio`` (channels per conv
  branch, as a fraction) set the token mixer; ``mlp_ratios`` the MLP width per stage."""
  depths: tuple[int, ...] = (3, 3, 9, 3)
  dims: tuple[int, ...] = (96, 192, 384, 768)
  mlp_ratios: tuple[float, ...] = (4, 4, 4, 3)
  band_kernel_size: int = 11
  branch_ratio: float = 0.125
  layer_scale: bool = True
  num_channels: int = 3
  num_classes: int = 1000


class InceptionDepthwiseConv(nnx.Module):
  """Channels split into [identity | square 3×3 | 1×k | k×1 depthwise convs], concatenated
  (timm's InceptionDWConv2d; ``int(width · branch_ratio)`` channels per conv branch)."""

  def __init__(self, width: int, band_kernel_size: int, branch_ratio: float, *, rngs: nnx.Rngs):
    branch = int(width * branch_ratio)
    pad = band_kernel_size // 2
    band = lambda kernel, padding: nnx.Conv(branch, branch, kernel, padding=padding, feature_group_count=branch,
                                            rngs=rngs)
    self.dwconv_hw = layers.conv(branch, branch, 3, groups=branch, bias=True, rngs=rngs)
    self.dwconv_w = band((1, band_kernel_size), ((0, 0), (pad, pad)))
    self.dwconv_h = band((band_kernel_size, 1), ((pad, pad), (0, 0)))
    self.splits = (width - 3 * branch, width - 2 * branch, width - branch)  # where each branch starts

  def __call__(self, x):
    identity, square, wide, tall = jnp.split(x, self.splits, axis=-1)
    return jnp.concatenate((identity, self.dwconv_hw(square), self.dwconv_w(wide), self.dwconv_h(tall)), axis=-1)


class MetaNextBlock(nnx.Module):
  """x + γ · mlp(BN(mixer(x)))."""

  def __init__(self, config: InceptionNextConfig, width: int, mlp_ratio: float, *, rngs: nnx.Rngs):
    self.token_mixer = InceptionDepthwiseConv(width, config.band_kernel_size, config.branch_ratio, rngs=rngs)
    self.norm = layers.batch_norm(width, rngs=rngs)
    self.mlp = Mlp(width, int(mlp_ratio * width), "gelu", rngs=rngs)
    self.gamma = nnx.Param(jnp.ones((width,))) if config.layer_scale else None

  def __call__(self, x):
    y = self.mlp(self.norm(self.token_mixer(x)))
    return x + (y * self.gamma[...] if self.gamma is not None else y)


class MetaNextStage(nnx.Module):
  """[BN → 2×2/2 conv] (every stage but the first) then the blocks."""

  def __init__(self, config: InceptionNextConfig, stage: int, *, rngs: nnx.Rngs):
    in_width, width = config.dims[max(stage - 1, 0)], config.dims[stage]
    self.downsample_norm = layers.batch_norm(in_width, rngs=rngs) if stage else None
    self.downsample = (layers.conv(in_width, width, 2, stride=2, padding="VALID", bias=True, rngs=rngs)
                       if stage else None)
    self.blocks = nnx.List([MetaNextBlock(config, width, config.mlp_ratios[stage], rngs=rngs)
                            for _ in range(config.depths[stage])])

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample(self.downsample_norm(x))
    for block in self.blocks:
      x = block(x)
    return x


class InceptionNext(nnx.Module):
  """The embedding is LayerNorm(GELU(Linear(mean over H, W))) (timm's MlpClassifierHead pre-logits)."""

  def __init__(self, config: InceptionNextConfig, *, rngs: nnx.Rngs):
    self.stem = layers.conv(config.num_channels, config.dims[0], 4, stride=4, padding="VALID", bias=True, rngs=rngs)
    self.stem_norm = layers.batch_norm(config.dims[0], rngs=rngs)
    self.stages = nnx.List([MetaNextStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    width, hidden = config.dims[-1], HEAD_MLP_RATIO * config.dims[-1]
    self.head_fc = nnx.Linear(width, hidden, rngs=rngs)
    self.head_norm = nnx.LayerNorm(hidden, epsilon=HEAD_NORM_EPS, rngs=rngs)
    self.head = nnx.Linear(hidden, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map of the last stage."""
    x = self.stem_norm(self.stem(images))
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    pooled = jnp.mean(self.forward_features(images), axis=(1, 2))
    embedding = self.head_norm(layers.activation("gelu")(self.head_fc(pooled)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
