"""Error-consistency statistics after Klein et al. (2025, wichmann-lab/error_consistency).

For a pair of models with accuracies p_a, p_b over E examples, Cohen's κ on correctness
(:func:`metrics.cohen_kappa`) is bounded by the accuracies alone: with
c_exp = p_a p_b + (1 − p_a)(1 − p_b),

  κ_max = (min(p_a, p_b) + min(1 − p_a, 1 − p_b) − c_exp) / (1 − c_exp)   (errors nested),
  κ_min = (1 − min(p_a, 1 − p_b) − min(1 − p_a, p_b) − c_exp) / (1 − c_exp) (errors disjoint).

The small-sample bias of κ is removed by κ_u = E κ / ((E − 1) + κ), and κ is tested
against independent errors by simulation: accuracies are drawn from their Beta(n, E − n)
posteriors, two independent observers with those accuracies are simulated on E trials,
and p = #{|κ_null| > |κ|} / draws (two-sided, strict, as in the reference code). The
simulation needs only each null 2×2 table, drawn as a multinomial by three binomials.
The copy-probability model reads κ as the probability that the weaker model copies the
stronger one's outcome: p_copy = κ · (1 − c_exp) / (1 − (p_1² + (1 − p_1)²)), p_1 the
higher accuracy.
"""

from __future__ import annotations

import dataclasses
import numpy as np

from metrics import _checks
from metrics import agreement


def kappa_bounds(accuracy_a, accuracy_b) -> tuple[np.ndarray, np.ndarray]:
  """(κ_min, κ_max) reachable by two observers with these accuracies (broadcasting, float64).

  NaN where c_exp = 1 (both accuracies 0 or both 1, κ undefined).
  """
  a = np.asarray(accuracy_a, np.float64)
  b = np.asarray(accuracy_b, np.float64)
  if np.any((a < 0) | (a > 1) | (b < 0) | (b > 1)) or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
    raise ValueError("accuracy_a and accuracy_b must lie in [0, 1].")
  expected = a * b + (1 - a) * (1 - b)
  most = np.minimum(a, b) + np.minimum(1 - a, 1 - b)
  least = 1 - np.minimum(a, 1 - b) - np.minimum(1 - a, b)
  with np.errstate(invalid="ignore", divide="ignore"):
    scale = np.where(expected < 1, 1 - expected, np.nan)
    return (least - expected) / scale, (most - expected) / scale


def unbiased_kappa(kappa, num_examples) -> np.ndarray:
  """Klein et al.'s bias-corrected κ: E κ / ((E − 1) + κ) (float64, NaN stays NaN)."""
  kappa = np.asarray(kappa, np.float64)
  return num_examples * kappa / ((num_examples - 1) + kappa)


def copy_probability(kappa, accuracy_a, accuracy_b) -> np.ndarray:
  """p_copy of Klein et al.'s copy model (module docstring); negative κ gives negative p_copy."""
  a = np.asarray(accuracy_a, np.float64)
  b = np.asarray(accuracy_b, np.float64)
  high = np.maximum(a, b)
  expected = a * b + (1 - a) * (1 - b)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.asarray(kappa, np.float64) * (1 - expected) / (1 - (high ** 2 + (1 - high) ** 2))


def _kappa_from_counts(both, count_a, count_b, total):
  numerator = 2.0 * (both * total - count_a * count_b)
  denominator = count_a * (total - count_b) + count_b * (total - count_a)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(denominator == 0, np.nan, numerator / np.where(denominator == 0, 1.0, denominator))


def _null_exceedances(rng, count_a, count_b, kappa, total, num_draws):
  """#{|κ_null| > |κ|} per pair under independent observers with Beta-posterior accuracies.

  numpy's Generator, not jax.random: its Beta and binomial samplers are ~100× faster on
  CPU than jax's rejection loops, and this simulation is all sampling.
  """
  shape = (num_draws, count_a.size)
  p_a = rng.beta(count_a, total - count_a, shape)
  p_b = rng.beta(count_b, total - count_b, shape)
  both = rng.binomial(total, p_a * p_b)
  only_a = rng.binomial(total - both, p_a * (1 - p_b) / np.maximum(1 - p_a * p_b, 1e-300))
  only_b = rng.binomial(total - both - only_a, p_b)   # P(b right | not both, a wrong) = p_b
  null = _kappa_from_counts(both, both + only_a, both + only_b, float(total))
  return np.sum(np.abs(null) > np.abs(kappa)[None], axis=0)


def kappa_significance(correct, *, num_draws: int = 10_000, seed: int = 0, chunk_elements: int = 1 << 22) -> np.ndarray:
  """Two-sided p-value of every pair's κ against independent errors (Klein et al.), float64[N, N].

  NaN on the diagonal and where a model is always right or always wrong (its accuracy
  posterior Beta(n, E − n) is undefined). Pairs are simulated in chunks of at most
  ``chunk_elements`` draws.
  """
  correct = _checks.as_correctness(correct, min_models=2)
  if num_draws < 1:
    raise ValueError(f"num_draws must be >= 1; got {num_draws}.")
  num_models, total = correct.shape
  kappa = np.asarray(agreement.cohen_kappa(correct), np.float64)
  counts = correct.sum(1).astype(np.float64)
  degenerate = (counts == 0) | (counts == total)
  pair_a, pair_b = np.triu_indices(num_models, 1)
  valid = ~(degenerate[pair_a] | degenerate[pair_b])
  exceed = np.full(pair_a.size, np.nan)
  rng = np.random.default_rng(seed)
  chunk = max(1, chunk_elements // num_draws)
  todo = np.flatnonzero(valid)
  for start in range(0, todo.size, chunk):
    pairs = todo[start:start + chunk]
    exceed[pairs] = _null_exceedances(rng, counts[pair_a[pairs]], counts[pair_b[pairs]],
                                      kappa[pair_a[pairs], pair_b[pairs]], total, num_draws)
  p = np.full((num_models, num_models), np.nan)
  p[pair_a, pair_b] = exceed / num_draws
  p[pair_b, pair_a] = p[pair_a, pair_b]
  return p


@dataclasses.dataclass(frozen=True)
class ErrorConsistency:
  """Klein et al.'s statistics of every pair, float64[N, N] each (module docstring)."""
  kappa: np.ndarray
  unbiased_kappa: np.ndarray
  kappa_min: np.ndarray
  kappa_max: np.ndarray
  p_value: np.ndarray
  copy_probability: np.ndarray
  accuracy: np.ndarray          # [N]
  num_draws: int


def error_consistency_statistics(correct, *, num_draws: int = 10_000, seed: int = 0) -> ErrorConsistency:
  """κ, unbiased κ, its bounds from the two accuracies, significance and copy probability, all pairs.

  Args:
    correct: bool[N, E] per-model correctness.
    num_draws: null simulations per pair for the p-value.
  """
  correct = _checks.as_correctness(correct, min_models=2)
  total = correct.shape[1]
  kappa = np.asarray(agreement.cohen_kappa(correct), np.float64)
  accuracy = correct.mean(1, dtype=np.float64)
  low, high = kappa_bounds(accuracy[:, None], accuracy[None, :])
  return ErrorConsistency(kappa=kappa, unbiased_kappa=unbiased_kappa(kappa, total), kappa_min=low, kappa_max=high,
                          p_value=kappa_significance(correct, num_draws=num_draws, seed=seed),
                          copy_probability=copy_probability(kappa, accuracy[:, None], accuracy[None, :]),
                          accuracy=accuracy, num_draws=num_draws)
