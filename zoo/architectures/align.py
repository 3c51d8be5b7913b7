"""ALIGN (Jia et al. 2021, "Scaling Up Visual and Vision-Language Representation Learning
With Noisy Text Supervision"): an EfficientNet image tower (B7-shaped; the blocks of
:mod:`zoo.architectures.efficientnet` without the 1×1 head conv, globally pooled), a
BERT text tower whose [CLS] state is projected, and a learned temperature:
logit = cos(image, text) / temperature."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import EfficientNet, EfficientNetConfig
from zoo.architectures.transformer import Mlp, MultiHeadAttention
from zoo.architectures.zero_shot import logits_per_image


@dataclasses.dataclass(frozen=True)
class BertConfig:
  """Field names and defaults of transformers' ``AlignTextConfig`` / ``BertConfig`` (BERT-base)."""
  vocab_size: int = 30522
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12
  pad_token_id: int = 0


class PostNormBlock(nnx.Module):
  """BERT's layer: x ← norm1(x + attn(x)); x ← norm2(x + mlp(x)) (post-norm residual block)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, act: str, epsilon: float, rngs: nnx.Rngs):
    self.attn = MultiHeadAttention(width, num_heads, rngs=rngs)
    self.norm1 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, act, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)

  def __call__(self, x, mask=None):
    x = self.norm1(x + self.attn(x, mask))
    return self.norm2(x + self.mlp(x))


class BertTextTower(nnx.Module):
  """LayerNorm(token + position + token-type(0) embeddings) → post-norm blocks (padding
  masked out of the keys) → [CLS] state → projection (with bias)."""

  def __init__(self, config: BertConfig, projection_dim: int, *, rngs: nnx.Rngs):
    self.config = config
    width, epsilon = config.hidden_size, config.layer_norm_eps
    normal = nnx.initializers.normal(0.02)
    self.token_embedding = nnx.Embed(config.vocab_size, width, rngs=rngs)
    self.pos_embed = nnx.Param(normal(rngs.params(), (config.max_position_embeddings, width)))
    self.type_embedding = nnx.Embed(config.type_vocab_size, width, rngs=rngs)
    self.norm_embed = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.blocks = nnx.List([
        PostNormBlock(width, config.num_attention_heads, config.intermediate_size, act=config.hidden_act,
                      epsilon=epsilon, rngs=rngs) for _ in range(config.num_hidden_layers)])
    self.projection = nnx.Linear(width, projection_dim, rngs=rngs)

  def __call__(self, token_ids):
    """int token ids [N, L] ([CLS] first, padded with ``pad_token_id``) → features [N, projection_dim]."""
    length = token_ids.shape[1]
    if length > self.config.max_position_embeddings:
      raise ValueError(f"text of {length} tokens exceeds BERT's {self.config.max_position_embeddings} positions.")
    x = self.token_embedding(token_ids) + self.type_embedding.embedding[0] + self.pos_embed[:length]
    x = self.norm_embed(x)
    keys = (token_ids != self.config.pad_token_id)[:, None, None, :]  # the attention mask of BERT's tokenizer
    for block in self.blocks:
      x = block(x, keys)
    return self.projection(x[:, 0])


class AlignVision(nnx.Module):
  """EfficientNet stem and MBConv blocks (no head conv) → global mean (or max) pool.
  ``tower(images)`` returns the pooled features twice, ``(features, features)``."""

  def __init__(self, config: EfficientNetConfig, *, pooling: str = "mean", rngs: nnx.Rngs):
    if pooling not in ("mean", "max"):
      raise ValueError(f"ALIGN pooling_type must be 'mean' or 'max'; got {pooling!r}.")
    # hidden_dim only sizes EfficientNet's head conv, which ALIGN does not have.
    backbone = EfficientNet(dataclasses.replace(config, num_classes=0, hidden_dim=config.round_filters(1280)),
                            rngs=rngs)
    self.stem_conv, self.stem_bn, self.blocks = backbone.stem_conv, backbone.stem_bn, backbone.blocks
    self.act, self.pooling = layers.activation(config.hidden_act), pooling

  def forward_features(self, images):
    """Feature map after the last block, NHWC."""
    x = self.act(self.stem_bn(self.stem_conv(layers.pad_hw(images, 0, 1, 0, 1))))
    for block in self.blocks:
      x = block(x)
    return x

  def __call__(self, images):
    x = self.forward_features(images)
    features = jnp.mean(x, axis=(1, 2)) if self.pooling == "mean" else jnp.max(x, axis=(1, 2))
    return features, features


class ALIGN(nnx.Module):
  """Both towers and ``temperature``. ``model(images)`` returns the image features twice;
  classes come from a zero-shot head (:func:`zoo.architectures.zero_shot.zero_shot_classifier`)."""

  def __init__(self, vision: EfficientNetConfig, text: BertConfig, projection_dim: int, *, pooling: str = "mean",
               rngs: nnx.Rngs):
    image_width = vision.round_filters(vision.out_channels[-1])
    if image_width != projection_dim:
      raise ValueError(f"ALIGN image features have {image_width} channels but the text projection {projection_dim}.")
    self.vision = AlignVision(vision, pooling=pooling, rngs=rngs)
    self.text = BertTextTower(text, projection_dim, rngs=rngs)
    self.temperature = nnx.Param(jnp.asarray(1.0, jnp.float32))

  def encode_image(self, images):
    """Pooled image features [B, projection_dim] (not normalised)."""
    return self.vision(images)[1]

  def encode_text(self, token_ids):
    """Projected [CLS] features [N, projection_dim] (not normalised)."""
    return self.text(token_ids)

  def __call__(self, images):
    features = self.encode_image(images)
    return features, features

  def logits_per_image(self, images, token_ids):
    """[images, texts] logits cos / temperature (transformers' ``logits_per_image``)."""
    return logits_per_image(self, images, token_ids)
