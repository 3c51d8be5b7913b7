"""Streaming and sharded input to the all-pairs metrics, greedy selection and agreement:
per-model memmaps and lazy objects equal in-memory input; 1 and 8 (fake) devices equal;
bad models are refused by index and name."""

import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import portpicker
import pytest

import metrics
from conftest import random_probs

ROOT = Path(__file__).resolve().parents[1]


def naive_outcomes(probs, labels, pair_a, pair_b):
  scores = probs.astype(np.float32)
  return np.stack([(scores[a] + scores[b]).argmax(-1) == labels for a, b in zip(pair_a, pair_b)])


class LazyModel:
  """A minimal lazy per-model array (shape, dtype, __getitem__, __array__) counting its reads."""

  def __init__(self, values, name):
    self.values, self.name, self.reads = values, name, 0
    self.shape, self.dtype = values.shape, values.dtype

  def __getitem__(self, key):
    self.reads += 1
    return self.values[key]

  def __array__(self, dtype=None, copy=None):
    self.reads += 1
    return self.values if dtype is None else self.values.astype(dtype)


def per_model_memmaps(tmp_path, probs):
  paths = []
  for model, values in enumerate(probs):
    path = tmp_path / f"model_{model}.npy"
    np.save(path, values.view(np.uint16) if values.dtype == ml_dtypes.bfloat16 else values)
    paths.append(path)
  mapped = [np.load(path, mmap_mode="r") for path in paths]
  return [m.view(ml_dtypes.bfloat16) for m in mapped] if probs.dtype == ml_dtypes.bfloat16 else mapped


@pytest.mark.parametrize("num_models", [2, 6])
def test_memmaps_and_lazy_models_equal_in_memory_and_naive(monkeypatch, tmp_path, rng, num_models):
  # Two partner offsets per tile: N = 6 takes two tiles (offsets 1-2, then 3 = N/2 with half
  # its rows repeats, and a 4th past ⌊N/2⌋), both masked out of counts and outcomes.
  monkeypatch.setattr(metrics.ensemble, "_MAX_OFFSETS_PER_TILE", 2)
  probs = random_probs(rng, num_models, 260, 7, ml_dtypes.bfloat16, ties=True, scale=1.0)
  labels = rng.integers(0, 7, 260)
  expected = metrics.pairwise_outcomes(probs, labels, num_candidates=2)
  lazy = [LazyModel(p, f"m{i}") for i, p in enumerate(probs)]
  for source in (per_model_memmaps(tmp_path, probs), lazy):
    outcomes = metrics.pairwise_outcomes(source, labels, num_candidates=2)
    np.testing.assert_array_equal(np.asarray(outcomes.ensemble_correct), np.asarray(expected.ensemble_correct))
    np.testing.assert_array_equal(np.asarray(outcomes.correct), np.asarray(expected.correct))
    for key in expected.counts:
      np.testing.assert_array_equal(outcomes.counts[key], expected.counts[key])
  np.testing.assert_array_equal(np.asarray(expected.ensemble_correct),
                                naive_outcomes(probs, labels, expected.pair_a, expected.pair_b))
  assert expected.num_recomputed > 0            # the exact fallback ran, on the lazy models too
  summary = metrics.pairwise_ensemble(lazy, labels, num_candidates=2)
  np.testing.assert_allclose(np.asarray(summary["error_inconsistency"]),
                             np.asarray(metrics.summarize(expected)["error_inconsistency"]))


def test_lazy_models_are_read_once_each_in_the_view(rng):
  probs = random_probs(rng, 40, 50, 5)
  lazy = [LazyModel(p, f"m{i}") for i, p in enumerate(probs)]
  view = metrics.candidates.build_candidate_view(lazy, rng.integers(0, 5, 50))
  voters = np.unique(np.linspace(0, 39, 16).round().astype(int))
  reads = np.array([model.reads for model in lazy])
  assert view.correct.shape == (40, 50)
  np.testing.assert_array_equal(reads, np.isin(np.arange(40), voters) + 1)   # voters once more, to choose


def test_greedy_and_top1_take_sequences(tmp_path, rng):
  probs = random_probs(rng, 6, 300, 6, ties=True, scale=1.0)
  eval_probs = random_probs(rng, 6, 120, 6)
  labels, eval_labels = rng.integers(0, 6, 300), rng.integers(0, 6, 120)
  kwargs = dict(start=2, pool=[0, 1, 3, 4, 5], steps=2, num_candidates=2)
  expected = metrics.greedy_selection(probs, labels, eval_probs=eval_probs, eval_labels=eval_labels, **kwargs)
  streamed = metrics.greedy_selection(per_model_memmaps(tmp_path, probs), labels,
                                      eval_probs=[LazyModel(p, str(i)) for i, p in enumerate(eval_probs)],
                                      eval_labels=eval_labels, **kwargs)
  assert streamed.members == expected.members
  np.testing.assert_array_equal(streamed.accuracy, expected.accuracy)
  np.testing.assert_array_equal(streamed.eval_accuracy, expected.eval_accuracy)
  np.testing.assert_array_equal(metrics.top1_correct(list(probs), labels), probs.argmax(-1) == labels)


def test_a_memmap_with_nan_is_refused_naming_that_model(tmp_path, rng):
  probs = random_probs(rng, 4, 30, 6)
  probs[2, 7, 3] = np.nan
  with pytest.raises(ValueError, match=r"probs\[2\] holds NaN"):
    metrics.pairwise_ensemble(per_model_memmaps(tmp_path, probs), rng.integers(0, 6, 30))
  lazy = [LazyModel(p, f"resnet{i}") for i, p in enumerate(probs)]
  with pytest.raises(ValueError, match=r"probs\[2\] \('resnet2'\) holds NaN"):
    metrics.greedy_selection(lazy, rng.integers(0, 6, 30), 0, [1, 2, 3], 1)


def test_a_model_of_the_wrong_shape_or_dtype_is_refused_before_any_read(tmp_path, rng):
  probs = list(per_model_memmaps(tmp_path, random_probs(rng, 3, 30, 6)))
  lazy = [LazyModel(np.asarray(p), f"m{i}") for i, p in enumerate(probs)]
  lazy[1] = LazyModel(np.asarray(probs[1])[:29], "short")
  with pytest.raises(ValueError, match=r"probs\[1\] \('short'\) has shape \(29, 6\)"):
    metrics.pairwise_outcomes(lazy, np.zeros(30, int))
  assert all(model.reads == 0 for model in lazy)
  wrong = probs[:2] + [np.asarray(probs[2]).astype(np.float16)]
  with pytest.raises(ValueError, match=r"probs\[2\] has shape \(30, 6\) and dtype float16"):
    metrics.pairwise_outcomes(wrong, np.zeros(30, int))
  with pytest.raises(ValueError, match=r"probs\[0\] must be a float array \[E examples, K classes\]"):
    metrics.pairwise_outcomes([np.zeros(5), np.zeros(5)], np.zeros(5, int))
  with pytest.raises(ValueError, match="at least 2 models"):
    metrics.pairwise_outcomes(probs[:1], np.zeros(30, int))


def run_job(out, devices, *extra, wait=True):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
  job = [sys.executable, str(ROOT / "tests" / "jobs" / "pairwise_devices_job.py"), str(out), "7", "333", "6", "3",
         *extra]
  if not wait:
    return subprocess.Popen(job, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  done = subprocess.run(job, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  return dict(np.load(out))


def assert_equals_one_device(result):
  """The job's outcomes equal this (one-device) process's and the naive loop's."""
  one = metrics.pairwise_outcomes(result["probs"], result["labels"], num_candidates=2)
  np.testing.assert_array_equal(result["ensemble_correct"], np.asarray(one.ensemble_correct))
  np.testing.assert_array_equal(result["correct"], np.asarray(one.correct))
  for key in one.counts:
    np.testing.assert_array_equal(result[f"count_{key}"], one.counts[key], err_msg=key)
  assert int(result["num_recomputed"]) == one.num_recomputed > 0     # the exact fallback ran on the shards too
  np.testing.assert_array_equal(one.ensemble_correct,
                                naive_outcomes(result["probs"], result["labels"], one.pair_a, one.pair_b))


def test_eight_fake_devices_equal_one(tmp_path):
  result = run_job(tmp_path / "devices.npz", 8)
  assert int(result["devices"]) == 8
  assert_equals_one_device(result)


def test_two_processes_of_two_devices_equal_one_process(tmp_path):
  port = str(portpicker.pick_unused_port())
  jobs = [run_job(tmp_path / "processes.npz", 2, str(rank), "2", port, wait=False) for rank in range(2)]
  logs = [job.communicate(timeout=300)[0] for job in jobs]
  assert all(job.returncode == 0 for job in jobs), [log[-3000:] for log in logs]
  result = dict(np.load(tmp_path / "processes.npz"))
  assert (int(result["devices"]), int(result["processes"])) == (4, 2)
  assert_equals_one_device(result)
