"""Feature mixing (paper Fig. 6, §4.6): are two models' features overlapping but not supersets?

* :func:`concatenate` — stack embeddings of several models (stacked generalisation, Fig. 7).
* :func:`random_mixture` — a random subset of model A's dimensions at rate r and of B's
  at rate 1 − r ("inversely proportional rates"), capped at a budget (by default A's
  dimensionality, so any gain reflects feature quality, not extra dimensions).
* :func:`diversity_order` — a ranking of the concatenated dimensions for the
  "diversity heuristic". The paper's "covariance of each dimension" is ambiguous; two
  readings are implemented:

  - ``"variance"``: each model's embedding is centred and scaled by its own overall
    standard deviation (so models are comparable while dimensions keep their relative
    spread), and dimensions are ranked by variance, largest first;
  - ``"cross_covariance"``: each dimension is ranked by its summed absolute correlation
    with the *other* models' dimensions, smallest (least redundant) first.
"""

from __future__ import annotations

import numpy as np

DIVERSITY_RANKINGS = ("variance", "cross_covariance")


def _as_matrices(embeddings) -> list[np.ndarray]:
  embeddings = [np.asarray(e, np.float32) for e in embeddings]
  if len(embeddings) < 1 or any(e.ndim != 2 for e in embeddings):
    raise ValueError("embeddings must be a non-empty list of [examples, features] arrays.")
  counts = {e.shape[0] for e in embeddings}
  if len(counts) != 1:
    raise ValueError(f"embeddings disagree on the number of examples: {[e.shape[0] for e in embeddings]}; "
                     "read them aligned by example id.")
  for index, e in enumerate(embeddings):
    if not np.all(np.isfinite(e)):
      raise ValueError(f"embeddings[{index}] holds NaN or infinite values.")
  return embeddings


def concatenate(embeddings) -> np.ndarray:
  """[examples, Σ d_m]: the models' embeddings side by side (same examples, same order)."""
  return np.concatenate(_as_matrices(embeddings), axis=1)


def mixture_indices(dim_a: int, dim_b: int, rate_a: float, budget: int | None = None, seed: int = 0):
  """Random dimensions (of A, of B) at rates (r, 1 − r) of each model's own size, capped at ``budget``.

  n_a = round(r·d_a), n_b = round((1−r)·d_b); if n_a + n_b exceeds the budget (default
  d_a) both shrink proportionally.
  """
  if not 0.0 <= rate_a <= 1.0:
    raise ValueError(f"rate_a must be in [0, 1]; got {rate_a}.")
  budget = dim_a if budget is None else budget
  take_a, take_b = round(rate_a * dim_a), round((1.0 - rate_a) * dim_b)
  if take_a + take_b > budget:
    scale = budget / (take_a + take_b)
    take_a = int(np.floor(take_a * scale))
    take_b = min(int(round(take_b * scale)), budget - take_a)
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(dim_a, take_a, replace=False)), np.sort(rng.choice(dim_b, take_b, replace=False))


def random_mixture(emb_a, emb_b, rate_a: float, budget: int | None = None, seed: int = 0) -> np.ndarray:
  """Concatenation of a random r-share of A's dimensions and (1 − r)-share of B's (see :func:`mixture_indices`)."""
  emb_a, emb_b = _as_matrices([emb_a, emb_b])
  dims_a, dims_b = mixture_indices(emb_a.shape[1], emb_b.shape[1], rate_a, budget, seed)
  return np.concatenate([emb_a[:, dims_a], emb_b[:, dims_b]], axis=1)


def diversity_order(embeddings, ranking: str = "variance") -> np.ndarray:
  """Order of the concatenated dimensions, most diverse first (see module docstring)."""
  embeddings = _as_matrices(embeddings)
  if ranking not in DIVERSITY_RANKINGS:
    raise ValueError(f"ranking must be one of {DIVERSITY_RANKINGS}; got {ranking!r}.")
  centred = [e - e.mean(0) for e in embeddings]
  if ranking == "variance":
    scaled = [c / max(float(c.std()), 1e-12) for c in centred]
    variance = np.concatenate([s.var(0) for s in scaled])
    return np.argsort(-variance, kind="stable")
  if len(embeddings) < 2:
    raise ValueError("cross_covariance ranking needs at least two models.")
  standardised = [c / np.maximum(c.std(0), 1e-12) for c in centred]
  scores = []
  for index, own in enumerate(standardised):
    others = np.concatenate([s for j, s in enumerate(standardised) if j != index], axis=1)
    scores.append(np.abs(own.T @ others / own.shape[0]).sum(1))
  return np.argsort(np.concatenate(scores), kind="stable")
