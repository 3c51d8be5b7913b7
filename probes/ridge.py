"""Closed-form ridge probe and k-shot sampling (big_vision's few-shot evaluator, as a library).

Regress one-hot targets on centred features (the intercept is unpenalised):

  W(λ) = argmin_W ‖X̄W − Ȳ‖²_F + λ‖W‖²_F = (X̄ᵀX̄ + λI)⁻¹ X̄ᵀȲ,

with X̄, Ȳ the training features and targets minus their means, b = ȳ − x̄ᵀW. One
eigendecomposition X̄ᵀX̄ = V diag(s) Vᵀ serves every λ: W(λ) = V diag(1/(s+λ)) VᵀX̄ᵀȲ
(when there are fewer examples than features, the dual XXᵀ = U diag(s) Uᵀ is used
instead: W(λ) = X̄ᵀ U diag(1/(s+λ)) UᵀȲ). Predictions are the argmax over classes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from probes import _checks
from probes.logistic import KORNBLITH_L2_GRID


def signal_directions(eigenvalues):
  """1 for eigenvalues of a Gram or kernel above its float32 rounding noise, else 0:
  s > size · ε₃₂ · max(s), the accuracy of a symmetric eigendecomposition."""
  tolerance = eigenvalues.shape[-1] * jnp.finfo(jnp.float32).eps * jnp.max(jnp.abs(eigenvalues))
  return (eigenvalues > tolerance).astype(eigenvalues.dtype)


@jax.jit
def _primal_path(x, targets, l2_grid):
  """W(λ) for every λ via one eigendecomposition of X̄ᵀX̄ (d ≤ n). Returns [L, d, C]."""
  eigenvalues, vectors = jnp.linalg.eigh(x.T @ x)
  # Null directions (collinear features) project X̄ᵀT̄ to 0 exactly; their float32 noise,
  # amplified by 1/(s + λ) at small λ, is dropped.
  projected = (vectors.T @ (x.T @ targets)) * signal_directions(eigenvalues)[:, None]   # [d, C]
  return jax.vmap(lambda l2: vectors @ (projected / (eigenvalues + l2)[:, None]))(l2_grid)


@jax.jit
def _dual_path(x, targets, l2_grid):
  """W(λ) for every λ via one eigendecomposition of X̄X̄ᵀ (n < d). Returns [L, d, C]."""
  eigenvalues, vectors = jnp.linalg.eigh(x @ x.T)
  # The kernel's null directions u have X̄ᵀu = 0 exactly; their float32 noise, amplified by
  # 1/(s + λ) at small λ, is dropped.
  projected = (vectors.T @ targets) * signal_directions(eigenvalues)[:, None]   # [n, C]
  return jax.vmap(lambda l2: x.T @ (vectors @ (projected / (eigenvalues + l2)[:, None])))(l2_grid)


def ridge_path(x_train, targets, l2_grid):
  """Ridge solutions for every strength: (weights float32[L, d, C], bias float32[L, C])."""
  x = jnp.asarray(x_train, jnp.float32)
  targets = jnp.asarray(targets, jnp.float32)
  grid = jnp.asarray(l2_grid, jnp.float32)
  x_mean, t_mean = x.mean(0), targets.mean(0)
  centred_x, centred_t = x - x_mean, targets - t_mean
  solve = _primal_path if x.shape[1] <= x.shape[0] else _dual_path
  weights = solve(centred_x, centred_t, grid)
  bias = t_mean[None] - jnp.einsum("d,ldc->lc", x_mean, weights)
  return weights, bias


def sample_k_shot(labels, k: int, seed: int = 0) -> np.ndarray:
  """Indices of k examples of every class present in ``labels``, drawn without replacement.

  Raises ValueError if some class has fewer than k examples.
  """
  labels = np.asarray(labels)
  classes, counts = np.unique(labels, return_counts=True)
  if k < 1:
    raise ValueError(f"k must be >= 1; got {k}.")
  if counts.min() < k:
    rarest = classes[np.argmin(counts)]
    raise ValueError(f"k={k} but class {rarest} has only {counts.min()} training examples; use k <= {counts.min()}.")
  rng = np.random.default_rng(seed)
  return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), k, replace=False) for c in classes]))


def ridge_probe(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid=None, *, k_shot: int | None = None,
                seed: int = 0) -> dict:
  """Ridge linear evaluation: choose λ on val, score test; optionally k-shot.

  With ``k_shot``, the model is fitted on k sampled training examples per class (seeded);
  λ is chosen on the validation split, and the final model is that same k-shot fit
  (no refit on train+val, so no extra shots leak into it).

  Returns dict with ``test_accuracy``, ``l2``, ``val_accuracy`` per strength, ``l2_grid``.
  """
  x_train, y_train, x_val, y_val, x_test, y_test, num_classes = _checks.probe_inputs(
      x_train, y_train, x_val, y_val, x_test, y_test)
  if k_shot is not None:
    chosen = sample_k_shot(y_train, k_shot, seed)
    x_train, y_train = x_train[chosen], y_train[chosen]
  grid = np.asarray(KORNBLITH_L2_GRID if l2_grid is None else l2_grid, np.float64)
  weights, bias = ridge_path(x_train, jax.nn.one_hot(y_train, num_classes), grid)
  predict = lambda x: jnp.argmax(jnp.einsum("nd,ldc->lnc", jnp.asarray(x), weights) + bias[:, None], axis=-1)
  val_accuracy = np.asarray(jnp.mean(predict(x_val) == jnp.asarray(y_val)[None], axis=1))
  best = int(np.argmax(val_accuracy))
  test_accuracy = float(np.mean(np.asarray(predict(x_test))[best] == y_test))
  return {"test_accuracy": test_accuracy, "l2": float(grid[best]), "val_accuracy": val_accuracy, "l2_grid": grid,
          "weights": weights[best], "bias": bias[best]}
