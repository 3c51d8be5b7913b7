"""Normalization-free networks (Brock et al. 2021: NF-ResNets, "Characterizing signal propagation
...", and NFNets, "High-Performance Large-Scale Image Recognition Without Normalization"), timm's
layout (``timm/models/nfnet.py``, class ``NormFreeNet``): NFNet-F (DeepMind's and timm's),
NFNet-L / ECA-NFNet-L, NF-RegNet, NF-ResNet.

Every conv is a scaled weight-standardised conv (:class:`ScaledStdConv`). A block is a
pre-activation bottleneck: h = act(x)·β; shortcut = x, or [2×2/2 avg pool →] 1×1 conv of h when
the shape changes; r = conv3(act(conv2b(act(conv2(act(conv1(h))))))) (conv2b in NFNets only;
SE/ECA ×``attn_gain`` after conv2 in RegNets, after conv3 otherwise; × a learned scalar with
skipinit); out = α·r + shortcut, with β = 1/√v, v = 1 + k·α² the expected variance after the k
blocks run since the last stage start (a stage's first block counts the previous stage's blocks; the
network's first block has v = 1). The activations carry the NF gain γ (``gamma_in_act``) or the convs do (scale γ/√fan-in).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import EfficientChannelAttention, SqueezeExcite

# timm's _nonlin_gamma (from deepmind-research/nfnets): the gain that restores unit variance after
# each activation on unit-Gaussian inputs.
NONLINEARITY_GAMMA = {"relu": 1.7139588594436646, "silu": 1.7881293296813965, "gelu": 1.7015043497085571}


@dataclasses.dataclass(frozen=True)
class NfNetConfig:
  """Field names follow timm's ``NfCfg``; defaults: timm's nfnet_l0."""
  depths: tuple[int, ...] = (1, 2, 6, 3)
  channels: tuple[int, ...] = (256, 512, 1536, 1536)
  alpha: float = 0.2
  stem_type: str = "deep_quad"  # "3x3" (3×3/2 conv), "7x7_pool" (7×7/2 conv, 3×3/2 max pool), "deep_quad"
  # (four 3×3 convs with activations between: widths c/8, c/4, c/2, c, strides 2, 1, 1, 2)
  stem_chs: int | None = 128
  group_size: int | None = 64
  attention: str | None = "se"  # "se", "eca" or None
  attn_rd_ratio: float = 0.25  # SE: hidden = make_divisible(channels · rd_ratio, rd_divisor, round_limit 0)
  attn_rd_divisor: int = 8
  attn_gain: float = 2.0
  width_factor: float = 1.0
  bottle_ratio: float = 0.25
  num_features: int = 2304  # final 1×1 conv width (times width_factor), none when 0
  ch_div: int = 8
  reg: bool = False  # RegNet blocks: mid width from the input width (ratio 1 in the first block), attention mid-block
  extra_conv: bool = False  # NFNets: a second 3×3 grouped conv
  gamma_in_act: bool = False  # γ multiplies the activations (DeepMind's weights) instead of the conv scale
  same_padding: bool = False  # TF "SAME" padding (DeepMind's weights)
  std_conv_eps: float = 1e-5
  skipinit: bool = False  # a learned scalar gain on the residual branch
  act: str = "silu"
  num_channels: int = 3
  num_classes: int = 1000


class ScaledStdConv(nnx.Module):
  """timm's ScaledStdConv2d(Same): kernel W' = (W − mean W) / √(var W + ε) · gain · γ / √fan-in,
  moments per output channel over (h, w, in/groups) with the biased variance; then a conv with
  bias (PyTorch padding k//2, or TF "SAME")."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, *, stride: int = 1, groups: int = 1,
               gamma: float = 1.0, epsilon: float = 1e-5, same_padding: bool = False, rngs: nnx.Rngs):
    init = nnx.initializers.lecun_normal()
    fan_in = kernel_size * kernel_size * in_features // groups
    self.kernel = nnx.Param(init(rngs.params(), (kernel_size, kernel_size, in_features // groups, out_features)))
    self.bias = nnx.Param(jnp.zeros((out_features,)))
    self.gain = nnx.Param(jnp.ones((out_features,)))
    self.scale, self.epsilon = gamma / math.sqrt(fan_in), epsilon
    self.stride, self.groups = stride, groups
    self.padding = "SAME" if same_padding else layers.torch_padding(kernel_size)

  def __call__(self, x):
    kernel = self.kernel[...]
    mean = jnp.mean(kernel, axis=(0, 1, 2), keepdims=True)
    var = jnp.var(kernel, axis=(0, 1, 2), keepdims=True)
    kernel = (kernel - mean) * jax.lax.rsqrt(var + self.epsilon) * (self.gain[...] * self.scale)
    y = jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (self.stride, self.stride), self.padding,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=self.groups)
    return y + self.bias[...]


class _Context:
  """What every layer of one network is built with: its conv factory and activation (only while
  building: modules keep the activation's name and gain as static attributes, which hash)."""

  def __init__(self, config: NfNetConfig, rngs: nnx.Rngs):
    self.config, self.rngs = config, rngs
    gamma = NONLINEARITY_GAMMA[config.act]
    self.act = (config.act, gamma if config.gamma_in_act else 1.0)
    self.conv_gamma = 1.0 if config.gamma_in_act else gamma

  def conv(self, in_features, out_features, kernel_size, *, stride=1, groups=1):
    return ScaledStdConv(in_features, out_features, kernel_size, stride=stride, groups=groups, gamma=self.conv_gamma,
                         epsilon=self.config.std_conv_eps, same_padding=self.config.same_padding, rngs=self.rngs)


def _act(x, act: tuple[str, float]):
  """The activation ``act[0]`` times its NF gain ``act[1]`` (timm's GammaAct; 1 = a plain activation)."""
  name, gamma = act
  y = layers.activation(name)(x)
  return y * gamma if gamma != 1.0 else y


class AvgDownsample(nnx.Module):
  """[2×2/2 average pool, ceil mode, valid pixels only, when strided] → 1×1 conv (timm's DownsampleAvg)."""

  def __init__(self, context: _Context, in_features: int, out_features: int, stride: int):
    self.stride = stride
    self.conv = context.conv(in_features, out_features, 1)

  def __call__(self, x):
    if self.stride > 1:
      x = layers.avg_pool_torch(x, 2, 2, ceil_mode=True, count_include_pad=False)
    return self.conv(x)


def _attention(config: NfNetConfig, features: int, rngs: nnx.Rngs):
  if config.attention == "se":
    hidden = layers.make_divisible(features * config.attn_rd_ratio, config.attn_rd_divisor, round_limit=0.0)
    return SqueezeExcite(features, hidden, rngs=rngs)
  if config.attention == "eca":
    return EfficientChannelAttention(features, rngs=rngs)
  return None


class NormFreeBlock(nnx.Module):
  """The pre-activation bottleneck of the module docstring (timm's NormFreeBlock)."""

  def __init__(self, context: _Context, in_features: int, out_features: int, *, stride: int, beta: float,
               bottle_ratio: float):
    config, rngs = context.config, context.rngs
    self.act, self.alpha, self.beta, self.attn_gain = context.act, config.alpha, beta, config.attn_gain
    mid = layers.make_divisible((in_features if config.reg else out_features) * bottle_ratio, config.ch_div)
    groups = mid // config.group_size if config.group_size else 1
    if config.group_size and config.group_size % config.ch_div == 0:
      mid = config.group_size * groups
    self.downsample = (AvgDownsample(context, in_features, out_features, stride)
                       if in_features != out_features or stride != 1 else None)
    self.conv1 = context.conv(in_features, mid, 1)
    self.conv2 = context.conv(mid, mid, 3, stride=stride, groups=groups)
    self.conv2b = context.conv(mid, mid, 3, groups=groups) if config.extra_conv else None
    self.attn = _attention(config, mid, rngs) if config.reg else None
    self.conv3 = context.conv(mid, out_features, 1)
    self.attn_last = None if config.reg else _attention(config, out_features, rngs)
    self.skipinit_gain = nnx.Param(jnp.ones(())) if config.skipinit else None

  def __call__(self, x):
    def act(y):
      return _act(y, self.act)

    h = act(x) * self.beta
    shortcut = self.downsample(h) if self.downsample is not None else x
    r = self.conv2(act(self.conv1(h)))
    if self.conv2b is not None:
      r = self.conv2b(act(r))
    if self.attn is not None:
      r = self.attn_gain * self.attn(r)
    r = self.conv3(act(r))
    if self.attn_last is not None:
      r = self.attn_gain * self.attn_last(r)
    if self.skipinit_gain is not None:
      r = r * self.skipinit_gain[...]
    return r * self.alpha + shortcut


class NfStem(nnx.Module):
  """timm's create_stem for "3x3", "7x7_pool" and "deep_quad" (``conv`` or ``conv1``…``conv4``)."""

  def __init__(self, context: _Context, in_features: int, out_features: int):
    self.act, self.stem_type = context.act, context.config.stem_type
    if self.stem_type == "deep_quad":
      widths = (in_features, out_features // 8, out_features // 4, out_features // 2, out_features)
      for i, stride in enumerate((2, 1, 1, 2)):
        setattr(self, f"conv{i + 1}", context.conv(widths[i], widths[i + 1], 3, stride=stride))
    else:
      self.conv = context.conv(in_features, out_features, 3 if self.stem_type == "3x3" else 7, stride=2)

  @property
  def stride(self) -> int:
    return 2 if self.stem_type == "3x3" else 4

  def __call__(self, x):
    if self.stem_type == "deep_quad":
      x = self.conv1(x)
      for conv in (self.conv2, self.conv3, self.conv4):
        x = conv(_act(x, self.act))
      return x
    x = self.conv(x)
    return layers.max_pool_torch(x, 3, 2, 1) if self.stem_type == "7x7_pool" else x


class NormFreeNet(nnx.Module):
  def __init__(self, config: NfNetConfig, *, rngs: nnx.Rngs):
    if config.stem_type not in ("3x3", "7x7_pool", "deep_quad"):
      raise ValueError(f"NfNetConfig.stem_type must be '3x3', '7x7_pool' or 'deep_quad'; got {config.stem_type!r}.")
    context = _Context(config, rngs)
    self.act = context.act
    width = layers.make_divisible((config.stem_chs or config.channels[0]) * config.width_factor, config.ch_div)
    self.stem = NfStem(context, config.num_channels, width)
    stages, expected_var = [], 1.0
    for index, depth in enumerate(config.depths):
      stride = 1 if index == 0 and self.stem.stride > 2 else 2
      out = layers.make_divisible(config.channels[index] * config.width_factor, config.ch_div)
      blocks = []
      for block in range(depth):
        first = block == 0 and index == 0
        blocks.append(NormFreeBlock(context, width, out, stride=stride if block == 0 else 1,
                                    beta=1.0 / math.sqrt(expected_var),
                                    bottle_ratio=1.0 if config.reg and first else config.bottle_ratio))
        expected_var = (1.0 if block == 0 else expected_var) + config.alpha ** 2  # reset at a stage's first block
        width = out
      stages.append(nnx.List(blocks))
    self.stages = nnx.List(stages)
    features = layers.make_divisible(config.width_factor * config.num_features, config.ch_div)
    self.final_conv = context.conv(width, features, 1) if config.num_features else None
    width = features if config.num_features else width
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem(images)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    if self.final_conv is not None:
      x = self.final_conv(x)
    return layers.pool_and_classify(_act(x, self.act), self.head)
