"""Two-model ensembles of every pair: accuracy, relative improvement, conversion rate.

Paper Fig. 2 (§3.2–3.4). The ensemble of models a and b predicts
argmax_k (p_a[k] + p_b[k]) (the average of calibrated probabilities; the factor ½ does
not change the argmax and is exact in floating point), or with ``combine="logit"``
argmax_k (log p_a[k] + log p_b[k]). Ties resolve to the lowest class id, as
``numpy.argmax`` does. Sums are computed in float32 on the stored values (float16 and
bfloat16 inputs are widened exactly), so results match the naive loop
``((p[a].astype(float32) + p[b]).argmax(-1) == y)`` bit for bit.

All N(N−1)/2 pairs are decided at once from a compact candidate view
(:mod:`metrics.candidates`); only the rare undecided (pair, example) cases are
recomputed over all K classes.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from metrics import candidates as candidates_lib

@dataclasses.dataclass(frozen=True)
class PairwiseOutcomes:
  """Per-example outcomes of every model and every two-model ensemble.

  Attributes:
    correct: bool[N, E] each model's top-1 correctness.
    pair_a, pair_b: int32[P] every pair once, pair_a < pair_b, P = N(N−1)/2 (in the
      kernel's order, see :func:`pair_indices`).
    ensemble_correct: bool[P, E] correctness of each pair's ensemble.
    num_recomputed: how many (pair, example) cases needed the full-K fallback.
    counts: int32[P] per pair: "ensemble_correct", "converted" (inconsistent and the
      ensemble right) and "inconsistent" examples (unweighted summaries read these).
  """
  correct: jax.Array
  pair_a: np.ndarray
  pair_b: np.ndarray
  ensemble_correct: jax.Array
  num_recomputed: int
  counts: dict[str, np.ndarray] | None = None

  @property
  def num_models(self) -> int:
    return self.correct.shape[0]

  @property
  def num_examples(self) -> int:
    return self.correct.shape[1]


def pair_indices(num_models: int) -> tuple[np.ndarray, np.ndarray]:
  """Every unordered pair once, as (pair_a, pair_b) int32[P] with pair_a < pair_b.

  Pairs come in the order the all-pairs kernel produces them: model a with its
  partners a+1, a+2, … a+⌊N/2⌋ (mod N), so each row of the kernel does the same work.
  """
  a, offset = _kernel_slots(num_models)
  keep = _kept_slots(num_models)
  a, b = a[keep], (a[keep] + offset[keep]) % num_models
  return np.minimum(a, b).astype(np.int32), np.maximum(a, b).astype(np.int32)


def _partner_offsets(num_models: int) -> np.ndarray:
  return np.arange(1, num_models // 2 + 1)


def _kernel_slots(num_models: int) -> tuple[np.ndarray, np.ndarray]:
  """(model a, partner offset) of every row of the kernel's [N·⌊N/2⌋, E] output."""
  offsets = _partner_offsets(num_models)
  return np.repeat(np.arange(num_models), len(offsets)), np.tile(offsets, num_models)


def _kept_slots(num_models: int) -> np.ndarray:
  """For even N the offset N/2 pairs a with a+N/2 twice; keep the a < N/2 half."""
  a, offset = _kernel_slots(num_models)
  return ~((2 * offset == num_models) & (a >= num_models // 2))


# Examples per block of the all-pairs kernel: one block of every model's margins
# (M−1 × N × 1024 float32 ≈ 2 MB) stays in cache while all pairs read it.
_EXAMPLE_BLOCK = 1024


@jax.jit
def _certify_all_pairs(label_scores, margins, magnitude, outside, correct):
  """Certifies every pair's ensemble on every example.

  Row a of the kernel pairs model a with its ⌊N/2⌋ next models (mod N): together the
  rows cover every unordered pair with equal work per row, and the inner loops run
  along contiguous examples (the layout XLA:CPU vectorises best), block by block.

  label_scores, magnitude, outside float32[N, E]; margins float32[N, E, M−1]; correct bool[N, E]
  → (certain_correct, undecided) bool[N·⌊N/2⌋, E] (row a·⌊N/2⌋ + d: pair (a, a+1+d mod N)),
    and int32[N·⌊N/2⌋] counts of certainly-correct, certainly-converted and inconsistent
    examples per pair (counted here to avoid three more passes over [P, E]).
  """
  num_models, num_examples = label_scores.shape
  num_rivals = margins.shape[-1]
  offsets = jnp.asarray(_partner_offsets(num_models))
  block = min(_EXAMPLE_BLOCK, num_examples)
  blocks = -(-num_examples // block)
  pad = blocks * block - num_examples

  def by_block(x):                                                # [N, E] → [blocks, N, block]
    return jnp.pad(x, ((0, 0), (0, pad))).reshape(num_models, blocks, block).transpose(1, 0, 2)

  rivals = jnp.pad(margins, ((0, 0), (0, pad), (0, 0))).transpose(2, 0, 1)
  rivals = rivals.reshape(num_rivals, num_models, blocks, block).transpose(2, 0, 1, 3)   # [blocks, M−1, N, block]

  def one_block(args):
    label, rival, size, bound, right = args

    def row(a):
      partners = (a + offsets) % num_models
      worst = jnp.full((offsets.shape[0], block), jnp.inf)
      for m in range(num_rivals):                                 # M is small and static
        worst = jnp.minimum(worst, rival[m, a][None] + rival[m, partners])
      tolerance = candidates_lib.rounding_tolerance(2, size[a][None] + size[partners])
      certain, undecided = candidates_lib.certify(label[a][None] + label[partners], worst[..., None], tolerance,
                                                  bound[a][None] + bound[partners])
      inconsistent = right[a][None] != right[partners]            # padding: both False
      counts = jnp.stack([jnp.sum(x, axis=1, dtype=jnp.int32)
                          for x in (certain, certain & inconsistent, inconsistent)])
      return certain, undecided, counts

    return jax.lax.map(row, jnp.arange(num_models))

  certain, undecided, counts = jax.lax.map(
      one_block, (by_block(label_scores), rivals, by_block(magnitude), by_block(outside), by_block(correct)))
  unblock = lambda x: x.transpose(1, 2, 0, 3).reshape(num_models * offsets.shape[0], -1)[:, :num_examples]
  counts = jnp.sum(counts, axis=0).transpose(1, 0, 2).reshape(3, -1)   # [3, N·D]
  return unblock(certain), unblock(undecided), counts


def pairwise_outcomes(probs, labels, combine: str = "prob", *, num_candidates: int = 8,
                      atol: float | None = None) -> PairwiseOutcomes:
  """Per-example correctness of every model and of every two-model ensemble.

  Args:
    probs: float[N, E, K] calibrated probabilities (numpy, jax or a numpy memmap;
      read one model at a time).
    labels: int[E] in [0, K).
    combine: "prob" averages probabilities, "logit" averages log-probabilities.
    num_candidates: candidate classes kept per example (a speed knob; results
      do not depend on it).
    atol: tolerance on |Σ_k p − 1| for ``combine="prob"``; default 1e-3 plus the
      storage dtype's eps (bfloat16 rounding alone moves row sums by ~0.4%).
  Raises:
    ValueError: shapes disagree, N < 2, labels outside [0, K), NaN/inf or negative
      probabilities, or rows that do not sum to 1.
  """
  view = candidates_lib.build_candidate_view(probs, labels, combine, num_candidates, atol, min_models=2)
  num_models = view.correct.shape[0]
  pair_a, pair_b = pair_indices(num_models)
  kept = np.flatnonzero(_kept_slots(num_models))
  certain, undecided, counts = _certify_all_pairs(view.label_scores, view.margins, view.magnitude, view.outside,
                                                  view.correct)
  certain, undecided = certain[jnp.asarray(kept)], undecided[jnp.asarray(kept)]
  ensemble_count, converted_count, inconsistent_count = np.array(counts)[:, kept]
  undecided_pairs, undecided_examples = np.nonzero(np.asarray(undecided))
  if undecided_pairs.size:
    members = np.stack([pair_a[undecided_pairs], pair_b[undecided_pairs]], axis=1)
    exact = candidates_lib.full_sum_correct(probs, members, undecided_examples,
                                            np.asarray(view.labels), combine)
    certain = certain.at[undecided_pairs, undecided_examples].set(jnp.asarray(exact))
    correct = np.asarray(view.correct)
    inconsistent = correct[members[:, 0], undecided_examples] != correct[members[:, 1], undecided_examples]
    np.add.at(ensemble_count, undecided_pairs, exact.astype(np.int32))
    np.add.at(converted_count, undecided_pairs, (exact & inconsistent).astype(np.int32))
  return PairwiseOutcomes(correct=view.correct, pair_a=pair_a, pair_b=pair_b, ensemble_correct=certain,
                          num_recomputed=int(undecided_pairs.size),
                          counts={"ensemble_correct": ensemble_count, "converted": converted_count,
                                  "inconsistent": inconsistent_count})


def _to_matrix(values, pair_a, pair_b, diagonal):
  """Scatters P pair values into a symmetric [N, N] matrix with the given diagonal."""
  matrix = jnp.diag(diagonal)
  return matrix.at[pair_a, pair_b].set(values).at[pair_b, pair_a].set(values)


def _weighted_sum(indicator, weights):
  """Σ_e w_e · indicator[..., e]; an integer count (as float32) when weights is None."""
  if weights is None:
    return jnp.sum(indicator, axis=-1, dtype=jnp.int32).astype(jnp.float32)
  return jnp.matmul(indicator.astype(jnp.float32), weights, precision=jax.lax.Precision.HIGHEST)


@jax.jit
def summarize_outcomes(correct, ensemble_correct, pair_a, pair_b, weights=None):
  """Pairwise ensemble statistics from per-example outcomes (jittable, vmappable over weights).

  With weights w (W = Σ w; none means every example once), acc_n = Σ_e w_e r_n(e)/W,
  and for each pair:
    ensemble_accuracy     = Σ_e w_e r_ens(e) / W
    relative_improvement  = ensemble_accuracy − (acc_a + acc_b)/2       (Fig. 2 left)
    error_inconsistency   = Σ_e w_e [r_a XOR r_b] / W                     (Fig. 1)
    conversion_rate       = Σ_e w_e [r_a XOR r_b] r_ens / Σ_e w_e [r_a XOR r_b]
                            (NaN where the pair has no inconsistent example; Fig. 2 right)
  Diagonal: the "ensemble" of a model with itself is the model (accuracy acc_n,
  improvement 0, inconsistency 0, conversion NaN).
  """
  total = jnp.float32(correct.shape[1]) if weights is None else weights.sum()
  inconsistent = correct[pair_a] != correct[pair_b]
  return _statistics(_weighted_sum(correct, weights), _weighted_sum(ensemble_correct, weights),
                     _weighted_sum(ensemble_correct & inconsistent, weights), _weighted_sum(inconsistent, weights),
                     total, pair_a, pair_b)


@jax.jit
def _summary_from_counts(correct, ensemble_count, converted_count, inconsistent_count, pair_a, pair_b):
  f32 = lambda x: x.astype(jnp.float32)
  return _statistics(f32(jnp.sum(correct, axis=1, dtype=jnp.int32)), f32(ensemble_count), f32(converted_count),
                     f32(inconsistent_count), jnp.float32(correct.shape[1]), pair_a, pair_b)


def _statistics(correct_count, ensemble_count, converted_count, inconsistent_count, total, pair_a, pair_b):
  """The pairwise statistics of :func:`summarize_outcomes` from (weighted) counts."""
  accuracy = correct_count / total
  ensemble_accuracy = ensemble_count / total
  has_inconsistent = inconsistent_count > 0
  conversion = jnp.where(has_inconsistent, converted_count / jnp.where(has_inconsistent, inconsistent_count, 1.0),
                         jnp.nan)
  mean_member = 0.5 * (accuracy[pair_a] + accuracy[pair_b])
  n = accuracy.shape[0]
  return {
      "accuracy": accuracy,
      "ensemble_accuracy": _to_matrix(ensemble_accuracy, pair_a, pair_b, accuracy),
      "relative_improvement": _to_matrix(ensemble_accuracy - mean_member, pair_a, pair_b, jnp.zeros(n)),
      "error_inconsistency": _to_matrix(inconsistent_count / total, pair_a, pair_b, jnp.zeros(n)),
      "conversion_rate": _to_matrix(conversion, pair_a, pair_b, jnp.full(n, jnp.nan)),
  }


def summarize(outcomes: PairwiseOutcomes, weights=None) -> dict[str, jax.Array]:
  """:func:`summarize_outcomes` of a :class:`PairwiseOutcomes` (uniform weights by default)."""
  if weights is None and outcomes.counts is not None:
    return _summary_from_counts(outcomes.correct, jnp.asarray(outcomes.counts["ensemble_correct"]),
                                jnp.asarray(outcomes.counts["converted"]), jnp.asarray(outcomes.counts["inconsistent"]),
                                jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b))
  if weights is not None:
    weights = jnp.asarray(weights, jnp.float32)
  return summarize_outcomes(outcomes.correct, outcomes.ensemble_correct,
                            jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b), weights)


def pairwise_ensemble(probs, labels, combine: str = "prob", *, num_candidates: int = 8,
                      atol: float | None = None) -> dict[str, jax.Array]:
  """Two-model ensemble metrics for all pairs of N models (paper Fig. 2).

  Args:
    probs: float[N, E, K] calibrated probabilities.
    labels: int[E].
    combine: "prob" (average probabilities) or "logit" (average log-probabilities).
  Returns:
    A dict of float32[N, N] symmetric matrices ``ensemble_accuracy``,
    ``relative_improvement`` (ensemble accuracy − mean member accuracy),
    ``conversion_rate`` (share of exactly-one-correct examples the ensemble gets
    right; NaN where there are none) and ``error_inconsistency``; plus
    ``accuracy`` float32[N] and ``ensemble_correct_count`` int32[N, N].
  """
  outcomes = pairwise_outcomes(probs, labels, combine, num_candidates=num_candidates, atol=atol)
  result = summarize(outcomes)
  own = jnp.sum(outcomes.correct, axis=1, dtype=jnp.int32)
  result["ensemble_correct_count"] = _to_matrix(jnp.asarray(outcomes.counts["ensemble_correct"]),
                                                jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b), own)
  return result
