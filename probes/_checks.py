"""Input validation for the probes: clear ValueErrors before any fitting."""

from __future__ import annotations

import numpy as np


def features(x, name: str) -> np.ndarray:
  x = np.asarray(x)
  if x.ndim != 2:
    raise ValueError(f"{name} must be a 2-D array [examples, features]; got shape {x.shape}.")
  if x.shape[0] == 0 or x.shape[1] == 0:
    raise ValueError(f"{name} is empty (shape {x.shape}).")
  if not np.all(np.isfinite(x)):
    bad = np.argwhere(~np.isfinite(x))[0]
    raise ValueError(f"{name} holds NaN or infinite values (first at row {bad[0]}, feature {bad[1]}); "
                     "re-extract those embeddings or drop the examples.")
  return x.astype(np.float32)


def labels(y, num_examples: int, name: str, features_name: str) -> np.ndarray:
  y = np.asarray(y)
  if y.shape != (num_examples,):
    raise ValueError(f"{name} has shape {y.shape} but {features_name} has {num_examples} examples.")
  if not np.issubdtype(y.dtype, np.integer):
    raise ValueError(f"{name} must hold integer class ids; got dtype {y.dtype}.")
  return y.astype(np.int32)


def probe_inputs(x_train, y_train, x_val, y_val, x_test, y_test):
  """Validates a train/val/test split of features and integer labels; returns them and C."""
  x_train, x_val, x_test = (features(x, n) for x, n in ((x_train, "x_train"), (x_val, "x_val"), (x_test, "x_test")))
  y_train = labels(y_train, x_train.shape[0], "y_train", "x_train")
  y_val = labels(y_val, x_val.shape[0], "y_val", "x_val")
  y_test = labels(y_test, x_test.shape[0], "y_test", "x_test")
  if not x_train.shape[1] == x_val.shape[1] == x_test.shape[1]:
    raise ValueError(f"feature dimensions differ: x_train {x_train.shape[1]}, x_val {x_val.shape[1]}, "
                     f"x_test {x_test.shape[1]}.")
  if y_train.min() < 0:
    raise ValueError(f"y_train holds negative class ids ({y_train.min()}).")
  num_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
  missing = np.setdiff1d(np.arange(num_classes), y_train)
  if missing.size:
    raise ValueError(f"classes {missing[:10].tolist()} have no training example; a probe cannot learn them. "
                     "Use a split that covers every class, or relabel.")
  for name, y in (("y_val", y_val), ("y_test", y_test)):
    if y.min() < 0:
      raise ValueError(f"{name} holds negative class ids ({y.min()}).")
  return x_train, y_train, x_val, y_val, x_test, y_test, num_classes
