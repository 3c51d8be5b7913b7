"""Paired bootstrap confidence intervals for pairwise statistics.

Examples are resampled with replacement *jointly for all models* (as
wichmann-lab/error_consistency does for pairs), so every model pair in a resample
sees the same examples. A resample is represented by its multinomial counts w[e]
(how often example e was drawn), and every statistic here is a function of such
example weights; that makes resampling a vmapped, jitted loop with no gathers of
the prediction arrays.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from metrics import agreement
from metrics import ensemble as ensemble_lib


@dataclasses.dataclass(frozen=True)
class Interval:
  """A point estimate with a percentile bootstrap interval (arrays of the statistic's shape)."""
  estimate: Any
  low: Any
  high: Any
  std: Any
  confidence: float
  num_resamples: int


def resample_counts(key, num_examples: int) -> jax.Array:
  """Multinomial counts of one bootstrap resample, float32[E] summing to E."""
  draws = jax.random.randint(key, (num_examples,), 0, num_examples)
  return jnp.zeros((num_examples,), jnp.float32).at[draws].add(1.0)


@functools.partial(jax.jit, static_argnames=("statistic", "num_examples", "num_resamples", "batch_size"))
def _bootstrap_samples(statistic, data, key, num_examples, num_resamples, batch_size):
  batches = -(-num_resamples // batch_size)
  keys = jax.random.split(key, batches * batch_size).reshape(batches, batch_size, -1)

  def one_batch(batch_keys):
    weights = jax.vmap(lambda k: resample_counts(k, num_examples))(batch_keys)
    return jax.vmap(lambda w: statistic(data, w))(weights)

  samples = jax.lax.map(one_batch, keys)
  return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:])[:num_resamples], samples)


def paired_bootstrap(statistic: Callable, data, num_examples: int, *, num_resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0, batch_size: int = 16) -> Any:
  """Percentile bootstrap of ``statistic(data, weights)`` over jointly resampled examples.

  Args:
    statistic: a jax-traceable function (data, weights float32[E]) → pytree of arrays;
      it must treat ``weights`` as per-example multiplicities. It must be hashable
      (a module-level function), since it is a static argument of the jitted loop.
    data: pytree of arrays passed through to ``statistic``.
    num_examples: E.
    num_resamples: B.
    confidence: central interval mass, e.g. 0.95 → 2.5th and 97.5th percentiles.
  Returns:
    A pytree (same structure as the statistic) of :class:`Interval`; resamples where
    the statistic is NaN (e.g. a conversion rate with no inconsistent example) are
    left out of that entry's percentiles.
  """
  _check_bootstrap(confidence, num_resamples)
  estimate = statistic(data, jnp.ones((num_examples,), jnp.float32))
  samples = _bootstrap_samples(statistic, data, jax.random.PRNGKey(seed), num_examples,
                               num_resamples, min(batch_size, num_resamples))
  return _intervals(estimate, samples, confidence, num_resamples)


def _check_bootstrap(confidence: float, num_resamples: int) -> None:
  if not 0 < confidence < 1:
    raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
  if num_resamples < 2:
    raise ValueError(f"num_resamples must be >= 2; got {num_resamples}.")


def nan_percentiles(draws: np.ndarray, percentiles) -> list[np.ndarray]:
  """``np.nanpercentile(draws, p, axis=0)`` for each p (linear interpolation, NaNs left out,
  NaN where a column has no finite draw), vectorised over the columns: numpy's own
  loops over them one by one once any NaN is present (seconds for 3,321 pairs)."""
  draws = np.asarray(draws, np.float64)
  ordered = np.sort(draws, axis=0)                        # NaNs sort last
  valid = np.sum(~np.isnan(draws), axis=0)
  last = np.maximum(valid - 1, 0)
  out = []
  for percentile in percentiles:
    position = np.true_divide(percentile, 100) * last       # numpy's "linear" virtual index
    below = np.floor(position)
    gamma = position - below
    below = below.astype(np.int64)
    above = np.minimum(below + 1, last)
    a = np.take_along_axis(ordered, below[None], axis=0)[0]
    b = np.take_along_axis(ordered, above[None], axis=0)[0]
    difference = b - a                                      # numpy's _lerp, term for term
    value = a + difference * gamma
    value = np.where(gamma >= 0.5, b - difference * (1 - gamma), value)
    out.append(np.where(valid > 0, value, np.nan))
  return out


def _intervals(estimate, samples, confidence: float, num_resamples: int):
  """Percentile intervals of a pytree of point estimates from its stacked resamples."""
  tail = 100 * (1 - confidence) / 2

  def interval(point, draws):
    draws = np.asarray(draws, np.float64)
    with np.errstate(all="ignore"):
      import warnings
      with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = nan_percentiles(draws, (tail, 100 - tail))
        std = np.nanstd(draws, axis=0)
    return Interval(np.asarray(point), low, high, std, confidence, num_resamples)

  return jax.tree.map(interval, estimate, samples)


def _pairwise_statistics(data, weights):
  correct, ensemble_correct, pair_a, pair_b = data
  stats = ensemble_lib.summarize_outcomes(correct, ensemble_correct, pair_a, pair_b, weights)
  stats["cohen_kappa"] = agreement._cohen_kappa(correct, weights)
  return stats


def resample_weights(num_examples: int, num_resamples: int, *, seed: int = 0, batch_size: int = 16) -> jax.Array:
  """float32[B, E]: the multinomial counts of the resamples :func:`paired_bootstrap` draws
  with the same ``seed`` and ``batch_size`` (the same keys, in the same order)."""
  batch_size = min(batch_size, num_resamples)
  batches = -(-num_resamples // batch_size)
  keys = jax.random.split(jax.random.PRNGKey(seed), batches * batch_size)
  return _counts_of(keys, num_examples)[:num_resamples]


@functools.partial(jax.jit, static_argnames=("num_examples",))
def _counts_of(keys, num_examples):
  return jax.lax.map(lambda key: resample_counts(key, num_examples), keys)


# Pairs per block of the resampled sums (a [B, E] × [E, block] product per indicator).
_PAIR_BLOCK = 256


@jax.jit
def _pair_sums(weights, correct, ensemble_correct, pair_a, pair_b):
  """Σ_e w_be · indicator_p(e) for every resample b and pair p of the block: the pair's
  ensemble correctness, converted examples (inconsistent and ensemble right) and
  inconsistent examples, float32[B, block] each. The indicators are 0/1 and the weights
  integer counts summing to E < 2²⁴, so every sum is exact in float32 (in any order)."""
  inconsistent = correct[pair_a] != correct[pair_b]
  product = lambda indicator: jnp.matmul(weights, indicator.astype(jnp.float32).T,
                                         precision=jax.lax.Precision.HIGHEST)
  return product(ensemble_correct), product(ensemble_correct & inconsistent), product(inconsistent)


@jax.jit
def _statistics_of_sums(correct_count, ensemble_count, converted_count, inconsistent_count, total, pair_a, pair_b):
  """:func:`_pairwise_statistics` of one resample from its exact weighted counts."""
  stats = ensemble_lib._statistics(correct_count, ensemble_count, converted_count, inconsistent_count, total,
                                   pair_a, pair_b)
  # S(a, b) = (A + B − I)/2: the both-correct counts, exact (integers below 2²⁴).
  both = ensemble_lib._to_matrix(0.5 * (correct_count[pair_a] + correct_count[pair_b] - inconsistent_count),
                                 pair_a, pair_b, correct_count)
  stats["cohen_kappa"] = agreement._kappa_from_counts(both, correct_count, total)
  return stats


def pairwise_intervals(outcomes: ensemble_lib.PairwiseOutcomes, *, num_resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0, batch_size: int = 16) -> dict[str, Interval]:
  """Bootstrap intervals of every pairwise matrix of :func:`metrics.summarize` plus Cohen's κ.

  Keys: ``accuracy`` [N], ``ensemble_accuracy``, ``relative_improvement``,
  ``error_inconsistency``, ``conversion_rate``, ``cohen_kappa`` [N, N].

  The same intervals as :func:`paired_bootstrap` of those statistics with the same
  ``seed`` and ``batch_size`` (the same resamples, the same float32 operations on the
  same exact counts), computed as matrix products: the weighted counts of every pair
  under all B resamples are [B, E] × [E, P] products of the resampling counts with the
  0/1 outcome indicators, in blocks of pairs (memory O(B·E + block·E)), instead of one
  pass over the [P, E] outcomes per resample: 3,321 pairs × 50,000 examples × 1,000
  resamples is three GEMMs.
  """
  _check_bootstrap(confidence, num_resamples)
  correct = jnp.asarray(outcomes.correct)
  ensemble_correct = jnp.asarray(outcomes.ensemble_correct)
  pair_a, pair_b = np.asarray(outcomes.pair_a), np.asarray(outcomes.pair_b)
  num_examples = outcomes.num_examples
  estimate = _pairwise_statistics((correct, ensemble_correct, jnp.asarray(pair_a), jnp.asarray(pair_b)),
                                  jnp.ones((num_examples,), jnp.float32))
  weights = resample_weights(num_examples, num_resamples, seed=seed, batch_size=batch_size)
  correct_count = jnp.matmul(weights, correct.astype(jnp.float32).T, precision=jax.lax.Precision.HIGHEST)
  sums = [[], [], []]
  num_pairs = len(pair_a)
  block = min(_PAIR_BLOCK, num_pairs)
  for start in range(0, num_pairs, block):
    rows = np.arange(start, start + block).clip(max=num_pairs - 1)     # the last block padded: one shape
    for total, part in zip(sums, _pair_sums(weights, correct, ensemble_correct[rows], jnp.asarray(pair_a[rows]),
                                            jnp.asarray(pair_b[rows]))):
      total.append(np.asarray(part)[:, :min(block, num_pairs - start)])
  ensemble_count, converted_count, inconsistent_count = (np.concatenate(parts, axis=1) for parts in sums)
  totals = jnp.sum(weights, axis=1)
  samples = jax.vmap(_statistics_of_sums, in_axes=(0, 0, 0, 0, 0, None, None))(
      correct_count, jnp.asarray(ensemble_count), jnp.asarray(converted_count), jnp.asarray(inconsistent_count),
      totals, jnp.asarray(pair_a), jnp.asarray(pair_b))
  return _intervals(estimate, samples, confidence, num_resamples)
