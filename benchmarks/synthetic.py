"""Synthetic calibrated predictions at the paper's scale, for benchmarks.

Model n's logits on example e are

  z_n = signal_n · onehot(y) + d_e · onehot(C_e) + σ(√ρ · G + √(1−ρ) · H_n),

where C_e is a small set of classes easily confused with the label (shared by all
models, as ImageNet's dog breeds are) with an example difficulty d_e ~ U(0, 2·confusion), G is noise shared by all models (so they
share part of their errors) and H_n is the model's own noise (a shifted copy of one of a few
standard-normal bank arrays, so that a thousand models generate quickly). ``signal_n`` spreads
accuracies around 76%, and ``sharpness`` (an inverse temperature) makes confidences
roughly calibrated, as temperature-scaled ImageNet models are.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics.candidates import aligned_empty


@jax.jit
def _shared_logits(labels, confusable, shared, shared_fraction, difficulty, noise_scale):
  """The model-independent part of the logits: confusable classes and the shared noise."""
  num_classes = shared.shape[-1]
  confusable_mask = jnp.zeros(shared.shape, jnp.float32).at[jnp.arange(shared.shape[0])[:, None], confusable].set(1.0)
  return difficulty[:, None] * confusable_mask + noise_scale * jnp.sqrt(shared_fraction) * shared


@functools.partial(jax.jit, static_argnames=("dtype",))
def _model_probs(base, labels, noise, shift, signal, own_scale, sharpness, dtype):
  own = jnp.roll(noise, shift, axis=0)       # the model's own noise: a bank array, rows shifted
  label_hot = jnp.arange(base.shape[-1])[None, :] == labels[:, None]
  logits = base + signal * label_hot + own_scale * own
  return jax.nn.softmax(sharpness * logits, axis=-1).astype(dtype)


def synthetic_probs(num_models: int, num_examples: int, num_classes: int, seed: int = 0,
                    shared_fraction: float = 0.5, num_confusable: int = 5, confusion: float = 2.0,
                    noise_scale: float = 0.6, signal: float = 3.85, sharpness: float = 3.0, dtype=jnp.bfloat16):
  """Returns (probs [N, E, K] numpy array of ``dtype``, labels int32[E])."""
  probs, labels = aligned_empty((num_models, num_examples, num_classes), np.dtype(dtype)), None
  for model, values, labels in _models(num_models, num_examples, num_classes, seed, dtype, shared_fraction,
                                       num_confusable, confusion, noise_scale, signal, sharpness):
    probs[model] = values
  return probs, labels


def write_synthetic_memmaps(directory, num_models: int, num_examples: int, num_classes: int, seed: int = 0,
                            dtype=jnp.bfloat16, **options):
  """The same predictions as :func:`synthetic_probs`, generated model by model and written to
  ``directory/model_NNNNN.npy`` (bfloat16 as its uint16 bit pattern), never all in memory.
  Returns (paths, labels int32[E]); :func:`open_memmaps` maps them back."""
  from pathlib import Path
  directory = Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  paths = []
  for model, probs, labels in _models(num_models, num_examples, num_classes, seed, dtype, **options):
    path = directory / f"model_{model:05d}.npy"
    np.save(path, probs.view(np.uint16) if probs.dtype.name == "bfloat16" else probs)
    paths.append(path)
  return paths, labels


def open_memmaps(paths, dtype=jnp.bfloat16) -> list[np.memmap]:
  """Read-only per-model memmaps of :func:`write_synthetic_memmaps` files, in ``dtype``."""
  mapped = [np.load(path, mmap_mode="r") for path in paths]
  return [m.view(np.dtype(dtype)) if np.dtype(dtype).name == "bfloat16" else m for m in mapped]


_NOISE_BANK_BYTES = 1 << 30


def _models(num_models, num_examples, num_classes, seed=0, dtype=jnp.bfloat16, shared_fraction: float = 0.5,
            num_confusable: int = 5, confusion: float = 2.0, noise_scale: float = 0.6, signal: float = 3.85,
            sharpness: float = 3.0):
  """Yields (model index, probs [E, K] numpy of ``dtype``, labels int32[E]) for each model.

  A model's own noise H_n is one of a few standard-normal bank arrays with its example
  rows shifted by a random offset (so any two models' own noise on an example is
  independent unless they draw the same array and offset); generating a fresh
  [E, K] normal array per model would dominate the benchmark's setup at N = 1,000.
  """
  key = jax.random.PRNGKey(seed)
  label_key, confusable_key, shared_key, signal_key = jax.random.split(key, 4)
  labels = jax.random.randint(label_key, (num_examples,), 0, num_classes)
  # Confusable classes: random offsets from the label, so never the label itself.
  offsets = jax.random.randint(confusable_key, (num_examples, num_confusable), 1, num_classes)
  confusable = (labels[:, None] + offsets) % num_classes
  shared = jax.random.normal(shared_key, (num_examples, num_classes))
  # Examples differ in difficulty: how strongly their confusable classes compete.
  difficulty = confusion * 2 * jax.random.uniform(jax.random.fold_in(confusable_key, 1), (num_examples,))
  signals = signal + 0.15 * jax.random.uniform(signal_key, (num_models,), minval=-1, maxval=1)
  base = _shared_logits(labels, confusable, shared, shared_fraction, difficulty, noise_scale)
  del shared
  rng = np.random.default_rng(seed)
  bank_size = int(min(16, num_models, max(2, _NOISE_BANK_BYTES // (4 * num_examples * num_classes))))
  bank = [jax.device_put(rng.standard_normal((num_examples, num_classes), dtype=np.float32))
          for _ in range(bank_size)]
  draws, shifts = rng.integers(0, bank_size, num_models), rng.integers(0, num_examples, num_models)
  own_scale = noise_scale * np.sqrt(1.0 - shared_fraction)
  labels_host = np.asarray(labels, dtype=np.int32)
  for model in range(num_models):
    yield model, np.asarray(_model_probs(base, labels, bank[draws[model]], int(shifts[model]), signals[model],
                                         own_scale, sharpness, dtype)), labels_host
