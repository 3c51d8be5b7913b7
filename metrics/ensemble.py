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
import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics import candidates as candidates_lib

# Examples per block of the all-pairs kernel: keeps one block of the [N, block, M]
# candidate scores resident in cache while every pair reads it.
_EXAMPLE_BLOCK = 256


@dataclasses.dataclass(frozen=True)
class PairwiseOutcomes:
  """Per-example outcomes of every model and every two-model ensemble.

  Attributes:
    correct: bool[N, E] each model's top-1 correctness.
    pair_a, pair_b: int32[P] the pairs a < b, P = N(N−1)/2, in row-major order.
    ensemble_correct: bool[P, E] correctness of each pair's ensemble.
    num_recomputed: how many (pair, example) cases needed the full-K fallback.
  """
  correct: jax.Array
  pair_a: np.ndarray
  pair_b: np.ndarray
  ensemble_correct: jax.Array
  num_recomputed: int

  @property
  def num_models(self) -> int:
    return self.correct.shape[0]

  @property
  def num_examples(self) -> int:
    return self.correct.shape[1]


def pair_indices(num_models: int) -> tuple[np.ndarray, np.ndarray]:
  """The pairs (a, b) with a < b in row-major order, as two int32[P] arrays."""
  a, b = np.triu_indices(num_models, k=1)
  return a.astype(np.int32), b.astype(np.int32)


@jax.jit
def _certify_all_pairs(scores, outside, ties_win, pair_a, pair_b):
  """Certifies every pair's ensemble on every example, block by block.

  scores float32[N, E, M], outside float32[N, E] → (certain_correct, undecided) bool[P, E].
  """
  num_models, num_examples, num_candidates = scores.shape
  blocks = -(-num_examples // _EXAMPLE_BLOCK)
  pad = blocks * _EXAMPLE_BLOCK - num_examples
  scores = jnp.pad(scores, ((0, 0), (0, pad), (0, 0)))
  outside = jnp.pad(outside, ((0, 0), (0, pad)))
  ties_win = jnp.pad(ties_win, ((0, pad), (0, 0)))
  scores = scores.reshape(num_models, blocks, _EXAMPLE_BLOCK, num_candidates).transpose(1, 0, 2, 3)
  outside = outside.reshape(num_models, blocks, _EXAMPLE_BLOCK).transpose(1, 0, 2)
  ties_win = ties_win.reshape(blocks, _EXAMPLE_BLOCK, num_candidates)

  def one_block(block):
    block_scores, block_outside, block_ties = block
    summed = block_scores[pair_a] + block_scores[pair_b]          # [P, B, M]
    return candidates_lib.certify(
        summed[..., 0], summed[..., 1:], block_ties[None, :, 1:],
        block_outside[pair_a] + block_outside[pair_b])

  certain, undecided = jax.lax.map(one_block, (scores, outside, ties_win))
  unblock = lambda x: x.transpose(1, 0, 2).reshape(pair_a.shape[0], -1)[:, :num_examples]
  return unblock(certain), unblock(undecided)


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
  pair_a, pair_b = pair_indices(view.correct.shape[0])
  certain, undecided = _certify_all_pairs(view.scores, view.outside, view.ties_win,
                                          jnp.asarray(pair_a), jnp.asarray(pair_b))
  undecided_pairs, undecided_examples = np.nonzero(np.asarray(undecided))
  if undecided_pairs.size:
    members = np.stack([pair_a[undecided_pairs], pair_b[undecided_pairs]], axis=1)
    exact = candidates_lib.full_sum_correct(probs, members, undecided_examples,
                                            np.asarray(view.labels), combine)
    certain = certain.at[undecided_pairs, undecided_examples].set(jnp.asarray(exact))
  return PairwiseOutcomes(correct=view.correct, pair_a=pair_a, pair_b=pair_b,
                          ensemble_correct=certain, num_recomputed=int(undecided_pairs.size))


def _to_matrix(values, pair_a, pair_b, diagonal):
  """Scatters P pair values into a symmetric [N, N] matrix with the given diagonal."""
  matrix = jnp.diag(diagonal)
  return matrix.at[pair_a, pair_b].set(values).at[pair_b, pair_a].set(values)


@jax.jit
def summarize_outcomes(correct, ensemble_correct, pair_a, pair_b, weights):
  """Pairwise ensemble statistics from per-example outcomes (jittable, vmappable over weights).

  With weights w (W = Σ w), accuracies acc_n = Σ_e w_e r_n(e)/W, for each pair:
    ensemble_accuracy     = Σ_e w_e r_ens(e) / W
    relative_improvement  = ensemble_accuracy − (acc_a + acc_b)/2       (Fig. 2 left)
    error_inconsistency   = Σ_e w_e [r_a XOR r_b] / W                     (Fig. 1)
    conversion_rate       = Σ_e w_e [r_a XOR r_b] r_ens / Σ_e w_e [r_a XOR r_b]
                            (NaN where the pair has no inconsistent example; Fig. 2 right)
  Diagonal: the "ensemble" of a model with itself is the model (accuracy acc_n,
  improvement 0, inconsistency 0, conversion NaN).
  """
  total = weights.sum()
  correct_f = correct.astype(jnp.float32)
  accuracy = correct_f @ weights / total
  inconsistent = correct[pair_a] != correct[pair_b]
  ensemble_f = ensemble_correct.astype(jnp.float32)
  ensemble_accuracy = ensemble_f @ weights / total
  inconsistent_count = inconsistent.astype(jnp.float32) @ weights
  converted_count = (ensemble_correct & inconsistent).astype(jnp.float32) @ weights
  conversion = jnp.where(inconsistent_count > 0, converted_count / jnp.where(inconsistent_count > 0, inconsistent_count, 1.0), jnp.nan)
  mean_member = 0.5 * (accuracy[pair_a] + accuracy[pair_b])
  n = correct.shape[0]
  return {
      "accuracy": accuracy,
      "ensemble_accuracy": _to_matrix(ensemble_accuracy, pair_a, pair_b, accuracy),
      "relative_improvement": _to_matrix(ensemble_accuracy - mean_member, pair_a, pair_b, jnp.zeros(n)),
      "error_inconsistency": _to_matrix(inconsistent_count / total, pair_a, pair_b, jnp.zeros(n)),
      "conversion_rate": _to_matrix(conversion, pair_a, pair_b, jnp.full(n, jnp.nan)),
  }


def summarize(outcomes: PairwiseOutcomes, weights=None) -> dict[str, jax.Array]:
  """:func:`summarize_outcomes` of a :class:`PairwiseOutcomes` (uniform weights by default)."""
  if weights is None:
    weights = jnp.ones((outcomes.num_examples,), jnp.float32)
  return summarize_outcomes(outcomes.correct, outcomes.ensemble_correct,
                            jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b),
                            jnp.asarray(weights, jnp.float32))


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
  counts = jnp.sum(outcomes.ensemble_correct, axis=1, dtype=jnp.int32)
  own = jnp.sum(outcomes.correct, axis=1, dtype=jnp.int32)
  result["ensemble_correct_count"] = _to_matrix(counts, jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b), own)
  return result
