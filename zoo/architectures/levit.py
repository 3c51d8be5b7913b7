"""LeViT (Graham et al. 2021, "LeViT: a Vision Transformer in ConvNet's Clothing for Faster
Inference"), timm's layout (``timm/models/levit.py``, linear and ``_conv`` models alike: a 1×1
ConvNorm is a LinearNorm).

stride-16 stem (four 3×3 stride-2 conv + batch norm, hard-swish between) → stages of residual
[attention, MLP] blocks on the token grid; stages after the first start with a subsampling
attention (queries from every other row / column) and a residual MLP. Every projection is a
bias-free Linear + batch norm; attention adds a learned bias per head indexed by the |Δrow|,
|Δcol| offset of query and key. Head: mean token → (BN → Linear), averaged with the distillation
head's (BN → Linear) when ``distilled``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers

_ACT = jax.nn.hard_swish  # timm's act_layer 'hard_swish' (x · relu6(x + 3) / 6)


@dataclasses.dataclass(frozen=True)
class LevitConfig:
  """Defaults: timm's levit_128s."""
  image_size: int = 224
  num_channels: int = 3
  embed_dims: tuple[int, ...] = (128, 256, 384)
  key_dim: int = 16
  num_heads: tuple[int, ...] = (4, 6, 8)
  depths: tuple[int, ...] = (2, 3, 4)
  attn_ratio: float = 2.0
  mlp_ratio: float = 2.0
  distilled: bool = True
  num_classes: int = 1000


class LinearNorm(nnx.Module):
  """Bias-free Linear then batch norm over channels (timm's LinearNorm / 1×1 ConvNorm)."""

  def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
    self.linear = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)

  def __call__(self, x):
    return self.bn(self.linear(x))


def bias_indices(resolution: int, stride: int) -> np.ndarray:
  """[queries, keys] index into a head's bias row: |Δrow|·W + |Δcol| between the query at
  (stride·i, stride·j) and every key of the resolution² grid (timm's attention_bias_idxs)."""
  keys = np.stack(np.meshgrid(np.arange(resolution), np.arange(resolution), indexing="ij")).reshape(2, -1)
  steps = np.arange(0, resolution, stride)
  queries = np.stack(np.meshgrid(steps, steps, indexing="ij")).reshape(2, -1)
  offsets = np.abs(queries[:, :, None] - keys[:, None, :])
  return offsets[0] * resolution + offsets[1]


class LevitAttention(nnx.Module):
  """softmax(q kᵀ / √key_dim + bias[h, idx]) v per head, then act → LinearNorm. With
  ``stride`` 2 (AttentionDownsample) the queries come from the subsampled grid through their own
  LinearNorm ``q`` and keys / values from ``kv``; otherwise one ``qkv`` LinearNorm."""

  def __init__(self, in_dim: int, out_dim: int, key_dim: int, num_heads: int, attn_ratio: float, resolution: int,
               *, stride: int = 1, rngs: nnx.Rngs):
    self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, int(attn_ratio * key_dim)
    self.resolution, self.stride = resolution, stride
    if stride == 1:
      self.qkv = LinearNorm(in_dim, num_heads * (2 * key_dim + self.value_dim), rngs=rngs)
    else:
      self.kv = LinearNorm(in_dim, num_heads * (key_dim + self.value_dim), rngs=rngs)
      self.q = LinearNorm(in_dim, num_heads * key_dim, rngs=rngs)
    self.attention_biases = nnx.Param(jnp.zeros((num_heads, resolution * resolution)))
    self.proj = LinearNorm(num_heads * self.value_dim, out_dim, rngs=rngs)

  def __call__(self, x):
    batch, tokens, _ = x.shape
    heads = lambda y: y.reshape(batch, y.shape[1], self.num_heads, -1)
    if self.stride == 1:
      q, k, v = jnp.split(heads(self.qkv(x)), [self.key_dim, 2 * self.key_dim], axis=-1)
    else:
      k, v = jnp.split(heads(self.kv(x)), [self.key_dim], axis=-1)
      grid = x.reshape(batch, self.resolution, self.resolution, -1)[:, ::self.stride, ::self.stride]
      q = heads(self.q(grid.reshape(batch, -1, grid.shape[-1])))
    bias = self.attention_biases[...][:, bias_indices(self.resolution, self.stride)]
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * self.key_dim ** -0.5 + bias.astype(q.dtype)[None]
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    attended = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, q.shape[1], -1)
    return self.proj(_ACT(attended))


class LevitMlp(nnx.Module):
  """LinearNorm → hard-swish → LinearNorm."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.ln1 = LinearNorm(width, hidden, rngs=rngs)
    self.ln2 = LinearNorm(hidden, width, rngs=rngs)

  def __call__(self, x):
    return self.ln2(_ACT(self.ln1(x)))


class LevitBlock(nnx.Module):
  """x + attn(x), then + mlp(·); a downsampling block replaces the first residual (the
  subsampling attention changes the token count and width)."""

  def __init__(self, in_dim: int, out_dim: int, key_dim: int, num_heads: int, attn_ratio: float,
               mlp_ratio: float, resolution: int, *, stride: int = 1, rngs: nnx.Rngs):
    self.downsample = stride != 1
    self.attn = LevitAttention(in_dim, out_dim, key_dim, num_heads, attn_ratio, resolution, stride=stride, rngs=rngs)
    self.mlp = LevitMlp(out_dim, int(out_dim * mlp_ratio), rngs=rngs)

  def __call__(self, x):
    x = self.attn(x) if self.downsample else x + self.attn(x)
    return x + self.mlp(x)


class NormLinear(nnx.Module):
  """batch norm then Linear (timm's NormLinear head)."""

  def __init__(self, width: int, num_classes: int, *, rngs: nnx.Rngs):
    self.bn = layers.batch_norm(width, rngs=rngs)
    self.linear = nnx.Linear(width, num_classes, rngs=rngs)

  def __call__(self, x):
    return self.linear(self.bn(x))


class StemConv(nnx.Module):
  """3×3 stride-2 conv (padding 1, no bias) + batch norm (timm's ConvNorm)."""

  def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
    self.linear = layers.conv(in_features, out_features, 3, stride=2, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)

  def __call__(self, x):
    return self.bn(self.linear(x))


class Levit(nnx.Module):
  """The embedding is the mean token of the last stage (timm's pre-logits)."""

  def __init__(self, config: LevitConfig, *, rngs: nnx.Rngs):
    self.config = config
    first = config.embed_dims[0]
    widths = [config.num_channels, first // 8, first // 4, first // 2, first]
    self.stem = nnx.List([StemConv(widths[i], widths[i + 1], rngs=rngs) for i in range(4)])
    resolution = config.image_size // 16
    self.downsamples, self.stages = nnx.List(), nnx.List()
    for index, (width, heads, depth) in enumerate(zip(config.embed_dims, config.num_heads, config.depths)):
      if index:  # timm's LevitDownsample: heads = in_dim // key_dim, attn_ratio 4, mlp_ratio 2
        in_dim = config.embed_dims[index - 1]
        self.downsamples.append(LevitBlock(in_dim, width, config.key_dim, in_dim // config.key_dim, 4.0, 2.0,
                                           resolution, stride=2, rngs=rngs))
        resolution = (resolution - 1) // 2 + 1
      self.stages.append(nnx.List([LevitBlock(width, width, config.key_dim, heads, config.attn_ratio,
                                              config.mlp_ratio, resolution, rngs=rngs) for _ in range(depth)]))
    last = config.embed_dims[-1]
    self.head = NormLinear(last, config.num_classes, rngs=rngs) if config.num_classes else None
    self.head_dist = NormLinear(last, config.num_classes, rngs=rngs) if config.num_classes and config.distilled else None

  def __call__(self, images):
    if images.shape[1:3] != (self.config.image_size,) * 2:
      raise ValueError(f"LeViT expects {self.config.image_size}² images (its attention-bias grids); got "
                       f"{images.shape[1]}×{images.shape[2]}. Use the model's preprocessing.")
    x = images
    for index, conv in enumerate(self.stem):
      x = conv(x if index == 0 else _ACT(x))
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    for index, blocks in enumerate(self.stages):
      if index:
        x = self.downsamples[index - 1](x)
      for block in blocks:
        x = block(x)
    embedding = jnp.mean(x, axis=1)
    if self.head is None:
      return embedding, embedding
    logits = self.head(embedding)
    if self.head_dist is not None:  # timm's inference: the two heads' mean
      logits = (logits + self.head_dist(embedding)) / 2
    return logits, embedding
