"""CLIP (Radford et al. 2021): image tower (a ViT, :mod:`zoo.architectures.vit`), text
tower, and zero-shot classifiers built from class names × prompt templates."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures.clip_resnet import ClipResNet, ClipResNetConfig
from zoo.architectures.transformer import EncoderBlock
from zoo.architectures.vit import ViTConfig, VisionTransformer


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


class TextTransformer(nnx.Module):
  """Token + position embeddings → causal blocks → LayerNorm → end-token state → projection."""

  def __init__(self, config: TextConfig, *, rngs: nnx.Rngs):
    self.config = config
    width = config.hidden_size
    self.token_embedding = nnx.Embed(config.vocab_size, width, rngs=rngs)
    self.pos_embed = nnx.Param(nnx.initializers.normal(0.01)(rngs.params(), (config.max_position_embeddings, width)))
    self.blocks = nnx.List([
        EncoderBlock(width, config.num_attention_heads, config.intermediate_size, act=config.hidden_act,
                     epsilon=config.layer_norm_eps, rngs=rngs) for _ in range(config.num_hidden_layers)])
    self.norm = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.projection = nnx.Linear(width, config.projection_dim, use_bias=False, rngs=rngs)

  def __call__(self, token_ids):
    """int token ids [N, L] (each row holding an end token) → text features [N, projection_dim]."""
    length = token_ids.shape[1]
    x = self.token_embedding(token_ids) + self.pos_embed[:length]
    causal = jnp.tril(jnp.ones((length, length), bool))[None, None]
    for block in self.blocks:
      x = block(x, causal)
    x = self.norm(x)
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


def _normalize(x, axis=-1):
  return x / jnp.linalg.norm(x, axis=axis, keepdims=True)


def zero_shot_weights(model: CLIP, token_ids) -> jax.Array:
  """Classifier weights from prompts: token ids [classes, templates, L] →
  W [projection_dim, classes], W_c = normalise(mean_t normalise(text(prompt_{c,t}))) (Radford et al.)."""
  classes, templates, length = token_ids.shape
  features = _normalize(model.encode_text(token_ids.reshape(classes * templates, length)))
  return _normalize(features.reshape(classes, templates, -1).mean(axis=1)).T


class ZeroShotClassifier(nnx.Module):
  """A CLIP image tower with zero-shot weights: logits = exp(logit_scale) · normalise(f(x)) · W;
  the embedding is the image feature f(x) (what linear probes on CLIP use)."""

  def __init__(self, model: CLIP, weights):
    self.vision = model.vision
    self.logit_scale = model.logit_scale
    self.weights = nnx.Param(jnp.asarray(weights))

  def __call__(self, images):
    features = self.vision(images)[1]
    logits = jnp.exp(self.logit_scale[...]) * _normalize(features) @ self.weights[...]
    return logits, features


def zero_shot_classifier(model: CLIP, tokenizer, class_names: list[str], templates: list[str]) -> ZeroShotClassifier:
  """The zero-shot classifier of ``class_names`` × ``templates`` ("a photo of a {}.") with a
  :class:`zoo.architectures.clip_tokenizer.ClipTokenizer` (or any callable texts → ids)."""
  from zoo.architectures.clip_tokenizer import prompt_token_ids
  ids = prompt_token_ids(tokenizer, class_names, templates)
  return ZeroShotClassifier(model, zero_shot_weights(model, jnp.asarray(ids)))
