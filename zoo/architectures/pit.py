"""PiT, the pooling-based vision transformer (Heo et al. 2021, "Rethinking Spatial Dimensions of
Vision Transformers"), as timm's ``PoolingVisionTransformer``: an overlapping conv patch embedding
plus a learned position map, then stages of the shared pre-norm encoder blocks on [class
(+ distillation) tokens, patches]; between stages a depthwise strided conv halves the patch grid
and widens the channels while a Linear widens the class tokens. The embedding is the final
LayerNorm's class token (DeiT-style distilled models: the mean of class and distillation tokens,
logits the mean of their two heads)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import EncoderBlock


@dataclasses.dataclass(frozen=True)
class PiTConfig:
  """Defaults: timm's ``pit_s_224``; stage i has width base_dims[i] · heads[i]."""
  image_size: int = 224
  patch_size: int = 16
  stride: int = 8
  base_dims: tuple[int, ...] = (48, 48, 48)
  depths: tuple[int, ...] = (2, 6, 4)
  heads: tuple[int, ...] = (3, 6, 12)
  mlp_ratio: float = 4.0
  distilled: bool = False
  num_channels: int = 3
  num_classes: int = 1000
  layer_norm_eps: float = 1e-6

  @property
  def widths(self) -> tuple[int, ...]:
    return tuple(dim * heads for dim, heads in zip(self.base_dims, self.heads))

  @property
  def grid(self) -> int:
    """Side of the patch grid: (image − patch) / stride + 1, floored (an unpadded conv)."""
    return (self.image_size - self.patch_size) // self.stride + 1


class PoolingStage(nnx.Module):
  """[optional pooling: depthwise conv (kernel 3, stride 2, padding 1) on the grid, Linear on the
  class tokens] → encoder blocks on [class tokens, patches]."""

  def __init__(self, config: PiTConfig, index: int, *, rngs: nnx.Rngs):
    width, previous = config.widths[index], config.widths[index - 1]
    self.conv = (layers.conv(previous, width, 3, stride=2, padding=((1, 1), (1, 1)), groups=previous, bias=True,
                             rngs=rngs) if index else None)
    self.fc = nnx.Linear(previous, width, rngs=rngs) if index else None
    self.blocks = nnx.List([
        EncoderBlock(width, config.heads[index], int(width * config.mlp_ratio), act="gelu",
                     epsilon=config.layer_norm_eps, fused_qkv=True, rngs=rngs)
        for _ in range(config.depths[index])])

  def __call__(self, grid, tokens):
    """grid [B, H, W, C], tokens [B, n, C] → the same after this stage (H, W halved when pooling)."""
    if self.conv is not None:
      grid, tokens = self.conv(grid), self.fc(tokens)
    batch, height, width, channels = grid.shape
    x = jnp.concatenate([tokens, grid.reshape(batch, height * width, channels)], axis=1)
    for block in self.blocks:
      x = block(x)
    count = tokens.shape[1]
    return x[:, count:].reshape(batch, height, width, channels), x[:, :count]


class PiT(nnx.Module):
  """conv patch embedding + position map → pooling stages → LayerNorm of the class tokens → head(s)."""

  def __init__(self, config: PiTConfig, *, rngs: nnx.Rngs):
    self.config = config
    width, tokens = config.widths[0], 2 if config.distilled else 1
    normal = nnx.initializers.normal(0.02)
    self.patch_embed = layers.conv(config.num_channels, width, config.patch_size, stride=config.stride,
                                   padding="VALID", bias=True, rngs=rngs)
    # [1, C, H, W] as timm stores it (channels first)
    self.pos_embed = nnx.Param(normal(rngs.params(), (1, width, config.grid, config.grid)))
    self.cls_token = nnx.Param(normal(rngs.params(), (1, tokens, width)))
    self.stages = nnx.List([PoolingStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    final = config.widths[-1]
    self.norm = nnx.LayerNorm(final, epsilon=config.layer_norm_eps, rngs=rngs)
    self.head = nnx.Linear(final, config.num_classes, rngs=rngs) if config.num_classes else None
    self.head_dist = (nnx.Linear(final, config.num_classes, rngs=rngs)
                      if config.distilled and config.num_classes else None)

  def forward_features(self, images):
    """The class (and distillation) tokens after the final LayerNorm, [B, n, C]."""
    if images.shape[1:3] != (self.config.image_size,) * 2:
      raise ValueError(f"PiT expects {self.config.image_size}² images (its position map); got "
                       f"{images.shape[1]}×{images.shape[2]}. Use the model's preprocessing.")
    grid = self.patch_embed(images)
    grid = grid + jnp.transpose(self.pos_embed[...][0], (1, 2, 0)).astype(grid.dtype)
    tokens = jnp.broadcast_to(self.cls_token[...], (grid.shape[0],) + self.cls_token.shape[1:]).astype(grid.dtype)
    for stage in self.stages:
      grid, tokens = stage(grid, tokens)
    return self.norm(tokens)

  def __call__(self, images):
    tokens = self.forward_features(images)
    if self.config.distilled:
      embedding = (tokens[:, 0] + tokens[:, 1]) / 2
      if self.head is None:
        return embedding, embedding
      return (self.head(tokens[:, 0]) + self.head_dist(tokens[:, 1])) / 2, embedding
    embedding = tokens[:, 0]
    return (self.head(embedding) if self.head is not None else embedding), embedding
