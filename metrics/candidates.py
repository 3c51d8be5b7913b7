"""Certified top-1 of summed predictions without touching all K classes.

The argmax of a sum of model scores Σ_s x_s[k] over K = 1000 classes is the hot loop
of every ensemble metric (3,321 pairs × 50,000 examples in the paper). It can almost
always be decided from a handful of classes, a threshold-algorithm certificate:

* Per example e, a small candidate set U_e of M classes: the label first, then the
  classes with the highest probability under any of a spread of the models.
* For every model s: its label score L_s = x_s[y], the margins x_s[y] − x_s[m] to the
  other candidates m, the magnitude A_s = max |x_s| over the candidates, and an upper
  bound B_s ≥ x_s[k] for every class k ∉ U_e (the probability mass outside U_e, read
  off the row sum; probabilities are non-negative, so no single class exceeds it).
* An ensemble is *certainly right* when every summed margin exceeds the rounding
  tolerance τ = 8·S·u·Σ_s A_s (S members, u = 2⁻²⁴; it covers the rounding of both
  the naive float32 sums and of our margin sums, so the naive comparison is strict)
  and the summed label score strictly beats the summed bounds (rounded float32
  addition is monotone in each argument); *certainly wrong* when some summed margin
  is below −τ; otherwise *undecided*, and recomputed over all K classes exactly as the
  naive loop computes it. Ties (exact or within τ) are thus always settled by the
  naive rule: lowest class id, as ``numpy.argmax``.

Scores are the stored values widened to float32 (exact for float16/bfloat16), or
their logarithm for ``combine="logit"`` (averaging calibrated log-probabilities has
the same argmax as averaging calibrated logits: the two differ by a per-model,
per-example constant).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import os

import jax
import jax.numpy as jnp
import numpy as np

from metrics import _checks

COMBINE_MODES = ("prob", "logit")
UNIT_ROUNDOFF = 2.0 ** -24  # float32
# Models whose max over classes chooses the candidates (spread evenly over the stack).
_CANDIDATE_VOTERS = 16
# Rows whose outside mass exceeds this fraction of their top candidate get an exact bound
# (on the benchmark, 0.125 → 22,090 undecided cases, 0.5 → 22,259, 1.0 → 45,686).
_LOOSE_BOUND = 0.5


def transform(raw, combine: str):
  """Scores that ensembles add up: probabilities as float32, or their log."""
  raw = raw.astype(jnp.float32)
  return jnp.log(raw) if combine == "logit" else raw


def rounding_tolerance(num_members, magnitude_sum):
  """τ = 8·S·u·Σ_s A_s: bound on the rounding of S-term float32 sums and margins."""
  return 8.0 * num_members * UNIT_ROUNDOFF * magnitude_sum


@dataclasses.dataclass(frozen=True)
class CandidateView:
  """Compact view of N models' float[E, K] predictions, enough to certify ensembles
  (host numpy arrays: the all-pairs pass packs them, greedy selection gathers them).

  Attributes:
    classes: int32[E, M] candidate class ids per example; column 0 is the label.
    label_scores: float32[N, E] each model's score of the label.
    margins: float32[N, E, M−1] label score minus the score of each other candidate.
    magnitude: float32[N, E] max |score| over the candidates (finite ones).
    outside: float32[N, E] upper bound of each model's score at any non-candidate.
    correct: bool[N, E] each model's own top-1 correctness (numpy.argmax semantics).
    labels: int32[E].
    confidence: float32[N, E] each model's row maximum max_k x[e, k] (the stored value,
      widened): the top-1 confidence of calibrated probabilities, read in the same pass.
  """
  classes: jax.Array
  label_scores: jax.Array
  margins: jax.Array
  magnitude: jax.Array
  outside: jax.Array
  correct: jax.Array
  labels: jax.Array
  confidence: jax.Array | None = None


# Bit patterns of non-negative IEEE floats sort like their values, and equal values
# have equal bits; so maxima over models, argmax passes and row maxima run on unsigned
# integer views, which numpy reduces with SIMD several times faster than XLA:CPU
# reduces floats, and without widening 16-bit storage to float32.
_BIT_VIEWS = {"float32": (np.uint32, 0x7F800000), "float16": (np.uint16, 0x7C00),
              "bfloat16": (np.uint16, 0x7F80)}
_SIGN_BITS = {np.uint32: 0x80000000, np.uint16: 0x8000}


def default_atol(dtype) -> float:
  """Tolerance on |Σ_k p − 1|: 1e-3 plus the storage format's rounding (eps)."""
  return 1e-3 + float(jnp.finfo(dtype).eps)


def _supported(raw: np.ndarray) -> np.ndarray:
  """Float storage other than float32/float16/bfloat16 (e.g. float64) as float32."""
  return raw if raw.dtype.name in _BIT_VIEWS else raw.astype(np.float32)


def aligned_empty(shape, dtype, alignment: int = 64) -> np.ndarray:
  """An uninitialised numpy array whose data is ``alignment``-byte aligned, so that
  ``jax.device_put`` on CPU aliases it instead of copying."""
  size = int(np.prod(shape)) * np.dtype(dtype).itemsize
  buffer = np.empty(size + alignment, np.uint8)
  offset = (-buffer.ctypes.data) % alignment
  return buffer[offset:offset + size].view(dtype).reshape(shape)


def _value_problem(bits: np.ndarray, dtype_name: str) -> str:
  """Describes what is wrong with rows (bit patterns) whose row sum is not finite."""
  _, inf_bits = _BIT_VIEWS[dtype_name]
  if np.any((bits & inf_bits) == inf_bits):
    return "NaN or infinite values; fix or drop that model's predictions"
  return "values so large that their float32 row sums overflow; pass softmax probabilities, not logits"


def _choose_candidate_classes(stack: _checks.PredictionStack, labels, num_candidates: int, pool) -> np.ndarray:
  """int32[E, M]: the label, then the M − 1 classes with the highest max over a spread of models.

  Works on bit patterns (their order is the values' order for non-negative floats).
  Numpy-backed input (arrays, memmaps) is read in cache-sized row chunks of every
  voter at once; other per-model objects voter by voter into one [E, K] running
  maximum (memory O(E·K)). Any choice is correct (certification never trusts it);
  a good one only leaves fewer cases undecided.
  """
  num_models, num_examples, num_classes = stack.shape
  voters = np.unique(np.linspace(0, num_models - 1, min(num_models, _CANDIDATE_VOTERS)).round().astype(int))
  rows = _chunk_rows(num_classes, stack.dtype.itemsize)   # the keys never leave the cache
  chunks = [slice(start, start + rows) for start in range(0, num_examples, rows)]

  def bits_of(raw):
    raw = _supported(raw)
    return raw.view(_BIT_VIEWS[raw.dtype.name][0])

  def merge(keys, bits):
    # Unvalidated here (the full pass validates every model); a NaN only costs speed.
    # Keys start at 1 so that a class already chosen (set to 0) never ties with one
    # still free: the M classes are always distinct.
    return np.bitwise_or(bits, 1) if keys is None else np.maximum(keys, bits, out=keys)

  def pick(keys, rows) -> np.ndarray:
    row_index = np.arange(keys.shape[0])
    chosen = [labels[rows]]
    keys[row_index, chosen[0]] = 0
    for _ in range(num_candidates - 1):     # M − 1 argmax passes beat a top-k (a sort) on CPU
      best = keys.argmax(axis=1)
      keys[row_index, best] = 0
      chosen.append(best)
    return np.stack(chosen, axis=1).astype(np.int32)

  if stack.row_views:
    def choose(rows: slice) -> np.ndarray:
      keys = None
      for model in voters:
        keys = merge(keys, bits_of(stack.rows(model, rows)))   # a view: no copy of numpy input
      return pick(keys, rows)
    classes = np.concatenate(list(pool.map(choose, chunks)))
  else:
    keys = None
    for model in voters:
      bits = bits_of(stack.model(model))
      if keys is None:
        keys = np.bitwise_or(bits, 1)
      else:
        list(pool.map(lambda rows: np.maximum(keys[rows], bits[rows], out=keys[rows]), chunks))
    classes = np.concatenate(list(pool.map(lambda rows: pick(keys[rows], rows), chunks)))
  for model in voters:
    stack.release(model)
  return classes


def _widened(bits: np.ndarray, dtype_name: str) -> np.ndarray:
  """The float32 values of stored bit patterns (exact for every supported dtype)."""
  if dtype_name == "bfloat16":          # a bfloat16 is the top half of a float32
    return (bits.astype(np.uint32) << 16).view(np.float32)
  if dtype_name == "float16":
    return bits.view(np.float16).astype(np.float32)
  return bits.view(np.float32)


def _upper_float32(values: np.ndarray) -> np.ndarray:
  """float64 → the nearest float32 at or above each value."""
  rounded = values.astype(np.float32)
  return np.where(rounded < values, np.nextafter(rounded, np.float32(np.inf)), rounded)


def _read_model(stack: _checks.PredictionStack, model: int, labels, classes, flat_index, combine, atol):
  """One pass over one model: checks, candidate values, outside bound and top-1 class.
  (Then its memory-mapped pages, if any, are dropped.)"""
  try:
    return _model_statistics(_supported(stack.model(model)), stack.label(model), labels, classes, flat_index,
                             combine, atol)
  finally:
    stack.release(model)


def _model_statistics(raw: np.ndarray, name: str, labels, classes, flat_index, combine, atol):
  num_examples, num_classes = raw.shape
  bits = raw.view(_BIT_VIEWS[raw.dtype.name][0])
  flat_bits, num_candidates = bits.reshape(-1), classes.shape[1]
  candidate_bits = np.empty(classes.shape, bits.dtype)
  row_sums = np.empty(num_examples, np.float32)
  rows = _chunk_rows(num_classes, raw.dtype.itemsize)
  for start in range(0, num_examples, rows):     # in row chunks: every pass finds the chunk in cache
    stop = min(start + rows, num_examples)
    # A value with the sign bit set (negative, −0.0, −NaN) shows in the bitwise OR of
    # the chunk, a flat reduction ~3x faster than a per-row max; NaN and ±inf show in
    # the row sums below.
    if np.bitwise_or.reduce(flat_bits[start * num_classes:stop * num_classes]) & _SIGN_BITS[bits.dtype.type]:
      raise ValueError(f"{name} holds negative values (or -0.0, or negative NaN); "
                       "pass softmax probabilities, not logits.")
    candidate_bits[start:stop] = np.take(flat_bits, flat_index[start * num_candidates:stop * num_candidates]
                                         ).reshape(stop - start, num_candidates)
    # Σ_k p[e, k] in float32 (numpy sums contiguous rows pairwise, within the bound used below).
    row_sums[start:stop] = raw[start:stop].astype(np.float32, copy=False).sum(axis=1, dtype=np.float32)
  row_sums = row_sums.astype(np.float64)
  invalid = ~np.isfinite(row_sums)
  if invalid.any():
    raise ValueError(f"{name} holds {_value_problem(bits[invalid], raw.dtype.name)}.")
  if combine == "prob":
    tolerance = default_atol(raw.dtype) if atol is None else atol
    sum_error = float(np.max(np.abs(row_sums - 1.0)))
    if not sum_error <= tolerance:
      raise ValueError(
          f"{name} rows do not sum to 1 (max |Σ_k p − 1| = {sum_error:.3g} > atol={tolerance:.3g}); "
          "pass calibrated softmax probabilities (see metrics.apply_temperature), not logits.")
  candidate_floats = _widened(candidate_bits, raw.dtype.name)
  top_value = candidate_floats.max(axis=1)        # the row maximum unless `outside` reaches it
  # Mass outside the candidates, rounded up: the float32 row sum errs by at most
  # (K−1)·u·Σp (doubled for safety); the candidate sum is exact in float64.
  candidate_sum = candidate_floats.sum(axis=1, dtype=np.float64)
  outside = _upper_float32(np.maximum(row_sums * (1.0 + 2.0 * num_classes * UNIT_ROUNDOFF) - candidate_sum, 0.0))
  # Where that mass is large next to the top candidate the bound would be too loose
  # to certify anything: read the exact largest non-candidate value of those rows.
  loose = np.flatnonzero(outside > _LOOSE_BOUND * top_value)
  if loose.size:
    masked = np.take(bits, loose, axis=0)                  # a copy: zero the candidates in it
    np.put_along_axis(masked, classes[loose], 0, axis=1)
    outside[loose] = _widened(masked.max(axis=1), raw.dtype.name)
  # Top-1 class: every non-candidate is at most `outside`; below the candidates'
  # maximum, the argmax is the lowest candidate id at that maximum. Otherwise some
  # other class might reach it: a full argmax.
  top = np.where(candidate_floats == top_value[:, None], classes, num_classes).min(axis=1)
  confidence = top_value.astype(np.float32)     # the row maximum wherever every other class stays below it
  unresolved = np.flatnonzero(outside >= top_value)
  if unresolved.size:
    unresolved_bits = bits[unresolved]
    top[unresolved] = unresolved_bits.argmax(axis=1)
    confidence[unresolved] = _widened(unresolved_bits.max(axis=1), raw.dtype.name)
  return candidate_bits.view(raw.dtype), outside, top == labels, confidence


# Row chunks of this size stay in cache between the passes over them.
_CHUNK_BYTES = 4 << 20


def _chunk_rows(num_classes: int, itemsize: int) -> int:
  return max(1, _CHUNK_BYTES // (num_classes * itemsize))


def _finish_view(candidate_values: np.ndarray, outside: np.ndarray, combine: str):
  """(label scores [N, E], margins [N, E, M−1], magnitude [N, E], outside scores [N, E]), float32,
  in host numpy (as the naive loop and the exact fallback compute scores, and nothing to compile)."""
  scores = _float32_rows(candidate_values)                              # [N, E, M]
  if combine == "logit":
    with np.errstate(divide="ignore"):      # probabilities are >= 0: log 0 = -inf, as intended
      scores, outside = np.log(scores), np.log(outside)
  finite = np.where(np.isfinite(scores), np.abs(scores), np.float32(0.0))
  return (np.ascontiguousarray(scores[..., 0]), scores[..., :1] - scores[..., 1:], finite.max(axis=-1),
          np.asarray(outside, np.float32))


def build_candidate_view(probs, labels, combine: str = "prob", num_candidates: int = 8,
                         atol: float | None = None, name: str = "probs", min_models: int = 1) -> CandidateView:
  """Validates N models' probabilities and builds their :class:`CandidateView`.

  ``probs`` is one float[N, E, K] array or a sequence of N per-model float[E, K]
  array-likes (see :class:`metrics._checks.PredictionStack`); either may be larger
  than memory. Streams over models (a few threads in parallel): one pass over up to
  16 models chooses the candidates, then one pass over every model validates it (by
  index and name) and reads its candidates; memory O(N·E·M + E·K). Storage in
  bfloat16 or float32 is fastest (float16 row sums widen slowly on CPU).

  A :class:`metrics._checks.PredictionStack` keeps the views built from it (one per
  labels/combine/num_candidates/atol), so the pairwise pass and every greedy run over
  the same stack read the models once between them.
  """
  if combine not in COMBINE_MODES:
    raise ValueError(f"combine must be one of {COMBINE_MODES}; got {combine!r}.")
  if num_candidates < 1:
    raise ValueError(f"num_candidates must be >= 1; got {num_candidates}.")
  stack = _checks.as_prediction_stack(probs, name, min_models)
  num_models, num_examples, num_classes = stack.shape
  labels = _checks.as_labels(labels, num_examples, num_classes)
  storage = np.dtype(stack.dtype) if np.dtype(stack.dtype).name in _BIT_VIEWS else np.dtype(np.float32)
  num_candidates = min(num_candidates, num_classes)
  key = (combine, num_candidates, atol, hashlib.sha256(labels.tobytes()).hexdigest())
  if key in stack.views:
    return stack.views[key]

  workers = max(1, min(4, os.cpu_count() or 1))
  candidate_values = aligned_empty((num_models, num_examples, num_candidates), storage)
  outside = aligned_empty((num_models, num_examples), np.float32)
  correct = aligned_empty((num_models, num_examples), np.bool_)
  confidence = aligned_empty((num_models, num_examples), np.float32)
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    classes = _choose_candidate_classes(stack, labels, num_candidates, pool)
    flat_index = (np.arange(num_examples)[:, None] * num_classes + classes).ravel()

    def read(model):
      candidate_values[model], outside[model], correct[model], confidence[model] = _read_model(
          stack, model, labels, classes, flat_index, combine, atol)

    list(pool.map(read, range(num_models)))
  label_scores, margins, magnitude, outside = _finish_view(candidate_values, outside, combine)
  view = CandidateView(classes=classes, label_scores=label_scores, margins=margins, magnitude=magnitude,
                       outside=outside, correct=correct, labels=labels, confidence=confidence)
  stack.views[key] = view
  return view


def certify(label_sum, margin_sum, tolerance, outside_sum):
  """Decides ensemble correctness from summed candidate statistics.

  Args:
    label_sum: float[...] summed label scores (in member order, as the naive sum).
    margin_sum: float[..., M−1] summed margins label − rival.
    tolerance: float[...] rounding tolerance τ (:func:`rounding_tolerance`).
    outside_sum: float[...] summed outside bounds.
  Returns:
    (certainly_correct, undecided) bool[...] arrays.
  """
  worst = jnp.min(margin_sum, axis=-1, initial=jnp.inf)
  wrong = worst < -tolerance
  correct = (worst > tolerance) & (label_sum > outside_sum)
  return correct, ~wrong & ~correct


def _float32_rows(rows: np.ndarray) -> np.ndarray:
  """Stored prediction rows as float32 (exact widening)."""
  if rows.dtype.name in _BIT_VIEWS:
    return _widened(rows.view(_BIT_VIEWS[rows.dtype.name][0]), rows.dtype.name)
  return rows.astype(np.float32)


_FALLBACK_BYTES = 128 << 20    # the exact fallback's rows per batch (its sums take as much again)


def full_sum_correct(probs, members: np.ndarray, examples: np.ndarray, labels: np.ndarray,
                     combine: str, batch_rows: int | None = None) -> np.ndarray:
  """Exact fallback: correctness of Σ_m score(probs[members[f, m], examples[f]]) over all K.

  Computed as the naive loop computes it, in numpy: float32 scores (``np.log`` of
  them for ``combine="logit"``) added in member order, then ``argmax`` (lowest
  class id among ties). Rare cases only, so host numpy, whose argmax is several
  times faster than XLA:CPU's. Reads only the rows it needs, each (model, example)
  row once per batch: cases are sorted by example, so a batch spans few examples
  and each model's rows in it are one indexed read of neighbouring rows (one store
  chunk, a few pages of a memmap) whatever the number of cases per example.

  Args:
    probs: an [N, E, K] array, a sequence of per-model [E, K] arrays, or a
      :class:`metrics._checks.PredictionStack`.
    members: int[F, S] model indices summed (in order) for each undecided case.
    examples: int[F] example index of each case.
    labels: int[E] all labels.
    batch_rows: (model, example) rows held per batch (default: 128 MiB of float32 rows).
  Returns bool[F].
  """
  stack = _checks.as_prediction_stack(probs)
  labels, members, examples = np.asarray(labels), np.asarray(members, np.int64), np.asarray(examples, np.int64)
  out = np.zeros(len(examples), dtype=bool)
  if not len(examples):
    return out
  num_members = members.shape[1]
  order = np.lexsort((members[:, 0], examples))
  batch_rows = batch_rows or max(num_members, _FALLBACK_BYTES // (4 * stack.num_classes))
  batch = max(1, batch_rows // num_members)
  for start in range(0, len(examples), batch):
    cases = order[start:start + batch]
    example_rows = examples[cases]
    # Every (model, example) row the batch sums, read once: unique keys model·E + example
    # sort by model, then example, so each model's rows are one sorted indexed read.
    keys, slot = np.unique(members[cases] * stack.num_examples + example_rows[:, None], return_inverse=True)
    slot = slot.reshape(len(cases), num_members)
    scores = np.empty((len(keys), stack.num_classes), np.float32)
    models, first = np.unique(keys // stack.num_examples, return_index=True)   # keys are sorted: runs
    for model, lo, hi in zip(models, first, np.append(first[1:], len(keys))):
      scores[lo:hi] = _float32_rows(_supported(stack.rows(int(model), keys[lo:hi] % stack.num_examples)))
      # Drop the memory-mapped pages now: each scattered row read maps its neighbours
      # too (the kernel's fault-around), so a batch would otherwise hold gigabytes.
      stack.release(int(model))
    if combine == "logit":
      with np.errstate(divide="ignore"):     # log 0 = -inf, as intended
        scores = np.log(scores)
    total = scores[slot[:, 0]]
    for position in range(1, num_members):
      total += scores[slot[:, position]]
    out[cases] = total.argmax(axis=1) == labels[example_rows]
  return out
