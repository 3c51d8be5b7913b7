"""θ, its histograms and per-class specialisation vs. naive loops."""

import numpy as np
import pytest

import metrics
from conftest import random_probs


def test_theta_is_atan2_in_degrees(rng):
  a, b = rng.random(100), rng.random(100)
  np.testing.assert_allclose(metrics.theta(a, b), np.degrees(np.arctan2(a, b)), rtol=1e-5, atol=1e-4)
  assert float(metrics.theta(0.5, 0.5)) == pytest.approx(45.0)
  assert float(metrics.theta(1.0, 0.0)) == pytest.approx(90.0)
  assert float(metrics.theta(0.0, 1.0)) == pytest.approx(0.0)


def test_outcome_group_codes():
  a = np.array([True, False, True, False])
  b = np.array([True, False, False, True])
  groups = np.asarray(metrics.outcome_group(a, b))
  assert [metrics.OUTCOME_GROUPS[g] for g in groups] == ["both_correct", "both_wrong", "only_a", "only_b"]


def test_theta_histograms_match_loop(rng):
  probs = random_probs(rng, 4, 300, 6)
  labels = rng.integers(0, 6, 300)
  conf = np.asarray(metrics.top1_confidence(probs))
  np.testing.assert_allclose(conf, probs.max(-1))
  correct = probs.argmax(-1) == labels
  mask = metrics.inconsistent_anywhere(correct, [(0, 1), (0, 2)])
  bins = 9
  result = metrics.theta_histograms(conf, correct, bins=bins, example_mask=mask)
  counts = result["counts"]
  assert counts.shape == (4, 4, 4, bins)
  for a in range(4):
    for b in range(4):
      expected = np.zeros((4, bins), int)
      for e in np.flatnonzero(mask):
        angle = np.degrees(np.arctan2(conf[a, e], conf[b, e]))
        group = ["both_correct", "both_wrong", "only_a", "only_b"].index(
            "both_correct" if correct[a, e] and correct[b, e] else "both_wrong" if not (correct[a, e] or correct[b, e])
            else "only_a" if correct[a, e] else "only_b")
        expected[group, min(int(angle / 90 * bins), bins - 1)] += 1
      np.testing.assert_array_equal(counts[a, b], expected)
  np.testing.assert_array_equal(result["edges"], np.linspace(0, 90, bins + 1))
  assert mask.sum() == np.sum((correct[0] != correct[1]) | (correct[0] != correct[2]))


def test_per_class_outcomes_and_specialisation_match_loop(rng):
  correct = rng.random((3, 500)) < 0.6
  labels = rng.integers(0, 7, 500)
  counts = metrics.per_class_outcomes(correct, labels, 8)
  special = metrics.class_specialisation(correct, labels, 8)
  for a in range(3):
    for b in range(3):
      for k in range(8):
        in_class = labels == k
        only_a = np.sum(in_class & correct[a] & ~correct[b])
        only_b = np.sum(in_class & ~correct[a] & correct[b])
        assert counts["only_a"][a, b, k] == only_a
        assert counts["only_b"][a, b, k] == only_b
        assert counts["both_correct"][a, b, k] == np.sum(in_class & correct[a] & correct[b])
        if only_a + only_b:
          assert special[a, b, k] == pytest.approx((only_a - only_b) / (only_a + only_b))
        else:
          assert np.isnan(special[a, b, k])
  assert np.all(np.isnan(special[:, :, 7]))  # class 7 has no examples


def test_bad_input():
  with pytest.raises(ValueError, match="conf has shape"):
    metrics.theta_histograms(np.ones((2, 3)), np.ones((2, 4), bool))
  with pytest.raises(ValueError, match="example_mask must have shape"):
    metrics.theta_histograms(np.ones((2, 3)), np.ones((2, 3), bool), example_mask=np.ones(2, bool))
  with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
    metrics.per_class_outcomes(np.ones((2, 3), bool), np.array([0, 1, 5]), 3)
