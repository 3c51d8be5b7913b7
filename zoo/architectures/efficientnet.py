"""EfficientNet (Tan & Le 2019) with the padding of the TF originals as transformers ports
them: stride-2 convs pad asymmetrically (more after) then run VALID; stride-1 convs pad
symmetrically. Width/depth scaling from the compound coefficients (B0–B7)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class EfficientNetConfig:
  """Field names follow transformers' ``EfficientNetConfig``; defaults are B0."""
  width_coefficient: float = 1.0
  depth_coefficient: float = 1.0
  depth_divisor: int = 8
  kernel_sizes: tuple[int, ...] = (3, 3, 5, 3, 5, 5, 3)
  in_channels: tuple[int, ...] = (32, 16, 24, 40, 80, 112, 192)
  out_channels: tuple[int, ...] = (16, 24, 40, 80, 112, 192, 320)
  depthwise_padding: tuple[int, ...] = ()  # blocks whose stride-2 padding is symmetric
  strides: tuple[int, ...] = (1, 2, 2, 2, 1, 2, 1)
  num_block_repeats: tuple[int, ...] = (1, 2, 2, 3, 3, 4, 1)
  expand_ratios: tuple[int, ...] = (1, 6, 6, 6, 6, 6, 6)
  squeeze_expansion_ratio: float = 0.25
  hidden_act: str = "swish"
  hidden_dim: int = 1280
  batch_norm_eps: float = 1e-3
  num_channels: int = 3
  num_classes: int = 1000

  def round_filters(self, channels: int) -> int:
    """Channels × width coefficient, rounded to the divisor (never below 90 %)."""
    return layers.make_divisible(channels * self.width_coefficient, self.depth_divisor)


class MBConvBlock(nnx.Module):
  """[1×1 expand] → depthwise k×k → squeeze-excite → 1×1 project (+ input when not first of a stage)."""

  def __init__(self, config: EfficientNetConfig, in_dim, out_dim, stride, expand_ratio, kernel_size, *,
               first_in_stage: bool, symmetric_padding: bool, rngs: nnx.Rngs):
    eps, mid = config.batch_norm_eps, in_dim * expand_ratio
    self.stride, self.kernel_size, self.symmetric_padding = stride, kernel_size, symmetric_padding
    self.residual = stride == 1 and not first_in_stage
    self.act = layers.activation(config.hidden_act)
    if expand_ratio != 1:
      self.expand_conv = layers.conv(in_dim, mid, 1, rngs=rngs)
      self.expand_bn = layers.batch_norm(mid, epsilon=eps, rngs=rngs)
    else:
      self.expand_conv = self.expand_bn = None
    padding = "torch" if stride == 1 else "VALID"
    self.depthwise_conv = layers.conv(mid, mid, kernel_size, stride=stride, groups=mid, padding=padding, rngs=rngs)
    self.depthwise_bn = layers.batch_norm(mid, epsilon=eps, rngs=rngs)
    squeezed = max(1, int(in_dim * config.squeeze_expansion_ratio))
    self.se_reduce = layers.conv(mid, squeezed, 1, bias=True, rngs=rngs)
    self.se_expand = layers.conv(squeezed, mid, 1, bias=True, rngs=rngs)
    self.project_conv = layers.conv(mid, out_dim, 1, rngs=rngs)
    self.project_bn = layers.batch_norm(out_dim, epsilon=eps, rngs=rngs)

  def __call__(self, inputs):
    x = inputs
    if self.expand_conv is not None:
      x = self.act(self.expand_bn(self.expand_conv(x)))
    if self.stride == 2:
      half = self.kernel_size // 2
      before = half if self.symmetric_padding else half - 1
      x = layers.pad_hw(x, before, half, before, half)
    x = self.act(self.depthwise_bn(self.depthwise_conv(x)))
    gate = jnp.mean(x, axis=(1, 2), keepdims=True)
    x = x * jax.nn.sigmoid(self.se_expand(self.act(self.se_reduce(gate))))
    x = self.project_bn(self.project_conv(x))
    return x + inputs if self.residual else x


class EfficientNet(nnx.Module):
  """stem (pad right/bottom, 3×3/2) → MBConv blocks → 1×1 head conv → global mean → Linear."""

  def __init__(self, config: EfficientNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    eps = config.batch_norm_eps
    stem = config.round_filters(32)
    self.act = layers.activation(config.hidden_act)
    self.stem_conv = layers.conv(config.num_channels, stem, 3, stride=2, padding="VALID", rngs=rngs)
    self.stem_bn = layers.batch_norm(stem, epsilon=eps, rngs=rngs)
    blocks = []
    for stage in range(len(config.in_channels)):
      in_dim, out_dim = config.round_filters(config.in_channels[stage]), config.round_filters(config.out_channels[stage])
      for j in range(int(math.ceil(config.depth_coefficient * config.num_block_repeats[stage]))):
        blocks.append(MBConvBlock(
            config, in_dim if j == 0 else out_dim, out_dim, config.strides[stage] if j == 0 else 1,
            config.expand_ratios[stage], config.kernel_sizes[stage], first_in_stage=j == 0,
            symmetric_padding=len(blocks) in config.depthwise_padding, rngs=rngs))
    self.blocks = nnx.List(blocks)
    head = config.round_filters(1280)
    if head != config.hidden_dim:
      raise ValueError(f"EfficientNet hidden_dim {config.hidden_dim} ≠ round_filters(1280) = {head}.")
    self.head_conv = layers.conv(out_dim, head, 1, rngs=rngs)
    self.head_bn = layers.batch_norm(head, epsilon=eps, rngs=rngs)
    self.head = nnx.Linear(head, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.act(self.stem_bn(self.stem_conv(layers.pad_hw(images, 0, 1, 0, 1))))
    for block in self.blocks:
      x = block(x)
    return self.act(self.head_bn(self.head_conv(x)))

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
