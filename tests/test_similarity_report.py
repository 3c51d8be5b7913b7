"""The similarity ↔ complementarity link table: Spearman vs scipy, model resampling, the figure."""

import numpy as np
import pytest
import scipy.stats

from launch.study import similarity_report as report


def _symmetric(rng, n):
  m = rng.random((n, n))
  return (m + m.T) / 2


def test_spearman_matches_scipy_with_ties(rng):
  x = rng.integers(0, 5, 40).astype(float)
  y = x + rng.integers(0, 3, 40)
  assert report.spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-12)
  x[3] = np.nan
  keep = np.isfinite(x)
  assert report.spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x[keep], y[keep]).statistic, abs=1e-12)


def test_link_table_rows_correlations_and_model_resampling(rng):
  n = 8
  cka = _symmetric(rng, n)
  gain = -2.0 * cka + 0.05 * _symmetric(rng, n)     # more similar → less gain
  unrelated = _symmetric(rng, n)
  one_sided = cka + np.triu(np.full((n, n), 0.01), 1)   # like CKNNA: [a, b] ≠ [b, a]
  table = report.link_table({"cka": cka, "cknna": one_sided, "noise": unrelated, "ensemble_gain": gain},
                            [f"m{i}" for i in range(n)], predictors=("cka", "cknna", "noise"),
                            targets=("ensemble_gain",), num_resamples=200)
  pair_a, pair_b = np.triu_indices(n, 1)
  assert len(table.rows()) == n * (n - 1) // 2
  assert table.rows()[0]["model_a"] == "m0" and table.rows()[0]["model_b"] == "m1"
  np.testing.assert_allclose(table.values["cknna"], cka[pair_a, pair_b] + 0.005)
  by_name = {c.predictor: c for c in table.correlations}
  expected = scipy.stats.spearmanr(cka[pair_a, pair_b], gain[pair_a, pair_b]).statistic
  assert by_name["cka"].rho == pytest.approx(expected, abs=1e-12)
  assert by_name["cka"].rho < -0.9 and by_name["cka"].high < -0.8
  assert by_name["noise"].low < 0 < by_name["noise"].high
  assert by_name["cka"].low <= by_name["cka"].rho <= by_name["cka"].high
  assert by_name["cka"].num_pairs == 28 and by_name["cka"].num_resamples == 200


def test_model_resampling_uses_pairs_of_distinct_drawn_models(rng):
  """One resample by hand: draws of the same model twice contribute no pair."""
  n = 5
  x, y = _symmetric(rng, n), _symmetric(rng, n)
  table = report.link_table({"cka": x, "ensemble_gain": y}, list("abcde"), predictors=("cka",),
                            targets=("ensemble_gain",), num_resamples=2, seed=7, confidence=0.5)
  draws = []
  generator = np.random.default_rng(7)
  for _ in range(2):
    chosen = generator.integers(0, n, n)
    first, second = np.triu_indices(n, 1)
    a, b = chosen[first], chosen[second]
    keep = a != b
    draws.append(scipy.stats.spearmanr(x[a[keep], b[keep]], y[a[keep], b[keep]]).statistic)
  low, high = np.percentile(draws, [25, 75])
  assert table.correlations[0].low == pytest.approx(low, abs=1e-12)
  assert table.correlations[0].high == pytest.approx(high, abs=1e-12)


def test_figure_and_bad_input(rng):
  n = 4
  measures = {"cka": _symmetric(rng, n), "mutual_knn": _symmetric(rng, n), "ensemble_gain": _symmetric(rng, n),
              "concatenation_gain": _symmetric(rng, n)}
  table = report.link_table(measures, list("abcd"), num_resamples=10)
  figure = report.link_figure(table)
  assert len(figure.axes) == 2 * 2
  assert figure.axes[0].get_title().startswith("ρ = ")
  with pytest.raises(ValueError, match=r"measures\['cka'\] has shape"):
    report.link_table({**measures, "cka": np.zeros((3, 3))}, list("abcd"))
  with pytest.raises(ValueError, match="targets"):
    report.link_table({"cka": measures["cka"]}, list("abcd"))
  with pytest.raises(ValueError, match="at least 3 models"):
    report.link_table({"ensemble_gain": np.zeros((2, 2)), "concatenation_gain": np.zeros((2, 2))}, list("ab"))
