"""All-pairs ensemble metrics vs. the naive per-pair loop, bit for bit."""

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import metrics
from conftest import DTYPES, random_probs


def naive_pairwise(probs, labels, combine="prob"):
  """Plain numpy loop over pairs: the definition the fast path must reproduce exactly."""
  scores = probs.astype(np.float32)
  if combine == "logit":
    with np.errstate(divide="ignore"):
      scores = np.log(scores)
  n = probs.shape[0]
  correct = np.stack([scores[m].argmax(-1) == labels for m in range(n)])
  accuracy = correct.mean(1)
  ensemble = np.zeros((n, n))
  conversion = np.full((n, n), np.nan)
  for a in range(n):
    for b in range(n):
      ens_correct = (scores[a] + scores[b]).argmax(-1) == labels
      ensemble[a, b] = ens_correct.mean()
      inconsistent = correct[a] != correct[b]
      if inconsistent.any():
        conversion[a, b] = ens_correct[inconsistent].mean()
  improvement = ensemble - (accuracy[:, None] + accuracy[None, :]) / 2
  ei = (correct[:, None, :] != correct[None, :, :]).mean(-1)
  return dict(accuracy=accuracy, ensemble_accuracy=ensemble, relative_improvement=improvement,
              conversion_rate=conversion, error_inconsistency=ei, correct=correct)


def assert_matches_naive(probs, labels, combine="prob", **kwargs):
  expected = naive_pairwise(probs, labels, combine)
  result = metrics.pairwise_ensemble(probs, labels, combine, **kwargs)
  n, e = probs.shape[:2]
  counts = np.asarray(result["ensemble_correct_count"])
  np.testing.assert_array_equal(counts, np.round(expected["ensemble_accuracy"] * e).astype(int))
  for key in ("accuracy", "ensemble_accuracy", "relative_improvement", "conversion_rate", "error_inconsistency"):
    np.testing.assert_allclose(np.asarray(result[key]), expected[key], atol=1e-6, err_msg=key)
  return result


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_candidates", [1, 3, 8])
def test_random_inputs_match_naive_loop(rng, dtype, num_candidates):
  probs = random_probs(rng, 5, 300, 12, dtype)
  labels = rng.integers(0, 12, 300)
  assert_matches_naive(probs, labels, num_candidates=num_candidates)


@pytest.mark.parametrize("dtype", DTYPES)
def test_deliberate_ties_resolve_to_lowest_class(rng, dtype):
  probs = random_probs(rng, 4, 400, 6, dtype, ties=True, scale=1.0)
  probs[1] = probs[0]  # identical models: every tie of model 0 is a tie of the ensemble
  labels = rng.integers(0, 6, 400)
  result = assert_matches_naive(probs, labels, num_candidates=2)
  ties = (probs[0].astype(np.float32) == probs[0].astype(np.float32).max(-1, keepdims=True)).sum(-1) > 1
  assert ties.sum() > 20  # the test really exercises ties


def test_logit_combination_matches_naive_loop(rng):
  probs = random_probs(rng, 4, 300, 10, scale=3.0)
  probs[2, :20] = 0.0
  probs[2, :20, 0] = 1.0  # zeros become -inf log-probabilities
  labels = rng.integers(0, 10, 300)
  result = assert_matches_naive(probs, labels, "logit", num_candidates=2)
  prob_result = metrics.pairwise_ensemble(probs, labels)
  assert not np.array_equal(np.asarray(result["ensemble_accuracy"]), np.asarray(prob_result["ensemble_accuracy"]))


@given(st.integers(2, 5), st.integers(1, 30), st.integers(2, 7), st.integers(0, 2**31 - 1), st.integers(1, 9))
def test_shapes_and_candidate_counts(num_models, num_examples, num_classes, seed, num_candidates):
  rng = np.random.default_rng(seed)
  probs = random_probs(rng, num_models, num_examples, num_classes, ties=bool(seed % 2))
  labels = rng.integers(0, num_classes, num_examples)
  assert_matches_naive(probs, labels, num_candidates=num_candidates)


def test_binary_and_single_example(rng):
  assert_matches_naive(random_probs(rng, 3, 50, 2), rng.integers(0, 2, 50))
  assert_matches_naive(random_probs(rng, 3, 1, 5), np.array([3]))


def test_all_correct_and_none_correct_models(rng):
  labels = rng.integers(0, 5, 60)
  perfect = np.full((60, 5), 0.05, np.float32)
  perfect[np.arange(60), labels] = 0.8
  hopeless = np.full((60, 5), 0.05, np.float32)
  hopeless[np.arange(60), (labels + 1) % 5] = 0.8
  probs = np.stack([perfect, hopeless, random_probs(rng, 1, 60, 5)[0]])
  result = assert_matches_naive(probs, labels, num_candidates=1)
  assert np.asarray(result["accuracy"])[0] == 1.0 and np.asarray(result["accuracy"])[1] == 0.0
  # Equal confidences: the tie between the label and the wrong class goes to the lower id.
  expected = np.mean(labels < (labels + 1) % 5)
  assert np.asarray(result["ensemble_accuracy"])[0, 1] == pytest.approx(expected)
  assert np.isnan(np.asarray(result["conversion_rate"])[0, 0])


def test_memmap_input(tmp_path, rng):
  probs = random_probs(rng, 3, 200, 7, ml_dtypes.bfloat16)
  labels = rng.integers(0, 7, 200)
  path = tmp_path / "probs.npy"
  np.save(path, probs.view(np.uint16))
  mapped = np.load(path, mmap_mode="r").view(ml_dtypes.bfloat16)
  assert_matches_naive(np.asarray(probs), labels)
  result = metrics.pairwise_ensemble(mapped, labels)
  np.testing.assert_array_equal(np.asarray(result["ensemble_correct_count"]),
                                np.asarray(metrics.pairwise_ensemble(probs, labels)["ensemble_correct_count"]))


def test_outcomes_are_consistent_with_summary(rng):
  probs = random_probs(rng, 4, 100, 5)
  labels = rng.integers(0, 5, 100)
  outcomes = metrics.pairwise_outcomes(probs, labels)
  assert outcomes.ensemble_correct.shape == (6, 100)
  for pair, (a, b) in enumerate(zip(outcomes.pair_a, outcomes.pair_b)):
    expected = (probs[a] + probs[b]).argmax(-1) == labels
    np.testing.assert_array_equal(np.asarray(outcomes.ensemble_correct[pair]), expected)


@pytest.mark.parametrize("mutate, message", [
    (lambda p, y: (p[:, :, :], y[:-1]), "labels has 29 examples"),
    (lambda p, y: (p, np.where(y == y[0], 7, y)), r"labels must lie in \[0, 6\)"),
    (lambda p, y: (p, -np.ones_like(y)), r"labels must lie in \[0, 6\)"),
    (lambda p, y: (np.where(np.arange(6) == 2, np.nan, p).astype(np.float32), y), "NaN or infinite"),
    (lambda p, y: (np.where(np.arange(6) == 2, np.inf, p).astype(np.float32), y), "NaN or infinite"),
    (lambda p, y: (p * 1.5, y), "do not sum to 1"),
    (lambda p, y: (np.log(p), y), "negative values"),
    (lambda p, y: (p[:1], y), "at least 2 models"),
    (lambda p, y: (p[0], y), r"\[N models, E examples, K classes\]"),
    (lambda p, y: (p[:, :0], y[:0]), "no examples"),
    (lambda p, y: (p.astype(np.int32), y), "floating point"),
])
def test_bad_input_is_refused(rng, mutate, message):
  probs = random_probs(rng, 3, 30, 6)
  labels = rng.integers(0, 6, 30)
  bad_probs, bad_labels = mutate(probs, labels)
  with pytest.raises(ValueError, match=message):
    metrics.pairwise_ensemble(bad_probs, bad_labels)


def test_bad_model_is_named(rng):
  probs = random_probs(rng, 4, 30, 6)
  probs[2, 5, 1] = np.nan
  with pytest.raises(ValueError, match=r"probs\[2\]"):
    metrics.pairwise_ensemble(probs, rng.integers(0, 6, 30))


def test_unknown_combine_is_refused(rng):
  with pytest.raises(ValueError, match="combine must be one of"):
    metrics.pairwise_ensemble(random_probs(rng, 2, 5, 3), np.zeros(5, int), combine="vote")


def test_logits_need_no_normalisation_check_in_logit_mode(rng):
  probs = random_probs(rng, 3, 40, 5) * 0.5  # unnormalised but non-negative: fine for logit averaging
  assert_matches_naive(probs, rng.integers(0, 5, 40), "logit")


@pytest.mark.parametrize("num_models", [6, 7])
def test_even_and_odd_model_counts_cover_every_pair_once(rng, num_models):
  probs = random_probs(rng, num_models, 120, 5)
  labels = rng.integers(0, 5, 120)
  outcomes = metrics.pairwise_outcomes(probs, labels)
  pairs = set(zip(outcomes.pair_a.tolist(), outcomes.pair_b.tolist()))
  assert len(pairs) == len(outcomes.pair_a) == num_models * (num_models - 1) // 2
  assert_matches_naive(probs, labels)


def test_count_path_equals_weighted_path(rng):
  probs = random_probs(rng, 5, 300, 6)
  labels = rng.integers(0, 6, 300)
  outcomes = metrics.pairwise_outcomes(probs, labels, num_candidates=1)  # forces fallback corrections
  assert outcomes.num_recomputed > 0
  from_counts = metrics.summarize(outcomes)
  from_weights = metrics.summarize(outcomes, weights=np.ones(300))
  for key in from_counts:
    np.testing.assert_allclose(np.asarray(from_counts[key]), np.asarray(from_weights[key]), atol=1e-6, err_msg=key)


@pytest.mark.parametrize("num_models", [5, 6])
@pytest.mark.parametrize("num_candidates", [1, 4])
def test_many_example_blocks_with_a_partial_last_block(monkeypatch, rng, num_models, num_candidates):
  monkeypatch.setattr(metrics.ensemble, "_CACHE_BYTES", 1)      # the smallest blocks: 128 examples
  assert metrics.ensemble._block_width(num_models, num_candidates - 1, 300) == 128   # 300 = 128 + 128 + 44
  probs = random_probs(rng, num_models, 300, 9, ties=True)
  labels = rng.integers(0, 9, 300)
  outcomes = metrics.pairwise_outcomes(probs, labels, num_candidates=num_candidates)
  scores = probs.astype(np.float32)
  for pair, (a, b) in enumerate(zip(outcomes.pair_a, outcomes.pair_b)):
    expected = (scores[a] + scores[b]).argmax(-1) == labels
    np.testing.assert_array_equal(np.asarray(outcomes.ensemble_correct[pair]), expected, err_msg=f"pair {a}, {b}")
  assert_matches_naive(probs, labels, num_candidates=num_candidates)
