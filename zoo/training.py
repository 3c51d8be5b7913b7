"""Training recipes for the built-in zoo, reusable for any flax.nnx model.

A recipe is a frozen dataclass of hyper-parameters (the ``hparams`` of a zoo row come
from it); :func:`train_supervised` trains any module whose call returns
``(logits, embedding)`` with optax AdamW on softmax cross-entropy, in jit-compiled
steps over shuffled mini-batches, deterministically for a given seed.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


@dataclasses.dataclass(frozen=True)
class SupervisedRecipe:
  """learning_rate: AdamW peak rate (cosine decay to 0); weight_decay: decoupled L2;
  batch_size, epochs; seed: data order (the model's init seed is its own);
  random_shift: max pixels of random translation augmentation (0 = none)."""
  learning_rate: float = 1e-3
  weight_decay: float = 1e-4
  batch_size: int = 128
  epochs: int = 2
  seed: int = 0
  random_shift: int = 0

  def hparams(self) -> tuple[tuple[str, float], ...]:
    return tuple((k, v) for k, v in dataclasses.asdict(self).items() if k != "seed")


def _shift(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
  """Random translations by up to ``max_shift`` pixels (zero padding)."""
  if max_shift == 0:
    return images
  padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
  offsets = rng.integers(0, 2 * max_shift + 1, size=(len(images), 2))
  height, width = images.shape[1:3]
  return np.stack([p[dy:dy + height, dx:dx + width] for p, (dy, dx) in zip(padded, offsets)])


@nnx.jit
def _train_step(model, optimizer, images, labels):
  def loss_fn(model):
    logits, _ = model(images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss


def train_supervised(model: nnx.Module, images: np.ndarray, labels: np.ndarray, recipe: SupervisedRecipe,
                     preprocess: Callable = lambda x: x, log: Callable[[str], None] | None = None) -> list[float]:
  """Trains ``model`` in place on (uint8 images [N, H, W, C], int labels [N]); returns per-epoch mean losses.

  ``preprocess`` maps a batch of raw images to the model's input (the zoo row's
  preprocessing). The last partial batch of each epoch is dropped (training, unlike
  evaluation, need not see every example every epoch).
  """
  if len(images) != len(labels):
    raise ValueError(f"images has {len(images)} examples but labels has {len(labels)}.")
  if len(images) < recipe.batch_size:
    raise ValueError(f"need at least batch_size={recipe.batch_size} training examples; got {len(images)}.")
  steps_per_epoch = len(images) // recipe.batch_size
  schedule = optax.cosine_decay_schedule(recipe.learning_rate, steps_per_epoch * recipe.epochs)
  optimizer = nnx.Optimizer(model, optax.adamw(schedule, weight_decay=recipe.weight_decay), wrt=nnx.Param)
  rng = np.random.default_rng(recipe.seed)
  model.train()
  history = []
  for epoch in range(recipe.epochs):
    order = rng.permutation(len(images))
    losses = []
    for step in range(steps_per_epoch):
      batch = order[step * recipe.batch_size:(step + 1) * recipe.batch_size]
      batch_images = preprocess(jnp.asarray(_shift(images[batch], rng, recipe.random_shift)))
      losses.append(_train_step(model, optimizer, batch_images, jnp.asarray(labels[batch])))
    history.append(float(jnp.mean(jnp.stack(losses))))
    if log:
      log(f"epoch {epoch + 1}/{recipe.epochs}: loss {history[-1]:.4f}")
  model.eval()
  return history
