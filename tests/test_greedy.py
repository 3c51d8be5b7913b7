"""Greedy ensemble selection vs. a naive loop over candidates."""

import numpy as np
import pytest

import metrics
from conftest import DTYPES, random_probs


def naive_greedy(probs, labels, start, pool, steps, eval_probs=None, eval_labels=None):
  """Adds, step by step, the pool model maximising the accuracy of the float32 sum."""
  members, pool = [start], sorted(pool)
  total = probs[start].astype(np.float32)
  accuracy = [np.mean(total.argmax(-1) == labels)]
  eval_total = None if eval_probs is None else eval_probs[start].astype(np.float32)
  eval_accuracy = None if eval_probs is None else [np.mean(eval_total.argmax(-1) == eval_labels)]
  for _ in range(steps):
    best, best_accuracy = None, -1.0
    for candidate in pool:
      candidate_accuracy = np.mean((total + probs[candidate].astype(np.float32)).argmax(-1) == labels)
      if candidate_accuracy > best_accuracy:
        best, best_accuracy = candidate, candidate_accuracy
    members.append(best)
    pool.remove(best)
    total = total + probs[best].astype(np.float32)
    accuracy.append(best_accuracy)
    if eval_probs is not None:
      eval_total = eval_total + eval_probs[best].astype(np.float32)
      eval_accuracy.append(np.mean(eval_total.argmax(-1) == eval_labels))
  return members, np.array(accuracy), eval_accuracy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_candidates", [1, 4])
def test_matches_naive_loop(rng, dtype, num_candidates):
  probs = random_probs(rng, 7, 400, 8, dtype)
  labels = rng.integers(0, 8, 400)
  result = metrics.greedy_selection(probs, labels, start=3, pool=[0, 1, 2, 4, 5, 6], steps=5,
                                    num_candidates=num_candidates)
  members, accuracy, _ = naive_greedy(probs, labels, 3, [0, 1, 2, 4, 5, 6], 5)
  assert result.members == members
  np.testing.assert_allclose(result.accuracy, accuracy)
  assert result.added == members[1:]


def test_ties_between_candidates_pick_lowest_index(rng):
  probs = random_probs(rng, 4, 200, 5, ties=True, scale=1.0)
  probs[3] = probs[1]  # two identical candidates: always tied
  labels = rng.integers(0, 5, 200)
  result = metrics.greedy_selection(probs, labels, start=0, pool=[3, 2, 1], steps=3)
  members, accuracy, _ = naive_greedy(probs, labels, 0, [3, 2, 1], 3)
  assert result.members == members
  assert result.members.index(1) < result.members.index(3)
  np.testing.assert_allclose(result.accuracy, accuracy)


def test_select_on_one_split_report_another(rng):
  probs = random_probs(rng, 6, 300, 6)
  eval_probs = random_probs(rng, 6, 150, 6)
  labels, eval_labels = rng.integers(0, 6, 300), rng.integers(0, 6, 150)
  result = metrics.greedy_selection(probs, labels, 0, [1, 2, 3, 4, 5], 4, eval_probs=eval_probs,
                                    eval_labels=eval_labels, num_candidates=2)
  members, accuracy, eval_accuracy = naive_greedy(probs, labels, 0, [1, 2, 3, 4, 5], 4, eval_probs, eval_labels)
  assert result.members == members
  np.testing.assert_allclose(result.accuracy, accuracy)
  np.testing.assert_allclose(result.eval_accuracy, eval_accuracy)


def test_logit_mode(rng):
  probs = random_probs(rng, 5, 200, 6, scale=3.0)
  labels = rng.integers(0, 6, 200)
  result = metrics.greedy_selection(probs, labels, 0, [1, 2, 3, 4], 3, combine="logit")
  logs = np.log(probs)
  members, accuracy, _ = naive_greedy(logs, labels, 0, [1, 2, 3, 4], 3)
  assert result.members == members
  np.testing.assert_allclose(result.accuracy, accuracy)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start=0, pool=[], steps=1), "pool is empty"),
    (dict(start=0, pool=[0, 1], steps=1), "pool contains the start model"),
    (dict(start=0, pool=[1, 2], steps=3), r"steps must be in \[1, len\(pool\)=2\]"),
    (dict(start=0, pool=[1, 2], steps=0), "steps must be in"),
    (dict(start=5, pool=[1, 2], steps=1), r"start holds model indices \[5\]"),
    (dict(start=0, pool=[1, 1], steps=1), "repeated model indices"),
    (dict(start=0, pool=[1, 9], steps=1), r"outside \[0, 3\)"),
])
def test_bad_arguments_are_refused(rng, kwargs, message):
  probs = random_probs(rng, 3, 20, 4)
  with pytest.raises(ValueError, match=message):
    metrics.greedy_selection(probs, rng.integers(0, 4, 20), **kwargs)


def test_eval_split_must_match_models(rng):
  probs = random_probs(rng, 3, 20, 4)
  with pytest.raises(ValueError, match="same 3 models"):
    metrics.greedy_selection(probs, rng.integers(0, 4, 20), 0, [1, 2], 1,
                             eval_probs=random_probs(rng, 2, 10, 4), eval_labels=np.zeros(10, int))
