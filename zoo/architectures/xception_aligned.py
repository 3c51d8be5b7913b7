"""timm's Aligned Xception (timm/models/xception_aligned.py: Xception-41/65/71 of DeepLab, Chen et al. 2018,
and the pre-activation Xception-41p/65p), in timm's tensor naming.

Stem: 3×3/2 conv+BN+ReLU to 32 channels, a 3×3 conv to 64 (+BN+ReLU; a bare conv in the pre-activation
models). Each block: three separable convs (depthwise 3×3 → pointwise 1×1, the last one carrying the
block's stride) with widths ``out_features``, plus a shortcut (a 1×1 conv [+BN] when the shape changes,
none for the ``no_skip`` exit block):
  * post-activation (``XceptionModule``): ReLU before each separable conv (``start_with_relu``), each conv
    followed by BN (and by ReLU after each BN instead when not ``start_with_relu``);
  * pre-activation (``PreXceptionModule``): BN+ReLU of the block input feeds the stack and the shortcut,
    BN+ReLU before the second and third separable conv, none after; a final ReLU after the last block.
Global mean (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class XceptionBlock:
  """One row of timm's ``block_cfg``: input width, the three separable convs' widths, the stride."""
  in_features: int
  out_features: tuple[int, int, int]
  stride: int = 1
  no_skip: bool = False
  start_with_relu: bool = True  # post-activation blocks only


@dataclasses.dataclass(frozen=True)
class XceptionAlignedConfig:
  blocks: tuple[XceptionBlock, ...]
  preact: bool = False
  epsilon: float = 1e-5  # timm's norm_layer eps (1e-3 for the TF-ported weights)
  num_channels: int = 3
  num_classes: int = 1000


class SeparableConv(nnx.Module):
  """timm's SeparableConv2d: [act](bn_dw(conv_dw x)) → [act](bn_pw(conv_pw ·)); act only when ``act``."""

  def __init__(self, in_features: int, out_features: int, stride: int, act: bool, epsilon: float, *,
               rngs: nnx.Rngs):
    self.conv_dw = layers.conv(in_features, in_features, 3, stride=stride, groups=in_features, rngs=rngs)
    self.bn_dw = layers.batch_norm(in_features, epsilon=epsilon, rngs=rngs)
    self.conv_pw = layers.conv(in_features, out_features, 1, rngs=rngs)
    self.bn_pw = layers.batch_norm(out_features, epsilon=epsilon, rngs=rngs)
    self.act = act

  def __call__(self, x):
    x = self.bn_dw(self.conv_dw(x))
    x = self.bn_pw(self.conv_pw(nnx.relu(x) if self.act else x))
    return nnx.relu(x) if self.act else x


class PreSeparableConv(nnx.Module):
  """timm's PreSeparableConv2d: conv_pw(conv_dw([relu(norm x)])), the norm only when ``first_act``."""

  def __init__(self, in_features: int, out_features: int, stride: int, first_act: bool, epsilon: float, *,
               rngs: nnx.Rngs):
    self.norm = layers.batch_norm(in_features, epsilon=epsilon, rngs=rngs) if first_act else None
    self.conv_dw = layers.conv(in_features, in_features, 3, stride=stride, groups=in_features, rngs=rngs)
    self.conv_pw = layers.conv(in_features, out_features, 1, rngs=rngs)

  def __call__(self, x):
    x = nnx.relu(self.norm(x)) if self.norm is not None else x
    return self.conv_pw(self.conv_dw(x))


def _needs_shortcut(spec: XceptionBlock) -> bool:
  return not spec.no_skip and (spec.out_features[-1] != spec.in_features or spec.stride != 1)


class XceptionModule(nnx.Module):
  """timm's XceptionModule: stack(x) + shortcut(x), stack = three [relu →] separable convs."""

  def __init__(self, spec: XceptionBlock, epsilon: float, *, rngs: nnx.Rngs):
    widths = (spec.in_features, *spec.out_features)
    self.start_with_relu, self.no_skip = spec.start_with_relu, spec.no_skip
    self.convs = nnx.List([SeparableConv(widths[i], widths[i + 1], spec.stride if i == 2 else 1,
                                         not spec.start_with_relu, epsilon, rngs=rngs) for i in range(3)])
    self.shortcut = (ConvNormAct(spec.in_features, widths[-1], 1, stride=spec.stride, act=None, epsilon=epsilon,
                                 rngs=rngs) if _needs_shortcut(spec) else None)

  def __call__(self, x):
    y = x
    for conv in self.convs:
      y = conv(nnx.relu(y) if self.start_with_relu else y)
    if self.no_skip:
      return y
    return y + (self.shortcut(x) if self.shortcut is not None else x)


class PreXceptionModule(nnx.Module):
  """timm's PreXceptionModule: x' = relu(norm x); stack(x') + shortcut(x') (shortcut: a 1×1 conv or identity)."""

  def __init__(self, spec: XceptionBlock, epsilon: float, *, rngs: nnx.Rngs):
    widths = (spec.in_features, *spec.out_features)
    self.no_skip = spec.no_skip
    self.norm = layers.batch_norm(spec.in_features, epsilon=epsilon, rngs=rngs)
    self.convs = nnx.List([PreSeparableConv(widths[i], widths[i + 1], spec.stride if i == 2 else 1, i > 0, epsilon,
                                            rngs=rngs) for i in range(3)])
    self.shortcut = (layers.conv(spec.in_features, widths[-1], 1, stride=spec.stride, rngs=rngs)
                     if _needs_shortcut(spec) else None)

  def __call__(self, x):
    x = nnx.relu(self.norm(x))
    y = x
    for conv in self.convs:
      y = conv(y)
    if self.no_skip:
      return y
    return y + (self.shortcut(x) if self.shortcut is not None else x)


class XceptionAligned(nnx.Module):
  """stem → Xception blocks → [relu (pre-activation)] → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: XceptionAlignedConfig, *, rngs: nnx.Rngs):
    eps = config.epsilon
    second = (layers.conv(32, 64, 3, rngs=rngs) if config.preact
              else ConvNormAct(32, 64, 3, epsilon=eps, rngs=rngs))
    self.stem = nnx.List([ConvNormAct(config.num_channels, 32, 3, stride=2, epsilon=eps, rngs=rngs), second])
    module = PreXceptionModule if config.preact else XceptionModule
    self.blocks = nnx.List([module(spec, eps, rngs=rngs) for spec in config.blocks])
    self.preact = config.preact
    features = config.blocks[-1].out_features[-1]
    self.head = nnx.Linear(features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = images
    for layer in [*self.stem, *self.blocks]:
      x = layer(x)
    return nnx.relu(x) if self.preact else x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
