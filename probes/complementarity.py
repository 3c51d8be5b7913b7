"""Complementarity of every pair of models: does a probe on both embeddings beat the better one?

For each pair (a, b) the closed-form ridge probe of :mod:`probes.ridge` is fitted on the
concatenated train embeddings [X_a, X_b] (λ chosen on val from the same grid, first
best wins, as :func:`probes.ridge_probe`), and

  gain(a, b) = acc_test([X_a, X_b]) − max(acc_test(X_a), acc_test(X_b)).

All pairs share one computation: with X̄ the train features centred by their train
mean, the concatenated Gram of a pair is the 2×2 block matrix

  [[X̄_aᵀX̄_a, X̄_aᵀX̄_b], [X̄_bᵀX̄_a, X̄_bᵀX̄_b]]

of each model's own Gram and the pair's cross block (primal, when d_a + d_b ≤ n_train), and its dual
kernel is X̄_aX̄_aᵀ + X̄_bX̄_bᵀ (when the pair has more features than train examples).
Each pair then needs one eigendecomposition for every λ, as ridge_path does. Widths may
differ: every model is zero-padded to the widest W, or (with many pairs) to ⌈W/2⌉ if it
is no wider than that (:func:`_width_levels`), pairs then fitted in groups of equal
padded width (at most three shapes); padding adds only zero-eigenvalue directions that carry no signal
(their projection on the targets is 0), so the probe is the one on the unpadded pair.
Intervals come from :func:`metrics.paired_bootstrap` over test examples (λ held at its val choice).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics import bootstrap as bootstrap_lib
from probes import _checks, ridge
from probes.logistic import KORNBLITH_L2_GRID

_HIGHEST = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class Complementarity:
  """Ridge-probe complementarity of every pair.

  single_accuracy float[N]: test accuracy of each model alone; pair_accuracy float[N, N]
  (diagonal: the single model); gain float[N, N] (diagonal 0); l2 float[N, N] the chosen
  strength per pair (diagonal: the single model's); intervals: ``gain`` and
  ``pair_accuracy`` as :class:`metrics.Interval`.
  """
  single_accuracy: np.ndarray
  pair_accuracy: np.ndarray
  gain: np.ndarray
  l2: np.ndarray
  intervals: dict


def _check_split(features, labels, split: str, num_models: int | None):
  if not isinstance(features, (list, tuple)) or len(features) < 2:
    raise ValueError(f"x_{split} must be a sequence of at least 2 models' embeddings [examples, features]; "
                     f"got {type(features).__name__} of length {len(features) if hasattr(features, '__len__') else '?'}.")
  if num_models is not None and len(features) != num_models:
    raise ValueError(f"x_{split} has {len(features)} models but x_train has {num_models}.")
  arrays = [_checks.features(x, f"x_{split}[{m}]") for m, x in enumerate(features)]
  counts = [a.shape[0] for a in arrays]
  if len(set(counts)) != 1:
    raise ValueError(f"x_{split} disagree on the number of examples: {counts}; read them aligned by example id.")
  return arrays, _checks.labels(labels, counts[0], f"y_{split}", f"x_{split}[0]")


def _padded(arrays, width):
  return np.stack([np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in arrays])


def _scores_per_l2(features, coefficients, eigenvalues, l2_grid, target_mean):
  """[L, n, C]: features · diag(1/(s + λ)) · coefficients + t̄ for every λ."""
  scaled = coefficients[None] / (eigenvalues[None, :, None] + l2_grid[:, None, None])
  return jnp.einsum("nd,ldc->lnc", features, scaled, precision=_HIGHEST) + target_mean


def _test_scores(features, vectors, coefficients, eigenvalues, l2, target_mean):
  """[n, C] at one λ: features · (V diag(1/(s + λ)) coefficients) + t̄. The [d, C] weights are
  formed first, so the n test rows cost n·d·C multiply-adds instead of n·d² for features · V."""
  weights = jnp.matmul(vectors, coefficients / (eigenvalues + l2)[:, None], precision=_HIGHEST)
  return jnp.matmul(features, weights, precision=_HIGHEST) + target_mean


def _select_and_test(val_scores, test_scores_fn, y_val, y_test):
  val_accuracy = jnp.mean(jnp.argmax(val_scores, -1) == y_val[None], axis=1)
  best = jnp.argmax(val_accuracy)                                  # first best, as np.argmax
  return best, jnp.argmax(test_scores_fn(best), -1) == y_test


def _primal_probe(gram, cross, val, test, target_mean, y_val, y_test, l2_grid):
  """Ridge on features of width d with Gram X̄ᵀX̄ = ``gram`` and X̄ᵀT̄ = ``cross``."""
  eigenvalues, vectors = jnp.linalg.eigh(gram)
  # Null directions of the Gram (padding, collinear features) have X̄ᵀT̄ projection 0 exactly;
  # in float32 it is rounding noise, which 1/(s + λ) would amplify at small λ: dropped.
  coefficients = (jnp.matmul(vectors.T, cross, precision=_HIGHEST)                          # [d, C]
                  * ridge.signal_directions(eigenvalues)[:, None])
  val_projected = jnp.matmul(val, vectors, precision=_HIGHEST)
  val_scores = _scores_per_l2(val_projected, coefficients, eigenvalues, l2_grid, target_mean)

  test_scores = lambda best: _test_scores(test, vectors, coefficients, eigenvalues, l2_grid[best], target_mean)

  return _select_and_test(val_scores, test_scores, y_val, y_test)


def _dual_probe(kernel, val_kernel, test_kernel, targets, target_mean, y_val, y_test, l2_grid):
  """Ridge through the dual X̄X̄ᵀ = ``kernel`` (val/test kernels against the train rows)."""
  eigenvalues, vectors = jnp.linalg.eigh(kernel)
  # Directions of the kernel's null space (a centred kernel has at least one; fewer features
  # than rows add more) carry no signal: X̄ᵀu = 0 for them. In float32 their eigenvalues come
  # out as rounding noise, and with a small λ the noise's 1/(s + λ) would dominate the
  # prediction; they are dropped, as the exact solution drops them.
  coefficients = (jnp.matmul(vectors.T, targets, precision=_HIGHEST)                        # [n, C]
                  * ridge.signal_directions(eigenvalues)[:, None])
  val_scores = _scores_per_l2(jnp.matmul(val_kernel, vectors, precision=_HIGHEST), coefficients, eigenvalues,
                              l2_grid, target_mean)

  test_scores = lambda best: _test_scores(test_kernel, vectors, coefficients, eigenvalues, l2_grid[best],
                                          target_mean)

  return _select_and_test(val_scores, test_scores, y_val, y_test)


def _centred(train, val, test, targets):
  """Features centred by their train mean, per model (stacks [M, n, d]); targets centred too."""
  mean = train.mean(axis=1, keepdims=True)
  target_mean = targets.mean(0)
  return train - mean, val - mean, test - mean, targets - target_mean, target_mean


def _probe_of(centred_targets, target_mean, y_val, y_test, l2_grid, dual):
  """The ridge probe (best λ index, test correctness) of features given as their train
  Gram/cross blocks (primal) or their kernels (dual)."""
  if dual:
    return lambda k, kv, kt: _dual_probe(k, kv, kt, centred_targets, target_mean, y_val, y_test, l2_grid)
  return lambda g, c, v, t: _primal_probe(g, c, v, t, target_mean, y_val, y_test, l2_grid)


@functools.partial(jax.jit, static_argnames=("dual",))
def _single_probes(train, val, test, targets, y_val, y_test, l2_grid, dual):
  """(best λ index, test correctness) of every model of the stack [M, n, d] alone."""
  train, val, test, centred_targets, target_mean = _centred(train, val, test, targets)
  probe = _probe_of(centred_targets, target_mean, y_val, y_test, l2_grid, dual)
  if dual:
    kernel = lambda rows, m: jnp.matmul(rows[m], train[m].T, precision=_HIGHEST)
    single = lambda m: probe(kernel(train, m), kernel(val, m), kernel(test, m))
  else:
    single = lambda m: probe(jnp.matmul(train[m].T, train[m], precision=_HIGHEST),
                             jnp.matmul(train[m].T, centred_targets, precision=_HIGHEST), val[m], test[m])
  return jax.lax.map(single, jnp.arange(train.shape[0]))


@functools.partial(jax.jit, static_argnames=("chunk", "dual"))
def _pair_probes(first, second, targets, y_val, y_test, l2_grid, index_a, index_b, chunk, dual):
  """(best λ index, test correctness) of the pairs (first[index_a[p]], second[index_b[p]]).

  ``first`` and ``second`` are (train, val, test) stacks [M, n, d₁] and [M', n, d₂]; each
  pair's Gram [[X̄_aᵀX̄_a, X̄_aᵀX̄_b], [X̄_bᵀX̄_a, X̄_bᵀX̄_b]] is built from per-model diagonal
  blocks (computed once) and its cross block (computed per pair), or its dual kernel
  X̄_aX̄_aᵀ + X̄_bX̄_bᵀ from per-model kernels.
  """
  (train_1, val_1, test_1), (train_2, val_2, test_2) = first, second
  train_1, val_1, test_1, centred_targets, target_mean = _centred(train_1, val_1, test_1, targets)
  train_2, val_2, test_2, _, _ = _centred(train_2, val_2, test_2, targets)
  probe = _probe_of(centred_targets, target_mean, y_val, y_test, l2_grid, dual)
  if dual:
    kernels = lambda x, rows: jnp.einsum("mnd,mkd->mnk", rows, x, precision=_HIGHEST)
    k_1, kv_1, kt_1 = kernels(train_1, train_1), kernels(train_1, val_1), kernels(train_1, test_1)
    k_2, kv_2, kt_2 = kernels(train_2, train_2), kernels(train_2, val_2), kernels(train_2, test_2)
    pair = lambda a, b: probe(k_1[a] + k_2[b], kv_1[a] + kv_2[b], kt_1[a] + kt_2[b])
  else:
    gram = lambda x: jnp.einsum("mnd,mne->mde", x, x, precision=_HIGHEST)
    g_1, g_2 = gram(train_1), gram(train_2)
    cross = lambda x: jnp.einsum("mnd,nc->mdc", x, centred_targets, precision=_HIGHEST)
    c_1, c_2 = cross(train_1), cross(train_2)

    def pair(a, b):
      off = jnp.matmul(train_1[a].T, train_2[b], precision=_HIGHEST)
      block = jnp.block([[g_1[a], off], [off.T, g_2[b]]])
      return probe(block, jnp.concatenate([c_1[a], c_2[b]]), jnp.concatenate([val_1[a], val_2[b]], 1),
                   jnp.concatenate([test_1[a], test_2[b]], 1))

  pairs = -(-index_a.shape[0] // chunk) * chunk
  pad = lambda p: jnp.pad(p, (0, pairs - p.shape[0])).reshape(-1, chunk)
  best, correct = jax.lax.map(lambda ab: jax.vmap(pair)(*ab), (pad(index_a), pad(index_b)))
  return best.reshape(-1)[:index_a.shape[0]], correct.reshape(pairs, -1)[:index_a.shape[0]]


def _width_levels(widths) -> np.ndarray:
  """Each model's padded width: the widest width W, or ⌈W/2⌉ for models no wider than that.
  Pairs then take one of at most three widths (not 2W each): the eigendecomposition of a
  pair of two narrow models costs ⅛ of one padded to 2W, and at most three pair shapes compile."""
  widest = max(widths)
  narrow = -(-widest // 2)
  return np.where(np.asarray(widths) <= narrow, narrow, widest)


# Pairs from which on models are padded to two width levels (:func:`_width_levels`): each
# level pair compiles its own probe, which costs about what a few dozen eigendecompositions
# do, so fewer pairs share one shape (every model padded to the widest).
GROUP_WIDTHS_FROM_PAIRS = 64


def _all_probes(train, val, test, targets, y_val, y_test, l2_grid, pair_a, pair_b, chunk, group_widths):
  """(best λ index, test correctness) of every single model and every pair (a, b) of the
  per-model arrays, grouped by the pair's padded widths (:func:`_width_levels`) if
  ``group_widths``, else all padded to the widest."""
  num_train = train[0].shape[0]
  widest = max(x.shape[1] for x in train)
  stack = lambda arrays, models, width: jnp.asarray(_padded([arrays[m] for m in models], width))
  singles = _single_probes(stack(train, range(len(train)), widest), stack(val, range(len(train)), widest),
                           stack(test, range(len(train)), widest), targets, y_val, y_test, l2_grid,
                           bool(widest > num_train))
  widths = [x.shape[1] for x in train]
  levels = _width_levels(widths) if group_widths else np.full(len(widths), widest)
  best = np.zeros(len(pair_a), np.int32)
  correct = np.zeros((len(pair_a), test[0].shape[0]), bool)
  lower, upper = np.minimum(levels[pair_a], levels[pair_b]), np.maximum(levels[pair_a], levels[pair_b])
  for width_1, width_2 in sorted(set(zip(lower.tolist(), upper.tolist()))):
    chosen = np.flatnonzero((lower == width_1) & (upper == width_2))
    # Orient every pair of the group so that its first model has width_1 (the Gram of a
    # reordered concatenation is the same probe: ridge is invariant to permuting features).
    swap = levels[pair_a[chosen]] != width_1
    a = np.where(swap, pair_b[chosen], pair_a[chosen])
    b = np.where(swap, pair_a[chosen], pair_b[chosen])
    models_1, models_2 = np.unique(a), np.unique(b)
    sides = [tuple(stack(split, models, width) for split in (train, val, test))
             for models, width in ((models_1, width_1), (models_2, width_2))]
    group_best, group_correct = _pair_probes(
        *sides, targets, y_val, y_test, l2_grid, jnp.asarray(np.searchsorted(models_1, a), jnp.int32),
        jnp.asarray(np.searchsorted(models_2, b), jnp.int32), int(chunk), bool(width_1 + width_2 > num_train))
    best[chosen], correct[chosen] = np.asarray(group_best), np.asarray(group_correct)
  return singles, (best, correct)


def _gain_statistics(data, weights):
  pair_correct, single_correct, pair_a, pair_b, template = data
  total = weights.sum()
  pair_accuracy = (pair_correct @ weights) / total
  single_accuracy = (single_correct @ weights) / total
  gain = pair_accuracy - jnp.maximum(single_accuracy[pair_a], single_accuracy[pair_b])
  gain_matrix = template.at[pair_a, pair_b].set(gain).at[pair_b, pair_a].set(gain)
  accuracy = jnp.diag(single_accuracy).at[pair_a, pair_b].set(pair_accuracy).at[pair_b, pair_a].set(pair_accuracy)
  return {"gain": gain_matrix, "pair_accuracy": accuracy}


_GAIN_STATISTICS = jax.jit(_gain_statistics)   # jitted: the bootstrap's point estimate is not run op by op


def pairwise_complementarity(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid=None, *,
                             num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                             pair_chunk: int = 8, group_widths: bool | None = None) -> Complementarity:
  """Concatenation gain of every pair under the closed-form ridge probe (module docstring).

  Args:
    x_train, x_val, x_test: sequences of N embedding arrays [n_split, D_i] (same examples,
      same order for every model); y_*: int class ids per split.
    l2_grid: ridge strengths (default :data:`probes.logistic.KORNBLITH_L2_GRID`).
    num_resamples, confidence, seed: the paired bootstrap over test examples.
    group_widths: pad narrow models to half the widest width and fit pairs in groups of
      equal padded width (:func:`_width_levels`); None: when there are at least
      ``GROUP_WIDTHS_FROM_PAIRS`` pairs. The probes are the same either way.
  Returns:
    :class:`Complementarity`; ``gain`` is float[N, N].
  """
  train, y_train = _check_split(x_train, y_train, "train", None)
  val, y_val = _check_split(x_val, y_val, "val", len(train))
  test, y_test = _check_split(x_test, y_test, "test", len(train))
  for m in range(len(train)):
    if not train[m].shape[1] == val[m].shape[1] == test[m].shape[1]:
      raise ValueError(f"model {m} has feature widths {train[m].shape[1]}, {val[m].shape[1]}, {test[m].shape[1]} "
                       "in x_train, x_val, x_test; they must agree.")
  num_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
  if min(y_train.min(), y_val.min(), y_test.min()) < 0:
    raise ValueError("y_train, y_val and y_test must hold non-negative class ids.")
  missing = np.setdiff1d(np.arange(num_classes), y_train)
  if missing.size:
    raise ValueError(f"classes {missing[:10].tolist()} have no training example in y_train; a probe cannot learn them.")
  grid = np.asarray(KORNBLITH_L2_GRID if l2_grid is None else l2_grid, np.float64)
  num_models = len(train)
  pair_a, pair_b = (p.astype(np.int32) for p in np.triu_indices(num_models, 1))
  (single_best, single_correct), (pair_best, pair_correct) = _all_probes(
      train, val, test, jax.nn.one_hot(y_train, num_classes), jnp.asarray(y_val), jnp.asarray(y_test),
      jnp.asarray(grid, jnp.float32), pair_a, pair_b, int(pair_chunk),
      len(pair_a) >= GROUP_WIDTHS_FROM_PAIRS if group_widths is None else bool(group_widths))
  single_correct = np.asarray(single_correct)
  pair_correct = np.asarray(pair_correct)
  single_accuracy = single_correct.mean(1)
  pair_accuracy = np.diag(single_accuracy)
  pair_accuracy[pair_a, pair_b] = pair_accuracy[pair_b, pair_a] = pair_correct.mean(1)
  gain = np.zeros((num_models, num_models))
  gain[pair_a, pair_b] = gain[pair_b, pair_a] = (pair_correct.mean(1)
                                                 - np.maximum(single_accuracy[pair_a], single_accuracy[pair_b]))
  l2 = np.diag(grid[np.asarray(single_best)])
  l2[pair_a, pair_b] = l2[pair_b, pair_a] = grid[np.asarray(pair_best)]
  data = (jnp.asarray(pair_correct, jnp.float32), jnp.asarray(single_correct, jnp.float32), jnp.asarray(pair_a),
          jnp.asarray(pair_b), jnp.zeros((num_models, num_models), jnp.float32))
  intervals = bootstrap_lib.paired_bootstrap(_GAIN_STATISTICS, data, test[0].shape[0], num_resamples=num_resamples,
                                             confidence=confidence, seed=seed)
  return Complementarity(single_accuracy, pair_accuracy, gain, l2, intervals)
