"""VOLO: Vision Outlooker (Yuan et al. 2021, "VOLO: Vision Outlooker for Visual Recognition"),
timm's layout (``timm/models/volo.py``, class ``VOLO``, inference forward).

Patch embedding (7×7/2, 3×3, 3×3 conv-BN-ReLU, then a (patch/2)-strided conv) → outlooker blocks
at 1/8 resolution (x + outlook_attention(norm1(x)), x + MLP(norm2(x))) → 2×2/2 conv → + learned
positions (a fixed grid: the model runs at its own input size only) → transformer blocks at
1/16 → class-attention blocks on [class token, tokens] (only the class token is updated) →
LayerNorm → logits = head(class token) + ½·max over tokens of aux_head(token) (token
labelling); the embedding is the normalised class token.

Outlook attention (kernel k, stride s, padding p): for each s×s cell, weights
softmax(Linear(avgpool_s(x)) · d_head^-½) [heads, k², k²] mix the k×k window of values v(x)
around it (PyTorch ``unfold``), and the k² results are summed back onto the window positions
(``fold``), then projected.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct
from zoo.architectures.transformer import EncoderBlock, Mlp

_LAYER_NORM_EPS = 1e-5  # timm's nn.LayerNorm default


@dataclasses.dataclass(frozen=True)
class VoloConfig:
  """Defaults: timm's volo_d1_224."""
  image_size: int = 224
  layers: tuple[int, ...] = (4, 4, 8, 2)  # outlooker stage, then transformer stages (one downsampling after stage 1)
  embed_dims: tuple[int, ...] = (192, 384, 384, 384)
  num_heads: tuple[int, ...] = (6, 12, 12, 12)
  mlp_ratio: float = 3.0
  stem_hidden_dim: int = 64
  patch_size: int = 8
  num_class_blocks: int = 2  # timm's post_layers ('ca', 'ca')
  outlook_kernel: int = 3
  outlook_stride: int = 2
  pooling_scale: int = 2
  num_channels: int = 3
  num_classes: int = 1000


def _windows(x, kernel: int, stride: int, padding: int, out_hw: tuple[int, int], padded_hw: tuple[int, int]):
  """PyTorch ``unfold`` on NHWC: [B, h, w, k², C], window offsets ordered row-major."""
  pad = ((0, 0), (padding, padded_hw[0] - x.shape[1] - padding), (padding, padded_hw[1] - x.shape[2] - padding), (0, 0))
  x = jnp.pad(x, pad)
  h, w = out_hw
  return jnp.stack([x[:, i:i + stride * (h - 1) + 1:stride, j:j + stride * (w - 1) + 1:stride]
                    for i in range(kernel) for j in range(kernel)], axis=3)


def _fold(values, kernel: int, stride: int, padding: int, size_hw: tuple[int, int], padded_hw: tuple[int, int]):
  """PyTorch ``fold`` on NHWC: values [B, h, w, k², C] summed onto their window positions, cropped to size_hw."""
  batch, h, w, _, channels = values.shape
  out = jnp.zeros((batch, *padded_hw, channels), values.dtype)
  for index in range(kernel * kernel):
    i, j = divmod(index, kernel)
    out = out.at[:, i:i + stride * (h - 1) + 1:stride, j:j + stride * (w - 1) + 1:stride].add(values[:, :, :, index])
  return out[:, padding:padding + size_hw[0], padding:padding + size_hw[1]]


class OutlookAttention(nnx.Module):
  """The outlook attention of the module docstring (timm's OutlookAttention, qkv_bias False)."""

  def __init__(self, width: int, num_heads: int, *, kernel: int, stride: int, rngs: nnx.Rngs):
    self.v = nnx.Linear(width, width, use_bias=False, rngs=rngs)
    self.attn = nnx.Linear(width, kernel ** 4 * num_heads, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)
    self.num_heads, self.kernel, self.stride, self.padding = num_heads, kernel, stride, kernel // 2

  def __call__(self, x):
    batch, height, width, channels = x.shape
    k2, heads = self.kernel ** 2, self.num_heads
    h, w = math.ceil(height / self.stride), math.ceil(width / self.stride)
    padded = (max(height + 2 * self.padding, self.stride * (h - 1) + self.kernel),
              max(width + 2 * self.padding, self.stride * (w - 1) + self.kernel))
    v = _windows(self.v(x), self.kernel, self.stride, self.padding, (h, w), padded)
    v = v.reshape(batch, h, w, k2, heads, channels // heads)
    pooled = layers.avg_pool_torch(x, self.stride, self.stride, ceil_mode=True)
    scores = self.attn(pooled).reshape(batch, h, w, heads, k2, k2) * (channels // heads) ** -0.5
    weights = jax.nn.softmax(scores, axis=-1)
    mixed = jnp.einsum("bxyhoi,bxyihd->bxyohd", weights, v).reshape(batch, h, w, k2, channels)
    return self.proj(_fold(mixed, self.kernel, self.stride, self.padding, (height, width), padded))


class Outlooker(nnx.Module):
  """x + outlook_attention(norm1(x)), then x + MLP(norm2(x)) (GELU), on [B, H, W, C]."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, kernel: int, stride: int, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, epsilon=_LAYER_NORM_EPS, rngs=rngs)
    self.attn = OutlookAttention(width, num_heads, kernel=kernel, stride=stride, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=_LAYER_NORM_EPS, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, "gelu", rngs=rngs)

  def __call__(self, x):
    x = x + self.attn(self.norm1(x))
    return x + self.mlp(self.norm2(x))


class ClassAttention(nnx.Module):
  """The class token's query against keys and values of every token (timm's volo ClassAttention:
  fused ``kv`` Linear, separate ``q``, no biases, output projection)."""

  def __init__(self, width: int, num_heads: int, *, rngs: nnx.Rngs):
    self.q = nnx.Linear(width, width, use_bias=False, rngs=rngs)
    self.kv = nnx.Linear(width, 2 * width, use_bias=False, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)
    self.num_heads = num_heads

  def __call__(self, x):
    batch, tokens, width = x.shape
    head_dim = width // self.num_heads
    k, v = jnp.split(self.kv(x).reshape(batch, tokens, 2 * self.num_heads, head_dim), 2, axis=2)
    q = self.q(x[:, :1]).reshape(batch, 1, self.num_heads, head_dim) * head_dim ** -0.5
    weights = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k), axis=-1)
    return self.proj(jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, 1, width))


class ClassBlock(nnx.Module):
  """c = x₀ + CA(norm1(x)); c + MLP(norm2(c)); the tokens pass unchanged (timm's volo ClassBlock)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, epsilon=_LAYER_NORM_EPS, rngs=rngs)
    self.attn = ClassAttention(width, num_heads, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=_LAYER_NORM_EPS, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, "gelu", rngs=rngs)

  def __call__(self, x):
    cls = x[:, :1] + self.attn(self.norm1(x))
    cls = cls + self.mlp(self.norm2(cls))
    return jnp.concatenate([cls, x[:, 1:]], axis=1)


class Volo(nnx.Module):
  def __init__(self, config: VoloConfig, *, rngs: nnx.Rngs):
    hidden, dims, heads = config.stem_hidden_dim, config.embed_dims, config.num_heads
    self.stem = nnx.List([ConvNormAct(config.num_channels, hidden, 7, stride=2, rngs=rngs),
                          ConvNormAct(hidden, hidden, 3, rngs=rngs), ConvNormAct(hidden, hidden, 3, rngs=rngs)])
    patch = config.patch_size // 2  # after the stride-2 stem
    self.patch_proj = nnx.Conv(hidden, dims[0], (patch, patch), strides=patch, padding="VALID", rngs=rngs)
    mlp = lambda i: int(dims[i] * config.mlp_ratio)
    self.outlookers = nnx.List([Outlooker(dims[0], heads[0], mlp(0), kernel=config.outlook_kernel,
                                          stride=config.outlook_stride, rngs=rngs) for _ in range(config.layers[0])])
    self.downsample = nnx.Conv(dims[0], dims[1], (2, 2), strides=2, padding="VALID", rngs=rngs)
    grid = config.image_size // config.patch_size // config.pooling_scale
    self.pos_embed = nnx.Param(jnp.zeros((1, grid, grid, dims[-1])))
    self.stages = nnx.List([
        nnx.List([EncoderBlock(dims[i], heads[i], mlp(i), act="gelu", epsilon=_LAYER_NORM_EPS, qkv_bias=False,
                               fused_qkv=True, rngs=rngs) for _ in range(config.layers[i])])
        for i in range(1, len(config.layers))])
    self.cls_token = nnx.Param(jnp.zeros((1, 1, dims[-1])))
    self.post = nnx.List([ClassBlock(dims[-1], heads[-1], mlp(-1), rngs=rngs) for _ in range(config.num_class_blocks)])
    self.norm = nnx.LayerNorm(dims[-1], epsilon=_LAYER_NORM_EPS, rngs=rngs)
    self.head = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None
    self.aux_head = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = images
    for conv in self.stem:
      x = conv(x)
    x = self.patch_proj(x)
    for block in self.outlookers:
      x = block(x)
    x = self.downsample(x)
    if x.shape[1:3] != self.pos_embed.shape[1:3]:
      raise ValueError(f"VOLO has a fixed {self.pos_embed.shape[1]}×{self.pos_embed.shape[2]} position grid; got "
                       f"{x.shape[1]}×{x.shape[2]} tokens (resize images to the model's input size).")
    x = (x + self.pos_embed[...]).reshape(x.shape[0], -1, x.shape[-1])
    for stage in self.stages:
      for block in stage:
        x = block(x)
    x = jnp.concatenate([jnp.broadcast_to(self.cls_token[...], (x.shape[0], 1, x.shape[-1])), x], axis=1)
    for block in self.post:
      x = block(x)
    x = self.norm(x)
    embedding = x[:, 0]
    if self.head is None:
      return embedding, embedding
    return self.head(embedding) + 0.5 * jnp.max(self.aux_head(x[:, 1:]), axis=1), embedding
