"""VoVNet V2 / ESE-VoVNet (Lee & Park 2020, "CenterMask: Real-Time Anchor-Free Instance
Segmentation"), timm's layout (``timm/models/vovnet.py``).

stem (3×3/2, 3×3, 3×3/2 conv-BN-ReLU; separable convs after the first in the depthwise models)
→ 4 stages (the first without a 3×3/2 ceil-mode max pool) of one-shot-aggregation blocks:
[x, c₁, …, c_L] concatenated (c_i = conv(c_{i-1})) → 1×1 conv-BN-ReLU → effective SE on a
stage's last block → + x from a stage's second block on → global mean → Linear."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class VovNetConfig:
  """Defaults: timm's ese_vovnet39b (model_cfgs)."""
  stem_channels: tuple[int, int, int] = (64, 64, 128)
  stage_conv_channels: tuple[int, ...] = (128, 160, 192, 224)
  stage_out_channels: tuple[int, ...] = (256, 512, 768, 1024)
  layers_per_block: int = 5
  blocks_per_stage: tuple[int, ...] = (1, 1, 2, 2)
  residual: bool = True
  depthwise: bool = False
  effective_se: bool = True  # timm's attn='ese'
  num_channels: int = 3
  num_classes: int = 1000


class SeparableConvNormAct(nnx.Module):
  """timm's SeparableConvNormAct: depthwise k×k (no bias) → pointwise 1×1 (no bias) → BN → ReLU."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, *, stride: int = 1,
               rngs: nnx.Rngs):
    self.conv_dw = layers.conv(in_features, in_features, kernel_size, stride=stride, groups=in_features, rngs=rngs)
    self.conv_pw = layers.conv(in_features, out_features, 1, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)

  def __call__(self, x):
    return jax.nn.relu(self.bn(self.conv_pw(self.conv_dw(x))))


class EffectiveSE(nnx.Module):
  """x · hard_sigmoid(fc(mean_hw(x))): one 1×1 conv with bias, no reduction (timm's EffectiveSEModule)."""

  def __init__(self, features: int, *, rngs: nnx.Rngs):
    self.fc = layers.conv(features, features, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    return x * jax.nn.hard_sigmoid(self.fc(jnp.mean(x, axis=(1, 2), keepdims=True)))


def _conv(config: VovNetConfig, in_features: int, out_features: int, *, stride: int = 1, rngs: nnx.Rngs):
  """A 3×3 conv-BN-ReLU, separable in the depthwise models."""
  if config.depthwise:
    return SeparableConvNormAct(in_features, out_features, stride=stride, rngs=rngs)
  return ConvNormAct(in_features, out_features, 3, stride=stride, rngs=rngs)


class OsaBlock(nnx.Module):
  """One-shot aggregation: concat(x, c₁, …, c_L) → 1×1 conv-BN-ReLU (→ ESE) (+ x)."""

  def __init__(self, config: VovNetConfig, in_features: int, mid: int, out_features: int, *, residual: bool,
               attention: bool, rngs: nnx.Rngs):
    self.residual = residual
    # The depthwise models first reduce to the mid width (timm: not on residual blocks, where widths agree).
    self.conv_reduction = (ConvNormAct(in_features, mid, 1, rngs=rngs)
                           if config.depthwise and in_features != mid else None)
    widths = [mid if config.depthwise else in_features] + [mid] * (config.layers_per_block - 1)
    self.conv_mid = nnx.List([_conv(config, width, mid, rngs=rngs) for width in widths])
    self.conv_concat = ConvNormAct(in_features + config.layers_per_block * mid, out_features, 1, rngs=rngs)
    self.attn = EffectiveSE(out_features, rngs=rngs) if attention else None

  def __call__(self, x):
    outputs = [x]
    y = self.conv_reduction(x) if self.conv_reduction is not None else x
    for conv in self.conv_mid:
      y = conv(y)
      outputs.append(y)
    y = self.conv_concat(jnp.concatenate(outputs, axis=-1))
    if self.attn is not None:
      y = self.attn(y)
    return y + x if self.residual else y


class OsaStage(nnx.Module):
  def __init__(self, config: VovNetConfig, index: int, in_features: int, *, rngs: nnx.Rngs):
    self.downsample = index > 0  # timm: the stride-4 stem makes the first stage's pool redundant
    mid, out = config.stage_conv_channels[index], config.stage_out_channels[index]
    count = config.blocks_per_stage[index]
    self.blocks = nnx.List([OsaBlock(config, in_features if i == 0 else out, mid, out,
                                     residual=config.residual and i > 0,
                                     attention=config.effective_se and i == count - 1, rngs=rngs)
                            for i in range(count)])

  def __call__(self, x):
    if self.downsample:
      x = layers.max_pool_torch(x, 3, 2, 0, ceil_mode=True)
    for block in self.blocks:
      x = block(x)
    return x


class VovNet(nnx.Module):
  def __init__(self, config: VovNetConfig, *, rngs: nnx.Rngs):
    first, second, third = config.stem_channels
    separable_or_plain = SeparableConvNormAct if config.depthwise else ConvNormAct
    self.stem = nnx.List([
        ConvNormAct(config.num_channels, first, 3, stride=2, rngs=rngs),
        separable_or_plain(first, second, 3, stride=1, rngs=rngs),
        separable_or_plain(second, third, 3, stride=2, rngs=rngs)])
    inputs = (third,) + tuple(config.stage_out_channels[:-1])
    self.stages = nnx.List([OsaStage(config, i, inputs[i], rngs=rngs) for i in range(len(config.stage_out_channels))])
    width = config.stage_out_channels[-1]
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = images
    for layer in self.stem:
      x = layer(x)
    for stage in self.stages:
      x = stage(x)
    return layers.pool_and_classify(x, self.head)
