"""Least-squares fit vs. scipy; paired bootstrap vs. a naive resampling loop."""

import numpy as np
import pytest
import scipy.stats

import metrics
from conftest import random_probs
from metrics import agreement


def test_linear_fit_matches_scipy(rng):
  x = rng.random(50)
  y = 0.8 * x + rng.normal(scale=0.1, size=50)
  fit = metrics.linear_fit(x, y)
  reference = scipy.stats.linregress(x, y)
  assert fit["slope"] == pytest.approx(reference.slope)
  assert fit["intercept"] == pytest.approx(reference.intercept)
  assert fit["pearson_r"] == pytest.approx(reference.rvalue)
  assert fit["r_squared"] == pytest.approx(reference.rvalue ** 2)
  assert fit["num_points"] == 50


def test_pair_values_reads_upper_triangle():
  matrix = np.arange(16.0).reshape(4, 4)
  np.testing.assert_array_equal(metrics.pair_values(matrix), [1, 2, 3, 6, 7, 11])
  np.testing.assert_array_equal(metrics.pair_values(matrix, [(0, 3), (2, 1)]), [3, 9])


@pytest.mark.parametrize("x, y, message", [
    ([1.0], [2.0], "at least 2 points"),
    ([1.0, 2.0], [2.0], "same number of points"),
    ([1.0, np.nan], [2.0, 3.0], "must be finite"),
    ([1.0, 1.0], [2.0, 3.0], "x is constant"),
])
def test_linear_fit_bad_input(x, y, message):
  with pytest.raises(ValueError, match=message):
    metrics.linear_fit(x, y)


def test_resample_counts_are_multinomial():
  import jax
  counts = np.asarray(metrics.resample_counts(jax.random.PRNGKey(0), 1000))
  assert counts.sum() == 1000 and counts.min() >= 0
  assert 0.3 < np.mean(counts == 0) < 0.44  # ≈ (1 − 1/E)^E ≈ e^−1 of examples not drawn


def _weighted_error_inconsistency(correct, weights):
  return agreement._error_inconsistency(correct, weights)


def test_bootstrap_equals_naive_resampling_with_the_same_draws(rng):
  """Every resample's statistic equals the metric recomputed on explicitly resampled examples."""
  import jax
  correct = rng.random((3, 80)) < 0.6
  result = metrics.paired_bootstrap(_weighted_error_inconsistency, correct, 80, num_resamples=64, seed=3,
                                    batch_size=16)
  keys = jax.random.split(jax.random.PRNGKey(3), 64)
  naive = []
  for key in keys:
    counts = np.asarray(metrics.resample_counts(key, 80)).astype(int)
    resampled = np.repeat(correct, counts, axis=1)
    naive.append(np.asarray(metrics.error_inconsistency(resampled)))
  naive = np.stack(naive)
  np.testing.assert_allclose(result.low, np.percentile(naive, 2.5, axis=0), atol=1e-6)
  np.testing.assert_allclose(result.high, np.percentile(naive, 97.5, axis=0), atol=1e-6)
  np.testing.assert_allclose(result.std, naive.std(0), atol=1e-6)
  np.testing.assert_allclose(result.estimate, metrics.error_inconsistency(correct), atol=1e-7)


def test_pairwise_intervals_cover_and_scale(rng):
  probs = random_probs(rng, 3, 2000, 5)
  labels = rng.integers(0, 5, 2000)
  outcomes = metrics.pairwise_outcomes(probs, labels)
  intervals = metrics.pairwise_intervals(outcomes, num_resamples=300, confidence=0.9)
  summary = metrics.summarize(outcomes)
  for key in ("ensemble_accuracy", "error_inconsistency", "relative_improvement", "conversion_rate", "cohen_kappa"):
    interval = intervals[key]
    estimate = np.asarray(interval.estimate)
    off_diagonal = ~np.eye(3, dtype=bool)
    assert np.all(interval.low[off_diagonal] <= estimate[off_diagonal] + 1e-6), key
    assert np.all(estimate[off_diagonal] <= interval.high[off_diagonal] + 1e-6), key
    if key in summary:
      np.testing.assert_allclose(estimate, np.asarray(summary[key]), atol=1e-6)
  # Bootstrap std of an accuracy ≈ the binomial standard error √(p(1−p)/E).
  accuracy = np.asarray(intervals["accuracy"].estimate)
  np.testing.assert_allclose(intervals["accuracy"].std, np.sqrt(accuracy * (1 - accuracy) / 2000), rtol=0.2)


def test_bootstrap_bad_arguments():
  with pytest.raises(ValueError, match="confidence"):
    metrics.paired_bootstrap(_weighted_error_inconsistency, np.ones((2, 3), bool), 3, confidence=1.5)
  with pytest.raises(ValueError, match="num_resamples"):
    metrics.paired_bootstrap(_weighted_error_inconsistency, np.ones((2, 3), bool), 3, num_resamples=1)
