"""EfficientFormerV2 (Li et al. 2022, "Rethinking Vision Transformers for MobileNet Size and Speed"), the
layout and semantics of timm's ``EfficientFormerV2`` (timm/models/efficientformer_v2.py).

stem (two 3×3/2 conv → BN → GELU) → four stages (stages 2-4 open with a 3×3/2 conv → BN; stage 4's adds
attention downsampling) of blocks [x + γ₁·Attn(x)] (the last ``num_vit`` blocks of stages 3-4), then
x + γ₂·MLP(x) with MLP = BN(fc2(GELU(BN(dw3×3(GELU(BN(fc1(x)))))))), every conv biased → BN → spatial
mean (the embedding) → the mean of the class and distillation heads.

Attn (all on NHWC maps; "ConvNorm" = biased conv → BN): q, k, v 1×1 ConvNorms; scores = q kᵀ/√32 +
bias[h, |Δrow|·W + |Δcol|], mixed across heads by a 1×1 conv ("talking heads") before and after the
softmax; out = attended + dw3×3 ConvNorm(v), then GELU → proj ConvNorm. In stage 3 the map is first
reduced by a dw 3×3/2 ConvNorm and the output bilinearly upsampled ×2. The attention downsample
(stage 4) queries from dw3×3/2(x) + x[::2, ::2] (→ 1×1 ConvNorm), keys and values at full resolution
(key width 16), v_local strided, no talking heads. The bias grids are fixed by ``img_size`` (timm's
default 224).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import LayerScale
from zoo.architectures.levit import bias_indices
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class EfficientFormerV2Config:
  """Defaults: EfficientFormerV2-S0. ``mlp_ratios``: per stage, one ratio per block."""
  depths: tuple[int, ...] = (2, 2, 6, 4)
  widths: tuple[int, ...] = (32, 48, 96, 176)
  mlp_ratios: tuple[tuple[float, ...], ...] = ((4, 4), (4, 4), (4, 3, 3, 3, 4, 4), (4, 3, 3, 4))
  num_vit: int = 2
  img_size: int = 224
  num_channels: int = 3
  num_classes: int = 1000


def _conv_norm(in_width: int, out_width: int, kernel_size: int = 1, *, stride: int = 1, groups: int = 1,
               act=None, rngs: nnx.Rngs) -> ConvNormAct:
  """timm's ConvNorm / ConvNormAct here: a biased conv (padding (k-1)//2) → BN [→ act]."""
  return ConvNormAct(in_width, out_width, kernel_size, stride=stride, groups=groups, bias=True, act=act, rngs=rngs)


def _heads(x, num_heads: int):
  """NHWC [B, H, W, heads·d] → [B, H·W, heads, d] (timm's reshape(B, heads, d, N), channel-major heads)."""
  return x.reshape(x.shape[0], x.shape[1] * x.shape[2], num_heads, -1)


def _attend(q, k, v, bias, mix=None):
  """softmax(q kᵀ/√d + bias) v over [B, N, heads, d]; ``mix`` = (talking₁, talking₂) 1×1 convs over heads."""
  scores = jnp.einsum("bqhd,bkhd->bqkh", q, k) * q.shape[-1] ** -0.5 + jnp.moveaxis(bias, 0, -1)[None]
  scores = mix[0](scores) if mix else scores
  weights = jax.nn.softmax(scores, axis=2)
  weights = mix[1](weights) if mix else weights
  return jnp.einsum("bqkh,bkhd->bqhd", weights, v)


class Attention2d(nnx.Module):
  """Talking-heads attention with a local value branch (8 heads, key 32, value 128); ``stride`` 2: on a
  dw-conv-reduced map, bilinearly upsampled back."""

  def __init__(self, width: int, resolution: int, stride: int | None, *, rngs: nnx.Rngs,
               key_dim: int = 32, num_heads: int = 8, attn_ratio: int = 4):
    self.num_heads, self.stride = num_heads, stride
    self.stride_conv = (_conv_norm(width, width, 3, stride=stride, groups=width, rngs=rngs)
                        if stride is not None else None)
    self.resolution = math.ceil(resolution / stride) if stride is not None else resolution
    values = attn_ratio * key_dim * num_heads
    self.q = _conv_norm(width, key_dim * num_heads, rngs=rngs)
    self.k = _conv_norm(width, key_dim * num_heads, rngs=rngs)
    self.v = _conv_norm(width, values, rngs=rngs)
    self.v_local = _conv_norm(values, values, 3, groups=values, rngs=rngs)
    self.talking_head1 = nnx.Linear(num_heads, num_heads, rngs=rngs)  # timm: 1×1 Conv2d over the heads
    self.talking_head2 = nnx.Linear(num_heads, num_heads, rngs=rngs)
    self.proj = _conv_norm(values, width, rngs=rngs)
    self.attention_biases = nnx.Param(jnp.zeros((num_heads, self.resolution ** 2)))

  def __call__(self, x):
    x = self.stride_conv(x) if self.stride_conv is not None else x
    batch, height, width, _ = x.shape
    v = self.v(x)
    bias = self.attention_biases[...][:, bias_indices(self.resolution, 1)]
    attended = _attend(_heads(self.q(x), self.num_heads), _heads(self.k(x), self.num_heads),
                       _heads(v, self.num_heads), bias, (self.talking_head1, self.talking_head2))
    x = attended.reshape(batch, height, width, -1) + self.v_local(v)
    if self.stride is not None:  # nn.Upsample(scale_factor=stride, mode="bilinear"), align_corners False
      rows = jnp.asarray(layers.torch_resize_matrix(height, height * self.stride, "bilinear"))
      cols = jnp.asarray(layers.torch_resize_matrix(width, width * self.stride, "bilinear"))
      x = jnp.einsum("ih,bhwc,jw->bijc", rows, x, cols)
    return self.proj(layers.activation("gelu")(x))


class LocalGlobalQuery(nnx.Module):
  """proj(dw3×3/2(x) + x[::2, ::2]) (AvgPool2d(1, 2) is a stride-2 subsample)."""

  def __init__(self, in_width: int, out_width: int, *, rngs: nnx.Rngs):
    self.local = layers.conv(in_width, in_width, 3, stride=2, groups=in_width, bias=True, rngs=rngs)
    self.proj = _conv_norm(in_width, out_width, rngs=rngs)

  def __call__(self, x):
    return self.proj(self.local(x) + x[:, ::2, ::2])


class Attention2dDownsample(nnx.Module):
  """Queries on the stride-2 grid, keys / values on the full one (8 heads, key 16, value 64), plus a
  strided dw ConvNorm of v; GELU → proj."""

  def __init__(self, width: int, out_width: int, resolution: int, *, rngs: nnx.Rngs,
               key_dim: int = 16, num_heads: int = 8, attn_ratio: int = 4):
    self.num_heads, self.resolution = num_heads, resolution
    values = attn_ratio * key_dim * num_heads
    self.q = LocalGlobalQuery(width, key_dim * num_heads, rngs=rngs)
    self.k = _conv_norm(width, key_dim * num_heads, rngs=rngs)
    self.v = _conv_norm(width, values, rngs=rngs)
    self.v_local = _conv_norm(values, values, 3, stride=2, groups=values, rngs=rngs)
    self.proj = _conv_norm(values, out_width, rngs=rngs)
    self.attention_biases = nnx.Param(jnp.zeros((num_heads, resolution ** 2)))

  def __call__(self, x):
    v = self.v(x)
    q = self.q(x)
    bias = self.attention_biases[...][:, bias_indices(self.resolution, 2)]
    attended = _attend(_heads(q, self.num_heads), _heads(self.k(x), self.num_heads), _heads(v, self.num_heads), bias)
    out = attended.reshape(*q.shape[:3], -1) + self.v_local(v)
    return self.proj(layers.activation("gelu")(out))


class Downsample(nnx.Module):
  """3×3/2 ConvNorm, plus Attention2dDownsample(x) in the last stage."""

  def __init__(self, in_width: int, out_width: int, resolution: int, use_attn: bool, *, rngs: nnx.Rngs):
    self.conv = _conv_norm(in_width, out_width, 3, stride=2, rngs=rngs)
    self.attn = Attention2dDownsample(in_width, out_width, resolution, rngs=rngs) if use_attn else None

  def __call__(self, x):
    out = self.conv(x)
    return out + self.attn(x) if self.attn is not None else out


class ConvMlpWithNorm(nnx.Module):
  """fc2(mid(fc1(x))): 1×1 ConvNormAct, dw 3×3 ConvNormAct (GELU), 1×1 ConvNorm."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc1 = _conv_norm(width, hidden, act="gelu", rngs=rngs)
    self.mid = _conv_norm(hidden, hidden, 3, groups=hidden, act="gelu", rngs=rngs)
    self.fc2 = _conv_norm(hidden, width, rngs=rngs)

  def __call__(self, x):
    return self.fc2(self.mid(self.fc1(x)))


class EfficientFormerV2Block(nnx.Module):
  """[x + γ₁·Attn(x)], then x + γ₂·MLP(x)."""

  def __init__(self, width: int, mlp_ratio: float, resolution: int, stride: int | None, use_attn: bool, *,
               rngs: nnx.Rngs):
    self.token_mixer = Attention2d(width, resolution, stride, rngs=rngs) if use_attn else None
    self.ls1 = LayerScale(width) if use_attn else None
    self.mlp = ConvMlpWithNorm(width, int(width * mlp_ratio), rngs=rngs)
    self.ls2 = LayerScale(width)

  def __call__(self, x):
    if self.token_mixer is not None:
      x = x + self.ls1(self.token_mixer(x))
    return x + self.ls2(self.mlp(x))


class EfficientFormerV2Stage(nnx.Module):
  """Downsample (stages 2-4), then the blocks; ``resolution``: the stage input's grid side."""

  def __init__(self, config: EfficientFormerV2Config, in_width: int, stage: int, resolution: int, *,
               rngs: nnx.Rngs):
    width, depth = config.widths[stage], config.depths[stage]
    self.downsample = Downsample(in_width, width, resolution, stage >= 3, rngs=rngs) if stage > 0 else None
    resolution = math.ceil(resolution / 2) if stage > 0 else resolution
    self.blocks = nnx.List([
        EfficientFormerV2Block(width, config.mlp_ratios[stage][index], resolution, 2 if stage == 2 else None,
                               stage >= 2 and index > depth - config.num_vit - 1, rngs=rngs)
        for index in range(depth)])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class Stem(nnx.Module):
  """Two 3×3/2 conv → BN → GELU (timm's Stem4)."""

  def __init__(self, in_width: int, width: int, *, rngs: nnx.Rngs):
    self.conv1 = _conv_norm(in_width, width // 2, 3, stride=2, act="gelu", rngs=rngs)
    self.conv2 = _conv_norm(width // 2, width, 3, stride=2, act="gelu", rngs=rngs)

  def __call__(self, x):
    return self.conv2(self.conv1(x))


class EfficientFormerV2(nnx.Module):
  """The embedding is the spatial mean after the final BN; the logits average the class and
  distillation heads (timm's inference)."""

  def __init__(self, config: EfficientFormerV2Config, *, rngs: nnx.Rngs):
    self.img_size = config.img_size
    self.stem = Stem(config.num_channels, config.widths[0], rngs=rngs)
    inputs = (config.widths[0], *config.widths[:-1])
    # timm: stage i's resolution is ⌈img / stride⌉ with the stride before its own downsample (4, 4, 8, 16)
    strides = (4, 4, 8, 16)
    self.stages = nnx.List([
        EfficientFormerV2Stage(config, inputs[i], i, math.ceil(config.img_size / strides[i]), rngs=rngs)
        for i in range(len(config.depths))])
    last = config.widths[-1]
    self.norm = layers.batch_norm(last, rngs=rngs)
    self.head = nnx.Linear(last, config.num_classes, rngs=rngs) if config.num_classes else None
    self.head_dist = nnx.Linear(last, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    if images.shape[1:3] != (self.img_size, self.img_size):
      raise ValueError(f"EfficientFormerV2 built for {self.img_size} px input (its attention bias grids) got "
                       f"{images.shape[1]}×{images.shape[2]}.")
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    embedding = jnp.mean(self.norm(x), axis=(1, 2))
    if self.head is None:
      return embedding, embedding
    return (self.head(embedding) + self.head_dist(embedding)) / 2, embedding
