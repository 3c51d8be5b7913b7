"""Twins (Chu et al. 2021, "Twins: Revisiting the Design of Spatial Attention in Vision Transformers"),
the layout and semantics of timm's ``Twins`` (timm/models/twins.py): Twins-PCPVT and Twins-SVT.

4 stages, each: patch embedding (p×p/p conv, p = ``patch_size`` then 2 → LayerNorm ε 1e-5) → blocks
x + attn(LN(x)), x + mlp(LN(x)) (LayerNorm ε 1e-6, GELU MLP) with the positional encoding generator
x + dwconv₃ₓ₃(x) after each stage's first block → LayerNorm ε 1e-6 on the last stage's tokens → mean
over tokens (the embedding) → Linear.

Attention: PCPVT and SVT's odd blocks use global sub-sampled attention (PVT v2's spatial-reduction
attention, zoo.architectures.pvt_v2); SVT's even blocks use locally grouped attention, full attention
inside ws×ws windows of the map zero-padded at the bottom / right to multiples of ws (the padded
tokens take part, as in timm's forward: their q, k, v are the qkv bias).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.pvt_v2 import BLOCK_NORM_EPS, EMBED_NORM_EPS, SpatialReductionAttention
from zoo.architectures.transformer import Mlp


@dataclasses.dataclass(frozen=True)
class TwinsConfig:
  """Defaults: Twins-PCPVT-S. ``window_sizes`` None: PCPVT (global attention everywhere); else SVT's
  window per stage for the even blocks."""
  patch_size: int = 4
  embed_dims: tuple[int, ...] = (64, 128, 320, 512)
  num_heads: tuple[int, ...] = (1, 2, 5, 8)
  mlp_ratios: tuple[float, ...] = (8.0, 8.0, 4.0, 4.0)
  depths: tuple[int, ...] = (3, 4, 6, 3)
  sr_ratios: tuple[int, ...] = (8, 4, 2, 1)
  window_sizes: tuple[int, ...] | None = None
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    per_stage = (self.embed_dims, self.num_heads, self.mlp_ratios, self.sr_ratios, *(
        (self.window_sizes,) if self.window_sizes is not None else ()))
    if any(len(values) != len(self.depths) for values in per_stage):
      raise ValueError(f"Twins depths {self.depths}, embed_dims {self.embed_dims}, num_heads {self.num_heads}, "
                       f"mlp_ratios {self.mlp_ratios}, sr_ratios {self.sr_ratios} and window_sizes "
                       f"{self.window_sizes} need one entry per stage.")

  def window_size(self, stage: int, block: int) -> int:
    """timm: ws = 1 (global attention) for PCPVT and SVT's odd blocks, wss[stage] otherwise."""
    return 1 if self.window_sizes is None or block % 2 else self.window_sizes[stage]


class LocallyGroupedAttention(nnx.Module):
  """Multi-head attention inside non-overlapping ws×ws windows of an NHWC map (zero-padded at the
  bottom / right first, cropped after), one ``qkv`` Linear whose output is [q | k | v], then proj."""

  def __init__(self, width: int, num_heads: int, window_size: int, *, rngs: nnx.Rngs):
    if width % num_heads:
      raise ValueError(f"width {width} is not divisible by num_heads {num_heads}.")
    self.num_heads, self.window_size = num_heads, window_size
    self.qkv = nnx.Linear(width, 3 * width, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, x):
    batch, height, width, channels = x.shape
    ws = self.window_size
    x = layers.pad_hw(x, 0, -height % ws, 0, -width % ws)
    rows, cols = x.shape[1] // ws, x.shape[2] // ws
    windows = x.reshape(batch, rows, ws, cols, ws, channels).transpose(0, 1, 3, 2, 4, 5)
    windows = windows.reshape(batch, rows * cols, ws * ws, channels)
    heads = lambda y: y.reshape(*y.shape[:3], self.num_heads, channels // self.num_heads)
    q, k, v = (heads(y) for y in jnp.split(self.qkv(windows), 3, axis=-1))
    scores = jnp.einsum("bnqhd,bnkhd->bnhqk", q, k) * (channels // self.num_heads) ** -0.5
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    attended = jnp.einsum("bnhqk,bnkhd->bnqhd", weights, v)
    attended = attended.reshape(batch, rows, cols, ws, ws, channels).transpose(0, 1, 3, 2, 4, 5)
    attended = attended.reshape(batch, rows * ws, cols * ws, channels)[:, :height, :width]
    return self.proj(attended)


class TwinsBlock(nnx.Module):
  """x + attn(norm1(x)), then + mlp(norm2(·)); attn global sub-sampled (ws 1) or locally grouped."""

  def __init__(self, config: TwinsConfig, stage: int, block: int, *, rngs: nnx.Rngs):
    width, window = config.embed_dims[stage], config.window_size(stage, block)
    self.norm1 = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.attn = (SpatialReductionAttention(width, config.num_heads[stage], config.sr_ratios[stage], rngs=rngs)
                 if window == 1 else LocallyGroupedAttention(width, config.num_heads[stage], window, rngs=rngs))
    self.norm2 = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.mlp = Mlp(width, int(width * config.mlp_ratios[stage]), "gelu", rngs=rngs)

  def __call__(self, x):
    x = x + self.attn(self.norm1(x))
    return x + self.mlp(self.norm2(x))


class PatchEmbed(nnx.Module):
  """LayerNorm(conv_{p×p/p}(x)) (timm's Twins PatchEmbed)."""

  def __init__(self, in_width: int, width: int, patch_size: int, *, rngs: nnx.Rngs):
    self.proj = layers.conv(in_width, width, patch_size, stride=patch_size, padding="VALID", bias=True, rngs=rngs)
    self.norm = nnx.LayerNorm(width, epsilon=EMBED_NORM_EPS, rngs=rngs)

  def __call__(self, x):
    return self.norm(self.proj(x))


class PosConv(nnx.Module):
  """The positional encoding generator x + dwconv₃ₓ₃(x) (timm's PosConv, stride 1)."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    self.proj = layers.conv(width, width, 3, groups=width, bias=True, rngs=rngs)

  def __call__(self, x):
    return x + self.proj(x)


class Twins(nnx.Module):
  """The embedding is the token mean of LayerNorm(last stage) (timm's forward_head)."""

  def __init__(self, config: TwinsConfig, *, rngs: nnx.Rngs):
    dims = config.embed_dims
    self.patch_embeds = nnx.List([
        PatchEmbed(dims[i - 1] if i else config.num_channels, dims[i], config.patch_size if i == 0 else 2, rngs=rngs)
        for i in range(len(dims))])
    self.blocks = nnx.List([nnx.List([TwinsBlock(config, stage, block, rngs=rngs) for block in range(depth)])
                            for stage, depth in enumerate(config.depths)])
    self.pos_block = nnx.List([PosConv(width, rngs=rngs) for width in dims])
    self.norm = nnx.LayerNorm(dims[-1], epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.head = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC map of the last stage after the final LayerNorm."""
    x = images
    for embed, blocks, pos_block in zip(self.patch_embeds, self.blocks, self.pos_block):
      x = embed(x)
      for index, block in enumerate(blocks):
        x = block(x)
        x = pos_block(x) if index == 0 else x
    return self.norm(x)

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
