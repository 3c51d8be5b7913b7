"""The probe splits' class convention: only the classes the training part holds are probed.

A held-out slice of a 1,000-class split may miss a class; no probe could learn it, so its
validation and test examples are left out (the test ones count as wrong), the remaining
classes are renumbered densely 0..C−1, and a split so small that no validation example is of
a training class chooses λ on the training part. The study's single-label probes (Fig. 6,
the concatenation gains of the similarity link) all use this one definition.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DenseClassSplit(NamedTuple):
  """Which examples a probe trained on ``classes`` can be scored on.

  classes: sorted class ids of the training part. keep_val / keep_test: bool masks of the
  validation / test examples whose class is among them. val_from_train: no validation example
  is, so λ is chosen on the training part."""
  classes: np.ndarray
  keep_val: np.ndarray
  keep_test: np.ndarray
  val_from_train: bool

  def dense(self, labels) -> np.ndarray:
    """Labels of known classes renumbered 0..C−1 in class order (searchsorted into ``classes``)."""
    return np.searchsorted(self.classes, labels)

  def validation(self, x_train, y_train, x_val, y_val):
    """(x, dense labels) that choose λ: the kept validation examples, or the training part."""
    if self.val_from_train:
      return x_train, self.dense(y_train)
    return x_val[self.keep_val], self.dense(np.asarray(y_val)[self.keep_val])


def dense_class_split(y_train, y_val, y_test) -> DenseClassSplit:
  """The :class:`DenseClassSplit` of integer label arrays y_train, y_val, y_test."""
  classes = np.unique(np.asarray(y_train))
  keep_val, keep_test = np.isin(np.asarray(y_val), classes), np.isin(np.asarray(y_test), classes)
  return DenseClassSplit(classes, keep_val, keep_test, not bool(keep_val.any()))
