"""Complementarity of every pair of models: does a probe on both embeddings beat the better one?

For each pair (a, b) the closed-form ridge probe of :mod:`probes.ridge` is fitted on the
concatenated train embeddings [X_a, X_b] (λ chosen on val from the same grid, first
best wins, as :func:`probes.ridge_probe`), and

  gain(a, b) = acc_test([X_a, X_b]) − max(acc_test(X_a), acc_test(X_b)).

All pairs share one computation: with X̄ the train features centred by their train
mean, the concatenated Gram of a pair is the 2×2 block matrix

  [[X̄_aᵀX̄_a, X̄_aᵀX̄_b], [X̄_bᵀX̄_a, X̄_bᵀX̄_b]]

of the stacked Gram of all models (primal, when d_a + d_b ≤ n_train), and its dual
kernel is X̄_aX̄_aᵀ + X̄_bX̄_bᵀ (when the pair has more features than train examples).
Each pair then needs one eigendecomposition for every λ, as ridge_path does. Widths may
differ: every model is zero-padded to the widest, which adds only zero-eigenvalue
directions that carry no signal (their projection on the targets is 0). Intervals come
from :func:`metrics.paired_bootstrap` over test examples (λ held at its val choice).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics import bootstrap as bootstrap_lib
from probes import _checks

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
  coefficients = jnp.matmul(vectors.T, cross, precision=_HIGHEST)             # [d, C]
  val_projected = jnp.matmul(val, vectors, precision=_HIGHEST)
  val_scores = _scores_per_l2(val_projected, coefficients, eigenvalues, l2_grid, target_mean)

  test_scores = lambda best: _test_scores(test, vectors, coefficients, eigenvalues, l2_grid[best], target_mean)

  return _select_and_test(val_scores, test_scores, y_val, y_test)


def _dual_probe(kernel, val_kernel, test_kernel, targets, target_mean, y_val, y_test, l2_grid):
  """Ridge through the dual X̄X̄ᵀ = ``kernel`` (val/test kernels against the train rows)."""
  eigenvalues, vectors = jnp.linalg.eigh(kernel)
  coefficients = jnp.matmul(vectors.T, targets, precision=_HIGHEST)           # [n, C]
  val_scores = _scores_per_l2(jnp.matmul(val_kernel, vectors, precision=_HIGHEST), coefficients, eigenvalues,
                              l2_grid, target_mean)

  test_scores = lambda best: _test_scores(test_kernel, vectors, coefficients, eigenvalues, l2_grid[best],
                                          target_mean)

  return _select_and_test(val_scores, test_scores, y_val, y_test)


@functools.partial(jax.jit, static_argnames=("chunk", "dual"))
def _all_probes(train, val, test, targets, y_val, y_test, l2_grid, pair_a, pair_b, chunk, dual):
  """(best λ index, test correctness) of every single model and every pair."""
  mean = train.mean(axis=1, keepdims=True)
  train, val, test = train - mean, val - mean, test - mean
  target_mean = targets.mean(0)
  centred_targets = targets - target_mean
  width = train.shape[2]
  if dual:
    kernels = jnp.einsum("mnd,mkd->mnk", train, train, precision=_HIGHEST)
    val_kernels = jnp.einsum("mnd,mkd->mnk", val, train, precision=_HIGHEST)
    test_kernels = jnp.einsum("mnd,mkd->mnk", test, train, precision=_HIGHEST)
    probe = lambda k, kv, kt: _dual_probe(k, kv, kt, centred_targets, target_mean, y_val, y_test, l2_grid)
    single = lambda m: probe(kernels[m], val_kernels[m], test_kernels[m])
    pair = lambda a, b: probe(kernels[a] + kernels[b], val_kernels[a] + val_kernels[b],
                              test_kernels[a] + test_kernels[b])
  else:
    flat = train.transpose(1, 0, 2).reshape(train.shape[1], -1)                # [n, N·d]
    gram = jnp.matmul(flat.T, flat, precision=_HIGHEST).reshape(train.shape[0], width, train.shape[0], width)
    cross = jnp.einsum("mnd,nc->mdc", train, centred_targets, precision=_HIGHEST)
    probe = lambda g, c, v, t: _primal_probe(g, c, v, t, target_mean, y_val, y_test, l2_grid)
    single = lambda m: probe(gram[m, :, m], cross[m], val[m], test[m])

    def pair(a, b):
      block = jnp.block([[gram[a, :, a], gram[a, :, b]], [gram[b, :, a], gram[b, :, b]]])
      return probe(block, jnp.concatenate([cross[a], cross[b]]), jnp.concatenate([val[a], val[b]], 1),
                   jnp.concatenate([test[a], test[b]], 1))

  singles = jax.lax.map(single, jnp.arange(train.shape[0]))
  pairs = -(-pair_a.shape[0] // chunk) * chunk
  pad = lambda p: jnp.pad(p, (0, pairs - p.shape[0])).reshape(-1, chunk)
  best, correct = jax.lax.map(lambda ab: jax.vmap(pair)(*ab), (pad(pair_a), pad(pair_b)))
  return singles, (best.reshape(-1)[:pair_a.shape[0]], correct.reshape(pairs, -1)[:pair_a.shape[0]])


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
                             pair_chunk: int = 8) -> Complementarity:
  """Concatenation gain of every pair under the closed-form ridge probe (module docstring).

  Args:
    x_train, x_val, x_test: sequences of N embedding arrays [n_split, D_i] (same examples,
      same order for every model); y_*: int class ids per split.
    l2_grid: ridge strengths (default ``np.logspace(-6, 5, 45)`` as ridge_probe).
    num_resamples, confidence, seed: the paired bootstrap over test examples.
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
  grid = np.asarray(np.logspace(-6, 5, 45) if l2_grid is None else l2_grid, np.float64)
  width = max(a.shape[1] for a in train)
  num_models, num_train = len(train), train[0].shape[0]
  pair_a, pair_b = (p.astype(np.int32) for p in np.triu_indices(num_models, 1))
  (single_best, single_correct), (pair_best, pair_correct) = _all_probes(
      jnp.asarray(_padded(train, width)), jnp.asarray(_padded(val, width)), jnp.asarray(_padded(test, width)),
      jax.nn.one_hot(y_train, num_classes), jnp.asarray(y_val), jnp.asarray(y_test), jnp.asarray(grid, jnp.float32),
      jnp.asarray(pair_a), jnp.asarray(pair_b), int(pair_chunk), bool(2 * width > num_train))
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
