"""The study's subset probes padded to one width: same results as unpadded, one compile."""

import numpy as np
import pytest
import sklearn.linear_model

from launch.study import analysis
from probes import logistic


def _split(seed, n, dims):
  """Predictions whose embeddings carry the labels through class centres plus noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 3, n)
  embeddings = [(np.random.default_rng(10 + i).normal(size=(3, d))[labels] + 2.0 * rng.normal(size=(n, d)))
                .astype(np.float32) for i, d in enumerate(dims)]
  return analysis.Predictions([f"m{i}" for i in range(len(dims))], None, labels, embeddings, None, None)


def test_pad_columns_appends_zeros_and_refuses_narrowing():
  x = np.arange(6, dtype=np.float32).reshape(2, 3)
  padded = analysis._pad_columns(x, 5)
  np.testing.assert_array_equal(padded[:, :3], x)
  np.testing.assert_array_equal(padded[:, 3:], 0)
  assert analysis._pad_columns(x, None) is x
  with pytest.raises(ValueError, match="width 2"):
    analysis._pad_columns(x, 2)


def _sklearn_subset_accuracy(calibration, test, index, keep, l2):
  """The Kornblith probe at one strength on the kept columns only (no padding, no zeroed
  columns), by scikit-learn: standardise with train+val statistics, C = 1/(n·λ)."""
  both = lambda p: np.concatenate([p.embeddings[0], p.embeddings[index]], axis=1)[:, keep].astype(np.float64)
  x, x_test = both(calibration), both(test)
  mean, std = x.mean(0), x.std(0)
  model = sklearn.linear_model.LogisticRegression(C=1.0 / (len(x) * l2), max_iter=10000, tol=1e-10)
  model.fit((x - mean) / std, calibration.labels)
  return model.score((x_test - mean) / std, test.labels)


def test_padded_subset_probes_match_sklearn_on_the_subset_and_compile_once():
  dims = [4, 4, 8]  # pairs (0, 1) and (0, 2) concatenate to 8 and 12 columns: all padded to 12
  calibration, test = _split(0, 250, dims), _split(1, 400, dims)
  chosen = {"reinit": 1, "architecture": 2}
  l2 = 1e-2
  before = logistic.fit_logistic_subsets._cache_size()
  rows = analysis.mixing(calibration, test, chosen, (1.0, 0.5), 1, (l2,), 300, batch=2)
  # Every pair and mixture: one compiled sweep and one compiled refit (the refit's shapes differ).
  assert logistic.fit_logistic_subsets._cache_size() - before == 2
  for row in rows:
    index = chosen[row["category"]]
    dims_a, dims_b = analysis.probes.mixture_indices(dims[0], dims[index], row["base_rate"], seed=row["seed"])
    keep = np.concatenate([dims_a, dims[0] + dims_b])
    reference = _sklearn_subset_accuracy(calibration, test, index, keep, l2)
    assert abs(row["test_accuracy"] - reference) <= 1 / len(test.labels) + 1e-9, row
  assert len({row["test_accuracy"] for row in rows}) > 1  # the subsets differ, so do their probes


def test_fig6_stages_share_one_padded_batch_only_when_they_nearly_agree():
  """analysis.fig6_batches: both stages at the larger batch when that pads the smaller by at most
  SHARED_BATCH_PADDING of its probes (one compile), else each its own; padding never changes a
  probe (the padded rows repeat the first subset and are dropped)."""
  assert analysis.fig6_batches(3, 4) == (4, 4) and analysis.fig6_batches(4, 3) == (4, 4)
  assert analysis.fig6_batches(8, 8) == (8, 8)
  assert analysis.fig6_batches(3, 6) == (3, 6) and analysis.fig6_batches(9, 4) == (9, 4)
  dims = [4, 4, 8]
  calibration, test = _split(0, 250, dims), _split(1, 400, dims)
  chosen = {"reinit": 1, "architecture": 2}
  alone, padded = (analysis.mixing(calibration, test, chosen, (1.0, 0.5), 1, (1e-2,), 300, batch=batch)
                   for batch in (2, 3))
  assert [r["test_accuracy"] for r in alone] == [r["test_accuracy"] for r in padded]
