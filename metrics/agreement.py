"""Agreement in correctness between every pair of models (paper Fig. 1, §3.1).

All functions take ``correct``: bool[N, E], whether model n classified example e
correctly, and return float32[N, N] matrices for all pairs at once. Optional
``weights`` float[E] weight the examples (the paired bootstrap passes resampling
counts); with no weights every example counts once.

Notation for a pair (a, b), with w the example weights and W = Σ_e w_e:
  A = Σ_e w_e r_a(e),   B = Σ_e w_e r_b(e),   S = Σ_e w_e r_a(e) r_b(e).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metrics import _checks


def _weights_or_ones(weights, num_examples):
  return jnp.ones((num_examples,), jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)


@jax.jit
def _joint_counts(correct, weights):
  """Returns (S [N,N], A [N], W): weighted both-correct counts, accuracies, total."""
  c = correct.astype(jnp.float32)
  both = jnp.matmul(c * weights, c.T, precision=jax.lax.Precision.HIGHEST)
  return both, c @ weights, weights.sum()


@jax.jit
def joint_outcome_rates(correct, weights):
  """P(both correct), P(only a), P(only b), P(both wrong) for every pair, float32[N, N] each.

  P(both) = S/W, P(only a) = (A−S)/W, P(only b) = (B−S)/W, P(neither) = (W−A−B+S)/W.
  Jit-compiled; ``weights`` float[E] is required here (use ones for plain rates).
  """
  both, acc, total = _joint_counts(correct, weights)
  only_a = acc[:, None] - both
  only_b = acc[None, :] - both
  neither = total - acc[:, None] - acc[None, :] + both
  return {
      "both_correct": both / total,
      "only_a": only_a / total,
      "only_b": only_b / total,
      "both_wrong": neither / total,
  }


@jax.jit
def _error_inconsistency(correct, weights):
  both, acc, total = _joint_counts(correct, weights)
  inconsistent = acc[:, None] + acc[None, :] - 2.0 * both
  eye = jnp.eye(correct.shape[0], dtype=bool)
  return jnp.where(eye, 0.0, inconsistent / total)


@jax.jit
def _cohen_kappa(correct, weights):
  return _kappa_from_counts(*_joint_counts(correct, weights))


def _kappa_from_counts(both, acc, total):
  """κ [N, N] from weighted both-correct counts S [N, N], accuracies A [N] and W (see module doc)."""
  a, b = acc[:, None], acc[None, :]
  numerator = 2.0 * (both * total - a * b)
  denominator = a * (total - b) + b * (total - a)
  # The denominator is exactly 0 only when both models are always right or always
  # wrong (A = B ∈ {0, W}); chance agreement is then 1 and κ is undefined.
  return jnp.where(denominator == 0, jnp.nan, numerator / jnp.where(denominator == 0, 1.0, denominator))


def error_inconsistency(correct, weights=None) -> jax.Array:
  """Observed error inconsistency of every pair (paper Fig. 1, Fig. 2 x-axis).

  EI(a, b) = (1/W) Σ_e w_e [r_a(e) XOR r_b(e)] = (A + B − 2S)/W: the fraction of
  examples on which exactly one of the two models is correct. Not chance-corrected
  (that is :func:`cohen_kappa`). Diagonal is 0.

  Args:
    correct: bool[N, E] per-model correctness.
    weights: optional float[E] non-negative example weights.
  Returns:
    float32[N, N], symmetric.
  """
  correct = _checks.as_correctness(correct, min_models=2)
  weights = _checks.as_weights(weights, correct.shape[1])
  return _error_inconsistency(correct, _weights_or_ones(weights, correct.shape[1]))


def cohen_kappa(correct, weights=None) -> jax.Array:
  """Error consistency κ of every pair (Geirhos et al., 2020).

  c_obs = P(both right) + P(both wrong), c_exp = p_a p_b + (1−p_a)(1−p_b) with p the
  accuracies, κ = (c_obs − c_exp)/(1 − c_exp), computed in the equivalent exact-count
  form κ = 2(SW − AB) / (A(W−B) + B(W−A)). NaN where c_exp = 1 (both models always
  right, or both always wrong). Equals ``sklearn.metrics.cohen_kappa_score`` of the two
  correctness vectors.

  Returns:
    float32[N, N], symmetric; diagonal 1 except for degenerate models (NaN).
  """
  correct = _checks.as_correctness(correct, min_models=2)
  weights = _checks.as_weights(weights, correct.shape[1])
  return _cohen_kappa(correct, _weights_or_ones(weights, correct.shape[1]))


def outcome_rates(correct, weights=None) -> dict[str, jax.Array]:
  """Joint outcome rates of every pair: ``both_correct``, ``only_a``, ``only_b``, ``both_wrong``.

  Entry [a, b] of ``only_a`` is the fraction of examples only model a gets right
  (paper Fig. 3 panels). Each is float32[N, N] and the four sum to 1.
  """
  correct = _checks.as_correctness(correct)
  weights = _checks.as_weights(weights, correct.shape[1])
  return joint_outcome_rates(correct, _weights_or_ones(weights, correct.shape[1]))


@jax.jit
def accuracy(correct, weights):
  """Weighted accuracy of each model, float32[N]: Σ_e w_e r_n(e) / W."""
  c = correct.astype(jnp.float32)
  return (c @ weights) / weights.sum()


def top1_correct(scores, labels) -> np.ndarray:
  """bool[N, E]: argmax_k scores[n, e, k] == labels[e], ties to the lowest class (numpy.argmax).

  ``scores`` is one float[N, E, K] array or a sequence of N per-model float[E, K]
  array-likes (memmaps, the store's lazy reader), then read one model at a time.
  """
  stack = _checks.as_prediction_stack(scores, "scores")
  labels = _checks.as_labels(labels, stack.num_examples, stack.num_classes)
  if isinstance(scores, (np.ndarray, jax.Array)) and not isinstance(scores, np.memmap):
    return np.asarray(_top1_correct(jnp.asarray(scores), jnp.asarray(labels)))
  labels = jnp.asarray(labels)
  out = np.empty(stack.shape[:2], bool)
  for model in range(stack.num_models):
    out[model] = np.asarray(_top1_correct(jnp.asarray(stack.model(model))[None], labels))[0]
    stack.release(model)
  return out


@jax.jit
def _top1_correct(scores, labels):
  return jnp.argmax(scores, axis=-1) == labels[None, :]
