"""Training recipes for the zoo, reusable for any flax.nnx model (arrays in, trained model out).

A recipe is a frozen dataclass of hyper-parameters (a zoo row's ``hparams``). One loop
(:func:`train`) runs every objective: optax AdamW with a one-cycle schedule (linear
warm-up to the peak rate, cosine decay to 0: reaches a given accuracy in fewer epochs
than plain cosine decay) over shuffled mini-batches, deterministic for a given seed.
The training data lives on the device and each epoch is one compiled lax.scan over its
steps (:func:`scans_epochs` names the exception): batches are gathered, augmented and
preprocessed inside it, so the host only draws each epoch's order (on 2 CPU cores the
ConvNet's epoch of 45,000 examples: 16.3 s with the former Python loop feeding host
batches, 8.4 s). Compiled programs are shared by every row with the same architecture,
objective and recipe up to the seed.
Objectives:

- supervised: softmax cross-entropy on labels (:func:`train_supervised`); many
  same-architecture models at once with ``jax.vmap`` (:func:`train_supervised_many`);
- distillation: KL(teacher ‖ student) at temperature T, scaled by T² (Hinton et al.);
- SimCLR: NT-Xent between two augmented views (Chen et al. 2020);
- autoencoding: mean squared reconstruction error;

and :func:`fit_probed_classifier` fits the Kornblith-protocol logistic probe (probes/) on a
frozen backbone's embedding, giving a classifier for the non-supervised objectives.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from zoo import concurrency


class EpochDone(NamedTuple):
  """Typed progress: what a training loop's ``log`` callback receives after each epoch
  (``epoch`` counts from 1; ``examples`` seen in this epoch's full batches). Printed, it
  reads as the loop's log line, so ``log=print`` still shows it."""
  epoch: int
  epochs: int
  loss: float
  examples: int

  def __str__(self) -> str:
    return f"epoch {self.epoch}/{self.epochs}: loss {self.loss:.4f}"


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


def random_shift(images, key, max_shift: int):
  """Random translations of a batch [B, H, W, C] by up to ``max_shift`` pixels in each
  direction (zero padding); offsets uniform in [0, 2·max_shift] per example, from ``key``."""
  if max_shift == 0:
    return images
  pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
  padded = jnp.pad(images, pad)
  offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * max_shift + 1)
  crop = lambda image, offset: jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), images.shape[1:])
  return jax.vmap(crop)(padded, offsets)


def _identity(x):
  return x


@dataclasses.dataclass(frozen=True)
class Batches:
  """How one step's arrays come from the training data on the device:
  ``make(data, indices, key, **options)`` → the tuple ``loss_fn(model, *arrays)`` takes.
  ``make`` is a module-level function and ``options`` a tuple of hashable (name, value)
  pairs, so equal Batches share one compiled epoch."""
  make: Callable
  options: tuple = ()

  def __call__(self, data, indices, key):
    return self.make(data, indices, key, **dict(self.options))


def _labelled_batch(data, indices, key, *, preprocess, shift):
  images, labels = data
  return preprocess(random_shift(images[indices], key, shift)), labels[indices]


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
  step = functools.partial(_update, graphdef, loss_fn, tx)
  state = (params, rest, tx.init(params))
  return jax.jit(step, donate_argnums=0).lower(state, example_batch).compile(), state


def _update(graphdef, loss_fn, tx, state, batch):
  """One AdamW update of ``state`` = (params, other state, optimiser state) on
  ``loss_fn(model, *batch)``; (new state, loss)."""
  params, rest, opt_state = state
  module = nnx.merge(graphdef, params, rest)
  loss, grads = nnx.value_and_grad(lambda m: loss_fn(m, *batch))(module)
  updates, opt_state = tx.update(grads, opt_state, params)
  return (optax.apply_updates(params, updates), nnx.state(module, nnx.Not(nnx.Param)), opt_state), loss


def step_flops(step) -> float:
  """FLOPs of one step compiled by :func:`compiled_step`, from XLA's cost analysis
  (forward, backward and optimiser update)."""
  cost = step.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", float("nan")))


def _write_back(model: nnx.Module, state) -> None:
  params, rest, _ = state
  nnx.update(model, params, rest)


def _step_of(graphdef, loss_fn, batches, tx, barrier: bool):
  """One train step ``(state, data, indices, epoch_key, step) → (state, loss)``; the
  step's augmentation key is ``fold_in(epoch_key, step)``. ``barrier``: materialise the
  batch before the model (an optimization_barrier): fused into an nnx.Conv's operand,
  the gather/augmentation/preprocessing forced XLA:CPU off its fast convolution (the
  small ResNet's step 50 → 80 ms)."""

  def step(state, data, indices, epoch_key, step_number):
    batch = batches(data, indices, jax.random.fold_in(epoch_key, step_number))
    if barrier:
      batch = jax.lax.optimization_barrier(batch)
    return _update(graphdef, loss_fn, tx, state, batch)
  return step


@functools.lru_cache(maxsize=64)
def _program(graphdef, loss_fn, batches, recipe, total_steps, models: int, scan: bool):
  """The jitted training program (state donated) for (architecture, objective, batches,
  recipe up to the seed, schedule length), cached so rows that differ only in seed reuse
  one compilation. ``models`` > 0: vmapped over a stack of that many models (data shared,
  indices [M, B] and keys [M] per model). ``scan``: one call runs a whole epoch as a
  lax.scan, ``(state, data, orders [steps, (M,) B], epoch_key) → (state, losses)``;
  otherwise one call per step, ``(state, data, indices, epoch_key, step) → (state, loss)``."""
  step = _step_of(graphdef, loss_fn, batches, _optimizer(recipe, total_steps), barrier=not scan)
  if models:
    step = jax.vmap(step, in_axes=(0, None, 0, 0, None))
  if not scan:
    return jax.jit(step, donate_argnums=0)

  def epoch(state, data, orders, epoch_key):
    numbers = jnp.arange(orders.shape[0], dtype=jnp.int32)
    return jax.lax.scan(lambda carry, inputs: step(carry, data, inputs[0], epoch_key, inputs[1]), state,
                        (orders, numbers))
  return jax.jit(epoch, donate_argnums=0)


def _sliding_window_conv(module) -> bool:
  """An nnx.Conv other than a patchify stem (kernel = stride on every axis, no dilation)."""
  if not isinstance(module, nnx.Conv):
    return False
  kernel = tuple(module.kernel_size)
  per_axis = lambda value: tuple(value) if isinstance(value, (tuple, list)) else (value,) * len(kernel)
  return per_axis(module.strides) != kernel or set(per_axis(module.kernel_dilation or 1)) != {1}


def scans_epochs(model: nnx.Module) -> bool:
  """Whether :func:`train` runs each epoch as one lax.scan (the default) or one jitted call
  per step: per step for models with a sliding-window nnx.Conv (kernel ≠ stride) on CPU, whose
  convolutions XLA:CPU runs ~4–7× slower inside a while loop (the small ResNet: 308 vs 75
  ms a step). A patchify stem (kernel = stride, the Mixer's) is a reshape and a matmul
  there and scans well. Scanned, the host dispatches once per epoch: the ConvNet's epoch
  1.14×, the Mixer's 1.24× faster (2 CPU cores, benchmarks/training.py --loop)."""
  sliding = any(_sliding_window_conv(m) for _, m in nnx.iter_graph(model) if isinstance(m, nnx.Module))
  return not (sliding and jax.default_backend() == "cpu")


def _run_epoch(program, scan: bool, state, data, orders, epoch_key):
  """One epoch of ``program`` (:func:`_program`) over ``orders`` [steps, ...]; (state, losses [steps, ...]),
  complete on return. A program with custom calls runs under zoo.concurrency's guard
  (lowering first costs nothing: the call reuses its trace)."""
  if scan:
    orders = jnp.asarray(orders)
    with concurrency.guard(program.lower(state, data, orders, epoch_key)):
      return jax.block_until_ready(program(state, data, orders, epoch_key))
  with concurrency.guard(program.lower(state, data, orders[0], epoch_key, np.int32(0))):
    losses = []
    for number, indices in enumerate(orders):
      state, loss = program(state, data, indices, epoch_key, np.int32(number))
      losses.append(loss)
    return jax.block_until_ready((state, jnp.stack(losses)))


def _epoch_orders(rng: np.random.Generator, num_examples: int, batch_size: int) -> np.ndarray:
  """A shuffled epoch as [steps, batch_size] indices (the last partial batch dropped:
  training, unlike evaluation, need not see every example)."""
  steps = num_examples // batch_size
  return rng.permutation(num_examples)[:steps * batch_size].reshape(steps, batch_size)


def _device_data(data):
  return jax.tree.map(jnp.asarray, data)


def _hashable_graphdef(model: nnx.Module):
  graphdef = nnx.graphdef(model)
  try:
    hash(graphdef)
  except TypeError as error:
    raise ValueError(f"training needs a hashable nnx graph (static fields of {type(model).__name__} must be "
                     f"hashable: tuples, not lists): {error}") from None
  return graphdef


def train(model: nnx.Module, loss_fn: Callable, batches: Batches, data, num_examples: int,
          recipe: SupervisedRecipe, log: Callable | None = None) -> list[float]:
  """The loop behind every objective; trains ``model`` in place, returns per-epoch mean losses.

  ``log`` (optional) is called with an :class:`EpochDone` after each epoch: progress as data,
  never to be parsed back from text.

  ``data``: a pytree of arrays with ``num_examples`` rows (moved to the device once);
  ``batches(data, indices, key)`` → the arrays of ``loss_fn(model, *arrays)`` for one
  step (:class:`Batches`; ``loss_fn`` a module-level function). Each epoch shuffles with
  a numpy Generator seeded by ``recipe.seed``; step k of epoch e augments with
  ``fold_in(fold_in(key(recipe.seed), e), k)``; one compiled program per epoch or per
  step (:func:`scans_epochs`).
  """
  steps_per_epoch = num_examples // recipe.batch_size
  rng, key = np.random.default_rng(recipe.seed), jax.random.key(recipe.seed)
  model.train()
  graphdef = _hashable_graphdef(model)
  _, params, rest = nnx.split(model, nnx.Param, ...)
  total_steps = steps_per_epoch * recipe.epochs
  state = (params, rest, _optimizer(recipe, total_steps).init(params))
  scan = scans_epochs(model)
  # The seed only reaches the data order and keys, not the program.
  program = _program(graphdef, loss_fn, batches, dataclasses.replace(recipe, seed=0), total_steps, 0, scan)
  data = _device_data(data)
  history = []
  for epoch in range(recipe.epochs):
    orders = _epoch_orders(rng, num_examples, recipe.batch_size)
    state, losses = _run_epoch(program, scan, state, data, orders, jax.random.fold_in(key, epoch))
    history.append(float(jnp.mean(losses)))  # one host sync per epoch
    if log:
      log(EpochDone(epoch + 1, recipe.epochs, history[-1], steps_per_epoch * recipe.batch_size))
  _write_back(model, state)
  model.eval()
  return history


def cross_entropy_loss(model, images, labels):
  """Mean softmax cross-entropy of ``model(images)[0]`` against integer labels."""
  return optax.softmax_cross_entropy_with_integer_labels(model(images)[0], labels).mean()


def train_supervised(model: nnx.Module, images: np.ndarray, labels: np.ndarray, recipe: SupervisedRecipe,
                     preprocess: Callable = _identity, log: Callable | None = None) -> list[float]:
  """Trains ``model`` in place on (uint8 images [N, H, W, C], int labels [N]) with softmax
  cross-entropy; ``preprocess`` maps a raw batch to the model's input (the row's preprocessing,
  a jnp function of the batch: it runs inside the compiled epoch)."""
  _check(images, recipe, labels)
  batches = Batches(_labelled_batch, (("preprocess", preprocess), ("shift", recipe.random_shift)))
  return train(model, cross_entropy_loss, batches, (images, labels), len(images), recipe, log)


def train_supervised_many(models: list[nnx.Module], images: np.ndarray, labels: np.ndarray,
                          recipes: list[SupervisedRecipe], preprocess: Callable = _identity) -> list[list[float]]:
  """:func:`train_supervised` for several same-architecture models at once, vmapped: one
  compiled epoch updates all of them. Recipes may differ only in ``seed`` (each model
  keeps its own data order, augmentation and dropout stream), so every model ends as
  :func:`train_supervised` would leave it. Trains in place; returns per-model histories."""
  _check(images, recipes[0], labels)
  if len({dataclasses.replace(r, seed=0) for r in recipes}) != 1:
    raise ValueError("train_supervised_many: recipes must differ only in seed; train the others separately.")
  recipe = dataclasses.replace(recipes[0], seed=0)
  for model in models:
    model.train()
  graphdef = _hashable_graphdef(models[0])
  splits = [nnx.split(m, nnx.Param, ...) for m in models]
  if any(g != graphdef for g, _, _ in splits):
    raise ValueError("train_supervised_many: the models' architectures differ.")
  stack = lambda trees: jax.tree.map(lambda *xs: jnp.stack(xs), *trees)
  params, rest = stack([p for _, p, _ in splits]), stack([r for _, _, r in splits])
  total_steps = len(images) // recipe.batch_size * recipe.epochs
  state = (params, rest, jax.vmap(_optimizer(recipe, total_steps).init)(params))
  batches = Batches(_labelled_batch, (("preprocess", preprocess), ("shift", recipe.random_shift)))
  data = _device_data((images, labels))
  rngs = [np.random.default_rng(r.seed) for r in recipes]
  keys = [jax.random.key(r.seed) for r in recipes]
  scan = scans_epochs(models[0])
  program = _program(graphdef, cross_entropy_loss, batches, recipe, total_steps, len(models), scan)
  histories = [[] for _ in models]
  for epoch in range(recipe.epochs):
    orders = np.stack([_epoch_orders(rng, len(images), recipe.batch_size) for rng in rngs], axis=1)
    epoch_keys = jnp.stack([jax.random.fold_in(k, epoch) for k in keys])
    state, losses = _run_epoch(program, scan, state, data, orders, epoch_keys)
    for history, mean in zip(histories, np.asarray(jnp.mean(losses, axis=0))):
      history.append(float(mean))
  params, rest, _ = state
  for index, model in enumerate(models):
    nnx.update(model, jax.tree.map(lambda x: x[index], params), jax.tree.map(lambda x: x[index], rest))
    model.eval()
  return histories


def distillation_loss(student, images, teacher_logits, temperature):
  """T² · KL(softmax(teacher/T) ‖ softmax(student/T)), mean over the batch."""
  teacher = jax.nn.log_softmax(teacher_logits / temperature)
  student_log = jax.nn.log_softmax(student(images)[0] / temperature)
  return temperature ** 2 * jnp.mean(jnp.sum(jnp.exp(teacher) * (teacher - student_log), axis=-1))


def _distillation_batch(data, indices, key, *, preprocess, shift, temperature, teacher):
  """Student inputs and the teacher's logits: precomputed (``teacher`` None, data = (images,
  logits)) or, with augmentation, the teacher run on the same shifted batch (data =
  (images, teacher state), ``teacher`` its graphdef)."""
  images, second = data
  x = preprocess(random_shift(images[indices], key, shift))
  if teacher is None:
    return x, second[indices], temperature
  return x, jax.lax.stop_gradient(logits_output(nnx.merge(teacher, second), x)), temperature


def train_distillation(student: nnx.Module, teacher: nnx.Module, images: np.ndarray, recipe: SupervisedRecipe,
                       preprocess: Callable = _identity, temperature: float = 4.0, log=None) -> list[float]:
  """Trains ``student`` on the teacher's softened predictions only (no labels). Without
  augmentation the teacher's logits are computed once for all images (one eval pass)
  rather than again in every epoch; with it, the teacher (eval mode) runs on each
  shifted batch inside the compiled epoch."""
  _check(images, recipe)
  options = {"preprocess": preprocess, "shift": recipe.random_shift, "temperature": float(temperature)}
  if recipe.random_shift == 0:
    data, options["teacher"] = (images, embed(teacher, images, preprocess, output=logits_output)), None
  else:
    teacher.eval()
    graphdef, state = nnx.split(teacher)
    data, options["teacher"] = (images, state), graphdef
  batches = Batches(_distillation_batch, tuple(sorted(options.items())))
  return train(student, distillation_loss, batches, data, len(images), recipe, log)


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


def simclr_views(images, key, max_shift: int):
  """SimCLR-style views of a uint8 batch [B, H, W, C] for small grey images: random
  translation by up to ``max_shift``, horizontal flip (p = 0.5), a random H//3 square
  erased to 0, brightness × U(0.6, 1.4), clipped to [0, 255] and truncated back to uint8."""
  shift_key, flip_key, erase_key, bright_key = jax.random.split(key, 4)
  views = random_shift(images, shift_key, max_shift).astype(jnp.float32)
  batch, height, width = views.shape[:3]
  flip = jax.random.bernoulli(flip_key, 0.5, (batch, 1, 1, 1))
  views = jnp.where(flip, views[:, :, ::-1], views)
  side = height // 3
  corners = jax.random.randint(erase_key, (batch, 2), 0, height - side)
  rows, cols = jnp.arange(height)[None, :, None], jnp.arange(width)[None, None, :]
  top, left = corners[:, :1, None], corners[:, 1:, None]
  erased = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
  views = jnp.where(erased[..., None], 0.0, views)
  views = views * jax.random.uniform(bright_key, (batch, 1, 1, 1), minval=0.6, maxval=1.4)
  return jnp.clip(views, 0, 255).astype(jnp.uint8)


def _simclr_batch(data, indices, key, *, preprocess, shift, temperature):
  images = data[indices]
  key_a, key_b = jax.random.split(key)
  return preprocess(simclr_views(images, key_a, shift)), preprocess(simclr_views(images, key_b, shift)), temperature


def train_simclr(model: nnx.Module, images: np.ndarray, recipe: SupervisedRecipe, preprocess: Callable = _identity,
                 temperature: float = 0.5, log=None) -> list[float]:
  """Self-supervised contrastive training: ``model(x)[0]`` is the projection (e.g. a
  ConvNet whose head outputs 64 values), ``model(x)[1]`` the embedding a probe later reads."""
  _check(images, recipe)
  options = (("preprocess", preprocess), ("shift", max(recipe.random_shift, 3)), ("temperature", float(temperature)))
  return train(model, nt_xent_loss, Batches(_simclr_batch, options), images, len(images), recipe, log)


def reconstruction_loss(model, images):
  """Mean squared error between ``model(images)[0]`` and the (preprocessed) images."""
  return jnp.mean((model(images)[0] - images) ** 2)


def _image_batch(data, indices, key, *, preprocess, shift):
  return (preprocess(random_shift(data[indices], key, shift)),)


def train_autoencoder(model: nnx.Module, images: np.ndarray, recipe: SupervisedRecipe,
                      preprocess: Callable = _identity, log=None) -> list[float]:
  """Autoencoding: ``model(x)`` → (reconstruction of x, embedding)."""
  _check(images, recipe)
  batches = Batches(_image_batch, (("preprocess", preprocess), ("shift", recipe.random_shift)))
  return train(model, reconstruction_loss, batches, images, len(images), recipe, log)


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


def embed(model: nnx.Module, images, preprocess: Callable = _identity, batch: int = 500,
          output: Callable = embedding_output) -> np.ndarray:
  """``output(model, preprocess(images))`` (default the embedding ``model(x)[1]``) for all
  images, in batches (zero-padded to a multiple); the model in eval mode."""
  model.eval()
  padded = -len(images) % batch
  x = preprocess(jnp.asarray(np.concatenate([images, np.zeros((padded, *images.shape[1:]), images.dtype)])))
  out = _embed_batches(model, x, batch, output)
  return np.asarray(out.reshape(-1, out.shape[-1])[:len(images)])


def fit_probed_classifier(probed: nnx.Module, images, labels, preprocess: Callable = _identity,
                          validation_fraction: float = 0.2, l2_grid=None, seed: int = 0) -> dict:
  """Sets ``probed.classifier`` (a ``LinearProbed``'s Linear layer) to the Kornblith-protocol
  head of the frozen backbone's embeddings: :func:`probes.fit_linear_head` (a seeded
  ``validation_fraction`` chooses the L2 strength, then a refit on every example, the
  standardisation folded into ``x @ weights + bias``), the one probe fit the study's
  probed rows use too. Returns its result dict."""
  from probes import fit_linear_head
  features = embed(probed, images, preprocess)
  result = fit_linear_head(features, np.asarray(labels), probed.classifier.kernel.shape[-1], l2_grid,
                           validation_fraction=validation_fraction, seed=seed, max_iterations=300)
  probed.classifier.kernel[...] = jnp.asarray(result["weights"])
  probed.classifier.bias[...] = jnp.asarray(result["bias"])
  return result
