"""Error inconsistency, Cohen's kappa and joint outcome rates vs. naive per-pair loops."""

import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import metrics


def naive_error_inconsistency(correct):
  n = correct.shape[0]
  out = np.zeros((n, n))
  for a in range(n):
    for b in range(n):
      out[a, b] = np.mean([ca != cb for ca, cb in zip(correct[a], correct[b])])
  return out


def naive_kappa(correct):
  n = correct.shape[0]
  out = np.zeros((n, n))
  for a in range(n):
    for b in range(n):
      pa, pb = correct[a].mean(), correct[b].mean()
      observed = np.mean(correct[a] == correct[b])
      expected = pa * pb + (1 - pa) * (1 - pb)
      out[a, b] = np.nan if expected == 1 else (observed - expected) / (1 - expected)
  return out


correctness = hnp.arrays(bool, st.tuples(st.integers(2, 6), st.integers(1, 40)))


@given(correctness)
def test_error_inconsistency_matches_naive_loop(correct):
  np.testing.assert_allclose(metrics.error_inconsistency(correct), naive_error_inconsistency(correct), atol=1e-6)


@given(correctness)
def test_kappa_matches_naive_formula(correct):
  np.testing.assert_allclose(metrics.cohen_kappa(correct), naive_kappa(correct), atol=1e-5)


def test_kappa_matches_sklearn(rng):
  correct = rng.random((5, 300)) < rng.uniform(0.3, 0.9, size=(5, 1))
  kappa = np.asarray(metrics.cohen_kappa(correct))
  for a in range(5):
    for b in range(5):
      assert kappa[a, b] == pytest.approx(sklearn.metrics.cohen_kappa_score(correct[a], correct[b]), abs=1e-5)


def test_degenerate_models():
  correct = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 1, 0]], bool)
  ei = np.asarray(metrics.error_inconsistency(correct))
  assert ei[0, 1] == 1.0 and ei[0, 2] == 0.0 and ei[0, 3] == 0.5
  kappa = np.asarray(metrics.cohen_kappa(correct))
  assert np.isnan(kappa[0, 2]) and np.isnan(kappa[0, 0]) and np.isnan(kappa[1, 1])
  assert kappa[0, 1] == 0.0  # chance agreement 0, observed 0
  assert kappa[3, 3] == pytest.approx(1.0)


def test_single_example():
  correct = np.array([[True], [False], [True]])
  np.testing.assert_array_equal(metrics.error_inconsistency(correct), naive_error_inconsistency(correct))


@given(correctness, st.integers(0, 2**31 - 1))
def test_outcome_rates_partition_and_match_loop(correct, seed):
  rates = {k: np.asarray(v) for k, v in metrics.outcome_rates(correct).items()}
  np.testing.assert_allclose(sum(rates.values()), 1.0, atol=1e-6)
  a, b = np.random.default_rng(seed).integers(0, correct.shape[0], 2)
  assert rates["only_a"][a, b] == pytest.approx(np.mean(correct[a] & ~correct[b]), abs=1e-6)
  assert rates["both_wrong"][a, b] == pytest.approx(np.mean(~correct[a] & ~correct[b]), abs=1e-6)


def test_integer_weights_equal_repeated_examples(rng):
  correct = rng.random((4, 50)) < 0.6
  weights = rng.integers(0, 4, 50)
  weights[0] = 1
  repeated = np.repeat(correct, weights, axis=1)
  np.testing.assert_allclose(metrics.error_inconsistency(correct, weights), naive_error_inconsistency(repeated), atol=1e-6)
  np.testing.assert_allclose(metrics.cohen_kappa(correct, weights), naive_kappa(repeated), atol=1e-5)


def test_top1_correct_breaks_ties_like_numpy(rng):
  scores = np.round(rng.random((3, 100, 4)) * 2) / 2
  labels = rng.integers(0, 4, 100)
  np.testing.assert_array_equal(metrics.top1_correct(scores, labels), scores.argmax(-1) == labels)


@pytest.mark.parametrize("bad, message", [
    (np.ones((3,), bool), "must be a boolean array"),
    (np.ones((1, 5), bool), "at least 2 models"),
    (np.ones((3, 0), bool), "no examples"),
    (np.full((2, 3), 0.5), "must hold booleans"),
])
def test_bad_correctness_is_refused(bad, message):
  with pytest.raises(ValueError, match=message):
    metrics.error_inconsistency(bad)
  with pytest.raises(ValueError, match=message):
    metrics.cohen_kappa(bad)


def test_bad_weights_are_refused():
  correct = np.ones((2, 3), bool)
  with pytest.raises(ValueError, match="weights must have shape"):
    metrics.error_inconsistency(correct, np.ones(4))
  with pytest.raises(ValueError, match="non-negative"):
    metrics.error_inconsistency(correct, np.array([1.0, -1.0, 1.0]))
