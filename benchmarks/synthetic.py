"""Synthetic calibrated predictions at the paper's scale, for benchmarks.

Model n's logits are  z_n = signal · onehot(y) + √ρ · G + √(1−ρ) · H_n, where G is
noise shared by all models (so they share part of their errors) and H_n is the
model's own noise; ``signal`` is set per model so accuracies spread around 76%, and
``sharpness`` (an inverse temperature) makes confidences roughly calibrated, as
temperature-scaled ImageNet models are (mean top-1 confidence ≈ accuracy).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


@functools.partial(jax.jit, static_argnames=("dtype",))
def _model_probs(key, labels, shared, signal, shared_fraction, sharpness, dtype):
  own = jax.random.normal(key, shared.shape)
  noise = jnp.sqrt(shared_fraction) * shared + jnp.sqrt(1.0 - shared_fraction) * own
  logits = signal * jax.nn.one_hot(labels, shared.shape[-1]) + noise
  return jax.nn.softmax(sharpness * logits, axis=-1).astype(dtype)


def aligned_empty(shape, dtype, alignment: int = 64) -> np.ndarray:
  """An uninitialised array whose data is ``alignment``-byte aligned (zero-copy device_put)."""
  size = int(np.prod(shape)) * np.dtype(dtype).itemsize
  buffer = np.empty(size + alignment, np.uint8)
  offset = (-buffer.ctypes.data) % alignment
  return buffer[offset:offset + size].view(dtype).reshape(shape)


def synthetic_probs(num_models: int, num_examples: int, num_classes: int, seed: int = 0,
                    shared_fraction: float = 0.5, sharpness: float = 3.5,
                    dtype=jnp.bfloat16):
  """Returns (probs [N, E, K] numpy array of ``dtype``, labels int32[E])."""
  key = jax.random.PRNGKey(seed)
  label_key, shared_key, signal_key, *model_keys = jax.random.split(key, 3 + num_models)
  labels = jax.random.randint(label_key, (num_examples,), 0, num_classes)
  shared = jax.random.normal(shared_key, (num_examples, num_classes))
  # Signal ≈ 3.95 gives ≈ 76% top-1 with K = 1000 unit-variance noise; spread ±0.15.
  signals = 3.95 + 0.15 * jax.random.uniform(signal_key, (num_models,), minval=-1, maxval=1)
  probs = aligned_empty((num_models, num_examples, num_classes), np.dtype(dtype))
  for model in range(num_models):
    probs[model] = np.asarray(_model_probs(model_keys[model], labels, shared, signals[model], shared_fraction,
                                              sharpness, dtype))
  return probs, np.asarray(labels, dtype=np.int32)
