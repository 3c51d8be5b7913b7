"""Two-model ensembles of every pair: accuracy, relative improvement, conversion rate.

Paper Fig. 2 (§3.2–3.4). The ensemble of models a and b predicts
argmax_k (p_a[k] + p_b[k]) (the average of calibrated probabilities; the factor ½ does
not change the argmax and is exact in floating point), or with ``combine="logit"``
argmax_k (log p_a[k] + log p_b[k]). Ties resolve to the lowest class id, as
``numpy.argmax`` does. Sums are computed in float32 on the stored values (float16 and
bfloat16 inputs are widened exactly), so results match the naive loop
``((p[a].astype(float32) + p[b]).argmax(-1) == y)`` bit for bit.

All N(N−1)/2 pairs are decided from a compact candidate view (:mod:`metrics.candidates`,
built by reading each model once, so the N models may be memmaps or lazy per-model
readers far larger than memory); only the rare undecided (pair, example) cases are
recomputed over all K classes, reading just those models' rows. The certification
kernel has a fixed shape — a tile of T ≤ 4 partner offsets × N models × one block of
examples, the tile's first offset a traced argument — so it compiles once whatever N,
and its example blocks are spread over a 1-D mesh of every device (all processes).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from metrics import _checks
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
# Partner offsets per kernel call. The first offset of a tile is a traced argument,
# so one compiled kernel serves every tile and its compile time does not grow with N.
_MAX_OFFSETS_PER_TILE = 4    # its compile time grows with T: 4 keeps the first call short
# Example blocks are spread over this axis of a mesh of every device.
MESH_AXIS = "examples"


def _offsets_per_tile(num_models: int) -> int:
  """T ≤ _MAX_OFFSETS_PER_TILE partner offsets per tile, spreading the ⌊N/2⌋ offsets evenly over the tiles."""
  half = max(1, num_models // 2)
  tiles = -(-half // _MAX_OFFSETS_PER_TILE)
  return -(-half // tiles)


def _block_width(num_models: int, num_rivals: int, num_examples: int) -> int:
  """Examples per kernel call: a multiple of the count lanes (or all examples if fewer)."""
  if jax.default_backend() == "cpu":
    bytes_per_example = 4 * (num_rivals + 4) * (num_models + num_models // 2)
    width = _CACHE_BYTES // bytes_per_example // _COUNT_LANES * _COUNT_LANES
  else:
    width = _ACCELERATOR_BLOCK
  width = max(_COUNT_LANES, width)
  return num_examples if num_examples <= width else width


def example_mesh(devices=None) -> Mesh:
  """A 1-D mesh (axis :data:`MESH_AXIS`, Auto) of ``devices``, default every device of every process."""
  devices = jax.devices() if devices is None else list(devices)
  return jax.make_mesh((len(devices),), (MESH_AXIS,), axis_types=(AxisType.Auto,), devices=devices)


# Channels of the packed kernel input (rivals follow).
_LABEL, _MAGNITUDE, _OUTSIDE, _CORRECT, _RIVALS = range(5)


def _pack(view: candidates_lib.CandidateView, width: int, group: int, rows: int) -> np.ndarray:
  """The view packed, in host memory, as float32[G, D, 4 + M−1, W, width]: G groups of D
  example blocks (one per device), channels label score, magnitude, outside bound,
  correctness (0/1), then the M−1 margins; model rows 0 … W−1 hold models n mod N, so
  the partners a + d (mod N) of every a are one contiguous window of rows. (One array
  per group: slicing five arrays per block costs more than the kernel, and a block
  picked inside the kernel by a dynamic index slows every fusion that reads it.)
  Padded examples get margins of −1 (certainly wrong; with no margins at all,
  undecided and skipped) and both models wrong (consistent), so they count nowhere."""
  num_models, num_examples = view.label_scores.shape
  num_rivals = view.margins.shape[-1]
  blocks = -(-num_examples // (width * group)) * group
  packed = candidates_lib.aligned_empty((blocks // group, group, 4 + num_rivals, rows, width), np.float32)
  wrap = np.arange(rows) % num_models
  padded = np.empty((num_models, blocks * width), np.float32)

  def put(channel, values, fill):
    padded[:, :num_examples] = values
    padded[:, num_examples:] = fill
    packed[:, :, channel] = padded[wrap].reshape(rows, blocks // group, group, width).transpose(1, 2, 0, 3)

  for channel, values in ((_LABEL, view.label_scores), (_MAGNITUDE, view.magnitude), (_OUTSIDE, view.outside),
                          (_CORRECT, view.correct)):
    put(channel, values, 0.0)
  for rival in range(num_rivals):
    put(_RIVALS + rival, view.margins[:, :, rival], -1.0)
  return packed


def _num_lanes(width: int) -> int:
  return _COUNT_LANES if width % _COUNT_LANES == 0 else width


def _lane_partial_sums(indicator):
  """int32[P, lanes]: a bool[P, B] indicator summed over examples lane-wise (example
  e adds to lane e mod lanes). XLA:CPU vectorises this sum across rows; summing a
  whole row at once is ~5x slower, so the lanes are added up once, at the end."""
  rows, width = indicator.shape
  lanes = _num_lanes(width)
  return jnp.sum(indicator.reshape(rows, width // lanes, lanes), axis=1, dtype=jnp.int32)


def _certify_one_block(channels, first_offset, running_counts, num_models: int, offsets: int):
  """One example block, T partner offsets d = first_offset … first_offset + T − 1.

  channels: float32[4 + M−1, W, B] (see :func:`_pack`); running_counts: int32[3, T·N, lanes]
  → state int8[T, N, B] for the pairs (a, a + d mod N), holding bits _CERTAIN, _UNDECIDED
    and _INCONSISTENT (exactly one member right), zero for offsets past ⌊N/2⌋ and for
    the repeated half of offset N/2; and running_counts plus this block's certain,
    certain-and-inconsistent and inconsistent examples.
  """
  n, half = num_models, num_models // 2
  own = channels[:, :n]
  # Every partner of the tile in one window: one dynamic slice, then static ones.
  window = jax.lax.dynamic_slice_in_dim(channels, first_offset, n + offsets - 1, axis=1)
  unpack = lambda x: (x[_LABEL], x[_MAGNITUDE], x[_OUTSIDE], x[_CORRECT] > 0, x[_RIVALS:])
  label_a, magnitude_a, outside_a, correct_a, rivals_a = unpack(own)
  row = jax.lax.broadcasted_iota(jnp.int32, (n, 1), 0)
  bit = lambda flag, value: jnp.where(flag, jnp.int8(value), jnp.int8(0))
  states = []
  for step in range(offsets):                       # static: one fusion each
    label_b, magnitude_b, outside_b, correct_b, rivals_b = unpack(window[:, step:step + n])
    # The smallest summed margin, as a chain of elementwise minima: a reduction over
    # a short minor axis is several times slower on XLA:CPU.
    worst = functools.reduce(jnp.minimum, [ra + rb for ra, rb in zip(rivals_a, rivals_b)],
                             jnp.full_like(label_a, jnp.inf))
    tolerance = candidates_lib.rounding_tolerance(2, magnitude_a + magnitude_b)
    certain, undecided = candidates_lib.certify(label_a + label_b, worst[..., None], tolerance,
                                                outside_a + outside_b)
    offset = first_offset + step
    valid = (offset <= half) & ((2 * offset != n) | (row < half))
    state = bit(certain, _CERTAIN) | bit(undecided, _UNDECIDED) | bit(correct_a != correct_b, _INCONSISTENT)
    states.append(jnp.where(valid, state, jnp.int8(0)))
  state = jnp.stack(states)
  flat = state.reshape(offsets * n, -1)
  has = lambda bits: (flat & bits) == bits
  block_counts = jnp.stack([_lane_partial_sums(has(bits)) for bits in
                            (_CERTAIN, _CERTAIN | _INCONSISTENT, _INCONSISTENT)])
  return state, running_counts + block_counts


@functools.partial(jax.jit, static_argnames=("num_models", "offsets"))
def _certify_tile(channels, first_offset, running_counts, *, num_models: int, offsets: int):
  """:func:`_certify_one_block` on each device's block: channels float32[D, C, W, B],
  running_counts int32[D, 3, T·N, lanes], both sharded over the mesh; first_offset a
  traced int32 (one compilation for every tile)."""
  certify = functools.partial(_certify_one_block, num_models=num_models, offsets=offsets)
  return jax.vmap(certify, in_axes=(0, None, 0))(channels, first_offset, running_counts)


@jax.jit
def _tile_totals(running_counts):
  return jnp.sum(running_counts, axis=(0, 3))


@dataclasses.dataclass
class _PairTotals:
  """Host-side results of the all-pairs pass, in :func:`pair_indices` order."""
  counts: np.ndarray                  # int32[3, P]: ensemble correct, converted, inconsistent
  ensemble_correct: np.ndarray | None  # bool[P, E], if kept
  num_recomputed: int


def _tile_rows(first_offset: int, offsets: int, num_models: int):
  """(step, first pair index, pairs) of each partner offset of a tile up to ⌊N/2⌋, in
  :func:`pair_indices` order (every offset has N pairs but N/2, which has N/2)."""
  half = num_models // 2
  for step in range(offsets):
    offset = first_offset + step
    if offset > half:
      return
    yield step, (offset - 1) * num_models, half if 2 * offset == num_models else num_models


def _all_pairs(stack, view: candidates_lib.CandidateView, combine: str, keep_outcomes: bool,
               mesh: Mesh | None = None) -> _PairTotals:
  """Certifies every pair on every example over the mesh, then recomputes the undecided
  cases exactly. Pair tiles (T partner offsets) run one after another; within a tile,
  example-block groups (one block per device) are dispatched back to back, and each
  group's state is read (addressable shards only) while the next one runs."""
  mesh = example_mesh() if mesh is None else mesh
  devices = mesh.size
  # Processes whose devices the mesh spans (a caller may pass one process's devices in a
  # multi-process run): only those take part in the collectives below.
  processes = len({device.process_index for device in mesh.devices.flat})
  num_models, num_examples = view.correct.shape
  offsets = _offsets_per_tile(num_models)
  tiles = -(-(num_models // 2) // offsets)
  num_pairs = num_models * (num_models - 1) // 2
  width = _block_width(num_models, view.margins.shape[-1], num_examples)
  lanes = _num_lanes(width)
  block_sharding = NamedSharding(mesh, PartitionSpec(MESH_AXIS))
  packed = _pack(view, width, devices, num_models + tiles * offsets)
  groups = [jax.device_put(group, block_sharding) for group in packed]
  counts = np.zeros((3, num_pairs), np.int32)
  out = None
  if keep_outcomes:   # with several processes, each fills only its own examples' columns (then OR-ed)
    out = candidates_lib.aligned_empty((num_pairs, num_examples), np.bool_)
    if processes > 1:
      out[:] = False
  undecided_pairs, undecided_examples = [], []
  zero_counts = candidates_lib.aligned_empty((devices, 3, offsets * num_models, lanes), np.int32)
  zero_counts[:] = 0

  def local_blocks(state):
    """(device position, int8[T, N, B]) of each block of ``state`` held by this process."""
    if devices == 1 and processes == 1:
      return [(0, np.asarray(state)[0])]
    return [(shard.index[0].start or 0, np.asarray(shard.data)[0]) for shard in state.addressable_shards]

  def read_state(state, group_index, first_offset):
    for position, data in local_blocks(state):
      start = (group_index * devices + position) * width
      columns = min(width, num_examples - start)
      if columns <= 0:
        continue
      if out is not None:
        for step, base, rows in _tile_rows(first_offset, offsets, num_models):
          # _CERTAIN is bit 0, so `state & _CERTAIN` is already a valid bool byte.
          np.bitwise_and(data[step, :rows, :columns], _CERTAIN,
                         out=out[base:base + rows, start:start + columns].view(np.int8))
      # A flat scan of the contiguous block (several times faster than a 3-D nonzero).
      hits = np.flatnonzero(np.bitwise_and(data, _UNDECIDED).view(np.uint8))
      step_row, column = np.divmod(hits, width)
      keep = column < columns
      undecided_pairs.append((first_offset + step_row[keep] // num_models - 1) * num_models
                             + step_row[keep] % num_models)
      undecided_examples.append(start + column[keep])

  for tile in range(tiles):
    first_offset = tile * offsets + 1
    running = jax.device_put(zero_counts, block_sharding)          # aliases the host zeros on CPU
    pending = None
    for group_index, channels in enumerate(groups):    # dispatched back to back; read one behind
      state, running = _certify_tile(channels, np.int32(first_offset), running, num_models=num_models,
                                     offsets=offsets)
      if pending is not None:
        read_state(*pending)
      pending = (state, group_index, first_offset)
    read_state(*pending)
    totals = (np.asarray(running).sum(axis=(0, 3)) if processes == 1   # [3, T·N]
              else np.asarray(_tile_totals(running)))
    for step, base, rows in _tile_rows(first_offset, offsets, num_models):
      counts[:, base:base + rows] = totals[:, step * num_models:step * num_models + rows]

  fixes, out, num_recomputed = _recompute_undecided(stack, view, combine, undecided_pairs, undecided_examples,
                                                    num_pairs, out, processes)
  counts[:2] += fixes
  return _PairTotals(counts=counts, ensemble_correct=out, num_recomputed=num_recomputed)


def _recompute_undecided(stack, view, combine, undecided_pairs, undecided_examples, num_pairs, out, processes):
  """The exact pass of :func:`_all_pairs`: each (pair, example) the certificate left undecided
  is recomputed from the full probabilities. Returns (int32 [2, P] the ensemble-correct and
  converted counts to add, the outcomes ``out`` with those cases filled in (None if not kept),
  the number of recomputed cases), summed over processes."""
  num_models = view.correct.shape[0]
  pairs = np.concatenate(undecided_pairs) if undecided_pairs else np.zeros(0, np.int64)
  examples = np.concatenate(undecided_examples) if undecided_examples else np.zeros(0, np.int64)
  fixes = np.zeros((2, num_pairs), np.int32)          # this process's exact ensemble-correct, converted
  if pairs.size:
    pair_a, pair_b = pair_indices(num_models)
    members = np.stack([pair_a[pairs], pair_b[pairs]], axis=1)
    exact = candidates_lib.full_sum_correct(stack, members, examples, view.labels, combine)
    inconsistent = view.correct[members[:, 0], examples] != view.correct[members[:, 1], examples]
    np.add.at(fixes[0], pairs, exact.astype(np.int32))
    np.add.at(fixes[1], pairs, (exact & inconsistent).astype(np.int32))
    if out is not None:
      out[pairs, examples] = exact
  num_recomputed = int(pairs.size)
  if processes > 1:          # each process decided the examples of its own devices
    fixes = np.sum(multihost_utils.process_allgather(fixes), axis=0, dtype=np.int32)
    num_recomputed = int(np.sum(multihost_utils.process_allgather(np.int64(num_recomputed))))
    if out is not None:
      out = np.any(multihost_utils.process_allgather(out), axis=0)
  return fixes, out, num_recomputed


def pairwise_outcomes(probs, labels, combine: str = "prob", *, num_candidates: int = 8,
                      atol: float | None = None, mesh: Mesh | None = None) -> PairwiseOutcomes:
  """Per-example correctness of every model and of every two-model ensemble.

  Args:
    probs: float[N, E, K] calibrated probabilities (numpy, jax or a numpy memmap), or
      a sequence of N per-model float[E, K] array-likes (memmaps, the store's
      ``launch.store.lazy_logits``); read one model at a time.
    labels: int[E] in [0, K).
    combine: "prob" averages probabilities, "logit" averages log-probabilities.
    num_candidates: candidate classes kept per example (a speed knob; results
      do not depend on it).
    atol: tolerance on |Σ_k p − 1| for ``combine="prob"``; default 1e-3 plus the
      storage dtype's eps (bfloat16 rounding alone moves row sums by ~0.4%).
    mesh: a 1-D :func:`example_mesh` to spread example blocks over (default: every device).
  Raises:
    ValueError: shapes disagree, N < 2, labels outside [0, K), NaN/inf or negative
      probabilities, or rows that do not sum to 1 (naming the model).
  """
  stack = _checks.as_prediction_stack(probs, "probs", min_models=2)
  view = candidates_lib.build_candidate_view(stack, labels, combine, num_candidates, atol, min_models=2)
  totals = _all_pairs(stack, view, combine, keep_outcomes=True, mesh=mesh)
  pair_a, pair_b = pair_indices(view.correct.shape[0])
  ensemble_count, converted_count, inconsistent_count = totals.counts
  return PairwiseOutcomes(correct=jax.device_put(view.correct), pair_a=pair_a, pair_b=pair_b,
                          ensemble_correct=jax.device_put(totals.ensemble_correct),
                          num_recomputed=totals.num_recomputed,
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


def _summary_from_counts(correct, ensemble_count, converted_count, inconsistent_count, pair_a, pair_b):
  """:func:`summarize_outcomes` with uniform weights, from integer counts, in host numpy float32
  (the same IEEE operations as the jitted path, and nothing to compile on a first call)."""
  f32 = lambda x: np.asarray(x).astype(np.float32)
  correct_count = f32(np.sum(np.asarray(correct), axis=1, dtype=np.int32))
  stats = _statistics(correct_count, f32(ensemble_count), f32(converted_count), f32(inconsistent_count),
                      np.float32(np.asarray(correct).shape[1]), np.asarray(pair_a), np.asarray(pair_b), xp=np)
  return {key: jax.device_put(value) for key, value in stats.items()}


def _host_matrix(values, pair_a, pair_b, diagonal):
  """:func:`_to_matrix` in numpy."""
  matrix = np.diag(np.asarray(diagonal))
  matrix[pair_a, pair_b] = values
  matrix[pair_b, pair_a] = values
  return matrix


def _statistics(correct_count, ensemble_count, converted_count, inconsistent_count, total, pair_a, pair_b, xp=jnp):
  """The pairwise statistics of :func:`summarize_outcomes` from (weighted) counts (xp: jnp or np)."""
  to_matrix = _to_matrix if xp is jnp else _host_matrix
  accuracy = correct_count / total
  ensemble_accuracy = ensemble_count / total
  has_inconsistent = inconsistent_count > 0
  with np.errstate(invalid="ignore", divide="ignore"):
    conversion = xp.where(has_inconsistent,
                          converted_count / xp.where(has_inconsistent, inconsistent_count, xp.float32(1.0)),
                          xp.float32(xp.nan))
  mean_member = xp.float32(0.5) * (accuracy[pair_a] + accuracy[pair_b])
  n = accuracy.shape[0]
  zeros = xp.zeros(n, xp.float32)
  return {
      "accuracy": accuracy,
      "ensemble_accuracy": to_matrix(ensemble_accuracy, pair_a, pair_b, accuracy),
      "relative_improvement": to_matrix(ensemble_accuracy - mean_member, pair_a, pair_b, zeros),
      "error_inconsistency": to_matrix(inconsistent_count / total, pair_a, pair_b, zeros),
      "conversion_rate": to_matrix(conversion, pair_a, pair_b, xp.full(n, xp.nan, xp.float32)),
  }


def summarize(outcomes: PairwiseOutcomes, weights=None) -> dict[str, jax.Array]:
  """:func:`summarize_outcomes` of a :class:`PairwiseOutcomes` (uniform weights by default)."""
  if weights is None and outcomes.counts is not None:
    return _summary_from_counts(outcomes.correct, outcomes.counts["ensemble_correct"], outcomes.counts["converted"],
                                outcomes.counts["inconsistent"], outcomes.pair_a, outcomes.pair_b)
  if weights is not None:
    weights = jnp.asarray(weights, jnp.float32)
  return summarize_outcomes(outcomes.correct, outcomes.ensemble_correct,
                            jnp.asarray(outcomes.pair_a), jnp.asarray(outcomes.pair_b), weights)


def pairwise_ensemble(probs, labels, combine: str = "prob", *, num_candidates: int = 8,
                      atol: float | None = None, mesh: Mesh | None = None) -> dict[str, jax.Array]:
  """Two-model ensemble metrics for all pairs of N models (paper Fig. 2).

  Args:
    probs: float[N, E, K] calibrated probabilities, or a sequence of N per-model
      float[E, K] array-likes (see :func:`pairwise_outcomes`).
    labels: int[E].
    combine: "prob" (average probabilities) or "logit" (average log-probabilities).
    mesh: see :func:`pairwise_outcomes`.
  Returns:
    A dict of float32[N, N] symmetric matrices ``ensemble_accuracy``,
    ``relative_improvement`` (ensemble accuracy − mean member accuracy),
    ``conversion_rate`` (share of exactly-one-correct examples the ensemble gets
    right; NaN where there are none) and ``error_inconsistency``; plus
    ``accuracy`` float32[N] and ``ensemble_correct_count`` int32[N, N]. Only
    per-pair counts are kept (not the [P, E] outcomes), so memory stays
    O(N·E·M + E·K) for a thousand models.
  """
  stack = _checks.as_prediction_stack(probs, "probs", min_models=2)
  view = candidates_lib.build_candidate_view(stack, labels, combine, num_candidates, atol, min_models=2)
  totals = _all_pairs(stack, view, combine, keep_outcomes=False, mesh=mesh)
  pair_a, pair_b = pair_indices(view.correct.shape[0])
  ensemble_count, converted_count, inconsistent_count = totals.counts
  result = _summary_from_counts(view.correct, ensemble_count, converted_count, inconsistent_count, pair_a, pair_b)
  own = np.sum(view.correct, axis=1, dtype=np.int32)
  result["ensemble_correct_count"] = jax.device_put(_host_matrix(ensemble_count, pair_a, pair_b, own))
  return result
