"""Multinomial logistic-regression probes on frozen features, fitted with optax L-BFGS.

The Kornblith et al. (2019) linear-evaluation protocol used by the paper (§4.6–4.7):
standardise features with training statistics, fit L2-regularised logistic regression
by full-batch L-BFGS for each of 45 log-spaced strengths in [1e-6, 1e5], choose the
strength on a validation split, refit on train+val, report on test.

Objective (bias unregularised), for n training examples:

  J(W, b) = (1/n) Σ_i CE(softmax(W x_i + b), y_i) + (λ/2) ‖W‖²_F

which is scikit-learn's ``LogisticRegression(C=1/(n·λ))`` objective divided by n·C
(sklearn minimises C·Σ_i CE_i + ½‖W‖² and leaves the intercept unpenalised).

The sweep runs from the strongest to the weakest strength, each fit warm-started from
the previous solution (the regularisation path), inside one jitted ``lax.scan``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from probes import _checks

# Kornblith et al. (2019): 45 log-spaced L2 strengths in [1e-6, 1e5], 10^(-6 + 11 i / 44). The one
# source (the study's config default too). Python's power, not np.logspace, so the decades are exact
# (1e-05, not 9.999999999999999e-06) and the grid reads the same in every config.json.
KORNBLITH_L2_GRID = tuple(float(10.0 ** (-6 + 11 * i / 44)) for i in range(45))


def standardize(train, *others, epsilon: float = 1e-8):
  """(x − μ)/σ with per-dimension train mean μ and std σ (σ < epsilon → 1); returns all arrays."""
  train = jnp.asarray(train, jnp.float32)
  mean, std = train.mean(0), train.std(0)
  std = jnp.where(std < epsilon, 1.0, std)
  return tuple((jnp.asarray(x, jnp.float32) - mean) / std for x in (train, *others))


def _objective(params, x, targets, l2, mask=None):
  """Mean softmax cross-entropy + (l2/2)‖W‖² (targets one-hot or soft); ``mask`` drops padding rows."""
  weights, bias = params
  logits = x @ weights + bias
  per_example = jax.nn.logsumexp(logits, axis=-1) - jnp.sum(targets * logits, axis=-1)
  cross_entropy = jnp.mean(per_example) if mask is None else jnp.sum(per_example * mask) / jnp.sum(mask)
  return cross_entropy + 0.5 * l2 * jnp.sum(weights ** 2)


def minimize_lbfgs(objective, params, max_iterations: int, tolerance: float, relative_decrease: float = 1e-7):
  """Full-batch L-BFGS (optax, zoom line search).

  Stops when ‖∇J‖₂ ≤ ``tolerance``, when a step lowers J by less than
  ``relative_decrease``·max(|J|, 1) (scipy's ``ftol`` criterion, which sklearn's
  lbfgs solver also uses), or after ``max_iterations``. Returns (params, iterations,
  final J). Traceable: use inside jit.
  """
  solver = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(objective)

  def step(carry):
    params, state, _ = carry
    value, grad = value_and_grad(params, state=state)
    updates, state = solver.update(grad, state, params, value=value, grad=grad, value_fn=objective)
    return optax.apply_updates(params, updates), state, value

  def keep_going(carry):
    _, state, previous = carry
    iteration = otu.tree_get(state, "count")
    value = otu.tree_get(state, "value")
    gradient_large = otu.tree_norm(otu.tree_get(state, "grad")) > tolerance
    still_falling = (previous - value) > relative_decrease * jnp.maximum(jnp.abs(value), 1.0)
    return (iteration == 0) | ((iteration < max_iterations) & gradient_large & still_falling)

  init = (params, solver.init(params), jnp.asarray(jnp.inf, jnp.float32))
  params, state, _ = jax.lax.while_loop(keep_going, step, init)
  return params, otu.tree_get(state, "count"), otu.tree_get(state, "value")


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def fit_logistic(x, targets, l2, init=None, *, max_iterations: int = 1000, tolerance: float = 1e-5, mask=None):
  """Fits one L2-regularised multinomial logistic regression; returns ((W, b), iterations, J).

  Args:
    x: float[n, d] (standardised) features.
    targets: float[n, C] one-hot (or soft) targets.
    l2: λ of the objective in the module docstring.
    init: optional (W, b) warm start.
  """
  if init is None:
    init = (jnp.zeros((x.shape[1], targets.shape[1])), jnp.zeros((targets.shape[1],)))
  return minimize_lbfgs(lambda p: _objective(p, x, targets, l2, mask), init, max_iterations, tolerance)


def shard_examples(mesh, x, targets):
  """Pads the example axis to a multiple of the mesh size and shards it along "data".

  Returns (x, targets, mask): padding rows have mask 0 and drop out of the objective;
  the parameters stay replicated, and XLA turns the example sums into all-reduces.
  """
  from jax.sharding import NamedSharding, PartitionSpec
  devices = mesh.devices.size
  pad = (-x.shape[0]) % devices
  mask = jnp.concatenate([jnp.ones(x.shape[0]), jnp.zeros(pad)])
  x = jnp.pad(x, ((0, pad), (0, 0)))
  targets = jnp.pad(targets, ((0, pad), (0, 0)))
  rows = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
  return jax.device_put(x, rows), jax.device_put(targets, rows), jax.device_put(mask, rows)


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def _sweep(x, targets, x_val, y_val, l2_grid, max_iterations, tolerance, mask=None):
  """Warm-started path over l2_grid (descending); val accuracy and the fitted params per λ."""

  def one_strength(params, l2):
    params, iterations, _ = minimize_lbfgs(lambda p: _objective(p, x, targets, l2, mask), params, max_iterations,
                                           tolerance)
    weights, bias = params
    accuracy = jnp.mean(jnp.argmax(x_val @ weights + bias, axis=-1) == y_val)
    return params, (accuracy, iterations, params)

  init = (jnp.zeros((x.shape[1], targets.shape[1])), jnp.zeros((targets.shape[1],)))
  _, (accuracy, iterations, params) = jax.lax.scan(one_strength, init, l2_grid)
  return accuracy, iterations, params


def predictions_of(params, x) -> np.ndarray:
  """int [E]: argmax_k (x W + b)_k, the probe's predicted class per example."""
  weights, bias = params
  return np.asarray(jnp.argmax(jnp.asarray(x) @ weights + bias, axis=-1))


def accuracy_of(params, x, labels) -> float:
  return float(np.mean(predictions_of(params, x) == np.asarray(labels)))


def logistic_probe(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid=None, *,
                   max_iterations: int = 1000, tolerance: float = 1e-5, refit: bool = True, mesh=None) -> dict:
  """Kornblith-protocol linear evaluation of frozen features.

  Standardises with train statistics, fits every strength of ``l2_grid`` (default the
  45-value Kornblith grid) on train, picks the best validation accuracy (ties → the
  stronger regularisation), refits on train+val (``refit``), and scores test. With a
  ``mesh`` (e.g. ``launch.runner.data_mesh()``), training examples are sharded over its
  devices, for features that do not fit one device.

  Returns:
    dict with ``test_accuracy``, ``test_predictions`` (int [E_test], the chosen probe's
    class per test example), ``l2`` (chosen), ``val_accuracy`` (per strength, in
    ``l2_grid`` order), ``l2_grid``, ``iterations`` (per strength), ``refit_iterations``.
  Raises:
    ValueError: mismatched shapes, NaN/inf features, labels outside the training
      classes, or a class with no training example.
  """
  x_train, y_train, x_val, y_val, x_test, y_test, num_classes = _checks.probe_inputs(
      x_train, y_train, x_val, y_val, x_test, y_test)
  grid = np.asarray(KORNBLITH_L2_GRID if l2_grid is None else l2_grid, np.float64)
  if grid.ndim != 1 or grid.size == 0 or np.any(grid < 0):
    raise ValueError(f"l2_grid must be a non-empty list of non-negative strengths; got {grid}.")
  order = np.argsort(-grid, kind="stable")             # strongest first: the warm-start path
  x_train_s, x_val_s = standardize(x_train, x_val)
  targets, mask = jax.nn.one_hot(y_train, num_classes), None
  if mesh is not None:
    x_train_s, targets, mask = shard_examples(mesh, x_train_s, targets)
  val_accuracy, iterations, params = _sweep(x_train_s, targets, x_val_s, jnp.asarray(y_val),
                                            jnp.asarray(grid[order], jnp.float32), max_iterations, tolerance, mask)
  val_accuracy = np.asarray(val_accuracy)
  best_in_path = int(np.argmax(val_accuracy))           # first max along the path: strongest λ
  best_l2 = float(grid[order][best_in_path])
  best_params = jax.tree.map(lambda p: p[best_in_path], params)
  refit_iterations = 0
  if refit:
    x_all = np.concatenate([x_train, x_val])
    y_all = np.concatenate([y_train, y_val])
    x_all_s, x_test_s = standardize(x_all, x_test)
    all_targets, all_mask = jax.nn.one_hot(y_all, num_classes), None
    if mesh is not None:
      x_all_s, all_targets, all_mask = shard_examples(mesh, x_all_s, all_targets)
    best_params, refit_iterations, _ = fit_logistic(x_all_s, all_targets, best_l2, best_params,
                                                    max_iterations=max_iterations, tolerance=tolerance,
                                                    mask=all_mask)
  else:
    (x_test_s,) = standardize(x_train, x_test)[1:]
  unsorted = np.empty_like(val_accuracy)
  unsorted[order] = val_accuracy
  unsorted_iterations = np.empty(len(grid), np.int64)
  unsorted_iterations[order] = np.asarray(iterations)
  test_predictions = predictions_of(best_params, x_test_s)
  return {
      "test_accuracy": float(np.mean(test_predictions == np.asarray(y_test))),
      "test_predictions": test_predictions,
      "l2": best_l2,
      "val_accuracy": unsorted,
      "l2_grid": grid,
      "iterations": unsorted_iterations,
      "refit_iterations": int(refit_iterations),
      "params": best_params,
  }


def fit_linear_head(x, labels, num_classes: int, l2_grid=None, *, validation_fraction: float = 0.2, seed: int = 0,
                    max_iterations: int = 1000, tolerance: float = 1e-5) -> dict:
  """A classifier head for frozen features by the Kornblith protocol, on one labelled set.

  A seeded random ``validation_fraction`` of (x, labels) is held out; every strength of
  ``l2_grid`` (default the 45-value Kornblith grid) is fitted on the rest, the best
  held-out accuracy chooses λ (ties → the stronger), and the probe is refitted on all
  examples (:func:`logistic_probe`). The standardisation is folded into the head, so
  for raw features x the logits are ``x @ weights + bias``:

    weights = W / σ[:, None],  bias = b − (μ / σ) @ W

  with μ, σ the per-feature mean and std of all examples (as :func:`standardize`).

  Returns:
    dict with ``weights`` float32[D, num_classes], ``bias`` float32[num_classes], ``l2``,
    ``l2_grid``, ``val_accuracy`` (per strength), ``num_train``, ``num_val``.
  Raises:
    ValueError: bad features or labels, a validation_fraction outside (0, 1), or a class
      of ``num_classes`` with no example among the training part.
  """
  x = _checks.features(x, "x")
  labels = _checks.labels(labels, x.shape[0], "labels", "x")
  if not 0 < validation_fraction < 1:
    raise ValueError(f"validation_fraction must be in (0, 1); got {validation_fraction}.")
  if labels.min() < 0 or labels.max() >= num_classes:
    raise ValueError(f"labels must be class ids in [0, {num_classes}); got [{labels.min()}, {labels.max()}].")
  order = np.random.default_rng(seed).permutation(len(labels))
  num_val = int(round(len(labels) * validation_fraction))
  if not 0 < num_val < len(labels):
    raise ValueError(f"{len(labels)} examples cannot be split {1 - validation_fraction:g}/{validation_fraction:g} "
                     "into train and validation parts; use more examples.")
  val, train = order[:num_val], order[num_val:]
  missing = np.setdiff1d(np.arange(num_classes), labels[train])
  if missing.size:
    raise ValueError(f"classes {missing[:10].tolist()} ({missing.size} of {num_classes}) have no example in the "
                     "probe's training part; use a larger or class-balanced probe split.")
  fitted = logistic_probe(x[train], labels[train], x[val], labels[val], x[val], labels[val], l2_grid,
                          max_iterations=max_iterations, tolerance=tolerance, refit=True)
  weights, bias = fitted["params"]
  x_all = jnp.asarray(np.concatenate([x[train], x[val]]), jnp.float32)   # the refit's standardisation
  mean, std = x_all.mean(0), x_all.std(0)
  std = jnp.where(std < 1e-8, 1.0, std)
  folded_weights = weights / std[:, None]
  folded_bias = bias - (mean / std) @ weights
  return {"weights": np.asarray(folded_weights, np.float32), "bias": np.asarray(folded_bias, np.float32),
          "l2": fitted["l2"], "l2_grid": fitted["l2_grid"], "val_accuracy": fitted["val_accuracy"],
          "num_train": int(len(train)), "num_val": int(num_val)}


# --- Many probes of one feature matrix at once (column subsets × strengths) -----------------------
#
# The study's Fig. 6 probes are column subsets of one pair's concatenated embeddings, each swept
# over a few strengths. They share the feature matrix, so one matmul x̃ @ [Θ_1 … Θ_P] serves every
# (subset, strength) problem. L-BFGS's line searches would make every problem wait for the
# slowest (a vmapped while loop); instead each problem takes the same fixed number of
# accelerated majorise–minimise steps. Böhning (1992): the Hessian of the mean softmax
# cross-entropy in the augmented parameters Θ = [W; b] is bounded by
#
#   H ⪯ ½ (I_C ⊗ G̃),   G̃ = x̃ᵀx̃ / n,   x̃ = [x, 1],
#
# so with A = ½ M G̃ M + Λ + εI (M the subset's column mask plus the bias, Λ = diag(λ, …, λ, 0)
# the penalty, ε = BOUND_JITTER) the step Θ ← Θ − A⁻¹ ∇J(Θ) never increases J. Nesterov's
# momentum on these steps, restarted whenever the step turns against the gradient
# (O'Donoghue & Candès 2015), converges in tens of steps where plain gradient steps need
# thousands: A⁻¹ is the preconditioner that undoes the features' correlations.

# ε of the majoriser A (module comment): keeps A invertible for λ = 0 and collinear features; a
# larger A is still a majoriser, so the steps stay safe.
BOUND_JITTER = 1e-6


def _augmented(x):
  """[x, 1]: the bias as a constant feature column (its weight row is Θ's last)."""
  return jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


def _subset_objective_and_gradient(features, targets, theta, l2, masks):
  """Mean CE + (λ/2)‖W‖² and its gradient for every problem: features [n, d+1] (x̃),
  theta [S, L, d+1, C], l2 [S, L], masks [S, d+1] (the bias column always 1)."""
  logits = jnp.einsum("nd,sldc->nslc", features, theta)
  log_norm = jax.nn.logsumexp(logits, axis=-1)                                     # [n, S, L]
  cross_entropy = jnp.mean(log_norm - jnp.einsum("nc,nslc->nsl", targets, logits), axis=0)
  weights = theta[..., :-1, :]
  penalty = 0.5 * l2 * jnp.sum(weights ** 2, axis=(-1, -2))
  residual = (jnp.exp(logits - log_norm[..., None]) - targets[:, None, None, :]) / features.shape[0]
  gradient = jnp.einsum("nd,nslc->sldc", features, residual)
  gradient = gradient.at[..., :-1, :].add(l2[..., None, None] * weights)
  return cross_entropy + penalty, gradient * masks[:, None, :, None]


def _majoriser_inverses(features, l2, masks):
  """A⁻¹ [S, L, d+1, d+1] of the module comment, zero outside each subset's columns."""
  gram = features.T @ features / features.shape[0]
  dim = gram.shape[0]
  penalised = jnp.concatenate([jnp.ones(dim - 1), jnp.zeros(1)])
  masked = 0.5 * masks[:, :, None] * gram[None] * masks[:, None, :]                       # [S, d+1, d+1]
  # Masked-out columns get 1 on the diagonal (A stays invertible; their rows of A⁻¹ are zeroed below).
  diagonal = (1.0 - masks)[:, None, :] + l2[..., None] * penalised + BOUND_JITTER              # [S, L, d+1]
  bound = masked[:, None] + jax.vmap(jax.vmap(jnp.diag))(diagonal)
  inverse = jnp.linalg.inv(bound)
  return inverse * masks[:, None, :, None] * masks[:, None, None, :]


@functools.partial(jax.jit, static_argnames=("iterations",))
def fit_logistic_subsets(x, targets, masks, l2, init=None, *, iterations: int):
  """Fits J(W, b) of the module docstring for every column subset and strength at once.

  Problem (s, l) is the probe on the columns of ``x`` where ``masks[s]`` is 1 (the others
  are held at weight 0) with λ = ``l2[s, l]``, started from ``init`` (or 0) and run for
  exactly ``iterations`` accelerated majorise–minimise steps (comment above). Traceable
  shapes only: one compile per (n, d, S, L, C, iterations).

  Args:
    x: float[n, d] features (standardised, for the bound to be tight).
    targets: float[n, C] one-hot (or soft) targets.
    masks: float[S, d] 0/1 column masks.
    l2: float[S, L] strengths.
    init: optional (W [S, L, d, C], b [S, L, C]).
  Returns:
    ((W [S, L, d, C], b [S, L, C]), J [S, L], ‖∇J‖₂ [S, L]) at the last iterate.
  """
  features = _augmented(x)
  masks = jnp.concatenate([masks, jnp.ones((masks.shape[0], 1), masks.dtype)], axis=1)
  shape = (masks.shape[0], l2.shape[1], features.shape[1], targets.shape[1])
  if init is None:
    theta = jnp.zeros(shape, features.dtype)
  else:
    theta = jnp.concatenate([init[0], init[1][..., None, :]], axis=-2) * masks[:, None, :, None]
  inverse = _majoriser_inverses(features, l2, masks)

  def step(carry, _):
    current, previous, momentum = carry
    next_momentum = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * momentum ** 2))
    beta = ((momentum - 1.0) / next_momentum)[..., None, None]
    look_ahead = current + beta * (current - previous)
    _, gradient = _subset_objective_and_gradient(features, targets, look_ahead, l2, masks)
    stepped = look_ahead - jnp.einsum("slij,sljc->slic", inverse, gradient)
    # Restart the momentum of a problem whose step points uphill from its last iterate.
    uphill = jnp.sum(gradient * (stepped - current), axis=(-1, -2)) > 0
    return (stepped, current, jnp.where(uphill, 1.0, next_momentum)), None

  start = (theta, theta, jnp.ones(shape[:2], features.dtype))
  (theta, _, _), _ = jax.lax.scan(step, start, None, length=iterations)
  objective, gradient = _subset_objective_and_gradient(features, targets, theta, l2, masks)
  return (theta[..., :-1, :], theta[..., -1, :]), objective, jnp.sqrt(jnp.sum(gradient ** 2, axis=(-1, -2)))


@jax.jit
def _subset_predictions(x, weights, bias):
  """int [S, L, n]: argmax_k (x W_sl + b_sl)_k for every problem."""
  logits = jnp.einsum("nd,sldc->slnc", x, weights) + bias[:, :, None, :]
  return jnp.argmax(logits, axis=-1)


def subset_probes(x_train, y_train, x_val, y_val, x_test, y_test, masks, l2_grid=None, *, iterations: int = 100,
                  refit_iterations: int = 50) -> dict:
  """The Kornblith protocol of :func:`logistic_probe` for many column subsets of one feature
  matrix, all fitted together by :func:`fit_logistic_subsets`.

  For each subset s (the columns where ``masks[s]`` is 1): standardise with train
  statistics, fit every strength of ``l2_grid`` on train (``iterations`` steps from 0),
  choose the best validation accuracy (ties → the stronger regularisation), refit on
  train+val standardised with their statistics (``refit_iterations`` steps from the chosen
  fit), and score test. Standardisation is per column, so the subset's columns are
  standardised as they would be alone; the others carry weight 0.

  Returns:
    dict with, per subset, ``test_accuracy`` float[S], ``test_predictions`` int[S, E_test],
    ``l2`` float[S] (chosen), ``val_accuracy`` float[S, L] (``l2_grid`` order), and the fits'
    convergence: ``objective`` and ``gradient_norm`` float[S, L] (train fits, J and ‖∇J‖₂
    at the last step), ``refit_objective`` and ``refit_gradient_norm`` float[S]; ``l2_grid``.
  Raises:
    ValueError: as :func:`logistic_probe`, and for masks that are not a non-empty 0/1
      [S, features] array or iteration counts below 1.
  """
  x_train, y_train, x_val, y_val, x_test, y_test, num_classes = _checks.probe_inputs(
      x_train, y_train, x_val, y_val, x_test, y_test)
  grid = np.asarray(KORNBLITH_L2_GRID if l2_grid is None else l2_grid, np.float64)
  if grid.ndim != 1 or grid.size == 0 or np.any(grid < 0):
    raise ValueError(f"l2_grid must be a non-empty list of non-negative strengths; got {grid}.")
  masks = np.asarray(masks)
  if masks.ndim != 2 or masks.shape[0] == 0 or masks.shape[1] != x_train.shape[1]:
    raise ValueError(f"masks must be a [subsets, {x_train.shape[1]}] array (one row of 0/1 per subset of the "
                     f"features' columns); got shape {masks.shape}.")
  if not np.all((masks == 0) | (masks == 1)):
    raise ValueError("masks must hold only 0 and 1 (1: the column is in the subset).")
  if iterations < 1 or refit_iterations < 1:
    raise ValueError(f"iterations and refit_iterations must be >= 1; got {iterations} and {refit_iterations}.")
  masks = jnp.asarray(masks, jnp.float32)
  order = np.argsort(-grid, kind="stable")               # strongest first: argmax's first max is the stronger
  strengths = jnp.asarray(np.tile(grid[order], (masks.shape[0], 1)), jnp.float32)
  x_train_s, x_val_s = standardize(x_train, x_val)
  (weights, bias), objective, gradient_norm = fit_logistic_subsets(
      x_train_s, jax.nn.one_hot(y_train, num_classes), masks, strengths, iterations=iterations)
  val_accuracy = np.asarray(jnp.mean(_subset_predictions(x_val_s, weights, bias) == jnp.asarray(y_val), axis=-1))
  best = np.argmax(val_accuracy, axis=1)                  # [S], position along the strongest-first path
  chosen = lambda p: jnp.take_along_axis(p, jnp.asarray(best).reshape((-1, 1) + (1,) * (p.ndim - 2)), axis=1)
  x_all_s, x_test_s = standardize(np.concatenate([x_train, x_val]), x_test)
  (weights, bias), refit_objective, refit_gradient_norm = fit_logistic_subsets(
      x_all_s, jax.nn.one_hot(np.concatenate([y_train, y_val]), num_classes), masks,
      chosen(strengths[..., None])[..., 0], (chosen(weights), chosen(bias)), iterations=refit_iterations)
  test_predictions = np.asarray(_subset_predictions(x_test_s, weights, bias))[:, 0]
  unsorted = lambda values: values[:, np.argsort(order)]
  return {
      "test_accuracy": np.mean(test_predictions == y_test[None], axis=1),
      "test_predictions": test_predictions,
      "l2": grid[order][best],
      "val_accuracy": unsorted(val_accuracy),
      "objective": unsorted(np.asarray(objective)),
      "gradient_norm": unsorted(np.asarray(gradient_norm)),
      "refit_objective": np.asarray(refit_objective)[:, 0],
      "refit_gradient_norm": np.asarray(refit_gradient_norm)[:, 0],
      "l2_grid": grid,
  }
