"""Representational similarity of every pair of models: linear CKA, mutual k-NN, CKNNA.

``features`` is always a sequence of N arrays [E, D_i] over the same E examples in the
same order; widths may differ per model. Anything with ``shape``, ``dtype`` and row
slicing works (numpy arrays, ``np.memmap``, store chunks): CKA streams over blocks of
examples and never builds an E×E matrix (the dual path below forms B×B tiles only).

Linear CKA (Kornblith et al., 2019) from feature cross-covariances. With X̄ the
column-centred features of a model, K = X̄X̄ᵀ its linear kernel and n(e) = ‖x̄_e‖²:

  F_ij = ‖X̄_iᵀX̄_j‖²_F = tr(K_i K_j)          (biased HSIC up to a constant)
  CKA_ij = F_ij / √(F_ii F_jj)

Unbiased HSIC (Song et al., 2012, eq. 5) of K̃ = K with a zeroed diagonal, m = E:

  HSIC_u = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((m−1)(m−2)) − 2·1ᵀK̃L̃1/(m−2)] / (m(m−3)).

Because Σ_e x̄_e = 0, K̃1 = −n, so tr(K̃_iK̃_j) = F_ij − Q_ij, 1ᵀK̃_i1 = −T_i and
1ᵀK̃_iK̃_j1 = Q_ij with Q_ij = Σ_e n_i(e) n_j(e) and T_i = Σ_e n_i(e): every term is a
feature cross-covariance or a row norm. (HSIC_u is invariant to shifting the features,
so centring changes nothing but the rounding.)

All-pairs cost: F is either read off the Gram of the concatenated features ("primal",
(ΣD)²·E/2 multiply-adds, accumulated as panels: consecutive model groups whose panel
G_g = Z_gᵀ Z_{≥g} fits ``memory_budget``, each streaming all example blocks once), or
summed over pairs of example tiles as Σ K_i ⊙ K_j ("dual", E²/2·(ΣD + N²), with only
[N, B, B] kernel tiles in memory); ``method="auto"`` takes the cheaper.

Mutual k-NN and CKNNA follow the Platonic Representation Hypothesis code
(minyoungg/platonic-rep, ``metrics.py`` with ``measure_alignment.py``'s L2
normalisation): rows are L2-normalised, neighbours are the k largest inner products
with the example itself excluded (ties to the lower example index; platonic-rep's
optional outlier clipping of the features is preprocessing, left to the caller), and

  mutual_knn(a, b) = (1/E) Σ_e |N_a(e) ∩ N_b(e)| / k,
  cknna(a, b) = H(a, b) / (√(H(a, a) H(b, b)) + ε),  ε = 1e-6 as in that code,

where H(a, b) is HSIC_u of the kernels K_a ⊙ M, K_b ⊙ M with the neighbour mask
M_ij = [j ∈ N_a(i)][j ∈ N_b(i)] (not symmetric; the code's tr(K̃ L̃ᵀ) term is kept).
Neighbours are found per model from square tiles of the (symmetric) similarity matrix
with a running top-k, so memory is O(E·k) per model plus one tile; pairs are then scored
from the [N, E, k] neighbour lists.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from metrics import bootstrap as bootstrap_lib

_HIGHEST = jax.lax.Precision.HIGHEST
CKNNA_EPSILON = 1e-6  # platonic-rep adds 1e-6 to CKNNA's denominator; pass epsilon=0 for the plain ratio.


# ----------------------------------------------------------------------------- input checks

def check_features(features, name: str = "features", min_models: int = 2) -> tuple[list, int, list[int]]:
  """Checks a sequence of N feature arrays [E, D_i]; returns (list, E, widths). Values are checked later."""
  if isinstance(features, np.ndarray) and features.ndim == 3:
    features = list(features)
  if not isinstance(features, (list, tuple)):
    raise ValueError(f"{name} must be a sequence of N arrays [E examples, D_i features] (one per model); "
                     f"got {type(features).__name__}.")
  features = list(features)
  if len(features) < min_models:
    raise ValueError(f"{name} needs at least {min_models} models for pairwise similarity; got N={len(features)}.")
  widths = []
  for index, array in enumerate(features):
    shape = getattr(array, "shape", None)
    if shape is None or len(shape) != 2:
      raise ValueError(f"{name}[{index}] must be a 2-D array [E, D]; got shape {shape}.")
    dtype = np.dtype(array.dtype)
    if not (np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16" or np.issubdtype(dtype, np.integer)):
      raise ValueError(f"{name}[{index}] must be numeric; got dtype {dtype}.")
    if shape[1] == 0:
      raise ValueError(f"{name}[{index}] has no features (D=0).")
    widths.append(int(shape[1]))
  counts = [int(a.shape[0]) for a in features]
  if len(set(counts)) != 1:
    raise ValueError(f"{name} disagree on the number of examples E: {counts}; pass every model's features for "
                     "exactly the same examples in the same order (store.read aligns them by example id).")
  return features, counts[0], widths


def _non_finite_error(name, index):
  return ValueError(f"{name}[{index}] holds NaN or infinite values; re-extract that model's embeddings or drop "
                    "the affected examples from every model.")


def _read_block(features, models, start, stop) -> np.ndarray:
  """Rows [start, stop) of the given models side by side [B, Σ D].

  Kept in the stored dtype when every model shares one floating dtype (float16 blocks
  travel at half the bytes and are widened inside the kernels), else float32.
  """
  parts = [np.asarray(features[m][start:stop]) for m in models]
  dtypes = {p.dtype for p in parts}
  dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float32)
  if not (np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16"):
    dtype = np.dtype(np.float32)
  return np.concatenate([p.astype(dtype, copy=False) for p in parts], axis=1)


def _pad_rows(block: np.ndarray, rows: int) -> np.ndarray:
  if block.shape[0] == rows:
    return block
  return np.concatenate([block, np.zeros((rows - block.shape[0], block.shape[1]), block.dtype)])


def _segment_matrix(widths) -> np.ndarray:
  """One-hot float32[Σ D, N]: column m marks the features of model m."""
  ids = np.repeat(np.arange(len(widths)), widths)
  return (ids[:, None] == np.arange(len(widths))[None]).astype(np.float32)


# ----------------------------------------------------------------------------- CKA

@jax.jit
def _column_sums(block):
  return jnp.sum(block.astype(jnp.float32), axis=0)


@functools.partial(jax.jit, donate_argnums=(0,), static_argnames=("row_width",))
def _panel_update(gram, block, mean, row_width, count):
  """gram += Z_gᵀ Z_{≥g} for one block; Z are the centred rows (padding rows masked to 0)."""
  valid = (jnp.arange(block.shape[0]) < count)[:, None]
  centred = jnp.where(valid, block.astype(jnp.float32) - mean[None], 0.0)
  return gram + jnp.matmul(centred[:, :row_width].T, centred, precision=_HIGHEST)


@functools.partial(jax.jit, donate_argnums=(0, 1))
def _norm_update(norm_products, traces, block, mean, segments, count):
  """Adds Σ_e n_i(e) n_j(e) and Σ_e n_i(e) for one block, with n_i(e) = ‖x̄_e‖² of model i."""
  valid = (jnp.arange(block.shape[0]) < count)[:, None]
  centred = jnp.where(valid, block.astype(jnp.float32) - mean[None], 0.0)
  norms = jnp.matmul(centred * centred, segments, precision=_HIGHEST)        # [B, N]
  return norm_products + jnp.matmul(norms.T, norms, precision=_HIGHEST), traces + norms.sum(0)


@jax.jit
def _panel_frobenius(gram, row_segments, col_segments):
  """Σ of squared Gram entries per (row model, column model) block."""
  squared = gram * gram
  return jnp.matmul(row_segments.T, jnp.matmul(squared, col_segments, precision=_HIGHEST), precision=_HIGHEST)


def _panels(widths, memory_budget: int) -> list[list[int]]:
  """Consecutive model groups whose panel Z_gᵀ Z_{≥g} (float32) fits the budget."""
  groups, current = [], []
  for model, width in enumerate(widths):
    rest = sum(widths[(current[0] if current else model):])
    if current and 4 * (sum(widths[m] for m in current) + width) * rest > memory_budget:
      groups.append(current)
      current = []
    current.append(model)
  groups.append(current)
  return groups


@dataclasses.dataclass(frozen=True)
class CrossCovarianceSums:
  """The sufficient statistics of linear CKA (float64 numpy).

  frobenius [N, N] = ‖X̄_iᵀX̄_j‖²_F; norm_products [N, N] = Σ_e n_i(e)n_j(e);
  traces [N] = Σ_e n_i(e); num_examples = m (Σ of weights when weighted).
  """
  frobenius: np.ndarray
  norm_products: np.ndarray
  traces: np.ndarray
  num_examples: float


@functools.partial(jax.jit, static_argnames=("widths",))
def _dual_tile(rows, columns, mean, row_count, column_count, widths):
  """Σ_{e∈rows, e'∈columns} K_i(e, e') K_j(e, e') for every model pair, from one pair of example tiles.

  K_i(e, e') = x̄_{i,e}·x̄_{i,e'} is formed per tile only ([N, B, B']), never for all E.
  """
  def centre(block, count):
    valid = (jnp.arange(block.shape[0]) < count)[:, None]
    return jnp.where(valid, block.astype(jnp.float32) - mean[None], 0.0)

  rows, columns = centre(rows, row_count), centre(columns, column_count)
  offsets = np.concatenate([[0], np.cumsum(widths)])
  if len(set(widths)) == 1:   # one batched GEMM
    n, d = len(widths), widths[0]
    kernels = jnp.einsum("bnd,cnd->nbc", rows.reshape(-1, n, d), columns.reshape(-1, n, d), precision=_HIGHEST)
  else:
    kernels = jnp.stack([jnp.matmul(rows[:, a:b], columns[:, a:b].T, precision=_HIGHEST)
                         for a, b in zip(offsets[:-1], offsets[1:])])
  flat = kernels.reshape(len(widths), -1)
  return jnp.matmul(flat, flat.T, precision=_HIGHEST)


def _macs(method, num_examples, widths, memory_budget):
  """Multiply-adds of the Gram panels (primal) or the example tiles (dual)."""
  if method == "primal":
    offsets = np.concatenate([[0], np.cumsum(widths)])
    return sum(sum(widths[m] for m in g) * (offsets[-1] - offsets[g[0]]) for g in _panels(widths, memory_budget)
               ) * float(num_examples)
  return num_examples ** 2 / 2.0 * (sum(widths) + len(widths) ** 2)


def auto_block_size(method: str, widths, memory_budget: int) -> int:
  """Default examples per block: ≤ 4096, a block of all models ≤ budget/8, a dual tile's kernels ≤ budget/8."""
  block_size = int(max(64, min(4096, memory_budget // (8 * 4 * sum(widths)))))
  if method == "dual":
    block_size = int(max(64, min(block_size, np.sqrt(memory_budget / (8 * 4 * len(widths))))))
  return block_size


def cross_covariance_sums(features, *, method: str = "auto", block_size: int | None = None,
                          memory_budget: int = 2 << 30, name: str = "features") -> CrossCovarianceSums:
  """Streams the features into :class:`CrossCovarianceSums` (one pass for the means, then the products).

  Two exact ways to the Frobenius norms ‖X̄_iᵀX̄_j‖² = tr(K_i K_j), chosen by
  ``method`` ("auto" takes the one with fewer multiply-adds):
    * "primal": Gram panels of the concatenated features, (Σ D)²·E/2 multiply-adds;
    * "dual": pairs of example tiles, per-model kernel tiles K_i[tile, tile'] then one
      [N, B²]×[B², N] product, E²/2·(Σ D + N²) multiply-adds: cheaper when E < N·D.
  ``block_size`` examples are read per step (default: up to 4096, fewer when a block of
  every model's features would exceed an eighth of ``memory_budget``, and for the dual
  so that a tile's [N, B, B] kernels fit the budget); ``memory_budget`` bytes bound one
  float32 Gram panel. Raises ValueError naming the model if any value is NaN or infinite.
  """
  features, num_examples, widths = check_features(features, name)
  if method not in ("auto", "primal", "dual"):
    raise ValueError(f"method must be 'auto', 'primal' or 'dual'; got {method!r}.")
  if method == "auto":
    method = min(("primal", "dual"), key=lambda m: _macs(m, num_examples, widths, memory_budget))
  if block_size is None:
    block_size = auto_block_size(method, widths, memory_budget)
    block_size = -(-num_examples // -(-num_examples // block_size))   # equal blocks, least padding
  if block_size < 1:
    raise ValueError(f"block_size must be >= 1; got {block_size}.")
  block_size = min(block_size, num_examples)
  starts = list(range(0, num_examples, block_size))
  models = list(range(len(features)))
  offsets = np.concatenate([[0], np.cumsum(widths)])
  read = lambda start, columns=models: _pad_rows(_read_block(features, columns, start, start + block_size), block_size)
  count = lambda start: min(block_size, num_examples - start)

  sums = np.zeros(offsets[-1], np.float64)
  for start in starts:
    sums += np.asarray(_column_sums(read(start)), np.float64)
  for model in models:
    if not np.all(np.isfinite(sums[offsets[model]:offsets[model + 1]])):
      raise _non_finite_error(name, model)
  mean = (sums / num_examples).astype(np.float32)
  segments = jnp.asarray(_segment_matrix(widths))
  norm_products = jnp.zeros((len(models), len(models)), jnp.float32)
  traces = jnp.zeros((len(models),), jnp.float32)

  if method == "dual":
    device_mean = jnp.asarray(mean)
    frobenius = jnp.zeros((len(models), len(models)), jnp.float32)
    for index, start in enumerate(starts):
      rows = jnp.asarray(read(start))
      norm_products, traces = _norm_update(norm_products, traces, rows, device_mean, segments, count(start))
      for other in starts[index:]:
        columns = rows if other == start else jnp.asarray(read(other))
        tile = _dual_tile(rows, columns, device_mean, count(start), count(other), tuple(widths))
        frobenius = frobenius + (tile if other == start else 2.0 * tile)   # the (other, start) tile is its transpose
    frobenius = np.asarray(frobenius, np.float64)
  else:
    frobenius = np.zeros((len(models), len(models)), np.float64)
    for group in _panels(widths, memory_budget):
      columns = models[group[0]:]
      row_width = int(sum(widths[m] for m in group))
      panel_mean = jnp.asarray(mean[offsets[group[0]]:])
      gram = jnp.zeros((row_width, int(offsets[-1] - offsets[group[0]])), jnp.float32)
      for start in starts:
        block = jnp.asarray(read(start, columns))
        gram = _panel_update(gram, block, panel_mean, row_width, count(start))
        if group[0] == 0:  # the first panel sees every model's features: take the row norms there
          norm_products, traces = _norm_update(norm_products, traces, block, panel_mean, segments, count(start))
      col_segments = segments[offsets[group[0]]:, group[0]:]
      row_segments = segments[offsets[group[0]]:offsets[group[0]] + row_width, group[0]:group[-1] + 1]
      frobenius[group[0]:group[-1] + 1, group[0]:] = np.asarray(_panel_frobenius(gram, row_segments, col_segments))
      del gram
    frobenius = np.triu(frobenius) + np.triu(frobenius, 1).T
  return CrossCovarianceSums(frobenius, np.asarray(norm_products, np.float64), np.asarray(traces, np.float64),
                             float(num_examples))


def cka_from_sums(sums: CrossCovarianceSums, unbiased: bool = False) -> np.ndarray:
  """Linear CKA float64[N, N] from :class:`CrossCovarianceSums` (formulas in the module docstring).

  NaN where a model's HSIC is not positive (constant features, or an unbiased
  estimate ≤ 0 on very few examples).
  """
  if unbiased:
    m = sums.num_examples
    if m < 4:
      raise ValueError(f"unbiased CKA needs at least 4 examples (it divides by m(m−3)); got E={m:g}.")
    hsic = (sums.frobenius - sums.norm_products + np.outer(sums.traces, sums.traces) / ((m - 1) * (m - 2))
            - 2.0 * sums.norm_products / (m - 2)) / (m * (m - 3))
  else:
    hsic = sums.frobenius
  self_hsic = np.diag(hsic)
  with np.errstate(invalid="ignore", divide="ignore"):
    scale = np.sqrt(np.outer(self_hsic, self_hsic))
    return np.where(np.outer(self_hsic > 0, self_hsic > 0), hsic / np.where(scale > 0, scale, 1.0), np.nan)


def cka(features, unbiased: bool = False, *, method: str = "auto", block_size: int | None = None,
        memory_budget: int = 2 << 30) -> np.ndarray:
  """Linear CKA of every pair of models, float64[N, N] (symmetric, diagonal 1).

  CKA_ij = HSIC(K_i, K_j) / √(HSIC(K_i, K_i) HSIC(K_j, K_j)) with linear kernels on
  column-centred features; ``unbiased=True`` uses Song et al.'s unbiased HSIC
  estimator (E ≥ 4). Computed from cross-covariances streamed over blocks of
  ``block_size`` examples (see the module docstring), never an E×E matrix.

  Args:
    features: N arrays [E, D_i] (numpy, memmap, or anything with shape/dtype/slicing).
    unbiased: use HSIC_u instead of the biased (Gretton) estimator.
    method: "primal" (feature Gram panels), "dual" (example tiles) or "auto" (fewer
      multiply-adds); see :func:`cross_covariance_sums`.
    block_size: examples read per step (default from ``memory_budget``).
    memory_budget: bytes of one float32 Gram panel; smaller budgets re-read the features more often.
  """
  sums = cross_covariance_sums(features, method=method, block_size=block_size, memory_budget=memory_budget)
  return cka_from_sums(sums, unbiased)


# ----------------------------------------------------------------------------- weighted CKA (bootstrap)

def _stack_in_memory(features, name="features"):
  """float32 [E, Σ D] of all models plus the one-hot segment matrix, after checking values."""
  features, num_examples, widths = check_features(features, name)
  stacked = _read_block(features, range(len(features)), 0, num_examples).astype(np.float32)
  offsets = np.concatenate([[0], np.cumsum(widths)])
  for model in range(len(features)):
    if not np.all(np.isfinite(stacked[:, offsets[model]:offsets[model + 1]])):
      raise _non_finite_error(name, model)
  return stacked, _segment_matrix(widths), num_examples


def _weighted_cka(data, weights):
  """Biased and unbiased CKA of every pair on examples with multiplicities ``weights``."""
  stacked, segments = data
  total = weights.sum()
  mean = (weights @ stacked) / total
  centred = stacked - mean[None]
  gram = jnp.matmul((centred * weights[:, None]).T, centred, precision=_HIGHEST)
  frobenius = jnp.matmul(segments.T, jnp.matmul(gram * gram, segments, precision=_HIGHEST), precision=_HIGHEST)
  norms = jnp.matmul(centred * centred, segments, precision=_HIGHEST)             # [E, N]
  norm_products = jnp.matmul((norms * weights[:, None]).T, norms, precision=_HIGHEST)
  traces = weights @ norms
  m = total
  # With multiplicities the expanded sample has m = Σw rows; only each row's own
  # diagonal entry is removed, so the formulas of the module docstring hold with m = Σw.
  unbiased_hsic = (frobenius - norm_products + jnp.outer(traces, traces) / ((m - 1) * (m - 2))
                   - 2.0 * norm_products / (m - 2)) / (m * (m - 3))

  def normalise(hsic):
    diagonal = jnp.diag(hsic)
    ok = jnp.outer(diagonal > 0, diagonal > 0)
    return jnp.where(ok, hsic / jnp.sqrt(jnp.where(ok, jnp.outer(diagonal, diagonal), 1.0)), jnp.nan)

  return {"cka": normalise(frobenius), "unbiased_cka": normalise(unbiased_hsic)}


_WEIGHTED_CKA = jax.jit(_weighted_cka)


def cka_intervals(features, *, num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                  batch_size: int = 4) -> dict[str, bootstrap_lib.Interval]:
  """Paired-bootstrap intervals of biased and unbiased CKA (keys ``cka``, ``unbiased_cka``).

  Examples are resampled jointly for all models through :func:`metrics.paired_bootstrap`
  (the statistic takes the resampling counts as example weights). Holds every model's
  features in memory as float32 and one Gram per resample of a batch: meant for study
  sizes (Σ D up to a few thousand), not for the streaming scale of :func:`cka`.
  """
  stacked, segments, num_examples = _stack_in_memory(features)
  if num_examples < 4:
    raise ValueError(f"features need at least 4 examples for unbiased CKA; got E={num_examples}.")
  # jitted so that paired_bootstrap's point estimate does not run op by op
  return bootstrap_lib.paired_bootstrap(_WEIGHTED_CKA, (jnp.asarray(stacked), jnp.asarray(segments)), num_examples,
                                        num_resamples=num_resamples, confidence=confidence, seed=seed,
                                        batch_size=batch_size)


# ----------------------------------------------------------------------------- nearest neighbours

@dataclasses.dataclass(frozen=True)
class NeighbourGraphs:
  """Every model's k nearest neighbours (platonic-rep's definition), O(N·E·k).

  indices int32[N, E, k]: neighbours of each example, most similar first (ties to the
  lower example index); similarities float32[N, E, k]: their inner products on
  L2-normalised rows; reciprocal bool[N, E, k]: whether e is also among the k
  neighbours of indices[n, e, s].
  """
  indices: np.ndarray
  similarities: np.ndarray
  reciprocal: np.ndarray

  @property
  def k(self) -> int:
    return int(self.indices.shape[2])

  @property
  def num_examples(self) -> int:
    return int(self.indices.shape[1])


@jax.jit
def _normalise_rows(x):
  norms = jnp.sqrt(jnp.sum(x * x, axis=1, keepdims=True))
  return x / jnp.maximum(norms, 1e-12)                # torch.nn.functional.normalize's eps


def _merge(values, indices, new_values, new_indices, k):
  """Running top-k: the candidates come after the kept ones, so equal values keep the lower index."""
  values = jnp.concatenate([values, new_values], axis=1)
  indices = jnp.concatenate([indices, jnp.broadcast_to(new_indices[None], new_values.shape)], axis=1)
  top_values, positions = jax.lax.top_k(values, k)    # equal values: lower position first
  return top_values, jnp.take_along_axis(indices, positions, axis=1)


def _tile_similarities(rows, columns):
  sims = jnp.matmul(rows, columns.T, precision=_HIGHEST)
  # top_k orders floats totally (−0 below +0): make zeros equal so ties go to the lower index.
  return jnp.where(sims == 0, 0.0, sims)


@functools.partial(jax.jit, static_argnames=("k",), donate_argnums=(1, 2))
def _diagonal_tile(rows, values, indices, start, num_examples, k):
  """Merges a tile of rows against itself (self excluded, padding columns masked)."""
  sims = _tile_similarities(rows, rows)
  ids = start + jnp.arange(rows.shape[0])
  sims = jnp.where((ids[None] == ids[:, None]) | (ids[None] >= num_examples), -jnp.inf, sims)
  return _merge(values, indices, sims, ids, k)


@functools.partial(jax.jit, static_argnames=("k",), donate_argnums=(2, 3, 4, 5))
def _off_diagonal_tile(rows, columns, row_values, row_indices, column_values, column_indices, row_start,
                       column_start, num_examples, k):
  """One similarity tile S = rows·columnsᵀ serves both blocks: S for the rows, Sᵀ for the columns."""
  sims = _tile_similarities(rows, columns)
  row_ids = row_start + jnp.arange(rows.shape[0])
  column_ids = column_start + jnp.arange(columns.shape[0])
  row_values, row_indices = _merge(row_values, row_indices,
                                   jnp.where(column_ids[None] >= num_examples, -jnp.inf, sims), column_ids, k)
  column_values, column_indices = _merge(column_values, column_indices,
                                         jnp.where(row_ids[None] >= num_examples, -jnp.inf, sims.T), row_ids, k)
  return row_values, row_indices, column_values, column_indices


def _top_k_neighbours(x, k, tile):
  """(similarities, indices) [E, k] of the k largest inner products of L2-normalised rows, self excluded.

  The similarity matrix is symmetric, so only tiles (b, c ≥ b) are formed (≈ E²D/2
  multiply-adds); each updates the running top-k of both its row and column blocks.
  Column blocks reach every row block in increasing order, which keeps ties on the
  lower example index.
  """
  num_examples = x.shape[0]
  blocks = -(-num_examples // tile)
  x = _normalise_rows(jnp.pad(jnp.asarray(x), ((0, blocks * tile - num_examples), (0, 0))))
  parts = [x[b * tile:(b + 1) * tile] for b in range(blocks)]
  values = [jnp.full((tile, k), -jnp.inf, jnp.float32) for _ in range(blocks)]
  indices = [jnp.zeros((tile, k), jnp.int32) for _ in range(blocks)]
  count = jnp.int32(num_examples)
  for b in range(blocks):
    values[b], indices[b] = _diagonal_tile(parts[b], values[b], indices[b], jnp.int32(b * tile), count, k)
    for c in range(b + 1, blocks):
      values[b], indices[b], values[c], indices[c] = _off_diagonal_tile(
          parts[b], parts[c], values[b], indices[b], values[c], indices[c], jnp.int32(b * tile),
          jnp.int32(c * tile), count, k)
  return (jnp.concatenate(values)[:num_examples], jnp.concatenate(indices)[:num_examples])


@jax.jit
def _reciprocal(indices):
  """bool[E, k]: e ∈ N(indices[e, s])."""
  return jnp.any(indices[indices] == jnp.arange(indices.shape[0])[:, None, None], axis=2)


def _check_k(k, num_examples, minimum=1):
  if not isinstance(k, (int, np.integer)) or k < minimum:
    raise ValueError(f"k must be an integer >= {minimum}; got {k!r}.")
  if k >= num_examples:
    raise ValueError(f"k={k} neighbours need more than k examples besides the query; got E={num_examples}. "
                     f"Use k <= {num_examples - 1}.")


def knn_graphs(features, k: int = 10, *, block_elements: int = 1 << 24, name: str = "features") -> NeighbourGraphs:
  """Each model's k nearest neighbours among the other examples (inner product of L2-normalised rows).

  One model at a time is read into memory; similarities are formed in square tiles of
  at most ``block_elements`` entries (and at most 1024 rows, so the symmetric half is
  nearly all that is computed), so the result is O(N·E·k).
  """
  features, num_examples, _ = check_features(features, name)
  _check_k(k, num_examples)
  tile = int(max(1, min(1024, np.sqrt(block_elements), num_examples)))
  tile = -(-num_examples // -(-num_examples // tile))           # equal tiles, least padding
  indices, similarities, reciprocal = [], [], []
  for model, array in enumerate(features):
    x = np.asarray(array[:], dtype=np.float32)
    if not np.all(np.isfinite(x)):
      raise _non_finite_error(name, model)
    values, neighbours = _top_k_neighbours(x, int(k), tile)
    indices.append(np.asarray(neighbours, np.int32))
    similarities.append(np.asarray(values, np.float32))
    reciprocal.append(np.asarray(_reciprocal(neighbours)))
  return NeighbourGraphs(np.stack(indices), np.stack(similarities), np.stack(reciprocal))


def _pair_terms_one(ia, va, ra, ib, vb, rb):
  """Per pair: mutual neighbours per example and the HSIC_u sums of the masked kernels."""
  match = ia[:, :, None] == ib[:, None, :]                                    # [E, k, k]
  in_b = jnp.any(match, axis=2)                                               # a's neighbour also b's
  vb_at = jnp.sum(jnp.where(match, vb[:, None, :], 0.0), axis=2)              # its similarity in b
  rb_at = jnp.any(match & rb[:, None, :], axis=2)                             # reciprocal in b
  kernel_a = jnp.where(in_b, va, 0.0)                                         # K̃_ij at j = ia[i, s]
  kernel_b = jnp.where(in_b, vb_at, 0.0)                                      # L̃_ij
  # tr(K̃ L̃ᵀ): entry (i, j) meets (j, i) only if the mask holds both ways.
  trace = jnp.sum(jnp.where(in_b & ra & rb_at, va * vb_at, 0.0))
  # 1ᵀK̃L̃1 = Σ_j colsum(K̃)_j rowsum(L̃)_j = Σ over K̃'s entries (i, j) of K̃_ij rowsum(L̃)_j.
  # The mask is one-sided, so 1ᵀL̃K̃1 differs: keep both orientations of the pair.
  cross_ab = jnp.sum(kernel_a * kernel_b.sum(axis=1)[ia])
  cross_ba = jnp.sum(kernel_b * kernel_a.sum(axis=1)[ia])
  return in_b.sum(axis=1), jnp.stack([trace, kernel_a.sum(), kernel_b.sum(), cross_ab, cross_ba])


@functools.partial(jax.jit, static_argnames=("chunk",))
def _pair_terms(indices, similarities, reciprocal, pair_a, pair_b, chunk):
  pairs = pair_a.shape[0]
  padded = -(-pairs // chunk) * chunk
  pad = lambda p: jnp.pad(p, (0, padded - pairs)).reshape(-1, chunk)

  def one_chunk(ab):
    a, b = ab
    return jax.vmap(lambda i, j: _pair_terms_one(indices[i], similarities[i], reciprocal[i],
                                                 indices[j], similarities[j], reciprocal[j]))(a, b)

  overlaps, terms = jax.lax.map(one_chunk, (pad(pair_a), pad(pair_b)))
  return overlaps.reshape(padded, -1)[:pairs], terms.reshape(padded, 5)[:pairs]


@jax.jit
def _self_terms(indices, similarities, reciprocal):
  def one(ia, va, ra):
    row_sums = va.sum(axis=1)
    return jnp.stack([jnp.sum(jnp.where(ra, va * va, 0.0)), va.sum(), va.sum(), jnp.sum(va * row_sums[ia])])
  return jax.vmap(one)(indices, similarities, reciprocal)


def _unbiased_hsic(terms, m):
  terms = np.asarray(terms, np.float64)
  trace, sum_a, sum_b, cross = terms[..., 0], terms[..., 1], terms[..., 2], terms[..., 3]
  return (trace + sum_a * sum_b / ((m - 1) * (m - 2)) - 2.0 * cross / (m - 2)) / (m * (m - 3))


def _pairs(num_models):
  a, b = np.triu_indices(num_models, 1)
  return a.astype(np.int32), b.astype(np.int32)


def _symmetric(values, pair_a, pair_b, num_models, diagonal):
  matrix = np.full((num_models, num_models), diagonal, np.float64)
  matrix[pair_a, pair_b] = values
  matrix[pair_b, pair_a] = values
  return matrix


def scores_from_graphs(graphs: NeighbourGraphs, *, epsilon: float = CKNNA_EPSILON, pair_chunk: int = 8,
                       per_example: bool = False) -> dict:
  """``mutual_knn`` and ``cknna`` float64[N, N] of every pair from :func:`knn_graphs`.

  ``cknna[a, b]`` is platonic-rep's ``cknna(feats_A=a, feats_B=b)``, which is not
  symmetric (see :func:`cknna`); ``mutual_knn`` is.

  With ``per_example=True`` also ``overlaps`` int32[P, E] (mutual neighbours of each
  example for pair p of ``pairs`` = (pair_a, pair_b)), for example-level bootstraps.
  """
  num_models, num_examples, k = graphs.indices.shape
  pair_a, pair_b = _pairs(num_models)
  arrays = tuple(jnp.asarray(a) for a in (graphs.indices, graphs.similarities, graphs.reciprocal))
  overlaps, terms = _pair_terms(*arrays, jnp.asarray(pair_a), jnp.asarray(pair_b), int(pair_chunk))
  self_hsic = _unbiased_hsic(_self_terms(*arrays), num_examples)
  terms = np.asarray(terms, np.float64)
  hsic_ab = _unbiased_hsic(terms[:, :4], num_examples)
  hsic_ba = _unbiased_hsic(terms[:, [0, 2, 1, 4]], num_examples)
  overlaps = np.asarray(overlaps)
  mutual = overlaps.sum(axis=1, dtype=np.float64) / (num_examples * k)
  with np.errstate(invalid="ignore", divide="ignore"):
    scale = np.sqrt(self_hsic[pair_a] * self_hsic[pair_b]) + epsilon
    cknna_matrix = np.diag(self_hsic / (self_hsic + epsilon))
  cknna_matrix[pair_a, pair_b] = hsic_ab / scale
  cknna_matrix[pair_b, pair_a] = hsic_ba / scale
  result = {"mutual_knn": _symmetric(mutual, pair_a, pair_b, num_models, 1.0), "cknna": cknna_matrix}
  if per_example:
    result.update(overlaps=overlaps, pairs=(pair_a, pair_b))
  return result


def mutual_knn(features, k: int = 10) -> np.ndarray:
  """Mutual k-NN alignment of every pair, float64[N, N]: (1/E) Σ_e |N_a(e) ∩ N_b(e)| / k.

  Neighbours as in platonic-rep: L2-normalised rows, inner products, the example itself
  excluded, ties to the lower example index. Diagonal 1.
  """
  return scores_from_graphs(knn_graphs(features, k))["mutual_knn"]


def cknna(features, k: int = 10, *, epsilon: float = CKNNA_EPSILON) -> np.ndarray:
  """CKNNA of every pair, float64[N, N], as platonic-rep's ``cknna(topk=k)`` (unbiased=True).

  H(a, b) = HSIC_u(K_a ⊙ M, K_b ⊙ M) with M the mutual-neighbour mask (module docstring);
  CKNNA = H(a, b) / (√(H(a, a) H(b, b)) + epsilon). The diagonal is H/(H + epsilon)
  (1 with ``epsilon=0``). Needs k >= 2 and E >= 4.

  Entry [a, b] is cknna(feats_A=features[a], feats_B=features[b]). That function is not
  symmetric in its arguments: its mask M is one-sided, so 1ᵀK̃L̃1 ≠ 1ᵀL̃K̃1 (the
  difference is usually small). platonic-rep's measure_alignment fills its matrix with
  one orientation and mirrors it; (C + Cᵀ)/2 is a symmetric alternative.
  """
  features, num_examples, _ = check_features(features)
  _check_k(k, num_examples, minimum=2)
  if num_examples < 4:
    raise ValueError(f"cknna needs at least 4 examples (HSIC_u divides by m(m−3)); got E={num_examples}.")
  return scores_from_graphs(knn_graphs(features, k), epsilon=epsilon)["cknna"]


def _mean_overlap(data, weights):
  overlaps, pair_a, pair_b, template, k = data
  values = (overlaps @ weights) / (k * weights.sum())
  matrix = template.at[pair_a, pair_b].set(values)
  return matrix.at[pair_b, pair_a].set(values)


_MEAN_OVERLAP = jax.jit(_mean_overlap)


def mutual_knn_intervals(features, k: int = 10, *, num_resamples: int = 1000, confidence: float = 0.95,
                         seed: int = 0, batch_size: int = 16) -> bootstrap_lib.Interval:
  """Paired-bootstrap interval of mutual k-NN (float[N, N]), resampling the query examples.

  Neighbour lists are those of the full sample; the resample reweights which examples'
  neighbourhoods are compared (resampling inside the neighbour search would make
  duplicates each other's nearest neighbours and inflate every score).
  """
  graphs = knn_graphs(features, k)
  scores = scores_from_graphs(graphs, per_example=True)
  pair_a, pair_b = scores["pairs"]
  num_models = graphs.indices.shape[0]
  data = (jnp.asarray(scores["overlaps"], jnp.float32), jnp.asarray(pair_a), jnp.asarray(pair_b),
          jnp.eye(num_models, dtype=jnp.float32), jnp.float32(k))
  return bootstrap_lib.paired_bootstrap(_MEAN_OVERLAP, data, graphs.num_examples, num_resamples=num_resamples,
                                        confidence=confidence, seed=seed, batch_size=batch_size)


# ----------------------------------------------------------------------------- permutation null

@dataclasses.dataclass(frozen=True)
class NullCalibration:
  """A similarity calibrated against its permutation null, every entry float64[N, N].

  calibrated = score − null_mean (0 = chance level); z = calibrated / null_std;
  p_value = (1 + #{null ≥ score}) / (1 + P), one-sided (more similar than chance).
  The diagonal of calibrated, z and p_value is NaN (a model against itself).
  """
  score: np.ndarray
  null_mean: np.ndarray
  null_std: np.ndarray
  calibrated: np.ndarray
  z: np.ndarray
  p_value: np.ndarray
  num_permutations: int


MEASURES = ("cka", "unbiased_cka", "mutual_knn", "cknna")


def _permuted_graphs(graphs: NeighbourGraphs, permutations) -> NeighbourGraphs:
  """Relabels model n's examples so that new example e is old example permutations[n][e]."""
  indices, similarities, reciprocal = [], [], []
  for n, order in enumerate(permutations):
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    indices.append(inverse[graphs.indices[n][order]])
    similarities.append(graphs.similarities[n][order])
    reciprocal.append(graphs.reciprocal[n][order])
  return NeighbourGraphs(np.stack(indices).astype(np.int32), np.stack(similarities), np.stack(reciprocal))


def permutation_null(measure: str | Callable, features, *, num_permutations: int = 100, seed: int = 0,
                     **kwargs) -> NullCalibration:
  """Calibrates a pairwise similarity against the null of unrelated examples.

  Each null draw shuffles the examples of every model independently, so for every pair
  the examples of one model are matched to a uniformly random permutation of the
  other's (the null of Gröger et al.: same marginal representations, no shared
  structure). ``measure`` is one of :data:`MEASURES` or a callable
  ``measure(features, **kwargs) → float[N, N]``. For the k-NN measures the neighbour
  lists are computed once and relabelled per draw; CKA and callables are recomputed on
  the shuffled features (held in memory).
  """
  if num_permutations < 1:
    raise ValueError(f"num_permutations must be >= 1; got {num_permutations}.")
  features, num_examples, _ = check_features(features)
  rng = np.random.default_rng(seed)
  draws = []
  if measure in ("mutual_knn", "cknna"):
    k = kwargs.pop("k", 10)
    if measure == "cknna":
      _check_k(k, num_examples, minimum=2)
    graphs = knn_graphs(features, k)
    score = scores_from_graphs(graphs, **kwargs)[measure]
    for _ in range(num_permutations):
      permutations = [rng.permutation(num_examples) for _ in features]
      draws.append(scores_from_graphs(_permuted_graphs(graphs, permutations), **kwargs)[measure])
  else:
    if measure in ("cka", "unbiased_cka"):
      function = functools.partial(cka, unbiased=measure == "unbiased_cka")
    elif callable(measure):
      function = measure
    else:
      raise ValueError(f"measure must be one of {MEASURES} or a callable; got {measure!r}.")
    score = np.asarray(function(features, **kwargs), np.float64)
    in_memory = [np.asarray(f[:]) for f in features]
    for _ in range(num_permutations):
      draws.append(np.asarray(function([f[rng.permutation(num_examples)] for f in in_memory], **kwargs),
                              np.float64))
  draws = np.stack(draws)
  null_mean, null_std = draws.mean(0), draws.std(0, ddof=1) if num_permutations > 1 else np.zeros_like(score)
  off_diagonal = ~np.eye(score.shape[0], dtype=bool)
  with np.errstate(invalid="ignore", divide="ignore"):
    calibrated = np.where(off_diagonal, score - null_mean, np.nan)
    z = calibrated / null_std
    p_value = np.where(off_diagonal, (1 + np.sum(draws >= score[None], axis=0)) / (1 + num_permutations), np.nan)
  return NullCalibration(score, null_mean, null_std, calibrated, z, p_value, num_permutations)
