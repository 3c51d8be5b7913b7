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


def _model_label(name: str, index: int, model) -> str:
  """'probs[3]', or "probs[3] ('resnet50')" for per-model objects that carry a name."""
  own = getattr(model, "name", None)
  return f"{name}[{index}]" + (f" ({own!r})" if isinstance(own, str) else "")


def _is_floating(dtype) -> bool:
  dtype = np.dtype(dtype)
  return np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16"


class PredictionStack:
  """N models' float[E, K] predictions, read one model (or a few rows of one model) at a time.

  Wraps either one float[N, E, K] array (numpy, jax or a numpy memmap) or a sequence of
  N per-model float[E, K] array-likes (numpy memmaps, or lazy objects with ``shape``,
  ``dtype``, ``__getitem__`` and ``__array__``, such as ``launch.store.lazy_logits``).
  Shapes and dtypes of every model are checked up front from their attributes (no data
  read), so a bad model is refused, by index and name, before any work.
  """

  def __init__(self, probs, name: str = "probs", min_models: int = 1):
    self.name = name
    self.views = {}       # candidate views built from this stack (metrics.candidates.build_candidate_view)
    shape = getattr(probs, "shape", None)
    if shape is not None:
      self.num_models, self.num_examples, self.num_classes = check_prediction_stack(probs, name, min_models)
      self.dtype = np.dtype(probs.dtype)
      self._stack, self._models = probs, None
      return
    if not isinstance(probs, (list, tuple)):
      try:
        probs = list(probs)
      except TypeError:
        raise ValueError(f"{name} must be a float array [N models, E examples, K classes] or a sequence of N "
                         f"per-model [E, K] arrays; got {type(probs).__name__}.") from None
    self._stack, self._models = None, list(probs)
    if len(self._models) < min_models:
      raise ValueError(f"{name} needs at least {min_models} models (N) for this metric; got N={len(self._models)}.")
    expected = None
    for index, model in enumerate(self._models):
      model_shape, dtype = getattr(model, "shape", None), getattr(model, "dtype", None)
      label = _model_label(name, index, model)
      if model_shape is None or len(model_shape) != 2:
        raise ValueError(f"{label} must be a float array [E examples, K classes]; got shape {model_shape}.")
      if dtype is None or not _is_floating(dtype):
        raise ValueError(f"{label} must be floating point; got dtype {dtype}.")
      if expected is None:
        expected = (tuple(model_shape), np.dtype(dtype))
      elif (tuple(model_shape), np.dtype(dtype)) != expected:
        raise ValueError(f"{label} has shape {tuple(model_shape)} and dtype {np.dtype(dtype)} but {name}[0] has "
                         f"{expected[0]} and {expected[1]}; every model must cover the same examples and classes, "
                         "stored alike.")
    (self.num_examples, self.num_classes), self.dtype = expected
    self.num_models = len(self._models)
    if self.num_examples == 0:
      raise ValueError(f"{name} has no examples (E=0).")
    if self.num_classes < 2:
      raise ValueError(f"{name} needs at least 2 classes (K); got K={self.num_classes}.")

  @property
  def shape(self) -> tuple[int, int, int]:
    return (self.num_models, self.num_examples, self.num_classes)

  def __len__(self) -> int:
    return self.num_models

  def __getitem__(self, index: int) -> np.ndarray:
    """Model ``index``'s float[E, K] predictions (:meth:`model`), so a stack reads like a sequence."""
    if not isinstance(index, (int, np.integer)):
      raise TypeError(f"{self.name} is indexed by one model index; got {type(index).__name__}.")
    if not -self.num_models <= index < self.num_models:
      raise IndexError(f"{self.name} has {self.num_models} models; got index {index}.")
    return self.model(int(index) % self.num_models)

  @property
  def row_views(self) -> bool:
    """True when reading a few rows of a model is free (in-memory or memory-mapped numpy)."""
    return isinstance(self._stack if self._models is None else self._models[0], np.ndarray)

  def label(self, index: int) -> str:
    """How errors name model ``index``."""
    return _model_label(self.name, index, None if self._models is None else self._models[index])

  def model(self, index: int) -> np.ndarray:
    """Model ``index``'s float[E, K] predictions as a C-contiguous numpy array (a view if possible)."""
    source = self._stack[index] if self._models is None else self._models[index]
    raw = np.ascontiguousarray(np.asarray(source))
    if raw.shape != (self.num_examples, self.num_classes):
      raise ValueError(f"{self.label(index)} read as shape {raw.shape}, not its declared "
                       f"{(self.num_examples, self.num_classes)}.")
    return raw

  def rows(self, index: int, rows) -> np.ndarray:
    """Rows (a slice or an integer array) of model ``index``, float[r, K]."""
    if self._models is None:
      return np.asarray(self._stack[index, rows])
    return np.asarray(self._models[index][rows])

  def release(self, index: int) -> None:
    """Drops model ``index``'s memory-mapped pages from this process's memory (they stay in the
    page cache): a pass over a 20 GB memmap then holds a few models resident, not all of them."""
    source = self._stack if self._models is None else self._models[index]
    _drop_mapped_pages(source if self._models is not None else source[index])


def _drop_mapped_pages(array) -> None:
  """madvise(MADV_DONTNEED) on the pages of a read-only or shared numpy memmap (a no-op otherwise)."""
  import mmap
  mapping = getattr(array, "_mmap", None)
  if not isinstance(array, np.ndarray) or not isinstance(mapping, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
    return
  if getattr(array, "mode", None) not in ("r", "readonly", "r+", "readwrite"):
    return                        # a copy-on-write map would lose the caller's edits
  try:
    start = array.ctypes.data - np.frombuffer(mapping, np.uint8).ctypes.data
    aligned = start - start % mmap.PAGESIZE
    length = min(array.nbytes + start - aligned, len(mapping) - aligned)
    if length > 0:
      mapping.madvise(mmap.MADV_DONTNEED, aligned, length)
  except (OSError, ValueError, BufferError):
    pass                          # best effort: only memory use depends on it


def as_prediction_stack(probs, name: str = "probs", min_models: int = 1) -> PredictionStack:
  """``probs`` as a :class:`PredictionStack` (returned as is if it already is one)."""
  if not isinstance(probs, PredictionStack):
    return PredictionStack(probs, name, min_models)
  if probs.num_models < min_models:
    raise ValueError(f"{name} needs at least {min_models} models (N) for this metric; got N={probs.num_models}.")
  return probs
