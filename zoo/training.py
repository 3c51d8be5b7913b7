"""Training recipes for the zoo, reusable for any flax.nnx model (arrays in, trained model out).

A recipe is a frozen dataclass of hyper-parameters (a zoo row's ``hparams``). One loop
(:func:`train`) runs every objective: optax AdamW with a one-cycle schedule (linear
warm-up to the peak rate, cosine decay to 0: reaches a given accuracy in fewer epochs
than plain cosine decay) over shuffled mini-batches, in one jit-compiled pure step
whose state buffers are donated (:func:`compiled_step`), deterministic for a given
seed. Objectives:

- supervised: softmax cross-entropy on labels (:func:`train_supervised`); many
  same-architecture models at once with ``jax.vmap`` (:func:`train_supervised_many`);
- distillation: KL(teacher ‖ student) at temperature T, scaled by T² (Hinton et al.);
- SimCLR: NT-Xent between two augmented views (Chen et al. 2020);
- autoencoding: mean squared reconstruction error;

and :func:`fit_linear_head` fits the Kornblith-protocol logistic probe (probes/) on a
frozen backbone's embedding, giving a classifier for the non-supervised objectives.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


@dataclasses.dataclass(frozen=True)
class SupervisedRecipe:
  """learning_rate: AdamW peak rate; warmup: share of the steps spent rising linearly from
  0 to it (then cosine decay to 0); weight_decay: decoupled L2; batch_size, epochs; seed:
  data order and augmentation (the model's init seed is its own); random_shift: max
  pixels of random translation augmentation (0 = none)."""
  learning_rate: float = 1e-3
  weight_decay: float = 1e-4
  batch_size: int = 128
  epochs: int = 2
  seed: int = 0
  random_shift: int = 0
  warmup: float = 0.2

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


def _check(images, recipe: SupervisedRecipe, labels=None):
  if labels is not None and len(images) != len(labels):
    raise ValueError(f"images has {len(images)} examples but labels has {len(labels)}.")
  if len(images) < recipe.batch_size:
    raise ValueError(f"need at least batch_size={recipe.batch_size} training examples; got {len(images)}.")


def schedule(recipe: SupervisedRecipe, steps: int):
  """One-cycle learning rate: 0 → ``learning_rate`` linearly over the first ``warmup``
  share of ``steps``, then cosine decay to 0."""
  if not 0 <= recipe.warmup < 1:
    raise ValueError(f"recipe warmup must be in [0, 1); got {recipe.warmup}.")
  warmup = int(recipe.warmup * steps)
  return optax.warmup_cosine_decay_schedule(0.0, recipe.learning_rate, warmup, max(steps, warmup + 1), 0.0)


def _optimizer(recipe: SupervisedRecipe, steps: int):
  return optax.adamw(schedule(recipe, steps), weight_decay=recipe.weight_decay)


def compiled_step(model: nnx.Module, loss_fn: Callable, example_batch: tuple, recipe: SupervisedRecipe,
                  total_steps: int):
  """(step, state): ``step(state, batch) → (state, loss)``, one jitted pure train step of
  ``loss_fn(model, *batch)`` with AdamW on the model's nnx.Params, and its initial state
  (params, other state such as dropout RNG counts and batch statistics, optimiser
  state). A pure jax.jit (no per-call graph traversal, state buffers donated) rather
  than nnx.jit: the small study models take milliseconds per step. ``example_batch``
  fixes the shapes; the step is compiled ahead of time (lower → compile)."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  tx = _optimizer(recipe, total_steps)

  def step(state, batch):
    params, rest, opt_state = state
    module = nnx.merge(graphdef, params, rest)
    loss, grads = nnx.value_and_grad(lambda m: loss_fn(m, *batch))(module)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), nnx.state(module, nnx.Not(nnx.Param)), opt_state), loss

  state = (params, rest, tx.init(params))
  return jax.jit(step, donate_argnums=0).lower(state, example_batch).compile(), state


def step_flops(step) -> float:
  """FLOPs of one step compiled by :func:`compiled_step`, from XLA's cost analysis
  (forward, backward and optimiser update)."""
  cost = step.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", float("nan")))


def _write_back(model: nnx.Module, state) -> None:
  params, rest, _ = state
  nnx.update(model, params, rest)


def train(model: nnx.Module, loss_fn: Callable, make_batch: Callable, num_examples: int, recipe: SupervisedRecipe,
          log: Callable[[str], None] | None = None) -> list[float]:
  """The loop behind every objective; trains ``model`` in place, returns per-epoch mean losses.

  ``make_batch(indices, rng)`` → tuple of arrays for ``loss_fn(model, *arrays)`` (a
  module-level function: it is a static jit argument). The last partial batch of each
  epoch is dropped (training, unlike evaluation, need not see every example).
  """
  steps_per_epoch = num_examples // recipe.batch_size
  rng = np.random.default_rng(recipe.seed)
  model.train()
  history, step, state = [], None, None
  for epoch in range(recipe.epochs):
    order = rng.permutation(num_examples)
    losses = []
    for s in range(steps_per_epoch):
      batch = make_batch(order[s * recipe.batch_size:(s + 1) * recipe.batch_size], rng)
      if step is None:
        step, state = compiled_step(model, loss_fn, batch, recipe, steps_per_epoch * recipe.epochs)
      state, loss = step(state, batch)
      losses.append(loss)
    history.append(float(jnp.mean(jnp.stack(losses))))  # one host sync per epoch
    if log:
      log(f"epoch {epoch + 1}/{recipe.epochs}: loss {history[-1]:.4f}")
  if state is not None:
    _write_back(model, state)
  model.eval()
  return history


def cross_entropy_loss(model, images, labels):
  """Mean softmax cross-entropy of ``model(images)[0]`` against integer labels."""
  return optax.softmax_cross_entropy_with_integer_labels(model(images)[0], labels).mean()


def _labelled_batches(images, labels, recipe, preprocess):
  return lambda idx, rng: (preprocess(jnp.asarray(_shift(images[idx], rng, recipe.random_shift))),
                           jnp.asarray(labels[idx]))


def train_supervised(model: nnx.Module, images: np.ndarray, labels: np.ndarray, recipe: SupervisedRecipe,
                     preprocess: Callable = lambda x: x, log: Callable[[str], None] | None = None) -> list[float]:
  """Trains ``model`` in place on (uint8 images [N, H, W, C], int labels [N]) with softmax
  cross-entropy; ``preprocess`` maps a raw batch to the model's input (the row's preprocessing)."""
  _check(images, recipe, labels)
  return train(model, cross_entropy_loss, _labelled_batches(images, labels, recipe, preprocess), len(images), recipe,
               log)


def train_supervised_many(models: list[nnx.Module], images: np.ndarray, labels: np.ndarray,
                          recipes: list[SupervisedRecipe], preprocess: Callable = lambda x: x) -> list[list[float]]:
  """:func:`train_supervised` for several same-architecture models at once, vmapped: one
  compiled step updates all of them. Recipes may differ only in ``seed`` (each model
  keeps its own data order, augmentation and dropout stream), so every model ends as
  :func:`train_supervised` would leave it. Trains in place; returns per-model histories."""
  _check(images, recipes[0], labels)
  if len({dataclasses.replace(r, seed=0) for r in recipes}) != 1:
    raise ValueError("train_supervised_many: recipes must differ only in seed; train the others separately.")
  recipe = recipes[0]
  for model in models:
    model.train()
  graphdef, params, rest = nnx.split(models[0], nnx.Param, ...)
  splits = [nnx.split(m, nnx.Param, ...) for m in models]
  if any(g != graphdef for g, _, _ in splits):
    raise ValueError("train_supervised_many: the models' architectures differ.")
  stack = lambda trees: jax.tree.map(lambda *xs: jnp.stack(xs), *trees)
  params, rest = stack([p for _, p, _ in splits]), stack([r for _, _, r in splits])
  steps_per_epoch = len(images) // recipe.batch_size
  tx = _optimizer(recipe, steps_per_epoch * recipe.epochs)
  opt_state = jax.vmap(tx.init)(params)

  def step(params, rest, opt_state, batch_images, batch_labels):
    model = nnx.merge(graphdef, params, rest)
    value, grads = nnx.value_and_grad(lambda m: cross_entropy_loss(m, batch_images, batch_labels))(model)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), nnx.state(model, nnx.Not(nnx.Param)), opt_state, value

  vstep = jax.jit(jax.vmap(step))
  rngs = [np.random.default_rng(r.seed) for r in recipes]
  batches = _labelled_batches(images, labels, recipe, preprocess)
  histories = [[] for _ in models]
  for _ in range(recipe.epochs):
    orders = [rng.permutation(len(images)) for rng in rngs]
    losses = []
    for s in range(steps_per_epoch):
      per_model = [batches(order[s * recipe.batch_size:(s + 1) * recipe.batch_size], rng)
                   for order, rng in zip(orders, rngs)]
      params, rest, opt_state, value = vstep(params, rest, opt_state, *stack(per_model))
      losses.append(value)
    for history, mean in zip(histories, np.asarray(jnp.mean(jnp.stack(losses), axis=0))):
      history.append(float(mean))
  for index, model in enumerate(models):
    nnx.update(model, jax.tree.map(lambda x: x[index], params), jax.tree.map(lambda x: x[index], rest))
    model.eval()
  return histories


def distillation_loss(student, images, teacher_logits, temperature):
  """T² · KL(softmax(teacher/T) ‖ softmax(student/T)), mean over the batch."""
  teacher = jax.nn.log_softmax(teacher_logits / temperature)
  student_log = jax.nn.log_softmax(student(images)[0] / temperature)
  return temperature ** 2 * jnp.mean(jnp.sum(jnp.exp(teacher) * (teacher - student_log), axis=-1))


def train_distillation(student: nnx.Module, teacher: nnx.Module, images: np.ndarray, recipe: SupervisedRecipe,
                       preprocess: Callable = lambda x: x, temperature: float = 4.0, log=None) -> list[float]:
  """Trains ``student`` on the teacher's softened predictions only (no labels). Without
  augmentation the teacher's logits are computed once for all images (one eval pass)
  rather than again in every epoch."""
  _check(images, recipe)
  if recipe.random_shift == 0:
    teacher_logits = embed(teacher, images, preprocess, output=logits_output)

    def batches(idx, rng):
      return preprocess(jnp.asarray(images[idx])), jnp.asarray(teacher_logits[idx]), jnp.float32(temperature)
  else:
    teacher_forward = nnx.jit(logits_output)

    def batches(idx, rng):
      x = preprocess(jnp.asarray(_shift(images[idx], rng, recipe.random_shift)))
      return x, teacher_forward(teacher, x), jnp.float32(temperature)
  return train(student, distillation_loss, batches, len(images), recipe, log)


def nt_xent_loss(model, view_a, view_b, temperature):
  """SimCLR's NT-Xent: each projection must pick its other view among the 2B − 1 others,
  by cosine similarity / temperature."""
  z = jnp.concatenate([model(view_a)[0], model(view_b)[0]])
  z = z / jnp.linalg.norm(z, axis=-1, keepdims=True)
  similarity = (z @ z.T) / temperature
  size = view_a.shape[0]
  similarity = jnp.where(jnp.eye(2 * size, dtype=bool), -jnp.inf, similarity)
  positives = jnp.concatenate([jnp.arange(size, 2 * size), jnp.arange(size)])
  return optax.softmax_cross_entropy_with_integer_labels(similarity, positives).mean()


def _augment(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
  """SimCLR-style views for small grey images: random translation, horizontal flip,
  random erasing of a square and brightness jitter."""
  views = _shift(images, rng, max_shift).astype(np.float32)
  flip = rng.random(len(views)) < 0.5
  views[flip] = views[flip, :, ::-1]
  side = views.shape[1] // 3
  for view, (top, left) in zip(views, rng.integers(0, views.shape[1] - side, size=(len(views), 2))):
    view[top:top + side, left:left + side] = 0
  views *= rng.uniform(0.6, 1.4, size=(len(views), 1, 1, 1))
  return np.clip(views, 0, 255).astype(np.uint8)


def train_simclr(model: nnx.Module, images: np.ndarray, recipe: SupervisedRecipe, preprocess: Callable = lambda x: x,
                 temperature: float = 0.5, log=None) -> list[float]:
  """Self-supervised contrastive training: ``model(x)[0]`` is the projection (e.g. a
  ConvNet whose head outputs 64 values), ``model(x)[1]`` the embedding a probe later reads."""
  _check(images, recipe)
  shift = max(recipe.random_shift, 3)
  batches = lambda idx, rng: (preprocess(jnp.asarray(_augment(images[idx], rng, shift))),
                              preprocess(jnp.asarray(_augment(images[idx], rng, shift))), jnp.float32(temperature))
  return train(model, nt_xent_loss, batches, len(images), recipe, log)


def reconstruction_loss(model, images):
  """Mean squared error between ``model(images)[0]`` and the (preprocessed) images."""
  return jnp.mean((model(images)[0] - images) ** 2)


def train_autoencoder(model: nnx.Module, images: np.ndarray, recipe: SupervisedRecipe,
                      preprocess: Callable = lambda x: x, log=None) -> list[float]:
  """Autoencoding: ``model(x)`` → (reconstruction of x, embedding)."""
  _check(images, recipe)
  batches = lambda idx, rng: (preprocess(jnp.asarray(_shift(images[idx], rng, recipe.random_shift))),)
  return train(model, reconstruction_loss, batches, len(images), recipe, log)


def logits_output(model, x):
  """The logits, ``model(x)[0]``."""
  return model(x)[0]


def embedding_output(model, x):
  """The embedding, ``model(x)[1]``."""
  return model(x)[1]


def conv_features(model, x):
  """A ConvNet's flattened conv output, ``model.features(x)`` (what small.Retrained reads)."""
  return model.features(x)


@functools.partial(nnx.jit, static_argnames=("batch", "output"))
def _embed_batches(model, images, batch, output):
  return jax.lax.map(lambda x: output(model, x), images.reshape(-1, batch, *images.shape[1:]))


def embed(model: nnx.Module, images, preprocess: Callable = lambda x: x, batch: int = 500,
          output: Callable = embedding_output) -> np.ndarray:
  """``output(model, preprocess(images))`` (default the embedding ``model(x)[1]``) for all
  images, in batches (zero-padded to a multiple); the model in eval mode."""
  model.eval()
  padded = -len(images) % batch
  x = preprocess(jnp.asarray(np.concatenate([images, np.zeros((padded, *images.shape[1:]), images.dtype)])))
  out = _embed_batches(model, x, batch, output)
  return np.asarray(out.reshape(-1, out.shape[-1])[:len(images)])


def fit_linear_head(probed: nnx.Module, images, labels, preprocess: Callable = lambda x: x,
                    validation_fraction: float = 0.2, l2_grid=None) -> dict:
  """Fits ``probed.classifier`` (a ``LinearProbed``) on the frozen backbone's embeddings
  with the Kornblith protocol (probes.logistic_probe: standardise, L2 sweep chosen on a
  validation slice, refit on all); the standardisation is folded into the Linear layer.
  Returns the probe's result dict."""
  from probes import logistic_probe
  features = embed(probed, images, preprocess)
  split = int(len(features) * (1 - validation_fraction))
  result = logistic_probe(features[:split], labels[:split], features[split:], labels[split:],
                          features[split:], labels[split:], l2_grid=l2_grid, max_iterations=300)
  weights, bias = (np.asarray(p, np.float64) for p in result["params"])
  mean, std = features.mean(0), features.std(0)
  std = np.where(std < 1e-8, 1.0, std)  # as probes.standardize
  probed.classifier.kernel[...] = jnp.asarray(weights / std[:, None], jnp.float32)
  probed.classifier.bias[...] = jnp.asarray(bias - (mean / std) @ weights, jnp.float32)
  return result
