"""Pyramid Vision Transformer v2 (Wang et al. 2022, "PVT v2: Improved Baselines with Pyramid Vision
Transformer"), the layout and semantics of timm's ``PyramidVisionTransformerV2`` (timm/models/pvt_v2.py).

overlapping patch embedding (7×7/4 conv, padding 3 → LayerNorm ε 1e-5) → 4 stages (i > 0: 3×3/2 conv,
padding 1 → LayerNorm ε 1e-5) of blocks x + attn(LN(x)), x + mlp(LN(x)) with LayerNorm ε 1e-6, each
stage ending in a LayerNorm ε 1e-6 → global mean (the embedding) → Linear.

Spatial-reduction attention: queries from every token, keys and values from the map reduced by an
sr×sr/sr conv → LayerNorm ε 1e-5 (``linear``: adaptive mean pooling to 7×7 → 1×1 conv → LayerNorm →
GELU); softmax(Q Kᵀ / √d_head) V → proj. MLP: fc1 → [ReLU if ``linear``] → depthwise 3×3 conv → GELU → fc2.
Twins' global sub-sampled attention (zoo.architectures.twins) is the same attention.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers

BLOCK_NORM_EPS = 1e-6  # timm.layers.LayerNorm (blocks and stage norms)
EMBED_NORM_EPS = 1e-5  # torch nn.LayerNorm (patch embeddings, the reduction's norm)
LINEAR_POOL_SIZE = 7  # timm: nn.AdaptiveAvgPool2d(7) in the linear attention


@dataclasses.dataclass(frozen=True)
class PvtV2Config:
  """Defaults: PVT v2-b2."""
  depths: tuple[int, ...] = (3, 4, 6, 3)
  embed_dims: tuple[int, ...] = (64, 128, 320, 512)
  num_heads: tuple[int, ...] = (1, 2, 5, 8)
  sr_ratios: tuple[int, ...] = (8, 4, 2, 1)
  mlp_ratios: tuple[float, ...] = (8.0, 8.0, 4.0, 4.0)
  qkv_bias: bool = True
  linear: bool = False
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    stages = len(self.depths)
    if not stages == len(self.embed_dims) == len(self.num_heads) == len(self.sr_ratios) == len(self.mlp_ratios):
      raise ValueError(f"PVT v2 depths {self.depths}, embed_dims {self.embed_dims}, num_heads {self.num_heads}, "
                       f"sr_ratios {self.sr_ratios} and mlp_ratios {self.mlp_ratios} need one entry per stage.")


class SpatialReductionAttention(nnx.Module):
  """softmax(q(x) k(r(x))ᵀ / √d_head) v(r(x)) → proj on an NHWC map, r the spatial reduction (an
  sr×sr/sr conv → LayerNorm; with ``linear`` 7×7 adaptive mean pooling → 1×1 conv → LayerNorm → GELU;
  none when sr_ratio is 1). ``kv`` is one Linear whose output is [k | v] (timm's)."""

  def __init__(self, width: int, num_heads: int, sr_ratio: int, *, linear: bool = False, qkv_bias: bool = True,
               rngs: nnx.Rngs):
    if width % num_heads:
      raise ValueError(f"width {width} is not divisible by num_heads {num_heads}.")
    self.num_heads, self.linear = num_heads, linear
    self.q = nnx.Linear(width, width, use_bias=qkv_bias, rngs=rngs)
    self.kv = nnx.Linear(width, 2 * width, use_bias=qkv_bias, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)
    reduces = linear or sr_ratio > 1
    kernel = 1 if linear else sr_ratio
    self.sr = (layers.conv(width, width, kernel, stride=kernel, padding="VALID", bias=True, rngs=rngs)
               if reduces else None)
    self.norm = nnx.LayerNorm(width, epsilon=EMBED_NORM_EPS, rngs=rngs) if reduces else None

  def _context(self, x):
    """The map the keys and values come from, as tokens [B, T, C]."""
    if self.linear:
      x = layers.adaptive_avg_pool(x, (LINEAR_POOL_SIZE, LINEAR_POOL_SIZE))
    if self.sr is not None:
      x = self.norm(self.sr(x))
    if self.linear:
      x = layers.activation("gelu")(x)
    return x.reshape(x.shape[0], -1, x.shape[-1])

  def __call__(self, x):
    batch, height, width, channels = x.shape
    heads = lambda y: y.reshape(batch, y.shape[1], self.num_heads, channels // self.num_heads)
    q = heads(self.q(x.reshape(batch, height * width, channels)))
    k, v = (heads(y) for y in jnp.split(self.kv(self._context(x)), 2, axis=-1))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (channels // self.num_heads) ** -0.5
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    attended = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, height, width, channels)
    return self.proj(attended)


class DepthwiseConvMlp(nnx.Module):
  """fc2(GELU(dwconv₃ₓ₃([ReLU](fc1(x))))) on an NHWC map (timm's MlpWithDepthwiseConv)."""

  def __init__(self, width: int, hidden: int, *, extra_relu: bool, rngs: nnx.Rngs):
    self.extra_relu = extra_relu
    self.fc1 = nnx.Linear(width, hidden, rngs=rngs)
    self.dwconv = layers.conv(hidden, hidden, 3, groups=hidden, bias=True, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, width, rngs=rngs)

  def __call__(self, x):
    x = self.fc1(x)
    x = jax.nn.relu(x) if self.extra_relu else x
    return self.fc2(layers.activation("gelu")(self.dwconv(x)))


class PvtV2Block(nnx.Module):
  """x + attn(norm1(x)), then + mlp(norm2(·))."""

  def __init__(self, config: PvtV2Config, stage: int, *, rngs: nnx.Rngs):
    width = config.embed_dims[stage]
    self.norm1 = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.attn = SpatialReductionAttention(width, config.num_heads[stage], config.sr_ratios[stage],
                                          linear=config.linear, qkv_bias=config.qkv_bias, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.mlp = DepthwiseConvMlp(width, int(width * config.mlp_ratios[stage]), extra_relu=config.linear, rngs=rngs)

  def __call__(self, x):
    x = x + self.attn(self.norm1(x))
    return x + self.mlp(self.norm2(x))


class OverlapPatchEmbed(nnx.Module):
  """LayerNorm(conv_{k×k/s}(x)), padding k // 2 (timm's OverlapPatchEmbed)."""

  def __init__(self, in_width: int, width: int, kernel_size: int, stride: int, *, rngs: nnx.Rngs):
    self.proj = layers.conv(in_width, width, kernel_size, stride=stride, bias=True, rngs=rngs)
    self.norm = nnx.LayerNorm(width, epsilon=EMBED_NORM_EPS, rngs=rngs)

  def __call__(self, x):
    return self.norm(self.proj(x))


class PvtV2Stage(nnx.Module):
  """[3×3/2 overlapping patch embedding] (stages after the first), the blocks, a LayerNorm."""

  def __init__(self, config: PvtV2Config, stage: int, *, rngs: nnx.Rngs):
    width = config.embed_dims[stage]
    self.downsample = (OverlapPatchEmbed(config.embed_dims[stage - 1], width, 3, 2, rngs=rngs) if stage else None)
    self.blocks = nnx.List([PvtV2Block(config, stage, rngs=rngs) for _ in range(config.depths[stage])])
    self.norm = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample(x)
    for block in self.blocks:
      x = block(x)
    return self.norm(x)


class PvtV2(nnx.Module):
  """The embedding is the mean over H, W of the last stage's normalised map (timm's forward_head)."""

  def __init__(self, config: PvtV2Config, *, rngs: nnx.Rngs):
    self.patch_embed = OverlapPatchEmbed(config.num_channels, config.embed_dims[0], 7, 4, rngs=rngs)
    self.stages = nnx.List([PvtV2Stage(config, i, rngs=rngs) for i in range(len(config.depths))])
    self.head = nnx.Linear(config.embed_dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map of the last stage (after its LayerNorm)."""
    x = self.patch_embed(images)
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
