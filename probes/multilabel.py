"""Multi-label probes and Pascal VOC 2007's 11-point interpolated average precision (§4.7).

One-vs-rest sigmoid logistic regression: for every class c,

  J_c(w_c, b_c) = (1/n) Σ_i BCE(σ(w_cᵀ x_i + b_c), y_ic) + (λ/2)‖w_c‖²,

fitted jointly (the sum over classes is separable, so one L-BFGS run minimises every
J_c) with optax L-BFGS on standardised features, λ chosen by validation mAP.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from probes import _checks
from probes.logistic import KORNBLITH_L2_GRID, minimize_lbfgs, standardize


@jax.jit
def eleven_point_average_precision(scores, targets, valid=None):
  """VOC2007 11-point interpolated AP per class, float32[C].

  For each class: rank examples by descending score (ties keep example order, as the
  devkit's stable sort), precision P and recall R at every rank, then
  AP = (1/11) Σ_{t ∈ {0, 0.1, …, 1}} max{P(r) : R(r) ≥ t} (0 if no rank reaches t).
  ``valid`` bool[n, C] drops entries (VOC's "difficult" objects) from the ranking.
  A class with no positive gets NaN.

  Args:
    scores: float[n, C]. targets: {0,1}[n, C].
  """
  if valid is None:
    valid = jnp.ones(scores.shape, bool)

  def one_class(score, target, keep):
    order = jnp.argsort(-score, stable=True)
    hit = (target[order] > 0) & keep[order]
    miss = (target[order] <= 0) & keep[order]
    true_positives, false_positives = jnp.cumsum(hit), jnp.cumsum(miss)
    positives = true_positives[-1]
    recall = true_positives / jnp.maximum(positives, 1)
    ranked = true_positives + false_positives
    precision = jnp.where(ranked > 0, true_positives / jnp.maximum(ranked, 1), 0.0)
    thresholds = jnp.linspace(0.0, 1.0, 11)
    best = jnp.max(jnp.where(recall[None, :] >= thresholds[:, None] - 1e-7, precision[None, :], 0.0), axis=1)
    return jnp.where(positives > 0, jnp.mean(best), jnp.nan)

  return jax.vmap(one_class, in_axes=(1, 1, 1))(scores, targets, valid)


def mean_average_precision(scores, targets, valid=None) -> float:
  """Mean over classes (with positives) of :func:`eleven_point_average_precision`."""
  return float(jnp.nanmean(eleven_point_average_precision(jnp.asarray(scores), jnp.asarray(targets),
                                                          None if valid is None else jnp.asarray(valid))))


def _objective(params, x, targets, l2):
  weights, bias = params
  logits = x @ weights + bias
  bce = jnp.mean(jnp.sum(jnp.logaddexp(0.0, logits) - targets * logits, axis=-1))
  return bce + 0.5 * l2 * jnp.sum(weights ** 2)


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def fit_one_vs_rest(x, targets, l2, init=None, *, max_iterations: int = 1000, tolerance: float = 1e-5):
  """Fits every class's sigmoid logistic regression; returns ((W, b), iterations, J)."""
  if init is None:
    init = (jnp.zeros((x.shape[1], targets.shape[1])), jnp.zeros((targets.shape[1],)))
  return minimize_lbfgs(lambda p: _objective(p, x, targets, l2), init, max_iterations, tolerance)


def _check_multilabel(x, y, name):
  x = _checks.features(x, f"x_{name}")
  y = np.asarray(y)
  if y.ndim != 2 or y.shape[0] != x.shape[0]:
    raise ValueError(f"y_{name} must be [examples, classes] with {x.shape[0]} examples; got {y.shape}.")
  return x, y.astype(np.float32)


def multilabel_probe(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid=None, *, valid_test=None,
                     max_iterations: int = 1000, tolerance: float = 1e-5) -> dict:
  """One-vs-rest logistic probe scored by 11-point mAP (Kornblith protocol, VOC 2007).

  λ is chosen by validation mAP, the model refitted on train+val and scored on test
  (``valid_test`` marks entries to ignore, e.g. VOC "difficult").

  Returns dict with ``test_map``, ``l2``, ``val_map`` per strength, ``l2_grid``.
  """
  (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
      _check_multilabel(x, y, n) for x, y, n in ((x_train, y_train, "train"), (x_val, y_val, "val"),
                                                (x_test, y_test, "test")))
  if not y_train.shape[1] == y_val.shape[1] == y_test.shape[1]:
    raise ValueError(f"label columns differ: {y_train.shape[1]}, {y_val.shape[1]}, {y_test.shape[1]}.")
  empty = np.flatnonzero(y_train.sum(0) == 0)
  if empty.size:
    raise ValueError(f"classes {empty[:10].tolist()} have no positive training example.")
  grid = np.asarray(KORNBLITH_L2_GRID if l2_grid is None else l2_grid, np.float64)
  order = np.argsort(-grid, kind="stable")
  x_train_s, x_val_s = standardize(x_train, x_val)
  params, val_map = None, np.empty(len(grid))
  fitted = {}
  for index in order:                                            # warm-started path, strongest first
    params, _, _ = fit_one_vs_rest(x_train_s, jnp.asarray(y_train), float(grid[index]), params,
                                   max_iterations=max_iterations, tolerance=tolerance)
    val_map[index] = mean_average_precision(x_val_s @ params[0] + params[1], y_val)
    fitted[index] = params
  best = int(order[np.argmax(val_map[order])])
  x_all_s, x_test_s = standardize(np.concatenate([x_train, x_val]), x_test)
  params, _, _ = fit_one_vs_rest(x_all_s, jnp.asarray(np.concatenate([y_train, y_val])), float(grid[best]),
                                 fitted[best], max_iterations=max_iterations, tolerance=tolerance)
  test_map = mean_average_precision(x_test_s @ params[0] + params[1], y_test, valid_test)
  return {"test_map": test_map, "l2": float(grid[best]), "val_map": val_map, "l2_grid": grid}
