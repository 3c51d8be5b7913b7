"""Zero-shot classifiers from any image–text model (CLIP, SigLIP, ALIGN).

A dual-encoder model exposes ``vision`` (``vision(images) → (_, image features)``),
``encode_text(token_ids) → text features`` and its scalar scoring parameters, named as in
the checkpoints: ``logit_scale`` (CLIP, SigLIP), ``logit_bias`` (SigLIP) or
``temperature`` (ALIGN). Class weights come from prompts (class names × templates,
:data:`zoo.architectures.prompts.IMAGENET_TEMPLATES`); scores use the model's own rule
(:func:`similarity_logits`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures.prompts import IMAGENET_TEMPLATES

_SCORE_PARAMETERS = ("logit_scale", "logit_bias", "temperature")


def normalize(x, axis=-1):
  """x / ‖x‖₂ along ``axis``."""
  return x / jnp.linalg.norm(x, axis=axis, keepdims=True)


def similarity_logits(cosine, *, logit_scale=None, logit_bias=None, temperature=None):
  """Logits from cosine similarities, by the model's training objective:
  CLIP exp(logit_scale)·cos; SigLIP exp(logit_scale)·cos + logit_bias (σ of it is the
  match probability, so the argmax is the logits' argmax); ALIGN cos / temperature."""
  if temperature is not None:
    return cosine / temperature
  if logit_scale is None:
    raise ValueError("similarity_logits needs logit_scale (CLIP, SigLIP) or temperature (ALIGN).")
  logits = jnp.exp(logit_scale) * cosine
  return logits + logit_bias if logit_bias is not None else logits


def _score_parameters(module) -> dict:
  return {name: getattr(module, name)[...] for name in _SCORE_PARAMETERS if getattr(module, name, None) is not None}


def logits_per_image(model, images, token_ids):
  """[images, texts] logits of every image against every text, as the model's
  ``logits_per_image`` in transformers: the rule of :func:`similarity_logits` on
  normalised image and text features."""
  cosine = normalize(model.vision(images)[1]) @ normalize(model.encode_text(token_ids)).T
  return similarity_logits(cosine, **_score_parameters(model))


@nnx.jit
def _unit_text_features(model, token_ids):
  return normalize(model.encode_text(token_ids))


def zero_shot_weights(model, token_ids, *, batch_size: int = 1024) -> jax.Array:
  """Classifier weights from prompts: token ids [classes, templates, L] → W [features, classes],
  W_c = normalise(mean_t normalise(text(prompt_{c,t}))) (Radford et al. 2021). The text tower
  runs jitted on ``batch_size`` prompts at a time (the last batch padded: one compilation)."""
  token_ids = np.asarray(token_ids)
  if token_ids.ndim != 3 or 0 in token_ids.shape:
    raise ValueError(f"zero_shot_weights needs token ids [classes, templates, length]; got {token_ids.shape}.")
  classes, templates, length = token_ids.shape
  flat = token_ids.reshape(classes * templates, length)
  size = min(batch_size, len(flat))
  padded = np.concatenate([flat, np.repeat(flat[:1], -len(flat) % size, axis=0)])
  features = jnp.concatenate([_unit_text_features(model, jnp.asarray(padded[start:start + size]))
                              for start in range(0, len(padded), size)])[:len(flat)]
  return normalize(features.reshape(classes, templates, -1).mean(axis=1)).T


class ZeroShotClassifier(nnx.Module):
  """An image tower with zero-shot weights W [features, classes]:
  logits = similarity_logits(normalise(f(x)) · W) with the model's own scoring parameters;
  the embedding is the image feature f(x) (what linear probes use). The text tower is
  not kept."""

  def __init__(self, model, weights):
    self.vision = model.vision
    for name in _SCORE_PARAMETERS:
      setattr(self, name, getattr(model, name, None))
    self.weights = nnx.Param(jnp.asarray(weights))

  def __call__(self, images):
    features = self.vision(images)[1]
    logits = similarity_logits(normalize(features) @ self.weights[...], **_score_parameters(self))
    return logits, features


def zero_shot_classifier(model, tokenizer, class_names: list[str], templates=IMAGENET_TEMPLATES, *,
                         batch_size: int = 1024) -> ZeroShotClassifier:
  """The zero-shot classifier of ``class_names`` × ``templates`` (each with one ``{}``;
  default CLIP's 80 ImageNet templates) for any image–text model, with its tokenizer (a
  callable texts → int ids [N, L]: ClipTokenizer, SiglipTokenizer, BertTokenizer; see
  :func:`zoo.load_tokenizer`). ``batch_size`` prompts go through the text tower at a time."""
  from zoo.architectures.clip_tokenizer import prompt_token_ids
  if not class_names:
    raise ValueError("zero_shot_classifier needs at least one class name.")
  bad = [t for t in templates if t.count("{}") != 1]
  if bad or not templates:
    raise ValueError(f"every prompt template needs exactly one '{{}}' for the class name; got {bad or templates}.")
  ids = prompt_token_ids(tokenizer, list(class_names), list(templates))
  return ZeroShotClassifier(model, zero_shot_weights(model, ids, batch_size=batch_size))
