"""CLIP (Radford et al. 2021): image tower (a ViT, :mod:`zoo.architectures.vit`), text
tower, and zero-shot classifiers built from class names × prompt templates."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures.clip_resnet import ClipResNet, ClipResNetConfig
from zoo.architectures.transformer import EncoderBlock
from zoo.architectures.vit import ViTConfig, VisionTransformer
# The zero-shot machinery is shared by every image–text model; re-exported here for CLIP users.
from zoo.architectures.zero_shot import (ZeroShotClassifier, logits_per_image, zero_shot_classifier,  # noqa: F401
                                         zero_shot_weights)


@dataclasses.dataclass(frozen=True)
class TextConfig:
  """Defaults: CLIP ViT-B/32's text tower (transformers' ``CLIPTextConfig``)."""
  vocab_size: int = 49408
  hidden_size: int = 512
  intermediate_size: int = 2048
  num_hidden_layers: int = 12
  num_attention_heads: int = 8
  max_position_embeddings: int = 77
  hidden_act: str = "quick_gelu"
  layer_norm_eps: float = 1e-5
  eos_token_id: int = 49407  # 2 = the legacy configs: the end token is the largest id (argmax)
  projection_dim: int = 512
  causal: bool = True  # SigLIP: bidirectional attention
  pooling: str = "eos"  # "eos": the (first) end token's state; "last": the last position's (SigLIP)
  projection_bias: bool = False  # SigLIP's text head has a bias


class TextTransformer(nnx.Module):
  """Token + position embeddings → causal blocks → LayerNorm → end-token state → projection.
  SigLIP's text tower is the same with bidirectional attention, the last position pooled and
  a biased projection (``causal=False, pooling="last", projection_bias=True``)."""

  def __init__(self, config: TextConfig, *, rngs: nnx.Rngs):
    if config.pooling not in ("eos", "last"):
      raise ValueError(f"TextConfig.pooling must be 'eos' or 'last'; got {config.pooling!r}.")
    self.config = config
    width = config.hidden_size
    self.token_embedding = nnx.Embed(config.vocab_size, width, rngs=rngs)
    self.pos_embed = nnx.Param(nnx.initializers.normal(0.01)(rngs.params(), (config.max_position_embeddings, width)))
    self.blocks = nnx.List([
        EncoderBlock(width, config.num_attention_heads, config.intermediate_size, act=config.hidden_act,
                     epsilon=config.layer_norm_eps, rngs=rngs) for _ in range(config.num_hidden_layers)])
    self.norm = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.projection = nnx.Linear(width, config.projection_dim, use_bias=config.projection_bias, rngs=rngs)

  def __call__(self, token_ids):
    """int token ids [N, L] (each row holding an end token) → text features [N, projection_dim]."""
    length = token_ids.shape[1]
    if length > self.config.max_position_embeddings:
      raise ValueError(f"text of {length} tokens exceeds the tower's {self.config.max_position_embeddings} "
                       "positions; tokenize with the model's context length.")
    x = self.token_embedding(token_ids) + self.pos_embed[:length]
    causal = jnp.tril(jnp.ones((length, length), bool))[None, None] if self.config.causal else None
    for block in self.blocks:
      x = block(x, causal)
    x = self.norm(x)
    if self.config.pooling == "last":
      return self.projection(x[:, -1])
    if self.config.eos_token_id == 2:
      end = jnp.argmax(token_ids, axis=-1)
    else:
      end = jnp.argmax(token_ids == self.config.eos_token_id, axis=-1)  # first end token
    return self.projection(x[jnp.arange(x.shape[0]), end])


class CLIP(nnx.Module):
  """Both towers and the learned temperature. The image tower is a ViT (``ViTConfig``) or
  the modified ResNet (``ClipResNetConfig``). ``model(images)`` returns the image
  features twice, ``(features, features)``: CLIP has no classes until a zero-shot or
  linear head is attached (:class:`ZeroShotClassifier`)."""

  def __init__(self, vision: ViTConfig | ClipResNetConfig, text: TextConfig, *, rngs: nnx.Rngs):
    if vision.projection_dim != text.projection_dim:
      raise ValueError(f"CLIP towers project to different sizes ({vision.projection_dim} vs {text.projection_dim}).")
    tower = ClipResNet if isinstance(vision, ClipResNetConfig) else VisionTransformer
    self.vision = tower(vision, rngs=rngs)
    self.text = TextTransformer(text, rngs=rngs)
    self.logit_scale = nnx.Param(jnp.asarray(jnp.log(1 / 0.07), jnp.float32))

  def encode_image(self, images):
    """Projected image features [B, projection_dim] (not normalised)."""
    return self.vision(images)[1]

  def encode_text(self, token_ids):
    """Projected text features [N, projection_dim] (not normalised)."""
    return self.text(token_ids)

  def __call__(self, images):
    features = self.encode_image(images)
    return features, features

  def logits_per_image(self, images, token_ids):
    """[images, texts] logits exp(logit_scale) · cos(image, text) (transformers' ``logits_per_image``)."""
    return logits_per_image(self, images, token_ids)
