"""CaiT (Touvron et al. 2021, "Going deeper with Image Transformers"), timm's layout.

patches + positions (no class token) → self-attention blocks with talking heads and layer
scale → the class token joins: class-attention blocks update only it, attending over
[class, patches] → LayerNorm over [class, patches] → class token (or mean patch token) → head.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import EncoderBlock


@dataclasses.dataclass(frozen=True)
class CaitConfig:
  """Defaults: timm's ``Cait`` class (the S24 / M36 entry points set width, depth, heads)."""
  image_size: int = 224
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  mlp_ratio: float = 4.0
  num_class_layers: int = 2  # timm's depth_token_only
  class_mlp_ratio: float = 4.0  # timm's mlp_ratio_token_only
  qkv_bias: bool = True
  hidden_act: str = "gelu"
  layer_norm_eps: float = 1e-6
  pooling: str = "cls"  # "cls" or "avg" (mean patch token)
  num_classes: int = 1000

  @property
  def num_patches(self) -> int:
    return (self.image_size // self.patch_size) ** 2


class Cait(nnx.Module):
  """The embedding is the class token after the final LayerNorm (timm's pre-logits)."""

  def __init__(self, config: CaitConfig, *, rngs: nnx.Rngs):
    if config.pooling not in ("cls", "avg"):
      raise ValueError(f"CaiT pooling must be 'cls' or 'avg'; got {config.pooling!r}.")
    self.config = config
    width, heads = config.hidden_size, config.num_attention_heads
    normal = nnx.initializers.normal(0.02)
    self.patch_embed = layers.conv(config.num_channels, width, config.patch_size, stride=config.patch_size,
                                   padding="VALID", bias=True, rngs=rngs)
    self.cls_token = nnx.Param(normal(rngs.params(), (1, 1, width)))
    self.pos_embed = nnx.Param(normal(rngs.params(), (1, config.num_patches, width)))
    block = lambda ratio, **options: EncoderBlock(width, heads, int(width * ratio), act=config.hidden_act,
                                                  epsilon=config.layer_norm_eps, qkv_bias=config.qkv_bias,
                                                  layer_scale=True, rngs=rngs, **options)
    self.blocks = nnx.List([block(config.mlp_ratio, fused_qkv=True, talking_heads=True)
                            for _ in range(config.num_hidden_layers)])
    self.class_blocks = nnx.List([block(config.class_mlp_ratio) for _ in range(config.num_class_layers)])
    self.norm = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """[B, 1 + patches, width]: the class token and the patch tokens after the final LayerNorm."""
    if images.shape[1:3] != (self.config.image_size,) * 2:
      raise ValueError(f"CaiT expects {self.config.image_size}² images (its position embeddings); got "
                       f"{images.shape[1]}×{images.shape[2]}. Use the model's preprocessing.")
    x = self.patch_embed(images)
    batch, width = x.shape[0], x.shape[-1]
    x = x.reshape(batch, -1, width) + self.pos_embed[...].astype(x.dtype)
    for block in self.blocks:
      x = block(x)
    cls = jnp.broadcast_to(self.cls_token[...], (batch, 1, width)).astype(x.dtype)
    for block in self.class_blocks:
      cls = block(jnp.concatenate([cls, x], axis=1), num_queries=1)
    return self.norm(jnp.concatenate([cls, x], axis=1))

  def __call__(self, images):
    x = self.forward_features(images)
    embedding = jnp.mean(x[:, 1:], axis=1) if self.config.pooling == "avg" else x[:, 0]
    return (self.head(embedding) if self.head is not None else embedding), embedding
