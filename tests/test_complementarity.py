"""All-pairs concatenation gain against ridge probes fitted pair by pair on concatenated arrays."""

import numpy as np
import pytest

import probes


def _split(rng, widths, sizes, num_classes=4):
  """Embeddings of len(widths) models that each see part of a shared class signal."""
  centres = rng.normal(size=(num_classes, 6)) * 1.5
  out = {}
  for split, size in sizes.items():
    labels = rng.integers(0, num_classes, size)
    labels[:num_classes] = np.arange(num_classes)
    signal = centres[labels] + rng.normal(size=(size, 6))
    models = []
    for m, width in enumerate(widths):
      mixing = np.random.default_rng(100 + m).normal(size=(6, width)) * (m % 2 + 0.5)
      mask = np.random.default_rng(200 + m).random(6) < 0.6   # each model sees some signal directions
      models.append((signal * mask) @ mixing + rng.normal(size=(size, width)) * 2.0 + 3.0)
    out[split] = ([x.astype(np.float32) for x in models], labels)
  return out


def _ridge_accuracy(x_train, y_train, x_val, y_val, x_test, y_test, grid):
  """float64 ridge probe by normal equations per λ (ridge_probe's protocol: λ by val accuracy, first best)."""
  x_train, x_val, x_test = (np.asarray(x, np.float64) for x in (x_train, x_val, x_test))
  targets = np.eye(y_train.max() + 1)[y_train]
  x_mean, t_mean = x_train.mean(0), targets.mean(0)
  xc, tc = x_train - x_mean, targets - t_mean
  val_accuracy, weights = [], []
  for l2 in grid:
    w = np.linalg.solve(xc.T @ xc + l2 * np.eye(xc.shape[1]), xc.T @ tc)
    weights.append(w)
    val_accuracy.append(np.mean(np.argmax((x_val - x_mean) @ w + t_mean, 1) == y_val))
  best = int(np.argmax(val_accuracy))
  return np.mean(np.argmax((x_test - x_mean) @ weights[best] + t_mean, 1) == y_test)


def _reference(data, grid):
  (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
  n = len(xtr)
  pair = np.zeros((n, n))
  for a in range(n):
    for b in range(a, n):
      models = [a] if a == b else [a, b]
      cat = lambda xs: np.concatenate([xs[m] for m in models], 1)
      pair[a, b] = pair[b, a] = _ridge_accuracy(cat(xtr), ytr, cat(xva), yva, cat(xte), yte, grid)
  return np.diag(pair).copy(), pair


# primal (2·D_max ≤ n), all models padded to the widest; and with 12 train examples, pairs
# grouped by padded width (5 + 5 primal, 5 + 9 and 9 + 9 dual: n < width)
@pytest.mark.parametrize("num_train, group_widths", [(120, None), (12, True)])
def test_all_pairs_equal_pair_by_pair_ridge_probes(rng, num_train, group_widths):
  widths = (5, 9, 3, 7)
  data = _split(rng, widths, {"train": num_train, "val": 60, "test": 150})
  grid = np.logspace(-3, 4, 8)
  result = probes.pairwise_complementarity(*data["train"], *data["val"], *data["test"], l2_grid=grid,
                                           num_resamples=50, group_widths=group_widths)
  single, pair = _reference(data, grid)
  np.testing.assert_allclose(result.single_accuracy, single, atol=1e-9)
  np.testing.assert_allclose(result.pair_accuracy, pair, atol=1e-9)
  best = np.maximum(single[:, None], single[None, :])
  expected_gain = np.where(np.eye(4, dtype=bool), 0.0, pair - best)
  np.testing.assert_allclose(result.gain, expected_gain, atol=1e-9)
  interval = result.intervals["gain"]
  np.testing.assert_allclose(interval.estimate, expected_gain, atol=1e-6)
  off = ~np.eye(4, dtype=bool)
  assert np.all(interval.low[off] <= interval.estimate[off] + 1e-9)
  assert np.all(interval.high[off] >= interval.estimate[off] - 1e-9)
  assert np.all(np.isin(result.l2, grid))


def test_a_pair_that_splits_the_signal_gains(rng):
  """Model 0 sees the class code's first bit, model 1 the second: only together can they tell 4 classes."""
  def split(size):
    labels = rng.integers(0, 4, size)
    code = np.stack([labels % 2, labels // 2], 1) * 4.0 - 2.0
    noise = lambda width: rng.normal(size=(size, width)).astype(np.float32)
    models = [np.concatenate([code[:, :1], noise(4)], 1), np.concatenate([code[:, 1:], noise(8)], 1),
              noise(3), noise(7)]                      # widths 5, 9, 3, 7: the shapes of the test above
    return [(m + 0.3 * noise(m.shape[1])).astype(np.float32) for m in models], labels
  result = probes.pairwise_complementarity(*split(120), *split(60), *split(150), l2_grid=np.logspace(-3, 4, 8),
                                           num_resamples=50)
  assert result.single_accuracy.max() < 0.65
  assert result.gain[0, 1] > 0.3
  assert result.intervals["gain"].low[0, 1] > 0.2
  assert abs(result.gain[2, 3]) < 0.15


def test_bad_input(rng):
  data = _split(rng, (3, 4), {"train": 30, "val": 20, "test": 20})
  (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
  with pytest.raises(ValueError, match="at least 2 models"):
    probes.pairwise_complementarity(xtr[:1], ytr, xva[:1], yva, xte[:1], yte)
  with pytest.raises(ValueError, match="x_val has 3 models"):
    probes.pairwise_complementarity(xtr, ytr, [xva[0], xva[1], xva[1]], yva, xte, yte)
  bad = [xtr[0].copy(), xtr[1]]
  bad[0][3, 1] = np.nan
  with pytest.raises(ValueError, match=r"x_train\[0\] holds NaN"):
    probes.pairwise_complementarity(bad, ytr, xva, yva, xte, yte)
  with pytest.raises(ValueError, match="number of examples"):
    probes.pairwise_complementarity([xtr[0], xtr[1][:20]], ytr, xva, yva, xte, yte)
  with pytest.raises(ValueError, match="feature widths"):
    probes.pairwise_complementarity(xtr, ytr, [xva[1], xva[0]], yva, xte, yte)


@pytest.mark.parametrize("num_train", [40, 12])   # primal (2 × 8 ≤ 40) and dual (16 > 12)
def test_null_directions_are_dropped_at_small_strengths(rng, num_train):
  """Each model's 8 columns span 2 directions (6 exact null directions of its Gram, more in the
  pair's): at λ = 1e-6 float32 rounding in those directions, amplified by 1/λ, would decide
  the predictions; the exact (float64 normal-equation) probe ignores them."""
  centres, spans = rng.normal(size=(3, 4)) * 2.0, [rng.normal(size=(2, 8)) for _ in range(2)]

  def split(size):
    labels = rng.integers(0, 3, size)
    labels[:3] = np.arange(3)
    signal = centres[labels] + rng.normal(size=(size, 4))
    return [(signal[:, 2 * m:2 * m + 2] @ spans[m]).astype(np.float32) for m in range(2)], labels
  data = {"train": split(num_train), "val": split(60), "test": split(200)}
  grid = np.array([1e-6])
  result = probes.pairwise_complementarity(*data["train"], *data["val"], *data["test"], l2_grid=grid,
                                           num_resamples=10)
  single, pair = _reference(data, grid)
  np.testing.assert_allclose(result.single_accuracy, single, atol=1e-9)
  np.testing.assert_allclose(result.pair_accuracy, pair, atol=1e-9)
