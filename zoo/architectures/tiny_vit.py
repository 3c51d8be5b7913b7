"""TinyViT (Wu et al. 2022, "TinyViT: Fast Pretraining Distillation for Small Vision
Transformers"), timm's layout (``timm/models/tiny_vit.py``).

stem (3×3/2 conv-BN, GELU, 3×3/2 conv-BN) → a stage of MBConv blocks GELU(x + conv-BN₁ₓ₁(GELU(
dw3×3 conv-BN(GELU(conv-BN₁ₓ₁ x))))) → stages opened by patch merging (1×1 conv-BN, GELU, dw 3×3/2
conv-BN, GELU, 1×1 conv-BN) of blocks x += window attention(x); x = dw3×3 conv-BN(x);
x += fc2(GELU(fc1(LN(x)))) → global mean → LayerNorm (ε 1e-5; the embedding) → Linear.

The attention runs in zero-padded windows (EfficientViT-MSRA's windowing): LN → qkv Linear laid out
per head as [q | k | v] → softmax(q kᵀ / √d + bias[|Δy|, |Δx|]) v → Linear.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientvit_msra import in_windows, window_bias_index
from zoo.architectures.resnet import ConvNormAct

_GELU = layers.activation("gelu")


@dataclasses.dataclass(frozen=True)
class TinyVitConfig:
  """Defaults: timm's tiny_vit_5m_224."""
  embed_dims: tuple[int, ...] = (64, 128, 160, 320)
  depths: tuple[int, ...] = (2, 2, 6, 2)
  num_heads: tuple[int, ...] = (2, 4, 5, 10)
  window_sizes: tuple[int, ...] = (7, 7, 14, 7)
  mlp_ratio: float = 4.0
  mbconv_expand_ratio: float = 4.0
  local_conv_size: int = 3
  num_channels: int = 3
  num_classes: int = 1000


class ConvChain(nnx.Module):
  """conv3(GELU(conv2(GELU(conv1 x)))) with conv-BNs: 1×1, depthwise 3×3 (stride), 1×1 (timm's
  MBConv body and PatchMerging)."""

  def __init__(self, in_dim: int, mid_dim: int, out_dim: int, stride: int, *, rngs: nnx.Rngs):
    self.conv1 = ConvNormAct(in_dim, mid_dim, 1, act=_GELU, rngs=rngs)
    self.conv2 = ConvNormAct(mid_dim, mid_dim, 3, stride=stride, groups=mid_dim, act=_GELU, rngs=rngs)
    self.conv3 = ConvNormAct(mid_dim, out_dim, 1, act=None, rngs=rngs)

  def __call__(self, x):
    return self.conv3(self.conv2(self.conv1(x)))


class MBConv(ConvChain):
  """GELU(x + body(x))."""

  def __init__(self, dim: int, expand_ratio: float, *, rngs: nnx.Rngs):
    super().__init__(dim, int(dim * expand_ratio), dim, 1, rngs=rngs)

  def __call__(self, x):
    return _GELU(x + super().__call__(x))


class WindowAttention(nnx.Module):
  """timm's TinyViT Attention on [tiles, window, window, C] (attn_ratio 1, head dim C / heads)."""

  def __init__(self, dim: int, num_heads: int, window: int, *, rngs: nnx.Rngs):
    self.num_heads, self.window = num_heads, window
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)
    self.qkv = nnx.Linear(dim, 3 * dim, rngs=rngs)
    self.proj = nnx.Linear(dim, dim, rngs=rngs)
    self.attention_biases = nnx.Param(jnp.zeros((num_heads, window * window)))

  def __call__(self, tiles):
    shape = tiles.shape
    x = tiles.reshape(shape[0], -1, shape[-1])
    head_dim = shape[-1] // self.num_heads
    qkv = self.qkv(self.norm(x)).reshape(x.shape[0], x.shape[1], self.num_heads, 3 * head_dim)
    q, k, v = jnp.split(qkv, 3, axis=-1)
    scores = jnp.einsum("bnhd,bmhd->bhnm", q, k) * head_dim ** -0.5
    scores = scores + self.attention_biases[...][:, window_bias_index(self.window)]
    out = jnp.einsum("bhnm,bmhd->bnhd", jax.nn.softmax(scores, axis=-1), v).reshape(x.shape)
    return self.proj(out).reshape(shape)


class NormMlp(nnx.Module):
  def __init__(self, dim: int, hidden: int, *, rngs: nnx.Rngs):
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)
    self.fc1 = nnx.Linear(dim, hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, dim, rngs=rngs)

  def __call__(self, x):
    return self.fc2(_GELU(self.fc1(self.norm(x))))


class TinyVitBlock(nnx.Module):
  def __init__(self, config: TinyVitConfig, index: int, *, rngs: nnx.Rngs):
    dim = config.embed_dims[index]
    self.attn = WindowAttention(dim, config.num_heads[index], config.window_sizes[index], rngs=rngs)
    self.local_conv = ConvNormAct(dim, dim, config.local_conv_size, groups=dim, act=None, rngs=rngs)
    self.mlp = NormMlp(dim, int(dim * config.mlp_ratio), rngs=rngs)

  def __call__(self, x):
    x = self.local_conv(x + in_windows(x, self.attn.window, self.attn))
    return x + self.mlp(x)


class TinyVitStage(nnx.Module):
  """The MBConv stage (index 0), or patch merging then TinyViT blocks."""

  def __init__(self, config: TinyVitConfig, index: int, *, rngs: nnx.Rngs):
    dim = config.embed_dims[index]
    depth = config.depths[index]
    if index == 0:
      self.downsample = None
      self.blocks = nnx.List([MBConv(dim, config.mbconv_expand_ratio, rngs=rngs) for _ in range(depth)])
    else:
      self.downsample = ConvChain(config.embed_dims[index - 1], dim, dim, 2, rngs=rngs)
      self.blocks = nnx.List([TinyVitBlock(config, index, rngs=rngs) for _ in range(depth)])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class PatchEmbed(nnx.Module):
  def __init__(self, in_dim: int, dim: int, *, rngs: nnx.Rngs):
    self.conv1 = ConvNormAct(in_dim, dim // 2, 3, stride=2, act=_GELU, rngs=rngs)
    self.conv2 = ConvNormAct(dim // 2, dim, 3, stride=2, act=None, rngs=rngs)

  def __call__(self, x):
    return self.conv2(self.conv1(x))


class Head(nnx.Module):
  """timm's NormMlpClassifierHead without hidden layer: LayerNorm2d (ε 1e-5) of the global mean → fc."""

  def __init__(self, dim: int, num_classes: int, *, rngs: nnx.Rngs):
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)
    self.fc = nnx.Linear(dim, num_classes, rngs=rngs) if num_classes else None

  def __call__(self, x):
    embedding = self.norm(jnp.mean(x, axis=(1, 2)))
    return (self.fc(embedding) if self.fc is not None else embedding), embedding


class TinyVit(nnx.Module):
  def __init__(self, config: TinyVitConfig, *, rngs: nnx.Rngs):
    self.patch_embed = PatchEmbed(config.num_channels, config.embed_dims[0], rngs=rngs)
    self.stages = nnx.List([TinyVitStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    self.head = Head(config.embed_dims[-1], config.num_classes, rngs=rngs)

  def __call__(self, images):
    x = self.patch_embed(images)
    for stage in self.stages:
      x = stage(x)
    return self.head(x)
