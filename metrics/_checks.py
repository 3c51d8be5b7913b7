"""Argument validation shared by the metric functions.

Every check runs on the host, before any jitted kernel, and raises ``ValueError``
naming the argument and what is wrong with it, so a bad call never produces a
partial result.
"""

from __future__ import annotations

import numpy as np


def as_labels(labels, num_examples: int, num_classes: int | None, name: str = "labels") -> np.ndarray:
  """Returns ``labels`` as int32[E] after checking shape and range."""
  labels = np.asarray(labels)
  if labels.ndim != 1:
    raise ValueError(f"{name} must be a 1-D integer array [E]; got shape {labels.shape}.")
  if labels.shape[0] != num_examples:
    raise ValueError(
        f"{name} has {labels.shape[0]} examples but the predictions have {num_examples}; "
        "pass the labels of exactly the evaluated examples, in the same order.")
  if not np.issubdtype(labels.dtype, np.integer):
    if labels.size and not np.all(np.mod(labels, 1) == 0):
      raise ValueError(f"{name} must hold integer class ids; got dtype {labels.dtype}.")
  if num_classes is not None and labels.size:
    low, high = labels.min(), labels.max()
    if low < 0 or high >= num_classes:
      raise ValueError(
          f"{name} must lie in [0, {num_classes}) (the number of classes K of the "
          f"predictions); found values in [{low}, {high}].")
  return labels.astype(np.int32)


def as_correctness(correct, name: str = "correct", min_models: int = 1) -> np.ndarray:
  """Returns ``correct`` as bool[N, E] after checking it."""
  correct = np.asarray(correct)
  if correct.ndim != 2:
    raise ValueError(f"{name} must be a boolean array [N models, E examples]; got shape {correct.shape}.")
  if correct.dtype != np.bool_:
    if not np.all((correct == 0) | (correct == 1)):
      raise ValueError(f"{name} must hold booleans (or 0/1); got other values of dtype {correct.dtype}.")
  if correct.shape[0] < min_models:
    raise ValueError(f"{name} needs at least {min_models} models (N) for pairwise metrics; got N={correct.shape[0]}.")
  if correct.shape[1] == 0:
    raise ValueError(f"{name} has no examples (E=0).")
  return correct.astype(bool)


def as_weights(weights, num_examples: int, name: str = "weights") -> np.ndarray | None:
  """Checks optional per-example weights (non-negative, finite, not all zero)."""
  if weights is None:
    return None
  weights = np.asarray(weights, dtype=np.float32)
  if weights.shape != (num_examples,):
    raise ValueError(f"{name} must have shape [E]=({num_examples},); got {weights.shape}.")
  if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
    raise ValueError(f"{name} must be finite, non-negative and not all zero.")
  return weights


def check_prediction_stack(array, name: str, min_models: int = 1) -> tuple[int, int, int]:
  """Checks a float[N, E, K] stack of per-model predictions; returns (N, E, K)."""
  shape = getattr(array, "shape", None)
  if shape is None or len(shape) != 3:
    raise ValueError(f"{name} must be a float array [N models, E examples, K classes]; got shape {shape}.")
  dtype = np.dtype(array.dtype)
  if not (np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16"):
    raise ValueError(f"{name} must be floating point; got dtype {dtype}.")
  n, e, k = shape
  if n < min_models:
    raise ValueError(f"{name} needs at least {min_models} models (N) for this metric; got N={n}.")
  if e == 0:
    raise ValueError(f"{name} has no examples (E=0).")
  if k < 2:
    raise ValueError(f"{name} needs at least 2 classes (K); got K={k}.")
  return n, e, k


def check_index_list(indices, num_models: int, name: str, allow_empty: bool = False) -> list[int]:
  """Checks a list of model indices (unique, in range)."""
  indices = [int(i) for i in np.atleast_1d(np.asarray(indices, dtype=np.int64))]
  if not indices and not allow_empty:
    raise ValueError(f"{name} is empty; give at least one model index.")
  bad = [i for i in indices if not 0 <= i < num_models]
  if bad:
    raise ValueError(f"{name} holds model indices {bad} outside [0, {num_models}).")
  if len(set(indices)) != len(indices):
    raise ValueError(f"{name} holds repeated model indices: {indices}.")
  return indices
