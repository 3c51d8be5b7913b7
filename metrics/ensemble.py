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

  Pairs come in the order the all-pairs kernel produces them: for each partner
  offset d = 1 … ⌊N/2⌋, every model a paired with a + d (mod N); so the kernel works
  on whole shifted copies of the model axis. For even N the offset N/2 would meet
  each pair twice, so only a < N/2 is kept there.
  """
  a, b = [], []
  for offset, rows in enumerate(_rows_per_offset(num_models), start=1):
    first = np.arange(rows)
    a.append(first)
    b.append((first + offset) % num_models)
  a, b = np.concatenate(a), np.concatenate(b)
  return np.minimum(a, b).astype(np.int32), np.maximum(a, b).astype(np.int32)


def _rows_per_offset(num_models: int) -> list[int]:
  """How many pairs (a, a + d mod N) offset d contributes, for d = 1 … ⌊N/2⌋."""
  half = num_models // 2
  return [half if 2 * offset == num_models else num_models for offset in range(1, half + 1)]


# Examples per block of the all-pairs kernel on CPU: one block of every model's
# statistics stays in cache while all pairs read it (~4 MB). Accelerators take
# larger blocks (fewer dispatches; their memory bandwidth hides the re-reads).
_CACHE_BYTES = 4 << 20
_ACCELERATOR_BLOCK = 8192
# Partial counts are summed over lanes of this many examples first: a reduction
# across rows vectorises on XLA:CPU, one along a long row does not.
_COUNT_LANES = 128
# Bits of the kernel's per-(pair, example) state.
_CERTAIN, _UNDECIDED, _INCONSISTENT = 1, 2, 4


def _block_width(num_models: int, num_rivals: int, num_examples: int) -> int:
  """Examples per kernel call: a multiple of the count lanes (or all examples if fewer)."""
  if jax.default_backend() == "cpu":
    bytes_per_example = 4 * (num_rivals + 4) * (num_models + num_models // 2)
    width = _CACHE_BYTES // bytes_per_example // _COUNT_LANES * _COUNT_LANES
  else:
    width = _ACCELERATOR_BLOCK
  width = max(_COUNT_LANES, width)
  return num_examples if num_examples <= width else width


# Channels of the packed kernel input (rivals follow).
_LABEL, _MAGNITUDE, _OUTSIDE, _CORRECT, _RIVALS = range(5)


@functools.partial(jax.jit, static_argnames=("width",))
def _to_blocks(label_scores, margins, magnitude, outside, correct, width):
  """Packs the view, block-major, into float32[blocks, 4 + M−1, N, width]: channels
  label score, magnitude, outside bound, correctness (0/1), then the M−1 margins.
  (One array: slicing five arrays per block from Python costs more than the
  kernel, and a block picked inside the kernel by a dynamic index slows every
  fusion that reads it.) Padded examples get margins of −1 (certainly wrong; with
  no margins at all, undecided and skipped) and both models wrong (consistent), so
  they count nowhere."""
  num_models, num_examples = label_scores.shape
  blocks = -(-num_examples // width)
  pad = blocks * width - num_examples

  def split(x, fill):                                  # [N, E] → [blocks, N, width]
    x = jnp.pad(x, ((0, 0), (0, pad)), constant_values=fill)
    return x.reshape(num_models, blocks, width).transpose(1, 0, 2)

  rivals = jnp.pad(margins, ((0, 0), (0, pad), (0, 0)), constant_values=-1.0)
  rivals = rivals.reshape(num_models, blocks, width, -1).transpose(1, 3, 0, 2)   # [blocks, M−1, N, width]
  # Stacked in _LABEL, _MAGNITUDE, _OUTSIDE, _CORRECT order.
  head = jnp.stack([split(label_scores, 0.0), split(magnitude, 0.0), split(outside, 0.0),
                    split(correct.astype(jnp.float32), 0.0)], axis=1)
  return jnp.concatenate([head, rivals], axis=1)


def _num_lanes(width: int) -> int:
  return _COUNT_LANES if width % _COUNT_LANES == 0 else width


def _lane_partial_sums(indicator):
  """int32[P, lanes]: a bool[P, B] indicator summed over examples lane-wise (example
  e adds to lane e mod lanes). XLA:CPU vectorises this sum across rows; summing a
  whole row at once is ~5x slower, so the lanes are added up once, at the end."""
  rows, width = indicator.shape
  lanes = _num_lanes(width)
  return jnp.sum(indicator.reshape(rows, width // lanes, lanes), axis=1, dtype=jnp.int32)


@jax.jit
def _certify_block(channels, running_counts):
  """Certifies every pair's ensemble on one block of examples.

  channels: float32[4 + M−1, N, B], one block of :func:`_to_blocks`;
  running_counts: int32[3, P, lanes] (see :func:`_lane_partial_sums`)
  → state int8[P, B] (rows in :func:`pair_indices` order) holding bits _CERTAIN,
    _UNDECIDED and _INCONSISTENT (exactly one member right); running_counts plus this
    block's certain, certain-and-inconsistent and inconsistent examples; and
    bool[P, lanes]: which lanes of each row hold an undecided example.
  """
  label, magnitude, outside, rivals = channels[_LABEL], channels[_MAGNITUDE], channels[_OUTSIDE], channels[_RIVALS:]
  correct = channels[_CORRECT] > 0
  num_models = label.shape[0]
  half = num_models // 2
  # Model axis extended by its first half, so partner a + d (mod N) is a plain slice.
  wrap = lambda x, axis: jnp.concatenate([x, jax.lax.slice_in_dim(x, 0, half, axis=axis)], axis=axis)
  label, magnitude, outside, correct = (wrap(x, 0) for x in (label, magnitude, outside, correct))
  rivals = wrap(rivals, 1)
  bit = lambda flag, value: jnp.where(flag, jnp.int8(value), jnp.int8(0))
  states = []
  for offset, rows in enumerate(_rows_per_offset(num_models), start=1):   # static: one fusion each
    a, b = slice(0, rows), slice(offset, offset + rows)
    # The smallest summed margin, as a chain of elementwise minima: a reduction over
    # a short minor axis is several times slower on XLA:CPU.
    worst = functools.reduce(jnp.minimum, [rival[a] + rival[b] for rival in rivals],
                             jnp.full_like(label[a], jnp.inf))
    tolerance = candidates_lib.rounding_tolerance(2, magnitude[a] + magnitude[b])
    certain, undecided = candidates_lib.certify(label[a] + label[b], worst[..., None], tolerance,
                                                outside[a] + outside[b])
    inconsistent = correct[a] != correct[b]
    states.append(bit(certain, _CERTAIN) | bit(undecided, _UNDECIDED) | bit(inconsistent, _INCONSISTENT))
  state = jnp.concatenate(states, axis=0)
  has = lambda bits: (state & bits) == bits
  block_counts = jnp.stack([_lane_partial_sums(has(bits)) for bits in
                            (_CERTAIN, _CERTAIN | _INCONSISTENT, _INCONSISTENT)])
  return state, running_counts + block_counts, _lane_partial_sums(has(_UNDECIDED)) > 0


def _assemble(states, num_examples: int, fix_pairs, fix_examples, fix_values) -> jax.Array:
  """bool[P, E] ensemble correctness: the certain bit of every block's (host) state, then the
  recomputed (pair, example) cases written over. Assembled in host memory, in place
  (~3x faster than an XLA concatenate of the blocks), then handed to JAX without a
  copy on CPU."""
  out = candidates_lib.aligned_empty((states[0].shape[0], num_examples), np.bool_)
  start = 0
  for state in states:
    width = min(state.shape[1], num_examples - start)
    # _CERTAIN is bit 0, so `state & _CERTAIN` is already a valid bool byte.
    np.bitwise_and(state[:, :width], _CERTAIN, out=out[:, start:start + width].view(np.int8))
    start += width
  out[fix_pairs, fix_examples] = fix_values
  return jax.device_put(out)


def _undecided_cases(states, undecided_lanes, num_examples: int) -> tuple[np.ndarray, np.ndarray]:
  """(pair, example) int arrays of every undecided case, reading only flagged lanes
  (and skipping the padding after the last example)."""
  pairs, examples, start = [], [], 0
  for state, lanes_flagged in zip(states, undecided_lanes):
    rows, lanes = np.nonzero(lanes_flagged)
    if rows.size:
      num_lanes = lanes_flagged.shape[1]
      columns = lanes[:, None] + num_lanes * np.arange(state.shape[1] // num_lanes)   # examples of each lane
      hit = ((state[rows[:, None], columns] & _UNDECIDED) != 0) & (start + columns < num_examples)
      pairs.append(np.broadcast_to(rows[:, None], hit.shape)[hit])
      examples.append(start + columns[hit])
    start += state.shape[1]
  if not pairs:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  return np.concatenate(pairs), np.concatenate(examples)


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
  num_models, num_examples = view.correct.shape
  pair_a, pair_b = pair_indices(num_models)
  width = _block_width(num_models, view.margins.shape[-1], num_examples)
  blocks = _to_blocks(view.label_scores, view.margins, view.magnitude, view.outside, view.correct, width)
  running_counts = jnp.zeros((3, len(pair_a), _num_lanes(width)), jnp.int32)
  states, undecided_lanes = [], []
  for block in blocks:         # dispatched block by block; nothing read back inside
    state, running_counts, lanes_flagged = _certify_block(block, running_counts)
    states.append(state)
    undecided_lanes.append(lanes_flagged)
  # Read back once (on an accelerator, one device-to-host copy per block).
  states, undecided_lanes = [np.asarray(state) for state in states], [np.asarray(x) for x in undecided_lanes]
  ensemble_count, converted_count, inconsistent_count = np.asarray(running_counts).sum(axis=-1, dtype=np.int32)
  undecided_pairs, undecided_examples = _undecided_cases(states, undecided_lanes, num_examples)
  exact = np.zeros(0, bool)
  if undecided_pairs.size:
    members = np.stack([pair_a[undecided_pairs], pair_b[undecided_pairs]], axis=1)
    exact = candidates_lib.full_sum_correct(probs, members, undecided_examples, np.asarray(view.labels), combine)
    correct = np.asarray(view.correct)
    inconsistent = correct[members[:, 0], undecided_examples] != correct[members[:, 1], undecided_examples]
    np.add.at(ensemble_count, undecided_pairs, exact.astype(ensemble_count.dtype))
    np.add.at(converted_count, undecided_pairs, (exact & inconsistent).astype(converted_count.dtype))
  ensemble_correct = _assemble(states, num_examples, undecided_pairs, undecided_examples, exact)
  return PairwiseOutcomes(correct=view.correct, pair_a=pair_a, pair_b=pair_b, ensemble_correct=ensemble_correct,
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
