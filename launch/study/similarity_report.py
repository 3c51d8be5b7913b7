"""The link between representational similarity and complementarity (issue 14, report section).

Pure functions of per-pair matrices: :func:`link_table` gathers every pair's numbers
(error inconsistency, κ, conversion rate, θ asymmetry, CKA, mutual k-NN, CKNNA,
concatenation gain, ensemble gain, … whatever is passed) and measures how well each
similarity predicts each gain by Spearman's rank correlation over pairs. Pairs share
models, so pairs are not independent draws: the interval resamples *models* with
replacement (every pair of two distinct drawn models enters, with multiplicity) and
recomputes ρ on the induced pairs. :func:`link_figure` draws the table as a grid of
scatter plots and returns the matplotlib Figure (saving it is the caller's business).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

DEFAULT_PREDICTORS = ("error_inconsistency", "cohen_kappa", "conversion_rate", "theta_asymmetry", "cka",
                      "unbiased_cka", "mutual_knn", "cknna")
DEFAULT_TARGETS = ("ensemble_gain", "concatenation_gain")


@dataclasses.dataclass(frozen=True)
class Correlation:
  """Spearman ρ of one predictor against one target, with a model-resampled percentile interval."""
  predictor: str
  target: str
  rho: float
  low: float
  high: float
  std: float
  num_pairs: int
  confidence: float
  num_resamples: int


@dataclasses.dataclass(frozen=True)
class LinkTable:
  """Every pair's measures and the rank correlations of predictors with targets.

  pair_a, pair_b int[P]: model indices (a < b); values: name → float[P] (the mean of the
  [a, b] and [b, a] entries, so one-sided measures such as CKNNA are symmetrised);
  correlations: one :class:`Correlation` per (predictor, target) present in ``values``.
  """
  names: tuple[str, ...]
  pair_a: np.ndarray
  pair_b: np.ndarray
  values: dict
  correlations: tuple

  def rows(self) -> list[dict]:
    """One dict per pair: model_a, model_b and every measure (for a CSV)."""
    return [{"model_a": self.names[a], "model_b": self.names[b], **{k: float(v[p]) for k, v in self.values.items()}}
            for p, (a, b) in enumerate(zip(self.pair_a, self.pair_b))]

  def correlation_rows(self) -> list[dict]:
    return [dataclasses.asdict(c) for c in self.correlations]


def _ranks(values: np.ndarray) -> np.ndarray:
  """Average ranks (ties share the mean of their positions), as scipy.stats.rankdata."""
  order = np.argsort(values, kind="mergesort")
  ranks = np.empty(values.size, np.float64)
  ranks[order] = np.arange(values.size, dtype=np.float64)
  _, inverse, counts = np.unique(values[order], return_inverse=True, return_counts=True)
  first = np.concatenate([[0], np.cumsum(counts)[:-1]])
  ranks[order] = (first + (counts - 1) / 2.0)[inverse]
  return ranks


def spearman(x, y) -> float:
  """Spearman's ρ of two equally long vectors (NaN pairs dropped); NaN if < 3 points or constant."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  keep = np.isfinite(x) & np.isfinite(y)
  x, y = x[keep], y[keep]
  if x.size < 3:
    return float("nan")
  return _rho(_centred_ranks(x), _centred_ranks(y))


def _centred_ranks(values: np.ndarray) -> np.ndarray:
  return _ranks(values) - (values.size - 1) / 2.0


def _rho(rx: np.ndarray, ry: np.ndarray) -> float:
  """Pearson correlation of centred ranks: Σ rx·ry / √(Σ rx² · Σ ry²) (NaN if either is constant)."""
  scale = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
  return float(np.sum(rx * ry) / scale) if scale > 0 else float("nan")


class _ResampleRanks:
  """Spearman ρ of measures on one model resample's pairs. A measure finite on every pair
  is ranked once and its ranks reused for each partner measure (the same arithmetic as
  :func:`spearman`, so the same ρ); pairs with a NaN on either side go through spearman."""

  def __init__(self, symmetric: dict, a: np.ndarray, b: np.ndarray):
    self.values = {k: m[a, b] for k, m in symmetric.items()}
    self.ranks: dict = {}

  def _ranked(self, key):
    if key not in self.ranks:
      values = self.values[key]
      self.ranks[key] = _centred_ranks(values) if values.size >= 3 and np.isfinite(values).all() else None
    return self.ranks[key]

  def rho(self, x_key, y_key) -> float:
    rx, ry = self._ranked(x_key), self._ranked(y_key)
    if rx is None or ry is None:
      return spearman(self.values[x_key], self.values[y_key])
    return _rho(rx, ry)


def _check_measures(measures: Mapping[str, np.ndarray], names: Sequence[str]) -> dict[str, np.ndarray]:
  if len(names) < 3:
    raise ValueError(f"names must list at least 3 models (a rank correlation over pairs); got {len(names)}.")
  checked = {}
  for key, matrix in measures.items():
    matrix = np.asarray(matrix, np.float64)
    if matrix.shape != (len(names), len(names)):
      raise ValueError(f"measures[{key!r}] has shape {matrix.shape}; expected [N, N] = {(len(names),) * 2} "
                       "(one row and column per model in names).")
    checked[key] = matrix
  return checked


def link_table(measures: Mapping[str, np.ndarray], names: Sequence[str], *,
               predictors: Sequence[str] = DEFAULT_PREDICTORS, targets: Sequence[str] = DEFAULT_TARGETS,
               num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> LinkTable:
  """Per-pair table and Spearman ρ(predictor, target) with model-resampled intervals.

  Args:
    measures: name → float[N, N] per-pair matrix (e.g. ``cka``, ``ensemble_gain``); the
      pair value is (M[a, b] + M[b, a]) / 2.
    names: the N model names, in matrix order.
    predictors, targets: which measures to correlate; those absent from ``measures``
      are skipped (a target must be present).
    num_resamples: model-bootstrap draws; confidence: central interval mass.
  """
  values = _check_measures(measures, names)
  missing = [t for t in targets if t not in values]
  if missing:
    raise ValueError(f"targets {missing} are not among measures {sorted(values)}.")
  if not 0 < confidence < 1 or num_resamples < 2:
    raise ValueError(f"need 0 < confidence < 1 and num_resamples >= 2; got {confidence}, {num_resamples}.")
  n = len(names)
  pair_a, pair_b = np.triu_indices(n, 1)
  symmetric = {k: (m + m.T) / 2.0 for k, m in values.items()}
  per_pair = {k: m[pair_a, pair_b] for k, m in symmetric.items()}
  used = [p for p in predictors if p in symmetric]

  rng = np.random.default_rng(seed)
  draws = {(p, t): [] for p in used for t in targets}
  for _ in range(num_resamples):
    chosen = rng.integers(0, n, n)
    first, second = np.triu_indices(n, 1)
    a, b = chosen[first], chosen[second]
    distinct = a != b            # the same model drawn twice is not a pair
    resample = _ResampleRanks({k: symmetric[k] for k in (*used, *targets)}, a[distinct], b[distinct])
    for (p, t), store in draws.items():
      store.append(resample.rho(p, t))
  tail = 100 * (1 - confidence) / 2
  correlations = []
  for (p, t), samples in draws.items():
    samples = np.asarray(samples)
    finite = samples[np.isfinite(samples)]
    low, high = np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan)
    x, y = per_pair[p], per_pair[t]
    correlations.append(Correlation(p, t, spearman(x, y), float(low), float(high),
                                    float(finite.std()) if finite.size else float("nan"),
                                    int(np.sum(np.isfinite(x) & np.isfinite(y))), confidence, num_resamples))
  return LinkTable(tuple(names), pair_a, pair_b, per_pair, tuple(correlations))


def link_figure(table: LinkTable, *, predictors: Sequence[str] | None = None, targets: Sequence[str] | None = None):
  """A grid of scatter plots (rows: targets, columns: predictors), ρ and its interval in each title.

  Returns a ``matplotlib.figure.Figure`` (no pyplot state; save it with ``fig.savefig``).
  """
  from matplotlib.figure import Figure

  targets = list(targets or dict.fromkeys(c.target for c in table.correlations))
  predictors = list(predictors or dict.fromkeys(c.predictor for c in table.correlations))
  lookup = {(c.predictor, c.target): c for c in table.correlations}
  width, height = 2.6 * len(predictors), 2.4 * len(targets)
  figure = Figure(figsize=(width, height))
  # Fixed margins (inches), not a constrained layout: its solver draws the grid's many tick
  # labels once more before the save draws them.
  figure.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.55 / height, top=1 - 0.6 / height,
                         wspace=0.35, hspace=0.45)
  axes = figure.subplots(len(targets), len(predictors), squeeze=False)
  for row, target in enumerate(targets):
    for column, predictor in enumerate(predictors):
      ax = axes[row, column]
      ax.scatter(table.values[predictor], table.values[target], s=6, alpha=0.6)
      c = lookup.get((predictor, target))
      if c is not None:
        ax.set_title(f"ρ = {c.rho:.2f} [{c.low:.2f}, {c.high:.2f}]", fontsize=8)
      if row == len(targets) - 1:
        ax.set_xlabel(predictor, fontsize=8)
      if column == 0:
        ax.set_ylabel(target, fontsize=8)
      ax.tick_params(labelsize=6)
  figure.suptitle("Does similarity predict complementarity? (pairs; intervals resample models)", fontsize=9)
  return figure
