"""All-pairs CKA, mutual k-NN and CKNNA against naive E×E numpy references."""

import numpy as np
import pytest

import metrics
from metrics import similarity


# ----------------------------------------------------------------------------- naive references

def _centred_gram_hsic(x, y):
  """Biased HSIC tr(K H L H) on the full E×E linear kernels."""
  e = x.shape[0]
  h = np.eye(e) - 1.0 / e
  return np.trace(x @ x.T @ h @ y @ y.T @ h)


def _song_hsic(k, l):
  """Song et al. (2012) eq. 5 on full kernels (as platonic-rep's hsic_unbiased)."""
  m = k.shape[0]
  k, l = k.copy(), l.copy()
  np.fill_diagonal(k, 0)
  np.fill_diagonal(l, 0)
  value = np.sum(k * l.T) + k.sum() * l.sum() / ((m - 1) * (m - 2)) - 2 * np.sum(k @ l) / (m - 2)
  return value / (m * (m - 3))


def _reference_cka(features, unbiased):
  xs = [np.asarray(x, np.float64) for x in features]
  n = len(xs)
  if unbiased:  # on the raw, uncentred kernels: the estimator is shift invariant
    hsic = lambda a, b: _song_hsic(a @ a.T, b @ b.T)
  else:
    hsic = _centred_gram_hsic
  out = np.empty((n, n))
  for i in range(n):
    for j in range(n):
      out[i, j] = hsic(xs[i], xs[j]) / np.sqrt(hsic(xs[i], xs[i]) * hsic(xs[j], xs[j]))
  return out


def _brute_neighbours(x, k):
  x = np.asarray(x, np.float64)
  x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  sims = x @ x.T
  np.fill_diagonal(sims, -np.inf)
  order = np.argsort(-sims, axis=1, kind="stable")[:, :k]   # ties: lower index first
  return order, sims


def _reference_mutual_knn(features, k):
  masks = []
  for x in features:
    order, _ = _brute_neighbours(x, k)
    mask = np.zeros((x.shape[0],) * 2)
    np.put_along_axis(mask, order, 1.0, axis=1)
    masks.append(mask)
  return np.array([[np.mean((a * b).sum(1) / k) for b in masks] for a in masks])


def _reference_cknna(features, k, epsilon=1e-6):
  """platonic-rep's cknna(unbiased=True) with full E×E matrices."""
  kernels, masks = [], []
  for x in features:
    order, sims = _brute_neighbours(x, k)
    mask = np.zeros_like(sims)
    np.put_along_axis(mask, order, 1.0, axis=1)
    kernel = sims.copy()
    np.fill_diagonal(kernel, 1.0)
    kernels.append(kernel)
    masks.append(mask)

  def sim(i, j):
    mask = masks[i] * masks[j]
    return _song_hsic(mask * kernels[i], mask * kernels[j])

  n = len(features)
  return np.array([[sim(i, j) / (np.sqrt(sim(i, i) * sim(j, j)) + epsilon) for j in range(n)] for i in range(n)])


# Most tests share one shape (E=40, widths 6, 9, 4) so the kernels compile once.
def _models(rng, widths=(6, 9, 4), examples=40, related=True, strength=2.0):
  shared = rng.normal(size=(examples, 3))
  out = []
  for width in widths:
    x = rng.normal(size=(examples, width))
    if related:
      x[:, :3] += strength * shared @ rng.normal(size=(3, 3))
    out.append((x + rng.normal(size=width)).astype(np.float32))   # non-zero means
  return out


# ----------------------------------------------------------------------------- CKA

@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_matches_full_gram_reference_with_different_widths(rng, unbiased):
  features = _models(rng)
  np.testing.assert_allclose(metrics.cka(features, unbiased=unbiased), _reference_cka(features, unbiased),
                             rtol=2e-5, atol=2e-6)


def test_cka_streaming_memmap_panels_and_tiles_equal_one_shot(rng, tmp_path):
  features = _models(rng, widths=(5, 7, 3, 6), examples=53)
  maps = []
  for index, x in enumerate(features):
    array = np.lib.format.open_memmap(tmp_path / f"m{index}.npy", mode="w+", dtype=np.float16, shape=x.shape)
    array[:] = x
    array.flush()
    maps.append(np.load(tmp_path / f"m{index}.npy", mmap_mode="r"))
  widened = [np.asarray(m, np.float32) for m in maps]
  one_shot = similarity.cross_covariance_sums(widened, method="primal", block_size=10_000)
  # 8-example blocks (last one partial), a budget that forces three panels; dual example tiles
  panels = similarity.cross_covariance_sums(maps, method="primal", block_size=8, memory_budget=4 * 7 * 21)
  tiles = similarity.cross_covariance_sums(maps, method="dual", block_size=8)
  uniform = similarity.cross_covariance_sums([x[:, :3] for x in widened], method="dual", block_size=8)
  for unbiased in (False, True):
    reference = _reference_cka(widened, unbiased)
    np.testing.assert_allclose(similarity.cka_from_sums(one_shot, unbiased), reference, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(similarity.cka_from_sums(panels, unbiased), reference, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(similarity.cka_from_sums(tiles, unbiased), reference, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(similarity.cka_from_sums(uniform, unbiased),
                               _reference_cka([x[:, :3] for x in widened], unbiased), rtol=2e-5, atol=2e-6)
  assert similarity._panels([5, 7, 3, 6], 4 * 7 * 21) == [[0], [1], [2, 3]]   # really several panels


def test_cka_invariances_and_self_similarity(rng):
  x = rng.normal(size=(40, 6)).astype(np.float32)
  y = rng.normal(size=(40, 4)).astype(np.float32)
  rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
  # orthogonal transform, isotropic scale, shift; zero-padded to width 9 (extra dead features)
  transformed = np.pad(3.5 * x @ rotation + 2.0, ((0, 0), (0, 3))).astype(np.float32)
  sums = similarity.cross_covariance_sums([x, transformed, y])
  for unbiased in (False, True):
    scores = similarity.cka_from_sums(sums, unbiased)
    np.testing.assert_allclose(np.diag(scores), 1.0, atol=1e-6)
    assert scores[0, 1] == pytest.approx(1.0, abs=1e-5)
    assert scores[0, 2] == pytest.approx(scores[1, 2], abs=1e-5)
    np.testing.assert_allclose(scores, scores.T)
  # Non-isotropic scaling is not an invariance: CKA must notice it.
  stretched = np.pad(x * np.array([10.0] + [1.0] * 5, np.float32), ((0, 0), (0, 3)))
  assert metrics.cka([x, stretched, y])[0, 1] < 0.9


def test_unbiased_cka_near_zero_for_independent_features(rng):
  x = rng.normal(size=(400, 50)).astype(np.float32)
  y = rng.normal(size=(400, 50)).astype(np.float32)
  biased = metrics.cka([x, y])[0, 1]
  unbiased = metrics.cka([x, y], unbiased=True)[0, 1]
  # Over 30 such draws biased CKA was 0.112 ± 0.003 (its bias ~ D/E), unbiased 0.000 ± 0.003.
  assert biased > 0.09
  assert abs(unbiased) < 0.015


def test_cka_bootstrap_statistic_equals_cka_of_resampled_examples(rng):
  import jax
  features = _models(rng)
  stacked, segments, _ = similarity._stack_in_memory(features)
  counts = np.asarray(metrics.resample_counts(jax.random.PRNGKey(1), 40))
  weighted = jax.jit(similarity._weighted_cka)((stacked, segments), counts)
  repeated = [np.repeat(x, counts.astype(int), axis=0) for x in features]
  sums = similarity.cross_covariance_sums(repeated)
  for key, unbiased in (("cka", False), ("unbiased_cka", True)):
    np.testing.assert_allclose(np.asarray(weighted[key]), similarity.cka_from_sums(sums, unbiased),
                               rtol=1e-4, atol=1e-5)
  intervals = similarity.cka_intervals(features, num_resamples=8, seed=0)
  np.testing.assert_allclose(intervals["cka"].estimate, metrics.cka(features), rtol=1e-5, atol=1e-6)
  assert np.all(intervals["cka"].low <= intervals["cka"].high)
  assert np.all(intervals["cka"].std[~np.eye(3, dtype=bool)] > 0)


# ----------------------------------------------------------------------------- k-NN measures

def test_mutual_knn_and_cknna_match_brute_force(rng):
  features = _models(rng)
  graphs = similarity.knn_graphs(features, 5)
  scores = similarity.scores_from_graphs(graphs)
  np.testing.assert_allclose(scores["mutual_knn"], _reference_mutual_knn(features, 5), atol=1e-12)
  np.testing.assert_allclose(scores["cknna"], _reference_cknna(features, 5), rtol=1e-4, atol=1e-6)
  np.testing.assert_array_equal(metrics.mutual_knn(features, k=5), scores["mutual_knn"])
  exact = metrics.cknna(features, k=5, epsilon=0.0)
  np.testing.assert_allclose(np.diag(exact), 1.0)
  np.testing.assert_allclose(exact, _reference_cknna(features, 5, epsilon=0.0), rtol=1e-4, atol=1e-6)


def test_knn_ties_go_to_the_lower_index_blockwise(rng):
  """Rows with four ±1 entries normalise to ±1/2: every inner product is an exact multiple of 1/4, ties abound."""
  def tied(examples, width):
    x = np.zeros((examples, width), np.float32)
    for row in x:
      row[rng.choice(width, 4, replace=False)] = rng.choice([-1.0, 1.0], 4)
    x[5] = x[3]   # an exact duplicate
    return x
  features = [tied(40, 6), tied(40, 9), tied(40, 4)]
  graphs = similarity.knn_graphs(features, 5, block_elements=16 * 16)   # three tiles of 14 rows (2 padded)
  for x, indices in zip(features, graphs.indices):
    np.testing.assert_array_equal(indices, _brute_neighbours(x, 5)[0])
  scores = similarity.scores_from_graphs(graphs)
  np.testing.assert_allclose(scores["mutual_knn"], _reference_mutual_knn(features, 5), atol=1e-12)
  np.testing.assert_allclose(scores["cknna"], _reference_cknna(features, 5), rtol=1e-4, atol=1e-6)


def test_relabelled_graphs_equal_graphs_of_shuffled_features(rng):
  features = _models(rng)
  graphs = similarity.knn_graphs(features, 5)
  orders = [rng.permutation(40) for _ in features]
  relabelled = similarity._permuted_graphs(graphs, orders)
  direct = similarity.knn_graphs([x[o] for x, o in zip(features, orders)], 5)
  np.testing.assert_array_equal(relabelled.indices, direct.indices)
  np.testing.assert_array_equal(relabelled.reciprocal, direct.reciprocal)
  np.testing.assert_allclose(relabelled.similarities, direct.similarities, rtol=1e-6)


def test_mutual_knn_intervals(rng):
  features = _models(rng)
  interval = similarity.mutual_knn_intervals(features, k=5, num_resamples=32)
  np.testing.assert_allclose(interval.estimate, metrics.mutual_knn(features, k=5), atol=1e-6)
  off = ~np.eye(3, dtype=bool)
  assert np.all(interval.low[off] <= interval.estimate[off] + 1e-9)
  assert np.all(interval.high[off] >= interval.estimate[off] - 1e-9)
  assert np.all(interval.std[off] > 0)


# ----------------------------------------------------------------------------- null calibration

def test_permutation_null_separates_related_from_independent(rng):
  features = _models(rng, widths=(6, 9), strength=4.0) + [rng.normal(size=(40, 4)).astype(np.float32)]
  for measure in ("unbiased_cka", "mutual_knn", "cknna"):
    null = metrics.permutation_null(measure, features, num_permutations=30, seed=1, **(
        {} if "cka" in measure else {"k": 5}))
    assert null.p_value[0, 1] == pytest.approx(1 / 31)      # related pair beats every shuffle
    assert null.z[0, 1] > 4
    assert null.p_value[0, 2] > 0.01 and abs(null.z[0, 2]) < 4
    assert np.isnan(null.p_value[0, 0])
    np.testing.assert_allclose(null.calibrated[0, 1], null.score[0, 1] - null.null_mean[0, 1])


def test_permutation_null_with_a_callable_recomputes_on_shuffled_examples(rng):
  features = _models(rng, widths=(3, 3), examples=20)
  calls = []

  def first_feature_correlation(feats):
    calls.append(feats)
    c = np.corrcoef(feats[0][:, 0], feats[1][:, 0])[0, 1]
    return np.array([[1.0, c], [c, 1.0]])

  null = metrics.permutation_null(first_feature_correlation, features, num_permutations=5, seed=0)
  assert len(calls) == 6
  assert not np.array_equal(calls[1][0], features[0])
  np.testing.assert_allclose(np.sort(calls[1][0][:, 0]), np.sort(features[0][:, 0]))
  assert null.num_permutations == 5


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("function", [metrics.cka, metrics.mutual_knn, metrics.cknna])
def test_bad_input_names_the_argument(rng, function):
  good = rng.normal(size=(12, 3)).astype(np.float32)
  with pytest.raises(ValueError, match="at least 2 models"):
    function([good])
  with pytest.raises(ValueError, match="number of examples"):
    function([good, good[:10]])
  bad = good.copy()
  bad[4, 1] = np.nan
  with pytest.raises(ValueError, match=r"features\[1\] holds NaN"):
    function([good, bad])
  with pytest.raises(ValueError, match=r"features\[0\] must be a 2-D"):
    function([good[0], good])


def test_k_at_least_e_raises():
  x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
  with pytest.raises(ValueError, match="k=6"):
    metrics.mutual_knn([x, x], k=6)
  with pytest.raises(ValueError, match="k must be an integer >= 2"):
    metrics.cknna([x, x], k=1)
  with pytest.raises(ValueError, match="measure must be one of"):
    metrics.permutation_null("svcca", [x, x])
