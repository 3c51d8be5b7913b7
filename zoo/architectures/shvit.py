"""SHViT (Yun & Ro 2024, "SHViT: Single-Head Vision Transformer with Memory Efficient Macro
Design"), timm's layout (``timm/models/shvit.py``).

stem: four 3×3/2 conv-BNs with ReLUs between → stages (from the second opened by EfficientViT-MSRA's
subsample: residual dw conv and FFN, patch merging, residual dw conv and FFN) of blocks
x += dw3×3 conv-BN(x); [x += SHSA(x)]; x += ffn(x) → global mean (the embedding) → BN + Linear.

SHSA (single-head self-attention on the first ``pdim`` channels): x₁ = GroupNorm₁(x[:pdim]);
q, k, v = split(conv-BN₁ₓ₁(x₁)) (q, k: qk_dim channels, v: pdim); x₁ = softmax(qᵀk / √qk_dim) v;
out = conv-BN₁ₓ₁(ReLU([x₁, x[pdim:]])).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientvit_msra import ConvMlp, PatchMerging, ResidualPair
from zoo.architectures.levit import NormLinear
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class ShvitConfig:
  """Defaults: timm's shvit_s1."""
  embed_dims: tuple[int, ...] = (128, 224, 320)
  partial_dims: tuple[int, ...] = (32, 48, 68)
  qk_dims: tuple[int, ...] = (16, 16, 16)
  depths: tuple[int, ...] = (2, 4, 5)
  types: tuple[str, ...] = ("i", "s", "s")  # "s": blocks with single-head attention, "i": without
  num_channels: int = 3
  num_classes: int = 1000


class SingleHeadAttention(nnx.Module):
  """timm's SHSA (GroupNorm with one group, ε 1e-5)."""

  def __init__(self, dim: int, qk_dim: int, partial_dim: int, *, rngs: nnx.Rngs):
    self.qk_dim, self.partial_dim = qk_dim, partial_dim
    self.pre_norm = nnx.GroupNorm(partial_dim, num_groups=1, epsilon=1e-5, rngs=rngs)
    self.qkv = ConvNormAct(partial_dim, 2 * qk_dim + partial_dim, 1, act=None, rngs=rngs)
    self.proj = ConvNormAct(dim, dim, 1, act=None, rngs=rngs)

  def __call__(self, x):
    batch, height, width, _ = x.shape
    attended, passed = x[..., :self.partial_dim], x[..., self.partial_dim:]
    qkv = self.qkv(self.pre_norm(attended)).reshape(batch, height * width, -1)
    q, k, v = jnp.split(qkv, [self.qk_dim, 2 * self.qk_dim], axis=-1)
    weights = jax.nn.softmax(jnp.einsum("bnd,bmd->bnm", q, k) * self.qk_dim ** -0.5, axis=-1)
    attended = jnp.einsum("bnm,bmd->bnd", weights, v).reshape(batch, height, width, self.partial_dim)
    return self.proj(jax.nn.relu(jnp.concatenate([attended, passed], axis=-1)))


class ShvitBlock(nnx.Module):
  def __init__(self, dim: int, qk_dim: int, partial_dim: int, attention: bool, *, rngs: nnx.Rngs):
    self.conv = ConvNormAct(dim, dim, 3, groups=dim, act=None, rngs=rngs)
    self.mixer = SingleHeadAttention(dim, qk_dim, partial_dim, rngs=rngs) if attention else None
    self.ffn = ConvMlp(dim, 2 * dim, rngs=rngs)

  def __call__(self, x):
    x = x + self.conv(x)
    x = x + self.mixer(x) if self.mixer is not None else x
    return x + self.ffn(x)


class ShvitStage(nnx.Module):
  def __init__(self, config: ShvitConfig, index: int, previous: int, *, rngs: nnx.Rngs):
    dim = config.embed_dims[index]
    # timm: a downsample wherever the width changes (so never in the first stage)
    self.downsample = nnx.List([ResidualPair(previous, rngs=rngs), PatchMerging(previous, dim, rngs=rngs),
                                ResidualPair(dim, rngs=rngs)]) if previous != dim else None
    self.blocks = nnx.List([ShvitBlock(dim, config.qk_dims[index], config.partial_dims[index],
                                       config.types[index] == "s", rngs=rngs) for _ in range(config.depths[index])])

  def __call__(self, x):
    for layer in (self.downsample or ()):
      x = layer(x)
    for block in self.blocks:
      x = block(x)
    return x


class Shvit(nnx.Module):
  def __init__(self, config: ShvitConfig, *, rngs: nnx.Rngs):
    dim = config.embed_dims[0]
    widths = (config.num_channels, dim // 8, dim // 4, dim // 2, dim)
    self.patch_embed = nnx.List([ConvNormAct(widths[i], widths[i + 1], 3, stride=2, act="relu" if i < 3 else None,
                                             rngs=rngs) for i in range(4)])
    dims = (dim, *config.embed_dims)
    self.stages = nnx.List([ShvitStage(config, i, dims[i], rngs=rngs) for i in range(len(config.embed_dims))])
    self.head = NormLinear(config.embed_dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = images
    for conv in self.patch_embed:
      x = conv(x)
    for stage in self.stages:
      x = stage(x)
    return layers.pool_and_classify(x, self.head)
