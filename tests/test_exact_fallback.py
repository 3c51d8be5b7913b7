"""``metrics.candidates.full_sum_correct`` (the exact fallback of the all-pairs and greedy
paths) against a plain loop: any number of members, cases in any order, many cases per
example, batches split anywhere, ties, both combine modes, in-memory and lazy models."""

import ml_dtypes
import numpy as np
import pytest

from conftest import random_probs
from metrics import candidates


class Lazy:
  """A per-model object with only shape, dtype, __getitem__ and __array__ (as a store reader)."""

  def __init__(self, values):
    self.values, self.shape, self.dtype = values, values.shape, values.dtype

  def __getitem__(self, key):
    return self.values[key]

  def __array__(self, dtype=None, copy=None):
    return self.values if dtype is None else self.values.astype(dtype)


def naive(probs, members, examples, labels, combine):
  out = []
  for case, example in enumerate(examples):
    total = None
    for model in members[case]:              # summed in member order, float32, as the naive loop
      score = probs[model, example].astype(np.float32)
      if combine == "logit":
        with np.errstate(divide="ignore"):
          score = np.log(score)
      total = score if total is None else total + score
    out.append(total.argmax() == labels[example])
  return np.asarray(out)


@pytest.mark.parametrize("combine", ["prob", "logit"])
@pytest.mark.parametrize("num_members", [2, 3])
@pytest.mark.parametrize("batch_rows", [None, 7])       # 7: batches end mid-example
def test_matches_a_plain_loop(rng, combine, num_members, batch_rows):
  probs = random_probs(rng, 6, 40, 5, ml_dtypes.bfloat16, ties=True, scale=1.0)
  labels = rng.integers(0, 5, 40)
  num_cases = 300                            # ≈ 7 cases per example: repeated (model, example) rows
  members = np.stack([rng.choice(6, num_members, replace=False) for _ in range(num_cases)])
  examples = rng.integers(0, 40, num_cases)
  expected = naive(probs, members, examples, labels, combine)
  assert 0 < expected.sum() < num_cases      # both outcomes occur
  for source in (probs, [Lazy(p) for p in probs]):
    got = candidates.full_sum_correct(source, members, examples, labels, combine, batch_rows=batch_rows)
    np.testing.assert_array_equal(got, expected)


def test_no_cases(rng):
  probs = random_probs(rng, 2, 4, 3)
  got = candidates.full_sum_correct(probs, np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                                    np.zeros(4, np.int64), "prob")
  assert got.shape == (0,) and got.dtype == bool
