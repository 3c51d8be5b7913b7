"""SigLIP (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training"): a ViT image
tower without class token whose tokens are pooled by multihead attention pooling (MAP), a
bidirectional text tower pooled at the last position, and a learned scale and bias:
logit = exp(logit_scale) · cos(image, text) + logit_bias, σ(logit) = P(match)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.clip import TextConfig, TextTransformer
from zoo.architectures.transformer import AttentionPoolingHead, EncoderBlock
from zoo.architectures.zero_shot import logits_per_image


@dataclasses.dataclass(frozen=True)
class SiglipVisionConfig:
  """Field names and defaults of transformers' ``SiglipVisionConfig`` (SigLIP B/16 at 224²)."""
  image_size: int = 224
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu_pytorch_tanh"
  layer_norm_eps: float = 1e-6

  @property
  def num_patches(self) -> int:
    return (self.image_size // self.patch_size) ** 2


def siglip_text_config(**fields) -> TextConfig:
  """SigLIP's text tower as a :class:`TextConfig` (defaults: transformers' ``SiglipTextConfig``):
  bidirectional, last position pooled, biased head of ``projection_dim`` (= width by default)."""
  defaults = dict(vocab_size=32000, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12, max_position_embeddings=64, hidden_act="gelu_pytorch_tanh",
                  layer_norm_eps=1e-6, eos_token_id=1)
  config = {**defaults, **fields}
  config.setdefault("projection_dim", config["hidden_size"])
  return TextConfig(**config, causal=False, pooling="last", projection_bias=True)


class SiglipVisionTransformer(nnx.Module):
  """patches + positions (no class token) → pre-norm blocks → LayerNorm → MAP head.
  ``tower(images)`` returns the pooled features twice, ``(features, features)``."""

  def __init__(self, config: SiglipVisionConfig, *, rngs: nnx.Rngs):
    self.config = config
    width = config.hidden_size
    self.patch_embed = layers.conv(config.num_channels, width, config.patch_size, stride=config.patch_size,
                                   padding="VALID", bias=True, rngs=rngs)
    self.pos_embed = nnx.Param(nnx.initializers.normal(width ** -0.5)(rngs.params(), (1, config.num_patches, width)))
    self.blocks = nnx.List([
        EncoderBlock(width, config.num_attention_heads, config.intermediate_size, act=config.hidden_act,
                     epsilon=config.layer_norm_eps, rngs=rngs) for _ in range(config.num_hidden_layers)])
    self.norm = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.head = AttentionPoolingHead(width, config.num_attention_heads, config.intermediate_size,
                                     act=config.hidden_act, epsilon=config.layer_norm_eps, rngs=rngs)

  def forward_features(self, images):
    """Token sequence after the final LayerNorm, [B, patches, width]."""
    if images.shape[1:3] != (self.config.image_size,) * 2:
      raise ValueError(f"SigLIP expects {self.config.image_size}² images (its position embeddings); got "
                       f"{images.shape[1]}×{images.shape[2]}. Use the model's preprocessing.")
    x = self.patch_embed(images)
    x = x.reshape(x.shape[0], -1, x.shape[-1]) + self.pos_embed[...].astype(x.dtype)
    for block in self.blocks:
      x = block(x)
    return self.norm(x)

  def __call__(self, images):
    features = self.head(self.forward_features(images))
    return features, features


class SigLIP(nnx.Module):
  """Both towers, ``logit_scale`` and ``logit_bias``. ``model(images)`` returns the image
  features twice; classes come from a zero-shot head (:func:`zoo.architectures.zero_shot.zero_shot_classifier`)."""

  def __init__(self, vision: SiglipVisionConfig, text: TextConfig, *, rngs: nnx.Rngs):
    if vision.hidden_size != text.projection_dim:
      raise ValueError(f"SigLIP towers embed to different sizes (image {vision.hidden_size}, text "
                       f"{text.projection_dim}).")
    self.vision = SiglipVisionTransformer(vision, rngs=rngs)
    self.text = TextTransformer(text, rngs=rngs)
    self.logit_scale = nnx.Param(jnp.asarray(jnp.log(10.0), jnp.float32))
    self.logit_bias = nnx.Param(jnp.asarray(-10.0, jnp.float32))

  def encode_image(self, images):
    """Pooled image features [B, width] (not normalised)."""
    return self.vision(images)[1]

  def encode_text(self, token_ids):
    """Text features [N, width] (not normalised): token ids padded to the context length."""
    return self.text(token_ids)

  def __call__(self, images):
    features = self.encode_image(images)
    return features, features

  def logits_per_image(self, images, token_ids):
    """[images, texts] logits exp(logit_scale) · cos + logit_bias (transformers' ``logits_per_image``)."""
    return logits_per_image(self, images, token_ids)
