"""BEiT (Bao et al. 2022) and data2vec-vision (Baevski et al. 2022; the same network).

Pre-norm ViT blocks with a bias-free key projection, layer scale on both branches and a
learned relative position bias per layer and/or shared by all layers; optional
absolute positions. The embedding is what transformers' pooler gives the head: LayerNorm
of the mean patch token (``use_mean_pooling``), else the class token after the final
LayerNorm. Any resolution: the bias tables are resized (bilinear) to the input's patch
grid and the absolute positions (bicubic) exactly as transformers does.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import EncoderBlock


@dataclasses.dataclass(frozen=True)
class BeitConfig:
  """Field names and defaults follow transformers' ``BeitConfig`` (BEiT-B/16)."""
  image_size: int = 224
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  layer_norm_eps: float = 1e-12
  use_absolute_position_embeddings: bool = False
  use_relative_position_bias: bool = False  # one table per layer
  use_shared_relative_position_bias: bool = False  # one table for all layers
  layer_scale_init_value: float = 0.1  # > 0: per-channel scales on both residual branches
  use_mean_pooling: bool = True
  pooler: bool = True  # transformers' BeitPooler (its LayerNorm when mean pooling) is in the checkpoint
  fused_qkv: bool = False  # timm's layout: one bias-free qkv projection, q_bias and v_bias beside it
  num_classes: int = 1000

  @property
  def window(self) -> int:
    return self.image_size // self.patch_size


def relative_position_index(grid_h: int, grid_w: int) -> np.ndarray:
  """[T+1, T+1] indices (T = grid_h·grid_w, token 0 = class) into a table of
  (2h−1)(2w−1) relative offsets followed by class→token, token→class, class→class."""
  coords = np.stack(np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")).reshape(2, -1)
  relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0)
  index_tokens = (relative[..., 0] + grid_h - 1) * (2 * grid_w - 1) + relative[..., 1] + grid_w - 1
  num_offsets = (2 * grid_h - 1) * (2 * grid_w - 1)
  index = np.zeros((grid_h * grid_w + 1,) * 2, np.int32)
  index[1:, 1:] = index_tokens
  index[0, :] = num_offsets
  index[:, 0] = num_offsets + 1
  index[0, 0] = num_offsets + 2
  return index


class RelativePositionBias(nnx.Module):
  """A learned [(2W−1)² + 3, heads] table for the config's W×W patch window; for an
  input grid h×w its offset part is resized (bilinear) to (2h−1)×(2w−1), then gathered
  into the [heads, T+1, T+1] attention bias."""

  def __init__(self, window: int, num_heads: int):
    self.window = window
    self.table = nnx.Param(jnp.zeros(((2 * window - 1) ** 2 + 3, num_heads)))

  def __call__(self, grid_h: int, grid_w: int):
    table = self.table[...]
    side = 2 * self.window - 1
    offsets = table[:side * side].reshape(side, side, -1)
    offsets = layers.resize_grid(offsets, (2 * grid_h - 1, 2 * grid_w - 1), "bilinear")
    table = jnp.concatenate([offsets.reshape(-1, table.shape[-1]), table[side * side:]], axis=0)
    return jnp.transpose(table[relative_position_index(grid_h, grid_w)], (2, 0, 1))


class Beit(nnx.Module):
  """patches + class token (+ positions) → blocks (+ relative biases) → pooled → head."""

  def __init__(self, config: BeitConfig, *, rngs: nnx.Rngs):
    self.config = config
    width, heads = config.hidden_size, config.num_attention_heads
    normal = nnx.initializers.normal(0.02)
    self.patch_embed = layers.conv(config.num_channels, width, config.patch_size, stride=config.patch_size,
                                   padding="VALID", bias=True, rngs=rngs)
    self.cls_token = nnx.Param(normal(rngs.params(), (1, 1, width)))
    self.pos_embed = (nnx.Param(normal(rngs.params(), (1, config.window ** 2 + 1, width)))
                      if config.use_absolute_position_embeddings else None)
    self.shared_relative_position_bias = (RelativePositionBias(config.window, heads)
                                          if config.use_shared_relative_position_bias else None)
    self.relative_position_bias = (nnx.List([RelativePositionBias(config.window, heads)
                                             for _ in range(config.num_hidden_layers)])
                                   if config.use_relative_position_bias else None)
    self.blocks = nnx.List([
        EncoderBlock(width, heads, config.intermediate_size, act=config.hidden_act, epsilon=config.layer_norm_eps,
                     key_bias=False, layer_scale=config.layer_scale_init_value > 0, fused_qkv=config.fused_qkv,
                     rngs=rngs)
        for _ in range(config.num_hidden_layers)])
    self.norm = None if config.use_mean_pooling else nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.pooler_norm = (nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
                        if config.use_mean_pooling and config.pooler else None)
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """Token sequence [B, 1 + patches, width] after the blocks (and the final LayerNorm
    when the model pools the class token)."""
    x = self.patch_embed(images)
    batch, grid_h, grid_w, width = x.shape
    x = jnp.concatenate([jnp.broadcast_to(self.cls_token[...], (batch, 1, width)).astype(x.dtype),
                         x.reshape(batch, -1, width)], axis=1)
    if self.pos_embed is not None:
      table = self.pos_embed[...]
      grid = layers.resize_grid(table[0, 1:].reshape(self.config.window, self.config.window, -1), (grid_h, grid_w))
      x = x + jnp.concatenate([table[:, :1], grid.reshape(1, grid_h * grid_w, -1)], axis=1).astype(x.dtype)
    shared = (self.shared_relative_position_bias(grid_h, grid_w)[None]
              if self.shared_relative_position_bias is not None else None)
    for index, block in enumerate(self.blocks):
      bias = shared
      if self.relative_position_bias is not None:
        own = self.relative_position_bias[index](grid_h, grid_w)[None]
        bias = own if bias is None else bias + own
      x = block(x, bias=bias)
    return self.norm(x) if self.norm is not None else x

  def __call__(self, images):
    x = self.forward_features(images)
    if self.config.use_mean_pooling:
      embedding = jnp.mean(x[:, 1:], axis=1)
      embedding = self.pooler_norm(embedding) if self.pooler_norm is not None else embedding
    else:
      embedding = x[:, 0]
    return (self.head(embedding) if self.head is not None else embedding), embedding
