"""Swin Transformer (Liu et al. 2021) and Swin V2 (Liu et al. 2022), transformers' layout
(timm's with ``fused_qkv``; V2 in timm's layout), static shapes.

patch conv + LayerNorm → stages of blocks with window attention (a learned relative
position bias per block; every second block shifts the windows by half a window, with
the mask that keeps shifted regions apart) → patch merging (2×2 neighbours concatenated,
LayerNorm, Linear to twice the width) between stages → LayerNorm → mean over tokens
(the embedding) → Linear. Feature maps are zero-padded to whole windows (and to even
sizes before merging) exactly as transformers does. V2 (``v2``): cosine attention, an
MLP-generated relative position bias, norms after each residual branch, merging's norm
after its Linear (see SwinConfig.v2).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import MultiHeadAttention, Mlp


@dataclasses.dataclass(frozen=True)
class SwinConfig:
  """Field names and defaults follow transformers' ``SwinConfig`` (Swin-T, 224²)."""
  image_size: int = 224
  patch_size: int = 4
  num_channels: int = 3
  embed_dim: int = 96
  depths: tuple[int, ...] = (2, 2, 6, 2)
  num_heads: tuple[int, ...] = (3, 6, 12, 24)
  window_size: int | tuple[int, ...] = 7  # one for every stage, or one per stage (timm's Swin S3)
  mlp_ratio: float = 4.0
  qkv_bias: bool = True
  hidden_act: str = "gelu"
  use_absolute_embeddings: bool = False
  layer_norm_eps: float = 1e-5
  num_classes: int = 1000
  fused_qkv: bool = False  # timm's layout: one qkv projection per block
  # Swin V2 (timm's layout): cosine attention with a learned temperature per head, a continuous relative
  # position bias (an MLP on log-spaced offsets, 16·sigmoid), norms after each residual branch, patch merging
  # with the norm after the reduction, and a bias-free key (q_bias, v_bias)
  v2: bool = False
  pretrained_window_size: int | tuple[int, ...] = 0  # V2: the window the bias coordinates were scaled to

  def stage_pretrained_window(self, index: int) -> int:
    size = self.pretrained_window_size
    return size if isinstance(size, int) else size[index]

  def stage_window(self, index: int) -> int:
    return self.window_size if isinstance(self.window_size, int) else self.window_size[index]


def window_relative_index(window: int) -> np.ndarray:
  """[w², w²] indices into the (2w−1)² relative-offset table (row offset major)."""
  coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
  relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
  return (relative[..., 0] * (2 * window - 1) + relative[..., 1]).astype(np.int32)


def log_spaced_offsets(window: int, pretrained_window: int = 0) -> np.ndarray:
  """[(2w−1)², 2] Swin V2 bias-MLP inputs: offsets scaled to ±8 over the (pretrained) window,
  then sign · log2(1 + |x|) / log2(8), row offset major."""
  scale = max((pretrained_window or window) - 1, 1)
  offsets = np.arange(-(window - 1), window, dtype=np.float32) / scale * 8
  grid = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1).reshape(-1, 2)
  return (np.sign(grid) * np.log2(np.abs(grid) + 1.0) / np.log2(8)).astype(np.float32)


def partition(x, window: int):
  """[B, H, W, C] → [B·(H/w)·(W/w), w², C], windows in row-major order."""
  batch, height, width, channels = x.shape
  x = x.reshape(batch, height // window, window, width // window, window, channels).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(-1, window * window, channels)


def merge(windows, window: int, batch: int, height: int, width: int):
  """Inverse of :func:`partition`."""
  x = windows.reshape(batch, height // window, width // window, window, window, -1).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(batch, height, width, -1)


def shift_mask(height: int, width: int, window: int, shift: int) -> np.ndarray:
  """[windows, w², w²] additive mask for shifted windows: −100 between tokens that come
  from different regions of the cyclically shifted map, 0 within one region."""
  region = lambda n: (np.arange(n) >= n - window).astype(int) + (np.arange(n) >= n - shift)
  labels = (region(height)[:, None] * 3 + region(width)[None, :]).astype(np.float32)
  labels = partition(labels[None, :, :, None], window)[..., 0]
  return np.where(labels[:, None, :] != labels[:, :, None], -100.0, 0.0).astype(np.float32)


class SwinBlock(nnx.Module):
  """x + window_attention(norm1(x)), then + mlp(norm2(·)) on [B, H, W, C] maps."""

  def __init__(self, config: SwinConfig, width: int, num_heads: int, window: int, shift: int, *,
               pretrained_window: int = 0, rngs: nnx.Rngs):
    self.window, self.shift, self.v2, self.pretrained_window = window, shift, config.v2, pretrained_window
    self.norm1 = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.attn = MultiHeadAttention(width, num_heads, qkv_bias=config.qkv_bias, fused_qkv=config.fused_qkv,
                                   key_bias=False if config.v2 else None, cosine=config.v2, rngs=rngs)
    if config.v2:
      self.cpb_fc1 = nnx.Linear(2, 512, rngs=rngs)
      self.cpb_fc2 = nnx.Linear(512, num_heads, use_bias=False, rngs=rngs)
    else:
      self.relative_position_bias_table = nnx.Param(jnp.zeros(((2 * self.window - 1) ** 2, num_heads)))
    self.norm2 = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.mlp = Mlp(width, int(config.mlp_ratio * width), config.hidden_act, rngs=rngs)

  def _bias_table(self):
    """[(2w−1)², heads]: the learned table (V1) or 16·sigmoid(MLP(log-spaced offsets)) (V2)."""
    if not self.v2:
      return self.relative_position_bias_table[...]
    offsets = jnp.asarray(log_spaced_offsets(self.window, self.pretrained_window))
    return 16 * jax.nn.sigmoid(self.cpb_fc2(jax.nn.relu(self.cpb_fc1(offsets))))

  def __call__(self, x):
    batch, height, width, channels = x.shape
    window, shift = self.window, self.shift
    if min(height, width) < window:
      raise ValueError(f"Swin: a {height}×{width} feature map is smaller than the {window}×{window} window "
                       "(transformers cannot run it either); use a larger input (e.g. 32·window pixels).")
    if min(height, width) == window:  # one window covers the map: nothing to shift (transformers' rule)
      shift = 0
    y = x if self.v2 else self.norm1(x)
    pad_h, pad_w = (-height) % window, (-width) % window
    y = layers.pad_hw(y, 0, pad_h, 0, pad_w)
    padded_h, padded_w = height + pad_h, width + pad_w
    if shift:
      y = jnp.roll(y, (-shift, -shift), axis=(1, 2))
    bias = jnp.transpose(self._bias_table()[window_relative_index(window)], (2, 0, 1))[None]
    if shift:
      mask = jnp.asarray(shift_mask(padded_h, padded_w, window, shift))[:, None]  # [windows, 1, T, T]
      bias = jnp.tile(bias + mask, (batch, 1, 1, 1))
    y = merge(self.attn(partition(y, window), bias=bias.astype(y.dtype)), window, batch, padded_h, padded_w)
    if shift:
      y = jnp.roll(y, (shift, shift), axis=(1, 2))
    if self.v2:  # x + norm(branch(x))
      x = x + self.norm1(y[:, :height, :width])
      return x + self.norm2(self.mlp(x))
    x = x + y[:, :height, :width]
    return x + self.mlp(self.norm2(x))


class PatchMerging(nnx.Module):
  """[B, H, W, C] → [B, ⌈H/2⌉, ⌈W/2⌉, 2C]: 2×2 neighbours (zero-padded to even sizes) in
  transformers' order (0,0), (1,0), (0,1), (1,1) → LayerNorm → bias-free Linear."""

  def __init__(self, width: int, *, norm_after: bool = False, rngs: nnx.Rngs):
    self.norm_after = norm_after  # Swin V2: Linear, then LayerNorm
    self.norm = nnx.LayerNorm(2 * width if norm_after else 4 * width, epsilon=1e-5, rngs=rngs)
    self.reduction = nnx.Linear(4 * width, 2 * width, use_bias=False, rngs=rngs)

  def __call__(self, x):
    x = layers.pad_hw(x, 0, x.shape[1] % 2, 0, x.shape[2] % 2)
    x = jnp.concatenate([x[:, row::2, col::2] for col in range(2) for row in range(2)], axis=-1)
    return self.norm(self.reduction(x)) if self.norm_after else self.reduction(self.norm(x))


class SwinStage(nnx.Module):
  def __init__(self, config: SwinConfig, index: int, *, rngs: nnx.Rngs):
    width, window = config.embed_dim * 2 ** index, config.stage_window(index)
    self.blocks = nnx.List([
        SwinBlock(config, width, config.num_heads[index], window, 0 if j % 2 == 0 else window // 2,
                  pretrained_window=config.stage_pretrained_window(index), rngs=rngs)
        for j in range(config.depths[index])])
    self.downsample = (PatchMerging(width, norm_after=config.v2, rngs=rngs) if index < len(config.depths) - 1
                       else None)

  def __call__(self, x):
    for block in self.blocks:
      x = block(x)
    return self.downsample(x) if self.downsample is not None else x


class Swin(nnx.Module):
  """The embedding is the mean of the final-LayerNorm tokens (transformers' pooler)."""

  def __init__(self, config: SwinConfig, *, rngs: nnx.Rngs):
    if not len(config.depths) == len(config.num_heads):
      raise ValueError(f"Swin depths {config.depths} and num_heads {config.num_heads} differ in length.")
    self.config = config
    self.patch_embed = layers.conv(config.num_channels, config.embed_dim, config.patch_size,
                                   stride=config.patch_size, padding="VALID", bias=True, rngs=rngs)
    self.patch_norm = nnx.LayerNorm(config.embed_dim, epsilon=1e-5, rngs=rngs)
    grid = config.image_size // config.patch_size
    self.pos_embed = (nnx.Param(jnp.zeros((1, grid * grid, config.embed_dim)))
                      if config.use_absolute_embeddings else None)
    self.stages = nnx.List([SwinStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    features = config.embed_dim * 2 ** (len(config.depths) - 1)
    self.norm = nnx.LayerNorm(features, epsilon=config.layer_norm_eps, rngs=rngs)
    self.head = nnx.Linear(features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """[B, H', W', C'] tokens after the final LayerNorm."""
    patch = self.config.patch_size
    images = layers.pad_hw(images, 0, (-images.shape[1]) % patch, 0, (-images.shape[2]) % patch)
    x = self.patch_norm(self.patch_embed(images))
    if self.pos_embed is not None:
      if x.shape[1] * x.shape[2] != self.pos_embed.shape[1]:
        raise ValueError(f"Swin with absolute positions expects {self.config.image_size}² images; got "
                         f"{images.shape[1]}×{images.shape[2]}.")
      x = x + self.pos_embed[...].reshape(1, x.shape[1], x.shape[2], -1).astype(x.dtype)
    for stage in self.stages:
      x = stage(x)
    return self.norm(x)

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
