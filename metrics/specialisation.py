"""Specialisation: who is confident where (paper Fig. 3 and Fig. 4, §3.6–3.7).

θ(e) = atan2(c_a(e), c_b(e)) in degrees, with c_n(e) = max_k p_n(k | x_e) the calibrated
top-1 confidence: 45° means equally confident, 90° only model a confident, 0° only
model b. Examples are split by outcome into four groups, in this order:
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics import _checks

OUTCOME_GROUPS = ("both_correct", "both_wrong", "only_a", "only_b")
__doc__ += "``" + "``, ``".join(OUTCOME_GROUPS) + "``."


def theta(conf_a, conf_b):
  """Specialisation angle in degrees, θ = atan2(conf_a, conf_b) ∈ [0°, 90°] (broadcasting).

  The one definition of θ. Two float64 numpy arrays give a float64 numpy result (the host-side
  statistics of the claims and the similarity link); anything else (jax arrays, tracers, lists)
  a float32 jax array, so it runs inside jit."""
  if all(isinstance(c, np.ndarray) and c.dtype == np.float64 for c in (conf_a, conf_b)):
    return np.degrees(np.arctan2(conf_a, conf_b))
  return _theta_float32(conf_a, conf_b)


@jax.jit
def _theta_float32(conf_a, conf_b):
  return jnp.degrees(jnp.arctan2(jnp.asarray(conf_a, jnp.float32), jnp.asarray(conf_b, jnp.float32)))


@jax.jit
def top1_confidence(probs):
  """c_n(e) = max_k probs[n, e, k]: float32[N, E] (works on [E, K] too)."""
  return jnp.max(jnp.asarray(probs).astype(jnp.float32), axis=-1)


@jax.jit
def outcome_group(correct_a, correct_b):
  """Index into OUTCOME_GROUPS of each example: 0 both right, 1 both wrong, 2 only a, 3 only b."""
  a, b = correct_a.astype(jnp.int32), correct_b.astype(jnp.int32)
  return jnp.where(a == b, 1 - a, 2 + b)


def _bin_index(angles, bins):
  return jnp.clip(jnp.floor(angles / 90.0 * bins).astype(jnp.int32), 0, bins - 1)


@functools.partial(jax.jit, static_argnames=("bins",))
def _theta_histograms(conf, correct, mask, bins):
  num_models = conf.shape[0]

  def row(a):
    angles = theta(conf[a][None, :], conf)                    # [N, E]
    group = outcome_group(correct[a][None, :], correct)       # [N, E]
    segment = (jnp.arange(num_models)[:, None] * 4 + group) * bins + _bin_index(angles, bins)
    counts = jax.ops.segment_sum(jnp.broadcast_to(mask, segment.shape).ravel(), segment.ravel(),
                                 num_segments=num_models * 4 * bins)
    return counts.reshape(num_models, 4, bins)

  return jax.lax.map(row, jnp.arange(num_models))


def theta_histograms(conf, correct, *, bins: int = 18, example_mask=None) -> dict[str, np.ndarray]:
  """Histograms of θ for every ordered pair, split by outcome group (paper Fig. 3).

  counts[a, b, g, i] = #{e ∈ mask : group_ab(e) = g, θ_ab(e) ∈ bin i}, with θ_ab =
  atan2(c_a, c_b) and equal-width bins over [0°, 90°] (90° falls in the last bin).
  The paper histograms "examples where at least one ensemble produced error
  inconsistency": pass that union as ``example_mask`` (see :func:`inconsistent_anywhere`).

  Args:
    conf: float[N, E] calibrated top-1 confidences (:func:`top1_confidence`).
    correct: bool[N, E].
    example_mask: optional bool[E].
  Returns:
    {"counts": int32[N, N, 4, bins], "edges": float[bins + 1], "groups": OUTCOME_GROUPS}
  """
  correct = _checks.as_correctness(correct)
  conf = np.asarray(conf, np.float32)
  if conf.shape != correct.shape:
    raise ValueError(f"conf has shape {conf.shape} but correct has {correct.shape}; both must be [N, E].")
  if not np.all(np.isfinite(conf)) or np.any(conf < 0):
    raise ValueError("conf must hold finite, non-negative confidences.")
  if bins < 1:
    raise ValueError(f"bins must be >= 1; got {bins}.")
  mask = np.ones(conf.shape[1], bool) if example_mask is None else np.asarray(example_mask, bool)
  if mask.shape != (conf.shape[1],):
    raise ValueError(f"example_mask must have shape [E]=({conf.shape[1]},); got {mask.shape}.")
  counts = _theta_histograms(jnp.asarray(conf), jnp.asarray(correct), jnp.asarray(mask, jnp.int32), bins)
  return {"counts": np.asarray(counts), "edges": np.linspace(0.0, 90.0, bins + 1), "groups": OUTCOME_GROUPS}


def inconsistent_anywhere(correct, pairs) -> np.ndarray:
  """bool[E]: examples where exactly one model is right in at least one of ``pairs`` [(a, b), ...]."""
  correct = _checks.as_correctness(correct)
  mask = np.zeros(correct.shape[1], bool)
  for a, b in pairs:
    mask |= correct[a] != correct[b]
  return mask


@functools.partial(jax.jit, static_argnames=("num_classes",))
def _per_class_outcomes(correct, labels, num_classes):
  num_models = correct.shape[0]

  def row(a):
    group = outcome_group(correct[a][None, :], correct)        # [N, E]
    segment = (jnp.arange(num_models)[:, None] * 4 + group) * num_classes + labels[None, :]
    counts = jax.ops.segment_sum(jnp.ones(segment.size, jnp.int32), segment.ravel(),
                                 num_segments=num_models * 4 * num_classes)
    return counts.reshape(num_models, 4, num_classes)

  return jax.lax.map(row, jnp.arange(num_models))


def per_class_outcomes(correct, labels, num_classes: int) -> dict[str, np.ndarray]:
  """Outcome counts per class for every ordered pair (paper Fig. 4).

  Returns a dict mapping each name in OUTCOME_GROUPS to int32[N, N, K]:
  entry [a, b, k] counts the examples of class k in that group for pair (a, b).
  """
  correct = _checks.as_correctness(correct)
  labels = _checks.as_labels(labels, correct.shape[1], num_classes)
  counts = np.asarray(_per_class_outcomes(jnp.asarray(correct), jnp.asarray(labels), num_classes))
  return {name: counts[:, :, g] for g, name in enumerate(OUTCOME_GROUPS)}


def class_specialisation(correct, labels, num_classes: int) -> np.ndarray:
  """Per-class specialisation of every ordered pair, float[N, N, K] (paper Fig. 4).

  s[a, b, k] = (only_a − only_b) / (only_a + only_b) over the examples of class k:
  +1 when every inconsistent example of class k is won by model a, −1 when all go to b,
  NaN when the class has no inconsistent example.
  """
  counts = per_class_outcomes(correct, labels, num_classes)
  only_a, only_b = counts["only_a"].astype(np.float64), counts["only_b"].astype(np.float64)
  total = only_a + only_b
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(total > 0, (only_a - only_b) / total, np.nan)
