"""Klein et al.'s error-consistency statistics against enumeration and naive simulation."""

import numpy as np
import pytest
import sklearn.metrics

import metrics
from metrics import error_consistency as ec


def _kappa_of_table(both, count_a, count_b, total):
  observed = (both + (total - count_a - count_b + both)) / total
  pa, pb = count_a / total, count_b / total
  expected = pa * pb + (1 - pa) * (1 - pb)
  return np.nan if expected == 1 else (observed - expected) / (1 - expected)


def test_kappa_bounds_equal_enumeration_of_every_2x2_table():
  total = 12
  counts = np.arange(total + 1)
  low, high = ec.kappa_bounds(counts[:, None] / total, counts[None, :] / total)
  for a in counts:
    for b in counts:
      kappas = [_kappa_of_table(s, a, b, total) for s in range(max(0, a + b - total), min(a, b) + 1)]
      if all(np.isnan(kappas)):
        assert np.isnan(low[a, b]) and np.isnan(high[a, b])
      else:
        assert low[a, b] == pytest.approx(min(kappas), abs=1e-12), (a, b)
        assert high[a, b] == pytest.approx(max(kappas), abs=1e-12), (a, b)


def test_reference_bound_values_and_unbiased_kappa(rng):
  # Accuracies 0.9 and 0.6: nested errors give κ_max, disjoint errors κ_min.
  low, high = ec.kappa_bounds(0.9, 0.6)
  expected = 0.9 * 0.6 + 0.1 * 0.4
  assert high == pytest.approx((0.6 + 0.1 - expected) / (1 - expected))
  assert low == pytest.approx((1 - 0.4 - 0.1 - expected) / (1 - expected))
  correct = rng.random((4, 300)) < np.array([[0.9], [0.7], [0.5], [0.8]])
  result = ec.error_consistency_statistics(correct, num_draws=200)
  for a in range(4):
    for b in range(4):
      kappa = sklearn.metrics.cohen_kappa_score(correct[a], correct[b])
      assert result.kappa[a, b] == pytest.approx(kappa, abs=1e-6)
      assert result.unbiased_kappa[a, b] == pytest.approx(300 * kappa / (299 + kappa), abs=1e-6)
      assert result.kappa_min[a, b] - 1e-9 <= result.kappa[a, b] <= result.kappa_max[a, b] + 1e-9
  assert np.all(np.isnan(np.diag(result.p_value)))


def _naive_p_value(trials1, trials2, draws, rng):
  """Klein et al.'s calculate_ec_pvalue as a loop over simulated trial sequences."""
  total = trials1.size
  kappa = sklearn.metrics.cohen_kappa_score(trials1, trials2)
  n1, n2 = trials1.sum(), trials2.sum()
  null = []
  for _ in range(draws):
    p1, p2 = rng.beta(n1, total - n1), rng.beta(n2, total - n2)
    t1, t2 = rng.random(total) < p1, rng.random(total) < p2
    null.append(_kappa_of_table(np.sum(t1 & t2), t1.sum(), t2.sum(), total))
  return np.mean(np.abs(null) > abs(kappa))


def test_significance_matches_naive_simulation(rng):
  total = 200
  base = rng.random(total) < 0.7
  copies = np.where(rng.random(total) < 0.15, base, rng.random(total) < 0.7)   # weakly consistent
  independent = rng.random(total) < 0.6
  correct = np.stack([base, copies, independent])
  p = ec.kappa_significance(correct, num_draws=4000, seed=0)
  naive_rng = np.random.default_rng(1)
  for a, b in ((0, 1), (0, 2), (1, 2)):
    naive = _naive_p_value(correct[a].astype(int), correct[b].astype(int), 1500, naive_rng)
    # Monte Carlo error of the two estimates: √(p(1−p)(1/4000 + 1/1500)) ≤ 0.016
    assert p[a, b] == pytest.approx(naive, abs=0.05), (a, b)
  strongly = np.stack([base, np.where(rng.random(total) < 0.8, base, ~base)])
  assert ec.kappa_significance(strongly, num_draws=2000)[0, 1] == 0.0


def test_p_values_of_independent_models_are_roughly_uniform(rng):
  correct = rng.random((12, 400)) < rng.uniform(0.5, 0.9, (12, 1))
  p = ec.kappa_significance(correct, num_draws=500, seed=3)[np.triu_indices(12, 1)]
  assert 0.35 < p.mean() < 0.65
  assert np.mean(p < 0.05) < 0.12


def test_copy_probability_recovers_the_copy_model(rng):
  total, copy, acc1, latent2 = 200_000, 0.3, 0.8, 0.6
  first = rng.random(total) < acc1
  second = np.where(rng.random(total) < copy, first, rng.random(total) < latent2)
  kappa = sklearn.metrics.cohen_kappa_score(first, second)
  estimate = ec.copy_probability(kappa, first.mean(), second.mean())
  assert estimate == pytest.approx(copy, abs=0.01)


def test_degenerate_and_bad_input(rng):
  correct = rng.random((3, 50)) < 0.5
  correct[2] = True
  p = ec.kappa_significance(correct, num_draws=50)
  assert np.isnan(p[0, 2]) and np.isfinite(p[0, 1])
  with pytest.raises(ValueError, match="at least 2 models"):
    ec.error_consistency_statistics(correct[:1])
  with pytest.raises(ValueError, match="booleans"):
    ec.error_consistency_statistics(np.full((2, 5), 0.5))
  with pytest.raises(ValueError, match="accuracy_a and accuracy_b"):
    ec.kappa_bounds(1.2, 0.5)
  with pytest.raises(ValueError, match="num_draws"):
    ec.kappa_significance(correct, num_draws=0)
  assert metrics.error_consistency_statistics is ec.error_consistency_statistics
