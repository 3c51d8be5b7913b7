"""The store's lazy per-model reader: aligned by id like store.read, read chunk by chunk,
usable directly as metric input (equal to in-memory input), refusing bad stores."""

import json

import ml_dtypes
import numpy as np
import pytest

import metrics
from launch import store

DATASET, SPLIT = "synthetic", "test"


def write_model(root, rng, model, ids, logits, chunk_size=16, labels=None, logits_dtype="float32"):
  writer = store.ChunkWriter(root, DATASET, SPLIT, model, {"weights": model}, len(ids), chunk_size,
                             logits_dtype=logits_dtype)
  labels = (np.asarray(ids) * 7) % logits.shape[1] if labels is None else labels
  for index in writer.missing_chunks():
    start, stop = writer.rows(index)
    writer.write_chunk(index, {"logits": logits[start:stop], "embeddings": np.zeros((stop - start, 2), np.float32),
                               "labels": labels[start:stop], "ids": np.asarray(ids)[start:stop]})
  return labels


@pytest.fixture
def three_models(tmp_path, rng):
  """Three models on 100 examples, the second and third written in shuffled id orders."""
  ids = np.arange(1000, 1100)
  logits = {}
  for model in ("a", "b/tag", "c"):
    order = ids if model == "a" else rng.permutation(ids)
    values = np.round(rng.normal(size=(100, 6)) * 2).astype(np.float32)   # rounded: many exact ties
    write_model(tmp_path, rng, model, order, values)
    logits[model] = values
  return tmp_path


def test_lazy_read_equals_read(three_models):
  full = store.read(three_models, DATASET, SPLIT)
  lazy = store.lazy_read(three_models, DATASET, SPLIT)
  assert lazy.models == full.models == ["a", "b/tag", "c"]
  np.testing.assert_array_equal(lazy.ids, full.ids)
  np.testing.assert_array_equal(lazy.labels, full.labels)
  for model, values in zip(lazy.logits, full.logits):
    assert model.shape == values.shape and model.dtype == values.dtype
    np.testing.assert_array_equal(np.asarray(model), values)
    rows = np.array([99, 3, 17, 3, 64])
    np.testing.assert_array_equal(model[rows], values[rows])
    np.testing.assert_array_equal(model[10:40], values[10:40])
    np.testing.assert_array_equal(model[5], values[5])


def test_lazy_probabilities_are_metric_input_equal_to_in_memory(three_models):
  temperatures = [1.0, 0.7, 1.6]
  lazy = store.lazy_read(three_models, DATASET, SPLIT, temperatures=temperatures)
  in_memory = np.stack([np.asarray(model) for model in lazy.logits])
  full = store.read(three_models, DATASET, SPLIT)
  np.testing.assert_allclose(in_memory, np.asarray(metrics.apply_temperature(full.logits, temperatures)),
                             rtol=1e-6, atol=1e-7)
  streamed = metrics.pairwise_outcomes(lazy.logits, lazy.labels, num_candidates=2)
  expected = metrics.pairwise_outcomes(in_memory, lazy.labels, num_candidates=2)
  np.testing.assert_array_equal(np.asarray(streamed.ensemble_correct), np.asarray(expected.ensemble_correct))
  for pair, (a, b) in enumerate(zip(streamed.pair_a, streamed.pair_b)):    # and the naive loop
    np.testing.assert_array_equal(np.asarray(streamed.ensemble_correct[pair]),
                                  (in_memory[a] + in_memory[b]).argmax(-1) == lazy.labels)
  greedy = metrics.greedy_selection(lazy.logits, lazy.labels, 0, [1, 2], 2)
  assert greedy.members == metrics.greedy_selection(in_memory, lazy.labels, 0, [1, 2], 2).members


def test_bfloat16_logits_are_decoded(tmp_path, rng):
  values = rng.normal(size=(40, 5)).astype(ml_dtypes.bfloat16)
  write_model(tmp_path, rng, "half", np.arange(40), values.astype(np.float32), logits_dtype="bfloat16")
  model = store.lazy_read(tmp_path, DATASET, SPLIT).logits[0]
  assert model.dtype == ml_dtypes.bfloat16
  np.testing.assert_array_equal(np.asarray(model).view(np.uint16), values.view(np.uint16))


def test_corrupted_chunk_is_refused_when_read(three_models):
  directory = store.model_dir(three_models, DATASET, SPLIT, "c")
  lazy = store.lazy_read(three_models, DATASET, SPLIT)
  chunk = directory / "chunk_00003.npz"
  data = bytearray(chunk.read_bytes())
  data[-40] ^= 0xFF
  chunk.write_bytes(bytes(data))
  with pytest.raises(ValueError, match=r"chunk 3 of model 'c' .* fails its checksum"):
    np.asarray(lazy.logits[2])


def test_missing_chunk_and_mismatched_models_are_refused(tmp_path, rng):
  write_model(tmp_path, rng, "a", np.arange(30), rng.normal(size=(30, 4)).astype(np.float32))
  write_model(tmp_path, rng, "other_ids", np.arange(1, 31), rng.normal(size=(30, 4)).astype(np.float32))
  with pytest.raises(ValueError, match="different examples"):
    store.lazy_read(tmp_path, DATASET, SPLIT, ["a", "other_ids"])
  write_model(tmp_path, rng, "relabelled", np.arange(30), rng.normal(size=(30, 4)).astype(np.float32),
              labels=np.zeros(30, int))
  with pytest.raises(ValueError, match="disagree on the labels"):
    store.lazy_read(tmp_path, DATASET, SPLIT, ["a", "relabelled"])
  (store.model_dir(tmp_path, DATASET, SPLIT, "a") / "chunk_00001.json").unlink()
  with pytest.raises(ValueError, match=r"model 'a' .* incomplete: chunks \[1\]"):
    store.lazy_read(tmp_path, DATASET, SPLIT, ["a"])
  with pytest.raises(FileNotFoundError, match="no results for model 'absent'"):
    store.lazy_read(tmp_path, DATASET, SPLIT, ["absent"])
  with pytest.raises(ValueError, match="one per model"):
    store.lazy_read(tmp_path, DATASET, SPLIT, ["other_ids"], temperatures=[1.0, 2.0])
