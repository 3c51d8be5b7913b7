"""Global Context ViT (Hatamizadeh et al. 2022) in timm's layout (``timm/models/gcvit.py``),
channels-last throughout.

stem (3×3 stride-2 conv with bias, then a Downsample: LayerNorm, MBConv, 3×3 stride-2 conv,
LayerNorm) → four stages → final LayerNorm (the last stage's ``norm``) → mean over positions → head.
A stage (after a Downsample that doubles the width, except the first) computes a global query from
its input with a FeatureBlock (bias-free MBConvs with squeeze-excite, each followed by a 3×3
stride-2 max pool, until the map shrinks to one window), then runs blocks that alternate local
window attention (even blocks: q, k, v from the window) and global-query attention (odd blocks:
k, v from the window, q = the image's global query, the same for each of its windows). Attention
carries timm's RelPosBias (a learned table indexed by query − key offset). Window sizes are
``image_size // window_ratio`` per stage: timm's GCViTs have a fixed input size.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import LayerScale, SqueezeExcite
from zoo.architectures.maxxvit import RelativePosition
from zoo.architectures.swin import merge, partition
from zoo.architectures.transformer import Mlp


@dataclasses.dataclass(frozen=True)
class GcVitConfig:
  """timm's GlobalContextVit arguments (``window_sizes``: one per stage, resolved by the caller)."""
  embed_dim: int = 64
  depths: tuple[int, ...] = (3, 4, 19, 5)
  num_heads: tuple[int, ...] = (2, 4, 8, 16)
  window_sizes: tuple[int, ...] = (7, 7, 14, 7)
  mlp_ratio: float = 3.0
  qkv_bias: bool = True
  layer_scale: float | None = None  # any value: a learned ``gamma`` per channel (ls1, ls2)
  norm_eps: float = 1e-5
  image_size: int = 224
  num_channels: int = 3
  num_classes: int = 1000

  @property
  def num_features(self) -> int:
    return self.embed_dim * 2 ** (len(self.depths) - 1)


class MbConv(nnx.Module):
  """timm gcvit's MbConvBlock: x + conv_pw(se(gelu(conv_dw(x)))), bias-free 3×3 depthwise and 1×1
  convs, squeeze-excite (GELU inside, bias-free, reduction make_divisible(C/4, 8))."""

  def __init__(self, dim: int, *, rngs: nnx.Rngs):
    self.conv_dw = layers.conv(dim, dim, 3, groups=dim, rngs=rngs)
    self.se = SqueezeExcite(dim, layers.make_divisible(dim * 0.25, 8, round_limit=0.0), layers.activation("gelu"),
                            bias=False, rngs=rngs)
    self.conv_pw = layers.conv(dim, dim, 1, rngs=rngs)

  def __call__(self, x):
    return x + self.conv_pw(self.se(jax.nn.gelu(self.conv_dw(x), approximate=False)))


class Downsample(nnx.Module):
  """timm gcvit's Downsample2d ('conv' reduction): norm2(reduction(conv_block(norm1(x)))), the
  reduction a bias-free 3×3 stride-2 conv."""

  def __init__(self, dim: int, out_dim: int, epsilon: float, *, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(dim, epsilon=epsilon, rngs=rngs)
    self.conv_block = MbConv(dim, rngs=rngs)
    self.reduction = layers.conv(dim, out_dim, 3, stride=2, rngs=rngs)
    self.norm2 = nnx.LayerNorm(out_dim, epsilon=epsilon, rngs=rngs)

  def __call__(self, x):
    return self.norm2(self.reduction(self.conv_block(self.norm1(x))))


class FeatureBlock(nnx.Module):
  """The global query generator: max(1, levels) MBConvs, the first ``levels`` each followed by a
  3×3 stride-2 max pool (levels = log2(feature size / window size))."""

  def __init__(self, dim: int, levels: int, *, rngs: nnx.Rngs):
    self.levels = levels
    self.convs = nnx.List([MbConv(dim, rngs=rngs) for _ in range(max(1, levels))])

  def __call__(self, x):
    for index, block in enumerate(self.convs):
      x = block(x)
      x = layers.max_pool_torch(x, 3, 2, 1) if index < self.levels else x
    return x


class WindowAttention(nnx.Module):
  """timm's WindowAttentionGlobal over [windows, w², C]: with a global query, kv = Linear(C, 2C)
  split k | v and q = the image's global query; else qkv = Linear(C, 3C) split q | k | v;
  softmax(q·kᵀ/√d + bias)·v, proj."""

  def __init__(self, dim: int, heads: int, window: int, use_global: bool, qkv_bias: bool, *, rngs: nnx.Rngs):
    self.heads, self.head_dim, self.use_global = heads, dim // heads, use_global
    self.rel_pos = RelativePosition("bias", window, heads, 0, rngs=rngs)
    self.qkv = nnx.Linear(dim, dim * (2 if use_global else 3), use_bias=qkv_bias, rngs=rngs)
    self.proj = nnx.Linear(dim, dim, rngs=rngs)

  def __call__(self, x, global_query):
    windows, tokens, channels = x.shape
    parts = self.qkv(x).reshape(windows, tokens, -1, self.heads, self.head_dim)
    if self.use_global:
      k, v = parts[:, :, 0], parts[:, :, 1]
      # windows are image-major: each image's global query serves all of its windows
      q = jnp.repeat(global_query.reshape(-1, tokens, self.heads, self.head_dim),
                     windows // global_query.shape[0], axis=0)
    else:
      q, k, v = parts[:, :, 0], parts[:, :, 1], parts[:, :, 2]
    scores = jnp.einsum("bqhd,bkhd->bhqk", q * self.head_dim ** -0.5, k) + self.rel_pos()[None]
    out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)
    return self.proj(out.reshape(windows, tokens, channels))


class Block(nnx.Module):
  """x + ls1(window attention(norm1(x))), then + ls2(mlp(norm2(·))) (timm's GlobalContextVitBlock)."""

  def __init__(self, dim: int, heads: int, window: int, use_global: bool, config: GcVitConfig, *, rngs: nnx.Rngs):
    self.window = window
    self.norm1 = nnx.LayerNorm(dim, epsilon=config.norm_eps, rngs=rngs)
    self.attn = WindowAttention(dim, heads, window, use_global, config.qkv_bias, rngs=rngs)
    self.ls1 = LayerScale(dim) if config.layer_scale is not None else None
    self.norm2 = nnx.LayerNorm(dim, epsilon=config.norm_eps, rngs=rngs)
    self.mlp = Mlp(dim, int(dim * config.mlp_ratio), "gelu", rngs=rngs)
    self.ls2 = LayerScale(dim) if config.layer_scale is not None else None

  def __call__(self, x, global_query):
    batch, height, width, _ = x.shape
    y = merge(self.attn(partition(self.norm1(x), self.window), global_query), self.window, batch, height, width)
    x = x + (self.ls1(y) if self.ls1 is not None else y)
    y = self.mlp(self.norm2(x))
    return x + (self.ls2(y) if self.ls2 is not None else y)


class Stage(nnx.Module):
  """[Downsample], then the global query of the map and the blocks (odd ones use it), [norm]."""

  def __init__(self, dim: int, index: int, feature_size: int, config: GcVitConfig, *, rngs: nnx.Rngs):
    epsilon, window = config.norm_eps, config.window_sizes[index]
    self.downsample = Downsample(dim, 2 * dim, epsilon, rngs=rngs) if index > 0 else None
    dim, feature_size = (2 * dim, feature_size // 2) if index > 0 else (dim, feature_size)
    if feature_size % window:
      raise ValueError(f"GCViT: stage {index}'s {feature_size}² map does not divide into {window}² windows "
                       "(window_ratio or window_size does not fit image_size).")
    self.window, self.feature_size = window, feature_size
    self.global_block = FeatureBlock(dim, int(math.log2(feature_size / window)), rngs=rngs)
    self.blocks = nnx.List([Block(dim, config.num_heads[index], window, i % 2 == 1, config, rngs=rngs)
                            for i in range(config.depths[index])])
    last = index == len(config.depths) - 1
    self.norm = nnx.LayerNorm(dim, epsilon=epsilon, rngs=rngs) if last else None

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    if x.shape[1:3] != (self.feature_size, self.feature_size):
      raise ValueError(f"GCViT: the stage expects a {self.feature_size}² map, got {x.shape[1]}×{x.shape[2]} "
                       "(timm's GCViTs have a fixed input size: feed images of the model's image_size).")
    global_query = self.global_block(x)
    for block in self.blocks:
      x = block(x, global_query)
    return self.norm(x) if self.norm is not None else x


class Stem(nnx.Module):
  """down(conv1(x)): conv1 a 3×3 stride-2 conv with bias, then a width-keeping Downsample."""

  def __init__(self, config: GcVitConfig, *, rngs: nnx.Rngs):
    self.conv1 = layers.conv(config.num_channels, config.embed_dim, 3, stride=2, bias=True, rngs=rngs)
    self.down = Downsample(config.embed_dim, config.embed_dim, config.norm_eps, rngs=rngs)

  def __call__(self, x):
    return self.down(self.conv1(x))


class GcVit(nnx.Module):
  """timm's GlobalContextVit; ``__call__`` → (logits, pooled embedding); num_classes 0 = no head."""

  def __init__(self, config: GcVitConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.stem = Stem(config, rngs=rngs)
    stages, feature_size = [], config.image_size // 4
    for index in range(len(config.depths)):
      dim = config.embed_dim * 2 ** max(index - 1, 0)
      stages.append(Stage(dim, index, feature_size, config, rngs=rngs))
      feature_size = stages[-1].feature_size
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(config.num_features, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, pixel_values):
    x = self.stem(pixel_values)
    for stage in self.stages:
      x = stage(x)
    return layers.pool_and_classify(x, self.head)
