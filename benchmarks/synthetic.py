"""Synthetic calibrated predictions at the paper's scale, for benchmarks.

Model n's logits on example e are

  z_n = signal_n · onehot(y) + d_e · onehot(C_e) + σ(√ρ · G + √(1−ρ) · H_n),

where C_e is a small set of classes easily confused with the label (shared by all
models, as ImageNet's dog breeds are) with an example difficulty d_e ~ U(0, 2·confusion), G is noise shared by all models (so they
share part of their errors) and H_n is the model's own noise. ``signal_n`` spreads
accuracies around 76%, and ``sharpness`` (an inverse temperature) makes confidences
roughly calibrated, as temperature-scaled ImageNet models are.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics.candidates import aligned_empty


@functools.partial(jax.jit, static_argnames=("dtype",))
def _model_probs(key, labels, confusable, shared, signal, shared_fraction, confusion, noise_scale, sharpness, dtype):
  own = jax.random.normal(key, shared.shape)
  noise = noise_scale * (jnp.sqrt(shared_fraction) * shared + jnp.sqrt(1.0 - shared_fraction) * own)
  num_classes = shared.shape[-1]
  confusable_mask = jnp.sum(jax.nn.one_hot(confusable, num_classes), axis=1)
  logits = signal * jax.nn.one_hot(labels, num_classes) + confusion[:, None] * confusable_mask + noise
  return jax.nn.softmax(sharpness * logits, axis=-1).astype(dtype)


def synthetic_probs(num_models: int, num_examples: int, num_classes: int, seed: int = 0,
                    shared_fraction: float = 0.5, num_confusable: int = 5, confusion: float = 2.0,
                    noise_scale: float = 0.6, signal: float = 3.85, sharpness: float = 3.0, dtype=jnp.bfloat16):
  """Returns (probs [N, E, K] numpy array of ``dtype``, labels int32[E])."""
  key = jax.random.PRNGKey(seed)
  label_key, confusable_key, shared_key, signal_key, *model_keys = jax.random.split(key, 4 + num_models)
  labels = jax.random.randint(label_key, (num_examples,), 0, num_classes)
  # Confusable classes: random offsets from the label, so never the label itself.
  offsets = jax.random.randint(confusable_key, (num_examples, num_confusable), 1, num_classes)
  confusable = (labels[:, None] + offsets) % num_classes
  shared = jax.random.normal(shared_key, (num_examples, num_classes))
  # Examples differ in difficulty: how strongly their confusable classes compete.
  difficulty = confusion * 2 * jax.random.uniform(jax.random.fold_in(confusable_key, 1), (num_examples,))
  signals = signal + 0.15 * jax.random.uniform(signal_key, (num_models,), minval=-1, maxval=1)
  probs = aligned_empty((num_models, num_examples, num_classes), np.dtype(dtype))
  for model in range(num_models):
    probs[model] = np.asarray(_model_probs(model_keys[model], labels, confusable, shared, signals[model],
                                           shared_fraction, difficulty, noise_scale, sharpness, dtype))
  return probs, np.asarray(labels, dtype=np.int32)
