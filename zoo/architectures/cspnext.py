"""timm's CSPNeXt (timm/models/cspnext.py: the RTMDet backbone of OpenMMLab, Lyu et al. 2022), in timm's tensor
naming.

Stem: three 3×3 conv+BN+SiLU (the first stride 2; widths w/4, w/4, w/2 of the first stage's w). Each stage:
a 3×3/2 conv+BN+SiLU, [in the last stage an SPP bottleneck: 1×1 conv to half, concatenated with its 5/9/13
stride-1 max-pools, 1×1 conv], then a CSP layer: ``main_conv`` and ``short_conv`` (1×1, each to
``expand_ratio`` · width); the main branch through blocks (3×3 conv, then a 5×5 depthwise and a 1×1 conv, each
conv+BN+SiLU; plus the input except in the last stage); [main, short] concatenated, effective-SE channel
attention, 1×1 ``final_conv``. Global mean (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct
from zoo.architectures.vovnet import EffectiveSE

SPP_KERNELS = (5, 9, 13)  # timm's SPPBottleneck default kernel_sizes
BLOCK_KERNEL = 5  # timm's CspNextBlock default depthwise kernel_size


@dataclasses.dataclass(frozen=True)
class CspNextConfig:
  """timm's CspNext arguments after deepen / widen factors (depths max(round(d · deepen), 1), widths
  int(c · widen))."""
  depths: tuple[int, ...] = (3, 6, 6, 3)
  widths: tuple[int, ...] = (128, 256, 512, 1024)
  expand_ratio: float = 0.5
  channel_attention: bool = True
  num_channels: int = 3
  num_classes: int = 1000


class SppBottleneck(nnx.Module):
  """conv2(concat[y, maxpool_k(y) for k in 5, 9, 13]) with y = conv1(x) (half the channels)."""

  def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
    mid = in_features // 2
    self.conv1 = ConvNormAct(in_features, mid, 1, act="silu", rngs=rngs)
    self.conv2 = ConvNormAct(mid * (len(SPP_KERNELS) + 1), out_features, 1, act="silu", rngs=rngs)

  def __call__(self, x):
    x = self.conv1(x)
    return self.conv2(jnp.concatenate([x, *[layers.max_pool_torch(x, k, 1, k // 2) for k in SPP_KERNELS]], axis=-1))


class DepthwiseSeparable(nnx.Module):
  """pointwise_conv(depthwise_conv(x)), both conv+BN+SiLU."""

  def __init__(self, features: int, kernel_size: int, *, rngs: nnx.Rngs):
    self.depthwise_conv = ConvNormAct(features, features, kernel_size, groups=features, act="silu", rngs=rngs)
    self.pointwise_conv = ConvNormAct(features, features, 1, act="silu", rngs=rngs)

  def __call__(self, x):
    return self.pointwise_conv(self.depthwise_conv(x))


class CspNextBlock(nnx.Module):
  """conv2(conv1(x)) [+ x]: a 3×3 conv then a 5×5 depthwise-separable one."""

  def __init__(self, features: int, residual: bool, *, rngs: nnx.Rngs):
    self.conv1 = ConvNormAct(features, features, 3, act="silu", rngs=rngs)
    self.conv2 = DepthwiseSeparable(features, BLOCK_KERNEL, rngs=rngs)
    self.residual = residual

  def __call__(self, x):
    y = self.conv2(self.conv1(x))
    return y + x if self.residual else y


class CspNextLayer(nnx.Module):
  """final_conv(attention(concat[blocks(main_conv x), short_conv x]))."""

  def __init__(self, config: CspNextConfig, features: int, depth: int, residual: bool, *, rngs: nnx.Rngs):
    mid = int(features * config.expand_ratio)
    self.short_conv = ConvNormAct(features, mid, 1, act="silu", rngs=rngs)
    self.main_conv = ConvNormAct(features, mid, 1, act="silu", rngs=rngs)
    self.blocks = nnx.List([CspNextBlock(mid, residual, rngs=rngs) for _ in range(depth)])
    self.attention = EffectiveSE(2 * mid, rngs=rngs) if config.channel_attention else None
    self.final_conv = ConvNormAct(2 * mid, features, 1, act="silu", rngs=rngs)

  def __call__(self, x):
    main = self.main_conv(x)
    for block in self.blocks:
      main = block(main)
    y = jnp.concatenate([main, self.short_conv(x)], axis=-1)
    return self.final_conv(self.attention(y) if self.attention is not None else y)


class CspNext(nnx.Module):
  """stem → stages (strided conv, [SPP], CSP layer) → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: CspNextConfig, *, rngs: nnx.Rngs):
    stem = max(config.widths[0] // 2, 1)
    half = max(stem // 2, 1)
    self.stem = nnx.List([ConvNormAct(config.num_channels, half, 3, stride=2, act="silu", rngs=rngs),
                          ConvNormAct(half, half, 3, act="silu", rngs=rngs),
                          ConvNormAct(half, stem, 3, act="silu", rngs=rngs)])
    previous, stages = stem, []
    for index, (width, depth) in enumerate(zip(config.widths, config.depths)):
      last = index == len(config.widths) - 1
      stage = [ConvNormAct(previous, width, 3, stride=2, act="silu", rngs=rngs)]
      stage += [SppBottleneck(width, width, rngs=rngs)] if last else []
      stage.append(CspNextLayer(config, width, depth, residual=not last, rngs=rngs))
      stages.append(nnx.List(stage))
      previous = width
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(previous, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = images
    for layer in self.stem:
      x = layer(x)
    for stage in self.stages:
      for layer in stage:
        x = layer(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
