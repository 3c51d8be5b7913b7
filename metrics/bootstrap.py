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
  if not 0 < confidence < 1:
    raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
  if num_resamples < 2:
    raise ValueError(f"num_resamples must be >= 2; got {num_resamples}.")
  estimate = statistic(data, jnp.ones((num_examples,), jnp.float32))
  samples = _bootstrap_samples(statistic, data, jax.random.PRNGKey(seed), num_examples,
                               num_resamples, min(batch_size, num_resamples))
  tail = 100 * (1 - confidence) / 2

  def interval(point, draws):
    draws = np.asarray(draws, np.float64)
    with np.errstate(all="ignore"):
      import warnings
      with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
        std = np.nanstd(draws, axis=0)
    return Interval(np.asarray(point), low, high, std, confidence, num_resamples)

  return jax.tree.map(interval, estimate, samples)


def _pairwise_statistics(data, weights):
  correct, ensemble_correct, pair_a, pair_b = data
  stats = ensemble_lib.summarize_outcomes(correct, ensemble_correct, pair_a, pair_b, weights)
  stats["cohen_kappa"] = agreement._cohen_kappa(correct, weights)
  return stats


def pairwise_intervals(outcomes: ensemble_lib.PairwiseOutcomes, *, num_resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0, batch_size: int = 16) -> dict[str, Interval]:
  """Bootstrap intervals of every pairwise matrix of :func:`metrics.summarize` plus Cohen's κ.

  Keys: ``accuracy`` [N], ``ensemble_accuracy``, ``relative_improvement``,
  ``error_inconsistency``, ``conversion_rate``, ``cohen_kappa`` [N, N].
  """
  data = (outcomes.correct, outcomes.ensemble_correct, jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b))
  return paired_bootstrap(_pairwise_statistics, data, outcomes.num_examples, num_resamples=num_resamples,
                          confidence=confidence, seed=seed, batch_size=batch_size)
