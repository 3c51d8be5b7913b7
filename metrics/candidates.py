"""Certified top-1 of averaged predictions without touching all K classes.

The argmax of a sum of model scores Σ_m x_m[k] over K = 1000 classes is the hot loop
of every ensemble metric (3,321 pairs × 50,000 examples in the paper). It can almost
always be decided from a handful of classes, a threshold-algorithm bound:

* Per example e, keep a small candidate set U_e of M classes: the label first, then
  the classes with the highest score under *any* model.
* Store every model's score at those classes, ``scores[n, e, :]``, and an upper bound
  ``outside[n, e] = max_{k ∉ U_e} x_n[e, k]``, its best score at any other class.
* For an ensemble, sums over candidate columns are computed exactly as the naive
  full-K sum would compute them (same float32 adds, same order), and every class
  outside U_e scores at most the same sum of the bounds (floating-point addition is
  monotone in each argument). If the label beats every candidate and strictly beats
  the bound, the ensemble is certainly right; if a candidate beats the label (ties
  go to the lower class id, as in ``numpy.argmax``) it is certainly wrong; otherwise
  the example is *undecided* and recomputed over all K classes.

Scores are the stored values widened to float32 (exact for float16/bfloat16), or
their logarithm for ``combine="logit"`` (averaging calibrated log-probabilities has
the same argmax as averaging calibrated logits: the two differ by a per-model,
per-example constant).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from metrics import _checks

COMBINE_MODES = ("prob", "logit")


def transform(raw, combine: str):
  """Scores that ensembles add up: probabilities as float32, or their log."""
  raw = raw.astype(jnp.float32)
  return jnp.log(raw) if combine == "logit" else raw


@dataclasses.dataclass(frozen=True)
class CandidateView:
  """Compact view of a float[N, E, K] prediction stack, enough to certify ensembles.

  Attributes:
    classes: int32[E, M] candidate class ids per example; column 0 is the label.
    scores: float32[N, E, M] each model's score at those classes.
    outside: float32[N, E] upper bound of each model's score at any other class.
    ties_win: bool[E, M] candidate class id < label (it wins a tie with the label).
    correct: bool[N, E] each model's own top-1 correctness (numpy.argmax semantics).
    labels: int32[E].
  """
  classes: jax.Array
  scores: jax.Array
  outside: jax.Array
  ties_win: jax.Array
  correct: jax.Array
  labels: jax.Array


# Bit patterns of non-negative IEEE floats sort like their values, and equal values
# have equal bits; so per-model argmax and max-over-models run on unsigned integer
# views, which numpy reduces with SIMD several times faster than XLA:CPU reduces
# floats, and without widening 16-bit storage to float32.
_BIT_VIEWS = {"float32": (np.uint32, 0x7F800000), "float16": (np.uint16, 0x7C00),
              "bfloat16": (np.uint16, 0x7F80)}
_SIGN_BITS = {np.uint32: 0x80000000, np.uint16: 0x8000}


def default_atol(dtype) -> float:
  """Tolerance on |Σ_k p − 1|: 1e-3 plus the storage format's rounding (eps)."""
  return 1e-3 + float(jnp.finfo(dtype).eps)


def _model_array(probs, model: int) -> np.ndarray:
  """One model's [E, K] predictions as a C-contiguous numpy array (no copy if possible)."""
  raw = np.ascontiguousarray(np.asarray(probs[model]))
  if raw.dtype.name not in _BIT_VIEWS:
    raw = raw.astype(np.float32)
  return raw


def _as_device(raw: np.ndarray) -> jax.Array:
  # device_put aliases 64-byte-aligned host memory on CPU (no copy); jnp.asarray copies.
  return jax.device_put(raw)


@jax.jit
def _row_sum_error(raw):
  """max_e |Σ_k p[e, k] − 1| in float32."""
  return jnp.max(jnp.abs(jnp.sum(raw.astype(jnp.float32), axis=-1) - 1.0))


def _value_problem(row_max_bits: np.ndarray, dtype_name: str) -> str | None:
  """Describes negative/NaN/inf entries, detected from each row's largest bit pattern."""
  bits_type, inf_bits = _BIT_VIEWS[dtype_name]
  worst = int(row_max_bits.max())
  if worst >= _SIGN_BITS[bits_type]:
    return "negative values (or -0.0, or negative NaN); pass softmax probabilities, not logits"
  if worst >= inf_bits:
    return "NaN or infinite values; fix or drop that model's predictions"
  return None


@functools.partial(jax.jit, static_argnames=("num_candidates",))
def _choose_candidates(max_over_models, votes, labels, num_candidates):
  """Top (M+1) classes by (top-1 votes, max over models), with the label forced first."""
  num_classes = max_over_models.shape[-1]
  is_label = jax.lax.broadcasted_iota(jnp.int32, max_over_models.shape, 1) == labels[:, None]
  # Classes that are some model's top-1 come first (most votes first), then by max
  # probability (< 2); widened first: XLA:CPU's top_k on 16-bit floats is ~30x slower.
  keyed = 2.0 * votes + max_over_models.astype(jnp.float32)
  keyed = jnp.where(is_label, jnp.inf, keyed)
  if num_candidates >= num_classes:
    _, classes = jax.lax.top_k(keyed, num_classes)
    return classes, jnp.zeros(labels.shape, jnp.float32)
  return jax.lax.top_k(keyed, num_candidates + 1)


def _candidates_and_bound(max_over_models, votes, labels, num_candidates):
  """(classes int32[E, M], bound float32[E]) for the candidate view."""
  num_classes = max_over_models.shape[-1]
  if num_candidates >= num_classes:
    return _choose_candidates(max_over_models, votes, labels, num_candidates)
  # Sliced outside the jit: XLA:CPU rewrites top_k followed by a slice into a full
  # sort, 25x slower.
  values, classes = _choose_candidates(max_over_models, votes, labels, num_candidates)
  # The (M+1)-th largest "max over models" bounds every model at every non-candidate.
  return classes[:, :num_candidates], values[:, num_candidates]


@functools.partial(jax.jit, static_argnames=("combine",))
def _transform_view(scores, bound, combine):
  # Probabilities are >= 0, so "no class outside" is the bound 0 (log 0 = -inf, not NaN).
  return transform(scores, combine), transform(bound, combine)


def _workers() -> int:
  return max(1, min(4, os.cpu_count() or 1))


def _split(num_models: int, parts: int) -> list[range]:
  bounds = np.linspace(0, num_models, parts + 1).astype(int)
  return [range(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def _scan_models(probs, models: range, labels, combine, atol, name):
  """Pass 1 over some models: top-1 classes, value checks, and their max bit pattern."""
  rows = np.arange(labels.shape[0])
  predicted = np.empty((len(models), labels.shape[0]), dtype=np.int64)
  max_bits = dtype = None
  for row, model in enumerate(models):
    raw = _model_array(probs, model)
    bits = raw.view(_BIT_VIEWS[raw.dtype.name][0])
    top = bits.argmax(axis=1)
    problem = _value_problem(bits[rows, top], raw.dtype.name)
    if problem:
      raise ValueError(f"{name}[{model}] holds {problem}.")
    if combine == "prob":
      tolerance = default_atol(raw.dtype) if atol is None else atol
      sum_error = float(_row_sum_error(_as_device(raw)))
      if not sum_error <= tolerance:
        raise ValueError(
            f"{name}[{model}] rows do not sum to 1 (max |Σ_k p − 1| = {sum_error:.3g} > atol={tolerance:.3g}); "
            "pass calibrated softmax probabilities (see metrics.apply_temperature), not logits.")
    if dtype is not None and raw.dtype != dtype:
      raise ValueError(f"{name}[{model}] has dtype {raw.dtype} but {name}[{models[0]}] has {dtype}; "
                       "store all models alike.")
    predicted[row] = top
    if max_bits is None:
      max_bits, dtype = bits.copy(), raw.dtype
    else:
      np.maximum(max_bits, bits, out=max_bits)
  return predicted, max_bits, dtype


def _gather_models(probs, models: range, flat_index, keep_outside, shape):
  """Pass 2 over some models: scores at the candidates and the best score elsewhere."""
  scratch = np.empty_like(keep_outside)
  scores, outside = [], []
  for model in models:
    raw = _model_array(probs, model)
    scores.append(raw.reshape(-1)[flat_index].reshape(shape))
    np.bitwise_and(raw.view(keep_outside.dtype), keep_outside, out=scratch)
    outside.append(scratch.max(axis=1).view(raw.dtype))
  return scores, outside


def build_candidate_view(probs, labels, combine: str = "prob", num_candidates: int = 8,
                         atol: float | None = None, name: str = "probs", min_models: int = 1) -> CandidateView:
  """Validates a float[N, E, K] probability stack and builds its :class:`CandidateView`.

  Streams over models (``probs[n]`` one at a time, a few threads in parallel), so
  ``probs`` may be a numpy memory map larger than memory. Two passes over the data:
  argmax, validation and max over models; then candidate gathers and per-model
  bounds. Storage in bfloat16 or float32 is fastest (float16 row sums widen slowly
  on CPU).
  """
  if combine not in COMBINE_MODES:
    raise ValueError(f"combine must be one of {COMBINE_MODES}; got {combine!r}.")
  if num_candidates < 1:
    raise ValueError(f"num_candidates must be >= 1; got {num_candidates}.")
  num_models, num_examples, num_classes = _checks.check_prediction_stack(probs, name, min_models)
  labels = _checks.as_labels(labels, num_examples, num_classes)
  rows = np.arange(num_examples)
  groups = _split(num_models, _workers())

  with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
    scanned = list(pool.map(lambda models: _scan_models(probs, models, labels, combine, atol, name), groups))
  predicted = np.concatenate([part[0] for part in scanned])
  dtypes = {part[2] for part in scanned}
  if len(dtypes) > 1:
    raise ValueError(f"{name} mixes storage dtypes {sorted(map(str, dtypes))} across models; store all alike.")
  storage = dtypes.pop()
  max_bits = scanned[0][1]
  for part in scanned[1:]:
    np.maximum(max_bits, part[1], out=max_bits)
  del scanned

  votes = np.bincount((rows[None, :] * num_classes + predicted).ravel(),
                      minlength=num_examples * num_classes).astype(np.float32)
  classes, _ = _candidates_and_bound(_as_device(max_bits.view(storage)), votes.reshape(num_examples, num_classes),
                                     jnp.asarray(labels), min(num_candidates, num_classes))
  del votes
  classes_np = np.asarray(classes)
  flat_index = (rows[:, None] * num_classes + classes_np).ravel()
  # keep_outside: all-ones bits at non-candidates, 0 at candidates; AND-ing a model's
  # bits with it and taking the row max gives its exact largest non-candidate score.
  keep_outside = max_bits
  keep_outside.fill(np.iinfo(keep_outside.dtype).max)
  keep_outside.reshape(-1)[flat_index] = 0
  with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
    gathered = list(pool.map(lambda models: _gather_models(probs, models, flat_index, keep_outside,
                                                           classes_np.shape), groups))
  del keep_outside, max_bits
  scores = np.stack([s for part in gathered for s in part[0]])
  outside = np.stack([o for part in gathered for o in part[1]])
  scores, outside = _transform_view(jnp.asarray(scores), jnp.asarray(outside), combine)
  return CandidateView(
      classes=classes,
      scores=scores,
      outside=outside,
      ties_win=classes < jnp.asarray(labels)[:, None],
      correct=jnp.asarray(predicted == labels[None, :]),
      labels=jnp.asarray(labels))


def certify(label_score, rival_scores, rival_ties_win, outside_bound):
  """Decides ensemble correctness from candidate sums.

  Args:
    label_score: float[...] the ensemble's summed score of the label.
    rival_scores: float[..., M-1] summed scores of the other candidates.
    rival_ties_win: bool[..., M-1] whether each rival wins a tie (lower class id).
    outside_bound: float[...] summed bound of every non-candidate class.
  Returns:
    (certainly_correct, undecided) bool[...] arrays.
  """
  beaten = (rival_scores > label_score[..., None]) | (
      (rival_scores == label_score[..., None]) & rival_ties_win)
  wrong = jnp.any(beaten, axis=-1)
  clear_of_outside = label_score > outside_bound
  return ~wrong & clear_of_outside, ~wrong & ~clear_of_outside


def _bucket(size: int) -> int:
  """Pads dynamic fallback batches to powers of two to bound recompilation."""
  return max(64, 1 << (int(size) - 1).bit_length())


@functools.partial(jax.jit, static_argnames=("combine",))
def _full_sum_correct(rows, labels, combine):
  """rows: raw[F, members, K]; sums member scores in order, argmax vs label."""
  scores = transform(rows, combine)
  total = scores[:, 0]
  for member in range(1, scores.shape[1]):
    total = total + scores[:, member]
  return jnp.argmax(total, axis=-1) == labels


def full_sum_correct(probs, members: np.ndarray, examples: np.ndarray, labels: np.ndarray,
                     combine: str, batch: int = 4096) -> np.ndarray:
  """Exact fallback: correctness of Σ_m score(probs[members[f, m], examples[f]]) over all K.

  Args:
    members: int[F, S] model indices summed (in order) for each undecided case.
    examples: int[F] example index of each case.
    labels: int[E] all labels.
  Returns bool[F].
  """
  out = np.zeros(len(examples), dtype=bool)
  for start in range(0, len(examples), batch):
    stop = min(start + batch, len(examples))
    size = _bucket(stop - start)
    member_rows = members[start:stop]
    example_rows = examples[start:stop]
    rows = np.stack([np.asarray(probs[member_rows[:, m], example_rows]) for m in range(members.shape[1])], axis=1)
    pad = size - (stop - start)
    rows = np.pad(rows, ((0, pad), (0, 0), (0, 0)), constant_values=1)
    row_labels = np.pad(np.asarray(labels)[example_rows], (0, pad))
    out[start:stop] = np.asarray(_full_sum_correct(jnp.asarray(rows), jnp.asarray(row_labels), combine))[:stop - start]
  return out
