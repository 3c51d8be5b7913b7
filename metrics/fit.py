"""Least-squares line and correlation across model pairs (paper Fig. 2).

The paper reports that error inconsistency is "linearly correlated" with the
ensemble's relative improvement; this fits y = slope·x + intercept by least squares
and reports Pearson's r and R² = r² (equal for a simple linear fit with intercept).
"""

from __future__ import annotations

import numpy as np


def _fit(x, y):
  x_centered, y_centered = x - x.mean(), y - y.mean()
  sxx, syy, sxy = np.sum(x_centered ** 2), np.sum(y_centered ** 2), np.sum(x_centered * y_centered)
  slope = sxy / sxx
  r = sxy / np.sqrt(sxx * syy) if syy > 0 else np.nan
  return slope, y.mean() - slope * x.mean(), r


def linear_fit(x, y) -> dict[str, float]:
  """Least-squares fit y ≈ slope·x + intercept with Pearson's r and R².

  slope = Σ(x−x̄)(y−ȳ)/Σ(x−x̄)², intercept = ȳ − slope·x̄, r = Σ(x−x̄)(y−ȳ)/√(Σ(x−x̄)²Σ(y−ȳ)²),
  R² = r² (NaN when y is constant). Computed with numpy in float64 on centred data:
  there is one value per pair, and float32 would cost digits for nothing.

  Raises:
    ValueError: shapes differ, fewer than 2 points, non-finite values, or constant x.
  """
  x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
  if x.shape != y.shape:
    raise ValueError(f"x and y must have the same number of points; got {x.size} and {y.size}.")
  if x.size < 2:
    raise ValueError(f"a line needs at least 2 points; got {x.size}.")
  if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
    raise ValueError("x and y must be finite; drop pairs with NaN (e.g. conversion rates of pairs "
                     "without inconsistent examples) first.")
  if np.all(x == x[0]):
    raise ValueError("x is constant; the slope is undefined.")
  slope, intercept, r = (float(v) for v in _fit(x, y))
  return {"slope": slope, "intercept": intercept, "pearson_r": r, "r_squared": r * r, "num_points": int(x.size)}


def pair_values(matrix, pairs=None) -> np.ndarray:
  """Values of a symmetric [N, N] matrix at ``pairs`` [(a, b), ...] (default: all a < b)."""
  matrix = np.asarray(matrix)
  if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
    raise ValueError(f"matrix must be square [N, N]; got shape {matrix.shape}.")
  if pairs is None:
    a, b = np.triu_indices(matrix.shape[0], k=1)
  else:
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
  return matrix[a, b]
