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
  """Compact view of a float[N, E, K] prediction stack, enough to certify ensembles.

  Attributes:
    classes: int32[E, M] candidate class ids per example; column 0 is the label.
    label_scores: float32[N, E] each model's score of the label.
    margins: float32[N, E, M−1] label score minus the score of each other candidate.
    magnitude: float32[N, E] max |score| over the candidates (finite ones).
    outside: float32[N, E] upper bound of each model's score at any non-candidate.
    correct: bool[N, E] each model's own top-1 correctness (numpy.argmax semantics).
    labels: int32[E].
  """
  classes: jax.Array
  label_scores: jax.Array
  margins: jax.Array
  magnitude: jax.Array
  outside: jax.Array
  correct: jax.Array
  labels: jax.Array


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


def _model_array(probs, model: int) -> np.ndarray:
  """One model's [E, K] predictions as a C-contiguous numpy array (no copy if possible)."""
  raw = np.ascontiguousarray(np.asarray(probs[model]))
  if raw.dtype.name not in _BIT_VIEWS:
    raw = raw.astype(np.float32)
  return raw


def aligned_empty(shape, dtype, alignment: int = 64) -> np.ndarray:
  """An uninitialised numpy array whose data is ``alignment``-byte aligned, so that
  ``jax.device_put`` on CPU aliases it instead of copying."""
  size = int(np.prod(shape)) * np.dtype(dtype).itemsize
  buffer = np.empty(size + alignment, np.uint8)
  offset = (-buffer.ctypes.data) % alignment
  return buffer[offset:offset + size].view(dtype).reshape(shape)


def _as_device(raw: np.ndarray) -> jax.Array:
  # device_put aliases 64-byte-aligned host memory on CPU (no copy); jnp.asarray copies.
  return jax.device_put(raw)


@jax.jit
def _row_sums(raw):
  """Σ_k p[e, k] in float32, float32[E]. (XLA:CPU runs this one reduction at memory
  speed; fusing anything more into it, such as a sign check, makes it ~15x slower.)"""
  return jnp.sum(raw.astype(jnp.float32), axis=-1)


def _value_problem(bits: np.ndarray, dtype_name: str) -> str:
  """Describes what is wrong with rows (bit patterns) whose row sum is not finite."""
  _, inf_bits = _BIT_VIEWS[dtype_name]
  if np.any((bits & inf_bits) == inf_bits):
    return "NaN or infinite values; fix or drop that model's predictions"
  return "values so large that their float32 row sums overflow; pass softmax probabilities, not logits"


def _choose_candidate_classes(probs, labels, num_models: int, num_candidates: int, pool) -> np.ndarray:
  """int32[E, M]: the label, then the M − 1 classes with the highest max over a spread of models.

  Works on bit patterns (their order is the values' order for non-negative floats),
  in cache-sized row chunks spread over the worker threads. Any choice is correct
  (certification never trusts it); a good one only leaves fewer cases undecided.
  """
  voters = np.unique(np.linspace(0, num_models - 1, min(num_models, _CANDIDATE_VOTERS)).round().astype(int))

  def choose(rows: slice) -> np.ndarray:
    keys = None
    for model in voters:
      raw = np.asarray(probs[model, rows])       # a view of numpy input; a copy of this chunk only otherwise
      bits = raw.view(_BIT_VIEWS[raw.dtype.name][0])
      # Unvalidated here (the full pass validates every model); a NaN only costs speed.
      # Keys start at 1 so that a class already chosen (set to 0) never ties with one
      # still free: the M classes are always distinct.
      keys = np.bitwise_or(bits, 1) if keys is None else np.maximum(keys, bits, out=keys)
    row_index = np.arange(keys.shape[0])
    chosen = [labels[rows]]
    keys[row_index, chosen[0]] = 0
    for _ in range(num_candidates - 1):     # M − 1 argmax passes beat a top-k (a sort) on CPU
      best = keys.argmax(axis=1)
      keys[row_index, best] = 0
      chosen.append(best)
    return np.stack(chosen, axis=1).astype(np.int32)

  _, num_examples, num_classes = probs.shape
  rows = _chunk_rows(num_classes, np.dtype(probs.dtype).itemsize)   # the keys never leave the cache
  chunks = [slice(start, start + rows) for start in range(0, num_examples, rows)]
  return np.concatenate(list(pool.map(choose, chunks)))


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


def _read_model(probs, model: int, labels, classes, flat_index, combine, atol, name, dtype):
  """One pass over one model: checks, candidate values, outside bound and top-1 class."""
  raw = _model_array(probs, model)
  if raw.dtype != dtype:
    raise ValueError(f"{name}[{model}] has dtype {raw.dtype} but {name}[0] has {dtype}; store all models alike.")
  num_examples, num_classes = raw.shape
  bits = raw.view(_BIT_VIEWS[raw.dtype.name][0])
  flat_bits, num_candidates = bits.reshape(-1), classes.shape[1]
  candidate_bits = np.empty(classes.shape, bits.dtype)
  rows = _chunk_rows(num_classes, raw.dtype.itemsize)
  for start in range(0, num_examples, rows):     # in row chunks: the gather finds each chunk in cache
    stop = min(start + rows, num_examples)
    # A value with the sign bit set (negative, −0.0, −NaN) shows in the bitwise OR of
    # the chunk, a flat reduction ~3x faster than a per-row max; NaN and ±inf show in
    # the row sums below.
    if np.bitwise_or.reduce(flat_bits[start * num_classes:stop * num_classes]) & _SIGN_BITS[bits.dtype.type]:
      raise ValueError(f"{name}[{model}] holds negative values (or -0.0, or negative NaN); "
                       "pass softmax probabilities, not logits.")
    candidate_bits[start:stop] = np.take(flat_bits, flat_index[start * num_candidates:stop * num_candidates]
                                         ).reshape(stop - start, num_candidates)
  row_sums = np.asarray(_row_sums(_as_device(raw)), np.float64)
  invalid = ~np.isfinite(row_sums)
  if invalid.any():
    raise ValueError(f"{name}[{model}] holds {_value_problem(bits[invalid], raw.dtype.name)}.")
  if combine == "prob":
    tolerance = default_atol(raw.dtype) if atol is None else atol
    sum_error = float(np.max(np.abs(row_sums - 1.0)))
    if not sum_error <= tolerance:
      raise ValueError(
          f"{name}[{model}] rows do not sum to 1 (max |Σ_k p − 1| = {sum_error:.3g} > atol={tolerance:.3g}); "
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
  unresolved = np.flatnonzero(outside >= top_value)
  if unresolved.size:
    top[unresolved] = bits[unresolved].argmax(axis=1)
  return candidate_bits.view(raw.dtype), outside, top == labels


# Row chunks of this size stay in cache between the passes over them.
_CHUNK_BYTES = 4 << 20


def _chunk_rows(num_classes: int, itemsize: int) -> int:
  return max(1, _CHUNK_BYTES // (num_classes * itemsize))


@functools.partial(jax.jit, static_argnames=("combine",))
def _finish_view(candidate_values, outside, combine):
  scores = transform(candidate_values, combine)                        # [N, E, M]
  # Probabilities are >= 0, so a bound of 0 means "nothing outside"; log 0 = -inf.
  outside = transform(outside, combine)
  finite = jnp.where(jnp.isfinite(scores), jnp.abs(scores), 0.0)
  return scores[..., 0], scores[..., :1] - scores[..., 1:], jnp.max(finite, axis=-1), outside


def build_candidate_view(probs, labels, combine: str = "prob", num_candidates: int = 8,
                         atol: float | None = None, name: str = "probs", min_models: int = 1) -> CandidateView:
  """Validates a float[N, E, K] probability stack and builds its :class:`CandidateView`.

  Streams over models (``probs[n]`` one at a time, a few threads in parallel), so
  ``probs`` may be a numpy memory map larger than memory: one pass over up to 16
  models chooses the candidates, then one pass over every model reads them.
  Storage in bfloat16 or float32 is fastest (float16 row sums widen slowly on CPU).
  """
  if combine not in COMBINE_MODES:
    raise ValueError(f"combine must be one of {COMBINE_MODES}; got {combine!r}.")
  if num_candidates < 1:
    raise ValueError(f"num_candidates must be >= 1; got {num_candidates}.")
  num_models, num_examples, num_classes = _checks.check_prediction_stack(probs, name, min_models)
  labels = _checks.as_labels(labels, num_examples, num_classes)
  first = _model_array(probs, 0)
  if first.dtype.name not in _BIT_VIEWS:
    raise ValueError(f"{name} dtype {first.dtype} is not supported; use float32, float16 or bfloat16.")

  workers = max(1, min(4, os.cpu_count() or 1))
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    classes = _choose_candidate_classes(probs, labels, num_models, min(num_candidates, num_classes), pool)
    flat_index = (np.arange(num_examples)[:, None] * num_classes + classes).ravel()
    read = lambda model: _read_model(probs, model, labels, classes, flat_index, combine, atol, name, first.dtype)
    per_model = list(pool.map(read, range(num_models)))
  candidate_values, outside, correct = (np.stack(column) for column in zip(*per_model))
  label_scores, margins, magnitude, outside = _finish_view(jnp.asarray(candidate_values), jnp.asarray(outside),
                                                           combine)
  return CandidateView(classes=jnp.asarray(classes), label_scores=label_scores, margins=margins,
                       magnitude=magnitude, outside=outside, correct=jnp.asarray(correct),
                       labels=jnp.asarray(labels))


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


def full_sum_correct(probs, members: np.ndarray, examples: np.ndarray, labels: np.ndarray,
                     combine: str, batch: int = 4096) -> np.ndarray:
  """Exact fallback: correctness of Σ_m score(probs[members[f, m], examples[f]]) over all K.

  Computed as the naive loop computes it, in numpy: float32 scores (``np.log`` of
  them for ``combine="logit"``) added in member order, then ``argmax`` (lowest
  class id among ties). Rare cases only, so host numpy, whose argmax is several
  times faster than XLA:CPU's.

  Args:
    members: int[F, S] model indices summed (in order) for each undecided case.
    examples: int[F] example index of each case.
    labels: int[E] all labels.
  Returns bool[F].
  """
  labels = np.asarray(labels)
  out = np.zeros(len(examples), dtype=bool)
  for start in range(0, len(examples), batch):
    member_rows, example_rows = members[start:start + batch], examples[start:start + batch]
    total = None
    for member in range(members.shape[1]):
      scores = _float32_rows(np.asarray(probs[member_rows[:, member], example_rows]))
      if combine == "logit":
        with np.errstate(divide="ignore"):     # log 0 = -inf, as intended
          scores = np.log(scores)
      total = scores if total is None else np.add(total, scores, out=total)
    out[start:start + batch] = total.argmax(axis=1) == labels[example_rows]
  return out
