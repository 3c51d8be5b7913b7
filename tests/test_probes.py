"""Probes vs. scikit-learn, numpy normal equations and a naive 11-point AP loop."""

import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.linear_model

import probes
from probes import logistic


def blobs(rng, n, d, classes, noise=2.5):
  centers = rng.normal(size=(classes, d))
  labels = rng.integers(0, classes, n)
  return (centers[labels] + rng.normal(size=(n, d)) * noise).astype(np.float32), labels


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_fixed_strength_matches_sklearn(rng, l2):
  x, y = blobs(rng, 1500, 30, 5)
  xs = np.asarray(probes.standardize(x)[0])
  (weights, bias), _, objective = probes.fit_logistic(jnp.asarray(xs), jnp.eye(5)[y], l2, tolerance=1e-6)
  # λ ↔ C = 1/(n·λ): sklearn minimises C·Σ CE + ½‖W‖², ours (1/n)·Σ CE + (λ/2)‖W‖².
  reference = sklearn.linear_model.LogisticRegression(C=1.0 / (len(y) * l2), max_iter=10000, tol=1e-10).fit(xs, y)
  reference_objective = logistic._objective(
      (jnp.asarray(reference.coef_.T, jnp.float32), jnp.asarray(reference.intercept_, jnp.float32)),
      jnp.asarray(xs), jnp.eye(5)[y], l2)
  assert float(objective) == pytest.approx(float(reference_objective), rel=1e-4)
  ours = np.mean(np.argmax(xs @ np.asarray(weights) + np.asarray(bias), 1) == y)
  assert abs(ours - reference.score(xs, y)) <= 0.003


def test_probe_protocol_picks_validation_best_and_matches_sklearn_sweep(rng):
  x, y = blobs(rng, 1200, 20, 4, noise=3.0)
  grid = [1e-4, 1e-2, 1.0, 10.0]
  result = probes.logistic_probe(x[:600], y[:600], x[600:900], y[600:900], x[900:], y[900:], l2_grid=grid)
  best = result["val_accuracy"].max()
  assert result["l2"] == max(l2 for l2, a in zip(grid, result["val_accuracy"]) if a == best)  # ties → stronger
  mean, std = x[:600].mean(0), x[:600].std(0)
  for l2, val_accuracy in zip(grid, result["val_accuracy"]):
    reference = sklearn.linear_model.LogisticRegression(C=1.0 / (600 * l2), max_iter=10000, tol=1e-8).fit(
        (x[:600] - mean) / std, y[:600])
    assert abs(val_accuracy - reference.score((x[600:900] - mean) / std, y[600:900])) <= 0.01
  all_x, all_y = x[:900], y[:900]
  m, s = all_x.mean(0), all_x.std(0)
  reference = sklearn.linear_model.LogisticRegression(C=1.0 / (900 * result["l2"]), max_iter=10000, tol=1e-8).fit(
      (all_x - m) / s, all_y)
  assert abs(result["test_accuracy"] - reference.score((x[900:] - m) / s, y[900:])) <= 0.01
  # Per-example predictions (claim 5's paired bootstrap): sklearn's refit agrees on nearly every test example.
  predictions = result["test_predictions"]
  assert predictions.shape == (300,) and result["test_accuracy"] == np.mean(predictions == y[900:])
  assert np.mean(predictions == reference.predict((x[900:] - m) / s)) >= 0.98


def test_default_grid_is_kornblith():
  grid = np.asarray(probes.KORNBLITH_L2_GRID)
  assert len(grid) == 45 and grid[0] == pytest.approx(1e-6) and grid[-1] == pytest.approx(1e5)
  np.testing.assert_allclose(np.diff(np.log10(grid)), 11 / 44)


@pytest.mark.parametrize("n, d", [(80, 12), (10, 30)])  # primal and dual forms
def test_ridge_path_equals_normal_equations(rng, n, d):
  x = rng.normal(size=(n, d)).astype(np.float32)
  targets = np.eye(3)[rng.integers(0, 3, n)]
  grid = [1e-2, 1.0, 100.0]
  weights, bias = probes.ridge_path(x, targets, grid)
  xc, tc = x - x.mean(0), targets - targets.mean(0)
  for index, l2 in enumerate(grid):
    expected = np.linalg.solve(xc.T.astype(np.float64) @ xc + l2 * np.eye(d), xc.T @ tc)
    np.testing.assert_allclose(np.asarray(weights[index]), expected, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(np.asarray(bias[index]), targets.mean(0) - x.mean(0) @ expected, atol=2e-4)


@pytest.mark.parametrize("n, d", [(80, 12), (10, 30)])  # primal and dual forms
def test_ridge_path_ignores_null_directions_at_small_strengths(rng, n, d):
  # Rank-2 features: d − 2 (primal) or n − 3 (dual, centred) exact null directions, whose float32
  # rounding 1/λ = 1e6 would otherwise amplify. The float64 normal equations ignore them.
  x = (rng.normal(size=(n, 2)) @ rng.normal(size=(2, d))).astype(np.float32)
  targets = np.eye(3)[rng.integers(0, 3, n)]
  weights, _ = probes.ridge_path(x, targets, [1e-6])
  xc, tc = (x - x.mean(0)).astype(np.float64), targets - targets.mean(0)
  expected = np.linalg.solve(xc.T @ xc + 1e-6 * np.eye(d), xc.T @ tc)
  np.testing.assert_allclose(xc @ np.asarray(weights[0], np.float64), xc @ expected, atol=1e-3)


def test_k_shot_sampling(rng):
  labels = np.repeat(np.arange(4), [5, 7, 9, 3])
  chosen = probes.sample_k_shot(labels, 3, seed=1)
  assert np.all(np.bincount(labels[chosen]) == 3) and len(set(chosen)) == 12
  np.testing.assert_array_equal(chosen, probes.sample_k_shot(labels, 3, seed=1))
  assert not np.array_equal(chosen, probes.sample_k_shot(labels, 3, seed=2))
  with pytest.raises(ValueError, match="class 3 has only 3"):
    probes.sample_k_shot(labels, 4)


def test_k_shot_probe_uses_only_the_shots(rng):
  x, y = blobs(rng, 400, 10, 4)
  result = probes.ridge_probe(x[:200], y[:200], x[200:300], y[200:300], x[300:], y[300:], k_shot=2, seed=0)
  chosen = probes.sample_k_shot(y[:200], 2, 0)
  weights, bias = probes.ridge_path(x[:200][chosen], np.eye(4)[y[:200][chosen]], [result["l2"]])
  expected = np.mean(np.argmax(x[300:] @ np.asarray(weights[0]) + np.asarray(bias[0]), 1) == y[300:])
  assert result["test_accuracy"] == pytest.approx(expected)


def naive_eleven_point_ap(scores, targets):
  order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
  tp = fp = 0
  positives = sum(targets)
  precision, recall = [], []
  for i in order:
    tp += targets[i]
    fp += 1 - targets[i]
    precision.append(tp / (tp + fp))
    recall.append(tp / positives)
  total = 0.0
  for t in np.arange(0, 1.1, 0.1):
    reached = [p for p, r in zip(precision, recall) if r >= t - 1e-9]
    total += max(reached) if reached else 0.0
  return total / 11


def test_eleven_point_ap_matches_naive_loop_with_ties(rng):
  scores = np.round(rng.random((60, 5)) * 4) / 4  # many tied scores
  targets = (rng.random((60, 5)) < 0.3).astype(int)
  targets[0] = 1
  ours = np.asarray(probes.eleven_point_average_precision(jnp.asarray(scores), jnp.asarray(targets)))
  for c in range(5):
    assert ours[c] == pytest.approx(naive_eleven_point_ap(scores[:, c].tolist(), targets[:, c].tolist()), abs=1e-6)
  assert probes.mean_average_precision(scores, targets) == pytest.approx(ours.mean(), abs=1e-6)


def test_multilabel_probe_beats_chance(rng):
  x, y = blobs(rng, 600, 12, 4, noise=1.5)
  targets = np.eye(4)[y]
  targets[:, 3] = np.maximum(targets[:, 3], (x[:, 0] > 0.5))
  result = probes.multilabel_probe(x[:300], targets[:300], x[300:450], targets[300:450], x[450:], targets[450:],
                                   l2_grid=[1e-3, 1e-1])
  assert result["test_map"] > 0.8


def test_mixture_sizes_and_cap(rng):
  a, b = rng.normal(size=(10, 2048)), rng.normal(size=(10, 1280))
  dims_a, dims_b = probes.mixture_indices(2048, 1280, 0.25)
  assert len(dims_a) == 512 and len(dims_b) == 960
  dims_a, dims_b = probes.mixture_indices(2048, 2048, 0.5, budget=2048)
  assert len(dims_a) + len(dims_b) <= 2048
  assert probes.random_mixture(a, b, 1.0).shape == (10, 2048)
  assert probes.random_mixture(a, b, 0.0).shape == (10, 1280)


def test_diversity_rankings(rng):
  shared = rng.normal(size=(500, 3))
  a = np.concatenate([shared, rng.normal(size=(500, 2)) * 3], axis=1)
  b = np.concatenate([shared + 0.01 * rng.normal(size=(500, 3)), rng.normal(size=(500, 1))], axis=1)
  cross = probes.diversity_order([a, b], "cross_covariance")
  # The model-specific dimensions (a's 3, 4 and b's 3 → index 8) are the least redundant.
  assert set(cross[:3].tolist()) == {3, 4, 8}
  variance = probes.diversity_order([a, b], "variance")
  assert set(variance[:2].tolist()) == {3, 4}
  assert sorted(variance.tolist()) == list(range(9))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(x_val=d["x_val"][:, :5]), "feature dimensions differ"),
    (lambda d: d.update(y_train=d["y_train"][:-1]), "y_train has shape"),
    (lambda d: d["x_train"].__setitem__((3, 2), np.nan), "x_train holds NaN"),
    (lambda d: d.update(y_train=np.where(d["y_train"] == 2, 0, d["y_train"])), r"classes \[2\] have no training"),
])
def test_probe_bad_input(rng, mutate, message):
  x, y = blobs(rng, 90, 8, 3)
  data = dict(x_train=x[:30].copy(), y_train=y[:30], x_val=x[30:60], y_val=y[30:60], x_test=x[60:], y_test=y[60:])
  data["y_train"][:3] = [0, 1, 2]
  mutate(data)
  with pytest.raises(ValueError, match=message):
    probes.logistic_probe(**data, l2_grid=[1.0])


def test_mixing_bad_input(rng):
  with pytest.raises(ValueError, match="disagree on the number of examples"):
    probes.concatenate([np.ones((3, 2)), np.ones((4, 2))])
  with pytest.raises(ValueError, match="NaN"):
    probes.diversity_order([np.full((3, 2), np.nan)])
  with pytest.raises(ValueError, match="rate_a"):
    probes.mixture_indices(4, 4, 1.5)


def test_sharded_probe_equals_single_device():
  import json
  import os
  import subprocess
  import sys
  from pathlib import Path
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
  job = Path(__file__).parent / "jobs" / "sharded_probe_job.py"
  result = subprocess.run([sys.executable, str(job)], env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out["devices"] == 8
  assert out["single"]["l2"] == out["sharded"]["l2"]
  assert out["single"]["test_accuracy"] == pytest.approx(out["sharded"]["test_accuracy"])
  np.testing.assert_allclose(out["sharded"]["val"], out["single"]["val"])
  np.testing.assert_allclose(out["sharded"]["weights"], out["single"]["weights"], atol=1e-3)


def correlated_blobs(rng, n, d, classes):
  """Class centres in a low-rank latent space plus correlated noise, mapped to d features
  (strongly correlated columns: the case the majoriser's preconditioner is for)."""
  latent = rng.normal(size=(n, 8))
  labels = rng.integers(0, classes, n)
  x = (rng.normal(size=(classes, 8))[labels] + 1.5 * latent) @ rng.normal(size=(8, d)) + 0.5 * rng.normal(size=(n, d))
  return x.astype(np.float32), labels


def test_subset_fits_reach_sklearns_optimum_on_each_subset(rng):
  x, y = correlated_blobs(rng, 800, 24, 4)
  xs = np.asarray(probes.standardize(x)[0])
  masks = np.ones((3, 24), np.float32)
  masks[1, ::2] = 0      # every other column
  masks[2, 5:] = 0       # the first five
  grid = np.array([[1e-3, 1e-1], [1e-3, 1e-1], [1e-3, 1e-1]], np.float32)
  (weights, bias), objective, gradient_norm = probes.fit_logistic_subsets(xs, jnp.eye(4)[y], masks, grid,
                                                                          iterations=150)
  assert np.all(np.asarray(weights)[masks[:, None, :].repeat(2, 1) == 0] == 0)  # columns outside stay at 0
  assert np.asarray(gradient_norm).max() < 1e-4
  for s in range(3):
    keep = masks[s] > 0
    for l, l2 in enumerate(grid[s]):
      reference = sklearn.linear_model.LogisticRegression(C=1.0 / (len(y) * l2), max_iter=10000, tol=1e-10).fit(
          xs[:, keep], y)
      reference_objective = logistic._objective(
          (jnp.asarray(reference.coef_.T, jnp.float32), jnp.asarray(reference.intercept_, jnp.float32)),
          jnp.asarray(xs[:, keep]), jnp.eye(4)[y], float(l2))
      # The same optimum (correlated columns make J flat along some weight directions, so J and the
      # predictions are compared, and our gradient norm above is the first-order optimality check).
      assert float(objective[s, l]) == pytest.approx(float(reference_objective), rel=1e-5)
      assert float(objective[s, l]) <= float(reference_objective) * (1 + 1e-6)
      ours = np.argmax(xs @ np.asarray(weights[s, l]) + np.asarray(bias[s, l]), 1)
      assert np.mean(ours == reference.predict(xs[:, keep])) >= 0.995


def test_subset_fits_descend_and_start_from_init(rng):
  x, y = correlated_blobs(rng, 400, 10, 3)
  xs = np.asarray(probes.standardize(x)[0])
  masks, l2 = np.ones((1, 10), np.float32), np.full((1, 1), 1e-2, np.float32)
  targets = jnp.eye(3)[y]
  values = [float(probes.fit_logistic_subsets(xs, targets, masks, l2, iterations=t)[1][0, 0]) for t in (1, 5, 40)]
  start = float(logistic._objective((jnp.zeros((10, 3)), jnp.zeros(3)), xs, targets, 1e-2))  # J(0) = log 3
  assert start == pytest.approx(np.log(3), rel=1e-6)
  assert start > values[0] > values[1] > values[2]
  solution, best, _ = probes.fit_logistic_subsets(xs, targets, masks, l2, iterations=60)
  warm, again, _ = probes.fit_logistic_subsets(xs, targets, masks, l2, solution, iterations=1)  # from the optimum
  assert float(again[0, 0]) == pytest.approx(float(best[0, 0]), rel=1e-6)


def test_subset_probes_follow_the_protocol_of_logistic_probe(rng):
  x, y = correlated_blobs(rng, 1400, 16, 4)
  masks = np.ones((3, 16), np.float32)
  masks[1, 8:] = 0
  masks[2, :] = 0
  masks[2, [3, 7]] = 1
  grid = [1e-4, 1e-2, 1.0]
  train, val, test = slice(0, 700), slice(700, 1000), slice(1000, None)
  result = probes.subset_probes(x[train], y[train], x[val], y[val], x[test], y[test], masks, grid, iterations=150,
                                refit_iterations=150)
  assert result["test_predictions"].shape == (3, 400)
  for s in range(3):
    keep = masks[s] > 0
    mean, std = x[train][:, keep].mean(0), x[train][:, keep].std(0)
    for l2, val_accuracy in zip(grid, result["val_accuracy"][s]):
      reference = sklearn.linear_model.LogisticRegression(C=1.0 / (700 * l2), max_iter=10000, tol=1e-10).fit(
          (x[train][:, keep] - mean) / std, y[train])
      assert abs(val_accuracy - reference.score((x[val][:, keep] - mean) / std, y[val])) <= 2 / 300
    best = result["val_accuracy"][s].max()
    assert result["l2"][s] == max(l2 for l2, a in zip(grid, result["val_accuracy"][s]) if a == best)  # ties → stronger
    both_x, both_y = x[:1000][:, keep], y[:1000]
    m, sd = both_x.mean(0), both_x.std(0)
    reference = sklearn.linear_model.LogisticRegression(C=1.0 / (1000 * result["l2"][s]), max_iter=10000,
                                                        tol=1e-10).fit((both_x - m) / sd, both_y)
    expected = reference.predict((x[test][:, keep] - m) / sd)
    assert np.mean(result["test_predictions"][s] == expected) >= 0.995
    assert result["test_accuracy"][s] == np.mean(result["test_predictions"][s] == y[test])
  assert result["gradient_norm"].max() < 1e-4 and result["refit_gradient_norm"].max() < 1e-4


@pytest.mark.parametrize("masks, message", [
    (np.ones((2, 5)), r"masks must be a \[subsets, 8\]"),
    (np.full((1, 8), 0.5), "only 0 and 1"),
    (np.ones((0, 8)), r"masks must be a \[subsets, 8\]"),
])
def test_subset_probes_bad_masks(rng, masks, message):
  x, y = blobs(rng, 60, 8, 3)
  with pytest.raises(ValueError, match=message):
    probes.subset_probes(x[:30], y[:30], x[30:45], y[30:45], x[45:], y[45:], masks, [1.0])
